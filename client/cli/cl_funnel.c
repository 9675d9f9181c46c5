/*
 * cl_funnel.c — `spoor funnel`: builds a POST /v1/funnel body from flags and
 * prints the answer as a table with a bar per step.
 *
 * Flags to body (docs/api.md, POST /v1/funnel):
 *
 *   --step "type=pageview,url=/"   one step object per --step, in order
 *   --window 1h                    "window_ms": 3600000
 *   --by user                      "by": "user"
 *   --from -7d --to now            "from"/"to": ms, resolved here
 *   --breakdown url                "breakdown": "url"
 *
 * Both parts are tables: step_keys[] (keys inside a --step) and fkeys[]
 * (flags that become members of the body), each entry naming its JSON key
 * and how its value is read (enum vkind).  A new server option is one line
 * in one of them.
 *
 * Step syntax: comma-separated KEY=VALUE items.  KEY is a step key or
 * props.NAME; "KEY:=JSON" passes a raw JSON value (props.n:=5 is the number
 * 5, props.n=5 the string "5"); an item without '=' first in the list is the
 * type ("signup" = "type=signup").  A backslash takes the next character
 * literally, so "url=/a\,b" matches the URL "/a,b".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cl.h"
#include "err.h"

#define MAX_STEPS 16
#define BAR_WIDTH 30
#define LABEL_MAX 60 /* step labels longer than this are cut in the table */

/* How a value typed by the user becomes JSON. */
enum vkind {
	V_STRING,   /* a JSON string */
	V_DURATION, /* cl_parse_duration() → integer ms */
	V_TIME,	    /* cl_parse_time() → integer ms */
	V_JSON,	    /* JSON text, checked and passed as it is */
	V_BETWEEN,  /* "I-J" → [I,J] (an exclusion's steps) */
	V_TTC,	    /* "I-J" or "I-J/BINS" → {"from":I,"to":J,"bins":BINS} */
};

/* A key inside --step or --exclude. */
struct step_key {
	const char *name; /* as typed */
	const char *json; /* member of the object */
	enum vkind kind;
	unsigned where; /* IN_STEP, IN_EXCL or both */
};
enum { IN_STEP = 1, IN_EXCL = 2 };

static const struct step_key step_keys[] = {
    {"type", "type", V_STRING, IN_STEP | IN_EXCL},
    {"target", "target", V_STRING, IN_STEP | IN_EXCL},
    {"url", "url", V_STRING, IN_STEP | IN_EXCL},
    {"url_prefix", "url_prefix", V_STRING, IN_STEP | IN_EXCL},
    {"within", "within_ms", V_DURATION, IN_STEP},
    {"after", "after_ms", V_DURATION, IN_STEP},
    {"between", "between", V_BETWEEN, IN_EXCL},
};
#define NSTEP_KEYS (sizeof step_keys / sizeof step_keys[0])

/* A flag that becomes a member of the request body. */
struct fkey {
	const char *flag; /* without "--" */
	const char *arg;  /* placeholder in --help */
	const char *json; /* member of the body */
	enum vkind kind;
	const char *help;
};

static const struct fkey fkeys[] = {
    {"window", "DURATION", "window_ms", V_DURATION,
     "longest time from step 1 to the last step: 30s, 5m, 1h, 1d or ms (required)"},
    {"by", "session|user", "by", V_STRING, "what an actor is (default session)"},
    {"from", "TIME", "from", V_TIME, "only events at or after: ms, RFC 3339, -7d, now"},
    {"to", "TIME", "to", V_TIME, "only events before: ms, RFC 3339, -1h, now"},
    {"breakdown", "FIELD", "breakdown", V_STRING,
     "group by url, target, type or props.KEY of step 1's event"},
    {"order", "ordered|strict|any", "order", V_STRING,
     "strict: no other event between steps; any: steps in any order (default ordered)"},
    {"same", "FIELD", "same", V_STRING,
     "hold url, target, user or props.KEY constant over a chain"},
    {"count", "actors|entries", "count", V_STRING,
     "entries: an actor enters again after converting or timing out (default actors)"},
    {"samples", "N", "samples", V_JSON,
     "up to N sessions per step that converted and that dropped there, with replay links"},
    {"time-to-convert", "I-J[/BINS]", "time_to_convert", V_TTC,
     "time from step I to step J: histogram (10 bins) with average, median, p90"},
    {"trend", "DURATION", "trend", V_DURATION,
     "conversion per interval (1d, 1h...) of the actors' step-1 time"},
};
#define NFKEYS (sizeof fkeys / sizeof fkeys[0])

