/*
 * test_snapshot.c — snapshots taken while two threads append (and the sealer
 * seals) see, per shard, a prefix of each writer's sequence: never a gap,
 * never a row twice, never less than an earlier snapshot saw.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define SN_WRITERS 2
#define SN_EVENTS  5000
#define SN_SHARDS  4
#define SN_PART_MS 3600000

/* One partition: ts0 is an hour boundary and ts stays within the hour. */
static const struct st_gen sn_gen = {
    .ts0 = 1699999200000,
    .ts_step = 1000,
    .ts_slots = 3600,
    .nsessions = 64,
    .ids = ST_ID_SOMETIMES,
    .pad_max = 40,
};

struct sn_shared {
	struct store *s;
	atomic_int writers_left;
	uint32_t shard_of[SN_WRITERS][SN_EVENTS]; /* shard of each key */
	uint32_t rank[SN_WRITERS][SN_EVENTS];	  /* index of k among its shard's keys */
	char werr[SN_WRITERS][256];
	/* reader */
	char rerr[1024];
	uint32_t snaps;
	uint32_t last_count[SN_WRITERS][SN_SHARDS]; /* of the previous snapshot */
};

struct sn_writer {
	struct sn_shared *sh;
	uint32_t w;
};

static void *sn_writer_main(void *arg)
{
	struct sn_writer *wr = arg;
	struct sn_shared *sh = wr->sh;
	struct st_ev *ev = malloc(32 * sizeof *ev);
	struct store_event v[32];
	unsigned long long rng = 99 + wr->w;

	for (uint32_t k = 0; ev && k < SN_EVENTS;) {
		uint32_t b = 1 + (uint32_t)(tu_rand(&rng) % 32);
		if (b > SN_EVENTS - k)
			b = SN_EVENTS - k;
		for (uint32_t i = 0; i < b; i++) {
			st_gen_event(&sn_gen, wr->w, k + i, &ev[i]);
			v[i] = ev[i].ev;
		}
		if (st_append_all(sh->s, v, b, 0, sh->werr[wr->w], sizeof sh->werr[wr->w]))
			break;
		k += b;
	}
	free(ev);
	atomic_fetch_sub(&sh->writers_left, 1);
	return NULL;
}

/* What one snapshot saw. */
struct sn_view {
	struct sn_shared *sh;
	uint32_t count[SN_WRITERS][SN_SHARDS];
	uint32_t max_rank[SN_WRITERS][SN_SHARDS];
	uint8_t seen[SN_WRITERS][SN_EVENTS];
};

static int sn_row(void *arg, const struct store_event *ev, const struct st_loc *loc,
		  struct st_scan *sc)
{
	struct sn_view *v = arg;
	uint32_t w, k;
	if (st_parse_marker(ev->props.p, ev->props.n, &w, &k) || w >= SN_WRITERS ||
	    k >= SN_EVENTS) {
		snprintf(sc->err, sizeof sc->err, "row without a marker of this test");
		return -1;
	}
	if (v->seen[w][k]++) {
		snprintf(sc->err, sizeof sc->err, "(w %u, k %u) seen twice in one snapshot", w, k);
		return -1;
	}
	if (loc->shard != v->sh->shard_of[w][k]) {
		snprintf(sc->err, sizeof sc->err, "(w %u, k %u) in shard %u, want %u", w, k,
			 loc->shard, v->sh->shard_of[w][k]);
		return -1;
	}
	uint32_t r = v->sh->rank[w][k];
	v->count[w][loc->shard]++;
	if (r > v->max_rank[w][loc->shard])
		v->max_rank[w][loc->shard] = r;
	return 0;
}

/* Checks one snapshot; returns 0 or -1 with sh->rerr set. */
static int sn_check_one(struct sn_shared *sh, struct sn_view *v)
{
	struct store_snap *snap = NULL;
	struct st_scan sc = {.partition_ms = SN_PART_MS,
			     .cols = (1u << STORE_COL_PROPS) | (1u << STORE_COL_USER)};
	int rc = store_snap_take(sh->s, &snap);
	if (rc != 0) {
		snprintf(sh->rerr, sizeof sh->rerr, "store_snap_take = %d", rc);
		return -1;
	}
	memset(v->count, 0, sizeof v->count);
	memset(v->max_rank, 0, sizeof v->max_rank);
	memset(v->seen, 0, sizeof v->seen);
	rc = st_scan(snap, &sc, sn_row, v);
	store_snap_release(snap);
	if (rc != 0) {
		snprintf(sh->rerr, sizeof sh->rerr, "snapshot %u: %s", sh->snaps, sc.err);
		return -1;
	}
	for (uint32_t w = 0; w < SN_WRITERS; w++)
		for (uint32_t s = 0; s < SN_SHARDS; s++) {
			uint32_t c = v->count[w][s];
			/* distinct keys, all among the first c of (w, s): a prefix */
			if (c && v->max_rank[w][s] != c - 1) {
				snprintf(sh->rerr, sizeof sh->rerr,
					 "snapshot %u: writer %u shard %u: %u rows visible but one "
					 "is the writer's #%u in that shard: a gap",
					 sh->snaps, w, s, c, v->max_rank[w][s]);
				return -1;
			}
			if (c < sh->last_count[w][s]) {
				snprintf(sh->rerr, sizeof sh->rerr,
					 "snapshot %u: writer %u shard %u: %u rows, an earlier "
					 "snapshot saw %u",
					 sh->snaps, w, s, c, sh->last_count[w][s]);
				return -1;
			}
			sh->last_count[w][s] = c;
		}
	sh->snaps++;
	return 0;
}

