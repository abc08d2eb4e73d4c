/* chat.c — `bibim chat`: a conversation with a chat model.
 *
 * Each turn renders the whole conversation with the model's chat template
 * and tokenizes it; only the tokens after the longest prefix already in the
 * KV cache are evaluated, so a turn costs its new tokens, not the history.
 * On a terminal, libedit gives line editing and history; otherwise each
 * line of stdin is one user message and each answer is one block of stdout,
 * so scripts can drive it. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <editline/readline.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: bibim chat -m FILE [--system TEXT] [--template FILE] [-c CTX] [options]\n"
            "Talks with a chat model. The prompt is the model's own chat template (tokenizer.chat_template)\n"
            "rendered for the whole conversation; a model without one gets ChatML:\n"
            "  <|im_start|>ROLE\\nTEXT<|im_end|>\\n ... <|im_start|>assistant\\n\n"
            "  -s, --system TEXT       a system prompt\n"
            "      --template FILE     use this Jinja chat template instead of the model's\n"
            "      --verbose           after each answer, print token counts and speed on stderr\n"
            "%s"
            "On a terminal: line editing and history; Ctrl-C stops an answer, Ctrl-D (or /exit) quits.\n"
            "Otherwise each line of stdin is a user message and each answer is printed on stdout, then a newline.\n"
            "Commands: /reset (forget the conversation), /system TEXT (set the system prompt; no TEXT removes it),\n"
            "/save FILE and /load FILE (the conversation as a JSON array of messages, as 'bibim template' reads),\n"
            "/help, /exit. When the conversation outgrows the context, its oldest turns are dropped (the system\n"
            "prompt is kept) and a notice says so.\n",
            CLI_MODEL_OPTIONS_HELP);
}

typedef struct token_list {
    bibim_token *v;
    int64_t n, cap;
} token_list;

typedef struct chat_state {
    cli_model_options opt;
    const char *system, *template_file;
    int verbose, interactive;
    char *template_text;   /* --template's contents, or NULL */
    int uses_fallback;     /* the ChatML fallback: stop at its end marker */
    bibim_model *model;
    bibim_context *ctx;
    bibim_sampler *sampler;
    cJSON *messages;       /* the conversation */
    token_list cache;      /* the tokens in the KV cache, in order */
    token_list generated;  /* this answer's tokens */
    char *answer;          /* this answer's text */
    size_t answer_len, answer_cap;
} chat_state;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int push_token(token_list *l, bibim_token t) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        bibim_token *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = t;
    return 0;
}

static void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notice(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("[bibim] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- options and setup ------------------------------------------------- */

/* Returns -1 on a usage error (already reported), 1 for --help, else 0. */
static int parse_args(int argc, char **argv, chat_state *s) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int shared = cli_parse_model_option("chat", argc, argv, &i, &s->opt);
        if (shared < 0) return -1;
        if (shared) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (!strcmp(a, "--verbose")) {
            s->verbose = 1;
        } else if (!strcmp(a, "-s") || !strcmp(a, "--system") || !strcmp(a, "--template")) {
            if (!v) return cli_usage_error("chat", "%s needs a value", a), -1;
            *(strcmp(a, "--template") ? &s->system : &s->template_file) = v;
            i++;
        } else {
            return cli_usage_error("chat", "unknown option '%s' (see bibim chat --help)", a), -1;
        }
    }
    if (!s->opt.model) return cli_usage_error("chat", "no model: give -m FILE"), -1;
    return 0;
}

static int set_system(chat_state *s, const char *text) {
    cJSON *first = cJSON_GetArrayItem(s->messages, 0);
    cJSON *role = first ? cJSON_GetObjectItemCaseSensitive(first, "role") : NULL;
    if (cJSON_IsString(role) && !strcmp(role->valuestring, "system")) cJSON_DeleteItemFromArray(s->messages, 0);
    if (!text || !*text) return 0;
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", "system") || !cJSON_AddStringToObject(m, "content", text) ||
        !cJSON_InsertItemInArray(s->messages, 0, m)) {
        cJSON_Delete(m);
        return -1;
    }
    return 0;
}

