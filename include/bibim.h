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
    BIBIM_ERR_CONTEXT_FULL = 10, /* the tokens do not fit in the context window */
    BIBIM_ERR_TEMPLATE = 11      /* a chat template failed to parse or render */
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

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/* An allocator hook, given at model load (bibim_model_params.allocator);
 * there is no global one. It serves the model and everything made from it:
 * the model's GGUF reader, tokenizer, copy of the file (use_mmap = 0) and
 * repacked weights; tokenizing and detokenizing; contexts (KV caches,
 * scratch, their thread pool's bookkeeping); samplers, text streams and
 * bibim_generate. Everything else uses libc's malloc: the GGUF reader
 * opened on its own (bibim_gguf_open, _open_memory), the GGUF writer,
 * bibim_quantize_model, bibim_chat_render (release with bibim_free), and
 * libc itself (stdio, qsort, pthread_create). Mapping the model file (mmap)
 * allocates nothing.
 *
 * The library's promises to the hook:
 *   alloc(user, size)         size > 0.
 *   realloc(user, ptr, size)  ptr came from this hook and is not NULL; size > 0.
 *   free(user, ptr)           ptr came from this hook and is not NULL.
 * The hook's promises: blocks aligned as malloc's (the library over-
 * allocates for its 64-byte aligned rows); NULL when it cannot allocate,
 * realloc then leaving ptr as it was. Set all three functions, or none
 * (then libc's are used); `user` is passed to each call. The struct is
 * copied, but the functions and `user` must serve until the last handle
 * made from the model is freed (a sampler may outlive its model).
 *
 * When an allocation fails, the call fails with BIBIM_ERR_NOMEM (or the
 * status its comment names) having released whatever it allocated, and
 * every handle stays usable or freeable: a model or context whose creation
 * failed is freed as usual; a failed bibim_generate may have left tokens
 * in the context's cache (bibim_context_truncate them away).
 *
 * Threads: the hook is called only from threads calling the library, never
 * from worker threads. Handles made from one model share its hook, so
 * contexts used on different threads, or the read-only calls
 * (bibim_tokenize, bibim_detokenize) made from several threads at once,
 * call it concurrently: it must then be thread-safe. */
