/*
 * cl_query.c — the read-only commands over the query API:
 *
 *   spoor replay SESSION   GET /v1/sessions/{id}/events, every page
 *   spoor sessions         GET /v1/sessions
 *   spoor series           GET /v1/series
 *   spoor stats            GET /v1/stats
 *
 * Each builds a path with a query string from its flags (times and
 * durations resolved here, so the server only ever sees integers), makes
 * one call through cl_api_query() (replay: one per page), and prints a
 * table, or with --json the server's JSON as it is.
 *
 * Replay pages.  The server pages at `limit` events and hands back a cursor
 * (`after` in JSON, the X-Spoor-After header in NDJSON).  --ndjson streams
 * each page to stdout as it arrives (memory stays flat however long the
 * session); the table and --json gather every page first.  --json of a
 * session longer than one page prints one document of the same shape with
 * all the events and "after":null.  A cursor that does not advance ends the
 * loop, so a misbehaving server cannot make it spin.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cl.h"
#include "err.h"

#define PROPS_SHOWN	 60 /* props longer than this are cut in the replay table */
#define BAR_WIDTH_SERIES 30 /* bar of the largest bucket when not on a terminal */

/* Adds "&name=<ms>" for a --from/--to value.  Returns 0, or the usage
 * exit status after its message. */
static int add_time(struct cl_ctx *cx, struct cl_buf *q, const char *name, const char *val)
{
	char num[32];
	int64_t ms;

	if (!val)
		return 0;
	if (cl_parse_time(val, cl_now_ms(), &ms) < 0)
		return cl_fail(cx, CL_EXIT_USAGE,
			       "--%s: \"%s\" is not a time (ms since the epoch, RFC 3339 such as "
			       "2024-11-21T14:00:00Z, relative such as -7d, or now)",
			       name, val);
	snprintf(num, sizeof num, "%lld", (long long)ms);
	return cl_buf_query(q, name, num) < 0 ? cl_fail(cx, CL_EXIT_REFUSED, "out of memory") : 0;
}

/* The common tail of each command's flag loop: global flags, help, errors.
 * Returns -1 to go on, or the exit status to return. */
static int other_flag(struct cl_ctx *cx, int id, const char *val, void (*usage)(FILE *))
{
	if (id == CL_G_HELP) {
		usage(stdout);
		return CL_EXIT_OK;
	}
	if (id < 0)
		return CL_EXIT_USAGE;
	if (id == CL_ARG_POS)
		return cl_fail(cx, CL_EXIT_USAGE, "unexpected argument \"%s\" (see --help)", val);
	cl_ctx_flag(cx, id, val);
	return -1;
}

/* Writes the output and checks it went out.  Returns the exit status. */
static int finish(struct cl_ctx *cx)
{
	if (fflush(cx->out) != 0 || ferror(cx->out))
		return cl_fail(cx, CL_EXIT_REFUSED, "cannot write the output");
	return CL_EXIT_OK;
}

/* ---- replay ------------------------------------------------------------------------ */

enum { R_FROM = CL_ARG_FLAG, R_TO, R_NDJSON, R_PAGE };

static const struct cl_flag replay_flags[] = {
    {"from", "TIME", R_FROM, "only events at or after: ms, RFC 3339, -1h, now"},
    {"to", "TIME", R_TO, "only events before"},
    {"ndjson", NULL, R_NDJSON, "stream the events as NDJSON, one per line"},
    {"page-size", "N", R_PAGE, "events per request (default 10000)"},
    {NULL, NULL, 0, NULL},
};

static void replay_usage(FILE *out)
{
	fprintf(out, "usage: spoor replay SESSION [flags]\n\n"
		     "Prints every event of one session in order (time, then arrival): its\n"
		     "time, the offset from the session's first event, type, target, url,\n"
		     "position and props.\n\nFlags:\n");
	cl_flags_usage(out, replay_flags);
	cl_global_usage(out);
}

/* Sink of --ndjson: the page's bytes straight to stdout. */
static int to_stdout(void *arg, const char *p, size_t n)
{
	struct cl_ctx *cx = arg;
	return fwrite(p, 1, n, cx->out) == n ? 0 : -1;
}

