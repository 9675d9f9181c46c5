/*
 * test_http_spoord.c — the query API inside the real spoord: events go in
 * through the ingest port (POST /v1/events), answers come from the query
 * port, both read from spoord's start line.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_harness.h"

#define T0 1732200000000LL

static struct qt_spoord S;

static void start(void)
{
	cr_assert_eq(qt_spoord_start(&S, NULL), 0, "spoord did not start");
}

static void start_token(void)
{
	static const char *const args[] = {"--query-token", "tok-123", NULL};
	cr_assert_eq(qt_spoord_start(&S, args), 0, "spoord did not start");
}

static void stop(void)
{
	int running = S.pid != 0;
	int st = qt_spoord_stop(&S);

	if (running)
		cr_assert_eq(st, 0, "spoord exit status");
}

/* A growing JSON array of events for one POST. */
struct batch {
	char *p;
	size_t n, cap;
};

static void batch_add(struct batch *b, int64_t ts, const char *session, const char *user,
		      const char *type, const char *url, const char *target)
{
	char ev[512];
	int k = snprintf(ev, sizeof ev, "%s{\"ts\":%lld,\"session\":\"%s\",\"type\":\"%s\"",
			 b->n ? "," : "[", (long long)ts, session, type);
	if (*user)
		k += snprintf(ev + k, sizeof ev - (size_t)k, ",\"user\":\"%s\"", user);
	if (*url)
		k += snprintf(ev + k, sizeof ev - (size_t)k, ",\"url\":\"%s\"", url);
	if (*target)
		k += snprintf(ev + k, sizeof ev - (size_t)k, ",\"target\":\"%s\"", target);
	k += snprintf(ev + k, sizeof ev - (size_t)k, "}");
	if (b->n + (size_t)k + 2 > b->cap) {
		b->cap = (b->cap + (size_t)k + 2) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert(b->p);
	}
	memcpy(b->p + b->n, ev, (size_t)k);
	b->n += (size_t)k;
}

/* Posts the batch to the ingest port and empties it. */
static void batch_send(struct batch *b, int port)
{
	if (!b->n)
		return;
	b->p[b->n++] = ']';
	cr_assert_eq(qt_ingest(port, b->p, b->n), 200);
	b->n = 0;
}

