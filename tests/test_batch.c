/* test_batch.c — contexts with several sequence slots and batched
 * evaluation (bibim_context_eval_batch):
 *   (a) four prompts prefilled in one batch, then decoded greedily together
 *       step by step, give exactly the tokens and bit-identical logits of
 *       each sequence run alone through bibim_context_eval;
 *   (b) mixed steps: slots decoding while another prefills in chunks;
 *   (c) bibim_context_seq_copy, then continuing, equals re-evaluating the prefix;
 *   (d) truncating or clearing a slot leaves the others alone; slot 0 is
 *       what the single-sequence calls (eval, truncate, generate) use;
 *   (e) every argument error, with nothing changed after it;
 *   (f) 1, 2 and 3 threads give the same bits.
 * On a random model written here, in F32 and quantized to F16, Q8_0, Q4_0
 * and Q4_K_M (packed kernels, several tile sizes: batches of up to 80
 * tokens); with tied embeddings in Q4_0 and Q4_K_M (a Q6_K output matrix in
 * file layout, which products of many tokens pack on the fly); and on
 * stories260K when ../shared has it. */
#include "bibim.h"
#include "harness.h"
#include "model_builder.h"

#include <unistd.h>

/* Dimensions multiples of 256 so every quantization applies; untied output
 * (a packed output matrix) with llama3-style rope factors. */
static const shape model_shape = {.n_vocab = 64, .n_embd = 256, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
                                  .n_ff = 512, .n_rot = 64, .theta = 10000.0f, .eps = 1e-5f, .tied = 0,
                                  .rope_factors = 1};

typedef struct test_model {
    char name[32];
    bibim_model *m;
    int n_vocab;
} test_model;

enum { MAX_MODELS = 10, N_CTX = 128, MAX_V = 512 };
static test_model models[MAX_MODELS];
static int n_models;
static char tmp_dir[] = "/tmp/bibim-test-batch-XXXXXX";

/* ---- helpers ---- */

static bibim_context *new_ctx(const test_model *tm, uint32_t n_seq, int threads) {
    bibim_context_params cp = bibim_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_seq = n_seq;
    cp.n_threads = threads;
    bibim_context *c = NULL;
    bibim_status st = bibim_context_create(tm->m, &cp, &c);
    CHECKF(st == BIBIM_OK, "%s: %s", tm->name, bibim_context_errmsg(c));
    if (st == BIBIM_OK) return c;
    bibim_context_free(c);
    return NULL;
}

static bibim_token argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void make_prompt(bibim_token *out, int n, int seed, int n_vocab) {
    for (int i = 0; i < n; i++) out[i] = (bibim_token)((seed * 31 + i * 17 + 3) % n_vocab);
}

static int same_row(const float *a, const float *b, int n_vocab) {
    return memcmp(a, b, (size_t)n_vocab * sizeof(float)) == 0;
}

/* One sequence alone, through the single-sequence API: the prompt (its
 * logits after every token into prompt_logits, when not NULL), then
 * `steps` greedy tokens. logits[s] is the row token gen[s] was picked
 * from (s = 0: after the prompt). */
typedef struct solo {
    float *prompt_logits; /* [n_prompt][V] or NULL */
    float logits[16][MAX_V];
    bibim_token gen[16];
} solo;

static void run_alone(const test_model *tm, const bibim_token *prompt, int n_prompt, int steps, int threads,
                      solo *out) {
    bibim_context *c = new_ctx(tm, 1, threads);
    if (!c) return;
    CHECK(bibim_context_eval(c, prompt, n_prompt, out->prompt_logits) == BIBIM_OK);
    for (int s = 0; s <= steps; s++) {
        if (s > 0) CHECK(bibim_context_eval(c, &out->gen[s - 1], 1, NULL) == BIBIM_OK);
        const float *l = bibim_context_logits(c);
        CHECK(l != NULL);
        if (!l) break;
        memcpy(out->logits[s], l, (size_t)tm->n_vocab * sizeof(float));
        out->gen[s] = argmax(l, tm->n_vocab);
    }
    bibim_context_free(c);
}

/* A batch under construction: up to 128 tokens. */
typedef struct batch_buf {
    bibim_token tokens[128];
    int32_t seq[128];
    uint8_t want[128];
    float *logits; /* [128][V] */
    int n, n_rows;
} batch_buf;

