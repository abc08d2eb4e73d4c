/* gguf.c — the GGUF reader (format: ggml's docs/gguf.md, versions 2 and 3).
 *
 * A file is mapped read-only and validated completely at open: every count,
 * length, dimension and offset is checked against the bytes that remain, with
 * overflow-checked 64-bit arithmetic, before it is used or sizes an
 * allocation. After open the handle is an index into the map — one
 * descriptor per key and per tensor, an offset table per string array and
 * two sorted name indexes — and no value is copied.
 *
 *   header       "GGUF" u32 version, u64 tensor count, u64 key count
 *   key/values   string key, u32 type, value          (key count times)
 *   tensor infos string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset
 *   padding      to general.alignment (default 32)
 *   tensor data  each tensor at data start + offset, offsets aligned
 *
 * string = u64 length + bytes; array = u32 element type + u64 count +
 * elements (arrays of arrays nest). All integers are little-endian. */
#include "checked.h"
#include "gguf_internal.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fewest bytes a record can take: they bound the counts a header claims
 * by the bytes that follow it, before anything is allocated. */
#define GGUF_MIN_KV_BYTES 14u     /* u64 key length, 1-byte key, u32 type, 1-byte value */
#define GGUF_MIN_TENSOR_BYTES 33u /* u64 name length, 1-byte name, u32 n_dims, u64 ne[0], u32 type, u64 offset */
#define GGUF_STRING_HEADER_BYTES 8u
#define GGUF_ARRAY_HEADER_BYTES 12u /* u32 element type, u64 count */
#define GGUF_ERRMSG_SIZE 1024
#define GGUF_WHAT_SIZE 256
#define GGUF_PRINT_NAME_SIZE 100

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        bibim_status try_status_ = (expr);                                                                             \
        if (try_status_ != BIBIM_OK) return try_status_;                                                               \
    } while (0)

typedef struct gguf_kv {
    bibim_str key;
    uint64_t key_offset;   /* file offset of the key's length field, for messages */
    uint32_t type;
    uint32_t elem_type;    /* arrays: the element type; else the value's own type */
    uint64_t n;            /* arrays: the element count; else 1 */
    uint64_t value_offset; /* file offset of the value (arrays: of the element type field) */
    uint64_t value_size;   /* bytes of the encoded value from value_offset */
    uint64_t *str_offsets; /* string arrays: file offset of each element's length field */
} gguf_kv;

typedef struct gguf_tensor {
    bibim_str name;
    uint64_t info_offset; /* file offset of the tensor info, for messages */
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t n_elems;
    uint64_t offset; /* from the start of the data section */
    uint64_t n_bytes;
} gguf_tensor;

/* Names (keys, tensor names) sorted bytewise, for binary search. A sort
 * rather than a hash keeps the worst case at O(n log n) whatever names a
 * hostile file chooses. */
typedef struct gguf_name_entry {
    bibim_str name;
    uint64_t index; /* of the kv or tensor */
} gguf_name_entry;

typedef struct gguf_name_index {
    gguf_name_entry *entries;
    uint64_t n;
} gguf_name_index;

struct bibim_gguf {
    const uint8_t *data;
    uint64_t size;
    void *map; /* our own mapping of data, or NULL for caller memory */
    bibim_allocator alloc; /* for everything below */
    char *name;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    gguf_kv *kvs;
    uint64_t n_kv;
    gguf_tensor *tensors;
    uint64_t n_tensors;
    gguf_name_index key_index;
    gguf_name_index tensor_index;
    char errmsg[GGUF_ERRMSG_SIZE];
};

/* Parsing state: the read position, and which record is being read, for
 * messages. The invariant pos <= g->size holds throughout. */
typedef struct gguf_parser {
    bibim_gguf *g;
    uint64_t pos;
    char what[GGUF_WHAT_SIZE];
} gguf_parser;

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */
/* ------------------------------------------------------------------------ */

const char *bibim_gguf_type_name(bibim_gguf_type type) {
    switch (type) {
    case BIBIM_GGUF_UINT8: return "uint8";
    case BIBIM_GGUF_INT8: return "int8";
    case BIBIM_GGUF_UINT16: return "uint16";
    case BIBIM_GGUF_INT16: return "int16";
    case BIBIM_GGUF_UINT32: return "uint32";
    case BIBIM_GGUF_INT32: return "int32";
    case BIBIM_GGUF_FLOAT32: return "float32";
    case BIBIM_GGUF_BOOL: return "bool";
    case BIBIM_GGUF_STRING: return "string";
    case BIBIM_GGUF_ARRAY: return "array";
    case BIBIM_GGUF_UINT64: return "uint64";
    case BIBIM_GGUF_INT64: return "int64";
    case BIBIM_GGUF_FLOAT64: return "float64";
    }
    return "unknown";
}

