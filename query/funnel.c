/*
 * funnel.c — funnels over a storage snapshot: q_funnel().
 *
 * Semantics (docs/api.md takes them from here)
 *
 *   Actor      the session (Q_BY_SESSION) or the user (Q_BY_USER; events
 *              with no user are ignored).  Only events with from <= ts < to
 *              count.  A step matches an event when its type is equal, its
 *              target and url are equal when given, its url starts with
 *              url_prefix when given, and every props equality holds: the
 *              first member of the event's props object with that key has
 *              that value (strings by decoded content; numbers as int64
 *              when both are integers, else as doubles; true, false, null
 *              literally).  Props that are absent or not a JSON object
 *              satisfy no equality.
 *
 *   Order      the events of an actor are ordered by (ts, arrival).
 *              By session, arrival is the order the store received them
 *              (partitions in time order, segments of a (partition, shard)
 *              older first, rows in segment order; for one session this is
 *              the append order).  By user, whose sessions may sit in
 *              different shards, the order is (ts, recv, session bytes
 *              compared bytewise, arrival within the session).
 *
 *   Level      the largest k for which events e1 < e2 < ... < ek (distinct,
 *              strictly increasing in that order) exist with ei matching
 *              step i and ek.ts - e1.ts <= window_ms.  steps[k].count =
 *              actors with level >= k.  `actors` = actors with at least one
 *              event matching some step.
 *
 *   Counted chain  of an actor with level L >= 1: among the chains of L
 *              steps, the one whose first event is latest in the order;
 *              of those, the one whose events for steps 2..L are earliest
 *              (lexicographically: step 2's as early as possible, then
 *              step 3's, ...).  median_ms_from_prev of step k is the lower
 *              median (element (n-1)/2 of the sorted values) over actors
 *              with level >= k of ts(step k) - ts(step k-1) in their
 *              counted chain; -1 for step 1 or when n == 0.
 *
 *   Breakdown  an actor with level >= 1 belongs to the group of the value
 *              of the field (url, target, type, or props.KEY: a string
 *              decoded, another JSON value as its raw text, "" when absent)
 *              on the first event of its counted chain.  Groups: the
 *              Q_BREAKDOWN_TOP values with the most actors at step 1 (ties:
 *              value bytes ascending, shorter first), then one group
 *              "other" (other = 1) merging the rest, if any.
 *
 *   events_scanned  the rows of every block whose columns the scan read:
 *              a partition, segment or block outside [from, to) by its time
 *              bounds, or a segment whose dictionary lacks every step's
 *              strings, is not read and not counted; a block that is read
 *              counts all its rows, also those outside [from, to).
 *
 * Plan of a query
 *
 *   One snapshot.  Per segment the matchers become dictionary ids
 *   (funnel_scan.c); a block's integer columns give each row a step mask.
 *   The streaming pass (funnel_agg.c) keeps per actor and level the chain
 *   with the latest start; it needs the actor's events in order, which is
 *   arranged like this:
 *
 *   by session  one task per shard (q_parallel).  Partitions in time order;
 *               per (partition, shard) the matching rows of all its
 *               segments are gathered (record index = arrival order), and
 *               unless they come from a single sealed segment (already
 *               (session, ts, arrival)-sorted) they are sorted stably by
 *               ts.  Per-session state lives in a map keyed by the session
 *               string, so a session continues across segments and
 *               partitions; when the shard is done every state is counted.
 *   by user     phase 1, one task per shard: matching rows with a user go
 *               to FN_BUCKETS buckets by user hash.  Phase 2, one task per
 *               bucket: rows grouped by user (counting sort), each user's
 *               rows sorted in the by-user order, one pass per user.
 *
 *   Strict order also needs each matching row's position in its actor's
 *   whole sequence.  By session, a partition held in one sealed segment
 *   gives it without reading more than the session column: a session's
 *   rows are one run there, so the scan counts the rows between hits into
 *   their actors (funnel_scan.c, runs_count); any other partition sinks
 *   every row and numbers them once they are in order (feed_one).  By user
 *   sessions interleave, so runs do not give positions: the buckets are
 *   passed twice, with a scan of every row against the pairs of matching
 *   rows that could be links in between (funnel_gap.c).
 *
 *   Each task takes a context (scratch buffers, partial counts) from the
 *   query's pool and gives it back, so buffers are reused by whichever
 *   task runs next; at the end the contexts' groups are merged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "q_int.h"

/* ---- request ----------------------------------------------------------------- */

