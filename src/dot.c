/* dot.c — the scalar reference dot-product kernels (see kernels.h): for
 * each weight type, the quantizer that turns float activations into the
 * paired activation type, and the dot of one weight row with them.
 *
 * The numerics are llama.cpp's CPU path, so that logits agree with it:
 *   - F32 x F32, F16 x F16 and BF16 x BF16 multiply in float (products of
 *     two halves or two bfloats are exact in float) and add in float.
 *   - The block quants take integer dot products per block (or per
 *     sub-block of a K-quant), exact in int32, then scale them in float.
 *   - Activations are quantized as ggml's x86 (AVX/AVX2) build does it,
 *     the path llama.cpp runs on x86: rounding halves to even (see
 *     round_to_q8), and Q8_0/Q8_1's inverse scale is 127/amax.
 * Only float rounding may differ from llama.cpp's: its SIMD code keeps
 * other partial sums and fuses multiply-adds, a few ulps of the result.
 *
 * These are the twins future SIMD kernels are checked against, so each
 * fixes its summation order in a form SIMD code can reproduce exactly:
 * FLOAT_LANES lane sums for the float types, one float running sum over
 * blocks for the quants.
 *
 * Pointers: weight rows are used through the block structs of quant.h,
 * which need only 2-byte alignment (F32 rows: 4). A row of a tensor whose
 * data is 32-byte aligned always has it, since every block size is even.
 * Activation buffers must be aligned like their blocks: 4 bytes for F32 and
 * Q8_K, 2 for the others; malloc'd buffers, and rows of a batch laid end to
 * end in one, are. Multi-byte fields that are not aligned in their block
 * (the qh word of Q5_0/Q5_1) are read byte by byte. */
#include "kernels.h"

#include "fp16.h"
#include "quant.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Activation blocks (ggml's block_q8_1 and block_q8_K)                     */
/* ------------------------------------------------------------------------ */

#define QK8_1 32

/* x = d * q; s = d * (sum of q), so the min term of Q4_1/Q5_1 costs one
 * multiplication per block. */
typedef struct block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_1];
} block_q8_1;

/* x = d * q, with bsums[g] = the sum of the 16 q of group g, for the min
 * terms of Q2_K, Q4_K and Q5_K. */
typedef struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is ggml's 36 bytes");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K is ggml's 292 bytes");

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */
/* ------------------------------------------------------------------------ */

/* Rounds to the nearest integer, halves to even, and saturates to +-127;
 * NaN gives 0. Halves to even is what ggml's x86 Q8_0/Q8_1 quantizers do
 * (_mm256_round_ps with _MM_ROUND_NEAREST) and what nearest_int does in
 * quantize_row_q8_K_ref; ggml's portable quantize_row_q8_0_ref and
 * quantize_row_q8_1_ref use roundf (halves away from zero) instead, which
 * x86 builds of llama.cpp do not run.
 * nearbyintf rounds in the current mode, to nearest-even unless a caller
 * changed it. The quantizers below never exceed +-127 for finite input; the
 * bounds only give inf and NaN a defined result. */
static inline int8_t round_to_q8(float v) {
    const float r = nearbyintf(v);
    if (r >= 127.0f) return 127;
    if (r <= -127.0f) return -127;
    if (r != r) return 0;
    return (int8_t)r;
}

static float abs_max(const float *restrict x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) {
        const float ax = fabsf(x[j]);
        amax = ax > amax ? ax : amax;
    }
    return amax;
}

