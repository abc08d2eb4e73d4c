/* test_tokenizer.c — the tokenizers against llama.cpp's outputs (its own
 * test vectors, tokenizations of a real Llama 2 vocabulary, the stories260K
 * prompts), round trips, the pre-tokenizer patterns piece by piece, invalid
 * UTF-8, and hostile vocabularies. */
#include "harness.h"
#include "pretokenize.h"
#include "tokenizer.h"
#include "unicode.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define VOCAB_DIR SHARED_DIR "/refs/vocab"
#define SPM_VOCAB VOCAB_DIR "/ggml-vocab-llama-spm.gguf"
#define GPT2_VOCAB VOCAB_DIR "/ggml-vocab-gpt-2.gguf"
#define TINY_RANDOM SHARED_DIR "/models/llama-2-tiny-random.gguf"
#define TINY_RANDOM_TSV SHARED_DIR "/refs/tiny-random/tokenize.tsv"
#define STORIES SHARED_DIR "/models/stories260K.gguf"
#define STORIES_TSV SHARED_DIR "/refs/stories260K/greedy.tsv"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct buffer {
    char *data;
    size_t len;
} buffer;

/* The whole file, NUL-terminated; data is NULL if it cannot be read. */
static buffer read_file(const char *path) {
    buffer b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc((size_t)size + 1);
    if (b.data && fread(b.data, 1, (size_t)size, f) == (size_t)size) {
        b.len = (size_t)size;
        b.data[size] = '\0';
    } else {
        free(b.data);
        b.data = NULL;
    }
    fclose(f);
    return b;
}

/* Opens a GGUF file and builds its tokenizer; NULL (with a failed check) on error. */
static tokenizer *load(const char *path) {
    bibim_gguf *g = NULL;
    tokenizer *tok = NULL;
    char err[256] = "";
    bibim_status st = bibim_gguf_open(path, &g);
    CHECKF(st == BIBIM_OK, "%s: %s", path, bibim_gguf_errmsg(g));
    if (st == BIBIM_OK) {
        st = tokenizer_load(g, &tok, err, sizeof err);
        CHECKF(st == BIBIM_OK, "%s: %s", path, err);
    }
    bibim_gguf_free(g);
    return tok;
}

typedef struct ids {
    bibim_token *v;
    int64_t n;
} ids;

/* Tokenizes, growing the buffer as tokenizer_encode asks. */
static ids encode(const tokenizer *tok, const char *text, size_t len, unsigned flags) {
    ids r = {malloc(16 * sizeof(bibim_token)), 0};
    int64_t cap = 16;
    bibim_status st = tokenizer_encode(tok, text, len, flags, r.v, cap, &r.n);
    if (st == BIBIM_ERR_TOO_SMALL) {
        cap = r.n;
        r.v = realloc(r.v, (size_t)cap * sizeof(bibim_token));
        st = tokenizer_encode(tok, text, len, flags, r.v, cap, &r.n);
    }
    CHECKF(st == BIBIM_OK, "tokenizer_encode: %s", bibim_status_string(st));
    if (st != BIBIM_OK) r.n = 0;
    return r;
}

/* "1 2 3" -> ids. */
static ids parse_ids(const char *s) {
    ids r = {malloc((strlen(s) / 2 + 1) * sizeof(bibim_token)), 0};
    char *end;
    for (;;) {
        long v = strtol(s, &end, 10);
        if (end == s) break;
        r.v[r.n++] = (bibim_token)v;
        s = end;
    }
    return r;
}

static int ids_equal(ids a, ids b) {
    return a.n == b.n && (a.n == 0 || memcmp(a.v, b.v, (size_t)a.n * sizeof(bibim_token)) == 0);
}

static void print_ids(const char *label, ids a) {
    printf("    %s (%lld):", label, (long long)a.n);
    for (int64_t i = 0; i < a.n && i < 40; i++) printf(" %d", a.v[i]);
    printf("%s\n", a.n > 40 ? " ..." : "");
}

