/* test_dot_simd.c — every SIMD kernel (dot_kernel_at at each level this CPU
 * runs) against its scalar twin (dot_kernel_for):
 *   - activation quantizers: byte-identical output, on random rows of odd
 *     block counts, random bit patterns, and special blocks (zeros, -0,
 *     ties at .5, the largest floats, infinities, NaN, subnormals, a
 *     largest magnitude held by both signs);
 *   - dots: equal to the scalar's within the type's tolerance (below) on
 *     quantized random rows, on random block bytes, on extreme blocks, and
 *     exactly on rows whose float sums are exact whatever the order;
 *   - weight rows at every legal misalignment, ending at the end of their
 *     allocation (so that ASan sees any read past a row), and activations
 *     at their least legal alignment;
 *   - runtime dispatch: the default level is the best the CPU supports,
 *     BIBIM_CPU forces any supported level and is refused for the others;
 *   - and a throughput table per type and level (information for whoever
 *     tunes the kernels, not a check).
 *
 * Tolerances: none. dot.c fixes each type's float steps (llama.cpp's:
 * which partial sums exist, where an FMA rounds once, the order of the
 * horizontal adds), and integer parts are exact in any order, so a SIMD
 * kernel that takes the same steps gives the same float bit for bit; one
 * that reorders anything differs in a few ulps, which this test reports.
 * rel_tol() is where a type would get a tolerance if a kernel ever had a
 * reason to sum in another order: a float sum of N terms in two orders
 * differs by ~sqrt(N) * 2^-24 of sum |terms| typically, (N-1) * 2^-24 at
 * worst, so 1e-6 of sum |w_i * a_i| would then be the bound to use (rows
 * of one block excepted, which would still have to agree exactly). Rows
 * whose partial sums are all exact in float are checked separately: there
 * even a reordered kernel must agree exactly, so an integer part that is
 * wrong in a single element shows whatever the tolerance.
 *
 * Levels: all that the CPU supports, capped by the environment variable
 * BIBIM_CPU_MAX (a level name: "avx2" leaves out avx512) — set it where a
 * tool cannot run some instructions (valgrind and AVX-512). Under valgrind
 * (seen by its preloaded library) the cap defaults to avx2; there and
 * under AddressSanitizer the throughput table is left out, and so it is
 * when BIBIM_NO_BENCH is set. */
#include "bibim.h"
#include "fp16.h"
#include "harness.h"
#include "kernel_test_util.h"
#include "kernels.h"
#include "quant.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

static const bibim_type weight_types[] = {
    BIBIM_TYPE_F32,  BIBIM_TYPE_F16,  BIBIM_TYPE_BF16, BIBIM_TYPE_Q8_0, BIBIM_TYPE_Q4_0, BIBIM_TYPE_Q4_1, BIBIM_TYPE_Q5_0,
    BIBIM_TYPE_Q5_1, BIBIM_TYPE_Q2_K, BIBIM_TYPE_Q3_K, BIBIM_TYPE_Q4_K, BIBIM_TYPE_Q5_K, BIBIM_TYPE_Q6_K,
};
#define N_TYPES (sizeof weight_types / sizeof weight_types[0])

/* Activation block layouts (ggml's block_q8_1, block_q8_K). */
#define Q8_1_BYTES 36
#define Q8_K_BYTES 292


/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* `bytes` bytes that start `offset` bytes past a 64-byte boundary and end
 * exactly where their allocation does, so that ASan reports any read past
 * them. */
typedef struct tail_buf {
    void *base;
    unsigned char *p;
} tail_buf;

static int tail_alloc(tail_buf *t, size_t bytes, size_t offset) {
    t->base = NULL;
    t->p = NULL;
    if (posix_memalign(&t->base, 64, offset + bytes ? offset + bytes : 1) != 0) return -1;
    t->p = (unsigned char *)t->base + offset;
    return 0;
}

static void tail_free(tail_buf *t) {
    free(t->base);
    t->base = NULL;
    t->p = NULL;
}

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

/* The relative tolerance of a type's dots, as a fraction of sum |w*a|: 0
 * is bit for bit (see the top of the file). */
static double rel_tol(bibim_type t) {
    (void)t;
    return 0.0;
}

static int float_type(bibim_type t) {
    return t == BIBIM_TYPE_F32 || t == BIBIM_TYPE_F16 || t == BIBIM_TYPE_BF16;
}

/* Elements per activation block, for row lengths. */
static int64_t block_elems(bibim_type t) { return bibim_type_block_elems(t); }

/* a[i] = the value the kernel multiplies element i's weight by. */
static void act_values(bibim_type act_type, const unsigned char *act, int64_t n, double *a) {
    for (int64_t i = 0; i < n; i++) {
        switch (act_type) {
        case BIBIM_TYPE_F32: {
            float f;
            memcpy(&f, act + 4 * i, sizeof f);
            a[i] = f;
            break;
        }
        case BIBIM_TYPE_F16: a[i] = fp16_to_fp32(get_u16(act + 2 * i)); break;
        case BIBIM_TYPE_BF16: a[i] = bf16_to_fp32(get_u16(act + 2 * i)); break;
        case BIBIM_TYPE_Q8_0: {
            const unsigned char *blk = act + (i / 32) * 34;
            a[i] = (double)fp16_to_fp32(get_u16(blk)) * (int8_t)blk[2 + i % 32];
            break;
        }
        case BIBIM_TYPE_Q8_1: {
            const unsigned char *blk = act + (i / 32) * Q8_1_BYTES;
            a[i] = (double)fp16_to_fp32(get_u16(blk)) * (int8_t)blk[4 + i % 32];
            break;
        }
        case BIBIM_TYPE_Q8_K: {
            const unsigned char *blk = act + (i / QK_K) * Q8_K_BYTES;
            float d;
            memcpy(&d, blk, sizeof d);
            a[i] = (double)d * (int8_t)blk[4 + i % QK_K];
            break;
        }
        default: a[i] = NAN;
        }
    }
}

