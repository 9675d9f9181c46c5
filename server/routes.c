/*
 * routes.c — what spoord answers: the route table, the handlers, replies.
 *
 * Every reply goes through send_reply(): status line, Content-Type,
 * Content-Length, the CORS headers, Connection, the handler's extra lines,
 * then the body, appended to the connection's output in one piece.  Bodies
 * are built in the worker's scratch buffer, so steady-state requests
 * allocate nothing.
 *
 * CORS: with --cors-origins '*' every reply carries
 * "Access-Control-Allow-Origin: *"; with a list, a listed Origin is echoed
 * with "Vary: Origin" (and an unlisted one gets only the Vary).  OPTIONS on a
 * known path is the preflight: 204 with the allowed methods and headers.
 *
 * Static files (the browser SDK at /spoor.js, the demo pages under
 * /example/) come from the table common/asset.h embeds: GET and HEAD, a
 * strong ETag, If-None-Match answered 304, a Cache-Control per route.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset.h"
#include "err.h"
#include "log.h"
#include "srv_impl.h"

enum { M_GET = 1, M_HEAD = 2, M_POST = 4, M_OPTIONS = 8 };

struct req_ctx {
	const struct http_request *rq; /* NULL for errors before a parsed head */
	const struct http_header *hdrs;
	char *body;
	size_t blen;
	unsigned method; /* M_*, 0 for others */
};

typedef void (*route_fn)(struct worker *w, struct conn *c, const struct req_ctx *x);

struct route {
	const char *path;
	unsigned methods;  /* M_* accepted; OPTIONS is always the CORS preflight */
	const char *allow; /* the Allow header of a 405 */
	route_fn fn;
	int prefix; /* 1: every path that starts with `path` */
};

static void h_events(struct worker *w, struct conn *c, const struct req_ctx *x);
static void h_healthz(struct worker *w, struct conn *c, const struct req_ctx *x);
static void h_metrics(struct worker *w, struct conn *c, const struct req_ctx *x);
static void h_sdk(struct worker *w, struct conn *c, const struct req_ctx *x);
static void h_example(struct worker *w, struct conn *c, const struct req_ctx *x);
static void h_root(struct worker *w, struct conn *c, const struct req_ctx *x);

static const struct route routes[] = {
    {"/", M_GET | M_HEAD | M_OPTIONS, "GET, HEAD, OPTIONS", h_root, 0},
    {"/v1/events", M_POST | M_OPTIONS, "POST, OPTIONS", h_events, 0},
    {"/healthz", M_GET | M_HEAD | M_OPTIONS, "GET, HEAD, OPTIONS", h_healthz, 0},
    {"/metrics", M_GET | M_HEAD | M_OPTIONS, "GET, HEAD, OPTIONS", h_metrics, 0},
    {"/spoor.js", M_GET | M_HEAD | M_OPTIONS, "GET, HEAD, OPTIONS", h_sdk, 0},
    {"/example", M_GET | M_HEAD | M_OPTIONS, "GET, HEAD, OPTIONS", h_example, 0},
    {"/example/", M_GET | M_HEAD | M_OPTIONS, "GET, HEAD, OPTIONS", h_example, 1},
};

/* ---- reply assembly ----------------------------------------------------- */

/* A bounded appender for the reply head. */
struct head {
	char b[4096];
	size_t n;
};

static void put(struct head *h, const char *s, size_t n)
{
	if (n > sizeof h->b - h->n)
		n = sizeof h->b - h->n;
	memcpy(h->b + h->n, s, n);
	h->n += n;
}

static void puts_(struct head *h, const char *s)
{
	put(h, s, strlen(s));
}

static void put_u64(struct head *h, uint64_t v)
{
	char d[24];
	int i = sizeof d;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(h, d + i, sizeof d - (size_t)i);
}

