/* context.c — creating contexts and evaluating tokens into the KV caches of
 * their sequence slots. */
#include "context.h"
#include "checked.h"
#include "kernels.h"
#include "mem.h"
#include "vec_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_N_CTX_CAP = 4096, DEFAULT_N_BATCH = 512, MAX_N_SEQ = 1024 };

bibim_context_params bibim_context_default_params(void) {
    bibim_context_params p = {.n_ctx = 0, .n_threads = 0, .n_batch = 0, .n_seq = 1};
    return p;
}

static bibim_status context_fail(bibim_context *c, bibim_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bibim_status context_fail(bibim_context *c, bibim_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *bibim_context_errmsg(const bibim_context *c) { return c ? c->errmsg : "no context"; }
uint32_t bibim_context_n_ctx(const bibim_context *c) { return c->n_ctx; }
uint32_t bibim_context_n_batch(const bibim_context *c) { return c->n_batch; }
uint32_t bibim_context_n_seq(const bibim_context *c) { return c->n_seq; }
uint32_t bibim_context_n_past(const bibim_context *c) { return c->n_past ? c->n_past[0] : 0; }
const char *bibim_context_cpu_level(const bibim_context *c) { return cpu_level_name(c->cpu); }
const float *bibim_context_logits(const bibim_context *c) { return c->has_logits ? c->logits : NULL; }

int64_t bibim_context_seq_n_past(const bibim_context *c, int32_t seq) {
    if (!c || !c->n_past || seq < 0 || (uint32_t)seq >= c->n_seq) return -1;
    return c->n_past[seq];
}

static void free_scratch(const bibim_allocator *a, forward_scratch *s) {
    void *plain[] = {s->x, s->xb, s->q, s->k, s->v, s->att, s->gate, s->up, s->out, s->scores, s->v_lanes,
                     s->seq, s->pos, s->rows};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) mem_free(a, plain[i]);
    mem_aligned_free(a, s->act);
    mem_aligned_free(a, s->q16);
    mem_aligned_free(a, s->pack_buf);
}

void bibim_context_free(bibim_context *c) {
    if (!c) return;
    const bibim_allocator *a = &c->alloc;
    threadpool_free(c->pool);
    mem_free(a, c->kv.k);
    mem_free(a, c->kv.v);
    free_scratch(a, &c->s);
    mem_free(a, c->logits);
    mem_free(a, c->n_past);
    mem_free(a, c->batch_count);
    bibim_allocator copy = *a; /* it lives in the block being freed */
    mem_free(&copy, c);
}

static void *alloc_floats(const bibim_context *c, int64_t n) {
    if (n > 0 && (uint64_t)n > SIZE_MAX / sizeof(float)) return NULL; /* a 32-bit size_t */
    return mem_alloc_n(&c->alloc, (size_t)(n > 0 ? n : 1), sizeof(float));
}

/* Bytes of a packed group of `w` if forward.c packs it per product, else 0. */
static size_t repack_bytes(const bibim_context *c, const matrix *w) {
    const packed_layout *layout = forward_repack_layout(c, w);
    return layout ? layout->packed_size(PACK_ROWS, w->n_in) : 0;
}

/* The largest of them over the model's matrices, rounded up to 64. */
static size_t repack_group_bytes(const bibim_context *c) {
    const bibim_model *m = c->model;
    size_t widest = repack_bytes(c, &m->output);
    for (int l = 0; l < m->hp.n_layer; l++) {
        const layer_weights *w = &m->layers[l];
        const matrix *ms[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            if (repack_bytes(c, ms[i]) > widest) widest = repack_bytes(c, ms[i]);
    }
    return (widest + 63) & ~(size_t)63;
}

/* Bytes of the widest activation row any matrix of the model needs (its
 * input length in its kernel's activation type), rounded up to 64. */
static size_t act_row_bytes(const bibim_context *c) {
    const bibim_model *m = c->model;
    int64_t widest = bibim_type_row_bytes(dot_kernel_at(m->output.type, c->cpu)->act_type, m->output.n_in);
    for (int l = 0; l < m->hp.n_layer; l++) {
        const layer_weights *w = &m->layers[l];
        const matrix *ms[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
            int64_t bytes = bibim_type_row_bytes(dot_kernel_at(ms[i]->type, c->cpu)->act_type, ms[i]->n_in);
            if (bytes > widest) widest = bytes;
        }
    }
    return ((size_t)widest + 63) & ~(size_t)63;
}

/* The KV caches: n_seq slots of n_layer x n_ctx x kv_dim F16 keys and as
 * many values. */
static bibim_status alloc_kv(bibim_context *c) {
    const llama_hparams *hp = &c->model->hp;
    c->kv.kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    uint64_t elems = 0, bytes = 0;
    if (!checked_mul_u64((uint64_t)c->n_seq * (uint64_t)hp->n_layer, c->n_ctx, &elems) ||
        !checked_mul_u64(elems, (uint64_t)c->kv.kv_dim, &elems) || !checked_mul_u64(elems, 2 * sizeof(uint16_t), &bytes) ||
        bytes > SIZE_MAX / 2)
        return context_fail(c, BIBIM_ERR_NOMEM, "a KV cache of %u slots x %u tokens does not fit in memory", c->n_seq,
                            c->n_ctx);
    c->kv.k = mem_alloc_n(&c->alloc, (size_t)elems, sizeof(uint16_t));
    c->kv.v = mem_alloc_n(&c->alloc, (size_t)elems, sizeof(uint16_t));
    if (!c->kv.k || !c->kv.v)
        return context_fail(c, BIBIM_ERR_NOMEM, "out of memory for a KV cache of %u slots x %u tokens (%.1f MiB)",
                            c->n_seq, c->n_ctx, (double)bytes / (1 << 20));
    return BIBIM_OK;
}

static bibim_status alloc_scratch(bibim_context *c) {
    const llama_hparams *hp = &c->model->hp;
    forward_scratch *s = &c->s;
    int64_t nb = c->n_batch, q_dim = (int64_t)hp->n_head * hp->head_dim;
    int n_threads = threadpool_n_threads(c->pool);
    const bibim_allocator *a = &c->alloc;
    s->x = alloc_floats(c, nb * hp->n_embd);
    s->xb = alloc_floats(c, nb * hp->n_embd);
    s->q = alloc_floats(c, nb * q_dim);
    s->k = alloc_floats(c, nb * c->kv.kv_dim);
    s->v = alloc_floats(c, nb * c->kv.kv_dim);
    s->att = alloc_floats(c, nb * q_dim);
    s->gate = alloc_floats(c, nb * hp->n_ff);
    s->up = alloc_floats(c, nb * hp->n_ff);
    s->out = alloc_floats(c, nb * hp->n_embd);
    s->act_row_stride = act_row_bytes(c);
    /* Activation rows start on 64-byte boundaries: SIMD kernels may rely on it. */
    if (nb <= 0 || s->act_row_stride <= SIZE_MAX / (size_t)nb) /* a 32-bit size_t can wrap */
        s->act = mem_aligned_alloc(a, 64, s->act_row_stride * (size_t)nb);
    s->scores = alloc_floats(c, (int64_t)n_threads * c->n_ctx);
    s->v_lanes = alloc_floats(c, (int64_t)n_threads * 16 * hp->head_dim);
    s->q16_stride = ((size_t)hp->head_dim + 31) & ~(size_t)31; /* 64-byte aligned rows, as for act */
    s->q16 = mem_aligned_alloc(a, 64, (size_t)n_threads * s->q16_stride * sizeof(uint16_t));
    s->seq = mem_alloc_n(a, (size_t)nb, sizeof *s->seq);
    s->pos = mem_alloc_n(a, (size_t)nb, sizeof *s->pos);
    s->rows = mem_alloc_n(a, (size_t)nb, sizeof *s->rows);
    s->pack_stride = repack_group_bytes(c);
    /* Packed groups start on 64-byte boundaries, as the model's packed copies do. */
    if (s->pack_stride) s->pack_buf = mem_aligned_alloc(a, 64, (size_t)n_threads * s->pack_stride);
    c->logits = alloc_floats(c, hp->n_vocab);
    c->n_past = mem_calloc(a, c->n_seq, sizeof *c->n_past);
    c->batch_count = mem_calloc(a, c->n_seq, sizeof *c->batch_count);
    if (!s->x || !s->xb || !s->q || !s->k || !s->v || !s->att || !s->gate || !s->up || !s->out || !s->act ||
        !s->scores || !s->v_lanes || !s->q16 || !s->seq || !s->pos || !s->rows ||
        (s->pack_stride && !s->pack_buf) || !c->logits || !c->n_past ||
        !c->batch_count)
        return context_fail(c, BIBIM_ERR_NOMEM, "out of memory for the scratch of a batch of %u tokens", c->n_batch);
    return BIBIM_OK;
}

/* Every matrix needs a dot kernel; the model loader checked the types are known. */
static bibim_status check_kernels(bibim_context *c) {
    const bibim_model *model = c->model;
    for (int l = 0; l < model->hp.n_layer; l++) {
        const layer_weights *w = &model->layers[l];
        const matrix *ms[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            if (!dot_kernel_for(ms[i]->type))
                return context_fail(c, BIBIM_ERR_UNSUPPORTED, "layer %d: no kernel for weights of type %s", l,
                                    bibim_type_name(ms[i]->type));
    }
    if (!dot_kernel_for(model->output.type))
        return context_fail(c, BIBIM_ERR_UNSUPPORTED, "no kernel for output weights of type %s",
                            bibim_type_name(model->output.type));
    return BIBIM_OK;
}

/* n_ctx, n_seq and n_batch from the parameters and the model. */
static bibim_status set_sizes(bibim_context *c, const bibim_context_params *p) {
    const llama_hparams *hp = &c->model->hp;
    c->n_ctx = p->n_ctx ? p->n_ctx
                        : (uint32_t)(hp->n_ctx_train < DEFAULT_N_CTX_CAP ? hp->n_ctx_train : DEFAULT_N_CTX_CAP);
    if (c->n_ctx > (1u << 24))
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "n_ctx %u is larger than 16777216", c->n_ctx);
    c->n_seq = p->n_seq ? p->n_seq : 1;
    if (c->n_seq > MAX_N_SEQ)
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "n_seq is %u; it must be from 1 to %d", c->n_seq, MAX_N_SEQ);
    /* A batch never holds more tokens than all slots have positions. */
    uint64_t positions = (uint64_t)c->n_ctx * c->n_seq;
    c->n_batch = p->n_batch ? p->n_batch : DEFAULT_N_BATCH;
    if (c->n_batch > positions) c->n_batch = (uint32_t)positions;
    return BIBIM_OK;
}

bibim_status bibim_context_create(const bibim_model *model, const bibim_context_params *params,
                                  bibim_context **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    bibim_context_params defaults = bibim_context_default_params();
    const bibim_context_params *p = params ? params : &defaults;
    /* Without a model there is no allocator but libc's to report that with. */
    const bibim_allocator *a = model ? &model->alloc : &mem_libc;
    bibim_context *c = mem_calloc(a, 1, sizeof *c);
    *out = c;
    if (!c) return BIBIM_ERR_NOMEM;
    c->alloc = *a;
    if (!model) return context_fail(c, BIBIM_ERR_INVALID_ARG, "no model given");
    if (model->vocab_only)
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "the model was loaded with vocab_only: it has no weights");
    c->model = model;
    if (p->n_threads < 0 || p->n_threads > 1024)
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "n_threads is %d; it must be from 0 to 1024", p->n_threads);
    bibim_status st = set_sizes(c, p);
    if (st == BIBIM_OK) st = check_kernels(c);
    if (st != BIBIM_OK) return st;
    if (cpu_level_choose(&c->cpu, c->errmsg, sizeof c->errmsg) != BIBIM_OK) return BIBIM_ERR_INVALID_ARG;
    c->ops = vec_ops_at(c->cpu);
    int n_threads = p->n_threads ? p->n_threads : threadpool_physical_cores();
    c->pool = threadpool_create(n_threads, &c->alloc);
    if (!c->pool) return context_fail(c, BIBIM_ERR_NOMEM, "cannot start %d threads", n_threads);
    st = alloc_kv(c);
    if (st == BIBIM_OK) st = alloc_scratch(c);
    if (st != BIBIM_OK) {
        /* A handle that failed must not look usable to the eval calls. */
        threadpool_free(c->pool);
        c->pool = NULL;
    }
    return st;
}

