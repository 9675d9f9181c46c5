/*
 * funnel_gap.c — strict order for user funnels without gathering every row.
 *
 * Strict order asks, of two events of a chain, whether any other event of
 * the actor lies between them.  By session a sealed segment answers that
 * from its session runs (funnel_scan.c); a user's sessions interleave, so by
 * user the runs answer most of it and the rows the rest:
 *
 *   0. the gather, besides the matching rows, walks every row of the user
 *      and time columns it reads anyway (fn_runs_*): in a sealed segment a
 *      session's rows are one run in (ts, arrival) order, so each gathered
 *      row learns whether a row of its user lies between it and the user's
 *      previous gathered row of the run (its link: clear, blocked, or
 *      unknown when timestamps tie); and every (run, user) becomes a run
 *      record with the user's first and last ts in it (an unsealed segment
 *      is one run per user, its rows in no order: links unknown).
 *   1. the matching rows are grouped and sorted by user as for any user
 *      funnel; every two consecutive ones that could be a link of a chain
 *      (the first matches step s, the second step s + 1, at most the window
 *      apart) become a gap (fn_gap_collect).  A gap inside one run is
 *      decided by its link when no other run of the user overlaps it in
 *      time; any other gap asks the scan for the rows of every run of the
 *      user that overlaps it.
 *   2. the rows asked for are checked against the gaps of their user: a row
 *      strictly between the two ends in the by-user order marks the gap
 *      blocked (fn_gap_scan).  Rows are only looked at, never kept.
 *   3. the users are evaluated again, each matching row taking a position
 *      that advances by 1 over an open gap and by 2 over any other pair
 *      (fn_gap_positions): a pair that is no gap can be no link, so saying
 *      "not adjacent" of it changes nothing.
 *
 * The by-user order is (ts, recv, session bytes, ord), ord = segment ordinal
 * in the shard << 32 | row, as the gather numbers it (funnel_scan.c).  A
 * clear link needs no tie: the two rows' timestamps differ, and the user's
 * rows just before and after them in the run have other timestamps too, so
 * every other row of the user in the run is before or after both whatever
 * the rest of the key says; a blocked link has a row of the user between
 * them in the run with a timestamp strictly between theirs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "q_int.h"

#define COL(c) (1u << STORE_COL_##c)

/* ---- 0. the gather: runs and links ------------------------------------------------- */

/* One user of the current run. */
struct fn_runu {
	uint32_t uid;
	uint32_t hit_row;     /* segment row of `hit` */
	int64_t ts0, ts1;     /* the user's first and last ts in the run */
	struct fn_urec *hit;  /* its last gathered row in the run, NULL: none yet */
	int64_t hit_ts;	      /* and that row's ts */
	int64_t first_gt;     /* the first row after `hit` with a greater ts, else INT64_MAX */
	uint32_t nbetween;    /* rows of the user after `hit` */
	uint8_t seen;	      /* a row of the user came before (ts1 is its ts) */
	uint8_t hit_tie;      /* the user's row before `hit` has hit's ts */
	uint8_t check_next;   /* the next row of the user decides whether hit ties */
};

static struct fn_rchunk *rchunk_new(struct fn_ctx *c)
{
	struct fn_rchunk *ch = q_engine_chunk_get(c->e);

	if (ch) {
		ch->next = NULL;
		ch->n = 0;
	}
	return ch;
}