static int setup(chat_state *s) {
    if (s->template_file) {
        size_t len;
        if (!(s->template_text = cli_read_file("chat", s->template_file, &len))) return -1;
    }
    if (bibim_model_load(s->opt.model, &s->opt.load, &s->model) != BIBIM_OK) {
        fprintf(stderr, "bibim chat: %s\n", bibim_model_errmsg(s->model));
        return -1;
    }
    if (!s->template_text && !bibim_model_chat_template(s->model)) {
        s->uses_fallback = 1;
        notice("%s has no chat template; using ChatML", s->opt.model);
    }
    if (bibim_context_create(s->model, &s->opt.ctx, &s->ctx) != BIBIM_OK) {
        fprintf(stderr, "bibim chat: %s\n", bibim_context_errmsg(s->ctx));
        return -1;
    }
    if (bibim_sampler_create(s->model, &s->opt.sampling, &s->sampler) != BIBIM_OK) {
        fprintf(stderr, "bibim chat: bad sampling parameters\n");
        return -1;
    }
    if (!(s->messages = cJSON_CreateArray()) || set_system(s, s->system)) {
        fprintf(stderr, "bibim chat: out of memory\n");
        return -1;
    }
    return 0;
}

/* ---- one turn ---------------------------------------------------------- */

/* Renders the conversation, ending with the assistant's header, and
 * tokenizes it into *out. Returns 0, or -1 after a message. */
static int render_prompt(chat_state *s, token_list *out) {
    char *json = cJSON_PrintUnformatted(s->messages), *text = NULL, err[512];
    size_t len = 0;
    bibim_chat_params cp = bibim_chat_default_params();
    cp.template_text = s->template_text;
    bibim_status st = json ? bibim_chat_render(s->model, json, &cp, &text, &len, err, sizeof err) : BIBIM_ERR_NOMEM;
    free(json);
    if (st != BIBIM_OK) {
        fprintf(stderr, "bibim chat: %s\n", st == BIBIM_ERR_NOMEM ? "out of memory" : err);
        return -1;
    }
    free(out->v);
    st = cli_tokenize_prompt(s->model, text, len, &out->v, &out->n);
    out->cap = out->n;
    bibim_free(text);
    if (st != BIBIM_OK) fprintf(stderr, "bibim chat: cannot tokenize the conversation: %s\n", bibim_status_string(st));
    return st == BIBIM_OK ? 0 : -1;
}

static const char *role_of(const cJSON *m) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(r) ? r->valuestring : "";
}

/* Drops the oldest turn after the system prompt: a user message and every
 * message up to the next user message. Never drops the last user message.
 * Returns 1 if a turn was dropped. */
static int drop_oldest_turn(chat_state *s) {
    int n = cJSON_GetArraySize(s->messages), first = 0;
    while (first < n && !strcmp(role_of(cJSON_GetArrayItem(s->messages, first)), "system")) first++;
    int next_user = first + 1;
    while (next_user < n && strcmp(role_of(cJSON_GetArrayItem(s->messages, next_user)), "user")) next_user++;
    if (next_user >= n) return 0;
    for (int i = first; i < next_user; i++) cJSON_DeleteItemFromArray(s->messages, first);
    return 1;
}

/* Tokens kept free for the answer when deciding whether to drop turns. */
static int64_t answer_reserve(const chat_state *s) {
    int64_t n_ctx = bibim_context_n_ctx(s->ctx);
    int64_t want = s->opt.n_predict > 0 ? s->opt.n_predict : n_ctx / 4;
    return want < n_ctx / 2 ? want : n_ctx / 2;
}

/* The prompt of this turn in *prompt, dropping old turns until it fits.
 * Returns 0, or -1 (after a message) if even the last message alone does
 * not fit; that message is then removed from the conversation. */
static int fit_prompt(chat_state *s, token_list *prompt) {
    int64_t n_ctx = bibim_context_n_ctx(s->ctx);
    int dropped = 0;
    for (;;) {
        if (render_prompt(s, prompt)) return -1;
        if (prompt->n + answer_reserve(s) <= n_ctx) break;
        if (!drop_oldest_turn(s)) {
            if (prompt->n < n_ctx) break; /* fits, with less room for the answer */
            notice("the message makes a prompt of %lld tokens, more than the context of %lld (raise -c); "
                   "it was not sent",
                   (long long)prompt->n, (long long)n_ctx);
            cJSON_DeleteItemFromArray(s->messages, cJSON_GetArraySize(s->messages) - 1);
            return -1;
        }
        dropped++;
    }
    if (dropped)
        notice("the conversation outgrew the context of %lld tokens: dropped the %d oldest turn%s", (long long)n_ctx,
               dropped, dropped > 1 ? "s" : "");
    return 0;
}

