/*
 * fuzz_http.c — libFuzzer target for server/http.c.
 *
 * The input is a request head followed by a chunked body.  Every buffer the
 * code under test sees is an exact-size malloc copy, so ASan reports any read
 * past its end.  Checked besides memory safety:
 *   - the head's length is within the input and max_head, every view lies
 *     inside the head, the derived fields are consistent;
 *   - a strict prefix of a head that parses is HTTP_INCOMPLETE;
 *   - the chunked decoder keeps out <= in <= len and out <= max_body, and
 *     decoding the body one byte per call gives the same result as one call;
 *   - query values fit their buffer and are NUL-terminated.
 */
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD 8192
#define MAX_HDRS 32
#define MAX_BODY (1 << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

/* An exact-size heap copy of p[0..n) (one byte for n == 0, never read). */
static char *copy(const void *p, size_t n)
{
	char *b = malloc(n ? n : 1);
	check(b != NULL);
	memcpy(b, p, n);
	return b;
}

static void check_view(struct http_str s, const char *buf, size_t len)
{
	if (s.n == 0)
		return;
	check(s.p >= buf && s.n <= len && (size_t)(s.p - buf) <= len - s.n);
}

static int is_status(int r)
{
	return r == HTTP_INCOMPLETE || r == -400 || r == -431 || r == -501 || r == -505;
}

static void check_query(struct http_str q)
{
	static const char *const keys[] = {"a", "session", "", "x y"};
	char out[16];

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int r = http_query_get(q, keys[k], out, sizeof out);
		check(r >= -2 && r < (int)sizeof out);
		if (r >= 0)
			check(out[r] == '\0' && strlen(out) == (size_t)r);
	}
}

static void check_head(const char *buf, size_t size, int r, const struct http_request *req,
		       const struct http_header *hdrs)
{
	size_t n = (size_t)r;

	check(n <= size && n <= MAX_HEAD);
	check(req->minor == 0 || req->minor == 1);
	check(req->nheaders <= MAX_HDRS);
	check(req->method.n > 0 && req->target.n > 0);
	check_view(req->method, buf, n);
	check_view(req->target, buf, n);
	check_view(req->path, buf, n);
	check_view(req->query, buf, n);
	check_view(req->content_type, buf, n);
	check_view(req->origin, buf, n);
	check(req->path.n + (req->query.n ? req->query.n + 1 : 0) <= req->target.n);
	check(req->target.p[0] == '/' || req->target.n == 1);
	for (size_t i = 0; i < req->nheaders; i++) {
		check(hdrs[i].name.n > 0);
		check_view(hdrs[i].name, buf, n);
		check_view(hdrs[i].value, buf, n);
	}
	check(req->content_length >= -1);
	check(!(req->chunked && req->content_length >= 0));
	check(!(req->chunked && req->minor == 0));
	check(req->keep_alive == 0 || req->keep_alive == 1);
	if (req->minor == 1)
		check(http_header_get(hdrs, req->nheaders, "host").p != NULL);
	check_query(req->query);
}

/* Every strict prefix of a head that parses is incomplete (two of them, for speed). */
static void check_prefixes(const char *buf, size_t n)
{
	struct http_request req;
	struct http_header hdrs[MAX_HDRS];
	size_t cuts[2] = {n - 1, n / 2};

	for (int k = 0; k < 2; k++) {
		char *p = copy(buf, cuts[k]);
		check(http_parse_request(p, cuts[k], MAX_HEAD, &req, hdrs, MAX_HDRS) ==
		      HTTP_INCOMPLETE);
		free(p);
	}
}

/* Decodes body[0..n) in one call, then one byte per call; both must agree. */
static void check_chunked(const char *body, size_t n)
{
	struct http_chunked a, b;
	char *one = copy(body, n), *inc = malloc(n ? n : 1);
	int ra, rb = 0;

	check(inc != NULL);
	http_chunked_init(&a);
	ra = http_chunked_decode(&a, one, n, MAX_BODY);
	check(ra == 0 || ra == 1 || ra == -400 || ra == -413);
	check(a.out <= a.in && a.in <= n && a.out <= MAX_BODY);
	check(http_chunked_decode(&a, one, n, MAX_BODY) == ra);

	memset(inc, 0xAA, n);
	http_chunked_init(&b);
	for (size_t len = 0; len <= n; len++) {
		if (len)
			inc[len - 1] = body[len - 1];
		rb = http_chunked_decode(&b, inc, len, MAX_BODY);
		check(b.out <= b.in && b.in <= len);
		if (rb != 0)
			break;
	}
	check(ra == rb && a.out == b.out);
	if (ra >= 0)
		check(a.in == b.in);
	check(memcmp(one, inc, a.out) == 0);
	free(one);
	free(inc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	struct http_header hdrs[MAX_HDRS];
	char *buf = copy(data, size);
	int r = http_parse_request(buf, size, MAX_HEAD, &req, hdrs, MAX_HDRS);

	if (r <= 0) {
		check(is_status(r));
		if (r == HTTP_INCOMPLETE)
			check(size <= MAX_HEAD);
		goto out;
	}
	check_head(buf, size, r, &req, hdrs);
	check_prefixes(buf, (size_t)r);
	check_chunked(buf + r, size - (size_t)r);
out:
	free(buf);
	return 0;
}
