/* quant_k.c — ggml's K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: super-blocks of
 * 256 elements split into sub-blocks of 16 or 32, each with its own scale
 * (and min), the scales themselves quantized against one f16 super-scale.
 *
 * Quantization follows ggml's reference path, the one llama-quantize takes
 * without an importance matrix: a weighted least-squares search for each
 * sub-block's scale (and min), quantization of those scales to 4, 6 or 8
 * bits, then re-quantization of the values with the scales as stored. Every
 * float expression keeps ggml's order of operations (the build forbids FMA
 * contraction), so the bytes come out identical to llama.cpp's. */
#include "quant.h"

#include "fp16.h"

#include <math.h>
#include <string.h>

/* Sub-blocks whose largest magnitude is below this are treated as zero. */
#define GROUP_MAX_EPS 1e-15f

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Round to nearest, ties to even, for |v| < 2^22 (every value the searches
 * round is far smaller): adding 1.5 * 2^23 leaves exactly the integer part
 * in the low mantissa bits, rounded by the FPU. It is ggml's rounding; any
 * other input (inf, NaN, huge) gives some int in [-2^22, 2^22) without
 * undefined behaviour, and every caller clamps the result. */
static inline int nearest_int(float v) {
    const float shifted = v + 12582912.0f;
    return (int)(fp32_to_bits(shifted) & 0x7fffffu) - 0x400000;
}

/* ------------------------------------------------------------------------ */
/* Scale searches                                                           */
/* ------------------------------------------------------------------------ */

/* Parameters of the affine search: the inverse scales tried are
 * (nmax + rmin + rdelta * step) / (max - min) for step = 0..nstep. */
typedef struct affine_search {
    float rmin, rdelta;
    int nstep;
    int use_mad; /* minimize the weighted absolute error instead of the squared one */
} affine_search;

#define MAX_SUB_BLOCK 32

/* L[i] = round(iscale * (x[i] - min)) clamped to 0..nmax. */
static void affine_levels(int n, int nmax, const float *x, float min, float iscale, uint8_t *L) {
    for (int i = 0; i < n; i++) L[i] = (uint8_t)clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
}

/* Weighted error of reconstructing x as scale * L + min. */
static float affine_error(int n, const float *x, const float *w, const uint8_t *L, float scale, float min,
                          int use_mad) {
    float error = 0;
    for (int i = 0; i < n; i++) {
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        error += w[i] * diff;
    }
    return error;
}

/* Finds scale >= 0 and min <= 0 so that x ~ scale * L + min with L in
 * 0..nmax, minimizing the w-weighted error (ggml's make_qkx2_quants). Each
 * candidate inverse scale fixes the levels L; for fixed L the best scale and
 * min are a weighted linear regression, kept if it beats the best so far.
 * Stores -min in *neg_min and returns the scale. */
