/* dot_dotprod.c — the AArch64 SDOT twins (Armv8.2-A dot product extension)
 * of the scalar quantized kernels in dot.c; F32, F16 and BF16 use the NEON
 * level's kernels (dot_kernel_at falls through).
 *
 * vdotq_s32 adds the dot of bytes 4l .. 4l+3 into int32 lane l: exactly
 * ggml's lane layout (dot.c's lane_dots_32), two vectors per 32 elements,
 * in one instruction where plain NEON needs four (dot_neon.c's dot16).
 * Only the integer parts change; the float steps are dot_neon.c's, which
 * are dot.c's, so results are the scalar twin's bit for bit:
 *   - Q8_0, Q5_0: 8 float lanes, an FMA per block with d_w*d_a, hsum_8;
 *     Q4_1, Q5_1 the same, their min terms added to one float apart;
 *   - Q4_0: one float, an FMA per block of its integer dot;
 *   - Q2_K .. Q6_K: 8 int32 lanes per super-block (element e in lane
 *     (e % 32) / 4, times its sub-block scale), into 8 float lanes by an
 *     FMA; Q2_K's min lanes into the same float lanes first, Q4_K's mins in
 *     4 float lanes apart, Q5_K's in one float.
 * The code layouts of each type are described beside dot_neon.c's kernels.
 * Every lane stays far below 2^24 (dot.c bounds them), so its float is
 * exact and SDOT's int32 accumulation cannot overflow.
 * Activations: the NEON level's quantizers (same bytes as dot.c's).
 * Built with -march=armv8.2-a+dotprod (Makefile: FLAGS_dot_dotprod); only
 * dot_kernel_at calls dot_kernel_dotprod, after cpu_level_supported has
 * seen HWCAP_ASIMDDP. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)

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

/* dot.c's hsum_8 of lanes 0..3 in lo and 4..7 in hi. */
static inline float hsum_8(float32x4_t lo, float32x4_t hi) {
    const float32x4_t s = vaddq_f32(lo, hi);
    const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/* One rounding of a * b + c. */
static inline float fma1(float a, float b, float c) {
    return vget_lane_f32(vfma_f32(vdup_n_f32(c), vdup_n_f32(a), vdup_n_f32(b)), 0);
}

static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

/* 4 int32 lanes: lane l = the dot of bytes 4l .. 4l+3 of w and a. */
static inline int32x4_t sdot16(int8x16_t w, int8x16_t a) { return vdotq_s32(vdupq_n_s32(0), w, a); }

static inline int8x16_t s8(uint8x16_t u) { return vreinterpretq_s8_u8(u); }

/* The NEON level's quantizers (static in dot_neon.c). */
static void quantize_act_q8_0(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_neon(BIBIM_TYPE_Q8_0)->quantize_act(x, y, n);
}

static void quantize_act_q8_1(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_neon(BIBIM_TYPE_Q4_1)->quantize_act(x, y, n);
}

static void quantize_act_q8_K(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_neon(BIBIM_TYPE_Q4_K)->quantize_act(x, y, n);
}

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0, Q5_0 x Q8_0;  Q4_1, Q5_1 x Q8_1                              */
/* ------------------------------------------------------------------------ */

static void dot_q8_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q8_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const int32x4_t l0 = sdot16(vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
        const int32x4_t l1 = sdot16(vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
    }
    *out = hsum_8(lo, hi);
}

static void dot_q4_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        const uint8x16_t x = vld1q_u8(w[b].qs);
        const int8x16_t q0 = vsubq_s8(s8(vandq_u8(x, m4)), eight);
        const int8x16_t q1 = vsubq_s8(s8(vshrq_n_u8(x, 4)), eight);
        int32x4_t l = vdotq_s32(vdupq_n_s32(0), q0, vld1q_s8(a[b].qs));
        l = vdotq_s32(l, q1, vld1q_s8(a[b].qs + 16));
        sum = fma1((float)vaddvq_s32(l), f16_product(w[b].d, a[b].d), sum);
    }
    *out = sum;
}

/* The 32 codes 0..31 of a 5-bit block: elements 0..15 in c0, 16..31 in
 * c1, the fifth bit of element j in bit j of qh (read byte by byte). */
