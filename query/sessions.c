/*
 * sessions.c — GET /v1/sessions?user=&from=&to=&limit=: the sessions with
 * events in [from, to), newest last event first.
 *
 * store_sessions() gives each session's bounds, event count and user; the
 * number of distinct pages (urls) is computed here, for the listed sessions
 * only, in one pass per shard on the engine's workers: a session lives in
 * one shard, so each shard's sessions are resolved to dictionary ids once
 * per segment; a sealed segment's session index gives each one's row range
 * (each block read at most once, ranges in row order), an active segment's
 * session column is scanned.  Distinct urls are counted by content, as
 * (session, url) pairs in one string set per shard.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "q_http_int.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT     10000

struct sid_ref {
	uint32_t sid;	 /* dictionary id in the segment at hand */
	uint32_t idx;	 /* index in the session list */
	uint64_t r0, nr; /* sealed: the session's rows */
};

struct pages_job {
	struct store_snap *snap;
	int64_t from, to; /* to: exclusive, INT64_MAX when unbounded */
	const struct store_session_list *list;
	size_t *order;	 /* list indices grouped by shard */
	size_t *start;	 /* nshards + 1 offsets into order */
	uint64_t *pages; /* per list index */
};

static int cmp_sid(const void *a, const void *b)
{
	const struct sid_ref *x = a, *y = b;
	return x->sid < y->sid ? -1 : x->sid > y->sid;
}

static int cmp_r0(const void *a, const void *b)
{
	const struct sid_ref *x = a, *y = b;
	return x->r0 < y->r0 ? -1 : x->r0 > y->r0;
}

/* Counts url u of list entry idx (segment e) once. */
static int add_url(struct pages_job *j, struct q_sset *set, const struct store_seg *e, uint32_t url,
		   uint32_t idx)
{
	struct store_str s;
	int rc;

	if (url == STORE_NO_STR)
		return 0;
	s = store_seg_str(e, url);
	if ((rc = q_sset_add(set, s.p, s.n, idx)) > 0)
		j->pages[idx]++;
	return rc < 0 ? rc : 0;
}

static int in_range(const struct pages_job *j, int64_t ts)
{
	return ts >= j->from && ts < j->to;
}

static int scan_sealed(struct pages_job *j, struct q_sset *set, struct store_cursor *cur,
		       const struct store_seg *e, struct sid_ref *refs, size_t n)
{
	unsigned cols = 1u << STORE_COL_TS | 1u << STORE_COL_URL;
	uint32_t nb = store_seg_nblocks(e), b = 0, loaded = UINT32_MAX;
	struct store_block blk = {0}, info;
	size_t m = 0;
	int rc;

	for (size_t k = 0; k < n; k++)
		if (store_seg_session_rows(e, refs[k].sid, &refs[k].r0, &refs[k].nr) == 0 &&
		    refs[k].nr)
			refs[m++] = refs[k];
	qsort(refs, m, sizeof *refs, cmp_r0);
	for (size_t k = 0; k < m; k++) {
		uint64_t r0 = refs[k].r0, r1 = r0 + refs[k].nr;
		for (; b < nb; b++) {
			if ((rc = store_seg_block_info(e, b, &info)) < 0)
				return rc;
			if (info.row0 >= r1)
				break;
			if (info.row0 + info.nrows <= r0)
				continue;
			if (info.max_ts < j->from || info.min_ts >= j->to)
				continue;
			if (b != loaded) {
				rc = store_cursor_read(cur, e, b, cols, &blk);
				if (rc == ERR_CORRUPT)
					continue; /* reported by the store */
				if (rc < 0)
					return rc;
				loaded = b;
			}
			for (uint32_t i = 0; i < blk.nrows; i++) {
				uint64_t row = blk.row0 + i;
				if (row < r0 || row >= r1 || !in_range(j, blk.ts[i]))
					continue;
				if ((rc = add_url(j, set, e, blk.url[i], refs[k].idx)) < 0)
					return rc;
			}
			if (info.row0 + info.nrows > r1)
				break; /* the next range may start in this block */
		}
	}
	return 0;
}

static int scan_active(struct pages_job *j, struct q_sset *set, struct store_cursor *cur,
		       const struct store_seg *e, struct sid_ref *refs, size_t n)
{
	unsigned cols = 1u << STORE_COL_TS | 1u << STORE_COL_SESSION | 1u << STORE_COL_URL;
	struct store_block blk;
	int rc;

	qsort(refs, n, sizeof *refs, cmp_sid);
	for (uint32_t b = 0; b < store_seg_nblocks(e); b++) {
		if ((rc = store_seg_block_info(e, b, &blk)) < 0)
			return rc;
		if (blk.max_ts < j->from || blk.min_ts >= j->to)
			continue;
		if ((rc = store_cursor_read(cur, e, b, cols, &blk)) < 0)
			return rc;
		for (uint32_t i = 0; i < blk.nrows; i++) {
			struct sid_ref key = {.sid = blk.session[i]}, *hit;
			if (key.sid < refs[0].sid || key.sid > refs[n - 1].sid ||
			    !in_range(j, blk.ts[i]))
				continue;
			hit = bsearch(&key, refs, n, sizeof *refs, cmp_sid);
			if (hit && (rc = add_url(j, set, e, blk.url[i], hit->idx)) < 0)
				return rc;
		}
	}
	return 0;
}