enum {
	F_STEP = CL_ARG_FLAG,
	F_EXCL = CL_ARG_FLAG + 1,
	F_KEY = CL_ARG_FLAG + 2 /* + index in fkeys */
};
#define MAX_EXCL 8

/* A step as the user gave it and as JSON. */
struct fstep {
	const char *spec;   /* the --step argument; borrowed from argv */
	struct cl_buf json; /* the step object */
};

struct funnel {
	struct cl_ctx *cx;
	struct fstep step[MAX_STEPS];
	int nsteps;
	struct fstep excl[MAX_EXCL]; /* --exclude, with "between" */
	int nexcl;
	const char *val[NFKEYS]; /* value of each fkeys[] flag, NULL if not given */
	struct cl_buf body;
	struct cl_buf err; /* message of a usage error */
};

/* The value given to fkeys[] flag `flag`, or NULL. */
static const char *fval(const struct funnel *f, const char *flag)
{
	for (size_t k = 0; k < NFKEYS; k++)
		if (strcmp(fkeys[k].flag, flag) == 0)
			return f->val[k];
	return NULL;
}

/* Appends value v of kind k to b as JSON.  Returns 0, ERR_INVALID (with a
 * message in err), or -ENOMEM. */
static int put_value(struct cl_buf *b, enum vkind k, const char *v, struct cl_buf *err)
{
	struct cl_json j;
	int64_t ms;
	int rc;

	switch (k) {
	case V_STRING: return cl_buf_json_str(b, v, strlen(v));
	case V_DURATION:
		if (cl_parse_duration(v, &ms) < 0) {
			cl_buf_printf(err, "\"%s\" is not a duration (30s, 5m, 1h, 1d, or ms)", v);
			return ERR_INVALID;
		}
		return cl_buf_printf(b, "%lld", (long long)ms);
	case V_TIME:
		if (cl_parse_time(v, cl_now_ms(), &ms) < 0) {
			cl_buf_printf(err,
				      "\"%s\" is not a time (ms since the epoch, RFC 3339 such "
				      "as 2024-11-21T14:00:00Z, or relative such as -7d, or now)",
				      v);
			return ERR_INVALID;
		}
		return cl_buf_printf(b, "%lld", (long long)ms);
	case V_JSON:
		rc = cl_json_parse(&j, v, strlen(v));
		cl_json_free(&j);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			cl_buf_printf(
			    err, "'%s' is not a JSON value (:= takes JSON: 5, true, \"a\")", v);
			return ERR_INVALID;
		}
		return cl_buf_puts(b, v);
	case V_BETWEEN: {
		char *end;
		long lo = strtol(v, &end, 10), hi;
		if (end == v || *end != '-' || (hi = strtol(end + 1, &end, 10), *end) || lo < 1 ||
		    hi <= lo) {
			cl_buf_printf(err, "between=\"%s\" is not I-J, step numbers from 1, I < J",
				      v);
			return ERR_INVALID;
		}
		return cl_buf_printf(b, "[%ld,%ld]", lo, hi);
	}
	case V_TTC: {
		char *end;
		long lo = strtol(v, &end, 10), hi = 0, bins = 10;
		int ok = end != v && *end == '-';
		if (ok) {
			hi = strtol(end + 1, &end, 10);
			if (*end == '/')
				bins = strtol(end + 1, &end, 10);
			ok = !*end && lo >= 1 && hi > lo && bins >= 1 && bins <= 100;
		}
		if (!ok) {
			cl_buf_printf(err, "\"%s\" is not I-J or I-J/BINS (steps from 1, I < J, "
					   "1 to 100 bins)",
				      v);
			return ERR_INVALID;
		}
		return cl_buf_printf(b, "{\"from\":%ld,\"to\":%ld,\"bins\":%ld}", lo, hi, bins);
	}
	}
	return ERR_INVALID;
}

/* Splits off the next item of a --step spec at *p: unescapes it into item
 * and sets *eq to the offset of its first unescaped '=' in item (or -1) and
 * *raw to 1 when that '=' follows an unescaped ':'.  Advances *p past the
 * item and its comma.  Returns 0 or -ENOMEM. */
