/*
 * test_post.c — `spoor post` against the real spoord, and what every
 * command shares: exit statuses 1/2/3, the bearer token and ingest key, the
 * 413 split and the bounded 503 retries, the progress line on a terminal.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_harness.h"
#include "testutil.h"

TestSuite(cli_post, .timeout = 300);

Test(cli_post, post_names_rejected_lines_then_a_repost_is_all_duplicates, .init = start,
     .fini = stop)
{
	struct run r;
	struct qt_resp resp;
	struct qt_json j;
	char want[128], line[64];
	int good;

	gen_events(&G, 1);
	gen_file(&G, S.dir, "events.ndjson", 1);
	good = G.n;

	/* several batches, so error indexes must be mapped back across them */
	SPOOR(&r, "post", G.path, "--batch", "500");
	cr_assert_eq(r.status, 1, "rejected lines make exit 1: %d\n%s%s", r.status, r.out, r.err);
	snprintf(want, sizeof want, "%d events in", good + 6);
	cr_assert(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof want, "%d accepted, 6 rejected, 0 duplicates", good);
	cr_assert(strstr(r.out, want), "want \"%s\" in:\n%s", want, r.out);
	for (int i = 0; i < G.nbad; i++) {
		snprintf(line, sizeof line, "line %d: ", G.bad[i]);
		cr_assert(strstr(r.out, line), "bad line %d not named:\n%s", G.bad[i], r.out);
	}
	cr_assert(strstr(r.out, "session: missing"), "%s", r.out);
	cr_assert(strstr(r.out, "invalid JSON at column"), "%s", r.out);
	cr_assert_eq(count_lines(r.err), 1, "one line on stderr: %s", r.err);
	cr_assert(strstr(r.err, "6 of"), "%s", r.err);
	run_free(&r);

	/* the accepted events are queryable */
	qt_get_json(S.qport, "/v1/stats", 200, &resp, &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "events")), good);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "sessions")), NSESS);
	qt_json_free(&j);
	qt_resp_free(&resp);

	/* the same file again, through stdin, summary as JSON: every event has
	 * an id, so all are duplicates and nothing is stored twice */
	{
		const char *const args[] = {"post", "-", "--json", NULL};
		spoor_in(&r, G.path, args);
	}
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert_eq(qt_json_parse(&j, r.out, strlen(r.out)), 0, "%s", r.out);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "accepted")), 0);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "duplicates")), good);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "rejected")), 6);
	{
		int errs = qt_jget(&j, 0, "errors"), k = 0;
		cr_assert_eq(qt_jlen(&j, errs), 6);
		for (int e = qt_jfirst(&j, errs); e >= 0; e = qt_jnext(&j, errs, e), k++)
			cr_assert_eq(qt_jint(&j, qt_jget(&j, e, "line")), G.bad[k]);
	}
	qt_json_free(&j);
	run_free(&r);
	qt_get_json(S.qport, "/v1/stats", 200, &resp, &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "events")), good);
	qt_json_free(&j);
	qt_resp_free(&resp);
}

Test(cli_post, exit_status_2_for_usage_and_3_when_nothing_listens)
{
	char url[64], file[320], dir[256];
	struct run r;
	FILE *f;

	BARE(&r, "stats", "--bogus");
	want_fail(&r, 2, "--bogus");
	BARE(&r, "frobnicate");
	want_fail(&r, 2, "frobnicate");
	BARE(&r, "funnel", "--step", "pageview");
	want_fail(&r, 2, "--window");
	BARE(&r, "funnel", "--step", "type=pageview,urll=/", "--window", "1h");
	want_fail(&r, 2, "urll");
	BARE(&r, "funnel", "--step", "pageview", "--window", "an hour");
	want_fail(&r, 2, "--window");
	BARE(&r, "sessions", "--from", "yesterday");
	want_fail(&r, 2, "--from");
	BARE(&r, "series", "--interval");
	want_fail(&r, 2, "--interval");
	BARE(&r, "post", "/nonexistent/file.ndjson");
	want_fail(&r, 2, "/nonexistent/file.ndjson");

	BARE(&r, "funnel", "--help");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "usage: spoor funnel"), "%s", r.out);
	run_free(&r);

	snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
	BARE(&r, "stats", "--query-url", url);
	want_fail(&r, 3, "cannot connect");
	BARE(&r, "funnel", "--step", "a", "--window", "1h", "--query-url", url);
	want_fail(&r, 3, "cannot connect");
	tu_tmpdir(dir, sizeof dir, "cli");
	snprintf(file, sizeof file, "%s/one.ndjson", dir);
	f = fopen(file, "w");
	cr_assert(f);
	fprintf(f, "{\"session\":\"s\",\"type\":\"click\"}\n");
	fclose(f);
	BARE(&r, "post", file, "--url", url);
	want_fail(&r, 3, "cannot connect");
	tu_rmrf(dir);
}