static void batch_free(struct batch *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Event k of a replay test session: target "e<k>". */
static void add_k(struct batch *b, const char *session, int k, int64_t ts)
{
	char t[16];
	snprintf(t, sizeof t, "e%d", k);
	batch_add(b, ts, session, "", "mousemove", "/", t);
}

Test(http_spoord, token_guards_everything_but_healthz, .init = start_token, .fini = stop)
{
	static const char *const hdr[] = {NULL, "Authorization: Bearer tok-12\r\n",
					  "Authorization: Bearer tok-123\r\n"};
	static const int want[] = {401, 401, 200};
	static const char one[] = "{\"steps\":[{\"type\":\"a\"}],\"window_ms\":1}";
	struct qt_resp r;

	cr_assert_eq(qt_get(S.qport, "/healthz", &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok\n");
	qt_resp_free(&r);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(qt_http(S.qport, "GET", "/v1/stats", hdr[i], NULL, 0, &r), 0);
		cr_assert_eq(r.status, want[i], "case %d: %d", i, r.status);
		qt_resp_free(&r);
		cr_assert_eq(qt_http(S.qport, "POST", "/v1/funnel", hdr[i], one, strlen(one), &r),
			     0);
		cr_assert_eq(r.status, want[i], "case %d: %d", i, r.status);
		qt_resp_free(&r);
	}
}

Test(http_spoord, ingested_events_are_queryable_at_once, .init = start, .fini = stop)
{
	static const char flow[] =
	    "{\"steps\":[{\"type\":\"pageview\",\"url\":\"/\"},{\"type\":\"click\","
	    "\"target\":\"#signup\"},{\"type\":\"signup\"}],\"window_ms\":\"1h\"}";
	struct batch b = {0};
	struct qt_resp r;
	struct qt_json j;
	char v[64];
	int steps, list;

	/* the funnel of the API example: two sessions, one converts */
	batch_add(&b, T0, "s1", "u1", "pageview", "/", "");
	batch_add(&b, T0 + 1000, "s1", "u1", "click", "/", "#signup");
	batch_add(&b, T0 + 5000, "s1", "u1", "signup", "/welcome", "");
	batch_add(&b, T0 + 100, "s2", "u2", "pageview", "/", "");
	batch_add(&b, T0 + 200, "s2", "u2", "click", "/", "#other");
	batch_send(&b, S.port);
	batch_free(&b);

	cr_assert_eq(qt_http(S.qport, "POST", "/v1/funnel", NULL, flow, strlen(flow), &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(qt_json_parse(&j, r.body, r.len), 0);
	steps = qt_jget(&j, 0, "steps");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, 0), "count")), 2);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, 1), "count")), 1);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, 2), "count")), 1);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, 2), "median_ms_from_prev")), 4000);
	qt_json_free(&j);
	qt_resp_free(&r);

	qt_get_json(S.qport, "/v1/sessions?user=u1", 200, &r, &j);
	list = qt_jget(&j, 0, "sessions");
	cr_assert_eq(qt_jlen(&j, list), 1);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, list, 0), "session"), v, sizeof v),
			 "s1");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, list, 0), "pages")), 2);
	qt_json_free(&j);
	qt_resp_free(&r);

	qt_get_json(S.qport, "/v1/sessions/s2/events", 200, &r, &j);
	cr_assert_eq(qt_jlen(&j, qt_jget(&j, 0, "events")), 2);
	qt_json_free(&j);
	qt_resp_free(&r);

	qt_get_json(S.qport, "/v1/stats", 200, &r, &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "events")), 5);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "sessions")), 2);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "partitions")), 1);
	qt_json_free(&j);
	qt_resp_free(&r);

	cr_assert_eq(qt_get(S.qport, "/metrics", &r), 0);
	cr_assert(
	    strstr(r.body, "spoord_query_requests_total{endpoint=\"funnel\",status=\"200\"} 1"),
	    "%s", r.body);
	qt_resp_free(&r);
}

/* Reads replay pages of `session` (limit per page) as NDJSON, following
 * X-Spoor-After, calling between(page) after each page but the last.
 * Returns the targets' numbers in order in *out (malloc'd), count in *n. */
static void read_ndjson_pages(const char *session, int limit,
			      void (*between)(int page, const char *after), int **out, size_t *n,
			      int *pages)
{
	char path[256], after[64] = "";
	size_t cap = 1024;

	*n = 0;
	*pages = 0;
	*out = malloc(cap * sizeof **out);
	for (;;) {
		struct qt_resp r;
		snprintf(path, sizeof path, "/v1/sessions/%s/events?limit=%d%s%s", session, limit,
			 after[0] ? "&after=" : "", after);
		cr_assert_eq(
		    qt_http(S.qport, "GET", path, "Accept: application/x-ndjson\r\n", NULL, 0, &r),
		    0);
		cr_assert_eq(r.status, 200, "%s", r.body);
		(*pages)++;
		for (char *line = r.body, *nl;
		     (nl = memchr(line, '\n', (size_t)(r.body + r.len - line))); line = nl + 1) {
			/* memmem, not strstr: ASan's strstr measures the whole rest */
			char *t = memmem(line, (size_t)(nl - line), "\"target\":\"e", 11);
			if (!t)
				cr_assert_fail("no target: %.*s", (int)(nl - line), line);
			if (*n == cap)
				*out = realloc(*out, (cap *= 2) * sizeof **out);
			(*out)[(*n)++] = atoi(t + 11);
		}
		if (!qt_header(&r, "X-Spoor-After", after, sizeof after)) {
			qt_resp_free(&r);
			break;
		}
		qt_resp_free(&r);
		if (between)
			between(*pages, after);
	}
}

