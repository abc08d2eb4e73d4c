/* fuzz_jinja.c — libFuzzer target for the Jinja template engine.
 *
 * The input is template text, rendered with a small fixed context like a
 * chat's: messages (a system prompt, turns, a tool call, content as a list
 * of parts), tools, bos/eos tokens and add_generation_prompt. Tight limits
 * (256 KiB of text, 200k steps) keep hostile templates such as
 * {% for i in range(10**9) %} fast: they must fail cleanly. A render either
 * succeeds with a NUL-terminated text of the length it reports, or fails
 * with a 1-based position and a reason; anything else traps. */
#include "jinja.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

static struct jinja_value *msg(const char *role, struct jinja_value *content)
{
    struct jinja_value *m = jinja_value_object();
    jinja_object_set(m, "role", jinja_value_string(role));
    jinja_object_set(m, "content", content);
    return m;
}

static struct jinja_value *make_context(void)
{
    struct jinja_value *ctx = jinja_value_object(), *msgs = jinja_value_array();
    jinja_array_push(msgs, msg("system", jinja_value_string("You are a helpful assistant.")));
    jinja_array_push(msgs, msg("user", jinja_value_string("  Hello, \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\n")));
    struct jinja_value *call = jinja_value_object(), *fn = jinja_value_object(), *args = jinja_value_object();
    jinja_object_set(args, "city", jinja_value_string("Paris"));
    jinja_object_set(args, "days", jinja_value_int(2));
    jinja_object_set(args, "ratio", jinja_value_float(0.5));
    jinja_object_set(fn, "name", jinja_value_string("get_weather"));
    jinja_object_set(fn, "arguments", args);
    jinja_object_set(call, "type", jinja_value_string("function"));
    jinja_object_set(call, "function", fn);
    struct jinja_value *calls = jinja_value_array();
    jinja_array_push(calls, call);
    struct jinja_value *a = msg("assistant", jinja_value_null());
    jinja_object_set(a, "tool_calls", calls);
    jinja_array_push(msgs, a);
    jinja_array_push(msgs, msg("tool", jinja_value_string("{\"temp\": 21.5}")));
    struct jinja_value *parts = jinja_value_array(), *p1 = jinja_value_object(), *p2 = jinja_value_object();
    jinja_object_set(p1, "type", jinja_value_string("image"));
    jinja_object_set(p2, "type", jinja_value_string("text"));
    jinja_object_set(p2, "text", jinja_value_string("What is this?"));
    jinja_array_push(parts, p1);
    jinja_array_push(parts, p2);
    jinja_array_push(msgs, msg("user", parts));
    jinja_array_push(msgs, msg("assistant", jinja_value_string("<think>\nhm\n</think>\n\nA cat.")));
    jinja_object_set(ctx, "messages", msgs);
    struct jinja_value *tools = jinja_value_array(), *tool = jinja_value_object(), *tf = jinja_value_object();
    jinja_object_set(tf, "name", jinja_value_string("get_weather"));
    jinja_object_set(tf, "parameters", jinja_value_object());
    jinja_object_set(tool, "type", jinja_value_string("function"));
    jinja_object_set(tool, "function", tf);
    jinja_array_push(tools, tool);
    jinja_object_set(ctx, "tools", tools);
    jinja_object_set(ctx, "bos_token", jinja_value_string("<s>"));
    jinja_object_set(ctx, "eos_token", jinja_value_string("</s>"));
    jinja_object_set(ctx, "add_generation_prompt", jinja_value_bool(1));
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jinja_value *ctx;
    if (!ctx)
        ctx = make_context();
    FUZZ_REQUIRE(ctx != NULL);
    struct jinja_limits limits = {256 << 10, 200000};
    char *out = NULL;
    size_t n = 0;
    struct jinja_error err;
    int rc = jinja_render_limited((const char *)data, size, ctx, &limits, &out, &n, &err);
    if (rc == 0) {
        FUZZ_REQUIRE(out != NULL && out[n] == 0 && n <= limits.max_bytes);
    } else {
        FUZZ_REQUIRE(rc == -1 && out == NULL && err.line >= 1 && err.column >= 1 && err.reason[0] != 0);
        FUZZ_REQUIRE(memchr(err.reason, 0, sizeof err.reason) != NULL);
    }
    free(out);
    return 0;
}
