/* dot.c — the scalar reference dot-product kernels (see kernels.h): for
 * each weight type, the quantizer that turns float activations into the
 * paired activation type, and the dot of one weight row with them.
 *
 * The numerics are, bit for bit, those of llama.cpp's CPU backend on x86-64
 * with AVX2/AVX-512 (the reference: llama.cpp c392e50, build 4748, built
 * with GGML_NATIVE on an AVX-512F/BW/VL + VNNI + BF16 CPU, prompt batches of
 * 16 tokens). Which ggml routine computes a product depends on the weight
 * type and, for some types, on the batch:
 *   - F32, F16, BF16: llamafile's tinyBLAS (sgemm.cpp), which serves every
 *     batch of 2 or more rows whose length is a multiple of its vector: 16
 *     float lanes, one FMA per element and lane, then _mm512_reduce_add_ps.
 *     F16 and BF16 activations are first rounded to F16/BF16; BF16 uses the
 *     vdpbf16ps instruction, which adds two products per lane in a fixed
 *     order.
 *   - Q8_0, Q5_0 (and Q4_0 without repacking): tinyBLAS_Q0_AVX for batches,
 *     ggml_vec_dot_*_q8_0 for one row; both keep 8 float lanes, each the
 *     integer dot of 4 consecutive elements of a block, scaled by an FMA.
 *   - Q4_0: repacked at load into the interleaved Q4_0 8x8 layout; its GEMM
 *     keeps one float per output and adds each block's integer dot by an FMA.
 *   - Q4_1, Q5_1 and all K-quants: ggml_vec_dot_* (AVX2 code; tinyBLAS has no
 *     kernel for them): 8 int32 lanes per block, scaled into 8 float lanes by
 *     FMAs, reduced by hsum_float_8; the min terms are kept apart.
 * Integer arithmetic in those kernels is exact for every input the
 * quantizers here can produce (no _mm256_maddubs_epi16 saturation: the
 * unsigned operand is at most 63 and the signed one within +-127), so the
 * only thing to reproduce is the float rounding: which partial sums exist,
 * where an FMA rounds once instead of twice, and the order of the final
 * horizontal adds. Each kernel below says what it mirrors. With the same
 * order, bibim's logits for the reference model equal llama.cpp's exactly
 * (tests in test_dot.c pin the orders on crafted inputs).
 *
 * fma_f32() stands for a vector FMA: one rounding of a*b + c.
 *
 * Activations are quantized as ggml's x86 (AVX/AVX2) build does it:
 * rounding halves to even (see round_to_q8), and Q8_0/Q8_1's inverse scale
 * is 127/amax.
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
#include "scalar_float.h"

#include <math.h>
#include <string.h>

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

/* ggml's lane layout, shared by every quantized kernel below: a 32-byte
 * vector of codes times a 32-byte vector of activation codes, summed in
 * groups of 4 adjacent bytes into 8 int32 lanes (vpdpbusd, or maddubs +
 * madd). Lane l of a 32-element block gets elements 4l .. 4l+3. Exact, so
 * the integer order is free: products of pairs, then pairs of pairs (a
 * form compilers vectorize). */
static inline void lane_dots_32(const int8_t *restrict q, const int8_t *restrict a, int32_t lane[8]) {
    int32_t pair[16];
    for (int i = 0; i < 16; i++) pair[i] = q[2 * i] * a[2 * i] + q[2 * i + 1] * a[2 * i + 1];
    for (int l = 0; l < 8; l++) lane[l] = pair[2 * l] + pair[2 * l + 1];
}

/* acc[l] += scale * lane[l] with one rounding, as _mm256_fmadd_ps does.
 * (float)lane[l] is exact: every lane below stays under 2^24. */
static inline void fma_lanes_8(float acc[8], float scale, const int32_t lane[8]) {
    for (int l = 0; l < 8; l++) acc[l] = fma_f32(scale, (float)lane[l], acc[l]);
}

