/*
 * funnel_api.c — POST /v1/funnel: the request body into a struct
 * q_funnel_req, q_funnel(), the result as JSON.
 *
 * Parsing is strict on purpose: an unknown key, a duplicate key or a value
 * of the wrong type is a 400 naming it (with the step's index from 0), so a
 * typo never silently changes an answer.  Strings are decoded into an arena
 * as large as the body (a decoded string is never longer than its JSON
 * text); the request's string views point into the arena, and a props value
 * (raw JSON scalar, as q_prop_eq wants it) into the body itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "q_http_int.h"

#define MAX_DEPTH 16

struct fparse {
	const char *buf;
	const struct json_tok *tok;
	char *arena; /* decoded strings, owned by the caller */
	size_t used;
	char *err;
	size_t errlen;
};

static int fail(struct fparse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct fparse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return ERR_INVALID;
}

/* Decodes string token t into the arena: *out views it. */
static void decode(struct fparse *p, const struct json_tok *t, struct store_str *out)
{
	int n = json_str_decode(p->buf, t, p->arena + p->used, json_str_raw_len(t) + 1);

	/* cannot fail: the arena holds the whole body and t is a string */
	out->p = p->arena + p->used;
	out->n = n > 0 ? (uint32_t)n : 0;
	p->used += out->n;
}

/* A printable (truncated) form of key token t for messages. */
static const char *key_text(struct fparse *p, const struct json_tok *t, char *tmp, size_t cap)
{
	int n = json_str_decode(p->buf, t, tmp, cap - 1);
	if (n < 0)
		n = (int)cap - 1; /* ERR_FULL: a prefix was written */
	tmp[n] = '\0';
	return tmp;
}

/* An optional string field: null or a string of at most max bytes. */
static int opt_string(struct fparse *p, uint32_t v, const char *where, const char *name, size_t max,
		      struct store_str *out)
{
	const struct json_tok *t = &p->tok[v];

	if (t->type == JSON_NULL)
		return 0;
	if (t->type != JSON_STRING)
		return fail(p, "%s%s: must be a string", where, name);
	decode(p, t, out);
	if (out->n > max)
		return fail(p, "%s%s: too long (max %zu bytes)", where, name, max);
	return 0;
}

static int parse_props(struct fparse *p, uint32_t v, const char *where, struct q_matcher *m)
{
	const struct json_tok *t = &p->tok[v];
	char k[72];

	if (t->type == JSON_NULL)
		return 0;
	if (t->type != JSON_OBJECT)
		return fail(p, "%sprops: must be an object", where);
	for (uint32_t i = v + 1; i < t->next; i = p->tok[i + 1].next) {
		const struct json_tok *val = &p->tok[i + 1];
		struct q_prop_eq *pe;

		if (m->nprops == Q_MAX_PROPS)
			return fail(p, "%sprops: at most %d keys", where, Q_MAX_PROPS);
		if (val->type == JSON_OBJECT || val->type == JSON_ARRAY)
			return fail(p, "%sprops.%s: must be a string, number, true, false or null",
				    where, key_text(p, &p->tok[i], k, 64));
		pe = &m->props[m->nprops];
		decode(p, &p->tok[i], &pe->key);
		if (pe->key.n == 0)
			return fail(p, "%sprops: a key must not be empty", where);
		for (unsigned j = 0; j < m->nprops; j++)
			if (m->props[j].key.n == pe->key.n &&
			    memcmp(m->props[j].key.p, pe->key.p, pe->key.n) == 0)
				return fail(p, "%sprops: duplicate key \"%s\"", where,
					    key_text(p, &p->tok[i], k, 64));
		pe->value.p = p->buf + val->start;
		pe->value.n = val->end - val->start;
		m->nprops++;
	}
	return 0;
}

static int parse_ms(struct fparse *p, uint32_t v, const char *where, const char *name, int64_t min,
		    int64_t *out);

/* A step (steps[idx]) or, with gaps NULL, an exclusion's matcher
 * (exclude[idx], whose "between" the caller reads).  gaps: the request's
 * within_ms/after_ms arrays. */
