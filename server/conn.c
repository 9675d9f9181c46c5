/*
 * conn.c — a worker thread: its io_uring event loop and its connections.
 *
 * Each worker owns one ring (created in the thread, so SINGLE_ISSUER holds),
 * one SO_REUSEPORT listener with a multishot accept, one provided-buffer
 * ring shared by the multishot recvs of its connections, a periodic timeout
 * (the tick) that drives every timer, and at most one group commit
 * (commit.c).  The loop submits, waits for at least one completion, handles
 * every completion that is there, then lets commit.c start a group commit.
 *
 * Life of a connection (struct conn.state):
 *
 *   accept ─▶ C_OPEN ──(close_after, output all sent)──▶ C_LINGER ──(EOF or 5 s)──┐
 *               │  requests in, replies out, keep-alive   shutdown(SHUT_WR),       │
 *               │                                         input discarded          ▼
 *               └──(socket error, peer gone, timeout)────────────────────────▶ C_CLOSING
 *                                                        cancel its ops; once ops == 0:
 *                                                        close(fd), slot back to C_FREE
 *
 * Invariants:
 *  1. A slot is freed only when no operation in the ring names it (ops == 0),
 *     so every completion finds its own connection, never a successor.
 *  2. At most one send per connection is in flight; it covers
 *     wbuf[wsent, wready) and the kernel reads those bytes until it completes:
 *     they are never moved or freed before (conn_out keeps a grown-out-of
 *     buffer in `retired`).
 *  3. Replies leave in request order: they are appended to wbuf in order and
 *     sent from its front; replies held for a group commit hold every later
 *     reply of the same connection too.
 *  4. A connection the server ends while the client may still be sending is
 *     lingered (write side shut, input read and dropped for a bounded time)
 *     so its last reply is not destroyed by an RST.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "srv_impl.h"

#define SQ_ENTRIES    4096
#define CQ_ENTRIES    16384
#define NBUFS	      512   /* provided buffers per worker (power of two) */
#define BUF_SIZE      16384 /* bytes per provided buffer */
#define BGID	      0	    /* buffer group id */
#define TICK_MS	      100   /* timer resolution */
#define LINGER_MS     5000  /* how long a closing connection's input is drained */
#define RBUF_INIT     8192
#define WBUF_INIT     2048
#define KEEP_BUF      65536 /* buffers up to this size stay with a freed slot */
#define STOP_GRACE_MS 30000 /* upper bound of a stop, whatever the timeouts */

/* Adds delta (may wrap negative) to the thread's buffered-bytes count. */
static void account(struct worker *w, ptrdiff_t delta)
{
	w->buffered += (size_t)delta;
	if (delta >= 0)
		m_add(&w->m.buffered, (uint64_t)delta);
	else
		m_sub(&w->m.buffered, (uint64_t)-delta);
}

/*
 * A free SQE, submitting what is queued when the SQ is full.  Returns NULL
 * only when the kernel takes nothing (the caller gives up on the operation).
 */
static struct io_uring_sqe *get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	for (int i = 0; !sqe && i < 8; i++) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* Arms a multishot recv on c into buffer group BGID.  Returns 0 or -EBUSY. */
static int arm_recv(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, OP_UD(OP_RECV, c->idx));
	c->recv_armed = 1;
	c->ops++;
	return 0;
}

static void arm_accept(struct worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe) {
		w->accept_rearm = 1;
		return;
	}
	io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, OP_UD(OP_ACCEPT, 0));
	w->accept_armed = 1;
	w->accept_rearm = 0;
}

static void arm_tick(struct worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return; /* the next loop turn tries again */
	io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, OP_UD(OP_TICK, 0));
	w->tick_armed = 1;
}

/* Gives provided buffer `bid` back to the kernel: it may fill it at once. */
static void recycle_buf(struct worker *w, unsigned bid)
{
	io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * w->buf_size, w->buf_size,
			      (unsigned short)bid, io_uring_buf_ring_mask(w->nbufs), 0);
	io_uring_buf_ring_advance(w->br, 1);
}

