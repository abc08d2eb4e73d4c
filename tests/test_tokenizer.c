/* test_tokenizer.c — the tokenizers against llama.cpp's outputs (its own
 * test vectors, tokenizations of a real Llama 2 vocabulary, the stories260K
 * prompts), round trips, the pre-tokenizer patterns piece by piece, invalid
 * UTF-8, and hostile vocabularies. */
#include "harness.h"
#include "pretokenize.h"
#include "tokenizer_internal.h"
#include "unicode.h"

#include <math.h>
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
        if (c >= 0x20 && c < 0x7f)
            buf[at++] = (char)c;
        else
            at += (size_t)snprintf(buf + at, sizeof buf - at, "\\x%02x", c);
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
        ids want = parse_ids(fields[1]),
            got = encode(tok, fields[0], (size_t)(len > 0 ? len : 0), BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL);
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
        ids got = encode(tok, f[0], (size_t)(prompt_len > 0 ? prompt_len : 0),
                         BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL);
        buffer text = detokenize(tok, generated, 0);
        int ok = ids_equal(want, got) && text_len >= 0 && text.len == (size_t)text_len &&
                 memcmp(text.data, f[3], text.len) == 0;
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
/* Unicode                                                                  */
/* ------------------------------------------------------------------------ */

static int test_utf8_decode(void) {
    static const struct {
        const char *bytes;
        size_t len;
        uint32_t cp;
        size_t n;
    } cases[] = {
        {"A", 1, 'A', 1},
        {"\xC3\xA9", 2, 0xE9, 2},
        {"\xE2\x96\x81", 3, 0x2581, 3},
        {"\xF0\x9F\xA6\x99", 4, 0x1F999, 4},
        {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF, 4},
        {"\x80", 1, UNICODE_INVALID, 1},             /* a stray continuation byte */
        {"\xC0\x80", 2, UNICODE_INVALID, 1},         /* overlong NUL */
        {"\xE0\x80\x80", 3, UNICODE_INVALID, 1},     /* overlong */
        {"\xED\xA0\x80", 3, UNICODE_INVALID, 1},     /* a surrogate */
        {"\xF4\x90\x80\x80", 4, UNICODE_INVALID, 1}, /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 4, UNICODE_INVALID, 1},
        {"\xFF", 1, UNICODE_INVALID, 1},
        {"\xE2\x96", 2, UNICODE_INVALID, 1},  /* truncated */
        {"\xE2(\xA1", 3, UNICODE_INVALID, 1}, /* a bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        uint32_t cp = unicode_decode_utf8(cases[i].bytes, cases[i].len, &n);
        CHECKF(cp == cases[i].cp && n == cases[i].n, "case %zu: U+%04X, %zu bytes", i, (unsigned)cp, n);
        if (cp != UNICODE_INVALID) {
            char out[4];
            CHECK(unicode_encode_utf8(cp, out) == n && memcmp(out, cases[i].bytes, n) == 0);
        }
    }
    return 0;
}

static int test_unicode_classes(void) {
    static const struct {
        uint32_t cp;
        unsigned flags;
    } cases[] = {
        {'a', UNICODE_LETTER},
        {'Z', UNICODE_LETTER},
        {0x17F, UNICODE_LETTER},
        {0x4E00, UNICODE_LETTER},
        {0x3400, UNICODE_LETTER},
        {0x20000, UNICODE_LETTER}, /* ranges in UnicodeData */
        {0xAC00, UNICODE_LETTER},
        {0xD7A3, UNICODE_LETTER},
        {'5', UNICODE_NUMBER},
        {0x663, UNICODE_NUMBER},
        {0x216B, UNICODE_NUMBER},
        {0xBD, UNICODE_NUMBER}, /* Nd, Nl, No */
        {' ', UNICODE_WHITESPACE},
        {'\t', UNICODE_WHITESPACE},
        {'\r', UNICODE_WHITESPACE},
        {0x85, UNICODE_WHITESPACE},
        {0xA0, UNICODE_WHITESPACE},
        {0x2028, UNICODE_WHITESPACE},
        {0x3000, UNICODE_WHITESPACE},
        {'!', UNICODE_PUNCTUATION},
        {'_', UNICODE_PUNCTUATION},
        {0x3002, UNICODE_PUNCTUATION},
        {'$', 0},
        {'+', 0},
        {0x20AC, 0},
        {0xFEFF, 0},
        {0x200B, 0},
        {0x301, 0},
        {0x1F600, 0},
        {0x378, 0}, /* Mn, So, unassigned */
        {0x10FFFF, 0},
        {UNICODE_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECKF(unicode_flags(cases[i].cp) == cases[i].flags, "U+%04X: flags %u, expected %u", (unsigned)cases[i].cp,
               unicode_flags(cases[i].cp), cases[i].flags);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The pre-tokenizers, word by word                                         */
/* ------------------------------------------------------------------------ */

/* The words of `text`, joined by '|'. */
static const char *words(pretok_kind kind, const char *text) {
    static char out[1024];
    size_t len = strlen(text), n = 0, at = 0;
    uint32_t cps[256];
    uint8_t flags[256];
    size_t offsets[257], ends[256];
    for (size_t i = 0; i < len && n < 256; n++) {
        size_t step;
        cps[n] = unicode_decode_utf8(text + i, len - i, &step);
        flags[n] = (uint8_t)unicode_flags(cps[n]);
        offsets[n] = i;
        i += step;
    }
    offsets[n] = len;
    pretok_text t = {cps, flags, n};
    size_t n_words = pretokenize(kind, &t, ends);
    for (size_t w = 0, start = 0; w < n_words; start = ends[w++]) {
        if (w) out[at++] = '|';
        memcpy(out + at, text + offsets[start], offsets[ends[w]] - offsets[start]);
        at += offsets[ends[w]] - offsets[start];
    }
    out[at] = '\0';
    return out;
}

#define CHECK_WORDS(kind, text, want)                                                                                  \
    do {                                                                                                               \
        const char *got_ = words(kind, text);                                                                          \
        CHECKF(strcmp(got_, want) == 0, "'%s' -> '%s'", text, got_);                                                   \
        if (strcmp(got_, want) != 0) printf("    expected '%s'\n", want);                                              \
    } while (0)

static int test_pretokenize_llama3(void) {
    pretok_kind k = PRETOK_LLAMA3;
    CHECK_WORDS(k, "Hello world", "Hello| world");
    CHECK_WORDS(k, "it's HE'S we'LL I'M they'Ve 'd", "it|'s| HE|'S| we|'LL| I|'M| they|'Ve| '|d");
    CHECK_WORDS(k, "'sup", "'s|up"); /* the contraction comes first */
    CHECK_WORDS(k,
                "it'\xC5\xBF"
                "elf",
                "it|'\xC5\xBF|elf");               /* 'ſ: ſ folds to s */
    CHECK_WORDS(k, "'hello", "'hello");            /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    CHECK_WORDS(k, "1234567", "123|456|7");        /* \p{N}{1,3} */
    CHECK_WORDS(k, "x 12", "x| |12");              /* no space before numbers */
    CHECK_WORDS(k, "  x", " | x");                 /* \s+(?!\S) gives back one space */
    CHECK_WORDS(k, "x   ", "x|   ");               /* up to the end: all of it */
    CHECK_WORDS(k, "x \ty", "x| |\ty");            /* a tab may lead a word */
    CHECK_WORDS(k, "a  \n\n  b", "a|  \n\n| | b"); /* \s*[\r\n]+ stops at the last newline */
    CHECK_WORDS(k, "x\n y", "x|\n| y");
    CHECK_WORDS(k, "!!!\n\nx", "!!!\n\n|x"); /* symbols take the newlines after them */
    CHECK_WORDS(k, " ?! x", " ?!| x");
    CHECK_WORDS(k, "\xC2\x85x", "\xC2\x85x"); /* U+0085 is not \r or \n: it may lead */
    CHECK_WORDS(k,
                "a\xC2\x85\xC2\x85"
                "b",
                "a|\xC2\x85|\xC2\x85"
                "b");
    CHECK_WORDS(k,
                "a\xFF"
                "b",
                "a|\xFF"
                "b");                                   /* an invalid byte is a symbol */
    CHECK_WORDS(k, "\xE2\x80\xA8\n", "\xE2\x80\xA8\n"); /* U+2028 is whitespace */
    CHECK_WORDS(k, "\r\n\r\nx", "\r\n\r\n|x");
    CHECK_WORDS(k, "", "");
    return 0;
}

static int test_pretokenize_gpt2(void) {
    pretok_kind k = PRETOK_GPT2;
    CHECK_WORDS(k, "Hello world's 123 !!", "Hello| world|'s| 123| !!");
    CHECK_WORDS(k, "x   y", "x|  | y");
    CHECK_WORDS(k, "'S", "'|S"); /* case-sensitive */
    CHECK_WORDS(k, "it'\xC5\xBF", "it|'|\xC5\xBF");
    CHECK_WORDS(k, "a\n\nb", "a|\n|\n|b");
    CHECK_WORDS(k, "x  ", "x|  ");
    CHECK_WORDS(k, "12345678", "12345678");
    CHECK_WORDS(k, " \xF0\x9F\xA6\x99!", " \xF0\x9F\xA6\x99!");
    return 0;
}

static int test_pretokenize_default(void) {
    pretok_kind k = PRETOK_DEFAULT; /* llama.cpp's four patterns in turn */
    CHECK_WORDS(k, "Hello, world!", "Hello|,| world|!");
    CHECK_WORDS(k, "don't", "don|'|t");
    CHECK_WORDS(k, "a$b+c~d`e", "a|$|b|+|c|~|d|`|e");
    CHECK_WORDS(k, "ab 1234567", "ab| |123|456|7");
    CHECK_WORDS(k, "x1234y", "x|123|4|y");
    CHECK_WORDS(k, "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4", "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4"); /* not [0-9] */
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Vocabularies written for a test                                          */
/* ------------------------------------------------------------------------ */

static void set_strings(bibim_gguf_writer *w, const char *key, const char *const *strs, size_t n) {
    bibim_str *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (bibim_str){strs[i], strlen(strs[i])};
    CHECK(bibim_gguf_writer_set_arr_str(w, key, v, n) == BIBIM_OK);
    free(v);
}

/* Writes w (metadata only) to a file, opens it and builds its tokenizer;
 * frees w. Returns tokenizer_load's status. */
static bibim_status load_written(bibim_gguf_writer *w, tokenizer **tok, char *err, size_t err_size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/bibim_test_tokenizer_%d.gguf", (int)getpid());
    *tok = NULL;
    bibim_status st = bibim_gguf_writer_begin(w, path);
    if (st == BIBIM_OK) st = bibim_gguf_writer_finish(w);
    CHECKF(st == BIBIM_OK, "writing %s: %s", path, bibim_gguf_writer_errmsg(w));
    bibim_gguf_writer_free(w);
    bibim_gguf *g = NULL;
    if (st == BIBIM_OK) {
        st = bibim_gguf_open(path, &g);
        CHECKF(st == BIBIM_OK, "%s: %s", path, bibim_gguf_errmsg(g));
    }
    if (st == BIBIM_OK) st = tokenizer_load(g, tok, err, err_size);
    bibim_gguf_free(g);
    remove(path);
    return st;
}

/* A small SentencePiece vocabulary: <unk> <s> </s> ▁ a b ▁a ab <0x41>. */
enum { SPM_N = 9 };
static const char *const SPM_TOKENS[SPM_N] = {"<unk>",
                                              "<s>",
                                              "</s>",
                                              "\xE2\x96\x81",
                                              "a",
                                              "b",
                                              "\xE2\x96\x81"
                                              "a",
                                              "ab",
                                              "<0x41>"};
static const float SPM_SCORES[SPM_N] = {0, 0, 0, -1, -2, -3, -4, -5, 0};
static const int32_t SPM_TYPES[SPM_N] = {2, 3, 3, 1, 1, 1, 1, 1, 6};

static bibim_gguf_writer *spm_writer(void) {
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    bibim_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    set_strings(w, "tokenizer.ggml.tokens", SPM_TOKENS, SPM_N);
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BIBIM_GGUF_FLOAT32, SPM_SCORES, SPM_N);
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, SPM_TYPES, SPM_N);
    return w;
}

/* A byte-level BPE vocabulary: the 256 byte characters (id = byte), then
 * `extra` tokens of the given types, and the merges. */
static bibim_gguf_writer *bpe_writer(const char *pre, const char *const *extra, const int32_t *types, size_t n_extra,
                                     const char *const *merges, size_t n_merges) {
    static char chars[256][4];
    const char *tokens[256 + 16];
    int32_t all_types[256 + 16];
    for (int b = 0; b < 256; b++) {
        size_t n = unicode_encode_utf8(bpe_byte_char((uint8_t)b), chars[b]);
        chars[b][n] = '\0';
        tokens[b] = chars[b];
        all_types[b] = TOKEN_TYPE_NORMAL;
    }
    for (size_t i = 0; i < n_extra; i++) {
        tokens[256 + i] = extra[i];
        all_types[256 + i] = types[i];
    }
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    bibim_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) bibim_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    set_strings(w, "tokenizer.ggml.tokens", tokens, 256 + n_extra);
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, all_types, 256 + n_extra);
    set_strings(w, "tokenizer.ggml.merges", merges, n_merges);
    return w;
}

