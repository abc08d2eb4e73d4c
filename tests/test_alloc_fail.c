/* test_alloc_fail.c — allocation-failure injection (issue #7): a counting
 * allocator given at model load fails the Nth allocation, for every N up to
 * the number a successful run makes, during model load, context creation
 * and generation; on the small built model also every call from the Nth
 * on ("sticky" failures, as when memory has run out for good, which also
 * tests the clean-up paths). Each failure must give BIBIM_ERR_NOMEM, leave no block
 * behind once the handles are freed, and leave the library usable: the next
 * load or context works, and the next generation gives exactly the tokens
 * of a run that never failed. Under valgrind (VALGRIND=1, as `make
 * test-valgrind` runs it) the real model's loops test a sample of N; the
 * small built model's loops stay exhaustive. */
#include "bibim.h"
#include "harness.h"
#include "model_builder.h"

#include <stdint.h>
#include <unistd.h>

/* ---- the counting allocator ---- */

/* Every block carries a header (16 bytes, so the caller still gets
 * malloc's alignment) with a magic number and its size. */
enum { HEADER = 16 };
#define MAGIC_LIVE 0xB1B1A110C0FFEE01ull
#define MAGIC_FREED 0xDEADB10CDEADB10Cull

typedef struct counter {
    long calls;         /* alloc and realloc calls so far */
    long fail_at;       /* the call that fails (1-based over `calls`); 0: none */
    int sticky;         /* 1: every call from fail_at on fails too */
    long failures;      /* failures given since arm() */
    long live;          /* blocks allocated and not freed */
    size_t live_bytes;
    long misuse;        /* size 0, NULL or foreign pointers: breaches of bibim.h's promises */
} counter;

static int should_fail(counter *c) {
    c->calls++;
    if (!c->fail_at || c->calls < c->fail_at || (c->calls > c->fail_at && !c->sticky)) return 0;
    c->failures++;
    return 1;
}

/* The header of a block handed out, or NULL (counted as misuse) if `ptr`
 * is not a live block of ours. */
static uint64_t *header_of(counter *c, void *ptr) {
    uint64_t *h = ptr ? (uint64_t *)((char *)ptr - HEADER) : NULL;
    if (!h || h[0] != MAGIC_LIVE) {
        c->misuse++;
        return NULL;
    }
    return h;
}

static void *count_alloc(void *user, size_t size) {
    counter *c = user;
    if (size == 0) c->misuse++;
    if (should_fail(c)) return NULL;
    uint64_t *h = malloc(size + HEADER);
    if (!h) return NULL;
    h[0] = MAGIC_LIVE, h[1] = size;
    c->live++, c->live_bytes += size;
    return (char *)h + HEADER;
}

static void *count_realloc(void *user, void *ptr, size_t size) {
    counter *c = user;
    if (size == 0) c->misuse++;
    uint64_t *h = header_of(c, ptr);
    if (!h || should_fail(c)) return NULL;
    size_t old = (size_t)h[1];
    uint64_t *grown = realloc(h, size + HEADER);
    if (!grown) return NULL;
    grown[1] = size;
    c->live_bytes = c->live_bytes - old + size;
    return (char *)grown + HEADER;
}

static void count_free(void *user, void *ptr) {
    counter *c = user;
    uint64_t *h = header_of(c, ptr);
    if (!h) return;
    h[0] = MAGIC_FREED; /* a second free of it is misuse, not a crash */
    c->live--, c->live_bytes -= (size_t)h[1];
    free(h);
}

static bibim_allocator counting(counter *c) {
    bibim_allocator a = {count_alloc, count_realloc, count_free, c};
    return a;
}

/* Makes the nth allocation from now fail (0: none), and with c->sticky
 * every one after it. */
static void arm(counter *c, long nth) {
    c->fail_at = nth ? c->calls + nth : 0;
    c->failures = 0;
}

/* A model the loops run on; `sample`: under valgrind, test about 6 values
 * of N rather than all (its forward pass there costs ~20 ms a token). */
typedef struct target {
    const char *path, *label;
    int sample;
} target;

static long step_for(const target *t, long n) {
    const char *v = getenv("VALGRIND");
    return t->sample && v && !strcmp(v, "1") && n > 6 ? n / 6 : 1;
}

