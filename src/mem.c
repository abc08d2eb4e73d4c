/* mem.c — the default allocator (libc) and the check of a caller's. */
#include "mem.h"

#include <stdlib.h>

static void *libc_alloc(void *user, size_t size) {
    (void)user;
    return malloc(size);
}

static void *libc_realloc(void *user, void *ptr, size_t size) {
    (void)user;
    return realloc(ptr, size);
}

static void libc_free(void *user, void *ptr) {
    (void)user;
    free(ptr);
}

/* Read-only: sharing it between threads is no shared mutable state. */
const bibim_allocator mem_libc = {libc_alloc, libc_realloc, libc_free, NULL};

bibim_status mem_choose(const bibim_allocator *given, bibim_allocator *out) {
    *out = mem_libc;
    if (!given) return BIBIM_OK;
    int n_set = !!given->alloc + !!given->realloc + !!given->free;
    if (n_set == 0) return BIBIM_OK; /* all or none: none is libc's */
    if (n_set != 3) return BIBIM_ERR_INVALID_ARG;
    *out = *given;
    return BIBIM_OK;
}
