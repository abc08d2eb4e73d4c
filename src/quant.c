/* quant.c — the public quantize/dequantize entry points, the plain float
 * formats (F32, F16, BF16) and ggml's 32-element block quants (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0). The K-quants live in quant_k.c. */
#include "quant.h"

#include "bibim.h"
#include "fp16.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* F16, BF16                                                                */
/* ------------------------------------------------------------------------ */

void quantize_row_f16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

void dequantize_row_f16(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp16_to_fp32(x[i]);
}

void quantize_row_bf16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

void dequantize_row_bf16(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = bf16_to_fp32(x[i]);
}

/* ------------------------------------------------------------------------ */
/* Shared helpers of the 32-element quants                                  */
/* ------------------------------------------------------------------------ */

/* The element of largest magnitude, with its sign (the first one on ties;
 * NaNs are skipped). Its sign matters: ggml maps it to the extreme code -8
 * (or -16), which has no positive counterpart, and so gains half a step. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *min, float *max) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *min = lo;
    *max = hi;
}

/* ggml rounds these codes by truncating v = x/d + offset + 0.5 toward zero
 * and capping at top. Finite inputs keep v above -1, where truncation gives
 * 0..top like here; the explicit bounds only make inf/NaN inputs defined. */
static inline uint8_t truncated_code(float v, int top) {
    if (!(v > 0.0f)) return 0;
    if (v >= (float)top) return (uint8_t)top;
    return (uint8_t)v;
}

/* The qh word of Q5_0/Q5_1, stored little-endian. */
static inline uint32_t load_le32(const uint8_t b[4]) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void store_le32(uint8_t b[4], uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------------------------ */
/* Q4_0                                                                     */
/* ------------------------------------------------------------------------ */

void quantize_row_q4_0(const float *x, block_q4_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK4_0; b++, x += QK4_0) {
        const float d = signed_absmax(x, QK4_0) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const uint8_t lo = truncated_code(x[j] * id + 8.5f, 15);
            const uint8_t hi = truncated_code(x[j + QK4_0 / 2] * id + 8.5f, 15);
            y[b].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

/*  block_q4_0, 18 bytes:
 *
 *   0      2                              18
 *   +------+------------------------------+
 *   | d f16| qs[16]                       |
 *   +------+------------------------------+
 *   qs[j] = q[j] | q[j + 16] << 4;  x = (q - 8) * d
 */
void dequantize_row_q4_0(const block_q4_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK4_0; b++, y += QK4_0) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = (float)((x[b].qs[j] & 0xF) - 8) * d;
            y[j + QK4_0 / 2] = (float)((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Q4_1                                                                     */
/* ------------------------------------------------------------------------ */

void quantize_row_q4_1(const float *x, block_q4_1 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK4_1; b++, x += QK4_1) {
        float min, max;
        min_max(x, QK4_1, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            const uint8_t lo = truncated_code((x[j] - min) * id + 0.5f, 15);
            const uint8_t hi = truncated_code((x[j + QK4_1 / 2] - min) * id + 0.5f, 15);
            y[b].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

/*  block_q4_1, 20 bytes:
 *
 *   0      2      4                              20
 *   +------+------+------------------------------+
 *   | d f16| m f16| qs[16]                       |
 *   +------+------+------------------------------+
 *   qs[j] = q[j] | q[j + 16] << 4;  x = q * d + m
 */
void dequantize_row_q4_1(const block_q4_1 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK4_1; b++, y += QK4_1) {
        const float d = fp16_to_fp32(x[b].d);
        const float m = fp16_to_fp32(x[b].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (float)(x[b].qs[j] & 0xF) * d + m;
            y[j + QK4_1 / 2] = (float)(x[b].qs[j] >> 4) * d + m;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Q5_0, Q5_1                                                               */
/* ------------------------------------------------------------------------ */

/* Splits 32 five-bit codes into nibbles (qs) and fifth bits (qh). */
static void pack_5bit(const uint8_t code[32], uint8_t qs[16], uint8_t qh[4]) {
    uint32_t high = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((code[j] & 0xF) | (code[j + 16] & 0xF) << 4);
        high |= (uint32_t)(code[j] >> 4) << j;
        high |= (uint32_t)(code[j + 16] >> 4) << (j + 16);
    }
    store_le32(qh, high);
}

/* The inverse of pack_5bit: element j's code, 0..31. */
static void unpack_5bit(const uint8_t qs[16], const uint8_t qh[4], int code[32]) {
    const uint32_t high = load_le32(qh);
    for (int j = 0; j < 16; j++) {
        code[j] = (qs[j] & 0xF) | (int)((high >> j) & 1) << 4;
        code[j + 16] = (qs[j] >> 4) | (int)((high >> (j + 16)) & 1) << 4;
    }
}

void quantize_row_q5_0(const float *x, block_q5_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK5_0; b++, x += QK5_0) {
        const float d = signed_absmax(x, QK5_0) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t code[QK5_0];
        for (int j = 0; j < QK5_0; j++) code[j] = truncated_code(x[j] * id + 16.5f, 31);
        y[b].d = fp32_to_fp16(d);
        pack_5bit(code, y[b].qs, y[b].qh);
    }
}

/*  block_q5_0, 22 bytes:
 *
 *   0      2            6                          22
 *   +------+------------+--------------------------+
 *   | d f16| qh (LE u32)| qs[16]                   |
 *   +------+------------+--------------------------+
 *   low 4 bits: qs[j] = q[j] | q[j + 16] << 4; fifth bit of q[j]: bit j of qh
 *   x = (q - 16) * d
 */
void dequantize_row_q5_0(const block_q5_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK5_0; b++, y += QK5_0) {
        const float d = fp16_to_fp32(x[b].d);
        int code[QK5_0];
        unpack_5bit(x[b].qs, x[b].qh, code);
        for (int j = 0; j < QK5_0; j++) y[j] = (float)(code[j] - 16) * d;
    }
}

void quantize_row_q5_1(const float *x, block_q5_1 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK5_1; b++, x += QK5_1) {
        float min, max;
        min_max(x, QK5_1, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t code[QK5_1];
        for (int j = 0; j < QK5_1; j++) code[j] = truncated_code((x[j] - min) * id + 0.5f, 31);
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(min);
        pack_5bit(code, y[b].qs, y[b].qh);
    }
}

/*  block_q5_1, 24 bytes:
 *
 *   0      2      4            8                          24
 *   +------+------+------------+--------------------------+
 *   | d f16| m f16| qh (LE u32)| qs[16]                   |
 *   +------+------+------------+--------------------------+
 *   nibbles and fifth bits as in Q5_0;  x = q * d + m
 */
void dequantize_row_q5_1(const block_q5_1 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK5_1; b++, y += QK5_1) {
        const float d = fp16_to_fp32(x[b].d);
        const float m = fp16_to_fp32(x[b].m);
        int code[QK5_1];
        unpack_5bit(x[b].qs, x[b].qh, code);
        for (int j = 0; j < QK5_1; j++) y[j] = (float)code[j] * d + m;
    }
}

/* ------------------------------------------------------------------------ */
/* Q8_0                                                                     */
/* ------------------------------------------------------------------------ */

/* roundf (halves away from zero), as ggml; the bounds only make inf/NaN
 * inputs defined, finite ones stay within +-127. */
static inline int8_t rounded_code_q8(float v) {
    const float r = roundf(v);
    if (!(r > -128.0f)) return r < 0.0f ? -128 : 0;
    if (r > 127.0f) return 127;
    return (int8_t)r;
}

void quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) {
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
        }
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) y[b].qs[j] = rounded_code_q8(x[j] * id);
    }
}

