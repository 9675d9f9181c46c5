/*
 * q_int.h — internals of the funnel engine (funnel*.c), shared by its files
 * and by nothing else.  funnel.c explains the semantics and the plan of a
 * query; this header holds the types and the internal API of each file:
 *
 *   funnel.c       request checks, the query object, the per-shard and
 *                  per-bucket tasks, q_funnel()
 *   funnel_scan.c  matchers resolved per segment, block scans, props
 *   funnel_agg.c   the streaming pass per actor, groups, medians, result
 *   funnel_util.c  string hash map, arena, growable arrays, radix sort
 */
#ifndef SPOOR_Q_INT_H
#define SPOOR_Q_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "query.h"

/* Nesting limit for props objects: the ingest body limit (server/ingest.c)
 * leaves at most 62 levels inside props. */
#define FN_PROPS_DEPTH 64
/* Buckets (by user hash) of user funnels; each is one task of phase 2. */
#define FN_BUCKETS 64

/* ---- engine.c: scratch kept between queries ---------------------------------- */

/* Something a query may leave to the next one (its buffers stay warm).
 * Embedded as the first member of the owner's struct. */
struct q_spare {
	struct q_spare *next;
	void (*free_fn)(struct q_spare *s); /* frees the owner */
};
#define Q_SPARE_MAX 16
/* Keeps s (or frees it when Q_SPARE_MAX are kept already). */
void q_engine_spare_put(struct q_engine *e, struct q_spare *s);
/* A kept spare, or NULL. */
struct q_spare *q_engine_spare_get(struct q_engine *e);
/* Fixed-size chunks of memory, kept between queries (up to Q_CHUNK_KEEP):
 * a query gathering many rows writes into pages already faulted in instead
 * of growing and copying arrays.  get: NULL when out of memory. */
#define Q_CHUNK_BYTES ((size_t)256 << 10)
#define Q_CHUNK_KEEP  512 /* 128 MiB */
void *q_engine_chunk_get(struct q_engine *e);
void q_engine_chunk_put(struct q_engine *e, void *p);

/* ---- funnel_util.c ------------------------------------------------------- */

/* Grows *p (an array of *cap elements of size `elem`) to hold at least
 * `need`.  Returns 0 or -ENOMEM (*p unchanged). */
int fn_grow(void **p, size_t *cap, size_t need, size_t elem);
struct fn_ctx;
struct fn_urec;
struct fn_urun;
struct fn_runu;
/* A new record at the end of bucket b of c, or NULL (-ENOMEM). */
struct fn_urec *fn_bucket_add(struct fn_ctx *c, unsigned b);
/* Empties c's buckets, their chunks back to the engine. */
void fn_buckets_reset(struct fn_ctx *c);

uint64_t fn_hash(const char *p, size_t n);

/* Open-addressing map from a byte string (borrowed: it must outlive the
 * map) to a uint32_t value. */
struct fn_slot {
	uint64_t h;    /* fn_hash() of the key */
	const char *p; /* key bytes */
	uint32_t n;    /* key length */
	uint32_t val;  /* FN_EMPTY: free slot */
};
#define FN_EMPTY UINT32_MAX
struct fn_map {
	struct fn_slot *v; /* [cap], cap a power of two */
	size_t cap;
	size_t n; /* keys */
};
/* Finds key (p, n) with hash h.  Absent: inserts it with value `val` and
 * sets *added = 1.  Returns 0 and the value in *out, or -ENOMEM. */
int fn_map_put(struct fn_map *m, const char *p, uint32_t n, uint64_t h, uint32_t val, uint32_t *out,
	       int *added);
/* The slot of key (p, n) with hash h, or NULL. */
const struct fn_slot *fn_map_find(const struct fn_map *m, const char *p, uint32_t n, uint64_t h);
void fn_map_clear(struct fn_map *m); /* drops the keys, keeps the memory */
void fn_map_fini(struct fn_map *m);

