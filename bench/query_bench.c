/*
 * query_bench — funnel query speed of query/ over a realistic clickstream.
 *
 *   query_bench [--events N] [--threads T] [--runs R] [--data DIR] [--keep] [--reuse]
 *               [--no-seal]
 *
 * Makes N events (default 10 M) with a fixed seed: 3 days of sessions of
 * ~100 events (60..140), 1..5 sessions per user, mostly mouse events, some
 * clicks, scrolls, inputs and page views, and a signup -> add_to_cart ->
 * checkout -> purchase path that sessions follow partially (each step
 * taken with falling odds, so every step drops off).  Each session is one
 * store_append() batch, sessions in order of their start.  Then, on the
 * unsealed store (active and frozen segments: the live case) and again
 * after store_seal_all() (sorted lz4 blocks: the historical case), it times
 * with an engine of T workers (0: one per core) after one warm-up run, the
 * median of R runs (default 5) of:
 *
 *   session  signup -> add_to_cart -> checkout -> purchase, window 1 h
 *   user     the same by user, window 1 day
 *   heavy    pageview -> click -> signup(props.plan = "pro") by session,
 *            window 30 min, breakdown by url (more rows match)
 *
 * and prints events scanned per second.  The store lives in DIR (default: a
 * fresh directory under $TMPDIR or /tmp), removed at the end unless --keep.
 * --reuse queries the store already in DIR as it is (for profiling);
 * --no-seal stops after the unsealed round.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "query.h"
#include "storage.h"

#define SPAN_MS		   (3 * 86400000LL)
#define T0		   1700000000000LL /* an hour boundary */
#define MAX_SESSION_EVENTS 160

static const char *const mouse_types[] = {"mousemove", "mouseover", "mouseout", "click",
					  "scroll",    "input",	    "pageview"};
static const int mouse_weight[] = {55, 12, 12, 8, 6, 3, 4}; /* percent */
static const char *const path[] = {"signup", "add_to_cart", "checkout", "purchase"};
static const int path_odds[] = {35, 60, 55, 70}; /* percent: take step k given k-1 */

static unsigned long long rng_state = 0x5bd1e995f00dULL;

