/*
 * qt_harness.c — see qt_harness.h: the query server in this process.
 */
#include "qt_harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"
#include "testutil.h"

#define START_WAIT_MS 60000
#define STOP_WAIT_MS  60000
#define IO_TIMEOUT_S  60

/* ---- in-process server ------------------------------------------------------------- */

int qt_local_start(struct qt_local *l, const char *token, size_t max_body)
{
	struct store_opts so = {.shards = 4, .no_background = 1};
	struct q_http_opts qo = {
	    .listen = "127.0.0.1:0", .token = token, .threads = 2, .max_body = max_body};
	char err[256] = "";

	memset(l, 0, sizeof *l);
	tu_tmpdir(l->dir, sizeof l->dir, "qhttp");
	if (store_open(l->dir, &so, &l->st, err, sizeof err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	if (q_http_start(&qo, l->st, &l->h, err, sizeof err) < 0) {
		fprintf(stderr, "q_http_start: %s\n", err);
		return -1;
	}
	l->port = q_http_port(l->h);
	return 0;
}

void qt_local_stop(struct qt_local *l)
{
	q_http_stop(l->h);
	store_close(l->st);
	if (l->dir[0])
		tu_rmrf(l->dir);
	memset(l, 0, sizeof *l);
}

void qt_add(struct qt_local *l, int64_t ts, const char *session, const char *user, const char *type,
	    const char *url, const char *target, const char *props)
{
	struct store_event e = {0};
	int8_t st;

	e.ts = ts;
	e.recv = ts + 5;
	e.session = (struct store_str){session, (uint32_t)strlen(session)};
	e.user = (struct store_str){user, (uint32_t)strlen(user)};
	e.type = (struct store_str){type, (uint32_t)strlen(type)};
	e.url = (struct store_str){url, (uint32_t)strlen(url)};
	e.target = (struct store_str){target, (uint32_t)strlen(target)};
	e.props = (struct store_str){props, (uint32_t)strlen(props)};
	cr_assert_eq(store_append(l->st, &e, 1, &st), 1, "append %s@%lld", session, (long long)ts);
}

