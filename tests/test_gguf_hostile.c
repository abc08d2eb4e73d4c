/* test_gguf_hostile.c — malformed GGUF files built in memory: each must be
 * refused with the right status and a message naming the problem, without
 * a crash, a leak, a hang or an allocation sized by the lie. Buffers are
 * copied into allocations of exactly their size so that AddressSanitizer
 * (make SAN=1) catches any read past the end. */
#include "bibim.h"
#include "harness.h"

#include <stdint.h>
#include <unistd.h>

#define NAME "hostile.gguf"

static char tmp_dir[64];

/* ------------------------------------------------------------------------ */
/* Building files                                                           */
/* ------------------------------------------------------------------------ */

typedef struct buf {
    uint8_t *data;
    size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_le(buf *b, uint64_t v, int n_bytes) {
    uint8_t bytes[8];
    for (int i = 0; i < n_bytes; i++) bytes[i] = (uint8_t)(v >> (8 * i));
    put(b, bytes, (size_t)n_bytes);
}

static void put_u32(buf *b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(buf *b, uint64_t v) { put_le(b, v, 8); }

static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void put_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}

static void put_key(buf *b, const char *key, uint32_t type) {
    put_str(b, key);
    put_u32(b, type);
}

static void put_kv_u32(buf *b, const char *key, uint32_t v) {
    put_key(b, key, BIBIM_GGUF_UINT32);
    put_u32(b, v);
}

static void put_info(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(b, ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}

static void put_zeros(buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) put_le(b, 0, 1);
}

static void pad_to(buf *b, size_t alignment) { put_zeros(b, (alignment - b->len % alignment) % alignment); }

static void buf_free(buf *b) {
    free(b->data);
    *b = (buf){0};
}

/* A file with one tensor info of shape `ne` and type `type` at `offset`,
 * and `data_bytes` of data: the base of the tensor-info cases. */
static void build_one_tensor(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                             uint64_t offset, size_t data_bytes) {
    put_header(b, 3, 1, 1);
    put_kv_u32(b, "k", 1);
    put_info(b, name, n_dims, ne, type, offset);
    pad_to(b, 32);
    put_zeros(b, data_bytes);
}

/* A small valid file: several keys of several kinds, three tensors, and no
 * padding after the last tensor, so that any truncation loses bytes the
 * file needs. */
static void build_valid(buf *b) {
    static const uint64_t ne_a[1] = {8}, ne_b[2] = {32, 2}, ne_c[2] = {4, 4};
    put_header(b, 3, 3, 6);
    put_key(b, "general.architecture", BIBIM_GGUF_STRING);
    put_str(b, "llama");
    put_kv_u32(b, "general.alignment", 32);
    put_key(b, "test.u8", BIBIM_GGUF_UINT8);
    put_le(b, 7, 1);
    put_key(b, "test.ints", BIBIM_GGUF_ARRAY);
    put_u32(b, BIBIM_GGUF_INT32), put_u64(b, 3), put_u32(b, 1), put_u32(b, 2), put_u32(b, 3);
    put_key(b, "test.strs", BIBIM_GGUF_ARRAY);
    put_u32(b, BIBIM_GGUF_STRING), put_u64(b, 3), put_str(b, "a"), put_str(b, "bc"), put_str(b, "");
    put_key(b, "test.flag", BIBIM_GGUF_BOOL);
    put_le(b, 1, 1);
    put_info(b, "a", 1, ne_a, BIBIM_TYPE_F32, 0);    /* 32 bytes */
    put_info(b, "b", 2, ne_b, BIBIM_TYPE_Q8_0, 32);  /* 68 bytes */
    put_info(b, "c", 2, ne_c, BIBIM_TYPE_F16, 128);  /* 32 bytes */
    pad_to(b, 32);
    for (int i = 0; i < 160; i++) put_le(b, (uint64_t)i, 1);
}

/* ------------------------------------------------------------------------ */
/* Checking                                                                 */
/* ------------------------------------------------------------------------ */

/* Touches everything a loaded file offers, so that sanitizers see any read
 * the validation failed to bound. */
static void walk_everything(bibim_gguf *g) {
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < bibim_gguf_n_kv(g); i++) {
        bibim_str key = bibim_gguf_key(g, i), s;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(key.len < 200 ? key.len : 200), key.ptr);
        int64_t v;
        double d;
        if (bibim_gguf_get_int(g, name, &v) == BIBIM_OK) sink += (uint64_t)v;
        if (bibim_gguf_get_float(g, name, &d) == BIBIM_OK) sink += d != 0;
        if (bibim_gguf_get_str(g, name, &s) == BIBIM_OK && s.len) sink += (uint8_t)s.ptr[s.len - 1];
        for (uint64_t e = 0; e < bibim_gguf_kv_len(g, i); e++) {
            float f;
            uint32_t u;
            if (bibim_gguf_arr_str(g, i, e, &s) == BIBIM_OK && s.len) sink += (uint8_t)s.ptr[s.len - 1];
            if (bibim_gguf_arr_f32(g, i, e, &f) == BIBIM_OK) sink += f != 0;
            if (bibim_gguf_arr_u32(g, i, e, &u) == BIBIM_OK) sink += u;
        }
    }
    for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) {
        bibim_tensor_info t;
        if (bibim_gguf_tensor(g, i, &t) != BIBIM_OK) continue;
        const uint8_t *p = t.data;
        sink += p[0] + p[t.n_bytes - 1];
    }
    (void)sink;
}

