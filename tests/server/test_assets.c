/*
 * test_assets.c — the files spoord serves on the ingest port
 * (server/routes.c): the browser SDK at /spoor.js and the demo pages under
 * /example/.  Byte-exact bodies, Content-Type, ETag and If-None-Match → 304,
 * HEAD, Cache-Control, CORS, and the errors around them.
 *
 * Replies are read as the raw byte stream of one connection until the
 * server closes it, so a 304 or a HEAD reply that sent a body would show up
 * in front of the next pipelined reply.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spoord_harness.h"

#define TMO .timeout = 120

static struct sh_server srv;

static void start(void)
{
	cr_assert_eq(sh_start(&srv, NULL), 0, "spoord did not start (log: %s)", srv.log);
}

static void fini(void)
{
	sh_cleanup(&srv);
}

TestSuite(assets, .init = start, .fini = fini);

/* Sends req (the last request of it says Connection: close) on one
 * connection and returns every byte the server sent until it closed,
 * NUL-terminated (free it); *len gets the count. */
static char *talk(const char *req, size_t *len)
{
	struct sh_conn *c = malloc(sizeof *c);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	cr_assert(c && buf);
	cr_assert_eq(sh_connect(c, srv.port), 0);
	cr_assert_eq(sh_sends(c, req), 0);
	for (;;) {
		ssize_t k;
		if (cap - n < 4096)
			cr_assert_not_null(buf = realloc(buf, cap *= 2));
		k = recv(c->fd, buf + n, cap - n - 1, 0);
		cr_assert_geq(k, 0, "no reply within the socket timeout");
		if (k == 0)
			break;
		n += (size_t)k;
	}
	sh_close(c);
	free(c);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* One reply parsed from the stream: status, head (NUL-terminated copy) and
 * where the next byte after the head is. */
struct reply {
	int status;
	char head[4096];
	const char *rest; /* the bytes after the head's blank line */
};

static void parse(const char *p, struct reply *r)
{
	const char *end = strstr(p, "\r\n\r\n");

	cr_assert_not_null(end, "no complete reply head in: %.200s", p);
	cr_assert_lt((size_t)(end - p), sizeof r->head);
	memcpy(r->head, p, (size_t)(end - p) + 2);
	r->head[end - p + 2] = '\0';
	cr_assert_eq(sscanf(p, "HTTP/1.1 %d", &r->status), 1, "not a status line: %.80s", p);
	r->rest = end + 4;
}

/* Header `name` of r into out; 1 when present. */
static int header(const struct reply *r, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *eol = strstr(line, "\r\n");
		if (eol && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(eol - v), v);
			return 1;
		}
	}
	return 0;
}

static char *read_source(const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	long n;
	char *b;

	snprintf(path, sizeof path, "%s/%s", SPOOR_SOURCE_DIR, rel);
	cr_assert_not_null(f = fopen(path, "rb"), "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	cr_assert_not_null(b = malloc((size_t)n + 1));
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	b[n] = '\0';
	*len = (size_t)n;
	return b;
}

/* GET path with an extra header block (may be ""), Connection: close. */
static char *get(const char *method, const char *path, const char *extra, struct reply *r)
{
	char req[1024];
	size_t n;
	char *all;

	snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
		 method, path, extra);
	all = talk(req, &n);
	parse(all, r);
	return all;
}

/* The ETag spoord gives /spoor.js. */
static void sdk_etag(char *out, size_t cap)
{
	struct reply r;
	char *all = get("GET", "/spoor.js", "", &r);

	cr_assert_eq(r.status, 200);
	cr_assert(header(&r, "ETag", out, cap), "no ETag");
	free(all);
}