/* The element of largest magnitude, with its sign (the first on ties). */
static float signed_abs_max(const float *restrict x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* Exact: |sum| <= 32 * 128 * 128 < 2^31. */
static inline int32_t dot_i8_32(const int8_t *restrict a, const int8_t *restrict b) {
    int32_t sum = 0;
    for (int i = 0; i < 32; i++) sum += a[i] * b[i];
    return sum;
}

static inline int32_t dot_i8_16(const int8_t *restrict a, const int8_t *restrict b) {
    int32_t sum = 0;
    for (int i = 0; i < 16; i++) sum += a[i] * b[i];
    return sum;
}

/* ------------------------------------------------------------------------ */
/* F32, F16, BF16                                                           */
/* ------------------------------------------------------------------------ */

/* Float dots keep FLOAT_LANES partial sums (element i goes to lane
 * i % FLOAT_LANES), as ggml's AVX2 loop keeps 4 vectors of 8; the lanes are
 * then added pairwise (lane l += lane l + w for w = 16, 8, 4, 2, 1) and the
 * tail of fewer than FLOAT_LANES elements added one by one. Besides fixing
 * the order for SIMD twins, the independent lanes let the compiler
 * vectorize without reassociating. */
#define FLOAT_LANES 32

static float reduce_lanes(float acc[FLOAT_LANES]) {
    for (int w = FLOAT_LANES / 2; w > 0; w /= 2) {
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    }
    return acc[0];
}

static void quantize_act_f32(const float *restrict x, void *restrict y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void dot_f32_f32(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const float *restrict w = w_row;
    const float *restrict a = act;
    float acc[FLOAT_LANES] = {0};
    int64_t i = 0;
    for (; i + FLOAT_LANES <= n; i += FLOAT_LANES) {
        for (int l = 0; l < FLOAT_LANES; l++) acc[l] += w[i + l] * a[i + l];
    }
    float sum = reduce_lanes(acc);
    for (; i < n; i++) sum += w[i] * a[i];
    *out = sum;
}

static void quantize_act_f16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    for (int64_t i = 0; i < n; i++) h[i] = fp32_to_fp16(x[i]);
}

/* fp16_to_fp32 without branches, so the dot loop vectorizes; the same
 * value for every half (a signalling NaN comes out quiet; the test checks
 * all 65536). Normal halves: the exponent and mantissa bits moved into a
 * float's place, 224 added to the exponent field (so 31, inf/NaN, becomes
 * 255) and the float multiplied by 2^-112: 224 - 112 = 127 - 15 rebiases.
 * Subnormals: the mantissa m put under the exponent of 0.5 reads
 * 0.5 + m * 2^-24, and subtracting 0.5 leaves m * 2^-24 exactly. */
static inline float half_to_float(uint16_t h) {
    const uint32_t magnitude = ((uint32_t)h & 0x7FFFu) << 13;
    const float normal = fp32_from_bits(magnitude + (UINT32_C(0xE0) << 23)) * 0x1p-112f;
    const float subnormal = fp32_from_bits(((uint32_t)h & 0x3FFu) | UINT32_C(0x3F000000)) - 0.5f;
    const uint32_t is_normal = 0u - (uint32_t)((h & 0x7C00u) != 0); /* a mask: a select would become a branch */
    const uint32_t bits = (fp32_to_bits(normal) & is_normal) | (fp32_to_bits(subnormal) & ~is_normal);
    return fp32_from_bits(bits | ((uint32_t)h & 0x8000u) << 16);
}

/* A product of two halves has at most 22 significant bits: exact in float. */
static void dot_f16_f16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float acc[FLOAT_LANES] = {0};
    int64_t i = 0;
    for (; i + FLOAT_LANES <= n; i += FLOAT_LANES) {
        for (int l = 0; l < FLOAT_LANES; l++) acc[l] += half_to_float(w[i + l]) * half_to_float(a[i + l]);
    }
    float sum = reduce_lanes(acc);
    for (; i < n; i++) sum += half_to_float(w[i]) * half_to_float(a[i]);
    *out = sum;
}

static void quantize_act_bf16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    for (int64_t i = 0; i < n; i++) h[i] = fp32_to_bf16(x[i]);
}

/* A product of two bfloats has at most 16 significant bits: exact. */
static void dot_bf16_bf16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float acc[FLOAT_LANES] = {0};
    int64_t i = 0;
    for (; i + FLOAT_LANES <= n; i += FLOAT_LANES) {
        for (int l = 0; l < FLOAT_LANES; l++) acc[l] += bf16_to_fp32(w[i + l]) * bf16_to_fp32(a[i + l]);
    }
    float sum = reduce_lanes(acc);
    for (; i < n; i++) sum += bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]);
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Activations: Q8_0 and Q8_1                                               */
/* ------------------------------------------------------------------------ */

/* ggml's x86 quantize_row_q8_0: d = amax / 127 stored as f16, and the
 * codes round(x * 127 / amax) — 127 / amax, not 1 / d, which can differ
 * in the last bit. */
static void quantize_act_q8_0(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_0 *restrict y = vy;
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        const float amax = abs_max(x, QK8_0);
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = fp32_to_fp16(amax / 127.0f);
        for (int j = 0; j < QK8_0; j++) y[b].qs[j] = round_to_q8(x[j] * id);
    }
}

/* ggml's x86 quantize_row_q8_1: as Q8_0, and s = f16(d * sum of the
 * codes) with d the float amax / 127 before its rounding to f16 (ggml's
 * reference quantizer computes s the same way). */
