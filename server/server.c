/*
 * server.c — starting and stopping the ingest server.
 *
 * srv_start(): one listener per worker, all bound to the same address with
 * SO_REUSEPORT (the kernel spreads connections among them); a probe bind
 * without SO_REUSEPORT first, so an address another process already serves
 * is refused instead of silently shared.  Each worker thread then builds its
 * ring and reports; srv_start() returns once all have.  With --fsync
 * interval a sync thread calls store_sync() about every second.
 *
 * The sync thread runs at SCHED_IDLE.  Writing back pages that the workers
 * have mapped and dirtied costs the syncing thread tens of ms of CPU a
 * second on a small virtual machine (write-protecting each page again, TLB
 * shootdowns, bio submission); at normal priority that CPU came out of the
 * workers' share in one burst a second and showed as a 13-22 ms p99 request
 * latency at half of peak load (2 vCPUs), taken from idle time it does not
 * (2.0-4.1 ms; docs/benchmarks.md).  A machine with no idle time would
 * starve it, so a watchdog thread raises it back to normal priority when a
 * sync is SYNC_BOOST_MS late (the sync thread lowers itself again after).
 * Raising needs CAP_SYS_NICE or RLIMIT_NICE; without them the sync thread
 * stays at normal priority and a warning says so.
 *
 * srv_stop() only raises a flag: each worker sees it within one tick and
 * winds down by itself (conn.c, begin_stop).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "net.h"
#include "srv_impl.h"

#define SYNC_INTERVAL_MS 1000
#define SYNC_BOOST_MS	 1000
#define SKEW_BITS	 20 /* sessions whose clock offsets are kept: 8 MiB */

int64_t srv_mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

int64_t srv_mono_ms(void)
{
	return srv_mono_ns() / 1000000;
}

int64_t srv_wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int srv_store_writable(struct srv *s)
{
	int64_t ok = m_get_i64(&s->sync_m.store_ok_ms), bad = m_get_i64(&s->sync_m.store_fail_ms);

	for (int i = 0; i < s->nworkers; i++) {
		int64_t o = m_get_i64(&s->workers[i].m.store_ok_ms);
		int64_t f = m_get_i64(&s->workers[i].m.store_fail_ms);
		if (o > ok)
			ok = o;
		if (f > bad)
			bad = f;
	}
	return bad == 0 || ok > bad;
}

/* sa with its port replaced. */
static void set_port(struct sockaddr_storage *sa, int port)
{
	if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

/* A socket bound to sa (listening when `listening`).  Returns the fd or -errno. */
static int bind_one(const struct sockaddr_storage *sa, socklen_t len, int reuseport, int listening)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
	    bind(fd, (const struct sockaddr *)sa, len) < 0 || (listening && listen(fd, 4096) < 0))
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static int open_listeners(struct srv *s, char *err, size_t len)
{
	struct sockaddr_storage sa = s->cfg.listen.sa;
	int fd, port;

	/* probe: fails when anyone (even a SO_REUSEPORT group) has the address */
	fd = bind_one(&sa, s->cfg.listen.salen, 0, 0);
	if (fd < 0) {
		snprintf(err, len, "cannot bind %s: %s", s->cfg.listen.text, err_str(fd));
		return fd;
	}
	port = net_bound_port(fd);
	close(fd);
	if (port < 0) {
		snprintf(err, len, "getsockname: %s", err_str(port));
		return port;
	}
	set_port(&sa, port);
	for (int i = 0; i < s->nworkers; i++) {
		fd = bind_one(&sa, s->cfg.listen.salen, 1, 1);
		if (fd < 0) {
			snprintf(err, len, "cannot listen on %s: %s", s->cfg.listen.text,
				 err_str(fd));
			return fd;
		}
		s->workers[i].listen_fd = fd;
	}
	s->port = port;
	return 0;
}

void srv_worker_ready(struct srv *s, int rc, const char *msg)
{
	pthread_mutex_lock(&s->start_mu);
	if (rc < 0 && !s->start_err) {
		s->start_err = rc;
		snprintf(s->start_msg, sizeof s->start_msg, "%s", msg);
	}
	s->nready++;
	pthread_cond_broadcast(&s->start_cv);
	pthread_mutex_unlock(&s->start_mu);
}

/* Waits ms on s->cv, with s->mu held.  Returns 0 once srv_stop() asked the
 * background threads to quit. */
static int bg_wait(struct srv *s, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!s->sync_quit && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	return !s->sync_quit;
}

static int set_policy(pthread_t t, int policy)
{
	struct sched_param sp = {0};
	return pthread_setschedparam(t, policy, &sp);
}

