/* generate.c — the generation loop: evaluate the prompt, then sample and
 * evaluate one token at a time, streaming text that is complete UTF-8 and
 * holding back text that may be the start of a stop string. */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bibim_generate_params bibim_generate_default_params(void) {
    bibim_generate_params p;
    memset(&p, 0, sizeof p);
    p.n_predict = -1;
    return p;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Text on its way to the callback: raw token bytes, then checked UTF-8. */
typedef struct text_stream {
    char *raw;     /* bytes not yet known to be complete UTF-8 */
    size_t n_raw, cap_raw;
    char *held;    /* complete text held back: it may start a stop string */
    size_t n_held, cap_held;
} text_stream;

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    char *p = realloc(*buf, n);
    if (!p) return 0;
    *buf = p, *cap = n;
    return 1;
}

/* Length of a complete, valid UTF-8 sequence at s; 0 if it is incomplete
 * (may still complete); -1 if it is invalid. */
static int utf8_sequence(const unsigned char *s, size_t n) {
    int len = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
            : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : -1;
    if (len < 0) return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        if ((s[i] & 0xC0) != 0x80) return -1;
        if (i == 1 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
                       (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F)))
            return -1;
    }
    return len;
}

/* Moves the complete UTF-8 prefix of raw to held (invalid bytes become
 * U+FFFD); with `flush`, an unfinished tail becomes U+FFFD too. */
static int settle_utf8(text_stream *ts, int flush) {
    size_t i = 0;
    while (i < ts->n_raw) {
        int len = utf8_sequence((const unsigned char *)ts->raw + i, ts->n_raw - i);
        if (len == 0 && !flush) break;
        const char *src = len > 0 ? ts->raw + i : "\xEF\xBF\xBD";
        size_t n = len > 0 ? (size_t)len : 3;
        if (!grow(&ts->held, &ts->cap_held, ts->n_held + n)) return 0;
        memcpy(ts->held + ts->n_held, src, n);
        ts->n_held += n;
        i += len > 0 ? (size_t)len : 1;
    }
    memmove(ts->raw, ts->raw + i, ts->n_raw - i);
    ts->n_raw -= i;
    return 1;
}

/* Where the first stop string starts in held, or -1. */
static int64_t find_stop(const text_stream *ts, const bibim_generate_params *p) {
    int64_t best = -1;
    for (size_t s = 0; s < p->n_stop; s++) {
        size_t n = strlen(p->stop[s]);
        if (!n || n > ts->n_held) continue;
        for (size_t i = 0; i + n <= ts->n_held; i++) {
            if (!memcmp(ts->held + i, p->stop[s], n)) {
                if (best < 0 || (int64_t)i < best) best = (int64_t)i;
                break;
            }
        }
    }
    return best;
}

/* Bytes at the end of held that could begin a stop string. */
static size_t stop_prefix_len(const text_stream *ts, const bibim_generate_params *p) {
    size_t longest = 0;
    for (size_t s = 0; s < p->n_stop; s++) {
        size_t n = strlen(p->stop[s]);
        for (size_t k = n > 1 ? n - 1 : 0; k > longest; k--)
            if (k <= ts->n_held && !memcmp(ts->held + ts->n_held - k, p->stop[s], k)) {
                longest = k;
                break;
            }
    }
    return longest;
}

/* Sends what can be sent. Returns 1 if the callback asked to stop. */
static int emit(text_stream *ts, const bibim_generate_params *p, bibim_token token, size_t n) {
    int stop = p->on_token ? p->on_token(p->user, token, ts->held, n) != 0 : 0;
    memmove(ts->held, ts->held + n, ts->n_held - n);
    ts->n_held -= n;
    return stop;
}

typedef struct generation {
    bibim_context *ctx;
    bibim_sampler *sampler;
    const bibim_generate_params *params;
    bibim_generate_result *result;
    text_stream text;
} generation;

