/*
 * storage_testutil.c — event generator, key sets, file and append helpers of
 * the storage/ tests (the snapshot scanner is storage_testscan.c).  See
 * storage_testutil.h.
 */
#include "storage_testutil.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "testutil.h"

/* splitmix64 finaliser: spreads a key over 64 bits. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Fills buf[0..n) with filler bytes derived from r: letters, digits and a
 * few UTF-8 sequences never cut in half.  JSON-string safe. */
static void fill_text(char *buf, size_t n, unsigned long long *r)
{
	static const char alnum[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t i = 0;
	while (i < n) {
		uint64_t v = tu_rand(r);
		if (v % 17 == 0 && i + 2 <= n) {
			buf[i++] = (char)0xC3; /* "é" */
			buf[i++] = (char)0xA9;
			continue;
		}
		buf[i++] = alnum[v % (sizeof alnum - 1)];
	}
}

size_t st_session_name(uint32_t idx, char *buf)
{
	int head = snprintf(buf, STORE_MAX_SESSION, "sess-%u-", idx);
	size_t len = idx == 1 ? STORE_MAX_SESSION : 8 + (idx * 37u) % 100u;
	if (len < (size_t)head)
		len = (size_t)head;
	unsigned long long r = mix64(0xABCD0000ull + idx);
	fill_text(buf + head, len - (size_t)head, &r);
	return len;
}

static const char *const type_pool[] = {
    "pageview",
    "click",
    "mouseover",
    "mouseout",
    "input",
    "scroll",
    "mousemove",
    "checkout_completed",
    /* exactly STORE_MAX_TYPE bytes */
    "business_event_with_a_name_of_exactly_sixty_four_bytes_000000000",
};

/* Writes a string of exactly n bytes: prefix, then filler. */
static uint32_t put_sized(char *dst, size_t n, const char *prefix, unsigned long long *r)
{
	size_t h = strlen(prefix);
	if (h > n)
		h = n;
	memcpy(dst, prefix, h);
	fill_text(dst + h, n - h, r);
	return (uint32_t)n;
}

static struct store_str sv(const char *p, uint32_t n)
{
	struct store_str s = {p, n};
	return s;
}

void st_gen_event(const struct st_gen *g, uint32_t w, uint32_t k, struct st_ev *out)
{
	unsigned long long r = mix64(((uint64_t)w << 32 | k) ^ 0x5EED5EEDull);
	struct store_event *e = &out->ev;
	char tmp[96];
	int big = g->big_every && mix64(r) % g->big_every == 0;

	memset(e, 0, sizeof *e);
	uint32_t sidx = (uint32_t)(tu_rand(&r) % (g->nsessions ? g->nsessions : 1));
	e->session = sv(out->session, (uint32_t)st_session_name(sidx, out->session));
	e->ts = g->ts0 + (int64_t)(tu_rand(&r) % (g->ts_slots ? g->ts_slots : 1)) * g->ts_step;
	e->recv = e->ts + (int64_t)(tu_rand(&r) % 10000);

	uint64_t v = tu_rand(&r);
	if (big) {
		e->user = sv(out->user, put_sized(out->user, STORE_MAX_USER, "bigu-", &r));
	} else if (v % 3 != 0) {
		int n = snprintf(out->user, sizeof out->user, "user-%u", (unsigned)(v / 3 % 25));
		e->user = sv(out->user, (uint32_t)n);
	}

	v = tu_rand(&r);
	const char *t = type_pool[v % (sizeof type_pool / sizeof type_pool[0])];
	memcpy(out->type, t, strlen(t));
	e->type = sv(out->type, (uint32_t)strlen(t));

	v = tu_rand(&r);
	if (big) {
		e->target = sv(out->target, put_sized(out->target, STORE_MAX_TARGET, "#big ", &r));
	} else if (v % 4 != 0) {
		int n = snprintf(tmp, sizeof tmp, "#cart > button.b%u[data-ü=\"%u\"]",
				 (unsigned)(v / 4 % 40), (unsigned)(v % 7));
		memcpy(out->target, tmp, (size_t)n);
		e->target = sv(out->target, (uint32_t)n);
	}

	v = tu_rand(&r);
	if (big) {
		e->url =
		    sv(out->url, put_sized(out->url, STORE_MAX_URL, "https://big.example/", &r));
	} else if (v % 5 != 0) {
		int n = snprintf(out->url, sizeof out->url, "https://shop.example/p/%u?ref=%u",
				 (unsigned)(v / 5 % 60), (unsigned)(v % 3));
		e->url = sv(out->url, (uint32_t)n);
	}

	int n = snprintf(out->props, sizeof out->props, "{\"w\":%u,\"k\":%u,\"r\":\"", w, k);
	size_t pad;
	if (big)
		pad = STORE_MAX_PROPS - (size_t)n - 2;
	else
		pad = (size_t)(tu_rand(&r) % ((uint64_t)g->pad_max + 1));
	fill_text(out->props + n, pad, &r);
	memcpy(out->props + n + pad, "\"}", 2);
	e->props = sv(out->props, (uint32_t)(n + pad + 2));

	v = tu_rand(&r);
	if (g->ids == ST_ID_ALWAYS || (g->ids == ST_ID_SOMETIMES && v % 4 != 0)) {
		n = snprintf(tmp, sizeof tmp, "id-%u-%u-", w, k);
		uint32_t len = big ? STORE_MAX_ID : (uint32_t)n;
		memcpy(out->id, tmp, (size_t)n);
		memset(out->id + n, 'x', len - (uint32_t)n);
		e->id = sv(out->id, len);
	}

	v = tu_rand(&r);
	e->flags = (uint32_t)(v & (STORE_HAS_X | STORE_HAS_Y));
	e->x = (int32_t)(uint32_t)tu_rand(&r);
	e->y = (int32_t)(uint32_t)tu_rand(&r);
}

void st_make_event(struct st_ev *out, const char *session, int64_t ts, uint32_t w, uint32_t k,
		   const char *id)
{
	struct store_event *e = &out->ev;
	memset(e, 0, sizeof *e);
	size_t n = strlen(session);
	memcpy(out->session, session, n);
	e->session = sv(out->session, (uint32_t)n);
	memcpy(out->type, "click", 5);
	e->type = sv(out->type, 5);
	e->ts = ts;
	e->recv = ts + 1;
	int pn = snprintf(out->props, sizeof out->props, "{\"w\":%u,\"k\":%u}", w, k);
	e->props = sv(out->props, (uint32_t)pn);
	if (id) {
		n = strlen(id);
		memcpy(out->id, id, n);
		e->id = sv(out->id, (uint32_t)n);
	}
}

int st_parse_marker(const char *p, size_t n, uint32_t *w, uint32_t *k)
{
	char buf[64];
	size_t m = n < sizeof buf - 1 ? n : sizeof buf - 1;
	memcpy(buf, p, m);
	buf[m] = '\0';
	unsigned a, b;
	int used = 0;
	if (sscanf(buf, "{\"w\":%u,\"k\":%u%n", &a, &b, &used) != 2 || used == 0)
		return -1;
	*w = a;
	*k = b;
	return 0;
}

static void describe_str(char *buf, size_t len, struct store_str s)
{
	size_t m = s.n < 48 ? s.n : 48;
	snprintf(buf, len, "'%.*s%s'(%u)", (int)m, s.p ? s.p : "", m < s.n ? "..." : "", s.n);
}

static int str_eq(struct store_str a, struct store_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int st_event_eq(const struct store_event *want, const struct store_event *got, char *why,
		size_t whylen)
{
	static const char *const names[] = {"session", "user",	"type", "target",
					    "url",     "props", "id"};
	const struct store_str *ws[] = {&want->session, &want->user,  &want->type, &want->target,
					&want->url,	&want->props, &want->id};
	const struct store_str *gs[] = {&got->session, &got->user,  &got->type, &got->target,
					&got->url,     &got->props, &got->id};
	char a[80], b[80];

	if (want->ts != got->ts) {
		snprintf(why, whylen, "ts: want %" PRId64 " got %" PRId64, want->ts, got->ts);
		return 0;
	}
	if (want->recv != got->recv) {
		snprintf(why, whylen, "recv: want %" PRId64 " got %" PRId64, want->recv, got->recv);
		return 0;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!str_eq(*ws[i], *gs[i])) {
			describe_str(a, sizeof a, *ws[i]);
			describe_str(b, sizeof b, *gs[i]);
			snprintf(why, whylen, "%s: want %s got %s", names[i], a, b);
			return 0;
		}
	}
	if (want->flags != got->flags) {
		snprintf(why, whylen, "flags: want %u got %u", want->flags, got->flags);
		return 0;
	}
	if ((want->flags & STORE_HAS_X) && want->x != got->x) {
		snprintf(why, whylen, "x: want %d got %d", want->x, got->x);
		return 0;
	}
	if ((want->flags & STORE_HAS_Y) && want->y != got->y) {
		snprintf(why, whylen, "y: want %d got %d", want->y, got->y);
		return 0;
	}
	return 1;
}

/* ---- st_seen ------------------------------------------------------------ */

int st_seen_init(struct st_seen *s, uint32_t nw, uint32_t nk)
{
	s->nw = nw;
	s->nk = nk;
	s->count = calloc((size_t)nw * nk, 1);
	return s->count ? 0 : -ENOMEM;
}

void st_seen_fini(struct st_seen *s)
{
	free(s->count);
	s->count = NULL;
}

unsigned st_seen_add(struct st_seen *s, uint32_t w, uint32_t k)
{
	if (w >= s->nw || k >= s->nk)
		return 0;
	uint8_t *c = &s->count[(size_t)w * s->nk + k];
	if (*c < 255)
		(*c)++;
	return *c;
}

unsigned st_seen_get(const struct st_seen *s, uint32_t w, uint32_t k)
{
	if (w >= s->nw || k >= s->nk)
		return 0;
	return s->count[(size_t)w * s->nk + k];
}

/* ---- files -------------------------------------------------------------- */

static int find_rec(const char *dir, const char *suffix, char **out, int max, int *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	size_t sl = strlen(suffix);
	int rc = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = find_rec(path, suffix, out, max, n);
			if (rc < 0)
				break;
			continue;
		}
		size_t nl = strlen(de->d_name);
		if (!S_ISREG(st.st_mode) || nl < sl || strcmp(de->d_name + nl - sl, suffix))
			continue;
		if (*n < max)
			out[*n] = strdup(path);
		(*n)++;
	}
	closedir(d);
	return rc;
}