typedef struct bibim_allocator {
    void *(*alloc)(void *user, size_t size);
    void *(*realloc)(void *user, void *ptr, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} bibim_allocator;

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

/* A loaded model: hyperparameters, weights (usually still in the mapped
 * file) and the tokenizer. Read-only once loaded: any number of contexts on
 * any number of threads may share one model. */
typedef struct bibim_model bibim_model;

typedef struct bibim_model_params {
    int use_mmap;   /* 1 (default): weights are read from the mapped file; 0: copied into memory */
    int use_mlock;  /* 1: lock the weights in RAM (may need privileges); default 0 */
    int vocab_only; /* 1: load only the tokenizer (files without tensors work); default 0 */
    /* Where the model and everything made from it get their memory (see
     * "Memory" above); copied at load. NULL (default): libc's malloc. */
    const bibim_allocator *allocator;
} bibim_model_params;

bibim_model_params bibim_model_default_params(void);

/* Loads a GGUF model of a supported architecture ("llama"). Validates
 * every key and tensor it needs (presence, type, shape). On failure *out
 * is still a handle whose bibim_model_errmsg() says exactly what was wrong
 * (NULL only when memory ran out); free it with bibim_model_free().
 * BIBIM_ERR_INVALID_ARG for an allocator with only some functions set. */
bibim_status bibim_model_load(const char *path, const bibim_model_params *params, bibim_model **out);
void bibim_model_free(bibim_model *model);
const char *bibim_model_errmsg(const bibim_model *model);

typedef struct bibim_model_info {
    const char *arch;   /* "llama" */
    const char *name;   /* general.name, or "" */
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
    uint64_t n_params;  /* parameters in all tensors */
    uint64_t n_bytes;   /* bytes of all tensors */
    bibim_ftype ftype;  /* general.file_type, or the most common weight type */
} bibim_model_info;

/* Read-only. The strings live as long as the model. */
void bibim_model_get_info(const bibim_model *model, bibim_model_info *info);

/* ------------------------------------------------------------------------ */
/* Tokens                                                                   */
/* ------------------------------------------------------------------------ */

typedef int32_t bibim_token;

enum {
    BIBIM_TOKENIZE_ADD_BOS = 1, /* prepend BOS if the model's metadata asks for it */
    BIBIM_TOKENIZE_SPECIAL = 2  /* recognise control/user-defined token text such as <|eot_id|> */
};

/* Tokenizes `len` bytes of `text` (any bytes: bytes that are not valid UTF-8
 * are encoded as byte tokens, one per byte, so nothing is lost). Writes up
 * to `capacity` tokens and the full count to *n_tokens; returns
 * BIBIM_ERR_TOO_SMALL if capacity < *n_tokens, BIBIM_ERR_INVALID_ARG for a
 * text over 512 MiB. Read-only, thread-safe. */
bibim_status bibim_tokenize(const bibim_model *model, const char *text, size_t len, unsigned flags,
                            bibim_token *tokens, int64_t capacity, int64_t *n_tokens);

enum {
    BIBIM_PIECE_SPECIAL = 1 /* render control tokens as their text; otherwise they render as "" */
};

/* The bytes of one token (possibly an incomplete UTF-8 sequence), not
 * NUL-terminated. Writes up to `capacity` bytes and returns the full length,
 * or -1 if the token id is out of range. Read-only, thread-safe. */
int64_t bibim_token_piece(const bibim_model *model, bibim_token token, unsigned flags, char *buf, size_t capacity);

/* The text of a whole token sequence, as Hugging Face's decode gives it:
 * the pieces joined, without the space a SentencePiece tokenizer puts before
 * the text (its "dummy prefix"). flags: BIBIM_PIECE_SPECIAL renders control
 * tokens (BOS, <|eot_id|>, ...); otherwise they are left out. The bytes may
 * be incomplete UTF-8 where the tokens end mid-character. Writes up to
 * `capacity` bytes and returns the full length; -1 for a token id out of
 * range or bad arguments, -2 when out of memory. Read-only, thread-safe. */
int64_t bibim_detokenize(const bibim_model *model, const bibim_token *tokens, int64_t n_tokens, unsigned flags,
                         char *buf, size_t capacity);

/* Checks that `len` bytes at `text` are strict UTF-8 (RFC 3629): no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
 * no sequence cut short by the end. Returns `len` when all of it is valid,
 * else the byte offset of the first invalid sequence (so a message can say
 * where the input is wrong); text[0 .. return value) is always valid.
 * NUL bytes are valid (U+0000). A NULL text gives 0. Thread-safe. */
size_t bibim_utf8_valid(const char *text, size_t len);

/* Special tokens (-1 if the model has none). */
bibim_token bibim_token_bos(const bibim_model *model);
bibim_token bibim_token_eos(const bibim_model *model);
/* 1 if generating `token` ends the turn: eos, eot and every other end token the model declares. */
int bibim_token_is_end(const bibim_model *model, bibim_token token);

/* ------------------------------------------------------------------------ */
/* Contexts: a KV cache and the scratch to evaluate tokens                  */
/* ------------------------------------------------------------------------ */

typedef struct bibim_context bibim_context;

typedef struct bibim_context_params {
    uint32_t n_ctx;   /* context window in tokens, per sequence slot; 0 (default) = the model's, at most 4096 */
    int n_threads;    /* 0 (default) = the number of physical cores */
    uint32_t n_batch; /* most tokens one forward pass takes (prompt chunks, bibim_context_eval_batch);
                         0 (default) = 512; at most n_ctx * n_seq */
    uint32_t n_seq;   /* sequence slots, 1 (default; 0 means 1) to 1024, each with its own KV cache of
                         n_ctx positions: the KV memory is n_seq times one sequence's, 4 * n_ctx *
                         n_layer * n_head_kv * head_dim bytes a slot (128 MiB for Llama 3.2 1B at 4096) */
} bibim_context_params;

bibim_context_params bibim_context_default_params(void);

/* Creates a context on `model`, which must outlive it. Each context has its
 * own KV caches; use one context from one thread at a time. On failure *out is
 * a handle carrying the message, as with bibim_model_load. */
bibim_status bibim_context_create(const bibim_model *model, const bibim_context_params *params,
                                  bibim_context **out);
void bibim_context_free(bibim_context *ctx);
const char *bibim_context_errmsg(const bibim_context *ctx);

uint32_t bibim_context_n_ctx(const bibim_context *ctx);
uint32_t bibim_context_n_batch(const bibim_context *ctx); /* after defaults and the n_ctx * n_seq cap */
uint32_t bibim_context_n_seq(const bibim_context *ctx);
/* Tokens in the KV cache of slot 0 (the position the next token gets). */
uint32_t bibim_context_n_past(const bibim_context *ctx);
/* The instruction-set level of the kernels in use: "scalar", "avx2",
 * "avx512", "neon", "dotprod" or "i8mm": the best the CPU has, unless the
 * environment variable BIBIM_CPU names a lower one when the context is
 * created (context creation fails if it names one the CPU lacks). */
const char *bibim_context_cpu_level(const bibim_context *ctx);

/* Evaluates `n` tokens at positions n_past .. n_past+n-1 and appends them to
 * the KV cache. Afterwards bibim_context_logits() holds the logits after the
 * last token; if `all_logits` is not NULL it receives n * n_vocab floats, the
 * logits after each token (row i after token i). BIBIM_ERR_CONTEXT_FULL if
 * n_past + n > n_ctx (nothing is evaluated); BIBIM_ERR_INVALID_ARG for a
 * token id out of range (the message names it and its index). */
bibim_status bibim_context_eval(bibim_context *ctx, const bibim_token *tokens, int64_t n, float *all_logits);

/* n_vocab logits after slot 0's last evaluated token (NULL if unknown);
 * valid until the next eval. */
const float *bibim_context_logits(const bibim_context *ctx);

/* Forgets every position >= n_keep (n_keep <= n_past), so a conversation
 * can continue from a shared prefix without evaluating it again. */
bibim_status bibim_context_truncate(bibim_context *ctx, uint32_t n_keep);

/* Several sequences at once. A context holds n_seq independent sequences
 * in slots 0 .. n_seq-1, each with its own KV cache and n_past. The calls
 * above act on slot 0 (and so does bibim_generate); those below name the
 * slot. bibim_context_eval_batch evaluates tokens of several slots in one
 * forward pass: the matrix products run once over all of them (the weights
 * are read from memory once per pass, however many sequences share it),
 * while each token attends only to its own slot's cache. A server's step is
 * typically the next token of every running sequence plus a chunk of a
 * prompt being prefilled. The logits after a token are bit-identical
 * whether it is evaluated alone (bibim_context_eval) or in any batch, and
 * whatever the thread count. */

typedef struct bibim_batch {
    int64_t n_tokens;              /* 1 .. n_batch */
    const bibim_token *tokens;     /* [n_tokens] */
    /* [n_tokens] the slot of each token. The tokens of one slot are
     * consecutive (one run per slot) and take its next positions, n_past
     * onwards, in order. */
    const int32_t *seq;
    /* [n_tokens] non-zero where the logits after that token are wanted
     * (typically the last token of each run), or NULL for none. */
    const uint8_t *want_logits;
    /* n_vocab floats for each token with want_logits set, in batch order:
     * row i for the i-th such token. May be NULL only if none is set. */
    float *logits;
} bibim_batch;

/* Evaluates a batch and appends each slot's tokens to its cache. Checks
 * everything before evaluating anything; on failure nothing changes and the
 * message names the token index or slot: BIBIM_ERR_INVALID_ARG for a missing
 * array, n_tokens < 1 or > n_batch, a slot out of range, a slot whose tokens
 * are not consecutive, a token id out of range, or wanted logits without
 * rows for them; BIBIM_ERR_CONTEXT_FULL if a slot's n_past + its tokens >
 * n_ctx. bibim_context_logits() afterwards: the logits after slot 0's last
 * token if the batch had slot 0 tokens and wanted that one's logits, NULL
 * if it had slot 0 tokens but did not want them, unchanged otherwise. */
bibim_status bibim_context_eval_batch(bibim_context *ctx, const bibim_batch *batch);

/* Tokens in slot `seq`'s cache, or -1 if there is no such slot. */
int64_t bibim_context_seq_n_past(const bibim_context *ctx, int32_t seq);

/* Forgets the positions >= n_keep of slot `seq` (n_keep <= its n_past); 0
 * empties the slot. Other slots are untouched. */
bibim_status bibim_context_seq_truncate(bibim_context *ctx, int32_t seq, uint32_t n_keep);

/* Makes slot `dst` hold the first n positions of slot `src` (n <= src's
 * n_past), dropping whatever dst held; its n_past becomes n. A copy of the
 * cached keys and values, so a server can start a request from a prompt
 * prefix another slot has already evaluated. src == dst truncates. */
bibim_status bibim_context_seq_copy(bibim_context *ctx, int32_t src, int32_t dst, uint32_t n);

/* ------------------------------------------------------------------------ */
/* Sampling                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct bibim_sampler bibim_sampler;

typedef struct bibim_logit_bias {
    bibim_token token;
    float bias; /* added to the logit; -INFINITY bans the token */
} bibim_logit_bias;