/* sum |w_i * a_i| (and |m * s| per block for Q4_1/Q5_1, whose kernels use
 * s for the activations' sum): the magnitude the tolerance scales with. */
static double dot_magnitude(bibim_type type, bibim_type act_type, const unsigned char *w, const unsigned char *act,
                            int64_t n) {
    float *wd = malloc((size_t)n * sizeof *wd);
    double *a = malloc((size_t)n * sizeof *a);
    double mag = NAN;
    if (wd && a && bibim_dequantize_row(type, w, wd, n) == BIBIM_OK) {
        act_values(act_type, act, n, a);
        mag = 0;
        for (int64_t i = 0; i < n; i++) mag += fabs((double)wd[i] * a[i]);
        if (type == BIBIM_TYPE_Q4_1 || type == BIBIM_TYPE_Q5_1) {
            const int64_t bb = bibim_type_block_bytes(type);
            for (int64_t b = 0; b < n / 32; b++) {
                mag += fabs((double)fp16_to_fp32(get_u16(w + b * bb + 2)) *
                            fp16_to_fp32(get_u16(act + b * Q8_1_BYTES + 2)));
            }
        }
    }
    free(wd);
    free(a);
    return mag;
}

/* Whether a SIMD dot agrees with the scalar's (see the top of the file). */
static int dots_agree(bibim_type type, float simd, float ref, double magnitude, int64_t n) {
    if (isnan(simd) || isnan(ref)) return isnan(simd) && isnan(ref);
    if (rel_tol(type) == 0.0 || n <= bibim_type_block_elems(type)) return f32_bits(simd) == f32_bits(ref);
    return fabs((double)simd - (double)ref) <= rel_tol(type) * magnitude;
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */
/* ------------------------------------------------------------------------ */

/* Activations like a hidden state's: Gaussian, 1% large outliers, at a
 * random overall scale. */
static void random_acts(float *x, int64_t n, uint64_t *rng) {
    const float scale = (float)pow(10.0, 6.0 * next_uniform(rng) - 3.0);
    for (int64_t i = 0; i < n; i++) x[i] = scale * next_gaussian(rng) * (next_uniform(rng) < 0.01 ? 20.0f : 1.0f);
}

/* Weights quantized from a trained-looking row (small offset, outliers). */
static int quantized_weights(bibim_type type, unsigned char *w, int64_t n, uint64_t *rng) {
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return -1;
    const float offset = (float)(next_uniform(rng) - 0.5);
    for (int64_t i = 0; i < n; i++) f[i] = 0.02f * (next_gaussian(rng) + offset) * (next_uniform(rng) < 0.01 ? 8.0f : 1.0f);
    const int rc = bibim_quantize_row(type, f, w, n) == BIBIM_OK ? 0 : -1;
    free(f);
    return rc;
}

/* Random block bytes (every code, scale and high bit pattern), with the
 * f16 fields set to finite moderate halves; float types get random finite
 * values of every magnitude. */
static void raw_weights(bibim_type type, unsigned char *w, int64_t n, uint64_t *rng) {
    const int64_t bytes = bibim_type_row_bytes(type, n);
    for (int64_t i = 0; i < bytes; i++) w[i] = (unsigned char)next_u64(rng);
    if (type == BIBIM_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, w + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u) u &= ~0x40000000u; /* not inf/NaN */
            memcpy(w + 4 * i, &u, 4);
        }
    } else if (type == BIBIM_TYPE_F16) {
        for (int64_t i = 0; i < n; i++) {
            if ((get_u16(w + 2 * i) & 0x7C00) == 0x7C00) w[2 * i + 1] &= 0xBF;
        }
    } else if (type == BIBIM_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            if ((get_u16(w + 2 * i) & 0x7F80) == 0x7F80) w[2 * i + 1] &= 0xBF;
        }
    } else {
        int off[2];
        const int nh = half_fields(type, off);
        const int64_t bb = bibim_type_block_bytes(type);
        for (int64_t b = 0; b < bytes / bb; b++) {
            for (int k = 0; k < nh; k++) put_u16(w + b * bb + off[k], moderate_half(rng));
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Test: levels and kernels                                                 */
/* ------------------------------------------------------------------------ */

static int test_levels(void) {
    CHECKF(!bad_cap, "BIBIM_CPU_MAX=%s is not a level name", getenv("BIBIM_CPU_MAX"));
    if (n_levels == 0) {
        printf("skip %s: no SIMD level to test on this CPU\n", harness_case_name);
        return 1;
    }
    for (int li = 0; li < n_levels; li++) {
        const cpu_level l = levels[li];
        printf("  %-7s", cpu_level_name(l));
        for (size_t t = 0; t < N_TYPES; t++) {
            const dot_kernel *k = dot_kernel_at(weight_types[t], l), *ref = dot_kernel_for(weight_types[t]);
            const dot_kernel *below = dot_kernel_at(weight_types[t], level_below(l));
            CHECK(k != NULL && ref != NULL);
            if (!k || !ref) continue;
            CHECKF(k->act_type == ref->act_type, "%s at %s: activation type differs", bibim_type_name(weight_types[t]),
                   cpu_level_name(l));
            printf(" %s%s", bibim_type_name(weight_types[t]), k == ref ? "(scalar)" : k == below ? "(below)" : "");
        }
        printf("\n");
    }
    return 0;
}

/* Runtime dispatch (cpu_level_choose): without BIBIM_CPU the best level the
 * CPU supports; BIBIM_CPU forces any supported level, lower ones included,
 * and is refused for a level the CPU lacks and for an unknown name. */
static int test_choose(void) {
    const char *env = getenv("BIBIM_CPU");
    char *saved = env ? strdup(env) : NULL;
    char err[256];
    cpu_level best = CPU_LEVEL_SCALAR, got = CPU_LEVEL_COUNT;
    for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
        if (cpu_level_supported((cpu_level)l)) best = (cpu_level)l;
    }
    unsetenv("BIBIM_CPU");
    CHECK(cpu_level_choose(&got, err, sizeof err) == BIBIM_OK && got == best);
    printf("  default level: %s\n", cpu_level_name(got));
    for (int l = 0; l < CPU_LEVEL_COUNT; l++) {
        setenv("BIBIM_CPU", cpu_level_name((cpu_level)l), 1);
        got = CPU_LEVEL_COUNT;
        const bibim_status st = cpu_level_choose(&got, err, sizeof err);
        const char *name = cpu_level_name((cpu_level)l);
        if (cpu_level_supported((cpu_level)l)) {
            CHECKF(st == BIBIM_OK && got == (cpu_level)l, "BIBIM_CPU=%s: status %d, level %s", name, (int)st,
                   cpu_level_name(got));
        } else {
            CHECKF(st == BIBIM_ERR_INVALID_ARG, "BIBIM_CPU=%s accepted on a CPU without it", name);
        }
    }
    setenv("BIBIM_CPU", "sse2", 1);
    CHECK(cpu_level_choose(&got, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    if (saved) {
        setenv("BIBIM_CPU", saved, 1);
    } else {
        unsetenv("BIBIM_CPU");
    }
    free(saved);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tests: activation quantizers                                             */
/* ------------------------------------------------------------------------ */

/* Quantizes x with the level's kernel and the scalar one (into buffers
 * primed with different bytes, so that a byte left unwritten shows) and
 * compares. */
static void check_quantize(cpu_level l, bibim_type type, const float *x, int64_t n, const char *what) {
    const dot_kernel *k = dot_kernel_at(type, l), *ref = dot_kernel_for(type);
    const int64_t bytes = bibim_type_row_bytes(ref->act_type, n);
    unsigned char *got = malloc((size_t)bytes + 1), *want = malloc((size_t)bytes + 1);
    if (!got || !want || bytes < 0) {
        FAIL_AT("no memory");
    } else {
        memset(got, 0xA5, (size_t)bytes);
        memset(want, 0x5A, (size_t)bytes);
        k->quantize_act(x, got, n);
        ref->quantize_act(x, want, n);
        for (int64_t i = 0; i < bytes; i++) {
            if (got[i] != want[i]) {
                FAIL_AT("%s %s n=%lld (%s): byte %lld is 0x%02x, scalar 0x%02x", cpu_level_name(l),
                        bibim_type_name(type), (long long)n, what, (long long)i, got[i], want[i]);
                break;
            }
        }
    }
    free(got);
    free(want);
}

static const int64_t block_counts[] = {1, 2, 3, 5, 7, 9, 11, 13, 17, 19, 23, 29, 31};
#define N_BLOCK_COUNTS (sizeof block_counts / sizeof block_counts[0])
static const int64_t float_lengths[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 257, 1000, 1023};
#define N_FLOAT_LENGTHS (sizeof float_lengths / sizeof float_lengths[0])
static const int64_t large_lengths[] = {4096, 8192, 14336};

/* The row lengths tested for a weight type: odd block counts up to ~1023
 * elements, then the large rows. */
static int64_t length_at(bibim_type type, int i, int *more) {
    const int64_t be = block_elems(dot_kernel_for(type)->act_type);
    int64_t small[N_FLOAT_LENGTHS];
    int n_small = 0;
    if (be == 1) {
        for (size_t j = 0; j < N_FLOAT_LENGTHS; j++) small[n_small++] = float_lengths[j];
    } else {
        for (size_t j = 0; j < N_BLOCK_COUNTS; j++) {
            if (j == 0 || block_counts[j] * be <= 1023) small[n_small++] = block_counts[j] * be;
        }
    }
    *more = i + 1 < n_small + 3;
    return i < n_small ? small[i] : large_lengths[i - n_small];
}

static int test_quantize_random(void) {
    if (n_levels == 0) return 1;
    uint64_t rng = 1;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            int more = 1;
            for (int i = 0; more; i++) {
                const int64_t n = length_at(weight_types[t], i, &more);
                float *x = malloc((size_t)n * sizeof *x);
                if (!x) {
                    FAIL_AT("no memory");
                    continue;
                }
                random_acts(x, n, &rng);
                check_quantize(levels[li], weight_types[t], x, n, "random");
                /* Random bit patterns: every exponent, NaN and infinity included. */
                for (int64_t j = 0; j < n; j++) x[j] = f32_from_bits((uint32_t)next_u64(&rng));
                check_quantize(levels[li], weight_types[t], x, n, "random bits");
                free(x);
            }
        }
    }
    return 0;
}

/* Fills a block of `be` floats with special pattern p (0..N_SPECIAL-1). */
#define N_SPECIAL 22
static void special_block(float *x, int64_t be, int p, uint64_t *rng) {
    for (int64_t j = 0; j < be; j++) x[j] = 0.0f;
    switch (p) {
    case 0: break;                                                /* all zero */
    case 1: for (int64_t j = 0; j < be; j++) x[j] = -0.0f; break; /* all -0 */
    case 2: x[be - 1] = -3.0f; break;                             /* one non-zero, last */
    case 3: /* amax 127: codes x exactly, halves to even */
        for (int64_t j = 0; j < be; j++) x[j] = (float)(j % 64) - 31.5f;
        x[be / 2] = 127.0f;
        break;
    case 4: /* the same with the largest negative */
        for (int64_t j = 0; j < be; j++) x[j] = 30.5f - (float)(j % 61);
        x[1] = -127.0f;
        break;
    case 5: for (int64_t j = 0; j < be; j++) x[j] = (j & 1) ? FLT_MAX : -FLT_MAX; break;
    case 6: for (int64_t j = 0; j < be; j++) x[j] = (float)j * 1e30f; x[0] = FLT_MAX; break;
    case 7: x[be / 3] = INFINITY; x[1] = 1.0f; break;
    case 8: x[be / 3] = -INFINITY; x[2] = 5.0f; break;
    case 9: for (int64_t j = 0; j < be; j++) x[j] = (float)j; x[be / 2] = NAN; break;
    case 10: for (int64_t j = 0; j < be; j++) x[j] = NAN; break;
    case 11: for (int64_t j = 0; j < be; j++) x[j] = (j % 3) ? 1e-45f : 0.0f; break; /* amax subnormal: 127/amax = inf */
    case 12: for (int64_t j = 0; j < be; j++) x[j] = (float)(j % 7) * 1e-39f; break;
    case 13: for (int64_t j = 0; j < be; j++) x[j] = (float)(j % 5) * 1e-7f; break; /* d an f16 subnormal */
    case 14: x[0] = 65504.0f * 127.0f; x[1] = -1.0f; break; /* d = 65504 */
    case 15: x[0] = 65520.0f * 127.0f; x[1] = 7.0f; break; /* d rounds to inf */
    case 16: x[3] = 2.0f; x[be - 2] = -2.0f; break; /* +- tie: the first wins */
    case 17: x[3] = -2.0f; x[be - 2] = 2.0f; break;
    case 18: for (int64_t j = 0; j < be; j++) x[j] = (j & 1) ? 1.0f : -1.0f; break; /* all codes +-127 */
    case 19: /* every element ties at .5 after scaling by 127/amax = 0.5 */
        for (int64_t j = 0; j < be; j++) x[j] = (float)(2 * (j % 100) - 99) ;
        x[0] = 254.0f;
        break;
    case 20: for (int64_t j = 0; j < be; j++) x[j] = next_gaussian(rng) * 1e-3f; x[be - 1] = NAN; x[0] = -INFINITY; break;
    default: for (int64_t j = 0; j < be; j++) x[j] = f32_from_bits((uint32_t)next_u64(rng)); break;
    }
}

/* Float values at the rounding edges of f16 and bf16: every exponent with
 * mantissas just below, at and above the halfway points. */
static int64_t conversion_edges(float *x, int64_t cap) {
    static const uint32_t mants[] = {0,        1,        0xFFF,    0x1000,   0x1001,   0x2000,   0x3000,
                                     0x7FFF,   0x8000,   0x8001,   0x10000,  0x18000,  0x17FFF,  0x7FE000,
                                     0x7FF000, 0x7FEFFF, 0x7FFFFF, 0x400000, 0x400001, 0x3FFFFF, 0x401000};
    int64_t n = 0;
    for (uint32_t e = 0; e < 256; e++) {
        for (size_t m = 0; m < sizeof mants / sizeof mants[0]; m++) {
            for (uint32_t s = 0; s < 2; s++) {
                if (n < cap) x[n++] = f32_from_bits(s << 31 | e << 23 | mants[m]);
            }
        }
    }
    return n;
}

static int test_quantize_special(void) {
    if (n_levels == 0) return 1;
    uint64_t rng = 2;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const bibim_type type = weight_types[t];
            int64_t be = block_elems(dot_kernel_for(type)->act_type);
            if (be == 1) be = 32;
            const int64_t n = be * N_SPECIAL;
            float *x = malloc((size_t)n * sizeof *x);
            if (!x) {
                FAIL_AT("no memory");
                continue;
            }
            /* All patterns in one row, and each alone (a row of one block). */
            for (int p = 0; p < N_SPECIAL; p++) special_block(x + p * be, be, p, &rng);
            check_quantize(levels[li], type, x, n, "special blocks");
            for (int p = 0; p < N_SPECIAL; p++) {
                char what[32];
                snprintf(what, sizeof what, "special block %d", p);
                check_quantize(levels[li], type, x + p * be, be, what);
            }
            free(x);
            if (float_type(type)) {
                const int64_t cap = 256 * 21 * 2;
                float *e = malloc((size_t)cap * sizeof *e);
                if (!e) {
                    FAIL_AT("no memory");
                    continue;
                }
                const int64_t ne = conversion_edges(e, cap);
                check_quantize(levels[li], type, e, ne, "rounding edges");
                free(e);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tests: dots                                                              */
/* ------------------------------------------------------------------------ */

/* The level's dot and the scalar's on weights w and activations
 * quantized from x; checks they agree. */
static void check_dot(cpu_level l, bibim_type type, const unsigned char *w, const float *x, int64_t n,
                      const char *what) {
    const dot_kernel *k = dot_kernel_at(type, l), *ref = dot_kernel_for(type);
    const int64_t act_bytes = bibim_type_row_bytes(ref->act_type, n);
    tail_buf act;
    if (act_bytes < 0 || tail_alloc(&act, (size_t)act_bytes, 0) != 0) {
        FAIL_AT("no memory");
        return;
    }
    ref->quantize_act(x, act.p, n);
    float got = -1.0f, want = -2.0f;
    k->dot(n, w, act.p, &got);
    ref->dot(n, w, act.p, &want);
    const double mag = dot_magnitude(type, ref->act_type, w, act.p, n);
    if (!dots_agree(type, got, want, mag, n)) {
        FAIL_AT("%s %s n=%lld (%s): %.9g, scalar %.9g (difference %.3g of sum |w*a| = %.6g)", cpu_level_name(l),
                bibim_type_name(type), (long long)n, what, (double)got, (double)want,
                fabs((double)got - (double)want) / mag, mag);
    }
    tail_free(&act);
}

static int test_dot_random(void) {
    if (n_levels == 0) return 1;
    uint64_t rng = 3;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const bibim_type type = weight_types[t];
            int more = 1;
            for (int i = 0; more; i++) {
                const int64_t n = length_at(type, i, &more);
                const int64_t w_bytes = bibim_type_row_bytes(type, n);
                tail_buf w;
                float *x = malloc((size_t)n * sizeof *x);
                if (!x || w_bytes < 0 || tail_alloc(&w, (size_t)w_bytes, 0) != 0) {
                    FAIL_AT("no memory");
                    free(x);
                    continue;
                }
                for (int rep = 0; rep < 2; rep++) {
                    random_acts(x, n, &rng);
                    if (quantized_weights(type, w.p, n, &rng) != 0) FAIL_AT("quantize_row failed");
                    check_dot(levels[li], type, w.p, x, n, "quantized weights");
                    raw_weights(type, w.p, n, &rng);
                    check_dot(levels[li], type, w.p, x, n, "random block bytes");
                }
                tail_free(&w);
                free(x);
            }
        }
    }
    return 0;
}

/* Tiny activations, so that d_a and d_w * d_a are subnormal floats: a
 * kernel whose float steps flush subnormals to zero (32-bit NEON always
 * does) gives 0 where the scalar twin does not. */
static int test_dot_subnormal_scales(void) {
    if (n_levels == 0) return 1;
    uint64_t rng = 5;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const bibim_type type = weight_types[t];
            if (float_type(type)) continue;
            const int64_t n = 3 * 256, w_bytes = bibim_type_row_bytes(type, n);
            tail_buf w;
            float *x = malloc((size_t)n * sizeof *x);
            if (!x || w_bytes < 0 || tail_alloc(&w, (size_t)w_bytes, 0) != 0) {
                FAIL_AT("no memory");
                free(x);
                continue;
            }
            for (int rep = 0; rep < 4; rep++) {
                random_acts(x, n, &rng);
                if (quantized_weights(type, w.p, n, &rng) != 0) FAIL_AT("quantize_row failed");
                for (int64_t i = 0; i < n; i++) x[i] *= 0x1p-120f;
                check_dot(levels[li], type, w.p, x, n, "subnormal scales");
            }
            tail_free(&w);
            free(x);
        }
    }
    return 0;
}