/* The concatenated pieces of the tokens. */
static buffer detokenize(const tokenizer *tok, ids t, unsigned flags) {
    buffer b = {0};
    size_t cap = 64;
    b.data = malloc(cap);
    for (int64_t i = 0; i < t.n; i++) {
        int64_t n = tokenizer_piece(tok, t.v[i], flags, NULL, 0);
        CHECK(n >= 0);
        if (n < 0) continue;
        while (b.len + (size_t)n + 1 > cap) b.data = realloc(b.data, cap *= 2);
        CHECK(tokenizer_piece(tok, t.v[i], flags, b.data + b.len, (size_t)n) == n);
        b.len += (size_t)n;
    }
    b.data[b.len] = '\0';
    return b;
}

/* Escapes a string for failure messages. */
static const char *shown(const char *s, size_t len) {
    static char buf[200];
    size_t at = 0;
    for (size_t i = 0; i < len && at + 8 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) buf[at++] = (char)c;
        else at += (size_t)snprintf(buf + at, sizeof buf - at, "\\x%02x", c);
    }
    buf[at] = '\0';
    return buf;
}

/* Decodes a JSON string literal (with its quotes) in place; returns its
 * length, or -1 if it is not one. */
static long json_unescape(char *s) {
    if (*s != '"') return -1;
    char *out = s;
    for (const char *p = s + 1;; p++) {
        if (*p == '\0') return -1;
        if (*p == '"') break;
        if (*p != '\\') {
            *out++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': *out++ = '\n'; break;
        case 't': *out++ = '\t'; break;
        case 'r': *out++ = '\r'; break;
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'u': {
            unsigned cp;
            if (sscanf(p + 1, "%4x", &cp) != 1) return -1;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
                unsigned lo;
                if (sscanf(p + 3, "%4x", &lo) != 1) return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            out += unicode_encode_utf8(cp, out);
            break;
        }
        default: *out++ = *p; break; /* \" \\ \/ */
        }
    }
    return (long)(out - s);
}

/* ------------------------------------------------------------------------ */
/* llama.cpp's test vectors                                                 */
/* ------------------------------------------------------------------------ */

#define CASE_SEPARATOR "\n__ggml_vocab_test__\n"

/* Every case of <vocab>.inp against the line of <vocab>.out. */
static void check_vocab_vectors(const char *vocab) {
    char inp_path[512], out_path[512];
    snprintf(inp_path, sizeof inp_path, "%s.inp", vocab);
    snprintf(out_path, sizeof out_path, "%s.out", vocab);
    buffer inp = read_file(inp_path), out = read_file(out_path);
    tokenizer *tok = load(vocab);
    CHECKF(inp.data && out.data, "cannot read %s or %s", inp_path, out_path);
    int n_cases = 0, n_passed = 0;
    char *text = inp.data, *line = out.data;
    while (tok && text && line) {
        char *sep = strstr(text, CASE_SEPARATOR);
        if (!sep) break;
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        ids want = parse_ids(line), got = encode(tok, text, (size_t)(sep - text), 0);
        n_cases++;
        if (ids_equal(want, got)) {
            n_passed++;
        } else if (n_cases - n_passed <= 5) {
            printf("  case %d '%s' differs\n", n_cases, shown(text, (size_t)(sep - text)));
            print_ids("expected", want);
            print_ids("got", got);
        }
        free(want.v);
        free(got.v);
        text = sep + strlen(CASE_SEPARATOR);
        line = eol ? eol + 1 : NULL;
    }
    printf("  %s: %d/%d cases match\n", vocab, n_passed, n_cases);
    CHECKF(n_cases == 46 && n_passed == n_cases, "%d/%d", n_passed, n_cases);
    tokenizer_free(tok);
    free(inp.data);
    free(out.data);
}

static int test_spm_vectors(void) {
    SKIP_UNLESS_FILE(SPM_VOCAB);
    check_vocab_vectors(SPM_VOCAB);
    return 0;
}

static int test_gpt2_vectors(void) {
    SKIP_UNLESS_FILE(GPT2_VOCAB);
    check_vocab_vectors(GPT2_VOCAB);
    return 0;
}


/* ------------------------------------------------------------------------ */
/* Tokenizations by llama.cpp of real vocabularies                          */
/* ------------------------------------------------------------------------ */

