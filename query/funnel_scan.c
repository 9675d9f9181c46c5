/*
 * funnel_scan.c — reading segments for a funnel: step matchers resolved to a
 * segment's dictionary ids, block scans that build a step mask per row,
 * props conditions, breakdown values, and the two sinks (session rows,
 * user rows).
 *
 * A block is read in two steps, through two cursors so the first read's
 * arrays stay valid during the second:
 *   A  type (+ target, url when a step names them): a step mask per row
 *      from integer compares; rows matching no step are dropped here.
 *   B  only when some row survived: ts, session (+ user, recv for user
 *      funnels), props when a surviving row needs them, the breakdown
 *      column.  Then the time range and props conditions are checked per
 *      surviving row, and the row goes to the sink.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "q_int.h"

#define COL(c) (1u << STORE_COL_##c)

/* Type tables up to this many entries (a sealed segment's dictionary is a
 * few thousand; a large active one falls back to compares). */
#define TAB_MAX (1u << 20)

int64_t fn_segm_init(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		     struct fn_segm *sm)
{
	uint32_t ndict;
	uint32_t has_target = 0, has_url = 0;

	memset(sm, 0, sizeof *sm);
	for (unsigned i = 0; i < q->nm; i++) {
		const struct fn_step *st = &q->steps[i];
		int64_t t = store_seg_lookup(g, st->type.p, st->type.n), x;
		unsigned j;

		if (t < 0)
			continue;
		if (st->target.n) {
			if ((x = store_seg_lookup(g, st->target.p, st->target.n)) < 0)
				continue;
			sm->target[i] = (uint32_t)x;
			has_target = 1;
		}
		if (st->url.n) {
			if ((x = store_seg_lookup(g, st->url.p, st->url.n)) < 0)
				continue;
			sm->url[i] = (uint32_t)x;
			has_url = 1;
		}
		if (st->prefix.n)
			has_url = 1;
		if (st->target.n || st->url.n || st->prefix.n)
			sm->extra |= 1u << i;
		sm->live |= 1u << i;
		for (j = 0; j < sm->ntypes && sm->tid[j] != (uint32_t)t; j++)
			;
		if (j == sm->ntypes) {
			sm->tid[j] = (uint32_t)t;
			sm->ntypes++;
		}
		sm->tmask[j] |= 1u << i;
	}
	sm->cols_a = COL(TYPE) | (has_target ? COL(TARGET) : 0) | (has_url ? COL(URL) : 0);
	ndict = store_seg_dict_size(g);
	if (sm->live && sm->ntypes > 1 && ndict <= TAB_MAX) {
		if (fn_grow((void **)&c->tab, &c->tab_cap, ndict, sizeof *c->tab) < 0)
			return -ENOMEM;
		memset(c->tab, 0, ndict * sizeof *c->tab);
		for (unsigned j = 0; j < sm->ntypes; j++)
			if (sm->tid[j] < ndict)
				c->tab[sm->tid[j]] = sm->tmask[j];
		sm->tab = c->tab;
		sm->tabn = ndict;
	}
	/* strict order counts every row of an actor, matching or not (by user
	 * through the runs of funnel_gap.c) */
	return q->strict ? (int64_t)(sm->live | 1u << 31) : sm->live;
}

/* Rows of a block whose type is a step's: hit_row/hit_mask.  Returns the
 * number of hits. */
static size_t match_types(const struct fn_segm *sm, const uint32_t *type, uint32_t n, uint32_t *row,
			  uint32_t *mask, int all_rows)
{
	size_t nh = 0;

	if (all_rows) { /* every row is a hit, its mask possibly 0 */
		for (uint32_t r = 0; r < n; r++) {
			uint32_t v = type[r], m = 0;
			for (unsigned j = 0; j < sm->ntypes; j++)
				m |= v == sm->tid[j] ? sm->tmask[j] : 0;
			row[r] = r;
			mask[r] = m;
		}
		return n;
	}
	if (sm->ntypes == 1) {
		uint32_t t0 = sm->tid[0], m0 = sm->tmask[0];
		for (uint32_t r = 0; r < n; r++) {
			row[nh] = r;
			mask[nh] = m0;
			nh += type[r] == t0;
		}
		return nh;
	}
	if (sm->tab) {
		const uint32_t *tab = sm->tab;
		uint32_t tabn = sm->tabn;
		for (uint32_t r = 0; r < n; r++) {
			uint32_t v = type[r], m = v < tabn ? tab[v] : 0;
			row[nh] = r;
			mask[nh] = m;
			nh += m != 0;
		}
		return nh;
	}
	for (uint32_t r = 0; r < n; r++) {
		uint32_t v = type[r], m = 0;
		for (unsigned j = 0; j < sm->ntypes; j++)
			m |= v == sm->tid[j] ? sm->tmask[j] : 0;
		row[nh] = r;
		mask[nh] = m;
		nh += m != 0;
	}
	return nh;
}

