/* chat.c — the public chat-template API: JSON in, the rendered prompt out.
 * The variables match what Hugging Face's apply_chat_template passes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bibim.h"
#include "jinja_internal.h"
#include "json.h"
#include "model.h"

static const char fallback_template[] =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const char *bibim_chat_fallback_template(void) { return fallback_template; }

const char *bibim_model_chat_template(const bibim_model *model) { return model ? model->chat_template : NULL; }

bibim_chat_params bibim_chat_default_params(void)
{
    bibim_chat_params p = {0};
    p.add_generation_prompt = 1;
    return p;
}

void bibim_free(void *ptr) { free(ptr); }

static bibim_status chat_fail(char *errmsg, size_t size, bibim_status st, const char *fmt, ...)
{
    if (errmsg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errmsg, size, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* The text of a special token (BOS/EOS) as the template should see it. */
static struct jinja_value *token_text(const bibim_model *model, const char *given, bibim_token token)
{
    if (given)
        return jinja_value_string(given);
    if (!model || token < 0)
        return jinja_value_string("");
    char buf[256];
    int64_t n = bibim_token_piece(model, token, BIBIM_PIECE_SPECIAL, buf, sizeof buf);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    return jinja_value_stringn(buf, (size_t)n);
}

/* Every message must be an object with a string role, so that a typo in a
 * request is reported here rather than as an obscure template error. */
static int check_messages(const struct jinja_value *msgs, char *errmsg, size_t size)
{
    if (jinja_value_type(msgs) != JINJA_ARRAY) {
        chat_fail(errmsg, size, 0, "messages: expected a JSON array of message objects");
        return 0;
    }
    for (size_t i = 0; i < msgs->u.arr.n; i++) {
        const struct jinja_value *m = msgs->u.arr.items[i];
        if (jinja_value_type(m) != JINJA_OBJECT) {
            chat_fail(errmsg, size, 0, "messages[%zu]: expected an object", i);
            return 0;
        }
        if (jinja_value_type(jinja_object_get(m, "role")) != JINJA_STRING) {
            chat_fail(errmsg, size, 0, "messages[%zu].role: expected a string", i);
            return 0;
        }
    }
    return 1;
}

static bibim_status parse_json_var(const char *name, const char *json, enum jinja_type want,
                                   struct jinja_value **out, char *errmsg, size_t size)
{
    char err[200];
    *out = json_parse(json, strlen(json), err, sizeof err);
    if (!*out)
        return chat_fail(errmsg, size, BIBIM_ERR_INVALID_ARG, "%s: invalid JSON: %s", name, err);
    if (jinja_value_type(*out) != want) {
        jinja_value_free(*out);
        *out = NULL;
        return chat_fail(errmsg, size, BIBIM_ERR_INVALID_ARG, "%s: expected a JSON %s", name,
                         want == JINJA_ARRAY ? "array" : "object");
    }
    return BIBIM_OK;
}

/* Builds the template's variables, or fails with errmsg set. */
static bibim_status build_context(const bibim_model *model, const char *messages_json, const bibim_chat_params *p,
                                  struct jinja_value **out, char *errmsg, size_t size)
{
    struct jinja_value *msgs = NULL, *ctx = NULL;
    bibim_status st = parse_json_var("messages", messages_json, JINJA_ARRAY, &msgs, errmsg, size);
    if (st != BIBIM_OK)
        return st;
    if (!check_messages(msgs, errmsg, size)) {
        jinja_value_free(msgs);
        return BIBIM_ERR_INVALID_ARG;
    }
    if (p->extra_json)
        st = parse_json_var("extra", p->extra_json, JINJA_OBJECT, &ctx, errmsg, size);
    else if (!(ctx = jinja_value_object()))
        st = BIBIM_ERR_NOMEM;
    if (st != BIBIM_OK) {
        jinja_value_free(msgs);
        return st;
    }
    int fail = jinja_object_set(ctx, "messages", msgs);
    if (p->tools_json) {
        struct jinja_value *tools = NULL;
        st = parse_json_var("tools", p->tools_json, JINJA_ARRAY, &tools, errmsg, size);
        if (st != BIBIM_OK) {
            jinja_value_free(ctx);
            return st;
        }
        fail |= jinja_object_set(ctx, "tools", tools);
    }
    fail |= jinja_object_set(ctx, "add_generation_prompt", jinja_value_bool(p->add_generation_prompt != 0));
    fail |= jinja_object_set(ctx, "bos_token", token_text(model, p->bos_token, model ? bibim_token_bos(model) : -1));
    fail |= jinja_object_set(ctx, "eos_token", token_text(model, p->eos_token, model ? bibim_token_eos(model) : -1));
    if (fail) {
        jinja_value_free(ctx);
        return chat_fail(errmsg, size, BIBIM_ERR_NOMEM, "out of memory");
    }
    *out = ctx;
    return BIBIM_OK;
}

