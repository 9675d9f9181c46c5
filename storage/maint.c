/*
 * maint.c — background work: freezing idle and excess active segments,
 * sealing frozen ones, dropping partitions past retention; and store stats.
 *
 * Sealing one frozen segment g of (partition p, shard k):
 *   1. sealed_write(g) → p/kkkk-seq.seg  (tmp + fsync + rename + fsync dir);
 *      no lock is held: g is frozen, nobody appends to it.
 *   2. sealed_open() verifies what was written.
 *   3. under k's mutex the list entry g is replaced by the sealed segment:
 *      a pointer swap; snapshots taken before keep reading g.
 *   4. g's .act file is unlinked (its mapping lives until the last ref).
 * A crash between 1 and 4 leaves both files: recovery keeps the .seg.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "store_int.h"

struct frozen_ref {
	int64_t part_start;
	uint32_t shard;
	struct seg *g; /* one ref */
};

static struct part *find_part(struct store *s, int64_t start)
{
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i]->start == start)
			return s->parts[i];
	return NULL;
}

/* Replaces old by neu (NULL: removes old) in the shard's list. */
static void swap_in(struct store *s, int64_t start, uint32_t shard, struct seg *old, struct seg *neu)
{
	struct part *p;
	int found = 0;

	pthread_rwlock_rdlock(&s->parts_lock);
	p = find_part(s, start);
	if (p) {
		struct shard *sh = &p->shards[shard];
		pthread_mutex_lock(&sh->mu);
		for (size_t i = 0; i < sh->nsegs; i++)
			if (sh->segs[i] == old) {
				if (neu) {
					sh->segs[i] = neu;
				} else {
					memmove(sh->segs + i, sh->segs + i + 1,
						(sh->nsegs - i - 1) * sizeof *sh->segs);
					sh->nsegs--;
				}
				found = 1;
				break;
			}
		pthread_mutex_unlock(&sh->mu);
	}
	pthread_rwlock_unlock(&s->parts_lock);
	if (found)
		seg_unref(old); /* the list's reference */
	else
		seg_unref(neu);
}

static int seal_one(struct store *s, struct frozen_ref *f)
{
	char path[600], msg[600];
	struct seg *g = f->g, *ng = NULL;
	int rc;

	/* frozen: no writer will look for duplicates in it again */
	act_dup_free(g->act);
	if (act_rows(g) == 0) {
		swap_in(s, f->part_start, f->shard, g, NULL);
		goto retire;
	}
	snprintf(path, sizeof path, "%.*s.seg", (int)(strlen(g->path) - 4), g->path);
	rc = sealed_write(g, path);
	if (rc == 0) {
		rc = sealed_open(path, &ng, msg, sizeof msg);
		if (rc == 0 && msg[0])
			rc = ERR_CORRUPT;
		if (rc < 0) {
			seg_unref(ng);
			unlink(path);
		}
	}
	if (rc < 0) {
		atomic_fetch_add(&s->seal_failures, 1);
		snprintf(msg, sizeof msg, "%s: seal failed: %s (the active segment stays authoritative)",
			 g->path, err_str(rc));
		store_problem(s, msg);
		return rc;
	}
	swap_in(s, f->part_start, f->shard, g, ng);
	atomic_fetch_add(&s->seals, 1);
retire:
	unlink(g->path); /* no fsync: if this is lost, recovery sees the .seg and removes it */
	store_reg_remove(s, g);
	atomic_fetch_sub(&s->frozen, 1);
	return 1;
}

/* Freezes the current segments that should be: all (freeze_all), those of
 * ended partitions idle for idle_seal_ms, and the least recently appended
 * ones while more than max_active are open. */
