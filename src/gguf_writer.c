/* gguf_writer.c — writes GGUF version 3 files (ggml's docs/gguf.md) that
 * llama.cpp loads unchanged.
 *
 * Metadata is kept as each value's encoded bytes, exactly as the file will
 * store them after the type field, so setters, copy_kv (a verbatim copy from
 * a reader) and the final write share one representation. The file is
 * streamed to "<path>.tmp" through a large stdio buffer and renamed to
 * <path> only once every declared tensor was written, so a failed run never
 * leaves a half-written file under the final name. */
#include "checked.h"
#include "gguf_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITER_ERRMSG_SIZE 1024
#define WRITER_BUFFER_BYTES ((size_t)4 << 20)
#define WRITER_PRINT_NAME_SIZE 100

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        bibim_status try_status_ = (expr);                                                                             \
        if (try_status_ != BIBIM_OK) return try_status_;                                                               \
    } while (0)

typedef struct writer_kv {
    char *key; /* key_len bytes, owned, not NUL-terminated */
    uint64_t key_len;
    uint32_t type;
    uint8_t *value; /* the encoded value as the file stores it after the type field */
    uint64_t value_size;
} writer_kv;

typedef struct writer_tensor {
    char name[GGUF_MAX_NAME]; /* NUL-terminated */
    uint64_t name_len;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t n_bytes;
    uint64_t offset; /* from the data section start; set by begin */
} writer_tensor;

typedef enum writer_state {
    WRITER_COLLECTING, /* setters and add_tensor allowed */
    WRITER_STREAMING,  /* begin succeeded: write_tensor, finish */
    WRITER_FINISHED,   /* the file is in place */
    WRITER_FAILED      /* an I/O error: the .tmp file is already removed */
} writer_state;

struct bibim_gguf_writer {
    writer_kv *kvs;
    uint64_t n_kv, cap_kv;
    writer_tensor *tensors;
    uint64_t n_tensors, cap_tensors;
    writer_state state;
    uint32_t alignment;
    FILE *file; /* open between begin and finish */
    char *io_buffer;
    char *path;
    char *tmp_path;
    uint64_t file_pos;       /* bytes written to the file so far */
    uint64_t expected_size;  /* what the file must measure at finish */
    uint64_t next_tensor;    /* the tensor write_tensor is filling */
    uint64_t tensor_written; /* bytes of it written so far */
    char errmsg[WRITER_ERRMSG_SIZE];
};

__attribute__((format(printf, 3, 4))) static bibim_status writer_fail(bibim_gguf_writer *w, bibim_status status,
                                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

static const char *writer_printable(char *buf, const char *s, uint64_t len) {
    return gguf_printable(buf, WRITER_PRINT_NAME_SIZE, s, len);
}

bibim_status bibim_gguf_writer_create(bibim_gguf_writer **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out) return BIBIM_ERR_NOMEM;
    (*out)->alignment = GGUF_DEFAULT_ALIGNMENT;
    return BIBIM_OK;
}

const char *bibim_gguf_writer_errmsg(const bibim_gguf_writer *w) { return w ? w->errmsg : ""; }

/* Closes and removes the .tmp file after a failure. */
static void writer_discard_file(bibim_gguf_writer *w) {
    if (w->file) {
        fclose(w->file);
        w->file = NULL;
        unlink(w->tmp_path);
    }
}

void bibim_gguf_writer_free(bibim_gguf_writer *w) {
    if (!w) return;
    writer_discard_file(w);
    for (uint64_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].value);
    }
    free(w->kvs);
    free(w->tensors);
    free(w->io_buffer);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                 */
/* ------------------------------------------------------------------------ */

static bibim_status writer_check_collecting(bibim_gguf_writer *w, const char *action) {
    if (w->state == WRITER_COLLECTING) return BIBIM_OK;
    return writer_fail(w, BIBIM_ERR_INVALID_ARG, "cannot %s after bibim_gguf_writer_begin", action);
}

