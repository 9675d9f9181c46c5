/*
 * http.c — HTTP/1.1 request heads (RFC 9112 §2-5), chunked bodies (§7.1),
 * query strings and reason phrases.
 *
 * REQUEST HEAD
 *
 * http_parse_request() is one forward pass over buf[0..min(len, max_head)).
 * Each byte is read once, classified by the table `cls` and never read past
 * that window, so a head that is not complete inside it is either
 * HTTP_INCOMPLETE (len <= max_head) or -431 (len > max_head).  Derived fields
 * (Content-Length, chunked, ...) are computed as each header line ends.
 *
 * Invariants:
 *   1. A prefix of a valid head gives HTTP_INCOMPLETE: every check is decided
 *      by bytes already read, never by the end of the buffer.
 *   2. An error is returned as soon as the bytes that prove it are read, so a
 *      prefix of a bad head may already fail.  Errors come in byte order,
 *      except a missing Host, known only at the empty line.
 *   3. On success every view in *req and hdrs[] lies inside buf[0..return).
 *
 * Where RFC 9112/9110 leave a choice, the strict one is taken:
 *   - Empty lines (CRLF) before the request-line are skipped (§2.2) and
 *     counted in the head's length; a bare LF anywhere is -400.
 *   - Exactly one SP between method, target and version.
 *   - request-target: origin-form ("/path?query"), or "*" with OPTIONS only.
 *     absolute-form ("http://host/p") and authority-form are -400: spoord is
 *     an origin server, never a proxy.  Bytes outside VCHAR are -400.
 *   - Host (§3.2): an HTTP/1.1 request needs exactly one; none, two, or a
 *     value with bytes outside uri-host[":" port] is -400.
 *   - Content-Length: 1*DIGIT, at most INT64_MAX.  Repeated lines with equal
 *     values are accepted; a comma list ("5, 5") is -400 even when its
 *     members agree (no real client sends one; it is a smuggling vector).
 *   - Transfer-Encoding: only "chunked" (any case), once.  HTTP/1.0, with
 *     Content-Length, or chunked twice: -400; any other coding: -501.
 *   - Connection: a list of tokens; "close" wins over "keep-alive".
 *   - Expect: "100-continue" counts in HTTP/1.1 only (RFC 9110 §10.1.1 says
 *     to ignore it in 1.0); other expectations are ignored.
 *   - Content-Type and Origin: the first line wins, as in http_header_get().
 *
 * CHUNKED BODY
 *
 *   SIZE --hex--> SIZE --CR--> SIZE_LF --LF, size > 0--> DATA --size bytes--> DATA_CR
 *     |  \--SP/HTAB--> SIZE_WS --';'--> EXT --CR--> SIZE_LF        DATA_CR --CR--> DATA_LF
 *     \--';'--> EXT                                                DATA_LF --LF--> SIZE
 *   SIZE_LF --LF, size == 0--> TRAILER --CR--> END_LF --LF--> DONE (return 1)
 *   TRAILER --tchar--> TR_NAME --':'--> TR_VALUE --CR--> TR_LF --LF--> TRAILER
 *
 * Any other byte is -400 and makes the decoder stick at that error.  `line`
 * counts the bytes of the current size line before its CRLF (bounded by
 * HTTP_CHUNK_LINE_MAX) and, after the last chunk, of all trailer lines with
 * their CRLFs, the final empty line excluded (HTTP_TRAILER_MAX).
 * The chunk size is checked against max_body digit by digit: the value only
 * grows with each digit, so -413 comes before any byte of it is copied; a
 * size of 2^64 or more is -400 rather than a wrapped `left`.
 */
#include "http.h"

#include <limits.h>
#include <string.h>

/* Character classes of RFC 9110 §5.6.2 / RFC 3986 §3.2.2, one bit each. */
enum {
	C_TCHAR = 1, /* token character */
	C_VCHAR = 2, /* visible: 0x21-0x7e, allowed in a request-target */
	C_FIELD = 4, /* field-value byte: VCHAR, SP, HTAB, obs-text */
	C_HOST = 8,  /* byte of uri-host [":" port], IP-literals included */
};

