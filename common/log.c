#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void log_write(enum log_level lvl, const char *msg, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[2048];
	struct timespec now;
	struct tm tm;
	size_t n;
	int k;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof line - n, ".%03ldZ level=%s msg=\"%s\"",
		     now.tv_nsec / 1000000, names[lvl], msg);
	n += k > 0 ? (size_t)k : 0;
	if (fmt && *fmt && n < sizeof line - 2) {
		va_list ap;
		line[n++] = ' ';
		va_start(ap, fmt);
		k = vsnprintf(line + n, sizeof line - n, fmt, ap);
		va_end(ap);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing sensible to do when stderr is gone */
	}
}
