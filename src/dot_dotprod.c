/* dot_dotprod.c — the AArch64 SDOT twins (Armv8.2-A dot product extension)
 * of the scalar quantized kernels in dot.c; F32, F16 and BF16 use the NEON
 * level's kernels (dot_kernel_at falls through).
 *
 * The kernels are dot_neon_kernels.h's, shared with dot_neon.c; only their
 * integer primitive is this level's: vdotq_s32 adds the dot of bytes
 * 4l .. 4l+3 into int32 lane l, exactly ggml's lane layout (dot.c's
 * lane_dots_32), in one instruction where plain NEON needs four
 * (dot_neon.c's dot16). The float steps are dot_neon.c's, which are dot.c's,
 * so results are the scalar twin's bit for bit (dot_neon_kernels.h says
 * which steps; every lane stays far below 2^24, so SDOT's int32
 * accumulation cannot overflow).
 * Activations: the NEON level's quantizers (same bytes as dot.c's).
 * Built with -march=armv8.2-a+dotprod (Makefile: FLAGS_dot_dotprod); only
 * dot_kernel_at calls dot_kernel_dotprod, after cpu_level_supported has
 * seen HWCAP_ASIMDDP. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)

#include <arm_neon.h>

/* 4 int32 lanes: lane l = the dot of bytes 4l .. 4l+3 of w and a. */
static inline int32x4_t dot16(int8x16_t w, int8x16_t a) { return vdotq_s32(vdupq_n_s32(0), w, a); }

static inline int32x4_t dot16_add(int32x4_t acc, int8x16_t w, int8x16_t a) { return vdotq_s32(acc, w, a); }

#define DOT_NEON_ACTS_FROM dot_kernel_neon /* the NEON level's quantizers (static in dot_neon.c) */
#include "dot_neon_kernels.h"

const dot_kernel *dot_kernel_dotprod(bibim_type type) { return quant_kernel(type); }

#else /* not AArch64 with the dot product extension: no kernels of this level */

const dot_kernel *dot_kernel_dotprod(bibim_type type) {
    (void)type;
    return NULL;
}

#endif