/* clang-format off */
static const unsigned char cls[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  0,  0,  0,  0,  0, /* 00 */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 10 */
	 4, 15,  6,  7, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6, /* 20 */
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14,  6, 14,  6,  6, /* 30 */
	 6, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 40 */
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14,  6, 14,  7, 15, /* 50 */
	 7, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 60 */
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  7,  6, 15,  0, /* 70 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* 80 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* 90 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* a0 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* b0 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* c0 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* d0 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* e0 */
	 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* f0 */
};
/* clang-format on */

/* ASCII-only lower case: the C library's tolower() depends on the locale. */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* 1 when a[0..n) equals the lower-case string lit[0..n) ignoring ASCII case. */
static int eq_nocase(const unsigned char *a, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != (unsigned char)lit[i])
			return 0;
	return 1;
}

#define NAME_IS(s, n, lit) ((n) == sizeof(lit) - 1 && eq_nocase((s), (lit), (n)))

/* Value of a hex digit, -1 for other bytes. */
static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static struct http_str view(const unsigned char *p, size_t n)
{
	return (struct http_str){(const char *)p, n};
}

/* ---- request head -------------------------------------------------------- */

/* Reading position in the window buf[0..end) of http_parse_request(). */
struct cursor {
	const unsigned char *p;
	size_t i;   /* next byte to read */
	size_t end; /* min(len, max_head) */
};

/* What the header lines seen so far imply, beyond struct http_request. */
struct head_facts {
	int nlength;	/* Content-Length lines */
	int nhost;	/* Host lines */
	int conn_close; /* a Connection token "close" */
	int conn_keep;	/* a Connection token "keep-alive" */
};

/*
 * Reads CR LF at c->i.  Returns 0 and moves past them, HTTP_INCOMPLETE when
 * the window ends first, -400 when the bytes are something else.
 */
static int expect_crlf(struct cursor *c)
{
	if (c->i >= c->end)
		return HTTP_INCOMPLETE;
	if (c->p[c->i] != '\r')
		return -400;
	if (c->i + 1 >= c->end)
		return HTTP_INCOMPLETE;
	if (c->p[c->i + 1] != '\n')
		return -400;
	c->i += 2;
	return 0;
}

/*
 * Reads "HTTP/1.x" CR LF.  Returns 0 with *minor set, HTTP_INCOMPLETE, -400
 * for anything that is not HTTP-version, -505 for a version other than 1.0
 * or 1.1.
 */
static int parse_version(struct cursor *c, int *minor)
{
	static const char form[] = "HTTP/0.0"; /* '0' stands for any digit */
	unsigned char digit[2];
	int nd = 0, rc;

	for (size_t k = 0; k < sizeof(form) - 1; k++, c->i++) {
		if (c->i >= c->end)
			return HTTP_INCOMPLETE;
		unsigned char ch = c->p[c->i];
		if (form[k] == '0') {
			if (ch < '0' || ch > '9')
				return -400;
			digit[nd++] = ch;
		} else if (ch != (unsigned char)form[k]) {
			return -400;
		}
	}
	rc = expect_crlf(c);
	if (rc)
		return rc;
	if (digit[0] != '1' || digit[1] > '1')
		return -505;
	*minor = digit[1] - '0';
	return 0;
}

/*
 * Reads the request-line, after any empty lines.  Returns 0 with method,
 * target, path, query and minor set in *req; HTTP_INCOMPLETE; -400; -505.
 */
static int parse_request_line(struct cursor *c, struct http_request *req)
{
	const unsigned char *p = c->p;
	size_t start, qmark = 0;
	int rc;

	while (c->i < c->end && p[c->i] == '\r') {
		rc = expect_crlf(c);
		if (rc)
			return rc;
	}

	start = c->i;
	while (c->i < c->end && (cls[p[c->i]] & C_TCHAR))
		c->i++;
	if (c->i >= c->end)
		return HTTP_INCOMPLETE;
	if (c->i == start || p[c->i] != ' ')
		return -400;
	req->method = view(p + start, c->i - start);
	c->i++;

	start = c->i;
	if (c->i < c->end && p[start] != '/' && p[start] != '*')
		return -400; /* absolute-form, authority-form or no target */
	while (c->i < c->end && (cls[p[c->i]] & C_VCHAR)) {
		if (p[c->i] == '?' && !qmark)
			qmark = c->i;
		c->i++;
	}
	if (c->i >= c->end)
		return HTTP_INCOMPLETE;
	if (c->i == start || p[c->i] != ' ')
		return -400;
	req->target = view(p + start, c->i - start);
	if (p[start] != '/' && !(req->target.n == 1 && p[start] == '*' && req->method.n == 7 &&
				 memcmp(req->method.p, "OPTIONS", 7) == 0))
		return -400;
	if (qmark) {
		req->path = view(p + start, qmark - start);
		req->query = view(p + qmark + 1, c->i - qmark - 1);
	} else {
		req->path = req->target;
		req->query = view(p + c->i, 0);
	}
	c->i++;

	return parse_version(c, &req->minor);
}