/* ---- one sequence: slot 0 ---- */

/* One chunk of slot 0's tokens: the logits after every token into `all`
 * when it is not NULL, else those after the last one into c->logits when
 * `last` (the chunk ends the call). */
static void eval_chunk(bibim_context *c, const bibim_token *tokens, int64_t n, float *all, int last) {
    for (int64_t t = 0; t < n; t++) {
        c->s.seq[t] = 0;
        c->s.pos[t] = c->n_past[0] + t;
        c->s.rows[t] = all ? t : n - 1;
    }
    if (all) forward_batch(c, tokens, n, n, all);
    else forward_batch(c, tokens, n, last ? 1 : 0, c->logits);
    c->n_past[0] += (uint32_t)n;
}

bibim_status bibim_context_eval(bibim_context *c, const bibim_token *tokens, int64_t n, float *all_logits) {
    if (!c || !c->pool) return BIBIM_ERR_INVALID_ARG;
    if (n <= 0 || !tokens) return context_fail(c, BIBIM_ERR_INVALID_ARG, "no tokens to evaluate");
    if (n > (int64_t)(c->n_ctx - c->n_past[0]))
        return context_fail(c, BIBIM_ERR_CONTEXT_FULL,
                            "%lld tokens do not fit: the context holds %u of %u positions", (long long)n,
                            c->n_past[0], c->n_ctx);
    int32_t n_vocab = c->model->hp.n_vocab;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return context_fail(c, BIBIM_ERR_INVALID_ARG, "token %d at index %lld is out of range [0, %d)",
                                tokens[i], (long long)i, n_vocab);
    for (int64_t done = 0; done < n;) {
        int64_t chunk = n - done < c->n_batch ? n - done : c->n_batch;
        eval_chunk(c, tokens + done, chunk, all_logits ? all_logits + done * n_vocab : NULL, done + chunk == n);
        done += chunk;
    }
    if (all_logits) memcpy(c->logits, all_logits + (n - 1) * n_vocab, (size_t)n_vocab * sizeof(float));
    c->has_logits = 1;
    return BIBIM_OK;
}

