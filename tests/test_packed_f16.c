/* test_packed_f16.c — packed F16 and BF16 kernels (packed_f16*.c) against
 * the row kernels of the same type and level:
 *   - gemm outputs equal, bit for bit (memcmp), the row kernel's dot for
 *     every (row, token) at every level this CPU runs, and the scalar
 *     packed twin's; rows of 1, 7, 16, 17, 100, 2048 and 8192 elements
 *     (tails of every kind), 8 and 64 rows, 1..9 and 64 tokens;
 *   - gemm writes its 8 x n_tokens outputs and nothing else (y_stride wider
 *     than the group);
 *   - pack reads rows at odd offsets and writes packed_size bytes, a
 *     multiple of 64 (the layout is one for all levels);
 *   - a throughput table: GFLOP/s of a 2048 x 8192 matrix times 64 tokens
 *     and GB/s of weights for 1 token, packed vs row kernel, one thread
 *     (information, not a check; left out with BIBIM_NO_BENCH or under
 *     AddressSanitizer).
 *
 * The gemms are reached directly (packed_gemm_f16_<level>), so this test
 * does not depend on packed_gemm_at. Levels: all the CPU supports,
 * capped by BIBIM_CPU_MAX (a level name). */
#include "bibim.h"
#include "fp16.h"
#include "harness.h"
#include "kernel_test_util.h"
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

static const bibim_type types[] = {BIBIM_TYPE_F16, BIBIM_TYPE_BF16};

/* A value of the type from a trained-looking float; now and then 0 or a
 * large outlier. */
static uint16_t random_value(bibim_type type, uint64_t *rng, float scale) {
    const uint64_t r = next_u64(rng);
    float f = scale * next_gaussian(rng);
    if (r % 64 == 0) f = 0.0f;
    if (r % 64 == 1) f *= 30.0f;
    return type == BIBIM_TYPE_F16 ? fp32_to_fp16(f) : fp32_to_bf16(f);
}

/* ------------------------------------------------------------------------ */
/* Levels                                                                   */
/* ------------------------------------------------------------------------ */

/* The F16/BF16 gemm of one level's own, or NULL. */
static packed_gemm_fn gemm_at(bibim_type type, cpu_level level) {
    switch (level) {
    case CPU_LEVEL_SCALAR: return packed_gemm_f16_scalar(type);
    case CPU_LEVEL_AVX2: return packed_gemm_f16_avx2(type);
    case CPU_LEVEL_AVX512: return packed_gemm_f16_avx512(type);
    default: return NULL;
    }
}

/* The levels to test (kernel_test_util.h) that have F16 kernels of their
 * own. */
static void choose_f16_levels(void) {
    choose_levels(1);
    int kept = 0;
    for (int i = 0; i < n_levels; i++) {
        if (gemm_at(BIBIM_TYPE_F16, levels[i])) levels[kept++] = levels[i];
        else printf("skip level %s: no packed F16 kernels of its own in this build\n", cpu_level_name(levels[i]));
    }
    n_levels = kept;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct problem {
    bibim_type type;
    int64_t n_rows, n, n_tokens;
    size_t row_bytes, act_stride;
    uint16_t *rows;  /* n_rows rows, contiguous */
    uint16_t *acts;  /* n_tokens rows at act_stride, 64-byte aligned */
    void *packed;
    size_t packed_bytes, group_bytes;
} problem;

static void *alloc64(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, round64(bytes ? bytes : 1)) != 0) return NULL;
    return p;
}

static int problem_make(problem *p, bibim_type type, int64_t n_rows, int64_t n, int64_t n_tokens, uint64_t seed) {
    uint64_t rng = seed;
    memset(p, 0, sizeof *p);
    p->type = type;
    p->n_rows = n_rows;
    p->n = n;
    p->n_tokens = n_tokens;
    p->row_bytes = (size_t)n * 2;
    p->act_stride = round64((size_t)n * 2) + 64;
    p->rows = alloc64(p->row_bytes * (size_t)n_rows);
    p->acts = alloc64(p->act_stride * (size_t)n_tokens);
    const packed_layout *layout = packed_layout_f16(type);
    p->packed_bytes = layout->packed_size(n_rows, n);
    p->group_bytes = layout->packed_size(PACK_ROWS, n);
    p->packed = alloc64(p->packed_bytes);
    if (!p->rows || !p->acts || !p->packed) return -1;
    for (int64_t r = 0; r < n_rows; r++) {
        const float scale = 0.02f * (float)(0.5 + next_uniform(&rng));
        for (int64_t i = 0; i < n; i++) p->rows[r * n + i] = random_value(type, &rng, scale);
    }
    memset(p->acts, 0x5a, p->act_stride * (size_t)n_tokens);
    for (int64_t t = 0; t < n_tokens; t++) {
        uint16_t *a = (uint16_t *)((uint8_t *)p->acts + (size_t)t * p->act_stride);
        for (int64_t i = 0; i < n; i++) a[i] = random_value(type, &rng, 1.0f);
    }
    layout->pack(p->rows, p->row_bytes, n_rows, n, p->packed);
    return 0;
}

