/* context.h — a context: one sequence's KV cache, the scratch buffers of the
 * forward pass, and the worker threads. */
#ifndef BIBIM_CONTEXT_H
#define BIBIM_CONTEXT_H

#include "kernels.h"
#include "model.h"
#include "threadpool.h"

/* Keys and values of every layer, stored as F16 like llama.cpp's default
 * cache: layer l, position p, dimension d of the kv_dim = n_head_kv *
 * head_dim values is at [(l * n_ctx + p) * kv_dim + d]. */
typedef struct kv_cache {
    uint16_t *k, *v;
    int64_t kv_dim;
} kv_cache;

/* Per-batch scratch, sized for n_batch tokens. */
typedef struct forward_scratch {
    float *x;        /* [n_batch][n_embd] the residual stream */
    float *xb;       /* [n_batch][n_embd] normed input of a sublayer */
    float *q;        /* [n_batch][n_head * head_dim] */
    float *k, *v;    /* [n_batch][kv_dim] before they go into the cache */
    float *att;      /* [n_batch][n_head * head_dim] attention output */
    float *gate, *up;/* [n_batch][n_ff] */
    float *out;      /* [n_batch][max(n_embd, ...)] a matmul's result before the residual add */
    void *act;       /* n_batch rows of activations in a dot kernel's type */
    size_t act_row_stride;
    float *scores;   /* [n_threads][n_ctx] attention scores per worker */
    float *v_lanes;  /* [n_threads][16][head_dim] partial sums of probabilities . V */
    uint16_t *q16;   /* [n_threads][q16_stride] a query rounded to F16 */
    size_t q16_stride;
    float *logits_x; /* [n_embd] the final normed state of the last token */
} forward_scratch;

struct bibim_context {
    const bibim_model *model;
    uint32_t n_ctx, n_batch, n_past;
    threadpool *pool;
    cpu_level cpu;   /* which kernels the matrix products use */
    const struct vec_ops *ops; /* the element-wise steps at that level */
    kv_cache kv;
    forward_scratch s;
    float *logits; /* [n_vocab] after the last evaluated token */
    int has_logits;
    char errmsg[512];
};

/* Runs the forward pass over n <= n_batch tokens at positions n_past..,
 * writes their K/V into the cache and the logits of the last token (and of
 * every token when all_logits is not NULL). The caller advances n_past. */
bibim_status forward_batch(bibim_context *ctx, const bibim_token *tokens, int64_t n, float *all_logits);

#endif
