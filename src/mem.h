/* mem.h — every allocation of a model and of what is made from it goes
 * through the caller's bibim_allocator (see bibim.h), which each object
 * keeps a copy of. These helpers give the hook the simple contract the
 * header promises (size > 0, realloc and free never see NULL) and add what
 * it lacks: zeroing, overflow-checked arrays, 64-byte alignment, strdup. */
#ifndef BIBIM_MEM_H
#define BIBIM_MEM_H

#include "bibim.h"

#include <stdint.h>
#include <string.h>

/* libc's malloc, realloc and free: what params->allocator == NULL means. */
extern const bibim_allocator mem_libc;

/* Copies `given` into *out; NULL or one with no function set means
 * mem_libc. BIBIM_ERR_INVALID_ARG if only some of its functions are set. */
bibim_status mem_choose(const bibim_allocator *given, bibim_allocator *out);

static inline void *mem_alloc(const bibim_allocator *a, size_t size) {
    return a->alloc(a->user, size ? size : 1);
}

/* `n` items of `size` bytes; NULL also when the product overflows. */
static inline void *mem_alloc_n(const bibim_allocator *a, size_t n, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) return NULL;
    return mem_alloc(a, bytes);
}

static inline void *mem_calloc(const bibim_allocator *a, size_t n, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) return NULL;
    void *p = mem_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* As realloc: NULL on failure, with `ptr` left as it was. */
static inline void *mem_realloc(const bibim_allocator *a, void *ptr, size_t size) {
    if (!ptr) return mem_alloc(a, size);
    return a->realloc(a->user, ptr, size ? size : 1);
}

static inline void mem_free(const bibim_allocator *a, void *ptr) {
    if (ptr) a->free(a->user, ptr);
}

static inline char *mem_strdup(const bibim_allocator *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = mem_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}

/* `size` bytes at a multiple of `align` (a power of two, at least
 * sizeof(void *)), for SIMD rows. The hook only promises malloc's alignment,
 * so this takes align - 1 bytes more and keeps the hook's pointer in the
 * word before the one it returns; release with mem_aligned_free. */
static inline void *mem_aligned_alloc(const bibim_allocator *a, size_t align, size_t size) {
    size_t extra = align - 1 + sizeof(void *), bytes;
    if (__builtin_add_overflow(size, extra, &bytes)) return NULL;
    void *raw = mem_alloc(a, bytes);
    if (!raw) return NULL;
    uintptr_t at = ((uintptr_t)raw + sizeof(void *) + align - 1) & ~(uintptr_t)(align - 1);
    memcpy((char *)at - sizeof(void *), &raw, sizeof raw);
    return (void *)at;
}

static inline void mem_aligned_free(const bibim_allocator *a, void *ptr) {
    if (!ptr) return;
    void *raw;
    memcpy(&raw, (char *)ptr - sizeof(void *), sizeof raw);
    a->free(a->user, raw);
}

#endif
