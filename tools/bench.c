/* bench.c — `bibim bench`: prompt processing and generation speed, in the
 * manner of llama-bench, with the weight bytes streamed per second set
 * against the machine's own measured memory read bandwidth. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CMD "bench"

enum {
    MAX_LIST = 64,             /* values a comma-separated option may hold */
    MAX_TOKENS = 1 << 20,      /* largest -p or -n */
    MAX_PARALLEL = 256,        /* largest --parallel */
    PROBE_DEFAULT_MIB = 1024,  /* the bandwidth probe's buffer, by default at least */
    PROBE_MIB_PER_THREAD = 64, /* ... and at least this per thread */
    PROBE_MIN_MIB = 256,       /* what the fill gives at least, however slow */
    PROBE_CHUNK = 2 << 20,     /* what a probe thread reads at a time */
    PROBE_MIN_PASSES = 3,      /* passes before the tests: at least, */
    PROBE_MAX_PASSES = 100,    /* ... at most */
    PROBE_RUN_PASSES = 2,      /* passes after each measured run */
    HUGE_PAGE = 2 << 20
};
#define PROBE_FILL_SECONDS 0.25  /* the fill's deadline, past PROBE_MIN_MIB */
#define PROBE_BUDGET_SECONDS 0.4 /* time for the passes before the tests, after the fill */
#define TOKEN_SEED 0x62656e6368ULL /* "bench": token ids do not change from run to run */

static void usage(FILE *f) {
    fprintf(f,
            "usage: bibim bench -m FILE [options]\n"
            "Measures prompt processing (pp: a batch of -p tokens evaluated at once) and token\n"
            "generation (tg: -n tokens evaluated one after the other, as decoding does). Each test\n"
            "runs once to warm up (tg: a few tokens), then -r times; each run starts from an empty\n"
            "KV cache. Tokens are random valid ids after BOS, the same on every run.\n"
            "  -m, --model FILE        GGUF model\n"
            "  -p, --n-prompt N,...    prompt tokens per pp test (default 512; 0 = no pp test)\n"
            "  -n, --n-gen N,...       generated tokens per tg test (default 128; 0 = no tg test)\n"
            "  -t, --threads N,...     threads (default: physical cores)\n"
            "      --parallel N,...    sequences decoded together in tg tests (default 1): each step\n"
            "                          is one forward pass over the next token of every sequence, as\n"
            "                          a server's continuous batching does; t/s counts all of them\n"
            "                          (test name tgNxS for S sequences)\n"
            "  -r, --repetitions N     measured runs of each test (default 5)\n"
            "  -c, --ctx-size N        context window (default: largest -p plus largest -n)\n"
            "  -o, --output md|json    a markdown table (default) or a JSON array, one object per test\n"
            "      --bw-mib N          MiB of the buffer the bandwidth probe's threads read together\n"
            "                          (default 1024, or 64 per thread if more; 0 skips the probe,\n"
            "                          and GB/s is not set against it)\n"
            "Columns: t/s is the mean and sample standard deviation of tokens/s over the runs;\n"
            "GB/s is weight bytes streamed per second (each weight matrix is read once per\n"
            "evaluation: once per token in tg, once per batch in pp; the token embedding table is\n"
            "counted only when it doubles as the output matrix); %% bw is GB/s as a share of the\n"
            "memory read bandwidth measured with the same number of threads, reported on stderr:\n"
            "the best pass of all the threads over a buffer far larger than the caches, of those\n"
            "read before the tests (under a second) and of two after each measured run.\n"
            "Several values give one row per combination, e.g. -t 1,2 -p 64,512.\n");
}

typedef struct int_list {
    int n;
    int v[MAX_LIST];
} int_list;

typedef struct bench_options {
    const char *model;
    int_list n_prompt, n_gen, threads, parallel;
    int reps;
    uint32_t n_ctx; /* 0 = derived */
    int json;
    long long bw_mib; /* -1 = default, 0 = no probe */
} bench_options;

/* Parses "N,N,...", each in [min, max]. 0, or -1 after a usage error. */
static int parse_list(const char *option, const char *text, long long min, long long max, int_list *out) {
    if (!text) {
        cli_usage_error(CMD, "%s needs a value", option);
        return -1;
    }
    out->n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item) {
            cli_usage_error(CMD, "%s takes integers separated by commas, not '%s'", option, text);
            return -1;
        }
        if (out->n == MAX_LIST) {
            cli_usage_error(CMD, "%s takes at most %d values", option, MAX_LIST);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = 0;
        long long v;
        if (cli_parse_int(CMD, option, item, min, max, &v)) return -1;
        out->v[out->n++] = (int)v;
        if (!comma) return 0;
        p = comma + 1;
    }
}

static int list_max(const int_list *l) {
    int m = 0;
    for (int i = 0; i < l->n; i++)
        if (l->v[i] > m) m = l->v[i];
    return m;
}

