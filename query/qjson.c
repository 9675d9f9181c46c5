/*
 * qjson.c — see qjson.h.
 *
 * String escaping walks the bytes once: runs of bytes that need no escape
 * (printable ASCII other than '"' and '\', and well-formed UTF-8 sequences)
 * are copied as they are; '"', '\' and control bytes get their JSON escape;
 * a byte that does not start a well-formed UTF-8 sequence becomes \ufffd.
 */
#include "qjson.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qj_init(struct qj *b)
{
	memset(b, 0, sizeof *b);
}

void qj_fini(struct qj *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void qj_reset(struct qj *b)
{
	b->n = 0;
	b->oom = 0;
}

char *qj_take(struct qj *b, size_t *len)
{
	char *p = b->oom || !b->n ? NULL : b->p;

	*len = p ? b->n : 0;
	if (!p)
		free(b->p);
	memset(b, 0, sizeof *b);
	return p;
}

int qj_reserve(struct qj *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -ENOMEM;
	if (b->cap - b->n >= n)
		return 0;
	cap = b->cap ? b->cap : 1024;
	while (cap - b->n < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		goto fail;
	b->p = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = 1;
	return -ENOMEM;
}

void qj_raw(struct qj *b, const void *p, size_t n)
{
	if (n == 0 || qj_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

void qj_lit(struct qj *b, const char *s)
{
	qj_raw(b, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (n >= 1, s[0] >= 0x80),
 * or 0 when it is not one (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void qj_str(struct qj *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, run = 0;

	/* Worst case: every byte becomes a six-byte escape. */
	if (qj_reserve(b, n * 6 + 2) < 0)
		return;
	b->p[b->n++] = '"';
	while (i < n) {
		unsigned char c = s[i];
		size_t k;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80 && (k = utf8_len(s + i, n - i)) > 0) {
			i += k;
			run += k;
			continue;
		}
		memcpy(b->p + b->n, s + i - run, run);
		b->n += run;
		run = 0;
		char *o = b->p + b->n;
		switch (c) {
		case '"': memcpy(o, "\\\"", 2), b->n += 2; break;
		case '\\': memcpy(o, "\\\\", 2), b->n += 2; break;
		case '\n': memcpy(o, "\\n", 2), b->n += 2; break;
		case '\r': memcpy(o, "\\r", 2), b->n += 2; break;
		case '\t': memcpy(o, "\\t", 2), b->n += 2; break;
		case '\b': memcpy(o, "\\b", 2), b->n += 2; break;
		case '\f': memcpy(o, "\\f", 2), b->n += 2; break;
		default:
			if (c < 0x20) {
				memcpy(o, "\\u00", 4);
				o[4] = hex[c >> 4];
				o[5] = hex[c & 15];
			} else {
				memcpy(o, "\\ufffd", 6);
			}
			b->n += 6;
		}
		i++;
	}
	memcpy(b->p + b->n, s + i - run, run);
	b->n += run;
	b->p[b->n++] = '"';
}

void qj_cstr(struct qj *b, const char *s)
{
	qj_str(b, s, strlen(s));
}

void qj_i64(struct qj *b, int64_t v)
{
	char t[24];
	int k = snprintf(t, sizeof t, "%" PRId64, v);
	qj_raw(b, t, (size_t)k);
}

void qj_u64(struct qj *b, uint64_t v)
{
	char t[24];
	int k = snprintf(t, sizeof t, "%" PRIu64, v);
	qj_raw(b, t, (size_t)k);
}

void qj_dbl(struct qj *b, double v)
{
	char t[40];
	int k;

	if (!isfinite(v)) {
		qj_lit(b, "null");
		return;
	}
	k = snprintf(t, sizeof t, "%.6g", v);
	qj_raw(b, t, (size_t)k);
}

void qj_fixed(struct qj *b, double v, int decimals)
{
	char t[64];
	int k;

	if (!isfinite(v) || fabs(v) > 1e18) {
		qj_dbl(b, v);
		return;
	}
	k = snprintf(t, sizeof t, "%.*f", decimals, v);
	qj_raw(b, t, (size_t)k);
}

void qj_printf(struct qj *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->oom)
		return;
	va_start(ap, fmt);
	k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k <= 0 || qj_reserve(b, (size_t)k + 1) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)k;
}
