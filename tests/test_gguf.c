/* test_gguf.c — the GGUF reader on real files (values cross-checked with an
 * independent parser), typed getters and their mismatches, and the writer:
 * round trips of every value type and several tensor types, alignment,
 * the .tmp protocol, copy_kv of whole real files, and its argument checks. */
#include "bibim.h"
#include "harness.h"

#include <stdint.h>
#include <unistd.h>

#define STORIES SHARED_DIR "/models/stories260K.gguf"
#define TINY_RANDOM SHARED_DIR "/models/llama-2-tiny-random.gguf"
#define QUANT_DIR SHARED_DIR "/refs/quant"

static char tmp_dir[64];

static void tmp_path(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", tmp_dir, name); }

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int str_eq(bibim_str s, const char *want) { return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0; }

static uint32_t crc32_of(const void *data, uint64_t n) {
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;
    for (uint64_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static unsigned char *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

static bibim_gguf *open_checked(const char *path) {
    bibim_gguf *g = NULL;
    bibim_status st = bibim_gguf_open(path, &g);
    CHECKF(st == BIBIM_OK, "%s: %s", path, bibim_gguf_errmsg(g));
    if (st != BIBIM_OK) {
        bibim_gguf_free(g);
        return NULL;
    }
    return g;
}

/* ------------------------------------------------------------------------ */
/* Real files                                                               */
/* ------------------------------------------------------------------------ */

static void check_u32(bibim_gguf *g, const char *key, uint32_t want) {
    uint32_t v = 0;
    bibim_status st = bibim_gguf_get_u32(g, key, &v);
    CHECKF(st == BIBIM_OK && v == want, "%s: status %d value %u want %u (%s)", key, st, v, want,
           bibim_gguf_errmsg(g));
}

static void check_str(bibim_gguf *g, const char *key, const char *want) {
    bibim_str s = {0};
    bibim_status st = bibim_gguf_get_str(g, key, &s);
    CHECKF(st == BIBIM_OK && str_eq(s, want), "%s: status %d (%s)", key, st, bibim_gguf_errmsg(g));
}

static int test_stories_header_and_metadata(void) {
    SKIP_UNLESS_FILE(STORIES);
    bibim_gguf *g = open_checked(STORIES);
    if (!g) return 0;
    CHECK(bibim_gguf_version(g) == 3);
    CHECK(bibim_gguf_n_kv(g) == 19);
    CHECK(bibim_gguf_n_tensors(g) == 48);
    CHECK(bibim_gguf_alignment(g) == 32);
    CHECK(bibim_gguf_file_size(g) == 1185376);
    CHECK(bibim_gguf_data_offset(g) == 14176);
    CHECK(str_eq(bibim_gguf_key(g, 0), "tokenizer.ggml.tokens"));
    CHECK(str_eq(bibim_gguf_key(g, 18), "llama.attention.layer_norm_rms_epsilon"));
    CHECK(bibim_gguf_key(g, 19).ptr == NULL);
    check_str(g, "general.architecture", "llama");
    check_str(g, "general.name", "llama");
    check_str(g, "tokenizer.ggml.model", "llama");
    check_u32(g, "llama.embedding_length", 64);
    check_u32(g, "llama.block_count", 5);
    check_u32(g, "llama.context_length", 2048);
    check_u32(g, "llama.feed_forward_length", 172);
    check_u32(g, "llama.attention.head_count", 8);
    check_u32(g, "llama.attention.head_count_kv", 4);
    check_u32(g, "llama.rope.dimension_count", 8);
    check_u32(g, "tokenizer.ggml.bos_token_id", 1);
    check_u32(g, "tokenizer.ggml.eos_token_id", 2);
    check_u32(g, "tokenizer.ggml.seperator_token_id", 4294967295u);
    float eps = 0;
    CHECK(bibim_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps) == BIBIM_OK && eps == 1e-5f);
    int64_t i = 0;
    double d = 0;
    CHECK(bibim_gguf_get_int(g, "llama.embedding_length", &i) == BIBIM_OK && i == 64);
    CHECK(bibim_gguf_get_int(g, "tokenizer.ggml.padding_token_id", &i) == BIBIM_OK && i == 4294967295);
    CHECK(bibim_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &d) == BIBIM_OK && d == (double)1e-5f);
    CHECK(bibim_gguf_get_float(g, "llama.block_count", &d) == BIBIM_OK && d == 5.0);
    bibim_gguf_free(g);
    return 0;
}

static int test_stories_vocab(void) {
    SKIP_UNLESS_FILE(STORIES);
    bibim_gguf *g = open_checked(STORIES);
    if (!g) return 0;
    uint64_t n = 0;
    CHECK(bibim_gguf_get_arr_str_len(g, "tokenizer.ggml.tokens", &n) == BIBIM_OK && n == 512);
    int64_t k = bibim_gguf_find_key(g, "tokenizer.ggml.tokens");
    CHECK(k == 0);
    CHECK(bibim_gguf_kv_type(g, k) == BIBIM_GGUF_ARRAY);
    CHECK(bibim_gguf_kv_elem_type(g, k) == BIBIM_GGUF_STRING);
    CHECK(bibim_gguf_kv_len(g, k) == 512);
    bibim_str s = {0};
    CHECK(bibim_gguf_arr_str(g, k, 0, &s) == BIBIM_OK && str_eq(s, "<unk>"));
    CHECK(bibim_gguf_arr_str(g, k, 1, &s) == BIBIM_OK && str_eq(s, "<s>"));
    CHECK(bibim_gguf_arr_str(g, k, 2, &s) == BIBIM_OK && str_eq(s, "</s>"));
    CHECK(bibim_gguf_arr_str(g, k, 100, &s) == BIBIM_OK && str_eq(s, "<0x61>"));
    CHECK(bibim_gguf_arr_str(g, k, 511, &s) == BIBIM_OK && str_eq(s, "\xe2\x80\x8a"));
    CHECK(bibim_gguf_arr_str(g, k, 512, &s) == BIBIM_ERR_INVALID_ARG);
    const void *data = NULL;
    CHECK(bibim_gguf_get_arr(g, "tokenizer.ggml.scores", BIBIM_GGUF_FLOAT32, &data, &n) == BIBIM_OK && n == 512);
    float score = 1;
    memcpy(&score, (const char *)data + 511 * 4, 4);
    CHECK(score == -252.0f);
    int64_t ks = bibim_gguf_find_key(g, "tokenizer.ggml.scores");
    CHECK(bibim_gguf_arr_f32(g, ks, 511, &score) == BIBIM_OK && score == -252.0f);
    CHECK(bibim_gguf_arr_f32(g, ks, 0, &score) == BIBIM_OK && score == 0.0f);
    int64_t kt = bibim_gguf_find_key(g, "tokenizer.ggml.token_type");
    int32_t tt = 0;
    CHECK(bibim_gguf_kv_elem_type(g, kt) == BIBIM_GGUF_INT32);
    CHECK(bibim_gguf_arr_i32(g, kt, 0, &tt) == BIBIM_OK && tt == 2);
    CHECK(bibim_gguf_arr_i32(g, kt, 1, &tt) == BIBIM_OK && tt == 3);
    CHECK(bibim_gguf_arr_i32(g, kt, 100, &tt) == BIBIM_OK && tt == 6);
    bibim_gguf_free(g);
    return 0;
}

static int test_stories_tensors(void) {
    SKIP_UNLESS_FILE(STORIES);
    bibim_gguf *g = open_checked(STORIES);
    if (!g) return 0;
    bibim_tensor_info t;
    CHECK(bibim_gguf_tensor(g, 0, &t) == BIBIM_OK);
    CHECK(str_eq(t.name, "token_embd.weight") && t.type == BIBIM_TYPE_F32 && t.n_dims == 2);
    CHECK(t.ne[0] == 64 && t.ne[1] == 512 && t.ne[2] == 1 && t.ne[3] == 1);
    CHECK(t.n_elems == 32768 && t.n_bytes == 131072 && t.offset == 0);
    float first[4];
    memcpy(first, t.data, sizeof first);
    CHECK(first[0] == -0.29474878311157227f && first[3] == 0.34057360887527466f);
    CHECK(crc32_of(t.data, t.n_bytes) == 696204196u);
    CHECK(bibim_gguf_find_tensor(g, "output_norm.weight") == 1);
    CHECK(bibim_gguf_tensor(g, 1, &t) == BIBIM_OK && t.n_dims == 1 && t.ne[0] == 64 && t.offset == 131072);
    CHECK(bibim_gguf_tensor(g, 47, &t) == BIBIM_OK && str_eq(t.name, "blk.4.ffn_norm.weight"));
    CHECK(t.offset == 1170944 && crc32_of(t.data, t.n_bytes) == 864806022u);
    CHECK(bibim_gguf_find_tensor(g, "no.such.tensor") == -1);
    CHECK(bibim_gguf_tensor(g, 48, &t) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_tensor(g, -1, &t) == BIBIM_ERR_INVALID_ARG);
    for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) {
        CHECK(bibim_gguf_tensor(g, i, &t) == BIBIM_OK);
        CHECK((uintptr_t)t.data % 32 == 0);
        CHECK(t.n_bytes == t.n_elems * 4);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t.name.len, t.name.ptr);
        CHECK(bibim_gguf_find_tensor(g, name) == i);
    }
    bibim_gguf_free(g);
    return 0;
}

