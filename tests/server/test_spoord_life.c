/*
 * test_spoord_life.c — spoord's life cycle: durability across SIGTERM and
 * SIGKILL, stopping with requests in flight, the command line and settings.
 * Same approach as test_spoord.c: the real binary, plain sockets.
 *
 * Each test starts its own spoord (SPOORD_PATH) on 127.0.0.1:0 with a fresh
 * data directory, talks HTTP over plain sockets, stops it by pid and, where
 * the outcome is stored data, opens the directory read-only with the storage
 * library.  No test asserts a duration: waits have generous bounds.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spoord_harness.h"
#include "storage.h"
#include "testutil.h"

#define TMO .timeout = 180

static struct sh_server srv;

static void start(const char *const *extra)
{
	cr_assert_eq(sh_start(&srv, extra), 0, "spoord did not start (log: %s)", srv.log);
}

static void fini(void)
{
	sh_cleanup(&srv);
}

TestSuite(spoord_life, .fini = fini);

static void post(const char *body, const char *headers, struct sh_resp *r)
{
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events", headers, body, r), 0,
		     "no reply to POST %s", body);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Opens srv's data directory read-only (spoord must be stopped). */
static void stored_open(struct sh_stored *s)
{
	cr_assert_eq(sh_stored_open(s, srv.data), 0, "cannot open %s", srv.data);
}

/* Events of `session`; *out (may be NULL) keeps them for the caller. */
static size_t stored_count(struct sh_stored *s, const char *session, struct store_events **out)
{
	long n = sh_stored_count(s, session, out);

	cr_assert_geq(n, 0, "cannot read session %s", session);
	return (size_t)n;
}

/* ---- durability and life cycle ------------------------------------------ */

Test(spoord_life, fsync_always_acknowledges_committed_events, TMO)
{
	const char *args[] = {"--fsync", "always", NULL};
	char both[1024];
	size_t l1, l2;
	char *a = sh_format("POST", "/v1/events", NULL, "{\"session\":\"fa\",\"type\":\"1\"}", &l1);
	char *b = sh_format("POST", "/v1/events", NULL, "{\"session\":\"fa\",\"type\":\"2\"}", &l2);
	struct sh_conn c;
	struct sh_resp r;
	struct sh_stored s;

	start(args);
	memcpy(both, a, l1);
	memcpy(both + l1, b, l2);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_send(&c, both, l1 + l2), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(sh_read(&c, &r), 0);
		cr_expect_eq(r.status, 200);
		sh_resp_free(&r);
	}
	sh_close(&c);
	cr_assert_eq(sh_stop(&srv, SIGKILL), 128 + SIGKILL);
	stored_open(&s);
	cr_expect_eq(stored_count(&s, "fa", NULL), 2);
	sh_stored_close(&s);
	free(a);
	free(b);
}

/* Threads of srv whose scheduling policy (field 41 of /proc/PID/task/TID/stat)
 * is SCHED_IDLE. */
static int idle_threads(void)
{
	char path[64], line[1024];
	int n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof path, "/proc/%d/task", (int)srv.pid);
	cr_assert_not_null(d = opendir(path));
	while ((e = readdir(d))) {
		FILE *f;
		char *p;
		int field = 3, policy = -1;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)srv.pid, e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(line, sizeof line, f) && (p = strrchr(line, ')'))) {
			for (p = strtok(p + 1, " "); p; p = strtok(NULL, " "), field++)
				if (field == 41)
					policy = atoi(p);
		}
		fclose(f);
		n += policy == SCHED_IDLE;
	}
	closedir(d);
	return n;
}

/* --fsync interval syncs from a thread at SCHED_IDLE, so the writeback's CPU
 * comes out of idle time rather than the workers' (the p99 of paced load in
 * docs/benchmarks.md); the other modes have no such thread. */
Test(spoord_life, the_interval_sync_thread_runs_at_idle_priority, TMO)
{
	const char *interval[] = {"--fsync", "interval", NULL};
	const char *none[] = {"--fsync", "none", NULL};
	struct sh_resp r;

	if (geteuid() != 0) /* leaving SCHED_IDLE needs CAP_SYS_NICE: spoord then stays normal */
		cr_skip_test("not root");
	start(interval);
	post("{\"session\":\"si\",\"type\":\"a\"}", NULL, &r);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	/* the watchdog thread puts the sync thread there once it has started */
	for (int i = 0; i < 200 && idle_threads() != 1; i++)
		sleep_ms(10);
	cr_expect_eq(idle_threads(), 1, "threads of spoord at SCHED_IDLE with --fsync interval");
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);
	start(none);
	cr_expect_eq(idle_threads(), 0, "threads of spoord at SCHED_IDLE with --fsync none");
}

