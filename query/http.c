/*
 * http.c — the query API's HTTP server (libmicrohttpd): listener, routes,
 * bearer-token auth, request-body limit, per-request bookkeeping.
 *
 * Threads: MHD runs an internal thread pool (q_http_opts.threads, default
 * one per core); each pool thread polls its own share of the connections
 * with epoll and runs their handlers.  A handler runs to completion on its
 * pool thread (a funnel fans out further over the engine's workers through
 * q_parallel()), so a slow query delays the other connections of that pool
 * thread, never the ingest server.  Connections are bounded (CONN_LIMIT)
 * and idle ones closed after IDLE_TIMEOUT_S.
 *
 * A request, as MHD calls the access handler for it:
 *
 *   1st call (head read)  allocate q_req, route; with a body: refuse now
 *                         (401 404 405, 413 by Content-Length) or go on
 *   body calls            append to r->body up to max_body, count the rest
 *   last call             refuse (401 404 405), 413 when the body passed
 *                         max_body, else serve
 *   completed (notify)    record metrics, free q_req
 *
 * A reply queued on the first call makes MHD drop the body and close the
 * connection after the reply, so only requests that carry a body are
 * refused there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "net.h"
#include "q_http_int.h"

#define CONN_LIMIT	 256
#define IDLE_TIMEOUT_S	 60
#define DEFAULT_MAX_BODY 65536
/* A body past max_body is read and dropped so the 413 can be sent in an
 * orderly way, but only up to this many times max_body: then the
 * connection is closed. */
#define DISCARD_FACTOR 16

/* ---- routes ------------------------------------------------------------------------ */

enum { M_GET = 1, M_POST = 2 };

struct q_route {
	const char *prefix; /* the path, or its part before the parameter */
	const char *suffix; /* NULL: exact match; else the part after the parameter */
	unsigned methods;   /* M_*; HEAD is served wherever GET is */
	const char *allow;  /* the Allow header of a 405 */
	enum q_ep ep;
	q_handler fn;
	int open; /* 1: no token needed */
};

static enum MHD_Result serve_healthz(struct q_req *r);

static const struct q_route routes[] = {
    {"/healthz", NULL, M_GET, "GET, HEAD", Q_EP_HEALTHZ, serve_healthz, 1},
    {"/metrics", NULL, M_GET, "GET, HEAD", Q_EP_METRICS, q_serve_metrics, 0},
    {"/v1/funnel", NULL, M_POST, "POST", Q_EP_FUNNEL, q_serve_funnel, 0},
    {"/v1/sessions", NULL, M_GET, "GET, HEAD", Q_EP_SESSIONS, q_serve_sessions, 0},
    {"/v1/sessions/", "/events", M_GET, "GET, HEAD", Q_EP_REPLAY, q_serve_replay, 0},
    {"/v1/series", NULL, M_GET, "GET, HEAD", Q_EP_SERIES, q_serve_series, 0},
    {"/v1/stats", NULL, M_GET, "GET, HEAD", Q_EP_STATS, q_serve_stats, 0},
    /*
     * The pages (ui.c): open, since they hold no data; their scripts call
     * the routes above with the user's token.  An empty suffix takes the
     * rest of the path as the parameter.
     */
    {"/", NULL, M_GET, "GET, HEAD", Q_EP_UI, q_serve_ui_index, 1},
    {"/replay/", "", M_GET, "GET, HEAD", Q_EP_UI, q_serve_ui_replay, 1},
    {"/ui/", "", M_GET, "GET, HEAD", Q_EP_UI, q_serve_ui_asset, 1},
};

/* The route of `url`; its parameter (the decoded path between prefix and
 * suffix) in *arg, *arg_len. */
static const struct q_route *route_of(const char *url, const char **arg, size_t *arg_len)
{
	size_t ul = strlen(url);

	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct q_route *rt = &routes[i];
		size_t pl = strlen(rt->prefix), sl;

		if (!rt->suffix) {
			if (strcmp(url, rt->prefix) == 0)
				return rt;
			continue;
		}
		sl = strlen(rt->suffix);
		if (ul >= pl + sl && memcmp(url, rt->prefix, pl) == 0 &&
		    memcmp(url + ul - sl, rt->suffix, sl) == 0) {
			*arg = url + pl;
			*arg_len = ul - pl - sl;
			return rt;
		}
	}
	return NULL;
}