/* Gathered replay pages: the raw text of each event. */
struct events {
	struct cl_buf raw; /* events' JSON, each followed by '\n' */
	size_t n;	   /* events */
};

/* Appends the events of one JSON page to ev and copies its cursor into
 * after (empty on the last page).  Returns 0 or the exit status. */
static int take_page(struct cl_ctx *cx, const struct cl_resp *r, struct events *ev, char *after,
		     size_t cap)
{
	struct cl_json j;
	int arr, rc = 0;

	after[0] = '\0';
	if (cl_json_parse(&j, r->body.p, r->body.len) != 0 ||
	    !cl_json_is(&j, (arr = cl_json_get(&j, 0, "events")), JSON_ARRAY)) {
		cl_json_free(&j);
		return cl_fail(cx, CL_EXIT_REFUSED, "the server's reply is not a replay page");
	}
	for (int e = cl_json_first(&j, arr); e >= 0; e = cl_json_next(&j, arr, e)) {
		if (cl_buf_add(&ev->raw, j.buf + j.tok[e].start, j.tok[e].end - j.tok[e].start) <
			0 ||
		    cl_buf_add(&ev->raw, "\n", 1) < 0) {
			rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
			break;
		}
		ev->n++;
	}
	if (cl_json_is(&j, cl_json_get(&j, 0, "after"), JSON_STRING))
		cl_json_text(&j, cl_json_get(&j, 0, "after"), after, cap);
	cl_json_free(&j);
	return rc;
}

/* Prints the gathered events as a table. */
static int print_replay(struct cl_ctx *cx, const char *session, const struct events *ev)
{
	struct cl_table t;
	const char *p = ev->raw.p, *end = ev->raw.p ? ev->raw.p + ev->raw.len : NULL;
	int64_t first = 0, last = 0;
	char user[160] = "", s[512], tm[40], d[32];
	size_t i = 0;

	cl_table_init(&t, "lrlllrl");
	cl_table_cell(&t, "time");
	cl_table_cell(&t, "+");
	cl_table_cell(&t, "type");
	cl_table_cell(&t, "target");
	cl_table_cell(&t, "url");
	cl_table_cell(&t, "x,y");
	cl_table_cell(&t, "props");
	for (; p && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cl_json j;
		int64_t ts = 0, x, y;
		int props;
		if (cl_json_parse(&j, p, (size_t)(nl - p)) == 0) {
			cl_json_int(&j, cl_json_get(&j, 0, "ts"), &ts);
			if (i == 0)
				first = ts;
			last = ts;
			if (!user[0])
				cl_json_text(&j, cl_json_get(&j, 0, "user"), user, sizeof user);
			cl_table_cell(&t, "%s", cl_fmt_time(tm, sizeof tm, ts, 1));
			cl_table_cell(&t, "%s", cl_fmt_dur(d, sizeof d, ts - first));
			cl_table_cell(&t, "%s",
				      cl_json_text(&j, cl_json_get(&j, 0, "type"), s, sizeof s));
			cl_table_cell(&t, "%s",
				      cl_json_text(&j, cl_json_get(&j, 0, "target"), s, sizeof s));
			cl_table_cell(&t, "%s",
				      cl_json_text(&j, cl_json_get(&j, 0, "url"), s, sizeof s));
			if (cl_json_int(&j, cl_json_get(&j, 0, "x"), &x) == 0 &&
			    cl_json_int(&j, cl_json_get(&j, 0, "y"), &y) == 0)
				cl_table_cell(&t, "%lld,%lld", (long long)x, (long long)y);
			else
				cl_table_cell(&t, "%s", "");
			props = cl_json_get(&j, 0, "props");
			cl_json_text(&j, props, s, sizeof s);
			cl_text_cut(s, PROPS_SHOWN);
			cl_table_cell(&t, "%s", s);
		}
		cl_json_free(&j);
		p = nl + 1;
	}
	fprintf(cx->out, "session %s%s%s%s: %zu events", session, user[0] ? " (user " : "", user,
		user[0] ? ")" : "", ev->n);
	if (ev->n)
		fprintf(cx->out, " from %s to %s (%s)", cl_fmt_time(tm, sizeof tm, first, 0),
			cl_fmt_time(s, sizeof s, last, 0), cl_fmt_dur(d, sizeof d, last - first));
	fputc('\n', cx->out);
	if (ev->n)
		cl_table_print(&t, cx->out, 2);
	cl_table_fini(&t);
	return finish(cx);
}

