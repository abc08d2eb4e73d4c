/* synth.c — `bibim synth`: writes a Llama GGUF with random weights at the
 * real shapes of a model, for tests and benchmarks that need no download.
 *
 * Weights depend only on (seed, tensor index, chunk index): each chunk of
 * rows has its own generator state, so the file is the same whatever the
 * number of threads. Tensors are generated and quantized in batches of
 * chunks by a worker pool while the previous batch is written, so memory
 * stays small even for tensors of gigabytes. */
#include "cli.h"
#include "synth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CMD "synth"

/* A chunk is the unit of generation (one RNG stream) and of parallel work;
 * a batch is the unit of writing. Both are fixed sizes, independent of the
 * thread count, so that the bytes are too. */
#define CHUNK_ELEMS ((int64_t)1 << 16)
#define BATCH_ELEMS ((int64_t)1 << 23)

#define WEIGHT_STDDEV 0.02f
#define MAX_THREADS 1024

/* ------------------------------------------------------------------------ */
/* Presets                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct preset {
    const char *name;
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    int tied_output;
    float rope_theta;
    /* Llama 3 rope scaling; factor 0 means none. */
    double rope_factor, low_freq_factor, high_freq_factor;
    int64_t rope_orig_ctx;
} preset;

static const preset PRESETS[] = {
    {"tiny", 512, 256, 2, 4, 2, 768, 2048, 0, 10000.0f, 0, 0, 0, 0},
    {"llama-3.2-1b", 128256, 2048, 16, 32, 8, 8192, 131072, 1, 500000.0f, 32, 1, 4, 8192},
    {"llama-3.2-3b", 128256, 3072, 28, 24, 8, 8192, 131072, 1, 500000.0f, 32, 1, 4, 8192},
    {"llama-3.1-8b", 128256, 4096, 32, 32, 8, 14336, 131072, 0, 500000.0f, 8, 1, 4, 8192},
};
#define N_PRESETS (sizeof PRESETS / sizeof PRESETS[0])

#define RMS_EPS 1e-5f

/* ------------------------------------------------------------------------ */
/* Command line                                                             */
/* ------------------------------------------------------------------------ */

typedef struct synth_options {
    const char *out_path;
    const preset *preset;
    int64_t n_layer; /* 0: the preset's */
    bibim_ftype ftype;
    uint64_t seed;
    int n_threads;
    const char *tokenizer_json;
} synth_options;

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: bibim synth -o OUT [options]\n"
            "\n"
            "Writes a Llama GGUF with random weights (deterministic for a seed) at the real shapes of a model.\n"
            "\n"
            "  -o OUT                  output file (required)\n"
            "  --preset NAME           tiny (default), llama-3.2-1b, llama-3.2-3b, llama-3.1-8b\n"
            "  --layers N              number of blocks, 1..1000 (default: the preset's)\n"
            "  --type T                file type or mix: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S\n"
            "                          Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K (default F16)\n"
            "  --seed S                random seed, a non-negative integer (default 42)\n"
            "  -t THREADS              worker threads (default: the number of online CPUs)\n"
            "  --tokenizer-json PATH   import a Hugging Face tokenizer.json (and the tokenizer_config.json\n"
            "                          beside it); the vocabulary size follows it\n"
            "  -h, --help              show this help\n");
}

static int default_thread_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static const preset *find_preset(const char *name) {
    for (size_t i = 0; i < N_PRESETS; i++)
        if (!strcmp(PRESETS[i].name, name)) return &PRESETS[i];
    return NULL;
}

typedef enum option_id { OPT_OUT, OPT_PRESET, OPT_LAYERS, OPT_TYPE, OPT_SEED, OPT_THREADS, OPT_TOKENIZER } option_id;

static const struct {
    const char *name;
    option_id id;
} OPTIONS[] = {
    {"-o", OPT_OUT},     {"--preset", OPT_PRESET}, {"--layers", OPT_LAYERS},         {"--type", OPT_TYPE},
    {"--seed", OPT_SEED}, {"-t", OPT_THREADS},     {"--tokenizer-json", OPT_TOKENIZER},
};

