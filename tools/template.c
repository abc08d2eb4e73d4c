/* template.c — `bibim template`: prints exactly the prompt a chat template
 * renders for a conversation, so users can debug templates. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: bibim template (-m MODEL | --template FILE) --messages FILE.json [options]\n"
    "\n"
    "Renders a chat template (Jinja, as in tokenizer.chat_template) for the\n"
    "conversation in FILE.json and prints the result byte for byte, with no\n"
    "newline added.\n"
    "\n"
    "  -m, --model MODEL        use the model's template (and its BOS/EOS text); a model\n"
    "                           without one gets the ChatML fallback\n"
    "  --template FILE          use the template in FILE instead\n"
    "  --messages FILE.json     a JSON array of messages: [{\"role\":\"user\",\"content\":\"Hi\"}, ...]\n"
    "                           (tool_calls, content as a list of parts, ... pass through)\n"
    "  --add-generation-prompt  end with the header of the assistant's turn\n"
    "  --tools FILE.json        a JSON array of tool definitions, given to the template as `tools`\n"
    "  --vars FILE.json         a JSON object of further template variables\n"
    "  --bos-token TEXT         the value of `bos_token` (default: the model's, else \"\")\n"
    "  --eos-token TEXT         the value of `eos_token` (default: the model's, else \"\")\n"
    "  -h, --help               show this help\n";

typedef struct options {
    const char *model, *template_file, *messages, *tools, *vars, *bos, *eos;
    int add_generation_prompt;
} options;

/* The option's value slot, or NULL if `a` is not an option with a value. */
static const char **value_slot(options *o, const char *a) {
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) return &o->model;
    if (!strcmp(a, "--template")) return &o->template_file;
    if (!strcmp(a, "--messages")) return &o->messages;
    if (!strcmp(a, "--tools")) return &o->tools;
    if (!strcmp(a, "--vars")) return &o->vars;
    if (!strcmp(a, "--bos-token")) return &o->bos;
    if (!strcmp(a, "--eos-token")) return &o->eos;
    return NULL;
}

/* 0 on success; else -1 with the exit status in *status. */
static int parse_options(int argc, char **argv, options *o, int *status) {
    *status = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = value_slot(o, a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            *status = EXIT_OK;
            return -1;
        } else if (!strcmp(a, "--add-generation-prompt")) {
            o->add_generation_prompt = 1;
        } else if (slot) {
            if (i + 1 >= argc) return cli_usage_error("template", "%s needs a value", a), -1;
            *slot = argv[++i];
        } else {
            return cli_usage_error("template", "unknown argument '%s' (see --help)", a), -1;
        }
    }
    if (!o->model == !o->template_file)
        return cli_usage_error("template", "give either -m MODEL or --template FILE"), -1;
    if (!o->messages) return cli_usage_error("template", "--messages FILE.json is required"), -1;
    return 0;
}

/* Reads the optional file into *text (NULL when path is NULL); 0 or -1. */
static int read_optional(const char *path, char **text) {
    size_t len;
    *text = NULL;
    if (!path) return 0;
    *text = cli_read_file("template", path, &len);
    if (!*text) return -1;
    if (strlen(*text) != len) {
        fprintf(stderr, "bibim template: %s: contains a NUL byte\n", path);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

int cmd_template(int argc, char **argv) {
    options o = {0};
    int status;
    if (parse_options(argc, argv, &o, &status)) return status;

    bibim_model *model = NULL;
    char *tmpl = NULL, *messages = NULL, *tools = NULL, *vars = NULL, *out = NULL;
    status = EXIT_INPUT;
    if (o.model) {
        bibim_model_params mp = bibim_model_default_params();
        mp.vocab_only = 1;
        if (bibim_model_load(o.model, &mp, &model) != BIBIM_OK) {
            fprintf(stderr, "bibim template: %s\n", bibim_model_errmsg(model));
            goto done;
        }
        if (!bibim_model_chat_template(model))
            fprintf(stderr, "bibim template: %s has no chat template; using the ChatML fallback\n", o.model);
    }
    if (read_optional(o.template_file, &tmpl) || read_optional(o.messages, &messages) ||
        read_optional(o.tools, &tools) || read_optional(o.vars, &vars))
        goto done;

    bibim_chat_params cp = bibim_chat_default_params();
    cp.template_text = tmpl;
    cp.add_generation_prompt = o.add_generation_prompt;
    cp.tools_json = tools;
    cp.extra_json = vars;
    cp.bos_token = o.bos;
    cp.eos_token = o.eos;
    char err[512];
    size_t len;
    bibim_status st = bibim_chat_render(model, messages, &cp, &out, &len, err, sizeof err);
    if (st != BIBIM_OK) {
        const char *what = st == BIBIM_ERR_TEMPLATE ? (o.template_file ? o.template_file : o.model) : NULL;
        if (!what) /* the error names messages/tools/extra: say which file that is */
            what = !strncmp(err, "tools", 5) ? o.tools : !strncmp(err, "extra", 5) ? o.vars : o.messages;
        fprintf(stderr, "bibim template: %s: %s\n", what, err);
        goto done;
    }
    status = fwrite(out, 1, len, stdout) == len && fflush(stdout) == 0 ? EXIT_OK : EXIT_INPUT;
done:
    bibim_free(out);
    free(tmpl);
    free(messages);
    free(tools);
    free(vars);
    bibim_model_free(model);
    return status;
}
