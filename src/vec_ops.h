/* vec_ops.h — the element-wise steps of the forward pass (SiLU, softmax's
 * exponentials, attention's weighted sum of values), as one table per
 * instruction-set level like the dot kernels. Every level computes the same
 * bits: these steps reproduce llama.cpp's x86 arithmetic exactly (its
 * AVX-512 exp, its 16-lane sums), so a level changes only the speed. */
#ifndef BIBIM_VEC_OPS_H
#define BIBIM_VEC_OPS_H

#include "kernels.h"

typedef struct vec_ops {
    /* gate[i] = silu(gate[i]) * up[i] for one row of n: ggml's exp on the
     * full groups of 16, the C library's expf on the rest (as llama.cpp). */
    void (*silu_mul)(float *gate, const float *up, int64_t n);
    /* x[i] = ggml_exp(x[i] - max); returns the sum, each group of 16 summed
     * by halving (lanes past n count as 0) and the groups added in double. */
    double (*softmax_exp)(float *x, int64_t n, float max);
    /* x[i] = f16(x[i] * scale), kept as float. */
    void (*scale_round_f16)(float *x, int64_t n, float scale);
    /* y[i] += a * x[i] for F16 x. */
    void (*axpy_f16)(float *y, float a, const uint16_t *x, int64_t n);
    /* out[d] = the halving sum of lanes[l * n + d] over l = 0..15. */
    void (*reduce_lanes16)(const float *lanes, int64_t n, float *out);
} vec_ops;

/* The table for `level` (the scalar one where a level has none). */
const vec_ops *vec_ops_at(cpu_level level);

/* The levels' own tables (NULL where the level has none). */
const vec_ops *vec_ops_scalar(void);
const vec_ops *vec_ops_avx2(void);

/* ggml's AVX-512 exp (ggml_v_expf) for one float, exactly. */
float ggml_expf(float x);

#endif