/* Stores the value of option `id`. 0 on success, else EXIT_USAGE after a message. */
static int set_option(synth_options *opt, option_id id, const char *name, const char *value) {
    long long n;
    switch (id) {
    case OPT_OUT:
        opt->out_path = value;
        return 0;
    case OPT_PRESET:
        if ((opt->preset = find_preset(value))) return 0;
        return cli_usage_error(CMD, "--preset must be tiny, llama-3.2-1b, llama-3.2-3b or llama-3.1-8b, not '%s'",
                               value);
    case OPT_LAYERS:
        if (cli_parse_int(CMD, name, value, 1, 1000, &n)) return EXIT_USAGE;
        opt->n_layer = n;
        return 0;
    case OPT_TYPE:
        if (bibim_ftype_from_name(value, &opt->ftype) == BIBIM_OK) return 0;
        return cli_usage_error(CMD, "--type must be a file type such as F16, Q8_0, Q4_0 or Q4_K_M, not '%s'", value);
    case OPT_SEED:
        if (cli_parse_int(CMD, name, value, 0, INT64_MAX, &n)) return EXIT_USAGE;
        opt->seed = (uint64_t)n;
        return 0;
    case OPT_THREADS:
        if (cli_parse_int(CMD, name, value, 1, MAX_THREADS, &n)) return EXIT_USAGE;
        opt->n_threads = (int)n;
        return 0;
    case OPT_TOKENIZER:
        opt->tokenizer_json = value;
        return 0;
    }
    return EXIT_USAGE;
}

/* Applies option argv[*i] and its value, advancing *i past the value. */
static int apply_option(int argc, char **argv, int *i, synth_options *opt) {
    const char *name = argv[*i];
    for (size_t k = 0; k < sizeof OPTIONS / sizeof OPTIONS[0]; k++) {
        if (strcmp(name, OPTIONS[k].name)) continue;
        if (*i + 1 >= argc) return cli_usage_error(CMD, "%s needs a value", name);
        *i += 1;
        return set_option(opt, OPTIONS[k].id, name, argv[*i]);
    }
    if (name[0] == '-') return cli_usage_error(CMD, "unknown option '%s' (see bibim synth --help)", name);
    return cli_usage_error(CMD, "unexpected argument '%s'", name);
}

/* Fills `opt`. Returns -1 when --help was printed, else 0 or EXIT_USAGE. */
static int parse_options(int argc, char **argv, synth_options *opt) {
    *opt = (synth_options){.preset = &PRESETS[0], .ftype = BIBIM_FTYPE_F16, .seed = 42,
                           .n_threads = default_thread_count()};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_usage(stdout);
            return -1;
        }
        int rc = apply_option(argc, argv, &i, opt);
        if (rc) return rc;
    }
    if (!opt->out_path) return cli_usage_error(CMD, "-o OUT is required (see bibim synth --help)");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The model: hyperparameters and the tensor plan                           */
/* ------------------------------------------------------------------------ */

typedef struct model_shape {
    const preset *preset;
    int64_t n_vocab, n_layer, head_dim;
} model_shape;

typedef enum fill_kind {
    FILL_MATRIX,    /* ~ N(0, WEIGHT_STDDEV) */
    FILL_NORM,      /* 1 + small noise */
    FILL_ROPE_FREQS /* Llama 3's per-frequency divisors, computed */
} fill_kind;

typedef struct tensor_plan {
    char name[64];
    uint32_t n_dims;
    int64_t ne[2];
    bibim_type type;
    fill_kind fill;
    int64_t row_bytes;    /* bytes of one row of ne[0] elements in `type` */
    int64_t n_rows;       /* ne[1] (1 for a vector) */
    int64_t chunk_rows;   /* rows per chunk */
    int64_t n_chunks;
    int64_t batch_chunks; /* chunks per written batch */
} tensor_plan;

typedef struct model_plan {
    model_shape shape;
    tensor_plan *tensors;
    int64_t n_tensors;
    uint64_t n_params;
    uint64_t max_batch_bytes;
    int64_t max_chunk_elems;
    int any_quantized;
} model_plan;

