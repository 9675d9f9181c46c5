/*
 * funnel_agg.c — the streaming pass of one actor, and the aggregation of
 * finished actors into step counts, medians and breakdown groups.
 *
 * Actor state (fn_query.stride bytes, k = steps, levels 0-based here):
 *
 *   uint64_t pos[k]            pos[i]: position (in the actor's event order,
 *                              from 1) of the first event of the chain held
 *                              for level i; 0: no chain reaches level i yet
 *   int64_t  ts[k(k+1)/2]      the chain of level i: i+1 timestamps at
 *                              offset i(i+1)/2 (its events for steps 1..i+1)
 *   struct store_str bd[k]     breakdown value of each chain's first event
 *                              (only with a breakdown)
 *
 * Invariant after each event: the chain of level i is, among the chains of
 * i+1 steps within the window seen so far, the one with the latest first
 * event, each later step taken by the earliest event that can take it
 * (funnel.c, "counted chain").  pos[i] <= pos[i-1].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "q_int.h"

static inline size_t tri(unsigned i)
{
	return (size_t)i * (i + 1) / 2;
}

size_t fn_state_size(unsigned k, int breakdown)
{
	return 8 * (size_t)k + 8 * tri(k) + (breakdown ? sizeof(struct store_str) * k : 0);
}

void fn_state_reset(const struct fn_query *q, uint8_t *st)
{
	memset(st, 0, 8 * (size_t)q->k); /* pos[] = 0; the rest is read only behind pos */
}

void fn_state_feed(const struct fn_query *q, uint8_t *st, uint64_t pos, int64_t ts, uint32_t mask,
		   struct store_str bd)
{
	unsigned k = q->k;
	uint64_t *p = (uint64_t *)st;
	int64_t *cts = (int64_t *)(st + 8 * (size_t)k);
	struct store_str *b = q->bd != Q_BD_NONE ? (struct store_str *)(cts + tri(k)) : NULL;

	/* High to low: the event extends level i-1's chain as it was before
	 * this event, so it never takes two steps of one chain. */
	while (mask) {
		unsigned i = 31 - (unsigned)__builtin_clz(mask);
		mask &= ~(1u << i);
		if (i == 0) {
			p[0] = pos; /* a later start is never worse */
			cts[0] = ts;
			if (b)
				b[0] = bd;
			continue;
		}
		/* Level i-1's chain starts later than level i's (or level i
		 * has none): extend it when the window allows.  Equal starts
		 * keep level i's chain, whose later steps are earlier. */
		if (p[i - 1] <= p[i])
			continue;
		int64_t *prev = cts + tri(i - 1), *cur = cts + tri(i);
		if (ts - prev[0] > q->window)
			continue;
		memcpy(cur, prev, (size_t)i * sizeof *cur);
		cur[i] = ts;
		p[i] = p[i - 1];
		if (b)
			b[i] = b[i - 1];
	}
}

/* Local group of breakdown value v, made on first use.  Returns the group
 * (>= 0) or -ENOMEM. */
static int64_t group_of(const struct fn_query *q, struct fn_ctx *c, struct store_str v)
{
	uint32_t g;
	int added;

	/* room first, so the map never names a group that does not exist */
	if (fn_grow((void **)&c->gval, &c->gcap, c->ngroups + 1, sizeof *c->gval) < 0 ||
	    fn_grow((void **)&c->gcount, &c->gcount_cap, (c->ngroups + 1) * q->k,
		    sizeof *c->gcount) < 0 ||
	    fn_map_put(&c->gmap, v.p, v.n, fn_hash(v.p, v.n), (uint32_t)c->ngroups, &g, &added) < 0)
		return -ENOMEM;
	if (added) {
		memset(c->gcount + c->ngroups * q->k, 0, q->k * sizeof *c->gcount);
		c->gval[c->ngroups++] = v;
	}
	return g;
}

int fn_count_level(const struct fn_query *q, struct fn_ctx *c, struct store_str v, unsigned level,
		   const int64_t *chain)
{
	int64_t g;

	if (level == 0)
		return 0;
	if ((g = group_of(q, c, v)) < 0)
		return (int)g;
	for (unsigned i = 0; i < level; i++)
		c->gcount[(size_t)g * q->k + i]++;
	if (!chain)
		return 0;
	if (fn_grow((void **)&c->deltas, &c->deltas_cap, c->ndeltas + level, sizeof *c->deltas) < 0)
		return -ENOMEM;
	for (unsigned i = 1; i < level; i++)
		c->deltas[c->ndeltas++] = (struct fn_delta){
		    .group = (uint32_t)g, .step = i, .ms = chain[i] - chain[i - 1]};
	return 0;
}