#define BIBIM_SEED_RANDOM UINT64_MAX

/* The chain, in order: logit bias, penalties, then greedy if temperature
 * <= 0, else top-k, top-p, min-p, temperature, and a seeded random draw.
 *
 * JSON mode (json_object = 1): the sampled text is one JSON object (RFC
 * 8259, strict UTF-8) and nothing else. After the penalties, every token
 * whose bytes cannot continue the text sampled so far gets probability 0,
 * and the chain runs on the others (greedy: the best valid token; top-k:
 * the k best valid ones, and so on). Tokens are checked best first and only
 * as many as the chain needs: usually a handful, all of them when top-k is
 * off. Allowed: whitespace before the '{', between tokens and after the
 * '}', at most BIBIM_JSON_MAX_WHITESPACE bytes in a row (so a model cannot
 * loop on spaces; enough for JSON pretty-printed a few levels deep); nesting
 * at most BIBIM_JSON_MAX_DEPTH deep; surrogates in \u escapes only as pairs;
 * no \u0000 in keys. Control tokens never come; end-of-generation tokens
 * only once the object is closed, and then only they (or whitespace) can,
 * so generation stops there. The sampler follows the text through the
 * tokens it returns: bibim_sampler_sample advances its JSON state by the
 * token it picks (feed every sampled token to the model, or reset). */
