/*
 * cl_api.c — spoord's query API as the commands see it: one call that
 * builds the URL, adds the bearer token, performs the request and turns
 * every way it can fail into one line on stderr and an exit status:
 *
 *   no reply (refused, unknown host, timeout, broken)   CL_EXIT_CONNECT  3
 *   a malformed --query-url                              CL_EXIT_USAGE    2
 *   a reply with a status outside 2xx                    CL_EXIT_REFUSED  1
 *
 * spoord's error replies are {"error":"..."}; the message is shown as the
 * server wrote it, so it names the parameter at fault.
 */
#include <errno.h>
#include <string.h>

#include "cl.h"
#include "err.h"

int cl_api_url(struct cl_buf *b, const char *base, const char *path)
{
	size_t n = strlen(base);

	cl_buf_reset(b);
	while (n && base[n - 1] == '/')
		n--;
	if (cl_buf_add(b, base, n) < 0)
		return -ENOMEM;
	if (path[0] != '/' && cl_buf_puts(b, "/") < 0)
		return -ENOMEM;
	return cl_buf_puts(b, path);
}

const char *cl_api_error(const struct cl_resp *r, char *out, size_t cap)
{
	struct cl_json j;

	out[0] = '\0';
	if (r->body.len && cl_json_parse(&j, r->body.p, r->body.len) == 0)
		cl_json_text(&j, cl_json_get(&j, 0, "error"), out, cap);
	cl_json_free(&j);
	if (!out[0]) {
		/* no JSON error: the first line of a text body, else the status */
		size_t n = r->body.len ? strcspn(r->body.p, "\r\n") : 0;
		if (n)
			snprintf(out, cap, "%.*s", (int)(n > 200 ? 200 : n), r->body.p);
		else
			snprintf(out, cap, "HTTP status %ld", r->status);
	}
	return out;
}

int cl_api_query(struct cl_ctx *cx, const char *method, const char *path, const char *body,
		 size_t len, cl_sink_fn sink, void *sink_arg, struct cl_resp *resp)
{
	struct cl_req rq = {
	    .method = method, .body = body, .len = len, .sink = sink, .sink_arg = sink_arg};
	struct cl_buf url = {0}, auth = {0};
	char err[320], msg[512];
	int rc, code = CL_EXIT_OK;

	if (cl_api_url(&url, cx->query_url, path) < 0)
		return cl_fail(cx, CL_EXIT_CONNECT, "out of memory");
	rq.url = url.p;
	if (body)
		rq.content_type = "application/json";
	if (cx->token) {
		if (cl_buf_printf(&auth, "Authorization: Bearer %s", cx->token) < 0) {
			cl_buf_free(&url);
			return cl_fail(cx, CL_EXIT_CONNECT, "out of memory");
		}
		rq.headers[0] = auth.p;
	}
	rc = cl_http_do(cx->http, &rq, resp, err, sizeof err);
	if (rc == ERR_INVALID) {
		code = cl_fail(cx, CL_EXIT_USAGE, "bad query URL %s: %s (set --query-url)",
			       cx->query_url, err);
	} else if (rc == -ECONNREFUSED) {
		code = cl_fail(cx, CL_EXIT_CONNECT,
			       "cannot connect to the query API at %s: %s (is spoord running? "
			       "set --query-url or SPOOR_QUERY_URL)",
			       cx->query_url, err);
	} else if (rc == -EPIPE || rc == -ENOMEM) {
		code = cl_fail(cx, CL_EXIT_REFUSED, "%s", err);
	} else if (rc < 0) {
		code = cl_fail(cx, CL_EXIT_CONNECT, "request to %s failed: %s", url.p, err);
	} else if (resp->status == 401) {
		code = cl_fail(cx, CL_EXIT_REFUSED, "401 from the query API: %s (%s)",
			       cl_api_error(resp, msg, sizeof msg),
			       cx->token ? "check --token or SPOOR_TOKEN"
					 : "set --token or SPOOR_TOKEN");
	} else if (resp->status < 200 || resp->status >= 300) {
		code = cl_fail(cx, CL_EXIT_REFUSED, "%ld from the query API: %s", resp->status,
			       cl_api_error(resp, msg, sizeof msg));
	}
	cl_buf_free(&url);
	cl_buf_free(&auth);
	return code;
}

int cl_api_print_raw(struct cl_ctx *cx, const struct cl_resp *r)
{
	if (r->body.len && fwrite(r->body.p, 1, r->body.len, cx->out) != r->body.len)
		return cl_fail(cx, CL_EXIT_REFUSED, "cannot write the output");
	if ((!r->body.len || r->body.p[r->body.len - 1] != '\n') && fputc('\n', cx->out) == EOF)
		return cl_fail(cx, CL_EXIT_REFUSED, "cannot write the output");
	return CL_EXIT_OK;
}