static void batch_add(batch_buf *b, int32_t seq, const bibim_token *tokens, int n, int want_all, int want_last) {
    for (int i = 0; i < n; i++) {
        b->tokens[b->n] = tokens[i];
        b->seq[b->n] = seq;
        b->want[b->n] = (uint8_t)(want_all || (want_last && i == n - 1));
        b->n_rows += b->want[b->n];
        b->n++;
    }
}

static bibim_status batch_eval(bibim_context *c, batch_buf *b) {
    bibim_batch batch = {.n_tokens = b->n, .tokens = b->tokens, .seq = b->seq, .want_logits = b->want,
                         .logits = b->logits};
    bibim_status st = bibim_context_eval_batch(c, &batch);
    CHECKF(st == BIBIM_OK, "%s", bibim_context_errmsg(c));
    return st;
}

static void batch_reset(batch_buf *b) { b->n = b->n_rows = 0; }

static batch_buf *batch_new(void) {
    batch_buf *b = calloc(1, sizeof *b);
    b->logits = malloc(sizeof(float) * 128 * MAX_V);
    return b;
}

static void batch_free(batch_buf *b) {
    free(b->logits);
    free(b);
}

/* ---- (a) and (f): four sequences together ---- */

enum { N_SEQS = 4, STEPS = 6 };
static const int prompt_len[N_SEQS] = {17, 30, 9, 24}; /* 80 tokens: crosses every kernel's tile and chunk */
static const int32_t slot_of[N_SEQS] = {2, 0, 3, 1};

/* Prefill all four in one batch (the logits after every prompt token),
 * then decode together; every row against the sequence's solo run. Decode
 * steps list the slots in a different order each time. */
static void four_together(const test_model *tm, const solo *alone, bibim_token prompts[][32], int threads) {
    bibim_context *c = new_ctx(tm, N_SEQS, threads);
    batch_buf *b = batch_new();
    if (!c) goto done;
    for (int i = 0; i < N_SEQS; i++) batch_add(b, slot_of[i], prompts[i], prompt_len[i], 1, 0);
    if (batch_eval(c, b) != BIBIM_OK) goto done;
    const float *row = b->logits;
    for (int i = 0; i < N_SEQS; i++)
        for (int t = 0; t < prompt_len[i]; t++, row += tm->n_vocab)
            CHECKF(same_row(row, alone[i].prompt_logits + t * tm->n_vocab, tm->n_vocab),
                   "%s, %d threads: sequence %d's logits after prompt token %d differ from its solo run", tm->name,
                   threads, i, t);
    for (int s = 1; s <= STEPS; s++) {
        batch_reset(b);
        int order[N_SEQS];
        for (int k = 0; k < N_SEQS; k++) order[k] = (k + s) % N_SEQS;
        for (int k = 0; k < N_SEQS; k++) {
            int i = order[k];
            CHECK(argmax(alone[i].logits[s - 1], tm->n_vocab) == alone[i].gen[s - 1]);
            batch_add(b, slot_of[i], &alone[i].gen[s - 1], 1, 1, 0);
        }
        if (batch_eval(c, b) != BIBIM_OK) goto done;
        for (int k = 0; k < N_SEQS; k++) {
            int i = order[k];
            const float *got = b->logits + k * tm->n_vocab;
            CHECKF(argmax(got, tm->n_vocab) == alone[i].gen[s] && same_row(got, alone[i].logits[s], tm->n_vocab),
                   "%s, %d threads: sequence %d, step %d differs from its solo run", tm->name, threads, i, s);
        }
    }
    for (int i = 0; i < N_SEQS; i++)
        CHECK(bibim_context_seq_n_past(c, slot_of[i]) == prompt_len[i] + STEPS);
done:
    batch_free(b);
    bibim_context_free(c);
}

/* N_SEQS solo records with room for each prompt's logits. */
static solo *solos_new(const test_model *tm) {
    solo *s = calloc(N_SEQS, sizeof *s);
    for (int i = 0; i < N_SEQS; i++) s[i].prompt_logits = malloc(sizeof(float) * 32 * (size_t)tm->n_vocab);
    return s;
}