#define BIBIM_JSON_MAX_WHITESPACE 16
#define BIBIM_JSON_MAX_DEPTH 128
typedef struct bibim_sampler_params {
    float temperature;       /* default 0.8; <= 0 means greedy */
    int32_t top_k;           /* default 40; 0 = off */
    float top_p;             /* default 0.95; 1 = off */
    float min_p;             /* default 0.05; 0 = off */
    float repeat_penalty;    /* default 1.0 = off; > 1 makes repeated tokens less likely */
    float presence_penalty;  /* default 0 = off */
    float frequency_penalty; /* default 0 = off */
    int32_t penalty_last_n;  /* window of recent tokens the penalties look at; default 64 */
    uint64_t seed;           /* default BIBIM_SEED_RANDOM; a fixed seed gives the same text */
    const bibim_logit_bias *logit_bias; /* copied at creation */
    size_t n_logit_bias;
    int json_object;         /* default 0; 1 = JSON mode (above) */
} bibim_sampler_params;

bibim_sampler_params bibim_sampler_default_params(void);

bibim_status bibim_sampler_create(const bibim_model *model, const bibim_sampler_params *params,
                                  bibim_sampler **out);
void bibim_sampler_free(bibim_sampler *sampler);
/* Picks a token from n_vocab logits (not modified). Does not call accept.
 * In JSON mode, -1 if no token can continue the JSON (see below). */