static int next_item(const char **p, struct cl_buf *item, long *eq, int *raw)
{
	const char *s = *p;
	int colon = 0; /* the previous char was an unescaped ':' */

	cl_buf_reset(item);
	*eq = -1;
	*raw = 0;
	for (; *s && *s != ','; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			colon = 0;
		} else if (*s == '=' && *eq < 0) {
			if (colon) {
				*raw = 1;
				item->len--; /* drop the ':' of ":=" */
			}
			*eq = (long)item->len;
			colon = 0;
			if (cl_buf_add(item, "=", 1) < 0)
				return -ENOMEM;
			continue;
		} else {
			colon = *s == ':';
		}
		if (cl_buf_add(item, s, 1) < 0)
			return -ENOMEM;
	}
	if (item->p)
		item->p[item->len] = '\0';
	*p = *s ? s + 1 : s;
	return 0;
}

/* Turns a --step (where IN_STEP) or --exclude (IN_EXCL) spec into its JSON
 * object.  Returns 0, ERR_INVALID with a message in f->err, or -ENOMEM. */
static int parse_step(struct funnel *f, struct fstep *st, unsigned where)
{
	struct cl_buf item = {0}, props = {0};
	const char *p = st->spec;
	unsigned seen = 0;
	int rc = 0, first = 1;

	cl_buf_puts(&st->json, "{");
	while (*p || first) {
		const char *key, *val;
		long eq;
		int raw;
		size_t k;

		if ((rc = next_item(&p, &item, &eq, &raw)) < 0)
			goto out;
		key = item.p ? item.p : "";
		if (eq < 0 && first && *key) {
			val = key;
			key = "type";
			raw = 0;
		} else if (eq < 0) {
			cl_buf_printf(&f->err, "\"%s\": expected KEY=VALUE, not \"%s\"", st->spec,
				      key);
			rc = ERR_INVALID;
			goto out;
		} else {
			item.p[eq] = '\0';
			val = item.p + eq + 1;
		}
		first = 0;
		if (strncmp(key, "props.", 6) == 0 && key[6]) {
			cl_buf_puts(&props, props.len ? "," : "");
			cl_buf_json_str(&props, key + 6, strlen(key + 6));
			cl_buf_puts(&props, ":");
			rc = put_value(&props, raw ? V_JSON : V_STRING, val, &f->err);
			if (rc < 0)
				goto bad_value;
			continue;
		}
		for (k = 0; k < NSTEP_KEYS && (strcmp(step_keys[k].name, key) != 0 ||
						  !(step_keys[k].where & where));
		     k++)
			;
		if (k == NSTEP_KEYS) {
			cl_buf_printf(&f->err,
				      "\"%s\": unknown key \"%s\" (known: type, target, url, "
				      "url_prefix, props.NAME, %s)",
				      st->spec, key,
				      where == IN_STEP ? "within, after" : "between=I-J");
			rc = ERR_INVALID;
			goto out;
		}
		if (seen & (1u << k)) {
			cl_buf_printf(&f->err, "\"%s\": %s given twice", st->spec, key);
			rc = ERR_INVALID;
			goto out;
		}
		seen |= 1u << k;
		cl_buf_puts(&st->json, st->json.len > 1 ? "," : "");
		cl_buf_json_str(&st->json, step_keys[k].json, strlen(step_keys[k].json));
		cl_buf_puts(&st->json, ":");
		rc = put_value(&st->json, raw ? V_JSON : step_keys[k].kind, val, &f->err);
		if (rc < 0)
			goto bad_value;
	}
	if (!(seen & 1u)) {
		cl_buf_printf(&f->err, "\"%s\": a step needs a type (type=NAME, or NAME first)",
			      st->spec);
		rc = ERR_INVALID;
		goto out;
	}
	if (where == IN_EXCL && !(seen & (1u << (NSTEP_KEYS - 1)))) {
		cl_buf_printf(&f->err, "\"%s\": an exclusion needs between=I-J (its steps)",
			      st->spec);
		rc = ERR_INVALID;
		goto out;
	}
	if (props.len) {
		cl_buf_puts(&st->json, ",\"props\":{");
		cl_buf_add(&st->json, props.p, props.len);
		cl_buf_puts(&st->json, "}");
	}
	rc = cl_buf_puts(&st->json, "}");
	goto out;
bad_value:
	if (rc == ERR_INVALID) {
		struct cl_buf m = {0};
		cl_buf_printf(&m, "\"%s\": %s", st->spec, f->err.p ? f->err.p : "bad value");
		cl_buf_free(&f->err);
		f->err = m;
	}
out:
	if (rc == 0 && (st->json.oom || props.oom || item.oom))
		rc = -ENOMEM;
	cl_buf_free(&item);
	cl_buf_free(&props);
	return rc;
}

