/* sampler.c — turning logits into the next token: logit bias, repetition
 * penalties, then greedy or top-k / top-p / min-p / temperature and a seeded
 * random draw, in that order (llama.cpp's order for the same steps). With
 * json_object, tokens that cannot continue a JSON object (json_constraint.h)
 * get probability 0 before the truncations. */
#include "json_constraint.h"
#include "mem.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct candidate {
    bibim_token id;
    float logit;
    float p;
} candidate;

struct bibim_sampler {
    bibim_allocator alloc; /* the model's, copied: the sampler may outlive the model */
    bibim_sampler_params params;
    bibim_logit_bias *bias;
    int32_t n_vocab;
    candidate *cands;    /* [n_vocab] */
    float *logits;       /* [n_vocab] working copy */
    bibim_token *recent; /* ring of the last penalty_last_n accepted tokens */
    int32_t n_recent, recent_head;
    int32_t *counts;     /* [n_vocab] occurrences in the window (scratch) */
    uint64_t rng[4];
    /* json_object: every token's bytes (flags 0), once, and the state of
     * the text sampled so far. */
    int32_t *tok_off;    /* [n_vocab + 1] token t's bytes: tok_bytes[tok_off[t] .. tok_off[t + 1]) */
    char *tok_bytes;
    uint8_t *tok_end;    /* [n_vocab] end-of-generation tokens */
    jsonc_state json;
    uint8_t first_ok[256]; /* which bytes may come next, for the step being sampled */
};

bibim_sampler_params bibim_sampler_default_params(void) {
    bibim_sampler_params p = {.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                              .repeat_penalty = 1.0f, .presence_penalty = 0.0f, .frequency_penalty = 0.0f,
                              .penalty_last_n = 64, .seed = BIBIM_SEED_RANDOM, .logit_bias = NULL,
                              .n_logit_bias = 0, .json_object = 0};
    return p;
}

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t *s) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static void rng_seed(bibim_sampler *s) {
    uint64_t seed = s->params.seed;
    if (seed == BIBIM_SEED_RANDOM) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)s;
    }
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
}

/* ---- life cycle ---- */

void bibim_sampler_free(bibim_sampler *s) {
    if (!s) return;
    bibim_allocator a = s->alloc; /* it lives in the block being freed */
    mem_free(&a, s->bias), mem_free(&a, s->cands), mem_free(&a, s->logits), mem_free(&a, s->recent);
    mem_free(&a, s->counts), mem_free(&a, s->tok_off), mem_free(&a, s->tok_bytes), mem_free(&a, s->tok_end);
    mem_free(&a, s);
}

/* Every token's bytes, as bibim_token_piece gives them without flags
 * (control tokens: none), and which tokens end generation. */
static bibim_status load_token_bytes(bibim_sampler *s, const bibim_model *model) {
    const bibim_allocator *a = &s->alloc;
    size_t cap = 4096 + (size_t)s->n_vocab * 8, len = 0;
    s->tok_off = mem_alloc_n(a, (size_t)s->n_vocab + 1, sizeof *s->tok_off);
    s->tok_end = mem_alloc(a, (size_t)s->n_vocab);
    s->tok_bytes = mem_alloc(a, cap);
    if (!s->tok_off || !s->tok_end || !s->tok_bytes) return BIBIM_ERR_NOMEM;
    for (int32_t t = 0; t < s->n_vocab; t++) {
        s->tok_off[t] = (int32_t)len;
        s->tok_end[t] = (uint8_t)(bibim_token_is_end(model, t) != 0);
        int64_t n = bibim_token_piece(model, t, 0, s->tok_bytes + len, cap - len);
        if (n < 0 || n > INT32_MAX / 2) return BIBIM_ERR_INVALID_ARG;
        if ((size_t)n > cap - len) {
            size_t want = cap * 2 > len + (size_t)n ? cap * 2 : len + (size_t)n;
            if (want > INT32_MAX) return BIBIM_ERR_NOMEM;
            char *grown = mem_realloc(a, s->tok_bytes, want);
            if (!grown) return BIBIM_ERR_NOMEM;
            s->tok_bytes = grown, cap = want;
            bibim_token_piece(model, t, 0, s->tok_bytes + len, cap - len);
        }
        len += (size_t)n;
    }
    s->tok_off[s->n_vocab] = (int32_t)len;
    return BIBIM_OK;
}

