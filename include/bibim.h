/*
 * bibim.h — the public API of libbibim, a small engine for Llama-family models.
 *
 * Conventions (they hold for every call unless its comment says otherwise):
 *   - Fallible calls return a bibim_status. BIBIM_OK is 0; bibim_status_string()
 *     names any status. Handles keep the message of their last failure, readable
 *     with the handle's errmsg call; the message names the file, field or
 *     tensor, the byte offset where it applies, and what was wrong.
 *   - Handles are opaque, made by an open or create call and released by its free call,
 *     which accepts NULL.
 *   - Sizes, counts and offsets are 64-bit. Strings read from a model file are
 *     bibim_str: a pointer and a length, NOT NUL-terminated, pointing into the
 *     memory-mapped file; valid until the handle that gave them is freed.
 *   - No global mutable state: distinct handles may be used from distinct
 *     threads at once. One handle must not be used from two threads at once,
 *     except where a comment says the call is read-only (then any number of
 *     threads may call it concurrently).
 *   - The library never calls exit() or abort() and never prints.
 *   - Tensor shapes use ggml's convention: ne[0] is the contiguous dimension
 *     (the length of a row), ne[1] the number of rows, and so on.
 */
#ifndef BIBIM_H
#define BIBIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BIBIM_VERSION "0.1.0"

const char *bibim_version(void);

/* ------------------------------------------------------------------------ */
/* Status                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum bibim_status {
    BIBIM_OK = 0,
    BIBIM_ERR_INVALID_ARG = 1, /* the caller passed a bad parameter */
    BIBIM_ERR_IO = 2,          /* open, read, write, map or rename failed */
    BIBIM_ERR_FORMAT = 3,      /* a file is malformed or inconsistent */
    BIBIM_ERR_UNSUPPORTED = 4, /* well-formed, but a version or type we do not handle */
    BIBIM_ERR_NOT_FOUND = 5,   /* the key or tensor asked for is absent */
    BIBIM_ERR_TYPE = 6,        /* a value exists but has another type than asked for */
    BIBIM_ERR_NOMEM = 7,       /* an allocation failed */
    BIBIM_ERR_CANCELLED = 8,   /* a callback asked to stop */
    BIBIM_ERR_TOO_SMALL = 9,   /* a caller's buffer is too small; the needed size was returned */
    BIBIM_ERR_CONTEXT_FULL = 10 /* the tokens do not fit in the context window */
} bibim_status;

/* A static, human-readable name for a status ("format error", ...). */
const char *bibim_status_string(bibim_status status);

/* A string inside a model file: `len` bytes at `ptr`, not NUL-terminated. */
typedef struct bibim_str {
    const char *ptr;
    uint64_t len;
} bibim_str;

/* ------------------------------------------------------------------------ */
/* Tensor types (ids are ggml's, as stored in GGUF files)                   */
/* ------------------------------------------------------------------------ */

typedef enum bibim_type {
    BIBIM_TYPE_F32 = 0,
    BIBIM_TYPE_F16 = 1,
    BIBIM_TYPE_Q4_0 = 2,
    BIBIM_TYPE_Q4_1 = 3,
    BIBIM_TYPE_Q5_0 = 6,
    BIBIM_TYPE_Q5_1 = 7,
    BIBIM_TYPE_Q8_0 = 8,
    BIBIM_TYPE_Q8_1 = 9,
    BIBIM_TYPE_Q2_K = 10,
    BIBIM_TYPE_Q3_K = 11,
    BIBIM_TYPE_Q4_K = 12,
    BIBIM_TYPE_Q5_K = 13,
    BIBIM_TYPE_Q6_K = 14,
    BIBIM_TYPE_Q8_K = 15,
    BIBIM_TYPE_IQ2_XXS = 16,
    BIBIM_TYPE_IQ2_XS = 17,
    BIBIM_TYPE_IQ3_XXS = 18,
    BIBIM_TYPE_IQ1_S = 19,
    BIBIM_TYPE_IQ4_NL = 20,
    BIBIM_TYPE_IQ3_S = 21,
    BIBIM_TYPE_IQ2_S = 22,
    BIBIM_TYPE_IQ4_XS = 23,
    BIBIM_TYPE_I8 = 24,
    BIBIM_TYPE_I16 = 25,
    BIBIM_TYPE_I32 = 26,
    BIBIM_TYPE_I64 = 27,
    BIBIM_TYPE_F64 = 28,
    BIBIM_TYPE_IQ1_M = 29,
    BIBIM_TYPE_BF16 = 30,
    BIBIM_TYPE_TQ1_0 = 34,
    BIBIM_TYPE_TQ2_0 = 35,
    BIBIM_TYPE_MXFP4 = 39
} bibim_type;

