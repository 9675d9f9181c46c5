/*
 * http.h — HTTP/1.1 request parsing for spoord (RFC 9112).
 *
 * Like picohttpparser: nothing is allocated; the parser returns views into the
 * caller's buffer and fills caller-provided arrays up to their capacity.
 * "Incomplete" is its own return value, so the caller can read more and call
 * again from the start of the request.  Strict: a malformed head is an error,
 * never guessed at.
 */
#ifndef SPOOR_HTTP_H
#define SPOOR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_INCOMPLETE (-1) /* need more bytes; call again with more */

/* A view into the caller's buffer (not NUL-terminated). */
struct http_str {
	const char *p;
	size_t n;
};

struct http_header {
	struct http_str name;  /* as sent; compare case-insensitively */
	struct http_str value; /* leading/trailing whitespace removed */
};

struct http_request {
	struct http_str method;
	struct http_str target; /* whole request target, e.g. /v1/events?key=x */
	struct http_str path;	/* target up to '?' */
	struct http_str query;	/* after '?', n == 0 when none */
	int minor;		/* 0 for HTTP/1.0, 1 for HTTP/1.1 */
	size_t nheaders;
	/* Derived from the headers by http_parse_request(): */
	int64_t content_length;	      /* -1 when absent */
	int chunked;		      /* Transfer-Encoding: chunked */
	int keep_alive;		      /* 1.1 unless "Connection: close"; 1.0 only with keep-alive */
	int expect_continue;	      /* Expect: 100-continue */
	struct http_str content_type; /* media type only, parameters cut; n == 0 when absent */
	struct http_str origin;	      /* Origin header, n == 0 when absent */
};

/*
 * Parses the request head at buf[0..len).  On success returns the head's
 * length in bytes (through the blank line) and fills *req and hdrs[0..max).
 * Returns HTTP_INCOMPLETE when the head is not complete yet and len <=
 * max_head, or minus an HTTP status for the reply:
 *   -400 malformed (bad request line, bad header syntax, bad or conflicting
 *        Content-Length, both Content-Length and chunked, bare LF, obs-fold,
 *        absolute-form target, Transfer-Encoding in HTTP/1.0, an HTTP/1.1
 *        request without exactly one Host, a comma list in Content-Length)
 *   -431 head longer than max_head, or more than max headers
 *   -501 a Transfer-Encoding other than chunked
 *   -505 a version other than HTTP/1.0 or HTTP/1.1
 * Never reads past buf[min(len, max_head) - 1]; a prefix of a valid head is
 * always HTTP_INCOMPLETE, errors are reported as soon as they are seen.
 * Empty lines before the request-line are skipped (counted in the length).
 * The target must be origin-form ("/...") or "*" with OPTIONS.
 * *req and hdrs[] are meaningful only on success; their views borrow buf and
 * live as long as it does.  max_head above INT_MAX counts as INT_MAX.
 */
int http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req,
		       struct http_header *hdrs, size_t max);

/* The value of header `name` (case-insensitive), or {NULL, 0}. */
struct http_str http_header_get(const struct http_header *hdrs, size_t n, const char *name);

/*
 * Chunked transfer decoding, incremental and in place.  Feed it the bytes
 * after the head as they arrive; it compacts the decoded payload to the front
 * of the same buffer.
 */
#define HTTP_CHUNK_LINE_MAX 1024 /* bytes of a chunk-size line before CRLF, extensions included */
#define HTTP_TRAILER_MAX    8192 /* bytes of the trailer lines, CRLFs included, after last-chunk */

struct http_chunked {
	int state;     /* private */
	uint64_t left; /* private: bytes left in the current chunk */
	size_t out;    /* decoded bytes so far, at buf[0..out) */
	size_t in;     /* bytes of buf consumed so far */
	size_t line;   /* private: length of the size line being read */
};
void http_chunked_init(struct http_chunked *c);
/*
 * Continues decoding buf[c->in..len).  Returns 1 when the terminating chunk
 * and trailers have been read (c->in is then the end of the message, so a
 * pipelined request starts there), 0 when more input is needed, -400 on a
 * malformed encoding, -413 once the decoded size would exceed max_body.
 * Decoded bytes are moved to buf[0..c->out), never past buf[c->in].
 * A size line longer than HTTP_CHUNK_LINE_MAX or trailers longer than
 * HTTP_TRAILER_MAX are -400; chunk extensions and trailers are discarded.
 * After an error or completion, further calls return the same result.
 */
int http_chunked_decode(struct http_chunked *c, char *buf, size_t len, size_t max_body);

/*
 * Looks up `key` in a query string (a=1&b=2), percent- and '+'-decoding the
 * value into out[0..cap).  Returns the decoded length, -1 when the key is
 * absent, -2 when the value does not fit or is malformed.
 * Keys are decoded too and must match exactly (case-sensitive); the first
 * pair with the key wins; "a&b" gives a and b empty values.  out is always
 * NUL-terminated, so the value fits when its length is below cap; %00 is
 * malformed, so the result is a safe C string.
 */
int http_query_get(struct http_str query, const char *key, char *out, size_t cap);

/* Reason phrase of a status code ("Not Found"), "Unknown" for others. */
const char *http_reason(int status);

#endif
