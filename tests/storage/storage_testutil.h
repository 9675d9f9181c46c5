/*
 * storage_testutil.h — helpers of the storage/ tests.
 *
 * Events are generated deterministically from a key (w, k): "w" is a writer
 * (thread, child process, test phase) and "k" its sequence number.  The key
 * is written into props as the marker {"w":W,"k":K,...}, so a row read back
 * names the event it must equal, and st_event_eq() compares every column.
 *
 * st_scan() (storage_testscan.c) reads every committed row of a snapshot the
 * way a query does (partitions, shards, segments, blocks through a cursor,
 * dictionary ids resolved with store_seg_str()), checks the structural
 * promises of storage.h on the way, and hands each row to a callback.  It never calls a
 * Criterion assertion, so threads and forked children may use it.
 */
#ifndef SPOOR_STORAGE_TESTUTIL_H
#define SPOOR_STORAGE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

/* ---- deterministic events --------------------------------------------- */

enum st_ids { ST_ID_ALWAYS, ST_ID_SOMETIMES, ST_ID_NEVER };

/* How st_gen_event() spreads events. */
struct st_gen {
	int64_t ts0;	    /* smallest ts */
	int64_t ts_step;    /* ts = ts0 + slot * ts_step ... */
	uint32_t ts_slots;  /* ... with slot in [0, ts_slots) */
	uint32_t nsessions; /* sessions are st_session_name(0 .. nsessions-1) */
	enum st_ids ids;    /* which events carry a client id */
	uint32_t big_every; /* one event in this many has max-size strings; 0 none */
	uint32_t pad_max;   /* random bytes in props, 0..pad_max (<= 4000) */
};

/* An event with its own string storage. */
struct st_ev {
	struct store_event ev; /* strings point into the arrays below */
	char session[STORE_MAX_SESSION];
	char user[STORE_MAX_USER];
	char type[STORE_MAX_TYPE];
	char target[STORE_MAX_TARGET];
	char url[STORE_MAX_URL];
	char props[STORE_MAX_PROPS];
	char id[STORE_MAX_ID];
};

/* Fills *out with the event of key (w, k).  Same key, same event. */
void st_gen_event(const struct st_gen *g, uint32_t w, uint32_t k, struct st_ev *out);

/* Writes session name number idx (5..128 bytes, idx 1 is 128) to buf
 * (STORE_MAX_SESSION bytes); returns its length. */
size_t st_session_name(uint32_t idx, char *buf);

/* Builds an event by hand: session s, ts, marker (w, k) in props, id (NULL:
 * none), type "click".  Strings are copied into *out. */
void st_make_event(struct st_ev *out, const char *session, int64_t ts, uint32_t w, uint32_t k,
		   const char *id);

/* Reads the marker at the start of props.  Returns 0, or -1 if props does
 * not start with {"w":<u32>,"k":<u32>. */
int st_parse_marker(const char *p, size_t n, uint32_t *w, uint32_t *k);

/* Returns 1 if got equals want in every column (x, y compared only when
 * flagged), else 0 with the first difference described in why. */
int st_event_eq(const struct store_event *want, const struct store_event *got, char *why,
		size_t whylen);

/* ---- reading a snapshot ------------------------------------------------ */

/* Where a row was found. */
struct st_loc {
	size_t part;	    /* partition index in the snapshot */
	int64_t part_start; /* store_snap_part_start() */
	uint32_t shard;
	size_t seg;		   /* segment index within (part, shard) */
	const struct store_seg *g; /* the segment */
	int sealed;		   /* store_seg_sealed() */
	uint64_t row;		   /* row within the segment */
};

/* Called per row; ev's strings are valid during the call only.  Returns 0 to
 * go on, nonzero to stop the scan (st_scan then returns that value; fill
 * st_scan.err first). */
struct st_scan;
typedef int (*st_row_fn)(void *arg, const struct store_event *ev, const struct st_loc *loc,
			 struct st_scan *sc);

