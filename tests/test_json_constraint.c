/* test_json_constraint.c — JSON mode: the byte-by-byte recognizer
 * (src/json_constraint.h) on exact byte strings, cross-checked with the
 * strict parser of src/json.c; then the sampler in JSON mode on stories260K
 * with random logits and with the model itself, under several sampling
 * settings and seeds: every text it produces must parse as an object. */
#include "bibim.h"
#include "harness.h"
#include "json.h"
#include "json_constraint.h"

#include <math.h>
#include <stdint.h>

#define STORIES SHARED_DIR "/models/stories260K.gguf"

static bibim_model *model;

static int32_t n_vocab_of(const bibim_model *m) {
    bibim_model_info info;
    bibim_model_get_info(m, &info);
    return info.n_vocab;
}

/* 1 if all of text is a valid prefix; *complete receives jsonc_complete. */
static int prefix_ok(const char *text, size_t len, int *complete) {
    jsonc_state s;
    jsonc_init(&s);
    int ok = jsonc_feed(&s, text, len);
    if (complete) *complete = ok && jsonc_complete(&s);
    return ok;
}

/* 1 if src/json.c accepts the text as an object. */
static int parses_as_object(const char *text, size_t len) {
    char err[200];
    struct jinja_value *v = json_parse(text, len, err, sizeof err);
    int ok = v && jinja_value_type(v) == JINJA_OBJECT;
    jinja_value_free(v);
    return ok;
}

typedef struct {
    const char *text;
    size_t len;     /* 0: strlen */
    int prefix;     /* the whole text is a valid prefix */
    int complete;   /* ... and a complete object */
} case_t;

