/*
 * spoord_harness.h — runs the real spoord binary for integration tests and
 * talks HTTP/1.1 to it over plain sockets.
 *
 * Each server gets a fresh temporary directory: data/ is its store and
 * stderr.log collects its log.  sh_start() waits for the "spoord started"
 * line and reads the bound port from it (spoord runs with --listen
 * 127.0.0.1:0).  Waits are bounded by generous limits (tens of seconds) so
 * a loaded machine slows the tests down but does not fail them.
 */
#ifndef SPOOR_SPOORD_HARNESS_H
#define SPOOR_SPOORD_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct sh_server {
	pid_t pid;	    /* running spoord, 0 when none */
	int port;	    /* its ingest port */
	char dir[256];	    /* temporary root */
	char data[300];	    /* dir/data */
	char log[300];	    /* dir/stderr.log (appended to by every start) */
	char args[16][256]; /* extra arguments of the last start */
	int nargs;
};

/* Creates the temporary directory and starts spoord with --data, --listen
 * 127.0.0.1:0 and the NULL-terminated extra arguments.  Returns 0, or -1
 * when spoord exited or printed no start line in time. */
int sh_start(struct sh_server *s, const char *const *extra);

/* Starts spoord again on the same directory with the same arguments. */
int sh_restart(struct sh_server *s);

/* Sends sig and waits for the exit.  Returns the exit status, 128 + signal
 * when killed by one, or -1 when it did not end in time (then SIGKILLed). */
int sh_stop(struct sh_server *s, int sig);

/* Kills spoord if it still runs and removes the directory. */
void sh_cleanup(struct sh_server *s);

/* Runs spoord with argv (NULL-terminated, without argv[0]) to completion,
 * capturing stdout+stderr into out[0..cap).  Returns the exit status. */
int sh_run(const char *const *argv, char *out, size_t cap);

/* A client connection with a read buffer, so pipelined replies can be read
 * one by one. */
struct sh_conn {
	int fd;
	char buf[1 << 16];
	size_t len;
};

/* One response: status, raw head, body (owned: sh_resp_free()). */
struct sh_resp {
	int status;
	char head[8192];
	char *body; /* NUL-terminated */
	size_t body_len;
};

/* Connects to 127.0.0.1:port with 30 s socket timeouts.  Returns 0 or -1. */
int sh_connect(struct sh_conn *c, int port);
void sh_close(struct sh_conn *c);
/* Writes all of p[0..n).  Returns 0 or -1. */
int sh_send(struct sh_conn *c, const void *p, size_t n);
int sh_sends(struct sh_conn *c, const char *s);
/* Reads one response.  Returns 0, or -1 when the connection ended first. */
int sh_read(struct sh_conn *c, struct sh_resp *r);
void sh_resp_free(struct sh_resp *r);
/* Copies header `name`'s value into out.  Returns 1 when present. */
int sh_header(const struct sh_resp *r, const char *name, char *out, size_t cap);
/* 1 when the server closed the connection (EOF or reset) within timeout_ms,
 * discarding anything it still sends. */
int sh_wait_closed(struct sh_conn *c, int timeout_ms);

/* Formats a request: method, path, extra header lines ("A: b\r\n", may be
 * NULL) and a Content-Length body (NULL: none).  Returns a malloc'd string
 * and its length in *len. */
char *sh_format(const char *method, const char *path, const char *headers, const char *body,
		size_t *len);
/* One request on a new connection.  Returns 0 with *r filled, or -1. */
int sh_request(int port, const char *method, const char *path, const char *headers,
	       const char *body, struct sh_resp *r);

/* Reading a stopped server's data directory with the storage library. */
struct store;
struct store_snap;
struct store_events;
struct sh_stored {
	struct store *st;
	struct store_snap *snap;
};
/* Opens `data` read-only and takes a snapshot.  Returns 0 or a negative code. */
int sh_stored_open(struct sh_stored *s, const char *data);
void sh_stored_close(struct sh_stored *s);
/* The number of events of `session`, or -1.  *out (may be NULL) receives
 * them (free with store_events_free()). */
long sh_stored_count(struct sh_stored *s, const char *session, struct store_events **out);

#endif
