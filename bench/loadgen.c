/*
 * loadgen.c — load generator for spoord's POST /v1/events.
 *
 * N keep-alive connections to a loopback address, spread over T threads
 * (each an epoll loop, or with --uring one io_uring that carries every send
 * and receive of the thread: one system call per round instead of several
 * per request, so on a machine it shares with the server under test the
 * load generator takes less CPU).  Every connection keeps up to --pipeline requests
 * outstanding; each request carries --batch events drawn from a pool of
 * pre-built bodies (realistic events of ~150-250 bytes: session, user, type,
 * target, url, x, y, and props on 30% of them; one session per request, as
 * the browser SDK sends them).  With --rate R the requests
 * are sent on a schedule of R per second and latency is measured from the
 * scheduled time, so a stalled server shows up as latency (no coordinated
 * omission); with --rate 0 every connection sends as fast as replies come.
 *
 * With --file F the bodies are F's own NDJSON lines instead, --batch lines a
 * request, each batch sent once over all connections, to --path (default
 * /v1/events): a bulk load of a gen file into spoord, or into another
 * system with an HTTP insert endpoint (ClickHouse's /?query=INSERT ...
 * FORMAT JSONEachRow); it stops when the file is sent.
 *
 * It stops by itself after --duration seconds or --requests replies, then
 * prints requests/s, events/s (from the "accepted" counts of the replies;
 * for a 2xx reply without one, the events of the request) and latency
 * percentiles; --json prints one JSON object instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#define NBODIES	     64
#define MAX_PIPELINE 64
#define HIST_BUCKETS (40 * 16)

struct opts {
	char host[64];
	int port;
	int conns;
	int threads;
	int batch;
	int pipeline;
	double duration;
	long long requests; /* 0: no limit */
	double rate;	    /* requests/s over all connections, 0: as fast as possible */
	int props_pct;
	int json;
	int ndjson; /* generated bodies as NDJSON lines instead of a JSON array */
	char key[128];
	char get[256];	/* GET this path instead of posting events */
	char file[512]; /* --file: NDJSON lines to send, each once */
	char path[512]; /* request path of POSTs */
	int uring; /* io_uring instead of epoll (closed loop) */
};

/* --file: the mapped file and where each batch of lines starts. */
static struct {
	const char *p;	    /* the mapping (read-only) */
	size_t len;	    /* its length */
	size_t *off;	    /* off[i]: first byte of batch i; off[n] = len */
	uint32_t *lines;    /* lines of batch i */
	size_t n;	    /* batches */
	long long next;	    /* atomic: the next batch to send */
	uint64_t lines_all; /* lines of the file */
} file;

struct req {
	char *p;
	size_t n;
};

struct conn {
	int fd;
	char *out; /* bytes queued to write */
	size_t out_len, out_off, out_cap;
	char in[65536]; /* reply bytes not parsed yet */
	size_t in_len;
	int64_t sent_ns[MAX_PIPELINE];	/* send (or scheduled) time of each outstanding request */
	uint32_t sent_ev[MAX_PIPELINE]; /* events of each outstanding request */
	int head, outstanding;
	unsigned next_body;
	int want_out; /* EPOLLOUT armed */
	int sending;  /* --uring: a send in flight */
};

struct thread {
	pthread_t t;
	int id;
	struct conn *c;
	int nconns;
	int ep;
	double rate; /* this thread's share */
	uint64_t hist[HIST_BUCKETS];
	uint64_t done, events, non200, errors, max_ns;
};

static struct opts o = {.host = "127.0.0.1",
			.port = 8080,
			.conns = 64,
			.threads = 1,
			.batch = 1,
			.pipeline = 1,
			.duration = 10,
			.props_pct = 30,
			.path = "/v1/events"};
static struct req bodies[NBODIES];
static int64_t t_start, t_stop_ns;
static long long sent_total; /* atomic: requests started, for --requests */
static struct sockaddr_storage dst;
static socklen_t dst_len;

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- request bodies ----------------------------------------------------- */