/*  block_q8_0, 34 bytes:
 *
 *   0      2                                        34
 *   +------+----------------------------------------+
 *   | d f16| qs[32] (int8)                          |
 *   +------+----------------------------------------+
 *   x = q * d
 */
void dequantize_row_q8_0(const block_q8_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK8_0; b++, y += QK8_0) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_0; j++) y[j] = (float)x[b].qs[j] * d;
    }
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                      */
/* ------------------------------------------------------------------------ */

/* Blocks are read and written through their structs, which need
 * QUANT_BLOCK_ALIGN; a caller's unaligned buffer is bounced through this
 * much aligned stack, a few blocks at a time. */
#define BOUNCE_BYTES 4096

static int is_block_aligned(const void *p) { return (uintptr_t)p % QUANT_BLOCK_ALIGN == 0; }

static bibim_status check_args(bibim_type type, const void *src, const void *dst, int64_t n) {
    if (!src || !dst) return BIBIM_ERR_INVALID_ARG;
    if (!bibim_type_is_supported(type)) return BIBIM_ERR_UNSUPPORTED;
    if (bibim_type_row_bytes(type, n) < 0) return BIBIM_ERR_INVALID_ARG;
    return BIBIM_OK;
}

/* `dst` is aligned for the type's blocks; `type` is supported. */
static void quantize_aligned(bibim_type type, const float *src, void *dst, int64_t n) {
    switch (type) {
    case BIBIM_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case BIBIM_TYPE_F16: quantize_row_f16(src, dst, n); break;
    case BIBIM_TYPE_BF16: quantize_row_bf16(src, dst, n); break;
    case BIBIM_TYPE_Q4_0: quantize_row_q4_0(src, dst, n); break;
    case BIBIM_TYPE_Q4_1: quantize_row_q4_1(src, dst, n); break;
    case BIBIM_TYPE_Q5_0: quantize_row_q5_0(src, dst, n); break;
    case BIBIM_TYPE_Q5_1: quantize_row_q5_1(src, dst, n); break;
    case BIBIM_TYPE_Q8_0: quantize_row_q8_0(src, dst, n); break;
    case BIBIM_TYPE_Q2_K: quantize_row_q2_K(src, dst, n); break;
    case BIBIM_TYPE_Q3_K: quantize_row_q3_K(src, dst, n); break;
    case BIBIM_TYPE_Q4_K: quantize_row_q4_K(src, dst, n); break;
    case BIBIM_TYPE_Q5_K: quantize_row_q5_K(src, dst, n); break;
    case BIBIM_TYPE_Q6_K: quantize_row_q6_K(src, dst, n); break;
    default: break; /* check_args let only the types above through */
    }
}

