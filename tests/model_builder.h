/* model_builder.h — writes small random Llama models with the GGUF writer,
 * optionally spoiled in one way, for tests that need models of odd shapes
 * (test_forward.c) or broken ones (test_model_errors.c). Include after
 * harness.h. */
#ifndef BIBIM_TEST_MODEL_BUILDER_H
#define BIBIM_TEST_MODEL_BUILDER_H

#include "bibim.h"
#include "harness.h"

typedef struct shape {
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_rot;
    float theta, eps;
    int tied, rope_factors;
} shape;

/* Ways to spoil a model, for the error tests. Zero fields change nothing. */
typedef struct model_edit {
    const char *drop_key;     /* leave this key out */
    const char *drop_tensor;  /* leave this tensor out */
    const char *grow_tensor;  /* declare this tensor with one row (or element) too many */
    const char *arch;         /* general.architecture, default "llama" */
    const char *tokenizer;    /* tokenizer.ggml.model, default "llama" */
    int head_count;           /* llama.attention.head_count instead of the shape's, if non-zero */
    int head_count_kv;        /* same for head_count_kv; -1 writes 0 */
    int expert_count;         /* writes llama.expert_count if non-zero */
} model_edit;

/* ---- a tiny deterministic generator ---- */

static uint64_t rng_state;
static double rnd(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

typedef struct weights {
    float *embd, *out, *out_norm, *factors;
    float *attn_norm[4], *wq[4], *wk[4], *wv[4], *wo[4], *ffn_norm[4], *gate[4], *up[4], *down[4];
} weights;

static float *rand_matrix(int64_t n, double scale) {
    float *m = malloc((size_t)n * sizeof *m);
    for (int64_t i = 0; i < n; i++) m[i] = (float)(rnd() * scale);
    return m;
}

static float *norm_vector(int64_t n) {
    float *m = malloc((size_t)n * sizeof *m);
    for (int64_t i = 0; i < n; i++) m[i] = (float)(1.0 + 0.2 * rnd());
    return m;
}

static void make_weights(const shape *s, weights *w) {
    int hd = s->n_embd / s->n_head, kv = s->n_head_kv * hd;
    w->embd = rand_matrix((int64_t)s->n_vocab * s->n_embd, 1.0);
    w->out = s->tied ? NULL : rand_matrix((int64_t)s->n_vocab * s->n_embd, 0.3);
    w->out_norm = norm_vector(s->n_embd);
    w->factors = s->rope_factors ? norm_vector(s->n_rot / 2) : NULL;
    for (int l = 0; l < s->n_layer; l++) {
        w->attn_norm[l] = norm_vector(s->n_embd);
        w->wq[l] = rand_matrix((int64_t)s->n_embd * s->n_embd, 0.3);
        w->wk[l] = rand_matrix((int64_t)s->n_embd * kv, 0.3);
        w->wv[l] = rand_matrix((int64_t)s->n_embd * kv, 0.3);
        w->wo[l] = rand_matrix((int64_t)s->n_embd * s->n_embd, 0.3);
        w->ffn_norm[l] = norm_vector(s->n_embd);
        w->gate[l] = rand_matrix((int64_t)s->n_embd * s->n_ff, 0.3);
        w->up[l] = rand_matrix((int64_t)s->n_embd * s->n_ff, 0.3);
        w->down[l] = rand_matrix((int64_t)s->n_ff * s->n_embd, 0.3);
    }
}

static void free_weights(const shape *s, weights *w) {
    free(w->embd), free(w->out), free(w->out_norm), free(w->factors);
    for (int l = 0; l < s->n_layer; l++) {
        free(w->attn_norm[l]), free(w->wq[l]), free(w->wk[l]), free(w->wv[l]), free(w->wo[l]);
        free(w->ffn_norm[l]), free(w->gate[l]), free(w->up[l]), free(w->down[l]);
    }
}

/* ---- writing the model ---- */

static const model_edit *current_edit;

static int is(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static void add(bibim_gguf_writer *g, const char *name, int64_t ne0, int64_t ne1) {
    if (current_edit && is(current_edit->drop_tensor, name)) return;
    if (current_edit && is(current_edit->grow_tensor, name)) (ne1 ? ne1++ : ne0++);
    int64_t ne[2] = {ne0, ne1};
    CHECK(bibim_gguf_writer_add_tensor(g, name, BIBIM_TYPE_F32, ne1 ? 2 : 1, ne) == BIBIM_OK);
}

/* Writes tensor `name`'s data, following what add() declared for it. */
static void put(bibim_gguf_writer *g, const char *name, const float *data, int64_t n, int64_t row) {
    if (current_edit && is(current_edit->drop_tensor, name)) return;
    if (current_edit && is(current_edit->grow_tensor, name)) {
        float *bigger = calloc((size_t)(n + row), sizeof *bigger);
        memcpy(bigger, data, (size_t)n * sizeof *data);
        CHECK(bibim_gguf_writer_write_tensor(g, bigger, (uint64_t)(n + row) * 4) == BIBIM_OK);
        free(bigger);
        return;
    }
    CHECK(bibim_gguf_writer_write_tensor(g, data, (uint64_t)n * 4) == BIBIM_OK);
}

static void write_vocab(bibim_gguf_writer *g, int n_vocab, const char *model) {
    bibim_str *tokens = malloc((size_t)n_vocab * sizeof *tokens);
    char(*text)[16] = malloc((size_t)n_vocab * 16);
    float *scores = malloc((size_t)n_vocab * sizeof *scores);
    int32_t *types = malloc((size_t)n_vocab * sizeof *types);
    for (int i = 0; i < n_vocab; i++) {
        snprintf(text[i], 16, i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t%d", i);
        tokens[i] = (bibim_str){text[i], strlen(text[i])};
        scores[i] = (float)-i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    bibim_gguf_writer_set_str(g, "tokenizer.ggml.model", model);
    bibim_gguf_writer_set_arr_str(g, "tokenizer.ggml.tokens", tokens, (uint64_t)n_vocab);
    bibim_gguf_writer_set_arr(g, "tokenizer.ggml.scores", BIBIM_GGUF_FLOAT32, scores, (uint64_t)n_vocab);
    bibim_gguf_writer_set_arr(g, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, types, (uint64_t)n_vocab);
    bibim_gguf_writer_set_u32(g, "tokenizer.ggml.bos_token_id", 1);
    bibim_gguf_writer_set_u32(g, "tokenizer.ggml.eos_token_id", 2);
    free(tokens), free(text), free(scores), free(types);
}

/* Sets key `key` unless the edit drops it. */
#define SET(kind, key, value)                                                  \
    do {                                                                       \
        if (!(current_edit && is(current_edit->drop_key, key)))                \
            bibim_gguf_writer_set_##kind(g, key, value);                       \
    } while (0)

static void write_hparams(bibim_gguf_writer *g, const shape *s, const model_edit *e) {
    SET(str, "general.architecture", e && e->arch ? e->arch : "llama");
    SET(u32, "llama.context_length", 64);
    SET(u32, "llama.embedding_length", (uint32_t)s->n_embd);
    SET(u32, "llama.block_count", (uint32_t)s->n_layer);
    SET(u32, "llama.feed_forward_length", (uint32_t)s->n_ff);
    SET(u32, "llama.attention.head_count", (uint32_t)(e && e->head_count ? e->head_count : s->n_head));
    SET(u32, "llama.attention.head_count_kv",
        (uint32_t)(e && e->head_count_kv ? (e->head_count_kv < 0 ? 0 : e->head_count_kv) : s->n_head_kv));
    SET(u32, "llama.rope.dimension_count", (uint32_t)s->n_rot);
    SET(f32, "llama.rope.freq_base", s->theta);
    SET(f32, "llama.attention.layer_norm_rms_epsilon", s->eps);
    if (e && e->expert_count) SET(u32, "llama.expert_count", (uint32_t)e->expert_count);
}

/* Writes a Llama GGUF of shape s with weights w at path, spoiled by `edit`
 * (NULL for a good model). Returns 1 if the file was written. */
static int write_model(const shape *s, const weights *w, const char *path, const model_edit *edit) {
    int hd = s->n_embd / s->n_head, kv = s->n_head_kv * hd;
    int64_t d = s->n_embd;
    bibim_gguf_writer *g = NULL;
    current_edit = edit;
    CHECK(bibim_gguf_writer_create(&g) == BIBIM_OK);
    write_hparams(g, s, edit);
    write_vocab(g, s->n_vocab, edit && edit->tokenizer ? edit->tokenizer : "llama");
    char name[64];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix ".weight", l), name)
    add(g, "token_embd.weight", d, s->n_vocab);
    if (s->rope_factors) add(g, "rope_freqs.weight", s->n_rot / 2, 0);
    for (int l = 0; l < s->n_layer; l++) {
        add(g, LAYER_NAME("attn_norm"), d, 0);
        add(g, LAYER_NAME("attn_q"), d, d);
        add(g, LAYER_NAME("attn_k"), d, kv);
        add(g, LAYER_NAME("attn_v"), d, kv);
        add(g, LAYER_NAME("attn_output"), d, d);
        add(g, LAYER_NAME("ffn_norm"), d, 0);
        add(g, LAYER_NAME("ffn_gate"), d, s->n_ff);
        add(g, LAYER_NAME("ffn_up"), d, s->n_ff);
        add(g, LAYER_NAME("ffn_down"), s->n_ff, d);
    }
    add(g, "output_norm.weight", d, 0);
    if (!s->tied) add(g, "output.weight", d, s->n_vocab);
    CHECK(bibim_gguf_writer_begin(g, path) == BIBIM_OK);
    put(g, "token_embd.weight", w->embd, d * s->n_vocab, d);
    if (s->rope_factors) put(g, "rope_freqs.weight", w->factors, s->n_rot / 2, 1);
    for (int l = 0; l < s->n_layer; l++) {
        put(g, LAYER_NAME("attn_norm"), w->attn_norm[l], d, 1);
        put(g, LAYER_NAME("attn_q"), w->wq[l], d * d, d);
        put(g, LAYER_NAME("attn_k"), w->wk[l], d * kv, d);
        put(g, LAYER_NAME("attn_v"), w->wv[l], d * kv, d);
        put(g, LAYER_NAME("attn_output"), w->wo[l], d * d, d);
        put(g, LAYER_NAME("ffn_norm"), w->ffn_norm[l], d, 1);
        put(g, LAYER_NAME("ffn_gate"), w->gate[l], d * s->n_ff, d);
        put(g, LAYER_NAME("ffn_up"), w->up[l], d * s->n_ff, d);
        put(g, LAYER_NAME("ffn_down"), w->down[l], s->n_ff * d, s->n_ff);
    }
#undef LAYER_NAME
    put(g, "output_norm.weight", w->out_norm, d, 1);
    if (!s->tied) put(g, "output.weight", w->out, d * s->n_vocab, d);
    bibim_status st = bibim_gguf_writer_finish(g);
    CHECKF(st == BIBIM_OK, "%s", bibim_gguf_writer_errmsg(g));
    bibim_gguf_writer_free(g);
    current_edit = NULL;
    return st == BIBIM_OK;
}
#undef SET

#endif
