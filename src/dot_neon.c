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
 *   - the quantized types: dot_neon_kernels.h, shared with the SDOT level
 *     (dot_dotprod.c) and 32-bit Arm (dot_neon32.c); this file gives them
 *     the plain NEON dot16 below, and its F16 kernel.
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

#include <arm_neon.h>

/* 4 int32 lanes: lane l = the dot of bytes 4l .. 4l+3 of w and a. */
static inline int32x4_t dot16(int8x16_t w, int8x16_t a) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    const int16x8_t p1 = vmull_high_s8(w, a);
    return vpaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
}

static inline int32x4_t dot16_add(int32x4_t acc, int8x16_t w, int8x16_t a) { return vaddq_s32(acc, dot16(w, a)); }

/* 4 halves as floats (FCVTL: exact). */
static inline float32x4_t halves_4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

#define DOT_NEON_F16 1 /* dot_neon_kernels.h's dot_f16_f16 and quantize_act_f32 */
#include "dot_neon_kernels.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* dot.c's reduce_16 over lanes 0..3, 4..7, 8..11, 12..15 in v0..v3. */
static inline float reduce_16(float32x4_t v0, float32x4_t v1, float32x4_t v2, float32x4_t v3) {
    return hsum_8(vaddq_f32(v0, v2), vaddq_f32(v1, v3));
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
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static const dot_kernel kernel_f32 = {BIBIM_TYPE_F32, quantize_act_f32, dot_f32_f32};
static const dot_kernel kernel_f16 = {BIBIM_TYPE_F16, quantize_act_f16, dot_f16_f16};
static const dot_kernel kernel_bf16 = {BIBIM_TYPE_BF16, quantize_act_bf16, dot_bf16_bf16};

const dot_kernel *dot_kernel_neon(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F32: return &kernel_f32;
    case BIBIM_TYPE_F16: return &kernel_f16;
    case BIBIM_TYPE_BF16: return &kernel_bf16;
    default: return quant_kernel(type);
    }
}

#elif !defined(__arm__) /* 32-bit Arm has its own (dot_neon32.c); elsewhere no kernels of this level */

const dot_kernel *dot_kernel_neon(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
