/* dot_neon.c — the AArch64 Advanced SIMD (NEON) twins of the scalar kernels
 * in dot.c.
 *
 * dot.c fixes, for every type, llama.cpp's float steps: which partial sums
 * exist, where an FMA rounds once, and the order of the horizontal adds.
 * These kernels take the same steps with 4-lane vectors, so their results
 * are the scalar twin's bit for bit (integer parts are exact in any order):
 *   - F32, F16: 16 float lanes (four vectors; element i in lane i % 16) by
 *     FMA (vfmaq_f32 rounds once, like dot.c's fma_f32; a product of halves
 *     is exact, so there it is the plain add), reduce_16, then the tail.
 *   - BF16: lane l of 16 adds the odd, then the even product of its pair,
 *     multiply and add apart (as dot.c: a tiny product may round).
 *   - Q8_0: per block 8 int32 lanes of 4 consecutive elements (two
 *     vectors), into 8 float lanes by an FMA with d_w*d_a; hsum_8.
 *     Q5_0 the same with its fifth bits; Q4_1 and Q5_1 too, their min
 *     terms added to one float apart (a plain add per block).
 *   - Q4_0: one float, an FMA per block of its integer dot.
 *   - Q2_K .. Q6_K: 8 int32 lanes per super-block (element e in lane
 *     (e % 32) / 4, times its sub-block scale), into 8 float lanes by an
 *     FMA; Q2_K's min lanes FMA'd into the same float lanes first, Q4_K's
 *     mins in 4 float lanes apart, Q5_K's in one float.
 * Activation quantizers (Q8_0, Q8_1, Q8_K) give the same bytes: abs max
 * by compare-and-select (NaN ignored, as dot.c's abs_max), codes by
 * vcvtnq_s32_f32 (halves to even, NaN to 0, saturating) clamped to +-127,
 * scales through fp16.h.
 *
 * Weight rows are read with byte-aligned loads (vld1q_u8/s8 need no
 * alignment) and never beyond their last block. Advanced SIMD is part of
 * every AArch64 CPU, so dot_kernel_at needs no runtime check for it. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

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

/* dot.c's hsum_8 of lanes 0..3 in lo and 4..7 in hi: (l + 4) added to l,
 * then (0 + 2) + (1 + 3). */
static inline float hsum_8(float32x4_t lo, float32x4_t hi) {
    const float32x4_t s = vaddq_f32(lo, hi);
    const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/* dot.c's reduce_16 over lanes 0..3, 4..7, 8..11, 12..15 in v0..v3. */
static inline float reduce_16(float32x4_t v0, float32x4_t v1, float32x4_t v2, float32x4_t v3) {
    return hsum_8(vaddq_f32(v0, v2), vaddq_f32(v1, v3));
}

/* One rounding of a * b + c. */
static inline float fma1(float a, float b, float c) {
    return vget_lane_f32(vfma_f32(vdup_n_f32(c), vdup_n_f32(a), vdup_n_f32(b)), 0);
}

/* 4 int32 lanes: lane l = the dot of bytes 4l .. 4l+3 of w and a. */
static inline int32x4_t dot16(int8x16_t w, int8x16_t a) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    const int16x8_t p1 = vmull_high_s8(w, a);
    return vpaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
}

/* The largest |x| of 4 floats into m, NaN ignored (dot.c's abs_max:
 * "ax > amax ? ax : amax"). */
static inline float32x4_t abs_max_4(float32x4_t m, float32x4_t x) {
    const float32x4_t ax = vabsq_f32(x);
    return vbslq_f32(vcgtq_f32(ax, m), ax, m);
}

static inline float abs_max(const float *x, int n) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < n; j += 4) m = abs_max_4(m, vld1q_f32(x + j));
    return vmaxvq_f32(m);
}

/* round_to_q8(x * scale) of 16 floats, as 16 int8. */
static inline int32x4_t code_4(const float *x, float32x4_t scale) {
    const int32x4_t i = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x), scale));
    return vmaxq_s32(vminq_s32(i, vdupq_n_s32(127)), vdupq_n_s32(-127));
}