uint64_t gguf_value_fixed_size(uint32_t type) {
    switch (type) {
    case BIBIM_GGUF_UINT8:
    case BIBIM_GGUF_INT8:
    case BIBIM_GGUF_BOOL: return 1;
    case BIBIM_GGUF_UINT16:
    case BIBIM_GGUF_INT16: return 2;
    case BIBIM_GGUF_UINT32:
    case BIBIM_GGUF_INT32:
    case BIBIM_GGUF_FLOAT32: return 4;
    case BIBIM_GGUF_UINT64:
    case BIBIM_GGUF_INT64:
    case BIBIM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

int gguf_alignment_is_valid(uint64_t alignment) {
    return alignment >= 8 && alignment <= GGUF_MAX_ALIGNMENT && (alignment & (alignment - 1)) == 0;
}

const char *gguf_printable(char *buf, size_t size, const char *s, uint64_t len) {
    size_t at = 0;
    uint64_t i = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = c >= 0x20 && c < 0x7f && c != '\\' && c != '\'';
        size_t need = plain ? 1 : 4;
        if (at + need + 4 > size) break; /* keep room for "..." and the NUL */
        if (plain) {
            buf[at++] = (char)c;
        } else {
            snprintf(buf + at, 5, "\\x%02x", c);
            at += 4;
        }
    }
    if (i < len) {
        memcpy(buf + at, "...", 3);
        at += 3;
    }
    buf[at] = '\0';
    return buf;
}

/* A value type as messages show it: "uint32", "array of string". */
static const char *gguf_describe_type(uint32_t type, uint32_t elem_type, char *buf, size_t size) {
    if (type != BIBIM_GGUF_ARRAY) return bibim_gguf_type_name((bibim_gguf_type)type);
    snprintf(buf, size, "array of %s", bibim_gguf_type_name((bibim_gguf_type)elem_type));
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Error messages: "<file>: <record>: <what was wrong>"                     */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_vset_error(bibim_gguf *g, bibim_status status, const char *what, const char *fmt,
                                    va_list ap) {
    int n = what && what[0] ? snprintf(g->errmsg, sizeof g->errmsg, "%s: %s: ", g->name, what)
                            : snprintf(g->errmsg, sizeof g->errmsg, "%s: ", g->name);
    if (n >= 0 && (size_t)n < sizeof g->errmsg) vsnprintf(g->errmsg + n, sizeof g->errmsg - (size_t)n, fmt, ap);
    return status;
}

__attribute__((format(printf, 3, 4))) static bibim_status gguf_set_error(bibim_gguf *g, bibim_status status,
                                                                         const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    gguf_vset_error(g, status, NULL, fmt, ap);
    va_end(ap);
    return status;
}

__attribute__((format(printf, 3, 4))) static bibim_status gguf_fail(gguf_parser *p, bibim_status status,
                                                                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    gguf_vset_error(p->g, status, p->what, fmt, ap);
    va_end(ap);
    return status;
}

/* Names the record being parsed: "key 'general.name' (at byte 40)". */
static void gguf_describe_record(gguf_parser *p, const char *kind, const char *where, bibim_str name,
                                 uint64_t offset) {
    char printable[GGUF_PRINT_NAME_SIZE];
    gguf_printable(printable, sizeof printable, name.ptr, name.len);
    snprintf(p->what, sizeof p->what, "%s '%s' (%s byte %" PRIu64 ")", kind, printable, where, offset);
}

static bibim_status gguf_out_of_memory(gguf_parser *p, const char *purpose) {
    return gguf_fail(p, BIBIM_ERR_NOMEM, "out of memory for %s", purpose);
}

/* ------------------------------------------------------------------------ */
/* Reading primitives                                                       */
/* ------------------------------------------------------------------------ */

static uint64_t gguf_remaining(const gguf_parser *p) { return p->g->size - p->pos; }

static const uint8_t *gguf_here(const gguf_parser *p) { return p->g->data + p->pos; }

static bibim_status gguf_need(gguf_parser *p, uint64_t n_bytes, const char *field) {
    if (n_bytes <= gguf_remaining(p)) return BIBIM_OK;
    return gguf_fail(p, BIBIM_ERR_FORMAT,
                     "truncated: %s at byte %" PRIu64 " needs %" PRIu64 " bytes but the file ends at byte %" PRIu64,
                     field, p->pos, n_bytes, p->g->size);
}

static bibim_status gguf_read_u32(gguf_parser *p, const char *field, uint32_t *out) {
    TRY(gguf_need(p, 4, field));
    *out = (uint32_t)gguf_load_le(gguf_here(p), 4);
    p->pos += 4;
    return BIBIM_OK;
}

static bibim_status gguf_read_u64(gguf_parser *p, const char *field, uint64_t *out) {
    TRY(gguf_need(p, 8, field));
    *out = gguf_load_le(gguf_here(p), 8);
    p->pos += 8;
    return BIBIM_OK;
}

static bibim_status gguf_read_str(gguf_parser *p, const char *field, bibim_str *out) {
    uint64_t at = p->pos, len;
    TRY(gguf_read_u64(p, field, &len));
    if (len > gguf_remaining(p)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "%s at byte %" PRIu64 " has length %" PRIu64 ", past the end of the file (%" PRIu64
                         " bytes remain after the length)",
                         field, at, len, gguf_remaining(p));
    }
    out->ptr = (const char *)gguf_here(p);
    out->len = len;
    p->pos += len;
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Name indexes (keys, tensor names)                                        */
/* ------------------------------------------------------------------------ */

static int gguf_name_compare(const char *a, uint64_t a_len, const char *b, uint64_t b_len) {
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c != 0) return c;
    return a_len < b_len ? -1 : a_len > b_len;
}

/* Orders by name, then by index, so equal names sit together in file order. */
static int gguf_entry_compare(const void *a, const void *b) {
    const gguf_name_entry *x = a, *y = b;
    int c = gguf_name_compare(x->name.ptr, x->name.len, y->name.ptr, y->name.len);
    if (c != 0) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int64_t gguf_index_find(const gguf_name_index *ix, const char *name, uint64_t len) {
    uint64_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const bibim_str *s = &ix->entries[mid].name;
        int c = gguf_name_compare(s->ptr, s->len, name, len);
        if (c == 0) return (int64_t)ix->entries[mid].index;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static bibim_status gguf_index_alloc(const bibim_gguf *g, gguf_name_index *ix, uint64_t n) {
    if (n == 0) return BIBIM_OK;
    if (n > SIZE_MAX) return BIBIM_ERR_NOMEM;
    /* n records were parsed, so this is bounded by the file */
    ix->entries = mem_alloc_n(&g->alloc, (size_t)n, sizeof *ix->entries);
    if (!ix->entries) return BIBIM_ERR_NOMEM;
    ix->n = n;
    return BIBIM_OK;
}

/* Sorts the filled entries. Returns BIBIM_ERR_FORMAT if a name occurs
 * twice, with *first and *again the record indexes of the duplicate whose
 * second occurrence comes earliest in the file. */
static bibim_status gguf_index_sort(gguf_name_index *ix, uint64_t *first, uint64_t *again) {
    if (ix->n == 0) return BIBIM_OK;
    qsort(ix->entries, ix->n, sizeof *ix->entries, gguf_entry_compare);
    *again = UINT64_MAX;
    for (uint64_t i = 0; i + 1 < ix->n; i++) {
        const gguf_name_entry *a = &ix->entries[i], *b = &ix->entries[i + 1];
        if (gguf_name_compare(a->name.ptr, a->name.len, b->name.ptr, b->name.len) == 0 && b->index < *again) {
            *first = a->index;
            *again = b->index;
        }
    }
    return *again == UINT64_MAX ? BIBIM_OK : BIBIM_ERR_FORMAT;
}

/* ------------------------------------------------------------------------ */
/* Header                                                                   */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_check_magic(gguf_parser *p) {
    bibim_gguf *g = p->g;
    if (g->size == 0) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "the file is empty (a GGUF file starts with a %u-byte header)",
                         GGUF_HEADER_BYTES);
    }
    TRY(gguf_need(p, 4, "magic"));
    if (memcmp(g->data, GGUF_MAGIC, 4) != 0) {
        char shown[32];
        gguf_printable(shown, sizeof shown, (const char *)g->data, 4);
        return gguf_fail(p, BIBIM_ERR_FORMAT, "bad magic '%s' at byte 0 (expected 'GGUF'): not a GGUF file", shown);
    }
    p->pos = 4;
    return BIBIM_OK;
}

static bibim_status gguf_check_version(gguf_parser *p) {
    uint32_t version;
    TRY(gguf_read_u32(p, "version", &version));
    p->g->version = version;
    if (version == 2 || version == 3) return BIBIM_OK;
    uint32_t swapped = __builtin_bswap32(version);
    const char *hint = swapped >= 1 && swapped <= 3 ? " (it looks byte-swapped: a big-endian file?)" : "";
    return gguf_fail(p, BIBIM_ERR_UNSUPPORTED, "GGUF version %" PRIu32 " is not supported (only 2 and 3)%s",
                     version, hint);
}

/* Bounds the counts by what the rest of the file could possibly hold, so a
 * claimed 2^62 keys fails here instead of driving an allocation. */
static bibim_status gguf_check_counts(gguf_parser *p, uint64_t n_tensors, uint64_t n_kv) {
    uint64_t left = gguf_remaining(p), kv_bytes, tensor_bytes, total;
    if (!checked_mul_u64(n_kv, GGUF_MIN_KV_BYTES, &kv_bytes) || kv_bytes > left) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "key count %" PRIu64 " (at byte 16) cannot fit in the %" PRIu64
                         " bytes after the header (a key takes at least %u)",
                         n_kv, left, GGUF_MIN_KV_BYTES);
    }
    if (!checked_mul_u64(n_tensors, GGUF_MIN_TENSOR_BYTES, &tensor_bytes) || tensor_bytes > left) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "tensor count %" PRIu64 " (at byte 8) cannot fit in the %" PRIu64
                         " bytes after the header (a tensor info takes at least %u)",
                         n_tensors, left, GGUF_MIN_TENSOR_BYTES);
    }
    if (!checked_add_u64(kv_bytes, tensor_bytes, &total) || total > left) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "%" PRIu64 " keys and %" PRIu64 " tensor infos cannot fit in the %" PRIu64
                         " bytes after the header",
                         n_kv, n_tensors, left);
    }
    return BIBIM_OK;
}