static void freeze_some(struct store *s, int64_t now, int freeze_all)
{
	pthread_rwlock_rdlock(&s->parts_lock);
	for (size_t i = 0; i < s->nparts; i++) {
		struct part *p = s->parts[i];
		int ended = p->start + s->o.partition_ms + s->o.idle_seal_ms <= now;
		for (uint32_t k = 0; k < s->o.shards; k++) {
			struct shard *sh = &p->shards[k];
			pthread_mutex_lock(&sh->mu);
			if (sh->active && (freeze_all || (ended && sh->active->last_append_ms +
									   s->o.idle_seal_ms <=
								   now)))
				store_shard_freeze(s, sh);
			pthread_mutex_unlock(&sh->mu);
		}
	}
	while ((uint32_t)atomic_load(&s->nactive) > s->o.max_active) {
		struct shard *lru = NULL;
		int64_t oldest = INT64_MAX;
		for (size_t i = 0; i < s->nparts; i++)
			for (uint32_t k = 0; k < s->o.shards; k++) {
				struct shard *sh = &s->parts[i]->shards[k];
				pthread_mutex_lock(&sh->mu);
				if (sh->active && sh->active->last_append_ms < oldest) {
					oldest = sh->active->last_append_ms;
					lru = sh;
				}
				pthread_mutex_unlock(&sh->mu);
			}
		if (!lru)
			break;
		pthread_mutex_lock(&lru->mu);
		store_shard_freeze(s, lru);
		pthread_mutex_unlock(&lru->mu);
	}
	pthread_rwlock_unlock(&s->parts_lock);
}

/* The frozen segments, each with a ref.  *n set; NULL when none or no memory. */
static struct frozen_ref *collect_frozen(struct store *s, size_t *n)
{
	struct frozen_ref *v = NULL;
	size_t cap = 0;

	*n = 0;
	pthread_rwlock_rdlock(&s->parts_lock);
	for (size_t i = 0; i < s->nparts; i++)
		for (uint32_t k = 0; k < s->o.shards; k++) {
			struct shard *sh = &s->parts[i]->shards[k];
			pthread_mutex_lock(&sh->mu);
			for (size_t j = 0; j < sh->nsegs; j++) {
				if (sh->segs[j]->kind != SEG_ACTIVE)
					continue;
				if (*n == cap) {
					size_t nc = cap ? cap * 2 : 16;
					struct frozen_ref *nv = realloc(v, nc * sizeof *nv);
					if (!nv)
						break;
					v = nv;
					cap = nc;
				}
				seg_ref(sh->segs[j]);
				v[(*n)++] = (struct frozen_ref){s->parts[i]->start, k, sh->segs[j]};
			}
			pthread_mutex_unlock(&sh->mu);
		}
	pthread_rwlock_unlock(&s->parts_lock);
	return v;
}

/* Drops partitions that ended before now - retention_ms. */
static int drop_expired(struct store *s, int64_t now)
{
	struct part **gone = NULL;
	size_t ngone = 0;
	int64_t cutoff;

	if (s->o.retention_ms <= 0)
		return 0;
	cutoff = now - s->o.retention_ms;
	pthread_rwlock_wrlock(&s->parts_lock);
	while (s->nparts && s->parts[0]->start + s->o.partition_ms <= cutoff) {
		struct part **v = realloc(gone, (ngone + 1) * sizeof *v);
		if (!v)
			break;
		gone = v;
		gone[ngone++] = s->parts[0];
		memmove(s->parts, s->parts + 1, (s->nparts - 1) * sizeof *s->parts);
		s->nparts--;
	}
	pthread_rwlock_unlock(&s->parts_lock);
	for (size_t i = 0; i < ngone; i++) {
		struct part *p = gone[i];
		for (uint32_t k = 0; k < s->o.shards; k++) {
			struct shard *sh = &p->shards[k];
			if (sh->active) {
				store_shard_freeze(s, sh);
			}
			for (size_t j = 0; j < sh->nsegs; j++) {
				struct seg *g = sh->segs[j];
				if (g->kind == SEG_ACTIVE) {
					store_reg_remove(s, g);
					atomic_fetch_sub(&s->frozen, 1);
				}
				unlink(g->path);
			}
		}
		if (rmdir(p->dir) < 0) {
			char msg[700];
			snprintf(msg, sizeof msg, "%s: partition dropped but directory not empty", p->dir);
			store_problem(s, msg);
		}
		store_part_free(s, p); /* snapshots keep their own references */
		atomic_fetch_add(&s->dropped_parts, 1);
	}
	free(gone);
	return (int)ngone;
}

