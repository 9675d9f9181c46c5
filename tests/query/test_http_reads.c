/*
 * test_http_reads.c — replay, session list, series and stats through the
 * query API of a server in this process, against what the test appended
 * (part of it sealed, part still in active segments).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_harness.h"
#include "storage.h"
#include "testutil.h"

static struct qt_local L;

#define add(...) qt_add(&L, __VA_ARGS__)
#define T0	 1732200000000LL

static void start(void)
{
	cr_assert_eq(qt_local_start(&L, NULL, 0), 0);
}

static void stop(void)
{
	qt_local_stop(&L);
}

/* ---- replay ------------------------------------------------------------------------------ */

Test(http_reads, replay_returns_every_field_as_stored, .init = start, .fini = stop)
{
	static const char props[] =
	    "{ \"plan\" : \"pro\", \"n\":[1, 2.50e1], \"s\":\"\\u00e9\\n\" }";
	struct store_event e = {0};
	struct qt_resp r;
	struct qt_json j;
	char v[256];
	size_t n;
	int ev, x;

	e.ts = T0;
	e.recv = T0 + 7;
	e.session = (struct store_str){"a b/c\"", 6};
	e.user = (struct store_str){"u1", 2};
	e.type = (struct store_str){"click", 5};
	e.target = (struct store_str){"#buy\tnow", 8};
	e.url = (struct store_str){"/p?q=1", 6};
	e.props = (struct store_str){props, sizeof props - 1};
	e.id = (struct store_str){"ev-1", 4};
	e.x = -3;
	e.y = 40;
	e.flags = STORE_HAS_X | STORE_HAS_Y;
	cr_assert_eq(store_append(L.st, &e, 1, NULL), 1);
	add(T0 + 1, "a b/c\"", "", "scroll", "", "", ""); /* optional fields absent */

	qt_get_json(L.port, "/v1/sessions/a%20b%2Fc%22/events", 200, &r, &j);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, 0, "session"), v, sizeof v), "a b/c\"");
	cr_assert(qt_jnull(&j, qt_jget(&j, 0, "after")));
	cr_assert_eq(qt_jlen(&j, qt_jget(&j, 0, "events")), 2);
	ev = qt_jat(&j, qt_jget(&j, 0, "events"), 0);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, ev, "ts")), T0);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, ev, "recv")), T0 + 7);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, ev, "user"), v, sizeof v), "u1");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, ev, "type"), v, sizeof v), "click");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, ev, "target"), v, sizeof v), "#buy\tnow");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, ev, "url"), v, sizeof v), "/p?q=1");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, ev, "id"), v, sizeof v), "ev-1");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, ev, "x")), -3);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, ev, "y")), 40);
	x = qt_jget(&j, ev, "props");
	const char *raw = qt_jraw(&j, x, &n);
	cr_assert_eq(n, sizeof props - 1);
	cr_assert(memcmp(raw, props, n) == 0, "props are byte-exact: %.*s", (int)n, raw);
	ev = qt_jat(&j, qt_jget(&j, 0, "events"), 1);
	static const char *const absent[] = {"user", "target", "url", "x", "y", "props", "id"};
	for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
		cr_assert_eq(qt_jget(&j, ev, absent[i]), -1, "%s should be omitted", absent[i]);
	qt_json_free(&j);
	qt_resp_free(&r);
}