/* Counts distinct (physical id, core id) pairs in /proc/cpuinfo, as the
 * library does for its default; the online CPU count where that fails. */
static int physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int fallback = online > 0 ? (int)online : 1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return fallback;
    enum { MAX_CORES = 1024 };
    static int pairs[MAX_CORES][2];
    int n = 0, phys = -1, core = -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "physical id : %d", &phys) == 1) continue;
        if (sscanf(line, "core id : %d", &core) == 1 && phys >= 0 && n < MAX_CORES) {
            int seen = 0;
            for (int i = 0; i < n && !seen; i++) seen = pairs[i][0] == phys && pairs[i][1] == core;
            if (!seen) pairs[n][0] = phys, pairs[n][1] = core, n++;
        }
    }
    fclose(f);
    return n > 0 && n <= fallback ? n : fallback;
}

/* Returns -1 on a usage error (already reported), 1 for --help, else 0. */
static int parse_args(int argc, char **argv, bench_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (!v && a[0] == '-' && strcmp(a, "-")) {
            int known = !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "-p") || !strcmp(a, "--n-prompt") ||
                        !strcmp(a, "-n") || !strcmp(a, "--n-gen") || !strcmp(a, "-t") || !strcmp(a, "--threads") ||
                        !strcmp(a, "-r") || !strcmp(a, "--repetitions") || !strcmp(a, "-c") ||
                        !strcmp(a, "--ctx-size") || !strcmp(a, "-o") || !strcmp(a, "--output") ||
                        !strcmp(a, "--bw-mib") || !strcmp(a, "--parallel");
            if (known) {
                cli_usage_error(CMD, "%s needs a value", a);
                return -1;
            }
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            if (parse_list(a, v, 0, MAX_TOKENS, &o->n_prompt)) return -1;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            if (parse_list(a, v, 0, MAX_TOKENS, &o->n_gen)) return -1;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (parse_list(a, v, 1, 1024, &o->threads)) return -1;
        } else if (!strcmp(a, "--parallel")) {
            if (parse_list(a, v, 1, MAX_PARALLEL, &o->parallel)) return -1;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            if (cli_parse_int(CMD, a, v, 1, 100000, &n)) return -1;
            o->reps = (int)n;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (cli_parse_int(CMD, a, v, 1, 1 << 24, &n)) return -1;
            o->n_ctx = (uint32_t)n;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!strcmp(v, "md")) o->json = 0;
            else if (!strcmp(v, "json")) o->json = 1;
            else {
                cli_usage_error(CMD, "%s must be md or json, not '%s'", a, v);
                return -1;
            }
        } else if (!strcmp(a, "--bw-mib")) {
            if (cli_parse_int(CMD, a, v, 0, 1 << 20, &n)) return -1;
            o->bw_mib = n;
        } else {
            cli_usage_error(CMD, "unknown option '%s' (see bibim bench --help)", a);
            return -1;
        }
        i++;
    }
    if (!o->model) {
        cli_usage_error(CMD, "no model: give -m FILE");
        return -1;
    }
    int max_p = list_max(&o->n_prompt), max_n = list_max(&o->n_gen);
    if (max_p == 0 && max_n == 0) {
        cli_usage_error(CMD, "nothing to measure: -p and -n are both 0");
        return -1;
    }
    if (o->n_ctx && (o->n_ctx < (uint32_t)max_p || o->n_ctx < (uint32_t)max_n)) {
        cli_usage_error(CMD, "-c %u is too small: the largest test needs %d tokens", o->n_ctx,
                        max_p > max_n ? max_p : max_n);
        return -1;
    }
    if (!o->n_ctx) o->n_ctx = (uint32_t)(max_p + max_n);
    if (o->threads.n == 0) o->threads.v[o->threads.n++] = physical_cores();
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- Memory read bandwidth ----
 * A probe session serves the tests of one thread count. Its threads share
 * one buffer far larger than the caches: they fill it first (so that every
 * page exists, in huge pages where the kernel offers them), then read it
 * whole, pass after pass, for a short time budget before the tests, and
 * again for a couple of passes after each measured run, so that the
 * bandwidth is looked at while the tests run, not only in one moment before
 * them: on a shared machine (a VM, or other busy processes) what memory
 * gives changes by half from one second to the next. The best pass so far
 * gives the bandwidth. Within a pass the threads take 2 MiB chunks from a
 * shared counter, as the engine's workers take the rows of a weight matrix,
 * so a thread that the scheduler sets aside for a while leaves its chunks to
 * the others rather than holding the pass back. Eight independent 64-bit
 * sums per 64 bytes keep the loads ahead of memory; the compiler may
 * vectorize them. The calling thread is worker 0, so there are no more
 * threads than asked for; the others sleep between passes. A pass lasts
 * from the first thread's start to the last thread's end. */