static float search_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                              const affine_search *s) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0; /* the code 0 must be able to express 0 */
    /* A constant sub-block needs no scale. Neither can an infinite range
     * (inf input, or finite values spanning more than FLT_MAX) get a useful
     * one: bail out instead of dividing by the infinity. */
    if (max == min || !(max - min < INFINITY)) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    affine_levels(n, nmax, x, min, iscale, L);
    float best_error = affine_error(n, x, w, L, scale, min, s->use_mad);

    uint8_t trial[MAX_SUB_BLOCK];
    for (int step = 0; step <= s->nstep; step++) {
        iscale = (s->rmin + s->rdelta * (float)step + (float)nmax) / (max - min);
        affine_levels(n, nmax, x, min, iscale, trial);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const float wl = w[i] * trial[i];
            sum_l += wl;
            sum_l2 += wl * trial[i];
            sum_xl += wl * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue; /* all levels equal: no regression */
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) { /* refit through the origin instead */
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float error = affine_error(n, x, w, trial, this_scale, this_min, s->use_mad);
        if (error < best_error) {
            memcpy(L, trial, (size_t)n);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/* The element of largest magnitude, with its sign (first one on ties). */
static float signed_absmax(int n, const float *x, float *amax_out) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    *amax_out = amax;
    return max;
}

/* Sums of the x^2-weighted regression of x on the symmetric levels
 * round(iscale * x) in -nmax..nmax-1. */
static void symmetric_sums(int n, int nmax, const float *x, float iscale, float *sumlx, float *suml2) {
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        const float l = (float)clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        const float w = x[i] * x[i];
        slx += w * x[i] * l;
        sl2 += w * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

/* L[i] = nmax + round(iscale * x[i]) clamped to 0..2*nmax-1. */
static void symmetric_levels(int n, int nmax, const float *x, float iscale, int8_t *L) {
    for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
}

/* Finds scale so that x ~ scale * (L - nmax), L in 0..2*nmax-1, minimizing
 * the x^2-weighted squared error (ggml's make_qx_quants, rmse_type 1): the
 * largest magnitude is mapped to -nmax, which has no positive twin, and 18
 * nearby inverse scales are tried, each refined by regression. */
static float search_scale_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float amax;
    const float max = signed_absmax(n, x, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx, suml2;
    symmetric_sums(n, nmax, x, iscale, &sumlx, &suml2);
    symmetric_levels(n, nmax, x, iscale, L);
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)step) / max;
        symmetric_sums(n, nmax, x, iscale, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            symmetric_levels(n, nmax, x, iscale, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* The 3-bit variant (ggml's make_q3_quants with do_rmse): starts from the
 * largest magnitude mapped to -4, then moves one level at a time to the
 * value its neighbours' regression asks for while that lowers the x^2-
 * weighted error, for at most 5 sweeps. L gets levels + 4, in 0..7. */
static float search_scale_q3(const float *x, int8_t *L) {
    enum { n = 16, nmax = 4 };
    float amax;
    const float max = signed_absmax(n, x, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, n);
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int sweep = 0; sweep < 5; sweep++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            const int new_l = clamp_int(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i]) continue;
            slx += w * x[i] * (float)new_l;
            sl2 += w * (float)new_l * (float)new_l;
            /* slx^2 / sl2 is the error reduction of the fit: keep the move if it grows */
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)new_l;
                sumlx = slx;
                suml2 = sl2;
                n_changed++;
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

/* ------------------------------------------------------------------------ */
/* Packing shared by several types                                          */
/* ------------------------------------------------------------------------ */

/* Four 2-bit codes per byte: element 128*h + 32*g + l goes to bits 2g..2g+1
 * of byte 32*h + l (Q2_K and the low bits of Q3_K). */
static void pack_2bit(const uint8_t *L, uint8_t qs[QK_K / 4]) {
    for (int h = 0; h < QK_K; h += 128) {
        for (int l = 0; l < 32; l++) {
            qs[h / 4 + l] = (uint8_t)(L[h + l] | L[h + l + 32] << 2 | L[h + l + 64] << 4 | L[h + l + 96] << 6);
        }
    }
}

/* Code of element e from pack_2bit's layout. */
static inline int unpack_2bit(const uint8_t qs[QK_K / 4], int e) {
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

/* The inverse of k4_scale_min (see its diagram in quant.h). */
static void pack_k4_scales_mins(const uint8_t sc[8], const uint8_t m[8], uint8_t scales[K_SCALE_SIZE]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        scales[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
    }
}

/* ------------------------------------------------------------------------ */
/* Q2_K                                                                     */
/* ------------------------------------------------------------------------ */

static void quantize_block_q2_K(const float *x, block_q2_K *y) {
    static const affine_search search = {-0.5f, 0.1f, 15, 1};
    uint8_t L[QK_K];
    float scales[QK_K / 16], mins[QK_K / 16], w[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 16; j++) {
        for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
        scales[j] = search_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], &search);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }

    /* 4-bit scales and mins, relative to the largest of each. The bytes take
     * the codes modulo 256 and shift them as unsigned: what ggml's int
     * stores do for the (finite-input) range 0..15, without UB otherwise. */
    memset(y->scales, 0, sizeof y->scales);
    y->d = fp32_to_fp16(0.0f);
    y->dmin = fp32_to_fp16(0.0f);
    if (max_scale > 0) {
        const float iscale = 15.f / max_scale;
        for (int j = 0; j < QK_K / 16; j++) y->scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
        y->d = fp32_to_fp16(max_scale / 15.f);
    }
    if (max_min > 0) {
        const float iscale = 15.f / max_min;
        for (int j = 0; j < QK_K / 16; j++) y->scales[j] |= (uint8_t)((unsigned)nearest_int(iscale * mins[j]) << 4);
        y->dmin = fp32_to_fp16(max_min / 15.f);
    }

    /* Re-quantize with the scales as stored; a sub-block whose scale came
     * out 0 keeps the levels of its search. */
    const float d_all = fp16_to_fp32(y->d), dmin_all = fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = d_all * (float)(y->scales[j] & 0xF);
        if (d == 0) continue;
        const float dm = dmin_all * (float)(y->scales[j] >> 4);
        for (int l = 0; l < 16; l++) L[16 * j + l] = (uint8_t)clamp_int(nearest_int((x[16 * j + l] + dm) / d), 0, 3);
    }
    pack_2bit(L, y->qs);
}

void quantize_row_q2_K(const float *x, block_q2_K *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++) quantize_block_q2_K(x + b * QK_K, &y[b]);
}

