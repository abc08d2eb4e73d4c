/* quantize.c — `bibim quantize IN OUT TYPE [-t N] [--pure]`. */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: bibim quantize IN.gguf OUT.gguf TYPE [-t N] [--pure]\n"
            "Rewrites a model's weights as TYPE, one of:\n"
            "  F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L\n"
            "  Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K\n"
            "The _S/_M/_L mixes give more bits to the output matrix and to some attn_v and\n"
            "ffn_down layers, as llama.cpp's llama-quantize does. Norms stay F32.\n"
            "  -t N     threads (default: all CPUs)\n"
            "  --pure   every quantized tensor gets TYPE's base type, no mix\n");
}

typedef struct progress_state {
    int tty;
    double start;
} progress_state;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int show_progress(void *user, int64_t index, int64_t n_tensors, const bibim_tensor_info *t,
                         uint64_t bytes_done, uint64_t bytes_total) {
    progress_state *p = user;
    if (!p->tty) return 0;
    fprintf(stderr, "\r\033[K[%3d%%] %" PRId64 "/%" PRId64 " %.*s -> %s", (int)(100.0 * (double)bytes_done /
            (double)(bytes_total ? bytes_total : 1)), index + 1, n_tensors, (int)t->name.len, t->name.ptr,
            bibim_type_name(t->type));
    if (index + 1 == n_tensors) fputc('\n', stderr);
    return 0;
}

static uint64_t file_size_of(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n > 0 ? (uint64_t)n : 0;
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3];
    int n_pos = 0;
    bibim_quantize_params params = bibim_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        long long v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) {
            if (cli_parse_int("quantize", argv[i], i + 1 < argc ? argv[i + 1] : NULL, 1, 256, &v)) return EXIT_USAGE;
            params.n_threads = (int)v;
            i++;
        } else if (!strcmp(argv[i], "--pure")) {
            params.pure = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("quantize", "unknown option '%s' (see bibim quantize --help)", argv[i]);
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            return cli_usage_error("quantize", "unexpected argument '%s'", argv[i]);
        }
    }
    if (n_pos != 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (bibim_ftype_from_name(pos[2], &params.ftype) != BIBIM_OK)
        return cli_usage_error("quantize", "unknown TYPE '%s' (see bibim quantize --help)", pos[2]);

    progress_state progress = {cli_stderr_is_tty(), now_seconds()};
    params.progress = show_progress;
    params.progress_user = &progress;
    char err[512];
    bibim_status st = bibim_quantize_model(pos[0], pos[1], &params, err, sizeof err);
    if (st != BIBIM_OK) {
        fprintf(stderr, "bibim quantize: %s\n", err[0] ? err : bibim_status_string(st));
        return st == BIBIM_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_INPUT;
    }
    double secs = now_seconds() - progress.start;
    uint64_t in_size = file_size_of(pos[0]), out_size = file_size_of(pos[1]);
    fprintf(stderr, "bibim quantize: %s (%.1f MiB) -> %s (%.1f MiB, %s) in %.2f s, %.1f MB/s of input\n", pos[0],
            (double)in_size / (1 << 20), pos[1], (double)out_size / (1 << 20), bibim_ftype_name(params.ftype), secs,
            secs > 0 ? (double)in_size / 1e6 / secs : 0.0);
    return EXIT_OK;
}