/* ---- connection buffers ------------------------------------------------- */

int conn_rbuf_reserve(struct worker *w, struct conn *c, size_t need)
{
	size_t max = SRV_MAX_HEAD + w->srv->cfg.max_body + 2 * (size_t)w->buf_size;
	size_t cap;
	char *p;

	if (need <= c->rcap)
		return 0;
	if (need > max)
		return ERR_TOOBIG;
	cap = c->rcap ? c->rcap : RBUF_INIT;
	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	if (w->buffered + (cap - c->rcap) > w->buffered_cap)
		return ERR_FULL;
	p = realloc(c->rbuf, cap);
	if (!p)
		return -ENOMEM;
	account(w, (ptrdiff_t)(cap - c->rcap));
	c->rbuf = p;
	c->rcap = cap;
	return 0;
}

int conn_out(struct worker *w, struct conn *c, const void *p, size_t n)
{
	if (c->wcap - c->wlen < n) {
		size_t cap = c->wcap ? c->wcap : WBUF_INIT;
		char *nb;

		while (cap - c->wlen < n)
			cap *= 2;
		if (c->send_busy) {
			/* The kernel still reads the old buffer: copy, and keep the
			 * old one until the send completes. */
			nb = malloc(cap);
			if (!nb)
				return -ENOMEM;
			memcpy(nb, c->wbuf, c->wlen);
			if (c->retired) {
				/* the in-flight send reads `retired`, not wbuf */
				free(c->wbuf);
				account(w, -(ptrdiff_t)c->wcap);
			} else {
				c->retired = c->wbuf;
				c->retired_cap = c->wcap;
			}
		} else {
			nb = realloc(c->wbuf, cap);
			if (!nb)
				return -ENOMEM;
			account(w, -(ptrdiff_t)c->wcap);
		}
		account(w, (ptrdiff_t)cap);
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	if (!c->waiting)
		c->wready = c->wlen;
	return 0;
}

/* Copies n received bytes into c->rbuf.  On overflow answers 503 and ends
 * the connection. */
static void take_bytes(struct worker *w, struct conn *c, const char *data, size_t n)
{
	int rc;

	if (c->rlen == c->roff) {
		c->rlen = c->roff = 0;
		if (!c->req_start_ms)
			c->req_start_ms = w->now_ms;
	}
	if (c->rcap - c->rlen < n && c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	rc = conn_rbuf_reserve(w, c, c->rlen + n);
	if (rc < 0) {
		log_write(LOG_DEBUG, "input buffer full", "fd=%d error=\"%s\"", c->fd, err_str(rc));
		route_error(w, c, NULL, 503, "server input buffers are full", "Retry-After: 1\r\n");
		return;
	}
	memcpy(c->rbuf + c->rlen, data, n);
	c->rlen += n;
}

/* ---- connection life ---------------------------------------------------- */

/* Frees c's buffers (all of them, or only those over KEEP_BUF) when it has
 * nothing buffered, so idle connections hold little memory. */
static void trim_buffers(struct worker *w, struct conn *c, int all)
{
	if (c->rlen == 0 && c->rcap > (all ? 0 : KEEP_BUF)) {
		free(c->rbuf);
		account(w, -(ptrdiff_t)c->rcap);
		c->rbuf = NULL;
		c->rcap = 0;
	}
	if (c->wlen == 0 && !c->send_busy && c->wcap > (all ? 0 : KEEP_BUF)) {
		free(c->wbuf);
		account(w, -(ptrdiff_t)c->wcap);
		c->wbuf = NULL;
		c->wcap = 0;
	}
}

static void conn_free(struct worker *w, struct conn *c)
{
	uint32_t idx = c->idx;

	commit_forget(w, c);
	close(c->fd);
	if (c->retired) {
		free(c->retired);
		account(w, -(ptrdiff_t)c->retired_cap);
	}
	c->rlen = c->wlen = 0;
	trim_buffers(w, c, 1);
	memset(c, 0, sizeof *c);
	c->idx = idx;
	c->fd = -1;
	c->state = C_FREE;
	w->free_slots[w->nfree++] = idx;
	w->nconns--;
	__atomic_sub_fetch(&w->srv->conns, 1, __ATOMIC_RELAXED);
	m_sub(&w->m.conns_open, 1);
}

/* Frees c once the ring holds nothing of it. */
static void conn_reap(struct worker *w, struct conn *c)
{
	if (c->state == C_CLOSING && c->ops == 0)
		conn_free(w, c);
}

void conn_close(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state == C_CLOSING || c->state == C_FREE)
		return;
	c->state = C_CLOSING;
	commit_forget(w, c);
	if (c->ops > 0) {
		sqe = get_sqe(w);
		if (sqe) {
			io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(sqe, OP_UD(OP_IGNORE, 0));
		} else {
			/* no SQE: make the kernel end them through the socket */
			shutdown(c->fd, SHUT_RDWR);
		}
	}
	conn_reap(w, c);
}

/* The last reply is out: shut the write side and drain input until the
 * client closes (or LINGER_MS), so the client can read the reply. */
static void conn_linger(struct worker *w, struct conn *c)
{
	c->state = C_LINGER;
	c->linger_until_ms = w->now_ms + LINGER_MS;
	c->rlen = c->roff = 0;
	c->head_len = 0;
	shutdown(c->fd, SHUT_WR);
	if (!c->recv_armed && arm_recv(w, c) < 0)
		conn_close(w, c);
}

void conn_flush(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state != C_OPEN || c->send_busy)
		return;
	if (c->wsent < c->wready) {
		sqe = get_sqe(w);
		if (!sqe) {
			conn_close(w, c);
			return;
		}
		/* wbuf[wsent, wready) belongs to the kernel until this send's
		 * completion (invariant 2). */
		io_uring_prep_send(sqe, c->fd, c->wbuf + c->wsent, c->wready - c->wsent,
				   MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, OP_UD(OP_SEND, c->idx));
		c->send_busy = 1;
		c->ops++;
		return;
	}
	if (c->wsent > 0) {
		/* everything sendable is out: keep only the held tail */
		memmove(c->wbuf, c->wbuf + c->wsent, c->wlen - c->wsent);
		c->wlen -= c->wsent;
		c->wready -= c->wsent;
		c->wsent = 0;
	}
	if (c->close_after && c->wlen == 0 && !c->waiting) {
		if (c->peer_eof)
			conn_close(w, c);
		else
			conn_linger(w, c);
	}
}

