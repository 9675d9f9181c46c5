/*
 * test_http_api.c — the query API's endpoints, statuses and request
 * validation, against a query server in this process over a temporary
 * store (events appended with store_append, some segments sealed).
 * test_http_spoord.c runs the same API inside the real spoord.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_harness.h"
#include "storage.h"

static struct qt_local L;

#define add(...) qt_add(&L, __VA_ARGS__)

static void start_plain(void)
{
	cr_assert_eq(qt_local_start(&L, NULL, 0), 0);
}

static void start_token(void)
{
	cr_assert_eq(qt_local_start(&L, "s3cret-token", 4096), 0);
}

static void stop(void)
{
	qt_local_stop(&L);
}

static void post_funnel(const char *body, int status, struct qt_resp *r, struct qt_json *j)
{
	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", "Content-Type: application/json\r\n",
			     body, strlen(body), r),
		     0);
	cr_assert_eq(r->status, status, "funnel %s: %d %s", body, r->status, r->body);
	cr_assert_eq(qt_json_parse(j, r->body, r->len), 0, "%s", r->body);
}

/* ---- plumbing: health, auth, routing, limits -------------------------------------------- */

Test(http_api, healthz_is_open_even_with_a_token, .init = start_token, .fini = stop)
{
	struct qt_resp r;
	char v[128];

	cr_assert_eq(qt_get(L.port, "/healthz", &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok\n");
	cr_assert(qt_header(&r, "Cache-Control", v, sizeof v));
	cr_assert_str_eq(v, "no-store");
	qt_resp_free(&r);
}

Test(http_api, token_is_required_and_checked, .init = start_token, .fini = stop)
{
	static const char *const bad[] = {
	    NULL,
	    "Authorization: Bearer wrong\r\n",
	    "Authorization: Bearer s3cret-toke\r\n",
	    "Authorization: Bearer s3cret-token-and-more\r\n",
	    "Authorization: Basic s3cret-token\r\n",
	};
	struct qt_resp r;
	char v[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(qt_http(L.port, "GET", "/v1/stats", bad[i], NULL, 0, &r), 0);
		cr_assert_eq(r.status, 401, "case %zu: %d", i, r.status);
		cr_assert(qt_header(&r, "WWW-Authenticate", v, sizeof v));
		cr_assert(strncmp(v, "Bearer", 6) == 0, "%s", v);
		cr_assert(strstr(qt_error_of(&r, v, sizeof v), "token"), "%s", v);
		qt_resp_free(&r);
	}
	/* unknown paths and the other endpoints are closed too */
	cr_assert_eq(qt_get(L.port, "/metrics", &r), 0);
	cr_assert_eq(r.status, 401);
	qt_resp_free(&r);
	cr_assert_eq(qt_get(L.port, "/nope", &r), 0);
	cr_assert_eq(r.status, 401);
	qt_resp_free(&r);
	cr_assert_eq(qt_http(L.port, "GET", "/v1/stats", "Authorization: Bearer s3cret-token\r\n",
			     NULL, 0, &r),
		     0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	qt_resp_free(&r);
	cr_assert_eq(qt_http(L.port, "GET", "/v1/stats", "Authorization: bearer s3cret-token\r\n",
			     NULL, 0, &r),
		     0);
	cr_assert_eq(r.status, 200, "the scheme is case-insensitive");
	qt_resp_free(&r);
}

Test(http_api, unknown_path_is_404_and_wrong_method_is_405_with_allow, .init = start_plain,
     .fini = stop)
{
	struct qt_resp r;
	char v[256], ct[128];

	cr_assert_eq(qt_get(L.port, "/v1/nothing", &r), 0);
	cr_assert_eq(r.status, 404);
	cr_assert(qt_header(&r, "Content-Type", ct, sizeof ct));
	cr_assert_str_eq(ct, "application/json");
	cr_assert(strstr(qt_error_of(&r, v, sizeof v), "/v1/nothing"), "%s", v);
	qt_resp_free(&r);

	cr_assert_eq(qt_get(L.port, "/v1/funnel", &r), 0);
	cr_assert_eq(r.status, 405);
	cr_assert(qt_header(&r, "Allow", v, sizeof v));
	cr_assert_str_eq(v, "POST");
	qt_resp_free(&r);

	cr_assert_eq(qt_http(L.port, "POST", "/v1/stats", NULL, "{}", 2, &r), 0);
	cr_assert_eq(r.status, 405);
	cr_assert(qt_header(&r, "Allow", v, sizeof v));
	cr_assert_str_eq(v, "GET, HEAD");
	qt_resp_free(&r);

	cr_assert_eq(qt_http(L.port, "DELETE", "/v1/sessions/x/events", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 405);
	qt_resp_free(&r);
}

Test(http_api, body_over_the_limit_is_413, .init = start_token, .fini = stop)
{
	static const char head[] = "POST /v1/funnel HTTP/1.1\r\nHost: x\r\n"
				   "Authorization: Bearer s3cret-token\r\n"
				   "Content-Length: 100000\r\n\r\n";
	size_t big = 3 * 4096, n;
	char *req = malloc(big + 512), v[256];
	struct qt_resp r;

	/* Announced by Content-Length: refused before the body is read. */
	cr_assert_eq(qt_raw(L.port, head, sizeof head - 1, &r), 0);
	cr_assert_eq(r.status, 413);
	cr_assert(strstr(qt_error_of(&r, v, sizeof v), "too large"), "%s", v);
	qt_resp_free(&r);

	/* Chunked, so only counting tells: read, dropped, then refused. */
	n = (size_t)sprintf(req,
			    "POST /v1/funnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			    "Authorization: Bearer s3cret-token\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
			    big);
	memset(req + n, ' ', big);
	n += big;
	n += (size_t)sprintf(req + n, "\r\n0\r\n\r\n");
	cr_assert_eq(qt_raw(L.port, req, n, &r), 0);
	cr_assert_eq(r.status, 413, "%d %s", r.status, r.body);
	qt_resp_free(&r);
	free(req);

	/* At the limit is fine (and then the JSON is judged). */
	req = malloc(4096);
	memset(req, ' ', 4096);
	memcpy(req, "{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1}", 38);
	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", "Authorization: Bearer s3cret-token\r\n",
			     req, 4096, &r),
		     0);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
	qt_resp_free(&r);
	free(req);
}

Test(http_api, unknown_query_parameters_are_refused, .init = start_plain, .fini = stop)
{
	static const char *const paths[] = {
	    "/v1/sessions?usr=bob",	     "/v1/series?intervl=1m",	     "/v1/stats?x=1",
	    "/v1/sessions/s1/events?limt=5", "/v1/sessions?limit=5&limit=6",
	};
	struct qt_resp r;
	char v[256];

	add(1000, "s1", "", "pageview", "/", "", "");
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		cr_assert_eq(qt_get(L.port, paths[i], &r), 0);
		cr_assert_eq(r.status, 400, "%s: %d", paths[i], r.status);
		qt_error_of(&r, v, sizeof v);
		cr_assert(strstr(v, "unknown parameter") || strstr(v, "twice"), "%s: %s", paths[i],
			  v);
		qt_resp_free(&r);
	}
}

/* ---- funnel ------------------------------------------------------------------------------- */

Test(http_api, funnel_request_errors_name_the_problem, .init = start_plain, .fini = stop)
{
	static const struct {
		const char *body, *msg;
	} cases[] = {
	    {"", "JSON body is required"},
	    {"{\"steps\":[", "invalid JSON at byte"},
	    {"[1,2]", "must be a JSON object"},
	    {"{\"window_ms\":1}", "steps: missing"},
	    {"{\"steps\":[{\"type\":\"a\"}]}", "window_ms: missing"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"windw_ms\":1}", "unknown key \"windw_ms\""},
	    {"{\"steps\":[],\"window_ms\":1}", "at least one step"},
	    {"{\"steps\":{},\"window_ms\":1}", "steps: must be an array"},
	    {"{\"steps\":[1],\"window_ms\":1}", "steps[0]: must be an object"},
	    {"{\"steps\":[{\"url\":\"/\"}],\"window_ms\":1}", "steps[0].type: missing"},
	    {"{\"steps\":[{\"type\":\"\"}],\"window_ms\":1}", "steps[0].type: must not be empty"},
	    {"{\"steps\":[{\"type\":5}],\"window_ms\":1}", "steps[0].type: must be a string"},
	    {"{\"steps\":[{\"type\":\"a\"},{\"type\":\"b\",\"tagret\":\"#x\"}],\"window_ms\":1}",
	     "steps[1]: unknown key \"tagret\""},
	    {"{\"steps\":[{\"type\":\"a\",\"type\":\"b\"}],\"window_ms\":1}",
	     "steps[0]: duplicate key \"type\""},
	    {"{\"steps\":[{\"type\":\"a\",\"url\":7}],\"window_ms\":1}",
	     "steps[0].url: must be a string"},
	    {"{\"steps\":[{\"type\":\"a\",\"props\":[]}],\"window_ms\":1}",
	     "steps[0].props: must be an object"},
	    {"{\"steps\":[{\"type\":\"a\",\"props\":{\"k\":{}}}],\"window_ms\":1}",
	     "steps[0].props.k: must be a string, number"},
	    {"{\"steps\":[{\"type\":\"a\",\"props\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":"
	     "1,"
	     "\"g\":1,\"h\":1,\"i\":1}}],\"window_ms\":1}",
	     "steps[0].props: at most 8 keys"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":-1}",
	     "window_ms: must be an integer >= 0"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1.5}", "window_ms: must be an integer"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":\"1y\"}", "window_ms: must be"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1,\"window_ms\":2}",
	     "duplicate key \"window_ms\""},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1,\"by\":\"actor\"}",
	     "by: must be \"session\" or \"user\""},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1,\"from\":\"yesterday\"}",
	     "from: must be an integer"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1,\"from\":5,\"to\":5}",
	     "from must be less than to"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1,\"breakdown\":\"props.\"}",
	     "breakdown: must be"},
	    {"{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1,\"breakdown\":\"browser\"}",
	     "breakdown: must be"},
	};
	char steps17[1024];
	struct qt_resp r;
	char v[512];
	int n;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, cases[i].body,
				     strlen(cases[i].body), &r),
			     0);
		cr_assert_eq(r.status, 400, "%s: %d %s", cases[i].body, r.status, r.body);
		qt_error_of(&r, v, sizeof v);
		cr_assert(strstr(v, cases[i].msg), "%s: got \"%s\", want \"%s\"", cases[i].body, v,
			  cases[i].msg);
		qt_resp_free(&r);
	}
	n = sprintf(steps17, "{\"window_ms\":1,\"steps\":[");
	for (int i = 0; i < 17; i++)
		n += sprintf(steps17 + n, "%s{\"type\":\"t%d\"}", i ? "," : "", i);
	sprintf(steps17 + n, "]}");
	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, steps17, strlen(steps17), &r), 0);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(qt_error_of(&r, v, sizeof v), "at most 16 steps"), "%s", v);
	qt_resp_free(&r);
}

