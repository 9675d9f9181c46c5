/*
 * read.c — whole-store reads built on snapshots: the events of one session
 * (replay) and the list of sessions.
 *
 * Arrival order across segments: equal timestamps fall in one partition;
 * within a (partition, shard) segments are in arrival order (seq), and
 * inside a sealed segment a session's rows are sorted by (ts, arrival), in
 * an active one by arrival.  So visiting partitions, then segments, then
 * rows, and numbering matches in that order gives an arrival rank that a
 * stable sort by ts preserves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "err.h"
#include "store_int.h"

/* ---- growable byte arena ----------------------------------------------------- */

struct bytes {
	char *p;
	size_t n, cap;
};

static int64_t bytes_add(struct bytes *b, const char *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return (int64_t)(b->n - n);
}

/* ---- one session's events ------------------------------------------------------ */

enum { F_SESSION, F_USER, F_TYPE, F_TARGET, F_URL, F_PROPS, F_ID, F_N };

struct tev {
	int64_t ts, recv;
	uint64_t rank;
	uint32_t off[F_N], len[F_N];
	int32_t x, y;
	uint32_t flags;
};

struct store_events {
	struct store_event *ev;
	size_t n;
	char *bytes;
};

struct collect {
	struct tev *v;
	size_t n, cap;
	struct bytes b;
	uint64_t rank;
	int64_t from, to;
};

static int put_str(struct collect *c, struct tev *t, int f, struct store_str s)
{
	int64_t o = bytes_add(&c->b, s.p, s.n);
	if (o < 0)
		return (int)o;
	t->off[f] = (uint32_t)o;
	t->len[f] = s.n;
	return 0;
}

/* Appends row i of block blk (of segment e) to c. */
static int emit(struct collect *c, const struct store_seg *e, const struct store_block *blk,
		uint32_t i)
{
	struct tev *t;
	int rc;

	if (blk->ts[i] < c->from || (c->to && blk->ts[i] >= c->to))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct tev *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	t = &c->v[c->n];
	t->ts = blk->ts[i];
	t->recv = blk->recv[i];
	t->rank = c->rank++;
	t->x = blk->x[i];
	t->y = blk->y[i];
	t->flags = blk->flags[i];
	if ((rc = put_str(c, t, F_SESSION, store_seg_str(e, blk->session[i]))) < 0 ||
	    (rc = put_str(c, t, F_USER, store_seg_str(e, blk->user[i]))) < 0 ||
	    (rc = put_str(c, t, F_TYPE, store_seg_str(e, blk->type[i]))) < 0 ||
	    (rc = put_str(c, t, F_TARGET, store_seg_str(e, blk->target[i]))) < 0 ||
	    (rc = put_str(c, t, F_URL, store_seg_str(e, blk->url[i]))) < 0)
		return rc;
	struct store_str props = {blk->props_bytes + blk->props_off[i],
				  blk->props_off[i + 1] - blk->props_off[i]};
	struct store_str id = {blk->id_bytes + blk->id_off[i], blk->id_off[i + 1] - blk->id_off[i]};
	if ((rc = put_str(c, t, F_PROPS, props)) < 0 || (rc = put_str(c, t, F_ID, id)) < 0)
		return rc;
	c->n++;
	return 0;
}

/* The rows of session sid in segment e. */
static int collect_seg(struct collect *c, struct store_cursor *cur, const struct store_seg *e,
		       uint32_t sid)
{
	struct store_block blk;
	uint64_t r0, nr;
	int rc;

	if (e->max_ts < c->from || (c->to && e->min_ts >= c->to))
		return 0;
	if (store_seg_sealed(e)) {
		if (store_seg_session_rows(e, sid, &r0, &nr) < 0 || nr == 0)
			return 0;
		uint32_t b0 = (uint32_t)(r0 / SEG_BLOCK_ROWS), b1 = (uint32_t)((r0 + nr - 1) / SEG_BLOCK_ROWS);
		for (uint32_t b = b0; b <= b1; b++) {
			rc = store_cursor_read(cur, e, b, STORE_COLS_ALL, &blk);
			if (rc == ERR_CORRUPT)
				continue; /* reported; the rest of the session still reads */
			if (rc < 0)
				return rc;
			for (uint32_t i = 0; i < blk.nrows; i++) {
				uint64_t row = blk.row0 + i;
				if (row >= r0 && row < r0 + nr && (rc = emit(c, e, &blk, i)) < 0)
					return rc;
			}
		}
		return 0;
	}
	for (uint32_t b = 0; b < store_seg_nblocks(e); b++) {
		if ((rc = store_cursor_read(cur, e, b, STORE_COLS_ALL, &blk)) < 0)
			return rc;
		for (uint32_t i = 0; i < blk.nrows; i++)
			if (blk.session[i] == sid && (rc = emit(c, e, &blk, i)) < 0)
				return rc;
	}
	return 0;
}

