/* checked.h — overflow-checked 64-bit arithmetic for sizes read from files.
 * Each returns 1 and stores the result if it fits, else 0. */
#ifndef BIBIM_CHECKED_H
#define BIBIM_CHECKED_H

#include <stdint.h>

static inline int checked_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

static inline int checked_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

static inline int checked_mul_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

#endif
