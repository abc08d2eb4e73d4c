/* threadpool.c — see threadpool.h.
 *
 * A decode step runs a few hundred short jobs (one per matrix product), so
 * waking sleeping threads would cost more than the work: workers spin on the
 * job counter for a while before they sleep on a condition variable, and the
 * caller spins until the last worker is done. */
#include "threadpool.h"
#include "mem.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* Spins before sleeping: about 100 microseconds, longer than the gap between
 * two matrix products of a decode step, much shorter than a pause between tokens. */
enum { SPIN_ROUNDS = 20000 };

/* What a worker thread starts from. Kept in the pool, not handed to the
 * thread to free, so that no worker thread ever calls the allocator. */
typedef struct worker {
    pthread_t thread;
    struct threadpool *pool;
    int index;
} worker;

struct threadpool {
    bibim_allocator alloc;
    int n_threads;
    worker *workers; /* [n_threads]; entry 0 is the calling thread's, unused */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t generation; /* bumped for each job */
    atomic_int n_busy;               /* workers still inside the current job */
    atomic_int n_sleeping;           /* workers waiting on `wake` */
    atomic_int stopping;
    threadpool_task_fn fn;
    void *arg;
    int64_t n_tasks;
    atomic_int_fast64_t next_task;
};

static void run_tasks(threadpool *p, int thread_index) {
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->arg, t, thread_index);
    }
}

/* Waits until the generation moves past `seen` (or the pool stops). */
static uint64_t wait_for_job(threadpool *p, uint64_t seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        uint64_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stopping)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->n_sleeping, 1);
    uint64_t g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stopping))
        pthread_cond_wait(&p->wake, &p->lock);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->lock);
    return g;
}

static void *worker_main(void *arg) {
    const worker *start = arg;
    threadpool *p = start->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stopping)) break;
        run_tasks(p, start->index);
        atomic_fetch_sub_explicit(&p->n_busy, 1, memory_order_release);
    }
    return NULL;
}

threadpool *threadpool_create(int n_threads, const bibim_allocator *alloc) {
    threadpool *p = mem_calloc(alloc, 1, sizeof *p);
    if (!p) return NULL;
    p->alloc = *alloc;
    p->n_threads = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = mem_calloc(alloc, (size_t)p->n_threads, sizeof *p->workers);
    if (!p->workers) {
        threadpool_free(p);
        return NULL;
    }
    for (int i = 1; i < p->n_threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            p->n_threads = i; /* join the workers that started */
            threadpool_free(p);
            return NULL;
        }
    }
    return p;
}

void threadpool_free(threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; p->workers && i < p->n_threads; i++) pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    bibim_allocator alloc = p->alloc; /* it lives in the block being freed */
    mem_free(&alloc, p->workers);
    mem_free(&alloc, p);
}

int threadpool_n_threads(const threadpool *p) { return p->n_threads; }

void threadpool_run(threadpool *p, threadpool_task_fn fn, void *arg, int64_t n_tasks) {
    if (n_tasks <= 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_busy, p->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1); /* seq_cst: pairs with n_sleeping (no lost wake-up) */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    run_tasks(p, 0);
    /* Spin for the last worker, then yield the core: on a busy machine that
     * worker may be waiting for this very core to run (spinning on would
     * cost whole scheduler time slices per matrix product). */
    for (int i = 0; atomic_load_explicit(&p->n_busy, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ROUNDS) cpu_relax();
        else sched_yield();
    }
}

/* Counts distinct (physical id, core id) pairs in /proc/cpuinfo; falls back
 * to the online CPU count where that file is missing (non-Linux, sandboxes). */
int threadpool_physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int fallback = online > 0 ? (int)online : 1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return fallback;
    enum { MAX_CORES = 1024 };
    int pairs[MAX_CORES][2], n = 0, phys = -1, core = -1;
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
