/*
 * cl.h — the command-line client `spoor`: its modules and their contracts.
 *
 *   main.c       picks the command, owns the process: exit codes, curl init
 *   cl_args.c    flags (--name VALUE, --name=VALUE), the global flags and
 *                environment, durations and times as users type them
 *   cl_http.c    one libcurl handle (keep-alive across requests)
 *   cl_api.c     spoord's two APIs over cl_http: URLs, auth headers, server
 *                errors turned into one-line messages and exit codes
 *   cl_json.c    growable buffer, JSON writer helpers, a reader over the
 *                project's tokenizer (common/json.h)
 *   cl_table.c   aligned tables, bars, human formats of numbers and times
 *   cl_post.c    `spoor post`: NDJSON in batches to the ingest port
 *   cl_funnel.c  `spoor funnel`
 *   cl_query.c   `spoor replay`, `sessions`, `series`, `stats`
 *
 * Conventions.  Library functions return 0 / a count or a negative code
 * (common/err.h); a command function returns the process exit status
 * (enum cl_exit) after writing its one-line message to stderr.  Nothing here
 * calls exit(): main() does.
 */
#ifndef SPOOR_CL_H
#define SPOOR_CL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

/* Exit statuses of the spoor command, documented in --help. */
enum cl_exit {
	CL_EXIT_OK = 0,	     /* done */
	CL_EXIT_REFUSED = 1, /* the server said no (HTTP error, rejected events); output failed */
	CL_EXIT_USAGE = 2,   /* bad flags or arguments */
	CL_EXIT_CONNECT = 3, /* the server could not be reached or the transfer broke */
};

/* ---- growable buffer and JSON text (cl_json.c) ---------------------------------- */

/* A byte buffer that is always NUL-terminated once anything was added.
 * Zero-initialize it; cl_buf_free() releases it.  A failed allocation makes
 * that call (and every later one) return -ENOMEM and sets oom. */
struct cl_buf {
	char *p;    /* bytes [0, len), then '\0'; owned; NULL while empty */
	size_t len; /* bytes used */
	size_t cap; /* bytes allocated */
	int oom;    /* 1 after an allocation failed */
};

