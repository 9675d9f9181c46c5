/*
 * storage.h — spoor's columnar event store.
 *
 * A store is a data directory of time partitions, each split into session
 * shards; each (partition, shard) holds sealed segments (sorted, compressed,
 * immutable) and at most one active segment (mmap'd columns, appended).  The
 * library knows nothing of HTTP or JSON: it takes parsed events and hands
 * back columns.  docs/architecture.md has the byte layout of every file.
 *
 * Threads: store_append() may be called from any number of threads at once;
 * appends to different shards never contend.  Snapshots may be taken and read
 * from any thread while appends run; a snapshot never blocks an append.
 *
 * Errors: 0 or a count on success, -errno or an ERR_* code (common/err.h).
 * Nothing here exits or aborts on bad input or a damaged file.
 *
 * Ownership: a pointer passed in is borrowed for the duration of the call
 * unless stated.  A pointer handed out by a snapshot (string views, column
 * arrays) stays valid until store_snap_release() of that snapshot, or until
 * the next read through the same struct store_cursor, as documented below.
 */
#ifndef SPOOR_STORAGE_H
#define SPOOR_STORAGE_H

#include <stddef.h>
#include <stdint.h>

struct io_uring;

#define STORE_FORMAT_VERSION 1

/* Limits of the event model (DESIGN.md), enforced by store_append(). */
#define STORE_MAX_SESSION 128
#define STORE_MAX_USER 128
#define STORE_MAX_TYPE 64
#define STORE_MAX_TARGET 256
#define STORE_MAX_URL 2048
#define STORE_MAX_PROPS 8192
#define STORE_MAX_ID 64

/* A borrowed byte string.  n == 0 means absent for the optional fields. */
struct store_str {
	const char *p; /* not NUL-terminated */
	uint32_t n;    /* length in bytes */
};

/* Flags of struct store_event.flags. */
#define STORE_HAS_X 0x01u
#define STORE_HAS_Y 0x02u

/* One event, as appended and as read back. */
struct store_event {
	int64_t ts;             /* event time, ms since the epoch */
	int64_t recv;           /* server receive time, ms since the epoch */
	struct store_str session; /* required, 1..STORE_MAX_SESSION bytes */
	struct store_str user;    /* optional */
	struct store_str type;    /* required, 1..STORE_MAX_TYPE bytes */
	struct store_str target;  /* optional */
	struct store_str url;     /* optional */
	struct store_str props;   /* optional raw JSON object bytes, kept exact */
	struct store_str id;      /* optional client event id, for dedup */
	int32_t x, y;           /* valid when STORE_HAS_X / STORE_HAS_Y */
	uint32_t flags;         /* STORE_HAS_* */
};

/* Options of store_open().  Zero fields take the defaults in brackets. */
struct store_opts {
	uint32_t shards;        /* session shards [16]; fixed when the store is created */
	int64_t partition_ms;   /* partition span [3600000]; fixed at creation */
	uint32_t seg_rows;      /* rows per active segment [1 << 20] */
	uint32_t max_active;    /* open active segments before the least recently
				   used is sealed [256] */
	int64_t retention_ms;   /* drop partitions older than this [0: keep all] */
	int64_t idle_seal_ms;   /* seal an active segment whose partition has
				   ended and that saw no append for this long [300000] */
	int no_background;      /* 1: no sealer thread; the caller runs store_maintain()
				   (appends get -EAGAIN / ERR_BUSY while too many full
				   segments wait to be sealed) */
	int read_only;          /* 1: open for reading; no recovery writes */
};

struct store;

/*
 * Opens (creating if absent) the store in directory `dir` and recovers it:
 * temporary files are removed, active segments are trusted up to their
 * committed count, every sealed block's checksum is verified.  Damage is
 * reported (store_problems()), never fatal: a damaged sealed block is skipped
 * by readers while the rest of its file reads; a file that cannot be used at
 * all (truncated, no header) is renamed *.damaged.  A directory made
 * by another format version fails with ERR_FORMAT and a message naming both
 * versions in `errbuf` (may be NULL).  On success *out owns the store.
 */
int store_open(const char *dir, const struct store_opts *opts,
	       struct store **out, char *errbuf, size_t errlen);

/* Stops the sealer thread, between two segments: what it has not sealed
 * stays active on disk and is sealed after the next store_open().  Appends,
 * snapshots and syncs go on working.  For a shutdown: stop the sealer, then
 * store_sync(), then store_close(), so the final sync does not share the
 * disk with a backlog of seals.  Idempotent; store_close() calls it. */
void store_stop_sealer(struct store *s);

/* Stops the sealer, syncs everything, seals nothing and frees.  NULL ok. */
void store_close(struct store *s);

/* Problems found by store_open() or later reads: each a one-line message
 * naming the file (and block).  Returns the count; *msgs is borrowed until
 * store_close(). */
size_t store_problems(struct store *s, const char *const **msgs);