static int cmp_tev(const void *pa, const void *pb)
{
	const struct tev *a = pa, *b = pb;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static struct store_str view(const struct bytes *b, const struct tev *t, int f)
{
	struct store_str s = {b->p ? b->p + t->off[f] : "", t->len[f]};
	return s;
}

int store_session_events(struct store_snap *snap, const char *session, size_t len, int64_t from,
			 int64_t to, struct store_events **out)
{
	struct collect c = {.from = from, .to = to};
	struct store_cursor *cur = NULL;
	struct store_events *r = NULL;
	uint32_t shard;
	int rc;

	*out = NULL;
	if (len == 0)
		return ERR_INVALID;
	if ((rc = store_cursor_new(&cur)) < 0)
		return rc;
	shard = store_shard_of(session, len, store_snap_nshards(snap));
	for (size_t p = 0; p < store_snap_nparts(snap) && rc == 0; p++)
		for (size_t i = 0; i < store_snap_nsegs(snap, p, shard) && rc == 0; i++) {
			const struct store_seg *e = store_snap_seg(snap, p, shard, i);
			int64_t sid = store_seg_lookup(e, session, len);
			if (sid > 0)
				rc = collect_seg(&c, cur, e, (uint32_t)sid);
		}
	store_cursor_free(cur);
	if (rc == 0 && !(r = calloc(1, sizeof *r)))
		rc = -ENOMEM;
	if (rc == 0 && c.n && !(r->ev = malloc(c.n * sizeof *r->ev)))
		rc = -ENOMEM;
	if (rc < 0) {
		free(r);
		free(c.v);
		free(c.b.p);
		return rc;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof *c.v, cmp_tev);
	for (size_t i = 0; i < c.n; i++) {
		const struct tev *t = &c.v[i];
		struct store_event *e = &r->ev[i];
		e->ts = t->ts;
		e->recv = t->recv;
		e->session = view(&c.b, t, F_SESSION);
		e->user = view(&c.b, t, F_USER);
		e->type = view(&c.b, t, F_TYPE);
		e->target = view(&c.b, t, F_TARGET);
		e->url = view(&c.b, t, F_URL);
		e->props = view(&c.b, t, F_PROPS);
		e->id = view(&c.b, t, F_ID);
		e->x = t->x;
		e->y = t->y;
		e->flags = t->flags;
	}
	r->n = c.n;
	r->bytes = c.b.p;
	free(c.v);
	*out = r;
	return 0;
}

size_t store_events_count(const struct store_events *e)
{
	return e ? e->n : 0;
}

const struct store_event *store_events_at(const struct store_events *e, size_t i)
{
	return e && i < e->n ? &e->ev[i] : NULL;
}

void store_events_free(struct store_events *e)
{
	if (!e)
		return;
	free(e->ev);
	free(e->bytes);
	free(e);
}

/* ---- session list ----------------------------------------------------------- */

struct sinfo {
	uint64_t hash;
	uint32_t off, len;        /* session bytes in the arena */
	uint32_t uoff, ulen;      /* user bytes */
	int64_t user_ts;          /* ts of the event the user came from */
	int64_t first_ts, last_ts;
	uint64_t events;
};

struct smap {
	struct sinfo *v;
	size_t n, mask;
	struct bytes b;
};

static int smap_grow(struct smap *m)
{
	size_t cap = m->mask ? (m->mask + 1) * 2 : 1024;
	struct sinfo *v = calloc(cap, sizeof *v);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; m->mask && i <= m->mask; i++) {
		if (!m->v[i].len)
			continue;
		size_t j = m->v[i].hash & (cap - 1);
		while (v[j].len)
			j = (j + 1) & (cap - 1);
		v[j] = m->v[i];
	}
	free(m->v);
	m->v = v;
	m->mask = cap - 1;
	return 0;
}

/* Adds `events` rows of session s between first and last; user u seen at uts. */
static int smap_add(struct smap *m, struct store_str s, struct store_str u, int64_t uts,
		    int64_t first, int64_t last, uint64_t events)
{
	uint64_t h = XXH3_64bits(s.p, s.n);
	struct sinfo *e;
	size_t j;

	if ((m->n + 1) * 2 > m->mask + 1 && smap_grow(m) < 0)
		return -ENOMEM;
	for (j = h & m->mask; m->v[j].len; j = (j + 1) & m->mask)
		if (m->v[j].hash == h && m->v[j].len == s.n &&
		    memcmp(m->b.p + m->v[j].off, s.p, s.n) == 0)
			break;
	e = &m->v[j];
	if (!e->len) {
		int64_t o = bytes_add(&m->b, s.p, s.n);
		if (o < 0)
			return (int)o;
		e->hash = h;
		e->off = (uint32_t)o;
		e->len = s.n;
		e->first_ts = first;
		e->last_ts = last;
		e->user_ts = INT64_MIN;
		m->n++;
	}
	if (first < e->first_ts)
		e->first_ts = first;
	if (last > e->last_ts)
		e->last_ts = last;
	e->events += events;
	if (u.n && uts >= e->user_ts) {
		int64_t o = bytes_add(&m->b, u.p, u.n);
		if (o < 0)
			return (int)o;
		e->uoff = (uint32_t)o;
		e->ulen = u.n;
		e->user_ts = uts;
	}
	return 0;
}

