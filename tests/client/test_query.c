/*
 * test_query.c — `spoor funnel`, `replay`, `sessions`, `series` and `stats`
 * against the real spoord, each on a generated clickstream whose answers
 * are computed here, independently of the server: the funnel by a direct
 * reading of its definition, the others by counting.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_harness.h"

TestSuite(cli_query, .timeout = 300);

/* Step matchers of the funnels below. */
typedef int (*match_fn)(const struct gev *e, int step);

static int match_pv_click_signup(const struct gev *e, int step)
{
	switch (step) {
	case 0: return e->type == 0 && e->url == 0; /* type=pageview,url=/ */
	case 1: return e->type == 1;		    /* type=click */
	default: return e->type == 2;		    /* signup */
	}
}

/*
 * counts[k] = actors (sessions, or users when by_user) whose level is > k:
 * the level is the longest chain e1 < e2 < ... of events matching steps
 * 1, 2, ... with the last at most window after the first.  For a fixed e1
 * taking the earliest match of each next step is never worse, so the level
 * is the best greedy chain over all starts.
 */
static void ref_funnel(int by_user, int nsteps, match_fn match, int64_t window, long *counts)
{
	static int idx[NSESS][MAX_EV / 8];
	int nidx[NSESS] = {0};

	memset(counts, 0, sizeof *counts * (size_t)nsteps);
	for (int i = 0; i < G.n; i++) {
		int a = by_user ? G.ev[i].user : G.ev[i].sess;
		if (a < 0)
			continue;
		cr_assert(nidx[a] < MAX_EV / 8);
		idx[a][nidx[a]++] = i; /* G.ev is in time order */
	}
	for (int a = 0; a < NSESS; a++) {
		int level = 0;
		for (int s = 0; s < nidx[a]; s++) {
			const struct gev *e1 = &G.ev[idx[a][s]];
			int lv = 1, cur = s;
			if (!match(e1, 0))
				continue;
			for (int k = 1; k < nsteps; k++) {
				int j = cur + 1;
				while (j < nidx[a] && G.ev[idx[a][j]].ts - e1->ts <= window &&
				       !match(&G.ev[idx[a][j]], k))
					j++;
				if (j >= nidx[a] || G.ev[idx[a][j]].ts - e1->ts > window)
					break;
				lv++;
				cur = j;
			}
			if (lv > level)
				level = lv;
		}
		for (int k = 0; k < level; k++)
			counts[k]++;
	}
}

/* Reads the step rows of a funnel table ("  1  label  count  conv  ...")
 * into counts and the conv column into conv; returns the rows found. */
static int table_rows(const char *out, long *counts, char conv[][16], int max)
{
	int n = 0;

	for (const char *p = out; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		int k;
		long c;
		char label[256], cv[16];
		if (sscanf(p, " %d %255s %ld %15s", &k, label, &c, cv) == 4 && k == n + 1) {
			counts[n] = c;
			if (conv)
				memcpy(conv[n], cv, sizeof cv);
			n++;
		}
	}
	return n;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* "12.5%" as spoor prints a conversion: rounded down to a tenth. */
static void conv_text(char *out, size_t cap, long part, long whole)
{
	long tenths = whole ? (long)((double)part * 1000.0 / (double)whole + 1e-6) : 0;
	snprintf(out, cap, "%ld.%ld%%", tenths / 10, tenths % 10);
}

/* Runs the pageview → click → signup funnel through spoor (table and
 * --json) and checks both against ref_funnel(). */
static void check_funnel(const char *by, const char *window, int64_t window_ms)
{
	long want[3], got[3];
	char conv[3][16], c[16];
	struct run r;
	struct qt_json j;
	int steps, k = 0;

	ref_funnel(strcmp(by, "user") == 0, 3, match_pv_click_signup, window_ms, want);
	/* the data must make the funnel interesting: drop-outs at each step */
	cr_assert(want[0] > want[1] && want[1] > want[2] && want[2] > 0, "%ld %ld %ld", want[0],
		  want[1], want[2]);
	SPOOR(&r, "funnel", "--step", "type=pageview,url=/", "--step", "type=click", "--step",
	      "signup", "--window", window, "--by", by);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "funnel by ") && strstr(r.out, by), "%s", r.out);
	cr_assert_eq(table_rows(r.out, got, conv, 3), 3, "%s", r.out);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(got[i], want[i],
			     "by %s window %s step %d: table %ld, reference %ld\n%s", by, window,
			     i + 1, got[i], want[i], r.out);
		conv_text(c, sizeof c, want[i], want[0]);
		cr_assert_str_eq(conv[i], c, "%s", r.out);
	}
	cr_assert(strchr(r.out, '#'), "a bar per step when piped: %s", r.out);
	run_free(&r);

	SPOOR(&r, "funnel", "--json", "--step", "type=pageview,url=/", "--step", "type=click",
	      "--step", "signup", "--window", window, "--by", by);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_eq(qt_json_parse(&j, r.out, strlen(r.out)), 0, "%s", r.out);
	steps = qt_jget(&j, 0, "steps");
	cr_assert_eq(qt_jlen(&j, steps), 3);
	for (int s = qt_jfirst(&j, steps); s >= 0; s = qt_jnext(&j, steps, s), k++)
		cr_assert_eq(qt_jint(&j, qt_jget(&j, s, "count")), want[k]);
	qt_json_free(&j);
	run_free(&r);
}

