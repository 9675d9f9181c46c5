/*
 * q_http_int.h — internals shared by the files of the query HTTP API.
 *
 *   http.c        daemon, router, auth, body limit, request life cycle
 *   http_util.c   replies, query-string arguments, durations, string sets
 *   http_metrics.c  request counters and latency histograms, GET /metrics
 *   funnel_api.c  POST /v1/funnel: request parsing and reply
 *   replay.c      GET /v1/sessions/{id}/events (JSON or NDJSON, streamed)
 *   sessions.c    GET /v1/sessions
 *   series.c      GET /v1/series
 *   stats.c       GET /v1/stats
 *   ui.c          GET /, /replay/{session}, /ui/{file}: the pages (client/viewer)
 *
 * A request's life: http.c allocates a struct q_req when MHD first calls
 * the access handler (headers read), routes and authorizes it, collects a
 * body when the route takes one, then calls the route's handler once.  The
 * handler queues exactly one reply through the q_reply_*() helpers (which
 * record the status) and returns their MHD result.  When MHD reports the
 * request complete, http.c records its endpoint, status and duration and
 * frees the q_req.
 */
#ifndef SPOOR_Q_HTTP_INT_H
#define SPOOR_Q_HTTP_INT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "qjson.h"
#include "query.h"

/* Endpoints, for metrics labels. */
enum q_ep {
	Q_EP_FUNNEL,
	Q_EP_REPLAY,
	Q_EP_SESSIONS,
	Q_EP_SERIES,
	Q_EP_STATS,
	Q_EP_METRICS,
	Q_EP_HEALTHZ,
	Q_EP_UI,    /* the pages: /, /replay/{id}, /ui/{file} */
	Q_EP_OTHER, /* unknown paths, refused before routing */
	Q_EP_COUNT
};

#define Q_NSTATUS  10 /* 200 304 400 401 404 405 413 500 503, other */
#define Q_NBUCKETS 11 /* latency histogram upper bounds, +Inf apart */

struct q_metrics {
	atomic_uint_fast64_t requests[Q_EP_COUNT][Q_NSTATUS];
	atomic_uint_fast64_t le[Q_EP_COUNT][Q_NBUCKETS]; /* requests <= bound (not cumulative) */
	atomic_uint_fast64_t count[Q_EP_COUNT];		 /* all finished requests */
	atomic_uint_fast64_t sum_us[Q_EP_COUNT];	 /* their total duration */
	atomic_int_fast64_t in_flight;
};

struct q_route; /* http.c */

struct q_http {
	struct MHD_Daemon *d; /* owned */
	struct q_engine *eng; /* owned */
	struct store *st;     /* borrowed */
	char *token;	      /* owned; NULL: no auth */
	size_t token_len;
	size_t max_body; /* bytes of a request body */
	int port;	 /* bound port */
	struct q_metrics m;
};

struct q_req {
	struct q_http *h;
	struct MHD_Connection *conn;
	enum q_ep ep;
	const struct q_route *route; /* NULL: none matched */
	const char *arg;	     /* path parameter (a copy, owned), NUL-terminated */
	size_t arg_len;
	unsigned status;    /* of the queued reply; 0 until one is queued */
	const char *allow;  /* static; set: the reply carries an Allow header */
	struct timespec t0; /* CLOCK_MONOTONIC at the first call */
	char *body;	    /* owned request body */
	size_t body_len, body_cap;
	size_t discarded; /* body bytes dropped past max_body */
	int too_big;	  /* 1: the body passed max_body */
};

typedef enum MHD_Result (*q_handler)(struct q_req *r);

