/* packed_avx512.c — packed-weight gemm kernels for CPUs with AVX-512
 * F/BW/VL/DQ and VNNI (vpdpbusd), on 256-bit vectors: the products are
 * bound by vpdpbusd throughput, which wider vectors do not raise on CPUs
 * that split 512-bit operations (AMD Zen 4). The layouts, and pack, are
 * packed_scalar.c's; results are its gemm's (and the row kernels') bit for
 * bit. The loops and the float steps are packed_x86.h's, shared with
 * packed_avx2.c; here are the integer products of this level's
 * instructions, and Q8_0's tiles of two tokens.
 *
 * Q4_0: a 32-bit lane per row. Vector v of a block's quants holds, in lane
 * r, row r's qs[4v..4v+3]: its low nibbles are elements 4v..4v+3, its
 * high nibbles 16+4v..16+4v+3. vpdpbusd multiplies those (unsigned, 0..15)
 * by the token's 4 activations of the same elements broadcast to every
 * lane, so 8 vpdpbusd give 8 rows' sums of q * a over the block; the codes
 * stand for q - 8, so 8 * (sum of the block's activations), the same for
 * every row, is subtracted (it is worked out once per token and block, for
 * 8 blocks at a time). Tokens go in tiles of up to 8, so each block's
 * nibbles, once unpacked, serve 8 tokens. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#define Q4_0_TILE 8
#include "packed_x86.h"

/* acc + the dots of u's bytes (unsigned) with the 4 bytes at p (signed)
 * repeated in every lane: vpdpbusd with its broadcast memory operand (one
 * instruction; compilers load and broadcast apart). */
static inline __m256i dpbusd_bcast(__m256i acc, __m256i u, const void *p) {
    __asm__("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*(const int32_t *)p));
    return acc;
}

/* acc + a * (the float at p, in every lane), rounded once: vfmadd231ps
 * with its broadcast memory operand. */
static inline __m256 fma_bcast(__m256 a, const float *p, __m256 acc) {
    __asm__("vfmadd231ps %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(a), "m"(*p));
    return acc;
}

/* ------------------------------------------------------------------------ */
/* Q4_0                                                                     */
/* ------------------------------------------------------------------------ */

static ALWAYS_INLINE __m256i q4_0_eights(__m256i x) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), x);
}

static ALWAYS_INLINE void q4_0_block_dots(const uint8_t *quants, const uint8_t *aj, size_t act_stride,
                                          int32_t corr[][Q4_0_RUN], int j, __m256i isum[], const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    __m256i isum2[Q4_0_TILE];
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
    for (int t = 0; t < T; t++) isum[t] = _mm256_add_epi32(isum[t], isum2[t]);
}

/* ------------------------------------------------------------------------ */
/* Q8_0                                                                     */
/* ------------------------------------------------------------------------ */

enum { Q8_0_TILE = 2 }; /* tokens a step: 16 accumulator vectors */

/* Tokens t < T (T <= Q8_0_TILE) over blocks b_start .. b_end - 1, their
 * lanes in f[t]. A row's block is one vector: vpdpbusd with the token's block of
 * activations gives the 8 integer lanes; as the codes are stored plus
 * 128, each lane starts from -128 times its 4 activations' sum (one
 * vector per token and block, for all rows). The products d_w * d_a are
 * worked out for the whole span first, so that the FMAs, which take them
 * by broadcast loads, do not wait for them. */
static ALWAYS_INLINE void q8_0_tile_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group,
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
        for (int t = 0; t < T; t++)
            _mm256_store_ps(dspan[b - b_start][t], _mm256_mul_ps(dw, f16_bcast(ab + (size_t)t * act_stride)));
    }
    for (int64_t b = b_start; b < b_end; b++) {
        const int64_t b0 = b / Q8_0_RUN * Q8_0_RUN, j = b - b0, k = b0 < full ? Q8_0_RUN : tail;
        const uint8_t *run = group + b0 * Q8_0_GROUP_BLOCK;
        const uint8_t *codes = run + 16 * k + 256 * j;
        const uint8_t *ab = acts + b * Q8_0_BYTES;
        __m256i qa[Q8_0_TILE], corr[Q8_0_TILE];
        float (*d)[PACK_ROWS] = dspan[b - b_start];
        if (T == 1) /* one token (decode): streaming, no time to hide */
            _mm256_store_ps(d[0], _mm256_mul_ps(_mm256_cvtph_ps(loadu128(run + 16 * j)), f16_bcast(ab)));
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

/* The tokens two at a time. */
static void q8_0_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group, const uint8_t *acts,
                      size_t act_stride, int64_t n_tokens, __m256 f[][PACK_ROWS]) {
    int64_t t = 0;
    for (; t + Q8_0_TILE <= n_tokens; t += Q8_0_TILE)
        q8_0_tile_span(nb, b_start, b_end, group, acts + (size_t)t * act_stride, act_stride, f + t, Q8_0_TILE);
    if (t < n_tokens) q8_0_tile_span(nb, b_start, b_end, group, acts + (size_t)t * act_stride, act_stride, f + t, 1);
}

