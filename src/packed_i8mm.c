/* packed_i8mm.c — packed-weight gemm for AArch64 with the int8 matrix
 * multiply extension (SMMLA): Q4_0. The layout, and pack, are
 * packed_scalar.c's; results are its gemm's (and the row kernels') bit for
 * bit.
 *
 * SMMLA multiplies a 2 x 8 matrix of bytes by an 8 x 2 one into a 2 x 2
 * matrix of int32: 2 rows times 2 tokens over 8 elements, twice the work
 * of an SDOT. Vector v of a block's quants holds, in 32-bit lane r, row r's
 * qs[4v..4v+3] (low nibbles: elements 4v..4v+3, high: 16+4v..16+4v+3), so
 * interleaving the lanes of vectors v and v + 1 (zip) gives rows r, r + 1
 * over 8 consecutive elements; interleaving two tokens' activations by 64
 * bits gives the 8 x 2 side. The order of elements within a block's
 * integer dot does not matter (it is exact), so 16 SMMLAs give 8 rows x 2
 * tokens of dot.c's integer dots. The float steps are dot.c's Q4_0: one
 * float per output, the integer dot times d_w * d_a (a product of halves,
 * exact) added by one FMA, block after block; each lane of an accumulator
 * is one output. Tokens go in pairs (a last odd token is paired with
 * itself and the copy dropped), up to 2 pairs per tile.
 *
 * Built with -march=armv8.2-a+dotprod+i8mm (Makefile: FLAGS_packed_i8mm);
 * only packed_gemm_at calls packed_gemm_i8mm, for the i8mm level,
 * which cpu_level_supported checks in HWCAP2. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_MATMUL_INT8)

#include "fp16.h"
#include "packed.h"

#include <arm_neon.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { MAX_PAIRS = 2 }; /* pairs of tokens a tile */

static inline float half_at(const uint8_t *p) { return fp16_to_fp32((uint16_t)(p[0] | p[1] << 8)); }

/* Codes q - 8 of 16 bytes of quants: low nibbles in *lo, high in *hi. */
static ALWAYS_INLINE void q4_0_codes(const uint8_t *p, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t x = vld1q_u8(p);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(x, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), vdupq_n_s8(8));
}

/* Rows (r, r + 1) of a then b, as a 2 x 8 matrix: lanes 0,1 (zip1) or 2,3
 * (zip2) of each, a's 4 bytes before b's. */
static ALWAYS_INLINE int8x16_t rows_01(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s32(vzip1q_s32(vreinterpretq_s32_s8(a), vreinterpretq_s32_s8(b)));
}

static ALWAYS_INLINE int8x16_t rows_23(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s32(vzip2q_s32(vreinterpretq_s32_s8(a), vreinterpretq_s32_s8(b)));
}

/* P pairs of tokens (P <= MAX_PAIRS) of one group; pair p is tokens 2p and
 * 2p + 1, or 2p twice when odd is set and p is the last. */
