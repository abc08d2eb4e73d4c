/* test_sampler.c — the sampling chain on hand-made logits, and generation
 * (greedy continuations, stop strings, UTF-8 streaming) on stories260K. */
#include "bibim.h"
#include "harness.h"

#include <math.h>

#define STORIES SHARED_DIR "/models/stories260K.gguf"
enum { N_VOCAB = 512 };

static bibim_model *model;

static void fill(float *logits, float base) {
    for (int i = 0; i < N_VOCAB; i++) logits[i] = base;
}

static bibim_sampler *make(bibim_sampler_params p) {
    bibim_sampler *s = NULL;
    CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
    return s;
}

static int test_greedy_and_bias(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    float logits[N_VOCAB];
    fill(logits, 0);
    logits[17] = 3, logits[99] = 2;
    bibim_sampler_params p = bibim_sampler_default_params();
    p.temperature = 0;
    bibim_sampler *s = make(p);
    CHECK(bibim_sampler_sample(s, logits) == 17);
    bibim_sampler_free(s);
    bibim_logit_bias ban = {17, -INFINITY};
    p.logit_bias = &ban, p.n_logit_bias = 1;
    s = make(p);
    CHECK(bibim_sampler_sample(s, logits) == 99);
    bibim_sampler_free(s);
    bibim_logit_bias bad = {N_VOCAB, 1};
    p.logit_bias = &bad;
    bibim_sampler *none = NULL;
    CHECK(bibim_sampler_create(model, &p, &none) == BIBIM_ERR_INVALID_ARG && !none);
    p = bibim_sampler_default_params();
    p.top_p = 0;
    CHECK(bibim_sampler_create(model, &p, &none) == BIBIM_ERR_INVALID_ARG);
    return 0;
}

static int test_penalties(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    float logits[N_VOCAB];
    fill(logits, -5);
    logits[10] = 2.0f, logits[11] = 1.9f, logits[12] = -1.0f, logits[13] = -1.05f;
    bibim_sampler_params p = bibim_sampler_default_params();
    p.temperature = 0, p.repeat_penalty = 1.1f;
    bibim_sampler *s = make(p);
    bibim_sampler_accept(s, 10); /* 2.0 / 1.1 = 1.82 < 1.9 */
    CHECK(bibim_sampler_sample(s, logits) == 11);
    bibim_sampler_reset(s);
    CHECK(bibim_sampler_sample(s, logits) == 10);
    bibim_sampler_free(s);
    /* Frequency penalty counts occurrences; presence penalty only their existence. */
    p.repeat_penalty = 1, p.frequency_penalty = 0.06f;
    s = make(p);
    bibim_sampler_accept(s, 10);
    CHECK(bibim_sampler_sample(s, logits) == 10); /* 2.0 - 0.06 = 1.94 > 1.9 */
    bibim_sampler_accept(s, 10);
    bibim_sampler_accept(s, 10);
    CHECK(bibim_sampler_sample(s, logits) == 11); /* 2.0 - 3 * 0.06 = 1.82 < 1.9 */
    bibim_sampler_free(s);
    p.frequency_penalty = 0, p.presence_penalty = 0.2f;
    s = make(p);
    bibim_sampler_accept(s, 10);
    bibim_sampler_accept(s, 10);
    CHECK(bibim_sampler_sample(s, logits) == 11); /* 2.0 - 0.2 once, whatever the count */
    bibim_sampler_free(s);
    /* The window forgets: with penalty_last_n 2, token 10 drops out after two others. */
    p.presence_penalty = 0, p.repeat_penalty = 1.1f, p.penalty_last_n = 2;
    s = make(p);
    bibim_sampler_accept(s, 10);
    CHECK(bibim_sampler_sample(s, logits) == 11);
    bibim_sampler_accept(s, 40);
    bibim_sampler_accept(s, 41);
    CHECK(bibim_sampler_sample(s, logits) == 10);
    bibim_sampler_free(s);
    return 0;
}