static void solos_free(solo *s) {
    for (int i = 0; i < N_SEQS; i++) free(s[i].prompt_logits);
    free(s);
}

static int test_four_sequences_match_solo_runs(void) {
    for (int mi = 0; mi < n_models; mi++) {
        const test_model *tm = &models[mi];
        bibim_token prompts[N_SEQS][32];
        solo *alone = solos_new(tm);
        for (int i = 0; i < N_SEQS; i++) {
            make_prompt(prompts[i], prompt_len[i], i + 1, tm->n_vocab);
            run_alone(tm, prompts[i], prompt_len[i], STEPS, 1, &alone[i]);
        }
        four_together(tm, alone, prompts, 1);
        solos_free(alone);
    }
    return 0;
}

/* (f): the batched runs at 2 and 3 threads, and the solo runs at 3 threads,
 * against the solo runs at 1 thread. */
static int test_thread_counts_same_bits(void) {
    for (int mi = 0; mi < n_models; mi++) {
        const test_model *tm = &models[mi];
        bibim_token prompts[N_SEQS][32];
        solo *alone = solos_new(tm), *alone3 = solos_new(tm);
        for (int i = 0; i < N_SEQS; i++) {
            make_prompt(prompts[i], prompt_len[i], i + 1, tm->n_vocab);
            run_alone(tm, prompts[i], prompt_len[i], STEPS, 1, &alone[i]);
        }
        run_alone(tm, prompts[1], prompt_len[1], STEPS, 3, alone3);
        CHECKF(!memcmp(alone3->logits, alone[1].logits, sizeof alone3->logits) &&
                   !memcmp(alone3->prompt_logits, alone[1].prompt_logits,
                           sizeof(float) * (size_t)(prompt_len[1] * tm->n_vocab)),
               "%s: solo run, 3 threads differ", tm->name);
        four_together(tm, alone, prompts, 2);
        four_together(tm, alone, prompts, 3);
        solos_free(alone);
        solos_free(alone3);
    }
    return 0;
}

/* ---- (b): decoding while another slot prefills ---- */

enum { LEN_A = 6, LEN_B = 23, CHUNK = 5, MIXED_STEPS = 9 };

/* Slot 3 decodes every step; slot 1's prompt arrives in chunks of CHUNK
 * (logits of every chunk token wanted) in the same batches, before or after
 * slot 3's token, then slot 1 decodes too. */
static void mixed_steps(const test_model *tm, const bibim_token *a, const bibim_token *bp, const solo *sa,
                        const solo *sb, int threads) {
    bibim_context *c = new_ctx(tm, 4, threads);
    batch_buf *b = batch_new();
    if (!c) goto done;
    batch_add(b, 3, a, LEN_A, 0, 1);
    if (batch_eval(c, b) != BIBIM_OK) goto done;
    CHECK(same_row(b->logits, sa->logits[0], tm->n_vocab));
    int b_done = 0, b_step = 0;
    for (int s = 1; s <= MIXED_STEPS; s++) {
        batch_reset(b);
        int chunk = LEN_B - b_done < CHUNK ? LEN_B - b_done : CHUNK, a_first = s % 2;
        if (a_first) batch_add(b, 3, &sa->gen[s - 1], 1, 1, 0);
        if (chunk > 0) batch_add(b, 1, bp + b_done, chunk, 1, 0);
        else batch_add(b, 1, &sb->gen[b_step++], 1, 1, 0);
        if (!a_first) batch_add(b, 3, &sa->gen[s - 1], 1, 1, 0);
        if (batch_eval(c, b) != BIBIM_OK) goto done;
        const float *rows_b = b->logits + (a_first ? tm->n_vocab : 0);
        const float *row_a = b->logits + (a_first ? 0 : (int64_t)(b->n - 1) * tm->n_vocab);
        CHECKF(same_row(row_a, sa->logits[s], tm->n_vocab), "%s: slot 3, step %d", tm->name, s);
        for (int i = 0; i < chunk; i++)
            CHECKF(same_row(rows_b + i * tm->n_vocab, sb->prompt_logits + (b_done + i) * tm->n_vocab, tm->n_vocab),
                   "%s: slot 1, prompt token %d", tm->name, b_done + i);
        if (chunk == 0) CHECKF(same_row(rows_b, sb->logits[b_step], tm->n_vocab), "%s: slot 1, step %d", tm->name, b_step);
        b_done += chunk;
    }
    CHECK(b_step > 0); /* the steps reached slot 1's decoding */
    CHECK(bibim_context_seq_n_past(c, 3) == LEN_A + MIXED_STEPS && bibim_context_seq_n_past(c, 1) == LEN_B + b_step);
    CHECK(bibim_context_seq_n_past(c, 0) == 0 && bibim_context_seq_n_past(c, 2) == 0);
done:
    batch_free(b);
    bibim_context_free(c);
}