Test(http_reads, replay_errors, .init = start, .fini = stop)
{
	static const struct {
		const char *path;
		int status;
		const char *msg;
	} cases[] = {
	    {"/v1/sessions/nobody/events", 404, "unknown session"},
	    {"/v1/sessions//events", 404, "unknown session"},
	    {"/v1/sessions/s1/events?limit=100001", 400, "limit: at most 100000"},
	    {"/v1/sessions/s1/events?limit=0", 400, "limit: must be an integer"},
	    {"/v1/sessions/s1/events?limit=ten", 400, "limit: must be an integer"},
	    {"/v1/sessions/s1/events?after=abc", 400, "after: not a cursor"},
	    {"/v1/sessions/s1/events?after=5-0", 400, "after: not a cursor"},
	    {"/v1/sessions/s1/events?format=xml", 400, "format: must be"},
	    {"/v1/sessions/s1/events?from=10&to=10", 400, "from must be less than to"},
	};
	struct qt_resp r;
	struct qt_json j;
	char v[256];

	add(T0, "s1", "", "pageview", "/", "", "");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(qt_get(L.port, cases[i].path, &r), 0);
		cr_assert_eq(r.status, cases[i].status, "%s: %d %s", cases[i].path, r.status,
			     r.body);
		qt_error_of(&r, v, sizeof v);
		cr_assert(strstr(v, cases[i].msg), "%s: %s", cases[i].path, v);
		qt_resp_free(&r);
	}
	/* A known session with nothing in the range is an empty page, not a 404. */
	qt_get_json(L.port, "/v1/sessions/s1/events?from=1&to=2", 200, &r, &j);
	cr_assert_eq(qt_jlen(&j, qt_jget(&j, 0, "events")), 0);
	qt_json_free(&j);
	qt_resp_free(&r);
}

/* The "id" of every event of a replay page, appended to ids[*n...]; returns
 * the cursor (malloc'd) or NULL on the last page. */
static char *read_page(const char *path, char (*ids)[16], size_t *n, size_t cap)
{
	struct qt_resp r;
	struct qt_json j;
	char v[64], *after = NULL;
	int evs;

	qt_get_json(L.port, path, 200, &r, &j);
	evs = qt_jget(&j, 0, "events");
	for (int e = qt_jfirst(&j, evs); e >= 0; e = qt_jnext(&j, evs, e)) {
		cr_assert_lt(*n, cap);
		qt_jstr(&j, qt_jget(&j, e, "target"), ids[(*n)++], 16);
	}
	if (!qt_jnull(&j, qt_jget(&j, 0, "after")))
		after = strdup(qt_jstr(&j, qt_jget(&j, 0, "after"), v, sizeof v));
	qt_json_free(&j);
	qt_resp_free(&r);
	return after;
}

/* Appends event number k of session "p": ts T0 + ts_off, target "e<k>". */
static void add_p(int k, int64_t ts_off)
{
	char t[16];
	snprintf(t, sizeof t, "e%d", k);
	add(T0 + ts_off, "p", "", "mousemove", "/", t, "");
}

Test(http_reads, replay_pages_stay_exact_across_equal_timestamps_and_new_arrivals, .init = start,
     .fini = stop)
{
	static char got[200][16], all[200][16];
	size_t ngot = 0, nall = 0;
	char path[128], *after;
	int k = 0, pages = 0;

	/* 30 events, four per timestamp; the first half sealed. */
	for (; k < 15; k++)
		add_p(k, k / 4);
	cr_assert_geq(store_seal_all(L.st), 1);
	for (; k < 30; k++)
		add_p(k, k / 4);
	after = read_page("/v1/sessions/p/events?limit=7", got, &ngot, 200);
	cr_assert_str_eq(after, "1732200000001-3", "7 events: ts 0 x4, ts 1 x3");
	while (after) {
		pages++;
		/* Between pages: one more at the cursor's timestamp, one later. */
		if (pages <= 3) {
			add_p(k++, strtoll(after, NULL, 10) - T0);
			add_p(k++, 100 + pages);
		}
		snprintf(path, sizeof path, "/v1/sessions/p/events?limit=7&after=%s", after);
		free(after);
		after = read_page(path, got, &ngot, 200);
	}
	read_page("/v1/sessions/p/events", all, &nall, 200);
	cr_assert_eq(nall, 36);
	cr_assert_eq(ngot, nall, "pages returned %zu events of %zu", ngot, nall);
	for (size_t i = 0; i < nall; i++)
		cr_assert_str_eq(got[i], all[i], "event %zu", i);
}

