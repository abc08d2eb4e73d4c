/* tokenize.c — `bibim tokenize`: the token ids a model's tokenizer gives a
 * text, or each token with its piece. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: bibim tokenize -m MODEL [--no-bos] [--special] [--pieces] (TEXT | -f FILE)\n"
    "\n"
    "Prints the token ids of TEXT (or of the exact bytes of FILE) on one line.\n"
    "\n"
    "  -m, --model MODEL  a GGUF model or vocabulary file\n"
    "  -f, --file FILE    tokenize the bytes of FILE instead of TEXT\n"
    "  --no-bos           do not add the BOS token the model asks for\n"
    "  --special          recognise control-token text such as <|eot_id|> as that token\n"
    "  --pieces           print one token per line: id, a tab, and its text (\\n, \\t, \\r, \\\\\n"
    "                     and bytes that are not complete UTF-8 are escaped)\n"
    "  -h, --help         show this help\n"
    "  --                 what follows is TEXT, even if it starts with '-'\n";

typedef struct options {
    const char *model, *file, *text;
    int no_bos, special, pieces;
} options;

/* Sets o->model, o->file or a flag from option argv[*i] (moving *i past its
 * value). 0 on success, else -1 after a usage message. */
static int parse_option(int argc, char **argv, int *i, options *o) {
    const char *a = argv[*i];
    int is_model = !strcmp(a, "-m") || !strcmp(a, "--model"), is_file = !strcmp(a, "-f") || !strcmp(a, "--file");
    if ((is_model || is_file) && *i + 1 >= argc) {
        cli_usage_error("tokenize", "%s needs a value", a);
        return -1;
    }
    if (is_model)
        o->model = argv[++*i];
    else if (is_file)
        o->file = argv[++*i];
    else if (!strcmp(a, "--no-bos"))
        o->no_bos = 1;
    else if (!strcmp(a, "--special"))
        o->special = 1;
    else if (!strcmp(a, "--pieces"))
        o->pieces = 1;
    else {
        cli_usage_error("tokenize", "unknown option '%s' (see --help)", a);
        return -1;
    }
    return 0;
}

/* 0 on success; else -1 with the exit status in *status (EXIT_OK after --help). */
static int parse_options(int argc, char **argv, options *o, int *status) {
    int options_end = 0; /* after "--" every argument is TEXT, even "-5" */
    *status = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int is_option = !options_end && a[0] == '-' && a[1] != '\0';
        if (is_option && !strcmp(a, "--")) {
            options_end = 1;
        } else if (is_option && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            fputs(USAGE, stdout);
            *status = EXIT_OK;
            return -1;
        } else if (is_option) {
            if (parse_option(argc, argv, &i, o)) return -1;
        } else if (o->text) {
            cli_usage_error("tokenize", "give one TEXT (quote it if it has spaces)");
            return -1;
        } else {
            o->text = a;
        }
    }
    if (!o->model)
        cli_usage_error("tokenize", "-m MODEL is required");
    else if (!o->text == !o->file)
        cli_usage_error("tokenize", "give either TEXT or -f FILE");
    else
        return 0;
    return -1;
}

/* Tokens of the text, in a buffer the caller frees; NULL after a message. */
static bibim_token *tokenize(const bibim_model *model, const char *text, size_t len, unsigned flags, int64_t *n) {
    int64_t cap = (int64_t)len + 16;
    bibim_token *tokens = malloc((size_t)cap * sizeof *tokens);
    bibim_status st = tokens ? bibim_tokenize(model, text, len, flags, tokens, cap, n) : BIBIM_ERR_NOMEM;
    if (st == BIBIM_ERR_TOO_SMALL) {
        bibim_token *grown = realloc(tokens, (size_t)*n * sizeof *tokens);
        st = grown ? bibim_tokenize(model, text, len, flags, grown, *n, n) : BIBIM_ERR_NOMEM;
        tokens = grown ? grown : tokens;
    }
    if (st != BIBIM_OK) {
        fprintf(stderr, "bibim tokenize: tokenizing failed: %s\n", bibim_status_string(st));
        free(tokens);
        return NULL;
    }
    return tokens;
}

/* Writes a piece on one line: complete UTF-8 as is, the rest escaped. */
static void print_escaped(const char *piece, size_t len) {
    const unsigned char *s = (const unsigned char *)piece;
    size_t valid_to = 0; /* s[i .. valid_to) is valid UTF-8 */
    for (size_t i = 0; i < len;) {
        if (i >= valid_to) valid_to = i + bibim_utf8_valid(piece + i, len - i);
        if (s[i] >= 0x80 && i < valid_to) { /* a character (not a lone byte): as is */
            size_t n = 1;
            while (i + n < valid_to && (s[i + n] & 0xC0) == 0x80) n++;
            fwrite(s + i, 1, n, stdout);
            i += n;
            continue;
        }
        unsigned char c = s[i++];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\\')
            fputs("\\\\", stdout);
        else if (c < 0x20 || c >= 0x7F)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static int print_pieces(const bibim_model *model, const bibim_token *tokens, int64_t n) {
    char small[256];
    for (int64_t i = 0; i < n; i++) {
        int64_t len = bibim_token_piece(model, tokens[i], BIBIM_PIECE_SPECIAL, small, sizeof small);
        char *piece = len > (int64_t)sizeof small ? malloc((size_t)len) : small;
        if (len < 0 || !piece) {
            fprintf(stderr, "bibim tokenize: no piece for token %d\n", tokens[i]);
            return EXIT_INPUT;
        }
        if (piece != small) bibim_token_piece(model, tokens[i], BIBIM_PIECE_SPECIAL, piece, (size_t)len);
        printf("%d\t", tokens[i]);
        print_escaped(piece, (size_t)len);
        putchar('\n');
        if (piece != small) free(piece);
    }
    return EXIT_OK;
}

static void print_ids(const bibim_token *tokens, int64_t n) {
    for (int64_t i = 0; i < n; i++) printf(i ? " %d" : "%d", tokens[i]);
    putchar('\n');
}

static int run(const options *o, const char *text, size_t len) {
    bibim_model_params params = bibim_model_default_params();
    params.vocab_only = 1;
    bibim_model *model = NULL;
    if (bibim_model_load(o->model, &params, &model) != BIBIM_OK) {
        fprintf(stderr, "bibim tokenize: %s: %s\n", o->model, model ? bibim_model_errmsg(model) : "out of memory");
        bibim_model_free(model);
        return EXIT_INPUT;
    }
    unsigned flags = 0;
    if (!o->no_bos) flags |= BIBIM_TOKENIZE_ADD_BOS;
    if (o->special) flags |= BIBIM_TOKENIZE_SPECIAL;
    int64_t n = 0;
    bibim_token *tokens = tokenize(model, text, len, flags, &n);
    int status = EXIT_INPUT;
    if (tokens) {
        status = EXIT_OK;
        if (o->pieces)
            status = print_pieces(model, tokens, n);
        else
            print_ids(tokens, n);
    }
    free(tokens);
    bibim_model_free(model);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bibim tokenize: cannot write the output\n");
        status = EXIT_INPUT;
    }
    return status;
}

int cmd_tokenize(int argc, char **argv) {
    options o = {0};
    int status = EXIT_OK;
    if (parse_options(argc, argv, &o, &status)) return status;
    size_t len = 0;
    char *data = NULL;
    if (o.file && !(data = cli_read_file("tokenize", o.file, &len))) return EXIT_INPUT;
    status = run(&o, data ? data : o.text, data ? len : strlen(o.text));
    free(data);
    return status;
}
