/*
 * test_retention.c — partitions older than retention_ms disappear from new
 * snapshots and from disk, while a snapshot taken before keeps reading them.
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

#define RE_PART_MS   1000
#define RE_RETENTION 60000

/*
 * Three partitions relative to base, a partition boundary 30 s ago: w 0 at
 * base (sealed), w 1 at base + 1 s (active), w 2 at base + 100 s.  Appends
 * are within the retention window of the wall clock (the store may refuse
 * older ones).  store_maintain() is then told it is 65 s later: its cutoff
 * (~now + 5 s) is long past the end of the first two partitions and long
 * before the start of the third, so seconds of slowness change nothing.
 */
static struct st_gen re_gen(int64_t start)
{
	struct st_gen g = {.ts0 = start,
			   .ts_step = 10,
			   .ts_slots = 100,
			   .nsessions = 15,
			   .ids = ST_ID_SOMETIMES,
			   .pad_max = 100};
	return g;
}

static void check_exact(struct store_snap *snap, const struct st_gen *const *gens,
			const uint32_t *want_n, const char *stage)
{
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = RE_PART_MS};
	cr_assert_eq(st_seen_init(&seen, 3, 200), 0);
	cr_assert_eq(st_verify(snap, gens, 3, &seen, &sc), 0, "%s: %s", stage, sc.err);
	for (uint32_t w = 0; w < 3; w++)
		for (uint32_t k = 0; k < 200; k++)
			cr_assert_eq(st_seen_get(&seen, w, k), k < want_n[w] ? 1u : 0u,
				     "%s: event (%u, %u) seen %u times", stage, w, k,
				     st_seen_get(&seen, w, k));
	st_seen_fini(&seen);
}

Test(retention, old_partitions_leave_new_snapshots_but_old_snapshots_keep_them)
{
	char dir[256];
	struct store_opts o = {.shards = 2,
			       .partition_ms = RE_PART_MS,
			       .retention_ms = RE_RETENTION,
			       .no_background = 1};
	int64_t now = st_now_ms();
	int64_t base = (now - 30000) / RE_PART_MS * RE_PART_MS;
	struct st_gen g0 = re_gen(base), g1 = re_gen(base + 1000), g2 = re_gen(base + 100000);
	const struct st_gen *gens[] = {&g0, &g1, &g2};
	struct st_ev *ev = malloc(sizeof *ev);
	cr_assert_not_null(ev);
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "ret"));

	struct store *s = st_open(dir, &o);
	for (uint32_t w = 0; w < 3; w++) {
		for (uint32_t k = 0; k < 200; k++) {
			st_gen_event(gens[w], w, k, ev);
			st_append_ok(s, ev, 1);
		}
		if (w == 0)
			cr_assert_geq(store_seal_all(s), 0);
	}
	const uint32_t all[] = {200, 200, 200}, kept[] = {0, 0, 200};

	/* an event older than the retention window is refused */
	struct store_event old = ev->ev;
	int8_t st = 99;
	old.ts = now - 2 * RE_RETENTION;
	cr_assert_eq(store_append(s, &old, 1, &st), 0);
	cr_assert_eq(st, -EINVAL, "status %d for an event older than retention, want -EINVAL", st);

	struct store_snap *before;
	cr_assert_eq(store_snap_take(s, &before), 0);
	cr_assert_eq(store_snap_nparts(before), 3);

	int rc = store_maintain(s, now + 65000);
	cr_assert_geq(rc, 2, "store_maintain = %d, want >= 2 (two partitions dropped)", rc);

	struct store_snap *after;
	cr_assert_eq(store_snap_take(s, &after), 0);
	cr_assert_eq(store_snap_nparts(after), 1, "%zu partitions after retention, want 1",
		     store_snap_nparts(after));
	cr_assert_eq(store_snap_part_start(after, 0), base + 100000);
	check_exact(after, gens, kept, "new snapshot");
	check_exact(before, gens, all, "snapshot taken before retention");
	store_snap_release(after);

	/* the old snapshot still reads after another round and a seal */
	cr_assert_geq(store_maintain(s, now + 65000), 0);
	cr_assert_geq(store_seal_all(s), 0);
	check_exact(before, gens, all, "old snapshot, later");
	store_snap_release(before);

	struct store_stats stt;
	store_get_stats(s, &stt);
	cr_assert_eq(stt.partitions, 1);
	cr_assert_eq(stt.events, 200);
	store_close(s);

	/* gone from disk too: a reopen does not bring them back */
	o.retention_ms = 0;
	s = st_open(dir, &o);
	cr_assert_eq(store_snap_take(s, &after), 0);
	cr_assert_eq(store_snap_nparts(after), 1);
	check_exact(after, gens, kept, "reopened");
	store_snap_release(after);
	store_close(s);
	char *paths[64];
	int n = st_find_files(dir, "", paths, 64);
	int m = n < 64 ? n : 64;
	for (int i = 0; i < m; i++) {
		char p0[64], p1[64];
		snprintf(p0, sizeof p0, "/p%" PRId64 "/", base);
		snprintf(p1, sizeof p1, "/p%" PRId64 "/", base + 1000);
		cr_assert(!strstr(paths[i], p0) && !strstr(paths[i], p1), "%s is still on disk",
			  paths[i]);
	}
	st_free_paths(paths, m);
	free(ev);
	tu_rmrf(dir);
}
