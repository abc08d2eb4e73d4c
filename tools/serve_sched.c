/* serve_sched.c — continuous batching for `bibim serve`.
 *
 * One thread owns the context. Each step it admits queued requests into
 * free slots (a slot whose cached tokens share the longest prefix with the
 * prompt, or a copy of such a prefix from a busy slot), then evaluates one
 * batch: the last sampled token of every decoding slot, then prompt chunks
 * of prefilling slots up to n_batch tokens. Sampling a slot's next token
 * uses that request's own sampler, so a request's greedy output is the same
 * whatever else runs beside it (the logits are bit-identical in any batch). */
#include "serve.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct slot {
    serve_request *req;       /* NULL when free */
    bibim_sampler *sampler;
    bibim_text_stream *stream;
    bibim_token *cache;       /* the tokens in this slot's KV cache */
    int64_t n_cache, cap_cache;
    int64_t n_fed;            /* prompt tokens in the cache so far */
    bibim_token next;         /* sampled, to be evaluated next step; -1 if none */
    uint64_t last_used;       /* step of its last request's end: the oldest is reused first */
} slot;

struct sched {
    const bibim_model *model;
    bibim_context *ctx;
    int n_slots;
    uint32_t n_ctx, n_batch;
    int32_t n_vocab;
    slot *slots;
    serve_request **queue;    /* ring buffer */
    int q_head, q_len, q_cap;
    int prefill_turn;         /* which prefilling slot goes first: round robin */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int thread_started;
    int draining, cancel_all, exit;
    /* the batch of one step */
    bibim_token *b_tokens;
    int32_t *b_seq;
    uint8_t *b_want;
    float *b_logits;          /* n_slots rows of n_vocab */
    int *b_row_slot;          /* for each logits row, its slot */
    serve_metrics m;
    double tps_window_start;
    uint64_t tps_window_tokens;
};

double now_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sched_lock(sched *s) { pthread_mutex_lock(&s->lock); }
void sched_unlock(sched *s) { pthread_mutex_unlock(&s->lock); }
uint32_t sched_n_ctx(const sched *s) { return s->n_ctx; }

void sched_wait(sched *s, serve_request *r, double until) {
    double wait = until - now_monotonic();
    if (wait <= 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + wait;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&r->changed, &s->lock, &ts);
}

serve_request *request_new(void) {
    serve_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_cond_init(&r->changed, NULL);
    r->refs = 1;
    r->sampling = bibim_sampler_default_params();
    return r;
}

static void request_free(serve_request *r) {
    pthread_cond_destroy(&r->changed);
    free(r->prompt);
    free(r->logit_bias);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    free(r->text);
    free(r->lp);
    free(r->tools_json);
    free(r);
}

/* With the lock held. */
static void request_unref(serve_request *r) {
    if (--r->refs == 0) request_free(r);
}

void request_release(sched *s, serve_request *r) {
    if (!r) return;
    sched_lock(s);
    request_unref(r);
    sched_unlock(s);
}

static int append_text(serve_request *r, const char *text, size_t n) {
    if (!n) return 0;
    if (r->n_text + n + 1 > r->cap_text) {
        size_t cap = 2 * (r->n_text + n + 1) + 256;
        char *p = realloc(r->text, cap);
        if (!p) return -1;
        r->text = p;
        r->cap_text = cap;
    }
    memcpy(r->text + r->n_text, text, n);
    r->n_text += n;
    r->text[r->n_text] = 0;
    return 0;
}

static int push_cache(slot *sl, const bibim_token *t, int64_t n) {
    if (sl->n_cache + n > sl->cap_cache) {
        int64_t cap = 2 * (sl->n_cache + n) + 64;
        bibim_token *p = realloc(sl->cache, (size_t)cap * sizeof *p);
        if (!p) return -1;
        sl->cache = p;
        sl->cap_cache = cap;
    }
    memcpy(sl->cache + sl->n_cache, t, (size_t)n * sizeof *t);
    sl->n_cache += n;
    return 0;
}

/* ---- admission ---------------------------------------------------------- */

