/*
 * cli_harness.c — see cli_harness.h.
 */
#include "cli_harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

struct qt_spoord S;

void start(void)
{
	cr_assert_eq(qt_spoord_start(&S, NULL), 0, "spoord did not start");
}

void stop(void)
{
	int running = S.pid != 0;
	int st = qt_spoord_stop(&S);

	if (running)
		cr_assert_eq(st, 0, "spoord exit status");
}

/* ---- running spoor ------------------------------------------------------------------- */

void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

/* Appends what fd has to *buf.  Returns 0 at EOF, 1 while open. */
static int drain(int fd, char **buf, size_t *len)
{
	char tmp[65536];
	ssize_t k = read(fd, tmp, sizeof tmp);

	if (k < 0 && errno == EINTR)
		return 1;
	if (k <= 0)
		return 0;
	*buf = realloc(*buf, *len + (size_t)k + 1);
	cr_assert(*buf);
	memcpy(*buf + *len, tmp, (size_t)k);
	*len += (size_t)k;
	(*buf)[*len] = '\0';
	return 1;
}

/*
 * Runs argv (argv[0] is the program; NULL-terminated) with stdin from
 * `in` (a path, or NULL for /dev/null), TZ=UTC, no SPOOR_* variables but
 * those in env ("NAME=value", NULL-terminated, may be NULL).  Waits at most
 * RUN_LIMIT seconds (then kills it and fails the test).
 */