static bibim_status gguf_parse_header(gguf_parser *p, uint64_t *n_tensors, uint64_t *n_kv) {
    snprintf(p->what, sizeof p->what, "header");
    TRY(gguf_check_magic(p));
    TRY(gguf_check_version(p));
    TRY(gguf_read_u64(p, "tensor count", n_tensors));
    TRY(gguf_read_u64(p, "key count", n_kv));
    return gguf_check_counts(p, *n_tensors, *n_kv);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_check_bools(gguf_parser *p, uint64_t n) {
    const uint8_t *b = gguf_here(p);
    for (uint64_t i = 0; i < n; i++) {
        if (b[i] > 1) {
            return gguf_fail(p, BIBIM_ERR_FORMAT, "bool at byte %" PRIu64 " is %u; it must be 0 or 1", p->pos + i,
                             b[i]);
        }
    }
    return BIBIM_OK;
}

static bibim_status gguf_skip_strings(gguf_parser *p, uint64_t n) {
    uint64_t least;
    if (!checked_mul_u64(n, GGUF_STRING_HEADER_BYTES, &least) || least > gguf_remaining(p)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "%" PRIu64 " strings at byte %" PRIu64 " cannot fit in the %" PRIu64
                         " bytes left (each takes at least 8)",
                         n, p->pos, gguf_remaining(p));
    }
    for (uint64_t i = 0; i < n; i++) {
        bibim_str s;
        TRY(gguf_read_str(p, "string", &s));
    }
    return BIBIM_OK;
}

/* Skips `n` values of a type other than array, validating each. `type_at`
 * is where the type was read, for messages. */
static bibim_status gguf_skip_values(gguf_parser *p, uint32_t type, uint64_t n, uint64_t type_at) {
    if (type == BIBIM_GGUF_STRING) return gguf_skip_strings(p, n);
    uint64_t size = gguf_value_fixed_size(type), bytes;
    if (size == 0) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "value type %" PRIu32 " (at byte %" PRIu64 ") is unknown", type,
                         type_at);
    }
    if (!checked_mul_u64(n, size, &bytes) || bytes > gguf_remaining(p)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "truncated: %" PRIu64 " x %s at byte %" PRIu64 " run past the end of the file (%" PRIu64
                         " bytes remain)",
                         n, bibim_gguf_type_name((bibim_gguf_type)type), p->pos, gguf_remaining(p));
    }
    if (type == BIBIM_GGUF_BOOL) TRY(gguf_check_bools(p, n));
    p->pos += bytes;
    return BIBIM_OK;
}

/* Checks that `n` arrays could fit in what remains (each has a 12-byte
 * header), so a huge count fails at once instead of looping. */
static bibim_status gguf_check_array_count(gguf_parser *p, uint64_t n) {
    uint64_t least;
    if (checked_mul_u64(n, GGUF_ARRAY_HEADER_BYTES, &least) && least <= gguf_remaining(p)) return BIBIM_OK;
    return gguf_fail(p, BIBIM_ERR_FORMAT,
                     "%" PRIu64 " nested arrays at byte %" PRIu64 " cannot fit in the %" PRIu64 " bytes left", n,
                     p->pos, gguf_remaining(p));
}

/* Skips `n` arrays (the elements of an array of arrays), validating each.
 * An explicit stack of counts left, capped at GGUF_MAX_ARRAY_DEPTH, stands
 * in for recursion: a file nesting arrays 100,000 deep gets an error, not a
 * stack overflow. left[k] counts the arrays still to read at nesting level
 * k + 2 (the key's own array is level 1). */
static bibim_status gguf_skip_nested_arrays(gguf_parser *p, uint64_t n) {
    uint64_t left[GGUF_MAX_ARRAY_DEPTH - 1];
    unsigned depth = 1;
    TRY(gguf_check_array_count(p, n));
    left[0] = n;
    while (depth > 0) {
        if (left[depth - 1] == 0) {
            depth--;
            continue;
        }
        left[depth - 1]--;
        uint64_t type_at = p->pos, count;
        uint32_t type;
        TRY(gguf_read_u32(p, "array element type", &type));
        TRY(gguf_read_u64(p, "array length", &count));
        if (type != BIBIM_GGUF_ARRAY) {
            TRY(gguf_skip_values(p, type, count, type_at));
            continue;
        }
        if (depth == GGUF_MAX_ARRAY_DEPTH - 1) {
            return gguf_fail(p, BIBIM_ERR_FORMAT, "arrays are nested more than %u deep (at byte %" PRIu64 ")",
                             GGUF_MAX_ARRAY_DEPTH, type_at);
        }
        TRY(gguf_check_array_count(p, count));
        left[depth++] = count;
    }
    return BIBIM_OK;
}

/* Records where each string of a validated string array starts, so that
 * bibim_gguf_arr_str is O(1). n * 8 <= file size was checked already. */
