/* The JSON parser the chat API reads messages with (src/json.c), and
 * bibim_chat_render's arguments and errors. The rendering itself is compared
 * with @huggingface/jinja in test_jinja and tests/cli/template.sh. */
#include <stdint.h>

#include "bibim.h"
#include "harness.h"
#include "jinja_internal.h"
#include "json.h"

static struct jinja_value *parse(const char *text, char *err) { return json_parse(text, strlen(text), err, 200); }

static const struct jinja_value *member(const struct jinja_value *obj, const char *key) {
    return jinja_object_get(obj, key);
}

/* Renders tmpl with the parsed JSON as `v`; "" after a failed check. Numbers
 * are compared through the template (==), not through the value's storage. */
static void render_with(const char *json, const char *tmpl, char *out, size_t size) {
    char err[200];
    out[0] = 0;
    struct jinja_value *v = parse(json, err), *ctx = jinja_value_object();
    CHECKF(v && ctx && jinja_object_set(ctx, "v", v) == 0, "%s", err);
    char *text = NULL;
    size_t len;
    struct jinja_error jerr;
    if (ctx && jinja_render(tmpl, strlen(tmpl), ctx, &text, &len, &jerr) == 0) snprintf(out, size, "%s", text);
    free(text);
    jinja_value_free(ctx);
}

static int test_json_values(void) {
    char err[200];
    static const char doc[] = " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83e\\udd99\\n\\\"\\\\\\/\"], \"b\": {}}\n";
    struct jinja_value *v = parse(doc, err);
    CHECKF(v != NULL, "%s", err);
    if (!v) return 0;
    const struct jinja_value *a = member(v, "a");
    CHECK(jinja_value_type(a) == JINJA_ARRAY && a->u.arr.n == 6);
    if (jinja_value_type(a) == JINJA_ARRAY && a->u.arr.n == 6) {
        CHECK(jinja_value_type(a->u.arr.items[0]) == JINJA_INT);
        CHECK(jinja_value_type(a->u.arr.items[1]) == JINJA_FLOAT);
        CHECK(jinja_value_type(a->u.arr.items[2]) == JINJA_BOOL);
        CHECK(jinja_value_type(a->u.arr.items[3]) == JINJA_BOOL);
        CHECK(jinja_value_type(a->u.arr.items[4]) == JINJA_NULL);
        const struct jinja_value *s = a->u.arr.items[5];
        static const char want[] = "x\xc3\xa9\xf0\x9f\xa6\x99\n\"\\/";
        CHECK(s->type == JINJA_STRING && s->u.str.n == sizeof want - 1 && !memcmp(s->u.str.s, want, sizeof want - 1));
    }
    CHECK(jinja_value_type(member(v, "b")) == JINJA_OBJECT && member(v, "b")->u.obj.n == 0);
    jinja_value_free(v);
    char out[200];
    render_with(doc, "{{ v.a[0] == 1 }} {{ v.a[1] == -2500 }} {{ v.a[2] }} {{ v.a[3] }} {{ v.a[4] is none }}", out,
                sizeof out);
    CHECKF(!strcmp(out, "true true true false true"), "%s", out);
    return 0;
}

/* As JSON.parse: a repeated key keeps its first place and takes the last value. */
static int test_json_repeated_key(void) {
    char out[200];
    render_with("{\"a\":1,\"b\":2,\"a\":3}", "{% for k, x in v.items() %}{{ k }}={{ x }};{% endfor %}", out, sizeof out);
    CHECKF(!strcmp(out, "a=3;b=2;"), "%s", out);
    return 0;
}

