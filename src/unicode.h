/* unicode.h — what the tokenizers need from Unicode: UTF-8 decoding and
 * encoding, and the character classes of the pre-tokenizer patterns
 * (\p{L}, \p{N}, \p{P}, \s) from the tables in unicode_tables.c. */
#ifndef BIBIM_UNICODE_H
#define BIBIM_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Character classes; a code point may have none ("other"). */
enum {
    UNICODE_LETTER = 1,      /* General_Category L* */
    UNICODE_NUMBER = 2,      /* General_Category N* */
    UNICODE_PUNCTUATION = 4, /* General_Category P* */
    UNICODE_WHITESPACE = 8   /* the White_Space property (what \s means in Rust and Python regexes) */
};

/* Stands for one byte that is not part of a valid UTF-8 sequence. It has no
 * class, so the pre-tokenizers treat it like a symbol (as U+FFFD would be),
 * but the byte itself is kept: byte-level BPE encodes it as its own byte and
 * SentencePiece falls back to its <0xNN> token. Nothing is lost. */
#define UNICODE_INVALID 0xFFFFFFFFu

/* The length (1..4) of the valid UTF-8 sequence at s[0..n); 0 if s[0..n)
 * is the start of a valid sequence cut short (more bytes may complete it;
 * also for n == 0); -1 if the bytes cannot begin a valid sequence
 * (truncated or not, overlong, a surrogate, above U+10FFFF, a bad
 * continuation byte). The library's one UTF-8 rule; bibim_utf8_valid
 * applies it to a whole text. */
int unicode_utf8_sequence(const char *s, size_t n);

/* Decodes the character at s[0..len) (len >= 1) and sets *n_bytes to its
 * length. A sequence that is truncated, overlong, a surrogate, above
 * U+10FFFF or has a bad continuation byte is not a character: its first byte
 * alone is returned as UNICODE_INVALID with *n_bytes = 1, and decoding goes
 * on at the next byte. */
uint32_t unicode_decode_utf8(const char *s, size_t len, size_t *n_bytes);

/* Writes the UTF-8 form of `cp` (a code point <= U+10FFFF) to out, which has
 * room for 4 bytes; returns its length. */
size_t unicode_encode_utf8(uint32_t cp, char *out);

/* The UNICODE_* classes of `cp`; 0 for unassigned code points and UNICODE_INVALID. */
unsigned unicode_flags(uint32_t cp);

/* The generated tables (unicode_tables.c). Range i covers the code points
 * from unicode_ranges[i].first up to the next range's first. */
typedef struct unicode_range {
    uint32_t first;
    uint32_t flags;
} unicode_range;

extern const unicode_range unicode_ranges[];
extern const size_t unicode_ranges_count;

#endif
