/*
 * test_roundtrip.c — what goes in comes back: every column of every event,
 * from two writer threads, across many partitions, shards and segment
 * rollovers; before sealing, after sealing, after reopening; sealed order;
 * store_session_events() order and bounds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define RT_WRITERS 2
#define RT_EVENTS  3000 /* per writer */
#define RT_PART_MS 1000

static const struct st_gen rt_gen = {
    .ts0 = 1700000000000,
    .ts_step = 100,
    .ts_slots = 80, /* 8 partitions */
    .nsessions = 40,
    .ids = ST_ID_SOMETIMES,
    .big_every = 97,
    .pad_max = 120,
};

struct writer {
	struct store *s;
	const struct st_gen *gen;
	uint32_t w, n;
	int maintain; /* no sealer thread: call store_maintain() when busy */
	unsigned long long rng;
	char err[256]; /* "" when every append was acknowledged */
};

/* Appends keys (w, 0..n-1) in batches of 1..32 events. */
static void *writer_main(void *arg)
{
	struct writer *wr = arg;
	struct st_ev *ev = malloc(32 * sizeof *ev);
	struct store_event v[32];

	wr->err[0] = '\0';
	for (uint32_t k = 0; ev && k < wr->n;) {
		uint32_t b = 1 + (uint32_t)(tu_rand(&wr->rng) % 32);
		if (b > wr->n - k)
			b = wr->n - k;
		for (uint32_t i = 0; i < b; i++) {
			st_gen_event(wr->gen, wr->w, k + i, &ev[i]);
			v[i] = ev[i].ev;
		}
		if (st_append_all(wr->s, v, b, wr->maintain, wr->err, sizeof wr->err))
			goto out;
		k += b;
	}
out:
	free(ev);
	return NULL;
}

static void run_writers(struct store *s, const struct st_gen *g, uint32_t nw, uint32_t n)
{
	struct store_opts o;
	store_get_opts(s, &o);
	pthread_t th[8];
	struct writer wr[8];
	cr_assert(nw <= 8);
	for (uint32_t w = 0; w < nw; w++) {
		wr[w] = (struct writer){.s = s,
					.gen = g,
					.w = w,
					.n = n,
					.maintain = o.no_background,
					.rng = 1234567 + w};
		cr_assert_eq(pthread_create(&th[w], NULL, writer_main, &wr[w]), 0);
	}
	for (uint32_t w = 0; w < nw; w++)
		pthread_join(th[w], NULL);
	for (uint32_t w = 0; w < nw; w++)
		cr_assert_str_empty(wr[w].err, "%s", wr[w].err);
}

/* Takes a snapshot and checks that it holds exactly keys (w < nw, k < n),
 * each once, every column equal.  Returns the scan's result counters. */
static struct st_scan verify_exact(struct store *s, const struct st_gen *g, uint32_t nw, uint32_t n,
				   const char *stage)
{
	struct store_snap *snap = NULL;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = RT_PART_MS};
	const struct st_gen *gens[] = {g};

	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, nw, n), 0);
	int rc = st_verify(snap, gens, 1, &seen, &sc);
	cr_assert_eq(rc, 0, "%s: %s", stage, sc.err);
	for (uint32_t w = 0; w < nw; w++)
		for (uint32_t k = 0; k < n; k++)
			cr_assert_eq(st_seen_get(&seen, w, k), 1,
				     "%s: event (w %u, k %u) seen %u times, want 1", stage, w, k,
				     st_seen_get(&seen, w, k));
	cr_assert_eq(sc.rows, (uint64_t)nw * n, "%s: %" PRIu64 " rows, want %u", stage, sc.rows,
		     nw * n);
	cr_assert_eq(store_snap_nshards(snap), 4);
	cr_assert_eq(store_snap_nparts(snap), 8, "%s: %zu partitions, want 8", stage,
		     store_snap_nparts(snap));
	store_snap_release(snap);
	st_seen_fini(&seen);

	struct store_stats stt;
	store_get_stats(s, &stt);
	cr_assert_eq(stt.events, (uint64_t)nw * n, "%s: stats.events %" PRIu64 ", want %u", stage,
		     stt.events, nw * n);
	cr_assert_eq(stt.partitions, 8, "%s: stats.partitions %" PRIu64, stage, stt.partitions);
	return sc;
}

