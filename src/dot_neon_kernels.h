/* dot_neon_kernels.h — the quantized row kernels of the three Arm levels,
 * written once: dot_neon.c (AArch64 Advanced SIMD), dot_dotprod.c (AArch64
 * with SDOT) and dot_neon32.c (AArch32 NEON-VFPv4) each include this inside
 * their own #if, so each copy is compiled with that file's flags (Makefile:
 * FLAGS_dot_dotprod, FLAGS_dot_neon32) and uses only the instructions its
 * level guarantees. The kernels were three near-copies that differed in one
 * integer primitive and, on AArch32, in where the float steps run.
 *
 * The including file defines first its integer primitive:
 *   dot16(w, a)          4 int32 lanes, lane l = the dot of bytes 4l .. 4l+3
 *                        of w and a: ggml's lane layout (dot.c's
 *                        lane_dots_32), two vectors per 32 elements. SDOT
 *                        does it in one instruction (dot_dotprod.c), plain
 *                        NEON in four (dot_neon.c, dot_neon32.c);
 *   dot16_add(acc, w, a) acc + dot16(w, a) (SDOT accumulates by itself);
 * and the activation quantizers quantize_act_q8_0, quantize_act_q8_1 and
 * quantize_act_q8_K that the table names: anywhere in the file, or, with
 * DOT_NEON_ACTS_FROM(type) defined as another level's kernel for type,
 * forwarded below to that level's. With DOT_NEON_F16 defined and
 * halves_4(p) (4 halves from p as float32x4_t, exactly) it also gets this
 * file's F16 kernel and F32 quantizer (the neon level of both
 * architectures). The float steps are chosen here by architecture ("Float
 * steps" below).
 *
 * dot.c fixes, for every type, llama.cpp's float steps: which partial sums
 * exist, where an FMA rounds once, and the order of the horizontal adds.
 * These kernels take the same steps with 4-lane vectors, so their results
 * are the scalar twin's bit for bit (integer parts are exact in any order):
 *   - Q8_0: per block 8 int32 lanes of 4 consecutive elements (two
 *     vectors), into 8 float lanes by an FMA with d_w*d_a; hsum_8.
 *     Q5_0 the same with its fifth bits; Q4_1 and Q5_1 too, their min
 *     terms added to one float apart (a plain add per block).
 *   - Q4_0: one float, an FMA per block of its integer dot.
 *   - Q2_K .. Q6_K: 8 int32 lanes per super-block (element e in lane
 *     (e % 32) / 4, times its sub-block scale), into 8 float lanes by an
 *     FMA; Q2_K's min lanes FMA'd into the same float lanes first, Q4_K's
 *     mins in 4 float lanes apart, Q5_K's in one float.
 * Every lane stays far below 2^24 (dot.c bounds them), so its float is
 * exact and SDOT's int32 accumulation cannot overflow. Weight rows are read
 * with byte-aligned loads (vld1q_u8/s8 need no alignment) and never beyond
 * their last block. */
#ifndef BIBIM_DOT_NEON_KERNELS_H
#define BIBIM_DOT_NEON_KERNELS_H

#include "fp16.h"
#include "kernels.h"
#include "quant.h"

#include <arm_neon.h>
#include <string.h>

/* The including level's activation quantizers (same bytes as dot.c's). */
#if defined(DOT_NEON_ACTS_FROM)
static void quantize_act_q8_0(const float *restrict x, void *restrict y, int64_t n) {
    DOT_NEON_ACTS_FROM(BIBIM_TYPE_Q8_0)->quantize_act(x, y, n);
}

static void quantize_act_q8_1(const float *restrict x, void *restrict y, int64_t n) {
    DOT_NEON_ACTS_FROM(BIBIM_TYPE_Q4_1)->quantize_act(x, y, n);
}

static void quantize_act_q8_K(const float *restrict x, void *restrict y, int64_t n) {
    DOT_NEON_ACTS_FROM(BIBIM_TYPE_Q4_K)->quantize_act(x, y, n);
}
#else
static void quantize_act_q8_0(const float *restrict x, void *restrict y, int64_t n);
static void quantize_act_q8_1(const float *restrict x, void *restrict y, int64_t n);
static void quantize_act_q8_K(const float *restrict x, void *restrict y, int64_t n);
#endif

/* ------------------------------------------------------------------------ */
/* Float steps                                                              */
/* ------------------------------------------------------------------------ */

