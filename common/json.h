/*
 * json.h — spoor's strict JSON tokenizer (RFC 8259).
 *
 * The parser never allocates and never copies: it fills a caller-provided
 * array of tokens, each a byte range of the caller's buffer, in document
 * order (a container's token comes before its children; an object's children
 * alternate key, value).  Every token knows the index of the first token
 * after its subtree, so skipping a value of any size is O(1).
 *
 * Strict means what RFC 8259 says and nothing more:
 *   - whitespace is space, tab, LF and CR only; no comments, no BOM;
 *   - numbers: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (no leading
 *     zeros, no '+', no bare '.', no NaN or Infinity);
 *   - strings: no raw control characters (U+0000..U+001F), only the escapes
 *     \" \\ \/ \b \f \n \r \t \uXXXX, a \u high surrogate must be followed by
 *     a \u low surrogate and a low surrogate must follow a high one; the raw
 *     bytes must be valid UTF-8 (no overlong forms, no encoded surrogates,
 *     nothing above U+10FFFF, no truncated sequence);
 *   - no trailing commas, no missing values, nothing after the document;
 *   - nesting is bounded by a depth the caller chooses.
 * A string token that passed the parser therefore always decodes to valid
 * UTF-8.
 *
 * Offsets are uint32_t: inputs are limited to JSON_MAX_LEN bytes.
 *
 * Errors (common/err.h): ERR_INVALID for a syntax error, ERR_FULL when the
 * token array is too small, ERR_TOOBIG when the input exceeds JSON_MAX_LEN.
 * An error fills struct json_error with the offset of the offending byte
 * (0-based; the input's length when the input ended too soon) and a short
 * static phrase such as "expected ':'".  With JSON_MAX_TOKENS(len, depth)
 * tokens ERR_FULL never happens.
 */
#ifndef SPOOR_JSON_H
#define SPOOR_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_LEN 0x7fffffffu

/*
 * Token capacity that makes ERR_FULL impossible for len bytes of input parsed
 * with nesting limit depth, valid or not.  Why: in a valid document every
 * token but the root takes two bytes of its own or one plus a separator
 * (',' ':' or a closing bracket), so T <= (len + 1) / 2; a prefix cut short
 * by a syntax error also has up to `depth` containers still open, each short
 * of its closing bracket.
 */
#define JSON_MAX_TOKENS(len, depth) (((size_t)(len) + (size_t)(depth)) / 2 + 2)

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

/* Flags of struct json_tok.flags. */
#define JSON_TOK_ESCAPED 0x01u /* a string that contains at least one '\' escape */
#define JSON_TOK_INTEGER 0x02u /* a number with neither fraction nor exponent */
#define JSON_TOK_USER	 0x80u /* never set by the parser: free for the caller's marks */

struct json_tok {
	uint32_t start; /* offset of the value's first byte (a string's opening quote) */
	uint32_t end;	/* offset one past its last byte (a string's closing quote) */
	uint32_t next;	/* index of the first token after this value's subtree */
	uint8_t type;	/* enum json_type */
	uint8_t flags;	/* JSON_TOK_* */
	uint16_t unused;
};

struct json_error {
	size_t offset;	  /* byte offset of the problem, from 0 */
	const char *what; /* static text: "expected ':'", "invalid UTF-8", ... */
};

/*
 * A parser over one buffer.  All fields are public so callers can read the
 * position and token count; set them only through json_parser_init().
 */
struct json_parser {
	const char *buf;       /* the input; borrowed, must outlive the tokens */
	size_t len;	       /* input length in bytes */
	size_t pos;	       /* next byte to read */
	struct json_tok *tok;  /* token array, borrowed; `cap` entries */
	size_t cap;	       /* capacity of tok */
	size_t n;	       /* tokens filled so far */
	unsigned max_depth;    /* deepest allowed nesting: 1 allows [] but not [[]] */
	struct json_error err; /* set when a call fails */
};

/* Prepares jp to read buf[0..len) from offset 0 into tok[0..cap). */
void json_parser_init(struct json_parser *jp, const char *buf, size_t len, struct json_tok *tok,
		      size_t cap, unsigned max_depth);

/*
 * Skips whitespace, then parses one complete value starting at jp->pos and
 * appends its tokens at jp->tok[jp->n...].  Returns the index of the value's
 * token (>= 0) and leaves jp->pos just past the value (trailing whitespace is
 * not consumed).  On error returns ERR_INVALID, ERR_FULL or ERR_TOOBIG, sets
 * jp->err, and leaves jp->n as it was; tokens past jp->n are garbage.
 * Calling it again after a success reads the next value (for streams such as
 * NDJSON: the caller checks what separates them).
 */
int json_parse_value(struct json_parser *jp);

/*
 * Parses buf[0..len) as one JSON document (a value with optional whitespace
 * around it) into tok[0..cap).  Returns the number of tokens (>= 1), or
 * ERR_INVALID / ERR_FULL / ERR_TOOBIG with *err filled (err may be NULL).
 */
int json_parse(const char *buf, size_t len, struct json_tok *tok, size_t cap, unsigned max_depth,
	       struct json_error *err);

/* Index of the first token after t's subtree: for a container, its children
 * are the tokens i+1 .. json_skip(tok, i)-1. */
static inline uint32_t json_skip(const struct json_tok *tok, uint32_t i)
{
	return tok[i].next;
}

/* The raw content of a string token (between the quotes, escapes not
 * decoded), as a pointer into buf and a length. */
static inline const char *json_str_raw(const char *buf, const struct json_tok *t)
{
	return buf + t->start + 1;
}
static inline size_t json_str_raw_len(const struct json_tok *t)
{
	return t->end - t->start - 2;
}

/*
 * Decodes string token t of buf (escapes resolved, UTF-8 out) into
 * dst[0..cap).  The decoded text is never longer than json_str_raw_len(t).
 * Returns its length, ERR_FULL when it does not fit in cap (dst then holds a
 * prefix), or ERR_INVALID when t is not a string.  t must come from a
 * successful parse of this very buf.
 */
int json_str_decode(const char *buf, const struct json_tok *t, char *dst, size_t cap);

/* 1 when string token t of buf decodes to exactly s[0..n), else 0. */
int json_str_eq(const char *buf, const struct json_tok *t, const char *s, size_t n);

/*
 * Reads number token t of buf as an int64.  Only JSON integers qualify
 * (JSON_TOK_INTEGER: no fraction, no exponent, so 5.0 and 1e3 are refused).
 * Returns 0 with *out set, ERR_INVALID when t is not an integer, or
 * ERR_TOOBIG when it does not fit in int64_t.
 */
int json_get_int64(const char *buf, const struct json_tok *t, int64_t *out);

#endif