bibim_status bibim_sampler_create(const bibim_model *model, const bibim_sampler_params *params,
                                  bibim_sampler **out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    *out = NULL;
    bibim_sampler_params defaults = bibim_sampler_default_params();
    const bibim_sampler_params *p = params ? params : &defaults;
    if (!model || p->top_k < 0 || !(p->top_p > 0 && p->top_p <= 1) || !(p->min_p >= 0 && p->min_p <= 1) ||
        !(p->repeat_penalty > 0) || p->penalty_last_n < 0 || isnan(p->temperature) ||
        isnan(p->presence_penalty) || isnan(p->frequency_penalty) || (p->n_logit_bias && !p->logit_bias))
        return BIBIM_ERR_INVALID_ARG;
    int32_t n_vocab = model->vocab_only ? tokenizer_n_vocab(model->tok) : model->hp.n_vocab;
    for (size_t i = 0; i < p->n_logit_bias; i++)
        if (p->logit_bias[i].token < 0 || p->logit_bias[i].token >= n_vocab) return BIBIM_ERR_INVALID_ARG;
    const bibim_allocator *a = &model->alloc;
    bibim_sampler *s = mem_calloc(a, 1, sizeof *s);
    if (!s) return BIBIM_ERR_NOMEM;
    s->alloc = *a;
    s->params = *p;
    s->n_vocab = n_vocab;
    s->bias = p->n_logit_bias ? mem_alloc_n(a, p->n_logit_bias, sizeof *s->bias) : NULL;
    s->cands = mem_alloc_n(a, (size_t)n_vocab, sizeof *s->cands);
    s->logits = mem_alloc_n(a, (size_t)n_vocab, sizeof *s->logits);
    s->recent = mem_alloc_n(a, (size_t)(p->penalty_last_n ? p->penalty_last_n : 1), sizeof *s->recent);
    s->counts = mem_calloc(a, (size_t)n_vocab, sizeof *s->counts);
    if ((p->n_logit_bias && !s->bias) || !s->cands || !s->logits || !s->recent || !s->counts) {
        bibim_sampler_free(s);
        return BIBIM_ERR_NOMEM;
    }
    if (p->n_logit_bias) memcpy(s->bias, p->logit_bias, p->n_logit_bias * sizeof *s->bias);
    s->params.logit_bias = s->bias;
    if (p->json_object) {
        bibim_status st = load_token_bytes(s, model);
        if (st != BIBIM_OK) {
            bibim_sampler_free(s);
            return st;
        }
    }
    jsonc_init(&s->json);
    rng_seed(s);
    *out = s;
    return BIBIM_OK;
}

void bibim_sampler_reset(bibim_sampler *s) {
    if (!s) return;
    s->n_recent = s->recent_head = 0;
    jsonc_init(&s->json);
    rng_seed(s);
}

void bibim_sampler_accept(bibim_sampler *s, bibim_token token) {
    if (!s || s->params.penalty_last_n == 0) return;
    int32_t window = s->params.penalty_last_n;
    s->recent[s->recent_head] = token;
    s->recent_head = (s->recent_head + 1) % window;
    if (s->n_recent < window) s->n_recent++;
}

/* ---- the chain ---- */

static void apply_penalties(bibim_sampler *s) {
    const bibim_sampler_params *p = &s->params;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return;
    for (int32_t i = 0; i < s->n_recent; i++) {
        bibim_token t = s->recent[i];
        if (t >= 0 && t < s->n_vocab) s->counts[t]++;
    }
    for (int32_t i = 0; i < s->n_recent; i++) {
        bibim_token t = s->recent[i];
        if (t < 0 || t >= s->n_vocab || s->counts[t] == 0) continue; /* 0: already done */
        float *l = &s->logits[t];
        *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)s->counts[t] * p->frequency_penalty + p->presence_penalty;
        s->counts[t] = 0;
    }
}

