/* Jinja values, buffers, the arena and jinja_render. */
#include "jinja_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct jinja_value *jinja_new(enum jinja_type t)
{
    struct jinja_value *v = calloc(1, sizeof *v);
    if (v) {
        v->type = t;
        v->refs = 1;
    }
    return v;
}

struct jinja_value *jinja_value_undefined(void) { return jinja_new(JINJA_UNDEFINED); }
struct jinja_value *jinja_value_null(void) { return jinja_new(JINJA_NULL); }
struct jinja_value *jinja_value_array(void) { return jinja_new(JINJA_ARRAY); }
struct jinja_value *jinja_value_object(void) { return jinja_new(JINJA_OBJECT); }

struct jinja_value *jinja_value_bool(int b)
{
    struct jinja_value *v = jinja_new(JINJA_BOOL);
    if (v)
        v->u.b = b != 0;
    return v;
}

struct jinja_value *jinja_value_int(long long i)
{
    struct jinja_value *v = jinja_new(JINJA_INT);
    if (v)
        v->u.f = (double)i;
    return v;
}

struct jinja_value *jinja_value_float(double f)
{
    struct jinja_value *v = jinja_new(JINJA_FLOAT);
    if (v)
        v->u.f = f;
    return v;
}

struct jinja_value *jinja_value_stringn(const char *s, size_t n)
{
    struct jinja_value *v = jinja_new(JINJA_STRING);
    if (!v)
        return NULL;
    if (n == SIZE_MAX || !(v->u.str.s = malloc(n + 1))) {
        free(v);
        return NULL;
    }
    if (n)
        memcpy(v->u.str.s, s, n);
    v->u.str.s[n] = 0;
    v->u.str.n = n;
    return v;
}

struct jinja_value *jinja_value_string(const char *s) { return jinja_value_stringn(s, strlen(s)); }

struct jinja_value *jinja_value_ref(struct jinja_value *v)
{
    if (v)
        v->refs++;
    return v;
}

/* Frees one value whose count reached zero; containers' items whose counts
 * reach zero go on the pending list (so deep nesting needs no deep stack). */
static void jinja_value_release(struct jinja_value *v, struct jinja_value ***pending, size_t *n, size_t *cap)
{
    size_t nitems = v->type == JINJA_ARRAY ? v->u.arr.n : v->type == JINJA_OBJECT ? v->u.obj.n : 0;
    for (size_t i = 0; i < nitems; i++) {
        struct jinja_value *c = v->type == JINJA_ARRAY ? v->u.arr.items[i] : v->u.obj.vals[i];
        if (v->type == JINJA_OBJECT)
            free(v->u.obj.keys[i]);
        if (!c || --c->refs > 0)
            continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            struct jinja_value **p = ncap < SIZE_MAX / sizeof *p ? realloc(*pending, ncap * sizeof *p) : NULL;
            if (!p) { /* no memory for the list: free this one right away */
                struct jinja_value **none = NULL;
                size_t zn = 0, zcap = 0;
                jinja_value_release(c, &none, &zn, &zcap);
                while (zn)
                    jinja_value_release(none[--zn], &none, &zn, &zcap);
                free(none);
                continue;
            }
            *pending = p;
            *cap = ncap;
        }
        (*pending)[(*n)++] = c;
    }
    switch (v->type) {
    case JINJA_STRING: free(v->u.str.s); break;
    case JINJA_ARRAY: free(v->u.arr.items); break;
    case JINJA_OBJECT:
        free(v->u.obj.keys);
        free(v->u.obj.vals);
        break;
    case JINJA_CALLABLE: jinja_value_free(v->u.fn.self); break;
    default: break;
    }
    free(v);
}

void jinja_value_free(struct jinja_value *v)
{
    if (!v || --v->refs > 0)
        return;
    struct jinja_value **pending = NULL;
    size_t n = 0, cap = 0;
    jinja_value_release(v, &pending, &n, &cap);
    while (n)
        jinja_value_release(pending[--n], &pending, &n, &cap);
    free(pending);
}

enum jinja_type jinja_value_type(const struct jinja_value *v) { return v ? v->type : JINJA_UNDEFINED; }

