/* test_quant.c — bibim_quantize_row / bibim_dequantize_row and the fp16/bf16
 * conversions, checked against llama.cpp's files in ../shared/refs/quant/
 * (see its README.md): dequantization bit for bit, quantization byte for
 * byte, the error no worse than llama.cpp's, plus round trips and edge cases.
 * The quantized bytes are read with a small private GGUF locator, so this
 * test does not depend on the library's GGUF reader. */
#include "bibim.h"
#include "fp16.h"
#include "harness.h"
#include "quant.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

#define REF_DIR SHARED_DIR "/refs/quant/"

/* The files llama-quantize made (README "Quantized files"), the type their two
 * reference tensors have, and the unquantized original. */
typedef struct ref_file {
    const char *tag;
    bibim_type type;
} ref_file;

static const ref_file ref_files[] = {
    {"F16", BIBIM_TYPE_F16},       {"BF16", BIBIM_TYPE_BF16},     {"Q8_0", BIBIM_TYPE_Q8_0},
    {"Q4_0", BIBIM_TYPE_Q4_0},     {"Q4_1", BIBIM_TYPE_Q4_1},     {"Q5_0", BIBIM_TYPE_Q5_0},
    {"Q5_1", BIBIM_TYPE_Q5_1},     {"Q2_K", BIBIM_TYPE_Q2_K},     {"Q3_K_S", BIBIM_TYPE_Q3_K},
    {"Q4_K_S", BIBIM_TYPE_Q4_K},   {"Q5_K_S", BIBIM_TYPE_Q5_K},   {"Q6_K", BIBIM_TYPE_Q6_K},
    {"Q4_K_M", BIBIM_TYPE_Q4_K},
};
#define N_REF_FILES (sizeof ref_files / sizeof ref_files[0])

typedef struct ref_tensor {
    const char *name;
    int64_t ne0, ne1;
} ref_tensor;

static const ref_tensor ref_tensors[] = {
    {"blk.0.ffn_down.weight", 768, 256},
    {"blk.1.attn_q.weight", 256, 256},
};
#define N_REF_TENSORS (sizeof ref_tensors / sizeof ref_tensors[0])

/* Every type bibim quantizes. */
static const bibim_type supported_types[] = {
    BIBIM_TYPE_F32,  BIBIM_TYPE_F16,  BIBIM_TYPE_BF16, BIBIM_TYPE_Q8_0, BIBIM_TYPE_Q4_0,
    BIBIM_TYPE_Q4_1, BIBIM_TYPE_Q5_0, BIBIM_TYPE_Q5_1, BIBIM_TYPE_Q2_K, BIBIM_TYPE_Q3_K,
    BIBIM_TYPE_Q4_K, BIBIM_TYPE_Q5_K, BIBIM_TYPE_Q6_K,
};
#define N_SUPPORTED (sizeof supported_types / sizeof supported_types[0])

static void gguf_path(char *buf, size_t size, const char *tag) {
    snprintf(buf, size, REF_DIR "tiny-%s.gguf", tag);
}

static void f32_path(char *buf, size_t size, const char *tag, const char *tensor) {
    snprintf(buf, size, REF_DIR "tiny-%s.%s.f32", tag, tensor);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct blob {
    unsigned char *data;
    size_t size;
} blob;

/* Reads a whole file; 0 on success. */
static int load_file(const char *path, blob *out) {
    out->data = NULL;
    out->size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int rc = -1;
    if (fseek(f, 0, SEEK_END) == 0) {
        const long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            out->data = malloc(size > 0 ? (size_t)size : 1);
            out->size = (size_t)size;
            if (out->data && fread(out->data, 1, out->size, f) == out->size) rc = 0;
        }
    }
    fclose(f);
    if (rc != 0) {
        free(out->data);
        out->data = NULL;
    }
    return rc;
}

/* A raw float32 file of exactly n values, in a malloc'd array (NULL on failure). */
static float *load_floats(const char *path, int64_t n) {
    blob b;
    if (load_file(path, &b) != 0) return NULL;
    if (b.size != (size_t)n * sizeof(float)) {
        free(b.data);
        return NULL;
    }
    float *v = malloc(b.size);
    if (v) memcpy(v, b.data, b.size);
    free(b.data);
    return v;
}

/* ------------------------------------------------------------------------ */
/* A private GGUF tensor locator: header, KVs skipped by type, tensor infos,  */
/* data section at the alignment (general.alignment, default 32).           */
/* ------------------------------------------------------------------------ */

typedef struct mini_tensor {
    const char *name; /* inside the file image, not NUL-terminated */
    uint64_t name_len;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t offset;
} mini_tensor;

typedef struct mini_gguf {
    blob file;
    uint64_t n_tensors;
    mini_tensor *tensors;
    uint64_t data_start;
} mini_gguf;

typedef struct cursor {
    const unsigned char *p;
    uint64_t size, pos;
    int ok;
} cursor;

static const unsigned char *take(cursor *c, uint64_t n) {
    if (!c->ok || n > c->size - c->pos) {
        c->ok = 0;
        return NULL;
    }
    const unsigned char *p = c->p + c->pos;
    c->pos += n;
    return p;
}

