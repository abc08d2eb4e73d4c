/* Jinja parser: tokens to a syntax tree (recursive descent, depth-limited). */
#include "jinja_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JINJA_MAX_DEPTH 200

struct jinja_parser {
    const struct jinja_token *t;
    size_t n, i;
    struct jinja_arena *a;
    struct jinja_diag *d;
    struct jinja_tree *tree;
    int depth;
};

static const struct jinja_token *jp_peek(struct jinja_parser *P) { return &P->t[P->i]; }

static int jp_is(struct jinja_parser *P, enum jinja_tok t, const char *text)
{
    const struct jinja_token *k = jp_peek(P);
    return k->type == t && (!text || strcmp(k->text, text) == 0);
}

static int jp_is_name(struct jinja_parser *P, const char *name) { return jp_is(P, JT_NAME, name); }
static int jp_is_op(struct jinja_parser *P, const char *op) { return jp_is(P, JT_OP, op); }

static void jp_next(struct jinja_parser *P)
{
    if (P->t[P->i].type != JT_EOF)
        P->i++;
}

static int jp_fail(struct jinja_parser *P, const char *what)
{
    const struct jinja_token *k = jp_peek(P);
    if (k->type == JT_EOF)
        jinja_diag_set(P->d, k->pos, "unexpected end of template, expected %s", what);
    else
        jinja_diag_set(P->d, k->pos, "unexpected '%.40s', expected %s", k->text, what);
    return -1;
}

static int jp_expect(struct jinja_parser *P, enum jinja_tok t, const char *text, const char *what)
{
    if (!jp_is(P, t, text))
        return jp_fail(P, what);
    jp_next(P);
    return 0;
}

static struct jinja_node *jp_node(struct jinja_parser *P, enum jinja_node_kind k, size_t pos)
{
    struct jinja_node *nd = jinja_arena_alloc(P->a, sizeof *nd);
    if (!nd) {
        jinja_diag_set(P->d, pos, "out of memory");
        return NULL;
    }
    nd->kind = k;
    nd->pos = pos;
    return nd;
}

/* A growable list of nodes in malloc memory, moved to the arena when done. */
struct jp_list {
    struct jinja_node **p;
    const char **names;
    size_t n, cap;
};

static int jp_list_add(struct jinja_parser *P, struct jp_list *l, struct jinja_node *nd, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct jinja_node **p = realloc(l->p, cap * sizeof *p);
        if (p)
            l->p = p;
        const char **nm = p ? realloc(l->names, cap * sizeof *nm) : NULL;
        if (!p || !nm) {
            jinja_diag_set(P->d, nd ? nd->pos : 0, "out of memory");
            return -1;
        }
        l->names = nm;
        l->cap = cap;
    }
    l->p[l->n] = nd;
    l->names[l->n++] = name;
    return 0;
}

static int jp_list_finish(struct jinja_parser *P, struct jp_list *l, struct jinja_node ***out,
                          size_t *nout, const char ***names)
{
    int rc = 0;
    *out = NULL;
    *nout = l->n;
    if (l->n) {
        *out = jinja_arena_alloc(P->a, l->n * sizeof **out);
        if (names)
            *names = jinja_arena_alloc(P->a, l->n * sizeof **names);
        if (!*out || (names && !*names)) {
            jinja_diag_set(P->d, 0, "out of memory");
            rc = -1;
        } else {
            memcpy(*out, l->p, l->n * sizeof **out);
            if (names)
                memcpy(*names, l->names, l->n * sizeof **names);
        }
    }
    free(l->p);
    free(l->names);
    memset(l, 0, sizeof *l);
    return rc;
}

static struct jinja_node *jp_literal(struct jinja_parser *P, struct jinja_value *v, size_t pos)
{
    if (!v) {
        jinja_diag_set(P->d, pos, "out of memory");
        return NULL;
    }
    struct jinja_node *nd = jp_node(P, JN_LITERAL, pos);
    if (!nd) {
        jinja_value_free(v);
        return NULL;
    }
    nd->lit = v;
    nd->next_lit = P->tree->lits;
    P->tree->lits = nd;
    return nd;
}

