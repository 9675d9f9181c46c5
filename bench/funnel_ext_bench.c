/*
 * funnel_ext_bench — the cost of each funnel rule beyond windowFunnel, as a
 * ratio to the plain ordered funnel timed in the same run.
 *
 *   funnel_ext_bench --data DIR [--threads T] [--runs R] [--by session|user]
 *                    [--rule NAME]
 *
 * DIR is a store made by `query_bench --events N --keep --data DIR` (its
 * generated clickstream: sessions of ~100 events, a signup -> add_to_cart ->
 * checkout -> purchase path taken with drop-off, 30 % of events with props
 * such as {"plan":"pro"}).  The store is opened read-only and queried in
 * process (q_funnel, no HTTP) with an engine of T workers (0: one per core).
 * For the 4-step session funnel with a 1 h window, plain and then with one
 * rule each, it prints the median of R runs (default 5) after one warm-up,
 * and the median ratio to the plain funnel, run alternately with the rule.
 * The same for the user funnel (window 1 day), plain and with one rule.
 * --by and --rule narrow it to one kind of funnel and one rule (to profile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "query.h"
#include "storage.h"

static struct store_str sv(const char *s)
{
	return (struct store_str){s, (uint32_t)strlen(s)};
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The base request: signup -> add_to_cart -> checkout -> purchase. */
static void base(struct q_funnel_req *rq, enum q_by by)
{
	static const char *const path[] = {"signup", "add_to_cart", "checkout", "purchase"};
	memset(rq, 0, sizeof *rq);
	rq->nsteps = 4;
	for (unsigned i = 0; i < 4; i++)
		rq->steps[i].type = sv(path[i]);
	rq->window_ms = by == Q_BY_USER ? 86400000 : 3600000;
	rq->by = by;
	rq->from = INT64_MIN;
	rq->to = INT64_MAX;
}

/* One rule added to rq, by name. */
static void rule(struct q_funnel_req *rq, const char *name)
{
	if (!strcmp(name, "strict"))
		rq->order = Q_ORDER_STRICT;
	else if (!strcmp(name, "any"))
		rq->order = Q_ORDER_ANY;
	else if (!strcmp(name, "within")) {
		rq->within_ms[1] = 30 * 60000; /* add_to_cart within 30 min of signup */
		rq->within_ms[3] = 20 * 60000;
	} else if (!strcmp(name, "after"))
		rq->after_ms[2] = 1000;
	else if (!strcmp(name, "exclude")) {
		rq->nexclude = 1; /* a scroll between add_to_cart and checkout */
		rq->exclude[0].m.type = sv("scroll");
		rq->exclude[0].from = 2;
		rq->exclude[0].to = 3;
	} else if (!strcmp(name, "same")) {
		rq->same = Q_SAME_URL;
	} else if (!strcmp(name, "entries"))
		rq->count = Q_COUNT_ENTRIES;
	else if (!strcmp(name, "samples"))
		rq->samples = 10;
	else if (!strcmp(name, "time_to_convert")) {
		rq->ttc_from = 1;
		rq->ttc_to = 4;
		rq->ttc_bins = 20;
	} else if (!strcmp(name, "trend"))
		rq->trend_ms = 86400000;
}

/* One run of rq: its ms (steps[] filled), or -1 on an error. */
static double time_one(struct q_engine *e, const struct q_funnel_req *rq, uint64_t *steps)
{
	struct q_funnel_res res;
	double t0 = now_ms(), t;
	int rc = q_funnel(e, rq, &res);

	if (rc < 0) {
		fprintf(stderr, "q_funnel: %s\n", err_str(rc));
		return -1;
	}
	t = now_ms() - t0;
	for (unsigned s = 0; s < res.nsteps; s++)
		steps[s] = res.steps[s].count;
	q_funnel_res_free(&res);
	return t;
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof t[0], dbl_cmp);
	return t[n / 2];
}

/* Each rule is timed in runs alternating with the plain funnel, so a
 * machine that slows down for a while slows both; the ratio printed is the
 * median of the per-pair ratios. */
static int run_set(struct q_engine *e, enum q_by by, const char *const *rules, int runs)
{
	struct q_funnel_req plain, rq;
	uint64_t steps[Q_MAX_STEPS], psteps[Q_MAX_STEPS];
	double pall[64], t[64], ratio[64];
	int np = 0;

	base(&plain, by);
	if (time_one(e, &plain, psteps) < 0) /* warm-up */
		return -1;
	for (int r = 0; r < runs; r++)
		if ((pall[np++] = time_one(e, &plain, psteps)) < 0)
			return -1;
	printf("%s funnel, 4 steps\n  %-16s %9.1f ms  1.00x  (%llu %llu %llu %llu)\n",
	       by == Q_BY_USER ? "user" : "session", "plain", median(pall, np),
	       (unsigned long long)psteps[0], (unsigned long long)psteps[1],
	       (unsigned long long)psteps[2], (unsigned long long)psteps[3]);
	for (int i = 0; rules[i]; i++) {
		base(&rq, by);
		rule(&rq, rules[i]);
		if (time_one(e, &rq, steps) < 0) /* warm-up */
			return -1;
		for (int r = 0; r < runs; r++) {
			double tp;
			/* untimed: the first query after a heavier one pays for its
			 * buffers being trimmed and the caches it evicted */
			if (time_one(e, &plain, psteps) < 0)
				return -1;
			tp = time_one(e, &plain, psteps);
			if (tp < 0 || (t[r] = time_one(e, &rq, steps)) < 0)
				return -1;
			ratio[r] = t[r] / tp;
		}
		printf("  %-16s %9.1f ms  %4.2fx  (%llu %llu %llu %llu)\n", rules[i], median(t, runs),
		       median(ratio, runs), (unsigned long long)steps[0],
		       (unsigned long long)steps[1], (unsigned long long)steps[2],
		       (unsigned long long)steps[3]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const all[] = {"strict",  "any",     "within",	   "after",
					  "exclude", "same",    "entries",	   "samples",
					  "time_to_convert",   "trend",	  NULL};
	static const char *const some[] = {"strict", "exclude", "entries", NULL};
	const char *dir = NULL, *only[2] = {NULL, NULL}, *by = NULL;
	unsigned threads = 0;
	int runs = 5;
	struct store_opts o = {.read_only = 1, .no_background = 1};
	struct store *st;
	struct q_engine *e;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rule") && i + 1 < argc)
			only[0] = argv[++i];
		else if (!strcmp(argv[i], "--by") && i + 1 < argc)
			by = argv[++i];
		else
			runs = 0;
	}
	if (!dir || runs < 1 || runs > 64 || (by && strcmp(by, "session") && strcmp(by, "user"))) {
		fprintf(stderr, "usage: funnel_ext_bench --data DIR [--threads T] [--runs R] "
				"[--by session|user] [--rule NAME]\n");
		return 2;
	}
	if (store_open(dir, &o, &st, err, sizeof err) < 0) {
		fprintf(stderr, "store_open %s: %s\n", dir, err);
		return 1;
	}
	if (q_engine_new(st, threads, &e) < 0) {
		fprintf(stderr, "q_engine_new failed\n");
		return 1;
	}
	int rc = ((!by || !strcmp(by, "session")) &&
		  run_set(e, Q_BY_SESSION, only[0] ? only : all, runs)) ||
		 ((!by || !strcmp(by, "user")) && run_set(e, Q_BY_USER, only[0] ? only : some, runs));
	q_engine_free(e);
	store_close(st);
	return rc ? 1 : 0;
}
