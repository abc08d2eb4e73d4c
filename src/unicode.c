/* unicode.c — UTF-8 decoding and encoding, and class lookup by binary search
 * over the generated ranges. */
#include "unicode.h"

/* 1 if b is a continuation byte (10xxxxxx). */
static int is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

uint32_t unicode_decode_utf8(const char *s, size_t len, size_t *n_bytes) {
    const unsigned char *u = (const unsigned char *)s;
    *n_bytes = 1;
    if (u[0] < 0x80) return u[0];

    size_t need;
    uint32_t cp, min;
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        need = 2, cp = u[0] & 0x1Fu, min = 0x80;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        need = 3, cp = u[0] & 0x0Fu, min = 0x800;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        need = 4, cp = u[0] & 0x07u, min = 0x10000;
    } else {
        return UNICODE_INVALID; /* a stray continuation byte, C0/C1 or F5..FF */
    }
    if (len < need) return UNICODE_INVALID;
    for (size_t i = 1; i < need; i++) {
        if (!is_continuation(u[i])) return UNICODE_INVALID;
        cp = (cp << 6) | (u[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return UNICODE_INVALID;
    *n_bytes = need;
    return cp;
}

size_t unicode_encode_utf8(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

unsigned unicode_flags(uint32_t cp) {
    if (cp > 0x10FFFF) return 0;
    /* The last range whose first <= cp; ranges[0].first is 0. */
    size_t lo = 0, hi = unicode_ranges_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (unicode_ranges[mid].first <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return unicode_ranges[lo].flags;
}
