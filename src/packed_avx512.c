/* packed_avx512.c — packed-weight gemm kernels for CPUs with AVX-512
 * F/BW/VL/DQ and VNNI (vpdpbusd), on 256-bit vectors: the products are
 * bound by vpdpbusd throughput, which wider vectors do not raise on CPUs
 * that split 512-bit operations (AMD Zen 4). The layouts, and pack, are
 * packed_scalar.c's; results are its gemm's (and the row kernels') bit for
 * bit.
 *
 * Q4_0: a 32-bit lane per row. Vector v of a block's quants holds, in lane
 * r, row r's qs[4v..4v+3]: its low nibbles are elements 4v..4v+3, its
 * high nibbles 16+4v..16+4v+3. vpdpbusd multiplies those (unsigned, 0..15)
 * by the token's 4 activations of the same elements broadcast to every
 * lane, so 8 vpdpbusd give 8 rows' sums of q * a over the block; the codes
 * stand for q - 8, so 8 * (sum of the block's activations), the same for
 * every row, is subtracted (it is worked out once per token and block, for
 * 8 blocks at a time). Then, as dot.c's Q4_0: one float per output, the
 * block's integer dot times d_w * d_a added by one FMA, block after block.
 * Tokens go in tiles of up to 8, so each block's nibbles, once unpacked,
 * serve 8 tokens. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "quant.h"

#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline uint64_t load_u16(const uint8_t *p) { return (uint64_t)p[0] | (uint64_t)p[1] << 8; }

/* acc + the dots of u's bytes (unsigned) with the 4 bytes at p (signed)
 * repeated in every lane: vpdpbusd with its broadcast memory operand (one
 * instruction; compilers load and broadcast apart). */
static inline __m256i dpbusd_bcast(__m256i acc, __m256i u, const uint8_t *p) {
    __asm__("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*(const int32_t *)p));
    return acc;
}

/* acc + a * (the float at p, in every lane), rounded once: vfmadd231ps
 * with its broadcast memory operand. */
static inline __m256 fma_bcast(__m256 a, const float *p, __m256 acc) {
    __asm__("vfmadd231ps %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(a), "m"(*p));
    return acc;
}

/* dot.c's hsum_8: lanes l + 4 added to lanes l, then (0 + 2) + (1 + 3). */
static inline float hsum_8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
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
/* Q4_0                                                                     */
/* ------------------------------------------------------------------------ */

/* packed_scalar.c's layout: runs of 8 blocks, each run its blocks' 8
 * scales (16 bytes a block), then their quants (128 bytes a block). */
enum { Q4_0_RUN = 8, Q4_0_GROUP_BLOCK = 144, Q8_0_BYTES = 34, MAX_TILE = 8 };

/* For the k (<= 8) blocks of one token's activations at a: corr[j] = -8 *
 * (the sum of block j's codes). */
static ALWAYS_INLINE void q4_0_token_sums(const uint8_t *a, int k, int32_t *corr) {
    const __m256i eight = _mm256_set1_epi8(8);
    __m256i s[Q4_0_RUN];
    if (k == Q4_0_RUN) {
#pragma GCC unroll 8
        for (int j = 0; j < Q4_0_RUN; j++)
            s[j] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, loadu256(a + j * Q8_0_BYTES + 2));
        _mm256_store_si256((__m256i *)corr, _mm256_sub_epi32(_mm256_setzero_si256(), lane_sums8(s)));
        return;
    }
    for (int j = 0; j < Q4_0_RUN; j++) s[j] = _mm256_setzero_si256();
    for (int j = 0; j < k; j++) {
        s[0] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, loadu256(a + j * Q8_0_BYTES + 2));
        corr[j] = -_mm256_cvtsi256_si32(lane_sums8(s));
    }
}

/* T tokens (T <= MAX_TILE) of one group: y[t][r] for t < T. Per run, the
 * tokens' activation sums first, then block after block the products. */
