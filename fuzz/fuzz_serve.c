/* fuzz_serve.c — libFuzzer target for the request handling of `bibim serve`
 * (tools/serve_api.c and the scheduler behind it), without the socket layer.
 *
 * The first input byte picks an endpoint, a method and a content type; the
 * rest is the body. Each request is answered exactly as the server would:
 * generation requests run for real on ../shared/models/stories260K.gguf,
 * capped at 2 tokens each, and streamed answers are read to their end. Every
 * answer must be a valid HTTP status with a body (or a stream); errors must
 * be OpenAI-shaped JSON. Chat bodies with "tools" go through the tool-call
 * request handling (the 2 generated tokens are parsed for calls), and every
 * chat body is also parsed as if a model had written it, in each tool-call
 * format: a call found must be JSON naming a tool, with content_len within
 * the text, and what streaming would show never passes that content.
 * A whole answer to a request with response_format json_object must be a
 * prefix of a JSON object (src/json_constraint.h), and a whole one when a
 * completion stopped at an end token (finish_reason "stop", no stop strings). */
#include "json_constraint.h"
#include "serve.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond)                                                                                             \
    do {                                                                                                               \
        if (!(cond)) __builtin_trap();                                                                                 \
    } while (0)

static server srv;
static bibim_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *path = "../shared/models/stories260K.gguf";
    if (bibim_model_load(path, NULL, &model) != BIBIM_OK) {
        fprintf(stderr, "fuzz_serve: cannot load %s (run from the repository root, ../shared beside it)\n", path);
        exit(1);
    }
    bibim_context_params cp = bibim_context_default_params();
    cp.n_ctx = 256;
    cp.n_seq = 2;
    cp.n_batch = 64;
    cp.n_threads = 1;
    sched *s = NULL;
    if (sched_create(model, &cp, 4, &s)) exit(1);
    pthread_mutex_init(&srv.stats_lock, NULL);
    srv.model = model;
    srv.sched = s;
    srv.alias = "fuzz";
    srv.max_body = 1 << 20;
    srv.request_timeout = 5;
    srv.max_tokens_cap = 2;
    srv.uses_fallback = bibim_model_chat_template(model) == NULL;
    srv.created = (long)time(NULL);
    return 0;
}

static const struct {
    const char *method, *url;
} ENDPOINTS[] = {
    {"POST", "/v1/chat/completions"}, {"POST", "/v1/completions"}, {"POST", "/tokenize"},
    {"POST", "/detokenize"},          {"POST", "/apply-template"}, {"GET", "/v1/models"},
    {"GET", "/metrics"},              {"GET", "/v1/models/fuzz"},  {"GET", "/v1/chat/completions"},
    {"POST", "/nowhere"},
};

static void check_tool_parsing(const char *text, size_t len) {
    static const char tools[] = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},{\"function\":{\"name\":\"f\"}}]";
    for (int f = BIBIM_TOOLS_GENERIC; f <= BIBIM_TOOLS_MISTRAL; f++) {
        for (int with_tools = 0; with_tools < 2; with_tools++) {
            char *calls = NULL;
            size_t content = 0;
            bibim_status st = bibim_chat_parse_tool_calls(text, len, (bibim_tool_format)f, with_tools ? tools : NULL,
                                                          &calls, &content, NULL, 0);
            FUZZ_REQUIRE(st == BIBIM_OK || st == BIBIM_ERR_NOT_FOUND);
            FUZZ_REQUIRE(content <= len && (st == BIBIM_OK) == (calls != NULL));
            if (calls) {
                cJSON *j = cJSON_Parse(calls), *c;
                FUZZ_REQUIRE(cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0);
                cJSON_ArrayForEach(c, j) {
                    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
                    const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
                    FUZZ_REQUIRE(cJSON_IsString(name) && cJSON_IsString(args));
                    FUZZ_REQUIRE(!with_tools || !strcmp(name->valuestring, "get_weather") || !strcmp(name->valuestring, "f"));
                    cJSON *a = cJSON_Parse(args->valuestring);
                    FUZZ_REQUIRE(cJSON_IsObject(a));
                    cJSON_Delete(a);
                }
                cJSON_Delete(j);
            }
            bibim_free(calls);
            /* streaming shows at most the content, at any point of the text's generation */
            const size_t at[] = {len / 3, len / 2, len ? len - 1 : 0, len};
            for (size_t k = 0; k < sizeof at / sizeof *at; k++)
                FUZZ_REQUIRE(bibim_chat_tool_call_start(text, at[k], (bibim_tool_format)f) <= content);
        }
    }
}

/* JSON mode: the answer's text is (a prefix of) one JSON object. */
static void check_json_mode(const char *body, size_t len, const char *answer, int chat) {
    cJSON *req = cJSON_ParseWithLength(body, len);
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(req, "response_format");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "json_object")) {
        const cJSON *stop = cJSON_GetObjectItemCaseSensitive(req, "stop");
        cJSON *a = cJSON_Parse(answer);
        const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "choices"), 0);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c0, "text");
        if (!text) text = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c0, "message"), "content");
        const cJSON *finish = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
        FUZZ_REQUIRE(cJSON_IsString(text));
        jsonc_state st;
        jsonc_init(&st);
        FUZZ_REQUIRE(jsonc_feed(&st, text->valuestring, strlen(text->valuestring)));
        /* (chat has the ChatML fallback's stop string, which may cut a JSON string) */
        if (!chat && cJSON_IsString(finish) && !strcmp(finish->valuestring, "stop") && (!stop || cJSON_IsNull(stop)))
            FUZZ_REQUIRE(jsonc_complete(&st));
        cJSON_Delete(a);
    }
    cJSON_Delete(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t e = data[0] % (sizeof ENDPOINTS / sizeof ENDPOINTS[0]);
    const char *ct = data[0] & 0x80 ? "text/plain" : "application/json; charset=utf-8";
    char *body = malloc(size); /* NUL-terminated, as the HTTP layer hands it over */
    FUZZ_REQUIRE(body);
    memcpy(body, data + 1, size - 1);
    body[size - 1] = 0;
    http_reply r = {0};
    r.prompt_tokens = r.completion_tokens = -1;
    api_handle(&srv, ENDPOINTS[e].method, ENDPOINTS[e].url, ct, body, size - 1, &r);
    FUZZ_REQUIRE(r.status >= 200 && r.status < 600);
    if (r.stream) {
        char buf[4096];
        while (sse_read(r.stream, buf, sizeof buf) > 0) {}
        sse_free(r.stream);
    } else {
        FUZZ_REQUIRE(r.body != NULL);
        if (r.status >= 400) { /* OpenAI's error shape */
            cJSON *j = cJSON_Parse(r.body);
            cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
            FUZZ_REQUIRE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message")));
            FUZZ_REQUIRE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "type")));
            cJSON_Delete(j);
        } else if (e <= 1) {
            check_json_mode(body, size - 1, r.body, e == 0);
        }
    }
    free(r.body);
    if (e == 0) check_tool_parsing(body, size - 1);
    free(body);
    return 0;
}