/* ------------------------------------------------------------------------ */
/* K-quants (activations Q8_K)                                              */
/* ------------------------------------------------------------------------ */

/* Q4_K: sc[c] holds the rows' scales of sub-blocks 2c and 2c + 1 as int16
 * pairs. */
static ALWAYS_INLINE void q4_K_scales(const uint8_t *p, __m256i sc[8]) {
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        const __m256i s0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 32 + 16 * c)));
        const __m256i s1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 40 + 16 * c)));
        sc[c] = _mm256_or_si256(s0, _mm256_slli_epi32(s1, 16));
    }
}

/* vpdpbusd with the 4 activations (broadcast) sums each sub-block's
 * products (at most 4 * 15 * 128, an int16); the two go into the halves of
 * each lane, and one vpdpwssd multiplies them by the rows' scales and adds
 * them up. */
static ALWAYS_INLINE __m256i q4_K_dot(__m256i isum, __m256i lo, __m256i hi, const int8_t *aq, const __m256i sc[8],
                                      int c) {
    const __m256i dlo = dpbusd_bcast(_mm256_setzero_si256(), lo, aq);
    const __m256i dhi = dpbusd_bcast(_mm256_setzero_si256(), hi, aq + 32);
    const __m256i pair = _mm256_blend_epi16(dlo, _mm256_slli_epi32(dhi, 16), 0xAA);
    return _mm256_dpwssd_epi32(isum, pair, sc[c]);
}

/* Q6_K: sc[4 h + 2 (g / 2) + l / 4] holds the rows' scales of elements 128
 * h + 32 g + 4 l .. +3 for g and g + 1 (g even) as int16 pairs. */
static ALWAYS_INLINE void q6_K_scales(const uint8_t *p, __m256i sc[16]) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) { /* i = 4 h + 2 gp + half */
        const uint8_t *s0 = p + 16 + 8 * (8 * (i / 4) + 4 * (i / 2 % 2) + i % 2);
        const __m256i x0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)s0));
        const __m256i x1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(s0 + 16)));
        sc[i] = _mm256_blend_epi16(x0, _mm256_slli_epi32(x1, 16), 0xAA);
    }
}

/* sums[h][g / 2][l]: 32 times the sums of the token's activations of lane
 * l's elements for g and g + 1 (g even), as int16 pairs (by vpdpbusd). */
static ALWAYS_INLINE void q6_K_token(const block_q8_K *a, int32_t sums[2][2][8]) {
    const __m256i b32 = _mm256_set1_epi8(32);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
#pragma GCC unroll 2
        for (int gp = 0; gp < 2; gp++) {
            const int8_t *q = a->qs + 128 * h + 64 * gp;
            const __m256i s0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), b32, loadu256(q));
            const __m256i s1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), b32, loadu256(q + 32));
            _mm256_store_si256((__m256i *)sums[h][gp], _mm256_blend_epi16(s0, _mm256_slli_epi32(s1, 16), 0xAA));
        }
    }
}

/* vpdpbusd of u and the token's 4 activations (broadcast) sums their
 * products (at most 4 * 63 * 127, an int16); as the codes stand for u -
 * 32, the token's sums (q6_K_token) are subtracted. The sums for g and g
 * + 1 (g even) go into the two int16 halves of each lane, and one vpdpwssd
 * multiplies them by the rows' scales of those elements and adds them
 * up. */
static ALWAYS_INLINE void q6_K_half(__m256i isum[K_TILE], const __m256i u[4], const block_q8_K *const a[K_TILE],
                                    int32_t sums[K_TILE][2][2][8], const __m256i sc[16], int h, int l, const int T) {
#pragma GCC unroll 2
    for (int gp = 0; gp < 2; gp++) {
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 128 * h + 64 * gp + 4 * l;
            const __m256i d0 = dpbusd_bcast(_mm256_setzero_si256(), u[2 * gp], aq);
            const __m256i d1 = dpbusd_bcast(_mm256_setzero_si256(), u[2 * gp + 1], aq + 32);
            const __m256i pair = _mm256_sub_epi16(_mm256_blend_epi16(d0, _mm256_slli_epi32(d1, 16), 0xAA),
                                                  _mm256_set1_epi32(sums[t][h][gp][l]));
            isum[t] = _mm256_dpwssd_epi32(isum[t], pair, sc[4 * h + 2 * gp + l / 4]);
        }
    }
}

packed_gemm_fn packed_gemm_avx512(bibim_type type) { return packed_gemm_x86(type); }

#else /* not x86-64 with AVX-512: no kernels of this level */

packed_gemm_fn packed_gemm_avx512(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
