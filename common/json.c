/*
 * json.c — strict, zero-copy, allocation-free JSON tokenizer.
 *
 * Design notes
 *
 * 1. One pass, no recursion.  json_parse_value() alternates two steps:
 *      VALUE  a value must start here (after optional whitespace); an
 *             opening bracket pushes a container (and for an object reads
 *             its first "key" ws ':'), a scalar is scanned whole;
 *      AFTER  a value just ended: the closing bracket of the innermost open
 *             container pops it (and AFTER repeats), ',' leads to the next
 *             VALUE (after the next "key" ':' in an object), and at the top
 *             level the value is complete.
 *
 * 2. The stack of open containers lives in the tokens themselves: while a
 *    container is open its `next` field holds the index of its parent (or
 *    NO_PARENT); when it closes, `next` becomes the index one past its last
 *    descendant, which is what json_skip() returns.  No separate stack, so
 *    the depth limit is a parameter, not a buffer size.
 *
 * 3. Strings: printable ASCII is skipped eight bytes at a time (one 64-bit
 *    word tests for '"', '\', control bytes and bytes >= 0x80 at once), so a
 *    typical event's strings cost a few word tests each.  Anything else goes
 *    through a 256-entry class table on the slow path: escapes and
 *    multi-byte UTF-8 sequences are validated there.
 *
 * 4. Bounds: every read of buf[i] is preceded by a check of i < len (word
 *    loads by len - i >= 8); the input is never assumed to be NUL-terminated.
 *    Tests and fuzzers place inputs right before a PROT_NONE page or in
 *    exact-size heap blocks to hold this.
 */
#include "json.h"

#include <string.h>

#include "err.h"

#define NO_PARENT UINT32_MAX

/* Byte classes inside a string. */
enum {
	C_PLAIN = 0, /* printable ASCII other than '"' and '\' */
	C_QUOTE,     /* '"': end of string */
	C_BSLASH,    /* '\': an escape */
	C_CTRL,	     /* U+0000..U+001F: must be escaped */
	C_U2,	     /* C2..DF: lead of a 2-byte sequence */
	C_E0,	     /* E0: 3 bytes, second byte A0..BF (no overlong) */
	C_U3,	     /* E1..EC, EE..EF: 3 bytes */
	C_ED,	     /* ED: 3 bytes, second byte 80..9F (no surrogates) */
	C_F0,	     /* F0: 4 bytes, second byte 90..BF (no overlong) */
	C_U4,	     /* F1..F3: 4 bytes */
	C_F4,	     /* F4: 4 bytes, second byte 80..8F (<= U+10FFFF) */
	C_BAD,	     /* 80..C1, F5..FF: never a valid lead byte */
};

static const uint8_t str_class[256] = {
    [0x00 ... 0x1f] = C_CTRL, ['"'] = C_QUOTE, ['\\'] = C_BSLASH,      [0x80 ... 0xc1] = C_BAD,
    [0xc2 ... 0xdf] = C_U2,   [0xe0] = C_E0,   [0xe1 ... 0xec] = C_U3, [0xed] = C_ED,
    [0xee ... 0xef] = C_U3,   [0xf0] = C_F0,   [0xf1 ... 0xf3] = C_U4, [0xf4] = C_F4,
    [0xf5 ... 0xff] = C_BAD,
};