/* Builds f->body from the steps and flags.  Returns 0, ERR_INVALID (message
 * in f->err) or -ENOMEM. */
static int build_body(struct funnel *f)
{
	int rc;

	cl_buf_puts(&f->body, "{\"steps\":[");
	for (int i = 0; i < f->nsteps; i++) {
		cl_buf_puts(&f->body, i ? "," : "");
		cl_buf_add(&f->body, f->step[i].json.p, f->step[i].json.len);
	}
	cl_buf_puts(&f->body, "]");
	if (f->nexcl) {
		cl_buf_puts(&f->body, ",\"exclude\":[");
		for (int i = 0; i < f->nexcl; i++) {
			cl_buf_puts(&f->body, i ? "," : "");
			cl_buf_add(&f->body, f->excl[i].json.p, f->excl[i].json.len);
		}
		cl_buf_puts(&f->body, "]");
	}
	for (size_t k = 0; k < NFKEYS; k++) {
		if (!f->val[k])
			continue;
		cl_buf_printf(&f->body, ",\"%s\":", fkeys[k].json);
		rc = put_value(&f->body, fkeys[k].kind, f->val[k], &f->err);
		if (rc == ERR_INVALID) {
			struct cl_buf m = {0};
			cl_buf_printf(&m, "--%s: %s", fkeys[k].flag, f->err.p);
			cl_buf_free(&f->err);
			f->err = m;
		}
		if (rc < 0)
			return rc;
	}
	cl_buf_puts(&f->body, "}");
	return f->body.oom ? -ENOMEM : 0;
}

/* ---- output ------------------------------------------------------------------------ */

/* Width of the bars: BAR_WIDTH, or what is left of a terminal's width. */
static int bar_width(const struct cl_table *t, int indent)
{
	int cols = cl_term_cols(), used = indent;
	size_t w[16] = {0};

	if (cols <= 0)
		return BAR_WIDTH;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = cl_text_width(t->cell[i]);
		if (k > w[i % (size_t)t->ncols])
			w[i % (size_t)t->ncols] = k;
	}
	for (int c = 0; c < t->ncols - 1; c++)
		used += (int)w[c] + 2;
	cols -= used + 1;
	return cols < 10 ? 10 : cols > 50 ? 50 : cols;
}

/* "12.5%" of a fraction, rounded down so that 99.96% never reads 100.0%. */
static const char *pct(char *out, size_t cap, double frac)
{
	long tenths = (long)(frac * 1000 + 1e-6);
	snprintf(out, cap, "%ld.%ld%%", tenths / 10, tenths % 10);
	return out;
}

