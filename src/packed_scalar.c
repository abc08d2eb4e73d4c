/* packed_scalar.c — packed-weight kernels at the scalar level (none yet). */
#include "kernels.h"

const packed_kernel *packed_kernel_scalar(bibim_type type) {
    (void)type;
    return NULL;
}
