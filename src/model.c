/* model.c — loading a Llama-architecture model from GGUF and checking that
 * every key and tensor the forward pass needs is there with the right type
 * and shape. Also the public token functions, which forward to the
 * tokenizer. */
#include "model.h"
#include "gguf_internal.h"
#include "kernels.h"
#include "mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

bibim_model_params bibim_model_default_params(void) {
    bibim_model_params p = {.use_mmap = 1, .use_mlock = 0, .vocab_only = 0, .allocator = NULL};
    return p;
}

static bibim_status model_fail(bibim_model *m, bibim_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bibim_status model_fail(bibim_model *m, bibim_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *bibim_model_errmsg(const bibim_model *model) { return model ? model->errmsg : "no model"; }

/* Weight matrix i of the model: 7 per layer, then the output matrix. */
static int n_matrices(const bibim_model *m) { return m->layers ? 7 * m->hp.n_layer + 1 : 0; }

static matrix *model_matrix(bibim_model *m, int i) {
    if (i == 7 * m->hp.n_layer) return &m->output;
    layer_weights *w = &m->layers[i / 7];
    matrix *ms[7] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
    return ms[i % 7];
}

void bibim_model_free(bibim_model *model) {
    if (!model) return;
    const bibim_allocator *a = &model->alloc;
    for (int i = 0; i < n_matrices(model); i++) mem_aligned_free(a, model_matrix(model, i)->packed);
    tokenizer_free(model->tok);
    bibim_gguf_free(model->gguf); /* before file_copy: it may point into it */
    mem_free(a, model->file_copy);
    mem_free(a, model->layers);
    mem_free(a, model->owned_floats);
    mem_free(a, model->chat_template);
    bibim_allocator copy = *a; /* it lives in the block being freed */
    mem_free(&copy, model);
}

/* Reads the whole file into memory (use_mmap = 0). */
static bibim_status read_whole_file(bibim_model *m, const char *path, uint64_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return model_fail(m, BIBIM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    bibim_status st = BIBIM_OK;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0) st = model_fail(m, BIBIM_ERR_IO, "%s: cannot find its size", path);
    if (st == BIBIM_OK && !(m->file_copy = mem_alloc(&m->alloc, (size_t)n)))
        st = model_fail(m, BIBIM_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, n);
    if (st == BIBIM_OK && (fseek(f, 0, SEEK_SET) != 0 || fread(m->file_copy, 1, (size_t)n, f) != (size_t)n))
        st = model_fail(m, BIBIM_ERR_IO, "%s: read failed", path);
    fclose(f);
    *size = (uint64_t)(n > 0 ? n : 0);
    return st;
}

/* ---- hyperparameters ---- */

typedef struct key_reader {
    bibim_model *m;
    const char *path;
    bibim_status st;
} key_reader;

/* An integer key "<arch>.<suffix>" in [min, max]; `fallback` when absent and
 * not required. */
static int32_t read_int(key_reader *r, const char *suffix, int required, int32_t fallback, int32_t min,
                        int32_t max) {
    if (r->st != BIBIM_OK) return fallback;
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->m->arch, suffix);
    int64_t v;
    bibim_status st = bibim_gguf_get_int(r->m->gguf, key, &v);
    if (st == BIBIM_ERR_NOT_FOUND && !required) return fallback;
    if (st == BIBIM_ERR_NOT_FOUND)
        r->st = model_fail(r->m, BIBIM_ERR_FORMAT, "%s: required key '%s' is missing", r->path, key);
    else if (st != BIBIM_OK)
        r->st = model_fail(r->m, BIBIM_ERR_FORMAT, "%s: %s", r->path, bibim_gguf_errmsg(r->m->gguf));
    else if (v < min || v > max)
        r->st = model_fail(r->m, BIBIM_ERR_FORMAT, "%s: key '%s' is %lld; it must be from %d to %d", r->path, key,
                           (long long)v, min, max);
    return r->st == BIBIM_OK ? (int32_t)v : fallback;
}

static float read_float(key_reader *r, const char *suffix, float fallback, float min, float max) {
    if (r->st != BIBIM_OK) return fallback;
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->m->arch, suffix);
    double v;
    bibim_status st = bibim_gguf_get_float(r->m->gguf, key, &v);
    if (st == BIBIM_ERR_NOT_FOUND) return fallback;
    if (st != BIBIM_OK)
        r->st = model_fail(r->m, BIBIM_ERR_FORMAT, "%s: %s", r->path, bibim_gguf_errmsg(r->m->gguf));
    else if (!(v >= min && v <= max))
        r->st = model_fail(r->m, BIBIM_ERR_FORMAT, "%s: key '%s.%s' is %g; it must be from %g to %g", r->path,
                           r->m->arch, suffix, v, (double)min, (double)max);
    return r->st == BIBIM_OK ? (float)v : fallback;
}