Test(http_reads, replay_streams_ndjson_with_the_cursor_in_a_header, .init = start, .fini = stop)
{
	struct qt_resp r;
	char v[64], ct[64];

	for (int k = 0; k < 5; k++)
		add_p(k, k);
	cr_assert_eq(qt_http(L.port, "GET", "/v1/sessions/p/events?limit=3",
			     "Accept: application/x-ndjson\r\n", NULL, 0, &r),
		     0);
	cr_assert_eq(r.status, 200);
	cr_assert(qt_header(&r, "Content-Type", ct, sizeof ct));
	cr_assert_str_eq(ct, "application/x-ndjson");
	cr_assert(qt_header(&r, "X-Spoor-After", v, sizeof v));
	cr_assert_str_eq(v, "1732200000002-1");
	cr_assert(r.chunked, "streamed");
	int lines = 0;
	for (char *line = r.body, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
		struct qt_json j;
		char t[16];
		cr_assert_eq(qt_json_parse(&j, line, (size_t)(nl - line)), 0);
		snprintf(v, sizeof v, "e%d", lines);
		cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, 0, "target"), t, sizeof t), v);
		qt_json_free(&j);
	}
	cr_assert_eq(lines, 3);
	qt_resp_free(&r);
	cr_assert_eq(
	    qt_get(L.port, "/v1/sessions/p/events?format=ndjson&after=1732200000002-1", &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_not(qt_header(&r, "X-Spoor-After", v, sizeof v), "last page: no cursor");
	cr_assert(strncmp(r.body, "{\"ts\":1732200000003,", 20) == 0, "%s", r.body);
	qt_resp_free(&r);
}

/* ---- sessions ------------------------------------------------------------------------------ */

Test(http_reads, sessions_are_listed_newest_first_with_pages, .init = start, .fini = stop)
{
	static const char *const order[] = {"s3", "s1", "s2"};
	struct qt_resp r;
	struct qt_json j;
	char v[64];
	int list, s;

	add(T0, "s1", "alice", "pageview", "/a", "", "");
	add(T0 + 10, "s1", "alice", "pageview", "/b", "", "");
	add(T0 + 20, "s2", "bob", "pageview", "/a", "", "");
	cr_assert_geq(store_seal_all(L.st), 1);
	add(T0 + 30, "s1", "alice", "click", "/a", "#x", ""); /* active, page seen before */
	add(T0 + 40, "s1", "alice", "pageview", "/c", "", "");
	add(T0 + 50, "s3", "alice", "pageview", "/a", "", "");
	add(T0 + 5000000, "s3", "", "scroll", "", "", ""); /* next partition, no url */

	qt_get_json(L.port, "/v1/sessions", 200, &r, &j);
	list = qt_jget(&j, 0, "sessions");
	cr_assert_eq(qt_jlen(&j, list), 3, "%s", r.body);
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(
		    qt_jstr(&j, qt_jget(&j, qt_jat(&j, list, i), "session"), v, sizeof v),
		    order[i]);
	s = qt_jat(&j, list, 1); /* s1 */
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, s, "user"), v, sizeof v), "alice");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "first_ts")), T0);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "last_ts")), T0 + 40);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "events")), 4);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "pages")), 3, "/a /b /c");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, list, 0), "pages")), 1);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, list, 2), "pages")), 1);
	qt_json_free(&j);
	qt_resp_free(&r);

	/* user filter, range and limit */
	qt_get_json(L.port, "/v1/sessions?user=bob", 200, &r, &j);
	list = qt_jget(&j, 0, "sessions");
	cr_assert_eq(qt_jlen(&j, list), 1);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, list, 0), "session"), v, sizeof v),
			 "s2");
	qt_json_free(&j);
	qt_resp_free(&r);
	qt_get_json(L.port, "/v1/sessions?from=1732200000000&to=1732200000035", 200, &r, &j);
	list = qt_jget(&j, 0, "sessions");
	cr_assert_eq(qt_jlen(&j, list), 2);
	s = qt_jat(&j, list, 0);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, s, "session"), v, sizeof v), "s1");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "events")), 3);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "pages")), 2, "/a /b within the range");
	qt_json_free(&j);
	qt_resp_free(&r);
	qt_get_json(L.port, "/v1/sessions?limit=1", 200, &r, &j);
	cr_assert_eq(qt_jlen(&j, qt_jget(&j, 0, "sessions")), 1);
	qt_json_free(&j);
	qt_resp_free(&r);
	cr_assert_eq(qt_get(L.port, "/v1/sessions?limit=10001", &r), 0);
	cr_assert_eq(r.status, 400);
	qt_resp_free(&r);
}

