/* Jinja evaluator: statements, expressions, tests, filters and methods,
 * following @huggingface/jinja's semantics. */
#include "jinja_internal.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JINJA_MAX_EVAL_DEPTH 400

enum jinja_fn {
    JF_RANGE, JF_NAMESPACE, JF_RAISE, JF_MACRO, JF_STRFTIME,
    /* string methods */
    JM_UPPER, JM_LOWER, JM_STRIP, JM_LSTRIP, JM_RSTRIP, JM_STARTSWITH, JM_ENDSWITH, JM_SPLIT,
    JM_REPLACE, JM_TITLE, JM_CAPITALIZE,
    /* object methods */
    JM_ITEMS, JM_KEYS, JM_VALUES, JM_GET
};

struct jinja_scope {
    struct jinja_value *vars; /* object */
    struct jinja_scope *parent;
};

struct jinja_ev {
    struct jinja_diag *d;
    int depth;
    int jump; /* 1 break, 2 continue */
    struct jinja_scope *globals;
};

static struct jinja_value *jv_oom(struct jinja_ev *E, size_t pos)
{
    jinja_diag_set(E->d, pos, "out of memory");
    return NULL;
}

static const char *jv_type_name(const struct jinja_value *v)
{
    static const char *const names[] = {"undefined", "none", "boolean", "integer", "float",
                                        "string", "array", "object", "function"};
    return names[v->type];
}

static int jv_truthy(const struct jinja_value *v)
{
    switch (v->type) {
    case JINJA_BOOL: return v->u.b;
    case JINJA_INT: return v->u.i != 0;
    case JINJA_FLOAT: return v->u.f != 0 && !isnan(v->u.f);
    case JINJA_STRING: return v->u.str.n > 0;
    case JINJA_ARRAY: return v->u.arr.n > 0;
    case JINJA_OBJECT: return v->u.obj.n > 0;
    case JINJA_CALLABLE: return 1;
    default: return 0;
    }
}

static int jv_is_num(const struct jinja_value *v) { return v->type == JINJA_INT || v->type == JINJA_FLOAT; }
static double jv_num(const struct jinja_value *v) { return v->type == JINJA_INT ? (double)v->u.i : v->u.f; }

/* JavaScript's Number.prototype.toString for finite doubles (shortest round trip). */
static void jv_fmt_double(struct jinja_buf *b, double f)
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

static void jv_json(struct jinja_buf *b, const struct jinja_value *v, int indent, int depth);

/* The text a value renders as ({{ v }} and the string filter). */
static void jv_str(struct jinja_buf *b, const struct jinja_value *v)
{
    char tmp[32];
    switch (v->type) {
    case JINJA_UNDEFINED: break;
    case JINJA_NULL: break;
    case JINJA_BOOL: jinja_buf_adds(b, v->u.b ? "true" : "false"); break;
    case JINJA_INT:
        snprintf(tmp, sizeof tmp, "%lld", v->u.i);
        jinja_buf_adds(b, tmp);
        break;
    case JINJA_FLOAT:
        if (v->u.f == 0 && signbit(v->u.f))
            jinja_buf_adds(b, "-0.0");
        else if (isfinite(v->u.f) && fmod(v->u.f, 1.0) == 0 && fabs(v->u.f) < 1e21) {
            jv_fmt_double(b, v->u.f);
            jinja_buf_adds(b, ".0");
        } else
            jv_fmt_double(b, v->u.f);
        break;
    case JINJA_STRING: jinja_buf_add(b, v->u.str.s, v->u.str.n); break;
    default: jv_json(b, v, -1, 0); break;
    }
}

static void jv_json_string(struct jinja_buf *b, const char *s, size_t n)
{
    jinja_buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        switch (c) {
        case '"': jinja_buf_adds(b, "\\\""); break;
        case '\\': jinja_buf_adds(b, "\\\\"); break;
        case '\n': jinja_buf_adds(b, "\\n"); break;
        case '\r': jinja_buf_adds(b, "\\r"); break;
        case '\t': jinja_buf_adds(b, "\\t"); break;
        case '\b': jinja_buf_adds(b, "\\b"); break;
        case '\f': jinja_buf_adds(b, "\\f"); break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                jinja_buf_adds(b, tmp);
            } else {
                jinja_buf_addc(b, (char)c);
            }
        }
    }
    jinja_buf_addc(b, '"');
}

/* JSON as @huggingface/jinja's tojson writes it; indent < 0: none. */
static void jv_json(struct jinja_buf *b, const struct jinja_value *v, int indent, int depth)
{
    switch (v->type) {
    case JINJA_UNDEFINED:
    case JINJA_NULL: jinja_buf_adds(b, "null"); break;
    case JINJA_BOOL: jinja_buf_adds(b, v->u.b ? "true" : "false"); break;
    case JINJA_INT:
    case JINJA_FLOAT:
        if (v->type == JINJA_FLOAT && !isfinite(v->u.f))
            jinja_buf_adds(b, "null");
        else if (v->type == JINJA_FLOAT)
            jv_fmt_double(b, v->u.f);
        else
            jv_str(b, v);
        break;
    case JINJA_STRING: jv_json_string(b, v->u.str.s, v->u.str.n); break;
    case JINJA_ARRAY:
    case JINJA_OBJECT: {
        int is_arr = v->type == JINJA_ARRAY;
        size_t n = is_arr ? v->u.arr.n : v->u.obj.n;
        jinja_buf_addc(b, is_arr ? '[' : '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                jinja_buf_adds(b, indent > 0 ? "," : ", ");
            if (indent > 0) {
                jinja_buf_addc(b, '\n');
                for (int k = 0; k < indent * (depth + 1); k++)
                    jinja_buf_addc(b, ' ');
            }
            if (is_arr) {
                jv_json(b, v->u.arr.items[i], indent, depth + 1);
            } else {
                jv_json_string(b, v->u.obj.keys[i], strlen(v->u.obj.keys[i]));
                jinja_buf_adds(b, ": ");
                jv_json(b, v->u.obj.vals[i], indent, depth + 1);
            }
        }
        if (indent > 0 && n > 0) {
            jinja_buf_addc(b, '\n');
            for (int k = 0; k < indent * depth; k++)
                jinja_buf_addc(b, ' ');
        }
        jinja_buf_addc(b, is_arr ? ']' : '}');
        break;
    }
    default: jinja_buf_adds(b, "null"); break;
    }
}

static int jv_equal(const struct jinja_value *a, const struct jinja_value *b)
{
    if (jv_is_num(a) && jv_is_num(b))
        return jv_num(a) == jv_num(b);
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case JINJA_UNDEFINED:
    case JINJA_NULL: return 1;
    case JINJA_BOOL: return a->u.b == b->u.b;
    case JINJA_STRING: return a->u.str.n == b->u.str.n && memcmp(a->u.str.s, b->u.str.s, a->u.str.n) == 0;
    case JINJA_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return 0;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!jv_equal(a->u.arr.items[i], b->u.arr.items[i]))
                return 0;
        return 1;
    default: return a == b;
    }
}

