/*
 * ui.c — the pages of the query port: GET / (recent sessions, funnel form),
 * GET /replay/{session} (the replay viewer) and GET /ui/{file} (their
 * scripts and styles), served from the files of client/viewer/ compiled
 * into the binary (common/asset.h).
 *
 * The pages hold no data: their scripts fetch it from the /v1 API with the
 * bearer token the user gives them, so these routes are open (no token) and
 * the same bytes are served to everyone.  /replay/{session} serves one page
 * whatever the session; its script reads the id from location.pathname.
 *
 * Every reply carries:
 *   ETag                    the asset's (a hash of its bytes); If-None-Match
 *                           naming it (or "*") gets 304 with no body
 *   Cache-Control: no-cache the browser revalidates each time: a rebuilt
 *                           spoord never leaves a stale page behind
 *   Content-Security-Policy 'self' only: no inline script or style, no other
 *                           origin, no framing
 *   X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer
 *
 * Metrics count these requests under endpoint "other".
 */
#include <stdio.h>
#include <string.h>

#include "asset.h"
#include "q_http_int.h"

#define UI_DIR "viewer/"

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
			  "img-src 'self'; connect-src 'self'; object-src 'none'; "
			  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* 1 when the If-None-Match value `inm` (a comma-separated list of entity
 * tags, or "*") names `etag` (quotes included); weak comparison, so a W/
 * prefix is ignored.  0 otherwise, also for a malformed list. */
static int etag_listed(const char *inm, const char *etag)
{
	size_t el = strlen(etag);
	const char *p = inm;

	while (*p) {
		const char *q;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0;
		q = strchr(p + 1, '"');
		if (!q)
			return 0;
		if ((size_t)(q + 1 - p) == el && memcmp(p, etag, el) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}

/* Queues asset `a`: 200 with its bytes, or 304 when the request's
 * If-None-Match names its ETag.  The 304 is given the bytes too: MHD sends
 * no body with a 304 but states their length in Content-Length, the length
 * a 200 would have (RFC 9110 8.6).  The bytes are static (never copied).
 * Records r->status; returns MHD's answer. */
static enum MHD_Result send_asset(struct q_req *r, const struct asset *a)
{
	const char *inm =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	int fresh = inm && etag_listed(inm, a->etag);
	unsigned status = fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	if (!fresh)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	ok = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	if (ok == MHD_YES)
		r->status = status;
	return ok;
}

/* Serves the asset `name` (under client/), or 404 when this build lacks it. */
static enum MHD_Result serve_named(struct q_req *r, const char *name)
{
	const struct asset *a = asset_find(name);

	if (!a)
		return q_reply_error(r, MHD_HTTP_NOT_FOUND, "no such file: %.200s", name);
	return send_asset(r, a);
}

enum MHD_Result q_serve_ui_index(struct q_req *r)
{
	return serve_named(r, UI_DIR "index.html");
}

/* GET /replay/ without a session sends the browser to the session list. */
enum MHD_Result q_serve_ui_replay(struct q_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	if (r->arg_len)
		return serve_named(r, UI_DIR "replay.html");
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ok = MHD_queue_response(r->conn, MHD_HTTP_FOUND, resp);
	MHD_destroy_response(resp);
	if (ok == MHD_YES)
		r->status = MHD_HTTP_FOUND;
	return ok;
}

/* GET /ui/{file}: client/viewer/{file}.  Only names in the compiled-in
 * table exist, so ".." or anything else outside it is a 404. */
enum MHD_Result q_serve_ui_asset(struct q_req *r)
{
	char name[256];

	if (!r->arg_len || r->arg_len + sizeof UI_DIR > sizeof name)
		return q_reply_error(r, MHD_HTTP_NOT_FOUND, "no such file");
	snprintf(name, sizeof name, UI_DIR "%s", r->arg);
	return serve_named(r, name);
}