/* The status a run with an injected failure must give, and the failures it saw. */
static int failed_cleanly(const counter *c, bibim_status st) {
    return st == BIBIM_ERR_NOMEM && (c->sticky ? c->failures >= 1 : c->failures == 1);
}

/* ---- the models ---- */

static char tmp_dir[] = "/tmp/bibim-test-alloc-fail-XXXXXX";
static char tiny_path[300];
#define STORIES SHARED_DIR "/models/stories260K.gguf"

/* Rows of 32 and row counts in multiples of 8: quantized to Q8_0, the
 * weights are repacked at load (aligned allocations) on CPUs with AVX2. */
static const shape tiny = {.n_vocab = 40, .n_embd = 32, .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 64,
                           .n_rot = 8, .theta = 10000.0f, .eps = 1e-5f, .tied = 0, .rope_factors = 1};

/* The tiny model in F32, then quantized to Q8_0 at tiny_path. */
static int write_tiny(void) {
    weights w;
    char f32_path[300], err[256] = "";
    rng_state = 7;
    make_weights(&tiny, &w);
    snprintf(f32_path, sizeof f32_path, "%s/tiny_f32.gguf", tmp_dir);
    snprintf(tiny_path, sizeof tiny_path, "%s/tiny_q8_0.gguf", tmp_dir);
    int ok = write_model(&tiny, &w, f32_path, NULL);
    free_weights(&tiny, &w);
    bibim_quantize_params qp = bibim_quantize_default_params();
    qp.ftype = BIBIM_FTYPE_Q8_0, qp.pure = 1, qp.n_threads = 1;
    if (ok && bibim_quantize_model(f32_path, tiny_path, &qp, err, sizeof err) != BIBIM_OK) {
        printf("cannot quantize the tiny model: %s\n", err);
        ok = 0;
    }
    unlink(f32_path);
    return ok;
}

static bibim_status load(const char *path, int use_mmap, const bibim_allocator *a, bibim_model **m) {
    bibim_model_params p = bibim_model_default_params();
    p.use_mmap = use_mmap;
    p.allocator = a;
    return bibim_model_load(path, &p, m);
}

/* ---- (1) model load ---- */

/* A load with no failure armed works and leaves nothing once freed. */
static int load_works(counter *c, const char *path, int use_mmap) {
    bibim_allocator a = counting(c);
    bibim_model *m = NULL;
    arm(c, 0);
    bibim_status st = load(path, use_mmap, &a, &m);
    CHECKF(st == BIBIM_OK, "%s", bibim_model_errmsg(m));
    bibim_model_free(m);
    CHECKF(c->live == 0, "%ld blocks (%zu bytes) leak", c->live, c->live_bytes);
    return st == BIBIM_OK && c->live == 0;
}

static void check_load(const target *t, int use_mmap, int sticky) {
    counter c = {.sticky = sticky};
    bibim_allocator a = counting(&c);
    if (!load_works(&c, t->path, use_mmap)) return;
    long n = c.calls;
    if (!sticky) printf("  %s, use_mmap %d: load: %ld allocations\n", t->label, use_mmap, n);
    for (long i = 1; i <= n && !harness_case_failed; i += step_for(t, n)) {
        bibim_model *m = NULL;
        arm(&c, i);
        bibim_status st = load(t->path, use_mmap, &a, &m);
        CHECKF(failed_cleanly(&c, st), "allocation %ld of %ld failed: status %s, message '%s'", i, n,
               bibim_status_string(st), bibim_model_errmsg(m));
        bibim_model_free(m);
        CHECKF(c.live == 0, "allocation %ld of %ld failed: %ld blocks (%zu bytes) leak", i, n, c.live, c.live_bytes);
        load_works(&c, t->path, use_mmap);
    }
    CHECK(c.misuse == 0);
}

static int test_load_tiny(void) {
    target t = {tiny_path, "tiny model", 0};
    for (int sticky = 0; sticky <= 1; sticky++)
        for (int mmap = 0; mmap <= 1; mmap++) check_load(&t, mmap, sticky);
    return 0;
}

static int test_load_stories(void) {
    SKIP_UNLESS_FILE(STORIES);
    target t = {STORIES, "stories260K", 1};
    for (int mmap = 0; mmap <= 1; mmap++) check_load(&t, mmap, 0);
    return 0;
}

