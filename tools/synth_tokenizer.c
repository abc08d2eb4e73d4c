/* synth_tokenizer.c — the vocabulary of `bibim synth`: a made-up byte-level
 * BPE vocabulary in Llama 3's style, or one imported from a Hugging Face
 * tokenizer.json (+ tokenizer_config.json), turned into llama.cpp's
 * tokenizer.* keys. */
#include "synth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest vocabulary accepted from a file: far above any real model's, low
 * enough that a corrupt id cannot make us allocate gigabytes. */
#define MAX_TOKENS ((int64_t)1 << 24)

#define SPACE_MARK "\xC4\xA0"    /* U+0120 'Ġ': GPT-2's form of the space byte */
#define SPM_SPACE "\xE2\x96\x81" /* U+2581 '▁': SentencePiece's space */

/* Llama 3's pre-tokenizer regex, as its tokenizer.json spells it. */
static const char LLAMA3_PRE_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* Llama 3 style: bos, each message as header + trimmed content + eot, and the
 * assistant header to prompt a reply. llama.cpp recognises it by its header
 * tokens. */
static const char DEFAULT_CHAT_TEMPLATE[] =
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + "
    "'<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{%- endif %}";

/* ------------------------------------------------------------------------ */
/* Storage: strings that outlive the functions that make them               */
/* ------------------------------------------------------------------------ */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

#define MAX_JSON_DOCS 2

struct synth_vocab_storage {
    arena_block *blocks;
    cJSON *docs[MAX_JSON_DOCS]; /* parsed files whose strings the vocabulary points into */
};

