/* quantize_model.c — rewriting a GGUF model with another weight type or mix.
 *
 * The mixes follow llama.cpp's llama-quantize (no importance matrix), so a file
 * we make has the tensor types people expect from a file of that name.
 *
 * Which tensors are quantized: 2-D (or more) tensors whose name ends in
 * "weight", except norms ("*_norm.weight") and rope_freqs.weight. 1-D tensors
 * keep their type. Every mix below gives its default type to the others,
 * except:
 *
 *   tensor              | Q2_K      | Q3_K_S | Q3_K_M              | Q3_K_L | Q4_K_S      | Q4_K_M     | Q5_K_S | Q5_K_M     | Q4_0..Q5_1, Q6_K
 *   --------------------+-----------+--------+---------------------+--------+-------------+------------+--------+------------+-----------------
 *   output.weight (1)   | Q6_K      | Q6_K   | Q6_K                | Q6_K   | Q6_K        | Q6_K       | Q6_K   | Q6_K       | Q6_K
 *   attn_v.weight       | Q3_K (2)  |        | Q5_K if i<2 else Q4_K | Q5_K | Q5_K if i<4 | Q6_K if M  |        | Q6_K if M  |
 *   ffn_down.weight     | Q3_K      |        | Q5_K if i<n/16 else Q4_K | Q5_K | Q5_K if i<n/8 | Q6_K if M |      | Q6_K if M  |
 *   attn_output.weight  | Q3_K      |        | Q4_K                | Q5_K   |             |            |        |            |
 *
 *   (1) or token_embd.weight when the model has no output.weight (tied
 *       embeddings): the output projection is the most sensitive matrix.
 *       Q8_0 keeps Q8_0; F16/BF16/F32 apply to all 2-D weights alike.
 *   (2) Q4_K when 4 or more query heads share each KV head (GQA >= 4).
 *   M   = "use more bits" layers: the first and last eighth of the layers and
 *         every third layer in between: i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2.
 *   In models of 80 layers (the 70B shape) attn_v is raised from Q3_K/Q4_K to
 *   Q5_K: 8 query heads share each KV head, so attn_v is small and cheap to keep.
 *
 * A row length that is not a multiple of the type's block size falls back to a
 * 32-element type: Q2_K, Q3_K -> Q4_0 (llama.cpp uses IQ4_NL, which bibim does
 * not implement), Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; and a row length
 * that is not a multiple of 32 keeps F16.
 */
#include "bibim.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ftype_desc {
    bibim_ftype ftype;
    const char *name;
    bibim_type default_type;
} ftype_desc;

static const ftype_desc ftype_table[] = {
    {BIBIM_FTYPE_F32, "F32", BIBIM_TYPE_F32},       {BIBIM_FTYPE_F16, "F16", BIBIM_TYPE_F16},
    {BIBIM_FTYPE_BF16, "BF16", BIBIM_TYPE_BF16},    {BIBIM_FTYPE_Q8_0, "Q8_0", BIBIM_TYPE_Q8_0},
    {BIBIM_FTYPE_Q4_0, "Q4_0", BIBIM_TYPE_Q4_0},    {BIBIM_FTYPE_Q4_1, "Q4_1", BIBIM_TYPE_Q4_1},
    {BIBIM_FTYPE_Q5_0, "Q5_0", BIBIM_TYPE_Q5_0},    {BIBIM_FTYPE_Q5_1, "Q5_1", BIBIM_TYPE_Q5_1},
    {BIBIM_FTYPE_Q2_K, "Q2_K", BIBIM_TYPE_Q2_K},    {BIBIM_FTYPE_Q3_K_S, "Q3_K_S", BIBIM_TYPE_Q3_K},
    {BIBIM_FTYPE_Q3_K_M, "Q3_K_M", BIBIM_TYPE_Q3_K}, {BIBIM_FTYPE_Q3_K_L, "Q3_K_L", BIBIM_TYPE_Q3_K},
    {BIBIM_FTYPE_Q4_K_S, "Q4_K_S", BIBIM_TYPE_Q4_K}, {BIBIM_FTYPE_Q4_K_M, "Q4_K_M", BIBIM_TYPE_Q4_K},
    {BIBIM_FTYPE_Q5_K_S, "Q5_K_S", BIBIM_TYPE_Q5_K}, {BIBIM_FTYPE_Q5_K_M, "Q5_K_M", BIBIM_TYPE_Q5_K},
    {BIBIM_FTYPE_Q6_K, "Q6_K", BIBIM_TYPE_Q6_K},
};