static bibim_status gguf_index_strings(gguf_parser *p, gguf_kv *kv, uint64_t first) {
    if (kv->n == 0) return BIBIM_OK;
    kv->str_offsets = kv->n <= SIZE_MAX ? mem_alloc_n(&p->g->alloc, (size_t)kv->n, sizeof *kv->str_offsets) : NULL;
    if (!kv->str_offsets) return gguf_out_of_memory(p, "a string array's index");
    uint64_t at = first;
    for (uint64_t i = 0; i < kv->n; i++) {
        kv->str_offsets[i] = at;
        at += GGUF_STRING_HEADER_BYTES + gguf_load_le(p->g->data + at, 8);
    }
    return BIBIM_OK;
}

static bibim_status gguf_parse_array(gguf_parser *p, gguf_kv *kv) {
    uint64_t type_at = p->pos;
    TRY(gguf_read_u32(p, "array element type", &kv->elem_type));
    TRY(gguf_read_u64(p, "array length", &kv->n));
    uint64_t first = p->pos;
    if (kv->elem_type == BIBIM_GGUF_ARRAY) return gguf_skip_nested_arrays(p, kv->n);
    TRY(gguf_skip_values(p, kv->elem_type, kv->n, type_at));
    return kv->elem_type == BIBIM_GGUF_STRING ? gguf_index_strings(p, kv, first) : BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Key/value pairs                                                          */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_parse_kv(gguf_parser *p, uint64_t index, gguf_kv *kv) {
    memset(kv, 0, sizeof *kv);
    kv->key_offset = p->pos;
    snprintf(p->what, sizeof p->what, "key #%" PRIu64 " (at byte %" PRIu64 ")", index, p->pos);
    TRY(gguf_read_str(p, "key", &kv->key));
    if (kv->key.len == 0) return gguf_fail(p, BIBIM_ERR_FORMAT, "the key is empty");
    gguf_describe_record(p, "key", "at", kv->key, kv->key_offset);
    TRY(gguf_read_u32(p, "value type", &kv->type));
    kv->value_offset = p->pos;
    kv->elem_type = kv->type;
    kv->n = 1;
    if (kv->type == BIBIM_GGUF_ARRAY) {
        TRY(gguf_parse_array(p, kv));
    } else {
        TRY(gguf_skip_values(p, kv->type, 1, kv->value_offset - 4));
    }
    kv->value_size = p->pos - kv->value_offset;
    return BIBIM_OK;
}

/* The next capacity of an array that grows as records are parsed: doubling,
 * never past `max` (the count the header claims, already bounded by the file
 * size), so memory follows the records actually present. 0 if the byte size
 * would overflow. */
static uint64_t gguf_next_capacity(uint64_t cap, uint64_t max, size_t item_size) {
    uint64_t next = cap ? cap * 2 : 16, bytes;
    if (next > max) next = max;
    return checked_mul_u64(next, item_size, &bytes) && bytes <= SIZE_MAX ? next : 0;
}

static bibim_status gguf_parse_kvs(gguf_parser *p, uint64_t n_kv) {
    bibim_gguf *g = p->g;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (i == cap) {
            cap = gguf_next_capacity(cap, n_kv, sizeof *g->kvs);
            gguf_kv *grown = cap ? mem_realloc(&g->alloc, g->kvs, (size_t)cap * sizeof *grown) : NULL;
            if (!grown) return gguf_out_of_memory(p, "the key table");
            g->kvs = grown;
        }
        TRY(gguf_parse_kv(p, i, &g->kvs[i]));
        g->n_kv = i + 1;
    }
    return BIBIM_OK;
}

static bibim_status gguf_index_keys(gguf_parser *p) {
    bibim_gguf *g = p->g;
    uint64_t first = 0, again = 0;
    if (gguf_index_alloc(g, &g->key_index, g->n_kv) != BIBIM_OK) return gguf_out_of_memory(p, "the key index");
    for (uint64_t i = 0; i < g->n_kv; i++) g->key_index.entries[i] = (gguf_name_entry){g->kvs[i].key, i};
    if (gguf_index_sort(&g->key_index, &first, &again) != BIBIM_OK) {
        gguf_describe_record(p, "key", "at", g->kvs[again].key, g->kvs[again].key_offset);
        return gguf_fail(p, BIBIM_ERR_FORMAT, "duplicate key: it appeared first at byte %" PRIu64,
                         g->kvs[first].key_offset);
    }
    return BIBIM_OK;
}

static bibim_status gguf_read_alignment(gguf_parser *p) {
    bibim_gguf *g = p->g;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gguf_index_find(&g->key_index, GGUF_KEY_ALIGNMENT, strlen(GGUF_KEY_ALIGNMENT));
    if (i < 0) return BIBIM_OK;
    const gguf_kv *kv = &g->kvs[i];
    gguf_describe_record(p, "key", "at", kv->key, kv->key_offset);
    if (kv->type != BIBIM_GGUF_UINT32) {
        char buf[48];
        return gguf_fail(p, BIBIM_ERR_FORMAT, "the alignment is stored as %s; it must be uint32",
                         gguf_describe_type(kv->type, kv->elem_type, buf, sizeof buf));
    }
    uint64_t alignment = gguf_load_le(g->data + kv->value_offset, 4);
    if (!gguf_alignment_is_valid(alignment)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "alignment %" PRIu64 " is invalid: it must be a power of two, a multiple of 8 and at most %u",
                         alignment, GGUF_MAX_ALIGNMENT);
    }
    g->alignment = (uint32_t)alignment;
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor infos                                                             */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_parse_tensor_shape(gguf_parser *p, gguf_tensor *t) {
    uint64_t at = p->pos;
    TRY(gguf_read_u32(p, "n_dims", &t->n_dims));
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "n_dims (at byte %" PRIu64 ") is %" PRIu32 "; it must be 1 to %u", at,
                         t->n_dims, GGUF_MAX_DIMS);
    }
    int64_t n_elems = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t dim = 1;
        at = p->pos;
        if (d < t->n_dims) TRY(gguf_read_u64(p, "dimension", &dim));
        if (dim == 0 || dim > INT64_MAX) {
            return gguf_fail(p, BIBIM_ERR_FORMAT, "dimension %" PRIu32 " (at byte %" PRIu64 ") is %" PRIu64 "%s", d,
                             at, dim, dim ? ", more than 2^63-1" : "");
        }
        t->ne[d] = (int64_t)dim;
        if (!checked_mul_i64(n_elems, t->ne[d], &n_elems)) {
            return gguf_fail(p, BIBIM_ERR_FORMAT,
                             "the product of the dimensions overflows int64 at dimension %" PRIu32 " (at byte %" PRIu64
                             ")",
                             d, at);
        }
    }
    t->n_elems = (uint64_t)n_elems;
    return BIBIM_OK;
}

