/* packed_scalar.c — packed-weight kernels (kernels.h) in portable C: the
 * packed layouts, the functions that build them, and a gemm per type that
 * the SIMD levels (packed_avx2.c, packed_avx512.c) must equal bit for bit.
 *
 * Every layout is made of groups of PACK_ROWS = 8 rows. A group's size is
 * rounded up to a multiple of 64 bytes, so that in a buffer from
 * mem_aligned_alloc(alloc, 64, packed_size) every group starts on a cache
 * line. A last group with fewer than 8 rows (n_rows % 8 != 0; the model
 * never packs those) is padded with zero rows, whose outputs are 0.
 *
 * Each gemm keeps, for every output, exactly the float steps of the row
 * kernel of the same type (dot.c); integer parts are exact, so their order
 * is free. Sources may be unaligned: rows are read byte by byte. */
#include "packed.h"

#include "fp16.h"
#include "scalar_float.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static inline size_t round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static inline int64_t n_groups(int64_t n_rows) { return (n_rows + PACK_ROWS - 1) / PACK_ROWS; }

static inline uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

_Static_assert(Q4_0_RUN == 8 && Q8_0_RUN == 8, "runs of 8 blocks");

/* Q4_0 and Q8_0 lay a group's blocks out in runs of 8 (Q4_0_RUN,
 * Q8_0_RUN; the last run may hold fewer, k): a run's blocks' scales, 16
 * bytes a block, then their codes, group_block - 16 bytes a block. Byte
 * offsets of block b's scales and of its codes in a group of nb blocks. */
static inline size_t run_scales_at(int64_t b, size_t group_block) {
    return (size_t)(b / 8) * 8 * group_block + 16 * (size_t)(b % 8);
}

static inline size_t run_codes_at(int64_t nb, int64_t b, size_t group_block) {
    const int64_t start = b / 8 * 8, k = nb - start < 8 ? nb - start : 8;
    return (size_t)start * group_block + 16 * (size_t)k + (group_block - 16) * (size_t)(b % 8);
}

/* ------------------------------------------------------------------------ */
/* Q4_0                                                                     */
/* ------------------------------------------------------------------------ */

/* Layout of a group (8 rows of nb = n / 32 blocks), in runs of
 * Q4_0_RUN = 8 blocks (the last run may hold fewer, k):
 *
 *   16 * k bytes   the scales: block j's 8 f16 d, row 0 first
 *  128 * k bytes   the quants: block j's 128 bytes at 128 * j, as 4
 *                  vectors of 32 bytes; vector v holds, for row r, bytes
 *                  qs[4v .. 4v+3] of that row's block at 4r .. 4r+3.
 *
 * So in vector v, 32-bit lane r has row r's elements 4v..4v+3 in its low
 * nibbles and 16+4v..16+4v+3 in its high ones: one vector load, a mask
 * and a shift give 8 rows x 4 elements, to meet the same 4 activations
 * broadcast to all lanes (vpdpbusd / maddubs). A full run is 1152
 * bytes, 18 cache lines: with groups 64-byte aligned, every quant vector
 * of a full run is 32-byte aligned. A run is also the unit in which the
 * SIMD kernels prepare a token's activation sums. */
static size_t packed_size_q4_0(int64_t n_rows, int64_t n) {
    return (size_t)n_groups(n_rows) * round64((size_t)(n / QK4_0) * Q4_0_GROUP_BLOCK);
}

static void pack_q4_0(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out) {
    const int64_t nb = n / QK4_0;
    const size_t group_bytes = packed_size_q4_0(PACK_ROWS, n);
    for (int64_t g = 0; g < n_groups(n_rows); g++) {
        uint8_t *group = (uint8_t *)out + (size_t)g * group_bytes;
        memset(group, 0, group_bytes);
        for (int r = 0; r < PACK_ROWS && g * PACK_ROWS + r < n_rows; r++) {
            const uint8_t *row = (const uint8_t *)rows + (size_t)(g * PACK_ROWS + r) * row_bytes;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = row + b * 18; /* block_q4_0: d, then qs[16] */
                uint8_t *quants = group + run_codes_at(nb, b, Q4_0_GROUP_BLOCK);
                memcpy(group + run_scales_at(b, Q4_0_GROUP_BLOCK) + 2 * r, blk, 2);
                for (int v = 0; v < 4; v++) memcpy(quants + 32 * v + 4 * r, blk + 2 + 4 * v, 4);
            }
        }
    }
}