bibim_status bibim_context_truncate(bibim_context *c, uint32_t n_keep) {
    return bibim_context_seq_truncate(c, 0, n_keep);
}

/* ---- sequence slots ---- */

static bibim_status check_slot(bibim_context *c, const char *what, int32_t seq) {
    if (seq < 0 || (uint32_t)seq >= c->n_seq)
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "%s slot %d is out of range: the context has %u slots (0 to %u)",
                            what, seq, c->n_seq, c->n_seq - 1);
    return BIBIM_OK;
}

bibim_status bibim_context_seq_truncate(bibim_context *c, int32_t seq, uint32_t n_keep) {
    if (!c || !c->pool) return BIBIM_ERR_INVALID_ARG;
    bibim_status st = check_slot(c, "the", seq);
    if (st != BIBIM_OK) return st;
    if (n_keep > c->n_past[seq])
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "cannot keep %u positions: slot %d holds %u", n_keep, seq,
                            c->n_past[seq]);
    if (seq == 0 && n_keep < c->n_past[0]) c->has_logits = 0; /* the logits belonged to a forgotten token */
    c->n_past[seq] = n_keep;
    return BIBIM_OK;
}

bibim_status bibim_context_seq_copy(bibim_context *c, int32_t src, int32_t dst, uint32_t n) {
    if (!c || !c->pool) return BIBIM_ERR_INVALID_ARG;
    bibim_status st = check_slot(c, "source", src);
    if (st == BIBIM_OK) st = check_slot(c, "destination", dst);
    if (st != BIBIM_OK) return st;
    if (n > c->n_past[src])
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "cannot copy %u positions: source slot %d holds %u", n, src,
                            c->n_past[src]);
    if (src == dst) return bibim_context_seq_truncate(c, dst, n);
    size_t bytes = (size_t)n * (size_t)c->kv.kv_dim * sizeof(uint16_t);
    for (int l = 0; l < c->model->hp.n_layer; l++) {
        memcpy(c->kv.k + kv_offset(c, dst, l), c->kv.k + kv_offset(c, src, l), bytes);
        memcpy(c->kv.v + kv_offset(c, dst, l), c->kv.v + kv_offset(c, src, l), bytes);
    }
    c->n_past[dst] = n;
    if (dst == 0) c->has_logits = 0; /* slot 0's logits belonged to what it held */
    return BIBIM_OK;
}

