/*
 * sync.c — durability: data first, then the durable count (seg_active.c
 * invariant 2), synchronously or as io_uring operations for group commit.
 *
 * For each unsealed active segment with rows past its durable count, a
 * batch holds one reference and three linked operations:
 *     FSYNC(datasync)  →  WRITE 16 bytes {rows, dict} at offsetof(durable_rows)
 *                      →  FSYNC(datasync)
 * IOSQE_IO_LINK makes each wait for the previous one and cancels the rest
 * when one fails, so the durable count is never written before the data is
 * on disk.  The 16-byte buffer lives in the batch: the kernel owns it until
 * the WRITE's completion arrives.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <liburing.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store_int.h"

struct sync_item {
	struct seg *g;    /* one ref */
	uint64_t d[2];    /* {rows, dict} to record as durable; written by the kernel's WRITE */
};

struct store_sync {
	struct store *s;
	int dir_fd[16];   /* directories with new entries: one FSYNC each */
	size_t ndirs;
	size_t n;
	unsigned done;    /* completions seen */
	int err;          /* first failure */
	struct sync_item item[];
};

/* Refs to every registered segment with undurable rows.  NULL when none. */
static struct seg **dirty_segments(struct store *s, size_t *n)
{
	struct seg **v = NULL;
	*n = 0;
	pthread_mutex_lock(&s->reg_mu);
	if (s->nopen) {
		v = malloc(s->nopen * sizeof *v);
		for (size_t i = 0; v && i < s->nopen; i++) {
			struct seg *g = s->open[i];
			if (act_rows(g) > g->act->durable_rows) {
				seg_ref(g);
				v[(*n)++] = g;
			}
		}
	}
	pthread_mutex_unlock(&s->reg_mu);
	return v;
}