/* 1 if `type` is a ggml type id whose block layout bibim knows (so a file
 * holding it can be validated and listed), else 0. Ids ggml retired (4, 5,
 * 31-33, 36-38) and unknown ids give 0. */
int bibim_type_is_known(uint32_t type);

/* 1 if bibim can quantize F32 data to `type` and dequantize it back:
 * F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K. */
int bibim_type_is_supported(bibim_type type);

/* ggml's name of the type ("q4_K", "f16", ...); "unknown" for others. */
const char *bibim_type_name(bibim_type type);

/* Parses a type name, case-insensitively ("Q4_K", "q4_k", "bf16").
 * Returns BIBIM_ERR_NOT_FOUND for unknown names. */
bibim_status bibim_type_from_name(const char *name, bibim_type *type);

/* Elements per block (1 for F32/F16/BF16, 32 for Q4_0.., 256 for K-quants)
 * and bytes per block; 0 for unknown types. */
int64_t bibim_type_block_elems(bibim_type type);
int64_t bibim_type_block_bytes(bibim_type type);

/* Bytes of `n_elems` elements of `type`, or -1 if n_elems is negative, not a
 * multiple of the block size, the type is unknown, or the result overflows. */
int64_t bibim_type_row_bytes(bibim_type type, int64_t n_elems);

/* Quantizes `n` floats (a multiple of the type's block size) into `dst`
 * (bibim_type_row_bytes(type, n) bytes), with ggml's reference algorithm or a
 * better one; the bytes are in ggml's block layout. Thread-safe. */
bibim_status bibim_quantize_row(bibim_type type, const float *src, void *dst, int64_t n);

/* Dequantizes `n` elements of `type` at `src` into floats, bit-identical to
 * ggml's to_float. `src` need not be aligned. Thread-safe. */
bibim_status bibim_dequantize_row(bibim_type type, const void *src, float *dst, int64_t n);

/* ------------------------------------------------------------------------ */
/* GGUF files: reading                                                      */
/* ------------------------------------------------------------------------ */

typedef enum bibim_gguf_type {
    BIBIM_GGUF_UINT8 = 0,
    BIBIM_GGUF_INT8 = 1,
    BIBIM_GGUF_UINT16 = 2,
    BIBIM_GGUF_INT16 = 3,
    BIBIM_GGUF_UINT32 = 4,
    BIBIM_GGUF_INT32 = 5,
    BIBIM_GGUF_FLOAT32 = 6,
    BIBIM_GGUF_BOOL = 7,
    BIBIM_GGUF_STRING = 8,
    BIBIM_GGUF_ARRAY = 9,
    BIBIM_GGUF_UINT64 = 10,
    BIBIM_GGUF_INT64 = 11,
    BIBIM_GGUF_FLOAT64 = 12
} bibim_gguf_type;

/* Name of a metadata value type ("uint32", "string", ...); "unknown" else. */
const char *bibim_gguf_type_name(bibim_gguf_type type);

typedef struct bibim_gguf bibim_gguf;

/* Opens, memory-maps and fully validates a GGUF file (version 2 or 3).
 * Every count, length, offset and shape is checked against the file size;
 * nothing in the file is trusted. On success *out is the handle. On failure
 * *out is still a handle (NULL only when memory ran out) whose
 * bibim_gguf_errmsg() says what was wrong; free it with bibim_gguf_free().
 * The handle is read-only after open: every bibim_gguf_* getter may be
 * called from any number of threads at once. */
bibim_status bibim_gguf_open(const char *path, bibim_gguf **out);

/* The same, over `size` bytes the caller owns and keeps alive and unchanged
 * until the handle is freed (nothing is copied). `name` is used in messages. */
bibim_status bibim_gguf_open_memory(const void *data, uint64_t size, const char *name, bibim_gguf **out);

void bibim_gguf_free(bibim_gguf *gguf);

/* The message of the last failure on this handle ("" if none). Valid until
 * the next call on the handle. The one getter that is not read-only in the
 * thread-safety sense: failing getters write the message. */
const char *bibim_gguf_errmsg(const bibim_gguf *gguf);

