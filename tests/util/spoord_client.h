/*
 * spoord_client.h — what the integration tests of every module share: the
 * real spoord as a child process (both ports read from its start line), an
 * HTTP/1.1 client that understands chunked replies, and a small JSON reader
 * over common/json.h.
 *
 * Every wait is bounded by generous limits (tens of seconds) so a loaded
 * machine slows the tests down but does not fail them.  SPOORD_PATH is set
 * by tests/CMakeLists.txt.
 */
#ifndef SPOOR_SPOORD_CLIENT_H
#define SPOOR_SPOORD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"

struct qt_json;

/* ---- the real spoord ---- */

struct qt_spoord {
	pid_t pid;     /* 0 when not running */
	int port;      /* ingest port */
	int qport;     /* query port */
	char dir[256]; /* temporary root: data/ and stderr.log */
	char log[300];
};

/* Starts SPOORD_PATH with --data DIR/data --listen 127.0.0.1:0
 * --query-listen 127.0.0.1:0 and the NULL-terminated extra arguments; waits
 * for its start line and reads both ports from it.  Returns 0, or -1 when
 * spoord exited or logged no query port in time (its log is copied to
 * stderr, it is killed and the directory removed). */
int qt_spoord_start(struct qt_spoord *s, const char *const *extra);
/* SIGTERM, wait, remove the directory.  Returns the exit status or -1. */
int qt_spoord_stop(struct qt_spoord *s);

/* ---- HTTP client ---- */

struct qt_resp {
	int status;
	char head[8192]; /* status line and headers, NUL-terminated */
	char *body;	 /* decoded (de-chunked) body, NUL-terminated; owned */
	size_t len;
	int chunked; /* 1: the reply used Transfer-Encoding: chunked */
};

/* One request on a new connection (Connection: close): method, path, extra
 * header lines ("A: b\r\n" each, may be NULL) and a body (NULL: none).
 * Returns 0 with *r filled (free with qt_resp_free()), or -1. */
int qt_http(int port, const char *method, const char *path, const char *headers, const char *body,
	    size_t body_len, struct qt_resp *r);
/* GET with no extra header. */
int qt_get(int port, const char *path, struct qt_resp *r);
/* Sends raw bytes, reads the reply until the server closes.  0 or -1. */
int qt_raw(int port, const char *req, size_t len, struct qt_resp *r);
void qt_resp_free(struct qt_resp *r);
/* Copies header `name`'s value into out.  Returns 1 when present. */
int qt_header(const struct qt_resp *r, const char *name, char *out, size_t cap);

/* GET path, asserts the status and parses the body into *j (free both). */
void qt_get_json(int port, const char *path, int status, struct qt_resp *r, struct qt_json *j);
/* The "error" member of an error reply's JSON body, into out. */
const char *qt_error_of(const struct qt_resp *r, char *out, size_t cap);

/* POSTs a JSON body to the ingest port; returns the HTTP status or -1. */
int qt_ingest(int port, const char *json, size_t len);

/* ---- JSON reader ---- */

struct qt_json {
	const char *buf;
	struct json_tok *t; /* owned */
	int n;
};

/* Parses buf[0..len) (kept borrowed).  Returns 0 or -1. */
int qt_json_parse(struct qt_json *j, const char *buf, size_t len);
void qt_json_free(struct qt_json *j);
/* Token of member `key` of object `obj`, or -1. */
int qt_jget(const struct qt_json *j, int obj, const char *key);
/* Array/object iteration: first child (-1 when empty), next sibling (-1 at
 * the end).  For objects the children are keys; their values follow them. */
int qt_jfirst(const struct qt_json *j, int arr);
int qt_jnext(const struct qt_json *j, int arr, int i);
size_t qt_jlen(const struct qt_json *j, int arr);
int qt_jat(const struct qt_json *j, int arr, size_t k);
long long qt_jint(const struct qt_json *j, int tok); /* -1 when not an integer */
double qt_jdbl(const struct qt_json *j, int tok);
int qt_jnull(const struct qt_json *j, int tok);
/* Decoded string into out (NUL-terminated); "" when not a string. */
const char *qt_jstr(const struct qt_json *j, int tok, char *out, size_t cap);
/* The raw JSON text of a value. */
const char *qt_jraw(const struct qt_json *j, int tok, size_t *len);

#endif
