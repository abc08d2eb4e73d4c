/* test_quantize_model.c — the quantization mixes and bibim_quantize_model,
 * checked against the files llama.cpp's llama-quantize made from the same
 * F32 model (../shared/refs/quant/). */
#include "bibim.h"
#include "harness.h"

#include <math.h>
#include <unistd.h>

#define QUANT_DIR SHARED_DIR "/refs/quant"
#define TINY_F32 QUANT_DIR "/tiny-f32.gguf"

static char tmp_dir[] = "/tmp/bibim-test-qmodel-XXXXXX";

static void tmp_path(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", tmp_dir, name); }

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* ---- the recipe, on a Llama-3.2-1B-shaped model (16 layers, GQA 4, tied) ---- */

static bibim_type type_1b(bibim_ftype f, const char *name, int64_t ne0, int64_t ne1, uint32_t n_dims) {
    int64_t ne[4] = {ne0, ne1, 1, 1};
    return bibim_quantize_tensor_type(f, name, n_dims, ne, BIBIM_TYPE_F32, 16, 0);
}

static int test_recipe_llama_1b(void) {
    /* Q4_K_M: attn_v and ffn_down of the "more bits" layers 0,1,4,7,10,13,14,15 get Q6_K. */
    const int more_bits[16] = {1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1};
    for (int i = 0; i < 16; i++) {
        char v[64], down[64], q[64];
        snprintf(v, sizeof v, "blk.%d.attn_v.weight", i);
        snprintf(down, sizeof down, "blk.%d.ffn_down.weight", i);
        snprintf(q, sizeof q, "blk.%d.attn_q.weight", i);
        bibim_type want = more_bits[i] ? BIBIM_TYPE_Q6_K : BIBIM_TYPE_Q4_K;
        CHECKF(type_1b(BIBIM_FTYPE_Q4_K_M, v, 2048, 512, 2) == want, "%s", v);
        CHECKF(type_1b(BIBIM_FTYPE_Q4_K_M, down, 8192, 2048, 2) == want, "%s", down);
        CHECK(type_1b(BIBIM_FTYPE_Q4_K_M, q, 2048, 2048, 2) == BIBIM_TYPE_Q4_K);
        /* Q4_K_S: first 4 attn_v and first n/8 ffn_down get Q5_K. */
        CHECK(type_1b(BIBIM_FTYPE_Q4_K_S, v, 2048, 512, 2) == (i < 4 ? BIBIM_TYPE_Q5_K : BIBIM_TYPE_Q4_K));
        CHECK(type_1b(BIBIM_FTYPE_Q4_K_S, down, 8192, 2048, 2) == (i < 2 ? BIBIM_TYPE_Q5_K : BIBIM_TYPE_Q4_K));
        /* Q3_K_M: attn_v Q5_K for i < 2 else Q4_K; ffn_down Q5_K for i < n/16. */
        CHECK(type_1b(BIBIM_FTYPE_Q3_K_M, v, 2048, 512, 2) == (i < 2 ? BIBIM_TYPE_Q5_K : BIBIM_TYPE_Q4_K));
        CHECK(type_1b(BIBIM_FTYPE_Q3_K_M, down, 8192, 2048, 2) == (i < 1 ? BIBIM_TYPE_Q5_K : BIBIM_TYPE_Q4_K));
        /* Q2_K: GQA 4 lifts attn_v to Q4_K; ffn_down Q3_K. */
        CHECK(type_1b(BIBIM_FTYPE_Q2_K, v, 2048, 512, 2) == BIBIM_TYPE_Q4_K);
        CHECK(type_1b(BIBIM_FTYPE_Q2_K, down, 8192, 2048, 2) == BIBIM_TYPE_Q3_K);
    }
    /* Tied embeddings: token_embd is the output matrix, so it gets Q6_K; Q8_0 stays Q8_0. */
    CHECK(type_1b(BIBIM_FTYPE_Q4_K_M, "token_embd.weight", 2048, 128256, 2) == BIBIM_TYPE_Q6_K);
    CHECK(type_1b(BIBIM_FTYPE_Q4_0, "token_embd.weight", 2048, 128256, 2) == BIBIM_TYPE_Q6_K);
    CHECK(type_1b(BIBIM_FTYPE_Q8_0, "token_embd.weight", 2048, 128256, 2) == BIBIM_TYPE_Q8_0);
    CHECK(type_1b(BIBIM_FTYPE_F16, "token_embd.weight", 2048, 128256, 2) == BIBIM_TYPE_F16);
    /* Norms and rope factors are never quantized. */
    CHECK(type_1b(BIBIM_FTYPE_Q4_K_M, "blk.0.attn_norm.weight", 2048, 1, 1) == BIBIM_TYPE_F32);
    CHECK(type_1b(BIBIM_FTYPE_Q4_K_M, "output_norm.weight", 2048, 1, 1) == BIBIM_TYPE_F32);
    CHECK(type_1b(BIBIM_FTYPE_Q4_K_M, "rope_freqs.weight", 32, 1, 1) == BIBIM_TYPE_F32);
    CHECK(type_1b(BIBIM_FTYPE_BF16, "output_norm.weight", 2048, 1, 1) == BIBIM_TYPE_F32);
    /* Rows that do not split into 256-blocks fall back to 32-element types. */
    CHECK(type_1b(BIBIM_FTYPE_Q4_K_S, "blk.5.attn_q.weight", 96, 96, 2) == BIBIM_TYPE_Q5_0);
    CHECK(type_1b(BIBIM_FTYPE_Q6_K, "blk.5.attn_q.weight", 96, 96, 2) == BIBIM_TYPE_Q8_0);
    CHECK(type_1b(BIBIM_FTYPE_Q4_0, "blk.5.attn_q.weight", 20, 96, 2) == BIBIM_TYPE_F16);
    return 0;
}

static int test_ftype_names(void) {
    const char *names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S",
                           "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bibim_ftype f;
        CHECKF(bibim_ftype_from_name(names[i], &f) == BIBIM_OK, "%s", names[i]);
        CHECKF(bibim_ftype_name(f) && !strcmp(bibim_ftype_name(f), names[i]), "%s", names[i]);
    }
    bibim_ftype f;
    CHECK(bibim_ftype_from_name("q4_k_m", &f) == BIBIM_OK && f == BIBIM_FTYPE_Q4_K_M);
    CHECK(bibim_ftype_from_name("Q4_K", &f) == BIBIM_ERR_NOT_FOUND);
    CHECK(bibim_ftype_from_name("", &f) == BIBIM_ERR_NOT_FOUND);
    return 0;
}