/* ---- (2) context creation ---- */

/* Two threads for the context phase, so that the pool starts a worker; one
 * for generating, which allocates nothing in the context (and worker
 * threads spinning under valgrind would cost seconds). */
static bibim_status create_context(const bibim_model *m, int n_threads, bibim_context **ctx) {
    bibim_context_params p = bibim_context_default_params();
    p.n_ctx = 48;
    p.n_threads = n_threads;
    p.n_seq = 2;
    return bibim_context_create(m, &p, ctx);
}

/* A context with no failure armed works: it evaluates a token. */
static void context_works(counter *c, const bibim_model *m, long live_before) {
    bibim_context *ctx = NULL;
    arm(c, 0);
    bibim_status st = create_context(m, 2, &ctx);
    CHECKF(st == BIBIM_OK, "%s", bibim_context_errmsg(ctx));
    bibim_token t = 1;
    if (st == BIBIM_OK) CHECK(bibim_context_eval(ctx, &t, 1, NULL) == BIBIM_OK);
    bibim_context_free(ctx);
    CHECK(c->live == live_before);
}

static void check_context(const target *t, int use_mmap, int sticky) {
    counter c = {.sticky = sticky};
    bibim_allocator a = counting(&c);
    bibim_model *m = NULL;
    CHECKF(load(t->path, use_mmap, &a, &m) == BIBIM_OK, "%s", bibim_model_errmsg(m));
    long live = c.live, before = c.calls;
    context_works(&c, m, live);
    long n = c.calls - before;
    if (!sticky) printf("  %s, use_mmap %d: context: %ld allocations\n", t->label, use_mmap, n);
    for (long i = 1; i <= n && !harness_case_failed; i += step_for(t, n)) {
        bibim_context *ctx = NULL;
        arm(&c, i);
        bibim_status st = create_context(m, 2, &ctx);
        CHECKF(failed_cleanly(&c, st), "allocation %ld of %ld failed: status %s, message '%s'", i, n,
               bibim_status_string(st), bibim_context_errmsg(ctx));
        bibim_context_free(ctx);
        CHECKF(c.live == live, "allocation %ld of %ld failed: %ld blocks leak", i, n, c.live - live);
        context_works(&c, m, live);
    }
    bibim_model_free(m);
    CHECK(c.live == 0 && c.misuse == 0);
}

static int test_context_tiny(void) {
    target t = {tiny_path, "tiny model", 0};
    for (int sticky = 0; sticky <= 1; sticky++) check_context(&t, 1, sticky);
    return 0;
}

static int test_context_stories(void) {
    SKIP_UNLESS_FILE(STORIES);
    target t = {STORIES, "stories260K", 1};
    for (int mmap = 0; mmap <= 1; mmap++) check_context(&t, mmap, 0);
    return 0;
}

/* ---- (3) generation: tokenize, sampler, bibim_generate ---- */

enum { N_PREDICT = 4, MAX_TOKENS = 64 };

typedef struct run {
    bibim_token prompt[MAX_TOKENS];
    int64_t n_prompt;
    bibim_token out[MAX_TOKENS];
    int n_out;
} run;

static int collect(void *user, bibim_token token, const char *text, size_t len) {
    (void)text, (void)len;
    run *r = user;
    if (token >= 0 && r->n_out < MAX_TOKENS) r->out[r->n_out++] = token;
    return 0;
}

/* Tokenizes `text`, then generates N_PREDICT tokens with a seeded sampler
 * that has a logit bias and a penalty window, and a stop string that never
 * comes (so every allocation of the chain is made). */