/* dot.c's Q4_0: per output one float, each block's integer dot times
 * d_w * d_a (a product of halves, exact) added by an FMA, block after
 * block. Block by block, the 8 rows' codes are unpacked once and meet
 * every token; the outputs accumulate in y. */
static void gemm_q4_0(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK4_0;
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int r = 0; r < PACK_ROWS; r++) y[t * y_stride + r] = 0.0f;
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *scales = (const uint8_t *)group + run_scales_at(b, Q4_0_GROUP_BLOCK);
        const uint8_t *quants = (const uint8_t *)group + run_codes_at(nb, b, Q4_0_GROUP_BLOCK);
        int8_t q[PACK_ROWS][QK4_0];
        float dw[PACK_ROWS];
        for (int r = 0; r < PACK_ROWS; r++) {
            uint8_t x[16]; /* the row's qs */
            for (int v = 0; v < 4; v++) memcpy(x + 4 * v, quants + 32 * v + 4 * r, 4);
            for (int j = 0; j < 16; j++) {
                q[r][j] = (int8_t)((x[j] & 0xF) - 8);
                q[r][16 + j] = (int8_t)((x[j] >> 4) - 8);
            }
            dw[r] = fp16_to_fp32(get_u16(scales + 2 * r));
        }
        for (int64_t t = 0; t < n_tokens; t++) {
            const uint8_t *ab = (const uint8_t *)acts + (size_t)t * act_stride + b * 34; /* block_q8_0 */
            const int8_t *aq = (const int8_t *)(ab + 2);
            const float da = fp16_to_fp32(get_u16(ab));
            float *yt = y + t * y_stride;
            for (int r = 0; r < PACK_ROWS; r++) {
                int32_t dot = 0;
                for (int j = 0; j < QK4_0; j++) dot += q[r][j] * aq[j];
                yt[r] = fma_f32((float)dot, dw[r] * da, yt[r]);
            }
        }
    }
}


/* ------------------------------------------------------------------------ */
/* Q8_0                                                                     */
/* ------------------------------------------------------------------------ */

/* Layout of a group (8 rows of nb = n / 32 blocks), in runs of
 * Q8_0_RUN = 8 blocks (the last run may hold fewer, k):
 *
 *   16 * k bytes   the scales: block j's 8 f16 d, row 0 first
 *  256 * k bytes   the codes: block j's at 256 * j, row r's 32 at 32 * r,
 *                  each plus 128 (0..255: qs ^ 0x80)
 *
 * A row's block is one vector, as in the row kernel: vpdpbusd (unsigned
 * times signed bytes) with the token's block of activations gives the
 * row kernel's 8 int32 lanes (lane l: elements 4l..4l+3), plus 128 times
 * each lane's 4 activations, the same for all rows. A full run is 2176
 * bytes, 34 cache lines, so every code vector of a full run is 32-byte
 * aligned. */
static size_t packed_size_q8_0(int64_t n_rows, int64_t n) {
    return (size_t)n_groups(n_rows) * round64((size_t)(n / QK8_0) * Q8_0_GROUP_BLOCK);
}

static void pack_q8_0(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out) {
    static const uint8_t zero_block[34];
    const int64_t nb = n / QK8_0;
    const size_t group_bytes = packed_size_q8_0(PACK_ROWS, n);
    for (int64_t g = 0; g < n_groups(n_rows); g++) {
        uint8_t *group = (uint8_t *)out + (size_t)g * group_bytes;
        memset(group, 0, group_bytes);
        for (int r = 0; r < PACK_ROWS; r++) {
            const int64_t row_index = g * PACK_ROWS + r;
            const uint8_t *row = row_index < n_rows ? (const uint8_t *)rows + (size_t)row_index * row_bytes : NULL;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = row ? row + b * 34 : zero_block; /* block_q8_0: d, then qs[32] */
                uint8_t *codes = group + run_codes_at(nb, b, Q8_0_GROUP_BLOCK) + 32 * r;
                memcpy(group + run_scales_at(b, Q8_0_GROUP_BLOCK) + 2 * r, blk, 2);
                for (int i = 0; i < 32; i++) codes[i] = blk[2 + i] ^ 0x80;
            }
        }
    }
}