static const case_t cases[] = {
    /* structure */
    {"{}", 0, 1, 1},
    {"  {  }  ", 0, 1, 1},
    {"{", 0, 1, 0},
    {"{\"a\":1}", 0, 1, 1},
    {"{\"a\" : [1, 2, {\"b\": [[], {}]}], \"c\": {\"d\": null}}", 0, 1, 1},
    {"{\"a\":{\"b\":{\"c\":[", 0, 1, 0},
    {"[]", 0, 0, 0},          /* the top level is an object */
    {"\"a\"", 0, 0, 0},
    {"1", 0, 0, 0},
    {"{}{", 0, 0, 0},         /* nothing after the object */
    {"{} x", 0, 0, 0},
    {"{\"a\":1,}", 0, 0, 0},  /* trailing commas */
    {"{\"a\":[1,]}", 0, 0, 0},
    {"{,", 0, 0, 0},
    {"{\"a\"}", 0, 0, 0},
    {"{\"a\":}", 0, 0, 0},
    {"{\"a\":1]", 0, 0, 0},   /* mismatched brackets */
    {"{\"a\":[1}", 0, 0, 0},
    {"{1:2}", 0, 0, 0},       /* keys are strings */
    {"{'a':1}", 0, 0, 0},
    {"{\"a\"::1}", 0, 0, 0},
    {"{\"a\":1 \"b\":2}", 0, 0, 0},
    {"{/*c*/}", 0, 0, 0},
    /* literals */
    {"{\"a\":true,\"b\":false,\"c\":null}", 0, 1, 1},
    {"{\"a\":tru", 0, 1, 0},
    {"{\"a\":True}", 0, 0, 0},
    {"{\"a\":nul}", 0, 0, 0},
    {"{\"a\":truex", 0, 0, 0},
    {"{\"a\":nan}", 0, 0, 0},
    /* numbers */
    {"{\"a\":-0.5e+10}", 0, 1, 1},
    {"{\"a\":0,\"b\":-0,\"c\":10,\"d\":1.25,\"e\":1E5,\"f\":2e-3,\"g\":0.0}", 0, 1, 1},
    {"{\"a\":01}", 0, 0, 0},
    {"{\"a\":-01}", 0, 0, 0},
    {"{\"a\":00", 0, 0, 0},
    {"{\"a\":1.}", 0, 0, 0},
    {"{\"a\":.5}", 0, 0, 0},
    {"{\"a\":1e}", 0, 0, 0},
    {"{\"a\":1e+}", 0, 0, 0},
    {"{\"a\":+1}", 0, 0, 0},
    {"{\"a\":-}", 0, 0, 0},
    {"{\"a\":1.5.2}", 0, 0, 0},
    {"{\"a\":1e5e5}", 0, 0, 0},
    {"{\"a\":0x10}", 0, 0, 0},
    {"{\"a\":-0.5e", 0, 1, 0},
    {"{\"a\":[1 ,2 ] }", 0, 1, 1},
    /* strings and escapes */
    {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 0, 1, 1},
    {"{\"a\":\"\\x\"}", 0, 0, 0},
    {"{\"a\":\"\\'\"}", 0, 0, 0},
    {"{\"a\":\"\\u00e9\\u4E2D\\uffff\"}", 0, 1, 1},
    {"{\"a\":\"\\u00G0\"}", 0, 0, 0},
    {"{\"a\":\"\\u12\"}", 0, 0, 0},
    {"{\"a\":\"\\uD83D\\uDE00\"}", 0, 1, 1},       /* a surrogate pair */
    {"{\"a\":\"\\ud83d\\ude00\"}", 0, 1, 1},
    {"{\"a\":\"\\uDBFF\\uDFFF\"}", 0, 1, 1},
    {"{\"a\":\"\\uD83D\"}", 0, 0, 0},              /* a lone high surrogate */
    {"{\"a\":\"\\uD83Dx\"}", 0, 0, 0},
    {"{\"a\":\"\\uD83D\\n\"}", 0, 0, 0},
    {"{\"a\":\"\\uD83D\\u0041\"}", 0, 0, 0},       /* high then not low */
    {"{\"a\":\"\\uD83D\\uD83D\"}", 0, 0, 0},
    {"{\"a\":\"\\uDE00\"}", 0, 0, 0},              /* a lone low surrogate */
    {"{\"a\":\"\\uD7FF\\uE000\"}", 0, 1, 1},       /* around the surrogates */
    {"{\"a\":\"\\u0000\"}", 0, 1, 1},              /* allowed in values ... */
    {"{\"\\u0000\":1}", 0, 0, 0},                  /* ... not in keys (src/json.c) */
    {"{\"\\u0001\":1}", 0, 1, 1},
    {"{\"a\":\"tab\there\"}", 0, 0, 0},            /* raw control characters */
    {"{\"a\":\"line\nbreak\"}", 0, 0, 0},
    {"{\"a\":\"\x7f\"}", 0, 1, 1},
    {"{\"a\":\"abc", 0, 1, 0},
    /* UTF-8 */
    {"{\"\xc3\xa9t\xc3\xa9\":\"\xe4\xb8\xad\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}", 0, 1, 1},
    {"{\"a\":\"\xc3", 0, 1, 0},                    /* a character cut: still a prefix */
    {"{\"a\":\"\xf0\x9f\x98", 0, 1, 0},
    {"{\"a\":\"\xc3\"}", 0, 0, 0},                 /* ... never completed */
    {"{\"a\":\"\xc0\xaf\"}", 0, 0, 0},             /* overlong */
    {"{\"a\":\"\xe0\x80\xaf\"}", 0, 0, 0},
    {"{\"a\":\"\xf0\x80\x80\xaf\"}", 0, 0, 0},
    {"{\"a\":\"\xed\xa0\x80\"}", 0, 0, 0},         /* a surrogate in UTF-8 */
    {"{\"a\":\"\xf4\x90\x80\x80\"}", 0, 0, 0},     /* above U+10FFFF */
    {"{\"a\":\"\xf5\"}", 0, 0, 0},
    {"{\"a\":\"\x80\"}", 0, 0, 0},                 /* a lone continuation byte */
    {"{\"a\":\"\xff\"}", 0, 0, 0},
    {"{\"\xc3\xa9\":1}", 0, 1, 1},
    {"{\xc3\xa9}", 0, 0, 0},                       /* non-ASCII outside strings */
    {"{\"a\":\"\0\"}", 8, 0, 0},                   /* a NUL byte */
    /* whitespace: at most 16 in a row, between tokens and around the object */
    {"\t\r\n {\t\"a\"\r:\n1 } \n", 0, 1, 1},
    {"                {}", 0, 1, 1},               /* 16 */
    {"                 {}", 0, 0, 0},              /* 17 */
    {"{\"a\":                1}", 0, 1, 1},
    {"{\"a\":                 1}", 0, 0, 0},
    {"{}                ", 0, 1, 1},
    {"{}                 ", 0, 0, 0},
    {"{\"a\":[1,       \n        2]}", 0, 1, 1},     /* 16 */
    {"{\"a\":[1,        \n         2]}", 0, 0, 0},   /* 17 */
    {"{ \"a\" : 1 , \"b\" : 2 }", 0, 1, 1},          /* each run counts alone */
    {"{\"a\":1                }", 0, 1, 1},         /* after a number: 16 */
    {"{\"a\":1                 }", 0, 0, 0},
    {"{\"a\":\"                                  \"}", 0, 1, 1}, /* inside a string: text, unbounded */
    {"{\f}", 0, 0, 0},                              /* not JSON whitespace */
};

