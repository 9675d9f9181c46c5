/*
 * funnel_ext.c — the general evaluation of one actor, for funnels that ask
 * for more than windowFunnel: strict or any order, per-step windows,
 * exclusions, a value held constant, entries.  The default funnel keeps the
 * streaming pass of funnel_agg.c; this runs on the actor's gathered events.
 *
 * Input: the actor's events in its order (funnel.c), each with the steps
 * and exclusions it matches, its hold-constant value and its position in
 * the actor's full sequence.
 *
 * Ordered and strict (fx_eval)
 *
 *   A chain is e1 < e2 < ... < eL (indices into the events), ei matching
 *   step i, with
 *     window     ts(eL) - ts(e1) <= window
 *     gaps       for each i > 1:  after[i] <= ts(ei) - ts(ei-1) <= within[i]
 *                (within < 0: no upper bound), no event strictly between
 *                ei-1 and ei matches an exclusion whose [from, to) step range
 *                contains i-1 (gapx), ei-1 itself matches no exclusion
 *                whose range holds it strictly inside (interx: it has a
 *                next event, ei), and, strict, ei is the event right
 *                after ei-1 in the actor's full sequence (pos + 1)
 *     same       every ei carries a value and all are equal
 *   Every condition but the window and `same` involves two consecutive
 *   events only, and a prefix of a chain is a chain; so the level (the
 *   longest chain) comes from one pass over the events keeping, per step s
 *   and event i, the latest first event of a chain of s+1 events ending at
 *   i (best[s][i]): a later first event is never worse for the window, and
 *   `same` is decided by i's own value.
 *
 *   Counted chain: among the longest, the one with the latest first event,
 *   then the earliest second, third, ... event (as funnel.c's default):
 *   with the first fixed, reach[s][i] marks the events that can be step s,
 *   ok[s][i] those from which the chain can still be completed, and a
 *   greedy walk takes the earliest ok event at each step.
 *
 *   Cost: O(k · n · w) for n events and at most w events within the window
 *   before each; the scan of earlier events for a step stops at the window,
 *   at the within bound and at the first excluded event.
 *
 * Any order (fx_eval_any)
 *
 *   The level is the largest number of distinct steps whose matching
 *   events (distinct events, one per step) fall within one window; the
 *   counted set is the one whose earliest event is latest.  Per candidate
 *   earliest event the window's events are grouped by step mask and the
 *   largest step-to-event matching is found by augmenting paths (k <= 16).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "q_int.h"

static int grow_ws(struct fx_work *w, size_t n, unsigned k, unsigned nx)
{
	if (fn_grow((void **)&w->best, &w->best_cap, (size_t)k * n, sizeof *w->best) < 0 ||
	    fn_grow((void **)&w->ok, &w->ok_cap, (size_t)k * n, 1) < 0 ||
	    fn_grow((void **)&w->xcnt, &w->xcnt_cap, (size_t)(nx ? nx : 1) * (n + 1),
		    sizeof *w->xcnt) < 0)
		return -ENOMEM;
	return 0;
}

/* xcnt[x * (n + 1) + i]: events before i matching exclusion x. */
static void count_excl(const struct fx_spec *sp, const struct fx_ev *ev, size_t n,
		       struct fx_work *w)
{
	for (unsigned x = 0; x < sp->nx; x++) {
		uint32_t *c = w->xcnt + (size_t)x * (n + 1), bit = 1u << x;
		c[0] = 0;
		for (size_t i = 0; i < n; i++)
			c[i + 1] = c[i] + ((ev[i].xmask & bit) != 0);
	}
}

/* 1 when some event strictly between j and i matches an exclusion of
 * `mask`. */
static int excluded_between(const struct fx_spec *sp, const struct fx_work *w, size_t n,
			    uint32_t mask, size_t j, size_t i)
{
	for (; mask; mask &= mask - 1) {
		unsigned x = (unsigned)__builtin_ctz(mask);
		const uint32_t *c = w->xcnt + (size_t)x * (n + 1);
		if (x < sp->nx && c[i] - c[j + 1])
			return 1;
	}
	return 0;
}