static int test_json_numbers(void) {
    char err[200];
    struct jinja_value *v = parse("[0, -0, 1E2, 0.5, 12345678901, 1e400]", err);
    CHECKF(v != NULL && v->u.arr.n == 6, "%s", err);
    if (!v || v->u.arr.n != 6) return jinja_value_free(v), 0;
    struct jinja_value **it = v->u.arr.items;
    CHECK(jinja_value_type(it[0]) == JINJA_INT && jinja_value_type(it[4]) == JINJA_INT);
    CHECK(jinja_value_type(it[2]) == JINJA_FLOAT && jinja_value_type(it[3]) == JINJA_FLOAT);
    jinja_value_free(v);
    char out[200];
    render_with("[1E2, 0.5, 12345678901, -7]", "{{ v[0] == 100 }} {{ v[1] * 4 == 2 }} {{ v[2] + 1 }} {{ v[3] }}", out,
                sizeof out);
    CHECKF(!strcmp(out, "true true 12345678902 -7"), "%s", out);
    return 0;
}

/* Each bad document fails with the position and reason given. */
static int test_json_errors(void) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "line 1, column 1: unexpected end of input"},
        {"[1,]", "line 1, column 4: trailing comma before ']'"},
        {"{\"a\":1,}", "line 1, column 8: trailing comma before '}'"},
        {"{\"a\" 1}", "line 1, column 6: expected ':'"},
        {"{1:2}", "line 1, column 2: expected a string key"},
        {"[1 2]", "line 1, column 4: expected ',' or ']'"},
        {"[\n  01]", "line 2, column 3: leading zero"},
        {"1.", "a fraction needs digits"},
        {"1e+", "an exponent needs digits"},
        {"-", "a number needs digits"},
        {"tru", "unexpected text"},
        {"nul", "unexpected text"},
        {"'a'", "unexpected character '''"},
        {"\"\\x\"", "line 1, column 2: invalid escape \\x"},
        {"\"\\u12G4\"", "bad hex digit"},
        {"\"\\u12", "truncated \\u escape"},
        {"\"\\ud800\"", "without its low surrogate"},
        {"\"\\ud800\\u0041\"", "followed by \\u0041"},
        {"\"\\udc00\"", "lone low surrogate"},
        {"\"a\nb\"", "line 1, column 3: control character 0x0A"},
        {"\"\xff\"", "invalid UTF-8 byte 0xFF"},
        {"\"\xc0\xaf\"", "invalid UTF-8 byte 0xC0"},
        {"\"\xed\xa0\x80\"", "invalid UTF-8 byte 0xED"},
        {"\"abc", "unterminated string"},
        {"[1, 2", "unterminated array"},
        {"{\"a\": 1", "unterminated object"},
        {"[1] 2", "line 1, column 5: unexpected text after the JSON value"},
        {"{\"a\\u0000b\": 1}", "object key contains \\u0000"},
        {"/* c */ 1", "unexpected character '/'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[200] = "";
        struct jinja_value *v = parse(cases[i].text, err);
        CHECKF(!v && strstr(err, cases[i].want), "case %zu: got '%s', wanted '%s'", i, err, cases[i].want);
        jinja_value_free(v);
    }
    return 0;
}

static int test_json_depth_limit(void) {
    char text[2 * (JSON_MAX_DEPTH + 1) + 1], err[200];
    for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
        memset(text, '[', (size_t)depth);
        memset(text + depth, ']', (size_t)depth);
        text[2 * depth] = 0;
        struct jinja_value *v = parse(text, err);
        if (depth == JSON_MAX_DEPTH) CHECKF(v != NULL, "%s", err);
        else CHECKF(!v && strstr(err, "nested deeper than"), "%s", err);
        jinja_value_free(v);
    }
    return 0;
}

/* Every prefix of a valid document and random byte mutations: a clean
 * result or a clean error, never a crash or leak (ASan/valgrind runs). */
