/*
 * sbuf.c — a growable byte buffer for reply bodies and /metrics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_impl.h"

char *sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return b->p + b->len;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return NULL;
	b->p = p;
	b->cap = cap;
	return b->p + b->len;
}

int sbuf_append(struct sbuf *b, const void *p, size_t n)
{
	char *d = sbuf_reserve(b, n);

	if (!d)
		return -ENOMEM;
	memcpy(d, p, n);
	b->len += n;
	return 0;
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap - b->len;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= room) {
		if (!sbuf_reserve(b, (size_t)n + 1))
			return -ENOMEM;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

int sbuf_u64(struct sbuf *b, uint64_t v)
{
	char d[24];
	int i = sizeof d;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return sbuf_append(b, d + i, sizeof d - (size_t)i);
}

int sbuf_json_str(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *d = sbuf_reserve(b, n * 6);
	size_t k = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			d[k++] = '\\';
			d[k++] = (char)ch;
		} else if (ch < 0x20) {
			d[k++] = '\\';
			d[k++] = 'u';
			d[k++] = '0';
			d[k++] = '0';
			d[k++] = hex[ch >> 4];
			d[k++] = hex[ch & 15];
		} else {
			d[k++] = (char)ch;
		}
	}
	b->len += k;
	return 0;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