Test(spoord_life, sigterm_exits_0_and_data_survives_a_restart, TMO)
{
	struct sh_resp r;
	struct sh_stored s;

	start(NULL);
	post("[{\"session\":\"st\",\"type\":\"a\"},{\"session\":\"st\",\"type\":\"b\"}]", NULL, &r);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);
	cr_assert_eq(sh_restart(&srv), 0, "no restart (log: %s)", srv.log);
	post("{\"session\":\"st\",\"type\":\"c\"}", NULL, &r);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGINT), 0);
	stored_open(&s);
	cr_expect_eq(stored_count(&s, "st", NULL), 3);
	sh_stored_close(&s);
}

Test(spoord_life, sigterm_finishes_the_request_in_flight, TMO)
{
	const char *body = "{\"session\":\"fly\",\"type\":\"a\"}";
	char head[256], v[32];
	struct sh_conn c;
	struct sh_resp r;
	struct sh_stored s;
	size_t half = strlen(body) / 2;

	start(NULL);
	snprintf(head, sizeof head,
		 "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
		 strlen(body));
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	cr_assert_eq(sh_sends(&c, head), 0);
	cr_assert_eq(sh_send(&c, body, half), 0);
	sleep_ms(200);
	kill(srv.pid, SIGTERM);
	sleep_ms(300);
	cr_assert_eq(sh_send(&c, body + half, strlen(body) - half), 0);
	cr_assert_eq(sh_read(&c, &r), 0, "the request in flight got no reply");
	cr_expect_eq(r.status, 200);
	cr_expect(sh_header(&r, "Connection", v, sizeof v) && !strcmp(v, "close"));
	sh_resp_free(&r);
	sh_close(&c);
	cr_assert_eq(sh_stop(&srv, 0), 0); /* signal 0: just wait for the exit */
	stored_open(&s);
	cr_expect_eq(stored_count(&s, "fly", NULL), 1);
	sh_stored_close(&s);
}

Test(spoord_life, a_second_signal_exits_at_once, TMO)
{
	const char *args[] = {"--request-timeout-ms", "600000", NULL};
	struct sh_conn c;

	start(args);
	cr_assert_eq(sh_connect(&c, srv.port), 0);
	/* a request that never completes keeps the first stop waiting */
	cr_assert_eq(sh_sends(&c, "POST /v1/events HTTP/1.1\r\nHost: x\r\n"), 0);
	sleep_ms(200);
	kill(srv.pid, SIGTERM);
	sleep_ms(500);
	cr_assert_eq(kill(srv.pid, 0), 0, "spoord did not wait for the request in flight");
	cr_expect_eq(sh_stop(&srv, SIGINT), 1);
	sh_close(&c);
}

/* A client that posts batch after batch (5 events each, session "b<k>") and
 * records which batches got a 200, until the server goes away. */
struct stream {
	int port;
	int acked[100000];
	int sent; /* batches attempted */
	int nacked;
	int done; /* the client stopped: the server went away */
};