static enum MHD_Result serve_healthz(struct q_req *r)
{
	return q_reply_text(r, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
}

/* ---- auth ----------------------------------------------------------------------------- */

/* 1 when a[0..an) equals the secret s[0..sn); the time taken depends on sn
 * only, never on where the first difference is. */
static int ct_equal(const char *a, size_t an, const char *s, size_t sn)
{
	unsigned char d = an != sn;

	for (size_t i = 0; i < sn; i++)
		d |= (unsigned char)((i < an ? a[i] : 0) ^ s[i]);
	return d == 0;
}

static int authorized(const struct q_http *h, struct MHD_Connection *c)
{
	const char *v;

	if (!h->token)
		return 1;
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!v || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	v += 7;
	while (*v == ' ')
		v++;
	return ct_equal(v, strlen(v), h->token, h->token_len);
}

/* ---- request life cycle ------------------------------------------------------------- */

/* 1 when the request announces a body (a non-zero Content-Length or any
 * Transfer-Encoding); *n is the announced length, UINT64_MAX when chunked. */
static int has_body(struct MHD_Connection *c, uint64_t *n)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	*n = UINT64_MAX;
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return 1;
	if (!v)
		return 0;
	*n = strtoull(v, NULL, 10);
	return *n > 0;
}

/* Routes r (first call): sets r->route, r->ep and r->arg.  0 or -ENOMEM. */
static int route_req(struct q_req *r, const char *url)
{
	const char *arg = NULL;
	size_t arg_len = 0;

	r->route = route_of(url, &arg, &arg_len);
	r->ep = r->route ? r->route->ep : Q_EP_OTHER;
	if (arg) {
		char *copy = malloc(arg_len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, arg, arg_len);
		copy[arg_len] = '\0';
		r->arg = copy;
		r->arg_len = arg_len;
	}
	return 0;
}

/* Queues the refusal of r when it has one (401, 404, 405) and returns 1
 * with *ok set; else 0. */
static int refuse(struct q_req *r, const char *url, const char *method, enum MHD_Result *ok)
{
	const struct q_route *rt = r->route;
	unsigned m;

	if (!(rt && rt->open) && !authorized(r->h, r->conn)) {
		*ok = q_reply_error(r, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
		return 1;
	}
	if (!rt) {
		*ok = q_reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
		return 1;
	}
	m = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? M_GET
	    : strcmp(method, "POST") == 0			      ? M_POST
								      : 0;
	if (!(rt->methods & m)) {
		r->allow = rt->allow;
		*ok = q_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method %.32s not allowed",
				    method);
		return 1;
	}
	return 0;
}

/* Takes n more body bytes.  MHD_NO closes the connection. */
static enum MHD_Result body_add(struct q_req *r, const char *p, size_t n)
{
	size_t max = r->h->max_body;