static int test_tiny_random_vocab_and_f16(void) {
    SKIP_UNLESS_FILE(TINY_RANDOM);
    bibim_gguf *g = open_checked(TINY_RANDOM);
    if (!g) return 0;
    CHECK(bibim_gguf_n_kv(g) == 18 && bibim_gguf_n_tensors(g) == 12);
    CHECK(bibim_gguf_data_offset(g) == 724416);
    check_str(g, "general.name", "LLaMA v2");
    check_u32(g, "llama.embedding_length", 8);
    check_u32(g, "general.file_type", 1);
    int64_t k = bibim_gguf_find_key(g, "tokenizer.ggml.tokens");
    CHECK(bibim_gguf_kv_len(g, k) == 32000);
    bibim_str s = {0};
    CHECK(bibim_gguf_arr_str(g, k, 31999, &s) == BIBIM_OK && str_eq(s, "\xe7\xbb\x99"));
    CHECK(bibim_gguf_arr_str(g, k, 1, &s) == BIBIM_OK && str_eq(s, "<s>"));
    float score = 0;
    CHECK(bibim_gguf_arr_f32(g, bibim_gguf_find_key(g, "tokenizer.ggml.scores"), 31999, &score) == BIBIM_OK);
    CHECK(score == -31740.0f);
    bibim_tensor_info t;
    CHECK(bibim_gguf_tensor(g, 0, &t) == BIBIM_OK && t.type == BIBIM_TYPE_F16);
    CHECK(t.ne[0] == 8 && t.ne[1] == 32000 && t.n_bytes == 512000);
    CHECK(bibim_gguf_tensor(g, 11, &t) == BIBIM_OK && str_eq(t.name, "output.weight") && t.offset == 514144);
    bibim_gguf_free(g);
    return 0;
}

static int test_quantized_reference_files(void) {
    static const char *const names[] = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                                        "Q2_K", "Q3_K_S", "Q4_K_S", "Q5_K_S", "Q6_K", "Q4_K_M", "f32"};
    SKIP_UNLESS_FILE(QUANT_DIR "/tiny-Q4_K_M.gguf");
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s/tiny-%s.gguf", QUANT_DIR, names[f]);
        bibim_gguf *g = open_checked(path);
        if (!g) continue;
        CHECKF(bibim_gguf_n_tensors(g) == 21, "%s", path);
        uint64_t end = 0;
        for (int64_t i = 0; i < bibim_gguf_n_tensors(g); i++) {
            bibim_tensor_info t;
            CHECK(bibim_gguf_tensor(g, i, &t) == BIBIM_OK);
            int64_t row = bibim_type_row_bytes(t.type, t.ne[0]);
            CHECKF(row > 0 && t.n_bytes == (uint64_t)row * t.ne[1] * t.ne[2] * t.ne[3], "%s tensor %lld", path,
                   (long long)i);
            if (t.offset + t.n_bytes > end) end = t.offset + t.n_bytes;
        }
        CHECKF(bibim_gguf_data_offset(g) + end == bibim_gguf_file_size(g), "%s", path);
        bibim_gguf_free(g);
    }
    bibim_gguf *g = open_checked(QUANT_DIR "/tiny-Q4_K_M.gguf");
    if (!g) return 0;
    check_u32(g, "general.file_type", 15);
    check_u32(g, "general.quantization_version", 2);
    check_str(g, "general.name", "synth-tiny-llama-256x2");
    bibim_tensor_info t;
    CHECK(bibim_gguf_tensor(g, bibim_gguf_find_tensor(g, "output.weight"), &t) == BIBIM_OK);
    CHECK(t.type == BIBIM_TYPE_Q6_K && t.n_bytes == 107520);
    CHECK(bibim_gguf_tensor(g, bibim_gguf_find_tensor(g, "token_embd.weight"), &t) == BIBIM_OK);
    CHECK(t.type == BIBIM_TYPE_Q4_K && t.offset == 108544);
    bibim_gguf_free(g);
    return 0;
}

