/* kernels.h — the compute primitives the forward pass is built from.
 *
 * Matrix products follow llama.cpp's scheme so that logits agree with it
 * closely: activations are first converted to the "activation type" that
 * pairs with the weight type, then each weight row is dotted with them:
 *
 *   weight type          activation type   dot product
 *   F32                  F32               float
 *   F16                  F16               f16 x f16, float accumulation
 *   BF16                 BF16              bf16 x bf16, float accumulation
 *   Q4_0, Q5_0, Q8_0     Q8_0              integer per block, scaled
 *   Q4_1, Q5_1           Q8_1              integer per block, scaled, + min term
 *   Q2_K .. Q6_K         Q8_K              integer per sub-block, scaled
 */
#ifndef BIBIM_KERNELS_H
#define BIBIM_KERNELS_H

#include "bibim.h"

/* Converts n floats to the activation type (n a multiple of its block). */
typedef void (*quantize_act_fn)(const float *x, void *y, int64_t n);
/* *out = dot product of one weight row (n elements) and activations in the
 * matching activation type. */
typedef void (*vec_dot_fn)(int64_t n, const void *w_row, const void *act, float *out);

typedef struct dot_kernel {
    bibim_type act_type;
    quantize_act_fn quantize_act;
    vec_dot_fn dot;
} dot_kernel;

/* The scalar kernel for weights of `type`, or NULL if bibim cannot compute
 * with it. Every SIMD kernel has this scalar twin, which tests compare it to. */
const dot_kernel *dot_kernel_for(bibim_type type);

/* Instruction-set levels that have kernels of their own. A level's kernels
 * use only instructions the level guarantees; a type without a kernel at
 * some level uses the next lower level's. */
typedef enum cpu_level {
    CPU_LEVEL_SCALAR = 0, /* portable C: any CPU */
    CPU_LEVEL_AVX2,       /* x86-64 with AVX2, FMA, F16C */
    CPU_LEVEL_AVX512,     /* + AVX-512 F/BW/VL/DQ and VNNI */
    CPU_LEVEL_NEON,       /* AArch64 Advanced SIMD (always present on AArch64) */
    CPU_LEVEL_DOTPROD,    /* + the SDOT/UDOT instructions */
    CPU_LEVEL_COUNT
} cpu_level;

/* "scalar", "avx2", "avx512", "neon", "dotprod". */
const char *cpu_level_name(cpu_level level);
/* 1 if this CPU (and this build) can run the level's kernels. */
int cpu_level_supported(cpu_level level);
/* The best supported level, or the one the environment variable BIBIM_CPU
 * names (one of the names above). BIBIM_ERR_INVALID_ARG with a message in
 * errmsg if BIBIM_CPU names an unknown level or one this CPU lacks. */
bibim_status cpu_level_choose(cpu_level *level, char *errmsg, size_t errmsg_size);

/* The kernel for weights of `type` at `level`, or NULL for types bibim
 * cannot compute with. Activation types are the same at every level, so
 * results differ from the scalar twin only by float summation order. */
const dot_kernel *dot_kernel_at(bibim_type type, cpu_level level);

/* Each level's own kernels (dot_<level>.c), NULL for types it leaves to the
 * level below. Only dot_kernel_at calls these. */
const dot_kernel *dot_kernel_avx2(bibim_type type);
const dot_kernel *dot_kernel_avx512(bibim_type type);
const dot_kernel *dot_kernel_neon(bibim_type type);
const dot_kernel *dot_kernel_dotprod(bibim_type type);

#endif