bibim_token bibim_sampler_sample(bibim_sampler *sampler, const float *logits);
/* The same with a status: in JSON mode, BIBIM_ERR_NOT_FOUND (and *out = -1)
 * when no token with a finite logit can continue the JSON, rather than a
 * token that would make it invalid (a vocabulary without the bytes needed,
 * a logit_bias banning them, or the end tokens once the object is closed).
 * bibim_generate then fails with BIBIM_ERR_INVALID_ARG. */
bibim_status bibim_sampler_sample_checked(bibim_sampler *sampler, const float *logits, bibim_token *out);
/* In JSON mode, 1 once the sampled text is a complete object; else 0. */
int bibim_sampler_json_complete(const bibim_sampler *sampler);
/* Records a token in the penalty window (prompt tokens and generated ones). */
void bibim_sampler_accept(bibim_sampler *sampler, bibim_token token);
/* Empties the penalty window, reseeds, and in JSON mode starts a new object. */
void bibim_sampler_reset(bibim_sampler *sampler);

/* ------------------------------------------------------------------------ */
/* Generation                                                               */
/* ------------------------------------------------------------------------ */

typedef enum bibim_stop_reason {
    BIBIM_STOP_END_TOKEN = 0,  /* the model produced an end-of-generation token */
    BIBIM_STOP_LENGTH = 1,     /* n_predict tokens were generated */
    BIBIM_STOP_STRING = 2,     /* a stop string appeared (it is not emitted) */
    BIBIM_STOP_CALLBACK = 3,   /* the callback returned non-zero */
    BIBIM_STOP_CONTEXT_FULL = 4 /* the context window is full */
} bibim_stop_reason;

/* Receives the text of each generated token as complete UTF-8 (bytes of an
 * unfinished character are held back until it completes; a sequence that
 * can never complete is sent as U+FFFD). `text` may be empty (a token whose
 * bytes are held back, or a control token). Text still held back when
 * generation ends comes in one last call with token -1. Return non-zero to
 * stop. */
typedef int (*bibim_token_callback)(void *user, bibim_token token, const char *text, size_t len);

typedef struct bibim_generate_params {
    int32_t n_predict;          /* tokens to generate at most; -1 (default) = until an end token or a full context */
    const char *const *stop;    /* stop strings (NUL-terminated), may be NULL */
    size_t n_stop;
    unsigned piece_flags;       /* BIBIM_PIECE_SPECIAL to emit control tokens' text */
    bibim_token_callback on_token;
    void *user;
} bibim_generate_params;

bibim_generate_params bibim_generate_default_params(void);

typedef struct bibim_generate_result {
    bibim_stop_reason stop_reason;
    int64_t n_prompt;      /* prompt tokens evaluated (not already in the cache) */
    int64_t n_generated;
    double prompt_seconds; /* time spent evaluating the prompt */
    double gen_seconds;    /* time spent generating */
} bibim_generate_result;

/* Evaluates the prompt after what the context already holds, then samples
 * and evaluates one token at a time until a stop condition. The prompt is
 * evaluated in full first: BIBIM_ERR_CONTEXT_FULL if it does not fit. */
