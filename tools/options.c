/* options.c — the model, context and sampling options that `run`, `chat`
 * (and later `serve`) share, parsed in one place so they mean the same
 * everywhere. */
#include "cli.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char CLI_MODEL_OPTIONS_HELP[] =
    "  -m, --model FILE        GGUF model\n"
    "  -n, --n-predict N       tokens to generate at most (default -1: until an end token or a full context)\n"
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
    "      --logit-bias ID=B   add B to token ID's logit (-inf bans it); may be repeated\n"
    "      --json              JSON mode: the output is one JSON object (RFC 8259; at most 16 whitespace\n"
    "                          bytes in a row), generation stops when it is closed\n"
    "      --no-mmap           read the model into memory instead of mapping it\n"
    "      --mlock             keep the model in RAM\n";

void cli_model_options_init(cli_model_options *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->load = bibim_model_default_params();
    o->ctx = bibim_context_default_params();
    o->sampling = bibim_sampler_default_params();
}

static int parse_float(const char *cmd, const char *option, const char *text, double min, double max, float *out) {
    char *end;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || end == text || *end || !(v >= min && v <= max)) {
        cli_usage_error(cmd, "%s must be a number from %g to %g, not '%s'", option, min, max, text ? text : "");
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* Options with an integer value: where it goes and its range. */
static int parse_int_option(const char *cmd, const char *a, const char *v, cli_model_options *o) {
    long long n;
    if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
        if (cli_parse_int(cmd, a, v, -1, INT32_MAX, &n)) return -1;
        o->n_predict = (int32_t)n;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
        if (cli_parse_int(cmd, a, v, 1, 1 << 24, &n)) return -1;
        o->ctx.n_ctx = (uint32_t)n;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (cli_parse_int(cmd, a, v, 1, 1024, &n)) return -1;
        o->ctx.n_threads = (int)n;
    } else if (!strcmp(a, "--top-k")) {
        if (cli_parse_int(cmd, a, v, 0, INT32_MAX, &n)) return -1;
        o->sampling.top_k = (int32_t)n;
    } else if (!strcmp(a, "--repeat-last-n")) {
        if (cli_parse_int(cmd, a, v, 0, 1 << 20, &n)) return -1;
        o->sampling.penalty_last_n = (int32_t)n;
    } else if (!strcmp(a, "--logit-bias")) {
        const char *eq = v ? strchr(v, '=') : NULL;
        char *end;
        long long id = eq ? strtoll(v, &end, 10) : -1;
        float b = eq ? strtof(eq + 1, &end) : NAN;
        if (!eq || id < 0 || id > INT32_MAX || !*(eq + 1) || *end || isnan(b)) {
            cli_usage_error(cmd, "%s wants TOKEN_ID=BIAS, not '%s'", a, v ? v : "");
            return -1;
        }
        if (o->sampling.n_logit_bias >= sizeof o->bias / sizeof o->bias[0]) {
            cli_usage_error(cmd, "at most %zu %s options", sizeof o->bias / sizeof o->bias[0], a);
            return -1;
        }
        o->bias[o->sampling.n_logit_bias++] = (bibim_logit_bias){(bibim_token)id, b};
        o->sampling.logit_bias = o->bias;
    } else if (!strcmp(a, "--seed")) {
        if (cli_parse_int(cmd, a, v, 0, INT64_MAX, &n)) return -1;
        o->sampling.seed = (uint64_t)n;
    } else {
        return 0;
    }
    return 1;
}

static int parse_float_option(const char *cmd, const char *a, const char *v, bibim_sampler_params *s) {
    int rc;
    if (!strcmp(a, "--temp")) rc = parse_float(cmd, a, v, 0, 1e6, &s->temperature);
    else if (!strcmp(a, "--top-p")) rc = parse_float(cmd, a, v, 1e-9, 1, &s->top_p);
    else if (!strcmp(a, "--min-p")) rc = parse_float(cmd, a, v, 0, 1, &s->min_p);
    else if (!strcmp(a, "--repeat-penalty")) rc = parse_float(cmd, a, v, 1e-6, 1e6, &s->repeat_penalty);
    else if (!strcmp(a, "--presence-penalty")) rc = parse_float(cmd, a, v, -1e6, 1e6, &s->presence_penalty);
    else if (!strcmp(a, "--frequency-penalty")) rc = parse_float(cmd, a, v, -1e6, 1e6, &s->frequency_penalty);
    else return 0;
    return rc ? -1 : 1;
}

int cli_parse_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_options *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(a, "--no-mmap")) {
        o->load.use_mmap = 0;
        return 1;
    }
    if (!strcmp(a, "--json")) {
        o->sampling.json_object = 1;
        return 1;
    }
    if (!strcmp(a, "--mlock")) {
        o->load.use_mlock = 1;
        return 1;
    }
    int rc;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        o->model = v;
        rc = 1;
    } else if ((rc = parse_int_option(cmd, a, v, o)) == 0) {
        rc = parse_float_option(cmd, a, v, &o->sampling);
    }
    if (rc <= 0) return rc;
    if (!v) {
        cli_usage_error(cmd, "%s needs a value", a);
        return -1;
    }
    ++*i;
    return 1;
}
