/* packed_x86.h — what the x86 packed gemm kernels of both levels share,
 * included by packed_avx2.c and packed_avx512.c, each compiled with its own
 * flags (Makefile: FLAGS_packed_avx2, FLAGS_packed_avx512).
 *
 * The same at both levels, and here: the loops over a group's runs,
 * blocks, lanes and tiles of tokens; every float step (dot.c's, which the
 * results must equal bit for bit); the activation sums of Q4_0. What each
 * level does with its own instructions, the integer products of a block
 * (AVX2: vpmaddubsw then vpmaddwd; AVX-512: VNNI's vpdpbusd and
 * vpdpwssd), each file defines itself: Q4_0_TILE before it includes this
 * header, then the functions declared under "Each level's" below (always
 * inline, so that the shared loops compile as if written out per level).
 */
#ifndef BIBIM_PACKED_X86_H
#define BIBIM_PACKED_X86_H

#include "packed.h"

#include <immintrin.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
    K_TILE = 4,      /* K-quant tokens a step: their integer lanes in registers, their float lanes in memory */
    Q8_0_SPAN = 32,  /* Q8_0 blocks (8.5 KiB of a group) that all tokens of a chunk meet while they are in L1 */
    Q8_0_CHUNK = 64  /* Q8_0 tokens whose accumulators wait in memory between spans */
};

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The f16 at p as a float in every lane. */
static inline __m256 f16_bcast(const uint8_t *p) { return _mm256_cvtph_ps(_mm_set1_epi16((short)load_u16(p))); }

/* dot.c's hsum_8: lanes l + 4 added to lanes l, then (0 + 2) + (1 + 3). */
static inline float hsum_8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dot.c's hsum_8 of 8 float lanes, one vector a lane (so 8 rows at once):
 * (f0 + f4) + (f2 + f6), plus (f1 + f5) + (f3 + f7). */
static ALWAYS_INLINE __m256 lanes_hsum_8(const __m256 f[8]) {
    const __m256 s0 = _mm256_add_ps(f[0], f[4]), s1 = _mm256_add_ps(f[1], f[5]);
    const __m256 s2 = _mm256_add_ps(f[2], f[6]), s3 = _mm256_add_ps(f[3], f[7]);
    return _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
}

/* Lane k = the sum of the 8 lanes of v[k]: a transpose by unpacks (vphaddd
 * is slow on some CPUs: 2 cycles each on AMD Zen 4). */
