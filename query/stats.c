/*
 * stats.c — GET /v1/stats: what the store holds.
 *
 * Counters come from store_get_stats(); "sessions" (distinct session ids
 * over the whole store) from store_sessions() on one snapshot, which reads
 * the session index of each sealed segment and scans the session column of
 * active ones, merging by content, so a session spread over several
 * partitions or segments counts once.
 */
#include <stdlib.h>

#include "q_http_int.h"

enum MHD_Result q_serve_stats(struct q_req *r)
{
	static const char *const names[] = {NULL};
	struct store_session_list l = {0};
	struct store_snap *snap = NULL;
	const char *const *msgs;
	struct store_stats s;
	struct store_opts o;
	size_t nproblems;
	char err[256];
	struct qj b;
	int rc;

	if (q_args_check(r, names, err, sizeof err) < 0)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
	if ((rc = store_snap_take(r->h->st, &snap)) < 0)
		return q_reply_code(r, rc);
	rc = store_sessions(snap, NULL, 0, 0, 0, 0, &l);
	store_snap_release(snap);
	if (rc < 0)
		return q_reply_code(r, rc);
	store_get_stats(r->h->st, &s);
	store_get_opts(r->h->st, &o);
	nproblems = store_problems(r->h->st, &msgs);
	qj_init(&b);
	qj_lit(&b, "{\"events\":");
	qj_u64(&b, s.events);
	qj_lit(&b, ",\"sessions\":");
	qj_u64(&b, l.n);
	qj_lit(&b, ",\"partitions\":");
	qj_u64(&b, s.partitions);
	qj_lit(&b, ",\"segments_active\":");
	qj_u64(&b, s.segments_active);
	qj_lit(&b, ",\"segments_sealed\":");
	qj_u64(&b, s.segments_sealed);
	qj_lit(&b, ",\"bytes_on_disk\":");
	qj_u64(&b, s.bytes_on_disk);
	qj_lit(&b, ",\"bytes_per_event\":");
	qj_fixed(&b, s.events ? (double)s.bytes_on_disk / (double)s.events : 0.0, 1);
	qj_lit(&b, ",\"oldest_ts\":");
	qj_i64(&b, s.oldest_ts);
	qj_lit(&b, ",\"newest_ts\":");
	qj_i64(&b, s.newest_ts);
	qj_lit(&b, ",\"duplicates\":");
	qj_u64(&b, s.duplicates);
	qj_lit(&b, ",\"seals\":");
	qj_u64(&b, s.seals);
	qj_lit(&b, ",\"seal_failures\":");
	qj_u64(&b, s.seal_failures);
	qj_lit(&b, ",\"problems\":");
	qj_u64(&b, nproblems);
	qj_lit(&b, ",\"shards\":");
	qj_u64(&b, o.shards);
	qj_lit(&b, ",\"partition_ms\":");
	qj_i64(&b, o.partition_ms);
	qj_lit(&b, "}");
	store_session_list_free(&l);
	return q_reply_json(r, MHD_HTTP_OK, &b);
}