int fn_state_final(const struct fn_query *q, struct fn_ctx *c, const uint8_t *st)
{
	unsigned k = q->k, level = 0;
	const uint64_t *p = (const uint64_t *)st;
	const int64_t *cts = (const int64_t *)(st + 8 * (size_t)k);
	struct store_str v = {"", 0};

	c->actors++;
	while (level < k && p[level])
		level++;
	if (level == 0)
		return 0;
	if (q->bd != Q_BD_NONE)
		v = ((const struct store_str *)(cts + tri(k)))[level - 1];
	return fn_count_level(q, c, v, level, cts + tri(level - 1));
}

/* ---- merging the contexts -------------------------------------------------- */

/* A group after merging: value, summed counts, final index. */
struct mgroup {
	struct store_str v;
	uint64_t count[Q_MAX_STEPS];
	uint32_t fg; /* final group: rank, or ntop for "other" */
};

static int mgroup_cmp(const void *a, const void *b)
{
	const struct mgroup *x = *(struct mgroup *const *)a, *y = *(struct mgroup *const *)b;
	size_t n = x->v.n < y->v.n ? x->v.n : y->v.n;
	int c;

	if (x->count[0] != y->count[0])
		return x->count[0] > y->count[0] ? -1 : 1;
	c = n ? memcmp(x->v.p, y->v.p, n) : 0;
	if (c)
		return c;
	return x->v.n < y->v.n ? -1 : x->v.n > y->v.n;
}

/* Fills stats s[0..k) from counts and the delta cells of one group. */
static void fill_stats(unsigned k, const uint64_t *count, int64_t *const *cell, const size_t *ncell,
		       struct q_step_stat *s)
{
	for (unsigned i = 0; i < k; i++) {
		s[i].count = count[i];
		s[i].conversion = count[0] ? (double)count[i] / (double)count[0] : 0.0;
		if (i == 0)
			s[i].conversion_from_prev = count[0] ? 1.0 : 0.0;
		else
			s[i].conversion_from_prev =
			    count[i - 1] ? (double)count[i] / (double)count[i - 1] : 0.0;
		s[i].median_ms_from_prev = i > 0 && ncell[i] ? fn_median(cell[i], ncell[i]) : -1;
	}
}

struct merge {
	struct fn_map map;
	struct mgroup *g;
	size_t ng, gcap;
	struct mgroup **rank; /* by step-1 count, then value */
	uint32_t **local;     /* per context: local group → merged group */
	int64_t *d;	      /* deltas ordered by (step, final group) */
	size_t *start;	      /* [k * nfg + 1] cell starts in d */
};

/* Sums the contexts' groups by value into m->g; m->local[ci] maps context
 * ci's groups to them.  Returns 0 or -ENOMEM. */
static int merge_groups(const struct fn_query *q, struct merge *m)
{
	size_t ci = 0;
	for (struct fn_ctx *c = q->all; c; c = c->all_next, ci++) {
		m->local[ci] = malloc((c->ngroups ? c->ngroups : 1) * sizeof *m->local[ci]);
		if (!m->local[ci])
			return -ENOMEM;
		for (size_t i = 0; i < c->ngroups; i++) {
			struct store_str v = c->gval[i];
			uint32_t gi;
			int added;
			if (fn_map_put(&m->map, v.p, v.n, fn_hash(v.p, v.n), (uint32_t)m->ng, &gi,
				       &added) < 0 ||
			    fn_grow((void **)&m->g, &m->gcap, m->ng + 1, sizeof *m->g) < 0)
				return -ENOMEM;
			if (added)
				m->g[m->ng++] = (struct mgroup){.v = v};
			for (unsigned s = 0; s < q->k; s++)
				m->g[gi].count[s] += c->gcount[i * q->k + s];
			m->local[ci][i] = gi;
		}
	}
	return 0;
}

/* Orders deltas into cells (step, final group) of m->d.  Returns 0 or
 * -ENOMEM. */
