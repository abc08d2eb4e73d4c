/* packed_dotprod.c — packed-weight gemm for AArch64 with the dot product
 * extension (SDOT): Q4_0. The layout, and pack, are packed_scalar.c's;
 * results are its gemm's (and the row kernels') bit for bit.
 *
 * Q4_0: vector v of a block's quants holds, in 32-bit lane r, row r's
 * qs[4v..4v+3] (its low nibbles are elements 4v..4v+3, its high ones
 * 16+4v..16+4v+3). A 16-byte half of it is rows 0..3 or 4..7. SDOT by
 * element (vdotq_laneq_s32) multiplies each row's 4 codes, made q - 8, by
 * lane v of the token's activations, which holds exactly those 4 elements:
 * 16 SDOTs give 8 rows' integer dots of a block. Then, as dot.c's Q4_0:
 * one float per output, the block's integer dot (exact in float) times
 * d_w * d_a (a product of halves, exact) added by one FMA, block after
 * block. Tokens go in tiles of up to 4, so each block's codes, once
 * unpacked, serve 4 tokens.
 *
 * Built with -march=armv8.2-a+dotprod (Makefile: FLAGS_packed_dotprod);
 * only packed_gemm_at calls packed_gemm_dotprod, for the dotprod and
 * i8mm levels, which cpu_level_supported checks in HWCAP. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)

#include "fp16.h"
#include "packed.h"

#include <arm_neon.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { MAX_TILE = 4 }; /* tokens a tile */

static inline float half_at(const uint8_t *p) { return fp16_to_fp32((uint16_t)(p[0] | p[1] << 8)); }

/* The 8 rows' d of one block, rows 0..3 in lo and 4..7 in hi. Converted as
 * the row kernels do (fp16.h), so even NaN payloads agree. */
static ALWAYS_INLINE void q4_0_row_scales(const uint8_t *p, float32x4_t *lo, float32x4_t *hi) {
    float d[PACK_ROWS];
    for (int r = 0; r < PACK_ROWS; r++) d[r] = half_at(p + 2 * r);
    *lo = vld1q_f32(d);
    *hi = vld1q_f32(d + 4);
}

/* Codes q - 8 of 16 bytes of quants: low nibbles in *lo, high in *hi. */
static ALWAYS_INLINE void q4_0_codes(const uint8_t *p, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t x = vld1q_u8(p);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(x, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), vdupq_n_s8(8));
}

/* T tokens (T <= MAX_TILE) of one group: y[t][r] for t < T. */
static ALWAYS_INLINE void q4_0_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    float32x4_t acc[MAX_TILE][2];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const int64_t start = b / Q4_0_RUN * Q4_0_RUN, j = b - start;
        const int64_t k = nb - start < Q4_0_RUN ? nb - start : Q4_0_RUN;
        const uint8_t *run = group + start * Q4_0_GROUP_BLOCK, *quants = run + 16 * k + 128 * j;
        int8x16_t a_lo[MAX_TILE], a_hi[MAX_TILE]; /* elements 0..15 and 16..31 */
        int32x4_t dot[MAX_TILE][2];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const int8_t *aq = (const int8_t *)(acts + (size_t)t * act_stride + b * Q8_0_BYTES + 2);
            a_lo[t] = vld1q_s8(aq);
            a_hi[t] = vld1q_s8(aq + 16);
            dot[t][0] = dot[t][1] = vdupq_n_s32(0);
        }
        /* Lane v of the activations meets vector v (an immediate operand). */
#define Q4_0_STEP(v)                                                                                                \
    for (int h = 0; h < 2; h++) {                                                                                   \
        int8x16_t lo, hi;                                                                                           \
        q4_0_codes(quants + 32 * (v) + 16 * h, &lo, &hi);                                                           \
        for (int t = 0; t < T; t++) {                                                                               \
            dot[t][h] = vdotq_laneq_s32(dot[t][h], lo, a_lo[t], v);                                                 \
            dot[t][h] = vdotq_laneq_s32(dot[t][h], hi, a_hi[t], v);                                                 \
        }                                                                                                           \
    }
        Q4_0_STEP(0)
        Q4_0_STEP(1)
        Q4_0_STEP(2)
        Q4_0_STEP(3)
#undef Q4_0_STEP
        float32x4_t dw[2];
        q4_0_row_scales(run + 16 * j, &dw[0], &dw[1]);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const float da = half_at(acts + (size_t)t * act_stride + b * Q8_0_BYTES);
            for (int h = 0; h < 2; h++)
                acc[t][h] = vfmaq_f32(acc[t][h], vcvtq_f32_s32(dot[t][h]), vmulq_n_f32(dw[h], da));
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        vst1q_f32(y + t * y_stride, acc[t][0]);
        vst1q_f32(y + t * y_stride + 4, acc[t][1]);
    }
}

PACKED_GEMM_BY_TILES(gemm_q4_0, q4_0_tile, QK4_0, MAX_TILE)

packed_gemm_fn packed_gemm_dotprod(bibim_type type) { return type == BIBIM_TYPE_Q4_0 ? gemm_q4_0 : NULL; }

#else

packed_gemm_fn packed_gemm_dotprod(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