/* One event of session `sess` (a browser's batch holds one session's events). */
static int put_event(char *b, size_t cap, uint64_t *seed, int64_t ts, unsigned sess, unsigned user)
{
	static const char *types[] = {"pageview", "click",  "mouseover", "mouseout",
				      "input",	  "scroll", "mousemove", "add_to_cart"};
	static const char *targets[] = {"#nav > a.item-3", "button.buy-now", "#search input",
					"div.product-card:nth-child(4) img", "a[href='/cart']"};
	static const char *paths[] = {"/", "/products/1234?ref=home", "/cart", "/checkout/payment",
				      "/category/shoes?sort=price&page=2"};
	uint64_t r = rnd(seed);
	int n =
	    snprintf(b, cap,
		     "{\"session\":\"s-%016llx\",\"user\":\"u-%u\",\"type\":\"%s\",\"target\":"
		     "\"%s\",\"url\":\"https://shop.example.com%s\",\"x\":%u,\"y\":%u,\"ts\":%lld",
		     (unsigned long long)sess, user, types[r % 8], targets[(r >> 8) % 5],
		     paths[(r >> 16) % 5], (unsigned)((r >> 24) % 1920),
		     (unsigned)((r >> 36) % 1080), (long long)ts);
	if ((int)((r >> 48) % 100) < o.props_pct)
		n += snprintf(b + n, cap - (size_t)n,
			      ",\"props\":{\"plan\":\"pro\",\"variant\":\"B\",\"price\":1999}");
	n += snprintf(b + n, cap - (size_t)n, "}");
	return n;
}