/* Rows whose float sums are exact in any order: d_w = 2^-4 (and m_w for
 * Q4_1/Q5_1), activation blocks with amax 127 (so d_a = 1 and the codes
 * are the integers given), so every block term is a multiple of 2^-4 and,
 * with sum |terms| < 2^20, so is every partial sum, exactly. Then the
 * level's dot must equal the scalar's exactly whatever the order. */
static int test_dot_exact_sums(void) {
    if (n_levels == 0) return 1;
    uint64_t rng = 4;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const bibim_type type = weight_types[t];
            if (float_type(type) || bibim_type_block_elems(type) != 32) continue;
            for (int64_t nb = 1; nb <= 130; nb += nb < 40 ? 1 : 29) {
                const int64_t n = 32 * nb, bb = bibim_type_block_bytes(type);
                const int64_t w_bytes = bibim_type_row_bytes(type, n);
                tail_buf w;
                float *x = malloc((size_t)n * sizeof *x);
                if (!x || tail_alloc(&w, (size_t)w_bytes, 0) != 0) {
                    FAIL_AT("no memory");
                    free(x);
                    continue;
                }
                raw_weights(type, w.p, n, &rng);
                int off[2];
                const int nh = half_fields(type, off);
                for (int64_t b = 0; b < nb; b++) {
                    for (int k = 0; k < nh; k++) put_u16(w.p + b * bb + off[k], (next_u64(&rng) & 1) ? 0x2C00 : 0xAC00);
                    for (int j = 0; j < 32; j++) x[32 * b + j] = (float)((int)(next_u64(&rng) % 31) - 15);
                    x[32 * b + (int)(next_u64(&rng) % 32)] = (next_u64(&rng) & 1) ? 127.0f : -127.0f;
                }
                const dot_kernel *k = dot_kernel_at(type, levels[li]), *ref = dot_kernel_for(type);
                tail_buf act;
                if (tail_alloc(&act, (size_t)bibim_type_row_bytes(ref->act_type, n), 0) != 0) {
                    FAIL_AT("no memory");
                } else {
                    ref->quantize_act(x, act.p, n);
                    const double m = dot_magnitude(type, ref->act_type, w.p, act.p, n);
                    CHECKF(m * 16.0 < 0x1p24, "test rows too large for exact sums: %g", m);
                    float got = -1.0f, want = -2.0f;
                    k->dot(n, w.p, act.p, &got);
                    ref->dot(n, w.p, act.p, &want);
                    if (f32_bits(got) != f32_bits(want)) {
                        FAIL_AT("%s %s %lld blocks: %.9g, scalar %.9g (sums are exact: an integer part differs)",
                                cpu_level_name(levels[li]), bibim_type_name(type), (long long)nb, (double)got,
                                (double)want);
                    }
                    tail_free(&act);
                }
                tail_free(&w);
                free(x);
            }
        }
    }
    return 0;
}

