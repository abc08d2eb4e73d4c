/* quant.h — ggml's quantized block layouts and the plain-C reference codecs
 * behind bibim_quantize_row / bibim_dequantize_row.
 *
 * The structs are byte-for-byte ggml's blocks as stored in GGUF files
 * (little-endian; every f16 field holds IEEE half bits, see fp16.h). Each
 * size is pinned below; the byte diagrams sit beside the decoders in
 * quant.c and quant_k.c.
 *
 * The per-type functions work on whole rows: `n` is a number of elements and
 * must be a multiple of the type's block size (they do not check; the public
 * entry points do). Blocks must be aligned for their struct (2 bytes); the
 * public entry points accept any address and copy when they must.
 * Quantizers follow ggml's reference algorithms (quantize_row_*_ref, what
 * llama-quantize runs without an importance matrix) with the float
 * operations in the same order, so the bytes match ggml's. Dequantizers
 * match ggml's to_float bit for bit. All are reentrant: no global state. */
#ifndef BIBIM_QUANT_H
#define BIBIM_QUANT_H

#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the block structs mirror ggml's little-endian file layout"
#endif

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256          /* elements per K-quant super-block */
#define K_SCALE_SIZE 12   /* bytes of packed 6-bit scales (and mins) in Q3_K..Q5_K */

/* Alignment every block struct needs (they hold uint16_t f16 fields). */
#define QUANT_BLOCK_ALIGN 2

/* x = d * (q - 8), q 4 bits */
typedef struct block_q4_0 {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

/* x = d * q + m, q 4 bits */
typedef struct block_q4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;

/* x = d * (q - 16), q 5 bits: low 4 in qs, 5th bit in qh */
typedef struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;

/* x = d * q + m, q 5 bits */
typedef struct block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;

/* x = d * q, q signed 8 bits */
typedef struct block_q8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;

/* 16 sub-blocks of 16: x = d * sc * q - dmin * m, q 2 bits, sc and m 4 bits */
typedef struct block_q2_K {
    uint8_t scales[QK_K / 16]; /* low nibble sc, high nibble m */
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} block_q2_K;

/* 16 sub-blocks of 16: x = d * (sc - 32) * (q - 4), q 3 bits, sc 6 bits */
typedef struct block_q3_K {
    uint8_t hmask[QK_K / 8]; /* the high (third) bit of each q */
    uint8_t qs[QK_K / 4];    /* the low two bits */
    uint8_t scales[K_SCALE_SIZE];
    uint16_t d;
} block_q3_K;

/* 8 sub-blocks of 32: x = d * sc * q - dmin * m, q 4 bits, sc and m 6 bits */
typedef struct block_q4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;

/* 8 sub-blocks of 32: x = d * sc * q - dmin * m, q 5 bits, sc and m 6 bits */
typedef struct block_q5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

/* 16 sub-blocks of 16: x = d * sc * (q - 32), q 6 bits, sc signed 8 bits */
typedef struct block_q6_K {
    uint8_t ql[QK_K / 2]; /* low 4 bits of q */
    uint8_t qh[QK_K / 4]; /* high 2 bits of q */
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;

/* The activation blocks the kernels pair with weights (kernels.h), not
 * stored in files. */

/* x = d * q; s = d * (sum of q), so the min term of Q4_1/Q5_1 costs one
 * multiplication per block. */
typedef struct block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_1];
} block_q8_1;

/* x = d * q, with bsums[g] = the sum of the 16 q of group g, for the min
 * terms of Q2_K, Q4_K and Q5_K. */
typedef struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is ggml's 36 bytes");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K is ggml's 292 bytes");
_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is ggml's 18 bytes");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is ggml's 20 bytes");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is ggml's 22 bytes");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is ggml's 24 bytes");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is ggml's 34 bytes");
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K is ggml's 84 bytes");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K is ggml's 110 bytes");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K is ggml's 144 bytes");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K is ggml's 176 bytes");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K is ggml's 210 bytes");
_Static_assert(_Alignof(block_q8_0) == QUANT_BLOCK_ALIGN && _Alignof(block_q3_K) == QUANT_BLOCK_ALIGN &&
                   _Alignof(block_q6_K) == QUANT_BLOCK_ALIGN,
               "blocks need only the alignment of their f16 fields");

/* Scale and min of sub-block j (0..7) of a Q4_K/Q5_K block, 6 bits each.
 * The 12 bytes hold 8 scales and 8 mins:
 *
 *   byte  0..3 : [hi2 of sc 4..7 | sc 0..3 (6 bits)]
 *   byte  4..7 : [hi2 of m 4..7  | m 0..3 (6 bits)]
 *   byte  8..11: [lo4 of m 4..7  | lo4 of sc 4..7]     (high nibble | low nibble)
 */
static inline void k4_scale_min(const uint8_t *scales, int j, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
        *m = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

/* Scale of sub-block j (0..15) of a Q3_K block, 6 bits, still biased by 32.
 *
 *   byte 0..7 : [lo4 of sc j+8 | lo4 of sc j]        for j = 0..7
 *   byte 8..11: bits 2k..2k+1 of byte 8+i = hi2 of sc 4k+i   (i, k = 0..3)
 */
static inline int q3k_scale(const uint8_t *scales, int j) {
    const int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
    const int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return lo | hi << 4;
}

/* Plain floats. */
void quantize_row_f16(const float *x, uint16_t *y, int64_t n);
void dequantize_row_f16(const uint16_t *x, float *y, int64_t n);
void quantize_row_bf16(const float *x, uint16_t *y, int64_t n);
void dequantize_row_bf16(const uint16_t *x, float *y, int64_t n);

/* 32-element blocks (quant.c). */
void quantize_row_q4_0(const float *x, block_q4_0 *y, int64_t n);
void dequantize_row_q4_0(const block_q4_0 *x, float *y, int64_t n);
void quantize_row_q4_1(const float *x, block_q4_1 *y, int64_t n);
void dequantize_row_q4_1(const block_q4_1 *x, float *y, int64_t n);
void quantize_row_q5_0(const float *x, block_q5_0 *y, int64_t n);
void dequantize_row_q5_0(const block_q5_0 *x, float *y, int64_t n);
void quantize_row_q5_1(const float *x, block_q5_1 *y, int64_t n);
void dequantize_row_q5_1(const block_q5_1 *x, float *y, int64_t n);
void quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t n);
void dequantize_row_q8_0(const block_q8_0 *x, float *y, int64_t n);

/* 256-element super-blocks (quant_k.c). */
void quantize_row_q2_K(const float *x, block_q2_K *y, int64_t n);
void dequantize_row_q2_K(const block_q2_K *x, float *y, int64_t n);
void quantize_row_q3_K(const float *x, block_q3_K *y, int64_t n);
void dequantize_row_q3_K(const block_q3_K *x, float *y, int64_t n);
void quantize_row_q4_K(const float *x, block_q4_K *y, int64_t n);
void dequantize_row_q4_K(const block_q4_K *x, float *y, int64_t n);
void quantize_row_q5_K(const float *x, block_q5_K *y, int64_t n);
void dequantize_row_q5_K(const block_q5_K *x, float *y, int64_t n);
void quantize_row_q6_K(const float *x, block_q6_K *y, int64_t n);
void dequantize_row_q6_K(const block_q6_K *x, float *y, int64_t n);

#endif
