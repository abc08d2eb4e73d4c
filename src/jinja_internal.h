/* Shared between the jinja_*.c files; see jinja.h for the API. */
#ifndef BIBIM_JINJA_INTERNAL_H
#define BIBIM_JINJA_INTERNAL_H

#include "jinja.h"

#include <stddef.h>

struct jinja_value {
    enum jinja_type type;
    size_t refs;
    /* JINJA_ARRAY: JV_TUPLE; JINJA_OBJECT: JV_NAMESPACE or JV_KWARGS; 0 otherwise */
    unsigned char sub;
    union {
        int b;
        double f; /* JINJA_INT and JINJA_FLOAT: numbers are JavaScript doubles, as in HF */
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
            int id;                   /* builtin function, method, macro or caller */
            struct jinja_value *self; /* bound object of a method, or NULL */
            const void *node;         /* JN_MACRO or JN_CALL_BLOCK node (tree-owned) */
            void *scope;              /* caller: the scope of its call block while it runs */
        } fn;
    } u;
};

enum { JV_TUPLE = 1, JV_NAMESPACE = 1, JV_KWARGS = 2 };

/* A growable byte buffer; a failed append sets oom (1: out of memory, 2: the
 * buffer would exceed limit) and further appends do nothing. limit 0: none. */
struct jinja_buf {
    char *p;
    size_t n, cap;
    int oom;
    size_t limit;
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
    JT_OP,     /* punctuation and operators: text holds it */
    JT_UNARY,  /* a sign where no operand precedes ("-" or "+"): never a binary operator */
    JT_COMMENT /* {# ... #}: only separates text (whitespace control stops at it) */
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
    /* statements */
    JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_BREAK, JN_CONTINUE, JN_MACRO, JN_FILTER_BLOCK,
    JN_CALL_BLOCK,
    /* expressions */
    JN_LITERAL, JN_NAME, JN_ATTR, JN_INDEX, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST, JN_BINARY, JN_NOT,
    JN_NEG, JN_POS, JN_LIST, JN_TUPLE, JN_DICT, JN_COND, JN_KWARG, JN_SPREAD, JN_KWSPREAD
};

/* Node fields by kind (unused ones are zero):
 *   TEXT       name/name_len: the text
 *   OUTPUT     a: expression
 *   IF         a: test; list: body; list2: else body (an elif is a nested IF)
 *   FOR        c: target (NAME or TUPLE); a: iterable; b: loop filter or NULL; list: body; list2: else
 *   SET        a: target expression; b: value, or NULL for a block (list: body)
 *   MACRO      name; list2: parameters (NAME or KWARG with its default); list: body
 *   FILTER_BLOCK b: a FILTER node without operand; list: body
 *   CALL_BLOCK a: the CALL; list2: caller parameters; list: body
 *   LITERAL    lit
 *   NAME       name
 *   ATTR       a: object; name: attribute (obj.name)
 *   INDEX      a: object; b: key (obj[key], and obj.0)
 *   SLICE      a: object; b, c, list[0]: start, stop, step (each may be NULL)
 *   CALL       a: callee; list: arguments (expressions, KWARG, SPREAD, KWSPREAD)
 *   FILTER     a: operand; name; flags JNF_CALL: called with (list); JNF_BAD: not a plain name
 *   TEST       a: operand; name; negate
 *   BINARY     name: operator; a, b
 *   NOT/NEG/POS a
 *   LIST/TUPLE list: items;  DICT list: keys, list2: values
 *   COND       a: value if true; b: condition; c: value if false, or NULL ("x if c")
 *   KWARG      name = a;  SPREAD *a;  KWSPREAD **a */
enum { JNF_CALL = 1, JNF_BAD = 2 };

struct jinja_node {
    enum jinja_node_kind kind;
    size_t pos;
    const char *name;        /* names, operators, attribute/filter/test names, text */
    size_t name_len;         /* for JN_TEXT */
    struct jinja_value *lit; /* JN_LITERAL (owned; freed with the tree) */
    struct jinja_node *a, *b, *c;
    struct jinja_node **list;
    size_t nlist;
    struct jinja_node **list2;
    size_t nlist2;
    int negate; /* JN_TEST: "is not" */
    int flags;  /* JN_FILTER: JNF_*; JN_MACRO/JN_CALL_BLOCK: bit 0 uses kwargs, bit 1 uses varargs */
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

/* Bounds of one render (see jinja_render_limited); both set. */
struct jinja_eval_limits {
    size_t max_bytes;
    unsigned long long max_steps;
};

int jinja_eval_tree(const struct jinja_tree *tree, const struct jinja_value *context,
                    const struct jinja_eval_limits *limits, struct jinja_buf *out, struct jinja_diag *d);

/* UTF-16 code units of the UTF-8 text s[0..n) (what JavaScript's length counts). */
size_t jinja_utf16_len(const char *s, size_t n);

#endif
