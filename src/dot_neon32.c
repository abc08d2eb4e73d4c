/* dot_neon32.c — the "neon" level on 32-bit Arm: Armv7-A (or an Armv8 CPU
 * in AArch32) with Advanced SIMD and VFPv4, twins of the scalar kernels in
 * dot.c with the same bits. AArch64 has its own (dot_neon.c).
 *
 * AArch32 Advanced SIMD does not follow FPSCR: its float instructions
 * always flush subnormal inputs and results to zero and return the default
 * NaN. The scalar VFP instructions do follow FPSCR (IEEE: no flushing, the
 * Linux default), and VFPv4 has a fused multiply-add (VFMA.F32) there. So
 * float arithmetic goes to NEON only where no subnormal can arise, and
 * everywhere else to VFP:
 *   - Q8_0, Q5_0 (8 float lanes by an FMA with d_w*d_a, hsum_8) and Q4_1,
 *     Q5_1 (the same, their min terms in one VFP float): the scale is a
 *     product of two halves, a multiple of 2^-48 computed exactly on VFP;
 *     every lane, product and partial sum is then a multiple of 2^-48 too
 *     (rounding to float keeps that), so it is 0 or at least 2^-48: never
 *     subnormal, and NEON's FMA, adds and conversions give dot.c's bits.
 *   - F16: products of two halves are exact multiples of 2^-48, the same
 *     argument; halves are widened with integer instructions (exact, the
 *     F16 conversion intrinsics want -mfp16-format).
 *   - Q4_0: the integer dot in NEON, its FMA into one float on VFP.
 *   - Q2_K .. Q6_K: the 8 int32 lanes of a super-block in NEON, then 8 VFP
 *     FMAs with d_a * d_w (d_a is a Q8_K float scale, so that product can
 *     be subnormal); the min terms as in dot.c, on VFP.
 *   - F32: 16 VFP accumulators by VFMA (products of floats can be
 *     subnormal; NEON would flush them). Faster than dot.c's FMA emulation.
 *   - BF16: left to dot.c (bfloat products can be subnormal and every
 *     element would need VFP).
 * Activation quantizers: dot.c's (the same bytes by definition; they take
 * O(n) per token, the dots O(n) per row). NaN payloads of a NEON result
 * can differ from dot.c's (default NaN), a NaN stays a NaN.
 *
 * Built with -mfpu=neon-vfpv4 (Makefile: FLAGS_dot_neon32); without it,
 * or on soft-float, this level has no kernels and cpu_level_supported says
 * so. Only dot_kernel_at calls dot_kernel_neon, after cpu_level_supported
 * has seen HWCAP_ARM_NEON and HWCAP_ARM_VFPv4 (Cortex-A5, A7, A12, A15,
 * A17 and Armv8 CPUs; not A8 or A9, which lack VFPv4's FMA). GCC does not
 * vectorize float code for NEON on AArch32 (not IEEE), so the scalar float
 * code below stays on VFP. */
#include "kernels.h"

#if defined(__arm__) && !defined(__aarch64__)
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)

#include "fp16.h"
#include "quant.h"

#include <arm_neon.h>
#include <string.h>

typedef struct block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[32];
} block_q8_1;

typedef struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is ggml's 36 bytes");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K is ggml's 292 bytes");

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* One rounding of a * b + c, on VFP (VFMA.F32). */
static inline float vfp_fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }

/* dot.c's hsum_8 of lanes 0..3 in lo and 4..7 in hi (NEON: only for lanes
 * that are multiples of 2^-48, see the top). */
static inline float hsum_8_neon(float32x4_t lo, float32x4_t hi) {
    const float32x4_t s = vaddq_f32(lo, hi);
    const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/* dot.c's hsum_8, on VFP. */
static inline float hsum_8(const float v[8]) {
    const float s0 = v[0] + v[4], s1 = v[1] + v[5], s2 = v[2] + v[6], s3 = v[3] + v[7];
    return (s0 + s2) + (s1 + s3);
}

/* dot.c's reduce_16, on VFP. */
static inline float reduce_16(float v[16]) {
    for (int width = 8; width > 0; width /= 2) {
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    }
    return v[0];
}

/* 4 int32 lanes: lane l = the dot of bytes 4l .. 4l+3 of w and a (int8
 * products fit int16; pairs of them int32). */
static inline int32x4_t dot16(int8x16_t w, int8x16_t a) {
    const int32x4_t p0 = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(a)));
    const int32x4_t p1 = vpaddlq_s16(vmull_s8(vget_high_s8(w), vget_high_s8(a)));
    return vcombine_s32(vpadd_s32(vget_low_s32(p0), vget_high_s32(p0)), vpadd_s32(vget_low_s32(p1), vget_high_s32(p1)));
}

