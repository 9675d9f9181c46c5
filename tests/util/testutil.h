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

/* Sleeps ms milliseconds. */
void tu_sleep_ms(int ms);

/* In spoord's log: the integer after `key` (e.g. " port=") on the first
 * "spoord started" line that begins at or after byte `from`; 0 if none. */
int tu_started_int(const char *log, long from, const char *key);

/* Copies a file to stderr between marker lines (a server's log, for a
 * failing test). */
void tu_dump_file(const char *path);

/* A TCP connection to 127.0.0.1:port with send and receive timeouts of
 * timeout_s seconds; the fd, or -1. */
int tu_connect(int port, int timeout_s);

/* Sends all n bytes (no SIGPIPE).  0, or -1 on an error. */
int tu_send_all(int fd, const void *p, size_t n);

#endif