int jinja_array_push(struct jinja_value *arr, struct jinja_value *v)
{
    if (!arr || !v || arr->type != JINJA_ARRAY) {
        jinja_value_free(v);
        return -1;
    }
    if (arr->u.arr.n == arr->u.arr.cap) {
        size_t cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
        struct jinja_value **p = cap < SIZE_MAX / sizeof *p ? realloc(arr->u.arr.items, cap * sizeof *p) : NULL;
        if (!p) {
            jinja_value_free(v);
            return -1;
        }
        arr->u.arr.items = p;
        arr->u.arr.cap = cap;
    }
    arr->u.arr.items[arr->u.arr.n++] = v;
    return 0;
}

struct jinja_value *jinja_object_get(const struct jinja_value *obj, const char *key)
{
    if (!obj || obj->type != JINJA_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++)
        if (strcmp(obj->u.obj.keys[i], key) == 0)
            return obj->u.obj.vals[i];
    return NULL;
}

int jinja_object_set(struct jinja_value *obj, const char *key, struct jinja_value *v)
{
    if (!obj || !v || !key || obj->type != JINJA_OBJECT) {
        jinja_value_free(v);
        return -1;
    }
    for (size_t i = 0; i < obj->u.obj.n; i++)
        if (strcmp(obj->u.obj.keys[i], key) == 0) {
            jinja_value_free(obj->u.obj.vals[i]);
            obj->u.obj.vals[i] = v;
            return 0;
        }
    if (obj->u.obj.n == obj->u.obj.cap) {
        size_t cap = obj->u.obj.cap ? obj->u.obj.cap * 2 : 4;
        char **k = realloc(obj->u.obj.keys, cap * sizeof *k);
        if (!k) {
            jinja_value_free(v);
            return -1;
        }
        obj->u.obj.keys = k;
        struct jinja_value **p = realloc(obj->u.obj.vals, cap * sizeof *p);
        if (!p) {
            jinja_value_free(v);
            return -1;
        }
        obj->u.obj.vals = p;
        obj->u.obj.cap = cap;
    }
    char *kd = strdup(key);
    if (!kd) {
        jinja_value_free(v);
        return -1;
    }
    obj->u.obj.keys[obj->u.obj.n] = kd;
    obj->u.obj.vals[obj->u.obj.n++] = v;
    return 0;
}