/* acc[l] = fma(d, lane l, acc[l]) on VFP for the 8 lanes in il (0..3) and
 * ih (4..7); (float) of a lane is exact (below 2^24, dot.c). */
static inline void fma_lanes_8(float acc[8], float d, int32x4_t il, int32x4_t ih) {
    int32_t lane[8];
    vst1q_s32(lane, il);
    vst1q_s32(lane + 4, ih);
    for (int l = 0; l < 8; l++) acc[l] = vfp_fma(d, (float)lane[l], acc[l]);
}

/* The product of two halves (22 significant bits) is exact in float. */
static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

/* ------------------------------------------------------------------------ */
/* Activations: dot.c's quantizers                                          */
/* ------------------------------------------------------------------------ */

static void quantize_act_f32(const float *restrict x, void *restrict y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void quantize_act_f16(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_for(BIBIM_TYPE_F16)->quantize_act(x, y, n);
}

static void quantize_act_q8_0(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_for(BIBIM_TYPE_Q8_0)->quantize_act(x, y, n);
}

static void quantize_act_q8_1(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_for(BIBIM_TYPE_Q4_1)->quantize_act(x, y, n);
}

static void quantize_act_q8_K(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_for(BIBIM_TYPE_Q4_K)->quantize_act(x, y, n);
}

/* ------------------------------------------------------------------------ */
/* F32, F16                                                                 */
/* ------------------------------------------------------------------------ */

static void dot_f32_f32(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const float *restrict w = w_row;
    const float *restrict a = act;
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 16; l++) acc[l] = vfp_fma(w[i + l], a[i + l], acc[l]);
    }
    float sum = reduce_16(acc);
    for (; i < n; i++) sum = vfp_fma(w[i], a[i], sum);
    *out = sum;
}

/* 4 halves as floats, exactly, with integer instructions: a normal half's
 * bits moved into place and its exponent rebiased by 112 (by 224 for inf
 * and NaN, exponent 31 -> 255); a subnormal or zero one, m * 2^-24, by a
 * fixed-point conversion (exact: m < 2^10, a normal float or 0). */
static inline float32x4_t halves_4(const uint16_t *p) {
    const uint32x4_t u = vmovl_u16(vld1_u16(p));
    const uint32x4_t em = vandq_u32(u, vdupq_n_u32(0x7FFFu));
    const uint32x4_t sign = vshlq_n_u32(vandq_u32(u, vdupq_n_u32(0x8000u)), 16);
    const uint32x4_t rebias = vdupq_n_u32(112u << 23);
    uint32x4_t bits = vaddq_u32(vshlq_n_u32(em, 13), rebias);
    bits = vaddq_u32(bits, vandq_u32(vcgeq_u32(em, vdupq_n_u32(0x7C00u)), rebias));
    const uint32x4_t sub = vreinterpretq_u32_f32(vcvtq_n_f32_u32(em, 24));
    bits = vbslq_u32(vcltq_u32(em, vdupq_n_u32(0x0400u)), sub, bits);
    return vreinterpretq_f32_u32(vorrq_u32(bits, sign));
}

/* 16 float lanes (element i in lane i % 16) by FMA, which is the add of
 * the exact product; reduce_16; the tail one by one (all exact multiples
 * of 2^-48 until rounded, see the top). */
static void dot_f16_f16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float32x4_t v0 = vdupq_n_f32(0.0f), v1 = v0, v2 = v0, v3 = v0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v0 = vfmaq_f32(v0, halves_4(w + i), halves_4(a + i));
        v1 = vfmaq_f32(v1, halves_4(w + i + 4), halves_4(a + i + 4));
        v2 = vfmaq_f32(v2, halves_4(w + i + 8), halves_4(a + i + 8));
        v3 = vfmaq_f32(v3, halves_4(w + i + 12), halves_4(a + i + 12));
    }
    float sum = hsum_8_neon(vaddq_f32(v0, v2), vaddq_f32(v1, v3)); /* reduce_16 */
    for (; i < n; i++) sum += fp16_to_fp32(w[i]) * fp16_to_fp32(a[i]);
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0, Q5_0 x Q8_0;  Q4_1, Q5_1 x Q8_1                              */
/* ------------------------------------------------------------------------ */