static bibim_status writer_check_key(bibim_gguf_writer *w, const char *key) {
    if (!w) return BIBIM_ERR_INVALID_ARG;
    TRY(writer_check_collecting(w, "change metadata"));
    if (!key || !key[0]) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "a metadata key must be a non-empty string");
    return BIBIM_OK;
}

static int64_t writer_find_kv(const bibim_gguf_writer *w, const char *key, uint64_t key_len) {
    for (uint64_t i = 0; i < w->n_kv; i++) {
        if (w->kvs[i].key_len == key_len && memcmp(w->kvs[i].key, key, key_len) == 0) return (int64_t)i;
    }
    return -1;
}

/* The next capacity of a growing array: doubling; 0 if its byte size
 * overflows. */
static uint64_t writer_next_capacity(uint64_t cap, size_t item_size) {
    uint64_t next = cap ? cap * 2 : 16, bytes;
    return checked_mul_u64(next, item_size, &bytes) && bytes <= SIZE_MAX ? next : 0;
}

static bibim_status writer_append_kv(bibim_gguf_writer *w, const writer_kv *kv) {
    if (w->n_kv == w->cap_kv) {
        uint64_t cap = writer_next_capacity(w->cap_kv, sizeof *w->kvs);
        writer_kv *grown = cap ? realloc(w->kvs, cap * sizeof *grown) : NULL;
        if (!grown) return writer_fail(w, BIBIM_ERR_NOMEM, "out of memory for the key table");
        w->kvs = grown;
        w->cap_kv = cap;
    }
    w->kvs[w->n_kv++] = *kv;
    return BIBIM_OK;
}

/* Sets `key` to an encoded value, replacing an earlier one. Takes ownership
 * of `value` (malloc'd), freeing it on failure. */
static bibim_status writer_store_kv(bibim_gguf_writer *w, const char *key, uint64_t key_len, uint32_t type,
                                    uint8_t *value, uint64_t value_size) {
    int64_t i = writer_find_kv(w, key, key_len);
    if (i >= 0) {
        free(w->kvs[i].value);
        w->kvs[i].type = type;
        w->kvs[i].value = value;
        w->kvs[i].value_size = value_size;
        return BIBIM_OK;
    }
    writer_kv kv = {malloc(key_len), key_len, type, value, value_size};
    if (!kv.key) {
        free(value);
        return writer_fail(w, BIBIM_ERR_NOMEM, "out of memory for a key");
    }
    memcpy(kv.key, key, key_len);
    bibim_status st = writer_append_kv(w, &kv);
    if (st != BIBIM_OK) {
        free(kv.key);
        free(value);
    }
    return st;
}

static uint8_t *writer_alloc_value(bibim_gguf_writer *w, uint64_t size) {
    uint8_t *value = size <= SIZE_MAX ? malloc(size ? (size_t)size : 1) : NULL;
    if (!value) writer_fail(w, BIBIM_ERR_NOMEM, "out of memory for a %" PRIu64 "-byte value", size);
    return value;
}

static bibim_status writer_set_scalar(bibim_gguf_writer *w, const char *key, uint32_t type, uint64_t bits) {
    TRY(writer_check_key(w, key));
    unsigned size = (unsigned)gguf_value_fixed_size(type);
    uint8_t *value = writer_alloc_value(w, size);
    if (!value) return BIBIM_ERR_NOMEM;
    gguf_store_le(value, bits, size);
    return writer_store_kv(w, key, strlen(key), type, value, size);
}

bibim_status bibim_gguf_writer_set_u8(bibim_gguf_writer *w, const char *key, uint8_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_UINT8, v);
}

bibim_status bibim_gguf_writer_set_i8(bibim_gguf_writer *w, const char *key, int8_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_INT8, (uint8_t)v);
}

bibim_status bibim_gguf_writer_set_u16(bibim_gguf_writer *w, const char *key, uint16_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_UINT16, v);
}

bibim_status bibim_gguf_writer_set_i16(bibim_gguf_writer *w, const char *key, int16_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_INT16, (uint16_t)v);
}

bibim_status bibim_gguf_writer_set_u32(bibim_gguf_writer *w, const char *key, uint32_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_UINT32, v);
}