static bibim_status generate(bibim_context *ctx, const bibim_model *m, const char *text, run *r) {
    bibim_status st = bibim_tokenize(m, text, strlen(text), BIBIM_TOKENIZE_ADD_BOS, r->prompt, MAX_TOKENS, &r->n_prompt);
    if (st != BIBIM_OK) return st;
    bibim_logit_bias bias = {3, -1.0f};
    bibim_sampler_params sp = bibim_sampler_default_params();
    sp.seed = 42, sp.repeat_penalty = 1.1f, sp.logit_bias = &bias, sp.n_logit_bias = 1;
    bibim_sampler *s = NULL;
    st = bibim_sampler_create(m, &sp, &s);
    if (st != BIBIM_OK) return st;
    const char *stop[] = {"\x01never"};
    bibim_generate_params gp = bibim_generate_default_params();
    gp.n_predict = N_PREDICT, gp.stop = stop, gp.n_stop = 1, gp.on_token = collect, gp.user = r;
    r->n_out = 0;
    st = bibim_generate(ctx, s, r->prompt, r->n_prompt, &gp, NULL);
    bibim_sampler_free(s);
    return st;
}

/* From an empty cache, a generation with no failure armed gives `want`. */
static void generation_works(counter *c, bibim_context *ctx, const bibim_model *m, const char *text,
                             const run *want) {
    run r = {0};
    arm(c, 0);
    CHECK(bibim_context_truncate(ctx, 0) == BIBIM_OK);
    bibim_status st = generate(ctx, m, text, &r);
    CHECKF(st == BIBIM_OK, "%s", bibim_context_errmsg(ctx));
    CHECK(r.n_out == want->n_out && !memcmp(r.out, want->out, sizeof r.out[0] * (size_t)r.n_out));
}

/* The tokens a run with libc's allocator gives: the reference. */
static int reference_run(const char *path, const char *text, run *want) {
    bibim_model *m = NULL;
    bibim_context *ctx = NULL;
    int ok = load(path, 1, NULL, &m) == BIBIM_OK && create_context(m, 1, &ctx) == BIBIM_OK &&
             generate(ctx, m, text, want) == BIBIM_OK;
    CHECK(ok);
    bibim_context_free(ctx);
    bibim_model_free(m);
    return ok;
}

static void check_generation(const target *t, const char *text, int sticky) {
    run want = {0};
    if (!reference_run(t->path, text, &want)) return;
    counter c = {.sticky = sticky};
    bibim_allocator a = counting(&c);
    bibim_model *m = NULL;
    bibim_context *ctx = NULL;
    CHECK(load(t->path, 1, &a, &m) == BIBIM_OK && create_context(m, 1, &ctx) == BIBIM_OK);
    long live = c.live, before = c.calls;
    generation_works(&c, ctx, m, text, &want);
    long n = c.calls - before;
    if (!sticky) printf("  %s: generation (tokenize, sampler, %d tokens): %ld allocations\n", t->label, N_PREDICT, n);
    for (long i = 1; i <= n && !harness_case_failed; i += step_for(t, n)) {
        run r = {0};
        CHECK(bibim_context_truncate(ctx, 0) == BIBIM_OK);
        arm(&c, i);
        bibim_status st = generate(ctx, m, text, &r);
        CHECKF(failed_cleanly(&c, st), "allocation %ld of %ld failed: status %s", i, n, bibim_status_string(st));
        CHECKF(c.live == live, "allocation %ld of %ld failed: %ld blocks leak", i, n, c.live - live);
        generation_works(&c, ctx, m, text, &want);
    }
    bibim_context_free(ctx);
    bibim_model_free(m);
    CHECK(c.live == 0 && c.misuse == 0);
}

static int test_generation_tiny(void) {
    target t = {tiny_path, "tiny model", 0};
    for (int sticky = 0; sticky <= 1; sticky++) check_generation(&t, "t5 t7 t9 t11", sticky);
    return 0;
}

static int test_generation_stories(void) {
    SKIP_UNLESS_FILE(STORIES);
    target t = {STORIES, "stories260K", 1};
    check_generation(&t, "Once upon a time", 0);
    return 0;
}

/* ---- (4) a byte-level BPE vocabulary: load, tokenize, detokenize, text stream ---- */

static char bpe_path[300];
enum { LONG_TOKEN = 300, N_ASCII = 94 }; /* a token longer than the 256-byte piece buffers */

/* A vocabulary-only file: '!'..'~' (byte-level BPE's characters for
 * themselves), U+0120 (its space), three merged tokens, a control token, a
 * long user-defined token, and a chat template. */
