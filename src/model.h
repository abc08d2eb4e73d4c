/* model.h — a loaded Llama-architecture model: hyperparameters, weights and
 * tokenizer. Read-only after bibim_model_load; shared by contexts. */
#ifndef BIBIM_MODEL_H
#define BIBIM_MODEL_H

#include "bibim.h"
#include "tokenizer.h"

/* A weight matrix as ggml stores it: n_out rows of n_in elements of `type`
 * (ne = [n_in, n_out]); y = W x multiplies rows by x. */
typedef struct matrix {
    bibim_type type;
    const void *data;
    int64_t n_in, n_out;
    size_t row_bytes;
    void *packed; /* the rows in packed_layout_for(type) (owned), or NULL */
} matrix;

typedef struct layer_weights {
    const float *attn_norm; /* [n_embd] */
    matrix wq;              /* [n_embd] -> [n_head * head_dim] */
    matrix wk;              /* [n_embd] -> [n_head_kv * head_dim] */
    matrix wv;              /* [n_embd] -> [n_head_kv * head_dim] */
    matrix wo;              /* [n_head * head_dim] -> [n_embd] */
    const float *ffn_norm;  /* [n_embd] */
    matrix w_gate;          /* [n_embd] -> [n_ff] */
    matrix w_up;            /* [n_embd] -> [n_ff] */
    matrix w_down;          /* [n_ff] -> [n_embd] */
} layer_weights;

typedef struct llama_hparams {
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int32_t head_dim;      /* n_embd / n_head unless the file says otherwise */
    int32_t n_rot;         /* rotated dimensions per head (rope.dimension_count) */
    float rope_theta;      /* rope.freq_base */
    float rope_freq_scale; /* 1 / linear rope scaling factor */
    float rms_eps;
} llama_hparams;

struct bibim_model {
    bibim_allocator alloc;   /* the caller's (or libc's): for the model and all made from it */
    bibim_gguf *gguf;
    void *file_copy;         /* the whole file, when use_mmap = 0 */
    tokenizer *tok;
    llama_hparams hp;
    matrix token_embd;       /* [n_embd] x n_vocab rows; read by row */
    matrix output;           /* token_embd again when the embeddings are tied */
    const float *output_norm;
    const float *rope_factors; /* [n_rot / 2] divisors of each frequency (llama3 scaling), or NULL */
    layer_weights *layers;
    float *owned_floats;     /* norms stored in other types than F32, converted */
    int vocab_only;
    char *chat_template;     /* tokenizer.chat_template, NUL-terminated, or NULL */
    char arch[32];
    char name[128];
    bibim_ftype ftype;
    uint64_t n_params, n_bytes;
    char errmsg[512];
};

#endif
