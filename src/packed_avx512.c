/* packed_avx512.c — packed-weight kernels at the avx512 level (none yet). */
#include "kernels.h"

const packed_kernel *packed_kernel_avx512(bibim_type type) {
    (void)type;
    return NULL;
}
