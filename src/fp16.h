/* fp16.h — conversions between float32 and the two 16-bit float formats
 * found in model files: IEEE binary16 ("half", ggml's F16) and bfloat16
 * (the top half of a float32, ggml's BF16). Portable C: integer bit
 * manipulation only, so the results do not depend on the FPU, on flags such
 * as flush-to-zero, or on instruction-set extensions. */
#ifndef BIBIM_FP16_H
#define BIBIM_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t fp32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float fp32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* m >> shift (1 <= shift <= 24), rounded to nearest, ties to even. A carry
 * out of the mantissa simply bumps the exponent field above it, which is
 * exactly what IEEE rounding does (up to infinity at the top). */
static inline uint32_t shift_right_round_even(uint32_t m, unsigned shift) {
    const uint32_t q = m >> shift;
    const uint32_t rest = m & ((UINT32_C(1) << shift) - 1);
    const uint32_t half = UINT32_C(1) << (shift - 1);
    return q + (rest > half || (rest == half && (q & 1)));
}

/* Every half is exactly representable as a float: this never rounds. */
static inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return fp32_from_bits(sign | 0x7f800000u | (mant << 13)); /* inf, NaN with its payload */
    if (exp != 0) return fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13)); /* rebias 15 -> 127 */
    /* Zero or subnormal: mant * 2^-24, exact in float (mant < 2^10). */
    const float mag = (float)mant * 0x1p-24f;
    return sign ? -mag : mag;
}

/* Round to nearest even; correct for subnormal halves, overflow to infinity
 * and signed zeros. NaN stays NaN: the top of the payload is kept and the
 * quiet bit set (what x86 F16C does). */
static inline uint16_t fp32_to_fp16(float f) {
    const uint32_t u = fp32_to_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t exp = (u >> 23) & 0xffu;
    const uint32_t mant = u & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | (mant ? 0x7e00u | (mant >> 13) : 0x7c00u));
    if (exp >= 143) return (uint16_t)(sign | 0x7c00u); /* >= 2^16: beyond 65504 even before rounding */
    if (exp >= 113) {
        /* A normal half: rebias 127 -> 15 and drop 13 mantissa bits. */
        return (uint16_t)(sign | shift_right_round_even(((exp - 112) << 23) | mant, 13));
    }
    if (exp < 102) return sign; /* below 2^-25, half the smallest subnormal: rounds to zero */
    /* A subnormal half counts units of 2^-24; the float is (2^23 + mant) *
     * 2^(exp - 150), that is (2^23 + mant) >> (126 - exp) units. */
    return (uint16_t)(sign | shift_right_round_even(mant | 0x800000u, 126 - exp));
}

static inline float bf16_to_fp32(uint16_t h) { return fp32_from_bits((uint32_t)h << 16); }

/* Round to nearest even (overflowing to infinity); subnormals are kept, not
 * flushed. NaN stays NaN with the quiet bit set, like ggml's conversion
 * (plain rounding could carry a signalling NaN's payload into infinity). */
static inline uint16_t fp32_to_bf16(float f) {
    const uint32_t u = fp32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
