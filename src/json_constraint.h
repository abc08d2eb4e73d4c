/* json_constraint.h — a pushdown recognizer of JSON objects (RFC 8259),
 * advanced one byte at a time, for constrained sampling (sampler.c).
 *
 * The state accepts exactly the prefixes of texts that are one JSON object,
 * optionally surrounded by whitespace, that src/json.c's strict parser also
 * accepts: strict UTF-8 in strings (no overlong forms, no surrogates encoded
 * in UTF-8, nothing above U+10FFFF), \u escapes with surrogates only in
 * pairs (a high one followed at once by an escaped low one), no control
 * characters in strings, no leading zeros, nesting at most JSONC_MAX_DEPTH
 * deep, no \u0000 in object keys. Outside strings, a run of consecutive
 * whitespace is at most JSONC_MAX_WS bytes, so a model cannot loop on
 * spaces: enough for compact or pretty-printed JSON a few levels deep.
 * The state is a small plain struct: copy it to try a token's bytes. */
#ifndef BIBIM_JSON_CONSTRAINT_H
#define BIBIM_JSON_CONSTRAINT_H

#include <stddef.h>
#include <stdint.h>

#define JSONC_MAX_WS 16
#define JSONC_MAX_DEPTH 128

typedef struct jsonc_state {
    uint64_t stack[JSONC_MAX_DEPTH / 64]; /* bit d set: the container at depth d+1 is an object */
    uint16_t depth;                       /* open containers */
    uint8_t mode;
    uint8_t sub;   /* literal: which and how far; \u escape: digits read */
    uint8_t flags; /* \u escape details; in an object key */
    uint8_t ws;    /* consecutive whitespace bytes so far */
    uint8_t u8_need, u8_lo, u8_hi; /* UTF-8 continuation bytes still due, range of the next one */
} jsonc_state;

void jsonc_init(jsonc_state *s);
/* Advances by one byte; 0 if the byte cannot follow (the state is then
 * unspecified: feed a copy when trying). */
int jsonc_byte(jsonc_state *s, uint8_t c);
/* Advances by n bytes; 0 at the first byte that cannot follow. */
int jsonc_feed(jsonc_state *s, const char *bytes, size_t n);
/* 1 once the top-level object is closed (only whitespace may follow). */
int jsonc_complete(const jsonc_state *s);

#endif