/* _mm512_reduce_add_ps as GCC expands it: halve 16 lanes to 8, 4, 2, 1,
 * lane l adding lane l + width. */
static inline float reduce_16(float v[16]) {
    for (int width = 8; width > 0; width /= 2) {
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    }
    return v[0];
}

/* ------------------------------------------------------------------------ */
/* F32, F16, BF16                                                           */
/* ------------------------------------------------------------------------ */

/* tinyBLAS (llamafile sgemm) with AVX-512 keeps, for each output, one
 * 16-float vector: element i goes to lane i % 16 by an FMA, in order, and
 * the lanes are summed by _mm512_reduce_add_ps (reduce_16). It runs only
 * when the row length is a multiple of its vector (16 elements; 32 for
 * BF16); for other lengths llama.cpp falls back to ggml_vec_dot_*, whose
 * order differs. Here the elements past the last full vector are added one
 * by one after the reduction: no Llama row has them. Single-row products
 * (one token) also go to ggml_vec_dot_* in llama.cpp: these kernels follow
 * the batched path. */
#define FLOAT_LANES 16

static void quantize_act_f32(const float *restrict x, void *restrict y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

/* F32 x F32: the product is not exact in float, so the FMA matters. */
static void dot_f32_f32(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const float *restrict w = w_row;
    const float *restrict a = act;
    float acc[FLOAT_LANES] = {0};
    int64_t i = 0;
    for (; i + FLOAT_LANES <= n; i += FLOAT_LANES) {
        for (int l = 0; l < FLOAT_LANES; l++) acc[l] = fma_f32(w[i + l], a[i + l], acc[l]);
    }
    float sum = reduce_16(acc);
    for (; i < n; i++) sum = fma_f32(w[i], a[i], sum);
    *out = sum;
}

/* llama.cpp rounds the activations to F16 (round to nearest even) before
 * tinyBLAS sees them. */
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

/* F16 x F16: tinyBLAS converts both to float (vcvtph2ps) and FMAs them. A
 * product of two halves has at most 22 significant bits, exact in float, so
 * the FMA is a plain add of the product (and the loop can vectorize). */
static void dot_f16_f16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float acc[FLOAT_LANES] = {0};
    int64_t i = 0;
    for (; i + FLOAT_LANES <= n; i += FLOAT_LANES) {
        for (int l = 0; l < FLOAT_LANES; l++) acc[l] += half_to_float(w[i + l]) * half_to_float(a[i + l]);
    }
    float sum = reduce_16(acc);
    for (; i < n; i++) sum += half_to_float(w[i]) * half_to_float(a[i]);
    *out = sum;
}

/* llama.cpp rounds the activations to BF16 (nearest even) for tinyBLAS. */
static void quantize_act_bf16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    for (int64_t i = 0; i < n; i++) h[i] = fp32_to_bf16(x[i]);
}

/* BF16 x BF16: with AVX512_BF16, tinyBLAS steps 32 elements at a time with
 * vdpbf16ps: float lane l (of 16) takes the pair 2l, 2l+1 of the step and
 * adds the ODD product first, then the even one, each with one rounding
 * (Intel SDM: "srcdest += a[2l+1]*b[2l+1]; srcdest += a[2l]*b[2l]"). A
 * product of two bfloats (16 significant bits) is exact unless it falls
 * below 2^-126, so the FMA is an add. The lanes are then reduced like the
 * other float types. (Adding the even product first moves the reference
 * logits by 1e-3; 32 plain lanes, as this file once did, by 6e-3.) Not
 * reproduced: vdpbf16ps also reads subnormal bfloats as zero and flushes
 * subnormal sums to zero (DAZ/FTZ); values below 2^-126 do not occur in
 * model weights or activations, and emulating it made this kernel about 3
 * times slower. */
