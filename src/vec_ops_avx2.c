/* vec_ops_avx2.c — the element-wise steps with AVX2, FMA and F16C, bit for
 * bit the scalar ones of vec_ops.c (same operations in the same order;
 * FMA where the scalar code calls fmaf). Built with FLAGS_vec_ops_avx2. */
#include "vec_ops.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <math.h>

/* ggml_expf on 8 lanes. Lanes whose 2^n is not a normal float (or that are
 * NaN) are redone by the scalar function, which handles every case. */
static __m256 expf8(__m256 x) {
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    const __m256 n = _mm256_sub_ps(z, shift);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    /* In range, j * 2^n is one exact multiplication by a power of two. */
    const __m256 in_range = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_GE_OQ),
                                          _mm256_cmp_ps(n, _mm256_set1_ps(127.0f), _CMP_LE_OQ));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 result = _mm256_mul_ps(j, _mm256_castsi256_ps(bits));
    if (_mm256_movemask_ps(in_range) != 0xFF) {
        float lanes[8], in[8];
        _mm256_storeu_ps(lanes, result);
        _mm256_storeu_ps(in, x);
        int ok = _mm256_movemask_ps(in_range);
        for (int l = 0; l < 8; l++)
            if (!(ok >> l & 1)) lanes[l] = ggml_expf(in[l]);
        result = _mm256_loadu_ps(lanes);
    }
    return result;
}

static void silu_mul(float *gate, const float *up, int64_t n) {
    int64_t full = n & ~(int64_t)15, i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i < full; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* The halving sum of 16 lanes given as lo = lanes 0..7, hi = 8..15. */
static float reduce_16(__m256 lo, __m256 hi) {
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

static double softmax_exp(float *x, int64_t n, float max) {
    const __m256 vmax = _mm256_set1_ps(max);
    double sum = 0;
    int64_t p = 0;
    for (; p + 16 <= n; p += 16) {
        __m256 lo = expf8(_mm256_sub_ps(_mm256_loadu_ps(x + p), vmax));
        __m256 hi = expf8(_mm256_sub_ps(_mm256_loadu_ps(x + p + 8), vmax));
        _mm256_storeu_ps(x + p, lo);
        _mm256_storeu_ps(x + p + 8, hi);
        sum += (double)reduce_16(lo, hi);
    }
    if (p < n) {
        float group[16] = {0};
        for (int64_t q = p; q < n; q++) group[q - p] = x[q] = ggml_expf(x[q] - max);
        sum += (double)reduce_16(_mm256_loadu_ps(group), _mm256_loadu_ps(group + 8));
    }
    return sum;
}

static void scale_round_f16(float *x, int64_t n, float scale) {
    const __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) x[i] = _cvtsh_ss(_cvtss_sh(x[i] * scale, _MM_FROUND_TO_NEAREST_INT));
}

static void axpy_f16(float *y, float a, const uint16_t *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, v)));
    }
    for (; i < n; i++) y[i] += a * _cvtsh_ss(x[i]);
}

static void reduce_lanes16(const float *lanes, int64_t n, float *out) {
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) {
        __m256 v[16];
        for (int l = 0; l < 16; l++) v[l] = _mm256_loadu_ps(lanes + l * n + d);
        for (int width = 8; width > 0; width /= 2)
            for (int l = 0; l < width; l++) v[l] = _mm256_add_ps(v[l], v[l + width]);
        _mm256_storeu_ps(out + d, v[0]);
    }
    for (; d < n; d++) {
        float g[16];
        for (int l = 0; l < 16; l++) g[l] = lanes[l * n + d];
        for (int width = 8; width > 0; width /= 2)
            for (int l = 0; l < width; l++) g[l] += g[l + width];
        out[d] = g[0];
    }
}

static const vec_ops avx2_ops = {silu_mul, softmax_exp, scale_round_f16, axpy_f16, reduce_lanes16};

const vec_ops *vec_ops_avx2(void) { return &avx2_ops; }

#else

const vec_ops *vec_ops_avx2(void) { return NULL; }

#endif