/* `n` bytes that live as long as the vocabulary; NULL if memory ran out. */
static char *arena_alloc(synth_vocab_storage *s, size_t n) {
    arena_block *b = s->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = s->blocks;
        b->used = 0;
        b->cap = cap;
        s->blocks = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

/* The concatenation of a, sep (may be "") and b, NUL-terminated. */
static char *arena_join(synth_vocab_storage *s, bibim_str a, const char *sep, bibim_str b) {
    size_t sep_len = strlen(sep);
    char *p = arena_alloc(s, a.len + sep_len + b.len + 1);
    if (!p) return NULL;
    memcpy(p, a.ptr, a.len);
    memcpy(p + a.len, sep, sep_len);
    memcpy(p + a.len + sep_len, b.ptr, b.len);
    p[a.len + sep_len + b.len] = '\0';
    return p;
}

static bibim_str str_of(const char *s) { return (bibim_str){s, strlen(s)}; }

static int str_eq(bibim_str a, const char *b) { return a.len == strlen(b) && !memcmp(a.ptr, b, a.len); }

/* ------------------------------------------------------------------------ */
/* Token text → id                                                          */
/* ------------------------------------------------------------------------ */

/* Open addressing over the vocabulary's own token array. */
typedef struct token_index {
    int64_t *slots; /* token id, or -1 for empty */
    uint64_t mask;
    const bibim_str *tokens;
} token_index;

static uint64_t hash_bytes(const char *p, uint64_t n) {
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
    return h;
}

static int token_index_init(token_index *ix, const bibim_str *tokens, int64_t capacity) {
    uint64_t n_slots = 16;
    while (n_slots < 2 * (uint64_t)capacity) n_slots *= 2;
    ix->slots = malloc(n_slots * sizeof *ix->slots);
    if (!ix->slots) return -1;
    memset(ix->slots, 0xff, n_slots * sizeof *ix->slots); /* all -1 */
    ix->mask = n_slots - 1;
    ix->tokens = tokens;
    return 0;
}

static int64_t token_index_find(const token_index *ix, const char *text, uint64_t len) {
    for (uint64_t i = hash_bytes(text, len) & ix->mask;; i = (i + 1) & ix->mask) {
        int64_t id = ix->slots[i];
        if (id < 0) return -1;
        if (ix->tokens[id].len == len && !memcmp(ix->tokens[id].ptr, text, len)) return id;
    }
}

static int64_t find_cstr(const token_index *ix, const char *text) {
    return text ? token_index_find(ix, text, strlen(text)) : -1;
}

/* Adds token `id` (whose text is already in the array) unless its text is
 * already indexed: the lowest id wins, as in a dict built in id order. */
static void token_index_add(token_index *ix, int64_t id) {
    bibim_str t = ix->tokens[id];
    uint64_t i = hash_bytes(t.ptr, t.len) & ix->mask;
    for (; ix->slots[i] >= 0; i = (i + 1) & ix->mask) {
        bibim_str other = ix->tokens[ix->slots[i]];
        if (other.len == t.len && !memcmp(other.ptr, t.ptr, t.len)) return;
    }
    ix->slots[i] = id;
}

/* ------------------------------------------------------------------------ */
/* The vocabulary's lifetime and its keys                                   */
/* ------------------------------------------------------------------------ */

/* Zeroes `v` ("absent" for the optional keys) and gives it storage. */
static int vocab_init(synth_vocab *v) {
    memset(v, 0, sizeof *v);
    v->bos_id = v->eos_id = v->eot_id = v->unk_id = -1;
    v->add_bos = v->add_eos = -1;
    v->storage = calloc(1, sizeof *v->storage);
    return v->storage ? 0 : -1;
}

static int vocab_alloc_tokens(synth_vocab *v, int64_t n_tokens) {
    v->n_tokens = n_tokens;
    v->tokens = calloc((size_t)n_tokens, sizeof *v->tokens);
    v->token_types = calloc((size_t)n_tokens, sizeof *v->token_types);
    return v->tokens && v->token_types ? 0 : -1;
}

void synth_vocab_free(synth_vocab *v) {
    if (!v) return;
    if (v->storage) {
        for (arena_block *b = v->storage->blocks, *next; b; b = next) {
            next = b->next;
            free(b);
        }
        for (int i = 0; i < MAX_JSON_DOCS; i++) cJSON_Delete(v->storage->docs[i]);
        free(v->storage);
    }
    free(v->tokens);
    free(v->token_types);
    free(v->scores);
    free(v->merges);
    free(v->templates);
    memset(v, 0, sizeof *v);
}

#define TRY(expr)                                                                                                 \
    do {                                                                                                          \
        bibim_status try_status_ = (expr);                                                                        \
        if (try_status_ != BIBIM_OK) return try_status_;                                                          \
    } while (0)

static bibim_status set_token_id(bibim_gguf_writer *w, const char *key, int64_t id) {
    return id < 0 ? BIBIM_OK : bibim_gguf_writer_set_u32(w, key, (uint32_t)id);
}

static bibim_status set_flag(bibim_gguf_writer *w, const char *key, int flag) {
    return flag < 0 ? BIBIM_OK : bibim_gguf_writer_set_bool(w, key, flag);
}

static bibim_status write_templates(const synth_vocab *v, bibim_gguf_writer *w) {
    for (int i = 0; i < v->n_templates; i++) {
        const synth_template *t = &v->templates[i];
        if (!t->name) {
            TRY(bibim_gguf_writer_set_str(w, "tokenizer.chat_template", t->text));
            continue;
        }
        char key[512];
        if (snprintf(key, sizeof key, "tokenizer.chat_template.%s", t->name) >= (int)sizeof key)
            return BIBIM_ERR_INVALID_ARG;
        TRY(bibim_gguf_writer_set_str(w, key, t->text));
    }
    return BIBIM_OK;
}

bibim_status synth_vocab_write(const synth_vocab *v, bibim_gguf_writer *w) {
    uint64_t n = (uint64_t)v->n_tokens;
    TRY(bibim_gguf_writer_set_str(w, "tokenizer.ggml.model", v->model));
    TRY(bibim_gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre));
    TRY(bibim_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v->tokens, n));
    if (v->scores) TRY(bibim_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BIBIM_GGUF_FLOAT32, v->scores, n));
    TRY(bibim_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BIBIM_GGUF_INT32, v->token_types, n));
    if (v->has_merges)
        TRY(bibim_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", v->merges, (uint64_t)v->n_merges));
    TRY(set_token_id(w, "tokenizer.ggml.bos_token_id", v->bos_id));
    TRY(set_token_id(w, "tokenizer.ggml.eos_token_id", v->eos_id));
    TRY(set_token_id(w, "tokenizer.ggml.eot_token_id", v->eot_id));
    TRY(set_token_id(w, "tokenizer.ggml.unknown_token_id", v->unk_id));
    TRY(set_flag(w, "tokenizer.ggml.add_bos_token", v->add_bos));
    TRY(set_flag(w, "tokenizer.ggml.add_eos_token", v->add_eos));
    return write_templates(v, w);
}

/* ------------------------------------------------------------------------ */
/* The default vocabulary                                                   */
/* ------------------------------------------------------------------------ */

