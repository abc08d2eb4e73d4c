/* json_constraint.c — the byte-by-byte JSON object recognizer of
 * json_constraint.h. */
#include "json_constraint.h"

#include <string.h>

enum {
    M_START,     /* before the top-level '{' */
    M_OBJ_FIRST, /* after '{': a key or '}' */
    M_OBJ_KEY,   /* after ',' in an object: a key */
    M_COLON,     /* after a key */
    M_VALUE,     /* after ':' or ',' in an array: a value */
    M_ARR_FIRST, /* after '[': a value or ']' */
    M_AFTER,     /* after a value inside a container: ',' or its closing bracket */
    M_DONE,      /* the top-level object is closed */
    M_STR,       /* in a string */
    M_ESC,       /* after a backslash */
    M_HEX,       /* in the four digits of \u */
    M_LOW_BS,    /* after a high surrogate's \uXXXX: the '\' of its low one */
    M_LOW_U,     /* ... its 'u' */
    M_UTF8,      /* in a multi-byte UTF-8 sequence */
    M_MINUS,     /* after a number's '-' */
    M_ZERO,      /* after a leading 0 */
    M_INT,       /* in the digits of the integer part (not a leading 0) */
    M_DOT,       /* after '.' */
    M_FRAC,      /* in the fraction's digits */
    M_E,         /* after 'e' or 'E' */
    M_ESIGN,     /* after the exponent's sign */
    M_EXP,       /* in the exponent's digits */
    M_LIT        /* in true, false or null */
};

enum {
    F_KEY = 1,  /* the string is an object key */
    F_LOW = 2,  /* the \u escape must be a low surrogate (DC00..DFFF) */
    F_D = 4,    /* its first digit was D */
    F_HIGH = 8, /* it is a high surrogate (D800..DBFF) */
    F_NZ = 16   /* a digit so far was not 0 */
};

static const char *const literals[3] = {"true", "false", "null"};

void jsonc_init(jsonc_state *s) { memset(s, 0, sizeof *s); }

int jsonc_complete(const jsonc_state *s) { return s->mode == M_DONE; }

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A container, a string or a literal just ended. */
static void value_done(jsonc_state *s) { s->mode = s->depth == 0 ? M_DONE : M_AFTER; }

static int in_object(const jsonc_state *s) {
    int d = s->depth - 1;
    return (int)((s->stack[d / 64] >> (d % 64)) & 1);
}

static int push(jsonc_state *s, int object) {
    if (s->depth >= JSONC_MAX_DEPTH) return 0;
    int d = s->depth++;
    if (object) s->stack[d / 64] |= (uint64_t)1 << (d % 64);
    else s->stack[d / 64] &= ~((uint64_t)1 << (d % 64));
    s->mode = object ? M_OBJ_FIRST : M_ARR_FIRST;
    return 1;
}

static int pop(jsonc_state *s, uint8_t c) {
    if (s->depth == 0 || in_object(s) != (c == '}')) return 0;
    s->depth--;
    value_done(s);
    return 1;
}

/* The first byte of a value (not whitespace). */
static int value_start(jsonc_state *s, uint8_t c) {
    switch (c) {
    case '{': return push(s, 1);
    case '[': return push(s, 0);
    case '"': s->mode = M_STR, s->flags = 0; return 1;
    case '-': s->mode = M_MINUS; return 1;
    case '0': s->mode = M_ZERO; return 1;
    case 't': s->mode = M_LIT, s->sub = 0 << 4 | 1; return 1;
    case 'f': s->mode = M_LIT, s->sub = 1 << 4 | 1; return 1;
    case 'n': s->mode = M_LIT, s->sub = 2 << 4 | 1; return 1;
    default:
        if (c >= '1' && c <= '9') {
            s->mode = M_INT;
            return 1;
        }
        return 0;
    }
}

/* A byte inside a string (after the opening quote). */
static int string_byte(jsonc_state *s, uint8_t c) {
    if (c == '"') {
        if (s->flags & F_KEY) s->mode = M_COLON;
        else value_done(s);
        return 1;
    }
    if (c == '\\') {
        s->mode = M_ESC;
        return 1;
    }
    if (c < 0x20) return 0;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) s->u8_need = 1, s->u8_lo = 0x80, s->u8_hi = 0xBF;
    else if (c == 0xE0) s->u8_need = 2, s->u8_lo = 0xA0, s->u8_hi = 0xBF;
    else if (c == 0xED) s->u8_need = 2, s->u8_lo = 0x80, s->u8_hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) s->u8_need = 2, s->u8_lo = 0x80, s->u8_hi = 0xBF;
    else if (c == 0xF0) s->u8_need = 3, s->u8_lo = 0x90, s->u8_hi = 0xBF;
    else if (c >= 0xF1 && c <= 0xF3) s->u8_need = 3, s->u8_lo = 0x80, s->u8_hi = 0xBF;
    else if (c == 0xF4) s->u8_need = 3, s->u8_lo = 0x80, s->u8_hi = 0x8F;
    else return 0;
    s->mode = M_UTF8;
    return 1;
}

