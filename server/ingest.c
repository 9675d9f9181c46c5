/*
 * ingest.c — the body of POST /v1/events, from bytes to struct store_event.
 *
 * Pipeline of ingest_parse():
 *
 *   1. Form, from the first non-whitespace byte:
 *        '['  an array of events; nothing may follow it;
 *        '{'  one object; if more non-whitespace follows it, the body is
 *             NDJSON (each further value must start on a new line), else
 *             the object is an envelope when it has an "events" array,
 *             otherwise a single event;
 *        else ERR_INVALID "expected an event object or array".
 *   2. Tokenize (json.c): the whole body, once, into p->tok.  Any syntax
 *      error anywhere rejects the whole body, before any event is built.
 *   3. Walk the event tokens; each event object is validated on its own and
 *      either becomes p->ev[n] or one ingest_error with its index.
 *
 * Memory.  All buffers belong to the parser and only grow: tokens to
 * JSON_MAX_TOKENS(len, MAX_DEPTH) (so tokenizing never runs out), events to
 * the body's event count, the arena to len + 1 bytes.  After the largest
 * body so far nothing is allocated.
 *
 * Arena bound.  The arena receives decoded copies of escaped strings and
 * folded props.  For one event, both are no larger than the event's own raw
 * bytes: a decoded string is no longer than its raw content, and a folded
 * props object writes, per member, key ':' value and one separator, which is
 * what the member took in the body; its '{' matches the event's '{'.  Events
 * are disjoint ranges of the body, so len bytes always suffice and the arena
 * never moves while views into it are handed out.  A rejected event's arena
 * bytes are given back.
 *
 * Folding.  When an event has keys other than the ten of the event model,
 * its props become a new object in the arena: the members of the props
 * object (raw key, ':', raw value) then the unknown members (same), joined by
 * ','.  Keys are not deduplicated: an unknown key equal to a props key
 * appears twice, as sent.  Without unknown keys props is a view of the raw
 * object, whitespace and all.
 */
#include "ingest.h"

#include <assert.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "err.h"
#include "json.h"

#define MAX_DEPTH 64 /* body nesting limit: array > event > props > 61 levels */
#define DAY_MS	  INT64_C(86400000)
#define TS_MAX	  INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

enum field { F_TS, F_SESSION, F_USER, F_TYPE, F_TARGET, F_URL, F_X, F_Y, F_PROPS, F_ID, NFIELDS };
#define F_UNKNOWN NFIELDS

/* Mark of the key tokens of members that are not event fields. */
#define TOK_UNKNOWN JSON_TOK_USER

static const char *const field_name[NFIELDS] = {
    "ts", "session", "user", "type", "target", "url", "x", "y", "props", "id",
};

struct ingest_parser {
	size_t max_body;      /* bodies above this fail with ERR_TOOBIG */
	struct json_tok *tok; /* token array, tok_cap entries */
	size_t tok_cap;
	struct store_event *ev; /* valid events of the last body, ev_cap entries */
	uint32_t *index;	/* index[i]: position in the body of ev[i] */
	size_t ev_cap;
	char *arena; /* decoded strings and folded props */
	size_t arena_cap;
	size_t arena_len;	   /* bytes of arena used by the current body */
	struct ingest_skew *skew; /* shared; NULL: none */
};

/* A slot: a 24-bit tag of the session's hash (never 0) << 40 | the offset,
 * 40 bits two's complement (±17 years of ms); 0: empty. */
#define SKEW_OFF_BITS 40
#define SKEW_OFF_MAX  ((INT64_C(1) << (SKEW_OFF_BITS - 1)) - 1)
struct ingest_skew {
	uint64_t mask;
	_Atomic uint64_t slot[];
};

int ingest_skew_new(unsigned bits, struct ingest_skew **out)
{
	size_t n = (size_t)1 << bits;
	struct ingest_skew *s = calloc(1, sizeof *s + n * sizeof s->slot[0]);

	*out = s;
	if (!s)
		return -ENOMEM;
	s->mask = n - 1;
	return 0;
}