static void *sn_reader_main(void *arg)
{
	struct sn_shared *sh = arg;
	struct sn_view *v = calloc(1, sizeof *v);
	if (!v) {
		snprintf(sh->rerr, sizeof sh->rerr, "out of memory");
		return NULL;
	}
	v->sh = sh;
	while (atomic_load(&sh->writers_left) > 0)
		if (sn_check_one(sh, v))
			break;
	if (!sh->rerr[0])
		sn_check_one(sh, v); /* after the writers: everything */
	free(v);
	return NULL;
}

Test(snapshot, readers_see_a_gapless_prefix_of_each_writer_per_shard)
{
	char dir[256];
	struct store_opts o = {.shards = SN_SHARDS, .partition_ms = SN_PART_MS, .seg_rows = 200};
	struct sn_shared *sh = calloc(1, sizeof *sh);
	struct st_ev *ev = malloc(sizeof *ev);
	cr_assert(sh && ev);
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "snap"));

	for (uint32_t w = 0; w < SN_WRITERS; w++) {
		uint32_t next[SN_SHARDS] = {0};
		for (uint32_t k = 0; k < SN_EVENTS; k++) {
			st_gen_event(&sn_gen, w, k, ev);
			uint32_t s = store_shard_of(ev->ev.session.p, ev->ev.session.n, SN_SHARDS);
			cr_assert_lt(s, SN_SHARDS);
			sh->shard_of[w][k] = s;
			sh->rank[w][k] = next[s]++;
		}
	}
	sh->s = st_open(dir, &o);
	atomic_store(&sh->writers_left, SN_WRITERS);

	pthread_t rt, wt[SN_WRITERS];
	struct sn_writer wr[SN_WRITERS];
	cr_assert_eq(pthread_create(&rt, NULL, sn_reader_main, sh), 0);
	for (uint32_t w = 0; w < SN_WRITERS; w++) {
		wr[w] = (struct sn_writer){sh, w};
		cr_assert_eq(pthread_create(&wt[w], NULL, sn_writer_main, &wr[w]), 0);
	}
	for (uint32_t w = 0; w < SN_WRITERS; w++)
		pthread_join(wt[w], NULL);
	pthread_join(rt, NULL);

	for (uint32_t w = 0; w < SN_WRITERS; w++)
		cr_assert_str_empty(sh->werr[w], "%s", sh->werr[w]);
	cr_assert_str_empty(sh->rerr, "%s", sh->rerr);
	cr_assert_gt(sh->snaps, 0);
	uint32_t total = 0;
	for (uint32_t w = 0; w < SN_WRITERS; w++)
		for (uint32_t s = 0; s < SN_SHARDS; s++)
			total += sh->last_count[w][s];
	cr_assert_eq(total, SN_WRITERS * SN_EVENTS, "last snapshot saw %u rows, want %u", total,
		     SN_WRITERS * SN_EVENTS);
	cr_log_info("snapshot: %u snapshots checked while appending", sh->snaps);

	/* and every column of every row is right */
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = SN_PART_MS};
	const struct st_gen *gens[] = {&sn_gen};
	cr_assert_eq(store_snap_take(sh->s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, SN_WRITERS, SN_EVENTS), 0);
	cr_assert_eq(st_verify(snap, gens, 1, &seen, &sc), 0, "%s", sc.err);
	cr_assert_eq(sc.rows, SN_WRITERS * SN_EVENTS);
	store_snap_release(snap);
	st_seen_fini(&seen);

	store_close(sh->s);
	free(sh);
	free(ev);
	tu_rmrf(dir);
}

Test(snapshot, a_snapshot_does_not_change_after_appends_and_seals)
{
	char dir[256];
	struct store_opts o = {
	    .shards = 2, .partition_ms = 1000, .seg_rows = 50, .no_background = 1};
	const struct st_gen g = {.ts0 = 1700000000000,
				 .ts_step = 100,
				 .ts_slots = 30,
				 .nsessions = 10,
				 .ids = ST_ID_SOMETIMES,
				 .pad_max = 30};
	const struct st_gen *gens[] = {&g};
	struct st_ev *ev = malloc(sizeof *ev);
	cr_assert_not_null(ev);
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "snapfix"));
	struct store *s = st_open(dir, &o);
	for (uint32_t k = 0; k < 300; k++) {
		st_gen_event(&g, 0, k, ev);
		st_append_ok(s, ev, 1);
	}
	struct store_snap *snap;
	cr_assert_eq(store_snap_take(s, &snap), 0);
	for (uint32_t k = 0; k < 300; k++) {
		st_gen_event(&g, 1, k, ev);
		st_append_ok(s, ev, 1);
	}
	cr_assert_geq(store_seal_all(s), 0);

	struct st_seen seen;
	struct st_scan sc = {.partition_ms = 1000};
	cr_assert_eq(st_seen_init(&seen, 2, 300), 0);
	cr_assert_eq(st_verify(snap, gens, 1, &seen, &sc), 0, "%s", sc.err);
	for (uint32_t k = 0; k < 300; k++) {
		cr_assert_eq(st_seen_get(&seen, 0, k), 1, "(0, %u) missing from the old snapshot",
			     k);
		cr_assert_eq(st_seen_get(&seen, 1, k), 0, "(1, %u) appended later, yet visible", k);
	}
	store_snap_release(snap);
	st_seen_fini(&seen);
	store_close(s);
	free(ev);
	tu_rmrf(dir);
}
