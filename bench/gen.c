/*
 * gen — a deterministic clickstream generator: NDJSON events on stdout.
 *
 *   gen [--events N] [--seed S] [--start MS] [--days D] [--sample K FILE]
 *
 * N events (default 1 M) over D days (default 3) from MS (default
 * 1700000000000, an hour boundary).  The same N, S, MS and D always give the
 * same bytes.  Users have 1..5 sessions at random times; a session has
 * 60..140 events (mean 100): mostly mouse events (mousemove, mouseover,
 * mouseout), some clicks, scrolls, inputs and page views.  About 40 % of the
 * sessions walk the path signup -> add_to_cart -> checkout -> purchase,
 * each step taken with falling odds (drop-off); some repeat add_to_cart,
 * some put a stray checkout before add_to_cart (out of order), and some
 * pause 40..120 min between two steps, so a 1 h funnel window matters.
 * Timestamps strictly increase within a session (no ties).  Sessions are
 * written in order of their start, each session's events together.
 *
 * Each line: {"session","user","type","target"(not on mouse moves),"url",
 * "x","y","ts"(ms),"id"(unique),"props"(on ~30 %, a flat object, last)}.
 * bench/clickhouse.sh relies on props being flat and last on its line.
 * --sample K FILE writes K session ids (one per line), drawn uniformly from
 * all sessions by reservoir sampling with a generator of its own, so the
 * events are the same bytes with or without it (bench/suite.sh replays
 * these sessions on every system).
 * Prints the count and rate to stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTARGETS 240
#define NURLS	 600
#define OUTBUF	 (1 << 20)

static uint64_t rng;

/* splitmix64 step of *state: fast, good enough, fully determined by the seed */
static uint64_t mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The next number of the event stream's generator. */
static uint64_t rnd(void)
{
	return mix(&rng);
}

/* Reservoir of --sample: k session ids out of the `seen` offered so far,
 * drawn with its own generator so the event stream does not change. */
struct sample {
	uint64_t *ids;
	size_t k, seen;
	uint64_t rng;
};

/* Offers session id `sid` to the reservoir. */
static void sample_offer(struct sample *sm, uint64_t sid)
{
	if (!sm->k)
		return;
	if (sm->seen < sm->k)
		sm->ids[sm->seen] = sid;
	else {
		uint64_t j = mix(&sm->rng) % (sm->seen + 1);
		if (j < sm->k)
			sm->ids[j] = sid;
	}
	sm->seen++;
}

/* Writes the reservoir to `path`, one session id a line.  Returns 0 or -1. */
static int sample_write(const struct sample *sm, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t n = sm->seen < sm->k ? sm->seen : sm->k;

	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "s%016llx\n", (unsigned long long)sm->ids[i]);
	return fclose(f) == 0 ? 0 : -1;
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * n) >> 32);
}

struct out {
	char *buf;
	size_t n;
};

static void flush_out(struct out *o)
{
	if (o->n && fwrite(o->buf, 1, o->n, stdout) != o->n) {
		perror("gen: write");
		exit(1);
	}
	o->n = 0;
}

static void put(struct out *o, const char *s, size_t n)
{
	memcpy(o->buf + o->n, s, n);
	o->n += n;
}
#define PUTL(o, lit) put(o, lit, sizeof(lit) - 1)

static void put_u64(struct out *o, uint64_t v)
{
	char t[24];
	int i = 24;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, t + i, (size_t)(24 - i));
}

static void put_hex(struct out *o, uint64_t v, int digits)
{
	static const char hx[] = "0123456789abcdef";
	for (int i = digits - 1; i >= 0; i--)
		o->buf[o->n++] = hx[(v >> (4 * i)) & 15];
}

struct sess {
	int64_t start;
	uint32_t user;
};

static int sess_cmp(const void *a, const void *b)
{
	const struct sess *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->user < y->user ? -1 : x->user > y->user;
}

