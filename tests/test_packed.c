/* test_packed.c — packed-weight kernels (kernels.h: packed_layout_for,
 * packed_gemm_at) against the row kernels of the same type and level:
 *   - gemm outputs equal, bit for bit (memcmp), the row kernel's dot for
 *     every (row, token), at every level this CPU runs, and the scalar
 *     packed twin's; on quantized random rows of 1 block, 3 blocks, 2048,
 *     8192 and 14336 elements, 8, 16 and 64 rows, 1..9 and 64 tokens;
 *   - on random block bytes (every code pattern) and on extreme blocks
 *     (largest codes times the largest activations: integer bounds);
 *   - gemm writes its 8 x n_tokens outputs and nothing else (y_stride
 *     wider than the group);
 *   - pack reads rows at any address (odd offsets) and never past them,
 *     writes packed_size bytes, a multiple of 64;
 *   - a throughput table: GFLOP/s of a 2048 x 8192 matrix times 64 tokens
 *     and GB/s of weights for 1 token (streamed from memory), packed vs
 *     row kernel, single thread (information, not a check).
 *
 * Levels: all the CPU supports, capped by BIBIM_CPU_MAX (a level name);
 * under valgrind the cap defaults to avx2. The timing table is left out
 * under valgrind and AddressSanitizer, and when BIBIM_NO_BENCH is set. */
#include "bibim.h"
#include "fp16.h"
#include "harness.h"
#include "kernel_test_util.h"
#include "kernels.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

static const bibim_type packed_types[] = {BIBIM_TYPE_Q4_0, BIBIM_TYPE_Q8_0, BIBIM_TYPE_Q4_K, BIBIM_TYPE_Q6_K};
#define N_TYPES (sizeof packed_types / sizeof packed_types[0])

/* ------------------------------------------------------------------------ */
/* Matrices and activations                                                 */
/* ------------------------------------------------------------------------ */

typedef struct matrix_buf {
    bibim_type type;
    int64_t n_rows, n;
    size_t row_bytes;
    void *base;         /* allocation */
    unsigned char *rows; /* at `offset` past a 64-byte boundary, ending where the allocation does */
} matrix_buf;

static int matrix_alloc(matrix_buf *m, bibim_type type, int64_t n_rows, int64_t n, size_t offset) {
    m->type = type;
    m->n_rows = n_rows;
    m->n = n;
    m->row_bytes = (size_t)bibim_type_row_bytes(type, n);
    m->base = NULL;
    m->rows = NULL;
    if (posix_memalign(&m->base, 64, offset + m->row_bytes * (size_t)n_rows) != 0) return -1;
    m->rows = (unsigned char *)m->base + offset;
    return 0;
}

static void matrix_free(matrix_buf *m) {
    free(m->base);
    m->base = NULL;
    m->rows = NULL;
}

/* Weights quantized from trained-looking rows (small offset, outliers). */
static int quantized_rows(matrix_buf *m, uint64_t *rng) {
    float *f = malloc((size_t)m->n * sizeof *f);
    unsigned char *row = malloc(m->row_bytes);
    int rc = f && row ? 0 : -1;
    for (int64_t r = 0; rc == 0 && r < m->n_rows; r++) {
        const float offset = (float)(next_uniform(rng) - 0.5), scale = 0.02f * (float)(0.5 + next_uniform(rng));
        for (int64_t i = 0; i < m->n; i++)
            f[i] = scale * (next_gaussian(rng) + offset) * (next_uniform(rng) < 0.01 ? 8.0f : 1.0f);
        /* Through an aligned row: bibim_quantize_row takes any address, but
         * this keeps the test about pack. */
        rc = bibim_quantize_row(m->type, f, row, m->n) == BIBIM_OK ? 0 : -1;
        memcpy(m->rows + (size_t)r * m->row_bytes, row, m->row_bytes);
    }
    free(f);
    free(row);
    return rc;
}

/* Random block bytes (every code and scale pattern; Q8_0 codes include
 * -128), with the f16 fields set to moderate halves. With `pattern` >= 0,
 * every code byte is that byte instead and every half the largest
 * moderate one: the integer parts at their bounds. */
