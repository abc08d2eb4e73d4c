/* dot_avx512.c — kernels for CPUs with AVX-512 F/BW/VL/DQ and VNNI, where
 * they gain over the AVX2 ones (dot_avx2.c); every other type falls back
 * to those (dot_kernel_at).
 *
 * The gain is VNNI: vpdpbusd multiplies unsigned by signed bytes and adds
 * each group of 4 products into an int32 lane in one instruction, where
 * AVX2 needs maddubs (pairs into int16) and madd (pairs of those into
 * int32). The lanes are ggml's and dot.c's — lane l of a 32-element block
 * holds elements 4l..4l+3 — and exact, so the results are the scalar
 * twin's bit for bit, as at the AVX2 level. Vectors stay 256 bits wide
 * (AVX512VL): the block kernels are bound by the latency of their float
 * FMA chain and by memory, not by vector width, and CPUs that split 512-bit
 * operations in two (AMD Zen 4) would gain nothing from wider ones.
 *
 * AVX512_BF16 is not used: the avx512 level (cpu.c) does not check for it,
 * and vdpbf16ps flushes subnormals, which dot.c's BF16 kernel does not. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "quant.h"

#include <immintrin.h>

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline float half(uint16_t h) { return _cvtsh_ss(h); }

/* dot.c's hsum_8: lanes l + 4 added to lanes l, then (0 + 2) + (1 + 3). */
static inline float hsum_8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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

/* (float)p[k] * (float)q[k] for 4 pairs of halves (dot.c's f16_product),
 * packed in general registers. */
static inline __m128 half_products4(uint16_t p0, uint16_t p1, uint16_t p2, uint16_t p3, uint16_t q0, uint16_t q1,
                                    uint16_t q2, uint16_t q3) {
    const uint64_t p = (uint64_t)p0 | (uint64_t)p1 << 16 | (uint64_t)p2 << 32 | (uint64_t)p3 << 48;
    const uint64_t q = (uint64_t)q0 | (uint64_t)q1 << 16 | (uint64_t)q2 << 32 | (uint64_t)q3 << 48;
    const __m256 f = _mm256_cvtph_ps(_mm_set_epi64x((long long)q, (long long)p));
    return _mm_mul_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
}

/* The 32 nibbles of a Q4 block in element order (low nibbles = elements
 * 0..15, high nibbles = 16..31). */
static inline __m256i nibbles32(const uint8_t *qs) {
    const __m256i x = _mm256_broadcastsi128_si256(loadu128(qs));
    return _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

/* Bit j of the 32-bit qh as byte j: 0x10 where set (a mask register makes
 * this one instruction). */
static inline __m256i fifth_bits32(const uint8_t *qh) {
    uint32_t bits;
    __builtin_memcpy(&bits, qh, sizeof bits);
    return _mm256_maskz_mov_epi8((__mmask32)bits, _mm256_set1_epi8(0x10));
}

/* Integer lanes of one block: lane l = sum of elements 4l..4l+3's
 * products, exact. */
static inline __m256i block_q8_0_q8_0(const block_q8_0 *w, const block_q8_0 *a) {
    const __m256i qw = loadu256(w->qs), qa = loadu256(a->qs);
    /* |w| times a with w's sign; |-128| is 128 as an unsigned byte. */
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qw), _mm256_sign_epi8(qa, qw));
}

/* Codes u in 0..31 standing for u - bias: (u . a) - (bias . a). */
static inline __m256i biased_lanes(__m256i u, int bias, const int8_t *qs) {
    const __m256i qa = loadu256(qs);
    return _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, qa),
                            _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)bias), qa));
}

static inline __m256i block_q4_0_q8_0(const block_q4_0 *w, const block_q8_0 *a) {
    return biased_lanes(nibbles32(w->qs), 8, a->qs);
}

static inline __m256i block_q5_0_q8_0(const block_q5_0 *w, const block_q8_0 *a) {
    return biased_lanes(_mm256_or_si256(nibbles32(w->qs), fifth_bits32(w->qh)), 16, a->qs);
}

static inline __m256i block_q4_1_q8_1(const block_q4_1 *w, const block_q8_1 *a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles32(w->qs), loadu256(a->qs));
}

static inline __m256i block_q5_1_q8_1(const block_q5_1 *w, const block_q8_1 *a) {
    const __m256i q = _mm256_or_si256(nibbles32(w->qs), fifth_bits32(w->qh));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, loadu256(a->qs));
}

/* Q8_0, Q5_0: 8 float lanes, each block's int32 lanes added by an FMA
 * with d_w * d_a; hsum_8. */
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

/* Q4_0: one float, each block's integer dot times d_w * d_a added by an
 * FMA, block after block (dot.c). The integer dots of 8 blocks are summed
 * together; the FMAs stay in order. */
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

/* The activation quantizers are the AVX2 level's (the same bytes). */
static void quantize_act_q8_0(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_avx2(BIBIM_TYPE_Q8_0)->quantize_act(x, y, n);
}

static void quantize_act_q8_1(const float *restrict x, void *restrict y, int64_t n) {
    dot_kernel_avx2(BIBIM_TYPE_Q4_1)->quantize_act(x, y, n);
}

static const dot_kernel kernel_q8_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q8_0_q8_0};
static const dot_kernel kernel_q4_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q4_0_q8_0};
static const dot_kernel kernel_q5_0 = {BIBIM_TYPE_Q8_0, quantize_act_q8_0, dot_q5_0_q8_0};
static const dot_kernel kernel_q4_1 = {BIBIM_TYPE_Q8_1, quantize_act_q8_1, dot_q4_1_q8_1};
static const dot_kernel kernel_q5_1 = {BIBIM_TYPE_Q8_1, quantize_act_q8_1, dot_q5_1_q8_1};

const dot_kernel *dot_kernel_avx512(bibim_type type) {
    if (!dot_kernel_avx2(BIBIM_TYPE_Q8_0)) return NULL; /* the quantizers above are AVX2's */
    switch (type) {
    case BIBIM_TYPE_Q8_0: return &kernel_q8_0;
    case BIBIM_TYPE_Q4_0: return &kernel_q4_0;
    case BIBIM_TYPE_Q5_0: return &kernel_q5_0;
    case BIBIM_TYPE_Q4_1: return &kernel_q4_1;
    case BIBIM_TYPE_Q5_1: return &kernel_q5_1;
    default: return NULL;
    }
}

#else /* not x86-64 with AVX-512: no kernels of this level */

const dot_kernel *dot_kernel_avx512(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
