/*
 * funnel_ref.c — model, store building and brute-force reference of the
 * funnel tests (funnel_ref.h).
 */
#include "funnel_ref.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

const char *const fr_types[FR_NTYPES] = {"view", "click", "signup", "buy", "nope"};
const char *const fr_targets[FR_NTARGETS] = {"", "#a", "#b", "#c", "#zz"};
const char *const fr_urls[FR_NURLS] = {"",	    "/",     "/shop", "/shop/item",
				       "/shopping", "/help", "/nope"};
const char *const fr_prefixes[FR_NPREFIX] = {"/", "/shop", "/shop/", "/h", "/x", "/shopping"};
const char *const fr_keys[FR_NKEYS] = {"plan", "n", "ok", "tag", "nokey"};
/* keys as written in props: the plain or an escaped spelling */
static const char *const key_text[FR_NKEYS][2] = {{"plan", "pl\\u0061n"},
						  {"n", "\\u006e"},
						  {"ok", "o\\u006b"},
						  {"tag", "tag"},
						  {"nokey", "nokey"}};

enum { K_STR, K_NUM, K_TRUE, K_FALSE, K_NULL, K_OBJ };

/* A JSON value: its meaning and one way to write it. */
struct fr_val {
	int kind;
	const char *s; /* K_STR: decoded */
	double d;      /* K_NUM */
	const char *text;
};

/* Values of event props (key "tag" takes tag values instead). */
static const struct fr_val ev_vals[] = {
    {K_STR, "pro", 0, "\"pro\""},   {K_STR, "pro", 0, "\"p\\u0072o\""},
    {K_STR, "free", 0, "\"free\""}, {K_STR, "", 0, "\"\""},
    {K_STR, "1", 0, "\"1\""},	    {K_STR, "a\"b", 0, "\"a\\\"b\""},
    {K_NUM, NULL, 1, "1"},	    {K_NUM, NULL, 1, "1.0"},
    {K_NUM, NULL, 1, "10e-1"},	    {K_NUM, NULL, 2, "2"},
    {K_NUM, NULL, 2, "0.2E1"},	    {K_NUM, NULL, -3, "-3"},
    {K_TRUE, NULL, 0, "true"},	    {K_FALSE, NULL, 0, "false"},
    {K_NULL, NULL, 0, "null"},	    {K_OBJ, NULL, 0, "{\"a\": [1, \"pro\"]}"},
};
#define NEV_VALS (int)(sizeof ev_vals / sizeof ev_vals[0])
#define NTAGS	 30
#define TAG0	 1000 /* val index of tag 0 */

/* Values of request props equalities. */
static const struct fr_val rq_vals[] = {
    {K_STR, "pro", 0, "\"pro\""},   {K_STR, "pro", 0, "\"\\u0070ro\""},
    {K_STR, "free", 0, "\"free\""}, {K_STR, "", 0, "\"\""},
    {K_STR, "1", 0, "\"1\""},	    {K_STR, "a\"b", 0, "\"a\\u0022b\""},
    {K_NUM, NULL, 1, "1"},	    {K_NUM, NULL, 1, "1.00"},
    {K_NUM, NULL, 2, "2"},	    {K_NUM, NULL, -3, "-3.0"},
    {K_NUM, NULL, 7, "7"},	    {K_TRUE, NULL, 0, "true"},
    {K_FALSE, NULL, 0, "false"},    {K_NULL, NULL, 0, "null"},
    {K_STR, "t3", 0, "\"t3\""},	    {K_STR, "t17", 0, "\"t17\""},
};
#define NRQ_VALS (int)(sizeof rq_vals / sizeof rq_vals[0])

/* tag values: t0 .. t29 (constant tables: the reference runs in threads) */
static const char *const tag_s[NTAGS] = {"t0",	"t1",  "t2",  "t3",  "t4",  "t5",  "t6",  "t7",
					 "t8",	"t9",  "t10", "t11", "t12", "t13", "t14", "t15",
					 "t16", "t17", "t18", "t19", "t20", "t21", "t22", "t23",
					 "t24", "t25", "t26", "t27", "t28", "t29"};
static const char *const tag_text[NTAGS] = {
    "\"t0\"",  "\"t1\"",  "\"t2\"",  "\"t3\"",	"\"t4\"",  "\"t5\"",  "\"t6\"",	 "\"t7\"",
    "\"t8\"",  "\"t9\"",  "\"t10\"", "\"t11\"", "\"t12\"", "\"t13\"", "\"t14\"", "\"t15\"",
    "\"t16\"", "\"t17\"", "\"t18\"", "\"t19\"", "\"t20\"", "\"t21\"", "\"t22\"", "\"t23\"",
    "\"t24\"", "\"t25\"", "\"t26\"", "\"t27\"", "\"t28\"", "\"t29\""};

static struct fr_val ev_val(int v)
{
	if (v >= TAG0)
		return (struct fr_val){K_STR, tag_s[v - TAG0], 0, tag_text[v - TAG0]};
	return ev_vals[v];
}

