/*
 * test_ingest.c — tests of server/ingest.c: body forms (object, array,
 * NDJSON, envelope), per-event validation and its messages, limits at max
 * and max + 1, times, clock-skew correction, folding of unknown keys.
 *
 * Bodies are parsed from the end of a page followed by a PROT_NONE page, so
 * a read past the body crashes the test.
 */
#include "ingest.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"

#define GUARD_DATA (512 * 1024)
#define RECV	   INT64_C(1732197786000) /* 2024-11-21T14:03:06Z */

static char *guard_map;
static struct ingest_parser *P;
static struct ingest_batch B;
static const char *body; /* guarded copy of the last body */
static size_t body_len;

static void setup(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	cr_assert_eq(ingest_parser_new(GUARD_DATA, &P), 0);
	guard_map = mmap(NULL, GUARD_DATA + (size_t)pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(guard_map, MAP_FAILED);
	cr_assert_eq(mprotect(guard_map + GUARD_DATA, (size_t)pg, PROT_NONE), 0);
}

static void teardown(void)
{
	ingest_parser_free(P);
}

TestSuite(ingest, .init = setup, .fini = teardown);

/* Parses s[0..n), copied right before the guard page, received at RECV. */
static int run_n(const char *s, size_t n)
{
	cr_assert_leq(n, GUARD_DATA);
	body = memcpy(guard_map + GUARD_DATA - n, s, n);
	body_len = n;
	return ingest_parse(P, body, n, RECV, &B);
}

static int run(const char *s)
{
	return run_n(s, strlen(s));
}

/* printf into a static buffer. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	static char buf[64 * 1024];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof buf, f, ap);
	va_end(ap);
	return buf;
}

/* A string of n copies of c (one of 4 rotating buffers). */
static const char *rep(char c, size_t n)
{
	static char bufs[4][16 * 1024];
	static int k;
	char *b = bufs[k++ & 3];

	memset(b, c, n);
	b[n] = '\0';
	return b;
}

static int str_is(struct store_str s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int in_body(struct store_str s)
{
	return s.p >= body && s.p + s.n <= body + body_len;
}

/* The body holds exactly one event, valid: returns it. */
static const struct store_event *one(const char *s)
{
	int rc = run(s);

	cr_assert_eq(rc, 0, "%s: rc %d (%s)", s, rc, B.json_error);
	cr_assert_eq(B.total, 1, "%s", s);
	cr_assert_eq(B.n, 1, "%s: rejected: %s", s, B.nerrors ? B.errors[0].msg : "");
	return &B.ev[0];
}

/* The body holds exactly one event, rejected with message msg. */
static void rejected(const char *s, const char *msg)
{
	int rc = run(s);

	cr_assert_eq(rc, 0, "%s: rc %d (%s)", s, rc, B.json_error);
	cr_assert_eq(B.n, 0, "accepted: %s", s);
	cr_assert_eq(B.rejected, 1);
	cr_assert_eq(B.nerrors, 1);
	cr_assert_eq(B.errors[0].index, 0);
	cr_assert_str_eq(B.errors[0].msg, msg, "%s", s);
}

/* The body is refused as a whole with json_error msg and no events. */
static void invalid(const char *s, const char *msg)
{
	int rc = run(s);

	cr_assert_eq(rc, ERR_INVALID, "accepted: %s", s);
	cr_assert_eq(B.n, 0);
	cr_assert_str_eq(B.json_error, msg, "%s", s);
}

/* An event with session s, type t and extra members `rest` (may be ""). */
#define EV(rest) "{\"session\":\"s1\",\"type\":\"click\"" rest "}"

/* ---- forms ---------------------------------------------------------------- */

Test(ingest, single_object_is_one_event_with_every_field)
{
	const struct store_event *e =
	    one("{\"ts\":1732197785000,\"session\":\"s1\",\"user\":\"u1\",\"type\":\"click\","
		"\"target\":\"button#buy\",\"url\":\"https://x.test/p\",\"x\":12,\"y\":-3,"
		"\"props\":{\"plan\":\"pro\"},\"id\":\"e-1\"}");

	cr_assert_eq(e->ts, INT64_C(1732197785000));
	cr_assert_eq(e->recv, RECV);
	cr_assert(str_is(e->session, "s1"));
	cr_assert(str_is(e->user, "u1"));
	cr_assert(str_is(e->type, "click"));
	cr_assert(str_is(e->target, "button#buy"));
	cr_assert(str_is(e->url, "https://x.test/p"));
	cr_assert_eq(e->x, 12);
	cr_assert_eq(e->y, -3);
	cr_assert_eq(e->flags, STORE_HAS_X | STORE_HAS_Y);
	cr_assert(str_is(e->props, "{\"plan\":\"pro\"}"));
	cr_assert(str_is(e->id, "e-1"));
	cr_assert_eq(B.index[0], 0);
}

Test(ingest, unescaped_strings_are_views_into_the_body)
{
	const struct store_event *e = one(EV(",\"props\":{\"a\":1}"));

	cr_assert(in_body(e->session));
	cr_assert(in_body(e->type));
	cr_assert(in_body(e->props));
}

Test(ingest, optional_fields_absent_are_empty)
{
	const struct store_event *e = one(EV(""));

	cr_assert_eq(e->ts, RECV, "no ts: server time");
	cr_assert_eq(e->user.n, 0);
	cr_assert_eq(e->target.n, 0);
	cr_assert_eq(e->url.n, 0);
	cr_assert_eq(e->props.n, 0);
	cr_assert_eq(e->id.n, 0);
	cr_assert_eq(e->flags, 0);
}

Test(ingest, array_gives_events_in_order_with_their_indexes)
{
	cr_assert_eq(run(" \n[" EV(",\"x\":1") ", 7, " EV(",\"x\":3") ",{}]\n"), 0);
	cr_assert_eq(B.total, 4);
	cr_assert_eq(B.n, 2);
	cr_assert_eq(B.rejected, 2);
	cr_assert_eq(B.ev[0].x, 1);
	cr_assert_eq(B.index[0], 0);
	cr_assert_eq(B.ev[1].x, 3);
	cr_assert_eq(B.index[1], 2);
	cr_assert_eq(B.nerrors, 2);
	cr_assert_eq(B.errors[0].index, 1);
	cr_assert_str_eq(B.errors[0].msg, "event: must be an object");
	cr_assert_eq(B.errors[1].index, 3);
	cr_assert_str_eq(B.errors[1].msg, "session: missing");
}

Test(ingest, empty_array_is_zero_events)
{
	cr_assert_eq(run("[]"), 0);
	cr_assert_eq(B.total, 0);
	cr_assert_eq(B.n, 0);
}

Test(ingest, ndjson_is_one_event_per_line)
{
	cr_assert_eq(run(EV(",\"x\":1") "\n" EV(",\"x\":2") "\n\n  \n" EV(",\"x\":3") "\n"), 0);
	cr_assert_eq(B.n, 3);
	cr_assert_eq(B.ev[2].x, 3);
	cr_assert_eq(B.index[2], 2, "blank lines are not events");
}

Test(ingest, ndjson_accepts_crlf_line_ends)
{
	cr_assert_eq(run(EV(",\"x\":1") "\r\n" EV(",\"x\":2") "\r\n"), 0);
	cr_assert_eq(B.n, 2);
	cr_assert_eq(B.ev[1].x, 2);
}

Test(ingest, ndjson_line_that_is_not_an_object_is_a_rejected_event)
{
	cr_assert_eq(run(EV("") "\n[1,2]\n\"x\"\n" EV("")), 0);
	cr_assert_eq(B.total, 4);
	cr_assert_eq(B.n, 2);
	cr_assert_eq(B.index[1], 3);
	cr_assert_str_eq(B.errors[0].msg, "event: must be an object");
	cr_assert_eq(B.errors[1].index, 2);
}

Test(ingest, two_values_on_one_line_are_invalid)
{
	invalid("{\"a\":1} {\"b\":2}",
		"invalid JSON at byte 8: expected a new line or end of input");
	invalid(EV("") "\n{} {}", "invalid JSON at byte 35: expected a new line or end of input");
}

Test(ingest, array_followed_by_anything_is_invalid)
{
	invalid("[] []", "invalid JSON at byte 3: expected end of input");
	invalid("[]\n{}", "invalid JSON at byte 3: expected end of input");
}

Test(ingest, envelope_events_are_the_events_array)
{
	cr_assert_eq(
	    run("{\"sent_at\":1732197786000,\"events\":[" EV(",\"x\":1") "," EV(",\"x\":2") "]}"),
	    0);
	cr_assert_eq(B.total, 2);
	cr_assert_eq(B.n, 2);
	cr_assert_eq(B.ev[1].x, 2);
	cr_assert_eq(B.index[1], 1);
}

Test(ingest, envelope_without_sent_at_keeps_client_times)
{
	cr_assert_eq(run("{\"events\":[" EV(",\"ts\":1000") "]}"), 0);
	cr_assert_eq(B.n, 1);
	cr_assert_eq(B.ev[0].ts, 1000);
}

Test(ingest, object_whose_events_is_not_an_array_is_a_plain_event)
{
	const struct store_event *e = one(EV(",\"events\":3"));

	cr_assert(str_is(e->props, "{\"events\":3}"));
}

Test(ingest, envelope_errors_refuse_the_body)
{
	invalid("{\"sent_at\":\"now\",\"events\":[]}",
		"invalid envelope at byte 11: sent_at must be integer milliseconds");
	invalid("{\"sent_at\":-1,\"events\":[]}",
		"invalid envelope at byte 11: sent_at must be integer milliseconds");
	invalid("{\"sent_at\":1.5,\"events\":[]}",
		"invalid envelope at byte 11: sent_at must be integer milliseconds");
	invalid("{\"events\":[],\"events\":[]}",
		"invalid envelope at byte 13: duplicate key \"events\"");
	invalid("{\"sent_at\":1,\"sent_at\":2,\"events\":[]}",
		"invalid envelope at byte 13: duplicate key \"sent_at\"");
	cr_assert_eq(run("{\"sent_at\":null,\"events\":[]}"), 0);
}

Test(ingest, body_that_is_not_an_object_or_array_is_invalid)
{
	invalid("", "invalid JSON at byte 0: expected an event object or array");
	invalid(" \n", "invalid JSON at byte 2: expected an event object or array");
	invalid("42", "invalid JSON at byte 0: expected an event object or array");
	invalid("\"x\"", "invalid JSON at byte 0: expected an event object or array");
	invalid("  null", "invalid JSON at byte 2: expected an event object or array");
	invalid("session=s1", "invalid JSON at byte 0: expected an event object or array");
}

Test(ingest, syntax_errors_report_offset_and_expectation)
{
	invalid("{\"session\" \"s\"}", "invalid JSON at byte 11: expected ':'");
	invalid("[{\"a\":1},]", "invalid JSON at byte 9: expected a value");
	invalid("{\"a\":\"\\ud800\"}", "invalid JSON at byte 6: expected a low surrogate escape "
				       "after a high one");
}

Test(ingest, malformed_json_anywhere_yields_zero_events)
{
	/* A good event first, then a broken one: nothing is accepted. */
	invalid("[" EV("") "," EV(",\"x\":01") "]",
		"invalid JSON at byte 69: leading zeros are not allowed");
	invalid(EV("") "\n" EV("") "\n{\"session\":\"s\",}\n",
		"invalid JSON at byte 79: expected a string key");
	invalid("{\"events\":[" EV("") "," EV(",") "]}",
		"invalid JSON at byte 74: expected a string key");
}

Test(ingest, every_truncation_of_an_array_body_is_invalid)
{
	char full[512];
	int n = snprintf(
	    full, sizeof full,
	    "[" EV(",\"ts\":\"2024-11-21T14:03:05Z\",\"props\":{\"k\":[1,2.5,null]}") "," EV(
		",\"user\":\"\\u00e9\"") "]");

	for (int cut = 1; cut < n; cut++) {
		cr_assert_eq(run_n(full, (size_t)cut), ERR_INVALID, "cut at %d", cut);
		cr_assert_eq(B.n, 0);
		cr_assert_eq(B.total, 0);
	}
	cr_assert_eq(run_n(full, (size_t)n), 0);
	cr_assert_eq(B.n, 2);
}

Test(ingest, body_above_max_is_too_big)
{
	struct ingest_parser *small;
	struct ingest_batch b;

	cr_assert_eq(ingest_parser_new(16, &small), 0);
	cr_assert_eq(ingest_parse(small, "[]              ", 16, RECV, &b), 0);
	cr_assert_eq(ingest_parse(small, "[]               ", 17, RECV, &b), ERR_TOOBIG);
	cr_assert_eq(b.n, 0);
	ingest_parser_free(small);
}

/* ---- per-event validation -------------------------------------------------- */

Test(ingest, required_fields_missing_wrong_type_or_empty)
{
	rejected("{\"type\":\"click\"}", "session: missing");
	rejected("{\"session\":\"s\"}", "type: missing");
	rejected("{\"session\":7,\"type\":\"click\"}", "session: must be a string");
	rejected("{\"session\":null,\"type\":\"click\"}", "session: must be a string");
	rejected("{\"session\":\"s\",\"type\":[\"click\"]}", "type: must be a string");
	rejected("{\"session\":\"\",\"type\":\"click\"}", "session: must not be empty");
	rejected("{\"session\":\"s\",\"type\":\"\"}", "type: must not be empty");
	rejected("{}", "session: missing");
}

Test(ingest, optional_strings_must_be_strings)
{
	rejected(EV(",\"user\":1"), "user: must be a string");
	rejected(EV(",\"target\":true"), "target: must be a string");
	rejected(EV(",\"url\":{}"), "url: must be a string");
	rejected(EV(",\"id\":5"), "id: must be a string");
}

Test(ingest, optional_strings_null_or_empty_are_absent)
{
	const struct store_event *e =
	    one(EV(",\"user\":null,\"target\":\"\",\"url\":null,\"id\":\"\",\"x\":null,"
		   "\"props\":null,\"ts\":null"));

	cr_assert_eq(e->user.n, 0);
	cr_assert_eq(e->target.n, 0);
	cr_assert_eq(e->url.n, 0);
	cr_assert_eq(e->id.n, 0);
	cr_assert_eq(e->props.n, 0);
	cr_assert_eq(e->flags, 0);
	cr_assert_eq(e->ts, RECV);
}

/* Asserts that `field` accepts max bytes and rejects max + 1. */
static void check_limit(const char *field, size_t max)
{
	char msg[96];
	const char *base = strcmp(field, "session") == 0 ? "{\"type\":\"t\",\"%s\":\"%s\"}"
			   : strcmp(field, "type") == 0	 ? "{\"session\":\"s\",\"%s\":\"%s\"}"
							 : EV(",\"%s\":\"%s\"");
	char ok[8192];

	snprintf(ok, sizeof ok, base, field, rep('a', max));
	one(ok);
	snprintf(msg, sizeof msg, "%s: too long (max %zu bytes)", field, max);
	rejected(fmt(base, field, rep('a', max + 1)), msg);
}

Test(ingest, string_limits_at_max_and_max_plus_one)
{
	check_limit("session", 128);
	check_limit("user", 128);
	check_limit("type", 64);
	check_limit("target", 256);
	check_limit("url", 2048);
	check_limit("id", 64);
}

Test(ingest, string_limits_apply_to_decoded_bytes)
{
	char s[8 * 128 + 64];
	const struct store_event *e;
	size_t n = 0;

	/* 64 x "\u00e9" is 384 bytes as sent, 128 decoded: fits. */
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(s + n, "\\u00e9");
	s[n] = '\0';
	e = one(fmt("{\"type\":\"t\",\"session\":\"%s\"}", s));
	cr_assert_eq(e->session.n, 128);
	cr_assert_eq(memcmp(e->session.p, "\xc3\xa9\xc3\xa9", 4), 0);
	/* 129 decoded bytes do not. */
	rejected(fmt("{\"type\":\"t\",\"session\":\"%sx\"}", s),
		 "session: too long (max 128 bytes)");
	/* "\n" x 64 is 128 bytes as sent and 64 decoded: a valid type. */
	n = 0;
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(s + n, "\\n");
	s[n] = '\0';
	e = one(fmt("{\"session\":\"s\",\"type\":\"%s\"}", s));
	cr_assert_eq(e->type.n, 64);
	cr_assert_eq(e->type.p[63], '\n');
}

Test(ingest, escaped_strings_are_decoded)
{
	const struct store_event *e = one("{\"session\":\"a\\\"b\\u00e9\\ud83d\\ude00\",\"type\":"
					  "\"cl\\/ick\",\"url\":\"https:\\/\\/x.test\\/\"}");

	cr_assert(str_is(e->session, "a\"b\xc3\xa9\xf0\x9f\x98\x80"));
	cr_assert(str_is(e->type, "cl/ick"));
	cr_assert(str_is(e->url, "https://x.test/"));
}

Test(ingest, escaped_known_keys_are_recognized)
{
	const struct store_event *e = one("{\"sess\\u0069on\":\"s\",\"\\u0074ype\":\"t\"}");

	cr_assert(str_is(e->session, "s"));
	cr_assert(str_is(e->type, "t"));
	cr_assert_eq(e->props.n, 0);
}

Test(ingest, duplicate_known_keys_are_rejected)
{
	rejected(EV(",\"session\":\"s2\""), "session: duplicate key");
	rejected(EV(",\"x\":1,\"x\":2"), "x: duplicate key");
	rejected(EV(",\"ts\":1,\"t\\u0073\":2"), "ts: duplicate key");
}

Test(ingest, coordinates_must_be_int32_integers)
{
	const struct store_event *e = one(EV(",\"x\":2147483647,\"y\":-2147483648"));

	cr_assert_eq(e->x, INT32_MAX);
	cr_assert_eq(e->y, INT32_MIN);
	cr_assert_eq(e->flags, STORE_HAS_X | STORE_HAS_Y);
	e = one(EV(",\"y\":0"));
	cr_assert_eq(e->flags, STORE_HAS_Y);
	rejected(EV(",\"x\":2147483648"), "x: must be an integer in int32 range");
	rejected(EV(",\"y\":-2147483649"), "y: must be an integer in int32 range");
	rejected(EV(",\"x\":1.5"), "x: must be an integer in int32 range");
	rejected(EV(",\"x\":1e2"), "x: must be an integer in int32 range");
	rejected(EV(",\"x\":\"1\""), "x: must be an integer in int32 range");
	rejected(EV(",\"y\":99999999999999999999999"), "y: must be an integer in int32 range");
}

Test(ingest, props_must_be_an_object)
{
	rejected(EV(",\"props\":[1]"), "props: must be an object");
	rejected(EV(",\"props\":\"{}\""), "props: must be an object");
}

Test(ingest, props_are_kept_byte_exact)
{
	const struct store_event *e =
	    one(EV(",\"props\": { \"a\" : [1, 2.50] ,\"b\":\"\\u00e9\"} "));

	cr_assert(str_is(e->props, "{ \"a\" : [1, 2.50] ,\"b\":\"\\u00e9\"}"));
}

Test(ingest, props_limit_at_max_and_max_plus_one)
{
	/* {"p":"aaa..."} is 8 + n bytes. */
	const struct store_event *e = one(fmt(EV(",\"props\":{\"p\":\"%s\"}"), rep('a', 8184)));

	cr_assert_eq(e->props.n, 8192);
	rejected(fmt(EV(",\"props\":{\"p\":\"%s\"}"), rep('a', 8185)),
		 "props: too large (max 8192 bytes)");
}

Test(ingest, a_bad_event_does_not_stop_the_batch)
{
	cr_assert_eq(run("[" EV(",\"x\":\"no\"") "," EV(",\"x\":5") "]"), 0);
	cr_assert_eq(B.n, 1);
	cr_assert_eq(B.rejected, 1);
	cr_assert_eq(B.ev[0].x, 5);
	cr_assert_eq(B.index[0], 1);
}

Test(ingest, errors_keep_the_first_ones_but_count_all)
{
	char s[4096];
	size_t n = 0;

	s[n++] = '[';
	for (int i = 0; i < 25; i++)
		n += (size_t)sprintf(s + n, "%s%s", i ? "," : "",
				     i % 5 == 4 ? EV("") : "{\"type\":\"t\"}");
	s[n++] = ']';
	s[n] = '\0';
	cr_assert_eq(run(s), 0);
	cr_assert_eq(B.total, 25);
	cr_assert_eq(B.n, 5);
	cr_assert_eq(B.rejected, 20);
	cr_assert_eq(B.nerrors, INGEST_MAX_ERRORS);
	cr_assert_eq(B.errors[0].index, 0);
	cr_assert_eq(B.errors[4].index, 5);
	cr_assert_eq(B.errors[INGEST_MAX_ERRORS - 1].index, 11);
	cr_assert_eq(B.index[4], 24);
}

/* ---- folding of unknown keys ---------------------------------------------- */

Test(ingest, unknown_keys_become_props)
{
	const struct store_event *e = one(EV(",\"plan\":\"pro\",\"n\" : [1, 2]"));

	cr_assert(str_is(e->props, "{\"plan\":\"pro\",\"n\":[1, 2]}"));
}

Test(ingest, unknown_keys_are_appended_to_props_members)
{
	const struct store_event *e =
	    one("{\"exp\":{\"v\":2},\"session\":\"s\",\"props\":{\"a\":1, \"b\" :\"x\"},"
		"\"type\":\"t\",\"unknown\":[1,2]}");

	cr_assert(str_is(e->props, "{\"a\":1,\"b\":\"x\",\"exp\":{\"v\":2},\"unknown\":[1,2]}"));
}

Test(ingest, unknown_key_equal_to_a_props_key_is_kept_twice)
{
	const struct store_event *e = one(EV(",\"props\":{\"a\":1},\"a\":2"));

	cr_assert(str_is(e->props, "{\"a\":1,\"a\":2}"));
}

Test(ingest, folding_into_empty_props_and_keeping_raw_escapes)
{
	const struct store_event *e = one(EV(",\"props\":{},\"k\\u00e9y\":\"v\\n\""));

	cr_assert(str_is(e->props, "{\"k\\u00e9y\":\"v\\n\"}"));
}

Test(ingest, folded_props_limit_counts_the_stored_bytes)
{
	/* {"p":"aaa"} from an unknown key is 8 + n bytes as stored. */
	const struct store_event *e = one(fmt(EV(",\"p\":\"%s\""), rep('a', 8184)));

	cr_assert_eq(e->props.n, 8192);
	rejected(fmt(EV(",\"p\":\"%s\""), rep('a', 8185)), "props: too large (max 8192 bytes)");
	/* Whitespace between members is not stored, so this fits too. */
	e = one(fmt(EV(",\"p\"  :  \"%s\"   "), rep('a', 8184)));
	cr_assert_eq(e->props.n, 8192);
}

Test(ingest, views_survive_a_rejected_event_that_used_the_arena)
{
	cr_assert_eq(run("[{\"session\":\"\\u0041\",\"type\":\"t\",\"u\":1},"
			 "{\"session\":\"\\u0042\",\"type\":\"t\",\"x\":\"bad\",\"v\":2},"
			 "{\"session\":\"\\u0043\",\"type\":\"t\",\"w\":3}]"),
		     0);
	cr_assert_eq(B.n, 2);
	cr_assert(str_is(B.ev[0].session, "A"));
	cr_assert(str_is(B.ev[0].props, "{\"u\":1}"));
	cr_assert(str_is(B.ev[1].session, "C"));
	cr_assert(str_is(B.ev[1].props, "{\"w\":3}"));
}

/* ---- times ---------------------------------------------------------------- */

/* ts of the single event of EV(",\"ts\":<v>"). */
static int64_t ts_of(const char *v)
{
	return one(fmt(EV(",\"ts\":%s"), v))->ts;
}

static void bad_ts(const char *v)
{
	rejected(fmt(EV(",\"ts\":%s"), v), "ts: not a valid time");
}

Test(ingest, ts_integer_milliseconds)
{
	cr_assert_eq(ts_of("0"), 0);
	cr_assert_eq(ts_of("1732197785123"), INT64_C(1732197785123));
	cr_assert_eq(ts_of("253402300799999"), INT64_C(253402300799999));
	bad_ts("-1");
	bad_ts("253402300800000");
	bad_ts("1.7e12");
	bad_ts("1732197785123.5");
	bad_ts("true");
	bad_ts("{}");
}

Test(ingest, ts_rfc3339_and_iso8601_variants)
{
	const int64_t base = INT64_C(1732197785000); /* 2024-11-21T14:03:05Z */

	cr_assert_eq(ts_of("\"2024-11-21T14:03:05Z\""), base);
	cr_assert_eq(ts_of("\"2024-11-21t14:03:05z\""), base);
	cr_assert_eq(ts_of("\"2024-11-21 14:03:05Z\""), base);
	cr_assert_eq(ts_of("\"2024-11-21T14:03:05.1Z\""), base + 100);
	cr_assert_eq(ts_of("\"2024-11-21T14:03:05.123Z\""), base + 123);
	cr_assert_eq(ts_of("\"2024-11-21T14:03:05.123999999Z\""), base + 123);
	cr_assert_eq(ts_of("\"2024-11-21T15:03:05+01:00\""), base);
	cr_assert_eq(ts_of("\"2024-11-21T15:03:05+01\""), base);
	cr_assert_eq(ts_of("\"2024-11-21T08:33:05-0530\""), base);
	cr_assert_eq(ts_of("\"2024-11-21T14:03:05.5-00:00\""), base + 500);
	cr_assert_eq(ts_of("\"2024-11-21\""), INT64_C(1732147200000));
	cr_assert_eq(ts_of("\"1970-01-01T00:00:00Z\""), 0);
	cr_assert_eq(ts_of("\"2024-11-21T14:03:0\\u0035Z\""), base, "escapes decoded first");
}

Test(ingest, ts_calendar_edges)
{
	cr_assert_eq(ts_of("\"2024-02-29\""), INT64_C(1709164800000));
	cr_assert_eq(ts_of("\"2000-02-29\""), INT64_C(951782400000));
	cr_assert_eq(ts_of("\"2000-03-01\""), INT64_C(951868800000));
	cr_assert_eq(ts_of("\"2024-12-31T23:59:59.999Z\""), INT64_C(1735689599999));
	cr_assert_eq(ts_of("\"2016-12-31T23:59:60Z\""), INT64_C(1483228800000), "leap second");
	cr_assert_eq(ts_of("\"9999-12-31T23:59:59.999Z\""), INT64_C(253402300799999));
	cr_assert_eq(ts_of("\"2024-01-01T00:30:00+01:00\""), INT64_C(1704065400000));
}

Test(ingest, ts_rejects_malformed_times)
{
	static const char *const bad[] = {
	    "\"2024-11-21T14:03:05\"",	     /* no offset: the client's zone is unknown */
	    "\"2024-11-21T14:03Z\"",	     /* no seconds */
	    "\"2024-13-01\"",		     /* month 13 */
	    "\"2024-00-10\"",		     /* month 0 */
	    "\"2024-11-00\"",		     /* day 0 */
	    "\"2024-11-31\"",		     /* November has 30 days */
	    "\"2023-02-29\"",		     /* not a leap year */
	    "\"2100-02-29\"",		     /* not a leap year either */
	    "\"2024-11-21T24:00:00Z\"",	     /* hour 24 */
	    "\"2024-11-21T14:60:00Z\"",	     /* minute 60 */
	    "\"2024-11-21T14:03:61Z\"",	     /* second 61 */
	    "\"2024-1-21\"",		     /* one-digit month */
	    "\"24-11-21\"",		     /* two-digit year */
	    "\"2024/11/21\"",		     /* wrong separator */
	    "\"2024-11-21T14:03:05.Z\"",     /* fraction without digits */
	    "\"2024-11-21T14:03:05+1:00\"",  /* one-digit offset hour */
	    "\"2024-11-21T14:03:05+01:0\"",  /* one-digit offset minute */
	    "\"2024-11-21T14:03:05+24:00\"", /* offset hour 24 */
	    "\"2024-11-21T14:03:05Z \"",     /* trailing space */
	    "\"2024-11-21T14:03:05ZZ\"",     /* trailing garbage */
	    "\"2024-11-21T\"",		     /* nothing after T */
	    "\"1969-12-31T23:59:59Z\"",	     /* before the epoch */
	    "\"1970-01-01T00:30:00+01:00\"", /* before the epoch once offset */
	    "\"\"",
	    "\"now\"",
	    "\"1732197785000\"", /* ms as a string */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		bad_ts(bad[i]);
}

/* ---- envelope clock correction --------------------------------------------- */

/* ts of the single event of an envelope with sent_at `sent` and event `ev`. */
static int64_t env_ts(int64_t sent, const char *ev)
{
	char e[1024];

	snprintf(e, sizeof e, "%s", ev); /* ev may be fmt()'s buffer */
	cr_assert_eq(run(fmt("{\"sent_at\":%lld,\"events\":[%s]}", (long long)sent, e)), 0, "%s",
		     B.json_error);
	cr_assert_eq(B.n, 1, "%s", B.nerrors ? B.errors[0].msg : "");
	cr_assert_eq(B.ev[0].recv, RECV);
	return B.ev[0].ts;
}

Test(ingest, envelope_corrects_client_clock_skew)
{
	/* Client clock 1 h behind: its event 2 s before sending happened 2 s
	 * before receipt. */
	cr_assert_eq(env_ts(RECV - 3600000, fmt(EV(",\"ts\":%lld"), (long long)(RECV - 3602000))),
		     RECV - 2000);
	/* Clock ahead, time as a string. */
	cr_assert_eq(env_ts(RECV + 60000, EV(",\"ts\":\"2024-11-21T14:04:05.500Z\"")), RECV - 500);
	/* No ts: receive time. */
	cr_assert_eq(env_ts(RECV - 12345, EV("")), RECV);
}

Test(ingest, envelope_clamps_times_more_than_a_day_ahead)
{
	const int64_t day = 86400000;

	cr_assert_eq(env_ts(RECV, fmt(EV(",\"ts\":%lld"), (long long)(RECV + day))), RECV + day);
	cr_assert_eq(env_ts(RECV, fmt(EV(",\"ts\":%lld"), (long long)(RECV + day + 1))), RECV);
	cr_assert_eq(env_ts(1000, fmt(EV(",\"ts\":%lld"), (long long)(1000 + 5 * day))), RECV);
}

/* ts of the event of a one-event envelope for session `sess`, received at
 * recv with sent_at `sent` and client time `ts`. */
static int64_t env_ts_at(const char *sess, int64_t recv, int64_t sent, int64_t ts)
{
	const char *s = fmt("{\"sent_at\":%lld,\"events\":[{\"session\":\"%s\",\"type\":\"t\","
			    "\"ts\":%lld}]}",
			    (long long)sent, sess, (long long)ts);
	cr_assert_eq(ingest_parse(P, s, strlen(s), recv, &B), 0, "%s", B.json_error);
	cr_assert_eq(B.n, 1, "%s", B.nerrors ? B.errors[0].msg : "");
	return B.ev[0].ts;
}

/* Two envelopes of one session whose network delays differ by 50 ms: the
 * event 1 ms later on the client stays 1 ms later, where each envelope's own
 * offset would put it 49 ms earlier.  A clock set by an hour is followed;
 * another session has its own offset; without a table, each envelope alone. */
Test(ingest, a_session_keeps_its_clock_offset_across_envelopes)
{
	struct ingest_skew *sk;
	int64_t a, b;

	cr_assert_eq(ingest_skew_new(10, &sk), 0);
	ingest_parser_set_skew(P, sk);
	const int64_t c = RECV - 3600000; /* the client's clock, an hour behind */

	a = env_ts_at("s1", RECV, c - 50, c);	      /* offset 1 h + 50 ms */
	b = env_ts_at("s1", RECV + 1, c + 1, c + 1); /* offset 1 h: 1 h + 50 ms kept */
	cr_expect_eq(a, RECV + 50);
	cr_expect_eq(b, a + 1, "second envelope: %lld, first %lld", (long long)b, (long long)a);
	/* the client's clock was set right: its new offset is taken */
	b = env_ts_at("s1", RECV + 2, RECV + 2, RECV + 2);
	cr_expect_eq(b, RECV + 2);
	/* another session: its own first offset */
	cr_expect_eq(env_ts_at("s2", RECV + 5, c, c), RECV + 5);
	/* a clock 54 years off (offset past 40 bits): each envelope alone */
	cr_expect_eq(env_ts_at("s3", RECV, 950, 1000), RECV + 50);
	cr_expect_eq(env_ts_at("s3", RECV + 1, 1001, 1001), RECV + 1);
	ingest_parser_set_skew(P, NULL);
	cr_expect_eq(env_ts_at("s1", RECV + 10, c + 1001, c + 1001), RECV + 10);
	ingest_skew_free(sk);
}

Test(ingest, envelope_correction_below_zero_is_rejected)
{
	cr_assert_eq(
	    run(fmt("{\"sent_at\":%lld,\"events\":[" EV(",\"ts\":0") "]}", (long long)(RECV + 1))),
	    0);
	cr_assert_eq(B.n, 0);
	cr_assert_str_eq(B.errors[0].msg, "ts: negative after clock correction");
}

Test(ingest, every_event_gets_the_receive_time)
{
	cr_assert_eq(run("[" EV(",\"ts\":5") "," EV("") "]"), 0);
	cr_assert_eq(B.ev[0].recv, RECV);
	cr_assert_eq(B.ev[1].recv, RECV);
	cr_assert_eq(B.ev[0].ts, 5, "outside an envelope ts is kept as sent");
}

/* ---- reuse ------------------------------------------------------------------ */

Test(ingest, parser_is_reusable_across_bodies_of_any_size)
{
	char *big = malloc(300 * 1024);
	size_t n = 0;

	cr_assert_not_null(big);
	big[n++] = '[';
	for (int i = 0; i < 2000; i++)
		n += (size_t)sprintf(big + n,
				     "%s{\"session\":\"s\\u00e9%d\",\"type\":\"t\",\"u\":%d}",
				     i ? "," : "", i, i);
	big[n++] = ']';
	cr_assert_eq(run_n(big, n), 0);
	cr_assert_eq(B.n, 2000);
	cr_assert(str_is(B.ev[1999].session, "s\xc3\xa9"
					     "1999"));
	cr_assert(str_is(B.ev[1999].props, "{\"u\":1999}"));
	for (int k = 0; k < 3; k++) {
		one(EV(",\"x\":4"));
		cr_assert_eq(B.ev[0].x, 4);
	}
	cr_assert_eq(run_n(big, n), 0);
	cr_assert_eq(B.n, 2000);
	free(big);
}