bibim_status bibim_gguf_writer_set_i32(bibim_gguf_writer *w, const char *key, int32_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_INT32, (uint32_t)v);
}

bibim_status bibim_gguf_writer_set_u64(bibim_gguf_writer *w, const char *key, uint64_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_UINT64, v);
}

bibim_status bibim_gguf_writer_set_i64(bibim_gguf_writer *w, const char *key, int64_t v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_INT64, (uint64_t)v);
}

bibim_status bibim_gguf_writer_set_f32(bibim_gguf_writer *w, const char *key, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return writer_set_scalar(w, key, BIBIM_GGUF_FLOAT32, bits);
}

bibim_status bibim_gguf_writer_set_f64(bibim_gguf_writer *w, const char *key, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return writer_set_scalar(w, key, BIBIM_GGUF_FLOAT64, bits);
}

bibim_status bibim_gguf_writer_set_bool(bibim_gguf_writer *w, const char *key, int v) {
    return writer_set_scalar(w, key, BIBIM_GGUF_BOOL, v != 0);
}

bibim_status bibim_gguf_writer_set_str(bibim_gguf_writer *w, const char *key, const char *v) {
    TRY(writer_check_key(w, key));
    if (!v) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_str: the value of '%s' is NULL", key);
    uint64_t len = strlen(v);
    uint8_t *value = writer_alloc_value(w, 8 + len);
    if (!value) return BIBIM_ERR_NOMEM;
    gguf_store_le(value, len, 8);
    memcpy(value + 8, v, len);
    return writer_store_kv(w, key, strlen(key), BIBIM_GGUF_STRING, value, 8 + len);
}

static bibim_status writer_check_array(bibim_gguf_writer *w, const char *key, bibim_gguf_type elem_type,
                                       const void *data, uint64_t n, uint64_t *bytes) {
    uint64_t size = gguf_value_fixed_size(elem_type);
    if (size == 0) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr '%s': element type %u has no fixed size", key,
                           (unsigned)elem_type);
    }
    if (!data && n > 0) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr '%s': data is NULL", key);
    if (!checked_mul_u64(n, size, bytes) || *bytes > UINT64_MAX - 12) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr '%s': %" PRIu64 " elements overflow", key, n);
    }
    for (uint64_t i = 0; elem_type == BIBIM_GGUF_BOOL && i < n; i++) {
        uint8_t b = ((const uint8_t *)data)[i];
        if (b > 1) {
            return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr '%s': bool element %" PRIu64 " is %u, not 0 or 1",
                               key, i, b);
        }
    }
    return BIBIM_OK;
}

/* The 12-byte array header: element type, then count. */
static void writer_store_array_header(uint8_t *value, uint32_t elem_type, uint64_t n) {
    gguf_store_le(value, elem_type, 4);
    gguf_store_le(value + 4, n, 8);
}

bibim_status bibim_gguf_writer_set_arr(bibim_gguf_writer *w, const char *key, bibim_gguf_type elem_type,
                                       const void *data, uint64_t n) {
    uint64_t bytes = 0;
    TRY(writer_check_key(w, key));
    TRY(writer_check_array(w, key, elem_type, data, n, &bytes));
    uint8_t *value = writer_alloc_value(w, 12 + bytes);
    if (!value) return BIBIM_ERR_NOMEM;
    writer_store_array_header(value, elem_type, n);
    if (bytes) memcpy(value + 12, data, bytes); /* host little-endian, as documented */
    return writer_store_kv(w, key, strlen(key), BIBIM_GGUF_ARRAY, value, 12 + bytes);
}

static bibim_status writer_string_array_size(bibim_gguf_writer *w, const char *key, const bibim_str *strs,
                                             uint64_t n, uint64_t *size) {
    if (!strs && n > 0) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr_str '%s': strs is NULL", key);
    *size = 12;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i].ptr && strs[i].len > 0) {
            return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr_str '%s': string %" PRIu64 " is NULL", key, i);
        }
        if (!checked_add_u64(*size, 8, size) || !checked_add_u64(*size, strs[i].len, size)) {
            return writer_fail(w, BIBIM_ERR_INVALID_ARG, "set_arr_str '%s': the strings' total size overflows", key);
        }
    }
    return BIBIM_OK;
}

