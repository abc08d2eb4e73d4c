/* threadpool.c — see threadpool.h. Workers wait on a condition variable for
 * a new job generation, then take task indices from an atomic counter. */
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct threadpool {
    int n_threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t job_ready, job_done;
    uint64_t generation; /* bumped for each job; workers run each generation once */
    int n_busy;          /* workers still inside the current job */
    int stopping;
    threadpool_task_fn fn;
    void *arg;
    int64_t n_tasks;
    atomic_int_fast64_t next_task;
};

typedef struct worker_start {
    threadpool *pool;
    int index;
} worker_start;

static void run_tasks(threadpool *p, int thread_index) {
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->arg, t, thread_index);
    }
}

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    threadpool *p = start.pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->generation == seen) pthread_cond_wait(&p->job_ready, &p->lock);
        if (p->stopping) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        run_tasks(p, start.index);
        pthread_mutex_lock(&p->lock);
        if (--p->n_busy == 0) pthread_cond_signal(&p->job_done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

threadpool *threadpool_create(int n_threads) {
    threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->job_ready, NULL);
    pthread_cond_init(&p->job_done, NULL);
    p->workers = calloc((size_t)p->n_threads, sizeof *p->workers);
    if (!p->workers) {
        threadpool_free(p);
        return NULL;
    }
    for (int i = 1; i < p->n_threads; i++) {
        worker_start *ws = malloc(sizeof *ws);
        if (ws) *ws = (worker_start){p, i};
        if (!ws || pthread_create(&p->workers[i], NULL, worker_main, ws) != 0) {
            free(ws);
            p->n_threads = i; /* keep the workers that started */
            threadpool_free(p);
            return NULL;
        }
    }
    return p;
}

void threadpool_free(threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->job_ready);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; p->workers && i < p->n_threads; i++) pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->job_ready);
    pthread_cond_destroy(&p->job_done);
    free(p->workers);
    free(p);
}

int threadpool_n_threads(const threadpool *p) { return p->n_threads; }

void threadpool_run(threadpool *p, threadpool_task_fn fn, void *arg, int64_t n_tasks) {
    if (n_tasks <= 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    p->n_busy = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->job_ready);
    pthread_mutex_unlock(&p->lock);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->n_busy > 0) pthread_cond_wait(&p->job_done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

/* Counts distinct (physical id, core id) pairs in /proc/cpuinfo; falls back
 * to the online CPU count where that file is missing (non-Linux, sandboxes). */
int threadpool_physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int fallback = online > 0 ? (int)online : 1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return fallback;
    enum { MAX_CORES = 1024 };
    static const int none = -1;
    int pairs[MAX_CORES][2], n = 0, phys = none, core = none;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "physical id : %d", &phys) == 1) continue;
        if (sscanf(line, "core id : %d", &core) == 1 && phys != none && n < MAX_CORES) {
            int seen = 0;
            for (int i = 0; i < n && !seen; i++) seen = pairs[i][0] == phys && pairs[i][1] == core;
            if (!seen) pairs[n][0] = phys, pairs[n][1] = core, n++;
        }
    }
    fclose(f);
    return n > 0 && n <= fallback ? n : fallback;
}