static int place_deltas(const struct fn_query *q, struct merge *m, size_t nfg)
{
	size_t ncells = (size_t)q->k * nfg, total = 0, ci = 0;
	size_t *at;

	m->start = calloc(ncells + 1, sizeof *m->start);
	at = calloc(ncells + 1, sizeof *at);
	if (!m->start || !at) {
		free(at);
		return -ENOMEM;
	}
	for (struct fn_ctx *c = q->all; c; c = c->all_next, ci++)
		for (size_t i = 0; i < c->ndeltas; i++) {
			const struct fn_delta *d = &c->deltas[i];
			m->start[d->step * nfg + m->g[m->local[ci][d->group]].fg]++;
		}
	for (size_t i = 0; i < ncells; i++) {
		size_t n = m->start[i];
		m->start[i] = at[i] = total;
		total += n;
	}
	m->start[ncells] = total;
	m->d = malloc((total ? total : 1) * sizeof *m->d);
	if (!m->d) {
		free(at);
		return -ENOMEM;
	}
	ci = 0;
	for (struct fn_ctx *c = q->all; c; c = c->all_next, ci++)
		for (size_t i = 0; i < c->ndeltas; i++) {
			const struct fn_delta *d = &c->deltas[i];
			m->d[at[d->step * nfg + m->g[m->local[ci][d->group]].fg]++] = d->ms;
		}
	free(at);
	return 0;
}

/* Builds out->groups (and its strings) in one block.  Returns 0 or -ENOMEM. */
static int build_groups(const struct fn_query *q, struct merge *m, size_t ntop, size_t nfg,
			struct q_funnel_res *out)
{
	size_t bytes = nfg * sizeof *out->groups, sbytes = 0;
	uint64_t other[Q_MAX_STEPS] = {0};
	int64_t *cell[Q_MAX_STEPS];
	size_t ncell[Q_MAX_STEPS];
	char *str;

	for (size_t r = 0; r < ntop; r++)
		sbytes += m->rank[r]->v.n;
	out->mem = malloc(bytes + sbytes + sizeof "other");
	if (!out->mem)
		return -ENOMEM;
	out->groups = out->mem;
	out->ngroups = nfg;
	str = (char *)out->mem + bytes;
	for (size_t r = ntop; r < m->ng; r++)
		for (unsigned s = 0; s < q->k; s++)
			other[s] += m->rank[r]->count[s];
	for (size_t f = 0; f < nfg; f++) {
		struct q_funnel_group *gr = &out->groups[f];
		memset(gr, 0, sizeof *gr);
		for (unsigned s = 0; s < q->k; s++) {
			cell[s] = m->d + m->start[s * nfg + f];
			ncell[s] = m->start[s * nfg + f + 1] - m->start[s * nfg + f];
		}
		if (f < ntop) {
			struct store_str v = m->rank[f]->v;
			if (v.n)
				memcpy(str, v.p, v.n);
			gr->value = (struct store_str){str, v.n};
			str += v.n;
			fill_stats(q->k, m->rank[f]->count, cell, ncell, gr->steps);
		} else {
			memcpy(str, "other", 5);
			gr->value = (struct store_str){str, 5};
			gr->other = 1;
			fill_stats(q->k, other, cell, ncell, gr->steps);
		}
	}
	return 0;
}

/* ---- samples, time to convert, trend ------------------------------------------ */

static int sample_cmp(const void *pa, const void *pb)
{
	const struct fn_sample *a = pa, *b = pb;
	size_t n = a->sess.n < b->sess.n ? a->sess.n : b->sess.n;
	int d;

	if (a->ts != b->ts)
		return a->ts > b->ts ? -1 : 1;
	d = n ? memcmp(a->sess.p, b->sess.p, n) : 0;
	return d ? d : (a->sess.n > b->sess.n) - (a->sess.n < b->sess.n);
}

/* out->samples: per step and kind the q->nsamp best of all contexts'
 * candidates, sessions copied into out->xmem.  Returns 0 or -ENOMEM. */
