/* types.c — the table of ggml tensor types: ids, names, block geometry. */
#include "bibim.h"

#include <string.h>
#include <strings.h>

typedef struct type_desc {
    const char *name;
    int64_t block_elems;
    int64_t block_bytes;
    int supported; /* bibim quantizes and dequantizes it */
} type_desc;

/* Indexed by ggml type id. A zero block_elems marks an id ggml retired or
 * never used. Block sizes are ggml's; the supported ones are also pinned by
 * _Static_assert beside their block structs in quant.h. */
static const type_desc type_table[] = {
    [BIBIM_TYPE_F32] = {"f32", 1, 4, 1},
    [BIBIM_TYPE_F16] = {"f16", 1, 2, 1},
    [BIBIM_TYPE_Q4_0] = {"q4_0", 32, 18, 1},
    [BIBIM_TYPE_Q4_1] = {"q4_1", 32, 20, 1},
    [BIBIM_TYPE_Q5_0] = {"q5_0", 32, 22, 1},
    [BIBIM_TYPE_Q5_1] = {"q5_1", 32, 24, 1},
    [BIBIM_TYPE_Q8_0] = {"q8_0", 32, 34, 1},
    [BIBIM_TYPE_Q8_1] = {"q8_1", 32, 36, 0},
    [BIBIM_TYPE_Q2_K] = {"q2_K", 256, 84, 1},
    [BIBIM_TYPE_Q3_K] = {"q3_K", 256, 110, 1},
    [BIBIM_TYPE_Q4_K] = {"q4_K", 256, 144, 1},
    [BIBIM_TYPE_Q5_K] = {"q5_K", 256, 176, 1},
    [BIBIM_TYPE_Q6_K] = {"q6_K", 256, 210, 1},
    [BIBIM_TYPE_Q8_K] = {"q8_K", 256, 292, 0},
    [BIBIM_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66, 0},
    [BIBIM_TYPE_IQ2_XS] = {"iq2_xs", 256, 74, 0},
    [BIBIM_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98, 0},
    [BIBIM_TYPE_IQ1_S] = {"iq1_s", 256, 50, 0},
    [BIBIM_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, 0},
    [BIBIM_TYPE_IQ3_S] = {"iq3_s", 256, 110, 0},
    [BIBIM_TYPE_IQ2_S] = {"iq2_s", 256, 82, 0},
    [BIBIM_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, 0},
    [BIBIM_TYPE_I8] = {"i8", 1, 1, 0},
    [BIBIM_TYPE_I16] = {"i16", 1, 2, 0},
    [BIBIM_TYPE_I32] = {"i32", 1, 4, 0},
    [BIBIM_TYPE_I64] = {"i64", 1, 8, 0},
    [BIBIM_TYPE_F64] = {"f64", 1, 8, 0},
    [BIBIM_TYPE_IQ1_M] = {"iq1_m", 256, 56, 0},
    [BIBIM_TYPE_BF16] = {"bf16", 1, 2, 1},
    [BIBIM_TYPE_TQ1_0] = {"tq1_0", 256, 54, 0},
    [BIBIM_TYPE_TQ2_0] = {"tq2_0", 256, 66, 0},
    [BIBIM_TYPE_MXFP4] = {"mxfp4", 32, 17, 0},
};

#define N_TYPE_IDS (sizeof type_table / sizeof type_table[0])

static const type_desc *type_lookup(uint32_t type) {
    if (type >= N_TYPE_IDS || type_table[type].block_elems == 0) return NULL;
    return &type_table[type];
}

int bibim_type_is_known(uint32_t type) { return type_lookup(type) != NULL; }

int bibim_type_is_supported(bibim_type type) {
    const type_desc *d = type_lookup((uint32_t)type);
    return d && d->supported;
}

const char *bibim_type_name(bibim_type type) {
    const type_desc *d = type_lookup((uint32_t)type);
    return d ? d->name : "unknown";
}

bibim_status bibim_type_from_name(const char *name, bibim_type *type) {
    if (!name || !type) return BIBIM_ERR_INVALID_ARG;
    for (uint32_t i = 0; i < N_TYPE_IDS; i++) {
        if (type_table[i].block_elems && strcasecmp(type_table[i].name, name) == 0) {
            *type = (bibim_type)i;
            return BIBIM_OK;
        }
    }
    return BIBIM_ERR_NOT_FOUND;
}

int64_t bibim_type_block_elems(bibim_type type) {
    const type_desc *d = type_lookup((uint32_t)type);
    return d ? d->block_elems : 0;
}

int64_t bibim_type_block_bytes(bibim_type type) {
    const type_desc *d = type_lookup((uint32_t)type);
    return d ? d->block_bytes : 0;
}

int64_t bibim_type_row_bytes(bibim_type type, int64_t n_elems) {
    const type_desc *d = type_lookup((uint32_t)type);
    if (!d || n_elems < 0 || n_elems % d->block_elems != 0) return -1;
    int64_t n_blocks = n_elems / d->block_elems;
    if (n_blocks > INT64_MAX / d->block_bytes) return -1;
    return n_blocks * d->block_bytes;
}