/* Opens a copy of the bytes and checks the status, and that the message
 * starts with the file's name and contains `needle`. */
static void expect_open(const buf *b, bibim_status want, const char *needle, int line) {
    uint8_t *copy = malloc(b->len ? b->len : 1);
    if (b->len) memcpy(copy, b->data, b->len);
    bibim_gguf *g = NULL;
    bibim_status st = bibim_gguf_open_memory(copy, b->len, NAME, &g);
    const char *msg = bibim_gguf_errmsg(g);
    CHECKF(g != NULL, "line %d: no handle", line);
    CHECKF(st == want, "line %d: status %d (%s), want %d: %s", line, st, bibim_status_string(st), want, msg);
    if (want != BIBIM_OK) {
        CHECKF(strncmp(msg, NAME ": ", strlen(NAME) + 2) == 0, "line %d: message lacks the name: %s", line, msg);
        CHECKF(!needle || strstr(msg, needle), "line %d: message lacks '%s': %s", line, needle, msg);
        CHECKF(bibim_gguf_n_kv(g) == 0 && bibim_gguf_n_tensors(g) == 0, "line %d: a failed handle has content", line);
    } else {
        walk_everything(g);
    }
    bibim_gguf_free(g);
    free(copy);
}

#define EXPECT(b, status, needle) expect_open((b), (status), (needle), __LINE__)

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(n == 0 || fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* The same through a real file and bibim_gguf_open. */
static void expect_open_file(const buf *b, bibim_status want, const char *needle, int line) {
    char path[128];
    snprintf(path, sizeof path, "%s/hostile.gguf", tmp_dir);
    write_file(path, b->data, b->len);
    bibim_gguf *g = NULL;
    bibim_status st = bibim_gguf_open(path, &g);
    const char *msg = bibim_gguf_errmsg(g);
    CHECKF(st == want, "line %d: status %d, want %d: %s", line, st, want, msg);
    CHECKF(want == BIBIM_OK || strncmp(msg, path, strlen(path)) == 0, "line %d: message lacks the path: %s", line,
           msg);
    CHECKF(!needle || strstr(msg, needle), "line %d: message lacks '%s': %s", line, needle, msg);
    bibim_gguf_free(g);
    unlink(path);
}

#define EXPECT_FILE(b, status, needle) expect_open_file((b), (status), (needle), __LINE__)

/* ------------------------------------------------------------------------ */
/* Header                                                                   */
/* ------------------------------------------------------------------------ */

static int test_valid_base_file_opens(void) {
    buf b = {0};
    build_valid(&b);
    EXPECT(&b, BIBIM_OK, NULL);
    EXPECT_FILE(&b, BIBIM_OK, NULL);
    bibim_gguf *g = NULL;
    CHECK(bibim_gguf_open_memory(b.data, b.len, NAME, &g) == BIBIM_OK);
    CHECK(bibim_gguf_n_kv(g) == 6 && bibim_gguf_n_tensors(g) == 3 && bibim_gguf_data_offset(g) + 160 == b.len);
    bibim_gguf_free(g);
    buf_free(&b);
    return 0;
}

static int test_empty_and_tiny_files(void) {
    buf b = {0};
    EXPECT(&b, BIBIM_ERR_FORMAT, "empty");
    EXPECT_FILE(&b, BIBIM_ERR_FORMAT, "empty");
    bibim_gguf *g = NULL;
    CHECK(bibim_gguf_open_memory(NULL, 0, NULL, &g) == BIBIM_ERR_FORMAT && g != NULL);
    bibim_gguf_free(g);
    CHECK(bibim_gguf_open_memory(NULL, 5, NULL, &g) == BIBIM_ERR_INVALID_ARG && g != NULL);
    bibim_gguf_free(g);
    put(&b, "GGU", 3);
    EXPECT(&b, BIBIM_ERR_FORMAT, "truncated");
    EXPECT_FILE(&b, BIBIM_ERR_FORMAT, "truncated");
    buf_free(&b);
    put_header(&b, 3, 0, 0);
    b.len = 20; /* the key count cut short */
    EXPECT(&b, BIBIM_ERR_FORMAT, "key count");
    b.len = 24; /* no keys, no tensors: valid, like a vocab-only file without padding */
    EXPECT(&b, BIBIM_OK, NULL);
    buf_free(&b);
    return 0;
}

static int test_bad_magic(void) {
    buf b = {0};
    build_valid(&b);
    memcpy(b.data, "GGML", 4);
    EXPECT(&b, BIBIM_ERR_FORMAT, "bad magic 'GGML'");
    EXPECT_FILE(&b, BIBIM_ERR_FORMAT, "magic");
    memcpy(b.data, "\0\0\0\0", 4);
    EXPECT(&b, BIBIM_ERR_FORMAT, "magic '\\x00\\x00\\x00\\x00'");
    buf_free(&b);
    return 0;
}

static void set_u32_at(buf *b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b->data[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void set_u64_at(buf *b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; i++) b->data[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static int test_versions(void) {
    buf b = {0};
    build_valid(&b);
    set_u32_at(&b, 4, 1);
    EXPECT(&b, BIBIM_ERR_UNSUPPORTED, "GGUF version 1 is not supported (only 2 and 3)");
    EXPECT_FILE(&b, BIBIM_ERR_UNSUPPORTED, "GGUF version 1 is not supported (only 2 and 3)");
    set_u32_at(&b, 4, 0);
    EXPECT(&b, BIBIM_ERR_UNSUPPORTED, "GGUF version 0 is not supported");
    set_u32_at(&b, 4, 4);
    EXPECT(&b, BIBIM_ERR_UNSUPPORTED, "GGUF version 4 is not supported");
    set_u32_at(&b, 4, 0xFFFFFFFFu);
    EXPECT(&b, BIBIM_ERR_UNSUPPORTED, "GGUF version 4294967295 is not supported");
    set_u32_at(&b, 4, 0x03000000u);
    EXPECT(&b, BIBIM_ERR_UNSUPPORTED, "big-endian");
    set_u32_at(&b, 4, 2);
    EXPECT(&b, BIBIM_OK, NULL);
    bibim_gguf *g = NULL;
    CHECK(bibim_gguf_open_memory(b.data, b.len, NAME, &g) == BIBIM_OK && bibim_gguf_version(g) == 2);
    bibim_gguf_free(g);
    buf_free(&b);
    return 0;
}

static int test_huge_counts(void) {
    static const uint64_t counts[] = {UINT64_C(1) << 62, UINT64_MAX, UINT64_MAX / 14 + 1, 1000};
    buf b = {0};
    build_valid(&b);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        set_u64_at(&b, 8, counts[i]);
        EXPECT(&b, BIBIM_ERR_FORMAT, "tensor count");
        set_u64_at(&b, 8, 3);
        set_u64_at(&b, 16, counts[i]);
        EXPECT(&b, BIBIM_ERR_FORMAT, "key count");
        set_u64_at(&b, 16, 6);
    }
    /* Counts that fit the bytes one by one but not both together. */
    set_u64_at(&b, 8, b.len / 33 - 1);
    set_u64_at(&b, 16, b.len / 14 - 1);
    EXPECT(&b, BIBIM_ERR_FORMAT, "cannot fit");
    /* One key more than the file holds: the seventh "key" swallows the first
     * tensor info, and parsing fails further on. */
    set_u64_at(&b, 8, 3);
    set_u64_at(&b, 16, 7);
    EXPECT(&b, BIBIM_ERR_FORMAT, NULL);
    buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Keys and values                                                          */
/* ------------------------------------------------------------------------ */

static int test_key_lengths(void) {
    static const uint64_t lengths[] = {100, 1000000, UINT64_MAX, UINT64_MAX - 7, UINT64_C(1) << 63};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        buf b = {0};
        put_header(&b, 3, 0, 1);
        put_u64(&b, lengths[i]);
        put(&b, "general.name", 12);
        put_u32(&b, BIBIM_GGUF_UINT8);
        put_le(&b, 0, 1);
        EXPECT(&b, BIBIM_ERR_FORMAT, "past the end");
        buf_free(&b);
    }
    buf b = {0};
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "", 5);
    EXPECT(&b, BIBIM_ERR_FORMAT, "key is empty");
    buf_free(&b);
    return 0;
}

static int test_string_lengths(void) {
    static const uint64_t lengths[] = {7, 1u << 20, UINT64_MAX, UINT64_MAX - 8};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        buf b = {0};
        put_header(&b, 3, 0, 1);
        put_key(&b, "general.name", BIBIM_GGUF_STRING);
        put_u64(&b, lengths[i]);
        put(&b, "abcdef", 6);
        EXPECT(&b, BIBIM_ERR_FORMAT, "key 'general.name' (at byte 24): string at byte 48");
        buf_free(&b);
    }
    return 0;
}

static int test_unknown_value_types(void) {
    static const uint32_t types[] = {13, 14, 255, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        buf b = {0};
        char needle[128];
        put_header(&b, 3, 0, 1);
        put_key(&b, "k", types[i]);
        put_u64(&b, 0);
        snprintf(needle, sizeof needle, "value type %u (at byte 33) is unknown", types[i]);
        EXPECT(&b, BIBIM_ERR_FORMAT, needle);
        buf_free(&b);
    }
    return 0;
}

static int test_bools(void) {
    for (unsigned v = 0; v < 256; v += 85) {
        buf b = {0};
        put_header(&b, 3, 0, 1);
        put_key(&b, "flag", BIBIM_GGUF_BOOL);
        put_le(&b, v, 1);
        EXPECT(&b, v <= 1 ? BIBIM_OK : BIBIM_ERR_FORMAT, "bool at byte 40");
        buf_free(&b);
    }
    buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "flags", BIBIM_GGUF_ARRAY);
    put_u32(&b, BIBIM_GGUF_BOOL), put_u64(&b, 4), put_le(&b, 0x02010001u, 4);
    EXPECT(&b, BIBIM_ERR_FORMAT, "bool at byte 56 is 2");
    buf_free(&b);
    return 0;
}

