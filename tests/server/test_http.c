/*
 * test_http.c — tests of server/http.c: request heads, chunked bodies, query
 * strings, reason phrases.
 *
 * Every input is parsed from the end of a page that is followed by a
 * PROT_NONE page (picohttpparser's technique), so a parser that reads one
 * byte too far crashes the test instead of passing by luck.
 */
#include "http.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GUARD_DATA (64 * 1024) /* room for the largest test input */

static char *guard_map; /* GUARD_DATA readable bytes, then one PROT_NONE page */
static struct http_header hdrs[64];

/* Copies s[0..n) so that it ends right before the guard page; returns it. */
static char *guarded(const void *s, size_t n)
{
	if (!guard_map) {
		long pg = sysconf(_SC_PAGESIZE);
		guard_map = mmap(NULL, GUARD_DATA + pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(guard_map, MAP_FAILED);
		cr_assert_eq(mprotect(guard_map + GUARD_DATA, pg, PROT_NONE), 0);
	}
	cr_assert_leq(n, GUARD_DATA);
	memcpy(guard_map + GUARD_DATA - n, s, n);
	return guard_map + GUARD_DATA - n;
}

/* Parses s[0..n) (guarded) with the given limits. */
static int parse_lim(const char *s, size_t n, size_t max_head, size_t max, struct http_request *req)
{
	return http_parse_request(guarded(s, n), n, max_head, req, hdrs, max);
}

/* Parses the C string s with roomy limits. */
static int parse(const char *s, struct http_request *req)
{
	return parse_lim(s, strlen(s), 8192, 64, req);
}

/* Status of the C string s as a whole head. */
static int status(const char *s)
{
	struct http_request req;
	return parse(s, &req);
}

static int str_is(struct http_str s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

/* ---- request line ------------------------------------------------------- */

Test(http, get_fills_request_line_and_returns_head_length)
{
	struct http_request req;
	const char *s =
	    "GET /v1/events?session=abc&x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";

	cr_assert_eq(parse(s, &req), (int)strlen(s));
	cr_assert(str_is(req.method, "GET"));
	cr_assert(str_is(req.target, "/v1/events?session=abc&x=1"));
	cr_assert(str_is(req.path, "/v1/events"));
	cr_assert(str_is(req.query, "session=abc&x=1"));
	cr_assert_eq(req.minor, 1);
	cr_assert_eq(req.nheaders, 2);
	cr_assert(str_is(hdrs[1].name, "User-Agent"));
	cr_assert(str_is(hdrs[1].value, "t"));
	cr_assert_eq(req.content_length, -1);
	cr_assert_eq(req.chunked, 0);
	cr_assert_eq(req.keep_alive, 1);
	cr_assert_eq(req.expect_continue, 0);
	cr_assert_eq(req.content_type.n, 0);
	cr_assert_eq(req.origin.n, 0);
}

Test(http, target_without_query_has_empty_query)
{
	struct http_request req;

	cr_assert_gt(parse("GET /healthz" H11 "\r\n", &req), 0);
	cr_assert(str_is(req.path, "/healthz"));
	cr_assert_eq(req.query.n, 0);
	cr_assert_gt(parse("GET /a?" H11 "\r\n", &req), 0);
	cr_assert(str_is(req.path, "/a"));
	cr_assert_eq(req.query.n, 0);
}

Test(http, empty_lines_before_request_line_are_skipped)
{
	struct http_request req;
	const char *s = "\r\n\r\nGET /" H11 "\r\n";

	cr_assert_eq(parse(s, &req), (int)strlen(s));
	cr_assert(str_is(req.method, "GET"));
	cr_assert_eq(status("\nGET /" H11 "\r\n"), -400);
}

Test(http, options_accepts_asterisk_target_other_methods_do_not)
{
	struct http_request req;

	cr_assert_gt(parse("OPTIONS *" H11 "\r\n", &req), 0);
	cr_assert(str_is(req.path, "*"));
	cr_assert_eq(status("GET *" H11 "\r\n"), -400);
	cr_assert_eq(status("OPTIONS *x" H11 "\r\n"), -400);
}

Test(http, non_origin_form_targets_are_400)
{
	cr_assert_eq(status("GET http://example.com/" H11 "\r\n"), -400);
	cr_assert_eq(status("CONNECT example.com:443" H11 "\r\n"), -400);
	cr_assert_eq(status("GET  /" H11 "\r\n"), -400); /* empty target */
	cr_assert_eq(status("GET /a b" H11 "\r\n"), -400);
	cr_assert_eq(status("GET /\x01" H11 "\r\n"), -400);
	cr_assert_eq(status("GET /caf\xc3\xa9" H11 "\r\n"), -400);
	cr_assert_eq(status("GET /a\tb" H11 "\r\n"), -400);
}

Test(http, method_must_be_a_token_followed_by_one_space)
{
	cr_assert_eq(status(" GET /" H11 "\r\n"), -400);
	cr_assert_eq(status("GE(T /" H11 "\r\n"), -400);
	cr_assert_eq(status("GET\t/" H11 "\r\n"), -400);
	cr_assert_eq(status("\x16\x03\x01\x02\x00" H11 "\r\n"), -400); /* TLS hello */
	cr_assert_gt(status("PURGE /" H11 "\r\n"), 0);		       /* unknown but well-formed */
}

Test(http, version_other_than_1_0_or_1_1_is_505)
{
	cr_assert_eq(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), -505);
	cr_assert_eq(status("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), -505);
	cr_assert_eq(status("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), -505);
	cr_assert_eq(status("GET / HTTP/3.1\r\n\r\n"), -505);
}

Test(http, malformed_version_is_400)
{
	cr_assert_eq(status("GET / http/1.1\r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/11\r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/a.b\r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET /\r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET / \r\nHost: a\r\n\r\n"), -400);
}

Test(http, http_1_0_parses_without_host)
{
	struct http_request req;

	cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
	cr_assert_eq(req.minor, 0);
	cr_assert_eq(req.keep_alive, 0);
}

/* ---- line ends and header syntax ---------------------------------------- */

Test(http, bare_lf_anywhere_is_400)
{
	cr_assert_eq(status("GET / HTTP/1.1\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X: 1\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "\n"), -400);
	cr_assert_eq(status("GET /" H11 "X: a\nb\r\n\r\n"), -400);
}

Test(http, cr_without_lf_is_400)
{
	cr_assert_eq(status("GET / HTTP/1.1\rHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X: a\rb\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "\rX"), -400);
}

Test(http, obs_fold_is_400)
{
	cr_assert_eq(status("GET /" H11 "X: a\r\n b\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X: a\r\n\tb\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), -400);
}

Test(http, header_name_must_be_a_token_right_before_colon)
{
	cr_assert_eq(status("GET /" H11 "X : 1\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X\t: 1\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 ": 1\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X(y): 1\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "No colon\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X-\xc3\xa9: 1\r\n\r\n"), -400);
}

Test(http, header_values_are_trimmed_and_may_hold_htab_and_obs_text)
{
	struct http_request req;

	cr_assert_gt(parse("GET /" H11 "A:  x \t y \t \r\nB:\r\nC: \xff\xfe\r\nD:z\r\n\r\n", &req),
		     0);
	cr_assert_eq(req.nheaders, 5);
	cr_assert(str_is(hdrs[1].value, "x \t y"));
	cr_assert_eq(hdrs[2].value.n, 0);
	cr_assert(str_is(hdrs[3].value, "\xff\xfe"));
	cr_assert(str_is(hdrs[4].value, "z"));
	cr_assert(str_is(http_header_get(hdrs, req.nheaders, "d"), "z"));
	cr_assert(str_is(http_header_get(hdrs, req.nheaders, "HOST"), "example.com"));
	cr_assert_null(http_header_get(hdrs, req.nheaders, "E").p);
}

Test(http, control_bytes_in_values_are_400)
{
	cr_assert_eq(status("GET /" H11 "X: a\x01\r\n\r\n"), -400);
	cr_assert_eq(status("GET /" H11 "X: a\x7f\r\n\r\n"), -400);
	cr_assert_eq(parse_lim("GET /" H11 "X: a\0b\r\n\r\n",
			       sizeof("GET /" H11 "X: a\0b\r\n\r\n") - 1, 8192, 64,
			       &(struct http_request){0}),
		     -400);
}

/* ---- Host --------------------------------------------------------------- */

Test(http, http_1_1_needs_exactly_one_valid_host)
{
	cr_assert_eq(status("GET / HTTP/1.1\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), -400);
	cr_assert_eq(status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), -400);
	cr_assert_gt(status("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 0);
	cr_assert_gt(status("GET / HTTP/1.1\r\nhOST: 127.0.0.1:80\r\n\r\n"), 0);
	cr_assert_gt(status("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);
}

/* ---- Content-Length ----------------------------------------------------- */

Test(http, content_length_is_read)
{
	struct http_request req;

	cr_assert_gt(parse("POST /v1/events" H11 "Content-Length: 42\r\n\r\n", &req), 0);
	cr_assert_eq(req.content_length, 42);
	cr_assert_gt(parse("POST /" H11 "content-length: 0\r\n\r\n", &req), 0);
	cr_assert_eq(req.content_length, 0);
	cr_assert_gt(parse("POST /" H11 "Content-Length: 9223372036854775807\r\n\r\n", &req), 0);
	cr_assert_eq(req.content_length, INT64_MAX);
	cr_assert_gt(parse("POST /" H11 "Content-Length: 007\r\n\r\n", &req), 0);
	cr_assert_eq(req.content_length, 7);
}

Test(http, content_length_that_is_not_plain_digits_is_400)
{
	cr_assert_eq(status("POST /" H11 "Content-Length: -1\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: +1\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: 0x10\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: 1 2\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length:\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: 99999999999999999999999\r\n\r\n"), -400);
}

Test(http, repeated_content_length_must_agree_and_lists_are_400)
{
	struct http_request req;

	cr_assert_gt(parse("POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", &req), 0);
	cr_assert_eq(req.content_length, 5);
	cr_assert_eq(status("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: 5, 5\r\n\r\n"), -400);
	cr_assert_eq(status("POST /" H11 "Content-Length: 5,6\r\n\r\n"), -400);
}

/* ---- Transfer-Encoding -------------------------------------------------- */

Test(http, transfer_encoding_chunked_sets_chunked_in_any_case)
{
	struct http_request req;

	cr_assert_gt(parse("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n", &req), 0);
	cr_assert_eq(req.chunked, 1);
	cr_assert_eq(req.content_length, -1);
	cr_assert_gt(parse("POST /" H11 "transfer-encoding:  CHUNKED \r\n\r\n", &req), 0);
	cr_assert_eq(req.chunked, 1);
}

Test(http, other_transfer_codings_are_501)
{
	cr_assert_eq(status("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n"), -501);
	cr_assert_eq(status("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), -501);
	cr_assert_eq(status("POST /" H11 "Transfer-Encoding: identity\r\n\r\n"), -501);
	cr_assert_eq(status("POST /" H11 "Transfer-Encoding: chunked;x=1\r\n\r\n"), -501);
}

Test(http, conflicting_or_repeated_framing_is_400)
{
	cr_assert_eq(status("POST /" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
		     -400);
	cr_assert_eq(status("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
		     -400);
	cr_assert_eq(
	    status("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    -400);
	cr_assert_eq(status("POST /" H11 "Transfer-Encoding:\r\n\r\n"), -400);
	cr_assert_eq(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400);
}

/* ---- Connection, Expect, Content-Type, Origin --------------------------- */

Test(http, keep_alive_follows_version_and_connection_tokens)
{
	struct http_request req;

	cr_assert_gt(parse("GET /" H11 "Connection: close\r\n\r\n", &req), 0);
	cr_assert_eq(req.keep_alive, 0);
	cr_assert_gt(parse("GET /" H11 "Connection: Upgrade, CLOSE\r\n\r\n", &req), 0);
	cr_assert_eq(req.keep_alive, 0);
	cr_assert_gt(parse("GET /" H11 "Connection: keep-alive,,  close \r\n\r\n", &req), 0);
	cr_assert_eq(req.keep_alive, 0);
	cr_assert_gt(parse("GET /" H11 "Connection: closed\r\n\r\n", &req), 0);
	cr_assert_eq(req.keep_alive, 1);
	cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req), 0);
	cr_assert_eq(req.keep_alive, 1);
	cr_assert_gt(
	    parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", &req),
	    0);
	cr_assert_eq(req.keep_alive, 0);
}

Test(http, expect_100_continue_counts_in_http_1_1_only)
{
	struct http_request req;

	cr_assert_gt(parse("POST /" H11 "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n", &req),
		     0);
	cr_assert_eq(req.expect_continue, 1);
	cr_assert_gt(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req), 0);
	cr_assert_eq(req.expect_continue, 0);
	cr_assert_gt(parse("POST /" H11 "Expect: 200-ok\r\n\r\n", &req), 0);
	cr_assert_eq(req.expect_continue, 0);
}

Test(http, content_type_keeps_media_type_only_and_origin_is_kept)
{
	struct http_request req;

	cr_assert_gt(parse("POST /" H11 "Content-Type: application/json ; charset=utf-8\r\n"
			   "Origin: https://shop.example\r\nContent-Type: text/plain\r\n\r\n",
			   &req),
		     0);
	cr_assert(str_is(req.content_type, "application/json"));
	cr_assert(str_is(req.origin, "https://shop.example"));
	cr_assert_gt(parse("POST /" H11 "content-type: text/plain\r\n\r\n", &req), 0);
	cr_assert(str_is(req.content_type, "text/plain"));
}

/* ---- limits ------------------------------------------------------------- */

Test(http, head_of_exactly_max_head_parses_one_more_byte_is_431)
{
	struct http_request req;
	const char *s = "GET /" H11 "X-Pad: 0123456789\r\n\r\n";
	size_t n = strlen(s);

	cr_assert_eq(parse_lim(s, n, n, 64, &req), (int)n);
	cr_assert_eq(parse_lim(s, n, n - 1, 64, &req), -431);
}

Test(http, incomplete_head_longer_than_max_head_is_431)
{
	struct http_request req;
	const char *s = "GET /" H11 "X-Pad: 0123456789";
	size_t n = strlen(s);

	cr_assert_eq(parse_lim(s, n, n, 64, &req), HTTP_INCOMPLETE);
	cr_assert_eq(parse_lim(s, n, n - 1, 64, &req), -431);
	cr_assert_eq(parse_lim(s, n, 0, 64, &req), -431);
}

Test(http, complete_head_followed_by_more_than_max_head_bytes_parses)
{
	struct http_request req;
	char buf[4096];
	int n = snprintf(buf, sizeof buf, "POST /" H11 "Content-Length: 3000\r\n\r\n");

	memset(buf + n, 'x', 3000);
	cr_assert_eq(parse_lim(buf, (size_t)n + 3000, (size_t)n, 64, &req), n);
}

Test(http, exactly_max_headers_parse_one_more_is_431)
{
	struct http_request req;
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";

	cr_assert_eq(parse_lim(s, strlen(s), 8192, 3, &req), (int)strlen(s));
	cr_assert_eq(req.nheaders, 3);
	cr_assert(str_is(hdrs[2].name, "B"));
	cr_assert_eq(parse_lim(s, strlen(s), 8192, 2, &req), -431);
	cr_assert_eq(parse_lim(s, strlen(s), 8192, 0, &req), -431);
}

/* ---- incremental and pipelined input ------------------------------------ */

static const char *const valid_heads[] = {
    "GET /v1/events?a=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
    "POST /v1/events HTTP/1.1\r\nHost: a:8080\r\nContent-Type: application/json\r\n"
    "Content-Length: 17\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n",
    "POST /v1/events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\nOrigin: https://x.example\r\n"
    "Access-Control-Request-Method: POST\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: a\r\nEmpty:\r\nTabbed:\t\tv\t\r\n\r\n",
};

Test(http, every_prefix_of_a_valid_head_is_incomplete)
{
	struct http_request req;

	for (size_t k = 0; k < sizeof(valid_heads) / sizeof(valid_heads[0]); k++) {
		const char *s = valid_heads[k];
		size_t n = strlen(s);
		for (size_t len = 0; len < n; len++)
			cr_assert_eq(parse_lim(s, len, 8192, 64, &req), HTTP_INCOMPLETE,
				     "head %zu, prefix %zu", k, len);
		cr_assert_eq(parse_lim(s, n, 8192, 64, &req), (int)n, "head %zu", k);
	}
}

Test(http, pipelined_requests_are_found_from_the_returned_length)
{
	struct http_request req;
	const char *s = "POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
			"GET /second?q=2 HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t n = strlen(s);
	char *buf = guarded(s, n);
	int h1, h2;

	h1 = http_parse_request(buf, n, 8192, &req, hdrs, 64);
	cr_assert_gt(h1, 0);
	cr_assert_eq(req.content_length, 5);
	cr_assert_eq(memcmp(buf + h1, "hello", 5), 0);
	h2 = http_parse_request(buf + h1 + 5, n - (size_t)h1 - 5, 8192, &req, hdrs, 64);
	cr_assert_eq((size_t)h1 + 5 + (size_t)h2, n);
	cr_assert(str_is(req.path, "/second"));
	cr_assert(str_is(req.query, "q=2"));
}

Test(http, two_heads_back_to_back_parse_one_at_a_time)
{
	struct http_request req;
	const char *s = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
	size_t n = strlen(s);
	char *buf = guarded(s, n);
	int h1 = http_parse_request(buf, n, 8192, &req, hdrs, 64);

	cr_assert_eq(h1, (int)n / 2);
	cr_assert(str_is(req.path, "/1"));
	cr_assert_eq(http_parse_request(buf + h1, n - (size_t)h1, 8192, &req, hdrs, 64), h1);
	cr_assert(str_is(req.path, "/2"));
}

/*
 * The guard page really traps: the kernel refuses to read the byte after an
 * input (EFAULT), as the CPU would for the parser.  Checked through write(2)
 * because ASan turns a SIGSEGV into an abort.
 */
Test(http, guard_page_traps_a_read_past_the_input)
{
	char *p = guarded("GET", 3);
	int fd[2];

	cr_assert_eq(pipe(fd), 0);
	cr_assert_eq(syscall(SYS_write, fd[1], p + 2, 1), 1);
	cr_assert_eq(syscall(SYS_write, fd[1], p + 3, 1), -1);
	cr_assert_eq(errno, EFAULT);
	close(fd[0]);
	close(fd[1]);
}

/* ---- chunked bodies ----------------------------------------------------- */

struct decoded {
	int rc;
	size_t out, in;
	char data[4096];
};

/* Decodes s[0..n) in one call. */
static struct decoded decode_once(const char *s, size_t n, size_t max_body)
{
	struct decoded d = {0};
	struct http_chunked c;
	char *buf = guarded(s, n);

	http_chunked_init(&c);
	d.rc = http_chunked_decode(&c, buf, n, max_body);
	d.out = c.out;
	d.in = c.in;
	memcpy(d.data, buf, c.out);
	return d;
}

/* Decodes s[0..n) with bytes arriving one at a time; unarrived bytes are 0xAA. */
static struct decoded decode_bytewise(const char *s, size_t n, size_t max_body)
{
	struct decoded d = {0};
	struct http_chunked c;
	char *buf = guarded(s, n);

	memset(buf, 0xAA, n);
	http_chunked_init(&c);
	for (size_t len = 0; len <= n; len++) {
		if (len)
			buf[len - 1] = s[len - 1];
		d.rc = http_chunked_decode(&c, buf, len, max_body);
		cr_assert_leq(c.out, c.in);
		cr_assert_leq(c.in, len);
		if (d.rc != 0)
			break;
	}
	d.out = c.out;
	d.in = c.in;
	memcpy(d.data, buf, c.out);
	return d;
}

#define S(lit) lit, sizeof(lit) - 1

Test(http, chunked_body_decodes_with_extensions_and_trailers)
{
	struct decoded d = decode_once(S("5;name=\"v;x\"\r\nhello\r\n"
					 "6 ; a=b\r\n world\r\n"
					 "000\r\nExpires: never\r\nX-T:\r\n\r\nGET /next"),
				       1 << 20);

	cr_assert_eq(d.rc, 1);
	cr_assert_eq(d.out, 11);
	cr_assert_eq(memcmp(d.data, "hello world", 11), 0);
	cr_assert_eq(d.in, strlen("5;name=\"v;x\"\r\nhello\r\n6 ; a=b\r\n world\r\n"
				  "000\r\nExpires: never\r\nX-T:\r\n\r\n"));
}

Test(http, chunked_hex_sizes_are_case_insensitive)
{
	char body[64 + 40];
	struct decoded d;
	int n = snprintf(body, 16, "1a\r\n");

	memset(body + n, 'y', 26);
	n += 26;
	n += snprintf(body + n, sizeof body - (size_t)n, "\r\n1A\r\n");
	memset(body + n, 'z', 26);
	n += 26;
	n += snprintf(body + n, sizeof body - (size_t)n, "\r\n0\r\n\r\n");
	d = decode_once(body, (size_t)n, 1 << 20);
	cr_assert_eq(d.rc, 1);
	cr_assert_eq(d.out, 52);
	cr_assert_eq(d.data[25], 'y');
	cr_assert_eq(d.data[26], 'z');
}

static const char *const chunked_cases[] = {
    "5\r\nhello\r\n0\r\n\r\n",
    "1;a\r\nx\r\n2;b=c;d=\"e\"\r\nyz\r\n0;last\r\nT: 1\r\nU:  v \r\n\r\nNEXT",
    "0\r\n\r\n",
    "10\r\n0123456789abcdef\r\n0\r\n\r\n",
    "5\r\nhel",		  /* incomplete */
    "5\r\nhelloX\r\n",	  /* no CRLF after the data */
    "g\r\n",		  /* not hex */
    "5\nhello\r\n",	  /* bare LF */
    "0\r\nT: 1\n\r\n",	  /* bare LF in a trailer */
    "0\r\n T: 1\r\n\r\n", /* obs-fold in a trailer */
    "400\r\n",		  /* over max_body below */
};

Test(http, chunked_bytewise_equals_one_shot)
{
	for (size_t k = 0; k < sizeof(chunked_cases) / sizeof(chunked_cases[0]); k++) {
		const char *s = chunked_cases[k];
		struct decoded a = decode_once(s, strlen(s), 1000);
		struct decoded b = decode_bytewise(s, strlen(s), 1000);
		cr_assert_eq(a.rc, b.rc, "case %zu", k);
		cr_assert_eq(a.out, b.out, "case %zu", k);
		if (a.rc >= 0)
			cr_assert_eq(a.in, b.in, "case %zu", k);
		cr_assert_eq(memcmp(a.data, b.data, a.out), 0, "case %zu", k);
	}
}

Test(http, chunked_malformed_framing_is_400)
{
	cr_assert_eq(decode_once(S("5\r\nhelloX\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("5\r\nhello\n0\r\n\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S(";x\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("-1\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("0x5\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("5 \r\nhello\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("5 x\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("5\rhello"), 100).rc, -400);
	cr_assert_eq(decode_once(S("1;a\x01\r\nx\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("0\r\nNo colon\r\n\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("0\r\nT: \x7f\r\n\r\n"), 100).rc, -400);
	cr_assert_eq(decode_once(S("0\r\n\rX"), 100).rc, -400);
}

Test(http, chunked_size_line_is_bounded)
{
	static const char rest[] = "\r\nx\r\n0\r\n\r\n";
	char line[HTTP_CHUNK_LINE_MAX + 16];
	size_t m = HTTP_CHUNK_LINE_MAX;

	/* A size line of exactly HTTP_CHUNK_LINE_MAX bytes: leading zeros, then 1. */
	memset(line, '0', m);
	line[m - 1] = '1';
	memcpy(line + m, rest, sizeof(rest) - 1);
	cr_assert_eq(decode_once(line, m + sizeof(rest) - 1, 100).rc, 1);
	memset(line, '0', m + 1);
	line[m] = '1';
	memcpy(line + m + 1, rest, sizeof(rest) - 1);
	cr_assert_eq(decode_once(line, m + sizeof(rest), 100).rc, -400);

	/* The same bound with the line made of an extension. */
	memcpy(line, "1;", 2);
	memset(line + 2, 'e', m - 2);
	memcpy(line + m, rest, sizeof(rest) - 1);
	cr_assert_eq(decode_once(line, m + sizeof(rest) - 1, 100).rc, 1);
	memset(line + 2, 'e', m - 1);
	cr_assert_eq(decode_once(line, m + 1, 100).rc, -400);
}

Test(http, chunked_trailers_are_bounded)
{
	static char body[HTTP_TRAILER_MAX + 64];
	size_t m = HTTP_TRAILER_MAX;

	/* Trailer lines of exactly HTTP_TRAILER_MAX bytes: "T:" v... CRLF. */
	memcpy(body, "0\r\nT:", 5);
	memset(body + 5, 'v', m - 4);
	memcpy(body + 5 + m - 4, "\r\n\r\n", 4);
	cr_assert_eq(decode_once(body, m + 5, 100).rc, 1);
	memset(body + 5, 'v', m - 3);
	memcpy(body + 5 + m - 3, "\r\n\r\n", 4);
	cr_assert_eq(decode_once(body, m + 6, 100).rc, -400);
}

Test(http, chunked_body_over_max_body_is_413_before_copying)
{
	struct decoded d;

	d = decode_once(S("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), 10);
	cr_assert_eq(d.rc, 1);
	cr_assert_eq(d.out, 10);

	d = decode_once(S("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"), 10);
	cr_assert_eq(d.rc, -413);
	cr_assert_eq(d.out, 5, "nothing of the chunk that overflows is copied");

	d = decode_once(S("1000000000000000\r\n"), SIZE_MAX);
	cr_assert_eq(d.rc, 0, "a size within max_body only waits for data");
}

Test(http, chunked_size_that_overflows_64_bits_is_rejected)
{
	cr_assert_eq(decode_once(S("10000000000000000\r\n"), SIZE_MAX).rc, -400);
	cr_assert_eq(decode_once(S("fffffffffffffffffffff\r\n"), SIZE_MAX).rc, -400);
}

Test(http, chunked_decoder_stops_at_end_and_errors_stick)
{
	char buf[64];
	struct http_chunked c;
	size_t n;

	n = (size_t)snprintf(buf, sizeof buf, "3\r\nabc\r\n0\r\n\r\nGET");
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_decode(&c, buf, n, 100), 1);
	cr_assert_eq(c.in, n - 3);
	cr_assert_eq(http_chunked_decode(&c, buf, n, 100), 1);
	cr_assert_eq(memcmp(buf + c.in, "GET", 3), 0);

	n = (size_t)snprintf(buf, sizeof buf, "z\r\n3\r\nabc\r\n0\r\n\r\n");
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_decode(&c, buf, n, 100), -400);
	cr_assert_eq(http_chunked_decode(&c, buf, n, 100), -400);
}

/* ---- query strings ------------------------------------------------------ */

Test(http, query_value_is_percent_and_plus_decoded)
{
	char out[64];
	const char *q = "session=a%2Fb+c&url=https%3a%2F%2Fx.example%2F&empty=&flag&x=1";
	struct http_str qs = {q, strlen(q)};

	cr_assert_eq(http_query_get(qs, "session", out, sizeof out), 5);
	cr_assert_str_eq(out, "a/b c");
	cr_assert_eq(http_query_get(qs, "url", out, sizeof out), 18);
	cr_assert_str_eq(out, "https://x.example/");
	cr_assert_eq(http_query_get(qs, "empty", out, sizeof out), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(http_query_get(qs, "flag", out, sizeof out), 0);
	cr_assert_eq(http_query_get(qs, "x", out, sizeof out), 1);
	cr_assert_str_eq(out, "1");
}

Test(http, query_key_match_is_exact_and_first_wins)
{
	char out[16];
	const char *q = "ab=1&a=2&a=3&A=4&s%5Fid=5";
	struct http_str qs = {q, strlen(q)};

	cr_assert_eq(http_query_get(qs, "a", out, sizeof out), 1);
	cr_assert_str_eq(out, "2");
	cr_assert_eq(http_query_get(qs, "A", out, sizeof out), 1);
	cr_assert_str_eq(out, "4");
	cr_assert_eq(http_query_get(qs, "s_id", out, sizeof out), 1);
	cr_assert_str_eq(out, "5");
	cr_assert_eq(http_query_get(qs, "b", out, sizeof out), -1);
	cr_assert_eq(http_query_get(qs, "ab=1", out, sizeof out), -1);
	cr_assert_eq(http_query_get((struct http_str){NULL, 0}, "a", out, sizeof out), -1);
}

Test(http, query_value_malformed_or_too_long_is_minus_2)
{
	char out[4];
	const char *q = "a=%4&b=%zz1&c=abc&d=abcd&e=%00&f=%41%4&g=%";
	struct http_str qs = {q, strlen(q)};

	cr_assert_eq(http_query_get(qs, "a", out, sizeof out), -2);
	cr_assert_eq(http_query_get(qs, "b", out, sizeof out), -2);
	cr_assert_eq(http_query_get(qs, "c", out, sizeof out), 3);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(http_query_get(qs, "d", out, sizeof out), -2);
	cr_assert_eq(http_query_get(qs, "e", out, sizeof out), -2);
	cr_assert_eq(http_query_get(qs, "f", out, sizeof out), -2);
	cr_assert_eq(http_query_get(qs, "g", out, sizeof out), -2);
	cr_assert_eq(http_query_get(qs, "c", out, 0), -2);
}

Test(http, query_get_reads_only_the_query_view)
{
	char out[8];
	const char *q = "a=%4";
	char *g = guarded(q, 4);

	cr_assert_eq(http_query_get((struct http_str){g, 4}, "a", out, sizeof out), -2);
	g = guarded("a=12", 4);
	cr_assert_eq(http_query_get((struct http_str){g, 3}, "a", out, sizeof out), 1);
	cr_assert_str_eq(out, "1");
}

/* ---- reason phrases ----------------------------------------------------- */

Test(http, reason_phrases_cover_the_statuses_spoord_sends)
{
	static const int codes[] = {100, 200, 204, 400, 401, 403, 404, 405, 408, 411,
				    413, 414, 415, 429, 431, 500, 501, 503, 505};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		cr_assert_str_neq(http_reason(codes[i]), "Unknown", "status %d", codes[i]);
	cr_assert_str_eq(http_reason(404), "Not Found");
	cr_assert_str_eq(http_reason(413), "Content Too Large");
	cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
	cr_assert_str_eq(http_reason(299), "Unknown");
	cr_assert_str_eq(http_reason(-400), "Unknown");
}