/* dot.c's hsum_8 of lanes 0..3 in lo and 4..7 in hi: (l + 4) added to l,
 * then (0 + 2) + (1 + 3). On AArch32 only for lanes that are multiples of
 * 2^-48 (below). */
static inline float hsum_8(float32x4_t lo, float32x4_t hi) {
    const float32x4_t s = vaddq_f32(lo, hi);
    const float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/* The product of two halves (22 significant bits) is exact in float. */
static inline float f16_product(uint16_t a, uint16_t b) { return fp16_to_fp32(a) * fp16_to_fp32(b); }

/* 8 float lanes in NEON registers: lanes 0..3 in lo, 4..7 in hi. The
 * Q8_0, Q5_0, Q4_1, Q5_1 kernels keep theirs here on both architectures:
 * the scale is a product of two halves, a multiple of 2^-48 computed
 * exactly; every lane, product and partial sum is then a multiple of 2^-48
 * too (rounding to float keeps that), so it is 0 or at least 2^-48: never
 * subnormal, and even AArch32 NEON's FMA, adds and conversions give dot.c's
 * bits. */
typedef struct neon_lanes_8 {
    float32x4_t lo, hi;
} neon_lanes_8;

static inline neon_lanes_8 neon_lanes_8_zero(void) {
    const neon_lanes_8 z = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    return z;
}

/* acc += d * (float)lane, one rounding per lane; (float) of a lane is
 * exact (below 2^24, dot.c). */
static inline void neon_fma_8(neon_lanes_8 *acc, float d, int32x4_t il, int32x4_t ih) {
    acc->lo = vfmaq_f32(acc->lo, vcvtq_f32_s32(il), vdupq_n_f32(d));
    acc->hi = vfmaq_f32(acc->hi, vcvtq_f32_s32(ih), vdupq_n_f32(d));
}

#if defined(__aarch64__)

/* AArch64 Advanced SIMD follows FPCR like the scalar FP instructions (no
 * flushing by default), so every float step may be NEON. */

/* One rounding of a * b + c. */
static inline float fma1(float a, float b, float c) {
    return vget_lane_f32(vfma_f32(vdup_n_f32(c), vdup_n_f32(a), vdup_n_f32(b)), 0);
}

static inline int32_t hadd_s32(int32x4_t v) { return vaddvq_s32(v); }

/* {a0 + a1, a2 + a3, b0 + b1, b2 + b3}. */
static inline int32x4_t padd_s32(int32x4_t a, int32x4_t b) { return vpaddq_s32(a, b); }

/* The K-quants' 8 float lanes (lanes_8) and Q4_K's 4 min lanes (lanes_4):
 * NEON. */
typedef neon_lanes_8 lanes_8;
typedef float32x4_t lanes_4;

static inline lanes_8 lanes_8_zero(void) { return neon_lanes_8_zero(); }

static inline void fma_lanes_8(lanes_8 *acc, float d, int32x4_t il, int32x4_t ih) { neon_fma_8(acc, d, il, ih); }

static inline float hsum_lanes_8(const lanes_8 *acc) { return hsum_8(acc->lo, acc->hi); }

static inline lanes_4 lanes_4_zero(void) { return vdupq_n_f32(0.0f); }

static inline void fma_lanes_4(lanes_4 *acc, float d, const int32_t m[4]) {
    *acc = vfmaq_f32(*acc, vcvtq_f32_s32(vld1q_s32(m)), vdupq_n_f32(d));
}

/* (0 + 2) + (1 + 3). */
static inline float sum_lanes_4(const lanes_4 *acc) {
    const float32x2_t t = vadd_f32(vget_low_f32(*acc), vget_high_f32(*acc));
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

#else /* AArch32 */

/* AArch32 Advanced SIMD does not follow FPSCR: its float instructions
 * always flush subnormal inputs and results to zero. The scalar VFP
 * instructions do follow it (IEEE: no flushing, the Linux default), and
 * VFPv4 has a fused multiply-add (VFMA.F32) there. The K-quants' scale
 * d_a * d_w (d_a a Q8_K float scale) can be subnormal, so their float
 * lanes are VFP floats; the integer lanes stay NEON. GCC does not
 * vectorize float code for NEON on AArch32 (not IEEE), so these loops stay
 * on VFP. */

/* One rounding of a * b + c, on VFP (VFMA.F32). */
static inline float fma1(float a, float b, float c) { return __builtin_fmaf(a, b, c); }

static inline int32_t hadd_s32(int32x4_t v) {
    const int64x2_t l2 = vpaddlq_s32(v);
    return (int32_t)(vgetq_lane_s64(l2, 0) + vgetq_lane_s64(l2, 1));
}

/* {a0 + a1, a2 + a3, b0 + b1, b2 + b3} (vpaddq_s32 is AArch64's). */
static inline int32x4_t padd_s32(int32x4_t a, int32x4_t b) {
    return vcombine_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)), vpadd_s32(vget_low_s32(b), vget_high_s32(b)));
}

