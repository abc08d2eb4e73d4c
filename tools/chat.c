/* chat.c — `bibim chat` (being written). */
#include "cli.h"

#include <stdio.h>

int cmd_chat(int argc, char **argv) {
    (void)argc, (void)argv;
    fputs("bibim chat: not implemented yet\n", stderr);
    return EXIT_USAGE;
}