/* Clears the bits of steps whose target, url or url_prefix a hit fails;
 * drops hits left with no step.  Returns the new number of hits. */
static size_t match_strings(const struct fn_query *q, const struct store_seg *g,
			    const struct fn_segm *sm, const struct store_block *ba, uint32_t *row,
			    uint32_t *mask, size_t nh, int c_all_rows)
{
	const unsigned keep_all = (unsigned)c_all_rows;
	size_t out = 0;

	for (size_t i = 0; i < nh; i++) {
		uint32_t r = row[i], m = mask[i], x = m & sm->extra;
		while (x) {
			unsigned s = (unsigned)__builtin_ctz(x);
			const struct fn_step *st = &q->steps[s];
			x &= x - 1;
			if ((st->target.n && ba->target[r] != sm->target[s]) ||
			    (st->url.n && ba->url[r] != sm->url[s])) {
				m &= ~(1u << s);
				continue;
			}
			if (st->prefix.n) {
				struct store_str u = store_seg_str(g, ba->url[r]);
				if (u.n < st->prefix.n ||
				    memcmp(u.p, st->prefix.p, st->prefix.n) != 0)
					m &= ~(1u << s);
			}
		}
		row[out] = r;
		mask[out] = m;
		out += m != 0 || keep_all;
	}
	return out;
}

/* ---- props ------------------------------------------------------------------ */

/* Parses one row's props into c->tok.  Returns the token count of a JSON
 * object, or 0 (absent, not an object, not JSON: matches no condition). */
static int props_parse(struct fn_ctx *c, const char *p, size_t n)
{
	int rc;
	if (n == 0)
		return 0;
	rc = json_parse(p, n, c->tok, c->tok_cap, FN_PROPS_DEPTH, NULL);
	return rc > 0 && c->tok[0].type == JSON_OBJECT ? rc : 0;
}

/* Index of the value of the first member named key, or -1. */
static int props_find(const char *p, const struct json_tok *tok, struct store_str key)
{
	uint32_t end = tok[0].next, i = 1;
	while (i < end) {
		if (json_str_eq(p, &tok[i], key.p, key.n))
			return (int)i + 1;
		i = json_skip(tok, i + 1);
	}
	return -1;
}

/* A number token as a double (c->buf holds a NUL-terminated copy). */
static double num_value(struct fn_ctx *c, const char *p, const struct json_tok *t)
{
	size_t n = t->end - t->start;
	if (n > STORE_MAX_PROPS)
		n = STORE_MAX_PROPS;
	memcpy(c->buf, p + t->start, n);
	c->buf[n] = '\0';
	return strtod(c->buf, NULL);
}

static int prop_match(struct fn_ctx *c, const char *p, const struct json_tok *tok,
		      const struct fn_prop *pr)
{
	int vi = props_find(p, tok, pr->key);
	const struct json_tok *t;
	int64_t v;

	if (vi < 0)
		return 0;
	t = &tok[vi];
	if (t->type != pr->kind)
		return 0;
	switch (t->type) {
	case JSON_STRING: return json_str_eq(p, t, pr->str, pr->slen);
	case JSON_NUMBER:
		if (pr->is_int && (t->flags & JSON_TOK_INTEGER) && json_get_int64(p, t, &v) == 0)
			return v == pr->ival;
		return num_value(c, p, t) == pr->dval;
	default: return 1; /* true, false, null */
	}
}

/* The value of props.KEY: a string decoded, another value as its raw text;
 * {NULL, 0} when absent.  Interned in c->arena.  Returns 0 or -ENOMEM. */
static int props_value(struct fn_ctx *c, const char *p, int ntok, struct store_str key,
		       struct store_str *out)
{
	const struct json_tok *t;
	const struct fn_slot *s;
	const char *v;
	int vi, n;
	uint32_t val;
	int added;
	uint64_t h;

