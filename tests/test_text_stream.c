/* bibim_text_stream: complete UTF-8 only, stop strings held back and cut.
 * Uses stories260K's vocabulary, whose byte tokens split a character:
 * "☃" is <0xE2> <0x98> <0x83> (ids 229, 155, 134). */
#include "bibim.h"
#include "harness.h"

static const char *MODEL = "../shared/models/stories260K.gguf";

/* Pushes tokens and concatenates what is released; returns 1 if a stop
 * string was seen. */
static int run_stream(bibim_model *m, const char *const *stop, size_t n_stop, const bibim_token *toks, size_t n,
                      char *out, size_t cap, int finish) {
    bibim_text_stream *ts = NULL;
    CHECK(bibim_text_stream_create(m, stop, n_stop, 0, &ts) == BIBIM_OK);
    if (!ts) return 0;
    size_t used = 0;
    int stopped = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t;
        size_t len;
        CHECK(bibim_text_stream_push(ts, toks[i], &t, &len, &stopped) == BIBIM_OK);
        if (used + len < cap) memcpy(out + used, t, len), used += len;
    }
    if (finish) {
        const char *t;
        size_t len;
        CHECK(bibim_text_stream_finish(ts, &t, &len) == BIBIM_OK);
        if (used + len < cap) memcpy(out + used, t, len), used += len;
    }
    out[used] = 0;
    bibim_text_stream_free(ts);
    return stopped;
}

static bibim_model *load(void) {
    bibim_model_params p = bibim_model_default_params();
    p.vocab_only = 1;
    bibim_model *m = NULL;
    if (bibim_model_load(MODEL, &p, &m) != BIBIM_OK) {
        bibim_model_free(m);
        return NULL;
    }
    return m;
}

static int test_utf8_held_until_complete(void) {
    SKIP_UNLESS_FILE(MODEL);
    bibim_model *m = load();
    CHECK(m != NULL);
    if (!m) return 0;
    bibim_text_stream *ts = NULL;
    CHECK(bibim_text_stream_create(m, NULL, 0, 0, &ts) == BIBIM_OK);
    const bibim_token snowman[] = {229, 155, 134};
    const char *t;
    size_t len;
    CHECK(bibim_text_stream_push(ts, snowman[0], &t, &len, NULL) == BIBIM_OK && len == 0);
    CHECK(bibim_text_stream_push(ts, snowman[1], &t, &len, NULL) == BIBIM_OK && len == 0);
    CHECK(bibim_text_stream_push(ts, snowman[2], &t, &len, NULL) == BIBIM_OK && len == 3 && !memcmp(t, "\xe2\x98\x83", 3));
    CHECK(bibim_text_stream_push(ts, 281, &t, &len, NULL) == BIBIM_OK && len == 3 && !memcmp(t, " he", 3));
    /* an unfinished character at the end becomes U+FFFD */
    CHECK(bibim_text_stream_push(ts, 229, &t, &len, NULL) == BIBIM_OK && len == 0);
    CHECK(bibim_text_stream_finish(ts, &t, &len) == BIBIM_OK && len == 3 && !memcmp(t, "\xef\xbf\xbd", 3));
    CHECK(bibim_text_stream_push(ts, -1, &t, &len, NULL) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_text_stream_push(ts, 1 << 20, &t, &len, NULL) == BIBIM_ERR_INVALID_ARG);
    bibim_text_stream_free(ts);
    /* an invalid sequence (a continuation byte alone) becomes U+FFFD at once */
    char out[128];
    const bibim_token bad[] = {155, 281};
    run_stream(m, NULL, 0, bad, 2, out, sizeof out, 0);
    CHECKF(!strcmp(out, "\xef\xbf\xbd he"), "%s", out);
    bibim_model_free(m);
    return 0;
}

