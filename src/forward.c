/* forward.c — the Llama forward pass over a batch of tokens.
 *
 * The arithmetic follows llama.cpp's CPU path step by step (F16 KV cache,
 * activations converted to each weight type's dot-product partner, RoPE
 * angles by repeated multiplication) so that logits agree with it closely;
 * see kernels.h for the matrix products. */
#include "context.h"
#include "fp16.h"
#include "kernels.h"
#include "vec_ops.h"

#include <math.h>
#include <string.h>

/* ---- matrix products: y[t][o] = W[o] . x[t] ----
 *
 * First the input rows are converted to the weight type's activation type
 * (prepare_acts), then every weight row meets every input row (matmul).
 * Products that share an input (q, k, v; gate, up) convert it once. */

typedef struct act_job {
    const dot_kernel *kernel;
    const float *x;
    int64_t x_stride, n_in;
    uint8_t *act;
    size_t act_stride;
} act_job;

static void quantize_act_task(void *arg, int64_t t, int thread) {
    (void)thread;
    const act_job *j = arg;
    j->kernel->quantize_act(j->x + t * j->x_stride, j->act + (size_t)t * j->act_stride, j->n_in);
}

/* Converts n_tokens rows of x (n_in floats each) for weights of `type`. */
static void prepare_acts(bibim_context *c, bibim_type type, const float *x, int64_t x_stride, int64_t n_in,
                         int64_t n_tokens) {
    act_job j = {dot_kernel_at(type, c->cpu), x, x_stride, n_in, c->s.act, c->s.act_row_stride};
    if (n_tokens == 1) quantize_act_task(&j, 0, 0); /* not worth waking the workers */
    else threadpool_run(c->pool, quantize_act_task, &j, n_tokens);
}

typedef struct matmul_job {
    const matrix *w;
    const dot_kernel *kernel;
    const uint8_t *act;
    size_t act_stride;
    float *y;
    int64_t y_stride;
    int64_t n_tokens;
    int64_t rows_per_task;
} matmul_job;

static void matmul_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const matmul_job *j = arg;
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > j->w->n_out) r1 = j->w->n_out;
    /* Each row meets every token while it is in cache. */
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)j->w->data + (size_t)r * j->w->row_bytes;
        for (int64_t t = 0; t < j->n_tokens; t++)
            j->kernel->dot(j->w->n_in, row, j->act + (size_t)t * j->act_stride, &j->y[t * j->y_stride + r]);
    }
}

/* Packed weights: a task is a run of 8-row groups, each multiplied with all
 * tokens at once. With pack_buf, the matrix is in file layout and each group
 * is packed first, into the calling thread's part of pack_buf. */
typedef struct packed_job {
    const matrix *w;
    packed_gemm_fn gemm;
    const packed_layout *layout; /* with pack_buf: packs each group first */
    size_t group_bytes;
    const uint8_t *act;
    size_t act_stride;
    float *y;
    int64_t y_stride, n_tokens, groups_per_task, n_groups;
    uint8_t *pack_buf;
    size_t pack_stride;
} packed_job;

static const uint8_t *packed_group(const packed_job *j, int64_t g, int thread) {
    if (!j->pack_buf) return (const uint8_t *)j->w->packed + (size_t)g * j->group_bytes;
    uint8_t *buf = j->pack_buf + (size_t)thread * j->pack_stride;
    const uint8_t *rows = (const uint8_t *)j->w->data + (size_t)(g * PACK_ROWS) * j->w->row_bytes;
    j->layout->pack(rows, j->w->row_bytes, PACK_ROWS, j->w->n_in, buf);
    return buf;
}

static void packed_task(void *arg, int64_t task, int thread) {
    const packed_job *j = arg;
    int64_t g1 = (task + 1) * j->groups_per_task < j->n_groups ? (task + 1) * j->groups_per_task : j->n_groups;
    for (int64_t g = task * j->groups_per_task; g < g1; g++)
        j->gemm(j->w->n_in, packed_group(j, g, thread), j->act, j->act_stride, j->n_tokens, j->y + g * PACK_ROWS,
                j->y_stride);
}

/* Multiply-adds below which a product runs on the calling thread alone:
 * waking the workers costs microseconds, and on a busy machine a worker that
 * is not running costs a scheduler time slice. Which thread computes a row
 * never changes its bits. */
enum { PARALLEL_MIN_WORK = 1 << 16 };

static int worth_threads(int64_t work) { return work >= PARALLEL_MIN_WORK; }