static void raw_rows(matrix_buf *m, uint64_t *rng, int pattern) {
    const size_t bytes = m->row_bytes * (size_t)m->n_rows;
    const int64_t bb = bibim_type_block_bytes(m->type);
    for (size_t i = 0; i < bytes; i++) m->rows[i] = pattern >= 0 ? (unsigned char)pattern : (unsigned char)next_u64(rng);
    int off[2];
    const int nh = half_fields(m->type, off);
    for (size_t b = 0; b < bytes / (size_t)bb; b++) {
        for (int k = 0; k < nh; k++) put_u16(m->rows + b * (size_t)bb + off[k], pattern >= 0 ? 0x5000 : moderate_half(rng));
    }
}

typedef struct acts_buf {
    bibim_type act_type;
    int64_t n_tokens, n;
    size_t stride;
    unsigned char *data; /* 64-byte aligned, token t at t * stride */
} acts_buf;

/* Activations like hidden states (Gaussian, 1% outliers, a random scale
 * per token), or with `extreme`, values that quantize to +-127 codes. */
static int acts_make(acts_buf *a, bibim_type type, int64_t n_tokens, int64_t n, uint64_t *rng, int extreme) {
    const dot_kernel *k = dot_kernel_for(type);
    a->act_type = k->act_type;
    a->n_tokens = n_tokens;
    a->n = n;
    a->stride = round64((size_t)bibim_type_row_bytes(k->act_type, n)) + 64; /* wider than a row */
    a->data = aligned_alloc(64, a->stride * (size_t)n_tokens);
    float *x = malloc((size_t)n * sizeof *x);
    int rc = a->data && x ? 0 : -1;
    for (int64_t t = 0; rc == 0 && t < n_tokens; t++) {
        const float scale = (float)pow(10.0, 4.0 * next_uniform(rng) - 2.0);
        for (int64_t i = 0; i < n; i++) {
            if (extreme) {
                const int mode = (int)(t % 3);
                x[i] = mode == 0 ? 1.0f : mode == 1 ? -1.0f : (next_u64(rng) & 1 ? 1.0f : -1.0f);
            } else {
                x[i] = scale * next_gaussian(rng) * (next_uniform(rng) < 0.01 ? 20.0f : 1.0f);
            }
        }
        memset(a->data + (size_t)t * a->stride, 0xEE, a->stride);
        k->quantize_act(x, a->data + (size_t)t * a->stride, n);
    }
    free(x);
    return rc;
}

/* The packed form of a matrix, in a buffer from aligned_alloc(64,
 * packed_size) as the model allocates it. */