/* Stable byte storage: chunks that never move, freed all at once. */
struct fn_arena {
	char *chunk; /* current chunk; its first 8 bytes link the previous one */
	size_t used, cap;
};
/* Copies n bytes in; returns the copy or NULL (out of memory). */
const char *fn_arena_copy(struct fn_arena *a, const char *p, size_t n);
void fn_arena_fini(struct fn_arena *a);

/* Sorts v[0..n) (stable) by the upper 32 bits; `tmp` has n entries;
 * `bits` is the number of significant bits of those upper halves. */
void fn_radix_sort(uint64_t *v, uint64_t *tmp, size_t n, unsigned bits);

/* The lower median of v[0..n) (element (n-1)/2 of the sorted order); v is
 * permuted.  n > 0. */
int64_t fn_median(int64_t *v, size_t n);

/* ---- funnel_ext.c: one actor, beyond windowFunnel ------------------------- */

#define FX_NOVAL UINT32_MAX

/* One event of an actor, in the actor's order. */
struct fx_ev {
	int64_t ts;
	uint64_t pos;	/* position in the actor's whole sequence (strict order) */
	uint32_t mask;	/* steps it matches */
	uint32_t xmask; /* exclusions it matches */
	uint32_t val;	/* held value (interned), FX_NOVAL: absent */
	uint32_t ref;	/* the caller's (breakdown value, session) */
};

/* The rules of a chain (funnel_ext.c). */
struct fx_spec {
	unsigned k, nx; /* steps, exclusions */
	int64_t window;
	enum q_order order;
	int64_t within[Q_MAX_STEPS]; /* [s]: most ms from step s-1; < 0: none */
	int64_t after[Q_MAX_STEPS];  /* [s]: least ms from step s-1 */
	uint32_t gapx[Q_MAX_STEPS];  /* [s]: exclusions barred between steps s and s+1 */
	uint32_t interx[Q_MAX_STEPS]; /* [s]: exclusions barred on step s's event when one follows */
	int same;		      /* hold a value constant */
};

/* Scratch of fx_eval(), reused between actors. */
struct fx_work {
	int32_t *best;
	uint8_t *ok;
	uint32_t *xcnt;
	size_t best_cap, ok_cap, xcnt_cap;
};

/* Level (0..k) of the actor ev[0..n) under sp, and its counted chain in
 * chain[0..level) (indices into ev).  start >= 0: only chains whose first
 * event is ev[start] (entries).  Returns the level or -ENOMEM. */
int fx_eval(const struct fx_spec *sp, const struct fx_ev *ev, size_t n, struct fx_work *w,
	    ptrdiff_t start, uint32_t *chain);
/* Any order: the level, and in *first the earliest event of the counted
 * set (set only when the level is > 0). */
int fx_eval_any(const struct fx_spec *sp, const struct fx_ev *ev, size_t n, uint32_t *first);
void fx_work_fini(struct fx_work *w);

/* ---- the query ------------------------------------------------------------ */

/* One props equality, parsed once per query. */
struct fn_prop {
	struct store_str key; /* decoded key bytes (borrowed from the request) */
	uint8_t kind;	      /* JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL */
	uint8_t is_int;	      /* number that fits int64 */
	int64_t ival;
	double dval; /* every number */
	char *str;   /* decoded string value (owned by fn_query) */
	size_t slen;
};

struct fn_step {
	struct store_str type, target, url, prefix; /* borrowed from the request */
	struct fn_prop props[Q_MAX_PROPS];
	unsigned nprops;
};

struct fn_ctx;

/* Matchers of a query: its steps, then its exclusions (bit k + x). */
#define FN_MAX_MATCH (Q_MAX_STEPS + Q_MAX_EXCLUDE)