/* Prints the steps table of steps array `arr` with the labels of f. */
static void print_steps(struct funnel *f, const struct cl_json *j, int arr)
{
	struct cl_table t;
	char a[32], b[32], c[32], bar[512], label[LABEL_MAX * 4 + 8];
	int i = 0, width;
	double conv[MAX_STEPS];

	cl_table_init(&t, "rlrrrrl");
	cl_table_cell(&t, "#");
	cl_table_cell(&t, "step");
	cl_table_cell(&t, "actors");
	cl_table_cell(&t, "conv");
	cl_table_cell(&t, "prev");
	cl_table_cell(&t, "median");
	cl_table_cell(&t, "%s", "");
	for (int s = cl_json_first(j, arr); s >= 0 && i < MAX_STEPS; s = cl_json_next(j, arr, s)) {
		int64_t count = 0, med;
		const char *spec = i < f->nsteps ? f->step[i].spec : "?";
		cl_json_int(j, cl_json_get(j, s, "count"), &count);
		conv[i] = cl_json_num(j, cl_json_get(j, s, "conversion"), 0);
		snprintf(label, sizeof label, "%s", spec);
		cl_text_cut(label, LABEL_MAX);
		cl_table_cell(&t, "%d", i + 1);
		cl_table_cell(&t, "%s", label);
		cl_table_cell(&t, "%lld", (long long)count);
		cl_table_cell(&t, "%s", pct(a, sizeof a, conv[i]));
		cl_table_cell(
		    &t, "%s",
		    pct(b, sizeof b, cl_json_num(j, cl_json_get(j, s, "conversion_from_prev"), 0)));
		if (cl_json_int(j, cl_json_get(j, s, "median_ms_from_prev"), &med) == 0)
			cl_table_cell(&t, "%s", cl_fmt_dur(c, sizeof c, med));
		else
			cl_table_cell(&t, "-");
		cl_table_cell(&t, "%s", ""); /* the bar, once the width is known */
		i++;
	}
	width = bar_width(&t, 2);
	for (int r = 0; r < i; r++) {
		size_t cell = (size_t)(r + 1) * 7 + 6;
		free(t.cell[cell]);
		t.cell[cell] =
		    strdup(cl_bar(bar, sizeof bar, conv[r], width, f->cx->utf8 && f->cx->out_tty));
	}
	cl_table_print(&t, f->cx->out, 2);
	cl_table_fini(&t);
}

/* Prints the breakdown groups of the reply: one row per value, the count at
 * each step, and the overall conversion with a bar. */
static void print_breakdown(struct funnel *f, const struct cl_json *j, int arr, const char *field)
{
	struct cl_table t;
	char align[16], v[256], p[32], bar[512];
	int ncols = f->nsteps + 3, width;
	size_t rows = 0;
	double *conv = NULL;

	if (ncols > 15)
		ncols = 15;
	memset(align, 'r', (size_t)ncols);
	align[0] = 'l';
	align[ncols - 1] = 'l';
	align[ncols] = '\0';
	cl_table_init(&t, align);
	cl_table_cell(&t, "%s", field);
	for (int s = 1; s <= ncols - 3; s++)
		cl_table_cell(&t, "%d", s);
	cl_table_cell(&t, "conv");
	cl_table_cell(&t, "%s", "");
	for (int g = cl_json_first(j, arr); g >= 0; g = cl_json_next(j, arr, g))
		rows++;
	conv = calloc(rows + 1, sizeof *conv);
	rows = 0;
	for (int g = cl_json_first(j, arr); g >= 0 && conv; g = cl_json_next(j, arr, g)) {
		int steps = cl_json_get(j, g, "steps"), k = 0, last = -1;
		if (cl_json_is(j, cl_json_get(j, g, "other"), JSON_TRUE))
			cl_table_cell(&t, "(other values)");
		else if (!*cl_json_text(j, cl_json_get(j, g, "value"), v, sizeof v))
			cl_table_cell(&t, "(none)");
		else
			cl_table_cell(&t, "%s", v);
		for (int s = cl_json_first(j, steps); s >= 0; s = cl_json_next(j, steps, s)) {
			int64_t count = 0;
			if (k < ncols - 3) {
				cl_json_int(j, cl_json_get(j, s, "count"), &count);
				cl_table_cell(&t, "%lld", (long long)count);
			}
			last = s;
			k++;
		}
		for (; k < ncols - 3; k++)
			cl_table_cell(&t, "-");
		conv[rows] = last >= 0 ? cl_json_num(j, cl_json_get(j, last, "conversion"), 0) : 0;
		cl_table_cell(&t, "%s", pct(p, sizeof p, conv[rows]));
		cl_table_cell(&t, "%s", "");
		rows++;
	}
	width = bar_width(&t, 2);
	for (size_t r = 0; r < rows; r++) {
		size_t cell = (r + 1) * (size_t)ncols + (size_t)ncols - 1;
		free(t.cell[cell]);
		t.cell[cell] =
		    strdup(cl_bar(bar, sizeof bar, conv[r], width, f->cx->utf8 && f->cx->out_tty));
	}
	fprintf(f->cx->out, "\nbreakdown by %s of step 1 (actors at each step):\n", field);
	cl_table_print(&t, f->cx->out, 2);
	cl_table_fini(&t);
	free(conv);
}