static void *sync_main(void *arg)
{
	struct srv *s = arg;
	int64_t last_log = 0;

	pthread_mutex_lock(&s->mu);
	while (bg_wait(s, SYNC_INTERVAL_MS)) {
		int64_t t0;
		int rc;

		pthread_mutex_unlock(&s->mu);
		t0 = srv_mono_ns();
		rc = store_sync(s->store);
		metrics_observe_commit(&s->sync_m, (uint64_t)(srv_mono_ns() - t0), rc < 0);
		__atomic_store_n(&s->sync_done_ns, srv_mono_ns(), __ATOMIC_RELEASE);
		/* boosted by the watchdog: idle again (lowering needs no right) */
		if (__atomic_exchange_n(&s->sync_boosted, 0, __ATOMIC_ACQ_REL))
			set_policy(pthread_self(), SCHED_IDLE);
		if (rc < 0) {
			m_set_i64(&s->sync_m.store_fail_ms, srv_wall_ms());
			if (srv_mono_ms() - last_log >= 10000) {
				log_warn("store sync failed", "error=\"%s\"", err_str(rc));
				last_log = srv_mono_ms();
			}
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Can the calling thread go to SCHED_IDLE and come back?  Leaving
 * SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE of 20; a thread that could
 * not is left at SCHED_IDLE, so only the watchdog asks this of itself. */
static int can_boost(void)
{
	return set_policy(pthread_self(), SCHED_IDLE) == 0 &&
	       set_policy(pthread_self(), SCHED_OTHER) == 0;
}

/* Normal priority: puts the sync thread at SCHED_IDLE when it could take it
 * back, then raises it to normal priority whenever a sync is SYNC_BOOST_MS
 * late (a machine with no idle time), so the durability lag of --fsync
 * interval stays bounded.  Without the right, it leaves the sync thread at
 * normal priority, says so and ends. */
static void *watch_main(void *arg)
{
	struct srv *s = arg;

	if (!can_boost()) {
		log_warn("sync thread at normal priority: SCHED_IDLE could not be left again",
			 "hint=\"give spoord CAP_SYS_NICE or RLIMIT_NICE 20 (systemd LimitNICE=20) "
			 "for a lower tail latency\"");
		return NULL;
	}
	set_policy(s->sync_thread, SCHED_IDLE);
	pthread_mutex_lock(&s->mu);
	while (bg_wait(s, SYNC_BOOST_MS / 4)) {
		int64_t late = srv_mono_ns() - __atomic_load_n(&s->sync_done_ns, __ATOMIC_ACQUIRE) -
			       (SYNC_INTERVAL_MS + SYNC_BOOST_MS) * 1000000ll;
		if (late > 0 && !__atomic_load_n(&s->sync_boosted, __ATOMIC_ACQUIRE) &&
		    set_policy(s->sync_thread, SCHED_OTHER) == 0) {
			__atomic_store_n(&s->sync_boosted, 1, __ATOMIC_RELEASE);
			__atomic_add_fetch(&s->sync_boosts, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int sync_start(struct srv *s)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->sync_done_ns = srv_mono_ns();
	rc = pthread_create(&s->sync_thread, NULL, sync_main, s);
	if (rc != 0)
		return -rc;
	s->sync_started = 1;
	if ((rc = pthread_create(&s->watch_thread, NULL, watch_main, s)) != 0)
		return -rc;
	s->watch_started = 1;
	return 0;
}

int srv_start(const struct srv_config *cfg, struct store *st, struct srv **out, char *err,
	      size_t errlen)
{
	struct srv *s;
	int rc, i;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->store = st;
	s->nworkers = cfg->threads;
	s->key_len = strlen(cfg->ingest_key);
	s->cors_any = strcmp(cfg->cors_origins, "*") == 0;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->start_mu, NULL);
	pthread_cond_init(&s->start_cv, NULL);
	s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
	if (!s->workers || ingest_skew_new(SKEW_BITS, &s->skew) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < s->nworkers; i++) {
		s->workers[i].srv = s;
		s->workers[i].id = i;
		s->workers[i].listen_fd = -1;
	}
	rc = open_listeners(s, err, errlen);
	if (rc < 0)
		goto fail;
	for (i = 0; i < s->nworkers; i++) {
		rc = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
		if (rc != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(rc));
			rc = -rc;
			goto fail;
		}
		s->workers[i].started = 1;
	}
	pthread_mutex_lock(&s->start_mu);
	while (s->nready < s->nworkers)
		pthread_cond_wait(&s->start_cv, &s->start_mu);
	rc = s->start_err;
	pthread_mutex_unlock(&s->start_mu);
	if (rc < 0) {
		snprintf(err, errlen, "%s", s->start_msg);
		goto fail;
	}
	s->ring_mode = s->workers[0].ring_mode;
	if (cfg->fsync == SRV_FSYNC_INTERVAL) {
		rc = sync_start(s);
		if (rc < 0) {
			snprintf(err, errlen, "sync thread: %s", strerror(-rc));
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	srv_free(s);
	return rc;
}

int srv_port(const struct srv *s)
{
	return s->port;
}

const char *srv_ring_mode(const struct srv *s)
{
	return s->ring_mode ? s->ring_mode : "none";
}

void srv_stop(struct srv *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->mu);
	s->sync_quit = 1;
	if (s->sync_started)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void srv_wait(struct srv *s)
{
	if (s->joined)
		return;
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
	if (s->sync_started)
		pthread_join(s->sync_thread, NULL);
	if (s->watch_started)
		pthread_join(s->watch_thread, NULL);
	s->joined = 1;
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	if (s->workers) {
		srv_stop(s);
		srv_wait(s);
		for (int i = 0; i < s->nworkers; i++)
			if (!s->workers[i].started && s->workers[i].listen_fd >= 0)
				close(s->workers[i].listen_fd);
	}
	free(s->workers);
	ingest_skew_free(s->skew);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->start_mu);
	pthread_cond_destroy(&s->start_cv);
	if (s->sync_started)
		pthread_cond_destroy(&s->cv);
	free(s);
}