/* dot.c's Q8_0: per output 8 float lanes, lane l adding the integer dot of
 * each block's elements 4l..4l+3 times d_w * d_a (exact) by an FMA; at the
 * end hsum_8: (l0 + l4) + (l2 + l6), plus (l1 + l5) + (l3 + l7). */
static void gemm_q8_0(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const int64_t nb = n / QK8_0;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *a = (const uint8_t *)acts + (size_t)t * act_stride;
        float lanes[PACK_ROWS][8] = {{0}};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *scales = (const uint8_t *)group + run_scales_at(b, Q8_0_GROUP_BLOCK);
            const uint8_t *codes = (const uint8_t *)group + run_codes_at(nb, b, Q8_0_GROUP_BLOCK);
            const uint8_t *ab = a + b * 34; /* block_q8_0 */
            const int8_t *aq = (const int8_t *)(ab + 2);
            const float da = fp16_to_fp32(get_u16(ab));
            for (int r = 0; r < PACK_ROWS; r++) {
                const float d = fp16_to_fp32(get_u16(scales + 2 * r)) * da;
                int8_t w[32];
                int32_t pair[16];
                for (int i = 0; i < 32; i++) w[i] = (int8_t)(codes[32 * r + i] ^ 0x80);
                for (int i = 0; i < 16; i++) pair[i] = w[2 * i] * aq[2 * i] + w[2 * i + 1] * aq[2 * i + 1];
                for (int l = 0; l < 8; l++) lanes[r][l] = fma_f32(d, (float)(pair[2 * l] + pair[2 * l + 1]), lanes[r][l]);
            }
        }
        for (int r = 0; r < PACK_ROWS; r++) {
            const float *v = lanes[r];
            const float s0 = v[0] + v[4], s1 = v[1] + v[5], s2 = v[2] + v[6], s3 = v[3] + v[7];
            y[t * y_stride + r] = (s0 + s2) + (s1 + s3);
        }
    }
}


/* ------------------------------------------------------------------------ */
/* K-quants: Q4_K, Q6_K (activations Q8_K)                                  */
/* ------------------------------------------------------------------------ */

/* dot.c's K-quant kernels keep, per output, 8 float lanes: lane l gets by
 * an FMA with d = d_a * d_w, per super-block, the integer sum over its
 * elements e with (e % 32) / 4 == l of q * a * (the scale of e's
 * sub-block), and they are summed by hsum_8 at the end. The packed
 * layouts hold, for each lane l, the 8 rows' codes of the elements that
 * lane sums, 4 bytes a row, in vectors that sit together. */
/* pack of a K-quant whose super-blocks (block_bytes in a row) take
 * group_block bytes in a group: put(p, r, blk) writes row r's super-block
 * blk into the group's at p. Padding rows stay zero bytes, which is the
 * packed form of a zero block. */
static void pack_k(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out, size_t group_block,
                   size_t block_bytes, void (*put)(uint8_t *p, int r, const uint8_t *blk)) {
    const int64_t nb = n / QK_K;
    const size_t group_bytes = round64((size_t)nb * group_block);
    for (int64_t g = 0; g < n_groups(n_rows); g++) {
        uint8_t *group = (uint8_t *)out + (size_t)g * group_bytes;
        memset(group, 0, group_bytes);
        for (int r = 0; r < PACK_ROWS && g * PACK_ROWS + r < n_rows; r++) {
            const uint8_t *row = (const uint8_t *)rows + (size_t)(g * PACK_ROWS + r) * row_bytes;
            for (int64_t b = 0; b < nb; b++) put(group + b * group_block, r, row + b * block_bytes);
        }
    }
}