static bibim_status read_hparams(bibim_model *m, const char *path) {
    key_reader r = {m, path, BIBIM_OK};
    llama_hparams *hp = &m->hp;
    const int32_t big = 1 << 24;
    hp->n_ctx_train = read_int(&r, "context_length", 1, 0, 1, big);
    hp->n_embd = read_int(&r, "embedding_length", 1, 0, 1, big);
    hp->n_layer = read_int(&r, "block_count", 1, 0, 1, 10000);
    hp->n_ff = read_int(&r, "feed_forward_length", 1, 0, 1, big);
    hp->n_head = read_int(&r, "attention.head_count", 1, 0, 1, 65536);
    hp->n_head_kv = read_int(&r, "attention.head_count_kv", 0, hp->n_head, 1, 65536);
    int32_t n_expert = read_int(&r, "expert_count", 0, 0, 0, 1 << 20);
    if (r.st != BIBIM_OK) return r.st;
    if (n_expert > 0)
        return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: %s.expert_count is %d: mixture-of-experts models are not "
                          "supported", path, m->arch, n_expert);
    if (hp->n_head % hp->n_head_kv != 0)
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d",
                          path, m->arch, hp->n_head, hp->n_head_kv);
    int32_t head_dim = hp->n_embd % hp->n_head == 0 ? hp->n_embd / hp->n_head : 0;
    hp->head_dim = read_int(&r, "attention.key_length", 0, head_dim, 2, 65536);
    if (r.st == BIBIM_OK && hp->head_dim == 0)
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: %s.embedding_length %d is not a multiple of head_count %d",
                          path, m->arch, hp->n_embd, hp->n_head);
    if (r.st == BIBIM_OK && read_int(&r, "attention.value_length", 0, hp->head_dim, 1, 65536) != hp->head_dim)
        return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: value_length differs from key_length", path);
    if (r.st == BIBIM_OK && hp->head_dim > 1024)
        return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: heads of %d dimensions are not supported (at most 1024)",
                          path, hp->head_dim);
    hp->n_rot = read_int(&r, "rope.dimension_count", 0, hp->head_dim, 2, hp->head_dim);
    if (r.st == BIBIM_OK && hp->n_rot % 2)
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: %s.rope.dimension_count %d is odd", path, m->arch, hp->n_rot);
    hp->rope_theta = read_float(&r, "rope.freq_base", 10000.0f, 1.0f, 1e12f);
    hp->rms_eps = read_float(&r, "attention.layer_norm_rms_epsilon", 1e-5f, 0.0f, 1.0f);
    /* As llama.cpp: rope.scaling.factor (else the older rope.scale_linear)
     * divides positions whatever rope.scaling.type says, except "none";
     * YaRN and LongRoPE need more than a factor and are refused. */
    float linear = read_float(&r, "rope.scale_linear", 1.0f, 1e-6f, 1e6f);
    linear = read_float(&r, "rope.scaling.factor", linear, 0.0f, 1e6f);
    if (linear == 0.0f) linear = 1.0f;
    char key[128];
    bibim_str type;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch);
    if (r.st == BIBIM_OK && bibim_gguf_get_str(m->gguf, key, &type) == BIBIM_OK) {
        if (type.len == 4 && !memcmp(type.ptr, "none", 4)) linear = 1.0f;
        else if (!(type.len == 6 && !memcmp(type.ptr, "linear", 6)))
            return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: %s is '%.*s'; only linear rope scaling is supported",
                              path, key, (int)(type.len < 32 ? type.len : 32), type.ptr);
    }
    hp->rope_freq_scale = 1.0f / linear;
    return r.st;
}