void ingest_skew_free(struct ingest_skew *s)
{
	free(s);
}

void ingest_parser_set_skew(struct ingest_parser *p, struct ingest_skew *s)
{
	p->skew = s;
}

/* The clock offset to apply to an event of session (p, n) in an envelope
 * whose own offset is `off` (recv - sent_at). */
static int64_t session_offset(struct ingest_skew *s, const char *p, size_t n, int64_t off)
{
	uint64_t h, v, tag;
	_Atomic uint64_t *slot;

	if (!s || off < -SKEW_OFF_MAX || off > SKEW_OFF_MAX)
		return off;
	h = XXH3_64bits(p, n);
	tag = (h >> 40) | 1; /* 24 bits, never 0: 0 is an empty slot */
	slot = &s->slot[h & s->mask];
	v = atomic_load_explicit(slot, memory_order_relaxed);
	if (v >> SKEW_OFF_BITS == tag) {
		/* sign-extend the low 40 bits */
		int64_t kept = (int64_t)(v << (64 - SKEW_OFF_BITS)) >> (64 - SKEW_OFF_BITS);
		if (off - kept <= INGEST_SKEW_JITTER_MS && kept - off <= INGEST_SKEW_JITTER_MS)
			return kept;
	}
	v = tag << SKEW_OFF_BITS | ((uint64_t)off & ((UINT64_C(1) << SKEW_OFF_BITS) - 1));
	atomic_store_explicit(slot, v, memory_order_relaxed);
	return off;
}

/* What the events of one body share. */
struct body {
	const char *buf;      /* the body */
	struct json_tok *tok; /* its tokens; parse_event() marks keys */
	int64_t recv;	      /* receive time, ms */
	int has_sent_at;      /* envelope with sent_at: correct ts */
	int64_t sent_at;      /* the envelope's sent_at, ms */
};

/* Grows *buf (of *cap elements of `size` bytes) to hold at least `need`.
 * Returns 0 or -ENOMEM (*buf unchanged). */
static int grow(void **buf, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*buf, n * size);
	if (!q)
		return -ENOMEM;
	*buf = q;
	*cap = n;
	return 0;
}

int ingest_parser_new(size_t max_body, struct ingest_parser **out)
{
	struct ingest_parser *p = calloc(1, sizeof *p);

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->max_body = max_body;
	*out = p;
	return 0;
}

void ingest_parser_free(struct ingest_parser *p)
{
	if (!p)
		return;
	free(p->tok);
	free(p->ev);
	free(p->index);
	free(p->arena);
	free(p);
}

/* Writes "field: text" into msg[96] and returns -1. */
static int bad(char *msg, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *msg, const char *field, const char *fmt, ...)
{
	va_list ap;
	int k = snprintf(msg, sizeof(((struct ingest_error *)0)->msg), "%s: ", field);

	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof(((struct ingest_error *)0)->msg) - (size_t)k, fmt, ap);
	va_end(ap);
	return -1;
}

/* Which event field key token k names (escapes decoded), or F_UNKNOWN. */
static int key_field(const char *buf, const struct json_tok *k)
{
	const char *s = json_str_raw(buf, k);
	size_t n = json_str_raw_len(k);
	char tmp[8];

	if (k->flags & JSON_TOK_ESCAPED) {
		int r = json_str_decode(buf, k, tmp, sizeof tmp);
		if (r < 0)
			return F_UNKNOWN; /* longer than any field name */
		s = tmp;
		n = (size_t)r;
	}
	switch (n) {
	case 1: return s[0] == 'x' ? F_X : s[0] == 'y' ? F_Y : F_UNKNOWN;
	case 2: return !memcmp(s, "ts", 2) ? F_TS : !memcmp(s, "id", 2) ? F_ID : F_UNKNOWN;
	case 3: return !memcmp(s, "url", 3) ? F_URL : F_UNKNOWN;
	case 4: return !memcmp(s, "type", 4) ? F_TYPE : !memcmp(s, "user", 4) ? F_USER : F_UNKNOWN;
	case 5: return !memcmp(s, "props", 5) ? F_PROPS : F_UNKNOWN;
	case 6: return !memcmp(s, "target", 6) ? F_TARGET : F_UNKNOWN;
	case 7: return !memcmp(s, "session", 7) ? F_SESSION : F_UNKNOWN;
	default: return F_UNKNOWN;
	}
}

