/*
 * seg.h — segments, internal to storage/.
 *
 * A segment holds the rows of one (partition, shard).  It is either
 *
 *   ACTIVE  one preallocated file, mmap'd shared, rows appended under the
 *           shard lock; its header's committed count is the commit point
 *           (seg_active.c), or
 *   SEALED  one immutable file: rows sorted by (session, ts, arrival), columns
 *           in lz4 blocks with XXH3 checksums, a sorted dictionary and a
 *           session index (seg_sealed.c).
 *
 * Lifecycle of an active segment:
 *
 *   created/recovered ──append──▶ current ──full / idle / evicted──▶ frozen
 *        (store.c)                (shard->active)   (pointer swap)  (shard->segs)
 *                                                                      │ seal (sealer thread)
 *                                                                      ▼
 *                                                     replaced by a SEALED segment
 *
 * Segments are reference counted: a snapshot, a sync batch or a shard's list
 * each hold a reference; the last seg_unref() unmaps and closes.  Files are
 * unlinked by whoever retires them (seal, retention); the mapping outlives
 * the name.
 */
#ifndef SPOOR_SEG_H
#define SPOOR_SEG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

enum seg_kind { SEG_ACTIVE, SEG_SEALED };

/* ---- on-disk constants (docs/architecture.md has the full layout) ----- */

#define SEG_ACT_MAGIC "SPOORACT"
#define SEG_SEALED_MAGIC "SPOORSEG"
#define SEG_PAGE 4096u
#define SEG_BLOCK_ROWS 8192u     /* rows per sealed block */
#define SEG_ACT_BLOCK_ROWS 65536u /* rows per "block" handed out for active segments */

/* Stored columns of a sealed block (the session column is derived from the
 * session index, so it is not stored). */
enum {
	SC_TS, SC_RECV, SC_USER, SC_TYPE, SC_TARGET, SC_URL, SC_X, SC_Y, SC_FLAGS, SC_ID,
	SC_PROPS, SC_N
};

/* Regions of an active file, each page aligned, in file order. */
enum {
	AR_DICT_OFF,  /* u32 [cap_dict + 1]: dictionary entry k = dict bytes [off[k], off[k+1]) */
	AR_DICT_BYTES,
	AR_TS,        /* i64 [cap_rows] */
	AR_RECV,      /* i64 */
	AR_SESSION,   /* u32 dictionary ids */
	AR_USER,
	AR_TYPE,
	AR_TARGET,
	AR_URL,
	AR_X,         /* i32 */
	AR_Y,
	AR_FLAGS,     /* u8 */
	AR_ID_OFF,    /* u32 [cap_rows + 1]: id of row i = id bytes [off[i], off[i+1]) */
	AR_PROPS_OFF, /* u32 [cap_rows + 1] */
	AR_ID_BYTES,
	AR_PROPS_BYTES,
	AR_N
};

/* Active file header (page 0).  Offsets are fixed: see docs/architecture.md. */
struct act_hdr {
	char magic[8];          /* "SPOORACT" */
	uint32_t version;       /* STORE_FORMAT_VERSION */
	uint32_t shard;
	int64_t part_start;     /* ms */
	uint64_t seq;           /* segment number within (partition, shard) */
	uint32_t cap_rows;
	uint32_t cap_dict;      /* dictionary entries */
	uint64_t cap_dict_bytes;
	uint64_t cap_id_bytes;
	uint64_t cap_props_bytes;
	uint8_t boot_id[16];    /* boot of the last process that wrote it */
	uint8_t pad0[128 - 80];
	/* offset 128: the commit point, written by appenders (release) */
	_Atomic uint64_t rows;  /* committed rows */
	_Atomic uint64_t dict;  /* dictionary entries complete (written before rows) */
	uint8_t pad1[192 - 144];
	/* offset 192: written only by sync, after the data reached the disk */
	uint64_t durable_rows;
	uint64_t durable_dict;
};

/* In-memory state of an active segment. */
struct act {
	struct act_hdr *hdr;            /* = mapping base */
	uint64_t region_off[AR_N];      /* file offset of each region */
	uint64_t region_cap[AR_N];      /* bytes reserved for each region */
	uint64_t region_alloc[AR_N];    /* bytes fallocated from its start */
	uint32_t cap_rows, cap_dict;
	/* writer-side state, under the shard lock */
	uint64_t nrows;                 /* = hdr->rows, private copy */
	uint32_t ndict;                 /* = hdr->dict */
	uint32_t id_bytes, props_bytes, dict_bytes; /* used bytes of the var regions */
	/* dictionary hash: slot = (hash32 << 32) | (id + 1); 0 empty.  Insert-only;
	 * readers probe without a lock.  Growing publishes a new table (release);
	 * old tables are kept until the segment is freed, so a reader still
	 * probing one is safe. */
	struct dict_tab *_Atomic dict;
	struct dict_tab *dict_old;      /* retired tables, freed with the segment */
	uint32_t dict_used;             /* entries in the current table */
	/* dedup of (session, id): per session dictionary id, a small hash table
	 * of the rows with an id (seg_active.c); writer only */
	struct dup_tab **dup;
	struct dup_arena *dup_arena;    /* where the tables come from */
	int64_t min_ts, max_ts;         /* of committed rows (writer side) */
	uint64_t durable_rows, durable_dict; /* what the header's durable part says */
	int read_only;
};

struct dict_tab {
	struct dict_tab *next_old; /* chain of retired tables */
	uint32_t mask;
	_Atomic uint64_t slots[];
};

struct sealed;