static void conn_open(struct worker *w, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Retry-After: 1\r\nConnection: close\r\n\r\n";
	struct conn *c;
	int one = 1, refuse = w->stopping || w->nfree == 0;

	if (!refuse &&
	    __atomic_add_fetch(&w->srv->conns, 1, __ATOMIC_RELAXED) > w->srv->cfg.max_conns) {
		__atomic_sub_fetch(&w->srv->conns, 1, __ATOMIC_RELAXED);
		refuse = 1;
	}
	if (refuse) {
		if (!w->stopping) {
			m_add(&w->m.conns_refused, 1);
			if (send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* best effort: the client sees the close */
			}
		}
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = &w->conns[w->free_slots[--w->nfree]];
	c->fd = fd;
	c->state = C_OPEN;
	c->active_ms = w->now_ms;
	if (c->idx + 1 > w->slots_hi)
		w->slots_hi = c->idx + 1;
	w->nconns++;
	m_add(&w->m.conns_open, 1);
	m_add(&w->m.conns_accepted, 1);
	if (arm_recv(w, c) < 0)
		conn_close(w, c);
}

/* ---- completions -------------------------------------------------------- */

static void on_accept(struct worker *w, struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0)
		conn_open(w, cqe->res);
	else if (cqe->res != -ECANCELED)
		log_write(LOG_DEBUG, "accept failed", "error=\"%s\"", err_str(cqe->res));
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	w->accept_armed = 0;
	if (w->stopping) {
		if (w->listen_fd >= 0)
			close(w->listen_fd);
		w->listen_fd = -1;
	} else if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM ||
		   cqe->res == -ENOBUFS) {
		w->accept_rearm = 1; /* at the next tick, not in a tight loop */
	} else {
		arm_accept(w);
	}
}

