/* context.h — a context: the KV caches of its sequence slots, the scratch
 * buffers of the forward pass, and the worker threads. */
#ifndef BIBIM_CONTEXT_H
#define BIBIM_CONTEXT_H

#include "kernels.h"
#include "model.h"
#include "threadpool.h"

/* Keys and values of every slot and layer, stored as F16 like llama.cpp's
 * default cache. Slot-major, so that one slot is one contiguous block and a
 * prefix copy is one memcpy per layer: slot s, layer l, position p,
 * dimension d of the kv_dim = n_head_kv * head_dim values is at
 * [((s * n_layer + l) * n_ctx + p) * kv_dim + d]. */
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
    int32_t *seq;    /* [n_batch] the slot of each token of the batch */
    int64_t *pos;    /* [n_batch] its position in that slot */
    int64_t *rows;   /* [n_batch] the batch indices whose logits are wanted */
    uint8_t *pack_buf; /* [n_threads][pack_stride] a group of rows packed for a product, or NULL */
    size_t pack_stride;
} forward_scratch;

struct bibim_context {
    bibim_allocator alloc; /* the model's */
    const bibim_model *model;
    uint32_t n_ctx, n_batch, n_seq;
    uint32_t *n_past; /* [n_seq] tokens in each slot's cache */
    uint32_t *batch_count; /* [n_seq] scratch: each slot's tokens in the batch being checked */
    threadpool *pool;
    cpu_level cpu;   /* which kernels the matrix products use */
    const struct vec_ops *ops; /* the element-wise steps at that level */
    kv_cache kv;
    forward_scratch s;
    float *logits; /* [n_vocab] after slot 0's last evaluated token */
    int has_logits;
    char errmsg[512];
};

/* The F16 keys (or values, with kv.v) of `seq`'s `layer` at position 0. */
static inline size_t kv_offset(const bibim_context *c, int32_t seq, int layer) {
    return ((size_t)seq * (size_t)c->model->hp.n_layer + (size_t)layer) * c->n_ctx * (size_t)c->kv.kv_dim;
}

/* The packed layout into which products of `w` over many tokens pack it
 * group by group (w is in file layout; see forward.c), or NULL. */
const packed_layout *forward_repack_layout(const bibim_context *ctx, const matrix *w);

/* Runs the forward pass over n <= n_batch tokens; token t goes to slot
 * s.seq[t] at position s.pos[t] (the caller fills both, and advances the
 * slots' n_past afterwards). Writes their K/V into the caches, and the
 * logits after each token listed in s.rows[0 .. n_rows-1] into
 * logits[i * n_vocab ..] for the i-th of them. */
void forward_batch(bibim_context *ctx, const bibim_token *tokens, int64_t n, int64_t n_rows, float *logits);

#endif
