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
    CPU_LEVEL_NEON,       /* Advanced SIMD: always on AArch64; on 32-bit Arm
                           * NEON + VFPv4, seen at run time (dot_neon32.c) */
    CPU_LEVEL_DOTPROD,    /* + the SDOT/UDOT instructions */
    CPU_LEVEL_I8MM,       /* + the SMMLA int8 matrix multiply (AArch64):
                           * packed kernels only (packed_i8mm.c) */
    CPU_LEVEL_COUNT
} cpu_level;

/* "scalar", "avx2", "avx512", "neon", "dotprod", "i8mm". */
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

/* Packed weights: groups of 8 rows with their blocks interleaved, so one
 * step of a SIMD kernel computes 8 outputs at once (no horizontal sums) and
 * several tokens share each unpacked weight block. The model repacks a
 * matrix at load when its type has a packed layout; the packed copy
 * replaces the mapped rows, which are then released.
 *
 * A type's packed layout is one for all levels (packed_scalar.c,
 * packed_f16.c); each level supplies only a gemm over it, whose results
 * are bit for bit those of the row kernels (dot_kernel_at) of the same
 * level. */
enum { PACK_ROWS = 8 };

typedef struct packed_layout {
    /* Bytes of the packed form of n_rows (a multiple of PACK_ROWS) rows of
     * n elements. */
    size_t (*packed_size)(int64_t n_rows, int64_t n);
    /* Packs n_rows rows (row r at rows + r * row_bytes) into out. */
    void (*pack)(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out);
} packed_layout;

/* For the PACK_ROWS rows of one packed group (at `group`, each row n
 * elements) and n_tokens activation rows (token t at acts + t * act_stride,
 * in the row kernel's activation type):
 * y[t * y_stride + r] = row r . token t, for r < PACK_ROWS. */
typedef void (*packed_gemm_fn)(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens,
                               float *y, int64_t y_stride);

/* The packed layout of `type`, or NULL (then matrices of the type stay in
 * their file layout). */
const packed_layout *packed_layout_for(bibim_type type);
/* The gemm over packed_layout_for(type) at `level` (the best of that level
 * and those below it), or NULL exactly when the type has no packed layout. */
packed_gemm_fn packed_gemm_at(bibim_type type, cpu_level level);

/* Each level's own kernels (dot_<level>.c, packed_<level>.c), NULL for
 * types it leaves to the level below. Only cpu.c's dispatch (and the tests)
 * call these. */
const dot_kernel *dot_kernel_avx2(bibim_type type);
const dot_kernel *dot_kernel_avx512(bibim_type type);
const dot_kernel *dot_kernel_neon(bibim_type type);
const dot_kernel *dot_kernel_dotprod(bibim_type type);
const packed_layout *packed_layout_quant(bibim_type type); /* Q4_0, Q8_0, Q4_K, Q6_K (packed_scalar.c) */
const packed_layout *packed_layout_f16(bibim_type type);   /* F16 and BF16 (packed_f16.c) */
packed_gemm_fn packed_gemm_scalar(bibim_type type);
packed_gemm_fn packed_gemm_avx2(bibim_type type);
packed_gemm_fn packed_gemm_avx512(bibim_type type);
packed_gemm_fn packed_gemm_dotprod(bibim_type type);
packed_gemm_fn packed_gemm_i8mm(bibim_type type);
packed_gemm_fn packed_gemm_f16_scalar(bibim_type type);
packed_gemm_fn packed_gemm_f16_avx2(bibim_type type);
packed_gemm_fn packed_gemm_f16_avx512(bibim_type type);

#endif