static void dot_q8_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q8_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const int32x4_t l0 = dot16(vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
    }
    *out = hsum_8_neon(lo, hi);
}

/* The 32 codes of a 4-bit block minus bias: elements 0..15 are the low
 * nibbles, 16..31 the high ones. */
static inline void q4_codes(const uint8_t qs[16], int8_t bias, int8x16_t *q0, int8x16_t *q1) {
    const uint8x16_t x = vld1q_u8(qs);
    *q0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(x, vdupq_n_u8(0x0F))), vdupq_n_s8(bias));
    *q1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), vdupq_n_s8(bias));
}

/* The 32 codes of a 5-bit block minus bias: the nibbles as for 4 bits, the
 * fifth bit of element j in bit j of qh (read byte by byte: qh is not
 * aligned in its block). */
static inline void q5_codes(const uint8_t qs[16], const uint8_t qh[4], int8_t bias, int8x16_t *q0, int8x16_t *q1) {
    static const uint8_t bit_of[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bits = vld1q_u8(bit_of), b4 = vdupq_n_u8(0x10);
    const uint8x16_t h0 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), b4);
    const uint8x16_t h1 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), b4);
    const uint8x16_t x = vld1q_u8(qs);
    *q0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(x, vdupq_n_u8(0x0F)), h0)), vdupq_n_s8(bias));
    *q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(x, 4), h1)), vdupq_n_s8(bias));
}

static void dot_q5_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        int8x16_t q0, q1;
        q5_codes(w[b].qs, w[b].qh, 16, &q0, &q1);
        const int32x4_t l0 = dot16(q0, vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(q1, vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
    }
    *out = hsum_8_neon(lo, hi);
}

/* Q4_0: one float, a VFP FMA per block of its whole integer dot. */
static void dot_q4_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int8x16_t q0, q1;
        q4_codes(w[b].qs, 8, &q0, &q1);
        const int32x4_t l = vaddq_s32(dot16(q0, vld1q_s8(a[b].qs)), dot16(q1, vld1q_s8(a[b].qs + 16)));
        const int64x2_t l2 = vpaddlq_s32(l);
        const int32_t dot = (int32_t)(vgetq_lane_s64(l2, 0) + vgetq_lane_s64(l2, 1));
        sum = vfp_fma((float)dot, f16_product(w[b].d, a[b].d), sum);
    }
    *out = sum;
}

/* Q4_1, Q5_1: the scaled lanes as for Q8_0; the min terms (products of
 * halves, exact) summed in one VFP float, added after hsum_8. */
static void dot_q4_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        int8x16_t q0, q1;
        q4_codes(w[b].qs, 0, &q0, &q1);
        const int32x4_t l0 = dot16(q0, vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(q1, vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
        mins += f16_product(w[b].m, a[b].s);
    }
    *out = hsum_8_neon(lo, hi) + mins;
}

static void dot_q5_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        int8x16_t q0, q1;
        q5_codes(w[b].qs, w[b].qh, 0, &q0, &q1);
        const int32x4_t l0 = dot16(q0, vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(q1, vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
        mins += f16_product(w[b].m, a[b].s);
    }
    *out = hsum_8_neon(lo, hi) + mins;
}

/* ------------------------------------------------------------------------ */
/* Q2_K .. Q6_K x Q8_K                                                      */
/* ------------------------------------------------------------------------ */

/* In every K-quant kernel below, il holds lanes 0..3 and ih lanes 4..7 of
 * a super-block: element e in lane (e % 32) / 4, times the scale of its 16
 * elements. The code layouts are dot.c's (unpack_* there). */

/* Q2_K: element 128h + 32g + l is bits 2g .. 2g+1 of qs[32h + l]; scale
 * and min of 16 elements in the low and high nibble of scales[e / 16]. Min
 * lanes (lane k: m[2k] * bsums[2k] + m[2k+1] * bsums[2k+1]) first, by an
 * FMA with -(d_a * dmin_w), then the scaled lanes by one with d_a * d_w. */
