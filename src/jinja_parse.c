/* Jinja parser: tokens to a syntax tree (recursive descent, depth-limited). */
#include "jinja_internal.h"

#include <errno.h>
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
static struct jinja_node *jp_or(struct jinja_parser *P);

/* Call arguments after "(": positional and name=value. */
static int jp_args(struct jinja_parser *P, struct jinja_node *call)
{
    struct jp_list pos = {0}, kw = {0};
    while (!jp_is_op(P, ")")) {
        if (jp_is(P, JT_NAME, NULL) && P->t[P->i + 1].type == JT_OP && strcmp(P->t[P->i + 1].text, "=") == 0) {
            const char *name = jp_peek(P)->text;
            P->i += 2;
            struct jinja_node *v = jp_expr(P);
            if (!v || jp_list_add(P, &kw, v, name) != 0)
                goto fail;
        } else {
            struct jinja_node *v = jp_expr(P);
            if (!v || jp_list_add(P, &pos, v, NULL) != 0)
                goto fail;
        }
        if (!jp_is_op(P, ","))
            break;
        jp_next(P);
    }
    if (jp_expect(P, JT_OP, ")", "')'") != 0)
        goto fail;
    if (jp_list_finish(P, &pos, &call->list, &call->nlist, NULL) != 0)
        goto fail;
    return jp_list_finish(P, &kw, &call->list2, &call->nlist2, &call->names);
fail:
    free(pos.p);
    free(pos.names);
    free(kw.p);
    free(kw.names);
    return -1;
}

static struct jinja_node *jp_primary(struct jinja_parser *P)
{
    const struct jinja_token *k = jp_peek(P);
    size_t pos = k->pos;
    switch (k->type) {
    case JT_INT: {
        errno = 0;
        long long v = strtoll(k->text, NULL, 10);
        if (errno) {
            jinja_diag_set(P->d, pos, "integer literal out of range");
            return NULL;
        }
        jp_next(P);
        return jp_literal(P, jinja_value_int(v), pos);
    }
    case JT_FLOAT:
        jp_next(P);
        return jp_literal(P, jinja_value_float(strtod(k->text, NULL)), pos);
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
        if (!strcmp(k->text, "true") || !strcmp(k->text, "True"))
            return jp_literal(P, jinja_value_bool(1), pos);
        if (!strcmp(k->text, "false") || !strcmp(k->text, "False"))
            return jp_literal(P, jinja_value_bool(0), pos);
        if (!strcmp(k->text, "none") || !strcmp(k->text, "None"))
            return jp_literal(P, jinja_value_null(), pos);
        struct jinja_node *nd = jp_node(P, JN_NAME, pos);
        if (nd)
            nd->name = k->text;
        return nd;
    }
    case JT_OP:
        if (!strcmp(k->text, "(")) {
            jp_next(P);
            struct jinja_node *e = jp_expr(P);
            if (!e)
                return NULL;
            if (jp_is_op(P, ",")) { /* tuple: treated as a list */
                struct jp_list l = {0};
                if (jp_list_add(P, &l, e, NULL) != 0)
                    return NULL;
                while (jp_is_op(P, ",")) {
                    jp_next(P);
                    if (jp_is_op(P, ")"))
                        break;
                    struct jinja_node *x = jp_expr(P);
                    if (!x || jp_list_add(P, &l, x, NULL) != 0) {
                        free(l.p);
                        free(l.names);
                        return NULL;
                    }
                }
                e = jp_node(P, JN_LIST, pos);
                if (!e || jp_list_finish(P, &l, &e->list, &e->nlist, NULL) != 0) {
                    free(l.p);
                    free(l.names);
                    return NULL;
                }
            }
            if (jp_expect(P, JT_OP, ")", "')'") != 0)
                return NULL;
            return e;
        }
        if (!strcmp(k->text, "[")) {
            jp_next(P);
            struct jp_list l = {0};
            while (!jp_is_op(P, "]")) {
                struct jinja_node *x = jp_expr(P);
                if (!x || jp_list_add(P, &l, x, NULL) != 0)
                    goto list_fail;
                if (!jp_is_op(P, ","))
                    break;
                jp_next(P);
            }
            if (jp_expect(P, JT_OP, "]", "']'") != 0)
                goto list_fail;
            struct jinja_node *nd = jp_node(P, JN_LIST, pos);
            if (!nd || jp_list_finish(P, &l, &nd->list, &nd->nlist, NULL) != 0)
                goto list_fail;
            return nd;
        list_fail:
            free(l.p);
            free(l.names);
            return NULL;
        }
        if (!strcmp(k->text, "{")) {
            jp_next(P);
            struct jp_list keys = {0}, vals = {0};
            while (!jp_is_op(P, "}")) {
                struct jinja_node *kx = jp_expr(P);
                if (!kx || jp_list_add(P, &keys, kx, NULL) != 0 || jp_expect(P, JT_OP, ":", "':'") != 0)
                    goto dict_fail;
                struct jinja_node *vx = jp_expr(P);
                if (!vx || jp_list_add(P, &vals, vx, NULL) != 0)
                    goto dict_fail;
                if (!jp_is_op(P, ","))
                    break;
                jp_next(P);
            }
            if (jp_expect(P, JT_OP, "}", "'}'") != 0)
                goto dict_fail;
            struct jinja_node *nd = jp_node(P, JN_DICT, pos);
            if (!nd || jp_list_finish(P, &keys, &nd->list, &nd->nlist, NULL) != 0 ||
                jp_list_finish(P, &vals, &nd->list2, &nd->nlist2, NULL) != 0)
                goto dict_fail;
            return nd;
        dict_fail:
            free(keys.p);
            free(keys.names);
            free(vals.p);
            free(vals.names);
            return NULL;
        }
        break;
    default:
        break;
    }
    jp_fail(P, "an expression");
    return NULL;
}

