/* Shared between the jinja_*.c files; see jinja.h for the API. */
#ifndef BIBIM_JINJA_INTERNAL_H
#define BIBIM_JINJA_INTERNAL_H

#include "jinja.h"

#include <stddef.h>

struct jinja_value {
    enum jinja_type type;
    size_t refs;
    union {
        int b;
        long long i;
        double f;
        struct {
            char *s;
            size_t n;
        } str;
        struct {
            struct jinja_value **items;
            size_t n, cap;
        } arr;
        struct {
            char **keys;
            struct jinja_value **vals;
            size_t n, cap;
        } obj;
        struct {
            int id;                  /* builtin function or method id */
            struct jinja_value *self; /* bound object of a method, or NULL */
            const void *macro;        /* JN_MACRO node of a macro (tree-owned) */
        } fn;
    } u;
};

/* A growable byte buffer; failed sets oom and further appends do nothing. */
struct jinja_buf {
    char *p;
    size_t n, cap;
    int oom;
};
void jinja_buf_add(struct jinja_buf *b, const char *s, size_t n);
void jinja_buf_addc(struct jinja_buf *b, char c);
void jinja_buf_adds(struct jinja_buf *b, const char *s);

/* Byte length of the JavaScript whitespace character (\s: ASCII spaces,
 * U+00A0, U+1680, U+2000..U+200A, U+2028/9, U+202F, U+205F, U+3000, U+FEFF)
 * that starts at s[i] / ends just before s[i]; 0 if there is none. */
size_t jinja_space_at(const char *s, size_t n, size_t i);
size_t jinja_space_before(const char *s, size_t i);

/* Bump allocator owning the tokens and syntax tree of one render. */
struct jinja_arena {
    struct jinja_arena_block *head;
};
void *jinja_arena_alloc(struct jinja_arena *a, size_t n);
char *jinja_arena_strndup(struct jinja_arena *a, const char *s, size_t n);
void jinja_arena_free(struct jinja_arena *a);

enum jinja_tok {
    JT_EOF,
    JT_TEXT,
    JT_INT,
    JT_FLOAT,
    JT_STRING,
    JT_NAME,
    JT_OPEN_STMT,
    JT_CLOSE_STMT,
    JT_OPEN_EXPR,
    JT_CLOSE_EXPR,
    JT_OP /* punctuation and operators: text holds it */
};

struct jinja_token {
    enum jinja_tok type;
    const char *text; /* arena; NUL-terminated */
    size_t len;
    size_t pos; /* byte offset in the original template */
};

struct jinja_diag {
    size_t pos;
    char reason[256];
    int set;
};

void jinja_diag_set(struct jinja_diag *d, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tokenizes like @huggingface/jinja (HF preprocessing included). */
int jinja_lex(const char *tmpl, size_t len, struct jinja_arena *a, struct jinja_token **toks,
              size_t *ntoks, struct jinja_diag *d);

enum jinja_node_kind {
    JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SET_BLOCK, JN_BREAK, JN_CONTINUE, JN_MACRO, JN_FILTER_BLOCK,
    JN_LITERAL, JN_NAME, JN_ATTR, JN_INDEX, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST,
    JN_BINARY, JN_NOT, JN_NEG, JN_LIST, JN_DICT, JN_COND
};

struct jinja_node {
    enum jinja_node_kind kind;
    size_t pos;
    const char *name;        /* names, operators, attribute/filter/test names, text */
    size_t name_len;         /* for JN_TEXT */
    struct jinja_value *lit; /* JN_LITERAL (owned; freed with the tree) */
    struct jinja_node *a, *b, *c;
    struct jinja_node **list; /* body, args, items */
    size_t nlist;
    struct jinja_node **list2; /* else body, kwarg values, dict values */
    size_t nlist2;
    const char **names; /* kwarg names / loop targets */
    size_t nnames;
    int negate; /* JN_TEST: "is not" */
    struct jinja_node *next_lit; /* chain of literal nodes, to free values */
};

struct jinja_tree {
    struct jinja_node **body;
    size_t nbody;
    struct jinja_node *lits; /* literal chain */
};

int jinja_parse(const struct jinja_token *toks, size_t ntoks, struct jinja_arena *a,
                struct jinja_tree *tree, struct jinja_diag *d);
void jinja_tree_free(struct jinja_tree *tree);

int jinja_eval_tree(const struct jinja_tree *tree, const struct jinja_value *context,
                    struct jinja_buf *out, struct jinja_diag *d);

#endif