static void dot_q2_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q2_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m3 = vdupq_n_u8(0x03);
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *sc = w[b].scales;
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int h = 0; h < 2; h++) {
            uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * h), x1 = vld1q_u8(w[b].qs + 32 * h + 16);
            for (int g = 0; g < 4; g++) { /* x0, x1 shifted right by 2g */
                const int v = 4 * h + g;  /* elements 32v .. 32v+31 */
                const int8_t *qa = a[b].qs + 32 * v;
                il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(vandq_u8(x0, m3)), vld1q_s8(qa)), sc[2 * v] & 0xF);
                ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(vandq_u8(x1, m3)), vld1q_s8(qa + 16)),
                                 sc[2 * v + 1] & 0xF);
                x0 = vshrq_n_u8(x0, 2);
                x1 = vshrq_n_u8(x1, 2);
            }
        }
        float mins[8];
        for (int l = 0; l < 8; l++) {
            mins[l] = (float)((sc[2 * l] >> 4) * a[b].bsums[2 * l] + (sc[2 * l + 1] >> 4) * a[b].bsums[2 * l + 1]);
        }
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        for (int l = 0; l < 8; l++) acc[l] = vfp_fma(dmin, mins[l], acc[l]);
        fma_lanes_8(acc, d, il, ih);
    }
    *out = hsum_8(acc);
}

/* Q3_K: codes -4..3, the low two bits as in Q2_K, 4 less where bit e / 32
 * of hmask[e % 32] is clear; signed scales (quant.h's q3k_scale - 32). */
static void dot_q3_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q3_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m3 = vdupq_n_u8(0x03), four = vdupq_n_u8(4);
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[16];
        for (int s = 0; s < 16; s++) sc[s] = q3k_scale(w[b].scales, s) - 32;
        const uint8x16_t hm0 = vld1q_u8(w[b].hmask), hm1 = vld1q_u8(w[b].hmask + 16);
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int h = 0; h < 2; h++) {
            uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * h), x1 = vld1q_u8(w[b].qs + 32 * h + 16);
            for (int g = 0; g < 4; g++) {
                const int v = 4 * h + g;
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << v));
                const int8_t *qa = a[b].qs + 32 * v;
                const uint8x16_t u0 = vsubq_u8(vandq_u8(x0, m3), vbicq_u8(four, vtstq_u8(hm0, bit)));
                const uint8x16_t u1 = vsubq_u8(vandq_u8(x1, m3), vbicq_u8(four, vtstq_u8(hm1, bit)));
                il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(u0), vld1q_s8(qa)), sc[2 * v]);
                ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(u1), vld1q_s8(qa + 16)), sc[2 * v + 1]);
                x0 = vshrq_n_u8(x0, 2);
                x1 = vshrq_n_u8(x1, 2);
            }
        }
        fma_lanes_8(acc, a[b].d * fp16_to_fp32(w[b].d), il, ih);
    }
    *out = hsum_8(acc);
}

/* Q4_K's and Q5_K's scales, and their mins times the sub-block's
 * activation sums. */
static inline void k4_scales_mins(const uint8_t scales[K_SCALE_SIZE], const block_q8_K *restrict a, int32_t sc[8],
                                  int32_t mins[8]) {
    for (int s = 0; s < 8; s++) {
        uint8_t scale, m;
        k4_scale_min(scales, s, &scale, &m);
        sc[s] = scale;
        mins[s] = m * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
    }
}

/* Q4_K: chunk c (qs[32c .. 32c+31]) holds sub-block 2c in its low and
 * 2c+1 in its high nibbles. Mins in 4 floats (k: sub-blocks 2k, 2k+1) by
 * an FMA with -(d_a * dmin_w), added as (0 + 2) + (1 + 3) after hsum_8. */