static ALWAYS_INLINE __m256i lane_sums8(const __m256i v[8]) {
    __m256i a[4], b[2];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* lanes 0..3 of a[i]: v[2i] 0+2, v[2i+1] 0+2, v[2i] 1+3, v[2i+1] 1+3 (per half) */
        a[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* lane k of each half: v[4i + k] summed over that half */
        b[i] = _mm256_add_epi32(_mm256_unpacklo_epi64(a[2 * i], a[2 * i + 1]),
                                _mm256_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(b[0], b[1], 0x20), _mm256_permute2x128_si256(b[0], b[1], 0x31));
}

/* ------------------------------------------------------------------------ */
/* Each level's (packed_avx2.c, packed_avx512.c)                            */
/* ------------------------------------------------------------------------ */

#ifndef Q4_0_TILE
#error "define Q4_0_TILE, the tokens a Q4_0 tile holds (their sums and outputs stay in registers)"
#endif

/* A vector whose 8 int32 lanes add up to 8 times the sum of the 32 int8
 * of x. */
static ALWAYS_INLINE __m256i q4_0_eights(__m256i x);
/* isum[t] = corr[t][j] + the 8 rows' integer dots of the Q4_0 block whose
 * quants are at `quants` with token t's block_q8_0 at aj + t * act_stride,
 * for t < T. */
static ALWAYS_INLINE void q4_0_block_dots(const uint8_t *quants, const uint8_t *aj, size_t act_stride,
                                          int32_t corr[][Q4_0_RUN], int j, __m256i isum[], const int T);
/* The rows' sub-block scales of the Q4_K super-block at p, in the form
 * q4_K_dot takes them. */
static ALWAYS_INLINE void q4_K_scales(const uint8_t *p, __m256i sc[8]);
/* isum + the dots, times the rows' sub-block scales, of one lane's codes of
 * sub-blocks 2c (lo) and 2c + 1 (hi) with the 4 activations at aq and at
 * aq + 32. */
static ALWAYS_INLINE __m256i q4_K_dot(__m256i isum, __m256i lo, __m256i hi, const int8_t *aq, const __m256i sc[8],
                                      int c);
/* The rows' scales of the Q6_K super-block at p, in the form q6_K_half
 * takes them. */
static ALWAYS_INLINE void q6_K_scales(const uint8_t *p, __m256i sc[16]);
/* What q6_K_half needs of a token's block_q8_K besides its codes (or
 * nothing). */
static ALWAYS_INLINE void q6_K_token(const block_q8_K *a, int32_t sums[2][2][8]);
/* isum[t] + the dots, times the rows' scales, of lane l's codes u[g] (0..63:
 * elements 128 h + 32 g + 4 l .. +3, which stand for u - 32) with token t's
 * activations of those elements, for t < T. */
static ALWAYS_INLINE void q6_K_half(__m256i isum[K_TILE], const __m256i u[4], const block_q8_K *const a[K_TILE],
                                    int32_t sums[K_TILE][2][2][8], const __m256i sc[16], int h, int l, const int T);
/* Tokens t < n_tokens (at most Q8_0_CHUNK) of one group, over blocks
 * b_start .. b_end - 1 (at most Q8_0_SPAN, run-aligned): their float lanes
 * f[t][r] (8 rows x 8 lanes) accumulate those blocks as dot.c's Q8_0 does,
 * lane l adding by an FMA the integer dot of each block's elements
 * 4l..4l+3 times d_w * d_a. */
static void q8_0_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group, const uint8_t *acts,
                      size_t act_stride, int64_t n_tokens, __m256 f[][PACK_ROWS]);

/* ------------------------------------------------------------------------ */
/* Q4_0                                                                     */
/* ------------------------------------------------------------------------ */

/* For the k (<= 8) blocks of one token's activations at a: corr[j] = -8 *
 * (the sum of block j's codes). */
static ALWAYS_INLINE void q4_0_token_sums(const uint8_t *a, int k, int32_t *corr) {
    __m256i s[Q4_0_RUN];
    if (k == Q4_0_RUN) {
#pragma GCC unroll 8
        for (int j = 0; j < Q4_0_RUN; j++) s[j] = q4_0_eights(loadu256(a + j * Q8_0_BYTES + 2));
        _mm256_store_si256((__m256i *)corr, _mm256_sub_epi32(_mm256_setzero_si256(), lane_sums8(s)));
        return;
    }
    for (int j = 0; j < Q4_0_RUN; j++) s[j] = _mm256_setzero_si256();
    for (int j = 0; j < k; j++) {
        s[0] = q4_0_eights(loadu256(a + j * Q8_0_BYTES + 2));
        corr[j] = -_mm256_cvtsi256_si32(lane_sums8(s));
    }
}

/* T tokens (T <= Q4_0_TILE) of one group: y[t][r] for t < T. Per run, the
 * tokens' activation sums first, then block after block the products; as
 * dot.c's Q4_0, one float per output, the block's integer dot times d_w *
 * d_a added by one FMA, block after block. */
static ALWAYS_INLINE void q4_0_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    __m256 acc[Q4_0_TILE];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += Q4_0_RUN) {
        const int k = nb - b0 < Q4_0_RUN ? (int)(nb - b0) : Q4_0_RUN;
        const uint8_t *run = group + b0 * Q4_0_GROUP_BLOCK;
        const uint8_t *a0 = acts + b0 * Q8_0_BYTES;
        _Alignas(32) int32_t corr[Q4_0_TILE][Q4_0_RUN];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) q4_0_token_sums(a0 + (size_t)t * act_stride, k, corr[t]);
        for (int j = 0; j < k; j++) {
            const uint8_t *aj = a0 + j * Q8_0_BYTES;
            const __m256 dw = _mm256_cvtph_ps(loadu128(run + 16 * j));
            __m256i isum[Q4_0_TILE];
            q4_0_block_dots(run + 16 * k + 128 * j, aj, act_stride, corr, j, isum, T);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const __m256 da = f16_bcast(aj + (size_t)t * act_stride);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, da), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

