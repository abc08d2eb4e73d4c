/* gguf_internal.h — what the GGUF reader (gguf.c) and writer (gguf_writer.c)
 * share: format constants, little-endian codecs, and the reader's view of a
 * value's encoded bytes that the writer's copy_kv copies verbatim. */
#ifndef BIBIM_GGUF_INTERNAL_H
#define BIBIM_GGUF_INTERNAL_H

#include "bibim.h"

#include <stddef.h>
#include <stdint.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_WRITE_VERSION 3u
#define GGUF_HEADER_BYTES 24u /* magic, version, u64 tensor count, u64 key count */
#define GGUF_DEFAULT_ALIGNMENT 32u
/* Far above any real file's 32; bounds the padding a hostile file can ask for. */
#define GGUF_MAX_ALIGNMENT (1u << 20)
#define GGUF_MAX_NAME 64u        /* ggml's GGML_MAX_NAME: names are shorter */
#define GGUF_MAX_DIMS 4u
#define GGUF_MAX_ARRAY_DEPTH 8u  /* arrays of arrays nest at most this deep */
#define GGUF_KEY_ALIGNMENT "general.alignment"

/* bibim_gguf_open and bibim_gguf_open_memory with the handle's memory from
 * `alloc` (copied), as a model's reader gets it. */
bibim_status gguf_open_file(const char *path, const bibim_allocator *alloc, bibim_gguf **out);
bibim_status gguf_open_buffer(const void *data, uint64_t size, const char *name, const bibim_allocator *alloc,
                              bibim_gguf **out);

/* Bytes of one value of a fixed-size type; 0 for string, array and unknown
 * types. */
uint64_t gguf_value_fixed_size(uint32_t type);

/* 1 if `alignment` is a power of two, a multiple of 8 and at most
 * GGUF_MAX_ALIGNMENT. */
int gguf_alignment_is_valid(uint64_t alignment);

/* Writes `s` (len bytes, any content) into buf as a printable, quoted-safe
 * excerpt for error messages: non-printable bytes become \xNN and long
 * strings are cut with "...". Returns buf. */
const char *gguf_printable(char *buf, size_t size, const char *s, uint64_t len);

/* The key, type and encoded value bytes of KV `index` of `g` exactly as the
 * file stores them after the type field (for arrays: element type, count and
 * elements). Returns 0 if the index is out of range. */
int gguf_kv_encoded(const bibim_gguf *g, int64_t index, bibim_str *key, uint32_t *type, const uint8_t **value,
                    uint64_t *value_size);

static inline uint64_t gguf_load_le(const uint8_t *p, unsigned n_bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n_bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void gguf_store_le(uint8_t *p, uint64_t v, unsigned n_bytes) {
    for (unsigned i = 0; i < n_bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Rounds `v` up to a multiple of the power of two `alignment`; 0 if that
 * overflows. */
static inline int gguf_align_up(uint64_t v, uint64_t alignment, uint64_t *out) {
    uint64_t sum;
    if (__builtin_add_overflow(v, alignment - 1, &sum)) return 0;
    *out = sum & ~(alignment - 1);
    return 1;
}

#endif