/* Per key: session number and ts, for the session checks. */
struct key_info {
	uint32_t sess;
	int64_t ts;
};

static struct key_info *key_infos(const struct st_gen *g, uint32_t nw, uint32_t n)
{
	struct key_info *ki = calloc((size_t)nw * n, sizeof *ki);
	struct st_ev *ev = malloc(sizeof *ev);
	char name[STORE_MAX_SESSION];
	cr_assert(ki && ev);
	for (uint32_t w = 0; w < nw; w++)
		for (uint32_t k = 0; k < n; k++) {
			st_gen_event(g, w, k, ev);
			struct key_info *x = &ki[(size_t)w * n + k];
			x->ts = ev->ev.ts;
			for (x->sess = 0; x->sess < g->nsessions; x->sess++) {
				size_t len = st_session_name(x->sess, name);
				if (len == ev->ev.session.n && !memcmp(name, ev->ev.session.p, len))
					break;
			}
			cr_assert(x->sess < g->nsessions);
		}
	free(ev);
	return ki;
}

/* store_session_events() of every session, whole and bounded: exactly the
 * session's events in [from, to), sorted by ts, ties in append order. */
static void verify_sessions(struct store *s, const struct st_gen *g, const struct key_info *ki,
			    uint32_t nw, uint32_t n, const char *stage)
{
	struct store_snap *snap = NULL;
	struct st_ev *want = malloc(sizeof *want);
	const int64_t bounds[][2] = {{0, 0}, {g->ts0 + 1500, g->ts0 + 5500}, {g->ts0 + 700, 0}};
	char why[256];

	cr_assert_not_null(want);
	cr_assert_eq(store_snap_take(s, &snap), 0);
	for (uint32_t sess = 0; sess < g->nsessions; sess++) {
		char name[STORE_MAX_SESSION];
		size_t len = st_session_name(sess, name);
		for (size_t bi = 0; bi < sizeof bounds / sizeof bounds[0]; bi++) {
			int64_t from = bounds[bi][0], to = bounds[bi][1];
			size_t expect = 0;
			for (size_t i = 0; i < (size_t)nw * n; i++)
				if (ki[i].sess == sess && ki[i].ts >= from &&
				    (to == 0 || ki[i].ts < to))
					expect++;
			struct store_events *res = NULL;
			int rc = store_session_events(snap, name, len, from, to, &res);
			cr_assert_eq(rc, 0, "%s: store_session_events = %d", stage, rc);
			size_t got = store_events_count(res);
			cr_assert_eq(got, expect,
				     "%s: session %u [%" PRId64 ", %" PRId64
				     "): %zu events, want %zu",
				     stage, sess, from, to, got, expect);
			int64_t prev_ts = INT64_MIN;
			uint32_t prev_w = UINT32_MAX, prev_k = 0;
			for (size_t i = 0; i < got; i++) {
				const struct store_event *e = store_events_at(res, i);
				uint32_t w, k;
				cr_assert_eq(st_parse_marker(e->props.p, e->props.n, &w, &k), 0);
				cr_assert(w < nw && k < n);
				st_gen_event(g, w, k, want);
				cr_assert(st_event_eq(&want->ev, e, why, sizeof why),
					  "%s: session %u event %zu (w %u k %u): %s", stage, sess,
					  i, w, k, why);
				cr_assert(e->ts >= from && (to == 0 || e->ts < to));
				cr_assert_geq(e->ts, prev_ts,
					      "%s: session %u: ts %" PRId64 " after %" PRId64,
					      stage, sess, e->ts, prev_ts);
				if (e->ts == prev_ts && w == prev_w)
					cr_assert_gt(k, prev_k,
						     "%s: session %u: tie at ts %" PRId64
						     ": writer %u's k %u after k %u (append order)",
						     stage, sess, e->ts, w, k, prev_k);
				prev_ts = e->ts;
				prev_w = w;
				prev_k = k;
			}
			store_events_free(res);
		}
	}
	struct store_events *none = NULL;
	cr_assert_eq(store_session_events(snap, "no-such-session", 15, 0, 0, &none), 0);
	cr_assert_eq(store_events_count(none), 0);
	store_events_free(none);
	store_snap_release(snap);
	free(want);
}

