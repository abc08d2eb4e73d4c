/* pretokenize.c — hand-written matchers for the pre-tokenizer patterns.
 *
 * Each matcher answers "how long is the match of the pattern at `pos`",
 * looking no further than `end` (the end of the text being split, which is
 * what a lookahead such as (?!\S) sees). It follows the regex semantics:
 * alternatives are tried in order and the first that matches wins;
 * quantifiers are greedy and give back characters only where the rest of the
 * pattern needs it (the comments say where). */
#include "pretokenize.h"

#include "unicode.h"

#define L UNICODE_LETTER
#define N UNICODE_NUMBER
#define P UNICODE_PUNCTUATION
#define S UNICODE_WHITESPACE

/* Returns the end of the match starting at pos (< end), or pos if the
 * pattern does not match there. */
typedef size_t (*match_fn)(const pretok_text *t, size_t pos, size_t end);

static int has(const pretok_text *t, size_t i, unsigned flags) { return (t->flags[i] & flags) != 0; }

/* [^\s\p{L}\p{N}]: anything that is not whitespace, a letter or a number. */
static int is_other(const pretok_text *t, size_t i) { return !has(t, i, S | L | N); }

static int is_cr_or_lf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

/* End of the run of characters having one of `flags`, starting at pos. */
static size_t run_of(const pretok_text *t, size_t pos, size_t end, unsigned flags) {
    while (pos < end && has(t, pos, flags)) pos++;
    return pos;
}

static size_t run_of_other(const pretok_text *t, size_t pos, size_t end) {
    while (pos < end && is_other(t, pos)) pos++;
    return pos;
}

