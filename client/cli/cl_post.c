/*
 * cl_post.c — `spoor post [FILE|-]`: loads NDJSON into spoord.
 *
 * Flow
 *
 *   read a line ──▶ check it ──▶ append to the batch ──▶ batch full? ──▶ send
 *   (getline)      (local)      (body + line table)     (events, bytes)
 *
 *   The input is streamed: only the batch being built is in memory (at most
 *   --batch-bytes plus one line).  Each non-blank line is one event.  Before
 *   a line joins a batch it is tokenized with the server's own parser
 *   (common/json.h, the same depth limit): one malformed line would make
 *   spoord refuse the whole body, so such a line, or one that is not a JSON
 *   object, is rejected here and named by its line number.
 *
 *   A batch is closed by whichever comes first: --batch events, or the next
 *   line not fitting in --batch-bytes (default 960 KiB, under spoord's
 *   default --max-body of 1 MiB).  A line is never split; a line longer than
 *   the byte budget travels alone.
 *
 * Replies (docs/api.md, POST /v1/events)
 *
 *   200, or 400 with counts   accepted/rejected/duplicates are added up; each
 *                             listed error's index k in the batch becomes the
 *                             input line lineno[lo + k] (the server lists at
 *                             most 10 per request: the others are counted,
 *                             not named)
 *   413                       the body was over the server's --max-body: a
 *                             batch of several lines is split in two halves,
 *                             each sent again, and later batches use the
 *                             smaller budget; a single line is rejected
 *   503                       busy: wait (Retry-After, at least an
 *                             exponential backoff from 0.5 s, at most 30 s)
 *                             and send the same batch again, at most
 *                             --retries times.  Events with an "id" are
 *                             stored once however often they are sent.
 *   anything else, or no reply  stop: print what was done, name the lines not
 *                             posted, exit 1 (or 3 when the server cannot be
 *                             reached)
 *
 * Exit status: 0 when every event was accepted or a duplicate, 1 when any
 * line was rejected or the server refused the upload, 2 usage, 3 connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cl.h"
#include "err.h"

#define DEFAULT_BATCH	    1000
#define DEFAULT_BATCH_BYTES (960 * 1024)
#define MIN_BATCH_BYTES	    1024
#define DEFAULT_RETRIES	    8
#define LINE_DEPTH	    64	 /* spoord's body nesting limit (server/ingest.c) */
#define KEPT_ERRORS	    1000 /* reasons remembered for the summary */
#define SHOWN_ERRORS	    10	 /* reasons printed by the text summary */
#define REDRAW_S	    0.1	 /* progress line at most 10 times a second */

/* One rejected input line and why. */
struct post_err {
	uint64_t line; /* 1-based line of the input */
	char *msg;     /* owned */
};

struct post {
	struct cl_ctx *cx;    /* borrowed */
	const char *name;     /* input name for messages ("stdin" for -) */
	FILE *in;	      /* the input; owned unless stdin */
	uint64_t size;	      /* bytes of a regular file, 0 when unknown */
	uint64_t nread;	      /* bytes read so far */
	size_t batch_max;     /* events per request */
	size_t bytes_max;     /* body bytes per request (shrinks after a 413) */
	int retries;	      /* 503 retries per request */
	int progress;	      /* 1: draw the progress line on stderr */
	struct cl_buf url;    /* ingest URL */
	struct cl_buf keyh;   /* "X-Spoor-Key: ..." or empty */
	struct cl_buf body;   /* the batch: lines, each ending in '\n' */
	size_t *off;	      /* off[k]: start of event k in body; [cap + 1] */
	uint64_t *lineno;     /* lineno[k]: input line of event k; [cap] */
	size_t n, cap;	      /* events in the batch, room in off/lineno */
	struct json_tok *tok; /* tokens for checking one line */
	size_t tok_cap;
	uint64_t lines;	       /* events read (non-blank lines) */
	uint64_t accepted;     /* stored */
	uint64_t rejected;     /* refused, here or by the server */
	uint64_t duplicates;   /* already stored (same session and id) */
	uint64_t batches;      /* requests answered */
	uint64_t retried;      /* 503 retries */
	struct post_err *errs; /* first KEPT_ERRORS reasons */
	size_t nerrs, errs_cap;
	double t0, drawn;    /* start, last progress draw (monotonic s) */
	struct cl_resp resp; /* reused reply */
};