bibim_status bibim_gguf_writer_set_arr_str(bibim_gguf_writer *w, const char *key, const bibim_str *strs,
                                           uint64_t n) {
    uint64_t size = 0;
    TRY(writer_check_key(w, key));
    TRY(writer_string_array_size(w, key, strs, n, &size));
    uint8_t *value = writer_alloc_value(w, size);
    if (!value) return BIBIM_ERR_NOMEM;
    writer_store_array_header(value, BIBIM_GGUF_STRING, n);
    uint8_t *at = value + 12;
    for (uint64_t i = 0; i < n; i++) {
        gguf_store_le(at, strs[i].len, 8);
        if (strs[i].len) memcpy(at + 8, strs[i].ptr, strs[i].len);
        at += 8 + strs[i].len;
    }
    return writer_store_kv(w, key, strlen(key), BIBIM_GGUF_ARRAY, value, size);
}

bibim_status bibim_gguf_writer_copy_kv(bibim_gguf_writer *w, const bibim_gguf *src, int64_t kv_index) {
    if (!w) return BIBIM_ERR_INVALID_ARG;
    TRY(writer_check_collecting(w, "change metadata"));
    bibim_str key;
    uint32_t type;
    const uint8_t *encoded;
    uint64_t size = 0;
    if (!src || !gguf_kv_encoded(src, kv_index, &key, &type, &encoded, &size)) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "copy_kv: key index %" PRId64 " is out of range", kv_index);
    }
    uint8_t *value = writer_alloc_value(w, size);
    if (!value) return BIBIM_ERR_NOMEM;
    memcpy(value, encoded, size);
    return writer_store_kv(w, key.ptr, key.len, type, value, size);
}

bibim_status bibim_gguf_writer_remove(bibim_gguf_writer *w, const char *key) {
    TRY(writer_check_key(w, key));
    int64_t i = writer_find_kv(w, key, strlen(key));
    if (i < 0) return writer_fail(w, BIBIM_ERR_NOT_FOUND, "remove: key '%s' is not set", key);
    free(w->kvs[i].key);
    free(w->kvs[i].value);
    memmove(&w->kvs[i], &w->kvs[i + 1], (w->n_kv - (uint64_t)i - 1) * sizeof *w->kvs);
    w->n_kv--;
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor declarations                                                      */
/* ------------------------------------------------------------------------ */

static int64_t writer_find_tensor(const bibim_gguf_writer *w, const char *name) {
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        if (strcmp(w->tensors[i].name, name) == 0) return (int64_t)i;
    }
    return -1;
}

static bibim_status writer_check_tensor_name(bibim_gguf_writer *w, const char *name) {
    if (!name || !name[0]) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "add_tensor: the name is empty");
    char shown[WRITER_PRINT_NAME_SIZE];
    size_t len = strlen(name);
    if (len >= GGUF_MAX_NAME) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "add_tensor '%s': the name is %zu bytes; it must be under %u",
                           writer_printable(shown, name, len), len, GGUF_MAX_NAME);
    }
    if (writer_find_tensor(w, name) >= 0) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "add_tensor '%s': a tensor of that name was already added",
                           writer_printable(shown, name, len));
    }
    return BIBIM_OK;
}