/* ---- tensors ---- */

/* Finds tensor `name` and checks its shape against ne[0..n_dims). */
static bibim_status find_tensor(bibim_model *m, const char *path, const char *name, uint32_t n_dims,
                                const int64_t *ne, int required, bibim_tensor_info *out) {
    int64_t i = bibim_gguf_find_tensor(m->gguf, name);
    if (i < 0) {
        memset(out, 0, sizeof *out);
        return required ? model_fail(m, BIBIM_ERR_FORMAT, "%s: required tensor '%s' is missing", path, name)
                        : BIBIM_ERR_NOT_FOUND;
    }
    bibim_gguf_tensor(m->gguf, i, out);
    int ok = 1;
    for (uint32_t d = 0; d < 4; d++) ok &= out->ne[d] == (d < n_dims ? ne[d] : 1);
    if (!ok) {
        char want[96] = "", got[96] = "";
        for (uint32_t d = 0; d < n_dims; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)ne[d]);
        for (uint32_t d = 0; d < out->n_dims; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)out->ne[d]);
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%s]", path, name, got, want);
    }
    if (!bibim_type_is_supported(out->type))
        return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which bibim cannot compute with",
                          path, name, bibim_type_name(out->type));
    return BIBIM_OK;
}

static bibim_status load_matrix(bibim_model *m, const char *path, const char *name, int64_t n_in, int64_t n_out,
                                int required, matrix *w) {
    bibim_tensor_info t;
    int64_t ne[2] = {n_in, n_out};
    bibim_status st = find_tensor(m, path, name, 2, ne, required, &t);
    if (st != BIBIM_OK) return st;
    w->type = t.type;
    w->data = t.data;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = (size_t)bibim_type_row_bytes(t.type, n_in);
    return BIBIM_OK;
}

/* A 1-D float vector: F32 tensors are used in place (the data is aligned);
 * other types are converted into `scratch`, which must hold n floats. */
static bibim_status load_vector(bibim_model *m, const char *path, const char *name, int64_t n, float *scratch,
                                int required, const float **out) {
    bibim_tensor_info t;
    bibim_status st = find_tensor(m, path, name, 1, &n, required, &t);
    if (st != BIBIM_OK) return st;
    if (t.type == BIBIM_TYPE_F32) {
        *out = t.data;
        return BIBIM_OK;
    }
    if (bibim_dequantize_row(t.type, t.data, scratch, n) != BIBIM_OK)
        return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: tensor '%s' of type %s cannot be read as floats", path, name,
                          bibim_type_name(t.type));
    *out = scratch;
    return BIBIM_OK;
}

static bibim_status load_layer(bibim_model *m, const char *path, int i, float *scratch) {
    const llama_hparams *hp = &m->hp;
    layer_weights *l = &m->layers[i];
    int64_t q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    char name[96];
    bibim_status st = BIBIM_OK;
#define LAYER_TENSOR(suffix) (snprintf(name, sizeof name, "blk.%d." suffix ".weight", i), name)
    if (st == BIBIM_OK) st = load_vector(m, path, LAYER_TENSOR("attn_norm"), hp->n_embd, scratch, 1, &l->attn_norm);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("attn_q"), hp->n_embd, q_dim, 1, &l->wq);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("attn_k"), hp->n_embd, kv_dim, 1, &l->wk);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("attn_v"), hp->n_embd, kv_dim, 1, &l->wv);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("attn_output"), q_dim, hp->n_embd, 1, &l->wo);
    if (st == BIBIM_OK)
        st = load_vector(m, path, LAYER_TENSOR("ffn_norm"), hp->n_embd, scratch + hp->n_embd, 1, &l->ffn_norm);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("ffn_gate"), hp->n_embd, hp->n_ff, 1, &l->w_gate);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("ffn_up"), hp->n_embd, hp->n_ff, 1, &l->w_up);
    if (st == BIBIM_OK) st = load_matrix(m, path, LAYER_TENSOR("ffn_down"), hp->n_ff, hp->n_embd, 1, &l->w_down);
