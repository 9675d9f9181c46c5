/*
 * series.c — GET /v1/series?type=&url=&target=&from=&to=&interval=: events
 * and distinct sessions per time bucket.
 *
 * Buckets are aligned to multiples of the interval since the epoch; the
 * reply has every bucket from the one holding `from` to the one holding
 * to - 1, empty ones with zeros.  Events counted are those with
 * from <= ts < to that match every filter given (exact strings).
 *
 * One task per shard on the engine's workers (q_parallel).  Per segment the
 * filters are resolved to dictionary ids once (a segment lacking one is
 * skipped whole), blocks outside [from, to) are skipped on their min/max,
 * and the scan compares integer columns.  Distinct sessions: a session
 * lives in one shard, so each shard counts its own (bucket, session) pairs
 * by content in a string set and the shards' counts add up.  Consecutive
 * rows of one session in one bucket (the common case: sealed rows are
 * sorted by session and time) skip the set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "q_http_int.h"

#define MAX_BUCKETS	10000
#define DEFAULT_SPAN_MS (24 * 3600 * 1000LL)
#define MIN_INTERVAL_MS 1000LL
#define MAX_INTERVAL_MS (24 * 3600 * 1000LL)

enum { F_TYPE, F_URL, F_TARGET, F_N };

struct series_job {
	struct store_snap *snap;
	int64_t from, to;	      /* [from, to) */
	int64_t b0, iv;		      /* first bucket's start, interval */
	size_t nb;		      /* buckets */
	struct store_str filter[F_N]; /* n == 0: no filter */
	uint64_t *count;	      /* nshards * nb */
	uint64_t *sessions;	      /* nshards * nb */
	uint64_t scanned;	      /* rows looked at (atomic adds) */
};

static int scan_seg(struct series_job *j, struct store_cursor *cur, const struct store_seg *e,
		    struct q_sset *set, uint64_t *count, uint64_t *sessions, uint64_t *scanned)
{
	static const unsigned fcol[F_N] = {STORE_COL_TYPE, STORE_COL_URL, STORE_COL_TARGET};
	unsigned cols = 1u << STORE_COL_TS | 1u << STORE_COL_SESSION;
	uint32_t fid[F_N] = {0};
	uint32_t last_sid = UINT32_MAX;
	size_t last_bk = SIZE_MAX;
	struct store_block blk;
	int rc;

	for (int f = 0; f < F_N; f++) {
		int64_t id;
		if (!j->filter[f].n)
			continue;
		id = store_seg_lookup(e, j->filter[f].p, j->filter[f].n);
		if (id <= 0)
			return 0; /* nothing here matches */
		fid[f] = (uint32_t)id;
		cols |= 1u << fcol[f];
	}
	for (uint32_t b = 0; b < store_seg_nblocks(e); b++) {
		if ((rc = store_seg_block_info(e, b, &blk)) < 0)
			return rc;
		if (blk.max_ts < j->from || blk.min_ts >= j->to)
			continue;
		rc = store_cursor_read(cur, e, b, cols, &blk);
		if (rc == ERR_CORRUPT)
			continue; /* reported by the store; the rest still counts */
		if (rc < 0)
			return rc;
		*scanned += blk.nrows;
		for (uint32_t i = 0; i < blk.nrows; i++) {
			int64_t ts = blk.ts[i];
			size_t bk;
			if (ts < j->from || ts >= j->to ||
			    (fid[F_TYPE] && blk.type[i] != fid[F_TYPE]) ||
			    (fid[F_URL] && blk.url[i] != fid[F_URL]) ||
			    (fid[F_TARGET] && blk.target[i] != fid[F_TARGET]))
				continue;
			bk = (size_t)((ts - j->b0) / j->iv);
			count[bk]++;
			if (blk.session[i] == last_sid && bk == last_bk)
				continue;
			last_sid = blk.session[i];
			last_bk = bk;
			struct store_str s = store_seg_str(e, last_sid);
			if ((rc = q_sset_add(set, s.p, s.n, (uint32_t)bk)) < 0)
				return rc;
			sessions[bk] += (uint64_t)rc;
		}
	}
	return 0;
}

/* q_parallel() task: one shard's counts. */
static int series_shard(void *arg, size_t shard)
{
	struct series_job *j = arg;
	uint64_t *count = j->count + shard * j->nb, *sessions = j->sessions + shard * j->nb;
	struct store_cursor *cur = NULL;
	struct q_sset set = {0};
	uint64_t scanned = 0;
	int rc;

	if ((rc = store_cursor_new(&cur)) < 0)
		return rc;
	for (size_t p = 0; p < store_snap_nparts(j->snap) && rc == 0; p++)
		for (size_t i = 0; i < store_snap_nsegs(j->snap, p, (uint32_t)shard) && rc == 0;
		     i++) {
			const struct store_seg *e = store_snap_seg(j->snap, p, (uint32_t)shard, i);
			if (store_seg_rows(e) == 0 || store_seg_max_ts(e) < j->from ||
			    store_seg_min_ts(e) >= j->to)
				continue;
			rc = scan_seg(j, cur, e, &set, count, sessions, &scanned);
		}
	store_cursor_free(cur);
	q_sset_free(&set);
	__atomic_fetch_add(&j->scanned, scanned, __ATOMIC_RELAXED);
	return rc;
}

