/*
 * test_funnel.c — q_funnel() answers exactly what the brute-force reference
 * (funnel_ref.c) answers: step counts, conversions, medians, breakdown
 * groups and actors, for thousands of random funnels over random stores
 * (ties in ts, arrival out of ts order, sessions across partitions, sealed,
 * frozen and active segments mixed, users with sessions in several shards);
 * plus hand-checked examples, request checks and the scan counter.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "funnel_ref.h"
#include "query.h"
#include "storage.h"
#include "testutil.h"

static uint64_t pick(unsigned long long *rng, uint64_t n)
{
	return tu_rand(rng) % n;
}

/* A random store shape and options. */
static void random_setup(unsigned long long *rng, struct fr_shape *sh, struct store_opts *o)
{
	static const uint32_t shards[] = {1, 2, 4, 7};
	static const uint32_t seg_rows[] = {16, 24, 64, 4096};
	static const uint32_t max_active[] = {2, 5, 256};

	sh->n = 150 + pick(rng, 400);
	sh->nsess = 8 + (int)(sh->n / (4 + pick(rng, 10)));
	sh->nusers = 2 + sh->nsess / (1 + (int)pick(rng, 3));
	sh->slots = 48;
	sh->t0 = 1000000 + (int64_t)pick(rng, 1000);
	sh->burst = 0;
	memset(o, 0, sizeof *o);
	o->shards = shards[pick(rng, 4)];
	o->partition_ms = pick(rng, 2) ? 1000 : 2000;
	o->seg_rows = seg_rows[pick(rng, 4)];
	o->max_active = max_active[pick(rng, 3)];
	o->no_background = 1;
}

/* Runs q_funnel for f and compares with the reference over the appended
 * events; on a difference, fails naming everything needed to replay it. */
static void check_funnel(struct fr_store *fs, const struct fr_funnel *f, const char *ctx)
{
	struct q_funnel_req rq;
	struct q_funnel_res res;
	struct fr_result want;
	char why[512], desc[1024];
	int rc;

	fr_make_req(f, &rq);
	rc = q_funnel(fs->e, &rq, &res);
	fr_describe(f, desc, sizeof desc);
	cr_assert_eq(rc, 0, "%s: q_funnel: %s; %s", ctx, err_str(rc), desc);
	fr_reference(fs, fs->appended, f, &want);
	if (!fr_compare(&res, &want, f->nsteps, why, sizeof why))
		cr_assert_fail("%s: %s\n  funnel: %s", ctx, why, desc);
	q_funnel_res_free(&res);
}

/* How a round of random stores is filled and which funnels it asks. */
enum round_kind {
	ROUND_PLAIN,  /* windowFunnel; maintenance now and then while appending */
	ROUND_EXT,    /* with random rules beyond windowFunnel (fr_random_ext) */
	ROUND_STRICT, /* strict order only, over whole sealed partitions: see below */
	ROUND_BURST,  /* the same over sessions each a burst of a few slots, as users'
		       * sessions are: few of a user's overlap in time (funnel_gap.c) */
	ROUND_EXT_BURST, /* ROUND_EXT over such sessions: blocks of exclusion rows
			  * mostly stand whole (funnel_user.c) */
};

/*
 * nstores random stores from `seed`; at three points of each store's
 * filling, nfunnels random funnels (by = forced unless -1).
 *
 * ROUND_STRICT: strict order takes positions from the session runs of a
 * partition held in one sealed segment (funnel_scan.c), and from the
 * partition's gathered rows otherwise.  Each store is checked sealed whole
 * (one segment per partition and shard), then with more rows appended (some
 * partitions one sealed segment, others two), then sealed again.
 */
static void random_rounds_k(unsigned long long seed, int nstores, int nfunnels, int by,
			    enum round_kind kind)
{
	int burst = kind == ROUND_BURST || kind == ROUND_EXT_BURST;

