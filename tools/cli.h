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

/* Prints "bibim <cmd>: <message>\n" on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal integer in [min, max]; 0 on success, else prints a
 * usage error naming `option` and returns -1. */
int cli_parse_int(const char *cmd, const char *option, const char *text, long long min, long long max,
                  long long *out);

/* 1 if stderr is a terminal (progress lines are drawn only then). */
int cli_stderr_is_tty(void);

#endif