static int test_open_memory_matches_open(void) {
    SKIP_UNLESS_FILE(STORIES);
    size_t size = 0;
    unsigned char *bytes = read_whole_file(STORIES, &size);
    CHECK(bytes != NULL);
    if (!bytes) return 0;
    bibim_gguf *g = NULL;
    CHECK(bibim_gguf_open_memory(bytes, size, "stories-in-memory", &g) == BIBIM_OK);
    CHECK(bibim_gguf_n_kv(g) == 19 && bibim_gguf_n_tensors(g) == 48 && bibim_gguf_file_size(g) == size);
    bibim_tensor_info t;
    CHECK(bibim_gguf_tensor(g, 0, &t) == BIBIM_OK && (const unsigned char *)t.data == bytes + 14176);
    uint32_t v;
    CHECK(bibim_gguf_get_u32(g, "general.name", &v) == BIBIM_ERR_TYPE);
    CHECK(strncmp(bibim_gguf_errmsg(g), "stories-in-memory: ", 19) == 0);
    bibim_gguf_free(g);
    free(bytes);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Getter mismatches                                                        */
/* ------------------------------------------------------------------------ */

static void check_message(bibim_gguf *g, const char *a, const char *b, const char *c) {
    const char *m = bibim_gguf_errmsg(g);
    CHECKF(strstr(m, a) && strstr(m, b) && (!c || strstr(m, c)), "message '%s' lacks '%s'/'%s'/'%s'", m, a, b,
           c ? c : "");
}

static int test_getter_type_mismatches(void) {
    SKIP_UNLESS_FILE(STORIES);
    bibim_gguf *g = open_checked(STORIES);
    if (!g) return 0;
    uint32_t u32;
    int32_t i32;
    float f32;
    bibim_str s;
    int b;
    int64_t i64;
    const void *data;
    uint64_t n;
    CHECK(bibim_gguf_get_u32(g, "general.name", &u32) == BIBIM_ERR_TYPE);
    check_message(g, "'general.name'", "string", "uint32");
    CHECK(bibim_gguf_get_str(g, "llama.block_count", &s) == BIBIM_ERR_TYPE);
    check_message(g, "'llama.block_count'", "uint32", "string");
    CHECK(bibim_gguf_get_i32(g, "llama.block_count", &i32) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_bool(g, "llama.block_count", &b) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_f32(g, "llama.block_count", &f32) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_u32(g, "tokenizer.ggml.tokens", &u32) == BIBIM_ERR_TYPE);
    check_message(g, "tokenizer.ggml.tokens", "array of string", "uint32");
    CHECK(bibim_gguf_get_arr(g, "tokenizer.ggml.scores", BIBIM_GGUF_INT32, &data, &n) == BIBIM_ERR_TYPE);
    check_message(g, "tokenizer.ggml.scores", "array of float32", "array of int32");
    CHECK(bibim_gguf_get_arr(g, "tokenizer.ggml.token_type", BIBIM_GGUF_FLOAT32, &data, &n) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_arr(g, "tokenizer.ggml.tokens", BIBIM_GGUF_STRING, &data, &n) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_get_arr(g, "llama.block_count", BIBIM_GGUF_UINT32, &data, &n) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_arr_str_len(g, "tokenizer.ggml.scores", &n) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_int(g, "general.name", &i64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_int(g, "tokenizer.ggml.scores", &i64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_u32(g, "no.such.key", &u32) == BIBIM_ERR_NOT_FOUND);
    check_message(g, "'no.such.key'", "not found", NULL);
    CHECK(bibim_gguf_get_str(g, "general.name", NULL) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_get_str(g, NULL, &s) == BIBIM_ERR_INVALID_ARG);
    int64_t ks = bibim_gguf_find_key(g, "tokenizer.ggml.scores");
    int64_t kt = bibim_gguf_find_key(g, "tokenizer.ggml.token_type");
    CHECK(bibim_gguf_arr_str(g, ks, 0, &s) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_arr_f32(g, kt, 0, &f32) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_arr_u32(g, kt, 0, &u32) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_arr_i32(g, ks, 0, &i32) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_arr_i32(g, kt, 512, &i32) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_arr_i32(g, 99, 0, &i32) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_arr_i32(g, -1, 0, &i32) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_arr_f32(g, bibim_gguf_find_key(g, "llama.block_count"), 0, &f32) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_kv_len(g, 99) == 0 && bibim_gguf_key(g, -1).ptr == NULL);
    CHECK(bibim_gguf_find_key(g, "") == -1 && bibim_gguf_find_key(g, NULL) == -1);
    bibim_gguf_free(g);
    /* NULL handles are harmless. */
    CHECK(bibim_gguf_n_kv(NULL) == 0 && bibim_gguf_n_tensors(NULL) == 0 && bibim_gguf_find_key(NULL, "x") == -1);
    CHECK(bibim_gguf_get_u32(NULL, "x", &u32) == BIBIM_ERR_INVALID_ARG);
    bibim_gguf_free(NULL);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writer round trips                                                       */
/* ------------------------------------------------------------------------ */

typedef struct rt_tensor {
    const char *name;
    bibim_type type;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t n_bytes;
} rt_tensor;

static const rt_tensor rt_tensors[] = {
    {"weights.f32", BIBIM_TYPE_F32, 2, {8, 3, 1, 1}, 96},
    {"weights.q4_0", BIBIM_TYPE_Q4_0, 2, {64, 2, 1, 1}, 72},
    {"weights.q8_0", BIBIM_TYPE_Q8_0, 1, {32, 1, 1, 1}, 34},
    {"weights.f16", BIBIM_TYPE_F16, 3, {4, 2, 3, 1}, 48},
    {"weights.q4_k", BIBIM_TYPE_Q4_K, 4, {256, 1, 1, 2}, 288},
};
#define N_RT_TENSORS (sizeof rt_tensors / sizeof rt_tensors[0])

static uint8_t rt_byte(size_t tensor, uint64_t i) { return (uint8_t)(i * 31 + tensor * 7 + 1); }

static const uint8_t rt_u8[3] = {0, 1, 255};
static const int8_t rt_i8[3] = {-128, 0, 127};
static const uint16_t rt_u16[3] = {0, 1234, 65535};
static const int16_t rt_i16[3] = {-32768, -1, 32767};
static const uint32_t rt_u32[3] = {0, 123456789, 4294967295u};
static const int32_t rt_i32[3] = {INT32_MIN, -5, INT32_MAX};
static const float rt_f32[3] = {-1.5f, 0.0f, 3.0e38f};
static const uint8_t rt_bool[3] = {1, 0, 1};
static const uint64_t rt_u64[3] = {0, 1, UINT64_MAX};
static const int64_t rt_i64[3] = {INT64_MIN, 0, INT64_MAX};
static const double rt_f64[3] = {-1e-300, 0.5, 1e300};

typedef struct rt_array {
    const char *key;
    bibim_gguf_type type;
    const void *data;
    size_t elem_size;
} rt_array;

static const rt_array rt_arrays[] = {
    {"rt.arr.u8", BIBIM_GGUF_UINT8, rt_u8, 1},       {"rt.arr.i8", BIBIM_GGUF_INT8, rt_i8, 1},
    {"rt.arr.u16", BIBIM_GGUF_UINT16, rt_u16, 2},    {"rt.arr.i16", BIBIM_GGUF_INT16, rt_i16, 2},
    {"rt.arr.u32", BIBIM_GGUF_UINT32, rt_u32, 4},    {"rt.arr.i32", BIBIM_GGUF_INT32, rt_i32, 4},
    {"rt.arr.f32", BIBIM_GGUF_FLOAT32, rt_f32, 4},   {"rt.arr.bool", BIBIM_GGUF_BOOL, rt_bool, 1},
    {"rt.arr.u64", BIBIM_GGUF_UINT64, rt_u64, 8},    {"rt.arr.i64", BIBIM_GGUF_INT64, rt_i64, 8},
    {"rt.arr.f64", BIBIM_GGUF_FLOAT64, rt_f64, 8},
};
#define N_RT_ARRAYS (sizeof rt_arrays / sizeof rt_arrays[0])

static char rt_long_string[301];
static const bibim_str rt_strings[4] = {{"a", 1}, {"", 0}, {"x\0y", 3}, {rt_long_string, 300}};

static bibim_status rt_set_metadata(bibim_gguf_writer *w) {
    bibim_status st = BIBIM_OK;
    memset(rt_long_string, 'z', 300);
    st |= bibim_gguf_writer_set_u8(w, "rt.u8", 200);
    st |= bibim_gguf_writer_set_i8(w, "rt.i8", -100);
    st |= bibim_gguf_writer_set_u16(w, "rt.u16", 60000);
    st |= bibim_gguf_writer_set_i16(w, "rt.i16", -30000);
    st |= bibim_gguf_writer_set_u32(w, "rt.u32", 4000000000u);
    st |= bibim_gguf_writer_set_i32(w, "rt.i32", -2000000000);
    st |= bibim_gguf_writer_set_u64(w, "rt.u64", 0x8000000000000005u);
    st |= bibim_gguf_writer_set_i64(w, "rt.i64", -(INT64_C(1) << 62));
    st |= bibim_gguf_writer_set_f32(w, "rt.f32", 3.25f);
    st |= bibim_gguf_writer_set_f64(w, "rt.f64", -1e300);
    st |= bibim_gguf_writer_set_bool(w, "rt.bool", 1);
    st |= bibim_gguf_writer_set_str(w, "rt.str", "h\xc3\xa9llo");
    for (size_t i = 0; i < N_RT_ARRAYS; i++) {
        st |= bibim_gguf_writer_set_arr(w, rt_arrays[i].key, rt_arrays[i].type, rt_arrays[i].data, 3);
    }
    st |= bibim_gguf_writer_set_arr_str(w, "rt.arr.str", rt_strings, 4);
    st |= bibim_gguf_writer_set_arr(w, "rt.arr.empty", BIBIM_GGUF_UINT32, NULL, 0);
    st |= bibim_gguf_writer_set_arr_str(w, "rt.arr.str_empty", NULL, 0);
    return st;
}
#define RT_N_KV (12 + N_RT_ARRAYS + 3)

/* Writes every tensor in pieces of 7 bytes. */
static bibim_status rt_write_tensors(bibim_gguf_writer *w) {
    for (size_t t = 0; t < N_RT_TENSORS; t++) {
        uint8_t piece[7];
        for (uint64_t at = 0; at < rt_tensors[t].n_bytes; at += sizeof piece) {
            uint64_t n = rt_tensors[t].n_bytes - at < sizeof piece ? rt_tensors[t].n_bytes - at : sizeof piece;
            for (uint64_t i = 0; i < n; i++) piece[i] = rt_byte(t, at + i);
            bibim_status st = bibim_gguf_writer_write_tensor(w, piece, n);
            if (st != BIBIM_OK) return st;
        }
    }
    return BIBIM_OK;
}

static bibim_status rt_write_file(const char *path, uint32_t alignment) {
    bibim_gguf_writer *w = NULL;
    bibim_status st = bibim_gguf_writer_create(&w);
    if (st != BIBIM_OK) return st;
    st = rt_set_metadata(w);
    if (alignment) st |= bibim_gguf_writer_set_u32(w, "general.alignment", alignment);
    for (size_t t = 0; t < N_RT_TENSORS && st == BIBIM_OK; t++) {
        st = bibim_gguf_writer_add_tensor(w, rt_tensors[t].name, rt_tensors[t].type, rt_tensors[t].n_dims,
                                          rt_tensors[t].ne);
    }
    if (st == BIBIM_OK) st = bibim_gguf_writer_begin(w, path);
    if (st == BIBIM_OK) st = rt_write_tensors(w);
    if (st == BIBIM_OK) st = bibim_gguf_writer_finish(w);
    CHECKF(st == BIBIM_OK, "writer: %s", bibim_gguf_writer_errmsg(w));
    bibim_gguf_writer_free(w);
    return st;
}

static void rt_check_scalars(bibim_gguf *g) {
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
    CHECK(bibim_gguf_get_u8(g, "rt.u8", &u8) == BIBIM_OK && u8 == 200);
    CHECK(bibim_gguf_get_i8(g, "rt.i8", &i8) == BIBIM_OK && i8 == -100);
    CHECK(bibim_gguf_get_u16(g, "rt.u16", &u16) == BIBIM_OK && u16 == 60000);
    CHECK(bibim_gguf_get_i16(g, "rt.i16", &i16) == BIBIM_OK && i16 == -30000);
    CHECK(bibim_gguf_get_u32(g, "rt.u32", &u32) == BIBIM_OK && u32 == 4000000000u);
    CHECK(bibim_gguf_get_i32(g, "rt.i32", &i32) == BIBIM_OK && i32 == -2000000000);
    CHECK(bibim_gguf_get_u64(g, "rt.u64", &u64) == BIBIM_OK && u64 == 0x8000000000000005u);
    CHECK(bibim_gguf_get_i64(g, "rt.i64", &i64) == BIBIM_OK && i64 == -(INT64_C(1) << 62));
    CHECK(bibim_gguf_get_f32(g, "rt.f32", &f32) == BIBIM_OK && f32 == 3.25f);
    CHECK(bibim_gguf_get_f64(g, "rt.f64", &f64) == BIBIM_OK && f64 == -1e300);
    CHECK(bibim_gguf_get_bool(g, "rt.bool", &b) == BIBIM_OK && b == 1);
    CHECK(bibim_gguf_get_str(g, "rt.str", &s) == BIBIM_OK && str_eq(s, "h\xc3\xa9llo"));
    /* The lenient getters. */
    CHECK(bibim_gguf_get_int(g, "rt.i8", &i64) == BIBIM_OK && i64 == -100);
    CHECK(bibim_gguf_get_int(g, "rt.u32", &i64) == BIBIM_OK && i64 == 4000000000);
    CHECK(bibim_gguf_get_int(g, "rt.i16", &i64) == BIBIM_OK && i64 == -30000);
    CHECK(bibim_gguf_get_int(g, "rt.u64", &i64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_int(g, "rt.bool", &i64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_int(g, "rt.f32", &i64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_float(g, "rt.u64", &f64) == BIBIM_OK && f64 == 9223372036854775808.0);
    CHECK(bibim_gguf_get_float(g, "rt.i32", &f64) == BIBIM_OK && f64 == -2000000000.0);
    CHECK(bibim_gguf_get_float(g, "rt.f64", &f64) == BIBIM_OK && f64 == -1e300);
    CHECK(bibim_gguf_get_float(g, "rt.str", &f64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_float(g, "rt.bool", &f64) == BIBIM_ERR_TYPE);
    /* Each scalar asked for as the wrong width is a type error. */
    CHECK(bibim_gguf_get_u16(g, "rt.u8", &u16) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_i64(g, "rt.u64", &i64) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_f64(g, "rt.f32", &f64) == BIBIM_ERR_TYPE);
}

static void rt_check_arrays(bibim_gguf *g) {
    for (size_t i = 0; i < N_RT_ARRAYS; i++) {
        const void *data = NULL;
        uint64_t n = 0;
        bibim_status st = bibim_gguf_get_arr(g, rt_arrays[i].key, rt_arrays[i].type, &data, &n);
        CHECKF(st == BIBIM_OK && n == 3 && memcmp(data, rt_arrays[i].data, 3 * rt_arrays[i].elem_size) == 0, "%s",
               rt_arrays[i].key);
        int64_t k = bibim_gguf_find_key(g, rt_arrays[i].key);
        CHECK(bibim_gguf_kv_type(g, k) == BIBIM_GGUF_ARRAY && bibim_gguf_kv_elem_type(g, k) == rt_arrays[i].type);
        CHECK(bibim_gguf_kv_len(g, k) == 3);
        /* One wrong element type per array. */
        bibim_gguf_type other = rt_arrays[i].type == BIBIM_GGUF_UINT8 ? BIBIM_GGUF_INT8 : BIBIM_GGUF_UINT8;
        CHECK(bibim_gguf_get_arr(g, rt_arrays[i].key, other, &data, &n) == BIBIM_ERR_TYPE);
    }
    float f;
    int32_t i32;
    uint32_t u32;
    CHECK(bibim_gguf_arr_f32(g, bibim_gguf_find_key(g, "rt.arr.f32"), 2, &f) == BIBIM_OK && f == 3.0e38f);
    CHECK(bibim_gguf_arr_i32(g, bibim_gguf_find_key(g, "rt.arr.i32"), 0, &i32) == BIBIM_OK && i32 == INT32_MIN);
    CHECK(bibim_gguf_arr_u32(g, bibim_gguf_find_key(g, "rt.arr.u32"), 2, &u32) == BIBIM_OK && u32 == 4294967295u);
    int64_t ks = bibim_gguf_find_key(g, "rt.arr.str");
    uint64_t n = 0;
    CHECK(bibim_gguf_get_arr_str_len(g, "rt.arr.str", &n) == BIBIM_OK && n == 4);
    for (uint64_t i = 0; i < 4; i++) {
        bibim_str s = {0};
        CHECK(bibim_gguf_arr_str(g, ks, i, &s) == BIBIM_OK && s.len == rt_strings[i].len);
        CHECK(s.len == 0 || memcmp(s.ptr, rt_strings[i].ptr, s.len) == 0);
    }
    CHECK(bibim_gguf_get_arr_str_len(g, "rt.arr.str_empty", &n) == BIBIM_OK && n == 0);
    const void *data = NULL;
    CHECK(bibim_gguf_get_arr(g, "rt.arr.empty", BIBIM_GGUF_UINT32, &data, &n) == BIBIM_OK && n == 0);
    CHECK(bibim_gguf_arr_u32(g, bibim_gguf_find_key(g, "rt.arr.empty"), 0, &u32) == BIBIM_ERR_INVALID_ARG);
}

static void rt_check_tensors(bibim_gguf *g, uint32_t alignment) {
    CHECK(bibim_gguf_n_tensors(g) == (int64_t)N_RT_TENSORS);
    CHECK(bibim_gguf_data_offset(g) % alignment == 0);
    uint64_t expected_end = 0;
    for (size_t t = 0; t < N_RT_TENSORS; t++) {
        bibim_tensor_info info;
        CHECK(bibim_gguf_tensor(g, (int64_t)t, &info) == BIBIM_OK);
        CHECK(str_eq(info.name, rt_tensors[t].name) && info.type == rt_tensors[t].type);
        CHECK(info.n_dims == rt_tensors[t].n_dims && memcmp(info.ne, rt_tensors[t].ne, sizeof info.ne) == 0);
        CHECKF(info.n_bytes == rt_tensors[t].n_bytes, "%s: %llu bytes", rt_tensors[t].name,
               (unsigned long long)info.n_bytes);
        CHECK(info.offset == expected_end && info.offset % alignment == 0);
        int same = 1;
        for (uint64_t i = 0; i < info.n_bytes; i++) same &= ((const uint8_t *)info.data)[i] == rt_byte(t, i);
        CHECKF(same, "%s: data differs", rt_tensors[t].name);
        expected_end = (info.offset + info.n_bytes + alignment - 1) / alignment * alignment;
    }
    CHECK(bibim_gguf_file_size(g) == bibim_gguf_data_offset(g) + expected_end);
}

static int test_writer_round_trip_every_type(void) {
    char path[128];
    tmp_path(path, sizeof path, "roundtrip.gguf");
    if (rt_write_file(path, 0) != BIBIM_OK) return 0;
    bibim_gguf *g = open_checked(path);
    if (!g) return 0;
    CHECK(bibim_gguf_version(g) == 3 && bibim_gguf_alignment(g) == 32);
    CHECK(bibim_gguf_n_kv(g) == (int64_t)RT_N_KV);
    CHECK(str_eq(bibim_gguf_key(g, 0), "rt.u8") && str_eq(bibim_gguf_key(g, 11), "rt.str"));
    rt_check_scalars(g);
    rt_check_arrays(g);
    rt_check_tensors(g, 32);
    bibim_gguf_free(g);
    unlink(path);
    return 0;
}

static int test_writer_alignment_64(void) {
    char path[128];
    tmp_path(path, sizeof path, "align64.gguf");
    if (rt_write_file(path, 64) != BIBIM_OK) return 0;
    bibim_gguf *g = open_checked(path);
    if (!g) return 0;
    CHECK(bibim_gguf_alignment(g) == 64);
    uint32_t a = 0;
    CHECK(bibim_gguf_get_u32(g, "general.alignment", &a) == BIBIM_OK && a == 64);
    rt_check_tensors(g, 64);
    bibim_tensor_info info;
    CHECK(bibim_gguf_tensor(g, 1, &info) == BIBIM_OK && info.offset == 128); /* 96 bytes round up to 128 */
    bibim_gguf_free(g);
    unlink(path);
    return 0;
}

static int test_writer_rejects_bad_alignment(void) {
    char path[128];
    tmp_path(path, sizeof path, "badalign.gguf");
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_u32(w, "general.alignment", 3) == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "general.alignment") != NULL);
    CHECK(bibim_gguf_writer_set_str(w, "general.alignment", "32") == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "uint32") != NULL);
    CHECK(bibim_gguf_writer_remove(w, "general.alignment") == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK);
    CHECK(bibim_gguf_writer_finish(w) == BIBIM_OK);
    bibim_gguf_writer_free(w);
    bibim_gguf *g = open_checked(path);
    CHECK(g && bibim_gguf_n_kv(g) == 0 && bibim_gguf_n_tensors(g) == 0 && bibim_gguf_file_size(g) == 32);
    bibim_gguf_free(g);
    unlink(path);
    return 0;
}

static int test_writer_tmp_protocol(void) {
    char path[128], tmp[140];
    tmp_path(path, sizeof path, "tmpproto.gguf");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int64_t ne[1] = {64};
    uint8_t data[256] = {0};
    /* Freed before finish: neither the file nor the .tmp remains. */
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_add_tensor(w, "t", BIBIM_TYPE_F32, 1, ne) == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK);
    CHECK(file_exists(tmp) && !file_exists(path));
    CHECK(bibim_gguf_writer_write_tensor(w, data, 100) == BIBIM_OK);
    bibim_gguf_writer_free(w);
    CHECK(!file_exists(tmp) && !file_exists(path));
    /* Finished: the file is in place and the .tmp is gone. */
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_add_tensor(w, "t", BIBIM_TYPE_F32, 1, ne) == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 256) == BIBIM_OK);
    CHECK(!file_exists(path));
    CHECK(bibim_gguf_writer_finish(w) == BIBIM_OK);
    CHECK(file_exists(path) && !file_exists(tmp));
    CHECK(bibim_gguf_writer_finish(w) == BIBIM_ERR_INVALID_ARG);
    bibim_gguf_writer_free(w);
    CHECK(file_exists(path));
    unlink(path);
    /* A directory that does not exist: begin fails with an I/O error. */
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, "/nonexistent-dir/x.gguf") == BIBIM_ERR_IO);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "/nonexistent-dir/x.gguf.tmp") != NULL);
    bibim_gguf_writer_free(w);
    return 0;
}

