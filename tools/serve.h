/* serve.h — what the HTTP side of `bibim serve` (serve.c, serve_api.c) and
 * its scheduler (serve_sched.c) share.
 *
 * The scheduler owns one context with a sequence slot per parallel request.
 * Its thread runs the model: every step is one bibim_context_eval_batch over
 * the next token of every running request plus chunks of prompts waiting to
 * be prefilled (iteration-level scheduling); new requests join between
 * steps. HTTP threads submit requests and wait on them. One mutex guards the
 * scheduler's state and every request's output. */
#ifndef BIBIM_SERVE_H
#define BIBIM_SERVE_H

#include <pthread.h>
#include <stdint.h>

#include "cli.h"

#define SERVE_MAX_TOP_LOGPROBS 20

/* The log-probabilities of one generated token and its top alternatives. */
typedef struct token_logprobs {
    bibim_token token;
    float logprob;
    int n_top;
    bibim_token top[SERVE_MAX_TOP_LOGPROBS];
    float top_logprob[SERVE_MAX_TOP_LOGPROBS];
} token_logprobs;

typedef enum finish_reason {
    FINISH_NONE = 0, /* still running */
    FINISH_STOP,     /* an end token or a stop string */
    FINISH_LENGTH,   /* max_tokens, the context, or the request's time limit */
    FINISH_CANCELLED,/* the client went away, or the server is shutting down */
    FINISH_ERROR     /* evaluation failed: error holds why */
} finish_reason;

typedef struct serve_request {
    /* Input: set before sched_submit, read-only afterwards. */
    bibim_token *prompt;
    int64_t n_prompt;
    bibim_sampler_params sampling;
    bibim_logit_bias *logit_bias; /* owned; sampling.logit_bias points here */
    int32_t max_tokens;           /* already clamped to the context */
    char **stop;                  /* owned stop strings */
    size_t n_stop;
    int logprobs;                 /* record token_logprobs for each generated token */
    int top_logprobs;             /* 0..SERVE_MAX_TOP_LOGPROBS */
    double deadline;              /* monotonic seconds; the request ends there */
    char *tools_json;             /* owned: the tools a tool call may name (chat with tools, tool_choice
                                     not "none"); NULL: the text is never parsed for tool calls */
    int tool_format;              /* a bibim_tool_format, from the chat template */

    /* Output, guarded by the scheduler's lock; `changed` is broadcast on news. */
    pthread_cond_t changed;
    char *text;                   /* the generated text released so far */
    size_t n_text, cap_text;
    token_logprobs *lp;           /* one per generated token when logprobs is set */
    size_t n_lp, cap_lp;
    int64_t n_generated;
    int64_t n_cached;             /* prompt tokens found in the KV cache, not evaluated */
    finish_reason finish;
    int timed_out;
    char error[256];
    int cancelled;                /* set by the HTTP side: the client is gone */
    int client_left;              /* ... because its connection closed (not a shutdown) */
    int refs;                     /* the HTTP side and the scheduler each hold one */
} serve_request;

typedef struct serve_metrics {
    uint64_t prompt_tokens;     /* prompt tokens of finished requests */
    uint64_t prompt_evaluated;  /* of those, evaluated (the rest came from the cache) */
    uint64_t generated_tokens;
    uint64_t steps;
    int queue_depth, busy_slots, n_slots;
    double decode_tokens_per_second; /* over the last few seconds of steps */
} serve_metrics;

typedef struct sched sched;

/* Creates the scheduler and starts its thread. */
int sched_create(const bibim_model *model, const bibim_context_params *cp, int queue_size, sched **out);
/* Stops taking requests, lets running ones finish until `deadline`
 * (monotonic seconds), cancels the rest, and ends the thread. */
void sched_shutdown(sched *s, double deadline);
void sched_free(sched *s);

uint32_t sched_n_ctx(const sched *s);

/* A new request with one reference for the caller; NULL if out of memory. */
serve_request *request_new(void);
/* Drops a reference (takes the lock). */
void request_release(sched *s, serve_request *r);

/* Queues a request (the scheduler takes its own reference). Returns 0, or
 * -1 if the queue is full or the server is shutting down. */
int sched_submit(sched *s, serve_request *r);
/* The client is gone: the request leaves the queue at once, or ends within
 * one step if it runs. The _locked form is for callers holding the lock. */
void sched_cancel(sched *s, serve_request *r);
void sched_cancel_locked(sched *s, serve_request *r);

void sched_lock(sched *s);
void sched_unlock(sched *s);
/* Waits (with the lock held) for news on r, at most until `until` (monotonic seconds). */
void sched_wait(sched *s, serve_request *r, double until);

void sched_get_metrics(sched *s, serve_metrics *m);

double now_monotonic(void);

/* ---- the HTTP side ------------------------------------------------------- */

typedef struct server {
    const bibim_model *model;
    sched *sched;
    const char *alias;        /* the model id clients see */
    const char *api_key;      /* NULL: no authentication */
    size_t max_body;          /* bytes */
    double request_timeout;   /* seconds a request may run */
    int32_t max_tokens_cap;   /* most tokens one request may generate; 0: the context's room */
    int uses_fallback;        /* the model has no chat template: ChatML and its stop string */
    bibim_tool_format tool_format; /* how the template writes tool calls */
    long created;             /* unix time the model was loaded */
    pthread_mutex_t stats_lock;
    uint64_t requests_by_status[600];
    uint64_t id_counter;
} server;

/* What an endpoint answers: a whole body, or a stream of Server-Sent Events. */
typedef struct sse_stream sse_stream;
typedef struct http_reply {
    int status;
    char *body;               /* malloc'd, or NULL when streaming */
    const char *content_type;
    int retry_after;          /* seconds for a Retry-After header; 0: none */
    const char *allow;        /* the Allow header of a 405, or NULL */
    sse_stream *stream;
    long long prompt_tokens, completion_tokens; /* for the request log; -1: not a generation */
    /* Set by the caller: 1 once the client has closed its connection, so a
     * long generation it no longer waits for can be cancelled. */
    int (*client_gone)(void *client);
    void *client;
} http_reply;

/* Answers one request whose body is complete (n_body bytes, NUL-terminated). */
void api_handle(server *srv, const char *method, const char *url, const char *content_type, const char *body,
                size_t n_body, http_reply *out);
/* An error reply in OpenAI's shape: {"error":{"message","type","param","code"}}. */
void api_error(http_reply *out, int status, const char *type, const char *param, const char *code, const char *fmt,
               ...) __attribute__((format(printf, 6, 7)));
/* The next bytes of a stream (blocks until there are some); 0 at its end. */
size_t sse_read(sse_stream *st, char *buf, size_t max);
/* Where the stream writes the request's generated-token count when it ends (for the log). */
void sse_report_to(sse_stream *st, long long *completion_tokens);
/* The client is gone or the stream ended: cancels the request if it still runs. */
void sse_free(sse_stream *st);

#endif
