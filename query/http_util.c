/*
 * http_util.c — replies, query-string arguments, durations and string sets
 * for the query API handlers (q_http_int.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "err.h"
#include "q_http_int.h"

/* ---- replies ------------------------------------------------------------------ */

enum MHD_Result q_reply(struct q_req *r, unsigned status, struct MHD_Response *resp,
			const char *ctype)
{
	enum MHD_Result ok;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"spoor\"");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ok = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	if (ok == MHD_YES)
		r->status = status;
	return ok;
}

enum MHD_Result q_reply_json(struct q_req *r, unsigned status, struct qj *b)
{
	struct MHD_Response *resp;
	size_t n;
	char *p;

	if (b->oom) {
		qj_fini(b);
		return q_reply_code(r, -ENOMEM);
	}
	qj_lit(b, "\n");
	p = qj_take(b, &n);
	if (!p)
		return q_reply_code(r, -ENOMEM);
	resp = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(p);
		return MHD_NO;
	}
	return q_reply(r, status, resp, "application/json");
}

enum MHD_Result q_reply_error(struct q_req *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	struct qj b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	qj_init(&b);
	qj_lit(&b, "{\"error\":");
	qj_cstr(&b, msg);
	qj_lit(&b, "}");
	if (b.oom) { /* the reply of last resort: a static body */
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		qj_fini(&b);
		return q_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
			       MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
							       MHD_RESPMEM_PERSISTENT),
			       "application/json");
	}
	return q_reply_json(r, status, &b);
}

enum MHD_Result q_reply_code(struct q_req *r, int code)
{
	if (code == -ENOMEM) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		return q_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
			       MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
							       MHD_RESPMEM_PERSISTENT),
			       "application/json");
	}
	return q_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error: %s",
			     err_str(code));
}

enum MHD_Result q_reply_text(struct q_req *r, unsigned status, const char *ctype, const char *text)
{
	return q_reply(
	    r, status,
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY),
	    ctype);
}

/* ---- arguments -------------------------------------------------------------------- */

struct args_check {
	const char *const *names;
	unsigned seen; /* bit i: names[i] seen */
	char *err;
	size_t errlen;
	int bad;
};

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size)
{
	struct args_check *a = cls;
	unsigned i;

	(void)kind;
	for (i = 0; a->names[i]; i++)
		if (strlen(a->names[i]) == key_size && memcmp(a->names[i], key, key_size) == 0)
			break;
	if (!a->names[i] || strlen(key) != key_size) {
		snprintf(a->err, a->errlen, "unknown parameter \"%.*s\"",
			 (int)(key_size > 64 ? 64 : key_size), key);
		a->bad = 1;
		return MHD_NO;
	}
	if (a->seen & (1u << i)) {
		snprintf(a->err, a->errlen, "%s: given twice", a->names[i]);
		a->bad = 1;
		return MHD_NO;
	}
	if (value && strlen(value) != value_size) {
		snprintf(a->err, a->errlen, "%s: contains a NUL byte", a->names[i]);
		a->bad = 1;
		return MHD_NO;
	}
	a->seen |= 1u << i;
	return MHD_YES;
}

int q_args_check(struct q_req *r, const char *const *names, char *err, size_t errlen)
{
	struct args_check a = {names, 0, err, errlen, 0};

	MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, check_one, &a);
	return a.bad ? ERR_INVALID : 0;
}

const char *q_arg(struct q_req *r, const char *name, size_t *len)
{
	const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);

	if (v && len)
		*len = strlen(v);
	return v;
}

/* Strict decimal: optional '-', digits only, no overflow.  0 or -1. */
static int parse_i64(const char *s, int64_t *out)
{
	int neg = *s == '-';
	uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	s += neg;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (lim - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int q_arg_i64(struct q_req *r, const char *name, int64_t lo, int64_t hi, int64_t *out, char *err,
	      size_t errlen)
{
	const char *v = q_arg(r, name, NULL);
	int64_t x;

	if (!v)
		return 0;
	if (parse_i64(v, &x) < 0 || x < lo || x > hi) {
		if (hi == INT64_MAX)
			snprintf(err, errlen, "%s: must be an integer >= %lld", name,
				 (long long)lo);
		else
			snprintf(err, errlen, "%s: must be an integer in [%lld, %lld]", name,
				 (long long)lo, (long long)hi);
		return ERR_INVALID;
	}
	*out = x;
	return 1;
}

int q_parse_duration(const char *s, size_t n, int64_t *ms)
{
	uint64_t v = 0, mult;
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (v > (uint64_t)INT64_MAX / 10)
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == 0 || i == n)
		return ERR_INVALID;
	if (n - i == 2 && s[i] == 'm' && s[i + 1] == 's')
		mult = 1;
	else if (n - i != 1)
		return ERR_INVALID;
	else if (s[i] == 's')
		mult = 1000;
	else if (s[i] == 'm')
		mult = 60000;
	else if (s[i] == 'h')
		mult = 3600000;
	else if (s[i] == 'd')
		mult = 86400000;
	else
		return ERR_INVALID;
	if (v > (uint64_t)INT64_MAX / mult)
		return ERR_INVALID;
	*ms = (int64_t)(v * mult);
	return 0;
}

int64_t q_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- string sets ------------------------------------------------------------------- */

static uint64_t sset_hash(const char *p, size_t n, uint32_t tag)
{
	uint64_t h = XXH3_64bits_withSeed(p, n, tag);
	return h ? h : 1; /* 0 marks an empty slot */
}

static int sset_grow(struct q_sset *s)
{
	size_t cap = s->mask ? (s->mask + 1) * 2 : 64;
	struct q_sset_ent *v = calloc(cap, sizeof *v);

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; s->mask && i <= s->mask; i++) {
		size_t j;
		if (!s->v[i].h)
			continue;
		for (j = s->v[i].h & (cap - 1); v[j].h; j = (j + 1) & (cap - 1))
			;
		v[j] = s->v[i];
	}
	free(s->v);
	s->v = v;
	s->mask = cap - 1;
	return 0;
}

int q_sset_add(struct q_sset *s, const char *p, size_t n, uint32_t tag)
{
	uint64_t h = sset_hash(p, n, tag);
	size_t j;

	if ((s->n + 1) * 4 > (s->mask + 1) * 3 || !s->v) {
		if (sset_grow(s) < 0)
			return -ENOMEM;
	}
	for (j = h & s->mask; s->v[j].h; j = (j + 1) & s->mask) {
		const struct q_sset_ent *e = &s->v[j];
		if (e->h == h && e->tag == tag && e->n == n && memcmp(e->p, p, n) == 0)
			return 0;
	}
	s->v[j] = (struct q_sset_ent){h, p, (uint32_t)n, tag};
	s->n++;
	return 1;
}

void q_sset_free(struct q_sset *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}
