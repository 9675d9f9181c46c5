/*
 * store.c — the data directory: partitions, shards, appends, recovery,
 * sealing and retention.
 *
 * Directory layout:
 *
 *   DIR/spoor.meta                  "spoor-format 1\nshards 16\npartition_ms 3600000\n"
 *   DIR/spoor.lock                  flock: one writer (LOCK_EX) or readers (LOCK_SH)
 *   DIR/p<start_ms>/SSSS-QQQQQQQQ.act   active segment of shard S, number Q
 *   DIR/p<start_ms>/SSSS-QQQQQQQQ.seg   sealed segment
 *   *.tmp                           a seal in progress (deleted by recovery)
 *   *.damaged                       a file recovery could not use, set aside
 *
 * Locks, in the order they may be taken:
 *   parts_lock (rwlock: appenders and readers share; creating or dropping a
 *   partition excludes) → shard->mu (one per partition × shard: the append
 *   path's only mutex) → reg_mu (the registry of unsealed active segments).
 *   No lock is held while a seal writes its file.
 *
 * Appends: a batch is grouped by (partition, shard); each group takes its
 * shard's mutex once, writes its rows into the current active segment and
 * publishes that segment's row count (seg_active.c).  A full segment is
 * frozen — moved to the shard's list, a pointer swap — and a new one created.
 * The sealer thread (store_maintain) turns frozen segments into sealed ones
 * and swaps the pointer again; appends never wait for a seal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "err.h"
#include "seg.h"
#include "store_int.h"

#define MAX_FROZEN 1024 /* frozen, unsealed segments before appends get ERR_BUSY */

/* ---- problems -------------------------------------------------------------- */

void store_problem(struct store *s, const char *msg)
{
	pthread_mutex_lock(&s->prob_mu);
	for (size_t i = 0; i < s->nprobs; i++)
		if (strcmp(s->probs[i], msg) == 0)
			goto out;
	if (s->nprobs < 1024) {
		char **v = realloc(s->probs, (s->nprobs + 1) * sizeof *v);
		char *m = strdup(msg);
		if (v && m) {
			s->probs = v;
			s->probs[s->nprobs++] = m;
		} else {
			free(m);
			if (v)
				s->probs = v;
		}
	}
out:
	pthread_mutex_unlock(&s->prob_mu);
}

size_t store_problems(struct store *s, const char *const **msgs)
{
	*msgs = (const char *const *)s->probs;
	return s->nprobs;
}

/* ---- meta file --------------------------------------------------------------- */

int store_meta_load_or_create(struct store *s, char *errbuf, size_t errlen)
{
	char path[600], tmp[620], text[256];
	unsigned version = 0, shards = 0;
	long long pms = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/spoor.meta", s->dir);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = '\0';
		if (sscanf(text, "spoor-format %u\nshards %u\npartition_ms %lld", &version, &shards,
			   &pms) != 3 ||
		    shards == 0 || shards > 4096 || pms < 1000) {
			snprintf(errbuf, errlen, "%s: unreadable store metadata", path);
			return ERR_CORRUPT;
		}
		if (version != STORE_FORMAT_VERSION) {
			snprintf(errbuf, errlen,
				 "%s: data directory has format version %u; this build reads format "
				 "version %d",
				 s->dir, version, STORE_FORMAT_VERSION);
			return ERR_FORMAT;
		}
		s->o.shards = shards;
		s->o.partition_ms = pms;
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (s->o.read_only) {
		snprintf(errbuf, errlen, "%s: no store here", s->dir);
		return -ENOENT;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
		return -errno;
	}
	fprintf(f, "spoor-format %d\nshards %u\npartition_ms %lld\n", STORE_FORMAT_VERSION,
		s->o.shards, (long long)s->o.partition_ms);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		int e = errno;
		fclose(f);
		snprintf(errbuf, errlen, "%s: %s", tmp, strerror(e));
		return -e;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	return fsync_dir_of(path);
}

/* ---- partitions ---------------------------------------------------------------- */

