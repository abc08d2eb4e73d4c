/* packed_avx2.c — packed-weight gemm kernels for x86-64 with AVX2, FMA and
 * F16C. The layouts, and pack, are packed_scalar.c's; results are its
 * gemm's (and the row kernels') bit for bit: integer parts are exact in
 * any order, and each output keeps the row kernel's float steps. The loops
 * and the float steps are packed_x86.h's, shared with packed_avx512.c;
 * here are the integer products of this level's instructions.
 *
 * Q4_0: a 32-bit lane per row. Vector v of a block's quants holds, in lane
 * r, row r's qs[4v..4v+3]: its low nibbles are elements 4v..4v+3, its
 * high nibbles 16+4v..16+4v+3. vpmaddubsw multiplies those (unsigned,
 * 0..15) by the token's 4 activations of the same elements, broadcast to
 * every lane, adding pairs into int16; the 8 such products of a block add
 * up in int16 (at most 16 * 15 * 128 = 30720 in magnitude), then vpmaddwd
 * sums each lane's two halves. The codes stand for q - 8, so 8 * (the sum
 * of the block's activations), the same for every row, is subtracted (it
 * is worked out once per token and run of 8 blocks). Tokens go in tiles of
 * up to 4 (the 16 vector registers hold 4 tokens' sums and outputs). */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#define Q4_0_TILE 4
#include "packed_x86.h"

/* ------------------------------------------------------------------------ */
/* Q4_0                                                                     */
/* ------------------------------------------------------------------------ */

static ALWAYS_INLINE __m256i q4_0_eights(__m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), x), _mm256_set1_epi16(1));
}

static ALWAYS_INLINE void q4_0_block_dots(const uint8_t *quants, const uint8_t *aj, size_t act_stride,
                                          int32_t corr[][Q4_0_RUN], int j, __m256i isum[], const int T) {
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256i sum16[Q4_0_TILE];
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
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) isum[t] = _mm256_add_epi32(_mm256_madd_epi16(sum16[t], ones), _mm256_set1_epi32(corr[t][j]));
}

/* ------------------------------------------------------------------------ */
/* Q8_0                                                                     */
/* ------------------------------------------------------------------------ */

/* One token over blocks b_start .. b_end - 1, its lanes in f. A row's
 * block is one vector; its codes, stored plus 128, are turned back into
 * signed bytes, and vpmaddubsw multiplies |w| by the activations with w's
 * sign (at most 2 * 128 * 127 a pair: no saturation), vpmaddwd adds the
 * pairs into the 8 int32 lanes. */
static void q8_0_token_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group, const uint8_t *act,
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
        _mm256_store_ps(d, _mm256_mul_ps(_mm256_cvtph_ps(loadu128(run + 16 * j)), f16_bcast(ab)));
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

/* The tokens one by one. */
static void q8_0_span(int64_t nb, int64_t b_start, int64_t b_end, const uint8_t *group, const uint8_t *acts,
                      size_t act_stride, int64_t n_tokens, __m256 f[][PACK_ROWS]) {
    for (int64_t t = 0; t < n_tokens; t++)
        q8_0_token_span(nb, b_start, b_end, group, acts + (size_t)t * act_stride, f[t]);
}

/* ------------------------------------------------------------------------ */
/* K-quants (activations Q8_K)                                              */
/* ------------------------------------------------------------------------ */

/* Q4_K: sc[s] is the rows' scale of sub-block s as int16 pairs (x, x) in
 * 32-bit lanes, vpmaddwd's multiplier. */
static ALWAYS_INLINE void q4_K_scales(const uint8_t *p, __m256i sc[8]) {
#pragma GCC unroll 8
    for (int s = 0; s < 8; s++) {
        const __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 32 + 8 * s)));
        sc[s] = _mm256_or_si256(x, _mm256_slli_epi32(x, 16));
    }
}

/* vpmaddubsw with the 4 activations (broadcast) makes int16 pairs,
 * vpmaddwd multiplies them by the rows' sub-block scale and adds each
 * lane's two. */
static ALWAYS_INLINE __m256i q4_K_dot(__m256i isum, __m256i lo, __m256i hi, const int8_t *aq, const __m256i sc[8],
                                      int c) {
    const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(load_i32(aq)));
    const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load_i32(aq + 32)));
    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, sc[2 * c]));
    return _mm256_add_epi32(isum, _mm256_madd_epi16(phi, sc[2 * c + 1]));
}

/* Q6_K: sc[s] is the rows' int8 scale of sub-block s as int16 pairs (x,
 * x). */
static ALWAYS_INLINE void q6_K_scales(const uint8_t *p, __m256i sc[16]) {
#pragma GCC unroll 16
    for (int s = 0; s < 16; s++) {
        const __m256i x = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 16 + 8 * s)));
        sc[s] = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(x, 16));
    }
}

static ALWAYS_INLINE void q6_K_token(const block_q8_K *a, int32_t sums[2][2][8]) {
    (void)a;
    (void)sums;
}

/* vpmaddubsw of u and the token's 4 activations (broadcast), minus that of
 * 32 and the activations (q = u - 32; both exact in int16), then vpmaddwd
 * by the rows' scale of those elements. */
static ALWAYS_INLINE void q6_K_half(__m256i isum[K_TILE], const __m256i u[4], const block_q8_K *const a[K_TILE],
                                    int32_t sums[K_TILE][2][2][8], const __m256i sc[16], int h, int l, const int T) {
    const __m256i bias = _mm256_set1_epi8(32);
    (void)sums;
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

packed_gemm_fn packed_gemm_avx2(bibim_type type) { return packed_gemm_x86(type); }

#else /* not x86-64 with AVX2: no kernels of this level */

packed_gemm_fn packed_gemm_avx2(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