static void dot_bf16_bf16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float acc[FLOAT_LANES] = {0};
    int64_t i = 0;
    for (; i + 2 * FLOAT_LANES <= n; i += 2 * FLOAT_LANES) {
        for (int l = 0; l < FLOAT_LANES; l++) {
            const int64_t odd = i + 2 * l + 1, even = i + 2 * l;
            acc[l] += bf16_to_fp32(w[odd]) * bf16_to_fp32(a[odd]);
            acc[l] += bf16_to_fp32(w[even]) * bf16_to_fp32(a[even]);
        }
    }
    float sum = reduce_16(acc);
    for (; i < n; i++) sum += bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]);
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Activations: Q8_0 and Q8_1                                               */
/* ------------------------------------------------------------------------ */

/* ggml's x86 quantize_row_q8_0: d = amax / 127 stored as f16, and the
 * codes round(x * 127 / amax) — 127 / amax, not 1 / d, which can differ
 * in the last bit. (The repacked Q4_0 path quantizes 4 rows at a time with
 * ggml_quantize_mat_q8_0; the bit-identical Q4_0 logits say it rounds the
 * same way.) */
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

/* The product of two halves (22 significant bits) is exact in float. */
static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

/* Q8_0 and Q5_0 (batched: tinyBLAS_Q0_AVX; one row: ggml_vec_dot_q8_0_q8_0
 * and _q5_0_q8_0, the same arithmetic): per block, 8 int32 lanes of 4
 * elements, converted to float and added to 8 float lanes by an FMA with
 * d_w * d_a; at the end hsum_float_8. */
static void dot_q8_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q8_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int32_t lane[8];
        lane_dots_32(w[b].qs, a[b].qs, lane);
        fma_lanes_8(acc, f16_product(w[b].d, a[b].d), lane);
    }
    *out = hsum_8(acc);
}

static void dot_q5_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK5_0; b++) {
        int8_t q[QK5_0];
        int32_t lane[8];
        unpack_q5(w[b].qs, w[b].qh, 16, q);
        lane_dots_32(q, a[b].qs, lane);
        fma_lanes_8(acc, f16_product(w[b].d, a[b].d), lane);
    }
    *out = hsum_8(acc);
}

/* Q4_0: llama.cpp (GGML_CPU_AARCH64, on by default) repacks Q4_0 matrices
 * at load into 8 interleaved rows (block_q4_0x8) and multiplies batches
 * with ggml_gemm_q4_0_8x8_q8_0, which keeps ONE float per output: each
 * block's exact integer dot, times d_w * d_a, is added by an FMA, block
 * after block. (Built without repacking, llama.cpp uses tinyBLAS_Q0_AVX as
 * for Q8_0; its logits differ from the repacked ones by 3.6e-7.) */
static void dot_q4_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int8_t q[QK4_0];
        int32_t lane[8], dot = 0;
        unpack_q4(w[b].qs, 8, q);
        lane_dots_32(q, a[b].qs, lane);
        for (int l = 0; l < 8; l++) dot += lane[l];
        sum = fma_f32((float)dot, f16_product(w[b].d, a[b].d), sum);
    }
    *out = sum;
}

/* Q4_1 and Q5_1 (ggml_vec_dot_q4_1_q8_1 / _q5_1_q8_1, AVX2; tinyBLAS has
 * no kernel for them): x = d*q + m, so a block contributes
 * d_w*d_a * (integer dot) + m_w * s_a. The first part goes to 8 float
 * lanes as for Q8_0; the min terms m_w * s_a (a product of two halves,
 * exact) are summed in ONE separate float, added after hsum_float_8. The
 * two parts nearly cancel (m is about -7.5 d), so summing them per block
 * instead, as this file once did, changes the dot by many ulps and moved
 * llama.cpp's logits by up to 0.03. */
