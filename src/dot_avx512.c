/* dot_avx512.c — avx512 kernels (none yet: every type uses the level below). */
#include "kernels.h"

const dot_kernel *dot_kernel_avx512(bibim_type type) {
    (void)type;
    return NULL;
}