/* Checks that tokenizing `text` gives exactly the ids in `want` (n of them). */
static void check_encode(const tokenizer *tok, const char *text, unsigned flags, const bibim_token *want, int64_t n) {
    ids got = encode(tok, text, strlen(text), flags);
    ids expected = {(bibim_token *)want, n};
    CHECKF(ids_equal(got, expected), "'%s' (flags %u)", shown(text, strlen(text)), flags);
    if (!ids_equal(got, expected)) {
        print_ids("expected", expected);
        print_ids("got", got);
    }
    free(got.v);
}

#define IDS(...)                                                                                                       \
    ((const bibim_token[]){__VA_ARGS__}), (int64_t)(sizeof((const bibim_token[]){__VA_ARGS__}) / sizeof(bibim_token))

/* ids of the extra tokens of the test BPE vocabulary */
enum { T_AB = 256, T_ABC, T_CTL, T_USER, T_UPPER_AB, T_UPPER_BCD, T_EOT };

static tokenizer *test_bpe_vocab(const char *pre) {
    static const char *const extra[] = {"ab", "abc", "<|ctl|>", "<user>", "AB", "BCD", "<|eot_id|>"};
    static const int32_t types[] = {
        1, 1, TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED, TOKEN_TYPE_CONTROL, TOKEN_TYPE_CONTROL, TOKEN_TYPE_NORMAL};
    /* Odd merges are skipped: unknown parts, no separator, a repeat. */
    static const char *const merges[] = {"a b", "ab c", "zz qq", "nospace", "a b", " b", "b  a", ""};
    tokenizer *tok = NULL;
    char err[256] = "";
    bibim_status st = load_written(bpe_writer(pre, extra, types, 7, merges, 8), &tok, err, sizeof err);
    CHECKF(st == BIBIM_OK, "%s", err);
    return tok;
}