/* Frequent English letter pairs; each becomes a merge and a token. */
static const char FREQUENT_BIGRAMS[] = "th he in er an re on at en nd ti es or te of ed is it al ar "
                                       "st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea";

/* Merges of merged tokens, so that BPE has to chain merges. They come after
 * the bigrams and the space+letter merges, whose results they use. */
static const char *const WORD_MERGES[][2] = {
    {"th", "e"},         {SPACE_MARK, "the"}, {"an", "d"},         {SPACE_MARK, "and"}, {"in", "g"},
    {SPACE_MARK, "of"},  {SPACE_MARK, "to"},  {SPACE_MARK, "in"},  {SPACE_MARK, "is"},  {SPACE_MARK, "it"},
};

static const char *const DEFAULT_SPECIAL_TOKENS[] = {
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
};

/* GPT-2 shows each byte as a printable code point: printable Latin-1 bytes
 * as themselves, the others as U+0100 onwards, in byte order. */
static int gpt2_byte_is_printable(unsigned byte) {
    return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
}

static uint32_t gpt2_byte_code_point(unsigned byte) {
    if (gpt2_byte_is_printable(byte)) return byte;
    uint32_t n_unprintable_below = 0;
    for (unsigned b = 0; b < byte; b++) n_unprintable_below += !gpt2_byte_is_printable(b);
    return 0x100 + n_unprintable_below;
}

static size_t utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12)); /* every code point used here is below U+10000 */
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* Building state of the default vocabulary. */
typedef struct vocab_builder {
    synth_vocab *v;
    token_index index;
    int64_t n_used;
    int64_t merge_cap;
} vocab_builder;

static int builder_add_token(vocab_builder *b, const char *text, int32_t type) {
    if (b->n_used == b->v->n_tokens) return -1;
    b->v->tokens[b->n_used] = str_of(text);
    b->v->token_types[b->n_used] = type;
    token_index_add(&b->index, b->n_used);
    b->n_used++;
    return 0;
}

/* Appends the merge "left right" and its result token (if new). */
static int builder_add_merge(vocab_builder *b, const char *left, const char *right) {
    synth_vocab *v = b->v;
    if (find_cstr(&b->index, left) < 0 || find_cstr(&b->index, right) < 0)
        return -1; /* a merge of unknown symbols: the tables above are wrong */
    if (v->n_merges == b->merge_cap) return -1;
    const char *merge = arena_join(v->storage, str_of(left), " ", str_of(right));
    const char *result = arena_join(v->storage, str_of(left), "", str_of(right));
    if (!merge || !result) return -1;
    v->merges[v->n_merges++] = str_of(merge);
    if (find_cstr(&b->index, result) >= 0) return 0;
    return builder_add_token(b, result, SYNTH_TOKEN_NORMAL);
}

static int add_byte_tokens(vocab_builder *b) {
    for (unsigned byte = 0; byte < 256; byte++) {
        char utf8[4];
        size_t len = utf8_encode(gpt2_byte_code_point(byte), utf8);
        char *text = arena_alloc(b->v->storage, len + 1);
        if (!text) return -1;
        memcpy(text, utf8, len);
        text[len] = '\0';
        if (builder_add_token(b, text, SYNTH_TOKEN_NORMAL)) return -1;
    }
    return 0;
}

static int add_default_merges(vocab_builder *b) {
    for (const char *p = FREQUENT_BIGRAMS; *p; p += p[2] ? 3 : 2) {
        const char left[2] = {p[0], '\0'}, right[2] = {p[1], '\0'};
        if (builder_add_merge(b, left, right)) return -1;
    }
    for (char c = 'a'; c <= 'z'; c++) {
        const char letter[2] = {c, '\0'};
        if (builder_add_merge(b, SPACE_MARK, letter)) return -1;
    }
    for (size_t i = 0; i < sizeof WORD_MERGES / sizeof WORD_MERGES[0]; i++)
        if (builder_add_merge(b, WORD_MERGES[i][0], WORD_MERGES[i][1])) return -1;
    return 0;
}

/* The named control tokens, then reserved ones up to the vocabulary size. */
static int add_special_tokens(vocab_builder *b) {
    size_t n_named = sizeof DEFAULT_SPECIAL_TOKENS / sizeof DEFAULT_SPECIAL_TOKENS[0];
    if (b->v->n_tokens - b->n_used < (int64_t)n_named) return -1;
    for (size_t i = 0; i < n_named; i++)
        if (builder_add_token(b, DEFAULT_SPECIAL_TOKENS[i], SYNTH_TOKEN_CONTROL)) return -1;
    for (int64_t n = 0; b->n_used < b->v->n_tokens; n++) {
        char *text = arena_alloc(b->v->storage, 48);
        if (!text) return -1;
        snprintf(text, 48, "<|reserved_special_token_%lld|>", (long long)n);
        if (builder_add_token(b, text, SYNTH_TOKEN_CONTROL)) return -1;
    }
    return 0;
}