static int bad_str(struct store_str s)
{
	return s.n && !s.p;
}

/* Parses a props equality value (one JSON scalar).  Returns 0 or
 * ERR_INVALID / -ENOMEM. */
static int compile_prop(const struct q_prop_eq *in, struct fn_prop *out)
{
	struct json_tok t[4];
	char *tmp;
	int rc;

	if (bad_str(in->key) || bad_str(in->value) || !in->value.n)
		return ERR_INVALID;
	rc = json_parse(in->value.p, in->value.n, t, 4, 1, NULL);
	if (rc != 1 || t[0].type == JSON_OBJECT || t[0].type == JSON_ARRAY)
		return ERR_INVALID;
	out->key = in->key;
	out->kind = t[0].type;
	if (t[0].type == JSON_STRING) {
		out->str = malloc(json_str_raw_len(&t[0]) + 1);
		if (!out->str)
			return -ENOMEM;
		rc = json_str_decode(in->value.p, &t[0], out->str, json_str_raw_len(&t[0]) + 1);
		if (rc < 0)
			return ERR_INVALID;
		out->slen = (size_t)rc;
	} else if (t[0].type == JSON_NUMBER) {
		out->is_int = json_get_int64(in->value.p, &t[0], &out->ival) == 0;
		if (!(tmp = strndup(in->value.p + t[0].start, t[0].end - t[0].start)))
			return -ENOMEM;
		out->dval = strtod(tmp, NULL);
		free(tmp);
	}
	return 0;
}

/* Copies matcher m into s (bit `bit` of the query's matchers).  Returns 0,
 * ERR_INVALID or -ENOMEM. */
static int compile_matcher(struct fn_query *q, const struct q_matcher *m, unsigned bit)
{
	struct fn_step *s = &q->steps[bit];
	int rc;

	if (!m->type.n || bad_str(m->type) || bad_str(m->target) || bad_str(m->url) ||
	    bad_str(m->url_prefix) || m->nprops > Q_MAX_PROPS)
		return ERR_INVALID;
	s->type = m->type;
	s->target = m->target;
	s->url = m->url;
	s->prefix = m->url_prefix;
	for (unsigned j = 0; j < m->nprops; j++, s->nprops++)
		if ((rc = compile_prop(&m->props[j], &s->props[j])) < 0) {
			s->nprops++; /* so its string is freed */
			return rc;
		}
	if (s->nprops)
		q->props_steps |= 1u << bit;
	return 0;
}

/* The rules beyond windowFunnel into q->fx; q->ext when any is asked.
 * Returns 0 or ERR_INVALID. */
