/* packed.h — what the packed kernels of all levels (packed_scalar.c and
 * the SIMD packed_<level>.c) share: the sizes of the quantized types'
 * packed layouts, which packed_scalar.c describes and builds, and the loop
 * that runs a gemm as tiles of tokens. */
#ifndef BIBIM_PACKED_H
#define BIBIM_PACKED_H

#include "kernels.h"
#include "quant.h"

enum {
    Q8_0_BYTES = 34, /* a block_q8_0: f16 d, then 32 int8 */
    /* Q4_0: runs of Q4_0_RUN blocks, a run's 8 scales (16 bytes a block)
     * then its quants (128 bytes a block). */
    Q4_0_RUN = 8,
    Q4_0_GROUP_BLOCK = PACK_ROWS * 18,
    /* Q8_0: runs of Q8_0_RUN blocks, a run's scales (16 bytes a block)
     * then its codes (256 bytes a block: row r's 32 at 32 r, plus 128). */
    Q8_0_RUN = 8,
    Q8_0_GROUP_BLOCK = PACK_ROWS * 34,
    /* Q4_K, Q6_K: a group's super-block, its codes at *_CODES. */
    Q4_K_GROUP_BLOCK = 1184,
    Q4_K_CODES = 160,
    Q6_K_GROUP_BLOCK = 1696,
    Q6_K_CODES = 160
};

/* Defines `static void name`, a packed_gemm_fn over blocks of block_elems
 * elements that calls tile(nb, group, acts, act_stride, y, y_stride, T)
 * for the tokens max_tile (at most 8) at a time, then once for the 1 ..
 * max_tile - 1 left. T is a constant at every call, so that tile (always
 * inline) is a copy per size, its loops over tokens unrolled and their
 * accumulators in registers. */
#define PACKED_GEMM_BY_TILES(name, tile, block_elems, max_tile)                                                   \
    static void name(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y, \
                     int64_t y_stride) {                                                                           \
        _Static_assert((max_tile) >= 1 && (max_tile) <= 8, "tiles of 1 to 8 tokens");                              \
        const int64_t nb = n / (block_elems);                                                                      \
        const uint8_t *a = acts;                                                                                   \
        int64_t t = 0;                                                                                             \
        for (; t + (max_tile) <= n_tokens; t += (max_tile))                                                        \
            tile(nb, group, a + (size_t)t * act_stride, act_stride, y + t * y_stride, y_stride, (max_tile));       \
        a += (size_t)t * act_stride;                                                                               \
        y += t * y_stride;                                                                                         \
        switch (n_tokens - t) {                                                                                    \
        case 7: if ((max_tile) > 7) tile(nb, group, a, act_stride, y, y_stride, (max_tile) > 7 ? 7 : 1); break;    \
        case 6: if ((max_tile) > 6) tile(nb, group, a, act_stride, y, y_stride, (max_tile) > 6 ? 6 : 1); break;    \
        case 5: if ((max_tile) > 5) tile(nb, group, a, act_stride, y, y_stride, (max_tile) > 5 ? 5 : 1); break;    \
        case 4: if ((max_tile) > 4) tile(nb, group, a, act_stride, y, y_stride, (max_tile) > 4 ? 4 : 1); break;    \
        case 3: if ((max_tile) > 3) tile(nb, group, a, act_stride, y, y_stride, (max_tile) > 3 ? 3 : 1); break;    \
        case 2: if ((max_tile) > 2) tile(nb, group, a, act_stride, y, y_stride, (max_tile) > 2 ? 2 : 1); break;    \
        case 1: tile(nb, group, a, act_stride, y, y_stride, 1); break;                                             \
        default: break;                                                                                            \
        }                                                                                                          \
    }

#endif