static int test_exact_strings(void) {
    int n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const case_t *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        int complete, ok = prefix_ok(c->text, len, &complete);
        CHECKF(ok == c->prefix && complete == c->complete, "case %zu %s: prefix %d complete %d", i, c->text, ok,
               complete);
        /* The strict parser agrees on complete texts (within the bounds). */
        if (c->complete) CHECKF(parses_as_object(c->text, len), "case %zu %s: json.c refuses it", i, c->text);
        /* Every split point: state copies carry partial UTF-8, escapes, numbers. */
        for (size_t cut = 0; cut <= len; cut++) {
            jsonc_state s, copy;
            jsonc_init(&s);
            int a = jsonc_feed(&s, c->text, cut);
            copy = s;
            int b = a && jsonc_feed(&copy, c->text + cut, len - cut);
            if (ok) CHECKF(a && b && jsonc_complete(&copy) == complete, "case %zu cut at %zu", i, cut);
            else CHECKF(!(a && b), "case %zu cut at %zu accepted", i, cut);
        }
        n++;
    }
    CHECK(n > 90);
    /* Nesting: 127 arrays inside the object (128 deep) is the limit. */
    char deep[600];
    size_t k = 0;
    deep[k++] = '{', memcpy(deep + k, "\"a\":", 4), k += 4;
    for (int d = 0; d < JSONC_MAX_DEPTH - 1; d++) deep[k++] = '[';
    CHECK(prefix_ok(deep, k, NULL));
    deep[k++] = '[';
    CHECK(!prefix_ok(deep, k, NULL));
    k--;
    for (int d = 0; d < JSONC_MAX_DEPTH - 1; d++) deep[k++] = ']';
    deep[k++] = '}';
    int complete;
    CHECK(prefix_ok(deep, k, &complete) && complete && parses_as_object(deep, k));
    return 0;
}

/* A random walk over the bytes the recognizer allows, from an alphabet
 * that covers every construct: each finished text must be one that the
 * strict parser accepts as an object; each refused byte must make a text
 * the parser refuses, whatever valid ending follows. */
