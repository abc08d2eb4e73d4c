/* Internal API of the Jinja2 engine that renders chat templates.
 *
 * Values are reference-counted and immutable once handed to the renderer.
 * The builder functions return a new reference (NULL when out of memory);
 * jinja_array_push and jinja_object_set take ownership of the value passed
 * (even on failure). jinja_value_free drops one reference; NULL is allowed.
 * Rendering follows @huggingface/jinja 0.5.11's Template byte for byte
 * (trim_blocks and lstrip_blocks on, a final newline of the template
 * dropped; numbers are JavaScript doubles). No global state: values and
 * renders on different threads are independent.
 *
 * Known differences from the oracle (tests/oracle/jinja_diff.js counts the
 * first apart): printing a function ({{ range }}) is an error where HF prints
 * its JavaScript source; object keys end at a NUL character; a caller()
 * kept and called after its {% call %} block ended is an error; range()
 * with lists as bounds, or text bounds that would make items, is an error; tojson(sort_keys=true) orders
 * non-ASCII keys by code point rather than by ICU collation; strftime_now's
 * month names are English whatever the locale; bytes that are not UTF-8 pass
 * through (JavaScript would have U+FFFD). */
#ifndef BIBIM_JINJA_H
#define BIBIM_JINJA_H

#include <stddef.h>

enum jinja_type {
    JINJA_UNDEFINED,
    JINJA_NULL,
    JINJA_BOOL,
    JINJA_INT,
    JINJA_FLOAT,
    JINJA_STRING,
    JINJA_ARRAY,
    JINJA_OBJECT,
    JINJA_CALLABLE /* internal: builtin functions and bound methods */
};

struct jinja_value;

struct jinja_value *jinja_value_undefined(void);
struct jinja_value *jinja_value_null(void);
struct jinja_value *jinja_value_bool(int b);
struct jinja_value *jinja_value_int(long long i);
struct jinja_value *jinja_value_float(double f);
/* Copies the bytes; s must be valid UTF-8 (not checked). */
struct jinja_value *jinja_value_string(const char *s);
struct jinja_value *jinja_value_stringn(const char *s, size_t n);
struct jinja_value *jinja_value_array(void);
struct jinja_value *jinja_value_object(void);
/* Return 0, or -1 when out of memory or the target has the wrong type. */
int jinja_array_push(struct jinja_value *arr, struct jinja_value *v);
/* Replaces an existing key in place; otherwise appends (insertion order). */
int jinja_object_set(struct jinja_value *obj, const char *key, struct jinja_value *v);
struct jinja_value *jinja_value_ref(struct jinja_value *v);
void jinja_value_free(struct jinja_value *v);

enum jinja_type jinja_value_type(const struct jinja_value *v);
/* Borrowed reference or NULL. */
struct jinja_value *jinja_object_get(const struct jinja_value *obj, const char *key);

struct jinja_error {
    int line;   /* 1-based, in the template as given; 0 when unknown */
    int column; /* 1-based byte column */
    char reason[256];
};

/* Renders template (len bytes) with the variables of context (an object, or
 * NULL). On success returns 0 and *out is a NUL-terminated malloc'd string
 * of *out_len bytes that the caller frees. On failure returns -1, *out is
 * NULL and err (if not NULL) says where and why. */
int jinja_render(const char *tmpl, size_t len, const struct jinja_value *context, char **out,
                 size_t *out_len, struct jinja_error *err);

/* Bounds that keep a hostile template from running away. A render that would
 * go past one fails cleanly (a jinja_error saying which). Zero: the default. */
struct jinja_limits {
    /* Bytes of the rendering and of any one string built on the way
     * (default JINJA_DEFAULT_MAX_BYTES). */
    size_t max_bytes;
    /* Evaluation steps: one per expression evaluated and loop iteration,
     * four per list item made, one per 16 bytes of text built (default
     * JINJA_DEFAULT_MAX_STEPS: about a second of work and at most some
     * hundreds of MiB held). */
    unsigned long long max_steps;
};
#define JINJA_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define JINJA_DEFAULT_MAX_STEPS 20000000ULL

/* jinja_render with explicit limits (NULL: the defaults, as jinja_render). */
int jinja_render_limited(const char *tmpl, size_t len, const struct jinja_value *context,
                         const struct jinja_limits *limits, char **out, size_t *out_len,
                         struct jinja_error *err);

#endif