/* Q4_K. Layout of a group's super-block (1184 bytes, a multiple of 32):
 *
 *      0   d[8]        f16, row 0 first
 *     16   dmin[8]     f16
 *     32   sc[8][8]    sub-block s's 6-bit scale of row r at 32 + 8 s + r
 *     96   m[4][8][2]  the 6-bit mins of sub-blocks 2k and 2k+1 of row r
 *                      at 96 + 16 k + 2 r (as int16 pairs they meet the
 *                      activation sums by one vpmaddwd)
 *    160   codes       32 vectors of 32 bytes, vector 4 l + c at 160 +
 *                      32 (4 l + c); its lane r holds row r's qs[32 c + 4 l
 *                      .. 32 c + 4 l + 3]: low nibbles are elements 64 c +
 *                      4 l .. +3 (sub-block 2c), high nibbles 64 c + 32 + 4
 *                      l .. +3 (sub-block 2c + 1), all of them lane l's. */
static size_t packed_size_q4_K(int64_t n_rows, int64_t n) {
    return (size_t)n_groups(n_rows) * round64((size_t)(n / QK_K) * Q4_K_GROUP_BLOCK);
}

/* blk: a block_q4_K (d, dmin, scales[12], qs[128]). */
static void put_q4_K(uint8_t *p, int r, const uint8_t *blk) {
    memcpy(p + 2 * r, blk, 2);
    memcpy(p + 16 + 2 * r, blk + 2, 2);
    for (int s = 0; s < 8; s++) {
        uint8_t sc, m;
        k4_scale_min(blk + 4, s, &sc, &m);
        p[32 + 8 * s + r] = sc;
        p[96 + 16 * (s / 2) + 2 * r + s % 2] = m;
    }
    for (int l = 0; l < 8; l++) {
        for (int c = 0; c < 4; c++) memcpy(p + Q4_K_CODES + 32 * (4 * l + c) + 4 * r, blk + 16 + 32 * c + 4 * l, 4);
    }
}

static void pack_q4_K(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out) {
    pack_k(rows, row_bytes, n_rows, n, out, Q4_K_GROUP_BLOCK, 144, put_q4_K);
}

/* Row r's codes (element order), scales per 16 elements and mins of a
 * Q4_K super-block in packed form. */
static void q4_K_unpack(const uint8_t *p, int r, int8_t q[QK_K], int32_t scale16[QK_K / 16], int32_t m[8]) {
    uint8_t qs[QK_K / 2]; /* the row's qs, as in its block_q4_K */
    for (int l = 0; l < 8; l++) {
        for (int c = 0; c < 4; c++) memcpy(qs + 32 * c + 4 * l, p + Q4_K_CODES + 32 * (4 * l + c) + 4 * r, 4);
    }
    for (int c = 0; c < 4; c++) {
        for (int i = 0; i < 32; i++) {
            q[64 * c + i] = (int8_t)(qs[32 * c + i] & 0xF);
            q[64 * c + 32 + i] = (int8_t)(qs[32 * c + i] >> 4);
        }
    }
    for (int s = 0; s < 8; s++) {
        scale16[2 * s] = scale16[2 * s + 1] = p[32 + 8 * s + r];
        m[s] = p[96 + 16 * (s / 2) + 2 * r + s % 2];
    }
}

/* Q6_K. Layout of a group's super-block (1696 bytes, a multiple of 32):
 *
 *      0   d[8]          f16, row 0 first
 *     16   scales[16][8] sub-block s's (16 elements) int8 scale of row r at
 *                        16 + 8 s + r
 *    144   (16 bytes of zeros)
 *    160   codes         16 runs of 3 vectors, run 2 l + h at 160 + 96 (2
 *                        l + h): ql(h, 0, l), ql(h, 1, l), qh(h, l). Lane r
 *                        of ql(h, g', l) holds row r's ql[64 h + 32 g' + 4 l
 *                        .. +3], of qh(h, l) its qh[32 h + 4 l .. +3].
 *
 * Element 128 h + 32 g + 4 l + i (lane l's) has its low 4 bits in ql(h,
 * g % 2, l) (low nibble for g < 2, high for g >= 2) and its top 2 bits at
 * bits 2 g .. 2 g + 1 of qh(h, l); its code is those 6 bits minus 32, its
 * scale scales[8 h + 2 g + l / 4]. */