struct fn_query {
	struct q_engine *e;
	struct store_snap *snap;
	struct fn_step steps[FN_MAX_MATCH];
	unsigned k;  /* steps */
	unsigned nm; /* matchers: k steps, then nm - k exclusions */
	uint32_t step_bits; /* (1 << k) - 1 */
	uint32_t bd_bits;   /* rows whose breakdown value is taken: step 1's, any step's (any order) */
	/* beyond windowFunnel (funnel_ext.c): ext = 0 is the streaming pass */
	int ext;
	int strict;	       /* strict order: rows between matches count (positions) */
	struct fn_gapset *gaps; /* by user, strict: [FN_BUCKETS] (funnel_gap.c) */
	int gap_pass;		/* by user, strict: 1 collect gaps, 2 evaluate */
	struct fn_scanreq *scan; /* by user, strict: the gap scan's rows, by shard and row */
	size_t *scan_first;	 /* [shard]: its first request in scan; [nshards]: the end */
	struct fx_spec fx;
	enum q_same same;
	struct store_str same_key; /* props key of Q_SAME_PROP */
	enum q_count count;
	unsigned nsamp;			   /* samples per step and kind, 0: none */
	unsigned ttc_from, ttc_to, ttc_bins; /* 1-based steps; ttc_to 0: none */
	int64_t trend;			   /* interval ms, 0: none */
	int64_t window, from, to;
	int64_t part_ms;
	enum q_by by;
	enum q_breakdown bd;
	struct store_str bd_key;  /* props key of Q_BD_PROP */
	uint32_t props_steps;	  /* steps with props conditions */
	size_t stride;		  /* bytes of one actor's pass state */
	pthread_mutex_t mu;	  /* guards the context lists */
	struct fn_ctx *all;	  /* every context made (linked by all_next) */
	struct fn_ctx *idle;	  /* contexts not in use (linked by idle_next) */
	struct fn_ctx **gathered; /* user funnels: the contexts of phase 1 */
	size_t ngathered, gathered_cap;
};

/* Per-segment matcher: the steps resolved to this segment's dictionary. */
struct fn_segm {
	uint32_t live;	 /* steps whose strings all exist here */
	unsigned ntypes; /* distinct type ids of live steps */
	uint32_t tid[FN_MAX_MATCH];
	uint32_t tmask[FN_MAX_MATCH];  /* matchers of type tid[j] */
	uint32_t extra;		       /* live matchers with target, url or url_prefix */
	uint32_t target[FN_MAX_MATCH]; /* ids, when the matcher has a target */
	uint32_t url[FN_MAX_MATCH];    /* ids, when the matcher has a url */
	unsigned cols_a;	       /* columns of the first read */
	const uint32_t *tab;	       /* dictionary id → matchers of that type, or NULL */
	uint32_t tabn;		      /* entries of tab */
};

/* A step-matching row of a session funnel, gathered per (partition, shard). */
struct fn_srec {
	uint32_t actor; /* index into ctx states */
	uint32_t mask;	/* matchers the row matches */
	int64_t ts;
	struct store_str bd;  /* breakdown value (rows matching step 1) */
	struct store_str val; /* held value (ext funnels with "same"); p NULL: absent */
	uint64_t pos;	      /* strict order: position in the actor's whole sequence */
};

/* A step-matching row of a user funnel. */
struct fn_urec {
	int64_t ts, recv;
	uint64_t ord; /* per-shard segment ordinal << 32 | row: arrival within a session */
	uint64_t uh;  /* fn_hash(user) */
	const char *user, *sess; /* user and session (dictionary memory) */
	union {
		struct { /* xblock 0 */
			const char *bd;	 /* breakdown value */
			const char *val; /* held value, NULL: absent */
			uint32_t bdn, valn;
		};
		struct { /* xblock 1: the first row of a block of exclusion rows */
			const struct fn_xin *xin; /* the rest of the block */
			uint32_t xn;
			uint32_t xrise; /* ts rises strictly from this row through xin */
			int64_t xlast;	/* the ts of xin[xn - 1] */
		};
	};
	uint32_t mask;
	uint32_t actor; /* phase 2 */
	uint8_t un, sn;
	uint8_t link;	   /* strict order: FN_LINK_*, of this row and prev_row */
	uint8_t xblock;	   /* see the union */
	uint32_t prev_row; /* strict order: the user's previous row gathered in the run */
};
_Static_assert(sizeof(struct fn_urec) == 88, "a user row is 88 bytes");