static int parse_args(struct q_req *r, struct series_job *j, char *err, size_t errlen)
{
	static const char *const names[] = {"type", "url",	"target", "from",
					    "to",   "interval", NULL};
	static const char *const fname[F_N] = {"type", "url", "target"};
	int64_t from = -1, to = -1, first, last;
	const char *v;
	size_t n;
	int rc;

	if ((rc = q_args_check(r, names, err, errlen)) < 0 ||
	    (rc = q_arg_i64(r, "from", 0, INT64_MAX / 2, &from, err, errlen)) < 0 ||
	    (rc = q_arg_i64(r, "to", 1, INT64_MAX / 2, &to, err, errlen)) < 0)
		return rc;
	for (int f = 0; f < F_N; f++) {
		if (!(v = q_arg(r, fname[f], &n)))
			continue;
		if (n == 0) {
			snprintf(err, errlen, "%s: must not be empty", fname[f]);
			return ERR_INVALID;
		}
		j->filter[f] = (struct store_str){v, (uint32_t)n};
	}
	j->iv = 60000;
	if ((v = q_arg(r, "interval", &n)) &&
	    (q_parse_duration(v, n, &j->iv) < 0 || j->iv < MIN_INTERVAL_MS ||
	     j->iv > MAX_INTERVAL_MS || j->iv % 1000 != 0)) {
		snprintf(err, errlen,
			 "interval: must be a duration from 1s to 1d such as \"10s\", "
			 "\"1m\", \"5m\", \"1h\" or \"1d\"");
		return ERR_INVALID;
	}
	if (to < 0)
		to = from >= 0 ? from + DEFAULT_SPAN_MS : q_now_ms();
	if (from < 0)
		from = to > DEFAULT_SPAN_MS ? to - DEFAULT_SPAN_MS : 0;
	if (from >= to) {
		snprintf(err, errlen, "from must be less than to");
		return ERR_INVALID;
	}
	first = from / j->iv;
	last = (to - 1) / j->iv;
	if (last - first + 1 > MAX_BUCKETS) {
		snprintf(err, errlen,
			 "too many buckets (%lld, max %d): use a longer interval or a shorter "
			 "range",
			 (long long)(last - first + 1), MAX_BUCKETS);
		return ERR_INVALID;
	}
	j->from = from;
	j->to = to;
	j->b0 = first * j->iv;
	j->nb = (size_t)(last - first + 1);
	return 0;
}

enum MHD_Result q_serve_series(struct q_req *r)
{
	struct series_job j = {0};
	char err[256];
	uint32_t ns;
	struct qj b;
	int rc;

	if ((rc = parse_args(r, &j, err, sizeof err)) < 0)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
	if ((rc = store_snap_take(r->h->st, &j.snap)) < 0)
		return q_reply_code(r, rc);
	ns = store_snap_nshards(j.snap);
	if (!(j.count = calloc((size_t)ns * j.nb, sizeof *j.count)) ||
	    !(j.sessions = calloc((size_t)ns * j.nb, sizeof *j.sessions)))
		rc = -ENOMEM;
	else
		rc = q_parallel(r->h->eng, ns, series_shard, &j);
	store_snap_release(j.snap);
	if (rc < 0) {
		free(j.count);
		free(j.sessions);
		return q_reply_code(r, rc);
	}
	qj_init(&b);
	qj_lit(&b, "{\"interval_ms\":");
	qj_i64(&b, j.iv);
	qj_lit(&b, ",\"from\":");
	qj_i64(&b, j.from);
	qj_lit(&b, ",\"to\":");
	qj_i64(&b, j.to);
	qj_lit(&b, ",\"events_scanned\":");
	qj_u64(&b, j.scanned);
	qj_lit(&b, ",\"buckets\":[");
	for (size_t k = 0; k < j.nb; k++) {
		uint64_t c = 0, s = 0;
		for (uint32_t sh = 0; sh < ns; sh++) {
			c += j.count[(size_t)sh * j.nb + k];
			s += j.sessions[(size_t)sh * j.nb + k];
		}
		qj_lit(&b, k ? ",{\"ts\":" : "{\"ts\":");
		qj_i64(&b, j.b0 + (int64_t)k * j.iv);
		qj_lit(&b, ",\"count\":");
		qj_u64(&b, c);
		qj_lit(&b, ",\"sessions\":");
		qj_u64(&b, s);
		qj_lit(&b, "}");
	}
	qj_lit(&b, "]}");
	free(j.count);
	free(j.sessions);
	return q_reply_json(r, MHD_HTTP_OK, &b);
}
