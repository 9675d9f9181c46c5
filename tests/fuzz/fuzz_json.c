/*
 * fuzz_json.c — libFuzzer target for server/json.c.
 *
 * The input is a JSON document.  Checks:
 *   - the parser agrees with an independent, deliberately naive recursive
 *     validator written here (code points are decoded and range-checked, not
 *     classified by lead byte as json.c does);
 *   - JSON_MAX_TOKENS(len, depth) tokens always suffice, and one fewer than a
 *     document needs gives ERR_FULL;
 *   - on success the tokens are well formed: ranges nested in their parent,
 *     json_skip() consistent, object keys are strings, every string decodes
 *     to valid UTF-8 no longer than its raw text and compares equal to its
 *     decoding, every integer reads like strtoll() reads it;
 *   - reading the input as a stream of values (json_parse_value) never
 *     crashes.
 * The input is copied to an exact-size heap buffer so ASan sees overreads.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"

#define DEPTH 32

/* CHECK() that survives NDEBUG. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- the reference validator ---------------------------------------------- */

struct ref {
	const uint8_t *s;
	size_t n, i;
};

static int ref_value(struct ref *r, int depth);

static void ref_ws(struct ref *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' ||
			       r->s[r->i] == '\r'))
		r->i++;
}

static int ref_lit(struct ref *r, const char *w)
{
	size_t k = strlen(w);

	if (r->n - r->i < k || memcmp(r->s + r->i, w, k) != 0)
		return 0;
	r->i += k;
	return 1;
}

static int ref_digits(struct ref *r)
{
	size_t start = r->i;

	while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
		r->i++;
	return r->i > start;
}

static int ref_number(struct ref *r)
{
	if (r->i < r->n && r->s[r->i] == '-')
		r->i++;
	if (r->i < r->n && r->s[r->i] == '0')
		r->i++;
	else if (r->i >= r->n || r->s[r->i] < '1' || r->s[r->i] > '9' || !ref_digits(r))
		return 0;
	if (r->i < r->n && r->s[r->i] == '.') {
		r->i++;
		if (!ref_digits(r))
			return 0;
	}
	if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		r->i++;
		if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (!ref_digits(r))
			return 0;
	}
	return 1;
}

static long ref_hex4(struct ref *r)
{
	long v = 0;

	if (r->n - r->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int c = r->s[r->i++], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Decodes one UTF-8 code point the long way; -1 when invalid. */
static long ref_utf8(const uint8_t *s, size_t n, size_t *i)
{
	static const long min[5] = {0, 0, 0x80, 0x800, 0x10000};
	uint8_t c = s[*i];
	int k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : c >= 0x80 ? -1 : 1;
	long cp;

	if (k < 0 || c >= 0xf8 || n - *i < (size_t)k)
		return -1;
	cp = k == 1 ? c : c & (0x7f >> k);
	for (int j = 1; j < k; j++) {
		if ((s[*i + j] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + j] & 0x3f);
	}
	if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += (size_t)k;
	return cp;
}

static int ref_string(struct ref *r)
{
	r->i++; /* the quote */
	for (;;) {
		if (r->i >= r->n)
			return 0;
		uint8_t c = r->s[r->i];
		if (c == '"') {
			r->i++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c != '\\') {
			if (ref_utf8(r->s, r->n, &r->i) < 0)
				return 0;
			continue;
		}
		if (++r->i >= r->n)
			return 0;
		c = r->s[r->i++];
		if (strchr("\"\\/bfnrt", c) && c)
			continue;
		if (c != 'u')
			return 0;
		long cp = ref_hex4(r);
		if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
			return 0;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (!ref_lit(r, "\\u"))
				return 0;
			long lo = ref_hex4(r);
			if (lo < 0xdc00 || lo > 0xdfff)
				return 0;
		}
	}
}

static int ref_container(struct ref *r, int depth, char close, int object)
{
	if (depth >= DEPTH)
		return 0;
	r->i++;
	ref_ws(r);
	if (r->i < r->n && r->s[r->i] == close) {
		r->i++;
		return 1;
	}
	for (;;) {
		if (object) {
			ref_ws(r);
			if (r->i >= r->n || r->s[r->i] != '"' || !ref_string(r))
				return 0;
			ref_ws(r);
			if (r->i >= r->n || r->s[r->i] != ':')
				return 0;
			r->i++;
		}
		if (!ref_value(r, depth + 1))
			return 0;
		ref_ws(r);
		if (r->i >= r->n)
			return 0;
		if (r->s[r->i] == close) {
			r->i++;
			return 1;
		}
		if (r->s[r->i++] != ',')
			return 0;
	}
}

static int ref_value(struct ref *r, int depth)
{
	ref_ws(r);
	if (r->i >= r->n)
		return 0;
	switch (r->s[r->i]) {
	case '{': return ref_container(r, depth, '}', 1);
	case '[': return ref_container(r, depth, ']', 0);
	case '"': return ref_string(r);
	case 't': return ref_lit(r, "true");
	case 'f': return ref_lit(r, "false");
	case 'n': return ref_lit(r, "null");
	default: return ref_number(r);
	}
}

static int ref_document(const uint8_t *s, size_t n)
{
	struct ref r = {s, n, 0};

	if (!ref_value(&r, 0))
		return 0;
	ref_ws(&r);
	return r.i == n;
}

/* ---- checks of a successful parse ------------------------------------------- */

static int utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;)
		if (ref_utf8(s, n, &i) < 0)
			return 0;
	return 1;
}