/* User funnels with exclusions: the rows of a sealed run matching the same
 * exclusions only, one after another with no other row gathered between,
 * are one record (the first) and the keys of the rest (funnel_user.c). */
struct fn_xin {
	int64_t ts, recv;
	uint64_t ord;
};
struct fn_xchunk {
	struct fn_xchunk *next;
	size_t n;
	struct fn_xin r[];
};
#define FN_XCHUNK_CAP ((Q_CHUNK_BYTES - sizeof(struct fn_xchunk)) / sizeof(struct fn_xin))
/* Strict order by user: what a sealed run (one session's rows in one
 * sealed segment, in (ts, arrival) order) says of a gathered row and the
 * user's previously gathered row in the same run (funnel_gap.c). */
enum {
	FN_LINK_NONE,	 /* no previous gathered row of the user in the run */
	FN_LINK_CLEAR,	 /* no row of the user in the run lies between them */
	FN_LINK_BLOCKED, /* one does */
	FN_LINK_UNKNOWN, /* equal timestamps: only the whole key can say */
};

/* Strict order by user: the rows of one user in one run (a sealed run, or
 * a whole unsealed segment), from the gather (funnel_gap.c). */
struct fn_urun {
	int64_t ts0, ts1; /* the first and last ts of the user's rows there */
	uint64_t uh;
	const char *user; /* dictionary memory */
	const char *sess; /* the run's session (dictionary memory); NULL: a whole segment */
	uint32_t un;
	uint32_t shard, seg_ord;
	uint32_t row0, nrows; /* the run's rows in the segment (nrows 0: all of them) */
	uint32_t actor;	      /* pass 1 */
};

/* User funnels, strict order (funnel_gap.c): a row's key in the by-user
 * order; two consecutive matching rows of a user that could be a link of a
 * chain (a gap), blocked once a row of the user lies strictly between. */
struct fn_ukey {
	int64_t ts, recv;
	const char *sess;
	uint32_t sn;
	uint64_t ord;
};
/* The by-user order of two keys. */
static inline int fn_ukey_cmp(const struct fn_ukey *x, const struct fn_ukey *y)
{
	int c;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->recv != y->recv)
		return x->recv < y->recv ? -1 : 1;
	c = memcmp(x->sess, y->sess, x->sn < y->sn ? x->sn : y->sn);
	if (c)
		return c;
	if (x->sn != y->sn)
		return x->sn < y->sn ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}
static inline struct fn_ukey fn_ukey_of(const struct fn_urec *e)
{
	return (struct fn_ukey){e->ts, e->recv, e->sess, e->sn, e->ord};
}
struct fn_gap {
	struct fn_ukey a, z;
	uint8_t blocked; /* atomic */
};
struct fn_gapuser {
	uint32_t first, count; /* its gaps, in order */
};
/* Rows the gap scan must read: of segment seg_ord of a shard, rows
 * [row0, row0 + nrows) (nrows 0: every row). */
struct fn_scanreq {
	uint32_t shard, seg_ord, row0, nrows;
};
struct fn_gapset { /* one per bucket */
	struct fn_map users; /* user → index into user[] */
	struct fn_gapuser *user;
	size_t nusers, user_cap;
	struct fn_gap *gap;
	size_t ngap, gap_cap;
	struct fn_scanreq *req;
	size_t nreq, req_cap;
};

/* User funnels, phase 1: a bucket's rows in chunks of the engine's
 * (q_engine_chunk_get), linked; they never move, so a bucket grows without
 * copying, and go back to the engine when the query ends. */
struct fn_uchunk {
	struct fn_uchunk *next;
	size_t n; /* records */
	struct fn_urec r[];
};
#define FN_UCHUNK_CAP ((Q_CHUNK_BYTES - sizeof(struct fn_uchunk)) / sizeof(struct fn_urec))
struct fn_rchunk { /* the same for the runs of strict order */
	struct fn_rchunk *next;
	size_t n;
	struct fn_urun r[];
};
#define FN_RCHUNK_CAP ((Q_CHUNK_BYTES - sizeof(struct fn_rchunk)) / sizeof(struct fn_urun))

