/* dot_avx2.c — the AVX2 (+FMA, F16C) twins of the scalar kernels in dot.c.
 *
 * dot.c fixes, for every type, llama.cpp's float steps: which partial sums
 * exist, where an FMA rounds once, and the order of the horizontal adds.
 * These kernels take the same steps with vectors, so their results are the
 * scalar twin's bit for bit (integer parts are exact in any order):
 *   - F32, F16, BF16: 16 float lanes (two vectors of 8; element i in lane
 *     i % 16) by FMA — BF16 adding each lane's odd product, then its even
 *     one, each rounded — reduce_16, then the tail one by one.
 *   - Q8_0, Q5_0, Q4_1, Q5_1: per block 8 int32 lanes of 4 consecutive
 *     elements (maddubs + madd), into 8 float lanes by an FMA with d_w*d_a;
 *     hsum_8. Q4_1/Q5_1's min terms in one float, block after block.
 *   - Q4_0: one float, an FMA per block of its integer dot.
 *   - K-quants: 8 int32 lanes per super-block, the scales applied by madd,
 *     then the type's own float steps for the scaled lanes and the mins.
 * Q8_0, Q4_0, Q5_0, Q4_1 and Q5_1's loops and float steps are dot_x86.h's,
 * shared with dot_avx512.c; their integer products of a block are here.
 * Activation quantizers give the same bytes (127 / amax, halves to even,
 * NaN codes 0, +-inf codes +-127).
 *
 * Weight rows are read with unaligned loads (rows of a mapped tensor are
 * only 2-byte aligned) and never beyond their last block; activations too.
 * Only dot_kernel_at (cpu.c) calls dot_kernel_avx2, after checking that
 * the CPU has AVX2, FMA and F16C. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "dot_x86.h"

/* ------------------------------------------------------------------------ */
/* Helpers (besides dot_x86.h's)                                            */
/* ------------------------------------------------------------------------ */

/* The lane sums of two vectors at once: *x = sum of a, *y = sum of b. */
static inline void hsum2_i32(__m256i a, __m256i b, int32_t *x, int32_t *y) {
    const __m256i h = _mm256_hadd_epi32(a, b); /* per half: a0+a1 a2+a3 b0+b1 b2+b3 */
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    *x = _mm_cvtsi128_si32(s);
    *y = _mm_extract_epi32(s, 2);
}

/* The largest lane (no lane is NaN). */
static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* dot.c's reduce_16 over lanes 0..7 in lo and 8..15 in hi: lane l + width
 * added to lane l for width 8, 4, 2, 1 — hsum_8 of lo + hi. */
static inline float reduce_16(__m256 lo, __m256 hi) { return hsum_8(_mm256_add_ps(lo, hi)); }

/* One rounding of a * b + c. */
static inline float fma1(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

/* round_to_q8 on 8 lanes: round halves to even, NaN to 0, clamp to
 * +-127 (infinities too), as int32. */
static inline __m256i round_to_q8_x8(__m256 v) {
    __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return _mm256_cvtps_epi32(r);
}

/* Four vectors of 8 int32 in -127..127 to 32 int8, in order. */
static inline __m256i pack_i32_to_i8(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* The largest |x| of 32 floats; NaNs are ignored as abs_max in dot.c does
 * (max_ps returns its second operand when either is NaN, and the running
 * maximum, never NaN, is always the second). */
static inline __m256 abs_max_32(const float *x, __m256 m) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x)), m);
    m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8)), m);
    m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 16)), m);
    m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 24)), m);
    return m;
}

/* round_to_q8(x[j] * scale) for 32 floats, stored as 32 int8; returns the
 * codes as int32 (8 lanes each, in element order) through c[4]. */
static inline void codes_32(const float *x, __m256 scale, int8_t *q, __m256i c[4]) {
    for (int k = 0; k < 4; k++) c[k] = round_to_q8_x8(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), scale));
    _mm256_storeu_si256((__m256i *)q, pack_i32_to_i8(c[0], c[1], c[2], c[3]));
}