static int test_writer_wrong_byte_counts(void) {
    char path[128];
    tmp_path(path, sizeof path, "wrongbytes.gguf");
    int64_t ne[2] = {32, 2};
    uint8_t data[128] = {0};
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 4) == BIBIM_ERR_INVALID_ARG); /* before begin */
    CHECK(bibim_gguf_writer_add_tensor(w, "a", BIBIM_TYPE_Q8_0, 2, ne) == BIBIM_OK); /* 68 bytes */
    CHECK(bibim_gguf_writer_add_tensor(w, "b", BIBIM_TYPE_F32, 1, ne) == BIBIM_OK); /* 128 bytes */
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 69) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "'a'") && strstr(bibim_gguf_writer_errmsg(w), "68"));
    CHECK(bibim_gguf_writer_write_tensor(w, data, 60) == BIBIM_OK);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 9) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_finish(w) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "60 of its 68") != NULL);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 8) == BIBIM_OK);
    CHECK(bibim_gguf_writer_write_tensor(w, NULL, 4) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 128) == BIBIM_OK);
    CHECK(bibim_gguf_writer_write_tensor(w, data, 1) == BIBIM_ERR_INVALID_ARG); /* all written */
    CHECK(bibim_gguf_writer_set_u32(w, "late", 1) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "late", BIBIM_TYPE_F32, 1, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_finish(w) == BIBIM_OK);
    bibim_gguf_writer_free(w);
    bibim_gguf *g = open_checked(path);
    CHECK(g && bibim_gguf_n_tensors(g) == 2 && bibim_gguf_file_size(g) == bibim_gguf_data_offset(g) + 96 + 128);
    bibim_gguf_free(g);
    unlink(path);
    return 0;
}

