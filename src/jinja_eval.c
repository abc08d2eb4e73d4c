/* Jinja evaluator: statements, expressions, tests, filters and methods, with
 * @huggingface/jinja 0.5.11's semantics (its runtime is JavaScript: numbers
 * are doubles, == is JavaScript's loose equality, strings count UTF-16 units,
 * macros see the scope they are called from, and so on). */
#include "jinja_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JINJA_MAX_EVAL_DEPTH 400
/* Steps (see jinja_limits) per list item made and bytes of text per step:
 * they also bound the memory a render can hold. */
#define JV_ITEM_STEPS 4
#define JV_BYTES_PER_STEP 16

enum jinja_fn {
    JF_RANGE, JF_NAMESPACE, JF_RAISE, JF_STRFTIME, JF_MACRO, JF_CALLER,
    /* string methods */
    JM_UPPER, JM_LOWER, JM_STRIP, JM_LSTRIP, JM_RSTRIP, JM_TITLE, JM_CAPITALIZE, JM_STARTSWITH,
    JM_ENDSWITH, JM_SPLIT, JM_REPLACE,
    /* object methods */
    JM_GET, JM_ITEMS, JM_KEYS, JM_VALUES, JM_DICTSORT
};

struct jinja_scope {
    struct jinja_value *vars; /* object */
    struct jinja_scope *parent;
};

struct jinja_ev {
    struct jinja_diag *d;
    int depth;
    int jump; /* a break (1) or continue (2) is unwinding to its loop */
    size_t jump_pos;
    struct jinja_scope *globals;
    unsigned long long steps, max_steps;
    size_t max_bytes;
    /* every namespace made, emptied at the end: assignments can make cycles */
    struct jinja_value **spaces;
    size_t nspaces, capspaces;
};

#define JV_BUF(E) ((struct jinja_buf){.limit = (E)->max_bytes})

static struct jinja_value *jv_oom(struct jinja_ev *E, size_t pos)
{
    if (!E->jump)
        jinja_diag_set(E->d, pos, "out of memory");
    return NULL;
}

static struct jinja_value *jv_ok(struct jinja_ev *E, struct jinja_value *v, size_t pos)
{
    return v ? v : jv_oom(E, pos);
}

static struct jinja_value *jv_fail(struct jinja_ev *E, size_t pos, const char *msg)
{
    jinja_diag_set(E->d, pos, "%s", msg);
    return NULL;
}

/* Counts work; fails once the template has done more than its limit. */
static int jv_step(struct jinja_ev *E, size_t pos, unsigned long long n)
{
    E->steps += n;
    if (E->steps > E->max_steps) {
        jinja_diag_set(E->d, pos, "the template does too much work (over %llu steps)", E->max_steps);
        return -1;
    }
    return 0;
}

static int jv_buf_check(struct jinja_ev *E, const struct jinja_buf *b, size_t pos)
{
    if (b->oom == 2)
        jinja_diag_set(E->d, pos, "a string is too long (over %zu bytes)", E->max_bytes);
    else if (b->oom)
        jv_oom(E, pos);
    return b->oom ? -1 : 0;
}

static struct jinja_value *jv_from_buf(struct jinja_ev *E, struct jinja_buf *b, size_t pos)
{
    struct jinja_value *v = NULL;
    if (jv_buf_check(E, b, pos) == 0 && jv_step(E, pos, b->n / JV_BYTES_PER_STEP + 1) == 0) {
        v = jinja_value_stringn(b->p ? b->p : "", b->n);
        if (!v)
            jv_oom(E, pos);
    }
    free(b->p);
    b->p = NULL;
    return v;
}

static struct jinja_value *jv_number(double f, int is_int)
{
    struct jinja_value *v = jinja_value_float(f);
    if (v && is_int)
        v->type = JINJA_INT;
    return v;
}

static struct jinja_value *jv_sub(struct jinja_value *v, unsigned char sub)
{
    if (v)
        v->sub = sub;
    return v;
}

static const char *jv_type_name(const struct jinja_value *v)
{
    switch (v->type) {
    case JINJA_UNDEFINED: return "UndefinedValue";
    case JINJA_NULL: return "NullValue";
    case JINJA_BOOL: return "BooleanValue";
    case JINJA_INT: return "IntegerValue";
    case JINJA_FLOAT: return "FloatValue";
    case JINJA_STRING: return "StringValue";
    case JINJA_ARRAY: return v->sub == JV_TUPLE ? "TupleValue" : "ArrayValue";
    case JINJA_OBJECT: return v->sub == JV_NAMESPACE ? "NamespaceValue" : v->sub == JV_KWARGS ? "KeywordArgumentsValue" : "ObjectValue";
    default: return "FunctionValue";
    }
}

static int jv_is_num(const struct jinja_value *v) { return v->type == JINJA_INT || v->type == JINJA_FLOAT; }
/* instanceof ObjectValue: plain objects and keyword arguments, not namespaces */
static int jv_is_obj(const struct jinja_value *v) { return v->type == JINJA_OBJECT && v->sub != JV_NAMESPACE; }

/* __bool__ */
static int jv_truthy(const struct jinja_value *v)
{
    switch (v->type) {
    case JINJA_BOOL: return v->u.b;
    case JINJA_INT:
    case JINJA_FLOAT: return v->u.f != 0 && !isnan(v->u.f);
    case JINJA_STRING: return v->u.str.n > 0;
    case JINJA_ARRAY: return v->u.arr.n > 0;
    case JINJA_OBJECT: return v->sub == JV_NAMESPACE || v->u.obj.n > 0; /* a namespace is a JS Map */
    case JINJA_CALLABLE: return 1;
    default: return 0;
    }
}

/* JavaScript truthiness of the raw value (arrays and maps are objects: true) */
static int jv_js_truthy(const struct jinja_value *v)
{
    return v->type == JINJA_ARRAY || v->type == JINJA_OBJECT || jv_truthy(v);
}

/* ---- text forms ---- */

/* Number.prototype.toString */
static void jv_fmt_num(struct jinja_buf *b, double f)
{
    char tmp[64];
    if (isnan(f)) {
        jinja_buf_adds(b, "NaN");
        return;
    }
    if (isinf(f)) {
        jinja_buf_adds(b, f < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (f == 0) {
        jinja_buf_addc(b, '0');
        return;
    }
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    /* tmp = d.ddde[+-]XX: rebuild in JS notation */
    char digits[32];
    int nd = 0, neg = tmp[0] == '-';
    const char *p = tmp + neg;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        jinja_buf_addc(b, '-');
    if (exp >= 21 || exp <= -7) {
        jinja_buf_addc(b, digits[0]);
        if (nd > 1) {
            jinja_buf_addc(b, '.');
            jinja_buf_add(b, digits + 1, (size_t)nd - 1);
        }
        snprintf(tmp, sizeof tmp, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        jinja_buf_adds(b, tmp);
    } else if (exp < 0) {
        jinja_buf_adds(b, "0.");
        for (int i = 0; i < -exp - 1; i++)
            jinja_buf_addc(b, '0');
        jinja_buf_add(b, digits, (size_t)nd);
    } else if (nd <= exp + 1) {
        jinja_buf_add(b, digits, (size_t)nd);
        for (int i = nd; i < exp + 1; i++)
            jinja_buf_addc(b, '0');
    } else {
        jinja_buf_add(b, digits, (size_t)exp + 1);
        jinja_buf_addc(b, '.');
        jinja_buf_add(b, digits + exp + 1, (size_t)(nd - exp - 1));
    }
}

/* FloatValue.toString: -0.0, integral values with ".0" (toFixed(1)) */
static void jv_fmt_float(struct jinja_buf *b, double f)
{
    char tmp[400];
    if (f == 0 && signbit(f))
        jinja_buf_adds(b, "-0.0");
    else if (isfinite(f) && fmod(f, 1.0) == 0 && fabs(f) < 1e21) {
        snprintf(tmp, sizeof tmp, "%.1f", f);
        jinja_buf_adds(b, tmp);
    } else
        jv_fmt_num(b, f);
}

/* Decodes one UTF-8 sequence (lone surrogates in their 3-byte form count). */
static unsigned jv_decode(const char *s, size_t n, size_t i, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t avail = n - i;
    if (u[0] >= 0xF0 && avail >= 4) {
        *len = 4;
        return ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
    }
    if (u[0] >= 0xE0 && avail >= 3) {
        *len = 3;
        return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    }
    if (u[0] >= 0xC0 && avail >= 2) {
        *len = 2;
        return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
    }
    *len = 1;
    return u[0];
}

static void jv_encode(struct jinja_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jinja_buf_add(b, u, n);
}

/* JSON.stringify of a string, with ensure_ascii's \uXXXX for U+007F and up */
static void jv_json_string(struct jinja_buf *b, const char *s, size_t n, int ascii)
{
    char tmp[16];
    jinja_buf_addc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': jinja_buf_adds(b, "\\\""); break;
            case '\\': jinja_buf_adds(b, "\\\\"); break;
            case '\n': jinja_buf_adds(b, "\\n"); break;
            case '\r': jinja_buf_adds(b, "\\r"); break;
            case '\t': jinja_buf_adds(b, "\\t"); break;
            case '\b': jinja_buf_adds(b, "\\b"); break;
            case '\f': jinja_buf_adds(b, "\\f"); break;
            default:
                if (c < 0x20 || (c == 0x7F && ascii)) {
                    snprintf(tmp, sizeof tmp, "\\u%04x", c);
                    jinja_buf_adds(b, tmp);
                } else {
                    jinja_buf_addc(b, (char)c);
                }
            }
            i++;
            continue;
        }
        size_t l;
        unsigned cp = jv_decode(s, n, i, &l);
        if (cp >= 0xD800 && cp < 0xDC00 && i + l + 3 <= n) {
            size_t l2;
            unsigned lo = jv_decode(s, n, i + l, &l2);
            if (lo >= 0xDC00 && lo < 0xE000) { /* a split pair is one character again */
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                l += l2;
            }
        }
        if (cp >= 0xD800 && cp < 0xE000) { /* lone surrogate: JSON.stringify escapes it */
            snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            jinja_buf_adds(b, tmp);
        } else if (ascii && cp >= 0x10000) {
            snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF));
            jinja_buf_adds(b, tmp);
        } else if (ascii) {
            snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            jinja_buf_adds(b, tmp);
        } else {
            jv_encode(b, cp);
        }
        i += l;
    }
    jinja_buf_addc(b, '"');
}

struct jv_json_opts {
    long long indent; /* 0: none */
    int ascii, sort_keys;
    const char *item_sep, *key_sep; /* NULL: the defaults */
    int undef_null;                 /* undefined as null (tojson) or "undefined" (toString) */
};

/* localeCompare for sort_keys (ICU's root collation) on ASCII: primary
 * weights in the order below (letters without case; other control
 * characters are ignored), then lower case before upper; characters beyond
 * ASCII come after it by code point. Equal strings keep their order. */
static int jv_collate_weight(unsigned char c)
{
    static const char order[] = "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";
    if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c + 32);
    const char *p = c > 0 && c < 0x7F ? strchr(order, c) : NULL;
    return p ? (int)(p - order) + 1 : c < 0x80 ? 0 : 0x100 + c; /* 0: ignored */
}

static int jv_locale_cmp(const char *a, const char *b)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0, j = 0;
        for (;;) {
            while (a[i] && !jv_collate_weight((unsigned char)a[i]))
                i++;
            while (b[j] && !jv_collate_weight((unsigned char)b[j]))
                j++;
            if (!a[i] || !b[j]) {
                if (a[i] || b[j])
                    return a[i] ? 1 : -1;
                break;
            }
            int x, y;
            if (pass == 0) {
                x = jv_collate_weight((unsigned char)a[i]);
                y = jv_collate_weight((unsigned char)b[j]);
            } else { /* lower case before upper */
                x = a[i] >= 'A' && a[i] <= 'Z';
                y = b[j] >= 'A' && b[j] <= 'Z';
            }
            if (x != y)
                return x < y ? -1 : 1;
            i++;
            j++;
        }
    }
    return 0;
}

static int jv_json(struct jinja_ev *E, struct jinja_buf *b, const struct jinja_value *v, const struct jv_json_opts *o,
                   long long depth, size_t pos)
{
    switch (v->type) {
    case JINJA_NULL: jinja_buf_adds(b, "null"); return 0;
    case JINJA_UNDEFINED: jinja_buf_adds(b, o->undef_null ? "null" : "undefined"); return 0;
    case JINJA_BOOL: jinja_buf_adds(b, v->u.b ? "true" : "false"); return 0;
    case JINJA_INT:
    case JINJA_FLOAT:
        if (isfinite(v->u.f))
            jv_fmt_num(b, v->u.f);
        else
            jinja_buf_adds(b, "null");
        return 0;
    case JINJA_STRING: jv_json_string(b, v->u.str.s, v->u.str.n, o->ascii); return 0;
    case JINJA_ARRAY:
    case JINJA_OBJECT: {
        if (v->sub == (v->type == JINJA_ARRAY ? JV_TUPLE : JV_KWARGS))
            break;
        if (o->indent < 0) {
            jinja_diag_set(E->d, pos, "invalid indent: %lld", o->indent);
            return -1;
        }
        if (++E->depth > JINJA_MAX_EVAL_DEPTH) {
            jinja_diag_set(E->d, pos, "value nested too deeply");
            return -1;
        }
        int is_arr = v->type == JINJA_ARRAY, ind = o->indent > 0;
        size_t n = is_arr ? v->u.arr.n : v->u.obj.n;
        const char *isep = o->item_sep ? o->item_sep : ind ? "," : ", ";
        const char *ksep = o->key_sep ? o->key_sep : ": ";
        size_t *order = NULL;
        if (!is_arr && o->sort_keys && n > 1) {
            order = malloc(n * sizeof *order);
            if (!order) {
                jv_oom(E, pos);
                return -1;
            }
            for (size_t i = 0; i < n; i++) {
                size_t j = i;
                for (; j > 0 && jv_locale_cmp(v->u.obj.keys[order[j - 1]], v->u.obj.keys[i]) > 0; j--)
                    order[j] = order[j - 1];
                order[j] = i;
            }
        }
        int rc = jv_step(E, pos, n);
        jinja_buf_addc(b, is_arr ? '[' : '{');
        for (size_t i = 0; i < n && rc == 0 && !b->oom; i++) {
            if (i)
                jinja_buf_adds(b, isep);
            if (ind) {
                jinja_buf_addc(b, '\n');
                for (long long k = 0; k < o->indent * (depth + 1) && !b->oom; k++)
                    jinja_buf_addc(b, ' ');
            }
            if (is_arr) {
                rc = jv_json(E, b, v->u.arr.items[i], o, depth + 1, pos);
            } else {
                size_t k = order ? order[i] : i;
                jv_json_string(b, v->u.obj.keys[k], strlen(v->u.obj.keys[k]), o->ascii);
                jinja_buf_adds(b, ksep);
                rc = jv_json(E, b, v->u.obj.vals[k], o, depth + 1, pos);
            }
        }
        if (ind && n > 0) {
            jinja_buf_addc(b, '\n');
            for (long long k = 0; k < o->indent * depth && !b->oom; k++)
                jinja_buf_addc(b, ' ');
        }
        jinja_buf_addc(b, is_arr ? ']' : '}');
        free(order);
        E->depth--;
        return rc;
    }
    default: break;
    }
    jinja_diag_set(E->d, pos, "cannot convert to JSON: %s", jv_type_name(v));
    return -1;
}

/* RuntimeValue.toString(): what {{ v }} prints (after skipping none/undefined) */
static int jv_str(struct jinja_ev *E, struct jinja_buf *b, const struct jinja_value *v, size_t pos)
{
    static const struct jv_json_opts plain = {0, 0, 0, NULL, NULL, 0};
    switch (v->type) {
    case JINJA_UNDEFINED:
    case JINJA_NULL: jinja_buf_adds(b, "undefined"); return 0; /* HF's NullValue holds undefined */
    case JINJA_BOOL: jinja_buf_adds(b, v->u.b ? "true" : "false"); return 0;
    case JINJA_INT: jv_fmt_num(b, v->u.f); return 0;
    case JINJA_FLOAT: jv_fmt_float(b, v->u.f); return 0;
    case JINJA_STRING: jinja_buf_add(b, v->u.str.s, v->u.str.n); return 0;
    case JINJA_ARRAY:
    case JINJA_OBJECT: return jv_json(E, b, v, &plain, 0, pos);
    default: break;
    }
    jinja_diag_set(E->d, pos, "cannot convert a function to a string");
    return -1;
}

/* String(v.value): the raw JavaScript value as text (for +, ~ and join) */
static int jv_raw_str(struct jinja_ev *E, struct jinja_buf *b, const struct jinja_value *v, size_t pos)
{
    switch (v->type) {
    case JINJA_INT:
    case JINJA_FLOAT: jv_fmt_num(b, v->u.f); return 0;
    case JINJA_OBJECT: jinja_buf_adds(b, "[object Map]"); return 0;
    case JINJA_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i)
                jinja_buf_addc(b, ',');
            if (jv_str(E, b, v->u.arr.items[i], pos) != 0)
                return -1;
        }
        return 0;
    default: return jv_str(E, b, v, pos);
    }
}

/* ---- equality ---- */

