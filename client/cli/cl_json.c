/*
 * cl_json.c — the client's text plumbing: a growable byte buffer, JSON and
 * URL encoding into it, and a reader for spoord's JSON replies built on the
 * project's strict tokenizer (common/json.h).
 *
 * The reader keeps the tokens only; strings are decoded on demand into the
 * caller's buffer.  Replies are small (a funnel, a page of events), so one
 * token array sized by JSON_MAX_TOKENS() per reply is fine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cl.h"
#include "err.h"

#define READ_DEPTH 64 /* nesting accepted in replies: events carry props */

/* ---- buffer ---------------------------------------------------------------------- */

/* Makes room for n more bytes plus the NUL.  Returns 0 or -ENOMEM. */
static int reserve(struct cl_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -ENOMEM;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int cl_buf_add(struct cl_buf *b, const void *p, size_t n)
{
	if (reserve(b, n) < 0)
		return -ENOMEM;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int cl_buf_puts(struct cl_buf *b, const char *s)
{
	return cl_buf_add(b, s, strlen(s));
}

int cl_buf_printf(struct cl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int cl_buf_json_str(struct cl_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	if (reserve(b, n * 6 + 2) < 0)
		return -ENOMEM;
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o = b->p + b->len;
		if (c == '"' || c == '\\') {
			o[0] = '\\';
			o[1] = (char)c;
			b->len += 2;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			o[0] = '\\';
			o[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			b->len += 2;
		} else if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			b->len += 6;
		} else {
			*o = (char)c;
			b->len++;
		}
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
	return 0;
}

int cl_buf_urlenc(struct cl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);

	if (reserve(b, n * 3) < 0)
		return -ENOMEM;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			b->p[b->len++] = (char)c;
		} else {
			b->p[b->len++] = '%';
			b->p[b->len++] = hex[c >> 4];
			b->p[b->len++] = hex[c & 15];
		}
	}
	b->p[b->len] = '\0';
	return 0;
}

int cl_buf_query(struct cl_buf *b, const char *key, const char *value)
{
	int has_q = b->len && memchr(b->p, '?', b->len) != NULL;

	if (cl_buf_puts(b, has_q ? "&" : "?") < 0 || cl_buf_puts(b, key) < 0 ||
	    cl_buf_puts(b, "=") < 0)
		return -ENOMEM;
	return cl_buf_urlenc(b, value);
}

void cl_buf_reset(struct cl_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void cl_buf_free(struct cl_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- reader ---------------------------------------------------------------------- */

int cl_json_parse(struct cl_json *j, const char *buf, size_t len)
{
	/* Replies hold about one token per 8 bytes (events are mostly strings);
	 * try that first and take the bound that cannot fail only when needed. */
	size_t max = JSON_MAX_TOKENS(len, READ_DEPTH), cap = len / 8 + 64;

	memset(j, 0, sizeof *j);
	j->buf = buf;
	for (;;) {
		if (cap > max)
			cap = max;
		free(j->tok);
		j->tok = malloc(cap * sizeof *j->tok);
		if (!j->tok)
			return -ENOMEM;
		j->n = json_parse(buf, len, j->tok, cap, READ_DEPTH, &j->err);
		if (j->n >= 0)
			return 0;
		if (j->n != ERR_FULL || cap == max)
			break;
		cap = max;
	}
	j->n = 0;
	return ERR_INVALID; /* ERR_FULL cannot happen with max tokens */
}

void cl_json_free(struct cl_json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->n = 0;
}

int cl_json_get(const struct cl_json *j, int obj, const char *key)
{
	size_t kl = strlen(key);

	if (!cl_json_is(j, obj, JSON_OBJECT))
		return -1;
	for (uint32_t i = (uint32_t)obj + 1; i < j->tok[obj].next; i = j->tok[i + 1].next)
		if (json_str_eq(j->buf, &j->tok[i], key, kl))
			return (int)i + 1;
	return -1;
}

int cl_json_first(const struct cl_json *j, int container)
{
	if (container < 0 || container >= j->n ||
	    (j->tok[container].type != JSON_OBJECT && j->tok[container].type != JSON_ARRAY))
		return -1;
	return (uint32_t)container + 1 < j->tok[container].next ? container + 1 : -1;
}

int cl_json_next(const struct cl_json *j, int container, int i)
{
	/* an object's child i is a key: the next key follows its value */
	uint32_t k = j->tok[container].type == JSON_OBJECT ? j->tok[i + 1].next : j->tok[i].next;
	return k < j->tok[container].next ? (int)k : -1;
}

int cl_json_is(const struct cl_json *j, int tok, enum json_type type)
{
	return tok >= 0 && tok < j->n && j->tok[tok].type == type;
}

int cl_json_int(const struct cl_json *j, int tok, int64_t *out)
{
	if (!cl_json_is(j, tok, JSON_NUMBER))
		return ERR_INVALID;
	return json_get_int64(j->buf, &j->tok[tok], out) == 0 ? 0 : ERR_INVALID;
}

double cl_json_num(const struct cl_json *j, int tok, double dflt)
{
	if (!cl_json_is(j, tok, JSON_NUMBER))
		return dflt;
	return strtod(j->buf + j->tok[tok].start, NULL);
}

const char *cl_json_text(const struct cl_json *j, int tok, char *out, size_t cap)
{
	size_t n;

	out[0] = '\0';
	if (tok < 0 || tok >= j->n || cap == 0)
		return out;
	if (j->tok[tok].type == JSON_STRING) {
		int k = json_str_decode(j->buf, &j->tok[tok], out, cap - 1);
		if (k == ERR_FULL) {
			/* out[0..cap-1) holds a prefix: drop a cut UTF-8 sequence */
			size_t e = cap - 1, s = e;
			while (s > 0 && ((unsigned char)out[s - 1] & 0xC0) == 0x80)
				s--;
			if (s > 0 && ((unsigned char)out[s - 1] & 0x80)) {
				unsigned char lead = (unsigned char)out[s - 1];
				size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
				if (e - (s - 1) < want)
					e = s - 1;
			}
			k = (int)e;
		}
		out[k > 0 ? k : 0] = '\0';
		return out;
	}
	n = j->tok[tok].end - j->tok[tok].start;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, j->buf + j->tok[tok].start, n);
	out[n] = '\0';
	return out;
}