static void quantize_act_q8_1(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_1 *restrict y = vy;
    for (int64_t b = 0; b < n / QK8_1; b++, x += QK8_1) {
        const float amax = abs_max(x, QK8_1);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[b].qs[j] = round_to_q8(x[j] * id);
            sum += y[b].qs[j];
        }
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * (float)sum);
    }
}

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0, Q5_0 x Q8_0;  Q4_1, Q5_1 x Q8_1                              */
/* ------------------------------------------------------------------------ */

/* Each block adds (d_w * d_a) * (integer dot) to one float sum, in block
 * order; Q4_1 and Q5_1 add m_w * s_a as well (their x = d*q + m, and
 * s_a stands for the sum of the activations of the block). */

/* The 32 codes of a 4-bit block, minus `bias`: nibble j of the low halves
 * is element j, of the high halves element j + 16. */
static inline void unpack_q4(const uint8_t qs[16], int bias, int8_t q[32]) {
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0xF) - bias);
        q[j + 16] = (int8_t)((qs[j] >> 4) - bias);
    }
}

/* 1 << j, to test bit j of a word lane by lane: a per-element variable
 * shift would not vectorize without AVX2. */
static const uint16_t bit_j[16] = {
    1u << 0, 1u << 1, 1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8, 1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
};

/* The 32 codes of a 5-bit block, minus `bias`: the nibbles as in Q4, the
 * fifth bit of element j in bit j of the little-endian word qh. */
static inline void unpack_q5(const uint8_t qs[16], const uint8_t qh[4], int bias, int8_t q[32]) {
    const uint16_t high_lo = (uint16_t)(qh[0] | qh[1] << 8), high_hi = (uint16_t)(qh[2] | qh[3] << 8);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0xF) + ((high_lo & bit_j[j]) ? 16 : 0) - bias);
        q[j + 16] = (int8_t)((qs[j] >> 4) + ((high_hi & bit_j[j]) ? 16 : 0) - bias);
    }
}

static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

static void dot_q8_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q8_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        sum += f16_product(w[b].d, a[b].d) * (float)dot_i8_32(w[b].qs, a[b].qs);
    }
    *out = sum;
}

static void dot_q4_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int8_t q[QK4_0];
        unpack_q4(w[b].qs, 8, q);
        sum += f16_product(w[b].d, a[b].d) * (float)dot_i8_32(q, a[b].qs);
    }
    *out = sum;
}

static void dot_q5_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        int8_t q[QK5_0];
        unpack_q5(w[b].qs, w[b].qh, 16, q);
        sum += f16_product(w[b].d, a[b].d) * (float)dot_i8_32(q, a[b].qs);
    }
    *out = sum;
}

static void dot_q4_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        int8_t q[QK4_1];
        unpack_q4(w[b].qs, 0, q);
        sum += f16_product(w[b].d, a[b].d) * (float)dot_i8_32(q, a[b].qs) + f16_product(w[b].m, a[b].s);
    }
    *out = sum;
}

static void dot_q5_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        int8_t q[QK5_1];
        unpack_q5(w[b].qs, w[b].qh, 0, q);
        sum += f16_product(w[b].d, a[b].d) * (float)dot_i8_32(q, a[b].qs) + f16_product(w[b].m, a[b].s);
    }
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Activations: Q8_K                                                        */
/* ------------------------------------------------------------------------ */

/* ggml's quantize_row_q8_K_ref (x86 runs it too): the element of largest
 * magnitude maps to -127 (so d = 1 / iscale is negative when that element
 * is positive), codes round(iscale * x) halves to even, d kept as a float.
 * An all-zero block gets d = 0, codes 0 and sums 0 (ggml leaves its sums
 * unwritten; they are multiplied by d = 0 anyway). */