static int test_stop_strings(void) {
    SKIP_UNLESS_FILE(MODEL);
    bibim_model *m = load();
    CHECK(m != NULL);
    if (!m) return 0;
    const bibim_token hello_world[] = {281, 306, 414, 263, 304, 341}; /* " he" "ll" "o" " w" "or" "ld" */
    char out[128];
    const char *stop1[] = {"o w"};
    CHECK(run_stream(m, stop1, 1, hello_world, 6, out, sizeof out, 1) == 1);
    CHECKF(!strcmp(out, " hell"), "'%s'", out);
    /* a prefix of a stop string that never completes is released at the end */
    const char *stop2[] = {"ldx"};
    CHECK(run_stream(m, stop2, 1, hello_world, 6, out, sizeof out, 0) == 0);
    CHECKF(!strcmp(out, " hello wor"), "held back: '%s'", out);
    CHECK(run_stream(m, stop2, 1, hello_world, 6, out, sizeof out, 1) == 0);
    CHECKF(!strcmp(out, " hello world"), "'%s'", out);
    /* the earliest of several stop strings wins; a stop string at the very start releases nothing */
    const char *stop3[] = {"world", "ll"};
    CHECK(run_stream(m, stop3, 2, hello_world, 6, out, sizeof out, 1) == 1);
    CHECKF(!strcmp(out, " he"), "'%s'", out);
    const char *stop4[] = {" h"};
    CHECK(run_stream(m, stop4, 1, hello_world, 6, out, sizeof out, 1) == 1);
    CHECKF(!strcmp(out, ""), "'%s'", out);
    /* a stop string inside a multi-byte character's bytes is matched on whole text */
    const char *stop5[] = {"\xe2\x98\x83"};
    const bibim_token snow_then_hello[] = {281, 229, 155, 134, 281};
    CHECK(run_stream(m, stop5, 1, snow_then_hello, 5, out, sizeof out, 1) == 1);
    CHECKF(!strcmp(out, " he"), "'%s'", out);
    bibim_model_free(m);
    return 0;
}

static int test_arguments(void) {
    SKIP_UNLESS_FILE(MODEL);
    bibim_model *m = load();
    bibim_text_stream *ts = (bibim_text_stream *)1;
    const char *null_stop[] = {NULL};
    CHECK(bibim_text_stream_create(NULL, NULL, 0, 0, &ts) == BIBIM_ERR_INVALID_ARG && ts == NULL);
    CHECK(bibim_text_stream_create(m, NULL, 1, 0, &ts) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_text_stream_create(m, null_stop, 1, 0, &ts) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_text_stream_create(m, NULL, 0, 0, NULL) == BIBIM_ERR_INVALID_ARG);
    const char *t;
    size_t len;
    CHECK(bibim_text_stream_push(NULL, 1, &t, &len, NULL) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_text_stream_finish(NULL, &t, &len) == BIBIM_ERR_INVALID_ARG);
    bibim_text_stream_free(NULL);
    bibim_model_free(m);
    return 0;
}

/* ---- bibim_utf8_valid ---------------------------------------------------- */

#define VALID_AT(lit) bibim_utf8_valid(lit, sizeof lit - 1)

/* The UTF-8 of a code point, written out by the definition (an oracle
 * independent of the library's code). */
static size_t encode_cp(uint32_t cp, unsigned char *o) {
    if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return o[0] = (unsigned char)(0xC0 | cp >> 6), o[1] = (unsigned char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return o[0] = (unsigned char)(0xE0 | cp >> 12), o[1] = (unsigned char)(0x80 | (cp >> 6 & 63)),
               o[2] = (unsigned char)(0x80 | (cp & 63)), 3;
    return o[0] = (unsigned char)(0xF0 | cp >> 18), o[1] = (unsigned char)(0x80 | (cp >> 12 & 63)),
           o[2] = (unsigned char)(0x80 | (cp >> 6 & 63)), o[3] = (unsigned char)(0x80 | (cp & 63)), 4;
}

static int test_utf8_valid_boundaries(void) {
    /* the first and last code point of every length, and around the surrogates */
    const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x3FFFF,
                            0x40000, 0xFFFFF, 0x100000, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        unsigned char b[8] = {'a'};
        size_t n = 1 + encode_cp(cps[i], b + 1);
        b[n++] = 'z';
        CHECKF(bibim_utf8_valid((const char *)b, n) == n, "U+%04X", (unsigned)cps[i]);
        /* every proper prefix of the character is cut short: invalid at its start */
        size_t clen = n - 2;
        for (size_t k = 1; k < clen; k++) CHECKF(bibim_utf8_valid((const char *)b, 1 + k) == 1, "U+%04X cut at %zu", (unsigned)cps[i], k);
    }
    CHECK(VALID_AT("") == 0);
    CHECK(bibim_utf8_valid(NULL, 5) == 0);
    CHECK(VALID_AT("a\0b") == 3); /* NUL is U+0000 */
    CHECK(VALID_AT("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80") == 14);
    return 0;
}