/* Prints the reply r as text.  Returns the exit status. */
/* One line of samples: "  converted  a 14:03:05.120  <query-url>/replay/a?t=..." */
static void print_sample_list(struct funnel *f, const struct cl_json *j, int arr, const char *what)
{
	for (int i = cl_json_first(j, arr); i >= 0; i = cl_json_next(j, arr, i)) {
		char sess[160], link[600], when[48];
		int64_t ts = 0;
		cl_json_text(j, cl_json_get(j, i, "session"), sess, sizeof sess);
		cl_json_text(j, cl_json_get(j, i, "replay"), link, sizeof link);
		cl_json_int(j, cl_json_get(j, i, "ts"), &ts);
		fprintf(f->cx->out, "    %-9s  %-24s  %s  %s%s\n", what, sess,
			cl_fmt_time(when, sizeof when, ts, 1), f->cx->query_url, link);
	}
}

static void print_samples(struct funnel *f, const struct cl_json *j, int steps)
{
	int k = 0;
	for (int i = cl_json_first(j, steps); i >= 0; i = cl_json_next(j, steps, i), k++) {
		int sm = cl_json_get(j, i, "samples");
		if (!cl_json_is(j, sm, JSON_OBJECT))
			continue;
		fprintf(f->cx->out, "%sstep %d samples:\n", k ? "" : "\n", k + 1);
		print_sample_list(f, j, cl_json_get(j, sm, "converted"), "converted");
		print_sample_list(f, j, cl_json_get(j, sm, "dropped"), "dropped");
	}
}

static void print_ttc(struct funnel *f, const struct cl_json *j, int t)
{
	int64_t from = 0, to = 0, n = 0, med = -1, p90 = -1, most = 0;
	char a[32], b[32], c[32], bar[256];
	int bins = cl_json_get(j, t, "bins");

	cl_json_int(j, cl_json_get(j, t, "from"), &from);
	cl_json_int(j, cl_json_get(j, t, "to"), &to);
	cl_json_int(j, cl_json_get(j, t, "actors"), &n);
	cl_json_int(j, cl_json_get(j, t, "median_ms"), &med);
	cl_json_int(j, cl_json_get(j, t, "p90_ms"), &p90);
	fprintf(f->cx->out, "\ntime to convert, step %lld to %lld: %lld converted", (long long)from,
		(long long)to, (long long)n);
	if (n > 0)
		fprintf(f->cx->out, ", average %s, median %s, p90 %s",
			cl_fmt_dur(a, sizeof a, (int64_t)cl_json_num(j, cl_json_get(j, t, "average_ms"), 0)),
			cl_fmt_dur(b, sizeof b, med), cl_fmt_dur(c, sizeof c, p90));
	fputc('\n', f->cx->out);
	for (int i = cl_json_first(j, bins); i >= 0; i = cl_json_next(j, bins, i)) {
		int64_t k = 0;
		cl_json_int(j, cl_json_get(j, i, "count"), &k);
		most = k > most ? k : most;
	}
	for (int i = cl_json_first(j, bins); i >= 0; i = cl_json_next(j, bins, i)) {
		int64_t lo = 0, hi = 0, k = 0;
		cl_json_int(j, cl_json_get(j, i, "from_ms"), &lo);
		cl_json_int(j, cl_json_get(j, i, "to_ms"), &hi);
		cl_json_int(j, cl_json_get(j, i, "count"), &k);
		fprintf(f->cx->out, "  %9s - %-9s %8lld  %s\n", cl_fmt_dur(a, sizeof a, lo),
			cl_fmt_dur(b, sizeof b, hi), (long long)k,
			cl_bar(bar, sizeof bar, most ? (double)k / (double)most : 0, BAR_WIDTH,
			       f->cx->utf8));
	}
}