static unsigned char *pack_matrix(const packed_layout *layout, const matrix_buf *m, size_t *size) {
    *size = layout->packed_size(m->n_rows, m->n);
    unsigned char *p = aligned_alloc(64, *size);
    if (p) {
        memset(p, 0xCD, *size);
        layout->pack(m->rows, m->row_bytes, m->n_rows, m->n, p);
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                   */
/* ------------------------------------------------------------------------ */

/* ref[t * n_rows + r] = the row kernel's dot of row r and token t (on an
 * aligned copy of the row: row kernels want their blocks' alignment). */
static int row_dots(const dot_kernel *k, const matrix_buf *m, const acts_buf *a, float *ref) {
    void *row = NULL;
    if (posix_memalign(&row, 64, m->row_bytes) != 0) return -1;
    for (int64_t r = 0; r < m->n_rows; r++) {
        memcpy(row, m->rows + (size_t)r * m->row_bytes, m->row_bytes);
        for (int64_t t = 0; t < a->n_tokens; t++)
            k->dot(m->n, row, a->data + (size_t)t * a->stride, &ref[t * m->n_rows + r]);
    }
    free(row);
    return 0;
}

#define Y_PAD 5        /* y_stride = n_rows + Y_PAD: gemm must leave the gaps alone */
#define Y_SENTINEL 0x7FC0DEADu

/* Runs gemm on every group for the first n_tokens tokens and compares the
 * outputs with ref (bit for bit) and, if twin is given, with twin's gemm
 * on the same packed bytes. */
static void check_gemm(cpu_level l, packed_gemm_fn gemm, packed_gemm_fn twin, const matrix_buf *m,
                       const unsigned char *packed, size_t group_bytes, const acts_buf *a, int64_t n_tokens,
                       const float *ref, const char *what) {
    const int64_t y_stride = m->n_rows + Y_PAD;
    const size_t y_count = (size_t)(n_tokens * y_stride);
    uint32_t *y = malloc(y_count * sizeof *y), *y_twin = twin ? malloc(y_count * sizeof *y_twin) : NULL;
    if (!y || (twin && !y_twin)) {
        FAIL_AT("no memory");
        free(y);
        free(y_twin);
        return;
    }
    for (size_t i = 0; i < y_count; i++) y[i] = Y_SENTINEL;
    if (twin) memcpy(y_twin, y, y_count * sizeof *y);
    for (int64_t g = 0; g < m->n_rows / PACK_ROWS; g++) {
        gemm(m->n, packed + (size_t)g * group_bytes, a->data, a->stride, n_tokens, (float *)y + g * PACK_ROWS,
             y_stride);
        if (twin)
            twin(m->n, packed + (size_t)g * group_bytes, a->data, a->stride, n_tokens, (float *)y_twin + g * PACK_ROWS,
                 y_stride);
    }
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int64_t c = 0; c < y_stride; c++) {
            const uint32_t got = y[t * y_stride + c];
            if (c >= m->n_rows) {
                if (got != Y_SENTINEL)
                    FAIL_AT("%s %s %s n=%lld rows=%lld tokens=%lld: y[%lld][%lld] past the rows was written",
                            cpu_level_name(l), bibim_type_name(m->type), what, (long long)m->n, (long long)m->n_rows,
                            (long long)n_tokens, (long long)t, (long long)c);
                continue;
            }
            uint32_t want;
            memcpy(&want, &ref[t * m->n_rows + c], sizeof want);
            if (got != want) {
                float gf, wf;
                memcpy(&gf, &got, sizeof gf);
                memcpy(&wf, &want, sizeof wf);
                FAIL_AT("%s %s %s n=%lld rows=%lld tokens=%lld: row %lld token %lld: packed %.9g (0x%08x), row kernel "
                        "%.9g (0x%08x)",
                        cpu_level_name(l), bibim_type_name(m->type), what, (long long)m->n, (long long)m->n_rows,
                        (long long)n_tokens, (long long)c, (long long)t, (double)gf, got, (double)wf, want);
            }
            if (twin && got != y_twin[t * y_stride + c])
                FAIL_AT("%s %s %s n=%lld tokens=%lld: row %lld token %lld differs from the scalar packed twin",
                        cpu_level_name(l), bibim_type_name(m->type), what, (long long)m->n, (long long)n_tokens,
                        (long long)c, (long long)t);
        }
    }
    free(y);
    free(y_twin);
}

static const int64_t token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 64};
#define N_TOKEN_COUNTS (sizeof token_counts / sizeof token_counts[0])
#define MAX_TOKENS 64

/* One matrix packed (from rows at the matrix's address), then every
 * level's gemm for each token count against the row kernel of that level. */
static void check_matrix(bibim_type type, const matrix_buf *m, const acts_buf *a, const char *what) {
    const packed_layout *layout = packed_layout_for(type);
    const size_t group_bytes = layout->packed_size(PACK_ROWS, m->n);
    size_t size = 0;
    unsigned char *packed = pack_matrix(layout, m, &size);
    float *ref = malloc((size_t)(a->n_tokens * m->n_rows) * sizeof *ref);
    if (!packed || !ref) {
        FAIL_AT("no memory");
        free(packed);
        free(ref);
        return;
    }
    if (size % 64 != 0 || size != (size_t)(m->n_rows / PACK_ROWS) * group_bytes)
        FAIL_AT("%s n=%lld rows=%lld: packed_size %zu is not a multiple of 64 or not rows/8 groups",
                bibim_type_name(type), (long long)m->n, (long long)m->n_rows, size);
    for (int li = 0; li < n_levels; li++) {
        const cpu_level l = levels[li];
        if (row_dots(dot_kernel_at(type, l), m, a, ref) != 0) {
            FAIL_AT("no memory");
            continue;
        }
        for (size_t i = 0; i < N_TOKEN_COUNTS; i++) {
            if (token_counts[i] > a->n_tokens) continue;
            check_gemm(l, packed_gemm_at(type, l), l == CPU_LEVEL_SCALAR ? NULL : packed_gemm_at(type, CPU_LEVEL_SCALAR),
                       m, packed, group_bytes, a, token_counts[i], ref, what);
        }
    }
    free(packed);
    free(ref);
}

