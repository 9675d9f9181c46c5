/*
 * cl_args.c — how the user talks to spoor: flags, the global settings and
 * their environment variables, and durations and times as people type them.
 *
 * Flags are table-driven (struct cl_flag): a command lists its own, the
 * global ones (--url --query-url --token --key --json --help) are accepted
 * by every command, before or after the command name.  A command's parser
 * is a loop over cl_args_next() and a switch on the id, so adding a flag is
 * one table line and one case.
 *
 * Precedence: a flag beats its environment variable, which beats the
 * default.
 */
#include <ctype.h>
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cl.h"
#include "err.h"

#define DEFAULT_URL	  "http://127.0.0.1:8080"
#define DEFAULT_QUERY_URL "http://127.0.0.1:8081"

const struct cl_flag cl_global_flags[] = {
    {"url", "URL", CL_G_URL, "ingest base URL (env SPOOR_URL; default " DEFAULT_URL ")"},
    {"query-url", "URL", CL_G_QUERY_URL,
     "query API base URL (env SPOOR_QUERY_URL; default " DEFAULT_QUERY_URL ")"},
    {"token", "TOKEN", CL_G_TOKEN, "bearer token of the query API (env SPOOR_TOKEN)"},
    {"key", "KEY", CL_G_KEY, "ingest key, sent as X-Spoor-Key (env SPOOR_KEY)"},
    {"json", NULL, CL_G_JSON, "print JSON instead of a table"},
    {"help", NULL, CL_G_HELP, "this help"},
    {NULL, NULL, 0, NULL},
};

/* ---- flags ----------------------------------------------------------------------- */

/* The entry of `name` (n bytes) in flags, or NULL. */
static const struct cl_flag *lookup(const struct cl_flag *flags, const char *name, size_t n)
{
	for (; flags && flags->name; flags++)
		if (strlen(flags->name) == n && memcmp(flags->name, name, n) == 0)
			return flags;
	return NULL;
}

int cl_args_next(struct cl_args *a, const struct cl_flag *flags, const char **val)
{
	const struct cl_flag *f;
	const char *arg, *eq, *sp;
	size_t n;

	*val = NULL;
	if (a->i >= a->argc)
		return CL_ARG_END;
	arg = a->argv[a->i++];
	if (a->dashdash || arg[0] != '-' || arg[1] == '\0') {
		*val = arg;
		return CL_ARG_POS;
	}
	if (strcmp(arg, "--") == 0) {
		a->dashdash = 1;
		return cl_args_next(a, flags, val);
	}
	if (strcmp(arg, "-h") == 0)
		return CL_G_HELP;
	sp = a->cmd[0] ? " " : "";
	if (arg[1] != '-') {
		fprintf(stderr,
			"spoor%s%s: unknown flag %s (flags are --long; see spoor%s%s --help)\n", sp,
			a->cmd, arg, sp, a->cmd);
		return ERR_INVALID;
	}
	arg += 2;
	eq = strchr(arg, '=');
	n = eq ? (size_t)(eq - arg) : strlen(arg);
	f = lookup(flags, arg, n);
	if (!f)
		f = lookup(cl_global_flags, arg, n);
	if (!f) {
		fprintf(stderr, "spoor%s%s: unknown flag --%.*s (see spoor%s%s --help)\n", sp,
			a->cmd, (int)n, arg, sp, a->cmd);
		return ERR_INVALID;
	}
	if (!f->arg) {
		if (eq) {
			fprintf(stderr, "spoor%s%s: --%s takes no value\n", sp, a->cmd, f->name);
			return ERR_INVALID;
		}
		return f->id;
	}
	if (eq) {
		*val = eq + 1;
	} else if (a->i < a->argc) {
		*val = a->argv[a->i++];
	} else {
		fprintf(stderr, "spoor%s%s: --%s needs a value (%s)\n", sp, a->cmd, f->name,
			f->arg);
		return ERR_INVALID;
	}
	return f->id;
}

void cl_flags_usage(FILE *out, const struct cl_flag *flags)
{
	for (; flags->name; flags++) {
		char head[64];
		if (flags->id == CL_G_HELP)
			continue;
		snprintf(head, sizeof head, "--%s%s%s", flags->name, flags->arg ? " " : "",
			 flags->arg ? flags->arg : "");
		if (strlen(head) <= 20)
			fprintf(out, "  %-20s  %s\n", head, flags->help);
		else
			fprintf(out, "  %s\n  %-20s  %s\n", head, "", flags->help);
	}
}

void cl_global_usage(FILE *out)
{
	fprintf(out, "\nGlobal flags:\n");
	cl_flags_usage(out, cl_global_flags);
	fprintf(out, "  %-20s  this help\n", "-h, --help");
}

