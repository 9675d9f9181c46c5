/*
 * srv_impl.h — what the files of the ingest server share (not a public API).
 *
 *   server.c   srv_start/stop/wait/free, listeners, the interval sync thread
 *   conn.c     a worker's event loop: accept, recv, send, timers, close
 *   request.c  framing: request heads and bodies out of a connection's bytes
 *   commit.c   --fsync always: group commits on the worker's ring
 *   routes.c   the route table and the handlers; replies and CORS
 *   metrics.c  per-thread counters and the Prometheus text
 *   sbuf.c     a growable byte buffer
 *
 * Threads: each worker owns its ring, its connections, its parser and its
 * counters; nothing of a worker is written by another thread.  Counters are
 * written with relaxed atomic stores by their owner only (no read-modify-
 * write), so /metrics can read them from any worker without locks.
 */
#ifndef SPOOR_SRV_IMPL_H
#define SPOOR_SRV_IMPL_H

#include <liburing.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "ingest.h"
#include "server.h"
#include "storage.h"

/* ---- sbuf.c ------------------------------------------------------------- */

/* A growable byte buffer; {0} is an empty one.  Owned memory: sbuf_free(). */
struct sbuf {
	char *p;    /* bytes [0, len) */
	size_t len; /* bytes used */
	size_t cap; /* bytes allocated */
};

/* Makes room for n more bytes; returns a pointer to them or NULL (-ENOMEM). */
char *sbuf_reserve(struct sbuf *b, size_t n);
/* Appends n bytes; returns 0 or -ENOMEM. */
int sbuf_append(struct sbuf *b, const void *p, size_t n);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a string literal. */
#define SBUF_LIT(b, lit) sbuf_append((b), lit, sizeof(lit) - 1)
/* Appends v in decimal. */
int sbuf_u64(struct sbuf *b, uint64_t v);
/* Appends s as the inside of a JSON string (quotes not included). */
int sbuf_json_str(struct sbuf *b, const char *s, size_t n);
void sbuf_free(struct sbuf *b);

/* ---- metrics.c ---------------------------------------------------------- */

/* Statuses counted one by one; others go to ST_OTHER. */
enum {
	ST_200,
	ST_204,
	ST_301,
	ST_304,
	ST_400,
	ST_401,
	ST_404,
	ST_405,
	ST_408,
	ST_413,
	ST_431,
	ST_500,
	ST_501,
	ST_503,
	ST_505,
	ST_OTHER,
	ST_COUNT
};

#define COMMIT_BUCKETS 13 /* upper bounds in metrics.c, then +Inf */

/* Counters of one thread.  Written by that thread only (m_add), read by any
 * thread at /metrics time (m_get). */
struct srv_metrics {
	uint64_t requests[ST_COUNT];		/* replies sent, by status */
	uint64_t ev_accepted;			/* events stored */
	uint64_t ev_rejected;			/* events refused: invalid */
	uint64_t ev_duplicate;			/* events dropped as duplicates */
	uint64_t bytes_received;		/* bytes read from sockets */
	uint64_t conns_open;			/* connections open now */
	uint64_t conns_accepted;		/* connections accepted since start */
	uint64_t conns_refused;			/* closed at once: over --max-conns */
	uint64_t timeouts;			/* requests cut by --request-timeout-ms */
	uint64_t buffered;			/* bytes of connection buffers now */
	uint64_t commit_le[COMMIT_BUCKETS + 1]; /* commit latency histogram */
	uint64_t commit_count;			/* group commits / syncs done */
	uint64_t commit_sum_ns;			/* their total duration */
	uint64_t commit_failures;		/* those that failed */
	int64_t store_ok_ms;			/* wall time of the last successful write */
	int64_t store_fail_ms;			/* wall time of the last failed write (disk) */
};

