/*
 * test_spoord.c — integration tests of the real spoord binary.
 *
 * Each test starts its own spoord (SPOORD_PATH) on 127.0.0.1:0 with a fresh
 * data directory, talks HTTP over plain sockets, stops it by pid and, where
 * the outcome is stored data, opens the directory read-only with the storage
 * library.  No test asserts a duration: waits have generous bounds.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spoord_harness.h"
#include "storage.h"
#include "testutil.h"

#define TMO .timeout = 180

static struct sh_server srv;

static void start(const char *const *extra)
{
	cr_assert_eq(sh_start(&srv, extra), 0, "spoord did not start (log: %s)", srv.log);
}

static void fini(void)
{
	sh_cleanup(&srv);
}

TestSuite(spoord, .fini = fini);

static void post(const char *body, const char *headers, struct sh_resp *r)
{
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events", headers, body, r), 0,
		     "no reply to POST %s", body);
}

static void expect_body(const struct sh_resp *r, const char *part)
{
	cr_expect(strstr(r->body, part) != NULL, "expected %s in reply %d %s", part, r->status,
		  r->body);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Opens srv's data directory read-only (spoord must be stopped). */
static void stored_open(struct sh_stored *s)
{
	cr_assert_eq(sh_stored_open(s, srv.data), 0, "cannot open %s", srv.data);
}

/* Events of `session`; *out (may be NULL) keeps them for the caller. */
static size_t stored_count(struct sh_stored *s, const char *session, struct store_events **out)
{
	long n = sh_stored_count(s, session, out);

	cr_assert_geq(n, 0, "cannot read session %s", session);
	return (size_t)n;
}

/* ---- accepted bodies ---------------------------------------------------- */

Test(spoord, single_event_is_acknowledged_and_stored, TMO)
{
	struct sh_resp r;
	struct sh_stored s;
	struct store_events *e;
	const struct store_event *ev;

	start(NULL);
	post("{\"session\":\"one\",\"type\":\"click\",\"target\":\"#buy\",\"x\":10,\"y\":20}", NULL,
	     &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "{\"accepted\":1,\"rejected\":0,\"duplicates\":0,\"errors\":[]}");
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	stored_open(&s);
	cr_assert_eq(stored_count(&s, "one", &e), 1);
	ev = store_events_at(e, 0);
	cr_expect_eq(ev->type.n, 5);
	cr_expect(memcmp(ev->type.p, "click", 5) == 0);
	cr_expect_eq(ev->x, 10);
	cr_expect_eq(ev->y, 20);
	store_events_free(e);
	sh_stored_close(&s);
}

Test(spoord, array_ndjson_and_text_plain_bodies_are_accepted, TMO)
{
	struct sh_resp r;
	struct sh_stored s;

	start(NULL);
	post("[{\"session\":\"arr\",\"type\":\"a\"},{\"session\":\"arr\",\"type\":\"b\"},"
	     "{\"session\":\"arr\",\"type\":\"c\"}]",
	     "Content-Type: application/json\r\n", &r);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "\"accepted\":3");
	sh_resp_free(&r);
	post("{\"session\":\"nd\",\"type\":\"a\"}\n{\"session\":\"nd\",\"type\":\"b\"}\n",
	     "Content-Type: application/x-ndjson\r\n", &r);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "\"accepted\":2");
	sh_resp_free(&r);
	post("{\"session\":\"beacon\",\"type\":\"pageview\"}", "Content-Type: text/plain\r\n", &r);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "\"accepted\":1");
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	stored_open(&s);
	cr_expect_eq(stored_count(&s, "arr", NULL), 3);
	cr_expect_eq(stored_count(&s, "nd", NULL), 2);
	cr_expect_eq(stored_count(&s, "beacon", NULL), 1);
	sh_stored_close(&s);
}