/* Adds every row of e within [from, to) to the map. */
static int scan_seg(struct smap *m, struct store_cursor *cur, const struct store_seg *e,
		    int64_t from, int64_t to)
{
	unsigned cols = 1u << STORE_COL_TS | 1u << STORE_COL_SESSION | 1u << STORE_COL_USER;
	struct store_block blk;
	int rc;

	for (uint32_t b = 0; b < store_seg_nblocks(e); b++) {
		if ((rc = store_seg_block_info(e, b, &blk)) < 0)
			return rc;
		if (blk.max_ts < from || (to && blk.min_ts >= to))
			continue;
		rc = store_cursor_read(cur, e, b, cols, &blk);
		if (rc == ERR_CORRUPT)
			continue;
		if (rc < 0)
			return rc;
		for (uint32_t i = 0; i < blk.nrows; i++) {
			int64_t t = blk.ts[i];
			if (t < from || (to && t >= to))
				continue;
			rc = smap_add(m, store_seg_str(e, blk.session[i]), store_seg_str(e, blk.user[i]),
				      t, t, t, 1);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Sealed segment wholly inside [from, to): its session index suffices. */
static int index_seg(struct smap *m, const struct store_seg *e)
{
	uint32_t n;
	const struct sealed_sess *v = sealed_sessions(e->g, &n);
	for (uint32_t i = 0; i < n; i++) {
		int rc = smap_add(m, store_seg_str(e, v[i].sid), store_seg_str(e, v[i].user),
				  v[i].last_ts, v[i].first_ts, v[i].last_ts, v[i].nrows);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_recent(const void *pa, const void *pb)
{
	const struct store_session_info *a = pa, *b = pb;
	if (a->last_ts != b->last_ts)
		return a->last_ts > b->last_ts ? -1 : 1;
	if (a->session.n != b->session.n)
		return a->session.n < b->session.n ? -1 : 1;
	return memcmp(a->session.p, b->session.p, a->session.n);
}

int store_sessions(struct store_snap *snap, const char *user, size_t user_len, int64_t from,
		   int64_t to, size_t limit, struct store_session_list *out)
{
	struct smap m = {0};
	struct store_cursor *cur = NULL;
	size_t k = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = store_cursor_new(&cur)) < 0)
		return rc;
	for (size_t p = 0; p < store_snap_nparts(snap) && rc == 0; p++)
		for (uint32_t sh = 0; sh < store_snap_nshards(snap) && rc == 0; sh++)
			for (size_t i = 0; i < store_snap_nsegs(snap, p, sh) && rc == 0; i++) {
				const struct store_seg *e = store_snap_seg(snap, p, sh, i);
				if (e->max_ts < from || (to && e->min_ts >= to))
					continue;
				if (user && store_seg_lookup(e, user, user_len) < 0)
					continue; /* the user never appears here */
				if (store_seg_sealed(e) && e->min_ts >= from && (!to || e->max_ts < to))
					rc = index_seg(&m, e);
				else
					rc = scan_seg(&m, cur, e, from, to);
			}
	store_cursor_free(cur);
	if (rc == 0 && m.n && !(out->v = malloc(m.n * sizeof *out->v)))
		rc = -ENOMEM;
	if (rc < 0) {
		free(m.v);
		free(m.b.p);
		return rc;
	}
	for (size_t j = 0; m.mask && j <= m.mask; j++) {
		const struct sinfo *e = &m.v[j];
		if (!e->len)
			continue;
		if (user && (e->ulen != user_len || memcmp(m.b.p + e->uoff, user, user_len) != 0))
			continue;
		struct store_session_info *o = &out->v[k++];
		o->session = (struct store_str){m.b.p + e->off, e->len};
		o->user = (struct store_str){e->ulen ? m.b.p + e->uoff : "", e->ulen};
		o->first_ts = e->first_ts;
		o->last_ts = e->last_ts;
		o->events = e->events;
	}
	free(m.v);
	if (k)
		qsort(out->v, k, sizeof *out->v, cmp_recent);
	out->n = limit && k > limit ? limit : k;
	out->mem = m.b.p;
	return 0;
}

void store_session_list_free(struct store_session_list *l)
{
	if (!l)
		return;
	free(l->v);
	free(l->mem);
	memset(l, 0, sizeof *l);
}
