/* run.c — `bibim run`: generate text from a prompt. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: bibim run -m FILE [-p TEXT | -f FILE] [options]\n"
            "Generates text after a prompt and prints it on stdout as it is made.\n"
            "  -m, --model FILE        GGUF model\n"
            "  -p, --prompt TEXT       the prompt (default: empty, i.e. BOS only)\n"
            "  -f, --file FILE         read the prompt from a file (exact bytes)\n"
            "  -n, --n-predict N       tokens to generate (default -1: until an end token or a full context)\n"
            "  -c, --ctx-size N        context window (default: the model's, at most 4096)\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "      --temp T            temperature (default 0.8; 0 = greedy)\n"
            "      --top-k K           (default 40; 0 = off)\n"
            "      --top-p P           (default 0.95; 1 = off)\n"
            "      --min-p P           (default 0.05; 0 = off)\n"
            "      --repeat-penalty R  (default 1.0 = off)\n"
            "      --repeat-last-n N   tokens the penalty looks back at (default 64)\n"
            "      --presence-penalty P, --frequency-penalty P (default 0)\n"
            "      --seed S            random seed (default: random); the same seed gives the same text\n"
            "      --stop TEXT         stop when TEXT appears (not printed); may be repeated\n"
            "      --special           print control tokens such as <|eot_id|> in the output\n"
            "      --echo              print the prompt before the generated text\n"
            "      --no-mmap           read the model into memory instead of mapping it\n"
            "      --mlock             keep the model in RAM\n"
            "Control tokens written in the prompt (e.g. <|begin_of_text|>) are recognised.\n"
            "stderr gets load time, prompt and generation speed.\n");
}

typedef struct run_options {
    const char *model, *prompt, *prompt_file;
    int32_t n_predict;
    bibim_context_params ctx;
    bibim_sampler_params sampling;
    bibim_model_params load;
    const char *stop[16];
    size_t n_stop;
    int special, echo;
} run_options;

static int parse_float(const char *option, const char *text, double min, double max, float *out) {
    char *end;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || end == text || *end || !(v >= min && v <= max)) {
        cli_usage_error("run", "%s must be a number from %g to %g, not '%s'", option, min, max, text ? text : "");
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* Returns -1 on a usage error (already reported), 1 for --help, else 0. */
static int parse_args(int argc, char **argv, run_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        int used = 1; /* the option takes a value */
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) o->prompt_file = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (cli_parse_int("run", a, v, -1, INT32_MAX, &n)) return -1;
            o->n_predict = (int32_t)n;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (cli_parse_int("run", a, v, 1, 1 << 24, &n)) return -1;
            o->ctx.n_ctx = (uint32_t)n;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (cli_parse_int("run", a, v, 1, 1024, &n)) return -1;
            o->ctx.n_threads = (int)n;
        } else if (!strcmp(a, "--temp")) {
            if (parse_float(a, v, 0, 1e6, &o->sampling.temperature)) return -1;
        } else if (!strcmp(a, "--top-k")) {
            if (cli_parse_int("run", a, v, 0, INT32_MAX, &n)) return -1;
            o->sampling.top_k = (int32_t)n;
        } else if (!strcmp(a, "--top-p")) {
            if (parse_float(a, v, 1e-9, 1, &o->sampling.top_p)) return -1;
        } else if (!strcmp(a, "--min-p")) {
            if (parse_float(a, v, 0, 1, &o->sampling.min_p)) return -1;
        } else if (!strcmp(a, "--repeat-penalty")) {
            if (parse_float(a, v, 1e-6, 1e6, &o->sampling.repeat_penalty)) return -1;
        } else if (!strcmp(a, "--repeat-last-n")) {
            if (cli_parse_int("run", a, v, 0, 1 << 20, &n)) return -1;
            o->sampling.penalty_last_n = (int32_t)n;
        } else if (!strcmp(a, "--presence-penalty")) {
            if (parse_float(a, v, -1e6, 1e6, &o->sampling.presence_penalty)) return -1;
        } else if (!strcmp(a, "--frequency-penalty")) {
            if (parse_float(a, v, -1e6, 1e6, &o->sampling.frequency_penalty)) return -1;
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_int("run", a, v, 0, INT64_MAX, &n)) return -1;
            o->sampling.seed = (uint64_t)n;
        } else if (!strcmp(a, "--stop")) {
            if (o->n_stop == sizeof o->stop / sizeof o->stop[0]) {
                cli_usage_error("run", "at most 16 --stop strings");
                return -1;
            }
            if (v) o->stop[o->n_stop++] = v;
        } else {
            used = 0;
            if (!strcmp(a, "--special")) o->special = 1;
            else if (!strcmp(a, "--echo")) o->echo = 1;
            else if (!strcmp(a, "--no-mmap")) o->load.use_mmap = 0;
            else if (!strcmp(a, "--mlock")) o->load.use_mlock = 1;
            else {
                cli_usage_error("run", "unknown option '%s' (see bibim run --help)", a);
                return -1;
            }
        }
        if (used) {
            if (!v) {
                cli_usage_error("run", "%s needs a value", a);
                return -1;
            }
            i++;
        }
    }
    if (!o->model) {
        cli_usage_error("run", "no model: give -m FILE");
        return -1;
    }
    if (o->prompt && o->prompt_file) {
        cli_usage_error("run", "give -p or -f, not both");
        return -1;
    }
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The exact bytes of a file; NULL with a message on failure. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bibim run: %s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    int failed = ferror(f) || !buf;
    fclose(f);
    if (failed) {
        fprintf(stderr, "bibim run: %s: read failed\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int print_token(void *user, bibim_token token, const char *text, size_t len) {
    (void)user, (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int tokenize_prompt(bibim_model *model, const char *text, size_t len, bibim_token **tokens, int64_t *n) {
    unsigned flags = BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL;
    bibim_status st = bibim_tokenize(model, text, len, flags, NULL, 0, n);
    if (st != BIBIM_OK && st != BIBIM_ERR_TOO_SMALL) {
        fprintf(stderr, "bibim run: cannot tokenize the prompt: %s\n", bibim_status_string(st));
        return -1;
    }
    *tokens = malloc((size_t)(*n ? *n : 1) * sizeof **tokens);
    if (!*tokens || bibim_tokenize(model, text, len, flags, *tokens, *n, n) != BIBIM_OK) {
        fprintf(stderr, "bibim run: cannot tokenize the prompt\n");
        return -1;
    }
    return 0;
}

static int generate(bibim_model *model, const run_options *o, const bibim_token *prompt, int64_t n_prompt) {
    bibim_context *ctx = NULL;
    bibim_sampler *sampler = NULL;
    int rc = EXIT_INPUT;
    if (bibim_context_create(model, &o->ctx, &ctx) != BIBIM_OK) {
        fprintf(stderr, "bibim run: %s\n", bibim_context_errmsg(ctx));
        goto done;
    }
    if (n_prompt > (int64_t)bibim_context_n_ctx(ctx)) {
        fprintf(stderr, "bibim run: the prompt is %lld tokens but the context holds %u (raise -c)\n",
                (long long)n_prompt, bibim_context_n_ctx(ctx));
        goto done;
    }
    if (bibim_sampler_create(model, &o->sampling, &sampler) != BIBIM_OK) {
        fprintf(stderr, "bibim run: bad sampling parameters\n");
        goto done;
    }
    bibim_generate_params gp = bibim_generate_default_params();
    gp.n_predict = o->n_predict;
    gp.stop = o->stop;
    gp.n_stop = o->n_stop;
    gp.piece_flags = o->special ? BIBIM_PIECE_SPECIAL : 0;
    gp.on_token = print_token;
    bibim_generate_result res;
    if (bibim_generate(ctx, sampler, prompt, n_prompt, &gp, &res) != BIBIM_OK) {
        fprintf(stderr, "\nbibim run: %s\n", bibim_context_errmsg(ctx));
        goto done;
    }
    if (res.stop_reason == BIBIM_STOP_CONTEXT_FULL)
        fprintf(stderr, "\nbibim run: stopped: the context of %u tokens is full (raise -c)\n",
                bibim_context_n_ctx(ctx));
    fprintf(stderr, "\nprompt:     %lld tokens in %.3f s, %.2f tokens/s\n", (long long)res.n_prompt,
            res.prompt_seconds, res.prompt_seconds > 0 ? (double)res.n_prompt / res.prompt_seconds : 0.0);
    fprintf(stderr, "generation: %lld tokens in %.3f s, %.2f tokens/s\n", (long long)res.n_generated,
            res.gen_seconds, res.gen_seconds > 0 ? (double)res.n_generated / res.gen_seconds : 0.0);
    rc = EXIT_OK;
done:
    bibim_sampler_free(sampler);
    bibim_context_free(ctx);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_options o = {.n_predict = -1,
                     .ctx = bibim_context_default_params(),
                     .sampling = bibim_sampler_default_params(),
                     .load = bibim_model_default_params()};
    int parsed = parse_args(argc, argv, &o);
    if (parsed) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? EXIT_OK : EXIT_USAGE;
    }
    size_t len = o.prompt ? strlen(o.prompt) : 0;
    char *file_text = NULL;
    if (o.prompt_file && !(file_text = read_file(o.prompt_file, &len))) return EXIT_INPUT;
    const char *text = file_text ? file_text : o.prompt ? o.prompt : "";

    double t0 = now_seconds();
    bibim_model *model = NULL;
    bibim_token *tokens = NULL;
    int64_t n_tokens = 0;
    int rc = EXIT_INPUT;
    if (bibim_model_load(o.model, &o.load, &model) != BIBIM_OK) {
        fprintf(stderr, "bibim run: %s\n", bibim_model_errmsg(model));
        goto done;
    }
    fprintf(stderr, "load:       %s in %.3f s\n", o.model, now_seconds() - t0);
    if (tokenize_prompt(model, text, len, &tokens, &n_tokens)) goto done;
    if (o.echo) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
    }
    rc = generate(model, &o, tokens, n_tokens);
done:
    free(tokens);
    free(file_text);
    bibim_model_free(model);
    return rc;
}