static uint64_t take_le(cursor *c, unsigned n) {
    const unsigned char *p = take(c, n);
    uint64_t v = 0;
    for (unsigned i = 0; p && i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void skip_value(cursor *c, uint32_t type, int depth) {
    static const unsigned fixed[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) { /* string */
        take(c, take_le(c, 8));
    } else if (type == 9 && depth < 4) { /* array */
        const uint32_t elem = (uint32_t)take_le(c, 4);
        const uint64_t count = take_le(c, 8);
        for (uint64_t i = 0; i < count && c->ok; i++) skip_value(c, elem, depth + 1);
    } else if (type < sizeof fixed / sizeof fixed[0] && fixed[type]) {
        take(c, fixed[type]);
    } else {
        c->ok = 0;
    }
}

static void mini_gguf_close(mini_gguf *g) {
    free(g->file.data);
    free(g->tensors);
    memset(g, 0, sizeof *g);
}

/* 0 on success; the file image stays in memory until mini_gguf_close. */
static int mini_gguf_open(const char *path, mini_gguf *g) {
    memset(g, 0, sizeof *g);
    if (load_file(path, &g->file) != 0) return -1;
    cursor c = {g->file.data, g->file.size, 0, 1};
    const unsigned char *magic = take(&c, 4);
    const uint32_t version = (uint32_t)take_le(&c, 4);
    g->n_tensors = take_le(&c, 8);
    const uint64_t n_kv = take_le(&c, 8);
    if (!c.ok || memcmp(magic, "GGUF", 4) != 0 || version < 2 || version > 3 || g->n_tensors > 100000) {
        mini_gguf_close(g);
        return -1;
    }
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv && c.ok; i++) {
        const uint64_t key_len = take_le(&c, 8);
        const unsigned char *key = take(&c, key_len);
        const uint32_t type = (uint32_t)take_le(&c, 4);
        if (c.ok && type == 4 && key_len == 17 && memcmp(key, "general.alignment", 17) == 0) {
            alignment = take_le(&c, 4);
        } else {
            skip_value(&c, type, 0);
        }
    }
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    for (uint64_t i = 0; g->tensors && i < g->n_tensors && c.ok; i++) {
        mini_tensor *t = &g->tensors[i];
        t->name_len = take_le(&c, 8);
        t->name = (const char *)take(&c, t->name_len);
        t->n_dims = (uint32_t)take_le(&c, 4);
        if (t->n_dims < 1 || t->n_dims > 4) c.ok = 0;
        for (uint32_t d = 0; d < 4; d++) t->ne[d] = d < t->n_dims && c.ok ? (int64_t)take_le(&c, 8) : 1;
        t->type = (uint32_t)take_le(&c, 4);
        t->offset = take_le(&c, 8);
    }
    if (!g->tensors || !c.ok || alignment == 0 || alignment > 4096) {
        mini_gguf_close(g);
        return -1;
    }
    g->data_start = (c.pos + alignment - 1) / alignment * alignment;
    return 0;
}

static const mini_tensor *mini_gguf_find(const mini_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const mini_tensor *t = &g->tensors[i];
        if (t->name_len == strlen(name) && memcmp(t->name, name, t->name_len) == 0) return t;
    }
    return NULL;
}