#define N_FTYPES (sizeof ftype_table / sizeof ftype_table[0])

static const ftype_desc *ftype_lookup(bibim_ftype ftype) {
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftype_table[i].ftype == ftype) return &ftype_table[i];
    return NULL;
}

const char *bibim_ftype_name(bibim_ftype ftype) {
    const ftype_desc *d = ftype_lookup(ftype);
    return d ? d->name : NULL;
}

bibim_status bibim_ftype_from_name(const char *name, bibim_ftype *ftype) {
    if (!name || !ftype) return BIBIM_ERR_INVALID_ARG;
    for (size_t i = 0; i < N_FTYPES; i++) {
        if (strcasecmp(ftype_table[i].name, name) == 0) {
            *ftype = ftype_table[i].ftype;
            return BIBIM_OK;
        }
    }
    return BIBIM_ERR_NOT_FOUND;
}

/* ---- the recipe ---- */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Layer index of "blk.N.xxx", or -1. */
static int layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    char *end;
    long v = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || v < 0 || v > 1000000) return -1;
    return (int)v;
}

static int use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int is_quantizable(const char *name, uint32_t n_dims) {
    return n_dims >= 2 && ends_with(name, "weight") && !ends_with(name, "_norm.weight") &&
           strcmp(name, "rope_freqs.weight") != 0;
}

static bibim_type attn_v_type(bibim_ftype ftype, bibim_type t, int i, int n, int n_gqa) {
    switch (ftype) {
    case BIBIM_FTYPE_Q2_K: t = n_gqa >= 4 ? BIBIM_TYPE_Q4_K : BIBIM_TYPE_Q3_K; break;
    case BIBIM_FTYPE_Q3_K_M: t = i < 2 ? BIBIM_TYPE_Q5_K : BIBIM_TYPE_Q4_K; break;
    case BIBIM_FTYPE_Q3_K_L: t = BIBIM_TYPE_Q5_K; break;
    case BIBIM_FTYPE_Q4_K_M:
    case BIBIM_FTYPE_Q5_K_M:
        if (use_more_bits(i, n)) t = BIBIM_TYPE_Q6_K;
        break;
    case BIBIM_FTYPE_Q4_K_S:
        if (i < 4) t = BIBIM_TYPE_Q5_K;
        break;
    default: break;
    }
    if (n == 80 && (t == BIBIM_TYPE_Q3_K || t == BIBIM_TYPE_Q4_K)) t = BIBIM_TYPE_Q5_K;
    return t;
}

static bibim_type ffn_down_type(bibim_ftype ftype, bibim_type t, int i, int n) {
    switch (ftype) {
    case BIBIM_FTYPE_Q2_K: return BIBIM_TYPE_Q3_K;
    case BIBIM_FTYPE_Q3_K_M: return i < n / 16 ? BIBIM_TYPE_Q5_K : BIBIM_TYPE_Q4_K;
    case BIBIM_FTYPE_Q3_K_L: return BIBIM_TYPE_Q5_K;
    case BIBIM_FTYPE_Q4_K_M:
    case BIBIM_FTYPE_Q5_K_M: return use_more_bits(i, n) ? BIBIM_TYPE_Q6_K : t;
    case BIBIM_FTYPE_Q4_K_S: return i < n / 8 ? BIBIM_TYPE_Q5_K : t;
    default: return t;
    }
}

