/* test_forward.c — the fast forward pass against a slow, double-precision,
 * obviously-correct one, on random models of odd shapes written here with
 * the GGUF writer; plus context bookkeeping (truncate, full context, bad
 * tokens) and thread-count independence. */
#include "bibim.h"
#include "harness.h"
#include "model_builder.h"

#include <math.h>
#include <unistd.h>

/* Odd sizes on purpose: GQA 3:1, head_dim 16, partial rotation, n_ff not a
 * power of two, tied and untied outputs, llama3-style rope factors. */
static const shape shapes[] = {
    {.n_vocab = 37, .n_embd = 48, .n_layer = 2, .n_head = 3, .n_head_kv = 1, .n_ff = 80, .n_rot = 16,
     .theta = 10000.0f, .eps = 1e-5f, .tied = 0, .rope_factors = 0},
    {.n_vocab = 50, .n_embd = 64, .n_layer = 3, .n_head = 4, .n_head_kv = 2, .n_ff = 96, .n_rot = 8,
     .theta = 500000.0f, .eps = 1e-6f, .tied = 1, .rope_factors = 1},
};

/* ---- the reference: plain double precision, straight from the equations ---- */

/* y = W x, W with n_out rows of n_in (ggml layout: row r at W + r * n_in). */
static void ref_matvec(const float *w, const double *x, int n_in, int n_out, double *y) {
    for (int r = 0; r < n_out; r++) {
        double s = 0;
        for (int i = 0; i < n_in; i++) s += (double)w[(int64_t)r * n_in + i] * x[i];
        y[r] = s;
    }
}

static void ref_rmsnorm(const double *x, const float *w, int n, double eps, double *y) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double scale = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

/* Rotates pair (2i, 2i+1) of each head by pos * theta^(-2i/n_rot) / factor_i. */
static void ref_rope(double *v, int n_heads, int hd, int n_rot, double theta, const float *factors, int pos) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < n_rot / 2; i++) {
            double angle = pos * pow(theta, -2.0 * i / n_rot) / (factors ? factors[i] : 1.0);
            double *p = v + h * hd + 2 * i, x0 = p[0], x1 = p[1];
            p[0] = x0 * cos(angle) - x1 * sin(angle);
            p[1] = x0 * sin(angle) + x1 * cos(angle);
        }
}

/* Logits of every position for `tokens`, shape [n][n_vocab]. */
static void ref_forward(const shape *s, const weights *w, const int *tokens, int n, double *logits) {
    int d = s->n_embd, hd = d / s->n_head, kvd = s->n_head_kv * hd, group = s->n_head / s->n_head_kv;
    double *x = calloc((size_t)n * d, sizeof *x), *xb = malloc(sizeof(double) * (size_t)d);
    double *q = malloc(sizeof(double) * (size_t)n * d), *k = malloc(sizeof(double) * (size_t)n * kvd);
    double *v = malloc(sizeof(double) * (size_t)n * kvd), *att = malloc(sizeof(double) * (size_t)d);
    double *tmp = malloc(sizeof(double) * (size_t)(d > s->n_ff ? d : s->n_ff) * 2), *sc = malloc(sizeof(double) * (size_t)n);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++) x[t * d + i] = w->embd[(int64_t)tokens[t] * d + i];
    for (int l = 0; l < s->n_layer; l++) {
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(x + t * d, w->attn_norm[l], d, s->eps, xb);
            ref_matvec(w->wq[l], xb, d, d, q + t * d);
            ref_matvec(w->wk[l], xb, d, kvd, k + t * kvd);
            ref_matvec(w->wv[l], xb, d, kvd, v + t * kvd);
            ref_rope(q + t * d, s->n_head, hd, s->n_rot, s->theta, w->factors, t);
            ref_rope(k + t * kvd, s->n_head_kv, hd, s->n_rot, s->theta, w->factors, t);
        }
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < s->n_head; h++) {
                int kh = h / group;
                double max = -INFINITY, sum = 0;
                for (int p = 0; p <= t; p++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[t * d + h * hd + i] * k[p * kvd + kh * hd + i];
                    sc[p] = dot / sqrt(hd);
                    if (sc[p] > max) max = sc[p];
                }
                for (int p = 0; p <= t; p++) sum += sc[p] = exp(sc[p] - max);
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int p = 0; p <= t; p++) a += sc[p] / sum * v[p * kvd + kh * hd + i];
                    att[h * hd + i] = a;
                }
            }
            ref_matvec(w->wo[l], att, d, d, tmp);
            for (int i = 0; i < d; i++) x[t * d + i] += tmp[i];
        }
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(x + t * d, w->ffn_norm[l], d, s->eps, xb);
            double *g = tmp, *u = tmp + s->n_ff;
            ref_matvec(w->gate[l], xb, d, s->n_ff, g);
            ref_matvec(w->up[l], xb, d, s->n_ff, u);
            for (int i = 0; i < s->n_ff; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            double *o = malloc(sizeof(double) * (size_t)d);
            ref_matvec(w->down[l], g, s->n_ff, d, o);
            for (int i = 0; i < d; i++) x[t * d + i] += o[i];
            free(o);
        }
    }
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(x + t * d, w->out_norm, d, s->eps, xb);
        ref_matvec(s->tied ? w->embd : w->out, xb, d, s->n_vocab, logits + (int64_t)t * s->n_vocab);
    }
    free(x), free(xb), free(q), free(k), free(v), free(att), free(tmp), free(sc);
}

