/* packed_f16_avx2.c — the AVX2 (+FMA, F16C) packed kernels for F16 and
 * BF16 weights (layout: packed_f16.c). An output's 16 float lanes are two
 * ymm registers (lanes 0..7 and 8..15), so a tile holds 2 rows of the group
 * for up to 3 tokens (F16) or 2 (BF16): 12 or 8 accumulators, which with
 * the converted activations of one half-step fill the 16 registers. Each
 * lane adds its products in dot.c's order (F16: an FMA, the product of
 * halves being exact; BF16: the odd element's product, then the even
 * one's, each multiplied then added, as a product of bfloats may
 * underflow); then dot.c's reduce_16 (hsum_8 of lo + hi, as in
 * dot_avx2.c) and the tail elements one by one. Bit for bit the row
 * kernel's results.
 *
 * Only packed_gemm_at (cpu.c) calls packed_gemm_f16_avx2, after
 * checking that the CPU has AVX2, FMA and F16C. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "fp16.h"

#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
/* The loops over the tile's rows, tokens and halves must unroll, so that
 * the accumulators live in registers. */
#define UNROLL _Pragma("GCC unroll 8")

/* dot_avx2.c's reduce_16: hsum_8 of lo + hi. */
static inline float reduce_16(__m256 lo, __m256 hi) {
    const __m256 v = _mm256_add_ps(lo, hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static inline float f16_scalar(uint16_t h) { return _cvtsh_ss(h); }

/* The outputs of rows r0 .. r0 + R - 1 for tokens 0 .. T-1: dot.c's
 * reduce_16 of each one's lanes, then its tail elements (n_full .. n - 1,
 * made floats by to_float) added one by one. */
static ALWAYS_INLINE void finish(int64_t n, int64_t n_full, const uint16_t *w, int r0, int R, const uint16_t *const a[],
                                 int T, __m256 acc[][4][2], float *y, int64_t y_stride, float (*to_float)(uint16_t)) {
    UNROLL
    for (int t = 0; t < T; t++) {
        UNROLL
        for (int r = 0; r < R; r++) {
            float sum = reduce_16(acc[t][r][0], acc[t][r][1]);
            for (int64_t i = n_full; i < n; i++)
                sum += to_float(w[n_full * 8 + (i - n_full) * 8 + r0 + r]) * to_float(a[t][i]);
            y[t * y_stride + r0 + r] = sum;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* F16                                                                      */
/* ------------------------------------------------------------------------ */

/* Rows r0 .. r0 + R - 1 of the group (R = 2, or 4 for one token, so that
 * decoding reads the group in two passes), tokens 0 .. T-1 (T <= 3). */
static ALWAYS_INLINE void tile_f16(int64_t n, const uint16_t *w, int r0, int R, const uint8_t *acts,
                                   size_t act_stride, int T, float *y, int64_t y_stride) {
    const int64_t n_full = n / 16 * 16;
    const uint16_t *a[3];
    UNROLL
    for (int t = 0; t < T; t++) a[t] = (const uint16_t *)(acts + (size_t)t * act_stride);
    __m256 acc[3][4][2];
    UNROLL
    for (int t = 0; t < T; t++)
        UNROLL
        for (int r = 0; r < R; r++) acc[t][r][0] = acc[t][r][1] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_full; i += 16) {
        const uint16_t *ws = w + i * 8 + 16 * r0;
        UNROLL
        for (int h = 0; h < 2; h++) {
            __m256 av[3];
            UNROLL
            for (int t = 0; t < T; t++) av[t] = half8(a[t] + i + 8 * h);
            UNROLL
            for (int r = 0; r < R; r++) {
                const __m256 wv = half8(ws + 16 * r + 8 * h);
                UNROLL
                for (int t = 0; t < T; t++) acc[t][r][h] = _mm256_fmadd_ps(wv, av[t], acc[t][r][h]);
            }
        }
    }
    finish(n, n_full, w, r0, R, a, T, acc, y, y_stride, f16_scalar);
}

static void gemm_f16(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                     int64_t y_stride) {
    const uint16_t *w = group;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + 3 <= n_tokens; t += 3)
        for (int r0 = 0; r0 < 8; r0 += 2) tile_f16(n, w, r0, 2, a + (size_t)t * act_stride, act_stride, 3, y + t * y_stride, y_stride);
    if (n_tokens - t == 2)
        for (int r0 = 0; r0 < 8; r0 += 2) tile_f16(n, w, r0, 2, a + (size_t)t * act_stride, act_stride, 2, y + t * y_stride, y_stride);
    if (n_tokens - t == 1)
        for (int r0 = 0; r0 < 8; r0 += 4) tile_f16(n, w, r0, 4, a + (size_t)t * act_stride, act_stride, 1, y + t * y_stride, y_stride);
}

/* ------------------------------------------------------------------------ */
/* BF16                                                                     */
/* ------------------------------------------------------------------------ */

/* Rows r0 .. r0 + R - 1, tokens 0 .. T-1 (T <= 2). A 32-element step is two ymm
 * of bfloats (lanes 0..7, 8..15); lane l's odd element is the word with its
 * low half cleared, the even one the word shifted up. */
static ALWAYS_INLINE void tile_bf16(int64_t n, const uint16_t *w, int r0, int R, const uint8_t *acts,
                                   size_t act_stride, int T, float *y, int64_t y_stride) {
    const int64_t n_full = n / 32 * 32;
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    const uint16_t *a[2];
    UNROLL
    for (int t = 0; t < T; t++) a[t] = (const uint16_t *)(acts + (size_t)t * act_stride);
    __m256 acc[2][4][2];
    UNROLL
    for (int t = 0; t < T; t++)
        UNROLL
        for (int r = 0; r < R; r++) acc[t][r][0] = acc[t][r][1] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_full; i += 32) {
        const uint16_t *ws = w + i * 8 + 32 * r0;
        UNROLL
        for (int h = 0; h < 2; h++) {
            __m256 ao[2], ae[2];
            UNROLL
            for (int t = 0; t < T; t++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(a[t] + i + 16 * h));
                ao[t] = _mm256_castsi256_ps(_mm256_and_si256(v, high));
                ae[t] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
            }
            UNROLL
            for (int r = 0; r < R; r++) {
                const __m256i v = _mm256_load_si256((const __m256i *)(ws + 32 * r + 16 * h));
                const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(v, high));
                const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
                UNROLL
                for (int t = 0; t < T; t++) {
                    acc[t][r][h] = _mm256_add_ps(acc[t][r][h], _mm256_mul_ps(wo, ao[t]));
                    acc[t][r][h] = _mm256_add_ps(acc[t][r][h], _mm256_mul_ps(we, ae[t]));
                }
            }
        }
    }
    finish(n, n_full, w, r0, R, a, T, acc, y, y_stride, bf16_to_fp32);
}

static void gemm_bf16(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const uint16_t *w = group;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2)
        for (int r0 = 0; r0 < 8; r0 += 2) tile_bf16(n, w, r0, 2, a + (size_t)t * act_stride, act_stride, 2, y + t * y_stride, y_stride);
    if (n_tokens - t == 1)
        for (int r0 = 0; r0 < 8; r0 += 4) tile_bf16(n, w, r0, 4, a + (size_t)t * act_stride, act_stride, 1, y + t * y_stride, y_stride);
}

packed_gemm_fn packed_gemm_f16_avx2(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F16: return gemm_f16;
    case BIBIM_TYPE_BF16: return gemm_bf16;
    default: return NULL;
    }
}

#else

packed_gemm_fn packed_gemm_f16_avx2(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