static int test_bpe_merges(void) {
    tokenizer *tok = test_bpe_vocab("gpt-2");
    if (!tok) return 0;
    check_encode(tok, "abc", 0, IDS(T_ABC));
    check_encode(tok, "cab", 0, IDS('c', T_AB));
    check_encode(tok, "ab abc", 0, IDS(T_AB, ' ', T_ABC)); /* the space's character, U+0120, has id 0x20 here */
    check_encode(tok, "", 0, NULL, 0);
    CHECK(tokenizer_bos(tok) == 11 && tokenizer_eos(tok) == 11); /* llama.cpp's defaults for "gpt2" */
    check_encode(tok, "a", BIBIM_TOKENIZE_ADD_BOS, IDS('a'));    /* add_bos_token defaults to false for GPT-2 */
    tokenizer_free(tok);
    return 0;
}

static int test_special_tokens(void) {
    tokenizer *tok = test_bpe_vocab("gpt-2");
    if (!tok) return 0;
    /* Control tokens only with BIBIM_TOKENIZE_SPECIAL; user-defined ones always. */
    check_encode(tok, "x<|ctl|>y", BIBIM_TOKENIZE_SPECIAL, IDS('x', T_CTL, 'y'));
    check_encode(tok, "x<|ctl|>y", 0, IDS('x', '<', '|', 'c', 't', 'l', '|', '>', 'y'));
    check_encode(tok, "<user><user>", 0, IDS(T_USER, T_USER));
    check_encode(tok, "<user>", BIBIM_TOKENIZE_SPECIAL, IDS(T_USER));
    /* The longer token is looked for first, wherever it is: BCD wins over AB. */
    check_encode(tok, "ABCD", BIBIM_TOKENIZE_SPECIAL, IDS('A', T_UPPER_BCD));
    check_encode(tok, "ABAB", BIBIM_TOKENIZE_SPECIAL, IDS(T_UPPER_AB, T_UPPER_AB));
    check_encode(tok, "ABCD", 0, IDS('A', 'B', 'C', 'D'));
    /* <|eot_id|> is a control token that ends generation by its text alone (llama.cpp), though typed normal. */
    check_encode(tok, "<|eot_id|>", BIBIM_TOKENIZE_SPECIAL, IDS(T_EOT));
    CHECK(tokenizer_is_end(tok, T_EOT) && !tokenizer_is_end(tok, T_CTL));
    /* Pieces: control text only when asked for; user-defined always. */
    char buf[16];
    CHECK(tokenizer_piece(tok, T_CTL, 0, buf, sizeof buf) == 0);
    CHECK(tokenizer_piece(tok, T_CTL, BIBIM_PIECE_SPECIAL, buf, sizeof buf) == 7 && memcmp(buf, "<|ctl|>", 7) == 0);
    CHECK(tokenizer_piece(tok, T_USER, 0, buf, sizeof buf) == 6 && memcmp(buf, "<user>", 6) == 0);
    tokenizer_free(tok);

    /* Llama 3's pre-tokenizer turns BOS on (llama.cpp), and a bos key picks the token. */
    static const char *const extra[] = {"<|begin|>"};
    static const int32_t types[] = {TOKEN_TYPE_CONTROL};
    bibim_gguf_writer *w = bpe_writer("llama-bpe", extra, types, 1, NULL, 0);
    bibim_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 256);
    char err[256] = "";
    CHECKF(load_written(w, &tok, err, sizeof err) == BIBIM_OK, "%s", err);
    if (tok) {
        check_encode(tok, "hi", BIBIM_TOKENIZE_ADD_BOS, IDS(256, 'h', 'i'));
        check_encode(tok, "hi", 0, IDS('h', 'i'));
        check_encode(tok, "<|begin|>", BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL, IDS(256, 256));
        tokenizer_free(tok);
    }
    return 0;
}