/* Can event e be step s of a chain at all: it matches the step and
 * carries the held value. */
static int ev_ok(const struct fx_spec *sp, const struct fx_ev *e, unsigned s)
{
	return (e->mask & (1u << s)) && !(sp->same && e->val == FX_NOVAL);
}

/* Can event i take step s right after event j (step s - 1)?  Everything
 * but the window and ev_ok(). */
static int gap_ok(const struct fx_spec *sp, const struct fx_ev *ev, const struct fx_work *w,
		  size_t n, size_t j, size_t i, unsigned s)
{
	int64_t d = ev[i].ts - ev[j].ts;

	if (d < sp->after[s] || (sp->within[s] >= 0 && d > sp->within[s]))
		return 0;
	if (sp->order == Q_ORDER_STRICT && ev[i].pos != ev[j].pos + 1)
		return 0;
	if (sp->same && ev[i].val != ev[j].val)
		return 0;
	/* j, followed by i, lies strictly inside the range of interx[s-1] */
	if (ev[j].xmask & sp->interx[s - 1])
		return 0;
	return !excluded_between(sp, w, n, sp->gapx[s - 1], j, i);
}

/* Latest first event (index) of a chain of steps 1..s+1 ending at i, or -1;
 * fills w->best for every step and event.  `start` >= 0 allows only chains
 * that begin there.  Returns the level. */
static unsigned fill_best(const struct fx_spec *sp, const struct fx_ev *ev, size_t n,
			  struct fx_work *w, ptrdiff_t start)
{
	unsigned k = sp->k, level = 0;
	int32_t *best = w->best;

	for (size_t i = 0; i < n; i++) {
		for (unsigned s = 0; s < k; s++)
			best[(size_t)s * n + i] = -1;
		if (ev_ok(sp, &ev[i], 0) && (start < 0 || (size_t)start == i)) {
			best[i] = (int32_t)i;
			if (level < 1)
				level = 1;
		}
		for (unsigned s = 1; s < k; s++) {
			int32_t b = -1;
			if (!ev_ok(sp, &ev[i], s))
				continue;
			for (size_t j = i; j-- > 0;) {
				int64_t d = ev[i].ts - ev[j].ts;
				int32_t f;
				if (d > sp->window || (sp->within[s] >= 0 && d > sp->within[s]))
					break; /* earlier events are farther still */
				if (sp->order == Q_ORDER_STRICT && ev[j].pos + 1 < ev[i].pos)
					break;
				f = best[(size_t)(s - 1) * n + j];
				if (f > b && ev[i].ts - ev[f].ts <= sp->window &&
				    gap_ok(sp, ev, w, n, j, i, s))
					b = f;
				if (ev[j].xmask & sp->gapx[s - 1])
					break; /* j lies between any earlier event and i */
			}
			best[(size_t)s * n + i] = b;
			if (b >= 0 && level < s + 1)
				level = s + 1;
		}
	}
	return level;
}

/* With the first event f fixed and the level L known: the counted chain
 * into chain[0..L).  Uses w->ok as reach/ok flags. */
static void walk_chain(const struct fx_spec *sp, const struct fx_ev *ev, size_t n,
		       struct fx_work *w, size_t f, unsigned L, uint32_t *chain)
{
	uint8_t *ok = w->ok;

