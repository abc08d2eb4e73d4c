/* cli.h — what the subcommands of the bibim command share. Tools use only
 * the public API (include/bibim.h). */
#ifndef BIBIM_CLI_H
#define BIBIM_CLI_H

#include "bibim.h"

/* Exit statuses of every subcommand. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1, /* bad command line */
    EXIT_INPUT = 2  /* bad model file or input, or a failure while working */
};

/* Each subcommand: argv[0] is the subcommand's name. */
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "bibim <cmd>: <message>\n" on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal integer in [min, max]; 0 on success, else prints a
 * usage error naming `option` and returns -1. */
int cli_parse_int(const char *cmd, const char *option, const char *text, long long min, long long max,
                  long long *out);

/* The whole file (any bytes) plus a NUL after it, in a buffer the caller
 * frees; NULL after a message "bibim CMD: cannot open/read PATH: why". */
char *cli_read_file(const char *cmd, const char *path, size_t *len);

/* The options `run` and `chat` share: model, context and sampling. */
typedef struct cli_model_options {
    const char *model;
    int32_t n_predict;
    bibim_model_params load;
    bibim_context_params ctx;
    bibim_sampler_params sampling;
    bibim_logit_bias bias[64]; /* --logit-bias, which sampling.logit_bias points to */
} cli_model_options;

/* Their --help lines. */
extern const char CLI_MODEL_OPTIONS_HELP[];

/* Sets the defaults of every field. */
void cli_model_options_init(cli_model_options *o);

/* If argv[*i] is one of the shared options, stores it, moves *i past its
 * value and returns 1; returns 0 if it is not one of them, -1 after a usage
 * error (bad or missing value). */
int cli_parse_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_options *o);

/* Tokenizes a rendered chat prompt: control-token text becomes those
 * tokens, and BOS is added when the model asks for it and the text (a
 * template usually writes it) does not already begin with it. *tokens is a
 * malloc'd array of *n tokens. */
bibim_status cli_tokenize_prompt(const bibim_model *model, const char *text, size_t len, bibim_token **tokens,
                                 int64_t *n);

/* 1 if stderr is a terminal (progress lines are drawn only then). */
int cli_stderr_is_tty(void);

#endif
