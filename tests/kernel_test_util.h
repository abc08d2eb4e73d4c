/* kernel_test_util.h — what the kernel tests (test_dot.c, test_dot_simd.c,
 * test_packed.c, test_packed_f16.c) share: random numbers, halves and the
 * f16 fields of blocks, failure reports, the levels to test, a clock.
 * Include after harness.h. */
#ifndef BIBIM_KERNEL_TEST_UTIL_H
#define BIBIM_KERNEL_TEST_UTIL_H

#include "bibim.h"
#include "harness.h"
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Built with AddressSanitizer (gcc or clang): timings mean nothing. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(UNDER_ASAN)
#define UNDER_ASAN 1
#endif

/* ------------------------------------------------------------------------ */
/* Random numbers (splitmix64)                                              */
/* ------------------------------------------------------------------------ */

static inline uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double next_uniform(uint64_t *state) { return (double)(next_u64(state) >> 11) * 0x1p-53; }

static inline float next_gaussian(uint64_t *state) {
    const double u = next_uniform(state), v = next_uniform(state);
    return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v));
}

/* ------------------------------------------------------------------------ */
/* Bytes, halves and blocks                                                 */
/* ------------------------------------------------------------------------ */

static inline void put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* A finite half between about 2^-10 and 2^6, either sign, or 0 or a
 * subnormal now and then. */
static inline uint16_t moderate_half(uint64_t *rng) {
    const uint64_t r = next_u64(rng);
    const uint16_t sign = (uint16_t)((r & 1) << 15), mant = (uint16_t)((r >> 1) & 0x3FF);
    switch ((r >> 11) % 16) {
    case 0: return sign;
    case 1: return (uint16_t)(sign | mant);
    default: return (uint16_t)(sign | (uint16_t)(5 + (r >> 16) % 16) << 10 | mant);
    }
}

/* Byte offsets of the f16 fields of a block (d, and m or dmin); how many. */
static inline int half_fields(bibim_type t, int off[2]) {
    switch (t) {
    case BIBIM_TYPE_Q4_0:
    case BIBIM_TYPE_Q5_0:
    case BIBIM_TYPE_Q8_0: off[0] = 0; return 1;
    case BIBIM_TYPE_Q4_1:
    case BIBIM_TYPE_Q5_1:
    case BIBIM_TYPE_Q4_K:
    case BIBIM_TYPE_Q5_K: off[0] = 0; off[1] = 2; return 2;
    case BIBIM_TYPE_Q2_K: off[0] = 80; off[1] = 82; return 2;
    case BIBIM_TYPE_Q3_K: off[0] = 108; return 1;
    case BIBIM_TYPE_Q6_K: off[0] = 208; return 1;
    default: return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Failures                                                                 */
/* ------------------------------------------------------------------------ */

/* 1 for the first 8 failure reports of the program, then 0. */
static inline int report_more(void) {
    static int n_reported;
    return n_reported++ < 8;
}

/* Fails the current case; prints the details of the first few only. */
#define FAIL_AT(...)                                                                                       \
    do {                                                                                                   \
        harness_case_failed = 1;                                                                           \
        if (report_more()) {                                                                               \
            printf("  %s: ", harness_case_name);                                                           \
            printf(__VA_ARGS__);                                                                           \
            printf("\n");                                                                                  \
        }                                                                                                  \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Levels                                                                   */
/* ------------------------------------------------------------------------ */

static cpu_level levels[CPU_LEVEL_COUNT]; /* the levels to test, lowest first */
static int n_levels;
static int bad_cap;  /* BIBIM_CPU_MAX names no level */
static int valgrind; /* running under valgrind (seen by its preloaded library) */

/* The level whose kernels a level falls back to. */
static inline cpu_level level_below(cpu_level l) {
    switch (l) {
    case CPU_LEVEL_AVX512: return CPU_LEVEL_AVX2;
    case CPU_LEVEL_I8MM: return CPU_LEVEL_DOTPROD;
    case CPU_LEVEL_DOTPROD: return CPU_LEVEL_NEON;
    default: return CPU_LEVEL_SCALAR;
    }
}

/* 1 if level l is cap or one of the levels below it. */
static inline int level_within(cpu_level l, cpu_level cap) {
    for (cpu_level c = cap;; c = level_below(c)) {
        if (c == l) return 1;
        if (c == CPU_LEVEL_SCALAR) return 0;
    }
}

/* Fills levels[]: the scalar level if with_scalar, then every SIMD level
 * the CPU supports, capped by the environment variable BIBIM_CPU_MAX (a
 * level name; under valgrind the cap defaults to avx2, as valgrind cannot
 * run AVX-512). Prints a line for each level left out. */
static inline void choose_levels(int with_scalar) {
    const char *preload = getenv("LD_PRELOAD");
    valgrind = preload && strstr(preload, "vgpreload") != NULL;
    const char *cap_name = getenv("BIBIM_CPU_MAX");
    int capped = 0;
    cpu_level cap = CPU_LEVEL_SCALAR;
    if (cap_name && *cap_name) {
        capped = 1;
        bad_cap = 1;
        for (int l = 0; l < CPU_LEVEL_COUNT; l++) {
            if (strcmp(cap_name, cpu_level_name((cpu_level)l)) == 0) {
                cap = (cpu_level)l;
                bad_cap = 0;
            }
        }
    } else if (valgrind) {
        capped = 1;
        cap = CPU_LEVEL_AVX2;
        cap_name = "avx2 (running under valgrind)";
    }
    if (with_scalar) levels[n_levels++] = CPU_LEVEL_SCALAR;
    for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
        if (!cpu_level_supported((cpu_level)l)) {
            printf("skip level %s: this CPU or build lacks it\n", cpu_level_name((cpu_level)l));
        } else if (capped && !level_within((cpu_level)l, cap)) {
            printf("skip level %s: above BIBIM_CPU_MAX=%s\n", cpu_level_name((cpu_level)l), cap_name);
        } else {
            levels[n_levels++] = (cpu_level)l;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Time                                                                     */
/* ------------------------------------------------------------------------ */

/* 1, having said why, where timings mean nothing: under valgrind or
 * AddressSanitizer. */
static inline int skip_timings(void) {
    if (valgrind) {
        printf("skip %s: under valgrind the timings mean nothing\n", harness_case_name);
        return 1;
    }
#ifdef UNDER_ASAN
    printf("skip %s: under AddressSanitizer the timings mean nothing\n", harness_case_name);
    return 1;
#else
    return 0;
#endif
}

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