static int test_mixed_decode_and_prefill(void) {
    for (int mi = 0; mi < n_models; mi++) {
        const test_model *tm = &models[mi];
        bibim_token a[LEN_A], bp[LEN_B];
        make_prompt(a, LEN_A, 7, tm->n_vocab);
        make_prompt(bp, LEN_B, 8, tm->n_vocab);
        solo *sa = calloc(1, sizeof *sa), *sb = calloc(1, sizeof *sb);
        sb->prompt_logits = malloc(sizeof(float) * LEN_B * (size_t)tm->n_vocab);
        run_alone(tm, a, LEN_A, MIXED_STEPS, 1, sa);
        run_alone(tm, bp, LEN_B, MIXED_STEPS, 1, sb);
        mixed_steps(tm, a, bp, sa, sb, 1);
        mixed_steps(tm, a, bp, sa, sb, 2);
        free(sb->prompt_logits);
        free(sa), free(sb);
    }
    return 0;
}

/* ---- (c): copying a cached prefix ---- */

enum { LEN_P = 10, KEEP = 6, LEN_C = 4 };

/* The logits after p[0..keep) + cont, evaluated alone: rows for cont. */
static void alone_rows(const test_model *tm, const bibim_token *p, int keep, const bibim_token *cont, int n_cont,
                       float *rows) {
    bibim_token all[64];
    memcpy(all, p, (size_t)keep * sizeof *all);
    memcpy(all + keep, cont, (size_t)n_cont * sizeof *all);
    float *every = malloc(sizeof(float) * (size_t)(keep + n_cont) * (size_t)tm->n_vocab);
    bibim_context *c = new_ctx(tm, 1, 1);
    if (c) CHECK(bibim_context_eval(c, all, keep + n_cont, every) == BIBIM_OK);
    memcpy(rows, every + (size_t)keep * (size_t)tm->n_vocab, sizeof(float) * (size_t)n_cont * (size_t)tm->n_vocab);
    bibim_context_free(c);
    free(every);
}

static void copy_prefix(const test_model *tm) {
    int V = tm->n_vocab;
    bibim_token p[LEN_P], cont[LEN_C], other[12], x = 5;
    make_prompt(p, LEN_P, 11, V);
    make_prompt(cont, LEN_C, 12, V);
    make_prompt(other, 12, 13, V);
    float *want_c = malloc(sizeof(float) * LEN_C * (size_t)V), *want_x = malloc(sizeof(float) * (size_t)V);
    alone_rows(tm, p, KEEP, cont, LEN_C, want_c);
    alone_rows(tm, p, LEN_P, &x, 1, want_x);
    bibim_context *c = new_ctx(tm, 3, 2);
    batch_buf *b = batch_new();
    if (!c) goto done;
    CHECK(bibim_context_eval(c, p, LEN_P, NULL) == BIBIM_OK); /* slot 0, by the single-sequence call */
    batch_add(b, 2, other, 12, 0, 0);                        /* slot 2 holds something else first */
    batch_eval(c, b);
    CHECK(bibim_context_seq_copy(c, 0, 2, KEEP) == BIBIM_OK);
    CHECK(bibim_context_seq_n_past(c, 2) == KEEP && bibim_context_seq_n_past(c, 0) == LEN_P);
    batch_reset(b);
    batch_add(b, 2, cont, LEN_C, 1, 0);
    batch_add(b, 0, &x, 1, 1, 0);
    if (batch_eval(c, b) != BIBIM_OK) goto done;
    for (int i = 0; i < LEN_C; i++)
        CHECKF(same_row(b->logits + i * V, want_c + i * V, V), "%s: copied prefix, token %d", tm->name, i);
    CHECKF(same_row(b->logits + LEN_C * V, want_x, V), "%s: the source slot after the copy", tm->name);
    CHECK(bibim_context_logits(c) && same_row(bibim_context_logits(c), want_x, V));
    /* Copying into slot 0 replaces what the single-sequence calls see. */
    CHECK(bibim_context_seq_copy(c, 2, 0, KEEP) == BIBIM_OK);
    CHECK(bibim_context_n_past(c) == KEEP && bibim_context_logits(c) == NULL);
    CHECK(bibim_context_eval(c, cont, LEN_C, NULL) == BIBIM_OK);
    CHECK(bibim_context_logits(c) && same_row(bibim_context_logits(c), want_c + (LEN_C - 1) * V, V));
    /* src == dst truncates. */
    CHECK(bibim_context_seq_copy(c, 1, 1, 0) == BIBIM_OK && bibim_context_seq_copy(c, 2, 2, 3) == BIBIM_OK);
    CHECK(bibim_context_seq_n_past(c, 2) == 3);
done:
    batch_free(b);
    bibim_context_free(c);
    free(want_c), free(want_x);
}

