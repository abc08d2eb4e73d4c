/* A tiny test harness. Each test binary runs its cases and ends by printing
 * "RESULT <passed> <failed> <skipped>"; tests/run_tests.sh adds them up. */
#ifndef BIBIM_TEST_HARNESS_H
#define BIBIM_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int harness_passed, harness_failed, harness_skipped;
static int harness_case_failed;
static const char *harness_case_name = "";

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("  %s:%d: %s: check failed: %s\n", __FILE__, __LINE__, harness_case_name, \
                   #cond);                                                                 \
            harness_case_failed = 1;                                                       \
        }                                                                                  \
    } while (0)

#define CHECKF(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("  %s:%d: %s: check failed: %s: ", __FILE__, __LINE__, harness_case_name, \
                   #cond);                                                                 \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
            harness_case_failed = 1;                                                       \
        }                                                                                  \
    } while (0)

/* Runs one case: a function returning 0, or 1 to mean "skipped" (it printed why). */
#define RUN(fn)                                                                            \
    do {                                                                                   \
        harness_case_name = #fn;                                                           \
        harness_case_failed = 0;                                                           \
        int harness_skip_ = fn();                                                          \
        if (harness_case_failed) {                                                         \
            harness_failed++;                                                              \
            printf("FAIL %s\n", #fn);                                                      \
        } else if (harness_skip_) {                                                        \
            harness_skipped++;                                                             \
        } else {                                                                           \
            harness_passed++;                                                              \
            printf("ok   %s\n", #fn);                                                      \
        }                                                                                  \
        fflush(stdout);                                                                    \
    } while (0)

/* Use inside a case: skip it with a reason when a shared file is absent. */
#define SKIP_UNLESS_FILE(path)                                                             \
    do {                                                                                   \
        struct stat harness_st_;                                                           \
        if (stat((path), &harness_st_) != 0) {                                             \
            printf("skip %s: %s is absent\n", harness_case_name, (path));                  \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

static inline int harness_finish(void) {
    printf("RESULT %d %d %d\n", harness_passed, harness_failed, harness_skipped);
    return harness_failed ? 1 : 0;
}

/* ../shared relative to the repository root, where tests run. */
#define SHARED_DIR "../shared"

#endif