/* Weight blocks of one byte pattern everywhere (codes, scales, high bits)
 * with the f16 fields at `h`; float rows all one value. */
static void pattern_weights(bibim_type type, unsigned char *w, int64_t n, unsigned char pattern, uint16_t h) {
    const int64_t bytes = bibim_type_row_bytes(type, n);
    memset(w, pattern, (size_t)bytes);
    if (type == BIBIM_TYPE_F32) {
        const float v = h == 0x3C00 ? 1.0f : (pattern & 1) ? -FLT_MAX : FLT_MAX;
        for (int64_t i = 0; i < n; i++) memcpy(w + 4 * i, &v, 4);
    } else if (type == BIBIM_TYPE_F16 || type == BIBIM_TYPE_BF16) {
        const uint16_t v = type == BIBIM_TYPE_F16 ? h : (h == 0x3C00 ? 0x3F80 : (uint16_t)(0x7F7F | (h & 0x8000)));
        for (int64_t i = 0; i < n; i++) put_u16(w + 2 * i, v);
    } else {
        int off[2];
        const int nh = half_fields(type, off);
        const int64_t bb = bibim_type_block_bytes(type);
        for (int64_t b = 0; b < bytes / bb; b++) {
            for (int k = 0; k < nh; k++) put_u16(w + b * bb + off[k], h);
        }
    }
}

