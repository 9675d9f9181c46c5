/*
 * spoord_harness.c — see spoord_harness.h.
 */
#include "spoord_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
#define IO_TIMEOUT_S  30

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : 0;
}

static int spawn(struct sh_server *s)
{
	const char *argv[32];
	off_t from = file_size(s->log);
	int n = 0, fd;
	pid_t pid;

	argv[n++] = SPOORD_PATH;
	argv[n++] = "--data";
	argv[n++] = s->data;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--query-listen"; /* tests run in parallel: never the fixed default */
	argv[n++] = "127.0.0.1:0";
	for (int i = 0; i < s->nargs; i++)
		argv[n++] = s->args[i];
	argv[n] = NULL;
	fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(dn, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd);
	s->pid = pid;
	s->port = 0;
	for (int waited = 0; waited < START_WAIT_MS; waited += 20) {
		int st;
		s->port = tu_started_int(s->log, (long)from, " port=");
		if (s->port > 0)
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			return -1;
		}
		tu_sleep_ms(20);
	}
	return -1;
}

int sh_start(struct sh_server *s, const char *const *extra)
{
	memset(s, 0, sizeof *s);
	tu_tmpdir(s->dir, sizeof s->dir, "spoord");
	if (!s->dir[0])
		return -1;
	snprintf(s->data, sizeof s->data, "%s/data", s->dir);
	snprintf(s->log, sizeof s->log, "%s/stderr.log", s->dir);
	for (; extra && extra[s->nargs] && s->nargs < 16; s->nargs++)
		snprintf(s->args[s->nargs], sizeof s->args[0], "%s", extra[s->nargs]);
	return spawn(s);
}

int sh_restart(struct sh_server *s)
{
	return spawn(s);
}

int sh_stop(struct sh_server *s, int sig)
{
	int st;

	if (!s->pid)
		return -1;
	kill(s->pid, sig);
	for (int waited = 0; waited < STOP_WAIT_MS; waited += 10) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			if (WIFEXITED(st))
				return WEXITSTATUS(st);
			return 128 + WTERMSIG(st);
		}
		tu_sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return -1;
}

/* Copies spoord's log to stderr when it reports a sanitizer finding or an
 * error, so a failing test shows why. */
static void dump_log_if_bad(const struct sh_server *s)
{
	char buf[8192];
	FILE *f = fopen(s->log, "r");
	int bad = 0;

	if (!f)
		return;
	while (!bad && fgets(buf, sizeof buf, f))
		bad = strstr(buf, "runtime error") || strstr(buf, "Sanitizer") ||
		      strstr(buf, "level=error");
	fclose(f);
	if (bad)
		tu_dump_file(s->log);
}

void sh_cleanup(struct sh_server *s)
{
	if (s->log[0])
		dump_log_if_bad(s);
	if (s->pid) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->dir[0])
		tu_rmrf(s->dir);
}

int sh_run(const char *const *args, char *out, size_t cap)
{
	const char *argv[32];
	int p[2], n = 0, st;
	size_t got = 0;
	pid_t pid;

	argv[n++] = SPOORD_PATH;
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t k = read(p[0], out + got, cap - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == cap - 1)
			got = 0; /* keep reading so the child never blocks; keep the tail */
	}
	out[got] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- client side -------------------------------------------------------- */

int sh_connect(struct sh_conn *c, int port)
{
	c->len = 0;
	c->fd = tu_connect(port, IO_TIMEOUT_S);
	return c->fd < 0 ? -1 : 0;
}