static int test_json_truncations_and_mutations(void) {
    static const char doc[] = "[{\"role\": \"user\", \"content\": \"h\\u00e9llo \\ud83e\\udd99\", \"n\": [1, 2.5e-3, "
                              "true, null], \"x\": {\"y\": false}}]";
    size_t n = sizeof doc - 1;
    char err[200], buf[sizeof doc];
    int parsed = 0;
    for (size_t len = 0; len <= n; len++) {
        struct jinja_value *v = json_parse(doc, len, err, sizeof err);
        parsed += v != NULL;
        jinja_value_free(v);
    }
    CHECKF(parsed == 1, "%d prefixes parsed; only the whole document should", parsed);
    uint64_t seed = 12345;
    for (int i = 0; i < 20000; i++) {
        memcpy(buf, doc, n);
        for (int k = 0; k < 3; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[(seed >> 33) % n] = (char)(seed >> 20);
        }
        jinja_value_free(json_parse(buf, n, err, sizeof err));
    }
    return 0;
}

static int test_chat_render_fallback_and_variables(void) {
    char *out = NULL, err[300];
    size_t len = 0;
    bibim_chat_params p = bibim_chat_default_params();
    CHECK(p.add_generation_prompt == 1 && !p.template_text && !p.tools_json);
    bibim_status st = bibim_chat_render(NULL, "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"Hi\"}]",
                                        &p, &out, &len, err, sizeof err);
    static const char want[] = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    CHECKF(st == BIBIM_OK && out && len == strlen(want) && !strcmp(out, want), "%s / %s", err, out ? out : "");
    CHECK(!strcmp(bibim_chat_fallback_template(), bibim_chat_fallback_template()));
    bibim_free(out);

    p.template_text = "{{ bos_token }}|{{ eos_token }}|{{ name }}|{{ tools[0].function.name }}|{{ messages | length }}"
                      "|{{ add_generation_prompt }}";
    p.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]";
    p.extra_json = "{\"name\":\"bibim\"}";
    p.bos_token = "<s>";
    p.eos_token = "</s>";
    p.add_generation_prompt = 0;
    st = bibim_chat_render(NULL, "[]", &p, &out, NULL, err, sizeof err);
    CHECKF(st == BIBIM_OK && out && !strcmp(out, "<s>|</s>|bibim|f|0|false"), "%s / %s", err, out ? out : "");
    bibim_free(out);
    return 0;
}

static int test_chat_render_errors(void) {
    static const struct {
        const char *messages, *tools, *extra, *tmpl;
        bibim_status status;
        const char *want;
    } cases[] = {
        {"[", NULL, NULL, NULL, BIBIM_ERR_INVALID_ARG, "messages: invalid JSON: line 1, column 2"},
        {"{}", NULL, NULL, NULL, BIBIM_ERR_INVALID_ARG, "messages: expected a JSON array"},
        {"[1]", NULL, NULL, NULL, BIBIM_ERR_INVALID_ARG, "messages[0]: expected an object"},
        {"[{\"role\":1}]", NULL, NULL, NULL, BIBIM_ERR_INVALID_ARG, "messages[0].role: expected a string"},
        {"[]", "{}", NULL, NULL, BIBIM_ERR_INVALID_ARG, "tools: expected a JSON array"},
        {"[]", NULL, "[]", NULL, BIBIM_ERR_INVALID_ARG, "extra: expected a JSON object"},
        {"[]", NULL, "{", NULL, BIBIM_ERR_INVALID_ARG, "extra: invalid JSON"},
        {"[]", NULL, NULL, "a\n{{ raise_exception('no system role') }}", BIBIM_ERR_TEMPLATE,
         "template line 2, column 4: raise_exception: no system role"},
        {"[]", NULL, NULL, "{% if %}", BIBIM_ERR_TEMPLATE, "template line 1, column"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bibim_chat_params p = bibim_chat_default_params();
        p.tools_json = cases[i].tools;
        p.extra_json = cases[i].extra;
        p.template_text = cases[i].tmpl;
        char *out = (char *)"not reset", err[300];
        bibim_status st = bibim_chat_render(NULL, cases[i].messages, &p, &out, NULL, err, sizeof err);
        CHECKF(st == cases[i].status && out == NULL && strstr(err, cases[i].want), "case %zu: status %d, '%s'", i,
               (int)st, err);
    }
    char *out;
    char small[8];
    CHECK(bibim_chat_render(NULL, NULL, NULL, &out, NULL, NULL, 0) == BIBIM_ERR_INVALID_ARG && out == NULL);
    CHECK(bibim_chat_render(NULL, "[]", NULL, NULL, NULL, NULL, 0) == BIBIM_ERR_INVALID_ARG);
    /* A small message buffer is filled and terminated, not overrun. */
    CHECK(bibim_chat_render(NULL, "[", NULL, &out, NULL, small, sizeof small) == BIBIM_ERR_INVALID_ARG &&
          strlen(small) == sizeof small - 1);
    CHECK(!strcmp(bibim_status_string(BIBIM_ERR_TEMPLATE), "template error"));
    return 0;
}

/* A real model file: stories260K has no template, so the fallback is used
 * with its BOS/EOS text. */
static int test_chat_render_with_model(void) {
    const char *path = "../shared/models/stories260K.gguf";
    SKIP_UNLESS_FILE(path);
    bibim_model_params mp = bibim_model_default_params();
    mp.vocab_only = 1;
    bibim_model *model = NULL;
    CHECK(bibim_model_load(path, &mp, &model) == BIBIM_OK);
    CHECK(bibim_model_chat_template(model) == NULL);
    bibim_chat_params p = bibim_chat_default_params();
    p.template_text = "{{ bos_token }}{{ eos_token }}";
    char *out = NULL, err[200];
    CHECKF(bibim_chat_render(model, "[]", &p, &out, NULL, err, sizeof err) == BIBIM_OK && out && !strcmp(out, "<s></s>"),
           "%s / %s", err, out ? out : "");
    bibim_free(out);
    bibim_model_free(model);
    return 0;
}

/* ---- tool calls ---------------------------------------------------------- */

static const char TOOLS[] = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{}}},"
                            "{\"type\":\"function\",\"function\":{\"name\":\"add\"}}]";