/* ---- whole files against llama.cpp's ---- */

typedef struct ref_file {
    const char *name;
    bibim_ftype ftype;
    int pure;
} ref_file;

static const ref_file ref_files[] = {
    {"F16", BIBIM_FTYPE_F16, 1},       {"BF16", BIBIM_FTYPE_BF16, 1},     {"Q8_0", BIBIM_FTYPE_Q8_0, 1},
    {"Q4_0", BIBIM_FTYPE_Q4_0, 1},     {"Q4_1", BIBIM_FTYPE_Q4_1, 1},     {"Q5_0", BIBIM_FTYPE_Q5_0, 1},
    {"Q5_1", BIBIM_FTYPE_Q5_1, 1},     {"Q2_K", BIBIM_FTYPE_Q2_K, 1},     {"Q3_K_S", BIBIM_FTYPE_Q3_K_S, 1},
    {"Q4_K_S", BIBIM_FTYPE_Q4_K_S, 1}, {"Q5_K_S", BIBIM_FTYPE_Q5_K_S, 1}, {"Q6_K", BIBIM_FTYPE_Q6_K, 1},
    {"Q4_K_M", BIBIM_FTYPE_Q4_K_M, 0},
};

/* Root-mean-square error of a quantized tensor against the F32 original. */
static double tensor_rmse(const bibim_tensor_info *q, const bibim_tensor_info *f32) {
    int64_t row = q->ne[0], n_rows = (int64_t)(q->n_elems / (uint64_t)row);
    float *buf = malloc((size_t)row * sizeof(float));
    const float *orig = f32->data;
    size_t row_bytes = (size_t)bibim_type_row_bytes(q->type, row);
    double sum = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        if (bibim_dequantize_row(q->type, (const uint8_t *)q->data + (size_t)r * row_bytes, buf, row) != BIBIM_OK) {
            free(buf);
            return INFINITY;
        }
        for (int64_t i = 0; i < row; i++) {
            double d = (double)buf[i] - (double)orig[r * row + i];
            sum += d * d;
        }
    }
    free(buf);
    return sqrt(sum / (double)q->n_elems);
}