static void dot_q4_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float acc[8] = {0}, mins = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        int8_t q[QK4_1];
        int32_t lane[8];
        unpack_q4(w[b].qs, 0, q);
        lane_dots_32(q, a[b].qs, lane);
        mins += f16_product(w[b].m, a[b].s);
        fma_lanes_8(acc, f16_product(w[b].d, a[b].d), lane);
    }
    *out = hsum_8(acc) + mins;
}

static void dot_q5_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float acc[8] = {0}, mins = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        int8_t q[QK5_1];
        int32_t lane[8];
        unpack_q5(w[b].qs, w[b].qh, 0, q);
        lane_dots_32(q, a[b].qs, lane);
        mins += f16_product(w[b].m, a[b].s);
        fma_lanes_8(acc, f16_product(w[b].d, a[b].d), lane);
    }
    *out = hsum_8(acc) + mins;
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

/* llama.cpp runs ggml_vec_dot_qN_K_q8_K's AVX2 code for every K-quant,
 * batched or not (tinyBLAS has no K-quant kernel). Per super-block it forms
 * 8 int32 lanes: the 256 codes are taken 32 at a time (one vector), each
 * code times its activation times its sub-block scale, and element e lands
 * in lane (e % 32) / 4 (k_lane_sums). Exact, and below 2^24 so that its
 * float is exact too: the largest, Q6_K's, is at most
 * 8 * 4 * 32 * 127 * 128 = 16646144 (ggml's int16 steps cannot saturate
 * either: at most 2 * 63 * 127 per _mm256_maddubs_epi16). The
 * lanes go to 8 float lanes by an FMA with d = d_a * d_w (rounded once);
 * hsum_float_8 at the end. The min terms of Q2_K, Q4_K and Q5_K are
 * products of the Q8_K group sums (bsums) and the integer mins, scaled by
 * -(d_a * dmin_w); where and in how many lanes they are summed differs by
 * type, see each kernel. */

/* The 8 lanes of a super-block; scale16[s] is the scale of elements
 * 16s .. 16s+15. Vector v (elements 32v .. 32v+31) adds its 4-byte dots
 * into the lanes, the first 4 scaled by scale16[2v], the others by
 * scale16[2v+1]. */
static inline void k_lane_sums(const int8_t q[QK_K], const int8_t a[QK_K], const int32_t scale16[QK_K / 16],
                               int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    for (int v = 0; v < QK_K / 32; v++) {
        int32_t dots[8];
        lane_dots_32(q + 32 * v, a + 32 * v, dots);
        for (int l = 0; l < 8; l++) lane[l] += scale16[2 * v + l / 4] * dots[l];
    }
}

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

/* Q2_K: x = d*sc*q - dmin*m per sub-block of 16. ggml adds, per block,
 * the min term FIRST into the same 8 float lanes: lane l gets
 * m[2l]*bsums[2l] + m[2l+1]*bsums[2l+1] (vpmaddwd), times -(d_a*dmin_w),
 * by an FMA; then the scaled lanes. */
static void dot_q2_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q2_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        int32_t scale16[QK_K / 16], lane[8], mins[8];
        unpack_2bit(w[b].qs, q);
        for (int s = 0; s < QK_K / 16; s++) scale16[s] = w[b].scales[s] & 0xF;
        for (int l = 0; l < 8; l++) {
            const int m0 = w[b].scales[2 * l] >> 4, m1 = w[b].scales[2 * l + 1] >> 4;
            mins[l] = m0 * a[b].bsums[2 * l] + m1 * a[b].bsums[2 * l + 1];
        }
        k_lane_sums(q, a[b].qs, scale16, lane);
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        fma_lanes_8(acc, dmin, mins);
        fma_lanes_8(acc, d, lane);
    }
    *out = hsum_8(acc);
}

/* Q3_K's codes, -4..3: the low two bits as in Q2_K, the third bit of
 * element e is bit e / 32 of hmask[e % 32]; a clear bit means 4 lower.
 * (ggml's AVX2 kernel multiplies the low bits and the "minus 4" part
 * separately with _mm256_maddubs_epi16 and subtracts in int16: at most
 * 2*3*127 and 2*4*127, so nothing saturates and the result is the exact
 * (q - 4) * a.) */
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