static struct jinja_node *jp_expr(struct jinja_parser *P);
static struct jinja_node *jp_primary(struct jinja_parser *P);
static struct jinja_node *jp_call_chain(struct jinja_parser *P, struct jinja_node *callee);

static int jp_depth_in(struct jinja_parser *P)
{
    if (++P->depth > JINJA_MAX_DEPTH) {
        jinja_diag_set(P->d, jp_peek(P)->pos, "expression nested too deeply");
        return -1;
    }
    return 0;
}

static void jp_list_drop(struct jp_list *l)
{
    free(l->p);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* An argument list after "(" up to ")", as HF parses it: commas are
 * optional, name=value gives a keyword argument (a parameter default when
 * params), *x and **x unpack. */
static int jp_arglist(struct jinja_parser *P, int params, struct jinja_node ***out, size_t *nout)
{
    struct jp_list l = {0};
    int saw_kw = 0, saw_spread = 0;
    if (jp_expect(P, JT_OP, "(", "'('") != 0)
        return -1;
    while (!jp_is_op(P, ")")) {
        size_t pos = jp_peek(P)->pos;
        int kwspread = jp_is_op(P, "**"), spread = jp_is_op(P, "*");
        struct jinja_node *arg;
        if (params && (kwspread || spread)) {
            jinja_diag_set(P->d, pos, "argument unpacking is not allowed in parameter declarations");
            goto fail;
        }
        if (kwspread) {
            jp_next(P);
            if (!(arg = jp_node(P, JN_KWSPREAD, pos)) || !(arg->a = jp_expr(P)) || jp_list_add(P, &l, arg, NULL) != 0)
                goto fail;
            if (jp_is_op(P, ","))
                jp_next(P);
            if (!jp_is_op(P, ")")) {
                jp_fail(P, "')': ** must be the final argument");
                goto fail;
            }
            break;
        }
        if (spread) {
            if (saw_spread) {
                jinja_diag_set(P->d, pos, "only one * argument unpacking is allowed");
                goto fail;
            }
            saw_spread = 1;
            jp_next(P);
            if (!(arg = jp_node(P, JN_SPREAD, pos)) || !(arg->a = jp_expr(P)))
                goto fail;
        } else {
            if (!(arg = jp_expr(P)))
                goto fail;
            if (jp_is_op(P, "=")) {
                size_t epos = jp_peek(P)->pos;
                jp_next(P);
                if (arg->kind != JN_NAME) {
                    jinja_diag_set(P->d, epos, params ? "expected an identifier for a parameter"
                                                      : "expected an identifier for a keyword argument");
                    goto fail;
                }
                struct jinja_node *kw = jp_node(P, JN_KWARG, arg->pos);
                if (!kw)
                    goto fail;
                kw->name = arg->name;
                if (!(kw->a = jp_expr(P)))
                    goto fail;
                arg = kw;
            }
            if (params) {
                if (arg->kind != JN_NAME && arg->kind != JN_KWARG) {
                    jinja_diag_set(P->d, arg->pos, "expected an identifier for a parameter");
                    goto fail;
                }
                for (size_t k = 0; k < l.n; k++)
                    if (!strcmp(l.p[k]->name, arg->name)) {
                        jinja_diag_set(P->d, arg->pos, "duplicate parameter name '%.40s'", arg->name);
                        goto fail;
                    }
            }
            if (arg->kind == JN_KWARG) {
                saw_kw = 1;
            } else if (saw_kw) {
                jinja_diag_set(P->d, arg->pos, params ? "a parameter without default follows one with a default"
                                                      : "positional arguments must come before keyword arguments");
                goto fail;
            } else if (saw_spread) {
                jinja_diag_set(P->d, arg->pos, "positional arguments must not follow * argument unpacking");
                goto fail;
            }
        }
        if (jp_list_add(P, &l, arg, NULL) != 0)
            goto fail;
        if (jp_is_op(P, ","))
            jp_next(P);
    }
    if (jp_expect(P, JT_OP, ")", "')'") != 0)
        goto fail;
    return jp_list_finish(P, &l, out, nout, NULL);
fail:
    jp_list_drop(&l);
    return -1;
}

/* expr or expr, expr, ... (a tuple); primary_only for loop targets */
static struct jinja_node *jp_sequence(struct jinja_parser *P, int primary_only)
{
    size_t pos = jp_peek(P)->pos;
    struct jinja_node *e = primary_only ? jp_primary(P) : jp_expr(P);
    if (!e || !jp_is_op(P, ","))
        return e;
    struct jp_list l = {0};
    if (jp_list_add(P, &l, e, NULL) != 0)
        return NULL;
    while (jp_is_op(P, ",")) {
        jp_next(P);
        struct jinja_node *x = primary_only ? jp_primary(P) : jp_expr(P);
        if (!x || jp_list_add(P, &l, x, NULL) != 0) {
            jp_list_drop(&l);
            return NULL;
        }
    }
    struct jinja_node *t = jp_node(P, JN_TUPLE, pos);
    if (!t || jp_list_finish(P, &l, &t->list, &t->nlist, NULL) != 0) {
        jp_list_drop(&l);
        return NULL;
    }
    return t;
}

static struct jinja_node *jp_primary(struct jinja_parser *P)
{
    const struct jinja_token *k = jp_peek(P);
    size_t pos = k->pos;
    switch (k->type) {
    case JT_INT:
    case JT_FLOAT: {
        /* Number(text): a double even for integers (text may have a sign) */
        struct jinja_value *v = jinja_value_float(strtod(k->text, NULL));
        if (v && k->type == JT_INT)
            v->type = JINJA_INT;
        jp_next(P);
        return jp_literal(P, v, pos);
    }
    case JT_STRING: {
        /* adjacent string literals concatenate */
        struct jinja_buf b = {0};
        while (jp_is(P, JT_STRING, NULL)) {
            jinja_buf_add(&b, jp_peek(P)->text, jp_peek(P)->len);
            jp_next(P);
        }
        struct jinja_node *nd = b.oom ? NULL : jp_literal(P, jinja_value_stringn(b.p ? b.p : "", b.n), pos);
        free(b.p);
        if (!nd)
            jinja_diag_set(P->d, pos, "out of memory");
        return nd;
    }
    case JT_NAME: {
        jp_next(P);
        struct jinja_node *nd = jp_node(P, JN_NAME, pos);
        if (nd)
            nd->name = k->text;
        return nd;
    }
    case JT_OP:
        if (!strcmp(k->text, "(")) {
            jp_next(P);
            if (jp_depth_in(P) != 0)
                return NULL;
            struct jinja_node *e = jp_sequence(P, 0);
            P->depth--;
            if (!e || jp_expect(P, JT_OP, ")", "')'") != 0)
                return NULL;
            return e;
        }
        if (!strcmp(k->text, "[") || !strcmp(k->text, "{")) {
            int dict = k->text[0] == '{';
            const char *close = dict ? "}" : "]";
            struct jp_list keys = {0}, vals = {0};
            jp_next(P);
            if (jp_depth_in(P) != 0)
                return NULL;
            while (!jp_is_op(P, close)) {
                struct jinja_node *x = jp_expr(P);
                if (!x || jp_list_add(P, &keys, x, NULL) != 0)
                    goto coll_fail;
                if (dict) {
                    struct jinja_node *v;
                    if (jp_expect(P, JT_OP, ":", "':'") != 0 || !(v = jp_expr(P)) || jp_list_add(P, &vals, v, NULL) != 0)
                        goto coll_fail;
                }
                if (jp_is_op(P, ","))
                    jp_next(P);
            }
            jp_next(P);
            P->depth--;
            struct jinja_node *nd = jp_node(P, dict ? JN_DICT : JN_LIST, pos);
            if (!nd || jp_list_finish(P, &keys, &nd->list, &nd->nlist, NULL) != 0 ||
                jp_list_finish(P, &vals, &nd->list2, &nd->nlist2, NULL) != 0)
                goto coll_fail;
            return nd;
        coll_fail:
            jp_list_drop(&keys);
            jp_list_drop(&vals);
            return NULL;
        }
        break;
    default:
        break;
    }
    jp_fail(P, "an expression");
    return NULL;
}

/* .name, .0, [key], [a:b:c] after an object */
static struct jinja_node *jp_members(struct jinja_parser *P, struct jinja_node *e)
{
    while (e && (jp_is_op(P, ".") || jp_is_op(P, "["))) {
        size_t pos = jp_peek(P)->pos;
        if (jp_is_op(P, ".")) {
            jp_next(P);
            const struct jinja_token *k = jp_peek(P);
            if (k->type != JT_NAME && k->type != JT_INT) {
                jp_fail(P, "an identifier or integer after '.'");
                return NULL;
            }
            struct jinja_node *prop = jp_primary(P);
            struct jinja_node *nd = prop ? jp_node(P, k->type == JT_NAME ? JN_ATTR : JN_INDEX, pos) : NULL;
            if (!nd)
                return NULL;
            nd->a = e;
            if (k->type == JT_NAME)
                nd->name = prop->name;
            else
                nd->b = prop;
            e = nd;
            continue;
        }
        jp_next(P);
        struct jinja_node *parts[3] = {NULL, NULL, NULL};
        size_t nparts = 0;
        int slice = 0;
        while (!jp_is_op(P, "]")) {
            if (jp_is(P, JT_EOF, NULL)) {
                jp_fail(P, "']'");
                return NULL;
            }
            struct jinja_node *x = NULL;
            if (jp_is_op(P, ":")) {
                jp_next(P);
                slice = 1;
            } else {
                if (!(x = jp_expr(P)))
                    return NULL;
                if (jp_is_op(P, ":")) {
                    jp_next(P);
                    slice = 1;
                }
            }
            if (nparts < 3)
                parts[nparts] = x;
            nparts++;
        }
        jp_next(P);
        if (nparts == 0) {
            jinja_diag_set(P->d, pos, "expected at least one argument for a member or slice expression");
            return NULL;
        }
        if (slice && nparts > 3) {
            jinja_diag_set(P->d, pos, "expected 0 to 3 arguments for a slice");
            return NULL;
        }
        struct jinja_node *nd = jp_node(P, slice ? JN_SLICE : JN_INDEX, pos);
        if (!nd)
            return NULL;
        nd->a = e;
        nd->b = parts[0];
        if (slice) {
            nd->c = parts[1];
            nd->list = jinja_arena_alloc(P->a, sizeof *nd->list);
            if (!nd->list) {
                jinja_diag_set(P->d, pos, "out of memory");
                return NULL;
            }
            nd->list[0] = parts[2];
            nd->nlist = 1;
        }
        e = nd;
    }
    return e;
}

/* callee(args) followed by members and further calls */
static struct jinja_node *jp_call_chain(struct jinja_parser *P, struct jinja_node *callee)
{
    while (callee && jp_is_op(P, "(")) {
        struct jinja_node *nd = jp_node(P, JN_CALL, callee->pos);
        if (!nd || jp_arglist(P, 0, &nd->list, &nd->nlist) != 0)
            return NULL;
        nd->a = callee;
        callee = jp_members(P, nd);
    }
    return callee;
}

static struct jinja_node *jp_call_member(struct jinja_parser *P)
{
    return jp_call_chain(P, jp_members(P, jp_primary(P)));
}

/* [-+] unary, then a call/member expression */
static struct jinja_node *jp_unary(struct jinja_parser *P)
{
    if (jp_is_op(P, "-") || jp_is_op(P, "+") || jp_is(P, JT_UNARY, NULL)) {
        size_t pos = jp_peek(P)->pos;
        int neg = jp_peek(P)->text[0] == '-';
        jp_next(P);
        if (jp_depth_in(P) != 0)
            return NULL;
        struct jinja_node *x = jp_unary(P);
        P->depth--;
        struct jinja_node *nd = x ? jp_node(P, neg ? JN_NEG : JN_POS, pos) : NULL;
        if (nd)
            nd->a = x;
        return nd;
    }
    return jp_call_member(P);
}

/* x | name | name(args); anything but a plain name is an error when applied */
static struct jinja_node *jp_filter_part(struct jinja_parser *P, struct jinja_node *operand, size_t pos)
{
    struct jinja_node *nd = jp_node(P, JN_FILTER, pos);
    struct jinja_node *f = nd ? jp_primary(P) : NULL;
    if (!f)
        return NULL;
    nd->a = operand;
    if (f->kind != JN_NAME) {
        if (operand) { /* in an expression HF rejects it while parsing */
            jinja_diag_set(P->d, f->pos, "expected an identifier for the filter");
            return NULL;
        }
        nd->flags |= JNF_BAD;
        nd->name = "";
        return nd;
    }
    nd->name = f->name;
    if (jp_is_op(P, "(")) {
        nd->flags |= JNF_CALL;
        if (jp_arglist(P, 0, &nd->list, &nd->nlist) != 0)
            return NULL;
        if (jp_is_op(P, ".") || jp_is_op(P, "[") || jp_is_op(P, "(")) {
            /* name(args).x or name(args)(more): parsed, fails when applied */
            struct jinja_node *rest = jp_call_chain(P, jp_members(P, f));
            if (!rest)
                return NULL;
            nd->flags |= JNF_BAD;
        }
    }
    return nd;
}

static struct jinja_node *jp_filter(struct jinja_parser *P)
{
    struct jinja_node *e = jp_unary(P);
    while (e && jp_is_op(P, "|")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        e = jp_filter_part(P, e, pos);
    }
    return e;
}

/* x is [not] name (no arguments, as in HF) */
static struct jinja_node *jp_test(struct jinja_parser *P)
{
    struct jinja_node *e = jp_filter(P);
    while (e && jp_is_name(P, "is")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        struct jinja_node *nd = jp_node(P, JN_TEST, pos);
        if (!nd)
            return NULL;
        if (jp_is_name(P, "not")) {
            nd->negate = 1;
            jp_next(P);
        }
        if (!jp_is(P, JT_NAME, NULL)) {
            jp_fail(P, "an identifier for the test");
            return NULL;
        }
        nd->a = e;
        nd->name = jp_peek(P)->text;
        jp_next(P);
        e = nd;
    }
    return e;
}

static struct jinja_node *jp_binary(struct jinja_parser *P, const char *op, size_t pos,
                                    struct jinja_node *l, struct jinja_node *r)
{
    if (!l || !r)
        return NULL;
    struct jinja_node *nd = jp_node(P, JN_BINARY, pos);
    if (nd) {
        nd->name = op;
        nd->a = l;
        nd->b = r;
    }
    return nd;
}

/* ** is left-associative and binds tighter than * / // % */
static struct jinja_node *jp_pow(struct jinja_parser *P)
{
    struct jinja_node *e = jp_test(P);
    while (e && jp_is_op(P, "**")) {
        const struct jinja_token *k = jp_peek(P);
        jp_next(P);
        e = jp_binary(P, k->text, k->pos, e, jp_test(P));
    }
    return e;
}

static struct jinja_node *jp_mul(struct jinja_parser *P)
{
    struct jinja_node *e = jp_pow(P);
    while (e && (jp_is_op(P, "*") || jp_is_op(P, "/") || jp_is_op(P, "//") || jp_is_op(P, "%"))) {
        const struct jinja_token *k = jp_peek(P);
        jp_next(P);
        e = jp_binary(P, k->text, k->pos, e, jp_pow(P));
    }
    return e;
}

static struct jinja_node *jp_add(struct jinja_parser *P)
{
    struct jinja_node *e = jp_mul(P);
    while (e && (jp_is_op(P, "+") || jp_is_op(P, "-") || jp_is_op(P, "~"))) {
        const struct jinja_token *k = jp_peek(P);
        jp_next(P);
        e = jp_binary(P, k->text, k->pos, e, jp_mul(P));
    }
    return e;
}

static struct jinja_node *jp_cmp(struct jinja_parser *P)
{
    struct jinja_node *e = jp_add(P);
    while (e) {
        const struct jinja_token *k = jp_peek(P);
        const char *op = NULL;
        if (jp_is_name(P, "not") && P->t[P->i + 1].type == JT_NAME && !strcmp(P->t[P->i + 1].text, "in")) {
            op = "not in";
            P->i += 2;
        } else if (jp_is_name(P, "in")) {
            op = "in";
            jp_next(P);
        } else if (k->type == JT_OP && (!strcmp(k->text, "==") || !strcmp(k->text, "!=") || !strcmp(k->text, "<") ||
                                        !strcmp(k->text, ">") || !strcmp(k->text, "<=") || !strcmp(k->text, ">="))) {
            op = k->text;
            jp_next(P);
        } else {
            break;
        }
        e = jp_binary(P, op, k->pos, e, jp_add(P));
    }
    return e;
}

static struct jinja_node *jp_not(struct jinja_parser *P)
{
    if (jp_is_name(P, "not")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        if (jp_depth_in(P) != 0)
            return NULL;
        struct jinja_node *x = jp_not(P);
        P->depth--;
        if (!x)
            return NULL;
        struct jinja_node *nd = jp_node(P, JN_NOT, pos);
        if (nd)
            nd->a = x;
        return nd;
    }
    return jp_cmp(P);
}

static struct jinja_node *jp_and(struct jinja_parser *P)
{
    struct jinja_node *e = jp_not(P);
    while (e && jp_is_name(P, "and")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        e = jp_binary(P, "and", pos, e, jp_not(P));
    }
    return e;
}

static struct jinja_node *jp_or(struct jinja_parser *P)
{
    struct jinja_node *e = jp_and(P);
    while (e && jp_is_name(P, "or")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        e = jp_binary(P, "or", pos, e, jp_and(P));
    }
    return e;
}

/* or_expr [if or_expr [else expr]] */
static struct jinja_node *jp_expr(struct jinja_parser *P)
{
    if (jp_depth_in(P) != 0)
        return NULL;
    struct jinja_node *e = jp_or(P);
    if (e && jp_is_name(P, "if")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        struct jinja_node *nd = jp_node(P, JN_COND, pos);
        if (!nd)
            return NULL;
        nd->a = e;
        nd->b = jp_or(P);
        if (!nd->b)
            return NULL;
        if (jp_is_name(P, "else")) {
            jp_next(P);
            nd->c = jp_expr(P);
            if (!nd->c)
                return NULL;
        }
        e = nd;
    }
    P->depth--;
    return e;
}

/* Parses statements until one of the end words (NULL-terminated) opens a
 * {% %} tag; leaves the parser on that word. */
static int jp_body(struct jinja_parser *P, const char *const *ends, struct jinja_node ***out, size_t *nout);

static int jp_stmt_end(struct jinja_parser *P) { return jp_expect(P, JT_CLOSE_STMT, NULL, "'%}'"); }

/* {% word %} that closes a block */
static int jp_end_tag(struct jinja_parser *P, const char *word)
{
    char what[32];
    snprintf(what, sizeof what, "'%s'", word);
    if (jp_expect(P, JT_NAME, word, what) != 0)
        return -1;
    return jp_stmt_end(P);
}

static struct jinja_node *jp_if(struct jinja_parser *P, size_t pos)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    struct jinja_node *nd = jp_node(P, JN_IF, pos);
    if (!nd || !(nd->a = jp_expr(P)) || jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0)
        return NULL;
    if (jp_is_name(P, "elif")) {
        size_t epos = jp_peek(P)->pos;
        jp_next(P);
        struct jinja_node *sub = jp_if(P, epos);
        if (!sub)
            return NULL;
        nd->list2 = jinja_arena_alloc(P->a, sizeof *nd->list2);
        if (!nd->list2) {
            jinja_diag_set(P->d, pos, "out of memory");
            return NULL;
        }
        nd->list2[0] = sub;
        nd->nlist2 = 1;
        return nd; /* the nested if consumed endif */
    }
    if (jp_is_name(P, "else")) {
        static const char *const ends2[] = {"endif", NULL};
        jp_next(P);
        if (jp_stmt_end(P) != 0 || jp_body(P, ends2, &nd->list2, &nd->nlist2) != 0)
            return NULL;
    }
    if (jp_end_tag(P, "endif") != 0)
        return NULL;
    return nd;
}