static int write_bpe_vocab(void) {
    static char ascii[N_ASCII][2], long_token[LONG_TOKEN + 1];
    bibim_str tokens[N_ASCII + 6];
    int32_t types[N_ASCII + 6];
    for (int i = 0; i < N_ASCII; i++) ascii[i][0] = (char)('!' + i), tokens[i] = (bibim_str){ascii[i], 1}, types[i] = 1;
    memset(long_token, 'q', LONG_TOKEN);
    const char *extra[] = {"\xC4\xA0", "ab", "abc", "\xC4\xA0" "a", "<|eot|>", long_token};
    const int32_t extra_types[] = {1, 1, 1, 1, 3, 4};
    for (int i = 0; i < 6; i++) tokens[N_ASCII + i] = (bibim_str){extra[i], strlen(extra[i])}, types[N_ASCII + i] = extra_types[i];
    const bibim_str merges[] = {{"a b", 3}, {"ab c", 4}, {"\xC4\xA0 a", 4}};
    bibim_gguf_writer *w = NULL;
    snprintf(bpe_path, sizeof bpe_path, "%s/bpe.gguf", tmp_dir);
    bibim_status st = bibim_gguf_writer_create(&w);
    bibim_gguf_writer_set_str(w, "general.architecture", "llama");
    bibim_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    bibim_gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe");
    bibim_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, N_ASCII + 6);
    bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, types, N_ASCII + 6);
    bibim_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    bibim_gguf_writer_set_str(w, "tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}");
    if (st == BIBIM_OK) st = bibim_gguf_writer_begin(w, bpe_path);
    if (st == BIBIM_OK) st = bibim_gguf_writer_finish(w);
    CHECKF(st == BIBIM_OK, "%s", bibim_gguf_writer_errmsg(w));
    bibim_gguf_writer_free(w);
    return st == BIBIM_OK;
}

typedef struct text_out {
    char decoded[1024], streamed[1024];
    int64_t n_decoded;
    size_t n_streamed;
} text_out;

/* Tokenizes with control tokens recognised, and detokenizes (-2: out of memory). */
static bibim_status bpe_round_trip(const bibim_model *m, const char *text, bibim_token *t, int64_t *n, text_out *out) {
    bibim_status st = bibim_tokenize(m, text, strlen(text), BIBIM_TOKENIZE_SPECIAL, t, MAX_TOKENS, n);
    if (st != BIBIM_OK) return st;
    out->n_decoded = bibim_detokenize(m, t, *n, BIBIM_PIECE_SPECIAL, out->decoded, sizeof out->decoded);
    return out->n_decoded == -2 ? BIBIM_ERR_NOMEM : out->n_decoded < 0 ? BIBIM_ERR_INVALID_ARG : BIBIM_OK;
}

static void append(text_out *out, const char *text, size_t len) {
    if (out->n_streamed + len <= sizeof out->streamed) memcpy(out->streamed + out->n_streamed, text, len);
    out->n_streamed += len;
}

/* The tokens through a text stream with a stop string, as a caller's own
 * generation loop would. */
static bibim_status bpe_stream(const bibim_model *m, const bibim_token *t, int64_t n, text_out *out) {
    const char *stop[] = {"zz"}, *text;
    size_t len;
    bibim_text_stream *ts = NULL;
    bibim_status st = bibim_text_stream_create(m, stop, 1, BIBIM_PIECE_SPECIAL, &ts);
    for (int64_t i = 0; i < n && st == BIBIM_OK; i++)
        if ((st = bibim_text_stream_push(ts, t[i], &text, &len, NULL)) == BIBIM_OK) append(out, text, len);
    if (st == BIBIM_OK && (st = bibim_text_stream_finish(ts, &text, &len)) == BIBIM_OK) append(out, text, len);
    bibim_text_stream_free(ts);
    return st;
}

/* Everything of phase 4 from a load to the last free; *out gets the texts. */
static bibim_status bpe_run(const bibim_allocator *a, text_out *out) {
    static char text[LONG_TOKEN + 64];
    snprintf(text, sizeof text, "abc ab<|eot|> a%0*d zz!", LONG_TOKEN, 0);
    memset(strchr(text, '0'), 'q', LONG_TOKEN);
    bibim_model_params p = bibim_model_default_params();
    p.vocab_only = 1, p.allocator = a;
    bibim_model *m = NULL;
    bibim_token t[MAX_TOKENS];
    int64_t n = 0;
    memset(out, 0, sizeof *out);
    bibim_status st = bibim_model_load(bpe_path, &p, &m);
    if (st == BIBIM_OK) st = bpe_round_trip(m, text, t, &n, out);
    if (st == BIBIM_OK) st = bpe_stream(m, t, n, out);
    bibim_model_free(m);
    return st;
}