/* ---- the tests ---- */

static char tmp_dir[] = "/tmp/bibim-test-forward-XXXXXX";

static int check_shape(const shape *s, int n_threads) {
    char path[256];
    snprintf(path, sizeof path, "%s/model.gguf", tmp_dir);
    rng_state = 12345;
    weights w;
    make_weights(s, &w);
    if (!write_model(s, &w, path, NULL)) return 0;
    enum { N = 12 };
    int tokens[N];
    bibim_token btokens[N];
    for (int i = 0; i < N; i++) btokens[i] = tokens[i] = (i * 7 + 3) % s->n_vocab;
    double *want = malloc(sizeof(double) * N * (size_t)s->n_vocab);
    ref_forward(s, &w, tokens, N, want);

    bibim_model *m = NULL;
    bibim_context *c = NULL;
    CHECKF(bibim_model_load(path, NULL, &m) == BIBIM_OK, "%s", bibim_model_errmsg(m));
    bibim_context_params cp = bibim_context_default_params();
    cp.n_threads = n_threads;
    cp.n_batch = 5; /* several batches, and a last one of 2 */
    CHECK(m && bibim_context_create(m, &cp, &c) == BIBIM_OK);
    float *got = malloc(sizeof(float) * N * (size_t)s->n_vocab);
    if (c) CHECKF(bibim_context_eval(c, btokens, N, got) == BIBIM_OK, "%s", bibim_context_errmsg(c));
    /* F16 keys, values, queries and probabilities bound the agreement: about
     * 2^-11 relative per rounding, amplified a little through the layers. */
    double max_err = 0, max_ref = 0;
    for (int64_t i = 0; c && i < (int64_t)N * s->n_vocab; i++) {
        double e = fabs(got[i] - want[i]);
        if (e > max_err) max_err = e;
        if (fabs(want[i]) > max_ref) max_ref = fabs(want[i]);
    }
    printf("  shape n_embd %d: max |fast - reference| = %.3g (max |logit| %.3g), %d threads\n", s->n_embd, max_err,
           max_ref, n_threads);
    CHECKF(max_err < 0.01 * max_ref, "max error %g vs max logit %g", max_err, max_ref);
    /* Token by token after a truncation gives the same last logits as the batch. */
    if (c) {
        CHECK(bibim_context_truncate(c, 4) == BIBIM_OK && bibim_context_n_past(c) == 4);
        for (int t = 4; t < N; t++) CHECK(bibim_context_eval(c, &btokens[t], 1, NULL) == BIBIM_OK);
        const float *last = bibim_context_logits(c);
        double diff = 0;
        for (int i = 0; last && i < s->n_vocab; i++) {
            double e = fabs(last[i] - got[(N - 1) * s->n_vocab + i]);
            if (e > diff) diff = e;
        }
        CHECKF(last && diff < 1e-4 * max_ref, "incremental vs batch: %g", diff);
    }
    free(got);
    free(want);
    bibim_context_free(c);
    bibim_model_free(m);
    free_weights(s, &w);
    unlink(path);
    return 0;
}

