/* json.h — JSON text (RFC 8259) parsed into template values.
 *
 * The chat API takes messages and tools as JSON, the shape every client
 * already has them in, so the core library reads JSON itself (libc only).
 * The parser is strict: invalid UTF-8, lone surrogates, trailing commas,
 * comments, leading zeros and nesting deeper than JSON_MAX_DEPTH are errors.
 * Integers that fit in 64 bits become JINJA_INT; other numbers JINJA_FLOAT.
 * A repeated object key keeps its first position and takes the last value,
 * as JavaScript's JSON.parse does. */
#ifndef BIBIM_JSON_H
#define BIBIM_JSON_H

#include <stddef.h>

#include "jinja.h"

#define JSON_MAX_DEPTH 128

/* Returns a new value, or NULL with err (if not NULL) set to
 * "line L, column C: reason" (column in bytes, both 1-based). */
struct jinja_value *json_parse(const char *text, size_t len, char *err, size_t err_size);

#endif