static int compile_ext(struct fn_query *q, const struct q_funnel_req *r)
{
	struct fx_spec *f = &q->fx;
	int gaps = 0, rc;

	if (r->order < Q_ORDER_ORDERED || r->order > Q_ORDER_ANY || r->same < Q_SAME_NONE ||
	    r->same > Q_SAME_PROP || r->count < Q_COUNT_ACTORS || r->count > Q_COUNT_ENTRIES ||
	    r->nexclude > Q_MAX_EXCLUDE || bad_str(r->same_prop) ||
	    (r->same == Q_SAME_PROP && !r->same_prop.n) || r->within_ms[0] || r->after_ms[0])
		return ERR_INVALID;
	f->k = q->k;
	f->nx = r->nexclude;
	f->window = q->window;
	f->order = r->order;
	f->same = r->same != Q_SAME_NONE;
	for (unsigned s = 0; s < Q_MAX_STEPS; s++) {
		if (r->within_ms[s] < 0 || r->after_ms[s] < 0 ||
		    (r->within_ms[s] && r->after_ms[s] > r->within_ms[s]))
			return ERR_INVALID;
		f->within[s] = r->within_ms[s] ? r->within_ms[s] : -1;
		f->after[s] = r->after_ms[s];
		gaps |= r->within_ms[s] || r->after_ms[s];
	}
	for (unsigned x = 0; x < r->nexclude; x++) {
		const struct q_exclude *ex = &r->exclude[x];
		if (ex->from < 1 || ex->to <= ex->from || ex->to > q->k)
			return ERR_INVALID;
		if ((rc = compile_matcher(q, &ex->m, q->k + x)) < 0)
			return rc;
		for (unsigned s = ex->from - 1; s < ex->to - 1; s++)
			f->gapx[s] |= 1u << x;
		for (unsigned s = ex->from; s < ex->to - 1; s++)
			f->interx[s] |= 1u << x;
	}
	/* per-step gaps and exclusions need an order; so do entries, and the
	 * samples and times to convert of a chain's steps */
	if (r->order == Q_ORDER_ANY && (gaps || r->nexclude || r->count == Q_COUNT_ENTRIES ||
					r->samples || r->ttc_to))
		return ERR_INVALID;
	if (r->samples > Q_MAX_SAMPLES || r->trend_ms < 0 ||
	    (r->trend_ms && r->trend_ms < 1000) ||
	    (r->ttc_to && (r->ttc_from < 1 || r->ttc_to <= r->ttc_from || r->ttc_to > q->k ||
			   r->ttc_bins < 1 || r->ttc_bins > Q_MAX_TTC_BINS)))
		return ERR_INVALID;
	q->nsamp = r->samples;
	q->ttc_from = r->ttc_to ? r->ttc_from : 0;
	q->ttc_to = r->ttc_to;
	q->ttc_bins = r->ttc_bins;
	q->trend = r->trend_ms;
	q->nm = q->k + r->nexclude;
	q->same = r->same;
	q->same_key = r->same_prop;
	q->count = r->count;
	q->strict = r->order == Q_ORDER_STRICT;
	q->bd_bits = r->order == Q_ORDER_ANY ? q->step_bits : 1;
	q->ext = r->order != Q_ORDER_ORDERED || gaps || r->nexclude || f->same ||
		 r->count == Q_COUNT_ENTRIES || r->samples || r->ttc_to || r->trend_ms;
	return 0;
}

/* Checks the request and fills q's copy of it.  Returns 0, ERR_INVALID or
 * -ENOMEM. */
static int compile(struct fn_query *q, const struct q_funnel_req *r)
{
	int rc;

	if (r->nsteps < 1 || r->nsteps > Q_MAX_STEPS || r->window_ms < 0 ||
	    (r->by != Q_BY_SESSION && r->by != Q_BY_USER) || r->breakdown < Q_BD_NONE ||
	    r->breakdown > Q_BD_PROP || bad_str(r->breakdown_prop) ||
	    (r->breakdown == Q_BD_PROP && !r->breakdown_prop.n))
		return ERR_INVALID;
	q->k = r->nsteps;
	q->window = r->window_ms;
	q->from = r->from;
	q->to = r->to;
	q->by = r->by;
	q->bd = r->breakdown;
	q->bd_key = r->breakdown_prop;
	q->nm = q->k;
	q->step_bits = q->k >= 32 ? UINT32_MAX : (1u << q->k) - 1;
	for (unsigned i = 0; i < q->k; i++)
		if ((rc = compile_matcher(q, &r->steps[i], i)) < 0)
			return rc;
	if ((rc = compile_ext(q, r)) < 0)
		return rc;
	q->stride = fn_state_size(q->k, q->bd != Q_BD_NONE);
	return 0;
}

/* ---- contexts ------------------------------------------------------------------ */

static void ctx_free(struct fn_ctx *c)
{
	store_cursor_free(c->cur_a);
	store_cursor_free(c->cur_b);
	free(c->hit_row);
	free(c->hit_mask);
	free(c->tab);
	free(c->tok);
	free(c->buf);
	fn_arena_fini(&c->arena);
	fn_map_fini(&c->bdset);
	fn_map_fini(&c->smap);
	free(c->states);
	free(c->apos);
	free(c->recs);
	free(c->keys);
	free(c->keys_tmp);
	fn_buckets_reset(c);
	free(c->ucount);
	free(c->usorted);
	fn_map_fini(&c->umap);
	free(c->ustate);
	free(c->upos);
	free(c->gcache);
	free(c->runu);
	free(c->uidx);
	free(c->sunk_row);
	free(c->sunk_rec);
	free(c->uruns);
	free(c->rfirst);
	free(c->uexp);
	fn_map_fini(&c->gmap);
	free(c->gcount);
	free(c->gval);
	free(c->deltas);
	free(c->xrecs);
	free(c->fxev);
	free(c->fxbd);
	free(c->fxval);
	free(c->fxkey);
	free(c->xcount);
	fx_work_fini(&c->fxw);
	free(c->fxsess);
	free(c->asess);
	free(c->smp);
	free(c->ttc);
	free(c->trec);
	free(c);
}