static void print_trend(struct funnel *f, const struct cl_json *j, int arr)
{
	char when[48], p[16], bar[256];

	fprintf(f->cx->out, "\ntrend (interval start, step 1, last step, conversion):\n");
	for (int i = cl_json_first(j, arr); i >= 0; i = cl_json_next(j, arr, i)) {
		int64_t start = 0, first = 0, last = 0;
		int st = cl_json_get(j, i, "steps");
		for (int s = cl_json_first(j, st); s >= 0; s = cl_json_next(j, st, s)) {
			int64_t c = 0;
			cl_json_int(j, cl_json_get(j, s, "count"), &c);
			if (s == cl_json_first(j, st))
				first = c;
			last = c;
		}
		cl_json_int(j, cl_json_get(j, i, "start"), &start);
		fprintf(f->cx->out, "  %s  %8lld  %8lld  %7s  %s%s\n",
			cl_fmt_time(when, sizeof when, start, 0), (long long)first, (long long)last,
			pct(p, sizeof p, first ? (double)last / (double)first : 0),
			cl_bar(bar, sizeof bar, first ? (double)last / (double)first : 0, 20,
			       f->cx->utf8),
			cl_json_get(j, i, "incomplete") >= 0 &&
				cl_json_is(j, cl_json_get(j, i, "incomplete"), JSON_TRUE)
			    ? "  (incomplete)"
			    : "");
	}
}

static int print_funnel(struct funnel *f, const struct cl_resp *r)
{
	struct cl_json j;
	int64_t actors = 0, scanned = 0;
	char d[32];
	int steps, bd;
	const char *by = fval(f, "by") ? fval(f, "by") : "session";

	if (cl_json_parse(&j, r->body.p, r->body.len) != 0 ||
	    !cl_json_is(&j, (steps = cl_json_get(&j, 0, "steps")), JSON_ARRAY)) {
		cl_json_free(&j);
		return cl_fail(f->cx, CL_EXIT_REFUSED, "the server's reply is not a funnel: %.200s",
			       r->body.p ? r->body.p : "");
	}
	cl_json_int(&j, cl_json_get(&j, 0, "actors"), &actors);
	cl_json_int(&j, cl_json_get(&j, 0, "events_scanned"), &scanned);
	{
		int64_t w = 0;
		cl_parse_duration(fval(f, "window"), &w);
		cl_fmt_dur(d, sizeof d, w);
	}
	fprintf(f->cx->out, "funnel by %s within %s: %lld actors, %lld events scanned in %.1f ms\n",
		by, d, (long long)actors, (long long)scanned,
		cl_json_num(&j, cl_json_get(&j, 0, "took_ms"), 0));
	print_steps(f, &j, steps);
	bd = cl_json_get(&j, 0, "breakdown");
	if (cl_json_is(&j, bd, JSON_ARRAY) && fval(f, "breakdown"))
		print_breakdown(f, &j, bd, fval(f, "breakdown"));
	if (fval(f, "samples"))
		print_samples(f, &j, steps);
	if (cl_json_is(&j, cl_json_get(&j, 0, "time_to_convert"), JSON_OBJECT))
		print_ttc(f, &j, cl_json_get(&j, 0, "time_to_convert"));
	if (cl_json_is(&j, cl_json_get(&j, 0, "trend"), JSON_ARRAY))
		print_trend(f, &j, cl_json_get(&j, 0, "trend"));
	cl_json_free(&j);
	return fflush(f->cx->out) == 0 ? CL_EXIT_OK
				       : cl_fail(f->cx, CL_EXIT_REFUSED, "cannot write the output");
}

/* ---- the command ------------------------------------------------------------------- */

static void usage(FILE *out, const struct cl_flag *flags)
{
	fprintf(out,
		"usage: spoor funnel --step MATCH [--step MATCH ...] --window DURATION [flags]\n\n"
		"Where do actors drop out of a flow?  Counts the sessions (or users) that did\n"
		"step 1, then step 2, ... in time order, all within the window, and prints\n"
		"each step's actors, conversion from step 1 and from the previous step, and\n"
		"the median time from the previous step.\n\n"
		"MATCH is KEY=VALUE[,KEY=VALUE...] with KEY one of type (required), target,\n"
		"url, url_prefix, props.NAME; a first item without '=' is the type.  A step\n"
		"after the first also takes within=DURATION (at most that long after the\n"
		"previous step) and after=DURATION (at least).  --exclude takes a MATCH plus\n"
		"between=I-J: a chain with such an event between its steps I and J stops\n"
		"at step I.\n"
		"props.NAME:=JSON compares with a JSON value (props.n:=5, props.ok:=true);\n"
		"'\\' escapes a ',' or '=' in a value.\n\n"
		"Example:\n"
		"  spoor funnel --step type=pageview,url=/ --step type=signup --window 1h \\\n"
		"               --by user --from -7d --breakdown url\n\nFlags:\n");
	cl_flags_usage(out, flags);
	cl_global_usage(out);
}