static uint64_t rnd(unsigned long long *rng, uint64_t n)
{
	return tu_rand(rng) % n;
}

/* ---- events and the store ----------------------------------------------------- */

static void make_props(struct fr_ev *e, unsigned long long *rng)
{
	static const char *const sp[] = {"", " ", "\n\t"};
	int r = (int)rnd(rng, 100), o = 0;

	e->nm = 0;
	e->plen = 0;
	if (r < 25)
		return;
	if (r < 33) {
		memcpy(e->props, "{}", 2);
		e->plen = 2;
		return;
	}
	e->nm = 1 + (int)rnd(rng, FR_MAX_MEMBERS);
	o += snprintf(e->props + o, sizeof e->props - (size_t)o, "{");
	for (int m = 0; m < e->nm; m++) {
		int k = (int)rnd(rng, FR_NKEYS - 1);
		e->key[m] = k;
		e->val[m] = k == 3 ? TAG0 + (int)rnd(rng, NTAGS) : (int)rnd(rng, NEV_VALS);
		o += snprintf(e->props + o, sizeof e->props - (size_t)o, "%s%s\"%s\"%s:%s%s%s",
			      m ? "," : "", sp[rnd(rng, 3)], key_text[k][rnd(rng, 2)],
			      sp[rnd(rng, 3)], sp[rnd(rng, 3)], ev_val(e->val[m]).text,
			      sp[rnd(rng, 3)]);
	}
	o += snprintf(e->props + o, sizeof e->props - (size_t)o, "}");
	e->plen = (uint32_t)o;
}

int fr_store_make(struct fr_store *fs, const struct fr_shape *sh, const struct store_opts *o,
		  unsigned threads, unsigned long long *rng)
{
	static const int type_w[] = {40, 30, 15, 15};
	int *sess_user, *sess_start;
	char err[256];
	int rc;

	memset(fs, 0, sizeof *fs);
	fs->n = sh->n;
	fs->nsess = sh->nsess;
	fs->nusers = sh->nusers;
	fs->ev = calloc(sh->n, sizeof *fs->ev);
	fs->sname = calloc((size_t)sh->nsess, sizeof *fs->sname);
	fs->uname = calloc((size_t)sh->nusers, sizeof *fs->uname);
	sess_user = calloc((size_t)sh->nsess, sizeof *sess_user);
	sess_start = calloc((size_t)sh->nsess, sizeof *sess_start);
	if (!fs->ev || !fs->sname || !fs->uname || !sess_user || !sess_start) {
		free(sess_user);
		free(sess_start);
		return -ENOMEM;
	}
	/* names: some are prefixes of others ("s1", "s10"), lengths vary */
	for (int i = 0; i < sh->nsess; i++) {
		snprintf(fs->sname[i], sizeof fs->sname[i], "s%d%s", i,
			 i % 7 == 3 ? "-long-name" : "");
		sess_user[i] = rnd(rng, 10) == 0 ? -1 : (int)rnd(rng, (uint64_t)sh->nusers);
		if (sh->burst > 0)
			sess_start[i] = (int)rnd(rng, (uint64_t)(sh->slots - sh->burst + 1));
	}
	for (int i = 0; i < sh->nusers; i++)
		snprintf(fs->uname[i], sizeof fs->uname[i], "u%d", i);
	for (size_t i = 0; i < sh->n; i++) {
		struct fr_ev *e = &fs->ev[i];
		int w = (int)rnd(rng, 100), t = 0;
		e->sess = (int)rnd(rng, (uint64_t)sh->nsess);
		e->user = rnd(rng, 100) < 85 ? sess_user[e->sess] : -1;
		if (sh->burst > 0 && rnd(rng, 20) == 0)
			e->user = (int)rnd(rng, (uint64_t)sh->nusers);
		e->ts = sh->t0 +
			(sh->burst > 0 ? sess_start[e->sess] + (int64_t)rnd(rng, (uint64_t)sh->burst)
				       : (int64_t)rnd(rng, (uint64_t)sh->slots)) *
			    250 +
			(rnd(rng, 5) == 0 ? (int64_t)rnd(rng, 250) : 0);
		e->recv = e->ts + (int64_t)rnd(rng, 3) * 100;
		while (w >= type_w[t]) {
			w -= type_w[t];
			t++;
		}
		e->type = t;
		e->target = (int)rnd(rng, FR_NTARGETS - 1);
		e->url = (int)rnd(rng, FR_NURLS - 1);
		make_props(e, rng);
	}
	free(sess_user);
	free(sess_start);
	tu_tmpdir(fs->dir, sizeof fs->dir, "funnel");
	if (!fs->dir[0])
		return -EIO;
	if ((rc = store_open(fs->dir, o, &fs->st, err, sizeof err)) < 0)
		return rc;
	return q_engine_new(fs->st, threads, &fs->e);
}

static struct store_str sv(const char *s)
{
	return (struct store_str){s, (uint32_t)strlen(s)};
}