static void spare_free(struct q_spare *s)
{
	ctx_free((struct fn_ctx *)s);
}

/* What a kept context may hold per buffer; a bigger one is freed, so an
 * engine keeps at most Q_SPARE_MAX contexts of a few MiB each. */
#define KEEP_BYTES  ((size_t)4 << 20)

/* Frees *p (cap elements of elem) when it holds more than `keep` bytes. */
static void trim(void **p, size_t *cap, size_t elem, size_t keep)
{
	if (*cap * elem > keep) {
		free(*p);
		*p = NULL;
		*cap = 0;
	}
}

static void map_reset(struct fn_map *m)
{
	if (m->cap * sizeof *m->v > KEEP_BYTES)
		fn_map_fini(m);
	else
		fn_map_clear(m);
}

/* Readies c for a query: drops the previous query's results and strings,
 * and big buffers, keeps the rest.  Returns 0 or -ENOMEM. */
static int ctx_prepare(const struct fn_query *q, struct fn_ctx *c)
{
	trim((void **)&c->states, &c->states_cap, 1, KEEP_BYTES);
	trim((void **)&c->apos, &c->apos_cap, sizeof *c->apos, KEEP_BYTES);
	trim((void **)&c->recs, &c->recs_cap, sizeof *c->recs, KEEP_BYTES);
	trim((void **)&c->keys, &c->keys_cap, sizeof *c->keys, KEEP_BYTES);
	trim((void **)&c->keys_tmp, &c->keys_tmp_cap, sizeof *c->keys_tmp, KEEP_BYTES);
	trim((void **)&c->usorted, &c->usorted_cap, sizeof *c->usorted, KEEP_BYTES);
	trim((void **)&c->ucount, &c->ucount_cap, sizeof *c->ucount, KEEP_BYTES);
	trim((void **)&c->deltas, &c->deltas_cap, sizeof *c->deltas, KEEP_BYTES);
	trim((void **)&c->tab, &c->tab_cap, sizeof *c->tab, KEEP_BYTES);
	trim((void **)&c->gval, &c->gcap, sizeof *c->gval, KEEP_BYTES);
	trim((void **)&c->gcount, &c->gcount_cap, sizeof *c->gcount, KEEP_BYTES);
	trim((void **)&c->xrecs, &c->xrecs_cap, sizeof *c->xrecs, KEEP_BYTES);
	trim((void **)&c->xcount, &c->xcount_cap, sizeof *c->xcount, KEEP_BYTES);
	trim((void **)&c->asess, &c->asess_cap, sizeof *c->asess, KEEP_BYTES);
	trim((void **)&c->ttc, &c->ttc_cap, sizeof *c->ttc, KEEP_BYTES);
	trim((void **)&c->trec, &c->trec_cap, sizeof *c->trec, KEEP_BYTES);
	c->nxrecs = c->nttc = c->ntrec = 0;
	memset(c->nsmp, 0, sizeof c->nsmp);
	if (q->nsamp &&
	    fn_grow((void **)&c->smp, &c->smp_cap, 2 * (size_t)q->k * q->nsamp, sizeof *c->smp) < 0)
		return -ENOMEM;
	fn_arena_fini(&c->arena);
	map_reset(&c->bdset);
	map_reset(&c->smap);
	map_reset(&c->umap);
	map_reset(&c->gmap);
	c->all_next = c->idle_next = NULL;
	c->nstates = c->nrecs = c->ngroups = c->ndeltas = 0;
	c->actors = c->scanned = c->pos = 0;
	return fn_grow((void **)&c->ustate, &c->ustate_cap, q->stride, 1);
}

static struct fn_ctx *ctx_new(const struct fn_query *q)
{
	struct fn_ctx *c = (struct fn_ctx *)q_engine_spare_get(q->e);