/* Content-Length value: returns 0 with *out set, or -400. */
static int parse_length(const unsigned char *v, size_t n, int64_t *out)
{
	int64_t x = 0;

	if (n == 0)
		return -400;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)v[i] - '0';
		if (d > 9 || x > (INT64_MAX - d) / 10)
			return -400;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/* Notes the tokens of a Connection value (a comma list) in *f. */
static void scan_connection(const unsigned char *v, size_t n, struct head_facts *f)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;
		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (NAME_IS(v + s, e - s, "close"))
			f->conn_close = 1;
		else if (NAME_IS(v + s, e - s, "keep-alive"))
			f->conn_keep = 1;
	}
}

/*
 * Folds one header line into *req and *f.  Returns 0, -400 or -501 (see the
 * rules at the top of this file).
 */
static int derive(struct http_request *req, struct head_facts *f, const unsigned char *name,
		  size_t nn, const unsigned char *v, size_t vn)
{
	int64_t x;

	switch (nn) {
	case 4:
		if (!NAME_IS(name, nn, "host"))
			break;
		if (++f->nhost > 1)
			return -400;
		for (size_t i = 0; i < vn; i++)
			if (!(cls[v[i]] & C_HOST))
				return -400;
		break;
	case 6:
		if (NAME_IS(name, nn, "origin")) {
			if (!req->origin.p)
				req->origin = view(v, vn);
		} else if (NAME_IS(name, nn, "expect")) {
			if (req->minor == 1 && NAME_IS(v, vn, "100-continue"))
				req->expect_continue = 1;
		}
		break;
	case 10:
		if (NAME_IS(name, nn, "connection"))
			scan_connection(v, vn, f);
		break;
	case 12:
		if (NAME_IS(name, nn, "content-type") && !req->content_type.p) {
			size_t e = 0;
			while (e < vn && v[e] != ';')
				e++;
			while (e > 0 && is_ows(v[e - 1]))
				e--;
			req->content_type = view(v, e);
		}
		break;
	case 14:
		if (!NAME_IS(name, nn, "content-length"))
			break;
		if (req->chunked || parse_length(v, vn, &x))
			return -400;
		if (f->nlength++ && x != req->content_length)
			return -400;
		req->content_length = x;
		break;
	case 17:
		if (!NAME_IS(name, nn, "transfer-encoding"))
			break;
		if (req->minor == 0 || f->nlength || req->chunked || vn == 0)
			return -400;
		if (!NAME_IS(v, vn, "chunked"))
			return -501;
		req->chunked = 1;
		break;
	default: break;
	}
	return 0;
}

/*
 * Reads header lines up to and including the empty line.  Returns 0 with
 * hdrs[0..req->nheaders) and the derived fields set, HTTP_INCOMPLETE, -400,
 * -431 (more than max lines) or -501.
 */
static int parse_headers(struct cursor *c, struct http_request *req, struct head_facts *f,
			 struct http_header *hdrs, size_t max)
{
	const unsigned char *p = c->p;
	size_t n = 0;
	int rc;

