/*
 * err.h — the one error convention of spoor.
 *
 * Every function that can fail returns an int: 0 or a non-negative count on
 * success, a negative errno value (-ENOSPC, -EIO, ...) for system errors, or
 * one of the project codes below, which live in a reserved negative range
 * that no errno reaches.  err_str() names any of them.
 */
#ifndef SPOOR_ERR_H
#define SPOOR_ERR_H

enum {
	ERR_BASE = -10000,
	ERR_CORRUPT = -10001, /* a file's checksum, magic or layout is wrong */
	ERR_FORMAT = -10002,  /* data made by an incompatible format version */
	ERR_INVALID = -10003, /* bad input: a request or an event is malformed */
	ERR_FULL = -10004,    /* a fixed-capacity structure has no room */
	ERR_BUSY = -10005,    /* try again later: storage cannot keep up */
	ERR_TOOBIG = -10006,  /* a value exceeds its documented limit */
	ERR_LAST = -10007,
};

/* Returns a static, human-readable string for any code err_*() or -errno. */
const char *err_str(int code);

#endif