#undef LAYER_TENSOR
    return st;
}

static bibim_status load_tensors(bibim_model *m, const char *path) {
    llama_hparams *hp = &m->hp;
    int64_t tok_i = bibim_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (tok_i < 0) return model_fail(m, BIBIM_ERR_FORMAT, "%s: required tensor 'token_embd.weight' is missing", path);
    bibim_tensor_info t;
    bibim_gguf_tensor(m->gguf, tok_i, &t);
    if (t.n_dims != 2 || t.ne[1] > INT32_MAX)
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: tensor 'token_embd.weight' must have 2 dimensions", path);
    hp->n_vocab = (int32_t)t.ne[1];
    if (hp->n_vocab < tokenizer_n_vocab(m->tok))
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: token_embd.weight has %d rows but the vocabulary has %d tokens",
                          path, hp->n_vocab, tokenizer_n_vocab(m->tok));
    bibim_status st = load_matrix(m, path, "token_embd.weight", hp->n_embd, hp->n_vocab, 1, &m->token_embd);
    if (st == BIBIM_OK) {
        st = load_matrix(m, path, "output.weight", hp->n_embd, hp->n_vocab, 0, &m->output);
        if (st == BIBIM_ERR_NOT_FOUND) m->output = m->token_embd, st = BIBIM_OK; /* tied embeddings */
    }
    /* Norms not stored as F32 are converted here: 2 per layer plus the output norm. */
    /* (In 64 bits: with a 32-bit size_t the product can wrap.) */
    uint64_t n_floats = ((uint64_t)hp->n_layer * 2 + 1) * (uint64_t)hp->n_embd + (uint64_t)hp->n_rot / 2;
    m->owned_floats = n_floats <= SIZE_MAX ? mem_alloc_n(&m->alloc, (size_t)n_floats, sizeof(float)) : NULL;
    m->layers = mem_calloc(&m->alloc, (size_t)hp->n_layer, sizeof *m->layers);
    if (st == BIBIM_OK && (!m->owned_floats || !m->layers))
        st = model_fail(m, BIBIM_ERR_NOMEM, "%s: out of memory", path);
    float *scratch = m->owned_floats;
    if (st == BIBIM_OK) st = load_vector(m, path, "output_norm.weight", hp->n_embd, scratch, 1, &m->output_norm);
    scratch += hp->n_embd;
    if (st == BIBIM_OK) {
        int64_t n_freqs = hp->n_rot / 2;
        st = load_vector(m, path, "rope_freqs.weight", n_freqs, scratch, 0, &m->rope_factors);
        if (st == BIBIM_ERR_NOT_FOUND) m->rope_factors = NULL, st = BIBIM_OK;
        scratch += n_freqs;
    }
    for (int i = 0; i < hp->n_layer && st == BIBIM_OK; i++, scratch += 2 * hp->n_embd) st = load_layer(m, path, i, scratch);
    return st;
}

