/*
 * test_funnel_ext.c — query/funnel_ext.c, the evaluation of one actor for
 * funnels beyond windowFunnel, against a brute force that enumerates every
 * chain (every set, for any order) of small random actors.
 *
 * The brute force states the rules the way docs/api.md does, not the way
 * funnel_ext.c decomposes them: a chain is valid when its events are
 * increasing, match their steps, fit the window, keep the per-step gaps,
 * are consecutive in the actor's sequence (strict), carry one held value,
 * and no event strictly between the chain's step-a and step-min(b, last)
 * events matches an exclusion over steps [a, b].
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "q_int.h"
#include "testutil.h"

#define MAXN 11
#define MAXK 5

struct actor {
	struct fx_ev ev[MAXN];
	size_t n;
	struct fx_spec sp;
	unsigned ex_a[2], ex_b[2]; /* exclusions, 0-based steps a < b */
	ptrdiff_t start;
};

/* ---- brute force ----------------------------------------------------------- */

static int bf_valid(const struct actor *a, const uint32_t *c, unsigned L)
{
	const struct fx_spec *sp = &a->sp;
	for (unsigned s = 0; s < L; s++) {
		const struct fx_ev *e = &a->ev[c[s]];
		if (!(e->mask & (1u << s)) || (sp->same && (e->val == FX_NOVAL || e->val != a->ev[c[0]].val)))
			return 0;
		if (s > 0) {
			int64_t d = e->ts - a->ev[c[s - 1]].ts;
			if (c[s] <= c[s - 1] || d < sp->after[s] || (sp->within[s] >= 0 && d > sp->within[s]))
				return 0;
			if (sp->order == Q_ORDER_STRICT && e->pos != a->ev[c[s - 1]].pos + 1)
				return 0;
		}
	}
	if (a->ev[c[L - 1]].ts - a->ev[c[0]].ts > sp->window)
		return 0;
	if (a->start >= 0 && c[0] != (uint32_t)a->start)
		return 0;
	for (unsigned x = 0; x < sp->nx; x++) {
		unsigned lo = a->ex_a[x], hi = a->ex_b[x] < L - 1 ? a->ex_b[x] : L - 1;
		if (lo >= hi)
			continue;
		for (uint32_t m = c[lo] + 1; m < c[hi]; m++)
			if (a->ev[m].xmask & (1u << x))
				return 0;
	}
	return 1;
}

struct bf {
	unsigned level;
	uint32_t chain[MAXK];
};

/* Is chain c (length L) better than the best so far: longer, or as long
 * with a later first event, or the same first and lexicographically
 * earlier after it. */
static void bf_offer(struct bf *b, const uint32_t *c, unsigned L)
{
	if (L > b->level) {
		b->level = L;
		memcpy(b->chain, c, L * sizeof *c);
		return;
	}
	if (L < b->level)
		return;
	if (c[0] != b->chain[0]) {
		if (c[0] > b->chain[0])
			memcpy(b->chain, c, L * sizeof *c);
		return;
	}
	for (unsigned s = 1; s < L; s++)
		if (c[s] != b->chain[s]) {
			if (c[s] < b->chain[s])
				memcpy(b->chain, c, L * sizeof *c);
			return;
		}
}

static void bf_walk(const struct actor *a, uint32_t *c, unsigned L, struct bf *b)
{
	if (L > 0) {
		if (!bf_valid(a, c, L))
			return; /* prefixes of chains are chains: nothing longer either */
		bf_offer(b, c, L);
	}
	if (L == a->sp.k)
		return;
	for (uint32_t i = L ? c[L - 1] + 1 : 0; i < a->n; i++) {
		c[L] = i;
		bf_walk(a, c, L + 1, b);
	}
}

/* Any order: can the events of subset `set` take distinct steps? */
static int bf_assign(const struct actor *a, const uint32_t *idx, unsigned m, unsigned at,
		     uint32_t used)
{
	if (at == m)
		return 1;
	for (unsigned s = 0; s < a->sp.k; s++)
		if ((a->ev[idx[at]].mask & (1u << s)) && !(used & (1u << s)) &&
		    bf_assign(a, idx, m, at + 1, used | 1u << s))
			return 1;
	return 0;
}