static int build_bodies(void)
{
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	struct timespec wall;
	int64_t ts;

	if (o.get[0]) {
		for (int i = 0; i < NBODIES; i++) {
			bodies[i].p = malloc(512);
			if (!bodies[i].p)
				return -1;
			bodies[i].n = (size_t)snprintf(
			    bodies[i].p, 512, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", o.get, o.host);
		}
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	ts = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	for (int i = 0; i < NBODIES; i++) {
		size_t cap = (size_t)o.batch * 400 + 512, n = 0;
		char *body = malloc(cap), *req;
		int h;

		if (!body)
			return -1;
		unsigned sess = (unsigned)(rnd(&seed) % 5000),
			 user = (unsigned)(rnd(&seed) % 100000);
		if (o.batch > 1 && !o.ndjson)
			body[n++] = '[';
		for (int k = 0; k < o.batch; k++) {
			if (k && !o.ndjson)
				body[n++] = ',';
			n += (size_t)put_event(body + n, cap - n, &seed, ts + k, sess, user);
			if (o.ndjson)
				body[n++] = '\n';
		}
		if (o.batch > 1 && !o.ndjson)
			body[n++] = ']';
		req = malloc(n + 512);
		if (!req)
			return -1;
		h = snprintf(req, 512,
			     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/%s\r\n"
			     "%s%s%sContent-Length: %zu\r\n\r\n",
			     o.path, o.host, o.ndjson ? "x-ndjson" : "json",
			     o.key[0] ? "X-Spoor-Key: " : "", o.key, o.key[0] ? "\r\n" : "", n);
		memcpy(req + h, body, n);
		bodies[i].p = req;
		bodies[i].n = (size_t)h + n;
		free(body);
	}
	return 0;
}

/* Maps --file and cuts it into batches of o.batch lines (the last may be
 * shorter; a last line without a newline counts).  Returns 0 or -1. */
static int file_open(void)
{
	struct stat sb;
	size_t cap, i = 0, lines = 0;
	int fd = open(o.file, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size == 0) {
		fprintf(stderr, "loadgen: %s: %s\n", o.file, fd < 0 ? strerror(errno) : "empty");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	file.len = (size_t)sb.st_size;
	file.p = mmap(NULL, file.len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file.p == MAP_FAILED)
		return -1;
	madvise((void *)file.p, file.len, MADV_SEQUENTIAL);
	cap = 1024;
	file.off = malloc((cap + 1) * sizeof *file.off);
	file.lines = malloc(cap * sizeof *file.lines);
	if (!file.off || !file.lines)
		return -1;
	while (i < file.len) {
		uint32_t k = 0;
		if (file.n == cap) {
			size_t *no = realloc(file.off, (cap * 2 + 1) * sizeof *no);
			uint32_t *nl = no ? realloc(file.lines, cap * 2 * sizeof *nl) : NULL;
			if (no)
				file.off = no;
			if (!nl)
				return -1;
			file.lines = nl;
			cap *= 2;
		}
		file.off[file.n] = i;
		while (i < file.len && k < (uint32_t)o.batch) {
			const char *nlp = memchr(file.p + i, '\n', file.len - i);
			i = nlp ? (size_t)(nlp - file.p) + 1 : file.len;
			k++;
		}
		file.lines[file.n++] = k;
		lines += k;
	}
	file.off[file.n] = file.len;
	file.lines_all = lines;
	return 0;
}

/* ---- histogram ---------------------------------------------------------- */

static int bucket_of(uint64_t us)
{
	int lg, b;

	if (us < 16)
		return (int)us;
	lg = 63 - __builtin_clzll(us);
	b = (lg - 3) * 16 + (int)((us >> (lg - 4)) & 15);
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* Upper bound of a bucket, in µs. */
static double bucket_top(int b)
{
	int lg;

	if (b < 16)
		return b + 1;
	lg = b / 16 + 3;
	return (double)((16 + (b % 16) + 1)) * (double)(1ull << (lg - 4));
}

static double percentile(const uint64_t *h, uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), acc = 0;

	if (!total)
		return 0;
	if (want >= total)
		want = total - 1;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		acc += h[b];
		if (acc > want)
			return bucket_top(b);
	}
	return bucket_top(HIST_BUCKETS - 1);
}

/* ---- connections -------------------------------------------------------- */

static int conn_open(struct thread *t, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
	int one = 1;

	/* Non-blocking connect: a server whose accept backlog is full must not
	 * stall this thread (the first send waits for EPOLLOUT: EAGAIN). */
	c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&dst, dst_len) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->out_len = c->out_off = 0;
	c->in_len = 0;
	c->head = c->outstanding = 0;
	c->want_out = 0;
	ev.data.ptr = c;
	return epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_drop(struct thread *t, struct conn *c)
{
	t->errors += (uint64_t)c->outstanding;
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

/* conn_drop for --uring (no epoll set). */
static void conn_drop_fd(struct thread *t, struct conn *c)
{
	t->errors += (uint64_t)c->outstanding;
	close(c->fd);
	c->fd = -1;
}

static void want_out(struct thread *t, struct conn *c, int on)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u)};

	if (c->want_out == on)
		return;
	ev.data.ptr = c;
	epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = on;
}

/* Writes queued bytes.  Returns 0, or -1 when the connection failed. */
static int flush_out(struct thread *t, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (k < 0 && errno == EAGAIN) {
			want_out(t, c, 1);
			return 0;
		}
		if (k <= 0)
			return -1;
		c->out_off += (size_t)k;
	}
	c->out_off = c->out_len = 0;
	want_out(t, c, 0);
	return 0;
}

/* Queues one request stamped `at`.  Returns 0, or -1 when the --requests
 * budget is spent. */