/* JavaScript's StringToNumber */
static double jv_str_to_num(const char *s, size_t n)
{
    size_t a = 0, l;
    while ((l = jinja_space_at(s, n, a)) > 0)
        a += l;
    while (n > a && (l = jinja_space_before(s, n)) > 0)
        n -= l;
    s += a;
    n -= a;
    if (n == 0)
        return 0;
    char tmp[400];
    if (n >= sizeof tmp)
        return NAN;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    const char *p = tmp;
    if (n > 2 && p[0] == '0' && strchr("xXoObB", p[1])) {
        int base = (p[1] | 32) == 'x' ? 16 : (p[1] | 32) == 'o' ? 8 : 2;
        double r = 0;
        for (size_t i = 2; i < n; i++) {
            int c = p[i], dv = c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : 99;
            if (dv >= base)
                return NAN;
            r = r * base + dv;
        }
        return r;
    }
    size_t i = 0;
    if (p[i] == '+' || p[i] == '-')
        i++;
    if (!strcmp(p + i, "Infinity"))
        return p[0] == '-' ? -INFINITY : INFINITY;
    size_t digits = 0;
    while (p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (p[i] == '.') {
        i++;
        while (p[i] >= '0' && p[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return NAN;
    if (p[i] == 'e' || p[i] == 'E') {
        i++;
        if (p[i] == '+' || p[i] == '-')
            i++;
        if (!(p[i] >= '0' && p[i] <= '9'))
            return NAN;
        while (p[i] >= '0' && p[i] <= '9')
            i++;
    }
    return p[i] ? NAN : strtod(p, NULL);
}

/* ===: same number, same string, same boolean, both null, both undefined, same object */
static int jv_same(const struct jinja_value *a, const struct jinja_value *b)
{
    if (jv_is_num(a) && jv_is_num(b))
        return a->u.f == b->u.f;
    int na = a->type == JINJA_NULL || a->type == JINJA_UNDEFINED, nb = b->type == JINJA_NULL || b->type == JINJA_UNDEFINED;
    if (na || nb) /* HF's NullValue holds undefined too */
        return na && nb;
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case JINJA_BOOL: return a->u.b == b->u.b;
    case JINJA_STRING: return a->u.str.n == b->u.str.n && memcmp(a->u.str.s, b->u.str.s, a->u.str.n) == 0;
    default: return a == b;
    }
}

/* ==, JavaScript's loose equality on the raw values; -1 on error */
static int jv_loose_eq(struct jinja_ev *E, const struct jinja_value *a, const struct jinja_value *b, size_t pos)
{
    int na = a->type == JINJA_NULL || a->type == JINJA_UNDEFINED, nb = b->type == JINJA_NULL || b->type == JINJA_UNDEFINED;
    if (na || nb)
        return na && nb;
    if (a->type == b->type || (jv_is_num(a) && jv_is_num(b)))
        return jv_same(a, b);
    int oa = a->type == JINJA_ARRAY || a->type == JINJA_OBJECT || a->type == JINJA_CALLABLE;
    int ob = b->type == JINJA_ARRAY || b->type == JINJA_OBJECT || b->type == JINJA_CALLABLE;
    if (oa && ob)
        return 0;
    if (oa || ob) { /* an object against a primitive: compare its string form */
        const struct jinja_value *o = oa ? a : b, *prim = oa ? b : a;
        if (o->type == JINJA_CALLABLE)
            return 0;
        struct jinja_buf t = JV_BUF(E);
        if (jv_raw_str(E, &t, o, pos) != 0 || jv_buf_check(E, &t, pos) != 0) {
            free(t.p);
            return -1;
        }
        struct jinja_value sv = {.type = JINJA_STRING, .refs = 1};
        sv.u.str.s = t.p ? t.p : (char *)"";
        sv.u.str.n = t.n;
        int r = jv_loose_eq(E, &sv, prim, pos);
        free(t.p);
        return r;
    }
    /* primitives of different types: compare as numbers */
    double x = a->type == JINJA_BOOL ? a->u.b : a->type == JINJA_STRING ? jv_str_to_num(a->u.str.s, a->u.str.n) : a->u.f;
    double y = b->type == JINJA_BOOL ? b->u.b : b->type == JINJA_STRING ? jv_str_to_num(b->u.str.s, b->u.str.n) : b->u.f;
    return x == y;
}

/* SameValueZero, for unique */
static int jv_same_zero(const struct jinja_value *a, const struct jinja_value *b)
{
    if (jv_is_num(a) && jv_is_num(b) && isnan(a->u.f) && isnan(b->u.f))
        return 1;
    return jv_same(a, b);
}

/* ---- strings ---- */

/* Case mappings of JavaScript's toUpperCase/toLowerCase (generated by
 * tests/oracle/gen_case_tables.js from Node 20's): first..last map to
 * code point + delta, every code point (stride 1) or every other one
 * (stride 2); the multi tables list code points that map to up to three. */
struct jv_case_run {
    unsigned first, last;
    int delta, stride;
};
struct jv_case_multi {
    unsigned cp, to[3];
};
static const struct jv_case_run jv_upper_runs[] = {
    {0x61, 0x7A, -32, 1}, {0xB5, 0xB5, 743, 1}, {0xE0, 0xF6, -32, 1}, {0xF8, 0xFE, -32, 1}, {0xFF, 0xFF, 121, 1},
    {0x101, 0x12F, -1, 2}, {0x131, 0x131, -232, 1}, {0x133, 0x137, -1, 2}, {0x13A, 0x148, -1, 2},
    {0x14B, 0x177, -1, 2}, {0x17A, 0x17E, -1, 2}, {0x17F, 0x17F, -300, 1}, {0x180, 0x180, 195, 1},
    {0x183, 0x185, -1, 2}, {0x188, 0x188, -1, 1}, {0x18C, 0x18C, -1, 1}, {0x192, 0x192, -1, 1}, {0x195, 0x195, 97, 1},
    {0x199, 0x199, -1, 1}, {0x19A, 0x19A, 163, 1}, {0x19B, 0x19B, 42561, 1}, {0x19E, 0x19E, 130, 1},
    {0x1A1, 0x1A5, -1, 2}, {0x1A8, 0x1A8, -1, 1}, {0x1AD, 0x1AD, -1, 1}, {0x1B0, 0x1B0, -1, 1}, {0x1B4, 0x1B6, -1, 2},
    {0x1B9, 0x1B9, -1, 1}, {0x1BD, 0x1BD, -1, 1}, {0x1BF, 0x1BF, 56, 1}, {0x1C5, 0x1C5, -1, 1}, {0x1C6, 0x1C6, -2, 1},
    {0x1C8, 0x1C8, -1, 1}, {0x1C9, 0x1C9, -2, 1}, {0x1CB, 0x1CB, -1, 1}, {0x1CC, 0x1CC, -2, 1}, {0x1CE, 0x1DC, -1, 2},
    {0x1DD, 0x1DD, -79, 1}, {0x1DF, 0x1EF, -1, 2}, {0x1F2, 0x1F2, -1, 1}, {0x1F3, 0x1F3, -2, 1},
    {0x1F5, 0x1F5, -1, 1}, {0x1F9, 0x21F, -1, 2}, {0x223, 0x233, -1, 2}, {0x23C, 0x23C, -1, 1},
    {0x23F, 0x240, 10815, 1}, {0x242, 0x242, -1, 1}, {0x247, 0x24F, -1, 2}, {0x250, 0x250, 10783, 1},
    {0x251, 0x251, 10780, 1}, {0x252, 0x252, 10782, 1}, {0x253, 0x253, -210, 1}, {0x254, 0x254, -206, 1},
    {0x256, 0x257, -205, 1}, {0x259, 0x259, -202, 1}, {0x25B, 0x25B, -203, 1}, {0x25C, 0x25C, 42319, 1},
    {0x260, 0x260, -205, 1}, {0x261, 0x261, 42315, 1}, {0x263, 0x263, -207, 1}, {0x264, 0x264, 42343, 1},
    {0x265, 0x265, 42280, 1}, {0x266, 0x266, 42308, 1}, {0x268, 0x268, -209, 1}, {0x269, 0x269, -211, 1},
    {0x26A, 0x26A, 42308, 1}, {0x26B, 0x26B, 10743, 1}, {0x26C, 0x26C, 42305, 1}, {0x26F, 0x26F, -211, 1},
    {0x271, 0x271, 10749, 1}, {0x272, 0x272, -213, 1}, {0x275, 0x275, -214, 1}, {0x27D, 0x27D, 10727, 1},
    {0x280, 0x280, -218, 1}, {0x282, 0x282, 42307, 1}, {0x283, 0x283, -218, 1}, {0x287, 0x287, 42282, 1},
    {0x288, 0x288, -218, 1}, {0x289, 0x289, -69, 1}, {0x28A, 0x28B, -217, 1}, {0x28C, 0x28C, -71, 1},
    {0x292, 0x292, -219, 1}, {0x29D, 0x29D, 42261, 1}, {0x29E, 0x29E, 42258, 1}, {0x345, 0x345, 84, 1},
    {0x371, 0x373, -1, 2}, {0x377, 0x377, -1, 1}, {0x37B, 0x37D, 130, 1}, {0x3AC, 0x3AC, -38, 1},
    {0x3AD, 0x3AF, -37, 1}, {0x3B1, 0x3C1, -32, 1}, {0x3C2, 0x3C2, -31, 1}, {0x3C3, 0x3CB, -32, 1},
    {0x3CC, 0x3CC, -64, 1}, {0x3CD, 0x3CE, -63, 1}, {0x3D0, 0x3D0, -62, 1}, {0x3D1, 0x3D1, -57, 1},
    {0x3D5, 0x3D5, -47, 1}, {0x3D6, 0x3D6, -54, 1}, {0x3D7, 0x3D7, -8, 1}, {0x3D9, 0x3EF, -1, 2},
    {0x3F0, 0x3F0, -86, 1}, {0x3F1, 0x3F1, -80, 1}, {0x3F2, 0x3F2, 7, 1}, {0x3F3, 0x3F3, -116, 1},
    {0x3F5, 0x3F5, -96, 1}, {0x3F8, 0x3F8, -1, 1}, {0x3FB, 0x3FB, -1, 1}, {0x430, 0x44F, -32, 1},
    {0x450, 0x45F, -80, 1}, {0x461, 0x481, -1, 2}, {0x48B, 0x4BF, -1, 2}, {0x4C2, 0x4CE, -1, 2},
    {0x4CF, 0x4CF, -15, 1}, {0x4D1, 0x52F, -1, 2}, {0x561, 0x586, -48, 1}, {0x10D0, 0x10FA, 3008, 1},
    {0x10FD, 0x10FF, 3008, 1}, {0x13F8, 0x13FD, -8, 1}, {0x1C80, 0x1C80, -6254, 1}, {0x1C81, 0x1C81, -6253, 1},
    {0x1C82, 0x1C82, -6244, 1}, {0x1C83, 0x1C84, -6242, 1}, {0x1C85, 0x1C85, -6243, 1}, {0x1C86, 0x1C86, -6236, 1},
    {0x1C87, 0x1C87, -6181, 1}, {0x1C88, 0x1C88, 35266, 1}, {0x1C8A, 0x1C8A, -1, 1}, {0x1D79, 0x1D79, 35332, 1},
    {0x1D7D, 0x1D7D, 3814, 1}, {0x1D8E, 0x1D8E, 35384, 1}, {0x1E01, 0x1E95, -1, 2}, {0x1E9B, 0x1E9B, -59, 1},
    {0x1EA1, 0x1EFF, -1, 2}, {0x1F00, 0x1F07, 8, 1}, {0x1F10, 0x1F15, 8, 1}, {0x1F20, 0x1F27, 8, 1},
    {0x1F30, 0x1F37, 8, 1}, {0x1F40, 0x1F45, 8, 1}, {0x1F51, 0x1F57, 8, 2}, {0x1F60, 0x1F67, 8, 1},
    {0x1F70, 0x1F71, 74, 1}, {0x1F72, 0x1F75, 86, 1}, {0x1F76, 0x1F77, 100, 1}, {0x1F78, 0x1F79, 128, 1},
    {0x1F7A, 0x1F7B, 112, 1}, {0x1F7C, 0x1F7D, 126, 1}, {0x1FB0, 0x1FB1, 8, 1}, {0x1FBE, 0x1FBE, -7205, 1},
    {0x1FD0, 0x1FD1, 8, 1}, {0x1FE0, 0x1FE1, 8, 1}, {0x1FE5, 0x1FE5, 7, 1}, {0x214E, 0x214E, -28, 1},
    {0x2170, 0x217F, -16, 1}, {0x2184, 0x2184, -1, 1}, {0x24D0, 0x24E9, -26, 1}, {0x2C30, 0x2C5F, -48, 1},
    {0x2C61, 0x2C61, -1, 1}, {0x2C65, 0x2C65, -10795, 1}, {0x2C66, 0x2C66, -10792, 1}, {0x2C68, 0x2C6C, -1, 2},
    {0x2C73, 0x2C73, -1, 1}, {0x2C76, 0x2C76, -1, 1}, {0x2C81, 0x2CE3, -1, 2}, {0x2CEC, 0x2CEE, -1, 2},
    {0x2CF3, 0x2CF3, -1, 1}, {0x2D00, 0x2D25, -7264, 1}, {0x2D27, 0x2D27, -7264, 1}, {0x2D2D, 0x2D2D, -7264, 1},
    {0xA641, 0xA66D, -1, 2}, {0xA681, 0xA69B, -1, 2}, {0xA723, 0xA72F, -1, 2}, {0xA733, 0xA76F, -1, 2},
    {0xA77A, 0xA77C, -1, 2}, {0xA77F, 0xA787, -1, 2}, {0xA78C, 0xA78C, -1, 1}, {0xA791, 0xA793, -1, 2},
    {0xA794, 0xA794, 48, 1}, {0xA797, 0xA7A9, -1, 2}, {0xA7B5, 0xA7C3, -1, 2}, {0xA7C8, 0xA7CA, -1, 2},
    {0xA7CD, 0xA7DB, -1, 2}, {0xA7F6, 0xA7F6, -1, 1}, {0xAB53, 0xAB53, -928, 1}, {0xAB70, 0xABBF, -38864, 1},
    {0xFF41, 0xFF5A, -32, 1}, {0x10428, 0x1044F, -40, 1}, {0x104D8, 0x104FB, -40, 1}, {0x10597, 0x105A1, -39, 1},
    {0x105A3, 0x105B1, -39, 1}, {0x105B3, 0x105B9, -39, 1}, {0x105BB, 0x105BC, -39, 1}, {0x10CC0, 0x10CF2, -64, 1},
    {0x10D70, 0x10D85, -32, 1}, {0x118C0, 0x118DF, -32, 1}, {0x16E60, 0x16E7F, -32, 1}, {0x16EBB, 0x16ED3, -27, 1},
    {0x1E922, 0x1E943, -34, 1},
};
static const struct jv_case_multi jv_upper_multi[] = {
    {0xDF, {0x53, 0x53, 0}}, {0x149, {0x2BC, 0x4E, 0}}, {0x1F0, {0x4A, 0x30C, 0}}, {0x390, {0x399, 0x308, 0x301}},
    {0x3B0, {0x3A5, 0x308, 0x301}}, {0x587, {0x535, 0x552, 0}}, {0x1E96, {0x48, 0x331, 0}},
    {0x1E97, {0x54, 0x308, 0}}, {0x1E98, {0x57, 0x30A, 0}}, {0x1E99, {0x59, 0x30A, 0}}, {0x1E9A, {0x41, 0x2BE, 0}},
    {0x1F50, {0x3A5, 0x313, 0}}, {0x1F52, {0x3A5, 0x313, 0x300}}, {0x1F54, {0x3A5, 0x313, 0x301}},
    {0x1F56, {0x3A5, 0x313, 0x342}}, {0x1F80, {0x1F08, 0x399, 0}}, {0x1F81, {0x1F09, 0x399, 0}},
    {0x1F82, {0x1F0A, 0x399, 0}}, {0x1F83, {0x1F0B, 0x399, 0}}, {0x1F84, {0x1F0C, 0x399, 0}},
    {0x1F85, {0x1F0D, 0x399, 0}}, {0x1F86, {0x1F0E, 0x399, 0}}, {0x1F87, {0x1F0F, 0x399, 0}},
    {0x1F88, {0x1F08, 0x399, 0}}, {0x1F89, {0x1F09, 0x399, 0}}, {0x1F8A, {0x1F0A, 0x399, 0}},
    {0x1F8B, {0x1F0B, 0x399, 0}}, {0x1F8C, {0x1F0C, 0x399, 0}}, {0x1F8D, {0x1F0D, 0x399, 0}},
    {0x1F8E, {0x1F0E, 0x399, 0}}, {0x1F8F, {0x1F0F, 0x399, 0}}, {0x1F90, {0x1F28, 0x399, 0}},
    {0x1F91, {0x1F29, 0x399, 0}}, {0x1F92, {0x1F2A, 0x399, 0}}, {0x1F93, {0x1F2B, 0x399, 0}},
    {0x1F94, {0x1F2C, 0x399, 0}}, {0x1F95, {0x1F2D, 0x399, 0}}, {0x1F96, {0x1F2E, 0x399, 0}},
    {0x1F97, {0x1F2F, 0x399, 0}}, {0x1F98, {0x1F28, 0x399, 0}}, {0x1F99, {0x1F29, 0x399, 0}},
    {0x1F9A, {0x1F2A, 0x399, 0}}, {0x1F9B, {0x1F2B, 0x399, 0}}, {0x1F9C, {0x1F2C, 0x399, 0}},
    {0x1F9D, {0x1F2D, 0x399, 0}}, {0x1F9E, {0x1F2E, 0x399, 0}}, {0x1F9F, {0x1F2F, 0x399, 0}},
    {0x1FA0, {0x1F68, 0x399, 0}}, {0x1FA1, {0x1F69, 0x399, 0}}, {0x1FA2, {0x1F6A, 0x399, 0}},
    {0x1FA3, {0x1F6B, 0x399, 0}}, {0x1FA4, {0x1F6C, 0x399, 0}}, {0x1FA5, {0x1F6D, 0x399, 0}},
    {0x1FA6, {0x1F6E, 0x399, 0}}, {0x1FA7, {0x1F6F, 0x399, 0}}, {0x1FA8, {0x1F68, 0x399, 0}},
    {0x1FA9, {0x1F69, 0x399, 0}}, {0x1FAA, {0x1F6A, 0x399, 0}}, {0x1FAB, {0x1F6B, 0x399, 0}},
    {0x1FAC, {0x1F6C, 0x399, 0}}, {0x1FAD, {0x1F6D, 0x399, 0}}, {0x1FAE, {0x1F6E, 0x399, 0}},
    {0x1FAF, {0x1F6F, 0x399, 0}}, {0x1FB2, {0x1FBA, 0x399, 0}}, {0x1FB3, {0x391, 0x399, 0}},
    {0x1FB4, {0x386, 0x399, 0}}, {0x1FB6, {0x391, 0x342, 0}}, {0x1FB7, {0x391, 0x342, 0x399}},
    {0x1FBC, {0x391, 0x399, 0}}, {0x1FC2, {0x1FCA, 0x399, 0}}, {0x1FC3, {0x397, 0x399, 0}},
    {0x1FC4, {0x389, 0x399, 0}}, {0x1FC6, {0x397, 0x342, 0}}, {0x1FC7, {0x397, 0x342, 0x399}},
    {0x1FCC, {0x397, 0x399, 0}}, {0x1FD2, {0x399, 0x308, 0x300}}, {0x1FD3, {0x399, 0x308, 0x301}},
    {0x1FD6, {0x399, 0x342, 0}}, {0x1FD7, {0x399, 0x308, 0x342}}, {0x1FE2, {0x3A5, 0x308, 0x300}},
    {0x1FE3, {0x3A5, 0x308, 0x301}}, {0x1FE4, {0x3A1, 0x313, 0}}, {0x1FE6, {0x3A5, 0x342, 0}},
    {0x1FE7, {0x3A5, 0x308, 0x342}}, {0x1FF2, {0x1FFA, 0x399, 0}}, {0x1FF3, {0x3A9, 0x399, 0}},
    {0x1FF4, {0x38F, 0x399, 0}}, {0x1FF6, {0x3A9, 0x342, 0}}, {0x1FF7, {0x3A9, 0x342, 0x399}},
    {0x1FFC, {0x3A9, 0x399, 0}}, {0xFB00, {0x46, 0x46, 0}}, {0xFB01, {0x46, 0x49, 0}}, {0xFB02, {0x46, 0x4C, 0}},
    {0xFB03, {0x46, 0x46, 0x49}}, {0xFB04, {0x46, 0x46, 0x4C}}, {0xFB05, {0x53, 0x54, 0}}, {0xFB06, {0x53, 0x54, 0}},
    {0xFB13, {0x544, 0x546, 0}}, {0xFB14, {0x544, 0x535, 0}}, {0xFB15, {0x544, 0x53B, 0}},
    {0xFB16, {0x54E, 0x546, 0}}, {0xFB17, {0x544, 0x53D, 0}},
};
static const struct jv_case_run jv_lower_runs[] = {
    {0x41, 0x5A, 32, 1}, {0xC0, 0xD6, 32, 1}, {0xD8, 0xDE, 32, 1}, {0x100, 0x12E, 1, 2}, {0x132, 0x136, 1, 2},
    {0x139, 0x147, 1, 2}, {0x14A, 0x176, 1, 2}, {0x178, 0x178, -121, 1}, {0x179, 0x17D, 1, 2}, {0x181, 0x181, 210, 1},
    {0x182, 0x184, 1, 2}, {0x186, 0x186, 206, 1}, {0x187, 0x187, 1, 1}, {0x189, 0x18A, 205, 1}, {0x18B, 0x18B, 1, 1},
    {0x18E, 0x18E, 79, 1}, {0x18F, 0x18F, 202, 1}, {0x190, 0x190, 203, 1}, {0x191, 0x191, 1, 1},
    {0x193, 0x193, 205, 1}, {0x194, 0x194, 207, 1}, {0x196, 0x196, 211, 1}, {0x197, 0x197, 209, 1},
    {0x198, 0x198, 1, 1}, {0x19C, 0x19C, 211, 1}, {0x19D, 0x19D, 213, 1}, {0x19F, 0x19F, 214, 1},
    {0x1A0, 0x1A4, 1, 2}, {0x1A6, 0x1A6, 218, 1}, {0x1A7, 0x1A7, 1, 1}, {0x1A9, 0x1A9, 218, 1}, {0x1AC, 0x1AC, 1, 1},
    {0x1AE, 0x1AE, 218, 1}, {0x1AF, 0x1AF, 1, 1}, {0x1B1, 0x1B2, 217, 1}, {0x1B3, 0x1B5, 1, 2},
    {0x1B7, 0x1B7, 219, 1}, {0x1B8, 0x1B8, 1, 1}, {0x1BC, 0x1BC, 1, 1}, {0x1C4, 0x1C4, 2, 1}, {0x1C5, 0x1C5, 1, 1},
    {0x1C7, 0x1C7, 2, 1}, {0x1C8, 0x1C8, 1, 1}, {0x1CA, 0x1CA, 2, 1}, {0x1CB, 0x1DB, 1, 2}, {0x1DE, 0x1EE, 1, 2},
    {0x1F1, 0x1F1, 2, 1}, {0x1F2, 0x1F4, 1, 2}, {0x1F6, 0x1F6, -97, 1}, {0x1F7, 0x1F7, -56, 1}, {0x1F8, 0x21E, 1, 2},
    {0x220, 0x220, -130, 1}, {0x222, 0x232, 1, 2}, {0x23A, 0x23A, 10795, 1}, {0x23B, 0x23B, 1, 1},
    {0x23D, 0x23D, -163, 1}, {0x23E, 0x23E, 10792, 1}, {0x241, 0x241, 1, 1}, {0x243, 0x243, -195, 1},
    {0x244, 0x244, 69, 1}, {0x245, 0x245, 71, 1}, {0x246, 0x24E, 1, 2}, {0x370, 0x372, 1, 2}, {0x376, 0x376, 1, 1},
    {0x37F, 0x37F, 116, 1}, {0x386, 0x386, 38, 1}, {0x388, 0x38A, 37, 1}, {0x38C, 0x38C, 64, 1},
    {0x38E, 0x38F, 63, 1}, {0x391, 0x3A1, 32, 1}, {0x3A3, 0x3AB, 32, 1}, {0x3CF, 0x3CF, 8, 1}, {0x3D8, 0x3EE, 1, 2},
    {0x3F4, 0x3F4, -60, 1}, {0x3F7, 0x3F7, 1, 1}, {0x3F9, 0x3F9, -7, 1}, {0x3FA, 0x3FA, 1, 1},
    {0x3FD, 0x3FF, -130, 1}, {0x400, 0x40F, 80, 1}, {0x410, 0x42F, 32, 1}, {0x460, 0x480, 1, 2}, {0x48A, 0x4BE, 1, 2},
    {0x4C0, 0x4C0, 15, 1}, {0x4C1, 0x4CD, 1, 2}, {0x4D0, 0x52E, 1, 2}, {0x531, 0x556, 48, 1},
    {0x10A0, 0x10C5, 7264, 1}, {0x10C7, 0x10C7, 7264, 1}, {0x10CD, 0x10CD, 7264, 1}, {0x13A0, 0x13EF, 38864, 1},
    {0x13F0, 0x13F5, 8, 1}, {0x1C89, 0x1C89, 1, 1}, {0x1C90, 0x1CBA, -3008, 1}, {0x1CBD, 0x1CBF, -3008, 1},
    {0x1E00, 0x1E94, 1, 2}, {0x1E9E, 0x1E9E, -7615, 1}, {0x1EA0, 0x1EFE, 1, 2}, {0x1F08, 0x1F0F, -8, 1},
    {0x1F18, 0x1F1D, -8, 1}, {0x1F28, 0x1F2F, -8, 1}, {0x1F38, 0x1F3F, -8, 1}, {0x1F48, 0x1F4D, -8, 1},
    {0x1F59, 0x1F5F, -8, 2}, {0x1F68, 0x1F6F, -8, 1}, {0x1F88, 0x1F8F, -8, 1}, {0x1F98, 0x1F9F, -8, 1},
    {0x1FA8, 0x1FAF, -8, 1}, {0x1FB8, 0x1FB9, -8, 1}, {0x1FBA, 0x1FBB, -74, 1}, {0x1FBC, 0x1FBC, -9, 1},
    {0x1FC8, 0x1FCB, -86, 1}, {0x1FCC, 0x1FCC, -9, 1}, {0x1FD8, 0x1FD9, -8, 1}, {0x1FDA, 0x1FDB, -100, 1},
    {0x1FE8, 0x1FE9, -8, 1}, {0x1FEA, 0x1FEB, -112, 1}, {0x1FEC, 0x1FEC, -7, 1}, {0x1FF8, 0x1FF9, -128, 1},
    {0x1FFA, 0x1FFB, -126, 1}, {0x1FFC, 0x1FFC, -9, 1}, {0x2126, 0x2126, -7517, 1}, {0x212A, 0x212A, -8383, 1},
    {0x212B, 0x212B, -8262, 1}, {0x2132, 0x2132, 28, 1}, {0x2160, 0x216F, 16, 1}, {0x2183, 0x2183, 1, 1},
    {0x24B6, 0x24CF, 26, 1}, {0x2C00, 0x2C2F, 48, 1}, {0x2C60, 0x2C60, 1, 1}, {0x2C62, 0x2C62, -10743, 1},
    {0x2C63, 0x2C63, -3814, 1}, {0x2C64, 0x2C64, -10727, 1}, {0x2C67, 0x2C6B, 1, 2}, {0x2C6D, 0x2C6D, -10780, 1},
    {0x2C6E, 0x2C6E, -10749, 1}, {0x2C6F, 0x2C6F, -10783, 1}, {0x2C70, 0x2C70, -10782, 1}, {0x2C72, 0x2C72, 1, 1},
    {0x2C75, 0x2C75, 1, 1}, {0x2C7E, 0x2C7F, -10815, 1}, {0x2C80, 0x2CE2, 1, 2}, {0x2CEB, 0x2CED, 1, 2},
    {0x2CF2, 0x2CF2, 1, 1}, {0xA640, 0xA66C, 1, 2}, {0xA680, 0xA69A, 1, 2}, {0xA722, 0xA72E, 1, 2},
    {0xA732, 0xA76E, 1, 2}, {0xA779, 0xA77B, 1, 2}, {0xA77D, 0xA77D, -35332, 1}, {0xA77E, 0xA786, 1, 2},
    {0xA78B, 0xA78B, 1, 1}, {0xA78D, 0xA78D, -42280, 1}, {0xA790, 0xA792, 1, 2}, {0xA796, 0xA7A8, 1, 2},
    {0xA7AA, 0xA7AA, -42308, 1}, {0xA7AB, 0xA7AB, -42319, 1}, {0xA7AC, 0xA7AC, -42315, 1},
    {0xA7AD, 0xA7AD, -42305, 1}, {0xA7AE, 0xA7AE, -42308, 1}, {0xA7B0, 0xA7B0, -42258, 1},
    {0xA7B1, 0xA7B1, -42282, 1}, {0xA7B2, 0xA7B2, -42261, 1}, {0xA7B3, 0xA7B3, 928, 1}, {0xA7B4, 0xA7C2, 1, 2},
    {0xA7C4, 0xA7C4, -48, 1}, {0xA7C5, 0xA7C5, -42307, 1}, {0xA7C6, 0xA7C6, -35384, 1}, {0xA7C7, 0xA7C9, 1, 2},
    {0xA7CB, 0xA7CB, -42343, 1}, {0xA7CC, 0xA7DA, 1, 2}, {0xA7DC, 0xA7DC, -42561, 1}, {0xA7F5, 0xA7F5, 1, 1},
    {0xFF21, 0xFF3A, 32, 1}, {0x10400, 0x10427, 40, 1}, {0x104B0, 0x104D3, 40, 1}, {0x10570, 0x1057A, 39, 1},
    {0x1057C, 0x1058A, 39, 1}, {0x1058C, 0x10592, 39, 1}, {0x10594, 0x10595, 39, 1}, {0x10C80, 0x10CB2, 64, 1},
    {0x10D50, 0x10D65, 32, 1}, {0x118A0, 0x118BF, 32, 1}, {0x16E40, 0x16E5F, 32, 1}, {0x16EA0, 0x16EB8, 27, 1},
    {0x1E900, 0x1E921, 34, 1},
};
static const struct jv_case_multi jv_lower_multi[] = {
    {0x130, {0x69, 0x307, 0}},
};

/* JavaScript's toUpperCase/toLowerCase of one code point: returns the code
 * point it maps to, or 0 when it maps to several (then in out[0..2], 0-ended). */
static unsigned jv_case_cp(unsigned c, int upper, unsigned out[3])
{
    if (c < 0x80) {
        if (upper && c >= 'a' && c <= 'z')
            return c - 32;
        if (!upper && c >= 'A' && c <= 'Z')
            return c + 32;
        return c;
    }
    const struct jv_case_multi *m = upper ? jv_upper_multi : jv_lower_multi;
    size_t lo = 0, hi = upper ? sizeof jv_upper_multi / sizeof *m : sizeof jv_lower_multi / sizeof *m;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m[mid].cp == c) {
            memcpy(out, m[mid].to, sizeof m[mid].to);
            return 0;
        }
        if (m[mid].cp < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct jv_case_run *r = upper ? jv_upper_runs : jv_lower_runs;
    lo = 0;
    hi = upper ? sizeof jv_upper_runs / sizeof *r : sizeof jv_lower_runs / sizeof *r;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].first)
            hi = mid;
        else if (c > r[mid].last)
            lo = mid + 1;
        else
            return (c - r[mid].first) % (unsigned)r[mid].stride ? c : (unsigned)((int)c + r[mid].delta);
    }
    return c;
}