void sh_close(struct sh_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int sh_send(struct sh_conn *c, const void *p, size_t n)
{
	return tu_send_all(c->fd, p, n);
}

int sh_sends(struct sh_conn *c, const char *s)
{
	return sh_send(c, s, strlen(s));
}

/* Reads more into c->buf.  Returns bytes read, 0 at EOF, -1 on error. */
static ssize_t fill(struct sh_conn *c)
{
	ssize_t k;

	if (c->len == sizeof c->buf)
		return -1;
	do
		k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
	while (k < 0 && errno == EINTR);
	if (k > 0)
		c->len += (size_t)k;
	return k;
}

static void consume(struct sh_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

int sh_header(const struct sh_resp *r, const char *name, char *out, size_t cap)
{
	return tu_header(r->head, name, out, cap);
}

int sh_read(struct sh_conn *c, struct sh_resp *r)
{
	char *end, cl[32];
	size_t hlen, want;
	int until_eof;

	memset(r, 0, sizeof *r);
	while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if (fill(c) <= 0)
			return -1;
	hlen = (size_t)(end - c->buf) + 4;
	if (hlen >= sizeof r->head)
		return -1;
	memcpy(r->head, c->buf, hlen);
	r->head[hlen] = '\0';
	consume(c, hlen);
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	until_eof =
	    !sh_header(r, "Content-Length", cl, sizeof cl) && r->status >= 200 && r->status != 204;
	want = until_eof ? 0 : (size_t)strtoull(cl, NULL, 10);
	if (r->status < 200 || r->status == 204)
		want = 0;
	for (;;) {
		if (!until_eof && c->len >= want)
			break;
		ssize_t k = fill(c);
		if (k == 0 && until_eof) {
			want = c->len;
			break;
		}
		if (k <= 0)
			return -1;
	}
	r->body = malloc(want + 1);
	if (!r->body)
		return -1;
	memcpy(r->body, c->buf, want);
	r->body[want] = '\0';
	r->body_len = want;
	consume(c, want);
	return 0;
}

void sh_resp_free(struct sh_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int sh_wait_closed(struct sh_conn *c, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		struct pollfd p = {c->fd, POLLIN, 0};
		char tmp[4096];
		ssize_t k;

		if (poll(&p, 1, 50) <= 0)
			continue;
		k = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
	return 0;
}

char *sh_format(const char *method, const char *path, const char *headers, const char *body,
		size_t *len)
{
	size_t blen = body ? strlen(body) : 0;
	size_t cap = strlen(method) + strlen(path) + (headers ? strlen(headers) : 0) + blen + 128;
	char *s = malloc(cap);
	int n;

	if (!s)
		return NULL;
	n = snprintf(s, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s", method, path,
		     headers ? headers : "");
	if (body)
		n += snprintf(s + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
	n += snprintf(s + n, cap - (size_t)n, "\r\n");
	if (body)
		memcpy(s + n, body, blen);
	*len = (size_t)n + blen;
	return s;
}

int sh_request(int port, const char *method, const char *path, const char *headers,
	       const char *body, struct sh_resp *r)
{
	struct sh_conn *c = malloc(sizeof *c);
	size_t len;
	char *req = sh_format(method, path, headers, body, &len);
	int rc = -1;

	if (c && req && sh_connect(c, port) == 0) {
		if (sh_send(c, req, len) == 0)
			rc = sh_read(c, r);
		sh_close(c);
	}
	free(req);
	free(c);
	return rc;
}

/* ---- stored data -------------------------------------------------------- */

int sh_stored_open(struct sh_stored *s, const char *data)
{
	struct store_opts o = {.read_only = 1};
	char err[256] = "";
	int rc;

	s->st = NULL;
	s->snap = NULL;
	rc = store_open(data, &o, &s->st, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "store_open %s: %s\n", data, err);
		return rc;
	}
	rc = store_snap_take(s->st, &s->snap);
	if (rc < 0) {
		store_close(s->st);
		s->st = NULL;
	}
	return rc;
}

void sh_stored_close(struct sh_stored *s)
{
	store_snap_release(s->snap);
	store_close(s->st);
	s->snap = NULL;
	s->st = NULL;
}

long sh_stored_count(struct sh_stored *s, const char *session, struct store_events **out)
{
	struct store_events *e = NULL;
	long n;

	if (store_session_events(s->snap, session, strlen(session), 0, 0, &e) < 0)
		return -1;
	n = (long)store_events_count(e);
	if (out)
		*out = e;
	else
		store_events_free(e);
	return n;
}