/* ---- numbers, durations, times ----------------------------------------------------- */

int cl_parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (!s || !isdigit((unsigned char)s[s[0] == '-']))
		return ERR_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return ERR_INVALID;
	*out = v;
	return 0;
}

int cl_parse_duration(const char *s, int64_t *ms)
{
	int64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return ERR_INVALID;
	while (*p) {
		int64_t v = 0, unit;
		if (!isdigit((unsigned char)*p))
			return ERR_INVALID;
		for (; isdigit((unsigned char)*p); p++) {
			if (v > (INT64_MAX - 9) / 10)
				return ERR_INVALID;
			v = v * 10 + (*p - '0');
		}
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || *p == 'm' || *p == 'h' || *p == 'd') {
			unit = *p == 's'   ? 1000
			       : *p == 'm' ? 60000
			       : *p == 'h' ? 3600000
					   : 86400000;
			p++;
		} else if (*p == '\0' && p - s > 0 && total == 0) {
			unit = 1; /* a bare number is milliseconds */
		} else {
			return ERR_INVALID;
		}
		if (v > (INT64_MAX - total) / unit)
			return ERR_INVALID;
		total += v * unit;
	}
	*ms = total;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p into *v and advances.  0 or -1. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

/* RFC 3339 (and its date-only and space-separated forms).  0 or ERR_INVALID. */
static int parse_rfc3339(const char *s, int64_t *ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h = 0, mi = 0, se = 0, frac = 0, off = 0;
	const char *p = s;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return ERR_INVALID;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return ERR_INVALID;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return ERR_INVALID;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &se))
				return ERR_INVALID;
			if (*p == '.') {
				int k = 0;
				for (p++; isdigit((unsigned char)*p); p++, k++)
					if (k < 3)
						frac = frac * 10 + (*p - '0');
				if (k == 0)
					return ERR_INVALID;
				for (; k < 3; k++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return ERR_INVALID;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 ||
			    om > 59)
				return ERR_INVALID;
			off = sign * (oh * 60 + om);
		} else {
			return ERR_INVALID; /* a time without a zone is ambiguous */
		}
	}
	if (*p)
		return ERR_INVALID;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) - off * 60) * 1000 +
	      frac;
	return 0;
}

int cl_parse_time(const char *s, int64_t now_ms, int64_t *ms)
{
	long long v;
	int64_t d;

	if (!s || !*s)
		return ERR_INVALID;
	if (strcasecmp(s, "now") == 0) {
		*ms = now_ms;
		return 0;
	}
	if (s[0] == '-') {
		if (cl_parse_duration(s + 1, &d) < 0 || !isalpha((unsigned char)s[strlen(s) - 1]))
			return ERR_INVALID; /* "-5" would be a negative ms time: refuse */
		*ms = now_ms - d;
		return 0;
	}
	if (strlen(s) != 10 || strchr(s, '-') == NULL) {
		/* not a bare date: integers are ms since the epoch */
		if (cl_parse_int(s, 0, INT64_MAX, &v) == 0) {
			*ms = v;
			return 0;
		}
	}
	return parse_rfc3339(s, ms);
}

int64_t cl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cl_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the invocation ----------------------------------------------------------------- */

/* The environment variable's value, or NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

void cl_ctx_init(struct cl_ctx *cx, const char *cmd, struct cl_http *http)
{
	const char *cs = nl_langinfo(CODESET);

	memset(cx, 0, sizeof *cx);
	cx->cmd = cmd;
	cx->url = env("SPOOR_URL") ? env("SPOOR_URL") : DEFAULT_URL;
	cx->query_url = env("SPOOR_QUERY_URL") ? env("SPOOR_QUERY_URL") : DEFAULT_QUERY_URL;
	cx->token = env("SPOOR_TOKEN");
	cx->key = env("SPOOR_KEY");
	cx->out_tty = isatty(STDOUT_FILENO);
	cx->err_tty = isatty(STDERR_FILENO);
	cx->utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
	cx->out = stdout;
	cx->http = http;
}

int cl_ctx_flag(struct cl_ctx *cx, int id, const char *val)
{
	switch (id) {
	case CL_G_URL: cx->url = val; break;
	case CL_G_QUERY_URL: cx->query_url = val; break;
	case CL_G_TOKEN: cx->token = *val ? val : NULL; break;
	case CL_G_KEY: cx->key = *val ? val : NULL; break;
	case CL_G_JSON: cx->json = 1; break;
	default: break;
	}
	return 0;
}

int cl_fail(const struct cl_ctx *cx, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "spoor %s: %s\n", cx->cmd, msg);
	return code;
}