static inline void q5_codes(const uint8_t qs[16], const uint8_t qh[4], uint8x16_t *c0, uint8x16_t *c1) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    const uint8x16_t bits = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t h0 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), b4);
    const uint8x16_t h1 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), b4);
    const uint8x16_t x = vld1q_u8(qs);
    *c0 = vorrq_u8(vandq_u8(x, m4), h0);
    *c1 = vorrq_u8(vshrq_n_u8(x, 4), h1);
}

static void dot_q5_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    const int8x16_t sixteen = vdupq_n_s8(16);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        uint8x16_t c0, c1;
        q5_codes(w[b].qs, w[b].qh, &c0, &c1);
        const int32x4_t l0 = sdot16(vsubq_s8(s8(c0), sixteen), vld1q_s8(a[b].qs));
        const int32x4_t l1 = sdot16(vsubq_s8(s8(c1), sixteen), vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
    }
    *out = hsum_8(lo, hi);
}

/* Q4_1, Q5_1: the min terms m_w * s_a (exact) summed in one float by plain
 * adds, in block order, added after hsum_8 (dot.c explains why apart). */
static void dot_q4_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        const uint8x16_t x = vld1q_u8(w[b].qs);
        const int32x4_t l0 = sdot16(s8(vandq_u8(x, m4)), vld1q_s8(a[b].qs));
        const int32x4_t l1 = sdot16(s8(vshrq_n_u8(x, 4)), vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
        mins += f16_product(w[b].m, a[b].s);
    }
    *out = hsum_8(lo, hi) + mins;
}

static void dot_q5_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        uint8x16_t c0, c1;
        q5_codes(w[b].qs, w[b].qh, &c0, &c1);
        const int32x4_t l0 = sdot16(s8(c0), vld1q_s8(a[b].qs));
        const int32x4_t l1 = sdot16(s8(c1), vld1q_s8(a[b].qs + 16));
        const float32x4_t d = vdupq_n_f32(f16_product(w[b].d, a[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(l0), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(l1), d);
        mins += f16_product(w[b].m, a[b].s);
    }
    *out = hsum_8(lo, hi) + mins;
}

/* ------------------------------------------------------------------------ */
/* Q2_K .. Q6_K x Q8_K                                                      */
/* ------------------------------------------------------------------------ */

/* The 16 codes of elements 16k .. 16k+15 (k = 0..15) of a super-block
 * times their activations, scaled: il takes the first 16 of each 32
 * elements (lanes 0..3), ih the second (lanes 4..7). */
static inline void k_add(int32x4_t *il, int32x4_t *ih, int8x16_t q0, int8x16_t q1, const int8_t *qa, int32_t sc0,
                         int32_t sc1) {
    *il = vmlaq_n_s32(*il, sdot16(q0, vld1q_s8(qa)), sc0);
    *ih = vmlaq_n_s32(*ih, sdot16(q1, vld1q_s8(qa + 16)), sc1);
}

/* Q2_K's min lanes: lane k = m[2k] * bsums[2k] + m[2k+1] * bsums[2k+1],
 * the m the high nibbles of scales; lanes 0..3 in ml, 4..7 in mh. */
static inline void q2_K_min_lanes(const uint8x16_t scales, const int16_t bsums[16], int32x4_t *ml, int32x4_t *mh) {
    const uint8x16_t m = vshrq_n_u8(scales, 4);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(m));
    const int16x8_t s0 = vld1q_s16(bsums), s1 = vld1q_s16(bsums + 8);
    *ml = vpaddq_s32(vmull_s16(vget_low_s16(m0), vget_low_s16(s0)), vmull_high_s16(m0, s0));
    *mh = vpaddq_s32(vmull_s16(vget_low_s16(m1), vget_low_s16(s1)), vmull_high_s16(m1, s1));
}

/* Q2_K: the min lanes first into the float lanes (FMA with -(d_a*dmin_w)),
 * then the scaled lanes (FMA with d_a*d_w). */
