#include "kernels.h"
const packed_kernel *packed_kernel_f16_avx512(bibim_type type);
const packed_kernel *packed_kernel_f16_avx512(bibim_type type) { (void)type; return NULL; }
