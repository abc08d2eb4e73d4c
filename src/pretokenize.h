/* pretokenize.h — the pre-tokenizers of byte-level BPE: split text into the
 * words that BPE then merges within, as the regex patterns of the reference
 * tokenizers do, with hand-written matchers over code points. */
#ifndef BIBIM_PRETOKENIZE_H
#define BIBIM_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

typedef enum pretok_kind {
    /* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    PRETOK_GPT2,
    /* Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
     *          | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    PRETOK_LLAMA3,
    /* llama.cpp's "default" for BPE vocabularies (old files without
     * tokenizer.ggml.pre): four patterns applied in turn, each splitting the
     * words of the one before: [\p{P}\$\+<=>\^~\|]+, then GPT-2's, then
     * \p{N}+, then [0-9][0-9][0-9]. */
    PRETOK_DEFAULT
} pretok_kind;

/* The text to split: n code points (UNICODE_INVALID for a byte that is not
 * valid UTF-8) and the UNICODE_* flags of each. */
typedef struct pretok_text {
    const uint32_t *cps;
    const uint8_t *flags;
    size_t n;
} pretok_text;

/* Splits the text into words: the pattern's matches, found left to right,
 * and any text between matches (HF's "Isolated" behaviour). Lookaheads see
 * only this text. Writes the end index of each word, increasing, the last
 * being n, to `ends` (room for n entries) and returns the number of words. */
size_t pretokenize(pretok_kind kind, const pretok_text *text, size_t *ends);

#endif