	if (burst)
		kind = kind == ROUND_BURST ? ROUND_STRICT : ROUND_EXT;
	for (int s = 0; s < nstores; s++) {
		unsigned long long rng = seed * 7919 + (unsigned long long)s + 1;
		struct fr_shape sh;
		struct store_opts o;
		struct fr_store fs;
		char ctx[160];

		random_setup(&rng, &sh, &o);
		if (burst) {
			sh.slots = 100 + (int)pick(&rng, 300);
			sh.burst = 2 + (int)pick(&rng, 10);
			sh.nusers = 2 + sh.nsess / (2 + (int)pick(&rng, 3));
		}
		if (kind == ROUND_STRICT) {
			o.seg_rows = 4096; /* no segment fills, none is frozen early */
			o.max_active = 256;
		}
		cr_assert_eq(fr_store_make(&fs, &sh, &o, 2, &rng), 0);
		for (int cp = 1; cp <= 3; cp++) {
			if (kind != ROUND_STRICT) {
				cr_assert_eq(fr_store_append(&fs, sh.n * (size_t)cp / 3, &rng, 1),
					     0);
			} else {
				if (cp < 3)
					cr_assert_eq(
					    fr_store_append(&fs, sh.n * (size_t)cp / 2, &rng, 0), 0);
				if (cp != 2)
					cr_assert_geq(store_seal_all(fs.st), 0);
			}
			for (int i = 0; i < nfunnels; i++) {
				struct fr_funnel f;
				do {
					fr_random_funnel(&f, &sh, &rng);
					if (by >= 0)
						f.by = (enum q_by)by;
					if (kind != ROUND_PLAIN)
						fr_random_ext(&f, &rng);
				} while (kind == ROUND_STRICT && f.order != Q_ORDER_STRICT);
				snprintf(ctx, sizeof ctx,
					 "%sseed %llu store %d (%zu events, %u shards, seg_rows %u) "
					 "checkpoint %d funnel %d",
					 kind == ROUND_STRICT ? "strict " : "", seed, s, fs.appended,
					 o.shards, o.seg_rows, cp, i);
				check_funnel(&fs, &f, ctx);
			}
		}
		fr_store_free(&fs);
	}
}

static void random_rounds_x(unsigned long long seed, int nstores, int nfunnels, int by, int ext)
{
	random_rounds_k(seed, nstores, nfunnels, by, ext ? ROUND_EXT : ROUND_PLAIN);
}

Test(funnel_random, strict_funnels_over_sealed_partitions_equal_the_reference, .timeout = 120)
{
	random_rounds_k(13, 12, 40, -1, ROUND_STRICT);
}

Test(funnel_random, strict_user_funnels_over_session_bursts_equal_the_reference, .timeout = 120)
{
	random_rounds_k(14, 24, 40, Q_BY_USER, ROUND_BURST);
}

static void random_rounds(unsigned long long seed, int nstores, int nfunnels, int by)
{
	random_rounds_x(seed, nstores, nfunnels, by, 0);
}

/* Orders x exclusions x held values x per-step windows x by x counting:
 * each funnel draws every one of them at random (fr_random_ext). */
Test(funnel_random, extended_session_funnels_equal_the_brute_force_reference, .timeout = 120)
{
	random_rounds_x(11, 12, 40, Q_BY_SESSION, 1);
}

Test(funnel_random, extended_user_funnels_equal_the_brute_force_reference, .timeout = 120)
{
	random_rounds_x(12, 12, 40, Q_BY_USER, 1);
}

Test(funnel_random, extended_user_funnels_over_session_bursts_equal_the_reference, .timeout = 120)
{
	random_rounds_k(16, 16, 40, Q_BY_USER, ROUND_EXT_BURST);
}

Test(funnel_random, session_funnels_equal_the_brute_force_reference, .timeout = 120)
{
	random_rounds(1, 12, 40, Q_BY_SESSION);
}

Test(funnel_random, user_funnels_equal_the_brute_force_reference, .timeout = 120)
{
	random_rounds(2, 12, 40, Q_BY_USER);
}

Test(funnel_random, mixed_funnels_equal_the_brute_force_reference, .timeout = 120)
{
	random_rounds(3, 12, 40, -1);
}

/* Long sessions and users in one shard: blocks of 65536 rows in an active
 * segment, then blocks of 8192 rows in the sealed one, cut through
 * sessions. */
