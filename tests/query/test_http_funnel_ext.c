/*
 * test_http_funnel_ext.c — POST /v1/funnel with the rules beyond
 * windowFunnel (order, within_ms/after_ms, exclude, same, count): each rule
 * on a small hand-made store whose answer is worked out in the comments,
 * the request checks, and a request without the new fields answering
 * exactly what it answered before they existed.  The randomized comparison
 * of every combination with the brute-force reference is test_funnel.c's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qt_harness.h"

static struct qt_local L;

#define add(...) qt_add(&L, __VA_ARGS__)

/* Sessions (ts in ms; every event of a session has user u-<session>):
 *   a  view@1000 cart@2000(c1) help@2500 buy@3000(c2)
 *   b  view@1000 cart@1500(c9) buy@1600(c9)
 *   c  buy@5000 cart@6000 view@7000
 *   e  view@1000 buy@1100 view@1200 view@9000 buy@9500 view@20000
 */
static void start(void)
{
	cr_assert_eq(qt_local_start(&L, NULL, 0), 0);
	add(1000, "a", "u-a", "view", "/", "", "");
	add(2000, "a", "u-a", "cart", "/", "", "{\"cart_id\":\"c1\"}");
	add(2500, "a", "u-a", "help", "/", "", "");
	add(3000, "a", "u-a", "buy", "/", "", "{\"cart_id\":\"c2\"}");
	add(1000, "b", "u-b", "view", "/", "", "");
	add(1500, "b", "u-b", "cart", "/", "", "{\"cart_id\":\"c9\"}");
	add(1600, "b", "u-b", "buy", "/", "", "{\"cart_id\":\"c9\"}");
	add(5000, "c", "u-c", "buy", "/", "", "");
	add(6000, "c", "u-c", "cart", "/", "", "");
	add(7000, "c", "u-c", "view", "/", "", "");
	add(1000, "e", "u-e", "view", "/", "", "");
	add(1100, "e", "u-e", "buy", "/", "", "");
	add(1200, "e", "u-e", "view", "/", "", "");
	add(9000, "e", "u-e", "view", "/", "", "");
	add(9500, "e", "u-e", "buy", "/", "", "");
	add(20000, "e", "u-e", "view", "/", "", "");
}

static void stop(void)
{
	qt_local_stop(&L);
}

/* POSTs body; asserts 200 and that the step counts are want[0..n). */
static void expect_counts(const char *body, const long long *want, size_t n)
{
	struct qt_resp r;
	struct qt_json j;
	char got[256] = "";
	size_t o = 0;

	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", "Content-Type: application/json\r\n",
			     body, strlen(body), &r),
		     0);
	cr_assert_eq(r.status, 200, "%s: %d %s", body, r.status, r.body);
	cr_assert_eq(qt_json_parse(&j, r.body, r.len), 0);
	int steps = qt_jget(&j, 0, "steps");
	cr_assert_eq(qt_jlen(&j, steps), n, "%s: %s", body, r.body);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(got + o, sizeof got - o, " %lld",
				      qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, i), "count")));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, i), "count")), want[i],
			     "%s: counts%s, step %zu wants %lld", body, got, i + 1, want[i]);
	qt_json_free(&j);
	qt_resp_free(&r);
}

#define COUNTS(body, ...)                                                                          \
	do {                                                                                       \
		const long long w_[] = {__VA_ARGS__};                                              \
		expect_counts(body, w_, sizeof w_ / sizeof w_[0]);                                 \
	} while (0)

#define VCB "\"steps\":[{\"type\":\"view\"},{\"type\":\"cart\"},{\"type\":\"buy\"}]"

Test(funnel_ext_api, order_strict_breaks_a_chain_at_any_other_event, .init = start, .fini = stop)
{
	/* ordered: a and b convert, c and e stop at view */
	COUNTS("{" VCB ",\"window_ms\":3600000}", 4, 2, 2);
	/* strict: a's help@2500 sits between cart and buy */
	COUNTS("{" VCB ",\"window_ms\":3600000,\"order\":\"strict\"}", 4, 2, 1);
	COUNTS("{" VCB ",\"window_ms\":3600000,\"order\":\"ordered\",\"count\":\"actors\"}", 4, 2,
	       2);
}

Test(funnel_ext_api, order_any_counts_distinct_steps_in_one_window, .init = start, .fini = stop)
{
	/* c did all three, backwards; e did view and buy */
	COUNTS("{" VCB ",\"window_ms\":3600000,\"order\":\"any\"}", 4, 4, 3);
	/* a window of 1 s (it includes 1000 ms apart): a, c and e reach two
	 * steps, only b all three; 999 ms: a and c fall back to one */
	COUNTS("{" VCB ",\"window_ms\":1000,\"order\":\"any\"}", 4, 4, 1);
	COUNTS("{" VCB ",\"window_ms\":999,\"order\":\"any\"}", 4, 2, 1);
}

