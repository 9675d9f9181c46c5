/*
 * store_int.h — the store's private structures, shared by store.c (appends,
 * recovery, maintenance), sync.c (durability) and snap.c (readers).
 */
#ifndef SPOOR_STORE_INT_H
#define SPOOR_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "seg.h"
#include "storage.h"

struct shard {
	pthread_mutex_t mu;  /* guards every field below */
	struct seg *active;  /* current active segment, NULL until the next append */
	struct seg **segs;   /* older segments in seq order: sealed, or frozen active */
	size_t nsegs, capsegs;
	uint64_t next_seq;   /* number of the next active segment */
};

struct part {
	int64_t start;       /* ms; the partition covers [start, start + partition_ms) */
	char dir[560];       /* DIR/p<start> */
	struct shard *shards; /* [opts.shards] */
	atomic_int dir_dirty; /* a file was created here since the last sync */
};

struct store {
	char dir[512];
	struct store_opts o;      /* options in force, creation values from spoor.meta */
	int lock_fd;              /* spoor.lock, flock'ed */
	uint8_t boot_id[16];
	struct act_geom geom;     /* of new active segments */

	pthread_rwlock_t parts_lock; /* guards parts/nparts: read to use, write to add/drop */
	struct part **parts;      /* sorted by start */
	size_t nparts, capparts;

	pthread_mutex_t reg_mu;   /* guards open/nopen */
	struct seg **open;        /* unsealed active segments (current or frozen), 1 ref each */
	size_t nopen, capopen;

	pthread_mutex_t prob_mu;  /* guards probs */
	char **probs;             /* one line per problem found */
	size_t nprobs;

	pthread_mutex_t sync_mu;  /* one store_sync() at a time */
	pthread_mutex_t maint_mu; /* one store_maintain() at a time */

	pthread_t sealer;         /* background thread running store_maintain() */
	int sealer_on;
	pthread_mutex_t seal_mu;  /* with seal_cv: wakes the sealer */
	pthread_cond_t seal_cv;
	int stop;                 /* under seal_mu: the sealer exits */
	atomic_int kick;          /* a segment was frozen: seal soon */

	atomic_int nactive;       /* current active segments */
	atomic_int frozen;        /* frozen segments not sealed yet */
	atomic_int disk_full;     /* the last append failed for want of space */
	atomic_int root_dirty;    /* a partition directory was created since the last sync */
	_Atomic uint64_t duplicates;
	_Atomic uint64_t seals;
	_Atomic uint64_t seal_failures;
	_Atomic uint64_t dropped_parts;
};

/* A segment as a snapshot sees it (the public struct store_seg). */
struct store_seg {
	struct store *s;
	struct seg *g;    /* one ref, dropped by store_snap_release() */
	uint64_t rows;    /* rows visible to the snapshot */
	int64_t min_ts, max_ts;
};

/* Records a problem line (deduplicated). */
void store_problem(struct store *s, const char *msg);

/* store.c */
int store_meta_load_or_create(struct store *s, char *errbuf, size_t errlen);
struct part *store_part_new(struct store *s, int64_t start); /* NULL: no memory */
void store_part_free(struct store *s, struct part *p);       /* drops its segment refs */
int store_part_insert(struct store *s, struct part *p);      /* caller holds parts_lock (w) */
int store_reg_add(struct store *s, struct seg *g);           /* takes a ref */
void store_reg_remove(struct store *s, struct seg *g);       /* drops it */
int store_shard_freeze(struct store *s, struct shard *sh);   /* caller holds sh->mu */
void store_seg_path(const struct part *p, uint32_t shard, uint64_t seq, const char *ext,
		    char *out, size_t len);

/* sync.c: fds of directories with new entries, opened O_RDONLY; the
 * caller fsyncs and closes them.  Returns the count (<= max). */
size_t store_dirty_dirs(struct store *s, int *fds, size_t max);

/* maint.c */
void *store_sealer_main(void *arg);

#endif