Test(roundtrip, two_writers_read_back_every_column_before_and_after_seal_and_reopen)
{
	char dir[256];
	struct store_opts o = {
	    .shards = 4, .partition_ms = RT_PART_MS, .seg_rows = 100, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "rt"));

	struct store *s = st_open(dir, &o);
	run_writers(s, &rt_gen, RT_WRITERS, RT_EVENTS);
	struct key_info *ki = key_infos(&rt_gen, RT_WRITERS, RT_EVENTS);

	struct st_scan sc = verify_exact(s, &rt_gen, RT_WRITERS, RT_EVENTS, "before seal");
	/* 6000 rows over 32 (partition, shard) pairs with 100 rows a segment */
	cr_assert_gt(sc.segs, 32, "segments never rolled over: %" PRIu64 " segments", sc.segs);
	verify_sessions(s, &rt_gen, ki, RT_WRITERS, RT_EVENTS, "before seal");

	cr_assert_geq(store_seal_all(s), 0);
	sc = verify_exact(s, &rt_gen, RT_WRITERS, RT_EVENTS, "after seal_all");
	cr_assert_eq(sc.sealed_segs, sc.segs,
		     "after seal_all: %" PRIu64 " of %" PRIu64 " segments sealed", sc.sealed_segs,
		     sc.segs);
	verify_sessions(s, &rt_gen, ki, RT_WRITERS, RT_EVENTS, "after seal_all");
	store_close(s);

	s = st_open(dir, &o);
	const char *const *msgs;
	cr_assert_eq(store_problems(s, &msgs), 0, "problems after a clean close: %s",
		     store_problems(s, &msgs) ? msgs[0] : "");
	verify_exact(s, &rt_gen, RT_WRITERS, RT_EVENTS, "after reopen");
	verify_sessions(s, &rt_gen, ki, RT_WRITERS, RT_EVENTS, "after reopen");
	struct store_opts got;
	store_get_opts(s, &got);
	cr_assert_eq(got.shards, 4);
	cr_assert_eq(got.partition_ms, RT_PART_MS);
	store_close(s);

	free(ki);
	tu_rmrf(dir);
}

Test(roundtrip, unsealed_active_segments_survive_close_and_reopen)
{
	char dir[256];
	struct store_opts o = {
	    .shards = 4, .partition_ms = RT_PART_MS, .seg_rows = 100000, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "rtact"));

	struct store *s = st_open(dir, &o);
	run_writers(s, &rt_gen, RT_WRITERS, 1000);
	store_close(s);

	s = st_open(dir, &o);
	struct st_scan sc = verify_exact(s, &rt_gen, RT_WRITERS, 1000, "reopened active");
	cr_assert_eq(sc.sealed_segs, 0, "close sealed %" PRIu64 " segments (it seals nothing)",
		     sc.sealed_segs);
	/* appends go on after the reopen, into the recovered segments */
	struct st_ev *ev = malloc(sizeof *ev);
	cr_assert_not_null(ev);
	for (uint32_t k = 0; k < 50; k++) {
		st_gen_event(&rt_gen, 2, k, ev);
		st_append_ok(s, ev, 1);
	}
	store_close(s);
	free(ev);

	struct store_opts ro = o;
	ro.read_only = 1;
	s = st_open(dir, &ro);
	struct store_snap *snap;
	struct st_seen seen;
	const struct st_gen *gens[] = {&rt_gen};
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 3, 1000), 0);
	cr_assert_eq(st_verify(snap, gens, 1, &seen, &sc), 0, "read-only reopen: %s", sc.err);
	cr_assert_eq(sc.rows, 2050, "read-only reopen: %" PRIu64 " rows, want 2050", sc.rows);
	for (uint32_t k = 0; k < 50; k++)
		cr_assert_eq(st_seen_get(&seen, 2, k), 1);
	store_snap_release(snap);
	st_seen_fini(&seen);
	store_close(s);
	tu_rmrf(dir);
}