bibim_status bibim_chat_render(const bibim_model *model, const char *messages_json, const bibim_chat_params *params,
                               char **out, size_t *out_len, char *errmsg, size_t errmsg_size)
{
    if (errmsg && errmsg_size)
        errmsg[0] = 0;
    if (!out)
        return chat_fail(errmsg, errmsg_size, BIBIM_ERR_INVALID_ARG, "out: NULL");
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!messages_json)
        return chat_fail(errmsg, errmsg_size, BIBIM_ERR_INVALID_ARG, "messages: NULL");
    bibim_chat_params defaults = bibim_chat_default_params();
    const bibim_chat_params *p = params ? params : &defaults;
    const char *tmpl = p->template_text ? p->template_text : bibim_model_chat_template(model);
    if (!tmpl)
        tmpl = fallback_template;

    struct jinja_value *ctx = NULL;
    bibim_status st = build_context(model, messages_json, p, &ctx, errmsg, errmsg_size);
    if (st != BIBIM_OK)
        return st;
    struct jinja_error err = {0};
    size_t len = 0;
    int rc = jinja_render(tmpl, strlen(tmpl), ctx, out, &len, &err);
    jinja_value_free(ctx);
    if (rc != 0) {
        if (err.line > 0)
            return chat_fail(errmsg, errmsg_size, BIBIM_ERR_TEMPLATE, "template line %d, column %d: %s", err.line,
                             err.column, err.reason);
        return chat_fail(errmsg, errmsg_size, BIBIM_ERR_TEMPLATE, "template: %s", err.reason);
    }
    if (out_len)
        *out_len = len;
    return BIBIM_OK;
}

/* ---- tool calls in generated text --------------------------------------- */

static const char PYTHON_TAG[] = "<|python_tag|>", TOOL_CALL_OPEN[] = "<tool_call>",
                  TOOL_CALL_CLOSE[] = "</tool_call>", MISTRAL_CALLS[] = "[TOOL_CALLS]";
#define LIT_LEN(s) (sizeof s - 1)

bibim_tool_format bibim_chat_tool_format(const char *template_text)
{
    const char *t = template_text;
    if (!t)
        return BIBIM_TOOLS_GENERIC;
    if (strstr(t, TOOL_CALL_OPEN))
        return BIBIM_TOOLS_HERMES;
    if (strstr(t, MISTRAL_CALLS))
        return BIBIM_TOOLS_MISTRAL;
    if (strstr(t, PYTHON_TAG) || (strstr(t, "<|start_header_id|>") && strstr(t, "\"parameters\"")))
        return BIBIM_TOOLS_LLAMA3;
    return BIBIM_TOOLS_GENERIC;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Offset of the first `m` (m_len bytes) in s[from..n), or n. */
static size_t find_at(const char *s, size_t n, size_t from, const char *m, size_t m_len)
{
    for (size_t i = from; i + m_len <= n; i++)
        if (s[i] == m[0] && !memcmp(s + i, m, m_len))
            return i;
    return n;
}

static int starts_with(const char *s, size_t n, size_t i, const char *m, size_t m_len)
{
    return i + m_len <= n && !memcmp(s + i, m, m_len);
}

/* Where s[0..n) ends with a proper prefix of `m`, or n. */
static size_t partial_at_end(const char *s, size_t n, const char *m, size_t m_len)
{
    for (size_t k = m_len - 1 < n ? m_len - 1 : n; k > 0; k--)
        if (!memcmp(s + n - k, m, k))
            return n - k;
    return n;
}

/* The end of the JSON value at s[i] by its brackets and strings (not a
 * validation: json_parse does that), or 0 if the text ends inside it. */
static size_t json_span(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (s[i] == '"') {
        for (i++; i < n; i++) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                return i + 1;
        }
        return 0;
    }
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                size_t e = json_span(s, n, i);
                if (!e)
                    return 0;
                i = e - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                depth++;
            } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return 0;
    }
    size_t j = i;
    while (j < n && !memchr(",:}] \t\r\n", s[j], 9))
        j++;
    return j > i ? j : 0;
}

typedef struct tool_parser {
    const char *s;
    size_t n;
    const struct jinja_value *tools; /* the request's tool definitions, or NULL */
    struct jinja_buf out;            /* the calls as a JSON array, being built */
    size_t count;
    char *err;
    size_t err_size;
} tool_parser;