	if (c)
		goto ready;
	if (!(c = calloc(1, sizeof *c)))
		return NULL;
	c->spare.free_fn = spare_free;
	c->e = q->e;
	if (store_cursor_new(&c->cur_a) < 0 || store_cursor_new(&c->cur_b) < 0)
		goto fail;
	c->tok_cap = JSON_MAX_TOKENS(STORE_MAX_PROPS, FN_PROPS_DEPTH);
	c->tok = malloc(c->tok_cap * sizeof *c->tok);
	c->buf = malloc(STORE_MAX_PROPS + 1);
	if (!c->tok || !c->buf)
		goto fail;
ready:
	if (ctx_prepare(q, c) < 0)
		goto fail;
	return c;
fail:
	ctx_free(c);
	return NULL;
}

/* A context for one task: an idle one, or a new one.  NULL: no memory. */
struct fn_ctx *fn_ctx_take(struct fn_query *q)
{
	struct fn_ctx *c;

	pthread_mutex_lock(&q->mu);
	if ((c = q->idle))
		q->idle = c->idle_next;
	pthread_mutex_unlock(&q->mu);
	if (c || !(c = ctx_new(q)))
		return c;
	pthread_mutex_lock(&q->mu);
	c->all_next = q->all;
	q->all = c;
	pthread_mutex_unlock(&q->mu);
	return c;
}

void fn_ctx_give(struct fn_query *q, struct fn_ctx *c)
{
	pthread_mutex_lock(&q->mu);
	c->idle_next = q->idle;
	q->idle = c;
	pthread_mutex_unlock(&q->mu);
}

/* ---- session funnels ------------------------------------------------------------ */