typedef struct probe probe;

typedef struct probe_worker {
    probe *pr;
    pthread_t thread;
    uint64_t sum;
    double start, end; /* of the current pass */
    int took;          /* chunks taken in the current pass */
} probe_worker;

struct probe {
    pthread_mutex_t lock;
    pthread_cond_t open;
    int gate_open, abort; /* under lock: threads 1.. start when the gate opens */
    pthread_barrier_t go, done;
    atomic_size_t next; /* the next chunk of the current pass */
    int fill, quit;     /* written by worker 0 before `go` */
    uint64_t *buf;
    size_t n_chunks;    /* after the fill: the chunks filled */
    size_t min_chunks;  /* the fill stops at its deadline only past these */
    double fill_deadline;
    int passes;         /* measured */
    double best;        /* bytes per second */
    probe_worker *w;
    int n;
};

enum { CHUNK_WORDS = PROBE_CHUNK / sizeof(uint64_t) };

static uint64_t sum_words(const uint64_t *p, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
        s4 += p[i + 4], s5 += p[i + 5], s6 += p[i + 6], s7 += p[i + 7];
    }
    return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

/* Takes chunks until none is left: fills them (the first pass) or sums them.
 * The fill stops early at its deadline (the kernel may be slow to find huge
 * pages), and then only the chunks taken so far, a prefix, are read. */
static void probe_chunks(probe_worker *w, int fill) {
    probe *pr = w->pr;
    w->took = 0;
    w->start = now_seconds();
    for (;;) {
        if (fill && atomic_load_explicit(&pr->next, memory_order_relaxed) >= pr->min_chunks &&
            now_seconds() > pr->fill_deadline)
            break;
        size_t c = atomic_fetch_add_explicit(&pr->next, 1, memory_order_relaxed);
        if (c >= pr->n_chunks) break;
        uint64_t *p = pr->buf + c * CHUNK_WORDS;
        if (fill)
            for (size_t i = 0; i < CHUNK_WORDS; i++) p[i] = (c * CHUNK_WORDS + i) * 0x9e3779b97f4a7c15ULL;
        else
            w->sum += sum_words(p, CHUNK_WORDS);
        w->took++;
    }
    w->end = now_seconds();
}

static void *probe_thread(void *arg) {
    probe_worker *w = arg;
    probe *pr = w->pr;
    pthread_mutex_lock(&pr->lock);
    while (!pr->gate_open) pthread_cond_wait(&pr->open, &pr->lock);
    int abort_now = pr->abort;
    pthread_mutex_unlock(&pr->lock);
    while (!abort_now) {
        pthread_barrier_wait(&pr->go);
        if (pr->quit) break;
        probe_chunks(w, pr->fill);
        pthread_barrier_wait(&pr->done);
    }
    return NULL;
}

/* One pass of all threads, from worker 0 (the caller); its seconds. */
static double probe_pass(probe *pr, int fill) {
    pr->fill = fill;
    atomic_store_explicit(&pr->next, 0, memory_order_relaxed);
    pthread_barrier_wait(&pr->go);
    probe_chunks(&pr->w[0], fill);
    pthread_barrier_wait(&pr->done);
    double first = 0, last = 0;
    for (int i = 0, any = 0; i < pr->n; i++) {
        const probe_worker *x = &pr->w[i];
        if (!x->took) continue; /* it came when the chunks were gone */
        if (!any || x->start < first) first = x->start;
        if (!any || x->end > last) last = x->end;
        any = 1;
    }
    return last - first;
}

/* Read passes: at least `min_passes`, then more while they took no more than
 * `budget` seconds in all, at most `max_passes`. */
static void probe_passes(probe *pr, int min_passes, int max_passes, double budget) {
    double spent = 0, bytes = (double)pr->n_chunks * PROBE_CHUNK;
    for (int i = 0; i < max_passes && (i < min_passes || spent <= budget); i++) {
        double s = probe_pass(pr, 0);
        spent += s;
        pr->passes++;
        if (s > 0 && bytes / s > pr->best) pr->best = bytes / s;
    }
}

static void probe_release(probe *pr) {
    pthread_barrier_destroy(&pr->go);
    pthread_barrier_destroy(&pr->done);
    pthread_mutex_destroy(&pr->lock);
    pthread_cond_destroy(&pr->open);
    free(pr->buf);
    free(pr->w);
    free(pr);
}

static void probe_free(probe *pr) {
    if (!pr) return;
    pr->quit = 1;
    pthread_barrier_wait(&pr->go);
    for (int i = 1; i < pr->n; i++) pthread_join(pr->w[i].thread, NULL);
    probe_release(pr);
}