bibim_status bibim_generate(bibim_context *ctx, bibim_sampler *sampler, const bibim_token *prompt, int64_t n_prompt,
                            const bibim_generate_params *params, bibim_generate_result *result);

/* ------------------------------------------------------------------------ */
/* Text streams: tokens to displayable text, for your own generation loop   */
/* ------------------------------------------------------------------------ */

/* What bibim_generate does with each token's text, for callers that sample
 * themselves (a server batching many sequences): release only complete
 * UTF-8 (a sequence that can never complete becomes U+FFFD), hold back text
 * that may be the start of a stop string, and cut the text at the first
 * stop string (which is never released). One stream per sequence. */
typedef struct bibim_text_stream bibim_text_stream;

/* The stop strings are copied. piece_flags as for bibim_token_piece. */
bibim_status bibim_text_stream_create(const bibim_model *model, const char *const *stop, size_t n_stop,
                                      unsigned piece_flags, bibim_text_stream **out);
void bibim_text_stream_free(bibim_text_stream *ts);

/* Adds one generated token. *text and *len receive the bytes released now
 * (possibly none), valid until the next call on this stream. *stopped (if
 * not NULL) becomes 1 once a stop string has appeared: generation should
 * end, and later calls release nothing. BIBIM_ERR_INVALID_ARG for a token
 * out of range. */
bibim_status bibim_text_stream_push(bibim_text_stream *ts, bibim_token token, const char **text, size_t *len,
                                    int *stopped);

/* At the end of generation: releases what was held back (the start of a
 * stop string that never completed; unfinished UTF-8 as U+FFFD). */
bibim_status bibim_text_stream_finish(bibim_text_stream *ts, const char **text, size_t *len);

/* ------------------------------------------------------------------------ */
/* Chat templates                                                           */
/* ------------------------------------------------------------------------ */

/* A chat model only behaves when its prompt is laid out exactly as in
 * training; the layout is the Jinja template in `tokenizer.chat_template`.
 * bibim renders that template itself, as Hugging Face's transformers and
 * @huggingface/jinja do: the variables are `messages`, `tools` (when given),
 * `add_generation_prompt`, `bos_token`, `eos_token`, plus any keys of
 * `extra_json`. Messages and tools are JSON text in the OpenAI shape, e.g.
 * [{"role":"user","content":"Hi"}]; tool_calls, content given as a list of
 * parts and any other fields pass through to the template as data. */

/* The template used when a model has none: ChatML, as llama.cpp's default,
 *   <|im_start|>ROLE\nCONTENT<|im_end|>\n  per message, then
 *   <|im_start|>assistant\n  when add_generation_prompt is set.
 * Generation with it should stop at "<|im_end|>" (BIBIM_CHAT_FALLBACK_STOP). */
#define BIBIM_CHAT_FALLBACK_STOP "<|im_end|>"
const char *bibim_chat_fallback_template(void);

/* The model's template (tokenizer.chat_template), or NULL if it has none.
 * Owned by the model. */
const char *bibim_model_chat_template(const bibim_model *model);

typedef struct bibim_chat_params {
    const char *template_text; /* NULL (default): the model's template, else the fallback */
    int add_generation_prompt; /* default 1: end with the assistant's turn header */
    const char *tools_json;    /* a JSON array of tool definitions, or NULL (default): `tools` is undefined */
    const char *extra_json;    /* a JSON object of further variables, or NULL (default) */
    const char *bos_token;     /* NULL (default): the model's BOS text ("" without a model) */
    const char *eos_token;     /* NULL (default): the model's EOS text ("" without a model) */
} bibim_chat_params;

bibim_chat_params bibim_chat_default_params(void);

