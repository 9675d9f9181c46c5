/*
 * http_metrics.c — request counters and latency histograms of the query
 * API, and GET /metrics (Prometheus text format 0.0.4).
 *
 *   spoord_query_requests_total{endpoint="funnel",status="200"} N
 *   spoord_query_duration_seconds_bucket{endpoint="funnel",le="0.005"} N
 *   spoord_query_duration_seconds_sum{endpoint="funnel"} S
 *   spoord_query_duration_seconds_count{endpoint="funnel"} N
 *   spoord_query_in_flight N
 *
 * Counters are relaxed atomics: each is exact, a scrape is not one
 * consistent cut of them all (Prometheus does not need one).
 */
#include <errno.h>
#include <stdlib.h>

#include "q_http_int.h"

static const char *const ep_names[Q_EP_COUNT] = {
    [Q_EP_FUNNEL] = "funnel",	[Q_EP_REPLAY] = "replay", [Q_EP_SESSIONS] = "sessions",
    [Q_EP_SERIES] = "series",	[Q_EP_STATS] = "stats",	  [Q_EP_METRICS] = "metrics",
    [Q_EP_HEALTHZ] = "healthz", [Q_EP_UI] = "ui", [Q_EP_OTHER] = "other",
};

static const unsigned statuses[Q_NSTATUS - 1] = {200, 304, 400, 401, 404, 405, 413, 500, 503};

/* Upper bounds of the latency buckets, in microseconds and as printed. */
static const uint64_t bound_us[Q_NBUCKETS] = {1000,   5000,   10000,   25000,	50000,	 100000,
					      250000, 500000, 1000000, 2500000, 10000000};
static const char *const bound_txt[Q_NBUCKETS] = {"0.001", "0.005", "0.01", "0.025", "0.05", "0.1",
						  "0.25",  "0.5",   "1",    "2.5",   "10"};

void q_metrics_record(struct q_metrics *m, enum q_ep ep, unsigned status, uint64_t us)
{
	unsigned s = Q_NSTATUS - 1, b;

	for (unsigned i = 0; i < Q_NSTATUS - 1; i++)
		if (statuses[i] == status)
			s = i;
	atomic_fetch_add_explicit(&m->requests[ep][s], 1, memory_order_relaxed);
	for (b = 0; b < Q_NBUCKETS && us > bound_us[b]; b++)
		;
	if (b < Q_NBUCKETS)
		atomic_fetch_add_explicit(&m->le[ep][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count[ep], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us[ep], us, memory_order_relaxed);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

enum MHD_Result q_serve_metrics(struct q_req *r)
{
	struct q_metrics *m = &r->h->m;
	struct qj b;

	qj_init(&b);
	qj_lit(&b, "# HELP spoord_query_requests_total Query API requests by endpoint and "
		   "status.\n# TYPE spoord_query_requests_total counter\n");
	for (int e = 0; e < Q_EP_COUNT; e++)
		for (int s = 0; s < Q_NSTATUS; s++) {
			uint64_t v = LOAD(m->requests[e][s]);
			/* Always show the 200 series, others once they happened. */
			if (!v && s != 0)
				continue;
			if (s < Q_NSTATUS - 1)
				qj_printf(
				    &b,
				    "spoord_query_requests_total{endpoint=\"%s\",status=\"%u\"} "
				    "%llu\n",
				    ep_names[e], statuses[s], (unsigned long long)v);
			else
				qj_printf(&b,
					  "spoord_query_requests_total{endpoint=\"%s\",status="
					  "\"other\"} %llu\n",
					  ep_names[e], (unsigned long long)v);
		}
	qj_lit(&b, "# HELP spoord_query_duration_seconds Query API request duration, from "
		   "the request head to the last byte of the reply.\n"
		   "# TYPE spoord_query_duration_seconds histogram\n");
	for (int e = 0; e < Q_EP_COUNT; e++) {
		uint64_t cum = 0, count = LOAD(m->count[e]);
		for (int i = 0; i < Q_NBUCKETS; i++) {
			cum += LOAD(m->le[e][i]);
			qj_printf(&b,
				  "spoord_query_duration_seconds_bucket{endpoint=\"%s\",le=\"%s\"} "
				  "%llu\n",
				  ep_names[e], bound_txt[i], (unsigned long long)cum);
		}
		/* count is read after the buckets: it is never below their sum */
		if (count < cum)
			count = cum;
		qj_printf(&b,
			  "spoord_query_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n"
			  "spoord_query_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
			  "spoord_query_duration_seconds_count{endpoint=\"%s\"} %llu\n",
			  ep_names[e], (unsigned long long)count, ep_names[e],
			  (double)LOAD(m->sum_us[e]) / 1e6, ep_names[e], (unsigned long long)count);
	}
	qj_printf(&b,
		  "# HELP spoord_query_in_flight Query API requests being served.\n"
		  "# TYPE spoord_query_in_flight gauge\nspoord_query_in_flight %lld\n",
		  (long long)LOAD(m->in_flight));
	if (b.oom) {
		qj_fini(&b);
		return q_reply_code(r, -ENOMEM);
	}
	{
		size_t n;
		char *p = qj_take(&b, &n);
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(p);
			return MHD_NO;
		}
		return q_reply(r, MHD_HTTP_OK, resp, "text/plain; version=0.0.4; charset=utf-8");
	}
}
