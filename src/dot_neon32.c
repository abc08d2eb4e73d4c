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
 * The quantized kernels and F16 are dot_neon_kernels.h's, shared with the
 * AArch64 levels: this file gives them its dot16 (AArch32 has no vpaddq or
 * vmull_high), and the header puts their float steps on VFP or NEON by the
 * rules above; F32 is this file's own.
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

#include <arm_neon.h>
#include <stdint.h>

/* 4 int32 lanes: lane l = the dot of bytes 4l .. 4l+3 of w and a (int8
 * products fit int16; pairs of them int32). */
static inline int32x4_t dot16(int8x16_t w, int8x16_t a) {
    const int32x4_t p0 = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(a)));
    const int32x4_t p1 = vpaddlq_s16(vmull_s8(vget_high_s8(w), vget_high_s8(a)));
    return vcombine_s32(vpadd_s32(vget_low_s32(p0), vget_high_s32(p0)), vpadd_s32(vget_low_s32(p1), vget_high_s32(p1)));
}

static inline int32x4_t dot16_add(int32x4_t acc, int8x16_t w, int8x16_t a) { return vaddq_s32(acc, dot16(w, a)); }

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

#define DOT_NEON_F16 1                    /* dot_neon_kernels.h's dot_f16_f16 and quantize_act_f32 */
#define DOT_NEON_ACTS_FROM dot_kernel_for /* dot.c's quantizers */
#include "dot_neon_kernels.h"

static void quantize_act_f16(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_for(BIBIM_TYPE_F16)->quantize_act(x, y, n);
}

/* ------------------------------------------------------------------------ */
/* F32                                                                      */
/* ------------------------------------------------------------------------ */

/* dot.c's reduce_16, on VFP. */
static inline float reduce_16(float v[16]) {
    for (int width = 8; width > 0; width /= 2) {
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    }
    return v[0];
}

/* 16 VFP accumulators by VFMA (fma1): products of floats can be
 * subnormal, NEON would flush them. */
static void dot_f32_f32(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const float *restrict w = w_row;
    const float *restrict a = act;
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 16; l++) acc[l] = fma1(w[i + l], a[i + l], acc[l]);
    }
    float sum = reduce_16(acc);
    for (; i < n; i++) sum = fma1(w[i], a[i], sum);
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static const dot_kernel kernel_f32 = {BIBIM_TYPE_F32, quantize_act_f32, dot_f32_f32};
static const dot_kernel kernel_f16 = {BIBIM_TYPE_F16, quantize_act_f16, dot_f16_f16};

const dot_kernel *dot_kernel_neon(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F32: return &kernel_f32;
    case BIBIM_TYPE_F16: return &kernel_f16;
    default: return quant_kernel(type); /* BF16: NULL, dot.c's */
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