/* Three sessions: s1 converts fully, s2 stops after the click, s3 only views
 * the page; s4 converts but too slowly for a 1 h window. */
static void add_signup_flow(void)
{
	const int64_t t = 1732200000000;
	add(t, "s1", "u1", "pageview", "/", "", "{\"plan\":\"pro\"}");
	add(t + 1000, "s1", "u1", "click", "/", "#signup", "");
	add(t + 3000, "s1", "u1", "signup", "/welcome", "", "{\"plan\":\"pro\"}");
	add(t + 10, "s2", "u2", "pageview", "/", "", "{\"plan\":\"free\"}");
	add(t + 2010, "s2", "u2", "click", "/", "#signup", "");
	add(t + 20, "s3", "u3", "pageview", "/", "", "{\"plan\":\"free\"}");
	add(t + 30, "s4", "u4", "pageview", "/", "", "{\"plan\":\"pro\"}");
	add(t + 40, "s4", "u4", "click", "/", "#signup", "");
	add(t + 2 * 3600000, "s4", "u4", "signup", "/welcome", "", "");
}

static const char *const flow =
    "{\"steps\":[{\"type\":\"pageview\",\"url\":\"/\"},{\"type\":\"click\",\"target\":"
    "\"#signup\"},{\"type\":\"signup\"}],\"window_ms\":%s%s}";

