/* Jinja lexer: @huggingface/jinja's preprocessing (final newline dropped,
 * lstrip_blocks, trim_blocks, {% generation %} tags removed) and tokens. */
#include "jinja_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int jinja_is_digit(char c) { return c >= '0' && c <= '9'; }

static int jinja_is_word(char c)
{
    return jinja_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A text with, for each byte, its offset in the original template. */
struct jinja_src {
    char *s;
    size_t *pos;
    size_t n;
};

static int jinja_src_init(struct jinja_src *o, size_t cap)
{
    o->n = 0;
    o->s = malloc(cap + 1);
    o->pos = cap < SIZE_MAX / sizeof(size_t) - 1 ? malloc((cap + 1) * sizeof(size_t)) : NULL;
    if (!o->s || !o->pos) {
        free(o->s);
        free(o->pos);
        return -1;
    }
    return 0;
}

static void jinja_src_free(struct jinja_src *o)
{
    free(o->s);
    free(o->pos);
}

/* Where JavaScript's multiline ^ matches: the start, and after \n, \r, U+2028, U+2029. */
static int jinja_line_start(const struct jinja_src *in, size_t i)
{
    if (i == 0)
        return 1;
    char c = in->s[i - 1];
    return c == '\n' || c == '\r' ||
           (i >= 3 && (unsigned char)in->s[i - 3] == 0xE2 && (unsigned char)in->s[i - 2] == 0x80 &&
            ((unsigned char)c == 0xA8 || (unsigned char)c == 0xA9));
}

/* lstrip_blocks: /^[ \t]*({[#%-])/gm -> "$1" */
static void jinja_pass_lstrip(const struct jinja_src *in, struct jinja_src *o)
{
    for (size_t i = 0; i < in->n;) {
        if (jinja_line_start(in, i)) {
            size_t j = i;
            while (j < in->n && (in->s[j] == ' ' || in->s[j] == '\t'))
                j++;
            if (j + 1 < in->n && in->s[j] == '{' &&
                (in->s[j + 1] == '#' || in->s[j + 1] == '%' || in->s[j + 1] == '-'))
                i = j;
        }
        /* copy up to the next line start */
        do {
            o->s[o->n] = in->s[i];
            o->pos[o->n++] = in->pos[i];
            i++;
        } while (i < in->n && !jinja_line_start(in, i));
    }
}

/* trim_blocks: /([#%-]})\n/g -> "$1" */
static void jinja_pass_trim(const struct jinja_src *in, struct jinja_src *o)
{
    for (size_t i = 0; i < in->n; i++) {
        o->s[o->n] = in->s[i];
        o->pos[o->n++] = in->pos[i];
        if (in->s[i] == '}' && i > 0 && i + 1 < in->n && in->s[i + 1] == '\n' &&
            (in->s[i - 1] == '#' || in->s[i - 1] == '%' || in->s[i - 1] == '-'))
            i++;
    }
}

/* /(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/gs -> "$1$4" less what the
 * dashes strip; \s is JavaScript's (Unicode) whitespace. */
static void jinja_pass_generation(const struct jinja_src *in, struct jinja_src *o)
{
    size_t i = 0, floor = 0; /* output before floor belongs to an earlier match */
    while (i < in->n) {
        if (in->s[i] == '{' && i + 1 < in->n && in->s[i + 1] == '%') {
            size_t j = i + 2, l;
            int lstrip = 0, rstrip = 0;
            if (j < in->n && in->s[j] == '-') {
                lstrip = 1;
                j++;
            }
            while ((l = jinja_space_at(in->s, in->n, j)) > 0)
                j += l;
            if (j + 13 <= in->n && memcmp(in->s + j, "endgeneration", 13) == 0)
                j += 3;
            if (j + 10 <= in->n && memcmp(in->s + j, "generation", 10) == 0) {
                j += 10;
                while ((l = jinja_space_at(in->s, in->n, j)) > 0)
                    j += l;
                if (j < in->n && in->s[j] == '-') {
                    rstrip = 1;
                    j++;
                }
                if (j + 1 < in->n && in->s[j] == '%' && in->s[j + 1] == '}') {
                    j += 2;
                    if (lstrip)
                        while (o->n > floor && (l = jinja_space_before(o->s, o->n)) > 0 && o->n - l >= floor)
                            o->n -= l;
                    while ((l = jinja_space_at(in->s, in->n, j)) > 0) {
                        if (!rstrip)
                            for (size_t k = 0; k < l; k++) {
                                o->s[o->n] = in->s[j + k];
                                o->pos[o->n++] = in->pos[j + k];
                            }
                        j += l;
                    }
                    floor = o->n;
                    i = j;
                    continue;
                }
            }
        }
        o->s[o->n] = in->s[i];
        o->pos[o->n++] = in->pos[i];
        i++;
    }
}

static const char *const jinja_ops[] = {
    "(", ")", "{", "}", "[", "]", ",", ".", ":", "|", "<=", ">=", "==", "!=", "<", ">",
    "+", "-", "~", "**", "*", "//", "/", "%", "=", NULL,
};

struct jinja_lexer {
    struct jinja_arena *a;
    struct jinja_token *toks;
    size_t n, cap;
    struct jinja_diag *d;
};

static struct jinja_token *jinja_push(struct jinja_lexer *L, enum jinja_tok t, const char *s,
                                      size_t len, size_t pos)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 64;
        struct jinja_token *p = cap < SIZE_MAX / sizeof *p ? realloc(L->toks, cap * sizeof *p) : NULL;
        if (!p) {
            jinja_diag_set(L->d, pos, "out of memory");
            return NULL;
        }
        L->toks = p;
        L->cap = cap;
    }
    struct jinja_token *tk = &L->toks[L->n];
    tk->type = t;
    tk->text = jinja_arena_strndup(L->a, s, len);
    tk->len = len;
    tk->pos = pos;
    if (!tk->text) {
        jinja_diag_set(L->d, pos, "out of memory");
        return NULL;
    }
    L->n++;
    return tk;
}