static ALWAYS_INLINE void q4_0_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    __m256 acc[MAX_TILE];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += Q4_0_RUN) {
        const int k = nb - b0 < Q4_0_RUN ? (int)(nb - b0) : Q4_0_RUN;
        const uint8_t *run = group + b0 * Q4_0_GROUP_BLOCK;
        const uint8_t *a0 = acts + b0 * Q8_0_BYTES;
        _Alignas(32) int32_t corr[MAX_TILE][Q4_0_RUN];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) q4_0_token_sums(a0 + (size_t)t * act_stride, k, corr[t]);
        for (int j = 0; j < k; j++) {
            const uint8_t *quants = run + 16 * k + 128 * j;
            const uint8_t *aj = a0 + j * Q8_0_BYTES;
            const __m256 dw = _mm256_cvtph_ps(loadu128(run + 16 * j));
            __m256i isum[MAX_TILE], isum2[MAX_TILE];
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                isum[t] = _mm256_set1_epi32(corr[t][j]);
                isum2[t] = _mm256_setzero_si256();
            }
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) {
                const __m256i x = loadu256(quants + 32 * v);
                const __m256i lo = _mm256_and_si256(x, low), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const uint8_t *aq = aj + (size_t)t * act_stride + 2;
                    isum[t] = dpbusd_bcast(isum[t], lo, aq + 4 * v);
                    isum2[t] = dpbusd_bcast(isum2[t], hi, aq + 16 + 4 * v);
                }
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const __m256 da = _mm256_cvtph_ps(_mm_set1_epi16((short)load_u16(aj + (size_t)t * act_stride)));
                const __m256 lanes = _mm256_cvtepi32_ps(_mm256_add_epi32(isum[t], isum2[t]));
                acc[t] = _mm256_fmadd_ps(lanes, _mm256_mul_ps(dw, da), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

static void gemm_q4_0(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK4_0;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + MAX_TILE <= n_tokens; t += MAX_TILE)
        q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, MAX_TILE);
    switch (n_tokens - t) {
    case 7: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 7); break;
    case 6: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 6); break;
    case 5: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 5); break;
    case 4: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 4); break;
    case 3: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 3); break;
    case 2: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 2); break;
    case 1: q4_0_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 1); break;
    default: break;
    }
}

/* ------------------------------------------------------------------------ */
/* Q8_0                                                                     */
/* ------------------------------------------------------------------------ */

/* packed_scalar.c's layout: runs of 8 blocks, each run its blocks' 8
 * scales (16 bytes a block), then their codes (256 bytes a block: row r's
 * 32 at 32 r, plus 128). */
enum {
    Q8_0_RUN = 8,
    Q8_0_GROUP_BLOCK = 272,
    Q8_0_TILE = 2,    /* tokens a step: 16 accumulator vectors */
    Q8_0_SPAN = 32,   /* blocks (8.5 KiB of a group) that all tokens of a chunk meet while they are in L1 */
    Q8_0_CHUNK = 64   /* tokens whose accumulators wait in memory between spans */
};

/* Tokens t < T (T <= Q8_0_TILE) of one group, over blocks b_start ..
 * b_end - 1 (run-aligned), their accumulators in f[t] (8 rows x 8 lanes).
 * As dot.c's Q8_0, each output keeps 8 float lanes, lane l adding by an
 * FMA the integer dot of each block's elements 4l..4l+3 times d_w * d_a.
 * A row's block is one vector: vpdpbusd with the token's block of
 * activations gives the 8 integer lanes; as the codes are stored plus
 * 128, each lane starts from -128 times its 4 activations' sum (one
 * vector per token and block, for all rows). The products d_w * d_a are
 * worked out for the whole span first, so that the FMAs, which take them
 * by broadcast loads, do not wait for them. */