static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    float acc[8] = {0}, acc_m[4] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[8], mins[8];
        k4_scales_mins(w[b].scales, &a[b], sc, mins);
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * c), x1 = vld1q_u8(w[b].qs + 32 * c + 16);
            const int8_t *qa = a[b].qs + 64 * c;
            il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(vandq_u8(x0, m4)), vld1q_s8(qa)), sc[2 * c]);
            ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(vandq_u8(x1, m4)), vld1q_s8(qa + 16)), sc[2 * c]);
            il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(vshrq_n_u8(x0, 4)), vld1q_s8(qa + 32)), sc[2 * c + 1]);
            ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(vshrq_n_u8(x1, 4)), vld1q_s8(qa + 48)), sc[2 * c + 1]);
        }
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        for (int k = 0; k < 4; k++) acc_m[k] = vfp_fma(dmin, (float)(mins[2 * k] + mins[2 * k + 1]), acc_m[k]);
        fma_lanes_8(acc, d, il, ih);
    }
    *out = hsum_8(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

/* Q5_K: as Q4_K with the fifth bit of sub-block s in bit s of qh[e % 32];
 * the mins summed to one integer per super-block, into ONE float by an FMA
 * with -(d_a * dmin_w), added after hsum_8. */
static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[8], mins[8], total = 0;
        k4_scales_mins(w[b].scales, &a[b], sc, mins);
        for (int s = 0; s < 8; s++) total += mins[s];
        const uint8x16_t qh0 = vld1q_u8(w[b].qh), qh1 = vld1q_u8(w[b].qh + 16);
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * c), x1 = vld1q_u8(w[b].qs + 32 * c + 16);
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * c))), bh = vdupq_n_u8((uint8_t)(1u << (2 * c + 1)));
            const int8_t *qa = a[b].qs + 64 * c;
            const uint8x16_t u0 = vorrq_u8(vandq_u8(x0, m4), vandq_u8(vtstq_u8(qh0, bl), b4));
            const uint8x16_t u1 = vorrq_u8(vandq_u8(x1, m4), vandq_u8(vtstq_u8(qh1, bl), b4));
            const uint8x16_t u2 = vorrq_u8(vshrq_n_u8(x0, 4), vandq_u8(vtstq_u8(qh0, bh), b4));
            const uint8x16_t u3 = vorrq_u8(vshrq_n_u8(x1, 4), vandq_u8(vtstq_u8(qh1, bh), b4));
            il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(u0), vld1q_s8(qa)), sc[2 * c]);
            ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(u1), vld1q_s8(qa + 16)), sc[2 * c]);
            il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(u2), vld1q_s8(qa + 32)), sc[2 * c + 1]);
            ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(u3), vld1q_s8(qa + 48)), sc[2 * c + 1]);
        }
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        summs = vfp_fma(dmin, (float)total, summs);
        fma_lanes_8(acc, d, il, ih);
    }
    *out = hsum_8(acc) + summs;
}

/* Q6_K: element 128h + 32g + l has its low nibble in ql[64h + 32(g % 2) + l]
 * (low nibble for g < 2, high for g >= 2) and its top two bits in bits
 * 2g .. 2g+1 of qh[32h + l]; code - 32; signed scale per 16 elements. */
static void dot_q6_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q6_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(0x03);
    const int8x16_t bias = vdupq_n_s8(32);
    float acc[8] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int h = 0; h < 2; h++) {
            for (int half = 0; half < 2; half++) { /* l in 16 * half .. 16 * half + 15 */
                const uint8x16_t l0 = vld1q_u8(w[b].ql + 64 * h + 16 * half);
                const uint8x16_t l1 = vld1q_u8(w[b].ql + 64 * h + 32 + 16 * half);
                const uint8x16_t qh = vld1q_u8(w[b].qh + 32 * h + 16 * half);
                const uint8x16_t u[4] = {
                    vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(qh, m3), 4)),
                    vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), m3), 4)),
                    vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), m3), 4)),
                    vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
                };
                for (int g = 0; g < 4; g++) {
                    const int e = 128 * h + 32 * g + 16 * half;
                    const int32x4_t dt = dot16(vsubq_s8(vreinterpretq_s8_u8(u[g]), bias), vld1q_s8(a[b].qs + e));
                    if (half == 0) {
                        il = vmlaq_n_s32(il, dt, w[b].scales[e / 16]);
                    } else {
                        ih = vmlaq_n_s32(ih, dt, w[b].scales[e / 16]);
                    }
                }
            }
        }
        fma_lanes_8(acc, a[b].d * fp16_to_fp32(w[b].d), il, ih);
    }
    *out = hsum_8(acc);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static const dot_kernel kernel_f32 = {BIBIM_TYPE_F32, quantize_act_f32, dot_f32_f32};
static const dot_kernel kernel_f16 = {BIBIM_TYPE_F16, quantize_act_f16, dot_f16_f16};
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

const dot_kernel *dot_kernel_neon(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F32: return &kernel_f32;
    case BIBIM_TYPE_F16: return &kernel_f16;
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
    default: return NULL; /* BF16: dot.c's */
    }
}

#else /* 32-bit Arm built without NEON-VFPv4 (or soft-float): no kernels of this level */

const dot_kernel *dot_kernel_neon(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
#else /* not 32-bit Arm: dot_neon.c defines dot_kernel_neon */

typedef int dot_neon32_empty; /* ISO C wants a declaration in every file */

#endif