uint32_t bibim_gguf_version(const bibim_gguf *gguf);
uint32_t bibim_gguf_alignment(const bibim_gguf *gguf);   /* general.alignment, default 32 */
uint64_t bibim_gguf_file_size(const bibim_gguf *gguf);
uint64_t bibim_gguf_data_offset(const bibim_gguf *gguf); /* file offset of the tensor data section */

/* Metadata keys, in file order. */
int64_t bibim_gguf_n_kv(const bibim_gguf *gguf);
/* Index of `key`, or -1. */
int64_t bibim_gguf_find_key(const bibim_gguf *gguf, const char *key);
bibim_str bibim_gguf_key(const bibim_gguf *gguf, int64_t kv_index);
bibim_gguf_type bibim_gguf_kv_type(const bibim_gguf *gguf, int64_t kv_index);
/* For an array value: its element type and length. For any other value: the
 * value's own type, and length 1. */
bibim_gguf_type bibim_gguf_kv_elem_type(const bibim_gguf *gguf, int64_t kv_index);
uint64_t bibim_gguf_kv_len(const bibim_gguf *gguf, int64_t kv_index);

/* Typed getters by key. Each fails with BIBIM_ERR_NOT_FOUND if the key is
 * absent and BIBIM_ERR_TYPE if its value has another type; the handle's
 * message then names the key, the stored type and the expected type. */
bibim_status bibim_gguf_get_u8(bibim_gguf *gguf, const char *key, uint8_t *out);
bibim_status bibim_gguf_get_i8(bibim_gguf *gguf, const char *key, int8_t *out);
bibim_status bibim_gguf_get_u16(bibim_gguf *gguf, const char *key, uint16_t *out);
bibim_status bibim_gguf_get_i16(bibim_gguf *gguf, const char *key, int16_t *out);
bibim_status bibim_gguf_get_u32(bibim_gguf *gguf, const char *key, uint32_t *out);
bibim_status bibim_gguf_get_i32(bibim_gguf *gguf, const char *key, int32_t *out);
bibim_status bibim_gguf_get_u64(bibim_gguf *gguf, const char *key, uint64_t *out);
bibim_status bibim_gguf_get_i64(bibim_gguf *gguf, const char *key, int64_t *out);
bibim_status bibim_gguf_get_f32(bibim_gguf *gguf, const char *key, float *out);
bibim_status bibim_gguf_get_f64(bibim_gguf *gguf, const char *key, double *out);
bibim_status bibim_gguf_get_bool(bibim_gguf *gguf, const char *key, int *out);
bibim_status bibim_gguf_get_str(bibim_gguf *gguf, const char *key, bibim_str *out);

/* Lenient scalar getters for values whose width varies between converters:
 * any integer type whose value fits int64 (get_int), any integer or float
 * type (get_float). BIBIM_ERR_TYPE for strings, arrays and bools. */
bibim_status bibim_gguf_get_int(bibim_gguf *gguf, const char *key, int64_t *out);
bibim_status bibim_gguf_get_float(bibim_gguf *gguf, const char *key, double *out);

/* An array of fixed-size elements of type `elem_type` (not STRING, not
 * ARRAY): *data points at *n little-endian elements inside the mapping.
 * The pointer may be unaligned: read elements with memcpy or use
 * bibim_gguf_arr_* below. BIBIM_ERR_TYPE if the value is not an array of
 * exactly that element type. */
bibim_status bibim_gguf_get_arr(bibim_gguf *gguf, const char *key, bibim_gguf_type elem_type,
                                const void **data, uint64_t *n);
/* An array of strings: its length. Then bibim_gguf_arr_str() reads element i
 * in O(1). */
bibim_status bibim_gguf_get_arr_str_len(bibim_gguf *gguf, const char *key, uint64_t *n);

/* Element i of a metadata array found by index (bounds and type checked;
 * BIBIM_ERR_TYPE / BIBIM_ERR_INVALID_ARG on mismatch). Read-only. */
bibim_status bibim_gguf_arr_str(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, bibim_str *out);
bibim_status bibim_gguf_arr_f32(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, float *out);
bibim_status bibim_gguf_arr_i32(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, int32_t *out);
bibim_status bibim_gguf_arr_u32(const bibim_gguf *gguf, int64_t kv_index, uint64_t i, uint32_t *out);