/* The options in force (creation values for shards and partition span). */
void store_get_opts(const struct store *s, struct store_opts *out);

/*
 * Appends n events.  Each event is validated (limits above; ts >= 0); the
 * rows of one shard are written under that shard's lock only and committed
 * by publishing the shard's row count.  On return every event with
 * status[i] == STORE_OK is committed and visible to the next snapshot.
 *
 * status (caller-provided, n entries, may be NULL) receives per event:
 * STORE_OK (stored), STORE_DUP (same (session, id) already in the active
 * segment: dropped), or a small negative errno: -EINVAL (a required field
 * missing, ts < 0, or ts older than the retention window), -E2BIG (a field
 * over its limit), -ENOSPC (the disk refused the rows), -EAGAIN (storage
 * cannot keep up: too many segments waiting to be sealed; retry later),
 * another -errno for an I/O error.
 * Returns the number of events stored (STORE_OK), or a negative code when
 * the disk or the store refused rows: -ENOSPC (their status -ENOSPC),
 * ERR_BUSY (their status -EAGAIN), another -errno; events with status
 * STORE_OK are committed all the same.  A disk-full error never
 * damages committed rows, and appends work again once space is free.
 */
#define STORE_OK 0
#define STORE_DUP 1
int store_append(struct store *s, const struct store_event *ev, size_t n,
		 int8_t *status);

/* ---- durability -------------------------------------------------------- */

/*
 * Makes every row committed so far durable: for each segment with rows past
 * its durable count, fdatasync the file, then record the new durable count in
 * its header, then fdatasync again.  The durable count never exceeds durable
 * data.  Blocking; safe from any thread.  Returns 0 or -errno.
 */
int store_sync(struct store *s);

/*
 * The same, as io_uring operations, so a server thread can group-commit
 * without blocking.  store_sync_prepare() snapshots what is committed now
 * into *out (NULL when nothing is dirty: returns 0).  store_sync_submit()
 * queues the batch's linked operations on `ring` (it needs
 * store_sync_sqes() free SQEs: -EBUSY otherwise) with user_data `tag`; it
 * does not call io_uring_submit(), the caller does.  For every CQE carrying
 * that tag the caller calls store_sync_cqe(), which returns 1 once all of
 * the batch's operations completed, with *err = 0 when the batch is durable
 * or the first failure; then store_sync_release() frees the batch.  The batch holds its segments until release.
 */
struct store_sync;
int store_sync_prepare(struct store *s, struct store_sync **out);
unsigned store_sync_sqes(const struct store_sync *b);
int store_sync_submit(struct store_sync *b, struct io_uring *ring, uint64_t tag);
int store_sync_cqe(struct store_sync *b, int res, int *err);
void store_sync_release(struct store_sync *b);

/* ---- maintenance -------------------------------------------------------- */

/*
 * One round of background work: seal full, idle or excess active segments,
 * drop partitions past retention.  The sealer thread calls it; with
 * no_background tests call it.  now_ms is the wall clock.  Returns the number
 * of segments sealed plus partitions dropped, or a negative code.
 */
int store_maintain(struct store *s, int64_t now_ms);

/* Seals every active segment now (tests, shutdown of a read-only copy). */
int store_seal_all(struct store *s);

/* Counters for /metrics and /v1/stats. */
struct store_stats {
	uint64_t events;            /* committed rows in all segments */
	uint64_t duplicates;        /* dropped by dedup since open */
	uint64_t partitions;
	uint64_t segments_active;
	uint64_t segments_sealed;
	uint64_t bytes_on_disk;     /* allocated bytes of all segment files */
	uint64_t seals;             /* segments sealed since open */
	uint64_t seal_failures;
	int64_t oldest_ts, newest_ts; /* partition bounds; 0 when empty */
};
void store_get_stats(struct store *s, struct store_stats *out);

/* ---- reading ------------------------------------------------------------ */

/*
 * A snapshot: the sealed segments and each active segment up to its committed
 * count, as of the call.  Later appends, seals and retention do not change
 * what a snapshot sees; its memory stays mapped until release.
 */
struct store_snap;
int store_snap_take(struct store *s, struct store_snap **out);
void store_snap_release(struct store_snap *snap);

/* Column numbers, for column masks (1u << STORE_COL_x). */
enum store_col {
	STORE_COL_TS,
	STORE_COL_RECV,
	STORE_COL_SESSION,
	STORE_COL_USER,
	STORE_COL_TYPE,
	STORE_COL_TARGET,
	STORE_COL_URL,
	STORE_COL_X,
	STORE_COL_Y,
	STORE_COL_FLAGS,
	STORE_COL_ID,
	STORE_COL_PROPS,
	STORE_NCOLS
};
#define STORE_COLS_ALL ((1u << STORE_NCOLS) - 1)

/* Dictionary id meaning "absent" in the user/target/url columns. */
#define STORE_NO_STR 0u