static void *stream_main(void *arg)
{
	struct stream *st = arg;
	struct sh_conn *c = malloc(sizeof *c);

	if (!c || sh_connect(c, st->port) < 0) {
		free(c);
		__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	for (int k = 0; k < 100000; k++) {
		char body[1024];
		struct sh_resp r;
		size_t len, n = 0;
		char *req;

		n += (size_t)snprintf(body + n, sizeof body - n, "[");
		for (int i = 0; i < 5; i++)
			n +=
			    (size_t)snprintf(body + n, sizeof body - n,
					     "%s{\"session\":\"b%d\",\"type\":\"t\",\"id\":\"%d\"}",
					     i ? "," : "", k, i);
		snprintf(body + n, sizeof body - n, "]");
		req = sh_format("POST", "/v1/events", NULL, body, &len);
		__atomic_store_n(&st->sent, k + 1, __ATOMIC_RELEASE);
		if (sh_send(c, req, len) < 0 || sh_read(c, &r) < 0) {
			free(req);
			break;
		}
		if (r.status == 200) {
			int a = __atomic_load_n(&st->nacked, __ATOMIC_RELAXED);
			st->acked[a] = k;
			__atomic_store_n(&st->nacked, a + 1, __ATOMIC_RELEASE);
		}
		sh_resp_free(&r);
		free(req);
	}
	sh_close(c);
	free(c);
	__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

Test(spoord_life, sigkill_mid_stream_keeps_every_acknowledged_event_exactly_once, TMO)
{
	static struct stream stream;
	struct stream *st = &stream;
	struct sh_stored s;
	struct sh_resp r;
	pthread_t t;

	start(NULL);
	st->port = srv.port;
	cr_assert_eq(pthread_create(&t, NULL, stream_main, st), 0);
	for (int i = 0; i < 6000 && __atomic_load_n(&st->nacked, __ATOMIC_ACQUIRE) < 200 &&
			!__atomic_load_n(&st->done, __ATOMIC_ACQUIRE);
	     i++)
		sleep_ms(10);
	cr_assert_eq(sh_stop(&srv, SIGKILL), 128 + SIGKILL);
	pthread_join(t, NULL);
	cr_assert_gt(st->nacked, 0, "no batch was acknowledged");

	/* spoord recovers the directory, and stops cleanly */
	cr_assert_eq(sh_restart(&srv), 0, "no restart after SIGKILL (log: %s)", srv.log);
	cr_assert_eq(sh_request(srv.port, "GET", "/healthz", NULL, NULL, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	stored_open(&s);
	for (int i = 0; i < st->nacked; i++) {
		char sess[32];
		snprintf(sess, sizeof sess, "b%d", st->acked[i]);
		cr_expect_eq(stored_count(&s, sess, NULL), 5, "acknowledged batch %s", sess);
	}
	for (int k = 0; k < st->sent; k++) {
		char sess[32];
		snprintf(sess, sizeof sess, "b%d", k);
		cr_expect_leq(stored_count(&s, sess, NULL), 5, "batch %s stored twice", sess);
	}
	sh_stored_close(&s);
}

/* ---- command line -------------------------------------------------------- */

Test(spoord_life, bad_settings_exit_2_and_help_exits_0, TMO)
{
	char out[16384];
	const char *help[] = {"--help", NULL};
	const char *bad_flag[] = {"--no-such-flag", NULL};
	const char *bad_value[] = {"--threads", "0", NULL};
	const char *bad_fsync[] = {"--fsync", "sometimes", NULL};

	cr_expect_eq(sh_run(help, out, sizeof out), 0);
	cr_expect(strstr(out, "--listen") && strstr(out, "SPOORD_LISTEN") &&
		  strstr(out, "127.0.0.1:8080"));
	cr_expect_eq(sh_run(bad_flag, out, sizeof out), 2);
	cr_expect(strstr(out, "--no-such-flag") != NULL, "%s", out);
	cr_expect_eq(sh_run(bad_value, out, sizeof out), 2);
	cr_expect_eq(sh_run(bad_fsync, out, sizeof out), 2);
}

Test(spoord_life, a_data_dir_that_cannot_be_opened_exits_1, TMO)
{
	char out[16384], dir[256], file[300];
	const char *args[] = {"--data", file, "--listen", "127.0.0.1:0", "--query-listen",
			      "127.0.0.1:0", NULL};
	FILE *f;

	tu_tmpdir(dir, sizeof dir, "spoord-bad");
	snprintf(file, sizeof file, "%s/not-a-dir", dir);
	f = fopen(file, "w");
	cr_assert(f);
	fclose(f);
	cr_expect_eq(sh_run(args, out, sizeof out), 1, "%s", out);
	cr_expect(strstr(out, "cannot open the store") != NULL, "%s", out);
	tu_rmrf(dir);
}

Test(spoord_life, flags_override_environment_which_overrides_the_config_file, TMO)
{
	char conf[400];
	FILE *f;
	const char *args[] = {"--config", conf, NULL};
	const char *ev = "{\"session\":\"cf\",\"type\":\"a\"}";
	struct sh_resp r;

	start(NULL); /* only for its directory; restarted below with settings */
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);
	snprintf(conf, sizeof conf, "%s/spoord.conf", srv.dir);
	f = fopen(conf, "w");
	cr_assert(f);
	fprintf(f, "# test settings\ningest-key = fromfile\nmax-conns = 100\n");
	fclose(f);
	snprintf(srv.args[0], sizeof srv.args[0], "%s", args[0]);
	snprintf(srv.args[1], sizeof srv.args[1], "%s", args[1]);
	srv.nargs = 2;
	cr_assert_eq(sh_restart(&srv), 0);
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events?key=fromfile", NULL, ev, &r), 0);
	cr_expect_eq(r.status, 200, "config file key refused");
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	setenv("SPOORD_INGEST_KEY", "fromenv", 1);
	cr_assert_eq(sh_restart(&srv), 0);
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events?key=fromfile", NULL, ev, &r), 0);
	cr_expect_eq(r.status, 401, "environment did not override the file");
	sh_resp_free(&r);
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events?key=fromenv", NULL, ev, &r), 0);
	cr_expect_eq(r.status, 200);
	sh_resp_free(&r);
	cr_assert_eq(sh_stop(&srv, SIGTERM), 0);

	snprintf(srv.args[2], sizeof srv.args[2], "--ingest-key");
	snprintf(srv.args[3], sizeof srv.args[3], "fromflag");
	srv.nargs = 4;
	cr_assert_eq(sh_restart(&srv), 0);
	cr_assert_eq(sh_request(srv.port, "POST", "/v1/events?key=fromflag", NULL, ev, &r), 0);
	cr_expect_eq(r.status, 200, "the flag did not override the environment");
	sh_resp_free(&r);
	unsetenv("SPOORD_INGEST_KEY");
}