void run_prog(struct run *r, const char *in, const char *const *env, const char *const *argv)
{
	int po[2], pe[2], open_o = 1, open_e = 1, st;
	size_t lo = 0, le = 0;
	time_t deadline = time(NULL) + RUN_LIMIT;
	pid_t pid;

	memset(r, 0, sizeof *r);
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	cr_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(in ? in : "/dev/null", O_RDONLY);
		dup2(fd, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		unsetenv("SPOOR_URL");
		unsetenv("SPOOR_QUERY_URL");
		unsetenv("SPOOR_TOKEN");
		unsetenv("SPOOR_KEY");
		setenv("TZ", "UTC", 1);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while ((open_o || open_e) && time(NULL) < deadline) {
		struct pollfd pf[2] = {{open_o ? po[0] : -1, POLLIN, 0},
				       {open_e ? pe[0] : -1, POLLIN, 0}};
		if (poll(pf, 2, 1000) <= 0)
			continue;
		if (pf[0].revents && !drain(po[0], &r->out, &lo))
			open_o = 0;
		if (pf[1].revents && !drain(pe[0], &r->err, &le))
			open_e = 0;
	}
	close(po[0]);
	close(pe[0]);
	if (open_o || open_e)
		kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(!open_o && !open_e, "%s ran longer than %d s", argv[0], RUN_LIMIT);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs spoor with the words of argv after the program name, talking to S
 * (--url and --query-url added first). */
void spoor_in(struct run *r, const char *in, const char *const *args)
{
	const char *argv[40];
	char url[64], qurl[64];
	int n = 0;

	snprintf(url, sizeof url, "http://127.0.0.1:%d", S.port);
	snprintf(qurl, sizeof qurl, "http://127.0.0.1:%d", S.qport);
	argv[n++] = SPOOR_CLI_PATH;
	for (int i = 0; args[i] && n < 34; i++)
		argv[n++] = args[i];
	argv[n++] = "--url";
	argv[n++] = url;
	argv[n++] = "--query-url";
	argv[n++] = qurl;
	argv[n] = NULL;
	run_prog(r, in, NULL, argv);
}

/* Number of lines of s. */
int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- generated clickstream ---------------------------------------------------------- */

const char *const TYPES[4] = {"pageview", "click", "signup", "purchase"};
const char *const URLS[3] = {"/", "/pricing", "/docs"};

static int by_ts(const void *a, const void *b)
{
	const struct gev *x = a, *y = b;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

/* Events of NSESS sessions: 3 to 12 each, 1 s to 25 min apart, starting in
 * the 6 hours after T0.  Every timestamp's ms part is the session number, so
 * no two events of one user (or one session) share a timestamp and the
 * funnel order is the time order. */
void gen_events(struct gen *g, unsigned long long seed)
{
	g->n = 0;
	for (int s = 0; s < NSESS; s++) {
		int k = 3 + (int)(tu_rand(&seed) % 10);
		int64_t ts = T0 + (int64_t)(tu_rand(&seed) % (6 * 3600)) * 1000 + s;
		for (int i = 0; i < k; i++) {
			struct gev *e = &g->ev[g->n];
			unsigned r = (unsigned)(tu_rand(&seed) % 100);
			e->ts = ts;
			e->sess = s;
			e->user = s % 10 == 9 ? -1 : s % NUSERS;
			e->type = (i == 0 && r < 70) ? 0 : r < 35 ? 0 : r < 70 ? 1 : r < 85 ? 2 : 3;
			e->url = (int)(tu_rand(&seed) % 3);
			e->id = g->n;
			g->n++;
			ts += (int64_t)(1 + tu_rand(&seed) % 1500) * 1000;
		}
	}
	qsort(g->ev, (size_t)g->n, sizeof g->ev[0], by_ts);
}

/* Writes the events as NDJSON into dir/name in time order; with bad lines,
 * six lines that must be rejected go in between (their line numbers into
 * g->bad) and a blank line that must be skipped. */
void gen_file(struct gen *g, const char *dir, const char *name, int with_bad)
{
	static const char *const bad[] = {
	    "{\"ts\":1732200000000,\"type\":\"click\",\"id\":\"bad1\"}", /* no session */
	    "{\"session\":\"s000\",\"type\":\"click\",",		 /* invalid JSON */
	    "[{\"session\":\"s000\",\"type\":\"click\"}]",		 /* not an object */
	    /* type over 64 bytes */
	    ("{\"session\":\"s000\",\"type\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	     "xxxxxxxxxxxxxxxxxxxxxxxxxx\"}"),
	    "{\"session\":\"\",\"type\":\"click\"}", /* empty session */
	    "{\"session\":\"s000\"}",		     /* no type */
	};
	FILE *f;
	int line = 0, nb = 0;

	snprintf(g->path, sizeof g->path, "%s/%s", dir, name);
	f = fopen(g->path, "w");
	cr_assert(f);
	g->nbad = 0;
	for (int i = 0; i < g->n; i++) {
		const struct gev *e = &g->ev[i];
		if (with_bad && i % 500 == 250 && nb < 6) {
			fprintf(f, "%s\n", bad[nb++]);
			g->bad[g->nbad++] = ++line;
		}
		if (with_bad && i == 100) {
			fprintf(f, "   \n");
			line++;
		}
		fprintf(f, "{\"ts\":%lld,\"session\":\"s%03d\",", (long long)e->ts, e->sess);
		if (e->user >= 0)
			fprintf(f, "\"user\":\"u%d\",", e->user);
		fprintf(f, "\"type\":\"%s\",\"url\":\"%s\",\"id\":\"e%d\",\"props\":{\"n\":%d}}\n",
			TYPES[e->type], URLS[e->url], e->id, i);
		line++;
	}
	g->lines = line;
	cr_assert_eq(fclose(f), 0);
	cr_assert(!with_bad || g->nbad == 6, "the data is too small for the bad lines");
}

struct gen G;

/* Generates, writes and posts the events without bad lines; asserts exit 0. */
void load(unsigned long long seed)
{
	struct run r;

	gen_events(&G, seed);
	gen_file(&G, S.dir, "events.ndjson", 0);
	SPOOR(&r, "post", G.path);
	cr_assert_eq(r.status, 0, "post: %d\n%s%s", r.status, r.out, r.err);
	run_free(&r);
}

/* ---- funnel reference ----------------------------------------------------------------- */

/* A loopback port with nothing listening: bound, then closed. */
int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Runs spoor with argv words only (no URL added). */
void spoor_bare(struct run *r, const char *const *words)
{
	const char *argv[24];
	int n = 0;

	argv[n++] = SPOOR_CLI_PATH;
	for (int i = 0; words[i] && n < 23; i++)
		argv[n++] = words[i];
	argv[n] = NULL;
	run_prog(r, NULL, NULL, argv);
}

/* Asserts exit status `st` with exactly one line on stderr containing
 * `what`, and nothing on stdout. */
void want_fail(struct run *r, int st, const char *what)
{
	cr_assert_eq(r->status, st, "exit %d, want %d: %s%s", r->status, st, r->out, r->err);
	cr_assert_eq(count_lines(r->err), 1, "one line on stderr: %s", r->err);
	cr_assert(strstr(r->err, what), "want \"%s\" in: %s", what, r->err);
	cr_assert_str_empty(r->out, "%s", r->out);
	run_free(r);
}
