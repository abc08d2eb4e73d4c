/* serve_api.c — the endpoints of `bibim serve`: OpenAI's chat and text
 * completions (whole or streamed as Server-Sent Events), models, health,
 * tokenize/detokenize, apply-template and Prometheus metrics. Requests are
 * checked field by field; a field of the wrong type or range is a 400 that
 * names it, in OpenAI's error shape. */
#include "serve.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_STOP_STRINGS 16

struct sse_stream {
    server *srv;
    serve_request *req;
    int chat, include_usage;
    char id[48];
    long created;
    size_t text_sent, lp_sent;
    int sent_role, finished;
    long long *report;  /* the connection's completion count, set at the end */
    int (*client_gone)(void *client);
    void *client;
    char *buf;          /* events built, not yet read */
    size_t n_buf, off_buf, cap_buf;
};

void api_error(http_reply *out, int status, const char *type, const char *param, const char *code, const char *fmt,
               ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    if (code) cJSON_AddStringToObject(e, "code", code);
    else cJSON_AddNullToObject(e, "code");
    out->status = status;
    out->body = cJSON_PrintUnformatted(root);
    out->content_type = "application/json";
    cJSON_Delete(root);
}

#define BAD_REQUEST(out, param, ...) api_error(out, 400, "invalid_request_error", param, NULL, __VA_ARGS__)

static void reply_json(http_reply *out, int status, cJSON *root) {
    out->status = status;
    out->body = cJSON_PrintUnformatted(root);
    out->content_type = "application/json";
    cJSON_Delete(root);
    if (!out->body) api_error(out, 500, "server_error", NULL, NULL, "out of memory");
}

/* ---- field checks -------------------------------------------------------- */

/* A number field in [min, max]; absent leaves *v. Returns -1 after a 400. */
static int get_number(const cJSON *req, const char *name, double min, double max, double *v, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, name);
    if (!f || cJSON_IsNull(f)) return 0;
    if (!cJSON_IsNumber(f)) return BAD_REQUEST(out, name, "'%s' must be a number", name), -1;
    if (!(f->valuedouble >= min && f->valuedouble <= max))
        return BAD_REQUEST(out, name, "'%s' must be from %g to %g, not %g", name, min, max, f->valuedouble), -1;
    *v = f->valuedouble;
    return 0;
}

static int get_int(const cJSON *req, const char *name, double min, double max, long long *v, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, name);
    if (!f || cJSON_IsNull(f)) return 0;
    if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble))
        return BAD_REQUEST(out, name, "'%s' must be an integer", name), -1;
    if (!(f->valuedouble >= min && f->valuedouble <= max))
        return BAD_REQUEST(out, name, "'%s' must be from %.0f to %.0f, not %.0f", name, min, max, f->valuedouble), -1;
    *v = (long long)f->valuedouble;
    return 0;
}

static int get_bool(const cJSON *req, const char *name, int *v, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, name);
    if (!f || cJSON_IsNull(f)) return 0;
    if (!cJSON_IsBool(f)) return BAD_REQUEST(out, name, "'%s' must be a boolean", name), -1;
    *v = cJSON_IsTrue(f);
    return 0;
}

static int check_string(const cJSON *req, const char *name, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, name);
    if (f && !cJSON_IsNull(f) && !cJSON_IsString(f)) return BAD_REQUEST(out, name, "'%s' must be a string", name), -1;
    return 0;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

static int add_stop(serve_request *r, const char *s) {
    if (!*s) return 0;
    char **grown = realloc(r->stop, (r->n_stop + 1) * sizeof *grown);
    if (!grown) return -1;
    r->stop = grown;
    if (!(r->stop[r->n_stop] = dup_string(s))) return -1;
    r->n_stop++;
    return 0;
}

static int get_stop(const cJSON *req, serve_request *r, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "stop");
    if (!f || cJSON_IsNull(f)) return 0;
    if (cJSON_IsString(f)) return add_stop(r, f->valuestring) ? (api_error(out, 500, "server_error", NULL, NULL, "out of memory"), -1) : 0;
    if (!cJSON_IsArray(f)) return BAD_REQUEST(out, "stop", "'stop' must be a string or an array of strings"), -1;
    if (cJSON_GetArraySize(f) > MAX_STOP_STRINGS)
        return BAD_REQUEST(out, "stop", "'stop' may hold at most %d strings", MAX_STOP_STRINGS), -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, f) {
        if (!cJSON_IsString(e)) return BAD_REQUEST(out, "stop", "'stop' must be a string or an array of strings"), -1;
        if (add_stop(r, e->valuestring)) return api_error(out, 500, "server_error", NULL, NULL, "out of memory"), -1;
    }
    return 0;
}

static int get_logit_bias(const cJSON *req, serve_request *r, int32_t n_vocab, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "logit_bias");
    if (!f || cJSON_IsNull(f)) return 0;
    if (!cJSON_IsObject(f)) return BAD_REQUEST(out, "logit_bias", "'logit_bias' must be an object of token id: bias"), -1;
    int n = cJSON_GetArraySize(f);
    if (n == 0) return 0;
    if (n > 1024) return BAD_REQUEST(out, "logit_bias", "'logit_bias' may hold at most 1024 tokens"), -1;
    if (!(r->logit_bias = calloc((size_t)n, sizeof *r->logit_bias)))
        return api_error(out, 500, "server_error", NULL, NULL, "out of memory"), -1;
    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, f) {
        char *end;
        long id = strtol(e->string, &end, 10);
        if (end == e->string || *end || id < 0 || id >= n_vocab)
            return BAD_REQUEST(out, "logit_bias", "'logit_bias': '%s' is not a token id of this model", e->string), -1;
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= -100 && e->valuedouble <= 100))
            return BAD_REQUEST(out, "logit_bias", "'logit_bias': the bias of %ld must be a number from -100 to 100", id), -1;
        r->logit_bias[i].token = (bibim_token)id;
        r->logit_bias[i].bias = e->valuedouble <= -100 ? -INFINITY : (float)e->valuedouble; /* -100 bans, as in OpenAI */
        i++;
    }
    r->sampling.logit_bias = r->logit_bias;
    r->sampling.n_logit_bias = i;
    return 0;
}

/* `response_format`: {"type": "text"} (the default) or {"type":
 * "json_object"} (JSON mode: the sampler only lets the model write one JSON
 * object, bibim.h). JSON schemas are not supported yet. */
