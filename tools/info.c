/* info.c — `bibim info FILE [--json]`: what a GGUF file holds. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arrays longer than this are summarized by their first elements. */
enum { ARRAY_SHOWN = 8, ARRAY_SUMMARY_LEN = 16 };

static void usage(FILE *f) {
    fprintf(f, "usage: bibim info FILE [--json]\n"
               "Shows a GGUF file's version, alignment, every metadata key (long arrays\n"
               "summarized), the tensor table, the parameter count and bits per weight.\n"
               "  --json   the same as one JSON object on stdout\n");
}

/* A NUL-terminated copy of a file string (caller frees). */
static char *str_dup(bibim_str s) {
    char *p = malloc(s.len + 1);
    if (!p) return NULL;
    memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return p;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return len;
}

/* Text safe for a terminal or JSON: invalid UTF-8 bytes become U+FFFD; for a
 * terminal, control characters become escapes. Caller frees. */
static char *printable(bibim_str s, int escape_controls) {
    char *out = malloc(s.len * 6 + 1), *o = out;
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s.ptr;
    for (uint64_t i = 0; i < s.len;) {
        size_t n = utf8_seq_len(p + i, s.len - i);
        if (n == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3), o += 3, i++;
        } else if (escape_controls && n == 1 && (p[i] < 0x20 || p[i] == 0x7F)) {
            o += sprintf(o, p[i] == '\n' ? "\\n" : p[i] == '\t' ? "\\t" : "\\x%02x", p[i]);
            i++;
        } else {
            memcpy(o, p + i, n), o += n, i += n;
        }
    }
    *o = 0;
    return out;
}

static int is_fixed_size(bibim_gguf_type t) { return t != BIBIM_GGUF_STRING && t != BIBIM_GGUF_ARRAY; }

static size_t fixed_size(bibim_gguf_type t) {
    static const size_t width[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < 13 ? width[t] : 0;
}

/* One scalar element (of an array, or a value) as text. */
static void format_scalar(bibim_gguf_type type, const unsigned char *p, char *buf, size_t size) {
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64;
    } v;
    memcpy(&v, p, fixed_size(type));
    switch (type) {
    case BIBIM_GGUF_UINT8: snprintf(buf, size, "%u", v.u8); break;
    case BIBIM_GGUF_INT8: snprintf(buf, size, "%d", v.i8); break;
    case BIBIM_GGUF_UINT16: snprintf(buf, size, "%u", v.u16); break;
    case BIBIM_GGUF_INT16: snprintf(buf, size, "%d", v.i16); break;
    case BIBIM_GGUF_UINT32: snprintf(buf, size, "%" PRIu32, v.u32); break;
    case BIBIM_GGUF_INT32: snprintf(buf, size, "%" PRId32, v.i32); break;
    case BIBIM_GGUF_UINT64: snprintf(buf, size, "%" PRIu64, v.u64); break;
    case BIBIM_GGUF_INT64: snprintf(buf, size, "%" PRId64, v.i64); break;
    case BIBIM_GGUF_FLOAT32: snprintf(buf, size, "%.9g", v.f32); break;
    case BIBIM_GGUF_FLOAT64: snprintf(buf, size, "%.17g", v.f64); break;
    case BIBIM_GGUF_BOOL: snprintf(buf, size, "%s", v.u8 ? "true" : "false"); break;
    default: snprintf(buf, size, "?"); break;
    }
}

