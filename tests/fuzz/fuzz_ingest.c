/*
 * fuzz_ingest.c — libFuzzer target for server/ingest.c.
 *
 * The input is a request body.  Checks, for every body:
 *   - the result is 0 or ERR_INVALID; ERR_INVALID means no events and a
 *     json_error message;
 *   - n + rejected == total, the error list holds the first
 *     min(rejected, INGEST_MAX_ERRORS) indexes in increasing order, event
 *     indexes increase and stay below total;
 *   - every event keeps the limits of the event model: required strings
 *     non-empty, lengths within their maxima, strings valid UTF-8, props a
 *     valid JSON object, ts >= 0, recv the receive time, no stray flags;
 *   - every view is readable memory (each byte is read, so ASan reports a
 *     view into freed or foreign memory), and an unescaped value's view lies
 *     inside the body;
 *   - a body starting with '[' is accepted exactly when it is valid JSON;
 *   - parsing the same body again (after the parser's buffers have been used
 *     for it once) gives the same result.
 * The input is copied to an exact-size heap buffer so ASan sees overreads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ingest.h"
#include "json.h"

#define RECV INT64_C(1732197786000)

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct ingest_parser *parser;
static struct ingest_skew *skew; /* per-session clock offsets, as spoord keeps them */

/* 1 when s[0..n) is valid UTF-8 (checked by decoding each code point). */
static int utf8_valid(const uint8_t *s, size_t n)
{
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};

	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		int k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : c >= 0x80 ? -1 : 1;
		uint32_t cp;

		if (k < 0 || c >= 0xf8 || n - i < (size_t)k)
			return 0;
		cp = k == 1 ? c : c & (0x7fu >> k);
		for (int j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3fu);
		}
		if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += (size_t)k;
	}
	return 1;
}

/* Reads every byte of s (so ASan checks the view) and checks its length and
 * encoding. */
static volatile unsigned sink;
static void check_str(struct store_str s, size_t min, size_t max)
{
	unsigned sum = 0;

	CHECK(s.n >= min && s.n <= max);
	CHECK(s.n == 0 || s.p != NULL);
	for (uint32_t i = 0; i < s.n; i++)
		sum += (uint8_t)s.p[i];
	sink += sum;
	CHECK(utf8_valid((const uint8_t *)s.p, s.n));
}

static void check_props(struct store_str s)
{
	struct json_tok *tok;
	struct json_error err;
	int rc;

	check_str(s, 0, STORE_MAX_PROPS);
	if (s.n == 0)
		return;
	tok = malloc(JSON_MAX_TOKENS(s.n, 1000) * sizeof *tok);
	rc = json_parse(s.p, s.n, tok, JSON_MAX_TOKENS(s.n, 1000), 1000, &err);
	CHECK(rc > 0);
	CHECK(tok[0].type == JSON_OBJECT && tok[0].start == 0 && tok[0].end == s.n);
	free(tok);
}

static void check_batch(const char *body, size_t len, int rc, const struct ingest_batch *b)
{
	CHECK(rc == 0 || rc == ERR_INVALID);
	if (rc == ERR_INVALID) {
		CHECK(b->n == 0);
		CHECK(strncmp(b->json_error, "invalid ", 8) == 0);
		return;
	}
	CHECK(b->n + b->rejected == b->total);
	CHECK(b->nerrors == (b->rejected < INGEST_MAX_ERRORS ? b->rejected : INGEST_MAX_ERRORS));
	for (size_t i = 0; i < b->nerrors; i++) {
		CHECK(b->errors[i].index < b->total);
		CHECK(i == 0 || b->errors[i].index > b->errors[i - 1].index);
		CHECK(memchr(b->errors[i].msg, '\0', sizeof b->errors[i].msg) != NULL);
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct store_event *e = &b->ev[i];

		CHECK(b->index[i] < b->total);
		CHECK(i == 0 || b->index[i] > b->index[i - 1]);
		check_str(e->session, 1, STORE_MAX_SESSION);
		check_str(e->type, 1, STORE_MAX_TYPE);
		check_str(e->user, 0, STORE_MAX_USER);
		check_str(e->target, 0, STORE_MAX_TARGET);
		check_str(e->url, 0, STORE_MAX_URL);
		check_str(e->id, 0, STORE_MAX_ID);
		check_props(e->props);
		CHECK(e->ts >= 0 && e->recv == RECV);
		CHECK((e->flags & ~(STORE_HAS_X | STORE_HAS_Y)) == 0);
		CHECK((e->flags & STORE_HAS_X) || e->x == 0);
		CHECK((e->flags & STORE_HAS_Y) || e->y == 0);
		/* A view of a plain (unescaped, unfolded) value is inside the body:
		 * the session view is either inside the body or a decoded copy, and
		 * a copy only happens when the body has a backslash. */
		if (!memchr(body, '\\', len))
			CHECK(e->session.p >= body && e->session.p + e->session.n <= body + len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_batch b1, b2;
	char *body;
	size_t i = 0;
	int rc1, rc2;

	if (!parser) {
		if (ingest_parser_new(1 << 20, &parser) < 0 || ingest_skew_new(8, &skew) < 0)
			abort();
		ingest_parser_set_skew(parser, skew);
	}
	body = malloc(size ? size : 1);
	memcpy(body, data, size);

	rc1 = ingest_parse(parser, body, size, RECV, &b1);
	if (size > (1 << 20)) {
		CHECK(rc1 == ERR_TOOBIG);
		free(body);
		return 0;
	}
	check_batch(body, size, rc1, &b1);

	while (i < size &&
	       (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
		i++;
	if (i < size && body[i] == '[') {
		struct json_tok *tok = malloc(JSON_MAX_TOKENS(size, 64) * sizeof *tok);
		int jrc = json_parse(body, size, tok, JSON_MAX_TOKENS(size, 64), 64, NULL);
		CHECK((jrc > 0) == (rc1 == 0));
		free(tok);
	}

	/* Determinism with warm buffers; b1's views die here. */
	rc2 = ingest_parse(parser, body, size, RECV, &b2);
	CHECK(rc2 == rc1 && b2.n == b1.n && b2.total == b1.total && b2.rejected == b1.rejected);
	CHECK(strcmp(b2.json_error, b1.json_error) == 0);
	for (size_t k = 0; k < b2.nerrors; k++)
		CHECK(strcmp(b2.errors[k].msg, b1.errors[k].msg) == 0);
	check_batch(body, size, rc2, &b2);

	free(body);
	return 0;
}
