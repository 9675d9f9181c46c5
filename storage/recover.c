/*
 * recover.c — store_open(): lock, metadata, and recovery of every partition.
 *
 * Recovery of one partition directory, file by file:
 *   *.tmp        an interrupted seal: deleted (the active file is authoritative)
 *   *.damaged    set aside earlier: left alone
 *   NNNN-Q.seg   opened and verified block by block; damaged blocks are
 *                reported and skipped by readers; an unusable file is
 *                reported and renamed *.damaged
 *   NNNN-Q.act   if NNNN-Q.seg exists the seal finished: the .act is deleted;
 *                else recovered up to its committed count (seg_active.c).
 *                The newest active of a shard becomes its current segment,
 *                older ones are frozen and sealed by the background thread.
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

#include "err.h"
#include "store_int.h"


static int cmp_seq(const void *pa, const void *pb)
{
	const struct seg *a = *(struct seg *const *)pa, *b = *(struct seg *const *)pb;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void set_aside(struct store *s, const char *path, const char *msg)
{
	char dst[640];
	store_problem(s, msg);
	if (s->o.read_only)
		return;
	snprintf(dst, sizeof dst, "%s.damaged", path);
	if (rename(path, dst) < 0)
		store_problem(s, path);
}

/* Parses "SSSS-QQQQQQQQ.ext": returns 1 and the numbers, 0 when not a segment. */
static int parse_name(const char *name, uint32_t *shard, uint64_t *seq, const char **ext)
{
	char *end;
	unsigned long sh = strtoul(name, &end, 10);
	if (end == name || *end != '-')
		return 0;
	const char *q = end + 1;
	unsigned long long sq = strtoull(q, &end, 10);
	if (end == q || *end != '.')
		return 0;
	*shard = (uint32_t)sh;
	*seq = sq;
	*ext = end + 1;
	return 1;
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int recover_file(struct store *s, struct part *p, const char *name)
{
	char path[640], other[640], msg[512];
	const char *ext;
	uint32_t shard;
	uint64_t seq;
	struct seg *g = NULL;
	int rc;

	snprintf(path, sizeof path, "%s/%s", p->dir, name);
	if (strlen(name) > 4 && strcmp(name + strlen(name) - 4, ".tmp") == 0) {
		if (!s->o.read_only)
			unlink(path);
		return 0;
	}
	if (!parse_name(name, &shard, &seq, &ext))
		return 0;
	if (strcmp(ext, "seg") != 0 && strcmp(ext, "act") != 0)
		return 0; /* *.damaged and anything else */
	if (shard >= s->o.shards) {
		snprintf(msg, sizeof msg, "%s: shard %u outside 0..%u", path, shard, s->o.shards - 1);
		set_aside(s, path, msg);
		return 0;
	}
	if (strcmp(ext, "act") == 0) {
		snprintf(other, sizeof other, "%.*s.seg", (int)(strlen(path) - 4), path);
		if (file_exists(other)) {
			if (!s->o.read_only)
				unlink(path);
			return 0;
		}
		rc = act_open(path, s->boot_id, s->o.read_only, &g, msg, sizeof msg);
	} else {
		rc = sealed_open(path, &g, msg, sizeof msg);
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		set_aside(s, path, msg[0] ? msg : path);
		return 0;
	}
	if (msg[0])
		store_problem(s, msg);
	if (g->part_start != p->start || g->shard != shard || g->seq != seq) {
		snprintf(msg, sizeof msg, "%s: header names partition %lld shard %u seq %llu", path,
			 (long long)g->part_start, g->shard, (unsigned long long)g->seq);
		seg_unref(g);
		set_aside(s, path, msg);
		return 0;
	}
	struct shard *sh = &p->shards[shard];
	if (sh->nsegs == sh->capsegs) {
		size_t cap = sh->capsegs ? sh->capsegs * 2 : 8;
		struct seg **v = realloc(sh->segs, cap * sizeof *v);
		if (!v) {
			seg_unref(g);
			return -ENOMEM;
		}
		sh->segs = v;
		sh->capsegs = cap;
	}
	sh->segs[sh->nsegs++] = g;
	return 0;
}

/* Orders a shard's segments, picks its current active one and registers
 * the unsealed ones. */
static int settle_shard(struct store *s, struct shard *sh)
{
	int rc;
	if (sh->nsegs == 0)
		return 0;
	qsort(sh->segs, sh->nsegs, sizeof *sh->segs, cmp_seq);
	sh->next_seq = sh->segs[sh->nsegs - 1]->seq + 1;
	for (size_t i = 0; i < sh->nsegs; i++) {
		struct seg *g = sh->segs[i];
		if (g->kind != SEG_ACTIVE)
			continue;
		if ((rc = store_reg_add(s, g)) < 0)
			return rc;
		if (i == sh->nsegs - 1 && !s->o.read_only && act_rows(g) < s->geom.cap_rows &&
		    g->act->cap_rows == s->geom.cap_rows) {
			sh->active = g;
			sh->nsegs--;
			atomic_fetch_add(&s->nactive, 1);
		} else {
			atomic_fetch_add(&s->frozen, 1);
		}
	}
	return 0;
}

static int recover_part(struct store *s, const char *name)
{
	char *end;
	long long start = strtoll(name + 1, &end, 10);
	struct part *p;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (*end != '\0' || start % s->o.partition_ms != 0) {
		char msg[700];
		snprintf(msg, sizeof msg, "%s/%s: not a partition of this store; ignored", s->dir, name);
		store_problem(s, msg);
		return 0;
	}
	p = store_part_new(s, start);
	if (!p)
		return -ENOMEM;
	d = opendir(p->dir);
	if (!d) {
		store_part_free(s, p);
		return -errno;
	}
	while ((de = readdir(d)) && rc == 0)
		if (de->d_name[0] != '.')
			rc = recover_file(s, p, de->d_name);
	closedir(d);
	for (uint32_t i = 0; i < s->o.shards && rc == 0; i++)
		rc = settle_shard(s, &p->shards[i]);
	if (rc == 0)
		rc = store_part_insert(s, p);
	if (rc < 0)
		store_part_free(s, p);
	return rc;
}

static int recover_all(struct store *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && rc == 0)
		if (de->d_name[0] == 'p' && de->d_name[1] >= '0' && de->d_name[1] <= '9')
			rc = recover_part(s, de->d_name);
	closedir(d);
	return rc;
}