	*out = (struct store_str){NULL, 0};
	if (ntok <= 0 || (vi = props_find(p, c->tok, key)) < 0)
		return 0;
	t = &c->tok[vi];
	if (t->type == JSON_STRING) {
		n = json_str_decode(p, t, c->buf, STORE_MAX_PROPS);
		v = c->buf;
		if (n < 0)
			return 0;
	} else {
		v = p + t->start;
		n = (int)(t->end - t->start);
	}
	h = fn_hash(v, (size_t)n);
	if ((s = fn_map_find(&c->bdset, v, (uint32_t)n, h))) {
		*out = (struct store_str){s->p, s->n};
		return 0;
	}
	if (!(v = fn_arena_copy(&c->arena, v, (size_t)n)) ||
	    fn_map_put(&c->bdset, v, (uint32_t)n, h, 0, &val, &added) < 0)
		return -ENOMEM;
	*out = (struct store_str){v, (uint32_t)n};
	return 0;
}

/* ---- the scan --------------------------------------------------------------- */

/* What one segment's scan keeps between blocks. */
struct seg_scan {
	const struct fn_query *q;
	struct fn_ctx *c;
	const struct store_seg *g;
	uint32_t seg_ord;
	uint32_t last_sid; /* session sink: last session id and its actor */
	uint32_t last_actor;
	uint32_t last_uid; /* user sink: last user id, its string and hash */
	struct store_str last_u;
	uint64_t last_uh;
	uint32_t last_usid; /* user sink: last session id and its string */
	struct store_str last_s;
	struct fn_urec *xb; /* user sink, c->xcollapse: the open block, NULL: none */
	uint32_t xb_uid, xb_sid; /* its user and session */
	uint32_t run_row; /* strict runs: the block's rows before it are counted */
};

/* Strict order over one sealed segment (c->strict_runs): a session's rows
 * are one run in (ts, arrival) order, so a hit's position in its actor's
 * sequence is the actor's count of rows seen before it.  Counts the rows
 * [sc->run_row, end) of block bb into their actors.  A session not yet an
 * actor is skipped: rows before an actor's first hit shift all its
 * positions alike, and only differences of positions matter. */
static void runs_count(struct seg_scan *sc, const struct store_block *bb, uint32_t end)
{
	struct fn_ctx *c = sc->c;
	const uint32_t *sess = bb->session;
	uint32_t r = sc->run_row;

	while (r < end) {
		uint32_t sid = sess[r], e = r + 1;
		while (e < end && sess[e] == sid)
			e++;
		if (sid != sc->last_sid) {
			struct store_str s = store_seg_str(sc->g, sid);
			const struct fn_slot *sl = fn_map_find(&c->smap, s.p, s.n, fn_hash(s.p, s.n));
			sc->last_sid = sid;
			sc->last_actor = sl ? sl->val : FN_EMPTY;
		}
		if (sc->last_actor != FN_EMPTY)
			c->apos[sc->last_actor] += e - r;
		r = e;
	}
	sc->run_row = end;
}

static int sink_session(struct seg_scan *sc, const struct store_block *bb, uint32_t r,
			uint32_t mask, struct store_str bd, struct store_str val)
{
	const struct fn_query *q = sc->q;
	struct fn_ctx *c = sc->c;
	uint32_t sid = bb->session[r];

	uint64_t pos = 0;

	if (c->strict_runs)
		runs_count(sc, bb, r);
	if (sid != sc->last_sid || sc->last_actor == FN_EMPTY) {
		struct store_str s = store_seg_str(sc->g, sid);
		int added;
		if (fn_grow((void **)&c->states, &c->states_cap, (c->nstates + 1) * q->stride, 1) <
			0 ||
		    (q->strict &&
		     fn_grow((void **)&c->apos, &c->apos_cap, c->nstates + 1, sizeof *c->apos) < 0) ||
		    fn_map_put(&c->smap, s.p, s.n, fn_hash(s.p, s.n), (uint32_t)c->nstates,
			       &sc->last_actor, &added) < 0)
			return -ENOMEM;
		if (added && q->ext) { /* the session of each actor, for samples */
			if (fn_grow((void **)&c->asess, &c->asess_cap, c->nstates + 1,
				    sizeof *c->asess) < 0)
				return -ENOMEM;
			c->asess[c->nstates] = s;
		}
		if (added && q->strict)
			c->apos[c->nstates] = 0;
		if (added)
			fn_state_reset(q, c->states + q->stride * c->nstates++);
		sc->last_sid = sid;
	}
	if (c->strict_runs) { /* this row counted, and its position taken */
		pos = c->apos[sc->last_actor]++;
		sc->run_row = r + 1;
	}
	if (fn_grow((void **)&c->recs, &c->recs_cap, c->nrecs + 1, sizeof *c->recs) < 0)
		return -ENOMEM;
	c->recs[c->nrecs++] = (struct fn_srec){.actor = sc->last_actor,
					       .mask = mask,
					       .ts = bb->ts[r],
					       .bd = bd,
					       .val = val,
					       .pos = pos};
	return 0;
}

