/* unicode.c — UTF-8 decoding and encoding, and class lookup by binary search
 * over the generated ranges. */
#include "unicode.h"

#include "bibim.h"

/* The one UTF-8 check of the library (and, through bibim_utf8_valid, of
 * the tools): strict UTF-8 as RFC 3629 and Unicode define it, so no
 * overlong forms, no surrogates (U+D800..U+DFFF) and nothing above
 * U+10FFFF. The second byte's range depends on the first:
 *   C2..DF  80..BF                   (C0, C1 would be overlong)
 *   E0      A0..BF   E1..EC, EE, EF 80..BF   ED 80..9F (above: surrogates)
 *   F0      90..BF   F1..F3 80..BF           F4 80..8F (above: > U+10FFFF)
 * and every later byte is 80..BF. */
int unicode_utf8_sequence(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return 0;
    if (u[0] < 0x80) return 1;
    int len;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (u[0] >= 0xC2 && u[0] <= 0xDF) len = 2;
    else if (u[0] >= 0xE0 && u[0] <= 0xEF) len = 3, lo = u[0] == 0xE0 ? 0xA0 : 0x80, hi = u[0] == 0xED ? 0x9F : 0xBF;
    else if (u[0] >= 0xF0 && u[0] <= 0xF4) len = 4, lo = u[0] == 0xF0 ? 0x90 : 0x80, hi = u[0] == 0xF4 ? 0x8F : 0xBF;
    else return -1; /* a stray continuation byte, C0/C1 or F5..FF */
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0; /* cut short: more bytes may complete it */
        if (i == 1 ? u[1] < lo || u[1] > hi : (u[i] & 0xC0) != 0x80) return -1;
    }
    return len;
}

size_t bibim_utf8_valid(const char *text, size_t len) {
    if (!text) return 0;
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)text[i] < 0x80) { /* ASCII runs are the common case */
            i++;
            continue;
        }
        int n = unicode_utf8_sequence(text + i, len - i);
        if (n <= 0) return i;
        i += (size_t)n;
    }
    return len;
}

uint32_t unicode_decode_utf8(const char *s, size_t len, size_t *n_bytes) {
    const unsigned char *u = (const unsigned char *)s;
    *n_bytes = 1;
    if (u[0] < 0x80) return u[0];
    int n = unicode_utf8_sequence(s, len);
    if (n <= 0) return UNICODE_INVALID;
    uint32_t cp = u[0] & (n == 2 ? 0x1Fu : n == 3 ? 0x0Fu : 0x07u);
    for (int i = 1; i < n; i++) cp = (cp << 6) | (u[i] & 0x3Fu);
    *n_bytes = (size_t)n;
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