/* Starts a session of `n_threads` threads on a buffer of up to `bytes` (a
 * multiple of PROBE_CHUNK; less when filling it takes longer than
 * PROBE_FILL_SECONDS), fills the buffer and runs the first passes. NULL if
 * it could not (a message says why). */
static probe *probe_start(int n_threads, size_t bytes) {
    probe *pr = calloc(1, sizeof *pr);
    if (pr) {
        pr->n = n_threads;
        pr->n_chunks = bytes / PROBE_CHUNK;
        /* 2 MiB-aligned and, where the kernel offers them, in huge pages
         * (fewer TLB misses): the probe looks for the best memory can do. */
        pr->buf = aligned_alloc(HUGE_PAGE, bytes);
        pr->w = calloc((size_t)n_threads, sizeof *pr->w);
    }
    if (!pr || !pr->buf || !pr->w) {
        fprintf(stderr, "bibim bench: no memory for the bandwidth probe (lower --bw-mib)\n");
        if (pr) free(pr->buf), free(pr->w);
        free(pr);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(pr->buf, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    /* However slow the fill, at least PROBE_MIN_MIB and half the default
     * share of each thread, so that the caches cannot hold the buffer. */
    size_t min_mib = (size_t)PROBE_MIB_PER_THREAD / 2 * (size_t)n_threads;
    if (min_mib < PROBE_MIN_MIB) min_mib = PROBE_MIN_MIB;
    pr->min_chunks = (min_mib << 20) / PROBE_CHUNK;
    atomic_init(&pr->next, 0);
    for (int i = 0; i < n_threads; i++) pr->w[i].pr = pr;
    pthread_mutex_init(&pr->lock, NULL);
    pthread_cond_init(&pr->open, NULL);
    pthread_barrier_init(&pr->go, NULL, (unsigned)n_threads);
    pthread_barrier_init(&pr->done, NULL, (unsigned)n_threads);
    int started = 1;
    while (started < n_threads && pthread_create(&pr->w[started].thread, NULL, probe_thread, &pr->w[started]) == 0)
        started++;
    pthread_mutex_lock(&pr->lock);
    pr->abort = started < n_threads;
    pr->gate_open = 1;
    pthread_cond_broadcast(&pr->open);
    pthread_mutex_unlock(&pr->lock);
    if (started < n_threads) {
        fprintf(stderr, "bibim bench: cannot start %d threads for the bandwidth probe\n", n_threads);
        for (int i = 1; i < started; i++) pthread_join(pr->w[i].thread, NULL);
        probe_release(pr);
        return NULL;
    }
    pr->fill_deadline = now_seconds() + PROBE_FILL_SECONDS;
    probe_pass(pr, 1);
    size_t filled = atomic_load(&pr->next);
    if (filled < pr->n_chunks) pr->n_chunks = filled;
    probe_passes(pr, PROBE_MIN_PASSES, PROBE_MAX_PASSES, PROBE_BUDGET_SECONDS);
    return pr;
}

/* Bytes of memory the system can give without swapping: MemAvailable of
 * /proc/meminfo (free memory plus the page cache it may drop), else the
 * free pages; 0 if unknown. */
static uint64_t available_memory(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[128];
        unsigned long long kib;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
                fclose(f);
                return (uint64_t)kib << 10;
            }
        fclose(f);
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* The probe buffer: --bw-mib, or by default PROBE_DEFAULT_MIB and at least
 * PROBE_MIB_PER_THREAD a thread; at most half the available memory, but not
 * below 16 MiB (or the size asked for). Whole chunks. */
static size_t probe_buffer_bytes(long long mib, int n_threads) {
    uint64_t want = (uint64_t)(mib > 0 ? mib : PROBE_DEFAULT_MIB) << 20;
    uint64_t per_thread = ((uint64_t)PROBE_MIB_PER_THREAD << 20) * (uint64_t)n_threads;
    if (mib < 0 && want < per_thread) want = per_thread;
    uint64_t bytes = want, avail = available_memory();
    if (avail > 0 && avail / 2 < bytes) bytes = avail / 2;
    uint64_t floor = want < (16u << 20) ? want : (16u << 20);
    if (bytes < floor) bytes = floor;
    if (bytes > SIZE_MAX / 2) bytes = SIZE_MAX / 2;
    return (size_t)((bytes + PROBE_CHUNK - 1) / PROBE_CHUNK * PROBE_CHUNK);
}

static void print_bandwidth(const probe *pr, int later) {
    fprintf(stderr, "memory read bandwidth: %.1f GB/s with %d thread%s (best of %d passes over %.0f MiB%s)\n",
            pr->best / 1e9, pr->n, pr->n == 1 ? "" : "s", pr->passes, (double)pr->n_chunks * PROBE_CHUNK / (1 << 20),
            later ? ", with those after the runs" : "");
}

/* ---- Measuring ---- */

typedef struct test_result {
    char name[32];
    int is_gen, n_tokens, threads;
    int n_seq; /* sequences decoded together (tg) */
    const char *cpu;
    double *samples_s; /* seconds of each measured run */
    double ts_mean, ts_sd, gb_s, bw; /* bw: the probe's bytes/s (0 = none) */
} test_result;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* n tokens: BOS (if the model has one), then random ids from a fixed seed. */
static void make_tokens(const bibim_model *model, int32_t n_vocab, bibim_token *tokens, int n) {
    uint64_t state = TOKEN_SEED;
    for (int i = 0; i < n; i++) tokens[i] = (bibim_token)(splitmix64(&state) % (uint64_t)n_vocab);
    if (n > 0 && bibim_token_bos(model) >= 0) tokens[0] = bibim_token_bos(model);
}

/* One run from empty KV caches: the whole batch at once (pp), or one token
 * after the other (tg), in n_seq sequences together: step i evaluates
 * token i of every sequence in one batch, with the logits of each (as a
 * server samples each). Seconds, or -1 after printing the error. */
static double run_once(bibim_context *ctx, const bibim_token *tokens, int n, int is_gen, int n_seq, float *logits) {
    for (int s = 0; s < n_seq; s++) {
        if (bibim_context_seq_truncate(ctx, s, 0) != BIBIM_OK) {
            fprintf(stderr, "bibim bench: %s\n", bibim_context_errmsg(ctx));
            return -1;
        }
    }
    bibim_token step_tokens[MAX_PARALLEL];
    int32_t seq[MAX_PARALLEL];
    uint8_t want[MAX_PARALLEL];
    for (int s = 0; s < n_seq; s++) seq[s] = s, want[s] = 1;
    double t0 = now_seconds();
    for (int done = 0; done < n;) {
        int step = is_gen ? 1 : n;
        bibim_status st;
        if (n_seq == 1) {
            st = bibim_context_eval(ctx, tokens + done, step, NULL);
        } else {
            for (int s = 0; s < n_seq; s++) step_tokens[s] = tokens[done];
            const bibim_batch batch = {.n_tokens = n_seq, .tokens = step_tokens, .seq = seq, .want_logits = want,
                                       .logits = logits};
            st = bibim_context_eval_batch(ctx, &batch);
        }
        if (st != BIBIM_OK) {
            fprintf(stderr, "bibim bench: %s\n", bibim_context_errmsg(ctx));
            return -1;
        }
        done += step;
    }
    return now_seconds() - t0;
}

/* Tokens one run evaluates, in all its sequences. */
static double run_tokens(const test_result *r) { return (double)r->n_tokens * r->n_seq; }

/* `pr` (if not NULL) reads a couple of passes after each measured run. */
static int run_test(bibim_context *ctx, const bibim_token *tokens, int reps, test_result *r, probe *pr,
                    float *logits) {
    int tty = cli_stderr_is_tty();
    fprintf(stderr, "%s, %d thread%s: warm-up + %d run%s", r->name, r->threads, r->threads == 1 ? "" : "s", reps,
            reps == 1 ? "" : "s");
    fputs(tty ? "" : "\n", stderr);
    /* Warm-up: pages in the weights and touches the scratch. For tg a few
     * tokens do that (every token reads the same weights). */
    int warm = r->is_gen ? (r->n_tokens < 4 ? r->n_tokens : 4) : r->n_tokens;
    if (run_once(ctx, tokens, warm, r->is_gen, r->n_seq, logits) < 0) return -1;
    double sum = 0;
    for (int i = 0; i < reps; i++) {
        double s = run_once(ctx, tokens, r->n_tokens, r->is_gen, r->n_seq, logits);
        if (s < 0) return -1;
        r->samples_s[i] = s;
        if (pr) probe_passes(pr, PROBE_RUN_PASSES, PROBE_RUN_PASSES, 0);
        if (tty) fprintf(stderr, "\r%s, %d thread%s: run %d/%d, %.2f t/s   ", r->name, r->threads,
                         r->threads == 1 ? "" : "s", i + 1, reps, s > 0 ? run_tokens(r) / s : 0.0);
    }
    if (tty) fputc('\n', stderr);
    for (int i = 0; i < reps; i++) sum += r->samples_s[i] > 0 ? run_tokens(r) / r->samples_s[i] : 0;
    r->ts_mean = sum / reps;
    double ss = 0;
    for (int i = 0; i < reps; i++) {
        double d = (r->samples_s[i] > 0 ? run_tokens(r) / r->samples_s[i] : 0) - r->ts_mean;
        ss += d * d;
    }
    r->ts_sd = reps > 1 ? sqrt(ss / (reps - 1)) : 0;
    return 0;
}

/* ---- Output ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))) return 0; /* overlong, surrogate */
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))) return 0; /* overlong, > U+10FFFF */
    return n;
}

