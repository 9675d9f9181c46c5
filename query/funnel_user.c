/*
 * funnel_user.c — the tasks of user funnels (funnel.c runs them): phase 1
 * gathers the matching rows of each shard into buckets by user hash; phase
 * 2 groups each bucket's rows by user, sorts each user's rows in the
 * by-user order (ts, recv, session bytes, arrival) and evaluates the user.
 * Strict order runs phase 2 twice, with the gap scan of funnel_gap.c in
 * between.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "q_int.h"

/* The matching rows of segment g into c's buckets. */
static int gather_seg(struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		      uint32_t seg_ord)
{
	struct fn_segm sm;
	int64_t live = fn_segm_init(q, c, g, &sm);
	int rc;

	if (live <= 0)
		return (int)live;
	if (!c->user_runs)
		return fn_scan_seg(q, c, g, &sm, seg_ord);
	if ((rc = fn_runs_begin(c, g)) < 0 || (rc = fn_scan_seg(q, c, g, &sm, seg_ord)) < 0)
		return rc;
	return fn_runs_end(c, g, seg_ord);
}

/* Task, phase 1: the matching rows of one shard into buckets. */
int fn_gather_task(void *arg, size_t shard)
{
	struct fn_query *q = arg;
	struct fn_ctx *c = fn_ctx_take(q);
	int rc;

	if (!c)
		return -ENOMEM;
	c->all_rows = c->strict_runs = 0; /* strict by user: funnel_gap.c */
	c->user_runs = q->strict;
	c->xcollapse = q->nm > q->k && !q->strict; /* strict counts every row */
	c->run_shard = (uint32_t)shard;
	rc = fn_each_seg(q, c, shard, gather_seg);
	fn_ctx_give(q, c);
	return rc;
}

/* Task, strict order by user, between the two bucket passes: the rows of
 * one shard against the gaps (funnel_gap.c). */
int fn_gap_task(void *arg, size_t shard)
{
	struct fn_query *q = arg;
	struct fn_ctx *c = fn_ctx_take(q);
	int rc;

	if (!c)
		return -ENOMEM;
	rc = fn_gap_scan(q, c, shard);
	fn_ctx_give(q, c);
	return rc;
}

/* The by-user order of two rows of one user. */
static int urec_cmp(const void *a, const void *b)
{
	struct fn_ukey x = fn_ukey_of(a), y = fn_ukey_of(b);

	return fn_ukey_cmp(&x, &y);
}

/* The key of row x of the block whose first row is e. */
static struct fn_ukey xin_key(const struct fn_urec *e, const struct fn_xin *x)
{
	return (struct fn_ukey){x->ts, x->recv, e->sess, e->sn, x->ord};
}

/* Does a row of u[0..n) matching a step lie strictly inside block u[t]'s
 * span (its rows' least and greatest keys)? */
static int xblock_split(const struct fn_query *q, const struct fn_urec *u, size_t n, size_t t)
{
	struct fn_ukey lo = fn_ukey_of(&u[t]), hi = lo, k;
	size_t a = 0, z = n;

	if (u[t].xrise) { /* the first row and the last are the least and the greatest */
		for (a = t + 1; a < n && u[a].ts < u[t].xlast; a++)
			if (u[a].mask & q->step_bits)
				return 1;
		if (a == n || u[a].ts > u[t].xlast)
			return 0; /* decided without the block's rows */
		hi = xin_key(&u[t], &u[t].xin[u[t].xn - 1]);
		a = 0;
	}
	for (uint32_t i = 0; i < u[t].xn && !u[t].xrise; i++) {
		k = xin_key(&u[t], &u[t].xin[i]);
		if (fn_ukey_cmp(&k, &lo) < 0)
			lo = k;
		if (fn_ukey_cmp(&k, &hi) > 0)
			hi = k;
	}
	while (a < z) { /* the first row after lo */
		size_t m = a + (z - a) / 2;
		k = fn_ukey_of(&u[m]);
		if (fn_ukey_cmp(&k, &lo) <= 0)
			a = m + 1;
		else
			z = m;
	}
	for (; a < n; a++) {
		k = fn_ukey_of(&u[a]);
		if (fn_ukey_cmp(&k, &hi) >= 0)
			return 0;
		if (u[a].mask & q->step_bits)
			return 1;
	}
	return 0;
}

/*
 * One user's rows u[0..n), in order, with blocks of exclusion rows: a
 * block stands for all its rows as long as no row matching a step lies
 * inside its span — then an exclusion between two chain events holds of
 * the first row as of any other (the evaluator asks whether one lies
 * between them in the user's order).  Blocks that have such a row are
 * opened: the user's rows and theirs, sorted, into c->uexp (*u, *n).
 * Returns 0 or -ENOMEM.
 */
static int xblocks_open(const struct fn_query *q, struct fn_ctx *c, const struct fn_urec **u,
			size_t *n)
{
	const struct fn_urec *v = *u;
	size_t m = 0, extra = 0;

	for (size_t t = 0; t < *n; t++)
		if (v[t].xblock && v[t].xn && xblock_split(q, v, *n, t))
			extra += v[t].xn;
	if (!extra)
		return 0;
	if (fn_grow((void **)&c->uexp, &c->uexp_cap, *n + extra, sizeof *c->uexp) < 0)
		return -ENOMEM;
	for (size_t t = 0; t < *n; t++) {
		struct fn_urec *h = &c->uexp[m++];
		*h = v[t];
		if (!v[t].xblock || !v[t].xn || !xblock_split(q, v, *n, t))
			continue;
		h->xblock = 0; /* the block's rows, each on its own */
		h->bd = "";
		h->bdn = 0;
		h->val = NULL;
		h->valn = 0;
		for (uint32_t i = 0; i < v[t].xn; i++) {
			c->uexp[m] = *h;
			c->uexp[m].ts = v[t].xin[i].ts;
			c->uexp[m].recv = v[t].xin[i].recv;
			c->uexp[m].ord = v[t].xin[i].ord;
			m++;
		}
	}
	qsort(c->uexp, m, sizeof *c->uexp, urec_cmp);
	*u = c->uexp;
	*n = m;
	return 0;
}