/* Checks the type and shape and computes the tensor's byte size. */
static bibim_status writer_check_tensor_shape(bibim_gguf_writer *w, writer_tensor *t, const int64_t *ne) {
    if (!bibim_type_is_known(t->type)) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "add_tensor '%s': type %" PRIu32 " is unknown", t->name, t->type);
    }
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS || !ne) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "add_tensor '%s': n_dims is %" PRIu32 "; it must be 1 to %u",
                           t->name, t->n_dims, GGUF_MAX_DIMS);
    }
    int64_t n_elems = 1, n_bytes;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = d < t->n_dims ? ne[d] : 1;
        if (t->ne[d] <= 0 || !checked_mul_i64(n_elems, t->ne[d], &n_elems)) {
            return writer_fail(w, BIBIM_ERR_INVALID_ARG,
                               "add_tensor '%s': dimension %" PRIu32 " is %" PRId64 " (must be > 0, product < 2^63)",
                               t->name, d, t->ne[d]);
        }
    }
    bibim_type type = (bibim_type)t->type;
    int64_t row_bytes = bibim_type_row_bytes(type, t->ne[0]);
    if (row_bytes < 0 || !checked_mul_i64(row_bytes, n_elems / t->ne[0], &n_bytes)) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG,
                           "add_tensor '%s': ne[0] = %" PRId64 " is not a multiple of the %s block size %" PRId64
                           ", or the size overflows",
                           t->name, t->ne[0], bibim_type_name(type), bibim_type_block_elems(type));
    }
    t->n_bytes = (uint64_t)n_bytes;
    return BIBIM_OK;
}

bibim_status bibim_gguf_writer_add_tensor(bibim_gguf_writer *w, const char *name, bibim_type type, uint32_t n_dims,
                                          const int64_t *ne) {
    if (!w) return BIBIM_ERR_INVALID_ARG;
    TRY(writer_check_collecting(w, "add a tensor"));
    TRY(writer_check_tensor_name(w, name));
    writer_tensor t = {.name_len = strlen(name), .type = (uint32_t)type, .n_dims = n_dims};
    memcpy(t.name, name, t.name_len + 1);
    TRY(writer_check_tensor_shape(w, &t, ne));
    if (w->n_tensors == w->cap_tensors) {
        uint64_t cap = writer_next_capacity(w->cap_tensors, sizeof *w->tensors);
        writer_tensor *grown = cap ? realloc(w->tensors, cap * sizeof *grown) : NULL;
        if (!grown) return writer_fail(w, BIBIM_ERR_NOMEM, "out of memory for the tensor table");
        w->tensors = grown;
        w->cap_tensors = cap;
    }
    w->tensors[w->n_tensors++] = t;
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Streaming the file                                                       */
/* ------------------------------------------------------------------------ */

static bibim_status writer_io_error(bibim_gguf_writer *w, const char *action) {
    int err = errno;
    writer_discard_file(w);
    w->state = WRITER_FAILED;
    return writer_fail(w, BIBIM_ERR_IO, "%s: %s failed: %s", w->tmp_path, action, strerror(err));
}

static bibim_status writer_write(bibim_gguf_writer *w, const void *data, uint64_t n) {
    if (n == 0) return BIBIM_OK;
    errno = 0;
    if (n > SIZE_MAX || fwrite(data, 1, (size_t)n, w->file) != n) return writer_io_error(w, "write");
    w->file_pos += n;
    return BIBIM_OK;
}

static bibim_status writer_write_u32(bibim_gguf_writer *w, uint32_t v) {
    uint8_t b[4];
    gguf_store_le(b, v, 4);
    return writer_write(w, b, 4);
}

static bibim_status writer_write_u64(bibim_gguf_writer *w, uint64_t v) {
    uint8_t b[8];
    gguf_store_le(b, v, 8);
    return writer_write(w, b, 8);
}

static bibim_status writer_write_str(bibim_gguf_writer *w, const char *s, uint64_t len) {
    TRY(writer_write_u64(w, len));
    return writer_write(w, s, len);
}

/* Zero bytes up to the next multiple of the alignment. */
static bibim_status writer_pad(bibim_gguf_writer *w) {
    static const uint8_t zeros[256];
    uint64_t aligned;
    if (!gguf_align_up(w->file_pos, w->alignment, &aligned)) return writer_fail(w, BIBIM_ERR_IO, "file too large");
    while (w->file_pos < aligned) {
        uint64_t n = aligned - w->file_pos;
        TRY(writer_write(w, zeros, n < sizeof zeros ? n : sizeof zeros));
    }
    return BIBIM_OK;
}

/* general.alignment, if set, must be a uint32 the reader accepts. */
static bibim_status writer_resolve_alignment(bibim_gguf_writer *w) {
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = writer_find_kv(w, GGUF_KEY_ALIGNMENT, strlen(GGUF_KEY_ALIGNMENT));
    if (i < 0) return BIBIM_OK;
    const writer_kv *kv = &w->kvs[i];
    if (kv->type != BIBIM_GGUF_UINT32) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "%s is set as %s; it must be uint32", GGUF_KEY_ALIGNMENT,
                           bibim_gguf_type_name((bibim_gguf_type)kv->type));
    }
    uint64_t alignment = gguf_load_le(kv->value, 4);
    if (!gguf_alignment_is_valid(alignment)) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG,
                           "%s is %" PRIu64 "; it must be a power of two, a multiple of 8 and at most %u",
                           GGUF_KEY_ALIGNMENT, alignment, GGUF_MAX_ALIGNMENT);
    }
    w->alignment = (uint32_t)alignment;
    return BIBIM_OK;
}