	/* reach: event i can be step s of a chain from f (window from f).  The
	 * scans stop where fill_best's do: past the within bound, past an
	 * event that is not the next one (strict). */
	memset(ok, 0, (size_t)L * n);
	ok[f] = 1;
	for (unsigned s = 1; s < L; s++)
		for (size_t i = f + 1; i < n && ev[i].ts - ev[f].ts <= sp->window; i++) {
			if (!ev_ok(sp, &ev[i], s))
				continue;
			for (size_t j = i; j-- > f;) {
				int64_t d = ev[i].ts - ev[j].ts;
				if ((sp->within[s] >= 0 && d > sp->within[s]) ||
				    (sp->order == Q_ORDER_STRICT && ev[j].pos + 1 < ev[i].pos))
					break;
				if (ok[(size_t)(s - 1) * n + j] && gap_ok(sp, ev, w, n, j, i, s)) {
					ok[(size_t)s * n + i] = 1;
					break;
				}
			}
		}
	/* ok: reachable and completable to step L (backwards) */
	for (unsigned s = L - 1; s-- > 0;)
		for (size_t j = f; j < n && ev[j].ts - ev[f].ts <= sp->window; j++) {
			int any = 0;
			if (!ok[(size_t)s * n + j])
				continue;
			for (size_t i = j + 1; i < n && ev[i].ts - ev[f].ts <= sp->window && !any;
			     i++) {
				int64_t d = ev[i].ts - ev[j].ts;
				if ((sp->within[s + 1] >= 0 && d > sp->within[s + 1]) ||
				    (sp->order == Q_ORDER_STRICT && ev[i].pos > ev[j].pos + 1))
					break;
				any = ok[(size_t)(s + 1) * n + i] && gap_ok(sp, ev, w, n, j, i, s + 1);
			}
			ok[(size_t)s * n + j] = (uint8_t)any;
		}
	chain[0] = (uint32_t)f;
	for (unsigned s = 1; s < L; s++) {
		size_t i = chain[s - 1] + 1;
		while (i < n && !(ok[(size_t)s * n + i] && gap_ok(sp, ev, w, n, chain[s - 1], i, s)))
			i++;
		chain[s] = (uint32_t)i; /* exists: ok[s-1][chain[s-1]] said so */
	}
}

int fx_eval(const struct fx_spec *sp, const struct fx_ev *ev, size_t n, struct fx_work *w,
	    ptrdiff_t start, uint32_t *chain)
{
	unsigned L;
	int32_t f = -1;

	if (n == 0)
		return 0;
	if (grow_ws(w, n, sp->k, sp->nx) < 0)
		return -ENOMEM;
	count_excl(sp, ev, n, w);
	L = fill_best(sp, ev, n, w, start);
	if (L == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int32_t b = w->best[(size_t)(L - 1) * n + i];
		if (b > f)
			f = b;
	}
	walk_chain(sp, ev, n, w, (size_t)f, L, chain);
	return (int)L;
}

/* ---- any order ---------------------------------------------------------------- */

/* Steps to event classes (mask[c], cnt[c] events each): a bipartite
 * matching with capacities, by augmenting paths (Kuhn), at most 16 steps. */
struct match {
	const uint32_t *mask, *cnt;
	unsigned nc;
	uint32_t used[64]; /* events of class c taken */
	int owner[32];	   /* class serving step s, -1: none */
	uint64_t seen;	   /* classes visited in this search */
};

static int augment(struct match *m, unsigned s)
{
	for (unsigned c = 0; c < m->nc; c++) {
		if (!(m->mask[c] & (1u << s)) || (m->seen >> c & 1))
			continue;
		m->seen |= (uint64_t)1 << c;
		if (m->used[c] < m->cnt[c]) {
			m->used[c]++;
			m->owner[s] = (int)c;
			return 1;
		}
		for (unsigned t = 0; t < 32; t++)
			if (m->owner[t] == (int)c && augment(m, t)) {
				/* t moved to another class: s takes its place in c */
				m->owner[s] = (int)c;
				return 1;
			}
	}
	return 0;
}

/* Largest number of the steps in `steps` served by distinct events. */
static unsigned matching(uint32_t steps, const uint32_t *mask, const uint32_t *cnt, unsigned nc)
{
	struct match m = {.mask = mask, .cnt = cnt, .nc = nc};
	unsigned size = 0;

	for (unsigned t = 0; t < 32; t++)
		m.owner[t] = -1;
	for (uint32_t x = steps; x; x &= x - 1) {
		m.seen = 0;
		size += (unsigned)augment(&m, (unsigned)__builtin_ctz(x));
	}
	return size;
}

/* Steps coverable by the events in [i, r] with event i used for one of its
 * steps; classes by mask (at most 64 distinct masks are tracked: more is
 * treated as the first 64, a bound no realistic actor reaches). */