int synth_vocab_default(synth_vocab *v, int64_t n_tokens, char *err, size_t err_size) {
    vocab_builder b = {.v = v, .merge_cap = 256};
    if (vocab_init(v) || vocab_alloc_tokens(v, n_tokens) ||
        !(v->merges = calloc((size_t)b.merge_cap, sizeof *v->merges)) ||
        token_index_init(&b.index, v->tokens, n_tokens)) {
        free(b.index.slots);
        snprintf(err, err_size, "out of memory building the default vocabulary");
        return -1;
    }
    v->model = "gpt2";
    v->pre = "llama-bpe";
    v->has_merges = 1;
    int rc = add_byte_tokens(&b) || add_default_merges(&b) || add_special_tokens(&b) ? -1 : 0;
    if (rc == 0) {
        v->bos_id = find_cstr(&b.index, "<|begin_of_text|>");
        /* As in Llama 3 Instruct: generation ends at the end of a turn. */
        v->eos_id = v->eot_id = find_cstr(&b.index, "<|eot_id|>");
        v->add_bos = 1;
        v->templates = malloc(sizeof *v->templates);
        if (v->templates) {
            v->templates[0] = (synth_template){NULL, DEFAULT_CHAT_TEMPLATE};
            v->n_templates = 1;
        } else {
            rc = -1;
        }
    }
    free(b.index.slots);
    if (rc) snprintf(err, err_size, "cannot build the default vocabulary in %lld tokens (out of memory, or too "
                                    "few tokens: it needs about 350)", (long long)n_tokens);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Importing tokenizer.json                                                 */
/* ------------------------------------------------------------------------ */

typedef struct importer {
    synth_vocab *v;
    const char *path; /* the file being read, for messages */
    char *err;
    size_t err_size;
    token_index index;
    const cJSON *json;   /* tokenizer.json */
    const cJSON *config; /* tokenizer_config.json, or NULL */
} importer;

/* Stores "<path>: <message>" as the error; returns -1. */
__attribute__((format(printf, 2, 3))) static int import_fail(importer *im, const char *fmt, ...) {
    int n = snprintf(im->err, im->err_size, "%s: ", im->path);
    if (n >= 0 && (size_t)n < im->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(im->err + n, im->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

__attribute__((format(printf, 2, 3))) static void import_warn(const importer *im, const char *fmt, ...) {
    fprintf(stderr, "bibim synth: %s: ", im->path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Reads a whole file into a malloc'd buffer. errno is set on failure. */
static char *read_whole_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 65536) {
            size_t new_cap = cap ? cap * 2 : 1 << 20;
            char *grown = realloc(buf, new_cap);
            if (!grown) {
                errno = ENOMEM;
                break;
            }
            buf = grown;
            cap = new_cap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) break;
            fclose(f);
            *len = n;
            return buf;
        }
    }
    int saved = errno ? errno : EIO;
    fclose(f);
    free(buf);
    errno = saved;
    return NULL;
}

/* Parses `im->path` as a JSON object, kept alive in the vocabulary's storage
 * slot `doc`. NULL (with the error set) on failure. */
static const cJSON *parse_json_file(importer *im, int doc) {
    size_t len = 0;
    char *text = read_whole_file(im->path, &len);
    if (!text) {
        import_fail(im, "cannot read: %s", strerror(errno));
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : len;
        if (at > len) at = len;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < at; i++, col++)
            if (text[i] == '\n') line++, col = 0;
        import_fail(im, "not valid JSON: error at line %zu, column %zu (byte %zu of %zu)%s", line, col, at, len,
                    at + 1 >= len ? ": the text ends too early (truncated?)" : "");
    } else if (!cJSON_IsObject(root)) {
        import_fail(im, "the top level is not a JSON object");
        cJSON_Delete(root);
        root = NULL;
    }
    free(text);
    im->v->storage->docs[doc] = root;
    return root;
}

static const cJSON *member(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

static int member_is(const cJSON *obj, const char *key, const char *value) {
    const cJSON *m = member(obj, key);
    return cJSON_IsString(m) && !strcmp(m->valuestring, value);
}

/* A JSON number that is a token id: an integer in [0, MAX_TOKENS). */
static int64_t json_token_id(const cJSON *item) {
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0 && d < (double)MAX_TOKENS) || d != (double)(int64_t)d) return -1;
    return (int64_t)d;
}

