/*
 * seg_util.c — reference counting of segments and small file helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "seg.h"

void sealed_free(struct sealed *sl); /* seg_sealed.c */

void seg_ref(struct seg *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void seg_unref(struct seg *g)
{
	if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (g->map)
		munmap(g->map, g->map_len);
	if (g->fd >= 0)
		close(g->fd);
	if (g->act) {
		struct dict_tab *t = atomic_load(&g->act->dict), *o;
		free(t);
		for (o = g->act->dict_old; o; o = t) {
			t = o->next_old;
			free(o);
		}
		act_dup_free(g->act);
		free(g->act);
	}
	if (g->sl)
		sealed_free(g->sl);
	free(g);
}

int scratch_reserve(struct seg_scratch *s, int slot, size_t n)
{
	if (s->cap[slot] >= n)
		return 0;
	size_t cap = s->cap[slot] ? s->cap[slot] : 4096;
	while (cap < n)
		cap *= 2;
	void *p = realloc(s->buf[slot], cap);
	if (!p)
		return -ENOMEM;
	s->buf[slot] = p;
	s->cap[slot] = cap;
	return 0;
}

void scratch_free(struct seg_scratch *s)
{
	for (size_t i = 0; i < sizeof s->buf / sizeof s->buf[0]; i++)
		free(s->buf[i]);
	memset(s, 0, sizeof *s);
}

int fsync_dir_of(const char *path)
{
	char dir[512];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int read_boot_id(uint8_t out[16])
{
	char text[64] = {0};
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int k = 0;

	memset(out, 0, 16);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	for (ssize_t i = 0; i < n && k < 32; i++) {
		int c = text[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue;
		out[k / 2] = (uint8_t)(out[k / 2] << 4 | v);
		k++;
	}
	return 0;
}

uint64_t file_disk_bytes(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