/* Tensors, in file order. */
typedef struct bibim_tensor_info {
    bibim_str name;
    bibim_type type;
    uint32_t n_dims;    /* 1..4 */
    int64_t ne[4];      /* ne[i] = 1 for i >= n_dims */
    uint64_t n_elems;
    uint64_t offset;    /* from the start of the data section */
    uint64_t n_bytes;
    const void *data;   /* inside the mapping, aligned to the file's alignment */
} bibim_tensor_info;

int64_t bibim_gguf_n_tensors(const bibim_gguf *gguf);
/* Index of the tensor named `name`, or -1. */
int64_t bibim_gguf_find_tensor(const bibim_gguf *gguf, const char *name);
/* Fills *info for tensor `index`. BIBIM_ERR_INVALID_ARG if out of range. */
bibim_status bibim_gguf_tensor(const bibim_gguf *gguf, int64_t index, bibim_tensor_info *info);

/* ------------------------------------------------------------------------ */
/* GGUF files: writing                                                      */
/* ------------------------------------------------------------------------ */

/* A writer collects metadata and tensor declarations, then streams the file:
 *   bibim_gguf_writer_create
 *   bibim_gguf_writer_set_* / copy_kv     (any order; setting a key again replaces it)
 *   bibim_gguf_writer_add_tensor          (declares name, type, shape; file order)
 *   bibim_gguf_writer_begin(path)         (writes header and tensor infos to path.tmp)
 *   bibim_gguf_writer_write_tensor        (each tensor's data, in declaration order)
 *   bibim_gguf_writer_finish              (checks every tensor was written, then renames
 *                                          path.tmp to path, so a failed run never leaves
 *                                          a half-written file under the final name)
 *   bibim_gguf_writer_free                (removes path.tmp if finish was not reached)
 * Files are GGUF version 3, little-endian, with tensor data aligned to
 * general.alignment (32 unless set). A writer is used by one thread. */
typedef struct bibim_gguf_writer bibim_gguf_writer;

bibim_status bibim_gguf_writer_create(bibim_gguf_writer **out);
void bibim_gguf_writer_free(bibim_gguf_writer *w);
const char *bibim_gguf_writer_errmsg(const bibim_gguf_writer *w);

bibim_status bibim_gguf_writer_set_u8(bibim_gguf_writer *w, const char *key, uint8_t v);
bibim_status bibim_gguf_writer_set_i8(bibim_gguf_writer *w, const char *key, int8_t v);
bibim_status bibim_gguf_writer_set_u16(bibim_gguf_writer *w, const char *key, uint16_t v);
bibim_status bibim_gguf_writer_set_i16(bibim_gguf_writer *w, const char *key, int16_t v);
bibim_status bibim_gguf_writer_set_u32(bibim_gguf_writer *w, const char *key, uint32_t v);
bibim_status bibim_gguf_writer_set_i32(bibim_gguf_writer *w, const char *key, int32_t v);
bibim_status bibim_gguf_writer_set_u64(bibim_gguf_writer *w, const char *key, uint64_t v);
bibim_status bibim_gguf_writer_set_i64(bibim_gguf_writer *w, const char *key, int64_t v);
bibim_status bibim_gguf_writer_set_f32(bibim_gguf_writer *w, const char *key, float v);
bibim_status bibim_gguf_writer_set_f64(bibim_gguf_writer *w, const char *key, double v);
bibim_status bibim_gguf_writer_set_bool(bibim_gguf_writer *w, const char *key, int v);
/* A NUL-terminated string value. */
bibim_status bibim_gguf_writer_set_str(bibim_gguf_writer *w, const char *key, const char *v);
/* An array of `n` fixed-size elements of `elem_type` (host little-endian
 * values); the data is copied. */
bibim_status bibim_gguf_writer_set_arr(bibim_gguf_writer *w, const char *key, bibim_gguf_type elem_type,
                                       const void *data, uint64_t n);
/* An array of `n` strings (each may hold any bytes, NUL included); copied. */
bibim_status bibim_gguf_writer_set_arr_str(bibim_gguf_writer *w, const char *key, const bibim_str *strs,
                                           uint64_t n);
/* Copies key `kv_index` of `src` (any type, arrays included) verbatim. */
bibim_status bibim_gguf_writer_copy_kv(bibim_gguf_writer *w, const bibim_gguf *src, int64_t kv_index);
/* Removes a key set earlier; BIBIM_ERR_NOT_FOUND if absent. */
bibim_status bibim_gguf_writer_remove(bibim_gguf_writer *w, const char *key);