struct part *store_part_new(struct store *s, int64_t start)
{
	struct part *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->start = start;
	snprintf(p->dir, sizeof p->dir, "%s/p%lld", s->dir, (long long)start);
	p->shards = calloc(s->o.shards, sizeof *p->shards);
	if (!p->shards) {
		free(p);
		return NULL;
	}
	for (uint32_t i = 0; i < s->o.shards; i++)
		pthread_mutex_init(&p->shards[i].mu, NULL);
	return p;
}

void store_part_free(struct store *s, struct part *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < s->o.shards; i++) {
		struct shard *sh = &p->shards[i];
		seg_unref(sh->active);
		for (size_t k = 0; k < sh->nsegs; k++)
			seg_unref(sh->segs[k]);
		free(sh->segs);
		pthread_mutex_destroy(&sh->mu);
	}
	free(p->shards);
	free(p);
}

/* Index of the first partition with start >= t. Caller holds parts_lock. */
static size_t part_search(const struct store *s, int64_t t)
{
	size_t lo = 0, hi = s->nparts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->parts[mid]->start < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct part *part_find(const struct store *s, int64_t start)
{
	size_t i = part_search(s, start);
	return i < s->nparts && s->parts[i]->start == start ? s->parts[i] : NULL;
}

/* Inserts p in order.  Caller holds parts_lock for writing. */
int store_part_insert(struct store *s, struct part *p)
{
	size_t i = part_search(s, p->start);
	if (s->nparts == s->capparts) {
		size_t cap = s->capparts ? s->capparts * 2 : 64;
		struct part **v = realloc(s->parts, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->parts = v;
		s->capparts = cap;
	}
	memmove(s->parts + i + 1, s->parts + i, (s->nparts - i) * sizeof *s->parts);
	s->parts[i] = p;
	s->nparts++;
	return 0;
}

/* Creates partition `start` on disk and in memory if it is not there.
 * Takes parts_lock for writing; the caller must not hold it. */
static int part_ensure(struct store *s, int64_t start)
{
	struct part *p;
	int rc = 0;

	pthread_rwlock_wrlock(&s->parts_lock);
	if (part_find(s, start))
		goto out;
	p = store_part_new(s, start);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(p->dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		store_part_free(s, p);
		goto out;
	}
	atomic_store(&s->root_dirty, 1); /* the next sync makes the new entry durable */
	if ((rc = store_part_insert(s, p)) < 0)
		store_part_free(s, p);
out:
	pthread_rwlock_unlock(&s->parts_lock);
	return rc;
}

/* ---- the registry of unsealed active segments --------------------------------- */

int store_reg_add(struct store *s, struct seg *g)
{
	int rc = 0;
	pthread_mutex_lock(&s->reg_mu);
	if (s->nopen == s->capopen) {
		size_t cap = s->capopen ? s->capopen * 2 : 64;
		struct seg **v = realloc(s->open, cap * sizeof *v);
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		s->open = v;
		s->capopen = cap;
	}
	seg_ref(g);
	s->open[s->nopen++] = g;
out:
	pthread_mutex_unlock(&s->reg_mu);
	return rc;
}

void store_reg_remove(struct store *s, struct seg *g)
{
	int found = 0;
	pthread_mutex_lock(&s->reg_mu);
	for (size_t i = 0; i < s->nopen; i++)
		if (s->open[i] == g) {
			s->open[i] = s->open[--s->nopen];
			found = 1;
			break;
		}
	pthread_mutex_unlock(&s->reg_mu);
	if (found)
		seg_unref(g); /* may unmap and close: never under reg_mu */
}

/* ---- segments of a shard ---------------------------------------------------- */

void store_seg_path(const struct part *p, uint32_t shard, uint64_t seq, const char *ext,
		     char *out, size_t len)
{
	snprintf(out, len, "%s/%04u-%08llu.%s", p->dir, shard, (unsigned long long)seq, ext);
}

static int shard_push(struct shard *sh, struct seg *g)
{
	if (sh->nsegs == sh->capsegs) {
		size_t cap = sh->capsegs ? sh->capsegs * 2 : 8;
		struct seg **v = realloc(sh->segs, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		sh->segs = v;
		sh->capsegs = cap;
	}
	sh->segs[sh->nsegs++] = g;
	return 0;
}

/* Moves the shard's current active segment to its list; the sealer takes it
 * from there.  Caller holds sh->mu.  A pointer swap: no I/O. */
int store_shard_freeze(struct store *s, struct shard *sh)
{
	int rc;
	if (!sh->active)
		return 0;
	if ((rc = shard_push(sh, sh->active)) < 0)
		return rc;
	sh->active = NULL;
	atomic_fetch_add(&s->frozen, 1);
	atomic_fetch_sub(&s->nactive, 1);
	return 0;
}

/* Gives the shard a new active segment.  Caller holds sh->mu. */
static int shard_new_active(struct store *s, struct part *p, uint32_t shard, struct shard *sh)
{
	char path[600];
	struct seg *g;
	int rc;

	if (atomic_load(&s->frozen) >= MAX_FROZEN)
		return ERR_BUSY;
	store_seg_path(p, shard, sh->next_seq, "act", path, sizeof path);
	rc = act_create(path, shard, p->start, sh->next_seq, &s->geom, s->boot_id, &g);
	if (rc < 0)
		return rc;
	atomic_store(&p->dir_dirty, 1); /* the next sync makes the new entry durable */
	sh->next_seq++;
	if ((rc = store_reg_add(s, g)) < 0) {
		unlink(path);
		seg_unref(g);
		return rc;
	}
	sh->active = g;
	if ((uint32_t)atomic_fetch_add(&s->nactive, 1) >= s->o.max_active)
		atomic_store(&s->kick, 1); /* the sealer evicts the least recently used */
	return 0;
}

/* ---- append ---------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int validate(const struct store *s, const struct store_event *e, int64_t cutoff)
{
	if (e->session.n == 0 || e->type.n == 0 || e->ts < 0 || e->recv < 0)
		return ERR_INVALID;
	if (e->session.n > STORE_MAX_SESSION || e->user.n > STORE_MAX_USER ||
	    e->type.n > STORE_MAX_TYPE || e->target.n > STORE_MAX_TARGET ||
	    e->url.n > STORE_MAX_URL || e->props.n > STORE_MAX_PROPS || e->id.n > STORE_MAX_ID)
		return ERR_TOOBIG;
	if (e->ts < cutoff)
		return ERR_INVALID; /* older than the retention window */
	(void)s;
	return 0;
}

struct akey {
	int64_t part;
	uint32_t shard;
	uint32_t i;
};

static int cmp_akey(const void *pa, const void *pb)
{
	const struct akey *a = pa, *b = pb;
	if (a->part != b->part)
		return a->part < b->part ? -1 : 1;
	if (a->shard != b->shard)
		return a->shard < b->shard ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

uint32_t store_shard_of(const char *session, size_t len, uint32_t nshards)
{
	return (uint32_t)(XXH3_64bits(session, len) % nshards);
}

/* The per-event status of an error code: a small negative errno. */
static int8_t status_of(int rc)
{
	if (rc == ERR_BUSY)
		return -EAGAIN;
	if (rc == ERR_TOOBIG)
		return -E2BIG;
	if (rc == ERR_INVALID)
		return -EINVAL;
	return rc < 0 && rc > -128 ? (int8_t)rc : -EIO;
}

/* Appends the rows idx[0..m) of one (partition, shard).  Caller holds
 * parts_lock for reading.  Returns rows committed or a negative code. */
static int append_group(struct store *s, struct part *p, uint32_t shard, const struct store_event *ev,
			uint32_t *idx, size_t m, int8_t *status, int64_t now)
{
	struct shard *sh = &p->shards[shard];
	uint64_t dups = 0;
	size_t done = 0;
	int rc = 0, committed = 0;

	pthread_mutex_lock(&sh->mu);
	while (done < m) {
		if (!sh->active && (rc = shard_new_active(s, p, shard, sh)) < 0)
			break;
		rc = act_append(sh->active, ev, idx + done, m - done, status, &dups);
		if (rc < 0)
			break;
		for (size_t k = done; k < done + (size_t)rc; k++)
			committed += status[idx[k]] == STORE_OK;
		done += (size_t)rc;
		sh->active->last_append_ms = now;
		if (done < m || act_rows(sh->active) >= s->geom.cap_rows) {
			if (rc == 0 && act_rows(sh->active) == 0) {
				rc = ERR_TOOBIG; /* a row that fits no empty segment */
				break;
			}
			store_shard_freeze(s, sh);
			atomic_store(&s->kick, 1);
		}
		rc = 0;
	}
	pthread_mutex_unlock(&sh->mu);
	for (size_t k = done; k < m; k++)
		status[idx[k]] = status_of(rc);
	atomic_fetch_add_explicit(&s->duplicates, dups, memory_order_relaxed);
	if (atomic_load(&s->kick))
		pthread_cond_signal(&s->seal_cv);
	return rc < 0 ? rc : committed;
}

int store_append(struct store *s, const struct store_event *ev, size_t n, int8_t *status)
{
	struct akey stack_keys[128], *keys = stack_keys;
	uint32_t stack_idx[128], *idx = stack_idx;
	int8_t *st = status, *own_st = NULL;
	int64_t cutoff = 0, now = now_ms();
	size_t nk = 0;
	int total = 0, err = 0;

	if (s->o.read_only)
		return -EROFS;
	if (!st && !(st = own_st = malloc(n ? n : 1)))
		return -ENOMEM;
	if (n > 128) {
		keys = malloc(n * sizeof *keys);
		idx = malloc(n * sizeof *idx);
		if (!keys || !idx) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (s->o.retention_ms > 0)
		cutoff = now - s->o.retention_ms;
	struct store_str last = {NULL, 0};
	uint32_t last_shard = 0;
	int sorted = 1;
	for (size_t i = 0; i < n; i++) {
		const struct store_event *e = &ev[i];
		int v = validate(s, e, cutoff);
		st[i] = v < 0 ? status_of(v) : STORE_OK;
		if (v < 0)
			continue;
		/* a batch is usually one session: hash it once */
		if (!last.p || last.n != e->session.n ||
		    (last.p != e->session.p && memcmp(last.p, e->session.p, last.n) != 0)) {
			last = e->session;
			last_shard = store_shard_of(e->session.p, e->session.n, s->o.shards);
		}
		keys[nk].part = floor_div(e->ts, s->o.partition_ms) * s->o.partition_ms;
		keys[nk].shard = last_shard;
		keys[nk].i = (uint32_t)i;
		if (nk && cmp_akey(&keys[nk - 1], &keys[nk]) > 0)
			sorted = 0;
		nk++;
	}
	if (!sorted)
		qsort(keys, nk, sizeof *keys, cmp_akey);
	pthread_rwlock_rdlock(&s->parts_lock);
	for (size_t a = 0; a < nk;) {
		size_t b = a;
		struct part *p;
		int rc;

		while (b < nk && keys[b].part == keys[a].part && keys[b].shard == keys[a].shard) {
			idx[b - a] = keys[b].i;
			b++;
		}
		p = part_find(s, keys[a].part);
		if (!p) {
			pthread_rwlock_unlock(&s->parts_lock);
			rc = part_ensure(s, keys[a].part);
			pthread_rwlock_rdlock(&s->parts_lock);
			p = part_find(s, keys[a].part);
			if (!p) {
				for (size_t k = a; k < b; k++)
					st[keys[k].i] = status_of(rc < 0 ? rc : -EIO);
				err = rc < 0 ? rc : -EIO;
				a = b;
				continue;
			}
		}
		rc = append_group(s, p, keys[a].shard, ev, idx, b - a, st, now);
		if (rc < 0)
			err = rc;
		else
			total += rc;
		a = b;
	}
	pthread_rwlock_unlock(&s->parts_lock);
	if (err == -ENOSPC || err == -EDQUOT)
		atomic_store(&s->disk_full, 1);
	else if (total > 0)
		atomic_store(&s->disk_full, 0);
out:
	if (keys != stack_keys)
		free(keys);
	if (idx != stack_idx)
		free(idx);
	free(own_st);
	return err < 0 ? err : total;
}
