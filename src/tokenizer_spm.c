/* tokenizer_spm.c — SentencePiece BPE with scores, as llama.cpp's
 * llm_tokenizer_spm does it: spaces become "▁" (U+2581), the text is cut
 * into characters, and the adjacent pair whose concatenation is the token
 * with the highest score is merged (ties: the leftmost) until no pair is a
 * token. A symbol that is not a token falls back to one <0xNN> token per
 * byte. */
#include "tokenizer_internal.h"

#include "mem.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

#define SPACE_MARK "\xE2\x96\x81" /* U+2581 '▁' */
#define SPACE_MARK_LEN 3

/* A span of the escaped text; a symbol merged into its left neighbour has
 * len 0 and is off the list. */
typedef struct spm_symbol {
    int32_t prev, next; /* neighbours on the list, -1 at the ends */
    uint32_t start, len;
    int32_t token; /* the token whose text this is, or -1 */
} spm_symbol;

typedef struct spm_session {
    const tokenizer *tok;
    const char *text; /* escaped */
    spm_symbol *symbols;
    merge_heap heap;
} spm_session;

/* Maps a float to an unsigned integer of the same order. */
static uint32_t float_order(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Queues the merge of symbols left and right if their concatenation is a
 * token: higher scores first, then the leftmost. */
static int try_pair(spm_session *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return 0;
    const spm_symbol *l = &s->symbols[left], *r = &s->symbols[right];
    uint32_t size = l->len + r->len;
    int32_t token = token_find(s->tok, s->text + l->start, size);
    if (token < 0) return 0;
    uint64_t priority = (uint64_t)(~float_order(s->tok->scores[token]));
    merge_candidate c = {priority << 32 | (uint32_t)left, size, token};
    return heap_push(&s->heap, c);
}

/* " a b" -> "▁a▁b", with the leading "▁" if asked. Returns NULL if memory ran out. */
static char *escape_spaces(const bibim_allocator *a, const char *text, size_t len, int prefix_space,
                           size_t *out_len) {
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    size_t n = len + spaces * (SPACE_MARK_LEN - 1) + (prefix_space ? SPACE_MARK_LEN : 0);
    char *out = mem_alloc(a, n);
    if (!out) return NULL;
    char *p = out;
    if (prefix_space) memcpy(p, SPACE_MARK, SPACE_MARK_LEN), p += SPACE_MARK_LEN;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(p, SPACE_MARK, SPACE_MARK_LEN), p += SPACE_MARK_LEN;
        else
            *p++ = text[i];
    }
    *out_len = (size_t)(p - out);
    return out;
}

/* One symbol per character (or per byte that is not valid UTF-8). */
static int32_t split_characters(spm_session *s, size_t len) {
    int32_t n = 0;
    for (size_t at = 0; at < len;) {
        size_t step;
        unicode_decode_utf8(s->text + at, len - at, &step);
        s->symbols[n] = (spm_symbol){n - 1, at + step < len ? n + 1 : -1, (uint32_t)at, (uint32_t)step,
                                     token_find(s->tok, s->text + at, step)};
        at += step;
        n++;
    }
    return n;
}

static int merge_all(spm_session *s, int32_t n) {
    for (int32_t i = 1; i < n; i++)
        if (try_pair(s, i - 1, i)) return -1;
    while (s->heap.n) {
        merge_candidate c = heap_pop(&s->heap);
        int32_t left = candidate_left(c);
        spm_symbol *l = &s->symbols[left];
        /* Stale if either side was merged since: lengths only grow. */
        if (l->len == 0 || l->next < 0 || l->len + s->symbols[l->next].len != c.size) continue;
        spm_symbol *r = &s->symbols[l->next];
        l->len += r->len;
        l->token = c.token;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) s->symbols[r->next].prev = left;
        if (try_pair(s, l->prev, left) || try_pair(s, left, l->next)) return -1;
    }
    return 0;
}

/* A symbol that is no token becomes its bytes' <0xNN> tokens; if the
 * vocabulary lacks one of them, the unknown token stands for the whole
 * character (as SentencePiece without byte fallback does). */
static void emit(const spm_session *s, const spm_symbol *sym, token_sink *sink) {
    if (sym->token >= 0) {
        sink_push(sink, sym->token);
        return;
    }
    const unsigned char *bytes = (const unsigned char *)s->text + sym->start;
    for (uint32_t i = 0; i < sym->len; i++) {
        if (s->tok->byte_tokens[bytes[i]] < 0) {
            if (s->tok->unk >= 0) sink_push(sink, s->tok->unk);
            return;
        }
    }
    for (uint32_t i = 0; i < sym->len; i++) sink_push(sink, s->tok->byte_tokens[bytes[i]]);
}

bibim_status spm_encode(const tokenizer *tok, const char *text, size_t len, int prefix_space, token_sink *sink) {
    spm_session s = {tok, NULL, NULL, {.alloc = &tok->alloc}};
    size_t n_bytes;
    char *escaped = escape_spaces(&tok->alloc, text, len, prefix_space, &n_bytes);
    s.text = escaped;
    s.symbols = escaped ? mem_alloc_n(&tok->alloc, n_bytes, sizeof *s.symbols) : NULL;
    bibim_status st = BIBIM_ERR_NOMEM;
    if (s.symbols) {
        int32_t n = split_characters(&s, n_bytes);
        if (merge_all(&s, n) == 0) {
            for (int32_t i = n ? 0 : -1; i >= 0; i = s.symbols[i].next) emit(&s, &s.symbols[i], sink);
            st = BIBIM_OK;
        }
    }
    heap_free(&s.heap);
    mem_free(&tok->alloc, s.symbols);
    mem_free(&tok->alloc, escaped);
    return st;
}

size_t spm_render(const char *text, size_t len, char *buf, size_t capacity) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int mark = len - i >= SPACE_MARK_LEN && memcmp(text + i, SPACE_MARK, SPACE_MARK_LEN) == 0;
        char c = mark ? ' ' : text[i];
        if (n < capacity) buf[n] = c;
        n++;
        i += mark ? SPACE_MARK_LEN : 1;
    }
    return n;
}