static int test_duplicate_key(void) {
    buf b = {0};
    put_header(&b, 3, 0, 3);
    put_kv_u32(&b, "a", 1);
    put_kv_u32(&b, "same", 1);
    put_key(&b, "same", BIBIM_GGUF_STRING);
    put_str(&b, "again");
    EXPECT(&b, BIBIM_ERR_FORMAT, "key 'same' (at byte 61): duplicate key: it appeared first at byte 41");
    buf_free(&b);
    return 0;
}

/* Of several duplicates, the one whose second occurrence comes first in
 * the file is reported. */
static int test_duplicate_key_reported_in_file_order(void) {
    buf b = {0};
    put_header(&b, 3, 0, 4);
    put_kv_u32(&b, "zz", 1);
    put_kv_u32(&b, "aa", 1);
    put_kv_u32(&b, "zz", 2);
    put_kv_u32(&b, "aa", 2);
    EXPECT(&b, BIBIM_ERR_FORMAT, "key 'zz' (at byte 60): duplicate key: it appeared first at byte 24");
    buf_free(&b);
    return 0;
}

/* Many keys and tensors: every one is found, in O(log n) each. */
static int test_many_keys_and_tensors(void) {
    enum { N = 100000 };
    static const uint64_t ne[1] = {8};
    buf b = {0};
    char name[32];
    put_header(&b, 3, N, N);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "key.%u", (i * 7919u) % N);
        put_kv_u32(&b, name, i);
    }
    for (uint32_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t%u", N - i);
        put_info(&b, name, 1, ne, BIBIM_TYPE_F32, (uint64_t)i * 32);
    }
    pad_to(&b, 32);
    put_zeros(&b, (size_t)N * 32);
    bibim_gguf *g = NULL;
    CHECKF(bibim_gguf_open_memory(b.data, b.len, NAME, &g) == BIBIM_OK, "%s", bibim_gguf_errmsg(g));
    int found = 0;
    for (uint32_t i = 0; i < N; i += 997) {
        uint32_t v = 0;
        snprintf(name, sizeof name, "key.%u", (i * 7919u) % N);
        found += bibim_gguf_find_key(g, name) == (int64_t)i && bibim_gguf_get_u32(g, name, &v) == BIBIM_OK && v == i;
        snprintf(name, sizeof name, "t%u", N - i);
        found += bibim_gguf_find_tensor(g, name) == (int64_t)i;
    }
    CHECKF(found == 2 * ((N + 996) / 997), "%d found", found);
    CHECK(bibim_gguf_find_key(g, "key.100000") == -1 && bibim_gguf_find_tensor(g, "t0") == -1);
    bibim_gguf_free(g);
    buf_free(&b);
    return 0;
}