Test(funnel, sessions_cut_by_block_boundaries_in_active_and_sealed_segments, .timeout = 120)
{
	struct fr_shape sh = {
	    .n = 70000, .nsess = 4000, .nusers = 1500, .slots = 14000, .t0 = 3600000 * 400};
	struct store_opts o = {.shards = 1, .seg_rows = 1u << 17, .no_background = 1};
	unsigned long long rng = 4242;
	struct fr_store fs;

	cr_assert_eq(fr_store_make(&fs, &sh, &o, 2, &rng), 0);
	cr_assert_eq(fr_store_append(&fs, sh.n, &rng, 0), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 12; i++) {
			struct fr_funnel f;
			char ctx[64];
			fr_random_funnel(&f, &sh, &rng);
			snprintf(ctx, sizeof ctx, "%s funnel %d", round ? "sealed" : "active", i);
			check_funnel(&fs, &f, ctx);
		}
		cr_assert_geq(store_seal_all(fs.st), 0);
	}
	fr_store_free(&fs);
}

struct conc {
	struct fr_store *fs;
	const struct fr_shape *sh;
	unsigned long long seed;
	char fail[600];
};

static void *conc_main(void *arg)
{
	struct conc *c = arg;
	unsigned long long rng = c->seed;

	for (int i = 0; i < 15 && !c->fail[0]; i++) {
		struct fr_funnel f;
		struct q_funnel_req rq;
		struct q_funnel_res res;
		struct fr_result want;
		char why[400];

		fr_random_funnel(&f, c->sh, &rng);
		fr_make_req(&f, &rq);
		if (q_funnel(c->fs->e, &rq, &res) != 0) {
			snprintf(c->fail, sizeof c->fail, "q_funnel failed");
			break;
		}
		fr_reference(c->fs, c->fs->appended, &f, &want);
		if (!fr_compare(&res, &want, f.nsteps, why, sizeof why))
			snprintf(c->fail, sizeof c->fail, "thread seed %llu funnel %d: %s", c->seed,
				 i, why);
		q_funnel_res_free(&res);
	}
	return NULL;
}

