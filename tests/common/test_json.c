/*
 * test_json.c — tests of server/json.c: what strict RFC 8259 accepts and
 * rejects (with the offset and reason a client sees), token layout and O(1)
 * skipping, string decoding, integer reading.
 *
 * Every input is parsed from the end of a page followed by a PROT_NONE page,
 * so a read one byte past the input crashes the test.
 */
#include "json.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"

#define GUARD_DATA (256 * 1024) /* room for the largest test input */
#define NTOK	   4096

static char *guard_map; /* GUARD_DATA readable bytes, then one PROT_NONE page */
static struct json_tok tok[NTOK];

/* Copies s[0..n) so that it ends right before the guard page; returns it. */
static char *guarded(const void *s, size_t n)
{
	if (!guard_map) {
		long pg = sysconf(_SC_PAGESIZE);
		guard_map = mmap(NULL, GUARD_DATA + (size_t)pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(guard_map, MAP_FAILED);
		cr_assert_eq(mprotect(guard_map + GUARD_DATA, (size_t)pg, PROT_NONE), 0);
	}
	cr_assert_leq(n, GUARD_DATA);
	memcpy(guard_map + GUARD_DATA - n, s, n);
	return guard_map + GUARD_DATA - n;
}

static const char *last_buf; /* the guarded copy of the last input */

/* Parses s[0..n) (guarded), depth limit 64. */
static int parse_n(const char *s, size_t n, struct json_error *err)
{
	last_buf = guarded(s, n);
	return json_parse(last_buf, n, tok, NTOK, 64, err);
}

static int parse(const char *s, struct json_error *err)
{
	return parse_n(s, strlen(s), err);
}

/* Asserts that s is rejected at byte `off` with reason `what`. */
static void rejects_n(const char *s, size_t n, size_t off, const char *what)
{
	struct json_error err = {0};
	int rc = parse_n(s, n, &err);

	cr_assert_eq(rc, ERR_INVALID, "accepted: %.*s", (int)n, s);
	cr_assert_eq(err.offset, off, "%.*s: offset %zu, want %zu (%s)", (int)n, s, err.offset, off,
		     err.what);
	cr_assert_str_eq(err.what, what, "%.*s", (int)n, s);
}

static void rejects(const char *s, size_t off, const char *what)
{
	rejects_n(s, strlen(s), off, what);
}

static void accepts(const char *s)
{
	struct json_error err = {0};
	int rc = parse(s, &err);

	cr_assert_gt(rc, 0, "rejected: %s (at %zu: %s)", s, err.offset, err.what);
}

/* Decodes string token t of the last input into a NUL-terminated buffer. */
static const char *decoded(const struct json_tok *t, size_t *n)
{
	static char out[1024];
	int r = json_str_decode(last_buf, t, out, sizeof out - 1);

	cr_assert_geq(r, 0);
	out[r] = '\0';
	if (n)
		*n = (size_t)r;
	return out;
}

Test(json, accepts_every_value_kind_and_rfc_whitespace)
{
	accepts("{}");
	accepts("[]");
	accepts("0");
	accepts("-0");
	accepts("-0.0e-0");
	accepts("123456789012345678901234567890");
	accepts("1.5E+10");
	accepts("\"\"");
	accepts("true");
	accepts("false");
	accepts("null");
	accepts(" \t\r\n[ 1 , \"a\" , { \"k\" : null } , [ ] ] \t\r\n");
	accepts("{\"a\":{\"b\":{\"c\":[true,false,null,-1.25e3]}}}");
	accepts("{\"\":0,\"\":1}"); /* duplicate keys are valid JSON */
}

Test(json, tokens_are_byte_ranges_in_document_order)
{
	const char *s = "{\"a\": [1, 2.5], \"b\\n\": {}}";
	int n = parse(s, NULL);

	cr_assert_eq(n, 7);
	cr_assert_eq(tok[0].type, JSON_OBJECT);
	cr_assert_eq(tok[0].start, 0);
	cr_assert_eq(tok[0].end, strlen(s));
	cr_assert_eq(tok[0].next, 7);
	cr_assert_eq(tok[1].type, JSON_STRING);
	cr_assert_eq(tok[1].start, 1); /* the opening quote */
	cr_assert_eq(tok[1].end, 4);
	cr_assert_eq(tok[2].type, JSON_ARRAY);
	cr_assert_eq(memcmp(last_buf + tok[2].start, "[1, 2.5]", tok[2].end - tok[2].start), 0);
	cr_assert_eq(tok[2].next, 5);
	cr_assert_eq(tok[3].flags, JSON_TOK_INTEGER);
	cr_assert_eq(tok[4].type, JSON_NUMBER);
	cr_assert_eq(tok[4].flags, 0);
	cr_assert_eq(tok[5].flags, JSON_TOK_ESCAPED);
	cr_assert_eq(tok[6].type, JSON_OBJECT);
	cr_assert_eq(tok[6].next, 7);
}

Test(json, skip_jumps_over_a_whole_subtree)
{
	const char *s = "[[1,[2,[3]]],{\"k\":{\"l\":[4]}},5]";
	int n = parse(s, NULL);
	uint32_t i, count = 0;

	cr_assert_eq(n, 14);
	for (i = 1; i < json_skip(tok, 0); i = json_skip(tok, i))
		count++;
	cr_assert_eq(count, 3);
	cr_assert_eq(tok[json_skip(tok, 1)].type, JSON_OBJECT);
	cr_assert_eq(tok[json_skip(tok, json_skip(tok, 1))].type, JSON_NUMBER);
}

Test(json, rejects_structural_errors_with_offset_and_expectation)
{
	rejects("", 0, "expected a value");
	rejects("   ", 3, "expected a value");
	rejects("{\"a\" 1}", 5, "expected ':'");
	rejects("{\"a\":}", 5, "expected a value");
	rejects("[1,]", 3, "expected a value");
	rejects("{\"a\":1,}", 7, "expected a string key");
	rejects("{,}", 1, "expected a string key or '}'");
	rejects("{a:1}", 1, "expected a string key or '}'");
	rejects("{1:1}", 1, "expected a string key or '}'");
	rejects("[1 2]", 3, "expected ',' or ']'");
	rejects("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
	rejects("[1", 2, "expected ',' or ']'");
	rejects("{\"a\":1", 6, "expected ',' or '}'");
	rejects("[1]]", 3, "expected end of input");
	rejects("[1] x", 4, "expected end of input");
	rejects("{} {}", 3, "expected end of input");
	rejects("[}", 1, "expected a value");
	rejects("{]", 1, "expected a string key or '}'");
	rejects("[1,,2]", 3, "expected a value");
	rejects("['a']", 1, "expected a value");
	rejects_n("[1]\0", 4, 3, "expected end of input");
}

Test(json, rejects_whitespace_outside_rfc_8259)
{
	rejects("[\f1]", 1, "expected a value");
	rejects("[\v1]", 1, "expected a value");
	rejects("\xc2\xa0[]", 0, "expected a value");	  /* no-break space */
	rejects("\xef\xbb\xbf[]", 0, "expected a value"); /* BOM */
	rejects("[1]/*c*/", 3, "expected end of input");
}

Test(json, rejects_malformed_numbers)
{
	rejects("01", 1, "leading zeros are not allowed");
	rejects("-01", 2, "leading zeros are not allowed");
	rejects("[00]", 2, "leading zeros are not allowed");
	rejects("-", 1, "expected a digit");
	rejects("-a", 1, "expected a digit");
	rejects("1.", 2, "expected a digit");
	rejects("1.e5", 2, "expected a digit");
	rejects("1e", 2, "expected a digit");
	rejects("1e+", 3, "expected a digit");
	rejects("1E-x", 3, "expected a digit");
	rejects(".5", 0, "expected a value");
	rejects("+1", 0, "expected a value");
	rejects("NaN", 0, "expected a value");
	rejects("Infinity", 0, "expected a value");
	rejects("-Infinity", 1, "expected a digit");
	rejects("0x10", 1, "expected end of input");
	rejects("[1.5.5]", 4, "expected ',' or ']'");
}

Test(json, rejects_misspelled_literals)
{
	rejects("tru", 0, "expected 'true'");
	rejects("True", 0, "expected a value");
	rejects("[nul]", 1, "expected 'null'");
	rejects("falsy", 0, "expected 'false'");
	rejects("truex", 4, "expected end of input");
}

Test(json, rejects_bad_strings_and_escapes)
{
	rejects("\"abc", 4, "expected '\"' to end the string");
	rejects("\"abc\\", 5, "expected '\"' to end the string");
	rejects("\"a\x01\"", 2, "control character in string");
	rejects("\"a\nb\"", 2, "control character in string");
	rejects("\"tab\there\"", 4, "control character in string");
	rejects_n("\"\0\"", 3, 1, "control character in string");
	rejects("\"\\x\"", 1, "expected a valid escape");
	rejects("\"\\'\"", 1, "expected a valid escape");
	rejects("\"\\U0041\"", 1, "expected a valid escape");
	rejects("\"\\u12\"", 1, "expected 4 hex digits after \\u");
	rejects("\"\\u12g4\"", 1, "expected 4 hex digits after \\u");
	rejects("\"\\u", 1, "expected 4 hex digits after \\u");
}

Test(json, rejects_lone_surrogate_escapes)
{
	rejects("\"\\ud800\"", 1, "expected a low surrogate escape after a high one");
	rejects("\"\\ud800x\"", 1, "expected a low surrogate escape after a high one");
	rejects("\"\\ud800\\u0041\"", 1, "expected a low surrogate escape after a high one");
	rejects("\"\\ud800\\ud800\"", 1, "expected a low surrogate escape after a high one");
	rejects("\"\\ud800\\n\"", 1, "expected a low surrogate escape after a high one");
	rejects("\"\\udbff", 1, "expected a low surrogate escape after a high one");
	rejects("\"\\udc00\"", 1, "unpaired low surrogate escape");
	rejects("\"ab\\uDFFF\"", 3, "unpaired low surrogate escape");
	accepts("\"\\ud800\\udc00\"");
	accepts("\"\\uDBFF\\uDFFF\"");
}

Test(json, rejects_invalid_utf8)
{
	static const char *const bad[] = {
	    "\"\x80\"",		    /* lone continuation byte */
	    "\"\xbf\"",		    /* lone continuation byte */
	    "\"\xc0\x80\"",	    /* overlong NUL */
	    "\"\xc1\xbf\"",	    /* overlong 0x7f */
	    "\"\xe0\x80\x80\"",	    /* overlong 3-byte */
	    "\"\xe0\x9f\xbf\"",	    /* overlong U+07FF */
	    "\"\xf0\x80\x80\x80\"", /* overlong 4-byte */
	    "\"\xf0\x8f\xbf\xbf\"", /* overlong U+FFFF */
	    "\"\xed\xa0\x80\"",	    /* U+D800 encoded */
	    "\"\xed\xbf\xbf\"",	    /* U+DFFF encoded */
	    "\"\xf4\x90\x80\x80\"", /* U+110000 */
	    "\"\xf5\x80\x80\x80\"", /* lead above F4 */
	    "\"\xff\"",		    /* never valid */
	    "\"\xe2\x82\"",	    /* truncated before the quote */
	    "\"\xc3(\"",	    /* bad continuation */
	    "\"\xe2\x28\xa1\"",	    /* bad second byte */
	    "\"\xf0\x9f\x98\"",	    /* truncated 4-byte */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects(bad[i], 1, "invalid UTF-8");
	rejects("\"ok\xe2\x82", 3, "invalid UTF-8"); /* truncated by the end of input */
	rejects("\"ok\xc3", 3, "invalid UTF-8");
}

Test(json, accepts_utf8_boundaries)
{
	accepts("\"\xc2\x80\"");	 /* U+0080 */
	accepts("\"\xdf\xbf\"");	 /* U+07FF */
	accepts("\"\xe0\xa0\x80\"");	 /* U+0800 */
	accepts("\"\xed\x9f\xbf\"");	 /* U+D7FF */
	accepts("\"\xee\x80\x80\"");	 /* U+E000 */
	accepts("\"\xef\xbf\xbf\"");	 /* U+FFFF */
	accepts("\"\xf0\x90\x80\x80\""); /* U+10000 */
	accepts("\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
	accepts(
	    "\"h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80 long enough for words\"");
}

Test(json, nesting_deeper_than_the_limit_is_rejected)
{
	struct json_error err;

	cr_assert_eq(json_parse(guarded("[[[]]]", 6), 6, tok, NTOK, 3, &err), 3);
	cr_assert_eq(json_parse(guarded("[[[[]]]]", 8), 8, tok, NTOK, 3, &err), ERR_INVALID);
	cr_assert_eq(err.offset, 3);
	cr_assert_str_eq(err.what, "nesting too deep");
	cr_assert_eq(json_parse(guarded("{\"a\":{\"b\":{}}}", 14), 14, tok, NTOK, 2, &err),
		     ERR_INVALID);
	cr_assert_eq(err.offset, 10);
	/* Depth is about open containers, not their number. */
	cr_assert_gt(json_parse(guarded("[[],[],[[]],[]]", 15), 15, tok, NTOK, 3, &err), 0);
}

Test(json, deep_nesting_within_the_limit_closes_every_container)
{
	static char s[2 * 1000];
	struct json_error err;

	memset(s, '[', 1000);
	memset(s + 1000, ']', 1000);
	cr_assert_eq(json_parse(guarded(s, sizeof s), sizeof s, tok, NTOK, 1000, &err), 1000);
	for (uint32_t i = 0; i < 1000; i++) {
		cr_assert_eq(tok[i].next, 1000);
		cr_assert_eq(tok[i].end, 2000 - i);
	}
	cr_assert_eq(json_parse(guarded(s, sizeof s), sizeof s, tok, NTOK, 999, &err), ERR_INVALID);
}

Test(json, too_small_a_token_array_is_full_not_invalid)
{
	struct json_error err;
	const char *s = guarded("[1,2,3]", 7);

	cr_assert_eq(json_parse(s, 7, tok, 3, 64, &err), ERR_FULL);
	cr_assert_eq(err.offset, 5);
	cr_assert_eq(json_parse(s, 7, tok, 4, 64, &err), 4);
	cr_assert_eq(json_parse(s, 7, tok, 0, 64, &err), ERR_FULL);
}

Test(json, max_tokens_bound_holds_for_dense_documents)
{
	static const char *const dense[] = {"[1,1,1,1,1,1,1,1,1,1,1,1,1]",   "[[],[],[],[],[]]",
					    "{\"\":1,\"\":1,\"\":1,\"\":1}", "[[[[[[[0]]]]]]]",
					    "[\"\",\"\",\"\",0,0,{}]",	     "1"};
	struct json_error err;

	for (size_t i = 0; i < sizeof dense / sizeof dense[0]; i++) {
		size_t n = strlen(dense[i]);
		int rc = json_parse(guarded(dense[i], n), n, tok, JSON_MAX_TOKENS(n, 0), 64, &err);
		cr_assert_gt(rc, 0, "%s", dense[i]);
	}
}

Test(json, max_tokens_bound_holds_for_unterminated_input)
{
	/* Open containers without their closing brackets, then an error: the
	 * error is reported, never ERR_FULL. */
	static const char *const cut[] = {"[[[[[[[[[[{\"a\":[[[[{]]", "[[[[[[[[",
					  "{\"\":[{\"\":[1,x", "[1,[1,[1,[1,[1,[1,"};
	struct json_error err;

	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		size_t n = strlen(cut[i]);
		int rc = json_parse(guarded(cut[i], n), n, tok, JSON_MAX_TOKENS(n, 16), 16, &err);
		cr_assert_eq(rc, ERR_INVALID, "%s", cut[i]);
	}
}

Test(json, parse_value_reads_one_value_of_a_stream_at_a_time)
{
	const char *s = guarded("{\"a\":1}\n[2, 3]\n\"x\"  ", 20);
	struct json_parser jp;

	json_parser_init(&jp, s, 20, tok, NTOK, 64);
	cr_assert_eq(json_parse_value(&jp), 0);
	cr_assert_eq(jp.pos, 7);
	cr_assert_eq(json_parse_value(&jp), 3);
	cr_assert_eq(jp.pos, 14);
	cr_assert_eq(json_parse_value(&jp), 6);
	cr_assert_eq(tok[6].type, JSON_STRING);
	cr_assert_eq(jp.n, 7);
	cr_assert_eq(json_parse_value(&jp), ERR_INVALID);
	cr_assert_eq(jp.err.offset, 20);
	cr_assert_eq(jp.n, 7, "a failed value leaves the tokens before it");
}

Test(json, decode_resolves_every_escape)
{
	size_t n;

	cr_assert_eq(parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", NULL), 1);
	cr_assert_str_eq(decoded(&tok[0], NULL), "a\"b\\c/d\b\f\n\r\t");
	cr_assert_eq(parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\uDBFF\\uDFFF\"", NULL), 1);
	cr_assert_str_eq(decoded(&tok[0], NULL),
			 "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	cr_assert_eq(parse("\"x\\u0000y\"", NULL), 1);
	decoded(&tok[0], &n);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(decoded(&tok[0], NULL), "x\0y", 3), 0);
}

Test(json, decode_of_unescaped_text_is_the_raw_content)
{
	cr_assert_eq(parse("\"plain \xc3\xa9\"", NULL), 1);
	cr_assert_eq(tok[0].flags & JSON_TOK_ESCAPED, 0);
	cr_assert_eq(json_str_raw_len(&tok[0]), 8);
	cr_assert_eq(memcmp(json_str_raw(last_buf, &tok[0]), "plain \xc3\xa9", 8), 0);
	cr_assert_str_eq(decoded(&tok[0], NULL), "plain \xc3\xa9");
}

Test(json, decode_into_a_short_buffer_is_full)
{
	char out[8];

	cr_assert_eq(parse("\"abcdef\"", NULL), 1);
	cr_assert_eq(json_str_decode(last_buf, &tok[0], out, 4), ERR_FULL);
	cr_assert_eq(json_str_decode(last_buf, &tok[0], out, 5), ERR_FULL);
	cr_assert_eq(parse("\"ab\\u20ac\"", NULL), 1);
	cr_assert_eq(json_str_decode(last_buf, &tok[0], out, 4), ERR_FULL);
	cr_assert_eq(parse("[1]", NULL), 2);
	cr_assert_eq(json_str_decode(last_buf, &tok[0], out, 4), ERR_INVALID);
}

Test(json, str_eq_compares_decoded_text)
{
	cr_assert_eq(parse("[\"events\",\"\\u0065vents\",\"event\",\"events2\",\"\\n\"]", NULL), 6);
	cr_assert(json_str_eq(last_buf, &tok[1], "events", 6));
	cr_assert(json_str_eq(last_buf, &tok[2], "events", 6));
	cr_assert_not(json_str_eq(last_buf, &tok[3], "events", 6));
	cr_assert_not(json_str_eq(last_buf, &tok[4], "events", 6));
	cr_assert(json_str_eq(last_buf, &tok[5], "\n", 1));
	cr_assert_not(json_str_eq(last_buf, &tok[0], "events", 6));
}

Test(json, int64_reads_integers_in_range_only)
{
	int64_t v;

	cr_assert_eq(parse("[0,-0,9223372036854775807,-9223372036854775808,1732197785000]", NULL),
		     6);
	cr_assert_eq(json_get_int64(last_buf, &tok[1], &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(json_get_int64(last_buf, &tok[2], &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(json_get_int64(last_buf, &tok[3], &v), 0);
	cr_assert_eq(v, INT64_MAX);
	cr_assert_eq(json_get_int64(last_buf, &tok[4], &v), 0);
	cr_assert_eq(v, INT64_MIN);
	cr_assert_eq(json_get_int64(last_buf, &tok[5], &v), 0);
	cr_assert_eq(v, INT64_C(1732197785000));

	cr_assert_eq(parse("[9223372036854775808,-9223372036854775809,99999999999999999999]", NULL),
		     4);
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(json_get_int64(last_buf, &tok[i], &v), ERR_TOOBIG);

	cr_assert_eq(parse("[1.0,1e3,1.7e12,\"1\",true,null]", NULL), 7);
	for (int i = 1; i <= 6; i++)
		cr_assert_eq(json_get_int64(last_buf, &tok[i], &v), ERR_INVALID);
}