enum { T_MOVE, T_OVER, T_OUT, T_CLICK, T_SCROLL, T_INPUT, T_PAGE, T_NMOUSE };
static const char *const mtype[T_NMOUSE] = {"mousemove", "mouseover", "mouseout", "click",
					    "scroll",	 "input",     "pageview"};
static const int mweight[T_NMOUSE] = {55, 11, 11, 10, 6, 3, 4}; /* percent */
static const char *const step[4] = {"signup", "add_to_cart", "checkout", "purchase"};
static const int step_odds[4] = {40, 60, 55, 70}; /* percent: step k given k - 1 */

static char targets[NTARGETS][64], urls[NURLS][64];

/* The types of one session's events: mouse types as "\0" + index, path
 * steps as 4 + step.  Returns the number of events, and the index of the
 * event before which a long pause goes (or -1). */
static size_t plan(uint8_t *kind, size_t len, long *pause_at)
{
	size_t at[6], nat = 0, j;
	uint8_t st[6];

	*pause_at = -1;
	for (j = 0; j < len; j++) {
		uint32_t r = below(100), t = 0, acc = 0;
		while (t < T_NMOUSE - 1 && r >= acc + (uint32_t)mweight[t])
			acc += (uint32_t)mweight[t++];
		kind[j] = (uint8_t)t;
	}
	/* the business path at increasing positions */
	for (int k = 0; k < 4 && below(100) < (uint32_t)step_odds[k]; k++) {
		size_t lo = nat ? at[nat - 1] + 1 : 1;
		if (lo >= len)
			break;
		at[nat] = lo + below((uint32_t)((len - lo) / 2 + 1));
		st[nat++] = (uint8_t)k;
		if (k == 1 && below(100) < 25 && at[nat - 1] + 2 < len) { /* repeat */
			at[nat] = at[nat - 1] + 1 + below(2);
			st[nat++] = 1;
		}
	}
	for (size_t i = 0; i < nat; i++)
		kind[at[i]] = (uint8_t)(T_NMOUSE + st[i]);
	if (nat >= 1 && below(100) < 6 && at[0] + 1 < len) /* stray checkout, out of order */
		kind[at[0] + 1] = T_NMOUSE + 2;
	if (nat >= 2 && below(100) < 15) /* a long pause before a later step */
		*pause_at = (long)at[1 + below((uint32_t)nat - 1)];
	return len;
}

