/* main.c — the bibim command: dispatches to subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "talk with a chat model"},
    {"serve", cmd_serve, "serve the model over HTTP with OpenAI's API"},
    {"template", cmd_template, "print the prompt a chat template makes of a conversation"},
    {"tokenize", cmd_tokenize, "show the token ids of a text"},
    {"bench", cmd_bench, "measure prompt and generation speed"},
    {"info", cmd_info, "show a GGUF file's metadata and tensors"},
    {"quantize", cmd_quantize, "convert a model's weights to another type or mix"},
    {"synth", cmd_synth, "write a Llama GGUF with random weights at real shapes"},
};

static void print_help(FILE *f) {
    fprintf(f, "bibim %s — run Llama-family models from GGUF files\n\nusage: bibim COMMAND [ARGS]\n\ncommands:\n",
            bibim_version());
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\n'bibim COMMAND --help' shows a command's options.\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bibim %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_parse_int(const char *cmd, const char *option, const char *text, long long min, long long max,
                  long long *out) {
    if (!text) {
        cli_usage_error(cmd, "%s needs a value", option);
        return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        cli_usage_error(cmd, "%s must be an integer from %lld to %lld, not '%s'", option, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

char *cli_read_file(const char *cmd, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bibim %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    char *data = NULL;
    size_t cap = 0;
    enum { READING, DONE, READ_ERROR, NO_MEMORY } state = READING;
    *len = 0;
    while (state == READING) {
        if (*len == cap) {
            char *grown = realloc(data, cap = cap ? 2 * cap : 65536);
            if (!grown) {
                state = NO_MEMORY;
                break;
            }
            data = grown;
        }
        size_t n = fread(data + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) state = ferror(f) ? READ_ERROR : DONE;
    }
    fclose(f);
    if (state != DONE) {
        fprintf(stderr, "bibim %s: cannot read %s: %s\n", cmd, path,
                state == READ_ERROR ? "read error" : "out of memory");
        free(data);
        return NULL;
    }
    data[*len] = 0; /* the last fread stopped short, so there is room */
    return data;
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("bibim %s\n", bibim_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name)) return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bibim: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return EXIT_USAGE;
}
