/*
 * log.h — structured one-line logs on stderr.
 *
 * Each line is `ts=<RFC 3339 ms> level=<lvl> msg="<text>" key=value ...`:
 * the caller writes the part after msg as a printf format, so it decides the
 * keys.  Lines are written with one write(2) call so threads never interleave.
 */
#ifndef SPOOR_LOG_H
#define SPOOR_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below this level are dropped.  Default LOG_INFO. */
void log_set_level(enum log_level lvl);

/* log_write(LOG_INFO, "started", "port=%d", 8080) */
void log_write(enum log_level lvl, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_info(msg, ...) log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

#endif