/* Adds a row to the block of exclusion rows whose first row is x (its
 * rows, if any, the newest in c->xchunks).  Returns 0, 1 when the block is
 * full, or -ENOMEM. */
static int xblock_add(struct fn_ctx *c, struct fn_urec *x, int64_t ts, int64_t recv, uint64_t ord)
{
	struct fn_xchunk *ch = c->xchunks;

	if (x->xn >= FN_XCHUNK_CAP)
		return 1;
	if (!ch || ch->n == FN_XCHUNK_CAP) { /* a new chunk; the block's rows move along */
		struct fn_xchunk *nc = q_engine_chunk_get(c->e);
		if (!nc)
			return -ENOMEM;
		nc->next = ch;
		nc->n = x->xn;
		if (x->xn) {
			memcpy(nc->r, x->xin, x->xn * sizeof *nc->r);
			ch->n -= x->xn;
		}
		x->xin = nc->r;
		c->xchunks = ch = nc;
	}
	if (!x->xn)
		x->xin = ch->r + ch->n;
	x->xrise &= ts > (x->xn ? x->xlast : x->ts);
	x->xlast = ts;
	ch->r[ch->n++] = (struct fn_xin){ts, recv, ord};
	x->xn++;
	return 0;
}

static int sink_user(struct seg_scan *sc, const struct store_block *bb, uint32_t r, uint32_t mask,
		     struct store_str bd, struct store_str val)
{
	struct fn_ctx *c = sc->c;
	uint32_t uid = bb->user[r], b;
	uint64_t ord = (uint64_t)sc->seg_ord << 32 | (bb->row0 + r);
	struct store_str u, s;
	struct fn_urec *e;
	int rc;

	if (sc->xb && sc->xb->mask == mask && sc->xb_uid == uid && sc->xb_sid == bb->session[r]) {
		if ((rc = xblock_add(c, sc->xb, bb->ts[r], bb->recv[r], ord)) <= 0)
			return rc;
		/* full: this row begins another */
	}

	if (uid != sc->last_uid) {
		sc->last_uid = uid;
		sc->last_u = store_seg_str(sc->g, uid);
		sc->last_uh = fn_hash(sc->last_u.p, sc->last_u.n);
	}
	u = sc->last_u;
	if (bb->session[r] != sc->last_usid) {
		sc->last_usid = bb->session[r];
		sc->last_s = store_seg_str(sc->g, sc->last_usid);
	}
	s = sc->last_s;
	b = (uint32_t)(sc->last_uh >> 58) % FN_BUCKETS;
	if (!(e = fn_bucket_add(c, b)))
		return -ENOMEM;
	*e = (struct fn_urec){.ts = bb->ts[r],
			      .recv = bb->recv[r],
			      .ord = ord,
			      .uh = sc->last_uh,
			      .user = u.p,
			      .sess = s.p,
			      .bd = bd.p,
			      .bdn = bd.n,
			      .val = val.p,
			      .valn = val.n,
			      .mask = mask,
			      .un = (uint8_t)u.n,
			      .sn = (uint8_t)s.n};
	if (c->user_runs) {
		c->sunk_row[c->nsunk] = r;
		c->sunk_rec[c->nsunk++] = e;
	}
	sc->xb = NULL; /* a block ends at any other row gathered */
	if (c->xcollapse && !(mask & sc->q->step_bits)) { /* exclusions only: a block begins */
		e->xblock = 1;
		e->xin = NULL;
		e->xn = 0;
		e->xrise = 1;
		sc->xb = e;
		sc->xb_uid = uid;
		sc->xb_sid = bb->session[r];
	}
	return 0;
}