static int get_response_format(const cJSON *req, serve_request *r, http_reply *out) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "response_format");
    if (!f || cJSON_IsNull(f)) return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
    if (!cJSON_IsObject(f) || !cJSON_IsString(type))
        return BAD_REQUEST(out, "response_format",
                           "'response_format' must be {\"type\": \"text\"} or {\"type\": \"json_object\"}"), -1;
    if (!strcmp(type->valuestring, "text")) return 0;
    if (!strcmp(type->valuestring, "json_object")) {
        r->sampling.json_object = 1;
        return 0;
    }
    if (!strcmp(type->valuestring, "json_schema"))
        return BAD_REQUEST(out, "response_format",
                           "'response_format' {\"type\": \"json_schema\"} is not supported yet: use {\"type\": "
                           "\"json_object\"} (any JSON object) and describe the schema in the prompt"), -1;
    return BAD_REQUEST(out, "response_format",
                       "'response_format': unknown type '%.100s' (\"text\" or \"json_object\")", type->valuestring), -1;
}

/* The sampling and length fields both completion endpoints take. */
static int parse_generation_fields(server *srv, const cJSON *req, serve_request *r, long long *max_tokens,
                                   http_reply *out) {
    bibim_model_info info;
    bibim_model_get_info(srv->model, &info);
    double temperature = 1.0, top_p = 1.0, min_p = 0.0, presence = 0, frequency = 0, repeat = 1.0;
    long long top_k = 0, seed = -1, n = 1, mct = -1;
    *max_tokens = -1;
    if (check_string(req, "model", out) || check_string(req, "user", out) ||
        get_number(req, "temperature", 0, 100, &temperature, out) || get_number(req, "top_p", 0, 1, &top_p, out) ||
        get_int(req, "top_k", 0, 1e9, &top_k, out) || get_number(req, "min_p", 0, 1, &min_p, out) ||
        get_number(req, "presence_penalty", -2, 2, &presence, out) ||
        get_number(req, "frequency_penalty", -2, 2, &frequency, out) ||
        get_number(req, "repeat_penalty", 1e-3, 100, &repeat, out) ||
        get_int(req, "seed", -9.2e18, 9.2e18, &seed, out) || get_int(req, "n", 1, 128, &n, out) ||
        get_int(req, "max_tokens", 1, 1e9, max_tokens, out) ||
        get_int(req, "max_completion_tokens", 1, 1e9, &mct, out) || get_stop(req, r, out) ||
        get_logit_bias(req, r, info.n_vocab, out) || get_response_format(req, r, out))
        return -1;
    if (n != 1) return BAD_REQUEST(out, "n", "'n' must be 1: bibim returns one choice per request"), -1;
    if (mct > 0) *max_tokens = mct;
    bibim_sampler_params *sp = &r->sampling;
    /* OpenAI's defaults (temperature 1, no top-k/min-p), not the CLI's. */
    sp->temperature = (float)temperature;
    /* top_p 0 keeps only the most likely token, as OpenAI treats it. */
    sp->top_p = top_p > 0 ? (float)top_p : 1.0f;
    sp->top_k = top_p > 0 ? (int32_t)top_k : 1;
    sp->min_p = (float)min_p;
    sp->presence_penalty = (float)presence;
    sp->frequency_penalty = (float)frequency;
    sp->repeat_penalty = (float)repeat;
    if (seed >= 0) sp->seed = (uint64_t)seed;
    return 0;
}

static int get_stream_fields(const cJSON *req, int *stream, int *include_usage, http_reply *out) {
    *stream = 0, *include_usage = 0;
    if (get_bool(req, "stream", stream, out)) return -1;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so)) return BAD_REQUEST(out, "stream_options", "'stream_options' must be an object"), -1;
        if (get_bool(so, "include_usage", include_usage, out)) return -1;
    }
    return 0;
}

/* ---- prompts -------------------------------------------------------------- */

/* The prompt's tokens, as `chat` makes them (tools/prompt.c). */
static int tokenize_text(server *srv, const char *text, size_t len, serve_request *r, http_reply *out) {
    bibim_status st = cli_tokenize_prompt(srv->model, text, len, &r->prompt, &r->n_prompt);
    if (st == BIBIM_ERR_NOMEM) return api_error(out, 500, "server_error", NULL, NULL, "out of memory"), -1;
    if (st != BIBIM_OK)
        return BAD_REQUEST(out, "prompt", "the prompt cannot be tokenized: %s", bibim_status_string(st)), -1;
    return 0;
}

/* `prompt` of /v1/completions: a string, an array of one string, or an array of token ids. */
static int completion_prompt(server *srv, const cJSON *req, serve_request *r, http_reply *out) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    if (!p) return BAD_REQUEST(out, "prompt", "'prompt' is required"), -1;
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0)))
        p = cJSON_GetArrayItem(p, 0);
    if (cJSON_IsString(p)) return tokenize_text(srv, p->valuestring, strlen(p->valuestring), r, out);
    int n = cJSON_IsArray(p) ? cJSON_GetArraySize(p) : -1;
    if (n < 1) return BAD_REQUEST(out, "prompt", "'prompt' must be a string or an array of token ids"), -1;
    bibim_model_info info;
    bibim_model_get_info(srv->model, &info);
    if (!(r->prompt = malloc((size_t)n * sizeof *r->prompt)))
        return api_error(out, 500, "server_error", NULL, NULL, "out of memory"), -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, p) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
            e->valuedouble >= info.n_vocab)
            return BAD_REQUEST(out, "prompt", "'prompt' must be one string or token ids from 0 to %d", info.n_vocab - 1), -1;
        r->prompt[r->n_prompt++] = (bibim_token)e->valuedouble;
    }
    return 0;
}

/* An assistant message's tool calls as chat templates expect them (Hugging
 * Face's convention, which the Llama 3.1, Qwen and Mistral templates follow):
 * function.arguments as an object, not the JSON string OpenAI's clients send
 * (a template would write it with tojson, quoted twice); content "" rather
 * than null, which templates test or concatenate. */
static void prepare_tool_calls(cJSON *m) {
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), *call;
    if (!cJSON_IsArray(calls) || cJSON_GetArraySize(calls) == 0) return;
    cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!content) cJSON_AddStringToObject(m, "content", "");
    else if (cJSON_IsNull(content)) cJSON_ReplaceItemInObjectCaseSensitive(m, "content", cJSON_CreateString(""));
    cJSON_ArrayForEach(call, calls) {
        cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsString(args)) continue;
        cJSON *obj = cJSON_Parse(args->valuestring);
        if (cJSON_IsObject(obj)) cJSON_ReplaceItemInObjectCaseSensitive(fn, "arguments", obj);
        else cJSON_Delete(obj);
    }
}