struct seg {
	_Atomic int refs;
	enum seg_kind kind;
	uint32_t shard;
	int64_t part_start;
	uint64_t seq;
	int fd;
	void *map;
	size_t map_len;
	uint64_t disk_bytes;    /* allocated bytes, for stats */
	char path[512];
	struct act *act;        /* SEG_ACTIVE */
	struct sealed *sl;      /* SEG_SEALED */
	_Atomic int sealing;    /* 1 while the sealer works on it */
	int64_t last_append_ms; /* under the shard lock */
};

void seg_ref(struct seg *g);
void seg_unref(struct seg *g); /* NULL ok */

/* ---- active segments (seg_active.c) ------------------------------------ */

struct act_geom {
	uint32_t cap_rows;
	uint32_t cap_dict;
	uint64_t cap_dict_bytes, cap_id_bytes, cap_props_bytes;
};
void act_geom_default(uint32_t cap_rows, struct act_geom *g);

/* Creates path (must not exist) with header and first chunks fallocated.
 * Returns 0 and *out (1 ref) or -errno (-ENOSPC: nothing left behind). */
int act_create(const char *path, uint32_t shard, int64_t part_start, uint64_t seq,
	       const struct act_geom *geom, const uint8_t boot_id[16], struct seg **out);

/* Opens an existing active file and recovers it: rows trusted up to the
 * committed count when boot_id matches the file's, else up to the durable
 * count; each row validated.  A problem is described in msg (empty when
 * none); ERR_CORRUPT means the file is unusable (truncated header or
 * regions, bad magic).  read_only: no write to the file. */
int act_open(const char *path, const uint8_t boot_id[16], int read_only, struct seg **out,
	     char *msg, size_t msglen);

/*
 * Appends rows ev[idx[0..n)] (all of this segment's shard and partition).
 * Caller holds the shard lock.  status[idx[i]] is set per row.  Returns the
 * number of rows consumed from idx (stored or duplicate or rejected), which
 * is < n when the segment is full (the caller rolls over and continues), or
 * a negative code when the disk refused space (-ENOSPC; nothing of the
 * failing row written).  Publishes the committed count once at the end.
 */
int act_append(struct seg *g, const struct store_event *ev, const uint32_t *idx, size_t n,
	       int8_t *status, uint64_t *dups);

uint64_t act_rows(const struct seg *g); /* committed rows (acquire) */
int64_t act_lookup(const struct seg *g, const char *p, size_t n);
struct store_str act_str(const struct seg *g, uint32_t id);

/* Durability: data then count.  act_sync() does it with syscalls. */
int act_sync(struct seg *g);
/* act_sync() in parts, for syncs of many segments at once: the counts to
 * make durable (and the mapping's page table entries dropped), the write
 * of them at offset 192 once the data is on disk, and the in-memory copy
 * once that write is.  Caller holds the store's sync_mu for the last. */
void act_sync_begin(struct seg *g, uint64_t d[2]);
int act_write_durable(struct seg *g, const uint64_t d[2]);
void act_set_durable(struct act *a, const uint64_t d[2]);
/* Before a sync: drops the process's page table entries of g's mapping, so
 * writeback need not write-protect its dirty pages one by one. */
void act_unmap_pages(struct seg *g);
/* Frees the writer's dedup tables (with the segment, or once it is frozen). */
void act_dup_free(struct act *a);

/* ---- sealed segments (seg_sealed.c) ------------------------------------ */

struct sealed_bdir; /* block directory entry */

/* Writes the sealed form of frozen active segment `a` to `path` (through
 * path.tmp, fsync, rename, fsync dir).  Returns 0 or a negative code; on
 * failure nothing is left at path.  */
int sealed_write(const struct seg *a, const char *path);

/* Opens and verifies a sealed file (header, dictionary, index, every block
 * checksum).  Problems go to msg; a damaged block is marked and skipped by
 * readers; ERR_CORRUPT when the file is unusable as a whole. */
int sealed_open(const char *path, struct seg **out, char *msg, size_t msglen);

uint64_t sealed_rows(const struct seg *g);
uint32_t sealed_nblocks(const struct seg *g);
int64_t sealed_lookup(const struct seg *g, const char *p, size_t n);
struct store_str sealed_str(const struct seg *g, uint32_t id);
uint32_t sealed_dict_size(const struct seg *g);
int64_t sealed_min_ts(const struct seg *g);
int64_t sealed_max_ts(const struct seg *g);
int sealed_block_info(const struct seg *g, uint32_t b, struct store_block *out);
int sealed_session_rows(const struct seg *g, uint32_t sid, uint64_t *row0, uint64_t *nrows);

/* Session index entries, sorted by sid (= by row). */
struct sealed_sess {
	uint32_t sid;       /* dictionary id of the session */
	uint32_t user;      /* dictionary id of its latest non-empty user, 0 none */
	uint64_t row0;
	uint32_t nrows;
	uint32_t pad;
	int64_t first_ts, last_ts;
};
const struct sealed_sess *sealed_sessions(const struct seg *g, uint32_t *n);

/* Decoding scratch of a cursor. */
struct seg_scratch {
	void *buf[STORE_NCOLS + 3];
	size_t cap[STORE_NCOLS + 3];
};
int sealed_read(const struct seg *g, uint32_t b, unsigned cols, struct seg_scratch *s,
		struct store_block *out, char *msg, size_t msglen);

/* ---- small shared helpers (seg_util.c) ---------------------------------- */

/* Grows *buf to at least n bytes.  0 or -ENOMEM. */
int scratch_reserve(struct seg_scratch *s, int slot, size_t n);
void scratch_free(struct seg_scratch *s);
int fsync_dir_of(const char *path);
int read_boot_id(uint8_t out[16]);
uint64_t file_disk_bytes(int fd);
int64_t now_ms(void);

#endif