static int type_has_kernel(bibim_type type) {
    if (packed_layout_for(type)) return 1;
    printf("  %s: no packed kernel yet\n", bibim_type_name(type));
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static int test_levels(void) {
    CHECKF(!bad_cap, "BIBIM_CPU_MAX=%s is not a level name", getenv("BIBIM_CPU_MAX"));
    for (int li = 0; li < n_levels; li++) {
        const cpu_level l = levels[li];
        printf("  %-7s", cpu_level_name(l));
        for (size_t t = 0; t < N_TYPES; t++) {
            const packed_layout *layout = packed_layout_for(packed_types[t]);
            const packed_gemm_fn k = packed_gemm_at(packed_types[t], l);
            const packed_gemm_fn below = l == CPU_LEVEL_SCALAR ? NULL : packed_gemm_at(packed_types[t], level_below(l));
            printf(" %s%s", bibim_type_name(packed_types[t]), !k ? "(none)" : k == below ? "(below)" : "");
            CHECK((k != NULL) == (layout != NULL));
            if (layout) CHECK(layout->packed_size && layout->pack);
            if (k && l != CPU_LEVEL_SCALAR) CHECK(dot_kernel_at(packed_types[t], l) != NULL);
        }
        printf("\n");
    }
    return 0;
}

/* Under valgrind or AddressSanitizer everything runs many times slower. */
static int slow_build(void) {
#ifdef UNDER_ASAN
    return 1;
#else
    return valgrind;
#endif
}

/* Row lengths in elements: 1 block, 3 blocks, then model rows. */
static int64_t lengths_for(bibim_type type, int64_t out[5]) {
    const int64_t be = bibim_type_block_elems(type);
    out[0] = be;
    out[1] = 3 * be;
    out[2] = 2048;
    out[3] = 8192;
    out[4] = 14336;
    return 5;
}

static const int64_t row_counts[] = {8, 16, 64};

static int test_random_rows(void) {
    uint64_t rng = 1;
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const bibim_type type = packed_types[ti];
        if (!type_has_kernel(type)) continue;
        int64_t lengths[5];
        const int64_t n_lengths = lengths_for(type, lengths);
        for (int64_t li = 0; li < n_lengths; li++) {
            const int64_t n = lengths[li];
            acts_buf a;
            /* Under valgrind and sanitizers, large rows with up to 9 tokens. */
            if (acts_make(&a, type, slow_build() && n > 2048 ? 9 : MAX_TOKENS, n, &rng, 0) != 0) {
                FAIL_AT("no memory");
                free(a.data);
                continue;
            }
            for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
                /* ... and 8 rows (16 at 2048): the cost is n * rows *
                 * tokens per level. */
                if (slow_build() && n >= 2048 && row_counts[ri] > (n > 2048 ? 8 : 16)) continue;
                matrix_buf m;
                const size_t offset = (size_t)(li + ri) % 4 + 1; /* odd and even, never 64-byte aligned */
                if (matrix_alloc(&m, type, row_counts[ri], n, offset) != 0 || quantized_rows(&m, &rng) != 0) {
                    FAIL_AT("no memory");
                } else {
                    check_matrix(type, &m, &a, "quantized rows");
                }
                matrix_free(&m);
            }
            free(a.data);
        }
    }
    return 0;
}