Test(spoord, envelope_corrects_the_client_clock, TMO)
{
	struct sh_resp r;
	struct sh_stored s;
	struct store_events *e;
	const struct store_event *ev;

	start(NULL);
	/* the client's clock is far off: only the difference to sent_at counts */
	post("{\"sent_at\":1000000,\"events\":[{\"session\":\"env\",\"type\":\"click\","
	     "\"ts\":999000}]}",
	     NULL, &r);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "\"accepted\":1");
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	stored_open(&s);
	cr_assert_eq(stored_count(&s, "env", &e), 1);
	ev = store_events_at(e, 0);
	cr_expect_eq(ev->ts, ev->recv - 1000, "ts %lld recv %lld", (long long)ev->ts,
		     (long long)ev->recv);
	store_events_free(e);
	sh_stored_close(&s);
}

/* The SDK's batches carry their own sent_at, so each one's clock offset
 * holds its own network delay: here the first claims 50 ms more than the
 * second.  The second event, 1 ms later on the client, must stay 1 ms later
 * (a replay shows events in stored order), not land 49 ms before. */
Test(spoord, envelopes_of_one_session_keep_the_client_order, TMO)
{
	struct sh_resp r;
	struct sh_stored s;
	struct store_events *e;
	struct timespec now;
	long long c;
	char body[256];

	start(NULL);
	clock_gettime(CLOCK_REALTIME, &now);
	c = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - 3600000; /* an hour behind */
	snprintf(body, sizeof body,
		 "{\"sent_at\":%lld,\"events\":[{\"session\":\"ord\",\"type\":\"a\",\"ts\":%lld}]}",
		 c - 50, c);
	post(body, NULL, &r);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	snprintf(body, sizeof body,
		 "{\"sent_at\":%lld,\"events\":[{\"session\":\"ord\",\"type\":\"b\",\"ts\":%lld}]}",
		 c + 1, c + 1);
	post(body, NULL, &r);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	stored_open(&s);
	cr_assert_eq(stored_count(&s, "ord", &e), 2);
	{
		const struct store_event *x = store_events_at(e, 0), *y = store_events_at(e, 1);
		cr_expect(x->type.n == 1 && x->type.p[0] == 'a', "a first");
		cr_expect_eq(y->ts - x->ts, 1, "a at %lld, b at %lld", (long long)x->ts,
			     (long long)y->ts);
	}
	store_events_free(e);
	sh_stored_close(&s);
}

Test(spoord, chunked_body_split_across_writes_is_accepted, TMO)
{
	static const char *chunks[] = {"[{\"session\":\"ch\",\"type\":", "\"a\"},",
				       "{\"session\":\"ch\",\"type\":\"b\"}]"};
	struct sh_conn c;
	struct sh_resp r;

	start(NULL);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(
	    sh_sends(&c, "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"),
	    0);
	sleep_ms(30);
	cr_assert_eq(sh_sends(&c, "\r\n"), 0);
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		size_t n = strlen(chunks[i]);
		char size[16];

		/* size line, then the data in two writes, then its CRLF */
		snprintf(size, sizeof size, "%zx\r\n", n);
		cr_assert_eq(sh_sends(&c, size), 0);
		sleep_ms(30);
		cr_assert_eq(sh_send(&c, chunks[i], n / 2), 0);
		sleep_ms(30);
		cr_assert_eq(sh_send(&c, chunks[i] + n / 2, n - n / 2), 0);
		cr_assert_eq(sh_sends(&c, "\r\n"), 0);
	}
	sleep_ms(30);
	cr_assert_eq(sh_sends(&c, "0\r\n"), 0);
	sleep_ms(30);
	cr_assert_eq(sh_sends(&c, "\r\n"), 0);
	cr_assert_eq(sh_read(&c, &r), 0);
	cr_expect_eq(r.status, 200, "%s", r.body);
	expect_body(&r, "\"accepted\":2");
	sh_resp_free(&r);
	sh_close(&c);
}