/*  block_q2_K, 84 bytes:
 *
 *   0              16                                  80      82      84
 *   +--------------+-----------------------------------+-------+-------+
 *   | scales[16]   | qs[64]: 2-bit codes               | d f16 |dmin16 |
 *   +--------------+-----------------------------------+-------+-------+
 *   scales[s] = sc | m << 4 for sub-block s = e / 16.
 *   Element e = 128*h + 32*g + l (h 0..1, g 0..3, l 0..31) sits in bits
 *   2g..2g+1 of qs[32*h + l].
 *   x = (d * sc) * q - (dmin * m)
 */
void dequantize_row_q2_K(const block_q2_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        const float d = fp16_to_fp32(x[b].d);
        const float dmin = fp16_to_fp32(x[b].dmin);
        for (int s = 0; s < QK_K / 16; s++) {
            const float dl = d * (float)(x[b].scales[s] & 0xF);
            const float ml = dmin * (float)(x[b].scales[s] >> 4);
            for (int e = 16 * s; e < 16 * s + 16; e++) y[e] = dl * (float)unpack_2bit(x[b].qs, e) - ml;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Q3_K                                                                     */
/* ------------------------------------------------------------------------ */

/* The inverse of q3k_scale: 16 biased 6-bit scales into 12 bytes. */
static void pack_q3k_scales(const int code[QK_K / 16], uint8_t scales[K_SCALE_SIZE]) {
    memset(scales, 0, K_SCALE_SIZE);
    for (int j = 0; j < QK_K / 16; j++) {
        scales[j % 8] |= (uint8_t)((code[j] & 0xF) << (j < 8 ? 0 : 4));
        scales[8 + j % 4] |= (uint8_t)((code[j] >> 4) << (2 * (j / 4)));
    }
}

static void quantize_block_q3_K(const float *x, block_q3_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; j++) {
        scales[j] = search_scale_q3(x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > amax) {
            amax = fabsf(scales[j]);
            max_scale = scales[j];
        }
    }

    /* 6-bit signed scales, the largest magnitude mapped to -32. */
    int code[QK_K / 16] = {0};
    y->d = fp32_to_fp16(0.0f);
    if (max_scale != 0) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; j++) code[j] = clamp_int(nearest_int(iscale * scales[j]), -32, 31) + 32;
        y->d = fp32_to_fp16(1 / iscale);
    }
    pack_q3k_scales(code, y->scales);

    const float d_all = fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = d_all * (float)(q3k_scale(y->scales, j) - 32);
        if (d == 0) continue;
        for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(clamp_int(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }

    /* Levels 0..7: the high bit of element e goes to bit e/32 of hmask[e%32]. */
    uint8_t low[QK_K];
    memset(y->hmask, 0, sizeof y->hmask);
    for (int e = 0; e < QK_K; e++) {
        if (L[e] > 3) y->hmask[e % 32] |= (uint8_t)(1u << (e / 32));
        low[e] = (uint8_t)(L[e] & 3);
    }
    pack_2bit(low, y->qs);
}

void quantize_row_q3_K(const float *x, block_q3_K *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++) quantize_block_q3_K(x + b * QK_K, &y[b]);
}

/*  block_q3_K, 110 bytes:
 *
 *   0             32                                  96           108     110
 *   +-------------+-----------------------------------+------------+-------+
 *   | hmask[32]   | qs[64]: low 2 bits                | scales[12] | d f16 |
 *   +-------------+-----------------------------------+------------+-------+
 *   Low bits of element e as in Q2_K; its high bit is bit e/32 of
 *   hmask[e % 32]. Scale of sub-block s = e / 16: q3k_scale() (quant.h).
 *   x = (d * (sc - 32)) * (low - (high ? 0 : 4))
 */