/* A copy of the messages where content given as parts that are all text
 * ([{"type":"text","text":...}, ...]) becomes one string, as clients mean
 * it: most chat templates only handle string content. Other content (images,
 * ...) passes through for templates that know it. Tool calls are prepared
 * for the template (prepare_tool_calls). */
static cJSON *flatten_text_parts(const cJSON *msgs) {
    cJSON *copy = cJSON_Duplicate(msgs, 1), *m;
    if (!copy) return NULL;
    cJSON_ArrayForEach(m, copy) {
        prepare_tool_calls(m);
        cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content"), *part;
        if (!cJSON_IsArray(content)) continue;
        size_t len = 0;
        int all_text = 1;
        cJSON_ArrayForEach(part, content) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
            all_text &= cJSON_IsString(type) && !strcmp(type->valuestring, "text") && cJSON_IsString(text);
            if (all_text) len += strlen(text->valuestring);
        }
        if (!all_text) continue;
        char *joined = malloc(len + 1);
        if (!joined) return cJSON_Delete(copy), NULL;
        len = 0;
        cJSON_ArrayForEach(part, content) {
            const char *t = cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring;
            memcpy(joined + len, t, strlen(t));
            len += strlen(t);
        }
        joined[len] = 0;
        cJSON_ReplaceItemInObjectCaseSensitive(m, "content", cJSON_CreateString(joined));
        free(joined);
    }
    return copy;
}

/* Checks `tools`: an array of {"type": "function", "function": {"name": ...}}. */
static int check_tools(const cJSON *tools, http_reply *out) {
    if (!tools || cJSON_IsNull(tools)) return 0;
    if (!cJSON_IsArray(tools)) return BAD_REQUEST(out, "tools", "'tools' must be an array"), -1;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type"), *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsObject(t) || (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "function"))) ||
            !cJSON_IsObject(fn) || !cJSON_IsString(name) || !name->valuestring[0])
            return BAD_REQUEST(out, "tools", "'tools[%d]' must be {\"type\": \"function\", \"function\": {\"name\": ...}}", i), -1;
        i++;
    }
    return 0;
}

/* The tool of `tools` named `name`, or NULL. */
static const cJSON *find_tool(const cJSON *tools, const char *name) {
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "function"), "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return t;
    }
    return NULL;
}

/* `tools`, `tool_choice` and `parallel_tool_calls` of a chat request. On
 * success *template_tools is the tools the template gets and *parse_tools
 * those a tool call may name (both malloc'd JSON, NULL for none): "auto"
 * (the default) and "required" parse calls of any tool; a named function
 * only gives the template that tool and accepts only calls of it; "none"
 * gives the template no tools and never parses. Nothing forces the model to
 * call: answered with text, a request gets text. */
static int get_tools(const cJSON *req, char **template_tools, char **parse_tools, http_reply *out) {
    *template_tools = *parse_tools = NULL;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(req, "tool_choice");
    int parallel = 1;
    if (check_tools(tools, out) || get_bool(req, "parallel_tool_calls", &parallel, out)) return -1;
    int have = cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0;
    const cJSON *only = NULL;
    if (choice && !cJSON_IsNull(choice)) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(choice, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (cJSON_IsString(choice) && !strcmp(choice->valuestring, "none")) return 0;
        if (cJSON_IsString(choice) && (!strcmp(choice->valuestring, "auto") || !strcmp(choice->valuestring, "required"))) {
            if (!have && !strcmp(choice->valuestring, "required"))
                return BAD_REQUEST(out, "tool_choice", "'tool_choice' \"required\" needs 'tools'"), -1;
        } else if (cJSON_IsObject(choice) && cJSON_IsString(name)) {
            if (!have || !(only = find_tool(tools, name->valuestring)))
                return BAD_REQUEST(out, "tool_choice", "'tool_choice' names '%.100s', which is not in 'tools'",
                                   name->valuestring), -1;
        } else {
            return BAD_REQUEST(out, "tool_choice",
                               "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
                               "\"function\": {\"name\": ...}}"), -1;
        }
    }
    if (!have) return 0;
    cJSON *one = only ? cJSON_CreateArray() : NULL;
    if (one) cJSON_AddItemToArray(one, cJSON_Duplicate(only, 1));
    *template_tools = cJSON_PrintUnformatted(only ? one : tools);
    *parse_tools = *template_tools ? dup_string(*template_tools) : NULL;
    cJSON_Delete(one);
    if (!*parse_tools) {
        free(*template_tools);
        *template_tools = NULL;
        return api_error(out, 500, "server_error", NULL, NULL, "out of memory"), -1;
    }
    return 0;
}

/* Renders `messages` with the chat template, and `tools_json` (the request's
 * tools, or NULL: none) if `use_tools`, else the request's own `tools`. */
static char *render_messages(server *srv, const cJSON *req, int add_generation_prompt, int use_tools,
                             const char *tools_json, http_reply *out) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return BAD_REQUEST(out, "messages", "'messages' must be a non-empty array of message objects"), NULL;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        char param[48];
        snprintf(param, sizeof param, "messages[%d]", i++);
        if (!cJSON_IsObject(m)) return BAD_REQUEST(out, param, "'%s' must be an object", param), NULL;
        if (!cJSON_IsString(role)) return BAD_REQUEST(out, param, "'%s.role' must be a string", param), NULL;
        if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) && !cJSON_IsNull(content))
            return BAD_REQUEST(out, param, "'%s.content' must be a string or an array of parts", param), NULL;
    }
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    if (!use_tools && tools && !cJSON_IsNull(tools) && !cJSON_IsArray(tools)) /* as given: the template judges */
        return BAD_REQUEST(out, "tools", "'tools' must be an array"), NULL;
    cJSON *flat = flatten_text_parts(msgs);
    char *msgs_json = flat ? cJSON_PrintUnformatted(flat) : NULL;
    cJSON_Delete(flat);
    char *own_tools = !use_tools && cJSON_IsArray(tools) ? cJSON_PrintUnformatted(tools) : NULL;
    bibim_chat_params cp = bibim_chat_default_params();
    cp.add_generation_prompt = add_generation_prompt;
    cp.tools_json = use_tools ? tools_json : own_tools;
    char *text = NULL, err[512];
    bibim_status st = msgs_json ? bibim_chat_render(srv->model, msgs_json, &cp, &text, NULL, err, sizeof err)
                                : BIBIM_ERR_NOMEM;
    free(msgs_json);
    free(own_tools);
    if (st == BIBIM_ERR_NOMEM) api_error(out, 500, "server_error", NULL, NULL, "out of memory");
    else if (st != BIBIM_OK) BAD_REQUEST(out, "messages", "the chat template could not render the messages: %s", err);
    return text;
}

