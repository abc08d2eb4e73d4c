/* tokenizer.h — text to token ids and back, for the vocabularies of
 * llama.cpp's GGUF files: SentencePiece BPE with scores
 * (tokenizer.ggml.model "llama") and byte-level BPE with merges ("gpt2").
 * Both reproduce llama.cpp token for token. */
#ifndef BIBIM_TOKENIZER_H
#define BIBIM_TOKENIZER_H

#include "bibim.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tokenizer tokenizer;

/* Builds the tokenizer from the tokenizer.ggml.* metadata of an open GGUF
 * file; everything it needs is copied, so the file may be closed afterwards.
 * On failure returns a status, sets *out to NULL and writes a message naming
 * the key and what was wrong into errmsg.
 *
 * What the file may hold, and what happens when it is odd:
 *   - tokens: array of strings (required, at least one). Duplicates are an
 *     error (llama.cpp refuses them too). Empty strings are kept so that ids
 *     stay aligned, but are never produced by tokenizing and render as "".
 *   - scores (array of float32) and token_type (array of int32): optional;
 *     when present, one entry per token or it is an error. NaN scores count
 *     as -infinity. Unknown token types count as "undefined" (rendered as "").
 *   - merges ("gpt2" only, required): array of strings "left right". A merge
 *     whose left part, right part or concatenation is not a token, or with
 *     no space after its first character, is skipped (HF refuses such files;
 *     llama.cpp would apply it and then drop the result's bytes); a repeated
 *     merge keeps its first rank.
 *   - pre ("gpt2" only): "llama-bpe" (aliases "llama3", "llama-v3"),
 *     "gpt-2" (alias "phi-2"), "default" (also used when the key is absent,
 *     as llama.cpp does); any other value is an error naming it.
 *   - bos/eos/unknown/eot/eom_token_id: optional integers. A value outside
 *     the vocabulary is ignored (llama.cpp does the same), leaving the
 *     default: bos 1, eos 2, unk 0 for "llama", bos and eos 11 for "gpt2" (as
 *     llama.cpp), or none if that is outside the vocabulary too.
 *   - add_bos_token, add_eos_token, add_space_prefix: optional booleans.
 * Keys of the wrong type are errors. */
bibim_status tokenizer_load(bibim_gguf *gguf, tokenizer **out, char *errmsg, size_t errmsg_size);
/* The same with the tokenizer's memory, and that of encoding and decoding
 * with it, from `alloc` (copied): a model's tokenizer. */
bibim_status tokenizer_load_with(bibim_gguf *gguf, const bibim_allocator *alloc, tokenizer **out, char *errmsg,
                                 size_t errmsg_size);
void tokenizer_free(tokenizer *tok);

int32_t tokenizer_n_vocab(const tokenizer *tok);

/* Tokenizes `len` bytes of `text` with the semantics of bibim_tokenize:
 *   - BIBIM_TOKENIZE_ADD_BOS adds what llama.cpp's add_special adds: BOS
 *     first if the model says add_bos_token (default: true for "llama" and
 *     Llama 3's "llama-bpe", false otherwise), and EOS last if it says
 *     add_eos_token (default false).
 *   - Control and unknown-type tokens (<s>, <|eot_id|>, ...) are recognised
 *     in the text only with BIBIM_TOKENIZE_SPECIAL; user-defined tokens
 *     always are, as in llama.cpp and Hugging Face. Longer tokens are
 *     matched first.
 *   - Bytes that are not valid UTF-8 become byte tokens, one per byte.
 *   - A character the vocabulary cannot spell: SentencePiece uses its bytes'
 *     <0xNN> tokens, or the unknown token (once per character) if one is
 *     missing; byte-level BPE drops a byte that has no token, as llama.cpp
 *     does (real vocabularies have all 256).
 * Writes up to `capacity` tokens and the full count to *n_tokens;
 * BIBIM_ERR_TOO_SMALL if they did not fit; BIBIM_ERR_INVALID_ARG for a
 * text over 512 MiB (symbol indices are 32-bit); BIBIM_ERR_NOMEM. Read-only:
 * any number of threads may call it at once. */
bibim_status tokenizer_encode(const tokenizer *tok, const char *text, size_t len, unsigned flags, bibim_token *tokens,
                              int64_t capacity, int64_t *n_tokens);

/* The bytes of `token` (semantics of bibim_token_piece): SentencePiece's
 * "▁" becomes a space and <0xNN> its byte; byte-level BPE text is mapped
 * back to bytes; control and unknown-type tokens are "" unless
 * BIBIM_PIECE_SPECIAL; user-defined tokens are their text. Writes up to
 * `capacity` bytes and returns the full length, or -1 for an id out of
 * range. Read-only. */
int64_t tokenizer_piece(const tokenizer *tok, bibim_token token, unsigned flags, char *buf, size_t capacity);

/* The text of a token sequence (semantics of bibim_detokenize); -1 for an
 * id out of range, -2 when out of memory. */
int64_t tokenizer_decode(const tokenizer *tok, const bibim_token *tokens, int64_t n, unsigned flags, char *buf,
                         size_t capacity);

/* -1 if the model has none. */
bibim_token tokenizer_bos(const tokenizer *tok);
bibim_token tokenizer_eos(const tokenizer *tok);

/* 1 if `token` ends a turn: eos, eot, eom, and the tokens llama.cpp treats as
 * end of generation by their text (<|eot_id|>, <|im_end|>, <|endoftext|>, ...). */
int tokenizer_is_end(const tokenizer *tok, bibim_token token);

#endif
