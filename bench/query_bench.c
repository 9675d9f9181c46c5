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
 * --no-seal stops after the unsealed round.  --seal-only DIR seals every
 * active segment of the store in DIR (left by a stopped spoord) and exits:
 * bench/suite.sh uses it so spoor is queried in its compacted state, as the
 * peers are after their merges, without waiting for spoord's idle sealer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
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

/* ---- --load: a gen file through the ingest parser ------------------------ */

#define LOAD_CHUNK (4u << 20)

/* store_append(), retrying the events refused as busy after a round of
 * store_maintain() (the store runs without a sealer thread).  Returns the
 * number stored or a negative code. */
static int append_all(struct store *st, struct store_event *ev, size_t n)
{
	int8_t *status = malloc(n ? n : 1);
	int stored = 0, rc = 0;

	if (!status)
		return -ENOMEM;
	for (int round = 0; n && round < 100; round++) {
		size_t k = 0;
		rc = store_append(st, ev, n, status);
		if (rc >= 0) {
			stored += rc;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (status[i] == STORE_OK)
				stored++;
			else if (status[i] == -EAGAIN)
				ev[k++] = ev[i];
			else if (status[i] != STORE_DUP)
				goto out;
		}
		n = k;
		if ((rc = store_maintain(st, 0)) < 0)
			goto out;
		rc = 0;
	}
out:
	free(status);
	return rc < 0 ? rc : stored;
}

/* Appends the NDJSON events of `file`, parsed with ingest_parse() in chunks
 * of whole lines.  Returns the number stored or -1. */
static long long load_file(struct store *st, const char *file)
{
	FILE *f = fopen(file, "rb");
	struct ingest_parser *p = NULL;
	char *buf = malloc(LOAD_CHUNK + 1);
	size_t have = 0;
	long long stored = 0, rejected = 0;
	int eof = 0;

	if (!f || !buf || ingest_parser_new(LOAD_CHUNK, &p) < 0) {
		fprintf(stderr, "load %s: %s\n", file, f ? "out of memory" : strerror(errno));
		stored = -1;
		goto out;
	}
	while (!eof || have) {
		size_t got = 0, cut;
		struct ingest_batch b;
		int rc;

		if (!eof) {
			got = fread(buf + have, 1, LOAD_CHUNK - have, f);
			have += got;
			eof = got == 0 || feof(f);
		}
		if (!have)
			break;
		cut = have;
		if (!eof) {
			while (cut && buf[cut - 1] != '\n')
				cut--;
			if (!cut) {
				fprintf(stderr, "load %s: a line over %u bytes\n", file,
					LOAD_CHUNK);
				stored = -1;
				goto out;
			}
		}
		rc = ingest_parse(p, buf, cut, 0, &b);
		if (rc < 0) {
			fprintf(stderr, "load %s: ingest_parse: %d %s\n", file, rc, b.json_error);
			stored = -1;
			goto out;
		}
		rejected += (long long)b.rejected;
		if ((rc = append_all(st, b.ev, b.n)) < 0) {
			fprintf(stderr, "load: store_append: %d\n", rc);
			stored = -1;
			goto out;
		}
		stored += rc;
		memmove(buf, buf + cut, have - cut);
		have -= cut;
	}
	if (rejected)
		fprintf(stderr, "load %s: %lld events rejected by the parser\n", file, rejected);
out:
	ingest_parser_free(p);
	free(buf);
	if (f)
		fclose(f);
	return stored;
}

/* ---- replay latency --------------------------------------------------------- */

static int lat_report(const char *name, double *t, size_t n, unsigned long long events)
{
	qsort(t, n, sizeof *t, dcmp);
	printf("  %-22s p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (%zu sessions, %.1f events "
	       "each)\n",
	       name, t[n / 2], t[n * 99 / 100], t[n - 1], n, (double)events / (double)n);
	return 0;
}

/* Picks up to `want` sessions at random (fixed seed); *out owns a list
 * whose first *n entries are the pick. */
static int pick_sessions(struct store *st, size_t want, struct store_session_list *l)
{
	struct store_snap *snap;
	int rc;

	if ((rc = store_snap_take(st, &snap)) < 0)
		return rc;
	rc = store_sessions(snap, NULL, 0, 0, 0, 0, l);
	store_snap_release(snap);
	if (rc < 0)
		return rc;
	if (l->n == 0)
		return -ENOENT;
	for (size_t i = 0; i < want && i < l->n; i++) { /* partial Fisher-Yates */
		size_t j = i + rnd() % (l->n - i);
		struct store_session_info t = l->v[i];
		l->v[i] = l->v[j];
		l->v[j] = t;
	}
	if (l->n > want)
		l->n = want;
	return 0;
}

