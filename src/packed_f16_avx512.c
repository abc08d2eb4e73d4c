/* packed_f16_avx512.c — the AVX-512 packed kernels for F16 and BF16
 * weights (layout: packed_f16.c). A 16-float zmm register is exactly one
 * output's 16 lanes of dot.c's row kernel, so a tile holds the 8 rows of
 * the group for up to 3 tokens (24 accumulators): per step each token's
 * activations are converted once and each row's weights once, then meet in
 * 8 x T FMAs (F16: products of halves are exact, so the FMA is dot.c's
 * add) or, for BF16, a multiply and an add for the odd element of each
 * lane's pair, then for the even one (a product of bfloats may underflow,
 * so no FMA). At the end of the row the 8 outputs of a token are reduced
 * together: the lane pairs of dot.c's reduce_16 (l + 8, l + 4, l + 2,
 * l + 1) with shuffles across the 8 rows, then the tail elements are added
 * one by one to the vector of 8 outputs. Bit for bit the row kernel's
 * results.
 *
 * Only packed_gemm_at (cpu.c) calls packed_gemm_f16_avx512, after
 * checking that the CPU has the avx512 level. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "fp16.h"

#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
/* The loops over the tile's rows and tokens must unroll, so that the
 * accumulators live in registers. */
#define UNROLL _Pragma("GCC unroll 8")

/* dot.c's reduce_16 of the 8 rows' accumulators, as the 8 outputs in row
 * order: per row lane l + 8 into lane l, then l + 4, l + 2, l + 1, the
 * rows two by two in the halves of 256-bit registers. */