/* ---- responses ------------------------------------------------------------ */

static const char *finish_name(const serve_request *r) {
    return r->finish == FINISH_STOP ? "stop" : "length";
}

static void make_id(server *srv, const char *prefix, char *id, size_t size) {
    uint64_t n = __atomic_fetch_add(&srv->id_counter, 1, __ATOMIC_RELAXED);
    uint64_t x = (n + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)srv->created * 0xBF58476D1CE4E5B9ull;
    snprintf(id, size, "%s-%016llx%08llx", prefix, (unsigned long long)x, (unsigned long long)(n & 0xffffffffu));
}

static cJSON *usage_json(const serve_request *r) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)r->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)r->n_generated);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(r->n_prompt + r->n_generated));
    cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(d, "cached_tokens", (double)r->n_cached);
    return u;
}

/* A token's text for JSON: invalid UTF-8 bytes become U+FFFD (its exact
 * bytes go in "bytes"). */
static void token_text(server *srv, bibim_token t, char *text, size_t size, unsigned char *bytes, int *n_bytes) {
    char piece[128];
    int64_t n = bibim_token_piece(srv->model, t, BIBIM_PIECE_SPECIAL, piece, sizeof piece);
    if (n < 0) n = 0;
    if (n > (int64_t)sizeof piece) n = sizeof piece;
    memcpy(bytes, piece, (size_t)n);
    *n_bytes = (int)n;
    bibim_text_stream *ts = NULL;
    const char *a = "", *b = "";
    size_t na = 0, nb = 0;
    text[0] = 0;
    if (bibim_text_stream_create(srv->model, NULL, 0, BIBIM_PIECE_SPECIAL, &ts) != BIBIM_OK) return;
    if (bibim_text_stream_push(ts, t, &a, &na, NULL) == BIBIM_OK) {
        if (na >= size) na = size - 1;
        memcpy(text, a, na);
        if (bibim_text_stream_finish(ts, &b, &nb) == BIBIM_OK && na + nb < size) memcpy(text + na, b, nb), na += nb;
        text[na] = 0;
    }
    bibim_text_stream_free(ts);
}

static cJSON *chat_logprob_entry(server *srv, bibim_token t, float lp) {
    char text[512];
    unsigned char bytes[128];
    int nb;
    token_text(srv, t, text, sizeof text, bytes, &nb);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "token", text);
    cJSON_AddNumberToObject(e, "logprob", lp);
    cJSON *arr = cJSON_AddArrayToObject(e, "bytes");
    for (int i = 0; i < nb; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(bytes[i]));
    return e;
}

/* Chat: {"content": [{token, logprob, bytes, top_logprobs: [...]}, ...]} for tokens [from, to). */
static cJSON *chat_logprobs(server *srv, const serve_request *r, size_t from, size_t to) {
    cJSON *lp = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(lp, "content");
    for (size_t i = from; i < to; i++) {
        cJSON *e = chat_logprob_entry(srv, r->lp[i].token, r->lp[i].logprob);
        cJSON *top = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int k = 0; k < r->lp[i].n_top; k++)
            cJSON_AddItemToArray(top, chat_logprob_entry(srv, r->lp[i].top[k], r->lp[i].top_logprob[k]));
        cJSON_AddItemToArray(content, e);
    }
    cJSON_AddNullToObject(lp, "refusal");
    return lp;
}

/* Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}. */
static cJSON *completion_logprobs(server *srv, const serve_request *r, size_t from, size_t to, size_t text_offset) {
    cJSON *lp = cJSON_CreateObject();
    cJSON *tokens = cJSON_AddArrayToObject(lp, "tokens"), *lps = cJSON_AddArrayToObject(lp, "token_logprobs");
    cJSON *tops = cJSON_AddArrayToObject(lp, "top_logprobs"), *offs = cJSON_AddArrayToObject(lp, "text_offset");
    char text[512];
    unsigned char bytes[128];
    int nb;
    for (size_t i = from; i < to; i++) {
        token_text(srv, r->lp[i].token, text, sizeof text, bytes, &nb);
        cJSON_AddItemToArray(tokens, cJSON_CreateString(text));
        cJSON_AddItemToArray(lps, cJSON_CreateNumber(r->lp[i].logprob));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)text_offset));
        text_offset += (size_t)nb;
        cJSON *top = cJSON_CreateObject();
        for (int k = 0; k < r->lp[i].n_top; k++) {
            token_text(srv, r->lp[i].top[k], text, sizeof text, bytes, &nb);
            if (!cJSON_GetObjectItemCaseSensitive(top, text))
                cJSON_AddNumberToObject(top, text, r->lp[i].top_logprob[k]);
        }
        cJSON_AddItemToArray(tops, top);
    }
    return lp;
}

static cJSON *response_head(server *srv, const char *id, const char *object, long created) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)created);
    cJSON_AddStringToObject(root, "model", srv->alias);
    cJSON_AddStringToObject(root, "system_fingerprint", "bibim-" BIBIM_VERSION);
    return root;
}

/* ---- tool calls ----------------------------------------------------------- */

/* A tool call id: "call_" and 24 letters or digits, as OpenAI's; for
 * Mistral's template, whose history check wants them so, 9 letters or digits. */
static void make_tool_call_id(server *srv, int mistral, char *id, size_t size) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t n = __atomic_fetch_add(&srv->id_counter, 1, __ATOMIC_RELAXED);
    uint64_t x = (n + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)srv->created * 0xBF58476D1CE4E5B9ull;
    size_t len = mistral ? 9 : 24, o = mistral ? 0 : 5;
    if (size < o + len + 1) return (void)(id[0] = 0);
    memcpy(id, "call_", o);
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        id[o++] = alnum[(x >> 33) % 62];
    }
    id[o] = 0;
}

/* 1 if s[0..n) has a byte other than whitespace. */
static int has_text(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", s[i])) return 1;
    return 0;
}

/* The tool calls of a finished chat request with tools, in OpenAI's shape
 * ([{id, type: "function", function: {name, arguments}}]), or NULL when its
 * text is not tool calls (then all of it is content). *content_len: the
 * bytes of text before the calls. */