/* Every user of the current run into c->rbucket; the run is left empty. */
static int runs_flush(struct fn_ctx *c, const struct store_seg *g, uint32_t seg_ord)
{
	int sealed = store_seg_sealed(g);
	struct store_str s = {NULL, 0};

	if (!c->nrunu)
		return 0;
	if (sealed)
		s = store_seg_str(g, c->run_sid);
	for (size_t i = 0; i < c->nrunu; i++) {
		const struct fn_runu *e = &c->runu[i];
		struct store_str u = store_seg_str(g, e->uid);
		uint64_t h = fn_hash(u.p, u.n);
		unsigned b = (unsigned)((h >> 58) % FN_BUCKETS);
		struct fn_rchunk *t = c->rtail[b];

		c->uidx[e->uid] = 0;
		if (!t || t->n == FN_RCHUNK_CAP) {
			struct fn_rchunk *ch = rchunk_new(c);
			if (!ch)
				return -ENOMEM;
			if (t)
				t->next = ch;
			else
				c->rbucket[b] = ch;
			c->rtail[b] = t = ch;
		}
		t->r[t->n++] = (struct fn_urun){.ts0 = e->ts0,
						.ts1 = e->ts1,
						.uh = h,
						.user = u.p,
						.sess = s.p,
						.un = u.n,
						.shard = c->run_shard,
						.seg_ord = seg_ord,
						.row0 = sealed ? c->run_row0 : 0,
						.nrows = sealed ? c->run_row1 - c->run_row0 : 0};
	}
	c->nrunu = 0;
	return 0;
}

int fn_runs_begin(struct fn_ctx *c, const struct store_seg *g)
{
	uint32_t ndict = store_seg_dict_size(g);

	if (fn_grow((void **)&c->uidx, &c->uidx_cap, ndict, sizeof *c->uidx) < 0)
		return -ENOMEM;
	memset(c->uidx, 0, ndict * sizeof *c->uidx);
	c->nrunu = 0;
	c->run_sid = UINT32_MAX;
	return 0;
}

int fn_runs_end(struct fn_ctx *c, const struct store_seg *g, uint32_t seg_ord)
{
	return runs_flush(c, g, seg_ord);
}

/* The entry of user uid in the current run, made with first ts t. */
static struct fn_runu *runu_of(struct fn_ctx *c, uint32_t uid, int64_t t)
{
	uint32_t x = c->uidx[uid];

	if (!x) {
		if (fn_grow((void **)&c->runu, &c->runu_cap, c->nrunu + 1, sizeof *c->runu) < 0)
			return NULL;
		c->runu[c->nrunu] = (struct fn_runu){.uid = uid, .ts0 = t, .ts1 = t};
		c->uidx[uid] = x = (uint32_t)++c->nrunu;
	}
	return &c->runu[x - 1];
}

/* Rows ts[0..n) of user uid, none gathered, all within the query. */
static int runs_stretch(struct fn_ctx *c, int sealed, uint32_t uid, const int64_t *ts, uint32_t n)
{
	struct fn_runu *e = runu_of(c, uid, ts[0]);

	if (!e)
		return -ENOMEM;
	if (!sealed) { /* rows in arrival order: the span only */
		for (uint32_t i = 0; i < n; i++) {
			e->ts0 = ts[i] < e->ts0 ? ts[i] : e->ts0;
			e->ts1 = ts[i] > e->ts1 ? ts[i] : e->ts1;
		}
		return 0;
	}
	if (e->check_next) { /* the row after the last hit */
		if (ts[0] == e->hit_ts && e->hit->link == FN_LINK_CLEAR)
			e->hit->link = FN_LINK_UNKNOWN;
		e->check_next = 0;
	}
	if (e->hit) {
		e->nbetween += n;
		for (uint32_t i = 0; i < n && e->first_gt == INT64_MAX; i++)
			if (ts[i] > e->hit_ts)
				e->first_gt = ts[i];
	}
	e->ts1 = ts[n - 1];
	e->seen = 1;
	return 0;
}