/* Declares a tensor; `ne` has n_dims (1..4) entries, ne[0] a multiple of the
 * type's block size. Names must be unique and shorter than 64 bytes. */
bibim_status bibim_gguf_writer_add_tensor(bibim_gguf_writer *w, const char *name, bibim_type type,
                                          uint32_t n_dims, const int64_t *ne);

bibim_status bibim_gguf_writer_begin(bibim_gguf_writer *w, const char *path);
/* Writes the data of the next declared tensor; `n_bytes` must equal its
 * size. May be called in pieces: the data of one tensor may be given by
 * several calls whose sizes add up to the tensor's size. */
bibim_status bibim_gguf_writer_write_tensor(bibim_gguf_writer *w, const void *data, uint64_t n_bytes);
bibim_status bibim_gguf_writer_finish(bibim_gguf_writer *w);

/* ------------------------------------------------------------------------ */
/* Quantizing a model file                                                  */
/* ------------------------------------------------------------------------ */

/* File types ("mixes"), with llama.cpp's general.file_type numbers. A mix
 * gives a default type to the 2-D weights and picks more bits for some
 * (see src/quantize_model.c for the table). */
typedef enum bibim_ftype {
    BIBIM_FTYPE_F32 = 0,
    BIBIM_FTYPE_F16 = 1,
    BIBIM_FTYPE_Q4_0 = 2,
    BIBIM_FTYPE_Q4_1 = 3,
    BIBIM_FTYPE_Q8_0 = 7,
    BIBIM_FTYPE_Q5_0 = 8,
    BIBIM_FTYPE_Q5_1 = 9,
    BIBIM_FTYPE_Q2_K = 10,
    BIBIM_FTYPE_Q3_K_S = 11,
    BIBIM_FTYPE_Q3_K_M = 12,
    BIBIM_FTYPE_Q3_K_L = 13,
    BIBIM_FTYPE_Q4_K_S = 14,
    BIBIM_FTYPE_Q4_K_M = 15,
    BIBIM_FTYPE_Q5_K_S = 16,
    BIBIM_FTYPE_Q5_K_M = 17,
    BIBIM_FTYPE_Q6_K = 18,
    BIBIM_FTYPE_BF16 = 32
} bibim_ftype;

/* Name of a file type ("Q4_K_M"), or NULL if not one of the above. */
const char *bibim_ftype_name(bibim_ftype ftype);
/* Parses a file type name, case-insensitively. BIBIM_ERR_NOT_FOUND if unknown. */
bibim_status bibim_ftype_from_name(const char *name, bibim_ftype *ftype);

typedef struct bibim_quantize_params {
    bibim_ftype ftype;  /* default BIBIM_FTYPE_Q4_K_M */
    int n_threads;      /* 0 = number of online CPUs */
    int pure;           /* 1: every quantizable tensor gets the mix's default type */
    /* Called after each tensor, from the calling thread; returning non-zero
     * cancels (BIBIM_ERR_CANCELLED, no output file). May be NULL. */
    int (*progress)(void *user, int64_t tensor_index, int64_t n_tensors, const bibim_tensor_info *written,
                    uint64_t bytes_done, uint64_t bytes_total);
    void *progress_user;
} bibim_quantize_params;

bibim_quantize_params bibim_quantize_default_params(void);

/* Reads a GGUF model (F32, F16 or BF16 weights; already-quantized tensors are
 * dequantized first) and writes it with the mix `params->ftype`. Writes
 * general.file_type and general.quantization_version. Refuses to write over
 * its input (same file by inode, not only by name). On failure, `errmsg`
 * (if not NULL) receives up to errmsg_size bytes of explanation, and no
 * output file is left behind. */
bibim_status bibim_quantize_model(const char *in_path, const char *out_path, const bibim_quantize_params *params,
                                  char *errmsg, size_t errmsg_size);

/* The type the mix gives to tensor `name` of shape `ne` in a model with
 * `n_layers` blocks (exposed so tools and tests can show the recipe).
 * Returns the input type unchanged for tensors that are not quantized. */
bibim_type bibim_quantize_tensor_type(bibim_ftype ftype, const char *name, uint32_t n_dims, const int64_t *ne,
                                      bibim_type src_type, int n_layers, int has_output_weight);

#ifdef __cplusplus
}
#endif

#endif /* BIBIM_H */
