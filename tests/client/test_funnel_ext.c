/*
 * test_funnel_ext.c — `spoor funnel` with the rules beyond windowFunnel:
 * --order, within=/after= inside a step, --exclude ...,between=I-J, --same
 * and --count, on four hand-made sessions whose answers are worked out in
 * the comments (the same ones as tests/query/test_http_funnel_ext.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_harness.h"

TestSuite(cli_funnel_ext, .timeout = 300);

/*   a  view@1000 cart@2000(c1) help@2500 buy@3000(c2)
 *   b  view@1000 cart@1500(c9) buy@1600(c9)
 *   c  buy@5000 cart@6000 view@7000
 *   e  view@1000 buy@1100 view@1200 view@9000 buy@9500 view@20000 */
static const char EVENTS[] =
    "{\"session\":\"a\",\"ts\":1000,\"type\":\"view\"}\n"
    "{\"session\":\"a\",\"ts\":2000,\"type\":\"cart\",\"props\":{\"cart_id\":\"c1\"}}\n"
    "{\"session\":\"a\",\"ts\":2500,\"type\":\"help\"}\n"
    "{\"session\":\"a\",\"ts\":3000,\"type\":\"buy\",\"props\":{\"cart_id\":\"c2\"}}\n"
    "{\"session\":\"b\",\"ts\":1000,\"type\":\"view\"}\n"
    "{\"session\":\"b\",\"ts\":1500,\"type\":\"cart\",\"props\":{\"cart_id\":\"c9\"}}\n"
    "{\"session\":\"b\",\"ts\":1600,\"type\":\"buy\",\"props\":{\"cart_id\":\"c9\"}}\n"
    "{\"session\":\"c\",\"ts\":5000,\"type\":\"buy\"}\n"
    "{\"session\":\"c\",\"ts\":6000,\"type\":\"cart\"}\n"
    "{\"session\":\"c\",\"ts\":7000,\"type\":\"view\"}\n"
    "{\"session\":\"e\",\"ts\":1000,\"type\":\"view\"}\n"
    "{\"session\":\"e\",\"ts\":1100,\"type\":\"buy\"}\n"
    "{\"session\":\"e\",\"ts\":1200,\"type\":\"view\"}\n"
    "{\"session\":\"e\",\"ts\":9000,\"type\":\"view\"}\n"
    "{\"session\":\"e\",\"ts\":9500,\"type\":\"buy\"}\n"
    "{\"session\":\"e\",\"ts\":20000,\"type\":\"view\"}\n";

static void load_events(void)
{
	struct run r;
	char path[400];
	FILE *f;

	snprintf(path, sizeof path, "%s/ext.ndjson", S.dir);
	cr_assert((f = fopen(path, "w")));
	cr_assert_eq(fwrite(EVENTS, 1, sizeof EVENTS - 1, f), sizeof EVENTS - 1);
	cr_assert_eq(fclose(f), 0);
	SPOOR(&r, "post", path);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "16 accepted"), "%s", r.out);
	run_free(&r);
}

/* The "count" values of the steps of a --json funnel reply, space-separated. */
static void counts_of(const char *json, char *out, size_t cap)
{
	const char *end = strstr(json, "],\"actors\":"); /* the top-level steps only */
	size_t o = 0;
	out[0] = '\0';
	for (const char *p = json; (p = strstr(p, "{\"count\":")) && (!end || p < end); p += 9)
		o += (size_t)snprintf(out + o, cap - o, "%s%ld", o ? " " : "", strtol(p + 9, NULL, 10));
}

#define EXPECT(want, ...)                                                                          \
	do {                                                                                       \
		struct run r_;                                                                     \
		char got_[128];                                                                    \
		SPOOR(&r_, "funnel", "--json", __VA_ARGS__);                                       \
		cr_assert_eq(r_.status, 0, "%s%s", r_.out, r_.err);                                \
		counts_of(r_.out, got_, sizeof got_);                                              \
		cr_assert_str_eq(got_, want, "%s", r_.out);                                        \
		run_free(&r_);                                                                     \
	} while (0)

Test(cli_funnel_ext, every_new_flag_reaches_the_server, .init = start, .fini = stop)
{
	load_events();
	EXPECT("4 2 2", "--step", "view", "--step", "cart", "--step", "buy", "--window", "1h");
	/* a's help sits between its cart and its buy */
	EXPECT("4 2 1", "--step", "view", "--step", "cart", "--step", "buy", "--window", "1h",
	       "--order", "strict");
	EXPECT("4 2 1", "--step", "view", "--step", "cart", "--step", "buy", "--window", "1h",
	       "--exclude", "type=help,between=2-3");
	/* c did all three backwards */
	EXPECT("4 4 3", "--step", "view", "--step", "cart", "--step", "buy", "--window", "1h",
	       "--order", "any");
	/* b's buy came 100 ms after its cart */
	EXPECT("4 2 1", "--step", "view", "--step", "cart,within=1s", "--step", "buy,after=500ms",
	       "--window", "1h");
	EXPECT("2 1", "--step", "cart", "--step", "buy", "--window", "1h", "--same",
	       "props.cart_id");
	EXPECT("7 4", "--step", "view", "--step", "buy", "--window", "5s", "--count", "entries");
}

Test(cli_funnel_ext, bad_new_flags_are_usage_errors_or_server_refusals, .init = start,
     .fini = stop)
{
	struct run r;
	SPOOR(&r, "funnel", "--step", "view", "--step", "buy", "--window", "1h", "--exclude",
	      "help");
	want_fail(&r, 2, "between=I-J");
	SPOOR(&r, "funnel", "--step", "view", "--step", "buy", "--window", "1h", "--exclude",
	      "help,between=3-2");
	want_fail(&r, 2, "is not I-J");
	SPOOR(&r, "funnel", "--step", "view,within=1s", "--window", "1h");
	want_fail(&r, 1, "the first step has no previous step");
	SPOOR(&r, "funnel", "--step", "view", "--window", "1h", "--order", "sideways");
	want_fail(&r, 1, "order: must be");
}

Test(cli_funnel_ext, samples_time_to_convert_and_trend_are_printed, .init = start, .fini = stop)
{
	struct run r;
	char link[160];

	load_events();
	SPOOR(&r, "funnel", "--step", "view", "--step", "cart", "--step", "buy", "--window", "1h",
	      "--samples", "2", "--time-to-convert", "1-3/4", "--trend", "2s");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	/* a: view -> buy 2000 ms, b: 600 ms */
	cr_assert(strstr(r.out, "time to convert, step 1 to 3: 2 converted, average 1.3s, median "
				"600ms, p90 2s"),
		  "%s", r.out);
	/* step 2 dropped: e's latest view @20000 and c's view @7000, with links
	 * on the query URL the CLI was given */
	snprintf(link, sizeof link, "http://127.0.0.1:%d/replay/c?t=7000", S.qport);
	cr_assert(strstr(r.out, link), "%s", r.out);
	cr_assert(strstr(r.out, "step 2 samples:"), "%s", r.out);
	cr_assert(strstr(r.out, "trend (interval start"), "%s", r.out);
	run_free(&r);
	EXPECT("4 2 2", "--step", "view", "--step", "cart", "--step", "buy", "--window", "1h",
	       "--samples", "1", "--trend", "1d");
	SPOOR(&r, "funnel", "--step", "view", "--step", "buy", "--window", "1h", "--time-to-convert",
	      "2-1");
	want_fail(&r, 2, "is not I-J or I-J/BINS");
}
