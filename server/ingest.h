/*
 * ingest.h — turns the body of POST /v1/events into store events.
 *
 * A body is one JSON event object, a JSON array of them, NDJSON (one object
 * per line), or the SDK's envelope {"sent_at": ms, "events": [...]}; the
 * form is decided by content, not by Content-Type: after leading
 * whitespace, '[' is an array (nothing may follow it); '{' is one object,
 * and if anything but whitespace follows it the body is NDJSON (each further
 * value starts on a new line; LF or CRLF; blank lines skipped); a lone
 * object with an "events" array member is an envelope (its other members
 * than sent_at are ignored), otherwise it is one event.  The whole body is
 * parsed strictly (RFC 8259) first: if it is not valid JSON nothing of it is
 * accepted.  Then each event is validated alone; bad events are reported by
 * index and the good ones returned.  An array element or NDJSON line that is
 * valid JSON but not an object is a bad event ("event: must be an object").
 *
 * Event fields (DESIGN.md): ts (integer ms, or an RFC 3339 / ISO-8601
 * string; server time when absent), session (required, 1..128 bytes), user
 * (<=128), type (required, 1..64), target (<=256), url (<=2048), x, y
 * (integers in int32), props (object, <=8 KiB as stored), id (<=64).  Every
 * optional field also accepts null (= absent); "" is absent for user,
 * target, url and id.  Lengths count decoded bytes.  Unknown top-level keys
 * are folded into props, so nothing sent is lost: props becomes the props
 * members followed by the unknown members, raw bytes as sent, keys not
 * deduplicated (an unknown key equal to a props key appears twice).  Strings
 * are valid UTF-8 with escapes decoded.  A known key given twice rejects the
 * event ("x: duplicate key").
 *
 * Numbers: ts, x, y and sent_at take JSON integers only: 5.0, 1e3 and
 * 1.7e12 are refused.  ts is within [0, 253402300799999] (year 9999).
 * Time strings: "2024-11-21" (midnight UTC) or "2024-11-21T14:03:05Z" with
 * 'T', 't' or ' ' between date and time, seconds required (60 allowed),
 * optional fraction of any length (truncated to ms), and an offset Z, z,
 * +hh, +hhmm or +hh:mm (or '-').  A date-time without offset is refused:
 * the client's time zone is unknown here.
 *
 * Envelope: ts = recv + (ts - sent_at) corrects the client's clock; a
 * corrected ts more than a day ahead of recv is clamped to recv, one below 0
 * rejects the event.  Without sent_at (absent or null) ts is kept as sent.
 * Outside an envelope ts is kept as sent.  With a skew table (see below) a
 * session keeps the offset recv - sent_at of its first envelope while later
 * ones stay within INGEST_SKEW_JITTER_MS of it: the offset of each envelope
 * also holds its network delay, which differs from one to the next, and
 * two events a few ms apart in two envelopes would otherwise swap places.
 *
 * Per-event messages are "<field>: <reason>": missing, must be a string,
 * must not be empty, too long (max N bytes), duplicate key, not a valid
 * time, must be an integer in int32 range, must be an object, too large
 * (max 8192 bytes), negative after clock correction; "event: must be an
 * object".
 */
#ifndef SPOOR_INGEST_H
#define SPOOR_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define INGEST_MAX_ERRORS 10

struct ingest_error {
	uint32_t index; /* position of the event in the body, from 0 */
	char msg[96];	/* "session: missing", "ts: not a valid time", ... */
};

struct ingest_batch {
	struct store_event *ev; /* valid events, in body order; owned by the parser */
	uint32_t *index;	/* index[i]: position in the body of ev[i] */
	size_t n;		/* number of valid events */
	size_t total;		/* events in the body, valid or not */
	size_t rejected;	/* total - n */
	struct ingest_error errors[INGEST_MAX_ERRORS]; /* the first ones */
	size_t nerrors;
	char json_error[128]; /* "invalid JSON at byte 123: expected ':'" (byte
				 offsets from 0) or "invalid envelope at byte 11:
				 sent_at must be integer milliseconds" when
				 ingest_parse() returned ERR_INVALID; why on
				 ERR_TOOBIG; "" otherwise */
};

struct ingest_parser;

/* A parser for bodies of up to max_body bytes; reuse it for many bodies
 * (one per thread).  Returns 0 or -ENOMEM. */
int ingest_parser_new(size_t max_body, struct ingest_parser **out);
void ingest_parser_free(struct ingest_parser *p); /* NULL ok */

/*
 * Per-session clock offsets, shared by the parsers of a server (lock-free:
 * one 64-bit word per slot, a 24-bit tag of the session's hash and the
 * offset in ms).  2^bits slots; a session whose slot another one took
 * starts afresh, as does one whose offset moved by more than the jitter
 * bound (its clock was set).  Offsets beyond ±17 years are not kept.
 */
#define INGEST_SKEW_JITTER_MS 1000
struct ingest_skew;
int ingest_skew_new(unsigned bits, struct ingest_skew **out); /* 0 or -ENOMEM */
void ingest_skew_free(struct ingest_skew *s);		       /* NULL ok */
/* Parser p uses table s from now on (NULL: none, each envelope alone). */
void ingest_parser_set_skew(struct ingest_parser *p, struct ingest_skew *s);

/*
 * Parses body[0..len) received at recv_ms.  Returns 0 with *out filled (some
 * events may be rejected: out->rejected), ERR_INVALID when the body is not
 * valid JSON or not an event / array / NDJSON / envelope (out->json_error
 * says where and why; out->n == 0), ERR_TOOBIG when len exceeds max_body, or
 * -ENOMEM when a buffer could not grow (out->n == 0).
 * Views in *out point into `body` or into the parser; they stay valid until
 * the next call on the same parser or until `body` changes.  Allocation-free
 * after the first few bodies (buffers grow once to their high-water mark).
 */
int ingest_parse(struct ingest_parser *p, const char *body, size_t len, int64_t recv_ms,
		 struct ingest_batch *out);

#endif