static int jinja_js_space(unsigned cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

size_t jinja_space_at(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    const unsigned char *u = (const unsigned char *)s + i;
    size_t avail = n - i;
    if (u[0] < 0x80)
        return jinja_js_space(u[0]) ? 1 : 0;
    if ((u[0] & 0xE0) == 0xC0 && avail >= 2 && (u[1] & 0xC0) == 0x80)
        return jinja_js_space(((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu)) ? 2 : 0;
    if ((u[0] & 0xF0) == 0xE0 && avail >= 3 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80)
        return jinja_js_space(((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu)) ? 3 : 0;
    return 0;
}

size_t jinja_space_before(const char *s, size_t i)
{
    for (size_t l = 1; l <= 3 && l <= i; l++)
        if (jinja_space_at(s, i, i - l) == l)
            return l;
    return 0;
}

void jinja_buf_add(struct jinja_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->limit && (n > b->limit || b->n > b->limit - n)) {
        b->oom = 2;
        return;
    }
    if (n >= SIZE_MAX / 2 - b->n) {
        b->oom = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void jinja_buf_addc(struct jinja_buf *b, char c) { jinja_buf_add(b, &c, 1); }
void jinja_buf_adds(struct jinja_buf *b, const char *s) { jinja_buf_add(b, s, strlen(s)); }

struct jinja_arena_block {
    struct jinja_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *jinja_arena_alloc(struct jinja_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct jinja_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *jinja_arena_strndup(struct jinja_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = jinja_arena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void jinja_arena_free(struct jinja_arena *a)
{
    while (a->head) {
        struct jinja_arena_block *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

void jinja_diag_set(struct jinja_diag *d, size_t pos, const char *fmt, ...)
{
    if (d->set)
        return;
    d->set = 1;
    d->pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

size_t jinja_utf16_len(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            units += c >= 0xF0 ? 2 : 1;
    }
    return units;
}

/* Lone UTF-16 surrogates are kept inside strings as their 3-byte forms
 * (ED A0..BF xx). In the final text a high one followed by a low one becomes
 * the 4-byte character and any other turns into U+FFFD, as Node writes a
 * JavaScript string out as UTF-8. */
static void jinja_fix_surrogates(char *p, size_t *n)
{
    size_t len = *n, o = 0;
    if (!memchr(p, 0xED, len))
        return;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)p[i];
        if (c == 0xED && i + 2 < len && ((unsigned char)p[i + 1] & 0xE0) == 0xA0) {
            unsigned hi = 0xD000u | (((unsigned char)p[i + 1] & 0x3Fu) << 6) | ((unsigned char)p[i + 2] & 0x3Fu);
            if (hi < 0xDC00 && i + 5 < len && (unsigned char)p[i + 3] == 0xED &&
                ((unsigned char)p[i + 4] & 0xF0) == 0xB0) {
                unsigned lo = 0xD000u | (((unsigned char)p[i + 4] & 0x3Fu) << 6) | ((unsigned char)p[i + 5] & 0x3Fu);
                unsigned cp = 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u);
                p[o++] = (char)(0xF0 | (cp >> 18));
                p[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                p[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                p[o++] = (char)(0x80 | (cp & 0x3F));
                i += 6;
            } else {
                p[o++] = (char)0xEF;
                p[o++] = (char)0xBF;
                p[o++] = (char)0xBD;
                i += 3;
            }
            continue;
        }
        p[o++] = p[i++];
    }
    p[o] = 0;
    *n = o;
}

int jinja_render_limited(const char *tmpl, size_t len, const struct jinja_value *context,
                         const struct jinja_limits *limits, char **out, size_t *out_len,
                         struct jinja_error *err)
{
    struct jinja_arena arena = {0};
    struct jinja_diag d = {0};
    struct jinja_token *toks = NULL;
    size_t ntoks = 0;
    struct jinja_tree tree = {0};
    struct jinja_eval_limits lim = {JINJA_DEFAULT_MAX_BYTES, JINJA_DEFAULT_MAX_STEPS};
    if (limits && limits->max_bytes)
        lim.max_bytes = limits->max_bytes;
    if (limits && limits->max_steps)
        lim.max_steps = limits->max_steps;
    struct jinja_buf buf = {.limit = lim.max_bytes};
    int rc = -1;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (err)
        memset(err, 0, sizeof *err);
    if (context && context->type != JINJA_OBJECT)
        jinja_diag_set(&d, 0, "the context is not an object");
    else if (jinja_lex(tmpl, len, &arena, &toks, &ntoks, &d) == 0 &&
             jinja_parse(toks, ntoks, &arena, &tree, &d) == 0 &&
             jinja_eval_tree(&tree, context, &lim, &buf, &d) == 0) {
        if (buf.oom) {
            jinja_diag_set(&d, 0, buf.oom == 2 ? "the output is too large" : "out of memory");
        } else {
            if (!buf.p)
                buf.p = calloc(1, 1);
            if (buf.p) {
                jinja_fix_surrogates(buf.p, &buf.n);
                *out = buf.p;
                if (out_len)
                    *out_len = buf.n;
                buf.p = NULL;
                rc = 0;
            } else {
                jinja_diag_set(&d, 0, "out of memory");
            }
        }
    }
    if (rc != 0) {
        if (!d.set)
            jinja_diag_set(&d, 0, "out of memory");
        if (err) {
            err->line = 1;
            err->column = 1;
            for (size_t i = 0; i < d.pos && i < len; i++) {
                if (tmpl[i] == '\n') {
                    err->line++;
                    err->column = 1;
                } else {
                    err->column++;
                }
            }
            snprintf(err->reason, sizeof err->reason, "%s", d.reason);
        }
    }
    free(buf.p);
    jinja_tree_free(&tree);
    jinja_arena_free(&arena);
    return rc;
}

int jinja_render(const char *tmpl, size_t len, const struct jinja_value *context, char **out,
                 size_t *out_len, struct jinja_error *err)
{
    return jinja_render_limited(tmpl, len, context, NULL, out, out_len, err);
}
