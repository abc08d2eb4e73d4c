/* packed_f16.c — packed-weight kernels (kernels.h) for F16 and BF16 weights
 * in portable C: the packed layout, the function that builds it, and a gemm
 * per type that the SIMD levels (packed_f16_avx2.c, packed_f16_avx512.c)
 * equal bit for bit.
 *
 * Layout of a group of PACK_ROWS = 8 rows of n elements, with V = 16
 * elements for F16 and V = 32 for BF16 (the row kernel's step, dot.c):
 *   - the n / V full steps, one after the other; step s holds row 0's V
 *     elements s*V .. s*V+V-1, then row 1's, ... row 7's (8 * V * 2 bytes,
 *     256 or 512: whole cache lines);
 *   - then the tail (the n % V elements past the last full step), element
 *     by element, each as the 8 rows' values (16 bytes);
 *   - zero bytes up to a multiple of 64.
 * A last group with fewer than 8 rows is padded with zero rows.
 *
 * gemm keeps, for every output, exactly the float steps of dot.c's row
 * kernel: 16 float lanes (element i of a step in lane i % 16 for F16; for
 * BF16 lane l takes the pair 2l, 2l+1 of a 32-element step, the odd
 * product first), each product rounded then added (a product of halves is
 * exact; one of bfloats may underflow, so it is not an FMA), reduce_16, then
 * the tail elements added one by one. */
#include "kernels.h"

#include "fp16.h"

#include <string.h>

static inline size_t round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static inline int64_t n_groups(int64_t n_rows) { return (n_rows + PACK_ROWS - 1) / PACK_ROWS; }

static inline uint16_t load_u16(const void *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Elements per full step: 16 (F16) or 32 (BF16). */
static size_t group_bytes(int64_t n, int64_t step) {
    (void)step;
    return round64((size_t)n * PACK_ROWS * sizeof(uint16_t));
}

static void pack_rows(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out, int64_t step) {
    const size_t gb = group_bytes(n, step);
    const int64_t n_full = n / step * step;
    for (int64_t g = 0; g < n_groups(n_rows); g++) {
        uint16_t *group = (uint16_t *)((uint8_t *)out + (size_t)g * gb);
        memset(group, 0, gb);
        for (int r = 0; r < PACK_ROWS && g * PACK_ROWS + r < n_rows; r++) {
            const uint8_t *row = (const uint8_t *)rows + (size_t)(g * PACK_ROWS + r) * row_bytes;
            for (int64_t i = 0; i < n_full; i++) {
                const int64_t s = i / step, k = i % step;
                group[s * step * PACK_ROWS + r * step + k] = load_u16(row + 2 * i);
            }
            for (int64_t i = n_full; i < n; i++) group[n_full * PACK_ROWS + (i - n_full) * PACK_ROWS + r] = load_u16(row + 2 * i);
        }
    }
}

static size_t packed_size_f16(int64_t n_rows, int64_t n) { return (size_t)n_groups(n_rows) * group_bytes(n, 16); }
static size_t packed_size_bf16(int64_t n_rows, int64_t n) { return (size_t)n_groups(n_rows) * group_bytes(n, 32); }

static void pack_f16(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out) {
    pack_rows(rows, row_bytes, n_rows, n, out, 16);
}

static void pack_bf16(const void *rows, size_t row_bytes, int64_t n_rows, int64_t n, void *out) {
    pack_rows(rows, row_bytes, n_rows, n, out, 32);
}

/* dot.c's half_to_float: the exact float of a half, without branches. */
static inline float half_to_float(uint16_t h) {
    const uint32_t magnitude = ((uint32_t)h & 0x7FFFu) << 13;
    const float normal = fp32_from_bits(magnitude + (UINT32_C(0xE0) << 23)) * 0x1p-112f;
    const float subnormal = fp32_from_bits(((uint32_t)h & 0x3FFu) | UINT32_C(0x3F000000)) - 0.5f;
    const uint32_t is_normal = 0u - (uint32_t)((h & 0x7C00u) != 0);
    const uint32_t bits = (fp32_to_bits(normal) & is_normal) | (fp32_to_bits(subnormal) & ~is_normal);
    return fp32_from_bits(bits | ((uint32_t)h & 0x8000u) << 16);
}

/* dot.c's reduce_16. */
static inline float reduce_16(float v[16]) {
    for (int width = 8; width > 0; width /= 2) {
        for (int l = 0; l < width; l++) v[l] += v[l + width];
    }
    return v[0];
}

static void gemm_f16(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                     int64_t y_stride) {
    const uint16_t *w = group;
    const int64_t n_full = n / 16 * 16;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint16_t *a = (const uint16_t *)((const uint8_t *)acts + (size_t)t * act_stride);
        for (int r = 0; r < PACK_ROWS; r++) {
            float acc[16] = {0};
            for (int64_t i = 0; i < n_full; i += 16) {
                const uint16_t *ws = w + i * PACK_ROWS + r * 16;
                for (int l = 0; l < 16; l++) acc[l] += half_to_float(ws[l]) * half_to_float(a[i + l]);
            }
            float sum = reduce_16(acc);
            for (int64_t i = n_full; i < n; i++) sum += half_to_float(w[i * PACK_ROWS + r]) * half_to_float(a[i]);
            y[t * y_stride + r] = sum;
        }
    }
}

static void gemm_bf16(int64_t n, const void *group, const void *acts, size_t act_stride, int64_t n_tokens, float *y,
                      int64_t y_stride) {
    const uint16_t *w = group;
    const int64_t n_full = n / 32 * 32;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint16_t *a = (const uint16_t *)((const uint8_t *)acts + (size_t)t * act_stride);
        for (int r = 0; r < PACK_ROWS; r++) {
            float acc[16] = {0};
            for (int64_t i = 0; i < n_full; i += 32) {
                const uint16_t *ws = w + i * PACK_ROWS + r * 32;
                for (int l = 0; l < 16; l++) {
                    acc[l] += bf16_to_fp32(ws[2 * l + 1]) * bf16_to_fp32(a[i + 2 * l + 1]);
                    acc[l] += bf16_to_fp32(ws[2 * l]) * bf16_to_fp32(a[i + 2 * l]);
                }
            }
            float sum = reduce_16(acc);
            for (int64_t i = n_full; i < n; i++) sum += bf16_to_fp32(w[i * PACK_ROWS + r]) * bf16_to_fp32(a[i]);
            y[t * y_stride + r] = sum;
        }
    }
}

static const packed_layout layout_f16 = {packed_size_f16, pack_f16};
static const packed_layout layout_bf16 = {packed_size_bf16, pack_bf16};

const packed_layout *packed_layout_f16(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F16: return &layout_f16;
    case BIBIM_TYPE_BF16: return &layout_bf16;
    default: return NULL;
    }
}

packed_gemm_fn packed_gemm_f16_scalar(bibim_type type) {
    switch (type) {
    case BIBIM_TYPE_F16: return gemm_f16;
    case BIBIM_TYPE_BF16: return gemm_bf16;
    default: return NULL;
    }
}
