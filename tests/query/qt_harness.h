/*
 * qt_harness.h — helpers of the query API tests: a query server in this
 * process over a temporary store.  The real spoord, the HTTP client and the
 * JSON reader are in tests/util/spoord_client.h, shared with other modules.
 *
 * Every wait is bounded by generous limits (tens of seconds) so a loaded
 * machine slows the tests down but does not fail them.
 */
#ifndef SPOOR_QT_HARNESS_H
#define SPOOR_QT_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "query.h"
#include "spoord_client.h"

/* ---- the query server in this process ---- */


struct qt_local {
	char dir[256]; /* temporary store directory */
	struct store *st;
	struct q_http *h;
	int port;
};

/* Opens a fresh store (no background thread) and serves it on
 * 127.0.0.1:0 with `token` (NULL: none) and max_body (0: default).
 * Returns 0 or -1. */
int qt_local_start(struct qt_local *l, const char *token, size_t max_body);
void qt_local_stop(struct qt_local *l);

/* Appends one event to l's store (asserts it is stored); "" is an absent
 * field.  recv is ts + 5. */
void qt_add(struct qt_local *l, int64_t ts, const char *session, const char *user, const char *type,
	    const char *url, const char *target, const char *props);

#endif
