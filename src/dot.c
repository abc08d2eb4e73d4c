/* dot.c — PLACEHOLDER (F32 and F16 only) until the real scalar kernels land. */
#include "kernels.h"
#include "fp16.h"
#include <string.h>
static void q_f32(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * 4); }
static void d_f32(int64_t n, const void *w, const void *a, float *out) {
    const float *x = w, *y = a; float s = 0; for (int64_t i = 0; i < n; i++) s += x[i] * y[i]; *out = s; }
static void q_f16(const float *x, void *y, int64_t n) { uint16_t *o = y; for (int64_t i = 0; i < n; i++) o[i] = fp32_to_fp16(x[i]); }
static void d_f16(int64_t n, const void *w, const void *a, float *out) {
    const uint16_t *x = w, *y = a; float s = 0; for (int64_t i = 0; i < n; i++) s += fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]); *out = s; }
static const dot_kernel k_f32 = {BIBIM_TYPE_F32, q_f32, d_f32}, k_f16 = {BIBIM_TYPE_F16, q_f16, d_f16};
const dot_kernel *dot_kernel_for(bibim_type t) { return t == BIBIM_TYPE_F32 ? &k_f32 : t == BIBIM_TYPE_F16 ? &k_f16 : NULL; }
