/*
 * test_dedup.c — a retried event (same session, same client id) is stored
 * once; anything else is never dropped.  Also: invalid events are refused
 * one by one while the rest of their batch is stored.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define T0 1700000000000

static struct store *open_fresh(char *dir, size_t len, const char *tag)
{
	struct store_opts o = {.shards = 4, .partition_ms = 60000, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, len, tag));
	return st_open(dir, &o);
}

/* Appends ev[0..n) and checks each status and the return value. */
static void append_expect(struct store *s, const struct st_ev *ev, size_t n, const int8_t *want)
{
	struct store_event v[16];
	int8_t st[16];
	int ok = 0;
	cr_assert(n <= 16);
	for (size_t i = 0; i < n; i++) {
		v[i] = ev[i].ev;
		ok += want[i] == STORE_OK;
	}
	int rc = store_append(s, v, n, st);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(st[i], want[i], "status[%zu] = %d, want %d", i, st[i], want[i]);
	cr_assert_eq(rc, ok, "store_append = %d, want %d committed", rc, ok);
}

/* Rows per marker (w < 4, k < 64) in a fresh snapshot. */
struct count_arg {
	struct st_seen seen;
	uint32_t nk;
};

static int count_row(void *arg, const struct store_event *ev, const struct st_loc *loc,
		     struct st_scan *sc)
{
	struct count_arg *ca = arg;
	uint32_t w, k;
	if (st_parse_marker(ev->props.p, ev->props.n, &w, &k) || w >= 4 || k >= ca->nk) {
		snprintf(sc->err, sizeof sc->err, "row without a marker");
		return -1;
	}
	st_seen_add(&ca->seen, w, k);
	return 0;
}

static struct count_arg *count_rows_k(struct store *s, uint32_t nk)
{
	struct count_arg *ca = calloc(1, sizeof *ca);
	struct store_snap *snap;
	struct st_scan sc = {0};
	cr_assert_not_null(ca);
	ca->nk = nk;
	cr_assert_eq(st_seen_init(&ca->seen, 4, nk), 0);
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_scan(snap, &sc, count_row, ca), 0, "%s", sc.err);
	store_snap_release(snap);
	return ca;
}

static struct count_arg *count_rows(struct store *s)
{
	return count_rows_k(s, 64);
}

static void count_free(struct count_arg *ca)
{
	st_seen_fini(&ca->seen);
	free(ca);
}

Test(dedup, same_session_and_id_twice_in_one_batch_is_stored_once)
{
	char dir[256];
	struct store *s = open_fresh(dir, sizeof dir, "dup1");
	struct st_ev ev[3];
	st_make_event(&ev[0], "sess-a", T0, 0, 0, "click-1");
	st_make_event(&ev[1], "sess-a", T0 + 5, 0, 1, "click-1"); /* the retry */
	st_make_event(&ev[2], "sess-a", T0 + 6, 0, 2, "click-2");
	const int8_t want[] = {STORE_OK, STORE_DUP, STORE_OK};
	append_expect(s, ev, 3, want);

	struct count_arg *ca = count_rows(s);
	cr_assert_eq(st_seen_get(&ca->seen, 0, 0), 1, "the first copy is kept");
	cr_assert_eq(st_seen_get(&ca->seen, 0, 1), 0, "the duplicate is dropped");
	cr_assert_eq(st_seen_get(&ca->seen, 0, 2), 1);
	count_free(ca);
	struct store_stats stt;
	store_get_stats(s, &stt);
	cr_assert_eq(stt.events, 2);
	cr_assert_eq(stt.duplicates, 1);
	store_close(s);
	tu_rmrf(dir);
}

Test(dedup, same_session_and_id_in_two_batches_is_stored_once)
{
	char dir[256];
	struct store *s = open_fresh(dir, sizeof dir, "dup2");
	struct st_ev ev[2];
	st_make_event(&ev[0], "sess-a", T0, 0, 0, "evt-77");
	st_make_event(&ev[1], "sess-a", T0, 0, 1, "evt-77");
	const int8_t ok[] = {STORE_OK}, dup[] = {STORE_DUP};
	append_expect(s, &ev[0], 1, ok);
	append_expect(s, &ev[1], 1, dup);
	append_expect(s, &ev[1], 1, dup);

	struct count_arg *ca = count_rows(s);
	cr_assert_eq(st_seen_get(&ca->seen, 0, 0), 1);
	cr_assert_eq(st_seen_get(&ca->seen, 0, 1), 0);
	count_free(ca);
	struct store_stats stt;
	store_get_stats(s, &stt);
	cr_assert_eq(stt.duplicates, 2);
	store_close(s);
	tu_rmrf(dir);
}

