/* tokenizer_internal.h — what tokenizer.c, tokenizer_spm.c and
 * tokenizer_bpe.c share; the rest of the library sees only tokenizer.h. */
#ifndef BIBIM_TOKENIZER_INTERNAL_H
#define BIBIM_TOKENIZER_INTERNAL_H

#include "pretokenize.h"
#include "tokenizer.h"

/* ------------------------------------------------------------------------ */
/* Internals shared by tokenizer.c, tokenizer_spm.c and tokenizer_bpe.c     */
/* ------------------------------------------------------------------------ */

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum {
    TOKEN_TYPE_UNDEFINED = 0,
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_UNKNOWN = 2,
    TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4,
    TOKEN_TYPE_UNUSED = 5,
    TOKEN_TYPE_BYTE = 6
};

typedef enum tokenizer_kind { TOKENIZER_SPM, TOKENIZER_BPE } tokenizer_kind;

/* Open-addressing hash table from token text to id. */
typedef struct token_index {
    int32_t *slots; /* token id, or -1 for an empty slot */
    uint64_t mask;  /* number of slots - 1 (a power of two minus one) */
} token_index;

/* A BPE merge: (left, right) -> result, with its rank (lower merges first). */
typedef struct bpe_merge {
    uint64_t pair; /* left id << 32 | right id; UINT64_MAX for an empty slot */
    int32_t rank;
    int32_t result;
} bpe_merge;

struct tokenizer {
    bibim_allocator alloc; /* for the tables below and the scratch of encode and decode calls */
    tokenizer_kind kind;
    pretok_kind pre; /* BPE only */
    int32_t n_vocab;
    char *text;        /* every token's text, back to back */
    uint64_t *offsets; /* token i is text[offsets[i] .. offsets[i + 1]) */
    float *scores;     /* SPM merge priority (higher first) */
    uint8_t *types;    /* TOKEN_TYPE_* */
    uint8_t *is_end;   /* 1 for end-of-generation tokens */
    token_index index;
    bpe_merge *merges; /* BPE: hash table keyed by pair */
    uint64_t merges_mask;
    int32_t *specials; /* ids recognised in text before tokenizing, longest text first */
    int32_t n_specials;
    int32_t byte_tokens[256]; /* SPM: <0xNN> (or the byte itself as a token); BPE: the byte's character; -1: none */
    bibim_token bos, eos, unk;
    int add_bos, add_eos, add_space_prefix;
    int ignore_merges;  /* BPE: a word that is a token is not merged (Llama 3) */
    uint64_t hash_seed; /* random per tokenizer, so a crafted vocabulary cannot make its tables collide */
};

/* A 64-bit mixing function (the splitmix64 finalizer). */
static inline uint64_t hash_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The text of token `id` (in range). */
static inline const char *token_text(const tokenizer *tok, int32_t id, size_t *len) {
    *len = (size_t)(tok->offsets[id + 1] - tok->offsets[id]);
    return tok->text + tok->offsets[id];
}

/* The id of the token whose text is s[0..len), or -1. */
int32_t token_find(const tokenizer *tok, const char *s, size_t len);

/* Where tokens go: the caller's buffer up to its capacity, and a count that
 * keeps going past it (so the caller learns the size it needs). */
typedef struct token_sink {
    bibim_token *tokens;
    int64_t capacity;
    int64_t n;
} token_sink;

static inline void sink_push(token_sink *sink, bibim_token t) {
    if (sink->n < sink->capacity) sink->tokens[sink->n] = t;
    sink->n++;
}

/* A min-heap of candidate merges, shared by both algorithms: the smallest
 * key comes out first. A candidate merges the symbol at its left index with
 * that symbol's right neighbour; 16 bytes, as the heap can get large. */
typedef struct merge_candidate {
    uint64_t key;  /* priority << 32 | left symbol index: ties go to the leftmost */
    uint32_t size; /* bytes of the merged text: the candidate is stale if the pair's lengths no longer add up */
    int32_t token; /* the merged token */
} merge_candidate;

static inline int32_t candidate_left(merge_candidate c) { return (int32_t)(uint32_t)c.key; }

typedef struct merge_heap {
    const bibim_allocator *alloc; /* the tokenizer's */
    merge_candidate *items;
    size_t n, cap;
} merge_heap;

/* 0 on success, -1 if memory ran out. */
int heap_push(merge_heap *h, merge_candidate c);
/* Releases the items. */
void heap_free(merge_heap *h);
/* Removes the smallest; the heap must not be empty. */
merge_candidate heap_pop(merge_heap *h);

/* Tokenize one piece of text (no special tokens in it) and push the ids.
 * `prefix_space`: SPM only, add the leading "▁". Return BIBIM_OK or
 * BIBIM_ERR_NOMEM. */
bibim_status spm_encode(const tokenizer *tok, const char *text, size_t len, int prefix_space, token_sink *sink);
bibim_status bpe_encode(const tokenizer *tok, const char *text, size_t len, token_sink *sink);

/* Fills tok->merges from the n strings of the merges array at key index
 * kv (rank = index); skips what tok->merges documents. 0, or -1 if memory
 * ran out. */
int bpe_build_merges(tokenizer *tok, bibim_gguf *gguf, int64_t kv, uint64_t n);

/* Rendering of a normal token's text: SPM unescapes "▁", BPE maps the
 * byte-level characters back to bytes. Writes up to `capacity` bytes and
 * returns the full length. */
size_t spm_render(const char *text, size_t len, char *buf, size_t capacity);
size_t bpe_render(const char *text, size_t len, char *buf, size_t capacity);

/* Byte-level BPE's character for byte b (GPT-2's bytes_to_unicode). */
uint32_t bpe_byte_char(uint8_t b);

#endif