/* Gives each tensor its aligned offset in the data section. */
static bibim_status writer_layout_tensors(bibim_gguf_writer *w, uint64_t *data_bytes) {
    uint64_t offset = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        uint64_t padded;
        w->tensors[i].offset = offset;
        if (!gguf_align_up(w->tensors[i].n_bytes, w->alignment, &padded) ||
            !checked_add_u64(offset, padded, &offset)) {
            return writer_fail(w, BIBIM_ERR_INVALID_ARG, "the tensors' total size overflows");
        }
    }
    *data_bytes = offset;
    return BIBIM_OK;
}

static bibim_status writer_set_paths(bibim_gguf_writer *w, const char *path) {
    size_t len = strlen(path);
    free(w->path); /* from an earlier begin that failed */
    free(w->tmp_path);
    w->path = strdup(path);
    w->tmp_path = malloc(len + 5);
    if (!w->path || !w->tmp_path) return writer_fail(w, BIBIM_ERR_NOMEM, "out of memory for the path");
    memcpy(w->tmp_path, path, len);
    memcpy(w->tmp_path + len, ".tmp", 5);
    return BIBIM_OK;
}

static bibim_status writer_open_tmp(bibim_gguf_writer *w) {
    if (!w->io_buffer) w->io_buffer = malloc(WRITER_BUFFER_BYTES);
    if (!w->io_buffer) return writer_fail(w, BIBIM_ERR_NOMEM, "out of memory for the write buffer");
    w->file = fopen(w->tmp_path, "wb");
    if (!w->file) return writer_fail(w, BIBIM_ERR_IO, "%s: cannot create: %s", w->tmp_path, strerror(errno));
    setvbuf(w->file, w->io_buffer, _IOFBF, WRITER_BUFFER_BYTES);
    return BIBIM_OK;
}

static bibim_status writer_write_header(bibim_gguf_writer *w) {
    TRY(writer_write(w, GGUF_MAGIC, 4));
    TRY(writer_write_u32(w, GGUF_WRITE_VERSION));
    TRY(writer_write_u64(w, w->n_tensors));
    TRY(writer_write_u64(w, w->n_kv));
    for (uint64_t i = 0; i < w->n_kv; i++) {
        const writer_kv *kv = &w->kvs[i];
        TRY(writer_write_str(w, kv->key, kv->key_len));
        TRY(writer_write_u32(w, kv->type));
        TRY(writer_write(w, kv->value, kv->value_size));
    }
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        TRY(writer_write_str(w, t->name, t->name_len));
        TRY(writer_write_u32(w, t->n_dims));
        for (uint32_t d = 0; d < t->n_dims; d++) TRY(writer_write_u64(w, (uint64_t)t->ne[d]));
        TRY(writer_write_u32(w, t->type));
        TRY(writer_write_u64(w, t->offset));
    }
    return writer_pad(w);
}

