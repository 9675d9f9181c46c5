/*
 * spoord_client.c — see spoord_client.h.
 */
#include "spoord_client.h"

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

#include "testutil.h"

#define START_WAIT_MS 60000
#define STOP_WAIT_MS  60000
#define IO_TIMEOUT_S  60

/* ---- in-process server ------------------------------------------------------------- */

/* ---- spoord ----------------------------------------------------------------------------- */

int qt_spoord_start(struct qt_spoord *s, const char *const *extra)
{
	const char *argv[40];
	char data[300];
	int n = 0, fd;

	memset(s, 0, sizeof *s);
	tu_tmpdir(s->dir, sizeof s->dir, "qspoord");
	snprintf(data, sizeof data, "%s/data", s->dir);
	snprintf(s->log, sizeof s->log, "%s/stderr.log", s->dir);
	argv[n++] = SPOORD_PATH;
	argv[n++] = "--data";
	argv[n++] = data;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--query-listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--threads";
	argv[n++] = "1";
	for (int i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if ((fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0) {
		close(fd);
		s->pid = 0;
		return -1;
	}
	if (s->pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		/* dies with the test process, even when that one crashes */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(dn, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd);
	for (int waited = 0; waited < START_WAIT_MS; waited += 20) {
		int st;
		s->port = tu_started_int(s->log, 0, " port=");
		s->qport = tu_started_int(s->log, 0, " query_port=");
		if (s->port > 0 && s->qport > 0)
			return 0;
		if (s->port > 0) {
			fprintf(stderr, "spoord started without a query port "
					"(query API not wired into server/main.c?)\n");
			break;
		}
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
		tu_sleep_ms(20);
	}
	tu_dump_file(s->log);
	if (s->pid) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	tu_rmrf(s->dir); /* Criterion skips .fini when .init fails */
	s->dir[0] = '\0';
	return -1;
}

int qt_spoord_stop(struct qt_spoord *s)
{
	int st, rc = -1;

	if (s->pid) {
		kill(s->pid, SIGTERM);
		for (int waited = 0; waited < STOP_WAIT_MS; waited += 10) {
			if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
				rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				s->pid = 0;
				break;
			}
			tu_sleep_ms(10);
		}
		if (s->pid) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
		}
	}
	if (rc != 0 && s->log[0])
		tu_dump_file(s->log);
	if (s->dir[0])
		tu_rmrf(s->dir);
	s->dir[0] = '\0';
	return rc;
}

/* ---- HTTP client ---------------------------------------------------------------------- */

int qt_header(const struct qt_resp *r, const char *name, char *out, size_t cap)
{
	return tu_header(r->head, name, out, cap);
}

/* Decodes a chunked body in place.  Returns its length or -1. */
static long dechunk(char *p, size_t n)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *end;
		unsigned long k = strtoul(p + in, &end, 16);
		char *crlf = memmem(p + in, n - in, "\r\n", 2);
		if (!crlf || end == p + in)
			return -1;
		in = (size_t)(crlf - p) + 2;
		if (k == 0)
			return (long)out;
		if (in + k + 2 > n)
			return -1;
		memmove(p + out, p + in, k);
		out += k;
		in += k + 2;
	}
}

/* Reads everything until EOF and splits it into r. */
static int read_reply(int fd, struct qt_resp *r)
{
	size_t cap = 1 << 16, n = 0, hlen;
	char *buf = malloc(cap), *end, v[64];

	memset(r, 0, sizeof *r);
	if (!buf)
		return -1;
	for (;;) {
		ssize_t k;
		if (n + 1 == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b)
				goto fail;
			buf = b;
			cap *= 2;
		}
		k = recv(fd, buf + n, cap - 1 - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && n > 0 && errno == ECONNRESET)
			break;
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	if (!(end = memmem(buf, n, "\r\n\r\n", 4)))
		goto fail;
	hlen = (size_t)(end - buf) + 4;
	if (hlen >= sizeof r->head)
		goto fail;
	memcpy(r->head, buf, hlen);
	r->head[hlen] = '\0';
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		goto fail;
	memmove(buf, buf + hlen, n - hlen + 1);
	n -= hlen;
	if (qt_header(r, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
		long k = dechunk(buf, n);
		if (k < 0)
			goto fail;
		n = (size_t)k;
		r->chunked = 1;
	} else if (qt_header(r, "Content-Length", v, sizeof v)) {
		size_t cl = strtoull(v, NULL, 10);
		if (cl > n)
			goto fail;
		n = cl;
	}
	buf[n] = '\0';
	r->body = buf;
	r->len = n;
	return 0;
fail:
	free(buf);
	return -1;
}

int qt_raw(int port, const char *req, size_t len, struct qt_resp *r)
{
	int fd = tu_connect(port, IO_TIMEOUT_S), rc = -1;

	if (fd < 0)
		return -1;
	if (tu_send_all(fd, req, len) == 0)
		rc = read_reply(fd, r);
	close(fd);
	return rc;
}

int qt_http(int port, const char *method, const char *path, const char *headers, const char *body,
	    size_t body_len, struct qt_resp *r)
{
	size_t cap = strlen(path) + (headers ? strlen(headers) : 0) + body_len + 256;
	char *req = malloc(cap);
	int n, rc;

	if (!req)
		return -1;
	n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s",
		     method, path, headers ? headers : "");
	if (body)
		n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(req + n, cap - (size_t)n, "\r\n");
	if (body)
		memcpy(req + n, body, body_len);
	rc = qt_raw(port, req, (size_t)n + (body ? body_len : 0), r);
	free(req);
	return rc;
}