struct st_scan {
	/* in */
	int64_t partition_ms; /* checks part_start <= ts < part_start + this; 0: skip */
	unsigned cols;	      /* columns to read; 0 means STORE_COLS_ALL */
	int skip_corrupt;     /* 1: count ERR_CORRUPT blocks and go on */
	/* out */
	uint64_t rows; /* rows handed to the callback */
	uint64_t segs, sealed_segs;
	uint32_t corrupt_blocks; /* blocks that returned ERR_CORRUPT */
	uint64_t corrupt_rows;	 /* rows in those blocks (from block_info) */
	char err[1024];		 /* the first failure, "" when none */
};

/*
 * Reads every row of snap.  Checks on the way: partitions in increasing
 * order of start, each segment's blocks contiguous and covering
 * store_seg_rows(), block_info equal to the read's meta, every row's ts
 * within its block's, segment's and partition's bounds, each session in the
 * shard store_shard_of() names, sealed segments grouped by session with ts
 * non-decreasing inside a session and store_seg_session_rows() giving that
 * exact range (active: -EOPNOTSUPP).  Returns 0, the callback's nonzero
 * value, or -1 for a failed check or read (sc->err says which).
 */
int st_scan(struct store_snap *snap, struct st_scan *sc, st_row_fn fn, void *arg);

/* ---- a set of keys ----------------------------------------------------- */

/* Counts per key (w, k) for w < nw, k < nk. */
struct st_seen {
	uint32_t nw, nk;
	uint8_t *count; /* nw * nk counters, saturating at 255 */
};
int st_seen_init(struct st_seen *s, uint32_t nw, uint32_t nk);
void st_seen_fini(struct st_seen *s);
/* Returns the new count, or 0 when (w, k) is out of range. */
unsigned st_seen_add(struct st_seen *s, uint32_t w, uint32_t k);
unsigned st_seen_get(const struct st_seen *s, uint32_t w, uint32_t k);

/*
 * Scans snap (st_scan) and checks every row against the generator: props
 * must hold a marker (w, k) with w < seen->nw and k < seen->nk, the row must
 * equal st_gen_event(gens[ngens == 1 ? 0 : w], w, k) in every column, and no
 * key may appear twice.  Arrival order is checked assuming each writer w
 * appended its keys in increasing k: in an active segment a writer's rows
 * come in increasing k; in a sealed one, among rows of equal (session, ts).
 * Counts land in *seen (which should start empty).  Returns 0, or -1 with
 * sc->err set.
 */
int st_verify(struct store_snap *snap, const struct st_gen *const *gens, uint32_t ngens,
	      struct st_seen *seen, struct st_scan *sc);

/* ---- files ------------------------------------------------------------- */

/* Finds regular files under dir (recursively) whose name ends with suffix.
 * Writes up to max malloc'd paths to out; returns how many were found (may
 * exceed max) or -errno.  Free with st_free_paths(). */
int st_find_files(const char *dir, const char *suffix, char **out, int max);
void st_free_paths(char **p, int n);

/* Size of a file, or -errno. */
int64_t st_file_size(const char *path);

/* Opens a store, failing the Criterion test with the errbuf on error. */
struct store *st_open(const char *dir, const struct store_opts *o);

/*
 * Appends v[0..n).  Events refused with -EAGAIN (the store is busy: too many
 * segments wait for the sealer) are retried, in order, after a
 * store_maintain() when `maintain`, else after a 1 ms pause.  Returns 0 once
 * every event is STORE_OK, else -1 with the first other outcome in err.
 * No Criterion assertion: usable from threads and children.
 */
int st_append_all(struct store *s, const struct store_event *v, size_t n, int maintain, char *err,
		  size_t errlen);

/* st_append_all() with maintain, failing the Criterion test on error. */
void st_append_ok(struct store *s, const struct st_ev *ev, size_t n);

/* Wall clock in ms. */
int64_t st_now_ms(void);

#endif