static void build_array(buf *b, uint32_t elem_type, uint64_t count) {
    put_header(b, 3, 0, 1);
    put_key(b, "arr", BIBIM_GGUF_ARRAY);
    put_u32(b, elem_type);
    put_u64(b, count);
    put_zeros(b, 64);
}

static int test_huge_arrays(void) {
    static const uint32_t types[] = {BIBIM_GGUF_UINT8, BIBIM_GGUF_UINT16, BIBIM_GGUF_FLOAT32, BIBIM_GGUF_UINT64,
                                     BIBIM_GGUF_BOOL, BIBIM_GGUF_STRING, BIBIM_GGUF_ARRAY};
    static const uint64_t counts[] = {UINT64_C(1) << 61, (UINT64_C(1) << 61) + 1, UINT64_C(1) << 62, UINT64_MAX,
                                      65, 1u << 30};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            buf b = {0};
            build_array(&b, types[t], counts[c]);
            EXPECT(&b, BIBIM_ERR_FORMAT, "key 'arr'");
            buf_free(&b);
        }
    }
    return 0;
}

static int test_unknown_array_element_type(void) {
    buf b = {0};
    build_array(&b, 13, 1);
    EXPECT(&b, BIBIM_ERR_FORMAT, "value type 13 (at byte 39) is unknown");
    buf_free(&b);
    /* The same one level down, inside an array of arrays. */
    put_header(&b, 3, 0, 1);
    put_key(&b, "arr", BIBIM_GGUF_ARRAY);
    put_u32(&b, BIBIM_GGUF_ARRAY), put_u64(&b, 2);
    put_u32(&b, BIBIM_GGUF_UINT8), put_u64(&b, 1), put_le(&b, 9, 1);
    put_u32(&b, 0xDEADu), put_u64(&b, 0);
    EXPECT(&b, BIBIM_ERR_FORMAT, "value type 57005 (at byte 64) is unknown");
    buf_free(&b);
    return 0;
}