static bibim_status gguf_parse_tensor_type(gguf_parser *p, gguf_tensor *t) {
    uint64_t at = p->pos;
    TRY(gguf_read_u32(p, "tensor type", &t->type));
    if (!bibim_type_is_known(t->type)) {
        return gguf_fail(p, BIBIM_ERR_UNSUPPORTED, "tensor type %" PRIu32 " (at byte %" PRIu64 ") is unknown",
                         t->type, at);
    }
    bibim_type type = (bibim_type)t->type;
    int64_t block = bibim_type_block_elems(type);
    if (t->ne[0] % block != 0) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "ne[0] = %" PRId64 " is not a multiple of the %s block size %" PRId64,
                         t->ne[0], bibim_type_name(type), block);
    }
    int64_t row_bytes = bibim_type_row_bytes(type, t->ne[0]), n_bytes;
    if (row_bytes < 0 || !checked_mul_i64(row_bytes, (int64_t)t->n_elems / t->ne[0], &n_bytes)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "the data size of %" PRIu64 " %s elements overflows", t->n_elems,
                         bibim_type_name(type));
    }
    t->n_bytes = (uint64_t)n_bytes;
    return BIBIM_OK;
}

static bibim_status gguf_parse_tensor_info(gguf_parser *p, uint64_t index, gguf_tensor *t) {
    memset(t, 0, sizeof *t);
    t->info_offset = p->pos;
    snprintf(p->what, sizeof p->what, "tensor #%" PRIu64 " (info at byte %" PRIu64 ")", index, p->pos);
    TRY(gguf_read_str(p, "tensor name", &t->name));
    if (t->name.len == 0) return gguf_fail(p, BIBIM_ERR_FORMAT, "the tensor name is empty");
    gguf_describe_record(p, "tensor", "info at", t->name, t->info_offset);
    if (t->name.len >= GGUF_MAX_NAME) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "the name is %" PRIu64 " bytes long; names must be shorter than %u",
                         t->name.len, GGUF_MAX_NAME);
    }
    TRY(gguf_parse_tensor_shape(p, t));
    TRY(gguf_parse_tensor_type(p, t));
    return gguf_read_u64(p, "tensor data offset", &t->offset);
}

static bibim_status gguf_parse_tensors(gguf_parser *p, uint64_t n_tensors) {
    bibim_gguf *g = p->g;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (i == cap) {
            cap = gguf_next_capacity(cap, n_tensors, sizeof *g->tensors);
            gguf_tensor *grown = cap ? mem_realloc(&g->alloc, g->tensors, (size_t)cap * sizeof *grown) : NULL;
            if (!grown) return gguf_out_of_memory(p, "the tensor table");
            g->tensors = grown;
        }
        TRY(gguf_parse_tensor_info(p, i, &g->tensors[i]));
        g->n_tensors = i + 1;
    }
    return BIBIM_OK;
}

static bibim_status gguf_index_tensors(gguf_parser *p) {
    bibim_gguf *g = p->g;
    uint64_t first = 0, again = 0;
    if (gguf_index_alloc(g, &g->tensor_index, g->n_tensors) != BIBIM_OK) return gguf_out_of_memory(p, "the tensor index");
    for (uint64_t i = 0; i < g->n_tensors; i++) g->tensor_index.entries[i] = (gguf_name_entry){g->tensors[i].name, i};
    if (gguf_index_sort(&g->tensor_index, &first, &again) != BIBIM_OK) {
        gguf_describe_record(p, "tensor", "info at", g->tensors[again].name, g->tensors[again].info_offset);
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "duplicate tensor name: the tensor whose info is at byte %" PRIu64 " has it too",
                         g->tensors[first].info_offset);
    }
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor data placement                                                    */
/* ------------------------------------------------------------------------ */

static void gguf_describe_tensor(gguf_parser *p, const gguf_tensor *t) {
    gguf_describe_record(p, "tensor", "info at", t->name, t->info_offset);
}

static bibim_status gguf_check_tensor_data(gguf_parser *p, const gguf_tensor *t) {
    bibim_gguf *g = p->g;
    uint64_t start, end;
    gguf_describe_tensor(p, t);
    if (t->offset % g->alignment != 0) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "data offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                         t->offset, g->alignment);
    }
    if (!checked_add_u64(g->data_offset, t->offset, &start) || !checked_add_u64(start, t->n_bytes, &end)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "data offset %" PRIu64 " plus %" PRIu64 " bytes wraps around 2^64",
                         t->offset, t->n_bytes);
    }
    if (end > g->size) {
        return gguf_fail(p, BIBIM_ERR_FORMAT,
                         "data at bytes %" PRIu64 "..%" PRIu64 " (offset %" PRIu64 ", %" PRIu64
                         " bytes) runs past the end of the file (%" PRIu64 " bytes)",
                         start, end, t->offset, t->n_bytes, g->size);
    }
    return BIBIM_OK;
}

typedef struct gguf_span {
    uint64_t start, end, index;
} gguf_span;

static int gguf_span_compare(const void *a, const void *b) {
    const gguf_span *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Tensors must not share bytes: sorted by offset, each must end before the
 * next begins. */
static bibim_status gguf_check_overlaps(gguf_parser *p) {
    bibim_gguf *g = p->g;
    if (g->n_tensors < 2) return BIBIM_OK;
    gguf_span *spans = g->n_tensors <= SIZE_MAX ? mem_alloc_n(&g->alloc, (size_t)g->n_tensors, sizeof *spans) : NULL;
    if (!spans) return gguf_out_of_memory(p, "the overlap check");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        spans[i] = (gguf_span){g->tensors[i].offset, g->tensors[i].offset + g->tensors[i].n_bytes, i};
    }
    qsort(spans, g->n_tensors, sizeof *spans, gguf_span_compare);
    bibim_status st = BIBIM_OK;
    for (uint64_t i = 0; i + 1 < g->n_tensors && st == BIBIM_OK; i++) {
        if (spans[i].end <= spans[i + 1].start) continue;
        const gguf_tensor *a = &g->tensors[spans[i].index];
        char name[GGUF_PRINT_NAME_SIZE];
        gguf_describe_tensor(p, &g->tensors[spans[i + 1].index]);
        st = gguf_fail(p, BIBIM_ERR_FORMAT,
                       "its data (offset %" PRIu64 ") overlaps the data of tensor '%s' (offset %" PRIu64
                       ", %" PRIu64 " bytes)",
                       spans[i + 1].start, gguf_printable(name, sizeof name, a->name.ptr, a->name.len), a->offset,
                       a->n_bytes);
    }
    mem_free(&g->alloc, spans);
    return st;
}