static void problem_free(problem *p) {
    free(p->rows);
    free(p->acts);
    free(p->packed);
}

/* y[t * y_stride + r] for all rows and the first n_tokens tokens. */
static void run_gemm(packed_gemm_fn gemm, const problem *p, int64_t n_tokens, float *y, int64_t y_stride) {
    for (int64_t g = 0; g < p->n_rows / PACK_ROWS; g++)
        gemm(p->n, (const uint8_t *)p->packed + (size_t)g * p->group_bytes, p->acts, p->act_stride, n_tokens,
             y + g * PACK_ROWS, y_stride);
}

static void run_rows(const dot_kernel *dk, const problem *p, int64_t n_tokens, float *y, int64_t y_stride) {
    for (int64_t t = 0; t < n_tokens; t++)
        for (int64_t r = 0; r < p->n_rows; r++)
            dk->dot(p->n, p->rows + r * p->n, (const uint8_t *)p->acts + (size_t)t * p->act_stride,
                    y + t * y_stride + r);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */
/* ------------------------------------------------------------------------ */

static int test_bit_identical(void) {
    static const int64_t lengths[] = {1, 7, 16, 17, 31, 32, 33, 100, 2048, 8192};
    static const int64_t row_counts[] = {8, 64};
    static const int64_t token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 64};
    uint64_t seed = 1;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        for (size_t ni = 0; ni < sizeof lengths / sizeof lengths[0]; ni++) {
            for (size_t ri = 0; ri < 2; ri++) {
                problem p;
                const int64_t n = lengths[ni], n_rows = row_counts[ri], max_t = 64;
                if (problem_make(&p, types[ti], n_rows, n, max_t, seed++) != 0) {
                    FAIL_AT("out of memory");
                    problem_free(&p);
                    return 0;
                }
                const int64_t y_stride = n_rows + 5;
                const size_t y_count = (size_t)(max_t * y_stride);
                float *ref = calloc(y_count, sizeof *ref), *twin = calloc(y_count, sizeof *twin),
                      *got = malloc(y_count * sizeof *got);
                CHECK(p.packed_bytes % 64 == 0 && p.packed_bytes == (size_t)(n_rows / PACK_ROWS) * p.group_bytes);
                run_gemm(packed_gemm_f16_scalar(types[ti]), &p, max_t, twin, y_stride);
                for (int li = 0; li < n_levels; li++) {
                    const cpu_level level = levels[li];
                    const packed_gemm_fn gemm = gemm_at(types[ti], level);
                    run_rows(dot_kernel_at(types[ti], level), &p, max_t, ref, y_stride);
                    for (size_t ki = 0; ki < sizeof token_counts / sizeof token_counts[0]; ki++) {
                        const int64_t nt = token_counts[ki];
                        memset(got, 0x7f, y_count * sizeof *got);
                        run_gemm(gemm, &p, nt, got, y_stride);
                        for (int64_t t = 0; t < max_t; t++) {
                            for (int64_t c = 0; c < y_stride; c++) {
                                const float *g = got + t * y_stride + c;
                                if (t >= nt || c >= n_rows) {
                                    uint32_t bits;
                                    memcpy(&bits, g, 4);
                                    if (bits != 0x7f7f7f7fu)
                                        FAIL_AT("%s %s n=%lld tokens=%lld: wrote outside at t=%lld c=%lld",
                                                bibim_type_name(types[ti]), cpu_level_name(level), (long long)n,
                                                (long long)nt, (long long)t, (long long)c);
                                } else if (memcmp(g, ref + t * y_stride + c, 4) != 0 ||
                                           memcmp(g, twin + t * y_stride + c, 4) != 0) {
                                    FAIL_AT("%s %s n=%lld rows=%lld tokens=%lld: y[%lld][%lld] = %.9g, row kernel "
                                            "%.9g, scalar twin %.9g",
                                            bibim_type_name(types[ti]), cpu_level_name(level), (long long)n,
                                            (long long)n_rows, (long long)nt, (long long)t, (long long)c, *g,
                                            ref[t * y_stride + c], twin[t * y_stride + c]);
                                }
                            }
                        }
                    }
                }
                free(ref);
                free(twin);
                free(got);
                problem_free(&p);
            }
        }
    }
    return 0;
}