/* Handles one generated token's text; returns 1 when generation must stop. */
static int on_text(generation *g, bibim_token token, const char *piece, size_t n, int last) {
    text_stream *ts = &g->text;
    if (!grow(&ts->raw, &ts->cap_raw, ts->n_raw + n + 1)) return 1;
    memcpy(ts->raw + ts->n_raw, piece, n);
    ts->n_raw += n;
    if (!settle_utf8(ts, last)) return 1;
    int64_t at = find_stop(ts, g->params);
    if (at >= 0) {
        g->result->stop_reason = BIBIM_STOP_STRING;
        emit(ts, g->params, token, (size_t)at);
        return 1;
    }
    size_t keep = last ? 0 : stop_prefix_len(ts, g->params);
    if (emit(ts, g->params, token, ts->n_held - keep)) {
        g->result->stop_reason = BIBIM_STOP_CALLBACK;
        return 1;
    }
    return 0;
}

static bibim_status generate_loop(generation *g) {
    bibim_context *ctx = g->ctx;
    const bibim_model *m = ctx->model;
    const bibim_generate_params *p = g->params;
    char piece[256];
    bibim_token token = -1;
    for (;;) {
        if (p->n_predict >= 0 && g->result->n_generated >= p->n_predict) {
            g->result->stop_reason = BIBIM_STOP_LENGTH;
            break;
        }
        token = bibim_sampler_sample(g->sampler, bibim_context_logits(ctx));
        bibim_sampler_accept(g->sampler, token);
        g->result->n_generated++;
        if (bibim_token_is_end(m, token)) {
            g->result->stop_reason = BIBIM_STOP_END_TOKEN;
            break;
        }
        int64_t n = bibim_token_piece(m, token, p->piece_flags, piece, sizeof piece);
        if (n < 0 || n > (int64_t)sizeof piece) n = 0; /* no real piece is that long */
        if (on_text(g, token, piece, (size_t)n, 0)) return BIBIM_OK;
        if (bibim_context_n_past(ctx) >= ctx->n_ctx) {
            g->result->stop_reason = BIBIM_STOP_CONTEXT_FULL;
            break;
        }
        bibim_status st = bibim_context_eval(ctx, &token, 1, NULL);
        if (st != BIBIM_OK) return st;
    }
    on_text(g, token, "", 0, 1); /* flush held text: it did not become a stop string */
    return BIBIM_OK;
}

bibim_status bibim_generate(bibim_context *ctx, bibim_sampler *sampler, const bibim_token *prompt, int64_t n_prompt,
                            const bibim_generate_params *params, bibim_generate_result *result) {
    bibim_generate_params defaults = bibim_generate_default_params();
    const bibim_generate_params *p = params ? params : &defaults;
    bibim_generate_result local;
    bibim_generate_result *res = result ? result : &local;
    memset(res, 0, sizeof *res);
    if (!ctx || !sampler || n_prompt < 0 || (n_prompt && !prompt) || (p->n_stop && !p->stop))
        return BIBIM_ERR_INVALID_ARG;
    double t0 = now_seconds();
    if (n_prompt > 0) {
        bibim_status st = bibim_context_eval(ctx, prompt, n_prompt, NULL);
        if (st != BIBIM_OK) return st;
        for (int64_t i = 0; i < n_prompt; i++) bibim_sampler_accept(sampler, prompt[i]);
    } else if (!bibim_context_logits(ctx)) {
        snprintf(ctx->errmsg, sizeof ctx->errmsg, "nothing to continue from: the prompt is empty");
        return BIBIM_ERR_INVALID_ARG;
    }
    res->n_prompt = n_prompt;
    double t1 = now_seconds();
    res->prompt_seconds = t1 - t0;
    generation g = {ctx, sampler, p, res, {0}};
    bibim_status st = generate_loop(&g);
    res->gen_seconds = now_seconds() - t1;
    free(g.text.raw);
    free(g.text.held);
    return st;
}