/* Reads a fixed-size scalar value into `out` at its stored width. */
static void read_scalar(bibim_gguf *g, const char *key, bibim_gguf_type type, unsigned char *out) {
    switch (type) {
    case BIBIM_GGUF_UINT8: bibim_gguf_get_u8(g, key, (uint8_t *)out); break;
    case BIBIM_GGUF_INT8: bibim_gguf_get_i8(g, key, (int8_t *)out); break;
    case BIBIM_GGUF_UINT16: { uint16_t x = 0; bibim_gguf_get_u16(g, key, &x); memcpy(out, &x, 2); break; }
    case BIBIM_GGUF_INT16: { int16_t x = 0; bibim_gguf_get_i16(g, key, &x); memcpy(out, &x, 2); break; }
    case BIBIM_GGUF_UINT32: { uint32_t x = 0; bibim_gguf_get_u32(g, key, &x); memcpy(out, &x, 4); break; }
    case BIBIM_GGUF_INT32: { int32_t x = 0; bibim_gguf_get_i32(g, key, &x); memcpy(out, &x, 4); break; }
    case BIBIM_GGUF_UINT64: { uint64_t x = 0; bibim_gguf_get_u64(g, key, &x); memcpy(out, &x, 8); break; }
    case BIBIM_GGUF_INT64: { int64_t x = 0; bibim_gguf_get_i64(g, key, &x); memcpy(out, &x, 8); break; }
    case BIBIM_GGUF_FLOAT32: { float x = 0; bibim_gguf_get_f32(g, key, &x); memcpy(out, &x, 4); break; }
    case BIBIM_GGUF_FLOAT64: { double x = 0; bibim_gguf_get_f64(g, key, &x); memcpy(out, &x, 8); break; }
    case BIBIM_GGUF_BOOL: { int x = 0; bibim_gguf_get_bool(g, key, &x); out[0] = (unsigned char)x; break; }
    default: break;
    }
}

/* The value of metadata key k: scalar as text, or one array element. */
typedef struct kv_view {
    bibim_gguf *gguf;
    int64_t index;
    char *key;
    bibim_gguf_type type, elem_type;
    uint64_t len;
    const unsigned char *fixed; /* array data or scalar bytes, for fixed-size types */
    unsigned char scalar[8];
} kv_view;

static int kv_view_open(bibim_gguf *g, int64_t k, kv_view *v) {
    memset(v, 0, sizeof *v);
    v->gguf = g;
    v->index = k;
    v->key = str_dup(bibim_gguf_key(g, k));
    if (!v->key) return -1;
    v->type = bibim_gguf_kv_type(g, k);
    v->elem_type = bibim_gguf_kv_elem_type(g, k);
    v->len = bibim_gguf_kv_len(g, k);
    if (v->type == BIBIM_GGUF_ARRAY && is_fixed_size(v->elem_type)) {
        const void *data;
        uint64_t n;
        if (bibim_gguf_get_arr(g, v->key, v->elem_type, &data, &n) == BIBIM_OK) v->fixed = data;
    } else if (is_fixed_size(v->type)) {
        read_scalar(g, v->key, v->type, v->scalar);
        v->fixed = v->scalar;
    }
    return 0;
}

/* Element i (0 for a scalar) as text; strings are returned unquoted. */
static char *kv_view_elem(const kv_view *v, uint64_t i, int escape_controls) {
    bibim_gguf_type t = v->type == BIBIM_GGUF_ARRAY ? v->elem_type : v->type;
    if (t == BIBIM_GGUF_STRING) {
        bibim_str s = {"", 0};
        if (v->type == BIBIM_GGUF_ARRAY) bibim_gguf_arr_str(v->gguf, v->index, i, &s);
        else bibim_gguf_get_str(v->gguf, v->key, &s);
        return printable(s, escape_controls);
    }
    char buf[64] = "?";
    if (t == BIBIM_GGUF_ARRAY) snprintf(buf, sizeof buf, "[array]");
    else if (v->fixed) format_scalar(t, v->fixed + i * fixed_size(t), buf, sizeof buf);
    return strdup(buf);
}

/* ---- text ---- */

static void print_kv_text(const kv_view *v) {
    if (v->type != BIBIM_GGUF_ARRAY) {
        char *s = kv_view_elem(v, 0, 1);
        const char *q = v->type == BIBIM_GGUF_STRING ? "\"" : "";
        printf("  %-44s %-8s %s%s%s\n", v->key, bibim_gguf_type_name(v->type), q, s ? s : "?", q);
        free(s);
        return;
    }
    char type[48];
    snprintf(type, sizeof type, "[%s x %" PRIu64 "]", bibim_gguf_type_name(v->elem_type), v->len);
    printf("  %-44s %-8s [", v->key, type);
    uint64_t shown = v->len <= ARRAY_SUMMARY_LEN ? v->len : ARRAY_SHOWN;
    for (uint64_t i = 0; i < shown; i++) {
        char *s = kv_view_elem(v, i, 1);
        const char *q = v->elem_type == BIBIM_GGUF_STRING ? "\"" : "";
        printf("%s%s%s%s", i ? ", " : "", q, s ? s : "?", q);
        free(s);
    }
    printf("%s]\n", shown < v->len ? ", ..." : "");
}