/* Renders `messages_json` (a JSON array of message objects) with the
 * template. `model` may be NULL when params->template_text is set. On
 * success *out is a NUL-terminated string of *out_len bytes that the caller
 * releases with bibim_free. On failure *out is NULL and errmsg (if not NULL)
 * says what was wrong: the JSON's line and column, or the template's line,
 * column and reason (a template calling raise_exception() reports its
 * message). BIBIM_ERR_INVALID_ARG for bad JSON or messages of the wrong
 * shape, BIBIM_ERR_TEMPLATE for a template that does not render.
 * Thread-safe; no state is kept between calls. */
bibim_status bibim_chat_render(const bibim_model *model, const char *messages_json, const bibim_chat_params *params,
                               char **out, size_t *out_len, char *errmsg, size_t errmsg_size);

/* Tool calls. A chat model given `tools` answers a turn either with text or
 * with calls, written in its template's format; these calls find them in
 * the generated text (the text of the tokens, control tokens left out as
 * bibim_token_piece leaves them out, or included: the markers are optional). */
typedef enum bibim_tool_format {
    BIBIM_TOOLS_GENERIC = 0, /* unknown: the formats below, markers first (<tool_call>, [TOOL_CALLS],
                                <|python_tag|>), then a bare JSON list (Mistral's) or object (Llama's) */
    BIBIM_TOOLS_LLAMA3 = 1,  /* Llama 3.1/3.2: [<|python_tag|>]{"name": N, "parameters": {...}}, the whole
                                output; several separated by ';' */
    BIBIM_TOOLS_HERMES = 2,  /* Hermes 2/3, Qwen 2.5/3: text, then one or more
                                <tool_call>{"name": N, "arguments": {...}}</tool_call> */
    BIBIM_TOOLS_MISTRAL = 3  /* Mistral v0.3: [TOOL_CALLS][{"name": N, "arguments": {...}, "id": I}, ...] */
} bibim_tool_format;

/* The format a chat template writes assistant tool calls in, from its
 * markers: <tool_call> (Hermes), [TOOL_CALLS] (Mistral), <|python_tag|> or
 * a Llama 3 header with "parameters" (Llama 3); else GENERIC (also for NULL). */
bibim_tool_format bibim_chat_tool_format(const char *template_text);

/* Parses the tool calls in `len` bytes of generated text. In every format a
 * call is a JSON object with a string "name" and its arguments as an object
 * under "arguments" or "parameters" (or a string holding a JSON object;
 * absent means {}). If `tools_json` (the request's tools: a JSON array of
 * {"type":"function","function":{"name":...}}) is not NULL, every name must
 * be one of them. On success *calls_json is a NUL-terminated JSON array the
 * caller releases with bibim_free, [{"name": N, "arguments": "<the
 * arguments as JSON text>"}, ...] with "id" added where the model wrote one
 * (Mistral), and *content_len is the length of the text before the calls
 * (the answer's content; 0 in the formats where the calls are the whole
 * output). BIBIM_ERR_NOT_FOUND when the text is not tool calls (no call,
 * invalid JSON, an unknown name, text after the calls): the whole text is
 * content (*content_len = len) and errmsg says why and at which byte.
 * BIBIM_ERR_INVALID_ARG for bad arguments or tools_json. Thread-safe. */
bibim_status bibim_chat_parse_tool_calls(const char *text, size_t len, bibim_tool_format format,
                                         const char *tools_json, char **calls_json, size_t *content_len,
                                         char *errmsg, size_t errmsg_size);

/* For streaming: the offset in the text generated so far where a tool call
 * starts or may start as more text comes; `len` when none can. Text before
 * it is content whatever follows (bibim_chat_parse_tool_calls' content_len
 * is never smaller); hold the rest back. In the formats where calls are the
 * whole output that is 0 as long as the text (after whitespace) starts as a
 * call could ('{', '[', a marker or its beginning); in Hermes' it is the
 * first <tool_call>, or a beginning of one at the end. */
size_t bibim_chat_tool_call_start(const char *text, size_t len, bibim_tool_format format);

/* Releases memory the library handed to the caller (bibim_chat_render's text). */
void bibim_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* BIBIM_H */