static int merge_samples(const struct fn_query *q, struct q_funnel_res *out)
{
	size_t total = 0, bytes = 0, used = 0;
	struct fn_sample *tmp;

	for (const struct fn_ctx *c = q->all; c; c = c->all_next)
		for (int kd = 0; kd < 2; kd++)
			for (unsigned s = 0; s < q->k; s++)
				total += c->nsmp[kd][s];
	tmp = malloc((total ? total : 1) * sizeof *tmp);
	if (!tmp)
		return -ENOMEM;
	for (int kd = 0; kd < 2; kd++)
		for (unsigned s = 0; s < q->k; s++) {
			size_t n = 0;
			for (const struct fn_ctx *c = q->all; c; c = c->all_next)
				if (c->nsmp[kd][s]) {
					memcpy(tmp + n, c->smp + ((size_t)kd * q->k + s) * q->nsamp,
					       c->nsmp[kd][s] * sizeof *tmp);
					n += c->nsmp[kd][s];
				}
			qsort(tmp, n, sizeof *tmp, sample_cmp);
			if (n > q->nsamp)
				n = q->nsamp;
			out->samples[s][kd] = malloc((n ? n : 1) * sizeof(struct q_sample));
			if (!out->samples[s][kd]) {
				free(tmp);
				return -ENOMEM;
			}
			for (size_t i = 0; i < n; i++) {
				out->samples[s][kd][i] = (struct q_sample){tmp[i].sess, tmp[i].ts};
				bytes += tmp[i].sess.n;
			}
			out->nsamples[s][kd] = n;
		}
	free(tmp);
	/* the sessions live in the snapshot's dictionaries: copy them out */
	if (!(out->xmem = malloc(bytes ? bytes : 1)))
		return -ENOMEM;
	for (unsigned s = 0; s < q->k; s++)
		for (int kd = 0; kd < 2; kd++)
			for (size_t i = 0; i < out->nsamples[s][kd]; i++) {
				struct store_str *v = &out->samples[s][kd][i].session;
				if (v->n)
					memcpy(out->xmem + used, v->p, v->n);
				v->p = out->xmem + used;
				used += v->n;
			}
	return 0;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Time to convert: count, average, lower median, nearest-rank p90 and an
 * equal-width histogram of q->ttc_bins bins from the least to the most.
 * Returns 0 or -ENOMEM. */
static int merge_ttc(const struct fn_query *q, struct q_funnel_res *out)
{
	size_t n = 0;
	int64_t *v, w;
	double sum = 0;

	for (const struct fn_ctx *c = q->all; c; c = c->all_next)
		n += c->nttc;
	out->ttc_count = n;
	out->ttc_median_ms = out->ttc_p90_ms = -1;
	if (n == 0)
		return 0;
	if (!(v = malloc(n * sizeof *v)))
		return -ENOMEM;
	n = 0;
	for (const struct fn_ctx *c = q->all; c; c = c->all_next)
		if (c->nttc) { /* a context that saw no converter may have no array */
			memcpy(v + n, c->ttc, c->nttc * sizeof *v);
			n += c->nttc;
		}
	qsort(v, n, sizeof *v, i64_cmp);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	out->ttc_avg_ms = sum / (double)n;
	out->ttc_median_ms = v[(n - 1) / 2];
	out->ttc_p90_ms = v[(n * 9 + 9) / 10 - 1]; /* ceil(0.9 n) - 1 */
	w = (v[n - 1] - v[0]) / (int64_t)q->ttc_bins + 1;
	if (!(out->ttc_bins = calloc(q->ttc_bins, sizeof *out->ttc_bins))) {
		free(v);
		return -ENOMEM;
	}
	out->ttc_nbins = q->ttc_bins;
	for (unsigned b = 0; b < q->ttc_bins; b++) {
		out->ttc_bins[b].from_ms = v[0] + (int64_t)b * w;
		out->ttc_bins[b].to_ms = v[0] + (int64_t)(b + 1) * w;
	}
	for (size_t i = 0; i < n; i++)
		out->ttc_bins[(v[i] - v[0]) / w].count++;
	free(v);
	return 0;
}

static int trec_cmp(const void *a, const void *b)
{
	const struct fn_trec *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

static int64_t wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Trend: per interval of the actors' (or entries') step-1 times, the step
 * counts and conversions.  Returns 0, ERR_TOOBIG (more than Q_MAX_TREND
 * intervals) or -ENOMEM. */
static int merge_trend(const struct fn_query *q, struct q_funnel_res *out)
{
	size_t n = 0, np = 0;
	struct fn_trec *v;
	int64_t now = wall_ms();

	for (const struct fn_ctx *c = q->all; c; c = c->all_next)
		n += c->ntrec;
	if (n == 0)
		return 0;
	if (!(v = malloc(n * sizeof *v)))
		return -ENOMEM;
	n = 0;
	for (const struct fn_ctx *c = q->all; c; c = c->all_next)
		if (c->ntrec) {
			memcpy(v + n, c->trec, c->ntrec * sizeof *v);
			n += c->ntrec;
		}
	qsort(v, n, sizeof *v, trec_cmp);
	for (size_t i = 0; i < n; i++)
		np += i == 0 || v[i].start != v[i - 1].start;
	if (np > Q_MAX_TREND) {
		free(v);
		return ERR_TOOBIG;
	}
	if (!(out->trend = calloc(np, sizeof *out->trend))) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n;) {
		struct q_trend_point *t = &out->trend[out->ntrend++];
		uint64_t count[Q_MAX_STEPS] = {0};
		size_t j = i;
		for (; j < n && v[j].start == v[i].start; j++)
			for (unsigned s = 0; s < v[j].level; s++)
				count[s]++;
		t->start = v[i].start;
		t->incomplete = t->start + q->trend + q->window > now;
		for (unsigned s = 0; s < q->k; s++) {
			t->steps[s].count = count[s];
			t->steps[s].conversion = count[0] ? (double)count[s] / (double)count[0] : 0;
			t->steps[s].conversion_from_prev =
			    s == 0 ? (count[0] ? 1.0 : 0.0)
				   : (count[s - 1] ? (double)count[s] / (double)count[s - 1] : 0);
			t->steps[s].median_ms_from_prev = -1;
		}
		i = j;
	}
	free(v);
	return 0;
}

