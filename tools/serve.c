/* serve.c — `bibim serve`: an OpenAI-compatible HTTP server on
 * libmicrohttpd. This file is the HTTP plumbing: options, the daemon (a
 * thread per connection, so a slow client only ever holds its own thread),
 * body limits, authentication, one log line per request, and graceful
 * shutdown on SIGINT/SIGTERM. The endpoints are in serve_api.c, the batching
 * scheduler in serve_sched.c. */
#include "serve.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: bibim serve -m FILE [--host 127.0.0.1] [--port 8080] [--parallel N] [-c CTX] [-t THREADS]\n"
            "                   [--api-key KEY] [--alias NAME] [options]\n"
            "Serves the model over HTTP with OpenAI's API: POST /v1/chat/completions, /v1/completions\n"
            "(\"stream\": true for Server-Sent Events), GET /v1/models, /health, /metrics (Prometheus),\n"
            "POST /tokenize, /detokenize, /apply-template. Requests run together: every step is one\n"
            "batched forward pass over all running requests. Chat requests with \"tools\" get the model's\n"
            "calls as \"tool_calls\" (Llama 3.1/3.2, Hermes/Qwen and Mistral formats, by the chat template).\n"
            "  -m, --model FILE        GGUF model\n"
            "      --host ADDR         IPv4 address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
            "      --port N            TCP port (default 8080; 0 picks a free one, printed at start)\n"
            "      --parallel N        requests generated at once, each with its own KV cache (default 4)\n"
            "  -c, --ctx-size N        context of each request (default: the model's, at most 4096)\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "  -b, --batch N           most tokens in one step (default 512)\n"
            "      --queue N           requests that may wait for a slot; more get 503 (default 64)\n"
            "      --api-key KEY       require 'Authorization: Bearer KEY' (all but /health and CORS preflights)\n"
            "      --cors-origin ORIGIN  let web pages from ORIGIN (e.g. http://192.168.1.20:3000, or *) call the\n"
            "                          server: Access-Control-Allow-Origin on every answer, OPTIONS preflights\n"
            "                          answered (default: no CORS headers)\n"
            "      --alias NAME        the model id clients see (default: the file name)\n"
            "      --max-tokens N      most tokens one request may generate (default: the context's room)\n"
            "      --max-body BYTES    largest request body (default 4194304); larger gets 413\n"
            "      --timeout SECONDS   longest a request may run (default 600)\n"
            "      --idle-timeout S    close connections idle this long (default 30)\n"
            "      --shutdown-grace S  on SIGINT/SIGTERM, let running requests finish this long (default 10)\n"
            "      --no-mmap, --mlock  as for bibim run\n");
}

typedef struct serve_options {
    cli_model_options m;
    const char *host, *api_key, *alias, *cors_origin;
    long long port, parallel, queue, max_body, timeout, idle_timeout, grace, batch, max_tokens;
} serve_options;

/* Returns -1 on a usage error (already reported), 1 for --help, else 0. */
/* The run/chat options that are request fields here, and which field: the
 * server would otherwise accept them and use the request's values. */
