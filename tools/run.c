/* run.c — `bibim run`: generate text from a prompt. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: bibim run -m FILE [-p TEXT | -f FILE] [options]\n"
            "Generates text after a prompt and prints it on stdout as it is made.\n"
            "  -p, --prompt TEXT       the prompt (default: empty, i.e. BOS only)\n"
            "  -f, --file FILE         read the prompt from a file (exact bytes)\n"
            "%s"
            "      --stop TEXT         stop when TEXT appears (not printed); may be repeated\n"
            "      --special           print control tokens such as <|eot_id|> in the output\n"
            "      --echo              print the prompt before the generated text\n"
            "Control tokens written in the prompt (e.g. <|begin_of_text|>) are recognised.\n"
            "stderr gets load time, prompt and generation speed.\n",
            CLI_MODEL_OPTIONS_HELP);
}

typedef struct run_options {
    cli_model_options m;
    const char *prompt, *prompt_file;
    const char *stop[16];
    size_t n_stop;
    int special, echo;
} run_options;

/* Returns -1 on a usage error (already reported), 1 for --help, else 0. */
static int parse_args(int argc, char **argv, run_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int shared = cli_parse_model_option("run", argc, argv, &i, &o->m);
        if (shared < 0) return -1;
        if (shared) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (!strcmp(a, "--special")) o->special = 1;
        else if (!strcmp(a, "--echo")) o->echo = 1;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt") || !strcmp(a, "-f") || !strcmp(a, "--file") ||
                 !strcmp(a, "--stop")) {
            if (!v) {
                cli_usage_error("run", "%s needs a value", a);
                return -1;
            }
            i++;
            if (a[1] == 'p' || !strcmp(a, "--prompt")) o->prompt = v;
            else if (a[1] == 'f' || !strcmp(a, "--file")) o->prompt_file = v;
            else if (o->n_stop == sizeof o->stop / sizeof o->stop[0]) {
                cli_usage_error("run", "at most 16 --stop strings");
                return -1;
            } else o->stop[o->n_stop++] = v;
        } else {
            cli_usage_error("run", "unknown option '%s' (see bibim run --help)", a);
            return -1;
        }
    }
    if (!o->m.model) {
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
    if (bibim_context_create(model, &o->m.ctx, &ctx) != BIBIM_OK) {
        fprintf(stderr, "bibim run: %s\n", bibim_context_errmsg(ctx));
        goto done;
    }
    if (n_prompt > (int64_t)bibim_context_n_ctx(ctx)) {
        fprintf(stderr, "bibim run: the prompt is %lld tokens but the context holds %u (raise -c)\n",
                (long long)n_prompt, bibim_context_n_ctx(ctx));
        goto done;
    }
    if (bibim_sampler_create(model, &o->m.sampling, &sampler) != BIBIM_OK) {
        fprintf(stderr, "bibim run: bad sampling parameters\n");
        goto done;
    }
    bibim_generate_params gp = bibim_generate_default_params();
    gp.n_predict = o->m.n_predict;
    gp.stop = o->stop;
    gp.n_stop = o->n_stop;
    gp.piece_flags = o->special ? BIBIM_PIECE_SPECIAL : 0;
    gp.on_token = print_token;
    bibim_generate_result res;
    if (bibim_generate(ctx, sampler, prompt, n_prompt, &gp, &res) != BIBIM_OK) {
        /* JSON mode: the sampler found no token to go on with (bibim_sampler_sample gave -1) */
        if (o->m.sampling.json_object && !bibim_sampler_json_complete(sampler) && !*bibim_context_errmsg(ctx))
            fprintf(stderr, "\nbibim run: no token of the vocabulary can continue the JSON object\n");
        else
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
    run_options o = {0};
    cli_model_options_init(&o.m);
    int parsed = parse_args(argc, argv, &o);
    if (parsed) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? EXIT_OK : EXIT_USAGE;
    }
    size_t len = o.prompt ? strlen(o.prompt) : 0;
    char *file_text = NULL;
    if (o.prompt_file && !(file_text = cli_read_file("run", o.prompt_file, &len))) return EXIT_INPUT;
    const char *text = file_text ? file_text : o.prompt ? o.prompt : "";

    double t0 = now_seconds();
    bibim_model *model = NULL;
    bibim_token *tokens = NULL;
    int64_t n_tokens = 0;
    int rc = EXIT_INPUT;
    if (bibim_model_load(o.m.model, &o.m.load, &model) != BIBIM_OK) {
        fprintf(stderr, "bibim run: %s\n", bibim_model_errmsg(model));
        goto done;
    }
    fprintf(stderr, "load:       %s in %.3f s\n", o.m.model, now_seconds() - t0);
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
