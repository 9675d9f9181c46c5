/*
 * replay.c — GET /v1/sessions/{id}/events: one session's events in (ts,
 * arrival) order, a page at a time, as JSON or NDJSON.
 *
 * Paging cursor.  `after` names the last event of the previous page by its
 * timestamp and its rank among the session's events with that timestamp:
 * "TS-RANK" (RANK from 1).  The next page reads the session from TS on,
 * skips the first RANK events stamped TS and continues.  Unlike an offset
 * this stays right while events arrive between pages: a new event with a
 * timestamp at or after TS is ranked after every event already stored with
 * the same timestamp (arrival order, storage/read.c), so it can only show up
 * on a later page, never shift one.  (An event that arrives late with a
 * timestamp before TS belongs to pages already read and is not revisited.)
 *
 * The reply is streamed (MHD_create_response_from_callback): the page's
 * events are rendered a few at a time as MHD asks for bytes, so the JSON of
 * a page is never built whole.  The events themselves come from
 * store_session_events() on one snapshot, released before streaming starts
 * (the events own copies of their strings).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "q_http_int.h"

#define DEFAULT_LIMIT 10000
#define MAX_LIMIT     100000
#define BLOCK_SIZE    (64 * 1024)

void q_event_json(struct qj *b, const struct store_event *e)
{
	qj_lit(b, "{\"ts\":");
	qj_i64(b, e->ts);
	qj_lit(b, ",\"recv\":");
	qj_i64(b, e->recv);
	qj_lit(b, ",\"session\":");
	qj_str(b, e->session.p, e->session.n);
	if (e->user.n) {
		qj_lit(b, ",\"user\":");
		qj_str(b, e->user.p, e->user.n);
	}
	qj_lit(b, ",\"type\":");
	qj_str(b, e->type.p, e->type.n);
	if (e->target.n) {
		qj_lit(b, ",\"target\":");
		qj_str(b, e->target.p, e->target.n);
	}
	if (e->url.n) {
		qj_lit(b, ",\"url\":");
		qj_str(b, e->url.p, e->url.n);
	}
	if (e->flags & STORE_HAS_X) {
		qj_lit(b, ",\"x\":");
		qj_i64(b, e->x);
	}
	if (e->flags & STORE_HAS_Y) {
		qj_lit(b, ",\"y\":");
		qj_i64(b, e->y);
	}
	if (e->props.n) {
		qj_lit(b, ",\"props\":");
		/* The store keeps props byte-exact as the ingest parser accepted
		 * them: a valid JSON object.  Anything else (a store written by
		 * other means) goes out as a string so the reply stays JSON. */
		if (e->props.p[0] == '{' && e->props.p[e->props.n - 1] == '}')
			qj_raw(b, e->props.p, e->props.n);
		else
			qj_str(b, e->props.p, e->props.n);
	}
	if (e->id.n) {
		qj_lit(b, ",\"id\":");
		qj_str(b, e->id.p, e->id.n);
	}
	qj_lit(b, "}");
}

/* ---- the stream ------------------------------------------------------------------------ */

enum { ST_HEAD, ST_EVENTS, ST_TAIL, ST_DONE };

struct rstream {
	struct store_events *ev; /* owned */
	size_t i, end;		 /* next event to render, one past the page's last */
	size_t first;		 /* the page's first event */
	int ndjson;
	int stage;     /* ST_* */
	struct qj out; /* rendered, not yet handed to MHD: out.p[off..n) */
	size_t off;
	char *session; /* owned copy of the id, for the JSON head */
	size_t session_len;
	char cursor[48]; /* "" on the last page */
};

static void rstream_free(void *cls)
{
	struct rstream *s = cls;

	if (!s)
		return;
	store_events_free(s->ev);
	qj_fini(&s->out);
	free(s->session);
	free(s);
}

/* Renders the next piece of the reply into s->out. */
static void render_more(struct rstream *s, size_t want)
{
	struct qj *b = &s->out;

	while (b->n < want && s->stage != ST_DONE && !b->oom) {
		switch (s->stage) {
		case ST_HEAD:
			if (!s->ndjson) {
				qj_lit(b, "{\"session\":");
				qj_str(b, s->session, s->session_len);
				qj_lit(b, ",\"events\":[");
			}
			s->stage = ST_EVENTS;
			break;
		case ST_EVENTS:
			if (s->i == s->end) {
				s->stage = ST_TAIL;
				break;
			}
			if (!s->ndjson && s->i != s->first)
				qj_lit(b, ",");
			q_event_json(b, store_events_at(s->ev, s->i));
			if (s->ndjson)
				qj_lit(b, "\n");
			s->i++;
			break;
		case ST_TAIL:
			if (!s->ndjson) {
				qj_lit(b, "],\"after\":");
				if (s->cursor[0])
					qj_cstr(b, s->cursor);
				else
					qj_lit(b, "null");
				qj_lit(b, "}\n");
			}
			s->stage = ST_DONE;
			break;
		}
	}
}