/* ---- handlers (one file each) ---- */
enum MHD_Result q_serve_funnel(struct q_req *r);
enum MHD_Result q_serve_replay(struct q_req *r);
enum MHD_Result q_serve_sessions(struct q_req *r);
enum MHD_Result q_serve_series(struct q_req *r);
enum MHD_Result q_serve_stats(struct q_req *r);
enum MHD_Result q_serve_metrics(struct q_req *r);
/* ui.c: the session list and funnel page, the replay page, their files. */
enum MHD_Result q_serve_ui_index(struct q_req *r);
enum MHD_Result q_serve_ui_replay(struct q_req *r);
enum MHD_Result q_serve_ui_asset(struct q_req *r);

/* ---- replies (http_util.c) ----
 * Each queues one reply with Content-Type and Cache-Control: no-store,
 * records r->status and returns MHD's answer (MHD_NO closes the
 * connection). */

/* Queues `resp` (consumed: destroyed here) with status and content type. */
enum MHD_Result q_reply(struct q_req *r, unsigned status, struct MHD_Response *resp,
			const char *ctype);
/* The JSON in *b (taken: *b is left empty); 500 when b->oom. */
enum MHD_Result q_reply_json(struct q_req *r, unsigned status, struct qj *b);
/* {"error":"<formatted message>"} */
enum MHD_Result q_reply_error(struct q_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 500 {"error":"..."} naming a negative code. */
enum MHD_Result q_reply_code(struct q_req *r, int code);
enum MHD_Result q_reply_text(struct q_req *r, unsigned status, const char *ctype, const char *text);

/* ---- query-string arguments (http_util.c) ---- */

/* 0 when every argument of the request is one of `names` (NULL-terminated)
 * and none is given twice or holds a NUL byte; else ERR_INVALID with a
 * message in err. */
int q_args_check(struct q_req *r, const char *const *names, char *err, size_t errlen);
/* The value of argument `name` (NUL-terminated, *len bytes) or NULL. */
const char *q_arg(struct q_req *r, const char *name, size_t *len);
/* Decimal integer argument in [lo, hi]: 1 with *out set, 0 when absent
 * (*out untouched), ERR_INVALID with a message. */
int q_arg_i64(struct q_req *r, const char *name, int64_t lo, int64_t hi, int64_t *out, char *err,
	      size_t errlen);

/*
 * A duration "<n><unit>" with unit ms, s, m, h or d ("90s", "1h", "2d"), n a
 * decimal integer without sign.  Returns 0 with *ms set, or ERR_INVALID
 * (also when the result overflows).
 */
int q_parse_duration(const char *s, size_t n, int64_t *ms);

/* Milliseconds since the epoch, wall clock. */
int64_t q_now_ms(void);

/* ---- string sets (http_util.c) ----
 * An open-addressing set of (string, tag) keys.  Strings are borrowed (the
 * caller keeps them alive as long as the set). */
struct q_sset_ent {
	uint64_t h; /* hash of (string, tag); 0 marks an empty slot */
	const char *p;
	uint32_t n;
	uint32_t tag;
};
struct q_sset {
	struct q_sset_ent *v;
	size_t n, mask;
};
/* Adds (p[0..n), tag); returns 1 when it was new, 0 when present, -ENOMEM. */
int q_sset_add(struct q_sset *s, const char *p, size_t n, uint32_t tag);
void q_sset_free(struct q_sset *s);

/* ---- funnel requests (funnel_api.c) ---- */

/*
 * Parses a POST /v1/funnel body into *req.  String views in *req point
 * into *arena (free() it after the query) or into body.  Returns 0, -ENOMEM,
 * or ERR_INVALID with a message for the client in err, e.g.
 * `steps[1]: unknown key "tpye"`.
 */
int q_funnel_parse(const char *body, size_t len, struct q_funnel_req *req, char **arena, char *err,
		   size_t errlen);

/* ---- event rendering (replay.c) ---- */

/* One stored event as a JSON object (absent optional fields omitted). */
void q_event_json(struct qj *b, const struct store_event *e);

/* ---- metrics (http_metrics.c) ---- */

/* Records one finished request. */
void q_metrics_record(struct q_metrics *m, enum q_ep ep, unsigned status, uint64_t us);

#endif