/* pack reads rows at odd addresses (2-byte aligned only, as in a mapped
 * file, and even at odd bytes) and stops at their end. */
static int test_pack_unaligned(void) {
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        problem p;
        const int64_t n = 45, n_rows = 13;
        if (problem_make(&p, types[ti], n_rows, n, 1, 99) != 0) {
            FAIL_AT("out of memory");
            problem_free(&p);
            return 0;
        }
        const packed_layout *layout = packed_layout_f16(types[ti]);
        const size_t bytes = p.row_bytes * (size_t)n_rows;
        for (size_t offset = 1; offset < 4; offset++) {
            uint8_t *buf = malloc(offset + bytes);
            memcpy(buf + offset, p.rows, bytes);
            void *packed = alloc64(layout->packed_size(n_rows, n));
            layout->pack(buf + offset, p.row_bytes, n_rows, n, packed);
            CHECK(memcmp(packed, p.packed, p.packed_bytes) == 0);
            free(packed);
            free(buf);
        }
        problem_free(&p);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Throughput                                                               */
/* ------------------------------------------------------------------------ */

static int test_throughput(void) {
    if (skip_timings()) return 1;
    if (getenv("BIBIM_NO_BENCH")) {
        printf("skip test_throughput: BIBIM_NO_BENCH\n");
        return 1;
    }
    const int64_t n_rows = 2048, n = 8192, nt = 64;
    float *y = malloc((size_t)(nt * n_rows) * sizeof *y);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        problem p;
        if (problem_make(&p, types[ti], n_rows, n, nt, 7) != 0) {
            problem_free(&p);
            continue;
        }
        for (int li = 0; li < n_levels; li++) {
            const cpu_level level = levels[li];
            const packed_gemm_fn gemm = gemm_at(types[ti], level);
            const dot_kernel *dk = dot_kernel_at(types[ti], level);
            double t0 = now_seconds();
            int reps = 0;
            do {
                run_gemm(gemm, &p, nt, y, n_rows);
                reps++;
            } while (now_seconds() - t0 < 0.5);
            const double packed_gflops = 2.0 * n_rows * n * nt * reps / (now_seconds() - t0) / 1e9;
            t0 = now_seconds();
            reps = 0;
            do {
                run_rows(dk, &p, nt, y, n_rows);
                reps++;
            } while (now_seconds() - t0 < 0.5);
            const double row_gflops = 2.0 * n_rows * n * nt * reps / (now_seconds() - t0) / 1e9;
            t0 = now_seconds();
            reps = 0;
            do {
                run_gemm(gemm, &p, 1, y, n_rows);
                reps++;
            } while (now_seconds() - t0 < 0.3);
            const double packed_gbs = (double)p.packed_bytes * reps / (now_seconds() - t0) / 1e9;
            t0 = now_seconds();
            reps = 0;
            do {
                run_rows(dk, &p, 1, y, n_rows);
                reps++;
            } while (now_seconds() - t0 < 0.3);
            const double row_gbs = (double)p.packed_bytes * reps / (now_seconds() - t0) / 1e9;
            printf("  %-5s %-7s 2048x8192: 64 tokens %6.1f GFLOP/s packed, %6.1f row kernel; "
                   "1 token %5.1f GB/s packed, %5.1f row kernel\n",
                   bibim_type_name(types[ti]), cpu_level_name(level), packed_gflops, row_gflops, packed_gbs, row_gbs);
        }
        problem_free(&p);
    }
    free(y);
    return 0;
}

int main(void) {
    choose_f16_levels();
    RUN(test_bit_identical);
    RUN(test_pack_unaligned);
    RUN(test_throughput);
    return harness_finish();
}