/* ------------------------------------------------------------------------ */
/* F32, F16, BF16                                                           */
/* ------------------------------------------------------------------------ */

static void quantize_act_f32(const float *restrict x, void *restrict y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void dot_f32_f32(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const float *restrict w = w_row;
    const float *restrict a = act;
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(a + i + 8), hi);
    }
    float sum = reduce_16(lo, hi);
    for (; i < n; i++) sum = fma1(w[i], a[i], sum);
    *out = sum;
}

static void quantize_act_f16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) h[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

static void dot_f16_f16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) { /* products of halves are exact: the FMA is the add */
        lo = _mm256_fmadd_ps(_mm256_cvtph_ps(loadu128(w + i)), _mm256_cvtph_ps(loadu128(a + i)), lo);
        hi = _mm256_fmadd_ps(_mm256_cvtph_ps(loadu128(w + i + 8)), _mm256_cvtph_ps(loadu128(a + i + 8)), hi);
    }
    float sum = reduce_16(lo, hi);
    for (; i < n; i++) sum += half(w[i]) * half(a[i]);
    *out = sum;
}

/* fp32_to_bf16 of 8 floats as 8 int32 (0..0xFFFF): NaN keeps its top bits
 * with the quiet bit set; the others round to nearest even. */
static inline __m256i bf16_x8(__m256i u) {
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(rounded, quiet, nan);
}

static void quantize_act_bf16(const float *restrict x, void *restrict y, int64_t n) {
    uint16_t *restrict h = y;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i lo = bf16_x8(_mm256_loadu_si256((const __m256i *)(x + i)));
        const __m256i hi = bf16_x8(_mm256_loadu_si256((const __m256i *)(x + i + 8)));
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
        _mm256_storeu_si256((__m256i *)(h + i), p);
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        h[i] = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40u)
                                               : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

static inline float bf16_scalar(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Lane l of 8 adds the products of elements 2l + 1 (first) and 2l of 16
 * bfloats: a 32-bit word holds element 2l in its low and 2l + 1 in its
 * high half, so the odd one is the word with its low half cleared and the
 * even one the word shifted up. Multiply and add apart: a product of tiny
 * bfloats can round (underflow), which an FMA would not. */
static inline __m256 bf16_pairs(__m256 acc, const uint16_t *w, const uint16_t *a) {
    const __m256i ww = loadu256(w), aa = loadu256(a), high = _mm256_set1_epi32((int)0xFFFF0000u);
    const __m256 odd = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_and_si256(ww, high)),
                                     _mm256_castsi256_ps(_mm256_and_si256(aa, high)));
    const __m256 even = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(ww, 16)),
                                      _mm256_castsi256_ps(_mm256_slli_epi32(aa, 16)));
    return _mm256_add_ps(_mm256_add_ps(acc, odd), even);
}

static void dot_bf16_bf16(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const uint16_t *restrict w = w_row;
    const uint16_t *restrict a = act;
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        lo = bf16_pairs(lo, w + i, a + i);
        hi = bf16_pairs(hi, w + i + 16, a + i + 16);
    }
    float sum = reduce_16(lo, hi);
    for (; i < n; i++) sum += bf16_scalar(w[i]) * bf16_scalar(a[i]);
    *out = sum;
}

/* ------------------------------------------------------------------------ */
/* Activations: Q8_0, Q8_1, Q8_K                                            */
/* ------------------------------------------------------------------------ */

static void quantize_act_q8_0(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_0 *restrict y = vy;
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        const float amax = hmax_ps(abs_max_32(x, _mm256_setzero_ps()));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = _cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT);
        __m256i c[4];
        codes_32(x, _mm256_set1_ps(id), y[b].qs, c);
    }
}

static void quantize_act_q8_1(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_1 *restrict y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        const float amax = hmax_ps(abs_max_32(x, _mm256_setzero_ps()));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m256i c[4];
        codes_32(x, _mm256_set1_ps(id), y[b].qs, c);
        const int32_t sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3])));
        y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        y[b].s = _cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT);
    }
}

