/* dot_x86.h — what the x86 row kernels of both levels share, included by
 * dot_avx2.c and dot_avx512.c, each compiled with its own flags (Makefile:
 * FLAGS_dot_avx2, FLAGS_dot_avx512).
 *
 * The same at both levels, and here: the loads, the horizontal sums, the
 * unpacking of Q4 nibbles, and the kernels of Q8_0, Q4_0, Q5_0 x Q8_0 and
 * Q4_1, Q5_1 x Q8_1 — their loops and every float step (dot.c's, which the
 * results must equal bit for bit). What each level does with its own
 * instructions, the integer products of one block (AVX2: vpmaddubsw then
 * vpmaddwd; AVX-512: VNNI's vpdpbusd), each file defines itself: the
 * functions declared under "Each level's" below (always inline, so that the
 * shared kernels compile as if written out per level).
 */
#ifndef BIBIM_DOT_X86_H
#define BIBIM_DOT_X86_H

#include "kernels.h"
#include "quant.h"

#include <immintrin.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline uint32_t load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float half(uint16_t h) { return _cvtsh_ss(h); }

/* The sum of 8 int32 lanes (exact: callers bound it). */
static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* Lane sums of four vectors: lane k = sum of the lanes of vk. */
static inline __m128i hsum4_i32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* dot.c's hsum_8: lanes l + 4 added to lanes l, then (0 + 2) + (1 + 3). */
static inline float hsum_8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Products of halves, lane by lane: (float)p[k] * (float)q[k] for the 4
 * pairs given as 8 halves (p0..p3, q0..q3): exact conversions and one
 * float multiply, dot.c's f16_product. The halves are packed in general
 * registers, which have cycles to spare while the vector units do not. */
static inline __m128 half_products4(uint16_t p0, uint16_t p1, uint16_t p2, uint16_t p3, uint16_t q0, uint16_t q1,
                                    uint16_t q2, uint16_t q3) {
    const uint64_t p = (uint64_t)p0 | (uint64_t)p1 << 16 | (uint64_t)p2 << 32 | (uint64_t)p3 << 48;
    const uint64_t q = (uint64_t)q0 | (uint64_t)q1 << 16 | (uint64_t)q2 << 32 | (uint64_t)q3 << 48;
    const __m256 f = _mm256_cvtph_ps(_mm_set_epi64x((long long)q, (long long)p));
    return _mm_mul_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
}

/* The 32 nibbles of a Q4 block in element order (low nibbles = elements
 * 0..15, high nibbles = 16..31), as bytes 0..15. */
static inline __m256i nibbles32(const uint8_t *qs) {
    const __m256i x = _mm256_broadcastsi128_si256(loadu128(qs));
    return _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

/* ------------------------------------------------------------------------ */
/* Each level's (dot_avx2.c, dot_avx512.c)                                  */
/* ------------------------------------------------------------------------ */

/* Integer dots of one block as 8 int32 lanes, lane l the products of
 * elements 4l..4l+3 (dot.c's lane_dots_32), exact. */
static ALWAYS_INLINE __m256i block_q8_0_q8_0(const block_q8_0 *w, const block_q8_0 *a);
static ALWAYS_INLINE __m256i block_q4_0_q8_0(const block_q4_0 *w, const block_q8_0 *a);
static ALWAYS_INLINE __m256i block_q5_0_q8_0(const block_q5_0 *w, const block_q8_0 *a);
static ALWAYS_INLINE __m256i block_q4_1_q8_1(const block_q4_1 *w, const block_q8_1 *a);
static ALWAYS_INLINE __m256i block_q5_1_q8_1(const block_q5_1 *w, const block_q8_1 *a);

/* ------------------------------------------------------------------------ */
/* Q8_0, Q4_0, Q5_0 x Q8_0;  Q4_1, Q5_1 x Q8_1                              */
/* ------------------------------------------------------------------------ */

/* Q8_0, Q5_0 (and Q4_1, Q5_1 with their mins): 8 float lanes, each block's
 * 8 int32 lanes added by an FMA with d_w * d_a (a product of halves,
 * exact); hsum_8. The scales of 4 blocks are converted together; block k's
 * is then spread over a vector. */
#define DEFINE_DOT_LANES(name, wtype, block_fn)                                                              \
    static void name(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) { \
        const wtype *restrict w = w_row;                                                                   \
        const block_q8_0 *restrict a = act;                                                                \
        const int64_t nb = n / 32;                                                                         \
        __m256 acc = _mm256_setzero_ps();                                                                  \
        int64_t b = 0;                                                                                     \
        for (; b + 4 <= nb; b += 4) {                                                                      \
            float d4[4];                                                                                   \
            _mm_storeu_ps(d4, half_products4(w[b].d, w[b + 1].d, w[b + 2].d, w[b + 3].d, a[b].d, a[b + 1].d, \
                                             a[b + 2].d, a[b + 3].d));                                     \
            for (int k = 0; k < 4; k++) {                                                                  \
                const __m256 lanes = _mm256_cvtepi32_ps(block_fn(&w[b + k], &a[b + k]));                   \
                acc = _mm256_fmadd_ps(_mm256_broadcast_ss(d4 + k), lanes, acc);                            \
            }                                                                                              \
        }                                                                                                  \
        for (; b < nb; b++) {                                                                              \
            const __m256 lanes = _mm256_cvtepi32_ps(block_fn(&w[b], &a[b]));                               \
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w[b].d) * half(a[b].d)), lanes, acc);                \
        }                                                                                                  \
        *out = hsum_8(acc);                                                                                \
    }

DEFINE_DOT_LANES(dot_q8_0_q8_0, block_q8_0, block_q8_0_q8_0)
DEFINE_DOT_LANES(dot_q5_0_q8_0, block_q5_0, block_q5_0_q8_0)