static int compare_with_llama_cpp(const ref_file *rf, bibim_gguf *f32, int *identical, int *total) {
    char ref_path[256], out_path[256];
    snprintf(ref_path, sizeof ref_path, QUANT_DIR "/tiny-%s.gguf", rf->name);
    tmp_path(out_path, sizeof out_path, "ours.gguf");
    bibim_quantize_params p = bibim_quantize_default_params();
    p.ftype = rf->ftype;
    p.pure = rf->pure;
    p.n_threads = 2;
    char err[512];
    bibim_status st = bibim_quantize_model(TINY_F32, out_path, &p, err, sizeof err);
    CHECKF(st == BIBIM_OK, "%s: %s", rf->name, err);
    if (st != BIBIM_OK) return 0;
    bibim_gguf *ours = NULL, *ref = NULL;
    CHECK(bibim_gguf_open(out_path, &ours) == BIBIM_OK);
    CHECK(bibim_gguf_open(ref_path, &ref) == BIBIM_OK);
    if (!ours || !ref || bibim_gguf_errmsg(ours)[0] || bibim_gguf_errmsg(ref)[0]) goto done;

    uint32_t ft_ours = 0, ft_ref = 1, qv = 0;
    CHECK(bibim_gguf_get_u32(ours, "general.file_type", &ft_ours) == BIBIM_OK);
    CHECK(bibim_gguf_get_u32(ref, "general.file_type", &ft_ref) == BIBIM_OK);
    CHECKF(ft_ours == ft_ref, "%s: file_type %u, llama.cpp %u", rf->name, ft_ours, ft_ref);
    if (rf->ftype != BIBIM_FTYPE_F16 && rf->ftype != BIBIM_FTYPE_BF16) {
        CHECK(bibim_gguf_get_u32(ours, "general.quantization_version", &qv) == BIBIM_OK && qv == 2);
    }
    CHECK(bibim_gguf_n_tensors(ours) == bibim_gguf_n_tensors(ref));
    /* llama-quantize reorders tensors (by layer, then name); we keep the input's order, so match by name. */
    for (int64_t i = 0; i < bibim_gguf_n_tensors(ref); i++) {
        bibim_tensor_info a, b, orig;
        char name[80];
        bibim_gguf_tensor(ref, i, &b);
        snprintf(name, sizeof name, "%.*s", (int)b.name.len, b.name.ptr);
        int64_t ia = bibim_gguf_find_tensor(ours, name), io = bibim_gguf_find_tensor(f32, name);
        CHECKF(ia >= 0 && io >= 0, "%s: tensor %s missing", rf->name, name);
        if (ia < 0 || io < 0) continue;
        bibim_gguf_tensor(ours, ia, &a);
        bibim_gguf_tensor(f32, io, &orig);
        CHECKF(a.type == b.type, "%s: %.*s is %s, llama.cpp made %s", rf->name, (int)b.name.len, b.name.ptr,
               bibim_type_name(a.type), bibim_type_name(b.type));
        if (a.type != b.type || a.n_bytes != b.n_bytes) continue;
        (*total)++;
        if (!memcmp(a.data, b.data, a.n_bytes)) {
            (*identical)++;
            continue;
        }
        double ours_err = tensor_rmse(&a, &orig), ref_err = tensor_rmse(&b, &orig);
        CHECKF(ours_err <= ref_err * (1 + 1e-6), "%s: %.*s RMSE %.9g, llama.cpp %.9g", rf->name, (int)b.name.len,
               b.name.ptr, ours_err, ref_err);
    }
done:
    bibim_gguf_free(ours);
    bibim_gguf_free(ref);
    unlink(out_path);
    return 0;
}

