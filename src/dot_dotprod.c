/* dot_dotprod.c — the AArch64 SDOT twins (Armv8.2-A dot product extension)
 * of the scalar Q8_0 and Q4_0 kernels in dot.c; every other type uses the
 * NEON level's kernel (dot_kernel_at falls through).
 *
 * vdotq_s32 adds the dot of bytes 4l .. 4l+3 into int32 lane l: exactly
 * ggml's lane layout (dot.c's lane_dots_32), two vectors per 32-element
 * block. Float steps as in dot.c, so results are the scalar twin's bit for
 * bit:
 *   - Q8_0: 8 float lanes, an FMA per block with d_w*d_a, hsum_8;
 *   - Q4_0: one float, an FMA per block of its integer dot.
 * Activations: the NEON level's Q8_0 quantizer (same bytes as dot.c's).
 * Built with -march=armv8.2-a+dotprod (Makefile: FLAGS_dot_dotprod); only
 * dot_kernel_at calls dot_kernel_dotprod, after cpu_level_supported has
 * seen HWCAP_ASIMDDP. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)

#include "fp16.h"
#include "quant.h"

#include <arm_neon.h>

static inline float hsum_8(float32x4_t lo, float32x4_t hi) {
    const float32x4_t s = vaddq_f32(lo, hi);
    const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

static inline float fma1(float a, float b, float c) {
    return vget_lane_f32(vfma_f32(vdup_n_f32(c), vdup_n_f32(a), vdup_n_f32(b)), 0);
}

static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

/* The NEON level's Q8_0 quantizer (static in dot_neon.c). */
static void quantize_act_q8_0(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_neon(BIBIM_TYPE_Q8_0)->quantize_act(x, y, n);
}

static void dot_q8_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q8_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    const int32x4_t zero = vdupq_n_s32(0);
    float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const int32x4_t l0 = vdotq_s32(zero, vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
        const int32x4_t l1 = vdotq_s32(zero, vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
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
        int32x4_t l = vdotq_s32(vdupq_n_s32(0), q0, vld1q_s8(a[b].qs));
        l = vdotq_s32(l, q1, vld1q_s8(a[b].qs + 16));
        sum = fma1((float)vaddvq_s32(l), f16_product(w[b].d, a[b].d), sum);
    }
    *out = sum;
}

static const dot_kernel kernel_q8_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q8_0_q8_0};
static const dot_kernel kernel_q4_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q4_0_q8_0};

const dot_kernel *dot_kernel_dotprod(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_Q8_0: return &kernel_q8_0;
    case BIBIM_TYPE_Q4_0: return &kernel_q4_0;
    default: return NULL;
    }
}

#else /* not AArch64 with the dot product extension: no kernels of this level */

const dot_kernel *dot_kernel_dotprod(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