/* Parses `text` and checks the status, the calls' JSON and the content length. */
static void check_calls_(int line, const char *text, bibim_tool_format f, const char *tools, bibim_status want,
                         const char *want_json, size_t want_content) {
    char *calls = NULL, err[256];
    size_t content = 12345;
    bibim_status st = bibim_chat_parse_tool_calls(text, strlen(text), f, tools, &calls, &content, err, sizeof err);
    CHECKF(st == want, "line %d: status %d, wanted %d (%s) for %s", line, st, want, err, text);
    if (st == BIBIM_OK && want == BIBIM_OK) {
        CHECKF(calls && !strcmp(calls, want_json), "line %d: calls %s\n  wanted %s", line, calls ? calls : "NULL", want_json);
        CHECKF(content == want_content, "line %d: content_len %zu, wanted %zu", line, content, want_content);
    }
    if (st != BIBIM_OK) {
        CHECKF(calls == NULL && content == strlen(text), "line %d: failed, but calls or content_len set", line);
        CHECKF(err[0] != 0, "line %d: no message", line);
    }
    bibim_free(calls);
}
#define check_calls(...) check_calls_(__LINE__, __VA_ARGS__)

static int test_tool_format_of_template(void) {
    CHECK(bibim_chat_tool_format(NULL) == BIBIM_TOOLS_GENERIC);
    CHECK(bibim_chat_tool_format(bibim_chat_fallback_template()) == BIBIM_TOOLS_GENERIC);
    CHECK(bibim_chat_tool_format("{{- '<tool_call>\\n' }}{{ tool_call | tojson }}") == BIBIM_TOOLS_HERMES);
    CHECK(bibim_chat_tool_format("{{- '[TOOL_CALLS] [' }}") == BIBIM_TOOLS_MISTRAL);
    CHECK(bibim_chat_tool_format("{{- '<|python_tag|>' + tool_call.name }}") == BIBIM_TOOLS_LLAMA3);
    CHECK(bibim_chat_tool_format("<|start_header_id|>{{ '{\"name\": \"' + n + '\", \"parameters\": ' }}") ==
          BIBIM_TOOLS_LLAMA3);
    CHECK(bibim_chat_tool_format("<|start_header_id|>{{ m.content }}") == BIBIM_TOOLS_GENERIC);
    return 0;
}