static const char *request_field_for(const char *option) {
    static const char *const map[][2] = {
        {"--temp", "\"temperature\""},
        {"--top-k", "\"top_k\""},
        {"--top-p", "\"top_p\""},
        {"--min-p", "\"min_p\""},
        {"--repeat-penalty", "\"repeat_penalty\""},
        {"--repeat-last-n", "not settable: 64 tokens"},
        {"--presence-penalty", "\"presence_penalty\""},
        {"--frequency-penalty", "\"frequency_penalty\""},
        {"--seed", "\"seed\""},
        {"--logit-bias", "\"logit_bias\""},
        {"--json", "\"response_format\": {\"type\": \"json_object\"}"},
        {"-n", "\"max_tokens\"; --max-tokens caps it for all"},
        {"--n-predict", "\"max_tokens\"; --max-tokens caps it for all"},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (!strcmp(option, map[k][0])) return map[k][1];
    return NULL;
}

static int parse_args(int argc, char **argv, serve_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        struct {
            const char *name;
            long long min, max, *dst;
        } ints[] = {{"--port", 0, 65535, &o->port},          {"--parallel", 1, 256, &o->parallel},
                    {"--queue", 1, 100000, &o->queue},       {"--max-body", 1024, 1LL << 30, &o->max_body},
                    {"--timeout", 1, 86400, &o->timeout},    {"--idle-timeout", 1, 3600, &o->idle_timeout},
                    {"--shutdown-grace", 0, 3600, &o->grace}, {"-b", 1, 65536, &o->batch},
                    {"--batch", 1, 65536, &o->batch},        {"--max-tokens", 0, 1 << 24, &o->max_tokens}};
        int matched = 0;
        for (size_t k = 0; k < sizeof ints / sizeof *ints && !matched; k++) {
            if (strcmp(a, ints[k].name)) continue;
            if (cli_parse_int("serve", a, v, ints[k].min, ints[k].max, ints[k].dst)) return -1;
            matched = 1;
            i++;
        }
        if (matched) continue;
        if (!strcmp(a, "--host") || !strcmp(a, "--api-key") || !strcmp(a, "--alias") || !strcmp(a, "--cors-origin")) {
            if (!v) return cli_usage_error("serve", "%s needs a value", a), -1;
            if (!strcmp(a, "--cors-origin") && (!*v || strpbrk(v, "\r\n, ")))
                return cli_usage_error("serve", "--cors-origin takes one origin (scheme://host[:port]) or *"), -1;
            *(!strcmp(a, "--host")      ? &o->host
              : !strcmp(a, "--api-key") ? &o->api_key
              : !strcmp(a, "--alias")   ? &o->alias
                                        : &o->cors_origin) = v;
            i++;
            continue;
        }
        const char *field = request_field_for(a);
        if (field)
            return cli_usage_error("serve", "%s is not a server option: each request sets it (%s)", a, field), -1;
        int shared = cli_parse_model_option("serve", argc, argv, &i, &o->m);
        if (shared < 0) return -1;
        if (!shared) return cli_usage_error("serve", "unknown option '%s' (see bibim serve --help)", a), -1;
    }
    if (!o->m.model) return cli_usage_error("serve", "no model: give -m FILE"), -1;
    return 0;
}

/* ---- per connection ------------------------------------------------------ */

typedef struct connection {
    char *body;
    size_t n_body, cap_body;
    int too_large;
    double started;
    int status;
    long long prompt_tokens, completion_tokens;
    char method[16];
    char url[256];
} connection;

static server srv_state;
static serve_options opts;
static int requests_in_flight; /* between a request's headers and its log line (atomic) */

