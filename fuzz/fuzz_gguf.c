/* fuzz_gguf.c — libFuzzer target for the GGUF reader.
 *
 * Opens the input with bibim_gguf_open_memory (libFuzzer hands over an
 * allocation of exactly the input's size, so AddressSanitizer sees any read
 * past it). A refused input must carry a message. An accepted one is walked
 * completely — every key through every getter, every array element, every
 * tensor's first and last data byte — and its invariants are checked: what
 * the reader promised to have validated must hold. Each KV is also copied
 * into a writer, as tools that rewrite models do. */
#include "bibim.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Consumes values so the compiler keeps the reads the sanitizers watch. */
typedef struct fuzz_sink {
    uint64_t sum;
} fuzz_sink;

#define FUZZ_REQUIRE(cond)                                                                                             \
    do {                                                                                                               \
        if (!(cond)) __builtin_trap();                                                                                 \
    } while (0)

static void fuzz_touch_str(fuzz_sink *sink, bibim_str s) {
    if (s.len) sink->sum += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
}

/* Every typed getter on one key: exactly the one matching the stored type
 * may succeed among the strict ones. */
static void fuzz_scalar_getters(bibim_gguf *g, const char *key, bibim_gguf_type type, fuzz_sink *sink) {
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
    int b;
    bibim_str s;
    int ok = 0;
    ok += bibim_gguf_get_u8(g, key, &u8) == BIBIM_OK;
    ok += bibim_gguf_get_i8(g, key, &i8) == BIBIM_OK;
    ok += bibim_gguf_get_u16(g, key, &u16) == BIBIM_OK;
    ok += bibim_gguf_get_i16(g, key, &i16) == BIBIM_OK;
    ok += bibim_gguf_get_u32(g, key, &u32) == BIBIM_OK;
    ok += bibim_gguf_get_i32(g, key, &i32) == BIBIM_OK;
    ok += bibim_gguf_get_u64(g, key, &u64) == BIBIM_OK;
    ok += bibim_gguf_get_i64(g, key, &i64) == BIBIM_OK;
    ok += bibim_gguf_get_f32(g, key, &f32) == BIBIM_OK;
    ok += bibim_gguf_get_f64(g, key, &f64) == BIBIM_OK;
    if (bibim_gguf_get_bool(g, key, &b) == BIBIM_OK) {
        FUZZ_REQUIRE(b == 0 || b == 1);
        ok++;
    }
    if (bibim_gguf_get_str(g, key, &s) == BIBIM_OK) {
        fuzz_touch_str(sink, s);
        ok++;
    }
    FUZZ_REQUIRE(ok == (type == BIBIM_GGUF_ARRAY ? 0 : 1));
    if (bibim_gguf_get_int(g, key, &i64) == BIBIM_OK) sink->sum += (uint64_t)i64;
    if (bibim_gguf_get_float(g, key, &f64) == BIBIM_OK) sink->sum += f64 > 0;
}

static void fuzz_array_getters(bibim_gguf *g, const char *key, int64_t index, fuzz_sink *sink) {
    static const bibim_gguf_type fixed[] = {
        BIBIM_GGUF_UINT8,  BIBIM_GGUF_INT8,  BIBIM_GGUF_UINT16, BIBIM_GGUF_INT16, BIBIM_GGUF_UINT32, BIBIM_GGUF_INT32,
        BIBIM_GGUF_FLOAT32, BIBIM_GGUF_BOOL, BIBIM_GGUF_UINT64, BIBIM_GGUF_INT64, BIBIM_GGUF_FLOAT64};
    uint64_t len = bibim_gguf_kv_len(g, index);
    for (size_t t = 0; t < sizeof fixed / sizeof fixed[0]; t++) {
        const void *data;
        uint64_t n;
        if (bibim_gguf_get_arr(g, key, fixed[t], &data, &n) != BIBIM_OK) continue;
        FUZZ_REQUIRE(n == len && fixed[t] == bibim_gguf_kv_elem_type(g, index));
        if (n) sink->sum += ((const uint8_t *)data)[0];
    }
    uint64_t n_str;
    if (bibim_gguf_get_arr_str_len(g, key, &n_str) == BIBIM_OK) FUZZ_REQUIRE(n_str == len);
    for (uint64_t e = 0; e < len; e++) {
        bibim_str s;
        float f;
        int32_t i;
        uint32_t u;
        if (bibim_gguf_arr_str(g, index, e, &s) == BIBIM_OK) fuzz_touch_str(sink, s);
        if (bibim_gguf_arr_f32(g, index, e, &f) == BIBIM_OK) sink->sum += f > 0;
        if (bibim_gguf_arr_i32(g, index, e, &i) == BIBIM_OK) sink->sum += (uint32_t)i;
        if (bibim_gguf_arr_u32(g, index, e, &u) == BIBIM_OK) sink->sum += u;
    }
    bibim_str s;
    FUZZ_REQUIRE(bibim_gguf_arr_str(g, index, len, &s) != BIBIM_OK);
}