static inline int8x16_t codes_16(const float *x, float32x4_t scale) {
    const int16x8_t lo = vcombine_s16(vmovn_s32(code_4(x, scale)), vmovn_s32(code_4(x + 4, scale)));
    const int16x8_t hi = vcombine_s16(vmovn_s32(code_4(x + 8, scale)), vmovn_s32(code_4(x + 12, scale)));
    return vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
}

/* ------------------------------------------------------------------------ */
/* F32, F16, BF16                                                           */
/* ------------------------------------------------------------------------ */

static void quantize_act_f32(const float *restrict x, void *restrict y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void dot_f32_f32(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const float *restrict w = w_row;
    const float *restrict a = act;
    float32x4_t v0 = vdupq_n_f32(0.0f), v1 = v0, v2 = v0, v3 = v0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v0 = vfmaq_f32(v0, vld1q_f32(w + i), vld1q_f32(a + i));
        v1 = vfmaq_f32(v1, vld1q_f32(w + i + 4), vld1q_f32(a + i + 4));
        v2 = vfmaq_f32(v2, vld1q_f32(w + i + 8), vld1q_f32(a + i + 8));
        v3 = vfmaq_f32(v3, vld1q_f32(w + i + 12), vld1q_f32(a + i + 12));
    }
    float sum = reduce_16(v0, v1, v2, v3);
    for (; i < n; i++) sum = fma1(w[i], a[i], sum);
    *out = sum;
}

/* FCVT rounds to nearest even (the default FPCR mode) and keeps NaNs as
 * fp32_to_fp16 does (quiet bit set, the top of the payload kept). */
static void quantize_act_f16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t v = vcombine_f16(vcvt_f16_f32(vld1q_f32(x + i)), vcvt_f16_f32(vld1q_f32(x + i + 4)));
        vst1q_u16(h + i, vreinterpretq_u16_f16(v));
    }
    for (; i < n; i++) h[i] = fp32_to_fp16(x[i]);
}

static inline float32x4_t halves_lo(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

static void dot_f16_f16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float32x4_t v0 = vdupq_n_f32(0.0f), v1 = v0, v2 = v0, v3 = v0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) { /* products of halves are exact: the FMA is the add */
        v0 = vfmaq_f32(v0, halves_lo(w + i), halves_lo(a + i));
        v1 = vfmaq_f32(v1, halves_lo(w + i + 4), halves_lo(a + i + 4));
        v2 = vfmaq_f32(v2, halves_lo(w + i + 8), halves_lo(a + i + 8));
        v3 = vfmaq_f32(v3, halves_lo(w + i + 12), halves_lo(a + i + 12));
    }
    float sum = reduce_16(v0, v1, v2, v3);
    for (; i < n; i++) sum += fp16_to_fp32(w[i]) * fp16_to_fp32(a[i]);
    *out = sum;
}

/* fp32_to_bf16 of 4 floats as 4 uint32 (0..0xFFFF). */
static inline uint16x4_t bf16_x4(uint32x4_t u) {
    const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffffu)), vdupq_n_u32(0x7f800000u));
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fffu)), odd), 16);
    const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40u));
    return vmovn_u32(vbslq_u32(nan, quiet, rounded));
}

static void quantize_act_bf16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint32x4_t lo = vreinterpretq_u32_f32(vld1q_f32(x + i));
        const uint32x4_t hi = vreinterpretq_u32_f32(vld1q_f32(x + i + 4));
        vst1q_u16(h + i, vcombine_u16(bf16_x4(lo), bf16_x4(hi)));
    }
    for (; i < n; i++) h[i] = fp32_to_bf16(x[i]);
}

/* Lanes 0..3 of 16 from 8 bfloats: lane l adds the product of elements
 * 2l + 1 (the high half of word l), then of element 2l (its low half). */