static void quantize_act_q8_K(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_K *restrict y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 32) m = abs_max_32(x + j, m);
        const float amax = hmax_ps(m);
        if (amax == 0.0f) { /* all zeros (or NaNs): dot.c's zero block */
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        /* The first element of that magnitude, with its sign. */
        const __m256 vmax = _mm256_set1_ps(amax);
        int first = 0;
        for (int j = 0; j < QK_K; j += 8) {
            const __m256 ax = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j));
            const int mask = _mm256_movemask_ps(_mm256_cmp_ps(ax, vmax, _CMP_EQ_OQ));
            if (mask) {
                first = j + __builtin_ctz((unsigned)mask);
                break;
            }
        }
        const float iscale = -127.0f / x[first];
        const __m256 vscale = _mm256_set1_ps(iscale);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i c[4];
            codes_32(x + j, vscale, y[b].qs + j, c);
            int32_t s0, s1;
            hsum2_i32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3]), &s0, &s1);
            y[b].bsums[j / 16] = (int16_t)s0;
            y[b].bsums[j / 16 + 1] = (int16_t)s1;
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0, Q5_0 x Q8_0;  Q4_1, Q5_1 x Q8_1                              */
/* ------------------------------------------------------------------------ */

/* The integer lanes of one block (dot_x86.h): maddubs multiplies unsigned
 * by signed bytes and adds pairs into int16 without saturating here (at
 * most 2 * 128 * 127); madd adds pairs of those. */

static inline __m256i madd_pairs(__m256i p16) { return _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); }

/* Bit j of the 32-bit qh as byte j: 0x10 where set, 0 elsewhere. */
static inline __m256i fifth_bits32(const uint8_t *qh) {
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)load_u32(qh)),
                                               _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                                                  0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

static ALWAYS_INLINE __m256i block_q8_0_q8_0(const block_q8_0 *w, const block_q8_0 *a) {
    const __m256i qw = loadu256(w->qs), qa = loadu256(a->qs);
    /* |w| times a with w's sign; |-128| is 128 as an unsigned byte. */
    return madd_pairs(_mm256_maddubs_epi16(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qa, qw)));
}

static ALWAYS_INLINE __m256i block_q4_0_q8_0(const block_q4_0 *w, const block_q8_0 *a) {
    const __m256i qa = loadu256(a->qs);
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(nibbles32(w->qs), qa),
                                       _mm256_maddubs_epi16(_mm256_set1_epi8(8), qa));
    return madd_pairs(p);
}

static ALWAYS_INLINE __m256i block_q5_0_q8_0(const block_q5_0 *w, const block_q8_0 *a) {
    const __m256i qa = loadu256(a->qs);
    const __m256i q = _mm256_or_si256(nibbles32(w->qs), fifth_bits32(w->qh));
    const __m256i p =
        _mm256_sub_epi16(_mm256_maddubs_epi16(q, qa), _mm256_maddubs_epi16(_mm256_set1_epi8(16), qa));
    return madd_pairs(p);
}

static ALWAYS_INLINE __m256i block_q4_1_q8_1(const block_q4_1 *w, const block_q8_1 *a) {
    return madd_pairs(_mm256_maddubs_epi16(nibbles32(w->qs), loadu256(a->qs)));
}

static ALWAYS_INLINE __m256i block_q5_1_q8_1(const block_q5_1 *w, const block_q8_1 *a) {
    const __m256i q = _mm256_or_si256(nibbles32(w->qs), fifth_bits32(w->qh));
    return madd_pairs(_mm256_maddubs_epi16(q, loadu256(a->qs)));
}

/* ------------------------------------------------------------------------ */
/* Q2_K .. Q6_K x Q8_K                                                      */
/* ------------------------------------------------------------------------ */

/* For sub-blocks of 16 (Q2_K, Q3_K, Q6_K) the integer scales are held as
 * 16 int16 and spread over a vector so that its low half multiplies
 * sub-block s and its high half sub-block s + 1: pair_scales(lo8, g) for
 * s = 2g within the 8 scales broadcast in lo8. */