static int test_seq_copy_reuses_prefix(void) {
    for (int mi = 0; mi < n_models; mi++) copy_prefix(&models[mi]);
    return 0;
}

/* ---- (d): truncating one slot ---- */

static void truncate_one(const test_model *tm) {
    int V = tm->n_vocab;
    bibim_token p[3][12], q[3], r[7], t0 = 9;
    for (int i = 0; i < 3; i++) make_prompt(p[i], 12, 20 + i, V);
    make_prompt(q, 3, 30, V);
    make_prompt(r, 7, 31, V);
    float *want0 = malloc(sizeof(float) * (size_t)V), *want1 = malloc(sizeof(float) * 3 * (size_t)V);
    float *want2 = malloc(sizeof(float) * (size_t)V);
    alone_rows(tm, p[0], 12, &t0, 1, want0);
    alone_rows(tm, p[1], 4, q, 3, want1);
    alone_rows(tm, r, 6, r + 6, 1, want2);
    bibim_context *c = new_ctx(tm, 3, 1);
    batch_buf *b = batch_new();
    if (!c) goto done;
    for (int i = 0; i < 3; i++) batch_add(b, i, p[i], 12, 0, 0);
    batch_eval(c, b);
    CHECK(bibim_context_logits(c) == NULL); /* slot 0 had tokens, its logits were not wanted */
    CHECK(bibim_context_seq_truncate(c, 1, 4) == BIBIM_OK && bibim_context_seq_truncate(c, 2, 0) == BIBIM_OK);
    CHECK(bibim_context_seq_n_past(c, 0) == 12 && bibim_context_seq_n_past(c, 1) == 4 &&
          bibim_context_seq_n_past(c, 2) == 0);
    batch_reset(b);
    batch_add(b, 2, r, 7, 0, 1);
    batch_add(b, 0, &t0, 1, 1, 0);
    batch_add(b, 1, q, 3, 1, 0);
    if (batch_eval(c, b) != BIBIM_OK) goto done;
    CHECKF(same_row(b->logits, want2, V), "%s: the cleared slot, filled again", tm->name);
    CHECKF(same_row(b->logits + V, want0, V), "%s: the untouched slot", tm->name);
    for (int i = 0; i < 3; i++) CHECKF(same_row(b->logits + (2 + i) * V, want1 + i * V, V), "%s: truncated slot", tm->name);
    /* The single-sequence truncate acts on slot 0 only. */
    CHECK(bibim_context_truncate(c, 2) == BIBIM_OK && bibim_context_logits(c) == NULL);
    CHECK(bibim_context_n_past(c) == 2 && bibim_context_seq_n_past(c, 1) == 7 && bibim_context_seq_n_past(c, 2) == 7);
done:
    batch_free(b);
    bibim_context_free(c);
    free(want0), free(want1), free(want2);
}

static int test_truncate_leaves_other_slots(void) {
    for (int mi = 0; mi < n_models; mi++) truncate_one(&models[mi]);
    return 0;
}