/* `src` is aligned for the type's blocks; `type` is supported. */
static void dequantize_aligned(bibim_type type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case BIBIM_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case BIBIM_TYPE_F16: dequantize_row_f16(src, dst, n); break;
    case BIBIM_TYPE_BF16: dequantize_row_bf16(src, dst, n); break;
    case BIBIM_TYPE_Q4_0: dequantize_row_q4_0(src, dst, n); break;
    case BIBIM_TYPE_Q4_1: dequantize_row_q4_1(src, dst, n); break;
    case BIBIM_TYPE_Q5_0: dequantize_row_q5_0(src, dst, n); break;
    case BIBIM_TYPE_Q5_1: dequantize_row_q5_1(src, dst, n); break;
    case BIBIM_TYPE_Q8_0: dequantize_row_q8_0(src, dst, n); break;
    case BIBIM_TYPE_Q2_K: dequantize_row_q2_K(src, dst, n); break;
    case BIBIM_TYPE_Q3_K: dequantize_row_q3_K(src, dst, n); break;
    case BIBIM_TYPE_Q4_K: dequantize_row_q4_K(src, dst, n); break;
    case BIBIM_TYPE_Q5_K: dequantize_row_q5_K(src, dst, n); break;
    case BIBIM_TYPE_Q6_K: dequantize_row_q6_K(src, dst, n); break;
    default: break; /* check_args let only the types above through */
    }
}

/* Elements per bounce: as many whole blocks as BOUNCE_BYTES holds. */
static int64_t bounce_elems(bibim_type type) {
    return BOUNCE_BYTES / bibim_type_block_bytes(type) * bibim_type_block_elems(type);
}

bibim_status bibim_quantize_row(bibim_type type, const float *src, void *dst, int64_t n) {
    const bibim_status status = check_args(type, src, dst, n);
    if (status != BIBIM_OK) return status;
    if (is_block_aligned(dst)) {
        quantize_aligned(type, src, dst, n);
        return BIBIM_OK;
    }
    _Alignas(max_align_t) unsigned char bounce[BOUNCE_BYTES];
    const int64_t chunk = bounce_elems(type);
    unsigned char *out = dst;
    for (int64_t done = 0; done < n; done += chunk) {
        const int64_t count = n - done < chunk ? n - done : chunk;
        const int64_t bytes = bibim_type_row_bytes(type, count);
        quantize_aligned(type, src + done, bounce, count);
        memcpy(out, bounce, (size_t)bytes);
        out += bytes;
    }
    return BIBIM_OK;
}

bibim_status bibim_dequantize_row(bibim_type type, const void *src, float *dst, int64_t n) {
    const bibim_status status = check_args(type, src, dst, n);
    if (status != BIBIM_OK) return status;
    if (is_block_aligned(src)) {
        dequantize_aligned(type, src, dst, n);
        return BIBIM_OK;
    }
    _Alignas(max_align_t) unsigned char bounce[BOUNCE_BYTES];
    const int64_t chunk = bounce_elems(type);
    const unsigned char *in = src;
    for (int64_t done = 0; done < n; done += chunk) {
        const int64_t count = n - done < chunk ? n - done : chunk;
        const int64_t bytes = bibim_type_row_bytes(type, count);
        memcpy(bounce, in, (size_t)bytes);
        dequantize_aligned(type, bounce, dst + done, count);
        in += bytes;
    }
    return BIBIM_OK;
}
