/* packed_avx2.c — packed-weight gemm kernels for x86-64 with AVX2, FMA and
 * F16C. The layouts, and pack, are packed_scalar.c's; results are its
 * gemm's (and the row kernels') bit for bit: integer parts are exact in
 * any order, and each output keeps the row kernel's float steps.
 *
 * Q4_0: a 32-bit lane per row. Vector v of a block's quants holds, in lane
 * r, row r's qs[4v..4v+3]: its low nibbles are elements 4v..4v+3, its
 * high nibbles 16+4v..16+4v+3. vpmaddubsw multiplies those (unsigned,
 * 0..15) by the token's 4 activations of the same elements, broadcast to
 * every lane, adding pairs into int16; the 8 such products of a block add
 * up in int16 (at most 16 * 15 * 128 = 30720 in magnitude), then vpmaddwd
 * sums each lane's two halves. The codes stand for q - 8, so 8 * (the sum
 * of the block's activations), the same for every row, is subtracted (it
 * is worked out once per token and run of 8 blocks). Then, as dot.c's
 * Q4_0: one float per output, the block's integer dot times d_w * d_a
 * added by one FMA, block after block. Tokens go in tiles of up to 4 (the
 * 16 vector registers hold 4 tokens' sums and outputs). */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "quant.h"

#include <immintrin.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

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
enum { Q4_0_RUN = 8, Q4_0_GROUP_BLOCK = 144, Q8_0_BYTES = 34, MAX_TILE = 4 };

/* For the k (<= 8) blocks of one token's activations at a: corr[j] = -8 *
 * (the sum of block j's codes). */
static ALWAYS_INLINE void q4_0_token_sums(const uint8_t *a, int k, int32_t *corr) {
    const __m256i eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    __m256i s[Q4_0_RUN];
    if (k == Q4_0_RUN) {
#pragma GCC unroll 8
        for (int j = 0; j < Q4_0_RUN; j++)
            s[j] = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, loadu256(a + j * Q8_0_BYTES + 2)), ones);
        _mm256_store_si256((__m256i *)corr, _mm256_sub_epi32(_mm256_setzero_si256(), lane_sums8(s)));
        return;
    }
    for (int j = 0; j < Q4_0_RUN; j++) s[j] = _mm256_setzero_si256();
    for (int j = 0; j < k; j++) {
        s[0] = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, loadu256(a + j * Q8_0_BYTES + 2)), ones);
        corr[j] = -_mm256_cvtsi256_si32(lane_sums8(s));
    }
}

/* T tokens (T <= MAX_TILE) of one group: y[t][r] for t < T. Per run, the
 * tokens' activation sums first, then block after block the products. */
static ALWAYS_INLINE void q4_0_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[MAX_TILE];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += Q4_0_RUN) {
        const int k = nb - b0 < Q4_0_RUN ? (int)(nb - b0) : Q4_0_RUN;
        const uint8_t *run = group + b0 * Q4_0_GROUP_BLOCK;
        const uint8_t *a0 = acts + b0 * Q8_0_BYTES;
        _Alignas(32) int32_t corr[MAX_TILE][Q4_0_RUN];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) q4_0_token_sums(a0 + (size_t)t * act_stride, k, corr[t]);
        for (int j = 0; j < k; j++) {
            const uint8_t *quants = run + 16 * k + 128 * j;
            const uint8_t *aj = a0 + j * Q8_0_BYTES;
            __m256i sum16[MAX_TILE];
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) sum16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) {
                const __m256i x = loadu256(quants + 32 * v);
                const __m256i lo = _mm256_and_si256(x, low), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
#pragma GCC unroll 4
                for (int t = 0; t < T; t++) {
                    const uint8_t *aq = aj + (size_t)t * act_stride + 2;
                    const __m256i p_lo = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(load_i32(aq + 4 * v)));
                    const __m256i p_hi = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load_i32(aq + 16 + 4 * v)));
                    sum16[t] = _mm256_add_epi16(sum16[t], _mm256_add_epi16(p_lo, p_hi));
                }
            }
            const __m256 dw = _mm256_cvtph_ps(loadu128(run + 16 * j));
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const __m256i isum = _mm256_add_epi32(_mm256_madd_epi16(sum16[t], ones), _mm256_set1_epi32(corr[t][j]));
                const __m256 da = _mm256_cvtph_ps(_mm_set1_epi16((short)load_u16(aj + (size_t)t * act_stride)));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, da), acc[t]);
            }
        }
    }
#pragma GCC unroll 4
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
    Q8_0_SPAN = 32,  /* blocks (8.5 KiB of a group) that all tokens of a chunk meet while they are in L1 */
    Q8_0_CHUNK = 64  /* tokens whose accumulators wait in memory between spans */
};

/* dot.c's hsum_8: lanes l + 4 added to lanes l, then (0 + 2) + (1 + 3). */
static inline float hsum_8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One token of one group over blocks b_start .. b_end - 1 (run-aligned),
 * its accumulators in f (8 rows x 8 lanes). As dot.c's Q8_0, each output
 * keeps 8 float lanes, lane l adding by an FMA the integer dot of each
 * block's elements 4l..4l+3 times d_w * d_a. A row's block is one vector;
 * its codes, stored plus 128, are turned back into signed bytes, and
 * vpmaddubsw multiplies |w| by the activations with w's sign (at most 2 *
 * 128 * 127 a pair: no saturation), vpmaddwd adds the pairs into the 8
 * int32 lanes. */