static void bf_any(const struct actor *a, unsigned *level, uint32_t *first)
{
	*level = 0;
	for (uint32_t set = 1; set < (1u << a->n); set++) {
		uint32_t idx[MAXN] = {0}; /* set >= 1, so m >= 1 below; gcc -O2 cannot tell */
		unsigned m = 0;
		for (unsigned i = 0; i < a->n; i++)
			if (set >> i & 1)
				idx[m++] = i;
		if (m > a->sp.k || a->ev[idx[m - 1]].ts - a->ev[idx[0]].ts > a->sp.window)
			continue;
		int same_ok = 1;
		for (unsigned j = 0; j < m && a->sp.same; j++)
			same_ok &= a->ev[idx[j]].val != FX_NOVAL && a->ev[idx[j]].val == a->ev[idx[0]].val;
		if (!same_ok || !bf_assign(a, idx, m, 0, 0))
			continue;
		if (m > *level || (m == *level && idx[0] > *first)) {
			*level = m;
			*first = idx[0];
		}
	}
}

/* ---- random actors ----------------------------------------------------------- */

static void random_actor(struct actor *a, unsigned long long *rng, enum q_order order)
{
	memset(a, 0, sizeof *a);
	a->n = 1 + tu_rand(rng) % MAXN;
	a->sp.k = 1 + (unsigned)(tu_rand(rng) % MAXK);
	a->sp.order = order;
	a->sp.window = (int64_t)(tu_rand(rng) % 12);
	a->sp.same = tu_rand(rng) % 3 == 0;
	a->start = -1;
	int64_t ts = 100;
	uint64_t pos = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct fx_ev *e = &a->ev[i];
		ts += (int64_t)(tu_rand(rng) % 4);
		pos += 1 + (tu_rand(rng) % 4 == 0);
		e->ts = ts;
		e->pos = pos;
		e->mask = (uint32_t)(tu_rand(rng) % (1u << a->sp.k));
		if (tu_rand(rng) % 3 == 0)
			e->mask = 1u << (tu_rand(rng) % a->sp.k);
		e->val = tu_rand(rng) % 5 == 0 ? FX_NOVAL : (uint32_t)(tu_rand(rng) % 2);
	}
	if (order == Q_ORDER_ANY)
		return; /* per-step gaps and exclusions assume an order */
	for (unsigned s = 1; s < a->sp.k; s++) {
		a->sp.within[s] = tu_rand(rng) % 3 == 0 ? (int64_t)(tu_rand(rng) % 5) : -1;
		a->sp.after[s] = tu_rand(rng) % 4 == 0 ? (int64_t)(tu_rand(rng) % 3) : 0;
	}
	a->sp.nx = a->sp.k >= 2 ? (unsigned)(tu_rand(rng) % 3) : 0;
	for (unsigned x = 0; x < a->sp.nx; x++) {
		unsigned lo = (unsigned)(tu_rand(rng) % (a->sp.k - 1));
		unsigned hi = lo + 1 + (unsigned)(tu_rand(rng) % (a->sp.k - 1 - lo));
		a->ex_a[x] = lo;
		a->ex_b[x] = hi;
		for (unsigned s = lo; s < hi; s++)
			a->sp.gapx[s] |= 1u << x;
		for (unsigned s = lo + 1; s < hi; s++)
			a->sp.interx[s] |= 1u << x;
		for (size_t i = 0; i < a->n; i++)
			if (tu_rand(rng) % 4 == 0)
				a->ev[i].xmask |= 1u << x;
	}
	if (tu_rand(rng) % 4 == 0)
		a->start = (ptrdiff_t)(tu_rand(rng) % a->n);
}

static void describe(const struct actor *a, char *buf, size_t len)
{
	int o = snprintf(buf, len, "k=%u window=%lld order=%d same=%d start=%td nx=%u:", a->sp.k,
			 (long long)a->sp.window, a->sp.order, a->sp.same, a->start, a->sp.nx);
	for (unsigned x = 0; x < a->sp.nx && o > 0 && (size_t)o < len; x++)
		o += snprintf(buf + o, len - (size_t)o, " excl%u[%u,%u]", x, a->ex_a[x], a->ex_b[x]);
	for (unsigned s = 1; s < a->sp.k && o > 0 && (size_t)o < len; s++)
		o += snprintf(buf + o, len - (size_t)o, " s%u(within %lld after %lld)", s,
			      (long long)a->sp.within[s], (long long)a->sp.after[s]);
	for (size_t i = 0; i < a->n && o > 0 && (size_t)o < len; i++)
		o += snprintf(buf + o, len - (size_t)o, " [ts %lld pos %llu m%x x%x v%d]",
			      (long long)a->ev[i].ts, (unsigned long long)a->ev[i].pos, a->ev[i].mask,
			      a->ev[i].xmask, a->ev[i].val == FX_NOVAL ? -1 : (int)a->ev[i].val);
}

