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

int main(void) {
    RUN(test_utf8_held_until_complete);
    RUN(test_stop_strings);
    RUN(test_arguments);
    printf("RESULT %d %d %d\n", harness_passed, harness_failed, harness_skipped);
    return harness_failed != 0;
}