/* Makes room for n more bytes in c->out.  Returns 0 or -1. */
static int out_reserve(struct conn *c, size_t n)
{
	if (c->out_cap - c->out_len < n) {
		size_t cap = (c->out_len + n) * 2;
		char *p = realloc(c->out, cap);
		if (!p)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	return 0;
}

static int queue_req(struct conn *c, int64_t at)
{
	const struct req *r = &bodies[c->next_body++ % NBODIES];
	uint32_t nev = (uint32_t)o.batch;

	if (o.requests && __atomic_fetch_add(&sent_total, 1, __ATOMIC_RELAXED) >= o.requests)
		return -1;
	if (o.file[0]) { /* the next batch of the file, if any is left */
		long long b = __atomic_fetch_add(&file.next, 1, __ATOMIC_RELAXED);
		size_t blen;
		char head[1024];
		int h;

		if (b >= (long long)file.n)
			return -1;
		blen = file.off[b + 1] - file.off[b];
		nev = file.lines[b];
		h = snprintf(
		    head, sizeof head,
		    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\n"
		    "%s%s%sContent-Length: %zu\r\n\r\n",
		    o.path, o.host, o.key[0] ? "X-Spoor-Key: " : "", o.key, o.key[0] ? "\r\n" : "",
		    blen);
		if (out_reserve(c, (size_t)h + blen) < 0)
			return -1;
		memcpy(c->out + c->out_len, head, (size_t)h);
		memcpy(c->out + c->out_len + h, file.p + file.off[b], blen);
		c->out_len += (size_t)h + blen;
	} else {
		if (out_reserve(c, r->n) < 0)
			return -1;
		memcpy(c->out + c->out_len, r->p, r->n);
		c->out_len += r->n;
	}
	c->sent_ns[(c->head + c->outstanding) % MAX_PIPELINE] = at;
	c->sent_ev[(c->head + c->outstanding) % MAX_PIPELINE] = o.get[0] ? 0 : nev;
	c->outstanding++;
	return 0;
}

/* Length of the chunked body at p (n bytes available), through its last
 * chunk and the empty trailer; 0 while incomplete, -1 when malformed. */
static long chunked_len(const char *p, size_t n)
{
	size_t i = 0;

	for (;;) {
		char *end;
		const char *crlf = memmem(p + i, n - i, "\r\n", 2);
		unsigned long sz;

		if (!crlf)
			return 0;
		sz = strtoul(p + i, &end, 16);
		if (end == p + i)
			return -1;
		i = (size_t)(crlf - p) + 2;
		if (sz == 0) { /* last chunk: no trailers expected, just CRLF */
			if (n - i < 2)
				return 0;
			return (long)(i + 2);
		}
		if (n - i < sz + 2)
			return 0;
		i += sz + 2;
	}
}

/* Parses complete replies out of c->in.  Returns 0 or -1 (bad reply). */
static int take_replies(struct thread *t, struct conn *c, int64_t now)
{
	for (;;) {
		char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), *cl, *acc;
		size_t head, len, body = 0;
		int status;

		if (!end)
			return 0;
		head = (size_t)(end - c->in) + 4;
		if (sscanf(c->in, "HTTP/1.1 %d", &status) != 1)
			return -1;
		cl = memmem(c->in, head, "Content-Length: ", 16);
		if (cl)
			body = strtoul(cl + 16, NULL, 10);
		else if (memmem(c->in, head, "Transfer-Encoding: chunked", 26)) {
			long k = chunked_len(c->in + head, c->in_len - head);
			if (k < 0)
				return -1;
			if (k == 0) {
				if (c->in_len == sizeof c->in) /* a reply this long: give up */
					return -1;
				return 0;
			}
			body = (size_t)k;
		}
		len = head + body;
		if (len > c->in_len) {
			if (len > sizeof c->in)
				return -1;
			return 0;
		}
		if (status == 100) {
			memmove(c->in, c->in + head, c->in_len - head);
			c->in_len -= head;
			continue;
		}
		if (c->outstanding == 0)
			return -1;
		{
			uint64_t ns = (uint64_t)(now - c->sent_ns[c->head]);
			t->hist[bucket_of(ns / 1000)]++;
			if (ns > t->max_ns)
				t->max_ns = ns;
		}
		if (status < 200 || status > 299) {
			t->non200++;
		} else {
			acc = memmem(c->in + head, body, "\"accepted\":", 11);
			if (acc)
				t->events += strtoul(acc + 11, NULL, 10);
			else
				t->events += c->sent_ev[c->head];
		}
		c->head = (c->head + 1) % MAX_PIPELINE;
		c->outstanding--;
		t->done++;
		memmove(c->in, c->in + len, c->in_len - len);
		c->in_len -= len;
	}
}