static void check_ordered(enum q_order order, int rounds)
{
	unsigned long long rng = 0x9e3779b97f4a7c15ULL + (unsigned)order;
	struct fx_work w = {0};
	static struct actor a;
	char why[2048];

	for (int r = 0; r < rounds; r++) {
		random_actor(&a, &rng, order);
		struct bf want = {0};
		uint32_t c[MAXK], chain[MAXK];
		bf_walk(&a, c, 0, &want);
		int got = fx_eval(&a.sp, a.ev, a.n, &w, a.start, chain);
		describe(&a, why, sizeof why);
		cr_assert_eq(got, (int)want.level, "round %d: level %d, want %u; %s", r, got,
			     want.level, why);
		for (unsigned s = 0; s < want.level; s++)
			cr_assert_eq(chain[s], want.chain[s], "round %d: chain[%u] = %u, want %u; %s",
				     r, s, chain[s], want.chain[s], why);
	}
	fx_work_fini(&w);
}

Test(funnel_ext, ordered_chains_with_gaps_exclusions_and_held_values_equal_brute_force,
     .timeout = 120)
{
	check_ordered(Q_ORDER_ORDERED, 100000);
}

Test(funnel_ext, strict_chains_equal_brute_force, .timeout = 120)
{
	check_ordered(Q_ORDER_STRICT, 100000);
}

Test(funnel_ext, any_order_levels_equal_brute_force, .timeout = 120)
{
	unsigned long long rng = 77;
	static struct actor a;
	char why[2048];

	for (int r = 0; r < 20000; r++) {
		random_actor(&a, &rng, Q_ORDER_ANY);
		unsigned want = 0;
		uint32_t want_first = 0, first = UINT32_MAX;
		bf_any(&a, &want, &want_first);
		int got = fx_eval_any(&a.sp, a.ev, a.n, &first);
		describe(&a, why, sizeof why);
		cr_assert_eq(got, (int)want, "round %d: level %d, want %u; %s", r, got, want, why);
		if (want)
			cr_assert_eq(first, want_first, "round %d: first %u, want %u; %s", r, first,
				     want_first, why);
	}
}

Test(funnel_ext, default_rules_give_the_windowfunnel_level_and_counted_chain)
{
	/* steps A B C, window 10: A@0 B@3 A@5 B@6 C@12 -> level 3 with the
	 * chain A@5 B@6 C@12 (the latest first event that still reaches C) */
	struct fx_ev ev[] = {{.ts = 0, .pos = 1, .mask = 1}, {.ts = 3, .pos = 2, .mask = 2},
			     {.ts = 5, .pos = 3, .mask = 1}, {.ts = 6, .pos = 4, .mask = 2},
			     {.ts = 12, .pos = 5, .mask = 4}};
	struct fx_spec sp = {.k = 3, .window = 10};
	struct fx_work w = {0};
	uint32_t chain[3];
	for (unsigned s = 0; s < 3; s++)
		sp.within[s] = -1;
	cr_assert_eq(fx_eval(&sp, ev, 5, &w, -1, chain), 3);
	cr_assert_eq(chain[0], 2);
	cr_assert_eq(chain[1], 3);
	cr_assert_eq(chain[2], 4);
	/* strict: B@6 then C@12 are consecutive, A@5 B@6 too: still 3 */
	sp.order = Q_ORDER_STRICT;
	cr_assert_eq(fx_eval(&sp, ev, 5, &w, -1, chain), 3);
	/* an exclusion between steps 1 and 3 matched by the event at ts 6
	 * (which is step 2's event): it lies strictly inside, so the chain
	 * stops at step 1... unless another chain avoids it: none does */
	sp.order = Q_ORDER_ORDERED;
	sp.nx = 1;
	sp.gapx[0] = sp.gapx[1] = 1;
	sp.interx[1] = 1;
	ev[3].xmask = 1;
	ev[1].xmask = 1;
	cr_assert_eq(fx_eval(&sp, ev, 5, &w, -1, chain), 2,
		     "A@5 B@6 is still a chain: B@6 is its last event, not inside");
	fx_work_fini(&w);
}
