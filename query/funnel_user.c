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
			if ((rc = fn_ext_reserve(c, j - i)) < 0 ||
			    fn_grow((void **)&c->upos, &c->upos_cap, j - i, sizeof *c->upos) < 0) {
				rc = -ENOMEM;
				break;
			}
			if (q->gap_pass == 2)
				fn_gap_positions(q, (unsigned)b, c->usorted + i, j - i, c->upos);
			for (size_t t = i; t < j; t++) {
				const struct fn_urec *e = &c->usorted[t];
				fn_fx_put(q, c, t - i, q->gap_pass ? c->upos[t - i] : t - i, e->ts,
					  e->mask, (struct store_str){e->bd, e->bdn},
					  (struct store_str){e->val, e->valn},
					  (struct store_str){e->sess, e->sn});
			}
			rc = fn_ext_actor(q, c, j - i);
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