static void dot_q2_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q2_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m3 = vdupq_n_u8(0x03);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8x16_t scales = vld1q_u8(w[b].scales);
        uint8_t sc[16];
        vst1q_u8(sc, vandq_u8(scales, vdupq_n_u8(0x0F)));
        int32x4_t ml, mh, il = vdupq_n_s32(0), ih = il;
        q2_K_min_lanes(scales, a[b].bsums, &ml, &mh);
        for (int h = 0; h < 2; h++) {
            uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * h), x1 = vld1q_u8(w[b].qs + 32 * h + 16);
            for (int g = 0; g < 4; g++) { /* x0, x1 shifted right by 2g */
                const int v = 4 * h + g;  /* elements 32v .. 32v+31 */
                k_add(&il, &ih, s8(vandq_u8(x0, m3)), s8(vandq_u8(x1, m3)), a[b].qs + 32 * v, sc[2 * v],
                      sc[2 * v + 1]);
                x0 = vshrq_n_u8(x0, 2);
                x1 = vshrq_n_u8(x1, 2);
            }
        }
        const float32x4_t d = vdupq_n_f32(a[b].d * fp16_to_fp32(w[b].d));
        const float32x4_t dmin = vdupq_n_f32(-a[b].d * fp16_to_fp32(w[b].dmin));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(ml), dmin);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(mh), dmin);
        lo = vfmaq_f32(lo, vcvtq_f32_s32(il), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(ih), d);
    }
    *out = hsum_8(lo, hi);
}

/* Q3_K's 16 scales minus 32 (quant.h's q3k_scale), four per 32-bit word. */
static inline void q3_K_scales(const uint8_t s[K_SCALE_SIZE], int8_t sc[16]) {
    uint32_t w[3];
    memcpy(w, s, sizeof w);
    const uint32x4_t low = {w[0], w[1], w[0] >> 4, w[1] >> 4};
    const uint32x4_t high = vshlq_u32(vdupq_n_u32(w[2]), (int32x4_t){0, -2, -4, -6});
    const uint32x4_t u = vorrq_u32(vandq_u32(low, vdupq_n_u32(0x0F0F0F0Fu)),
                                   vshlq_n_u32(vandq_u32(high, vdupq_n_u32(0x03030303u)), 4));
    vst1q_s8(sc, vsubq_s8(vreinterpretq_s8_u32(u), vdupq_n_s8(32)));
}

/* Q3_K: codes -4..3 (4 less where the hmask bit is clear); no min term. */
static void dot_q3_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q3_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m3 = vdupq_n_u8(0x03), four = vdupq_n_u8(4);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int8_t sc[16];
        q3_K_scales(w[b].scales, sc);
        const uint8x16_t hm0 = vld1q_u8(w[b].hmask), hm1 = vld1q_u8(w[b].hmask + 16);
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int h = 0; h < 2; h++) {
            uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * h), x1 = vld1q_u8(w[b].qs + 32 * h + 16);
            for (int g = 0; g < 4; g++) { /* x0, x1 shifted right by 2g */
                const int v = 4 * h + g;  /* elements 32v .. 32v+31 */
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << v));
                const uint8x16_t u0 = vsubq_u8(vandq_u8(x0, m3), vbicq_u8(four, vtstq_u8(hm0, bit)));
                const uint8x16_t u1 = vsubq_u8(vandq_u8(x1, m3), vbicq_u8(four, vtstq_u8(hm1, bit)));
                k_add(&il, &ih, s8(u0), s8(u1), a[b].qs + 32 * v, sc[2 * v], sc[2 * v + 1]);
                x0 = vshrq_n_u8(x0, 2);
                x1 = vshrq_n_u8(x1, 2);
            }
        }
        const float32x4_t d = vdupq_n_f32(a[b].d * fp16_to_fp32(w[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(il), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(ih), d);
    }
    *out = hsum_8(lo, hi);
}

/* Q4_K and Q5_K's 8 scales, and the integer min term of each sub-block
 * (its min times the sum of its 32 activation codes). */
static inline void k4_scales_mins(const uint8_t scales[K_SCALE_SIZE], const int16_t bsums[16], int32_t sc[8],
                                  int32_t mins[8]) {
    for (int s = 0; s < 8; s++) {
        uint8_t scale, m;
        k4_scale_min(scales, s, &scale, &m);
        sc[s] = scale;
        mins[s] = m * (bsums[2 * s] + bsums[2 * s + 1]);
    }
}

/* Q4_K: the mins in 4 float lanes (lane k: sub-blocks 2k and 2k+1) by an
 * FMA with -(d_a * dmin_w), added as (0 + 2) + (1 + 3) after hsum_8. */