Test(funnel_ext_api, exclusion_caps_the_chain_at_its_first_step, .init = start, .fini = stop)
{
	COUNTS("{" VCB ",\"window_ms\":3600000,\"exclude\":[{\"type\":\"help\",\"between\":[2,3]}]}",
	       4, 2, 1);
	/* between steps 1 and 3: a's help comes after its cart, so a still
	 * reached step 2 cleanly and only step 3 is lost ... */
	COUNTS("{" VCB ",\"window_ms\":3600000,\"exclude\":[{\"type\":\"help\",\"between\":[1,3]}]}",
	       4, 2, 1);
	/* ... while a cart excluded between steps 1 and 2 lies between a's
	 * view and help: a stays at step 1 (nobody else asks for help) */
	COUNTS("{\"steps\":[{\"type\":\"view\"},{\"type\":\"help\"},{\"type\":\"buy\"}],"
	       "\"window_ms\":3600000,\"exclude\":[{\"type\":\"cart\",\"between\":[1,2]}]}",
	       4, 0, 0);
	/* an exclusion nobody does changes nothing */
	COUNTS("{" VCB ",\"window_ms\":3600000,\"exclude\":[{\"type\":\"nope\",\"between\":[1,2]}]}",
	       4, 2, 2);
}

Test(funnel_ext_api, same_holds_a_value_constant_across_the_chain, .init = start, .fini = stop)
{
	/* a's cart and buy carry different carts; b's the same */
	COUNTS("{\"steps\":[{\"type\":\"cart\"},{\"type\":\"buy\"}],\"window_ms\":3600000,"
	       "\"same\":\"props.cart_id\"}",
	       2, 1);
	/* every event of a session has the same user */
	COUNTS("{" VCB ",\"window_ms\":3600000,\"same\":\"user\"}", 4, 2, 2);
	/* view events carry no cart_id: no chain can start */
	COUNTS("{" VCB ",\"window_ms\":3600000,\"same\":\"props.cart_id\"}", 0, 0, 0);
}

Test(funnel_ext_api, per_step_within_and_after, .init = start, .fini = stop)
{
	/* a: view -> cart 1000 ms, b: 500 ms */
	COUNTS("{\"steps\":[{\"type\":\"view\"},{\"type\":\"cart\",\"within_ms\":999},"
	       "{\"type\":\"buy\"}],\"window_ms\":3600000}",
	       4, 1, 1);
	COUNTS("{\"steps\":[{\"type\":\"view\"},{\"type\":\"cart\",\"within_ms\":\"1s\"},"
	       "{\"type\":\"buy\"}],\"window_ms\":3600000}",
	       4, 2, 2);
	/* cart -> buy: a 1000 ms, b 100 ms */
	COUNTS("{\"steps\":[{\"type\":\"view\"},{\"type\":\"cart\"},{\"type\":\"buy\","
	       "\"after_ms\":500}],\"window_ms\":3600000}",
	       4, 2, 1);
}

Test(funnel_ext_api, entries_count_every_attempt, .init = start, .fini = stop)
{
	/* e: view@1000 -> buy@1100 (converted); view@1200 times out (window
	 * 5 s, next buy at 9500); view@9000 -> buy@9500; view@20000.  a, b:
	 * one converted entry each; c: view@7000, an entry of level 1. */
	COUNTS("{\"steps\":[{\"type\":\"view\"},{\"type\":\"buy\"}],\"window_ms\":5000,"
	       "\"count\":\"entries\"}",
	       7, 4);
	COUNTS("{\"steps\":[{\"type\":\"view\"},{\"type\":\"buy\"}],\"window_ms\":5000}", 4, 3);
}