static ALWAYS_INLINE void q8_0_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group,
                                     const uint8_t *acts, size_t act_stride, __m256 f[][PACK_ROWS], const int T) {
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const int64_t full = nb / Q8_0_RUN * Q8_0_RUN, tail = nb - full;
    __m256 acc[PACK_ROWS][Q8_0_TILE];
#pragma GCC unroll 8
    for (int r = 0; r < PACK_ROWS; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < T; t++) acc[r][t] = f[t][r];
    }
    _Alignas(32) float dspan[Q8_0_SPAN][Q8_0_TILE][PACK_ROWS]; /* d_w * d_a of row r */
    for (int64_t b = b_start; T > 1 && b < b_end; b++) {
        const int64_t b0 = b / Q8_0_RUN * Q8_0_RUN, j = b - b0;
        const uint8_t *run = group + b0 * Q8_0_GROUP_BLOCK;
        const uint8_t *ab = acts + b * Q8_0_BYTES;
        const __m256 dw = _mm256_cvtph_ps(loadu128(run + 16 * j));
#pragma GCC unroll 2
        for (int t = 0; t < T; t++) {
            const uint8_t *at = ab + (size_t)t * act_stride;
            const __m256 da = _mm256_cvtph_ps(_mm_set1_epi16((short)load_u16(at)));
            _mm256_store_ps(dspan[b - b_start][t], _mm256_mul_ps(dw, da));
        }
    }
    for (int64_t b = b_start; b < b_end; b++) {
        const int64_t b0 = b / Q8_0_RUN * Q8_0_RUN, j = b - b0, k = b0 < full ? Q8_0_RUN : tail;
        const uint8_t *run = group + b0 * Q8_0_GROUP_BLOCK;
        const uint8_t *codes = run + 16 * k + 256 * j;
        const uint8_t *ab = acts + b * Q8_0_BYTES;
        __m256i qa[Q8_0_TILE], corr[Q8_0_TILE];
        float (*d)[PACK_ROWS] = dspan[b - b_start];
        if (T == 1) { /* one token (decode): streaming, no time to hide */
            const __m256 da = _mm256_cvtph_ps(_mm_set1_epi16((short)load_u16(ab)));
            _mm256_store_ps(d[0], _mm256_mul_ps(_mm256_cvtph_ps(loadu128(run + 16 * j)), da));
        }
#pragma GCC unroll 2
        for (int t = 0; t < T; t++) {
            const uint8_t *at = ab + (size_t)t * act_stride;
            qa[t] = loadu256(at + 2);
            corr[t] =
                _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, qa[t]));
        }
#pragma GCC unroll 8
        for (int r = 0; r < PACK_ROWS; r++) {
            const __m256i w = loadu256(codes + 32 * r);
#pragma GCC unroll 2
            for (int t = 0; t < T; t++) {
                const __m256 lanes = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(corr[t], w, qa[t]));
                acc[r][t] = fma_bcast(lanes, &d[t][r], acc[r][t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < PACK_ROWS; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < T; t++) f[t][r] = acc[r][t];
    }
}

/* Up to Q8_0_CHUNK tokens: span after span of blocks, all tokens (two at a
 * time) meeting each span's codes while they are in L1; then dot.c's
 * hsum_8 of each output's lanes. */
static void q8_0_chunk(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride, int64_t n_tokens,
                       float *y, int64_t y_stride) {
    __m256 f[Q8_0_CHUNK][PACK_ROWS];
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int r = 0; r < PACK_ROWS; r++) f[t][r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b += Q8_0_SPAN) {
        const int64_t b_end = nb - b < Q8_0_SPAN ? nb : b + Q8_0_SPAN;
        int64_t t = 0;
        for (; t + Q8_0_TILE <= n_tokens; t += Q8_0_TILE)
            q8_0_span(nb, b, b_end, group, acts + (size_t)t * act_stride, act_stride, f + t, Q8_0_TILE);
        if (t < n_tokens) q8_0_span(nb, b, b_end, group, acts + (size_t)t * act_stride, act_stride, f + t, 1);
    }
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

/* ggml's block_q8_K, as dot.c defines it. */
typedef struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K is ggml's 292 bytes");

enum { K_TILE = 4 }; /* tokens a step: their integer lanes stay in registers, their float lanes in memory */

/* Q4_K: packed_scalar.c's layout (1184 bytes a group's super-block). */
enum { Q4_K_GROUP_BLOCK = 1184, Q4_K_CODES = 160 };