static int add_body(connection *c, const char *data, size_t n) {
    if (c->too_large || c->n_body + n > (size_t)opts.max_body) {
        c->too_large = 1;
        return 0;
    }
    if (c->n_body + n + 1 > c->cap_body) {
        size_t cap = 2 * (c->n_body + n + 1);
        if (cap > (size_t)opts.max_body + 1) cap = (size_t)opts.max_body + 1;
        char *p = realloc(c->body, cap);
        if (!p) return -1;
        c->body = p;
        c->cap_body = cap;
    }
    memcpy(c->body + c->n_body, data, n);
    c->n_body += n;
    c->body[c->n_body] = 0;
    return 0;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    size_t n = sse_read(cls, buf, max);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_done(void *cls) { sse_free(cls); }

/* With --cors-origin: the page's origin may read the answer. */
static void add_cors_headers(struct MHD_Response *resp) {
    if (!opts.cors_origin) return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", opts.cors_origin);
    if (strcmp(opts.cors_origin, "*")) MHD_add_response_header(resp, "Vary", "Origin");
}

/* A CORS preflight (OPTIONS with --cors-origin): 204, what a page may send.
 * A browser sends it without credentials, so it needs no API key. */
static enum MHD_Result send_preflight(struct MHD_Connection *mc, connection *c) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    add_cors_headers(resp);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
    c->status = 204;
    enum MHD_Result ok = MHD_queue_response(mc, 204, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_reply(struct MHD_Connection *mc, connection *c, http_reply *r) {
    struct MHD_Response *resp;
    if (r->stream) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, r->stream, stream_done);
        if (resp) {
            MHD_add_response_header(resp, "Cache-Control", "no-cache");
            MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        } else {
            sse_free(r->stream);
        }
    } else {
        const char *body = r->body ? r->body : "";
        resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    }
    free(r->body);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    add_cors_headers(resp);
    if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
    if (r->retry_after) {
        char s[16];
        snprintf(s, sizeof s, "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", s);
    }
    c->status = r->status;
    c->prompt_tokens = r->prompt_tokens;
    c->completion_tokens = r->completion_tokens;
    if (r->stream && resp) sse_report_to(r->stream, &c->completion_tokens);
    enum MHD_Result ok = MHD_queue_response(mc, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* 1 if the request carries the API key (or none is required). */
static int authorized(struct MHD_Connection *mc, const char *url) {
    if (!opts.api_key || !strcmp(url, "/health")) return 1;
    const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    /* Compare in constant time, so the key cannot be guessed byte by byte. */
    const char *got = h + 7;
    size_t n = strlen(opts.api_key), m = strlen(got);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned)(opts.api_key[i] ^ (i < m ? got[i] : 0));
    return diff == 0;
}

/* 1 if the peer has closed the connection (read side ended or reset). */
static int client_gone(void *client) {
    int fd = (int)(intptr_t)client;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return 1;
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls, (void)version;
    connection *c = *con_cls;
    if (!c) { /* the headers arrived: the body (if any) comes in the next calls */
        if (!(c = calloc(1, sizeof *c))) return MHD_NO;
        c->started = now_monotonic();
        __atomic_add_fetch(&requests_in_flight, 1, __ATOMIC_SEQ_CST);
        snprintf(c->method, sizeof c->method, "%s", method);
        snprintf(c->url, sizeof c->url, "%s", url);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (add_body(c, upload_data, *upload_data_size)) return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    http_reply r = {0};
    r.prompt_tokens = r.completion_tokens = -1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        r.client_gone = client_gone;
        r.client = (void *)(intptr_t)ci->connect_fd;
    }
    if (opts.cors_origin && !strcmp(method, "OPTIONS")) return send_preflight(mc, c);
    if (!authorized(mc, url)) {
        api_error(&r, 401, "invalid_request_error", NULL, "invalid_api_key",
                  "missing or wrong API key: send 'Authorization: Bearer KEY'");
    } else if (c->too_large) {
        api_error(&r, 413, "invalid_request_error", NULL, "request_too_large",
                  "the request body is larger than %lld bytes", opts.max_body);
    } else {
        const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
        api_handle(&srv_state, method, url, ct, c->body ? c->body : "", c->n_body, &r);
    }
    return send_reply(mc, c, &r);
}

/* One log line per request, when it is over (a stream: when it ended). */
static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode why) {
    (void)cls, (void)mc;
    connection *c = *con_cls;
    if (!c) return;
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char tokens[64] = "";
    if (c->prompt_tokens >= 0)
        snprintf(tokens, sizeof tokens, " prompt=%lld completion=%lld", c->prompt_tokens,
                 c->completion_tokens >= 0 ? c->completion_tokens : 0);
    fprintf(stderr, "%s %s %s %d %.1fms%s%s\n", when, c->method, c->url, c->status,
            (now_monotonic() - c->started) * 1e3, tokens,
            why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
    if (c->status >= 100 && c->status < 600) {
        pthread_mutex_lock(&srv_state.stats_lock);
        srv_state.requests_by_status[c->status]++;
        pthread_mutex_unlock(&srv_state.stats_lock);
    }
    free(c->body);
    free(c);
    *con_cls = NULL;
    __atomic_sub_fetch(&requests_in_flight, 1, __ATOMIC_SEQ_CST);
}

/* ---- life cycle ------------------------------------------------------------ */

static const char *file_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static struct MHD_Daemon *start_daemon(void) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opts.port);
    if (inet_pton(AF_INET, opts.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "bibim serve: --host %s is not an IPv4 address\n", opts.host);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        (uint16_t)opts.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts.idle_timeout, MHD_OPTION_CONNECTION_LIMIT, 1000u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) fprintf(stderr, "bibim serve: cannot listen on %s:%lld (in use, or not allowed)\n", opts.host, opts.port);
    return d;
}