/* Q4_1, Q5_1: the lanes as above, and the min terms m_w * s_a (exact
 * products) added to one float in block order, after hsum_8. */
#define DEFINE_DOT_LANES_MIN(name, wtype, block_fn)                                                          \
    static void name(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) { \
        const wtype *restrict w = w_row;                                                                   \
        const block_q8_1 *restrict a = act;                                                                \
        const int64_t nb = n / 32;                                                                         \
        __m256 acc = _mm256_setzero_ps();                                                                  \
        __m128 mins = _mm_setzero_ps();                                                                    \
        int64_t b = 0;                                                                                     \
        for (; b + 4 <= nb; b += 4) {                                                                      \
            float d4[4], m4[4];                                                                            \
            _mm_storeu_ps(d4, half_products4(w[b].d, w[b + 1].d, w[b + 2].d, w[b + 3].d, a[b].d, a[b + 1].d, \
                                             a[b + 2].d, a[b + 3].d));                                     \
            _mm_storeu_ps(m4, half_products4(w[b].m, w[b + 1].m, w[b + 2].m, w[b + 3].m, a[b].s, a[b + 1].s, \
                                             a[b + 2].s, a[b + 3].s));                                     \
            for (int k = 0; k < 4; k++) {                                                                  \
                const __m256 lanes = _mm256_cvtepi32_ps(block_fn(&w[b + k], &a[b + k]));                   \
                acc = _mm256_fmadd_ps(_mm256_broadcast_ss(d4 + k), lanes, acc);                            \
                mins = _mm_add_ss(mins, _mm_set_ss(m4[k]));                                                \
            }                                                                                              \
        }                                                                                                  \
        for (; b < nb; b++) {                                                                              \
            const __m256 lanes = _mm256_cvtepi32_ps(block_fn(&w[b], &a[b]));                               \
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w[b].d) * half(a[b].d)), lanes, acc);                \
            mins = _mm_add_ss(mins, _mm_set_ss(half(w[b].m) * half(a[b].s)));                              \
        }                                                                                                  \
        *out = hsum_8(acc) + _mm_cvtss_f32(mins);                                                          \
    }

DEFINE_DOT_LANES_MIN(dot_q4_1_q8_1, block_q4_1, block_q4_1_q8_1)
DEFINE_DOT_LANES_MIN(dot_q5_1_q8_1, block_q5_1, block_q5_1_q8_1)

/* Q4_0 (llama.cpp's repacked GEMM, as dot.c): one float, each block's
 * integer dot times d_w * d_a added by an FMA, block after block. Blocks
 * go 8 a step, the lane sums of 4 of them taken together (hsum4_i32); the
 * FMAs stay in order. */
static void dot_q4_0_q8_0(int64_t n, const void *restrict w_row, const void *restrict act, float *restrict out) {
    const block_q4_0 *restrict w = w_row;
    const block_q8_0 *restrict a = act;
    const int64_t nb = n / 32;
    __m128 sum = _mm_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        const __m128 d_lo = half_products4(w[b].d, w[b + 1].d, w[b + 2].d, w[b + 3].d, a[b].d, a[b + 1].d,
                                           a[b + 2].d, a[b + 3].d);
        const __m128 d_hi = half_products4(w[b + 4].d, w[b + 5].d, w[b + 6].d, w[b + 7].d, a[b + 4].d, a[b + 5].d,
                                           a[b + 6].d, a[b + 7].d);
        const __m128 t_lo =
            _mm_cvtepi32_ps(hsum4_i32(block_q4_0_q8_0(&w[b], &a[b]), block_q4_0_q8_0(&w[b + 1], &a[b + 1]),
                                      block_q4_0_q8_0(&w[b + 2], &a[b + 2]), block_q4_0_q8_0(&w[b + 3], &a[b + 3])));
        const __m128 t_hi =
            _mm_cvtepi32_ps(hsum4_i32(block_q4_0_q8_0(&w[b + 4], &a[b + 4]), block_q4_0_q8_0(&w[b + 5], &a[b + 5]),
                                      block_q4_0_q8_0(&w[b + 6], &a[b + 6]), block_q4_0_q8_0(&w[b + 7], &a[b + 7])));
        sum = _mm_fmadd_ss(t_lo, d_lo, sum);
        sum = _mm_fmadd_ss(_mm_movehdup_ps(t_lo), _mm_movehdup_ps(d_lo), sum);
        sum = _mm_fmadd_ss(_mm_movehl_ps(t_lo, t_lo), _mm_movehl_ps(d_lo, d_lo), sum);
        sum = _mm_fmadd_ss(_mm_shuffle_ps(t_lo, t_lo, 3), _mm_shuffle_ps(d_lo, d_lo, 3), sum);
        sum = _mm_fmadd_ss(t_hi, d_hi, sum);
        sum = _mm_fmadd_ss(_mm_movehdup_ps(t_hi), _mm_movehdup_ps(d_hi), sum);
        sum = _mm_fmadd_ss(_mm_movehl_ps(t_hi, t_hi), _mm_movehl_ps(d_hi, d_hi), sum);
        sum = _mm_fmadd_ss(_mm_shuffle_ps(t_hi, t_hi, 3), _mm_shuffle_ps(d_hi, d_hi, 3), sum);
    }
    for (; b < nb; b++) {
        const float dot = (float)hsum_i32(block_q4_0_q8_0(&w[b], &a[b]));
        sum = _mm_fmadd_ss(_mm_set_ss(dot), _mm_set_ss(half(w[b].d) * half(a[b].d)), sum);
    }
    *out = _mm_cvtss_f32(sum);
}

#endif