static inline __m256i pair_scales(__m256i scales8, int g) {
    static const int8_t shuf[4][32] = {
        {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
        {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
        {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
        {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
         14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
    };
    return _mm256_shuffle_epi8(scales8, loadu256(shuf[g]));
}

/* Scale s of 8 (Q4_K, Q5_K) in every int16 lane. */
static inline __m256i one_scale(__m256i scales8, int s) {
    return _mm256_shuffle_epi8(scales8, _mm256_set1_epi16((short)(2 * s | (2 * s + 1) << 8)));
}

/* Integer lanes of a 32-element run: codes (unsigned) times activations,
 * lane l (of 8) the 4 elements 4l..4l+3, weighted by the int16 scales in
 * sc. With a bias, the codes stand for q - bias: (q . a) - (bias . a) in
 * int16, exact (at most 2 * 32 * 127). */
static inline __m256i scaled_dot32(__m256i q, const int8_t *a, __m256i sc) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, loadu256(a)), sc);
}

static inline __m256i scaled_dot32_biased(__m256i q, __m256i bias, const int8_t *a, __m256i sc) {
    const __m256i qa = loadu256(a);
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(q, qa), _mm256_maddubs_epi16(bias, qa)), sc);
}

/* Q2_K: per super-block the min lanes (lane l: m[2l]*bsums[2l] +
 * m[2l+1]*bsums[2l+1]) go first into the 8 float lanes, by an FMA with
 * -(d_a * dmin_w), then the scaled lanes with d_a * d_w. */
static void dot_q2_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q2_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(0x0F);
    __m256 facc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i s8 = loadu128(w[b].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(s8, _mm256_castsi256_si128(m4)));
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm256_castsi256_si128(m4)));
        const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i x = loadu256(w[b].qs + 32 * h);
            const __m256i sc = h ? sc_hi : sc_lo;
            const int8_t *qa = a[b].qs + 128 * h;
            acc = _mm256_add_epi32(acc, scaled_dot32(_mm256_and_si256(x, m3), qa, pair_scales(sc, 0)));
            acc = _mm256_add_epi32(acc, scaled_dot32(_mm256_and_si256(_mm256_srli_epi16(x, 2), m3), qa + 32,
                                                     pair_scales(sc, 1)));
            acc = _mm256_add_epi32(acc, scaled_dot32(_mm256_and_si256(_mm256_srli_epi16(x, 4), m3), qa + 64,
                                                     pair_scales(sc, 2)));
            acc = _mm256_add_epi32(acc, scaled_dot32(_mm256_and_si256(_mm256_srli_epi16(x, 6), m3), qa + 96,
                                                     pair_scales(sc, 3)));
        }
        const __m256i mins = _mm256_madd_epi16(loadu256(a[b].bsums), mn16);
        const float d = a[b].d * half(w[b].d);
        const float dmin = -a[b].d * half(w[b].dmin);
        facc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(mins), facc);
        facc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(acc), facc);
    }
    *out = hsum_8(facc);
}

/* Q3_K's 16 scales, 6 bits each, still biased by 32 (quant.h's q3k_scale):
 * scale 4k + i has its low 4 bits in byte i (+4 for k odd) — the low
 * nibble for k < 2, the high one after — and its top 2 bits at bits 2k of
 * byte 8 + i. */
static inline __m128i q3_K_scales(const uint8_t s[K_SCALE_SIZE]) {
    const uint32_t w0 = load_u32(s), w1 = load_u32(s + 4), w2 = load_u32(s + 8);
    const uint32_t lo = 0x0f0f0f0fu, hi = 0x03030303u;
    return _mm_setr_epi32((int)((w0 & lo) | (w2 & hi) << 4), (int)((w1 & lo) | ((w2 >> 2) & hi) << 4),
                          (int)(((w0 >> 4) & lo) | ((w2 >> 4) & hi) << 4),
                          (int)(((w1 >> 4) & lo) | ((w2 >> 6) & hi) << 4));
}

