/* test_dot.c — the scalar dot-product kernels (src/dot.c, kernels.h):
 *   - each kernel against a float64 dot of the dequantized weights with the
 *     activations exactly as its activation type represents them (integer
 *     math is exact, so only float rounding may differ: 1e-5 of sum |w*a|);
 *   - and against the unquantized activations, within a bound derived from
 *     how the activation type rounds;
 *   - the activation quantizers' bytes checked by hand (layout, scales,
 *     halves rounded to even, zero blocks, extreme values);
 *   - weight rows at every legal offset of a mapped tensor give identical
 *     results;
 *   - and a throughput line per type (information, not a check). */
#include "bibim.h"
#include "fp16.h"
#include "harness.h"
#include "kernel_test_util.h"
#include "kernels.h"
#include "quant.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <time.h>

/* Every weight type bibim computes with, and its activation type. */
typedef struct weight_kind {
    bibim_type type;
    bibim_type act_type;
} weight_kind;

static const weight_kind weight_kinds[] = {
    {BIBIM_TYPE_F32, BIBIM_TYPE_F32},   {BIBIM_TYPE_F16, BIBIM_TYPE_F16},   {BIBIM_TYPE_BF16, BIBIM_TYPE_BF16},
    {BIBIM_TYPE_Q8_0, BIBIM_TYPE_Q8_0}, {BIBIM_TYPE_Q4_0, BIBIM_TYPE_Q8_0}, {BIBIM_TYPE_Q4_1, BIBIM_TYPE_Q8_1},
    {BIBIM_TYPE_Q5_0, BIBIM_TYPE_Q8_0}, {BIBIM_TYPE_Q5_1, BIBIM_TYPE_Q8_1}, {BIBIM_TYPE_Q2_K, BIBIM_TYPE_Q8_K},
    {BIBIM_TYPE_Q3_K, BIBIM_TYPE_Q8_K}, {BIBIM_TYPE_Q4_K, BIBIM_TYPE_Q8_K}, {BIBIM_TYPE_Q5_K, BIBIM_TYPE_Q8_K},
    {BIBIM_TYPE_Q6_K, BIBIM_TYPE_Q8_K},
};
#define N_KINDS (sizeof weight_kinds / sizeof weight_kinds[0])

/* Byte layouts of the activation blocks (ggml's block_q8_1, block_q8_K). */
#define Q8_1_BYTES 36
#define Q8_K_BYTES 292
#define Q8_K_QS 4
#define Q8_K_BSUMS (4 + QK_K)

/* Relative tolerance of a dot against its float64 reference, as a fraction
 * of sum |w_i * a_i|: float sums of a few thousand terms stay well inside. */
#define DOT_REL_TOL 1e-5

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Zeroed memory aligned to 32 bytes, as tensor data in a GGUF mapping. */
static void *alloc32(size_t bytes) {
    const size_t size = (bytes + 31) / 32 * 32;
    void *p = aligned_alloc(32, size ? size : 32);
    if (p) memset(p, 0, size ? size : 32);
    return p;
}