/* A candidate drop-off pointer. */
struct fn_sample {
	int64_t ts;
	struct store_str sess; /* dictionary memory, valid while the snapshot is held */
};

/* An actor's (or entry's) trend interval and level. */
struct fn_trec {
	int64_t start;
	uint32_t level;
};

/* Delta of one actor at one step, for the medians. */
struct fn_delta {
	uint32_t group; /* context-local group */
	uint32_t step;	/* 0-based index i (1..k-1) of the later step: ts(i) - ts(i-1) */
	int64_t ms;
};

/* Scratch and partial results of one worker inside one query. */
struct fn_ctx {
	struct q_spare spare; /* first: kept by the engine between queries */
	struct fn_ctx *all_next, *idle_next;
	struct store_cursor *cur_a, *cur_b; /* integer columns / the rest */
	/* block scan */
	int all_rows;	 /* strict order, this partition: every row is sunk, mask maybe 0 */
	int strict_runs; /* strict order, this partition: hits only, other rows counted */
	uint32_t *hit_row, *hit_mask;
	size_t hit_cap;
	uint32_t *tab; /* type table of the current segment */
	size_t tab_cap;
	struct json_tok *tok; /* props tokens, JSON_MAX_TOKENS(STORE_MAX_PROPS, depth) */
	size_t tok_cap;
	char *buf;	       /* STORE_MAX_PROPS + 1 bytes: decoded strings, numbers */
	struct fn_arena arena; /* props breakdown values */
	struct fn_map bdset;   /* interned props breakdown values */
	/* session funnels: per shard */
	struct fn_map smap; /* session → actor */
	uint8_t *states;    /* actors × stride */
	size_t nstates;
	size_t states_cap;    /* bytes */
	uint64_t *apos;	      /* strict order: rows of each actor counted so far */
	size_t apos_cap;
	struct fn_srec *recs; /* rows of one (partition, shard) */
	size_t nrecs, recs_cap;
	uint64_t *keys, *keys_tmp; /* radix sort */
	size_t keys_cap, keys_tmp_cap;
	uint64_t pos; /* position counter of the pass */
	/* user funnels */
	struct q_engine *e;
	struct fn_uchunk *bucket[FN_BUCKETS], *btail[FN_BUCKETS]; /* phase 1 output */
	struct fn_urec *urecs; /* phase 2: one bucket's rows */
	size_t urecs_cap;
	uint32_t *ucount; /* phase 2: counting sort by actor */
	size_t ucount_cap;
	struct fn_urec *usorted;
	size_t usorted_cap;
	struct fn_map umap;
	uint64_t *upos; /* strict by user: positions of one user's rows */
	size_t upos_cap;
	uint64_t *gcache; /* strict by user, gap scan: user id → gaps */
	size_t gcache_cap;
	size_t scan_at; /* strict by user, gap scan: the next request of the shard */
	/* strict by user, gather: the runs of the users (funnel_gap.c) */
	int user_runs;
	uint32_t run_shard, run_sid, run_row0, run_row1;
	struct fn_runu *runu; /* the users of the current run */
	size_t nrunu, runu_cap;
	uint32_t *uidx; /* user id → index into runu + 1 (0: none) */
	size_t uidx_cap;
	uint32_t *sunk_row;	   /* the block's gathered rows, ascending */
	struct fn_urec **sunk_rec; /* and their records */
	size_t nsunk;
	struct fn_rchunk *rbucket[FN_BUCKETS], *rtail[FN_BUCKETS]; /* the runs, by user hash */
	/* user funnels with exclusions, gather: blocks of exclusion rows */
	int xcollapse;
	struct fn_xchunk *xchunks; /* newest first */
	struct fn_urec *uexp;	   /* phase 2: one user's rows, blocks opened */
	size_t uexp_cap;
	struct fn_urun *uruns; /* pass 1: one bucket's runs by actor */
	size_t uruns_cap;
	uint32_t *rfirst; /* pass 1: actor → its first run in uruns ([nact]: the end) */
	size_t rfirst_cap;
	uint8_t *ustate; /* one actor's state */
	size_t ustate_cap;
	/* results */
	struct fn_map gmap; /* breakdown value → local group */
	uint64_t *gcount;   /* groups × k */
	struct store_str *gval;
	size_t ngroups, gcap, gcount_cap;
	struct fn_delta *deltas;
	size_t ndeltas, deltas_cap;
	uint64_t actors;
	uint64_t scanned;
	/* ext funnels (funnel_ext.c): one actor's events at a time */
	struct fn_srec *xrecs; /* session funnels: fed records of a shard, in order */
	size_t nxrecs, xrecs_cap;
	struct fx_ev *fxev;
	struct store_str *fxbd, *fxval; /* per event: breakdown and held values */
	uint64_t *fxkey;		/* interning of held values */
	size_t fx_cap;
	uint32_t *xcount; /* counting sort of xrecs by actor */
	size_t xcount_cap;
	struct fx_work fxw;
	struct store_str *fxsess; /* per event: its session (samples) */
	struct store_str *asess;  /* session funnels: actor → session */
	size_t asess_cap;
	/* samples, time to convert, trend (fn_ext_actor), merged by fn_result */
	struct fn_sample *smp; /* [(kind * k + step) * nsamp + i] */
	size_t smp_cap;
	uint32_t nsmp[2][Q_MAX_STEPS];
	int64_t *ttc;
	size_t nttc, ttc_cap;
	struct fn_trec *trec;
	size_t ntrec, trec_cap;
};