static int tool_fail(tool_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tool_fail(tool_parser *p, const char *fmt, ...)
{
    if (p->err && p->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Appends `n` bytes (valid UTF-8) as a JSON string. */
static void put_json_string(struct jinja_buf *b, const char *s, size_t n)
{
    jinja_buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            jinja_buf_addc(b, '\\');
            jinja_buf_addc(b, (char)c);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jinja_buf_adds(b, esc);
        } else {
            jinja_buf_addc(b, (char)c);
        }
    }
    jinja_buf_addc(b, '"');
}

/* 1 if `name` is the name of one of the request's tools ({"type":"function",
 * "function":{"name":...}}, or {"name":...}); any name without tools. */
static int tool_known(const struct jinja_value *tools, const struct jinja_value *name)
{
    if (!tools)
        return 1;
    for (size_t i = 0; i < tools->u.arr.n; i++) {
        const struct jinja_value *t = tools->u.arr.items[i], *fn = jinja_object_get(t, "function");
        const struct jinja_value *tn = jinja_object_get(jinja_value_type(fn) == JINJA_OBJECT ? fn : t, "name");
        if (jinja_value_type(tn) == JINJA_STRING && tn->u.str.n == name->u.str.n &&
            !memcmp(tn->u.str.s, name->u.str.s, name->u.str.n))
            return 1;
    }
    return 0;
}

/* One call object at s[*i] ('{'): {"name": ..., "arguments"|"parameters": {...}, "id"?}.
 * Appends it to p->out and moves *i past it. */
static int parse_call(tool_parser *p, size_t *i)
{
    const char *s = p->s;
    size_t at = *i, end = json_span(s, p->n, at);
    if (!end)
        return tool_fail(p, "byte %zu: the call's JSON is cut short", at);
    char err[160];
    struct jinja_value *v = json_parse(s + at, end - at, err, sizeof err);
    if (!v)
        return tool_fail(p, "byte %zu: the call is not valid JSON (%s)", at, err);
    const struct jinja_value *name = jinja_object_get(v, "name"), *id = jinja_object_get(v, "id");
    const struct jinja_value *args = jinja_object_get(v, "arguments");
    const char *args_key = "arguments";
    if (!args)
        args = jinja_object_get(v, "parameters"), args_key = "parameters";
    int rc = -1;
    if (jinja_value_type(v) != JINJA_OBJECT || jinja_value_type(name) != JINJA_STRING)
        tool_fail(p, "byte %zu: a call must be an object with a string \"name\"", at);
    else if (!tool_known(p->tools, name))
        tool_fail(p, "byte %zu: '%.*s' is not one of the request's tools", at, (int)(name->u.str.n > 64 ? 64 : name->u.str.n),
                  name->u.str.s);
    else if (args && jinja_value_type(args) != JINJA_OBJECT && jinja_value_type(args) != JINJA_STRING)
        tool_fail(p, "byte %zu: the call's \"%s\" must be an object", at, args_key);
    else
        rc = 0;
    /* the arguments as JSON text: the object's own bytes, or a string holding a JSON object */
    const char *a = "{}";
    size_t a_len = 2;
    if (rc == 0 && jinja_value_type(args) == JINJA_STRING) {
        struct jinja_value *inner = json_parse(args->u.str.s, args->u.str.n, err, sizeof err);
        if (jinja_value_type(inner) != JINJA_OBJECT)
            rc = tool_fail(p, "byte %zu: the call's \"%s\" string is not a JSON object", at, args_key);
        jinja_value_free(inner);
        a = args->u.str.s, a_len = args->u.str.n;
    } else if (rc == 0 && args) {
        /* find the member's value in the text (the object is known to be valid JSON) */
        size_t k = skip_space(s, end, at + 1);
        while (k < end && s[k] == '"') {
            size_t key_end = json_span(s, end, k);
            struct jinja_value *key = json_parse(s + k, key_end - k, NULL, 0);
            size_t v0 = skip_space(s, end, skip_space(s, end, key_end) + 1), v1 = json_span(s, end, v0);
            int match = key && key->u.str.n == strlen(args_key) && !memcmp(key->u.str.s, args_key, key->u.str.n);
            jinja_value_free(key);
            if (match)
                a = s + v0, a_len = v1 - v0; /* the last one, as the parser keeps the last value */
            k = skip_space(s, end, skip_space(s, end, v1) + 1);
        }
    }
    if (rc == 0) {
        jinja_buf_adds(&p->out, p->count ? ",{\"name\":" : "{\"name\":");
        put_json_string(&p->out, name->u.str.s, name->u.str.n);
        jinja_buf_adds(&p->out, ",\"arguments\":");
        put_json_string(&p->out, a, a_len);
        if (jinja_value_type(id) == JINJA_STRING) {
            jinja_buf_adds(&p->out, ",\"id\":");
            put_json_string(&p->out, id->u.str.s, id->u.str.n);
        }
        jinja_buf_addc(&p->out, '}');
        p->count++;
        *i = end;
    }
    jinja_value_free(v);
    return rc;
}

/* Llama 3.1/3.2: [<|python_tag|>]{"name": ..., "parameters": {...}}, the whole
 * output; several calls separated by ';' or whitespace. */
static int parse_llama3(tool_parser *p, size_t *content_len)
{
    size_t i = skip_space(p->s, p->n, 0);
    *content_len = 0;
    if (starts_with(p->s, p->n, i, PYTHON_TAG, LIT_LEN(PYTHON_TAG)))
        i = skip_space(p->s, p->n, i + LIT_LEN(PYTHON_TAG));
    if (i >= p->n || p->s[i] != '{')
        return tool_fail(p, "the text does not start with a call object");
    for (;;) {
        if (parse_call(p, &i))
            return -1;
        i = skip_space(p->s, p->n, i);
        if (i < p->n && p->s[i] == ';')
            i = skip_space(p->s, p->n, i + 1);
        if (i == p->n)
            return 0;
        if (p->s[i] != '{')
            return tool_fail(p, "byte %zu: text after the call", i);
    }
}

/* Hermes, Qwen: text, then <tool_call>{"name": ..., "arguments": {...}}</tool_call>, one or more. */
static int parse_hermes(tool_parser *p, size_t *content_len)
{
    size_t i = find_at(p->s, p->n, 0, TOOL_CALL_OPEN, LIT_LEN(TOOL_CALL_OPEN));
    *content_len = i;
    if (i == p->n)
        return tool_fail(p, "no <tool_call>");
    while (i < p->n) {
        if (!starts_with(p->s, p->n, i, TOOL_CALL_OPEN, LIT_LEN(TOOL_CALL_OPEN)))
            return tool_fail(p, "byte %zu: text after the calls", i);
        i = skip_space(p->s, p->n, i + LIT_LEN(TOOL_CALL_OPEN));
        if (i >= p->n || p->s[i] != '{')
            return tool_fail(p, "byte %zu: <tool_call> is not followed by a call object", i);
        if (parse_call(p, &i))
            return -1;
        i = skip_space(p->s, p->n, i);
        if (starts_with(p->s, p->n, i, TOOL_CALL_CLOSE, LIT_LEN(TOOL_CALL_CLOSE)))
            i = skip_space(p->s, p->n, i + LIT_LEN(TOOL_CALL_CLOSE));
        else if (i < p->n) /* a missing </tool_call> is forgiven only at the very end */
            return tool_fail(p, "byte %zu: no </tool_call> after the call", i);
    }
    return 0;
}

/* Mistral: [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}, ...]; the
 * marker is a control token, so usually absent from the text: then the array
 * must be the whole output. */
static int parse_mistral(tool_parser *p, size_t *content_len)
{
    size_t i = find_at(p->s, p->n, 0, MISTRAL_CALLS, LIT_LEN(MISTRAL_CALLS));
    int marked = i < p->n;
    *content_len = marked ? i : 0;
    i = skip_space(p->s, p->n, marked ? i + LIT_LEN(MISTRAL_CALLS) : 0);
    if (marked && i < p->n && p->s[i] == '{') { /* a single call without the array (only after the marker) */
        if (parse_call(p, &i))
            return -1;
    } else if (i < p->n && p->s[i] == '[') {
        i = skip_space(p->s, p->n, i + 1);
        for (;;) {
            if (i >= p->n || p->s[i] != '{')
                return tool_fail(p, "byte %zu: expected a call object", i);
            if (parse_call(p, &i))
                return -1;
            i = skip_space(p->s, p->n, i);
            if (i < p->n && p->s[i] == ',') {
                i = skip_space(p->s, p->n, i + 1);
                continue;
            }
            if (i < p->n && p->s[i] == ']')
                break;
            return tool_fail(p, "byte %zu: expected ',' or ']' in the list of calls", i);
        }
        i++;
    } else {
        return tool_fail(p, "the text does not start with a list of calls");
    }
    i = skip_space(p->s, p->n, i);
    return i == p->n ? 0 : tool_fail(p, "byte %zu: text after the calls", i);
}

bibim_status bibim_chat_parse_tool_calls(const char *text, size_t len, bibim_tool_format format,
                                         const char *tools_json, char **calls_json, size_t *content_len,
                                         char *errmsg, size_t errmsg_size)
{
    if (errmsg && errmsg_size)
        errmsg[0] = 0;
    if (calls_json)
        *calls_json = NULL;
    if (content_len)
        *content_len = len;
    if ((!text && len) || !calls_json || !content_len)
        return chat_fail(errmsg, errmsg_size, BIBIM_ERR_INVALID_ARG, "text, calls_json and content_len are required");
    if (format < BIBIM_TOOLS_GENERIC || format > BIBIM_TOOLS_MISTRAL)
        return chat_fail(errmsg, errmsg_size, BIBIM_ERR_INVALID_ARG, "unknown tool-call format %d", (int)format);
    size_t bad = bibim_utf8_valid(text, len);
    if (bad < len)
        return chat_fail(errmsg, errmsg_size, BIBIM_ERR_NOT_FOUND, "byte %zu: not valid UTF-8", bad);
    struct jinja_value *tools = NULL;
    if (tools_json) {
        bibim_status st = parse_json_var("tools", tools_json, JINJA_ARRAY, &tools, errmsg, errmsg_size);
        if (st != BIBIM_OK)
            return st;
    }
    tool_parser p = {.s = text ? text : "", .n = len, .tools = tools, .err = errmsg, .err_size = errmsg_size};
    jinja_buf_addc(&p.out, '[');
    if (format == BIBIM_TOOLS_GENERIC) { /* explicit markers first, then bare JSON */
        size_t i = skip_space(p.s, len, 0);
        if (find_at(p.s, len, 0, TOOL_CALL_OPEN, LIT_LEN(TOOL_CALL_OPEN)) < len)
            format = BIBIM_TOOLS_HERMES;
        else if (find_at(p.s, len, 0, MISTRAL_CALLS, LIT_LEN(MISTRAL_CALLS)) < len || (i < len && p.s[i] == '['))
            format = BIBIM_TOOLS_MISTRAL;
        else
            format = BIBIM_TOOLS_LLAMA3;
    }
    size_t content = len;
    int rc = format == BIBIM_TOOLS_LLAMA3   ? parse_llama3(&p, &content)
             : format == BIBIM_TOOLS_HERMES ? parse_hermes(&p, &content)
                                            : parse_mistral(&p, &content);
    jinja_value_free(tools);
    jinja_buf_addc(&p.out, ']');
    jinja_buf_addc(&p.out, 0);
    if (rc != 0 || p.out.oom) {
        free(p.out.p);
        return rc != 0 ? BIBIM_ERR_NOT_FOUND : chat_fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory");
    }
    *calls_json = p.out.p;
    *content_len = content;
    return BIBIM_OK;
}

size_t bibim_chat_tool_call_start(const char *text, size_t len, bibim_tool_format format)
{
    if (!text)
        return 0;
    int llama = format == BIBIM_TOOLS_LLAMA3 || format == BIBIM_TOOLS_GENERIC;
    int mistral = format == BIBIM_TOOLS_MISTRAL || format == BIBIM_TOOLS_GENERIC;
    int hermes = format == BIBIM_TOOLS_HERMES || format == BIBIM_TOOLS_GENERIC;
    size_t i = skip_space(text, len, 0);
    if (llama || mistral) { /* a call that must start the output */
        if (i == len)
            return 0;
        if ((llama && text[i] == '{') || (mistral && text[i] == '['))
            return 0;
        size_t k = len - i;
        if (llama && !memcmp(text + i, PYTHON_TAG, k < LIT_LEN(PYTHON_TAG) ? k : LIT_LEN(PYTHON_TAG)))
            return 0;
        if (mistral && !memcmp(text + i, MISTRAL_CALLS, k < LIT_LEN(MISTRAL_CALLS) ? k : LIT_LEN(MISTRAL_CALLS)))
            return 0;
    }
    size_t start = len, at;
    if (hermes) {
        at = find_at(text, len, 0, TOOL_CALL_OPEN, LIT_LEN(TOOL_CALL_OPEN));
        start = at < start ? at : start;
        at = partial_at_end(text, len, TOOL_CALL_OPEN, LIT_LEN(TOOL_CALL_OPEN));
        start = at < start ? at : start;
    }
    if (mistral) {
        at = find_at(text, len, 0, MISTRAL_CALLS, LIT_LEN(MISTRAL_CALLS));
        start = at < start ? at : start;
        at = partial_at_end(text, len, MISTRAL_CALLS, LIT_LEN(MISTRAL_CALLS));
        start = at < start ? at : start;
    }
    return start;
}