/* primary followed by .attr, [index], [a:b:c] and (args) */
static struct jinja_node *jp_postfix(struct jinja_parser *P)
{
    struct jinja_node *e = jp_primary(P);
    while (e) {
        size_t pos = jp_peek(P)->pos;
        if (jp_is_op(P, ".")) {
            jp_next(P);
            if (!jp_is(P, JT_NAME, NULL) && !jp_is(P, JT_INT, NULL)) {
                jp_fail(P, "an attribute name");
                return NULL;
            }
            struct jinja_node *nd = jp_node(P, JN_ATTR, pos);
            if (!nd)
                return NULL;
            nd->a = e;
            nd->name = jp_peek(P)->text;
            jp_next(P);
            e = nd;
        } else if (jp_is_op(P, "[")) {
            jp_next(P);
            struct jinja_node *parts[3] = {NULL, NULL, NULL};
            int nparts = 0, slice = 0;
            for (;;) {
                if (!jp_is_op(P, ":") && !jp_is_op(P, "]")) {
                    parts[nparts] = jp_expr(P);
                    if (!parts[nparts])
                        return NULL;
                }
                if (jp_is_op(P, ":") && nparts < 2) {
                    jp_next(P);
                    slice = 1;
                    nparts++;
                    continue;
                }
                break;
            }
            if (jp_expect(P, JT_OP, "]", "']'") != 0)
                return NULL;
            if (!slice && !parts[0]) {
                jinja_diag_set(P->d, pos, "empty subscript");
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
            } else {
                nd->b = parts[0];
            }
            e = nd;
        } else if (jp_is_op(P, "(")) {
            jp_next(P);
            struct jinja_node *nd = jp_node(P, JN_CALL, e->pos);
            if (!nd || jp_args(P, nd) != 0)
                return NULL;
            nd->a = e;
            e = nd;
        } else {
            break;
        }
    }
    return e;
}

