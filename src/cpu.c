/* cpu.c — which instruction-set level this CPU supports, and the kernel
 * table of each level (runtime dispatch: one binary runs everywhere). */
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__aarch64__) || defined(__arm__)) && defined(__linux__)
#include <sys/auxv.h>
#endif

static const char *const level_names[CPU_LEVEL_COUNT] = {"scalar", "avx2", "avx512", "neon", "dotprod", "i8mm"};

const char *cpu_level_name(cpu_level level) {
    return (unsigned)level < CPU_LEVEL_COUNT ? level_names[level] : "unknown";
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

/* The x86 features the kernels need, from CPUID, and whether the OS saves
 * the AVX and AVX-512 registers (XGETBV): a CPU feature the OS does not
 * enable would fault. */
typedef struct x86_features {
    int avx2, fma, f16c, avx512;
} x86_features;

static x86_features x86_detect(void) {
    x86_features f = {0, 0, 0, 0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    f.fma = (c >> 12) & 1;
    f.f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return f;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    int ymm_saved = (xcr0_lo & 0x6) == 0x6, zmm_saved = (xcr0_lo & 0xE6) == 0xE6;
    if (!ymm_saved || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    f.avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int avx512vnni = (c >> 11) & 1;
    f.avx512 = zmm_saved && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni;
    return f;
}
#endif

int cpu_level_supported(cpu_level level) {
    switch (level) {
    case CPU_LEVEL_SCALAR: return 1;
#if defined(__x86_64__) && defined(__GNUC__)
    case CPU_LEVEL_AVX2: {
        x86_features f = x86_detect();
        return f.avx2 && f.fma && f.f16c;
    }
    case CPU_LEVEL_AVX512: {
        x86_features f = x86_detect();
        return f.avx2 && f.fma && f.f16c && f.avx512;
    }
#endif
#if defined(__aarch64__)
    case CPU_LEVEL_NEON: return 1;
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
    case CPU_LEVEL_DOTPROD: return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#if defined(HWCAP2_I8MM)
    /* The i8mm level runs the dotprod level's kernels too. */
    case CPU_LEVEL_I8MM:
        return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0 && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0 &&
               packed_gemm_i8mm(BIBIM_TYPE_Q4_0) != NULL;
#endif
#endif
#elif defined(__arm__) && defined(__linux__) && defined(HWCAP_ARM_NEON) && defined(HWCAP_ARM_VFPv4)
    /* 32-bit Arm: NEON is optional, and the kernels (dot_neon32.c) also
     * need VFPv4's FMA; the build has them only with -mfpu=neon-vfpv4. */
    case CPU_LEVEL_NEON: {
        const unsigned long need = HWCAP_ARM_NEON | HWCAP_ARM_VFPv4;
        return dot_kernel_neon(BIBIM_TYPE_Q8_0) != NULL && (getauxval(AT_HWCAP) & need) == need;
    }
#endif
    default: return 0;
    }
}

bibim_status cpu_level_choose(cpu_level *level, char *errmsg, size_t errmsg_size) {
    const char *forced = getenv("BIBIM_CPU");
    if (forced && *forced) {
        for (int l = 0; l < CPU_LEVEL_COUNT; l++) {
            if (strcmp(forced, level_names[l]) != 0) continue;
            if (!cpu_level_supported((cpu_level)l)) {
                snprintf(errmsg, errmsg_size, "BIBIM_CPU=%s: this CPU or build does not support it", forced);
                return BIBIM_ERR_INVALID_ARG;
            }
            *level = (cpu_level)l;
            return BIBIM_OK;
        }
        snprintf(errmsg, errmsg_size, "BIBIM_CPU=%s is not a level (scalar, avx2, avx512, neon, dotprod, i8mm)", forced);
        return BIBIM_ERR_INVALID_ARG;
    }
    *level = CPU_LEVEL_SCALAR;
    for (int l = CPU_LEVEL_COUNT - 1; l > 0; l--) {
        if (cpu_level_supported((cpu_level)l)) {
            *level = (cpu_level)l;
            break;
        }
    }
    return BIBIM_OK;
}

const dot_kernel *dot_kernel_at(bibim_type type, cpu_level level) {
    const dot_kernel *k = NULL;
    switch (level) {
    case CPU_LEVEL_I8MM: /* no row kernels of its own: fall through */
    case CPU_LEVEL_DOTPROD: k = dot_kernel_dotprod(type); if (k) return k; /* fall through */
    case CPU_LEVEL_NEON: k = dot_kernel_neon(type); break;
    case CPU_LEVEL_AVX512: k = dot_kernel_avx512(type); if (k) return k; /* fall through */
    case CPU_LEVEL_AVX2: k = dot_kernel_avx2(type); break;
    default: break;
    }
    return k ? k : dot_kernel_for(type);
}

const packed_layout *packed_layout_for(bibim_type type) {
    const packed_layout *l = packed_layout_quant(type);
    return l ? l : packed_layout_f16(type);
}

/* The quantized types' gemm, then F16/BF16's, at one level. */
static packed_gemm_fn packed_gemm_exactly(bibim_type type, cpu_level level) {
    packed_gemm_fn g = NULL;
    switch (level) {
    case CPU_LEVEL_AVX512: g = packed_gemm_avx512(type); return g ? g : packed_gemm_f16_avx512(type);
    case CPU_LEVEL_AVX2: g = packed_gemm_avx2(type); return g ? g : packed_gemm_f16_avx2(type);
    case CPU_LEVEL_SCALAR: g = packed_gemm_scalar(type); return g ? g : packed_gemm_f16_scalar(type);
    case CPU_LEVEL_I8MM: return packed_gemm_i8mm(type);
    case CPU_LEVEL_DOTPROD: return packed_gemm_dotprod(type);
    default: return NULL;
    }
}

packed_gemm_fn packed_gemm_at(bibim_type type, cpu_level level) {
    packed_gemm_fn g = NULL;
    switch (level) {
    case CPU_LEVEL_AVX512: g = packed_gemm_exactly(type, CPU_LEVEL_AVX512); if (g) return g; /* fall through */
    case CPU_LEVEL_AVX2: g = packed_gemm_exactly(type, CPU_LEVEL_AVX2); break;
    case CPU_LEVEL_I8MM: g = packed_gemm_exactly(type, CPU_LEVEL_I8MM); if (g) return g; /* fall through */
    case CPU_LEVEL_DOTPROD: g = packed_gemm_exactly(type, CPU_LEVEL_DOTPROD); break;
    default: break;
    }
    return g ? g : packed_gemm_exactly(type, CPU_LEVEL_SCALAR);
}