int fn_result(const struct fn_query *q, struct q_funnel_res *out)
{
	struct merge m = {0};
	uint64_t total[Q_MAX_STEPS] = {0};
	int64_t *cell[Q_MAX_STEPS];
	size_t ncell[Q_MAX_STEPS], nctx = 0, ntop, nfg;
	int rc = -ENOMEM;

	for (struct fn_ctx *c = q->all; c; c = c->all_next) {
		nctx++;
		out->actors += c->actors;
		out->events_scanned += c->scanned;
	}
	m.local = calloc(nctx ? nctx : 1, sizeof *m.local);
	if (!m.local || (rc = merge_groups(q, &m)) < 0)
		goto out;
	rc = -ENOMEM;
	m.rank = malloc((m.ng ? m.ng : 1) * sizeof *m.rank);
	if (!m.rank)
		goto out;
	for (size_t i = 0; i < m.ng; i++)
		m.rank[i] = &m.g[i];
	qsort(m.rank, m.ng, sizeof *m.rank, mgroup_cmp);
	ntop = m.ng < Q_BREAKDOWN_TOP ? m.ng : Q_BREAKDOWN_TOP;
	nfg = ntop + (m.ng > ntop);
	for (size_t r = 0; r < m.ng; r++) {
		m.rank[r]->fg = (uint32_t)(r < ntop ? r : ntop);
		for (unsigned s = 0; s < q->k; s++)
			total[s] += m.rank[r]->count[s];
	}
	if ((rc = place_deltas(q, &m, nfg ? nfg : 1)) < 0)
		goto out;
	/* Per-group medians first: each permutes only its own cell. */
	if (q->bd != Q_BD_NONE && (rc = build_groups(q, &m, ntop, nfg, out)) < 0)
		goto out;
	for (unsigned s = 0; s < q->k; s++) { /* a step's cells are contiguous */
		size_t w = nfg ? nfg : 1;
		cell[s] = m.d + m.start[s * w];
		ncell[s] = m.start[(s + 1) * w] - m.start[s * w];
	}
	out->nsteps = q->k;
	fill_stats(q->k, total, cell, ncell, out->steps);
	rc = 0;
	if (q->nsamp && (rc = merge_samples(q, out)) < 0)
		goto out;
	if (q->ttc_to && (rc = merge_ttc(q, out)) < 0)
		goto out;
	if (q->trend && (rc = merge_trend(q, out)) < 0)
		goto out;
out:
	if (m.local)
		for (size_t i = 0; i < nctx; i++)
			free(m.local[i]);
	free(m.local);
	free(m.rank);
	free(m.g);
	free(m.d);
	free(m.start);
	fn_map_fini(&m.map);
	return rc;
}