PACKED_GEMM_BY_TILES(gemm_q4_0, q4_0_tile, QK4_0, Q4_0_TILE)

/* ------------------------------------------------------------------------ */
/* Q8_0                                                                     */
/* ------------------------------------------------------------------------ */

/* Up to Q8_0_CHUNK tokens: span after span of blocks, all tokens meeting
 * each span's codes while they are in L1; then dot.c's hsum_8 of each
 * output's lanes. */
static void q8_0_chunk(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride, int64_t n_tokens,
                       float *y, int64_t y_stride) {
    __m256 f[Q8_0_CHUNK][PACK_ROWS];
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int r = 0; r < PACK_ROWS; r++) f[t][r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b += Q8_0_SPAN)
        q8_0_span(nb, b, nb - b < Q8_0_SPAN ? nb : b + Q8_0_SPAN, group, acts, act_stride, n_tokens, f);
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int r = 0; r < PACK_ROWS; r++) y[t * y_stride + r] = hsum_8(f[t][r]);
    }
}

static void gemm_q8_0(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK8_0;
    const uint8_t *a = acts;
    for (int64_t t = 0; t < n_tokens; t += Q8_0_CHUNK) {
        const int64_t count = n_tokens - t < Q8_0_CHUNK ? n_tokens - t : Q8_0_CHUNK;
        q8_0_chunk(nb, group, a + (size_t)t * act_stride, act_stride, count, y + t * y_stride, y_stride);
    }
}

/* ------------------------------------------------------------------------ */
/* K-quants (activations Q8_K)                                              */
/* ------------------------------------------------------------------------ */

/* T tokens (T <= K_TILE) of one group. As dot.c's Q4_K, each output keeps
 * 8 float lanes and 4 float min lanes; here a vector holds one lane of the
 * 8 rows. Lane l's integer, per super-block: for each pair of sub-blocks
 * (2c, 2c+1), vector (l, c) of the codes gives the 8 rows' 4 elements of
 * each, to meet the token's 4 activations of those elements (q4_K_dot).
 * The min lanes: vpmaddwd of the rows' (m_2k, m_2k+1) and the token's two
 * 32-element activation sums. */
static ALWAYS_INLINE void q4_K_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    __m256 f[K_TILE][8], fm[K_TILE][4];
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < 8; l++) f[t][l] = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) fm[t][k] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + b * Q4_K_GROUP_BLOCK;
        const block_q8_K *a[K_TILE];
        __m256i sc[8];
        q4_K_scales(p, sc);
        const __m256 dw = _mm256_cvtph_ps(loadu128(p)), dminw = _mm256_cvtph_ps(loadu128(p + 16));
        __m256 d[K_TILE];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            a[t] = (const block_q8_K *)(const void *)(acts + (size_t)t * act_stride + b * sizeof(block_q8_K));
            d[t] = _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d));
            const __m256 dmin = _mm256_mul_ps(dminw, _mm256_set1_ps(-a[t]->d));
            const int16_t *bs = a[t]->bsums;
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const uint32_t pair = (uint16_t)(bs[4 * k] + bs[4 * k + 1]) | (uint32_t)(uint16_t)(bs[4 * k + 2] + bs[4 * k + 3]) << 16;
                const __m256i m = _mm256_cvtepu8_epi16(loadu128(p + 96 + 16 * k));
                const __m256i mins = _mm256_madd_epi16(m, _mm256_set1_epi32((int)pair));
                fm[t][k] = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(mins), fm[t][k]);
            }
        }