/* Q3_K: q = u - 4 with u = low 2 bits + 4 * high bit, 0..7. */
static void dot_q3_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q3_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    __m256 facc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_sub_epi8(q3_K_scales(w[b].scales), _mm_set1_epi8(32)));
        const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        const __m256i hm = loadu256(w[b].hmask);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i x = loadu256(w[b].qs + 32 * h);
            const __m256i sc = h ? sc_hi : sc_lo;
            const int8_t *qa = a[b].qs + 128 * h;
            /* The high bit of element 128h + 32g + l is bit 4h + g of hmask[l], moved to bit 2. */
            const __m256i hb = h ? _mm256_srli_epi16(hm, 2) : _mm256_slli_epi16(hm, 2);
            const __m256i u0 = _mm256_or_si256(_mm256_and_si256(x, m3), _mm256_and_si256(hb, m4));
            const __m256i u1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 2), m3),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, 1), m4));
            const __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), m3),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, 2), m4));
            const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 6), m3),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, 3), m4));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u0, m4, qa, pair_scales(sc, 0)));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u1, m4, qa + 32, pair_scales(sc, 1)));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u2, m4, qa + 64, pair_scales(sc, 2)));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u3, m4, qa + 96, pair_scales(sc, 3)));
        }
        facc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * half(w[b].d)), _mm256_cvtepi32_ps(acc), facc);
    }
    *out = hsum_8(facc);
}

/* Q4_K/Q5_K's 8 scales and 8 mins (quant.h's k4_scale_min) as bytes 0..7
 * of *sc8 and *mn8. */
static inline void k4_scales_mins(const uint8_t s[K_SCALE_SIZE], __m128i *sc8, __m128i *mn8) {
    const uint32_t w0 = load_u32(s), w1 = load_u32(s + 4), w2 = load_u32(s + 8);
    const uint32_t six = 0x3f3f3f3fu, lo = 0x0f0f0f0fu, top = 0x03030303u;
    const uint32_t sc0 = w0 & six, sc1 = (w2 & lo) | ((w0 >> 6) & top) << 4;
    const uint32_t mn0 = w1 & six, mn1 = ((w2 >> 4) & lo) | ((w1 >> 6) & top) << 4;
    *sc8 = _mm_setr_epi32((int)sc0, (int)sc1, 0, 0);
    *mn8 = _mm_setr_epi32((int)mn0, (int)mn1, 0, 0);
}

/* Lane s (of 8): m_s * (bsums[2s] + bsums[2s + 1]), dot.c's mins[s]. */
static inline __m256i k4_mins(__m128i mn8, const int16_t *bsums) {
    return _mm256_madd_epi16(loadu256(bsums), _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8)));
}

/* Q4_K: the mins in 4 float lanes apart (lane k: mins[2k] + mins[2k+1],
 * by an FMA with -(d_a * dmin_w)), added as (0 + 2) + (1 + 3) after
 * hsum_8 of the scaled lanes. */
static void dot_q4_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 facc = _mm256_setzero_ps();
    __m128 macc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        __m128i sc8, mn8;
        k4_scales_mins(w[b].scales, &sc8, &mn8);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i x = loadu256(w[b].qs + 32 * c);
            const int8_t *qa = a[b].qs + 64 * c;
            acc = _mm256_add_epi32(acc, scaled_dot32(_mm256_and_si256(x, m4), qa, one_scale(sc, 2 * c)));
            acc = _mm256_add_epi32(
                acc, scaled_dot32(_mm256_and_si256(_mm256_srli_epi16(x, 4), m4), qa + 32, one_scale(sc, 2 * c + 1)));
        }
        const __m256i mins = _mm256_hadd_epi32(k4_mins(mn8, a[b].bsums), _mm256_setzero_si256());
        const __m128i mins4 = _mm_unpacklo_epi64(_mm256_castsi256_si128(mins), _mm256_extracti128_si256(mins, 1));
        const float d = a[b].d * half(w[b].d);
        const float dmin = -a[b].d * half(w[b].dmin);
        macc = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins4), macc);
        facc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(acc), facc);
    }
    macc = _mm_add_ps(macc, _mm_movehl_ps(macc, macc));
    macc = _mm_add_ss(macc, _mm_movehdup_ps(macc));
    *out = hsum_8(facc) + _mm_cvtss_f32(macc);
}