static ALWAYS_INLINE __m256 reduce_8x16(const __m512 acc[8]) {
    __m256 h[8];
    UNROLL
    for (int r = 0; r < 8; r++)
        h[r] = _mm256_add_ps(_mm512_castps512_ps256(acc[r]),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r]), 1)));
    __m256 s[4];
    UNROLL
    for (int k = 0; k < 4; k++) /* [row 2k lanes 0..3 | row 2k+1 lanes 0..3], l + 4 added */
        s[k] = _mm256_add_ps(_mm256_permute2f128_ps(h[2 * k], h[2 * k + 1], 0x20),
                             _mm256_permute2f128_ps(h[2 * k], h[2 * k + 1], 0x31));
    __m256 c[2];
    UNROLL
    for (int k = 0; k < 2; k++) /* per half [l=0, l=1 of row a | of row a+2], l + 2 added */
        c[k] = _mm256_add_ps(_mm256_shuffle_ps(s[2 * k], s[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(s[2 * k], s[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* l + 1: rows 0, 2, 4, 6 | 1, 3, 5, 7 */
    const __m256 d = _mm256_add_ps(_mm256_shuffle_ps(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm256_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_permutevar8x32_ps(d, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* ------------------------------------------------------------------------ */
/* F16                                                                      */
/* ------------------------------------------------------------------------ */

static inline __m512 half16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* The 8 outputs of one token from its accumulators, then the tail. */
static ALWAYS_INLINE void finish_f16(int64_t n, const uint16_t *w, const uint16_t *a, const __m512 acc[8], float *y) {
    const int64_t n_full = n / 16 * 16;
    __m256 out = reduce_8x16(acc);
    for (int64_t i = n_full; i < n; i++) {
        const __m256 wt = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + n_full * 8 + (i - n_full) * 8)));
        out = _mm256_add_ps(out, _mm256_mul_ps(wt, _mm256_set1_ps(_cvtsh_ss(a[i]))));
    }
    _mm256_storeu_ps(y, out);
}

/* Tokens t0 .. t0+T-1 (T <= 3): their outputs for the 8 rows. */
static ALWAYS_INLINE void tile_f16(int64_t n, const uint16_t *w, const uint8_t *acts, size_t act_stride, int T,
                                   float *y, int64_t y_stride) {
    const int64_t n_full = n / 16 * 16;
    const uint16_t *a[3];
    UNROLL
    for (int t = 0; t < T; t++) a[t] = (const uint16_t *)(acts + (size_t)t * act_stride);
    __m512 acc[3][8];
    UNROLL
    for (int t = 0; t < T; t++)
        UNROLL
        for (int r = 0; r < 8; r++) acc[t][r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n_full; i += 16) {
        const uint16_t *ws = w + i * 8;
        __m512 av[3];
        UNROLL
        for (int t = 0; t < T; t++) av[t] = half16(a[t] + i);
        UNROLL
        for (int r = 0; r < 8; r++) {
            const __m512 wv = half16(ws + 16 * r);
            UNROLL
            for (int t = 0; t < T; t++) acc[t][r] = _mm512_fmadd_ps(wv, av[t], acc[t][r]);
        }
    }
    UNROLL
    for (int t = 0; t < T; t++) finish_f16(n, w, a[t], acc[t], y + t * y_stride);
}

static void gemm_f16(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                     int64_t y_stride) {
    const uint16_t *w = group;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + 3 <= n_tokens; t += 3) tile_f16(n, w, a + (size_t)t * act_stride, act_stride, 3, y + t * y_stride, y_stride);
    if (n_tokens - t == 2) tile_f16(n, w, a + (size_t)t * act_stride, act_stride, 2, y + t * y_stride, y_stride);
    if (n_tokens - t == 1) tile_f16(n, w, a + (size_t)t * act_stride, act_stride, 1, y + t * y_stride, y_stride);
}

/* ------------------------------------------------------------------------ */
/* BF16                                                                     */
/* ------------------------------------------------------------------------ */

/* Tokens t0 .. t0+T-1 (T <= 2): a 32-element step is one zmm of bfloats;
 * lane l's odd element is the word with its low half cleared, the even one
 * the word shifted up. */
static ALWAYS_INLINE void tile_bf16(int64_t n, const uint16_t *w, const uint8_t *acts, size_t act_stride, int T,
                                    float *y, int64_t y_stride) {
    const int64_t n_full = n / 32 * 32;
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    const uint16_t *a[2];
    UNROLL
    for (int t = 0; t < T; t++) a[t] = (const uint16_t *)(acts + (size_t)t * act_stride);
    __m512 acc[2][8];
    UNROLL
    for (int t = 0; t < T; t++)
        UNROLL
        for (int r = 0; r < 8; r++) acc[t][r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n_full; i += 32) {
        const uint16_t *ws = w + i * 8;
        __m512 ao[2], ae[2];
        UNROLL
        for (int t = 0; t < T; t++) {
            const __m512i v = _mm512_loadu_si512((const void *)(a[t] + i));
            ao[t] = _mm512_castsi512_ps(_mm512_and_si512(v, high));
            ae[t] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        }
        UNROLL
        for (int r = 0; r < 8; r++) {
            const __m512i v = _mm512_load_si512((const void *)(ws + 32 * r));
            const __m512 wo = _mm512_castsi512_ps(_mm512_and_si512(v, high));
            const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            UNROLL
            for (int t = 0; t < T; t++) {
                acc[t][r] = _mm512_add_ps(acc[t][r], _mm512_mul_ps(wo, ao[t]));
                acc[t][r] = _mm512_add_ps(acc[t][r], _mm512_mul_ps(we, ae[t]));
            }
        }
    }
    UNROLL
    for (int t = 0; t < T; t++) {
        __m256 out = reduce_8x16(acc[t]);
        for (int64_t i = n_full; i < n; i++) {
            const __m128i h = _mm_loadu_si128((const __m128i *)(w + n_full * 8 + (i - n_full) * 8));
            const __m256 wt = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
            out = _mm256_add_ps(out, _mm256_mul_ps(wt, _mm256_set1_ps(bf16_to_fp32(a[t][i]))));
        }
        _mm256_storeu_ps(y + t * y_stride, out);
    }
}

static void gemm_bf16(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const uint16_t *w = group;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) tile_bf16(n, w, a + (size_t)t * act_stride, act_stride, 2, y + t * y_stride, y_stride);
    if (n_tokens - t == 1) tile_bf16(n, w, a + (size_t)t * act_stride, act_stride, 1, y + t * y_stride, y_stride);
}

packed_gemm_fn packed_gemm_f16_avx512(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F16: return gemm_f16;
    case BIBIM_TYPE_BF16: return gemm_bf16;
    default: return NULL;
    }
}

#else

packed_gemm_fn packed_gemm_f16_avx512(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