Test(cli_query, funnel_table_counts_match_a_reference_funnel, .init = start, .fini = stop)
{
	load(2);
	check_funnel("session", "1h", 3600000);
	check_funnel("session", "30m", 1800000);
	check_funnel("user", "2h", 7200000);
}

Test(cli_query, funnel_breakdown_groups_by_the_first_step_event, .init = start, .fini = stop)
{
	long want[3] = {0, 0, 0}, got[3] = {-1, -1, -1};
	int last_pv[NSESS];
	struct run r;
	const char *p;

	load(3);
	/* one step: the counted chain is the latest pageview of each session */
	for (int s = 0; s < NSESS; s++)
		last_pv[s] = -1;
	for (int i = 0; i < G.n; i++)
		if (G.ev[i].type == 0)
			last_pv[G.ev[i].sess] = G.ev[i].url;
	for (int s = 0; s < NSESS; s++)
		if (last_pv[s] >= 0)
			want[last_pv[s]]++;
	SPOOR(&r, "funnel", "--step", "pageview", "--window", "1h", "--breakdown", "url");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	p = strstr(r.out, "breakdown by url");
	cr_assert(p, "%s", r.out);
	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		char v[64];
		long c;
		if (sscanf(p, " %63s %ld", v, &c) != 2)
			continue;
		for (int u = 0; u < 3; u++)
			if (strcmp(v, URLS[u]) == 0)
				got[u] = c;
	}
	for (int u = 0; u < 3; u++)
		cr_assert_eq(got[u], want[u], "url %s: %ld, reference %ld\n%s", URLS[u], got[u],
			     want[u], r.out);
	run_free(&r);
}

/* "2024-11-21 14:40:00.007" of ts in UTC. */
static void utc_text(char *out, size_t cap, int64_t ts)
{
	time_t s = (time_t)(ts / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03d", (int)(ts % 1000));
}

Test(cli_query, replay_prints_a_session_in_order_across_pages, .init = start, .fini = stop)
{
	int count[NSESS] = {0}, best = 0, want[16], n = 0, k = 0;
	char name[16], hdr[96], line[64];
	struct run r;
	struct qt_json j;
	const char *p;

	load(4);
	for (int i = 0; i < G.n; i++)
		count[G.ev[i].sess]++;
	for (int s = 0; s < NSESS; s++)
		if (count[s] > count[best] && s % 10 != 9) /* one with a user */
			best = s;
	for (int i = 0; i < G.n; i++)
		if (G.ev[i].sess == best)
			want[n++] = i;
	cr_assert(n >= 8, "a long session");
	snprintf(name, sizeof name, "s%03d", best);

	/* table: pages of 3, so at least three requests */
	SPOOR(&r, "replay", name, "--page-size", "3");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	snprintf(hdr, sizeof hdr, "session %s (user u%d): %d events", name, best % NUSERS, n);
	cr_assert(strncmp(r.out, hdr, strlen(hdr)) == 0, "want \"%s\":\n%s", hdr, r.out);
	p = strchr(strchr(r.out, '\n') + 1, '\n') + 1; /* past the title and the header */
	for (int i = 0; i < n; i++) {
		char d[16], t[16], off[16], type[32], when[40];
		const struct gev *e = &G.ev[want[i]];
		cr_assert(p && sscanf(p, " %15s %15s %15s %31s", d, t, off, type) == 4, "%s",
			  r.out);
		snprintf(line, sizeof line, "%s %s", d, t);
		utc_text(when, sizeof when, e->ts);
		cr_assert_str_eq(line, when, "row %d:\n%s", i, r.out);
		cr_assert_str_eq(type, TYPES[e->type], "row %d:\n%s", i, r.out);
		p = strchr(p, '\n');
		p = p ? p + 1 : p;
	}
	cr_assert(!p || !*p, "no more rows: %s", p);
	run_free(&r);

	/* NDJSON: one event per line, streamed page by page */
	SPOOR(&r, "replay", name, "--ndjson", "--page-size", "4");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_eq(count_lines(r.out), n, "%s", r.out);
	k = 0;
	for (p = r.out; *p; k++) {
		const char *nl = strchr(p, '\n');
		char id[32], want_id[32];
		cr_assert_eq(qt_json_parse(&j, p, (size_t)(nl - p)), 0);
		cr_assert_eq(qt_jint(&j, qt_jget(&j, 0, "ts")), G.ev[want[k]].ts);
		snprintf(want_id, sizeof want_id, "e%d", G.ev[want[k]].id);
		cr_assert_str_eq(qt_jstr(&j, qt_jget(&j, 0, "id"), id, sizeof id), want_id);
		qt_json_free(&j);
		p = nl + 1;
	}
	run_free(&r);

	/* --json over several pages: one document with every event */
	SPOOR(&r, "replay", name, "--json", "--page-size", "4");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_eq(qt_json_parse(&j, r.out, strlen(r.out)), 0, "%s", r.out);
	{
		int evs = qt_jget(&j, 0, "events");
		k = 0;
		cr_assert_eq(qt_jlen(&j, evs), (size_t)n);
		for (int e = qt_jfirst(&j, evs); e >= 0; e = qt_jnext(&j, evs, e), k++)
			cr_assert_eq(qt_jint(&j, qt_jget(&j, e, "ts")), G.ev[want[k]].ts);
		cr_assert(qt_jnull(&j, qt_jget(&j, 0, "after")));
	}
	qt_json_free(&j);
	run_free(&r);

	SPOOR(&r, "replay", "nobody");
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "unknown session") && count_lines(r.err) == 1, "%s", r.err);
	run_free(&r);
}