/* bibim_generate on slot 0 of a context whose other slots are busy gives
 * the tokens of a one-slot context. */
typedef struct collected {
    bibim_token tokens[32];
    int n;
} collected;

static int collect(void *user, bibim_token token, const char *text, size_t len) {
    (void)text, (void)len;
    collected *c = user;
    if (c->n < 32) c->tokens[c->n++] = token;
    return 0;
}

static void generate_on(const test_model *tm, uint32_t n_seq, collected *out) {
    bibim_context *c = new_ctx(tm, n_seq, 1);
    bibim_sampler_params sp = bibim_sampler_default_params();
    sp.temperature = 0;
    bibim_sampler *smp = NULL;
    CHECK(bibim_sampler_create(tm->m, &sp, &smp) == BIBIM_OK);
    bibim_token prompt[8], busy[5];
    make_prompt(prompt, 8, 40, tm->n_vocab);
    make_prompt(busy, 5, 41, tm->n_vocab);
    if (c && n_seq > 1) {
        bibim_batch b = {.n_tokens = 5, .tokens = busy, .seq = (const int32_t[]){1, 1, 1, 1, 1}};
        CHECK(bibim_context_eval_batch(c, &b) == BIBIM_OK);
    }
    bibim_generate_params gp = bibim_generate_default_params();
    gp.n_predict = 12;
    gp.on_token = collect;
    gp.user = out;
    if (c && smp) CHECK(bibim_generate(c, smp, prompt, 8, &gp, NULL) == BIBIM_OK);
    if (c && n_seq > 1) CHECK(bibim_context_seq_n_past(c, 1) == 5);
    bibim_sampler_free(smp);
    bibim_context_free(c);
}

static int test_generate_uses_slot_0(void) {
    for (int mi = 0; mi < n_models; mi++) {
        collected one = {{0}, 0}, three = {{0}, 0};
        generate_on(&models[mi], 1, &one);
        generate_on(&models[mi], 3, &three);
        CHECKF(one.n > 0 && one.n == three.n && !memcmp(one.tokens, three.tokens, sizeof one.tokens),
               "%s: generation differs with other slots busy", models[mi].name);
    }
    return 0;
}

/* ---- (e): errors ---- */

#define EXPECT_ERR(call, status, text)                                                                  \
    do {                                                                                                \
        bibim_status st_ = (call);                                                                      \
        CHECKF(st_ == (status), "%s gave %s", #call, bibim_status_string(st_));                         \
        CHECKF(strstr(bibim_context_errmsg(c), (text)) != NULL, "%s: message \"%s\" lacks \"%s\"", #call, \
               bibim_context_errmsg(c), (text));                                                        \
    } while (0)

/* n_past of slots 0..2 (the state that a failed call must leave alone). */
static int64_t state(const bibim_context *c) {
    return bibim_context_seq_n_past(c, 0) * 10000 + bibim_context_seq_n_past(c, 1) * 100 +
           bibim_context_seq_n_past(c, 2);
}

static void batch_errors(bibim_context *c) {
    bibim_token t[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int32_t s[8] = {0, 0, 1, 1, 2, 2, 2, 2};
    uint8_t want[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    int64_t before = state(c);
    bibim_batch b = {.n_tokens = 8, .tokens = t, .seq = s};
    CHECK(bibim_context_eval_batch(NULL, &b) == BIBIM_ERR_INVALID_ARG);
    EXPECT_ERR(bibim_context_eval_batch(c, NULL), BIBIM_ERR_INVALID_ARG, "no batch given");
    b.tokens = NULL;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "no tokens array");
    b.tokens = t, b.seq = NULL;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "no seq array");
    b.seq = s, b.n_tokens = 0;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "1 to n_batch = 6");
    b.n_tokens = -3;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "-3 tokens");
    b.n_tokens = 7; /* n_batch is 6 */
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "a batch of 7 tokens");
    b.n_tokens = 6, b.want_logits = want;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "token 1 wants logits");
    b.want_logits = NULL, s[3] = 3;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "token 3: slot 3 is out of range");
    s[3] = -1;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "slot -1 is out of range");
    s[3] = 0;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "token 3: slot 0 appears again");
    s[3] = 1, t[4] = 512 * 512;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "at index 4 is out of range");
    t[4] = -2;
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_INVALID_ARG, "token -2 at index 4");
    t[4] = 5;
    CHECK(state(c) == before);
}