Test(dedup, retry_after_reopen_is_still_a_duplicate)
{
	char dir[256];
	struct store *s = open_fresh(dir, sizeof dir, "dup3");
	struct st_ev ev[2];
	st_make_event(&ev[0], "sess-a", T0, 0, 0, "evt-1");
	st_make_event(&ev[1], "sess-a", T0, 0, 1, "evt-1");
	const int8_t ok[] = {STORE_OK}, dup[] = {STORE_DUP};
	append_expect(s, &ev[0], 1, ok);
	store_close(s);

	struct store_opts o = {.no_background = 1};
	s = st_open(dir, &o);
	append_expect(s, &ev[1], 1, dup);
	struct count_arg *ca = count_rows(s);
	cr_assert_eq(st_seen_get(&ca->seen, 0, 0), 1);
	cr_assert_eq(st_seen_get(&ca->seen, 0, 1), 0);
	count_free(ca);
	store_close(s);
	tu_rmrf(dir);
}

Test(dedup, same_id_in_different_sessions_is_stored_for_each)
{
	char dir[256];
	struct store *s = open_fresh(dir, sizeof dir, "dup4");
	struct st_ev ev[4];
	/* many sessions, so some share a shard and some do not */
	st_make_event(&ev[0], "sess-a", T0, 0, 0, "same-id");
	st_make_event(&ev[1], "sess-b", T0, 0, 1, "same-id");
	st_make_event(&ev[2], "sess-c", T0, 0, 2, "same-id");
	st_make_event(&ev[3], "sess-d", T0, 0, 3, "same-id");
	const int8_t want[] = {STORE_OK, STORE_OK, STORE_OK, STORE_OK};
	append_expect(s, ev, 4, want);
	append_expect(s, ev, 1, (const int8_t[]){STORE_DUP});

	struct count_arg *ca = count_rows(s);
	for (uint32_t k = 0; k < 4; k++)
		cr_assert_eq(st_seen_get(&ca->seen, 0, k), 1, "session %u", k);
	count_free(ca);
	store_close(s);
	tu_rmrf(dir);
}

Test(dedup, events_without_id_are_never_dropped)
{
	char dir[256];
	struct store *s = open_fresh(dir, sizeof dir, "dup5");
	struct st_ev ev[3];
	/* byte-identical events, no id */
	for (int i = 0; i < 3; i++)
		st_make_event(&ev[i], "sess-a", T0, 0, 0, NULL);
	const int8_t want[] = {STORE_OK, STORE_OK, STORE_OK};
	append_expect(s, ev, 3, want);
	append_expect(s, ev, 3, want);

	struct count_arg *ca = count_rows(s);
	cr_assert_eq(st_seen_get(&ca->seen, 0, 0), 6);
	count_free(ca);
	struct store_stats stt;
	store_get_stats(s, &stt);
	cr_assert_eq(stt.duplicates, 0);
	cr_assert_eq(stt.events, 6);
	store_close(s);
	tu_rmrf(dir);
}

/* Appends v[0..n) in batches of 1..13 events and checks that every status
 * is `want`. */
static void append_all_expect(struct store *s, const struct store_event *v, size_t n, int8_t want)
{
	int8_t st[16];
	for (size_t i = 0, b = 1; i < n; i += b, b = b % 13 + 1) {
		size_t m = n - i < b ? n - i : b;
		int rc = store_append(s, v + i, m, st);
		for (size_t j = 0; j < m; j++)
			cr_assert_eq(st[j], want, "event %zu: status %d, want %d", i + j, st[j], want);
		cr_assert_eq(rc, want == STORE_OK ? (int)m : 0);
	}
}

/* The dedup tables grow by doubling and come from an arena that a store
 * of many one-event sessions exhausts: every retry is still caught, in a
 * session of 1500 ids as in 900 sessions of one, before and after reopen. */
