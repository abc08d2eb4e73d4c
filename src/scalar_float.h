/* scalar_float.h — the float steps of the scalar kernels (dot.c and
 * packed_scalar.c) that every SIMD kernel reproduces bit for bit: an FMA's
 * single rounding without an FMA instruction, and ggml's 8-lane sum. */
#ifndef BIBIM_SCALAR_FLOAT_H
#define BIBIM_SCALAR_FLOAT_H

#include <stdint.h>
#include <string.h>

/* a * b + c rounded once, as an FMA instruction does, in portable C
 * without a library call (fmaf is one when the build has no FMA
 * instructions, and costs more than the rest of a block's work).
 *
 * The product of two floats is exact in double (24 + 24 < 53 bits), so
 * t = p + c in double is the exact result rounded once, and (float)t rounds
 * it a second time. Double rounding can go wrong only when t lands exactly
 * on a midpoint between two floats while the exact sum was not there
 * (rounding is monotonic and every such midpoint is a double). A midpoint
 * has its lowest 28 mantissa bits clear (29 for normal floats, more for
 * subnormal ones), which a random t has with probability 2^-28: then, and
 * only then, fma_f32_slow decides exactly. */
static inline float fma_f32_slow(double p, double c, double t) {
    /* TwoSum: t + err == p + c exactly. If t is inexact it is made "round
     * to odd": its neighbour toward zero if it was rounded away from zero,
     * with the last bit set. Rounding a round-to-odd value with 29 extra
     * bits to float gives the correctly rounded result (Boldo and
     * Melquiond, "Emulation of FMA and correctly rounded sums", 2008).
     * inf and NaN give a NaN err, which compares false: t passes through. */
    const double tc = t - p;
    const double err = (p - (t - tc)) + (c - tc);
    if (err < 0.0 || err > 0.0) {
        uint64_t bits;
        memcpy(&bits, &t, sizeof bits);
        if ((err < 0.0) != (t < 0.0)) bits -= 1; /* t was rounded away from zero */
        bits |= 1;
        memcpy(&t, &bits, sizeof t);
    }
    return (float)t;
}

static inline float fma_f32(float a, float b, float c) {
    const double p = (double)a * (double)b, dc = (double)c;
    const double t = p + dc;
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    if (bits & UINT64_C(0x0FFFFFFF)) return (float)t;
    return fma_f32_slow(p, dc, t);
}

/* ggml's hsum_float_8: the upper 4 lanes added to the lower 4, then lanes
 * 0+2 and 1+3, then those two. */
static inline float hsum_8(const float v[8]) {
    const float s0 = v[0] + v[4], s1 = v[1] + v[5], s2 = v[2] + v[6], s3 = v[3] + v[7];
    return (s0 + s2) + (s1 + s3);
}

#endif