static struct jinja_value *jv_lookup(struct jinja_scope *s, const char *name)
{
    for (; s; s = s->parent) {
        struct jinja_value *v = jinja_object_get(s->vars, name);
        if (v)
            return v;
    }
    return NULL;
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

static struct jinja_value *jv_string_from_buf(struct jinja_ev *E, struct jinja_buf *b, size_t pos)
{
    struct jinja_value *v = b->oom ? NULL : jinja_value_stringn(b->p ? b->p : "", b->n);
    free(b->p);
    return v ? v : jv_oom(E, pos);
}

static struct jinja_value *jv_to_string(struct jinja_ev *E, const struct jinja_value *v, size_t pos)
{
    struct jinja_buf b = {0};
    jv_str(&b, v);
    return jv_string_from_buf(E, &b, pos);
}

/* Byte offsets of the code points of a string (n+1 entries, malloc'd). */
static size_t *jv_cp_offsets(const struct jinja_value *v, size_t *count)
{
    size_t *off = malloc((v->u.str.n + 1) * sizeof *off), c = 0;
    if (!off)
        return NULL;
    for (size_t i = 0; i < v->u.str.n; i++)
        if (((unsigned char)v->u.str.s[i] & 0xC0) != 0x80)
            off[c++] = i;
    off[c] = v->u.str.n;
    *count = c;
    return off;
}

/* Member access: object keys, then methods; arrays/strings by integer. */
static struct jinja_value *jv_member(struct jinja_ev *E, struct jinja_value *obj, const struct jinja_value *key, size_t pos)
{
    if (obj->type == JINJA_OBJECT) {
        if (key->type != JINJA_STRING) {
            jinja_diag_set(E->d, pos, "cannot access a property with a non-string key (%s)", jv_type_name(key));
            return NULL;
        }
        struct jinja_value *v = jinja_object_get(obj, key->u.str.s);
        if (v)
            return jinja_value_ref(v);
        static const struct { const char *name; int id; } m[] = {
            {"items", JM_ITEMS}, {"keys", JM_KEYS}, {"values", JM_VALUES}, {"get", JM_GET}};
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
            if (!strcmp(key->u.str.s, m[i].name))
                return jv_callable(m[i].id, obj);
        return jinja_value_undefined();
    }
    if ((obj->type == JINJA_ARRAY || obj->type == JINJA_STRING) && key->type == JINJA_INT) {
        size_t ncp = 0, *off = NULL;
        if (obj->type == JINJA_STRING && !(off = jv_cp_offsets(obj, &ncp)))
            return jv_oom(E, pos);
        long long n = obj->type == JINJA_ARRAY ? (long long)obj->u.arr.n : (long long)ncp;
        long long i = key->u.i < 0 ? key->u.i + n : key->u.i;
        struct jinja_value *r;
        if (i < 0 || i >= n)
            r = jinja_value_undefined();
        else if (obj->type == JINJA_ARRAY)
            r = jinja_value_ref(obj->u.arr.items[i]);
        else /* code points (HF: UTF-16 units; the same in the BMP) */
            r = jinja_value_stringn(obj->u.str.s + off[i], off[i + 1] - off[i]);
        free(off);
        return r ? r : jv_oom(E, pos);
    }
    if (key->type != JINJA_STRING) {
        if (obj->type == JINJA_ARRAY || obj->type == JINJA_STRING) {
            jinja_diag_set(E->d, pos, "cannot access a property with a %s key", jv_type_name(key));
            return NULL;
        }
        return jinja_value_undefined();
    }
    if (obj->type == JINJA_STRING) {
        static const struct { const char *name; int id; } m[] = {
            {"upper", JM_UPPER}, {"lower", JM_LOWER}, {"strip", JM_STRIP}, {"lstrip", JM_LSTRIP},
            {"rstrip", JM_RSTRIP}, {"startswith", JM_STARTSWITH}, {"endswith", JM_ENDSWITH},
            {"split", JM_SPLIT}, {"replace", JM_REPLACE}, {"title", JM_TITLE},
            {"capitalize", JM_CAPITALIZE}};
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
            if (!strcmp(key->u.str.s, m[i].name))
                return jv_callable(m[i].id, obj);
    }
    if (obj->type == JINJA_ARRAY && !strcmp(key->u.str.s, "length"))
        return jinja_value_int((long long)obj->u.arr.n);
    if (obj->type == JINJA_STRING && !strcmp(key->u.str.s, "length"))
        return jinja_value_int((long long)obj->u.str.n);
    return jinja_value_undefined();
}

static struct jinja_value *jv_eval(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s);
static int jv_exec(struct jinja_ev *E, struct jinja_node *const *body, size_t nbody, struct jinja_scope *s,
                   struct jinja_buf *out);

static int jv_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static struct jinja_value *jv_strip(struct jinja_ev *E, const struct jinja_value *v, int left, int right,
                                    const struct jinja_value *chars, size_t pos)
{
    const char *p = v->u.str.s;
    size_t a = 0, b = v->u.str.n, l;
    (void)chars; /* HF strips JavaScript whitespace whatever the argument */
    while (left && a < b && (l = jinja_space_at(p, b, a)) > 0)
        a += l;
    while (right && b > a && (l = jinja_space_before(p, b)) > 0 && b - l >= a)
        b -= l;
    struct jinja_value *r = jinja_value_stringn(p + a, b - a);
    return r ? r : jv_oom(E, pos);
}

static struct jinja_value *jv_case(struct jinja_ev *E, const struct jinja_value *v, int mode, size_t pos)
{
    /* mode 0 upper, 1 lower, 2 title, 3 capitalize (ASCII letters only) */
    struct jinja_value *r = jinja_value_stringn(v->u.str.s, v->u.str.n);
    if (!r)
        return jv_oom(E, pos);
    int word_start = 1;
    for (size_t i = 0; i < r->u.str.n; i++) {
        char c = r->u.str.s[i];
        int up;
        if (mode == 0)
            up = 1;
        else if (mode == 1)
            up = 0;
        else if (mode == 2)
            up = word_start ? 1 : -1;
        else
            up = i == 0 ? 1 : -1; /* HF: the rest is left as is */
        if (up == 1 && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (up == 0 && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        r->u.str.s[i] = c;
        word_start = jv_space(c) || c == '-' || c == '(' || c == '[' || c == '{' ;
    }
    return r;
}

static struct jinja_value *jv_replace(struct jinja_ev *E, const struct jinja_value *v, const struct jinja_value *from,
                                      const struct jinja_value *to, long long count, size_t pos)
{
    struct jinja_buf b = {0};
    const char *s = v->u.str.s;
    size_t n = v->u.str.n, fl = from->u.str.n, i = 0;
    long long done = 0;
    while (i <= n) {
        if ((count < 0 || done < count) && (fl == 0 || (i + fl <= n && memcmp(s + i, from->u.str.s, fl) == 0))) {
            jinja_buf_add(&b, to->u.str.s, to->u.str.n);
            done++;
            if (fl == 0) {
                if (i < n)
                    jinja_buf_addc(&b, s[i]);
                i++;
            } else {
                i += fl;
            }
            continue;
        }
        if (i < n)
            jinja_buf_addc(&b, s[i]);
        i++;
    }
    return jv_string_from_buf(E, &b, pos);
}

static struct jinja_value *jv_split(struct jinja_ev *E, const struct jinja_value *v, const struct jinja_value *sep,
                                    long long maxsplit, size_t pos)
{
    struct jinja_value *arr = jinja_value_array();
    if (!arr)
        return jv_oom(E, pos);
    const char *s = v->u.str.s;
    size_t n = v->u.str.n;
    if (!sep) { /* whitespace runs, no empty parts */
        size_t i = 0;
        while (i < n) {
            size_t l;
            while ((l = jinja_space_at(s, n, i)) > 0)
                i += l;
            if (i >= n)
                break;
            size_t st = i;
            while (i < n && jinja_space_at(s, n, i) == 0)
                i++;
            if (jinja_array_push(arr, jinja_value_stringn(s + st, i - st)) != 0)
                goto oom;
        }
        return arr;
    }
    if (sep->u.str.n == 0) {
        jinja_value_free(arr);
        jinja_diag_set(E->d, pos, "empty separator");
        return NULL;
    }
    size_t st = 0;
    long long splits = 0;
    for (size_t i = 0; i + sep->u.str.n <= n && (maxsplit < 0 || splits < maxsplit);) {
        if (memcmp(s + i, sep->u.str.s, sep->u.str.n) == 0) {
            splits++;
            if (jinja_array_push(arr, jinja_value_stringn(s + st, i - st)) != 0)
                goto oom;
            i += sep->u.str.n;
            st = i;
        } else {
            i++;
        }
    }
    if (jinja_array_push(arr, jinja_value_stringn(s + st, n - st)) != 0)
        goto oom;
    return arr;
oom:
    jinja_value_free(arr);
    return jv_oom(E, pos);
}

static struct jinja_value *jv_items(struct jinja_ev *E, const struct jinja_value *obj, int which, size_t pos)
{
    /* which: 0 items, 1 keys, 2 values */
    struct jinja_value *arr = jinja_value_array();
    if (!arr)
        return jv_oom(E, pos);
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

/* Evaluated call arguments. */
struct jv_args {
    struct jinja_value **pos;
    size_t npos;
    struct jinja_value **kw;
    const char *const *kwnames;
    size_t nkw;
};

static void jv_args_free(struct jv_args *a)
{
    for (size_t i = 0; i < a->npos; i++)
        jinja_value_free(a->pos[i]);
    for (size_t i = 0; i < a->nkw; i++)
        jinja_value_free(a->kw[i]);
    free(a->pos);
    free(a->kw);
}

static int jv_args_eval(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s, struct jv_args *a)
{
    memset(a, 0, sizeof *a);
    a->pos = calloc(n->nlist + 1, sizeof *a->pos);
    a->kw = calloc(n->nlist2 + 1, sizeof *a->kw);
    if (!a->pos || !a->kw) {
        jv_args_free(a);
        jv_oom(E, n->pos);
        return -1;
    }
    a->kwnames = (const char *const *)n->names;
    for (size_t i = 0; i < n->nlist; i++, a->npos++)
        if (!(a->pos[i] = jv_eval(E, n->list[i], s))) {
            jv_args_free(a);
            return -1;
        }
    for (size_t i = 0; i < n->nlist2; i++, a->nkw++)
        if (!(a->kw[i] = jv_eval(E, n->list2[i], s))) {
            jv_args_free(a);
            return -1;
        }
    return 0;
}

/* Positional argument i or keyword name, or NULL. */
static struct jinja_value *jv_arg(const struct jv_args *a, size_t i, const char *name)
{
    if (i < a->npos)
        return a->pos[i];
    for (size_t k = 0; name && k < a->nkw; k++)
        if (!strcmp(a->kwnames[k], name))
            return a->kw[k];
    return NULL;
}

static int jv_need_str(struct jinja_ev *E, const struct jinja_value *v, const char *what, size_t pos)
{
    if (v && v->type == JINJA_STRING)
        return 0;
    jinja_diag_set(E->d, pos, "%s expects a string argument", what);
    return -1;
}

static struct jinja_value *jv_call_macro(struct jinja_ev *E, const struct jinja_node *m, const struct jv_args *a,
                                         size_t pos)
{
    struct jinja_scope ms = {jinja_value_object(), E->globals};
    struct jinja_value *r = NULL;
    if (!ms.vars)
        return jv_oom(E, pos);
    if (a->npos > m->nnames) {
        jinja_diag_set(E->d, pos, "macro '%s' takes %zu arguments, %zu given", m->name, m->nnames, a->npos);
        goto done;
    }
    for (size_t i = 0; i < m->nnames; i++) {
        struct jinja_value *v = jv_arg(a, i, m->names[i]);
        if (v)
            v = jinja_value_ref(v);
        else if (m->list2[i] && !(v = jv_eval(E, m->list2[i], &ms)))
            goto done;
        else if (!v)
            v = jinja_value_undefined();
        if (jinja_object_set(ms.vars, m->names[i], v) != 0) {
            jv_oom(E, pos);
            goto done;
        }
    }
    struct jinja_buf b = {0};
    if (jv_exec(E, m->list, m->nlist, &ms, &b) != 0) {
        free(b.p);
        goto done;
    }
    E->jump = 0;
    r = jv_string_from_buf(E, &b, pos);
done:
    jinja_value_free(ms.vars);
    return r;
}

static struct jinja_value *jv_call(struct jinja_ev *E, const struct jinja_value *fn, const struct jv_args *a, size_t pos)
{
    struct jinja_value *self = fn->u.fn.self;
    switch (fn->u.fn.id) {
    case JF_MACRO:
        return jv_call_macro(E, fn->u.fn.macro, a, pos);
    case JF_STRFTIME: {
        struct jinja_value *f = jv_arg(a, 0, NULL);
        if (jv_need_str(E, f, "strftime_now", pos) != 0)
            return NULL;
        time_t now = time(NULL);
        struct tm tmv;
        char tbuf[256];
        if (!localtime_r(&now, &tmv) || strftime(tbuf, sizeof tbuf, f->u.str.s, &tmv) == 0)
            tbuf[0] = 0;
        return jinja_value_string(tbuf);
    }
    case JF_RAISE: {
        struct jinja_buf b = {0};
        if (a->npos)
            jv_str(&b, a->pos[0]);
        jinja_diag_set(E->d, pos, "raise_exception: %s", b.p ? b.p : "");
        free(b.p);
        return NULL;
    }
    case JF_NAMESPACE: {
        struct jinja_value *o = jinja_value_object();
        if (!o)
            return jv_oom(E, pos);
        if (a->npos && a->pos[0]->type == JINJA_OBJECT)
            for (size_t i = 0; i < a->pos[0]->u.obj.n; i++)
                if (jinja_object_set(o, a->pos[0]->u.obj.keys[i], jinja_value_ref(a->pos[0]->u.obj.vals[i])) != 0)
                    goto ns_oom;
        for (size_t i = 0; i < a->nkw; i++)
            if (jinja_object_set(o, a->kwnames[i], jinja_value_ref(a->kw[i])) != 0)
                goto ns_oom;
        return o;
    ns_oom:
        jinja_value_free(o);
        return jv_oom(E, pos);
    }
    case JF_RANGE: {
        long long v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3) {
            jinja_diag_set(E->d, pos, "range expects 1 to 3 arguments");
            return NULL;
        }
        for (size_t i = 0; i < a->npos; i++) {
            if (a->pos[i]->type != JINJA_INT) {
                jinja_diag_set(E->d, pos, "range expects integers");
                return NULL;
            }
        }
        if (a->npos == 1)
            v[1] = a->pos[0]->u.i;
        else
            for (size_t i = 0; i < a->npos; i++)
                v[i] = a->pos[i]->u.i;
        if (v[2] == 0) {
            jinja_diag_set(E->d, pos, "range step must not be zero");
            return NULL;
        }
        struct jinja_value *arr = jinja_value_array();
        if (!arr)
            return jv_oom(E, pos);
        long long count = 0;
        for (long long x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2]) {
            if (++count > 10000000 || jinja_array_push(arr, jinja_value_int(x)) != 0) {
                jinja_value_free(arr);
                return jv_oom(E, pos);
            }
        }
        return arr;
    }
    case JM_UPPER: return jv_case(E, self, 0, pos);
    case JM_LOWER: return jv_case(E, self, 1, pos);
    case JM_TITLE: return jv_case(E, self, 2, pos);
    case JM_CAPITALIZE: return jv_case(E, self, 3, pos);
    case JM_STRIP:
    case JM_LSTRIP:
    case JM_RSTRIP: {
        struct jinja_value *chars = NULL; /* HF ignores the argument */
        (void)a;
        return jv_strip(E, self, fn->u.fn.id != JM_RSTRIP, fn->u.fn.id != JM_LSTRIP, chars, pos);
    }
    case JM_STARTSWITH:
    case JM_ENDSWITH: {
        struct jinja_value *p = jv_arg(a, 0, NULL);
        if (jv_need_str(E, p, fn->u.fn.id == JM_STARTSWITH ? "startswith" : "endswith", pos) != 0)
            return NULL;
        int r = p->u.str.n <= self->u.str.n &&
                memcmp(fn->u.fn.id == JM_STARTSWITH ? self->u.str.s : self->u.str.s + self->u.str.n - p->u.str.n,
                       p->u.str.s, p->u.str.n) == 0;
        return jinja_value_bool(r);
    }
    case JM_SPLIT: {
        struct jinja_value *sep = jv_arg(a, 0, "sep");
        if (sep && sep->type == JINJA_NULL)
            sep = NULL;
        if (sep && jv_need_str(E, sep, "split", pos) != 0)
            return NULL;
        struct jinja_value *mx = jv_arg(a, 1, "maxsplit");
        return jv_split(E, self, sep, mx && mx->type == JINJA_INT ? mx->u.i : -1, pos);
    }
    case JM_REPLACE: {
        struct jinja_value *from = jv_arg(a, 0, NULL), *to = jv_arg(a, 1, NULL), *cnt = jv_arg(a, 2, "count");
        if (jv_need_str(E, from, "replace", pos) != 0 || jv_need_str(E, to, "replace", pos) != 0)
            return NULL;
        return jv_replace(E, self, from, to, cnt && cnt->type == JINJA_INT ? cnt->u.i : -1, pos);
    }
    case JM_ITEMS: return jv_items(E, self, 0, pos);
    case JM_KEYS: return jv_items(E, self, 1, pos);
    case JM_VALUES: return jv_items(E, self, 2, pos);
    case JM_GET: {
        struct jinja_value *k = jv_arg(a, 0, "key"), *def = jv_arg(a, 1, "default");
        if (jv_need_str(E, k, "get", pos) != 0)
            return NULL;
        struct jinja_value *v = jinja_object_get(self, k->u.str.s);
        if (v)
            return jinja_value_ref(v);
        return def ? jinja_value_ref(def) : jinja_value_null();
    }
    default: break;
    }
    jinja_diag_set(E->d, pos, "unknown function");
    return NULL;
}

static struct jinja_value *jv_length(struct jinja_ev *E, const struct jinja_value *v, size_t pos)
{
    if (v->type == JINJA_STRING) {
        long long n = 0; /* code points (HF counts UTF-16 units; same below U+10000) */
        for (size_t i = 0; i < v->u.str.n; i++) {
            unsigned char c = (unsigned char)v->u.str.s[i];
            if ((c & 0xC0) != 0x80)
                n += c >= 0xF0 ? 2 : 1;
        }
        return jinja_value_int(n);
    }
    if (v->type == JINJA_ARRAY)
        return jinja_value_int((long long)v->u.arr.n);
    if (v->type == JINJA_OBJECT)
        return jinja_value_int((long long)v->u.obj.n);
    jinja_diag_set(E->d, pos, "cannot take the length of %s", jv_type_name(v));
    return NULL;
}

/* Attribute lookup for map/selectattr: dotted paths not supported. */
static struct jinja_value *jv_attr_of(const struct jinja_value *v, const char *name)
{
    return v->type == JINJA_OBJECT ? jinja_object_get(v, name) : NULL;
}

static int jv_test(struct jinja_ev *E, const char *name, const struct jinja_value *v, const struct jv_args *a,
                   size_t pos);

static struct jinja_value *jv_filter(struct jinja_ev *E, const char *name, struct jinja_value *v,
                                     const struct jv_args *a, size_t pos)
{
    if (!strcmp(name, "length") || !strcmp(name, "count"))
        return jv_length(E, v, pos);
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        struct jinja_value *def = jv_arg(a, 0, "default_value"), *b = jv_arg(a, 1, "boolean");
        int use = v->type == JINJA_UNDEFINED || (b && jv_truthy(b) && !jv_truthy(v));
        if (use)
            return def ? jinja_value_ref(def) : jinja_value_stringn("", 0);
        return jinja_value_ref(v);
    }
    if (!strcmp(name, "string"))
        return jv_to_string(E, v, pos);
    if (!strcmp(name, "tojson")) {
        struct jinja_value *ind = jv_arg(a, 0, "indent");
        struct jinja_buf b = {0};
        jv_json(&b, v, ind && ind->type == JINJA_INT ? (int)(ind->u.i > 64 ? 64 : ind->u.i) : -1, 0);
        return jv_string_from_buf(E, &b, pos);
    }
    if (!strcmp(name, "items") && v->type == JINJA_OBJECT)
        return jv_items(E, v, 0, pos);
    if (!strcmp(name, "list")) {
        if (v->type == JINJA_ARRAY)
            return jinja_value_ref(v);
        if (v->type == JINJA_OBJECT)
            return jv_items(E, v, 1, pos);
    }
    if (!strcmp(name, "int") || !strcmp(name, "float")) {
        double d = 0;
        if (jv_is_num(v))
            d = jv_num(v);
        else if (v->type == JINJA_BOOL)
            d = v->u.b;
        else if (v->type == JINJA_STRING) {
            char *end;
            d = strtod(v->u.str.s, &end);
            if (end == v->u.str.s)
                d = 0;
        }
        if (name[0] == 'i')
            return jinja_value_int(isfinite(d) && fabs(d) < 9e18 ? (long long)d : 0);
        return jinja_value_float(d);
    }
    if (!strcmp(name, "abs") && jv_is_num(v))
        return v->type == JINJA_INT ? jinja_value_int(v->u.i < 0 ? -v->u.i : v->u.i) : jinja_value_float(fabs(v->u.f));
    if (!strcmp(name, "safe") || !strcmp(name, "e") || !strcmp(name, "escape"))
        return jinja_value_ref(v);
    if (v->type == JINJA_STRING && !strcmp(name, "indent")) {
        struct jinja_value *w = jv_arg(a, 0, "width"), *first = jv_arg(a, 1, "first");
        if (w && w->type != JINJA_INT) {
            jinja_diag_set(E->d, pos, "indent: width must be a number");
            return NULL;
        }
        long long width = w ? w->u.i : 4;
        struct jinja_buf b = {0};
        size_t line = 0, st = 0;
        for (size_t i = 0; i <= v->u.str.n; i++) {
            if (i < v->u.str.n && v->u.str.s[i] != '\n')
                continue;
            if (i > st && (line > 0 || (first && jv_truthy(first))))
                for (long long k = 0; k < width && !b.oom; k++)
                    jinja_buf_addc(&b, ' ');
            jinja_buf_add(&b, v->u.str.s + st, i - st);
            if (i < v->u.str.n)
                jinja_buf_addc(&b, '\n');
            st = i + 1;
            line++;
        }
        return jv_string_from_buf(E, &b, pos);
    }
    if (v->type == JINJA_OBJECT && !strcmp(name, "dictsort")) {
        struct jinja_value *items = jv_items(E, v, 0, pos);
        for (size_t i = 1; items && i < items->u.arr.n; i++) {
            struct jinja_value *x = items->u.arr.items[i];
            size_t j = i;
            for (; j > 0 && strcmp(items->u.arr.items[j - 1]->u.arr.items[0]->u.str.s, x->u.arr.items[0]->u.str.s) > 0; j--)
                items->u.arr.items[j] = items->u.arr.items[j - 1];
            items->u.arr.items[j] = x;
        }
        return items;
    }
    if (v->type == JINJA_STRING) {
        if (!strcmp(name, "trim"))
            return jv_strip(E, v, 1, 1, NULL, pos);
        if (!strcmp(name, "upper"))
            return jv_case(E, v, 0, pos);
        if (!strcmp(name, "lower"))
            return jv_case(E, v, 1, pos);
        if (!strcmp(name, "title"))
            return jv_case(E, v, 2, pos);
        if (!strcmp(name, "capitalize"))
            return jv_case(E, v, 3, pos);
        if (!strcmp(name, "replace")) {
            struct jinja_value *from = jv_arg(a, 0, "old"), *to = jv_arg(a, 1, "new"), *cnt = jv_arg(a, 2, "count");
            if (jv_need_str(E, from, "replace", pos) != 0 || jv_need_str(E, to, "replace", pos) != 0)
                return NULL;
            return jv_replace(E, v, from, to, cnt && cnt->type == JINJA_INT ? cnt->u.i : -1, pos);
        }
        if (!strcmp(name, "first"))
            return v->u.str.n ? jinja_value_stringn(v->u.str.s, 1) : jinja_value_undefined();
        if (!strcmp(name, "last"))
            return v->u.str.n ? jinja_value_stringn(v->u.str.s + v->u.str.n - 1, 1) : jinja_value_undefined();
    }
    if (v->type == JINJA_ARRAY) {
        size_t n = v->u.arr.n;
        if (!strcmp(name, "first"))
            return n ? jinja_value_ref(v->u.arr.items[0]) : jinja_value_undefined();
        if (!strcmp(name, "last"))
            return n ? jinja_value_ref(v->u.arr.items[n - 1]) : jinja_value_undefined();
        if (!strcmp(name, "join")) {
            struct jinja_value *sep = jv_arg(a, 0, "d");
            struct jinja_buf b = {0};
            for (size_t i = 0; i < n; i++) {
                if (i && sep)
                    jv_str(&b, sep);
                jv_str(&b, v->u.arr.items[i]);
            }
            return jv_string_from_buf(E, &b, pos);
        }
        if (!strcmp(name, "unique")) {
            struct jinja_value *r = jinja_value_array();
            for (size_t i = 0; r && i < n; i++) {
                int seen = 0;
                for (size_t k = 0; k < r->u.arr.n && !seen; k++)
                    seen = jv_equal(r->u.arr.items[k], v->u.arr.items[i]);
                if (!seen && jinja_array_push(r, jinja_value_ref(v->u.arr.items[i])) != 0) {
                    jinja_value_free(r);
                    r = NULL;
                }
            }
            return r ? r : jv_oom(E, pos);
        }
        if (!strcmp(name, "sort")) {
            struct jinja_value *rev = jv_arg(a, 0, "reverse"), *attr = jv_arg(a, (size_t)-1, "attribute");
            int desc = rev && jv_truthy(rev);
            struct jinja_value *r = jinja_value_array();
            struct jinja_value undef = {.type = JINJA_UNDEFINED};
            for (size_t i = 0; r && i < n; i++) {
                struct jinja_value *x = v->u.arr.items[i];
                struct jinja_value *kx = attr && attr->type == JINJA_STRING ? jv_attr_of(x, attr->u.str.s) : x;
                if (!kx)
                    kx = &undef;
                size_t j = r->u.arr.n;
                if (jinja_array_push(r, jinja_value_ref(x)) != 0) {
                    jinja_value_free(r);
                    return jv_oom(E, pos);
                }
                for (; j > 0; j--) {
                    struct jinja_value *y = r->u.arr.items[j - 1];
                    struct jinja_value *ky = attr && attr->type == JINJA_STRING ? jv_attr_of(y, attr->u.str.s) : y;
                    if (!ky)
                        ky = &undef;
                    int c;
                    if (jv_is_num(kx) && jv_is_num(ky))
                        c = jv_num(ky) < jv_num(kx) ? -1 : jv_num(ky) > jv_num(kx);
                    else if (kx->type == JINJA_STRING && ky->type == JINJA_STRING)
                        c = strcmp(ky->u.str.s, kx->u.str.s);
                    else if (kx->type == JINJA_BOOL && ky->type == JINJA_BOOL)
                        c = ky->u.b - kx->u.b;
                    else {
                        jinja_diag_set(E->d, pos, "sort: cannot compare %s and %s", jv_type_name(ky), jv_type_name(kx));
                        jinja_value_free(r);
                        return NULL;
                    }
                    if (desc ? c >= 0 : c <= 0)
                        break;
                    r->u.arr.items[j] = y;
                    r->u.arr.items[j - 1] = x;
                }
            }
            return r ? r : jv_oom(E, pos);
        }
        if (!strcmp(name, "reverse")) {
            struct jinja_value *r = jinja_value_array();
            for (size_t i = n; r && i-- > 0;)
                if (jinja_array_push(r, jinja_value_ref(v->u.arr.items[i])) != 0)
                    return jv_oom(E, pos);
            return r ? r : jv_oom(E, pos);
        }
        if (!strcmp(name, "map") || !strcmp(name, "selectattr") || !strcmp(name, "rejectattr") ||
            !strcmp(name, "select") || !strcmp(name, "reject")) {
            int is_map = name[0] == 'm', attr = strstr(name, "attr") != NULL;
            int reject = name[0] == 'r';
            struct jinja_value *an = is_map ? jv_arg(a, (size_t)-1, "attribute") : jv_arg(a, 0, NULL);
            if ((is_map || attr) && jv_need_str(E, an, name, pos) != 0)
                return NULL;
            struct jinja_value *r = jinja_value_array();
            if (!r)
                return jv_oom(E, pos);
            for (size_t i = 0; i < n; i++) {
                struct jinja_value *it = v->u.arr.items[i];
                struct jinja_value *x = attr || is_map ? jv_attr_of(it, an->u.str.s) : it;
                struct jinja_value undef = {.type = JINJA_UNDEFINED};
                if (!x)
                    x = &undef;
                if (is_map) {
                    struct jinja_value *def = jv_arg(a, (size_t)-1, "default");
                    if (jinja_array_push(r, jinja_value_ref(x == &undef ? (def ? def : NULL) : x)) != 0 &&
                        x != &undef) {
                        jinja_value_free(r);
                        return jv_oom(E, pos);
                    }
                    if (x == &undef && !def && jinja_array_push(r, jinja_value_undefined()) != 0) {
                        jinja_value_free(r);
                        return jv_oom(E, pos);
                    }
                    continue;
                }
                int ok;
                size_t tpos = attr ? 1 : 0;
                if (a->npos > tpos) {
                    if (jv_need_str(E, a->pos[tpos], name, pos) != 0) {
                        jinja_value_free(r);
                        return NULL;
                    }
                    struct jv_args ta = {a->pos + tpos + 1, a->npos - tpos - 1, NULL, NULL, 0};
                    ok = jv_test(E, a->pos[tpos]->u.str.s, x, &ta, pos);
                    if (ok < 0) {
                        jinja_value_free(r);
                        return NULL;
                    }
                } else {
                    ok = jv_truthy(x);
                }
                if (ok != reject && jinja_array_push(r, jinja_value_ref(it)) != 0) {
                    jinja_value_free(r);
                    return jv_oom(E, pos);
                }
            }
            return r;
        }
    }
    jinja_diag_set(E->d, pos, "unsupported filter '%s' on %s", name, jv_type_name(v));
    return NULL;
}

/* Returns 1/0, or -1 on error. */
static int jv_test(struct jinja_ev *E, const char *name, const struct jinja_value *v, const struct jv_args *a,
                   size_t pos)
{
    enum jinja_type t = v->type;
    if (!strcmp(name, "defined")) return t != JINJA_UNDEFINED;
    if (!strcmp(name, "undefined")) return t == JINJA_UNDEFINED;
    if (!strcmp(name, "none")) return t == JINJA_NULL;
    if (!strcmp(name, "string")) return t == JINJA_STRING;
    if (!strcmp(name, "number")) return t == JINJA_INT || t == JINJA_FLOAT;
    if (!strcmp(name, "integer")) return t == JINJA_INT;
    if (!strcmp(name, "float")) return t == JINJA_FLOAT;
    if (!strcmp(name, "boolean")) return t == JINJA_BOOL;
    if (!strcmp(name, "true")) return t == JINJA_BOOL && v->u.b;
    if (!strcmp(name, "false")) return t == JINJA_BOOL && !v->u.b;
    if (!strcmp(name, "mapping")) return t == JINJA_OBJECT;
    if (!strcmp(name, "iterable")) return t == JINJA_ARRAY || t == JINJA_OBJECT || t == JINJA_STRING;
    if (!strcmp(name, "sequence")) return t == JINJA_ARRAY || t == JINJA_OBJECT || t == JINJA_STRING;
    if (!strcmp(name, "callable")) return t == JINJA_CALLABLE;
    if (!strcmp(name, "lower") && t == JINJA_STRING) {
        for (size_t i = 0; i < v->u.str.n; i++)
            if (v->u.str.s[i] >= 'A' && v->u.str.s[i] <= 'Z')
                return 0;
        return 1;
    }
    if (!strcmp(name, "upper") && t == JINJA_STRING) {
        for (size_t i = 0; i < v->u.str.n; i++)
            if (v->u.str.s[i] >= 'a' && v->u.str.s[i] <= 'z')
                return 0;
        return 1;
    }
    if ((!strcmp(name, "odd") || !strcmp(name, "even")) && t == JINJA_INT)
        return (int)((v->u.i & 1) == (name[0] == 'o'));
    if (!strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==") || !strcmp(name, "ne") ||
        !strcmp(name, "!=")) {
        struct jinja_value *o = jv_arg(a, 0, NULL);
        if (!o) {
            jinja_diag_set(E->d, pos, "test '%s' needs an argument", name);
            return -1;
        }
        int eq = jv_equal(v, o);
        return name[0] == 'n' || name[0] == '!' ? !eq : eq;
    }
    jinja_diag_set(E->d, pos, "unsupported test '%s'", name);
    return -1;
}

static struct jinja_value *jv_slice(struct jinja_ev *E, const struct jinja_value *v, const struct jinja_value *const p[3],
                                    size_t pos)
{
    long long b[3];
    for (int i = 0; i < 3; i++) {
        if (p[i] && p[i]->type != JINJA_INT && p[i]->type != JINJA_NULL && p[i]->type != JINJA_UNDEFINED) {
            jinja_diag_set(E->d, pos, "slice indices must be integers");
            return NULL;
        }
    }
    size_t ncp = 0, *off = NULL;
    if (v->type == JINJA_STRING && !(off = jv_cp_offsets(v, &ncp)))
        return jv_oom(E, pos);
    long long n = v->type == JINJA_ARRAY ? (long long)v->u.arr.n : (long long)ncp;
    long long step = p[2] && p[2]->type == JINJA_INT ? p[2]->u.i : 1;
    if (step == 0) {
        free(off);
        jinja_diag_set(E->d, pos, "slice step cannot be zero");
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        int given = p[i] && p[i]->type == JINJA_INT;
        long long x = given ? p[i]->u.i : 0;
        if (!given)
            x = i == 0 ? (step > 0 ? 0 : n - 1) : (step > 0 ? n : -1);
        else {
            if (x < 0)
                x += n;
            if (step > 0)
                x = x < 0 ? 0 : x > n ? n : x;
            else
                x = x < -1 ? -1 : x > n - 1 ? n - 1 : x;
        }
        b[i] = x;
    }
    struct jinja_buf sb = {0};
    struct jinja_value *r = v->type == JINJA_ARRAY ? jinja_value_array() : NULL;
    if (v->type == JINJA_ARRAY && !r)
        return jv_oom(E, pos);
    for (long long i = b[0]; step > 0 ? i < b[1] : i > b[1]; i += step) {
        if (r) {
            if (jinja_array_push(r, jinja_value_ref(v->u.arr.items[i])) != 0) {
                jinja_value_free(r);
                return jv_oom(E, pos);
            }
        } else {
            jinja_buf_add(&sb, v->u.str.s + off[i], off[i + 1] - off[i]);
        }
    }
    free(off);
    return r ? r : jv_string_from_buf(E, &sb, pos);
}

static struct jinja_value *jv_binary(struct jinja_ev *E, const struct jinja_node *n, struct jinja_value *l,
                                     struct jinja_value *r)
{
    const char *op = n->name;
    size_t pos = n->pos;
    if (!strcmp(op, "==")) return jinja_value_bool(jv_equal(l, r));
    if (!strcmp(op, "!=")) return jinja_value_bool(!jv_equal(l, r));
    if (strcmp(op, "in") && strcmp(op, "not in")) {
        if (l->type == JINJA_UNDEFINED || r->type == JINJA_UNDEFINED) {
            jinja_diag_set(E->d, pos, "cannot perform operation %s on undefined values", op);
            return NULL;
        }
        if (l->type == JINJA_NULL || r->type == JINJA_NULL) {
            jinja_diag_set(E->d, pos, "cannot perform operation %s on none values", op);
            return NULL;
        }
    }
    if (!strcmp(op, "~")) {
        struct jinja_buf b = {0};
        jv_str(&b, l);
        jv_str(&b, r);
        return jv_string_from_buf(E, &b, pos);
    }
    if (!strcmp(op, "in") || !strcmp(op, "not in")) {
        int found = 0;
        if (r->type == JINJA_ARRAY) {
            for (size_t i = 0; i < r->u.arr.n && !found; i++)
                found = jv_equal(l, r->u.arr.items[i]);
        } else if (r->type == JINJA_OBJECT && l->type == JINJA_STRING) {
            found = jinja_object_get(r, l->u.str.s) != NULL;
        } else if (r->type == JINJA_STRING && l->type == JINJA_STRING) {
            found = l->u.str.n == 0;
            for (size_t i = 0; !found && i + l->u.str.n <= r->u.str.n; i++)
                found = memcmp(r->u.str.s + i, l->u.str.s, l->u.str.n) == 0;
        } else if (r->type != JINJA_UNDEFINED && r->type != JINJA_NULL) {
            jinja_diag_set(E->d, pos, "'in' needs a container on the right, got %s", jv_type_name(r));
            return NULL;
        }
        return jinja_value_bool(op[0] == 'i' ? found : !found);
    }
    if (!strcmp(op, "+") && (l->type == JINJA_STRING || r->type == JINJA_STRING)) {
        struct jinja_buf b = {0};
        jv_str(&b, l);
        jv_str(&b, r);
        return jv_string_from_buf(E, &b, pos);
    }
    if (!strcmp(op, "+") && l->type == JINJA_ARRAY && r->type == JINJA_ARRAY) {
        struct jinja_value *a = jinja_value_array();
        for (size_t i = 0; a && i < l->u.arr.n + r->u.arr.n; i++) {
            struct jinja_value *x = i < l->u.arr.n ? l->u.arr.items[i] : r->u.arr.items[i - l->u.arr.n];
            if (jinja_array_push(a, jinja_value_ref(x)) != 0) {
                jinja_value_free(a);
                a = NULL;
            }
        }
        return a ? a : jv_oom(E, pos);
    }
    if (!strcmp(op, "*") && ((l->type == JINJA_STRING && r->type == JINJA_INT) ||
                             (r->type == JINJA_STRING && l->type == JINJA_INT))) {
        const struct jinja_value *s = l->type == JINJA_STRING ? l : r, *k = s == l ? r : l;
        struct jinja_buf b = {0};
        for (long long i = 0; i < k->u.i && !b.oom; i++)
            jinja_buf_add(&b, s->u.str.s, s->u.str.n);
        return jv_string_from_buf(E, &b, pos);
    }
    if (jv_is_num(l) && jv_is_num(r)) {
        int ints = l->type == JINJA_INT && r->type == JINJA_INT;
        double x = jv_num(l), y = jv_num(r);
        if (!strcmp(op, "<")) return jinja_value_bool(x < y);
        if (!strcmp(op, ">")) return jinja_value_bool(x > y);
        if (!strcmp(op, "<=")) return jinja_value_bool(x <= y);
        if (!strcmp(op, ">=")) return jinja_value_bool(x >= y);
        if (ints && (!strcmp(op, "+") || !strcmp(op, "-") || !strcmp(op, "*"))) {
            long long res;
            int ovf = op[0] == '+' ? __builtin_add_overflow(l->u.i, r->u.i, &res)
                    : op[0] == '-' ? __builtin_sub_overflow(l->u.i, r->u.i, &res)
                                   : __builtin_mul_overflow(l->u.i, r->u.i, &res);
            if (!ovf)
                return jinja_value_int(res);
        }
        if (!strcmp(op, "+")) return jinja_value_float(x + y);
        if (!strcmp(op, "-")) return jinja_value_float(x - y);
        if (!strcmp(op, "*")) return jinja_value_float(x * y);
        if (!strcmp(op, "/")) return jinja_value_float(x / y);
        if (!strcmp(op, "**")) return ints && r->u.i >= 0 && pow(x, y) < 9e18 ? jinja_value_int((long long)pow(x, y)) : jinja_value_float(pow(x, y));
        if (!strcmp(op, "//") || !strcmp(op, "%")) {
            if (y == 0) {
                jinja_diag_set(E->d, pos, "division by zero");
                return NULL;
            }
            if (ints && !(l->u.i == LLONG_MIN && r->u.i == -1)) {
                long long q = l->u.i / r->u.i, m = l->u.i % r->u.i;
                if (m != 0 && ((m < 0) != (r->u.i < 0)))
                    q--; /* floor division; % keeps JavaScript's sign (HF) */
                return jinja_value_int(op[0] == '/' ? q : m);
            }
            return jinja_value_float(op[0] == '/' ? floor(x / y) : fmod(x, y));
        }
    }
    jinja_diag_set(E->d, pos, "unsupported operand types for '%s': %s and %s", op, jv_type_name(l), jv_type_name(r));
    return NULL;
}

static struct jinja_value *jv_eval(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s)
{
    if (++E->depth > JINJA_MAX_EVAL_DEPTH) {
        jinja_diag_set(E->d, n->pos, "expression nested too deeply");
        return NULL;
    }
    struct jinja_value *r = NULL, *x = NULL, *y = NULL;
    switch (n->kind) {
    case JN_LITERAL:
        r = jinja_value_ref(n->lit);
        break;
    case JN_NAME: {
        struct jinja_value *v = jv_lookup(s, n->name);
        if (v)
            r = jinja_value_ref(v);
        else if (!strcmp(n->name, "raise_exception"))
            r = jv_callable(JF_RAISE, NULL);
        else if (!strcmp(n->name, "namespace"))
            r = jv_callable(JF_NAMESPACE, NULL);
        else if (!strcmp(n->name, "range"))
            r = jv_callable(JF_RANGE, NULL);
        else if (!strcmp(n->name, "strftime_now"))
            r = jv_callable(JF_STRFTIME, NULL);
        else
            r = jinja_value_undefined();
        if (!r)
            jv_oom(E, n->pos);
        break;
    }
    case JN_ATTR: {
        if (!(x = jv_eval(E, n->a, s)))
            break;
        const char *nm = n->name;
        struct jinja_value *key = nm[0] >= '0' && nm[0] <= '9' ? jinja_value_int(atoll(nm)) : jinja_value_string(nm);
        r = key ? jv_member(E, x, key, n->pos) : jv_oom(E, n->pos);
        jinja_value_free(key);
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
        for (int i = 0; ok && i < 3; i++)
            if (pn[i] && !(p[i] = jv_eval(E, pn[i], s)))
                ok = 0;
        if (ok) {
            if (x->type != JINJA_ARRAY && x->type != JINJA_STRING)
                jinja_diag_set(E->d, n->pos, "cannot slice %s", jv_type_name(x));
            else
                r = jv_slice(E, x, (const struct jinja_value *const *)p, n->pos);
        }
        for (int i = 0; i < 3; i++)
            jinja_value_free(p[i]);
        break;
    }
    case JN_CALL: {
        struct jv_args a;
        if (!(x = jv_eval(E, n->a, s)))
            break;
        if (x->type != JINJA_CALLABLE) {
            jinja_diag_set(E->d, n->pos, "cannot call %s", jv_type_name(x));
            break;
        }
        if (jv_args_eval(E, n, s, &a) != 0)
            break;
        r = jv_call(E, x, &a, n->pos);
        jv_args_free(&a);
        break;
    }
    case JN_FILTER: {
        struct jv_args a;
        if (!(x = jv_eval(E, n->a, s)) || jv_args_eval(E, n, s, &a) != 0)
            break;
        r = jv_filter(E, n->name, x, &a, n->pos);
        jv_args_free(&a);
        break;
    }
    case JN_TEST: {
        struct jv_args a;
        if (!(x = jv_eval(E, n->a, s)) || jv_args_eval(E, n, s, &a) != 0)
            break;
        int t = jv_test(E, n->name, x, &a, n->pos);
        jv_args_free(&a);
        if (t >= 0)
            r = jinja_value_bool(n->negate ? !t : t);
        break;
    }
    case JN_BINARY:
        if (!(x = jv_eval(E, n->a, s)))
            break;
        if (!strcmp(n->name, "and") || !strcmp(n->name, "or")) {
            int t = jv_truthy(x);
            if ((n->name[0] == 'a') != t) {
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
        if (!(x = jv_eval(E, n->a, s)))
            break;
        if (x->type == JINJA_INT && x->u.i != LLONG_MIN)
            r = jinja_value_int(-x->u.i);
        else if (jv_is_num(x))
            r = jinja_value_float(-jv_num(x));
        else
            jinja_diag_set(E->d, n->pos, "cannot negate %s", jv_type_name(x));
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
        r = jinja_value_array();
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
            struct jinja_value *k = jv_eval(E, n->list[i], s), *v = k ? jv_eval(E, n->list2[i], s) : NULL;
            if (k && k->type != JINJA_STRING)
                jinja_diag_set(E->d, n->list[i]->pos, "dictionary keys must be strings");
            if (!k || !v || k->type != JINJA_STRING || jinja_object_set(r, k->u.str.s, v) != 0) {
                if (k && v && k->type != JINJA_STRING)
                    jinja_value_free(v);
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

static int jv_assign(struct jinja_ev *E, const struct jinja_node *target, struct jinja_value *v, struct jinja_scope *s)
{
    if (target->kind == JN_NAME)
        return jinja_object_set(s->vars, target->name, v) == 0 ? 0 : (jv_oom(E, target->pos), -1);
    if (target->kind == JN_LIST) {
        if (v->type != JINJA_ARRAY || v->u.arr.n != target->nlist) {
            jinja_diag_set(E->d, target->pos, "cannot unpack %s into %zu variables", jv_type_name(v), target->nlist);
            jinja_value_free(v);
            return -1;
        }
        for (size_t i = 0; i < target->nlist; i++)
            if (jinja_object_set(s->vars, target->list[i]->name, jinja_value_ref(v->u.arr.items[i])) != 0) {
                jinja_value_free(v);
                jv_oom(E, target->pos);
                return -1;
            }
        jinja_value_free(v);
        return 0;
    }
    /* ns.attr = v: the object must be a namespace (any object here) */
    struct jinja_value *ns = jv_lookup(s, target->a->name);
    if (!ns || ns->type != JINJA_OBJECT) {
        jinja_value_free(v);
        jinja_diag_set(E->d, target->pos, "cannot assign an attribute of '%s'", target->a->name);
        return -1;
    }
    return jinja_object_set(ns, target->name, v) == 0 ? 0 : (jv_oom(E, target->pos), -1);
}

static int jv_for(struct jinja_ev *E, const struct jinja_node *n, struct jinja_scope *s, struct jinja_buf *out)
{
    struct jinja_value *seq = jv_eval(E, n->a, s), *items = NULL;
    int rc = -1;
    if (!seq)
        return -1;
    if (seq->type == JINJA_ARRAY)
        items = jinja_value_ref(seq);
    else if (seq->type == JINJA_OBJECT)
        items = jv_items(E, seq, 1, n->pos);
    else if (seq->type == JINJA_STRING) {
        items = jinja_value_array();
        for (size_t i = 0; items && i < seq->u.str.n;) {
            size_t l = 1;
            while (i + l < seq->u.str.n && ((unsigned char)seq->u.str.s[i + l] & 0xC0) == 0x80)
                l++;
            if (jinja_array_push(items, jinja_value_stringn(seq->u.str.s + i, l)) != 0) {
                jinja_value_free(items);
                items = NULL;
            }
            i += l;
        }
        if (!items)
            jv_oom(E, n->pos);
    } else if (seq->type == JINJA_UNDEFINED) {
        items = jinja_value_array();
    } else {
        jinja_diag_set(E->d, n->a->pos, "cannot iterate over %s", jv_type_name(seq));
    }
    jinja_value_free(seq);
    if (!items)
        return -1;
    /* the "if" filter of the loop selects items first (loop.length counts them) */
    if (n->b) {
        struct jinja_value *sel = jinja_value_array();
        for (size_t i = 0; sel && i < items->u.arr.n; i++) {
            struct jinja_scope ts = {jinja_value_object(), s};
            struct jinja_value *it = items->u.arr.items[i];
            int keep = -1;
            if (ts.vars) {
                int bad = 0;
                if (n->nnames == 1)
                    bad = jinja_object_set(ts.vars, n->names[0], jinja_value_ref(it));
                else
                    for (size_t k = 0; k < n->nnames && !bad; k++)
                        bad = jinja_object_set(ts.vars, n->names[k],
                                               it->type == JINJA_ARRAY && k < it->u.arr.n ? jinja_value_ref(it->u.arr.items[k])
                                                                                            : jinja_value_undefined());
                struct jinja_value *c = bad ? NULL : jv_eval(E, n->b, &ts);
                if (c)
                    keep = jv_truthy(c);
                jinja_value_free(c);
            }
            jinja_value_free(ts.vars);
            if (keep < 0 || (keep && jinja_array_push(sel, jinja_value_ref(it)) != 0)) {
                jinja_value_free(sel);
                sel = NULL;
            }
        }
        jinja_value_free(items);
        if (!sel) {
            jv_oom(E, n->pos);
            return -1;
        }
        items = sel;
    }
    size_t len = items->u.arr.n;
    if (len == 0) {
        rc = jv_exec(E, n->list2, n->nlist2, s, out);
        jinja_value_free(items);
        return rc;
    }
    rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        struct jinja_scope ls = {jinja_value_object(), s};
        struct jinja_value *loop = jinja_value_object();
        struct jinja_value *it = items->u.arr.items[i];
        int bad = !ls.vars || !loop;
        bad = bad || jinja_object_set(loop, "index", jinja_value_int((long long)i + 1)) != 0;
        bad = bad || jinja_object_set(loop, "index0", jinja_value_int((long long)i)) != 0;
        bad = bad || jinja_object_set(loop, "revindex", jinja_value_int((long long)(len - i))) != 0;
        bad = bad || jinja_object_set(loop, "revindex0", jinja_value_int((long long)(len - i - 1))) != 0;
        bad = bad || jinja_object_set(loop, "first", jinja_value_bool(i == 0)) != 0;
        bad = bad || jinja_object_set(loop, "last", jinja_value_bool(i == len - 1)) != 0;
        bad = bad || jinja_object_set(loop, "length", jinja_value_int((long long)len)) != 0;
        bad = bad || jinja_object_set(loop, "previtem", i > 0 ? jinja_value_ref(items->u.arr.items[i - 1]) : jinja_value_undefined()) != 0;
        bad = bad || jinja_object_set(loop, "nextitem", i + 1 < len ? jinja_value_ref(items->u.arr.items[i + 1]) : jinja_value_undefined()) != 0;
        if (!bad) {
            bad = jinja_object_set(ls.vars, "loop", loop) != 0;
            loop = NULL;
        }
        if (!bad && n->nnames == 1)
            bad = jinja_object_set(ls.vars, n->names[0], jinja_value_ref(it)) != 0;
        else if (!bad && (it->type != JINJA_ARRAY || it->u.arr.n != n->nnames)) {
            jinja_diag_set(E->d, n->pos, "cannot unpack the loop item into %zu variables", n->nnames);
            rc = -1;
        } else
            for (size_t k = 0; k < n->nnames && !bad; k++)
                bad = jinja_object_set(ls.vars, n->names[k], jinja_value_ref(it->u.arr.items[k])) != 0;
        jinja_value_free(loop);
        if (bad) {
            jv_oom(E, n->pos);
            rc = -1;
        }
        if (rc == 0)
            rc = jv_exec(E, n->list, n->nlist, &ls, out);
        jinja_value_free(ls.vars);
        if (E->jump == 1) {
            E->jump = 0;
            break;
        }
        E->jump = 0;
    }
    jinja_value_free(items);
    return rc;
}

static int jv_exec(struct jinja_ev *E, struct jinja_node *const *body, size_t nbody, struct jinja_scope *s,
                   struct jinja_buf *out)
{
    if (++E->depth > JINJA_MAX_EVAL_DEPTH) {
        jinja_diag_set(E->d, nbody ? body[0]->pos : 0, "statements nested too deeply");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < nbody && rc == 0 && !E->jump; i++) {
        const struct jinja_node *n = body[i];
        switch (n->kind) {
        case JN_TEXT:
            jinja_buf_add(out, n->name, n->name_len);
            break;
        case JN_OUTPUT: {
            struct jinja_value *v = jv_eval(E, n->a, s);
            if (!v) {
                rc = -1;
                break;
            }
            jv_str(out, v);
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
            struct jinja_value *v = jv_eval(E, n->b, s);
            rc = v ? jv_assign(E, n->a, v, s) : -1;
            break;
        }
        case JN_SET_BLOCK: {
            struct jinja_buf b = {0};
            rc = jv_exec(E, n->list, n->nlist, s, &b);
            if (rc == 0) {
                struct jinja_value *v = jv_string_from_buf(E, &b, n->pos);
                rc = v ? jv_assign(E, n->a, v, s) : -1;
            } else {
                free(b.p);
            }
            break;
        }
        case JN_MACRO: {
            struct jinja_value *m = jv_callable(JF_MACRO, NULL);
            if (m)
                m->u.fn.macro = n;
            if (!m || jinja_object_set(s->vars, n->name, m) != 0) {
                jv_oom(E, n->pos);
                rc = -1;
            }
            break;
        }
        case JN_FILTER_BLOCK: {
            struct jinja_buf b = {0};
            struct jv_args a;
            rc = jv_exec(E, n->list, n->nlist, s, &b);
            struct jinja_value *v = rc == 0 ? jv_string_from_buf(E, &b, n->pos) : NULL;
            if (rc != 0)
                free(b.p);
            if (v && jv_args_eval(E, n->b, s, &a) == 0) {
                struct jinja_value *r = jv_filter(E, n->b->name, v, &a, n->b->pos);
                jv_args_free(&a);
                if (r)
                    jv_str(out, r);
                else
                    rc = -1;
                jinja_value_free(r);
            } else {
                rc = -1;
            }
            jinja_value_free(v);
            break;
        }
        case JN_BREAK:
            E->jump = 1;
            break;
        case JN_CONTINUE:
            E->jump = 2;
            break;
        default:
            jinja_diag_set(E->d, n->pos, "internal error: not a statement");
            rc = -1;
        }
        if (out->oom && rc == 0) {
            jv_oom(E, n->pos);
            rc = -1;
        }
    }
    E->depth--;
    return rc;
}

int jinja_eval_tree(const struct jinja_tree *tree, const struct jinja_value *context, struct jinja_buf *out,
                    struct jinja_diag *d)
{
    struct jinja_ev E = {d, 0, 0, NULL};
    /* globals (the caller's values are shared, never modified: sets go to a copy) */
    struct jinja_scope globals = {jinja_value_object(), NULL};
    if (!globals.vars) {
        jinja_diag_set(d, 0, "out of memory");
        return -1;
    }
    if (context)
        for (size_t i = 0; i < context->u.obj.n; i++)
            if (jinja_object_set(globals.vars, context->u.obj.keys[i], jinja_value_ref(context->u.obj.vals[i])) != 0) {
                jinja_value_free(globals.vars);
                jinja_diag_set(d, 0, "out of memory");
                return -1;
            }
    E.globals = &globals;
    int rc = jv_exec(&E, tree->body, tree->nbody, &globals, out);
    jinja_value_free(globals.vars);
    return rc;
}