size_t store_dirty_dirs(struct store *s, int *fds, size_t max)
{
	size_t n = 0;
	if (max && atomic_exchange(&s->root_dirty, 0)) {
		fds[n] = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		n += fds[n] >= 0;
	}
	pthread_rwlock_rdlock(&s->parts_lock);
	for (size_t i = 0; i < s->nparts && n < max; i++)
		if (atomic_exchange(&s->parts[i]->dir_dirty, 0)) {
			fds[n] = open(s->parts[i]->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			n += fds[n] >= 0;
		}
	pthread_rwlock_unlock(&s->parts_lock);
	return n;
}

/* Dirty segments from which store_sync() flushes the filesystem as a whole. */
#define SYNC_FS_MIN 32

/*
 * The sync of v[0..n) with two syncfs() calls instead of two fdatasyncs
 * per segment: data of every file, then every durable count written, then
 * those.  Each fdatasync costs a device cache flush (a few ms here), so a
 * store left with hundreds of dirty segments by a bulk load over many
 * partitions took seconds to sync, most of it waiting on the device.  The
 * price: the flush takes whatever else is dirty on that filesystem too.
 * dirfd: any directory of the store; d: room for n counts.  0 or -errno.
 */
static int sync_fs(int dirfd, struct seg **v, size_t n, uint64_t (*d)[2])
{
	int err = 0;

	for (size_t i = 0; i < n; i++)
		act_sync_begin(v[i], d[i]);
	if (syncfs(dirfd) < 0)
		err = -errno;
	for (size_t i = 0; i < n && !err; i++)
		err = act_write_durable(v[i], d[i]);
	if (!err && syncfs(dirfd) < 0)
		err = -errno;
	for (size_t i = 0; i < n && !err; i++)
		act_set_durable(v[i]->act, d[i]);
	return err;
}

int store_sync(struct store *s)
{
	struct seg **v;
	size_t n, nd;
	int err = 0, fds[64], dirfd = -1;
	uint64_t (*d)[2] = NULL;

	if (s->o.read_only)
		return 0;
	pthread_mutex_lock(&s->sync_mu);
	v = dirty_segments(s, &n);
	/* Many segments: one syncfs() covers them and the new directory
	 * entries, whose flags are cleared below before it starts.  What it
	 * needs is taken first, so that once the flags are cleared only the
	 * flush itself can fail. */
	if (n >= SYNC_FS_MIN && (d = malloc(n * sizeof *d)) &&
	    (dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		free(d);
		d = NULL;
	}
	do {
		nd = store_dirty_dirs(s, fds, 64);
		for (size_t i = 0; i < nd; i++) {
			if (!d && fsync(fds[i]) < 0 && !err)
				err = -errno;
			close(fds[i]);
		}
	} while (nd == 64);
	if (d) {
		int rc = sync_fs(dirfd, v, n, d);
		if (rc < 0 && !err)
			err = rc;
		close(dirfd);
		free(d);
	} else {
		for (size_t i = 0; i < n; i++) {
			int rc = act_sync(v[i]);
			if (rc < 0 && !err)
				err = rc;
		}
	}
	for (size_t i = 0; i < n; i++)
		seg_unref(v[i]);
	pthread_mutex_unlock(&s->sync_mu);
	free(v);
	return err;
}

int store_sync_prepare(struct store *s, struct store_sync **out)
{
	struct store_sync *b;
	struct seg **v;
	size_t n;

	*out = NULL;
	if (s->o.read_only)
		return 0;
	pthread_mutex_lock(&s->sync_mu);
	v = dirty_segments(s, &n);
	pthread_mutex_unlock(&s->sync_mu);
	b = calloc(1, sizeof *b + n * sizeof b->item[0]);
	if (!b) {
		for (size_t i = 0; i < n; i++)
			seg_unref(v[i]);
		free(v);
		return -ENOMEM;
	}
	b->s = s;
	b->n = n;
	b->ndirs = store_dirty_dirs(s, b->dir_fd, 16);
	if (n == 0 && b->ndirs == 0) {
		free(v);
		free(b);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct act *a = v[i]->act;
		b->item[i].g = v[i];
		b->item[i].d[0] = atomic_load_explicit(&a->hdr->rows, memory_order_acquire);
		b->item[i].d[1] = atomic_load_explicit(&a->hdr->dict, memory_order_acquire);
	}
	free(v);
	*out = b;
	return 0;
}

unsigned store_sync_sqes(const struct store_sync *b)
{
	return b ? (unsigned)(3 * b->n + b->ndirs) : 0;
}

int store_sync_submit(struct store_sync *b, struct io_uring *ring, uint64_t tag)
{
	if (io_uring_sq_space_left(ring) < store_sync_sqes(b))
		return -EBUSY;
	for (size_t i = 0; i < b->ndirs; i++) {
		struct io_uring_sqe *q = io_uring_get_sqe(ring);
		io_uring_prep_fsync(q, b->dir_fd[i], 0);
		io_uring_sqe_set_data64(q, tag);
	}
	for (size_t i = 0; i < b->n; i++) {
		int fd = b->item[i].g->fd;
		struct io_uring_sqe *q;

		q = io_uring_get_sqe(ring);
		io_uring_prep_fsync(q, fd, IORING_FSYNC_DATASYNC);
		q->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data64(q, tag);
		q = io_uring_get_sqe(ring);
		io_uring_prep_write(q, fd, b->item[i].d, sizeof b->item[i].d,
				    offsetof(struct act_hdr, durable_rows));
		q->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data64(q, tag);
		q = io_uring_get_sqe(ring);
		io_uring_prep_fsync(q, fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(q, tag);
	}
	return 0;
}

int store_sync_cqe(struct store_sync *b, int res, int *err)
{
	b->done++;
	if (res < 0 && !b->err)
		b->err = res;
	if (b->done < store_sync_sqes(b))
		return 0;
	if (!b->err) {
		pthread_mutex_lock(&b->s->sync_mu);
		for (size_t i = 0; i < b->n; i++)
			act_set_durable(b->item[i].g->act, b->item[i].d);
		pthread_mutex_unlock(&b->s->sync_mu);
	}
	*err = b->err;
	return 1;
}

void store_sync_release(struct store_sync *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		seg_unref(b->item[i].g);
	for (size_t i = 0; i < b->ndirs; i++)
		close(b->dir_fd[i]);
	free(b);
}