/* Has every open connection of t its replies? */
static int drained(const struct thread *t)
{
	for (int i = 0; i < t->nconns; i++)
		if (t->c[i].fd >= 0 && t->c[i].outstanding > 0)
			return 0;
	return 1;
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	struct epoll_event evs[256];
	double interval = t->rate > 0 ? 1e9 / t->rate : 0;
	double next_due = (double)now_ns();
	int stopping = 0;
	int64_t drain_until = 0;

	for (int i = 0; i < t->nconns; i++)
		if (conn_open(t, &t->c[i]) < 0)
			t->errors++;
	for (;;) {
		int64_t now = now_ns();
		int timeout = 10, n;

		if (!stopping && now >= t_stop_ns) {
			stopping = 1;
			drain_until = now + 2000000000ll;
		}
		if (stopping && (drained(t) || now >= drain_until))
			break;
		/* send what the pipeline depth and the schedule allow */
		for (int i = 0; i < t->nconns && !stopping; i++) {
			struct conn *c = &t->c[i];
			int queued = 0;

			if (c->fd < 0 && conn_open(t, c) < 0) {
				t->errors++;
				continue;
			}
			while (c->outstanding < o.pipeline) {
				int64_t at = now;
				if (interval > 0) {
					if ((double)now < next_due)
						break;
					at = (int64_t)next_due;
					next_due += interval;
				}
				if (queue_req(c, at) < 0) {
					stopping = 1;
					drain_until = now + 2000000000ll;
					break;
				}
				queued = 1;
			}
			if (queued && !c->want_out && flush_out(t, c) < 0)
				conn_drop(t, c);
		}
		/* Sleep until the next request is due (to the microsecond: a
		 * millisecond-grained timeout would make this thread spin and
		 * steal the CPU the server under test needs). */
		struct timespec ts = {0, (long)timeout * 1000000L};
		if (interval > 0 && !stopping) {
			double wait = next_due - (double)now_ns();
			if (wait < 0)
				wait = 0;
			if (wait > 1e7)
				wait = 1e7;
			ts.tv_nsec = (long)wait;
		}
		n = epoll_pwait2(t->ep, evs, 256, &ts, NULL);
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->fd < 0)
				continue;
			if ((evs[i].events & EPOLLOUT) && flush_out(t, c) < 0) {
				conn_drop(t, c);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
				ssize_t k =
				    recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
				if (k < 0 && errno == EAGAIN)
					continue;
				if (k <= 0) {
					conn_drop(t, c);
					continue;
				}
				c->in_len += (size_t)k;
				if (take_replies(t, c, now) < 0)
					conn_drop(t, c);
			}
		}
	}
	for (int i = 0; i < t->nconns; i++)
		if (t->c[i].fd >= 0)
			conn_drop(t, &t->c[i]);
	return NULL;
}

/* ---- --uring: the closed loop through io_uring ---------------------------- */

/* user_data of a CQE: connection index, and whether it was the send. */
#define UD_SEND (1ull << 32)