/* Partitions in time order; shards 0..nshards-1; segments of a shard in
 * arrival order (older first). */
size_t store_snap_nparts(const struct store_snap *snap);
int64_t store_snap_part_start(const struct store_snap *snap, size_t part);
uint32_t store_snap_nshards(const struct store_snap *snap);
size_t store_snap_nsegs(const struct store_snap *snap, size_t part, uint32_t shard);

struct store_seg; /* a segment as seen by a snapshot; borrowed from it */
const struct store_seg *store_snap_seg(const struct store_snap *snap, size_t part,
				       uint32_t shard, size_t i);

int store_seg_sealed(const struct store_seg *g);   /* 1 sealed, 0 active */
uint64_t store_seg_rows(const struct store_seg *g); /* rows in the snapshot */
int64_t store_seg_min_ts(const struct store_seg *g);
int64_t store_seg_max_ts(const struct store_seg *g);
/* Sealed rows are sorted by (session bytes, ts, arrival); active rows are in
 * arrival order. */

/* Dictionary: per segment, id 0 is the empty string (STORE_NO_STR).
 * store_seg_lookup() returns the id of the string, or -ENOENT. */
int64_t store_seg_lookup(const struct store_seg *g, const char *p, size_t n);
struct store_str store_seg_str(const struct store_seg *g, uint32_t id);
uint32_t store_seg_dict_size(const struct store_seg *g);

/*
 * Column access by blocks of rows.  A cursor owns scratch buffers; a block's
 * arrays are valid until the next store_cursor_read() on the same cursor or
 * its release.  For an active segment the arrays point into the mapping
 * (zero copy); for a sealed one they are decompressed (each block's checksum
 * verified: a mismatch returns ERR_CORRUPT and is added to store_problems()).
 */
struct store_block {
	uint64_t row0;          /* first row of the block in the segment */
	uint32_t nrows;
	int64_t min_ts, max_ts; /* of the block's rows */
	const int64_t *ts, *recv;
	const uint32_t *session, *user, *type, *target, *url; /* dictionary ids */
	const int32_t *x, *y;
	const uint8_t *flags;
	const uint32_t *id_off;    /* id of row i: id_bytes[id_off[i]..id_off[i+1]) */
	const char *id_bytes;
	const uint32_t *props_off; /* same shape as id_off */
	const char *props_bytes;
};
struct store_cursor;
int store_cursor_new(struct store_cursor **out);
void store_cursor_free(struct store_cursor *c);
uint32_t store_seg_nblocks(const struct store_seg *g);
/* Block meta only (row0, nrows, min/max ts); no column is read. */
int store_seg_block_info(const struct store_seg *g, uint32_t b, struct store_block *out);
/* Reads the columns in `cols` (mask) of block b; other pointers are NULL. */
int store_cursor_read(struct store_cursor *c, const struct store_seg *g, uint32_t b,
		      unsigned cols, struct store_block *out);

/*
 * Session index of a segment: rows of session id `sid` (a dictionary id).
 * For a sealed segment, rows [*row0, *row0 + *nrows) hold exactly them;
 * for an active segment the call returns -EOPNOTSUPP (scan the column).
 */
int store_seg_session_rows(const struct store_seg *g, uint32_t sid, uint64_t *row0,
			   uint64_t *nrows);

/* ---- whole-store helpers built on the above ---------------------------- */

/*
 * All events of one session with from <= ts < to (to == 0: no bound), in
 * (ts, arrival) order.  *out is an array of *n events whose strings point
 * into memory owned by the result: free with store_events_free().  Blocks
 * with none of the session's rows are not decompressed.  Returns 0 (also
 * when the session is unknown: *n == 0) or a negative code.
 */
struct store_events;
int store_session_events(struct store_snap *snap, const char *session, size_t len,
			 int64_t from, int64_t to, struct store_events **out);
size_t store_events_count(const struct store_events *e);
const struct store_event *store_events_at(const struct store_events *e, size_t i);
void store_events_free(struct store_events *e);

/* Per-session summary of store_sessions(). */
struct store_session_info {
	struct store_str session; /* owned by the list */
	struct store_str user;    /* of the session's latest event with a user */
	int64_t first_ts, last_ts;
	uint64_t events;
};
/*
 * Sessions with an event in [from, to) (to == 0: no bound), optionally only
 * those of `user` (NULL: all), newest last_ts first, at most `limit`
 * (0: no limit).  Free with store_session_list_free().
 */
struct store_session_list {
	struct store_session_info *v;
	size_t n;
	void *mem; /* private */
};
int store_sessions(struct store_snap *snap, const char *user, size_t user_len,
		   int64_t from, int64_t to, size_t limit, struct store_session_list *out);
void store_session_list_free(struct store_session_list *l);

/* Shard of a session string: XXH3_64(session) % nshards. */
uint32_t store_shard_of(const char *session, size_t len, uint32_t nshards);

#endif
