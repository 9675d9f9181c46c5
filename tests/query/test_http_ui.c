/*
 * test_http_ui.c — the pages of the query port (query/ui.c): GET /,
 * GET /replay/{session} and GET /ui/{file} serve the files of client/viewer
 * compiled into the binary, open even when a query token is set, with an
 * ETag that revalidates to 304 and the headers that keep the browser strict.
 * The pages' behaviour is tested in tests/browser/viewer.test.mjs.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "asset.h"
#include "qt_harness.h"

static struct qt_local L;

static void start_token(void)
{
	cr_assert_eq(qt_local_start(&L, "s3cret-token", 0), 0);
}

static void stop(void)
{
	qt_local_stop(&L);
}

/* Sends `req` as it is on a new connection and reads until the server
 * closes it (at most cap - 1 bytes, 20 s).  Returns the bytes read into
 * out, NUL-terminated. */
static size_t raw(const char *req, char *out, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)L.port)};
	struct timeval tv = {20, 0};
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	for (;;) {
		ssize_t k = recv(fd, out + n, cap - 1 - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == cap - 1)
			break;
	}
	close(fd);
	out[n] = '\0';
	return n;
}

/* GET `path` (no token) and check a 200 carrying exactly asset `name`. */
static void expect_asset(const char *path, const char *name, const char *type_prefix)
{
	const struct asset *a = asset_find(name);
	struct qt_resp r;
	char v[512];

	cr_assert(a, "the build lacks %s", name);
	cr_assert_eq(qt_get(L.port, path, &r), 0);
	cr_assert_eq(r.status, 200, "%s: %d %s", path, r.status, r.body);
	cr_assert_eq(r.len, a->len, "%s: %zu bytes, asset %zu", path, r.len, a->len);
	cr_assert_eq(memcmp(r.body, a->data, a->len), 0, "%s: not the bytes of %s", path, name);
	cr_assert(qt_header(&r, "Content-Type", v, sizeof v));
	cr_assert_eq(strncmp(v, type_prefix, strlen(type_prefix)), 0, "%s: %s", path, v);
	cr_assert(qt_header(&r, "ETag", v, sizeof v));
	cr_assert_str_eq(v, a->etag);
	cr_assert(qt_header(&r, "Cache-Control", v, sizeof v));
	cr_assert_str_eq(v, "no-cache");
	cr_assert(qt_header(&r, "X-Content-Type-Options", v, sizeof v));
	cr_assert_str_eq(v, "nosniff");
	cr_assert(qt_header(&r, "Content-Security-Policy", v, sizeof v));
	cr_assert(strstr(v, "default-src 'self'") && strstr(v, "script-src 'self'") &&
		      !strstr(v, "unsafe-inline") && strstr(v, "frame-ancestors 'none'"),
		  "CSP: %s", v);
	qt_resp_free(&r);
}

Test(http_ui, pages_are_served_without_the_token, .init = start_token, .fini = stop)
{
	struct qt_resp r;

	expect_asset("/", "viewer/index.html", "text/html");
	expect_asset("/replay/sess-42", "viewer/replay.html", "text/html");
	expect_asset("/replay/a%20b%2Fc", "viewer/replay.html", "text/html");
	expect_asset("/ui/replay.js", "viewer/replay.js", "text/javascript");
	expect_asset("/ui/common.js", "viewer/common.js", "text/javascript");
	expect_asset("/ui/home.js", "viewer/home.js", "text/javascript");
	expect_asset("/ui/viewer.css", "viewer/viewer.css", "text/css");
	/* the data stays behind the token */
	cr_assert_eq(qt_get(L.port, "/v1/sessions", &r), 0);
	cr_assert_eq(r.status, 401);
	qt_resp_free(&r);
}

Test(http_ui, etag_revalidates_to_304, .init = start_token, .fini = stop)
{
	const struct asset *a = asset_find("viewer/replay.js");
	static char buf[1 << 17];
	char req[512];
	const char *const inm[] = {"%s", "W/%s", "\"0000000000000000\", %s", "*"};

	cr_assert(a);
	for (size_t i = 0; i < sizeof inm / sizeof inm[0]; i++) {
		char tag[128];
		snprintf(tag, sizeof tag, inm[i], a->etag);
		snprintf(req, sizeof req,
			 "GET /ui/replay.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n"
			 "Connection: close\r\n\r\n",
			 tag);
		raw(req, buf, sizeof buf);
		cr_assert(strncmp(buf, "HTTP/1.1 304 ", 13) == 0, "If-None-Match: %s -> %.80s", tag,
			  buf);
		cr_assert(strstr(buf, a->etag), "no ETag in %s", buf);
		cr_assert_str_eq(strstr(buf, "\r\n\r\n"), "\r\n\r\n", "a 304 with a body");
	}
	/* another tag: the whole file */
	raw("GET /ui/replay.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"0123456789abcdef\"\r\n"
	    "Connection: close\r\n\r\n",
	    buf, sizeof buf);
	cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%.80s", buf);
	cr_assert_eq(strlen(strstr(buf, "\r\n\r\n") + 4), a->len);
	/* HEAD: the headers alone */
	raw("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof buf);
	cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%.80s", buf);
	cr_assert(strstr(buf, "text/html"));
	cr_assert_str_eq(strstr(buf, "\r\n\r\n"), "\r\n\r\n", "HEAD with a body");
	/* /metrics counts the pages as endpoint "ui", revalidations as 304 */
	raw("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n"
	    "Connection: close\r\n\r\n",
	    buf, sizeof buf);
	cr_assert(strstr(buf, "spoord_query_requests_total{endpoint=\"ui\",status=\"304\"} 4"),
		  "%s", buf);
	cr_assert(strstr(buf, "spoord_query_requests_total{endpoint=\"ui\",status=\"200\"} 2"),
		  "%s", buf);
}

Test(http_ui, unknown_files_and_methods_are_refused, .init = start_token, .fini = stop)
{
	static const char *const missing[] = {"/ui/nope.js", "/ui/", "/ui/../js/spoor.js",
					      "/ui/%2e%2e/js/spoor.js", "/ui/index.htm"};
	struct qt_resp r;
	char v[128];

	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		cr_assert_eq(qt_get(L.port, missing[i], &r), 0);
		cr_assert_eq(r.status, 404, "%s: %d", missing[i], r.status);
		qt_resp_free(&r);
	}
	/* /replay/ without a session: back to the list */
	cr_assert_eq(qt_get(L.port, "/replay/", &r), 0);
	cr_assert_eq(r.status, 302);
	cr_assert(qt_header(&r, "Location", v, sizeof v));
	cr_assert_str_eq(v, "/");
	qt_resp_free(&r);
	cr_assert_eq(qt_http(L.port, "POST", "/", NULL, "{}", 2, &r), 0);
	cr_assert_eq(r.status, 405);
	cr_assert(qt_header(&r, "Allow", v, sizeof v));
	cr_assert_str_eq(v, "GET, HEAD");
	qt_resp_free(&r);
	/* unknown paths still want the token first */
	cr_assert_eq(qt_get(L.port, "/favicon.ico", &r), 0);
	cr_assert_eq(r.status, 401);
	qt_resp_free(&r);
}