static void check_steps(const struct qt_json *j, int steps, const long long *want, size_t n)
{
	cr_assert_eq(qt_jlen(j, steps), n);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(qt_jint(j, qt_jget(j, qt_jat(j, steps, k), "count")), want[k],
			     "step %zu", k);
}

Test(http_api, funnel_counts_conversions_and_medians, .init = start_plain, .fini = stop)
{
	static const long long want[] = {4, 1, 0};
	struct qt_resp r;
	struct qt_json j;
	char body[1024];
	int steps, s;

	add_signup_flow();
	store_seal_all(L.st); /* sealed and active rows both count */
	add(1732200000000 + 50, "s5", "", "pageview", "/", "", "");
	snprintf(body, sizeof body, flow, "3600000", "");
	post_funnel(body, 200, &r, &j);
	steps = qt_jget(&j, 0, "steps");
	static const long long want5[] = {5, 3, 1};
	check_steps(&j, steps, want5, 3);
	s = qt_jat(&j, steps, 1);
	cr_assert_float_eq(qt_jdbl(&j, qt_jget(&j, s, "conversion")), 0.6, 1e-6);
	cr_assert_float_eq(qt_jdbl(&j, qt_jget(&j, s, "conversion_from_prev")), 0.6, 1e-6);
	cr_assert(qt_jnull(&j, qt_jget(&j, qt_jat(&j, steps, 0), "median_ms_from_prev")));
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, 2), "median_ms_from_prev")), 2000);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "actors")), 5);
	cr_assert(qt_jint(&j, qt_jget(&j, 0, "events_scanned")) >= 10);
	cr_assert(qt_jdbl(&j, qt_jget(&j, 0, "took_ms")) >= 0);
	cr_assert_eq(qt_jget(&j, 0, "breakdown"), -1);
	qt_json_free(&j);
	qt_resp_free(&r);

	/* A duration string is the same window; from/to restrict the events. */
	snprintf(body, sizeof body, flow, "\"1h\"", ",\"from\":1732200000000,\"to\":1732200000050");
	post_funnel(body, 200, &r, &j);
	check_steps(&j, qt_jget(&j, 0, "steps"), want, 3);
	qt_json_free(&j);
	qt_resp_free(&r);
}