static int test_spm_small(void) {
    tokenizer *tok = NULL;
    char err[256] = "";
    CHECKF(load_written(spm_writer(), &tok, err, sizeof err) == BIBIM_OK, "%s", err);
    if (!tok) return 0;
    /* "▁a" (score -4) beats "ab" (-5): "▁ab" -> ▁a b. */
    check_encode(tok, "ab", 0, IDS(6, 5));
    check_encode(tok, "ab", BIBIM_TOKENIZE_ADD_BOS, IDS(1, 6, 5));
    /* 'A' has a byte token; 'C' has none and becomes <unk>. */
    check_encode(tok, "A", 0, IDS(3, 8));
    check_encode(tok, "C", 0, IDS(3, 0));
    /* After a special token the text gets its "▁" again. */
    check_encode(tok, "a<s>a", BIBIM_TOKENIZE_SPECIAL, IDS(6, 1, 6));
    char buf[8];
    CHECK(tokenizer_piece(tok, 6, 0, buf, sizeof buf) == 2 && memcmp(buf, " a", 2) == 0);
    CHECK(tokenizer_piece(tok, 8, 0, buf, sizeof buf) == 1 && buf[0] == 'A');
    CHECK(tokenizer_piece(tok, 0, 0, buf, sizeof buf) == 0);                   /* <unk> is special */
    CHECK(tokenizer_piece(tok, 0, BIBIM_PIECE_SPECIAL, buf, sizeof buf) == 5); /* "<unk>" */
    CHECK(tokenizer_piece(tok, SPM_N, 0, buf, sizeof buf) == -1);
    CHECK(tokenizer_piece(tok, -1, 0, buf, sizeof buf) == -1);
    tokenizer_free(tok);

    /* The flags from the file: no space prefix, and EOS added with BOS. */
    bibim_gguf_writer *w = spm_writer();
    bibim_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", 0);
    bibim_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", 1);
    CHECKF(load_written(w, &tok, err, sizeof err) == BIBIM_OK, "%s", err);
    if (!tok) return 0;
    check_encode(tok, "ab", 0, IDS(7));
    check_encode(tok, "ab", BIBIM_TOKENIZE_ADD_BOS, IDS(1, 7, 2));
    check_encode(tok, "a b", 0, IDS(4, 3, 5)); /* "▁b" is no token */
    tokenizer_free(tok);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Hostile vocabularies                                                     */
/* ------------------------------------------------------------------------ */

static void edit_no_model(bibim_gguf_writer *w) { bibim_gguf_writer_remove(w, "tokenizer.ggml.model"); }
static void edit_model_foo(bibim_gguf_writer *w) { bibim_gguf_writer_set_str(w, "tokenizer.ggml.model", "foo"); }
static void edit_model_u32(bibim_gguf_writer *w) { bibim_gguf_writer_set_u32(w, "tokenizer.ggml.model", 1); }
static void edit_no_tokens(bibim_gguf_writer *w) { bibim_gguf_writer_remove(w, "tokenizer.ggml.tokens"); }
static void edit_tokens_i32(bibim_gguf_writer *w) {
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.tokens", BIBIM_GGUF_INT32, SPM_TYPES, SPM_N);
}
static void edit_tokens_empty(bibim_gguf_writer *w) { set_strings(w, "tokenizer.ggml.tokens", NULL, 0); }
static void edit_scores_i8(bibim_gguf_writer *w) {
    static const int8_t v[SPM_N] = {0};
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BIBIM_GGUF_INT8, v, SPM_N);
}
static void edit_scores_short(bibim_gguf_writer *w) {
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BIBIM_GGUF_FLOAT32, SPM_SCORES, SPM_N - 1);
}
static void edit_types_f32(bibim_gguf_writer *w) {
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_FLOAT32, SPM_SCORES, SPM_N);
}
static void edit_types_long(bibim_gguf_writer *w) {
    static const int32_t v[SPM_N + 1] = {0};
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, v, SPM_N + 1);
}
static void edit_duplicate(bibim_gguf_writer *w) {
    const char *tokens[SPM_N];
    memcpy(tokens, SPM_TOKENS, sizeof tokens);
    tokens[5] = "a";
    set_strings(w, "tokenizer.ggml.tokens", tokens, SPM_N);
}
static void edit_bos_str(bibim_gguf_writer *w) { bibim_gguf_writer_set_str(w, "tokenizer.ggml.bos_token_id", "1"); }
static void edit_eos_array(bibim_gguf_writer *w) {
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.eos_token_id", BIBIM_GGUF_INT32, SPM_TYPES, 2);
}
static void edit_add_bos_u8(bibim_gguf_writer *w) { bibim_gguf_writer_set_u8(w, "tokenizer.ggml.add_bos_token", 1); }
static void edit_gpt2(bibim_gguf_writer *w) { bibim_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"); }
static void edit_gpt2_merges_i32(bibim_gguf_writer *w) {
    edit_gpt2(w);
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.merges", BIBIM_GGUF_INT32, SPM_TYPES, 2);
}
static void edit_gpt2_pre_foo(bibim_gguf_writer *w) {
    edit_gpt2(w);
    set_strings(w, "tokenizer.ggml.merges", NULL, 0);
    bibim_gguf_writer_set_str(w, "tokenizer.ggml.pre", "foo-bpe");
}
static void edit_gpt2_pre_u32(bibim_gguf_writer *w) {
    edit_gpt2(w);
    set_strings(w, "tokenizer.ggml.merges", NULL, 0);
    bibim_gguf_writer_set_u32(w, "tokenizer.ggml.pre", 3);
}

/* Oddities that load, with the behaviour tokenizer.h documents. */
static void edit_ids_out_of_range(bibim_gguf_writer *w) {
    bibim_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 99999);
    bibim_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", UINT32_MAX);
    bibim_gguf_writer_set_i32(w, "tokenizer.ggml.unknown_token_id", -1);
}
static void edit_empty_and_odd_tokens(bibim_gguf_writer *w) {
    const char *tokens[SPM_N];
    memcpy(tokens, SPM_TOKENS, sizeof tokens);
    tokens[5] = "";       /* empty */
    tokens[8] = "<0xZZ>"; /* a byte token that is not one */
    set_strings(w, "tokenizer.ggml.tokens", tokens, SPM_N);
    float scores[SPM_N];
    memcpy(scores, SPM_SCORES, sizeof scores);
    scores[4] = NAN;
    scores[6] = -0.0f;
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BIBIM_GGUF_FLOAT32, scores, SPM_N);
    int32_t types[SPM_N];
    memcpy(types, SPM_TYPES, sizeof types);
    types[7] = 99;
    types[3] = -5;
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, types, SPM_N);
}
static void edit_one_token(bibim_gguf_writer *w) {
    static const char *const tokens[] = {"a"};
    set_strings(w, "tokenizer.ggml.tokens", tokens, 1);
    bibim_gguf_writer_remove(w, "tokenizer.ggml.scores");
    bibim_gguf_writer_remove(w, "tokenizer.ggml.token_type");
}
static void edit_gpt2_no_byte_tokens(bibim_gguf_writer *w) {
    edit_gpt2(w);
    static const char *const merges[] = {"a b", "\xE2\x96\x81 a", "x y"};
    set_strings(w, "tokenizer.ggml.merges", merges, 3);
}