static int srec_cmp(const void *a, const void *b, void *arg)
{
	const struct fn_srec *r = arg;
	uint64_t i = *(const uint64_t *)a, j = *(const uint64_t *)b;
	if (r[i].ts != r[j].ts)
		return r[i].ts < r[j].ts ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Orders c->keys[0..nrecs) as the record indices sorted stably by ts (the
 * record index is the arrival order of one session's rows).  Returns 0 or
 * -ENOMEM. */
static int sort_recs(struct fn_ctx *c)
{
	size_t n = c->nrecs;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	uint64_t span;
	unsigned bits;

	if (fn_grow((void **)&c->keys, &c->keys_cap, n, sizeof *c->keys) < 0 ||
	    fn_grow((void **)&c->keys_tmp, &c->keys_tmp_cap, n, sizeof *c->keys_tmp) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (c->recs[i].ts < lo)
			lo = c->recs[i].ts;
		if (c->recs[i].ts > hi)
			hi = c->recs[i].ts;
	}
	span = (uint64_t)(hi - lo);
	if (span >> 32 || (uint64_t)n >> 32) { /* a huge partition: compare */
		for (size_t i = 0; i < n; i++)
			c->keys[i] = i;
		qsort_r(c->keys, n, sizeof *c->keys, srec_cmp, c->recs);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		c->keys[i] = (uint64_t)(c->recs[i].ts - lo) << 32 | i;
	bits = span ? 64 - (unsigned)__builtin_clzll(span) : 0;
	fn_radix_sort(c->keys, c->keys_tmp, n, bits);
	for (size_t i = 0; i < n; i++)
		c->keys[i] &= 0xffffffffu;
	return 0;
}

/* Feeds record r to its actor: the streaming pass, or (ext funnels) the
 * shard's record list, evaluated per actor at the end.  Strict order with
 * every row sunk (c->all_rows): each row takes its position here, in the
 * actor's order, and only rows matching something are kept. */
static int feed_one(const struct fn_query *q, struct fn_ctx *c, const struct fn_srec *r)
{
	if (!q->ext) {
		fn_state_feed(q, c->states + q->stride * r->actor, ++c->pos, r->ts, r->mask, r->bd);
		return 0;
	}
	if (fn_grow((void **)&c->xrecs, &c->xrecs_cap, c->nxrecs + 1, sizeof *c->xrecs) < 0)
		return -ENOMEM;
	c->xrecs[c->nxrecs] = *r;
	if (c->all_rows) {
		c->xrecs[c->nxrecs].pos = c->apos[r->actor]++;
		if (!r->mask)
			return 0;
	}
	c->nxrecs++;
	return 0;
}

/* Feeds the gathered records of one (partition, shard) to their actors. */
static int feed_recs(const struct fn_query *q, struct fn_ctx *c, int sorted)
{
	int rc;

	if (!sorted) {
		for (size_t i = 1; i < c->nrecs; i++)
			if (c->recs[i].ts < c->recs[i - 1].ts) {
				if ((rc = sort_recs(c)) < 0)
					return rc;
				for (size_t j = 0; j < c->nrecs; j++)
					if ((rc = feed_one(q, c, &c->recs[c->keys[j]])) < 0)
						return rc;
				return 0;
			}
	}
	for (size_t i = 0; i < c->nrecs; i++)
		if ((rc = feed_one(q, c, &c->recs[i])) < 0)
			return rc;
	return 0;
}

int fn_part_out(const struct fn_query *q, int64_t start)
{
	return start >= q->to ||
	       (q->from > INT64_MIN + q->part_ms && start <= q->from - q->part_ms);
}

int fn_seg_out(const struct fn_query *q, const struct store_seg *g)
{
	return store_seg_max_ts(g) < q->from || store_seg_min_ts(g) >= q->to;
}

int fn_each_seg(struct fn_query *q, struct fn_ctx *c, size_t shard, fn_seg_fn fn)
{
	size_t nparts = store_snap_nparts(q->snap);
	uint32_t seg_ord = 0;
	int rc = 0;

	for (size_t p = 0; p < nparts && rc == 0; p++) {
		size_t nsegs = store_snap_nsegs(q->snap, p, (uint32_t)shard);
		if (fn_part_out(q, store_snap_part_start(q->snap, p))) {
			seg_ord += (uint32_t)nsegs;
			continue;
		}
		for (size_t i = 0; i < nsegs && rc == 0; i++) {
			const struct store_seg *g = store_snap_seg(q->snap, p, (uint32_t)shard, i);
			uint32_t ord = seg_ord++;
			if (!fn_seg_out(q, g))
				rc = fn(q, c, g, ord);
		}
	}
	return rc;
}

/* Strict order: how partition p of a shard gives positions.  One sealed
 * segment holds each session as one run in the actor's order, so its hits
 * alone are sunk and the rows between them counted (c->strict_runs);
 * otherwise every row is sunk and takes its position once the partition's
 * rows are in order (c->all_rows, feed_one). */
static void strict_mode(const struct fn_query *q, struct fn_ctx *c, size_t p, uint32_t shard)
{
	size_t nsegs = store_snap_nsegs(q->snap, p, shard), live = 0;
	const struct store_seg *one = NULL;

	for (size_t i = 0; i < nsegs; i++) {
		const struct store_seg *g = store_snap_seg(q->snap, p, shard, i);
		if (!fn_seg_out(q, g)) {
			live++;
			one = g;
		}
	}
	c->strict_runs = live == 1 && store_seg_sealed(one);
	c->all_rows = !c->strict_runs;
}

/* Task: the session funnel of one shard. */
static int session_task(void *arg, size_t shard)
{
	struct fn_query *q = arg;
	struct fn_ctx *c = fn_ctx_take(q);
	size_t nparts = store_snap_nparts(q->snap);
	uint32_t seg_ord = 0;
	struct fn_segm sm;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	fn_map_clear(&c->smap);
	c->nstates = 0;
	c->all_rows = c->strict_runs = c->user_runs = 0;
	for (size_t p = 0; p < nparts && rc == 0; p++) {
		size_t nsegs = store_snap_nsegs(q->snap, p, (uint32_t)shard);
		size_t sources = 0;
		int sorted = 1;

		if (fn_part_out(q, store_snap_part_start(q->snap, p))) {
			seg_ord += (uint32_t)nsegs;
			continue;
		}
		if (q->strict)
			strict_mode(q, c, p, (uint32_t)shard);
		c->nrecs = 0;
		for (size_t i = 0; i < nsegs && rc == 0; i++) {
			const struct store_seg *g = store_snap_seg(q->snap, p, (uint32_t)shard, i);
			size_t before = c->nrecs;
			uint32_t ord = seg_ord++;
			int64_t live;
			if (fn_seg_out(q, g) || (live = fn_segm_init(q, c, g, &sm)) == 0)
				continue;
			rc = live < 0 ? (int)live : fn_scan_seg(q, c, g, &sm, ord);
			if (c->nrecs > before) {
				sources++;
				sorted &= store_seg_sealed(g);
			}
		}
		if (rc == 0)
			rc = feed_recs(q, c, sorted && sources <= 1);
	}
	if (q->ext && rc == 0)
		rc = fn_ext_session_finish(q, c);
	for (size_t a = 0; a < c->nstates && rc == 0 && !q->ext; a++)
		rc = fn_state_final(q, c, c->states + q->stride * a);
	fn_ctx_give(q, c);
	return rc;
}

/* ---- the query ------------------------------------------------------------------------ */

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void query_fini(struct fn_query *q)
{
	while (q->all) { /* the contexts' buffers serve the next query */
		struct fn_ctx *c = q->all;
		q->all = c->all_next;
		fn_buckets_reset(c);
		q_engine_spare_put(q->e, &c->spare);
	}
	for (unsigned i = 0; i < FN_MAX_MATCH; i++)
		for (unsigned j = 0; j < q->steps[i].nprops; j++)
			free(q->steps[i].props[j].str);
	free(q->gathered);
	for (unsigned b = 0; q->gaps && b < FN_BUCKETS; b++) {
		fn_map_fini(&q->gaps[b].users);
		free(q->gaps[b].user);
		free(q->gaps[b].gap);
		free(q->gaps[b].req);
	}
	free(q->gaps);
	free(q->scan);
	free(q->scan_first);
	store_snap_release(q->snap);
	pthread_mutex_destroy(&q->mu);
}

int q_funnel(struct q_engine *e, const struct q_funnel_req *req, struct q_funnel_res *out)
{
	struct fn_query q = {.e = e};
	struct store_opts o;
	double t0 = now_ms();
	uint32_t nshards;
	int rc;

	memset(out, 0, sizeof *out);
	pthread_mutex_init(&q.mu, NULL);
	if ((rc = compile(&q, req)) < 0)
		goto out;
	store_get_opts(q_engine_store(e), &o);
	q.part_ms = o.partition_ms;
	if ((rc = store_snap_take(q_engine_store(e), &q.snap)) < 0)
		goto out;
	nshards = store_snap_nshards(q.snap);
	if (q.by == Q_BY_SESSION) {
		rc = q_parallel(e, nshards, session_task, &q);
	} else {
		rc = q_parallel(e, nshards, fn_gather_task, &q);
		/* phase 2 reads the buckets of the phase-1 contexts: list them
		 * now, as tasks of phase 2 may add contexts to q.all */
		for (struct fn_ctx *c = q.all; c && rc == 0; c = c->all_next)
			if (fn_grow((void **)&q.gathered, &q.gathered_cap, q.ngathered + 1,
				    sizeof *q.gathered) < 0)
				rc = -ENOMEM;
			else
				q.gathered[q.ngathered++] = c;
		if (rc == 0 && q.strict) { /* gaps, the rows against them, then the count */
			if (!(q.gaps = calloc(FN_BUCKETS, sizeof *q.gaps)))
				rc = -ENOMEM;
			q.gap_pass = 1;
			if (rc == 0)
				rc = q_parallel(e, FN_BUCKETS, fn_bucket_task, &q);
			if (rc == 0)
				rc = fn_gap_plan(&q, nshards);
			if (rc == 0)
				rc = q_parallel(e, nshards, fn_gap_task, &q);
			q.gap_pass = 2;
		}
		if (rc == 0)
			rc = q_parallel(e, FN_BUCKETS, fn_bucket_task, &q);
	}
	if (rc == 0)
		rc = fn_result(&q, out);
out:
	query_fini(&q);
	if (rc < 0) {
		q_funnel_res_free(out);
		return rc;
	}
	out->took_ms = now_ms() - t0;
	return 0;
}

void q_funnel_res_free(struct q_funnel_res *r)
{
	if (!r)
		return;
	for (unsigned s = 0; s < Q_MAX_STEPS; s++) {
		free(r->samples[s][0]);
		free(r->samples[s][1]);
	}
	free(r->xmem);
	free(r->ttc_bins);
	free(r->trend);
	free(r->mem);
	memset(r, 0, sizeof *r);
}