static int same_text(const text_out *a, const text_out *b) {
    return a->n_decoded == b->n_decoded && !memcmp(a->decoded, b->decoded, (size_t)a->n_decoded) &&
           a->n_streamed == b->n_streamed && !memcmp(a->streamed, b->streamed, a->n_streamed);
}

static void check_bpe(int sticky) {
    text_out want, got;
    counter c = {.sticky = sticky};
    bibim_allocator a = counting(&c);
    CHECK(bpe_run(NULL, &want) == BIBIM_OK && want.n_decoded > LONG_TOKEN && want.n_streamed > LONG_TOKEN);
    CHECK(bpe_run(&a, &got) == BIBIM_OK && same_text(&got, &want) && c.live == 0);
    long n = c.calls;
    if (!sticky) printf("  BPE vocabulary: load, tokenize, detokenize, text stream: %ld allocations\n", n);
    for (long i = 1; i <= n && !harness_case_failed; i++) {
        arm(&c, i);
        bibim_status st = bpe_run(&a, &got);
        CHECKF(failed_cleanly(&c, st), "allocation %ld of %ld failed: status %s", i, n, bibim_status_string(st));
        CHECKF(c.live == 0, "allocation %ld of %ld failed: %ld blocks leak", i, n, c.live);
        arm(&c, 0);
        CHECK(bpe_run(&a, &got) == BIBIM_OK && same_text(&got, &want));
    }
    CHECK(c.misuse == 0);
}

static int test_bpe_vocab(void) {
    if (!write_bpe_vocab()) return 0;
    for (int sticky = 0; sticky <= 1; sticky++) check_bpe(sticky);
    unlink(bpe_path);
    return 0;
}

/* ---- the hook itself ---- */

/* An allocator with only some functions set is refused with a handle
 * (made with libc's allocator) that says why; one with none set is libc's. */
static int test_partial_allocator(void) {
    bibim_allocator half = {count_alloc, NULL, count_free, NULL}, none = {NULL, NULL, NULL, NULL};
    bibim_model *m = NULL;
    CHECK(load(tiny_path, 1, &half, &m) == BIBIM_ERR_INVALID_ARG);
    CHECK(m && strstr(bibim_model_errmsg(m), "allocator"));
    bibim_model_free(m);
    m = NULL;
    CHECK(load(tiny_path, 1, &none, &m) == BIBIM_OK);
    bibim_model_free(m);
    return 0;
}

/* Everything made from a model uses its allocator, and frees give it all back. */
static int test_all_through_hook(void) {
    counter c = {0};
    bibim_allocator a = counting(&c);
    bibim_model *m = NULL;
    bibim_context *ctx = NULL;
    bibim_text_stream *ts = NULL;
    CHECK(load(tiny_path, 0, &a, &m) == BIBIM_OK);
    long after_load = c.live;
    CHECK(after_load > 0 && create_context(m, 2, &ctx) == BIBIM_OK && c.live > after_load);
    long after_ctx = c.live;
    CHECK(bibim_text_stream_create(m, NULL, 0, 0, &ts) == BIBIM_OK && c.live == after_ctx + 1);
    bibim_text_stream_free(ts);
    bibim_context_free(ctx);
    CHECK(c.live == after_load);
    bibim_model_free(m);
    CHECK(c.live == 0 && c.live_bytes == 0 && c.misuse == 0);
    return 0;
}

int main(void) {
    if (!mkdtemp(tmp_dir) || !write_tiny()) return 1;
    RUN(test_partial_allocator);
    RUN(test_all_through_hook);
    RUN(test_load_tiny);
    RUN(test_load_stories);
    RUN(test_context_tiny);
    RUN(test_context_stories);
    RUN(test_generation_tiny);
    RUN(test_generation_stories);
    RUN(test_bpe_vocab);
    unlink(tiny_path);
    rmdir(tmp_dir);
    return harness_finish();
}