static void count_weights(bibim_model *m) {
    uint64_t by_type[64] = {0};
    for (int64_t i = 0; i < bibim_gguf_n_tensors(m->gguf); i++) {
        bibim_tensor_info t;
        bibim_gguf_tensor(m->gguf, i, &t);
        m->n_params += t.n_elems;
        m->n_bytes += t.n_bytes;
        if (t.n_dims >= 2 && (unsigned)t.type < 64) by_type[t.type] += t.n_elems;
    }
    uint32_t ft;
    if (bibim_gguf_get_u32(m->gguf, "general.file_type", &ft) == BIBIM_OK && bibim_ftype_name((bibim_ftype)ft)) {
        m->ftype = (bibim_ftype)ft;
        return;
    }
    /* No key: name the file after its most common matrix type. */
    static const struct { bibim_type type; bibim_ftype ftype; } guess[] = {
        {BIBIM_TYPE_F32, BIBIM_FTYPE_F32},   {BIBIM_TYPE_F16, BIBIM_FTYPE_F16},   {BIBIM_TYPE_BF16, BIBIM_FTYPE_BF16},
        {BIBIM_TYPE_Q8_0, BIBIM_FTYPE_Q8_0}, {BIBIM_TYPE_Q4_0, BIBIM_FTYPE_Q4_0}, {BIBIM_TYPE_Q4_1, BIBIM_FTYPE_Q4_1},
        {BIBIM_TYPE_Q5_0, BIBIM_FTYPE_Q5_0}, {BIBIM_TYPE_Q5_1, BIBIM_FTYPE_Q5_1}, {BIBIM_TYPE_Q2_K, BIBIM_FTYPE_Q2_K},
        {BIBIM_TYPE_Q3_K, BIBIM_FTYPE_Q3_K_M}, {BIBIM_TYPE_Q4_K, BIBIM_FTYPE_Q4_K_M},
        {BIBIM_TYPE_Q5_K, BIBIM_FTYPE_Q5_K_M}, {BIBIM_TYPE_Q6_K, BIBIM_FTYPE_Q6_K},
    };
    uint64_t best = 0;
    m->ftype = BIBIM_FTYPE_F32;
    for (size_t i = 0; i < sizeof guess / sizeof guess[0]; i++)
        if (by_type[guess[i].type] > best) best = by_type[guess[i].type], m->ftype = guess[i].ftype;
}

static bibim_status lock_weights(bibim_model *m, const char *path) {
    for (int64_t i = 0; i < bibim_gguf_n_tensors(m->gguf); i++) {
        bibim_tensor_info t;
        bibim_gguf_tensor(m->gguf, i, &t);
        if (t.n_bytes && mlock(t.data, t.n_bytes) != 0)
            return model_fail(m, BIBIM_ERR_IO, "%s: mlock of tensor %lld failed: %s (raise RLIMIT_MEMLOCK?)", path,
                              (long long)i, strerror(errno));
    }
    return BIBIM_OK;
}

static bibim_status open_file(bibim_model *m, const char *path, const bibim_model_params *p) {
    bibim_status st;
    if (p->use_mmap) {
        st = gguf_open_file(path, &m->alloc, &m->gguf);
    } else {
        uint64_t size = 0;
        st = read_whole_file(m, path, &size);
        if (st != BIBIM_OK) return st;
        st = gguf_open_buffer(m->file_copy, size, path, &m->alloc, &m->gguf);
    }
    if (st != BIBIM_OK) return model_fail(m, st, "%s", m->gguf ? bibim_gguf_errmsg(m->gguf) : "out of memory");
    return BIBIM_OK;
}

static bibim_status read_arch(bibim_model *m, const char *path) {
    bibim_str arch;
    bibim_status st = bibim_gguf_get_str(m->gguf, "general.architecture", &arch);
    if (st == BIBIM_ERR_NOT_FOUND)
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: required key 'general.architecture' is missing", path);
    if (st != BIBIM_OK) return model_fail(m, BIBIM_ERR_FORMAT, "%s: %s", path, bibim_gguf_errmsg(m->gguf));
    if (arch.len >= sizeof m->arch) arch.len = sizeof m->arch - 1;
    memcpy(m->arch, arch.ptr, arch.len);
    m->arch[arch.len] = 0;
    if (!m->vocab_only && strcmp(m->arch, "llama") != 0)
        return model_fail(m, BIBIM_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (supported: llama)",
                          path, m->arch);
    bibim_str name;
    if (bibim_gguf_get_str(m->gguf, "general.name", &name) == BIBIM_OK)
        snprintf(m->name, sizeof m->name, "%.*s", (int)(name.len < 127 ? name.len : 127), name.ptr);
    return BIBIM_OK;
}