static int by_logit_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Restores the heap below r in c[0..k), whose root is the worst candidate. */
static void sift_down(candidate *c, int32_t k, int32_t r) {
    for (;;) {
        int32_t a = 2 * r + 1, b = a + 1, w = r;
        if (a < k && by_logit_desc(&c[a], &c[w]) > 0) w = a;
        if (b < k && by_logit_desc(&c[b], &c[w]) > 0) w = b;
        if (w == r) return;
        candidate tmp = c[r];
        c[r] = c[w], c[w] = tmp, r = w;
    }
}

/* Moves the k best of n candidates to the front, sorted best first: a heap
 * of the best k seen so far, O(n log k) instead of sorting the vocabulary.
 * The others stay in c[k..n), in some order. */
static void keep_top_k(candidate *c, int32_t n, int32_t k) {
    for (int32_t j = k / 2 - 1; j >= 0; j--) sift_down(c, k, j);
    for (int32_t i = k; i < n; i++) {
        if (by_logit_desc(&c[i], &c[0]) < 0) {
            candidate out = c[0];
            c[0] = c[i], c[i] = out;
            sift_down(c, k, 0);
        }
    }
    qsort(c, (size_t)k, sizeof *c, by_logit_desc);
}

/* Softmax of the first n candidates (sorted, best first) into p. */
static void softmax(candidate *c, int32_t n, float temperature) {
    double sum = 0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - c[0].logit) / temperature);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
}

static bibim_token sample_greedy(const bibim_sampler *s) {
    bibim_token best = 0;
    for (int32_t i = 1; i < s->n_vocab; i++)
        if (s->logits[i] > s->logits[best]) best = i;
    return best;
}

/* Sorts the first n candidates best first (all of them unless top-k cuts),
 * then top-p, min-p, temperature and the draw. */
static bibim_token draw(bibim_sampler *s, int32_t n) {
    const bibim_sampler_params *p = &s->params;
    if (p->top_k > 0 && p->top_k < n) {
        keep_top_k(s->cands, n, p->top_k);
        n = p->top_k;
    } else {
        qsort(s->cands, (size_t)n, sizeof *s->cands, by_logit_desc);
    }
    softmax(s->cands, n, 1.0f);
    if (p->top_p < 1.0f) {
        double cum = 0;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += s->cands[i].p;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0) {
        float cut = p->min_p * s->cands[0].p;
        int32_t keep = 1;
        while (keep < n && s->cands[keep].p >= cut) keep++;
        n = keep;
    }
    softmax(s->cands, n, p->temperature);
    double r = rng_uniform(s->rng), cum = 0;
    for (int32_t i = 0; i < n; i++) {
        cum += s->cands[i].p;
        if (r < cum) return s->cands[i].id;
    }
    return s->cands[n - 1].id;
}

/* ---- json_object ---- */

/* Whether token t can come next: its bytes continue the object, or it ends
 * generation and the object is complete. Control tokens never can. */
static int json_valid(const bibim_sampler *s, bibim_token t) {
    if (s->tok_end[t]) return jsonc_complete(&s->json);
    int32_t off = s->tok_off[t], len = s->tok_off[t + 1] - off;
    if (len == 0 || !s->first_ok[(uint8_t)s->tok_bytes[off]]) return 0; /* most tokens stop here */
    if (len == 1) return 1;
    jsonc_state st = s->json;
    return jsonc_feed(&st, s->tok_bytes + off, (size_t)len);
}

static void json_first_bytes(bibim_sampler *s) {
    for (int c = 0; c < 256; c++) {
        jsonc_state st = s->json;
        s->first_ok[c] = (uint8_t)jsonc_byte(&st, (uint8_t)c);
    }
}

/* Moves the `want` best valid candidates of the n in cands to the front,
 * sorted best first, and returns how many there are (fewer if fewer are
 * valid). Checks the candidates in logit order, best first, in rounds of 64
 * then 512, and stops as soon as it has enough: usually in the first round.
 * Past those (few tokens are valid: between tokens, outside strings) it
 * checks all the rest and sorts only the valid ones. */