static size_t packed_size_q6_K(int64_t n_rows, int64_t n) {
    return (size_t)n_groups(n_rows) * round64((size_t)(n / QK_K) * Q6_K_GROUP_BLOCK);
}

/* blk: a block_q6_K (ql[128], qh[64], scales[16], d). */
static void put_q6_K(uint8_t *p, int r, const uint8_t *blk) {
    memcpy(p + 2 * r, blk + 208, 2);
    for (int s = 0; s < 16; s++) p[16 + 8 * s + r] = blk[192 + s];
    for (int h = 0; h < 2; h++) {
        for (int l = 0; l < 8; l++) {
            uint8_t *v = p + Q6_K_CODES + 96 * (2 * l + h) + 4 * r;
            memcpy(v, blk + 64 * h + 4 * l, 4);
            memcpy(v + 32, blk + 64 * h + 32 + 4 * l, 4);
            memcpy(v + 64, blk + 128 + 32 * h + 4 * l, 4);
        }
    }
}

static void pack_q6_K(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out) {
    pack_k(rows, row_bytes, n_rows, n, out, Q6_K_GROUP_BLOCK, 210, put_q6_K);
}

/* Row r's codes (element order, minus 32) and scales of a Q6_K
 * super-block in packed form. */
static void q6_K_unpack(const uint8_t *p, int r, int8_t q[QK_K], int32_t scale16[QK_K / 16]) {
    uint8_t ql[QK_K / 2], qh[QK_K / 4]; /* the row's, as in its block_q6_K */
    for (int l = 0; l < 8; l++) {
        for (int h = 0; h < 2; h++) {
            const uint8_t *v = p + Q6_K_CODES + 96 * (2 * l + h) + 4 * r;
            memcpy(ql + 64 * h + 4 * l, v, 4);
            memcpy(ql + 64 * h + 32 + 4 * l, v + 32, 4);
            memcpy(qh + 32 * h + 4 * l, v + 64, 4);
        }
    }
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < 32; i++) {
            const uint8_t lo0 = ql[64 * h + i], lo1 = ql[64 * h + 32 + i], hi = qh[32 * h + i];
            q[128 * h + i] = (int8_t)(((lo0 & 0xF) | (hi & 3) << 4) - 32);
            q[128 * h + 32 + i] = (int8_t)(((lo1 & 0xF) | ((hi >> 2) & 3) << 4) - 32);
            q[128 * h + 64 + i] = (int8_t)(((lo0 >> 4) | ((hi >> 4) & 3) << 4) - 32);
            q[128 * h + 96 + i] = (int8_t)(((lo1 >> 4) | ((hi >> 6) & 3) << 4) - 32);
        }
    }
    for (int s = 0; s < 16; s++) scale16[s] = (int8_t)p[16 + 8 * s + r];
}

/* dot.c's k_lane_sums: lane l (of 8) gets, for each 32-element vector v,
 * elements 32v + 4l .. +3 times their activations, the first four lanes
 * scaled by scale16[2v], the others by scale16[2v+1]. */
static inline void k_lane_sums(const int8_t q[QK_K], const int8_t a[QK_K], const int32_t scale16[QK_K / 16],
                               int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    for (int v = 0; v < QK_K / 32; v++) {
        int32_t pair[16];
        for (int i = 0; i < 16; i++) pair[i] = q[32 * v + 2 * i] * a[32 * v + 2 * i] + q[32 * v + 2 * i + 1] * a[32 * v + 2 * i + 1];
        for (int l = 0; l < 8; l++) lane[l] += scale16[2 * v + l / 4] * (pair[2 * l] + pair[2 * l + 1]);
    }
}

enum { K_CHUNK = 16 }; /* tokens whose float lanes wait in memory while a row's block is unpacked once */