/* Q5_K: the mins summed to one integer per super-block, into one float by
 * an FMA with -(d_a * dmin_w), added after hsum_8. */
static void dot_q5_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q5_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const __m256i m4 = _mm256_set1_epi8(0x0F), b4 = _mm256_set1_epi8(0x10);
    __m256 facc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        __m128i sc8, mn8;
        k4_scales_mins(w[b].scales, &sc8, &mn8);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
        /* The fifth bit of sub-block s is bit s of qh[l]: moved to bit 4. */
        const __m256i qh = loadu256(w[b].qh);
        const __m256i hb[8] = {
            _mm256_slli_epi16(qh, 4), _mm256_slli_epi16(qh, 3), _mm256_slli_epi16(qh, 2), _mm256_slli_epi16(qh, 1),
            qh,                       _mm256_srli_epi16(qh, 1), _mm256_srli_epi16(qh, 2), _mm256_srli_epi16(qh, 3),
        };
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i x = loadu256(w[b].qs + 32 * c);
            const int8_t *qa = a[b].qs + 64 * c;
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(x, m4), _mm256_and_si256(hb[2 * c], b4));
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), m4),
                                               _mm256_and_si256(hb[2 * c + 1], b4));
            acc = _mm256_add_epi32(acc, scaled_dot32(lo, qa, one_scale(sc, 2 * c)));
            acc = _mm256_add_epi32(acc, scaled_dot32(hi, qa + 32, one_scale(sc, 2 * c + 1)));
        }
        const int32_t total = hsum_i32(k4_mins(mn8, a[b].bsums));
        const float d = a[b].d * half(w[b].d);
        const float dmin = -a[b].d * half(w[b].dmin);
        summs = fma1(dmin, (float)total, summs);
        facc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(acc), facc);
    }
    *out = hsum_8(facc) + summs;
}

/* Q6_K: q = u - 32 with u = 4 low bits + 16 * 2 high bits, 0..63; signed
 * 8-bit scales. */
static void dot_q6_K_q8_K(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q6_K *restrict w = w_row;
    const block_q8_K *restrict a = act;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30), bias = _mm256_set1_epi8(32);
    __m256 facc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(w[b].scales));
        const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = loadu256(w[b].ql + 64 * h), l1 = loadu256(w[b].ql + 64 * h + 32);
            const __m256i qh = loadu256(w[b].qh + 32 * h);
            const __m256i sc = h ? sc_hi : sc_lo;
            const int8_t *qa = a[b].qs + 128 * h;
            const __m256i u0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
            const __m256i u1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
            const __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m2));
            const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u0, bias, qa, pair_scales(sc, 0)));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u1, bias, qa + 32, pair_scales(sc, 1)));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u2, bias, qa + 64, pair_scales(sc, 2)));
            acc = _mm256_add_epi32(acc, scaled_dot32_biased(u3, bias, qa + 96, pair_scales(sc, 3)));
        }
        facc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * half(w[b].d)), _mm256_cvtepi32_ps(acc), facc);
    }
    *out = hsum_8(facc);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static const dot_kernel kernel_f32 = {BIBIM_TYPE_F32, quantize_act_f32, dot_f32_f32};
static const dot_kernel kernel_f16 = {BIBIM_TYPE_F16, quantize_act_f16, dot_f16_f16};
static const dot_kernel kernel_bf16 = {BIBIM_TYPE_BF16, quantize_act_bf16, dot_bf16_bf16};
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

const dot_kernel *dot_kernel_avx2(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F32: return &kernel_f32;
    case BIBIM_TYPE_F16: return &kernel_f16;
    case BIBIM_TYPE_BF16: return &kernel_bf16;
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

#else /* not x86-64 with AVX2: no kernels of this level */

const dot_kernel *dot_kernel_avx2(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