#pragma GCC unroll 1
        for (int l = 0; l < 8; l++) {
            __m256i isum[K_TILE];
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                const __m256i x = loadu256(p + Q4_K_CODES + 32 * (4 * l + c));
                const __m256i lo = _mm256_and_si256(x, low), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
#pragma GCC unroll 4
                for (int t = 0; t < T; t++) isum[t] = q4_K_dot(isum[t], lo, hi, a[t]->qs + 64 * c + 4 * l, sc, c);
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) f[t][l] = _mm256_fmadd_ps(d[t], _mm256_cvtepi32_ps(isum[t]), f[t][l]);
        }
    }
    for (int t = 0; t < T; t++) { /* dot.c: hsum_8 of the lanes + (min lanes 0 + 2) + (1 + 3) */
        const __m256 mins = _mm256_add_ps(_mm256_add_ps(fm[t][0], fm[t][2]), _mm256_add_ps(fm[t][1], fm[t][3]));
        _mm256_storeu_ps(y + t * y_stride, _mm256_add_ps(lanes_hsum_8(f[t]), mins));
    }
}

PACKED_GEMM_BY_TILES(gemm_q4_K, q4_K_tile, QK_K, K_TILE)

/* T tokens (T <= K_TILE) of one group. As dot.c's Q6_K, each output keeps
 * 8 float lanes; a vector holds one lane of the 8 rows. Lane l's integer,
 * per super-block: for each h and g, the 8 rows' 4 codes u (0..63) of its
 * elements 128 h + 32 g + 4 l .. +3 come from ql(h, g % 2, l) and qh(h,
 * l), to meet the token's 4 activations of those elements (q6_K_half). */
static ALWAYS_INLINE void q6_K_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30);
    __m256 f[K_TILE][8];
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < 8; l++) f[t][l] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + b * Q6_K_GROUP_BLOCK;
        const block_q8_K *a[K_TILE];
        __m256i sc[16];
        q6_K_scales(p, sc);
        const __m256 dw = _mm256_cvtph_ps(loadu128(p));
        __m256 d[K_TILE];
        _Alignas(32) int32_t sums[K_TILE][2][2][8]; /* q6_K_token's, per token */
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            a[t] = (const block_q8_K *)(const void *)(acts + (size_t)t * act_stride + b * sizeof(block_q8_K));
            d[t] = _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d));
            q6_K_token(a[t], sums[t]);
        }
#pragma GCC unroll 1
        for (int l = 0; l < 8; l++) {
            __m256i isum[K_TILE];
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const uint8_t *v = p + Q6_K_CODES + 96 * (2 * l + h);
                const __m256i ql0 = loadu256(v), ql1 = loadu256(v + 32), qh = loadu256(v + 64);
                __m256i u[4];
                u[0] = _mm256_or_si256(_mm256_and_si256(ql0, low), _mm256_and_si256(_mm256_slli_epi16(qh, 4), top));
                u[1] = _mm256_or_si256(_mm256_and_si256(ql1, low), _mm256_and_si256(_mm256_slli_epi16(qh, 2), top));
                u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low), _mm256_and_si256(qh, top));
                u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low),
                                       _mm256_and_si256(_mm256_srli_epi16(qh, 2), top));
                q6_K_half(isum, u, a, sums, sc, h, l, T);
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) f[t][l] = _mm256_fmadd_ps(d[t], _mm256_cvtepi32_ps(isum[t]), f[t][l]);
        }
    }
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + t * y_stride, lanes_hsum_8(f[t])); /* dot.c's hsum_8 */
}

PACKED_GEMM_BY_TILES(gemm_q6_K, q6_K_tile, QK_K, K_TILE)

/* The level's gemm of each quantized type with a packed layout. */
static packed_gemm_fn packed_gemm_x86(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_Q4_0: return gemm_q4_0;
    case BIBIM_TYPE_Q8_0: return gemm_q8_0;
    case BIBIM_TYPE_Q4_K: return gemm_q4_K;
    case BIBIM_TYPE_Q6_K: return gemm_q6_K;
    default: return NULL;
    }
}

#endif