static int test_dot_extremes(void) {
    if (n_levels == 0) return 1;
    static const unsigned char patterns[] = {0x00, 0xFF, 0x80, 0x7F, 0x88, 0x77, 0x55, 0xAA, 0x0F, 0xF0};
    static const uint16_t halves[] = {0x3C00, 0x7BFF, 0xFBFF, 0x0001};
    uint64_t rng = 5;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const bibim_type type = weight_types[t];
            const int64_t be = block_elems(dot_kernel_for(type)->act_type);
            const int64_t n = be == 1 ? 96 : be == 32 ? 7 * 32 : 2 * QK_K;
            tail_buf w;
            float *x = malloc((size_t)n * sizeof *x);
            if (!x || tail_alloc(&w, (size_t)bibim_type_row_bytes(type, n), 0) != 0) {
                FAIL_AT("no memory");
                free(x);
                continue;
            }
            for (size_t p = 0; p < sizeof patterns; p++) {
                for (size_t h = 0; h < sizeof halves / sizeof halves[0]; h++) {
                    pattern_weights(type, w.p, n, patterns[p], halves[h]);
                    for (int a = 0; a < 5; a++) {
                        for (int64_t i = 0; i < n; i++) {
                            switch (a) {
                            case 0: x[i] = (i & 1) ? 1.0f : -1.0f; break; /* codes +-127 */
                            case 1: x[i] = 1.0f; break;
                            case 2: x[i] = -1.0f; break;
                            case 3: x[i] = 0.0f; break;
                            default: x[i] = next_gaussian(&rng); break;
                            }
                        }
                        char what[64];
                        snprintf(what, sizeof what, "pattern 0x%02x, halves 0x%04x, activations %d", patterns[p],
                                 halves[h], a);
                        check_dot(levels[li], type, w.p, x, n, what);
                    }
                }
            }
            tail_free(&w);
            free(x);
        }
    }
    return 0;
}