static inline void m_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
static inline void m_sub(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) - n, __ATOMIC_RELAXED);
}
static inline uint64_t m_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}
static inline void m_set_i64(int64_t *c, int64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}
static inline int64_t m_get_i64(const int64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void metrics_count_status(struct srv_metrics *m, int status);
void metrics_observe_commit(struct srv_metrics *m, uint64_t ns, int failed);
struct srv;
/* Appends the Prometheus text exposition of the whole server to out. */
int metrics_render(struct srv *s, struct sbuf *out);

/* ---- conn.c: connections and workers ------------------------------------ */

enum conn_state {
	C_FREE,	   /* slot unused */
	C_OPEN,	   /* reading requests, sending replies */
	C_LINGER,  /* last reply sent, write side shut: discarding input until EOF */
	C_CLOSING, /* cancel submitted: waiting for the ring to let go of it */
};

/*
 * One client connection.  rbuf is ours alone (multishot recv copies in from
 * provided buffers).  wbuf[wsent, wsent + inflight) belongs to the kernel
 * while a send is in flight: it is never moved or freed before the send's
 * completion (a grown wbuf keeps the old one in `retired` until then).
 */
struct conn {
	int fd;	      /* socket, -1 when free */
	uint32_t idx; /* slot number, in user_data */
	enum conn_state state;
	unsigned ops;	       /* operations in the ring naming this slot */
	uint8_t recv_armed;    /* a multishot recv is in the ring */
	uint8_t send_busy;     /* a send is in the ring */
	uint8_t close_after;   /* no more requests: close once replies are out */
	uint8_t peer_eof;      /* the client shut its write side */
	uint8_t paused;	       /* request processing waits for output to drain */
	uint8_t waiting;       /* on the worker's list, replies held for a commit */
	uint8_t continue_sent; /* 100 Continue sent for the current request */

	/* input */
	char *rbuf; /* received bytes; requests start at roff */
	size_t rcap, rlen, roff;
	size_t head_len;	/* current request's head length, 0 until parsed */
	struct http_chunked ch; /* decoder state of a chunked current request */
	int64_t req_start_ms;	/* first byte of the current request, 0 if none */

	/* output: [0, wsent) sent, [wsent, wready) sendable, [wready, wlen) held
	 * until the group commit numbered need_commit is durable */
	char *wbuf;
	size_t wcap, wlen, wsent, wready;
	char *retired;		    /* old wbuf the in-flight send still points into */
	size_t retired_cap;	    /* its size, for the buffered-bytes count */
	uint64_t need_commit;	    /* worker's append number the held replies wait for */
	struct conn *wprev, *wnext; /* worker's list of waiting connections */

	int64_t active_ms; /* last progress (recv, send, accept) */
	int64_t linger_until_ms;
};

/* Operation kinds, in the top byte of user_data; the slot is the low 32 bits. */
enum op_kind { OP_IGNORE, OP_ACCEPT, OP_RECV, OP_SEND, OP_TICK, OP_SYNC };
#define OP_UD(kind, idx) (((uint64_t)(kind) << 56) | (uint32_t)(idx))

struct worker {
	struct srv *srv; /* shared, read-only after start */
	int id;
	pthread_t thread;
	int started;	      /* thread created */
	struct io_uring ring; /* created and used by this thread only */
	int ring_ok;
	const char *ring_mode; /* setup flags the kernel took */
	int listen_fd;	       /* this thread's SO_REUSEPORT listener */
	uint8_t accept_armed;
	uint8_t accept_rearm; /* re-arm at the next tick (after EMFILE...) */
	uint8_t tick_armed;
	uint8_t stopping; /* stop seen: no accepts, closing connections */
	int64_t stop_deadline_ms;

	/* provided buffers for multishot recv (buffer group 0): each buffer
	 * belongs to the kernel until a recv completion names it */
	struct io_uring_buf_ring *br;
	char *bufs;
	unsigned nbufs, buf_size;

	struct conn *conns;		  /* max_conns slots */
	uint32_t *free_slots;		  /* stack of free slot numbers */
	uint32_t nfree, nslots, slots_hi; /* slots_hi: one past the highest used */
	uint32_t nconns;

	struct ingest_parser *parser;
	int8_t *status; /* store_append statuses, grown to the largest batch */
	size_t status_cap;
	struct http_header hdrs[64];
	struct sbuf scratch; /* reply bodies */
	size_t buffered_cap; /* this thread's share of --max-buffered */
	size_t buffered;     /* bytes in rbuf/wbuf of its connections */

	/* group commit (--fsync always) */
	uint64_t appended;	 /* store_append calls made (numbering commits) */
	uint64_t durable;	 /* appends known durable */
	struct store_sync *sync; /* batch in flight, NULL when none */
	uint64_t sync_covers;	 /* appended when the batch was prepared */
	int64_t sync_t0_ns;
	struct conn *wait_head; /* connections whose replies wait for a commit */
	struct __kernel_timespec tick_ts;

	int64_t now_ms;	 /* monotonic, updated once per loop turn */
	int64_t wall_ms; /* wall clock, same moment */

	struct srv_metrics m; /* this thread's counters */
};

struct srv {
	struct srv_config cfg;
	struct store *store; /* borrowed */
	struct worker *workers;
	int nworkers;
	int port;
	const char *ring_mode;
	int stop;	/* set by srv_stop (atomic) */
	size_t key_len; /* strlen(cfg.ingest_key) */
	int cors_any;	/* cors_origins is "*" */
	int conns;	/* open connections, all workers (atomic; per accept and
			   close, never per request) */

	struct ingest_skew *skew; /* clock offsets of sessions, shared by the parsers */
	pthread_t sync_thread; /* --fsync interval */
	int sync_started;
	pthread_t watch_thread; /* raises a starved sync thread (SCHED_IDLE) */
	int watch_started;
	int64_t sync_done_ns;	/* end of the last sync (atomic) */
	int sync_boosted;	/* the watchdog raised the sync thread (atomic) */
	uint64_t sync_boosts;	/* times it did (atomic) */
	pthread_mutex_t mu; /* guards sync_quit */
	pthread_cond_t cv;
	int sync_quit;
	struct srv_metrics sync_m; /* the sync thread's counters */

	/* startup handshake */
	pthread_mutex_t start_mu;
	pthread_cond_t start_cv;
	int nready;
	int start_err;
	char start_msg[256];
	int joined;
};

/* Thread body of a worker. */
void *worker_main(void *arg);

/* Appends n bytes of reply to c's output.  They are sent in order once all
 * held replies before them are released.  Returns 0 or -ENOMEM. */
int conn_out(struct worker *w, struct conn *c, const void *p, size_t n);
/* Holds c's replies from now on until the commit of everything appended so
 * far by this worker is durable (--fsync always). */
void conn_hold(struct worker *w, struct conn *c);
/* Sends what is sendable; closes or lingers a connection marked close_after
 * once its output is out. */
void conn_flush(struct worker *w, struct conn *c);
/* Starts the end of c: cancels its operations and frees it once the ring is
 * done with it. */
void conn_close(struct worker *w, struct conn *c);
/* Grows c->rbuf to hold at least `need` bytes from its start.  Returns 0, or
 * ERR_FULL when the thread's buffer budget is spent, or -ENOMEM. */
int conn_rbuf_reserve(struct worker *w, struct conn *c, size_t need);

/* ---- request.c ---------------------------------------------------------- */

/* Handles every complete request in c->rbuf[roff, rlen), in order. */
void req_process(struct worker *w, struct conn *c);

/* ---- commit.c ----------------------------------------------------------- */

/* At the end of a loop turn: starts a group commit when replies wait and
 * none is in flight. */
void commit_poll(struct worker *w);
/* A completion tagged OP_SYNC. */
void commit_cqe(struct worker *w, int res);
/* Removes c from the waiting list (when it closes). */
void commit_forget(struct worker *w, struct conn *c);

/* ---- routes.c ----------------------------------------------------------- */

/*
 * Answers one complete request: appends the reply to c's output and sets
 * c->close_after when the connection ends with it.  rq/hdrs/body borrow
 * c->rbuf.
 */
void route_request(struct worker *w, struct conn *c, const struct http_request *rq,
		   const struct http_header *hdrs, char *body, size_t blen);
/* Answers with an error `status` before or without a parsed request (rq may
 * be NULL) and marks the connection to close.  extra: more header lines or
 * NULL. */
void route_error(struct worker *w, struct conn *c, const struct http_request *rq, int status,
		 const char *msg, const char *extra);
/* "HTTP/1.1 100 Continue". */
void route_continue(struct worker *w, struct conn *c);

/* ---- server.c ----------------------------------------------------------- */

/* A worker reports the end of its setup: rc 0, or a negative code and a
 * message.  srv_start() waits for every worker's report. */
void srv_worker_ready(struct srv *s, int rc, const char *msg);
/* 1 when the store took the last write (no ENOSPC since), else 0. */
int srv_store_writable(struct srv *s);
/* Monotonic and wall clocks in ms / ns. */
int64_t srv_mono_ms(void);
int64_t srv_mono_ns(void);
int64_t srv_wall_ms(void);

#endif