	for (;;) {
		size_t name, nn, val, ve;

		if (c->i >= c->end)
			return HTTP_INCOMPLETE;
		if (p[c->i] == '\r')
			break;
		if (is_ows(p[c->i])) /* obs-fold, or space before the first field */
			return -400;
		if (n == max)
			return -431;

		name = c->i;
		while (c->i < c->end && (cls[p[c->i]] & C_TCHAR))
			c->i++;
		if (c->i >= c->end)
			return HTTP_INCOMPLETE;
		if (c->i == name || p[c->i] != ':')
			return -400;
		nn = c->i - name;
		c->i++;

		while (c->i < c->end && is_ows(p[c->i]))
			c->i++;
		val = c->i;
		while (c->i < c->end && (cls[p[c->i]] & C_FIELD))
			c->i++;
		ve = c->i;
		rc = expect_crlf(c);
		if (rc)
			return rc;
		while (ve > val && is_ows(p[ve - 1]))
			ve--;

		hdrs[n].name = view(p + name, nn);
		hdrs[n].value = view(p + val, ve - val);
		n++;
		req->nheaders = n;
		rc = derive(req, f, p + name, nn, p + val, ve - val);
		if (rc)
			return rc;
	}
	return expect_crlf(c);
}

int http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req,
		       struct http_header *hdrs, size_t max)
{
	struct head_facts f = {0};
	struct cursor c;
	int rc;

	if (max_head > INT_MAX)
		max_head = INT_MAX; /* the length is returned as an int */
	c.p = (const unsigned char *)buf;
	c.i = 0;
	c.end = len < max_head ? len : max_head;
	memset(req, 0, sizeof(*req));
	req->content_length = -1;

	rc = parse_request_line(&c, req);
	if (rc == 0)
		rc = parse_headers(&c, req, &f, hdrs, max);
	if (rc == HTTP_INCOMPLETE && len > max_head)
		return -431;
	if (rc)
		return rc;
	if (req->minor == 1 && f.nhost == 0)
		return -400;
	if (req->minor == 1)
		req->keep_alive = !f.conn_close;
	else
		req->keep_alive = f.conn_keep && !f.conn_close;
	return (int)c.i;
}

struct http_str http_header_get(const struct http_header *hdrs, size_t n, const char *name)
{
	size_t nn = strlen(name);

	for (size_t i = 0; i < n; i++) {
		const unsigned char *h = (const unsigned char *)hdrs[i].name.p;
		size_t k = 0;
		if (hdrs[i].name.n != nn)
			continue;
		while (k < nn && lower(h[k]) == lower((unsigned char)name[k]))
			k++;
		if (k == nn)
			return hdrs[i].value;
	}
	return (struct http_str){NULL, 0};
}

/* ---- chunked body -------------------------------------------------------- */

enum {
	CH_SIZE,     /* hex digits of chunk-size; line = digits so far */
	CH_SIZE_WS,  /* BWS after the size, before ';' */
	CH_EXT,	     /* chunk-ext, skipped up to CR */
	CH_SIZE_LF,  /* LF ending the size line */
	CH_DATA,     /* `left` bytes of chunk data */
	CH_DATA_CR,  /* CR after the data */
	CH_DATA_LF,  /* LF after the data */
	CH_TRAILER,  /* start of a trailer line, or the final empty line */
	CH_TR_NAME,  /* trailer field name */
	CH_TR_VALUE, /* trailer field value up to CR */
	CH_TR_LF,    /* LF ending a trailer line */
	CH_END_LF,   /* LF of the final empty line */
	CH_DONE,     /* message complete */
};

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

/*
 * Moves one byte of framing through the state machine.  Returns 0 to go on,
 * 1 when the message is complete, -400 or -413.
 */