/* 's|'t|'re|'ve|'m|'ll|'d, comparing letters after `fold`. */
static size_t match_contraction(const pretok_text *t, size_t pos, size_t end, uint32_t (*fold)(uint32_t)) {
    if (t->cps[pos] != '\'' || pos + 1 >= end) return pos;
    uint32_t a = fold(t->cps[pos + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if (pos + 2 >= end) return pos;
    uint32_t b = fold(t->cps[pos + 2]);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    return pos;
}

static uint32_t fold_none(uint32_t cp) { return cp; }

/* Simple case folding, as far as (?i:'s|'t|'re|'ve|'m|'ll|'d) can tell:
 * ASCII capitals, and U+017F LATIN SMALL LETTER LONG S, which folds to 's'. */
static uint32_t fold_case(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + ('a' - 'A');
    return cp == 0x17F ? 's' : cp;
}

/* \s+(?!\S)|\s+ at a whitespace character: the whole run if it reaches the
 * end of the text or is one character long; otherwise the run gives back
 * its last character, so that the next word can start with it. */
static size_t match_whitespace_run(const pretok_text *t, size_t pos, size_t end) {
    size_t run = run_of(t, pos, end, S);
    if (run == end || run - pos == 1) return run;
    return run - 1;
}

/* ' ?X+' where X is a class: a space is taken only if X follows it. */
static size_t match_space_then(const pretok_text *t, size_t pos, size_t end, unsigned flags) {
    size_t start = pos;
    if (t->cps[pos] == ' ' && pos + 1 < end) start = pos + 1;
    if (has(t, start, flags)) return run_of(t, start, end, flags);
    return has(t, pos, flags) ? run_of(t, pos, end, flags) : pos;
}

static size_t match_space_then_other(const pretok_text *t, size_t pos, size_t end) {
    size_t start = pos;
    if (t->cps[pos] == ' ' && pos + 1 < end) start = pos + 1;
    if (is_other(t, start)) return run_of_other(t, start, end);
    return is_other(t, pos) ? run_of_other(t, pos, end) : pos;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t match_gpt2(const pretok_text *t, size_t pos, size_t end) {
    size_t m = match_contraction(t, pos, end, fold_none);
    if (m > pos) return m;
    if ((m = match_space_then(t, pos, end, L)) > pos) return m;
    if ((m = match_space_then(t, pos, end, N)) > pos) return m;
    if ((m = match_space_then_other(t, pos, end)) > pos) return m;
    return has(t, pos, S) ? match_whitespace_run(t, pos, end) : pos;
}

/* [^\r\n\p{L}\p{N}]?\p{L}+ */
static size_t match_llama3_word(const pretok_text *t, size_t pos, size_t end) {
    if (has(t, pos, L)) return run_of(t, pos, end, L);
    int may_lead = !is_cr_or_lf(t->cps[pos]) && !has(t, pos, N);
    if (may_lead && pos + 1 < end && has(t, pos + 1, L)) return run_of(t, pos + 1, end, L);
    return pos;
}

/* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
static size_t match_llama3_symbols(const pretok_text *t, size_t pos, size_t end) {
    size_t m = match_space_then_other(t, pos, end);
    if (m == pos) return pos;
    while (m < end && is_cr_or_lf(t->cps[m])) m++;
    return m;
}

/* \s*[\r\n]+|\s+(?!\S)|\s+ at a whitespace character. In \s*[\r\n]+ the \s*
 * takes the whole run and gives back up to its last CR or LF, which
 * [\r\n]+ then matches alone (the character after it is not whitespace, or
 * \s* would have kept it). */
static size_t match_llama3_whitespace(const pretok_text *t, size_t pos, size_t end) {
    size_t run = run_of(t, pos, end, S);
    for (size_t i = run; i > pos; i--)
        if (is_cr_or_lf(t->cps[i - 1])) return i;
    return match_whitespace_run(t, pos, end);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 * | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t match_llama3(const pretok_text *t, size_t pos, size_t end) {
    size_t m = match_contraction(t, pos, end, fold_case);
    if (m > pos) return m;
    if ((m = match_llama3_word(t, pos, end)) > pos) return m;
    if (has(t, pos, N)) {
        m = run_of(t, pos, end, N);
        return m - pos > 3 ? pos + 3 : m;
    }
    if ((m = match_llama3_symbols(t, pos, end)) > pos) return m;
    return has(t, pos, S) ? match_llama3_whitespace(t, pos, end) : pos;
}

/* [\p{P}\$\+<=>\^~\|]+ */
static int is_default_punct(const pretok_text *t, size_t i) {
    uint32_t c = t->cps[i];
    return has(t, i, P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|';
}

static size_t match_default_punct(const pretok_text *t, size_t pos, size_t end) {
    while (pos < end && is_default_punct(t, pos)) pos++;
    return pos;
}

/* \p{N}+ */
static size_t match_numbers(const pretok_text *t, size_t pos, size_t end) { return run_of(t, pos, end, N); }

/* [0-9][0-9][0-9] */
static size_t match_three_digits(const pretok_text *t, size_t pos, size_t end) {
    if (end - pos < 3) return pos;
    for (size_t i = pos; i < pos + 3; i++)
        if (t->cps[i] < '0' || t->cps[i] > '9') return pos;
    return pos + 3;
}

/* The word that starts at pos: the match there, or else the text up to the
 * next position where the pattern matches. */
static size_t next_word(match_fn match, const pretok_text *t, size_t pos, size_t end) {
    size_t m = match(t, pos, end);
    if (m > pos) return m;
    do pos++;
    while (pos < end && match(t, pos, end) == pos);
    return pos;
}

/* Splits [start, end) with stages[0], each of its words with the next stage,
 * and so on; appends the final words' ends. */
static size_t split(const match_fn *stages, size_t n_stages, const pretok_text *t, size_t start, size_t end,
                    size_t *ends, size_t n_ends) {
    if (n_stages == 0) {
        ends[n_ends] = end;
        return n_ends + 1;
    }
    for (size_t pos = start; pos < end;) {
        size_t word_end = next_word(stages[0], t, pos, end);
        n_ends = split(stages + 1, n_stages - 1, t, pos, word_end, ends, n_ends);
        pos = word_end;
    }
    return n_ends;
}

size_t pretokenize(pretok_kind kind, const pretok_text *text, size_t *ends) {
    static const match_fn gpt2[] = {match_gpt2};
    static const match_fn llama3[] = {match_llama3};
    static const match_fn llama_cpp_default[] = {match_default_punct, match_gpt2, match_numbers, match_three_digits};
    switch (kind) {
    case PRETOK_GPT2: return split(gpt2, 1, text, 0, text->n, ends, 0);
    case PRETOK_LLAMA3: return split(llama3, 1, text, 0, text->n, ends, 0);
    case PRETOK_DEFAULT: return split(llama_cpp_default, 4, text, 0, text->n, ends, 0);
    }
    return 0;
}