static int test_writer_declaration_checks(void) {
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    int64_t ne[5] = {256, 2, 3, 4, 5};
    int64_t zero[2] = {32, 0};
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    char long_name[65];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    CHECK(bibim_gguf_writer_add_tensor(w, "ok", BIBIM_TYPE_Q4_K, 4, ne) == BIBIM_OK);
    CHECK(bibim_gguf_writer_add_tensor(w, "ok", BIBIM_TYPE_F32, 1, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "already") != NULL);
    CHECK(bibim_gguf_writer_add_tensor(w, long_name, BIBIM_TYPE_F32, 1, ne) == BIBIM_ERR_INVALID_ARG);
    long_name[63] = '\0'; /* 63 bytes is the longest name allowed */
    CHECK(bibim_gguf_writer_add_tensor(w, long_name, BIBIM_TYPE_F32, 1, ne) == BIBIM_OK);
    CHECK(bibim_gguf_writer_add_tensor(w, "", BIBIM_TYPE_F32, 1, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "d0", BIBIM_TYPE_F32, 0, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "d5", BIBIM_TYPE_F32, 5, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "zero", BIBIM_TYPE_F32, 2, zero) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "huge", BIBIM_TYPE_F32, 2, huge) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "t4", (bibim_type)4, 1, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "t99", (bibim_type)99, 1, ne) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_add_tensor(w, "block", BIBIM_TYPE_Q4_0, 1, zero + 0) == BIBIM_OK); /* 32 */
    int64_t odd[1] = {48};
    CHECK(bibim_gguf_writer_add_tensor(w, "odd", BIBIM_TYPE_Q4_0, 1, odd) == BIBIM_ERR_INVALID_ARG);
    CHECK(strstr(bibim_gguf_writer_errmsg(w), "block size 32") != NULL);
    /* Metadata: set replaces, remove removes, empty keys and bool arrays of 2 are refused. */
    uint8_t bad_bools[2] = {1, 2};
    CHECK(bibim_gguf_writer_set_u32(w, "k", 1) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_str(w, "k", "now a string") == BIBIM_OK);
    CHECK(bibim_gguf_writer_remove(w, "k") == BIBIM_OK);
    CHECK(bibim_gguf_writer_remove(w, "k") == BIBIM_ERR_NOT_FOUND);
    CHECK(bibim_gguf_writer_set_u32(w, "", 1) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_set_u32(w, NULL, 1) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_set_str(w, "s", NULL) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_set_arr(w, "b", BIBIM_GGUF_BOOL, bad_bools, 2) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_set_arr(w, "s", BIBIM_GGUF_STRING, bad_bools, 2) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_set_arr(w, "n", BIBIM_GGUF_UINT8, NULL, 2) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_set_arr(w, "o", BIBIM_GGUF_UINT64, bad_bools, UINT64_MAX / 4) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_copy_kv(w, NULL, 0) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_finish(w) == BIBIM_ERR_INVALID_ARG); /* before begin */
    bibim_gguf_writer_free(w);
    bibim_gguf_writer_free(NULL);
    return 0;
}