static void fuzz_walk_kv(bibim_gguf *g, int64_t index, fuzz_sink *sink) {
    char key[512];
    bibim_str k = bibim_gguf_key(g, index);
    FUZZ_REQUIRE(k.ptr != NULL && k.len > 0);
    fuzz_touch_str(sink, k);
    if (k.len >= sizeof key || memchr(k.ptr, '\0', k.len)) return; /* not reachable by a C-string key */
    memcpy(key, k.ptr, k.len);
    key[k.len] = '\0';
    FUZZ_REQUIRE(bibim_gguf_find_key(g, key) == index); /* keys are unique */
    bibim_gguf_type type = bibim_gguf_kv_type(g, index);
    fuzz_scalar_getters(g, key, type, sink);
    if (type == BIBIM_GGUF_ARRAY) fuzz_array_getters(g, key, index, sink);
    else FUZZ_REQUIRE(bibim_gguf_kv_len(g, index) == 1);
}

static void fuzz_walk_tensor(bibim_gguf *g, int64_t index, const uint8_t *data, size_t size, fuzz_sink *sink) {
    bibim_tensor_info t;
    FUZZ_REQUIRE(bibim_gguf_tensor(g, index, &t) == BIBIM_OK);
    FUZZ_REQUIRE(t.name.len > 0 && t.name.len < 64 && t.n_dims >= 1 && t.n_dims <= 4);
    FUZZ_REQUIRE(bibim_type_is_known(t.type) && t.offset % bibim_gguf_alignment(g) == 0);
    uint64_t n_elems = 1;
    for (int d = 0; d < 4; d++) {
        FUZZ_REQUIRE(t.ne[d] >= 1);
        n_elems *= (uint64_t)t.ne[d];
    }
    FUZZ_REQUIRE(n_elems == t.n_elems && t.n_bytes > 0);
    const uint8_t *p = t.data;
    FUZZ_REQUIRE(p >= data && (uint64_t)(p - data) <= size && t.n_bytes <= size - (uint64_t)(p - data));
    sink->sum += p[0] + p[t.n_bytes - 1];
    char name[64];
    memcpy(name, t.name.ptr, t.name.len);
    name[t.name.len] = '\0';
    if (!memchr(t.name.ptr, '\0', t.name.len)) FUZZ_REQUIRE(bibim_gguf_find_tensor(g, name) == index);
}

static void fuzz_copy_kvs(const bibim_gguf *g) {
    bibim_gguf_writer *w = NULL;
    if (bibim_gguf_writer_create(&w) != BIBIM_OK) return;
    for (int64_t i = 0; i < bibim_gguf_n_kv(g); i++) FUZZ_REQUIRE(bibim_gguf_writer_copy_kv(w, g, i) == BIBIM_OK);
    bibim_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bibim_gguf *g = NULL;
    bibim_status st = bibim_gguf_open_memory(data, size, "fuzz-input", &g);
    if (!g) return 0; /* out of memory */
    if (st != BIBIM_OK) {
        FUZZ_REQUIRE(bibim_gguf_errmsg(g)[0] != '\0');
        FUZZ_REQUIRE(bibim_gguf_n_kv(g) == 0 && bibim_gguf_n_tensors(g) == 0);
    } else {
        fuzz_sink sink = {0};
        for (int64_t i = 0; i < bibim_gguf_n_kv(g); i++) fuzz_walk_kv(g, i, &sink);
        for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) fuzz_walk_tensor(g, i, data, size, &sink);
        fuzz_copy_kvs(g);
        volatile uint64_t keep = sink.sum;
        (void)keep;
    }
    bibim_gguf_free(g);
    return 0;
}