/* ---- batches over several slots ---- */

/* The arrays and sizes of a batch. */
static bibim_status check_batch_shape(bibim_context *c, const bibim_batch *b) {
    if (!b) return context_fail(c, BIBIM_ERR_INVALID_ARG, "no batch given");
    if (!b->tokens || !b->seq)
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "the batch has no %s array", !b->tokens ? "tokens" : "seq");
    if (b->n_tokens < 1 || b->n_tokens > (int64_t)c->n_batch)
        return context_fail(c, BIBIM_ERR_INVALID_ARG, "a batch of %lld tokens: it must hold 1 to n_batch = %u",
                            (long long)b->n_tokens, c->n_batch);
    for (int64_t i = 0; b->want_logits && !b->logits && i < b->n_tokens; i++)
        if (b->want_logits[i])
            return context_fail(c, BIBIM_ERR_INVALID_ARG, "token %lld wants logits but the batch has no logits rows",
                                (long long)i);
    return BIBIM_OK;
}

/* Each token: its slot in range, its slot's run unbroken, its id in range.
 * Counts each slot's tokens into batch_count. */
static bibim_status check_batch_tokens(bibim_context *c, const bibim_batch *b) {
    int32_t n_vocab = c->model->hp.n_vocab;
    memset(c->batch_count, 0, c->n_seq * sizeof *c->batch_count);
    for (int64_t i = 0; i < b->n_tokens; i++) {
        int32_t s = b->seq[i];
        if (s < 0 || (uint32_t)s >= c->n_seq)
            return context_fail(c, BIBIM_ERR_INVALID_ARG,
                                "token %lld: slot %d is out of range: the context has %u slots (0 to %u)",
                                (long long)i, s, c->n_seq, c->n_seq - 1);
        if (i > 0 && b->seq[i - 1] != s && c->batch_count[s] > 0)
            return context_fail(c, BIBIM_ERR_INVALID_ARG,
                                "token %lld: slot %d appears again after other slots; a slot's tokens must be "
                                "consecutive in the batch", (long long)i, s);
        c->batch_count[s]++;
        if (b->tokens[i] < 0 || b->tokens[i] >= n_vocab)
            return context_fail(c, BIBIM_ERR_INVALID_ARG, "token %d at index %lld is out of range [0, %d)",
                                b->tokens[i], (long long)i, n_vocab);
    }
    return BIBIM_OK;
}