static int parse_matcher(struct fparse *p, uint32_t v, const char *list, unsigned idx,
			 struct q_matcher *m, struct q_funnel_req *gaps)
{
	static const char *const keys[] = {"type",	"target",   "url",     "url_prefix",
					   "props",	"within_ms", "after_ms", "between"};
	const struct json_tok *t = &p->tok[v];
	unsigned nkeys = gaps ? 7 : 5; /* "between" is read by parse_exclude */
	char where[40], k[72];
	unsigned seen = 0;
	int rc = 0;

	snprintf(where, sizeof where, "%s[%u].", list, idx);
	if (t->type != JSON_OBJECT)
		return fail(p, "%s[%u]: must be an object", list, idx);
	for (uint32_t i = v + 1; i < t->next; i = p->tok[i + 1].next) {
		unsigned f;
		for (f = 0; f < nkeys; f++)
			if (json_str_eq(p->buf, &p->tok[i], keys[f], strlen(keys[f])))
				break;
		if (f == nkeys && !gaps && json_str_eq(p->buf, &p->tok[i], "between", 7))
			continue;
		if (f == nkeys)
			return fail(p, "%s[%u]: unknown key \"%s\"", list, idx,
				    key_text(p, &p->tok[i], k, 64));
		if (seen & (1u << f))
			return fail(p, "%s[%u]: duplicate key \"%s\"", list, idx, keys[f]);
		seen |= 1u << f;
		switch (f) {
		case 0:
			if (p->tok[i + 1].type != JSON_STRING)
				return fail(p, "%stype: must be a string", where);
			rc = opt_string(p, i + 1, where, "type", STORE_MAX_TYPE, &m->type);
			if (rc == 0 && m->type.n == 0)
				rc = fail(p, "%stype: must not be empty", where);
			break;
		case 1:
			rc = opt_string(p, i + 1, where, "target", STORE_MAX_TARGET, &m->target);
			break;
		case 2: rc = opt_string(p, i + 1, where, "url", STORE_MAX_URL, &m->url); break;
		case 3:
			rc = opt_string(p, i + 1, where, "url_prefix", STORE_MAX_URL,
					&m->url_prefix);
			break;
		case 4: rc = parse_props(p, i + 1, where, m); break;
		case 5:
		case 6:
			if (idx == 0)
				return fail(p, "%s%s: the first step has no previous step", where,
					    keys[f]);
			rc = parse_ms(p, i + 1, where, keys[f], f == 5 ? 1 : 0,
				      f == 5 ? &gaps->within_ms[idx] : &gaps->after_ms[idx]);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (!(seen & 1u))
		return fail(p, "%stype: missing", where);
	if (gaps && gaps->within_ms[idx] && gaps->after_ms[idx] > gaps->within_ms[idx])
		return fail(p, "%safter_ms: must not exceed within_ms", where);
	return 0;
}

static int parse_steps(struct fparse *p, uint32_t v, struct q_funnel_req *req)
{
	const struct json_tok *t = &p->tok[v];
	unsigned n = 0;
	int rc;

	if (t->type != JSON_ARRAY)
		return fail(p, "steps: must be an array of 1 to %d steps", Q_MAX_STEPS);
	for (uint32_t i = v + 1; i < t->next; i = p->tok[i].next, n++) {
		if (n == Q_MAX_STEPS)
			return fail(p, "steps: at most %d steps", Q_MAX_STEPS);
		if ((rc = parse_matcher(p, i, "steps", n, &req->steps[n], req)) < 0)
			return rc;
	}
	if (n == 0)
		return fail(p, "steps: must have at least one step");
	req->nsteps = n;
	return 0;
}

static int parse_window(struct fparse *p, uint32_t v, int64_t *out)
{
	const struct json_tok *t = &p->tok[v];

	if (t->type == JSON_NUMBER && json_get_int64(p->buf, t, out) == 0 && *out >= 0)
		return 0;
	if (t->type == JSON_STRING && !(t->flags & JSON_TOK_ESCAPED) &&
	    q_parse_duration(json_str_raw(p->buf, t), json_str_raw_len(t), out) == 0)
		return 0;
	return fail(p, "window_ms: must be an integer >= 0 (milliseconds) or a duration such as "
		       "\"90s\", \"30m\", \"1h\" or \"2d\"");
}

static int parse_time(struct fparse *p, uint32_t v, const char *name, int64_t *out)
{
	const struct json_tok *t = &p->tok[v];

	if (t->type == JSON_NULL)
		return 0;
	if (t->type != JSON_NUMBER || json_get_int64(p->buf, t, out) < 0 || *out < 0)
		return fail(p, "%s: must be an integer >= 0 (ms since the epoch) or null", name);
	return 0;
}

/* A field name value: the index of one of names[] (NULL-terminated, at most
 * 3), 3 for "props.KEY" (*prop set to KEY), -1 for null, -2 otherwise. */
static int parse_field(struct fparse *p, uint32_t v, const char *const *names,
		       struct store_str *prop)
{
	const struct json_tok *t = &p->tok[v];
	struct store_str s = {0};

	if (t->type == JSON_NULL)
		return -1;
	if (t->type != JSON_STRING)
		return -2;
	decode(p, t, &s);
	for (int i = 0; names[i]; i++)
		if (s.n == strlen(names[i]) && memcmp(s.p, names[i], s.n) == 0)
			return i;
	if (s.n > 6 && memcmp(s.p, "props.", 6) == 0) {
		*prop = (struct store_str){s.p + 6, s.n - 6};
		return 3;
	}
	return -2;
}

static int parse_breakdown(struct fparse *p, uint32_t v, struct q_funnel_req *req)
{
	static const char *const names[] = {"url", "target", "type", NULL};
	static const enum q_breakdown kinds[] = {Q_BD_URL, Q_BD_TARGET, Q_BD_TYPE};
	int k = parse_field(p, v, names, &req->breakdown_prop);

	if (k == -2)
		return fail(p, "breakdown: must be \"url\", \"target\", \"type\" or \"props.KEY\"");
	req->breakdown = k == -1 ? Q_BD_NONE : k == 3 ? Q_BD_PROP : kinds[k];
	return 0;
}

/* A duration: an integer of ms >= min, or "90s", "30m", "1h", "2d"... */
static int parse_ms(struct fparse *p, uint32_t v, const char *where, const char *name, int64_t min,
		    int64_t *out)
{
	const struct json_tok *t = &p->tok[v];

	if (t->type == JSON_NUMBER && json_get_int64(p->buf, t, out) == 0 && *out >= min)
		return 0;
	if (t->type == JSON_STRING && !(t->flags & JSON_TOK_ESCAPED) &&
	    q_parse_duration(json_str_raw(p->buf, t), json_str_raw_len(t), out) == 0 && *out >= min)
		return 0;
	return fail(p, "%s%s: must be an integer >= %lld (milliseconds) or a duration such as "
		       "\"90s\", \"30m\" or \"1h\"",
		    where, name, (long long)min);
}

/* One of `names` (a NULL-terminated list): its index into *out. */
static int parse_enum(struct fparse *p, uint32_t v, const char *name, const char *const *names,
		      const char *expect, int *out)
{
	for (int i = 0; names[i]; i++)
		if (json_str_eq(p->buf, &p->tok[v], names[i], strlen(names[i]))) {
			*out = i;
			return 0;
		}
	return fail(p, "%s: must be %s", name, expect);
}

/* "same": one of url, target, user, props.KEY (or null). */
static int parse_same(struct fparse *p, uint32_t v, struct q_funnel_req *req)
{
	static const char *const names[] = {"url", "target", "user", NULL};
	static const enum q_same kinds[] = {Q_SAME_URL, Q_SAME_TARGET, Q_SAME_USER};
	int k = parse_field(p, v, names, &req->same_prop);

	if (k == -2)
		return fail(p, "same: must be \"url\", \"target\", \"user\" or \"props.KEY\"");
	req->same = k == -1 ? Q_SAME_NONE : k == 3 ? Q_SAME_PROP : kinds[k];
	return 0;
}

/* "exclude": [{matcher..., "between": [i, j]}, ...]; steps are checked
 * against nsteps once the whole body is read. */
static int parse_exclude(struct fparse *p, uint32_t v, struct q_funnel_req *req)
{
	const struct json_tok *t = &p->tok[v];
	unsigned n = 0;
	int rc;

	if (t->type != JSON_ARRAY)
		return fail(p, "exclude: must be an array of at most %d exclusions", Q_MAX_EXCLUDE);
	for (uint32_t i = v + 1; i < t->next; i = p->tok[i].next, n++) {
		struct q_exclude *x = &req->exclude[n];
		int64_t a, b;
		uint32_t bt = 0;
		if (n == Q_MAX_EXCLUDE)
			return fail(p, "exclude: at most %d exclusions", Q_MAX_EXCLUDE);
		if ((rc = parse_matcher(p, i, "exclude", n, &x->m, NULL)) < 0)
			return rc;
		for (uint32_t j = i + 1; j < p->tok[i].next; j = p->tok[j + 1].next)
			if (json_str_eq(p->buf, &p->tok[j], "between", 7))
				bt = j + 1;
		if (!bt || p->tok[bt].type != JSON_ARRAY || p->tok[bt].next != bt + 3 ||
		    p->tok[bt + 1].type != JSON_NUMBER || p->tok[bt + 2].type != JSON_NUMBER ||
		    json_get_int64(p->buf, &p->tok[bt + 1], &a) < 0 ||
		    json_get_int64(p->buf, &p->tok[bt + 2], &b) < 0 || a < 1 || b <= a ||
		    b > Q_MAX_STEPS)
			return fail(p, "exclude[%u].between: must be [i, j], step numbers from 1 with "
				       "i < j",
				    n);
		x->from = (unsigned)a;
		x->to = (unsigned)b;
	}
	req->nexclude = n;
	return 0;
}

static int parse_samples(struct fparse *p, uint32_t v, struct q_funnel_req *req)
{
	int64_t n;

	if (p->tok[v].type != JSON_NUMBER || json_get_int64(p->buf, &p->tok[v], &n) < 0 || n < 0 ||
	    n > Q_MAX_SAMPLES)
		return fail(p, "samples: must be an integer from 0 to %d", Q_MAX_SAMPLES);
	req->samples = (unsigned)n;
	return 0;
}

/* "time_to_convert": {"from": i, "to": j, "bins": K}; bins default 10. */
static int parse_ttc(struct fparse *p, uint32_t v, struct q_funnel_req *req)
{
	static const char *const keys[] = {"from", "to", "bins"};
	const struct json_tok *t = &p->tok[v];
	int64_t val[3] = {0, 0, 10};
	unsigned seen = 0;
	char k[72];

	if (t->type == JSON_NULL)
		return 0;
	if (t->type != JSON_OBJECT)
		return fail(p, "time_to_convert: must be an object {\"from\":i,\"to\":j,\"bins\":k}");
	for (uint32_t i = v + 1; i < t->next; i = p->tok[i + 1].next) {
		unsigned f;
		for (f = 0; f < 3 && !json_str_eq(p->buf, &p->tok[i], keys[f], strlen(keys[f])); f++)
			;
		if (f == 3)
			return fail(p, "time_to_convert: unknown key \"%s\"",
				    key_text(p, &p->tok[i], k, 64));
		if (seen & (1u << f))
			return fail(p, "time_to_convert: duplicate key \"%s\"", keys[f]);
		seen |= 1u << f;
		if (p->tok[i + 1].type != JSON_NUMBER ||
		    json_get_int64(p->buf, &p->tok[i + 1], &val[f]) < 0 || val[f] < 1 ||
		    val[f] > (f == 2 ? Q_MAX_TTC_BINS : Q_MAX_STEPS))
			return fail(p, "time_to_convert.%s: must be an integer from 1 to %d", keys[f],
				    f == 2 ? Q_MAX_TTC_BINS : Q_MAX_STEPS);
	}
	if ((seen & 3u) != 3u || val[1] <= val[0])
		return fail(p, "time_to_convert: needs \"from\" and \"to\", step numbers from 1 "
			       "with from < to");
	req->ttc_from = (unsigned)val[0];
	req->ttc_to = (unsigned)val[1];
	req->ttc_bins = (unsigned)val[2];
	return 0;
}

int q_funnel_parse(const char *body, size_t len, struct q_funnel_req *req, char **arena, char *err,
		   size_t errlen)
{
	static const char *const keys[] = {"steps",	"window_ms", "by",	"from",
					   "to",	"breakdown", "order",	"exclude",
					   "same",	"count",     "samples", "time_to_convert",
					   "trend",	NULL};
	static const char *const orders[] = {"ordered", "strict", "any", NULL};
	static const char *const counts[] = {"actors", "entries", NULL};
	int e;
	struct fparse p = {.buf = body, .err = err, .errlen = errlen};
	size_t cap = JSON_MAX_TOKENS(len, MAX_DEPTH);
	struct json_tok *tok = NULL;
	struct json_error je;
	unsigned seen = 0;
	char k[72];
	int n, rc;

	memset(req, 0, sizeof *req);
	req->from = INT64_MIN;
	req->to = INT64_MAX;
	*arena = NULL;
	if (!(tok = malloc(cap * sizeof *tok)) || !(*arena = malloc(len + 1))) {
		free(tok);
		return -ENOMEM;
	}
	p.tok = tok;
	p.arena = *arena;
	n = json_parse(body, len, tok, cap, MAX_DEPTH, &je);
	if (n < 0) {
		rc = fail(&p, "invalid JSON at byte %zu: %s", je.offset, je.what);
		goto out;
	}
	if (tok[0].type != JSON_OBJECT) {
		rc = fail(&p, "the body must be a JSON object");
		goto out;
	}
	rc = 0;
	for (uint32_t i = 1; i < tok[0].next && rc == 0; i = tok[i + 1].next) {
		unsigned f;
		for (f = 0; keys[f]; f++)
			if (json_str_eq(body, &tok[i], keys[f], strlen(keys[f])))
				break;
		if (!keys[f]) {
			rc = fail(&p, "unknown key \"%s\"", key_text(&p, &tok[i], k, 64));
			break;
		}
		if (seen & (1u << f)) {
			rc = fail(&p, "duplicate key \"%s\"", keys[f]);
			break;
		}
		seen |= 1u << f;
		switch (f) {
		case 0: rc = parse_steps(&p, i + 1, req); break;
		case 1: rc = parse_window(&p, i + 1, &req->window_ms); break;
		case 2:
			if (json_str_eq(body, &tok[i + 1], "session", 7))
				req->by = Q_BY_SESSION;
			else if (json_str_eq(body, &tok[i + 1], "user", 4))
				req->by = Q_BY_USER;
			else
				rc = fail(&p, "by: must be \"session\" or \"user\"");
			break;
		case 3: rc = parse_time(&p, i + 1, "from", &req->from); break;
		case 4: rc = parse_time(&p, i + 1, "to", &req->to); break;
		case 5: rc = parse_breakdown(&p, i + 1, req); break;
		case 6:
			rc = parse_enum(&p, i + 1, "order", orders,
					"\"ordered\", \"strict\" or \"any\"", &e);
			req->order = (enum q_order)e;
			break;
		case 7: rc = parse_exclude(&p, i + 1, req); break;
		case 8: rc = parse_same(&p, i + 1, req); break;
		case 9:
			rc = parse_enum(&p, i + 1, "count", counts, "\"actors\" or \"entries\"", &e);
			req->count = (enum q_count)e;
			break;
		case 10: rc = parse_samples(&p, i + 1, req); break;
		case 11: rc = parse_ttc(&p, i + 1, req); break;
		default: rc = parse_ms(&p, i + 1, "", "trend", 1000, &req->trend_ms);
		}
	}
	if (rc == 0 && !(seen & 1u))
		rc = fail(&p, "steps: missing");
	if (rc == 0 && !(seen & 2u))
		rc = fail(&p, "window_ms: missing");
	if (rc == 0 && req->from >= req->to)
		rc = fail(&p, "from must be less than to");
	for (unsigned x = 0; rc == 0 && x < req->nexclude; x++)
		if (req->exclude[x].to > req->nsteps)
			rc = fail(&p, "exclude[%u].between: step %u does not exist (%u steps)", x,
				  req->exclude[x].to, req->nsteps);
	if (rc == 0 && req->ttc_to > req->nsteps)
		rc = fail(&p, "time_to_convert.to: step %u does not exist (%u steps)", req->ttc_to,
			  req->nsteps);
	if (rc == 0 && req->order == Q_ORDER_ANY) {
		int gaps = 0;
		for (unsigned s = 0; s < Q_MAX_STEPS; s++)
			gaps |= req->within_ms[s] || req->after_ms[s];
		if (gaps || req->nexclude || req->count == Q_COUNT_ENTRIES || req->samples ||
		    req->ttc_to)
			rc = fail(&p, "order \"any\" takes no within_ms, after_ms, exclude, count "
				      "\"entries\", samples or time_to_convert: they are defined by "
				      "the order of the steps");
	}
out:
	free(tok);
	if (rc < 0) {
		free(*arena);
		*arena = NULL;
	}
	return rc;
}

/* ---- the reply ------------------------------------------------------------------------ */

static void steps_json(struct qj *b, const struct q_step_stat *s, unsigned n)
{
	qj_lit(b, "[");
	for (unsigned i = 0; i < n; i++) {
		qj_lit(b, i ? ",{\"count\":" : "{\"count\":");
		qj_u64(b, s[i].count);
		qj_lit(b, ",\"conversion\":");
		qj_dbl(b, s[i].conversion);
		qj_lit(b, ",\"conversion_from_prev\":");
		qj_dbl(b, s[i].conversion_from_prev);
		qj_lit(b, ",\"median_ms_from_prev\":");
		if (s[i].median_ms_from_prev < 0)
			qj_lit(b, "null");
		else
			qj_i64(b, s[i].median_ms_from_prev);
		qj_lit(b, "}");
	}
	qj_lit(b, "]");
}

static void samples_json(struct qj *b, const struct q_sample *v, size_t n)
{
	qj_lit(b, "[");
	for (size_t i = 0; i < n; i++) {
		qj_lit(b, i ? ",{\"session\":" : "{\"session\":");
		qj_str(b, v[i].session.p, v[i].session.n);
		qj_lit(b, ",\"ts\":");
		qj_i64(b, v[i].ts);
		qj_lit(b, ",\"replay\":");
		/* /replay/{session}?t=ts: the session percent-encoded as a path segment */
		{
			char enc[3 * STORE_MAX_SESSION + 64];
			size_t o = (size_t)snprintf(enc, sizeof enc, "/replay/");
			for (uint32_t j = 0; j < v[i].session.n; j++) {
				unsigned char ch = (unsigned char)v[i].session.p[j];
				if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
				    ch == '~')
					enc[o++] = (char)ch;
				else
					o += (size_t)snprintf(enc + o, sizeof enc - o, "%%%02X", ch);
			}
			o += (size_t)snprintf(enc + o, sizeof enc - o, "?t=%lld", (long long)v[i].ts);
			qj_str(b, enc, o);
		}
		qj_lit(b, "}");
	}
	qj_lit(b, "]");
}

/* The steps array; with samples, each step carries its own. */
static void steps_samples_json(struct qj *b, const struct q_funnel_req *req,
			       const struct q_funnel_res *res)
{
	if (!req->samples) {
		steps_json(b, res->steps, res->nsteps);
		return;
	}
	qj_lit(b, "[");
	for (unsigned i = 0; i < res->nsteps; i++) {
		struct qj one;
		qj_init(&one);
		steps_json(&one, &res->steps[i], 1);
		/* "[{...}]" without its closing "}]": this step's stats */
		qj_raw(b, i ? "," : "", i ? 1 : 0);
		qj_raw(b, one.p + 1, one.n - 3);
		qj_lit(b, ",\"samples\":{\"converted\":");
		samples_json(b, res->samples[i][0], res->nsamples[i][0]);
		qj_lit(b, ",\"dropped\":");
		samples_json(b, res->samples[i][1], res->nsamples[i][1]);
		qj_lit(b, "}}");
		qj_fini(&one);
	}
	qj_lit(b, "]");
}

static void result_json(struct qj *b, const struct q_funnel_req *req,
			const struct q_funnel_res *res)
{
	qj_lit(b, "{\"steps\":");
	steps_samples_json(b, req, res);
	qj_lit(b, ",\"actors\":");
	qj_u64(b, res->actors);
	qj_lit(b, ",\"events_scanned\":");
	qj_u64(b, res->events_scanned);
	qj_lit(b, ",\"took_ms\":");
	qj_fixed(b, res->took_ms, 3);
	if (req->breakdown != Q_BD_NONE) {
		qj_lit(b, ",\"breakdown\":[");
		for (size_t g = 0; g < res->ngroups; g++) {
			const struct q_funnel_group *gr = &res->groups[g];
			qj_lit(b, g ? ",{\"value\":" : "{\"value\":");
			qj_str(b, gr->value.p, gr->value.n);
			if (gr->other)
				qj_lit(b, ",\"other\":true");
			qj_lit(b, ",\"steps\":");
			steps_json(b, gr->steps, res->nsteps);
			qj_lit(b, "}");
		}
		qj_lit(b, "]");
	}
	if (req->ttc_to) {
		qj_lit(b, ",\"time_to_convert\":{\"from\":");
		qj_u64(b, req->ttc_from);
		qj_lit(b, ",\"to\":");
		qj_u64(b, req->ttc_to);
		qj_lit(b, ",\"actors\":");
		qj_u64(b, res->ttc_count);
		qj_lit(b, ",\"average_ms\":");
		if (res->ttc_count)
			qj_fixed(b, res->ttc_avg_ms, 1);
		else
			qj_lit(b, "null");
		qj_lit(b, ",\"median_ms\":");
		if (res->ttc_median_ms >= 0)
			qj_i64(b, res->ttc_median_ms);
		else
			qj_lit(b, "null");
		qj_lit(b, ",\"p90_ms\":");
		if (res->ttc_p90_ms >= 0)
			qj_i64(b, res->ttc_p90_ms);
		else
			qj_lit(b, "null");
		qj_lit(b, ",\"bins\":[");
		for (size_t i = 0; i < res->ttc_nbins; i++) {
			qj_lit(b, i ? ",{\"from_ms\":" : "{\"from_ms\":");
			qj_i64(b, res->ttc_bins[i].from_ms);
			qj_lit(b, ",\"to_ms\":");
			qj_i64(b, res->ttc_bins[i].to_ms);
			qj_lit(b, ",\"count\":");
			qj_u64(b, res->ttc_bins[i].count);
			qj_lit(b, "}");
		}
		qj_lit(b, "]}");
	}
	if (req->trend_ms) {
		qj_lit(b, ",\"trend\":[");
		for (size_t i = 0; i < res->ntrend; i++) {
			qj_lit(b, i ? ",{\"start\":" : "{\"start\":");
			qj_i64(b, res->trend[i].start);
			qj_lit(b, res->trend[i].incomplete ? ",\"incomplete\":true,\"steps\":"
							   : ",\"incomplete\":false,\"steps\":");
			steps_json(b, res->trend[i].steps, res->nsteps);
			qj_lit(b, "}");
		}
		qj_lit(b, "]");
	}
	qj_lit(b, "}");
}

enum MHD_Result q_serve_funnel(struct q_req *r)
{
	struct q_funnel_req req;
	struct q_funnel_res res;
	char err[256], *arena = NULL;
	enum MHD_Result ok;
	struct qj b;
	int rc;

	if (!r->body || r->body_len == 0)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST,
				     "a JSON body is required (see docs/api.md)");
	rc = q_funnel_parse(r->body, r->body_len, &req, &arena, err, sizeof err);
	if (rc == ERR_INVALID)
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
	if (rc < 0)
		return q_reply_code(r, rc);
	memset(&res, 0, sizeof res);
	rc = q_funnel(r->h->eng, &req, &res);
	if (rc == ERR_INVALID || rc == ERR_TOOBIG) {
		free(arena);
		return q_reply_error(r, MHD_HTTP_BAD_REQUEST,
				     "the query engine refused the funnel: %s", err_str(rc));
	}
	if (rc < 0) {
		free(arena);
		return q_reply_code(r, rc);
	}
	qj_init(&b);
	result_json(&b, &req, &res);
	q_funnel_res_free(&res);
	free(arena);
	ok = q_reply_json(r, MHD_HTTP_OK, &b);
	return ok;
}