static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo, macc = lo;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[8], mins[8];
        k4_scales_mins(w[b].scales, a[b].bsums, sc, mins);
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int c = 0; c < 4; c++) { /* sub-blocks 2c (low nibbles), 2c+1 (high) */
            const uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * c), x1 = vld1q_u8(w[b].qs + 32 * c + 16);
            const int8_t *qa = a[b].qs + 64 * c;
            k_add(&il, &ih, s8(vandq_u8(x0, m4)), s8(vandq_u8(x1, m4)), qa, sc[2 * c], sc[2 * c]);
            k_add(&il, &ih, s8(vshrq_n_u8(x0, 4)), s8(vshrq_n_u8(x1, 4)), qa + 32, sc[2 * c + 1], sc[2 * c + 1]);
        }
        const int32_t m4v[4] = {mins[0] + mins[1], mins[2] + mins[3], mins[4] + mins[5], mins[6] + mins[7]};
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        macc = vfmaq_f32(macc, vcvtq_f32_s32(vld1q_s32(m4v)), vdupq_n_f32(dmin));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(il), vdupq_n_f32(d));
        hi = vfmaq_f32(hi, vcvtq_f32_s32(ih), vdupq_n_f32(d));
    }
    const float32x2_t m2 = vadd_f32(vget_low_f32(macc), vget_high_f32(macc));
    *out = hsum_8(lo, hi) + (vget_lane_f32(m2, 0) + vget_lane_f32(m2, 1));
}

/* Q5_K: as Q4_K with the fifth bit of sub-block s in bit s of qh[e % 32];
 * the mins summed to one integer per super-block, into ONE float by an
 * FMA with -(d_a * dmin_w), added after hsum_8. */
static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[8], mins[8], total = 0;
        k4_scales_mins(w[b].scales, a[b].bsums, sc, mins);
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
            k_add(&il, &ih, s8(u0), s8(u1), qa, sc[2 * c], sc[2 * c]);
            k_add(&il, &ih, s8(u2), s8(u3), qa + 32, sc[2 * c + 1], sc[2 * c + 1]);
        }
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        summs = fma1(dmin, (float)total, summs);
        lo = vfmaq_f32(lo, vcvtq_f32_s32(il), vdupq_n_f32(d));
        hi = vfmaq_f32(hi, vcvtq_f32_s32(ih), vdupq_n_f32(d));
    }
    *out = hsum_8(lo, hi) + summs;
}

/* Q6_K: element 128h + 32g + l has its low nibble in ql[64h + 32(g % 2) + l]
 * (low nibble for g < 2, high for g >= 2) and its top two bits in bits
 * 2g .. 2g+1 of qh[32h + l]; code - 32; signed scale per 16 elements. */
static void dot_q6_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q6_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(0x03);
    const int8x16_t bias = vdupq_n_s8(32);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const int8_t *sc = w[b].scales;
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32), l3 = vld1q_u8(ql + 48);
            /* The low nibbles of the 16 + 16 elements of each g. */
            const uint8x16_t nib[4][2] = {{l0, l1}, {l2, l3}, {vshrq_n_u8(l0, 4), vshrq_n_u8(l1, 4)},
                                          {vshrq_n_u8(l2, 4), vshrq_n_u8(l3, 4)}};
            uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
            for (int g = 0; g < 4; g++) { /* h0, h1 shifted right by 2g */
                const uint8x16_t u0 = vorrq_u8(vandq_u8(nib[g][0], m4), vshlq_n_u8(vandq_u8(h0, m3), 4));
                const uint8x16_t u1 = vorrq_u8(vandq_u8(nib[g][1], m4), vshlq_n_u8(vandq_u8(h1, m3), 4));
                const int v = 4 * h + g; /* elements 32v .. 32v+31 */
                k_add(&il, &ih, vsubq_s8(s8(u0), bias), vsubq_s8(s8(u1), bias), a[b].qs + 32 * v, sc[2 * v],
                      sc[2 * v + 1]);
                h0 = vshrq_n_u8(h0, 2);
                h1 = vshrq_n_u8(h1, 2);
            }
        }
        const float32x4_t d = vdupq_n_f32(a[b].d * fp16_to_fp32(w[b].d));
        lo = vfmaq_f32(lo, vcvtq_f32_s32(il), d);
        hi = vfmaq_f32(hi, vcvtq_f32_s32(ih), d);
    }
    *out = hsum_8(lo, hi);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

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

const dot_kernel *dot_kernel_dotprod(bibim_type type) {
    switch (type) {
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

#else /* not AArch64 with the dot product extension: no kernels of this level */

const dot_kernel *dot_kernel_dotprod(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