/* Row `row` (ts t) of user uid, gathered as `hit`, of a sealed run. */
static int runs_hit(struct fn_ctx *c, uint32_t uid, int64_t t, uint32_t row, struct fn_urec *hit)
{
	struct fn_runu *e = runu_of(c, uid, t);

	if (!e)
		return -ENOMEM;
	if (e->check_next) {
		if (t == e->hit_ts && e->hit->link == FN_LINK_CLEAR)
			e->hit->link = FN_LINK_UNKNOWN;
		e->check_next = 0;
	}
	if (!e->hit)
		hit->link = FN_LINK_NONE;
	else if (e->nbetween)
		hit->link = e->first_gt < t ? FN_LINK_BLOCKED : FN_LINK_UNKNOWN;
	else
		hit->link = e->hit_ts < t && !e->hit_tie ? FN_LINK_CLEAR : FN_LINK_UNKNOWN;
	hit->prev_row = e->hit_row;
	e->hit_tie = e->seen && e->ts1 == t;
	e->hit = hit;
	e->hit_row = row;
	e->hit_ts = t;
	e->nbetween = 0;
	e->first_gt = INT64_MAX;
	e->check_next = 1;
	e->ts1 = t;
	e->seen = 1;
	return 0;
}

int fn_runs_block(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		  uint32_t seg_ord, const struct store_block *bb)
{
	int sealed = store_seg_sealed(g), inside = bb->min_ts >= q->from && bb->max_ts < q->to, rc;
	const uint32_t *user = bb->user, *sess = bb->session;
	const int64_t *ts = bb->ts;
	uint32_t n = bb->nrows, r = 0;
	size_t k = 0;

	while (r < n) {
		uint32_t lim = k < c->nsunk ? c->sunk_row[k] : n, uid = user[r], e = r + 1;

		if (sealed && sess[r] != c->run_sid) { /* a new run */
			if ((rc = runs_flush(c, g, seg_ord)) < 0)
				return rc;
			c->run_sid = sess[r];
			c->run_row0 = (uint32_t)bb->row0 + r;
		}
		if (r == lim) { /* a gathered row: in range, with a user */
			struct fn_urec *hit = c->sunk_rec[k++];
			c->run_row1 = (uint32_t)bb->row0 + r + 1;
			rc = sealed ? runs_hit(c, uid, ts[r], (uint32_t)bb->row0 + r, hit)
				    : runs_stretch(c, 0, uid, ts + r, 1);
			if (rc < 0)
				return rc;
			hit->link = sealed ? hit->link : FN_LINK_NONE;
			r++;
			continue;
		}
		/* a stretch of rows of one user (and run), none gathered */
		if (sealed)
			while (e < lim && user[e] == uid && sess[e] == sess[r])
				e++;
		else
			while (e < lim && user[e] == uid)
				e++;
		c->run_row1 = (uint32_t)bb->row0 + e;
		if (uid != STORE_NO_STR) {
			for (uint32_t i = r; i < e && !inside; i++) /* rows outside: none */
				if (ts[i] < q->from || ts[i] >= q->to) {
					e = i + (i == r); /* up to it, or past it alone */
					break;
				}
			if (ts[r] >= q->from && ts[r] < q->to &&
			    (rc = runs_stretch(c, sealed, uid, ts + r, e - r)) < 0)
				return rc;
		}
		r = e;
	}
	return 0;
}

/* ---- 1. gaps ------------------------------------------------------------------------ */

static int urun_cmp(const void *a, const void *b)
{
	const struct fn_urun *x = a, *y = b;

	return (x->ts0 > y->ts0) - (x->ts0 < y->ts0);
}

