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
