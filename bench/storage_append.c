/*
 * storage_append — in-process append throughput of storage/ and bytes on
 * disk per event after sealing.
 *
 *   storage_append [--events N] [--batch B] [--runs R] [--hours H] [--data DIR]
 *                  [--keep] [--no-seal]
 *
 * Events are a realistic clickstream made up front (so generation is not
 * timed): sessions of ~100 events over the last H hours (default 1: live
 * ingest, one partition; 72 is a 3-day backfill), mostly mouse moves and
 * hovers, some clicks, scrolls, inputs, page views and business events;
 * about 6 dictionary strings per event (session, user, type, target, url,
 * id) and 30% of events with ~60 bytes of props.  Each batch holds events of
 * one session, as the browser SDK sends them.  For 1 and 2 threads it
 * appends all events into a fresh store R times and prints the median rate;
 * then it seals everything and prints bytes per event on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"

static const char *const types[] = {"mousemove", "mouseover", "mouseout", "click", "scroll",
				    "input", "pageview", "signup", "add_to_cart", "checkout"};
static const int type_weight[] = {50, 12, 12, 8, 8, 3, 4, 1, 1, 1}; /* percent */

struct gen {
	unsigned long long rng;
	char *pool;    /* string storage */
	size_t used, cap;
};

static unsigned long long rnd(struct gen *g)
{
	unsigned long long x = g->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return g->rng = x;
}

static struct store_str keep(struct gen *g, const char *s, size_t n)
{
	struct store_str r;
	if (g->used + n > g->cap) {
		fprintf(stderr, "string pool exhausted\n");
		exit(1);
	}
	memcpy(g->pool + g->used, s, n);
	r.p = g->pool + g->used;
	r.n = (uint32_t)n;
	g->used += n;
	return r;
}

static int64_t wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Makes n events; batch_of[i] = first event of the batch event i ends. */
static struct store_event *generate(struct gen *g, size_t n, size_t batch, int hours,
				    size_t **bounds, size_t *nb)
{
	struct store_event *ev = calloc(n, sizeof *ev);
	struct store_str tstr[10], targets[200], urls[40];
	size_t *b = malloc((n / 1 + 2) * sizeof *b);
	int64_t end = wall_ms(), span = hours * 3600000LL;
	char buf[256];
	size_t i = 0, k = 0;

	g->cap = n * 96 + (1 << 20);
	g->pool = malloc(g->cap);
	if (!ev || !b || !g->pool)
		exit(1);
	for (int t = 0; t < 10; t++)
		tstr[t] = keep(g, types[t], strlen(types[t]));
	for (int t = 0; t < 200; t++) {
		int len = snprintf(buf, sizeof buf, "main>div.card:nth-child(%d)>button.cta-%d", t % 17,
				   t);
		targets[t] = keep(g, buf, (size_t)len);
	}
	for (int u = 0; u < 40; u++) {
		int len = snprintf(buf, sizeof buf, "https://shop.example.com/catalog/item-%d", u * 7);
		urls[u] = keep(g, buf, (size_t)len);
	}
	while (i < n) {
		/* a session: 60..140 events starting somewhere in the 3 days, in time order */
		size_t len = 60 + rnd(g) % 81, sent = 0;
		int64_t ts = end - span + (int64_t)((double)i / (double)n * (double)span);
		char sess[40], user[24];
		int ls = snprintf(sess, sizeof sess, "%016llx%016llx", rnd(g), rnd(g));
		int lu = snprintf(user, sizeof user, "user-%llu", rnd(g) % (n / 250 + 1));
		struct store_str s = keep(g, sess, (size_t)ls), us = keep(g, user, (size_t)lu);
		struct store_str url = urls[rnd(g) % 40];
		int x = 400, y = 300;

		if (len > n - i)
			len = n - i;
		b[k++] = i;
		for (size_t j = 0; j < len; j++, i++) {
			struct store_event *e = &ev[i];
			unsigned r = (unsigned)(rnd(g) % 100), t = 0, acc = 0;
			while (t < 9 && r >= acc + (unsigned)type_weight[t])
				acc += (unsigned)type_weight[t++];
			ts += 20 + (int64_t)(rnd(g) % 400);
			if (t == 6)
				url = urls[rnd(g) % 40];
			x += (int)(rnd(g) % 41) - 20;
			y += (int)(rnd(g) % 41) - 20;
			e->ts = ts;
			e->recv = ts + 40;
			e->session = s;
			e->user = us;
			e->type = tstr[t];
			e->target = t == 0 ? (struct store_str){0} : targets[rnd(g) % 200];
			e->url = url;
			e->x = x;
			e->y = y;
			e->flags = STORE_HAS_X | STORE_HAS_Y;
			int li = snprintf(buf, sizeof buf, "%zx", j);
			e->id = keep(g, buf, (size_t)li);
			if (rnd(g) % 10 < 3) {
				int lp = snprintf(buf, sizeof buf,
						  "{\"w\":1280,\"h\":720,\"dwell_ms\":%llu,\"plan\":\"%s\"}",
						  rnd(g) % 5000, (rnd(g) & 1) ? "pro" : "free");
				e->props = keep(g, buf, (size_t)lp);
			}
			if (++sent == batch && j + 1 < len) {
				b[k++] = i + 1;
				sent = 0;
			}
		}
	}
	b[k] = n;
	*bounds = b;
	*nb = k;
	return ev;
}