int fn_gap_runs(struct fn_query *q, struct fn_ctx *c, unsigned b, size_t nact)
{
	size_t n = 0;

	if (fn_grow((void **)&c->rfirst, &c->rfirst_cap, nact + 1, sizeof *c->rfirst) < 0)
		return -ENOMEM;
	memset(c->rfirst, 0, (nact + 1) * sizeof *c->rfirst);
	/* each run of an actor of this bucket: its actor, counted */
	for (size_t xi = 0; xi < q->ngathered; xi++)
		for (struct fn_rchunk *ch = q->gathered[xi]->rbucket[b]; ch; ch = ch->next)
			for (size_t i = 0; i < ch->n; i++) {
				struct fn_urun *r = &ch->r[i];
				const struct fn_slot *sl = fn_map_find(&c->umap, r->user, r->un, r->uh);
				r->actor = sl ? sl->val : FN_EMPTY;
				if (sl) {
					c->rfirst[sl->val + 1]++;
					n++;
				}
			}
	if (fn_grow((void **)&c->uruns, &c->uruns_cap, n + 1, sizeof *c->uruns) < 0)
		return -ENOMEM;
	for (size_t a = 0; a < nact; a++)
		c->rfirst[a + 1] += c->rfirst[a];
	for (size_t xi = 0; xi < q->ngathered; xi++)
		for (const struct fn_rchunk *ch = q->gathered[xi]->rbucket[b]; ch; ch = ch->next)
			for (size_t i = 0; i < ch->n; i++)
				if (ch->r[i].actor != FN_EMPTY)
					c->uruns[c->rfirst[ch->r[i].actor]++] = ch->r[i];
	for (size_t a = nact; a > 0; a--) /* back to the first of each actor */
		c->rfirst[a] = c->rfirst[a - 1];
	c->rfirst[0] = 0;
	for (size_t a = 0; a < nact; a++)
		if (c->rfirst[a + 1] - c->rfirst[a] > 1)
			qsort(c->uruns + c->rfirst[a], c->rfirst[a + 1] - c->rfirst[a],
			      sizeof *c->uruns, urun_cmp);
	return 0;
}

/* Could hits a then b (consecutive in the user's order) be a link? */
static int is_link(const struct fn_query *q, const struct fn_urec *a, const struct fn_urec *b)
{
	return ((a->mask & q->step_bits) << 1 & b->mask & q->step_bits) &&
	       b->ts - a->ts <= q->window;
}

/* Does run x overlap gap a, z in time? */
static int overlaps(const struct fn_urun *x, const struct fn_urec *a, const struct fn_urec *z)
{
	return x->ts0 <= z->ts && x->ts1 >= a->ts;
}

/* What the runs r[0..nr) of the user say of its gap a, z: a link
 * (FN_LINK_CLEAR, FN_LINK_BLOCKED), or FN_LINK_UNKNOWN after asking the
 * scan for the rows of every run that overlaps it.  -ENOMEM. */
static int gap_decide(struct fn_gapset *gs, const struct fn_urec *a, const struct fn_urec *z,
		      const struct fn_urun *r, size_t nr)
{
	int link = FN_LINK_UNKNOWN;

	if (z->link != FN_LINK_NONE && z->sess == a->sess && z->ord >> 32 == a->ord >> 32 &&
	    z->prev_row == (uint32_t)a->ord) /* one run, and z's link is to a */
		link = z->link;
	if (link == FN_LINK_BLOCKED)
		return link;
	for (size_t i = 0; i < nr && r[i].ts0 <= z->ts; i++) /* a first or last row between */
		if ((r[i].ts0 > a->ts && r[i].ts0 < z->ts) || (r[i].ts1 > a->ts && r[i].ts1 < z->ts))
			return FN_LINK_BLOCKED;
	if (link == FN_LINK_CLEAR) { /* true unless another run overlaps */
		for (size_t i = 0; i < nr && r[i].ts0 <= z->ts; i++)
			if (overlaps(&r[i], a, z) &&
			    !(r[i].sess == a->sess && r[i].seg_ord == a->ord >> 32))
				link = FN_LINK_UNKNOWN;
		if (link == FN_LINK_CLEAR)
			return link;
	}
	for (size_t i = 0; i < nr && r[i].ts0 <= z->ts; i++) {
		if (!overlaps(&r[i], a, z))
			continue;
		if (fn_grow((void **)&gs->req, &gs->req_cap, gs->nreq + 1, sizeof *gs->req) < 0)
			return -ENOMEM;
		gs->req[gs->nreq++] = (struct fn_scanreq){r[i].shard, r[i].seg_ord, r[i].row0,
							  r[i].nrows};
	}
	return link;
}