/* A copy of `s` that is valid UTF-8 without control characters (each bad
 * byte becomes '?'); for markdown, '|' is escaped. Characters are counted in
 * *width. NULL when memory runs out. */
static char *clean_text(const char *s, int markdown, int *width) {
    size_t n = strlen(s);
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    int w = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char *u = (const unsigned char *)s + i;
        int len = utf8_len(u);
        if (len == 0 || (len == 1 && (u[0] < 0x20 || u[0] == 0x7f))) out[o++] = '?', i++;
        else {
            if (markdown && u[0] == '|') out[o++] = '\\', w++;
            memcpy(out + o, u, (size_t)len);
            o += (size_t)len, i += (size_t)len;
        }
        w++;
    }
    out[o] = 0;
    if (width) *width = w;
    return out;
}

/* Characters (not bytes) of a valid UTF-8 string. */
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* Prints `s` padded to `width` characters, on the right or the left. */
static void cell(const char *s, int width, int right) {
    int pad = width - text_width(s);
    if (pad < 0) pad = 0;
    printf(" %*s%s%*s |", right ? pad : 0, "", s, right ? 0 : pad, "");
}

typedef struct table {
    int w[9]; /* minimum widths until the header is printed, then the widths */
    int header_done;
} table;

static const char *const COLUMNS[9] = {"model", "size", "params", "cpu", "threads", "test", "t/s", "GB/s", "% bw"};