static cJSON *parse_tool_calls(server *srv, const serve_request *r, size_t *content_len) {
    *content_len = r->n_text;
    if (!r->tools_json || (r->finish != FINISH_STOP && r->finish != FINISH_LENGTH)) return NULL;
    char *json = NULL;
    size_t content = r->n_text;
    if (bibim_chat_parse_tool_calls(r->text ? r->text : "", r->n_text, (bibim_tool_format)r->tool_format,
                                    r->tools_json, &json, &content, NULL, 0) != BIBIM_OK)
        return NULL;
    cJSON *calls = cJSON_Parse(json), *c, *out = cJSON_CreateArray();
    bibim_free(json);
    cJSON_ArrayForEach(c, calls) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name"), *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
        const cJSON *given = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (!cJSON_IsString(name) || !cJSON_IsString(args)) continue;
        char id[48];
        if (cJSON_IsString(given) && given->valuestring[0] && strlen(given->valuestring) < sizeof id)
            snprintf(id, sizeof id, "%s", given->valuestring);
        else
            make_tool_call_id(srv, r->tool_format == BIBIM_TOOLS_MISTRAL, id, sizeof id);
        cJSON *t = cJSON_CreateObject(), *fn;
        cJSON_AddStringToObject(t, "id", id);
        cJSON_AddStringToObject(t, "type", "function");
        fn = cJSON_AddObjectToObject(t, "function");
        cJSON_AddStringToObject(fn, "name", name->valuestring);
        cJSON_AddStringToObject(fn, "arguments", args->valuestring);
        cJSON_AddItemToArray(out, t);
    }
    cJSON_Delete(calls);
    if (cJSON_GetArraySize(out) == 0) return cJSON_Delete(out), NULL;
    *content_len = content;
    return out;
}

/* Waits until the request ends; then the whole response. */
static void reply_whole(server *srv, serve_request *r, int chat, http_reply *out) {
    sched_lock(srv->sched);
    while (r->finish == FINISH_NONE) {
        sched_wait(srv->sched, r, now_monotonic() + 0.25);
        if (r->finish == FINISH_NONE && !r->cancelled && out->client_gone && out->client_gone(out->client)) {
            r->client_left = 1; /* nobody will read the answer: the scheduler drops it at the next step */
            sched_cancel_locked(srv->sched, r);
        }
    }
    sched_unlock(srv->sched); /* the scheduler no longer touches r's output */
    out->prompt_tokens = r->n_prompt;
    out->completion_tokens = r->n_generated;
    if (r->finish == FINISH_ERROR) {
        api_error(out, 500, "server_error", NULL, NULL, "generation failed: %s", r->error);
        return;
    }
    if (r->finish == FINISH_CANCELLED) {
        if (r->client_left) /* seen as a closed connection: possibly only its sending half */
            api_error(out, 400, "invalid_request_error", NULL, NULL,
                      "the client closed its side of the connection before the answer was ready");
        else
            api_error(out, 503, "server_error", NULL, NULL, "the server is shutting down");
        return;
    }
    char id[48];
    make_id(srv, chat ? "chatcmpl" : "cmpl", id, sizeof id);
    cJSON *root = response_head(srv, id, chat ? "chat.completion" : "text_completion", (long)time(NULL));
    cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    size_t content_len = r->n_text;
    cJSON *calls = chat ? parse_tool_calls(srv, r, &content_len) : NULL;
    if (chat) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        if (!calls) {
            cJSON_AddStringToObject(msg, "content", r->text ? r->text : "");
        } else if (has_text(r->text, content_len)) { /* the text before the calls */
            char saved = r->text[content_len];
            r->text[content_len] = 0;
            cJSON_AddStringToObject(msg, "content", r->text);
            r->text[content_len] = saved;
        } else {
            cJSON_AddNullToObject(msg, "content");
        }
        cJSON_AddNullToObject(msg, "refusal");
        if (calls) cJSON_AddItemToObject(msg, "tool_calls", calls);
    } else {
        cJSON_AddStringToObject(c, "text", r->text ? r->text : "");
    }
    if (r->logprobs) cJSON_AddItemToObject(c, "logprobs", chat ? chat_logprobs(srv, r, 0, r->n_lp)
                                                                 : completion_logprobs(srv, r, 0, r->n_lp, 0));
    else cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", calls ? "tool_calls" : finish_name(r));
    cJSON_AddItemToObject(root, "usage", usage_json(r));
    reply_json(out, 200, root);
}

/* ---- streaming ------------------------------------------------------------ */

static int sse_append(sse_stream *st, const char *s, size_t n) {
    if (st->n_buf + n > st->cap_buf) {
        size_t cap = 2 * (st->n_buf + n) + 1024;
        char *p = realloc(st->buf, cap);
        if (!p) return -1;
        st->buf = p;
        st->cap_buf = cap;
    }
    memcpy(st->buf + st->n_buf, s, n);
    st->n_buf += n;
    return 0;
}

static void sse_event(sse_stream *st, cJSON *root) {
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return;
    sse_append(st, "data: ", 6);
    sse_append(st, json, strlen(json));
    sse_append(st, "\n\n", 2);
    free(json);
}

/* One chunk: delta text (or the role), logprobs of new tokens, a finish reason. */
static void sse_chunk(sse_stream *st, const char *text, size_t n, int role, const char *finish, size_t lp_to) {
    serve_request *r = st->req;
    cJSON *root = response_head(st->srv, st->id, st->chat ? "chat.completion.chunk" : "text_completion", st->created);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    char *t = malloc(n + 1);
    if (t) memcpy(t, text, n), t[n] = 0;
    if (st->chat) {
        cJSON *delta = cJSON_AddObjectToObject(c, "delta");
        if (role) cJSON_AddStringToObject(delta, "role", "assistant");
        if (role || n) cJSON_AddStringToObject(delta, "content", t ? t : "");
    } else {
        cJSON_AddStringToObject(c, "text", t ? t : "");
    }
    free(t);
    if (r->logprobs && lp_to > st->lp_sent)
        cJSON_AddItemToObject(c, "logprobs", st->chat ? chat_logprobs(st->srv, r, st->lp_sent, lp_to)
                                                      : completion_logprobs(st->srv, r, st->lp_sent, lp_to, st->text_sent));
    else cJSON_AddNullToObject(c, "logprobs");
    if (finish) cJSON_AddStringToObject(c, "finish_reason", finish);
    else cJSON_AddNullToObject(c, "finish_reason");
    if (st->include_usage) cJSON_AddNullToObject(root, "usage");
    st->lp_sent = lp_to > st->lp_sent ? lp_to : st->lp_sent;
    sse_event(st, root);
}