/* ---- series -------------------------------------------------------------------------------- */

#define NEV  3000
#define SPAN (3 * 3600000LL)

Test(http_reads, series_counts_events_and_distinct_sessions_per_bucket, .init = start, .fini = stop)
{
	static const char *const types[] = {"pageview", "click", "scroll"};
	static int64_t ts[NEV];
	static int sess[NEV], type[NEV];
	const int64_t iv = 600000, from = T0 + 123456, to = T0 + SPAN - 77;
	const int64_t b0 = from / iv * iv;
	const size_t nb = (size_t)((to - 1) / iv - from / iv + 1);
	unsigned long long seed = 42;
	uint64_t want[2][64] = {{0}}, wsess[2][64] = {{0}};
	char path[256], name[16];

	cr_assert_leq(nb, 64);
	for (int i = 0; i < NEV; i++) {
		ts[i] = T0 + (int64_t)(tu_rand(&seed) % (unsigned long long)SPAN);
		sess[i] = (int)(tu_rand(&seed) % 40);
		type[i] = (int)(tu_rand(&seed) % 3);
		snprintf(name, sizeof name, "s%d", sess[i]);
		add(ts[i], name, "", types[type[i]], "/", "", "");
		if (i == NEV / 2)
			cr_assert_geq(store_seal_all(L.st), 1);
	}
	/* expected: [0] all types, [1] clicks only */
	for (size_t b = 0; b < nb; b++)
		for (int f = 0; f < 2; f++) {
			uint64_t seen = 0;
			for (int i = 0; i < NEV; i++) {
				if (ts[i] < from || ts[i] >= to || (ts[i] - b0) / iv != (int64_t)b)
					continue;
				if (f == 1 && type[i] != 1)
					continue;
				want[f][b]++;
				if (!(seen & (1ull << sess[i])))
					wsess[f][b]++;
				seen |= 1ull << sess[i];
			}
		}
	for (int f = 0; f < 2; f++) {
		struct qt_resp r;
		struct qt_json j;
		int bk;
		snprintf(path, sizeof path, "/v1/series?from=%lld&to=%lld&interval=10m%s",
			 (long long)from, (long long)to, f ? "&type=click" : "");
		qt_get_json(L.port, path, 200, &r, &j);
		cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "interval_ms")), iv);
		bk = qt_jget(&j, 0, "buckets");
		cr_assert_eq(qt_jlen(&j, bk), nb);
		for (size_t b = 0; b < nb; b++) {
			int o = qt_jat(&j, bk, b);
			cr_assert_eq(qt_jint(&j, qt_jget(&j, o, "ts")), b0 + (int64_t)b * iv);
			cr_assert_eq(qt_jint(&j, qt_jget(&j, o, "count")), (long long)want[f][b],
				     "filter %d bucket %zu", f, b);
			cr_assert_eq(qt_jint(&j, qt_jget(&j, o, "sessions")),
				     (long long)wsess[f][b], "filter %d bucket %zu", f, b);
		}
		qt_json_free(&j);
		qt_resp_free(&r);
	}
}