/* ---- funnel_scan.c ------------------------------------------------------ */

/* Resolves the steps for segment g (its type table in c->tab).  Returns
 * the live step mask (0: the segment cannot match anything), or -ENOMEM. */
int64_t fn_segm_init(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		     struct fn_segm *sm);

/*
 * Scans segment g (its steps resolved in sm): for every block within the
 * time range, reads the integer columns, keeps rows matching a step and
 * hands them to the sink of q->by: session rows are appended to c->recs
 * (actors from c->smap), user rows to c->bucket[].  seg_ord is the
 * segment's ordinal in its shard.  Returns 0 or a negative code (a damaged
 * block is skipped, not an error).
 */
int fn_scan_seg(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		const struct fn_segm *sm, uint32_t seg_ord);

/* ---- funnel_agg.c -------------------------------------------------------- */

/* Bytes of one actor state for k steps (with breakdown values or not). */
size_t fn_state_size(unsigned k, int breakdown);
/* Clears an actor state. */
void fn_state_reset(const struct fn_query *q, uint8_t *st);
/* Feeds one step-matching event (in (ts, arrival) order of its actor). */
void fn_state_feed(const struct fn_query *q, uint8_t *st, uint64_t pos, int64_t ts, uint32_t mask,
		   struct store_str bd);
/* Adds a finished actor to the context's groups and deltas. */
int fn_state_final(const struct fn_query *q, struct fn_ctx *c, const uint8_t *st);
/* Counts one actor (or entry) that reached `level` steps in breakdown group
 * v; chain[0..level) are its counted chain's timestamps for the medians
 * (NULL: none, as in any order).  Returns 0 or -ENOMEM. */
int fn_count_level(const struct fn_query *q, struct fn_ctx *c, struct store_str v, unsigned level,
		   const int64_t *chain);
/* funnel.c, ext funnels: evaluates and counts the actor whose events are
 * c->fxev/fxbd/fxval[0..n) (ts, mask with exclusion bits above the steps).
 * Returns 0 or -ENOMEM. */
int fn_ext_actor(const struct fn_query *q, struct fn_ctx *c, size_t n);
/* Room for n events in c->fxev, fxbd, fxval, fxkey.  0 or -ENOMEM. */
int fn_ext_reserve(struct fn_ctx *c, size_t n);
/* Event i of the actor being gathered into c->fx* (room: fn_ext_reserve):
 * its steps and, apart, its exclusions; pos its position in the actor's
 * whole sequence (strict order). */