static void slot_errors(bibim_context *c) {
    int64_t before = state(c);
    CHECK(bibim_context_seq_n_past(c, 3) == -1 && bibim_context_seq_n_past(c, -1) == -1);
    CHECK(bibim_context_seq_n_past(NULL, 0) == -1);
    EXPECT_ERR(bibim_context_seq_truncate(c, 3, 0), BIBIM_ERR_INVALID_ARG, "the slot 3 is out of range");
    EXPECT_ERR(bibim_context_seq_truncate(c, 1, 99), BIBIM_ERR_INVALID_ARG, "cannot keep 99 positions: slot 1");
    EXPECT_ERR(bibim_context_seq_copy(c, 5, 1, 0), BIBIM_ERR_INVALID_ARG, "source slot 5 is out of range");
    EXPECT_ERR(bibim_context_seq_copy(c, 1, -7, 0), BIBIM_ERR_INVALID_ARG, "destination slot -7 is out of range");
    EXPECT_ERR(bibim_context_seq_copy(c, 1, 2, 99), BIBIM_ERR_INVALID_ARG, "cannot copy 99 positions");
    CHECK(bibim_context_seq_truncate(NULL, 0, 0) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_context_seq_copy(NULL, 0, 1, 0) == BIBIM_ERR_INVALID_ARG);
    CHECK(state(c) == before);
}

/* A full slot: CONTEXT_FULL and nothing evaluated, even for the slots that fit. */
static void full_slot(bibim_context *c) {
    bibim_token t[6] = {1, 2, 3, 4, 5, 6};
    int32_t s[6] = {0, 1, 1, 1, 2, 2};
    bibim_batch b = {.n_tokens = 6, .tokens = t, .seq = s};
    while (bibim_context_seq_n_past(c, 1) < 6) {
        bibim_batch one = {.n_tokens = 1, .tokens = t, .seq = (const int32_t[]){1}};
        CHECK(bibim_context_eval_batch(c, &one) == BIBIM_OK);
    }
    int64_t before = state(c);
    EXPECT_ERR(bibim_context_eval_batch(c, &b), BIBIM_ERR_CONTEXT_FULL, "slot 1: 3 tokens do not fit");
    CHECK(state(c) == before);
    s[1] = s[2] = s[3] = 0; /* slot 1 out of it: slots 0 and 2 fit */
    CHECK(bibim_context_eval_batch(c, &b) == BIBIM_OK);
    CHECK(bibim_context_logits(c) == NULL);
}

static int test_errors(void) {
    if (!n_models) return 1;
    const test_model *tm = &models[0];
    bibim_context_params cp = bibim_context_default_params();
    bibim_context *c = NULL;
    cp.n_seq = 1025;
    EXPECT_ERR(bibim_context_create(tm->m, &cp, &c), BIBIM_ERR_INVALID_ARG, "n_seq is 1025");
    bibim_token one = 1;
    bibim_batch b1 = {.n_tokens = 1, .tokens = &one, .seq = (const int32_t[]){0}};
    CHECK(bibim_context_eval_batch(c, &b1) == BIBIM_ERR_INVALID_ARG); /* a failed handle */
    CHECK(bibim_context_seq_copy(c, 0, 0, 0) == BIBIM_ERR_INVALID_ARG);
    bibim_context_free(c);
    c = NULL;
    cp.n_seq = 0; /* means 1 */
    CHECK(bibim_context_create(tm->m, &cp, &c) == BIBIM_OK && bibim_context_n_seq(c) == 1);
    bibim_context_free(c);
    c = NULL;
    cp.n_seq = 3, cp.n_ctx = 8, cp.n_batch = 100;
    CHECK(bibim_context_create(tm->m, &cp, &c) == BIBIM_OK);
    CHECK(c && bibim_context_n_batch(c) == 24); /* capped at n_ctx * n_seq */
    bibim_context_free(c);
    c = NULL;
    cp.n_batch = 6;
    CHECK(bibim_context_create(tm->m, &cp, &c) == BIBIM_OK && bibim_context_n_seq(c) == 3);
    if (c) {
        bibim_batch b = {.n_tokens = 1, .tokens = &one, .seq = (const int32_t[]){2}};
        CHECK(bibim_context_eval_batch(c, &b) == BIBIM_OK && bibim_context_seq_n_past(c, 2) == 1);
        batch_errors(c);
        slot_errors(c);
        full_slot(c);
    }
    bibim_context_free(c);
    return 0;
}

