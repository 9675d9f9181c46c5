/*
 * funnel_gap.c — strict order for user funnels without gathering every row.
 *
 * Strict order asks, of two events of a chain, whether any other event of
 * the actor lies between them.  By session a sealed segment answers that
 * from its session runs (funnel_scan.c); a user's sessions interleave, so by
 * user the question is put to the rows themselves, in three passes:
 *
 *   1. the matching rows are gathered and sorted by user as for any user
 *      funnel; for each user, every two consecutive matching rows that could
 *      be a link of a chain (the first matches some step s, the second step
 *      s + 1, at most the window apart) become a gap: the keys of both ends
 *      (fn_gap_collect).
 *   2. every row of the shards is checked against the gaps of its user
 *      (one array lookup per row for users without any): a row strictly
 *      between the two ends in the by-user order marks the gap blocked
 *      (fn_gap_scan).  Rows are only looked at, never kept.
 *   3. the users are evaluated again, each matching row taking a position
 *      that advances by 1 over an open gap and by 2 over any other pair
 *      (fn_gap_positions): a pair that is no gap can be no link, so saying
 *      "not adjacent" of it changes nothing.
 *
 * The by-user order is (ts, recv, session bytes, ord), ord = segment ordinal
 * in the shard << 32 | row, as the gather numbers it (funnel_scan.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "q_int.h"

#define COL(c) (1u << STORE_COL_##c)

/* Could hits a then b (consecutive in the user's order) be a link? */
static int is_link(const struct fn_query *q, const struct fn_urec *a, const struct fn_urec *b)
{
	return ((a->mask & q->step_bits) << 1 & b->mask & q->step_bits) &&
	       b->ts - a->ts <= q->window;
}

int fn_gap_collect(struct fn_query *q, unsigned b, const struct fn_urec *u, size_t n)
{
	struct fn_gapset *gs = &q->gaps[b];
	size_t first = gs->ngap;
	uint32_t idx;
	int added;

	for (size_t k = 0; k + 1 < n; k++) {
		if (!is_link(q, &u[k], &u[k + 1]))
			continue;
		if (fn_grow((void **)&gs->gap, &gs->gap_cap, gs->ngap + 1, sizeof *gs->gap) < 0)
			return -ENOMEM;
		gs->gap[gs->ngap++] = (struct fn_gap){.a = fn_ukey_of(&u[k]), .z = fn_ukey_of(&u[k + 1])};
	}
	if (gs->ngap == first)
		return 0;
	if (fn_grow((void **)&gs->user, &gs->user_cap, gs->nusers + 1, sizeof *gs->user) < 0 ||
	    fn_map_put(&gs->users, u[0].user, u[0].un, u[0].uh, (uint32_t)gs->nusers, &idx,
		       &added) < 0)
		return -ENOMEM;
	gs->user[gs->nusers++] = (struct fn_gapuser){(uint32_t)first, (uint32_t)(gs->ngap - first)};
	return 0;
}

/* Marks the gaps of user `gu` (of set gs) that row (key k) lies strictly
 * inside.  The gaps are sorted and overlap only at their ends.  With `full`
 * 0 only k->ts is set: returns 1 when a gap ends at that ts, so the whole
 * key must decide (the caller reads it and calls again). */