/* Prints the gathered events as one replay document. */
static int print_replay_json(struct cl_ctx *cx, const char *session, const struct events *ev)
{
	struct cl_buf b = {0};
	int rc;

	cl_buf_puts(&b, "{\"session\":");
	cl_buf_json_str(&b, session, strlen(session));
	cl_buf_puts(&b, ",\"events\":[");
	for (size_t i = 0, o = 0; i < ev->n; i++) {
		const char *nl = memchr(ev->raw.p + o, '\n', ev->raw.len - o);
		size_t k = (size_t)(nl - (ev->raw.p + o));
		if (i)
			cl_buf_puts(&b, ",");
		cl_buf_add(&b, ev->raw.p + o, k);
		o += k + 1;
	}
	cl_buf_puts(&b, "],\"after\":null}\n");
	if (b.oom)
		rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
	else
		rc = fputs(b.p, cx->out) < 0
			 ? cl_fail(cx, CL_EXIT_REFUSED, "cannot write the output")
			 : finish(cx);
	cl_buf_free(&b);
	return rc;
}

int cl_cmd_replay(struct cl_ctx *cx, int argc, char **argv)
{
	struct cl_args a = {argc, argv, 0, 0, "replay"};
	const char *session = NULL, *from = NULL, *to = NULL, *val, *page = "10000";
	struct cl_buf base = {0}, path = {0};
	struct cl_resp r = {0};
	struct events ev = {{0}, 0};
	char after[256] = "", prev[256];
	int id, rc, ndjson = 0, pages = 0;
	long long v;

	while ((id = cl_args_next(&a, replay_flags, &val)) != CL_ARG_END) {
		switch (id) {
		case R_FROM: from = val; break;
		case R_TO: to = val; break;
		case R_NDJSON: ndjson = 1; break;
		case R_PAGE:
			if (cl_parse_int(val, 1, 100000, &v) < 0)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "--page-size: expected 1 to 100000, got \"%s\"",
					       val);
			page = val;
			break;
		case CL_ARG_POS:
			if (session)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "one session at a time (got \"%s\" and \"%s\")",
					       session, val);
			session = val;
			break;
		default:
			if ((rc = other_flag(cx, id, val, replay_usage)) >= 0)
				return rc;
		}
	}
	if (!session || !*session)
		return cl_fail(cx, CL_EXIT_USAGE,
			       "which session? spoor replay SESSION "
			       "(spoor sessions lists them)");
	cl_buf_puts(&base, "/v1/sessions/");
	cl_buf_urlenc(&base, session);
	cl_buf_puts(&base, "/events");
	cl_buf_query(&base, "limit", page);
	if (ndjson)
		cl_buf_query(&base, "format", "ndjson");
	if ((rc = add_time(cx, &base, "from", from)) || (rc = add_time(cx, &base, "to", to)))
		goto out;
	do {
		cl_buf_reset(&path);
		cl_buf_add(&path, base.p, base.len);
		if (after[0])
			cl_buf_query(&path, "after", after);
		if (path.oom || base.oom) {
			rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
			goto out;
		}
		rc = cl_api_query(cx, "GET", path.p, NULL, 0, ndjson ? to_stdout : NULL, cx, &r);
		if (rc)
			goto out;
		snprintf(prev, sizeof prev, "%s", after);
		if (ndjson)
			snprintf(after, sizeof after, "%s", r.after);
		else if ((rc = take_page(cx, &r, &ev, after, sizeof after)))
			goto out;
		pages++;
	} while (after[0] && strcmp(after, prev) != 0);
	if (ndjson)
		rc = finish(cx);
	else if (cx->json && pages == 1)
		rc = cl_api_print_raw(cx, &r);
	else if (cx->json)
		rc = print_replay_json(cx, session, &ev);
	else
		rc = print_replay(cx, session, &ev);