static void on_recv(struct worker *w, struct conn *c, struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		c->recv_armed = 0;
		c->ops--;
	}
	if (res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		/* the kernel filled provided buffer bid for us; copy and give it back */
		m_add(&w->m.bytes_received, (uint64_t)res);
		c->active_ms = w->now_ms;
		if (c->state == C_OPEN && !c->close_after)
			take_bytes(w, c, w->bufs + (size_t)bid * w->buf_size, (size_t)res);
		recycle_buf(w, bid);
	} else if (res == 0) {
		c->peer_eof = 1;
	}
	switch (c->state) {
	case C_OPEN:
		if (res < 0 && res != -ENOBUFS) {
			conn_close(w, c);
			break;
		}
		if (!c->paused && !c->close_after)
			req_process(w, c);
		else if (c->peer_eof && !c->paused)
			c->close_after = 1;
		conn_flush(w, c);
		break;
	case C_LINGER:
		if (res == 0 || (res < 0 && res != -ENOBUFS))
			conn_close(w, c);
		break;
	default: break;
	}
	if (!c->recv_armed && !c->peer_eof && (c->state == C_OPEN || c->state == C_LINGER) &&
	    arm_recv(w, c) < 0)
		conn_close(w, c);
	conn_reap(w, c);
}

static void on_send(struct worker *w, struct conn *c, int res)
{
	c->send_busy = 0;
	c->ops--;
	if (c->retired) {
		free(c->retired);
		account(w, -(ptrdiff_t)c->retired_cap);
		c->retired = NULL;
	}
	if (c->state == C_OPEN) {
		if (res < 0) {
			conn_close(w, c);
		} else {
			c->wsent += (size_t)res;
			c->active_ms = w->now_ms;
			if (c->paused && c->wlen - c->wsent == 0) {
				c->paused = 0;
				req_process(w, c);
			}
			conn_flush(w, c);
		}
	}
	conn_reap(w, c);
}

/* Checks c's timers: linger end, request timeout, idle keep-alive, a client
 * that does not read its replies. */
static void tick_conn(struct worker *w, struct conn *c)
{
	const struct srv_config *cfg = &w->srv->cfg;
	int64_t now = w->now_ms;

	if (c->state == C_LINGER) {
		if (now >= c->linger_until_ms)
			conn_close(w, c);
		return;
	}
	if (c->state != C_OPEN || c->waiting)
		return; /* a connection waiting for the disk is not the client's fault */
	if (c->send_busy || c->wsent < c->wlen) {
		if (now - c->active_ms >= cfg->idle_timeout_ms)
			conn_close(w, c);
		return;
	}
	if (c->rlen > c->roff || c->head_len) {
		if (c->req_start_ms && now - c->req_start_ms >= cfg->request_timeout_ms) {
			m_add(&w->m.timeouts, 1);
			route_error(w, c, NULL, 408, "request not received in time", NULL);
			conn_flush(w, c);
		}
		return;
	}
	if (now - c->active_ms >= cfg->idle_timeout_ms)
		conn_close(w, c);
	else if (now - c->active_ms >= 1000)
		trim_buffers(w, c, 0); /* idle for a while: give back large buffers */
}

/* Stop requested: no more accepts; idle connections close now, the others
 * after the reply to the request they are in. */
