/* simple.c — greedy text generation with libbibim: cc simple.c -lbibim -lm -lpthread */
#include <bibim.h>
#include <stdio.h>
#include <string.h>

static int print(void *user, bibim_token token, const char *text, size_t len) {
    (void)user, (void)token;
    return fwrite(text, 1, len, stdout) != len; /* non-zero stops generation */
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: %s MODEL.gguf PROMPT\n", argv[0]), 1;
    bibim_model *model = NULL;
    bibim_context *ctx = NULL;
    bibim_sampler *sampler = NULL;
    bibim_token prompt[1024];
    int64_t n_prompt = 0;
    bibim_sampler_params sp = bibim_sampler_default_params();
    sp.temperature = 0; /* greedy */
    bibim_generate_params gp = bibim_generate_default_params();
    gp.n_predict = 64, gp.on_token = print;
    int ok = bibim_model_load(argv[1], NULL, &model) == BIBIM_OK &&
             bibim_context_create(model, NULL, &ctx) == BIBIM_OK &&
             bibim_sampler_create(model, &sp, &sampler) == BIBIM_OK &&
             bibim_tokenize(model, argv[2], strlen(argv[2]), BIBIM_TOKENIZE_ADD_BOS, prompt, 1024, &n_prompt) == BIBIM_OK &&
             bibim_generate(ctx, sampler, prompt, n_prompt, &gp, NULL) == BIBIM_OK;
    if (!ok) fprintf(stderr, "error: %s\n", ctx ? bibim_context_errmsg(ctx) : bibim_model_errmsg(model));
    bibim_sampler_free(sampler);
    bibim_context_free(ctx);
    bibim_model_free(model);
    return !ok;
}