/* Splits a TSV line in place into at most max fields; returns how many. */
static int split_tabs(char *line, char **fields, int max) {
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

/* tokenize.tsv: text (JSON) and ids, with BOS and special tokens parsed. */
static int test_tiny_random_tsv(void) {
    SKIP_UNLESS_FILE(TINY_RANDOM);
    SKIP_UNLESS_FILE(TINY_RANDOM_TSV);
    tokenizer *tok = load(TINY_RANDOM);
    buffer tsv = read_file(TINY_RANDOM_TSV);
    int n_rows = 0, n_passed = 0;
    char *line = tsv.data ? strchr(tsv.data, '\n') : NULL; /* after the header */
    while (tok && line && *++line) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        char *fields[2] = {0};
        if (split_tabs(line, fields, 2) != 2) {
            CHECKF(0, "%s: a row without two columns", TINY_RANDOM_TSV);
            break;
        }
        long len = json_unescape(fields[0]);
        CHECKF(len >= 0, "bad JSON string in %s", TINY_RANDOM_TSV);
        ids want = parse_ids(fields[1]), got = encode(tok, fields[0], (size_t)(len > 0 ? len : 0), BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL);
        n_rows++;
        if (ids_equal(want, got)) {
            n_passed++;
        } else {
            printf("  '%s' differs\n", shown(fields[0], (size_t)len));
            print_ids("expected", want);
            print_ids("got", got);
        }
        free(want.v);
        free(got.v);
        if (!eol) break;
        line = eol;
    }
    printf("  %s: %d/%d rows match\n", TINY_RANDOM_TSV, n_passed, n_rows);
    CHECKF(n_rows >= 12 && n_passed == n_rows, "%d/%d", n_passed, n_rows);
    tokenizer_free(tok);
    free(tsv.data);
    return 0;
}

/* greedy.tsv: prompt ids (BOS, special parsed), and generated_text is the
 * concatenation of the generated ids' pieces. */
static int test_stories_tsv(void) {
    SKIP_UNLESS_FILE(STORIES);
    SKIP_UNLESS_FILE(STORIES_TSV);
    tokenizer *tok = load(STORIES);
    buffer tsv = read_file(STORIES_TSV);
    int n_rows = 0, n_passed = 0;
    char *line = tsv.data ? strchr(tsv.data, '\n') : NULL;
    while (tok && line && *++line) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        char *f[4] = {0};
        if (split_tabs(line, f, 4) != 4) {
            CHECKF(0, "%s: a row without four columns", STORIES_TSV);
            break;
        }
        long prompt_len = json_unescape(f[0]), text_len = json_unescape(f[3]);
        CHECKF(prompt_len >= 0 && text_len >= 0, "bad JSON string in %s", STORIES_TSV);
        ids want = parse_ids(f[1]), generated = parse_ids(f[2]);
        ids got = encode(tok, f[0], (size_t)(prompt_len > 0 ? prompt_len : 0), BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL);
        buffer text = detokenize(tok, generated, 0);
        int ok = ids_equal(want, got) && text_len >= 0 && text.len == (size_t)text_len && memcmp(text.data, f[3], text.len) == 0;
        n_rows++;
        n_passed += ok;
        if (!ok) {
            printf("  prompt '%s'\n", shown(f[0], (size_t)prompt_len));
            print_ids("expected", want);
            print_ids("got", got);
            printf("    text expected '%s'\n", shown(f[3], (size_t)text_len));
            printf("    text got      '%s'\n", shown(text.data, text.len));
        }
        free(want.v);
        free(generated.v);
        free(got.v);
        free(text.data);
        if (!eol) break;
        line = eol;
    }
    printf("  %s: %d/%d rows match\n", STORIES_TSV, n_passed, n_rows);
    CHECKF(n_rows >= 5 && n_passed == n_rows, "%d/%d", n_passed, n_rows);
    tokenizer_free(tok);
    free(tsv.data);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */
/* ------------------------------------------------------------------------ */

int main(void) {
    RUN(test_spm_vectors);
    RUN(test_gpt2_vectors);
    RUN(test_tiny_random_tsv);
    RUN(test_stories_tsv);
    return harness_finish();
}
