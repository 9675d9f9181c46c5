/*
 * query.h — spoor's query engine and its HTTP API.
 *
 * The engine reads storage snapshots only (storage/storage.h): it never
 * writes and never makes an append wait.  Every query takes one snapshot, so
 * an event acknowledged by the ingest port before the query started is seen,
 * and a query sees one consistent cut of every shard.
 *
 * Threads: a q_engine owns a worker pool sized to the cores; q_funnel() and
 * friends may be called from many threads at once (each call fans its work
 * out over the pool and waits).
 *
 * Errors: 0 or a count, -errno, or ERR_* (common/err.h).
 * Ownership: request structs and their string views are borrowed for the
 * call; results are owned by the caller and freed with the matching _free().
 */
#ifndef SPOOR_QUERY_H
#define SPOOR_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

struct q_engine;

/* threads == 0: one per online core.  `st` is borrowed and must outlive the
 * engine.  Returns 0 and *out, or a negative code. */
int q_engine_new(struct store *st, unsigned threads, struct q_engine **out);
void q_engine_free(struct q_engine *e); /* NULL ok */

/* The engine's store. */
struct store *q_engine_store(struct q_engine *e);

/*
 * Runs fn(arg, i) for every i in [0, n) on the engine's workers (the caller
 * helps) and returns when all are done: 0, or the first negative value an fn
 * returned (the others still run).
 */
int q_parallel(struct q_engine *e, size_t n, int (*fn)(void *arg, size_t i), void *arg);

/* ---- funnels -------------------------------------------------------------- */

#define Q_MAX_STEPS 16
#define Q_MAX_PROPS 8
#define Q_BREAKDOWN_TOP 20

/* props key equality: the event's props object has member `key` whose value
 * equals `value`.  `value` is the raw JSON text of a scalar as the request
 * sent it ("\"pro\"", "3", "true", "null"); strings compare by their decoded
 * content, numbers by numeric value, literals exactly. */
struct q_prop_eq {
	struct store_str key;   /* decoded key bytes */
	struct store_str value; /* raw JSON scalar */
};

/* One step: type is required; empty optional fields match anything. */
struct q_matcher {
	struct store_str type;
	struct store_str target;     /* exact */
	struct store_str url;        /* exact */
	struct store_str url_prefix; /* url starts with it */
	struct q_prop_eq props[Q_MAX_PROPS];
	unsigned nprops;
};

enum q_by { Q_BY_SESSION, Q_BY_USER };
enum q_breakdown { Q_BD_NONE, Q_BD_URL, Q_BD_TARGET, Q_BD_TYPE, Q_BD_PROP };

/* Beyond windowFunnel (all zero: the default funnel). */
enum q_order { Q_ORDER_ORDERED, Q_ORDER_STRICT, Q_ORDER_ANY };
enum q_same { Q_SAME_NONE, Q_SAME_URL, Q_SAME_TARGET, Q_SAME_USER, Q_SAME_PROP };
enum q_count { Q_COUNT_ACTORS, Q_COUNT_ENTRIES };
#define Q_MAX_EXCLUDE 8

/* An exclusion: events matching m between the chain's step `from` and step
 * `to` events (1-based, from < to) cap the chain at step `from`. */
struct q_exclude {
	struct q_matcher m;
	unsigned from, to;
};

struct q_funnel_req {
	struct q_matcher steps[Q_MAX_STEPS];
	unsigned nsteps;          /* 1..Q_MAX_STEPS */
	int64_t window_ms;        /* >= 0 */
	enum q_by by;
	int64_t from, to;         /* events with from <= ts < to; INT64_MIN / INT64_MAX: unbounded */
	enum q_breakdown breakdown;
	struct store_str breakdown_prop; /* the key of "props.KEY" */
	/* extensions (docs/api.md); zero means "not asked" for each */
	enum q_order order;
	int64_t within_ms[Q_MAX_STEPS]; /* [i], i >= 1: most ms from step i-1's event; 0: none */
	int64_t after_ms[Q_MAX_STEPS];  /* [i], i >= 1: least ms from step i-1's event */
	struct q_exclude exclude[Q_MAX_EXCLUDE];
	unsigned nexclude;
	enum q_same same;
	struct store_str same_prop; /* the key of "props.KEY" for Q_SAME_PROP */
	enum q_count count;
	unsigned samples;		 /* 0..Q_MAX_SAMPLES actors per step and kind */
	unsigned ttc_from, ttc_to;	 /* time to convert from step ttc_from to ttc_to (1-based); 0: none */
	unsigned ttc_bins;		 /* histogram bins, 1..Q_MAX_TTC_BINS */
	int64_t trend_ms;		 /* conversion per interval of step-1 time; 0: none */
};
#define Q_MAX_SAMPLES	100
#define Q_MAX_TTC_BINS	100
#define Q_MAX_TREND	10000 /* intervals in a trend reply */