static int test_raw_and_extreme_rows(void) {
    uint64_t rng = 2;
    static const int patterns[] = {-1, 0x00, 0xFF, 0x0F, 0xF0, 0x80, 0x7F, 0x88, 0x77};
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const bibim_type type = packed_types[ti];
        if (!type_has_kernel(type)) continue;
        const int64_t n = 8 * bibim_type_block_elems(type) + (type == BIBIM_TYPE_Q4_0 || type == BIBIM_TYPE_Q8_0 ? 5 * 32 : 0);
        for (int extreme = 0; extreme < 2; extreme++) {
            acts_buf a;
            if (acts_make(&a, type, 9, n, &rng, extreme) != 0) {
                FAIL_AT("no memory");
                free(a.data);
                continue;
            }
            for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
                matrix_buf m;
                char what[64];
                snprintf(what, sizeof what, "%s rows, %s acts", patterns[p] < 0 ? "raw" : "pattern",
                         extreme ? "extreme" : "random");
                if (patterns[p] >= 0) snprintf(what, sizeof what, "pattern 0x%02x, %s acts", patterns[p],
                                               extreme ? "extreme" : "random");
                if (matrix_alloc(&m, type, 16, n, 3) != 0) {
                    FAIL_AT("no memory");
                } else {
                    raw_rows(&m, &rng, patterns[p]);
                    check_matrix(type, &m, &a, what);
                }
                matrix_free(&m);
            }
            free(a.data);
        }
    }
    return 0;
}

/* Rows that are not a multiple of 8: the last group is padded with zero
 * rows, whose outputs are 0 (the model does not pack such matrices, but
 * pack must not read past the rows it was given). */