typedef struct lanes_8 {
    float v[8];
} lanes_8;

typedef struct lanes_4 {
    float v[4];
} lanes_4;

static inline lanes_8 lanes_8_zero(void) {
    const lanes_8 z = {{0}};
    return z;
}

/* acc[l] = fma(d, lane l, acc[l]) on VFP for the 8 lanes in il (0..3) and
 * ih (4..7); (float) of a lane is exact (below 2^24, dot.c). */
static inline void fma_lanes_8(lanes_8 *acc, float d, int32x4_t il, int32x4_t ih) {
    int32_t lane[8];
    vst1q_s32(lane, il);
    vst1q_s32(lane + 4, ih);
    for (int l = 0; l < 8; l++) acc->v[l] = fma1(d, (float)lane[l], acc->v[l]);
}

/* dot.c's hsum_8, on VFP. */
static inline float hsum_lanes_8(const lanes_8 *acc) {
    const float *v = acc->v;
    const float s0 = v[0] + v[4], s1 = v[1] + v[5], s2 = v[2] + v[6], s3 = v[3] + v[7];
    return (s0 + s2) + (s1 + s3);
}

static inline lanes_4 lanes_4_zero(void) {
    const lanes_4 z = {{0}};
    return z;
}

static inline void fma_lanes_4(lanes_4 *acc, float d, const int32_t m[4]) {
    for (int k = 0; k < 4; k++) acc->v[k] = fma1(d, (float)m[k], acc->v[k]);
}

/* (0 + 2) + (1 + 3), on VFP. */
static inline float sum_lanes_4(const lanes_4 *acc) { return (acc->v[0] + acc->v[2]) + (acc->v[1] + acc->v[3]); }

#endif

/* ------------------------------------------------------------------------ */
/* Codes                                                                    */
/* ------------------------------------------------------------------------ */

static inline int8x16_t s8(uint8x16_t u) { return vreinterpretq_s8_u8(u); }

/* The 32 codes of a 4-bit block minus bias: elements 0..15 are the low
 * nibbles, 16..31 the high ones. */
static inline void q4_codes(const uint8_t qs[16], int8_t bias, int8x16_t *q0, int8x16_t *q1) {
    const uint8x16_t x = vld1q_u8(qs);
    *q0 = vsubq_s8(s8(vandq_u8(x, vdupq_n_u8(0x0F))), vdupq_n_s8(bias));
    *q1 = vsubq_s8(s8(vshrq_n_u8(x, 4)), vdupq_n_s8(bias));
}

/* The 32 codes of a 5-bit block (Q5_0, Q5_1) minus bias: the nibbles as
 * for 4 bits, the fifth bit of element j in bit j of qh (read byte by
 * byte: qh is not aligned in its block). */
static inline void q5_codes(const uint8_t qs[16], const uint8_t qh[4], int8_t bias, int8x16_t *q0, int8x16_t *q1) {
    static const uint8_t bit_of[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bits = vld1q_u8(bit_of), b4 = vdupq_n_u8(0x10);
    const uint8x16_t h0 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), b4);
    const uint8x16_t h1 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), b4);
    const uint8x16_t x = vld1q_u8(qs);
    *q0 = vsubq_s8(s8(vorrq_u8(vandq_u8(x, vdupq_n_u8(0x0F)), h0)), vdupq_n_s8(bias));
    *q1 = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(x, 4), h1)), vdupq_n_s8(bias));
}

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0, Q5_0 x Q8_0;  Q4_1, Q5_1 x Q8_1                              */
/* ------------------------------------------------------------------------ */

/* One block: its 32 codes (elements 0..15 in q0, 16..31 in q1) times the
 * activation codes qa, 8 int32 lanes, into acc by an FMA with d. */