/* Case_Ignorable, roughly: what may stand between a letter and a final sigma */
static int jv_case_ignorable(unsigned c)
{
    return c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' || c == 0xAD || c == 0xB7 ||
           (c >= 0x300 && c <= 0x36F) || c == 0x2018 || c == 0x2019 || c == 0x2024 || c == 0x2027;
}

/* Cased: has an upper or lower case form */
static int jv_is_letter_cp(unsigned c)
{
    unsigned o[3];
    return jv_case_cp(c, 1, o) != c || jv_case_cp(c, 0, o) != c;
}

/* toUpperCase (upper) or toLowerCase of s[0..n) into b */
static void jv_case_str(struct jinja_buf *b, const char *s, size_t n, int upper)
{
    for (size_t i = 0; i < n;) {
        size_t l;
        unsigned c = jv_decode(s, n, i, &l), o[3] = {0, 0, 0};
        unsigned r;
        if (c == 0) {
            r = 0;
            /* NUL maps to itself (r == 0 stands for several) */
        } else if (!upper && c == 0x3A3) { /* Final_Sigma: after a cased letter, not before one */
            int before = 0, after = 0;
            for (size_t k = i; k > 0 && !before;) {
                size_t pl;
                k--;
                while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
                    k--;
                unsigned p = jv_decode(s, n, k, &pl);
                if (!jv_case_ignorable(p)) {
                    before = jv_is_letter_cp(p) ? 1 : -1;
                    break;
                }
            }
            for (size_t k = i + l; k < n;) {
                size_t nl;
                unsigned q = jv_decode(s, n, k, &nl);
                if (!jv_case_ignorable(q)) {
                    after = jv_is_letter_cp(q);
                    break;
                }
                k += nl;
            }
            r = before == 1 && !after ? 0x3C2 : 0x3C3;
        } else {
            r = jv_case_cp(c, upper, o);
        }
        if (r) {
            if (r == c)
                jinja_buf_add(b, s + i, l);
            else
                jv_encode(b, r);
        } else if (c == 0) {
            jinja_buf_addc(b, 0);
        } else {
            for (int k = 0; k < 3 && o[k]; k++)
                jv_encode(b, o[k]);
        }
        i += l;
    }
}

static struct jinja_value *jv_case(struct jinja_ev *E, const struct jinja_value *v, int upper, size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    jv_case_str(&b, v->u.str.s, v->u.str.n, upper);
    return jv_from_buf(E, &b, pos);
}

static int jv_word(unsigned char c) { return (unsigned)((c | 32) - 'a') < 26 || (c >= '0' && c <= '9') || c == '_'; }

/* title: /\b\w/g upper-cased; capitalize: charAt(0) upper-cased, the rest as is */
static struct jinja_value *jv_title(struct jinja_ev *E, const struct jinja_value *v, int capitalize, size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    const char *s = v->u.str.s;
    size_t n = v->u.str.n;
    if (capitalize) {
        if (n) {
            size_t l;
            unsigned c = jv_decode(s, n, 0, &l);
            if (c < 0x10000) {
                jv_case_str(&b, s, l, 1);
                jinja_buf_add(&b, s + l, n - l);
            } else {
                jinja_buf_add(&b, s, n);
            }
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 'a' && c <= 'z' && (i == 0 || !jv_word((unsigned char)s[i - 1])))
                c = (unsigned char)(c - 32);
            jinja_buf_addc(&b, (char)c);
        }
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_trim(struct jinja_ev *E, const struct jinja_value *v, int left, int right, size_t pos)
{
    const char *p = v->u.str.s;
    size_t a = 0, b = v->u.str.n, l;
    while (left && a < b && (l = jinja_space_at(p, b, a)) > 0)
        a += l;
    while (right && b > a && (l = jinja_space_before(p, b)) > 0 && b - l >= a)
        b -= l;
    struct jinja_value *r = jinja_value_stringn(p + a, b - a);
    return r ? r : jv_oom(E, pos);
}

/* HF's replace(): count < 0 or null replaces all; an empty pattern matches
 * before every character and at the end. */
static struct jinja_value *jv_replace(struct jinja_ev *E, const struct jinja_value *v, const struct jinja_value *from,
                                      const struct jinja_value *to, double count, size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    const char *s = v->u.str.s;
    size_t n = v->u.str.n, fl = from->u.str.n, i = 0;
    double left = count < 0 || isnan(count) ? INFINITY : count;
    if (count == 0)
        left = 0;
    while (i <= n && !b.oom) {
        if (left > 0 && (fl == 0 || (i + fl <= n && memcmp(s + i, from->u.str.s, fl) == 0))) {
            jinja_buf_add(&b, to->u.str.s, to->u.str.n);
            left--;
            if (fl) {
                i += fl;
                continue;
            }
        }
        if (i >= n)
            break;
        size_t l = 1;
        if (fl == 0)
            jv_decode(s, n, i, &l);
        jinja_buf_add(&b, s + i, l);
        i += l;
    }
    return jv_from_buf(E, &b, pos);
}

/* Code point offsets of a string (count+1 entries, malloc'd). */
static size_t *jv_cp_offsets(const struct jinja_value *v, size_t *count)
{
    size_t *off = malloc((v->u.str.n + 1) * sizeof *off), c = 0;
    if (!off)
        return NULL;
    for (size_t i = 0; i < v->u.str.n;) {
        size_t l;
        off[c++] = i;
        jv_decode(v->u.str.s, v->u.str.n, i, &l);
        i += l;
    }
    off[c] = v->u.str.n;
    *count = c;
    return off;
}

/* string.at(i): one UTF-16 unit (half of a pair becomes a lone surrogate) */
static struct jinja_value *jv_str_at(struct jinja_ev *E, const struct jinja_value *v, double idx, size_t pos)
{
    const char *s = v->u.str.s;
    size_t n = v->u.str.n;
    double len = (double)jinja_utf16_len(s, n);
    double i = trunc(idx);
    if (i < 0)
        i += len;
    if (!(i >= 0 && i < len))
        return jinja_value_undefined();
    size_t unit = 0;
    for (size_t k = 0; k < n;) {
        size_t l;
        unsigned cp = jv_decode(s, n, k, &l);
        size_t units = cp >= 0x10000 ? 2 : 1;
        if ((double)(unit + units) > i) {
            struct jinja_buf b = JV_BUF(E);
            if (units == 2)
                jv_encode(&b, (double)unit == i ? 0xD800 + ((cp - 0x10000) >> 10) : 0xDC00 + ((cp - 0x10000) & 0x3FF));
            else
                jinja_buf_add(&b, s + k, l);
            return jv_from_buf(E, &b, pos);
        }
        unit += units;
        k += l;
    }
    return jinja_value_undefined();
}

/* ---- arrays and objects ---- */

static struct jinja_value *jv_items(struct jinja_ev *E, const struct jinja_value *obj, int which, size_t pos)
{
    /* which: 0 items, 1 keys, 2 values */
    struct jinja_value *arr = jinja_value_array();
    if (!arr || jv_step(E, pos, (unsigned long long)obj->u.obj.n * JV_ITEM_STEPS) != 0) {
        jinja_value_free(arr);
        return arr ? NULL : jv_oom(E, pos);
    }
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        struct jinja_value *item;
        if (which == 1) {
            item = jinja_value_string(obj->u.obj.keys[i]);
        } else if (which == 2) {
            item = jinja_value_ref(obj->u.obj.vals[i]);
        } else {
            item = jinja_value_array();
            if (item && (jinja_array_push(item, jinja_value_string(obj->u.obj.keys[i])) != 0 ||
                         jinja_array_push(item, jinja_value_ref(obj->u.obj.vals[i])) != 0)) {
                jinja_value_free(item);
                item = NULL;
            }
        }
        if (jinja_array_push(arr, item) != 0) {
            jinja_value_free(arr);
            return jv_oom(E, pos);
        }
    }
    return arr;
}

/* A copy of an object (a plain one, whatever obj was). */
static struct jinja_value *jv_obj_copy(const struct jinja_value *obj)
{
    struct jinja_value *o = jinja_value_object();
    for (size_t i = 0; o && i < obj->u.obj.n; i++)
        if (jinja_object_set(o, obj->u.obj.keys[i], jinja_value_ref(obj->u.obj.vals[i])) != 0) {
            jinja_value_free(o);
            o = NULL;
        }
    return o;
}

