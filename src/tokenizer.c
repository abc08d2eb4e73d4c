/* tokenizer.c — the vocabulary (loaded from tokenizer.ggml.* keys), special
 * tokens, and the dispatch of encoding and decoding to the SentencePiece
 * (tokenizer_spm.c) and byte-level BPE (tokenizer_bpe.c) algorithms. */
#include "tokenizer_internal.h"

#include "gguf_internal.h"
#include "mem.h"
#include "unicode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"

/* Token texts that llama.cpp makes control tokens that end generation,
 * whatever their type says. */
static const char *const END_TOKEN_TEXTS[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<\uFF5Cend\u2581of\u2581sentence\uFF5C>", /* DeepSeek's */
};

static bibim_status fail(char *errmsg, size_t size, bibim_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bibim_status fail(char *errmsg, size_t size, bibim_status status, const char *fmt, ...) {
    if (size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errmsg, size, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* "uint32", or "array of int8" for arrays: the type of key `kv` in messages. */
static const char *describe_type(const bibim_gguf *g, int64_t kv, char *buf, size_t size) {
    bibim_gguf_type type = bibim_gguf_kv_type(g, kv);
    if (type != BIBIM_GGUF_ARRAY) return bibim_gguf_type_name(type);
    snprintf(buf, size, "array of %s", bibim_gguf_type_name(bibim_gguf_kv_elem_type(g, kv)));
    return buf;
}

static bibim_status fail_type(char *errmsg, size_t size, const bibim_gguf *g, int64_t kv, const char *key,
                              const char *expected) {
    char type[64];
    return fail(errmsg, size, BIBIM_ERR_TYPE, "%s has type %s, expected %s", key,
                describe_type(g, kv, type, sizeof type), expected);
}

/* ------------------------------------------------------------------------ */
/* Hashing                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t hash_bytes(uint64_t seed, const char *s, size_t len) {
    uint64_t h = seed ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = hash_mix(h ^ w);
        s += 8, len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    return hash_mix(h ^ w);
}

/* A seed no file can predict: the tokenizer's address and the time. */
static uint64_t make_seed(const tokenizer *tok) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return hash_mix((uint64_t)(uintptr_t)tok ^ hash_mix((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec));
}

/* Slots for n entries at most half full (a power of two). */
static uint64_t table_size(uint64_t n) {
    uint64_t size = 16;
    while (size < 2 * n) size *= 2;
    return size;
}

int32_t token_find(const tokenizer *tok, const char *s, size_t len) {
    const token_index *ix = &tok->index;
    for (uint64_t i = hash_bytes(tok->hash_seed, s, len) & ix->mask;; i = (i + 1) & ix->mask) {
        int32_t id = ix->slots[i];
        if (id < 0) return -1;
        size_t n;
        const char *t = token_text(tok, id, &n);
        if (n == len && memcmp(t, s, len) == 0) return id;
    }
}

/* Indexes every non-empty token; a duplicate text is an error. */
static bibim_status build_index(tokenizer *tok, char *errmsg, size_t errmsg_size) {
    uint64_t size = table_size((uint64_t)tok->n_vocab);
    tok->index.slots = mem_alloc_n(&tok->alloc, size, sizeof *tok->index.slots);
    if (!tok->index.slots) return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for the token index");
    memset(tok->index.slots, 0xFF, size * sizeof *tok->index.slots);
    tok->index.mask = size - 1;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        size_t len;
        const char *s = token_text(tok, id, &len);
        if (len == 0) continue;
        uint64_t i = hash_bytes(tok->hash_seed, s, len) & tok->index.mask;
        for (; tok->index.slots[i] >= 0; i = (i + 1) & tok->index.mask) {
            size_t n;
            const char *t = token_text(tok, tok->index.slots[i], &n);
            if (n == len && memcmp(t, s, len) == 0) {
                char shown[80];
                return fail(errmsg, errmsg_size, BIBIM_ERR_FORMAT, "%s: tokens %d and %d are both '%s'", KEY_TOKENS,
                            (int)tok->index.slots[i], (int)id, gguf_printable(shown, sizeof shown, s, len));
            }
        }
        tok->index.slots[i] = id;
    }
    return BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

static bibim_status load_kind(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    int64_t kv = bibim_gguf_find_key(g, KEY_MODEL);
    if (kv < 0) return fail(errmsg, errmsg_size, BIBIM_ERR_NOT_FOUND, "%s is missing", KEY_MODEL);
    bibim_str model;
    if (bibim_gguf_get_str(g, KEY_MODEL, &model) != BIBIM_OK)
        return fail_type(errmsg, errmsg_size, g, kv, KEY_MODEL, "string");
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) {
        tok->kind = TOKENIZER_SPM;
        return BIBIM_OK;
    }
    if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) {
        tok->kind = TOKENIZER_BPE;
        return BIBIM_OK;
    }
    char shown[80];
    return fail(errmsg, errmsg_size, BIBIM_ERR_UNSUPPORTED, "%s '%s' is not supported (llama, gpt2)", KEY_MODEL,
                gguf_printable(shown, sizeof shown, model.ptr, model.len));
}

/* The pre-tokenizer named by tokenizer.ggml.pre (BPE only). */
static bibim_status load_pre(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    static const struct {
        const char *name;
        pretok_kind kind;
    } names[] = {
        {"default", PRETOK_DEFAULT}, {"llama-bpe", PRETOK_LLAMA3}, {"llama3", PRETOK_LLAMA3},
        {"llama-v3", PRETOK_LLAMA3}, {"gpt-2", PRETOK_GPT2},       {"phi-2", PRETOK_GPT2},
    };
    tok->pre = PRETOK_DEFAULT;
    int64_t kv = bibim_gguf_find_key(g, KEY_PRE);
    if (kv < 0) return BIBIM_OK;
    bibim_str pre;
    if (bibim_gguf_get_str(g, KEY_PRE, &pre) != BIBIM_OK)
        return fail_type(errmsg, errmsg_size, g, kv, KEY_PRE, "string");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == pre.len && memcmp(names[i].name, pre.ptr, pre.len) == 0) {
            tok->pre = names[i].kind;
            /* llama.cpp: Llama 3 words that are tokens skip merging, and BOS is added by default. */
            tok->ignore_merges = tok->add_bos = names[i].kind == PRETOK_LLAMA3;
            return BIBIM_OK;
        }
    }
    char shown[80];
    return fail(errmsg, errmsg_size, BIBIM_ERR_UNSUPPORTED,
                "%s '%s' is not supported (llama-bpe, llama3, llama-v3, gpt-2, phi-2, default)", KEY_PRE,
                gguf_printable(shown, sizeof shown, pre.ptr, pre.len));
}