/* The first node, `node` itself or one nested in a Sequence's `list_key`
 * array, for which `pred` holds; NULL if none. */
static const cJSON *find_node(const cJSON *node, const char *list_key, int (*pred)(const cJSON *)) {
    if (!cJSON_IsObject(node)) return NULL;
    if (pred(node)) return node;
    const cJSON *list = member(node, list_key);
    const cJSON *child;
    cJSON_ArrayForEach(child, list) {
        const cJSON *found = find_node(child, list_key, pred);
        if (found) return found;
    }
    return NULL;
}

static int is_byte_level(const cJSON *n) { return member_is(n, "type", "ByteLevel"); }

static int is_byte_level_with_regex(const cJSON *n) {
    return is_byte_level(n) && !cJSON_IsFalse(member(n, "use_regex")); /* HF's default is true */
}

static int is_split(const cJSON *n) { return member_is(n, "type", "Split"); }

static int is_llama3_split(const cJSON *n) {
    return is_split(n) && member_is(member(n, "pattern"), "Regex", LLAMA3_PRE_REGEX);
}

static int is_spm_normalizer(const cJSON *n) {
    return (member_is(n, "type", "Prepend") && member_is(n, "prepend", SPM_SPACE)) ||
           (member_is(n, "type", "Replace") && member_is(n, "content", SPM_SPACE));
}

static int is_template_processing(const cJSON *n) { return member_is(n, "type", "TemplateProcessing"); }

/* Largest id in model.vocab and added_tokens, checking their shapes. */
static int scan_ids(importer *im, const cJSON *vocab, const cJSON *added, int64_t *max_id) {
    *max_id = -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        int64_t id = json_token_id(item);
        if (id < 0)
            return import_fail(im, "model.vocab[\"%s\"] is not a token id (an integer from 0 to %lld)", item->string,
                               (long long)MAX_TOKENS - 1);
        if (id > *max_id) *max_id = id;
    }
    int i = 0;
    cJSON_ArrayForEach(item, added) {
        int64_t id = json_token_id(member(item, "id"));
        if (id < 0 || !cJSON_IsString(member(item, "content")))
            return import_fail(im, "added_tokens[%d] needs an integer \"id\" from 0 to %lld and a string \"content\"",
                               i, (long long)MAX_TOKENS - 1);
        if (id > *max_id) *max_id = id;
        i++;
    }
    if (*max_id < 0) return import_fail(im, "model.vocab is empty");
    return 0;
}

/* Puts `text` at `id`; two different texts for one id are an error. */
static int place_token(importer *im, int64_t id, const char *text, const char *where) {
    bibim_str *slot = &im->v->tokens[id];
    if (slot->ptr && strcmp(slot->ptr, text))
        return import_fail(im, "token id %lld is both \"%s\" and \"%s\" (%s)", (long long)id, slot->ptr, text, where);
    *slot = str_of(text);
    return 0;
}

static int check_no_holes(importer *im) {
    int64_t first = -1, n_missing = 0;
    for (int64_t id = 0; id < im->v->n_tokens; id++) {
        if (im->v->tokens[id].ptr) continue;
        if (first < 0) first = id;
        n_missing++;
    }
    if (n_missing)
        return import_fail(im, "no token has id %lld (%lld ids from 0 to %lld have no token)", (long long)first,
                           (long long)n_missing, (long long)im->v->n_tokens - 1);
    return 0;
}

static int is_spm_byte_token(const char *t) {
    static const char HEX[] = "0123456789ABCDEF";
    return strlen(t) == 6 && !strncmp(t, "<0x", 3) && t[3] && strchr(HEX, t[3]) && t[4] && strchr(HEX, t[4]) &&
           t[5] == '>';
}