Test(funnel, queries_from_several_threads_at_once_each_get_their_own_answer)
{
	struct fr_shape sh = {.n = 500, .nsess = 60, .nusers = 25, .slots = 48, .t0 = 1000000};
	struct store_opts o = {
	    .shards = 4, .partition_ms = 1000, .seg_rows = 32, .no_background = 1};
	unsigned long long rng = 77;
	struct fr_store fs;
	struct conc c[4];
	pthread_t th[4];

	cr_assert_eq(fr_store_make(&fs, &sh, &o, 2, &rng), 0);
	cr_assert_eq(fr_store_append(&fs, sh.n, &rng, 1), 0);
	for (int i = 0; i < 4; i++) {
		c[i] = (struct conc){.fs = &fs, .sh = &sh, .seed = 100 + (unsigned long long)i};
		cr_assert_eq(pthread_create(&th[i], NULL, conc_main, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(c[i].fail[0], '\0', "%s", c[i].fail);
	}
	fr_store_free(&fs);
}

/* ---- hand-checked examples ------------------------------------------------------ */

struct hand {
	char dir[256];
	struct store *st;
	struct q_engine *e;
};

static void hand_open(struct hand *h, uint32_t shards)
{
	struct store_opts o = {.shards = shards, .partition_ms = 1000, .no_background = 1};
	char err[256];

	tu_tmpdir(h->dir, sizeof h->dir, "funnel-hand");
	cr_assert_eq(store_open(h->dir, &o, &h->st, err, sizeof err), 0, "%s", err);
	cr_assert_eq(q_engine_new(h->st, 2, &h->e), 0);
}

static void hand_close(struct hand *h)
{
	q_engine_free(h->e);
	store_close(h->st);
	tu_rmrf(h->dir);
}

static struct store_str S(const char *s) {
	return (struct store_str){s, (uint32_t)strlen(s)};
}

static void
add(struct hand *h, const char *session, int64_t ts, const char *type, const char *url)
{
	struct store_event e = {.ts = ts,
				.recv = ts,
				.session = S(session),
				.user = S("u"),
				.type = S(type),
				.url = S(url)};
	cr_assert_eq(store_append(h->st, &e, 1, NULL), 1);
}

static void steps_req(struct q_funnel_req *rq, const char *const *types, unsigned n, int64_t window)
{
	memset(rq, 0, sizeof *rq);
	rq->nsteps = n;
	for (unsigned i = 0; i < n; i++)
		rq->steps[i].type = S(types[i]);
	rq->window_ms = window;
	rq->from = INT64_MIN;
	rq->to = INT64_MAX;
}

Test(funnel, hand_example_levels_conversions_and_medians)
{
	static const char *const vcb[] = {"view", "click", "buy"};
	static const char *const vv[] = {"view", "view"};
	struct q_funnel_req rq;
	struct q_funnel_res r;
	struct hand h;

	hand_open(&h, 4);
	add(&h, "s1", 1100, "view", ""); /* full chain: deltas 100, 200 */
	add(&h, "s1", 1200, "click", "");
	add(&h, "s1", 1400, "buy", "");
	add(&h, "s2", 1100, "view", ""); /* buy before click: level 2, delta 200 */
	add(&h, "s2", 1150, "buy", "");
	add(&h, "s2", 1300, "click", "");
	add(&h, "s3", 1450, "buy", ""); /* arrives first, out of ts order */
	add(&h, "s3", 1100, "view", "");
	add(&h, "s3", 1500, "view", ""); /* the later start fits the window: 900, 50 */
	add(&h, "s3", 2400, "click", "");
	add(&h, "s3", 2450, "buy", "");
	add(&h, "s4", 1100, "click", ""); /* no view: an actor at level 0 */
	add(&h, "s4", 1200, "buy", "");
	add(&h, "s5", 1100, "scroll", ""); /* not an actor */
	add(&h, "s6", 1100, "click", "");  /* same ts, click arrived first: level 1 */
	add(&h, "s6", 1100, "view", "");
	add(&h, "s8", 1100, "view", ""); /* two views at one ts */
	add(&h, "s8", 1100, "view", "");

	steps_req(&rq, vcb, 3, 1000);
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.nsteps, 3);
	cr_expect_eq(r.actors, 6);
	cr_expect_eq(r.steps[0].count, 5);
	cr_expect_eq(r.steps[1].count, 3);
	cr_expect_eq(r.steps[2].count, 2);
	cr_expect_eq(r.steps[1].conversion, 0.6);
	cr_expect_eq(r.steps[2].conversion_from_prev, 2.0 / 3.0);
	cr_expect_eq(r.steps[0].median_ms_from_prev, -1);
	cr_expect_eq(r.steps[1].median_ms_from_prev, 200); /* 100 200 900 */
	cr_expect_eq(r.steps[2].median_ms_from_prev, 50);  /* 50 200: the lower one */
	cr_expect_eq(r.ngroups, 0);
	q_funnel_res_free(&r);

	/* Seal everything: the same answer from sorted, compressed segments. */
	cr_assert_geq(store_seal_all(h.st), 0);
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.steps[2].count, 2);
	cr_expect_eq(r.steps[1].median_ms_from_prev, 200);
	q_funnel_res_free(&r);

	/* One event never fills two steps; two events at one ts may. */
	steps_req(&rq, vv, 2, 0);
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.steps[0].count, 5);
	cr_expect_eq(r.steps[1].count, 1);
	cr_expect_eq(r.steps[1].median_ms_from_prev, 0);
	q_funnel_res_free(&r);

	/* by user: everything is user "u"; its chain crosses sessions */
	steps_req(&rq, vcb, 3, 100);
	rq.by = Q_BY_USER;
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.actors, 1);
	cr_expect_eq(r.steps[2].count, 1);
	q_funnel_res_free(&r);
	hand_close(&h);
}

/* view -> click by user within a minute, no scroll between them: asks h
 * before and after sealing everything, expecting 1 view and `clicks`. */