static int test_files_match_llama_cpp(void) {
    SKIP_UNLESS_FILE(TINY_F32);
    bibim_gguf *f32 = NULL;
    CHECK(bibim_gguf_open(TINY_F32, &f32) == BIBIM_OK);
    for (size_t i = 0; i < sizeof ref_files / sizeof ref_files[0] && f32; i++) {
        char ref_path[256];
        snprintf(ref_path, sizeof ref_path, QUANT_DIR "/tiny-%s.gguf", ref_files[i].name);
        if (!file_exists(ref_path)) {
            printf("  skip %s: %s is absent\n", ref_files[i].name, ref_path);
            continue;
        }
        int identical = 0, total = 0;
        compare_with_llama_cpp(&ref_files[i], f32, &identical, &total);
        printf("  %-7s %2d of %2d tensors byte-identical to llama-quantize's\n", ref_files[i].name, identical, total);
    }
    bibim_gguf_free(f32);
    return 0;
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

static int test_same_output_for_any_thread_count(void) {
    SKIP_UNLESS_FILE(TINY_F32);
    char a[256], b[256], err[512];
    tmp_path(a, sizeof a, "t1.gguf");
    tmp_path(b, sizeof b, "t3.gguf");
    bibim_quantize_params p = bibim_quantize_default_params();
    p.n_threads = 1;
    CHECKF(bibim_quantize_model(TINY_F32, a, &p, err, sizeof err) == BIBIM_OK, "%s", err);
    p.n_threads = 3;
    CHECKF(bibim_quantize_model(TINY_F32, b, &p, err, sizeof err) == BIBIM_OK, "%s", err);
    CHECK(files_equal(a, b));
    unlink(a);
    unlink(b);
    return 0;
}

static int cancel_after_two(void *user, int64_t index, int64_t n, const bibim_tensor_info *t, uint64_t done,
                            uint64_t total) {
    (void)user, (void)n, (void)t, (void)done, (void)total;
    return index == 1;
}

static int test_refuses_and_leaves_nothing(void) {
    SKIP_UNLESS_FILE(TINY_F32);
    char out[256], link_path[256], err[512];
    bibim_quantize_params p = bibim_quantize_default_params();
    /* The input itself, by name and through a symlink. */
    CHECK(bibim_quantize_model(TINY_F32, TINY_F32, &p, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(err, "overwrite") != NULL);
    tmp_path(link_path, sizeof link_path, "link.gguf");
    char target[4096];
    CHECK(realpath(TINY_F32, target) != NULL);
    CHECK(symlink(target, link_path) == 0);
    CHECK(bibim_quantize_model(TINY_F32, link_path, &p, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    unlink(link_path);
    /* A missing input names the file and leaves no output. */
    tmp_path(out, sizeof out, "never.gguf");
    CHECK(bibim_quantize_model(QUANT_DIR "/no-such-file.gguf", out, &p, err, sizeof err) == BIBIM_ERR_IO);
    CHECKF(strstr(err, "no-such-file.gguf") != NULL, "message: %s", err);
    CHECK(!file_exists(out));
    /* Cancelled from the progress callback: no output, no temporary file. */
    p.progress = cancel_after_two;
    CHECK(bibim_quantize_model(TINY_F32, out, &p, err, sizeof err) == BIBIM_ERR_CANCELLED);
    CHECK(!file_exists(out));
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    CHECK(!file_exists(tmp));
    /* Bad parameters. */
    p = bibim_quantize_default_params();
    p.ftype = (bibim_ftype)5;
    CHECK(bibim_quantize_model(TINY_F32, out, &p, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    p = bibim_quantize_default_params();
    p.n_threads = -1;
    CHECK(bibim_quantize_model(TINY_F32, out, &p, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    CHECK(!file_exists(out));
    return 0;
}

/* Requantizing an already quantized file goes through dequantization. */
static int test_requantize(void) {
    const char *in = QUANT_DIR "/tiny-Q8_0.gguf";
    SKIP_UNLESS_FILE(in);
    char out[256], err[512];
    tmp_path(out, sizeof out, "requant.gguf");
    bibim_quantize_params p = bibim_quantize_default_params();
    p.ftype = BIBIM_FTYPE_Q4_0;
    CHECKF(bibim_quantize_model(in, out, &p, err, sizeof err) == BIBIM_OK, "%s", err);
    bibim_gguf *g = NULL;
    CHECK(bibim_gguf_open(out, &g) == BIBIM_OK);
    bibim_tensor_info t;
    CHECK(g && bibim_gguf_tensor(g, bibim_gguf_find_tensor(g, "blk.0.attn_q.weight"), &t) == BIBIM_OK &&
          t.type == BIBIM_TYPE_Q4_0);
    CHECK(g && bibim_gguf_tensor(g, bibim_gguf_find_tensor(g, "output.weight"), &t) == BIBIM_OK &&
          t.type == BIBIM_TYPE_Q6_K);
    bibim_gguf_free(g);
    unlink(out);
    return 0;
}

int main(void) {
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_recipe_llama_1b);
    RUN(test_ftype_names);
    RUN(test_files_match_llama_cpp);
    RUN(test_same_output_for_any_thread_count);
    RUN(test_refuses_and_leaves_nothing);
    RUN(test_requantize);
    rmdir(tmp_dir);
    return harness_finish();
}