/* An array nested `depth` levels deep: depth - 1 arrays of one array, the
 * innermost holding one uint8. */
static void build_nested(buf *b, unsigned depth) {
    put_header(b, 3, 0, 2);
    put_key(b, "deep", BIBIM_GGUF_ARRAY);
    for (unsigned i = 1; i < depth; i++) put_u32(b, BIBIM_GGUF_ARRAY), put_u64(b, 1);
    put_u32(b, BIBIM_GGUF_UINT8), put_u64(b, 1), put_le(b, 5, 1);
    put_kv_u32(b, "after", 1);
}

static int test_deep_nesting(void) {
    buf b = {0};
    build_nested(&b, 1);
    EXPECT(&b, BIBIM_OK, NULL);
    buf_free(&b);
    build_nested(&b, 8);
    EXPECT(&b, BIBIM_OK, NULL);
    buf_free(&b);
    build_nested(&b, 9);
    EXPECT(&b, BIBIM_ERR_FORMAT, "arrays are nested more than 8 deep");
    buf_free(&b);
    build_nested(&b, 100000);
    EXPECT(&b, BIBIM_ERR_FORMAT, "arrays are nested more than 8 deep");
    buf_free(&b);
    /* 100,000 levels that the file claims but does not hold. */
    put_header(&b, 3, 0, 1);
    put_key(&b, "deep", BIBIM_GGUF_ARRAY);
    for (unsigned i = 0; i < 100000; i++) put_u32(&b, BIBIM_GGUF_ARRAY), put_u64(&b, UINT64_MAX);
    EXPECT(&b, BIBIM_ERR_FORMAT, "nested arrays");
    buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* general.alignment                                                        */
/* ------------------------------------------------------------------------ */

static void build_aligned(buf *b, uint32_t alignment) {
    static const uint64_t ne[1] = {16};
    put_header(b, 3, 2, 1);
    put_kv_u32(b, "general.alignment", alignment);
    put_info(b, "x", 1, ne, BIBIM_TYPE_F32, 0);
    put_info(b, "y", 1, ne, BIBIM_TYPE_F32, alignment > 64 ? alignment : 64);
    pad_to(b, alignment >= 8 && alignment <= 4096 ? alignment : 8);
    put_zeros(b, 2 * 64 + (alignment > 64 && alignment <= 4096 ? alignment : 0));
}

static int test_alignment_values(void) {
    static const uint32_t bad[] = {0, 1, 3, 4, 7, 24, 48, 1u << 21, 1u << 31, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf b = {0};
        char needle[128];
        build_aligned(&b, bad[i]);
        snprintf(needle, sizeof needle, "alignment %u is invalid", bad[i]);
        EXPECT(&b, BIBIM_ERR_FORMAT, needle);
        buf_free(&b);
    }
    static const uint32_t good[] = {8, 16, 32, 64, 4096};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        buf b = {0};
        build_aligned(&b, good[i]);
        EXPECT(&b, BIBIM_OK, NULL);
        bibim_gguf *g = NULL;
        CHECK(bibim_gguf_open_memory(b.data, b.len, NAME, &g) == BIBIM_OK);
        CHECK(bibim_gguf_alignment(g) == good[i] && bibim_gguf_data_offset(g) % good[i] == 0);
        bibim_gguf_free(g);
        buf_free(&b);
    }
    buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "general.alignment", BIBIM_GGUF_STRING);
    put_str(&b, "32");
    EXPECT(&b, BIBIM_ERR_FORMAT, "stored as string; it must be uint32");
    buf_free(&b);
    put_header(&b, 3, 0, 1);
    put_key(&b, "general.alignment", BIBIM_GGUF_UINT64);
    put_u64(&b, 32);
    EXPECT(&b, BIBIM_ERR_FORMAT, "stored as uint64");
    buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tensor infos                                                             */