static void shape_text(const bibim_tensor_info *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (uint32_t d = 0; d < t->n_dims && n < (int)size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    if (n < (int)size) snprintf(buf + n, size - (size_t)n, "]");
}

typedef struct totals {
    uint64_t n_params, n_bytes;
} totals;

static totals tensor_totals(bibim_gguf *g) {
    totals t = {0, 0};
    for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) {
        bibim_tensor_info ti;
        if (bibim_gguf_tensor(g, i, &ti) != BIBIM_OK) continue;
        t.n_params += ti.n_elems;
        t.n_bytes += ti.n_bytes;
    }
    return t;
}

static int print_text(bibim_gguf *g, const char *path) {
    printf("file:      %s\n", path);
    printf("gguf:      version %" PRIu32 ", alignment %" PRIu32 ", %" PRIu64 " bytes, tensor data at offset %" PRIu64
           "\n",
           bibim_gguf_version(g), bibim_gguf_alignment(g), bibim_gguf_file_size(g), bibim_gguf_data_offset(g));
    printf("\nmetadata (%" PRId64 " keys):\n", bibim_gguf_n_kv(g));
    for (int64_t k = 0; k < bibim_gguf_n_kv(g); k++) {
        kv_view v;
        if (kv_view_open(g, k, &v) != 0) return EXIT_INPUT;
        print_kv_text(&v);
        free(v.key);
    }
    printf("\ntensors (%" PRId64 "):\n  %5s  %-40s %-7s %-22s %14s %14s\n", bibim_gguf_n_tensors(g), "#", "name",
           "type", "shape", "bytes", "offset");
    for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) {
        bibim_tensor_info t;
        bibim_gguf_tensor(g, i, &t);
        char shape[96];
        shape_text(&t, shape, sizeof shape);
        char *name = printable(t.name, 1);
        printf("  %5" PRId64 "  %-40s %-7s %-22s %14" PRIu64 " %14" PRIu64 "\n", i, name ? name : "?",
               bibim_type_name(t.type), shape, t.n_bytes, bibim_gguf_data_offset(g) + t.offset);
        free(name);
    }
    totals tt = tensor_totals(g);
    double n = (double)tt.n_params;
    printf("\nparameters: %" PRIu64 " (%.2f%s)\n", tt.n_params, n >= 1e9 ? n / 1e9 : n >= 1e6 ? n / 1e6 : n / 1e3,
           n >= 1e9 ? "B" : n >= 1e6 ? "M" : "K");
    printf("weights:    %" PRIu64 " bytes (%.2f MiB), %.3f bits per weight\n", tt.n_bytes,
           (double)tt.n_bytes / (1 << 20), tt.n_params ? 8.0 * (double)tt.n_bytes / (double)tt.n_params : 0.0);
    return EXIT_OK;
}

/* ---- JSON ---- */

static cJSON *json_elem(const kv_view *v, uint64_t i) {
    bibim_gguf_type t = v->type == BIBIM_GGUF_ARRAY ? v->elem_type : v->type;
    char *s = kv_view_elem(v, i, 0);
    cJSON *item;
    if (!s) return cJSON_CreateNull();
    if (t == BIBIM_GGUF_STRING) item = cJSON_CreateString(s);
    else if (t == BIBIM_GGUF_BOOL) item = cJSON_CreateBool(s[0] == 't');
    else if (t == BIBIM_GGUF_ARRAY) item = cJSON_CreateNull();
    else if ((t == BIBIM_GGUF_FLOAT32 || t == BIBIM_GGUF_FLOAT64) && strpbrk(s, "ni")) /* nan, inf */
        item = cJSON_CreateString(s);
    else item = cJSON_CreateRaw(s); /* exact integers, even past 2^53 */
    free(s);
    return item;
}