/* Q3_K: no min term; the scaled lanes only. */
static void dot_q3_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q3_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        int32_t scale16[QK_K / 16], lane[8];
        unpack_q3_K(w[b].qs, w[b].hmask, q);
        for (int s = 0; s < QK_K / 16; s++) scale16[s] = q3k_scale(w[b].scales, s) - 32;
        k_lane_sums(q, a[b].qs, scale16, lane);
        fma_lanes_8(acc, a[b].d * fp16_to_fp32(w[b].d), lane);
    }
    *out = hsum_8(acc);
}

/* The 8 scales of a Q4_K/Q5_K super-block, each repeated for its two
 * groups of 16, and the 8 mins times their sub-block's activation sum
 * (the two Q8_K bsums of the sub-block). */
static inline void k4_scales_mins(const uint8_t scales[K_SCALE_SIZE], const block_q8_K *restrict a,
                                  int32_t scale16[QK_K / 16], int32_t mins[8]) {
    for (int s = 0; s < QK_K / 32; s++) {
        uint8_t sc, m;
        k4_scale_min(scales, s, &sc, &m);
        scale16[2 * s] = scale16[2 * s + 1] = sc;
        mins[s] = m * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
    }
}

/* Q4_K: the min terms go to a separate 4-lane float vector: lane k gets
 * mins of sub-blocks 2k and 2k+1 (vpmaddwd), by an FMA with -(d_a*dmin_w);
 * at the end its lanes are added as (0+2) + (1+3) and the total added to
 * hsum_float_8 of the main lanes. */
static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float acc[8] = {0}, acc_m[4] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        int32_t scale16[QK_K / 16], mins[8], lane[8];
        unpack_q4_K(w[b].qs, q);
        k4_scales_mins(w[b].scales, &a[b], scale16, mins);
        k_lane_sums(q, a[b].qs, scale16, lane);
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        for (int k = 0; k < 4; k++) acc_m[k] = fma_f32(dmin, (float)(mins[2 * k] + mins[2 * k + 1]), acc_m[k]);
        fma_lanes_8(acc, d, lane);
    }
    *out = hsum_8(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
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

/* Q5_K: unlike Q4_K, the min terms are summed to one integer per block and
 * accumulated in ONE scalar float, "summs += dmin * total" in C, which the
 * compiler contracts to an FMA (ggml-cpu is built with -march=native, and
 * GNU C contracts by default); summs is added after hsum_float_8. Only
 * with the FMA do the reference logits match: a separate multiply and add
 * moves one position's logits by 0.04. */
static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        int32_t scale16[QK_K / 16], mins[8], lane[8], total = 0;
        unpack_q5_K(w[b].qs, w[b].qh, q);
        k4_scales_mins(w[b].scales, &a[b], scale16, mins);
        for (int s = 0; s < 8; s++) total += mins[s];
        k_lane_sums(q, a[b].qs, scale16, lane);
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        summs = fma_f32(dmin, (float)total, summs);
        fma_lanes_8(acc, d, lane);
    }
    *out = hsum_8(acc) + summs;
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

/* Q6_K: no min term (ggml's AVX2 code subtracts 32 * a in int16, exact);
 * signed 8-bit scales. */
static void dot_q6_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q6_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t q[QK_K];
        int32_t scale16[QK_K / 16], lane[8];
        unpack_q6_K(w[b].ql, w[b].qh, q);
        for (int s = 0; s < QK_K / 16; s++) scale16[s] = w[b].scales[s];
        k_lane_sums(q, a[b].qs, scale16, lane);
        fma_lanes_8(acc, a[b].d * fp16_to_fp32(w[b].d), lane);
    }
    *out = hsum_8(acc);
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