static void quantize_act_q8_K(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_K *restrict y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        const float max = signed_abs_max(x, QK_K);
        if (max == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) y[b].qs[j] = round_to_q8(iscale * x[j]);
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[b].qs[16 * g + l];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ------------------------------------------------------------------------ */
/* Q2_K .. Q6_K x Q8_K                                                      */
/* ------------------------------------------------------------------------ */

/* Each super-block: the codes are unpacked to bytes, each sub-block's
 * integer dot weighted by its integer scale and summed exactly in int32
 * (at most 16 * 128 * 65024 < 2^31, for Q6_K), then scaled in float by
 * d_w * d_a. The mins of Q2_K/Q4_K/Q5_K need no dot: sum_i m * a_i is
 * m * (sum of the group's codes) = m * bsums, times dmin_w * d_a. One float
 * sum over super-blocks, as in ggml's scalar code:
 *     sum += (d_a * d_w) * isum - (d_a * dmin_w) * msum.          */

/* Element 128h + 32g + l's two bits are bits 2g..2g+1 of qs[32h + l]
 * (Q2_K's codes and Q3_K's low bits). */
static inline void unpack_2bit(const uint8_t qs[QK_K / 4], int8_t q[QK_K]) {
    for (int h = 0; h < 2; h++) {
        for (int g = 0; g < 4; g++) {
            for (int l = 0; l < 32; l++) q[128 * h + 32 * g + l] = (int8_t)((qs[32 * h + l] >> (2 * g)) & 3);
        }
    }
}

/* Q4_K's codes, 0..15: qs[32c + l] holds element 64c + l in its low and
 * 64c + 32 + l in its high nibble. */
static inline void unpack_q4_K(const uint8_t qs[QK_K / 2], int8_t q[QK_K]) {
    for (int c = 0; c < QK_K / 64; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(qs[32 * c + l] & 0xF);
            q[64 * c + 32 + l] = (int8_t)(qs[32 * c + l] >> 4);
        }
    }
}

static void dot_q2_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q2_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        unpack_2bit(w[b].qs, q);
        int32_t isum = 0, msum = 0;
        for (int s = 0; s < QK_K / 16; s++) {
            isum += (w[b].scales[s] & 0xF) * dot_i8_16(q + 16 * s, a[b].qs + 16 * s);
            msum += (w[b].scales[s] >> 4) * a[b].bsums[s];
        }
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = a[b].d * fp16_to_fp32(w[b].dmin);
        sum += d * (float)isum - dmin * (float)msum;
    }
    *out = sum;
}

/* Q3_K's codes, -4..3: the low two bits as in Q2_K, the third bit of
 * element e is bit e / 32 of hmask[e % 32]; a clear bit means 4 lower. */
static inline void unpack_q3_K(const uint8_t qs[QK_K / 4], const uint8_t hmask[QK_K / 8], int8_t q[QK_K]) {
    for (int h = 0; h < 2; h++) {
        for (int g = 0; g < 4; g++) {
            const int e0 = 128 * h + 32 * g;
            for (int l = 0; l < 32; l++) {
                const int low = (qs[32 * h + l] >> (2 * g)) & 3;
                const int high = (hmask[l] >> (e0 / 32)) & 1;
                q[e0 + l] = (int8_t)(low + 4 * high - 4);
            }
        }
    }
}

static void dot_q3_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q3_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        unpack_q3_K(w[b].qs, w[b].hmask, q);
        int32_t isum = 0;
        for (int s = 0; s < QK_K / 16; s++) {
            isum += (q3k_scale(w[b].scales, s) - 32) * dot_i8_16(q + 16 * s, a[b].qs + 16 * s);
        }
        sum += a[b].d * fp16_to_fp32(w[b].d) * (float)isum;
    }
    *out = sum;
}

/* The 8 scales and mins of a Q4_K/Q5_K super-block; the min term uses the
 * two Q8_K groups of 16 that make up each sub-block of 32. */
static inline int32_t k4_scaled_dots(const uint8_t scales[K_SCALE_SIZE], const int8_t q[QK_K],
                                     const block_q8_K *restrict a, int32_t *msum) {
    int32_t isum = 0, mins = 0;
    for (int s = 0; s < QK_K / 32; s++) {
        uint8_t sc, m;
        k4_scale_min(scales, s, &sc, &m);
        isum += sc * dot_i8_32(q + 32 * s, a->qs + 32 * s);
        mins += m * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
    }
    *msum = mins;
    return isum;
}

static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        unpack_q4_K(w[b].qs, q);
        int32_t msum;
        const int32_t isum = k4_scaled_dots(w[b].scales, q, &a[b], &msum);
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = a[b].d * fp16_to_fp32(w[b].dmin);
        sum += d * (float)isum - dmin * (float)msum;
    }
    *out = sum;
}

/* Q5_K's codes, 0..31: the nibbles as in Q4_K, the fifth bit of element e
 * (sub-block s = e / 32) is bit s of qh[e % 32]. */
static inline void unpack_q5_K(const uint8_t qs[QK_K / 2], const uint8_t qh[QK_K / 8], int8_t q[QK_K]) {
    for (int c = 0; c < QK_K / 64; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)((qs[32 * c + l] & 0xF) | ((qh[l] >> (2 * c)) & 1) << 4);
            q[64 * c + 32 + l] = (int8_t)((qs[32 * c + l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4);
        }
    }
}