/* Normal tokens by default; added tokens and the SentencePiece classes on top. */
static void assign_token_types(importer *im, const cJSON *added, int sentencepiece) {
    synth_vocab *v = im->v;
    for (int64_t id = 0; id < v->n_tokens; id++)
        v->token_types[id] =
            sentencepiece && is_spm_byte_token(v->tokens[id].ptr) ? SYNTH_TOKEN_BYTE : SYNTH_TOKEN_NORMAL;
    const cJSON *item;
    cJSON_ArrayForEach(item, added) {
        int64_t id = json_token_id(member(item, "id"));
        v->token_types[id] = cJSON_IsTrue(member(item, "special")) ? SYNTH_TOKEN_CONTROL : SYNTH_TOKEN_USER_DEFINED;
    }
    if (sentencepiece && v->unk_id >= 0) v->token_types[v->unk_id] = SYNTH_TOKEN_UNKNOWN;
}

static int load_tokens(importer *im, const cJSON *vocab, const cJSON *added) {
    int64_t max_id;
    if (scan_ids(im, vocab, added, &max_id)) return -1;
    if (vocab_alloc_tokens(im->v, max_id + 1) || token_index_init(&im->index, im->v->tokens, max_id + 1))
        return import_fail(im, "out of memory for %lld tokens", (long long)max_id + 1);
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        if (place_token(im, json_token_id(item), item->string, "model.vocab")) return -1;
    }
    cJSON_ArrayForEach(item, added) {
        if (place_token(im, json_token_id(member(item, "id")), member(item, "content")->valuestring, "added_tokens"))
            return -1;
    }
    if (check_no_holes(im)) return -1;
    for (int64_t id = 0; id < im->v->n_tokens; id++) token_index_add(&im->index, id);
    return 0;
}

/* One merge rule as its two sides, from either of HF's forms: "a b" or ["a", "b"]. */
static int merge_sides(importer *im, const cJSON *item, int64_t r, bibim_str *left, bibim_str *right) {
    if (cJSON_IsString(item)) {
        /* Split at the first space after the first byte, as llama.cpp does. */
        const char *text = item->valuestring;
        const char *space = text[0] ? strchr(text + 1, ' ') : NULL;
        if (!space)
            return import_fail(im, "model.merges[%lld] \"%s\" is not two tokens separated by a space", (long long)r,
                               text);
        *left = (bibim_str){text, (uint64_t)(space - text)};
        *right = str_of(space + 1);
        return 0;
    }
    const cJSON *a = cJSON_GetArrayItem(item, 0), *b = cJSON_GetArrayItem(item, 1);
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b))
        return import_fail(im, "model.merges[%lld] is neither a \"left right\" string nor a pair of strings",
                           (long long)r);
    *left = str_of(a->valuestring);
    *right = str_of(b->valuestring);
    return 0;
}

/* Keeps the merges as "left right" strings (byte-level BPE). */
static int load_merges(importer *im, const cJSON *merges) {
    synth_vocab *v = im->v;
    int64_t n = cJSON_GetArraySize(merges);
    v->has_merges = 1;
    v->merges = calloc(n ? (size_t)n : 1, sizeof *v->merges);
    if (!v->merges) return import_fail(im, "out of memory for %lld merges", (long long)n);
    const cJSON *item;
    cJSON_ArrayForEach(item, merges) {
        bibim_str left, right;
        if (merge_sides(im, item, v->n_merges, &left, &right)) return -1;
        if (cJSON_IsString(item)) {
            v->merges[v->n_merges++] = str_of(item->valuestring);
            continue;
        }
        const char *joined = arena_join(v->storage, left, " ", right);
        if (!joined) return import_fail(im, "out of memory for the merges");
        v->merges[v->n_merges++] = str_of(joined);
    }
    return 0;
}

/* SentencePiece scores from merge priority: the token first made by merge r
 * scores -r, so llama.cpp's SPM tokenizer merges in HF's order. */
static int scores_from_merges(importer *im, const cJSON *merges) {
    synth_vocab *v = im->v;
    v->scores = calloc((size_t)v->n_tokens, sizeof *v->scores);
    unsigned char *scored = calloc((size_t)v->n_tokens, 1);
    char *joined = NULL;
    size_t joined_cap = 0;
    int rc = v->scores && scored ? 0 : import_fail(im, "out of memory for the scores");
    int64_t r = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, merges) {
        bibim_str left, right;
        if (rc || (rc = merge_sides(im, item, r, &left, &right))) break;
        if (left.len + right.len > joined_cap) {
            joined_cap = 2 * (left.len + right.len);
            char *grown = realloc(joined, joined_cap);
            if (!grown) {
                rc = import_fail(im, "out of memory for the scores");
                break;
            }
            joined = grown;
        }
        memcpy(joined, left.ptr, left.len);
        memcpy(joined + left.len, right.ptr, right.len);
        int64_t id = token_index_find(&im->index, joined, left.len + right.len);
        if (id >= 0 && !scored[id]) {
            v->scores[id] = -(float)r;
            scored[id] = 1;
        }
        r++;
    }
    free(joined);
    free(scored);
    return rc;
}