Test(roundtrip, sealer_thread_and_lru_eviction_lose_nothing)
{
	char dir[256];
	/* 32 (partition, shard) pairs but only 4 open active segments: appends
	 * keep evicting, and the sealer thread seals while the writers run. */
	struct store_opts o = {.shards = 4,
			       .partition_ms = RT_PART_MS,
			       .seg_rows = 150,
			       .max_active = 4,
			       .idle_seal_ms = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "rtlru"));

	struct store *s = st_open(dir, &o);
	run_writers(s, &rt_gen, RT_WRITERS, 2000);
	verify_exact(s, &rt_gen, RT_WRITERS, 2000, "with sealer running");
	store_close(s);

	o.no_background = 1;
	s = st_open(dir, &o);
	verify_exact(s, &rt_gen, RT_WRITERS, 2000, "after reopen");
	store_close(s);
	tu_rmrf(dir);
}

/* A segment whose dictionary outgrows 16-bit ids (more than 65,536 distinct
 * strings) is sealed with varint ids instead of u16 ones: every url must
 * still come back, in every session, before and after the seal. */
#define BIG_SESSIONS 100
#define BIG_PER	     700 /* 70,000 events, each with its own url and target */

static void verify_big_dict(struct store *s, const char *stage)
{
	struct store_snap *snap = NULL;
	cr_assert_eq(store_snap_take(s, &snap), 0);
	for (uint32_t sess = 0; sess < BIG_SESSIONS; sess++) {
		char name[32], want[48];
		struct store_events *res = NULL;
		snprintf(name, sizeof name, "big-%u", sess);
		cr_assert_eq(store_session_events(snap, name, strlen(name), 0, 0, &res), 0);
		cr_assert_eq(store_events_count(res), BIG_PER, "%s: session %u: %zu events", stage,
			     sess, store_events_count(res));
		for (size_t i = 0; i < BIG_PER; i++) {
			const struct store_event *e = store_events_at(res, i);
			uint32_t w, k;
			cr_assert_eq(st_parse_marker(e->props.p, e->props.n, &w, &k), 0);
			cr_assert_eq(w, sess);
			cr_assert_eq(k, i, "%s: session %u: event %zu is k %u", stage, sess, i, k);
			int n = snprintf(want, sizeof want, "/page/%u/%u", sess, k);
			cr_assert(e->url.n == (uint32_t)n && memcmp(e->url.p, want, (size_t)n) == 0,
				  "%s: session %u event %zu: url %.*s, want %s", stage, sess, i,
				  (int)e->url.n, e->url.p, want);
			n = snprintf(want, sizeof want, "#t%u", (sess * BIG_PER + k) % 40000);
			cr_assert(e->target.n == (uint32_t)n &&
				      memcmp(e->target.p, want, (size_t)n) == 0,
				  "%s: session %u event %zu: target %.*s, want %s", stage, sess, i,
				  (int)e->target.n, e->target.p, want);
		}
		store_events_free(res);
	}
	store_snap_release(snap);
}

Test(roundtrip, dictionary_beyond_16_bit_ids_seals_and_reads_back)
{
	char dir[256], url[48], target[24];
	struct store_opts o = {
	    .shards = 1, .partition_ms = 3600000, .seg_rows = 200000, .no_background = 1};
	/* seg_rows 200,000 allows 100,000 dictionary entries a segment: the first
	 * segment seals with varint ids, the one it rolls over into with u16. */
	struct st_ev *ev = malloc(sizeof *ev);
	cr_assert_not_null(ev);
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "rtbig"));

	struct store *s = st_open(dir, &o);
	for (uint32_t k = 0; k < BIG_PER; k++)
		for (uint32_t sess = 0; sess < BIG_SESSIONS; sess++) {
			char name[32];
			snprintf(name, sizeof name, "big-%u", sess);
			st_make_event(ev, name, 1700000000000 + k * 10, sess, k, NULL);
			int n = snprintf(url, sizeof url, "/page/%u/%u", sess, k);
			memcpy(ev->url, url, (size_t)n);
			ev->ev.url = (struct store_str){ev->url, (uint32_t)n};
			n = snprintf(target, sizeof target, "#t%u", (sess * BIG_PER + k) % 40000);
			memcpy(ev->target, target, (size_t)n);
			ev->ev.target = (struct store_str){ev->target, (uint32_t)n};
			st_append_ok(s, ev, 1);
		}
	verify_big_dict(s, "active");
	cr_assert_geq(store_seal_all(s), 1);
	verify_big_dict(s, "sealed");
	store_close(s);
	s = st_open(dir, &o);
	verify_big_dict(s, "reopened");
	store_close(s);
	free(ev);
	tu_rmrf(dir);
}