out:
	cl_buf_free(&base);
	cl_buf_free(&path);
	cl_buf_free(&ev.raw);
	cl_resp_free(&r);
	return rc;
}

/* ---- sessions ------------------------------------------------------------------------ */

enum { S_USER = CL_ARG_FLAG, S_FROM, S_TO, S_LIMIT };

static const struct cl_flag sessions_flags[] = {
    {"user", "USER", S_USER, "only this user's sessions"},
    {"from", "TIME", S_FROM, "sessions with events at or after: ms, RFC 3339, -1d, now"},
    {"to", "TIME", S_TO, "sessions with events before"},
    {"limit", "N", S_LIMIT, "at most N sessions, newest first (default 100, max 10000)"},
    {NULL, NULL, 0, NULL},
};

static void sessions_usage(FILE *out)
{
	fprintf(out, "usage: spoor sessions [--user USER] [flags]\n\n"
		     "Lists sessions, the one with the newest event first: user, first and last\n"
		     "event, duration, events and distinct pages.\n\nFlags:\n");
	cl_flags_usage(out, sessions_flags);
	cl_global_usage(out);
}

/* Prints a /v1/sessions reply as a table. */
static int print_sessions(struct cl_ctx *cx, const struct cl_resp *r)
{
	struct cl_json j;
	struct cl_table t;
	char s[512], a[40], b[40], d[32];
	int arr;
	size_t n = 0;

	if (cl_json_parse(&j, r->body.p, r->body.len) != 0 ||
	    !cl_json_is(&j, (arr = cl_json_get(&j, 0, "sessions")), JSON_ARRAY)) {
		cl_json_free(&j);
		return cl_fail(cx, CL_EXIT_REFUSED, "the server's reply is not a session list");
	}
	cl_table_init(&t, "lllllrr");
	cl_table_cell(&t, "session");
	cl_table_cell(&t, "user");
	cl_table_cell(&t, "first");
	cl_table_cell(&t, "last");
	cl_table_cell(&t, "duration");
	cl_table_cell(&t, "events");
	cl_table_cell(&t, "pages");
	for (int e = cl_json_first(&j, arr); e >= 0; e = cl_json_next(&j, arr, e), n++) {
		int64_t first = 0, last = 0, events = 0, pages = 0;
		int u = cl_json_get(&j, e, "user");
		cl_json_int(&j, cl_json_get(&j, e, "first_ts"), &first);
		cl_json_int(&j, cl_json_get(&j, e, "last_ts"), &last);
		cl_json_int(&j, cl_json_get(&j, e, "events"), &events);
		cl_json_int(&j, cl_json_get(&j, e, "pages"), &pages);
		cl_table_cell(&t, "%s",
			      cl_json_text(&j, cl_json_get(&j, e, "session"), s, sizeof s));
		cl_table_cell(&t, "%s",
			      cl_json_is(&j, u, JSON_STRING) ? cl_json_text(&j, u, s, sizeof s)
							     : "-");
		cl_table_cell(&t, "%s", cl_fmt_time(a, sizeof a, first, 0));
		cl_table_cell(&t, "%s", cl_fmt_time(b, sizeof b, last, 0));
		cl_table_cell(&t, "%s", cl_fmt_dur(d, sizeof d, last - first));
		cl_table_cell(&t, "%lld", (long long)events);
		cl_table_cell(&t, "%lld", (long long)pages);
	}
	cl_json_free(&j);
	if (n)
		cl_table_print(&t, cx->out, 0);
	fprintf(cx->out, "%zu session%s\n", n, n == 1 ? "" : "s");
	cl_table_fini(&t);
	return finish(cx);
}