static inline float32x4_t bf16_pairs(float32x4_t acc, const uint16_t *w, const uint16_t *a) {
    const uint32x4_t ww = vreinterpretq_u32_u16(vld1q_u16(w)), aa = vreinterpretq_u32_u16(vld1q_u16(a));
    const uint32x4_t high = vdupq_n_u32(0xFFFF0000u);
    const float32x4_t odd = vmulq_f32(vreinterpretq_f32_u32(vandq_u32(ww, high)),
                                      vreinterpretq_f32_u32(vandq_u32(aa, high)));
    const float32x4_t even = vmulq_f32(vreinterpretq_f32_u32(vshlq_n_u32(ww, 16)),
                                       vreinterpretq_f32_u32(vshlq_n_u32(aa, 16)));
    return vaddq_f32(vaddq_f32(acc, odd), even);
}

static void dot_bf16_bf16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    float32x4_t v0 = vdupq_n_f32(0.0f), v1 = v0, v2 = v0, v3 = v0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        v0 = bf16_pairs(v0, w + i, a + i);
        v1 = bf16_pairs(v1, w + i + 8, a + i + 8);
        v2 = bf16_pairs(v2, w + i + 16, a + i + 16);
        v3 = bf16_pairs(v3, w + i + 24, a + i + 24);
    }
    float sum = reduce_16(v0, v1, v2, v3);
    for (; i < n; i++) sum += bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]);
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Activations: Q8_0, Q8_1, Q8_K                                            */
/* ------------------------------------------------------------------------ */

static void quantize_act_q8_0(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_0 *restrict y = vy;
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        const float amax = abs_max(x, QK8_0);
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = fp32_to_fp16(amax / 127.0f);
        const float32x4_t scale = vdupq_n_f32(id);
        vst1q_s8(y[b].qs, codes_16(x, scale));
        vst1q_s8(y[b].qs + 16, codes_16(x + 16, scale));
    }
}

/* dot.c's quantize_act_q8_1: the Q8_0 codes; d = amax / 127 as f16, and
 * s = f16(d * the sum of the codes) with d before its rounding. */
static void quantize_act_q8_1(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_1 *restrict y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        const float amax = abs_max(x, 32);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        const float32x4_t scale = vdupq_n_f32(id);
        const int8x16_t q0 = codes_16(x, scale), q1 = codes_16(x + 16, scale);
        vst1q_s8(y[b].qs, q0);
        vst1q_s8(y[b].qs + 16, q1);
        const int32_t sum = vaddlvq_s8(q0) + vaddlvq_s8(q1);
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * (float)sum);
    }
}

/* dot.c's quantize_act_q8_K: the first element of largest magnitude, with
 * its sign, maps to -127. */
static void quantize_act_q8_K(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_K *restrict y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        const float amax = abs_max(x, QK_K);
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        int first = 0;
        while (!(x[first] == amax || x[first] == -amax)) first++;
        const float iscale = -127.0f / x[first];
        const float32x4_t scale = vdupq_n_f32(iscale);
        for (int j = 0; j < QK_K; j += 16) {
            const int8x16_t q = codes_16(x + j, scale);
            vst1q_s8(y[b].qs + j, q);
            y[b].bsums[j / 16] = (int16_t)vaddlvq_s8(q);
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0 x Q8_0                                                        */
/* ------------------------------------------------------------------------ */

static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

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
    *out = hsum_8(lo, hi);
}

/* The 32 codes 0..31 of a 5-bit block (Q5_0, Q5_1): elements 0..15 in c0
 * (low nibbles), 16..31 in c1 (high nibbles), the fifth bit of element j
 * in bit j of qh (read byte by byte: qh is not aligned in its block). */
static inline void q5_codes(const uint8_t qs[16], const uint8_t qh[4], uint8x16_t *c0, uint8x16_t *c1) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    const uint8x16_t bits = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t h0 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), b4);
    const uint8x16_t h1 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), b4);
    const uint8x16_t x = vld1q_u8(qs);
    *c0 = vorrq_u8(vandq_u8(x, m4), h0);
    *c1 = vorrq_u8(vshrq_n_u8(x, 4), h1);
}