/* A drop-off pointer: an actor's session and the time of its last matched
 * step, for a replay link. */
struct q_sample {
	struct store_str session; /* owned by the result */
	int64_t ts;
};

struct q_ttc_bin {
	int64_t from_ms, to_ms; /* [from, to); the last bin includes its to */
	uint64_t count;
};

struct q_step_stat {
	uint64_t count;              /* actors with level >= this step */
	double conversion;           /* count / count of step 1 (0 when that is 0) */
	double conversion_from_prev; /* count / count of the previous step (step 1: 1.0 or 0) */
	int64_t median_ms_from_prev; /* median over actors that reached this step of the time
					between their chain's previous and this step; -1: none
					(step 1, or nobody reached it) */
};

struct q_funnel_group {
	struct store_str value;      /* the breakdown value; "other" for the rest; owned by the result */
	int other;                   /* 1 for the "other" group */
	struct q_step_stat steps[Q_MAX_STEPS];
};

struct q_trend_point {
	int64_t start;	/* interval start (ms) */
	int incomplete; /* the window of an actor entering at its end has not closed yet */
	struct q_step_stat steps[Q_MAX_STEPS]; /* medians not computed: -1 */
};

struct q_funnel_res {
	unsigned nsteps;
	struct q_step_stat steps[Q_MAX_STEPS];
	uint64_t actors;             /* actors with at least one event matching some step */
	uint64_t events_scanned;     /* rows whose columns the scan looked at */
	double took_ms;
	struct q_funnel_group *groups; /* breakdown: top Q_BREAKDOWN_TOP by step-1 count, then "other" */
	size_t ngroups;
	/* with req.samples: [step][0] actors that reached the step (latest first),
	 * [step][1] actors that stopped just before it */
	struct q_sample *samples[Q_MAX_STEPS][2];
	size_t nsamples[Q_MAX_STEPS][2];
	/* with req.ttc_to: time from step ttc_from to ttc_to over those reaching it */
	uint64_t ttc_count;
	double ttc_avg_ms;
	int64_t ttc_median_ms, ttc_p90_ms; /* -1 when ttc_count is 0 */
	struct q_ttc_bin *ttc_bins;
	size_t ttc_nbins;
	/* with req.trend_ms: one point per interval holding actors' step 1 */
	struct q_trend_point *trend;
	size_t ntrend;
	void *mem;                   /* private */
	char *xmem;                  /* private: sample session bytes */
};

/*
 * Semantics of ClickHouse windowFunnel(window_ms) (DESIGN.md): per actor the
 * level is the length of the longest chain of events matching steps 1..k in
 * time order (equal timestamps ordered by arrival) with last.ts - first.ts <=
 * window_ms, where one event never fills two steps of one chain.  Returns 0
 * with *out filled (free with q_funnel_res_free()), ERR_INVALID for a bad
 * request, or a negative code.
 */
int q_funnel(struct q_engine *e, const struct q_funnel_req *req, struct q_funnel_res *out);
void q_funnel_res_free(struct q_funnel_res *r);

/* ---- the HTTP API (libmicrohttpd) ------------------------------------------- */

struct q_http_opts {
	const char *listen;       /* "HOST:PORT"; port 0 picks a free one */
	const char *token;        /* "" or NULL: no auth; else Authorization: Bearer TOKEN */
	unsigned threads;         /* HTTP threads; 0: cores */
	size_t max_body;          /* request body limit [65536] */
	const char *static_dir;   /* client/ assets for the viewer pages; NULL: built in */
};

struct q_http;

/* Starts serving the query API for `st` (borrowed, must outlive the
 * server).  Returns 0 and *out, or a negative code with a message. */
int q_http_start(const struct q_http_opts *o, struct store *st, struct q_http **out, char *errbuf,
		 size_t errlen);
int q_http_port(const struct q_http *h);
void q_http_stop(struct q_http *h); /* stops, joins, frees; NULL ok */

#endif