static inline void block_fma(neon_lanes_8 *acc, float d, int8x16_t q0, int8x16_t q1, const int8_t qa[32]) {
    neon_fma_8(acc, d, dot16(q0, vld1q_s8(qa)), dot16(q1, vld1q_s8(qa + 16)));
}

static void dot_q8_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q8_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    neon_lanes_8 acc = neon_lanes_8_zero();
    for (int64_t b = 0; b < n / QK8_0; b++) {
        block_fma(&acc, f16_product(w[b].d, a[b].d), vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), a[b].qs);
    }
    *out = hsum_8(acc.lo, acc.hi);
}

/* Q4_0: one float, an FMA per block of its whole integer dot (on VFP on
 * AArch32: fma1). */
static void dot_q4_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int8x16_t q0, q1;
        q4_codes(w[b].qs, 8, &q0, &q1);
        const int32x4_t l = dot16_add(dot16(q0, vld1q_s8(a[b].qs)), q1, vld1q_s8(a[b].qs + 16));
        sum = fma1((float)hadd_s32(l), f16_product(w[b].d, a[b].d), sum);
    }
    *out = sum;
}

/* Q5_0: codes - 16; 8 int32 lanes into 8 float lanes as for Q8_0. */
static void dot_q5_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    neon_lanes_8 acc = neon_lanes_8_zero();
    for (int64_t b = 0; b < n / QK5_0; b++) {
        int8x16_t q0, q1;
        q5_codes(w[b].qs, w[b].qh, 16, &q0, &q1);
        block_fma(&acc, f16_product(w[b].d, a[b].d), q0, q1, a[b].qs);
    }
    *out = hsum_8(acc.lo, acc.hi);
}

/* Q4_1, Q5_1: unsigned codes (no bias), the lanes as for Q8_0; the min
 * terms m_w * s_a (exact products of halves) added to ONE float in block
 * order — a plain add, no FMA, as in dot.c (on VFP on AArch32) — and that
 * float added after hsum_8. The two parts nearly cancel, so neither may be
 * folded into the other. */
static void dot_q4_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    neon_lanes_8 acc = neon_lanes_8_zero();
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        int8x16_t q0, q1;
        q4_codes(w[b].qs, 0, &q0, &q1);
        block_fma(&acc, f16_product(w[b].d, a[b].d), q0, q1, a[b].qs);
        mins += f16_product(w[b].m, a[b].s);
    }
    *out = hsum_8(acc.lo, acc.hi) + mins;
}

static void dot_q5_1_q8_1(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_1 *restrict w = w_row;
    const block_q8_1 *restrict a = act;
    neon_lanes_8 acc = neon_lanes_8_zero();
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        int8x16_t q0, q1;
        q5_codes(w[b].qs, w[b].qh, 0, &q0, &q1);
        block_fma(&acc, f16_product(w[b].d, a[b].d), q0, q1, a[b].qs);
        mins += f16_product(w[b].m, a[b].s);
    }
    *out = hsum_8(acc.lo, acc.hi) + mins;
}

/* ------------------------------------------------------------------------ */
/* Q2_K .. Q6_K x Q8_K                                                      */
/* ------------------------------------------------------------------------ */

/* In every K-quant kernel below, il holds lanes 0..3 and ih lanes 4..7 of
 * a super-block: element e in lane (e % 32) / 4, times the scale of its 16
 * elements. The code layouts are dot.c's (unpack_* there). */

/* The 16 codes of elements 16k .. 16k+15 (q0) and of the next 16 (q1)
 * times their activations at qa, scaled: il takes the first 16 of each 32
 * elements, ih the second. */
static inline void k_add(int32x4_t *il, int32x4_t *ih, int8x16_t q0, int8x16_t q1, const int8_t *qa, int32_t sc0,
                         int32_t sc1) {
    *il = vmlaq_n_s32(*il, dot16(q0, vld1q_s8(qa)), sc0);
    *ih = vmlaq_n_s32(*ih, dot16(q1, vld1q_s8(qa + 16)), sc1);
}

/* Q2_K's min lanes: lane k = m[2k] * bsums[2k] + m[2k+1] * bsums[2k+1],
 * the m the high nibbles of scales; lanes 0..3 in ml, 4..7 in mh. */