bibim_status bibim_gguf_writer_begin(bibim_gguf_writer *w, const char *path) {
    uint64_t data_bytes = 0;
    if (!w) return BIBIM_ERR_INVALID_ARG;
    TRY(writer_check_collecting(w, "begin again"));
    if (!path || !path[0]) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "begin: no path given");
    TRY(writer_resolve_alignment(w));
    TRY(writer_layout_tensors(w, &data_bytes));
    TRY(writer_set_paths(w, path));
    TRY(writer_open_tmp(w));
    w->state = WRITER_STREAMING;
    TRY(writer_write_header(w));
    if (!checked_add_u64(w->file_pos, data_bytes, &w->expected_size)) {
        writer_discard_file(w);
        w->state = WRITER_FAILED;
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "the file size overflows");
    }
    return BIBIM_OK;
}

static bibim_status writer_check_streaming(bibim_gguf_writer *w, const char *call) {
    static const char *const why[] = {
        [WRITER_COLLECTING] = "bibim_gguf_writer_begin was not called",
        [WRITER_FINISHED] = "the file is already finished",
        [WRITER_FAILED] = "an earlier error aborted the file",
    };
    if (w->state == WRITER_STREAMING) return BIBIM_OK;
    return writer_fail(w, BIBIM_ERR_INVALID_ARG, "%s: %s", call, why[w->state]);
}

bibim_status bibim_gguf_writer_write_tensor(bibim_gguf_writer *w, const void *data, uint64_t n_bytes) {
    if (!w) return BIBIM_ERR_INVALID_ARG;
    TRY(writer_check_streaming(w, "write_tensor"));
    if (w->next_tensor == w->n_tensors) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "write_tensor: all %" PRIu64 " declared tensors are written",
                           w->n_tensors);
    }
    const writer_tensor *t = &w->tensors[w->next_tensor];
    uint64_t left = t->n_bytes - w->tensor_written;
    if (n_bytes > left) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG,
                           "write_tensor: tensor '%s' is %" PRIu64 " bytes; %" PRIu64 " were given with only %" PRIu64
                           " left to write",
                           t->name, t->n_bytes, n_bytes, left);
    }
    if (!data && n_bytes > 0) return writer_fail(w, BIBIM_ERR_INVALID_ARG, "write_tensor: data is NULL");
    TRY(writer_write(w, data, n_bytes));
    w->tensor_written += n_bytes;
    if (w->tensor_written < t->n_bytes) return BIBIM_OK;
    w->next_tensor++;
    w->tensor_written = 0;
    return writer_pad(w);
}

static bibim_status writer_check_complete(bibim_gguf_writer *w) {
    if (w->next_tensor < w->n_tensors) {
        const writer_tensor *t = &w->tensors[w->next_tensor];
        return writer_fail(w, BIBIM_ERR_INVALID_ARG,
                           "finish: tensor '%s' (#%" PRIu64 " of %" PRIu64 ") has %" PRIu64 " of its %" PRIu64
                           " bytes written",
                           t->name, w->next_tensor, w->n_tensors, w->tensor_written, t->n_bytes);
    }
    if (w->file_pos != w->expected_size) {
        return writer_fail(w, BIBIM_ERR_INVALID_ARG, "finish: wrote %" PRIu64 " bytes but the layout has %" PRIu64,
                           w->file_pos, w->expected_size);
    }
    return BIBIM_OK;
}

bibim_status bibim_gguf_writer_finish(bibim_gguf_writer *w) {
    if (!w) return BIBIM_ERR_INVALID_ARG;
    TRY(writer_check_streaming(w, "finish"));
    TRY(writer_check_complete(w));
    if (fflush(w->file) != 0) return writer_io_error(w, "flush");
    if (fsync(fileno(w->file)) != 0) return writer_io_error(w, "fsync");
    FILE *file = w->file;
    w->file = NULL;
    if (fclose(file) != 0) {
        unlink(w->tmp_path);
        w->state = WRITER_FAILED;
        return writer_fail(w, BIBIM_ERR_IO, "%s: close failed: %s", w->tmp_path, strerror(errno));
    }
    if (rename(w->tmp_path, w->path) != 0) {
        int err = errno;
        unlink(w->tmp_path);
        w->state = WRITER_FAILED;
        return writer_fail(w, BIBIM_ERR_IO, "cannot rename %s to %s: %s", w->tmp_path, w->path, strerror(err));
    }
    w->state = WRITER_FINISHED;
    return BIBIM_OK;
}