/* ------------------------------------------------------------------------ */

static int test_tensor_names(void) {
    static const uint64_t ne[1] = {8};
    buf b = {0};
    char *name = malloc(70001);
    memset(name, 'w', 70000);
    name[70000] = '\0';
    build_one_tensor(&b, name, 1, ne, BIBIM_TYPE_F32, 0, 32);
    EXPECT(&b, BIBIM_ERR_FORMAT, "the name is 70000 bytes long");
    buf_free(&b);
    name[64] = '\0';
    build_one_tensor(&b, name, 1, ne, BIBIM_TYPE_F32, 0, 32);
    EXPECT(&b, BIBIM_ERR_FORMAT, "the name is 64 bytes long");
    buf_free(&b);
    name[63] = '\0';
    build_one_tensor(&b, name, 1, ne, BIBIM_TYPE_F32, 0, 32);
    EXPECT(&b, BIBIM_OK, NULL);
    buf_free(&b);
    build_one_tensor(&b, "", 1, ne, BIBIM_TYPE_F32, 0, 32);
    EXPECT(&b, BIBIM_ERR_FORMAT, "tensor name is empty");
    buf_free(&b);
    /* A name length near 2^64. */
    put_header(&b, 3, 1, 0);
    put_u64(&b, UINT64_MAX - 2);
    put_zeros(&b, 40);
    EXPECT(&b, BIBIM_ERR_FORMAT, "tensor name at byte 24 has length");
    buf_free(&b);
    free(name);
    return 0;
}

static int test_n_dims(void) {
    static const uint32_t bad[] = {0, 5, 64, 0xFFFFFFFFu};
    static const uint64_t ne[8] = {8, 1, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf b = {0};
        char needle[128];
        build_one_tensor(&b, "t", bad[i] < 8 ? bad[i] : 0, ne, BIBIM_TYPE_F32, 0, 64);
        set_u32_at(&b, 50, bad[i]); /* header 24, key "k" 17, name "t" 9 */
        snprintf(needle, sizeof needle, "n_dims (at byte 50) is %u; it must be 1 to 4", bad[i]);
        EXPECT(&b, BIBIM_ERR_FORMAT, needle);
        buf_free(&b);
    }
    return 0;
}