static int test_writer_set_replaces_in_place(void) {
    char path[128];
    tmp_path(path, sizeof path, "replace.gguf");
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_u32(w, "first", 1) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_u32(w, "second", 2) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_u32(w, "third", 3) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_str(w, "first", "one") == BIBIM_OK);
    CHECK(bibim_gguf_writer_remove(w, "second") == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK && bibim_gguf_writer_finish(w) == BIBIM_OK);
    bibim_gguf_writer_free(w);
    bibim_gguf *g = open_checked(path);
    if (!g) return 0;
    CHECK(bibim_gguf_n_kv(g) == 2);
    CHECK(str_eq(bibim_gguf_key(g, 0), "first") && str_eq(bibim_gguf_key(g, 1), "third"));
    check_str(g, "first", "one");
    check_u32(g, "third", 3);
    bibim_gguf_free(g);
    unlink(path);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* copy_kv                                                                  */
/* ------------------------------------------------------------------------ */

/* Rewrites `src_path` through copy_kv and the tensors' own data; the copy
 * must be byte-identical, since both follow the same layout rules. */
static void check_copy_is_identical(const char *src_path, const char *name) {
    char path[128];
    tmp_path(path, sizeof path, name);
    bibim_gguf *src = open_checked(src_path);
    if (!src) return;
    bibim_gguf_writer *w = NULL;
    bibim_status st = bibim_gguf_writer_create(&w);
    for (int64_t i = 0; i < bibim_gguf_n_kv(src) && st == BIBIM_OK; i++) st = bibim_gguf_writer_copy_kv(w, src, i);
    for (int64_t i = 0; i < bibim_gguf_n_tensors(src) && st == BIBIM_OK; i++) {
        bibim_tensor_info t;
        char tname[64];
        bibim_gguf_tensor(src, i, &t);
        snprintf(tname, sizeof tname, "%.*s", (int)t.name.len, t.name.ptr);
        st = bibim_gguf_writer_add_tensor(w, tname, t.type, t.n_dims, t.ne);
    }
    if (st == BIBIM_OK) st = bibim_gguf_writer_begin(w, path);
    for (int64_t i = 0; i < bibim_gguf_n_tensors(src) && st == BIBIM_OK; i++) {
        bibim_tensor_info t;
        bibim_gguf_tensor(src, i, &t);
        st = bibim_gguf_writer_write_tensor(w, t.data, t.n_bytes);
    }
    if (st == BIBIM_OK) st = bibim_gguf_writer_finish(w);
    CHECKF(st == BIBIM_OK, "%s: %s", src_path, bibim_gguf_writer_errmsg(w));
    bibim_gguf_writer_free(w);
    size_t a_size = 0, b_size = 0;
    unsigned char *a = read_whole_file(src_path, &a_size), *b = read_whole_file(path, &b_size);
    CHECKF(a && b && a_size == b_size && memcmp(a, b, a_size) == 0, "%s: the copy differs (%zu vs %zu bytes)",
           src_path, a_size, b_size);
    free(a);
    free(b);
    bibim_gguf_free(src);
    unlink(path);
}