static bibim_status gguf_place_tensors(gguf_parser *p) {
    bibim_gguf *g = p->g;
    snprintf(p->what, sizeof p->what, "tensor infos");
    if (!gguf_align_up(p->pos, g->alignment, &g->data_offset)) {
        return gguf_fail(p, BIBIM_ERR_FORMAT, "the data section start overflows");
    }
    /* A file without tensors may end before the padding (vocab-only files do). */
    for (uint64_t i = 0; i < g->n_tensors; i++) TRY(gguf_check_tensor_data(p, &g->tensors[i]));
    return gguf_check_overlaps(p);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_parse(bibim_gguf *g) {
    gguf_parser p = {.g = g, .pos = 0};
    uint64_t n_tensors, n_kv;
    TRY(gguf_parse_header(&p, &n_tensors, &n_kv));
    TRY(gguf_parse_kvs(&p, n_kv));
    TRY(gguf_index_keys(&p));
    TRY(gguf_read_alignment(&p));
    TRY(gguf_parse_tensors(&p, n_tensors));
    TRY(gguf_index_tensors(&p));
    return gguf_place_tensors(&p);
}

/* Drops everything but the name and the message: a handle whose open
 * failed answers every getter as an empty file would. */
static void gguf_release(bibim_gguf *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) mem_free(&g->alloc, g->kvs[i].str_offsets);
    mem_free(&g->alloc, g->kvs);
    mem_free(&g->alloc, g->tensors);
    mem_free(&g->alloc, g->key_index.entries);
    mem_free(&g->alloc, g->tensor_index.entries);
    if (g->map) munmap(g->map, g->size);
    g->kvs = NULL;
    g->tensors = NULL;
    g->n_kv = g->n_tensors = 0;
    g->key_index = g->tensor_index = (gguf_name_index){NULL, 0};
    g->map = NULL;
    g->data = NULL;
    g->size = g->data_offset = 0;
}

static bibim_gguf *gguf_new(const char *name, const bibim_allocator *alloc) {
    bibim_gguf *g = mem_calloc(alloc, 1, sizeof *g);
    if (!g) return NULL;
    g->alloc = *alloc;
    g->name = mem_strdup(alloc, name);
    if (!g->name) {
        mem_free(alloc, g);
        return NULL;
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    return g;
}

static bibim_status gguf_map_file(bibim_gguf *g, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gguf_set_error(g, BIBIM_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return gguf_set_error(g, BIBIM_ERR_IO, "cannot stat: %s", strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return gguf_set_error(g, BIBIM_ERR_IO, "cannot map: not a regular file");
    }
    g->size = (uint64_t)st.st_size;
    if (g->size == 0) {
        close(fd);
        return BIBIM_OK; /* the parser reports the empty file */
    }
    void *map = g->size <= SIZE_MAX ? mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) {
        uint64_t size = g->size;
        g->size = 0;
        return gguf_set_error(g, BIBIM_ERR_IO, "cannot map %" PRIu64 " bytes: %s", size, strerror(err));
    }
    g->map = map;
    g->data = map;
    return BIBIM_OK;
}

bibim_status gguf_open_file(const char *path, const bibim_allocator *alloc, bibim_gguf **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    *out = gguf_new(path ? path : "(no path)", alloc);
    if (!*out) return BIBIM_ERR_NOMEM;
    bibim_gguf *g = *out;
    if (!path) return gguf_set_error(g, BIBIM_ERR_INVALID_ARG, "no path given");
    bibim_status st = gguf_map_file(g, path);
    if (st == BIBIM_OK) st = gguf_parse(g);
    if (st != BIBIM_OK) gguf_release(g);
    return st;
}

bibim_status gguf_open_buffer(const void *data, uint64_t size, const char *name, const bibim_allocator *alloc,
                              bibim_gguf **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    *out = gguf_new(name ? name : "(memory)", alloc);
    if (!*out) return BIBIM_ERR_NOMEM;
    bibim_gguf *g = *out;
    if (!data && size > 0) return gguf_set_error(g, BIBIM_ERR_INVALID_ARG, "no data given for %" PRIu64 " bytes", size);
    g->data = data;
    g->size = size;
    bibim_status st = gguf_parse(g);
    if (st != BIBIM_OK) gguf_release(g);
    return st;
}

bibim_status bibim_gguf_open(const char *path, bibim_gguf **out) { return gguf_open_file(path, &mem_libc, out); }

bibim_status bibim_gguf_open_memory(const void *data, uint64_t size, const char *name, bibim_gguf **out) {
    return gguf_open_buffer(data, size, name, &mem_libc, out);
}

void bibim_gguf_free(bibim_gguf *gguf) {
    if (!gguf) return;
    gguf_release(gguf);
    bibim_allocator alloc = gguf->alloc; /* it lives in the block being freed */
    mem_free(&alloc, gguf->name);
    mem_free(&alloc, gguf);
}

/* ------------------------------------------------------------------------ */
/* Whole-file getters                                                       */
/* ------------------------------------------------------------------------ */

const char *bibim_gguf_errmsg(const bibim_gguf *gguf) { return gguf ? gguf->errmsg : ""; }

uint32_t bibim_gguf_version(const bibim_gguf *gguf) { return gguf ? gguf->version : 0; }

uint32_t bibim_gguf_alignment(const bibim_gguf *gguf) { return gguf ? gguf->alignment : GGUF_DEFAULT_ALIGNMENT; }

uint64_t bibim_gguf_file_size(const bibim_gguf *gguf) { return gguf ? gguf->size : 0; }

uint64_t bibim_gguf_data_offset(const bibim_gguf *gguf) { return gguf ? gguf->data_offset : 0; }

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

static const gguf_kv *gguf_kv_at(const bibim_gguf *g, int64_t index) {
    if (!g || index < 0 || (uint64_t)index >= g->n_kv) return NULL;
    return &g->kvs[index];
}

int64_t bibim_gguf_n_kv(const bibim_gguf *gguf) { return gguf ? (int64_t)gguf->n_kv : 0; }

int64_t bibim_gguf_find_key(const bibim_gguf *gguf, const char *key) {
    if (!gguf || !key) return -1;
    return gguf_index_find(&gguf->key_index, key, strlen(key));
}

bibim_str bibim_gguf_key(const bibim_gguf *gguf, int64_t kv_index) {
    const gguf_kv *kv = gguf_kv_at(gguf, kv_index);
    bibim_str none = {NULL, 0};
    return kv ? kv->key : none;
}

/* Out of range, these answer a value no file holds ((bibim_gguf_type)-1, 0). */
bibim_gguf_type bibim_gguf_kv_type(const bibim_gguf *gguf, int64_t kv_index) {
    const gguf_kv *kv = gguf_kv_at(gguf, kv_index);
    return kv ? (bibim_gguf_type)kv->type : (bibim_gguf_type)-1;
}

bibim_gguf_type bibim_gguf_kv_elem_type(const bibim_gguf *gguf, int64_t kv_index) {
    const gguf_kv *kv = gguf_kv_at(gguf, kv_index);
    return kv ? (bibim_gguf_type)kv->elem_type : (bibim_gguf_type)-1;
}

uint64_t bibim_gguf_kv_len(const bibim_gguf *gguf, int64_t kv_index) {
    const gguf_kv *kv = gguf_kv_at(gguf, kv_index);
    return kv ? kv->n : 0;
}

int gguf_kv_encoded(const bibim_gguf *g, int64_t index, bibim_str *key, uint32_t *type, const uint8_t **value,
                    uint64_t *value_size) {
    const gguf_kv *kv = gguf_kv_at(g, index);
    if (!kv) return 0;
    *key = kv->key;
    *type = kv->type;
    *value = g->data + kv->value_offset;
    *value_size = kv->value_size;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Typed getters by key                                                     */
/* ------------------------------------------------------------------------ */

static bibim_status gguf_find_kv(bibim_gguf *g, const char *key, const void *out, const gguf_kv **kv) {
    if (!g) return BIBIM_ERR_INVALID_ARG;
    if (!key || !out) return gguf_set_error(g, BIBIM_ERR_INVALID_ARG, "a getter was given a NULL key or output");
    int64_t i = bibim_gguf_find_key(g, key);
    if (i < 0) {
        char shown[GGUF_PRINT_NAME_SIZE];
        return gguf_set_error(g, BIBIM_ERR_NOT_FOUND, "key '%s' not found",
                              gguf_printable(shown, sizeof shown, key, strlen(key)));
    }
    *kv = &g->kvs[i];
    return BIBIM_OK;
}

/* Finds `key` and checks that its value is of `type` (for arrays, also of
 * `elem_type`). */
static bibim_status gguf_expect(bibim_gguf *g, const char *key, uint32_t type, uint32_t elem_type, const void *out,
                                const gguf_kv **kv) {
    TRY(gguf_find_kv(g, key, out, kv));
    if ((*kv)->type == type && (type != BIBIM_GGUF_ARRAY || (*kv)->elem_type == elem_type)) return BIBIM_OK;
    char shown[GGUF_PRINT_NAME_SIZE], stored[48], wanted[48];
    return gguf_set_error(g, BIBIM_ERR_TYPE, "key '%s' is %s, not %s",
                          gguf_printable(shown, sizeof shown, key, strlen(key)),
                          gguf_describe_type((*kv)->type, (*kv)->elem_type, stored, sizeof stored),
                          gguf_describe_type(type, elem_type, wanted, sizeof wanted));
}

/* The little-endian bits of a fixed-size scalar of exactly `type`. */
static bibim_status gguf_get_scalar(bibim_gguf *g, const char *key, uint32_t type, const void *out, uint64_t *bits) {
    const gguf_kv *kv = NULL;
    TRY(gguf_expect(g, key, type, type, out, &kv));
    *bits = gguf_load_le(g->data + kv->value_offset, (unsigned)gguf_value_fixed_size(type));
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_u8(bibim_gguf *gguf, const char *key, uint8_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_UINT8, out, &bits));
    *out = (uint8_t)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_i8(bibim_gguf *gguf, const char *key, int8_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_INT8, out, &bits));
    *out = (int8_t)(uint8_t)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_u16(bibim_gguf *gguf, const char *key, uint16_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_UINT16, out, &bits));
    *out = (uint16_t)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_i16(bibim_gguf *gguf, const char *key, int16_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_INT16, out, &bits));
    *out = (int16_t)(uint16_t)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_u32(bibim_gguf *gguf, const char *key, uint32_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_UINT32, out, &bits));
    *out = (uint32_t)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_i32(bibim_gguf *gguf, const char *key, int32_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_INT32, out, &bits));
    *out = (int32_t)(uint32_t)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_u64(bibim_gguf *gguf, const char *key, uint64_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_UINT64, out, &bits));
    *out = bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_i64(bibim_gguf *gguf, const char *key, int64_t *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_INT64, out, &bits));
    *out = (int64_t)bits;
    return BIBIM_OK;
}

