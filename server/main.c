/*
 * main.c — spoord: settings, store, ingest server, signals.
 *
 * Exit status: 0 after SIGINT/SIGTERM and a clean stop (in-flight requests
 * answered, store synced and closed); 1 when the store, the listener or a
 * service cannot start, or the final sync fails; 2 for a bad setting.  A
 * second SIGINT/SIGTERM during the stop exits at once with 1.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "query.h"
#include "server.h"
#include "storage.h"

/*
 * Services started beside the ingest server: the query API (query/) on
 * cfg.query_listen with cfg.query_token.
 */
static int q_service_start(const struct srv_config *cfg, struct store *st, void **state,
			   char *err, size_t len)
{
	struct q_http_opts o = {.listen = cfg->query_listen.text, .token = cfg->query_token};
	return q_http_start(&o, st, (struct q_http **)state, err, len);
}

static void q_service_stop(void *state)
{
	q_http_stop(state);
}

static const struct srv_service q_service = {"query", q_service_start, q_service_stop};
static const struct srv_service *const services[] = {&q_service, NULL};
#define MAX_SERVICES 8

static void on_second_signal(int sig)
{
	static const char msg[] = "spoord: second signal, exiting now\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing to do */
	}
	_exit(1);
}

/* "127.0.0.1:8080" / "[::1]:8080" for the address cfg names, with the port
 * actually bound. */
static void bound_addr(const struct srv_addr *a, int port, char *out, size_t len)
{
	char host[128];

	if (getnameinfo((const struct sockaddr *)&a->sa, a->salen, host, sizeof host, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(host, sizeof host, "?");
	if (a->sa.ss_family == AF_INET6)
		snprintf(out, len, "[%s]:%d", host, port);
	else
		snprintf(out, len, "%s:%d", host, port);
}

/* Opens the store as the settings say; 0 or a negative code (logged). */
static int open_store(const struct srv_config *cfg, struct store **st)
{
	struct store_opts so;
	struct store_opts got;
	const char *const *msgs;
	char err[512] = "";
	size_t n;
	int rc;

	memset(&so, 0, sizeof so);
	so.shards = cfg->shards;
	so.partition_ms = cfg->partition_ms;
	so.retention_ms = cfg->retention_ms;
	if (mkdir(cfg->data, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		log_error("cannot create the data directory", "data=%s error=\"%s\"", cfg->data,
			  err_str(rc));
		return rc;
	}
	rc = store_open(cfg->data, &so, st, err, sizeof err);
	if (rc < 0) {
		log_error("cannot open the store", "data=%s error=\"%s\" detail=\"%s\"", cfg->data,
			  err_str(rc), err);
		return rc;
	}
	n = store_problems(*st, &msgs);
	for (size_t i = 0; i < n; i++)
		log_warn("store problem", "data=%s problem=\"%s\"", cfg->data, msgs[i]);
	store_get_opts(*st, &got);
	if (cfg->shards_set && got.shards != cfg->shards)
		log_warn("--shards ignored", "data=%s shards=%u created_with=%u", cfg->data,
			 cfg->shards, got.shards);
	if (got.partition_ms != cfg->partition_ms)
		log_warn("--partition ignored", "data=%s partition_ms=%lld created_with=%lld",
			 cfg->data, (long long)cfg->partition_ms, (long long)got.partition_ms);
	return 0;
}

int main(int argc, char **argv)
{
	struct srv_config cfg;
	struct store_opts got;
	struct store *st = NULL;
	struct srv *srv = NULL;
	void *state[MAX_SERVICES];
	char err[512] = "", addr[300];
	struct sigaction sa;
	sigset_t set;
	int rc, sig = 0, status = 1;
	size_t started = 0;

	rc = srv_config_load(&cfg, argc, argv, stdout, err, sizeof err);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "spoord: %s\n(see spoord --help)\n", err);
		return 2;
	}
	log_set_level(cfg.log_level);

	/* Every thread started from here on (store sealer, workers, sync)
	 * inherits these blocked; only main takes the signals, in sigwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (open_store(&cfg, &st) < 0)
		return 1;
	rc = srv_start(&cfg, st, &srv, err, sizeof err);
	if (rc < 0) {
		log_error("cannot start the ingest server", "listen=%s error=\"%s\"",
			  cfg.listen.text, err);
		goto out;
	}
	for (; services[started] && started < MAX_SERVICES; started++) {
		rc = services[started]->start(&cfg, st, &state[started], err, sizeof err);
		if (rc < 0) {
			log_error("cannot start a service", "service=%s error=\"%s\"",
				  services[started]->name, err);
			goto out;
		}
	}
	store_get_opts(st, &got);
	bound_addr(&cfg.listen, srv_port(srv), addr, sizeof addr);
	log_info("spoord started",
		 "version=%s data=%s listen=%s port=%d query_listen=%s query_port=%d threads=%d "
		 "fsync=%s partition_ms=%lld shards=%u ring=%s",
		 SPOOR_VERSION, cfg.data, addr, srv_port(srv), cfg.query_listen.text,
		 started ? q_http_port(state[0]) : 0, cfg.threads, srv_fsync_name(cfg.fsync),
		 (long long)got.partition_ms, got.shards, srv_ring_mode(srv));

	while (sigwait(&set, &sig) != 0)
		;
	log_info("stopping", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	sa.sa_handler = on_second_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	status = 0;
out:
	/* The sealer's backlog waits for the next start: a shutdown syncs, it
	 * does not seal (a bulk load over many partitions leaves hundreds of
	 * segments), and the syncs below need not share the disk with it. */
	store_stop_sealer(st);
	if (srv) {
		srv_stop(srv);
		srv_wait(srv);
	}
	while (started > 0) {
		started--;
		services[started]->stop(state[started]);
	}
	srv_free(srv);
	rc = store_sync(st);
	if (rc < 0) {
		log_error("final store sync failed", "error=\"%s\"", err_str(rc));
		status = 1;
	}
	store_close(st);
	if (status == 0)
		log_info("stopped", "data=%s", cfg.data);
	return status;
}
