/*
 * testutil.h — helpers shared by the Criterion tests.
 */
#ifndef SPOOR_TESTUTIL_H
#define SPOOR_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh empty directory under $TMPDIR (or /tmp) and writes its path
 * into buf.  Returns buf.  The test removes it with tu_rmrf(). */
char *tu_tmpdir(char *buf, size_t len, const char *tag);

/* rm -rf path.  Returns 0 or -errno. */
int tu_rmrf(const char *path);

/* Deterministic xorshift random numbers for tests. */
unsigned long long tu_rand(unsigned long long *state);

/* The value of header `name` (case-insensitive) in an HTTP reply head
 * (status line, then CRLF-separated lines, up to the blank line) into out
 * (cap bytes, cut to fit, NUL-terminated).  Returns 1, or 0 when absent. */
int tu_header(const char *head, const char *name, char *out, size_t cap);

#endif