static bibim_type attn_output_type(bibim_ftype ftype, bibim_type t) {
    switch (ftype) {
    case BIBIM_FTYPE_Q2_K: return BIBIM_TYPE_Q3_K;
    case BIBIM_FTYPE_Q3_K_M: return BIBIM_TYPE_Q4_K;
    case BIBIM_FTYPE_Q3_K_L: return BIBIM_TYPE_Q5_K;
    default: return t;
    }
}

/* The type to use when rows do not split into whole blocks of `t`. */
static bibim_type fallback_type(bibim_type t, int64_t row_len) {
    if (row_len % bibim_type_block_elems(t) == 0) return t;
    switch (t) {
    case BIBIM_TYPE_Q2_K:
    case BIBIM_TYPE_Q3_K: t = BIBIM_TYPE_Q4_0; break;
    case BIBIM_TYPE_Q4_K: t = BIBIM_TYPE_Q5_0; break;
    case BIBIM_TYPE_Q5_K: t = BIBIM_TYPE_Q5_1; break;
    case BIBIM_TYPE_Q6_K: t = BIBIM_TYPE_Q8_0; break;
    default: break;
    }
    return row_len % bibim_type_block_elems(t) == 0 ? t : BIBIM_TYPE_F16;
}

static int is_quantized_ftype(bibim_ftype f) {
    return f != BIBIM_FTYPE_F32 && f != BIBIM_FTYPE_F16 && f != BIBIM_FTYPE_BF16;
}

static bibim_type mix_type(bibim_ftype ftype, const char *name, const int64_t *ne, int n_layers,
                           int has_output_weight) {
    bibim_type t = ftype_lookup(ftype)->default_type;
    if (!is_quantized_ftype(ftype)) return t;
    int i = layer_of(name);
    int is_output = strcmp(name, "output.weight") == 0 ||
                    (!has_output_weight && strcmp(name, "token_embd.weight") == 0);
    if (is_output) {
        if (t != BIBIM_TYPE_Q8_0) t = ne[0] % 256 == 0 ? BIBIM_TYPE_Q6_K : BIBIM_TYPE_Q8_0;
    } else if (i >= 0 && ends_with(name, ".attn_v.weight")) {
        /* In Llama models n_head * head_dim = n_embd, so attn_v's shape
         * [n_embd, n_head_kv * head_dim] gives the GQA ratio. */
        int n_gqa = ne[1] > 0 ? (int)(ne[0] / ne[1]) : 1;
        t = attn_v_type(ftype, t, i, n_layers, n_gqa);
    } else if (i >= 0 && ends_with(name, ".ffn_down.weight")) {
        t = ffn_down_type(ftype, t, i, n_layers);
    } else if (i >= 0 && ends_with(name, ".attn_output.weight")) {
        t = attn_output_type(ftype, t);
    }
    return t;
}

bibim_type bibim_quantize_tensor_type(bibim_ftype ftype, const char *name, uint32_t n_dims, const int64_t *ne,
                                      bibim_type src_type, int n_layers, int has_output_weight) {
    if (!name || !ne || !ftype_lookup(ftype) || !is_quantizable(name, n_dims)) return src_type;
    return fallback_type(mix_type(ftype, name, ne, n_layers, has_output_weight), ne[0]);
}

bibim_quantize_params bibim_quantize_default_params(void) {
    bibim_quantize_params p;
    memset(&p, 0, sizeof p);
    p.ftype = BIBIM_FTYPE_Q4_K_M;
    return p;
}

/* ---- converting a model file ---- */

typedef struct quant_job {
    const bibim_gguf *in;
    bibim_gguf_writer *out;
    const bibim_quantize_params *params;
    int n_threads;
    char *errmsg;
    size_t errmsg_size;
} quant_job;

