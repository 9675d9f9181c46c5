/*
 * funnel_ref.h — the model of the funnel tests: random clickstreams over a
 * small vocabulary, stores built from them with sealed, frozen and active
 * segments, random funnels, and a brute-force reference of q_funnel().
 *
 * The reference (funnel_ref.c) works on the model, not on the store: every
 * event keeps the indices it was generated from (session, user, type,
 * target, url, props members with their decoded meaning) and its append
 * index.  For each actor it sorts the events by the documented order and
 * enumerates every chain (every increasing sequence of events matching
 * steps 1, 2, ... within the window), keeping the longest, then the one
 * with the latest first event, then the lexicographically earliest.
 * Nothing of query/ is used.
 */
#ifndef SPOOR_FUNNEL_REF_H
#define SPOOR_FUNNEL_REF_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "storage.h"

#define FR_MAX_STEPS   5
#define FR_MAX_MEMBERS 3

/* Vocabulary.  Index 0 of targets and urls is "absent"; the last entry of
 * types, targets and urls is never stored (a step that can never match). */
#define FR_NTYPES   5 /* view click signup buy nope */
#define FR_NTARGETS 5 /* "" #a #b #c #zz */
#define FR_NURLS    7 /* "" / /shop /shop/item /shopping /help /nope */
#define FR_NPREFIX  6
#define FR_NKEYS    5 /* plan n ok tag nokey (never stored) */
extern const char *const fr_types[FR_NTYPES];
extern const char *const fr_targets[FR_NTARGETS];
extern const char *const fr_urls[FR_NURLS];
extern const char *const fr_prefixes[FR_NPREFIX];
extern const char *const fr_keys[FR_NKEYS];

/* One event of the model. */
struct fr_ev {
	int64_t ts, recv;
	int sess;		 /* session index */
	int user;		 /* user index, -1: none */
	int type;		 /* index into fr_types */
	int target;		 /* index into fr_targets (0: none) */
	int url;		 /* index into fr_urls (0: none) */
	int nm;			 /* props members */
	int key[FR_MAX_MEMBERS]; /* member keys (fr_keys) */
	int val[FR_MAX_MEMBERS]; /* member values (event value table, funnel_ref.c) */
	char props[200];	 /* the props text as stored */
	uint32_t plen;		 /* 0: no props */
};

/* A model store: the events in append order and the store holding a prefix
 * of them. */
struct fr_store {
	char dir[256];
	struct store *st;
	struct q_engine *e;
	struct fr_ev *ev; /* [n], append order: ev[i] is arrival i */
	size_t n;
	size_t appended;   /* ev[0..appended) are in the store */
	char (*sname)[24]; /* session names */
	char (*uname)[24]; /* user names */
	int nsess, nusers;
};

/* How fr_store_make() shapes the events. */
struct fr_shape {
	size_t n;	   /* events */
	int nsess, nusers; /* sessions, users */
	int slots;	   /* ts = t0 + slot * 250 (+ jitter), slot < slots */
	int64_t t0;
	int burst; /* > 0: a session's slots lie within `burst` of its start,
		    * and one event in 20 carries another user than its session's */
};

/* Makes the events (shuffled: arrival order is not ts order) and opens an
 * empty store with `o` and an engine of `threads` workers.  Returns 0 or a
 * negative code. */
int fr_store_make(struct fr_store *fs, const struct fr_shape *sh, const struct store_opts *o,
		  unsigned threads, unsigned long long *rng);
/* Appends events up to `upto` in random batches; with maint, seals frozen
 * segments (store_maintain) or everything (store_seal_all) now and then.
 * Returns 0 or a negative code. */
int fr_store_append(struct fr_store *fs, size_t upto, unsigned long long *rng, int maint);
void fr_store_free(struct fr_store *fs);

/* One step / funnel of the model. */
struct fr_step {
	int type, target, url; /* indices; target/url 0: not given */
	int prefix;	       /* fr_prefixes index, -1: none */
	int nprops;
	int key[2]; /* fr_keys */
	int val[2]; /* request value table (funnel_ref.c) */
};
struct fr_funnel {
	struct fr_step steps[FR_MAX_STEPS];
	unsigned nsteps;
	int64_t window;
	enum q_by by;
	int64_t from, to;
	enum q_breakdown bd;
	int bd_key; /* fr_keys index for Q_BD_PROP */
	/* beyond windowFunnel */
	enum q_order order;
	int64_t within[FR_MAX_STEPS], after[FR_MAX_STEPS]; /* [s >= 1], 0: none */
	struct fr_step excl[2];
	unsigned ex_from[2], ex_to[2]; /* 1-based steps */
	unsigned nx;
	enum q_same same;
	int same_key; /* fr_keys index for Q_SAME_PROP */
	enum q_count count;
};

void fr_random_funnel(struct fr_funnel *f, const struct fr_shape *sh, unsigned long long *rng);
/* Adds random rules beyond windowFunnel to f (order, per-step windows,
 * exclusions, a held value, entries), each with some probability. */
void fr_random_ext(struct fr_funnel *f, unsigned long long *rng);
/* The request of f (strings point to static vocabulary). */
void fr_make_req(const struct fr_funnel *f, struct q_funnel_req *rq);
/* One line describing f, for failure messages. */
void fr_describe(const struct fr_funnel *f, char *buf, size_t len);

/* The reference result. */
struct fr_group {
	char value[64];
	int other;
	struct q_step_stat steps[Q_MAX_STEPS];
};
struct fr_result {
	struct q_step_stat steps[Q_MAX_STEPS];
	uint64_t actors;
	struct fr_group groups[Q_BREAKDOWN_TOP + 1];
	size_t ngroups;
};

/* The reference answer of f over ev[0..n). */
void fr_reference(const struct fr_store *fs, size_t n, const struct fr_funnel *f,
		  struct fr_result *out);
/* 1 when got equals want exactly, else 0 with the first difference in why. */
int fr_compare(const struct q_funnel_res *got, const struct fr_result *want, unsigned nsteps,
	       char *why, size_t len);

#endif