static inline void q2_K_min_lanes(const uint8x16_t scales, const int16_t bsums[16], int32x4_t *ml, int32x4_t *mh) {
    const uint8x16_t m = vshrq_n_u8(scales, 4);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(m)));
    const int16x8_t s0 = vld1q_s16(bsums), s1 = vld1q_s16(bsums + 8);
    *ml = padd_s32(vmull_s16(vget_low_s16(m0), vget_low_s16(s0)), vmull_s16(vget_high_s16(m0), vget_high_s16(s0)));
    *mh = padd_s32(vmull_s16(vget_low_s16(m1), vget_low_s16(s1)), vmull_s16(vget_high_s16(m1), vget_high_s16(s1)));
}

/* Q2_K: element 128h + 32g + l is bits 2g .. 2g+1 of qs[32h + l], times
 * the low nibble of scales[(128h + 32g + l) / 16]. Per super-block the min
 * lanes go FIRST into the 8 float lanes, by an FMA with -(d_a * dmin_w);
 * then the scaled lanes by an FMA with d_a * d_w. */
static void dot_q2_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q2_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m3 = vdupq_n_u8(0x03);
    lanes_8 acc = lanes_8_zero();
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
        const float d = a[b].d * fp16_to_fp32(w[b].d);
        const float dmin = -a[b].d * fp16_to_fp32(w[b].dmin);
        fma_lanes_8(&acc, dmin, ml, mh);
        fma_lanes_8(&acc, d, il, ih);
    }
    *out = hsum_lanes_8(&acc);
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
    lanes_8 acc = lanes_8_zero();
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
        fma_lanes_8(&acc, a[b].d * fp16_to_fp32(w[b].d), il, ih);
    }
    *out = hsum_lanes_8(&acc);
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

/* Q4_K: chunk c (qs[32c .. 32c+31]) holds sub-block 2c in its low and 2c+1
 * in its high nibbles; lanes 0..3 take elements 0..15 of each sub-block,
 * lanes 4..7 elements 16..31. Mins in 4 float lanes (lane k: sub-blocks 2k
 * and 2k+1) by an FMA with -(d_a * dmin_w), added as (0 + 2) + (1 + 3)
 * after hsum_8. */
static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    lanes_8 acc = lanes_8_zero();
    lanes_4 macc = lanes_4_zero();
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
        fma_lanes_4(&macc, dmin, m4v);
        fma_lanes_8(&acc, d, il, ih);
    }
    *out = hsum_lanes_8(&acc) + sum_lanes_4(&macc);
}

/* Q5_K: as Q4_K with the fifth bit of sub-block s in bit s of qh[e % 32];
 * the mins summed to one integer per super-block, into ONE float by an FMA
 * with -(d_a * dmin_w), added after hsum_8. */
static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    lanes_8 acc = lanes_8_zero();
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
        fma_lanes_8(&acc, d, il, ih);
    }
    *out = hsum_lanes_8(&acc) + summs;
}

/* Q6_K: element 128h + 32g + l has its low nibble in ql[64h + 32(g % 2) + l]
 * (low nibble for g < 2, high for g >= 2) and its top two bits in bits
 * 2g .. 2g+1 of qh[32h + l]; code - 32; signed scale per 16 elements. */
static void dot_q6_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q6_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(0x03);
    const int8x16_t bias = vdupq_n_s8(32);
    lanes_8 acc = lanes_8_zero();
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
        fma_lanes_8(&acc, a[b].d * fp16_to_fp32(w[b].d), il, ih);
    }
    *out = hsum_lanes_8(&acc);
}

/* ------------------------------------------------------------------------ */
/* F32 activations, F16 (the neon level: DOT_NEON_F16)                      */
/* ------------------------------------------------------------------------ */

#if defined(DOT_NEON_F16)

static void quantize_act_f32(const float *restrict x, void *restrict y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

/* 16 float lanes (element i in lane i % 16) by FMA, which is the add of
 * the exact product of two halves (so no subnormal either: all multiples
 * of 2^-48 until rounded, NEON is fine on AArch32 too); reduce_16; the
 * tail one by one. */
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
    float sum = hsum_8(vaddq_f32(v0, v2), vaddq_f32(v1, v3)); /* dot.c's reduce_16 */
    for (; i < n; i++) sum += fp16_to_fp32(w[i]) * fp16_to_fp32(a[i]);
    *out = sum;
}

#endif

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

/* The including level's kernel for a quantized type, NULL for the others. */
static const dot_kernel *quant_kernel(bibim_type type) {
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

#endif