int cl_cmd_sessions(struct cl_ctx *cx, int argc, char **argv)
{
	struct cl_args a = {argc, argv, 0, 0, "sessions"};
	const char *user = NULL, *from = NULL, *to = NULL, *limit = NULL, *val;
	struct cl_buf path = {0};
	struct cl_resp r = {0};
	long long v;
	int id, rc;

	while ((id = cl_args_next(&a, sessions_flags, &val)) != CL_ARG_END) {
		switch (id) {
		case S_USER: user = val; break;
		case S_FROM: from = val; break;
		case S_TO: to = val; break;
		case S_LIMIT:
			if (cl_parse_int(val, 1, 10000, &v) < 0)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "--limit: expected 1 to 10000, got \"%s\"", val);
			limit = val;
			break;
		default:
			if ((rc = other_flag(cx, id, val, sessions_usage)) >= 0)
				return rc;
		}
	}
	cl_buf_puts(&path, "/v1/sessions");
	if (user)
		cl_buf_query(&path, "user", user);
	if (limit)
		cl_buf_query(&path, "limit", limit);
	if ((rc = add_time(cx, &path, "from", from)) || (rc = add_time(cx, &path, "to", to)))
		goto out;
	if (path.oom) {
		rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
		goto out;
	}
	rc = cl_api_query(cx, "GET", path.p, NULL, 0, NULL, NULL, &r);
	if (rc == CL_EXIT_OK)
		rc = cx->json ? cl_api_print_raw(cx, &r) : print_sessions(cx, &r);
out:
	cl_buf_free(&path);
	cl_resp_free(&r);
	return rc;
}

/* ---- series --------------------------------------------------------------------------- */

enum { T_TYPE = CL_ARG_FLAG, T_URL, T_TARGET, T_FROM, T_TO, T_INTERVAL };

static const struct cl_flag series_flags[] = {
    {"type", "TYPE", T_TYPE, "only events of this type"},
    {"page-url", "URL", T_URL, "only events whose url is URL (exact)"},
    {"target", "TARGET", T_TARGET, "only events on this target"},
    {"from", "TIME", T_FROM, "range start: ms, RFC 3339, -1h, now (default: to - 24h)"},
    {"to", "TIME", T_TO, "range end, exclusive (default now)"},
    {"interval", "DURATION", T_INTERVAL, "bucket width, 1s to 1d: 10s, 1m, 1h (default 1m)"},
    {NULL, NULL, 0, NULL},
};

static void series_usage(FILE *out)
{
	fprintf(out, "usage: spoor series [--type TYPE] [--interval DURATION] [flags]\n\n"
		     "Counts events and distinct sessions per time bucket, with a bar each.\n"
		     "\nFlags:\n");
	cl_flags_usage(out, series_flags);
	cl_global_usage(out);
}

/* Prints a /v1/series reply as a table with a bar per bucket. */
static int print_series(struct cl_ctx *cx, const struct cl_resp *r, const char *what)
{
	struct cl_json j;
	struct cl_table t;
	char tm[40], d[32], bar[512], b2[40];
	int arr, width = BAR_WIDTH_SERIES;
	int64_t max = 0, total = 0, iv = 0, from = 0, to = 0;

	if (cl_json_parse(&j, r->body.p, r->body.len) != 0 ||
	    !cl_json_is(&j, (arr = cl_json_get(&j, 0, "buckets")), JSON_ARRAY)) {
		cl_json_free(&j);
		return cl_fail(cx, CL_EXIT_REFUSED, "the server's reply is not a series");
	}
	cl_json_int(&j, cl_json_get(&j, 0, "interval_ms"), &iv);
	cl_json_int(&j, cl_json_get(&j, 0, "from"), &from);
	cl_json_int(&j, cl_json_get(&j, 0, "to"), &to);
	for (int e = cl_json_first(&j, arr); e >= 0; e = cl_json_next(&j, arr, e)) {
		int64_t c = 0;
		cl_json_int(&j, cl_json_get(&j, e, "count"), &c);
		total += c;
		if (c > max)
			max = c;
	}
	if (cl_term_cols() > 0)
		width = cl_term_cols() - 52 < 10   ? 10
			: cl_term_cols() - 52 > 60 ? 60
						   : cl_term_cols() - 52;
	cl_table_init(&t, "lrrl");
	cl_table_cell(&t, "time");
	cl_table_cell(&t, "events");
	cl_table_cell(&t, "sessions");
	cl_table_cell(&t, "%s", "");
	for (int e = cl_json_first(&j, arr); e >= 0; e = cl_json_next(&j, arr, e)) {
		int64_t ts = 0, c = 0, s = 0;
		cl_json_int(&j, cl_json_get(&j, e, "ts"), &ts);
		cl_json_int(&j, cl_json_get(&j, e, "count"), &c);
		cl_json_int(&j, cl_json_get(&j, e, "sessions"), &s);
		cl_table_cell(&t, "%s", cl_fmt_time(tm, sizeof tm, ts, 0));
		cl_table_cell(&t, "%lld", (long long)c);
		cl_table_cell(&t, "%lld", (long long)s);
		cl_table_cell(&t, "%s",
			      cl_bar(bar, sizeof bar, max ? (double)c / (double)max : 0, width,
				     cx->utf8 && cx->out_tty));
	}
	fprintf(cx->out, "%s per %s from %s to %s: %lld in total\n", what,
		cl_fmt_dur(d, sizeof d, iv), cl_fmt_time(tm, sizeof tm, from, 0),
		cl_fmt_time(b2, sizeof b2, to, 0), (long long)total);
	cl_table_print(&t, cx->out, 2);
	cl_table_fini(&t);
	cl_json_free(&j);
	return finish(cx);
}