/* x | filter | filter(args) */
static struct jinja_node *jp_filter(struct jinja_parser *P)
{
    struct jinja_node *e = jp_postfix(P);
    while (e && jp_is_op(P, "|")) {
        size_t pos = jp_peek(P)->pos;
        jp_next(P);
        if (!jp_is(P, JT_NAME, NULL)) {
            jp_fail(P, "a filter name");
            return NULL;
        }
        struct jinja_node *nd = jp_node(P, JN_FILTER, pos);
        if (!nd)
            return NULL;
        nd->a = e;
        nd->name = jp_peek(P)->text;
        jp_next(P);
        if (jp_is_op(P, "(")) {
            jp_next(P);
            if (jp_args(P, nd) != 0)
                return NULL;
        }
        e = nd;
    }
    return e;
}

/* x is [not] test [ (args) | single argument ] */
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
            jp_fail(P, "a test name");
            return NULL;
        }
        nd->a = e;
        nd->name = jp_peek(P)->text;
        jp_next(P);
        if (jp_is_op(P, "(")) {
            jp_next(P);
            if (jp_args(P, nd) != 0)
                return NULL;
        } else if (jp_is(P, JT_INT, NULL) || jp_is(P, JT_STRING, NULL) || jp_is(P, JT_FLOAT, NULL)) {
            struct jinja_node *arg = jp_primary(P);
            if (!arg)
                return NULL;
            nd->list = jinja_arena_alloc(P->a, sizeof *nd->list);
            if (!nd->list) {
                jinja_diag_set(P->d, pos, "out of memory");
                return NULL;
            }
            nd->list[0] = arg;
            nd->nlist = 1;
        }
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

static struct jinja_node *jp_unary(struct jinja_parser *P)
{
    if (jp_is_op(P, "-") || jp_is_op(P, "+")) {
        size_t pos = jp_peek(P)->pos;
        int neg = jp_is_op(P, "-");
        jp_next(P);
        if (++P->depth > JINJA_MAX_DEPTH) {
            jinja_diag_set(P->d, pos, "expression nested too deeply");
            return NULL;
        }
        struct jinja_node *x = jp_unary(P);
        P->depth--;
        if (!x || !neg)
            return x;
        struct jinja_node *nd = jp_node(P, JN_NEG, pos);
        if (nd)
            nd->a = x;
        return nd;
    }
    return jp_test(P);
}