static float load_f32(const unsigned char *p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int16_t load_i16(const unsigned char *p) {
    int16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Alignment a pointer of this type needs (block structs: their f16 fields). */
static size_t row_alignment(bibim_type type) {
    if (type == BIBIM_TYPE_F32 || type == BIBIM_TYPE_Q8_K) return 4;
    return 2;
}

/* ------------------------------------------------------------------------ */
/* Activations as their type represents them                                */
/* ------------------------------------------------------------------------ */

/* a[i] = the value the kernel multiplies element i's weight by. */
static void act_values(bibim_type act_type, const unsigned char *act, int64_t n, double *a) {
    if (act_type == BIBIM_TYPE_Q8_1) {
        for (int64_t b = 0; b < n / 32; b++) {
            const unsigned char *blk = act + b * Q8_1_BYTES;
            const double d = fp16_to_fp32(get_u16(blk));
            for (int j = 0; j < 32; j++) a[32 * b + j] = d * (int8_t)blk[4 + j];
        }
    } else if (act_type == BIBIM_TYPE_Q8_K) {
        for (int64_t b = 0; b < n / QK_K; b++) {
            const unsigned char *blk = act + b * Q8_K_BYTES;
            const double d = load_f32(blk);
            for (int j = 0; j < QK_K; j++) a[QK_K * b + j] = d * (int8_t)blk[Q8_K_QS + j];
        }
    } else {
        float *f = malloc((size_t)n * sizeof *f);
        if (!f || bibim_dequantize_row(act_type, act, f, n) != BIBIM_OK) {
            for (int64_t i = 0; i < n; i++) a[i] = NAN;
        } else {
            for (int64_t i = 0; i < n; i++) a[i] = f[i];
        }
        free(f);
    }
}

/* Q8_1 block b: s - d * (sum of q), how far the stored s is from the sum of
 * the block's activations as represented (s is d * sum rounded to f16,
 * with the unrounded d). */
static double q8_1_s_excess(const unsigned char *act, int64_t b) {
    const unsigned char *blk = act + b * Q8_1_BYTES;
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += (int8_t)blk[4 + j];
    return (double)fp16_to_fp32(get_u16(blk + 2)) - (double)fp16_to_fp32(get_u16(blk)) * sum;
}

/* The min m of block b of a Q4_1/Q5_1 row (bytes 2..3 of each block). */
static double weight_block_min(bibim_type type, const unsigned char *w, int64_t b) {
    return fp16_to_fp32(get_u16(w + b * bibim_type_block_bytes(type) + 2));
}

/* ------------------------------------------------------------------------ */
/* One random dot product                                                   */
/* ------------------------------------------------------------------------ */

typedef struct dot_case {
    const weight_kind *kind;
    const dot_kernel *k;
    int64_t n;
    float *w;           /* weights before quantization */
    unsigned char *wq;  /* the quantized row, 32-byte aligned */
    float *wd;          /* the row dequantized */
    float *x;           /* activations */
    unsigned char *act; /* activations quantized by the kernel */
    double *a;          /* activations as the kernel sees them */
    float dot;
} dot_case;

static void case_free(dot_case *c) {
    free(c->w);
    free(c->wq);
    free(c->wd);
    free(c->x);
    free(c->act);
    free(c->a);
    memset(c, 0, sizeof *c);
}

/* Weights like a trained matrix's (a small random row offset, so mins
 * matter, and 1% outliers); activations like a hidden state's (1% large
 * outliers), at a random overall scale. Returns 0 on success. */
static int case_init(dot_case *c, const weight_kind *kind, int64_t n, uint64_t *rng) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->k = dot_kernel_for(kind->type);
    c->n = n;
    const int64_t w_bytes = bibim_type_row_bytes(kind->type, n);
    const int64_t act_bytes = c->k ? bibim_type_row_bytes(c->k->act_type, n) : -1;
    if (w_bytes < 0 || act_bytes < 0) return -1;
    c->w = malloc((size_t)n * sizeof *c->w);
    c->wq = alloc32((size_t)w_bytes);
    c->wd = malloc((size_t)n * sizeof *c->wd);
    c->x = malloc((size_t)n * sizeof *c->x);
    c->act = alloc32((size_t)act_bytes);
    c->a = malloc((size_t)n * sizeof *c->a);
    if (!c->w || !c->wq || !c->wd || !c->x || !c->act || !c->a) return -1;

    const float offset = (float)(next_uniform(rng) - 0.5);
    const float act_scale = (float)pow(10.0, 4.0 * next_uniform(rng) - 2.0);
    for (int64_t i = 0; i < n; i++) {
        c->w[i] = 0.02f * (next_gaussian(rng) + offset) * (next_uniform(rng) < 0.01 ? 8.0f : 1.0f);
        c->x[i] = act_scale * next_gaussian(rng) * (next_uniform(rng) < 0.01 ? 20.0f : 1.0f);
    }
    if (bibim_quantize_row(kind->type, c->w, c->wq, n) != BIBIM_OK) return -1;
    if (bibim_dequantize_row(kind->type, c->wq, c->wd, n) != BIBIM_OK) return -1;
    c->k->quantize_act(c->x, c->act, n);
    act_values(c->k->act_type, c->act, n, c->a);
    c->k->dot(n, c->wq, c->act, &c->dot);
    return 0;
}

/* The float64 dot the kernel must reproduce, and sum |terms| beside it.
 * For Q8_1 activations the kernel multiplies each block's min by s, not by
 * the sum of the block's activations: the reference does the same. */
static double exact_reference(const dot_case *c, double *magnitude) {
    double sum = 0, mag = 0;
    for (int64_t i = 0; i < c->n; i++) {
        sum += (double)c->wd[i] * c->a[i];
        mag += fabs((double)c->wd[i] * c->a[i]);
    }
    if (c->k->act_type == BIBIM_TYPE_Q8_1) {
        for (int64_t b = 0; b < c->n / 32; b++) {
            const double term = weight_block_min(c->kind->type, c->wq, b) * q8_1_s_excess(c->act, b);
            sum += term;
            mag += fabs(term);
        }
    }
    *magnitude = mag;
    return sum;
}

/* A bound on |a_i - x_i|: how far the activation type moves element i. */
static double act_error_bound(const dot_case *c, int64_t i) {
    const float x = c->x[i];
    switch (c->k->act_type) {
    case BIBIM_TYPE_F32: return 0;
    /* Round to nearest: half an ulp, 2^-11 of |x| for a normal half, at most
     * 2^-25 absolute below (subnormals). */
    case BIBIM_TYPE_F16: return ldexp(fabs(x), -11) + 0x1p-25;
    case BIBIM_TYPE_BF16: return ldexp(fabs(x), -8);
    case BIBIM_TYPE_Q8_0:
    case BIBIM_TYPE_Q8_1: {
        /* q = round(x * 127 / amax) is within 0.5 (+ float rounding) of
         * x / d_exact; the stored d differs from d_exact = amax / 127 by its
         * f16 rounding, which each |q| <= 127 multiplies. */
        const int64_t b0 = i / 32 * 32;
        double amax = 0;
        for (int j = 0; j < 32; j++) amax = fmax(amax, fabs(c->x[b0 + j]));
        const double d_exact = amax / 127;
        const unsigned char *blk = c->act + (b0 / 32) * bibim_type_block_bytes(c->k->act_type);
        const double d16 = fp16_to_fp32(get_u16(blk));
        return 0.5001 * d_exact + 127 * fabs(d16 - d_exact);
    }
    case BIBIM_TYPE_Q8_K: {
        /* q = round(iscale * x), d = 1 / iscale: within half a step. */
        const unsigned char *blk = c->act + (i / QK_K) * Q8_K_BYTES;
        return 0.5001 * fabs(load_f32(blk)) + ldexp(fabs(x), -22);
    }
    default: return INFINITY;
    }
}

/* The float64 dot with the unquantized activations, and the bound of how
 * far the kernel may be from it. */
static double float_reference(const dot_case *c, double *tolerance, double *magnitude) {
    double sum = 0, mag = 0, tol = 0;
    for (int64_t i = 0; i < c->n; i++) {
        sum += (double)c->wd[i] * c->x[i];
        mag += fabs((double)c->wd[i] * c->x[i]);
        tol += fabs((double)c->wd[i]) * act_error_bound(c, i);
    }
    if (c->k->act_type == BIBIM_TYPE_Q8_1) {
        for (int64_t b = 0; b < c->n / 32; b++) {
            tol += fabs(weight_block_min(c->kind->type, c->wq, b) * q8_1_s_excess(c->act, b));
        }
    }
    double exact_mag;
    exact_reference(c, &exact_mag);
    *tolerance = tol + DOT_REL_TOL * exact_mag;
    *magnitude = mag;
    return sum;
}

/* Row lengths to try: odd block counts up to 33 for the block quants; for
 * the float types element counts that exercise the lanes and the tail. */
static const int64_t block_counts[] = {1, 2, 3, 5, 7, 9, 11, 13, 17, 23, 29, 33};
static const int64_t float_lengths[] = {1, 2, 3, 5, 7, 31, 32, 33, 63, 65, 100, 257, 1000, 4103};
#define N_BLOCK_COUNTS (sizeof block_counts / sizeof block_counts[0])
#define N_FLOAT_LENGTHS (sizeof float_lengths / sizeof float_lengths[0])
#define TRIALS 4

static int n_lengths(bibim_type type) {
    return bibim_type_block_elems(type) == 1 ? (int)N_FLOAT_LENGTHS : (int)N_BLOCK_COUNTS;
}

static int64_t length_at(bibim_type type, int i) {
    const int64_t block = bibim_type_block_elems(type);
    return block == 1 ? float_lengths[i] : block_counts[i] * block;
}

/* ------------------------------------------------------------------------ */
/* The kernel table                                                         */
/* ------------------------------------------------------------------------ */

static int test_kernel_table(void) {
    for (size_t t = 0; t < N_KINDS; t++) {
        const dot_kernel *k = dot_kernel_for(weight_kinds[t].type);
        CHECKF(k != NULL, "%s", bibim_type_name(weight_kinds[t].type));
        if (!k) continue;
        CHECKF(k->act_type == weight_kinds[t].act_type, "%s pairs with %s", bibim_type_name(weight_kinds[t].type),
               bibim_type_name(k->act_type));
        CHECK(k->quantize_act != NULL && k->dot != NULL);
        CHECK(dot_kernel_for(weight_kinds[t].type) == k);
    }
    /* The activation blocks' sizes this test decodes by. */
    CHECK(bibim_type_row_bytes(BIBIM_TYPE_Q8_1, 32) == Q8_1_BYTES);
    CHECK(bibim_type_row_bytes(BIBIM_TYPE_Q8_K, QK_K) == Q8_K_BYTES);
    /* Every other id, known or not, has no kernel. */
    for (uint32_t id = 0; id < 64; id++) {
        int listed = 0;
        for (size_t t = 0; t < N_KINDS; t++) listed |= weight_kinds[t].type == (bibim_type)id;
        if (!listed) CHECKF(dot_kernel_for((bibim_type)id) == NULL, "type id %u", id);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Random dots against float64 references                                   */
/* ------------------------------------------------------------------------ */

static int test_dot_matches_represented_activations(void) {
    uint64_t rng = 1;
    printf("  type   act   worst |dot - ref| / sum|w*a|   (exact activations, tolerance %.0e)\n", DOT_REL_TOL);
    for (size_t t = 0; t < N_KINDS; t++) {
        const bibim_type type = weight_kinds[t].type;
        double worst = 0;
        for (int li = 0; li < n_lengths(type); li++) {
            for (int trial = 0; trial < TRIALS; trial++) {
                dot_case c;
                const int64_t n = length_at(type, li);
                if (case_init(&c, &weight_kinds[t], n, &rng) != 0) {
                    CHECKF(0, "%s: cannot set up n = %lld", bibim_type_name(type), (long long)n);
                    case_free(&c);
                    continue;
                }
                double mag;
                const double ref = exact_reference(&c, &mag);
                const double err = fabs(c.dot - ref);
                CHECKF(err <= DOT_REL_TOL * mag, "%s n=%lld: dot %.9g, reference %.9g, error %.3g of %.3g",
                       bibim_type_name(type), (long long)n, c.dot, ref, err / mag, mag);
                if (mag > 0 && err / mag > worst) worst = err / mag;
                case_free(&c);
            }
        }
        printf("  %-5s  %-4s  %.2e\n", bibim_type_name(type), bibim_type_name(weight_kinds[t].act_type), worst);
    }
    return 0;
}

static int test_dot_matches_float_activations(void) {
    uint64_t rng = 2;
    printf("  type   worst |dot - ref| / bound   worst |dot - ref| / sum|w*x|   (unquantized activations)\n");
    for (size_t t = 0; t < N_KINDS; t++) {
        const bibim_type type = weight_kinds[t].type;
        double worst_of_bound = 0, worst_rel = 0;
        for (int li = 0; li < n_lengths(type); li++) {
            for (int trial = 0; trial < TRIALS; trial++) {
                dot_case c;
                const int64_t n = length_at(type, li);
                if (case_init(&c, &weight_kinds[t], n, &rng) != 0) {
                    CHECKF(0, "%s: cannot set up n = %lld", bibim_type_name(type), (long long)n);
                    case_free(&c);
                    continue;
                }
                double tol, mag;
                const double ref = float_reference(&c, &tol, &mag);
                const double err = fabs(c.dot - ref);
                CHECKF(err <= tol, "%s n=%lld: dot %.9g, reference %.9g, error %.3g > bound %.3g",
                       bibim_type_name(type), (long long)n, c.dot, ref, err, tol);
                if (tol > 0 && err / tol > worst_of_bound) worst_of_bound = err / tol;
                if (mag > 0 && err / mag > worst_rel) worst_rel = err / mag;
                case_free(&c);
            }
        }
        printf("  %-5s  %.3f                      %.2e\n", bibim_type_name(type), worst_of_bound, worst_rel);
    }
    return 0;
}

/* The F16 dot converts halves to floats its own (branch-free) way: every
 * half, in a lane of the vectorized loop and in the tail, times 1.0 must
 * give fp16_to_fp32's value. */
static int test_f16_every_half(void) {
    const dot_kernel *k = dot_kernel_for(BIBIM_TYPE_F16);
    uint16_t w[33] = {0}, a[33];
    for (int i = 0; i < 33; i++) a[i] = 0x3C00; /* 1.0 */
    int bad = 0;
    for (uint32_t h = 0; h <= 0xFFFF; h++) {
        const float expected = fp16_to_fp32((uint16_t)h);
        float in_lane, in_tail;
        w[5] = (uint16_t)h;
        k->dot(32, w, a, &in_lane);
        w[5] = 0;
        w[32] = (uint16_t)h;
        k->dot(33, w, a, &in_tail);
        w[32] = 0;
        const int ok = isnan(expected) ? isnan(in_lane) && isnan(in_tail) : in_lane == expected && in_tail == expected;
        if (!ok && bad++ < 5) CHECKF(0, "half %04x: %a, %a, expected %a", h, in_lane, in_tail, expected);
    }
    CHECK(bad == 0);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Activation quantizers by hand                                            */
/* ------------------------------------------------------------------------ */

/* A Q8_0/Q8_1 block with amax 127 (so d = 1 and x * 127 / amax = x) holding
 * halves on both sides of zero, and its codes rounded halves to even
 * (roundf, ggml's portable reference, would give 1, 3, -1, -3, ... here). */
static void q8_block_with_halves(float x[32], int8_t q[32]) {
    static const float xs[12] = {127.0f, -63.5f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f, 3.51f, 126.5f, -127.0f};
    static const int8_t qs[12] = {127, -64, 0, 2, 2, 0, -2, -2, 3, 4, 126, -127};
    for (int j = 0; j < 32; j++) {
        x[j] = j < 12 ? xs[j] : (float)(j - 20);
        q[j] = j < 12 ? qs[j] : (int8_t)(j - 20);
    }
}

static int test_quantize_q8_0_by_hand(void) {
    const dot_kernel *k = dot_kernel_for(BIBIM_TYPE_Q4_0);
    float x[96];
    int8_t q[32];
    q8_block_with_halves(x, q);
    /* Block 1: all zero. Block 2: amax 254 at a negative element, d = 2:
     * 5 -> 2.5 -> 2, 7 -> 3.5 -> 4, -3 -> -1.5 -> -2. */
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;
    for (int j = 0; j < 32; j++) x[64 + j] = (float)(2 * (j - 16));
    x[64] = -254.0f;
    x[65] = 5.0f;
    x[66] = 7.0f;
    x[67] = -3.0f;
    unsigned char y[3 * 34];
    memset(y, 0xAA, sizeof y);
    k->quantize_act(x, y, 96);

    CHECK(get_u16(y) == 0x3C00); /* f16 1.0 */
    for (int j = 0; j < 32; j++) CHECKF((int8_t)y[2 + j] == q[j], "q[%d] = %d, expected %d", j, (int8_t)y[2 + j], q[j]);
    for (int j = 0; j < 34; j++) CHECKF(y[34 + j] == 0, "zero block byte %d = %d", j, y[34 + j]);
    CHECK(get_u16(y + 68) == 0x4000); /* f16 2.0 */
    const int8_t expected2[4] = {-127, 2, 4, -2};
    for (int j = 0; j < 4; j++) CHECKF((int8_t)y[70 + j] == expected2[j], "block 2 q[%d] = %d", j, (int8_t)y[70 + j]);
    for (int j = 4; j < 32; j++) CHECK((int8_t)y[70 + j] == j - 16);
    return 0;
}

static int test_quantize_q8_1_by_hand(void) {
    const dot_kernel *k = dot_kernel_for(BIBIM_TYPE_Q4_1);
    float x[64];
    int8_t q[32];
    q8_block_with_halves(x, q);
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;
    unsigned char y[2 * Q8_1_BYTES];
    memset(y, 0xAA, sizeof y);
    k->quantize_act(x, y, 64);

    int sum = 0;
    for (int j = 0; j < 32; j++) sum += q[j];
    CHECK(get_u16(y) == 0x3C00);
    CHECKF(get_u16(y + 2) == fp32_to_fp16((float)sum), "s = %04x, sum of q = %d", get_u16(y + 2), sum);
    for (int j = 0; j < 32; j++) CHECKF((int8_t)y[4 + j] == q[j], "q[%d] = %d, expected %d", j, (int8_t)y[4 + j], q[j]);
    for (int j = 0; j < Q8_1_BYTES; j++) CHECKF(y[Q8_1_BYTES + j] == 0, "zero block byte %d", j);

    /* s is f16(d * sum) with the float d = amax / 127, not with d as stored
     * (f16): find a block where the two differ. */
    uint64_t rng = 7;
    int found = 0;
    for (int it = 0; it < 10000 && !found; it++) {
        for (int j = 0; j < 32; j++) x[j] = (float)(next_uniform(&rng) * 2.0 - 0.5);
        k->quantize_act(x, y, 32);
        int codes = 0;
        for (int j = 0; j < 32; j++) codes += (int8_t)y[4 + j];
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        const float d = amax / 127.0f;
        const uint16_t expected = fp32_to_fp16(d * (float)codes);
        if (expected == fp32_to_fp16(fp16_to_fp32(fp32_to_fp16(d)) * (float)codes)) continue;
        CHECKF(get_u16(y + 2) == expected, "s = %04x, expected %04x", get_u16(y + 2), expected);
        found = 1;
    }
    CHECK(found);
    return 0;
}

/* ggml's x86 quantizers scale by 127 / amax, not by 1 / d: find an amax
 * where the two differ and an element where that changes the code. */
static int test_quantize_q8_0_inverse_scale(void) {
    const dot_kernel *k = dot_kernel_for(BIBIM_TYPE_Q8_0);
    uint64_t rng = 3;
    int found = 0;
    for (int it = 0; it < 100000 && !found; it++) {
        const float amax = 1.0f + (float)next_uniform(&rng);
        const float id = 127.0f / amax, id_via_d = 1.0f / (amax / 127.0f);
        if (id == id_via_d) continue;
        for (int code = -126; code < 126 && !found; code++) {
            const float probe = ((float)code + 0.5f) / id;
            if (nearbyintf(probe * id) == nearbyintf(probe * id_via_d)) continue;
            float x[32] = {amax, probe};
            unsigned char y[34];
            k->quantize_act(x, y, 32);
            CHECKF((int8_t)y[3] == (int8_t)nearbyintf(probe * id), "amax %a, x %a: q = %d", amax, probe, (int8_t)y[3]);
            found = 1;
        }
    }
    CHECK(found);
    return 0;
}

static int test_quantize_q8_K_by_hand(void) {
    const dot_kernel *k = dot_kernel_for(BIBIM_TYPE_Q4_K);
    float x[4 * QK_K];
    int8_t q[4 * QK_K];
    /* Block 0: the largest magnitude is +127, so iscale = -127 / 127 = -1:
     * d = -1 and each code is -x rounded halves to even. */
    for (int j = 0; j < QK_K; j++) {
        x[j] = (float)(j % 7 - 3);
        q[j] = (int8_t)-(j % 7 - 3);
    }
    const float halves[6] = {2.5f, -0.5f, 1.5f, -2.5f, 0.5f, 127.0f};
    const int8_t halves_q[6] = {-2, 0, -2, 2, 0, -127};
    for (int j = 0; j < 6; j++) {
        x[10 + j] = halves[j];
        q[10 + j] = halves_q[j];
    }
    /* Block 1: largest magnitude -254: iscale = 0.5, d = 2. */
    for (int j = 0; j < QK_K; j++) {
        x[QK_K + j] = (float)(2 * (j % 11) - 10);
        q[QK_K + j] = (int8_t)((j % 11) - 5);
    }
    x[QK_K + 100] = -254.0f;
    q[QK_K + 100] = -127;
    x[QK_K + 101] = 5.0f; /* 2.5 -> 2 */
    q[QK_K + 101] = 2;
    x[QK_K + 102] = 7.0f; /* 3.5 -> 4 */
    q[QK_K + 102] = 4;
    /* Block 2: all zero. Block 3: +3 and -3 tie; the first (+3) wins, so
     * d = 1 / (-127 / 3) < 0, +3 -> -127 and -3 -> +127. */
    for (int j = 0; j < QK_K; j++) {
        x[2 * QK_K + j] = 0.0f;
        q[2 * QK_K + j] = 0;
        x[3 * QK_K + j] = 0.0f;
        q[3 * QK_K + j] = 0;
    }
    x[3 * QK_K + 40] = 3.0f;
    q[3 * QK_K + 40] = -127;
    x[3 * QK_K + 41] = -3.0f;
    q[3 * QK_K + 41] = 127;

    unsigned char y[4 * Q8_K_BYTES];
    memset(y, 0xAA, sizeof y);
    k->quantize_act(x, y, 4 * QK_K);

    const float expected_d[4] = {-1.0f, 2.0f, 0.0f, 1.0f / (-127.0f / 3.0f)};
    for (int b = 0; b < 4; b++) {
        const unsigned char *blk = y + b * Q8_K_BYTES;
        CHECKF(fp32_to_bits(load_f32(blk)) == fp32_to_bits(expected_d[b]), "block %d: d = %a, expected %a", b,
               load_f32(blk), expected_d[b]);
        for (int j = 0; j < QK_K; j++) {
            CHECKF((int8_t)blk[Q8_K_QS + j] == q[b * QK_K + j], "block %d q[%d] = %d, expected %d", b, j,
                   (int8_t)blk[Q8_K_QS + j], q[b * QK_K + j]);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += q[b * QK_K + 16 * g + l];
            CHECKF(load_i16(blk + Q8_K_BSUMS + 2 * g) == sum, "block %d bsums[%d] = %d, expected %d", b, g,
                   load_i16(blk + Q8_K_BSUMS + 2 * g), sum);
        }
    }
    for (int j = 0; j < Q8_K_BYTES; j++) CHECKF(y[2 * Q8_K_BYTES + j] == 0, "zero block byte %d", j);
    return 0;
}

/* Largest floats, subnormals, infinities and NaN: codes stay in +-127,
 * a scale that cannot be stored is what ggml stores (f16 overflow to inf,
 * underflow to 0), and a block whose scale is 0 contributes nothing. */
static int test_quantize_extremes(void) {
    static const bibim_type weights[3] = {BIBIM_TYPE_Q8_0, BIBIM_TYPE_Q4_1, BIBIM_TYPE_Q6_K};
    for (int t = 0; t < 3; t++) {
        const dot_kernel *k = dot_kernel_for(weights[t]);
        const int64_t block = bibim_type_block_elems(k->act_type), block_bytes = bibim_type_block_bytes(k->act_type);
        const int qs = k->act_type == BIBIM_TYPE_Q8_0 ? 2 : 4;
        enum { MAX, SUBNORMAL, INF, NAN_, N_PATTERNS };
        float *x = calloc((size_t)(N_PATTERNS * block), sizeof *x);
        unsigned char *y = alloc32((size_t)(N_PATTERNS * block_bytes));
        if (!x || !y) {
            CHECK(0);
            free(x);
            free(y);
            return 0;
        }
        x[MAX * block] = FLT_MAX;
        x[MAX * block + 1] = -FLT_MAX;
        x[MAX * block + 2] = 1.0f;
        x[SUBNORMAL * block] = 1e-40f;
        x[SUBNORMAL * block + 1] = -1e-45f;
        x[INF * block] = INFINITY;
        x[INF * block + 1] = 1.0f;
        x[NAN_ * block] = NAN;
        x[NAN_ * block + 1] = 1.0f;
        k->quantize_act(x, y, N_PATTERNS * block);
        for (int p = 0; p < N_PATTERNS; p++) {
            for (int j = 0; j < block; j++) {
                const int code = (int8_t)y[p * block_bytes + qs + j];
                CHECKF(code >= -127 && code <= 127, "%s pattern %d q[%d] = %d", bibim_type_name(k->act_type), p, j,
                       code);
            }
        }
        const unsigned char *max_blk = y + MAX * block_bytes;
        CHECK(abs((int8_t)max_blk[qs]) == 127 && (int8_t)max_blk[qs + 1] == -(int8_t)max_blk[qs]);
        CHECK((int8_t)max_blk[qs + 2] == 0);
        /* The subnormal block's scale is 0 (f16 underflow, or 1 / -inf). */
        const unsigned char *sub_blk = y + SUBNORMAL * block_bytes;
        const double d_sub = k->act_type == BIBIM_TYPE_Q8_K ? load_f32(sub_blk) : fp16_to_fp32(get_u16(sub_blk));
        CHECKF(d_sub == 0, "%s subnormal block d = %g", bibim_type_name(k->act_type), d_sub);
        /* The NaN is skipped by the largest-magnitude search (x86 ggml would
         * spread it); the block still quantizes its finite element. */
        const unsigned char *nan_blk = y + NAN_ * block_bytes;
        CHECK(abs((int8_t)nan_blk[qs + 1]) == 127);
        free(x);
        free(y);
    }
    return 0;
}

/* All-zero activations or weights give exactly 0. */
static int test_zero_dots(void) {
    for (size_t t = 0; t < N_KINDS; t++) {
        const bibim_type type = weight_kinds[t].type;
        const dot_kernel *k = dot_kernel_for(type);
        const int64_t n = 2 * bibim_type_block_elems(type) * (bibim_type_block_elems(type) == 1 ? 64 : 1);
        float *x = calloc((size_t)n, sizeof *x), *w = malloc((size_t)n * sizeof *w);
        unsigned char *wq = alloc32((size_t)bibim_type_row_bytes(type, n));
        unsigned char *act = alloc32((size_t)bibim_type_row_bytes(k->act_type, n));
        if (!x || !w || !wq || !act) {
            CHECK(0);
        } else {
            uint64_t rng = 4;
            for (int64_t i = 0; i < n; i++) w[i] = next_gaussian(&rng);
            CHECK(bibim_quantize_row(type, w, wq, n) == BIBIM_OK);
            k->quantize_act(x, act, n);
            float dot = -1.0f;
            k->dot(n, wq, act, &dot);
            CHECKF(dot == 0.0f, "%s: w . 0 = %g", bibim_type_name(type), dot);
            for (int64_t i = 0; i < n; i++) x[i] = next_gaussian(&rng);
            memset(w, 0, (size_t)n * sizeof *w);
            CHECK(bibim_quantize_row(type, w, wq, n) == BIBIM_OK);
            k->quantize_act(x, act, n);
            dot = -1.0f;
            k->dot(n, wq, act, &dot);
            CHECKF(dot == 0.0f, "%s: 0 . x = %g", bibim_type_name(type), dot);
        }
        free(x);
        free(w);
        free(wq);
        free(act);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* llama.cpp's float arithmetic, step by step                               */
/* ------------------------------------------------------------------------ */

/* The kernels reproduce llama.cpp's CPU results bit for bit (see dot.c):
 * the tests below restate each kernel's float steps independently, from
 * the decoded bytes, with the C library's fmaf for an FMA, and require
 * identical bits on inputs spread over many binades, where a different
 * order or a double rounding shows. */

/* _mm512_reduce_add_ps and hsum_float_8, as specified in dot.c. */
static float model_reduce_16(const float lanes[16]) {
    float v[16];
    memcpy(v, lanes, sizeof v);
    for (int width = 8; width > 0; width /= 2) {
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    }
    return v[0];
}

static float model_hsum_8(const float v[8]) {
    return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

/* A float of random sign, 24 random significant bits and a binade in
 * [lo, hi]. */
static float wide_float(uint64_t *rng, int lo, int hi) {
    const uint64_t r = next_u64(rng);
    const float m = (float)(0x800000u | (uint32_t)(r & 0x7FFFFF)) * 0x1p-23f;
    const int e = lo + (int)((r >> 23) % (uint64_t)(hi - lo + 1));
    return (r >> 40 & 1) ? -ldexpf(m, e) : ldexpf(m, e);
}

/* The F32 kernel's lane 0 is fma(w[16], a[16], w[0] * a[0]) when every
 * other element is 0; with a[0] = 1 that is fma(y, v, c). */
static float f32_kernel_fma(float y, float v, float c) {
    float w[32] = {0}, a[32] = {0}, out;
    w[0] = c;
    a[0] = 1.0f;
    w[16] = y;
    a[16] = v;
    dot_kernel_for(BIBIM_TYPE_F32)->dot(32, w, a, &out);
    return out;
}

/* dot.c emulates an FMA in double, where c + y*v can land exactly between
 * two floats and would round twice. With y*v = +-ulp(c)/2 * (1 - 2^-46),
 * the exact sum lies just inside c's rounding interval: the answer is c,
 * while a rounding of the double sum (a tie) goes to the even neighbour
 * when c is odd. Then random operands. */
static int test_fma_rounds_once(void) {
    int crafted = 0, wrong_if_double_rounded = 0;
    for (int e = -100; e <= 100; e += 20) {
        const int p = (e - 24) / 2;
        const float y = ldexpf(1.0f - 0x1p-23f, p), v = ldexpf(1.0f + 0x1p-23f, e - 24 - p);
        for (int k = 1; k <= 2; k++) { /* c's last bit odd, then even */
            for (int signs = 0; signs < 4; signs++) {
                const float c = ldexpf(1.0f + (float)k * 0x1p-23f, e) * ((signs & 1) ? -1.0f : 1.0f);
                const float vs = (signs & 2) ? -v : v;
                const float expected = fmaf(y, vs, c), got = f32_kernel_fma(y, vs, c);
                CHECKF(fp32_to_bits(got) == fp32_to_bits(expected), "fma(%a, %a, %a) = %a, expected %a", y, vs, c,
                       got, expected);
                CHECK(expected == c);
                wrong_if_double_rounded += (float)((double)y * (double)vs + (double)c) != expected;
                crafted++;
            }
        }
    }
    CHECKF(wrong_if_double_rounded == crafted / 2, "%d of %d crafted cases exercise double rounding",
           wrong_if_double_rounded, crafted);
    uint64_t rng = 7;
    int bad = 0;
    for (int i = 0; i < 300000; i++) {
        const float y = wide_float(&rng, -40, 40), v = wide_float(&rng, -40, 40);
        /* c near y * v in size, so that they cancel or round at every bit */
        const int e = ilogbf(y) + ilogbf(v) + (int)(next_u64(&rng) % 61) - 30;
        const float c = wide_float(&rng, e, e);
        const float expected = fmaf(y, v, c), got = f32_kernel_fma(y, v, c);
        if (fp32_to_bits(got) != fp32_to_bits(expected) && !(got == 0 && expected == 0) && bad++ < 5) {
            CHECKF(0, "fma(%a, %a, %a) = %a, expected %a", y, v, c, got, expected);
        }
    }
    CHECK(bad == 0);
    return 0;
}

/* F32, F16 and BF16 (tinyBLAS): 16 lanes, element order within each, the
 * reduction; BF16 in steps of 32 with the odd element of each pair first.
 * Values over 40 binades make every association visible; the sequential sum
 * must differ somewhere, or the inputs would prove nothing. */
static int test_float_orders(void) {
    uint64_t rng = 8;
    int order_visible = 0;
    for (int t = 0; t < 3; t++) {
        const bibim_type type = t == 0 ? BIBIM_TYPE_F32 : t == 1 ? BIBIM_TYPE_F16 : BIBIM_TYPE_BF16;
        const dot_kernel *k = dot_kernel_for(type);
        for (int trial = 0; trial < 200; trial++) {
            const int64_t n = 32 * (1 + trial % 8);
            float w[256], x[256], a[256], lanes[16] = {0}, sequential = 0.0f;
            uint16_t wh[256], ah[256];
            for (int64_t i = 0; i < n; i++) {
                w[i] = wide_float(&rng, -10, 10);
                x[i] = wide_float(&rng, -10, 10);
                if (type == BIBIM_TYPE_F16) {
                    wh[i] = fp32_to_fp16(w[i]);
                    w[i] = fp16_to_fp32(wh[i]);
                } else if (type == BIBIM_TYPE_BF16) {
                    wh[i] = fp32_to_bf16(w[i]);
                    w[i] = bf16_to_fp32(wh[i]);
                }
            }
            k->quantize_act(x, type == BIBIM_TYPE_F32 ? (void *)a : (void *)ah, n);
            for (int64_t i = 0; i < n; i++) {
                if (type != BIBIM_TYPE_F32) a[i] = type == BIBIM_TYPE_F16 ? fp16_to_fp32(ah[i]) : bf16_to_fp32(ah[i]);
            }
            if (type == BIBIM_TYPE_BF16) {
                for (int64_t i = 0; i < n; i += 32) {
                    for (int l = 0; l < 16; l++) {
                        lanes[l] = fmaf(w[i + 2 * l + 1], a[i + 2 * l + 1], lanes[l]);
                        lanes[l] = fmaf(w[i + 2 * l], a[i + 2 * l], lanes[l]);
                    }
                }
            } else {
                for (int64_t i = 0; i < n; i++) lanes[i % 16] = fmaf(w[i], a[i], lanes[i % 16]);
            }
            for (int64_t i = 0; i < n; i++) sequential = fmaf(w[i], a[i], sequential);
            const float expected = model_reduce_16(lanes);
            float got;
            k->dot(n, type == BIBIM_TYPE_F32 ? (const void *)w : (const void *)wh,
                   type == BIBIM_TYPE_F32 ? (const void *)a : (const void *)ah, &got);
            CHECKF(fp32_to_bits(got) == fp32_to_bits(expected), "%s n=%lld: %a, expected %a", bibim_type_name(type),
                   (long long)n, got, expected);
            order_visible += sequential != expected;
        }
    }
    CHECK(order_visible > 300);
    return 0;
}

/* Quantized rows: the integer lanes computed here from the decoded codes,
 * then llama.cpp's float steps for the type. Weights and activations over
 * 6 binades, block to block. */
typedef struct quant_case {
    float w[512], x[512];
    unsigned char wq[1024], act[1024];
} quant_case;

static void quant_case_init(quant_case *c, bibim_type type, int64_t n, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) {
        const int block = (int)(i / 32);
        c->w[i] = ldexpf(next_gaussian(rng), -3 - (block * 7) % 6);
        c->x[i] = ldexpf(next_gaussian(rng), (block * 5) % 6 - 3);
    }
    memset(c->wq, 0, sizeof c->wq);
    memset(c->act, 0, sizeof c->act);
    bibim_quantize_row(type, c->w, c->wq, n);
    dot_kernel_for(type)->quantize_act(c->x, c->act, n);
}

/* Lane l of 32 codes times 32 activation codes: elements 4l .. 4l+3. */
static void model_lanes_32(const int *q, const int8_t *a, const int *scale16, int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    for (int j = 0; j < 32; j++) lane[j / 4] += (scale16 ? scale16[j / 16] : 1) * q[j] * a[j];
}

static void model_fma_lanes(float acc[8], float d, const int32_t lane[8]) {
    for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
}

static float q8_0_model(const unsigned char *wq, const unsigned char *act, int64_t n, bibim_type type) {
    float acc[8] = {0}, single = 0.0f;
    const int64_t w_bytes = bibim_type_block_bytes(type);
    for (int64_t b = 0; b < n / 32; b++) {
        const unsigned char *wb = wq + b * w_bytes, *ab = act + b * 34;
        int q[32];
        for (int j = 0; j < 32; j++) {
            if (type == BIBIM_TYPE_Q8_0) q[j] = (int8_t)wb[2 + j];
            else q[j] = (j < 16 ? wb[2 + j] & 15 : wb[2 + j - 16] >> 4) - 8; /* Q4_0 */
        }
        int32_t lane[8];
        model_lanes_32(q, (const int8_t *)ab + 2, NULL, lane);
        const float d = fp16_to_fp32(get_u16(wb)) * fp16_to_fp32(get_u16(ab));
        model_fma_lanes(acc, d, lane);
        int32_t dot = 0;
        for (int l = 0; l < 8; l++) dot += lane[l];
        single = fmaf((float)dot, d, single);
    }
    /* Q4_0: the repacked GEMM's one float per output */
    return type == BIBIM_TYPE_Q4_0 ? single : model_hsum_8(acc);
}

/* Q4_1 and Q5_1: 8 lanes and the mins apart, added last. */
static float q4_1_model(const unsigned char *wq, const unsigned char *act, int64_t n, bibim_type type) {
    float acc[8] = {0}, mins = 0.0f;
    const int five = type == BIBIM_TYPE_Q5_1;
    const int64_t w_bytes = bibim_type_block_bytes(type);
    for (int64_t b = 0; b < n / 32; b++) {
        const unsigned char *wb = wq + b * w_bytes, *ab = act + b * Q8_1_BYTES;
        const unsigned char *qs = wb + (five ? 8 : 4);
        const uint32_t qh = five ? (uint32_t)(wb[4] | wb[5] << 8 | wb[6] << 16 | (uint32_t)wb[7] << 24) : 0;
        int q[32];
        for (int j = 0; j < 32; j++) q[j] = (j < 16 ? qs[j] & 15 : qs[j - 16] >> 4) + (int)((qh >> j) & 1) * 16;
        int32_t lane[8];
        model_lanes_32(q, (const int8_t *)ab + 4, NULL, lane);
        mins += fp16_to_fp32(get_u16(wb + 2)) * fp16_to_fp32(get_u16(ab + 2));
        model_fma_lanes(acc, fp16_to_fp32(get_u16(wb)) * fp16_to_fp32(get_u16(ab)), lane);
    }
    return model_hsum_8(acc) + mins;
}

/* Q3_K: 8 lanes, no mins. Codes and 6-bit scales decoded from the bytes:
 * hmask[32], qs[64], scales[12], d. */
static float q3_K_model(const unsigned char *wq, const unsigned char *act, int64_t n) {
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        const unsigned char *wb = wq + b * 110, *ab = act + b * Q8_K_BYTES;
        int q[QK_K], scale16[16];
        for (int e = 0; e < QK_K; e++) {
            const int low = (wb[32 + 32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
            q[e] = low - ((wb[e % 32] >> (e / 32)) & 1 ? 0 : 4);
        }
        for (int s = 0; s < 16; s++) scale16[s] = q3k_scale(wb + 96, s) - 32;
        int32_t lanes[8] = {0};
        for (int v = 0; v < 8; v++) {
            int32_t lane[8];
            model_lanes_32(q + 32 * v, (const int8_t *)ab + Q8_K_QS + 32 * v, scale16 + 2 * v, lane);
            for (int l = 0; l < 8; l++) lanes[l] += lane[l];
        }
        model_fma_lanes(acc, load_f32(ab) * fp16_to_fp32(get_u16(wb + 108)), lanes);
    }
    return model_hsum_8(acc);
}

/* Q5_K: 8 lanes; the mins summed to one integer per block and added to one
 * float by an FMA, after the lanes. d, dmin, scales[12], qh[32], qs[128]. */
static float q5_K_model(const unsigned char *wq, const unsigned char *act, int64_t n) {
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const unsigned char *wb = wq + b * 176, *ab = act + b * Q8_K_BYTES;
        int q[QK_K], scale16[16];
        int32_t mins = 0;
        for (int e = 0; e < QK_K; e++) {
            const unsigned char byte = wb[48 + 32 * (e / 64) + e % 32];
            q[e] = ((e % 64 < 32) ? byte & 15 : byte >> 4) + ((wb[16 + e % 32] >> (e / 32)) & 1) * 16;
        }
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            k4_scale_min(wb + 4, s, &sc, &m);
            scale16[2 * s] = scale16[2 * s + 1] = sc;
            mins += m * (load_i16(ab + Q8_K_BSUMS + 4 * s) + load_i16(ab + Q8_K_BSUMS + 4 * s + 2));
        }
        int32_t lanes[8] = {0};
        for (int v = 0; v < 8; v++) {
            int32_t lane[8];
            model_lanes_32(q + 32 * v, (const int8_t *)ab + Q8_K_QS + 32 * v, scale16 + 2 * v, lane);
            for (int l = 0; l < 8; l++) lanes[l] += lane[l];
        }
        const float da = load_f32(ab);
        summs = fmaf(-da * fp16_to_fp32(get_u16(wb + 2)), (float)mins, summs);
        model_fma_lanes(acc, da * fp16_to_fp32(get_u16(wb)), lanes);
    }
    return model_hsum_8(acc) + summs;
}

static int test_block_orders(void) {
    static const bibim_type types[] = {BIBIM_TYPE_Q8_0, BIBIM_TYPE_Q4_0, BIBIM_TYPE_Q4_1,
                                       BIBIM_TYPE_Q5_1, BIBIM_TYPE_Q3_K, BIBIM_TYPE_Q5_K};
    uint64_t rng = 9;
    quant_case *c = malloc(sizeof *c);
    if (!c) {
        CHECK(0);
        return 0;
    }
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const bibim_type type = types[t];
        for (int trial = 0; trial < 100; trial++) {
            const int64_t n = 256 * (1 + trial % 2);
            quant_case_init(c, type, n, &rng);
            float expected;
            if (type == BIBIM_TYPE_Q8_0 || type == BIBIM_TYPE_Q4_0) expected = q8_0_model(c->wq, c->act, n, type);
            else if (type == BIBIM_TYPE_Q4_1 || type == BIBIM_TYPE_Q5_1) expected = q4_1_model(c->wq, c->act, n, type);
            else if (type == BIBIM_TYPE_Q3_K) expected = q3_K_model(c->wq, c->act, n);
            else expected = q5_K_model(c->wq, c->act, n);
            float got;
            dot_kernel_for(type)->dot(n, c->wq, c->act, &got);
            CHECKF(fp32_to_bits(got) == fp32_to_bits(expected), "%s trial %d: %a, expected %a", bibim_type_name(type),
                   trial, got, expected);
        }
    }
    free(c);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Rows at every legal offset                                               */
/* ------------------------------------------------------------------------ */

/* A tensor of ROWS rows in 32-byte aligned memory, as in a mapped GGUF
 * file: row r starts at r * row_bytes, i.e. at every offset its block size
 * allows. Each row's dot must equal that of a copy at an aligned address,
 * bit for bit; and so must the same row copied to each legal offset
 * 0, A, 2A, .. < 32 (A = the alignment its blocks need). */
#define ROWS 16

static int check_row_offsets(const weight_kind *kind, int64_t n, uint64_t *rng) {
    const dot_kernel *k = dot_kernel_for(kind->type);
    const int64_t row_bytes = bibim_type_row_bytes(kind->type, n);
    const int64_t act_bytes = bibim_type_row_bytes(k->act_type, n);
    float *w = malloc((size_t)(ROWS * n) * sizeof *w), *x = malloc((size_t)n * sizeof *x);
    unsigned char *tensor = alloc32((size_t)(ROWS * row_bytes));
    unsigned char *copy = alloc32((size_t)row_bytes + 32);
    unsigned char *act = alloc32((size_t)act_bytes + 32);
    if (!w || !x || !tensor || !copy || !act) {
        CHECK(0);
        goto done;
    }
    for (int64_t i = 0; i < ROWS * n; i++) w[i] = next_gaussian(rng);
    for (int64_t i = 0; i < n; i++) x[i] = next_gaussian(rng);
    CHECK(bibim_quantize_row(kind->type, w, tensor, ROWS * n) == BIBIM_OK);
    k->quantize_act(x, act, n);
    for (int r = 0; r < ROWS; r++) {
        const unsigned char *row = tensor + r * row_bytes;
        memcpy(copy, row, (size_t)row_bytes);
        float at_row, aligned;
        k->dot(n, row, act, &at_row);
        k->dot(n, copy, act, &aligned);
        CHECKF(fp32_to_bits(at_row) == fp32_to_bits(aligned), "%s row %d (offset %lld mod 32): %a vs %a",
               bibim_type_name(kind->type), r, (long long)(r * row_bytes % 32), at_row, aligned);
    }
    float reference;
    k->dot(n, tensor, act, &reference);
    for (size_t offset = 0; offset < 32; offset += row_alignment(kind->type)) {
        memcpy(copy + offset, tensor, (size_t)row_bytes);
        float got;
        k->dot(n, copy + offset, act, &got);
        CHECKF(fp32_to_bits(got) == fp32_to_bits(reference), "%s weights at offset %zu", bibim_type_name(kind->type),
               offset);
    }
    /* Activations at any offset their blocks' alignment allows. */
    const size_t act_align = row_alignment(k->act_type);
    for (size_t offset = act_align; offset < 32; offset += act_align) {
        unsigned char *moved = alloc32((size_t)act_bytes + 32);
        if (!moved) break;
        k->quantize_act(x, moved + offset, n);
        CHECK(memcmp(moved + offset, act, (size_t)act_bytes) == 0);
        float got;
        k->dot(n, tensor, moved + offset, &got);
        CHECKF(fp32_to_bits(got) == fp32_to_bits(reference), "%s activations at offset %zu",
               bibim_type_name(kind->type), offset);
        free(moved);
    }
done:
    free(w);
    free(x);
    free(tensor);
    free(copy);
    free(act);
    return 0;
}

static int test_row_offsets(void) {
    uint64_t rng = 5;
    for (size_t t = 0; t < N_KINDS; t++) {
        const int64_t block = bibim_type_block_elems(weight_kinds[t].type);
        /* Odd block counts, so consecutive rows shift their offset. */
        check_row_offsets(&weight_kinds[t], block == 1 ? 37 : 3 * block, &rng);
        check_row_offsets(&weight_kinds[t], block == 1 ? 1 : 7 * block, &rng);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Throughput (printed, not checked)                                        */
/* ------------------------------------------------------------------------ */

#define BENCH_N 4096
#define BENCH_ROWS 4096
#define BENCH_DISTINCT_ROWS 16
#define BENCH_MIN_SECONDS 0.3

/* One 4096 x 4096 matrix-vector product per pass (activation quantization
 * included), single thread, repeated for at least BENCH_MIN_SECONDS. The
 * matrix repeats BENCH_DISTINCT_ROWS quantized rows (the kernels' speed does
 * not depend on the values), spread over the full size so it streams from
 * memory as a real weight matrix does. */
static void bench_type(const weight_kind *kind, const float *w, const float *x, float *out) {
    const dot_kernel *k = dot_kernel_for(kind->type);
    const int64_t row_bytes = bibim_type_row_bytes(kind->type, BENCH_N);
    unsigned char *matrix = alloc32((size_t)(row_bytes * BENCH_ROWS));
    unsigned char *act = alloc32((size_t)bibim_type_row_bytes(k->act_type, BENCH_N));
    if (!matrix || !act) {
        printf("  %-5s  (no memory)\n", bibim_type_name(kind->type));
    } else {
        bibim_quantize_row(kind->type, w, matrix, BENCH_DISTINCT_ROWS * BENCH_N);
        for (int r = BENCH_DISTINCT_ROWS; r < BENCH_ROWS; r++) {
            memcpy(matrix + r * row_bytes, matrix + (r % BENCH_DISTINCT_ROWS) * row_bytes, (size_t)row_bytes);
        }
        /* The fastest pass: other processes only ever slow one down. */
        int passes = 0;
        double best = INFINITY, total = 0;
        do {
            const double start = now_seconds();
            k->quantize_act(x, act, BENCH_N);
            for (int r = 0; r < BENCH_ROWS; r++) k->dot(BENCH_N, matrix + r * row_bytes, act, &out[r]);
            const double elapsed = now_seconds() - start;
            best = elapsed < best ? elapsed : best;
            total += elapsed;
            passes++;
        } while (total < BENCH_MIN_SECONDS);
        printf("  %-5s  %8.1f Mweights/s  %6.2f GB/s  (best of %d passes)\n", bibim_type_name(kind->type),
               (double)BENCH_N * BENCH_ROWS / best * 1e-6, (double)row_bytes * BENCH_ROWS / best * 1e-9, passes);
    }
    free(matrix);
    free(act);
}

static int test_throughput(void) {
    float *w = malloc((size_t)BENCH_DISTINCT_ROWS * BENCH_N * sizeof *w);
    float *x = malloc(BENCH_N * sizeof *x);
    float *out = malloc(BENCH_ROWS * sizeof *out);
    if (!w || !x || !out) {
        CHECK(0);
    } else {
        uint64_t rng = 6;
        for (int64_t i = 0; i < (int64_t)BENCH_DISTINCT_ROWS * BENCH_N; i++) w[i] = 0.02f * next_gaussian(&rng);
        for (int64_t i = 0; i < BENCH_N; i++) x[i] = next_gaussian(&rng);
        printf("  single thread, %d x %d matrix-vector product:\n", BENCH_ROWS, BENCH_N);
        for (size_t t = 0; t < N_KINDS; t++) {
            bench_type(&weight_kinds[t], w, x, out);
            int finite = 1;
            for (int r = 0; r < BENCH_ROWS; r++) finite &= isfinite(out[r]) != 0;
            CHECK(finite);
        }
    }
    free(w);
    free(x);
    free(out);
    return 0;
}

int main(void) {
    RUN(test_kernel_table);
    RUN(test_dot_matches_represented_activations);
    RUN(test_dot_matches_float_activations);
    RUN(test_f16_every_half);
    RUN(test_quantize_q8_0_by_hand);
    RUN(test_quantize_q8_1_by_hand);
    RUN(test_quantize_q8_0_inverse_scale);
    RUN(test_quantize_q8_K_by_hand);
    RUN(test_quantize_extremes);
    RUN(test_zero_dots);
    RUN(test_fma_rounds_once);
    RUN(test_float_orders);
    RUN(test_block_orders);
    RUN(test_row_offsets);
    RUN(test_throughput);
    return harness_finish();
}