static void begin_stop(struct worker *w)
{
	int64_t grace = (int64_t)w->srv->cfg.request_timeout_ms + LINGER_MS;
	struct io_uring_sqe *sqe;

	w->stopping = 1;
	w->stop_deadline_ms = w->now_ms + (grace < STOP_GRACE_MS ? grace : STOP_GRACE_MS);
	if (w->accept_armed && (sqe = get_sqe(w))) {
		io_uring_prep_cancel64(sqe, OP_UD(OP_ACCEPT, 0), 0);
		io_uring_sqe_set_data64(sqe, OP_UD(OP_IGNORE, 0));
	} else if (!w->accept_armed && w->listen_fd >= 0) {
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	for (uint32_t i = 0; i < w->slots_hi; i++) {
		struct conn *c = &w->conns[i];
		int mid_request = c->rlen > c->roff || c->head_len;

		if (c->state != C_OPEN || mid_request)
			continue;
		c->close_after = 1;
		conn_flush(w, c);
		if (c->state == C_LINGER)
			conn_close(w, c); /* it was idle: nothing to linger for */
	}
}

static void on_tick(struct worker *w)
{
	w->tick_armed = 0;
	if (w->accept_rearm && !w->stopping)
		arm_accept(w);
	for (uint32_t i = 0; i < w->slots_hi; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == C_FREE)
			continue;
		if (w->stopping && w->now_ms >= w->stop_deadline_ms)
			conn_close(w, c);
		else
			tick_conn(w, c);
		conn_reap(w, c);
	}
	while (w->slots_hi > 0 && w->conns[w->slots_hi - 1].state == C_FREE)
		w->slots_hi--;
	arm_tick(w);
}

static void handle_cqe(struct worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	uint32_t idx = (uint32_t)ud;

	switch ((enum op_kind)(ud >> 56)) {
	case OP_ACCEPT: on_accept(w, cqe); break;
	case OP_RECV: on_recv(w, &w->conns[idx], cqe); break;
	case OP_SEND: on_send(w, &w->conns[idx], cqe->res); break;
	case OP_TICK: on_tick(w); break;
	case OP_SYNC: commit_cqe(w, cqe->res); break;
	case OP_IGNORE: break;
	}
}

/* ---- setup and loop ----------------------------------------------------- */

/* Creates the ring, preferring SINGLE_ISSUER | DEFER_TASKRUN. */
static int ring_init(struct worker *w)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
		  IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = CQ_ENTRIES;
	rc = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
	if (rc == 0) {
		w->ring_mode = "single_issuer+defer_taskrun";
		return 0;
	}
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = CQ_ENTRIES;
	rc = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
	if (rc == 0)
		w->ring_mode = "plain";
	return rc;
}

/* Registers the provided buffers of multishot recv (liburing 2.3 API). */
static int bufs_init(struct worker *w)
{
	struct io_uring_buf_reg reg;
	size_t rsz;
	int rc;

	w->nbufs = NBUFS;
	w->buf_size = BUF_SIZE;
	rsz = w->nbufs * sizeof(struct io_uring_buf);
	w->br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->br == MAP_FAILED) {
		w->br = NULL;
		return -errno;
	}
	w->bufs = mmap(NULL, (size_t)w->nbufs * w->buf_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->bufs == MAP_FAILED) {
		w->bufs = NULL;
		return -errno;
	}
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (unsigned long)w->br;
	reg.ring_entries = w->nbufs;
	reg.bgid = BGID;
	rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (rc < 0)
		return rc;
	io_uring_buf_ring_init(w->br);
	/* from here each buffer belongs to the kernel until a recv names it */
	for (unsigned i = 0; i < w->nbufs; i++)
		io_uring_buf_ring_add(w->br, w->bufs + (size_t)i * w->buf_size, w->buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(w->nbufs), (int)i);
	io_uring_buf_ring_advance(w->br, (int)w->nbufs);
	return 0;
}