int qt_get(int port, const char *path, struct qt_resp *r)
{
	return qt_http(port, "GET", path, NULL, NULL, 0, r);
}

void qt_resp_free(struct qt_resp *r)
{
	free(r->body);
	r->body = NULL;
}

void qt_get_json(int port, const char *path, int status, struct qt_resp *r, struct qt_json *j)
{
	cr_assert_eq(qt_get(port, path, r), 0, "GET %s", path);
	cr_assert_eq(r->status, status, "GET %s: %d %s", path, r->status, r->body);
	cr_assert_eq(qt_json_parse(j, r->body, r->len), 0, "GET %s: %s", path, r->body);
}

const char *qt_error_of(const struct qt_resp *r, char *out, size_t cap)
{
	struct qt_json j;

	cr_assert_eq(qt_json_parse(&j, r->body, r->len), 0, "%s", r->body);
	qt_jstr(&j, qt_jget(&j, 0, "error"), out, cap);
	qt_json_free(&j);
	return out;
}

int qt_ingest(int port, const char *json, size_t len)
{
	struct qt_resp r;
	int st;

	if (qt_http(port, "POST", "/v1/events", "Content-Type: application/json\r\n", json, len,
		    &r) < 0)
		return -1;
	st = r.status;
	if (st != 200)
		fprintf(stderr, "ingest: %d %s\n", st, r.body);
	qt_resp_free(&r);
	return st;
}

/* ---- JSON reader ---------------------------------------------------------------------- */

int qt_json_parse(struct qt_json *j, const char *buf, size_t len)
{
	size_t cap = JSON_MAX_TOKENS(len, 64);
	struct json_error e;

	j->buf = buf;
	j->t = malloc(cap * sizeof *j->t);
	if (!j->t)
		return -1;
	j->n = json_parse(buf, len, j->t, cap, 64, &e);
	if (j->n < 0) {
		fprintf(stderr, "bad JSON at %zu (%s): %.200s\n", e.offset, e.what, buf);
		free(j->t);
		j->t = NULL;
		return -1;
	}
	return 0;
}

void qt_json_free(struct qt_json *j)
{
	free(j->t);
	j->t = NULL;
}

int qt_jget(const struct qt_json *j, int obj, const char *key)
{
	if (obj < 0 || j->t[obj].type != JSON_OBJECT)
		return -1;
	for (uint32_t i = (uint32_t)obj + 1; i < j->t[obj].next; i = j->t[i + 1].next)
		if (json_str_eq(j->buf, &j->t[i], key, strlen(key)))
			return (int)i + 1;
	return -1;
}

int qt_jfirst(const struct qt_json *j, int arr)
{
	if (arr < 0 || (uint32_t)arr + 1 >= j->t[arr].next)
		return -1;
	return arr + 1;
}

int qt_jnext(const struct qt_json *j, int arr, int i)
{
	uint32_t k = j->t[i].next;
	return k < j->t[arr].next ? (int)k : -1;
}

size_t qt_jlen(const struct qt_json *j, int arr)
{
	size_t n = 0;
	for (int i = qt_jfirst(j, arr); i >= 0; i = qt_jnext(j, arr, i))
		n++;
	return n;
}

int qt_jat(const struct qt_json *j, int arr, size_t k)
{
	int i = qt_jfirst(j, arr);
	while (i >= 0 && k--)
		i = qt_jnext(j, arr, i);
	return i;
}

long long qt_jint(const struct qt_json *j, int tok)
{
	int64_t v;
	if (tok < 0 || json_get_int64(j->buf, &j->t[tok], &v) < 0)
		return -1;
	return v;
}

double qt_jdbl(const struct qt_json *j, int tok)
{
	if (tok < 0 || j->t[tok].type != JSON_NUMBER)
		return -1;
	return strtod(j->buf + j->t[tok].start, NULL);
}

int qt_jnull(const struct qt_json *j, int tok)
{
	return tok >= 0 && j->t[tok].type == JSON_NULL;
}

const char *qt_jstr(const struct qt_json *j, int tok, char *out, size_t cap)
{
	int n;
	out[0] = '\0';
	if (tok < 0 || j->t[tok].type != JSON_STRING)
		return out;
	n = json_str_decode(j->buf, &j->t[tok], out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

const char *qt_jraw(const struct qt_json *j, int tok, size_t *len)
{
	*len = j->t[tok].end - j->t[tok].start;
	return j->buf + j->t[tok].start;
}
