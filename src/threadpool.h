/* threadpool.h — a persistent pool of worker threads for the forward pass.
 * Workers are created once per context and sleep between jobs; a job is a
 * function called for task indices 0..n_tasks-1, spread over the workers
 * and the calling thread, and threadpool_run returns when all are done. */
#ifndef BIBIM_THREADPOOL_H
#define BIBIM_THREADPOOL_H

#include "bibim.h"

#include <stdint.h>

typedef struct threadpool threadpool;

/* Called once per task index. */
typedef void (*threadpool_task_fn)(void *arg, int64_t task, int thread_index);

/* n_threads counts the caller: 1 means no extra threads. The pool's memory
 * comes from `alloc` (copied), from the calling thread only. NULL on
 * failure. */
threadpool *threadpool_create(int n_threads, const bibim_allocator *alloc);
void threadpool_free(threadpool *pool);
int threadpool_n_threads(const threadpool *pool);

/* Runs fn(arg, i, thread) for every i in [0, n_tasks). Tasks are handed out
 * in order from a shared counter, so any split of work into tasks gives the
 * same results whatever the thread count, as long as tasks write disjoint
 * outputs. Not reentrant. */
void threadpool_run(threadpool *pool, threadpool_task_fn fn, void *arg, int64_t n_tasks);

/* Number of physical cores (hyperthreads counted once), at least 1. */
int threadpool_physical_cores(void);

#endif