Test(funnel_ext_api, a_request_without_the_new_fields_answers_as_before, .init = start,
     .fini = stop)
{
	/* the body of a plain funnel, and the same with every new field at its
	 * default: the replies are identical but for took_ms */
	static const char plain[] =
	    "{\"steps\":[{\"type\":\"view\"},{\"type\":\"buy\"}],\"window_ms\":5000,\"breakdown\":\"url\"}";
	static const char dflt[] =
	    "{\"steps\":[{\"type\":\"view\"},{\"type\":\"buy\"}],\"window_ms\":5000,\"breakdown\":\"url\","
	    "\"order\":\"ordered\",\"count\":\"actors\",\"exclude\":[],\"same\":null}";
	struct qt_resp r1, r2;
	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, plain, strlen(plain), &r1), 0);
	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, dflt, strlen(dflt), &r2), 0);
	cr_assert_eq(r1.status, 200);
	cr_assert_eq(r2.status, 200, "%s", r2.body);
	char *t1 = strstr(r1.body, ",\"took_ms\""), *t2 = strstr(r2.body, ",\"took_ms\"");
	cr_assert(t1 && t2);
	cr_assert_eq(t1 - r1.body, t2 - r2.body);
	cr_assert_eq(memcmp(r1.body, r2.body, (size_t)(t1 - r1.body)), 0, "%s\n%s", r1.body,
		     r2.body);
	/* and the windowFunnel answer worked out by hand: a view->buy 2000,
	 * b 600, e 100 (its latest start that converts is view@9000: 500);
	 * medians of {2000, 600, 500} = 600 */
	cr_assert(strstr(r1.body, "{\"count\":3,\"conversion\":0.75,\"conversion_from_prev\":0.75,"
				  "\"median_ms_from_prev\":600}"),
		  "%s", r1.body);
	qt_resp_free(&r1);
	qt_resp_free(&r2);
}

Test(funnel_ext_api, malformed_rules_are_refused_naming_the_field, .init = start, .fini = stop)
{
	static const struct {
		const char *body, *msg;
	} bad[] = {
	    {"{" VCB ",\"window_ms\":1,\"order\":\"sideways\"}", "order: must be"},
	    {"{" VCB ",\"window_ms\":1,\"count\":\"people\"}", "count: must be"},
	    {"{" VCB ",\"window_ms\":1,\"same\":\"colour\"}", "same: must be"},
	    {"{" VCB ",\"window_ms\":1,\"exclude\":[{\"type\":\"x\",\"between\":[2,2]}]}",
	     "exclude[0].between"},
	    {"{" VCB ",\"window_ms\":1,\"exclude\":[{\"type\":\"x\",\"between\":[1,4]}]}",
	     "step 4 does not exist"},
	    {"{" VCB ",\"window_ms\":1,\"exclude\":[{\"type\":\"x\"}]}", "exclude[0].between"},
	    {"{" VCB ",\"window_ms\":1,\"exclude\":[{\"between\":[1,2]}]}", "exclude[0].type: missing"},
	    {"{\"steps\":[{\"type\":\"view\",\"within_ms\":5}],\"window_ms\":1}",
	     "steps[0].within_ms: the first step has no previous step"},
	    {"{\"steps\":[{\"type\":\"a\"},{\"type\":\"b\",\"within_ms\":0}],\"window_ms\":1}",
	     "steps[1].within_ms: must be an integer >= 1"},
	    {"{\"steps\":[{\"type\":\"a\"},{\"type\":\"b\",\"within_ms\":5,\"after_ms\":6}],"
	     "\"window_ms\":1}",
	     "after_ms: must not exceed within_ms"},
	    {"{\"steps\":[{\"type\":\"a\"},{\"type\":\"b\",\"after_ms\":6}],\"window_ms\":1,"
	     "\"order\":\"any\"}",
	     "order \\\"any\\\" takes no"},
	    {"{" VCB ",\"window_ms\":1,\"samples\":101}", "samples: must be an integer from 0 to 100"},
	    {"{" VCB ",\"window_ms\":1,\"time_to_convert\":{\"from\":2,\"to\":2}}",
	     "time_to_convert: needs"},
	    {"{" VCB ",\"window_ms\":1,\"time_to_convert\":{\"from\":1,\"to\":4}}",
	     "time_to_convert.to: step 4 does not exist"},
	    {"{" VCB ",\"window_ms\":1,\"time_to_convert\":{\"from\":1,\"to\":2,\"bins\":0}}",
	     "time_to_convert.bins: must be an integer from 1 to 100"},
	    {"{" VCB ",\"window_ms\":1,\"trend\":\"10ms\"}", "trend: must be an integer >= 1000"},
	    {"{" VCB ",\"window_ms\":1,\"order\":\"any\",\"samples\":3}", "takes no"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct qt_resp r;
		char msg[512];
		cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, bad[i].body,
				     strlen(bad[i].body), &r),
			     0);
		cr_assert_eq(r.status, 400, "%s: %d %s", bad[i].body, r.status, r.body);
		qt_error_of(&r, msg, sizeof msg);
		cr_assert(strstr(r.body, bad[i].msg), "%s: %s", bad[i].body, r.body);
		qt_resp_free(&r);
	}
}