static unsigned level_at(const struct fx_spec *sp, const struct fx_ev *ev, size_t i, size_t r,
			 uint32_t all)
{
	uint32_t mask[64], cnt[64], best = 0;
	unsigned nc = 0;

	for (size_t j = i + 1; j <= r; j++) {
		uint32_t m = ev[j].mask & all;
		unsigned c;
		if (!m || (sp->same && ev[j].val != ev[i].val))
			continue;
		for (c = 0; c < nc && mask[c] != m; c++)
			;
		if (c == nc) {
			if (nc == 64)
				continue;
			mask[nc] = m;
			cnt[nc++] = 0;
		}
		if (cnt[c] < sp->k)
			cnt[c]++;
	}
	for (uint32_t x = ev[i].mask & all; x; x &= x - 1) {
		unsigned s = (unsigned)__builtin_ctz(x);
		unsigned got = 1 + matching(all & ~(1u << s), mask, cnt, nc);
		if (got > best)
			best = got;
	}
	return best;
}

int fx_eval_any(const struct fx_spec *sp, const struct fx_ev *ev, size_t n, uint32_t *first)
{
	uint32_t all = sp->k >= 32 ? UINT32_MAX : (1u << sp->k) - 1;
	unsigned level = 0;
	size_t r = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned l;
		if (!(ev[i].mask & all) || (sp->same && ev[i].val == FX_NOVAL))
			continue;
		if (r < i)
			r = i;
		while (r + 1 < n && ev[r + 1].ts - ev[i].ts <= sp->window)
			r++;
		l = level_at(sp, ev, i, r, all);
		if (l >= level && l > 0) { /* >=: the latest earliest event */
			level = l;
			*first = (uint32_t)i;
		}
	}
	return (int)level;
}

void fx_work_fini(struct fx_work *w)
{
	free(w->best);
	free(w->ok);
	free(w->xcnt);
	memset(w, 0, sizeof *w);
}

/* ---- counting an actor ------------------------------------------------------------ */

int fn_ext_reserve(struct fn_ctx *c, size_t n)
{
	size_t cap = c->fx_cap;
	void *p;

	if (n <= cap)
		return 0;
	while (cap < n)
		cap = cap ? cap * 2 : 256;
	/* four arrays of cap entries each, sharing fx_cap */
	if (!(p = realloc(c->fxev, cap * sizeof *c->fxev)))
		return -ENOMEM;
	c->fxev = p;
	if (!(p = realloc(c->fxbd, cap * sizeof *c->fxbd)))
		return -ENOMEM;
	c->fxbd = p;
	if (!(p = realloc(c->fxval, cap * sizeof *c->fxval)))
		return -ENOMEM;
	c->fxval = p;
	if (!(p = realloc(c->fxkey, cap * sizeof *c->fxkey)))
		return -ENOMEM;
	c->fxkey = p;
	if (!(p = realloc(c->fxsess, cap * sizeof *c->fxsess)))
		return -ENOMEM;
	c->fxsess = p;
	c->fx_cap = cap;
	return 0;
}

static int val_cmp(const void *a, const void *b, void *arg)
{
	const struct store_str *v = arg;
	struct store_str x = v[*(const uint64_t *)a], y = v[*(const uint64_t *)b];
	int d;

	if (x.n != y.n)
		return x.n < y.n ? -1 : 1;
	d = x.n ? memcmp(x.p, y.p, x.n) : 0;
	if (d)
		return d;
	return *(const uint64_t *)a < *(const uint64_t *)b ? -1 : 1;
}

/* fxev[i].val: equal held values get equal ids, absent ones FX_NOVAL. */
static void intern_vals(struct fn_ctx *c, size_t n)
{
	size_t m = 0;
	uint32_t id = 0;

	for (size_t i = 0; i < n; i++) {
		c->fxev[i].val = FX_NOVAL;
		if (c->fxval[i].p)
			c->fxkey[m++] = i;
	}
	qsort_r(c->fxkey, m, sizeof *c->fxkey, val_cmp, c->fxval);
	for (size_t j = 0; j < m; j++) {
		struct store_str x = c->fxval[c->fxkey[j]];
		if (j > 0) {
			struct store_str y = c->fxval[c->fxkey[j - 1]];
			id += x.n != y.n || (x.n && memcmp(x.p, y.p, x.n) != 0);
		}
		c->fxev[c->fxkey[j]].val = id;
	}
}