Test(dedup, every_retry_is_caught_in_a_long_session_and_in_many_short_ones)
{
	enum { BIG = 1500, SMALL = 900, N = BIG + SMALL };
	char dir[256], name[32], id[32];
	struct store_opts o = {
	    .shards = 2, .partition_ms = 60000, .seg_rows = 2500, .no_background = 1};
	struct st_ev *ev = calloc(N, sizeof *ev);
	struct store_event *v = calloc(N, sizeof *v);
	cr_assert(ev && v);
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "dupbig"));
	/* the long session's events and the short sessions interleaved */
	for (uint32_t i = 0, b = 0, k = 0; i < N; i++) {
		if ((i % 3 == 2 && k < SMALL) || b == BIG) {
			snprintf(name, sizeof name, "short-%u", k);
			snprintf(id, sizeof id, "%u", k);
			st_make_event(&ev[i], name, T0 + i, 1, k++, id);
		} else {
			snprintf(id, sizeof id, "e%u", b);
			st_make_event(&ev[i], "long-session", T0 + i, 0, b++, id);
		}
		v[i] = ev[i].ev;
	}
	struct store *s = st_open(dir, &o);
	append_all_expect(s, v, N, STORE_OK);
	append_all_expect(s, v, N, STORE_DUP);
	struct store_stats stt;
	store_get_stats(s, &stt);
	cr_assert_eq(stt.duplicates, N);
	struct count_arg *ca = count_rows_k(s, BIG);
	for (uint32_t k = 0; k < BIG; k++)
		cr_assert_eq(st_seen_get(&ca->seen, 0, k), 1, "long session event %u", k);
	for (uint32_t k = 0; k < SMALL; k++)
		cr_assert_eq(st_seen_get(&ca->seen, 1, k), 1, "short session %u", k);
	count_free(ca);
	store_close(s);

	s = st_open(dir, &o);
	append_all_expect(s, v, N, STORE_DUP);
	/* a new id of the long session is still stored */
	st_make_event(&ev[0], "long-session", T0, 2, 0, "e-new");
	append_all_expect(s, &ev[0].ev, 1, STORE_OK);
	store_close(s);
	free(ev);
	free(v);
	tu_rmrf(dir);
}

/* ---- validation ---------------------------------------------------------- */

Test(append, invalid_events_are_refused_one_by_one_and_the_rest_is_stored)
{
	char dir[256];
	struct store *s = open_fresh(dir, sizeof dir, "inval");
	static char big[STORE_MAX_PROPS + 2];
	memset(big, 'a', sizeof big);
	enum { N = 13 };
	struct st_ev *ev = calloc(N, sizeof *ev);
	struct store_event v[N];
	int8_t st[N];
	cr_assert_not_null(ev);
	for (uint32_t k = 0; k < N; k++)
		st_make_event(&ev[k], "sess-a", T0 + k, 0, k, NULL);
	for (uint32_t k = 0; k < N; k++)
		v[k] = ev[k].ev;
	/* k 0 and k 12 stay valid */
	v[1].session.n = 0; /* missing session */
	v[2].session = (struct store_str){big, STORE_MAX_SESSION + 1};
	v[3].type.n = 0; /* missing type */
	v[4].type = (struct store_str){big, STORE_MAX_TYPE + 1};
	v[5].ts = -1;
	v[6].props = (struct store_str){big, STORE_MAX_PROPS + 1};
	v[7].user = (struct store_str){big, STORE_MAX_USER + 1};
	v[8].target = (struct store_str){big, STORE_MAX_TARGET + 1};
	v[9].url = (struct store_str){big, STORE_MAX_URL + 1};
	v[10].id = (struct store_str){big, STORE_MAX_ID + 1};
	v[11].session = (struct store_str){NULL, 0};

	int rc = store_append(s, v, N, st);
	const int8_t want[N] = {STORE_OK, -EINVAL, -E2BIG, -EINVAL, -E2BIG,  -EINVAL, -E2BIG,
				-E2BIG,	  -E2BIG,  -E2BIG, -E2BIG,  -EINVAL, STORE_OK};
	for (int i = 0; i < N; i++)
		cr_assert_eq(st[i], want[i], "event %d: status %d, want %d", i, st[i], want[i]);
	cr_assert_eq(rc, 2);

	struct count_arg *ca = count_rows(s);
	for (uint32_t k = 0; k < N; k++)
		cr_assert_eq(st_seen_get(&ca->seen, 0, k), k == 0 || k == 12 ? 1u : 0u, "k %u", k);
	count_free(ca);
	store_close(s);
	free(ev);
	tu_rmrf(dir);
}