int cl_buf_add(struct cl_buf *b, const void *p, size_t n);
int cl_buf_puts(struct cl_buf *b, const char *s);
int cl_buf_printf(struct cl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal (quotes and escapes added). */
int cl_buf_json_str(struct cl_buf *b, const char *s, size_t n);
/* Appends "?key=value" (or "&key=value" when the buffer holds a '?' already)
 * with value percent-encoded. */
int cl_buf_query(struct cl_buf *b, const char *key, const char *value);
/* Appends s percent-encoded as one URL path segment or query value. */
int cl_buf_urlenc(struct cl_buf *b, const char *s);
void cl_buf_reset(struct cl_buf *b); /* len = 0, memory kept */
void cl_buf_free(struct cl_buf *b);  /* releases p; the buffer can be reused */

/* A parsed JSON document: tokens over a borrowed buffer. */
struct cl_json {
	const char *buf;       /* borrowed: must outlive the tokens */
	struct json_tok *tok;  /* owned */
	int n;		       /* tokens */
	struct json_error err; /* set when cl_json_parse() fails */
};

/* Parses buf[0..len) as one JSON document.  Returns 0, ERR_INVALID (err
 * set), or -ENOMEM.  cl_json_free() is needed either way. */
int cl_json_parse(struct cl_json *j, const char *buf, size_t len);
void cl_json_free(struct cl_json *j);
/* The value token of member `key` of object token obj, or -1. */
int cl_json_get(const struct cl_json *j, int obj, const char *key);
/* Children of a container: first (-1 when empty), then the next one after
 * i (-1 at the end).  For an object they are its keys; value = key + 1. */
int cl_json_first(const struct cl_json *j, int container);
int cl_json_next(const struct cl_json *j, int container, int i);
/* 1 when tok is a token of that type. */
int cl_json_is(const struct cl_json *j, int tok, enum json_type type);
/* Integer value of tok into *out: 0, or ERR_INVALID when tok is not an integer. */
int cl_json_int(const struct cl_json *j, int tok, int64_t *out);
/* Number value of tok, or dflt when tok is not a number. */
double cl_json_num(const struct cl_json *j, int tok, double dflt);
/* Decoded string value of tok into out[0..cap) (cut to fit), or the raw
 * JSON text of any other value; "" when tok < 0.  Returns out. */
const char *cl_json_text(const struct cl_json *j, int tok, char *out, size_t cap);

/* ---- flags and values (cl_args.c) ----------------------------------------------- */

/* One flag of a command.  Tables end with an entry whose name is NULL. */
struct cl_flag {
	const char *name; /* without the leading "--" */
	const char *arg;  /* placeholder of its value ("URL"); NULL: a switch */
	int id;		  /* what cl_args_next() returns for it; >= CL_ARG_FLAG */
	const char *help; /* one line for --help */
};

enum {
	CL_ARG_END = 0,	  /* no argument left */
	CL_ARG_POS = 1,	  /* a positional argument, in *val */
	CL_ARG_FLAG = 16, /* first flag id of command tables */
	/* ids of the global flags (cl_global_flags) */
	CL_G_URL = 1000,
	CL_G_QUERY_URL,
	CL_G_TOKEN,
	CL_G_KEY,
	CL_G_JSON,
	CL_G_HELP,
};

/* An argument cursor over argv[i..argc). */
struct cl_args {
	int argc;
	char **argv;	 /* borrowed */
	int i;		 /* next argument */
	int dashdash;	 /* 1 after "--": everything is positional */
	const char *cmd; /* command name, for messages */
};

/* Flags every command takes: --url --query-url --token --key --json --help. */
extern const struct cl_flag cl_global_flags[];

/*
 * Reads the next argument.  Flags are looked up in `flags` then in
 * cl_global_flags; both "--name VALUE" and "--name=VALUE" work, "-h" is
 * --help, "-" alone is positional.  Returns the flag's id with *val its
 * value (NULL for a switch), CL_ARG_POS with *val the argument, CL_ARG_END,
 * or ERR_INVALID after printing "spoor CMD: unknown flag ..." (or a missing
 * value) to stderr.
 */
int cl_args_next(struct cl_args *a, const struct cl_flag *flags, const char **val);

/* Parses a duration: "1500" (ms), "500ms", "30s", "5m", "1h", "1d", or a
 * sum of them ("1h30m").  Returns 0 with *ms set, or ERR_INVALID. */
int cl_parse_duration(const char *s, int64_t *ms);
/*
 * Parses a point in time: ms since the epoch ("1732200000000"), "now",
 * a relative time before now ("-1h", "-7d", "-90m"), or RFC 3339
 * ("2024-11-21", "2024-11-21T14:03:05Z", "2024-11-21 14:03:05.120+01:00";
 * a date alone is midnight UTC; a time needs Z or an offset).  now_ms is
 * the current time.  Returns 0 with *ms set, or ERR_INVALID.
 */
int cl_parse_time(const char *s, int64_t now_ms, int64_t *ms);
/* Parses a decimal integer in [lo, hi].  0 with *out set, or ERR_INVALID. */
int cl_parse_int(const char *s, long long lo, long long hi, long long *out);
/* Milliseconds since the epoch, from the real-time clock. */
int64_t cl_now_ms(void);
/* Monotonic seconds, for rates and progress. */
double cl_mono(void);

/* ---- the invocation (cl_args.c) ------------------------------------------------- */

struct cl_http;

/* What every command gets: global settings and the shared HTTP handle. */
struct cl_ctx {
	const char *cmd;       /* "post", "funnel", ...: the prefix of messages */
	const char *url;       /* ingest base URL (--url, SPOOR_URL) */
	const char *query_url; /* query base URL (--query-url, SPOOR_QUERY_URL) */
	const char *token;     /* bearer token (--token, SPOOR_TOKEN) or NULL */
	const char *key;       /* ingest key (--key, SPOOR_KEY) or NULL */
	int json;	       /* --json: machine-readable output */
	int out_tty;	       /* stdout is a terminal */
	int err_tty;	       /* stderr is a terminal */
	int utf8;	       /* the locale's charset is UTF-8 */
	FILE *out;	       /* where results go: stdout */
	struct cl_http *http;  /* owned by main() */
};

/* Fills the defaults from the environment (SPOOR_URL, SPOOR_QUERY_URL,
 * SPOOR_TOKEN, SPOOR_KEY) and the terminal facts.  http is borrowed. */
void cl_ctx_init(struct cl_ctx *cx, const char *cmd, struct cl_http *http);
/* Applies global flag `id` (one of CL_G_*, not CL_G_HELP) with its value.
 * Returns 0. */
int cl_ctx_flag(struct cl_ctx *cx, int id, const char *val);
/* Writes "spoor CMD: message\n" to stderr and returns code. */
int cl_fail(const struct cl_ctx *cx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The help text of the global flags, for each command's --help. */
void cl_global_usage(FILE *out);
/* Prints "  --name ARG   help" lines of a flag table. */
void cl_flags_usage(FILE *out, const struct cl_flag *flags);

/* ---- HTTP (cl_http.c) ----------------------------------------------------------- */

/* Receives body bytes of a 2xx reply as they arrive.  Returns 0 to go on,
 * anything else to abort the transfer. */
typedef int (*cl_sink_fn)(void *arg, const char *p, size_t n);

struct cl_req {
	const char *method;	  /* "GET" or "POST" */
	const char *url;	  /* absolute URL; borrowed */
	const char *content_type; /* of the body, or NULL */
	const char *body;	  /* NULL: none; borrowed for the call */
	size_t len;
	const char *headers[3]; /* extra "Name: value" lines, NULL-padded */
	cl_sink_fn sink;	/* NULL: the body goes to resp->body */
	void *sink_arg;
};

struct cl_resp {
	long status;	      /* HTTP status */
	struct cl_buf body;   /* reply body (not what a sink took); owned */
	char retry_after[32]; /* Retry-After header, "" if none */
	char after[256];      /* X-Spoor-After header (replay cursor), "" if none */
};

/* Creates the handle (one libcurl easy handle).  curl_global_init() must have
 * run.  Returns 0 or -ENOMEM. */
int cl_http_new(struct cl_http **out);
void cl_http_free(struct cl_http *h); /* NULL is a no-op */
/*
 * Performs one request.  Returns 0 when a reply arrived (any status) with
 * *resp filled, -ECONNREFUSED when the server could not be reached (refused,
 * unknown host, connect timeout), ERR_INVALID for a malformed URL, or -EIO
 * when the transfer broke; then err[0..errlen) says why.  *resp must be
 * zeroed before the first use and released with cl_resp_free().
 */
int cl_http_do(struct cl_http *h, const struct cl_req *rq, struct cl_resp *resp, char *err,
	       size_t errlen);
void cl_resp_free(struct cl_resp *r);

/* ---- spoord's APIs (cl_api.c) ---------------------------------------------------- */

/*
 * One query-API call: method on cx->query_url + path (which may carry a
 * query string), with the bearer token when one is set, an optional JSON
 * body, and an optional sink for a 2xx body.  Returns CL_EXIT_OK with *resp
 * holding a 2xx reply; otherwise prints the one-line reason (the server's
 * "error" message, with a hint for 401) and returns CL_EXIT_REFUSED (non-2xx),
 * CL_EXIT_CONNECT or CL_EXIT_USAGE (a malformed URL).  *resp is released by
 * the caller either way.
 */
int cl_api_query(struct cl_ctx *cx, const char *method, const char *path, const char *body,
		 size_t len, cl_sink_fn sink, void *sink_arg, struct cl_resp *resp);
/* The server's "error" message of a reply body, or a short text built from
 * the status when there is none.  Returns out. */
const char *cl_api_error(const struct cl_resp *r, char *out, size_t cap);
/* Joins a base URL and a path (one '/' between them) into b (reset first). */
int cl_api_url(struct cl_buf *b, const char *base, const char *path);
/* Writes a 2xx reply's body to cx->out as it is (plus a newline when it
 * lacks one).  Returns CL_EXIT_OK, or CL_EXIT_REFUSED when stdout fails. */
int cl_api_print_raw(struct cl_ctx *cx, const struct cl_resp *r);

/* ---- output (cl_table.c) ---------------------------------------------------------- */

/* A table of text cells: the first row is the header. */
struct cl_table {
	int ncols;	/* columns */
	char align[16]; /* per column: 'l' or 'r' */
	char **cell;	/* cells, row-major; owned */
	size_t n, cap;	/* cells used and allocated */
};

/* align: one 'l' or 'r' per column, 1..16 columns.  Returns 0 or ERR_INVALID. */
int cl_table_init(struct cl_table *t, const char *align);
/* Appends one cell (printf format) to the current row, rows filling in
 * order.  Returns 0 or -ENOMEM. */
int cl_table_cell(struct cl_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the table, columns padded to their widths (in characters, UTF-8
 * aware) and separated by two spaces, each line indented by `indent`
 * spaces; the last column is not padded. */
void cl_table_print(const struct cl_table *t, FILE *out, int indent);
void cl_table_fini(struct cl_table *t);

/* Width in terminal columns of the UTF-8 text s (one per code point). */
size_t cl_text_width(const char *s);
/* Cuts the UTF-8 text s in place to at most `width` columns (width >= 4),
 * ending it with "..." when something was cut.  s needs room for the
 * dots: its buffer must be at least 3 bytes longer than the cut text. */
void cl_text_cut(char *s, size_t width);
/* A bar of frac (clamped to [0, 1]) of `width` columns into out: Unicode
 * blocks with eighths when utf8, else '#'.  Returns out. */
const char *cl_bar(char *out, size_t cap, double frac, int width, int utf8);
/* "850ms", "12.5s", "3m5s", "1h", "2h7m", "3d4h" (two units at most).  Returns out. */
const char *cl_fmt_dur(char *out, size_t cap, int64_t ms);
/* Local time "2024-11-21 14:03:05" (with ".120" when with_ms).  Returns out. */
const char *cl_fmt_time(char *out, size_t cap, int64_t ms, int with_ms);
/* "512 B", "3.2 KiB", "1.5 MiB", ...  Returns out. */
const char *cl_fmt_bytes(char *out, size_t cap, double bytes);
/* Columns of the terminal on stdout, or 0 when not a terminal. */
int cl_term_cols(void);

/* ---- commands -------------------------------------------------------------------- */

/* Each parses argv[0..argc) (the words after the command name) and returns
 * the exit status. */
int cl_cmd_post(struct cl_ctx *cx, int argc, char **argv);
int cl_cmd_funnel(struct cl_ctx *cx, int argc, char **argv);
int cl_cmd_replay(struct cl_ctx *cx, int argc, char **argv);
int cl_cmd_sessions(struct cl_ctx *cx, int argc, char **argv);
int cl_cmd_series(struct cl_ctx *cx, int argc, char **argv);
int cl_cmd_stats(struct cl_ctx *cx, int argc, char **argv);

#endif