static int test_random_walks(void) {
    static const char alphabet[] = "{}[],:\"\\/ \t\n\r0123456789-+.eEtrufalsnbdDcCx\x7f\xc3\xa9\xe4\xb8\xad\xed\x9f\xf0\x9f\x98\x80\xf4\x8f\xbf";
    size_t na = sizeof alphabet - 1;
    uint64_t rng = 12345;
    int finished = 0;
    char text[4096];
    for (int walk = 0; walk < 3000; walk++) {
        jsonc_state s;
        jsonc_init(&s);
        size_t len = 0;
        /* a preference for closing makes walks end */
        while (len < sizeof text - 1 && !jsonc_complete(&s)) {
            uint8_t tries[64];
            int n_ok = 0;
            for (size_t i = 0; i < na && n_ok < 64; i++) {
                jsonc_state t = s;
                if (jsonc_byte(&t, (uint8_t)alphabet[i])) tries[n_ok++] = (uint8_t)alphabet[i];
            }
            if (n_ok == 0) break; /* e.g. a \u escape needing a digit outside the alphabet: impossible here */
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            uint8_t c = tries[(rng >> 33) % (uint64_t)n_ok];
            for (int i = 0; i < n_ok && (rng >> 20) % 4 == 0; i++)
                if (tries[i] == '}' || tries[i] == ']' || tries[i] == '"') c = tries[i];
            CHECK(jsonc_byte(&s, c));
            text[len++] = (char)c;
        }
        if (jsonc_complete(&s)) {
            finished++;
            CHECKF(parses_as_object(text, len), "walk %d: %.*s", walk, (int)len, text);
        }
    }
    CHECKF(finished > 1000, "%d walks finished", finished);
    return 0;
}

/* ---- the sampler in JSON mode ---- */

typedef struct {
    char text[1 << 16];
    size_t len;
    int ended;
} sampled;

static bibim_token piece_append(sampled *out, bibim_token t) {
    char buf[256];
    int64_t n = bibim_token_piece(model, t, 0, buf, sizeof buf);
    if (n > 0 && out->len + (size_t)n < sizeof out->text) memcpy(out->text + out->len, buf, (size_t)n), out->len += (size_t)n;
    return t;
}

/* Checks a finished or cut output: a prefix always; an object if it ended. */
static void check_output(const sampled *o, const char *what) {
    int complete, ok = prefix_ok(o->text, o->len, &complete);
    CHECKF(ok, "%s: not a JSON prefix: %.*s", what, (int)o->len, o->text);
    if (o->ended) {
        CHECKF(complete && parses_as_object(o->text, o->len), "%s: ended but not an object: %.*s", what, (int)o->len,
               o->text);
    }
}

static int test_sampler_random_logits(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    int32_t n_vocab = n_vocab_of(model);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    static sampled out;
    /* Settings: greedy, default, top-k only, top-p only, min-p only, no truncation, penalties and bias. */
    bibim_logit_bias bias[2] = {{13, 2.0f}, {100, -INFINITY}};
    int finished = 0, runs = 0;
    for (int setting = 0; setting < 7; setting++) {
        for (uint64_t seed = 1; seed <= 6; seed++) {
            bibim_sampler_params p = bibim_sampler_default_params();
            p.json_object = 1, p.seed = seed;
            if (setting == 0) p.temperature = 0;
            if (setting == 2) p.top_p = 1, p.min_p = 0, p.top_k = 5;
            if (setting == 3) p.top_k = 0, p.min_p = 0, p.top_p = 0.5f;
            if (setting == 4) p.top_k = 0, p.top_p = 1, p.min_p = 0.2f;
            if (setting == 5) p.top_k = 0, p.top_p = 1, p.min_p = 0, p.temperature = 1.5f;
            if (setting == 6) p.repeat_penalty = 1.3f, p.frequency_penalty = 0.5f, p.logit_bias = bias, p.n_logit_bias = 2;
            bibim_sampler *s = NULL;
            CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
            if (!s) continue;
            uint64_t rng = seed * 7919 + (uint64_t)setting;
            memset(&out, 0, sizeof out);
            for (int step = 0; step < 3000 && !out.ended; step++) {
                for (int32_t i = 0; i < n_vocab; i++) {
                    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                    logits[i] = (float)((rng >> 40) % 1000) / 100.0f;
                }
                bibim_token t;
                bibim_status st = bibim_sampler_sample_checked(s, logits, &t);
                CHECKF(st == BIBIM_OK, "setting %d seed %d step %d: %s after %.*s", setting, (int)seed, step,
                       bibim_status_string(st), (int)out.len, out.text);
                if (st != BIBIM_OK) break;
                bibim_sampler_accept(s, t);
                if (bibim_token_is_end(model, t)) out.ended = 1;
                else piece_append(&out, t);
            }
            char what[64];
            snprintf(what, sizeof what, "setting %d seed %d", setting, (int)seed);
            check_output(&out, what);
            CHECK(out.ended == bibim_sampler_json_complete(s));
            finished += out.ended, runs++;
            bibim_sampler_free(s);
        }
    }
    printf("  %d of %d random-logit runs closed their object\n", finished, runs);
    CHECK(runs == 42 && finished >= runs / 4);
    free(logits);
    return 0;
}