/* dot.c's Q4_K (q4 set) and Q6_K: the 8 scaled lanes by FMAs with d = d_a *
 * d_w, then hsum_8. Q4_K's mins go in 4 float lanes apart, lane k getting
 * m_2k * (bsums 4k + 4k+1) + m_2k+1 * (bsums 4k+2 + 4k+3) by an FMA with
 * -d_a * dmin_w, and are added at the end as (lanes 0 + 2) + (1 + 3). */
static void gemm_k(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                   int64_t y_stride, const int q4) {
    const int64_t nb = n / QK_K;
    const size_t group_block = q4 ? Q4_K_GROUP_BLOCK : Q6_K_GROUP_BLOCK;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += K_CHUNK) {
        const int64_t count = n_tokens - t0 < K_CHUNK ? n_tokens - t0 : K_CHUNK;
        float acc[K_CHUNK][PACK_ROWS][8] = {{{0}}}, acc_m[K_CHUNK][PACK_ROWS][4] = {{{0}}};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *p = (const uint8_t *)group + b * group_block;
            for (int r = 0; r < PACK_ROWS; r++) {
                int8_t q[QK_K];
                int32_t scale16[QK_K / 16], m[8];
                if (q4) q4_K_unpack(p, r, q, scale16, m);
                else q6_K_unpack(p, r, q, scale16);
                const float dw = fp16_to_fp32(get_u16(p + 2 * r)), dminw = q4 ? fp16_to_fp32(get_u16(p + 16 + 2 * r)) : 0;
                for (int64_t t = 0; t < count; t++) {
                    const block_q8_K *a = (const block_q8_K *)(const void *)((const uint8_t *)acts +
                                                                            (size_t)(t0 + t) * act_stride) + b;
                    int32_t lane[8];
                    k_lane_sums(q, a->qs, scale16, lane);
                    if (q4) {
                        int32_t mins[8];
                        for (int s = 0; s < 8; s++) mins[s] = m[s] * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
                        const float dmin = -a->d * dminw;
                        for (int k = 0; k < 4; k++)
                            acc_m[t][r][k] = fma_f32(dmin, (float)(mins[2 * k] + mins[2 * k + 1]), acc_m[t][r][k]);
                    }
                    const float d = a->d * dw;
                    for (int l = 0; l < 8; l++) acc[t][r][l] = fma_f32(d, (float)lane[l], acc[t][r][l]);
                }
            }
        }
        for (int64_t t = 0; t < count; t++) {
            for (int r = 0; r < PACK_ROWS; r++) {
                const float *mk = acc_m[t][r];
                const float lanes = hsum_8(acc[t][r]);
                y[(t0 + t) * y_stride + r] = q4 ? lanes + ((mk[0] + mk[2]) + (mk[1] + mk[3])) : lanes;
            }
        }
    }
}

static void gemm_q4_K(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    gemm_k(n, group, acts, act_stride, n_tokens, y, y_stride, 1);
}

static void gemm_q6_K(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    gemm_k(n, group, acts, act_stride, n_tokens, y, y_stride, 0);
}

static const packed_layout layout_q4_0 = {packed_size_q4_0, pack_q4_0};
static const packed_layout layout_q8_0 = {packed_size_q8_0, pack_q8_0};
static const packed_layout layout_q4_K = {packed_size_q4_K, pack_q4_K};
static const packed_layout layout_q6_K = {packed_size_q6_K, pack_q6_K};

const packed_layout *packed_layout_quant(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_Q4_0: return &layout_q4_0;
    case BIBIM_TYPE_Q8_0: return &layout_q8_0;
    case BIBIM_TYPE_Q4_K: return &layout_q4_K;
    case BIBIM_TYPE_Q6_K: return &layout_q6_K;
    default: return NULL;
    }
}

packed_gemm_fn packed_gemm_scalar(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_Q4_0: return gemm_q4_0;
    case BIBIM_TYPE_Q8_0: return gemm_q8_0;
    case BIBIM_TYPE_Q4_K: return gemm_q4_K;
    case BIBIM_TYPE_Q6_K: return gemm_q6_K;
    default: return NULL;
    }
}