/* Tells the kernel the mapped pages of [data, data + size) are not needed
 * any more, so a packed copy does not sit beside them in memory. */
static void release_mapped(const void *data, size_t size) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)data + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)data + size) & ~(uintptr_t)(page - 1);
    if (page > 0 && end > start) madvise((void *)start, end - start, MADV_DONTNEED);
}

/* Repacks the matrices whose type has packed kernels into 8-row groups
 * (see kernels.h). A tied output matrix is repacked too: its rows are also
 * read one by one as embeddings, from the mapping, where the few a prompt
 * needs fault back in after release (a private read-only mapping rereads
 * the file). Only CPUs with SIMD packed kernels (x86 with AVX2) repack:
 * elsewhere the row kernels are faster. */
enum { REPACK_CHUNK_ROWS = 8 * PACK_ROWS * 64 }; /* a multiple of PACK_ROWS */

static bibim_status repack_matrices(bibim_model *m, int release, const char *path) {
    if (!cpu_level_supported(CPU_LEVEL_AVX2)) return BIBIM_OK;
    for (int i = 0; i < n_matrices(m); i++) {
        matrix *w = model_matrix(m, i);
        const packed_layout *layout = packed_layout_for(w->type);
        if (!layout || w->n_out % PACK_ROWS != 0) continue;
        size_t size = layout->packed_size(w->n_out, w->n_in);
        w->packed = mem_aligned_alloc(&m->alloc, 64, size); /* kernels.h: groups start on cache lines */
        if (!w->packed) return model_fail(m, BIBIM_ERR_NOMEM, "%s: out of memory repacking weights", path);
        /* In chunks, each released once packed, so that the mapped rows and
         * their packed copy are never both in memory for a whole matrix
         * (the output matrix of a 1B model is over 200 MB). */
        for (int64_t r0 = 0; r0 < w->n_out; r0 += REPACK_CHUNK_ROWS) {
            const int64_t rows = w->n_out - r0 < REPACK_CHUNK_ROWS ? w->n_out - r0 : REPACK_CHUNK_ROWS;
            const uint8_t *src = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
            layout->pack(src, w->row_bytes, rows, w->n_in, (uint8_t *)w->packed + layout->packed_size(r0, w->n_in));
            if (release) release_mapped(src, w->row_bytes * (size_t)rows);
        }
    }
    return BIBIM_OK;
}

/* Keeps a NUL-terminated copy: GGUF strings are not terminated. A template
 * containing NUL could not be rendered as the file means it, so it is refused. */
static bibim_status read_chat_template(bibim_model *m, const char *path) {
    bibim_str t;
    bibim_status st = bibim_gguf_get_str(m->gguf, "tokenizer.chat_template", &t);
    if (st == BIBIM_ERR_NOT_FOUND) return BIBIM_OK;
    if (st != BIBIM_OK)
        return model_fail(m, st, "%s: tokenizer.chat_template: %s", path, bibim_gguf_errmsg(m->gguf));
    if (memchr(t.ptr, 0, t.len))
        return model_fail(m, BIBIM_ERR_FORMAT, "%s: tokenizer.chat_template contains a NUL byte", path);
    m->chat_template = t.len < SIZE_MAX ? mem_alloc(&m->alloc, (size_t)t.len + 1) : NULL;
    if (!m->chat_template) return model_fail(m, BIBIM_ERR_NOMEM, "%s: out of memory for the chat template", path);
    memcpy(m->chat_template, t.ptr, t.len);
    m->chat_template[t.len] = 0;
    return BIBIM_OK;
}

