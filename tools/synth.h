/* synth.h — the tokenizer half of `bibim synth`: a vocabulary, either made up
 * (byte-level BPE as Llama 3 uses) or imported from a Hugging Face
 * tokenizer.json, ready to be written as llama.cpp's tokenizer.* keys. */
#ifndef BIBIM_SYNTH_H
#define BIBIM_SYNTH_H

#include "bibim.h"

#include <stddef.h>
#include <stdint.h>

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum {
    SYNTH_TOKEN_NORMAL = 1,
    SYNTH_TOKEN_UNKNOWN = 2,
    SYNTH_TOKEN_CONTROL = 3,
    SYNTH_TOKEN_USER_DEFINED = 4,
    SYNTH_TOKEN_BYTE = 6
};

typedef struct synth_template {
    const char *name; /* NULL for tokenizer.chat_template, else tokenizer.chat_template.<name> */
    const char *text;
} synth_template;

typedef struct synth_vocab_storage synth_vocab_storage;

/* Every pointer points into `storage`, which the vocabulary owns. */
typedef struct synth_vocab {
    const char *model; /* tokenizer.ggml.model: "gpt2" or "llama" */
    const char *pre;   /* tokenizer.ggml.pre */
    int64_t n_tokens;
    bibim_str *tokens;    /* indexed by token id */
    int32_t *token_types; /* SYNTH_TOKEN_*, indexed by token id */
    float *scores;        /* NULL: no tokenizer.ggml.scores */
    int has_merges;       /* 0: no tokenizer.ggml.merges key (SentencePiece) */
    int64_t n_merges;
    bibim_str *merges; /* "left right" */
    int64_t bos_id, eos_id, eot_id, unk_id; /* -1: key not written */
    int add_bos, add_eos;                   /* -1: key not written */
    int n_templates;
    synth_template *templates;
    synth_vocab_storage *storage;
} synth_vocab;

/* The made-up vocabulary, padded with reserved control tokens to exactly
 * `n_tokens` ids. 0 on success; else -1 with a message in `err`. */
int synth_vocab_default(synth_vocab *vocab, int64_t n_tokens, char *err, size_t err_size);

/* Imports `tokenizer_json` and the tokenizer_config.json beside it (notes and
 * warnings go to stderr). 0 on success; else -1 with a message in `err` that
 * names the file and what was wrong. */
int synth_vocab_import(synth_vocab *vocab, const char *tokenizer_json, char *err, size_t err_size);

/* Sets the tokenizer.* keys on `w`, in a fixed order. */
bibim_status synth_vocab_write(const synth_vocab *vocab, bibim_gguf_writer *w);

/* Releases everything; accepts a zeroed or half-built vocabulary. */
void synth_vocab_free(synth_vocab *vocab);

#endif