int fn_gap_collect(struct fn_query *q, unsigned b, const struct fn_urec *u, size_t n,
		   const struct fn_urun *r, size_t nr)
{
	struct fn_gapset *gs = &q->gaps[b];
	size_t first = gs->ngap;
	uint32_t idx;
	int added, link;

	for (size_t k = 0; k + 1 < n; k++) {
		if (!is_link(q, &u[k], &u[k + 1]))
			continue;
		if ((link = gap_decide(gs, &u[k], &u[k + 1], r, nr)) < 0 ||
		    fn_grow((void **)&gs->gap, &gs->gap_cap, gs->ngap + 1, sizeof *gs->gap) < 0)
			return -ENOMEM;
		gs->gap[gs->ngap++] = (struct fn_gap){.a = fn_ukey_of(&u[k]),
						      .z = fn_ukey_of(&u[k + 1]),
						      .blocked = link == FN_LINK_BLOCKED};
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

static int scanreq_cmp(const void *a, const void *b)
{
	const struct fn_scanreq *x = a, *y = b;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	if (x->seg_ord != y->seg_ord)
		return x->seg_ord < y->seg_ord ? -1 : 1;
	return (x->row0 > y->row0) - (x->row0 < y->row0);
}

int fn_gap_plan(struct fn_query *q, size_t nshards)
{
	size_t n = 0, at = 0;

	for (unsigned b = 0; b < FN_BUCKETS; b++)
		n += q->gaps[b].nreq;
	if (!(q->scan = malloc((n + 1) * sizeof *q->scan)) ||
	    !(q->scan_first = calloc(nshards + 1, sizeof *q->scan_first)))
		return -ENOMEM;
	for (unsigned b = 0; b < FN_BUCKETS; b++) {
		if (q->gaps[b].nreq)
			memcpy(q->scan + at, q->gaps[b].req, q->gaps[b].nreq * sizeof *q->scan);
		at += q->gaps[b].nreq;
	}
	qsort(q->scan, n, sizeof *q->scan, scanreq_cmp);
	for (size_t s = 0, i = 0; s <= nshards; s++) {
		while (i < n && q->scan[i].shard < s)
			i++;
		q->scan_first[s] = i;
	}
	return 0;
}

/* ---- 2. the scan --------------------------------------------------------------------- */

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
	size_t i = c->scan_at, end = q->scan_first[c->run_shard + 1];
	uint64_t reach = 0; /* the end of the requests seen so far, in rows */
	int rc;

	while (i < end && q->scan[i].seg_ord < seg_ord)
		i++;
	c->scan_at = i;
	if (i == end || q->scan[i].seg_ord != seg_ord)
		return 0; /* no row of it asked for */
	if (fn_grow((void **)&c->gcache, &c->gcache_cap, ndict, sizeof *c->gcache) < 0)
		return -ENOMEM;
	memset(c->gcache, 0, ndict * sizeof *c->gcache);
	for (uint32_t bi = 0; bi < nb; bi++) {
		struct store_block ba, bb = {0};
		int have_b = 0;

		if ((rc = store_seg_block_info(g, bi, &ba)) < 0)
			return rc;
		/* the requests (by row0) that start before the block's end: does
		 * one of them reach into it? */
		for (; i < end && q->scan[i].seg_ord == seg_ord &&
		       q->scan[i].row0 < ba.row0 + ba.nrows;
		     i++) {
			const struct fn_scanreq *x = &q->scan[i];
			uint64_t e = x->nrows ? (uint64_t)x->row0 + x->nrows : UINT64_MAX;
			reach = e > reach ? e : reach;
		}
		if (reach <= ba.row0)
			continue;
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
	if (q->scan_first[shard] == q->scan_first[shard + 1])
		return 0;
	c->run_shard = (uint32_t)shard;
	c->scan_at = q->scan_first[shard];
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