static ALWAYS_INLINE void q4_0_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int P, const int odd) {
    /* acc[p][q]: rows 2q, 2q + 1 times the pair's tokens t0, t1, in lanes
     * (2q, t0), (2q, t1), (2q + 1, t0), (2q + 1, t1). */
    float32x4_t acc[MAX_PAIRS][4];
    const uint8_t *tok[MAX_PAIRS][2];
#pragma GCC unroll 2
    for (int p = 0; p < P; p++) {
        tok[p][0] = acts + (size_t)(2 * p) * act_stride;
        tok[p][1] = odd && p == P - 1 ? tok[p][0] : tok[p][0] + act_stride;
        for (int q = 0; q < 4; q++) acc[p][q] = vdupq_n_f32(0.0f);
    }
    for (int64_t b = 0; b < nb; b++) {
        const int64_t start = b / Q4_0_RUN * Q4_0_RUN, j = b - start;
        const int64_t k = nb - start < Q4_0_RUN ? nb - start : Q4_0_RUN;
        const uint8_t *run = group + start * Q4_0_GROUP_BLOCK, *quants = run + 16 * k + 128 * j;
        /* The 8 x 2 sides: chunk c is elements 8c..8c+7 of both tokens. */
        int8x16_t act[MAX_PAIRS][4];
        float32x4_t da[MAX_PAIRS]; /* d_a of t0, t1, t0, t1 */
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
            const uint8_t *b0 = tok[p][0] + b * Q8_0_BYTES, *b1 = tok[p][1] + b * Q8_0_BYTES;
            for (int h = 0; h < 2; h++) {
                const int64x2_t x0 = vreinterpretq_s64_s8(vld1q_s8((const int8_t *)b0 + 2 + 16 * h));
                const int64x2_t x1 = vreinterpretq_s64_s8(vld1q_s8((const int8_t *)b1 + 2 + 16 * h));
                act[p][2 * h] = vreinterpretq_s8_s64(vzip1q_s64(x0, x1));
                act[p][2 * h + 1] = vreinterpretq_s8_s64(vzip2q_s64(x0, x1));
            }
            const float d0 = half_at(b0), d1 = half_at(b1);
            const float d[4] = {d0, d1, d0, d1};
            da[p] = vld1q_f32(d);
        }
        /* Half h: rows 4h..4h+3 of the 4 vectors. */
        for (int h = 0; h < 2; h++) {
            int8x16_t lo[4], hi[4];
            for (int v = 0; v < 4; v++) q4_0_codes(quants + 32 * v + 16 * h, &lo[v], &hi[v]);
            /* w[q][c]: rows 4h + 2q, 4h + 2q + 1 over chunk c. */
            const int8x16_t w[2][4] = {
                {rows_01(lo[0], lo[1]), rows_01(lo[2], lo[3]), rows_01(hi[0], hi[1]), rows_01(hi[2], hi[3])},
                {rows_23(lo[0], lo[1]), rows_23(lo[2], lo[3]), rows_23(hi[0], hi[1]), rows_23(hi[2], hi[3])}};
            for (int q = 0; q < 2; q++) {
                const uint8_t *s = run + 16 * j + 2 * (4 * h + 2 * q);
                const float d0 = half_at(s), d1 = half_at(s + 2);
                const float d[4] = {d0, d0, d1, d1};
                const float32x4_t dw = vld1q_f32(d);
#pragma GCC unroll 2
                for (int p = 0; p < P; p++) {
                    int32x4_t dot = vmmlaq_s32(vdupq_n_s32(0), w[q][0], act[p][0]);
                    dot = vmmlaq_s32(dot, w[q][1], act[p][1]);
                    dot = vmmlaq_s32(dot, w[q][2], act[p][2]);
                    dot = vmmlaq_s32(dot, w[q][3], act[p][3]);
                    acc[p][2 * h + q] = vfmaq_f32(acc[p][2 * h + q], vcvtq_f32_s32(dot), vmulq_f32(dw, da[p]));
                }
            }
        }
    }
#pragma GCC unroll 2
    for (int p = 0; p < P; p++) {
        float *y0 = y + (2 * p) * y_stride, *y1 = y0 + y_stride;
        const int both = !(odd && p == P - 1);
        for (int q = 0; q < 4; q++) {
            float lanes[4];
            vst1q_f32(lanes, acc[p][q]);
            y0[2 * q] = lanes[0];
            y0[2 * q + 1] = lanes[2];
            if (both) {
                y1[2 * q] = lanes[1];
                y1[2 * q + 1] = lanes[3];
            }
        }
    }
}

static void gemm_q4_0(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK4_0;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + 2 * MAX_PAIRS <= n_tokens; t += 2 * MAX_PAIRS)
        q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, MAX_PAIRS, 0);
    switch (n_tokens - t) {
    case 3: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 2, 1); break;
    case 2: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 1, 0); break;
    case 1: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 1, 1); break;
    default: break;
    }
}

packed_gemm_fn packed_gemm_i8mm(bibim_type type) { return type == BIBIM_TYPE_Q4_0 ? gemm_q4_0 : NULL; }

#else

packed_gemm_fn packed_gemm_i8mm(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