static int on_token(void *user, bibim_token token, const char *text, size_t len) {
    chat_state *s = user;
    if (token >= 0 && push_token(&s->generated, token)) return 1; /* -1: held-back text at the end */
    if (s->answer_len + len + 1 > s->answer_cap) {
        size_t cap = 2 * (s->answer_len + len + 1) + 256;
        char *a = realloc(s->answer, cap);
        if (!a) return 1;
        s->answer = a;
        s->answer_cap = cap;
    }
    memcpy(s->answer + s->answer_len, text, len);
    s->answer_len += len;
    s->answer[s->answer_len] = 0;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return interrupted;
}

/* Evaluates what the cache lacks of the prompt and streams the answer. */
static int generate_answer(chat_state *s, const token_list *prompt, bibim_generate_result *res) {
    int64_t keep = 0;
    while (keep < s->cache.n && keep < prompt->n && s->cache.v[keep] == prompt->v[keep]) keep++;
    if (keep == prompt->n) keep--; /* evaluate at least one token to get fresh logits */
    if (bibim_context_truncate(s->ctx, (uint32_t)keep) != BIBIM_OK) keep = 0, bibim_context_truncate(s->ctx, 0);
    s->cache.n = keep;
    s->generated.n = 0;
    s->answer_len = 0;
    bibim_sampler_reset(s->sampler);
    static const char *const fallback_stop[] = {BIBIM_CHAT_FALLBACK_STOP};
    bibim_generate_params gp = bibim_generate_default_params();
    gp.n_predict = s->opt.n_predict;
    gp.stop = s->uses_fallback ? fallback_stop : NULL;
    gp.n_stop = s->uses_fallback ? 1 : 0;
    gp.on_token = on_token;
    gp.user = s;
    interrupted = 0;
    bibim_status st = bibim_generate(s->ctx, s->sampler, prompt->v + keep, prompt->n - keep, &gp, res);
    /* The cache now holds the prompt and the generated tokens that were evaluated. */
    int64_t n_past = bibim_context_n_past(s->ctx);
    for (int64_t i = keep; i < prompt->n && s->cache.n < n_past; i++) push_token(&s->cache, prompt->v[i]);
    for (int64_t i = 0; i < s->generated.n && s->cache.n < n_past; i++) push_token(&s->cache, s->generated.v[i]);
    if (s->cache.n != n_past) { /* out of memory while mirroring: forget the cache rather than trust it */
        s->cache.n = 0;
        bibim_context_truncate(s->ctx, 0);
    }
    if (st != BIBIM_OK) {
        fprintf(stderr, "\nbibim chat: %s\n", bibim_context_errmsg(s->ctx));
        return -1;
    }
    if (s->verbose)
        notice("prompt: %lld new tokens (%lld reused) in %.2f s; answer: %lld tokens, %.2f tokens/s",
               (long long)res->n_prompt, (long long)keep, res->prompt_seconds, (long long)res->n_generated,
               res->gen_seconds > 0 ? (double)res->n_generated / res->gen_seconds : 0.0);
    return 0;
}

static int add_message(chat_state *s, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", role) || !cJSON_AddStringToObject(m, "content", content) ||
        !cJSON_AddItemToArray(s->messages, m)) {
        cJSON_Delete(m);
        fprintf(stderr, "bibim chat: out of memory\n");
        return -1;
    }
    return 0;
}

/* One user message in, one answer out. Returns 0, or -1 on a fatal error. */
static int turn(chat_state *s, const char *text) {
    if (add_message(s, "user", text)) return -1;
    token_list prompt = {0};
    if (fit_prompt(s, &prompt)) {
        free(prompt.v);
        return 0; /* reported; the conversation goes on without that message */
    }
    bibim_generate_result res;
    int rc = generate_answer(s, &prompt, &res);
    free(prompt.v);
    fputc('\n', stdout);
    fflush(stdout);
    if (rc) return -1;
    if (interrupted) notice("answer stopped (Ctrl-C)");
    else if (res.stop_reason == BIBIM_STOP_CONTEXT_FULL) notice("the answer filled the context; it was cut short");
    return add_message(s, "assistant", s->answer ? s->answer : "");
}

/* ---- commands ---------------------------------------------------------- */

static int save_conversation(chat_state *s, const char *path) {
    char *json = cJSON_Print(s->messages);
    char tmp[4096];
    if (!json || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(json);
        notice("cannot save to %s: %s", path, json ? "path too long" : "out of memory");
        return 0;
    }
    FILE *f = fopen(tmp, "wb");
    int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
    ok = (f && fclose(f) == 0) && ok;
    free(json);
    /* Write then rename, so a failed save never destroys an earlier one. */
    if (!ok || rename(tmp, path) != 0) {
        notice("cannot save to %s: %s", path, strerror(errno));
        remove(tmp);
        return 0;
    }
    notice("saved %d messages to %s", cJSON_GetArraySize(s->messages), path);
    return 0;
}