/* store_close() has asked the sealer to stop. */
static int stopping(struct store *s)
{
	int stop;
	pthread_mutex_lock(&s->seal_mu);
	stop = s->stop;
	pthread_mutex_unlock(&s->seal_mu);
	return stop;
}

static int maintain(struct store *s, int64_t now, int freeze_all)
{
	struct frozen_ref *v;
	size_t n;
	int done = 0, err = 0, rc;

	pthread_mutex_lock(&s->maint_mu);
	freeze_some(s, now, freeze_all);
	v = collect_frozen(s, &n);
	for (size_t i = 0; i < n; i++) {
		/* A backlog (a bulk load over many partitions leaves hundreds of
		 * frozen segments) does not hold up a shutdown: what is left
		 * stays active on disk and is sealed after the next open. */
		if (!freeze_all && stopping(s)) {
			seg_unref(v[i].g);
			continue;
		}
		rc = seal_one(s, &v[i]);
		if (rc < 0)
			err = rc;
		else
			done += rc;
		seg_unref(v[i].g);
	}
	free(v);
	rc = drop_expired(s, now);
	done += rc > 0 ? rc : 0;
	pthread_mutex_unlock(&s->maint_mu);
	return err < 0 && done == 0 ? err : done;
}

int store_maintain(struct store *s, int64_t now)
{
	if (s->o.read_only)
		return 0;
	return maintain(s, now, 0);
}

int store_seal_all(struct store *s)
{
	if (s->o.read_only)
		return -EROFS;
	return maintain(s, now_ms(), 1);
}

void *store_sealer_main(void *arg)
{
	struct store *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->seal_mu);
		if (!s->stop && !atomic_load(&s->kick)) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 1;
			pthread_cond_timedwait(&s->seal_cv, &s->seal_mu, &t);
		}
		int stop = s->stop;
		pthread_mutex_unlock(&s->seal_mu);
		if (stop)
			break;
		atomic_store(&s->kick, 0);
		maintain(s, now_ms(), 0);
	}
	return NULL;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	memset(out, 0, sizeof *out);
	out->duplicates = atomic_load(&s->duplicates);
	out->seals = atomic_load(&s->seals);
	out->seal_failures = atomic_load(&s->seal_failures);
	out->oldest_ts = INT64_MAX;
	out->newest_ts = INT64_MIN;
	pthread_rwlock_rdlock(&s->parts_lock);
	out->partitions = s->nparts;
	for (size_t i = 0; i < s->nparts; i++)
		for (uint32_t k = 0; k < s->o.shards; k++) {
			struct shard *sh = &s->parts[i]->shards[k];
			pthread_mutex_lock(&sh->mu);
			for (size_t j = 0; j <= sh->nsegs; j++) {
				struct seg *g = j < sh->nsegs ? sh->segs[j] : sh->active;
				int64_t lo, hi;
				if (!g)
					continue;
				if (g->kind == SEG_SEALED) {
					out->segments_sealed++;
					out->events += sealed_rows(g);
					lo = sealed_min_ts(g);
					hi = sealed_max_ts(g);
				} else {
					out->segments_active++;
					out->events += act_rows(g);
					lo = g->act->min_ts;
					hi = g->act->max_ts;
				}
				out->bytes_on_disk += g->disk_bytes;
				if (lo < out->oldest_ts)
					out->oldest_ts = lo;
				if (hi > out->newest_ts && hi != INT64_MIN)
					out->newest_ts = hi;
			}
			pthread_mutex_unlock(&sh->mu);
		}
	pthread_rwlock_unlock(&s->parts_lock);
	if (out->oldest_ts == INT64_MAX)
		out->oldest_ts = 0;
	if (out->newest_ts == INT64_MIN)
		out->newest_ts = 0;
}