static struct jinja_node *jp_statement(struct jinja_parser *P)
{
    if (jp_expect(P, JT_OPEN_STMT, NULL, "'{%'") != 0)
        return NULL;
    if (!jp_is(P, JT_NAME, NULL)) {
        jp_fail(P, "a statement name");
        return NULL;
    }
    const struct jinja_token *kw = jp_peek(P);
    jp_next(P);
    if (!strcmp(kw->text, "if"))
        return jp_if(P, kw->pos);
    if (!strcmp(kw->text, "for")) {
        static const char *const ends[] = {"else", "endfor", NULL};
        struct jinja_node *nd = jp_node(P, JN_FOR, kw->pos);
        if (!nd || !(nd->c = jp_sequence(P, 1)))
            return NULL;
        if (nd->c->kind != JN_NAME && nd->c->kind != JN_TUPLE) {
            jinja_diag_set(P->d, nd->c->pos, "expected an identifier or tuple for the loop variable");
            return NULL;
        }
        if (jp_expect(P, JT_NAME, "in", "'in'") != 0 || !(nd->a = jp_expr(P)))
            return NULL;
        if (nd->a->kind == JN_COND && !nd->a->c) { /* for x in xs if test */
            nd->b = nd->a->b;
            nd->a = nd->a->a;
        }
        if (jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0)
            return NULL;
        if (jp_is_name(P, "else")) {
            static const char *const ends2[] = {"endfor", NULL};
            jp_next(P);
            if (jp_stmt_end(P) != 0 || jp_body(P, ends2, &nd->list2, &nd->nlist2) != 0)
                return NULL;
        }
        if (jp_end_tag(P, "endfor") != 0)
            return NULL;
        return nd;
    }
    if (!strcmp(kw->text, "set")) {
        /* the target is checked when the statement runs, as in HF */
        struct jinja_node *nd = jp_node(P, JN_SET, kw->pos);
        if (!nd || !(nd->a = jp_sequence(P, 0)))
            return NULL;
        if (jp_is_op(P, "=")) {
            jp_next(P);
            if (!(nd->b = jp_sequence(P, 0)) || jp_stmt_end(P) != 0)
                return NULL;
            return nd;
        }
        static const char *const ends[] = {"endset", NULL};
        if (jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0 || jp_end_tag(P, "endset") != 0)
            return NULL;
        return nd;
    }
    if (!strcmp(kw->text, "filter")) {
        /* {% filter name(args) %}body{% endfilter %}: b is a FILTER without operand */
        static const char *const ends[] = {"endfilter", NULL};
        struct jinja_node *nd = jp_node(P, JN_FILTER_BLOCK, kw->pos);
        if (!nd || !(nd->b = jp_filter_part(P, NULL, jp_peek(P)->pos)))
            return NULL;
        if (jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0 || jp_end_tag(P, "endfilter") != 0)
            return NULL;
        return nd;
    }
    if (!strcmp(kw->text, "macro") || !strcmp(kw->text, "call")) {
        int is_call = kw->text[0] == 'c';
        static const char *const mends[] = {"endmacro", NULL}, *const cends[] = {"endcall", NULL};
        struct jinja_node *nd = jp_node(P, is_call ? JN_CALL_BLOCK : JN_MACRO, kw->pos);
        if (!nd)
            return NULL;
        if (is_call && jp_is_op(P, "(") && jp_arglist(P, 1, &nd->list2, &nd->nlist2) != 0)
            return NULL;
        struct jinja_node *name = jp_primary(P);
        if (!name)
            return NULL;
        if (name->kind != JN_NAME) {
            jinja_diag_set(P->d, name->pos, "expected an identifier after '%s'", kw->text);
            return NULL;
        }
        if (is_call) {
            struct jinja_node *call = jp_node(P, JN_CALL, name->pos);
            if (!call || jp_arglist(P, 0, &call->list, &call->nlist) != 0)
                return NULL;
            call->a = name;
            nd->a = call;
        } else {
            nd->name = name->name;
            if (jp_arglist(P, 1, &nd->list2, &nd->nlist2) != 0)
                return NULL;
        }
        if (jp_stmt_end(P) != 0 || jp_body(P, is_call ? cends : mends, &nd->list, &nd->nlist) != 0 ||
            jp_end_tag(P, is_call ? "endcall" : "endmacro") != 0)
            return NULL;
        return nd;
    }
    if (!strcmp(kw->text, "break") || !strcmp(kw->text, "continue")) {
        struct jinja_node *nd = jp_node(P, kw->text[0] == 'b' ? JN_BREAK : JN_CONTINUE, kw->pos);
        if (!nd || jp_stmt_end(P) != 0)
            return NULL;
        return nd;
    }
    jinja_diag_set(P->d, kw->pos, "unsupported statement '%.40s'", kw->text);
    return NULL;
}