static int test_matches_reference_1_thread(void) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(&shapes[i], 1);
    return 0;
}

static int test_matches_reference_3_threads(void) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(&shapes[i], 3);
    return 0;
}

/* Logits are bit-identical whatever the thread count. */
static int test_thread_count_independent(void) {
    const char *path = SHARED_DIR "/models/stories260K.gguf";
    SKIP_UNLESS_FILE(path);
    bibim_model *m = NULL;
    CHECK(bibim_model_load(path, NULL, &m) == BIBIM_OK);
    bibim_token toks[20];
    for (int i = 0; i < 20; i++) toks[i] = (bibim_token)(1 + i * 13 % 500);
    float *first = malloc(sizeof(float) * 20 * 512), *other = malloc(sizeof(float) * 20 * 512);
    for (int threads = 1; threads <= 4 && m; threads++) {
        bibim_context_params cp = bibim_context_default_params();
        cp.n_threads = threads;
        bibim_context *c = NULL;
        CHECK(bibim_context_create(m, &cp, &c) == BIBIM_OK);
        CHECK(c && bibim_context_eval(c, toks, 20, threads == 1 ? first : other) == BIBIM_OK);
        if (threads > 1) CHECKF(!memcmp(first, other, sizeof(float) * 20 * 512), "%d threads differ", threads);
        bibim_context_free(c);
    }
    free(first), free(other);
    bibim_model_free(m);
    return 0;
}

static int test_context_limits(void) {
    const char *path = SHARED_DIR "/models/stories260K.gguf";
    SKIP_UNLESS_FILE(path);
    bibim_model *m = NULL;
    bibim_context *c = NULL;
    CHECK(bibim_model_load(path, NULL, &m) == BIBIM_OK);
    bibim_context_params cp = bibim_context_default_params();
    cp.n_ctx = 8;
    CHECK(m && bibim_context_create(m, &cp, &c) == BIBIM_OK);
    if (!c) goto done;
    CHECK(bibim_context_n_ctx(c) == 8);
    bibim_token toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(bibim_context_eval(c, toks, 9, NULL) == BIBIM_ERR_CONTEXT_FULL);
    CHECK(strstr(bibim_context_errmsg(c), "do not fit") != NULL);
    CHECK(bibim_context_n_past(c) == 0);
    CHECK(bibim_context_eval(c, toks, 8, NULL) == BIBIM_OK && bibim_context_n_past(c) == 8);
    CHECK(bibim_context_eval(c, toks, 1, NULL) == BIBIM_ERR_CONTEXT_FULL);
    CHECK(bibim_context_truncate(c, 9) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_context_truncate(c, 2) == BIBIM_OK);
    bibim_token bad[2] = {5, 512};
    CHECK(bibim_context_eval(c, bad, 2, NULL) == BIBIM_ERR_INVALID_ARG);
    CHECKF(strstr(bibim_context_errmsg(c), "512") && strstr(bibim_context_errmsg(c), "index 1"), "%s",
           bibim_context_errmsg(c));
    bad[1] = -1;
    CHECK(bibim_context_eval(c, bad, 2, NULL) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_context_n_past(c) == 2);
done:
    bibim_context_free(c);
    bibim_model_free(m);
    return 0;
}

int main(void) {
    if (!mkdtemp(tmp_dir)) return 1;
    RUN(test_matches_reference_1_thread);
    RUN(test_matches_reference_3_threads);
    RUN(test_thread_count_independent);
    RUN(test_context_limits);
    rmdir(tmp_dir);
    return harness_finish();
}
