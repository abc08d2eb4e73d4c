/* dot_avx512.c — kernels for CPUs with AVX-512 F/BW/VL/DQ and VNNI, where
 * they gain over the AVX2 ones (dot_avx2.c); every other type falls back
 * to those (dot_kernel_at).
 *
 * The gain is VNNI: vpdpbusd multiplies unsigned by signed bytes and adds
 * each group of 4 products into an int32 lane in one instruction, where
 * AVX2 needs maddubs (pairs into int16) and madd (pairs of those into
 * int32). The lanes are ggml's and dot.c's — lane l of a 32-element block
 * holds elements 4l..4l+3 — and exact, so the results are the scalar
 * twin's bit for bit, as at the AVX2 level: the kernels' loops and float
 * steps are dot_x86.h's, shared with dot_avx2.c, and this file has the
 * integer products of a block. Vectors stay 256 bits wide
 * (AVX512VL): the block kernels are bound by the latency of their float
 * FMA chain and by memory, not by vector width, and CPUs that split 512-bit
 * operations in two (AMD Zen 4) would gain nothing from wider ones.
 *
 * AVX512_BF16 is not used: the avx512 level (cpu.c) does not check for it,
 * and vdpbf16ps flushes subnormals, which dot.c's BF16 kernel does not. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "dot_x86.h"

/* Bit j of the 32-bit qh as byte j: 0x10 where set (a mask register makes
 * this one instruction). */
static inline __m256i fifth_bits32(const uint8_t *qh) {
    return _mm256_maskz_mov_epi8((__mmask32)load_u32(qh), _mm256_set1_epi8(0x10));
}

/* The integer lanes of one block (dot_x86.h), by vpdpbusd. */
static ALWAYS_INLINE __m256i block_q8_0_q8_0(const block_q8_0 *w, const block_q8_0 *a) {
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

static ALWAYS_INLINE __m256i block_q4_0_q8_0(const block_q4_0 *w, const block_q8_0 *a) {
    return biased_lanes(nibbles32(w->qs), 8, a->qs);
}

static ALWAYS_INLINE __m256i block_q5_0_q8_0(const block_q5_0 *w, const block_q8_0 *a) {
    return biased_lanes(_mm256_or_si256(nibbles32(w->qs), fifth_bits32(w->qh)), 16, a->qs);
}

static ALWAYS_INLINE __m256i block_q4_1_q8_1(const block_q4_1 *w, const block_q8_1 *a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles32(w->qs), loadu256(a->qs));
}

static ALWAYS_INLINE __m256i block_q5_1_q8_1(const block_q5_1 *w, const block_q8_1 *a) {
    const __m256i q = _mm256_or_si256(nibbles32(w->qs), fifth_bits32(w->qh));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, loadu256(a->qs));
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