	if (r->too_big || r->body_len + n > max) {
		r->too_big = 1;
		r->discarded += n;
		free(r->body);
		r->body = NULL;
		return r->discarded / DISCARD_FACTOR > max ? MHD_NO : MHD_YES;
	}
	if (r->body_len + n > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		char *b;
		while (cap < r->body_len + n)
			cap *= 2;
		if (cap > max)
			cap = max;
		if (!(b = realloc(r->body, cap + 1)))
			return MHD_NO;
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	return MHD_YES;
}

/*
 * The first call routes the request.  A request without a body is then
 * answered on the next call (MHD makes it at once): answering on the first
 * one would make MHD close the connection, as it does for a request whose
 * body was not read.  A request with a body is refused at once when it
 * will be refused anyway (the body is dropped and the connection closed);
 * else its body is collected and the reply made on the last call.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct q_http *h = cls;
	struct q_req *r = *con_cls;
	enum MHD_Result ok;
	uint64_t cl;

	(void)version;
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		r->h = h;
		r->conn = c;
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		atomic_fetch_add_explicit(&h->m.in_flight, 1, memory_order_relaxed);
		*con_cls = r;
		if (route_req(r, url) < 0)
			return q_reply_code(r, -ENOMEM);
		if (!has_body(c, &cl))
			return MHD_YES;
		if (refuse(r, url, method, &ok))
			return ok;
		if (cl != UINT64_MAX && cl > h->max_body)
			return q_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
					     "request body too large (%llu bytes, max %zu)",
					     (unsigned long long)cl, h->max_body);
		return MHD_YES;
	}
	r->conn = c;
	if (*upload_size) {
		ok = body_add(r, upload, *upload_size);
		*upload_size = 0;
		return ok;
	}
	if (refuse(r, url, method, &ok))
		return ok;
	if (r->too_big)
		return q_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
				     "request body too large (more than %zu bytes)", h->max_body);
	if (r->body)
		r->body[r->body_len] = '\0'; /* room kept by body_add() */
	return r->route->fn(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct q_http *h = cls;
	struct q_req *r = *con_cls;
	struct timespec t1;

	(void)c;
	(void)toe;
	if (!r)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r->status) {
		int64_t us = (int64_t)(t1.tv_sec - r->t0.tv_sec) * 1000000 +
			     (t1.tv_nsec - r->t0.tv_nsec) / 1000;
		q_metrics_record(&h->m, r->ep, r->status, us > 0 ? (uint64_t)us : 0);
	}
	atomic_fetch_sub_explicit(&h->m.in_flight, 1, memory_order_relaxed);
	free((void *)r->arg);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (msg[i] == '"')
			msg[i] = '\'';
	log_warn("query http", "detail=\"%s\"", msg);
}

/* ---- start / stop --------------------------------------------------------------------- */

/* Splits "HOST:PORT" / "[V6]:PORT" and binds a listening socket.  Returns
 * the fd, or a negative code with a message. */
static int listen_on(const char *addr, int *family, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char host[256];
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hl;
	int fd = -1, one = 1, rc;

	if (!colon || !colon[1]) {
		snprintf(err, errlen, "query listen address '%s': expected HOST:PORT", addr);
		return ERR_INVALID;
	}
	hl = (size_t)(colon - addr);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof host) {
		snprintf(err, errlen, "query listen address '%s': host too long", addr);
		return ERR_INVALID;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "query listen address '%s': %s", addr, gai_strerror(rc));
		return ERR_INVALID;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		goto fail;
	}
	*family = ai->ai_family;
	freeaddrinfo(ai);
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(-rc));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

int q_http_start(const struct q_http_opts *o, struct store *st, struct q_http **out, char *errbuf,
		 size_t errlen)
{
	char dummy[8];
	struct q_http *h;
	unsigned threads = o->threads;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	int fd = -1, family = AF_INET, rc;

	*out = NULL;
	if (!errbuf || !errlen) {
		errbuf = dummy;
		errlen = sizeof dummy;
	}
	errbuf[0] = '\0';
	if (!(h = calloc(1, sizeof *h))) {
		rc = -ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	h->st = st;
	h->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	if (o->token && o->token[0]) {
		if (!(h->token = strdup(o->token))) {
			rc = -ENOMEM;
			snprintf(errbuf, errlen, "out of memory");
			goto fail;
		}
		h->token_len = strlen(h->token);
	}
	if ((rc = q_engine_new(st, 0, &h->eng)) < 0) {
		snprintf(errbuf, errlen, "cannot start the query engine: %s", err_str(rc));
		goto fail;
	}
	if ((fd = listen_on(o->listen ? o->listen : "127.0.0.1:8081", &family, errbuf, errlen)) <
	    0) {
		rc = fd;
		goto fail;
	}
	h->port = net_bound_port(fd);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
	if (!h->d) {
		rc = -EIO;
		snprintf(errbuf, errlen, "libmicrohttpd could not start on %s (see the log)",
			 o->listen ? o->listen : "127.0.0.1:8081");
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (h) {
		q_engine_free(h->eng);
		free(h->token);
		free(h);
	}
	return rc;
}

int q_http_port(const struct q_http *h)
{
	return h ? h->port : -1;
}

void q_http_stop(struct q_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d); /* joins the pool; closes the listener */
	q_engine_free(h->eng);
	free(h->token);
	free(h);
}