static void uring_send(struct io_uring *r, struct conn *c, int i)
{
	struct io_uring_sqe *q = io_uring_get_sqe(r);

	io_uring_prep_send(q, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(q, UD_SEND | (uint64_t)i);
	c->sending = 1;
}

static void uring_recv(struct io_uring *r, struct conn *c, int i)
{
	struct io_uring_sqe *q = io_uring_get_sqe(r);

	io_uring_prep_recv(q, c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
	io_uring_sqe_set_data64(q, (uint64_t)i);
}

/* Queues requests up to the pipeline depth and sends them.  -1: stop. */
static int uring_feed(struct io_uring *r, struct conn *c, int i, int64_t now)
{
	int queued = 0, rc = 0;

	while (c->outstanding < o.pipeline) {
		if (queue_req(c, now) < 0) {
			rc = -1;
			break;
		}
		queued = 1;
	}
	if (queued && !c->sending)
		uring_send(r, c, i);
	return rc;
}

/* As thread_main, with every send and receive of the thread's connections
 * submitted through one ring: one system call per round instead of one per
 * send, receive and wait.  No reconnects: a connection that fails is
 * dropped for the rest of the run. */
static void *thread_uring(void *arg)
{
	struct thread *t = arg;
	struct io_uring ring;
	int stopping = 0, live = 0;
	int64_t drain_until = 0;
	double interval = t->rate > 0 ? 1e9 / t->rate : 0;
	double next_due = (double)now_ns();

	struct io_uring_params prm = {.flags = IORING_SETUP_SINGLE_ISSUER |
					       IORING_SETUP_DEFER_TASKRUN};

	/* one thread submits and reaps: completions' task work waits for it */
	if (io_uring_queue_init_params((unsigned)(2 * t->nconns + 8), &ring, &prm) < 0 &&
	    io_uring_queue_init((unsigned)(2 * t->nconns + 8), &ring, 0) < 0) {
		t->errors += (uint64_t)t->nconns;
		return NULL;
	}
	for (int i = 0; i < t->nconns; i++) {
		struct conn *c = &t->c[i];
		int one = 1;
		c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&dst, dst_len) < 0) {
			if (c->fd >= 0)
				close(c->fd);
			c->fd = -1;
			t->errors++;
			continue;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->out_len = c->out_off = c->in_len = 0;
		c->head = c->outstanding = c->sending = 0;
		live++;
		uring_recv(&ring, c, i);
		if (!interval && uring_feed(&ring, c, i, now_ns()) < 0)
			stopping = 1;
	}
	while (live > 0) {
		struct __kernel_timespec ts = {0, 10000000}; /* look at the clock every 10 ms */
		struct io_uring_cqe *cqe, *one;
		unsigned seen = 0, head;
		int64_t now = now_ns();

		/* the schedule: requests due now, on connections with room */
		for (int i = 0; i < t->nconns && interval > 0 && !stopping; i++) {
			struct conn *c = &t->c[i];
			int queued = 0;
			while (c->fd >= 0 && c->outstanding < o.pipeline && (double)now >= next_due) {
				if (queue_req(c, (int64_t)next_due) < 0) {
					stopping = 1;
					break;
				}
				next_due += interval;
				queued = 1;
			}
			if (queued && !c->sending)
				uring_send(&ring, c, i);
		}
		if (interval > 0 && !stopping) { /* wake when the next one is due */
			double wait = next_due - (double)now_ns();
			ts.tv_nsec = wait <= 0 ? 0 : wait > 1e7 ? 10000000 : (long long)wait;
		}
		io_uring_submit_and_wait_timeout(&ring, &one, 1, &ts, NULL);
		now = now_ns();
		if (!stopping && now >= t_stop_ns)
			stopping = 1;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			int i = (int)(uint32_t)cqe->user_data, res = cqe->res;
			struct conn *c = &t->c[i];
			seen++;
			if (c->fd < 0)
				continue;
			if (cqe->user_data & UD_SEND) {
				c->sending = 0;
				if (res <= 0) {
					conn_drop_fd(t, c);
					live--;
					continue;
				}
				c->out_off += (size_t)res;
				if (c->out_off < c->out_len)
					uring_send(&ring, c, i);
				else
					c->out_off = c->out_len = 0;
				continue;
			}
			if (res <= 0) {
				conn_drop_fd(t, c);
				live--;
				continue;
			}
			c->in_len += (size_t)res;
			if (take_replies(t, c, now) < 0) {
				conn_drop_fd(t, c);
				live--;
				continue;
			}
			uring_recv(&ring, c, i);
			if (!interval && !stopping && uring_feed(&ring, c, i, now) < 0)
				stopping = 1;
		}
		io_uring_cq_advance(&ring, seen);
		if (stopping && !drain_until) /* the budget may have run out just now */
			drain_until = now + 2000000000ll;
		if (stopping && (drained(t) || now >= drain_until))
			break;
	}
	io_uring_queue_exit(&ring); /* cancels the receives still armed */
	for (int i = 0; i < t->nconns; i++)
		if (t->c[i].fd >= 0)
			conn_drop_fd(t, &t->c[i]);
	return NULL;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen --port PORT [options]\n"
		"  --host ADDR       loopback address of spoord [127.0.0.1]; others are refused\n"
		"  --port PORT       spoord's ingest port [8080]\n"
		"  --conns N         keep-alive connections [64]\n"
		"  --threads N       client threads [1]\n"
		"  --batch N         events per POST, at most 10000 (--file: 1000000) [1]\n"
		"  --pipeline N      requests in flight per connection, 1..%d [1]\n"
		"  --duration S      seconds to run, at most 3600 [10]\n"
		"  --requests N      stop after N requests [no limit]\n"
		"  --rate R          requests/s over all connections, 0 = as fast as possible [0]\n"
		"  --props PCT       percent of events with props [30]\n"
		"  --key KEY         X-Spoor-Key to send\n"
		"  --get PATH        send GET PATH instead of events (the HTTP layer alone)\n"
		"  --file F          send F's NDJSON lines, --batch a request, each once\n"
		"  --path P          request path of the POSTs [/v1/events]\n"
		"  --ndjson          generated bodies as NDJSON lines, not a JSON array\n"
		"  --json            one JSON object on stdout\n"
		"  --uring           send and receive through io_uring (one system call per\n"
		"                    round for all connections)\n",
		MAX_PIPELINE);
}

