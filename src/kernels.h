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

/* The kernel for weights of `type`, or NULL if bibim cannot compute with it. */
const dot_kernel *dot_kernel_for(bibim_type type);

#endif