int cl_cmd_series(struct cl_ctx *cx, int argc, char **argv)
{
	struct cl_args a = {argc, argv, 0, 0, "series"};
	const char *from = NULL, *to = NULL, *val, *filt[3] = {NULL, NULL, NULL};
	static const char *const filt_name[3] = {"type", "url", "target"}; /* T_TYPE.. order */
	struct cl_buf path = {0}, what = {0};
	struct cl_resp r = {0};
	char iv[32];
	int64_t ms;
	int id, rc;

	iv[0] = '\0';
	while ((id = cl_args_next(&a, series_flags, &val)) != CL_ARG_END) {
		switch (id) {
		case T_TYPE:
		case T_URL:
		case T_TARGET: filt[id - T_TYPE] = val; break;
		case T_FROM: from = val; break;
		case T_TO: to = val; break;
		case T_INTERVAL:
			if (cl_parse_duration(val, &ms) < 0 || ms <= 0)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "--interval: \"%s\" is not a duration (10s, 1m, 1h, "
					       "1d, or ms)",
					       val);
			/* the API takes whole seconds; anything else it refuses itself */
			if (ms % 1000 == 0)
				snprintf(iv, sizeof iv, "%llds", (long long)(ms / 1000));
			else
				snprintf(iv, sizeof iv, "%lldms", (long long)ms);
			break;
		default:
			if ((rc = other_flag(cx, id, val, series_usage)) >= 0)
				return rc;
		}
	}
	cl_buf_puts(&path, "/v1/series");
	for (int k = 0; k < 3; k++) {
		if (!filt[k])
			continue;
		cl_buf_query(&path, filt_name[k], filt[k]);
		cl_buf_printf(&what, "%s%s=%s", what.len ? ", " : "", filt_name[k], filt[k]);
	}
	if (iv[0])
		cl_buf_query(&path, "interval", iv);
	if ((rc = add_time(cx, &path, "from", from)) || (rc = add_time(cx, &path, "to", to)))
		goto out;
	if (path.oom || what.oom) {
		rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
		goto out;
	}
	rc = cl_api_query(cx, "GET", path.p, NULL, 0, NULL, NULL, &r);
	if (rc == CL_EXIT_OK && cx->json) {
		rc = cl_api_print_raw(cx, &r);
	} else if (rc == CL_EXIT_OK) {
		struct cl_buf title = {0};
		cl_buf_printf(&title, "events%s%s%s", what.len ? " (" : "", what.len ? what.p : "",
			      what.len ? ")" : "");
		rc = title.oom ? cl_fail(cx, CL_EXIT_REFUSED, "out of memory")
			       : print_series(cx, &r, title.p);
		cl_buf_free(&title);
	}