/* T tokens (T <= K_TILE) of one group. As dot.c's Q4_K, each output keeps
 * 8 float lanes and 4 float min lanes; here a vector holds one lane of the
 * 8 rows. Lane l's integer, per super-block: for each pair of sub-blocks
 * (2c, 2c+1), vector (l, c) of the codes gives the 8 rows' 4 elements of
 * each; vpmaddubsw with the token's 4 activations (broadcast) makes int16
 * pairs, vpdpwssd multiplies them by the rows' sub-block scale and adds
 * them up. The min lanes: vpmaddwd of the rows' (m_2k, m_2k+1) and the
 * token's two 32-element activation sums. */
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
        __m256i scp[4]; /* the scales of sub-blocks 2c and 2c + 1 as int16 pairs */
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m256i s0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 32 + 16 * c)));
            const __m256i s1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 40 + 16 * c)));
            scp[c] = _mm256_or_si256(s0, _mm256_slli_epi32(s1, 16));
        }
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
                for (int t = 0; t < T; t++) {
                    const uint8_t *aq = (const uint8_t *)a[t]->qs + 64 * c + 4 * l;
                    const __m256i dlo = dpbusd_bcast(_mm256_setzero_si256(), lo, aq);
                    const __m256i dhi = dpbusd_bcast(_mm256_setzero_si256(), hi, aq + 32);
                    const __m256i pair = _mm256_blend_epi16(dlo, _mm256_slli_epi32(dhi, 16), 0xAA);
                    isum[t] = _mm256_dpwssd_epi32(isum[t], pair, scp[c]);
                }
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) f[t][l] = _mm256_fmadd_ps(d[t], _mm256_cvtepi32_ps(isum[t]), f[t][l]);
        }
    }
    for (int t = 0; t < T; t++) { /* dot.c: hsum_8 of the lanes + (min lanes 0 + 2) + (1 + 3) */
        const __m256 s0 = _mm256_add_ps(f[t][0], f[t][4]), s1 = _mm256_add_ps(f[t][1], f[t][5]);
        const __m256 s2 = _mm256_add_ps(f[t][2], f[t][6]), s3 = _mm256_add_ps(f[t][3], f[t][7]);
        const __m256 lanes = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
        const __m256 mins = _mm256_add_ps(_mm256_add_ps(fm[t][0], fm[t][2]), _mm256_add_ps(fm[t][1], fm[t][3]));
        _mm256_storeu_ps(y + t * y_stride, _mm256_add_ps(lanes, mins));
    }
}

static void gemm_q4_K(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK_K;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + K_TILE <= n_tokens; t += K_TILE)
        q4_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, K_TILE);
    switch (n_tokens - t) {
    case 3: q4_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 3); break;
    case 2: q4_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 2); break;
    case 1: q4_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 1); break;
    default: break;
    }
}

/* Q6_K: packed_scalar.c's layout (1696 bytes a group's super-block). */
enum { Q6_K_GROUP_BLOCK = 1696, Q6_K_CODES = 160 };

/* T tokens (T <= K_TILE) of one group. As dot.c's Q6_K, each output keeps
 * 8 float lanes; a vector holds one lane of the 8 rows. Lane l's integer,
 * per super-block: for each h and g, the 8 rows' 4 codes u (0..63) of its
 * elements 128 h + 32 g + 4 l .. +3 come from ql(h, g % 2, l) and qh(h, l);
 * vpdpbusd with the token's 4 activations (broadcast) sums their products
 * (at most 4 * 63 * 127, an int16). As the codes stand for u - 32, 32 *
 * the activations' sum (worked out per token and super-block by vpdpbusd)
 * is subtracted. The sums for g and g + 1 (g even) go into the two int16
 * halves of each lane, and one vpdpwssd multiplies them by the rows'
 * scales of those elements and adds them up. */