/* q_parallel() task: the pages of the listed sessions of one shard. */
static int pages_of_shard(void *arg, size_t shard)
{
	struct pages_job *j = arg;
	size_t k0 = j->start[shard], k1 = j->start[shard + 1];
	struct store_cursor *cur = NULL;
	struct q_sset set = {0};
	struct sid_ref *refs;
	int rc = 0;

	if (k0 == k1)
		return 0;
	if (!(refs = malloc((k1 - k0) * sizeof *refs)))
		return -ENOMEM;
	if ((rc = store_cursor_new(&cur)) < 0)
		goto out;
	for (size_t p = 0; p < store_snap_nparts(j->snap) && rc == 0; p++)
		for (size_t i = 0; i < store_snap_nsegs(j->snap, p, (uint32_t)shard) && rc == 0;
		     i++) {
			const struct store_seg *e = store_snap_seg(j->snap, p, (uint32_t)shard, i);
			size_t n = 0;
			if (store_seg_rows(e) == 0 || store_seg_max_ts(e) < j->from ||
			    store_seg_min_ts(e) >= j->to)
				continue;
			for (size_t k = k0; k < k1; k++) {
				const struct store_session_info *si = &j->list->v[j->order[k]];
				int64_t sid = store_seg_lookup(e, si->session.p, si->session.n);
				if (sid > 0)
					refs[n++] = (struct sid_ref){(uint32_t)sid,
								     (uint32_t)j->order[k], 0, 0};
			}
			if (n == 0)
				continue;
			if (store_seg_sealed(e))
				rc = scan_sealed(j, &set, cur, e, refs, n);
			else
				rc = scan_active(j, &set, cur, e, refs, n);
		}
out:
	store_cursor_free(cur);
	q_sset_free(&set);
	free(refs);
	return rc;
}

/* Fills pages[] for every listed session. */
static int count_pages(struct q_http *h, struct store_snap *snap, int64_t from, int64_t to,
		       const struct store_session_list *l, uint64_t *pages)
{
	uint32_t ns = store_snap_nshards(snap);
	struct pages_job j = {snap, from, to ? to : INT64_MAX, l, NULL, NULL, pages};
	uint32_t *shard_of = NULL;
	int rc = -ENOMEM;

	if (!(j.order = malloc((l->n + 1) * sizeof *j.order)) ||
	    !(j.start = calloc((size_t)ns + 1, sizeof *j.start)) ||
	    !(shard_of = malloc((l->n + 1) * sizeof *shard_of)))
		goto out;
	/* counting sort of the list by shard */
	for (size_t k = 0; k < l->n; k++) {
		shard_of[k] = store_shard_of(l->v[k].session.p, l->v[k].session.n, ns);
		j.start[shard_of[k] + 1]++;
	}
	for (uint32_t s = 0; s < ns; s++)
		j.start[s + 1] += j.start[s];
	{
		size_t *fill = calloc(ns ? ns : 1, sizeof *fill);
		if (!fill)
			goto out;
		for (size_t k = 0; k < l->n; k++)
			j.order[j.start[shard_of[k]] + fill[shard_of[k]]++] = k;
		free(fill);
	}
	rc = q_parallel(h->eng, ns, pages_of_shard, &j);
out:
	free(j.order);
	free(j.start);
	free(shard_of);
	return rc;
}

enum MHD_Result q_serve_sessions(struct q_req *r)
{
	static const char *const names[] = {"user", "from", "to", "limit", NULL};
	struct store_session_list l = {0};
	struct store_snap *snap = NULL;
	int64_t from = 0, to = 0, limit = DEFAULT_LIMIT;
	uint64_t *pages = NULL;
	const char *user;
	size_t user_len = 0;
	char err[256];
	struct qj b;
	int rc;

	if ((rc = q_args_check(r, names, err, sizeof err)) < 0 ||
	    (rc = q_arg_i64(r, "from", 0, INT64_MAX, &from, err, sizeof err)) < 0 ||
	    (rc = q_arg_i64(r, "to", 1, INT64_MAX, &to, err, sizeof err)) < 0 ||
	    (rc = q_arg_i64(r, "limit", 1, MAX_LIMIT, &limit, err, sizeof err)) < 0)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
	if (to && from >= to)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "from must be less than to");
	user = q_arg(r, "user", &user_len);
	if (user && (user_len == 0 || user_len > STORE_MAX_USER))
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "user: must be 1 to %d bytes",
				     STORE_MAX_USER);
	if ((rc = store_snap_take(r->h->st, &snap)) < 0)
		return q_reply_code(r, rc);
	rc = store_sessions(snap, user, user_len, from, to, (size_t)limit, &l);
	if (rc == 0 && !(pages = calloc(l.n + 1, sizeof *pages)))
		rc = -ENOMEM;
	if (rc == 0 && l.n)
		rc = count_pages(r->h, snap, from, to, &l, pages);
	if (rc < 0) {
		store_session_list_free(&l);
		store_snap_release(snap);
		free(pages);
		return q_reply_code(r, rc);
	}
	qj_init(&b);
	qj_lit(&b, "{\"sessions\":[");
	for (size_t k = 0; k < l.n; k++) {
		const struct store_session_info *s = &l.v[k];
		qj_lit(&b, k ? ",{\"session\":" : "{\"session\":");
		qj_str(&b, s->session.p, s->session.n);
		qj_lit(&b, ",\"user\":");
		if (s->user.n)
			qj_str(&b, s->user.p, s->user.n);
		else
			qj_lit(&b, "null");
		qj_lit(&b, ",\"first_ts\":");
		qj_i64(&b, s->first_ts);
		qj_lit(&b, ",\"last_ts\":");
		qj_i64(&b, s->last_ts);
		qj_lit(&b, ",\"events\":");
		qj_u64(&b, s->events);
		qj_lit(&b, ",\"pages\":");
		qj_u64(&b, pages[k]);
		qj_lit(&b, "}");
	}
	qj_lit(&b, "]}");
	store_session_list_free(&l);
	store_snap_release(snap);
	free(pages);
	return q_reply_json(r, MHD_HTTP_OK, &b);
}