static int64_t common_prefix(const bibim_token *a, int64_t na, const bibim_token *b, int64_t nb) {
    int64_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

/* Forgets a slot's cache (its KV and the mirror of it). */
static void clear_slot_cache(sched *s, int i) {
    bibim_context_seq_truncate(s->ctx, i, 0);
    s->slots[i].n_cache = 0;
}

/* The free slot to run r in, with the most of r's prompt already cached
 * (copied there from a busy slot if one has a longer prefix). Sets the
 * slot's cache to exactly the reused prefix. */
static int pick_slot(sched *s, serve_request *r) {
    int best_free = -1, oldest_free = -1, best_busy = -1;
    int64_t best_free_len = -1, best_busy_len = 0;
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        int64_t len = common_prefix(sl->cache, sl->n_cache, r->prompt, r->n_prompt);
        if (sl->req) {
            if (len > best_busy_len) best_busy = i, best_busy_len = len;
            continue;
        }
        if (len > best_free_len) best_free = i, best_free_len = len;
        if (oldest_free < 0 || sl->last_used < s->slots[oldest_free].last_used) oldest_free = i;
    }
    if (best_free < 0) return -1;
    /* A prefix of a token or so (BOS) is not worth another request's cache. */
    if (best_free_len <= 1) best_free = oldest_free, best_free_len = 0;
    int chosen = best_free;
    int64_t reuse = best_free_len;
    if (best_busy >= 0 && best_busy_len > best_free_len && best_busy_len > 1) {
        /* Copy the prefix into the free slot whose own cache is worth least. */
        chosen = oldest_free;
        if (bibim_context_seq_copy(s->ctx, best_busy, chosen, (uint32_t)best_busy_len) == BIBIM_OK) {
            slot *dst = &s->slots[chosen];
            dst->n_cache = 0;
            push_cache(dst, s->slots[best_busy].cache, best_busy_len);
            reuse = best_busy_len;
        } else {
            chosen = best_free;
        }
    }
    slot *sl = &s->slots[chosen];
    /* At least one prompt token is evaluated, to have logits to sample from. */
    if (reuse >= r->n_prompt) reuse = r->n_prompt - 1;
    if (reuse > sl->n_cache) reuse = sl->n_cache;
    if (bibim_context_seq_truncate(s->ctx, chosen, (uint32_t)reuse) != BIBIM_OK) {
        clear_slot_cache(s, chosen);
        reuse = 0;
    }
    sl->n_cache = reuse;
    return chosen;
}

static void finish_request(sched *s, int i, finish_reason why);

static void start_request(sched *s, serve_request *r) {
    int i = pick_slot(s, r);
    slot *sl = &s->slots[i];
    sl->req = r;
    s->m.busy_slots++;
    sl->n_fed = sl->n_cache;
    sl->next = -1;
    r->n_cached = sl->n_cache;
    if (bibim_sampler_create(s->model, &r->sampling, &sl->sampler) != BIBIM_OK ||
        bibim_text_stream_create(s->model, (const char *const *)r->stop, r->n_stop, 0, &sl->stream) != BIBIM_OK) {
        snprintf(r->error, sizeof r->error, "out of memory starting the request");
        finish_request(s, i, FINISH_ERROR);
        return;
    }
    /* The penalties look at the prompt too, as in bibim_generate. */
    for (int64_t k = 0; k < r->n_prompt; k++) bibim_sampler_accept(sl->sampler, r->prompt[k]);
}

static int has_free_slot(const sched *s) {
    for (int i = 0; i < s->n_slots; i++)
        if (!s->slots[i].req) return 1;
    return 0;
}

/* Removes requests whose client left while they waited, so they stop
 * counting against the queue's size. */
static void purge_cancelled(sched *s) {
    int kept = 0;
    for (int k = 0; k < s->q_len; k++) {
        serve_request *r = s->queue[(s->q_head + k) % s->q_cap];
        if (r->cancelled || s->cancel_all) {
            r->finish = FINISH_CANCELLED;
            pthread_cond_broadcast(&r->changed);
            request_unref(r);
        } else {
            s->queue[(s->q_head + kept++) % s->q_cap] = r;
        }
    }
    s->q_len = kept;
    s->m.queue_depth = s->q_len;
}

static void admit(sched *s) {
    purge_cancelled(s);
    while (s->q_len > 0 && has_free_slot(s)) {
        serve_request *r = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        start_request(s, r);
    }
    s->m.queue_depth = s->q_len;
}