Test(http_spoord, ndjson_pages_return_a_large_session_exactly, .init = start, .fini = stop,
     .timeout = 120)
{
	const int total = 25000;
	struct batch b = {0};
	int *got, pages, k;
	size_t n;

	/* seven events per millisecond: pages end inside runs of equal ts */
	for (k = 0; k < total; k++) {
		add_k(&b, "big", k, T0 + k / 7);
		if (k % 2500 == 2499)
			batch_send(&b, S.port);
	}
	batch_free(&b);
	read_ndjson_pages("big", 10000, NULL, &got, &n, &pages);
	cr_assert_eq(pages, 3);
	cr_assert_eq(n, (size_t)total);
	for (k = 0; k < total && got[k] == k; k++)
		;
	cr_assert_eq(k, total, "position %d holds e%d", k, k < total ? got[k] : -1);
	free(got);
}

static int page_next; /* next event number of session "pg" */

/* Between pages: an event stamped like the page's last one (the cursor's
 * timestamp), and a later one. */
static void ingest_between(int page, const char *after)
{
	struct batch b = {0};

	add_k(&b, "pg", page_next, strtoll(after, NULL, 10));
	page_next++;
	add_k(&b, "pg", page_next, T0 + 1000 + page);
	page_next++;
	batch_send(&b, S.port);
	batch_free(&b);
}

Test(http_spoord, replay_pages_miss_nothing_when_events_arrive_between_pages, .init = start,
     .fini = stop)
{
	struct batch b = {0};
	int *got, pages;
	size_t n;

	for (page_next = 0; page_next < 50; page_next++)
		add_k(&b, "pg", page_next, T0 + page_next / 5);
	batch_send(&b, S.port);
	batch_free(&b);
	read_ndjson_pages("pg", 8, ingest_between, &got, &n, &pages);
	cr_assert_geq(pages, 7);
	/* Whatever arrived while paging is in the pages, once each.  The final
	 * order is the one a single read gives now. */
	int *all, allpages;
	size_t nall;
	read_ndjson_pages("pg", 100000, NULL, &all, &nall, &allpages);
	cr_assert_eq(nall, (size_t)page_next);
	cr_assert_eq(n, nall, "paged %zu of %zu", n, nall);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], all[i], "position %zu", i);
	free(got);
	free(all);
}