/* Task, phase 2: every user of one bucket. */
int fn_bucket_task(void *arg, size_t b)
{
	struct fn_query *q = arg;
	struct fn_ctx *c = fn_ctx_take(q);
	size_t n = 0, nact = 0;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	fn_map_clear(&c->umap);
	/* actors: users in first-seen order */
	for (size_t xi = 0; xi < q->ngathered && rc == 0; xi++) {
		const struct fn_urec *last = NULL; /* rows of a run come together */
		for (struct fn_uchunk *ch = q->gathered[xi]->bucket[b]; ch && rc == 0; ch = ch->next)
			for (size_t i = 0; i < ch->n; i++) {
				struct fn_urec *e = &ch->r[i];
				int added;
				n++;
				if (last && e->user == last->user && e->un == last->un) {
					e->actor = last->actor; /* one dictionary string */
					continue;
				}
				if (fn_map_put(&c->umap, e->user, e->un, e->uh, (uint32_t)nact,
					       &e->actor, &added) < 0) {
					rc = -ENOMEM;
					break;
				}
				nact += (size_t)added;
				last = e;
			}
	}
	if (rc < 0 || n == 0)
		goto out;
	/* counting sort by actor (stable), then each user's rows in order */
	if (fn_grow((void **)&c->ucount, &c->ucount_cap, nact + 1, sizeof *c->ucount) < 0 ||
	    fn_grow((void **)&c->usorted, &c->usorted_cap, n, sizeof *c->usorted) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	memset(c->ucount, 0, (nact + 1) * sizeof *c->ucount);
	for (size_t xi = 0; xi < q->ngathered; xi++)
		for (const struct fn_uchunk *ch = q->gathered[xi]->bucket[b]; ch; ch = ch->next)
			for (size_t i = 0; i < ch->n; i++)
				c->ucount[ch->r[i].actor + 1]++;
	for (size_t a = 0; a < nact; a++)
		c->ucount[a + 1] += c->ucount[a];
	for (size_t xi = 0; xi < q->ngathered; xi++)
		for (const struct fn_uchunk *ch = q->gathered[xi]->bucket[b]; ch; ch = ch->next)
			for (size_t i = 0; i < ch->n; i++)
				c->usorted[c->ucount[ch->r[i].actor]++] = ch->r[i];
	if (q->gap_pass == 1 && (rc = fn_gap_runs(q, c, (unsigned)b, nact)) < 0)
		goto out;
	for (size_t a = 0, i = 0; a < nact && rc == 0; a++) {
		size_t j = i;
		uint64_t pos = 0;
		while (j < n && c->usorted[j].actor == a)
			j++;
		for (size_t t = i + 1; t < j; t++)
			if (urec_cmp(&c->usorted[t - 1], &c->usorted[t]) > 0) {
				qsort(c->usorted + i, j - i, sizeof *c->usorted, urec_cmp);
				break;
			}
		if (q->gap_pass == 1) { /* strict: this user's gaps, no count yet */
			rc = fn_gap_collect(q, (unsigned)b, c->usorted + i, j - i,
					    c->uruns + c->rfirst[a], c->rfirst[a + 1] - c->rfirst[a]);
			i = j;
			continue;
		}
		if (q->ext) {
			const struct fn_urec *u = c->usorted + i;
			size_t m = j - i;
			if ((q->nm > q->k && (rc = xblocks_open(q, c, &u, &m)) < 0) ||
			    (rc = fn_ext_reserve(c, m)) < 0 ||
			    fn_grow((void **)&c->upos, &c->upos_cap, m, sizeof *c->upos) < 0) {
				rc = -ENOMEM;
				break;
			}
			if (q->gap_pass == 2)
				fn_gap_positions(q, (unsigned)b, u, m, c->upos);
			for (size_t t = 0; t < m; t++) {
				const struct fn_urec *e = &u[t];
				int x = e->xblock; /* no breakdown or held value */
				fn_fx_put(q, c, t, q->gap_pass ? c->upos[t] : t, e->ts, e->mask,
					  (struct store_str){x ? "" : e->bd, x ? 0 : e->bdn},
					  (struct store_str){x ? NULL : e->val, x ? 0 : e->valn},
					  (struct store_str){e->sess, e->sn});
			}
			rc = fn_ext_actor(q, c, m);
			i = j;
			continue;
		}
		fn_state_reset(q, c->ustate);
		for (size_t t = i; t < j; t++) {
			const struct fn_urec *e = &c->usorted[t];
			fn_state_feed(q, c->ustate, ++pos, e->ts, e->mask,
				      (struct store_str){e->bd, e->bdn});
		}
		rc = fn_state_final(q, c, c->ustate);
		i = j;
	}
out:
	fn_ctx_give(q, c);
	return rc;
}