static int test_hostile_vocabularies(void) {
    static const struct {
        const char *name;
        void (*edit)(bibim_gguf_writer *);
        bibim_status status;
        const char *message;
    } cases[] = {
        {"no model", edit_no_model, BIBIM_ERR_NOT_FOUND, "tokenizer.ggml.model is missing"},
        {"model foo", edit_model_foo, BIBIM_ERR_UNSUPPORTED,
         "tokenizer.ggml.model 'foo' is not supported (llama, gpt2)"},
        {"model u32", edit_model_u32, BIBIM_ERR_TYPE, "tokenizer.ggml.model has type uint32, expected string"},
        {"no tokens", edit_no_tokens, BIBIM_ERR_NOT_FOUND, "tokenizer.ggml.tokens is missing"},
        {"tokens i32", edit_tokens_i32, BIBIM_ERR_TYPE,
         "tokenizer.ggml.tokens has type array of int32, expected array of string"},
        {"no token", edit_tokens_empty, BIBIM_ERR_FORMAT, "tokenizer.ggml.tokens has 0 entries"},
        {"scores i8", edit_scores_i8, BIBIM_ERR_TYPE,
         "tokenizer.ggml.scores has type array of int8, expected array of float32"},
        {"scores short", edit_scores_short, BIBIM_ERR_FORMAT,
         "tokenizer.ggml.scores has 8 entries, expected 9 (one per token)"},
        {"types f32", edit_types_f32, BIBIM_ERR_TYPE,
         "tokenizer.ggml.token_type has type array of float32, expected array of int32"},
        {"types long", edit_types_long, BIBIM_ERR_FORMAT, "tokenizer.ggml.token_type has 10 entries, expected 9"},
        {"duplicate", edit_duplicate, BIBIM_ERR_FORMAT, "tokenizer.ggml.tokens: tokens 4 and 5 are both 'a'"},
        {"bos string", edit_bos_str, BIBIM_ERR_TYPE,
         "tokenizer.ggml.bos_token_id has type string, expected an integer"},
        {"eos array", edit_eos_array, BIBIM_ERR_TYPE, "tokenizer.ggml.eos_token_id has type array of int32"},
        {"add_bos u8", edit_add_bos_u8, BIBIM_ERR_TYPE, "tokenizer.ggml.add_bos_token has type uint8, expected bool"},
        {"gpt2 no merges", edit_gpt2, BIBIM_ERR_NOT_FOUND, "tokenizer.ggml.merges is missing"},
        {"gpt2 merges i32", edit_gpt2_merges_i32, BIBIM_ERR_TYPE,
         "tokenizer.ggml.merges has type array of int32, expected array of string"},
        {"gpt2 pre foo", edit_gpt2_pre_foo, BIBIM_ERR_UNSUPPORTED, "tokenizer.ggml.pre 'foo-bpe' is not supported"},
        {"gpt2 pre u32", edit_gpt2_pre_u32, BIBIM_ERR_TYPE, "tokenizer.ggml.pre has type uint32, expected string"},
        {"ids out of range", edit_ids_out_of_range, BIBIM_OK, ""},
        {"empty and odd tokens", edit_empty_and_odd_tokens, BIBIM_OK, ""},
        {"one token", edit_one_token, BIBIM_OK, ""},
        {"gpt2 without byte tokens", edit_gpt2_no_byte_tokens, BIBIM_OK, ""},
    };
    static const char *const inputs[] = {
        "", "a", "ab ab", "\xFF\xFE", "<s>x</s>", "\xE2\x96\x81", "  ", "Caf\xC3\xA9 \xF0\x9F\xA6\x99"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bibim_gguf_writer *w = spm_writer();
        cases[i].edit(w);
        tokenizer *tok = NULL;
        char err[256] = "";
        bibim_status st = load_written(w, &tok, err, sizeof err);
        CHECKF(st == cases[i].status, "%s: status %s, expected %s (%s)", cases[i].name, bibim_status_string(st),
               bibim_status_string(cases[i].status), err);
        CHECKF(strstr(err, cases[i].message) != NULL, "%s: message '%s', expected '%s'", cases[i].name, err,
               cases[i].message);
        CHECK((tok != NULL) == (st == BIBIM_OK));
        /* Whatever loaded must tokenize anything and render every token. */
        for (size_t k = 0; tok && k < sizeof inputs / sizeof inputs[0]; k++) {
            ids t = encode(tok, inputs[k], strlen(inputs[k]), BIBIM_TOKENIZE_ADD_BOS | BIBIM_TOKENIZE_SPECIAL);
            for (int64_t j = 0; j < t.n; j++) CHECK(t.v[j] >= 0 && t.v[j] < tokenizer_n_vocab(tok));
            free(t.v);
        }
        for (int32_t id = 0; tok && id < tokenizer_n_vocab(tok); id++) {
            char buf[32];
            CHECK(tokenizer_piece(tok, id, BIBIM_PIECE_SPECIAL, buf, sizeof buf) >= 0);
        }
        if (cases[i].edit == edit_ids_out_of_range && tok) {
            CHECK(tokenizer_bos(tok) == 1 && tokenizer_eos(tok) == 2); /* the defaults stay */
        }
        if (cases[i].edit == edit_empty_and_odd_tokens && tok) {
            char buf[8];
            CHECK(tokenizer_piece(tok, 5, 0, buf, sizeof buf) == 0); /* empty */
            CHECK(tokenizer_piece(tok, 8, 0, buf, sizeof buf) == 0); /* "<0xZZ>" */
            CHECK(tokenizer_piece(tok, 7, 0, buf, sizeof buf) == 0); /* type 99 */
            check_encode(tok, "ab", 0, IDS(6, 0));                   /* "b" is gone: unknown; ▁a merges despite -0 */
        }
        if (cases[i].edit == edit_one_token && tok) {
            CHECK(tokenizer_bos(tok) == -1 && tokenizer_eos(tok) == -1); /* defaults 1, 2 are out of range */
            check_encode(tok, "a", BIBIM_TOKENIZE_ADD_BOS, IDS(0, 0));   /* no BOS; "▁" is unknown (id 0) */
        }
        tokenizer_free(tok);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */
/* ------------------------------------------------------------------------ */

/* Varied text; none holds "▁" (SentencePiece's space mark cannot round-trip). */
static const char *const CORPUS[] = {
    "Hello world",
    " leading and trailing  ",
    "tabs\tand\nnewlines\r\n\r\nand   runs    of spaces",
    "int main(void) {\n    return 0; // done\n}\n",
    "numbers 0 1 12 123 1234 12345678901234567890 3.14 -7 1e9",
    "don't I'm we'LL HE'S y'all're",
    "emoji \xF0\x9F\xA6\x99\xF0\x9F\x9A\x80 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
    "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xE4\xB8\xAD\xE6\x96\x87 "
    "\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A Caf\xC3\xA9 na\xC3\xAF"
    "ve",
    "<s></s><unk><|endoftext|> as plain text",
    "\xC2\x85\xC2\xA0\xE3\x80\x80\xE2\x80\xA8 odd spaces",
    "",
    "x",
};

/* Bytes that are not UTF-8: each must come back as it was. */
static const char *const INVALID[] = {
    "\xFF",
    "a\xFE"
    "b",
    "\xC0\x80",
    "\xED\xA0\x80 surrogate",
    "\xE2\x96 truncated",
    "end \xF0\x9F\xA6",
    "\x80\x80\x80",
    "mixed \xC3\xA9\xC3 \xA9",
};

static void check_round_trip(const tokenizer *tok, const char *text, size_t len, const char *prefix) {
    ids t = encode(tok, text, len, 0);
    buffer back = detokenize(tok, t, 0);
    size_t p = strlen(prefix);
    int ok = back.len == p + len && memcmp(back.data, prefix, p) == 0 && memcmp(back.data + p, text, len) == 0;
    CHECKF(ok, "'%s' does not round-trip", shown(text, len));
    if (!ok) printf("    got '%s'\n", shown(back.data, back.len));
    /* tokenizer_decode (bibim_detokenize) gives the text itself: no dummy-prefix space. */
    int64_t n = tokenizer_decode(tok, t.v, t.n, 0, NULL, 0);
    char *dec = n >= 0 ? malloc((size_t)n + 1) : NULL;
    ok = dec && tokenizer_decode(tok, t.v, t.n, 0, dec, (size_t)n) == n && (size_t)n == len && !memcmp(dec, text, len);
    CHECKF(ok, "'%s' does not decode to itself", shown(text, len));
    free(dec);
    free(t.v);
    free(back.data);
}

static int test_round_trip_gpt2(void) {
    SKIP_UNLESS_FILE(GPT2_VOCAB);
    tokenizer *tok = load(GPT2_VOCAB);
    if (!tok) return 0;
    for (size_t i = 0; i < sizeof CORPUS / sizeof CORPUS[0]; i++)
        check_round_trip(tok, CORPUS[i], strlen(CORPUS[i]), "");
    for (size_t i = 0; i < sizeof INVALID / sizeof INVALID[0]; i++)
        check_round_trip(tok, INVALID[i], strlen(INVALID[i]), "");
    /* Random bytes, NUL included. */
    uint64_t state = 12345;
    char text[64];
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)(i % 64);
        for (size_t k = 0; k < len; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            text[k] = (char)(state >> 56);
        }
        check_round_trip(tok, text, len, "");
    }
    tokenizer_free(tok);
    return 0;
}