/* Columns of read B for the hits of a block. */
static unsigned cols_b(const struct fn_query *q, const struct fn_ctx *c, const struct fn_segm *sm,
		       size_t nh)
{
	unsigned cols = COL(TS) | COL(SESSION), bdcol = 0;
	uint32_t any = 0;

	if (q->by == Q_BY_USER)
		cols |= COL(USER) | COL(RECV);
	for (size_t i = 0; i < nh; i++)
		any |= c->hit_mask[i];
	if ((any & q->props_steps) || (q->bd == Q_BD_PROP && (any & q->bd_bits)))
		cols |= COL(PROPS);
	if (q->bd == Q_BD_URL)
		bdcol = COL(URL);
	else if (q->bd == Q_BD_TARGET)
		bdcol = COL(TARGET);
	else if (q->bd == Q_BD_TYPE)
		bdcol = COL(TYPE);
	if (any & q->bd_bits)
		cols |= bdcol & ~sm->cols_a;
	if (any & q->step_bits) { /* the held value of step rows */
		if (q->same == Q_SAME_URL)
			cols |= COL(URL) & ~sm->cols_a;
		else if (q->same == Q_SAME_TARGET)
			cols |= COL(TARGET) & ~sm->cols_a;
		else if (q->same == Q_SAME_USER)
			cols |= COL(USER);
		else if (q->same == Q_SAME_PROP)
			cols |= COL(PROPS);
	}
	return cols;
}

/* Value of column breakdown `bd` (Q_BD_URL, _TARGET, _TYPE) for row r. */
static struct store_str col_value(enum q_breakdown bd, const struct store_seg *g,
				  const struct store_block *ba, const struct store_block *bb,
				  uint32_t r)
{
	const uint32_t *v;
	switch (bd) {
	case Q_BD_URL: v = ba->url ? ba->url : bb->url; break;
	case Q_BD_TARGET: v = ba->target ? ba->target : bb->target; break;
	default: v = ba->type; break;
	}
	return store_seg_str(g, v[r]);
}

/* The held value of row r ("same"), {NULL, 0} when the row has none. */
static int held_value(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		      const struct store_block *ba, const struct store_block *bb, uint32_t r,
		      const char *p, int *ntok, struct store_str *out)
{
	*out = (struct store_str){NULL, 0};
	switch (q->same) {
	case Q_SAME_URL: *out = col_value(Q_BD_URL, g, ba, bb, r); break;
	case Q_SAME_TARGET: *out = col_value(Q_BD_TARGET, g, ba, bb, r); break;
	case Q_SAME_USER: *out = store_seg_str(g, bb->user[r]); break;
	case Q_SAME_PROP:
		if (!p)
			return 0;
		if (*ntok < 0)
			*ntok = props_parse(c, p, bb->props_off[r + 1] - bb->props_off[r]);
		return props_value(c, p, *ntok, q->same_key, out);
	default: return 0;
	}
	if (out->n == 0)
		*out = (struct store_str){NULL, 0}; /* an empty column value is an absent one */
	return 0;
}