void fn_fx_put(const struct fn_query *q, struct fn_ctx *c, size_t i, uint64_t pos, int64_t ts,
	       uint32_t mask, struct store_str bd, struct store_str val, struct store_str sess);
/* Session funnels, end of a shard: c->xrecs grouped by actor, each actor
 * evaluated (fn_ext_actor).  Returns 0 or a negative code. */
int fn_ext_session_finish(const struct fn_query *q, struct fn_ctx *c);

/* ---- funnel_gap.c: strict order by user --------------------------------- */

/* The gather, segment g of shard c->run_shard: fn_runs_begin before its
 * first block, fn_runs_block for every block read (its rows gathered in
 * c->sunk_row/sunk_rec), fn_runs_end after the last.  They set the links of
 * gathered rows and add the users' runs to c->rbucket.  0 or -ENOMEM. */
int fn_runs_begin(struct fn_ctx *c, const struct store_seg *g);
int fn_runs_block(const struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
		  uint32_t seg_ord, const struct store_block *bb);
int fn_runs_end(struct fn_ctx *c, const struct store_seg *g, uint32_t seg_ord);
/* Pass 1, bucket b whose records have their actors (0..nact): the runs of
 * those actors into c->uruns, by actor (c->rfirst), each's by ts0. */
int fn_gap_runs(struct fn_query *q, struct fn_ctx *c, unsigned b, size_t nact);
/* Pass 1: the gaps of one user whose matching rows u[0..n) are sorted in
 * the by-user order, and its runs r[0..nr), into q->gaps[b]: each gap the
 * runs cannot decide asks the gap scan for the rows of the runs around it.
 * Returns 0 or -ENOMEM. */
int fn_gap_collect(struct fn_query *q, unsigned b, const struct fn_urec *u, size_t n,
		   const struct fn_urun *r, size_t nr);
/* Between pass 1 and 2: the scan requests of every bucket, by shard, into
 * q->scan.  Returns 0 or -ENOMEM. */
int fn_gap_plan(struct fn_query *q, size_t nshards);
/* Pass 2, one task per shard: marks every gap some row lies inside, reading
 * only the rows pass 1 asked for.  Returns 0 or a negative code. */
int fn_gap_scan(struct fn_query *q, struct fn_ctx *c, size_t shard);
/* Pass 3: positions of u[0..n) (as in pass 1) into pos[0..n). */
void fn_gap_positions(const struct fn_query *q, unsigned b, const struct fn_urec *u, size_t n,
		      uint64_t *pos);
/* funnel.c: a context of the query's pool, taken and given back. */
struct fn_ctx *fn_ctx_take(struct fn_query *q);
void fn_ctx_give(struct fn_query *q, struct fn_ctx *c);
/* funnel_user.c: the tasks of user funnels (q_parallel): per shard, the
 * matching rows into buckets; per shard, the gap scan (strict order); per
 * bucket, its users (q->gap_pass 1: their gaps only). */
int fn_gather_task(void *arg, size_t shard);
int fn_gap_task(void *arg, size_t shard);
int fn_bucket_task(void *arg, size_t b);
/* funnel.c: a partition or segment entirely outside the query's range. */
int fn_part_out(const struct fn_query *q, int64_t start);
int fn_seg_out(const struct fn_query *q, const struct store_seg *g);
/* Calls fn for every segment of a shard within the query's range, with its
 * ordinal in the shard (partitions in time order, segments in order; every
 * segment counts, in range or not: the `ord` of user-funnel rows).  Stops at
 * the first negative return and returns it, else 0. */
typedef int (*fn_seg_fn)(struct fn_query *q, struct fn_ctx *c, const struct store_seg *g,
			 uint32_t seg_ord);
int fn_each_seg(struct fn_query *q, struct fn_ctx *c, size_t shard, fn_seg_fn fn);

/* Merges every context's groups into *out.  Returns 0 or -ENOMEM. */
int fn_result(const struct fn_query *q, struct q_funnel_res *out);

#endif