static int chunk_step(struct http_chunked *c, unsigned char ch, size_t max_body)
{
	int d;

	switch (c->state) {
	case CH_SIZE:
		d = hexval(ch);
		if (d >= 0) {
			if (c->left > (UINT64_MAX >> 4))
				return -400;
			c->left = c->left * 16 + (unsigned)d;
			if (c->out > max_body || c->left > max_body - c->out)
				return -413;
		} else if (c->line == 0) {
			return -400;
		} else if (ch == '\r') {
			c->state = CH_SIZE_LF;
			return 0;
		} else if (ch == ';') {
			c->state = CH_EXT;
		} else if (is_ows(ch)) {
			c->state = CH_SIZE_WS;
		} else {
			return -400;
		}
		break;
	case CH_SIZE_WS:
		if (ch == ';')
			c->state = CH_EXT;
		else if (!is_ows(ch))
			return -400;
		break;
	case CH_EXT:
		if (ch == '\r') {
			c->state = CH_SIZE_LF;
			return 0;
		}
		if (!(cls[ch] & C_FIELD))
			return -400;
		break;
	case CH_SIZE_LF:
		if (ch != '\n')
			return -400;
		c->line = 0;
		c->state = c->left ? CH_DATA : CH_TRAILER;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return -400;
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return -400;
		c->line = 0;
		c->state = CH_SIZE;
		return 0;
	case CH_TRAILER:
		if (ch == '\r') {
			c->state = CH_END_LF;
			return 0;
		}
		if (cls[ch] & C_TCHAR)
			c->state = CH_TR_NAME;
		else
			return -400;
		break;
	case CH_TR_NAME:
		if (ch == ':')
			c->state = CH_TR_VALUE;
		else if (!(cls[ch] & C_TCHAR))
			return -400;
		break;
	case CH_TR_VALUE:
		if (ch == '\r')
			c->state = CH_TR_LF;
		else if (!(cls[ch] & C_FIELD))
			return -400;
		break;
	case CH_TR_LF:
		if (ch != '\n')
			return -400;
		c->state = CH_TRAILER;
		break;
	case CH_END_LF:
		if (ch != '\n')
			return -400;
		c->state = CH_DONE;
		return 1;
	default: return -400;
	}
	/* A byte of a size line before its CR, or of a trailer line: bound them. */
	c->line++;
	if (c->state <= CH_EXT ? c->line > HTTP_CHUNK_LINE_MAX : c->line > HTTP_TRAILER_MAX)
		return -400;
	return 0;
}

int http_chunked_decode(struct http_chunked *c, char *buf, size_t len, size_t max_body)
{
	size_t i = c->in;
	int rc = 0;

	if (c->state < 0)
		return c->state; /* an earlier error sticks */
	if (c->state == CH_DONE)
		return 1;
	while (i < len) {
		if (c->state == CH_DATA) {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			memmove(buf + c->out, buf + i, n);
			c->out += n;
			c->left -= n;
			i += n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		rc = chunk_step(c, (unsigned char)buf[i], max_body);
		if (rc < 0) {
			c->state = rc;
			goto out;
		}
		i++;
		if (rc == 1)
			goto out;
	}
out:
	c->in = i;
	return rc;
}

/* ---- query strings ------------------------------------------------------- */

/*
 * Decodes the byte of a query component at s[*i] (*i < n): '+' is a space,
 * %XX a byte.  Returns it and moves *i past it, or -1 for a bad or %00 escape.
 */
static int query_byte(const unsigned char *s, size_t n, size_t *i)
{
	int h, l;

	if (s[*i] != '%') {
		unsigned char b = s[(*i)++];
		return b == '+' ? ' ' : b;
	}
	if (n - *i < 3)
		return -1;
	h = hexval(s[*i + 1]);
	l = hexval(s[*i + 2]);
	if (h < 0 || l < 0 || (h | l) == 0)
		return -1;
	*i += 3;
	return h << 4 | l;
}

/* 1 when the encoded key s[0..n) decodes to key[0..kn). */
static int key_matches(const unsigned char *s, size_t n, const char *key, size_t kn)
{
	size_t i = 0, k = 0;

	while (i < n) {
		int b = query_byte(s, n, &i);
		if (b < 0 || k == kn || (unsigned char)key[k] != b)
			return 0;
		k++;
	}
	return k == kn;
}

int http_query_get(struct http_str query, const char *key, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)query.p;
	size_t kn = strlen(key), i = 0;

	if (cap > (size_t)INT_MAX + 1)
		cap = (size_t)INT_MAX + 1;
	while (i < query.n) {
		size_t start = i, eq, k = 0;

		while (i < query.n && s[i] != '&')
			i++;
		eq = start;
		while (eq < i && s[eq] != '=')
			eq++;
		if (i == start || !key_matches(s + start, eq - start, key, kn)) {
			i++;
			continue;
		}
		for (size_t j = eq + 1; j < i;) {
			int b = query_byte(s, i, &j);
			if (b < 0 || k + 1 >= cap)
				return -2;
			out[k++] = (char)b;
		}
		if (k >= cap)
			return -2;
		out[k] = '\0';
		return (int)k;
	}
	return -1;
}

/* ---- reason phrases ------------------------------------------------------ */

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