Test(http_reads, series_fills_empty_buckets_and_checks_its_arguments, .init = start, .fini = stop)
{
	static const struct {
		const char *q, *msg;
	} bad[] = {
	    {"interval=0s", "interval: must be"},
	    {"interval=2d", "interval: must be"},
	    {"interval=1500ms", "interval: must be"},
	    {"interval=1w", "interval: must be"},
	    {"from=0&to=86400000&interval=1s", "too many buckets"},
	    {"from=5&to=5", "from must be less than to"},
	    {"type=", "type: must not be empty"},
	};
	struct qt_resp r;
	struct qt_json j;
	char path[128], v[256];
	int bk;

	add(T0 + 61000, "s1", "", "click", "/x", "#b", "");
	qt_get_json(L.port,
		    "/v1/series?from=1732200000000&to=1732200300000&interval=1m&url=/x&target=%23b",
		    200, &r, &j);
	bk = qt_jget(&j, 0, "buckets");
	cr_assert_eq(qt_jlen(&j, bk), 5);
	for (size_t b = 0; b < 5; b++)
		cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, bk, b), "count")), b == 1, "%zu",
			     b);
	qt_json_free(&j);
	qt_resp_free(&r);
	/* a filter value the store never saw: zeros, not an error */
	qt_get_json(L.port, "/v1/series?from=1732200000000&to=1732200300000&type=nope", 200, &r,
		    &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, qt_jget(&j, 0, "buckets"), 1), "count")),
		     0);
	qt_json_free(&j);
	qt_resp_free(&r);
	/* defaults: the last 24 h by minute */
	qt_get_json(L.port, "/v1/series", 200, &r, &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "interval_ms")), 60000);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "to")) - qt_jint(&j, qt_jget(&j, 0, "from")),
		     86400000);
	cr_assert_geq(qt_jlen(&j, qt_jget(&j, 0, "buckets")), 1440);
	qt_json_free(&j);
	qt_resp_free(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(path, sizeof path, "/v1/series?%s", bad[i].q);
		cr_assert_eq(qt_get(L.port, path, &r), 0);
		cr_assert_eq(r.status, 400, "%s", path);
		cr_assert(strstr(qt_error_of(&r, v, sizeof v), bad[i].msg), "%s: %s", path, v);
		qt_resp_free(&r);
	}
}

/* ---- stats ----------------------------------------------------------------------------------- */

Test(http_reads, stats_count_events_and_distinct_sessions, .init = start, .fini = stop)
{
	struct qt_resp r;
	struct qt_json j;

	add(T0, "s1", "", "pageview", "/", "", "");
	add(T0 + 1, "s2", "", "pageview", "/", "", "");
	cr_assert_geq(store_seal_all(L.st), 1);
	add(T0 + 2, "s1", "", "click", "/", "", "");
	add(T0 + 3600000, "s1", "", "click", "/", "", ""); /* another partition */
	add(T0 + 3600001, "s3", "", "click", "/", "", "");
	qt_get_json(L.port, "/v1/stats", 200, &r, &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "events")), 5, "%s", r.body);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "sessions")), 3);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "partitions")), 2);
	cr_assert_geq(qt_jint(&j, qt_jget(&j, 0, "segments_sealed")), 1);
	cr_assert_geq(qt_jint(&j, qt_jget(&j, 0, "segments_active")), 1);
	cr_assert_gt(qt_jint(&j, qt_jget(&j, 0, "bytes_on_disk")), 0);
	cr_assert_gt(qt_jdbl(&j, qt_jget(&j, 0, "bytes_per_event")), 0);
	cr_assert_leq(qt_jint(&j, qt_jget(&j, 0, "oldest_ts")), T0);
	cr_assert_geq(qt_jint(&j, qt_jget(&j, 0, "newest_ts")), T0 + 3600001);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "problems")), 0);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "duplicates")), 0);
	qt_json_free(&j);
	qt_resp_free(&r);
}
