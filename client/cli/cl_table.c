/*
 * cl_table.c — what the commands print: aligned tables, bars, and numbers,
 * durations, times and sizes in human form.
 *
 * Widths are counted in code points, which is the terminal width of the
 * text spoor prints (ASCII, block elements, the user's labels); wide CJK
 * characters in a label would be counted as one column, a cosmetic error
 * only.  Bars use the Unicode block elements U+2588 (full) and U+2589..258F
 * (7/8 .. 1/8) on a UTF-8 terminal, '#' anywhere else, so piped output
 * stays ASCII.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cl.h"
#include "err.h"

int cl_table_init(struct cl_table *t, const char *align)
{
	size_t n = strlen(align);

	memset(t, 0, sizeof *t);
	if (n == 0 || n >= sizeof t->align)
		return ERR_INVALID;
	memcpy(t->align, align, n + 1);
	t->ncols = (int)n;
	return 0;
}

int cl_table_cell(struct cl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cell, cap * sizeof *c);
		if (!c)
			return -ENOMEM;
		t->cell = c;
		t->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	t->cell[t->n++] = s;
	return 0;
}

size_t cl_text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void cl_text_cut(char *s, size_t width)
{
	size_t w = 0, i = 0, keep = 0;

	if (cl_text_width(s) <= width)
		return;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) == 0x80)
			continue;
		if (w == width - 3) {
			keep = i;
			break;
		}
		w++;
	}
	memcpy(s + keep, "...", 4);
}

void cl_table_print(const struct cl_table *t, FILE *out, int indent)
{
	size_t width[16] = {0}, rows = (t->n + (size_t)t->ncols - 1) / (size_t)t->ncols;

	for (size_t i = 0; i < t->n; i++) {
		size_t w = cl_text_width(t->cell[i]);
		if (w > width[i % (size_t)t->ncols])
			width[i % (size_t)t->ncols] = w;
	}
	for (size_t r = 0; r < rows; r++) {
		size_t pending = 0; /* spaces owed before the next text */
		fprintf(out, "%*s", indent, "");
		for (int c = 0; c < t->ncols; c++) {
			size_t i = r * (size_t)t->ncols + (size_t)c;
			const char *s = i < t->n ? t->cell[i] : "";
			size_t w = cl_text_width(s), pad = width[c] - w;
			if (c > 0)
				pending += 2;
			if (t->align[c] == 'r')
				pending += pad;
			if (*s) {
				fprintf(out, "%*s%s", (int)pending, "", s);
				pending = 0;
			}
			if (t->align[c] != 'r')
				pending += pad;
		}
		fputc('\n', out);
	}
}

void cl_table_fini(struct cl_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof *t);
}

const char *cl_bar(char *out, size_t cap, double frac, int width, int utf8)
{
	size_t o = 0;

	if (!(frac > 0))
		frac = 0;
	if (frac > 1)
		frac = 1;
	if (utf8) {
		static const char *const part[8] = {"",	      "\u258f", "\u258e", "\u258d",
						    "\u258c", "\u258b", "\u258a", "\u2589"};
		long eighths = (long)(frac * width * 8 + 0.5);
		for (long i = 0; i < eighths / 8 && o + 4 < cap; i++, o += 3)
			memcpy(out + o, "\u2588", 3);
		if (eighths % 8 && o + 4 < cap) {
			memcpy(out + o, part[eighths % 8], 3);
			o += 3;
		}
	} else {
		long n = (long)(frac * width + 0.5);
		for (long i = 0; i < n && o + 1 < cap; i++)
			out[o++] = '#';
	}
	out[o] = '\0';
	return out;
}

const char *cl_fmt_dur(char *out, size_t cap, int64_t ms)
{
	static const struct {
		int64_t ms;
		char unit;
	} u[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};

	if (ms < 0) {
		snprintf(out, cap, "-");
	} else if (ms < 1000) {
		snprintf(out, cap, "%lldms", (long long)ms);
	} else if (ms < 60000) {
		if (ms % 1000)
			snprintf(out, cap, "%.1fs", (double)ms / 1000);
		else
			snprintf(out, cap, "%llds", (long long)(ms / 1000));
	} else {
		/* the two largest units, the second left out when zero: 1h, 1h30m */
		int i = 0;
		while (ms < u[i].ms)
			i++;
		int64_t hi = ms / u[i].ms, lo = ms % u[i].ms / u[i + 1].ms;
		if (lo)
			snprintf(out, cap, "%lld%c%lld%c", (long long)hi, u[i].unit, (long long)lo,
				 u[i + 1].unit);
		else
			snprintf(out, cap, "%lld%c", (long long)hi, u[i].unit);
	}
	return out;
}

const char *cl_fmt_time(char *out, size_t cap, int64_t ms, int with_ms)
{
	time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	size_t n;

	if (!localtime_r(&sec, &tm) || !(n = strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm))) {
		snprintf(out, cap, "%lld", (long long)ms);
		return out;
	}
	if (with_ms)
		snprintf(out + n, cap - n, ".%03d", (int)(ms - (int64_t)sec * 1000));
	return out;
}

const char *cl_fmt_bytes(char *out, size_t cap, double bytes)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;

	while (bytes >= 1024 && u < 5) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%.0f B", bytes);
	else
		snprintf(out, cap, "%.1f %s", bytes, unit[u]);
	return out;
}

int cl_term_cols(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}
