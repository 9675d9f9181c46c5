/*
 * cl_http.c — HTTP for the client through libcurl.
 *
 * One easy handle serves every request of a run, so `spoor post` sends all
 * its batches over one keep-alive connection and `spoor replay` its pages.
 * The handle is reset to a known state by setting every option each request
 * uses on every request (no curl_easy_reset, which would drop the
 * connection cache's settings too).
 *
 * Reply bodies go to resp->body, or to the request's sink while the status
 * is 2xx (the status is known when the first body byte arrives), which lets
 * `replay --ndjson` stream pages of any size.  Two headers are kept:
 * Retry-After (ingest 503) and X-Spoor-After (the replay cursor).
 *
 * Errors: a reply of any status is a success of this layer; the caller
 * decides what a 4xx means.  Only the transport fails here.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cl.h"
#include "err.h"

#define CONNECT_TIMEOUT_S 10
#define STALL_SECONDS	  300 /* abort a transfer that moves nothing this long */

struct cl_http {
	CURL *curl;		      /* the easy handle; owned */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's message of the last failure */
	struct cl_resp *resp;	      /* reply being received; borrowed for one call */
	const struct cl_req *rq;      /* request being sent; borrowed for one call */
	int sink_failed;	      /* 1: the sink asked to stop */
};

int cl_http_new(struct cl_http **out)
{
	struct cl_http *h = calloc(1, sizeof *h);

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void cl_http_free(struct cl_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void cl_resp_free(struct cl_resp *r)
{
	cl_buf_free(&r->body);
	r->status = 0;
	r->retry_after[0] = r->after[0] = '\0';
}

/* libcurl write callback: body bytes to the sink (2xx) or the buffer.
 * Returns n to go on, anything else to abort. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cl_http *h = arg;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (h->rq->sink && status >= 200 && status < 300) {
		if (h->rq->sink(h->rq->sink_arg, p, n) != 0) {
			h->sink_failed = 1;
			return 0;
		}
		return n;
	}
	return cl_buf_add(&h->resp->body, p, n) == 0 ? n : 0;
}

/* Copies header line p[0..n)'s value into out when its name is `name`. */
static void take_header(const char *p, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), k;

	if (n <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return;
	p += nl + 1;
	n -= nl + 1;
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	k = n < cap - 1 ? n : cap - 1;
	memcpy(out, p, k);
	out[k] = '\0';
}

/* libcurl header callback: keeps Retry-After and X-Spoor-After.  A new
 * status line (after a 100 Continue) clears them. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cl_http *h = arg;
	size_t n = size * nmemb;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		h->resp->retry_after[0] = h->resp->after[0] = '\0';
		return n;
	}
	take_header(p, n, "Retry-After", h->resp->retry_after, sizeof h->resp->retry_after);
	take_header(p, n, "X-Spoor-After", h->resp->after, sizeof h->resp->after);
	return n;
}

/* Maps a libcurl failure to this module's codes. */
static int map_error(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY: return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT: return -ECONNREFUSED;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL: return ERR_INVALID;
	default: return -EIO;
	}
}

int cl_http_do(struct cl_http *h, const struct cl_req *rq, struct cl_resp *resp, char *err,
	       size_t errlen)
{
	struct curl_slist *hdrs = NULL, *t;
	char ct[160];
	CURLcode c;
	CURL *e = h->curl;
	int rc = 0;

	cl_resp_free(resp);
	h->resp = resp;
	h->rq = rq;
	h->sink_failed = 0;
	h->errbuf[0] = '\0';
	if (err && errlen)
		err[0] = '\0';

	/* "Expect:" off: spoord answers 100-continue, but the round trip only
	 * slows down batches that are almost always accepted */
	if (!(t = curl_slist_append(hdrs, "Expect:")))
		goto oom;
	hdrs = t;
	if (rq->content_type) {
		snprintf(ct, sizeof ct, "Content-Type: %s", rq->content_type);
		if (!(t = curl_slist_append(hdrs, ct)))
			goto oom;
		hdrs = t;
	}
	for (int i = 0; i < 3 && rq->headers[i]; i++) {
		if (!(t = curl_slist_append(hdrs, rq->headers[i])))
			goto oom;
		hdrs = t;
	}

	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "spoor/" SPOOR_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
	if (rq->body) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	else
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);

	c = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
	/* the header list must outlive the transfer only */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (c == CURLE_WRITE_ERROR && h->sink_failed) {
		rc = -EPIPE;
		if (err && errlen)
			snprintf(err, errlen, "cannot write the output");
	} else if (c == CURLE_WRITE_ERROR && resp->body.oom) {
		rc = -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
	} else if (c != CURLE_OK) {
		rc = map_error(c);
		if (err && errlen)
			snprintf(err, errlen, "%s",
				 h->errbuf[0] ? h->errbuf : curl_easy_strerror(c));
	}
	h->resp = NULL;
	h->rq = NULL;
	return rc;
oom:
	curl_slist_free_all(hdrs);
	h->resp = NULL;
	h->rq = NULL;
	if (err && errlen)
		snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}