/* A chunk whose delta is one piece of a tool call (OpenAI's shape: the
 * first piece of call `index` carries its id, type and name, with arguments
 * ""; the next ones carry arguments text to append). */
static void sse_tool_chunk(sse_stream *st, int index, const cJSON *call, int head) {
    cJSON *root = response_head(st->srv, st->id, "chat.completion.chunk", st->created);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON *delta = cJSON_AddObjectToObject(c, "delta"), *calls = cJSON_AddArrayToObject(delta, "tool_calls");
    cJSON *t = cJSON_CreateObject(), *fn;
    cJSON_AddItemToArray(calls, t);
    cJSON_AddNumberToObject(t, "index", index);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(call, "function");
    if (head) {
        cJSON_AddStringToObject(t, "id", cJSON_GetObjectItemCaseSensitive(call, "id")->valuestring);
        cJSON_AddStringToObject(t, "type", "function");
    }
    fn = cJSON_AddObjectToObject(t, "function");
    if (head) cJSON_AddStringToObject(fn, "name", cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring);
    cJSON_AddStringToObject(fn, "arguments", head ? "" : cJSON_GetObjectItemCaseSensitive(f, "arguments")->valuestring);
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddNullToObject(c, "finish_reason");
    if (st->include_usage) cJSON_AddNullToObject(root, "usage");
    sse_event(st, root);
}

/* Turns what the request has produced since the last call into events
 * (with the lock held). With tools, text that is or may become a tool call
 * is held back until the request ends: then it is sent as tool calls, or as
 * content if it was not one. */
static void sse_collect(sse_stream *st) {
    serve_request *r = st->req;
    if (st->chat && !st->sent_role) {
        sse_chunk(st, "", 0, 1, NULL, st->lp_sent);
        st->sent_role = 1;
    }
    size_t visible = r->n_text;
    cJSON *calls = NULL;
    if (st->chat && r->tools_json) {
        if (r->finish == FINISH_NONE) visible = bibim_chat_tool_call_start(r->text, r->n_text, (bibim_tool_format)r->tool_format);
        else calls = parse_tool_calls(st->srv, r, &visible);
        if (visible < st->text_sent) visible = st->text_sent;
    }
    if (visible > st->text_sent || r->n_lp > st->lp_sent) {
        sse_chunk(st, r->text ? r->text + st->text_sent : "", visible - st->text_sent, 0, NULL, r->n_lp);
        st->text_sent = visible;
    }
    if (r->finish == FINISH_NONE) return;
    st->finished = 1;
    if (st->report) *st->report = r->n_generated;
    if (r->finish == FINISH_ERROR || r->finish == FINISH_CANCELLED) {
        http_reply e = {0};
        api_error(&e, 500, "server_error", NULL, NULL, "%s",
                  r->finish == FINISH_ERROR ? r->error
                  : r->client_left          ? "the client closed its side of the connection"
                                            : "the server is shutting down");
        if (e.body) {
            sse_append(st, "data: ", 6);
            sse_append(st, e.body, strlen(e.body));
            sse_append(st, "\n\n", 2);
            free(e.body);
        }
    } else {
        const cJSON *call;
        int index = 0;
        cJSON_ArrayForEach(call, calls) {
            sse_tool_chunk(st, index, call, 1);
            sse_tool_chunk(st, index++, call, 0);
        }
        sse_chunk(st, "", 0, 0, calls ? "tool_calls" : finish_name(r), r->n_lp);
        if (st->include_usage) {
            cJSON *root = response_head(st->srv, st->id, st->chat ? "chat.completion.chunk" : "text_completion",
                                        st->created);
            cJSON_AddArrayToObject(root, "choices");
            cJSON_AddItemToObject(root, "usage", usage_json(r));
            sse_event(st, root);
        }
    }
    sse_append(st, "data: [DONE]\n\n", 14);
    cJSON_Delete(calls);
}

size_t sse_read(sse_stream *st, char *buf, size_t max) {
    if (st->off_buf == st->n_buf && !st->finished) {
        st->n_buf = st->off_buf = 0;
        sched_lock(st->srv->sched);
        for (;;) {
            sse_collect(st);
            if (st->n_buf > 0 || st->finished) break;
            sched_wait(st->srv->sched, st->req, now_monotonic() + 0.25);
            if (!st->req->cancelled && st->client_gone && st->client_gone(st->client)) {
                st->req->client_left = 1;
                sched_cancel_locked(st->srv->sched, st->req);
            }
        }
        sched_unlock(st->srv->sched);
    }
    size_t n = st->n_buf - st->off_buf;
    if (n > max) n = max;
    memcpy(buf, st->buf + st->off_buf, n);
    st->off_buf += n;
    return n;
}

void sse_report_to(sse_stream *st, long long *completion_tokens) { st->report = completion_tokens; }

void sse_free(sse_stream *st) {
    if (!st) return;
    if (st->req->finish == FINISH_NONE) sched_cancel(st->srv->sched, st->req);
    request_release(st->srv->sched, st->req);
    free(st->buf);
    free(st);
}

/* ---- endpoints ------------------------------------------------------------- */