/* The second half of a block: range, props, breakdown, sink. */
static int finish_block(struct seg_scan *sc, const struct fn_segm *sm, const struct store_block *ba,
			const struct store_block *bb, size_t nh)
{
	const struct fn_query *q = sc->q;
	struct fn_ctx *c = sc->c;
	int inside = bb->min_ts >= q->from && bb->max_ts < q->to, rc;

	for (size_t i = 0; i < nh; i++) {
		uint32_t r = c->hit_row[i], m = c->hit_mask[i], x;
		struct store_str bd = {"", 0}, val = {NULL, 0};
		const char *p = NULL;
		int ntok = -1;

		if (!inside && (bb->ts[r] < q->from || bb->ts[r] >= q->to))
			continue;
		if (q->by == Q_BY_USER && bb->user[r] == STORE_NO_STR)
			continue; /* user funnels ignore events without a user */
		if (bb->props_off) {
			p = bb->props_bytes + bb->props_off[r];
			if (m & q->props_steps) {
				ntok = props_parse(c, p, bb->props_off[r + 1] - bb->props_off[r]);
				for (x = m & q->props_steps; x; x &= x - 1) {
					unsigned s = (unsigned)__builtin_ctz(x);
					const struct fn_step *st = &q->steps[s];
					for (unsigned j = 0; j < st->nprops; j++)
						if (!ntok ||
						    !prop_match(c, p, c->tok, &st->props[j])) {
							m &= ~(1u << s);
							break;
						}
				}
				if (!m && !c->all_rows)
					continue;
			}
		}
		if ((m & q->bd_bits) && q->bd != Q_BD_NONE) {
			if (q->bd != Q_BD_PROP) {
				bd = col_value(q->bd, sc->g, ba, bb, r);
			} else {
				if (ntok < 0)
					ntok = props_parse(c, p,
							   bb->props_off[r + 1] - bb->props_off[r]);
				if ((rc = props_value(c, p, ntok, q->bd_key, &bd)) < 0)
					return rc;
				if (!bd.p)
					bd = (struct store_str){"", 0};
			}
		}
		if (q->same != Q_SAME_NONE && (m & q->step_bits) &&
		    (rc = held_value(q, c, sc->g, ba, bb, r, p, &ntok, &val)) < 0)
			return rc;
		rc = q->by == Q_BY_USER ? sink_user(sc, bb, r, m, bd, val)
					: sink_session(sc, bb, r, m, bd, val);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Room for n hits.  Returns 0 or -ENOMEM. */
static int hits_reserve(struct fn_ctx *c, size_t n)
{
	uint32_t *row, *mask, *srow;
	struct fn_urec **srec;

	if (n <= c->hit_cap)
		return 0;
	row = malloc(n * sizeof *row);
	mask = malloc(n * sizeof *mask);
	srow = malloc(n * sizeof *srow);
	srec = malloc(n * sizeof *srec);
	if (!row || !mask || !srow || !srec) {
		free(row);
		free(mask);
		free(srow);
		free(srec);
		return -ENOMEM;
	}
	free(c->hit_row);
	free(c->hit_mask);
	free(c->sunk_row);
	free(c->sunk_rec);
	c->hit_row = row;
	c->hit_mask = mask;
	c->sunk_row = srow;
	c->sunk_rec = srec;
	c->hit_cap = n;
	return 0;
}

int fn_scan_seg(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		const struct fn_segm *sm, uint32_t seg_ord)
{
	struct seg_scan sc = {.q = q,
			      .c = c,
			      .g = g,
			      .seg_ord = seg_ord,
			      .last_sid = UINT32_MAX,
			      .last_uid = UINT32_MAX,
			      .last_usid = UINT32_MAX};
	uint32_t nb = store_seg_nblocks(g);
	int rc;

	for (uint32_t b = 0; b < nb; b++) {
		struct store_block ba, bb;
		size_t nh;

		if ((rc = store_seg_block_info(g, b, &ba)) < 0)
			return rc;
		if (ba.nrows == 0 || ba.max_ts < q->from || ba.min_ts >= q->to)
			continue;
		rc = store_cursor_read(c->cur_a, g, b, sm->cols_a, &ba);
		if (rc == ERR_CORRUPT)
			continue; /* reported in store_problems(); the rest stays readable */
		if (rc < 0)
			return rc;
		c->scanned += ba.nrows;
		if ((rc = hits_reserve(c, ba.nrows)) < 0)
			return rc;
		nh = match_types(sm, ba.type, ba.nrows, c->hit_row, c->hit_mask, c->all_rows);
		if (nh && sm->extra)
			nh = match_strings(q, g, sm, &ba, c->hit_row, c->hit_mask, nh, c->all_rows);
		sc.run_row = 0;
		c->nsunk = 0;
		if (!nh && (c->strict_runs || c->user_runs)) { /* no hit, but its rows count */
			rc = store_cursor_read(c->cur_b, g, b,
					       c->user_runs ? COL(SESSION) | COL(USER) | COL(TS)
							    : COL(SESSION),
					       &bb);
			if (rc == ERR_CORRUPT)
				continue;
			if (rc < 0)
				return rc;
			if (c->strict_runs)
				runs_count(&sc, &bb, bb.nrows);
			else if ((rc = fn_runs_block(q, c, g, seg_ord, &bb)) < 0)
				return rc;
			continue;
		}
		if (!nh)
			continue;
		rc = store_cursor_read(c->cur_b, g, b, cols_b(q, c, sm, nh), &bb);
		if (rc == ERR_CORRUPT)
			continue;
		if (rc < 0)
			return rc;
		if ((rc = finish_block(&sc, sm, &ba, &bb, nh)) < 0)
			return rc;
		if (c->strict_runs)
			runs_count(&sc, &bb, bb.nrows);
		if (c->user_runs && (rc = fn_runs_block(q, c, g, seg_ord, &bb)) < 0)
			return rc;
	}
	return 0;
}
