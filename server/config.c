/*
 * config.c — spoord's settings: flags, environment, config file, defaults.
 *
 * One table (opts[]) names every setting once: its flag, its environment
 * variable, its default and its help line.  srv_config_load() applies the
 * sources from the weakest to the strongest, so a later one overrides:
 *
 *   defaults  →  config file (--config / SPOORD_CONFIG)  →  environment  →  flags
 *
 * Every value goes through set_option(), which validates it; the first bad
 * value stops the load with a message that names its source.
 */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

enum opt_id {
	O_DATA,
	O_LISTEN,
	O_QUERY_LISTEN,
	O_THREADS,
	O_FSYNC,
	O_PARTITION,
	O_SHARDS,
	O_MAX_BODY,
	O_RETENTION,
	O_INGEST_KEY,
	O_QUERY_TOKEN,
	O_MAX_CONNS,
	O_CORS_ORIGINS,
	O_IDLE_TIMEOUT,
	O_REQUEST_TIMEOUT,
	O_MAX_BUFFERED,
	O_LOG_LEVEL,
	O_CONFIG,
	O_COUNT
};

struct opt {
	const char *name; /* flag without "--", and the config file key */
	const char *env;  /* environment variable */
	const char *arg;  /* placeholder in --help */
	const char *def;  /* default as text; NULL: computed (see apply_defaults) */
	const char *help; /* one line */
};

static const struct opt opts[O_COUNT] = {
    [O_DATA] = {"data", "SPOORD_DATA", "DIR", "./data",
		"directory of the event store (created if absent)"},
    [O_LISTEN] = {"listen", "SPOORD_LISTEN", "HOST:PORT", "127.0.0.1:8080",
		  "ingest address (POST /v1/events); port 0 picks a free port"},
    [O_QUERY_LISTEN] = {"query-listen", "SPOORD_QUERY_LISTEN", "HOST:PORT", "127.0.0.1:8081",
			"query API address (served once the query module is built in)"},
    [O_THREADS] = {"threads", "SPOORD_THREADS", "N", NULL,
		   "ingest threads, each with its own io_uring and listener"},
    [O_FSYNC] = {"fsync", "SPOORD_FSYNC", "always|interval|none", "interval",
		 "always: reply after a durable group commit; interval: sync about every second"},
    [O_PARTITION] = {"partition", "SPOORD_PARTITION", "hour|day", "hour",
		     "time span of a partition (fixed when the store is created)"},
    [O_SHARDS] = {"shards", "SPOORD_SHARDS", "S", "16",
		  "session shards per partition (fixed when the store is created)"},
    [O_MAX_BODY] = {"max-body", "SPOORD_MAX_BODY", "BYTES", "1m",
		    "largest request body (k/m suffixes); larger ones get 413"},
    [O_RETENTION] = {"retention", "SPOORD_RETENTION", "DAYS", "0",
		     "drop partitions older than this; 0 keeps everything"},
    [O_INGEST_KEY] = {"ingest-key", "SPOORD_INGEST_KEY", "KEY", "",
		      "require this key (header X-Spoor-Key or ?key=) on POST /v1/events"},
    [O_QUERY_TOKEN] = {"query-token", "SPOORD_QUERY_TOKEN", "TOKEN", "",
		       "bearer token the query API will require"},
    [O_MAX_CONNS] = {"max-conns", "SPOORD_MAX_CONNS", "N", "10000",
		     "open connections; new ones beyond are closed"},
    [O_CORS_ORIGINS] = {"cors-origins", "SPOORD_CORS_ORIGINS", "LIST", "*",
			"origins allowed by CORS: * or a comma list"},
    [O_IDLE_TIMEOUT] = {"idle-timeout-ms", "SPOORD_IDLE_TIMEOUT_MS", "MS", "60000",
			"close a keep-alive connection idle this long"},
    [O_REQUEST_TIMEOUT] = {"request-timeout-ms", "SPOORD_REQUEST_TIMEOUT_MS", "MS", "10000",
			   "a whole request must arrive within this time of its first byte"},
    [O_MAX_BUFFERED] = {"max-buffered", "SPOORD_MAX_BUFFERED", "BYTES", "256m",
			"request and reply bytes buffered over all connections; beyond: 503"},
    [O_LOG_LEVEL] = {"log-level", "SPOORD_LOG_LEVEL", "debug|info|warn|error", "info",
		     "lowest level of the log lines written to stderr"},
    [O_CONFIG] = {"config", "SPOORD_CONFIG", "FILE", "",
		  "read settings from FILE: lines 'name = value', # comments"},
};

