/* test_vec_ops.c — every level's element-wise steps give the scalar steps'
 * bits, and the scalar exp is ggml's (checked against known values). */
#include "harness.h"
#include "vec_ops.h"
#include "fp16.h"

#include <math.h>

static uint64_t rng = 88172645463325252ull;
static float rnd(float lo, float hi) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

static int same_bits(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof *a) == 0; }

/* Lengths that cover whole vectors, partial ones and groups of 16. */
static const int64_t lengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 128, 257, 8192};

static int check_level(cpu_level level) {
    if (!cpu_level_supported(level)) {
        printf("skip %s: the CPU lacks %s\n", harness_case_name, cpu_level_name(level));
        return 1;
    }
    const vec_ops *ref = vec_ops_scalar(), *ops = vec_ops_at(level);
    enum { MAX = 8192 };
    static float a[MAX], b[MAX], up[MAX], out_a[MAX], out_b[MAX];
    static uint16_t h[MAX];
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        int64_t n = lengths[k];
        /* SiLU, over a range that reaches the exp's edges (under- and overflow). */
        for (int64_t i = 0; i < n; i++) a[i] = b[i] = rnd(-120, 120), up[i] = rnd(-2, 2);
        ref->silu_mul(a, up, n);
        ops->silu_mul(b, up, n);
        CHECKF(same_bits(a, b, n), "%s silu_mul n=%lld", cpu_level_name(level), (long long)n);
        /* Softmax exponentials and their sum, with values far below the max. */
        for (int64_t i = 0; i < n; i++) a[i] = b[i] = rnd(-150, 5);
        double sa = ref->softmax_exp(a, n, 5.0f), sb = ops->softmax_exp(b, n, 5.0f);
        CHECKF(sa == sb && same_bits(a, b, n), "%s softmax_exp n=%lld", cpu_level_name(level), (long long)n);
        for (int64_t i = 0; i < n; i++) a[i] = b[i] = rnd(0, 3);
        ref->scale_round_f16(a, n, 0.37f);
        ops->scale_round_f16(b, n, 0.37f);
        CHECKF(same_bits(a, b, n), "%s scale_round_f16 n=%lld", cpu_level_name(level), (long long)n);
        for (int64_t i = 0; i < n; i++) a[i] = b[i] = rnd(-1, 1), h[i] = fp32_to_fp16(rnd(-3, 3));
        ref->axpy_f16(a, 0.3f, h, n);
        ops->axpy_f16(b, 0.3f, h, n);
        CHECKF(same_bits(a, b, n), "%s axpy_f16 n=%lld", cpu_level_name(level), (long long)n);
        if (16 * n <= MAX) {
            for (int64_t i = 0; i < 16 * n; i++) a[i] = rnd(-1, 1);
            ref->reduce_lanes16(a, n, out_a);
            ops->reduce_lanes16(a, n, out_b);
            CHECKF(same_bits(out_a, out_b, n), "%s reduce_lanes16 n=%lld", cpu_level_name(level), (long long)n);
        }
    }
    return 0;
}

static int test_avx2(void) { return check_level(CPU_LEVEL_AVX2); }
static int test_avx512(void) { return check_level(CPU_LEVEL_AVX512); }

/* ggml_expf against float64 exp: within 4 ulp, 0 below -104, inf above 89,
 * and exact edge cases. */
static int test_ggml_expf(void) {
    for (int i = 0; i < 200000; i++) {
        float x = rnd(-87, 88);
        double want = exp((double)x), got = ggml_expf(x);
        CHECKF(fabs(got - want) <= 4 * want * 0x1p-24, "exp(%a) = %a, want %a", x, got, want);
        if (fabs(got - want) > 4 * want * 0x1p-24) break;
    }
    CHECK(ggml_expf(0.0f) == 1.0f);
    CHECK(ggml_expf(-INFINITY) == 0.0f);
    CHECK(ggml_expf(-1000.0f) == 0.0f);
    CHECK(isinf(ggml_expf(1000.0f)));
    CHECK(isnan(ggml_expf(NAN)));
    return 0;
}

int main(void) {
    RUN(test_ggml_expf);
    RUN(test_avx2);
    RUN(test_avx512);
    return harness_finish();
}