static int test_tool_calls_llama3(void) {
    const bibim_tool_format L = BIBIM_TOOLS_LLAMA3;
    check_calls("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": [1, 2]}}", L, TOOLS, BIBIM_OK,
                "[{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\", \\\"days\\\": [1, 2]}\"}]", 0);
    check_calls("<|python_tag|>{\"name\": \"add\", \"parameters\": {\"a\": 1.50, \"b\": -2e3}}", L, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{\\\"a\\\": 1.50, \\\"b\\\": -2e3}\"}]", 0);
    check_calls("  \n{\"name\":\"add\",\"arguments\":{}} ; {\"name\":\"get_weather\"}\n", L, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{}\"},{\"name\":\"get_weather\",\"arguments\":\"{}\"}]", 0);
    /* arguments given as a string holding JSON; strings with braces, escapes and non-ASCII */
    check_calls("{\"name\":\"add\",\"parameters\":\"{\\\"a\\\":1}\"}", L, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{\\\"a\\\":1}\"}]", 0);
    check_calls("{\"name\":\"get_weather\",\"parameters\":{\"city\":\"S\\u00e3o } \\\" Paulo\\n\", \"q\":\"caf\xc3\xa9\"}}", L,
                TOOLS, BIBIM_OK,
                "[{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"S\\\\u00e3o } \\\\\\\" Paulo\\\\n\\\", "
                "\\\"q\\\":\\\"caf\xc3\xa9\\\"}\"}]",
                0);
    /* any name without tools */
    check_calls("{\"name\":\"anything\",\"parameters\":{}}", L, NULL, BIBIM_OK,
                "[{\"name\":\"anything\",\"arguments\":\"{}\"}]", 0);
    /* not tool calls: the whole text is content */
    check_calls("Hello there", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":\"rm_rf\",\"parameters\":{}}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":\"add\",\"parameters\":{\"a\":1}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0); /* cut short */
    check_calls("{\"name\":\"add\",\"parameters\":{\"a\":01}}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0); /* bad JSON */
    check_calls("{\"name\":\"add\",\"parameters\":{\"a\":1]}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":\"add\",\"parameters\":[1]}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":\"add\",\"parameters\":\"not json\"}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":3,\"parameters\":{}}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":\"add\",\"parameters\":{}} and then text", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("Sure: {\"name\":\"add\",\"parameters\":{}}", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\":\"add\",\"parameters\":{}}\xff", L, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    return 0;
}

static int test_tool_calls_hermes(void) {
    const bibim_tool_format H = BIBIM_TOOLS_HERMES;
    check_calls("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", H, TOOLS,
                BIBIM_OK, "[{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}]", 0);
    check_calls("Let me check.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>\n"
                "<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>\n",
                H, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{\\\"a\\\": 1}\"},{\"name\":\"get_weather\",\"arguments\":\"{}\"}]", 14);
    /* a missing </tool_call> at the very end (a stop string ate it) */
    check_calls("<tool_call>{\"name\": \"add\", \"arguments\": {}}", H, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{}\"}]", 0);
    check_calls("No call here.", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\": \"add\", \"arguments\": {}}", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("<tool_call>{\"name\": \"nope\", \"arguments\": {}}</tool_call>", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("<tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call> Done!", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("<tool_call>{\"name\": \"add\", \"arguments\": {}} oops</tool_call>", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("<tool_call>add(1, 2)</tool_call>", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": </tool_call>", H, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    return 0;
}

static int test_tool_calls_mistral(void) {
    const bibim_tool_format M = BIBIM_TOOLS_MISTRAL;
    check_calls("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"a1b2c3d4e\"}]", M,
                TOOLS, BIBIM_OK,
                "[{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\",\"id\":\"a1b2c3d4e\"}]", 0);
    /* the marker is a control token: usually not in the text */
    check_calls(" [{\"name\": \"add\", \"arguments\": {\"a\": 1}}, {\"name\": \"add\", \"arguments\": {\"a\": 2}}]", M,
                TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{\\\"a\\\": 1}\"},{\"name\":\"add\",\"arguments\":\"{\\\"a\\\": 2}\"}]", 0);
    check_calls("Calling.[TOOL_CALLS]{\"name\": \"add\", \"arguments\": {}}", M, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{}\"}]", 8);
    check_calls("[1] is a citation", M, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("{\"name\": \"add\", \"arguments\": {}}", M, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0); /* no list, no marker */
    check_calls("[{\"name\": \"add\", \"arguments\": {}}", M, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("[{\"name\": \"add\", \"arguments\": {}},]", M, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("[]", M, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    check_calls("[{\"name\": \"add\", \"arguments\": {}}] more", M, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    return 0;
}

static int test_tool_calls_generic_and_errors(void) {
    const bibim_tool_format G = BIBIM_TOOLS_GENERIC;
    check_calls("Hi <tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call>", G, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{}\"}]", 3);
    check_calls("[{\"name\": \"add\", \"arguments\": {}}]", G, TOOLS, BIBIM_OK, "[{\"name\":\"add\",\"arguments\":\"{}\"}]", 0);
    check_calls("<|python_tag|>{\"name\": \"add\", \"parameters\": {}}", G, TOOLS, BIBIM_OK,
                "[{\"name\":\"add\",\"arguments\":\"{}\"}]", 0);
    check_calls("{\"name\": \"add\", \"parameters\": {}}", G, TOOLS, BIBIM_OK, "[{\"name\":\"add\",\"arguments\":\"{}\"}]", 0);
    check_calls("Just text.", G, TOOLS, BIBIM_ERR_NOT_FOUND, NULL, 0);
    /* bad arguments */
    char *calls = (char *)1, err[200];
    size_t content = 0;
    CHECK(bibim_chat_parse_tool_calls("x", 1, G, "{\"not\":\"an array\"}", &calls, &content, err, sizeof err) ==
          BIBIM_ERR_INVALID_ARG);
    CHECK(calls == NULL && strstr(err, "tools"));
    CHECK(bibim_chat_parse_tool_calls("x", 1, G, "[", &calls, &content, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_chat_parse_tool_calls("x", 1, (bibim_tool_format)9, NULL, &calls, &content, err, sizeof err) ==
          BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_chat_parse_tool_calls("x", 1, G, NULL, NULL, &content, err, sizeof err) == BIBIM_ERR_INVALID_ARG);
    CHECK(bibim_chat_parse_tool_calls(NULL, 0, G, NULL, &calls, &content, NULL, 0) == BIBIM_ERR_NOT_FOUND);
    /* every prefix and every one-byte change of a valid call: no crash, OK or NOT_FOUND */
    static const char call[] = "Hi<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": [1, {\"b\": \"}\\\"\"}]}}</tool_call>";
    char buf[sizeof call];
    for (size_t n = 0; n < sizeof call; n++)
        for (int f = 0; f <= 3; f++) {
            bibim_status st = bibim_chat_parse_tool_calls(call, n, (bibim_tool_format)f, TOOLS, &calls, &content, err, sizeof err);
            CHECK(st == BIBIM_OK || st == BIBIM_ERR_NOT_FOUND);
            bibim_free(calls);
        }
    for (size_t i = 0; i + 1 < sizeof call; i++)
        for (int c = 0; c < 256; c += 7) {
            memcpy(buf, call, sizeof call);
            buf[i] = (char)c;
            bibim_status st = bibim_chat_parse_tool_calls(buf, sizeof call - 1, G, TOOLS, &calls, &content, err, sizeof err);
            CHECK(st == BIBIM_OK || st == BIBIM_ERR_NOT_FOUND);
            bibim_free(calls);
        }
    return 0;
}

/* What streaming may show as content before the end is never more than the
 * content the final parse gives. */
static int test_tool_call_start(void) {
    const bibim_tool_format L = BIBIM_TOOLS_LLAMA3, H = BIBIM_TOOLS_HERMES, M = BIBIM_TOOLS_MISTRAL, G = BIBIM_TOOLS_GENERIC;
#define START(text, f) bibim_chat_tool_call_start(text, strlen(text), f)
    CHECK(START("", L) == 0 && START("  \n", L) == 0 && START(" {\"na", L) == 0 && START("<|pyth", L) == 0);
    CHECK(START("<|python_tag|>{", L) == 0);
    CHECK(START("Hello", L) == 5 && START("<b>", L) == 3 && START("Hi {", L) == 4);
    CHECK(START("", H) == 0 && START("Hello", H) == 5 && START("Hello <tool", H) == 6 && START("Hello <", H) == 6);
    CHECK(START("Hi <tool_call>{\"name\"", H) == 3 && START("Hi <b>", H) == 6 && START("{", H) == 1);
    CHECK(START("[", M) == 0 && START("[TOOL", M) == 0 && START("Hi [TOOL_CALLS][", M) == 3 && START("Hi [TO", M) == 3);
    CHECK(START("Hi [1]", M) == 6 && START("{", M) == 1);
    CHECK(START("{", G) == 0 && START("[", G) == 0 && START("Hi <tool_c", G) == 3 && START("Hi there", G) == 8);
    CHECK(bibim_chat_tool_call_start(NULL, 0, G) == 0);
#undef START
    /* against the parser, on every prefix of some outputs */
    static const char *const outputs[] = {"Let me see. <tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call>",
                                          "<|python_tag|>{\"name\": \"add\", \"parameters\": {}}",
                                          "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {}}]",
                                          "Plain [text] with {braces} and <tags>.", "<tool_call>{\"name\": \"nope\"}",
                                          "{\"name\": \"add\", \"arguments\": {}}", "Hi [TOOL_CALLS]{\"name\": \"add\"}",
                                          " [{\"name\": \"add\"}]", "Hi <tool_call>{\"name\": \"add\"}</tool_call>"};
    for (size_t o = 0; o < sizeof outputs / sizeof *outputs; o++)
        for (int f = 0; f <= 3; f++) {
            const char *t = outputs[o];
            size_t n = strlen(t), content = 0, shown = 0;
            char *calls = NULL;
            bibim_chat_parse_tool_calls(t, n, (bibim_tool_format)f, TOOLS, &calls, &content, NULL, 0);
            bibim_free(calls);
            for (size_t k = 0; k <= n; k++) {
                size_t s = bibim_chat_tool_call_start(t, k, (bibim_tool_format)f);
                CHECKF(s <= k, "output %zu format %d prefix %zu: %zu", o, f, k, s);
                if (s > shown) shown = s;
            }
            CHECKF(shown <= content, "output %zu format %d: showed %zu bytes, content is %zu", o, f, shown, content);
        }
    return 0;
}

int main(void) {
    RUN(test_json_values);
    RUN(test_json_repeated_key);
    RUN(test_json_numbers);
    RUN(test_json_errors);
    RUN(test_json_depth_limit);
    RUN(test_json_truncations_and_mutations);
    RUN(test_chat_render_fallback_and_variables);
    RUN(test_chat_render_errors);
    RUN(test_chat_render_with_model);
    RUN(test_tool_format_of_template);
    RUN(test_tool_calls_llama3);
    RUN(test_tool_calls_hermes);
    RUN(test_tool_calls_mistral);
    RUN(test_tool_calls_generic_and_errors);
    RUN(test_tool_call_start);
    printf("RESULT %d %d %d\n", harness_passed, harness_failed, harness_skipped);
    return harness_failed != 0;
}
