/*
 * metrics.c — counters and GET /metrics (Prometheus text format 0.0.4).
 *
 * Each worker (and the interval sync thread) owns a struct srv_metrics and
 * is its only writer; /metrics sums them at read time.  Store figures come
 * from store_get_stats().
 */
#include <errno.h>
#include <string.h>

#include "srv_impl.h"

static const int status_codes[ST_COUNT] = {200, 204, 301, 304, 400, 401, 404, 405,
					   408, 413, 431, 500, 501, 503, 505, 0};

/* Upper bounds of the commit latency buckets, in ns (then +Inf). */
static const uint64_t commit_le_ns[COMMIT_BUCKETS] = {
    100000,   250000,	500000,	   1000000,   2500000,	 5000000,    10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
};

void metrics_count_status(struct srv_metrics *m, int status)
{
	int i = 0;

	while (i < ST_OTHER && status_codes[i] != status)
		i++;
	m_add(&m->requests[i], 1);
}

void metrics_observe_commit(struct srv_metrics *m, uint64_t ns, int failed)
{
	int i = 0;

	while (i < COMMIT_BUCKETS && ns > commit_le_ns[i])
		i++;
	m_add(&m->commit_le[i], 1);
	m_add(&m->commit_count, 1);
	m_add(&m->commit_sum_ns, ns);
	if (failed)
		m_add(&m->commit_failures, 1);
}

/* sum += one thread's counters */
static void add_up(struct srv_metrics *sum, const struct srv_metrics *m)
{
	for (int i = 0; i < ST_COUNT; i++)
		sum->requests[i] += m_get(&m->requests[i]);
	sum->ev_accepted += m_get(&m->ev_accepted);
	sum->ev_rejected += m_get(&m->ev_rejected);
	sum->ev_duplicate += m_get(&m->ev_duplicate);
	sum->bytes_received += m_get(&m->bytes_received);
	sum->conns_open += m_get(&m->conns_open);
	sum->conns_accepted += m_get(&m->conns_accepted);
	sum->conns_refused += m_get(&m->conns_refused);
	sum->timeouts += m_get(&m->timeouts);
	sum->buffered += m_get(&m->buffered);
	for (int i = 0; i <= COMMIT_BUCKETS; i++)
		sum->commit_le[i] += m_get(&m->commit_le[i]);
	sum->commit_count += m_get(&m->commit_count);
	sum->commit_sum_ns += m_get(&m->commit_sum_ns);
	sum->commit_failures += m_get(&m->commit_failures);
}

static void family(struct sbuf *o, const char *name, const char *type, const char *help)
{
	sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct sbuf *o, const char *name, const char *type, const char *help,
		unsigned long long v)
{
	family(o, name, type, help);
	sbuf_printf(o, "%s %llu\n", name, v);
}

int metrics_render(struct srv *s, struct sbuf *o)
{
	struct srv_metrics sum;
	struct store_stats st;
	unsigned long long cum = 0;

	memset(&sum, 0, sizeof sum);
	for (int i = 0; i < s->nworkers; i++)
		add_up(&sum, &s->workers[i].m);
	add_up(&sum, &s->sync_m);
	store_get_stats(s->store, &st);

	family(o, "spoord_requests_total", "counter", "HTTP replies sent, by status.");
	for (int i = 0; i < ST_COUNT; i++) {
		if (i == ST_OTHER)
			sbuf_printf(o, "spoord_requests_total{status=\"other\"} %llu\n",
				    (unsigned long long)sum.requests[i]);
		else
			sbuf_printf(o, "spoord_requests_total{status=\"%d\"} %llu\n",
				    status_codes[i], (unsigned long long)sum.requests[i]);
	}
	family(o, "spoord_events_total", "counter", "Events received, by result.");
	sbuf_printf(o,
		    "spoord_events_total{result=\"accepted\"} %llu\n"
		    "spoord_events_total{result=\"rejected\"} %llu\n"
		    "spoord_events_total{result=\"duplicate\"} %llu\n",
		    (unsigned long long)sum.ev_accepted, (unsigned long long)sum.ev_rejected,
		    (unsigned long long)sum.ev_duplicate);
	one(o, "spoord_bytes_received_total", "counter", "Bytes read from client sockets.",
	    sum.bytes_received);
	one(o, "spoord_connections", "gauge", "Client connections open now.", sum.conns_open);
	one(o, "spoord_connections_accepted_total", "counter", "Client connections accepted.",
	    sum.conns_accepted);
	one(o, "spoord_connections_refused_total", "counter",
	    "Connections closed at once because --max-conns was reached.", sum.conns_refused);
	one(o, "spoord_request_timeouts_total", "counter",
	    "Requests cut because they did not arrive within --request-timeout-ms.", sum.timeouts);
	one(o, "spoord_buffered_bytes", "gauge", "Bytes of connection buffers allocated now.",
	    sum.buffered);

	family(o, "spoord_commit_latency_seconds", "histogram",
	       "Duration of group commits (--fsync always) and interval syncs.");
	for (int i = 0; i <= COMMIT_BUCKETS; i++) {
		cum += sum.commit_le[i];
		if (i < COMMIT_BUCKETS)
			sbuf_printf(o, "spoord_commit_latency_seconds_bucket{le=\"%g\"} %llu\n",
				    (double)commit_le_ns[i] / 1e9, cum);
		else
			sbuf_printf(o, "spoord_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
				    cum);
	}
	sbuf_printf(o, "spoord_commit_latency_seconds_sum %.9f\n", (double)sum.commit_sum_ns / 1e9);
	sbuf_printf(o, "spoord_commit_latency_seconds_count %llu\n",
		    (unsigned long long)sum.commit_count);
	one(o, "spoord_commit_failures_total", "counter", "Group commits or syncs that failed.",
	    sum.commit_failures);
	one(o, "spoord_sync_raised_total", "counter",
	    "Interval syncs raised from idle to normal priority, a second late (no idle CPU).",
	    __atomic_load_n(&s->sync_boosts, __ATOMIC_RELAXED));

	one(o, "spoord_segments_sealed_total", "counter", "Segments sealed since start.", st.seals);
	one(o, "spoord_seal_failures_total", "counter", "Seals that failed since start.",
	    st.seal_failures);
	one(o, "spoord_store_events", "gauge", "Committed events in the store.", st.events);
	one(o, "spoord_store_duplicates_total", "counter", "Events dropped by dedup since start.",
	    st.duplicates);
	one(o, "spoord_store_partitions", "gauge", "Time partitions in the store.", st.partitions);
	family(o, "spoord_store_segments", "gauge", "Segments in the store, by state.");
	sbuf_printf(o,
		    "spoord_store_segments{state=\"active\"} %llu\n"
		    "spoord_store_segments{state=\"sealed\"} %llu\n",
		    (unsigned long long)st.segments_active, (unsigned long long)st.segments_sealed);
	one(o, "spoord_store_bytes_on_disk", "gauge", "Allocated bytes of all segment files.",
	    st.bytes_on_disk);
	family(o, "spoord_store_oldest_ts_seconds", "gauge", "Start of the oldest partition.");
	sbuf_printf(o, "spoord_store_oldest_ts_seconds %.3f\n", (double)st.oldest_ts / 1e3);
	family(o, "spoord_store_newest_ts_seconds", "gauge", "End of the newest partition.");
	sbuf_printf(o, "spoord_store_newest_ts_seconds %.3f\n", (double)st.newest_ts / 1e3);
	one(o, "spoord_store_writable", "gauge", "1 when the last write to the store succeeded.",
	    (unsigned long long)srv_store_writable(s));
	return o->p ? 0 : -ENOMEM;
}