/* Is sample a better pick than b: later, then smaller session bytes. */
static int sample_before(const struct fn_sample *a, const struct fn_sample *b)
{
	size_t n = a->sess.n < b->sess.n ? a->sess.n : b->sess.n;
	int d;

	if (a->ts != b->ts)
		return a->ts > b->ts;
	d = n ? memcmp(a->sess.p, b->sess.p, n) : 0;
	return d ? d < 0 : a->sess.n < b->sess.n;
}

/* Keeps (ts, sess) among the q->nsamp best samples of (kind, step). */
static void offer_sample(const struct fn_query *q, struct fn_ctx *c, int kind, unsigned step,
			 int64_t ts, struct store_str sess)
{
	struct fn_sample *a = c->smp + ((size_t)kind * q->k + step) * q->nsamp, x = {ts, sess};
	uint32_t *n = &c->nsmp[kind][step], worst = 0;

	if (*n < q->nsamp) {
		a[(*n)++] = x;
		return;
	}
	for (uint32_t i = 1; i < *n; i++)
		if (sample_before(&a[worst], &a[i]))
			worst = i;
	if (sample_before(&x, &a[worst]))
		a[worst] = x;
}

/* The trend interval of time t: floor(t / trend) * trend. */
static int64_t interval_of(int64_t t, int64_t trend)
{
	int64_t b = t / trend;
	if (t % trend < 0)
		b--;
	return b * trend;
}

static int add_trend(const struct fn_query *q, struct fn_ctx *c, int64_t first_ts, int level)
{
	if (!q->trend || level <= 0)
		return 0;
	if (fn_grow((void **)&c->trec, &c->trec_cap, c->ntrec + 1, sizeof *c->trec) < 0)
		return -ENOMEM;
	c->trec[c->ntrec++] = (struct fn_trec){interval_of(first_ts, q->trend), (uint32_t)level};
	return 0;
}

/* Counts the chain found by fx_eval() over ev[0..), chain[0..level), and
 * records its samples, time to convert and trend interval. */
static int count_chain(const struct fn_query *q, struct fn_ctx *c, const struct fx_ev *ev,
		       const struct store_str *bd, const struct store_str *sess,
		       const uint32_t *chain, int level)
{
	int64_t ts[Q_MAX_STEPS];
	int rc;

	if (level <= 0)
		return level;
	for (int s = 0; s < level; s++)
		ts[s] = ev[chain[s]].ts;
	if ((rc = fn_count_level(q, c, bd[chain[0]], (unsigned)level, ts)) < 0)
		return rc;
	if (q->nsamp) {
		for (int s = 0; s < level; s++)
			offer_sample(q, c, 0, (unsigned)s, ts[s], sess[chain[s]]);
		if (level < (int)q->k)
			offer_sample(q, c, 1, (unsigned)level, ts[level - 1], sess[chain[level - 1]]);
	}
	if (q->ttc_to && level >= (int)q->ttc_to) {
		if (fn_grow((void **)&c->ttc, &c->ttc_cap, c->nttc + 1, sizeof *c->ttc) < 0)
			return -ENOMEM;
		c->ttc[c->nttc++] = ts[q->ttc_to - 1] - ts[q->ttc_from - 1];
	}
	return add_trend(q, c, ts[0], level);
}

/* Ext funnels: event i of the actor being gathered into c->fx* (its steps
 * and, above them, its exclusions split apart; pos its position in the
 * actor's whole sequence, for strict order). */
