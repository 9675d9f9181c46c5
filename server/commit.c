/*
 * commit.c — group commit for --fsync always, on the worker's own ring.
 *
 * Numbering: a worker counts its store_append() calls in w->appended.  A
 * request that appended holds its connection's replies (conn_hold) until
 * w->durable >= the count after its append.  At the end of each loop turn,
 * when some connection waits and no batch is in flight, commit_poll()
 * snapshots what is committed with store_sync_prepare() — that covers every
 * append made so far, w->appended included — and queues the batch's linked
 * fsyncs with store_sync_submit().  The thread goes on serving; replies that
 * arrive meanwhile wait for the next batch (one in flight per thread).  When
 * store_sync_cqe() says the batch is done, durable = the count at prepare
 * time and every connection it covers is released, in list order.
 *
 * A failed batch answers each covered connection with 503 (its held 200s
 * are dropped: they were never durable) and closes it; a pipelined request
 * behind them gets no reply, which HTTP allows after a close.
 */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "srv_impl.h"

static void unlink_conn(struct worker *w, struct conn *c)
{
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		w->wait_head = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	c->wprev = c->wnext = NULL;
	c->waiting = 0;
}

void conn_hold(struct worker *w, struct conn *c)
{
	c->need_commit = w->appended;
	if (c->waiting)
		return;
	c->waiting = 1;
	c->wprev = NULL;
	c->wnext = w->wait_head;
	if (w->wait_head)
		w->wait_head->wprev = c;
	w->wait_head = c;
}

void commit_forget(struct worker *w, struct conn *c)
{
	if (c->waiting)
		unlink_conn(w, c);
}

/* Releases the connections covered by appends up to `covers`: their held
 * replies go out (err == 0) or are replaced by a 503 (err < 0). */
static void release(struct worker *w, uint64_t covers, int err)
{
	struct conn *c, *next;

	if (err == 0 && covers > w->durable)
		w->durable = covers;
	for (c = w->wait_head; c; c = next) {
		next = c->wnext;
		if (c->need_commit > covers)
			continue;
		unlink_conn(w, c);
		if (err < 0) {
			c->wlen = c->wready;
			route_error(w, c, NULL, 503, "events not durable: sync failed",
				    "Retry-After: 1\r\n");
		}
		c->wready = c->wlen;
		conn_flush(w, c);
	}
}

static void note_failure(struct worker *w, int err)
{
	m_set_i64(&w->m.store_fail_ms, w->wall_ms);
	log_warn("group commit failed", "thread=%d error=\"%s\"", w->id, err_str(err));
}

void commit_poll(struct worker *w)
{
	struct store_sync *b = NULL;
	uint64_t covers = w->appended;
	unsigned need;
	int rc;

	if (!w->wait_head || w->sync)
		return;
	w->sync_t0_ns = srv_mono_ns();
	rc = store_sync_prepare(w->srv->store, &b);
	if (rc < 0 || !b) {
		/* nothing dirty: everything appended is durable already */
		if (rc < 0)
			note_failure(w, rc);
		metrics_observe_commit(&w->m, (uint64_t)(srv_mono_ns() - w->sync_t0_ns), rc < 0);
		release(w, covers, rc < 0 ? rc : 0);
		return;
	}
	need = store_sync_sqes(b);
	if (io_uring_sq_space_left(&w->ring) < need)
		io_uring_submit(&w->ring);
	if (io_uring_sq_space_left(&w->ring) < need) {
		rc = -EBUSY;
	} else {
		/* the batch's buffers belong to the kernel until its last CQE */
		rc = store_sync_submit(b, &w->ring, OP_UD(OP_SYNC, 0));
	}
	if (rc < 0) {
		store_sync_release(b);
		note_failure(w, rc);
		metrics_observe_commit(&w->m, 0, 1);
		release(w, covers, rc);
		return;
	}
	w->sync = b;
	w->sync_covers = covers;
}

void commit_cqe(struct worker *w, int res)
{
	int err = 0;

	if (!w->sync || store_sync_cqe(w->sync, res, &err) != 1)
		return;
	store_sync_release(w->sync);
	w->sync = NULL;
	metrics_observe_commit(&w->m, (uint64_t)(srv_mono_ns() - w->sync_t0_ns), err < 0);
	if (err < 0)
		note_failure(w, err);
	release(w, w->sync_covers, err);
}
