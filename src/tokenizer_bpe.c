/* tokenizer_bpe.c — byte-level BPE with ranked merges, as llama.cpp's
 * llm_tokenizer_bpe (and GPT-2, Llama 3) do it: the pre-tokenizer cuts the
 * text into words; each byte of a word is one symbol, written in the
 * vocabulary as GPT-2's printable stand-in for that byte; within a word the
 * adjacent pair with the lowest merge rank (ties: the leftmost) is merged
 * until no pair has a merge. */
#include "tokenizer_internal.h"

#include "mem.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

#define NO_PAIR UINT64_MAX

/* ------------------------------------------------------------------------ */
/* GPT-2's bytes_to_unicode                                                  */
/* ------------------------------------------------------------------------ */

/* Bytes that stand for themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'. The other
 * 68 (controls, space, DEL, 0x80..0xA0, soft hyphen) are numbered from
 * U+0100 up in byte order. */
static int is_printable_byte(uint32_t b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t bpe_byte_char(uint8_t b) {
    if (is_printable_byte(b)) return b;
    if (b <= 0x20) return 0x100 + b;          /* 0x00..0x20 -> U+0100..U+0120 */
    if (b <= 0xA0) return 0x121 + (b - 0x7F); /* 0x7F..0xA0 -> U+0121..U+0142 */
    return 0x143;                             /* 0xAD */
}

/* The byte that `cp` stands for, or -1. */
static int bpe_char_byte(uint32_t cp) {
    if (cp < 0x100) return is_printable_byte(cp) ? (int)cp : -1;
    if (cp <= 0x120) return (int)(cp - 0x100);
    if (cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    return cp == 0x143 ? 0xAD : -1;
}

/* ------------------------------------------------------------------------ */
/* Merges                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t)(uint32_t)left << 32 | (uint32_t)right; }

/* The merge of (left, right), or NULL. */
static const bpe_merge *find_merge(const tokenizer *tok, int32_t left, int32_t right) {
    uint64_t key = pair_key(left, right);
    for (uint64_t i = hash_mix(key ^ tok->hash_seed) & tok->merges_mask;; i = (i + 1) & tok->merges_mask) {
        const bpe_merge *m = &tok->merges[i];
        if (m->pair == key) return m;
        if (m->pair == NO_PAIR) return NULL;
    }
}

/* Adds a merge unless the pair has one already (the first rank wins, as in llama.cpp). */
static void add_merge(tokenizer *tok, int32_t left, int32_t right, int32_t result, int32_t rank) {
    uint64_t key = pair_key(left, right);
    uint64_t i = hash_mix(key ^ tok->hash_seed) & tok->merges_mask;
    for (; tok->merges[i].pair != NO_PAIR; i = (i + 1) & tok->merges_mask)
        if (tok->merges[i].pair == key) return;
    tok->merges[i] = (bpe_merge){key, rank, result};
}

/* "left right" -> the three token ids, or 0 if the merge names something that is not a token. */
static int parse_merge(const tokenizer *tok, bibim_str s, char *joined, int32_t ids[3]) {
    /* The separator is the first space after the first byte (a part may be a lone space). */
    const char *space = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
    if (!space) return 0;
    size_t left_len = (size_t)(space - s.ptr), right_len = s.len - left_len - 1;
    memcpy(joined, s.ptr, left_len);
    memcpy(joined + left_len, space + 1, right_len);
    ids[0] = token_find(tok, s.ptr, left_len);
    ids[1] = token_find(tok, space + 1, right_len);
    ids[2] = token_find(tok, joined, left_len + right_len);
    return ids[0] >= 0 && ids[1] >= 0 && ids[2] >= 0;
}

int bpe_build_merges(tokenizer *tok, bibim_gguf *gguf, int64_t kv, uint64_t n) {
    uint64_t size = 16;
    while (size < n + n / 3 + 1) size *= 2;        /* at most 3/4 full */
    uint64_t longest = tok->offsets[tok->n_vocab]; /* a merge's result is a token: no longer than all texts */
    tok->merges = mem_alloc_n(&tok->alloc, size, sizeof *tok->merges);
    char *joined = longest < SIZE_MAX ? mem_alloc(&tok->alloc, (size_t)longest + 1) : NULL;
    if (!tok->merges || !joined) {
        mem_free(&tok->alloc, joined);
        return -1;
    }
    memset(tok->merges, 0xFF, size * sizeof *tok->merges);
    tok->merges_mask = size - 1;
    for (uint64_t i = 0; i < n; i++) {
        bibim_str s;
        int32_t ids[3];
        /* A merge longer than that cannot name tokens: skip it before copying. */
        if (bibim_gguf_arr_str(gguf, kv, i, &s) != BIBIM_OK || s.len > longest + 1) continue;
        if (parse_merge(tok, s, joined, ids)) add_merge(tok, ids[0], ids[1], ids[2], (int32_t)i);
    }
    mem_free(&tok->alloc, joined);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

/* One or more bytes of a word; a symbol merged into its left neighbour has
 * len 0 and is off the list. */
typedef struct bpe_symbol {
    int32_t prev, next;
    uint32_t len;  /* bytes of the input */
    int32_t token; /* -1 only for a byte the vocabulary has no token for */
} bpe_symbol;

/* Scratch of one encode call, sized for the whole text. */
typedef struct bpe_session {
    const tokenizer *tok;
    uint32_t *cps;
    uint8_t *flags;
    size_t *offsets; /* byte offset of each code point, and the length at the end */
    size_t *ends;    /* word ends (code point indices) */
    bpe_symbol *symbols;
    char *mapped; /* a word in byte-level characters */
    merge_heap heap;
} bpe_session;

static int try_pair(bpe_session *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return 0;
    const bpe_symbol *l = &s->symbols[left], *r = &s->symbols[right];
    if (l->token < 0 || r->token < 0) return 0;
    const bpe_merge *m = find_merge(s->tok, l->token, r->token);
    if (!m) return 0;
    merge_candidate c = {(uint64_t)(uint32_t)m->rank << 32 | (uint32_t)left, l->len + r->len, m->result};
    return heap_push(&s->heap, c);
}

/* Merges the symbols of one word (n >= 1 of them, in order). */
static int merge_word(bpe_session *s, int32_t n) {
    s->heap.n = 0;
    for (int32_t i = 1; i < n; i++)
        if (try_pair(s, i - 1, i)) return -1;
    while (s->heap.n) {
        merge_candidate c = heap_pop(&s->heap);
        int32_t left = candidate_left(c);
        bpe_symbol *l = &s->symbols[left];
        /* Stale if either side was merged since: lengths only grow. */
        if (l->len == 0 || l->next < 0 || l->len + s->symbols[l->next].len != c.size) continue;
        bpe_symbol *r = &s->symbols[l->next];
        l->len += r->len;
        l->token = c.token;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) s->symbols[r->next].prev = left;
        if (try_pair(s, l->prev, left) || try_pair(s, left, l->next)) return -1;
    }
    return 0;
}

/* The word's bytes as byte-level characters, looked up as a whole. */
static int32_t whole_word_token(bpe_session *s, const unsigned char *bytes, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += unicode_encode_utf8(bpe_byte_char(bytes[i]), s->mapped + n);
    return token_find(s->tok, s->mapped, n);
}

static int encode_word(bpe_session *s, const unsigned char *bytes, size_t len, token_sink *sink) {
    if (s->tok->ignore_merges) {
        int32_t t = whole_word_token(s, bytes, len);
        if (t >= 0) {
            sink_push(sink, t);
            return 0;
        }
    }
    int32_t n = (int32_t)len;
    for (int32_t i = 0; i < n; i++)
        s->symbols[i] = (bpe_symbol){i - 1, i + 1 < n ? i + 1 : -1, 1, s->tok->byte_tokens[bytes[i]]};
    if (merge_word(s, n)) return -1;
    /* A byte without a token is dropped, as llama.cpp does. */
    for (int32_t i = 0; i >= 0; i = s->symbols[i].next)
        if (s->symbols[i].token >= 0) sink_push(sink, s->symbols[i].token);
    return 0;
}

/* Code points, their classes and byte offsets. */
static size_t decode_text(bpe_session *s, const char *text, size_t len) {
    size_t n = 0;
    for (size_t at = 0; at < len; n++) {
        size_t step;
        s->cps[n] = unicode_decode_utf8(text + at, len - at, &step);
        s->flags[n] = (uint8_t)unicode_flags(s->cps[n]);
        s->offsets[n] = at;
        at += step;
    }
    s->offsets[n] = len;
    return n;
}

static int alloc_session(bpe_session *s, size_t len) {
    const bibim_allocator *a = &s->tok->alloc;
    s->cps = mem_alloc_n(a, len, sizeof *s->cps);
    s->flags = mem_alloc(a, len);
    s->offsets = mem_alloc_n(a, len + 1, sizeof *s->offsets);
    s->ends = mem_alloc_n(a, len, sizeof *s->ends);
    s->symbols = mem_alloc_n(a, len, sizeof *s->symbols);
    s->mapped = mem_alloc_n(a, len, 2); /* byte-level characters are at most 2 bytes */
    return s->cps && s->flags && s->offsets && s->ends && s->symbols && s->mapped ? 0 : -1;
}

static void free_session(bpe_session *s) {
    const bibim_allocator *a = &s->tok->alloc;
    mem_free(a, s->cps);
    mem_free(a, s->flags);
    mem_free(a, s->offsets);
    mem_free(a, s->ends);
    mem_free(a, s->symbols);
    mem_free(a, s->mapped);
    heap_free(&s->heap);
}

bibim_status bpe_encode(const tokenizer *tok, const char *text, size_t len, token_sink *sink) {
    if (len == 0) return BIBIM_OK;
    bpe_session s = {.tok = tok, .heap = {.alloc = &tok->alloc}};
    bibim_status st = BIBIM_ERR_NOMEM;
    if (alloc_session(&s, len) == 0) {
        pretok_text pt = {s.cps, s.flags, decode_text(&s, text, len)};
        size_t n_words = pretokenize(tok->pre, &pt, s.ends);
        st = BIBIM_OK;
        for (size_t w = 0, start = 0; w < n_words && st == BIBIM_OK; start = s.ends[w++]) {
            size_t from = s.offsets[start], to = s.offsets[s.ends[w]];
            if (encode_word(&s, (const unsigned char *)text + from, to - from, sink)) st = BIBIM_ERR_NOMEM;
        }
    }
    free_session(&s);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

size_t bpe_render(const char *text, size_t len, char *buf, size_t capacity) {
    /* A text with a character outside the byte-level alphabet is shown as it
     * is (as Hugging Face's ByteLevel decoder does). */
    for (size_t i = 0; i < len;) {
        size_t step;
        if (bpe_char_byte(unicode_decode_utf8(text + i, len - i, &step)) < 0) {
            size_t n = len < capacity ? len : capacity;
            if (n) memcpy(buf, text, n);
            return len;
        }
        i += step;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        size_t step;
        int byte = bpe_char_byte(unicode_decode_utf8(text + i, len - i, &step));
        if (n < capacity) buf[n] = (char)byte;
        i += step;
    }
    return n;
}