void dequantize_row_q3_K(const block_q3_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        const float d = fp16_to_fp32(x[b].d);
        for (int s = 0; s < QK_K / 16; s++) {
            const float dl = d * (float)(q3k_scale(x[b].scales, s) - 32);
            for (int e = 16 * s; e < 16 * s + 16; e++) {
                const int high = (x[b].hmask[e % 32] >> (e / 32)) & 1;
                y[e] = dl * (float)(unpack_2bit(x[b].qs, e) - (high ? 0 : 4));
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Q4_K, Q5_K                                                               */
/* ------------------------------------------------------------------------ */

/* What Q4_K and Q5_K share: per sub-block of 32 an affine search weighted by
 * (rms of the sub-block + |x|), 6-bit scales and mins relative to the
 * largest of each, then levels 0..nmax re-quantized with the stored scales
 * (a sub-block whose scale came out 0 keeps the levels of its search). */
static void quantize_superblock_k4(const float *x, int nmax, const affine_search *search, uint16_t *d_out,
                                   uint16_t *dmin_out, uint8_t scales_out[K_SCALE_SIZE], uint8_t L[QK_K]) {
    float scales[QK_K / 32], mins[QK_K / 32], w[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = search_scale_min(32, nmax, xs, w, L + 32 * j, &mins[j], search);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }

    /* ggml keeps the codes modulo 256 before capping at 63; the same here. */
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t sc[QK_K / 32], m[QK_K / 32];
    for (int j = 0; j < QK_K / 32; j++) {
        const uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        const uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        sc[j] = ls < 63 ? ls : 63;
        m[j] = lm < 63 ? lm : 63;
    }
    pack_k4_scales_mins(sc, m, scales_out);
    *d_out = fp32_to_fp16(max_scale / 63.f);
    *dmin_out = fp32_to_fp16(max_min / 63.f);

    const float d_all = fp16_to_fp32(*d_out), dmin_all = fp16_to_fp32(*dmin_out);
    for (int j = 0; j < QK_K / 32; j++) {
        const float d = d_all * (float)sc[j];
        if (d == 0) continue;
        const float dm = dmin_all * (float)m[j];
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clamp_int(nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

static void quantize_block_q4_K(const float *x, block_q4_K *y) {
    static const affine_search search = {-1.0f, 0.1f, 20, 0};
    uint8_t L[QK_K];
    quantize_superblock_k4(x, 15, &search, &y->d, &y->dmin, y->scales, L);
    for (int c = 0; c < QK_K / 64; c++) {
        for (int l = 0; l < 32; l++) y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void quantize_row_q4_K(const float *x, block_q4_K *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++) quantize_block_q4_K(x + b * QK_K, &y[b]);
}

/*  block_q4_K, 144 bytes:
 *
 *   0       2       4             16                                   144
 *   +-------+-------+-------------+------------------------------------+
 *   | d f16 |dmin16 | scales[12]  | qs[128]: 4-bit codes               |
 *   +-------+-------+-------------+------------------------------------+
 *   Chunk c = e / 64 uses qs[32c .. 32c+31]: its first 32 elements are the
 *   low nibbles (sub-block 2c), the next 32 the high nibbles (2c+1).
 *   Sub-block s has 6-bit sc and m from k4_scale_min() (quant.h).
 *   x = (d * sc) * q - (dmin * m)
 */
void dequantize_row_q4_K(const block_q4_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        const float d = fp16_to_fp32(x[b].d);
        const float dmin = fp16_to_fp32(x[b].dmin);
        for (int s = 0; s < QK_K / 32; s++) {
            uint8_t sc, m;
            k4_scale_min(x[b].scales, s, &sc, &m);
            const float d1 = d * (float)sc;
            const float m1 = dmin * (float)m;
            const uint8_t *q = x[b].qs + 32 * (s / 2);
            const int shift = 4 * (s % 2);
            for (int l = 0; l < 32; l++) y[32 * s + l] = d1 * (float)((q[l] >> shift) & 0xF) - m1;
        }
    }
}

static void quantize_block_q5_K(const float *x, block_q5_K *y) {
    static const affine_search search = {-0.5f, 0.1f, 15, 0};
    uint8_t L[QK_K];
    quantize_superblock_k4(x, 31, &search, &y->d, &y->dmin, y->scales, L);
    memset(y->qh, 0, sizeof y->qh);
    for (int e = 0; e < QK_K; e++) {
        const int s = e / 32, l = e % 32;
        if (s % 2 == 0) y->qs[32 * (s / 2) + l] = (uint8_t)(L[e] & 0xF);
        else y->qs[32 * (s / 2) + l] |= (uint8_t)((L[e] & 0xF) << 4);
        y->qh[l] |= (uint8_t)((L[e] >> 4) << s);
    }
}

void quantize_row_q5_K(const float *x, block_q5_K *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++) quantize_block_q5_K(x + b * QK_K, &y[b]);
}

/*  block_q5_K, 176 bytes:
 *
 *   0       2       4             16            48                     176
 *   +-------+-------+-------------+-------------+----------------------+
 *   | d f16 |dmin16 | scales[12]  | qh[32]      | qs[128]: low 4 bits  |
 *   +-------+-------+-------------+-------------+----------------------+
 *   Low nibbles as in Q4_K; the fifth bit of element e (sub-block
 *   s = e / 32) is bit s of qh[e % 32].
 *   x = (d * sc) * q - (dmin * m)
 */
void dequantize_row_q5_K(const block_q5_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        const float d = fp16_to_fp32(x[b].d);
        const float dmin = fp16_to_fp32(x[b].dmin);
        for (int s = 0; s < QK_K / 32; s++) {
            uint8_t sc, m;
            k4_scale_min(x[b].scales, s, &sc, &m);
            const float d1 = d * (float)sc;
            const float m1 = dmin * (float)m;
            const uint8_t *q = x[b].qs + 32 * (s / 2);
            const int shift = 4 * (s % 2);
            for (int l = 0; l < 32; l++) {
                const int code = ((q[l] >> shift) & 0xF) | ((x[b].qh[l] >> s) & 1) << 4;
                y[32 * s + l] = d1 * (float)code - m1;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Q6_K                                                                     */
/* ------------------------------------------------------------------------ */

/* Byte offsets and shifts of element e's 6-bit code: within its half
 * h = e / 128, group g = (e % 128) / 32 and lane l = e % 32, the low nibble is
 * nibble g / 2 of ql[64h + 32(g % 2) + l] and the top two bits are bits
 * 2g..2g+1 of qh[32h + l]. */
static inline int q6k_ql_index(int e) { return 64 * (e / 128) + 32 * ((e / 32) % 2) + e % 32; }
static inline int q6k_ql_shift(int e) { return 4 * (((e % 128) / 32) / 2); }
static inline int q6k_qh_index(int e) { return 32 * (e / 128) + e % 32; }
static inline int q6k_qh_shift(int e) { return 2 * ((e % 128) / 32); }

static void quantize_block_q6_K(const float *x, block_q6_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < QK_K / 16; j++) {
        scales[j] = search_scale_symmetric(16, 32, x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > max_abs_scale) {
            max_abs_scale = fabsf(scales[j]);
            max_scale = scales[j];
        }
    }
    memset(y, 0, sizeof *y);
    if (max_abs_scale < GROUP_MAX_EPS) return; /* all (near) zero: d = 0 */

    /* 8-bit signed scales, the largest magnitude mapped to -128. */
    const float iscale = -128.f / max_scale;
    y->d = fp32_to_fp16(1 / iscale);
    for (int j = 0; j < QK_K / 16; j++) y->scales[j] = (int8_t)clamp_int(nearest_int(iscale * scales[j]), -128, 127);

    const float d_all = fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = d_all * (float)y->scales[j];
        if (d == 0) continue;
        for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(clamp_int(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    for (int e = 0; e < QK_K; e++) {
        y->ql[q6k_ql_index(e)] |= (uint8_t)((L[e] & 0xF) << q6k_ql_shift(e));
        y->qh[q6k_qh_index(e)] |= (uint8_t)((L[e] >> 4) << q6k_qh_shift(e));
    }
}

void quantize_row_q6_K(const float *x, block_q6_K *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++) quantize_block_q6_K(x + b * QK_K, &y[b]);
}

/*  block_q6_K, 210 bytes:
 *
 *   0                         128              192          208     210
 *   +-------------------------+----------------+------------+-------+
 *   | ql[128]: low 4 bits     | qh[64]: hi 2   | scales[16] | d f16 |
 *   +-------------------------+----------------+------------+-------+
 *   Per half h (128 elements): ql[64h .. 64h+63], qh[32h .. 32h+31].
 *   Element 128h + 32g + l:  low nibble = (g < 2 ? low : high) nibble of
 *   ql[64h + 32(g % 2) + l];  top bits = bits 2g..2g+1 of qh[32h + l].
 *   scales[e / 16] is a signed 8-bit scale.
 *   x = (d * sc) * (q - 32)
 */
void dequantize_row_q6_K(const block_q6_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        const float d = fp16_to_fp32(x[b].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *qh = x[b].qh + 32 * h;
            for (int g = 0; g < 4; g++) {
                const uint8_t *ql = x[b].ql + 64 * h + 32 * (g % 2);
                const int e0 = 128 * h + 32 * g;
                for (int l = 0; l < 32; l++) {
                    const int code = ((ql[l] >> (4 * (g / 2))) & 0xF) | ((qh[l] >> (2 * g)) & 3) << 4;
                    y[e0 + l] = d * (float)x[b].scales[(e0 + l) / 16] * (float)(code - 32);
                }
            }
        }
    }
}