static int worker_setup(struct worker *w, char *msg, size_t len)
{
	const struct srv_config *cfg = &w->srv->cfg;
	/* --max-conns is enforced over all threads (srv->conns); a thread has
	 * room for twice its share, as SO_REUSEPORT spreads by hash */
	uint64_t share = ((uint64_t)cfg->max_conns + (uint64_t)w->srv->nworkers - 1) /
			 (uint64_t)w->srv->nworkers;
	uint32_t slots =
	    (uint32_t)(2 * share + 16 < (uint64_t)cfg->max_conns ? 2 * share + 16
								 : (uint64_t)cfg->max_conns);
	int rc;

	rc = ring_init(w);
	if (rc < 0) {
		snprintf(msg, len, "io_uring_queue_init: %s", err_str(rc));
		return rc;
	}
	w->ring_ok = 1;
	rc = bufs_init(w);
	if (rc < 0) {
		snprintf(msg, len, "provided buffer ring: %s", err_str(rc));
		return rc;
	}
	rc = ingest_parser_new(cfg->max_body, &w->parser);
	if (rc < 0) {
		snprintf(msg, len, "ingest parser: %s", err_str(rc));
		return rc;
	}
	ingest_parser_set_skew(w->parser, w->srv->skew);
	w->conns = calloc(slots, sizeof *w->conns);
	w->free_slots = calloc(slots, sizeof *w->free_slots);
	if (!w->conns || !w->free_slots) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	w->nslots = slots;
	for (uint32_t i = 0; i < slots; i++) {
		w->conns[i].fd = -1;
		w->conns[i].idx = i;
		w->free_slots[i] = slots - 1 - i; /* slot 0 is taken first */
	}
	w->nfree = slots;
	w->buffered_cap = cfg->max_buffered / (size_t)w->srv->nworkers;
	w->tick_ts.tv_sec = 0;
	w->tick_ts.tv_nsec = TICK_MS * 1000000ll;
	w->now_ms = srv_mono_ms();
	w->wall_ms = srv_wall_ms();
	arm_accept(w);
	arm_tick(w);
	rc = io_uring_submit(&w->ring);
	if (rc < 0) {
		snprintf(msg, len, "io_uring_submit: %s", err_str(rc));
		return rc;
	}
	return 0;
}

static void worker_loop(struct worker *w)
{
	struct srv *s = w->srv;

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int rc;

		/* done: no connection, no commit in flight, and the accept gone
		 * (or given up on after the stop deadline) */
		if (w->stopping && w->nconns == 0 && !w->sync &&
		    (!w->accept_armed || w->now_ms >= w->stop_deadline_ms))
			break;
		rc = io_uring_submit_and_wait(&w->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
			log_error("io_uring_submit_and_wait failed", "thread=%d error=\"%s\"",
				  w->id, err_str(rc));
			break;
		}
		w->now_ms = srv_mono_ms();
		w->wall_ms = srv_wall_ms();
		if (!w->stopping && __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
			begin_stop(w);
		io_uring_for_each_cqe(&w->ring, head, cqe)
		{
			handle_cqe(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		if (!w->tick_armed)
			arm_tick(w);
		commit_poll(w);
	}
}

static void worker_teardown(struct worker *w)
{
	if (w->conns) {
		for (uint32_t i = 0; i < w->nslots; i++) {
			struct conn *c = &w->conns[i];
			if (c->fd >= 0)
				close(c->fd);
			free(c->rbuf);
			free(c->wbuf);
			free(c->retired);
		}
	}
	if (w->sync) {
		/* only when the loop broke on a ring error */
		store_sync_release(w->sync);
		w->sync = NULL;
	}
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	w->listen_fd = -1;
	if (w->bufs)
		munmap(w->bufs, (size_t)w->nbufs * w->buf_size);
	if (w->br)
		munmap(w->br, w->nbufs * sizeof(struct io_uring_buf));
	free(w->conns);
	free(w->free_slots);
	free(w->status);
	sbuf_free(&w->scratch);
	ingest_parser_free(w->parser);
	w->conns = NULL;
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	char msg[200] = "";
	int rc;

	rc = worker_setup(w, msg, sizeof msg);
	srv_worker_ready(w->srv, rc, msg);
	if (rc == 0)
		worker_loop(w);
	worker_teardown(w);
	return NULL;
}