/* Hex digit values plus one; 0 for a byte that is not a hex digit. */
static const uint8_t hex_val[256] = {
    ['0'] = 1,	['1'] = 2,  ['2'] = 3,	['3'] = 4,  ['4'] = 5,	['5'] = 6,  ['6'] = 7,	['7'] = 8,
    ['8'] = 9,	['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Records an error at offset `at` and returns `code`. */
static int fail(struct json_parser *jp, size_t at, const char *what, int code)
{
	jp->err.offset = at;
	jp->err.what = what;
	return code;
}

static inline int is_ws(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Returns the offset of the first non-whitespace byte at or after i (len if
 * none). */
static size_t skip_ws_slow(const uint8_t *s, size_t i, size_t len)
{
	while (i < len && is_ws(s[i]))
		i++;
	return i;
}

static inline size_t skip_ws(const uint8_t *s, size_t i, size_t len)
{
	/* Most JSON on the wire has no whitespace: one test rejects it. */
	if (__builtin_expect(i < len && s[i] > ' ', 1))
		return i;
	return skip_ws_slow(s, i, len);
}

/* Value of the 4 hex digits at s[i..i+4), or -1 when they are not all hex or
 * the input ends first. */
static int hex4(const uint8_t *s, size_t i, size_t len)
{
	if (len - i < 4)
		return -1;
	uint32_t v = 0;
	for (int k = 0; k < 4; k++) {
		uint8_t h = hex_val[s[i + k]];
		if (h == 0)
			return -1;
		v = v << 4 | (uint32_t)(h - 1);
	}
	return (int)v;
}

/* Validates the escape whose '\' is at s[i].  Returns the offset just past
 * it, or 0 with jp->err set. */
static size_t scan_escape(struct json_parser *jp, const uint8_t *s, size_t i, size_t len)
{
	if (i + 1 >= len)
		return fail(jp, len, "expected '\"' to end the string", 0);
	switch (s[i + 1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't': return i + 2;
	case 'u': break;
	default: return fail(jp, i, "expected a valid escape", 0);
	}
	int cp = hex4(s, i + 2, len);
	if (cp < 0)
		return fail(jp, i, "expected 4 hex digits after \\u", 0);
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(jp, i, "unpaired low surrogate escape", 0);
	if (cp < 0xd800 || cp > 0xdbff)
		return i + 6;
	/* A high surrogate: the low half must follow as \uDC00..\uDFFF. */
	if (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u')
		return fail(jp, i, "expected a low surrogate escape after a high one", 0);
	int lo = hex4(s, i + 8, len);
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(jp, i, "expected a low surrogate escape after a high one", 0);
	return i + 12;
}

/* Validates the multi-byte UTF-8 sequence whose lead byte (of class cls) is
 * at s[i].  Returns the offset just past it, or 0 with jp->err set. */
static size_t scan_utf8(struct json_parser *jp, const uint8_t *s, size_t i, size_t len,
			unsigned cls)
{
	size_t need;
	uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */

	switch (cls) {
	case C_U2: need = 2; break;
	case C_E0:
		need = 3;
		lo = 0xa0;
		break;
	case C_U3: need = 3; break;
	case C_ED:
		need = 3;
		hi = 0x9f;
		break;
	case C_F0:
		need = 4;
		lo = 0x90;
		break;
	case C_U4: need = 4; break;
	case C_F4:
		need = 4;
		hi = 0x8f;
		break;
	default: return fail(jp, i, "invalid UTF-8", 0);
	}
	if (len - i < need || s[i + 1] < lo || s[i + 1] > hi)
		return fail(jp, i, "invalid UTF-8", 0);
	for (size_t k = 2; k < need; k++)
		if ((s[i + k] & 0xc0) != 0x80)
			return fail(jp, i, "invalid UTF-8", 0);
	return i + need;
}

/* Returns the offset of the first byte at or after i that is not C_PLAIN
 * (len if none).  Eight bytes at a time while they last: a word has no
 * special byte unless one of its bytes is < 0x20, '"', '\\' or >= 0x80. */
static inline size_t skip_plain(const uint8_t *s, size_t i, size_t len)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

	while (len - i >= 8) {
		uint64_t x, q, b, m;
		memcpy(&x, s + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		/* (v - ones) & ~v has the high bit set in the lowest zero byte of
		 * v (and maybe spuriously above it, never below). */
		m = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
		m &= highs;
		if (m)
			return i + (size_t)(__builtin_ctzll(m) >> 3);
		i += 8;
	}
	while (i < len && str_class[s[i]] == C_PLAIN)
		i++;
	return i;
}

/* The slow part of scan_string(): s[i] is a byte of the string that is not
 * C_PLAIN.  Returns the offset just past the closing quote, or 0 with
 * jp->err set. */
static __attribute__((noinline)) size_t scan_string_slow(struct json_parser *jp, const uint8_t *s,
							 size_t i, size_t len, uint8_t *flags)
{
	uint8_t f = 0;

	for (;;) {
		if (i >= len)
			return fail(jp, len, "expected '\"' to end the string", 0);
		unsigned cls = str_class[s[i]];
		if (cls == C_QUOTE)
			break;
		if (cls == C_BSLASH) {
			f = JSON_TOK_ESCAPED;
			i = scan_escape(jp, s, i, len);
		} else if (cls == C_CTRL) {
			return fail(jp, i, "control character in string", 0);
		} else {
			i = scan_utf8(jp, s, i, len, cls);
		}
		if (i == 0)
			return 0;
		i = skip_plain(s, i, len);
	}
	*flags = f;
	return i + 1;
}

/* Scans the string whose opening quote is at s[i].  Returns the offset just
 * past the closing quote, or 0 with jp->err set; *flags gets
 * JSON_TOK_ESCAPED when an escape was seen.  Inline for the common case of
 * printable ASCII only. */
static inline size_t scan_string(struct json_parser *jp, const uint8_t *s, size_t i, size_t len,
				 uint8_t *flags)
{
	i = skip_plain(s, i + 1, len);
	if (i < len && s[i] == '"') {
		*flags = 0;
		return i + 1;
	}
	return scan_string_slow(jp, s, i, len, flags);
}

/* Scans the number starting at s[i] ('-' or a digit).  Returns the offset
 * just past it, or 0 with jp->err set; *flags gets JSON_TOK_INTEGER when it
 * has neither fraction nor exponent. */
static size_t scan_number(struct json_parser *jp, const uint8_t *s, size_t i, size_t len,
			  uint8_t *flags)
{
	uint8_t f = JSON_TOK_INTEGER;

	if (s[i] == '-')
		i++;
	if (i >= len || !is_digit(s[i]))
		return fail(jp, i, "expected a digit", 0);
	if (s[i] == '0') {
		i++;
		if (i < len && is_digit(s[i]))
			return fail(jp, i, "leading zeros are not allowed", 0);
	} else {
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return fail(jp, i, "expected a digit", 0);
		while (i < len && is_digit(s[i]))
			i++;
		f = 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return fail(jp, i, "expected a digit", 0);
		while (i < len && is_digit(s[i]))
			i++;
		f = 0;
	}
	*flags = f;
	return i;
}

/* Checks that the literal `word` (true, false, null) is at s[i].  Returns
 * the offset just past it, or 0 with jp->err set. */
static size_t scan_literal(struct json_parser *jp, const uint8_t *s, size_t i, size_t len,
			   const char *word, size_t wlen, const char *what)
{
	if (len - i < wlen || memcmp(s + i, word, wlen) != 0)
		return fail(jp, i, what, 0);
	return i + wlen;
}

/*
 * Parses one scalar (string, number, literal) at s[i] into *t.  Returns the
 * offset just past it, or 0 with jp->err set.
 */
static size_t scan_scalar(struct json_parser *jp, const uint8_t *s, size_t i, size_t len,
			  struct json_tok *t)
{
	size_t e;

	t->flags = 0;
	switch (s[i]) {
	case '"':
		t->type = JSON_STRING;
		e = scan_string(jp, s, i, len, &t->flags);
		break;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		t->type = JSON_NUMBER;
		e = scan_number(jp, s, i, len, &t->flags);
		break;
	case 't':
		t->type = JSON_TRUE;
		e = scan_literal(jp, s, i, len, "true", 4, "expected 'true'");
		break;
	case 'f':
		t->type = JSON_FALSE;
		e = scan_literal(jp, s, i, len, "false", 5, "expected 'false'");
		break;
	case 'n':
		t->type = JSON_NULL;
		e = scan_literal(jp, s, i, len, "null", 4, "expected 'null'");
		break;
	default: return fail(jp, i, "expected a value", 0);
	}
	return e;
}

void json_parser_init(struct json_parser *jp, const char *buf, size_t len, struct json_tok *tok,
		      size_t cap, unsigned max_depth)
{
	jp->buf = buf;
	jp->len = len;
	jp->pos = 0;
	jp->tok = tok;
	jp->cap = cap < NO_PARENT ? cap : NO_PARENT - 1;
	jp->n = 0;
	jp->max_depth = max_depth;
	jp->err.offset = 0;
	jp->err.what = NULL;
}

/*
 * Parses the member key at s[i] (after optional whitespace) into *t, then
 * the ':' after it.  Returns the offset just past the ':', or 0 with
 * jp->err set (`what` when no key starts at i).
 */
static inline __attribute__((always_inline)) size_t scan_key(struct json_parser *jp,
							     const uint8_t *s, size_t i, size_t len,
							     struct json_tok *t, const char *what)
{
	size_t e;

	i = skip_ws(s, i, len);
	if (i >= len || s[i] != '"')
		return fail(jp, i, what, 0);
	t->start = (uint32_t)i;
	t->type = JSON_STRING;
	e = scan_string(jp, s, i, len, &t->flags);
	if (e == 0)
		return 0;
	t->end = (uint32_t)e;
	e = skip_ws(s, e, len);
	if (e >= len || s[e] != ':')
		return fail(jp, e, "expected ':'", 0);
	return e + 1;
}

int json_parse_value(struct json_parser *jp)
{
	const uint8_t *s = (const uint8_t *)jp->buf;
	const size_t len = jp->len, cap = jp->cap;
	struct json_tok *tok = jp->tok;
	size_t i = jp->pos, n = jp->n, e;
	uint32_t parent = NO_PARENT; /* innermost open container */
	unsigned depth = 0;	     /* open containers */
	int in_obj = 0;		     /* parent is an object */
	int rc;

	if (len > JSON_MAX_LEN)
		return fail(jp, JSON_MAX_LEN, "input too long", ERR_TOOBIG);
	for (;;) {
		/* VALUE: a value starts at i, after optional whitespace. */
		i = skip_ws(s, i, len);
		if (i >= len) {
			rc = fail(jp, len, "expected a value", ERR_INVALID);
			goto out;
		}
		if (n >= cap)
			goto full;
		tok[n].start = (uint32_t)i;
		if (s[i] == '{' || s[i] == '[') {
			if (depth >= jp->max_depth) {
				rc = fail(jp, i, "nesting too deep", ERR_INVALID);
				goto out;
			}
			depth++;
			in_obj = s[i] == '{';
			tok[n].type = in_obj ? JSON_OBJECT : JSON_ARRAY;
			tok[n].flags = 0;
			tok[n].next = parent; /* the stack link, until it closes */
			parent = (uint32_t)n++;
			i = skip_ws(s, i + 1, len);
			if (i >= len || s[i] != (in_obj ? '}' : ']')) {
				if (!in_obj)
					continue;
				if (n >= cap)
					goto full;
				i = scan_key(jp, s, i, len, &tok[n],
					     "expected a string key or '}'");
				if (i == 0) {
					rc = ERR_INVALID;
					goto out;
				}
				n++;
				tok[n - 1].next = (uint32_t)n;
				continue;
			}
			/* Empty: AFTER below finds the closing bracket at i. */
		} else {
			e = scan_scalar(jp, s, i, len, &tok[n]);
			if (e == 0) {
				rc = ERR_INVALID;
				goto out;
			}
			tok[n].end = (uint32_t)e;
			n++;
			tok[n - 1].next = (uint32_t)n;
			i = e;
		}

		/* AFTER: a value ended at i; close containers until a ',' leads
		 * to the next value. */
		for (;;) {
			if (parent == NO_PARENT) {
				jp->pos = i;
				rc = (int)jp->n;
				jp->n = n;
				return rc;
			}
			i = skip_ws(s, i, len);
			if (i < len && s[i] == ',') {
				i++;
				if (in_obj) {
					if (n >= cap)
						goto full;
					i = scan_key(jp, s, i, len, &tok[n],
						     "expected a string key");
					if (i == 0) {
						rc = ERR_INVALID;
						goto out;
					}
					n++;
					tok[n - 1].next = (uint32_t)n;
				}
				break;
			}
			if (i >= len || s[i] != (in_obj ? '}' : ']')) {
				rc = fail(jp, i,
					  in_obj ? "expected ',' or '}'" : "expected ',' or ']'",
					  ERR_INVALID);
				goto out;
			}
			/* s[i] closes `parent`: pop it. */
			uint32_t up = tok[parent].next;
			tok[parent].end = (uint32_t)(i + 1);
			tok[parent].next = (uint32_t)n;
			parent = up;
			in_obj = parent != NO_PARENT && tok[parent].type == JSON_OBJECT;
			depth--;
			i++;
		}
	}
full:
	rc = fail(jp, i, "too many tokens", ERR_FULL);
out:
	jp->pos = jp->err.offset;
	return rc;
}

int json_parse(const char *buf, size_t len, struct json_tok *tok, size_t cap, unsigned max_depth,
	       struct json_error *err)
{
	struct json_parser jp;
	int rc;

	json_parser_init(&jp, buf, len, tok, cap, max_depth);
	rc = json_parse_value(&jp);
	if (rc >= 0) {
		size_t i = skip_ws((const uint8_t *)buf, jp.pos, len);
		if (i == len)
			return (int)jp.n;
		rc = fail(&jp, i, "expected end of input", ERR_INVALID);
	}
	if (err)
		*err = jp.err;
	return rc;
}

/* Decodes the escape whose '\' is at s[0] (validated by the parser) into
 * out[0..4).  Returns the number of bytes written; *adv gets the escape's
 * length in the input. */
static size_t decode_escape(const uint8_t *s, uint8_t out[4], size_t *adv)
{
	uint32_t cp;

	*adv = 2;
	switch (s[1]) {
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u': break;
	default: out[0] = s[1]; return 1; /* " \ / */
	}
	cp = (uint32_t)hex4(s, 2, 6);
	*adv = 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)hex4(s, 8, 12) - 0xdc00);
		*adv = 12;
	}
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

int json_str_decode(const char *buf, const struct json_tok *t, char *dst, size_t cap)
{
	const uint8_t *s, *end;
	size_t o = 0;

	if (t->type != JSON_STRING)
		return ERR_INVALID;
	s = (const uint8_t *)buf + t->start + 1;
	end = (const uint8_t *)buf + t->end - 1;
	while (s < end) {
		const uint8_t *bs = memchr(s, '\\', (size_t)(end - s));
		size_t run = (size_t)((bs ? bs : end) - s), adv, k;
		uint8_t u[4];

		if (run > cap - o) {
			memcpy(dst + o, s, cap - o);
			return ERR_FULL;
		}
		memcpy(dst + o, s, run);
		o += run;
		if (!bs)
			break;
		k = decode_escape(bs, u, &adv);
		if (k > cap - o) {
			memcpy(dst + o, u, cap - o);
			return ERR_FULL;
		}
		memcpy(dst + o, u, k);
		o += k;
		s = bs + adv;
	}
	return (int)o;
}

int json_str_eq(const char *buf, const struct json_tok *t, const char *str, size_t n)
{
	const uint8_t *s, *end, *want = (const uint8_t *)str;

	if (t->type != JSON_STRING)
		return 0;
	s = (const uint8_t *)buf + t->start + 1;
	end = (const uint8_t *)buf + t->end - 1;
	if (!(t->flags & JSON_TOK_ESCAPED))
		return (size_t)(end - s) == n && memcmp(s, want, n) == 0;
	while (s < end) {
		uint8_t u[4];
		size_t adv, k;

		if (*s != '\\') {
			if (n == 0 || *s != *want)
				return 0;
			s++, want++, n--;
			continue;
		}
		k = decode_escape(s, u, &adv);
		if (k > n || memcmp(u, want, k) != 0)
			return 0;
		s += adv, want += k, n -= k;
	}
	return n == 0;
}

int json_get_int64(const char *buf, const struct json_tok *t, int64_t *out)
{
	const char *s = buf + t->start, *end = buf + t->end;
	uint64_t v = 0, limit = (uint64_t)INT64_MAX;
	int neg = 0;

	if (t->type != JSON_NUMBER || !(t->flags & JSON_TOK_INTEGER))
		return ERR_INVALID;
	if (*s == '-') {
		neg = 1;
		limit++; /* |INT64_MIN| */
		s++;
	}
	/* 18 digits cannot overflow; check only past them. */
	for (int k = 0; s < end && k < 18; s++, k++)
		v = v * 10 + (unsigned)(*s - '0');
	for (; s < end; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (limit - d) / 10)
			return ERR_TOOBIG;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == limit ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}