Test(spoord, pipelined_requests_are_answered_in_order, TMO)
{
	char both[2048];
	size_t l1, l2;
	char *a =
	    sh_format("POST", "/v1/events", NULL, "{\"session\":\"p\",\"type\":\"one\"}", &l1);
	char *b = sh_format(
	    "POST", "/v1/events", NULL,
	    "[{\"session\":\"p\",\"type\":\"two\"},{\"session\":\"p\",\"type\":\"2\"}]", &l2);
	struct sh_conn c;
	struct sh_resp r;

	start(NULL);
	memcpy(both, a, l1);
	memcpy(both + l1, b, l2);
	memcpy(both + l1 + l2, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 35);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_send(&c, both, l1 + l2 + 35), 0);
	cr_assert_eq(sh_read(&c, &r), 0);
	expect_body(&r, "\"accepted\":1");
	sh_resp_free(&r);
	cr_assert_eq(sh_read(&c, &r), 0);
	expect_body(&r, "\"accepted\":2");
	sh_resp_free(&r);
	cr_assert_eq(sh_read(&c, &r), 0);
	cr_expect_str_eq(r.body, "ok\n");
	sh_resp_free(&r);
	sh_close(&c);
	free(a);
	free(b);
}

Test(spoord, keep_alive_serves_many_requests_on_one_connection, TMO)
{
	struct sh_conn c;
	struct sh_resp r;

	start(NULL);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	for (int i = 0; i < 25; i++) {
		char body[128];
		size_t len;
		char *req;

		snprintf(body, sizeof body, "{\"session\":\"ka\",\"type\":\"t%d\"}", i);
		req = sh_format("POST", "/v1/events", NULL, body, &len);
		cr_assert_eq(sh_send(&c, req, len), 0);
		cr_assert_eq(sh_read(&c, &r), 0, "no reply to request %d", i);
		cr_expect_eq(r.status, 200);
		sh_resp_free(&r);
		free(req);
	}
	sh_close(&c);
}