int sched_submit(sched *s, serve_request *r) {
    sched_lock(s);
    purge_cancelled(s);
    int ok = !s->draining && s->q_len < s->q_cap;
    if (ok) {
        s->queue[(s->q_head + s->q_len) % s->q_cap] = r;
        s->q_len++;
        r->refs++;
        s->m.queue_depth = s->q_len;
        pthread_cond_signal(&s->wake);
    }
    sched_unlock(s);
    return ok ? 0 : -1;
}

void sched_cancel(sched *s, serve_request *r) {
    sched_lock(s);
    sched_cancel_locked(s, r);
    sched_unlock(s);
}

void sched_cancel_locked(sched *s, serve_request *r) {
    r->cancelled = 1;
    purge_cancelled(s);
    pthread_cond_signal(&s->wake);
}

/* ---- one step ------------------------------------------------------------ */

static void finish_request(sched *s, int i, finish_reason why) {
    slot *sl = &s->slots[i];
    serve_request *r = sl->req;
    if (sl->stream && why != FINISH_CANCELLED && why != FINISH_ERROR) {
        const char *t;
        size_t n;
        if (bibim_text_stream_finish(sl->stream, &t, &n) == BIBIM_OK) append_text(r, t, n);
    }
    bibim_text_stream_free(sl->stream);
    bibim_sampler_free(sl->sampler);
    sl->stream = NULL;
    sl->sampler = NULL;
    if (r->finish == FINISH_NONE) r->finish = why;
    s->m.prompt_tokens += (uint64_t)r->n_prompt;
    s->m.prompt_evaluated += (uint64_t)(r->n_prompt - r->n_cached);
    s->m.busy_slots--;
    sl->req = NULL;
    sl->last_used = s->m.steps;
    pthread_cond_broadcast(&r->changed);
    request_unref(r);
}

/* Records the log-probabilities of the distribution the token came from. */
static void record_logprobs(serve_request *r, const float *logits, int32_t n_vocab, bibim_token token) {
    if (r->n_lp == r->cap_lp) {
        size_t cap = r->cap_lp ? 2 * r->cap_lp : 64;
        token_logprobs *p = realloc(r->lp, cap * sizeof *p);
        if (!p) return;
        r->lp = p;
        r->cap_lp = cap;
    }
    token_logprobs *lp = &r->lp[r->n_lp++];
    float max = logits[0];
    for (int32_t i = 1; i < n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)(logits[i] - max));
    float lse = max + (float)log(sum);
    lp->token = token;
    lp->logprob = logits[token] - lse;
    /* The top alternatives in one pass, kept sorted in a small array. */
    lp->n_top = 0;
    for (int32_t i = 0; i < n_vocab && r->top_logprobs > 0; i++) {
        if (lp->n_top == r->top_logprobs && logits[i] <= logits[lp->top[lp->n_top - 1]]) continue;
        int j = lp->n_top < r->top_logprobs ? lp->n_top++ : lp->n_top - 1;
        for (; j > 0 && logits[lp->top[j - 1]] < logits[i]; j--) lp->top[j] = lp->top[j - 1];
        lp->top[j] = i;
    }
    for (int j = 0; j < lp->n_top; j++) lp->top_logprob[j] = logits[lp->top[j]] - lse;
}

/* Samples the next token of slot i from its logits and decides whether the
 * request goes on. */
static void sample_next(sched *s, int i, const float *logits) {
    slot *sl = &s->slots[i];
    serve_request *r = sl->req;
    bibim_token t;
    if (bibim_sampler_sample_checked(sl->sampler, logits, &t) != BIBIM_OK) { /* JSON mode only */
        snprintf(r->error, sizeof r->error, "no token of the vocabulary can continue the JSON object");
        finish_request(s, i, FINISH_ERROR);
        return;
    }
    bibim_sampler_accept(sl->sampler, t);
    if (r->logprobs) record_logprobs(r, logits, s->n_vocab, t);
    r->n_generated++;
    s->m.generated_tokens++;
    s->tps_window_tokens++;
    if (bibim_token_is_end(s->model, t)) {
        finish_request(s, i, FINISH_STOP);
        return;
    }
    const char *text;
    size_t n;
    int stopped = 0;
    if (bibim_text_stream_push(sl->stream, t, &text, &n, &stopped) != BIBIM_OK || append_text(r, text, n) != 0) {
        snprintf(r->error, sizeof r->error, "out of memory while generating");
        finish_request(s, i, FINISH_ERROR);
        return;
    }
    pthread_cond_broadcast(&r->changed);
    if (stopped) finish_request(s, i, FINISH_STOP);
    else if (r->n_generated >= r->max_tokens || sl->n_cache >= (int64_t)s->n_ctx) finish_request(s, i, FINISH_LENGTH);
    else sl->next = t;
}