static void start_guarded(void)
{
	static const char *const args[] = {
	    "--query-token", "tok-1", "--ingest-key", "key-1", "--max-body", "8k", NULL};
	cr_assert_eq(qt_spoord_start(&S, args), 0, "spoord did not start");
}

Test(cli_post, token_and_key_are_required_when_spoord_asks_and_413_splits_batches,
     .init = start_guarded, .fini = stop)
{
	char url[64], qurl[64], env_t[32] = "SPOOR_TOKEN=tok-1", env_k[32] = "SPOOR_KEY=key-1";
	char want[96];
	struct run r;

	snprintf(url, sizeof url, "http://127.0.0.1:%d", S.port);
	snprintf(qurl, sizeof qurl, "http://127.0.0.1:%d", S.qport);
	SPOOR(&r, "stats");
	want_fail(&r, 1, "401");
	SPOOR(&r, "stats", "--token", "wrong");
	want_fail(&r, 1, "401");

	gen_events(&G, 7);
	gen_file(&G, S.dir, "events.ndjson", 0);
	SPOOR(&r, "post", G.path);
	want_fail(&r, 1, "ingest key");

	/* the key from the environment; spoord takes at most 8 KiB a body, so
	 * the 960 KiB batches come back 413 and are split until they fit */
	{
		const char *const env[] = {env_k, NULL};
		const char *const argv[] = {SPOOR_CLI_PATH, "post", G.path, "--url", url, NULL};
		run_prog(&r, NULL, env, argv);
	}
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof want, "%d accepted, 0 rejected, 0 duplicates", G.n);
	cr_assert(strstr(r.out, want), "want \"%s\" in:\n%s%s", want, r.out, r.err);
	run_free(&r);

	{
		const char *const env[] = {env_t, NULL};
		const char *const argv[] = {SPOOR_CLI_PATH, "stats", "--json",
					    "--query-url",  qurl,    NULL};
		struct qt_json j;
		run_prog(&r, NULL, env, argv);
		cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
		cr_assert_eq(qt_json_parse(&j, r.out, strlen(r.out)), 0, "%s", r.out);
		cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "events")), G.n);
		qt_json_free(&j);
	}
	run_free(&r);
}

Test(cli_post, post_shows_a_progress_line_on_a_terminal, .init = start, .fini = stop)
{
	char cmd[1024];
	struct run r;

	if (access("/usr/bin/script", X_OK) != 0)
		cr_skip_test("script(1) from util-linux is not installed");
	gen_events(&G, 8);
	gen_file(&G, S.dir, "events.ndjson", 0);
	snprintf(cmd, sizeof cmd, "%s post %s --batch 200 --url http://127.0.0.1:%d",
		 SPOOR_CLI_PATH, G.path, S.port);
	{
		const char *const argv[] = {"/usr/bin/script", "-qec", cmd, "/dev/null", NULL};
		run_prog(&r, NULL, NULL, argv);
	}
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "posting ") && strstr(r.out, "events/s") && strchr(r.out, '\r'),
		  "no progress line on the terminal:\n%s", r.out);
	cr_assert(strstr(r.out, "accepted"), "%s", r.out);
	run_free(&r);
}

static void start_small_buffers(void)
{
	static const char *const args[] = {"--max-buffered", "1m", "--max-body", "4m", NULL};
	cr_assert_eq(qt_spoord_start(&S, args), 0, "spoord did not start");
}

Test(cli_post, post_retries_a_busy_server_a_bounded_number_of_times, .init = start_small_buffers,
     .fini = stop)
{
	struct qt_resp resp;
	struct qt_json j;
	struct run r;
	char want[96];
	time_t t0;

	char path[320], pad[1001];
	FILE *f;
	const int n = 1500; /* events of about 1 KiB: 1.5 MiB */

	memset(pad, 'x', 1000);
	pad[1000] = '\0';
	snprintf(path, sizeof path, "%s/big.ndjson", S.dir);
	f = fopen(path, "w");
	cr_assert(f);
	for (int i = 0; i < n; i++)
		fprintf(f,
			"{\"session\":\"b%d\",\"type\":\"click\",\"id\":\"%d\",\"props\":{\"pad\":"
			"\"%s\"}}\n",
			i % 50, i, pad);
	cr_assert_eq(fclose(f), 0);
	/* one 1.5 MiB body cannot fit spoord's 1 MiB of buffers: 503 each time */
	t0 = time(NULL);
	SPOOR(&r, "post", path, "--batch", "100000", "--batch-bytes", "2m", "--retries", "2");
	cr_assert(time(NULL) - t0 < 30, "the retries are bounded");
	want_fail(&r, 1, "503");
	qt_get_json(S.qport, "/v1/stats", 200, &resp, &j);
	cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "events")), 0);
	qt_json_free(&j);
	qt_resp_free(&resp);

	/* default batches fit */
	SPOOR(&r, "post", path);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof want, "%d accepted, 0 rejected, 0 duplicates", n);
	cr_assert(strstr(r.out, want), "want \"%s\" in:\n%s%s", want, r.out, r.err);
	run_free(&r);
}