static int test_truncations_and_seed(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    float logits[N_VOCAB];
    fill(logits, -INFINITY);
    logits[1] = 2, logits[2] = 1.5f, logits[3] = 1, logits[4] = 0;
    bibim_sampler_params p = bibim_sampler_default_params();
    p.temperature = 1, p.top_k = 0, p.top_p = 1, p.min_p = 0, p.seed = 7;
    /* Frequencies follow softmax(2, 1.5, 1, 0) = .455 .276 .167 .061 .. */
    bibim_sampler *s = make(p);
    int counts[5] = {0};
    enum { DRAWS = 20000 };
    for (int i = 0; i < DRAWS; i++) {
        bibim_token t = bibim_sampler_sample(s, logits);
        CHECK(t >= 1 && t <= 4);
        if (t >= 1 && t <= 4) counts[t]++;
    }
    double z = exp(2) + exp(1.5) + exp(1) + exp(0);
    double want[5] = {0, exp(2) / z, exp(1.5) / z, exp(1) / z, 1 / z};
    for (int t = 1; t <= 4; t++)
        CHECKF(fabs(counts[t] / (double)DRAWS - want[t]) < 0.015, "token %d: %d draws, want p %.3f", t, counts[t],
               want[t]);
    bibim_sampler_free(s);
    /* Same seed, same sequence; another seed, another. */
    bibim_token a[50], b[50], c[50];
    for (int run = 0; run < 3; run++) {
        p.seed = run == 2 ? 8 : 7;
        s = make(p);
        for (int i = 0; i < 50; i++) (run == 0 ? a : run == 1 ? b : c)[i] = bibim_sampler_sample(s, logits);
        bibim_sampler_free(s);
    }
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    /* top_k 1, top_p tiny and min_p 1 each leave only the best. */
    bibim_sampler_params only[3] = {p, p, p};
    only[0].top_k = 1, only[1].top_p = 0.01f, only[2].min_p = 1.0f;
    for (int k = 0; k < 3; k++) {
        s = make(only[k]);
        int best = 1;
        for (int i = 0; i < 200; i++) best &= bibim_sampler_sample(s, logits) == 1;
        CHECKF(best, "variant %d", k);
        bibim_sampler_free(s);
    }
    /* top_p 0.7 keeps tokens 1 and 2 (0.455 + 0.276 >= 0.7). */
    only[0] = p, only[0].top_p = 0.7f;
    s = make(only[0]);
    int seen[5] = {0};
    for (int i = 0; i < 2000; i++) {
        bibim_token t = bibim_sampler_sample(s, logits);
        if (t >= 1 && t <= 4) seen[t]++;
    }
    CHECK(seen[1] > 0 && seen[2] > 0 && seen[3] == 0 && seen[4] == 0);
    bibim_sampler_free(s);
    return 0;
}

/* ---- generation on the real model ---- */

typedef struct collected {
    char text[4096];
    size_t len;
    int n_calls, stop_after;
    bibim_token last;
} collected;

static int collect(void *user, bibim_token token, const char *text, size_t len) {
    collected *c = user;
    if (c->len + len < sizeof c->text) memcpy(c->text + c->len, text, len), c->len += len;
    c->last = token;
    return ++c->n_calls == c->stop_after;
}

static int parse_ids(const char *s, bibim_token *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        out[n++] = (bibim_token)v;
        s = end;
    }
    return n;
}

/* Greedy continuations equal llama.cpp's token for token (greedy.tsv). */
static int test_greedy_matches_llama_cpp(void) {
    const char *tsv = SHARED_DIR "/refs/stories260K/greedy.tsv";
    SKIP_UNLESS_FILE(tsv);
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    FILE *f = fopen(tsv, "r");
    char line[8192];
    int rows = 0;
    CHECK(fgets(line, sizeof line, f) != NULL); /* header */
    while (fgets(line, sizeof line, f)) {
        char *cols[4] = {line, NULL, NULL, NULL};
        for (int i = 1; i < 4; i++) {
            cols[i] = cols[i - 1] ? strchr(cols[i - 1], '\t') : NULL;
            if (cols[i]) *cols[i]++ = 0;
        }
        if (!cols[3]) continue;
        bibim_token prompt[256], want[128];
        int n_prompt = parse_ids(cols[1], prompt, 256), n_want = parse_ids(cols[2], want, 128);
        bibim_context *c = NULL;
        bibim_context_params cp = bibim_context_default_params();
        cp.n_threads = 2;
        CHECK(bibim_context_create(model, &cp, &c) == BIBIM_OK);
        bibim_sampler_params sp = bibim_sampler_default_params();
        sp.temperature = 0;
        bibim_sampler *s = make(sp);
        CHECK(c && bibim_context_eval(c, prompt, n_prompt, NULL) == BIBIM_OK);
        int same = 0;
        for (int i = 0; c && i < n_want; i++) {
            bibim_token t = bibim_sampler_sample(s, bibim_context_logits(c));
            if (t != want[i]) break;
            same++;
            CHECK(bibim_context_eval(c, &t, 1, NULL) == BIBIM_OK);
        }
        CHECKF(same == n_want, "prompt %s: first %d of %d tokens equal", cols[0], same, n_want);
        bibim_sampler_free(s);
        bibim_context_free(c);
        rows++;
    }
    fclose(f);
    CHECK(rows == 5);
    return 0;
}