static int test_utf8_valid_rejects(void) {
    /* overlong forms of U+0000, U+007F, U+07FF, U+FFFF */
    CHECK(VALID_AT("\xc0\x80") == 0);
    CHECK(VALID_AT("\xc1\xbf") == 0);
    CHECK(VALID_AT("\xe0\x80\x80") == 0);
    CHECK(VALID_AT("\xe0\x9f\xbf") == 0);
    CHECK(VALID_AT("\xe0\xa0\x80") == 3); /* U+0800, the first 3-byte one */
    CHECK(VALID_AT("\xf0\x80\x80\x80") == 0);
    CHECK(VALID_AT("\xf0\x8f\xbf\xbf") == 0);
    CHECK(VALID_AT("\xf0\x90\x80\x80") == 4); /* U+10000 */
    /* surrogates U+D800, U+DBFF, U+DC00, U+DFFF (and CESU-8's pair) */
    CHECK(VALID_AT("\xed\xa0\x80") == 0);
    CHECK(VALID_AT("\xed\xaf\xbf") == 0);
    CHECK(VALID_AT("\xed\xb0\x80") == 0);
    CHECK(VALID_AT("\xed\xbf\xbf") == 0);
    CHECK(VALID_AT("ok\xed\xa0\xbd\xed\xb8\x80") == 2);
    CHECK(VALID_AT("\xed\x9f\xbf") == 3); /* U+D7FF */
    /* above U+10FFFF */
    CHECK(VALID_AT("\xf4\x90\x80\x80") == 0);
    CHECK(VALID_AT("\xf4\xbf\xbf\xbf") == 0);
    CHECK(VALID_AT("\xf5\x80\x80\x80") == 0);
    CHECK(VALID_AT("\xf7\xbf\xbf\xbf") == 0);
    CHECK(VALID_AT("\xf8\x88\x80\x80\x80") == 0); /* the old 5- and 6-byte forms */
    CHECK(VALID_AT("\xfc\x84\x80\x80\x80\x80") == 0);
    CHECK(VALID_AT("\xfe") == 0 && VALID_AT("\xff") == 0);
    /* stray continuation bytes, a missing continuation, truncation at the end */
    CHECK(VALID_AT("\x80") == 0 && VALID_AT("\xbf") == 0);
    CHECK(VALID_AT("abc\x80") == 3);
    CHECK(VALID_AT("\xc3\xa9\xa9") == 2);
    CHECK(VALID_AT("\xe2\x41\x41") == 0);
    CHECK(VALID_AT("\xe2\x98\x41") == 0);
    CHECK(VALID_AT("\xf0\x9f\x98\x41") == 0);
    CHECK(VALID_AT("x\xc3") == 1);
    CHECK(VALID_AT("xy\xe2\x98") == 2);
    CHECK(VALID_AT("\xf0\x9f\x98") == 0);
    /* the offset is that of the first bad sequence, after valid multi-byte text */
    CHECK(VALID_AT("h\xc3\xa9llo \xe2\x98\x83\xff tail") == 10);
    return 0;
}

/* Every string of 1 to 3 bytes, against the definition: valid iff it is a
 * sequence of encodings of scalar values; then every scalar value. */