static int collect(void *user, bibim_token token, const char *text, size_t len) {
    sampled *o = user;
    (void)token;
    if (o->len + len < sizeof o->text) memcpy(o->text + o->len, text, len), o->len += len;
    return 0;
}

/* The single-byte token with that byte, or -1. */
static bibim_token byte_token(char c) {
    char buf[8];
    for (bibim_token t = 0; t < n_vocab_of(model); t++)
        if (bibim_token_piece(model, t, 0, buf, sizeof buf) == 1 && buf[0] == c) return t;
    return -1;
}

/* The model itself, through bibim_generate. The stories model writes one
 * long string; settings 3 and 4 push it (logit_bias) towards closing. */
static int test_generate_json(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    bibim_token prompt[64];
    int64_t n_prompt;
    const char *text = "Once upon a time";
    CHECK(bibim_tokenize(model, text, strlen(text), BIBIM_TOKENIZE_ADD_BOS, prompt, 64, &n_prompt) == BIBIM_OK);
    static sampled out;
    bibim_logit_bias bias[2] = {{byte_token('"'), 4.0f}, {byte_token('}'), 6.0f}};
    CHECK(bias[0].token >= 0 && bias[1].token >= 0);
    int ended = 0, ended_biased = 0, runs = 0;
    for (int setting = 0; setting < 5; setting++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            bibim_sampler_params p = bibim_sampler_default_params();
            p.json_object = 1, p.seed = seed;
            if (setting == 0 || setting == 3) p.temperature = 0;
            if (setting == 2) p.temperature = 1.2f, p.top_k = 0, p.top_p = 0.9f, p.repeat_penalty = 1.1f;
            if (setting >= 3) p.logit_bias = bias, p.n_logit_bias = 2;
            bibim_sampler *s = NULL;
            bibim_context *c = NULL;
            bibim_context_params cp = bibim_context_default_params();
            cp.n_ctx = 512;
            CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
            CHECK(bibim_context_create(model, &cp, &c) == BIBIM_OK);
            bibim_generate_params gp = bibim_generate_default_params();
            gp.n_predict = 300, gp.on_token = collect, gp.user = &out;
            memset(&out, 0, sizeof out);
            bibim_generate_result r;
            CHECK(s && c && bibim_generate(c, s, prompt, n_prompt, &gp, &r) == BIBIM_OK);
            out.ended = r.stop_reason == BIBIM_STOP_END_TOKEN;
            CHECK(out.ended || r.stop_reason == BIBIM_STOP_LENGTH);
            char what[64];
            snprintf(what, sizeof what, "generate setting %d seed %d", setting, (int)seed);
            check_output(&out, what);
            if (getenv("SHOW"))
                printf("%s: reason %d, %lld tokens: %.*s\n", what, (int)r.stop_reason, (long long)r.n_generated,
                       (int)out.len, out.text);
            ended += out.ended, runs++;
            ended_biased += out.ended && setting >= 3;
            bibim_sampler_free(s);
            bibim_context_free(c);
            if (setting == 0 || setting == 3) break; /* greedy: the seed does not matter */
        }
    }
    printf("  %d of %d generations closed their object\n", ended, runs);
    CHECK(ended_biased >= 3); /* 4 of 5 on x86-64 */
    return 0;
}

