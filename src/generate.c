/* generate.c — the generation loop: evaluate the prompt, then sample and
 * evaluate one token at a time; bibim_text_stream decides which text is
 * ready for the callback (complete UTF-8, not the start of a stop string). */
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

typedef struct generation {
    bibim_context *ctx;
    bibim_sampler *sampler;
    const bibim_generate_params *params;
    bibim_generate_result *result;
    bibim_text_stream *text;
} generation;

/* Passes released text to the callback; returns 1 if it asked to stop. */
static int emit(generation *g, bibim_token token, const char *text, size_t n) {
    const bibim_generate_params *p = g->params;
    if (p->on_token && p->on_token(p->user, token, text, n) != 0) {
        g->result->stop_reason = BIBIM_STOP_CALLBACK;
        return 1;
    }
    return 0;
}

static bibim_status generate_loop(generation *g) {
    bibim_context *ctx = g->ctx;
    const bibim_model *m = ctx->model;
    const bibim_generate_params *p = g->params;
    const char *text;
    size_t n;
    for (;;) {
        if (p->n_predict >= 0 && g->result->n_generated >= p->n_predict) {
            g->result->stop_reason = BIBIM_STOP_LENGTH;
            break;
        }
        bibim_token token = bibim_sampler_sample(g->sampler, bibim_context_logits(ctx));
        bibim_sampler_accept(g->sampler, token);
        g->result->n_generated++;
        if (bibim_token_is_end(m, token)) {
            g->result->stop_reason = BIBIM_STOP_END_TOKEN;
            break;
        }
        int stopped = 0;
        bibim_status st = bibim_text_stream_push(g->text, token, &text, &n, &stopped);
        if (st != BIBIM_OK) return st;
        if (emit(g, token, text, n)) return BIBIM_OK;
        if (stopped) {
            g->result->stop_reason = BIBIM_STOP_STRING;
            return BIBIM_OK;
        }
        if (bibim_context_n_past(ctx) >= ctx->n_ctx) {
            g->result->stop_reason = BIBIM_STOP_CONTEXT_FULL;
            break;
        }
        st = bibim_context_eval(ctx, &token, 1, NULL);
        if (st != BIBIM_OK) return st;
    }
    /* Held text that did not become a stop string (no new token: -1). */
    bibim_status st = bibim_text_stream_finish(g->text, &text, &n);
    if (st == BIBIM_OK && n) emit(g, -1, text, n);
    return st;
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
    generation g = {ctx, sampler, p, res, NULL};
    bibim_status st = bibim_text_stream_create(ctx->model, p->stop, p->n_stop, p->piece_flags, &g.text);
    if (st == BIBIM_OK) st = generate_loop(&g);
    if (st == BIBIM_ERR_NOMEM) snprintf(ctx->errmsg, sizeof ctx->errmsg, "out of memory for the generated text");
    res->gen_seconds = now_seconds() - t1;
    bibim_text_stream_free(g.text);
    return st;
}