out:
	cl_buf_free(&path);
	cl_buf_free(&what);
	cl_resp_free(&r);
	return rc;
}

/* ---- stats ------------------------------------------------------------------------------ */

static void stats_usage(FILE *out)
{
	fprintf(out, "usage: spoor stats\n\nWhat the store holds: events, sessions, time span, "
		     "layout and size on disk.\n");
	cl_global_usage(out);
}

/* Prints a /v1/stats reply as "name  value" lines. */
static int print_stats(struct cl_ctx *cx, const struct cl_resp *r)
{
	struct cl_json j;
	struct cl_table t;
	int64_t v[12] = {0};
	static const char *const key[12] = {"events",	       "sessions",   "oldest_ts",
					    "newest_ts",       "partitions", "segments_active",
					    "segments_sealed", "duplicates", "seals",
					    "seal_failures",   "problems",   "shards"};
	char a[40], b[40], d[32];
	int64_t pms = 0;

	if (cl_json_parse(&j, r->body.p, r->body.len) != 0 || !cl_json_is(&j, 0, JSON_OBJECT)) {
		cl_json_free(&j);
		return cl_fail(cx, CL_EXIT_REFUSED, "the server's reply is not stats");
	}
	for (int i = 0; i < 12; i++)
		cl_json_int(&j, cl_json_get(&j, 0, key[i]), &v[i]);
	cl_json_int(&j, cl_json_get(&j, 0, "partition_ms"), &pms);
	cl_table_init(&t, "ll");
	cl_table_cell(&t, "events");
	cl_table_cell(&t, "%lld", (long long)v[0]);
	cl_table_cell(&t, "sessions");
	cl_table_cell(&t, "%lld", (long long)v[1]);
	cl_table_cell(&t, "oldest");
	cl_table_cell(&t, "%s", v[0] ? cl_fmt_time(a, sizeof a, v[2], 0) : "-");
	cl_table_cell(&t, "newest");
	cl_table_cell(&t, "%s", v[0] ? cl_fmt_time(b, sizeof b, v[3], 0) : "-");
	cl_table_cell(&t, "on disk");
	cl_table_cell(
	    &t, "%s (%.0f bytes per event)",
	    cl_fmt_bytes(a, sizeof a, cl_json_num(&j, cl_json_get(&j, 0, "bytes_on_disk"), 0)),
	    cl_json_num(&j, cl_json_get(&j, 0, "bytes_per_event"), 0));
	cl_table_cell(&t, "partitions");
	cl_table_cell(&t, "%lld of %s, %lld shards each", (long long)v[4],
		      cl_fmt_dur(d, sizeof d, pms), (long long)v[11]);
	cl_table_cell(&t, "segments");
	cl_table_cell(&t, "%lld active, %lld sealed", (long long)v[5], (long long)v[6]);
	cl_table_cell(&t, "duplicates");
	cl_table_cell(&t, "%lld dropped since start", (long long)v[7]);
	cl_table_cell(&t, "seals");
	cl_table_cell(&t, "%lld done, %lld failed", (long long)v[8], (long long)v[9]);
	cl_table_cell(&t, "problems");
	cl_table_cell(&t, "%lld%s", (long long)v[10], v[10] ? " (see spoord's log)" : "");
	cl_json_free(&j);
	cl_table_print(&t, cx->out, 0);
	cl_table_fini(&t);
	return finish(cx);
}

int cl_cmd_stats(struct cl_ctx *cx, int argc, char **argv)
{
	struct cl_args a = {argc, argv, 0, 0, "stats"};
	struct cl_resp r = {0};
	const char *val;
	int id, rc;

	while ((id = cl_args_next(&a, NULL, &val)) != CL_ARG_END)
		if ((rc = other_flag(cx, id, val, stats_usage)) >= 0)
			return rc;
	rc = cl_api_query(cx, "GET", "/v1/stats", NULL, 0, NULL, NULL, &r);
	if (rc == CL_EXIT_OK)
		rc = cx->json ? cl_api_print_raw(cx, &r) : print_stats(cx, &r);
	cl_resp_free(&r);
	return rc;
}