static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        unpack_q5_K(w[b].qs, w[b].qh, q);
        int32_t msum;
        const int32_t isum = k4_scaled_dots(w[b].scales, q, &a[b], &msum);
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = a[b].d * fp16_to_fp32(w[b].dmin);
        sum += d * (float)isum - dmin * (float)msum;
    }
    *out = sum;
}

/* Element 128h + 32g + l: low nibble from ql[64h + 32(g % 2) + l] (low
 * nibble for g < 2, high for g >= 2), top two bits from bits 2g..2g+1 of
 * qh[32h + l]; the code is biased by 32. */
static inline void unpack_q6_K(const uint8_t ql[QK_K / 2], const uint8_t qh[QK_K / 4], int8_t q[QK_K]) {
    for (int h = 0; h < 2; h++) {
        for (int g = 0; g < 4; g++) {
            const uint8_t *restrict lo = ql + 64 * h + 32 * (g % 2);
            const uint8_t *restrict hi = qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                const int code = ((lo[l] >> (4 * (g / 2))) & 0xF) | ((hi[l] >> (2 * g)) & 3) << 4;
                q[128 * h + 32 * g + l] = (int8_t)(code - 32);
            }
        }
    }
}

static void dot_q6_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q6_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        unpack_q6_K(w[b].ql, w[b].qh, q);
        int32_t isum = 0;
        for (int s = 0; s < QK_K / 16; s++) isum += w[b].scales[s] * dot_i8_16(q + 16 * s, a[b].qs + 16 * s);
        sum += a[b].d * fp16_to_fp32(w[b].d) * (float)isum;
    }
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static const dot_kernel kernel_f32 = {BIBIM_TYPE_F32, quantize_act_f32, dot_f32_f32};
static const dot_kernel kernel_f16 = {BIBIM_TYPE_F16, quantize_act_f16, dot_f16_f16};
static const dot_kernel kernel_bf16 = {BIBIM_TYPE_BF16, quantize_act_bf16, dot_bf16_bf16};
static const dot_kernel kernel_q8_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q8_0_q8_0};
static const dot_kernel kernel_q4_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q4_0_q8_0};
static const dot_kernel kernel_q5_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q5_0_q8_0};
static const dot_kernel kernel_q4_1 = {BIBIM_TYPE_Q8_1, quantize_act_q8_1, dot_q4_1_q8_1};
static const dot_kernel kernel_q5_1 = {BIBIM_TYPE_Q8_1, quantize_act_q8_1, dot_q5_1_q8_1};
static const dot_kernel kernel_q2_K = {BIBIM_TYPE_Q8_K, quantize_act_q8_K, dot_q2_K_q8_K};
static const dot_kernel kernel_q3_K = {BIBIM_TYPE_Q8_K, quantize_act_q8_K, dot_q3_K_q8_K};
static const dot_kernel kernel_q4_K = {BIBIM_TYPE_Q8_K, quantize_act_q8_K, dot_q4_K_q8_K};
static const dot_kernel kernel_q5_K = {BIBIM_TYPE_Q8_K, quantize_act_q8_K, dot_q5_K_q8_K};
static const dot_kernel kernel_q6_K = {BIBIM_TYPE_Q8_K, quantize_act_q8_K, dot_q6_K_q8_K};

const dot_kernel *dot_kernel_for(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F32: return &kernel_f32;
    case BIBIM_TYPE_F16: return &kernel_f16;
    case BIBIM_TYPE_BF16: return &kernel_bf16;
    case BIBIM_TYPE_Q8_0: return &kernel_q8_0;
    case BIBIM_TYPE_Q4_0: return &kernel_q4_0;
    case BIBIM_TYPE_Q5_0: return &kernel_q5_0;
    case BIBIM_TYPE_Q4_1: return &kernel_q4_1;
    case BIBIM_TYPE_Q5_1: return &kernel_q5_1;
    case BIBIM_TYPE_Q2_K: return &kernel_q2_K;
    case BIBIM_TYPE_Q3_K: return &kernel_q3_K;
    case BIBIM_TYPE_Q4_K: return &kernel_q4_K;
    case BIBIM_TYPE_Q5_K: return &kernel_q5_K;
    case BIBIM_TYPE_Q6_K: return &kernel_q6_K;
    default: return NULL;
    }
}
