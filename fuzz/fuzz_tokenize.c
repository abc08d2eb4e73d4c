/* fuzz_tokenize.c — libFuzzer target for both tokenizers.
 *
 * The first input byte picks the vocabulary (a SentencePiece one and a
 * byte-level BPE one, from ../shared/refs/vocab, loaded once) and the
 * tokenize flags; the rest is the text, any bytes. Checked on every input:
 * the count query agrees with the filled call, every id is in range, every
 * token has a piece, the text stream releases only valid UTF-8, and without
 * control-token parsing the text round-trips exactly through
 * bibim_detokenize (nothing is lost, whatever the bytes). */
#include "bibim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond)                                                                                             \
    do {                                                                                                               \
        if (!(cond)) __builtin_trap();                                                                                 \
    } while (0)

static const char *const VOCABS[] = {"../shared/refs/vocab/ggml-vocab-llama-spm.gguf",
                                     "../shared/refs/vocab/ggml-vocab-gpt-2.gguf"};
static bibim_model *models[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    bibim_model_params p = bibim_model_default_params();
    p.vocab_only = 1;
    for (int i = 0; i < 2; i++) {
        if (bibim_model_load(VOCABS[i], &p, &models[i]) != BIBIM_OK) {
            fprintf(stderr, "fuzz_tokenize: cannot load %s (run from the repository root, ../shared beside it)\n",
                    VOCABS[i]);
            exit(1);
        }
    }
    return 0;
}

/* 1 if s[0..n) is valid UTF-8. */
static int valid_utf8(const char *s, size_t n) { return bibim_utf8_valid(s, n) == n; }

static void check_stream(const bibim_model *m, const bibim_token *t, int64_t n) {
    bibim_text_stream *ts = NULL;
    const char *stop[] = {"</s>", "\n\n"};
    FUZZ_REQUIRE(bibim_text_stream_create(m, stop, 2, BIBIM_PIECE_SPECIAL, &ts) == BIBIM_OK);
    const char *text;
    size_t len;
    int stopped = 0;
    for (int64_t i = 0; i < n && !stopped; i++) {
        FUZZ_REQUIRE(bibim_text_stream_push(ts, t[i], &text, &len, &stopped) == BIBIM_OK);
        FUZZ_REQUIRE(valid_utf8(text, len));
    }
    FUZZ_REQUIRE(bibim_text_stream_finish(ts, &text, &len) == BIBIM_OK);
    FUZZ_REQUIRE(valid_utf8(text, len));
    bibim_text_stream_free(ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const bibim_model *m = models[data[0] & 1];
    unsigned flags = (data[0] & 2 ? BIBIM_TOKENIZE_SPECIAL : 0) | (data[0] & 4 ? BIBIM_TOKENIZE_ADD_BOS : 0);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int64_t n = -1;
    bibim_status st = bibim_tokenize(m, text, len, flags, NULL, 0, &n);
    FUZZ_REQUIRE(st == BIBIM_OK || st == BIBIM_ERR_TOO_SMALL);
    FUZZ_REQUIRE(n >= 0 && (n > 0 || st == BIBIM_OK));
    bibim_token *t = malloc((size_t)(n ? n : 1) * sizeof *t);
    int64_t n2 = -1;
    FUZZ_REQUIRE(t && bibim_tokenize(m, text, len, flags, t, n, &n2) == BIBIM_OK && n2 == n);
    bibim_model_info info;
    bibim_model_get_info(m, &info);
    for (int64_t i = 0; i < n; i++) {
        FUZZ_REQUIRE(t[i] >= 0 && t[i] < info.n_vocab);
        FUZZ_REQUIRE(bibim_token_piece(m, t[i], BIBIM_PIECE_SPECIAL, NULL, 0) >= 0);
    }
    check_stream(m, t, n);
    /* SentencePiece writes spaces as U+2581 and reads U+2581 back as a space,
     * so text that contains U+2581 itself cannot round-trip (in Hugging Face
     * either). */
    int spm_meta = (data[0] & 1) == 0 && memmem(text, len, "\xe2\x96\x81", 3) != NULL;
    if (!(flags & BIBIM_TOKENIZE_SPECIAL) && !spm_meta) {
        /* Plain text is never lost: detokenizing gives the bytes back (after
         * a BOS/EOS the flags may have added, which render as nothing). */
        int64_t dn = bibim_detokenize(m, t, n, 0, NULL, 0);
        FUZZ_REQUIRE(dn >= 0);
        char *back = malloc((size_t)dn + 1);
        FUZZ_REQUIRE(back && bibim_detokenize(m, t, n, 0, back, (size_t)dn) == dn);
        FUZZ_REQUIRE((size_t)dn == len && memcmp(back, text, len) == 0);
        free(back);
    }
    free(t);
    return 0;
}