static int64_t tensor_elems(const mini_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

/* The tensor's bytes inside the image, or NULL if they do not fit. */
static const unsigned char *mini_tensor_data(const mini_gguf *g, const mini_tensor *t, int64_t *n_bytes) {
    const int64_t row = bibim_type_row_bytes((bibim_type)t->type, t->ne[0]);
    if (row < 0) return NULL;
    const int64_t bytes = row * t->ne[1] * t->ne[2] * t->ne[3];
    const uint64_t start = g->data_start + t->offset;
    if (start < g->data_start || start > g->file.size || (uint64_t)bytes > g->file.size - start) return NULL;
    *n_bytes = bytes;
    return g->file.data + start;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static double rmse(const float *a, const float *b, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return n ? sqrt(sum / (double)n) : 0.0;
}

static double rms(const float *a, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)a[i] * a[i];
    return n ? sqrt(sum / (double)n) : 0.0;
}

/* Quantizes n floats (rows of ne0) to `type` and dequantizes them back. */
static int round_trip(bibim_type type, const float *x, float *y, int64_t n, int64_t ne0) {
    const int64_t row_bytes = bibim_type_row_bytes(type, ne0);
    if (row_bytes < 0 || n % ne0 != 0) return -1;
    unsigned char *q = malloc((size_t)(row_bytes * (n / ne0)));
    if (!q) return -1;
    int rc = 0;
    for (int64_t r = 0; r < n / ne0 && rc == 0; r++) {
        if (bibim_quantize_row(type, x + r * ne0, q + r * row_bytes, ne0) != BIBIM_OK) rc = -1;
        if (bibim_dequantize_row(type, q + r * row_bytes, y + r * ne0, ne0) != BIBIM_OK) rc = -1;
    }
    free(q);
    return rc;
}

/* splitmix64: a deterministic generator for the synthetic data. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double next_uniform(uint64_t *state) { return (double)(next_u64(state) >> 11) * 0x1p-53; }

static float next_gaussian(uint64_t *state) {
    const double u1 = next_uniform(state), u2 = next_uniform(state);
    return (float)(sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2));
}

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* 1. Dequantization is bit-identical to ggml's to_float                    */
/* ------------------------------------------------------------------------ */

static int skip_unless_refs(void) {
    char path[256];
    for (size_t f = 0; f < N_REF_FILES; f++) {
        gguf_path(path, sizeof path, ref_files[f].tag);
        SKIP_UNLESS_FILE(path);
        for (size_t t = 0; t < N_REF_TENSORS; t++) {
            f32_path(path, sizeof path, ref_files[f].tag, ref_tensors[t].name);
            SKIP_UNLESS_FILE(path);
        }
    }
    SKIP_UNLESS_FILE(REF_DIR "tiny-f32.gguf");
    for (size_t t = 0; t < N_REF_TENSORS; t++) {
        f32_path(path, sizeof path, "f32", ref_tensors[t].name);
        SKIP_UNLESS_FILE(path);
    }
    return 0;
}

static void check_dequant_tensor(const mini_gguf *g, const ref_file *rf, const ref_tensor *rt) {
    const int64_t n = rt->ne0 * rt->ne1;
    const mini_tensor *t = mini_gguf_find(g, rt->name);
    CHECKF(t != NULL, "%s: %s not found", rf->tag, rt->name);
    if (!t) return;
    CHECKF(t->type == (uint32_t)rf->type && t->ne[0] == rt->ne0 && t->ne[1] == rt->ne1,
           "%s %s: type %u ne [%lld, %lld]", rf->tag, rt->name, t->type, (long long)t->ne[0], (long long)t->ne[1]);
    int64_t n_bytes = 0;
    const unsigned char *data = mini_tensor_data(g, t, &n_bytes);
    char path[256];
    f32_path(path, sizeof path, rf->tag, rt->name);
    float *want = load_floats(path, n);
    float *got = malloc((size_t)n * sizeof(float));
    CHECKF(data && want && got, "%s %s: data or reference unreadable", rf->tag, rt->name);
    if (data && want && got && t->type == (uint32_t)rf->type) {
        CHECK(bibim_dequantize_row(rf->type, data, got, n) == BIBIM_OK);
        int64_t first_diff = -1;
        for (int64_t i = 0; i < n && first_diff < 0; i++) {
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0) first_diff = i;
        }
        CHECKF(first_diff < 0, "%s %s: element %lld is %.9g, llama.cpp has %.9g", rf->tag, rt->name,
               (long long)first_diff, first_diff < 0 ? 0.0 : got[first_diff], first_diff < 0 ? 0.0 : want[first_diff]);
    }
    free(want);
    free(got);
}

static int test_dequantize_bit_exact(void) {
    if (skip_unless_refs()) return 1;
    for (size_t f = 0; f < N_REF_FILES; f++) {
        char path[256];
        gguf_path(path, sizeof path, ref_files[f].tag);
        mini_gguf g;
        CHECKF(mini_gguf_open(path, &g) == 0, "%s does not parse", path);
        for (size_t t = 0; t < N_REF_TENSORS && g.file.data; t++) check_dequant_tensor(&g, &ref_files[f], &ref_tensors[t]);
        mini_gguf_close(&g);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 2. Quantization gives llama-quantize's bytes                             */
/* ------------------------------------------------------------------------ */

typedef struct byte_match {
    int64_t tensors, blocks, differing_blocks;
} byte_match;

/* Quantizes the F32 original of tensor `t` row by row and counts the blocks
 * whose bytes differ from llama.cpp's. */
static void compare_quantized_tensor(const mini_gguf *orig, const mini_gguf *g, const mini_tensor *t, byte_match *m) {
    const bibim_type type = (bibim_type)t->type;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)t->name_len, t->name);
    const mini_tensor *src = mini_gguf_find(orig, name);
    CHECKF(src && src->type == BIBIM_TYPE_F32 && tensor_elems(src) == tensor_elems(t) && src->ne[0] == t->ne[0],
           "%s: no matching F32 tensor", name);
    int64_t want_bytes = 0, src_bytes = 0;
    const unsigned char *want = mini_tensor_data(g, t, &want_bytes);
    const unsigned char *x = src ? mini_tensor_data(orig, src, &src_bytes) : NULL;
    CHECKF(want && x, "%s: data out of the file", name);
    if (!src || !want || !x) return;

    const int64_t ne0 = t->ne[0], rows = tensor_elems(t) / ne0;
    const int64_t row_bytes = bibim_type_row_bytes(type, ne0), block_bytes = bibim_type_block_bytes(type);
    float *row = malloc((size_t)ne0 * sizeof(float));
    unsigned char *got = malloc((size_t)row_bytes);
    int64_t differing = 0;
    for (int64_t r = 0; r < rows && row && got; r++) {
        memcpy(row, x + r * ne0 * (int64_t)sizeof(float), (size_t)ne0 * sizeof(float));
        CHECK(bibim_quantize_row(type, row, got, ne0) == BIBIM_OK);
        for (int64_t b = 0; b < row_bytes; b += block_bytes) {
            differing += memcmp(got + b, want + r * row_bytes + b, (size_t)block_bytes) != 0;
        }
    }
    CHECKF(differing == 0, "%s (%s): %lld of %lld blocks differ from llama.cpp's", name, bibim_type_name(type),
           (long long)differing, (long long)(rows * row_bytes / block_bytes));
    m->tensors++;
    m->blocks += rows * row_bytes / block_bytes;
    m->differing_blocks += differing;
    free(row);
    free(got);
}