static int test_copy_kv_real_files_byte_identical(void) {
    SKIP_UNLESS_FILE(STORIES);
    check_copy_is_identical(STORIES, "copy-stories.gguf");
    if (file_exists(TINY_RANDOM)) check_copy_is_identical(TINY_RANDOM, "copy-tiny-random.gguf");
    if (file_exists(QUANT_DIR "/tiny-Q4_K_M.gguf")) check_copy_is_identical(QUANT_DIR "/tiny-Q4_K_M.gguf", "copy-q4km.gguf");
    return 0;
}

static int test_copy_kv_replaces_and_mixes(void) {
    SKIP_UNLESS_FILE(STORIES);
    char path[128];
    tmp_path(path, sizeof path, "copy-mix.gguf");
    bibim_gguf *src = open_checked(STORIES);
    if (!src) return 0;
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    CHECK(bibim_gguf_writer_set_str(w, "general.name", "replaced below") == BIBIM_OK);
    CHECK(bibim_gguf_writer_copy_kv(w, src, bibim_gguf_find_key(src, "general.name")) == BIBIM_OK);
    CHECK(bibim_gguf_writer_copy_kv(w, src, bibim_gguf_find_key(src, "tokenizer.ggml.tokens")) == BIBIM_OK);
    CHECK(bibim_gguf_writer_copy_kv(w, src, 19) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_gguf_writer_copy_kv(w, src, -1) == BIBIM_ERR_INVALID_ARG);
    bibim_gguf_free(src); /* the writer owns copies: the source may go */
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK && bibim_gguf_writer_finish(w) == BIBIM_OK);
    bibim_gguf_writer_free(w);
    bibim_gguf *g = open_checked(path);
    if (!g) return 0;
    CHECK(bibim_gguf_n_kv(g) == 2);
    check_str(g, "general.name", "llama");
    bibim_str s = {0};
    CHECK(bibim_gguf_kv_len(g, 1) == 512 && bibim_gguf_arr_str(g, 1, 1, &s) == BIBIM_OK && str_eq(s, "<s>"));
    bibim_gguf_free(g);
    unlink(path);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Nested arrays (built by hand: the writer's setters do not make them)      */
/* ------------------------------------------------------------------------ */

typedef struct bytes {
    uint8_t data[512];
    size_t len;
} bytes;

static void put_le(bytes *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b->data[b->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(bytes *b, const char *s) {
    put_le(b, strlen(s), 8);
    memcpy(b->data + b->len, s, strlen(s));
    b->len += strlen(s);
}

/* A file with: nested = [[1, 2], [], [[7]]] as arrays of arrays of uint16
 * (the last one nests a level deeper), words = [["a", "bc"]], after = 42. */
static void build_nested_file(bytes *b) {
    b->len = 0;
    memcpy(b->data, "GGUF", 4);
    b->len = 4;
    put_le(b, 3, 4);
    put_le(b, 0, 8);
    put_le(b, 3, 8);
    put_str(b, "nested");
    put_le(b, BIBIM_GGUF_ARRAY, 4);
    put_le(b, BIBIM_GGUF_ARRAY, 4), put_le(b, 3, 8);
    put_le(b, BIBIM_GGUF_UINT16, 4), put_le(b, 2, 8), put_le(b, 1, 2), put_le(b, 2, 2);
    put_le(b, BIBIM_GGUF_UINT16, 4), put_le(b, 0, 8);
    put_le(b, BIBIM_GGUF_ARRAY, 4), put_le(b, 1, 8);
    put_le(b, BIBIM_GGUF_UINT16, 4), put_le(b, 1, 8), put_le(b, 7, 2);
    put_str(b, "words");
    put_le(b, BIBIM_GGUF_ARRAY, 4);
    put_le(b, BIBIM_GGUF_ARRAY, 4), put_le(b, 1, 8);
    put_le(b, BIBIM_GGUF_STRING, 4), put_le(b, 2, 8), put_str(b, "a"), put_str(b, "bc");
    put_str(b, "after");
    put_le(b, BIBIM_GGUF_UINT32, 4);
    put_le(b, 42, 4);
}

static void check_nested_file(bibim_gguf *g) {
    CHECK(bibim_gguf_n_kv(g) == 3);
    CHECK(bibim_gguf_kv_type(g, 0) == BIBIM_GGUF_ARRAY && bibim_gguf_kv_elem_type(g, 0) == BIBIM_GGUF_ARRAY);
    CHECK(bibim_gguf_kv_len(g, 0) == 3);
    CHECK(bibim_gguf_kv_elem_type(g, 1) == BIBIM_GGUF_ARRAY && bibim_gguf_kv_len(g, 1) == 1);
    check_u32(g, "after", 42);
    const void *data;
    uint64_t n;
    CHECK(bibim_gguf_get_arr(g, "nested", BIBIM_GGUF_UINT16, &data, &n) == BIBIM_ERR_TYPE);
    CHECK(bibim_gguf_get_arr_str_len(g, "words", &n) == BIBIM_ERR_TYPE);
    bibim_str s;
    CHECK(bibim_gguf_arr_str(g, 1, 0, &s) == BIBIM_ERR_TYPE);
}

static int test_nested_arrays_read_and_copy(void) {
    bytes b;
    build_nested_file(&b);
    bibim_gguf *g = NULL;
    CHECKF(bibim_gguf_open_memory(b.data, b.len, "nested", &g) == BIBIM_OK, "%s", bibim_gguf_errmsg(g));
    check_nested_file(g);
    /* copy_kv carries nested arrays verbatim. */
    char path[128];
    tmp_path(path, sizeof path, "nested.gguf");
    bibim_gguf_writer *w = NULL;
    CHECK(bibim_gguf_writer_create(&w) == BIBIM_OK);
    for (int64_t i = 0; i < 3; i++) CHECK(bibim_gguf_writer_copy_kv(w, g, i) == BIBIM_OK);
    CHECK(bibim_gguf_writer_begin(w, path) == BIBIM_OK && bibim_gguf_writer_finish(w) == BIBIM_OK);
    bibim_gguf_writer_free(w);
    bibim_gguf_free(g);
    size_t size = 0;
    unsigned char *copy = read_whole_file(path, &size);
    /* The copy is the hand-built file plus padding to 32 bytes. */
    CHECK(copy && size == (b.len + 31) / 32 * 32 && memcmp(copy, b.data, b.len) == 0);
    g = open_checked(path);
    if (g) check_nested_file(g);
    bibim_gguf_free(g);
    free(copy);
    unlink(path);
    return 0;
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/bibim-test-gguf-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_stories_header_and_metadata);
    RUN(test_stories_vocab);
    RUN(test_stories_tensors);
    RUN(test_tiny_random_vocab_and_f16);
    RUN(test_quantized_reference_files);
    RUN(test_open_memory_matches_open);
    RUN(test_getter_type_mismatches);
    RUN(test_writer_round_trip_every_type);
    RUN(test_writer_alignment_64);
    RUN(test_writer_rejects_bad_alignment);
    RUN(test_writer_tmp_protocol);
    RUN(test_writer_wrong_byte_counts);
    RUN(test_writer_declaration_checks);
    RUN(test_writer_set_replaces_in_place);
    RUN(test_copy_kv_real_files_byte_identical);
    RUN(test_copy_kv_replaces_and_mixes);
    RUN(test_nested_arrays_read_and_copy);
    rmdir(tmp_dir);
    return harness_finish();
}