/* tokenizer.ggml.pre for a byte-level BPE, from its pre-tokenizer. */
static const char *byte_level_pre(const importer *im, const cJSON *pre_tokenizer) {
    if (find_node(pre_tokenizer, "pretokenizers", is_llama3_split)) return "llama-bpe";
    if (!find_node(pre_tokenizer, "pretokenizers", is_split) &&
        find_node(pre_tokenizer, "pretokenizers", is_byte_level_with_regex))
        return "gpt-2";
    import_warn(im, "warning: the pre-tokenizer is neither Llama 3's nor GPT-2's; writing tokenizer.ggml.pre "
                    "\"default\", which llama.cpp may split text differently with");
    return "default";
}

static int import_model(importer *im) {
    const cJSON *model = member(im->json, "model");
    if (!cJSON_IsObject(model)) return import_fail(im, "no \"model\" object");
    const cJSON *type = member(model, "type");
    if (type && !member_is(model, "type", "BPE"))
        return import_fail(im, "model.type is %s; only BPE tokenizers are supported",
                           cJSON_IsString(type) ? type->valuestring : "not a string");
    const cJSON *vocab = member(model, "vocab"), *merges = member(model, "merges");
    const cJSON *added = member(im->json, "added_tokens");
    if (!cJSON_IsObject(vocab)) return import_fail(im, "model.vocab is missing or not an object");
    if (!cJSON_IsArray(merges)) return import_fail(im, "model.merges is missing or not an array");
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added))
        return import_fail(im, "added_tokens is not an array");

    const cJSON *pre_tokenizer = member(im->json, "pre_tokenizer");
    int byte_level = find_node(pre_tokenizer, "pretokenizers", is_byte_level) != NULL;
    int sentencepiece = !byte_level && (cJSON_IsTrue(member(model, "byte_fallback")) ||
                                        find_node(member(im->json, "normalizer"), "normalizers", is_spm_normalizer));
    if (!byte_level && !sentencepiece)
        return import_fail(im, "neither a byte-level BPE (no ByteLevel pre-tokenizer) nor a SentencePiece-style "
                               "BPE (no byte_fallback, no \"" SPM_SPACE "\" normalizer)");
    if (load_tokens(im, vocab, added)) return -1;

    const cJSON *unk = member(model, "unk_token");
    if (cJSON_IsString(unk)) {
        im->v->unk_id = find_cstr(&im->index, unk->valuestring);
        if (im->v->unk_id < 0)
            import_warn(im, "warning: model.unk_token \"%s\" is not in the vocabulary", unk->valuestring);
    }
    assign_token_types(im, added, sentencepiece);
    if (sentencepiece) {
        im->v->model = "llama";
        im->v->pre = "default";
        return scores_from_merges(im, merges);
    }
    im->v->model = "gpt2";
    im->v->pre = byte_level_pre(im, pre_tokenizer);
    return load_merges(im, merges);
}

/* ------------------------------------------------------------------------ */
/* tokenizer_config.json                                                    */
/* ------------------------------------------------------------------------ */

/* A special token's text: a string, or an object with "content". */
static const char *special_token_text(const cJSON *item) {
    if (cJSON_IsString(item)) return item->valuestring;
    const cJSON *content = member(item, "content");
    return cJSON_IsString(content) ? content->valuestring : NULL;
}

/* The id of the first of `names` (NULL-terminated) in the vocabulary, or -1. */
static int64_t first_present(const importer *im, const char *const *names) {
    for (; *names; names++) {
        int64_t id = find_cstr(&im->index, *names);
        if (id >= 0) return id;
    }
    return -1;
}

/* The id of the config's `key` token; without that key, of the first of
 * `fallbacks` present. */
static int64_t special_token_id(const importer *im, const char *key, const char *const *fallbacks) {
    const cJSON *item = im->config ? member(im->config, key) : NULL;
    if (!item || cJSON_IsNull(item)) return first_present(im, fallbacks);
    const char *text = special_token_text(item);
    int64_t id = find_cstr(&im->index, text);
    if (id < 0)
        import_warn(im, "warning: %s %s%s%s is not in the vocabulary; not written", key, text ? "\"" : "",
                    text ? text : "(not a string)", text ? "\"" : "");
    return id;
}