static int test_quantize_matches_llama_cpp(void) {
    if (skip_unless_refs()) return 1;
    mini_gguf orig;
    CHECK(mini_gguf_open(REF_DIR "tiny-f32.gguf", &orig) == 0);
    if (!orig.file.data) return 0;
    byte_match per_type[64] = {{0, 0, 0}};
    for (size_t f = 0; f < N_REF_FILES; f++) {
        char path[256];
        gguf_path(path, sizeof path, ref_files[f].tag);
        mini_gguf g;
        CHECKF(mini_gguf_open(path, &g) == 0, "%s does not parse", path);
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const mini_tensor *t = &g.tensors[i];
            if (t->type == BIBIM_TYPE_F32 || t->type >= 64) continue; /* norms stay F32 */
            CHECKF(bibim_type_is_supported((bibim_type)t->type), "%s: tensor of type %u", path, t->type);
            if (bibim_type_is_supported((bibim_type)t->type)) compare_quantized_tensor(&orig, &g, t, &per_type[t->type]);
        }
        mini_gguf_close(&g);
    }
    mini_gguf_close(&orig);
    printf("  quantized bytes vs llama-quantize (all quantized tensors of the 13 files):\n");
    for (size_t i = 0; i < N_SUPPORTED; i++) {
        const byte_match *m = &per_type[supported_types[i]];
        if (!m->tensors) continue;
        printf("    %-5s %3lld tensors %7lld blocks: %s\n", bibim_type_name(supported_types[i]), (long long)m->tensors,
               (long long)m->blocks, m->differing_blocks ? "DIFFERENT" : "byte-identical");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 3. Our error is no worse than llama.cpp's                                */
/* ------------------------------------------------------------------------ */

static int test_rmse_no_worse_than_llama_cpp(void) {
    if (skip_unless_refs()) return 1;
    printf("  RMSE of dequant(quant(f32)) - f32:\n");
    printf("    %-7s %-22s %-14s %-14s\n", "type", "tensor", "bibim", "llama.cpp");
    for (size_t f = 0; f < N_REF_FILES; f++) {
        double sq_ours = 0, sq_ref = 0;
        int64_t n_all = 0;
        for (size_t t = 0; t < N_REF_TENSORS; t++) {
            const ref_tensor *rt = &ref_tensors[t];
            const int64_t n = rt->ne0 * rt->ne1;
            char path[256];
            f32_path(path, sizeof path, "f32", rt->name);
            float *x = load_floats(path, n);
            f32_path(path, sizeof path, ref_files[f].tag, rt->name);
            float *ref = load_floats(path, n);
            float *ours = malloc((size_t)n * sizeof(float));
            CHECKF(x && ref && ours, "%s: reference unreadable", path);
            if (x && ref && ours) {
                CHECK(round_trip(ref_files[f].type, x, ours, n, rt->ne0) == 0);
                const double e_ours = rmse(ours, x, n), e_ref = rmse(ref, x, n);
                printf("    %-7s %-22s %-14.8g %-14.8g\n", ref_files[f].tag, rt->name, e_ours, e_ref);
                CHECKF(e_ours <= e_ref * (1 + 1e-9), "%s %s: RMSE %.9g > llama.cpp's %.9g", ref_files[f].tag,
                       rt->name, e_ours, e_ref);
                sq_ours += e_ours * e_ours * (double)n;
                sq_ref += e_ref * e_ref * (double)n;
                n_all += n;
            }
            free(x);
            free(ref);
            free(ours);
        }
        if (n_all) {
            printf("    %-7s %-22s %-14.8g %-14.8g\n", ref_files[f].tag, "(both)", sqrt(sq_ours / (double)n_all),
                   sqrt(sq_ref / (double)n_all));
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 4. Round trips and edge cases                                            */
/* ------------------------------------------------------------------------ */

/* Largest acceptable RMSE / RMS of the input for Gaussian data: about 1.25
 * times what each format measured (the test prints the values). */
static double max_relative_error(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F32: return 0;
    case BIBIM_TYPE_F16: return 2.7e-4;
    case BIBIM_TYPE_BF16: return 2e-3;
    case BIBIM_TYPE_Q8_0: return 0.007;
    case BIBIM_TYPE_Q6_K: return 0.022;
    case BIBIM_TYPE_Q5_0: return 0.054;
    case BIBIM_TYPE_Q5_1: return 0.046;
    case BIBIM_TYPE_Q5_K: return 0.045;
    case BIBIM_TYPE_Q4_0: return 0.11;
    case BIBIM_TYPE_Q4_1: return 0.096;
    case BIBIM_TYPE_Q4_K: return 0.089;
    case BIBIM_TYPE_Q3_K: return 0.19;
    case BIBIM_TYPE_Q2_K: return 0.37;
    default: return 0;
    }
}

static int test_round_trip_random(void) {
    static const int64_t block_counts[] = {1, 3, 17, 64};
    uint64_t rng = 12345;
    printf("  relative RMSE on Gaussian data, rows of 1, 3, 17 and 64 blocks (limit):\n");
    for (size_t i = 0; i < N_SUPPORTED; i++) {
        const bibim_type type = supported_types[i];
        /* Plain floats count "blocks" of 32 so every row has some length. */
        const int64_t be = bibim_type_block_elems(type) < 32 ? 32 : bibim_type_block_elems(type);
        double sq_err = 0, sq_x = 0;
        for (size_t c = 0; c < sizeof block_counts / sizeof block_counts[0]; c++) {
            const int64_t n = block_counts[c] * be;
            float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
            if (!x || !y) {
                CHECK(x && y);
            } else {
                for (int64_t k = 0; k < n; k++) x[k] = next_gaussian(&rng);
                CHECK(round_trip(type, x, y, n, n) == 0);
                CHECKF(all_finite(y, n), "%s", bibim_type_name(type));
                sq_err += pow(rmse(y, x, n), 2) * (double)n;
                sq_x += pow(rms(x, n), 2) * (double)n;
            }
            free(x);
            free(y);
        }
        const double rel = sqrt(sq_err / sq_x);
        printf("    %-5s %.6f (%.6f)\n", bibim_type_name(type), rel, max_relative_error(type));
        CHECKF(rel <= max_relative_error(type), "%s: relative RMSE %g", bibim_type_name(type), rel);
    }
    return 0;
}

/* Fills one 256-element stretch with a pattern; `kind` picks it. */
enum pattern { ALL_ZERO, NEGATIVE_ONLY, POSITIVE_ONLY, SINGLE_NONZERO, CONSTANT, LARGE, N_CHECKED_PATTERNS };

static void fill_pattern(float *x, int n, enum pattern kind, uint64_t *rng) {
    for (int i = 0; i < n; i++) {
        const float g = next_gaussian(rng);
        switch (kind) {
        case ALL_ZERO: x[i] = 0; break;
        case NEGATIVE_ONLY: x[i] = -fabsf(g) - 0.01f; break;
        case POSITIVE_ONLY: x[i] = fabsf(g) + 0.5f; break;
        case SINGLE_NONZERO: x[i] = i == 37 ? -0.75f : 0.0f; break;
        case CONSTANT: x[i] = 0.3f; break;
        case LARGE: x[i] = 1000.0f * g; break;
        default: x[i] = g; break;
        }
    }
}

/* The limit for one pattern: the random-data one, except that a constant
 * block can sit anywhere between two F16/BF16 values, so those formats get
 * their worst case, half a unit in the last place (2^-11 and 2^-8). */
static double max_pattern_error(bibim_type type) {
    if (type == BIBIM_TYPE_F16) return 0x1p-11;
    if (type == BIBIM_TYPE_BF16) return 0x1p-8;
    return max_relative_error(type);
}

/* Patterns a quantizer must handle well: each is reproduced with about the
 * random-data error (zeros exactly). */
static int test_special_blocks(void) {
    uint64_t rng = 777;
    float x[256], y[256];
    for (size_t i = 0; i < N_SUPPORTED; i++) {
        const bibim_type type = supported_types[i];
        for (int kind = 0; kind < N_CHECKED_PATTERNS; kind++) {
            fill_pattern(x, 256, (enum pattern)kind, &rng);
            CHECK(round_trip(type, x, y, 256, 256) == 0);
            CHECKF(all_finite(y, 256), "%s pattern %d", bibim_type_name(type), kind);
            if (kind == ALL_ZERO) {
                int exact = 1;
                for (int k = 0; k < 256; k++) exact &= y[k] == 0.0f;
                CHECKF(exact, "%s: zeros do not come back as zeros", bibim_type_name(type));
            } else {
                const double rel = rmse(y, x, 256) / rms(x, 256);
                CHECKF(rel <= max_pattern_error(type), "%s pattern %d: relative RMSE %g", bibim_type_name(type), kind,
                       rel);
            }
        }
    }
    return 0;
}

/* inf, NaN, FLT_MAX, subnormals, tiny and huge values: results unspecified,
 * but no crash and no undefined behaviour (this runs under UBSan too). */
static int test_hostile_input(void) {
    const float specials[] = {INFINITY, -INFINITY, NAN, -NAN, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, -1e-45f, 1e-30f, 1e30f};
    const size_t n_specials = sizeof specials / sizeof specials[0];
    uint64_t rng = 99;
    float x[256], y[256];
    unsigned char q[256 * sizeof(float)];
    for (size_t i = 0; i < N_SUPPORTED; i++) {
        const bibim_type type = supported_types[i];
        for (size_t s = 0; s <= n_specials; s++) {
            for (int layout = 0; layout < 3; layout++) {
                for (int k = 0; k < 256; k++) {
                    const float g = next_gaussian(&rng);
                    /* layout 0: one special among normal values; 1: all special; 2: alternating specials */
                    if (s == n_specials) x[k] = g * (k % 2 ? 1e-38f : 1e37f); /* mixed extremes */
                    else if (layout == 0) x[k] = k == 100 ? specials[s] : g;
                    else if (layout == 1) x[k] = specials[s];
                    else x[k] = specials[(s + (size_t)k) % n_specials];
                }
                CHECK(bibim_quantize_row(type, x, q, 256) == BIBIM_OK);
                CHECK(bibim_dequantize_row(type, q, y, 256) == BIBIM_OK);
            }
        }
        /* Tiny but normal data still round-trips to finite values. */
        for (int k = 0; k < 256; k++) x[k] = 1e-6f * next_gaussian(&rng);
        CHECK(round_trip(type, x, y, 256, 256) == 0);
        CHECKF(all_finite(y, 256), "%s: tiny values", bibim_type_name(type));
    }
    return 0;
}

/* Unaligned buffers give the same bytes and floats as aligned ones. */
static int test_unaligned_buffers(void) {
    uint64_t rng = 4242;
    float x[512], y_aligned[512], y_unaligned[512];
    for (int k = 0; k < 512; k++) x[k] = next_gaussian(&rng);
    for (size_t i = 0; i < N_SUPPORTED; i++) {
        const bibim_type type = supported_types[i];
        const int64_t bytes = bibim_type_row_bytes(type, 512);
        unsigned char *aligned = malloc((size_t)bytes), *raw = malloc((size_t)bytes + 1);
        if (!aligned || !raw) {
            CHECK(aligned && raw);
        } else {
            unsigned char *odd = raw + ((uintptr_t)raw % 2 == 0 ? 1 : 0);
            CHECK(bibim_quantize_row(type, x, aligned, 512) == BIBIM_OK);
            CHECK(bibim_quantize_row(type, x, odd, 512) == BIBIM_OK);
            CHECKF(memcmp(aligned, odd, (size_t)bytes) == 0, "%s", bibim_type_name(type));
            CHECK(bibim_dequantize_row(type, aligned, y_aligned, 512) == BIBIM_OK);
            CHECK(bibim_dequantize_row(type, odd, y_unaligned, 512) == BIBIM_OK);
            CHECKF(memcmp(y_aligned, y_unaligned, sizeof y_aligned) == 0, "%s", bibim_type_name(type));
        }
        free(aligned);
        free(raw);
    }
    /* Longer than one bounce buffer. */
    enum { long_n = 256 * 64 };
    float *lx = malloc(long_n * sizeof(float)), *ly1 = malloc(long_n * sizeof(float)), *ly2 = malloc(long_n * sizeof(float));
    const int64_t bytes = bibim_type_row_bytes(BIBIM_TYPE_Q6_K, long_n);
    unsigned char *a = malloc((size_t)bytes), *b = malloc((size_t)bytes + 1);
    CHECK(lx && ly1 && ly2 && a && b);
    if (lx && ly1 && ly2 && a && b) {
        for (int k = 0; k < long_n; k++) lx[k] = next_gaussian(&rng);
        unsigned char *odd = b + ((uintptr_t)b % 2 == 0 ? 1 : 0);
        CHECK(bibim_quantize_row(BIBIM_TYPE_Q6_K, lx, a, long_n) == BIBIM_OK);
        CHECK(bibim_quantize_row(BIBIM_TYPE_Q6_K, lx, odd, long_n) == BIBIM_OK);
        CHECK(memcmp(a, odd, (size_t)bytes) == 0);
        CHECK(bibim_dequantize_row(BIBIM_TYPE_Q6_K, a, ly1, long_n) == BIBIM_OK);
        CHECK(bibim_dequantize_row(BIBIM_TYPE_Q6_K, odd, ly2, long_n) == BIBIM_OK);
        CHECK(memcmp(ly1, ly2, long_n * sizeof(float)) == 0);
    }
    free(lx);
    free(ly1);
    free(ly2);
    free(a);
    free(b);
    return 0;
}

static int test_invalid_args(void) {
    float x[512] = {0}, y[512];
    unsigned char q[1024];
    /* n not a multiple of the block size, or negative */
    CHECK(bibim_quantize_row(BIBIM_TYPE_Q4_0, x, q, 31) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_quantize_row(BIBIM_TYPE_Q4_K, x, q, 255) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_quantize_row(BIBIM_TYPE_Q6_K, x, q, 288) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_dequantize_row(BIBIM_TYPE_Q8_0, q, y, 33) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_dequantize_row(BIBIM_TYPE_Q2_K, q, y, 128) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_quantize_row(BIBIM_TYPE_F16, x, q, -2) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_dequantize_row(BIBIM_TYPE_Q4_0, q, y, -32) == BIBIM_ERR_INVALID_ARG);
    /* NULL pointers */
    CHECK(bibim_quantize_row(BIBIM_TYPE_Q4_0, NULL, q, 32) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_quantize_row(BIBIM_TYPE_Q4_0, x, NULL, 32) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_dequantize_row(BIBIM_TYPE_Q4_K, NULL, y, 256) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_dequantize_row(BIBIM_TYPE_Q4_K, q, NULL, 256) == BIBIM_ERR_INVALID_ARG);
    /* unsupported and unknown types */
    static const int unsupported[] = {BIBIM_TYPE_Q8_1,   BIBIM_TYPE_Q8_K,   BIBIM_TYPE_IQ2_XXS, BIBIM_TYPE_IQ2_XS,
                                      BIBIM_TYPE_IQ3_XXS, BIBIM_TYPE_IQ1_S,  BIBIM_TYPE_IQ4_NL,  BIBIM_TYPE_IQ3_S,
                                      BIBIM_TYPE_IQ2_S,  BIBIM_TYPE_IQ4_XS, BIBIM_TYPE_I8,      BIBIM_TYPE_I32,
                                      BIBIM_TYPE_F64,    BIBIM_TYPE_IQ1_M,  BIBIM_TYPE_TQ1_0,   BIBIM_TYPE_MXFP4,
                                      4,                 31,                1000,               -1};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const bibim_type t = (bibim_type)unsupported[i];
        CHECKF(bibim_quantize_row(t, x, q, 256) == BIBIM_ERR_UNSUPPORTED, "type %d", unsupported[i]);
        CHECKF(bibim_dequantize_row(t, q, y, 256) == BIBIM_ERR_UNSUPPORTED, "type %d", unsupported[i]);
    }
    /* n = 0 is a valid, empty row */
    for (size_t i = 0; i < N_SUPPORTED; i++) {
        CHECK(bibim_quantize_row(supported_types[i], x, q, 0) == BIBIM_OK);
        CHECK(bibim_dequantize_row(supported_types[i], q, y, 0) == BIBIM_OK);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* fp16 and bf16 conversions                                                */
/* ------------------------------------------------------------------------ */

/* The value of half h computed independently, in double. */
static double half_value(uint16_t h) {
    const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    const double sign = h & 0x8000 ? -1.0 : 1.0;
    if (exp == 0x1f) return mant ? NAN : sign * INFINITY;
    if (exp == 0) return sign * ldexp(mant, -24);
    return sign * ldexp(1024 + mant, exp - 25);
}

static int test_fp16_exhaustive(void) {
    int64_t bad_value = 0, bad_round_trip = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = fp16_to_fp32((uint16_t)h);
        const double want = half_value((uint16_t)h);
        const uint16_t back = fp32_to_fp16(f);
        if (isnan(want)) {
            bad_value += !isnan(f) || (fp32_to_bits(f) >> 31) != (h >> 15);
            bad_round_trip += back != (uint16_t)(h | 0x200); /* quieted, payload and sign kept */
        } else {
            bad_value += (double)f != want || !signbit(f) != !signbit(want);
            bad_round_trip += back != h;
        }
    }
    CHECKF(bad_value == 0, "%lld halves decode wrong", (long long)bad_value);
    CHECKF(bad_round_trip == 0, "%lld halves do not survive half -> float -> half", (long long)bad_round_trip);
    return 0;
}

/* Magnitude of half bits h (h & 0x7fff) as a double, where the step above
 * the largest finite half counts as 65536 (the rounding boundary). */
static double half_magnitude(uint32_t h) { return h >= 0x7c00 ? 65536.0 : half_value((uint16_t)h); }

static int test_fp16_rounding(void) {
    static const struct {
        uint32_t f;
        uint16_t h;
    } cases[] = {
        {0x3f800000, 0x3c00}, /* 1 */
        {0xbf800000, 0xbc00}, /* -1 */
        {0x00000000, 0x0000}, {0x80000000, 0x8000}, /* signed zeros */
        {0x477fe000, 0x7bff}, /* 65504, the largest half */
        {0x477fefff, 0x7bff}, /* just below 65520 */
        {0x477ff000, 0x7c00}, /* 65520: the tie rounds to even, which is infinity */
        {0x7f7fffff, 0x7c00}, /* FLT_MAX */
        {0x7f800000, 0x7c00}, {0xff800000, 0xfc00}, /* infinities */
        {0x33800000, 0x0001}, /* 2^-24, the smallest subnormal */
        {0x33000000, 0x0000}, /* 2^-25: tie between 0 and 2^-24, even is 0 */
        {0x33000001, 0x0001}, /* just above 2^-25 */
        {0x33c00000, 0x0002}, /* 1.5 * 2^-24: tie, rounds to even 2 */
        {0x38800000, 0x0400}, /* 2^-14, the smallest normal */
        {0x387fc000, 0x03ff}, /* the largest subnormal */
        {0x387fe000, 0x0400}, /* tie between largest subnormal and smallest normal: even is normal */
        {0x3f801000, 0x3c00}, /* 1 + 2^-11: tie, even is 1 */
        {0x3f803000, 0x3c02}, /* 1 + 3 * 2^-11: tie, even is 1 + 2^-9 */
        {0x3f801001, 0x3c01}, /* just above the tie */
        {0x3dcccccd, 0x2e66}, /* 0.1 */
        {0x7fc00000, 0x7e00}, /* quiet NaN */
        {0x7f800001, 0x7e00}, /* signalling NaN: quieted, never infinity */
        {0xffc00000, 0xfe00}, /* negative NaN keeps its sign */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint16_t got = fp32_to_fp16(fp32_from_bits(cases[i].f));
        CHECKF(got == cases[i].h, "0x%08x -> 0x%04x, want 0x%04x", cases[i].f, got, cases[i].h);
    }
    /* Random floats around the half range: the result is the nearest half,
     * ties to the even mantissa, overflow to infinity from 65520 on. */
    uint64_t rng = 2024;
    int64_t bad = 0;
    for (int i = 0; i < 1000000; i++) {
        const uint32_t bits = (uint32_t)next_u64(&rng);
        const uint32_t exp = 95 + (uint32_t)(next_u64(&rng) % 55); /* 2^-32 .. 2^22 */
        const float f = fp32_from_bits((bits & 0x807fffffu) | exp << 23);
        const uint16_t h = fp32_to_fp16(f);
        const double a = fabs((double)f);
        const uint32_t mag = h & 0x7fffu;
        if ((h >> 15) != (fp32_to_bits(f) >> 31)) {
            bad++;
        } else if (a >= 65520.0) {
            bad += mag != 0x7c00;
        } else {
            const double here = fabs(a - half_magnitude(mag));
            const double below = mag > 0 ? fabs(a - half_magnitude(mag - 1)) : INFINITY;
            const double above = fabs(a - half_magnitude(mag + 1));
            bad += mag >= 0x7c00 || here > below || here > above || ((here == below || here == above) && (mag & 1));
        }
    }
    CHECKF(bad == 0, "%lld random floats round wrong", (long long)bad);
    return 0;
}

static int test_bf16(void) {
    /* Every bf16 converts to float and back unchanged (NaNs stay NaN, quieted). */
    int64_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = bf16_to_fp32((uint16_t)h);
        const int is_nan = (h & 0x7fff) > 0x7f80;
        bad += is_nan ? !isnan(f) || fp32_to_bf16(f) != (uint16_t)(h | 0x40) : fp32_to_bf16(f) != h;
    }
    CHECKF(bad == 0, "%lld bf16 values do not survive the round trip", (long long)bad);
    static const struct {
        uint32_t f;
        uint16_t h;
    } cases[] = {
        {0x3f800000, 0x3f80}, /* 1 */
        {0x3f808000, 0x3f80}, /* tie, even stays */
        {0x3f818000, 0x3f82}, /* tie, odd rounds up */
        {0x3f808001, 0x3f81}, /* above the tie */
        {0x3f807fff, 0x3f80}, /* below the tie */
        {0xbf818000, 0xbf82}, /* negative tie */
        {0x7f7fffff, 0x7f80}, /* FLT_MAX overflows to infinity */
        {0x7f800000, 0x7f80}, {0xff800000, 0xff80}, /* infinities */
        {0x00000001, 0x0000}, /* the smallest subnormal rounds to +0 */
        {0x00008000, 0x0000}, /* tie, even is 0 */
        {0x00018000, 0x0002}, /* subnormals are rounded, not flushed */
        {0x7f800001, 0x7fc0}, /* signalling NaN: quieted, never infinity */
        {0x7fffffff, 0x7fff}, /* NaN payload kept, no carry into the sign */
        {0xff800001, 0xffc0}, /* negative NaN */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint16_t got = fp32_to_bf16(fp32_from_bits(cases[i].f));
        CHECKF(got == cases[i].h, "0x%08x -> 0x%04x, want 0x%04x", cases[i].f, got, cases[i].h);
    }
    return 0;
}

/* The public F16/BF16 paths use the same conversions. */
static int test_plain_float_rows(void) {
    uint64_t rng = 5;
    float x[64], y[64];
    uint16_t h[64];
    for (int k = 0; k < 64; k++) x[k] = next_gaussian(&rng) * 100.0f;
    CHECK(bibim_quantize_row(BIBIM_TYPE_F16, x, h, 64) == BIBIM_OK);
    for (int k = 0; k < 64; k++) CHECK(h[k] == fp32_to_fp16(x[k]));
    CHECK(bibim_dequantize_row(BIBIM_TYPE_F16, h, y, 64) == BIBIM_OK);
    for (int k = 0; k < 64; k++) CHECK(y[k] == fp16_to_fp32(h[k]));
    CHECK(bibim_quantize_row(BIBIM_TYPE_BF16, x, h, 64) == BIBIM_OK);
    for (int k = 0; k < 64; k++) CHECK(h[k] == fp32_to_bf16(x[k]));
    CHECK(bibim_dequantize_row(BIBIM_TYPE_BF16, h, y, 64) == BIBIM_OK);
    for (int k = 0; k < 64; k++) CHECK(y[k] == bf16_to_fp32(h[k]));
    CHECK(bibim_quantize_row(BIBIM_TYPE_F32, x, y, 64) == BIBIM_OK);
    CHECK(memcmp(x, y, sizeof x) == 0);
    return 0;
}

/* A hand-decoded block (README: Q4_0 blk.1.attn_q block 0) pins the layout
 * independently of the reference arrays. */
static int test_q4_0_known_block(void) {
    SKIP_UNLESS_FILE(REF_DIR "tiny-Q4_0.gguf");
    mini_gguf g;
    CHECK(mini_gguf_open(REF_DIR "tiny-Q4_0.gguf", &g) == 0);
    const mini_tensor *t = g.file.data ? mini_gguf_find(&g, "blk.1.attn_q.weight") : NULL;
    int64_t n_bytes = 0;
    const unsigned char *data = t ? mini_tensor_data(&g, t, &n_bytes) : NULL;
    CHECK(data != NULL);
    if (data) {
        float y[32];
        CHECK(bibim_dequantize_row(BIBIM_TYPE_Q4_0, data, y, 32) == BIBIM_OK);
        CHECK(fp16_to_fp32((uint16_t)(data[0] | data[1] << 8)) == 0.00499725341796875f);
        CHECK(y[0] == 0.0099945068359375f && y[1] == 0.0099945068359375f);
        CHECK(y[2] == 0.00499725341796875f && y[3] == -0.01499176025390625f);
    }
    mini_gguf_close(&g);
    return 0;
}

int main(void) {
    RUN(test_fp16_exhaustive);
    RUN(test_fp16_rounding);
    RUN(test_bf16);
    RUN(test_plain_float_rows);
    RUN(test_invalid_args);
    RUN(test_round_trip_random);
    RUN(test_special_blocks);
    RUN(test_hostile_input);
    RUN(test_unaligned_buffers);
    RUN(test_q4_0_known_block);
    RUN(test_dequantize_bit_exact);
    RUN(test_quantize_matches_llama_cpp);
    RUN(test_rmse_no_worse_than_llama_cpp);
    return harness_finish();
}