static int has_rope_scaling(const model_shape *m) { return m->preset->rope_factor > 0; }

/* Llama 3's rope scaling rule: the divisor of frequency pair i. */
static float llama3_rope_divisor(const model_shape *m, int64_t i) {
    const preset *p = m->preset;
    double freq = pow(p->rope_theta, -2.0 * (double)i / (double)m->head_dim);
    double wavelen = 2.0 * M_PI / freq;
    double orig_ctx = (double)p->rope_orig_ctx;
    if (wavelen < orig_ctx / p->high_freq_factor) return 1.0f;
    if (wavelen > orig_ctx / p->low_freq_factor) return (float)p->rope_factor;
    double smooth = (orig_ctx / wavelen - p->low_freq_factor) / (p->high_freq_factor - p->low_freq_factor);
    return (float)(1.0 / ((1.0 - smooth) / p->rope_factor + smooth));
}

/* Appends tensor `name` with ne = {ne0, ne1} (ne1 0 for a vector); its type
 * comes from the mix. */
static void plan_add(model_plan *mp, bibim_ftype ftype, fill_kind fill, const char *name, int64_t ne0, int64_t ne1) {
    tensor_plan *t = &mp->tensors[mp->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = ne1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->fill = fill;
    int has_output = !mp->shape.preset->tied_output;
    t->type = bibim_quantize_tensor_type(ftype, t->name, t->n_dims, t->ne, BIBIM_TYPE_F32, (int)mp->shape.n_layer,
                                         has_output);
}

static void plan_block(model_plan *mp, bibim_ftype ftype, int64_t layer) {
    const preset *p = mp->shape.preset;
    int64_t n_embd = p->n_embd, q_dim = p->n_head * mp->shape.head_dim, kv_dim = p->n_head_kv * mp->shape.head_dim;
    char name[64];
#define BLOCK_TENSOR(suffix, fill, ne0, ne1)                                                                      \
    (snprintf(name, sizeof name, "blk.%lld." suffix, (long long)layer), plan_add(mp, ftype, fill, name, ne0, ne1))
    BLOCK_TENSOR("attn_norm.weight", FILL_NORM, n_embd, 0);
    BLOCK_TENSOR("attn_q.weight", FILL_MATRIX, n_embd, q_dim);
    BLOCK_TENSOR("attn_k.weight", FILL_MATRIX, n_embd, kv_dim);
    BLOCK_TENSOR("attn_v.weight", FILL_MATRIX, n_embd, kv_dim);
    BLOCK_TENSOR("attn_output.weight", FILL_MATRIX, q_dim, n_embd);
    BLOCK_TENSOR("ffn_norm.weight", FILL_NORM, n_embd, 0);
    BLOCK_TENSOR("ffn_gate.weight", FILL_MATRIX, n_embd, p->n_ff);
    BLOCK_TENSOR("ffn_up.weight", FILL_MATRIX, n_embd, p->n_ff);
    BLOCK_TENSOR("ffn_down.weight", FILL_MATRIX, p->n_ff, n_embd);
#undef BLOCK_TENSOR
}

/* Chunking, sizes and the checks that the mix gave a usable type. */
static int plan_layout(model_plan *mp, tensor_plan *t) {
    if (!bibim_type_is_supported(t->type)) {
        fprintf(stderr, "bibim " CMD ": the mix gives %s type %s, which bibim cannot write\n", t->name,
                bibim_type_name(t->type));
        return -1;
    }
    t->row_bytes = bibim_type_row_bytes(t->type, t->ne[0]);
    if (t->row_bytes < 0) {
        fprintf(stderr, "bibim " CMD ": %s has rows of %lld elements, not a multiple of %s's block of %lld\n", t->name,
                (long long)t->ne[0], bibim_type_name(t->type), (long long)bibim_type_block_elems(t->type));
        return -1;
    }
    t->n_rows = t->ne[1];
    t->chunk_rows = t->ne[0] >= CHUNK_ELEMS ? 1 : CHUNK_ELEMS / t->ne[0];
    if (t->chunk_rows > t->n_rows) t->chunk_rows = t->n_rows;
    t->n_chunks = (t->n_rows + t->chunk_rows - 1) / t->chunk_rows;
    int64_t chunk_elems = t->chunk_rows * t->ne[0];
    t->batch_chunks = chunk_elems >= BATCH_ELEMS ? 1 : BATCH_ELEMS / chunk_elems;
    if (t->batch_chunks > t->n_chunks) t->batch_chunks = t->n_chunks;
    uint64_t batch_bytes = (uint64_t)(t->batch_chunks * t->chunk_rows * t->row_bytes);
    if (batch_bytes > mp->max_batch_bytes) mp->max_batch_bytes = batch_bytes;
    if (chunk_elems > mp->max_chunk_elems) mp->max_chunk_elems = chunk_elems;
    mp->n_params += (uint64_t)(t->ne[0] * t->ne[1]);
    if (t->type != BIBIM_TYPE_F32 && t->type != BIBIM_TYPE_F16 && t->type != BIBIM_TYPE_BF16) mp->any_quantized = 1;
    return 0;
}

/* The tensors of the model, in llama.cpp's converter order. */
static int plan_model(model_plan *mp, const model_shape *shape, bibim_ftype ftype) {
    *mp = (model_plan){.shape = *shape};
    const preset *p = shape->preset;
    int64_t max_tensors = 4 + 9 * shape->n_layer;
    mp->tensors = calloc((size_t)max_tensors, sizeof *mp->tensors);
    if (!mp->tensors) {
        fprintf(stderr, "bibim " CMD ": out of memory\n");
        return -1;
    }
    plan_add(mp, ftype, FILL_MATRIX, "token_embd.weight", p->n_embd, shape->n_vocab);
    if (has_rope_scaling(shape)) plan_add(mp, ftype, FILL_ROPE_FREQS, "rope_freqs.weight", shape->head_dim / 2, 0);
    for (int64_t layer = 0; layer < shape->n_layer; layer++) plan_block(mp, ftype, layer);
    plan_add(mp, ftype, FILL_NORM, "output_norm.weight", p->n_embd, 0);
    if (!p->tied_output) plan_add(mp, ftype, FILL_MATRIX, "output.weight", p->n_embd, shape->n_vocab);
    for (int64_t i = 0; i < mp->n_tensors; i++)
        if (plan_layout(mp, &mp->tensors[i])) return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Random numbers                                                           */
/* ------------------------------------------------------------------------ */

/* splitmix64: a strong 64-bit mixer, used to turn (seed, tensor, chunk) into
 * well-spread generator states. */
static uint64_t splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* xoshiro256**: fast, and good enough for weights. */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

static rng rng_for_chunk(uint64_t seed, int64_t tensor_index, int64_t chunk) {
    uint64_t key = seed;
    key = splitmix64_next(&key) ^ (uint64_t)tensor_index;
    key = splitmix64_next(&key) ^ (uint64_t)chunk;
    rng r;
    for (int i = 0; i < 4; i++) r.s[i] = splitmix64_next(&key);
    return r;
}

/* Approximately N(0, 1): the sum of four 16-bit uniforms (Irwin-Hall), centred
 * and scaled to unit variance. Tails end at +-3.46, harmless for weights. */
static float approx_normal(rng *r) {
    uint64_t x = rng_next(r);
    int32_t sum = (int32_t)(x & 0xffff) + (int32_t)((x >> 16) & 0xffff) + (int32_t)((x >> 32) & 0xffff) +
                  (int32_t)(x >> 48);
    return (float)(sum - 2 * 65535) * (float)(1.7320508075688772 / 65536.0);
}

/* ------------------------------------------------------------------------ */
/* Generating one chunk                                                     */
/* ------------------------------------------------------------------------ */

/* Fills `n` values of chunk `chunk` of tensor `tensor_index` into `values`. */
static void fill_values(const model_plan *mp, uint64_t seed, int64_t tensor_index, int64_t chunk, float *values,
                        int64_t n) {
    const tensor_plan *t = &mp->tensors[tensor_index];
    rng r = rng_for_chunk(seed, tensor_index, chunk);
    switch (t->fill) {
    case FILL_MATRIX:
        for (int64_t i = 0; i < n; i++) values[i] = WEIGHT_STDDEV * approx_normal(&r);
        break;
    case FILL_NORM:
        for (int64_t i = 0; i < n; i++) values[i] = 1.0f + WEIGHT_STDDEV * approx_normal(&r);
        break;
    case FILL_ROPE_FREQS:
        for (int64_t i = 0; i < n; i++) values[i] = llama3_rope_divisor(&mp->shape, i);
        break;
    }
}

/* Generates chunk `chunk` of a tensor and converts it to the tensor's type at
 * `dst`, using `scratch` (max_chunk_elems floats). */
static bibim_status make_chunk(const model_plan *mp, uint64_t seed, int64_t tensor_index, int64_t chunk,
                               float *scratch, uint8_t *dst) {
    const tensor_plan *t = &mp->tensors[tensor_index];
    int64_t first_row = chunk * t->chunk_rows;
    int64_t n_rows = t->n_rows - first_row < t->chunk_rows ? t->n_rows - first_row : t->chunk_rows;
    fill_values(mp, seed, tensor_index, chunk, scratch, n_rows * t->ne[0]);
    for (int64_t row = 0; row < n_rows; row++) {
        bibim_status st = bibim_quantize_row(t->type, scratch + row * t->ne[0], dst + row * t->row_bytes, t->ne[0]);
        if (st != BIBIM_OK) return st;
    }
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* The worker pool: makes the chunks of one batch at a time                 */
/* ------------------------------------------------------------------------ */

typedef struct batch {
    int64_t tensor_index;
    int64_t first_chunk, n_chunks;
    uint64_t n_bytes;
} batch;

typedef struct worker_pool {
    const model_plan *plan;
    uint64_t seed;
    pthread_mutex_t mutex;
    pthread_cond_t work_ready, batch_done;
    batch job;
    uint8_t *job_out;
    int64_t next_chunk; /* of the job, relative to its first chunk */
    int64_t in_flight;  /* chunks taken but not finished */
    bibim_status status;
    int stopping;
    int n_threads, n_started;
    pthread_t *threads;
    float **scratch; /* one buffer per thread */
} worker_pool;

typedef struct worker_arg {
    worker_pool *pool;
    int index;
} worker_arg;

static int job_finished(const worker_pool *p) { return p->next_chunk >= p->job.n_chunks && p->in_flight == 0; }

static void *worker_main(void *arg_ptr) {
    worker_pool *p = ((worker_arg *)arg_ptr)->pool;
    float *scratch = p->scratch[((worker_arg *)arg_ptr)->index];
    free(arg_ptr);
    pthread_mutex_lock(&p->mutex);
    for (;;) {
        while (!p->stopping && p->next_chunk >= p->job.n_chunks) pthread_cond_wait(&p->work_ready, &p->mutex);
        if (p->stopping) break;
        int64_t rel = p->next_chunk++;
        batch job = p->job;
        uint8_t *out = p->job_out;
        p->in_flight++;
        pthread_mutex_unlock(&p->mutex);

        const tensor_plan *t = &p->plan->tensors[job.tensor_index];
        uint8_t *dst = out + (uint64_t)(rel * t->chunk_rows * t->row_bytes);
        bibim_status st = make_chunk(p->plan, p->seed, job.tensor_index, job.first_chunk + rel, scratch, dst);

        pthread_mutex_lock(&p->mutex);
        p->in_flight--;
        if (st != BIBIM_OK && p->status == BIBIM_OK) {
            p->status = st;
            p->next_chunk = p->job.n_chunks; /* skip the rest of the batch */
        }
        if (job_finished(p)) pthread_cond_signal(&p->batch_done);
    }
    pthread_mutex_unlock(&p->mutex);
    return NULL;
}

static void pool_start(worker_pool *p, const batch *job, uint8_t *out) {
    pthread_mutex_lock(&p->mutex);
    p->job = *job;
    p->job_out = out;
    p->next_chunk = 0;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->mutex);
}

/* Waits until the current batch is made; its status. */
static bibim_status pool_wait(worker_pool *p) {
    pthread_mutex_lock(&p->mutex);
    while (!job_finished(p)) pthread_cond_wait(&p->batch_done, &p->mutex);
    bibim_status st = p->status;
    pthread_mutex_unlock(&p->mutex);
    return st;
}

static void pool_destroy(worker_pool *p) {
    if (p->n_started) {
        pool_wait(p);
        pthread_mutex_lock(&p->mutex);
        p->stopping = 1;
        pthread_cond_broadcast(&p->work_ready);
        pthread_mutex_unlock(&p->mutex);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->work_ready);
    pthread_cond_destroy(&p->batch_done);
    for (int i = 0; p->scratch && i < p->n_threads; i++) free(p->scratch[i]);
    free(p->scratch);
    free(p->threads);
}

static int pool_create(worker_pool *p, const model_plan *plan, uint64_t seed, int n_threads) {
    *p = (worker_pool){.plan = plan, .seed = seed, .n_threads = n_threads};
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->work_ready, NULL);
    pthread_cond_init(&p->batch_done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->scratch = calloc((size_t)n_threads, sizeof *p->scratch);
    if (!p->threads || !p->scratch) return -1;
    for (int i = 0; i < n_threads; i++) {
        p->scratch[i] = malloc((size_t)plan->max_chunk_elems * sizeof(float));
        worker_arg *arg = malloc(sizeof *arg);
        if (!p->scratch[i] || !arg) {
            free(arg);
            return -1;
        }
        *arg = (worker_arg){p, i};
        if (pthread_create(&p->threads[i], NULL, worker_main, arg)) {
            free(arg);
            return -1;
        }
        p->n_started++;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct batch_cursor {
    int64_t tensor_index, chunk;
} batch_cursor;

/* The next batch in file order; 0 when every tensor is done. */
static int next_batch(const model_plan *mp, batch_cursor *c, batch *out) {
    while (c->tensor_index < mp->n_tensors && c->chunk >= mp->tensors[c->tensor_index].n_chunks) {
        c->tensor_index++;
        c->chunk = 0;
    }
    if (c->tensor_index >= mp->n_tensors) return 0;
    const tensor_plan *t = &mp->tensors[c->tensor_index];
    int64_t n = t->n_chunks - c->chunk < t->batch_chunks ? t->n_chunks - c->chunk : t->batch_chunks;
    int64_t first_row = c->chunk * t->chunk_rows;
    int64_t end_row = (c->chunk + n) * t->chunk_rows;
    if (end_row > t->n_rows) end_row = t->n_rows;
    *out = (batch){c->tensor_index, c->chunk, n, (uint64_t)((end_row - first_row) * t->row_bytes)};
    c->chunk += n;
    return 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void show_progress(const model_plan *mp, const batch *b, uint64_t bytes_done, uint64_t bytes_total) {
    int percent = (int)(100.0 * (double)bytes_done / (double)bytes_total);
    fprintf(stderr, "\r\033[Kbibim " CMD ": %3d%% [%lld/%lld] %s", percent, (long long)b->tensor_index + 1,
            (long long)mp->n_tensors, mp->tensors[b->tensor_index].name);
    fflush(stderr);
}

static uint64_t total_data_bytes(const model_plan *mp) {
    uint64_t total = 0;
    for (int64_t i = 0; i < mp->n_tensors; i++)
        total += (uint64_t)(mp->tensors[i].n_rows * mp->tensors[i].row_bytes);
    return total;
}

/* Makes every batch on the pool and writes it while the next one is made
 * (two buffers). 0 on success, else -1 after a message. */
static int stream_tensors(const model_plan *mp, worker_pool *pool, bibim_gguf_writer *w, const char *out_path) {
    uint8_t *buf[2] = {malloc(mp->max_batch_bytes), malloc(mp->max_batch_bytes)};
    int rc = buf[0] && buf[1] ? 0 : -1;
    if (rc)
        fprintf(stderr, "bibim " CMD ": out of memory for two %llu-byte buffers\n",
                (unsigned long long)mp->max_batch_bytes);
    int progress = cli_stderr_is_tty();
    uint64_t bytes_done = 0, bytes_total = total_data_bytes(mp);
    batch_cursor cursor = {0, 0};
    batch cur, next;
    int have = !rc && next_batch(mp, &cursor, &cur);
    if (have) pool_start(pool, &cur, buf[0]);
    for (int k = 0; have; k ^= 1) {
        bibim_status st = pool_wait(pool);
        if (st != BIBIM_OK) {
            fprintf(stderr, "bibim " CMD ": converting %s to %s: %s\n", mp->tensors[cur.tensor_index].name,
                    bibim_type_name(mp->tensors[cur.tensor_index].type), bibim_status_string(st));
            rc = -1;
            break;
        }
        int have_next = next_batch(mp, &cursor, &next);
        if (have_next) pool_start(pool, &next, buf[k ^ 1]);
        if (bibim_gguf_writer_write_tensor(w, buf[k], cur.n_bytes) != BIBIM_OK) {
            fprintf(stderr, "%sbibim " CMD ": %s: writing %s: %s\n", progress ? "\n" : "", out_path,
                    mp->tensors[cur.tensor_index].name, bibim_gguf_writer_errmsg(w));
            rc = -1;
            break; /* pool_destroy waits for the batch in progress */
        }
        bytes_done += cur.n_bytes;
        if (progress) show_progress(mp, &cur, bytes_done, bytes_total);
        cur = next;
        have = have_next;
    }
    if (progress) fprintf(stderr, "\r\033[K");
    pool_wait(pool); /* no worker may still write into a buffer freed below */
    free(buf[0]);
    free(buf[1]);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                 */
/* ------------------------------------------------------------------------ */

#define TRY(expr)                                                                                                 \
    do {                                                                                                          \
        bibim_status try_status_ = (expr);                                                                        \
        if (try_status_ != BIBIM_OK) return try_status_;                                                          \
    } while (0)

static bibim_status set_u32(bibim_gguf_writer *w, const char *key, int64_t v) {
    return bibim_gguf_writer_set_u32(w, key, (uint32_t)v);
}

static bibim_status write_general_keys(bibim_gguf_writer *w, const model_plan *mp, bibim_ftype ftype) {
    char name[96];
    snprintf(name, sizeof name, "bibim synth %s", mp->shape.preset->name);
    TRY(bibim_gguf_writer_set_str(w, "general.architecture", "llama"));
    TRY(bibim_gguf_writer_set_str(w, "general.name", name));
    TRY(set_u32(w, "general.file_type", ftype));
    if (mp->any_quantized) TRY(set_u32(w, "general.quantization_version", 2));
    return BIBIM_OK;
}

static bibim_status write_llama_keys(bibim_gguf_writer *w, const model_shape *m) {
    const preset *p = m->preset;
    TRY(set_u32(w, "llama.vocab_size", m->n_vocab));
    TRY(set_u32(w, "llama.context_length", p->n_ctx));
    TRY(set_u32(w, "llama.embedding_length", p->n_embd));
    TRY(set_u32(w, "llama.block_count", m->n_layer));
    TRY(set_u32(w, "llama.feed_forward_length", p->n_ff));
    TRY(set_u32(w, "llama.attention.head_count", p->n_head));
    TRY(set_u32(w, "llama.attention.head_count_kv", p->n_head_kv));
    TRY(set_u32(w, "llama.rope.dimension_count", m->head_dim));
    TRY(bibim_gguf_writer_set_f32(w, "llama.rope.freq_base", p->rope_theta));
    TRY(bibim_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", RMS_EPS));
    /* The Llama 3 scaling itself is the rope_freqs tensor. llama.rope.scaling.factor
     * is deliberately absent: llama.cpp reads it, with no scaling type, as a
     * linear position scale (1/factor) on top of rope_freqs, which would make
     * the model compute something else than the real one. The original
     * context only matters to YaRN, so it is safe to record. */
    if (has_rope_scaling(m)) TRY(set_u32(w, "llama.rope.scaling.original_context_length", p->rope_orig_ctx));
    return BIBIM_OK;
}

static bibim_status declare_tensors(bibim_gguf_writer *w, const model_plan *mp) {
    for (int64_t i = 0; i < mp->n_tensors; i++) {
        const tensor_plan *t = &mp->tensors[i];
        TRY(bibim_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne));
    }
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static int load_vocab(const synth_options *opt, synth_vocab *vocab) {
    char err[1024];
    int rc = opt->tokenizer_json ? synth_vocab_import(vocab, opt->tokenizer_json, err, sizeof err)
                                 : synth_vocab_default(vocab, opt->preset->n_vocab, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bibim " CMD ": %s\n", err);
        return -1;
    }
    if (vocab->n_tokens != opt->preset->n_vocab)
        fprintf(stderr,
                "bibim " CMD ": note: the tokenizer has %lld tokens, the %s preset %lld; token_embd and output "
                "follow the tokenizer\n",
                (long long)vocab->n_tokens, opt->preset->name, (long long)opt->preset->n_vocab);
    return 0;
}

/* Sets the keys, declares the tensors and writes the file. */
static int write_model(const synth_options *opt, const model_plan *mp, const synth_vocab *vocab) {
    bibim_gguf_writer *w = NULL;
    if (bibim_gguf_writer_create(&w) != BIBIM_OK) {
        fprintf(stderr, "bibim " CMD ": out of memory\n");
        return -1;
    }
    if (write_general_keys(w, mp, opt->ftype) || write_llama_keys(w, &mp->shape) || synth_vocab_write(vocab, w) ||
        declare_tensors(w, mp) || bibim_gguf_writer_begin(w, opt->out_path)) {
        fprintf(stderr, "bibim " CMD ": cannot write %s: %s\n", opt->out_path, bibim_gguf_writer_errmsg(w));
        bibim_gguf_writer_free(w);
        return -1;
    }
    worker_pool pool;
    int rc = -1;
    if (pool_create(&pool, mp, opt->seed, opt->n_threads))
        fprintf(stderr, "bibim " CMD ": cannot start %d worker threads\n", opt->n_threads);
    else if (stream_tensors(mp, &pool, w, opt->out_path))
        ; /* it said what went wrong */
    else if (bibim_gguf_writer_finish(w) != BIBIM_OK)
        fprintf(stderr, "bibim " CMD ": %s: %s\n", opt->out_path, bibim_gguf_writer_errmsg(w));
    else
        rc = 0;
    pool_destroy(&pool);
    bibim_gguf_writer_free(w);
    return rc;
}

static void print_summary(const synth_options *opt, const model_plan *mp, double seconds) {
    struct stat st;
    double mib = stat(opt->out_path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0.0;
    fprintf(stderr, "bibim " CMD ": wrote %s: %.1f MiB, %.3fM params, %lld tensors, %s, %.2f s\n", opt->out_path, mib,
            (double)mp->n_params / 1e6, (long long)mp->n_tensors, bibim_ftype_name(opt->ftype), seconds);
}

/* The writer would only find out when renaming, after writing everything. */
static int output_is_directory(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    fprintf(stderr, "bibim " CMD ": cannot write %s: it is a directory\n", path);
    return 1;
}

int cmd_synth(int argc, char **argv) {
    synth_options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (output_is_directory(opt.out_path)) return EXIT_INPUT;
    double start = now_seconds();

    synth_vocab vocab;
    if (load_vocab(&opt, &vocab)) {
        synth_vocab_free(&vocab);
        return EXIT_INPUT;
    }
    model_shape shape = {.preset = opt.preset,
                         .n_vocab = vocab.n_tokens,
                         .n_layer = opt.n_layer ? opt.n_layer : opt.preset->n_layer,
                         .head_dim = opt.preset->n_embd / opt.preset->n_head};
    model_plan plan;
    rc = plan_model(&plan, &shape, opt.ftype) || write_model(&opt, &plan, &vocab) ? EXIT_INPUT : EXIT_OK;
    if (rc == EXIT_OK) print_summary(&opt, &plan, now_seconds() - start);
    free(plan.tensors);
    synth_vocab_free(&vocab);
    return rc;
}