int cl_cmd_funnel(struct cl_ctx *cx, int argc, char **argv)
{
	struct cl_flag flags[NFKEYS + 3];
	struct cl_args a = {argc, argv, 0, 0, "funnel"};
	struct funnel f = {.cx = cx};
	struct cl_resp r = {0};
	const char *val;
	int id, rc;

	flags[0] = (struct cl_flag){"step", "MATCH", F_STEP, "a step, in order (1 to 16 of them)"};
	flags[1] = (struct cl_flag){"exclude", "MATCH,between=I-J", F_EXCL,
				    "no such event between steps I and J (up to 8)"};
	for (size_t k = 0; k < NFKEYS; k++)
		flags[k + 2] =
		    (struct cl_flag){fkeys[k].flag, fkeys[k].arg, F_KEY + (int)k, fkeys[k].help};
	flags[NFKEYS + 2] = (struct cl_flag){NULL, NULL, 0, NULL};

	while ((id = cl_args_next(&a, flags, &val)) != CL_ARG_END) {
		if (id < 0) {
			rc = CL_EXIT_USAGE;
			goto out;
		}
		if (id == F_STEP) {
			if (f.nsteps == MAX_STEPS) {
				rc = cl_fail(cx, CL_EXIT_USAGE, "at most %d steps", MAX_STEPS);
				goto out;
			}
			f.step[f.nsteps++].spec = val;
		} else if (id == F_EXCL) {
			if (f.nexcl == MAX_EXCL) {
				rc = cl_fail(cx, CL_EXIT_USAGE, "at most %d exclusions", MAX_EXCL);
				goto out;
			}
			f.excl[f.nexcl++].spec = val;
		} else if (id >= F_KEY && id < F_KEY + (int)NFKEYS) {
			f.val[id - F_KEY] = val;
		} else if (id == CL_ARG_POS) {
			rc = cl_fail(cx, CL_EXIT_USAGE,
				     "unexpected argument \"%s\" (steps are given with --step)",
				     val);
			goto out;
		} else if (id == CL_G_HELP) {
			usage(stdout, flags);
			rc = CL_EXIT_OK;
			goto out;
		} else {
			cl_ctx_flag(cx, id, val);
		}
	}
	if (f.nsteps == 0) {
		rc = cl_fail(cx, CL_EXIT_USAGE,
			     "give the steps with --step, e.g. --step type=pageview,url=/ "
			     "--step type=signup (see --help)");
		goto out;
	}
	if (!fval(&f, "window")) {
		rc = cl_fail(cx, CL_EXIT_USAGE, "give the window with --window, e.g. --window 1h");
		goto out;
	}
	for (int i = 0; i < f.nsteps + f.nexcl; i++) {
		int ex = i >= f.nsteps;
		rc = parse_step(&f, ex ? &f.excl[i - f.nsteps] : &f.step[i], ex ? IN_EXCL : IN_STEP);
		if (rc == ERR_INVALID) {
			rc = cl_fail(cx, CL_EXIT_USAGE, "--%s %s", ex ? "exclude" : "step", f.err.p);
			goto out;
		}
		if (rc < 0) {
			rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
			goto out;
		}
	}
	rc = build_body(&f);
	if (rc == ERR_INVALID) {
		rc = cl_fail(cx, CL_EXIT_USAGE, "%s", f.err.p);
		goto out;
	}
	if (rc < 0) {
		rc = cl_fail(cx, CL_EXIT_REFUSED, "out of memory");
		goto out;
	}
	rc = cl_api_query(cx, "POST", "/v1/funnel", f.body.p, f.body.len, NULL, NULL, &r);
	if (rc == CL_EXIT_OK)
		rc = cx->json ? cl_api_print_raw(cx, &r) : print_funnel(&f, &r);
out:
	for (int i = 0; i < f.nsteps; i++)
		cl_buf_free(&f.step[i].json);
	for (int i = 0; i < f.nexcl; i++)
		cl_buf_free(&f.excl[i].json);
	cl_buf_free(&f.body);
	cl_buf_free(&f.err);
	cl_resp_free(&r);
	return rc;
}
