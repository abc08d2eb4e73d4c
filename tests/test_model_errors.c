/* test_model_errors.c — a model file that is well-formed GGUF but not a
 * usable Llama model gets an error naming exactly what is wrong. */
#include "bibim.h"
#include "harness.h"
#include "model_builder.h"

#include <unistd.h>

static const shape good = {.n_vocab = 32, .n_embd = 32, .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 48,
                           .n_rot = 8, .theta = 10000.0f, .eps = 1e-5f, .tied = 0, .rope_factors = 0};
static char tmp_dir[] = "/tmp/bibim-test-model-errors-XXXXXX";

/* Writes the good model spoiled by `edit` and checks that loading fails with
 * `want` and a message containing each of the `needles`. */
static void expect_load_error(const model_edit *edit, bibim_status want, const char *needle1, const char *needle2) {
    char path[256];
    snprintf(path, sizeof path, "%s/broken.gguf", tmp_dir);
    rng_state = 99;
    weights w;
    make_weights(&good, &w);
    if (write_model(&good, &w, path, edit)) {
        bibim_model *m = NULL;
        bibim_status st = bibim_model_load(path, NULL, &m);
        const char *msg = bibim_model_errmsg(m);
        CHECKF(st == want, "status %d (%s), wanted %d; message: %s", (int)st, bibim_status_string(st), (int)want, msg);
        CHECKF(strstr(msg, "broken.gguf") != NULL, "message does not name the file: %s", msg);
        CHECKF(!needle1 || strstr(msg, needle1), "message lacks '%s': %s", needle1, msg);
        CHECKF(!needle2 || strstr(msg, needle2), "message lacks '%s': %s", needle2, msg);
        bibim_model_free(m);
    }
    free_weights(&good, &w);
    unlink(path);
}

static int test_good_model_loads(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/good.gguf", tmp_dir);
    weights w;
    make_weights(&good, &w);
    CHECK(write_model(&good, &w, path, NULL));
    bibim_model *m = NULL;
    CHECKF(bibim_model_load(path, NULL, &m) == BIBIM_OK, "%s", bibim_model_errmsg(m));
    bibim_model_info info;
    if (m) {
        bibim_model_get_info(m, &info);
        CHECK(info.n_vocab == 32 && info.n_layer == 2 && info.n_head_kv == 2 && !strcmp(info.arch, "llama"));
    }
    bibim_model_free(m);
    free_weights(&good, &w);
    unlink(path);
    return 0;
}

static int test_missing_keys(void) {
    const char *keys[] = {"llama.block_count", "llama.embedding_length", "llama.attention.head_count",
                          "llama.feed_forward_length", "llama.context_length", "general.architecture"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        model_edit e = {.drop_key = keys[i]};
        expect_load_error(&e, BIBIM_ERR_FORMAT, keys[i], "missing");
    }
    return 0;
}

static int test_missing_tensors(void) {
    const char *names[] = {"token_embd.weight", "output_norm.weight", "blk.1.attn_k.weight", "blk.0.ffn_down.weight",
                           "blk.0.attn_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        model_edit e = {.drop_tensor = names[i]};
        expect_load_error(&e, BIBIM_ERR_FORMAT, names[i], "missing");
    }
    /* output.weight may be absent: the embeddings are then tied. */
    char path[256];
    snprintf(path, sizeof path, "%s/tied.gguf", tmp_dir);
    weights w;
    make_weights(&good, &w);
    model_edit e = {.drop_tensor = "output.weight"};
    CHECK(write_model(&good, &w, path, &e));
    bibim_model *m = NULL;
    CHECKF(bibim_model_load(path, NULL, &m) == BIBIM_OK, "%s", bibim_model_errmsg(m));
    bibim_model_free(m);
    free_weights(&good, &w);
    unlink(path);
    return 0;
}

static int test_wrong_shapes(void) {
    const char *names[] = {"blk.0.attn_q.weight", "blk.1.attn_v.weight", "blk.1.ffn_up.weight", "output.weight",
                           "blk.0.ffn_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        model_edit e = {.grow_tensor = names[i]};
        expect_load_error(&e, BIBIM_ERR_FORMAT, names[i], "expected");
    }
    return 0;
}

static int test_bad_head_counts(void) {
    model_edit not_dividing_embd = {.head_count = 5}; /* 32 / 5 */
    expect_load_error(&not_dividing_embd, BIBIM_ERR_FORMAT, "head_count", NULL);
    model_edit kv_not_dividing = {.head_count_kv = 3}; /* 4 % 3 */
    expect_load_error(&kv_not_dividing, BIBIM_ERR_FORMAT, "head_count_kv", NULL);
    model_edit kv_zero = {.head_count_kv = -1};
    expect_load_error(&kv_zero, BIBIM_ERR_FORMAT, "head_count_kv", NULL);
    return 0;
}

static int test_unknown_arch_tokenizer_experts(void) {
    model_edit arch = {.arch = "mamba"};
    expect_load_error(&arch, BIBIM_ERR_UNSUPPORTED, "mamba", "llama");
    model_edit tok = {.tokenizer = "bert"};
    expect_load_error(&tok, BIBIM_ERR_UNSUPPORTED, "bert", NULL);
    model_edit moe = {.expert_count = 8};
    expect_load_error(&moe, BIBIM_ERR_UNSUPPORTED, "expert", NULL);
    return 0;
}

int main(void) {
    if (!mkdtemp(tmp_dir)) return 1;
    RUN(test_good_model_loads);
    RUN(test_missing_keys);
    RUN(test_missing_tensors);
    RUN(test_wrong_shapes);
    RUN(test_bad_head_counts);
    RUN(test_unknown_arch_tokenizer_experts);
    rmdir(tmp_dir);
    return harness_finish();
}