Test(http_spoord, series_and_sessions_match_what_was_sent, .init = start, .fini = stop)
{
	static const char *const users[] = {"ann", "ben", "cid"};
	static int64_t ts[600];
	static int sess[600];
	const int64_t iv = 60000, from = T0, to = T0 + 30 * iv;
	uint64_t want[30] = {0}, wsess[30] = {0};
	struct batch b = {0};
	unsigned long long seed = 7;
	struct qt_resp r;
	struct qt_json j;
	char name[16], v[64];
	int bk, list;

	for (int i = 0; i < 600; i++) {
		ts[i] = T0 +
			(int64_t)((seed = seed * 6364136223846793005ull + 1442695040888963407ull) >>
				  33) %
			    (30 * iv);
		sess[i] = (int)((seed >> 20) % 12);
		snprintf(name, sizeof name, "s%d", sess[i]);
		batch_add(&b, ts[i], name, users[sess[i] % 3], "click", "/", "");
	}
	batch_send(&b, S.port);
	batch_free(&b);
	for (int k = 0; k < 30; k++) {
		unsigned seen = 0;
		for (int i = 0; i < 600; i++)
			if ((ts[i] - T0) / iv == k) {
				want[k]++;
				if (!(seen & (1u << sess[i])))
					wsess[k]++;
				seen |= 1u << sess[i];
			}
	}
	char path[160];
	snprintf(path, sizeof path, "/v1/series?type=click&from=%lld&to=%lld&interval=1m",
		 (long long)from, (long long)to);
	qt_get_json(S.qport, path, 200, &r, &j);
	bk = qt_jget(&j, 0, "buckets");
	cr_assert_eq(qt_jlen(&j, bk), 30);
	for (int k = 0; k < 30; k++) {
		int o = qt_jat(&j, bk, (size_t)k);
		cr_assert_eq(qt_jint(&j, qt_jget(&j, o, "count")), (long long)want[k], "bucket %d",
			     k);
		cr_assert_eq(qt_jint(&j, qt_jget(&j, o, "sessions")), (long long)wsess[k],
			     "bucket %d", k);
	}
	qt_json_free(&j);
	qt_resp_free(&r);

	qt_get_json(S.qport, "/v1/sessions?user=ben", 200, &r, &j);
	list = qt_jget(&j, 0, "sessions");
	cr_assert_eq(qt_jlen(&j, list), 4, "s1 s4 s7 s10");
	long long prev = -1;
	for (int s = qt_jfirst(&j, list); s >= 0; s = qt_jnext(&j, list, s)) {
		long long last = qt_jint(&j, qt_jget(&j, s, "last_ts"));
		int id = atoi(qt_jstr(&j, qt_jget(&j, s, "session"), v, sizeof v) + 1);
		int64_t wlast = -1;
		for (int i = 0; i < 600; i++)
			if (sess[i] == id && ts[i] > wlast)
				wlast = ts[i];
		cr_assert_eq(id % 3, 1);
		cr_assert_eq(last, wlast);
		cr_assert(prev < 0 || last <= prev, "newest first");
		prev = last;
	}
	qt_json_free(&j);
	qt_resp_free(&r);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

#define LIVE_BATCHES   40
#define LIVE_PER_BATCH 50

static int live_done, live_failed;

/* Sends LIVE_BATCHES batches of session "live", three events per ms, in
 * order (no Criterion assertion here: this is not the test's thread). */
static void *ingester(void *arg)
{
	char *body = malloc(LIVE_PER_BATCH * 128);
	int k = 0;

	(void)arg;
	for (int i = 0; i < LIVE_BATCHES && body; i++) {
		size_t n = 0;
		for (int e = 0; e < LIVE_PER_BATCH; e++, k++)
			n +=
			    (size_t)sprintf(body + n,
					    "%s{\"ts\":%lld,\"session\":\"live\",\"type\":\"move\","
					    "\"target\":\"e%d\"}",
					    e ? "," : "[", T0 + k / 3, k);
		body[n++] = ']';
		if (qt_ingest(S.port, body, n) != 200)
			__atomic_store_n(&live_failed, 1, __ATOMIC_RELAXED);
	}
	if (!body)
		__atomic_store_n(&live_failed, 1, __ATOMIC_RELAXED);
	free(body);
	__atomic_store_n(&live_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Reads the whole of session "live" and checks it is e0, e1, ... e(n-1).
 * Returns n (0 while the session is unknown). */
static int read_live(void)
{
	struct qt_resp r;
	int n = 0;

	cr_assert_eq(qt_get(S.qport, "/v1/sessions/live/events?format=ndjson&limit=100000", &r), 0);
	if (r.status == 404) {
		qt_resp_free(&r);
		return 0;
	}
	cr_assert_eq(r.status, 200);
	for (char *line = r.body, *nl; (nl = memchr(line, '\n', (size_t)(r.body + r.len - line)));
	     line = nl + 1, n++) {
		char *t = memmem(line, (size_t)(nl - line), "\"target\":\"e", 11);
		if (!t || atoi(t + 11) != n)
			cr_assert_fail("a gap or a reordering at %d: %.*s", n, (int)(nl - line),
				       line);
	}
	qt_resp_free(&r);
	return n;
}

Test(http_spoord, replay_during_ingest_always_shows_a_prefix, .init = start, .fini = stop,
     .timeout = 120)
{
	const int total = LIVE_BATCHES * LIVE_PER_BATCH;
	int last = 0, reads = 0, grew = 0, n;
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, ingester, NULL), 0);
	while (!__atomic_load_n(&live_done, __ATOMIC_ACQUIRE) && reads < 100000) {
		n = read_live();
		cr_assert_geq(n, last, "a later read shows less");
		grew += n > last && n < total;
		last = n;
		reads++;
	}
	pthread_join(th, NULL);
	cr_assert_not(live_failed, "ingest failed");
	cr_assert_eq(read_live(), total);
	cr_log_info("%d reads, %d saw a partial session", reads, grew);
}