/* Ends requests whose client left or whose time is up. */
static void reap(sched *s) {
    double now = now_monotonic();
    for (int i = 0; i < s->n_slots; i++) {
        serve_request *r = s->slots[i].req;
        if (!r) continue;
        if (r->cancelled || s->cancel_all) {
            finish_request(s, i, FINISH_CANCELLED);
        } else if (r->deadline > 0 && now >= r->deadline) {
            r->timed_out = 1;
            finish_request(s, i, FINISH_LENGTH);
        }
    }
}

/* Fills the batch; returns its size (0: nothing to do). */
static int64_t build_batch(sched *s, int *n_rows) {
    int64_t n = 0;
    *n_rows = 0;
    for (int i = 0; i < s->n_slots; i++) { /* decoding slots: one token each */
        slot *sl = &s->slots[i];
        if (!sl->req || sl->next < 0) continue;
        s->b_tokens[n] = sl->next;
        s->b_seq[n] = i;
        s->b_want[n] = 1;
        s->b_row_slot[(*n_rows)++] = i;
        n++;
    }
    for (int k = 0; k < s->n_slots && n < (int64_t)s->n_batch; k++) { /* then prompt chunks */
        int i = (s->prefill_turn + k) % s->n_slots;
        slot *sl = &s->slots[i];
        if (!sl->req || sl->next >= 0 || sl->n_fed >= sl->req->n_prompt) continue;
        int64_t chunk = sl->req->n_prompt - sl->n_fed;
        if (chunk > (int64_t)s->n_batch - n) chunk = (int64_t)s->n_batch - n;
        for (int64_t j = 0; j < chunk; j++) {
            s->b_tokens[n + j] = sl->req->prompt[sl->n_fed + j];
            s->b_seq[n + j] = i;
            s->b_want[n + j] = 0;
        }
        n += chunk;
        if (sl->n_fed + chunk == sl->req->n_prompt) {
            s->b_want[n - 1] = 1;
            s->b_row_slot[(*n_rows)++] = i;
        }
    }
    s->prefill_turn = (s->prefill_turn + 1) % s->n_slots;
    return n;
}

/* After a successful evaluation: the caches grow, the wanted rows are sampled. */
static void after_batch(sched *s, int64_t n, int n_rows) {
    for (int64_t j = 0; j < n; j++) {
        slot *sl = &s->slots[s->b_seq[j]];
        push_cache(sl, &s->b_tokens[j], 1);
        if (sl->next < 0) sl->n_fed++;
    }
    for (int row = 0; row < n_rows; row++) {
        int i = s->b_row_slot[row];
        slot *sl = &s->slots[i];
        sl->next = -1;
        if (!sl->req) continue;
        if (sl->req->cancelled || s->cancel_all) {
            finish_request(s, i, FINISH_CANCELLED);
            continue;
        }
        sample_next(s, i, s->b_logits + (size_t)row * (size_t)s->n_vocab);
    }
}

static void batch_failed(sched *s, int64_t n, const char *why) {
    for (int64_t j = 0; j < n; j++) {
        int i = s->b_seq[j];
        if (!s->slots[i].req) continue;
        snprintf(s->slots[i].req->error, sizeof s->slots[i].req->error, "%s", why);
        finish_request(s, i, FINISH_ERROR);
        clear_slot_cache(s, i);
    }
}

static void update_speed(sched *s) {
    double now = now_monotonic();
    double dt = now - s->tps_window_start;
    if (dt >= 2.0) {
        s->m.decode_tokens_per_second = (double)s->tps_window_tokens / dt;
        s->tps_window_start = now;
        s->tps_window_tokens = 0;
    }
}

