/*
 * test_session.c — a session's events come back in (ts, arrival) order even
 * when they arrive out of order, span partitions, and straddle sealed and
 * active segments; store_sessions() summarises them.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define T0 1700000000000 /* a partition boundary for 1000 ms partitions */

/* Append order k = index; ts goes backwards across three partitions with
 * ties (2900 x3, 1500 x3, 10 x2). */
static const int64_t replay_ts[] = {2900, 2900, 2500, 1999, 1500, 1500, /* sealed */
				    1000, 999,	10,   2900, 1500, 10};
#define NREPLAY (sizeof replay_ts / sizeof replay_ts[0])

/* The keys k < nk of replay_ts with from <= ts < to (to == 0: none), sorted
 * by (ts, k): the order store_session_events() must return. */
static size_t expected_order(uint32_t nk, int64_t from, int64_t to, uint32_t *out)
{
	size_t n = 0;
	for (uint32_t k = 0; k < nk; k++)
		if (T0 + replay_ts[k] >= from && (to == 0 || T0 + replay_ts[k] < to))
			out[n++] = k;
	for (size_t i = 1; i < n; i++) /* insertion sort, stable */
		for (size_t j = i; j > 0 && replay_ts[out[j - 1]] > replay_ts[out[j]]; j--) {
			uint32_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static void check_replay(struct store *s, uint32_t nk, int64_t from, int64_t to, const char *stage)
{
	uint32_t want[NREPLAY];
	size_t n = expected_order(nk, from, to, want);
	struct store_snap *snap;
	struct store_events *res = NULL;

	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(store_session_events(snap, "replay-me", 9, from, to, &res), 0);
	size_t got = store_events_count(res);
	cr_assert_eq(got, n, "%s [%" PRId64 ", %" PRId64 "): %zu events, want %zu", stage, from, to,
		     got, n);
	for (size_t i = 0; i < n; i++) {
		const struct store_event *e = store_events_at(res, i);
		uint32_t w, k;
		cr_assert_eq(st_parse_marker(e->props.p, e->props.n, &w, &k), 0);
		cr_assert_eq(k, want[i],
			     "%s: event %zu is k %u (ts +%" PRId64 "), want k %u (ts +%" PRId64 ")",
			     stage, i, k, e->ts - T0, want[i], replay_ts[want[i]]);
		cr_assert_eq(e->ts, T0 + replay_ts[k]);
		cr_assert_eq(e->session.n, 9);
		cr_assert_eq(memcmp(e->session.p, "replay-me", 9), 0);
	}
	store_events_free(res);
	store_snap_release(snap);
}

static void append_replay(struct store *s, uint32_t k0, uint32_t k1)
{
	struct st_ev *ev = calloc(2 * (k1 - k0), sizeof *ev);
	size_t n = 0;
	cr_assert_not_null(ev);
	for (uint32_t k = k0; k < k1; k++) {
		st_make_event(&ev[n++], "replay-me", T0 + replay_ts[k], 0, k, NULL);
		/* a neighbour with the same timestamps, in the same batch */
		st_make_event(&ev[n++], "other-session", T0 + replay_ts[k] + 1, 1, k, NULL);
	}
	st_append_ok(s, ev, n);
	free(ev);
}

Test(session, backwards_ts_across_partitions_come_back_sorted_with_ties_in_append_order)
{
	char dir[256];
	struct store_opts o = {.shards = 4, .partition_ms = 1000, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "sess"));
	struct store *s = st_open(dir, &o);

	/* first six one event per batch, then seal, then the rest in one batch */
	for (uint32_t k = 0; k < 6; k++)
		append_replay(s, k, k + 1);
	check_replay(s, 6, 0, 0, "all active");
	cr_assert_geq(store_seal_all(s), 0);
	append_replay(s, 6, NREPLAY);

	check_replay(s, NREPLAY, 0, 0, "sealed + active");
	check_replay(s, NREPLAY, T0 + 1000, T0 + 2500, "sealed + active, bounded");
	check_replay(s, NREPLAY, T0 + 2900, 0, "sealed + active, from the last ts");
	check_replay(s, NREPLAY, T0 + 11, T0 + 999, "sealed + active, no event in range");

	struct store_snap *snap;
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(store_snap_nparts(snap), 3);
	struct store_session_list l = {0};
	cr_assert_eq(store_sessions(snap, NULL, 0, 0, 0, 0, &l), 0);
	cr_assert_eq(l.n, 2);
	/* newest last_ts first: other-session's last is T0 + 2901 */
	cr_assert_eq(l.v[0].session.n, 13);
	cr_assert_eq(memcmp(l.v[0].session.p, "other-session", 13), 0);
	cr_assert_eq(l.v[1].session.n, 9);
	cr_assert_eq(memcmp(l.v[1].session.p, "replay-me", 9), 0);
	cr_assert_eq(l.v[1].first_ts, T0 + 10);
	cr_assert_eq(l.v[1].last_ts, T0 + 2900);
	cr_assert_eq(l.v[1].events, NREPLAY);
	store_session_list_free(&l);
	store_snap_release(snap);

	store_close(s);
	s = st_open(dir, &o);
	check_replay(s, NREPLAY, 0, 0, "reopened");
	cr_assert_geq(store_seal_all(s), 0);
	check_replay(s, NREPLAY, 0, 0, "reopened and all sealed");
	store_close(s);
	tu_rmrf(dir);
}