/* ---- bookkeeping ----------------------------------------------------------------- */

/* Records why input line `line` was rejected (the count is the caller's).
 * Returns 0 or -ENOMEM. */
static int add_error(struct post *p, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_error(struct post *p, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int rc;

	if (p->nerrs == KEPT_ERRORS)
		return 0;
	if (p->nerrs == p->errs_cap) {
		size_t cap = p->errs_cap ? p->errs_cap * 2 : 16;
		struct post_err *e = realloc(p->errs, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		p->errs = e;
		p->errs_cap = cap;
	}
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	p->errs[p->nerrs].line = line;
	p->errs[p->nerrs++].msg = msg;
	return 0;
}

static int by_line(const void *a, const void *b)
{
	const struct post_err *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

/* ---- progress line ----------------------------------------------------------------- */

/* Redraws the progress line on stderr (at most every REDRAW_S unless force).
 * `note` is appended when not NULL. */
static void draw(struct post *p, int force, const char *note)
{
	double now = cl_mono(), dt = now - p->t0;
	uint64_t done = p->accepted + p->rejected + p->duplicates;
	char line[512], bar[256];
	size_t n = 0;

	if (!p->progress || (!force && now - p->drawn < REDRAW_S))
		return;
	p->drawn = now;
	n += (size_t)snprintf(line + n, sizeof line - n, "\r\033[Kposting %s", p->name);
	if (p->size) {
		double frac = (double)p->nread / (double)p->size;
		int w = 24;
		cl_bar(bar, sizeof bar, frac, w, p->cx->utf8);
		n += (size_t)snprintf(line + n, sizeof line - n, "  [%s%*s] %3.0f%%", bar,
				      w - (int)cl_text_width(bar), "", frac > 1 ? 100 : frac * 100);
	}
	n += (size_t)snprintf(line + n, sizeof line - n, "  %llu events  %.0f events/s",
			      (unsigned long long)done, dt > 0 ? (double)done / dt : 0.0);
	if (note)
		n += (size_t)snprintf(line + n, sizeof line - n, "  %s", note);
	if (n >= sizeof line)
		n = sizeof line - 1;
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}

/* Erases the progress line. */
static void undraw(struct post *p)
{
	if (p->progress && p->drawn > 0) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* ---- one line ---------------------------------------------------------------------- */

/* Checks line s[0..n) (no newline) as one JSON object.  Returns 1 when it
 * may be sent, 0 when it was rejected here (counted and recorded), or
 * -ENOMEM. */
static int check_line(struct post *p, const char *s, size_t n, uint64_t line)
{
	struct json_error e;
	size_t need = JSON_MAX_TOKENS(n, LINE_DEPTH), i = 0;
	int rc;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (s[i] != '{') {
		p->rejected++;
		return add_error(p, line, "not a JSON object (one event per line)") < 0 ? -ENOMEM
											: 0;
	}
	if (need > p->tok_cap) {
		struct json_tok *t = realloc(p->tok, need * sizeof *t);
		if (!t)
			return -ENOMEM;
		p->tok = t;
		p->tok_cap = need;
	}
	rc = json_parse(s, n, p->tok, p->tok_cap, LINE_DEPTH, &e);
	if (rc >= 0)
		return 1;
	p->rejected++;
	if (rc == ERR_TOOBIG)
		rc = add_error(p, line, "line too long");
	else
		rc = add_error(p, line, "invalid JSON at column %zu: %s", e.offset + 1, e.what);
	return rc < 0 ? -ENOMEM : 0;
}

/* Appends line s[0..n) as event n of the batch.  Returns 0 or -ENOMEM. */
static int append(struct post *p, const char *s, size_t n, uint64_t line)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		size_t *o = realloc(p->off, (cap + 1) * sizeof *o);
		uint64_t *l;
		if (!o)
			return -ENOMEM;
		p->off = o;
		l = realloc(p->lineno, cap * sizeof *l);
		if (!l)
			return -ENOMEM;
		p->lineno = l;
		p->cap = cap;
	}
	p->off[p->n] = p->body.len;
	p->lineno[p->n++] = line;
	if (cl_buf_add(&p->body, s, n) < 0 || cl_buf_add(&p->body, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- sending ----------------------------------------------------------------------- */

/* Adds up a 200/400 reply for events [lo, hi).  Returns 1 when the body
 * had the counts, 0 when it did not (a request-level error), -ENOMEM. */
static int take_counts(struct post *p, size_t lo, size_t hi)
{
	struct cl_json j;
	int64_t acc, rej, dup;
	int errs, rc = 0;

	if (cl_json_parse(&j, p->resp.body.p, p->resp.body.len) != 0 ||
	    cl_json_int(&j, cl_json_get(&j, 0, "accepted"), &acc) < 0 ||
	    cl_json_int(&j, cl_json_get(&j, 0, "rejected"), &rej) < 0 ||
	    cl_json_int(&j, cl_json_get(&j, 0, "duplicates"), &dup) < 0)
		goto out;
	p->accepted += (uint64_t)acc;
	p->rejected += (uint64_t)rej;
	p->duplicates += (uint64_t)dup;
	errs = cl_json_get(&j, 0, "errors");
	for (int e = cl_json_first(&j, errs); e >= 0; e = cl_json_next(&j, errs, e)) {
		int64_t idx;
		char msg[512];
		if (cl_json_int(&j, cl_json_get(&j, e, "index"), &idx) < 0 || idx < 0 ||
		    (size_t)idx >= hi - lo)
			continue;
		cl_json_text(&j, cl_json_get(&j, e, "error"), msg, sizeof msg);
		if (add_error(p, p->lineno[lo + (size_t)idx], "%s", msg) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = 1;
out:
	cl_json_free(&j);
	return rc;
}

/* Seconds to wait before retry `attempt` (0-based) of a 503. */
static double retry_wait(const struct post *p, int attempt)
{
	double backoff = 0.5, ra = atof(p->resp.retry_after);

	for (int i = 0; i < attempt && backoff < 8; i++)
		backoff *= 2;
	if (ra > backoff)
		backoff = ra;
	return backoff > 30 ? 30 : backoff;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Prints why the upload stopped at events [lo, ...) and returns code. */
static int stop(struct post *p, int code, size_t lo, const char *why)
{
	undraw(p);
	return cl_fail(p->cx, code, "%s (events from line %llu on were not posted)", why,
		       (unsigned long long)p->lineno[lo]);
}

/* Sends events [lo, hi) of the batch, splitting on 413 and retrying on 503.
 * Returns CL_EXIT_OK, or the exit status of a failure that stops the upload
 * (after its message). */
static int send_range(struct post *p, size_t lo, size_t hi)
{
	struct cl_req rq = {
	    .method = "POST", .url = p->url.p, .content_type = "application/x-ndjson"};
	char err[320], msg[600], note[64];
	int rc;

	rq.body = p->body.p + p->off[lo];
	rq.len = p->off[hi] - p->off[lo];
	if (p->keyh.len)
		rq.headers[0] = p->keyh.p;
	for (int attempt = 0;; attempt++) {
		rc = cl_http_do(p->cx->http, &rq, &p->resp, err, sizeof err);
		if (rc == -ECONNREFUSED) {
			snprintf(
			    msg, sizeof msg,
			    "cannot connect to the ingest server at %s: %s (is spoord running? "
			    "set --url or SPOOR_URL)",
			    p->cx->url, err);
			return stop(p, CL_EXIT_CONNECT, lo, msg);
		}
		if (rc == ERR_INVALID) {
			snprintf(msg, sizeof msg, "bad ingest URL %s: %s", p->cx->url, err);
			return stop(p, CL_EXIT_USAGE, lo, msg);
		}
		if (rc < 0) {
			snprintf(msg, sizeof msg, "sending to %s failed: %s", p->url.p, err);
			return stop(p, rc == -ENOMEM ? CL_EXIT_REFUSED : CL_EXIT_CONNECT, lo, msg);
		}
		if (p->resp.status != 503 || attempt >= p->retries)
			break;
		p->retried++;
		{
			double w = retry_wait(p, attempt);
			snprintf(note, sizeof note, "(server busy: retry in %.1fs)", w);
			draw(p, 1, note);
			sleep_s(w);
		}
	}
	if (p->resp.status == 200 || p->resp.status == 400) {
		rc = take_counts(p, lo, hi);
		if (rc < 0)
			return stop(p, CL_EXIT_REFUSED, lo, "out of memory");
		if (rc == 1) {
			p->batches++;
			draw(p, 0, NULL);
			return CL_EXIT_OK;
		}
	}
	if (p->resp.status == 413) {
		if (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (p->bytes_max > rq.len / 2)
				p->bytes_max =
				    rq.len / 2 > MIN_BATCH_BYTES ? rq.len / 2 : MIN_BATCH_BYTES;
			rc = send_range(p, lo, mid);
			return rc ? rc : send_range(p, mid, hi);
		}
		p->rejected++;
		return add_error(p, p->lineno[lo],
				 "event of %zu bytes is over the server's body limit (413)",
				 rq.len - 1) < 0
			   ? stop(p, CL_EXIT_REFUSED, lo, "out of memory")
			   : CL_EXIT_OK;
	}
	cl_api_error(&p->resp, err, sizeof err);
	if (p->resp.status == 401)
		snprintf(msg, sizeof msg, "401 from the ingest server: %s (%s)", err,
			 p->cx->key ? "check --key or SPOOR_KEY" : "set --key or SPOOR_KEY");
	else if (p->resp.status == 503)
		snprintf(msg, sizeof msg, "503 from the ingest server after %d retries: %s",
			 p->retries, err);
	else
		snprintf(msg, sizeof msg, "%ld from the ingest server: %s", p->resp.status, err);
	return stop(p, CL_EXIT_REFUSED, lo, msg);
}

/* Sends the batch and empties it.  Returns CL_EXIT_OK or a failure status. */
static int flush(struct post *p)
{
	int rc;

	if (p->n == 0)
		return CL_EXIT_OK;
	p->off[p->n] = p->body.len;
	rc = send_range(p, 0, p->n);
	p->n = 0;
	cl_buf_reset(&p->body);
	return rc;
}

/* ---- the command ------------------------------------------------------------------- */

/* Reads, checks, batches and sends the whole input.  Returns CL_EXIT_OK when
 * everything was answered, or a failure status. */
static int run(struct post *p)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t k;
	uint64_t lineno = 0;
	int rc = CL_EXIT_OK;

	while ((k = getline(&line, &cap, p->in)) > 0) {
		size_t n = (size_t)k, i = 0;
		const char *s = line;
		p->nread += n;
		lineno++;
		while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			n--;
		if (lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
			s += 3; /* a UTF-8 byte order mark */
			n -= 3;
		}
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			continue; /* blank */
		p->lines++;
		rc = check_line(p, s, n, lineno);
		if (rc < 0)
			break;
		if (rc == 0)
			continue; /* rejected here */
		rc = CL_EXIT_OK;
		if (p->n > 0 && p->body.len + n + 1 > p->bytes_max && (rc = flush(p)))
			break;
		if (append(p, s, n, lineno) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (p->n >= p->batch_max && (rc = flush(p)))
			break;
		draw(p, 0, NULL);
	}
	if (rc == -ENOMEM) {
		undraw(p);
		rc = cl_fail(p->cx, CL_EXIT_REFUSED, "out of memory");
	} else if (rc == CL_EXIT_OK && ferror(p->in)) {
		undraw(p);
		rc =
		    cl_fail(p->cx, CL_EXIT_REFUSED, "cannot read %s: %s", p->name, strerror(errno));
	} else if (rc == CL_EXIT_OK) {
		rc = flush(p);
	}
	free(line);
	return rc;
}

/* Prints the outcome: a text summary with the first reasons, or JSON. */
static void summary(struct post *p)
{
	FILE *out = p->cx->out;
	double dt = cl_mono() - p->t0;
	uint64_t done = p->accepted + p->rejected + p->duplicates;

	if (p->nerrs > 1)
		qsort(p->errs, p->nerrs, sizeof *p->errs, by_line);
	if (p->cx->json) {
		struct cl_buf b = {0};
		cl_buf_printf(&b, "{\"file\":");
		cl_buf_json_str(&b, p->name, strlen(p->name));
		cl_buf_printf(&b,
			      ",\"events\":%llu,\"accepted\":%llu,\"rejected\":%llu,"
			      "\"duplicates\":%llu,\"requests\":%llu,\"retries\":%llu,"
			      "\"seconds\":%.3f,\"errors\":[",
			      (unsigned long long)p->lines, (unsigned long long)p->accepted,
			      (unsigned long long)p->rejected, (unsigned long long)p->duplicates,
			      (unsigned long long)p->batches, (unsigned long long)p->retried, dt);
		for (size_t i = 0; i < p->nerrs; i++) {
			cl_buf_printf(&b, "%s{\"line\":%llu,\"error\":", i ? "," : "",
				      (unsigned long long)p->errs[i].line);
			cl_buf_json_str(&b, p->errs[i].msg, strlen(p->errs[i].msg));
			cl_buf_puts(&b, "}");
		}
		cl_buf_puts(&b, "]}\n");
		if (b.p)
			fputs(b.p, out);
		cl_buf_free(&b);
		return;
	}
	fprintf(out,
		"%s: %llu events in %.1f s (%.0f events/s): %llu accepted, %llu rejected, "
		"%llu duplicates\n",
		p->name, (unsigned long long)done, dt, dt > 0 ? (double)done / dt : 0.0,
		(unsigned long long)p->accepted, (unsigned long long)p->rejected,
		(unsigned long long)p->duplicates);
	for (size_t i = 0; i < p->nerrs && i < SHOWN_ERRORS; i++)
		fprintf(out, "  line %llu: %s\n", (unsigned long long)p->errs[i].line,
			p->errs[i].msg);
	if (p->rejected > (p->nerrs < SHOWN_ERRORS ? p->nerrs : SHOWN_ERRORS)) {
		uint64_t more = p->rejected - (p->nerrs < SHOWN_ERRORS ? p->nerrs : SHOWN_ERRORS);
		fprintf(out, "  ... and %llu more rejected line%s%s\n", (unsigned long long)more,
			more == 1 ? "" : "s",
			p->nerrs > SHOWN_ERRORS ? " (--json lists every reason known)"
						: " (the server names at most 10 per request)");
	}
}

static const struct cl_flag post_flags[] = {
    {"batch", "N", CL_ARG_FLAG, "events per request (default 1000)"},
    {"batch-bytes", "BYTES", CL_ARG_FLAG + 1,
     "request body limit, k/m suffixes (default 960k; spoord's --max-body is 1m)"},
    {"retries", "N", CL_ARG_FLAG + 2, "retries of a request answered 503 (default 8)"},
    {"no-progress", NULL, CL_ARG_FLAG + 3, "no progress line, even on a terminal"},
    {NULL, NULL, 0, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: spoor post [flags] [FILE|-]\n\n"
		     "Sends the NDJSON events of FILE (or standard input) to spoord's ingest\n"
		     "port in batches, then prints how many were accepted, rejected and\n"
		     "duplicates, naming the line of each rejected event.  A progress line is\n"
		     "shown on a terminal.\n\nFlags:\n");
	cl_flags_usage(out, post_flags);
	cl_global_usage(out);
	fprintf(out, "\nExit status: 0 all events stored (or duplicates), 1 some rejected or\n"
		     "the server refused, 2 usage, 3 cannot connect.\n");
}

/* Parses "960k", "1m", "65536".  0 with *out set, or ERR_INVALID. */
static int parse_bytes(const char *s, size_t *out)
{
	char num[32];
	size_t n = strlen(s), mul = 1;
	long long v;

	if (n == 0 || n >= sizeof num)
		return ERR_INVALID;
	memcpy(num, s, n + 1);
	if (num[n - 1] == 'k' || num[n - 1] == 'K')
		mul = 1024;
	else if (num[n - 1] == 'm' || num[n - 1] == 'M')
		mul = 1024 * 1024;
	if (mul > 1)
		num[n - 1] = '\0';
	if (cl_parse_int(num, 1, 1LL << 40, &v) < 0 || (size_t)v * mul < MIN_BATCH_BYTES)
		return ERR_INVALID;
	*out = (size_t)v * mul;
	return 0;
}

int cl_cmd_post(struct cl_ctx *cx, int argc, char **argv)
{
	struct cl_args a = {argc, argv, 0, 0, "post"};
	struct post p = {.cx = cx,
			 .batch_max = DEFAULT_BATCH,
			 .bytes_max = DEFAULT_BATCH_BYTES,
			 .retries = DEFAULT_RETRIES,
			 .progress = cx->err_tty};
	const char *file = NULL, *val;
	struct stat st;
	long long v;
	int id, rc;

	while ((id = cl_args_next(&a, post_flags, &val)) != CL_ARG_END) {
		switch (id) {
		case CL_ARG_POS:
			if (file)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "one FILE at a time (got %s and %s)", file, val);
			file = val;
			break;
		case CL_ARG_FLAG:
			if (cl_parse_int(val, 1, 100000, &v) < 0)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "--batch: expected 1 to 100000 events, got \"%s\"",
					       val);
			p.batch_max = (size_t)v;
			break;
		case CL_ARG_FLAG + 1:
			if (parse_bytes(val, &p.bytes_max) < 0)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "--batch-bytes: expected a size of at least 1k such "
					       "as 960k or 1m, got \"%s\"",
					       val);
			break;
		case CL_ARG_FLAG + 2:
			if (cl_parse_int(val, 0, 100, &v) < 0)
				return cl_fail(cx, CL_EXIT_USAGE,
					       "--retries: expected 0 to 100, got \"%s\"", val);
			p.retries = (int)v;
			break;
		case CL_ARG_FLAG + 3: p.progress = 0; break;
		case CL_G_HELP: usage(stdout); return CL_EXIT_OK;
		default:
			if (id < 0)
				return CL_EXIT_USAGE;
			cl_ctx_flag(cx, id, val);
		}
	}
	if (!file || strcmp(file, "-") == 0) {
		if (!file && isatty(STDIN_FILENO))
			return cl_fail(cx, CL_EXIT_USAGE,
				       "no FILE given and standard input is a terminal "
				       "(spoor post FILE, or pipe NDJSON into spoor post -)");
		p.in = stdin;
		p.name = "stdin";
	} else {
		p.in = fopen(file, "r");
		if (!p.in)
			return cl_fail(cx, CL_EXIT_USAGE, "cannot open %s: %s", file,
				       strerror(errno));
		p.name = file;
		if (fstat(fileno(p.in), &st) == 0 && S_ISREG(st.st_mode))
			p.size = (uint64_t)st.st_size;
	}
	if (cl_api_url(&p.url, cx->url, "/v1/events") < 0 ||
	    (cx->key && cl_buf_printf(&p.keyh, "X-Spoor-Key: %s", cx->key) < 0)) {
		rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
		goto out;
	}
	p.t0 = cl_mono();
	draw(&p, 1, NULL);
	rc = run(&p);
	if (rc == CL_EXIT_OK)
		undraw(&p);
	if (rc == CL_EXIT_OK || p.accepted + p.rejected + p.duplicates > 0)
		summary(&p);
	if (rc == CL_EXIT_OK && p.rejected)
		rc = cl_fail(cx, CL_EXIT_REFUSED, "%llu of %llu events rejected",
			     (unsigned long long)p.rejected, (unsigned long long)p.lines);
out:
	if (p.in && p.in != stdin)
		fclose(p.in);
	for (size_t i = 0; i < p.nerrs; i++)
		free(p.errs[i].msg);
	free(p.errs);
	free(p.off);
	free(p.lineno);
	free(p.tok);
	cl_buf_free(&p.url);
	cl_buf_free(&p.keyh);
	cl_buf_free(&p.body);
	cl_resp_free(&p.resp);
	return rc;
}