int st_find_files(const char *dir, const char *suffix, char **out, int max)
{
	int n = 0;
	int rc = find_rec(dir, suffix, out, max, &n);
	if (rc < 0) {
		st_free_paths(out, n < max ? n : max);
		return rc;
	}
	return n;
}

void st_free_paths(char **p, int n)
{
	for (int i = 0; i < n; i++) {
		free(p[i]);
		p[i] = NULL;
	}
}

int64_t st_file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return st.st_size;
}

struct store *st_open(const char *dir, const struct store_opts *o)
{
	char errbuf[512] = "";
	struct store *s = NULL;
	int rc = store_open(dir, o, &s, errbuf, sizeof errbuf);
	cr_assert_eq(rc, 0, "store_open(%s) = %d (%s): %s", dir, rc, err_str(rc), errbuf);
	cr_assert_not_null(s);
	return s;
}

int st_append_all(struct store *s, const struct store_event *v, size_t n, int maintain, char *err,
		  size_t errlen)
{
	struct store_event *pend = malloc((n ? n : 1) * sizeof *pend);
	size_t *orig = malloc((n ? n : 1) * sizeof *orig);
	int8_t *st = malloc(n ? n : 1);
	size_t np = n;
	int rc = -1;

	err[0] = '\0';
	if (!pend || !orig || !st) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		pend[i] = v[i];
		orig[i] = i;
	}
	for (int tries = 0; np > 0; tries++) {
		if (tries == 20000) {
			snprintf(err, errlen, "store_append: still -EAGAIN after %d tries", tries);
			goto out;
		}
		memset(st, 99, np);
		int r = store_append(s, pend, np, st);
		size_t left = 0, ok = 0;
		for (size_t i = 0; i < np; i++) {
			if (st[i] == STORE_OK) {
				ok++;
			} else if (st[i] == -EAGAIN) {
				pend[left] = pend[i];
				orig[left++] = orig[i];
			} else {
				snprintf(err, errlen, "store_append: event %zu: status %d (%s)",
					 orig[i], st[i],
					 st[i] == STORE_DUP ? "dup"
					 : st[i] == 99	    ? "not set"
							    : err_str(st[i]));
				goto out;
			}
		}
		if (r != (int)ok && !(left && (r == -EAGAIN || r == ERR_BUSY))) {
			snprintf(err, errlen, "store_append = %d with %zu events committed", r, ok);
			goto out;
		}
		np = left;
		if (np && maintain)
			store_maintain(s, st_now_ms());
		else if (np)
			usleep(1000);
	}
	rc = 0;
out:
	free(pend);
	free(orig);
	free(st);
	return rc;
}

void st_append_ok(struct store *s, const struct st_ev *ev, size_t n)
{
	struct store_event *v = calloc(n ? n : 1, sizeof *v);
	char err[256];
	cr_assert_not_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = ev[i].ev;
	int rc = st_append_all(s, v, n, 1, err, sizeof err);
	free(v);
	cr_assert_eq(rc, 0, "%s", err);
}

int64_t st_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