/* ---- time ---------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar, for
 * 0 <= y <= 9999 and a valid month and day. */
static int64_t days_from_civil(int y, int m, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	/* Leap years in [0, y): year 0 is one. */
	int64_t leaps = (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
	int64_t days = INT64_C(365) * y + leaps + before[m - 1] + (m > 2 && leap) + d - 1;

	return days - 719528; /* days from 0000-01-01 to 1970-01-01 */
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Reads exactly `w` decimal digits at s[*i]; returns their value and
 * advances *i, or returns -1. */
static int digits(const char *s, size_t n, size_t *i, int w)
{
	int v = 0;

	if (n - *i < (size_t)w)
		return -1;
	for (int k = 0; k < w; k++) {
		char c = s[*i + k];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)w;
	return v;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

/*
 * Parses an RFC 3339 / ISO-8601 time into ms since the epoch:
 *   YYYY-MM-DD                                   midnight UTC
 *   YYYY-MM-DD('T'|'t'|' ')hh:mm:ss[.f+](Z|z|±hh|±hhmm|±hh:mm)
 * Fraction digits past the third are truncated.  Seconds may be 60 (a leap
 * second reads as the next minute's first).  A time without offset is
 * refused: the client's zone is unknown here.  Returns 0 or -1.
 */
static int parse_iso_time(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int y, mo, d, h, mi, sec, ms = 0, off = 0;
	int64_t t;

	y = digits(s, n, &i, 4);
	if (y < 0 || expect(s, n, &i, '-') || (mo = digits(s, n, &i, 2)) < 1 || mo > 12 ||
	    expect(s, n, &i, '-') || (d = digits(s, n, &i, 2)) < 1 || d > days_in_month(y, mo))
		return -1;
	t = days_from_civil(y, mo, d) * DAY_MS;
	if (i == n)
		goto done;
	if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
		return -1;
	i++;
	if ((h = digits(s, n, &i, 2)) < 0 || h > 23 || expect(s, n, &i, ':') ||
	    (mi = digits(s, n, &i, 2)) < 0 || mi > 59 || expect(s, n, &i, ':') ||
	    (sec = digits(s, n, &i, 2)) < 0 || sec > 60)
		return -1;
	if (i < n && s[i] == '.') {
		int k = 0;
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++)
			if (k < 3)
				ms = ms * 10 + (s[i] - '0');
		if (k == 0)
			return -1;
		for (; k < 3; k++)
			ms *= 10;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
		if ((oh = digits(s, n, &i, 2)) < 0 || oh > 23)
			return -1;
		if (i < n) {
			if (s[i] == ':')
				i++;
			if ((om = digits(s, n, &i, 2)) < 0 || om > 59)
				return -1;
		}
		off = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	t += ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + ms - (int64_t)off * 60000;
done:
	if (t < 0 || t > TS_MAX)
		return -1;
	*out = t;
	return 0;
}

/* Reads the ts value token t: a JSON integer in [0, TS_MAX] or a time
 * string.  Returns 0 or -1. */
static int read_ts(const char *buf, const struct json_tok *t, int64_t *out)
{
	char tmp[64]; /* longer than any valid time */
	int r;

	if (t->type == JSON_NUMBER)
		return json_get_int64(buf, t, out) == 0 && *out >= 0 && *out <= TS_MAX ? 0 : -1;
	if (t->type != JSON_STRING)
		return -1;
	if (!(t->flags & JSON_TOK_ESCAPED))
		return parse_iso_time(json_str_raw(buf, t), json_str_raw_len(t), out);
	r = json_str_decode(buf, t, tmp, sizeof tmp);
	return r < 0 ? -1 : parse_iso_time(tmp, (size_t)r, out);
}

/* ---- fields -------------------------------------------------------------- */

/*
 * Reads string field f from value token t (NULL: key absent) into *out, as a
 * view of the body or, when escaped, a decoded copy in the arena.  Absent,
 * null and "" leave *out empty; for a required field they are errors.
 * Returns 0 or -1 with msg set.
 */
static int take_str(struct ingest_parser *p, const char *buf, const struct json_tok *t, int f,
		    size_t max, int required, struct store_str *out, char *msg)
{
	size_t raw, n;

	if (!t)
		return required ? bad(msg, field_name[f], "missing") : 0;
	if (t->type == JSON_NULL && !required)
		return 0;
	if (t->type != JSON_STRING)
		return bad(msg, field_name[f], "must be a string");
	raw = json_str_raw_len(t);
	if (!(t->flags & JSON_TOK_ESCAPED)) {
		out->p = json_str_raw(buf, t);
		n = raw;
	} else {
		/* Decode at most max + 1 bytes: enough to know it is too long. */
		size_t cap = raw < max + 1 ? raw : max + 1;
		char *dst = p->arena + p->arena_len;
		int r;

		assert(p->arena_cap - p->arena_len >= cap); /* "Arena bound", at the top */
		if (p->arena_cap - p->arena_len < cap)
			return bad(msg, field_name[f], "internal error: no room");
		r = json_str_decode(buf, t, dst, cap);
		n = r < 0 ? max + 1 : (size_t)r;
		if (n <= max) {
			out->p = dst;
			p->arena_len += n;
		}
	}
	if (n > max)
		return bad(msg, field_name[f], "too long (max %zu bytes)", max);
	if (n == 0 && required)
		return bad(msg, field_name[f], "must not be empty");
	out->n = (uint32_t)n;
	if (n == 0)
		out->p = NULL;
	return 0;
}

/* Reads int32 field f (x or y) from t (NULL: absent; null = absent).
 * Returns 0 (setting *flags |= flag when present) or -1 with msg set. */
static int take_i32(const char *buf, const struct json_tok *t, int f, int32_t *out, uint32_t *flags,
		    uint32_t flag, char *msg)
{
	int64_t v;

	if (!t || t->type == JSON_NULL)
		return 0;
	if (json_get_int64(buf, t, &v) != 0 || v < INT32_MIN || v > INT32_MAX)
		return bad(msg, field_name[f], "must be an integer in int32 range");
	*out = (int32_t)v;
	*flags |= flag;
	return 0;
}

/* Appends member (key token k, value token k + 1) to the object being built
 * at o[0..*n): raw key, ':', raw value, preceded by ',' unless first. */
static void fold_member(char *o, size_t *n, const char *buf, const struct json_tok *tok, uint32_t k)
{
	const struct json_tok *key = &tok[k], *val = &tok[k + 1];

	if (*n > 1)
		o[(*n)++] = ',';
	memcpy(o + *n, buf + key->start, key->end - key->start);
	*n += key->end - key->start;
	o[(*n)++] = ':';
	memcpy(o + *n, buf + val->start, val->end - val->start);
	*n += val->end - val->start;
}

/* Bytes fold_member() writes for the members of object obj, all of them or
 * only those marked TOK_UNKNOWN, separators aside; adds their number to
 * *count. */
static size_t members_size(const struct json_tok *tok, uint32_t obj, int unknown_only,
			   size_t *count)
{
	size_t n = 0;

	for (uint32_t k = obj + 1; k < tok[obj].next; k = tok[k + 1].next) {
		if (unknown_only && !(tok[k].flags & TOK_UNKNOWN))
			continue;
		n += tok[k].end - tok[k].start + 1 + tok[k + 1].end - tok[k + 1].start;
		(*count)++;
	}
	return n;
}

/*
 * Sets ev->props from the props value token (pv, 0: absent) of event object
 * obj, folding in its unknown members (keys marked TOK_UNKNOWN) when it has
 * any.  Returns 0 or -1 with msg set.
 */
static int take_props(struct ingest_parser *p, const char *buf, const struct json_tok *tok,
		      uint32_t obj, uint32_t pv, unsigned nunknown, struct store_str *out,
		      char *msg)
{
	size_t n = 0, count = 0, w = 0;
	char *o;

	if (pv && tok[pv].type == JSON_NULL)
		pv = 0;
	if (pv && tok[pv].type != JSON_OBJECT)
		return bad(msg, "props", "must be an object");
	if (nunknown == 0) {
		if (pv) {
			out->p = buf + tok[pv].start;
			n = tok[pv].end - tok[pv].start;
		}
		goto done;
	}
	/* Size first, so an oversized object costs no copy.  There is at least
	 * one unknown member, so count >= 1. */
	n = members_size(tok, obj, 1, &count);
	if (pv)
		n += members_size(tok, pv, 0, &count);
	n += 2 + count - 1;
	if (n > STORE_MAX_PROPS)
		goto done;
	/* Room: see "Arena bound" at the top of the file. */
	assert(p->arena_cap - p->arena_len >= n);
	if (p->arena_cap - p->arena_len < n)
		return bad(msg, "props", "internal error: no room");
	o = p->arena + p->arena_len;
	o[w++] = '{';
	if (pv)
		for (uint32_t k = pv + 1; k < tok[pv].next; k = tok[k + 1].next)
			fold_member(o, &w, buf, tok, k);
	for (uint32_t k = obj + 1; k < tok[obj].next; k = tok[k + 1].next)
		if (tok[k].flags & TOK_UNKNOWN)
			fold_member(o, &w, buf, tok, k);
	o[w++] = '}';
	assert(w == n);
	out->p = o;
	p->arena_len += n;
done:
	if (n > STORE_MAX_PROPS)
		return bad(msg, "props", "too large (max %d bytes)", STORE_MAX_PROPS);
	out->n = (uint32_t)n;
	return 0;
}

/* Sets ev->ts from value token t (NULL: absent), corrected for the
 * envelope's clock skew (the session's offset when p keeps them).  Returns
 * 0 or -1 with msg set. */
static int take_ts(const struct ingest_parser *p, const struct body *b, const struct json_tok *t,
		   struct store_str session, int64_t *ts, char *msg)
{
	int64_t v;

	if (!t || t->type == JSON_NULL) {
		*ts = b->recv;
		return 0;
	}
	if (read_ts(b->buf, t, &v) < 0)
		return bad(msg, "ts", "not a valid time");
	if (b->has_sent_at) {
		/* |v - sent_at| <= TS_MAX and |recv - sent_at| <= TS_MAX: no
		 * overflow.  More than a day ahead of sending: receive time. */
		if (v - b->sent_at > DAY_MS)
			v = b->recv;
		else if (__builtin_add_overflow(v, session_offset(p->skew, session.p, session.n,
								  b->recv - b->sent_at),
						&v) ||
			 v < 0)
			return bad(msg, "ts", "negative after clock correction");
	}
	*ts = v;
	return 0;
}

/*
 * Builds *ev from event object token obj.  Returns 0, or -1 with msg set
 * (then ev is garbage and the arena bytes it used are the caller's to take
 * back).
 */
static int parse_event(struct ingest_parser *p, const struct body *b, uint32_t obj,
		       struct store_event *ev, char *msg)
{
	const char *buf = b->buf;
	struct json_tok *tok = b->tok;
	const struct json_tok *v[NFIELDS] = {0};
	uint32_t end = tok[obj].next;
	unsigned nunknown = 0;

	for (uint32_t k = obj + 1; k < end; k = tok[k + 1].next) {
		int f = key_field(buf, &tok[k]);
		if (f == F_UNKNOWN) {
			tok[k].flags |= TOK_UNKNOWN;
			nunknown++;
			continue;
		}
		if (v[f])
			return bad(msg, field_name[f], "duplicate key");
		v[f] = &tok[k + 1];
	}
	memset(ev, 0, sizeof *ev);
	ev->recv = b->recv;
	if (take_str(p, buf, v[F_SESSION], F_SESSION, STORE_MAX_SESSION, 1, &ev->session, msg) ||
	    take_str(p, buf, v[F_TYPE], F_TYPE, STORE_MAX_TYPE, 1, &ev->type, msg) ||
	    take_ts(p, b, v[F_TS], ev->session, &ev->ts, msg) ||
	    take_str(p, buf, v[F_USER], F_USER, STORE_MAX_USER, 0, &ev->user, msg) ||
	    take_str(p, buf, v[F_TARGET], F_TARGET, STORE_MAX_TARGET, 0, &ev->target, msg) ||
	    take_str(p, buf, v[F_URL], F_URL, STORE_MAX_URL, 0, &ev->url, msg) ||
	    take_i32(buf, v[F_X], F_X, &ev->x, &ev->flags, STORE_HAS_X, msg) ||
	    take_i32(buf, v[F_Y], F_Y, &ev->y, &ev->flags, STORE_HAS_Y, msg) ||
	    take_str(p, buf, v[F_ID], F_ID, STORE_MAX_ID, 0, &ev->id, msg) ||
	    take_props(p, buf, tok, obj, v[F_PROPS] ? (uint32_t)(v[F_PROPS] - tok) : 0, nunknown,
		       &ev->props, msg))
		return -1;
	return 0;
}

/* ---- body ---------------------------------------------------------------- */

/* Fills out->json_error with "<kind> at byte <off>: <what>"; returns
 * ERR_INVALID. */
static int body_error(struct ingest_batch *out, const char *kind, size_t off, const char *what)
{
	snprintf(out->json_error, sizeof out->json_error, "%s at byte %zu: %s", kind, off, what);
	return ERR_INVALID;
}

/* Records the rejection of event idx with message msg. */
static void reject(struct ingest_batch *out, uint32_t idx, const char *msg)
{
	if (out->nerrors < INGEST_MAX_ERRORS) {
		struct ingest_error *e = &out->errors[out->nerrors++];
		e->index = idx;
		snprintf(e->msg, sizeof e->msg, "%s", msg);
	}
	out->rejected++;
}

/* Validates the sibling values tok[first], tok[tok[first].next], ... before
 * index `end` as events.  Returns 0 or -ENOMEM. */
static int parse_events(struct ingest_parser *p, const struct body *b, uint32_t first, uint32_t end,
			struct ingest_batch *out)
{
	const struct json_tok *tok = b->tok;
	size_t total = 0;
	uint32_t idx = 0;
	char msg[sizeof out->errors[0].msg];

	for (uint32_t k = first; k < end; k = tok[k].next)
		total++;
	if (total > p->ev_cap) {
		/* Same start, same doubling: both end with the same capacity. */
		size_t c1 = p->ev_cap, c2 = p->ev_cap;
		if (grow((void **)&p->index, &c1, total, sizeof *p->index) < 0 ||
		    grow((void **)&p->ev, &c2, total, sizeof *p->ev) < 0)
			return -ENOMEM;
		p->ev_cap = c1 < c2 ? c1 : c2;
	}
	out->ev = p->ev;
	out->index = p->index;
	out->total = total;
	for (uint32_t k = first; k < end; k = tok[k].next, idx++) {
		size_t mark = p->arena_len;

		if (tok[k].type != JSON_OBJECT) {
			reject(out, idx, "event: must be an object");
		} else if (parse_event(p, b, k, &p->ev[out->n], msg) < 0) {
			p->arena_len = mark;
			reject(out, idx, msg);
		} else {
			p->index[out->n++] = idx;
		}
	}
	return 0;
}

/* Looks for the envelope keys in object obj.  Returns 1 when it is an
 * envelope (*events = its "events" array token, b->sent_at set), 0 when it
 * is a plain event, or ERR_INVALID with out->json_error set. */
static int read_envelope(struct body *b, uint32_t obj, uint32_t *events, struct ingest_batch *out)
{
	const struct json_tok *tok = b->tok, *sent_at = NULL;
	const char *buf = b->buf;
	uint32_t ev = 0, dup = 0;

	for (uint32_t k = obj + 1; k < tok[obj].next; k = tok[k + 1].next) {
		if (json_str_eq(buf, &tok[k], "events", 6) && tok[k + 1].type == JSON_ARRAY) {
			if (ev)
				return body_error(out, "invalid envelope", tok[k].start,
						  "duplicate key \"events\"");
			ev = k + 1;
		} else if (json_str_eq(buf, &tok[k], "sent_at", 7)) {
			if (sent_at && !dup)
				dup = tok[k].start;
			sent_at = &tok[k + 1];
		}
	}
	if (!ev)
		return 0;
	if (dup)
		return body_error(out, "invalid envelope", dup, "duplicate key \"sent_at\"");
	*events = ev;
	if (sent_at && sent_at->type != JSON_NULL) {
		if (json_get_int64(buf, sent_at, &b->sent_at) != 0 || b->sent_at < 0 ||
		    b->sent_at > TS_MAX)
			return body_error(out, "invalid envelope", sent_at->start,
					  "sent_at must be integer milliseconds");
		b->has_sent_at = 1;
	}
	return 1;
}

/* Tokenizes the rest of an NDJSON body after its first value: each further
 * value must start on a new line.  Returns 0 or ERR_INVALID / ERR_FULL with
 * out->json_error set. */
static int tokenize_ndjson(struct json_parser *jp, struct ingest_batch *out)
{
	for (;;) {
		size_t j = jp->pos;
		int newline = 0;
		int rc;

		for (; j < jp->len; j++) {
			char c = jp->buf[j];
			if (c == '\n')
				newline = 1;
			else if (c != ' ' && c != '\t' && c != '\r')
				break;
		}
		if (j == jp->len)
			return 0;
		if (!newline)
			return body_error(out, "invalid JSON", j,
					  "expected a new line or end of input");
		jp->pos = j;
		rc = json_parse_value(jp);
		if (rc < 0)
			return body_error(out, "invalid JSON", jp->err.offset, jp->err.what);
	}
}

int ingest_parse(struct ingest_parser *p, const char *body, size_t len, int64_t recv_ms,
		 struct ingest_batch *out)
{
	struct json_parser jp;
	struct body b = {.buf = body, .recv = recv_ms};
	size_t i = 0, end;
	uint32_t first = 0, last;
	int rc;

	out->ev = p->ev;
	out->index = p->index;
	out->n = out->total = out->rejected = out->nerrors = 0;
	out->json_error[0] = '\0';
	p->arena_len = 0;
	if (len > p->max_body || len > JSON_MAX_LEN) {
		snprintf(out->json_error, sizeof out->json_error,
			 "body of %zu bytes exceeds the limit of %zu", len, p->max_body);
		return ERR_TOOBIG;
	}
	if (grow((void **)&p->tok, &p->tok_cap, JSON_MAX_TOKENS(len, MAX_DEPTH), sizeof *p->tok) <
		0 ||
	    grow((void **)&p->arena, &p->arena_cap, len + 1, 1) < 0)
		return -ENOMEM;
	b.tok = p->tok;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
		i++;
	if (i == len || (body[i] != '{' && body[i] != '['))
		return body_error(out, "invalid JSON", i, "expected an event object or array");
	json_parser_init(&jp, body, len, p->tok, p->tok_cap, MAX_DEPTH);
	jp.pos = i;
	rc = json_parse_value(&jp);
	if (rc < 0)
		return body_error(out, "invalid JSON", jp.err.offset, jp.err.what);
	for (end = jp.pos; end < len; end++)
		if (body[end] != ' ' && body[end] != '\t' && body[end] != '\n' && body[end] != '\r')
			break;

	if (body[i] == '[') {
		if (end != len)
			return body_error(out, "invalid JSON", end, "expected end of input");
		first = 1;
		last = p->tok[0].next;
	} else if (end != len) {
		rc = tokenize_ndjson(&jp, out);
		if (rc < 0)
			return rc;
		first = 0;
		last = (uint32_t)jp.n;
	} else {
		uint32_t events;
		rc = read_envelope(&b, 0, &events, out);
		if (rc < 0)
			return rc;
		first = rc ? events + 1 : 0;
		last = rc ? p->tok[events].next : p->tok[0].next;
	}
	return parse_events(p, &b, first, last, out);
}