/* Greedy takes the best valid token; no valid token is an error, not invalid JSON. */
static int test_choices_and_errors(void) {
    if (!model) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    int32_t n_vocab = n_vocab_of(model);
    float *logits = calloc((size_t)n_vocab, sizeof *logits);
    bibim_token brace = -1, x = -1, space = -1;
    char buf[16];
    for (bibim_token t = 0; t < n_vocab; t++) {
        int64_t n = bibim_token_piece(model, t, 0, buf, sizeof buf);
        if (n == 1 && buf[0] == '{' && brace < 0) brace = t;
        if (n == 1 && buf[0] == 'x' && x < 0) x = t;
        if (n == 1 && buf[0] == ' ' && space < 0) space = t;
    }
    CHECK(brace >= 0 && x >= 0 && space >= 0);
    if (brace < 0 || x < 0 || space < 0) return free(logits), 0;
    bibim_sampler_params p = bibim_sampler_default_params();
    p.json_object = 1, p.temperature = 0;
    bibim_sampler *s = NULL;
    CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
    logits[x] = 10, logits[brace] = 5;
    bibim_token t;
    CHECK(bibim_sampler_sample_checked(s, logits, &t) == BIBIM_OK && t == brace); /* x is not valid */
    CHECK(!bibim_sampler_json_complete(s));
    bibim_sampler_reset(s);
    /* Whitespace comes at most 16 times in a row, then only '{' (here: -inf). */
    for (bibim_token i = 0; i < n_vocab; i++) logits[i] = -INFINITY;
    logits[space] = 1;
    int spaces = 0;
    while (bibim_sampler_sample_checked(s, logits, &t) == BIBIM_OK && spaces < 100) {
        CHECK(t == space);
        spaces++;
    }
    CHECK(spaces == BIBIM_JSON_MAX_WHITESPACE && t == -1);
    CHECK(bibim_sampler_sample(s, logits) == -1);
    bibim_sampler_free(s);
    /* Sampling (not greedy) too: a bias banning '{' and every token starting with it or whitespace. */
    p.temperature = 1, p.top_k = 0;
    bibim_logit_bias *ban = calloc((size_t)n_vocab, sizeof *ban);
    size_t n_ban = 0;
    for (bibim_token i = 0; i < n_vocab; i++) {
        int64_t n = bibim_token_piece(model, i, 0, buf, sizeof buf);
        if (n > 0 && (buf[0] == '{' || buf[0] == ' ' || buf[0] == '\n' || buf[0] == '\t' || buf[0] == '\r'))
            ban[n_ban++] = (bibim_logit_bias){i, -INFINITY};
    }
    p.logit_bias = ban, p.n_logit_bias = n_ban;
    CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
    for (bibim_token i = 0; i < n_vocab; i++) logits[i] = 0;
    CHECK(bibim_sampler_sample_checked(s, logits, &t) == BIBIM_ERR_NOT_FOUND && t == -1);
    bibim_sampler_free(s);
    free(ban);
    /* After the object, only the end token (or whitespace). */
    p = bibim_sampler_default_params();
    p.json_object = 1, p.temperature = 0;
    CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
    bibim_token close = -1;
    for (bibim_token i = 0; i < n_vocab; i++) {
        int64_t n = bibim_token_piece(model, i, 0, buf, sizeof buf);
        if (n == 1 && buf[0] == '}') close = i;
    }
    for (bibim_token i = 0; i < n_vocab; i++) logits[i] = 0;
    logits[brace] = 3;
    CHECK(bibim_sampler_sample(s, logits) == brace);
    logits[close] = 4;
    CHECK(bibim_sampler_sample(s, logits) == close);
    CHECK(bibim_sampler_json_complete(s));
    logits[x] = 9, logits[brace] = 8, logits[space] = -1;
    t = bibim_sampler_sample(s, logits);
    CHECKF(bibim_token_is_end(model, t), "after the object: token %d", t);
    /* Without JSON mode nothing changes: x wins. */
    bibim_sampler_free(s);
    p.json_object = 0;
    CHECK(bibim_sampler_create(model, &p, &s) == BIBIM_OK);
    CHECK(bibim_sampler_sample(s, logits) == x && !bibim_sampler_json_complete(s));
    bibim_sampler_free(s);
    free(logits);
    return 0;
}