/* Submits r and answers (whole or streamed); takes over the caller's reference. */
static void run_request(server *srv, serve_request *r, int chat, int stream, int include_usage, http_reply *out) {
    if (sched_submit(srv->sched, r) != 0) {
        api_error(out, 503, "server_error", NULL, NULL, "the server is busy (queue full) or shutting down; retry later");
        out->retry_after = 1;
        request_release(srv->sched, r);
        return;
    }
    if (!stream) {
        reply_whole(srv, r, chat, out);
        request_release(srv->sched, r);
        return;
    }
    sse_stream *st = calloc(1, sizeof *st);
    if (!st) {
        sched_cancel(srv->sched, r);
        request_release(srv->sched, r);
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    st->srv = srv;
    st->req = r;
    st->chat = chat;
    st->include_usage = include_usage;
    st->client_gone = out->client_gone;
    st->client = out->client;
    st->created = (long)time(NULL);
    make_id(srv, chat ? "chatcmpl" : "cmpl", st->id, sizeof st->id);
    out->status = 200;
    out->stream = st;
    out->content_type = "text/event-stream";
    out->prompt_tokens = r->n_prompt;
}

static void handle_completion(server *srv, const cJSON *req, int chat, http_reply *out) {
    serve_request *r = request_new();
    if (!r) return api_error(out, 500, "server_error", NULL, NULL, "out of memory");
    long long max_tokens, top_logprobs = 0;
    int stream, include_usage, logprobs = 0;
    char *text = NULL;
    int failed = parse_generation_fields(srv, req, r, &max_tokens, out) ||
                 get_stream_fields(req, &stream, &include_usage, out);
    if (!failed && chat) {
        failed = get_bool(req, "logprobs", &logprobs, out) || get_int(req, "top_logprobs", 0, SERVE_MAX_TOP_LOGPROBS, &top_logprobs, out);
        if (!failed && top_logprobs > 0 && !logprobs)
            failed = (BAD_REQUEST(out, "top_logprobs", "'top_logprobs' needs 'logprobs': true"), 1);
        char *template_tools = NULL;
        if (!failed) failed = get_tools(req, &template_tools, &r->tools_json, out);
        /* A tool call is not the JSON object JSON mode promises: one or the other. */
        if (!failed && r->tools_json && r->sampling.json_object)
            failed = (BAD_REQUEST(out, "response_format",
                                  "'response_format' json_object cannot be combined with 'tools' (unless "
                                  "'tool_choice' is \"none\")"), 1);
        if (!failed) failed = !(text = render_messages(srv, req, 1, 1, template_tools, out));
        free(template_tools);
        r->tool_format = srv->tool_format;
        if (!failed) failed = tokenize_text(srv, text, strlen(text), r, out);
        if (!failed && srv->uses_fallback && add_stop(r, BIBIM_CHAT_FALLBACK_STOP))
            failed = (api_error(out, 500, "server_error", NULL, NULL, "out of memory"), 1);
    } else if (!failed) {
        /* completions: logprobs is the number of alternatives, 0..5 in OpenAI's API (we allow 20) */
        failed = get_int(req, "logprobs", 0, SERVE_MAX_TOP_LOGPROBS, &top_logprobs, out);
        logprobs = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(req, "logprobs"));
        if (!failed) failed = completion_prompt(srv, req, r, out);
    }
    bibim_free(text);
    uint32_t n_ctx = sched_n_ctx(srv->sched);
    if (!failed && r->n_prompt == 0) failed = (BAD_REQUEST(out, "prompt", "the prompt is empty"), 1);
    if (!failed && r->n_prompt >= (int64_t)n_ctx)
        failed = (api_error(out, 400, "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded",
                            "This model's maximum context length is %u tokens. However, your %s resulted in %lld "
                            "tokens, leaving none to generate.",
                            n_ctx, chat ? "messages" : "prompt", (long long)r->n_prompt),
                  1);
    if (failed) {
        request_release(srv->sched, r);
        return;
    }
    if (max_tokens <= 0 && !chat) max_tokens = 16; /* OpenAI's default for /v1/completions */
    long long room = (long long)n_ctx - r->n_prompt;
    if (srv->max_tokens_cap > 0 && room > srv->max_tokens_cap) room = srv->max_tokens_cap;
    r->max_tokens = (int32_t)(max_tokens > 0 && max_tokens < room ? max_tokens : room);
    r->logprobs = logprobs;
    r->top_logprobs = (int)top_logprobs;
    r->deadline = now_monotonic() + srv->request_timeout;
    run_request(srv, r, chat, stream, include_usage, out);
}

/* GET /v1/models (the list) or /v1/models/{id} (one model). */
static void handle_models(server *srv, http_reply *out, int one) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", srv->alias);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)srv->created);
    cJSON_AddStringToObject(m, "owned_by", "bibim");
    if (one) return reply_json(out, 200, m);
    cJSON *root = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(root, "data");
    cJSON_AddStringToObject(root, "object", "list");
    cJSON_AddItemToArray(data, m);
    reply_json(out, 200, root);
}

static void handle_tokenize(server *srv, const cJSON *req, http_reply *out) {
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(req, "content");
    int add_special = 0, parse_special = 1, with_pieces = 0;
    if (!cJSON_IsString(content)) return BAD_REQUEST(out, "content", "'content' must be a string");
    if (get_bool(req, "add_special", &add_special, out) || get_bool(req, "parse_special", &parse_special, out) ||
        get_bool(req, "with_pieces", &with_pieces, out))
        return;
    unsigned flags = (add_special ? BIBIM_TOKENIZE_ADD_BOS : 0) | (parse_special ? BIBIM_TOKENIZE_SPECIAL : 0);
    size_t len = strlen(content->valuestring);
    int64_t n = 0;
    bibim_tokenize(srv->model, content->valuestring, len, flags, NULL, 0, &n);
    bibim_token *toks = malloc((size_t)(n ? n : 1) * sizeof *toks);
    if (!toks || bibim_tokenize(srv->model, content->valuestring, len, flags, toks, n, &n) != BIBIM_OK) {
        free(toks);
        return api_error(out, 500, "server_error", NULL, NULL, "tokenizing failed");
    }
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "tokens");
    for (int64_t i = 0; i < n; i++) {
        if (!with_pieces) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(toks[i]));
            continue;
        }
        char text[512];
        unsigned char bytes[128];
        int nb;
        token_text(srv, toks[i], text, sizeof text, bytes, &nb);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", toks[i]);
        cJSON_AddStringToObject(e, "piece", text);
        cJSON_AddItemToArray(arr, e);
    }
    free(toks);
    reply_json(out, 200, root);
}

/* Bytes that are not valid UTF-8 become U+FFFD (JSON strings must be UTF-8). */
static char *utf8_sanitized(const char *s, size_t n) {
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t good = bibim_utf8_valid(s + i, n - i);
        memcpy(out + o, s + i, good);
        o += good;
        i += good;
        if (i < n) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    return out;
}

static void handle_detokenize(server *srv, const cJSON *req, http_reply *out) {
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(req, "tokens"), *e;
    if (!cJSON_IsArray(tokens)) return BAD_REQUEST(out, "tokens", "'tokens' must be an array of token ids");
    int n = cJSON_GetArraySize(tokens), i = 0;
    bibim_token *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) return api_error(out, 500, "server_error", NULL, NULL, "out of memory");
    cJSON_ArrayForEach(e, tokens) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
            e->valuedouble > 2147483647.0) {
            free(ids);
            return BAD_REQUEST(out, "tokens", "'tokens' must hold token ids of this model");
        }
        ids[i++] = (bibim_token)e->valuedouble;
    }
    int64_t len = bibim_detokenize(srv->model, ids, n, BIBIM_PIECE_SPECIAL, NULL, 0);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (text) bibim_detokenize(srv->model, ids, n, BIBIM_PIECE_SPECIAL, text, (size_t)len);
    free(ids);
    if (len == -1) return BAD_REQUEST(out, "tokens", "'tokens' must hold token ids of this model");
    char *clean = text ? utf8_sanitized(text, (size_t)len) : NULL;
    free(text);
    if (!clean) return api_error(out, 500, "server_error", NULL, NULL, "out of memory");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "content", clean);
    free(clean);
    reply_json(out, 200, root);
}