static int mark(struct fn_gapset *gs, const struct fn_gapuser *gu, const struct fn_ukey *k,
		int full)
{
	struct fn_gap *g = gs->gap + gu->first;
	size_t lo = 0, hi = gu->count;

	while (lo < hi) { /* first gap whose end is >= ts */
		size_t mid = (lo + hi) / 2;
		if (g[mid].z.ts < k->ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < gu->count && g[i].a.ts <= k->ts; i++) {
		if (__atomic_load_n(&g[i].blocked, __ATOMIC_RELAXED))
			continue;
		if (k->ts > g[i].a.ts && k->ts < g[i].z.ts)
			__atomic_store_n(&g[i].blocked, 1, __ATOMIC_RELAXED);
		else if (!full)
			return 1;
		else if (fn_ukey_cmp(&g[i].a, k) < 0 && fn_ukey_cmp(k, &g[i].z) < 0)
			__atomic_store_n(&g[i].blocked, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

/* User dictionary id → its gaps (NULL: none), through the segment's cache
 * c->gcache (0: not looked up, UINT64_MAX: none, else set << 32 | user + 1). */
static const struct fn_gapuser *user_gaps(struct fn_query *q, struct fn_ctx *c,
					  const struct store_seg *g, uint32_t uid,
					  struct fn_gapset **set)
{
	uint64_t v = c->gcache[uid], h;
	struct store_str u;
	const struct fn_slot *sl;
	unsigned b;

	if (v == UINT64_MAX)
		return NULL;
	if (v) {
		*set = &q->gaps[(v - 1) >> 32];
		return &(*set)->user[(uint32_t)(v - 1)];
	}
	u = store_seg_str(g, uid);
	h = fn_hash(u.p, u.n);
	b = (unsigned)((h >> 58) % FN_BUCKETS);
	if (!(sl = fn_map_find(&q->gaps[b].users, u.p, u.n, h))) {
		c->gcache[uid] = UINT64_MAX;
		return NULL;
	}
	c->gcache[uid] = ((uint64_t)b << 32 | sl->val) + 1;
	*set = &q->gaps[b];
	return &q->gaps[b].user[sl->val];
}

/* Checks the rows of one segment.  Returns 0 or a negative code. */
static int scan_seg(struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		    uint32_t seg_ord)
{
	uint32_t nb = store_seg_nblocks(g), ndict = store_seg_dict_size(g);
	int rc;

	if (fn_grow((void **)&c->gcache, &c->gcache_cap, ndict, sizeof *c->gcache) < 0)
		return -ENOMEM;
	memset(c->gcache, 0, ndict * sizeof *c->gcache);
	for (uint32_t bi = 0; bi < nb; bi++) {
		struct store_block ba, bb = {0};
		int have_b = 0;

		if ((rc = store_seg_block_info(g, bi, &ba)) < 0)
			return rc;
		if (ba.nrows == 0 || ba.max_ts < q->from || ba.min_ts >= q->to)
			continue;
		rc = store_cursor_read(c->cur_a, g, bi, COL(USER) | COL(TS), &ba);
		if (rc == ERR_CORRUPT)
			continue; /* reported in store_problems(); the gather skipped it too */
		if (rc < 0)
			return rc;
		for (uint32_t r = 0; r < ba.nrows; r++) {
			const struct fn_gapuser *gu;
			struct fn_gapset *gs;
			struct fn_ukey k;
			uint32_t uid = ba.user[r];

			if (uid == STORE_NO_STR || ba.ts[r] < q->from || ba.ts[r] >= q->to ||
			    !(gu = user_gaps(q, c, g, uid, &gs)))
				continue;
			k.ts = ba.ts[r];
			if (!mark(gs, gu, &k, 0))
				continue;
			if (!have_b) { /* the rest of the key, for rows at a gap's end */
				rc = store_cursor_read(c->cur_b, g, bi, COL(RECV) | COL(SESSION), &bb);
				if (rc == ERR_CORRUPT)
					break; /* the block is damaged: skipped, as the gather did */
				if (rc < 0)
					return rc;
				have_b = 1;
			}
			k.recv = bb.recv[r];
			{
				struct store_str s = store_seg_str(g, bb.session[r]);
				k.sess = s.p;
				k.sn = s.n;
			}
			k.ord = (uint64_t)seg_ord << 32 | (ba.row0 + r);
			mark(gs, gu, &k, 1);
		}
	}
	return 0;
}

int fn_gap_scan(struct fn_query *q, struct fn_ctx *c, size_t shard)
{
	return fn_each_seg(q, c, shard, scan_seg); /* ordinals as the gather's */
}

void fn_gap_positions(const struct fn_query *q, unsigned b, const struct fn_urec *u, size_t n,
		      uint64_t *pos)
{
	const struct fn_gapset *gs = &q->gaps[b];
	const struct fn_slot *sl;
	const struct fn_gap *g = NULL;

	if (n && (sl = fn_map_find(&gs->users, u[0].user, u[0].un, u[0].uh)))
		g = gs->gap + gs->user[sl->val].first;
	for (size_t k = 0; k < n; k++) {
		if (k == 0) {
			pos[0] = 0;
			continue;
		}
		if (g && is_link(q, &u[k - 1], &u[k])) /* the next gap of this user */
			pos[k] = pos[k - 1] + 1 + __atomic_load_n(&(g++)->blocked, __ATOMIC_RELAXED);
		else
			pos[k] = pos[k - 1] + 2;
	}
}