static int load_conversation(chat_state *s, const char *path) {
    size_t len;
    char *text = cli_read_file("chat", path, &len);
    if (!text) return 0;
    /* The library's parser checks the JSON and the shape of the messages, and
     * renders once so that a conversation the template rejects is refused now. */
    char *rendered = NULL, err[512];
    bibim_chat_params cp = bibim_chat_default_params();
    cp.template_text = s->template_text;
    bibim_status st = bibim_chat_render(s->model, text, &cp, &rendered, NULL, err, sizeof err);
    bibim_free(rendered);
    cJSON *loaded = st == BIBIM_OK ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!loaded) {
        notice("cannot load %s: %s", path, st == BIBIM_OK ? "out of memory" : err);
        return 0;
    }
    cJSON_Delete(s->messages);
    s->messages = loaded;
    notice("loaded %d messages from %s", cJSON_GetArraySize(loaded), path);
    return 0;
}

/* Runs a /command. Returns 1 to quit, 0 to go on, -1 on a fatal error. */
static int command(chat_state *s, const char *line) {
    const char *arg = strchr(line, ' ');
    size_t name_len = arg ? (size_t)(arg - line) : strlen(line);
    while (arg && *arg == ' ') arg++;
    if (arg && !*arg) arg = NULL;
#define IS(name) (name_len == strlen(name) && !strncmp(line, name, name_len))
    if (IS("/exit") || IS("/quit")) return 1;
    if (IS("/help")) {
        fputs("/reset  /system [TEXT]  /save FILE  /load FILE  /exit\n", stderr);
    } else if (IS("/reset")) {
        const char *sys = NULL;
        cJSON *first = cJSON_GetArrayItem(s->messages, 0);
        if (first && !strcmp(role_of(first), "system"))
            sys = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "content"));
        char *keep = sys ? strdup(sys) : NULL;
        cJSON_Delete(s->messages);
        s->messages = cJSON_CreateArray();
        if (!s->messages || set_system(s, keep)) return free(keep), -1;
        free(keep);
        notice("the conversation was reset");
    } else if (IS("/system")) {
        if (set_system(s, arg)) return -1;
        notice(arg ? "system prompt set" : "system prompt removed");
    } else if (IS("/save") || IS("/load")) {
        if (!arg) notice("%.*s needs a FILE", (int)name_len, line);
        else return IS("/save") ? save_conversation(s, arg) : load_conversation(s, arg);
    } else {
        notice("unknown command %.*s (/help lists them)", (int)name_len, line);
    }
#undef IS
    return 0;
}

/* ---- input ------------------------------------------------------------- */

/* The next line without its newline (caller frees), or NULL at the end. */
static char *next_line(chat_state *s) {
    if (s->interactive) {
        for (;;) {
            interrupted = 0;
            char *line = readline("> ");
            if (line || !interrupted) return line;
            fputc('\n', stdout); /* Ctrl-C at the prompt: a fresh prompt, as in a shell */
        }
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    if (n > 0 && line[n - 1] == '\r') line[--n] = 0;
    return line;
}

static int chat_loop(chat_state *s) {
    int rc = 0;
    char *line;
    while (rc == 0 && (line = next_line(s))) {
        if (s->interactive && *line) add_history(line);
        if (line[0] == '/') rc = command(s, line);
        else if (*line) rc = turn(s, line);
        free(line);
    }
    if (s->interactive && rc >= 0) fputc('\n', stdout);
    return rc < 0 ? -1 : 0;
}

int cmd_chat(int argc, char **argv) {
    chat_state s = {0};
    cli_model_options_init(&s.opt);
    int parsed = parse_args(argc, argv, &s);
    if (parsed) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? EXIT_OK : EXIT_USAGE;
    }
    s.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    int rc = EXIT_INPUT;
    if (setup(&s) == 0) {
        /* Ctrl-C sets a flag the token callback reads: it ends the answer, not the program. */
        struct sigaction sa = {0};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        if (s.interactive)
            fprintf(stderr, "bibim chat: %s, context %u tokens. /help for commands, Ctrl-D to quit.\n", s.opt.model,
                    bibim_context_n_ctx(s.ctx));
        rc = chat_loop(&s) == 0 ? EXIT_OK : EXIT_INPUT;
    }
    cJSON_Delete(s.messages);
    free(s.cache.v);
    free(s.generated.v);
    free(s.answer);
    free(s.template_text);
    bibim_sampler_free(s.sampler);
    bibim_context_free(s.ctx);
    bibim_model_free(s.model);
    return rc;
}