/* Copies every token's text into one block. */
static bibim_status load_tokens(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    int64_t kv = bibim_gguf_find_key(g, KEY_TOKENS);
    if (kv < 0) return fail(errmsg, errmsg_size, BIBIM_ERR_NOT_FOUND, "%s is missing", KEY_TOKENS);
    uint64_t n;
    if (bibim_gguf_get_arr_str_len(g, KEY_TOKENS, &n) != BIBIM_OK)
        return fail_type(errmsg, errmsg_size, g, kv, KEY_TOKENS, "array of string");
    if (n == 0 || n >= INT32_MAX)
        return fail(errmsg, errmsg_size, BIBIM_ERR_FORMAT, "%s has %llu entries, expected 1 to %d", KEY_TOKENS,
                    (unsigned long long)n, INT32_MAX - 1);
    tok->n_vocab = (int32_t)n;
    tok->offsets = mem_alloc_n(&tok->alloc, (size_t)n + 1, sizeof *tok->offsets);
    if (!tok->offsets)
        return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for %llu tokens", (unsigned long long)n);
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        bibim_str s;
        if (bibim_gguf_arr_str(g, kv, i, &s) != BIBIM_OK)
            return fail(errmsg, errmsg_size, BIBIM_ERR_FORMAT, "%s: cannot read entry %llu", KEY_TOKENS,
                        (unsigned long long)i);
        tok->offsets[i] = total;
        total += s.len; /* no overflow: the strings are inside the file */
    }
    tok->offsets[n] = total;
    tok->text = total <= SIZE_MAX ? mem_alloc(&tok->alloc, (size_t)total) : NULL;
    if (!tok->text) return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for the token texts");
    for (uint64_t i = 0; i < n; i++) {
        bibim_str s;
        bibim_gguf_arr_str(g, kv, i, &s);
        memcpy(tok->text + tok->offsets[i], s.ptr, s.len);
    }
    return BIBIM_OK;
}