static ssize_t rstream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct rstream *s = cls;
	size_t n;

	(void)pos;
	if (s->off == s->out.n) {
		qj_reset(&s->out);
		s->off = 0;
		render_more(s, max);
	}
	if (s->out.oom)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = s->out.n - s->off;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > max)
		n = max;
	memcpy(buf, s->out.p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

/* ---- the handler ------------------------------------------------------------------------- */

struct page_args {
	int64_t from, to; /* to == 0: no bound (as store_session_events() takes it) */
	int64_t limit;
	int64_t after_ts; /* -1: no cursor */
	int64_t after_rank;
	int ndjson;
};

/* "TS-RANK" → 0, or -1. */
static int parse_cursor(const char *s, int64_t *ts, int64_t *rank)
{
	char *end;
	long long a, b;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	a = strtoll(s, &end, 10);
	if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
		return -1;
	b = strtoll(end + 1, &end, 10);
	if (errno || *end || b < 1)
		return -1;
	*ts = a;
	*rank = b;
	return 0;
}

static int page_args(struct q_req *r, struct page_args *a, char *err, size_t errlen)
{
	static const char *const names[] = {"from", "to", "limit", "after", "format", NULL};
	const char *v;
	int rc;

	a->from = 0;
	a->to = 0;
	a->limit = DEFAULT_LIMIT;
	a->after_ts = -1;
	if ((rc = q_args_check(r, names, err, errlen)) < 0 ||
	    (rc = q_arg_i64(r, "from", 0, INT64_MAX, &a->from, err, errlen)) < 0 ||
	    (rc = q_arg_i64(r, "to", 1, INT64_MAX, &a->to, err, errlen)) < 0 ||
	    (rc = q_arg_i64(r, "limit", 1, INT64_MAX, &a->limit, err, errlen)) < 0)
		return rc;
	if (a->to && a->from >= a->to) {
		snprintf(err, errlen, "from must be less than to");
		return ERR_INVALID;
	}
	if (a->limit > MAX_LIMIT) {
		snprintf(err, errlen, "limit: at most %d events per page", MAX_LIMIT);
		return ERR_INVALID;
	}
	if ((v = q_arg(r, "after", NULL)) && parse_cursor(v, &a->after_ts, &a->after_rank) < 0) {
		snprintf(err, errlen,
			 "after: not a cursor of this API (pass the \"after\" value "
			 "of the previous page as it is)");
		return ERR_INVALID;
	}
	if ((v = q_arg(r, "format", NULL))) {
		if (strcmp(v, "ndjson") == 0)
			a->ndjson = 1;
		else if (strcmp(v, "json") != 0) {
			snprintf(err, errlen, "format: must be \"json\" or \"ndjson\"");
			return ERR_INVALID;
		}
	} else {
		v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
		a->ndjson = v && strcasestr(v, "application/x-ndjson") != NULL;
	}
	return 0;
}

/* 1 when the snapshot holds any event of the session, 0 when not, or a
 * negative code. */
static int session_exists(struct store_snap *snap, const char *id, size_t len)
{
	struct store_events *ev = NULL;
	int rc = store_session_events(snap, id, len, 0, 0, &ev);

	if (rc < 0)
		return rc;
	rc = store_events_count(ev) > 0;
	store_events_free(ev);
	return rc;
}

/* Where the page starts in s->ev, where it ends, and the cursor after it. */
static void place_page(struct rstream *s, const struct page_args *a, int cursor_used)
{
	size_t n = store_events_count(s->ev), i = 0;

	if (cursor_used)
		while (i < n && (int64_t)i < a->after_rank &&
		       store_events_at(s->ev, i)->ts == a->after_ts)
			i++;
	s->first = s->i = i;
	s->end = n - i > (size_t)a->limit ? i + (size_t)a->limit : n;
	s->cursor[0] = '\0';
	if (s->end < n) {
		/* The list starts at or before the first event stamped like the
		 * page's last one, so counting back gives its overall rank. */
		int64_t ts = store_events_at(s->ev, s->end - 1)->ts;
		size_t k = s->end;
		while (k > 0 && store_events_at(s->ev, k - 1)->ts == ts)
			k--;
		snprintf(s->cursor, sizeof s->cursor, "%lld-%zu", (long long)ts, s->end - k);
	}
}

enum MHD_Result q_serve_replay(struct q_req *r)
{
	struct store_snap *snap = NULL;
	struct rstream *s = NULL;
	struct MHD_Response *resp;
	struct page_args a;
	char err[256];
	int64_t qfrom;
	int rc, cursor_used;

	if ((rc = page_args(r, &a, err, sizeof err)) < 0)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
	if (r->arg_len == 0 || r->arg_len > STORE_MAX_SESSION)
		return q_reply_error(r, MHD_HTTP_NOT_FOUND, "unknown session");
	cursor_used = a.after_ts >= a.from;
	qfrom = cursor_used ? a.after_ts : a.from;
	if (!(s = calloc(1, sizeof *s)) || !(s->session = malloc(r->arg_len + 1))) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(s->session, r->arg, r->arg_len + 1);
	s->session_len = r->arg_len;
	s->ndjson = a.ndjson;
	if ((rc = store_snap_take(r->h->st, &snap)) < 0)
		goto fail;
	rc = store_session_events(snap, r->arg, r->arg_len, qfrom, a.to, &s->ev);
	if (rc == 0 && store_events_count(s->ev) == 0) {
		/* Empty: an unknown session, or nothing in this range. */
		rc = (qfrom > 0 || a.to) ? session_exists(snap, r->arg, r->arg_len) : 0;
		if (rc == 0) {
			store_snap_release(snap);
			rstream_free(s);
			return q_reply_error(r, MHD_HTTP_NOT_FOUND, "unknown session");
		}
		if (rc > 0)
			rc = 0;
	}
	store_snap_release(snap);
	snap = NULL;
	if (rc < 0)
		goto fail;
	place_page(s, &a, cursor_used);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, rstream_read, s,
						 rstream_free);
	if (!resp) {
		rc = -ENOMEM;
		goto fail;
	}
	if (a.ndjson && s->cursor[0])
		MHD_add_response_header(resp, "X-Spoor-After", s->cursor);
	return q_reply(r, MHD_HTTP_OK, resp,
		       a.ndjson ? "application/x-ndjson" : "application/json");
fail:
	store_snap_release(snap);
	rstream_free(s);
	return q_reply_code(r, rc);
}