void fn_fx_put(const struct fn_query *q, struct fn_ctx *c, size_t i, uint64_t pos, int64_t ts,
	       uint32_t mask, struct store_str bd, struct store_str val, struct store_str sess)
{
	c->fxev[i] = (struct fx_ev){.ts = ts,
				    .pos = pos,
				    .mask = mask & q->step_bits,
				    .xmask = q->nm > q->k ? mask >> q->k : 0};
	c->fxbd[i] = bd;
	c->fxval[i] = val;
	c->fxsess[i] = sess;
}

/* Ext funnels, end of a shard: c->xrecs grouped by actor (stable, so each
 * actor's records stay in its order), each actor evaluated. */
int fn_ext_session_finish(const struct fn_query *q, struct fn_ctx *c)
{
	size_t nact = c->nstates, n = c->nxrecs;
	int rc = 0;

	if (fn_grow((void **)&c->xcount, &c->xcount_cap, nact + 1, sizeof *c->xcount) < 0 ||
	    fn_grow((void **)&c->recs, &c->recs_cap, n, sizeof *c->recs) < 0)
		return -ENOMEM;
	memset(c->xcount, 0, (nact + 1) * sizeof *c->xcount);
	for (size_t i = 0; i < n; i++)
		c->xcount[c->xrecs[i].actor + 1]++;
	for (size_t a = 0; a < nact; a++)
		c->xcount[a + 1] += c->xcount[a];
	for (size_t i = 0; i < n; i++) /* recs is free here: the sorted copy */
		c->recs[c->xcount[c->xrecs[i].actor]++] = c->xrecs[i];
	for (size_t i = 0; i < n && rc == 0;) {
		size_t j = i;
		while (j < n && c->recs[j].actor == c->recs[i].actor)
			j++;
		if ((rc = fn_ext_reserve(c, j - i)) < 0)
			break;
		for (size_t t = i; t < j; t++) {
			const struct fn_srec *r = &c->recs[t];
			fn_fx_put(q, c, t - i, r->pos, r->ts, r->mask, r->bd, r->val,
				  c->asess ? c->asess[r->actor] : (struct store_str){"", 0});
		}
		rc = fn_ext_actor(q, c, j - i);
		i = j;
	}
	c->nxrecs = 0;
	return rc;
}

int fn_ext_actor(const struct fn_query *q, struct fn_ctx *c, size_t n)
{
	struct fx_ev *ev = c->fxev;
	uint32_t chain[Q_MAX_STEPS], any = 0;
	int level;

	for (size_t i = 0; i < n; i++)
		any |= ev[i].mask;
	if (!any)
		return 0; /* only rows fed for strict order: not an actor */
	c->actors++;
	if (q->same != Q_SAME_NONE)
		intern_vals(c, n);
	if (q->fx.order == Q_ORDER_ANY) {
		uint32_t first = 0;
		int rc;
		level = fx_eval_any(&q->fx, ev, n, &first);
		if (level <= 0)
			return 0;
		if ((rc = fn_count_level(q, c, c->fxbd[first], (unsigned)level, NULL)) < 0)
			return rc;
		return add_trend(q, c, ev[first].ts, level);
	}
	if (q->count == Q_COUNT_ACTORS) {
		level = fx_eval(&q->fx, ev, n, &c->fxw, -1, chain);
		return count_chain(q, c, ev, c->fxbd, c->fxsess, chain, level);
	}
	/* entries: an entry begins at the first step-1 event after the previous
	 * one converted (its last step's event) or timed out (its window) */
	for (size_t cur = 0; cur < n;) {
		size_t s0 = cur, end;
		int rc;
		while (s0 < n && !((ev[s0].mask & 1) && !(q->fx.same && ev[s0].val == FX_NOVAL)))
			s0++;
		if (s0 == n)
			break;
		for (end = s0; end < n && ev[end].ts - ev[s0].ts <= q->fx.window; end++)
			;
		level = fx_eval(&q->fx, ev + s0, end - s0, &c->fxw, 0, chain);
		if ((rc = count_chain(q, c, ev + s0, c->fxbd + s0, c->fxsess + s0, chain, level)) < 0)
			return rc;
		cur = level == (int)q->k ? s0 + chain[level - 1] + 1 : end;
	}
	return 0;
}