Test(cli_query, sessions_of_a_user_list_their_events_and_pages, .init = start, .fini = stop)
{
	const int user = 7; /* sessions 7, 157 and 307 */
	long events[NSESS] = {0};
	int urls[NSESS] = {0}, seen = 0;
	struct run r;
	struct qt_json j;

	load(5);
	for (int i = 0; i < G.n; i++) {
		events[G.ev[i].sess]++;
		urls[G.ev[i].sess] |= 1 << G.ev[i].url;
	}
	SPOOR(&r, "sessions", "--user", "u7");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	for (const char *p = r.out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		char sess[32], u[32];
		long ev, pages;
		int s;
		if (sscanf(p, "%31s %31s %*s %*s %*s %*s %*s %ld %ld", sess, u, &ev, &pages) != 4 ||
		    sscanf(sess, "s%d", &s) != 1)
			continue;
		cr_assert(s % NUSERS == user && s < NSESS, "%s", r.out);
		cr_assert_str_eq(u, "u7");
		cr_assert_eq(ev, events[s], "%s: %ld events, want %ld", sess, ev, events[s]);
		cr_assert_eq(pages, __builtin_popcount((unsigned)urls[s]), "%s", r.out);
		seen |= 1 << (s / NUSERS);
	}
	cr_assert_eq(seen, 7, "sessions 7, 157 and 307:\n%s", r.out);
	cr_assert(strstr(r.out, "\n3 sessions\n"), "%s", r.out);
	run_free(&r);

	SPOOR(&r, "sessions", "--user", "u7", "--json");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(qt_json_parse(&j, r.out, strlen(r.out)), 0, "%s", r.out);
	cr_assert_eq(qt_jlen(&j, qt_jget(&j, 0, "sessions")), 3);
	qt_json_free(&j);
	run_free(&r);
}

Test(cli_query, series_counts_each_hour_and_stats_count_the_store, .init = start, .fini = stop)
{
	const int64_t from = T0 - 40 * 60000, to = from + 8 * 3600000; /* 14:00 to 22:00 UTC */
	long want[8] = {0}, total = 0, got_total = -1;
	int rows = 0;
	struct run r;
	char env_q[64], want_line[64];
	const char *p;

	load(6);
	for (int i = 0; i < G.n; i++)
		if (G.ev[i].type == 2 && G.ev[i].ts >= from && G.ev[i].ts < to) {
			want[(G.ev[i].ts - from) / 3600000]++;
			total++;
		}
	cr_assert(total > 50);
	SPOOR(&r, "series", "--type", "signup", "--interval", "1h", "--from",
	      "2024-11-21T14:00:00Z", "--to", "2024-11-21T23:00:00+01:00");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	/* "events (type=signup) per 1h from ... to ...: 123 in total" */
	p = strstr(r.out, ": ");
	cr_assert(p && p < strchr(r.out, '\n') && sscanf(p, ": %ld in total", &got_total) == 1,
		  "%s", r.out);
	cr_assert_eq(got_total, total, "%s", r.out);
	for (p = strchr(r.out, '\n'); p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		int h;
		long c, s;
		if (sscanf(p, " 2024-11-21 %d:00:00 %ld %ld", &h, &c, &s) != 3)
			continue;
		cr_assert(h >= 14 && h < 22, "%s", r.out);
		cr_assert_eq(c, want[h - 14], "hour %d: %ld, want %ld\n%s", h, c, want[h - 14],
			     r.out);
		rows++;
	}
	cr_assert_eq(rows, 8, "%s", r.out);
	run_free(&r);

	/* stats, with the query URL from the environment */
	snprintf(env_q, sizeof env_q, "SPOOR_QUERY_URL=http://127.0.0.1:%d", S.qport);
	{
		const char *const env[] = {env_q, NULL};
		const char *const argv[] = {SPOOR_CLI_PATH, "stats", NULL};
		run_prog(&r, NULL, env, argv);
	}
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	snprintf(want_line, sizeof want_line, "events      %d\n", G.n);
	cr_assert(strstr(r.out, want_line), "want \"%s\":\n%s", want_line, r.out);
	snprintf(want_line, sizeof want_line, "sessions    %d\n", NSESS);
	cr_assert(strstr(r.out, want_line), "want \"%s\":\n%s", want_line, r.out);
	run_free(&r);
}

/* A loopback port with nothing listening: bound, then closed. */