static void *sched_main(void *arg) {
    sched *s = arg;
    sched_lock(s);
    s->tps_window_start = now_monotonic();
    for (;;) {
        reap(s);
        admit(s);
        int n_rows;
        int64_t n = build_batch(s, &n_rows);
        if (n == 0) {
            if (s->exit) break;
            if (s->m.busy_slots == 0) s->m.decode_tokens_per_second = 0;
            pthread_cond_wait(&s->wake, &s->lock);
            continue;
        }
        bibim_batch b = {.n_tokens = n, .tokens = s->b_tokens, .seq = s->b_seq, .want_logits = s->b_want,
                         .logits = s->b_logits};
        sched_unlock(s); /* HTTP threads submit, read output and cancel meanwhile */
        bibim_status st = bibim_context_eval_batch(s->ctx, &b);
        sched_lock(s);
        s->m.steps++;
        if (st == BIBIM_OK) after_batch(s, n, n_rows);
        else batch_failed(s, n, bibim_context_errmsg(s->ctx));
        update_speed(s);
    }
    sched_unlock(s);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------- */

int sched_create(const bibim_model *model, const bibim_context_params *cp, int queue_size, sched **out) {
    sched *s = calloc(1, sizeof *s);
    *out = s;
    if (!s) return -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->model = model;
    if (bibim_context_create(model, cp, &s->ctx) != BIBIM_OK) {
        fprintf(stderr, "bibim serve: %s\n", bibim_context_errmsg(s->ctx));
        return -1;
    }
    bibim_model_info info;
    bibim_model_get_info(model, &info);
    s->n_vocab = info.n_vocab;
    s->n_slots = (int)bibim_context_n_seq(s->ctx);
    s->n_ctx = bibim_context_n_ctx(s->ctx);
    s->n_batch = bibim_context_n_batch(s->ctx);
    s->m.n_slots = s->n_slots;
    s->q_cap = queue_size > 0 ? queue_size : 1;
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    s->queue = calloc((size_t)s->q_cap, sizeof *s->queue);
    s->b_tokens = calloc(s->n_batch, sizeof *s->b_tokens);
    s->b_seq = calloc(s->n_batch, sizeof *s->b_seq);
    s->b_want = calloc(s->n_batch, 1);
    s->b_logits = calloc((size_t)s->n_slots * (size_t)s->n_vocab, sizeof *s->b_logits);
    s->b_row_slot = calloc((size_t)s->n_slots, sizeof *s->b_row_slot);
    if (!s->slots || !s->queue || !s->b_tokens || !s->b_seq || !s->b_want || !s->b_logits || !s->b_row_slot) {
        fprintf(stderr, "bibim serve: out of memory for %d slots\n", s->n_slots);
        return -1;
    }
    for (int i = 0; i < s->n_slots; i++) s->slots[i].next = -1;
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        fprintf(stderr, "bibim serve: cannot start the scheduler thread: %s\n", strerror(errno));
        return -1;
    }
    s->thread_started = 1;
    return 0;
}

static int running_requests(const sched *s) { return s->m.busy_slots + s->q_len; }

void sched_shutdown(sched *s, double deadline) {
    if (!s || !s->thread_started) return;
    sched_lock(s);
    s->draining = 1;
    while (running_requests(s) > 0 && now_monotonic() < deadline) {
        sched_unlock(s);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
        sched_lock(s);
    }
    s->cancel_all = 1;
    s->exit = 1;
    pthread_cond_signal(&s->wake);
    sched_unlock(s);
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
    /* Requests still queued (the thread ended first) are cancelled here. */
    sched_lock(s);
    admit(s);
    sched_unlock(s);
}

void sched_free(sched *s) {
    if (!s) return;
    sched_shutdown(s, 0);
    for (int i = 0; s->slots && i < s->n_slots; i++) {
        bibim_sampler_free(s->slots[i].sampler);
        bibim_text_stream_free(s->slots[i].stream);
        free(s->slots[i].cache);
    }
    free(s->slots);
    free(s->queue);
    free(s->b_tokens);
    free(s->b_seq);
    free(s->b_want);
    free(s->b_logits);
    free(s->b_row_slot);
    bibim_context_free(s->ctx);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void sched_get_metrics(sched *s, serve_metrics *m) {
    sched_lock(s);
    *m = s->m;
    sched_unlock(s);
}