static void size_text(uint64_t bytes, char *buf, size_t n) {
    double b = (double)bytes;
    if (b >= 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
}

static void params_text(uint64_t params, char *buf, size_t n) {
    double p = (double)params;
    if (p >= 1e9) snprintf(buf, n, "%.2f B", p / 1e9);
    else snprintf(buf, n, "%.2f M", p / 1e6);
}

/* Two decimals, or two significant digits below 0.1 (pp's GB/s is small). */
static void number_text(double x, char *buf, size_t n) {
    if (x >= 0.1 || x == 0) snprintf(buf, n, "%.2f", x);
    else snprintf(buf, n, "%.2g", x);
}

static void print_row(table *t, const char *model, const bibim_model_info *info, const test_result *r) {
    char size[32], params[32], threads[16], ts[64], gbs[32], bw[32];
    size_text(info->n_bytes, size, sizeof size);
    params_text(info->n_params, params, sizeof params);
    snprintf(threads, sizeof threads, "%d", r->threads);
    snprintf(ts, sizeof ts, "%.2f ± %.2f", r->ts_mean, r->ts_sd);
    number_text(r->gb_s, gbs, sizeof gbs);
    if (r->bw > 0) number_text(100.0 * r->gb_s * 1e9 / r->bw, bw, sizeof bw);
    else snprintf(bw, sizeof bw, "-");
    const char *cells[9] = {model, size, params, r->cpu, threads, r->name, ts, gbs, bw};
    if (!t->header_done) {
        /* Rows are printed as their tests end: the widths are set by the
         * first row and room for larger numbers (t->w holds the minimums). */
        for (int c = 0; c < 9; c++) {
            int w = text_width(cells[c]), h = text_width(COLUMNS[c]);
            if (w > t->w[c]) t->w[c] = w;
            if (h > t->w[c]) t->w[c] = h;
        }
        putchar('|');
        for (int c = 0; c < 9; c++) cell(COLUMNS[c], t->w[c], c >= 1 && c != 3);
        putchar('\n');
        putchar('|');
        for (int c = 0; c < 9; c++) {
            int right = c >= 1 && c != 3;
            printf(" ");
            for (int i = 0; i < t->w[c] - right; i++) putchar('-');
            printf("%s |", right ? ":" : "");
        }
        putchar('\n');
        t->header_done = 1;
    }
    putchar('|');
    for (int c = 0; c < 9; c++) cell(cells[c], t->w[c], c >= 1 && c != 3);
    putchar('\n');
    fflush(stdout);
}

static cJSON *json_row(const char *model, const char *file, const bibim_model_info *info, uint64_t streamed,
                       uint32_t n_ctx, int reps, const test_result *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "model_file", file);
    cJSON_AddNumberToObject(o, "size_bytes", (double)info->n_bytes);
    cJSON_AddNumberToObject(o, "size_gib", (double)info->n_bytes / (1024.0 * 1024 * 1024));
    cJSON_AddNumberToObject(o, "params", (double)info->n_params);
    cJSON_AddNumberToObject(o, "weight_bytes_read", (double)streamed);
    cJSON_AddStringToObject(o, "cpu", r->cpu);
    cJSON_AddNumberToObject(o, "threads", r->threads);
    cJSON_AddStringToObject(o, "test", r->name);
    cJSON_AddNumberToObject(o, "n_prompt", r->is_gen ? 0 : r->n_tokens);
    cJSON_AddNumberToObject(o, "n_gen", r->is_gen ? r->n_tokens : 0);
    cJSON_AddNumberToObject(o, "n_seq", r->n_seq);
    cJSON_AddNumberToObject(o, "n_ctx", n_ctx);
    cJSON_AddNumberToObject(o, "repetitions", reps);
    cJSON_AddNumberToObject(o, "ts_mean", r->ts_mean);
    cJSON_AddNumberToObject(o, "ts_sd", r->ts_sd);
    cJSON *ts = cJSON_AddArrayToObject(o, "samples_ts"), *ns = cJSON_AddArrayToObject(o, "samples_ns");
    for (int i = 0; ts && ns && i < reps; i++) {
        double s = r->samples_s[i];
        cJSON_AddItemToArray(ts, cJSON_CreateNumber(s > 0 ? run_tokens(r) / s : 0));
        cJSON_AddItemToArray(ns, cJSON_CreateNumber(round(s * 1e9)));
    }
    cJSON_AddNumberToObject(o, "gb_s", r->gb_s);
    if (r->bw > 0) {
        cJSON_AddNumberToObject(o, "mem_bw_gb_s", r->bw / 1e9);
        cJSON_AddNumberToObject(o, "bw_pct", 100.0 * r->gb_s * 1e9 / r->bw);
    } else {
        cJSON_AddNullToObject(o, "mem_bw_gb_s");
        cJSON_AddNullToObject(o, "bw_pct");
    }
    return o;
}