static void apply_defaults(struct store_opts *o)
{
	if (!o->shards)
		o->shards = 16;
	if (!o->partition_ms)
		o->partition_ms = 3600000;
	if (!o->seg_rows)
		o->seg_rows = 1u << 20;
	if (!o->max_active)
		o->max_active = 256;
	if (!o->idle_seal_ms)
		o->idle_seal_ms = 300000;
}

int store_open(const char *dir, const struct store_opts *opts, struct store **out, char *errbuf,
	       size_t errlen)
{
	char path[600], dummy[8];
	struct store *s;
	int rc;

	if (!errbuf) {
		errbuf = dummy;
		errlen = sizeof dummy;
	}
	errbuf[0] = '\0';
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	if (opts)
		s->o = *opts;
	apply_defaults(&s->o);
	if (s->o.partition_ms < 1000 || s->o.shards > 4096) {
		snprintf(errbuf, errlen, "partition span must be >= 1000 ms and shards <= 4096");
		free(s);
		return ERR_INVALID;
	}
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	pthread_rwlock_init(&s->parts_lock, NULL);
	pthread_mutex_init(&s->reg_mu, NULL);
	pthread_mutex_init(&s->prob_mu, NULL);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_mutex_init(&s->maint_mu, NULL);
	pthread_mutex_init(&s->seal_mu, NULL);
	pthread_cond_init(&s->seal_cv, NULL);
	read_boot_id(s->boot_id);

	if (!s->o.read_only && mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(errbuf, errlen, "%s: cannot create: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/spoor.lock", dir);
	s->lock_fd = open(path, (s->o.read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
	if (s->lock_fd < 0 && !(s->o.read_only && errno == ENOENT)) {
		rc = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (s->lock_fd >= 0 && flock(s->lock_fd, (s->o.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		rc = -errno;
		snprintf(errbuf, errlen, "%s: data directory is in use by another process", dir);
		goto fail;
	}
	if ((rc = store_meta_load_or_create(s, errbuf, errlen)) < 0)
		goto fail;
	act_geom_default(s->o.seg_rows, &s->geom);
	if ((rc = recover_all(s)) < 0) {
		snprintf(errbuf, errlen, "%s: recovery failed: %s", dir, err_str(rc));
		goto fail;
	}
	if (!s->o.read_only && !s->o.no_background) {
		if (pthread_create(&s->sealer, NULL, store_sealer_main, s) != 0) {
			rc = -EAGAIN;
			snprintf(errbuf, errlen, "cannot start the sealer thread");
			goto fail;
		}
		s->sealer_on = 1;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_stop_sealer(struct store *s)
{
	if (!s->sealer_on)
		return;
	pthread_mutex_lock(&s->seal_mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->seal_cv);
	pthread_mutex_unlock(&s->seal_mu);
	pthread_join(s->sealer, NULL);
	s->sealer_on = 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_stop_sealer(s);
	if (!s->o.read_only)
		store_sync(s);
	for (size_t i = 0; i < s->nparts; i++)
		store_part_free(s, s->parts[i]);
	free(s->parts);
	for (size_t i = 0; i < s->nopen; i++)
		seg_unref(s->open[i]);
	free(s->open);
	for (size_t i = 0; i < s->nprobs; i++)
		free(s->probs[i]);
	free(s->probs);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_rwlock_destroy(&s->parts_lock);
	pthread_mutex_destroy(&s->reg_mu);
	pthread_mutex_destroy(&s->prob_mu);
	pthread_mutex_destroy(&s->sync_mu);
	pthread_mutex_destroy(&s->maint_mu);
	pthread_mutex_destroy(&s->seal_mu);
	pthread_cond_destroy(&s->seal_cv);
	free(s);
}

void store_get_opts(const struct store *s, struct store_opts *out)
{
	*out = s->o;
}
