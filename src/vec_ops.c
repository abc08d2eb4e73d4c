/* vec_ops.c — the scalar element-wise steps (see vec_ops.h) and dispatch. */
#include "vec_ops.h"
#include "fp16.h"

#include <math.h>
#include <string.h>

/* ggml_v_expf step by step: 2^n * p(b) with n = round(x / ln 2),
 * b = x - n ln 2 in two parts, p a degree-5 polynomial, each step an FMA
 * (fmaf is exact: one rounding, like the instruction). Not the C library's
 * expf: the two differ in the last bit for some inputs. */
float ggml_expf(float x) {
    const float shift = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, shift);
    const float n = z - shift;
    if (n != n) return x;                                       /* NaN */
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY; /* -inf and underflow give 0 */
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         fmaf(0x1.ffffecp-1f, b, 1.0f));
    return ldexpf(j, (int)n); /* vscalefps */
}

static void silu_mul(float *gate, const float *up, int64_t n) {
    int64_t full = n & ~(int64_t)15;
    for (int64_t i = 0; i < n; i++) {
        float e = i < full ? ggml_expf(0.0f - gate[i]) : expf(-gate[i]);
        gate[i] = gate[i] / (1.0f + e) * up[i];
    }
}

/* _mm512_reduce_add_ps: halve 16 lanes to 8, 4, 2, 1. */
static float reduce_16(float v[16]) {
    for (int width = 8; width > 0; width /= 2)
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    return v[0];
}

static double softmax_exp(float *x, int64_t n, float max) {
    double sum = 0;
    for (int64_t p0 = 0; p0 < n; p0 += 16) {
        float group[16] = {0};
        for (int64_t p = p0; p < p0 + 16 && p < n; p++) group[p - p0] = x[p] = ggml_expf(x[p] - max);
        sum += (double)reduce_16(group);
    }
    return sum;
}

static void scale_round_f16(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = fp16_to_fp32(fp32_to_fp16(x[i] * scale));
}

static void axpy_f16(float *y, float a, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * fp16_to_fp32(x[i]);
}

static void reduce_lanes16(const float *lanes, int64_t n, float *out) {
    for (int64_t d = 0; d < n; d++) {
        float group[16];
        for (int l = 0; l < 16; l++) group[l] = lanes[l * n + d];
        out[d] = reduce_16(group);
    }
}

static const vec_ops scalar_ops = {silu_mul, softmax_exp, scale_round_f16, axpy_f16, reduce_lanes16};

const vec_ops *vec_ops_scalar(void) { return &scalar_ops; }

const vec_ops *vec_ops_at(cpu_level level) {
    const vec_ops *ops = NULL;
    if (level == CPU_LEVEL_AVX2 || level == CPU_LEVEL_AVX512) ops = vec_ops_avx2();
    return ops ? ops : &scalar_ops;
}