/* Strips trailing whitespace of a preceding text token (dropping it if empty). */
static void jinja_strip_prev(struct jinja_lexer *L)
{
    if (L->n && L->toks[L->n - 1].type == JT_TEXT) {
        struct jinja_token *t = &L->toks[L->n - 1];
        size_t l;
        while ((l = jinja_space_before(t->text, t->len)) > 0)
            t->len -= l;
        if (t->len == 0)
            L->n--;
    }
}

static void jinja_utf8_put(struct jinja_buf *b, unsigned cp)
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
    } else if (cp < 0x10000) { /* lone surrogates too, in their 3-byte form */
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

/* A string literal at s[*i] (the quote); the value goes to b. */
static int jinja_lex_string(struct jinja_lexer *L, const struct jinja_src *S, size_t *ip, struct jinja_buf *b)
{
    const char *s = S->s;
    size_t n = S->n, i = *ip, at = i;
    char q = s[i++];
    unsigned pending_hi = 0; /* a \uD800-\uDBFF escape waiting for its low half */
#define LPOS(k) ((k) < n ? S->pos[k] : (n ? S->pos[n - 1] + 1 : 0))
    while (i < n && s[i] != q) {
        unsigned cp;
        if (s[i] == '\\') {
            if (++i >= n)
                break;
            char e = s[i++];
            if (e == 'x' || e == 'u') {
                size_t hl = e == 'x' ? 2 : 4;
                cp = 0;
                for (size_t h = 0; h < hl; h++) {
                    char c = i + h < n ? s[i + h] : 0;
                    int dv = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                    if (dv < 0) {
                        jinja_diag_set(L->d, LPOS(i - 2), "invalid hexadecimal escape sequence");
                        return -1;
                    }
                    cp = cp * 16 + (unsigned)dv;
                }
                i += hl;
            } else {
                switch (e) {
                case 'n': cp = '\n'; break;
                case 't': cp = '\t'; break;
                case 'r': cp = '\r'; break;
                case 'b': cp = '\b'; break;
                case 'f': cp = '\f'; break;
                case 'v': cp = '\v'; break;
                case '\'': cp = '\''; break;
                case '"': cp = '"'; break;
                case '\\': cp = '\\'; break;
                default:
                    jinja_diag_set(L->d, LPOS(i - 2), "unsupported escape sequence \\%c", e);
                    return -1;
                }
            }
            /* UTF-16 units: a high surrogate followed by a low one is one character */
            if (pending_hi && cp >= 0xDC00 && cp < 0xE000) {
                jinja_utf8_put(b, 0x10000 + ((pending_hi - 0xD800) << 10) + (cp - 0xDC00));
                pending_hi = 0;
                continue;
            }
            if (pending_hi)
                jinja_utf8_put(b, pending_hi);
            pending_hi = 0;
            if (cp >= 0xD800 && cp < 0xDC00) {
                pending_hi = cp;
                continue;
            }
            jinja_utf8_put(b, cp);
            continue;
        }
        if (pending_hi)
            jinja_utf8_put(b, pending_hi);
        pending_hi = 0;
        jinja_buf_addc(b, s[i++]);
    }
    if (pending_hi)
        jinja_utf8_put(b, pending_hi);
    if (i >= n) {
        jinja_diag_set(L->d, LPOS(at), "unterminated string literal");
        return -1;
    }
#undef LPOS
    *ip = i + 1;
    return 0;
}

static int jinja_tokenize(struct jinja_lexer *L, const struct jinja_src *S)
{
    const char *s = S->s;
    size_t n = S->n, i = 0, l;
    int in_tag = 0, curly = 0;
#define POS(k) ((k) < n ? S->pos[k] : (n ? S->pos[n - 1] + 1 : 0))
    while (i < n) {
        if (!in_tag) {
            size_t st = i;
            while (i < n && !(s[i] == '{' && i + 1 < n && (s[i + 1] == '%' || s[i + 1] == '{' || s[i + 1] == '#')))
                i++;
            if (i > st) {
                if (!jinja_push(L, JT_TEXT, s + st, i - st, POS(st)))
                    return -1;
                continue;
            }
        }
        if (s[i] == '{' && i + 1 < n && s[i + 1] == '#') {
            size_t st = i;
            i += 2;
            int strip_before = i < n && s[i] == '-';
            if (strip_before)
                i++;
            size_t cst = i;
            while (!(i + 1 < n && s[i] == '#' && s[i + 1] == '}')) {
                if (i + 2 >= n) {
                    jinja_diag_set(L->d, POS(st), "missing end of comment tag");
                    return -1;
                }
                i++;
            }
            int strip_after = i > cst && s[i - 1] == '-';
            if (strip_before)
                jinja_strip_prev(L);
            if (!jinja_push(L, JT_COMMENT, "", 0, POS(st)))
                return -1;
            i += 2;
            if (strip_after)
                while ((l = jinja_space_at(s, n, i)) > 0)
                    i += l;
            in_tag = 0;
            continue;
        }
        if (i + 2 < n && s[i] == '{' && (s[i + 1] == '%' || s[i + 1] == '{') && s[i + 2] == '-') {
            jinja_strip_prev(L);
            if (!jinja_push(L, s[i + 1] == '%' ? JT_OPEN_STMT : JT_OPEN_EXPR, s + i, 2, POS(i)))
                return -1;
            if (s[i + 1] == '{')
                curly = 0;
            in_tag = 1;
            i += 3;
            continue;
        }
        while ((l = jinja_space_at(s, n, i)) > 0)
            i += l;
        if (i >= n)
            break;
        if (i + 2 < n && s[i] == '-' && (s[i + 1] == '%' || s[i + 1] == '}') && s[i + 2] == '}') {
            if (!jinja_push(L, s[i + 1] == '%' ? JT_CLOSE_STMT : JT_CLOSE_EXPR, s + i + 1, 2, POS(i)))
                return -1;
            i += 3;
            while ((l = jinja_space_at(s, n, i)) > 0)
                i += l;
            in_tag = 0;
            continue;
        }
        size_t at = i;
        if ((s[i] == '-' || s[i] == '+') && in_tag) {
            /* after an operand it is a binary operator; otherwise a sign,
             * which digits right after turn into a signed number */
            const struct jinja_token *prev = &L->toks[L->n - 1];
            int binary = prev->type == JT_NAME || prev->type == JT_INT || prev->type == JT_FLOAT ||
                         prev->type == JT_STRING || (prev->type == JT_OP && (!strcmp(prev->text, ")") || !strcmp(prev->text, "]")));
            if (!binary) {
                i++;
                size_t ds = i;
                while (i < n && jinja_is_digit(s[i]))
                    i++;
                enum jinja_tok t = JT_INT;
                if (i > ds && i + 1 < n && s[i] == '.' && jinja_is_digit(s[i + 1])) {
                    i++;
                    while (i < n && jinja_is_digit(s[i]))
                        i++;
                    t = JT_FLOAT;
                }
                if (!jinja_push(L, i > ds ? t : JT_UNARY, s + at, i - at, POS(at)))
                    return -1;
                continue;
            }
        }
        if (s[i] == '{' && i + 1 < n && (s[i + 1] == '%' || s[i + 1] == '{')) {
            if (!jinja_push(L, s[i + 1] == '%' ? JT_OPEN_STMT : JT_OPEN_EXPR, s + i, 2, POS(i)))
                return -1;
            if (s[i + 1] == '{')
                curly = 0;
            i += 2;
            in_tag = 1;
            continue;
        }
        if (s[i] == '%' && i + 1 < n && s[i + 1] == '}') {
            if (!jinja_push(L, JT_CLOSE_STMT, s + i, 2, POS(i)))
                return -1;
            i += 2;
            in_tag = 0;
            continue;
        }
        if (s[i] == '}' && i + 1 < n && s[i + 1] == '}' && curly == 0) {
            if (!jinja_push(L, JT_CLOSE_EXPR, s + i, 2, POS(i)))
                return -1;
            i += 2;
            in_tag = 0;
            continue;
        }
        if (!in_tag) {
            jinja_diag_set(L->d, POS(i), "unexpected character");
            return -1;
        }
        int matched = 0;
        for (int k = 0; jinja_ops[k]; k++) {
            size_t ol = strlen(jinja_ops[k]);
            if (i + ol <= n && memcmp(s + i, jinja_ops[k], ol) == 0) {
                if (!jinja_push(L, JT_OP, s + i, ol, POS(i)))
                    return -1;
                if (s[i] == '{')
                    curly++;
                else if (s[i] == '}')
                    curly--;
                i += ol;
                matched = 1;
                break;
            }
        }
        if (matched)
            continue;
        if (s[i] == '\'' || s[i] == '"') {
            struct jinja_buf b = {0};
            int rc = jinja_lex_string(L, S, &i, &b);
            int ok = rc == 0 && !b.oom && jinja_push(L, JT_STRING, b.p ? b.p : "", b.n, POS(at));
            free(b.p);
            if (!ok) {
                jinja_diag_set(L->d, POS(at), "out of memory");
                return -1;
            }
            continue;
        }
        if (jinja_is_digit(s[i])) {
            while (i < n && jinja_is_digit(s[i]))
                i++;
            enum jinja_tok t = JT_INT;
            if ((L->n == 0 || strcmp(L->toks[L->n - 1].text, ".") != 0 || L->toks[L->n - 1].type != JT_OP) &&
                i + 1 < n && s[i] == '.' && jinja_is_digit(s[i + 1])) {
                i++;
                while (i < n && jinja_is_digit(s[i]))
                    i++;
                t = JT_FLOAT;
            }
            if (!jinja_push(L, t, s + at, i - at, POS(at)))
                return -1;
            continue;
        }
        if (jinja_is_word(s[i])) {
            while (i < n && jinja_is_word(s[i]))
                i++;
            if (!jinja_push(L, JT_NAME, s + at, i - at, POS(at)))
                return -1;
            continue;
        }
        jinja_diag_set(L->d, POS(i), "unexpected character '%c'", s[i]);
        return -1;
    }
#undef POS
    return jinja_push(L, JT_EOF, "", 0, n ? S->pos[n - 1] + 1 : 0) ? 0 : -1;
}

int jinja_lex(const char *tmpl, size_t len, struct jinja_arena *a, struct jinja_token **toks,
              size_t *ntoks, struct jinja_diag *d)
{
    struct jinja_src s0, s1;
    *toks = NULL;
    *ntoks = 0;
    if (jinja_src_init(&s0, len) != 0) {
        jinja_diag_set(d, 0, "out of memory");
        return -1;
    }
    if (len)
        memcpy(s0.s, tmpl, len);
    for (size_t i = 0; i < len; i++)
        s0.pos[i] = i;
    s0.n = len;
    if (s0.n && s0.s[s0.n - 1] == '\n')
        s0.n--;
    if (jinja_src_init(&s1, len) != 0) {
        jinja_src_free(&s0);
        jinja_diag_set(d, 0, "out of memory");
        return -1;
    }
    jinja_pass_lstrip(&s0, &s1);
    s0.n = 0;
    jinja_pass_trim(&s1, &s0);
    s1.n = 0;
    jinja_pass_generation(&s0, &s1);
    struct jinja_lexer L = {a, NULL, 0, 0, d};
    int rc = jinja_tokenize(&L, &s1);
    jinja_src_free(&s0);
    jinja_src_free(&s1);
    if (rc != 0) {
        free(L.toks);
        return -1;
    }
    /* copy into the arena so the caller has nothing to free */
    *toks = jinja_arena_alloc(a, L.n * sizeof **toks);
    if (!*toks) {
        free(L.toks);
        jinja_diag_set(d, 0, "out of memory");
        return -1;
    }
    memcpy(*toks, L.toks, L.n * sizeof **toks);
    *ntoks = L.n;
    free(L.toks);
    return 0;
}