Test(assets, sdk_is_the_source_file_with_its_type_etag_cache_and_cors, TMO)
{
	struct reply r;
	size_t flen;
	char *file = read_source("client/js/spoor.js", &flen), *all, v[256];

	all = get("GET", "/spoor.js?v=1", "Origin: https://shop.example\r\n", &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_assert(header(&r, "Content-Type", v, sizeof v));
	cr_expect_str_eq(v, "text/javascript; charset=utf-8");
	cr_assert(header(&r, "Content-Length", v, sizeof v));
	cr_expect_eq(strtoull(v, NULL, 10), flen);
	cr_expect_eq(strlen(r.rest), flen, "the body is the file, byte for byte");
	cr_expect(memcmp(r.rest, file, flen) == 0, "the body is the file, byte for byte");
	cr_assert(header(&r, "ETag", v, sizeof v));
	cr_expect(v[0] == '"' && v[strlen(v) - 1] == '"' && strlen(v) > 8, "strong ETag: %s", v);
	cr_assert(header(&r, "Cache-Control", v, sizeof v));
	cr_expect(strstr(v, "max-age=300") != NULL, "Cache-Control: %s", v);
	cr_assert(header(&r, "Access-Control-Allow-Origin", v, sizeof v), "CORS: %s", r.head);
	cr_expect_str_eq(v, "*");
	free(all);
	free(file);
}

Test(assets, if_none_match_with_the_etag_is_304_without_a_body, TMO)
{
	char etag[128], req[2048], v[256];
	const char *forms[] = {"%s", "W/%s", "\"other\", %s", "*"};

	sdk_etag(etag, sizeof etag);
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		char inm[256];
		struct reply r, next;
		size_t n;
		char *all;

		snprintf(inm, sizeof inm, forms[i], etag);
		/* the 304, then another request on the same connection */
		snprintf(req, sizeof req,
			 "GET /spoor.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
			 "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 inm);
		all = talk(req, &n);
		parse(all, &r);
		cr_expect_eq(r.status, 304, "If-None-Match: %s → %s", inm, r.head);
		cr_assert(header(&r, "ETag", v, sizeof v));
		cr_expect_str_eq(v, etag);
		cr_expect(header(&r, "Cache-Control", v, sizeof v));
		parse(r.rest, &next); /* right after the 304's head: no body in between */
		cr_expect_eq(next.status, 200);
		cr_expect_str_eq(next.rest, "ok\n");
		free(all);
	}
	{ /* an operator sees them in /metrics as 304s, not "other" */
		struct reply r;
		char *all = get("GET", "/metrics", "", &r);
		cr_expect(strstr(r.rest, "spoord_requests_total{status=\"304\"} 4\n"),
			  "/metrics: %s", r.rest);
		free(all);
	}
}

Test(assets, another_etag_gets_the_whole_file, TMO)
{
	struct reply r;
	size_t flen;
	char *file = read_source("client/js/spoor.js", &flen);
	char *all = get("GET", "/spoor.js", "If-None-Match: \"0000000000000000\", W/\"x\"\r\n", &r);

	cr_expect_eq(r.status, 200);
	cr_expect_eq(strlen(r.rest), flen);
	free(all);
	free(file);
}

Test(assets, head_has_the_headers_of_get_and_no_body, TMO)
{
	struct reply r, next;
	size_t n, flen;
	char *file = read_source("client/js/spoor.js", &flen), v[64];
	char *all = talk("HEAD /spoor.js HTTP/1.1\r\nHost: x\r\n\r\n"
			 "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 &n);

	parse(all, &r);
	cr_expect_eq(r.status, 200);
	cr_assert(header(&r, "Content-Length", v, sizeof v));
	cr_expect_eq(strtoull(v, NULL, 10), flen, "HEAD announces the GET length");
	cr_expect(header(&r, "ETag", v, sizeof v));
	parse(r.rest, &next);
	cr_expect_eq(next.status, 200, "the next reply follows the HEAD head directly");
	free(all);
	free(file);
}

Test(assets, demo_pages_are_served_under_example, TMO)
{
	struct reply r;
	size_t flen;
	char v[256], *all, *file;

	all = get("GET", "/example", "", &r);
	cr_expect_eq(r.status, 301);
	cr_expect(header(&r, "Location", v, sizeof v) && strcmp(v, "/example/") == 0);
	free(all);

	file = read_source("client/js/example/index.html", &flen);
	all = get("GET", "/example/?tab=pricing", "", &r);
	cr_expect_eq(r.status, 200);
	cr_expect(header(&r, "Content-Type", v, sizeof v) &&
		  strcmp(v, "text/html; charset=utf-8") == 0);
	cr_expect(header(&r, "Cache-Control", v, sizeof v) && strcmp(v, "no-cache") == 0);
	cr_expect_eq(strlen(r.rest), flen);
	cr_expect(memcmp(r.rest, file, flen) == 0);
	cr_expect(strstr(r.rest, "src=\"../spoor.js\"") != NULL, "the demo loads the SDK");
	free(all);
	free(file);

	all = get("GET", "/example/style.css", "", &r);
	cr_expect_eq(r.status, 200);
	cr_expect(header(&r, "Content-Type", v, sizeof v) &&
		  strcmp(v, "text/css; charset=utf-8") == 0);
	free(all);

	const char *missing[] = {"/example/nope.html", "/example/../spoor.js",
				 "/example/js/spoor.js", "/examples/", "/spoor.jsx"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		all = get("GET", missing[i], "", &r);
		cr_expect_eq(r.status, 404, "%s → %d", missing[i], r.status);
		free(all);
	}
}

Test(assets, other_methods_are_405_and_options_is_the_preflight, TMO)
{
	struct reply r;
	char v[256], *all;

	all = get("POST", "/spoor.js", "Content-Length: 0\r\n", &r);
	cr_expect_eq(r.status, 405);
	cr_expect(header(&r, "Allow", v, sizeof v) && strcmp(v, "GET, HEAD, OPTIONS") == 0);
	free(all);

	all = get("OPTIONS", "/example/", "Origin: https://shop.example\r\n", &r);
	cr_expect_eq(r.status, 204);
	cr_expect(header(&r, "Access-Control-Allow-Origin", v, sizeof v));
	free(all);
}