static void matmul_packed(bibim_context *c, const matrix *w, const packed_layout *layout, int repack, int64_t n_tokens,
                          float *y, int64_t y_stride) {
    packed_job j = {.w = w, .gemm = packed_gemm_at(w->type, c->cpu), .layout = layout,
                    .group_bytes = layout->packed_size(PACK_ROWS, w->n_in), .act = c->s.act,
                    .act_stride = c->s.act_row_stride, .y = y, .y_stride = y_stride, .n_tokens = n_tokens,
                    .n_groups = w->n_out / PACK_ROWS, .pack_buf = repack ? c->s.pack_buf : NULL,
                    .pack_stride = c->s.pack_stride};
    int64_t n_tasks = worth_threads(w->n_out * w->n_in * n_tokens) ? (int64_t)threadpool_n_threads(c->pool) * 8 : 1;
    j.groups_per_task = (j.n_groups + n_tasks - 1) / n_tasks;
    threadpool_run(c->pool, packed_task, &j, (j.n_groups + j.groups_per_task - 1) / j.groups_per_task);
}

/* Tokens from which a matrix left in file layout is packed group by group
 * for each product. On x86 the model packs every matrix that has a packed
 * layout at load (model.c), so this is for AArch64, where the model keeps
 * the file layout (the row kernels serve decoding) and Q4_0 products of 8
 * or more tokens (prompts, batches) pack on the fly: packing Q4_0 only
 * moves 4-byte words, each block's codes unpacked once serve 4 tokens, and
 * SMMLA does twice SDOT's work (not timed on hardware yet). The bits are
 * the row kernels' (kernels.h), so a token's logits do not depend on how
 * many share the product. */
enum { REPACK_MIN_TOKENS = 8 };

const packed_layout *forward_repack_layout(const bibim_context *c, const matrix *w) {
    if (w->packed || w->n_out % PACK_ROWS != 0 || w->type != BIBIM_TYPE_Q4_0) return NULL;
    if (c->cpu != CPU_LEVEL_DOTPROD && c->cpu != CPU_LEVEL_I8MM) return NULL;
    return packed_layout_for(w->type);
}

/* y = W x for the n_tokens rows prepared by prepare_acts. */
static void matmul(bibim_context *c, const matrix *w, int64_t n_tokens, float *y, int64_t y_stride) {
    const packed_layout *layout = w->packed ? packed_layout_for(w->type) : NULL;
    if (layout) {
        matmul_packed(c, w, layout, 0, n_tokens, y, y_stride);
        return;
    }
    layout = n_tokens >= REPACK_MIN_TOKENS && c->s.pack_buf ? forward_repack_layout(c, w) : NULL;
    if (layout && layout->packed_size(PACK_ROWS, w->n_in) <= c->s.pack_stride) {
        matmul_packed(c, w, layout, 1, n_tokens, y, y_stride);
        return;
    }
    matmul_job j = {.w = w, .kernel = dot_kernel_at(w->type, c->cpu), .act = c->s.act,
                    .act_stride = c->s.act_row_stride, .y = y, .y_stride = y_stride, .n_tokens = n_tokens};
    /* Enough tasks to balance the threads, few enough to keep overhead low. */
    int64_t n_tasks = worth_threads(w->n_out * w->n_in * n_tokens) ? (int64_t)threadpool_n_threads(c->pool) * 8 : 1;
    j.rows_per_task = (w->n_out + n_tasks - 1) / n_tasks;
    if (j.rows_per_task < 4) j.rows_per_task = 4;
    threadpool_run(c->pool, matmul_task, &j, (w->n_out + j.rows_per_task - 1) / j.rows_per_task);
}

/* Prepares x for `w` unless `after` (a product of the same input done just
 * before) left it in the same activation type. */
static void matmul_from(bibim_context *c, const matrix *w, const matrix *after, const float *x, int64_t x_stride,
                        int64_t n_tokens, float *y, int64_t y_stride) {
    if (!after || dot_kernel_at(after->type, c->cpu)->act_type != dot_kernel_at(w->type, c->cpu)->act_type)
        prepare_acts(c, w->type, x, x_stride, w->n_in, n_tokens);
    matmul(c, w, n_tokens, y, y_stride);
}

/* ---- element-wise steps ---- */

/* out = x / rms(x) * weight; the sum of squares in double as ggml does. */
static void rms_norm(const float *x, const float *weight, float *out, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float mean = (float)(sum / (double)n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * scale) * weight[i];
}

/* Rotates adjacent pairs (x[2i], x[2i+1]) of the first n_rot dimensions of
 * each head by pos * theta^(-2i/n_rot), divided by rope_factors[i] when the
 * model has them (llama3 scaling). The angle is built by repeated
 * multiplication, as ggml does, not by powf per pair. */