Test(http_api, funnel_breakdown_and_by_user, .init = start_plain, .fini = stop)
{
	struct qt_resp r;
	struct qt_json j;
	char body[1024], v[64];
	int bd, g, seen = 0;

	add_signup_flow();
	snprintf(body, sizeof body, flow, "\"2h\"",
		 ",\"breakdown\":\"props.plan\",\"by\":\"user\"");
	post_funnel(body, 200, &r, &j);
	static const long long all[] = {4, 3, 2};
	check_steps(&j, qt_jget(&j, 0, "steps"), all, 3);
	bd = qt_jget(&j, 0, "breakdown");
	cr_assert(bd >= 0, "%s", r.body);
	cr_assert(qt_jlen(&j, bd) >= 2, "%s", r.body);
	for (g = qt_jfirst(&j, bd); g >= 0; g = qt_jnext(&j, bd, g)) {
		int st = qt_jget(&j, g, "steps");
		qt_jstr(&j, qt_jget(&j, g, "value"), v, sizeof v);
		if (strcmp(v, "pro") == 0) {
			static const long long pro[] = {2, 2, 2};
			check_steps(&j, st, pro, 3);
			seen |= 1;
		} else if (strcmp(v, "free") == 0) {
			static const long long free_[] = {2, 1, 0};
			check_steps(&j, st, free_, 3);
			seen |= 2;
		}
	}
	cr_assert_eq(seen, 3, "both plans are groups: %s", r.body);
	/* "other" (when present) is last and flagged */
	g = qt_jat(&j, bd, qt_jlen(&j, bd) - 1);
	if (qt_jget(&j, g, "other") >= 0)
		cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, g, "value"), v, sizeof v), "other");
	qt_json_free(&j);
	qt_resp_free(&r);
}

/* ---- metrics -------------------------------------------------------------------------------- */

Test(http_api, metrics_count_requests_and_latency_per_endpoint, .init = start_plain, .fini = stop)
{
	struct qt_resp r;
	struct qt_json j;
	char body[512];

	add_signup_flow();
	snprintf(body, sizeof body, flow, "1000", "");
	post_funnel(body, 200, &r, &j);
	qt_json_free(&j);
	qt_resp_free(&r);
	post_funnel("{}", 400, &r, &j);
	qt_json_free(&j);
	qt_resp_free(&r);
	cr_assert_eq(qt_get(L.port, "/metrics", &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(
	    strstr(r.body, "spoord_query_requests_total{endpoint=\"funnel\",status=\"200\"} 1\n"),
	    "%s", r.body);
	cr_assert(
	    strstr(r.body, "spoord_query_requests_total{endpoint=\"funnel\",status=\"400\"} 1\n"),
	    "%s", r.body);
	cr_assert(
	    strstr(r.body,
		   "spoord_query_duration_seconds_bucket{endpoint=\"funnel\",le=\"+Inf\"} 2\n"),
	    "%s", r.body);
	cr_assert(strstr(r.body, "spoord_query_duration_seconds_count{endpoint=\"funnel\"} 2\n"));
	cr_assert(strstr(r.body, "# TYPE spoord_query_duration_seconds histogram"));
	qt_resp_free(&r);
}

/* ---- start -------------------------------------------------------------------------------- */

Test(http_api, start_fails_with_a_message_on_a_bad_or_taken_address, .init = start_plain,
     .fini = stop)
{
	struct q_http_opts o = {.listen = "127.0.0.1:notaport"};
	struct q_http *h = NULL;
	char addr[64], err[256] = "";

	cr_assert_lt(q_http_start(&o, L.st, &h, err, sizeof err), 0);
	cr_assert_null(h);
	cr_assert(strstr(err, "127.0.0.1:notaport"), "%s", err);
	o.listen = "no-port-here";
	cr_assert_lt(q_http_start(&o, L.st, &h, err, sizeof err), 0);
	cr_assert(strstr(err, "expected HOST:PORT"), "%s", err);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", L.port);
	o.listen = addr;
	cr_assert_lt(q_http_start(&o, L.st, &h, err, sizeof err), 0);
	cr_assert(strstr(err, "cannot listen on") && strstr(err, addr), "%s", err);
	cr_assert_null(h);
}
