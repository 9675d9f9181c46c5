/*
 * qjson.h — the query API's JSON output buffer.
 *
 * A struct qj is a growable byte buffer with writers for JSON scalars.  It
 * never fails loudly: when an allocation fails the buffer remembers it
 * (qj.oom) and drops every later write, so a handler writes a whole reply and
 * checks once at the end.  Nothing here adds separators: callers write the
 * commas, colons and brackets themselves (qj_lit(b, ",\"ts\":")).
 *
 * Strings are escaped for JSON; bytes that are not valid UTF-8 come out as
 * U+FFFD, so the output is always valid JSON whatever the store holds.
 */
#ifndef SPOOR_QJSON_H
#define SPOOR_QJSON_H

#include <stddef.h>
#include <stdint.h>

struct qj {
	char *p;    /* owned bytes, not NUL-terminated; NULL while empty */
	size_t n;   /* bytes written */
	size_t cap; /* bytes allocated */
	int oom;    /* 1 once an allocation failed: later writes are dropped */
};

/* An empty buffer (no allocation until the first write). */
void qj_init(struct qj *b);

/* Frees the bytes; the buffer is empty again.  Safe on an empty buffer. */
void qj_fini(struct qj *b);

/* Forgets the content but keeps the allocation; clears oom. */
void qj_reset(struct qj *b);

/* Hands the bytes to the caller (free() them) and empties the buffer.
 * Returns NULL when nothing was written or after an allocation failure. */
char *qj_take(struct qj *b, size_t *len);

/* Makes room for `n` more bytes.  Returns 0, or -ENOMEM (and sets oom). */
int qj_reserve(struct qj *b, size_t n);

void qj_raw(struct qj *b, const void *p, size_t n); /* bytes as they are */
void qj_lit(struct qj *b, const char *s);	    /* a C string as it is */
void qj_str(struct qj *b, const char *p, size_t n); /* "escaped string" */
void qj_cstr(struct qj *b, const char *s);	    /* "escaped C string" */
void qj_i64(struct qj *b, int64_t v);
void qj_u64(struct qj *b, uint64_t v);
/* A finite double with up to 6 significant digits ("0.333333", "1", "0");
 * NaN and infinities are written as null. */
void qj_dbl(struct qj *b, double v);
/* Like qj_dbl() with exactly `decimals` digits after the point. */
void qj_fixed(struct qj *b, double v, int decimals);
void qj_printf(struct qj *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