/* 1 when `origin` is one of the comma-separated --cors-origins. */
static int origin_listed(const char *list, struct http_str origin)
{
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		size_t k = n;

		while (k && *s == ' ')
			s++, k--;
		while (k && s[k - 1] == ' ')
			k--;
		if (k == origin.n && k && memcmp(s, origin.p, k) == 0)
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

static void put_cors(struct worker *w, struct head *h, const struct http_request *rq)
{
	if (w->srv->cors_any) {
		puts_(h, "Access-Control-Allow-Origin: *\r\n");
		return;
	}
	if (rq && rq->origin.n && origin_listed(w->srv->cfg.cors_origins, rq->origin)) {
		puts_(h, "Access-Control-Allow-Origin: ");
		put(h, rq->origin.p, rq->origin.n);
		puts_(h, "\r\n");
	}
	puts_(h, "Vary: Origin\r\n");
}

/*
 * Appends a whole reply to c's output.  keep: the connection stays open
 * after it (otherwise "Connection: close" and c->close_after).  ctype NULL:
 * no Content-Type; no_body: HEAD or a status without content (the length is
 * still announced, except for 1xx/204).
 */
static void send_reply(struct worker *w, struct conn *c, const struct http_request *rq, int status,
		       const char *ctype, const char *extra, const char *body, size_t blen,
		       int no_body)
{
	struct head h;
	int keep = rq && rq->keep_alive && !c->close_after && !w->stopping && !c->peer_eof;

	h.n = 0;
	puts_(&h, "HTTP/1.1 ");
	put_u64(&h, (uint64_t)status);
	puts_(&h, " ");
	puts_(&h, http_reason(status));
	puts_(&h, "\r\n");
	if (ctype) {
		puts_(&h, "Content-Type: ");
		puts_(&h, ctype);
		puts_(&h, "\r\n");
	}
	if (status != 204) {
		puts_(&h, "Content-Length: ");
		put_u64(&h, blen);
		puts_(&h, "\r\n");
	}
	put_cors(w, &h, rq);
	if (extra)
		puts_(&h, extra);
	if (!keep)
		puts_(&h, "Connection: close\r\n");
	else if (rq->minor == 0)
		puts_(&h, "Connection: keep-alive\r\n");
	puts_(&h, "\r\n");
	if (conn_out(w, c, h.b, h.n) < 0 || (!no_body && blen && conn_out(w, c, body, blen) < 0)) {
		conn_close(w, c);
		return;
	}
	metrics_count_status(&w->m, status);
	if (!keep)
		c->close_after = 1;
	if (rq)
		log_write(LOG_DEBUG, "request", "thread=%d method=%.*s path=%.*s status=%d", w->id,
			  (int)rq->method.n, rq->method.p, (int)rq->path.n, rq->path.p, status);
}

/* {"error":"<msg>"} */
static void reply_json_error(struct worker *w, struct conn *c, const struct http_request *rq,
			     int status, const char *msg, const char *extra)
{
	struct sbuf *b = &w->scratch;

	b->len = 0;
	SBUF_LIT(b, "{\"error\":\"");
	sbuf_json_str(b, msg, strlen(msg));
	SBUF_LIT(b, "\"}");
	send_reply(w, c, rq, status, "application/json", extra, b->p, b->len, 0);
}

void route_error(struct worker *w, struct conn *c, const struct http_request *rq, int status,
		 const char *msg, const char *extra)
{
	c->close_after = 1; /* before send_reply: it then says "Connection: close" */
	reply_json_error(w, c, rq, status, msg ? msg : http_reason(status), extra);
}

void route_continue(struct worker *w, struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (conn_out(w, c, cont, sizeof cont - 1) < 0)
		conn_close(w, c);
}

/* ---- handlers ----------------------------------------------------------- */

/* Compares a[0, an) with b[0, bn) in time that depends on bn only. */
static int ct_equal(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned char diff = an != bn;

	for (size_t i = 0; i < bn; i++)
		diff |= (unsigned char)((i < an ? a[i] : 0) ^ b[i]);
	return diff == 0;
}

/* 1 when the request carries the ingest key (header or ?key=). */
static int key_ok(struct worker *w, const struct req_ctx *x)
{
	const char *key = w->srv->cfg.ingest_key;
	struct http_str h = http_header_get(x->hdrs, x->rq->nheaders, "X-Spoor-Key");
	char q[256];
	int n;

	if (h.p)
		return ct_equal(h.p, h.n, key, w->srv->key_len);
	n = http_query_get(x->rq->query, "key", q, sizeof q);
	return n >= 0 && ct_equal(q, (size_t)n, key, w->srv->key_len);
}

/* What a store_append() status means for the client. */
enum verdict { V_OK, V_DUP, V_BAD, V_STORE };

static enum verdict classify(int st)
{
	if (st == STORE_OK)
		return V_OK;
	if (st == STORE_DUP)
		return V_DUP;
	switch (st) {
	case -ENOSPC:
	case -EFBIG:
	case -EDQUOT:
	case -EIO:
	case -EROFS:
	case -ENOMEM:
	case -EAGAIN: /* ERR_BUSY: too many segments waiting to be sealed */ return V_STORE;
	default: return V_BAD;
	}
}

/* Appends {"index":i,"error":"msg"} with a leading comma when not first. */
static void put_error(struct sbuf *b, int first, uint32_t index, const char *msg)
{
	if (!first)
		SBUF_LIT(b, ",");
	SBUF_LIT(b, "{\"index\":");
	sbuf_u64(b, index);
	SBUF_LIT(b, ",\"error\":\"");
	sbuf_json_str(b, msg, strlen(msg));
	SBUF_LIT(b, "\"}");
}

/* The ingest reply body: counts, then the first INGEST_MAX_ERRORS errors of
 * the parser and of the store, merged in body order. */
static void events_body(struct worker *w, const struct ingest_batch *bt, uint64_t acc, uint64_t rej,
			uint64_t dup)
{
	struct sbuf *b = &w->scratch;
	size_t pi = 0, si = 0, k = 0;

	b->len = 0;
	SBUF_LIT(b, "{\"accepted\":");
	sbuf_u64(b, acc);
	SBUF_LIT(b, ",\"rejected\":");
	sbuf_u64(b, rej);
	SBUF_LIT(b, ",\"duplicates\":");
	sbuf_u64(b, dup);
	SBUF_LIT(b, ",\"errors\":[");
	while (k < INGEST_MAX_ERRORS) {
		/* next store rejection, if any */
		while (si < bt->n && classify(w->status[si]) != V_BAD)
			si++;
		if (pi < bt->nerrors && (si >= bt->n || bt->errors[pi].index < bt->index[si])) {
			put_error(b, k == 0, bt->errors[pi].index, bt->errors[pi].msg);
			pi++;
		} else if (si < bt->n) {
			put_error(b, k == 0, bt->index[si],
				  w->status[si] == -E2BIG
				      ? "event: a field is over its size limit"
				      : "event: invalid or older than the retention");
			si++;
		} else {
			break;
		}
		k++;
	}
	SBUF_LIT(b, "]}");
}

static void h_events(struct worker *w, struct conn *c, const struct req_ctx *x)
{
	struct ingest_batch bt;
	uint64_t acc = 0, rej, dup = 0;
	int store_err = 0, rc, appended = 0;

	if (w->srv->key_len && !key_ok(w, x)) {
		reply_json_error(w, c, x->rq, 401, "missing or wrong ingest key", NULL);
		return;
	}
	rc = ingest_parse(w->parser, x->body, x->blen, w->wall_ms, &bt);
	if (rc == ERR_INVALID) {
		reply_json_error(w, c, x->rq, 400,
				 bt.json_error[0] ? bt.json_error : "invalid JSON", NULL);
		return;
	}
	if (rc < 0) {
		int st = rc == ERR_TOOBIG ? 413 : 500;
		reply_json_error(w, c, x->rq, st, err_str(rc), NULL);
		return;
	}
	rej = bt.rejected;
	if (bt.n > 0) {
		if (bt.n > w->status_cap) {
			int8_t *s = realloc(w->status, bt.n);
			if (!s) {
				reply_json_error(w, c, x->rq, 503, "out of memory",
						 "Retry-After: 1\r\n");
				return;
			}
			w->status = s;
			w->status_cap = bt.n;
		}
		/* an event the store did not get to keeps this: a storage failure */
		memset(w->status, (int8_t)-EIO, bt.n);
		rc = store_append(w->srv->store, bt.ev, bt.n, w->status);
		w->appended++;
		appended = 1;
		for (size_t i = 0; i < bt.n; i++) {
			switch (classify(w->status[i])) {
			case V_OK: acc++; break;
			case V_DUP: dup++; break;
			case V_BAD: rej++; break;
			case V_STORE:
				if (!store_err)
					store_err = w->status[i];
				break;
			}
		}
		if (rc < 0 && !store_err)
			store_err = rc;
		if (store_err)
			m_set_i64(&w->m.store_fail_ms, w->wall_ms);
		else
			m_set_i64(&w->m.store_ok_ms, w->wall_ms);
	}
	m_add(&w->m.ev_accepted, acc);
	m_add(&w->m.ev_rejected, rej);
	m_add(&w->m.ev_duplicate, dup);
	if (appended && w->srv->cfg.fsync == SRV_FSYNC_ALWAYS && acc + dup > 0)
		conn_hold(w, c);
	if (store_err) {
		struct sbuf *b = &w->scratch;
		int busy = store_err == ERR_BUSY || store_err == -EAGAIN;
		b->len = 0;
		sbuf_printf(b,
			    "{\"error\":\"storage %s: %s\",\"accepted\":%llu,\"duplicates\":%llu}",
			    busy ? "busy" : "unavailable", busy ? "try again" : err_str(store_err),
			    (unsigned long long)acc, (unsigned long long)dup);
		send_reply(w, c, x->rq, 503, "application/json",
			   busy ? "Retry-After: 1\r\n" : "Retry-After: 5\r\n", b->p, b->len, 0);
		return;
	}
	events_body(w, &bt, acc, rej, dup);
	send_reply(w, c, x->rq, bt.total > 0 && acc + dup == 0 ? 400 : 200, "application/json",
		   NULL, w->scratch.p, w->scratch.len, 0);
}

/* GET /: what this port is, for whoever opens it in a browser. */
static void h_root(struct worker *w, struct conn *c, const struct req_ctx *x)
{
	static const char text[] =
	    "spoord ingest port\n"
	    "\n"
	    "POST /v1/events   events (JSON object, array, NDJSON or {\"sent_at\",\"events\"})\n"
	    "GET  /spoor.js    the browser SDK\n"
	    "GET  /example/    a demo shop that uses it\n"
	    "GET  /healthz     ok while the store is writable\n"
	    "GET  /metrics     Prometheus text\n"
	    "\n"
	    "Queries, sessions and replays are on the query port (--query-listen).\n";

	send_reply(w, c, x->rq, 200, "text/plain; charset=utf-8", NULL, text, sizeof text - 1,
		   x->method == M_HEAD);
}

static void h_healthz(struct worker *w, struct conn *c, const struct req_ctx *x)
{
	if (srv_store_writable(w->srv))
		send_reply(w, c, x->rq, 200, "text/plain", NULL, "ok\n", 3, x->method == M_HEAD);
	else
		send_reply(w, c, x->rq, 503, "text/plain", "Retry-After: 5\r\n",
			   "store not writable\n", 19, x->method == M_HEAD);
}

static void h_metrics(struct worker *w, struct conn *c, const struct req_ctx *x)
{
	w->scratch.len = 0;
	if (metrics_render(w->srv, &w->scratch) < 0) {
		reply_json_error(w, c, x->rq, 500, "out of memory", NULL);
		return;
	}
	send_reply(w, c, x->rq, 200, "text/plain; version=0.0.4", NULL, w->scratch.p,
		   w->scratch.len, x->method == M_HEAD);
}

/* ---- static files ------------------------------------------------------- */

/* 1 when the If-None-Match value `inm` is "*" or lists `etag` (weak
 * comparison, RFC 9110 13.1.2: a W/ prefix is ignored). */
static int etag_listed(struct http_str inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm.p, *end = inm.p + inm.n;

	while (p < end) {
		const char *s;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		if (*p == '*')
			return 1;
		if (end - p > 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		s = p;
		if (*p == '"') {
			p++;
			while (p < end && *p != '"')
				p++;
			if (p < end)
				p++;
		} else {
			while (p < end && *p != ',')
				p++;
		}
		if ((size_t)(p - s) == elen && memcmp(s, etag, elen) == 0)
			return 1;
	}
	return 0;
}

/*
 * Replies with asset a: 304 (no body, the length it would have) when the
 * request's If-None-Match names its ETag, else 200 with the bytes (none for
 * HEAD).  cache is the Cache-Control value.
 */
static void send_asset(struct worker *w, struct conn *c, const struct req_ctx *x,
		       const struct asset *a, const char *cache)
{
	struct http_str inm = http_header_get(x->hdrs, x->rq->nheaders, "If-None-Match");
	char extra[256];

	snprintf(extra, sizeof extra,
		 "ETag: %s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
		 "Cross-Origin-Resource-Policy: cross-origin\r\n",
		 a->etag, cache);
	if (inm.p && etag_listed(inm, a->etag))
		send_reply(w, c, x->rq, 304, NULL, extra, (const char *)a->data, a->len, 1);
	else
		send_reply(w, c, x->rq, 200, a->type, extra, (const char *)a->data, a->len,
			   x->method == M_HEAD);
}

/* GET /spoor.js: the browser SDK.  Cached for 5 minutes: a site picks up a
 * new SDK soon after spoord is upgraded, and revalidation is a 304. */
static void h_sdk(struct worker *w, struct conn *c, const struct req_ctx *x)
{
	const struct asset *a = asset_find("js/spoor.js");

	if (!a) {
		reply_json_error(w, c, x->rq, 404, "no SDK in this build", NULL);
		return;
	}
	send_asset(w, c, x, a, "public, max-age=300");
}

/* GET /example/NAME: the demo pages (client/js/example/), index.html for
 * /example/; /example redirects to /example/ so relative links resolve.
 * Revalidated on every load (no-cache): they are small and change with the
 * build. */
static void h_example(struct worker *w, struct conn *c, const struct req_ctx *x)
{
	static const char dir[] = "js/example/";
	struct http_str p = x->rq->path;
	const struct asset *a;
	char name[128];

	if (p.n == 8) { /* "/example" */
		send_reply(w, c, x->rq, 301, "text/plain", "Location: /example/\r\n",
			   "see /example/\n", 14, x->method == M_HEAD);
		return;
	}
	p.p += 9;
	p.n -= 9;
	if (p.n == 0) {
		p.p = "index.html";
		p.n = 10;
	}
	if (p.n >= sizeof name - sizeof dir || memchr(p.p, '/', p.n) || memchr(p.p, '\0', p.n)) {
		reply_json_error(w, c, x->rq, 404, "no such path", NULL);
		return;
	}
	memcpy(name, dir, sizeof dir - 1);
	memcpy(name + sizeof dir - 1, p.p, p.n);
	name[sizeof dir - 1 + p.n] = '\0';
	if (!(a = asset_find(name))) {
		reply_json_error(w, c, x->rq, 404, "no such path", NULL);
		return;
	}
	send_asset(w, c, x, a, "no-cache");
}

/* ---- dispatch ----------------------------------------------------------- */

static unsigned method_of(struct http_str m)
{
	if (m.n == 4 && memcmp(m.p, "POST", 4) == 0)
		return M_POST;
	if (m.n == 3 && memcmp(m.p, "GET", 3) == 0)
		return M_GET;
	if (m.n == 4 && memcmp(m.p, "HEAD", 4) == 0)
		return M_HEAD;
	if (m.n == 7 && memcmp(m.p, "OPTIONS", 7) == 0)
		return M_OPTIONS;
	return 0;
}

static void preflight(struct worker *w, struct conn *c, const struct route *r,
		      const struct http_request *rq)
{
	char extra[256];

	snprintf(extra, sizeof extra,
		 "Allow: %s\r\n"
		 "Access-Control-Allow-Methods: POST, GET, OPTIONS\r\n"
		 "Access-Control-Allow-Headers: Content-Type, X-Spoor-Key\r\n"
		 "Access-Control-Max-Age: 86400\r\n",
		 r->allow);
	send_reply(w, c, rq, 204, NULL, extra, NULL, 0, 1);
}

void route_request(struct worker *w, struct conn *c, const struct http_request *rq,
		   const struct http_header *hdrs, char *body, size_t blen)
{
	struct req_ctx x = {rq, hdrs, body, blen, method_of(rq->method)};
	const struct route *r = NULL;

	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		size_t n = strlen(routes[i].path);
		if ((rq->path.n == n || (routes[i].prefix && rq->path.n > n)) &&
		    memcmp(rq->path.p, routes[i].path, n) == 0) {
			r = &routes[i];
			break;
		}
	}
	if (!r) {
		reply_json_error(w, c, rq, 404, "no such path", NULL);
		return;
	}
	if (!(x.method & r->methods)) {
		char extra[96];
		snprintf(extra, sizeof extra, "Allow: %s\r\n", r->allow);
		reply_json_error(w, c, rq, 405, "method not allowed", extra);
		return;
	}
	if (x.method == M_OPTIONS) {
		preflight(w, c, r, rq);
		return;
	}
	r->fn(w, c, &x);
}