static int test_generate_stops(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    bibim_token prompt[64];
    int64_t n_prompt;
    const char *text = "Once upon a time";
    CHECK(bibim_tokenize(model, text, strlen(text), BIBIM_TOKENIZE_ADD_BOS, prompt, 64, &n_prompt) == BIBIM_OK);
    bibim_sampler_params sp = bibim_sampler_default_params();
    sp.temperature = 0;
    bibim_context_params cp = bibim_context_default_params();
    bibim_generate_params gp = bibim_generate_default_params();
    collected all = {.stop_after = -1}, cut = {.stop_after = -1}, early = {.stop_after = 3};
    bibim_generate_result r;
    collected *runs[3] = {&all, &cut, &early};
    for (int run = 0; run < 3; run++) {
        bibim_context *c = NULL;
        bibim_sampler *s = make(sp);
        CHECK(bibim_context_create(model, &cp, &c) == BIBIM_OK);
        gp.n_predict = 40;
        gp.on_token = collect;
        gp.user = runs[run];
        const char *stop[] = {"Lily"};
        gp.stop = run == 1 ? stop : NULL;
        gp.n_stop = run == 1 ? 1 : 0;
        CHECK(c && bibim_generate(c, s, prompt, n_prompt, &gp, &r) == BIBIM_OK);
        if (run == 0) CHECK(r.stop_reason == BIBIM_STOP_LENGTH && r.n_generated == 40);
        if (run == 1) CHECK(r.stop_reason == BIBIM_STOP_STRING);
        if (run == 2) CHECK(r.stop_reason == BIBIM_STOP_CALLBACK && r.n_generated == 3);
        bibim_sampler_free(s);
        bibim_context_free(c);
    }
    all.text[all.len] = 0, cut.text[cut.len] = 0;
    /* The stop string is cut with everything after it; what came before is the same text. */
    char *at = strstr(all.text, "Lily");
    CHECKF(at != NULL, "greedy text: %s", all.text);
    if (at) CHECKF(cut.len == (size_t)(at - all.text) && !memcmp(cut.text, all.text, cut.len), "cut: %s", cut.text);
    /* A prompt longer than the context is refused before anything runs. */
    cp.n_ctx = 3;
    bibim_context *small = NULL;
    bibim_sampler *s = make(sp);
    CHECK(bibim_context_create(model, &cp, &small) == BIBIM_OK);
    CHECK(small && bibim_generate(small, s, prompt, n_prompt, &gp, &r) == BIBIM_ERR_CONTEXT_FULL);
    bibim_context_free(small);
    /* Generation that fills the context stops with that reason. */
    cp.n_ctx = (uint32_t)n_prompt + 5;
    CHECK(bibim_context_create(model, &cp, &small) == BIBIM_OK);
    collected rest = {.stop_after = -1};
    gp.n_predict = -1, gp.user = &rest, gp.stop = NULL, gp.n_stop = 0;
    CHECK(small && bibim_generate(small, s, prompt, n_prompt, &gp, &r) == BIBIM_OK);
    CHECKF(r.stop_reason == BIBIM_STOP_CONTEXT_FULL && r.n_generated == 6, "reason %d, %lld tokens",
           (int)r.stop_reason, (long long)r.n_generated);
    bibim_context_free(small);
    bibim_sampler_free(s);
    return 0;
}

int main(void) {
    FILE *f = fopen(STORIES, "rb");
    if (f) {
        fclose(f);
        if (bibim_model_load(STORIES, NULL, &model) != BIBIM_OK) {
            printf("cannot load %s: %s\n", STORIES, bibim_model_errmsg(model));
            bibim_model_free(model);
            model = NULL;
            harness_failed++;
        }
    }
    RUN(test_greedy_and_bias);
    RUN(test_penalties);
    RUN(test_truncations_and_seed);
    RUN(test_greedy_matches_llama_cpp);
    RUN(test_generate_stops);
    bibim_model_free(model);
    return harness_finish();
}