/* Formats a message into err[0..len) and returns ERR_INVALID. */
static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ERR_INVALID;
}

/* Parses a decimal integer in [lo, hi] with an optional binary k/m/g suffix
 * when `suffix` is set.  Returns 0 with *out set, or -1. */
static int parse_int(const char *s, long long lo, long long hi, int suffix, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (suffix && *end) {
		int shift = 0;
		switch (tolower((unsigned char)*end)) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		default: return -1;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (v < 0 || v > (LLONG_MAX >> shift))
			return -1;
		v <<= shift;
	}
	if (*end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Copies s into dst[0..cap) or fails when it does not fit. */
static int copy_str(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

/*
 * Resolves "HOST:PORT" or "[V6]:PORT" into *out (numeric port 0..65535).
 * Returns 0, or ERR_INVALID with a message.
 */
static int parse_addr(const char *text, struct srv_addr *out, char *err, size_t len)
{
	struct addrinfo hints = {0}, *res = NULL;
	char host[256];
	const char *colon, *port, *h = text;
	size_t hn;
	long long p;
	int rc;

	if (copy_str(out->text, sizeof out->text, text) < 0)
		return fail(err, len, "address too long");
	colon = strrchr(text, ':');
	if (!colon)
		return fail(err, len, "'%s' is not HOST:PORT", text);
	port = colon + 1;
	hn = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hn < 2 || text[hn - 1] != ']')
			return fail(err, len, "'%s' is not [HOST]:PORT", text);
		h = text + 1;
		hn -= 2;
	}
	if (hn == 0 || hn >= sizeof host)
		return fail(err, len, "'%s' has no host", text);
	if (parse_int(port, 0, 65535, 0, &p) < 0)
		return fail(err, len, "'%s': port must be 0..65535", text);
	memcpy(host, h, hn);
	host[hn] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return fail(err, len, "'%s': %s", text, gai_strerror(rc));
	memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
	out->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Checks a --cors-origins value: "*" or a comma list of origins, each
 * non-empty and of visible ASCII (blanks around commas are allowed). */
static int check_origins(const char *v)
{
	size_t item = 0;

	if (strcmp(v, "*") == 0)
		return 0;
	for (const char *p = v;; p++) {
		if (*p == ',' || *p == '\0') {
			if (item == 0)
				return -1;
			if (*p == '\0')
				return 0;
			item = 0;
		} else if (*p != ' ') {
			if (*p == '*' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				return -1;
			item++;
		}
	}
}

/*
 * Sets option `id` from text `v`; `src` names the source for messages
 * ("--threads", "SPOORD_THREADS", "spoord.conf:3").  Returns 0 or
 * ERR_INVALID with a message.
 */
static int set_option(struct srv_config *c, enum opt_id id, const char *v, const char *src,
		      char *err, size_t len)
{
	long long n;
	int rc;

	switch (id) {
	case O_DATA:
		if (!*v || copy_str(c->data, sizeof c->data, v) < 0)
			goto bad;
		return 0;
	case O_LISTEN:
	case O_QUERY_LISTEN:
		rc = parse_addr(v, id == O_LISTEN ? &c->listen : &c->query_listen, err, len);
		if (rc < 0 && err && len) {
			char tmp[320];
			snprintf(tmp, sizeof tmp, "%s", err);
			fail(err, len, "%s: %s", src, tmp);
		}
		return rc;
	case O_THREADS:
		if (parse_int(v, 1, 256, 0, &n) < 0)
			return fail(err, len, "%s: threads must be 1..256, not '%s'", src, v);
		c->threads = (int)n;
		return 0;
	case O_FSYNC:
		if (strcmp(v, "always") == 0)
			c->fsync = SRV_FSYNC_ALWAYS;
		else if (strcmp(v, "interval") == 0)
			c->fsync = SRV_FSYNC_INTERVAL;
		else if (strcmp(v, "none") == 0)
			c->fsync = SRV_FSYNC_NONE;
		else
			return fail(err, len, "%s: expected always, interval or none, not '%s'",
				    src, v);
		return 0;
	case O_PARTITION:
		if (strcmp(v, "hour") == 0)
			c->partition_ms = 3600000;
		else if (strcmp(v, "day") == 0)
			c->partition_ms = 86400000;
		else
			return fail(err, len, "%s: expected hour or day, not '%s'", src, v);
		return 0;
	case O_SHARDS:
		if (parse_int(v, 1, 65536, 0, &n) < 0)
			return fail(err, len, "%s: shards must be 1..65536, not '%s'", src, v);
		c->shards = (uint32_t)n;
		return 0;
	case O_MAX_BODY:
		if (parse_int(v, 1, 1ll << 30, 1, &n) < 0)
			return fail(err, len, "%s: max body must be 1..1g bytes, not '%s'", src, v);
		c->max_body = (size_t)n;
		return 0;
	case O_RETENTION:
		if (parse_int(v, 0, 36500, 0, &n) < 0)
			return fail(err, len, "%s: retention must be 0..36500 days, not '%s'", src,
				    v);
		c->retention_ms = n * 86400000ll;
		return 0;
	case O_INGEST_KEY:
		if (copy_str(c->ingest_key, sizeof c->ingest_key, v) < 0)
			goto bad;
		return 0;
	case O_QUERY_TOKEN:
		if (copy_str(c->query_token, sizeof c->query_token, v) < 0)
			goto bad;
		return 0;
	case O_MAX_CONNS:
		if (parse_int(v, 1, 1000000, 0, &n) < 0)
			return fail(err, len, "%s: max conns must be 1..1000000, not '%s'", src, v);
		c->max_conns = (int)n;
		return 0;
	case O_CORS_ORIGINS:
		if (check_origins(v) < 0 ||
		    copy_str(c->cors_origins, sizeof c->cors_origins, v) < 0)
			return fail(err, len, "%s: expected * or a comma list of origins", src);
		return 0;
	case O_IDLE_TIMEOUT:
	case O_REQUEST_TIMEOUT:
		if (parse_int(v, 1, 86400000, 0, &n) < 0)
			return fail(err, len, "%s: expected 1..86400000 ms, not '%s'", src, v);
		if (id == O_IDLE_TIMEOUT)
			c->idle_timeout_ms = (int)n;
		else
			c->request_timeout_ms = (int)n;
		return 0;
	case O_MAX_BUFFERED:
		if (parse_int(v, 1ll << 20, 1ll << 40, 1, &n) < 0)
			return fail(err, len, "%s: max buffered must be 1m..1t bytes, not '%s'",
				    src, v);
		c->max_buffered = (size_t)n;
		return 0;
	case O_LOG_LEVEL:
		if (strcmp(v, "debug") == 0)
			c->log_level = LOG_DEBUG;
		else if (strcmp(v, "info") == 0)
			c->log_level = LOG_INFO;
		else if (strcmp(v, "warn") == 0)
			c->log_level = LOG_WARN;
		else if (strcmp(v, "error") == 0)
			c->log_level = LOG_ERROR;
		else
			return fail(err, len, "%s: expected debug, info, warn or error, not '%s'",
				    src, v);
		return 0;
	case O_CONFIG:
		if (copy_str(c->config_file, sizeof c->config_file, v) < 0)
			goto bad;
		return 0;
	case O_COUNT: break;
	}
bad:
	return fail(err, len, "%s: bad value '%s'", src, v);
}

/* The option named `name` (without "--"), or O_COUNT. */
static enum opt_id find_opt(const char *name, size_t n)
{
	for (int i = 0; i < O_COUNT; i++)
		if (strlen(opts[i].name) == n && memcmp(opts[i].name, name, n) == 0)
			return (enum opt_id)i;
	return O_COUNT;
}

static int apply_defaults(struct srv_config *c, char *err, size_t len)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	for (int i = 0; i < O_COUNT; i++) {
		if (!opts[i].def)
			continue;
		if (set_option(c, (enum opt_id)i, opts[i].def, "default", err, len) < 0)
			return ERR_INVALID;
	}
	c->threads = cores < 1 ? 1 : cores > 256 ? 256 : (int)cores;
	c->shards = 0; /* the store's default, or what the store was created with */
	return 0;
}

/* Strips leading and trailing blanks of s in place; returns the new start. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Applies the `name = value` lines of `path`.  Returns 0 or ERR_INVALID. */
static int apply_file(struct srv_config *c, const char *path, char *err, size_t len)
{
	char line[4096], src[64 + 4096];
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (!f)
		return fail(err, len, "--config %s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		char *s = trim(line), *eq, *key, *val;
		enum opt_id id;

		lineno++;
		if (!*s || *s == '#')
			continue;
		snprintf(src, sizeof src, "%s:%d", path, lineno);
		eq = strchr(s, '=');
		if (!eq) {
			rc = fail(err, len, "%s: expected 'name = value'", src);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (key[0] == '-' && key[1] == '-')
			key += 2;
		if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		id = find_opt(key, strlen(key));
		if (id == O_COUNT || id == O_CONFIG) {
			rc = fail(err, len, "%s: unknown setting '%s'", src, key);
			goto out;
		}
		rc = set_option(c, id, val, src, err, len);
		if (rc < 0)
			goto out;
	}
out:
	fclose(f);
	return rc;
}

static int apply_env(struct srv_config *c, char *err, size_t len)
{
	for (int i = 0; i < O_COUNT; i++) {
		const char *v = getenv(opts[i].env);
		if (!v || i == O_CONFIG)
			continue;
		if (set_option(c, (enum opt_id)i, v, opts[i].env, err, len) < 0)
			return ERR_INVALID;
	}
	return 0;
}

/*
 * Walks argv.  With `apply` 0 it only validates the shape and finds --config,
 * --help and --version (returned as 1 and 2); with `apply` 1 it sets every
 * flag.  Returns 0, 1 (help), 2 (version) or ERR_INVALID.
 */
static int walk_flags(struct srv_config *c, int argc, char **argv, int apply, char *err, size_t len)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *val, *eq;
		char src[80];
		enum opt_id id;
		size_t n;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (strcmp(a, "--version") == 0)
			return 2;
		if (a[0] != '-' || a[1] != '-')
			return fail(err, len, "unexpected argument '%s'", a);
		name = a + 2;
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		id = find_opt(name, n);
		if (id == O_COUNT)
			return fail(err, len, "unknown flag '%.*s'", (int)(n + 2), a);
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return fail(err, len, "--%s needs a value (%s)", opts[id].name,
					    opts[id].arg);
			val = argv[++i];
		}
		snprintf(src, sizeof src, "--%s", opts[id].name);
		if ((apply || id == O_CONFIG) && set_option(c, id, val, src, err, len) < 0)
			return ERR_INVALID;
	}
	return 0;
}