/* 1 if the post-processor's single-sequence template inserts the bos token,
 * 0 if it has a template without it, -1 if there is no template to tell. */
static int template_adds_bos(const importer *im) {
    const cJSON *tp = find_node(member(im->json, "post_processor"), "processors", is_template_processing);
    if (!tp || im->v->bos_id < 0) return -1;
    const cJSON *piece;
    cJSON_ArrayForEach(piece, member(tp, "single")) {
        const cJSON *id = member(member(piece, "SpecialToken"), "id");
        if (cJSON_IsString(id) && str_eq(im->v->tokens[im->v->bos_id], id->valuestring)) return 1;
    }
    return 0;
}

static int config_flag(importer *im, const char *key, int *flag) {
    const cJSON *item = im->config ? member(im->config, key) : NULL;
    if (!item || cJSON_IsNull(item)) return 0;
    if (!cJSON_IsBool(item)) return import_fail(im, "%s is not true or false", key);
    *flag = cJSON_IsTrue(item) ? 1 : 0;
    return 0;
}

static int load_chat_templates(importer *im) {
    const cJSON *ct = member(im->config, "chat_template");
    if (!ct || cJSON_IsNull(ct)) return 0;
    synth_vocab *v = im->v;
    int n = cJSON_IsString(ct) ? 1 : cJSON_GetArraySize(ct);
    if (!cJSON_IsString(ct) && !cJSON_IsArray(ct))
        return import_fail(im, "chat_template is neither a string nor a list of {name, template}");
    v->templates = calloc(n ? (size_t)n : 1, sizeof *v->templates);
    if (!v->templates) return import_fail(im, "out of memory for the chat templates");
    if (cJSON_IsString(ct)) {
        v->templates[v->n_templates++] = (synth_template){NULL, ct->valuestring};
        return 0;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, ct) {
        const cJSON *name = member(item, "name"), *text = member(item, "template");
        if (!cJSON_IsString(name) || !cJSON_IsString(text) || !name->valuestring[0])
            return import_fail(im, "chat_template[%d] needs a string \"name\" and a string \"template\"",
                               v->n_templates);
        int is_default = !strcmp(name->valuestring, "default");
        v->templates[v->n_templates++] = (synth_template){is_default ? NULL : name->valuestring, text->valuestring};
    }
    return 0;
}

static const char *const BOS_FALLBACKS[] = {"<|begin_of_text|>", "<s>", NULL};
static const char *const EOS_FALLBACKS[] = {"<|end_of_text|>", "</s>", NULL};
static const char *const EOT_TOKENS[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", NULL};

/* Special token ids, bos/eos flags and chat templates. */
static int import_config(importer *im) {
    synth_vocab *v = im->v;
    v->bos_id = special_token_id(im, "bos_token", BOS_FALLBACKS);
    v->eos_id = special_token_id(im, "eos_token", EOS_FALLBACKS);
    v->eot_id = first_present(im, EOT_TOKENS);
    v->add_bos = template_adds_bos(im);
    if (config_flag(im, "add_bos_token", &v->add_bos) || config_flag(im, "add_eos_token", &v->add_eos)) return -1;
    return im->config ? load_chat_templates(im) : 0;
}

/* "<dir of path>/tokenizer_config.json" into `out`. */
static int config_path_beside(const char *path, char *out, size_t out_size) {
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    int n = snprintf(out, out_size, "%.*s/tokenizer_config.json", dir_len, dir);
    return n >= 0 && (size_t)n < out_size ? 0 : -1;
}

int synth_vocab_import(synth_vocab *v, const char *tokenizer_json, char *err, size_t err_size) {
    importer im = {.v = v, .path = tokenizer_json, .err = err, .err_size = err_size};
    char config_path[4096];
    int rc = -1;
    if (vocab_init(v)) {
        snprintf(err, err_size, "out of memory");
    } else if ((im.json = parse_json_file(&im, 0)) && !import_model(&im)) {
        if (config_path_beside(tokenizer_json, config_path, sizeof config_path)) {
            import_fail(&im, "the path is too long");
        } else {
            im.path = config_path;
            if (access(config_path, F_OK) == 0) {
                rc = (im.config = parse_json_file(&im, 1)) ? import_config(&im) : -1;
            } else {
                import_warn(&im, "note: not found; using bos/eos tokens found by name and no chat template");
                rc = import_config(&im);
            }
        }
    }
    free(im.index.slots);
    return rc;
}