/* Weight rows at every legal offset from a 64-byte boundary (2 bytes; 4
 * for F32), ending where their allocation ends; activations at offset 0
 * and at their least legal alignment. The results must not change at all
 * with the offsets, and must agree with the scalar's. */
static int test_misaligned(void) {
    if (n_levels == 0) return 1;
    uint64_t rng = 6;
    for (int li = 0; li < n_levels; li++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const bibim_type type = weight_types[t];
            const dot_kernel *k = dot_kernel_at(type, levels[li]), *ref = dot_kernel_for(type);
            const int64_t be = block_elems(ref->act_type);
            const int64_t n = be == 1 ? 1001 : be == 32 ? 9 * 32 : 3 * QK_K;
            const int64_t w_bytes = bibim_type_row_bytes(type, n), act_bytes = bibim_type_row_bytes(ref->act_type, n);
            const size_t w_step = type == BIBIM_TYPE_F32 ? 4 : 2;
            const size_t a_step = ref->act_type == BIBIM_TYPE_F32 || ref->act_type == BIBIM_TYPE_Q8_K ? 4 : 2;
            unsigned char *row = malloc((size_t)w_bytes), *act0 = malloc((size_t)act_bytes);
            float *x = malloc((size_t)n * sizeof *x);
            if (!row || !act0 || !x || quantized_weights(type, row, n, &rng) != 0) {
                FAIL_AT("no memory");
                free(row);
                free(act0);
                free(x);
                continue;
            }
            random_acts(x, n, &rng);
            ref->quantize_act(x, act0, n);
            float want;
            ref->dot(n, row, act0, &want);
            float first = 0.0f;
            int have_first = 0;
            for (size_t a_off = 0; a_off <= a_step; a_off += a_step) {
                tail_buf act;
                if (tail_alloc(&act, (size_t)act_bytes, a_off) != 0) {
                    FAIL_AT("no memory");
                    continue;
                }
                k->quantize_act(x, act.p, n);
                if (memcmp(act.p, act0, (size_t)act_bytes) != 0) {
                    FAIL_AT("%s %s: activations quantized at offset %zu differ", cpu_level_name(levels[li]),
                            bibim_type_name(type), a_off);
                }
                for (size_t w_off = 0; w_off < 64; w_off += w_step) {
                    tail_buf w;
                    if (tail_alloc(&w, (size_t)w_bytes, w_off) != 0) {
                        FAIL_AT("no memory");
                        continue;
                    }
                    memcpy(w.p, row, (size_t)w_bytes);
                    float got;
                    k->dot(n, w.p, act.p, &got);
                    if (!have_first) {
                        first = got;
                        have_first = 1;
                        const double mag = dot_magnitude(type, ref->act_type, row, act0, n);
                        if (!dots_agree(type, got, want, mag, n)) {
                            FAIL_AT("%s %s: %.9g, scalar %.9g", cpu_level_name(levels[li]), bibim_type_name(type),
                                    (double)got, (double)want);
                        }
                    } else if (f32_bits(got) != f32_bits(first)) {
                        FAIL_AT("%s %s: weights at offset %zu, activations at %zu: %.9g, aligned %.9g",
                                cpu_level_name(levels[li]), bibim_type_name(type), w_off, a_off, (double)got,
                                (double)first);
                    }
                    tail_free(&w);
                }
                tail_free(&act);
            }
            free(row);
            free(act0);
            free(x);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Throughput (information)                                                 */
/* ------------------------------------------------------------------------ */

/* Matrices stream from memory as in decoding: passes rotate over copies
 * filling BENCH_POOL bytes, 3 times this machine's last-level cache and
 * more than most. "cached" repeats BENCH_HOT_ROWS rows that stay in L2,
 * the kernels' compute speed (what prefill, many tokens per row, sees). */
#define BENCH_POOL ((int64_t)96 << 20)
#define BENCH_DISTINCT 16
#define BENCH_HOT_ROWS 32
#define BENCH_SECONDS 0.04

typedef struct bench_job {
    const dot_kernel *k;
    const unsigned char *m;
    const unsigned char *act;
    int64_t n, row_bytes, r0, r1;
    float *out;
} bench_job;

static void bench_rows(const bench_job *j) {
    for (int64_t r = j->r0; r < j->r1; r++) j->k->dot(j->n, j->m + r * j->row_bytes, j->act, &j->out[r]);
}

/* Two threads: the main one and a helper, meeting at a barrier per pass. */
typedef struct bench_pair {
    pthread_barrier_t start, done;
    bench_job job;
    int quit;
} bench_pair;

static void *bench_helper(void *arg) {
    bench_pair *p = arg;
    for (;;) {
        pthread_barrier_wait(&p->start);
        if (p->quit) return NULL;
        bench_rows(&p->job);
        pthread_barrier_wait(&p->done);
    }
}

/* GB/s of weights: the best pass of a rows x n matrix-vector product,
 * pass i on the matrix at pool + (i % copies) * rows * row_bytes; with
 * `pair`, the rows split in two halves between two threads. */
static double bench_stream(const dot_kernel *k, bibim_type type, const unsigned char *pool, int64_t copies,
                           int64_t rows, int64_t n, const unsigned char *act, float *out, bench_pair *pair) {
    const int64_t row_bytes = bibim_type_row_bytes(type, n);
    double best = INFINITY, total = 0;
    int64_t pass = 0;
    do {
        bench_job mine = {k, pool + (pass % copies) * rows * row_bytes, act, n, row_bytes, 0, rows, out};
        const double start = now_seconds();
        if (pair) {
            pair->job = mine;
            pair->job.r0 = mine.r1 = rows / 2;
            pthread_barrier_wait(&pair->start);
            bench_rows(&mine);
            pthread_barrier_wait(&pair->done);
        } else {
            bench_rows(&mine);
        }
        const double elapsed = now_seconds() - start;
        best = elapsed < best ? elapsed : best;
        total += elapsed;
        pass++;
    } while (total < BENCH_SECONDS || pass < 3);
    return (double)(rows * row_bytes) / best * 1e-9;
}

/* GB/s of weights over BENCH_HOT_ROWS rows that stay in cache. */
static double bench_hot(const dot_kernel *k, bibim_type type, const unsigned char *m, int64_t n,
                        const unsigned char *act, float *out) {
    const int64_t row_bytes = bibim_type_row_bytes(type, n);
    const bench_job job = {k, m, act, n, row_bytes, 0, BENCH_HOT_ROWS, out};
    double best = INFINITY, total = 0;
    int pass = 0;
    do {
        const double start = now_seconds();
        for (int rep = 0; rep < 16; rep++) bench_rows(&job);
        const double elapsed = now_seconds() - start;
        best = elapsed < best ? elapsed : best;
        total += elapsed;
        pass++;
    } while (total < BENCH_SECONDS / 2 || pass < 3);
    return (double)(16 * BENCH_HOT_ROWS * row_bytes) / best * 1e-9;
}

typedef struct bench_shape {
    int64_t rows, cols;
} bench_shape;

static const bench_shape bench_shapes[2] = {{4096, 4096}, {8192, 2048}};

static int test_throughput(void) {
    if (skip_timings()) return 1;
    bench_pair pair;
    pthread_t helper;
    pair.quit = 0;
    pthread_barrier_init(&pair.start, NULL, 2);
    pthread_barrier_init(&pair.done, NULL, 2);
    if (pthread_create(&helper, NULL, bench_helper, &pair) != 0) {
        FAIL_AT("pthread_create failed");
        return 0;
    }
    cpu_level all[CPU_LEVEL_COUNT];
    int n_all = 0;
    all[n_all++] = CPU_LEVEL_SCALAR;
    for (int li = 0; li < n_levels; li++) all[n_all++] = levels[li];
    uint64_t rng = 7;
    printf("  GB/s of weights, single thread unless said; from memory: matrices rotate over %d MiB; cached: %d rows\n"
           "  type   level     4096x4096  8192x2048  cached(4096)  2 threads(4096x4096)\n",
           (int)(BENCH_POOL >> 20), BENCH_HOT_ROWS);
    for (size_t t = 0; t < N_TYPES; t++) {
        const bibim_type type = weight_types[t];
        double gbs[CPU_LEVEL_COUNT][4];
        for (int s = 0; s < 2; s++) {
            const int64_t rows = bench_shapes[s].rows, n = bench_shapes[s].cols;
            const int64_t row_bytes = bibim_type_row_bytes(type, n), mat = rows * row_bytes;
            const int64_t copies = (BENCH_POOL + mat - 1) / mat;
            unsigned char *pool = malloc((size_t)(copies * mat));
            float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)rows * sizeof *out);
            unsigned char *act = malloc((size_t)bibim_type_row_bytes(dot_kernel_for(type)->act_type, n));
            int ok = pool && x && out && act;
            for (int r = 0; ok && r < BENCH_DISTINCT; r++) ok = quantized_weights(type, pool + r * row_bytes, n, &rng) == 0;
            if (!ok) {
                FAIL_AT("no memory");
            } else {
                for (int64_t r = BENCH_DISTINCT; r < copies * rows; r++) {
                    memcpy(pool + r * row_bytes, pool + (r % BENCH_DISTINCT) * row_bytes, (size_t)row_bytes);
                }
                random_acts(x, n, &rng);
                for (int li = 0; li < n_all; li++) {
                    const dot_kernel *k = dot_kernel_at(type, all[li]);
                    k->quantize_act(x, act, n);
                    gbs[li][s] = bench_stream(k, type, pool, copies, rows, n, act, out, NULL);
                    if (s == 0) {
                        gbs[li][2] = bench_hot(k, type, pool, n, act, out);
                        gbs[li][3] = bench_stream(k, type, pool, copies, rows, n, act, out, &pair);
                    }
                    int finite = 1;
                    for (int64_t r = 0; r < rows; r++) finite &= isfinite(out[r]) != 0;
                    CHECK(finite);
                }
            }
            free(pool);
            free(x);
            free(out);
            free(act);
        }
        for (int li = 0; li < n_all; li++) {
            printf("  %-5s  %-7s  %9.2f  %9.2f  %12.2f  %10.2f\n", bibim_type_name(type), cpu_level_name(all[li]),
                   gbs[li][0], gbs[li][1], gbs[li][2], gbs[li][3]);
        }
        fflush(stdout);
    }
    pair.quit = 1;
    pthread_barrier_wait(&pair.start);
    pthread_join(helper, NULL);
    pthread_barrier_destroy(&pair.start);
    pthread_barrier_destroy(&pair.done);
    return 0;
}

int main(void) {
    choose_levels(0);
    RUN(test_levels);
    RUN(test_choose);
    RUN(test_quantize_random);
    RUN(test_quantize_special);
    RUN(test_dot_random);
    RUN(test_dot_exact_sums);
    RUN(test_dot_subnormal_scales);
    RUN(test_dot_extremes);
    RUN(test_misaligned);
    if (!getenv("BIBIM_NO_BENCH")) RUN(test_throughput);
    return harness_finish();
}