/* Bytes of weights one evaluation reads: every tensor, less the token
 * embedding table when a separate output matrix exists (then only one row
 * of it is gathered per token). */
static uint64_t streamed_bytes(const char *path, uint64_t all) {
    bibim_gguf *g = NULL;
    uint64_t bytes = all;
    if (bibim_gguf_open(path, &g) == BIBIM_OK) {
        int64_t emb = bibim_gguf_find_tensor(g, "token_embd.weight");
        bibim_tensor_info ti;
        if (emb >= 0 && bibim_gguf_find_tensor(g, "output.weight") >= 0 && bibim_gguf_tensor(g, emb, &ti) == BIBIM_OK &&
            ti.n_bytes <= all)
            bytes = all - ti.n_bytes;
    }
    bibim_gguf_free(g);
    return bytes;
}

/* ---- The command ---- */

typedef struct bench_state {
    bench_options o;
    bibim_model *model;
    bibim_model_info info;
    char *name_md, *name_json;
    uint64_t streamed;
    bibim_token *tokens;
    cJSON *json;
    table tab;
} bench_state;

/* Runs one test and prints (or keeps, for JSON) its row. */
static int bench_test(bench_state *b, bibim_context *ctx, test_result *r, probe *pr, float *logits) {
    const bench_options *o = &b->o;
    make_tokens(b->model, b->info.n_vocab, b->tokens, r->n_tokens);
    if (run_test(ctx, b->tokens, o->reps, r, pr, logits)) return -1;
    r->bw = pr ? pr->best : 0; /* the best so far, up to this test's last run */
    /* GB/s: bytes per evaluation times evaluations per second (a tg step
     * reads the weights once for all its sequences). */
    double per_s = 0;
    for (int i = 0; i < o->reps; i++) per_s += r->samples_s[i] > 0 ? (r->is_gen ? r->n_tokens : 1) / r->samples_s[i] : 0;
    r->gb_s = (double)b->streamed * (per_s / o->reps) / 1e9;
    if (!o->json) {
        print_row(&b->tab, b->name_md, &b->info, r);
        return 0;
    }
    cJSON *row = json_row(b->name_json, o->model, &b->info, b->streamed, bibim_context_n_ctx(ctx), o->reps, r);
    if (!row || !cJSON_AddItemToArray(b->json, row)) {
        cJSON_Delete(row);
        fprintf(stderr, "bibim bench: out of memory\n");
        return -1;
    }
    return 0;
}