int main(int argc, char **argv)
{
	uint64_t n = 1000000, seed = 42, done = 0, evid = 0;
	int64_t t0 = 1700000000000LL, days = 3, span;
	size_t nsess, ns = 0, nu = 0;
	struct sess *ss;
	struct out o;
	uint8_t kind[160];
	struct timespec a, b;
	struct sample sm = {0};
	const char *sample_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--start") && i + 1 < argc)
			t0 = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--days") && i + 1 < argc)
			days = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--sample") && i + 2 < argc) {
			sm.k = strtoull(argv[++i], NULL, 10);
			sample_path = argv[++i];
		} else {
			fprintf(stderr,
				"usage: %s [--events N] [--seed S] [--start MS] [--days D] "
				"[--sample K FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (days < 1 || days > 365 || t0 < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	rng = seed * 0x2545f4914f6cdd1dULL + 1;
	span = days * 86400000LL - 4 * 3600000LL; /* room for the last sessions */
	for (int i = 0; i < NTARGETS; i++)
		snprintf(targets[i], sizeof targets[i], "main>div.card:nth-child(%d)>button.cta-%d",
			 i % 17, i);
	for (int i = 0; i < NURLS; i++)
		snprintf(urls[i], sizeof urls[i], "https://shop.example.com/catalog/item-%d",
			 i * 7);
	nsess = (size_t)(n / 100 + 2);
	ss = calloc(nsess, sizeof *ss);
	sm.rng = seed ^ 0x5a3c1e0f2d4b6987ULL;
	if (sm.k && !(sm.ids = calloc(sm.k, sizeof *sm.ids))) {
		fprintf(stderr, "gen: out of memory\n");
		return 1;
	}
	o.buf = malloc(OUTBUF + 4096);
	o.n = 0;
	if (!ss || !o.buf) {
		fprintf(stderr, "gen: out of memory\n");
		return 1;
	}
	while (ns < nsess) { /* users with 1..5 sessions at random times */
		uint32_t k = 1 + below(5);
		for (uint32_t i = 0; i < k && ns < nsess; i++)
			ss[ns++] =
			    (struct sess){t0 + (int64_t)(rnd() % (uint64_t)span), (uint32_t)nu};
		nu++;
	}
	qsort(ss, ns, sizeof *ss, sess_cmp);
	for (size_t s = 0; done < n; s = (s + 1) % ns) {
		uint64_t sid = rnd();
		size_t len = 60 + below(81);
		long pause_at;
		int64_t ts = ss[s].start;
		const char *url = urls[below(NURLS)];

		if (len > n - done)
			len = (size_t)(n - done);
		sample_offer(&sm, sid);
		plan(kind, len, &pause_at);
		for (size_t j = 0; j < len; j++) {
			unsigned k = kind[j];
			const char *type = k < T_NMOUSE ? mtype[k] : step[k - T_NMOUSE];

			if ((long)j == pause_at)
				ts += 2400000 + below(4800000); /* 40..120 min */
			else
				ts += below(10) ? 20 + below(400) : 1000 + below(60000);
			if (k == T_PAGE)
				url = urls[below(NURLS)];
			if (o.n > OUTBUF)
				flush_out(&o);
			PUTL(&o, "{\"session\":\"s");
			put_hex(&o, sid, 16);
			PUTL(&o, "\",\"user\":\"u");
			put_u64(&o, ss[s].user);
			PUTL(&o, "\",\"type\":\"");
			put(&o, type, strlen(type));
			if (k != T_MOVE) {
				const char *tg = targets[below(NTARGETS)];
				PUTL(&o, "\",\"target\":\"");
				put(&o, tg, strlen(tg));
			}
			PUTL(&o, "\",\"url\":\"");
			put(&o, url, strlen(url));
			PUTL(&o, "\",\"x\":");
			put_u64(&o, below(1440));
			PUTL(&o, ",\"y\":");
			put_u64(&o, below(900));
			PUTL(&o, ",\"ts\":");
			put_u64(&o, (uint64_t)ts);
			PUTL(&o, ",\"id\":\"e");
			put_hex(&o, evid++, 10);
			o.buf[o.n++] = '"';
			if (below(10) < 3) {
				if (k >= T_NMOUSE) {
					PUTL(&o, ",\"props\":{\"plan\":\"");
					if (below(3))
						PUTL(&o, "pro\",\"price\":");
					else
						PUTL(&o, "free\",\"price\":");
					put_u64(&o, 5 + below(200));
					o.buf[o.n++] = '}';
				} else if (below(2)) {
					PUTL(&o, ",\"props\":{\"w\":1440,\"h\":900}");
				} else {
					PUTL(&o, ",\"props\":{\"dwell_ms\":");
					put_u64(&o, below(5000));
					o.buf[o.n++] = '}';
				}
			}
			PUTL(&o, "}\n");
		}
		done += len;
		if (s + 1 == ns) /* more events than sessions planned: shift later laps */
			for (size_t i = 0; i < ns; i++)
				ss[i].start += 1;
	}
	flush_out(&o);
	if (fflush(stdout) != 0) {
		perror("gen: write");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (sample_path && sample_write(&sm, sample_path) < 0) {
		perror("gen: --sample");
		return 1;
	}
	double sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr, "gen: %llu events, %zu users, %.3f s, %.2f M events/s\n",
		(unsigned long long)done, nu, sec, (double)done / sec / 1e6);
	free(ss);
	free(o.buf);
	free(sm.ids);
	return 0;
}