static int test_partial_group(void) {
    uint64_t rng = 3;
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const bibim_type type = packed_types[ti];
        if (!type_has_kernel(type)) continue;
        const int64_t n = 2 * bibim_type_block_elems(type);
        matrix_buf m, full;
        if (matrix_alloc(&m, type, 13, n, 1) != 0 || matrix_alloc(&full, type, 16, n, 0) != 0 ||
            quantized_rows(&m, &rng) != 0) {
            FAIL_AT("no memory");
        } else {
            /* The reference: the same rows and 3 zero rows. */
            memset(full.rows, 0, full.row_bytes * 16);
            memcpy(full.rows, m.rows, m.row_bytes * 13);
            const packed_layout *layout = packed_layout_for(type);
            size_t size = 0, size_full = 0;
            unsigned char *p = pack_matrix(layout, &m, &size), *pf = pack_matrix(layout, &full, &size_full);
            CHECK(p && pf && size == size_full);
            if (p && pf && size == size_full) CHECK(memcmp(p, pf, size) == 0);
            free(p);
            free(pf);
        }
        matrix_free(&m);
        matrix_free(&full);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Throughput                                                               */
/* ------------------------------------------------------------------------ */

#define BENCH_ROWS 2048
#define BENCH_N 8192
#define BENCH_TOKENS 64
#define BENCH_POOL ((size_t)96 << 20) /* 1-token passes rotate over this many bytes of matrices */
#define BENCH_SECONDS 0.15

/* One product of the matrix (rows or packed) with n_tokens tokens. */
static void run_rows(const dot_kernel *k, const unsigned char *rows, size_t row_bytes, const acts_buf *a,
                     int64_t n_tokens, float *y) {
    for (int64_t r = 0; r < BENCH_ROWS; r++) {
        for (int64_t t = 0; t < n_tokens; t++)
            k->dot(BENCH_N, rows + (size_t)r * row_bytes, a->data + (size_t)t * a->stride, &y[t * BENCH_ROWS + r]);
    }
}

static void run_packed(packed_gemm_fn gemm, const unsigned char *packed, size_t group_bytes, const acts_buf *a,
                       int64_t n_tokens, float *y) {
    for (int64_t g = 0; g < BENCH_ROWS / PACK_ROWS; g++)
        gemm(BENCH_N, packed + (size_t)g * group_bytes, a->data, a->stride, n_tokens, y + g * PACK_ROWS, BENCH_ROWS);
}

/* Seconds of the best pass; pass i uses copy i % copies of the matrix. */
static double best_time(const dot_kernel *k, packed_gemm_fn gemm, const unsigned char *pool, size_t mat_bytes,
                        size_t copies, size_t stride_bytes, const acts_buf *a, int64_t n_tokens, float *y,
                        double budget) {
    double best = INFINITY, total = 0;
    size_t pass = 0;
    do {
        const unsigned char *mat = pool + (pass % copies) * mat_bytes;
        const double start = now_seconds();
        if (gemm) run_packed(gemm, mat, stride_bytes, a, n_tokens, y);
        else run_rows(k, mat, stride_bytes, a, n_tokens, y);
        const double elapsed = now_seconds() - start;
        best = elapsed < best ? elapsed : best;
        total += elapsed;
        pass++;
    } while (total < budget || pass < (budget > 0 ? 2u : 1u));
    return best;
}

static int test_throughput(void) {
    if (skip_timings()) return 1;
    uint64_t rng = 9;
    printf("  single thread, %d x %d matrix; GFLOP/s = 2 * rows * n * tokens / s (%d tokens, cached);\n"
           "  GB/s = weight bytes / s for 1 token, matrices rotating over %d MiB (from memory)\n"
           "  type   level    row GFLOP/s  packed GFLOP/s  speedup   row GB/s  packed GB/s\n",
           BENCH_ROWS, BENCH_N, BENCH_TOKENS, (int)(BENCH_POOL >> 20));
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const bibim_type type = packed_types[ti];
        const packed_layout *layout = packed_layout_for(type);
        if (!layout) continue;
        matrix_buf m;
        acts_buf a;
        a.data = NULL;
        float *y = malloc((size_t)(BENCH_ROWS * BENCH_TOKENS) * sizeof *y);
        if (!y || matrix_alloc(&m, type, BENCH_ROWS, BENCH_N, 0) != 0 || quantized_rows(&m, &rng) != 0 ||
            acts_make(&a, type, BENCH_TOKENS, BENCH_N, &rng, 0) != 0) {
            FAIL_AT("no memory");
            free(y);
            matrix_free(&m);
            free(a.data);
            continue;
        }
        const size_t mat_bytes = m.row_bytes * BENCH_ROWS;
        const size_t packed_bytes = layout->packed_size(BENCH_ROWS, BENCH_N);
        const size_t group_bytes = layout->packed_size(PACK_ROWS, BENCH_N);
        const size_t copies = (BENCH_POOL + mat_bytes - 1) / mat_bytes;
        unsigned char *row_pool = malloc(copies * mat_bytes);
        unsigned char *packed_pool = aligned_alloc(64, copies * packed_bytes);
        if (!row_pool || !packed_pool) {
            FAIL_AT("no memory");
        } else {
            for (size_t c = 0; c < copies; c++) memcpy(row_pool + c * mat_bytes, m.rows, mat_bytes);
            layout->pack(m.rows, m.row_bytes, BENCH_ROWS, BENCH_N, packed_pool);
            for (size_t c = 1; c < copies; c++) memcpy(packed_pool + c * packed_bytes, packed_pool, packed_bytes);
            const double flop = 2.0 * BENCH_ROWS * BENCH_N * BENCH_TOKENS;
            for (int li = 0; li < n_levels; li++) {
                const cpu_level l = levels[li];
                const dot_kernel *k = dot_kernel_at(type, l);
                const packed_gemm_fn gemm = packed_gemm_at(type, l);
                const double budget = l == CPU_LEVEL_SCALAR ? 0.0 : BENCH_SECONDS;
                const double t_row = best_time(k, NULL, row_pool, mat_bytes, 1, m.row_bytes, &a, BENCH_TOKENS, y, budget);
                const double t_packed =
                    best_time(NULL, gemm, packed_pool, packed_bytes, 1, group_bytes, &a, BENCH_TOKENS, y, budget);
                const double s_row = best_time(k, NULL, row_pool, mat_bytes, copies, m.row_bytes, &a, 1, y, BENCH_SECONDS);
                const double s_packed =
                    best_time(NULL, gemm, packed_pool, packed_bytes, copies, group_bytes, &a, 1, y, BENCH_SECONDS);
                printf("  %-5s  %-7s  %11.1f  %14.1f  %6.2fx  %9.2f  %11.2f\n", bibim_type_name(type), cpu_level_name(l),
                       flop / t_row * 1e-9, flop / t_packed * 1e-9, t_row / t_packed, (double)mat_bytes / s_row * 1e-9,
                       (double)packed_bytes / s_packed * 1e-9);
                fflush(stdout);
            }
        }
        free(row_pool);
        free(packed_pool);
        free(y);
        matrix_free(&m);
        free(a.data);
    }
    return 0;
}

int main(void) {
    choose_levels(1);
    RUN(test_levels);
    RUN(test_random_rows);
    RUN(test_raw_and_extreme_rows);
    RUN(test_partial_group);
    if (!getenv("BIBIM_NO_BENCH")) RUN(test_throughput);
    return harness_finish();
}