Test(spoord, http10_closes_after_the_reply_unless_keep_alive, TMO)
{
	struct sh_conn c;
	struct sh_resp r;

	start(NULL);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_sends(&c, "GET /healthz HTTP/1.0\r\n\r\n"), 0);
	cr_assert_eq(sh_read(&c, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_expect(sh_wait_closed(&c, 30000), "HTTP/1.0 connection stayed open");
	sh_close(&c);

	cr_assert_eq(sh_connect(&c, srv.port), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		    sh_sends(&c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
		cr_assert_eq(sh_read(&c, &r), 0, "keep-alive 1.0 request %d unanswered", i);
		cr_expect_eq(r.status, 200);
		sh_resp_free(&r);
	}
	sh_close(&c);
}

Test(spoord, expect_100_continue_is_answered, TMO)
{
	const char *body = "{\"session\":\"cont\",\"type\":\"a\"}";
	char head[256];
	struct sh_conn c;
	struct sh_resp r;

	start(NULL);
	snprintf(head, sizeof head,
		 "POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 strlen(body));
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_sends(&c, head), 0);
	cr_assert_eq(sh_read(&c, &r), 0);
	cr_expect_eq(r.status, 100);
	sh_resp_free(&r);
	cr_assert_eq(sh_sends(&c, body), 0);
	cr_assert_eq(sh_read(&c, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	sh_close(&c);
}

/* ---- errors ------------------------------------------------------------- */

Test(spoord, malformed_json_gets_400_with_the_byte_offset, TMO)
{
	struct sh_resp r;

	start(NULL);
	post("{\"session\":\"a\" \"type\":\"b\"}", NULL, &r);
	cr_expect_eq(r.status, 400);
	expect_body(&r, "{\"error\":\"invalid JSON at byte 15");
	sh_resp_free(&r);
}

Test(spoord, batch_with_every_event_rejected_gets_400_with_reasons, TMO)
{
	struct sh_resp r;

	start(NULL);
	post("[{\"type\":\"a\"},{\"session\":\"s\"}]", NULL, &r);
	cr_expect_eq(r.status, 400);
	expect_body(&r, "\"accepted\":0,\"rejected\":2");
	expect_body(&r, "{\"index\":0,\"error\":\"session");
	expect_body(&r, "{\"index\":1,\"error\":\"type");
	sh_resp_free(&r);

	/* one good event is enough for a 200 that still lists the bad one */
	post("[{\"session\":\"s\",\"type\":\"a\"},{\"session\":\"s\"}]", NULL, &r);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "\"accepted\":1,\"rejected\":1");
	expect_body(&r, "{\"index\":1,");
	sh_resp_free(&r);
}

Test(spoord, unknown_path_is_404_and_wrong_method_is_405_with_allow, TMO)
{
	struct sh_resp r;
	char allow[128];

	start(NULL);
	cr_assert_eq(sh_request(srv.port, "GET", "/nope", NULL, NULL, &r), 0);
	cr_expect_eq(r.status, 404);
	sh_resp_free(&r);
	cr_assert_eq(sh_request(srv.port, "GET", "/v1/events", NULL, NULL, &r), 0);
	cr_expect_eq(r.status, 405);
	cr_assert(sh_header(&r, "Allow", allow, sizeof allow));
	cr_expect(strstr(allow, "POST") != NULL, "Allow: %s", allow);
	sh_resp_free(&r);
	/* the root says what the port is, to a browser that opens it */
	cr_assert_eq(sh_request(srv.port, "GET", "/", NULL, NULL, &r), 0);
	cr_expect_eq(r.status, 200);
	cr_expect(r.body && strstr(r.body, "POST /v1/events") != NULL, "GET /: %s", r.body);
	sh_resp_free(&r);
	cr_assert_eq(sh_request(srv.port, "POST", "/", NULL, "{}", &r), 0);
	cr_expect_eq(r.status, 405);
	sh_resp_free(&r);
}

Test(spoord, oversized_body_gets_a_413_the_client_can_read, TMO)
{
	const char *args[] = {"--max-body", "4096", NULL};
	size_t big = 1 << 20;
	char *body = malloc(big), head[256];
	struct sh_conn c;
	struct sh_resp r;

	start(args);
	memset(body, ' ', big);
	snprintf(head, sizeof head,
		 "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", big);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_sends(&c, head), 0);
	cr_assert_eq(sh_send(&c, body, big), 0, "the server reset while the body was sent");
	cr_assert_eq(sh_read(&c, &r), 0, "413 not readable");
	cr_expect_eq(r.status, 413);
	sh_resp_free(&r);
	sh_close(&c);

	/* the same for a chunked body that grows past the limit */
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(
	    sh_sends(&c,
		     "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    0);
	for (int i = 0; i < 16; i++) {
		char sz[16];
		snprintf(sz, sizeof sz, "%x\r\n", 1024);
		cr_assert_eq(sh_sends(&c, sz), 0);
		cr_assert_eq(sh_send(&c, body, 1024), 0);
		cr_assert_eq(sh_sends(&c, "\r\n"), 0);
	}
	cr_assert_eq(sh_read(&c, &r), 0, "chunked 413 not readable");
	cr_expect_eq(r.status, 413);
	sh_resp_free(&r);
	sh_close(&c);
	free(body);
}

Test(spoord, oversized_head_gets_431, TMO)
{
	char *hdr = malloc(12000);
	struct sh_resp r;

	start(NULL);
	strcpy(hdr, "X-Big: ");
	memset(hdr + 7, 'a', 10000);
	strcpy(hdr + 10007, "\r\n");
	cr_assert_eq(sh_request(srv.port, "GET", "/healthz", hdr, NULL, &r), 0);
	cr_expect_eq(r.status, 431);
	sh_resp_free(&r);
	free(hdr);
}

Test(spoord, ingest_key_is_required_by_header_or_query, TMO)
{
	const char *args[] = {"--ingest-key", "s3cret", NULL};
	const char *ev = "{\"session\":\"k\",\"type\":\"a\"}";
	struct sh_resp r;

	start(args);
	post(ev, NULL, &r);
	cr_expect_eq(r.status, 401);
	sh_resp_free(&r);
	post(ev, "X-Spoor-Key: s3cre\r\n", &r);
	cr_expect_eq(r.status, 401);
	sh_resp_free(&r);
	post(ev, "X-Spoor-Key: s3cret\r\n", &r);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events?key=s3cret", NULL, ev, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events?key=nope", NULL, ev, &r), 0);
	cr_expect_eq(r.status, 401);
	sh_resp_free(&r);
}

Test(spoord, cors_preflight_and_headers_with_any_origin, TMO)
{
	struct sh_resp r;
	char v[256];

	start(NULL);
	cr_assert_eq(sh_request(srv.port, "OPTIONS", "/v1/events",
				"Origin: https://shop.example\r\n"
				"Access-Control-Request-Method: POST\r\n",
				NULL, &r),
		     0);
	cr_expect_eq(r.status, 204);
	cr_expect(sh_header(&r, "Access-Control-Allow-Origin", v, sizeof v) && !strcmp(v, "*"));
	cr_expect(sh_header(&r, "Access-Control-Allow-Methods", v, sizeof v) && strstr(v, "POST"));
	cr_expect(sh_header(&r, "Access-Control-Allow-Headers", v, sizeof v) &&
		  strstr(v, "X-Spoor-Key"));
	cr_expect(sh_header(&r, "Access-Control-Max-Age", v, sizeof v) && !strcmp(v, "86400"));
	sh_resp_free(&r);
	post("{\"session\":\"c\",\"type\":\"a\"}", "Origin: https://shop.example\r\n", &r);
	cr_expect(sh_header(&r, "Access-Control-Allow-Origin", v, sizeof v) && !strcmp(v, "*"));
	sh_resp_free(&r);
}

Test(spoord, cors_allow_list_echoes_only_listed_origins, TMO)
{
	const char *args[] = {"--cors-origins", "https://a.example, https://b.example", NULL};
	struct sh_resp r;
	char v[256];

	start(args);
	post("{\"session\":\"c\",\"type\":\"a\"}", "Origin: https://b.example\r\n", &r);
	cr_expect(sh_header(&r, "Access-Control-Allow-Origin", v, sizeof v) &&
		  !strcmp(v, "https://b.example"));
	cr_expect(sh_header(&r, "Vary", v, sizeof v) && !strcmp(v, "Origin"));
	sh_resp_free(&r);
	post("{\"session\":\"c\",\"type\":\"a\"}", "Origin: https://evil.example\r\n", &r);
	cr_expect_not(sh_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
	sh_resp_free(&r);
}

Test(spoord, a_batch_sent_twice_is_stored_once, TMO)
{
	const char *batch = "[{\"session\":\"d\",\"type\":\"a\",\"id\":\"e1\"},"
			    "{\"session\":\"d\",\"type\":\"b\",\"id\":\"e2\"},"
			    "{\"session\":\"d\",\"type\":\"c\",\"id\":\"e3\"}]";
	struct sh_resp r;
	struct sh_stored s;

	start(NULL);
	post(batch, NULL, &r);
	expect_body(&r, "\"accepted\":3,\"rejected\":0,\"duplicates\":0");
	sh_resp_free(&r);
	post(batch, NULL, &r);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "\"accepted\":0,\"rejected\":0,\"duplicates\":3");
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);
	stored_open(&s);
	cr_expect_eq(stored_count(&s, "d", NULL), 3);
	sh_stored_close(&s);
}

Test(spoord, a_client_dribbling_bytes_is_disconnected, TMO)
{
	const char *args[] = {"--request-timeout-ms", "500", NULL};
	const char *req = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
	struct sh_conn c;
	int cut = 0;

	start(args);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	/* one byte every 100 ms, for at most 60 s */
	for (int i = 0; i < 600 && !cut; i++) {
		if (sh_send(&c, req + (i % strlen(req)), 1) < 0)
			cut = 1;
		else if (sh_wait_closed(&c, 100))
			cut = 1;
	}
	cr_expect(cut, "the slow client was never disconnected");
	sh_close(&c);
}

Test(spoord, an_idle_keep_alive_connection_is_closed, TMO)
{
	const char *args[] = {"--idle-timeout-ms", "300", NULL};
	struct sh_conn c;
	struct sh_resp r;

	start(args);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_sends(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	cr_assert_eq(sh_read(&c, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_expect(sh_wait_closed(&c, 60000), "the idle connection stayed open");
	sh_close(&c);
}

Test(spoord, healthz_and_metrics_report, TMO)
{
	struct sh_resp r;

	start(NULL);
	cr_assert_eq(sh_request(srv.port, "GET", "/healthz", NULL, NULL, &r), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "ok\n");
	sh_resp_free(&r);
	post("[{\"session\":\"m\",\"type\":\"a\"},{\"session\":\"m\"}]", NULL, &r);
	sh_resp_free(&r);
	cr_assert_eq(sh_request(srv.port, "GET", "/metrics", NULL, NULL, &r), 0);
	cr_expect_eq(r.status, 200);
	expect_body(&r, "spoord_requests_total{status=\"200\"} 2\n"); /* /healthz and the POST */
	expect_body(&r, "spoord_events_total{result=\"accepted\"} 1\n");
	expect_body(&r, "spoord_events_total{result=\"rejected\"} 1\n");
	expect_body(&r, "spoord_connections ");
	expect_body(&r, "spoord_commit_latency_seconds_bucket{le=\"+Inf\"}");
	expect_body(&r, "spoord_segments_sealed_total ");
	sh_resp_free(&r);
}

Test(spoord, replies_larger_than_the_socket_buffers_stay_in_order, TMO)
{
	struct sh_conn c;
	struct sh_resp r;
	char *all = malloc(400 * 64);
	size_t n = 0;

	start(NULL);
	for (int i = 0; i < 400; i++)
		n += (size_t)sprintf(all + n, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
				     i % 2 ? "/healthz" : "/metrics");
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_send(&c, all, n), 0);
	sleep_ms(200); /* let the server fill the socket and pause */
	for (int i = 0; i < 400; i++) {
		cr_assert_eq(sh_read(&c, &r), 0, "reply %d missing", i);
		cr_assert_eq(r.status, 200);
		if (i % 2)
			cr_assert_str_eq(r.body, "ok\n", "reply %d out of order", i);
		else
			cr_assert(strncmp(r.body, "# HELP", 6) == 0, "reply %d out of order", i);
		sh_resp_free(&r);
	}
	sh_close(&c);
	free(all);
}

Test(spoord, a_request_over_the_buffer_budget_gets_503, TMO)
{
	const char *args[] = {"--threads", "1", "--max-buffered", "1m", "--max-body", "4m", NULL};
	size_t big = 3 << 20;
	char *body = malloc(big), head[256], v[32];
	struct sh_conn c;
	struct sh_resp r;

	start(args);
	memset(body, ' ', big);
	snprintf(head, sizeof head,
		 "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", big);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_sends(&c, head), 0);
	cr_assert_eq(sh_send(&c, body, big), 0, "the server reset while the body was sent");
	cr_assert_eq(sh_read(&c, &r), 0, "503 not readable");
	cr_expect_eq(r.status, 503);
	cr_expect(sh_header(&r, "Retry-After", v, sizeof v));
	sh_resp_free(&r);
	sh_close(&c);
	free(body);
}

Test(spoord, connections_beyond_max_conns_are_refused, TMO)
{
	const char *args[] = {"--threads", "2", "--max-conns", "2", NULL};
	struct sh_conn a, b, extra;
	struct sh_resp r;

	start(args);
	cr_assert_eq(sh_connect(&a, srv.port), 0);
	cr_assert_eq(sh_connect(&b, srv.port), 0);
	cr_assert_eq(sh_sends(&a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	cr_assert_eq(sh_read(&a, &r), 0);
	sh_resp_free(&r);
	cr_assert_eq(sh_sends(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	cr_assert_eq(sh_read(&b, &r), 0);
	sh_resp_free(&r);
	cr_assert_eq(sh_connect(&extra, srv.port), 0); /* the kernel accepts it... */
	cr_expect(sh_wait_closed(&extra, 30000), "...and spoord closes it");
	sh_close(&extra);
	/* the first two still work */
	cr_assert_eq(sh_sends(&a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	cr_assert_eq(sh_read(&a, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	sh_close(&a);
	sh_close(&b);
}