bibim_status bibim_model_load(const char *path, const bibim_model_params *params, bibim_model **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    bibim_model_params defaults = bibim_model_default_params();
    const bibim_model_params *p = params ? params : &defaults;
    bibim_allocator alloc;
    /* A half-set allocator cannot be used: libc's carries the message. */
    bibim_status st = mem_choose(p->allocator, &alloc);
    bibim_model *m = mem_calloc(&alloc, 1, sizeof *m);
    *out = m;
    if (!m) return BIBIM_ERR_NOMEM;
    m->alloc = alloc;
    if (st != BIBIM_OK)
        return model_fail(m, st, "the allocator must set all of alloc, realloc and free, or none of them");
    if (!path) return model_fail(m, BIBIM_ERR_INVALID_ARG, "no model path given");
    m->vocab_only = p->vocab_only;
    st = open_file(m, path, p);
    if (st == BIBIM_OK) st = read_arch(m, path);
    if (st == BIBIM_OK) {
        char err[400];
        st = tokenizer_load_with(m->gguf, &m->alloc, &m->tok, err, sizeof err);
        if (st != BIBIM_OK) model_fail(m, st, "%s: %s", path, err);
    }
    if (st == BIBIM_OK) st = read_chat_template(m, path);
    if (st == BIBIM_OK && !m->vocab_only) st = read_hparams(m, path);
    if (st == BIBIM_OK && !m->vocab_only) st = load_tensors(m, path);
    if (st == BIBIM_OK && !m->vocab_only) st = repack_matrices(m, p->use_mmap && !p->use_mlock, path);
    if (st == BIBIM_OK) count_weights(m);
    if (st == BIBIM_OK && p->use_mlock && !m->vocab_only) st = lock_weights(m, path);
    return st;
}

void bibim_model_get_info(const bibim_model *m, bibim_model_info *info) {
    memset(info, 0, sizeof *info);
    info->arch = m->arch;
    info->name = m->name;
    info->n_vocab = m->vocab_only ? tokenizer_n_vocab(m->tok) : m->hp.n_vocab;
    info->n_ctx_train = m->hp.n_ctx_train;
    info->n_embd = m->hp.n_embd;
    info->n_layer = m->hp.n_layer;
    info->n_head = m->hp.n_head;
    info->n_head_kv = m->hp.n_head_kv;
    info->n_ff = m->hp.n_ff;
    info->n_params = m->n_params;
    info->n_bytes = m->n_bytes;
    info->ftype = m->ftype;
}

/* ---- tokens: the public API over the tokenizer ---- */

bibim_status bibim_tokenize(const bibim_model *model, const char *text, size_t len, unsigned flags,
                            bibim_token *tokens, int64_t capacity, int64_t *n_tokens) {
    if (!model || !model->tok || (!text && len) || !n_tokens || capacity < 0 || (!tokens && capacity))
        return BIBIM_ERR_INVALID_ARG;
    return tokenizer_encode(model->tok, text ? text : "", len, flags, tokens, capacity, n_tokens);
}

int64_t bibim_token_piece(const bibim_model *model, bibim_token token, unsigned flags, char *buf, size_t capacity) {
    if (!model || !model->tok || (!buf && capacity)) return -1;
    return tokenizer_piece(model->tok, token, flags, buf, capacity);
}

int64_t bibim_detokenize(const bibim_model *model, const bibim_token *tokens, int64_t n_tokens, unsigned flags,
                         char *buf, size_t capacity) {
    if (!model || !model->tok || (!buf && capacity)) return -1;
    return tokenizer_decode(model->tok, tokens, n_tokens, flags, buf, capacity);
}

bibim_token bibim_token_bos(const bibim_model *model) { return model && model->tok ? tokenizer_bos(model->tok) : -1; }
bibim_token bibim_token_eos(const bibim_model *model) { return model && model->tok ? tokenizer_eos(model->tok) : -1; }

int bibim_token_is_end(const bibim_model *model, bibim_token token) {
    return model && model->tok ? tokenizer_is_end(model->tok, token) : 0;
}