static void rope(float *vec, int n_heads, const llama_hparams *hp, const float *rope_factors, int64_t pos) {
    float cos_sin[2 * 512];
    int n_pairs = hp->n_rot / 2 < 512 ? hp->n_rot / 2 : 512;
    float theta_scale = powf(hp->rope_theta, -2.0f / (float)hp->n_rot);
    float theta = (float)pos;
    for (int i = 0; i < n_pairs; i++) {
        float ff = rope_factors ? rope_factors[i] : 1.0f;
        float angle = hp->rope_freq_scale * (theta / ff);
        cos_sin[2 * i] = cosf(angle);
        cos_sin[2 * i + 1] = sinf(angle);
        theta *= theta_scale;
    }
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (int64_t)h * hp->head_dim;
        for (int i = 0; i < n_pairs; i++) {
            float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * cos_sin[2 * i] - x1 * cos_sin[2 * i + 1];
            v[2 * i + 1] = x0 * cos_sin[2 * i + 1] + x1 * cos_sin[2 * i];
        }
    }
}

/* ---- attention over the cache ---- */

typedef struct attention_job {
    bibim_context *c;
    int layer;
    int64_t n_tokens;
} attention_job;

/* One (token, head): softmax(q . K^T / sqrt(d)) . V over positions 0..pos
 * of the token's own slot, so tokens of other sequences in the batch never
 * see each other. Like llama.cpp's F16 cache path, q and the probabilities
 * are rounded to F16 before they meet the F16 keys and values. */
static void attention_task(void *arg, int64_t task, int thread) {
    const attention_job *j = arg;
    bibim_context *c = j->c;
    const llama_hparams *hp = &c->model->hp;
    int64_t t = task / hp->n_head, h = task % hp->n_head;
    int64_t pos = c->s.pos[t], hd = hp->head_dim, kv_dim = c->kv.kv_dim;
    int64_t kv_head = h / (hp->n_head / hp->n_head_kv);
    const float *q = c->s.q + t * hp->n_head * hd + h * hd;
    uint16_t *q16 = c->s.q16 + (size_t)thread * c->s.q16_stride;
    float *scores = c->s.scores + (int64_t)thread * c->n_ctx;
    size_t base = kv_offset(c, c->s.seq[t], j->layer) + (size_t)(kv_head * hd);
    const uint16_t *keys = c->kv.k + base, *values = c->kv.v + base;
    float scale = 1.0f / sqrtf((float)hd);

    /* q . k is the F16 weight kernel's product: a row of F16 "weights" (the key)
     * times F16 activations (the query). */
    const dot_kernel *f16 = dot_kernel_at(BIBIM_TYPE_F16, c->cpu);
    f16->quantize_act(q, q16, hd);
    float max = -INFINITY;
    for (int64_t p = 0; p <= pos; p++) {
        float dot;
        f16->dot(hd, keys + p * kv_dim, q16, &dot);
        scores[p] = dot * scale;
        if (scores[p] > max) max = scores[p];
    }
    /* ggml_vec_soft_max_f32: its exp, groups of 16 positions summed by
     * halving and added in double; probabilities rounded to F16 for V. */
    const vec_ops *ops = c->ops;
    float inv_sum = (float)(1.0 / ops->softmax_exp(scores, pos + 1, max));
    ops->scale_round_f16(scores, pos + 1, inv_sum);
    /* probabilities . V as llama.cpp's batched path computes it: position p
     * goes to lane p % 16, then the lanes are summed by halving. */
    float *out = c->s.att + t * hp->n_head * hd + h * hd;
    float *lanes = c->s.v_lanes + (size_t)thread * 16 * (size_t)hd; /* [16][hd], read along the cache rows */
    memset(lanes, 0, 16 * (size_t)hd * sizeof *lanes);
    for (int64_t p = 0; p <= pos; p++) ops->axpy_f16(lanes + (p % 16) * hd, scores[p], values + p * kv_dim, hd);
    ops->reduce_lanes16(lanes, hd, out);
}

/* Each token's K and V go to its slot at its position. A batch holds no two
 * tokens of one (slot, position), so they never collide, and a token's
 * attention (run after all are stored) sees the earlier tokens of its slot
 * in this batch. */
