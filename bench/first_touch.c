/*
 * first_touch — what the machine charges for memory an append writes for
 * the first time, per 4 KiB page, against memory written before.
 *
 *   first_touch [--mib N] [--runs R] [--dir DIR]
 *
 * storage_append writes ~75 bytes of columns per event into pages of an
 * active segment's mapping that nothing has touched yet, plus its dedup
 * tables.  On a bare-metal machine a fresh page costs well under a
 * microsecond; under some hypervisors (shadow paging) the first access to
 * every newly mapped page exits to the host, which can cost more than all
 * the rest of an append.  This prints, for N MiB (default 64) and the
 * median of R runs (default 5):
 *
 *   anon           first write to fresh anonymous memory
 *   anon+populate  madvise(MADV_POPULATE_WRITE) first, then the first write
 *                  (the two costs apart)
 *   file map       first write through a shared mapping of file pages
 *                  already in the page cache (zeros written with pwrite and
 *                  populated, as storage/ reserves space)
 *   rewrite        a second write to memory written before
 *   pwrite         pwrite() of 64 KiB calls into new pages of a file
 *   syscall        one getppid() (ns per call)
 *
 * The file goes in DIR (default /tmp) and is removed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Writes one word per cache line of [p, p + len); returns seconds. */
static double touch(char *p, size_t len, uint64_t v)
{
	double t0 = now();
	for (size_t o = 0; o < len; o += 64)
		*(volatile uint64_t *)(p + o) = v + o;
	return now() - t0;
}

static char *anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

enum { ANON, POP, POP_WRITE, FILEMAP, REWRITE, PWRITE, SYSCALL, NCASE };
static const char *const names[NCASE] = {
	"anon: first write", "anon+populate: populate", "anon+populate: first write",
	"file map: first write", "rewrite", "pwrite 64 KiB calls", "syscall (getppid)"};

static void run(size_t len, const char *path, double out[NCASE])
{
	static char buf[64 << 10];
	double pages = (double)(len / PAGE), t0;
	char *p;
	int fd;

	p = anon(len);
	out[ANON] = touch(p, len, 1) / pages;
	out[REWRITE] = touch(p, len, 2) / pages;
	munmap(p, len);

	p = anon(len);
	t0 = now();
	madvise(p, len, MADV_POPULATE_WRITE);
	out[POP] = (now() - t0) / pages;
	out[POP_WRITE] = touch(p, len, 3) / pages;
	munmap(p, len);

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	t0 = now();
	for (size_t o = 0; o < len; o += sizeof buf)
		if (pwrite(fd, buf, sizeof buf, (off_t)o) != (ssize_t)sizeof buf) {
			perror("pwrite");
			exit(1);
		}
	out[PWRITE] = (now() - t0) / pages;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap file");
		exit(1);
	}
	madvise(p, len, MADV_POPULATE_WRITE);
	out[FILEMAP] = touch(p, len, 4) / pages;
	munmap(p, len);
	close(fd);
	unlink(path);

	t0 = now();
	for (int i = 0; i < 100000; i++)
		syscall(SYS_getppid);
	out[SYSCALL] = (now() - t0) / 100000;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t mib = 64;
	int runs = 5;
	const char *dir = "/tmp";
	char path[512];
	double r[32][NCASE], col[32];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mib") && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "usage: first_touch [--mib N] [--runs R] [--dir DIR]\n");
			return 2;
		}
	}
	if (mib < 1 || mib > 4096 || runs < 1 || runs > 32) {
		fprintf(stderr, "first_touch: need 1 <= mib <= 4096, 1 <= runs <= 32\n");
		return 2;
	}
	snprintf(path, sizeof path, "%s/first_touch.%d", dir, (int)getpid());
	for (int k = 0; k < runs; k++)
		run(mib << 20, path, r[k]);
	printf("first_touch: %zu MiB, median of %d runs\n", mib, runs);
	for (int c = 0; c < NCASE; c++) {
		for (int k = 0; k < runs; k++)
			col[k] = r[k][c];
		qsort(col, (size_t)runs, sizeof col[0], cmp_d);
		double v = col[runs / 2] * 1e9;
		if (c == SYSCALL)
			printf("  %-28s %8.0f ns per call\n", names[c], v);
		else
			printf("  %-28s %8.0f ns per 4 KiB page (%.2f ns/byte)\n", names[c], v,
			       v / PAGE);
	}
	return 0;
}