static int test_round_trip_spm(void) {
    SKIP_UNLESS_FILE(SPM_VOCAB);
    tokenizer *tok = load(SPM_VOCAB);
    if (!tok) return 0;
    /* The text comes back after the leading space SentencePiece adds. */
    for (size_t i = 0; i < sizeof CORPUS / sizeof CORPUS[0]; i++)
        check_round_trip(tok, CORPUS[i], strlen(CORPUS[i]), *CORPUS[i] ? " " : "");
    for (size_t i = 0; i < sizeof INVALID / sizeof INVALID[0]; i++)
        check_round_trip(tok, INVALID[i], strlen(INVALID[i]), " ");
    /* Each invalid byte is its own <0xNN> token (id 3 + byte in Llama's vocabulary). */
    check_encode(tok, "\xFF\xFE", 0, IDS(29871, 3 + 0xFF, 3 + 0xFE));
    tokenizer_free(tok);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The calling conventions                                                  */
/* ------------------------------------------------------------------------ */

static int test_buffers(void) {
    SKIP_UNLESS_FILE(SPM_VOCAB);
    tokenizer *tok = load(SPM_VOCAB);
    if (!tok) return 0;
    const char *text = "Hello world, hello tokens";
    bibim_token few[3] = {-7, -7, -7}, all[32];
    int64_t n = -1, n_all = -1;
    CHECK(tokenizer_encode(tok, text, strlen(text), BIBIM_TOKENIZE_ADD_BOS, all, 32, &n_all) == BIBIM_OK);
    CHECK(tokenizer_encode(tok, text, strlen(text), BIBIM_TOKENIZE_ADD_BOS, few, 2, &n) == BIBIM_ERR_TOO_SMALL);
    CHECK(n == n_all && n > 3 && few[0] == all[0] && few[1] == all[1] && few[2] == -7);
    CHECK(tokenizer_encode(tok, text, strlen(text), 0, NULL, 0, &n) == BIBIM_ERR_TOO_SMALL && n == n_all - 1);
    CHECK(tokenizer_encode(tok, "", 0, 0, NULL, 0, &n) == BIBIM_OK && n == 0);
    CHECK(tokenizer_encode(tok, NULL, 0, BIBIM_TOKENIZE_ADD_BOS, all, 32, &n) == BIBIM_OK && n == 1 && all[0] == 1);
    CHECK(tokenizer_encode(tok, NULL, 5, 0, all, 32, &n) == BIBIM_ERR_INVALID_ARG);
    CHECK(tokenizer_encode(tok, text, 3, 0, all, -1, &n) == BIBIM_ERR_INVALID_ARG);
    CHECK(tokenizer_encode(tok, text, 3, 0, all, 32, NULL) == BIBIM_ERR_INVALID_ARG);
    /* A piece longer than the buffer: the full length, and only capacity bytes written. */
    char piece[8] = "#######";
    int64_t len = tokenizer_piece(tok, 15043, 0, piece, 3); /* "▁Hello" -> " Hello" */
    CHECK(len == 6 && memcmp(piece, " He####", 7) == 0);
    CHECK(tokenizer_piece(tok, 15043, 0, NULL, 0) == 6);
    CHECK(tokenizer_piece(tok, 1, 0, piece, sizeof piece) == 0); /* <s> */
    CHECK(tokenizer_piece(tok, 1, BIBIM_PIECE_SPECIAL, piece, sizeof piece) == 3 && !memcmp(piece, "<s>", 3));
    CHECK(tokenizer_piece(tok, 3 + 0x41, 0, piece, sizeof piece) == 1 && piece[0] == 'A'); /* <0x41> */
    CHECK(tokenizer_piece(tok, 32000, 0, piece, sizeof piece) == -1);
    CHECK(tokenizer_n_vocab(tok) == 32000 && tokenizer_bos(tok) == 1 && tokenizer_eos(tok) == 2);
    CHECK(tokenizer_is_end(tok, 2) && !tokenizer_is_end(tok, 1) && !tokenizer_is_end(tok, -1) &&
          !tokenizer_is_end(tok, 32000));
    tokenizer_free(tok);
    return 0;
}

static int test_end_tokens(void) {
    SKIP_UNLESS_FILE(GPT2_VOCAB);
    tokenizer *tok = load(GPT2_VOCAB);
    if (!tok) return 0;
    /* <|endoftext|> (50256) is eos, and an end token by its text too. */
    CHECK(tokenizer_is_end(tok, 50256) && !tokenizer_is_end(tok, 0));
    check_encode(tok, "<|endoftext|>", BIBIM_TOKENIZE_SPECIAL, IDS(50256));
    check_encode(tok, "a", BIBIM_TOKENIZE_ADD_BOS, IDS(64)); /* GPT-2 adds no BOS */
    tokenizer_free(tok);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Threads and speed                                                        */
/* ------------------------------------------------------------------------ */

typedef struct thread_job {
    const tokenizer *tok;
    int mismatches;
} thread_job;

/* Tokenizes the corpus many times and compares with a first run. */
static void *encode_corpus_repeatedly(void *arg) {
    thread_job *job = arg;
    size_t n = sizeof CORPUS / sizeof CORPUS[0];
    for (size_t i = 0; i < n; i++) {
        bibim_token first[256], again[256];
        int64_t n_first = 0, n_again = 0;
        tokenizer_encode(job->tok, CORPUS[i], strlen(CORPUS[i]), BIBIM_TOKENIZE_SPECIAL, first, 256, &n_first);
        for (int r = 0; r < 50; r++) {
            tokenizer_encode(job->tok, CORPUS[i], strlen(CORPUS[i]), BIBIM_TOKENIZE_SPECIAL, again, 256, &n_again);
            if (n_again != n_first || memcmp(first, again, (size_t)n_first * sizeof first[0]) != 0) job->mismatches++;
        }
    }
    return NULL;
}

static int test_threads(void) {
    SKIP_UNLESS_FILE(GPT2_VOCAB);
    tokenizer *tok = load(GPT2_VOCAB);
    if (!tok) return 0;
    pthread_t threads[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){tok, 0};
        CHECK(pthread_create(&threads[i], NULL, encode_corpus_repeatedly, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(jobs[i].mismatches == 0);
    }
    tokenizer_free(tok);
    return 0;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Prints load and tokenizing speed; fails only on something pathological
 * (a quadratic blow-up would take minutes on these inputs). */
static void time_vocabulary(const char *path) {
    double t0 = seconds();
    tokenizer *tok = load(path);
    double t1 = seconds();
    if (!tok) return;
    size_t size = 1 << 20, at = 0, k = 0;
    char *text = malloc(size);
    while (at < size) {
        const char *s = CORPUS[k++ % (sizeof CORPUS / sizeof CORPUS[0])];
        size_t n = strlen(s) < size - at ? strlen(s) : size - at;
        memcpy(text + at, s, n);
        at += n;
    }
    double t2 = seconds();
    ids t = encode(tok, text, size, 0);
    double t3 = seconds();
    char *same = malloc(size); /* one 1 MB word: the worst case for merging */
    memset(same, 'a', size);
    ids u = encode(tok, same, size, 0);
    double t4 = seconds();
    printf("  %s: load %.1f ms; 1 MB of text -> %lld tokens in %.0f ms; 1 MB of 'a' -> %lld tokens in %.0f ms\n", path,
           (t1 - t0) * 1e3, (long long)t.n, (t3 - t2) * 1e3, (long long)u.n, (t4 - t3) * 1e3);
    CHECK(t4 - t2 < 30.0);
    free(t.v);
    free(u.v);
    free(text);
    free(same);
    tokenizer_free(tok);
}

static int test_speed(void) {
    SKIP_UNLESS_FILE(SPM_VOCAB);
    SKIP_UNLESS_FILE(GPT2_VOCAB);
    time_vocabulary(SPM_VOCAB);
    time_vocabulary(GPT2_VOCAB);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */
/* ------------------------------------------------------------------------ */

int main(void) {
    RUN(test_utf8_decode);
    RUN(test_unicode_classes);
    RUN(test_pretokenize_llama3);
    RUN(test_pretokenize_gpt2);
    RUN(test_pretokenize_default);
    RUN(test_bpe_merges);
    RUN(test_special_tokens);
    RUN(test_spm_small);
    RUN(test_hostile_vocabularies);
    RUN(test_spm_vectors);
    RUN(test_gpt2_vectors);
    RUN(test_tiny_random_tsv);
    RUN(test_stories_tsv);
    RUN(test_round_trip_gpt2);
    RUN(test_round_trip_spm);
    RUN(test_buffers);
    RUN(test_end_tokens);
    RUN(test_threads);
    RUN(test_speed);
    return harness_finish();
}