static void check_string(const char *buf, const struct json_tok *t)
{
	size_t raw = json_str_raw_len(t);
	char *out = malloc(raw ? raw : 1);
	int r = json_str_decode(buf, t, out, raw);

	CHECK(r >= 0 && (size_t)r <= raw);
	CHECK(utf8_valid((const uint8_t *)out, (size_t)r));
	CHECK(json_str_eq(buf, t, out, (size_t)r));
	if (r > 0)
		CHECK(!json_str_eq(buf, t, out, (size_t)r - 1));
	if (!(t->flags & JSON_TOK_ESCAPED))
		CHECK((size_t)r == raw && memcmp(out, json_str_raw(buf, t), raw) == 0);
	if (r > 0)
		CHECK(json_str_decode(buf, t, out, (size_t)r - 1) == ERR_FULL);
	free(out);
}

static void check_number(const char *buf, const struct json_tok *t)
{
	size_t n = t->end - t->start;
	char *z = malloc(n + 1);
	int64_t v;
	int rc = json_get_int64(buf, t, &v);
	long long w;

	memcpy(z, buf + t->start, n);
	z[n] = '\0';
	if (!(t->flags & JSON_TOK_INTEGER)) {
		CHECK(rc == ERR_INVALID);
	} else {
		errno = 0;
		w = strtoll(z, NULL, 10);
		if (errno == ERANGE)
			CHECK(rc == ERR_TOOBIG);
		else
			CHECK(rc == 0 && v == w);
	}
	free(z);
}

/* Checks token i and its subtree, which must lie in [lo, hi); returns
 * json_skip(tok, i). */
static uint32_t check_tree(const char *buf, const struct json_tok *tok, uint32_t n, uint32_t i,
			   uint32_t lo, uint32_t hi)
{
	const struct json_tok *t = &tok[i];
	uint32_t k, count = 0;

	CHECK(t->start >= lo && t->end <= hi && t->start < t->end);
	CHECK(t->next > i && t->next <= n);
	switch (t->type) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		CHECK(buf[t->start] == (t->type == JSON_OBJECT ? '{' : '['));
		CHECK(buf[t->end - 1] == (t->type == JSON_OBJECT ? '}' : ']'));
		for (k = i + 1; k < t->next; count++) {
			if (t->type == JSON_OBJECT && count % 2 == 0)
				CHECK(tok[k].type == JSON_STRING);
			k = check_tree(buf, tok, n, k, t->start + 1, t->end - 1);
		}
		CHECK(k == t->next);
		if (t->type == JSON_OBJECT)
			CHECK(count % 2 == 0);
		break;
	case JSON_STRING:
		CHECK(t->next == i + 1 && buf[t->start] == '"' && buf[t->end - 1] == '"');
		CHECK(t->end - t->start >= 2);
		check_string(buf, t);
		break;
	case JSON_NUMBER:
		CHECK(t->next == i + 1);
		check_number(buf, t);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		CHECK(t->next == i + 1 && t->end - t->start == (t->type == JSON_FALSE ? 5u : 4u));
		break;
	default: CHECK(!"bad token type");
	}
	return t->next;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	size_t cap = JSON_MAX_TOKENS(size, DEPTH);
	struct json_tok *tok = malloc(cap * sizeof *tok);
	struct json_error err = {0};
	struct json_parser jp;
	int rc;

	memcpy(buf, data, size);
	rc = json_parse(buf, size, tok, cap, DEPTH, &err);
	CHECK(rc != ERR_FULL);
	CHECK((rc > 0) == ref_document(data, size));
	if (rc > 0) {
		CHECK(check_tree(buf, tok, (uint32_t)rc, 0, 0, (uint32_t)size) == (uint32_t)rc);
		CHECK(json_parse(buf, size, tok, (size_t)rc - 1, DEPTH, &err) == ERR_FULL);
	} else {
		CHECK(rc == ERR_INVALID && err.what && err.offset <= size);
	}

	/* The same bytes as a stream of values. */
	json_parser_init(&jp, buf, size, tok, cap, DEPTH);
	while (json_parse_value(&jp) >= 0)
		CHECK(jp.pos <= size && jp.n <= cap);

	free(tok);
	free(buf);
	return 0;
}
