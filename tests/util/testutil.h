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

#endif
