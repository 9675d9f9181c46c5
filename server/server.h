/*
 * server.h — spoord's io_uring ingest server: configuration, start, stop.
 *
 * main() fills a struct srv_config from the command line, the environment
 * and a config file (srv_config_load()), opens the store, then starts the
 * server with srv_start(): N worker threads, each with its own io_uring and
 * SO_REUSEPORT listener, serving POST /v1/events, GET /healthz and
 * GET /metrics on cfg->listen (server/routes.c has the route table).
 *
 * Shutdown: srv_stop() asks the workers to stop accepting and to finish the
 * requests in flight (bounded by the request timeout); srv_wait() joins them.
 * The caller then syncs and closes the store.
 *
 * Other listeners (the query API on cfg->query_listen) are not started here:
 * a module that serves them provides a struct srv_service, and main starts
 * it after the store is open and stops it before the store is closed.
 *
 * Errors: 0 on success, -errno or ERR_* (common/err.h) with a message in the
 * caller's errbuf.  Nothing here exits.
 */
#ifndef SPOOR_SERVER_H
#define SPOOR_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

struct store;

enum srv_fsync {
	SRV_FSYNC_ALWAYS,   /* a 200 is sent once a group commit covering it is durable */
	SRV_FSYNC_INTERVAL, /* a background thread calls store_sync() about every second */
	SRV_FSYNC_NONE,	    /* never synced before store_close() */
};

/* A resolved HOST:PORT. */
struct srv_addr {
	char text[272];		    /* as given: "127.0.0.1:8080", "[::1]:0" */
	struct sockaddr_storage sa; /* resolved address (port may be 0) */
	socklen_t salen;
};

#define SRV_MAX_HEAD 8192 /* request head limit; longer heads get 431 */

/* Everything spoord can be told.  srv_config_load() fills every field. */
struct srv_config {
	char data[4096];	      /* --data: the store's directory */
	struct srv_addr listen;	      /* --listen: the ingest port */
	struct srv_addr query_listen; /* --query-listen: for the query service */
	int threads;		      /* --threads: worker threads, >= 1 */
	enum srv_fsync fsync;	      /* --fsync */
	int64_t partition_ms;	      /* --partition hour|day */
	uint32_t shards;	      /* --shards; 0: the store's default */
	int shards_set;		      /* 1 when --shards was given (any source) */
	size_t max_body;	      /* --max-body: bytes of a request body */
	int64_t retention_ms;	      /* --retention DAYS, 0: keep everything */
	char ingest_key[256];	      /* --ingest-key, "" when none */
	char query_token[256];	      /* --query-token, "" when none */
	int max_conns;		      /* --max-conns: open connections, all threads */
	char cors_origins[2048];      /* --cors-origins: "*" or a comma list */
	int idle_timeout_ms;	      /* --idle-timeout-ms: keep-alive idle limit */
	int request_timeout_ms;	      /* --request-timeout-ms: head + body limit */
	size_t max_buffered;	      /* --max-buffered: request/reply bytes, all conns */
	enum log_level log_level;     /* --log-level */
	char config_file[4096];	      /* --config, "" when none */
};

/*
 * Fills *cfg from, in order of precedence, argv (flags, "--name value" or
 * "--name=value"), the environment (SPOORD_NAME), the config file named by
 * --config or SPOORD_CONFIG (lines "name = value", '#' comments), and the
 * defaults.  Returns 0 when the server should run, 1 when --help or
 * --version was answered on `out` (exit 0), or ERR_INVALID with a one-line
 * message in errbuf (exit 2).
 */
int srv_config_load(struct srv_config *cfg, int argc, char **argv, FILE *out, char *errbuf,
		    size_t errlen);

/* Writes the --help text: every flag with its variable and default. */
void srv_config_usage(FILE *out);

/* "always", "interval" or "none". */
const char *srv_fsync_name(enum srv_fsync m);

struct srv;

/*
 * Binds cfg->listen (port 0 picks a free port), starts cfg->threads workers
 * and, with --fsync interval, the sync thread.  `cfg` is copied; `st` is
 * borrowed and must stay open until srv_free().  Returns 0 with *out owning
 * the server, or a negative code with a message in errbuf.
 */
int srv_start(const struct srv_config *cfg, struct store *st, struct srv **out, char *errbuf,
	      size_t errlen);

/* The port the ingest listener is bound to. */
int srv_port(const struct srv *s);

/* The ring setup in use: "single_issuer+defer_taskrun" or "plain". */
const char *srv_ring_mode(const struct srv *s);

/* Asks every thread to stop: no more accepts, in-flight requests finish
 * (bounded by the request timeout), then the threads return.  Returns at
 * once; thread-safe; calling it twice is harmless. */
void srv_stop(struct srv *s);

/* Waits for the threads started by srv_start() to return. */
void srv_wait(struct srv *s);

/* Stops (if needed), joins and frees.  NULL ok.  The store stays open. */
void srv_free(struct srv *s);

/*
 * A service started beside the ingest server, with its own listener (the
 * query API on cfg->query_listen).  main keeps a table of them: start() is
 * called after the store is open and the ingest server runs; it returns 0
 * with *state owned by the service, or a negative code (main logs it and
 * exits 1).  stop() is called before the store is closed and must return
 * once the service's threads are gone.
 */
struct srv_service {
	const char *name; /* for logs: "query" */
	int (*start)(const struct srv_config *cfg, struct store *st, void **state, char *errbuf,
		     size_t errlen);
	void (*stop)(void *state);
};

#endif
