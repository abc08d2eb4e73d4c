/* prompt.c — turning a rendered chat prompt into tokens, the same way in
 * `chat` and `serve`. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* 1 if the model asks for BOS: tokenizing "" with ADD_BOS then gives it. */
static int model_adds_bos(const bibim_model *model) {
    bibim_token t[2];
    int64_t n = 0;
    bibim_status st = bibim_tokenize(model, "", 0, BIBIM_TOKENIZE_ADD_BOS, t, 2, &n);
    return (st == BIBIM_OK || st == BIBIM_ERR_TOO_SMALL) && n > 0 && t[0] == bibim_token_bos(model);
}

bibim_status cli_tokenize_prompt(const bibim_model *model, const char *text, size_t len, bibim_token **out,
                                 int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    int64_t n = 0;
    bibim_status st = bibim_tokenize(model, text, len, BIBIM_TOKENIZE_SPECIAL, NULL, 0, &n);
    if (st != BIBIM_OK && st != BIBIM_ERR_TOO_SMALL) return st;
    /* Slot 0 is kept for a BOS the text may not begin with. */
    bibim_token *v = malloc((size_t)(n + 1) * sizeof *v);
    if (!v) return BIBIM_ERR_NOMEM;
    st = bibim_tokenize(model, text, len, BIBIM_TOKENIZE_SPECIAL, v + 1, n, &n);
    if (st != BIBIM_OK) {
        free(v);
        return st;
    }
    bibim_token bos = bibim_token_bos(model);
    if (model_adds_bos(model) && (n == 0 || v[1] != bos)) {
        v[0] = bos;
        n++;
    } else {
        memmove(v, v + 1, (size_t)n * sizeof *v);
    }
    *out = v;
    *n_out = n;
    return BIBIM_OK;
}