int srv_config_load(struct srv_config *cfg, int argc, char **argv, FILE *out, char *errbuf,
		    size_t errlen)
{
	struct srv_config scan;
	const char *cfile;
	int rc;

	rc = apply_defaults(cfg, errbuf, errlen);
	if (rc < 0)
		return rc;
	/* First pass: shape of argv, --help/--version, and where --config is. */
	scan = *cfg;
	rc = walk_flags(&scan, argc, argv, 0, errbuf, errlen);
	if (rc == 1) {
		srv_config_usage(out);
		return 1;
	}
	if (rc == 2) {
		fprintf(out, "spoord %s\n", SPOOR_VERSION);
		return 1;
	}
	if (rc < 0)
		return rc;
	cfile = scan.config_file[0] ? scan.config_file : getenv("SPOORD_CONFIG");
	if (cfile && *cfile) {
		rc = set_option(cfg, O_CONFIG, cfile, "--config", errbuf, errlen);
		if (rc == 0)
			rc = apply_file(cfg, cfg->config_file, errbuf, errlen);
		if (rc < 0)
			return rc;
	}
	rc = apply_env(cfg, errbuf, errlen);
	if (rc < 0)
		return rc;
	rc = walk_flags(cfg, argc, argv, 1, errbuf, errlen);
	if (rc < 0)
		return rc;
	if (cfg->shards)
		cfg->shards_set = 1;
	return 0;
}

void srv_config_usage(FILE *out)
{
	fprintf(out, "usage: spoord [options]\n\n"
		     "spoor's ingest server: POST /v1/events, GET /healthz, GET /metrics.\n"
		     "Each setting is taken from its flag, else its environment variable, else\n"
		     "the config file, else its default.\n\n");
	for (int i = 0; i < O_COUNT; i++) {
		char head[96];
		snprintf(head, sizeof head, "--%s %s", opts[i].name, opts[i].arg);
		fprintf(out, "  %s\n      %s\n      env %s; default: %s\n", head, opts[i].help,
			opts[i].env,
			opts[i].def ? (*opts[i].def ? opts[i].def : "(none)") : "CPU cores");
	}
	fprintf(out, "  --help\n      this text\n  --version\n      print the version\n\n"
		     "Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when the store or\n"
		     "the listener cannot be opened, 2 for a bad setting.\n");
}

const char *srv_fsync_name(enum srv_fsync m)
{
	switch (m) {
	case SRV_FSYNC_ALWAYS: return "always";
	case SRV_FSYNC_INTERVAL: return "interval";
	case SRV_FSYNC_NONE: return "none";
	}
	return "?";
}