static void store_kv(bibim_context *c, int layer, int64_t n_tokens) {
    int64_t kv_dim = c->kv.kv_dim;
    for (int64_t t = 0; t < n_tokens; t++) {
        size_t at = kv_offset(c, c->s.seq[t], layer) + (size_t)(c->s.pos[t] * kv_dim);
        for (int64_t d = 0; d < kv_dim; d++) {
            c->kv.k[at + (size_t)d] = fp32_to_fp16(c->s.k[t * kv_dim + d]);
            c->kv.v[at + (size_t)d] = fp32_to_fp16(c->s.v[t * kv_dim + d]);
        }
    }
}

/* ---- one layer ---- */

static void attention_block(bibim_context *c, int l, int64_t n) {
    const llama_hparams *hp = &c->model->hp;
    const layer_weights *w = &c->model->layers[l];
    forward_scratch *s = &c->s;
    int64_t d = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = c->kv.kv_dim;

    for (int64_t t = 0; t < n; t++) rms_norm(s->x + t * d, w->attn_norm, s->xb + t * d, d, hp->rms_eps);
    matmul_from(c, &w->wq, NULL, s->xb, d, n, s->q, q_dim);
    matmul_from(c, &w->wk, &w->wq, s->xb, d, n, s->k, kv_dim);
    matmul_from(c, &w->wv, &w->wk, s->xb, d, n, s->v, kv_dim);
    for (int64_t t = 0; t < n; t++) {
        rope(s->q + t * q_dim, hp->n_head, hp, c->model->rope_factors, s->pos[t]);
        rope(s->k + t * kv_dim, hp->n_head_kv, hp, c->model->rope_factors, s->pos[t]);
    }
    store_kv(c, l, n);
    attention_job job = {c, l, n};
    int64_t work = 0; /* scores and sums over each token's cache */
    for (int64_t t = 0; t < n; t++) work += 2 * q_dim * (s->pos[t] + 1);
    if (worth_threads(work)) threadpool_run(c->pool, attention_task, &job, n * hp->n_head);
    else
        for (int64_t t = 0; t < n * hp->n_head; t++) attention_task(&job, t, 0);
    matmul_from(c, &w->wo, NULL, s->att, q_dim, n, s->out, d);
    for (int64_t i = 0; i < n * d; i++) s->x[i] += s->out[i];
}

static void feed_forward_block(bibim_context *c, int l, int64_t n) {
    const llama_hparams *hp = &c->model->hp;
    const layer_weights *w = &c->model->layers[l];
    forward_scratch *s = &c->s;
    int64_t d = hp->n_embd, ff = hp->n_ff;

    for (int64_t t = 0; t < n; t++) rms_norm(s->x + t * d, w->ffn_norm, s->xb + t * d, d, hp->rms_eps);
    matmul_from(c, &w->w_gate, NULL, s->xb, d, n, s->gate, ff);
    matmul_from(c, &w->w_up, &w->w_gate, s->xb, d, n, s->up, ff);
    for (int64_t t = 0; t < n; t++) c->ops->silu_mul(s->gate + t * ff, s->up + t * ff, ff);
    matmul_from(c, &w->w_down, NULL, s->gate, ff, n, s->out, d);
    for (int64_t i = 0; i < n * d; i++) s->x[i] += s->out[i];
}

/* The logits after the tokens listed in s.rows: their final norms gathered
 * into consecutive rows, then one product with the output matrix. Every
 * matrix product gives each (row, token) the same bits whatever the other
 * tokens (kernels.h), so a token's logits do not depend on its company. */
static void output_logits(bibim_context *c, int64_t n_rows, float *logits) {
    const bibim_model *m = c->model;
    const llama_hparams *hp = &m->hp;
    forward_scratch *s = &c->s;
    int64_t d = hp->n_embd;
    for (int64_t i = 0; i < n_rows; i++) rms_norm(s->x + s->rows[i] * d, m->output_norm, s->xb + i * d, d, hp->rms_eps);
    matmul_from(c, &m->output, NULL, s->xb, d, n_rows, logits, hp->n_vocab);
}

void forward_batch(bibim_context *c, const bibim_token *tokens, int64_t n, int64_t n_rows, float *logits) {
    const bibim_model *m = c->model;
    const llama_hparams *hp = &m->hp;
    forward_scratch *s = &c->s;
    int64_t d = hp->n_embd;

    for (int64_t t = 0; t < n; t++) {
        const uint8_t *row = (const uint8_t *)m->token_embd.data + (size_t)tokens[t] * m->token_embd.row_bytes;
        bibim_dequantize_row(m->token_embd.type, row, s->x + t * d, d);
    }
    for (int l = 0; l < hp->n_layer; l++) {
        attention_block(c, l, n);
        feed_forward_block(c, l, n);
    }
    if (n_rows > 0) output_logits(c, n_rows, logits);
}