static struct jinja_node *jp_mul(struct jinja_parser *P)
{
    struct jinja_node *e = jp_unary(P);
    while (e && (jp_is_op(P, "*") || jp_is_op(P, "/") || jp_is_op(P, "//") || jp_is_op(P, "%") ||
                 jp_is_op(P, "**"))) {
        const struct jinja_token *k = jp_peek(P);
        jp_next(P);
        e = jp_binary(P, k->text, k->pos, e, jp_unary(P));
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
        if (k->type == JT_OP && (!strcmp(k->text, "==") || !strcmp(k->text, "!=") || !strcmp(k->text, "<") ||
                                 !strcmp(k->text, ">") || !strcmp(k->text, "<=") || !strcmp(k->text, ">="))) {
            op = k->text;
            jp_next(P);
        } else if (jp_is_name(P, "in")) {
            op = "in";
            jp_next(P);
        } else if (jp_is_name(P, "not") && P->t[P->i + 1].type == JT_NAME && !strcmp(P->t[P->i + 1].text, "in")) {
            op = "not in";
            P->i += 2;
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
        if (++P->depth > JINJA_MAX_DEPTH) {
            jinja_diag_set(P->d, pos, "expression nested too deeply");
            return NULL;
        }
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
    if (++P->depth > JINJA_MAX_DEPTH) {
        jinja_diag_set(P->d, jp_peek(P)->pos, "expression nested too deeply");
        return NULL;
    }
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
    if (jp_expect(P, JT_NAME, "endif", "'endif'") != 0 || jp_stmt_end(P) != 0)
        return NULL;
    return nd;
}

static struct jinja_node *jp_statement(struct jinja_parser *P)
{
    size_t pos = jp_peek(P)->pos;
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
        struct jp_list targets = {0};
        if (!nd)
            return NULL;
        int paren = jp_is_op(P, "(");
        if (paren)
            jp_next(P);
        do {
            if (!jp_is(P, JT_NAME, NULL)) {
                free(targets.p);
                free(targets.names);
                jp_fail(P, "a loop variable");
                return NULL;
            }
            if (jp_list_add(P, &targets, NULL, jp_peek(P)->text) != 0) {
                free(targets.p);
                free(targets.names);
                return NULL;
            }
            jp_next(P);
        } while (jp_is_op(P, ",") && (jp_next(P), 1));
        struct jinja_node **dummy = NULL;
        size_t nd_n = 0;
        if (jp_list_finish(P, &targets, &dummy, &nd_n, &nd->names) != 0)
            return NULL;
        nd->nnames = nd_n;
        if (paren && jp_expect(P, JT_OP, ")", "')'") != 0)
            return NULL;
        if (jp_expect(P, JT_NAME, "in", "'in'") != 0 || !(nd->a = jp_or(P)))
            return NULL;
        if (jp_is_name(P, "if")) {
            jp_next(P);
            if (!(nd->b = jp_expr(P)))
                return NULL;
        }
        if (jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0)
            return NULL;
        if (jp_is_name(P, "else")) {
            static const char *const ends2[] = {"endfor", NULL};
            jp_next(P);
            if (jp_stmt_end(P) != 0 || jp_body(P, ends2, &nd->list2, &nd->nlist2) != 0)
                return NULL;
        }
        if (jp_expect(P, JT_NAME, "endfor", "'endfor'") != 0 || jp_stmt_end(P) != 0)
            return NULL;
        return nd;
    }
    if (!strcmp(kw->text, "set")) {
        struct jinja_node *target = jp_postfix(P);
        if (!target)
            return NULL;
        if (target->kind != JN_NAME && !(target->kind == JN_ATTR && target->a->kind == JN_NAME)) {
            jinja_diag_set(P->d, target->pos, "unsupported assignment target");
            return NULL;
        }
        if (target->kind == JN_NAME && jp_is_op(P, ",")) {
            /* set a, b = x, y: unpacking into names (target becomes a JN_LIST of names) */
            struct jp_list names = {0}, vals = {0};
            struct jinja_node *lst = jp_node(P, JN_LIST, target->pos), *rhs = NULL, *nd = NULL;
            if (!lst || jp_list_add(P, &names, target, NULL) != 0)
                goto tuple_fail;
            while (jp_is_op(P, ",")) {
                jp_next(P);
                if (!jp_is(P, JT_NAME, NULL)) {
                    jp_fail(P, "a variable name");
                    goto tuple_fail;
                }
                struct jinja_node *nm = jp_node(P, JN_NAME, jp_peek(P)->pos);
                if (!nm)
                    goto tuple_fail;
                nm->name = jp_peek(P)->text;
                jp_next(P);
                if (jp_list_add(P, &names, nm, NULL) != 0)
                    goto tuple_fail;
            }
            if (jp_expect(P, JT_OP, "=", "'='") != 0 || !(rhs = jp_expr(P)))
                goto tuple_fail;
            if (jp_is_op(P, ",")) {
                struct jinja_node *rl = jp_node(P, JN_LIST, rhs->pos);
                if (!rl || jp_list_add(P, &vals, rhs, NULL) != 0)
                    goto tuple_fail;
                while (jp_is_op(P, ",")) {
                    jp_next(P);
                    struct jinja_node *x = jp_expr(P);
                    if (!x || jp_list_add(P, &vals, x, NULL) != 0)
                        goto tuple_fail;
                }
                if (jp_list_finish(P, &vals, &rl->list, &rl->nlist, NULL) != 0)
                    goto tuple_fail;
                rhs = rl;
            }
            if (jp_stmt_end(P) != 0 || !(nd = jp_node(P, JN_SET, kw->pos)) ||
                jp_list_finish(P, &names, &lst->list, &lst->nlist, NULL) != 0)
                goto tuple_fail;
            nd->a = lst;
            nd->b = rhs;
            return nd;
        tuple_fail:
            free(names.p);
            free(names.names);
            free(vals.p);
            free(vals.names);
            return NULL;
        }
        if (jp_is_op(P, "=")) {
            jp_next(P);
            struct jinja_node *nd = jp_node(P, JN_SET, kw->pos);
            if (!nd || !(nd->b = jp_expr(P)) || jp_stmt_end(P) != 0)
                return NULL;
            nd->a = target;
            return nd;
        }
        static const char *const ends[] = {"endset", NULL};
        struct jinja_node *nd = jp_node(P, JN_SET_BLOCK, kw->pos);
        if (!nd || jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0 ||
            jp_expect(P, JT_NAME, "endset", "'endset'") != 0 || jp_stmt_end(P) != 0)
            return NULL;
        nd->a = target;
        return nd;
    }
    if (!strcmp(kw->text, "filter")) {
        /* {% filter name(args) %}body{% endfilter %}: b is a JN_FILTER without operand */
        static const char *const ends[] = {"endfilter", NULL};
        struct jinja_node *nd = jp_node(P, JN_FILTER_BLOCK, kw->pos);
        struct jinja_node *f = nd ? jp_node(P, JN_FILTER, jp_peek(P)->pos) : NULL;
        if (!f)
            return NULL;
        if (!jp_is(P, JT_NAME, NULL)) {
            jp_fail(P, "a filter name");
            return NULL;
        }
        f->name = jp_peek(P)->text;
        jp_next(P);
        if (jp_is_op(P, "(")) {
            jp_next(P);
            if (jp_args(P, f) != 0)
                return NULL;
        }
        nd->b = f;
        if (jp_stmt_end(P) != 0 || jp_body(P, ends, &nd->list, &nd->nlist) != 0 ||
            jp_expect(P, JT_NAME, "endfilter", "'endfilter'") != 0 || jp_stmt_end(P) != 0)
            return NULL;
        return nd;
    }
    if (!strcmp(kw->text, "macro")) {
        static const char *const ends[] = {"endmacro", NULL};
        struct jinja_node *nd = jp_node(P, JN_MACRO, kw->pos);
        struct jp_list defs = {0};
        if (!nd)
            return NULL;
        if (!jp_is(P, JT_NAME, NULL)) {
            jp_fail(P, "a macro name");
            return NULL;
        }
        nd->name = jp_peek(P)->text;
        jp_next(P);
        if (jp_expect(P, JT_OP, "(", "'('") != 0)
            return NULL;
        while (!jp_is_op(P, ")")) {
            if (!jp_is(P, JT_NAME, NULL)) {
                jp_fail(P, "a parameter name");
                goto macro_fail;
            }
            const char *pname = jp_peek(P)->text;
            struct jinja_node *def = NULL;
            jp_next(P);
            if (jp_is_op(P, "=")) {
                jp_next(P);
                if (!(def = jp_expr(P)))
                    goto macro_fail;
            }
            if (jp_list_add(P, &defs, def, pname) != 0)
                goto macro_fail;
            if (!jp_is_op(P, ","))
                break;
            jp_next(P);
        }
        if (jp_expect(P, JT_OP, ")", "')'") != 0 || jp_stmt_end(P) != 0)
            goto macro_fail;
        if (jp_list_finish(P, &defs, &nd->list2, &nd->nlist2, &nd->names) != 0)
            goto macro_fail;
        nd->nnames = nd->nlist2;
        if (jp_body(P, ends, &nd->list, &nd->nlist) != 0 ||
            jp_expect(P, JT_NAME, "endmacro", "'endmacro'") != 0 || jp_stmt_end(P) != 0)
            return NULL;
        return nd;
    macro_fail:
        free(defs.p);
        free(defs.names);
        return NULL;
    }
    if (!strcmp(kw->text, "break") || !strcmp(kw->text, "continue")) {
        struct jinja_node *nd = jp_node(P, kw->text[0] == 'b' ? JN_BREAK : JN_CONTINUE, kw->pos);
        if (!nd || jp_stmt_end(P) != 0)
            return NULL;
        return nd;
    }
    jinja_diag_set(P->d, kw->pos, "unsupported statement '%.40s'", kw->text);
    (void)pos;
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
    free(l.p);
    free(l.names);
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