/* Accepts 127.0.0.0/8, ::1 and "localhost" only. */
static int resolve_loopback(const char *host, int port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&dst;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&dst;

	memset(&dst, 0, sizeof dst);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
			return -1;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		dst_len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		dst_len = sizeof *a6;
		return 0;
	}
	return -1;
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int used = 1;

		if (!strcmp(a, "--json")) {
			o.json = 1;
			used = 0;
		} else if (!strcmp(a, "--ndjson")) {
			o.ndjson = 1;
			used = 0;
		} else if (!strcmp(a, "--uring")) {
			o.uring = 1;
			used = 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!v) {
			fprintf(stderr, "loadgen: %s needs a value\n", a);
			return -1;
		} else if (!strcmp(a, "--host")) {
			snprintf(o.host, sizeof o.host, "%s", v);
		} else if (!strcmp(a, "--port")) {
			o.port = atoi(v);
		} else if (!strcmp(a, "--conns")) {
			o.conns = atoi(v);
		} else if (!strcmp(a, "--threads")) {
			o.threads = atoi(v);
		} else if (!strcmp(a, "--batch")) {
			o.batch = atoi(v);
		} else if (!strcmp(a, "--pipeline")) {
			o.pipeline = atoi(v);
		} else if (!strcmp(a, "--duration")) {
			o.duration = atof(v);
		} else if (!strcmp(a, "--requests")) {
			o.requests = atoll(v);
		} else if (!strcmp(a, "--rate")) {
			o.rate = atof(v);
		} else if (!strcmp(a, "--props")) {
			o.props_pct = atoi(v);
		} else if (!strcmp(a, "--get")) {
			snprintf(o.get, sizeof o.get, "%s", v);
		} else if (!strcmp(a, "--file")) {
			snprintf(o.file, sizeof o.file, "%s", v);
		} else if (!strcmp(a, "--path")) {
			if (v[0] != '/' || strpbrk(v, " \r\n")) {
				fprintf(stderr,
					"loadgen: --path must start with / and hold no space\n");
				return -1;
			}
			snprintf(o.path, sizeof o.path, "%s", v);
		} else if (!strcmp(a, "--key")) {
			snprintf(o.key, sizeof o.key, "%s", v);
		} else {
			fprintf(stderr, "loadgen: unknown option %s\n", a);
			return -1;
		}
		i += used;
	}
	if (o.port <= 0 || o.port > 65535 || o.conns < 1 || o.conns > 10000 || o.threads < 1 ||
	    o.threads > 64 || o.batch < 1 || o.batch > (o.file[0] ? 1000000 : 10000) ||
	    o.pipeline < 1 || o.pipeline > MAX_PIPELINE ||
	    !(o.duration > 0 && o.duration <= 3600) || o.requests < 0 || o.rate < 0) {
		fprintf(stderr, "loadgen: option out of range (see --help)\n");
		return -1;
	}
	if (o.threads > o.conns)
		o.threads = o.conns;
	if (resolve_loopback(o.host, o.port) < 0) {
		fprintf(stderr, "loadgen: %s is not a loopback address; refusing\n", o.host);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct thread *ts;
	uint64_t hist[HIST_BUCKETS] = {0}, done = 0, events = 0, non200 = 0, errors = 0, max_ns = 0;
	double secs;

	if (parse_args(argc, argv) < 0)
		return 2;
	if (o.file[0] ? file_open() < 0 : build_bodies() < 0)
		return 1;
	ts = calloc((size_t)o.threads, sizeof *ts);
	if (!ts)
		return 1;
	t_start = now_ns();
	t_stop_ns = t_start + (int64_t)(o.duration * 1e9);
	for (int i = 0, c0 = 0; i < o.threads; i++) {
		struct thread *t = &ts[i];
		t->id = i;
		t->nconns = o.conns / o.threads + (i < o.conns % o.threads);
		t->c = calloc((size_t)t->nconns, sizeof *t->c);
		t->ep = epoll_create1(EPOLL_CLOEXEC);
		t->rate = o.rate / o.threads;
		if (!t->c || t->ep < 0)
			return 1;
		for (int k = 0; k < t->nconns; k++) {
			t->c[k].fd = -1;
			t->c[k].next_body = (unsigned)(c0 + k);
		}
		c0 += t->nconns;
		pthread_create(&t->t, NULL, o.uring ? thread_uring : thread_main, t);
	}
	for (int i = 0; i < o.threads; i++) {
		pthread_join(ts[i].t, NULL);
		for (int b = 0; b < HIST_BUCKETS; b++)
			hist[b] += ts[i].hist[b];
		done += ts[i].done;
		events += ts[i].events;
		non200 += ts[i].non200;
		errors += ts[i].errors;
		if (ts[i].max_ns > max_ns)
			max_ns = ts[i].max_ns;
	}
	secs = (double)(now_ns() - t_start) / 1e9;
	if (o.json) {
		printf("{\"conns\":%d,\"threads\":%d,\"batch\":%d,\"pipeline\":%d,\"rate\":%.0f,"
		       "\"seconds\":%.3f,\"requests\":%llu,\"requests_per_s\":%.0f,\"events\":%llu,"
		       "\"events_per_s\":%.0f,\"non_200\":%llu,\"errors\":%llu,\"p50_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"file_events\":%llu}\n",
		       o.conns, o.threads, o.batch, o.pipeline, o.rate, secs,
		       (unsigned long long)done, (double)done / secs, (unsigned long long)events,
		       (double)events / secs, (unsigned long long)non200,
		       (unsigned long long)errors, percentile(hist, done, 0.50) / 1e3,
		       percentile(hist, done, 0.99) / 1e3, percentile(hist, done, 0.999) / 1e3,
		       (double)max_ns / 1e6, (unsigned long long)file.lines_all);
	} else {
		printf("loadgen: %d conns, %d threads, batch %d, pipeline %d, rate %s, %.1f s\n",
		       o.conns, o.threads, o.batch, o.pipeline, o.rate > 0 ? "fixed" : "max", secs);
		printf(
		    "requests: %llu (%.0f/s)  events: %llu (%.0f/s)  non-200: %llu  errors: %llu\n",
		    (unsigned long long)done, (double)done / secs, (unsigned long long)events,
		    (double)events / secs, (unsigned long long)non200, (unsigned long long)errors);
		printf("latency: p50 %.3f ms  p99 %.3f ms  p999 %.3f ms  max %.3f ms\n",
		       percentile(hist, done, 0.50) / 1e3, percentile(hist, done, 0.99) / 1e3,
		       percentile(hist, done, 0.999) / 1e3, (double)max_ns / 1e6);
	}
	fflush(stdout);
	for (int i = 0; i < o.threads; i++) {
		for (int k = 0; k < ts[i].nconns; k++)
			free(ts[i].c[k].out);
		free(ts[i].c);
		close(ts[i].ep);
	}
	free(ts);
	for (int i = 0; i < NBODIES; i++)
		free(bodies[i].p);
	if (file.p)
		munmap((void *)file.p, file.len);
	free(file.off);
	free(file.lines);
	return done > 0 ? 0 : 1; /* nothing answered: say so to scripts */
}