static bibim_status job_fail(quant_job *job, bibim_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bibim_status job_fail(quant_job *job, bibim_status st, const char *fmt, ...) {
    if (job->errmsg && job->errmsg_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(job->errmsg, job->errmsg_size, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Rows [row0, row1) of a chunk of one tensor, converted by one worker thread. */
typedef struct convert_slice {
    const uint8_t *src;
    uint8_t *dst;
    bibim_type src_type, dst_type;
    int64_t row_len, row0, row1;
    size_t src_row_bytes, dst_row_bytes;
    bibim_status status;
} convert_slice;

static void *convert_rows(void *arg) {
    convert_slice *s = arg;
    float *row = malloc((size_t)s->row_len * sizeof(float));
    if (!row) {
        s->status = BIBIM_ERR_NOMEM;
        return NULL;
    }
    s->status = BIBIM_OK;
    for (int64_t r = s->row0; r < s->row1 && s->status == BIBIM_OK; r++) {
        s->status = bibim_dequantize_row(s->src_type, s->src + (size_t)r * s->src_row_bytes, row, s->row_len);
        if (s->status == BIBIM_OK)
            s->status = bibim_quantize_row(s->dst_type, row, s->dst + (size_t)r * s->dst_row_bytes, s->row_len);
    }
    free(row);
    return NULL;
}

/* Converts `n_rows` rows on up to n_threads threads (the caller's included). */
static bibim_status convert_chunk(const quant_job *job, convert_slice proto, int64_t n_rows) {
    enum { MAX_THREADS = 256 };
    int n = job->n_threads < MAX_THREADS ? job->n_threads : MAX_THREADS;
    if (n > n_rows) n = (int)n_rows;
    if (n < 1) n = 1;
    convert_slice slices[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int t = 0; t < n; t++) {
        slices[t] = proto;
        slices[t].row0 = proto.row0 + n_rows * t / n;
        slices[t].row1 = proto.row0 + n_rows * (t + 1) / n;
        slices[t].status = BIBIM_OK;
        if (t > 0) started[t] = pthread_create(&threads[t], NULL, convert_rows, &slices[t]) == 0;
        if (t > 0 && !started[t]) convert_rows(&slices[t]); /* no thread: do it here */
    }
    convert_rows(&slices[0]);
    bibim_status st = BIBIM_OK;
    for (int t = 0; t < n; t++) {
        if (t > 0 && started[t]) pthread_join(threads[t], NULL);
        if (slices[t].status != BIBIM_OK && st == BIBIM_OK) st = slices[t].status;
    }
    return st;
}

/* Writes one tensor converted to `dst_type`, in chunks of about 64 MiB. */
static bibim_status convert_tensor(quant_job *job, const bibim_tensor_info *ti, bibim_type dst_type) {
    if (dst_type == ti->type) return bibim_gguf_writer_write_tensor(job->out, ti->data, ti->n_bytes);
    if (!bibim_type_is_supported(ti->type))
        return job_fail(job, BIBIM_ERR_UNSUPPORTED, "tensor '%.*s': cannot convert from type %s", (int)ti->name.len,
                        ti->name.ptr, bibim_type_name(ti->type));
    int64_t row_len = ti->ne[0];
    int64_t n_rows = (int64_t)(ti->n_elems / (uint64_t)row_len);
    size_t dst_row_bytes = (size_t)bibim_type_row_bytes(dst_type, row_len);
    int64_t rows_per_chunk = (int64_t)((64u << 20) / dst_row_bytes);
    if (rows_per_chunk < 1) rows_per_chunk = 1;
    if (rows_per_chunk > n_rows) rows_per_chunk = n_rows;
    uint8_t *buf = malloc((size_t)rows_per_chunk * dst_row_bytes);
    if (!buf) return job_fail(job, BIBIM_ERR_NOMEM, "out of memory converting tensor '%.*s'", (int)ti->name.len,
                              ti->name.ptr);
    convert_slice proto = {.src_type = ti->type, .dst_type = dst_type, .row_len = row_len,
                           .src_row_bytes = (size_t)bibim_type_row_bytes(ti->type, row_len),
                           .dst_row_bytes = dst_row_bytes};
    bibim_status st = BIBIM_OK;
    for (int64_t r = 0; r < n_rows && st == BIBIM_OK; r += rows_per_chunk) {
        int64_t n = n_rows - r < rows_per_chunk ? n_rows - r : rows_per_chunk;
        proto.src = (const uint8_t *)ti->data + (size_t)r * proto.src_row_bytes;
        proto.dst = buf;
        proto.row0 = 0; /* rows are counted from the chunk's start */
        st = convert_chunk(job, proto, n);
        if (st != BIBIM_OK) {
            st = job_fail(job, st, "tensor '%.*s': conversion to %s failed: %s", (int)ti->name.len, ti->name.ptr,
                          bibim_type_name(dst_type), bibim_status_string(st));
            break;
        }
        st = bibim_gguf_writer_write_tensor(job->out, buf, (uint64_t)n * dst_row_bytes);
    }
    free(buf);
    return st;
}

static int count_layers(bibim_gguf *in) {
    bibim_str arch;
    if (bibim_gguf_get_str(in, "general.architecture", &arch) == BIBIM_OK && arch.len < 64) {
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        int64_t n;
        if (bibim_gguf_get_int(in, key, &n) == BIBIM_OK && n > 0 && n < 100000) return (int)n;
    }
    int n = 0; /* no key: count the blocks */
    for (int64_t i = 0; i < bibim_gguf_n_tensors(in); i++) {
        bibim_tensor_info ti;
        char name[80];
        if (bibim_gguf_tensor(in, i, &ti) != BIBIM_OK || ti.name.len >= sizeof name) continue;
        memcpy(name, ti.name.ptr, ti.name.len);
        name[ti.name.len] = 0;
        int l = layer_of(name);
        if (l + 1 > n) n = l + 1;
    }
    return n;
}

static void tensor_name(const bibim_tensor_info *ti, char *buf, size_t size) {
    size_t n = ti->name.len < size - 1 ? ti->name.len : size - 1;
    memcpy(buf, ti->name.ptr, n);
    buf[n] = 0;
}

/* Copies the metadata, marks the new file type, declares every tensor. */
static bibim_status plan_output(quant_job *job, bibim_gguf *in, bibim_type *types) {
    bibim_gguf_writer *w = job->out;
    for (int64_t k = 0; k < bibim_gguf_n_kv(in); k++) {
        bibim_str key = bibim_gguf_key(in, k);
        if ((key.len == 17 && !memcmp(key.ptr, "general.file_type", 17)) ||
            (key.len == 28 && !memcmp(key.ptr, "general.quantization_version", 28)))
            continue;
        if (bibim_gguf_writer_copy_kv(w, in, k) != BIBIM_OK)
            return job_fail(job, BIBIM_ERR_NOMEM, "%s", bibim_gguf_writer_errmsg(w));
    }
    bibim_gguf_writer_set_u32(w, "general.file_type", (uint32_t)job->params->ftype);
    if (is_quantized_ftype(job->params->ftype)) bibim_gguf_writer_set_u32(w, "general.quantization_version", 2);

    int n_layers = count_layers(in);
    int has_output = bibim_gguf_find_tensor(in, "output.weight") >= 0;
    for (int64_t i = 0; i < bibim_gguf_n_tensors(in); i++) {
        bibim_tensor_info ti;
        char name[80];
        bibim_gguf_tensor(in, i, &ti);
        tensor_name(&ti, name, sizeof name);
        bibim_ftype ftype = job->params->ftype;
        if (job->params->pure && is_quantizable(name, ti.n_dims))
            types[i] = fallback_type(ftype_lookup(ftype)->default_type, ti.ne[0]);
        else
            types[i] = bibim_quantize_tensor_type(ftype, name, ti.n_dims, ti.ne, ti.type, n_layers, has_output);
        if (bibim_gguf_writer_add_tensor(w, name, types[i], ti.n_dims, ti.ne) != BIBIM_OK)
            return job_fail(job, BIBIM_ERR_FORMAT, "%s", bibim_gguf_writer_errmsg(w));
    }
    return BIBIM_OK;
}

static bibim_status write_output(quant_job *job, bibim_gguf *in, const bibim_type *types, const char *out_path) {
    if (bibim_gguf_writer_begin(job->out, out_path) != BIBIM_OK)
        return job_fail(job, BIBIM_ERR_IO, "%s", bibim_gguf_writer_errmsg(job->out));
    uint64_t bytes_total = 0, bytes_done = 0;
    int64_t n_tensors = bibim_gguf_n_tensors(in);
    for (int64_t i = 0; i < n_tensors; i++) {
        bibim_tensor_info ti;
        bibim_gguf_tensor(in, i, &ti);
        bytes_total += ti.n_bytes;
    }
    for (int64_t i = 0; i < n_tensors; i++) {
        bibim_tensor_info ti;
        bibim_gguf_tensor(in, i, &ti);
        bibim_status st = convert_tensor(job, &ti, types[i]);
        if (st != BIBIM_OK) {
            if (job->errmsg && !job->errmsg[0])
                job_fail(job, st, "%s", bibim_gguf_writer_errmsg(job->out));
            return st;
        }
        bytes_done += ti.n_bytes;
        if (job->params->progress) {
            bibim_tensor_info written = ti;
            written.type = types[i];
            written.n_bytes = (uint64_t)bibim_type_row_bytes(types[i], ti.ne[0]) * (ti.n_elems / (uint64_t)ti.ne[0]);
            if (job->params->progress(job->params->progress_user, i, n_tensors, &written, bytes_done, bytes_total))
                return job_fail(job, BIBIM_ERR_CANCELLED, "cancelled");
        }
    }
    if (bibim_gguf_writer_finish(job->out) != BIBIM_OK)
        return job_fail(job, BIBIM_ERR_IO, "%s", bibim_gguf_writer_errmsg(job->out));
    return BIBIM_OK;
}

/* Same file, by device and inode: catches links and other spellings. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

bibim_status bibim_quantize_model(const char *in_path, const char *out_path, const bibim_quantize_params *params,
                                  char *errmsg, size_t errmsg_size) {
    bibim_quantize_params defaults = bibim_quantize_default_params();
    quant_job job = {.params = params ? params : &defaults, .errmsg = errmsg, .errmsg_size = errmsg_size};
    if (errmsg && errmsg_size) errmsg[0] = 0;
    if (!in_path || !out_path) return job_fail(&job, BIBIM_ERR_INVALID_ARG, "input and output paths are required");
    if (!ftype_lookup(job.params->ftype))
        return job_fail(&job, BIBIM_ERR_INVALID_ARG, "unknown file type %d", (int)job.params->ftype);
    if (job.params->n_threads < 0)
        return job_fail(&job, BIBIM_ERR_INVALID_ARG, "n_threads is %d; it must be 0 (all CPUs) or more",
                        job.params->n_threads);
    if (strcmp(in_path, out_path) == 0 || same_file(in_path, out_path))
        return job_fail(&job, BIBIM_ERR_INVALID_ARG, "%s: refusing to overwrite the input file", out_path);
    job.n_threads = job.params->n_threads ? job.params->n_threads : default_threads();

    bibim_gguf *in = NULL;
    bibim_status st = bibim_gguf_open(in_path, &in);
    if (st != BIBIM_OK) {
        job_fail(&job, st, "%s", in ? bibim_gguf_errmsg(in) : "out of memory");
        bibim_gguf_free(in);
        return st;
    }
    bibim_type *types = calloc((size_t)bibim_gguf_n_tensors(in) + 1, sizeof *types);
    st = types ? bibim_gguf_writer_create(&job.out) : BIBIM_ERR_NOMEM;
    if (st != BIBIM_OK) job_fail(&job, st, "out of memory");
    if (st == BIBIM_OK) st = plan_output(&job, in, types);
    if (st == BIBIM_OK) st = write_output(&job, in, types, out_path);
    bibim_gguf_writer_free(job.out); /* removes the partial file after a failure */
    free(types);
    bibim_gguf_free(in);
    return st;
}