/* An allocator that fails once `left` allocations have succeeded. */
typedef struct {
    long left, live;
} budget;

static void *budget_alloc(void *user, size_t size) {
    budget *b = user;
    if (b->left == 0) return NULL;
    if (b->left > 0) b->left--;
    void *p = malloc(size);
    if (p) b->live++;
    return p;
}

static void *budget_realloc(void *user, void *ptr, size_t size) {
    budget *b = user;
    if (b->left == 0) return NULL;
    if (b->left > 0) b->left--;
    void *p = realloc(ptr, size);
    if (p && !ptr) b->live++;
    return p;
}

static void budget_free(void *user, void *ptr) {
    budget *b = user;
    if (ptr) b->live--;
    free(ptr);
}

/* Out of memory at each allocation of a JSON-mode sampler's creation:
 * BIBIM_ERR_NOMEM, nothing left allocated. */
static int test_create_out_of_memory(void) {
    FILE *f = fopen(STORIES, "rb");
    if (!f) return printf("skip %s: %s is absent\n", harness_case_name, STORIES), 1;
    fclose(f);
    budget b = {-1, 0};
    bibim_model_params mp = bibim_model_default_params();
    bibim_allocator hook = {budget_alloc, budget_realloc, budget_free, &b};
    mp.allocator = &hook;
    bibim_model *m = NULL;
    CHECK(bibim_model_load(STORIES, &mp, &m) == BIBIM_OK);
    if (!m) return 0;
    long base = b.live;
    bibim_sampler_params p = bibim_sampler_default_params();
    p.json_object = 1;
    int failures = 0;
    for (long k = 0; k < 100; k++) {
        b.left = k;
        bibim_sampler *s = NULL;
        bibim_status st = bibim_sampler_create(m, &p, &s);
        b.left = -1;
        if (st == BIBIM_OK) {
            CHECK(s != NULL);
            bibim_sampler_free(s);
            CHECKF(b.live == base, "%ld allocations left after a free", b.live - base);
            break;
        }
        CHECKF(st == BIBIM_ERR_NOMEM && !s && b.live == base, "failing allocation %ld: status %d, %ld leaked", k,
               (int)st, b.live - base);
        failures++;
    }
    CHECK(failures >= 7); /* the sampler's 5 blocks and the JSON mode's 3 */
    bibim_model_free(m);
    return 0;
}

int main(void) {
    FILE *f = fopen(STORIES, "rb");
    if (f) {
        fclose(f);
        if (bibim_model_load(STORIES, NULL, &model) != BIBIM_OK) {
            printf("cannot load %s: %s\n", STORIES, bibim_model_errmsg(model));
            bibim_model_free(model);
            model = NULL;
            harness_failed++;
        }
    }
    RUN(test_exact_strings);
    RUN(test_random_walks);
    RUN(test_sampler_random_logits);
    RUN(test_generate_json);
    RUN(test_choices_and_errors);
    RUN(test_create_out_of_memory);
    bibim_model_free(model);
    return harness_finish();
}