static int jp_body(struct jinja_parser *P, const char *const *ends, struct jinja_node ***out, size_t *nout)
{
    struct jp_list l = {0};
    if (++P->depth > JINJA_MAX_DEPTH) {
        jinja_diag_set(P->d, jp_peek(P)->pos, "statements nested too deeply");
        return -1;
    }
    for (;;) {
        const struct jinja_token *k = jp_peek(P);
        struct jinja_node *nd = NULL;
        if (k->type == JT_EOF) {
            if (ends) {
                size_t last = 0;
                while (ends[last + 1])
                    last++;
                jinja_diag_set(P->d, k->pos, "unexpected end of template, expected '%s'", ends[last]);
                goto fail;
            }
            break;
        }
        if (k->type == JT_COMMENT) {
            jp_next(P);
            continue;
        }
        if (k->type == JT_TEXT) {
            nd = jp_node(P, JN_TEXT, k->pos);
            if (!nd)
                goto fail;
            nd->name = k->text;
            nd->name_len = k->len;
            jp_next(P);
        } else if (k->type == JT_OPEN_EXPR) {
            jp_next(P);
            nd = jp_node(P, JN_OUTPUT, k->pos);
            if (!nd || !(nd->a = jp_expr(P)) || jp_expect(P, JT_CLOSE_EXPR, NULL, "'}}'") != 0)
                goto fail;
        } else if (k->type == JT_OPEN_STMT) {
            const struct jinja_token *w = &P->t[P->i + 1];
            if (ends && w->type == JT_NAME) {
                int end = 0;
                for (int e = 0; ends[e]; e++)
                    end |= !strcmp(w->text, ends[e]);
                if (end) {
                    P->i++;
                    break;
                }
            }
            if (!(nd = jp_statement(P)))
                goto fail;
        } else {
            jp_fail(P, "text, '{{' or '{%'");
            goto fail;
        }
        if (jp_list_add(P, &l, nd, NULL) != 0)
            goto fail;
    }
    P->depth--;
    return jp_list_finish(P, &l, out, nout, NULL);
fail:
    jp_list_drop(&l);
    return -1;
}

int jinja_parse(const struct jinja_token *toks, size_t ntoks, struct jinja_arena *a,
                struct jinja_tree *tree, struct jinja_diag *d)
{
    struct jinja_parser P = {toks, ntoks, 0, a, d, tree, 0};
    memset(tree, 0, sizeof *tree);
    if (ntoks == 0 || toks[ntoks - 1].type != JT_EOF) {
        jinja_diag_set(d, 0, "internal error: no end token");
        return -1;
    }
    return jp_body(&P, NULL, &tree->body, &tree->nbody);
}

void jinja_tree_free(struct jinja_tree *tree)
{
    for (struct jinja_node *n = tree->lits; n; n = n->next_lit)
        jinja_value_free(n->lit);
    tree->lits = NULL;
}