/* Every slot's tokens fit after what it holds. */
static bibim_status check_batch_fits(bibim_context *c) {
    for (uint32_t s = 0; s < c->n_seq; s++)
        if (c->batch_count[s] > c->n_ctx - c->n_past[s])
            return context_fail(c, BIBIM_ERR_CONTEXT_FULL,
                                "slot %u: %u tokens do not fit: it holds %u of %u positions", s, c->batch_count[s],
                                c->n_past[s], c->n_ctx);
    return BIBIM_OK;
}

/* Slot 0's logits after a batch: a copy of its last token's row if that
 * was wanted, else unknown; untouched if slot 0 had no tokens. */
static void keep_slot0_logits(bibim_context *c, const bibim_batch *b) {
    int64_t last = -1, row = -1, n_rows = 0;
    for (int64_t i = 0; i < b->n_tokens; i++) {
        int wanted = b->want_logits && b->want_logits[i];
        if (b->seq[i] == 0) last = i, row = wanted ? n_rows : -1;
        n_rows += wanted;
    }
    if (last < 0) return;
    c->has_logits = row >= 0;
    if (row >= 0) {
        size_t n_vocab = (size_t)c->model->hp.n_vocab;
        memcpy(c->logits, b->logits + (size_t)row * n_vocab, n_vocab * sizeof(float));
    }
}

bibim_status bibim_context_eval_batch(bibim_context *c, const bibim_batch *b) {
    if (!c || !c->pool) return BIBIM_ERR_INVALID_ARG;
    bibim_status st = check_batch_shape(c, b);
    if (st == BIBIM_OK) st = check_batch_tokens(c, b);
    if (st == BIBIM_OK) st = check_batch_fits(c);
    if (st != BIBIM_OK) return st;
    int64_t n_rows = 0;
    for (int64_t i = 0; i < b->n_tokens; i++) {
        c->s.seq[i] = b->seq[i];
        c->s.pos[i] = c->n_past[b->seq[i]]++;
        if (b->want_logits && b->want_logits[i]) c->s.rows[n_rows++] = i;
    }
    forward_batch(c, b->tokens, b->n_tokens, n_rows, b->logits);
    keep_slot0_logits(c, b);
    return BIBIM_OK;
}