static int test_dimensions(void) {
    struct {
        uint32_t n_dims;
        uint64_t ne[4];
        uint32_t type;
        const char *needle;
    } cases[] = {
        {2, {8, 0}, BIBIM_TYPE_F32, "dimension 1 (at byte 62) is 0"},
        {1, {0}, BIBIM_TYPE_F32, "dimension 0 (at byte 54) is 0"},
        {4, {8, 1, 1, 0}, BIBIM_TYPE_F32, "dimension 3 (at byte 78) is 0"},
        {2, {UINT64_C(1) << 32, UINT64_C(1) << 32}, BIBIM_TYPE_F32, "product of the dimensions overflows"},
        {4, {1u << 16, 1u << 16, 1u << 16, 1u << 16}, BIBIM_TYPE_F32, "product of the dimensions overflows"},
        {1, {UINT64_C(1) << 63}, BIBIM_TYPE_F32, "more than 2^63-1"},
        {1, {UINT64_MAX}, BIBIM_TYPE_F32, "more than 2^63-1"},
        {1, {UINT64_C(1) << 62}, BIBIM_TYPE_F32, "data size of 4611686018427387904 f32 elements overflows"},
        {2, {UINT64_C(1) << 40, 2}, BIBIM_TYPE_F32, "runs past the end of the file"},
        {1, {33}, BIBIM_TYPE_Q4_0, "ne[0] = 33 is not a multiple of the q4_0 block size 32"},
        {2, {128, 2}, BIBIM_TYPE_Q4_K, "ne[0] = 128 is not a multiple of the q4_K block size 256"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = {0};
        build_one_tensor(&b, "t", cases[i].n_dims, cases[i].ne, cases[i].type, 0, 64);
        EXPECT(&b, BIBIM_ERR_FORMAT, cases[i].needle);
        buf_free(&b);
    }
    return 0;
}

static int test_tensor_types(void) {
    static const uint32_t bad[] = {4, 5, 31, 99, 0xFFFFFFFFu};
    static const uint64_t ne[1] = {256};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf b = {0};
        char needle[128];
        build_one_tensor(&b, "t", 1, ne, bad[i], 0, 1024);
        snprintf(needle, sizeof needle, "tensor 't' (info at byte 41): tensor type %u (at byte 62) is unknown", bad[i]);
        EXPECT(&b, BIBIM_ERR_UNSUPPORTED, needle);
        buf_free(&b);
    }
    return 0;
}