/* store_session_events() on a fresh snapshot per session: the in-process
 * cost of GET /v1/sessions/{id}/events. */
static int replay_bench(struct store *st, const struct store_session_list *l)
{
	double *t = calloc(l->n, sizeof *t);
	unsigned long long events = 0;
	int rc = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		struct store_snap *snap;
		struct store_events *ev;
		double t0 = mono_ms();

		if ((rc = store_snap_take(st, &snap)) < 0)
			break;
		rc = store_session_events(snap, l->v[i].session.p, l->v[i].session.n, 0, 0, &ev);
		if (rc == 0) {
			events += store_events_count(ev);
			store_events_free(ev);
		}
		store_snap_release(snap);
		t[i] = mono_ms() - t0;
		if (rc < 0)
			break;
	}
	if (rc == 0)
		lat_report("replay (in process)", t, l->n, events);
	else
		fprintf(stderr, "replay: %d\n", rc);
	free(t);
	return rc;
}

/* ---- the same through the HTTP API ----------------------------------------- */

/* One GET on a new loopback connection; reads the reply to EOF.  Returns
 * the reply's length (status 200) or -1; the reply is in *buf. */
static long http_get(int port, const char *upath, char **buf, size_t *cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[1024];
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), len;
	ssize_t r;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		goto fail;
	len = snprintf(req, sizeof req,
		       "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", upath);
	if (write(fd, req, (size_t)len) != len)
		goto fail;
	for (;;) {
		if (n + 65536 > *cap) {
			char *nb = realloc(*buf, *cap * 2 + 65536);
			if (!nb)
				goto fail;
			*buf = nb;
			*cap = *cap * 2 + 65536;
		}
		r = read(fd, *buf + n, *cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	(*buf)[n] = 0;
	if (n < 12 || memcmp(*buf + 9, "200", 3) != 0) {
		fprintf(stderr, "GET %s: %.200s\n", upath, *buf);
		return -1;
	}
	return (long)n;
fail:
	fprintf(stderr, "GET %s: %s\n", upath, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int http_bench(struct store *st, const struct store_session_list *l, const char *stype,
		      int runs)
{
	struct q_http_opts ho = {.listen = "127.0.0.1:0"};
	struct q_http *h = NULL;
	struct store_stats ss;
	char err[256], url[512], *buf = NULL;
	size_t cap = 0;
	double *t = calloc(l->n + 64, sizeof *t);
	unsigned long long bytes = 0;
	int rc = -1, port;
	int64_t from;

	if (!t)
		return -ENOMEM;
	if (q_http_start(&ho, st, &h, err, sizeof err) < 0) {
		fprintf(stderr, "q_http_start: %s\n", err);
		goto out;
	}
	port = q_http_port(h);
	for (size_t i = 0; i < l->n; i++) {
		double t0 = mono_ms();
		long got;
		snprintf(url, sizeof url, "/v1/sessions/%.*s/events", (int)l->v[i].session.n,
			 l->v[i].session.p);
		if ((got = http_get(port, url, &buf, &cap)) < 0)
			goto out;
		t[i] = mono_ms() - t0;
		bytes += (unsigned long long)got;
	}
	qsort(t, l->n, sizeof *t, dcmp);
	printf("  %-22s p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (%zu sessions, %.0f bytes "
	       "each)\n",
	       "replay (HTTP)", t[l->n / 2], t[l->n * 99 / 100], t[l->n - 1], l->n,
	       (double)bytes / (double)l->n);

	/* a 1-minute series of one type over the first day */
	store_get_stats(st, &ss);
	from = ss.oldest_ts;
	snprintf(url, sizeof url, "/v1/series?type=%s&from=%lld&to=%lld&interval=1m", stype,
		 (long long)from, (long long)(from + 86400000));
	for (int i = 0; i <= runs; i++) { /* the first is the warm-up */
		double t0 = mono_ms();
		if (http_get(port, url, &buf, &cap) < 0)
			goto out;
		if (i)
			t[i - 1] = mono_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof *t, dcmp);
	{
		const char *sc = strstr(buf, "\"events_scanned\":");
		unsigned long long scanned = sc ? strtoull(sc + 17, NULL, 10) : 0;
		unsigned long long evs = 0, sess = 0;
		for (const char *q = buf; (q = strstr(q, "\"count\":")); q += 8)
			evs += strtoull(q + 8, NULL, 10);
		for (const char *q = buf; (q = strstr(q, "\"sessions\":")); q += 11)
			sess += strtoull(q + 11, NULL, 10);
		printf("  %-22s %7.1f ms median  (1440 buckets from %lld, type=%s: %llu events, "
		       "%llu session-minutes, scanned %llu)\n",
		       "series 1m x 1 day (HTTP)", t[runs / 2], (long long)from, stype, evs, sess,
		       scanned);
	}
	rc = 0;
out:
	q_http_stop(h);
	free(buf);
	free(t);
	return rc;
}

/* The replay and series figures of one state of the store. */
static int run_latency(struct store *st, size_t nreplay, const char *stype, int runs, int http)
{
	struct store_session_list l = {0};
	int rc;

	if ((rc = pick_sessions(st, nreplay, &l)) < 0) {
		fprintf(stderr, "pick sessions: %d\n", rc);
		return rc;
	}
	rc = replay_bench(st, &l);
	if (rc == 0 && http)
		rc = http_bench(st, &l, stype, runs);
	store_session_list_free(&l);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n = 10000000;
	unsigned threads = 0;
	int runs = 5, keep = 0, reuse = 0, no_seal = 0, rc = 1, http = 1, seal_only = 0;
	size_t nreplay = 1000;
	const char *load = NULL, *stype = "click";
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
		else if (!strcmp(argv[i], "--seal-only") && i + 1 < argc) {
			snprintf(dir, sizeof dir, "%s", argv[++i]);
			seal_only = keep = 1;
		} else if (!strcmp(argv[i], "--load") && i + 1 < argc)
			load = argv[++i];
		else if (!strcmp(argv[i], "--replay") && i + 1 < argc)
			nreplay = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--series-type") && i + 1 < argc)
			stype = argv[++i];
		else if (!strcmp(argv[i], "--no-http"))
			http = 0;
		else {
			fprintf(stderr,
				"usage: %s [--events N] [--threads T] [--runs R] [--data DIR] "
				"[--keep] [--reuse] [--no-seal] [--load FILE] [--replay N] "
				"[--series-type T] [--no-http] [--seal-only DIR]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 64 || !pl || nreplay < 1)
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
	if (seal_only) {
		struct store_stats ss;
		t0 = mono_ms();
		if (store_seal_all(st) < 0) {
			fprintf(stderr, "store_seal_all failed\n");
			goto out;
		}
		store_get_stats(st, &ss);
		printf("{\"sealed_ms\":%.1f,\"events\":%llu,\"bytes_on_disk\":%llu,"
		       "\"segments_sealed\":%llu,\"segments_active\":%llu}\n",
		       mono_ms() - t0, (unsigned long long)ss.events,
		       (unsigned long long)ss.bytes_on_disk, (unsigned long long)ss.segments_sealed,
		       (unsigned long long)ss.segments_active);
		rc = 0;
		goto out;
	}
	if (reuse) {
		if (q_engine_new(st, threads, &e) < 0)
			goto out;
		printf("query_bench: the store in %s, as it is:\n", dir);
		rc = run_all(e, runs) < 0 || run_latency(st, nreplay, stype, runs, http) < 0;
		goto out;
	}
	t0 = mono_ms();
	if ((stored = load ? load_file(st, load) : fill(st, n, pl)) < 0)
		goto out;
	printf("query_bench: %lld events %s%s in %s (appended in %.1f s)\n", stored,
	       load ? "from " : "generated", load ? load : "", dir, (mono_ms() - t0) / 1e3);
	if (q_engine_new(st, threads, &e) < 0)
		goto out;
	printf("unsealed (active and frozen segments):\n");
	if (run_all(e, runs) < 0 || run_latency(st, nreplay, stype, runs, http) < 0)
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
	if (run_all(e, runs) < 0 || run_latency(st, nreplay, stype, runs, http) < 0)
		goto out;
	{
		struct store_stats ss;
		store_get_stats(st, &ss);
		printf("  on disk: %llu bytes, %.1f bytes/event\n",
		       (unsigned long long)ss.bytes_on_disk,
		       ss.events ? (double)ss.bytes_on_disk / (double)ss.events : 0.0);
	}
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
