/* json.c — a strict recursive-descent JSON parser producing jinja values.
 * Recursion is bounded by JSON_MAX_DEPTH, so hostile input cannot exhaust
 * the stack. */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_internal.h"
#include "unicode.h"

typedef struct json_parser {
    const char *s;
    size_t n, pos;
    int depth;
    char *err;
    size_t err_size;
    int failed;
} json_parser;

static void json_fail(json_parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (!p->err || !p->err_size)
        return;
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < p->pos && i < p->n; i++)
        if (p->s[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    int k = snprintf(p->err, p->err_size, "line %d, column %zu: ", line, p->pos - line_start + 1);
    if (k < 0 || (size_t)k >= p->err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, p->err_size - (size_t)k, fmt, ap);
    va_end(ap);
}

static void skip_space(json_parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static struct jinja_value *parse_value(json_parser *p);

static int literal(json_parser *p, const char *word)
{
    size_t len = strlen(word);
    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0) {
        json_fail(p, "unexpected text (expected a value)");
        return 0;
    }
    p->pos += len;
    return 1;
}

static int hex4(json_parser *p, unsigned *out)
{
    if (p->n - p->pos < 4) {
        json_fail(p, "truncated \\u escape");
        return 0;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + (size_t)i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else {
            json_fail(p, "bad hex digit in \\u escape");
            return 0;
        }
        v = v * 16 + d;
    }
    p->pos += 4;
    *out = v;
    return 1;
}

/* After a backslash: appends the escaped character to b. */
static int parse_escape(json_parser *p, struct jinja_buf *b)
{
    if (p->pos >= p->n) {
        json_fail(p, "unterminated string");
        return 0;
    }
    char c = p->s[p->pos++];
    const char *simple = strchr("\"\\/bfnrt", c);
    if (simple && c) {
        static const char decoded[] = "\"\\/\b\f\n\r\t";
        jinja_buf_addc(b, decoded[simple - "\"\\/bfnrt"]);
        return 1;
    }
    if (c != 'u') {
        p->pos -= 2; /* point at the backslash */
        json_fail(p, "invalid escape \\%c", c);
        return 0;
    }
    unsigned cp;
    if (!hex4(p, &cp))
        return 0;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        json_fail(p, "lone low surrogate \\u%04X", cp);
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        if (p->n - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
            json_fail(p, "high surrogate \\u%04X without its low surrogate", cp);
            return 0;
        }
        p->pos += 2;
        if (!hex4(p, &lo))
            return 0;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            json_fail(p, "high surrogate \\u%04X followed by \\u%04X", cp, lo);
            return 0;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    char utf8[4];
    jinja_buf_add(b, utf8, unicode_encode_utf8(cp, utf8));
    return 1;
}

/* p->pos is just after the opening quote. Returns a malloc'd string. */
static char *parse_string_raw(json_parser *p, size_t *len)
{
    struct jinja_buf b = {0};
    for (;;) {
        if (p->pos >= p->n) {
            json_fail(p, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            jinja_buf_addc(&b, 0);
            if (b.oom) {
                json_fail(p, "out of memory");
                break;
            }
            *len = b.n - 1;
            return b.p;
        }
        if (c < 0x20) {
            json_fail(p, "control character 0x%02X in a string (escape it)", c);
            break;
        }
        if (c == '\\') {
            p->pos++;
            if (!parse_escape(p, &b))
                break;
            continue;
        }
        size_t nb;
        if (unicode_decode_utf8(p->s + p->pos, p->n - p->pos, &nb) == UNICODE_INVALID) {
            json_fail(p, "invalid UTF-8 byte 0x%02X in a string", c);
            break;
        }
        jinja_buf_add(&b, p->s + p->pos, nb);
        p->pos += nb;
    }
    free(b.p);
    return NULL;
}

static struct jinja_value *parse_number(json_parser *p)
{
    size_t start = p->pos;
    int is_int = 1;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
        json_fail(p, "a number needs digits");
        return NULL;
    }
    if (p->s[p->pos] == '0' && p->pos + 1 < p->n && p->s[p->pos + 1] >= '0' && p->s[p->pos + 1] <= '9') {
        json_fail(p, "leading zero in a number");
        return NULL;
    }
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    if (p->pos < p->n && p->s[p->pos] == '.') {
        is_int = 0;
        p->pos++;
        size_t digits = p->pos;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
        if (p->pos == digits) {
            json_fail(p, "a fraction needs digits after '.'");
            return NULL;
        }
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        is_int = 0;
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        size_t digits = p->pos;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
        if (p->pos == digits) {
            json_fail(p, "an exponent needs digits");
            return NULL;
        }
    }
    char buf[512];
    size_t len = p->pos - start;
    if (len >= sizeof buf) {
        p->pos = start;
        json_fail(p, "number longer than %zu characters", sizeof buf - 1);
        return NULL;
    }
    memcpy(buf, p->s + start, len);
    buf[len] = 0;
    struct jinja_value *v;
    if (is_int) {
        errno = 0;
        long long i = strtoll(buf, NULL, 10);
        v = errno == ERANGE ? jinja_value_float(strtod(buf, NULL)) : jinja_value_int(i);
    } else {
        v = jinja_value_float(strtod(buf, NULL));
    }
    if (!v)
        json_fail(p, "out of memory");
    return v;
}

static struct jinja_value *parse_array(json_parser *p)
{
    struct jinja_value *arr = jinja_value_array();
    if (!arr) {
        json_fail(p, "out of memory");
        return NULL;
    }
    skip_space(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
        return arr;
    }
    for (;;) {
        skip_space(p);
        if (p->pos < p->n && p->s[p->pos] == ']') {
            json_fail(p, "trailing comma before ']'");
            break;
        }
        struct jinja_value *item = parse_value(p);
        if (!item)
            break;
        if (jinja_array_push(arr, item) != 0) {
            json_fail(p, "out of memory");
            break;
        }
        skip_space(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == ']') {
            p->pos++;
            return arr;
        }
        json_fail(p, p->pos < p->n ? "expected ',' or ']' in an array" : "unterminated array");
        break;
    }
    jinja_value_free(arr);
    return NULL;
}

static struct jinja_value *parse_object(json_parser *p)
{
    struct jinja_value *obj = jinja_value_object();
    if (!obj) {
        json_fail(p, "out of memory");
        return NULL;
    }
    skip_space(p);
    if (p->pos < p->n && p->s[p->pos] == '}') {
        p->pos++;
        return obj;
    }
    for (;;) {
        skip_space(p);
        if (p->pos >= p->n || p->s[p->pos] != '"') {
            json_fail(p, p->pos >= p->n         ? "unterminated object"
                         : p->s[p->pos] == '}' ? "trailing comma before '}'"
                                               : "expected a string key in an object");
            break;
        }
        p->pos++;
        size_t key_len;
        char *key = parse_string_raw(p, &key_len);
        if (!key)
            break;
        if (memchr(key, 0, key_len)) {
            free(key);
            json_fail(p, "object key contains \\u0000");
            break;
        }
        skip_space(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') {
            free(key);
            json_fail(p, "expected ':' after an object key");
            break;
        }
        p->pos++;
        struct jinja_value *v = parse_value(p);
        int rc = v ? jinja_object_set(obj, key, v) : -1;
        free(key);
        if (!v)
            break;
        if (rc != 0) {
            json_fail(p, "out of memory");
            break;
        }
        skip_space(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == '}') {
            p->pos++;
            return obj;
        }
        json_fail(p, p->pos < p->n ? "expected ',' or '}' in an object" : "unterminated object");
        break;
    }
    jinja_value_free(obj);
    return NULL;
}

static struct jinja_value *parse_value(json_parser *p)
{
    skip_space(p);
    if (p->pos >= p->n) {
        json_fail(p, "unexpected end of input (expected a value)");
        return NULL;
    }
    char c = p->s[p->pos];
    struct jinja_value *v = NULL;
    if (c == '{' || c == '[') {
        if (p->depth >= JSON_MAX_DEPTH) {
            json_fail(p, "nested deeper than %d levels", JSON_MAX_DEPTH);
            return NULL;
        }
        p->depth++;
        p->pos++;
        v = c == '{' ? parse_object(p) : parse_array(p);
        p->depth--;
        return v;
    }
    if (c == '"') {
        p->pos++;
        size_t len;
        char *s = parse_string_raw(p, &len);
        if (!s)
            return NULL;
        v = jinja_value_stringn(s, len);
        free(s);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        return parse_number(p);
    } else if (c == 't') {
        v = literal(p, "true") ? jinja_value_bool(1) : NULL;
    } else if (c == 'f') {
        v = literal(p, "false") ? jinja_value_bool(0) : NULL;
    } else if (c == 'n') {
        v = literal(p, "null") ? jinja_value_null() : NULL;
    } else {
        json_fail(p, "unexpected character '%c' (expected a value)", c);
        return NULL;
    }
    if (!v)
        json_fail(p, "out of memory");
    return v;
}

struct jinja_value *json_parse(const char *text, size_t len, char *err, size_t err_size)
{
    json_parser p = {.s = text, .n = len, .err = err, .err_size = err_size};
    if (err && err_size)
        err[0] = 0;
    struct jinja_value *v = parse_value(&p);
    if (!v)
        return NULL;
    skip_space(&p);
    if (p.pos < p.n) {
        json_fail(&p, "unexpected text after the JSON value");
        jinja_value_free(v);
        return NULL;
    }
    return v;
}