static void jv_obj_remove(struct jinja_value *obj, size_t k)
{
    free(obj->u.obj.keys[k]);
    jinja_value_free(obj->u.obj.vals[k]);
    memmove(obj->u.obj.keys + k, obj->u.obj.keys + k + 1, (obj->u.obj.n - k - 1) * sizeof *obj->u.obj.keys);
    memmove(obj->u.obj.vals + k, obj->u.obj.vals + k + 1, (obj->u.obj.n - k - 1) * sizeof *obj->u.obj.vals);
    obj->u.obj.n--;
}

/* compareRuntimeValues; classes: 1 null, 2 undefined, 3 numbers and booleans, 4 strings, 0 others */
static int jv_cmp_class(const struct jinja_value *v)
{
    switch (v->type) {
    case JINJA_NULL: return 1;
    case JINJA_UNDEFINED: return 2;
    case JINJA_INT:
    case JINJA_FLOAT:
    case JINJA_BOOL: return 3;
    case JINJA_STRING: return 4;
    default: return 0;
    }
}

/* UTF-16 order of two UTF-8 strings, optionally after toLowerCase */
static int jv_str_cmp(const struct jinja_value *a, const struct jinja_value *b, int fold)
{
    struct jinja_buf x = {0}, y = {0};
    const char *s = a->u.str.s, *t = b->u.str.s;
    size_t n = a->u.str.n, m = b->u.str.n;
    if (fold) {
        jv_case_str(&x, s, n, 0);
        jv_case_str(&y, t, m, 0);
        if (!x.oom && !y.oom) {
            s = x.p ? x.p : "";
            n = x.n;
            t = y.p ? y.p : "";
            m = y.n;
        }
    }
    int r = 0;
    size_t i = 0, j = 0;
    while (!r && i < n && j < m) {
        size_t l1, l2;
        unsigned c1 = jv_decode(s, n, i, &l1), c2 = jv_decode(t, m, j, &l2);
        /* UTF-16: characters above U+FFFF sort as surrogates, below U+E000 */
        unsigned k1 = c1 >= 0x10000 ? 0xD800 + ((c1 - 0x10000) >> 10) : c1;
        unsigned k2 = c2 >= 0x10000 ? 0xD800 + ((c2 - 0x10000) >> 10) : c2;
        if (k1 == k2 && c1 != c2)
            k1 = c1, k2 = c2;
        r = k1 < k2 ? -1 : k1 > k2;
        i += l1;
        j += l2;
    }
    if (!r)
        r = i < n ? 1 : j < m ? -1 : 0;
    free(x.p);
    free(y.p);
    return r;
}

static int jv_compare(const struct jinja_value *a, const struct jinja_value *b, int case_sensitive)
{
    int c = jv_cmp_class(a);
    if (c == 3) {
        double x = a->type == JINJA_BOOL ? a->u.b : a->u.f, y = b->type == JINJA_BOOL ? b->u.b : b->u.f;
        return x < y ? -1 : x > y;
    }
    if (c == 4)
        return jv_str_cmp(a, b, !case_sensitive);
    return 0;
}

/* Stable sort of items by keys[] (both n long), like Array.prototype.sort:
 * fails as HF's comparator would when two keys cannot be compared. */
static int jv_sort(struct jinja_ev *E, struct jinja_value **items, struct jinja_value **keys, size_t n, int case_sensitive,
                   int reverse, size_t pos)
{
    if (n < 2)
        return 0;
    int cls = -1;
    for (size_t i = 0; i < n; i++) {
        int c = jv_cmp_class(keys[i]);
        if (c == 0 || (cls >= 0 && c != cls)) {
            jinja_diag_set(E->d, pos, "cannot compare %s with %s", jv_type_name(keys[i]), jv_type_name(keys[i ? i - 1 : 1]));
            return -1;
        }
        cls = c;
    }
    if (jv_step(E, pos, n * 8) != 0)
        return -1;
    struct jinja_value **ti = malloc(n * sizeof *ti), **tk = malloc(n * sizeof *tk);
    if (!ti || !tk) {
        free(ti);
        free(tk);
        jv_oom(E, pos);
        return -1;
    }
    /* bottom-up merge sort */
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                int c = jv_compare(keys[j], keys[i], case_sensitive);
                if (reverse)
                    c = -c;
                if (c < 0) {
                    ti[o] = items[j];
                    tk[o++] = keys[j++];
                } else {
                    ti[o] = items[i];
                    tk[o++] = keys[i++];
                }
            }
            while (i < mid) {
                ti[o] = items[i];
                tk[o++] = keys[i++];
            }
            while (j < hi) {
                ti[o] = items[j];
                tk[o++] = keys[j++];
            }
        }
        memcpy(items, ti, n * sizeof *ti);
        memcpy(keys, tk, n * sizeof *tk);
    }
    free(ti);
    free(tk);
    return 0;
}

/* JavaScript parseInt(s, 10) / parseFloat(s) */
static double jv_parse_number(const char *s, size_t n, int is_float)
{
    size_t i = 0, l;
    while ((l = jinja_space_at(s, n, i)) > 0)
        i += l;
    size_t st = i;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (is_float && n - i >= 8 && !memcmp(s + i, "Infinity", 8))
        return s[st] == '-' ? -INFINITY : INFINITY;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (is_float) {
        if (i < n && s[i] == '.') {
            size_t k = i + 1, fd = 0;
            while (k < n && s[k] >= '0' && s[k] <= '9')
                k++, fd++;
            if (fd || digits) {
                i = k;
                digits += fd;
            }
        }
        if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
            size_t k = i + 1;
            if (k < n && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < n && s[k] >= '0' && s[k] <= '9') {
                while (k < n && s[k] >= '0' && s[k] <= '9')
                    k++;
                i = k;
            }
        }
    }
    if (!digits)
        return NAN;
    char tmp[512];
    size_t len = i - st < sizeof tmp - 1 ? i - st : sizeof tmp - 1;
    memcpy(tmp, s + st, len);
    tmp[len] = 0;
    return strtod(tmp, NULL);
}

/* getAttributeValue: a dotted path of keys and array indices */
static const struct jinja_value *jv_attr_path(const struct jinja_value *v, const char *path)
{
    static const struct jinja_value undef = {.type = JINJA_UNDEFINED, .refs = 1};
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (v->type == JINJA_OBJECT) {
            const struct jinja_value *x = NULL;
            for (size_t i = 0; i < v->u.obj.n && !x; i++)
                if (strlen(v->u.obj.keys[i]) == len && !memcmp(v->u.obj.keys[i], p, len))
                    x = v->u.obj.vals[i];
            v = x ? x : &undef;
        } else if (v->type == JINJA_ARRAY) {
            double idx = jv_parse_number(p, len, 0);
            if (!(idx >= 0 && idx < (double)v->u.arr.n))
                return &undef;
            v = v->u.arr.items[(size_t)idx];
        } else {
            return &undef;
        }
        if (!dot)
            return v;
        p = dot + 1;
    }
}

static struct jinja_value *jv_callable(int id, struct jinja_value *self)
{
    struct jinja_value *v = jinja_value_undefined();
    if (v) {
        v->type = JINJA_CALLABLE;
        v->u.fn.id = id;
        v->u.fn.self = jinja_value_ref(self);
    }
    return v;
}

/* obj.key / obj[key] (evaluateMemberExpression without slices) */
static struct jinja_value *jv_member(struct jinja_ev *E, struct jinja_value *obj, const struct jinja_value *key, size_t pos)
{
    static const struct {
        const char *name;
        int id;
    } smethods[] = {{"upper", JM_UPPER}, {"lower", JM_LOWER}, {"strip", JM_STRIP}, {"title", JM_TITLE},
                    {"capitalize", JM_CAPITALIZE}, {"rstrip", JM_RSTRIP}, {"lstrip", JM_LSTRIP},
                    {"startswith", JM_STARTSWITH}, {"endswith", JM_ENDSWITH}, {"split", JM_SPLIT},
                    {"replace", JM_REPLACE}},
      omethods[] = {{"get", JM_GET}, {"items", JM_ITEMS}, {"keys", JM_KEYS}, {"values", JM_VALUES}, {"dictsort", JM_DICTSORT}};
    struct jinja_value *r = NULL;
    if (obj->type == JINJA_OBJECT) {
        if (key->type != JINJA_STRING) {
            jinja_diag_set(E->d, pos, "cannot access a property with a non-string key: %s", jv_type_name(key));
            return NULL;
        }
        struct jinja_value *v = jinja_object_get(obj, key->u.str.s);
        if (v)
            return jinja_value_ref(v);
        if (obj->sub != JV_NAMESPACE)
            for (size_t i = 0; i < sizeof omethods / sizeof omethods[0]; i++)
                if (!strcmp(key->u.str.s, omethods[i].name))
                    return jv_ok(E, jv_callable(omethods[i].id, obj), pos);
        return jv_ok(E, jinja_value_undefined(), pos);
    }
    if (obj->type == JINJA_ARRAY || obj->type == JINJA_STRING) {
        if (key->type == JINJA_INT) {
            if (obj->type == JINJA_STRING)
                return jv_str_at(E, obj, key->u.f, pos);
            double i = trunc(key->u.f), n = (double)obj->u.arr.n;
            if (i < 0)
                i += n;
            r = i >= 0 && i < n ? jinja_value_ref(obj->u.arr.items[(size_t)i]) : jinja_value_undefined();
            return r ? r : jv_oom(E, pos);
        }
        if (key->type != JINJA_STRING) {
            jinja_diag_set(E->d, pos, "cannot access a property with a %s key", jv_type_name(key));
            return NULL;
        }
        if (!strcmp(key->u.str.s, "length"))
            r = jv_number(obj->type == JINJA_ARRAY ? (double)obj->u.arr.n : (double)jinja_utf16_len(obj->u.str.s, obj->u.str.n), 1);
        else if (obj->type == JINJA_STRING) {
            for (size_t i = 0; i < sizeof smethods / sizeof smethods[0] && !r; i++)
                if (!strcmp(key->u.str.s, smethods[i].name))
                    r = jv_callable(smethods[i].id, obj);
            if (!r)
                r = jinja_value_undefined();
        } else
            r = jinja_value_undefined();
        return r ? r : jv_oom(E, pos);
    }
    if (key->type != JINJA_STRING) {
        jinja_diag_set(E->d, pos, "cannot access a property with a non-string key: %s", jv_type_name(key));
        return NULL;
    }
    return jv_ok(E, jinja_value_undefined(), pos);
}

static struct jinja_value *jv_slice(struct jinja_ev *E, const struct jinja_value *v, struct jinja_value *const p[3], size_t pos)
{
    static const char *const what[3] = {"start", "stop", "step"};
    double x[3];
    for (int i = 0; i < 3; i++) {
        if (p[i]->type != JINJA_INT && p[i]->type != JINJA_UNDEFINED) {
            jinja_diag_set(E->d, pos, "slice %s must be an integer or undefined", what[i]);
            return NULL;
        }
        x[i] = p[i]->type == JINJA_INT ? p[i]->u.f : NAN;
    }
    size_t ncp = 0, *off = NULL;
    if (v->type == JINJA_STRING && !(off = jv_cp_offsets(v, &ncp)))
        return jv_oom(E, pos);
    double n = v->type == JINJA_ARRAY ? (double)v->u.arr.n : (double)ncp;
    double step = isnan(x[2]) ? 1 : x[2], start = x[0], stop = x[1];
    if (step >= 0) {
        start = isnan(start) ? 0 : start < 0 ? fmax(n + start, 0) : fmin(start, n);
        stop = isnan(stop) ? n : stop < 0 ? fmax(n + stop, 0) : fmin(stop, n);
    } else {
        start = isnan(start) ? n - 1 : start < 0 ? fmax(n + start, -1) : fmin(start, n - 1);
        stop = isnan(stop) ? -1 : stop < -1 ? fmax(n + stop, -1) : fmin(stop, n - 1);
    }
    double dir = step > 0 ? 1 : step < 0 ? -1 : 0;
    struct jinja_buf sb = JV_BUF(E);
    struct jinja_value *r = v->type == JINJA_ARRAY ? jinja_value_array() : NULL;
    if (v->type == JINJA_ARRAY && !r) {
        free(off);
        return jv_oom(E, pos);
    }
    for (double i = start; dir * i < dir * stop; i += step) {
        if (jv_step(E, pos, r ? JV_ITEM_STEPS : 1) != 0) {
            jinja_value_free(r);
            free(off);
            free(sb.p);
            return NULL;
        }
        size_t k = (size_t)i;
        if (r) {
            if (jinja_array_push(r, jinja_value_ref(v->u.arr.items[k])) != 0) {
                jinja_value_free(r);
                free(off);
                return jv_oom(E, pos);
            }
        } else {
            jinja_buf_add(&sb, v->u.str.s + off[k], off[k + 1] - off[k]);
        }
    }
    free(off);
    return r ? r : jv_from_buf(E, &sb, pos);
}

/* ---- evaluation ---- */

static struct jinja_value *jv_eval(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s);
static int jv_exec(struct jinja_ev *E, struct jinja_node *const *body, size_t nbody, struct jinja_scope *s,
                   struct jinja_buf *out);

static struct jinja_value *jv_lookup(struct jinja_scope *s, const char *name)
{
    for (; s; s = s->parent) {
        struct jinja_value *v = jinja_object_get(s->vars, name);
        if (v)
            return v;
    }
    return NULL;
}

/* Evaluated arguments: pos[] and the keyword arguments (an object, or NULL). */
struct jv_args {
    struct jinja_value **pos;
    size_t npos, cap;
    struct jinja_value *kw;
};

static void jv_args_free(struct jv_args *a)
{
    for (size_t i = 0; i < a->npos; i++)
        jinja_value_free(a->pos[i]);
    free(a->pos);
    jinja_value_free(a->kw);
    memset(a, 0, sizeof *a);
}

static int jv_args_push(struct jv_args *a, struct jinja_value *v)
{
    if (a->npos == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct jinja_value **p = realloc(a->pos, cap * sizeof *p);
        if (!p) {
            jinja_value_free(v);
            return -1;
        }
        a->pos = p;
        a->cap = cap;
    }
    a->pos[a->npos++] = v;
    return 0;
}

/* evaluateArguments: all positional ones (with * unpacking) first, then keywords */
static int jv_args_eval(struct jinja_ev *E, struct jinja_node *const *args, size_t nargs, struct jinja_scope *s,
                        struct jv_args *a)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < nargs; i++) {
        const struct jinja_node *x = args[i];
        if (x->kind == JN_KWARG || x->kind == JN_KWSPREAD)
            continue;
        struct jinja_value *v = jv_eval(E, x->kind == JN_SPREAD ? x->a : x, s);
        if (!v)
            goto fail;
        if (x->kind == JN_SPREAD) {
            if (v->type != JINJA_ARRAY) {
                jinja_diag_set(E->d, x->pos, "cannot unpack non-iterable type: %s", jv_type_name(v));
                jinja_value_free(v);
                goto fail;
            }
            for (size_t k = 0; k < v->u.arr.n; k++)
                if (jv_args_push(a, jinja_value_ref(v->u.arr.items[k])) != 0) {
                    jinja_value_free(v);
                    jv_oom(E, x->pos);
                    goto fail;
                }
            jinja_value_free(v);
        } else if (jv_args_push(a, v) != 0) {
            jv_oom(E, x->pos);
            goto fail;
        }
    }
    for (size_t i = 0; i < nargs; i++) {
        const struct jinja_node *x = args[i];
        if (x->kind != JN_KWARG && x->kind != JN_KWSPREAD)
            continue;
        struct jinja_value *v = jv_eval(E, x->a, s);
        if (!v)
            goto fail;
        if (!a->kw && !(a->kw = jv_sub(jinja_value_object(), JV_KWARGS))) {
            jinja_value_free(v);
            jv_oom(E, x->pos);
            goto fail;
        }
        if (x->kind == JN_KWSPREAD && !jv_is_obj(v)) {
            jinja_diag_set(E->d, x->pos, "argument after ** must be a mapping, not %s", jv_type_name(v));
            jinja_value_free(v);
            goto fail;
        }
        size_t nk = x->kind == JN_KWARG ? 1 : v->u.obj.n;
        for (size_t k = 0; k < nk; k++) {
            const char *key = x->kind == JN_KWARG ? x->name : v->u.obj.keys[k];
            if (jinja_object_get(a->kw, key)) {
                jinja_diag_set(E->d, x->pos, "got multiple values for keyword argument '%.60s'", key);
                jinja_value_free(v);
                goto fail;
            }
            if (jinja_object_set(a->kw, key, jinja_value_ref(x->kind == JN_KWARG ? v : v->u.obj.vals[k])) != 0) {
                jinja_value_free(v);
                jv_oom(E, x->pos);
                goto fail;
            }
        }
        jinja_value_free(v);
    }
    return 0;
fail:
    jv_args_free(a);
    return -1;
}

/* the call form: positional values, then the keyword arguments object when
 * there are some (or always, for call blocks) */
static int jv_args_join(struct jinja_ev *E, struct jv_args *a, int always_kw, size_t pos)
{
    if (!a->kw && always_kw && !(a->kw = jv_sub(jinja_value_object(), JV_KWARGS))) {
        jv_oom(E, pos);
        return -1;
    }
    if (a->kw) {
        if (jv_args_push(a, a->kw) != 0) {
            a->kw = NULL;
            jv_oom(E, pos);
            return -1;
        }
        a->kw = NULL;
    }
    return 0;
}

static struct jinja_value *jv_kwarg(const struct jv_args *a, const char *name)
{
    return a->kw ? jinja_object_get(a->kw, name) : NULL;
}

static int jv_test(struct jinja_ev *E, const char *name, const struct jinja_value *v, const struct jinja_value *arg,
                   int has_arg, size_t pos);
static int jv_test_known(const char *name);

/* ---- macros and call blocks ---- */

#define JV_USES_KWARGS 1
#define JV_USES_VARARGS 2

struct jv_special {
    int declared, accessed;
};

static void jv_declare(struct jv_special *sp, const struct jinja_node *t)
{
    if (!t)
        return;
    if (t->kind == JN_NAME || t->kind == JN_KWARG) {
        if (!strcmp(t->name, "kwargs"))
            sp->declared |= JV_USES_KWARGS;
        else if (!strcmp(t->name, "varargs"))
            sp->declared |= JV_USES_VARARGS;
    } else if (t->kind == JN_TUPLE) {
        for (size_t i = 0; i < t->nlist; i++)
            jv_declare(sp, t->list[i]);
    }
}

static void jv_visit(struct jv_special *sp, const struct jinja_node *n, int depth);

static void jv_visit_list(struct jv_special *sp, struct jinja_node *const *l, size_t n, int depth)
{
    for (size_t i = 0; i < n; i++)
        jv_visit(sp, l[i], depth);
}

/* Which of kwargs/varargs a macro body reads before declaring them
 * (findAccessedSpecialMacroArguments, in Jinja's visiting order). */