static int32_t keep_best_valid(bibim_sampler *s, int32_t n, int32_t want) {
    candidate *c = s->cands;
    int32_t v = 0, round = 64;
    if (want >= n) { /* all of them: filter, then sort */
        for (int32_t i = 0; i < n; i++)
            if (json_valid(s, c[i].id)) c[v++] = c[i];
        qsort(c, (size_t)v, sizeof *c, by_logit_desc);
        return v;
    }
    while (v < want && n > v) {
        if (round > 512) {
            int32_t w = v;
            for (int32_t i = v; i < n; i++)
                if (json_valid(s, c[i].id)) c[w++] = c[i];
            qsort(c + v, (size_t)(w - v), sizeof *c, by_logit_desc);
            v = w;
            break;
        }
        candidate *rest = c + v;
        int32_t n_rest = n - v, k = round < n_rest ? round : n_rest, w = v;
        if (k < n_rest) keep_top_k(rest, n_rest, k);
        else qsort(rest, (size_t)n_rest, sizeof *rest, by_logit_desc);
        for (int32_t i = 0; i < k; i++)
            if (json_valid(s, rest[i].id)) c[w++] = rest[i];
        /* The k checked ones leave, the unchecked follow the valid ones. */
        memmove(c + w, c + v + k, (size_t)(n - v - k) * sizeof *c);
        n = w + (n - v - k), v = w;
        round *= 8;
    }
    return v < want ? v : want;
}

static bibim_token sample_json(bibim_sampler *s) {
    const bibim_sampler_params *p = &s->params;
    json_first_bytes(s);
    if (p->temperature <= 0) { /* greedy: the best token is usually valid */
        bibim_token best = -1;
        for (int32_t i = 0; i < s->n_vocab; i++)
            if (s->logits[i] > -INFINITY && (best < 0 || s->logits[i] > s->logits[best])) best = i;
        if (best < 0) return -1;
        if (json_valid(s, best)) return best;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (s->logits[i] > -INFINITY) s->cands[n++] = (candidate){i, s->logits[i], 0};
    if (n == 0) return -1;
    int32_t want = p->temperature <= 0 ? 1 : p->top_k > 0 && p->top_k < n ? p->top_k : n;
    n = keep_best_valid(s, n, want);
    if (n == 0) return -1;
    if (p->temperature <= 0) return s->cands[0].id;
    return draw(s, n);
}

static void json_advance(bibim_sampler *s, bibim_token t) {
    if (s->tok_end[t]) return;
    int32_t off = s->tok_off[t];
    jsonc_feed(&s->json, s->tok_bytes + off, (size_t)(s->tok_off[t + 1] - off));
}

bibim_status bibim_sampler_sample_checked(bibim_sampler *s, const float *logits, bibim_token *out) {
    if (!out) return BIBIM_ERR_INVALID_ARG;
    *out = -1;
    if (!s || !logits) return BIBIM_ERR_INVALID_ARG;
    const bibim_sampler_params *p = &s->params;
    memcpy(s->logits, logits, (size_t)s->n_vocab * sizeof *logits);
    for (size_t i = 0; i < p->n_logit_bias; i++) s->logits[p->logit_bias[i].token] += p->logit_bias[i].bias;
    apply_penalties(s);
    if (p->json_object) {
        bibim_token t = sample_json(s);
        if (t < 0) return BIBIM_ERR_NOT_FOUND;
        json_advance(s, t);
        *out = t;
        return BIBIM_OK;
    }
    if (p->temperature <= 0) {
        *out = sample_greedy(s);
        return BIBIM_OK;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (s->logits[i] > -INFINITY) s->cands[n++] = (candidate){i, s->logits[i], 0};
    *out = n == 0 ? sample_greedy(s) : draw(s, n); /* everything banned: fall back rather than fail */
    return BIBIM_OK;
}

bibim_token bibim_sampler_sample(bibim_sampler *s, const float *logits) {
    bibim_token t;
    return bibim_sampler_sample_checked(s, logits, &t) == BIBIM_OK ? t : -1;
}

int bibim_sampler_json_complete(const bibim_sampler *s) {
    return s && s->params.json_object && jsonc_complete(&s->json);
}

_Static_assert(BIBIM_JSON_MAX_WHITESPACE == JSONC_MAX_WS && BIBIM_JSON_MAX_DEPTH == JSONC_MAX_DEPTH,
               "bibim.h and json_constraint.h agree");