/* An optional array of `elem` with one entry per token: *data is NULL if
 * the key is absent. */
static bibim_status get_per_token_array(tokenizer *tok, bibim_gguf *g, const char *key, bibim_gguf_type elem,
                                        const void **data, char *errmsg, size_t errmsg_size) {
    *data = NULL;
    int64_t kv = bibim_gguf_find_key(g, key);
    if (kv < 0) return BIBIM_OK;
    uint64_t n;
    char expected[64];
    snprintf(expected, sizeof expected, "array of %s", bibim_gguf_type_name(elem));
    if (bibim_gguf_get_arr(g, key, elem, data, &n) != BIBIM_OK)
        return fail_type(errmsg, errmsg_size, g, kv, key, expected);
    if (n != (uint64_t)tok->n_vocab)
        return fail(errmsg, errmsg_size, BIBIM_ERR_FORMAT, "%s has %llu entries, expected %d (one per token)", key,
                    (unsigned long long)n, (int)tok->n_vocab);
    return BIBIM_OK;
}

static bibim_status load_scores_and_types(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    const void *scores, *types;
    bibim_status st = get_per_token_array(tok, g, KEY_SCORES, BIBIM_GGUF_FLOAT32, &scores, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = get_per_token_array(tok, g, KEY_TYPES, BIBIM_GGUF_INT32, &types, errmsg, errmsg_size);
    if (st != BIBIM_OK) return st;
    size_t n = (size_t)tok->n_vocab;
    tok->scores = mem_alloc_n(&tok->alloc, n, sizeof *tok->scores);
    tok->types = mem_alloc(&tok->alloc, n);
    tok->is_end = mem_calloc(&tok->alloc, n, 1);
    if (!tok->scores || !tok->types || !tok->is_end)
        return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for %zu tokens", n);
    for (size_t i = 0; i < n; i++) {
        float score = 0.0f;
        int32_t type = TOKEN_TYPE_NORMAL;
        if (scores) memcpy(&score, (const char *)scores + 4 * i, 4); /* the file's data may be unaligned */
        if (types) memcpy(&type, (const char *)types + 4 * i, 4);
        /* Keep the merge order total: NaN sorts last, and -0 ties with 0 as in llama.cpp. */
        tok->scores[i] = isnan(score) ? -INFINITY : score == 0.0f ? 0.0f : score;
        tok->types[i] = (uint8_t)(type >= TOKEN_TYPE_NORMAL && type <= TOKEN_TYPE_BYTE ? type : TOKEN_TYPE_UNDEFINED);
    }
    return BIBIM_OK;
}

/* Sets *id from an optional integer key when it names a token; a value out
 * of range is ignored, as llama.cpp does (files write -1 or UINT32_MAX for
 * "none"). */
static bibim_status load_token_id(tokenizer *tok, bibim_gguf *g, const char *key, bibim_token *id, char *errmsg,
                                  size_t errmsg_size) {
    int64_t kv = bibim_gguf_find_key(g, key), v;
    if (kv < 0) return BIBIM_OK;
    if (bibim_gguf_get_int(g, key, &v) != BIBIM_OK) return fail_type(errmsg, errmsg_size, g, kv, key, "an integer");
    if (v >= 0 && v < tok->n_vocab) *id = (bibim_token)v;
    return BIBIM_OK;
}

static bibim_status load_flag(bibim_gguf *g, const char *key, int *flag, char *errmsg, size_t errmsg_size) {
    int64_t kv = bibim_gguf_find_key(g, key);
    if (kv < 0) return BIBIM_OK;
    if (bibim_gguf_get_bool(g, key, flag) != BIBIM_OK) return fail_type(errmsg, errmsg_size, g, kv, key, "bool");
    return BIBIM_OK;
}

static bibim_token in_vocab(const tokenizer *tok, bibim_token id) { return id >= 0 && id < tok->n_vocab ? id : -1; }

/* BOS, EOS, the unknown token and the end-of-generation set. */
static bibim_status load_special_ids(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    int spm = tok->kind == TOKENIZER_SPM;
    bibim_token eot = -1, eom = -1;
    tok->bos = in_vocab(tok, spm ? 1 : 11);
    tok->eos = in_vocab(tok, spm ? 2 : 11);
    tok->unk = in_vocab(tok, spm ? 0 : -1);
    bibim_status st = load_token_id(tok, g, "tokenizer.ggml.bos_token_id", &tok->bos, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_token_id(tok, g, "tokenizer.ggml.eos_token_id", &tok->eos, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_token_id(tok, g, "tokenizer.ggml.unknown_token_id", &tok->unk, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_token_id(tok, g, "tokenizer.ggml.eot_token_id", &eot, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_token_id(tok, g, "tokenizer.ggml.eom_token_id", &eom, errmsg, errmsg_size);
    if (st != BIBIM_OK) return st;
    for (size_t i = 0; i < sizeof END_TOKEN_TEXTS / sizeof END_TOKEN_TEXTS[0]; i++) {
        int32_t id = token_find(tok, END_TOKEN_TEXTS[i], strlen(END_TOKEN_TEXTS[i]));
        if (id < 0) continue;
        tok->types[id] = TOKEN_TYPE_CONTROL;
        tok->is_end[id] = 1;
    }
    bibim_token ends[] = {tok->eos, eot, eom};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (ends[i] >= 0) tok->is_end[ends[i]] = 1;
    return BIBIM_OK;
}

static bibim_status load_flags(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    if (tok->kind == TOKENIZER_SPM) tok->add_bos = tok->add_space_prefix = 1;
    bibim_status st = load_flag(g, "tokenizer.ggml.add_bos_token", &tok->add_bos, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_flag(g, "tokenizer.ggml.add_eos_token", &tok->add_eos, errmsg, errmsg_size);
    if (st == BIBIM_OK)
        st = load_flag(g, "tokenizer.ggml.add_space_prefix", &tok->add_space_prefix, errmsg, errmsg_size);
    return st;
}

/* The token each byte falls back to: SPM's <0xNN> (or, as llama.cpp allows,
 * the byte itself), BPE's byte-level character. */
static void find_byte_tokens(tokenizer *tok) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char s[8];
        if (tok->kind == TOKENIZER_SPM) {
            char name[] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
            s[0] = (char)b;
            tok->byte_tokens[b] = token_find(tok, name, sizeof name);
            if (tok->byte_tokens[b] < 0) tok->byte_tokens[b] = token_find(tok, s, 1);
        } else {
            size_t n = unicode_encode_utf8(bpe_byte_char((uint8_t)b), s);
            tok->byte_tokens[b] = token_find(tok, s, n);
        }
    }
}

static int is_special_type(uint8_t type) {
    return type == TOKEN_TYPE_CONTROL || type == TOKEN_TYPE_USER_DEFINED || type == TOKEN_TYPE_UNKNOWN;
}

static bibim_status load_merges(tokenizer *tok, bibim_gguf *g, char *errmsg, size_t errmsg_size) {
    int64_t kv = bibim_gguf_find_key(g, KEY_MERGES);
    if (kv < 0)
        return fail(errmsg, errmsg_size, BIBIM_ERR_NOT_FOUND, "%s is missing (byte-level BPE needs it)", KEY_MERGES);
    uint64_t n;
    if (bibim_gguf_get_arr_str_len(g, KEY_MERGES, &n) != BIBIM_OK)
        return fail_type(errmsg, errmsg_size, g, kv, KEY_MERGES, "array of string");
    if (n >= INT32_MAX)
        return fail(errmsg, errmsg_size, BIBIM_ERR_FORMAT, "%s has %llu entries, expected fewer than %d", KEY_MERGES,
                    (unsigned long long)n, INT32_MAX);
    if (bpe_build_merges(tok, g, kv, n))
        return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for %llu merges", (unsigned long long)n);
    return BIBIM_OK;
}

typedef struct special_order {
    uint64_t len;
    int32_t id;
} special_order;

/* Longer text first; equal lengths by id, so the order is deterministic. */
static int compare_specials(const void *a, const void *b) {
    const special_order *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The tokens recognised in text before tokenizing: control, user-defined
 * and unknown-type tokens with non-empty text. */
static bibim_status collect_specials(tokenizer *tok, char *errmsg, size_t errmsg_size) {
    size_t n = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++)
        if (is_special_type(tok->types[id]) && tok->offsets[id + 1] > tok->offsets[id]) n++;
    special_order *order = mem_alloc_n(&tok->alloc, n, sizeof *order);
    tok->specials = mem_alloc_n(&tok->alloc, n, sizeof *tok->specials);
    if (!order || !tok->specials) {
        mem_free(&tok->alloc, order);
        return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for special tokens");
    }
    n = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++)
        if (is_special_type(tok->types[id]) && tok->offsets[id + 1] > tok->offsets[id])
            order[n++] = (special_order){tok->offsets[id + 1] - tok->offsets[id], id};
    qsort(order, n, sizeof *order, compare_specials);
    for (size_t i = 0; i < n; i++) tok->specials[i] = order[i].id;
    tok->n_specials = (int32_t)n;
    mem_free(&tok->alloc, order);
    return BIBIM_OK;
}

bibim_status tokenizer_load(bibim_gguf *gguf, tokenizer **out, char *errmsg, size_t errmsg_size) {
    return tokenizer_load_with(gguf, &mem_libc, out, errmsg, errmsg_size);
}

bibim_status tokenizer_load_with(bibim_gguf *gguf, const bibim_allocator *alloc, tokenizer **out, char *errmsg,
                                 size_t errmsg_size) {
    char unused[1];
    if (!errmsg) errmsg = unused, errmsg_size = sizeof unused; /* the caller does not want the message */
    *out = NULL;
    if (errmsg_size) errmsg[0] = '\0';
    if (!gguf) return fail(errmsg, errmsg_size, BIBIM_ERR_INVALID_ARG, "no GGUF file");
    tokenizer *tok = mem_calloc(alloc, 1, sizeof *tok);
    if (!tok) return fail(errmsg, errmsg_size, BIBIM_ERR_NOMEM, "out of memory for the tokenizer");
    tok->alloc = *alloc;
    tok->hash_seed = make_seed(tok);
    bibim_status st = load_kind(tok, gguf, errmsg, errmsg_size);
    if (st == BIBIM_OK && tok->kind == TOKENIZER_BPE) st = load_pre(tok, gguf, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_tokens(tok, gguf, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_scores_and_types(tok, gguf, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = build_index(tok, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_special_ids(tok, gguf, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = load_flags(tok, gguf, errmsg, errmsg_size);
    if (st == BIBIM_OK) st = collect_specials(tok, errmsg, errmsg_size);
    if (st == BIBIM_OK && tok->kind == TOKENIZER_BPE) st = load_merges(tok, gguf, errmsg, errmsg_size);
    if (st != BIBIM_OK) {
        tokenizer_free(tok);
        return st;
    }
    find_byte_tokens(tok);
    *out = tok;
    return BIBIM_OK;
}

void tokenizer_free(tokenizer *tok) {
    if (!tok) return;
    const bibim_allocator *a = &tok->alloc;
    mem_free(a, tok->text);
    mem_free(a, tok->offsets);
    mem_free(a, tok->scores);
    mem_free(a, tok->types);
    mem_free(a, tok->is_end);
    mem_free(a, tok->index.slots);
    mem_free(a, tok->merges);
    mem_free(a, tok->specials);
    bibim_allocator copy = *a; /* it lives in the block being freed */
    mem_free(&copy, tok);
}

int32_t tokenizer_n_vocab(const tokenizer *tok) { return tok->n_vocab; }
bibim_token tokenizer_bos(const tokenizer *tok) { return tok->bos; }
bibim_token tokenizer_eos(const tokenizer *tok) { return tok->eos; }

int tokenizer_is_end(const tokenizer *tok, bibim_token token) {
    return token >= 0 && token < tok->n_vocab && tok->is_end[token];
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

/* A piece of the input: text still to tokenize, or a special token found in it. */
typedef struct fragment {
    size_t offset, len; /* text: its bytes in the input */
    int32_t token;      /* -1 for text */
} fragment;

typedef struct fragment_list {
    const bibim_allocator *alloc; /* the tokenizer's */
    fragment *items;
    size_t n, cap;
} fragment_list;

static int fragments_push(fragment_list *l, fragment f) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        fragment *items = mem_realloc(l->alloc, l->items, cap * sizeof *items);
        if (!items) return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = f;
    return 0;
}

/* Appends `f` to `out`, cut around every occurrence of token `id`. */
static int split_fragment(const tokenizer *tok, const char *text, fragment f, int32_t id, fragment_list *out) {
    size_t n;
    const char *special = token_text(tok, id, &n);
    while (f.token < 0 && f.len >= n) {
        const char *hit = memmem(text + f.offset, f.len, special, n);
        if (!hit) break;
        size_t before = (size_t)(hit - (text + f.offset));
        if (before && fragments_push(out, (fragment){f.offset, before, -1})) return -1;
        if (fragments_push(out, (fragment){0, 0, id})) return -1;
        f.offset += before + n;
        f.len -= before + n;
    }
    if ((f.token >= 0 || f.len > 0) && fragments_push(out, f)) return -1;
    return 0;
}

/* Cuts the text around special tokens, one token at a time, longest first
 * (llama.cpp's tokenizer_st_partition). */
static bibim_status partition(const tokenizer *tok, const char *text, size_t len, unsigned flags, fragment_list *list) {
    fragment_list next = {.alloc = &tok->alloc};
    bibim_status st = BIBIM_OK;
    if (len && fragments_push(list, (fragment){0, len, -1})) return BIBIM_ERR_NOMEM;
    for (int32_t s = 0; s < tok->n_specials && st == BIBIM_OK; s++) {
        int32_t id = tok->specials[s];
        if (!(flags & BIBIM_TOKENIZE_SPECIAL) && tok->types[id] != TOKEN_TYPE_USER_DEFINED) continue;
        next.n = 0;
        for (size_t i = 0; i < list->n && st == BIBIM_OK; i++)
            if (split_fragment(tok, text, list->items[i], id, &next)) st = BIBIM_ERR_NOMEM;
        fragment_list swap = *list;
        *list = next;
        next = swap;
    }
    mem_free(&tok->alloc, next.items);
    return st;
}

static bibim_status encode_fragments(const tokenizer *tok, const char *text, const fragment_list *list,
                                     token_sink *sink) {
    int after_special = 1; /* SPM: a text at the start or after a special token gets the "▁" prefix */
    for (size_t i = 0; i < list->n; i++) {
        const fragment *f = &list->items[i];
        if (f->token >= 0) {
            sink_push(sink, f->token);
            after_special = 1;
            continue;
        }
        bibim_status st = tok->kind == TOKENIZER_SPM
                              ? spm_encode(tok, text + f->offset, f->len, tok->add_space_prefix && after_special, sink)
                              : bpe_encode(tok, text + f->offset, f->len, sink);
        if (st != BIBIM_OK) return st;
        after_special = 0;
    }
    return BIBIM_OK;
}

bibim_status tokenizer_encode(const tokenizer *tok, const char *text, size_t len, unsigned flags, bibim_token *tokens,
                              int64_t capacity, int64_t *n_tokens) {
    if (!tok || (!text && len) || (!tokens && capacity > 0) || capacity < 0 || !n_tokens) return BIBIM_ERR_INVALID_ARG;
    if (len > INT32_MAX / 4) return BIBIM_ERR_INVALID_ARG; /* symbol indices are int32 */
    token_sink sink = {tokens, capacity, 0};
    int add_special = (flags & BIBIM_TOKENIZE_ADD_BOS) != 0;
    if (add_special && tok->add_bos && tok->bos >= 0) sink_push(&sink, tok->bos);
    fragment_list list = {.alloc = &tok->alloc};
    bibim_status st = partition(tok, text, len, flags, &list);
    if (st == BIBIM_OK) st = encode_fragments(tok, text, &list, &sink);
    mem_free(&tok->alloc, list.items);
    if (st != BIBIM_OK) return st;
    if (add_special && tok->add_eos && tok->eos >= 0) sink_push(&sink, tok->eos);
    *n_tokens = sink.n;
    return sink.n > capacity ? BIBIM_ERR_TOO_SMALL : BIBIM_OK;
}

/* ------------------------------------------------------------------------ */
/* Merge candidates (a binary min-heap)                                     */
/* ------------------------------------------------------------------------ */

int heap_push(merge_heap *h, merge_candidate c) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        merge_candidate *items = mem_realloc(h->alloc, h->items, cap * sizeof *items);
        if (!items) return -1;
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && h->items[(i - 1) / 2].key > c.key) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = c;
    return 0;
}

void heap_free(merge_heap *h) {
    mem_free(h->alloc, h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

merge_candidate heap_pop(merge_heap *h) {
    merge_candidate top = h->items[0], last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n) break;
        if (child + 1 < h->n && h->items[child + 1].key < h->items[child].key) child++;
        if (h->items[child].key >= last.key) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->n) h->items[i] = last;
    return top;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

static size_t copy_out(const char *s, size_t len, char *buf, size_t capacity) {
    size_t n = len < capacity ? len : capacity;
    if (n) memcpy(buf, s, n);
    return len;
}

/* <0xNN> -> the byte, or -1 if the text is not of that form. */
static int parse_byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int value = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

int64_t tokenizer_piece(const tokenizer *tok, bibim_token token, unsigned flags, char *buf, size_t capacity) {
    if (!tok || token < 0 || token >= tok->n_vocab) return -1;
    if (!buf) capacity = 0;
    size_t len;
    const char *s = token_text(tok, token, &len);
    switch (tok->types[token]) {
    case TOKEN_TYPE_CONTROL:
    case TOKEN_TYPE_UNKNOWN: return (flags & BIBIM_PIECE_SPECIAL) ? (int64_t)copy_out(s, len, buf, capacity) : 0;
    case TOKEN_TYPE_USER_DEFINED: return (int64_t)copy_out(s, len, buf, capacity);
    case TOKEN_TYPE_NORMAL:
        return (int64_t)(tok->kind == TOKENIZER_SPM ? spm_render(s, len, buf, capacity)
                                                    : bpe_render(s, len, buf, capacity));
    case TOKEN_TYPE_BYTE: {
        /* As in llama.cpp, only SentencePiece has byte tokens. */
        int byte = tok->kind == TOKENIZER_SPM ? parse_byte_token(s, len) : -1;
        if (byte < 0) return 0;
        char c = (char)byte;
        return (int64_t)copy_out(&c, 1, buf, capacity);
    }
    default: return 0; /* unused and undefined tokens render as nothing, as in llama.cpp */
    }
}

int64_t tokenizer_decode(const tokenizer *tok, const bibim_token *tokens, int64_t n, unsigned flags, char *buf,
                         size_t capacity) {
    if (!tok || n < 0 || (n && !tokens)) return -1;
    if (!buf) capacity = 0;
    /* SentencePiece's dummy prefix: the space the encoder put before the
     * text is not part of it (as Hugging Face's decoder and llama.cpp do). */
    int strip_space = tok->kind == TOKENIZER_SPM && tok->add_space_prefix;
    size_t total = 0;
    char small[256];
    for (int64_t i = 0; i < n; i++) {
        int64_t len = tokenizer_piece(tok, tokens[i], flags, small, sizeof small);
        if (len < 0) return -1;
        if (len == 0) continue;
        const char *piece = small;
        char *big = NULL;
        if (len > (int64_t)sizeof small) {
            if (!(big = mem_alloc(&tok->alloc, (size_t)len))) return -2;
            tokenizer_piece(tok, tokens[i], flags, big, (size_t)len);
            piece = big;
        }
        size_t skip = strip_space && piece[0] == ' ' ? 1 : 0;
        strip_space = 0;
        size_t m = (size_t)len - skip;
        if (total < capacity) memcpy(buf + total, piece + skip, m <= capacity - total ? m : capacity - total);
        total += m;
        mem_free(&tok->alloc, big);
    }
    return (int64_t)total;
}