static void jv_visit(struct jv_special *sp, const struct jinja_node *n, int depth)
{
    if (!n || depth > JINJA_MAX_EVAL_DEPTH)
        return;
    depth++;
    switch (n->kind) {
    case JN_FOR:
        jv_declare(sp, n->c);
        jv_visit(sp, n->a, depth);
        jv_visit_list(sp, n->list, n->nlist, depth);
        jv_visit_list(sp, n->list2, n->nlist2, depth);
        jv_visit(sp, n->b, depth);
        return;
    case JN_SET:
        jv_declare(sp, n->a);
        jv_visit(sp, n->b, depth);
        jv_visit_list(sp, n->list, n->nlist, depth);
        return;
    case JN_MACRO:
        for (size_t i = 0; i < n->nlist2; i++)
            jv_declare(sp, n->list2[i]);
        for (size_t i = 0; i < n->nlist2; i++)
            if (n->list2[i]->kind == JN_KWARG)
                jv_visit(sp, n->list2[i]->a, depth);
        jv_visit_list(sp, n->list, n->nlist, depth);
        return;
    case JN_CALL_BLOCK:
        jv_visit(sp, n->a, depth);
        for (size_t i = 0; i < n->nlist2; i++)
            jv_declare(sp, n->list2[i]);
        for (size_t i = 0; i < n->nlist2; i++)
            if (n->list2[i]->kind == JN_KWARG)
                jv_visit(sp, n->list2[i]->a, depth);
        jv_visit_list(sp, n->list, n->nlist, depth);
        return;
    case JN_FILTER_BLOCK:
        jv_visit_list(sp, n->list, n->nlist, depth);
        jv_visit_list(sp, n->b->list, n->b->nlist, depth);
        return;
    case JN_NAME: {
        int bit = !strcmp(n->name, "kwargs") ? JV_USES_KWARGS : !strcmp(n->name, "varargs") ? JV_USES_VARARGS : 0;
        if (bit && !(sp->declared & bit))
            sp->accessed |= bit;
        return;
    }
    case JN_FILTER:
        jv_visit(sp, n->a, depth);
        jv_visit_list(sp, n->list, n->nlist, depth);
        return;
    case JN_TEST:
        jv_visit(sp, n->a, depth);
        return;
    case JN_COND:
        jv_visit(sp, n->b, depth);
        jv_visit(sp, n->a, depth);
        jv_visit(sp, n->c, depth);
        return;
    case JN_DICT:
        for (size_t i = 0; i < n->nlist; i++) {
            jv_visit(sp, n->list[i], depth);
            jv_visit(sp, n->list2[i], depth);
        }
        return;
    default:
        jv_visit(sp, n->a, depth);
        jv_visit(sp, n->b, depth);
        jv_visit(sp, n->c, depth);
        jv_visit_list(sp, n->list, n->nlist, depth);
        jv_visit_list(sp, n->list2, n->nlist2, depth);
        return;
    }
}

static int jv_special_args(const struct jinja_node *params_owner)
{
    struct jv_special sp = {0, 0};
    for (size_t i = 0; i < params_owner->nlist2; i++)
        jv_declare(&sp, params_owner->list2[i]);
    jv_visit_list(&sp, params_owner->list, params_owner->nlist, 0);
    return sp.accessed;
}

/* bindMacroArguments: args are the call form (keywords last, as an object) */
static int jv_bind(struct jinja_ev *E, const char *display, const struct jinja_node *owner, int special,
                   struct jinja_value **args, size_t nargs, struct jinja_scope *ms, size_t pos)
{
    struct jinja_value *kw = NULL;
    struct jinja_node *const *params = owner->list2;
    size_t nparams = owner->nlist2;
    if (nargs && args[nargs - 1]->type == JINJA_OBJECT && args[nargs - 1]->sub == JV_KWARGS) {
        nargs--;
        if (!(kw = jv_obj_copy(args[nargs]))) {
            jv_oom(E, pos);
            return -1;
        }
    }
    int rc = -1;
    unsigned char *given = calloc(nparams + 1, 1);
    if (!given) {
        jinja_value_free(kw);
        jv_oom(E, pos);
        return -1;
    }
    for (size_t i = 0; i < nparams; i++) {
        const char *name = params[i]->name;
        struct jinja_value *v = i < nargs ? jinja_value_ref(args[i]) : NULL;
        for (size_t k = 0; !v && kw && k < kw->u.obj.n; k++)
            if (!strcmp(kw->u.obj.keys[k], name)) {
                v = jinja_value_ref(kw->u.obj.vals[k]);
                jv_obj_remove(kw, k);
            }
        given[i] = v != NULL;
        if (jinja_object_set(ms->vars, name, v ? v : jinja_value_undefined()) != 0) {
            jv_oom(E, pos);
            goto done;
        }
    }
    if (special & JV_USES_KWARGS) {
        if (jinja_object_set(ms->vars, "kwargs", kw ? jinja_value_ref(kw) : jinja_value_object()) != 0) {
            jv_oom(E, pos);
            goto done;
        }
    } else if (kw && kw->u.obj.n) {
        jinja_diag_set(E->d, pos, "macro %s takes no keyword argument '%.60s'", display, kw->u.obj.keys[0]);
        goto done;
    }
    if (special & JV_USES_VARARGS) {
        struct jinja_value *va = jinja_value_array();
        for (size_t i = nparams; va && i < nargs; i++)
            if (jinja_array_push(va, jinja_value_ref(args[i])) != 0)
                va = NULL;
        if (!va || jinja_object_set(ms->vars, "varargs", va) != 0) {
            jv_oom(E, pos);
            goto done;
        }
    } else if (nargs > nparams) {
        jinja_diag_set(E->d, pos, "macro %s takes not more than %zu argument(s)", display, nparams);
        goto done;
    }
    /* defaults of parameters not given, in the macro's scope */
    for (size_t i = 0; i < nparams; i++) {
        if (params[i]->kind != JN_KWARG || given[i])
            continue;
        struct jinja_value *v = jv_eval(E, params[i]->a, ms);
        if (!v || jinja_object_set(ms->vars, params[i]->name, v) != 0) {
            if (v)
                jv_oom(E, pos);
            goto done;
        }
    }
    rc = 0;
done:
    free(given);
    jinja_value_free(kw);
    return rc;
}

static struct jinja_value *jv_run_block(struct jinja_ev *E, const char *display, const struct jinja_node *owner,
                                        struct jinja_value **args, size_t nargs, struct jinja_scope *parent, size_t pos)
{
    struct jinja_scope ms = {jinja_value_object(), parent};
    struct jinja_value *r = NULL;
    if (!ms.vars)
        return jv_oom(E, pos);
    int special = jv_special_args(owner);
    struct jinja_buf b = JV_BUF(E);
    if (jv_bind(E, display, owner, special, args, nargs, &ms, pos) == 0 && jv_exec(E, owner->list, owner->nlist, &ms, &b) == 0)
        r = jv_from_buf(E, &b, pos);
    free(b.p);
    jinja_value_free(ms.vars);
    return r;
}

/* ---- builtin functions and methods ---- */

static int jv_need_str(struct jinja_ev *E, const struct jinja_value *v, const char *what, size_t pos)
{
    if (v && v->type == JINJA_STRING)
        return 0;
    jinja_diag_set(E->d, pos, "%s expects a string argument", what);
    return -1;
}

static struct jinja_value *jv_strftime(struct jinja_ev *E, const struct jinja_value *f, size_t pos)
{
    static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
                                         "August", "September", "October", "November", "December"};
    if (jv_need_str(E, f, "strftime_now", pos) != 0)
        return NULL;
    time_t now = time(NULL);
    struct tm t;
    if (!localtime_r(&now, &t))
        memset(&t, 0, sizeof t);
    struct jinja_buf b = JV_BUF(E);
    char tmp[32];
    for (size_t i = 0; i < f->u.str.n; i++) {
        char c = i + 1 < f->u.str.n && f->u.str.s[i] == '%' ? f->u.str.s[i + 1] : 0;
        tmp[0] = 0;
        switch (c) {
        case 'Y': snprintf(tmp, sizeof tmp, "%d", t.tm_year + 1900); break;
        case 'm': snprintf(tmp, sizeof tmp, "%02d", t.tm_mon + 1); break;
        case 'd': snprintf(tmp, sizeof tmp, "%02d", t.tm_mday); break;
        case 'H': snprintf(tmp, sizeof tmp, "%02d", t.tm_hour); break;
        case 'M': snprintf(tmp, sizeof tmp, "%02d", t.tm_min); break;
        case 'b': snprintf(tmp, sizeof tmp, "%.3s", months[t.tm_mon % 12]); break;
        case 'B': snprintf(tmp, sizeof tmp, "%s", months[t.tm_mon % 12]); break;
        case '%': snprintf(tmp, sizeof tmp, "%%"); break;
        default: c = 0;
        }
        if (c) {
            jinja_buf_adds(&b, tmp);
            i++;
        } else {
            jinja_buf_addc(&b, f->u.str.s[i]);
        }
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_split(struct jinja_ev *E, const struct jinja_value *v, struct jinja_value **args, size_t nargs,
                                    size_t pos)
{
    const struct jinja_value *sep = nargs > 0 ? args[0] : NULL, *mx = nargs > 1 ? args[1] : NULL;
    if (sep && sep->type != JINJA_STRING && sep->type != JINJA_NULL)
        return jv_fail(E, pos, "sep argument must be a string or null");
    if (mx && mx->type != JINJA_INT)
        return jv_fail(E, pos, "maxsplit argument must be a number");
    double maxsplit = mx ? mx->u.f : -1;
    struct jinja_value *arr = jinja_value_array();
    if (!arr)
        return jv_oom(E, pos);
    const char *s = v->u.str.s;
    size_t n = v->u.str.n, l;
    if (!sep || sep->type == JINJA_NULL) { /* runs of whitespace; no empty parts */
        size_t i = 0;
        while ((l = jinja_space_at(s, n, i)) > 0)
            i += l;
        while (i < n) {
            size_t st = i;
            while (i < n && jinja_space_at(s, n, i) == 0)
                i++;
            if (maxsplit != -1 && (double)arr->u.arr.n >= maxsplit) {
                if (jinja_array_push(arr, jinja_value_stringn(s + st, n - st)) != 0)
                    goto oom;
                break;
            }
            if (jinja_array_push(arr, jinja_value_stringn(s + st, i - st)) != 0)
                goto oom;
            while ((l = jinja_space_at(s, n, i)) > 0)
                i += l;
        }
        return arr;
    }
    if (sep->u.str.n == 0) {
        jinja_value_free(arr);
        return jv_fail(E, pos, "empty separator");
    }
    size_t st = 0, parts = 1;
    for (size_t i = 0; i + sep->u.str.n <= n; i++)
        if (memcmp(s + i, sep->u.str.s, sep->u.str.n) == 0)
            parts++, i += sep->u.str.n - 1;
    /* JS split, then the parts from index maxsplit on are joined again */
    double keep = maxsplit != -1 && (double)parts > maxsplit ? trunc(maxsplit) : (double)parts;
    if (keep < 0)
        keep = fmax((double)parts + keep, 0);
    size_t kept = (size_t)keep, idx = 0;
    if (jv_step(E, pos, (unsigned long long)parts * JV_ITEM_STEPS) != 0) {
        jinja_value_free(arr);
        return NULL;
    }
    for (size_t i = 0; i + sep->u.str.n <= n && idx < kept;) {
        if (memcmp(s + i, sep->u.str.s, sep->u.str.n) == 0) {
            if (jinja_array_push(arr, jinja_value_stringn(s + st, i - st)) != 0)
                goto oom;
            idx++;
            i += sep->u.str.n;
            st = i;
        } else {
            i++;
        }
    }
    if (idx < kept || kept < parts)
        if (jinja_array_push(arr, jinja_value_stringn(s + st, n - st)) != 0)
            goto oom;
    return arr;
oom:
    jinja_value_free(arr);
    return jv_oom(E, pos);
}

static struct jinja_value *jv_dictsort(struct jinja_ev *E, const struct jinja_value *obj, struct jinja_value **args,
                                       size_t nargs, size_t pos)
{
    const struct jinja_value *kw = NULL;
    struct jinja_value *posv[3] = {NULL, NULL, NULL};
    size_t np = 0;
    for (size_t i = 0; i < nargs; i++) {
        if (args[i]->type == JINJA_OBJECT && args[i]->sub == JV_KWARGS)
            kw = args[i];
        else if (np < 3)
            posv[np++] = args[i];
    }
    const struct jinja_value *cs = posv[0] ? posv[0] : jinja_object_get(kw, "case_sensitive");
    const struct jinja_value *by = posv[1] ? posv[1] : jinja_object_get(kw, "by");
    const struct jinja_value *rev = posv[2] ? posv[2] : jinja_object_get(kw, "reverse");
    if (cs && cs->type != JINJA_BOOL)
        return jv_fail(E, pos, "case_sensitive must be a boolean");
    if (by && by->type != JINJA_STRING)
        return jv_fail(E, pos, "by must be a string");
    if (by && strcmp(by->u.str.s, "key") && strcmp(by->u.str.s, "value"))
        return jv_fail(E, pos, "by must be either 'key' or 'value'");
    if (rev && rev->type != JINJA_BOOL)
        return jv_fail(E, pos, "reverse must be a boolean");
    struct jinja_value *items = jv_items(E, obj, 0, pos);
    if (!items)
        return NULL;
    size_t n = items->u.arr.n;
    struct jinja_value **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) {
        jinja_value_free(items);
        return jv_oom(E, pos);
    }
    int idx = by && !strcmp(by->u.str.s, "value");
    for (size_t i = 0; i < n; i++)
        keys[i] = items->u.arr.items[i]->u.arr.items[idx];
    int rc = jv_sort(E, items->u.arr.items, keys, n, cs && cs->u.b, rev && rev->u.b, pos);
    free(keys);
    if (rc != 0) {
        jinja_value_free(items);
        return NULL;
    }
    return items;
}

/* Calls fn with args in the call form; s is the calling scope. */
static struct jinja_value *jv_call(struct jinja_ev *E, const struct jinja_value *fn, struct jinja_value **args, size_t nargs,
                                   struct jinja_scope *s, size_t pos)
{
    struct jinja_value *self = fn->u.fn.self;
    struct jinja_value *a0 = nargs > 0 ? args[0] : NULL, *a1 = nargs > 1 ? args[1] : NULL;
    switch (fn->u.fn.id) {
    case JF_MACRO: {
        const struct jinja_node *m = fn->u.fn.node;
        char display[80];
        snprintf(display, sizeof display, "'%.60s'", m->name);
        return jv_run_block(E, display, m, args, nargs, s, pos);
    }
    case JF_CALLER:
        if (!fn->u.fn.scope)
            return jv_fail(E, pos, "caller() called after its call block ended");
        return jv_run_block(E, "None", fn->u.fn.node, args, nargs, fn->u.fn.scope, pos);
    case JF_STRFTIME:
        return jv_strftime(E, a0, pos);
    case JF_RAISE: {
        struct jinja_buf b = JV_BUF(E);
        if (a0 && a0->type != JINJA_UNDEFINED)
            jv_raw_str(E, &b, a0, pos);
        if (b.n)
            jinja_diag_set(E->d, pos, "raise_exception: %s", b.p);
        else
            jinja_diag_set(E->d, pos, "raise_exception() with an empty message");
        free(b.p);
        return NULL;
    }
    case JF_NAMESPACE: {
        size_t np = nargs;
        const struct jinja_value *kw = NULL;
        if (np && args[np - 1]->type == JINJA_OBJECT && args[np - 1]->sub == JV_KWARGS)
            kw = args[--np];
        if (np > 1)
            return jv_fail(E, pos, "namespace expected at most 1 argument");
        struct jinja_value *o = jv_sub(jinja_value_object(), JV_NAMESPACE);
        if (!o)
            return jv_oom(E, pos);
        if (E->nspaces == E->capspaces) {
            size_t cap = E->capspaces ? E->capspaces * 2 : 16;
            struct jinja_value **p = realloc(E->spaces, cap * sizeof *p);
            if (!p) {
                jinja_value_free(o);
                return jv_oom(E, pos);
            }
            E->spaces = p;
            E->capspaces = cap;
        }
        E->spaces[E->nspaces++] = jinja_value_ref(o);
        if (np == 1) {
            const struct jinja_value *src = args[0];
            if (jv_is_obj(src)) {
                for (size_t i = 0; i < src->u.obj.n; i++)
                    if (jinja_object_set(o, src->u.obj.keys[i], jinja_value_ref(src->u.obj.vals[i])) != 0)
                        goto ns_oom;
            } else if (src->type == JINJA_ARRAY) {
                for (size_t i = 0; i < src->u.arr.n; i++) {
                    const struct jinja_value *pair = src->u.arr.items[i];
                    if (pair->type != JINJA_ARRAY || pair->u.arr.n != 2 || pair->u.arr.items[0]->type != JINJA_STRING) {
                        jinja_value_free(o);
                        return jv_fail(E, pos, "namespace expected an object or an iterable of [key, value] pairs");
                    }
                    if (jinja_object_set(o, pair->u.arr.items[0]->u.str.s, jinja_value_ref(pair->u.arr.items[1])) != 0)
                        goto ns_oom;
                }
            } else {
                jinja_value_free(o);
                jinja_diag_set(E->d, pos, "'%s' object is not iterable", jv_type_name(src));
                return NULL;
            }
        }
        for (size_t i = 0; kw && i < kw->u.obj.n; i++)
            if (jinja_object_set(o, kw->u.obj.keys[i], jinja_value_ref(kw->u.obj.vals[i])) != 0)
                goto ns_oom;
        return o;
    ns_oom:
        jinja_value_free(o);
        return jv_oom(E, pos);
    }
    case JF_RANGE: {
        /* HF's range(start, stop, step = 1) on the raw values: none and
         * undefined are undefined (NaN in comparisons), booleans count as
         * 0 and 1 (but false is not a zero step) */
        double v[3] = {NAN, NAN, NAN};
        int given[3] = {0, 0, 0}, step_bool = 0, text[3] = {0, 0, 0};
        for (size_t i = 0; i < nargs && i < 3; i++) {
            const struct jinja_value *x = args[i];
            if (x->type == JINJA_NULL || x->type == JINJA_UNDEFINED)
                continue;
            if (x->type == JINJA_STRING) { /* compared as numbers; fine while no item is made */
                v[i] = jv_str_to_num(x->u.str.s, x->u.str.n);
                text[i] = 1;
            } else if (jv_is_num(x) || x->type == JINJA_BOOL) {
                v[i] = x->type == JINJA_BOOL ? x->u.b : x->u.f;
            } else {
                return jv_fail(E, pos, "range expects numbers");
            }
            given[i] = 1;
            step_bool = i == 2 && (x->type == JINJA_BOOL || x->type == JINJA_STRING);
        }
        if (!given[1]) {
            v[1] = v[0];
            v[0] = 0;
            text[1] = text[0];
            text[0] = 0;
        }
        if (!given[2])
            v[2] = 1;
        if (v[2] == 0 && !step_bool)
            return jv_fail(E, pos, "range() step must not be zero");
        if ((text[0] || text[2]) && (v[2] > 0 ? v[0] < v[1] : v[0] > v[1])) /* JavaScript would concatenate */
            return jv_fail(E, pos, "range() with text bounds is not supported");
        double count = v[2] > 0 ? ceil((v[1] - v[0]) / v[2]) : v[2] < 0 ? ceil((v[0] - v[1]) / -v[2]) : isnan(v[2]) ? 1 : INFINITY;
        if (!(count * JV_ITEM_STEPS <= (double)(E->max_steps - E->steps)) && count > 0 && (v[2] > 0 ? v[0] < v[1] : v[0] > v[1])) {
            jinja_diag_set(E->d, pos, "range() is too long for the template's work limit (%llu steps)", E->max_steps);
            return NULL;
        }
        struct jinja_value *arr = jinja_value_array();
        if (!arr)
            return jv_oom(E, pos);
        /* the first item is the start value itself (a boolean stays one) */
        int bool_start = given[1] && args[0]->type == JINJA_BOOL;
        for (double x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2]) {
            if (jv_step(E, pos, JV_ITEM_STEPS) != 0) {
                jinja_value_free(arr);
                return NULL;
            }
            struct jinja_value *item = bool_start ? jinja_value_bool(x != 0) : jv_number(x, x == trunc(x));
            bool_start = 0;
            if (jinja_array_push(arr, item) != 0) {
                jinja_value_free(arr);
                return jv_oom(E, pos);
            }
        }
        return arr;
    }
    case JM_UPPER: return jv_case(E, self, 1, pos);
    case JM_LOWER: return jv_case(E, self, 0, pos);
    case JM_TITLE: return jv_title(E, self, 0, pos);
    case JM_CAPITALIZE: return jv_title(E, self, 1, pos);
    case JM_STRIP: return jv_trim(E, self, 1, 1, pos);
    case JM_LSTRIP: return jv_trim(E, self, 1, 0, pos);
    case JM_RSTRIP: return jv_trim(E, self, 0, 1, pos);
    case JM_STARTSWITH:
    case JM_ENDSWITH: {
        int start = fn->u.fn.id == JM_STARTSWITH;
        if (!a0)
            return jv_fail(E, pos, start ? "startswith() requires at least one argument" : "endswith() requires at least one argument");
        size_t np = a0->type == JINJA_ARRAY ? a0->u.arr.n : 1;
        if (a0->type != JINJA_ARRAY && a0->type != JINJA_STRING)
            return jv_fail(E, pos, "startswith()/endswith() argument must be a string or tuple of strings");
        int r = 0;
        for (size_t i = 0; i < np && !r; i++) {
            const struct jinja_value *p = a0->type == JINJA_ARRAY ? a0->u.arr.items[i] : a0;
            if (p->type != JINJA_STRING)
                return jv_fail(E, pos, "startswith()/endswith() tuple elements must be strings");
            r = p->u.str.n <= self->u.str.n &&
                memcmp(start ? self->u.str.s : self->u.str.s + self->u.str.n - p->u.str.n, p->u.str.s, p->u.str.n) == 0;
        }
        return jv_ok(E, jinja_value_bool(r), pos);
    }
    case JM_SPLIT:
        return jv_split(E, self, args, nargs, pos);
    case JM_REPLACE: {
        if (nargs < 2)
            return jv_fail(E, pos, "replace() requires at least two arguments");
        if (a0->type != JINJA_STRING || a1->type != JINJA_STRING)
            return jv_fail(E, pos, "replace() arguments must be strings");
        const struct jinja_value *cnt = NULL;
        if (nargs > 2)
            cnt = args[2]->type == JINJA_OBJECT && args[2]->sub == JV_KWARGS ? jinja_object_get(args[2], "count") : args[2];
        if (cnt && cnt->type != JINJA_INT && cnt->type != JINJA_NULL)
            return jv_fail(E, pos, "replace() count argument must be a number or null");
        return jv_replace(E, self, a0, a1, cnt && cnt->type == JINJA_INT ? cnt->u.f : -1, pos);
    }
    case JM_GET: {
        if (!a0 || a0->type != JINJA_STRING)
            return jv_fail(E, pos, "object key must be a string");
        struct jinja_value *v = jinja_object_get(self, a0->u.str.s);
        if (v)
            return jinja_value_ref(v);
        return jv_ok(E, a1 ? jinja_value_ref(a1) : jinja_value_null(), pos);
    }
    case JM_ITEMS: return jv_items(E, self, 0, pos);
    case JM_KEYS: return jv_items(E, self, 1, pos);
    case JM_VALUES: return jv_items(E, self, 2, pos);
    case JM_DICTSORT: return jv_dictsort(E, self, args, nargs, pos);
    default: break;
    }
    return jv_fail(E, pos, "unknown function");
}