static int test_utf8_valid_exhaustive(void) {
    static unsigned char valid1[256], valid2[65536]; /* 1 if that 1/2-byte string is exactly one character */
    for (uint32_t cp = 0; cp < 0x800; cp++) {
        unsigned char b[4];
        size_t n = encode_cp(cp, b);
        if (n == 1) valid1[b[0]] = 1;
        else valid2[b[0] << 8 | b[1]] = 1;
    }
    static unsigned char valid3[1 << 24];
    for (uint32_t cp = 0x800; cp < 0x10000; cp++) {
        unsigned char b[4];
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        encode_cp(cp, b);
        valid3[b[0] << 16 | b[1] << 8 | b[2]] = 1;
    }
    size_t wrong = 0;
    for (uint32_t x = 0; x < 256; x++) wrong += (bibim_utf8_valid((const char *)&(unsigned char){(unsigned char)x}, 1) == 1) != valid1[x];
    for (uint32_t x = 0; x < 65536; x++) {
        unsigned char b[2] = {(unsigned char)(x >> 8), (unsigned char)x};
        size_t expect = valid2[x] || (valid1[b[0]] && valid1[b[1]]) ? 2 : valid1[b[0]] ? 1 : 0;
        wrong += bibim_utf8_valid((const char *)b, 2) != expect;
    }
    for (uint32_t x = 0; x < (1u << 24); x++) {
        unsigned char b[3] = {(unsigned char)(x >> 16), (unsigned char)(x >> 8), (unsigned char)x};
        int v1 = valid1[b[0]], v12 = valid2[x >> 8], v23 = valid2[x & 0xFFFF];
        /* the longest valid prefix, by the ways 3 bytes split into characters */
        size_t expect = valid3[x] || (v1 && (v23 || (valid1[b[1]] && valid1[b[2]]))) || (v12 && valid1[b[2]]) ? 3
                        : v12 || (v1 && valid1[b[1]])                                                         ? 2
                        : v1                                                                                   ? 1
                                                                                                               : 0;
        if (bibim_utf8_valid((const char *)b, 3) != expect && wrong++ < 5) printf("  %02x %02x %02x\n", b[0], b[1], b[2]);
    }
    CHECKF(wrong == 0, "%zu strings of 1..3 bytes judged wrongly", wrong);
    size_t bad_cp = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        unsigned char b[4];
        size_t n = encode_cp(cp, b);
        bad_cp += bibim_utf8_valid((const char *)b, n) != n;
    }
    CHECKF(bad_cp == 0, "%zu code points judged invalid", bad_cp);
    /* 4-byte strings: every lead and second byte, with the other two at their edges */
    const unsigned char edges[] = {0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF};
    size_t wrong4 = 0;
    for (uint32_t b0 = 0xF0; b0 < 0x100; b0++)
        for (uint32_t b1 = 0; b1 < 256; b1++)
            for (size_t e2 = 0; e2 < sizeof edges; e2++)
                for (size_t e3 = 0; e3 < sizeof edges; e3++) {
                    unsigned char b[4] = {(unsigned char)b0, (unsigned char)b1, edges[e2], edges[e3]};
                    uint32_t cp = (b0 & 7u) << 18 | (b1 & 63u) << 12 | (edges[e2] & 63u) << 6 | (edges[e3] & 63u);
                    unsigned char enc[4];
                    int is_char = cp <= 0x10FFFF && cp >= 0x10000 && encode_cp(cp, enc) == 4 && !memcmp(enc, b, 4);
                    size_t got = bibim_utf8_valid((const char *)b, 4);
                    wrong4 += is_char ? got != 4 : got != 0; /* an F0..FF lead is never valid alone */
                }
    CHECKF(wrong4 == 0, "%zu 4-byte strings judged wrongly", wrong4);
    return 0;
}

int main(void) {
    RUN(test_utf8_held_until_complete);
    RUN(test_stop_strings);
    RUN(test_arguments);
    RUN(test_utf8_valid_boundaries);
    RUN(test_utf8_valid_rejects);
    RUN(test_utf8_valid_exhaustive);
    printf("RESULT %d %d %d\n", harness_passed, harness_failed, harness_skipped);
    return harness_failed != 0;
}