static ALWAYS_INLINE void q6_K_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30), b32 = _mm256_set1_epi8(32);
    __m256 f[K_TILE][8];
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < 8; l++) f[t][l] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + b * Q6_K_GROUP_BLOCK;
        const block_q8_K *a[K_TILE];
        __m256i scp[2][2][2]; /* [h][g / 2][l / 4]: the rows' scales of g and g + 1 as int16 pairs */
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
#pragma GCC unroll 2
            for (int gp = 0; gp < 2; gp++) {
#pragma GCC unroll 2
                for (int half = 0; half < 2; half++) {
                    const uint8_t *s0 = p + 16 + 8 * (8 * h + 4 * gp + half);
                    const __m256i x0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)s0));
                    const __m256i x1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(s0 + 16)));
                    scp[h][gp][half] = _mm256_blend_epi16(x0, _mm256_slli_epi32(x1, 16), 0xAA);
                }
            }
        }
        const __m256 dw = _mm256_cvtph_ps(loadu128(p));
        __m256 d[K_TILE];
        _Alignas(32) int32_t sums[K_TILE][2][2][8]; /* [t][h][g / 2][l]: 32 * (the sums for g, g + 1) as int16 */
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            a[t] = (const block_q8_K *)(const void *)(acts + (size_t)t * act_stride + b * sizeof(block_q8_K));
            d[t] = _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d));
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
#pragma GCC unroll 2
                for (int gp = 0; gp < 2; gp++) {
                    const int8_t *q = a[t]->qs + 128 * h + 64 * gp;
                    const __m256i s0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), b32, loadu256(q));
                    const __m256i s1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), b32, loadu256(q + 32));
                    _mm256_store_si256((__m256i *)sums[t][h][gp], _mm256_blend_epi16(s0, _mm256_slli_epi32(s1, 16), 0xAA));
                }
            }
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
#pragma GCC unroll 2
                for (int gp = 0; gp < 2; gp++) {
#pragma GCC unroll 4
                    for (int t = 0; t < T; t++) {
                        const uint8_t *aq = (const uint8_t *)a[t]->qs + 128 * h + 64 * gp + 4 * l;
                        const __m256i d0 = dpbusd_bcast(_mm256_setzero_si256(), u[2 * gp], aq);
                        const __m256i d1 = dpbusd_bcast(_mm256_setzero_si256(), u[2 * gp + 1], aq + 32);
                        const __m256i pair = _mm256_sub_epi16(_mm256_blend_epi16(d0, _mm256_slli_epi32(d1, 16), 0xAA),
                                                              _mm256_set1_epi32(sums[t][h][gp][l]));
                        isum[t] = _mm256_dpwssd_epi32(isum[t], pair, scp[h][gp][l / 4]);
                    }
                }
            }
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) f[t][l] = _mm256_fmadd_ps(d[t], _mm256_cvtepi32_ps(isum[t]), f[t][l]);
        }
    }
    for (int t = 0; t < T; t++) { /* dot.c's hsum_8 of the lanes */
        const __m256 s0 = _mm256_add_ps(f[t][0], f[t][4]), s1 = _mm256_add_ps(f[t][1], f[t][5]);
        const __m256 s2 = _mm256_add_ps(f[t][2], f[t][6]), s3 = _mm256_add_ps(f[t][3], f[t][7]);
        _mm256_storeu_ps(y + t * y_stride, _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3)));
    }
}

static void gemm_q6_K(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK_K;
    const uint8_t *a = acts;
    int64_t t = 0;
    for (; t + K_TILE <= n_tokens; t += K_TILE)
        q6_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, K_TILE);
    switch (n_tokens - t) {
    case 3: q6_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 3); break;
    case 2: q6_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 2); break;
    case 1: q6_K_tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, 1); break;
    default: break;
    }
}

packed_gemm_fn packed_gemm_avx512(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_Q4_0: return gemm_q4_0;
    case BIBIM_TYPE_Q8_0: return gemm_q8_0;
    case BIBIM_TYPE_Q4_K: return gemm_q4_K;
    case BIBIM_TYPE_Q6_K: return gemm_q6_K;
    default: return NULL;
    }
}

#else /* not x86-64 with AVX-512: no kernels of this level */

packed_gemm_fn packed_gemm_avx512(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