static int bench_threads(bench_state *b, int ti) {
    const bench_options *o = &b->o;
    bibim_context_params cp = bibim_context_default_params();
    cp.n_ctx = o->n_ctx;
    cp.n_threads = o->threads.v[ti];
    int max_p = list_max(&o->n_prompt), max_seq = list_max(&o->parallel);
    cp.n_batch = (uint32_t)(max_p > max_seq ? max_p : max_seq);
    cp.n_seq = (uint32_t)max_seq;
    bibim_context *ctx = NULL;
    int rc = EXIT_INPUT;
    double *samples = malloc((size_t)o->reps * sizeof *samples);
    float *logits = max_seq > 1 ? malloc((size_t)max_seq * (size_t)b->info.n_vocab * sizeof *logits) : NULL;
    if (!samples || (max_seq > 1 && !logits)) {
        free(samples);
        free(logits);
        fprintf(stderr, "bibim bench: out of memory\n");
        return EXIT_INPUT;
    }
    /* The probe fills its buffer and reads it before the context exists
     * (its workers would compete); later passes, after the runs, find the
     * workers asleep. */
    probe *pr = NULL;
    double bw_start = 0;
    if (o->bw_mib != 0 && (pr = probe_start(cp.n_threads, probe_buffer_bytes(o->bw_mib, cp.n_threads)))) {
        print_bandwidth(pr, 0);
        bw_start = pr->best;
    }
    if (bibim_context_create(b->model, &cp, &ctx) != BIBIM_OK) {
        fprintf(stderr, "bibim bench: %s\n", bibim_context_errmsg(ctx));
        goto done;
    }
    for (int kind = 0; kind < 2; kind++) {
        const int_list *l = kind ? &o->n_gen : &o->n_prompt;
        for (int k = 0; k < l->n; k++) {
            for (int pi = 0; pi < (kind ? o->parallel.n : 1); pi++) {
                if (l->v[k] == 0) continue;
                test_result r = {.is_gen = kind, .n_tokens = l->v[k], .threads = o->threads.v[ti],
                                 .n_seq = kind ? o->parallel.v[pi] : 1, .cpu = bibim_context_cpu_level(ctx),
                                 .samples_s = samples};
                snprintf(r.name, sizeof r.name, "%s%d", kind ? "tg" : "pp", r.n_tokens);
                if (r.n_seq > 1) snprintf(r.name + strlen(r.name), sizeof r.name - strlen(r.name), "x%d", r.n_seq);
                if (bench_test(b, ctx, &r, pr, logits)) goto done;
            }
        }
    }
    rc = EXIT_OK;
done:
    bibim_context_free(ctx);
    if (rc == EXIT_OK && pr && pr->best > bw_start) print_bandwidth(pr, 1);
    probe_free(pr);
    free(samples);
    free(logits);
    return rc;
}

static int bench(bench_state *b) {
    const bench_options *o = &b->o;
    double t0 = now_seconds();
    if (bibim_model_load(o->model, NULL, &b->model) != BIBIM_OK) {
        fprintf(stderr, "bibim bench: %s\n", b->model ? bibim_model_errmsg(b->model) : "out of memory");
        return EXIT_INPUT;
    }
    fprintf(stderr, "load: %s in %.3f s\n", o->model, now_seconds() - t0);
    bibim_model_get_info(b->model, &b->info);
    const char *base = strrchr(o->model, '/');
    const char *name = b->info.name && *b->info.name ? b->info.name : base ? base + 1 : o->model;
    b->name_md = clean_text(name, 1, NULL);
    b->name_json = clean_text(name, 0, NULL);
    b->streamed = streamed_bytes(o->model, b->info.n_bytes);
    int max_len = list_max(&o->n_prompt) > list_max(&o->n_gen) ? list_max(&o->n_prompt) : list_max(&o->n_gen);
    b->tokens = malloc((size_t)max_len * sizeof *b->tokens);
    b->json = o->json ? cJSON_CreateArray() : NULL;
    if (!b->name_md || !b->name_json || !b->tokens || (o->json && !b->json)) {
        fprintf(stderr, "bibim bench: out of memory\n");
        return EXIT_INPUT;
    }
    /* Widths for t/s up to "99999.99 ± 9999.99", GB/s and % bw up to 9999.99. */
    b->tab.w[5] = (int)strlen("pp") + snprintf(NULL, 0, "%d", max_len);
    if (list_max(&o->parallel) > 1) b->tab.w[5] += 1 + snprintf(NULL, 0, "%d", list_max(&o->parallel));
    b->tab.w[6] = 18;
    b->tab.w[7] = b->tab.w[8] = 7;
    for (int i = 0; i < o->threads.n; i++) {
        int rc = bench_threads(b, i);
        if (rc != EXIT_OK) return rc;
    }
    if (o->json) {
        char *text = cJSON_Print(b->json);
        if (!text) {
            fprintf(stderr, "bibim bench: out of memory\n");
            return EXIT_INPUT;
        }
        printf("%s\n", text);
        cJSON_free(text);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bibim bench: cannot write the results\n");
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    bench_state b = {.o = {.reps = 5, .bw_mib = -1}}; /* -1: the probe's default size */
    b.o.n_prompt.n = b.o.n_gen.n = b.o.parallel.n = 1;
    b.o.parallel.v[0] = 1;
    b.o.n_prompt.v[0] = 512;
    b.o.n_gen.v[0] = 128;
    int parsed = parse_args(argc, argv, &b.o);
    if (parsed) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? EXIT_OK : EXIT_USAGE;
    }
    int rc = bench(&b);
    cJSON_Delete(b.json);
    free(b.tokens);
    free(b.name_md);
    free(b.name_json);
    bibim_model_free(b.model);
    return rc;
}