static void q8_0_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group, const uint8_t *act,
                      __m256 f[PACK_ROWS]) {
    const __m256i bias = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    const int64_t full = nb / Q8_0_RUN * Q8_0_RUN, tail = nb - full;
    __m256 acc[PACK_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < PACK_ROWS; r++) acc[r] = f[r];
    for (int64_t b = b_start; b < b_end; b++) {
        const int64_t b0 = b / Q8_0_RUN * Q8_0_RUN, j = b - b0, k = b0 < full ? Q8_0_RUN : tail;
        const uint8_t *run = group + b0 * Q8_0_GROUP_BLOCK;
        const uint8_t *codes = run + 16 * k + 256 * j;
        const uint8_t *ab = act + b * Q8_0_BYTES;
        const __m256i qa = loadu256(ab + 2);
        _Alignas(32) float d[PACK_ROWS]; /* d_w * d_a of row r */
        _mm256_store_ps(d, _mm256_mul_ps(_mm256_cvtph_ps(loadu128(run + 16 * j)),
                                         _mm256_cvtph_ps(_mm_set1_epi16((short)load_u16(ab)))));
#pragma GCC unroll 8
        for (int r = 0; r < PACK_ROWS; r++) {
            const __m256i w = _mm256_xor_si256(loadu256(codes + 32 * r), bias);
            const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(qa, w));
            const __m256 lanes = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[r]), lanes, acc[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < PACK_ROWS; r++) f[r] = acc[r];
}

/* Up to Q8_0_CHUNK tokens: span after span of blocks, all tokens meeting
 * each span's codes while they are in L1; then dot.c's hsum_8 of each
 * output's lanes. */
static void q8_0_chunk(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride, int64_t n_tokens,
                       float *y, int64_t y_stride) {
    __m256 f[Q8_0_CHUNK][PACK_ROWS];
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int r = 0; r < PACK_ROWS; r++) f[t][r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b += Q8_0_SPAN) {
        const int64_t b_end = nb - b < Q8_0_SPAN ? nb : b + Q8_0_SPAN;
        for (int64_t t = 0; t < n_tokens; t++) q8_0_span(nb, b, b_end, group, acts + (size_t)t * act_stride, f[t]);
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

/* The 8 bytes at p (one per row) as int16 pairs (x, x) in 32-bit lanes:
 * vpmaddwd's multiplier for 8 rows' sub-block scales. */
static inline __m256i scale_pairs(const uint8_t *p) {
    const __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
    return _mm256_or_si256(x, _mm256_slli_epi32(x, 16));
}

/* Q4_K: packed_scalar.c's layout (1184 bytes a group's super-block). */
enum { Q4_K_GROUP_BLOCK = 1184, Q4_K_CODES = 160 };

/* T tokens (T <= K_TILE) of one group. As dot.c's Q4_K, each output keeps
 * 8 float lanes and 4 float min lanes; here a vector holds one lane of the
 * 8 rows. Lane l's integer, per super-block: for each pair of sub-blocks
 * (2c, 2c+1), vector (l, c) of the codes gives the 8 rows' 4 elements of
 * each; vpmaddubsw with the token's 4 activations (broadcast) makes int16
 * pairs, vpmaddwd multiplies them by the rows' sub-block scale and adds
 * each lane's two. The min lanes: vpmaddwd of the rows' (m_2k, m_2k+1) and the
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
        __m256i sc[8];
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) sc[s] = scale_pairs(p + 32 + 8 * s);
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
                    const int8_t *aq = a[t]->qs + 64 * c + 4 * l;
                    const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(load_i32(aq)));
                    const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load_i32(aq + 32)));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(plo, sc[2 * c]));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(phi, sc[2 * c + 1]));
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
 * vpmaddubsw of u and the token's 4 activations (broadcast), minus that of
 * 32 and the activations (q = u - 32; both exact in int16), then vpdpwssd
 * by the rows' scale of those elements. */
static ALWAYS_INLINE void q6_K_tile(int64_t nb, const uint8_t *group, const uint8_t *acts, size_t act_stride,
                                     float *y, int64_t y_stride, const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30), bias = _mm256_set1_epi8(32);
    __m256 f[K_TILE][8];
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < 8; l++) f[t][l] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + b * Q6_K_GROUP_BLOCK;
        const block_q8_K *a[K_TILE];
        __m256i sc[16];
#pragma GCC unroll 16
        for (int s = 0; s < 16; s++) { /* the int8 scales as int16 pairs (x, x) */
            const __m256i x = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 16 + 8 * s)));
            sc[s] = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(x, 16));
        }
        const __m256 dw = _mm256_cvtph_ps(loadu128(p));
        __m256 d[K_TILE];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            a[t] = (const block_q8_K *)(const void *)(acts + (size_t)t * act_stride + b * sizeof(block_q8_K));
            d[t] = _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d));
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
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) {
#pragma GCC unroll 4
                    for (int t = 0; t < T; t++) {
                        const __m256i av = _mm256_set1_epi32(load_i32(a[t]->qs + 128 * h + 32 * g + 4 * l));
                        const __m256i prod = _mm256_sub_epi16(_mm256_maddubs_epi16(u[g], av), _mm256_maddubs_epi16(bias, av));
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(prod, sc[8 * h + 2 * g + l / 4]));
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

packed_gemm_fn packed_gemm_avx2(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_Q4_0: return gemm_q4_0;
    case BIBIM_TYPE_Q8_0: return gemm_q8_0;
    case BIBIM_TYPE_Q4_K: return gemm_q4_K;
    case BIBIM_TYPE_Q6_K: return gemm_q6_K;
    default: return NULL;
    }
}

#else /* not x86-64 with AVX2: no kernels of this level */

packed_gemm_fn packed_gemm_avx2(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