static unsigned long long rnd(void)
{
	unsigned long long x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static double mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static struct store_str sv(const char *s)
{
	return (struct store_str){s, (uint32_t)strlen(s)};
}

struct sess {
	int64_t start;
	uint32_t user;
};

static int sess_cmp(const void *a, const void *b)
{
	const struct sess *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Strings of the generator; events point into these. */
struct pools {
	char targets[200][64];
	char urls[500][64];
	char props[4][64];
};

/* Appends about n events.  Returns the number stored or -1. */
static long long fill(struct store *st, size_t n, const struct pools *pl)
{
	size_t nsess = n / 90 + 1, nu = 0, ns = 0, done = 0;
	struct sess *ss = calloc(nsess + 8, sizeof *ss);
	struct store_event ev[MAX_SESSION_EVENTS];
	int8_t status[MAX_SESSION_EVENTS];
	long long stored = 0;

	if (!ss)
		return -1;
	while (ns < nsess) { /* users with 1..5 sessions at random times */
		unsigned k = 1 + (unsigned)(rnd() % 5);
		for (unsigned i = 0; i < k && ns < nsess; i++)
			ss[ns++] = (struct sess){T0 + (int64_t)(rnd() % (SPAN_MS - 3600000)),
						 (uint32_t)nu};
		nu++;
	}
	qsort(ss, ns, sizeof *ss, sess_cmp);
	for (size_t s = 0; s < ns && done < n; s++) {
		char sid[40], uid[24];
		size_t len = 60 + rnd() % 81, at[4], npath = 0;
		int64_t ts = ss[s].start;
		const char *url = pl->urls[rnd() % 500];

		if (len > n - done)
			len = n - done;
		snprintf(sid, sizeof sid, "%016llx%016llx", rnd(), rnd());
		snprintf(uid, sizeof uid, "user-%u", ss[s].user);
		/* where the business steps go: increasing positions */
		while (npath < 4 && (int)(rnd() % 100) < path_odds[npath]) {
			size_t lo = npath ? at[npath - 1] + 1 : 0;
			if (lo >= len)
				break;
			at[npath] = lo + rnd() % ((len - lo) / 2 + 1);
			npath++;
		}
		for (size_t j = 0, p = 0; j < len; j++) {
			struct store_event *e = &ev[j];
			const char *type;
			unsigned r = (unsigned)(rnd() % 100), t = 0, acc = 0;

			ts += rnd() % 10 ? 20 + (int64_t)(rnd() % 400)
					 : 1000 + (int64_t)(rnd() % 60000);
			memset(e, 0, sizeof *e);
			if (p < npath && at[p] == j) {
				type = path[p++];
				e->props = sv(pl->props[rnd() % 4]);
			} else {
				while (t < 6 && r >= acc + (unsigned)mouse_weight[t])
					acc += (unsigned)mouse_weight[t++];
				type = mouse_types[t];
				if (t == 6)
					url = pl->urls[rnd() % 500];
				if (rnd() % 10 < 3)
					e->props = sv(pl->props[rnd() % 4]);
			}
			e->ts = ts;
			e->recv = ts + 40;
			e->session = (struct store_str){sid, 32};
			e->user = sv(uid);
			e->type = sv(type);
			e->target = t == 0 ? (struct store_str){0} : sv(pl->targets[rnd() % 200]);
			e->url = sv(url);
			e->x = (int32_t)(rnd() % 1280);
			e->y = (int32_t)(rnd() % 720);
			e->flags = STORE_HAS_X | STORE_HAS_Y;
		}
		int rc = store_append(st, ev, len, status);
		if (rc < 0) {
			fprintf(stderr, "store_append: %d\n", rc);
			free(ss);
			return -1;
		}
		stored += rc;
		done += len;
	}
	free(ss);
	return stored;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Times one request: warm-up, then the median of runs. */
static int time_funnel(struct q_engine *e, const char *name, const struct q_funnel_req *rq,
		       int runs)
{
	struct q_funnel_res r;
	double t[64], t0;
	int rc;

	if ((rc = q_funnel(e, rq, &r)) < 0) {
		fprintf(stderr, "%s: q_funnel: %d\n", name, rc);
		return rc;
	}
	q_funnel_res_free(&r);
	for (int i = 0; i < runs; i++) {
		t0 = mono_ms();
		if ((rc = q_funnel(e, rq, &r)) < 0)
			return rc;
		t[i] = mono_ms() - t0;
		if (i + 1 < runs)
			q_funnel_res_free(&r);
	}
	qsort(t, (size_t)runs, sizeof *t, dcmp);
	printf("  %-8s %7.1f ms  %6.1f M events scanned/s  (scanned %llu, actors %llu, steps", name,
	       t[runs / 2], (double)r.events_scanned / t[runs / 2] / 1e3,
	       (unsigned long long)r.events_scanned, (unsigned long long)r.actors);
	for (unsigned i = 0; i < r.nsteps; i++)
		printf(" %llu", (unsigned long long)r.steps[i].count);
	printf(", median ms");
	for (unsigned i = 1; i < r.nsteps; i++)
		printf(" %lld", (long long)r.steps[i].median_ms_from_prev);
	printf(")\n");
	q_funnel_res_free(&r);
	return 0;
}

static int run_all(struct q_engine *e, int runs)
{
	struct q_funnel_req rq;
	int rc;

	memset(&rq, 0, sizeof rq);
	rq.nsteps = 4;
	for (int i = 0; i < 4; i++)
		rq.steps[i].type = sv(path[i]);
	rq.window_ms = 3600000;
	rq.from = INT64_MIN;
	rq.to = INT64_MAX;
	if ((rc = time_funnel(e, "session", &rq, runs)) < 0)
		return rc;
	rq.by = Q_BY_USER;
	rq.window_ms = 86400000;
	if ((rc = time_funnel(e, "user", &rq, runs)) < 0)
		return rc;
	memset(&rq, 0, sizeof rq);
	rq.nsteps = 3;
	rq.steps[0].type = sv("pageview");
	rq.steps[1].type = sv("click");
	rq.steps[2].type = sv("signup");
	rq.steps[2].nprops = 1;
	rq.steps[2].props[0] = (struct q_prop_eq){sv("plan"), sv("\"pro\"")};
	rq.window_ms = 1800000;
	rq.from = INT64_MIN;
	rq.to = INT64_MAX;
	rq.breakdown = Q_BD_URL;
	return time_funnel(e, "heavy", &rq, runs);
}

int main(int argc, char **argv)
{
	size_t n = 10000000;
	unsigned threads = 0;
	int runs = 5, keep = 0, reuse = 0, no_seal = 0, rc = 1;
	char dir[512] = "", err[256], cmd[600];
	struct store_opts o = {.no_background = 1};
	struct store *st = NULL;
	struct q_engine *e = NULL;
	struct pools *pl = calloc(1, sizeof *pl);
	double t0;
	long long stored;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--data") && i + 1 < argc)
			snprintf(dir, sizeof dir, "%s", argv[++i]);
		else if (!strcmp(argv[i], "--keep"))
			keep = 1;
		else if (!strcmp(argv[i], "--reuse"))
			reuse = keep = 1;
		else if (!strcmp(argv[i], "--no-seal"))
			no_seal = 1;
		else {
			fprintf(stderr,
				"usage: %s [--events N] [--threads T] [--runs R] [--data DIR] "
				"[--keep] [--reuse] [--no-seal]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 64 || !pl)
		return 2;
	if (reuse && !dir[0])
		return 2;
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/spoor-query-bench-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	for (int i = 0; i < 200; i++)
		snprintf(pl->targets[i], sizeof pl->targets[i],
			 "main>div.card:nth-child(%d)>button.cta-%d", i % 17, i);
	for (int i = 0; i < 500; i++)
		snprintf(pl->urls[i], sizeof pl->urls[i],
			 "https://shop.example.com/catalog/item-%d", i * 7);
	snprintf(pl->props[0], sizeof pl->props[0], "{\"plan\":\"pro\",\"w\":1280}");
	snprintf(pl->props[1], sizeof pl->props[1], "{\"plan\":\"free\",\"w\":1280}");
	snprintf(pl->props[2], sizeof pl->props[2], "{\"w\":1440,\"dwell_ms\":812}");
	snprintf(pl->props[3], sizeof pl->props[3], "{\"plan\":\"pro\",\"coupon\":null}");

	if (store_open(dir, &o, &st, err, sizeof err) < 0) {
		fprintf(stderr, "store_open %s: %s\n", dir, err);
		goto out;
	}
	if (reuse) {
		if (q_engine_new(st, threads, &e) < 0)
			goto out;
		printf("query_bench: the store in %s, as it is:\n", dir);
		rc = run_all(e, runs) < 0;
		goto out;
	}
	t0 = mono_ms();
	if ((stored = fill(st, n, pl)) < 0)
		goto out;
	printf("query_bench: %lld events in %s (appended in %.1f s)\n", stored, dir,
	       (mono_ms() - t0) / 1e3);
	if (q_engine_new(st, threads, &e) < 0)
		goto out;
	printf("unsealed (active and frozen segments):\n");
	if (run_all(e, runs) < 0)
		goto out;
	if (no_seal) {
		rc = 0;
		goto out;
	}
	t0 = mono_ms();
	if (store_seal_all(st) < 0) {
		fprintf(stderr, "store_seal_all failed\n");
		goto out;
	}
	printf("sealed (sealed in %.1f s):\n", (mono_ms() - t0) / 1e3);
	if (run_all(e, runs) < 0)
		goto out;
	rc = 0;
out:
	q_engine_free(e);
	store_close(st);
	if (!keep) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	free(pl);
	return rc;
}