static int hex_byte(jsonc_state *s, uint8_t c) {
    int v = hex_value(c);
    if (v < 0) return 0;
    if (v) s->flags |= F_NZ;
    switch (s->sub) {
    case 0:
        if (v == 0xD) s->flags |= F_D;
        else if (s->flags & F_LOW) return 0;
        break;
    case 1:
        if (s->flags & F_LOW) {
            if (v < 0xC) return 0;
        } else if (s->flags & F_D) {
            if (v >= 0xC) return 0; /* a lone low surrogate */
            if (v >= 0x8) s->flags |= F_HIGH;
        }
        break;
    case 3:
        if ((s->flags & F_KEY) && !(s->flags & F_NZ)) return 0; /* \u0000 in a key: src/json.c refuses it */
        s->mode = (s->flags & F_HIGH) ? M_LOW_BS : M_STR;
        s->flags &= F_KEY;
        return 1;
    }
    s->sub++;
    return 1;
}

int jsonc_byte(jsonc_state *s, uint8_t c) {
    switch (s->mode) {
    case M_STR: return string_byte(s, c);
    case M_ESC:
        if (c == 'u') {
            s->mode = M_HEX, s->sub = 0, s->flags &= F_KEY;
            return 1;
        }
        if (!strchr("\"\\/bfnrt", c) || c == 0) return 0;
        s->mode = M_STR;
        return 1;
    case M_HEX: return hex_byte(s, c);
    case M_LOW_BS:
        if (c != '\\') return 0;
        s->mode = M_LOW_U;
        return 1;
    case M_LOW_U:
        if (c != 'u') return 0;
        s->mode = M_HEX, s->sub = 0, s->flags = (uint8_t)((s->flags & F_KEY) | F_LOW);
        return 1;
    case M_UTF8:
        if (c < s->u8_lo || c > s->u8_hi) return 0;
        s->u8_lo = 0x80, s->u8_hi = 0xBF;
        if (--s->u8_need == 0) s->mode = M_STR;
        return 1;
    case M_LIT: {
        const char *lit = literals[s->sub >> 4];
        int pos = s->sub & 15;
        if (c != (uint8_t)lit[pos]) return 0;
        if (lit[pos + 1] == 0) value_done(s);
        else s->sub++;
        return 1;
    }
    case M_MINUS:
        if (c == '0') s->mode = M_ZERO;
        else if (c >= '1' && c <= '9') s->mode = M_INT;
        else return 0;
        return 1;
    case M_DOT:
        if (c < '0' || c > '9') return 0;
        s->mode = M_FRAC;
        return 1;
    case M_E:
        if (c == '+' || c == '-') s->mode = M_ESIGN;
        else if (c >= '0' && c <= '9') s->mode = M_EXP;
        else return 0;
        return 1;
    case M_ESIGN:
        if (c < '0' || c > '9') return 0;
        s->mode = M_EXP;
        return 1;
    case M_ZERO:
    case M_INT:
    case M_FRAC:
    case M_EXP:
        if (c >= '0' && c <= '9' && s->mode != M_ZERO) return 1;
        if (c == '.' && s->mode != M_FRAC && s->mode != M_EXP) {
            s->mode = M_DOT;
            return 1;
        }
        if ((c == 'e' || c == 'E') && s->mode != M_EXP) {
            s->mode = M_E;
            return 1;
        }
        if (c >= '0' && c <= '9') return 0; /* a leading zero */
        s->mode = M_AFTER;                  /* the number ended (never at the top level): the byte follows it */
        return jsonc_byte(s, c);
    default: break;
    }
    /* Structural modes: whitespace may come between tokens, bounded. */
    if (is_ws(c)) {
        if (s->ws >= JSONC_MAX_WS) return 0;
        s->ws++;
        return 1;
    }
    s->ws = 0;
    switch (s->mode) {
    case M_START: return c == '{' && push(s, 1);
    case M_OBJ_FIRST:
        if (c == '}') return pop(s, c);
        /* fall through */
    case M_OBJ_KEY:
        if (c != '"') return 0;
        s->mode = M_STR, s->flags = F_KEY;
        return 1;
    case M_COLON:
        if (c != ':') return 0;
        s->mode = M_VALUE;
        return 1;
    case M_ARR_FIRST:
        if (c == ']') return pop(s, c);
        /* fall through */
    case M_VALUE: return value_start(s, c);
    case M_AFTER:
        if (c == ',') {
            s->mode = in_object(s) ? M_OBJ_KEY : M_VALUE;
            return 1;
        }
        if (c == '}' || c == ']') return pop(s, c);
        return 0;
    default: return 0; /* M_DONE: only whitespace */
    }
}

int jsonc_feed(jsonc_state *s, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!jsonc_byte(s, (uint8_t)bytes[i])) return 0;
    return 1;
}