struct job {
	struct store *s;
	const struct store_event *ev;
	const size_t *b;
	size_t from, to; /* batch indexes */
	uint64_t ok;
	int err;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	static __thread int8_t st[100000];
	for (size_t k = j->from; k < j->to; k++) {
		size_t a = j->b[k], n = j->b[k + 1] - a;
		int rc = store_append(j->s, j->ev + a, n, st);
		if (rc < 0) {
			j->err = rc;
			return NULL;
		}
		j->ok += (uint64_t)rc;
	}
	return NULL;
}

static int rmrf(const char *dir)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

static uint64_t sealed_bytes(const char *dir, uint64_t *files)
{
	char cmd[1200];
	unsigned long long bytes = 0, n = 0;
	snprintf(cmd, sizeof cmd, "find '%s' -name '*.seg' -printf '%%s\\n'", dir);
	FILE *f = popen(cmd, "r");
	if (!f)
		return 0;
	unsigned long long v;
	while (fscanf(f, "%llu", &v) == 1) {
		bytes += v;
		n++;
	}
	pclose(f);
	*files = n;
	return bytes;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t n = 4000000, batch = 100, nb, *bounds;
	int runs = 3, keep_data = 0, no_seal = 0, hours = 1;
	const char *data = NULL;
	char dir[512];
	struct gen g = {.rng = 0x5eed5eedULL};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--data") && i + 1 < argc)
			data = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			keep_data = 1;
		else if (!strcmp(argv[i], "--hours") && i + 1 < argc)
			hours = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-seal"))
			no_seal = 1;
		else {
			fprintf(stderr, "usage: storage_append [--events N] [--batch B] [--runs R] "
					"[--hours H] [--data DIR] [--keep] [--no-seal]\n");
			return 2;
		}
	}
	if (n < 1000 || batch < 1 || batch > 100000 || runs < 1) {
		fprintf(stderr, "storage_append: need events >= 1000, 1 <= batch <= 100000\n");
		return 2;
	}
	if (hours < 1 || hours > 24 * 365) {
		fprintf(stderr, "storage_append: --hours must be 1..8760\n");
		return 2;
	}
	struct store_event *ev = generate(&g, n, batch, hours, &bounds, &nb);
	uint64_t raw = 0;
	for (size_t i = 0; i < n; i++)
		raw += 16 + ev[i].session.n + ev[i].user.n + ev[i].type.n + ev[i].target.n +
		       ev[i].url.n + ev[i].props.n + ev[i].id.n + 8;
	printf("storage_append: %zu events in %zu batches (<= %zu events, one session each), "
	       "%.0f bytes/event of fields\n",
	       n, nb, batch, (double)raw / (double)n);

	for (int threads = 1; threads <= 2; threads++) {
		double rate[32];
		for (int r = 0; r < runs && r < 32; r++) {
			struct store *s;
			struct store_opts o = {.no_background = no_seal};
			char err[256];
			pthread_t th[2];
			struct job jobs[2];
			if (data)
				snprintf(dir, sizeof dir, "%s/t%d-r%d", data, threads, r);
			else
				snprintf(dir, sizeof dir, "/tmp/spoor-bench-%d-t%d-r%d", (int)getpid(),
					 threads, r);
			rmrf(dir);
			mkdir(data ? data : "/tmp", 0755);
			if (store_open(dir, &o, &s, err, sizeof err) < 0) {
				fprintf(stderr, "store_open %s: %s\n", dir, err);
				return 1;
			}
			double t0 = mono(), c0 = cpu_seconds();
			for (int t = 0; t < threads; t++) {
				jobs[t] = (struct job){s, ev, bounds, nb * (size_t)t / (size_t)threads,
						       nb * (size_t)(t + 1) / (size_t)threads, 0, 0};
				pthread_create(&th[t], NULL, run_job, &jobs[t]);
			}
			uint64_t ok = 0;
			for (int t = 0; t < threads; t++) {
				pthread_join(th[t], NULL);
				if (jobs[t].err) {
					fprintf(stderr, "append failed: %d\n", jobs[t].err);
					return 1;
				}
				ok += jobs[t].ok;
			}
			double dt = mono() - t0, dc = cpu_seconds() - c0;
			rate[r] = (double)ok / dt;
			if (getenv("SPOOR_BENCH_VERBOSE"))
				fprintf(stderr, "  run %d: %.3f s wall, %.3f s cpu\n", r, dt, dc);
			if (ok != n) {
				fprintf(stderr, "only %llu of %zu events stored\n", (unsigned long long)ok, n);
				return 1;
			}
			if (threads == 2 && r == 0) {
				double s0 = mono();
				int sealed = store_seal_all(s);
				double sd = mono() - s0;
				uint64_t files = 0, bytes = sealed_bytes(dir, &files);
				printf("sealed: %d segments in %.2f s (%.1f M events/s), %llu bytes in %llu "
				       "files: %.2f bytes/event on disk\n",
				       sealed, sd, (double)n / sd / 1e6, (unsigned long long)bytes,
				       (unsigned long long)files, (double)bytes / (double)n);
			}
			store_close(s);
			if (!keep_data)
				rmrf(dir);
		}
		qsort(rate, (size_t)runs, sizeof rate[0], cmp_d);
		double med = rate[runs / 2];
		printf("threads=%d: median %.2f M events/s (%.2f M events/s per thread) over %d runs "
		       "[min %.2f, max %.2f]\n",
		       threads, med / 1e6, med / 1e6 / threads, runs, rate[0] / 1e6,
		       rate[runs - 1] / 1e6);
	}
	free(ev);
	free(bounds);
	free(g.pool);
	return 0;
}