static void expect_clicks_without_scroll(struct hand *h, uint64_t clicks, const char *ctx)
{
	static const char *const vc[] = {"view", "click"};
	struct q_funnel_req rq;
	struct q_funnel_res r;

	steps_req(&rq, vc, 2, 60000);
	rq.by = Q_BY_USER;
	rq.nexclude = 1;
	rq.exclude[0].m.type = S("scroll");
	rq.exclude[0].from = 1;
	rq.exclude[0].to = 2;
	for (int sealed = 0; sealed < 2; sealed++) {
		cr_assert_eq(q_funnel(h->e, &rq, &r), 0);
		cr_expect_eq(r.steps[0].count, 1, "%s, sealed %d", ctx, sealed);
		cr_expect_eq(r.steps[1].count, clicks, "%s, sealed %d", ctx, sealed);
		q_funnel_res_free(&r);
		cr_assert_geq(store_seal_all(h->st), 0);
	}
}

/* By user, exclusion rows of one session in a row are gathered as one
 * block (funnel_user.c); a chain of another session inside the block's
 * span must still see the rows between its steps. */
Test(funnel, exclusion_rows_of_one_session_count_between_the_steps_of_another)
{
	static const struct {
		int64_t view, click;
		uint64_t level2;
	} cases[] = {
	    {10150, 10350, 0}, /* inside the block, scrolls at 200 and 300 between */
	    {10050, 10450, 0}, /* around the whole block */
	    {10150, 10190, 1}, /* inside it, but no scroll between */
	    {10500, 10600, 1}, /* after it */
	    {10400, 10500, 0}, /* at the ts of its last row, before it ("a2" < "s1") */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hand h;
		char ctx[32];

		hand_open(&h, 1 + (uint32_t)i % 2);
		for (int64_t t = 10100; t <= 10400; t += 100)
			add(&h, "s1", t, "scroll", "");
		add(&h, "a2", cases[i].view, "view", "");
		add(&h, "a2", cases[i].click, "click", "");
		snprintf(ctx, sizeof ctx, "case %zu", i);
		expect_clicks_without_scroll(&h, cases[i].level2, ctx);
		hand_close(&h);
	}
}

/* A block of exclusion rows never spans two sessions: the rows it stands
 * for take its session into their keys, and the session bytes order rows of
 * one user with equal ts and recv.  Sessions A < B < C (bytewise), A and C
 * in one shard, so their rows follow each other in its segment, B's steps
 * in the other: C's scroll ties with B's click and comes after it. */
Test(funnel, exclusion_blocks_never_span_two_sessions)
{
	char a[16] = "sa0", b[16], c[16];
	uint32_t sa = store_shard_of(a, strlen(a), 2);
	struct hand h;

	for (int i = 0;; i++) { /* B in the other shard */
		snprintf(b, sizeof b, "sb%d", i);
		if (store_shard_of(b, strlen(b), 2) != sa)
			break;
	}
	for (int i = 0;; i++) { /* C in A's */
		snprintf(c, sizeof c, "sc%d", i);
		if (store_shard_of(c, strlen(c), 2) == sa)
			break;
	}
	hand_open(&h, 2);
	add(&h, b, 10100, "view", "");
	add(&h, b, 10200, "click", "");
	add(&h, a, 10050, "scroll", "");
	add(&h, c, 10200, "scroll", "");
	expect_clicks_without_scroll(&h, 1, "the scroll of C comes after the click");
	hand_close(&h);
}