static cJSON *json_value(const kv_view *v) {
    if (v->type != BIBIM_GGUF_ARRAY) return json_elem(v, 0);
    cJSON *arr = cJSON_CreateArray();
    uint64_t shown = v->len <= ARRAY_SUMMARY_LEN ? v->len : ARRAY_SHOWN;
    for (uint64_t i = 0; i < shown; i++) cJSON_AddItemToArray(arr, json_elem(v, i));
    if (shown == v->len) return arr;
    cJSON *summary = cJSON_CreateObject();
    cJSON_AddStringToObject(summary, "type", "array");
    cJSON_AddStringToObject(summary, "elem_type", bibim_gguf_type_name(v->elem_type));
    cJSON_AddNumberToObject(summary, "len", (double)v->len);
    cJSON_AddItemToObject(summary, "head", arr);
    return summary;
}

static int print_json(bibim_gguf *g, const char *path) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddNumberToObject(root, "version", bibim_gguf_version(g));
    cJSON_AddNumberToObject(root, "alignment", bibim_gguf_alignment(g));
    cJSON_AddNumberToObject(root, "file_size", (double)bibim_gguf_file_size(g));
    cJSON_AddNumberToObject(root, "data_offset", (double)bibim_gguf_data_offset(g));
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON *types = cJSON_AddObjectToObject(root, "metadata_types");
    for (int64_t k = 0; k < bibim_gguf_n_kv(g); k++) {
        kv_view v;
        if (kv_view_open(g, k, &v) != 0) break;
        char *key = printable(bibim_gguf_key(g, k), 0);
        cJSON_AddItemToObject(meta, key ? key : "?", json_value(&v));
        char type[48];
        snprintf(type, sizeof type, v.type == BIBIM_GGUF_ARRAY ? "array[%s]" : "%s",
                 bibim_gguf_type_name(v.type == BIBIM_GGUF_ARRAY ? v.elem_type : v.type));
        cJSON_AddStringToObject(types, key ? key : "?", type);
        free(key);
        free(v.key);
    }
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) {
        bibim_tensor_info t;
        bibim_gguf_tensor(g, i, &t);
        cJSON *o = cJSON_CreateObject();
        char *name = printable(t.name, 0);
        cJSON_AddStringToObject(o, "name", name ? name : "?");
        free(name);
        cJSON_AddStringToObject(o, "type", bibim_type_name(t.type));
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (uint32_t d = 0; d < t.n_dims; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t.ne[d]));
        cJSON_AddNumberToObject(o, "bytes", (double)t.n_bytes);
        cJSON_AddNumberToObject(o, "offset", (double)(bibim_gguf_data_offset(g) + t.offset));
        cJSON_AddItemToArray(tensors, o);
    }
    totals tt = tensor_totals(g);
    cJSON_AddNumberToObject(root, "n_params", (double)tt.n_params);
    cJSON_AddNumberToObject(root, "n_bytes", (double)tt.n_bytes);
    cJSON_AddNumberToObject(root, "bits_per_weight",
                            tt.n_params ? 8.0 * (double)tt.n_bytes / (double)tt.n_params : 0.0);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "bibim info: out of memory\n");
        return EXIT_INPUT;
    }
    puts(text);
    free(text);
    return EXIT_OK;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage(stderr);
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("info", "one FILE only ('%s' and '%s')", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return EXIT_USAGE;
    }
    bibim_gguf *g = NULL;
    if (bibim_gguf_open(path, &g) != BIBIM_OK) {
        fprintf(stderr, "bibim info: %s\n", g ? bibim_gguf_errmsg(g) : "out of memory");
        bibim_gguf_free(g);
        return EXIT_INPUT;
    }
    int rc = json ? print_json(g, path) : print_text(g, path);
    bibim_gguf_free(g);
    return rc;
}