/* ---- models ---- */

static void add_model(const char *path, const char *name) {
    test_model *tm = &models[n_models];
    bibim_status st = bibim_model_load(path, NULL, &tm->m);
    CHECKF(st == BIBIM_OK, "%s: %s", path, bibim_model_errmsg(tm->m));
    if (st != BIBIM_OK) {
        bibim_model_free(tm->m);
        return;
    }
    bibim_model_info info;
    bibim_model_get_info(tm->m, &info);
    snprintf(tm->name, sizeof tm->name, "%s", name);
    tm->n_vocab = info.n_vocab;
    CHECK(tm->n_vocab <= MAX_V);
    if (tm->n_vocab <= MAX_V) n_models++;
    else bibim_model_free(tm->m);
}

/* Writes `s` in F32, quantizes it to each ftype and loads the results. */
static void add_quantized(const shape *s, const bibim_ftype *types, const char *const *names, int n) {
    char path[256], qpath[256];
    snprintf(path, sizeof path, "%s/f32-%d.gguf", tmp_dir, n_models);
    weights w;
    make_weights(s, &w);
    int written = write_model(s, &w, path, NULL);
    free_weights(s, &w);
    for (int i = 0; written && i < n; i++) {
        bibim_quantize_params qp = bibim_quantize_default_params();
        qp.ftype = types[i];
        qp.n_threads = 2;
        snprintf(qpath, sizeof qpath, "%s/q%d.gguf", tmp_dir, i);
        char err[256] = "";
        CHECKF(bibim_quantize_model(path, qpath, &qp, err, sizeof err) == BIBIM_OK, "%s: %s", names[i], err);
        add_model(qpath, names[i]);
        unlink(qpath); /* the model keeps its mapping */
    }
    unlink(path);
}

/* Tied embeddings: the output matrix stays in file layout (its rows are the
 * embeddings), Q6_K here, and products of many tokens pack it on the fly. */
static void add_tied_models(void) {
    shape tied = model_shape;
    tied.tied = 1;
    const bibim_ftype types[] = {BIBIM_FTYPE_Q4_0, BIBIM_FTYPE_Q4_K_M};
    const char *const names[] = {"tied Q4_0", "tied Q4_K_M"};
    rng_state = 778;
    add_quantized(&tied, types, names, 2);
}

/* The random model in F32 and quantized, untied and tied; stories260K if present. */
static int test_models_load(void) {
    const bibim_ftype types[] = {BIBIM_FTYPE_F32, BIBIM_FTYPE_F16, BIBIM_FTYPE_Q8_0, BIBIM_FTYPE_Q4_0,
                                 BIBIM_FTYPE_Q4_K_M};
    const char *const names[] = {"random F32", "random F16", "random Q8_0", "random Q4_0", "random Q4_K_M"};
    rng_state = 777;
    add_quantized(&model_shape, types, names, 5);
    add_tied_models();
    const char *stories = SHARED_DIR "/models/stories260K.gguf";
    struct stat st;
    if (stat(stories, &st) == 0) add_model(stories, "stories260K");
    else printf("  skip stories260K: %s is absent\n", stories);
    printf("  %d models\n", n_models);
    return 0;
}

int main(void) {
    if (!mkdtemp(tmp_dir)) return 1;
    RUN(test_models_load);
    RUN(test_four_sequences_match_solo_runs);
    RUN(test_mixed_decode_and_prefill);
    RUN(test_seq_copy_reuses_prefix);
    RUN(test_truncate_leaves_other_slots);
    RUN(test_generate_uses_slot_0);
    RUN(test_errors);
    RUN(test_thread_counts_same_bits);
    for (int i = 0; i < n_models; i++) bibim_model_free(models[i].m);
    rmdir(tmp_dir);
    return harness_finish();
}