static int test_offsets(void) {
    static const uint64_t ne[1] = {16};
    struct {
        uint64_t offset;
        const char *needle;
    } cases[] = {
        {16, "data offset 16 is not a multiple of the alignment 32"},
        {1, "data offset 1 is not a multiple"},
        {1u << 20, "runs past the end of the file"},
        {32, "runs past the end of the file"}, /* 64 bytes at 32 in a 64-byte data section */
        {UINT64_MAX - 31, "wraps around"},
        {UINT64_MAX - 63, "wraps around"},
        {UINT64_C(1) << 63, "runs past the end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = {0};
        build_one_tensor(&b, "t", 1, ne, BIBIM_TYPE_F32, cases[i].offset, 64);
        EXPECT(&b, BIBIM_ERR_FORMAT, cases[i].needle);
        buf_free(&b);
    }
    return 0;
}

static void build_two_tensors(buf *b, const char *name_a, uint64_t offset_a, const char *name_b, uint64_t offset_b) {
    static const uint64_t ne_a[1] = {16}, ne_b[1] = {8}; /* 64 and 32 bytes */
    put_header(b, 3, 2, 0);
    put_info(b, name_a, 1, ne_a, BIBIM_TYPE_F32, offset_a);
    put_info(b, name_b, 1, ne_b, BIBIM_TYPE_F32, offset_b);
    pad_to(b, 32);
    put_zeros(b, 256);
}

static int test_duplicate_and_overlapping_tensors(void) {
    buf b = {0};
    build_two_tensors(&b, "same", 0, "same", 64);
    EXPECT(&b, BIBIM_ERR_FORMAT, "tensor 'same' (info at byte 60): duplicate tensor name: the tensor whose info is at byte 24");
    buf_free(&b);
    build_two_tensors(&b, "a", 0, "b", 32);
    EXPECT(&b, BIBIM_ERR_FORMAT, "tensor 'b' (info at byte 57): its data (offset 32) overlaps the data of tensor 'a' (offset 0, 64 bytes)");
    buf_free(&b);
    build_two_tensors(&b, "a", 64, "b", 64);
    EXPECT(&b, BIBIM_ERR_FORMAT, "overlaps the data of tensor 'a'");
    buf_free(&b);
    build_two_tensors(&b, "a", 96, "b", 64); /* listed out of order, b's 32 bytes end where a begins */
    EXPECT(&b, BIBIM_OK, NULL);
    buf_free(&b);
    build_two_tensors(&b, "a", 64, "b", 96); /* b starts inside a, listed in order of offset */
    EXPECT(&b, BIBIM_ERR_FORMAT, "tensor 'b' (info at byte 57): its data (offset 96) overlaps");
    buf_free(&b);
    build_two_tensors(&b, "a", 128, "b", 0);
    EXPECT(&b, BIBIM_OK, NULL);
    buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Truncation and mutation                                                  */
/* ------------------------------------------------------------------------ */

static int test_truncation_at_every_byte(void) {
    buf b = {0};
    build_valid(&b);
    EXPECT(&b, BIBIM_OK, NULL);
    size_t full = b.len;
    for (size_t len = 0; len < full; len++) {
        b.len = len;
        EXPECT(&b, BIBIM_ERR_FORMAT, NULL);
        if (len % 23 == 0) EXPECT_FILE(&b, BIBIM_ERR_FORMAT, NULL);
    }
    b.len = full;
    buf_free(&b);
    return 0;
}

static uint64_t xorshift(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Random byte edits of the valid file: whatever they produce must be
 * refused cleanly or, when valid, be safe to walk entirely. */
static int test_random_mutations(void) {
    buf b = {0};
    build_valid(&b);
    uint64_t state = 0x9e3779b97f4a7c15u;
    int opened = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t *copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        int edits = 1 + (int)(xorshift(&state) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = xorshift(&state);
            copy[r % b.len] = (r >> 32) % 3 == 0 ? 0xFF : (uint8_t)(r >> 40);
        }
        bibim_gguf *g = NULL;
        bibim_status st = bibim_gguf_open_memory(copy, b.len, NAME, &g);
        CHECK(g != NULL);
        CHECK(st == BIBIM_OK || bibim_gguf_errmsg(g)[0] != '\0');
        if (st == BIBIM_OK) {
            opened++;
            walk_everything(g);
        }
        bibim_gguf_free(g);
        free(copy);
    }
    printf("  %d of 20000 mutated files were still valid\n", opened);
    buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Real files                                                               */
/* ------------------------------------------------------------------------ */

static int test_unopenable_paths(void) {
    bibim_gguf *g = NULL;
    CHECK(bibim_gguf_open("/nonexistent/model.gguf", &g) == BIBIM_ERR_IO);
    CHECK(strstr(bibim_gguf_errmsg(g), "/nonexistent/model.gguf: cannot open") != NULL);
    bibim_gguf_free(g);
    CHECK(bibim_gguf_open(tmp_dir, &g) == BIBIM_ERR_IO);
    CHECK(strstr(bibim_gguf_errmsg(g), "not a regular file") != NULL);
    bibim_gguf_free(g);
    CHECK(bibim_gguf_open(NULL, &g) == BIBIM_ERR_INVALID_ARG && g != NULL);
    bibim_gguf_free(g);
    CHECK(bibim_gguf_open("x", NULL) == BIBIM_ERR_INVALID_ARG);
    return 0;
}

static int test_hostile_through_files(void) {
    static const uint64_t ne[1] = {16};
    buf b = {0};
    build_one_tensor(&b, "t", 1, ne, BIBIM_TYPE_F32, 16, 64);
    EXPECT_FILE(&b, BIBIM_ERR_FORMAT, "tensor 't' (info at byte 41): data offset 16 is not a multiple");
    buf_free(&b);
    build_nested(&b, 100000);
    EXPECT_FILE(&b, BIBIM_ERR_FORMAT, "nested more than 8 deep");
    buf_free(&b);
    build_array(&b, BIBIM_GGUF_STRING, UINT64_C(1) << 61);
    EXPECT_FILE(&b, BIBIM_ERR_FORMAT, "strings at byte 51 cannot fit");
    buf_free(&b);
    build_one_tensor(&b, "t", 1, ne, 99, 0, 64);
    EXPECT_FILE(&b, BIBIM_ERR_UNSUPPORTED, "tensor type 99");
    buf_free(&b);
    return 0;
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/bibim-test-hostile-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_valid_base_file_opens);
    RUN(test_empty_and_tiny_files);
    RUN(test_bad_magic);
    RUN(test_versions);
    RUN(test_huge_counts);
    RUN(test_key_lengths);
    RUN(test_string_lengths);
    RUN(test_unknown_value_types);
    RUN(test_bools);
    RUN(test_duplicate_key);
    RUN(test_duplicate_key_reported_in_file_order);
    RUN(test_many_keys_and_tensors);
    RUN(test_huge_arrays);
    RUN(test_unknown_array_element_type);
    RUN(test_deep_nesting);
    RUN(test_alignment_values);
    RUN(test_tensor_names);
    RUN(test_n_dims);
    RUN(test_dimensions);
    RUN(test_tensor_types);
    RUN(test_offsets);
    RUN(test_duplicate_and_overlapping_tensors);
    RUN(test_truncation_at_every_byte);
    RUN(test_random_mutations);
    RUN(test_unopenable_paths);
    RUN(test_hostile_through_files);
    rmdir(tmp_dir);
    return harness_finish();
}