/* Q5_0: codes - 16; 8 int32 lanes into 8 float lanes as for Q8_0. */
static void dot_q5_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    const int8x16_t sixteen = vdupq_n_s8(16);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        uint8x16_t c0, c1;
        q5_codes(w[b].qs, w[b].qh, &c0, &c1);
        const int8x16_t q0 = vsubq_s8(vreinterpretq_s8_u8(c0), sixteen);
        const int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(c1), sixteen);
        const int32x4_t l0 = dot16(q0, vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(q1, vld1q_s8(a[b].qs + 16));
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
        const int8x16_t q0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(x, m4)), eight);
        const int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), eight);
        const int32x4_t l = vaddq_s32(dot16(q0, vld1q_s8(a[b].qs)), dot16(q1, vld1q_s8(a[b].qs + 16)));
        sum = fma1((float)vaddvq_s32(l), f16_product(w[b].d, a[b].d), sum);
    }
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Q4_1, Q5_1 x Q8_1                                                        */
/* ------------------------------------------------------------------------ */

/* Q4_1, Q5_1: unsigned codes (no bias), the lanes as for Q8_0; the min
 * terms m_w * s_a (exact products of halves) added to ONE float in block
 * order — a plain add, no FMA, as in dot.c — and that float added after
 * hsum_8. The two parts nearly cancel, so neither may be folded into the
 * other. */
static void dot_q4_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        const uint8x16_t x = vld1q_u8(w[b].qs);
        const int32x4_t l0 = dot16(vreinterpretq_s8_u8(vandq_u8(x, m4)), vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), vld1q_s8(a[b].qs + 16));
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
        const int32x4_t l0 = dot16(vreinterpretq_s8_u8(c0), vld1q_s8(a[b].qs));
        const int32x4_t l1 = dot16(vreinterpretq_s8_u8(c1), vld1q_s8(a[b].qs + 16));
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

/* Q2_K: element 128h + 32g + l is bits 2g .. 2g+1 of qs[32h + l], times
 * the low nibble of scales[(128h + 32g + l) / 16]. Per super-block the min
 * lanes go FIRST into the 8 float lanes (lane k: m[2k] * bsums[2k] +
 * m[2k+1] * bsums[2k+1], the m the high nibbles of scales), by an FMA with
 * -(d_a * dmin_w); then the scaled lanes by an FMA with d_a * d_w. */
static inline void q2_K_min_lanes(const uint8x16_t scales, const int16_t bsums[16], int32x4_t *ml, int32x4_t *mh) {
    const uint8x16_t m = vshrq_n_u8(scales, 4);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(m));
    const int16x8_t s0 = vld1q_s16(bsums), s1 = vld1q_s16(bsums + 8);
    *ml = vpaddq_s32(vmull_s16(vget_low_s16(m0), vget_low_s16(s0)), vmull_high_s16(m0, s0));
    *mh = vpaddq_s32(vmull_s16(vget_low_s16(m1), vget_low_s16(s1)), vmull_high_s16(m1, s1));
}

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
                const int v = 4 * h + g; /* elements 32v .. 32v+31 */
                const int8_t *qa = a[b].qs + 32 * v;
                il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(vandq_u8(x0, m3)), vld1q_s8(qa)), sc[2 * v]);
                ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(vandq_u8(x1, m3)), vld1q_s8(qa + 16)), sc[2 * v + 1]);
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

/* Q3_K's 16 scales minus 32, into sc (quant.h's q3k_scale): scale 4k + i
 * has its low nibble in byte i (+4 for k odd; the low nibble for k < 2,
 * the high one after) and its top two bits at bits 2k of byte 8 + i. Each
 * 32-bit word below holds four of them, k = 0..3. */