Test(funnel_ext_api, samples_point_at_converted_and_dropped_sessions, .init = start, .fini = stop)
{
	static const char body[] = "{" VCB ",\"window_ms\":3600000,\"samples\":2}";
	struct qt_resp r;
	struct qt_json j;
	char s[64];

	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(qt_json_parse(&j, r.body, r.len), 0);
	int steps = qt_jget(&j, 0, "steps");
	/* step 1 converted: the latest view of each counted chain: e@20000,
	 * c@7000 (then a, b @1000, cut by samples: 2) */
	int conv = qt_jget(&j, qt_jget(&j, qt_jat(&j, steps, 0), "samples"), "converted");
	cr_assert_eq(qt_jlen(&j, conv), 2, "%s", r.body);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, conv, 0), "session"), s, sizeof s), "e");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, conv, 0), "ts")), 20000);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, conv, 0), "replay"), s, sizeof s),
			 "/replay/e?t=20000");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, conv, 1), "session"), s, sizeof s), "c");
	/* step 2: converted a (cart@2000), b (cart@1500); dropped there: c and
	 * e, at their step-1 events */
	int st2 = qt_jget(&j, qt_jat(&j, steps, 1), "samples");
	conv = qt_jget(&j, st2, "converted");
	int drop = qt_jget(&j, st2, "dropped");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, conv, 0), "session"), s, sizeof s), "a");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, conv, 0), "ts")), 2000);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, conv, 1), "session"), s, sizeof s), "b");
	cr_assert_eq(qt_jlen(&j, drop), 2);
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, drop, 0), "session"), s, sizeof s), "e");
	cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, qt_jat(&j, drop, 1), "session"), s, sizeof s), "c");
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, drop, 1), "ts")), 7000);
	/* the last step drops nobody after it; step 1 has no "before" */
	cr_assert_eq(qt_jlen(&j, qt_jget(&j, qt_jget(&j, qt_jat(&j, steps, 0), "samples"), "dropped")),
		     0);
	/* and the counts are those of the plain funnel */
	cr_assert_eq(qt_jint(&j, qt_jget(&j, qt_jat(&j, steps, 2), "count")), 2);
	qt_json_free(&j);
	qt_resp_free(&r);
}

Test(funnel_ext_api, time_to_convert_and_trend, .init = start, .fini = stop)
{
	static const char body[] = "{" VCB ",\"window_ms\":3600000,"
				   "\"time_to_convert\":{\"from\":1,\"to\":3,\"bins\":4},\"trend\":\"2s\"}";
	struct qt_resp r;

	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	/* view -> buy: a 2000 ms, b 600 ms: average 1300, lower median 600,
	 * p90 (nearest rank) 2000; 4 bins of (2000 - 600) / 4 + 1 = 351 ms */
	cr_assert(strstr(r.body, "\"time_to_convert\":{\"from\":1,\"to\":3,\"actors\":2,"
				 "\"average_ms\":1300.0,\"median_ms\":600,\"p90_ms\":2000,\"bins\":["
				 "{\"from_ms\":600,\"to_ms\":951,\"count\":1},"
				 "{\"from_ms\":951,\"to_ms\":1302,\"count\":0},"
				 "{\"from_ms\":1302,\"to_ms\":1653,\"count\":0},"
				 "{\"from_ms\":1653,\"to_ms\":2004,\"count\":1}]}"),
		  "%s", r.body);
	/* trend by the counted chain's step-1 time: a, b @1000 -> [0, 2000),
	 * both converted; c @7000 -> 6000; e's latest view @20000 -> 20000;
	 * all long closed (the store's times are in 1970) */
	cr_assert(strstr(r.body, "\"trend\":[{\"start\":0,\"incomplete\":false,\"steps\":[{\"count\":2,"),
		  "%s", r.body);
	cr_assert(strstr(r.body, "{\"start\":6000,\"incomplete\":false,\"steps\":[{\"count\":1,"),
		  "%s", r.body);
	cr_assert(strstr(r.body, "{\"start\":20000,\"incomplete\":false,\"steps\":[{\"count\":1,"),
		  "%s", r.body);
	qt_resp_free(&r);
}

Test(funnel_ext_api, a_trend_interval_still_open_is_incomplete, .init = start, .fini = stop)
{
	struct timespec t;
	char body[256];
	struct qt_resp r;

	clock_gettime(CLOCK_REALTIME, &t);
	long long now = (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
	add(now - 5000, "live", "", "view", "/", "", "");
	snprintf(body, sizeof body,
		 "{\"steps\":[{\"type\":\"view\"},{\"type\":\"buy\"}],\"window_ms\":\"1h\","
		 "\"trend\":\"1d\",\"from\":%lld}",
		 now - 60000);
	cr_assert_eq(qt_http(L.port, "POST", "/v1/funnel", NULL, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert(strstr(r.body, "\"incomplete\":true"), "%s", r.body);
	qt_resp_free(&r);
}
