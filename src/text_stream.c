/* text_stream.c — generated tokens to text that is safe to show: only
 * complete UTF-8 is released, and text that may be the start of a stop
 * string is held back until it is known not to be one. Used by
 * bibim_generate and by callers that run their own generation loop. */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "model.h"
#include "unicode.h"

struct bibim_text_stream {
    bibim_allocator alloc; /* the model's */
    const bibim_model *model;
    char **stop;       /* copies of the stop strings */
    size_t n_stop;
    unsigned piece_flags;
    char *raw;         /* bytes not yet known to be complete UTF-8 */
    size_t n_raw, cap_raw;
    char *held;        /* complete text not yet released */
    size_t n_held, cap_held;
    size_t n_out;      /* bytes at the start of held released by the last call */
    int stopped;
};

static int grow(const bibim_allocator *a, char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    char *p = mem_realloc(a, *buf, n);
    if (!p) return 0;
    *buf = p, *cap = n;
    return 1;
}

void bibim_text_stream_free(bibim_text_stream *ts) {
    if (!ts) return;
    bibim_allocator a = ts->alloc; /* it lives in the block being freed */
    for (size_t i = 0; i < ts->n_stop; i++) mem_free(&a, ts->stop[i]);
    mem_free(&a, ts->stop);
    mem_free(&a, ts->raw);
    mem_free(&a, ts->held);
    mem_free(&a, ts);
}

bibim_status bibim_text_stream_create(const bibim_model *model, const char *const *stop, size_t n_stop,
                                      unsigned piece_flags, bibim_text_stream **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    *out = NULL;
    if (!model || (n_stop && !stop)) return BIBIM_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_stop; i++)
        if (!stop[i]) return BIBIM_ERR_INVALID_ARG;
    bibim_text_stream *ts = mem_calloc(&model->alloc, 1, sizeof *ts);
    if (!ts) return BIBIM_ERR_NOMEM;
    ts->alloc = model->alloc;
    ts->model = model;
    ts->piece_flags = piece_flags;
    ts->stop = n_stop ? mem_calloc(&ts->alloc, n_stop, sizeof *ts->stop) : NULL;
    if (n_stop && !ts->stop) return bibim_text_stream_free(ts), BIBIM_ERR_NOMEM;
    for (; ts->n_stop < n_stop; ts->n_stop++)
        if (!(ts->stop[ts->n_stop] = mem_strdup(&ts->alloc, stop[ts->n_stop])))
            return bibim_text_stream_free(ts), BIBIM_ERR_NOMEM;
    *out = ts;
    return BIBIM_OK;
}

/* Moves the complete UTF-8 prefix of raw to held (invalid bytes become
 * U+FFFD); with `flush`, an unfinished tail becomes U+FFFD too. Returns 0
 * if memory ran out; what was moved until then is gone from raw, so the
 * stream never repeats text. */
static int settle_utf8(bibim_text_stream *ts, int flush) {
    size_t i = 0;
    int ok = 1;
    while (i < ts->n_raw) {
        /* a valid run, then (unless the run reaches the end) one bad byte or an unfinished tail */
        size_t good = bibim_utf8_valid(ts->raw + i, ts->n_raw - i);
        int unfinished = good < ts->n_raw - i && unicode_utf8_sequence(ts->raw + i + good, ts->n_raw - i - good) == 0;
        size_t n = good + (good < ts->n_raw - i && !(unfinished && !flush) ? 3 : 0);
        if (n == 0) break; /* only the start of a character, still unfinished */
        if (!(ok = grow(&ts->alloc, &ts->held, &ts->cap_held, ts->n_held + n))) break;
        if (good) memcpy(ts->held + ts->n_held, ts->raw + i, good);
        if (n > good) memcpy(ts->held + ts->n_held + good, "\xEF\xBF\xBD", 3);
        ts->n_held += n;
        i += good + (n > good);
        if (unfinished && !flush) break;
    }
    if (i) memmove(ts->raw, ts->raw + i, ts->n_raw - i);
    ts->n_raw -= i;
    return ok;
}

/* Where the first stop string starts in held, or -1. */
static int64_t find_stop(const bibim_text_stream *ts) {
    int64_t best = -1;
    for (size_t s = 0; s < ts->n_stop; s++) {
        size_t n = strlen(ts->stop[s]);
        if (!n || n > ts->n_held) continue;
        for (size_t i = 0; i + n <= ts->n_held; i++) {
            if (!memcmp(ts->held + i, ts->stop[s], n)) {
                if (best < 0 || (int64_t)i < best) best = (int64_t)i;
                break;
            }
        }
    }
    return best;
}

/* Bytes at the end of held that could begin a stop string. */
static size_t stop_prefix_len(const bibim_text_stream *ts) {
    size_t longest = 0;
    for (size_t s = 0; s < ts->n_stop; s++) {
        size_t n = strlen(ts->stop[s]);
        for (size_t k = n > 1 ? n - 1 : 0; k > longest; k--)
            if (k <= ts->n_held && !memcmp(ts->held + ts->n_held - k, ts->stop[s], k)) {
                longest = k;
                break;
            }
    }
    return longest;
}

/* Drops what the previous call released, appends bytes, and decides what
 * can be released now. */
static bibim_status stream_bytes(bibim_text_stream *ts, const char *bytes, size_t n, int last, const char **text,
                                 size_t *len) {
    if (ts->n_out) memmove(ts->held, ts->held + ts->n_out, ts->n_held - ts->n_out);
    ts->n_held -= ts->n_out;
    ts->n_out = 0;
    *text = "";
    *len = 0;
    if (ts->stopped) return BIBIM_OK;
    if (!grow(&ts->alloc, &ts->raw, &ts->cap_raw, ts->n_raw + n + 1)) return BIBIM_ERR_NOMEM;
    memcpy(ts->raw + ts->n_raw, bytes, n);
    ts->n_raw += n;
    if (!settle_utf8(ts, last)) return BIBIM_ERR_NOMEM;
    int64_t at = find_stop(ts);
    if (at >= 0) {
        ts->stopped = 1;
        ts->n_out = (size_t)at;
        ts->n_held = (size_t)at; /* the stop string and what follows are dropped */
    } else {
        ts->n_out = ts->n_held - (last ? 0 : stop_prefix_len(ts));
    }
    *text = ts->n_out ? ts->held : "";
    *len = ts->n_out;
    return BIBIM_OK;
}

bibim_status bibim_text_stream_push(bibim_text_stream *ts, bibim_token token, const char **text, size_t *len,
                                    int *stopped) {
    if (!ts || !text || !len) return BIBIM_ERR_INVALID_ARG;
    char piece[256];
    int64_t n = bibim_token_piece(ts->model, token, ts->piece_flags, piece, sizeof piece);
    if (n < 0) return BIBIM_ERR_INVALID_ARG;
    char *big = NULL;
    if (n > (int64_t)sizeof piece) { /* a user-defined token can be long */
        if (!(big = mem_alloc(&ts->alloc, (size_t)n))) return BIBIM_ERR_NOMEM;
        bibim_token_piece(ts->model, token, ts->piece_flags, big, (size_t)n);
    }
    bibim_status st = stream_bytes(ts, big ? big : piece, (size_t)n, 0, text, len);
    mem_free(&ts->alloc, big);
    if (stopped) *stopped = ts->stopped;
    return st;
}

bibim_status bibim_text_stream_finish(bibim_text_stream *ts, const char **text, size_t *len) {
    if (!ts || !text || !len) return BIBIM_ERR_INVALID_ARG;
    return stream_bytes(ts, "", 0, 1, text, len);
}