static void handle_apply_template(server *srv, const cJSON *req, http_reply *out) {
    int add = 1;
    if (get_bool(req, "add_generation_prompt", &add, out)) return;
    char *text = render_messages(srv, req, add, 0, NULL, out);
    if (!text) return;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "prompt", text);
    bibim_free(text);
    reply_json(out, 200, root);
}

static void metric(char *buf, size_t size, size_t *n, const char *name, const char *type, const char *help,
                   double value) {
    int k = snprintf(buf + *n, size - *n, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
    if (k > 0 && (size_t)k < size - *n) *n += (size_t)k;
}

static void handle_metrics(server *srv, http_reply *out) {
    serve_metrics m;
    sched_get_metrics(srv->sched, &m);
    size_t size = 16384, n = 0;
    char *buf = malloc(size);
    if (!buf) return api_error(out, 500, "server_error", NULL, NULL, "out of memory");
    int k = snprintf(buf, size, "# HELP bibim_requests_total HTTP requests answered, by status code.\n"
                                "# TYPE bibim_requests_total counter\n");
    n = (size_t)k;
    pthread_mutex_lock(&srv->stats_lock);
    for (int code = 100; code < 600; code++)
        if (srv->requests_by_status[code] && n < size - 128)
            n += (size_t)snprintf(buf + n, size - n, "bibim_requests_total{code=\"%d\"} %llu\n", code,
                                  (unsigned long long)srv->requests_by_status[code]);
    pthread_mutex_unlock(&srv->stats_lock);
    metric(buf, size, &n, "bibim_prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
           (double)m.prompt_tokens);
    metric(buf, size, &n, "bibim_prompt_tokens_evaluated_total", "counter",
           "Prompt tokens evaluated (the others were found in the KV cache).", (double)m.prompt_evaluated);
    metric(buf, size, &n, "bibim_generated_tokens_total", "counter", "Tokens generated.", (double)m.generated_tokens);
    metric(buf, size, &n, "bibim_steps_total", "counter", "Batched forward passes.", (double)m.steps);
    metric(buf, size, &n, "bibim_queue_depth", "gauge", "Requests waiting for a slot.", m.queue_depth);
    metric(buf, size, &n, "bibim_busy_slots", "gauge", "Slots running a request.", m.busy_slots);
    metric(buf, size, &n, "bibim_slots", "gauge", "Sequence slots (--parallel).", m.n_slots);
    metric(buf, size, &n, "bibim_decode_tokens_per_second", "gauge",
           "Tokens generated per second over the last seconds, all slots together.", m.decode_tokens_per_second);
    out->status = 200;
    out->body = buf;
    out->content_type = "text/plain; version=0.0.4";
}

/* 1 if the content type is JSON (parameters such as charset allowed). */
static int is_json_type(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ') ct++;
    size_t n = strlen("application/json");
    return !strncasecmp(ct, "application/json", n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

void api_handle(server *srv, const char *method, const char *url, const char *content_type, const char *body,
                size_t n_body, http_reply *out) {
    out->prompt_tokens = out->completion_tokens = -1;
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    static const char *const post_paths[] = {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize",
                                             "/apply-template"};
    static const char *const get_paths[] = {"/v1/models", "/health", "/metrics"};
    int is_post_path = 0, is_get_path = 0;
    for (size_t i = 0; i < sizeof post_paths / sizeof *post_paths; i++) is_post_path |= !strcmp(url, post_paths[i]);
    for (size_t i = 0; i < sizeof get_paths / sizeof *get_paths; i++) is_get_path |= !strcmp(url, get_paths[i]);
    int is_model_path = !strncmp(url, "/v1/models/", 11) && url[11];
    if (is_model_path && get) {
        if (strcmp(url + 11, srv->alias))
            return api_error(out, 404, "invalid_request_error", "model", "model_not_found", "the model '%s' does not exist",
                             url + 11);
        return handle_models(srv, out, 1);
    }
    is_get_path |= is_model_path;
    if (!is_post_path && !is_get_path)
        return api_error(out, 404, "invalid_request_error", NULL, "not_found", "no such endpoint: %s %s", method, url);
    if ((is_post_path && !post) || (is_get_path && !get)) {
        out->allow = is_post_path ? "POST" : "GET";
        return api_error(out, 405, "invalid_request_error", NULL, "method_not_allowed", "%s takes %s, not %s", url,
                         is_post_path ? "POST" : "GET", method);
    }
    if (get) {
        if (!strcmp(url, "/health")) {
            out->status = 200;
            out->body = dup_string("{\"status\":\"ok\"}");
            out->content_type = "application/json";
        } else if (!strcmp(url, "/v1/models")) {
            handle_models(srv, out, 0);
        } else {
            handle_metrics(srv, out);
        }
        return;
    }
    if (!is_json_type(content_type))
        return api_error(out, 415, "invalid_request_error", NULL, "unsupported_media_type",
                         "the body must be JSON sent with 'Content-Type: application/json' (got '%s')",
                         content_type ? content_type : "none");
    /* JSON is UTF-8, and text that is not would be passed on to the model and back to clients. */
    size_t bad = bibim_utf8_valid(body, n_body);
    if (bad < n_body) return BAD_REQUEST(out, NULL, "the body is not valid UTF-8 (byte %zu)", bad);
    const char *end = NULL;
    cJSON *req = cJSON_ParseWithLengthOpts(body, n_body, &end, 0);
    size_t at = end ? (size_t)(end - body) : 0;
    while (req && at < n_body && strchr(" \t\r\n", body[at])) at++;
    if (!req || at < n_body) {
        cJSON_Delete(req);
        return BAD_REQUEST(out, NULL, "the body is not valid JSON (%s byte %zu)", req ? "text after it at" : "near", at);
    }
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        return BAD_REQUEST(out, NULL, "the body must be a JSON object");
    }
    if (!strcmp(url, "/v1/chat/completions")) handle_completion(srv, req, 1, out);
    else if (!strcmp(url, "/v1/completions")) handle_completion(srv, req, 0, out);
    else if (!strcmp(url, "/tokenize")) handle_tokenize(srv, req, out);
    else if (!strcmp(url, "/detokenize")) handle_detokenize(srv, req, out);
    else handle_apply_template(srv, req, out);
    cJSON_Delete(req);
}