int fr_store_append(struct fr_store *fs, size_t upto, unsigned long long *rng, int maint)
{
	struct store_event v[16];
	int8_t status[16];
	int rc;

	while (fs->appended < upto) {
		size_t b = 1 + rnd(rng, 16);
		if (b > upto - fs->appended)
			b = upto - fs->appended;
		for (size_t i = 0; i < b; i++) {
			const struct fr_ev *e = &fs->ev[fs->appended + i];
			v[i] = (struct store_event){.ts = e->ts,
						    .recv = e->recv,
						    .session = sv(fs->sname[e->sess]),
						    .user = e->user >= 0 ? sv(fs->uname[e->user])
									 : (struct store_str){0},
						    .type = sv(fr_types[e->type]),
						    .target = sv(fr_targets[e->target]),
						    .url = sv(fr_urls[e->url]),
						    .props = {e->props, e->plen}};
		}
		rc = store_append(fs->st, v, b, status);
		if (rc != (int)b)
			return rc < 0 ? rc : -EIO;
		fs->appended += b;
		int r = maint ? (int)rnd(rng, 100) : 100;
		if (r < 4)
			rc = store_maintain(fs->st, 0); /* seals the frozen (full) segments */
		else if (r < 5)
			rc = store_seal_all(fs->st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void fr_store_free(struct fr_store *fs)
{
	q_engine_free(fs->e);
	store_close(fs->st);
	if (fs->dir[0])
		tu_rmrf(fs->dir);
	free(fs->ev);
	free(fs->sname);
	free(fs->uname);
	memset(fs, 0, sizeof *fs);
}

/* ---- funnels ---------------------------------------------------------------------- */

void fr_random_funnel(struct fr_funnel *f, const struct fr_shape *sh, unsigned long long *rng)
{
	static const int64_t windows[] = {0,   1,    5,	   100,	 249,	 250,	   251,
					  500, 1000, 2500, 5000, 100000, 259200000};
	static const unsigned nsteps[] = {1, 2, 2, 3, 3, 3, 4, 4, 5};
	int64_t span = (int64_t)sh->slots * 250;

	memset(f, 0, sizeof *f);
	f->nsteps = nsteps[rnd(rng, 9)];
	for (unsigned i = 0; i < f->nsteps; i++) {
		struct fr_step *s = &f->steps[i];
		s->type = rnd(rng, 20) == 0 ? FR_NTYPES - 1 : (int)rnd(rng, FR_NTYPES - 1);
		s->target = rnd(rng, 4) == 0 ? 1 + (int)rnd(rng, FR_NTARGETS - 1) : 0;
		s->url = rnd(rng, 7) == 0 ? 1 + (int)rnd(rng, FR_NURLS - 1) : 0;
		s->prefix = rnd(rng, 5) == 0 ? (int)rnd(rng, FR_NPREFIX) : -1;
		s->nprops = rnd(rng, 5) == 0 ? 1 + (int)rnd(rng, 2) : 0;
		for (int j = 0; j < s->nprops; j++) {
			s->key[j] = (int)rnd(rng, FR_NKEYS);
			s->val[j] = (int)rnd(rng, NRQ_VALS);
		}
	}
	f->window = windows[rnd(rng, sizeof windows / sizeof windows[0])];
	f->by = rnd(rng, 2) ? Q_BY_USER : Q_BY_SESSION;
	f->from = INT64_MIN;
	f->to = INT64_MAX;
	switch (rnd(rng, 4)) {
	case 0: f->from = sh->t0 + (int64_t)rnd(rng, (uint64_t)span); break;
	case 1:
		f->from = sh->t0 - 100 + (int64_t)rnd(rng, (uint64_t)span);
		f->to = f->from + (int64_t)rnd(rng, (uint64_t)span) - 300;
		break;
	default: break;
	}
	f->bd = rnd(rng, 2) ? Q_BD_NONE : (enum q_breakdown)(1 + rnd(rng, 4));
	f->bd_key = rnd(rng, 3) ? 3 : (int)rnd(rng, FR_NKEYS); /* mostly "tag": > 20 values */
}

/* A random matcher for an exclusion: mostly a bare type. */
static void random_step(struct fr_step *s, unsigned long long *rng)
{
	memset(s, 0, sizeof *s);
	s->type = (int)rnd(rng, FR_NTYPES - 1);
	s->target = rnd(rng, 4) == 0 ? 1 + (int)rnd(rng, FR_NTARGETS - 1) : 0;
	s->prefix = -1;
}

void fr_random_ext(struct fr_funnel *f, unsigned long long *rng)
{
	static const int64_t withins[] = {1, 250, 500, 2000};
	static const int64_t afters[] = {1, 250, 600};
	unsigned r = (unsigned)rnd(rng, 20);

	f->order = r < 11 ? Q_ORDER_ORDERED : r < 16 ? Q_ORDER_STRICT : Q_ORDER_ANY;
	if (rnd(rng, 4) == 0) {
		f->same = (enum q_same)(1 + rnd(rng, 4));
		f->same_key = rnd(rng, 2) ? 3 : (int)rnd(rng, FR_NKEYS);
	}
	if (f->order == Q_ORDER_ANY)
		return; /* per-step windows, exclusions and entries need an order */
	for (unsigned s = 1; s < f->nsteps; s++) {
		if (rnd(rng, 10) < 3)
			f->within[s] = withins[rnd(rng, 4)];
		if (rnd(rng, 10) < 2)
			f->after[s] = afters[rnd(rng, 3)];
		if (f->within[s] && f->after[s] > f->within[s])
			f->after[s] = 0;
	}
	if (f->nsteps >= 2 && rnd(rng, 10) < 3) {
		f->nx = 1 + (unsigned)rnd(rng, 2);
		for (unsigned x = 0; x < f->nx; x++) {
			random_step(&f->excl[x], rng);
			f->ex_from[x] = 1 + (unsigned)rnd(rng, f->nsteps - 1);
			f->ex_to[x] = f->ex_from[x] + 1 + (unsigned)rnd(rng, f->nsteps - f->ex_from[x]);
		}
	}
	if (rnd(rng, 4) == 0)
		f->count = Q_COUNT_ENTRIES;
}

static void make_matcher(const struct fr_step *s, struct q_matcher *m)
{
	m->type = sv(fr_types[s->type]);
	if (s->target)
		m->target = sv(fr_targets[s->target]);
	if (s->url)
		m->url = sv(fr_urls[s->url]);
	if (s->prefix >= 0)
		m->url_prefix = sv(fr_prefixes[s->prefix]);
	m->nprops = (unsigned)s->nprops;
	for (int j = 0; j < s->nprops; j++) {
		m->props[j].key = sv(fr_keys[s->key[j]]);
		m->props[j].value = sv(rq_vals[s->val[j]].text);
	}
}

void fr_make_req(const struct fr_funnel *f, struct q_funnel_req *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->nsteps = f->nsteps;
	for (unsigned i = 0; i < f->nsteps; i++)
		make_matcher(&f->steps[i], &rq->steps[i]);
	rq->order = f->order;
	for (unsigned i = 0; i < f->nsteps; i++) {
		rq->within_ms[i] = f->within[i];
		rq->after_ms[i] = f->after[i];
	}
	rq->nexclude = f->nx;
	for (unsigned x = 0; x < f->nx; x++) {
		make_matcher(&f->excl[x], &rq->exclude[x].m);
		rq->exclude[x].from = f->ex_from[x];
		rq->exclude[x].to = f->ex_to[x];
	}
	rq->same = f->same;
	if (f->same == Q_SAME_PROP)
		rq->same_prop = sv(fr_keys[f->same_key]);
	rq->count = f->count;
	rq->window_ms = f->window;
	rq->by = f->by;
	rq->from = f->from;
	rq->to = f->to;
	rq->breakdown = f->bd;
	if (f->bd == Q_BD_PROP)
		rq->breakdown_prop = sv(fr_keys[f->bd_key]);
}

void fr_describe(const struct fr_funnel *f, char *buf, size_t len)
{
	size_t o = 0;
	o += (size_t)snprintf(buf + o, len - o,
			      "by=%s window=%" PRId64 " from=%" PRId64 " to=%" PRId64
			      " bd=%d/%s steps:",
			      f->by == Q_BY_USER ? "user" : "session", f->window, f->from, f->to,
			      (int)f->bd, fr_keys[f->bd_key]);
	for (unsigned i = 0; i < f->nsteps && o < len; i++) {
		const struct fr_step *s = &f->steps[i];
		o += (size_t)snprintf(buf + o, len - o, " [%s %s %s %s", fr_types[s->type],
				      fr_targets[s->target], fr_urls[s->url],
				      s->prefix >= 0 ? fr_prefixes[s->prefix] : "-");
		for (int j = 0; j < s->nprops && o < len; j++)
			o += (size_t)snprintf(buf + o, len - o, " %s=%s", fr_keys[s->key[j]],
					      rq_vals[s->val[j]].text);
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "]");
	}
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, " order=%d same=%d/%s count=%d", (int)f->order,
				      (int)f->same, fr_keys[f->same_key], (int)f->count);
	for (unsigned i = 1; i < f->nsteps && o < len; i++)
		if (f->within[i] || f->after[i])
			o += (size_t)snprintf(buf + o, len - o, " s%u(within %" PRId64 " after %" PRId64 ")",
					      i + 1, f->within[i], f->after[i]);
	for (unsigned x = 0; x < f->nx && o < len; x++)
		o += (size_t)snprintf(buf + o, len - o, " exclude[%s %s between %u,%u]",
				      fr_types[f->excl[x].type], fr_targets[f->excl[x].target],
				      f->ex_from[x], f->ex_to[x]);
}

/* ---- the reference ------------------------------------------------------------------ */

/* Index of the first props member of e named key, or -1. */
static int member(const struct fr_ev *e, int key)
{
	for (int m = 0; m < e->nm; m++)
		if (e->key[m] == key)
			return m;
	return -1;
}

static int step_matches(const struct fr_ev *e, const struct fr_step *s)
{
	if (e->type != s->type || (s->target && e->target != s->target) ||
	    (s->url && e->url != s->url))
		return 0;
	if (s->prefix >= 0 &&
	    strncmp(fr_urls[e->url], fr_prefixes[s->prefix], strlen(fr_prefixes[s->prefix])) != 0)
		return 0;
	for (int j = 0; j < s->nprops; j++) {
		int m = member(e, s->key[j]);
		const struct fr_val *want = &rq_vals[s->val[j]];
		struct fr_val have;
		if (m < 0)
			return 0;
		have = ev_val(e->val[m]);
		if (have.kind != want->kind)
			return 0;
		if (have.kind == K_STR && strcmp(have.s, want->s) != 0)
			return 0;
		if (have.kind == K_NUM && have.d != want->d)
			return 0;
	}
	return 1;
}

/* The breakdown value of e. */
static const char *bd_value(const struct fr_funnel *f, const struct fr_ev *e)
{
	int m;
	switch (f->bd) {
	case Q_BD_URL: return fr_urls[e->url];
	case Q_BD_TARGET: return fr_targets[e->target];
	case Q_BD_TYPE: return fr_types[e->type];
	case Q_BD_PROP:
		if ((m = member(e, f->bd_key)) < 0)
			return "";
		return ev_val(e->val[m]).kind == K_STR ? ev_val(e->val[m]).s
						       : ev_val(e->val[m]).text;
	default: return "";
	}
}

struct order_ctx {
	const struct fr_store *fs;
	enum q_by by;
};

/* The documented order: (ts, arrival) by session; (ts, recv, session bytes,
 * arrival) by user.  Arrival is the append index. */
static int order_cmp(const void *a, const void *b, void *arg)
{
	const struct order_ctx *oc = arg;
	int i = *(const int *)a, j = *(const int *)b;
	const struct fr_ev *x = &oc->fs->ev[i], *y = &oc->fs->ev[j];

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (oc->by == Q_BY_USER) {
		const char *s = oc->fs->sname[x->sess], *t = oc->fs->sname[y->sess];
		size_t ls = strlen(s), lt = strlen(t);
		int c;
		if (x->recv != y->recv)
			return x->recv < y->recv ? -1 : 1;
		c = memcmp(s, t, ls < lt ? ls : lt);
		if (c)
			return c;
		if (ls != lt)
			return ls < lt ? -1 : 1;
	}
	return i < j ? -1 : i > j;
}

/* Chain search over one actor's ordered events (all its events in range,
 * so strict order is adjacency of indices). */
struct search {
	const int64_t *ts;
	const uint32_t *mask, *xmask;
	const char *const *val; /* held values, NULL: absent */
	int n;
	unsigned k;
	int64_t window;
	const struct fr_funnel *f;
	int start; /* >= 0: chains must begin there (entries) */
	int cur[FR_MAX_STEPS];
	int best[FR_MAX_STEPS];
	unsigned blen;
};

/* May event j be step `depth` of the chain cur[0..depth)?  The rules as
 * docs/api.md states them, checked on the whole chain. */
static int extends(const struct search *s, unsigned depth, int j)
{
	const struct fr_funnel *f = s->f;
	unsigned L = depth + 1;
	int c[FR_MAX_STEPS];

	if (!(s->mask[j] >> depth & 1))
		return 0;
	if (f->same != Q_SAME_NONE && (!s->val[j] || (depth && strcmp(s->val[j], s->val[s->cur[0]]))))
		return 0;
	if (depth == 0)
		return s->start < 0 || j == s->start;
	if (s->ts[j] - s->ts[s->cur[0]] > s->window)
		return 0;
	int64_t d = s->ts[j] - s->ts[s->cur[depth - 1]];
	if ((f->within[depth] && d > f->within[depth]) || d < f->after[depth])
		return 0;
	if (f->order == Q_ORDER_STRICT && j != s->cur[depth - 1] + 1)
		return 0;
	memcpy(c, s->cur, depth * sizeof *c);
	c[depth] = j;
	for (unsigned x = 0; x < f->nx; x++) {
		unsigned lo = f->ex_from[x] - 1, hi = f->ex_to[x] - 1 < L - 1 ? f->ex_to[x] - 1 : L - 1;
		for (int m = lo < hi ? c[lo] + 1 : 0; lo < hi && m < c[hi]; m++)
			if (s->xmask[m] >> x & 1)
				return 0;
	}
	return 1;
}

/* Is chain a (la events) better than b: longer; then a later first event;
 * then lexicographically earlier later events. */
static int better(const int *a, unsigned la, const int *b, unsigned lb)
{
	if (la != lb)
		return la > lb;
	if (la == 0 || a[0] != b[0])
		return la && a[0] > b[0];
	for (unsigned i = 1; i < la; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return 0;
}

/* Visits every chain extending cur[0..depth). */
static void search(struct search *s, unsigned depth)
{
	if (depth && better(s->cur, depth, s->best, s->blen)) {
		memcpy(s->best, s->cur, depth * sizeof *s->cur);
		s->blen = depth;
	}
	if (depth == s->k)
		return;
	for (int j = depth ? s->cur[depth - 1] + 1 : 0; j < s->n; j++) {
		if (!extends(s, depth, j))
			continue;
		s->cur[depth] = j;
		search(s, depth + 1);
	}
}

/* Groups while computing. */
struct rgroup {
	const char *value;
	uint64_t count[FR_MAX_STEPS];
	int64_t *d[FR_MAX_STEPS]; /* deltas per step, capacity n */
	size_t nd[FR_MAX_STEPS];
};

static int rgroup_cmp(const void *a, const void *b)
{
	const struct rgroup *x = a, *y = b;
	size_t lx = strlen(x->value), ly = strlen(y->value);
	int c;
	if (x->count[0] != y->count[0])
		return x->count[0] > y->count[0] ? -1 : 1;
	c = memcmp(x->value, y->value, lx < ly ? lx : ly);
	if (c)
		return c;
	return lx < ly ? -1 : lx > ly;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void stats(unsigned k, const uint64_t *count, int64_t *const *d, const size_t *nd,
		  struct q_step_stat *s)
{
	for (unsigned i = 0; i < k; i++) {
		s[i].count = count[i];
		s[i].conversion = count[0] ? (double)count[i] / (double)count[0] : 0.0;
		s[i].conversion_from_prev =
		    i == 0 ? (count[0] ? 1.0 : 0.0)
			   : (count[i - 1] ? (double)count[i] / (double)count[i - 1] : 0.0);
		s[i].median_ms_from_prev = -1;
		if (i > 0 && nd[i]) {
			qsort(d[i], nd[i], sizeof *d[i], i64_cmp);
			s[i].median_ms_from_prev = d[i][(nd[i] - 1) / 2];
		}
	}
}

/* The held value of e ("same"), NULL when it has none. */
static const char *held(const struct fr_store *fs, const struct fr_funnel *f, const struct fr_ev *e)
{
	int m;
	switch (f->same) {
	case Q_SAME_URL: return e->url ? fr_urls[e->url] : NULL;
	case Q_SAME_TARGET: return e->target ? fr_targets[e->target] : NULL;
	case Q_SAME_USER: return e->user >= 0 ? fs->uname[e->user] : NULL;
	case Q_SAME_PROP:
		if ((m = member(e, f->same_key)) < 0)
			return NULL;
		return ev_val(e->val[m]).kind == K_STR ? ev_val(e->val[m]).s
						       : ev_val(e->val[m]).text;
	default: return NULL;
	}
}

/* Any order: can steps `todo` (bits, lowest first) each take a distinct
 * event among w[0..nw) (their step masks), events in `used` taken? */
static unsigned any_fill(const uint32_t *w, int nw, uint32_t todo, uint64_t used)
{
	unsigned best = 0;
	if (!todo)
		return 0;
	unsigned s = (unsigned)__builtin_ctz(todo);
	/* step s left out */
	best = any_fill(w, nw, todo & (todo - 1), used);
	uint32_t tried[64];
	int ntried = 0;
	for (int j = 0; j < nw; j++) {
		int seen = 0;
		if (!(w[j] >> s & 1) || (used >> j & 1))
			continue;
		for (int t = 0; t < ntried; t++)
			seen |= tried[t] == w[j]; /* unused events of equal masks are alike */
		if (seen)
			continue;
		tried[ntried++] = w[j];
		unsigned got = 1 + any_fill(w, nw, todo & (todo - 1), used | (uint64_t)1 << j);
		if (got > best)
			best = got;
	}
	return best;
}

/* Any order over the actor's events: the level and (level > 0) the
 * earliest event of the counted set in *first. */
static unsigned any_level(const struct search *se, int *first)
{
	unsigned level = 0;
	uint32_t all = (1u << se->k) - 1;
	for (int i = 0; i < se->n; i++) {
		uint32_t w[64];
		int nw = 0;
		if (!(se->mask[i] & all) || (se->f->same != Q_SAME_NONE && !se->val[i]))
			continue;
		for (int j = i + 1; j < se->n && se->ts[j] - se->ts[i] <= se->window && nw < 64; j++)
			if ((se->mask[j] & all) &&
			    (se->f->same == Q_SAME_NONE ||
			     (se->val[j] && strcmp(se->val[j], se->val[i]) == 0)))
				w[nw++] = se->mask[j] & all;
		unsigned got = 0;
		for (unsigned s = 0; s < se->k; s++)
			if (se->mask[i] >> s & 1) {
				unsigned g = 1 + any_fill(w, nw, all & ~(1u << s), 0);
				if (g > got)
					got = g;
			}
		if (got && got >= level) {
			level = got;
			*first = i;
		}
	}
	return level;
}

/* Adds one actor (or entry) of `level` steps to the group of value v and
 * to the totals; chain_ts (NULL: no medians) gives its steps' times. */
static void tally(struct rgroup *g, size_t *ng, struct rgroup *all, const char *v, unsigned level,
		  const int64_t *chain_ts, unsigned k, size_t n)
{
	size_t gi;
	for (gi = 0; gi < *ng && strcmp(g[gi].value, v) != 0; gi++)
		;
	if (gi == *ng) {
		g[gi].value = v;
		for (unsigned s = 0; s < k; s++)
			g[gi].d[s] = malloc((n + 1) * sizeof(int64_t));
		(*ng)++;
	}
	for (unsigned s = 0; s < level; s++) {
		g[gi].count[s]++;
		all->count[s]++;
		if (s && chain_ts) {
			int64_t dt = chain_ts[s] - chain_ts[s - 1];
			g[gi].d[s][g[gi].nd[s]++] = dt;
			all->d[s][all->nd[s]++] = dt;
		}
	}
}

void fr_reference(const struct fr_store *fs, size_t n, const struct fr_funnel *f,
		  struct fr_result *out)
{
	int nactors = f->by == Q_BY_USER ? fs->nusers : fs->nsess;
	int *idx = malloc((n + 1) * sizeof *idx), ni;
	int *all_idx = malloc((n + 1) * sizeof *all_idx), *actor_of = malloc((n + 1) * sizeof(int));
	size_t *start = calloc((size_t)nactors + 1, sizeof *start);
	size_t *fill = calloc((size_t)nactors + 1, sizeof *fill);
	int64_t *ts = malloc((n + 1) * sizeof *ts);
	uint32_t *mask = malloc((n + 1) * sizeof *mask), *xmask = malloc((n + 1) * sizeof *xmask);
	const char **val = malloc((n + 1) * sizeof *val);
	struct rgroup *g = calloc(n + 2, sizeof *g), all = {.value = ""},
		      other = {.value = "other"};
	size_t ng = 0;
	struct order_ctx oc = {fs, f->by};

	memset(out, 0, sizeof *out);
	for (unsigned s = 0; s < f->nsteps; s++) {
		all.d[s] = malloc((n + 1) * sizeof(int64_t));
		other.d[s] = malloc((n + 1) * sizeof(int64_t));
	}
	/* the events of each actor in range, listed by a counting pass */
	for (size_t i = 0; i < n; i++) {
		const struct fr_ev *e = &fs->ev[i];
		int a = f->by == Q_BY_USER ? e->user : e->sess;
		actor_of[i] = a >= 0 && e->ts >= f->from && e->ts < f->to ? a : -1;
		if (actor_of[i] >= 0)
			start[a + 1]++;
	}
	for (int a = 0; a < nactors; a++)
		start[a + 1] += start[a];
	for (size_t i = 0; i < n; i++)
		if (actor_of[i] >= 0)
			all_idx[start[actor_of[i]] + fill[actor_of[i]]++] = (int)i;
	for (int a = 0; a < nactors; a++) {
		struct search se = {.ts = ts,
				    .mask = mask,
				    .xmask = xmask,
				    .val = val,
				    .k = f->nsteps,
				    .window = f->window,
				    .f = f,
				    .start = -1};
		uint32_t any = 0;
		int64_t cts[FR_MAX_STEPS];
		ni = (int)(start[a + 1] - start[a]);
		memcpy(idx, all_idx + start[a], (size_t)ni * sizeof *idx);
		qsort_r(idx, (size_t)ni, sizeof *idx, order_cmp, &oc);
		for (int i = 0; i < ni; i++) {
			const struct fr_ev *e = &fs->ev[idx[i]];
			ts[i] = e->ts;
			mask[i] = xmask[i] = 0;
			for (unsigned s = 0; s < f->nsteps; s++)
				if (step_matches(e, &f->steps[s]))
					mask[i] |= 1u << s;
			for (unsigned x = 0; x < f->nx; x++)
				if (step_matches(e, &f->excl[x]))
					xmask[i] |= 1u << x;
			val[i] = held(fs, f, e);
			any |= mask[i];
		}
		if (!any)
			continue;
		out->actors++;
		se.n = ni;
		if (f->order == Q_ORDER_ANY) {
			int first = 0;
			unsigned level = any_level(&se, &first);
			if (level)
				tally(g, &ng, &all, bd_value(f, &fs->ev[idx[first]]), level, NULL,
				      f->nsteps, n);
			continue;
		}
		if (f->count == Q_COUNT_ACTORS) {
			search(&se, 0);
			if (se.blen == 0)
				continue;
			for (unsigned s = 0; s < se.blen; s++)
				cts[s] = ts[se.best[s]];
			tally(g, &ng, &all, bd_value(f, &fs->ev[idx[se.best[0]]]), se.blen, cts,
			      f->nsteps, n);
			continue;
		}
		/* entries: from the first step-1 event after the previous entry
		 * converted (its last event) or timed out (its window) */
		for (int cur = 0; cur < ni;) {
			int s0 = cur, end;
			while (s0 < ni && !(mask[s0] & 1 && (f->same == Q_SAME_NONE || val[s0])))
				s0++;
			if (s0 == ni)
				break;
			se.start = s0;
			se.blen = 0;
			search(&se, 0);
			for (unsigned s = 0; s < se.blen; s++)
				cts[s] = ts[se.best[s]];
			tally(g, &ng, &all, bd_value(f, &fs->ev[idx[s0]]), se.blen, cts, f->nsteps,
			      n);
			for (end = s0; end < ni && ts[end] - ts[s0] <= f->window; end++)
				;
			cur = se.blen == f->nsteps ? se.best[se.blen - 1] + 1 : end;
		}
	}
	stats(f->nsteps, all.count, all.d, all.nd, out->steps);
	if (f->bd != Q_BD_NONE) {
		qsort(g, ng, sizeof *g, rgroup_cmp);
		for (size_t i = 0; i < ng; i++) {
			if (i < Q_BREAKDOWN_TOP) {
				struct fr_group *o = &out->groups[out->ngroups++];
				snprintf(o->value, sizeof o->value, "%s", g[i].value);
				stats(f->nsteps, g[i].count, g[i].d, g[i].nd, o->steps);
				continue;
			}
			for (unsigned s = 0; s < f->nsteps; s++) {
				other.count[s] += g[i].count[s];
				memcpy(other.d[s] + other.nd[s], g[i].d[s],
				       g[i].nd[s] * sizeof(int64_t));
				other.nd[s] += g[i].nd[s];
			}
		}
		if (ng > Q_BREAKDOWN_TOP) {
			struct fr_group *o = &out->groups[out->ngroups++];
			snprintf(o->value, sizeof o->value, "other");
			o->other = 1;
			stats(f->nsteps, other.count, other.d, other.nd, o->steps);
		}
	}
	for (size_t i = 0; i < ng; i++)
		for (unsigned s = 0; s < f->nsteps; s++)
			free(g[i].d[s]);
	for (unsigned s = 0; s < f->nsteps; s++) {
		free(all.d[s]);
		free(other.d[s]);
	}
	free(g);
	free(idx);
	free(all_idx);
	free(actor_of);
	free(start);
	free(fill);
	free(ts);
	free(mask);
	free(xmask);
	free(val);
}

static int stat_eq(const struct q_step_stat *a, const struct q_step_stat *b, unsigned k,
		   const char *where, char *why, size_t len)
{
	for (unsigned i = 0; i < k; i++)
		if (a[i].count != b[i].count || a[i].conversion != b[i].conversion ||
		    a[i].conversion_from_prev != b[i].conversion_from_prev ||
		    a[i].median_ms_from_prev != b[i].median_ms_from_prev) {
			snprintf(why, len,
				 "%s step %u: got count %" PRIu64 " conv %g/%g median %" PRId64
				 ", want %" PRIu64 " conv %g/%g median %" PRId64,
				 where, i + 1, a[i].count, a[i].conversion,
				 a[i].conversion_from_prev, a[i].median_ms_from_prev, b[i].count,
				 b[i].conversion, b[i].conversion_from_prev,
				 b[i].median_ms_from_prev);
			return 0;
		}
	return 1;
}

int fr_compare(const struct q_funnel_res *got, const struct fr_result *want, unsigned nsteps,
	       char *why, size_t len)
{
	char where[100];

	if (got->nsteps != nsteps) {
		snprintf(why, len, "nsteps %u, want %u", got->nsteps, nsteps);
		return 0;
	}
	if (got->actors != want->actors) {
		snprintf(why, len, "actors %" PRIu64 ", want %" PRIu64, got->actors, want->actors);
		return 0;
	}
	if (!stat_eq(got->steps, want->steps, nsteps, "total", why, len))
		return 0;
	if (got->ngroups != want->ngroups) {
		snprintf(why, len, "%zu groups, want %zu", got->ngroups, want->ngroups);
		return 0;
	}
	for (size_t i = 0; i < want->ngroups; i++) {
		const struct q_funnel_group *a = &got->groups[i];
		const struct fr_group *b = &want->groups[i];
		if (a->value.n != strlen(b->value) ||
		    memcmp(a->value.p, b->value, a->value.n) != 0 || a->other != b->other) {
			snprintf(why, len, "group %zu is '%.*s' (other %d), want '%s' (other %d)",
				 i, (int)a->value.n, a->value.p, a->other, b->value, b->other);
			return 0;
		}
		snprintf(where, sizeof where, "group '%s'", b->value);
		if (!stat_eq(a->steps, b->steps, nsteps, where, why, len))
			return 0;
	}
	return 1;
}