static inline void q3_K_scales(const uint8_t s[K_SCALE_SIZE], int8_t sc[16]) {
    uint32_t w[3];
    memcpy(w, s, sizeof w);
    const uint32x4_t low = {w[0], w[1], w[0] >> 4, w[1] >> 4};
    const uint32x4_t high = vshlq_u32(vdupq_n_u32(w[2]), (int32x4_t){0, -2, -4, -6});
    const uint32x4_t u = vorrq_u32(vandq_u32(low, vdupq_n_u32(0x0F0F0F0Fu)),
                                   vshlq_n_u32(vandq_u32(high, vdupq_n_u32(0x03030303u)), 4));
    vst1q_s8(sc, vsubq_s8(vreinterpretq_s8_u32(u), vdupq_n_s8(32)));
}

/* Q3_K: codes -4..3, the low two bits as in Q2_K, and 4 less where bit
 * (e / 32) of hmask[e % 32] is clear; signed scales; no min term. */
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
                const int8_t *qa = a[b].qs + 32 * v;
                const uint8x16_t u0 = vsubq_u8(vandq_u8(x0, m3), vbicq_u8(four, vtstq_u8(hm0, bit)));
                const uint8x16_t u1 = vsubq_u8(vandq_u8(x1, m3), vbicq_u8(four, vtstq_u8(hm1, bit)));
                il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(u0), vld1q_s8(qa)), sc[2 * v]);
                ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(u1), vld1q_s8(qa + 16)), sc[2 * v + 1]);
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


/* Q4_K: chunk c (qs[32c .. 32c+31]) holds sub-block 2c in its low and 2c+1
 * in its high nibbles; lanes 0..3 take elements 0..15 of each sub-block,
 * lanes 4..7 elements 16..31. Mins in 4 float lanes (lane k: sub-blocks 2k
 * and 2k+1) by an FMA with -(d_a * dmin_w), added as (0 + 2) + (1 + 3)
 * after hsum_8. */
static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo, macc = lo;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[8], mins[8];
        for (int s = 0; s < 8; s++) {
            uint8_t scale, m;
            k4_scale_min(w[b].scales, s, &scale, &m);
            sc[s] = scale;
            mins[s] = m * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
        }
        int32x4_t il = vdupq_n_s32(0), ih = il;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t x0 = vld1q_u8(w[b].qs + 32 * c), x1 = vld1q_u8(w[b].qs + 32 * c + 16);
            const int8_t *qa = a[b].qs + 64 * c;
            il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(vandq_u8(x0, m4)), vld1q_s8(qa)), sc[2 * c]);
            ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(vandq_u8(x1, m4)), vld1q_s8(qa + 16)), sc[2 * c]);
            il = vmlaq_n_s32(il, dot16(vreinterpretq_s8_u8(vshrq_n_u8(x0, 4)), vld1q_s8(qa + 32)), sc[2 * c + 1]);
            ih = vmlaq_n_s32(ih, dot16(vreinterpretq_s8_u8(vshrq_n_u8(x1, 4)), vld1q_s8(qa + 48)), sc[2 * c + 1]);
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
 * the mins summed to one integer per super-block, into ONE float by an FMA
 * with -(d_a * dmin_w), added after hsum_8. */
static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    float summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sc[8], total = 0;
        for (int s = 0; s < 8; s++) {
            uint8_t scale, m;
            k4_scale_min(w[b].scales, s, &scale, &m);
            sc[s] = scale;
            total += m * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
        }
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
                    const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(u[g]), bias);
                    const int32x4_t dt = dot16(q, vld1q_s8(a[b].qs + e));
                    if (half == 0) {
                        il = vmlaq_n_s32(il, dt, w[b].scales[e / 16]);
                    } else {
                        ih = vmlaq_n_s32(ih, dt, w[b].scales[e / 16]);
                    }
                }
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

const dot_kernel *dot_kernel_neon(bibim_type type) {
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

#elif !defined(__arm__) /* 32-bit Arm has its own (dot_neon32.c); elsewhere no kernels of this level */

const dot_kernel *dot_kernel_neon(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