static float gguf_f32_from_bits(uint64_t bits) {
    uint32_t u = (uint32_t)bits;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double gguf_f64_from_bits(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

bibim_status bibim_gguf_get_f32(bibim_gguf *gguf, const char *key, float *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_FLOAT32, out, &bits));
    *out = gguf_f32_from_bits(bits);
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_f64(bibim_gguf *gguf, const char *key, double *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_FLOAT64, out, &bits));
    *out = gguf_f64_from_bits(bits);
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_bool(bibim_gguf *gguf, const char *key, int *out) {
    uint64_t bits = 0;
    TRY(gguf_get_scalar(gguf, key, BIBIM_GGUF_BOOL, out, &bits));
    *out = (int)bits;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_str(bibim_gguf *gguf, const char *key, bibim_str *out) {
    const gguf_kv *kv = NULL;
    TRY(gguf_expect(gguf, key, BIBIM_GGUF_STRING, BIBIM_GGUF_STRING, out, &kv));
    out->len = gguf_load_le(gguf->data + kv->value_offset, 8);
    out->ptr = (const char *)gguf->data + kv->value_offset + GGUF_STRING_HEADER_BYTES;
    return BIBIM_OK;
}

/* The value of an integer-typed kv as int64; 0 if it is not an integer or
 * (a uint64 past INT64_MAX) does not fit. */
static int gguf_decode_int(const bibim_gguf *g, const gguf_kv *kv, int64_t *out) {
    const uint8_t *v = g->data + kv->value_offset;
    switch (kv->type) {
    case BIBIM_GGUF_UINT8: *out = v[0]; return 1;
    case BIBIM_GGUF_INT8: *out = (int8_t)v[0]; return 1;
    case BIBIM_GGUF_UINT16: *out = (int64_t)gguf_load_le(v, 2); return 1;
    case BIBIM_GGUF_INT16: *out = (int16_t)gguf_load_le(v, 2); return 1;
    case BIBIM_GGUF_UINT32: *out = (int64_t)gguf_load_le(v, 4); return 1;
    case BIBIM_GGUF_INT32: *out = (int32_t)gguf_load_le(v, 4); return 1;
    case BIBIM_GGUF_INT64: *out = (int64_t)gguf_load_le(v, 8); return 1;
    case BIBIM_GGUF_UINT64:
        if (gguf_load_le(v, 8) > INT64_MAX) return 0;
        *out = (int64_t)gguf_load_le(v, 8);
        return 1;
    default: return 0;
    }
}

static bibim_status gguf_lenient_mismatch(bibim_gguf *g, const char *key, const gguf_kv *kv, const char *wanted) {
    char shown[GGUF_PRINT_NAME_SIZE], stored[48];
    return gguf_set_error(g, BIBIM_ERR_TYPE, "key '%s' is %s, not %s",
                          gguf_printable(shown, sizeof shown, key, strlen(key)),
                          gguf_describe_type(kv->type, kv->elem_type, stored, sizeof stored), wanted);
}

bibim_status bibim_gguf_get_int(bibim_gguf *gguf, const char *key, int64_t *out) {
    const gguf_kv *kv = NULL;
    TRY(gguf_find_kv(gguf, key, out, &kv));
    if (gguf_decode_int(gguf, kv, out)) return BIBIM_OK;
    return gguf_lenient_mismatch(gguf, key, kv,
                                 kv->type == BIBIM_GGUF_UINT64 ? "an integer that fits int64 (it is too large)"
                                                               : "an integer type");
}

bibim_status bibim_gguf_get_float(bibim_gguf *gguf, const char *key, double *out) {
    const gguf_kv *kv = NULL;
    TRY(gguf_find_kv(gguf, key, out, &kv));
    const uint8_t *v = gguf->data + kv->value_offset;
    int64_t i;
    if (kv->type == BIBIM_GGUF_FLOAT32) {
        *out = gguf_f32_from_bits(gguf_load_le(v, 4));
    } else if (kv->type == BIBIM_GGUF_FLOAT64) {
        *out = gguf_f64_from_bits(gguf_load_le(v, 8));
    } else if (kv->type == BIBIM_GGUF_UINT64) {
        *out = (double)gguf_load_le(v, 8);
    } else if (gguf_decode_int(gguf, kv, &i)) {
        *out = (double)i;
    } else {
        return gguf_lenient_mismatch(gguf, key, kv, "an integer or float type");
    }
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_arr(bibim_gguf *gguf, const char *key, bibim_gguf_type elem_type, const void **data,
                                uint64_t *n) {
    if (!gguf) return BIBIM_ERR_INVALID_ARG;
    if (gguf_value_fixed_size(elem_type) == 0) {
        return gguf_set_error(gguf, BIBIM_ERR_INVALID_ARG,
                              "bibim_gguf_get_arr reads fixed-size elements, not %s (use the string array getters)",
                              bibim_gguf_type_name(elem_type));
    }
    const gguf_kv *kv = NULL;
    const void *outputs_given = data && n ? data : NULL;
    TRY(gguf_expect(gguf, key, BIBIM_GGUF_ARRAY, elem_type, outputs_given, &kv));
    *data = gguf->data + kv->value_offset + GGUF_ARRAY_HEADER_BYTES;
    *n = kv->n;
    return BIBIM_OK;
}

bibim_status bibim_gguf_get_arr_str_len(bibim_gguf *gguf, const char *key, uint64_t *n) {
    const gguf_kv *kv = NULL;
    TRY(gguf_expect(gguf, key, BIBIM_GGUF_ARRAY, BIBIM_GGUF_STRING, n, &kv));
    *n = kv->n;
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Array elements by index (read-only: no message is written)               */
/* ------------------------------------------------------------------------ */

/* The encoded bytes of element `i` of array kv `kv_index` of `elem_type`. */
static bibim_status gguf_array_elem(const bibim_gguf *g, int64_t kv_index, uint32_t elem_type, uint64_t i,
                                    const void *out, const uint8_t **elem) {
    const gguf_kv *kv = gguf_kv_at(g, kv_index);
    if (!kv || !out) return BIBIM_ERR_INVALID_ARG;
    if (kv->type != BIBIM_GGUF_ARRAY || kv->elem_type != elem_type) return BIBIM_ERR_TYPE;
    if (i >= kv->n) return BIBIM_ERR_INVALID_ARG;
    if (elem_type == BIBIM_GGUF_STRING) {
        *elem = g->data + kv->str_offsets[i];
    } else {
        *elem = g->data + kv->value_offset + GGUF_ARRAY_HEADER_BYTES + i * gguf_value_fixed_size(elem_type);
    }
    return BIBIM_OK;
}

bibim_status bibim_gguf_arr_str(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, bibim_str *out) {
    const uint8_t *elem = NULL;
    TRY(gguf_array_elem(gguf, kv_index, BIBIM_GGUF_STRING, i, out, &elem));
    out->len = gguf_load_le(elem, 8);
    out->ptr = (const char *)elem + GGUF_STRING_HEADER_BYTES;
    return BIBIM_OK;
}

bibim_status bibim_gguf_arr_f32(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, float *out) {
    const uint8_t *elem = NULL;
    TRY(gguf_array_elem(gguf, kv_index, BIBIM_GGUF_FLOAT32, i, out, &elem));
    *out = gguf_f32_from_bits(gguf_load_le(elem, 4));
    return BIBIM_OK;
}

bibim_status bibim_gguf_arr_i32(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, int32_t *out) {
    const uint8_t *elem = NULL;
    TRY(gguf_array_elem(gguf, kv_index, BIBIM_GGUF_INT32, i, out, &elem));
    *out = (int32_t)(uint32_t)gguf_load_le(elem, 4);
    return BIBIM_OK;
}

bibim_status bibim_gguf_arr_u32(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, uint32_t *out) {
    const uint8_t *elem = NULL;
    TRY(gguf_array_elem(gguf, kv_index, BIBIM_GGUF_UINT32, i, out, &elem));
    *out = (uint32_t)gguf_load_le(elem, 4);
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */
/* ------------------------------------------------------------------------ */

int64_t bibim_gguf_n_tensors(const bibim_gguf *gguf) { return gguf ? (int64_t)gguf->n_tensors : 0; }

int64_t bibim_gguf_find_tensor(const bibim_gguf *gguf, const char *name) {
    if (!gguf || !name) return -1;
    return gguf_index_find(&gguf->tensor_index, name, strlen(name));
}

bibim_status bibim_gguf_tensor(const bibim_gguf *gguf, int64_t index, bibim_tensor_info *info) {
    if (!gguf || !info || index < 0 || (uint64_t)index >= gguf->n_tensors) return BIBIM_ERR_INVALID_ARG;
    const gguf_tensor *t = &gguf->tensors[index];
    info->name = t->name;
    info->type = (bibim_type)t->type;
    info->n_dims = t->n_dims;
    memcpy(info->ne, t->ne, sizeof info->ne);
    info->n_elems = t->n_elems;
    info->offset = t->offset;
    info->n_bytes = t->n_bytes;
    info->data = gguf->data + gguf->data_offset + t->offset;
    return BIBIM_OK;
}