int cmd_serve(int argc, char **argv) {
    memset(&opts, 0, sizeof opts);
    cli_model_options_init(&opts.m);
    opts.host = "127.0.0.1";
    opts.port = 8080, opts.parallel = 4, opts.queue = 64, opts.max_body = 4 << 20, opts.timeout = 600;
    opts.idle_timeout = 30, opts.grace = 10, opts.batch = 512;
    int parsed = parse_args(argc, argv, &opts);
    if (parsed) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? EXIT_OK : EXIT_USAGE;
    }
    /* SIGINT/SIGTERM are taken by sigwait below; every thread started from
     * here on inherits the mask, so none of them is interrupted. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    bibim_model *model = NULL;
    sched *sch = NULL;
    struct MHD_Daemon *daemon = NULL;
    int rc = EXIT_INPUT;
    if (bibim_model_load(opts.m.model, &opts.m.load, &model) != BIBIM_OK) {
        fprintf(stderr, "bibim serve: %s\n", bibim_model_errmsg(model));
        goto done;
    }
    opts.m.ctx.n_seq = (uint32_t)opts.parallel;
    opts.m.ctx.n_batch = (uint32_t)opts.batch;
    if (sched_create(model, &opts.m.ctx, (int)opts.queue, &sch)) goto done;
    memset(&srv_state, 0, sizeof srv_state);
    pthread_mutex_init(&srv_state.stats_lock, NULL);
    srv_state.model = model;
    srv_state.sched = sch;
    srv_state.alias = opts.alias ? opts.alias : file_name(opts.m.model);
    srv_state.api_key = opts.api_key;
    srv_state.max_body = (size_t)opts.max_body;
    srv_state.request_timeout = (double)opts.timeout;
    srv_state.max_tokens_cap = (int32_t)opts.max_tokens;
    srv_state.uses_fallback = !bibim_model_chat_template(model);
    srv_state.tool_format = bibim_chat_tool_format(bibim_model_chat_template(model));
    srv_state.created = (long)time(NULL);
    if (!(daemon = start_daemon())) goto done;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "bibim serve: %s as '%s', %lld slots of %u tokens; listening on http://%s:%u\n", opts.m.model,
            srv_state.alias, opts.parallel, sched_n_ctx(sch), opts.host, info ? info->port : (unsigned)opts.port);
    if (srv_state.uses_fallback) fprintf(stderr, "bibim serve: the model has no chat template; chat uses ChatML\n");

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "bibim serve: %s: no new connections; finishing running requests (at most %lld s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", opts.grace);
    MHD_socket listen_fd = MHD_quiesce_daemon(daemon);
    if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    sched_shutdown(sch, now_monotonic() + (double)opts.grace);
    /* Every request has now finished or been cancelled; let the connection
     * threads send those last answers (a 503, the end of a stream) before
     * the daemon closes the connections. */
    for (double until = now_monotonic() + 2.0;
         __atomic_load_n(&requests_in_flight, __ATOMIC_SEQ_CST) > 0 && now_monotonic() < until;) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(daemon);
    daemon = NULL;
    fprintf(stderr, "bibim serve: stopped\n");
    rc = EXIT_OK;
done:
    if (daemon) MHD_stop_daemon(daemon);
    sched_free(sch);
    bibim_model_free(model);
    if (srv_state.model) pthread_mutex_destroy(&srv_state.stats_lock);
    return rc;
}