/* ---- filters ---- */

static struct jinja_value *jv_join(struct jinja_ev *E, const struct jinja_value *v, const struct jinja_value *sep,
                                   size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    if (v->type == JINJA_STRING) { /* Array.from(string): code points */
        for (size_t i = 0; i < v->u.str.n;) {
            size_t l;
            jv_decode(v->u.str.s, v->u.str.n, i, &l);
            if (i && sep)
                jinja_buf_add(&b, sep->u.str.s, sep->u.str.n);
            jinja_buf_add(&b, v->u.str.s + i, l);
            i += l;
        }
    } else {
        for (size_t i = 0; i < v->u.arr.n; i++) {
            const struct jinja_value *x = v->u.arr.items[i];
            if (i && sep)
                jinja_buf_add(&b, sep->u.str.s, sep->u.str.n);
            if (x->type != JINJA_NULL && x->type != JINJA_UNDEFINED && jv_raw_str(E, &b, x, pos) != 0) {
                free(b.p);
                return NULL;
            }
        }
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_indent(struct jinja_ev *E, const struct jinja_value *v, double width, int first, int blank,
                                     size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    size_t line = 0, st = 0;
    long long w = width > 0 ? (long long)fmin(width, (double)E->max_bytes + 1) : 0;
    for (size_t i = 0; i <= v->u.str.n && !b.oom; i++) {
        if (i < v->u.str.n && v->u.str.s[i] != '\n')
            continue;
        if (!((!first && line == 0) || (!blank && i == st)))
            for (long long k = 0; k < w && !b.oom; k++)
                jinja_buf_addc(&b, ' ');
        jinja_buf_add(&b, v->u.str.s + st, i - st);
        if (i < v->u.str.n)
            jinja_buf_addc(&b, '\n');
        st = i + 1;
        line++;
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_to_json(struct jinja_ev *E, const struct jinja_value *v, const struct jv_json_opts *o,
                                      size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    if (jv_json(E, &b, v, o, 0, pos) != 0) {
        free(b.p);
        return NULL;
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_to_string(struct jinja_ev *E, const struct jinja_value *v, size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    if (jv_str(E, &b, v, pos) != 0) {
        free(b.p);
        return NULL;
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_filter_plain(struct jinja_ev *E, const char *name, struct jinja_value *v, size_t pos)
{
    static const struct jv_json_opts tojson = {0, 0, 0, NULL, NULL, 1};
    if (!strcmp(name, "safe"))
        return jinja_value_ref(v);
    if (!strcmp(name, "tojson"))
        return jv_to_json(E, v, &tojson, pos);
    if (v->type == JINJA_ARRAY) {
        size_t n = v->u.arr.n;
        if (!strcmp(name, "list"))
            return jinja_value_ref(v);
        if (!strcmp(name, "first") || !strcmp(name, "last")) {
            if (!n)
                return jv_fail(E, pos, "first/last of an empty list");
            return jinja_value_ref(v->u.arr.items[name[0] == 'f' ? 0 : n - 1]);
        }
        if (!strcmp(name, "length"))
            return jv_ok(E, jv_number((double)n, 1), pos);
        if (!strcmp(name, "join"))
            return jv_join(E, v, NULL, pos);
        if (!strcmp(name, "string")) {
            static const struct jv_json_opts plain = {0, 0, 0, NULL, NULL, 0};
            return jv_to_json(E, v, &plain, pos);
        }
        if (!strcmp(name, "reverse") || !strcmp(name, "sort") || !strcmp(name, "unique")) {
            struct jinja_value *r = jinja_value_array();
            if (!r || jv_step(E, pos, (unsigned long long)n * JV_ITEM_STEPS) != 0) {
                jinja_value_free(r);
                return r ? NULL : jv_oom(E, pos);
            }
            for (size_t i = 0; i < n; i++) {
                struct jinja_value *x = v->u.arr.items[name[0] == 'r' ? n - 1 - i : i];
                int seen = 0;
                for (size_t k = 0; name[0] == 'u' && k < r->u.arr.n && !seen; k++)
                    seen = jv_same_zero(r->u.arr.items[k], x);
                if (name[0] == 'u' && jv_step(E, pos, r->u.arr.n / 16) != 0) {
                    jinja_value_free(r);
                    return NULL;
                }
                if (!seen && jinja_array_push(r, jinja_value_ref(x)) != 0) {
                    jinja_value_free(r);
                    return jv_oom(E, pos);
                }
            }
            if (name[0] == 's' && jv_sort(E, r->u.arr.items, r->u.arr.items, r->u.arr.n, 0, 0, pos) != 0) {
                jinja_value_free(r);
                return NULL;
            }
            return r;
        }
    } else if (v->type == JINJA_STRING) {
        if (!strcmp(name, "length"))
            return jv_ok(E, jv_number((double)jinja_utf16_len(v->u.str.s, v->u.str.n), 1), pos);
        if (!strcmp(name, "upper") || !strcmp(name, "lower"))
            return jv_case(E, v, name[0] == 'u', pos);
        if (!strcmp(name, "title") || !strcmp(name, "capitalize"))
            return jv_title(E, v, name[0] == 'c', pos);
        if (!strcmp(name, "trim"))
            return jv_trim(E, v, 1, 1, pos);
        if (!strcmp(name, "indent"))
            return jv_indent(E, v, 4, 0, 0, pos);
        if (!strcmp(name, "join") || !strcmp(name, "string"))
            return jinja_value_ref(v);
        if (!strcmp(name, "int") || !strcmp(name, "float")) {
            double d = jv_parse_number(v->u.str.s, v->u.str.n, name[0] == 'f');
            return jv_ok(E, jv_number(isnan(d) ? 0 : d, name[0] == 'i'), pos);
        }
    } else if (jv_is_num(v)) {
        if (!strcmp(name, "abs"))
            return jv_ok(E, jv_number(fabs(v->u.f), v->type == JINJA_INT), pos);
        if (!strcmp(name, "int"))
            return jv_ok(E, jv_number(floor(v->u.f), 1), pos);
        if (!strcmp(name, "float"))
            return jv_ok(E, jv_number(v->u.f, 0), pos);
        if (!strcmp(name, "string"))
            return jv_to_string(E, v, pos);
    } else if (jv_is_obj(v)) {
        if (!strcmp(name, "items"))
            return jv_items(E, v, 0, pos);
        if (!strcmp(name, "length"))
            return jv_ok(E, jv_number((double)v->u.obj.n, 1), pos);
        if (!strcmp(name, "keys"))
            return jv_items(E, v, 1, pos);
        if (!strcmp(name, "values"))
            return jv_items(E, v, 2, pos);
        if (!strcmp(name, "dictsort"))
            return jv_dictsort(E, v, NULL, 0, pos);
        if (!strcmp(name, "get"))
            return jv_fail(E, pos, "object key must be a string");
    } else if (v->type == JINJA_BOOL) {
        if (!strcmp(name, "bool"))
            return jv_ok(E, jinja_value_bool(v->u.b), pos);
        if (!strcmp(name, "int") || !strcmp(name, "float"))
            return jv_ok(E, jv_number(v->u.b, name[0] == 'i'), pos);
        if (!strcmp(name, "string"))
            return jv_ok(E, jinja_value_string(v->u.b ? "true" : "false"), pos);
    }
    jinja_diag_set(E->d, pos, "unknown filter '%.60s' for %s", name, jv_type_name(v));
    return NULL;
}

/* filter(args) */
static struct jinja_value *jv_filter_call(struct jinja_ev *E, const struct jinja_node *f, struct jinja_value *v,
                                          struct jinja_scope *s)
{
    const char *name = f->name;
    size_t pos = f->pos;
    struct jv_args a;
    struct jinja_value *r = NULL;
    int known = !strcmp(name, "tojson") || !strcmp(name, "join") || !strcmp(name, "int") || !strcmp(name, "float") ||
                !strcmp(name, "default");
    if (!known) {
        if (v->type == JINJA_ARRAY)
            known = !strcmp(name, "sort") || !strcmp(name, "selectattr") || !strcmp(name, "rejectattr") ||
                    !strcmp(name, "map");
        else if (v->type == JINJA_STRING)
            known = !strcmp(name, "indent") || !strcmp(name, "replace");
        else if (jv_is_obj(v))
            known = !strcmp(name, "get") || !strcmp(name, "items") || !strcmp(name, "keys") || !strcmp(name, "values") ||
                    !strcmp(name, "dictsort");
    }
    if (!known) {
        jinja_diag_set(E->d, pos, "unknown filter '%.60s' for %s", name, jv_type_name(v));
        return NULL;
    }
    if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr")) {
        int select = name[0] == 's';
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (v->u.arr.items[i]->type != JINJA_OBJECT)
                return jv_fail(E, pos, "selectattr/rejectattr can only be applied to an array of objects");
        for (size_t i = 0; i < f->nlist; i++)
            if (f->list[i]->kind != JN_LITERAL || f->list[i]->lit->type != JINJA_STRING)
                return jv_fail(E, pos, "arguments of selectattr/rejectattr must be strings");
        const struct jinja_value *attr = f->nlist > 0 ? f->list[0]->lit : NULL;
        const struct jinja_value *test = f->nlist > 1 ? f->list[1]->lit : NULL;
        const struct jinja_value *arg = f->nlist > 2 ? f->list[2]->lit : NULL;
        if (test && !jv_test_known(test->u.str.s)) { /* fails even on an empty list */
            jinja_diag_set(E->d, pos, "unknown test '%.60s'", test->u.str.s);
            return NULL;
        }
        r = jinja_value_array();
        if (!r)
            return jv_oom(E, pos);
        for (size_t i = 0; i < v->u.arr.n; i++) {
            struct jinja_value *it = v->u.arr.items[i];
            if (!attr) {
                jinja_value_free(r);
                return jv_fail(E, pos, "selectattr/rejectattr needs an attribute name");
            }
            struct jinja_value *x = jinja_object_get(it, attr->u.str.s);
            int ok = 0;
            if (x) {
                ok = test ? jv_test(E, test->u.str.s, x, arg, arg != NULL, pos) : jv_truthy(x);
                if (ok < 0) {
                    jinja_value_free(r);
                    return NULL;
                }
            }
            if (ok == select && jinja_array_push(r, jinja_value_ref(it)) != 0) {
                jinja_value_free(r);
                return jv_oom(E, pos);
            }
        }
        return r;
    }
    if (jv_args_eval(E, f->list, f->nlist, s, &a) != 0)
        return NULL;
    struct jinja_value *a0 = a.npos > 0 ? a.pos[0] : NULL, *a1 = a.npos > 1 ? a.pos[1] : NULL, *a2 = a.npos > 2 ? a.pos[2] : NULL;
    if (!strcmp(name, "tojson")) {
        struct jv_json_opts o = {0, 0, 0, NULL, NULL, 1};
        struct jinja_value *ind = jv_kwarg(&a, "indent"), *asc = jv_kwarg(&a, "ensure_ascii");
        struct jinja_value *sk = jv_kwarg(&a, "sort_keys"), *sep = jv_kwarg(&a, "separators");
        if (ind && ind->type != JINJA_INT && ind->type != JINJA_NULL)
            r = jv_fail(E, pos, "if set, indent must be a number");
        else if (asc && asc->type != JINJA_BOOL)
            r = jv_fail(E, pos, "if set, ensure_ascii must be a boolean");
        else if (sk && sk->type != JINJA_BOOL)
            r = jv_fail(E, pos, "if set, sort_keys must be a boolean");
        else if (sep && sep->type != JINJA_NULL &&
                 (sep->type != JINJA_ARRAY || sep->u.arr.n != 2 || sep->u.arr.items[0]->type != JINJA_STRING ||
                  sep->u.arr.items[1]->type != JINJA_STRING))
            r = jv_fail(E, pos, "separators must be a tuple of two strings");
        else {
            if (ind && ind->type == JINJA_INT)
                o.indent = isnan(ind->u.f) ? 0 : (long long)fmax(fmin(trunc(ind->u.f), 1e15), -1);
            o.ascii = asc && asc->u.b;
            o.sort_keys = sk && sk->u.b;
            if (sep && sep->type == JINJA_ARRAY) {
                o.item_sep = sep->u.arr.items[0]->u.str.s;
                o.key_sep = sep->u.arr.items[1]->u.str.s;
            }
            r = jv_to_json(E, v, &o, pos);
        }
    } else if (!strcmp(name, "join")) {
        const struct jinja_value *sep = a0 ? a0 : jv_kwarg(&a, "separator");
        if (v->type != JINJA_STRING && v->type != JINJA_ARRAY)
            jinja_diag_set(E->d, pos, "cannot apply filter join to %s", jv_type_name(v));
        else if (sep && sep->type != JINJA_STRING)
            jv_fail(E, pos, "separator must be a string");
        else
            r = jv_join(E, v, sep, pos);
    } else if (!strcmp(name, "int") || !strcmp(name, "float")) {
        int is_int = name[0] == 'i';
        struct jinja_value *def = a0 ? a0 : jv_kwarg(&a, "default");
        if (v->type == JINJA_STRING) {
            double d = jv_parse_number(v->u.str.s, v->u.str.n, !is_int);
            r = isnan(d) ? (def ? jinja_value_ref(def) : jv_number(0, is_int)) : jv_number(d, is_int);
        } else if (jv_is_num(v)) {
            r = jinja_value_ref(v);
        } else if (v->type == JINJA_BOOL) {
            r = jv_number(v->u.b, is_int);
        } else {
            jinja_diag_set(E->d, pos, "cannot apply filter %s to %s", name, jv_type_name(v));
        }
        if (!r)
            jv_oom(E, pos);
    } else if (!strcmp(name, "default")) {
        const struct jinja_value *flag = a1 ? a1 : jv_kwarg(&a, "boolean");
        if (flag && flag->type != JINJA_BOOL)
            jv_fail(E, pos, "the default filter's flag must be a boolean");
        else if (v->type == JINJA_UNDEFINED || (flag && flag->u.b && !jv_truthy(v)))
            r = a0 ? jinja_value_ref(a0) : jinja_value_stringn("", 0);
        else
            r = jinja_value_ref(v);
        if (!r)
            jv_oom(E, pos);
    } else if (v->type == JINJA_ARRAY && !strcmp(name, "sort")) {
        const struct jinja_value *rev = a0 ? a0 : jv_kwarg(&a, "reverse");
        const struct jinja_value *cs = a1 ? a1 : jv_kwarg(&a, "case_sensitive");
        const struct jinja_value *attr = a2 ? a2 : jv_kwarg(&a, "attribute");
        if (rev && rev->type != JINJA_BOOL)
            jv_fail(E, pos, "reverse must be a boolean");
        else if (cs && cs->type != JINJA_BOOL)
            jv_fail(E, pos, "case_sensitive must be a boolean");
        else if (attr && attr->type != JINJA_STRING && attr->type != JINJA_INT && attr->type != JINJA_NULL)
            jv_fail(E, pos, "attribute must be a string, integer, or null");
        else {
            size_t n = v->u.arr.n;
            struct jinja_value **keys = malloc((n ? n : 1) * sizeof *keys);
            struct jinja_buf path = JV_BUF(E);
            if (attr && attr->type == JINJA_STRING)
                jinja_buf_add(&path, attr->u.str.s, attr->u.str.n);
            else if (attr && attr->type == JINJA_INT)
                jv_fmt_num(&path, attr->u.f);
            r = keys ? jinja_value_array() : NULL;
            for (size_t i = 0; r && i < n; i++) {
                struct jinja_value *x = v->u.arr.items[i];
                keys[i] = attr && attr->type != JINJA_NULL ? (struct jinja_value *)jv_attr_path(x, path.p ? path.p : "") : x;
                if (jinja_array_push(r, jinja_value_ref(x)) != 0) {
                    jinja_value_free(r);
                    r = NULL;
                }
            }
            if (!r)
                jv_oom(E, pos);
            else if (jv_sort(E, r->u.arr.items, keys, n, cs && cs->u.b, rev && rev->u.b, pos) != 0) {
                jinja_value_free(r);
                r = NULL;
            }
            free(keys);
            free(path.p);
        }
    } else if (v->type == JINJA_ARRAY && !strcmp(name, "map")) {
        struct jinja_value *attr = jv_kwarg(&a, "attribute"), *def = jv_kwarg(&a, "default");
        if (!attr)
            jv_fail(E, pos, "map without attribute= is not supported");
        else if (attr->type != JINJA_STRING)
            jv_fail(E, pos, "attribute must be a string");
        else {
            r = jinja_value_array();
            for (size_t i = 0; r && i < v->u.arr.n; i++) {
                const struct jinja_value *it = v->u.arr.items[i];
                if (it->type != JINJA_OBJECT) {
                    jinja_value_free(r);
                    r = jv_fail(E, pos, "items in map must be objects");
                    break;
                }
                const struct jinja_value *x = jv_attr_path(it, attr->u.str.s);
                struct jinja_value *y = x->type == JINJA_UNDEFINED ? (def ? jinja_value_ref(def) : jinja_value_undefined())
                                                                   : jinja_value_ref((struct jinja_value *)x);
                if (jinja_array_push(r, y) != 0) {
                    jinja_value_free(r);
                    r = jv_oom(E, pos);
                }
            }
            if (!r && !E->d->set)
                jv_oom(E, pos);
        }
    } else if (v->type == JINJA_STRING && !strcmp(name, "indent")) {
        const struct jinja_value *w = a0 ? a0 : jv_kwarg(&a, "width");
        const struct jinja_value *first = a1 ? a1 : jv_kwarg(&a, "first");
        const struct jinja_value *blank = a2 ? a2 : jv_kwarg(&a, "blank");
        if (w && w->type != JINJA_INT)
            jv_fail(E, pos, "width must be a number");
        else
            r = jv_indent(E, v, w ? w->u.f : 4, first && jv_js_truthy(first), blank && jv_js_truthy(blank), pos);
    } else {
        /* string replace and the object methods, called like methods */
        struct jinja_value fn = {.type = JINJA_CALLABLE, .refs = 1};
        fn.u.fn.self = v;
        fn.u.fn.id = !strcmp(name, "replace") ? JM_REPLACE : !strcmp(name, "get") ? JM_GET : !strcmp(name, "items") ? JM_ITEMS
                   : !strcmp(name, "keys") ? JM_KEYS : !strcmp(name, "values") ? JM_VALUES : JM_DICTSORT;
        if (jv_args_join(E, &a, fn.u.fn.id == JM_REPLACE, pos) == 0)
            r = jv_call(E, &fn, a.pos, a.npos, s, pos);
    }
    jv_args_free(&a);
    return r;
}

static struct jinja_value *jv_filter(struct jinja_ev *E, const struct jinja_node *f, struct jinja_value *v, struct jinja_scope *s)
{
    if (f->flags & JNF_BAD)
        return jv_fail(E, f->pos, "unknown filter (not a plain name)");
    if (f->flags & JNF_CALL)
        return jv_filter_call(E, f, v, s);
    return jv_filter_plain(E, f->name, v, f->pos);
}

/* ---- tests ---- */

static int jv_test_known(const char *name)
{
    static const char *const names[] = {"boolean", "callable", "odd", "even", "false", "true", "none", "string",
                                        "number", "integer", "iterable", "mapping", "sequence", "lower", "upper",
                                        "defined", "undefined", "equalto", "eq", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

/* Returns 1/0, or -1 on error; arg is the second argument of selectattr's tests. */
static int jv_test(struct jinja_ev *E, const char *name, const struct jinja_value *v, const struct jinja_value *arg,
                   int has_arg, size_t pos)
{
    enum jinja_type t = v->type;
    if (!strcmp(name, "boolean")) return t == JINJA_BOOL;
    if (!strcmp(name, "callable")) return t == JINJA_CALLABLE;
    if (!strcmp(name, "odd") || !strcmp(name, "even")) {
        if (t != JINJA_INT) {
            jinja_diag_set(E->d, pos, "cannot %s on %s", name, jv_type_name(v));
            return -1;
        }
        return (fmod(v->u.f, 2) != 0) == (name[0] == 'o');
    }
    if (!strcmp(name, "false")) return t == JINJA_BOOL && !v->u.b;
    if (!strcmp(name, "true")) return t == JINJA_BOOL && v->u.b;
    if (!strcmp(name, "none")) return t == JINJA_NULL;
    if (!strcmp(name, "string")) return t == JINJA_STRING;
    if (!strcmp(name, "number")) return jv_is_num(v);
    if (!strcmp(name, "integer")) return t == JINJA_INT;
    if (!strcmp(name, "iterable")) return (t == JINJA_ARRAY && v->sub != JV_TUPLE) || t == JINJA_STRING;
    if (!strcmp(name, "mapping")) return jv_is_obj(v);
    if (!strcmp(name, "sequence")) return t == JINJA_ARRAY || jv_is_obj(v) || t == JINJA_STRING;
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        if (t != JINJA_STRING)
            return 0;
        struct jinja_buf b = {0};
        jv_case_str(&b, v->u.str.s, v->u.str.n, name[0] == 'u');
        int same = !b.oom && b.n == v->u.str.n && (b.n == 0 || memcmp(b.p, v->u.str.s, b.n) == 0);
        free(b.p);
        return same;
    }
    if (!strcmp(name, "defined")) return t != JINJA_UNDEFINED;
    if (!strcmp(name, "undefined")) return t == JINJA_UNDEFINED;
    if (!strcmp(name, "equalto") || !strcmp(name, "eq")) {
        if (!has_arg) {
            jinja_diag_set(E->d, pos, "test '%s' needs a value to compare with", name);
            return -1;
        }
        return jv_same(v, arg);
    }
    jinja_diag_set(E->d, pos, "unknown test '%.60s'", name);
    return -1;
}

/* ---- operators ---- */

static struct jinja_value *jv_concat(struct jinja_ev *E, const struct jinja_value *l, const struct jinja_value *r, size_t pos)
{
    struct jinja_buf b = JV_BUF(E);
    if (jv_raw_str(E, &b, l, pos) != 0 || jv_raw_str(E, &b, r, pos) != 0) {
        free(b.p);
        return NULL;
    }
    return jv_from_buf(E, &b, pos);
}

static struct jinja_value *jv_binary(struct jinja_ev *E, const struct jinja_node *n, struct jinja_value *l,
                                     struct jinja_value *r)
{
    const char *op = n->name;
    size_t pos = n->pos;
    int in = !strcmp(op, "in"), notin = !strcmp(op, "not in");
    if (!strcmp(op, "==") || !strcmp(op, "!=")) {
        int eq = jv_loose_eq(E, l, r, pos);
        return jv_ok(E, eq < 0 ? NULL : jinja_value_bool(op[0] == '=' ? eq : !eq), pos);
    }
    if (l->type == JINJA_UNDEFINED || r->type == JINJA_UNDEFINED) {
        if (r->type == JINJA_UNDEFINED && (in || notin))
            return jv_ok(E, jinja_value_bool(notin), pos);
        jinja_diag_set(E->d, pos, "cannot perform operation %s on undefined values", op);
        return NULL;
    }
    if (l->type == JINJA_NULL || r->type == JINJA_NULL)
        return jv_fail(E, pos, "cannot perform operation on null values");
    if (!strcmp(op, "~"))
        return jv_concat(E, l, r, pos);
    int lnum = jv_is_num(l) || l->type == JINJA_BOOL, rnum = jv_is_num(r) || r->type == JINJA_BOOL;
    if (!strcmp(op, "**") && lnum && rnum) {
        double a = l->type == JINJA_BOOL ? l->u.b : l->u.f, b = r->type == JINJA_BOOL ? r->u.b : r->u.f;
        if (a == 0 && b < 0)
            return jv_fail(E, pos, "0.0 cannot be raised to a negative power");
        double res = (fabs(a) == 1 && isinf(b)) ? NAN : pow(a, b);
        if (!isfinite(res))
            return jv_fail(E, pos, "exponentiation result is not a finite real number");
        return jv_ok(E, jv_number(res, !(l->type == JINJA_FLOAT || r->type == JINJA_FLOAT || b < 0)), pos);
    }
    if (jv_is_num(l) && jv_is_num(r)) {
        double a = l->u.f, b = r->u.f;
        int is_int = l->type == JINJA_INT && r->type == JINJA_INT;
        switch (op[0]) {
        case '+': return jv_ok(E, jv_number(a + b, is_int), pos);
        case '-': return jv_ok(E, jv_number(a - b, is_int), pos);
        case '*': return jv_ok(E, jv_number(a * b, is_int), pos);
        case '/':
            if (op[1] == '/')
                return jv_ok(E, jv_number(floor(a / b), is_int), pos);
            return jv_ok(E, jv_number(a / b, 0), pos);
        case '%': return jv_ok(E, jv_number(fmod(a, b), is_int), pos);
        case '<': return jv_ok(E, jinja_value_bool(op[1] ? a <= b : a < b), pos);
        case '>': return jv_ok(E, jinja_value_bool(op[1] ? a >= b : a > b), pos);
        default: break;
        }
    } else if (l->type == JINJA_ARRAY && r->type == JINJA_ARRAY) {
        if (!strcmp(op, "+")) {
            struct jinja_value *a = jinja_value_array();
            if (!a || jv_step(E, pos, (unsigned long long)(l->u.arr.n + r->u.arr.n) * JV_ITEM_STEPS) != 0) {
                jinja_value_free(a);
                return a ? NULL : jv_oom(E, pos);
            }
            for (size_t i = 0; i < l->u.arr.n + r->u.arr.n; i++) {
                struct jinja_value *x = i < l->u.arr.n ? l->u.arr.items[i] : r->u.arr.items[i - l->u.arr.n];
                if (jinja_array_push(a, jinja_value_ref(x)) != 0) {
                    jinja_value_free(a);
                    return jv_oom(E, pos);
                }
            }
            return a;
        }
    } else if (r->type == JINJA_ARRAY && (in || notin)) {
        int found = 0;
        for (size_t i = 0; i < r->u.arr.n && !found; i++)
            found = jv_same(r->u.arr.items[i], l);
        return jv_ok(E, jinja_value_bool(in ? found : !found), pos);
    }
    if ((l->type == JINJA_STRING || r->type == JINJA_STRING) && !strcmp(op, "+"))
        return jv_concat(E, l, r, pos);
    if (l->type == JINJA_STRING && r->type == JINJA_STRING && (in || notin)) {
        int found = l->u.str.n == 0;
        for (size_t i = 0; !found && i + l->u.str.n <= r->u.str.n; i++)
            found = memcmp(r->u.str.s + i, l->u.str.s, l->u.str.n) == 0;
        return jv_ok(E, jinja_value_bool(in ? found : !found), pos);
    }
    if (l->type == JINJA_STRING && jv_is_obj(r) && (in || notin)) {
        int found = jinja_object_get(r, l->u.str.s) != NULL;
        return jv_ok(E, jinja_value_bool(in ? found : !found), pos);
    }
    jinja_diag_set(E->d, pos, "unknown operator \"%s\" between %s and %s", op, jv_type_name(l), jv_type_name(r));
    return NULL;
}

static const char *const jv_globals[] = {"namespace", "false", "true", "none", "raise_exception", "range",
                                         "strftime_now", "True", "False", "None", NULL};

static struct jinja_value *jv_global(const char *name)
{
    if (!strcmp(name, "true") || !strcmp(name, "True"))
        return jinja_value_bool(1);
    if (!strcmp(name, "false") || !strcmp(name, "False"))
        return jinja_value_bool(0);
    if (!strcmp(name, "none") || !strcmp(name, "None"))
        return jinja_value_null();
    if (!strcmp(name, "raise_exception"))
        return jv_callable(JF_RAISE, NULL);
    if (!strcmp(name, "namespace"))
        return jv_callable(JF_NAMESPACE, NULL);
    if (!strcmp(name, "range"))
        return jv_callable(JF_RANGE, NULL);
    if (!strcmp(name, "strftime_now"))
        return jv_callable(JF_STRFTIME, NULL);
    return jinja_value_undefined();
}

static struct jinja_value *jv_eval(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s)
{
    if (++E->depth > JINJA_MAX_EVAL_DEPTH) {
        E->depth--;
        return jv_fail(E, n->pos, "expression nested too deeply");
    }
    if (jv_step(E, n->pos, 1) != 0) {
        E->depth--;
        return NULL;
    }
    struct jinja_value *r = NULL, *x = NULL, *y = NULL;
    switch (n->kind) {
    case JN_LITERAL:
        r = jinja_value_ref(n->lit);
        break;
    case JN_NAME: {
        struct jinja_value *v = jv_lookup(s, n->name);
        r = v ? jinja_value_ref(v) : jv_global(n->name);
        break;
    }
    case JN_ATTR: {
        if (!(x = jv_eval(E, n->a, s)))
            break;
        struct jinja_value key = {.type = JINJA_STRING, .refs = 1};
        key.u.str.s = (char *)n->name;
        key.u.str.n = strlen(n->name);
        r = jv_member(E, x, &key, n->pos);
        break;
    }
    case JN_INDEX:
        if ((x = jv_eval(E, n->a, s)) && (y = jv_eval(E, n->b, s)))
            r = jv_member(E, x, y, n->pos);
        break;
    case JN_SLICE: {
        struct jinja_value *p[3] = {NULL, NULL, NULL};
        const struct jinja_node *pn[3] = {n->b, n->c, n->list[0]};
        int ok = (x = jv_eval(E, n->a, s)) != NULL;
        if (ok && x->type != JINJA_ARRAY && x->type != JINJA_STRING) {
            jv_fail(E, n->pos, "slice object must be an array or string");
            ok = 0;
        }
        for (int i = 0; ok && i < 3; i++)
            if (!(p[i] = pn[i] ? jv_eval(E, pn[i], s) : jinja_value_undefined()))
                ok = 0;
        if (ok)
            r = jv_slice(E, x, p, n->pos);
        for (int i = 0; i < 3; i++)
            jinja_value_free(p[i]);
        break;
    }
    case JN_CALL: {
        struct jv_args a;
        if (jv_args_eval(E, n->list, n->nlist, s, &a) != 0)
            break;
        if (jv_args_join(E, &a, 0, n->pos) == 0 && (x = jv_eval(E, n->a, s)) != NULL) {
            if (x->type != JINJA_CALLABLE)
                jinja_diag_set(E->d, n->pos, "cannot call something that is not a function: got %s", jv_type_name(x));
            else
                r = jv_call(E, x, a.pos, a.npos, s, n->pos);
        }
        jv_args_free(&a);
        break;
    }
    case JN_FILTER:
        if ((x = jv_eval(E, n->a, s)))
            r = jv_filter(E, n, x, s);
        break;
    case JN_TEST:
        if ((x = jv_eval(E, n->a, s))) {
            int t = jv_test(E, n->name, x, NULL, 0, n->pos);
            if (t >= 0)
                r = jinja_value_bool(n->negate ? !t : t);
        }
        break;
    case JN_BINARY:
        if (!(x = jv_eval(E, n->a, s)))
            break;
        if (!strcmp(n->name, "and") || !strcmp(n->name, "or")) {
            if ((n->name[0] == 'a') != jv_truthy(x)) {
                r = x;
                x = NULL;
            } else {
                r = jv_eval(E, n->b, s);
            }
            break;
        }
        if ((y = jv_eval(E, n->b, s)))
            r = jv_binary(E, n, x, y);
        break;
    case JN_NOT:
        if ((x = jv_eval(E, n->a, s)))
            r = jinja_value_bool(!jv_truthy(x));
        break;
    case JN_NEG:
    case JN_POS:
        if (!(x = jv_eval(E, n->a, s)))
            break;
        if (jv_is_num(x) || x->type == JINJA_BOOL) {
            double v = x->type == JINJA_BOOL ? x->u.b : x->u.f;
            r = jv_number(n->kind == JN_NEG ? -1 * v : v, x->type != JINJA_FLOAT);
        } else {
            jinja_diag_set(E->d, n->pos, "unknown operator \"%s\" for %s", n->kind == JN_NEG ? "-" : "+", jv_type_name(x));
        }
        break;
    case JN_COND:
        if (!(x = jv_eval(E, n->b, s)))
            break;
        if (jv_truthy(x))
            r = jv_eval(E, n->a, s);
        else
            r = n->c ? jv_eval(E, n->c, s) : jinja_value_undefined();
        break;
    case JN_LIST:
    case JN_TUPLE:
        r = jv_sub(jinja_value_array(), n->kind == JN_TUPLE ? JV_TUPLE : 0);
        for (size_t i = 0; r && i < n->nlist; i++) {
            struct jinja_value *it = jv_eval(E, n->list[i], s);
            if (!it || jinja_array_push(r, it) != 0) {
                jinja_value_free(r);
                r = NULL;
                if (it)
                    jv_oom(E, n->pos);
            }
        }
        break;
    case JN_DICT:
        r = jinja_value_object();
        for (size_t i = 0; r && i < n->nlist; i++) {
            struct jinja_value *k = jv_eval(E, n->list[i], s), *v = NULL;
            if (k && k->type != JINJA_STRING)
                jinja_diag_set(E->d, n->list[i]->pos, "object keys must be strings: got %s", jv_type_name(k));
            else if (k)
                v = jv_eval(E, n->list2[i], s);
            if (!v || jinja_object_set(r, k->u.str.s, v) != 0) {
                jinja_value_free(r);
                r = NULL;
            }
            jinja_value_free(k);
        }
        break;
    default:
        jinja_diag_set(E->d, n->pos, "internal error: not an expression");
        break;
    }
    if (!r)
        jv_oom(E, n->pos); /* no-op when a reason is already set */
    jinja_value_free(x);
    jinja_value_free(y);
    E->depth--;
    return r;
}

/* ---- statements ---- */

/* The value of a set: HF's first/last of an empty list give JavaScript's
 * undefined, an error wherever it is used except when it is assigned (and
 * passed through and/or/if-else on the way). */
#define JV_HOLE 1 /* sub of such an undefined */

static struct jinja_value *jv_eval_rhs(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s)
{
    if (n->kind == JN_FILTER && !(n->flags & JNF_BAD)) {
        int call = n->flags & JNF_CALL;
        int hole_maker = !call && (!strcmp(n->name, "first") || !strcmp(n->name, "last"));
        int passes = (!call && !strcmp(n->name, "safe")) || (call && !strcmp(n->name, "default"));
        if (hole_maker || passes) {
            struct jinja_value *x = passes ? jv_eval_rhs(E, n->a, s) : jv_eval(E, n->a, s), *r = NULL;
            if (!x)
                return NULL;
            if (hole_maker && x->type == JINJA_ARRAY && x->u.arr.n == 0) {
                r = jv_ok(E, jv_sub(jinja_value_undefined(), JV_HOLE), n->pos);
            } else if (passes && x->type == JINJA_UNDEFINED && x->sub == JV_HOLE) {
                /* safe returns it; default too, unless its flag makes it test the value */
                struct jv_args a;
                if (!call)
                    r = jinja_value_ref(x);
                else if (jv_args_eval(E, n->list, n->nlist, s, &a) == 0) {
                    const struct jinja_value *flag = a.npos > 1 ? a.pos[1] : jv_kwarg(&a, "boolean");
                    if (flag && flag->type != JINJA_BOOL)
                        jv_fail(E, n->pos, "the default filter's flag must be a boolean");
                    else if (flag && flag->u.b)
                        jv_fail(E, n->pos, "undefined value (first or last of an empty list)");
                    else
                        r = jinja_value_ref(x);
                    jv_args_free(&a);
                }
            } else if (x->type == JINJA_UNDEFINED && x->sub == JV_HOLE) {
                r = jv_fail(E, n->pos, "undefined value (first or last of an empty list)");
            } else {
                r = jv_filter(E, n, x, s);
            }
            jinja_value_free(x);
            return r;
        }
    }
    if (n->kind == JN_COND) {
        struct jinja_value *c = jv_eval(E, n->b, s);
        if (!c)
            return NULL;
        int t = jv_truthy(c);
        jinja_value_free(c);
        if (t)
            return jv_eval_rhs(E, n->a, s);
        return n->c ? jv_eval_rhs(E, n->c, s) : jv_ok(E, jinja_value_undefined(), n->pos);
    }
    if (n->kind == JN_BINARY && (!strcmp(n->name, "and") || !strcmp(n->name, "or"))) {
        struct jinja_value *x = jv_eval(E, n->a, s);
        if (!x || (n->name[0] == 'a') != jv_truthy(x))
            return x;
        jinja_value_free(x);
        return jv_eval_rhs(E, n->b, s);
    }
    return jv_eval(E, n, s);
}

static int jv_set_name(struct jinja_ev *E, struct jinja_scope *s, const char *name, struct jinja_value *v, size_t pos)
{
    if (jinja_object_set(s->vars, name, v) != 0) {
        jv_oom(E, pos);
        return -1;
    }
    return 0;
}

/* evaluateSet's assignment; takes v */
static int jv_assign(struct jinja_ev *E, const struct jinja_node *target, struct jinja_value *v, struct jinja_scope *s)
{
    int rc = -1;
    if (target->kind == JN_NAME)
        return jv_set_name(E, s, target->name, v, target->pos);
    if (target->kind == JN_TUPLE) {
        if (v->type != JINJA_ARRAY) {
            jinja_diag_set(E->d, target->pos, "cannot unpack non-iterable type in set: %s", jv_type_name(v));
        } else if (v->u.arr.n != target->nlist) {
            jinja_diag_set(E->d, target->pos, "too %s items to unpack in set", target->nlist > v->u.arr.n ? "few" : "many");
        } else {
            rc = 0;
            for (size_t i = 0; i < target->nlist && rc == 0; i++) {
                if (target->list[i]->kind != JN_NAME) {
                    jinja_diag_set(E->d, target->list[i]->pos, "cannot unpack to a non-identifier in set");
                    rc = -1;
                } else {
                    rc = jv_set_name(E, s, target->list[i]->name, jinja_value_ref(v->u.arr.items[i]), target->pos);
                }
            }
        }
        jinja_value_free(v);
        return rc;
    }
    if (target->kind == JN_ATTR || target->kind == JN_INDEX) {
        struct jinja_value *obj = jv_eval(E, target->a, s);
        const char *name = target->kind == JN_ATTR ? target->name : target->b->kind == JN_NAME ? target->b->name : NULL;
        if (obj && (obj->type != JINJA_OBJECT || obj->sub != JV_NAMESPACE))
            jinja_diag_set(E->d, target->pos, "cannot assign an attribute of a non-namespace object");
        else if (obj && !name)
            jinja_diag_set(E->d, target->pos, "cannot assign to a member with a non-identifier property");
        else if (obj)
            rc = jinja_object_set(obj, name, jinja_value_ref(v)) == 0 ? 0 : (jv_oom(E, target->pos), -1);
        jinja_value_free(obj);
        jinja_value_free(v);
        return rc;
    }
    jinja_value_free(v);
    jinja_diag_set(E->d, target->pos, "invalid assignment target");
    return -1;
}

/* The loop variable(s) of a for loop for one item, into scope s. */
static int jv_loop_bind(struct jinja_ev *E, const struct jinja_node *n, struct jinja_value *it, struct jinja_scope *s)
{
    const struct jinja_node *t = n->c;
    if (t->kind == JN_NAME)
        return jv_set_name(E, s, t->name, jinja_value_ref(it), n->pos);
    for (size_t j = 0; j < t->nlist; j++) {
        if (t->list[j]->kind != JN_NAME) {
            jinja_diag_set(E->d, t->list[j]->pos, "cannot unpack into a non-identifier");
            return -1;
        }
        if (jv_set_name(E, s, t->list[j]->name, jinja_value_ref(it->u.arr.items[j]), n->pos) != 0)
            return -1;
    }
    return 0;
}

static int jv_for(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *outer, struct jinja_buf *out)
{
    struct jinja_scope s = {jinja_value_object(), outer};
    struct jinja_value *seq = NULL, *items = NULL, *sel = NULL;
    int rc = -1;
    if (!s.vars) {
        jv_oom(E, n->pos);
        return -1;
    }
    if (!(seq = jv_eval(E, n->a, &s)))
        goto done;
    if (seq->type == JINJA_ARRAY)
        items = jinja_value_ref(seq);
    else if (jv_is_obj(seq))
        items = jv_items(E, seq, 1, n->pos);
    else
        jinja_diag_set(E->d, n->a->pos, "expected an iterable or object in a for loop: got %s", jv_type_name(seq));
    if (!items)
        goto done;
    /* check every item and apply the loop filter before the first iteration */
    if (!(sel = jinja_value_array())) {
        jv_oom(E, n->pos);
        goto done;
    }
    for (size_t i = 0; i < items->u.arr.n; i++) {
        struct jinja_value *it = items->u.arr.items[i];
        if (n->c->kind == JN_TUPLE) {
            if (it->type != JINJA_ARRAY || it->sub == JV_TUPLE) {
                jinja_diag_set(E->d, n->pos, "cannot unpack non-iterable type: %s", jv_type_name(it));
                goto done;
            }
            if (it->u.arr.n != n->c->nlist) {
                jinja_diag_set(E->d, n->pos, "too %s items to unpack", n->c->nlist > it->u.arr.n ? "few" : "many");
                goto done;
            }
        }
        if (n->b) {
            struct jinja_scope ts = {jinja_value_object(), &s};
            struct jinja_value *c = NULL;
            if (!ts.vars)
                jv_oom(E, n->pos);
            else if (jv_loop_bind(E, n, it, &ts) == 0)
                c = jv_eval(E, n->b, &ts);
            int keep = c ? jv_truthy(c) : -1;
            jinja_value_free(c);
            jinja_value_free(ts.vars);
            if (keep < 0)
                goto done;
            if (!keep)
                continue;
        }
        if (jinja_array_push(sel, jinja_value_ref(it)) != 0) {
            jv_oom(E, n->pos);
            goto done;
        }
    }
    size_t len = sel->u.arr.n;
    int none = 1;
    rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        struct jinja_value *it = sel->u.arr.items[i];
        struct jinja_value *loop = jinja_value_object();
        int bad = !loop || jv_step(E, n->pos, 1) != 0;
        bad = bad || jinja_object_set(loop, "index", jv_number((double)i + 1, 1)) != 0;
        bad = bad || jinja_object_set(loop, "index0", jv_number((double)i, 1)) != 0;
        bad = bad || jinja_object_set(loop, "revindex", jv_number((double)(len - i), 1)) != 0;
        bad = bad || jinja_object_set(loop, "revindex0", jv_number((double)(len - i - 1), 1)) != 0;
        bad = bad || jinja_object_set(loop, "first", jinja_value_bool(i == 0)) != 0;
        bad = bad || jinja_object_set(loop, "last", jinja_value_bool(i == len - 1)) != 0;
        bad = bad || jinja_object_set(loop, "length", jv_number((double)len, 1)) != 0;
        bad = bad || jinja_object_set(loop, "previtem", i > 0 ? jinja_value_ref(sel->u.arr.items[i - 1]) : jinja_value_undefined()) != 0;
        bad = bad || jinja_object_set(loop, "nextitem", i + 1 < len ? jinja_value_ref(sel->u.arr.items[i + 1]) : jinja_value_undefined()) != 0;
        if (bad) {
            jinja_value_free(loop);
            if (!E->d->set)
                jv_oom(E, n->pos);
            rc = -1;
            break;
        }
        if (jv_set_name(E, &s, "loop", loop, n->pos) != 0 || jv_loop_bind(E, n, it, &s) != 0) {
            rc = -1;
            break;
        }
        /* an iteration's output is dropped when break or continue leaves it */
        struct jinja_buf b = JV_BUF(E);
        rc = jv_exec(E, n->list, n->nlist, &s, &b);
        if (rc != 0 && E->jump && !E->d->set) {
            int brk = E->jump == 1;
            E->jump = 0;
            free(b.p);
            rc = 0;
            if (brk)
                break;
            continue;
        }
        if (rc == 0) {
            jinja_buf_add(out, b.p ? b.p : "", b.n);
            if (b.oom || out->oom)
                rc = jv_buf_check(E, b.oom ? &b : out, n->pos);
        }
        free(b.p);
        none = 0;
    }
    if (rc == 0 && none)
        rc = jv_exec(E, n->list2, n->nlist2, &s, out);
done:
    jinja_value_free(seq);
    jinja_value_free(items);
    jinja_value_free(sel);
    jinja_value_free(s.vars);
    return rc;
}

/* what a statement's value adds to the output (none and undefined: nothing) */
static int jv_emit(struct jinja_ev *E, struct jinja_buf *out, const struct jinja_value *v, size_t pos)
{
    if (v->type == JINJA_NULL || v->type == JINJA_UNDEFINED)
        return 0;
    if (jv_str(E, out, v, pos) != 0)
        return -1;
    return jv_step(E, pos, (v->type == JINJA_STRING ? v->u.str.n : 16) / JV_BYTES_PER_STEP);
}

static int jv_call_block(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s, struct jinja_buf *out)
{
    const struct jinja_node *call = n->a;
    struct jinja_value *caller = jv_callable(JF_CALLER, NULL), *fn = NULL, *r = NULL;
    struct jinja_scope env = {jinja_value_object(), s};
    struct jv_args a;
    int rc = -1;
    if (!caller || !env.vars) {
        jinja_value_free(caller);
        jinja_value_free(env.vars);
        jv_oom(E, n->pos);
        return -1;
    }
    caller->u.fn.node = n;
    caller->u.fn.scope = s;
    if (jv_args_eval(E, call->list, call->nlist, s, &a) == 0) {
        if (jv_args_join(E, &a, 1, n->pos) == 0 && (fn = jv_eval(E, call->a, s)) != NULL) {
            if (fn->type != JINJA_CALLABLE)
                jinja_diag_set(E->d, n->pos, "cannot call something that is not a function: got %s", jv_type_name(fn));
            else if (jinja_object_set(env.vars, "caller", jinja_value_ref(caller)) != 0)
                jv_oom(E, n->pos);
            else if ((r = jv_call(E, fn, a.pos, a.npos, &env, call->pos)) != NULL)
                rc = jv_emit(E, out, r, n->pos);
        }
        jv_args_free(&a);
    }
    caller->u.fn.scope = NULL; /* a caller kept past its block can no longer run */
    jinja_value_free(caller);
    jinja_value_free(fn);
    jinja_value_free(r);
    jinja_value_free(env.vars);
    return rc;
}

static int jv_exec(struct jinja_ev *E, struct jinja_node *const *body, size_t nbody, struct jinja_scope *s,
                   struct jinja_buf *out)
{
    if (++E->depth > JINJA_MAX_EVAL_DEPTH) {
        E->depth--;
        jinja_diag_set(E->d, nbody ? body[0]->pos : 0, "statements nested too deeply");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < nbody && rc == 0; i++) {
        const struct jinja_node *n = body[i];
        switch (n->kind) {
        case JN_TEXT:
            jinja_buf_add(out, n->name, n->name_len);
            rc = jv_step(E, n->pos, n->name_len / JV_BYTES_PER_STEP);
            break;
        case JN_OUTPUT: {
            struct jinja_value *v = jv_eval(E, n->a, s);
            rc = v ? jv_emit(E, out, v, n->pos) : -1;
            jinja_value_free(v);
            break;
        }
        case JN_IF: {
            struct jinja_value *c = jv_eval(E, n->a, s);
            if (!c) {
                rc = -1;
                break;
            }
            int t = jv_truthy(c);
            jinja_value_free(c);
            rc = t ? jv_exec(E, n->list, n->nlist, s, out) : jv_exec(E, n->list2, n->nlist2, s, out);
            break;
        }
        case JN_FOR:
            rc = jv_for(E, n, s, out);
            break;
        case JN_SET: {
            struct jinja_value *v = NULL;
            if (n->b) {
                v = n->a->kind == JN_TUPLE ? jv_eval(E, n->b, s) : jv_eval_rhs(E, n->b, s);
            } else {
                struct jinja_buf b = JV_BUF(E);
                if (jv_exec(E, n->list, n->nlist, s, &b) == 0)
                    v = jv_from_buf(E, &b, n->pos);
                free(b.p);
            }
            if (v && v->type == JINJA_UNDEFINED && v->sub == JV_HOLE) { /* stored as undefined */
                jinja_value_free(v);
                v = jv_ok(E, jinja_value_undefined(), n->pos);
            }
            rc = v ? jv_assign(E, n->a, v, s) : -1;
            break;
        }
        case JN_MACRO: {
            struct jinja_value *m = jv_callable(JF_MACRO, NULL);
            if (m)
                m->u.fn.node = n;
            rc = m ? jv_set_name(E, s, n->name, m, n->pos) : (jv_oom(E, n->pos), -1);
            break;
        }
        case JN_CALL_BLOCK:
            rc = jv_call_block(E, n, s, out);
            break;
        case JN_FILTER_BLOCK: {
            struct jinja_buf b = JV_BUF(E);
            struct jinja_value *v = NULL, *r = NULL;
            if (jv_exec(E, n->list, n->nlist, s, &b) == 0 && (v = jv_from_buf(E, &b, n->pos)) != NULL &&
                (r = jv_filter(E, n->b, v, s)) != NULL)
                rc = jv_emit(E, out, r, n->pos);
            else
                rc = -1;
            free(b.p);
            jinja_value_free(v);
            jinja_value_free(r);
            break;
        }
        case JN_BREAK:
        case JN_CONTINUE:
            E->jump = n->kind == JN_BREAK ? 1 : 2;
            E->jump_pos = n->pos;
            rc = -1;
            break;
        default:
            jinja_diag_set(E->d, n->pos, "internal error: not a statement");
            rc = -1;
        }
        if (rc == 0 && out->oom)
            rc = jv_buf_check(E, out, n->pos);
    }
    E->depth--;
    return rc;
}

/* convertToRuntimeValues: JSON numbers that are integers are integers */
static int jv_needs_import(const struct jinja_value *v, int depth)
{
    if (depth > 200)
        return 0;
    if (v->type == JINJA_FLOAT)
        return v->u.f == trunc(v->u.f);
    if (v->type == JINJA_ARRAY)
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (jv_needs_import(v->u.arr.items[i], depth + 1))
                return 1;
    if (v->type == JINJA_OBJECT)
        for (size_t i = 0; i < v->u.obj.n; i++)
            if (jv_needs_import(v->u.obj.vals[i], depth + 1))
                return 1;
    return 0;
}

static struct jinja_value *jv_import(struct jinja_value *v, int depth)
{
    if (!jv_needs_import(v, depth))
        return jinja_value_ref(v);
    if (v->type == JINJA_FLOAT)
        return jv_number(v->u.f, 1);
    struct jinja_value *c = v->type == JINJA_ARRAY ? jinja_value_array() : jinja_value_object();
    size_t n = v->type == JINJA_ARRAY ? v->u.arr.n : v->u.obj.n;
    for (size_t i = 0; c && i < n; i++) {
        struct jinja_value *x = jv_import(v->type == JINJA_ARRAY ? v->u.arr.items[i] : v->u.obj.vals[i], depth + 1);
        int bad = v->type == JINJA_ARRAY ? jinja_array_push(c, x) : jinja_object_set(c, v->u.obj.keys[i], x);
        if (bad) {
            jinja_value_free(c);
            c = NULL;
        }
    }
    return c;
}

int jinja_eval_tree(const struct jinja_tree *tree, const struct jinja_value *context,
                    const struct jinja_eval_limits *limits, struct jinja_buf *out, struct jinja_diag *d)
{
    struct jinja_ev E = {d, 0, 0, 0, NULL, 0, limits->max_steps, limits->max_bytes, NULL, 0, 0};
    /* globals (the caller's values are shared, never modified: sets go to a copy) */
    struct jinja_scope globals = {jinja_value_object(), NULL};
    if (!globals.vars) {
        jinja_diag_set(d, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; context && i < context->u.obj.n; i++) {
        for (int g = 0; jv_globals[g]; g++)
            if (!strcmp(context->u.obj.keys[i], jv_globals[g])) {
                jinja_value_free(globals.vars);
                jinja_diag_set(d, 0, "variable already declared: %s", jv_globals[g]);
                return -1;
            }
        if (jinja_object_set(globals.vars, context->u.obj.keys[i], jv_import(context->u.obj.vals[i], 0)) != 0) {
            jinja_value_free(globals.vars);
            jinja_diag_set(d, 0, "out of memory");
            return -1;
        }
    }
    E.globals = &globals;
    int rc = jv_exec(&E, tree->body, tree->nbody, &globals, out);
    if (rc != 0 && E.jump && !d->set)
        jinja_diag_set(d, E.jump_pos, "'%s' outside a loop", E.jump == 1 ? "break" : "continue");
    jinja_value_free(globals.vars);
    for (size_t i = 0; i < E.nspaces; i++) {
        struct jinja_value *ns = E.spaces[i];
        while (ns->u.obj.n)
            jv_obj_remove(ns, ns->u.obj.n - 1);
        jinja_value_free(ns);
    }
    free(E.spaces);
    return rc;
}