Test(funnel, breakdown_keeps_the_top_values_and_merges_the_rest_into_other)
{
	static const char *const one[] = {"view"};
	struct q_funnel_req rq;
	struct q_funnel_res r;
	struct hand h;
	char s[32], u[32];
	int n = 0;

	hand_open(&h, 2);
	for (int v = 0; v < 25; v++) /* url /pV: (V % 5) + 1 sessions */
		for (int k = 0; k <= v % 5; k++) {
			snprintf(s, sizeof s, "sess%d", n++);
			snprintf(u, sizeof u, "/p%02d", v);
			add(&h, s, 1000 + v, "view", u);
		}
	steps_req(&rq, one, 1, 10);
	rq.breakdown = Q_BD_URL;
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_assert_eq(r.ngroups, 21);
	/* counts 5 (p04 p09 p14 p19 p24), 4 (p03 ...), ...: ties by value */
	cr_expect_eq(r.groups[0].value.n, 4);
	cr_expect_eq(memcmp(r.groups[0].value.p, "/p04", 4), 0);
	cr_expect_eq(r.groups[0].steps[0].count, 5);
	cr_expect_eq(memcmp(r.groups[5].value.p, "/p03", 4), 0);
	cr_expect_eq(memcmp(r.groups[19].value.p, "/p21", 4), 0);
	cr_expect_eq(r.groups[20].other, 1);
	cr_expect_eq(r.groups[20].value.n, 5);
	cr_expect_eq(memcmp(r.groups[20].value.p, "other", 5), 0);
	cr_expect_eq(r.groups[20].steps[0].count, 5); /* p00 p05 p10 p15 p20: one each */
	cr_expect_eq(r.steps[0].count, 75);
	q_funnel_res_free(&r);
	hand_close(&h);
}

Test(funnel, events_scanned_counts_only_segments_the_scan_read)
{
	static const char *const view[] = {"view"};
	static const char *const buy[] = {"buy"};
	static const char *const nope[] = {"nope"};
	struct q_funnel_req rq;
	struct q_funnel_res r;
	struct hand h;

	hand_open(&h, 1);
	for (int i = 0; i < 10; i++)
		add(&h, "a", 1000 + i, "view", "");
	for (int i = 0; i < 7; i++)
		add(&h, "b", 5000 + i, i ? "view" : "buy", "");
	steps_req(&rq, view, 1, 10);
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.events_scanned, 17);
	q_funnel_res_free(&r);
	rq.from = 5000;
	rq.to = 6000;
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.events_scanned, 7); /* the first partition is not read */
	cr_expect_eq(r.steps[0].count, 1);
	q_funnel_res_free(&r);
	steps_req(&rq, buy, 1, 10);
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.events_scanned, 7); /* the first segment has no "buy" */
	q_funnel_res_free(&r);
	steps_req(&rq, nope, 1, 10);
	cr_assert_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.events_scanned, 0);
	cr_expect_eq(r.actors, 0);
	cr_expect_eq(r.steps[0].count, 0);
	cr_expect_eq(r.steps[0].conversion_from_prev, 0.0);
	q_funnel_res_free(&r);
	hand_close(&h);
}

Test(funnel, malformed_requests_are_refused)
{
	static const char *const two[] = {"view", "click"};
	struct q_funnel_req rq;
	struct q_funnel_res r;
	struct hand h;

	hand_open(&h, 1);
	add(&h, "a", 1000, "view", "");
	steps_req(&rq, two, 0, 10);
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "no steps");
	cr_expect_null(r.mem);
	steps_req(&rq, two, 2, 10);
	rq.nsteps = Q_MAX_STEPS + 1;
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "too many steps");
	steps_req(&rq, two, 2, -1);
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "negative window");
	steps_req(&rq, two, 2, 10);
	rq.steps[1].type = S("");
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "empty type");
	steps_req(&rq, two, 2, 10);
	rq.steps[0].nprops = Q_MAX_PROPS + 1;
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "too many props");
	static const char *const bad_values[] = {"{\"a\":1}", "[1]", "pro", "\"open", "01", ""};
	for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
		steps_req(&rq, two, 2, 10);
		rq.steps[1].nprops = 1;
		rq.steps[1].props[0] = (struct q_prop_eq){S("plan"), S(bad_values[i])};
		cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "props value %s", bad_values[i]);
	}
	steps_req(&rq, two, 2, 10);
	rq.breakdown = Q_BD_PROP;
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "breakdown without a key");
	steps_req(&rq, two, 2, 10);
	rq.by = (enum q_by)7;
	cr_expect_eq(q_funnel(h.e, &rq, &r), ERR_INVALID, "unknown actor");
	steps_req(&rq, two, 2, 10);
	rq.from = 5000;
	rq.to = 10; /* an empty range is a valid question */
	cr_expect_eq(q_funnel(h.e, &rq, &r), 0);
	cr_expect_eq(r.steps[0].count, 0);
	q_funnel_res_free(&r);
	hand_close(&h);
}
