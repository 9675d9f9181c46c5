/*
 * test_enospc.c — a full disk fails appends cleanly: committed rows stay,
 * the refused events are not half-stored, and appends work again in the same
 * process once space is back.
 *
 * The disk is a 64 MiB tmpfs mounted in a private mount namespace of the
 * test process (Criterion runs each test in its own process), filled with a
 * ballast file; where mounting is not allowed, RLIMIT_FSIZE stands in (files
 * may not grow past the largest one so far) and the error is -EFBIG.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "err.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define EN_MAX_KEYS 20000

/* w 0: before the disk fills (4 partitions); w 1: while full, spread over
 * 100 partitions so new segment files are needed all the time, some with
 * 8 KiB props; w 2: after space is back, over the same partitions. */
static const struct st_gen en_gen0 = {.ts0 = 1700000000000,
				      .ts_step = 100,
				      .ts_slots = 40,
				      .nsessions = 20,
				      .ids = ST_ID_SOMETIMES,
				      .pad_max = 100};
static const struct st_gen en_gen1 = {.ts0 = 1700000000000,
				      .ts_step = 500,
				      .ts_slots = 200,
				      .nsessions = 50,
				      .ids = ST_ID_SOMETIMES,
				      .big_every = 3,
				      .pad_max = 2000};

static int mount_tmpfs(const char *dir)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount("spoor-enospc", dir, "tmpfs", 0, "size=64m") < 0)
		return -errno;
	return 0;
}

/* Fills the file system of dir with path; returns bytes written. */
static int64_t fill_disk(const char *path)
{
	static char chunk[65536];
	int64_t total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	for (size_t sz = sizeof chunk; sz >= 512; sz /= 2)
		for (;;) {
			ssize_t n = write(fd, chunk, sz);
			if (n <= 0)
				break;
			total += n;
		}
	close(fd);
	return total;
}

/* Largest file under dir. */
static int64_t largest_file(const char *dir)
{
	char *paths[512];
	int n = st_find_files(dir, "", paths, 512);
	int64_t max = 0;
	cr_assert_gt(n, 0);
	for (int i = 0; i < n && i < 512; i++) {
		int64_t sz = st_file_size(paths[i]);
		if (sz > max)
			max = sz;
	}
	st_free_paths(paths, n < 512 ? n : 512);
	return max;
}

/* Checks a snapshot: (0, k < n0) all once; (1, k) once if acked, absent if
 * refused; (2, k < n2) all once. */
static void verify_state(struct store *s, const uint8_t *acked1, const uint8_t *refused1,
			 uint32_t n1, uint32_t n0, uint32_t n2, const char *stage)
{
	const struct st_gen *gens[] = {&en_gen0, &en_gen1, &en_gen1};
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = 1000};
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 3, EN_MAX_KEYS), 0);
	cr_assert_eq(st_verify(snap, gens, 3, &seen, &sc), 0, "%s: %s", stage, sc.err);
	for (uint32_t k = 0; k < n0; k++)
		cr_assert_eq(st_seen_get(&seen, 0, k), 1,
			     "%s: event (0, %u) committed before the "
			     "disk filled: seen %u times",
			     stage, k, st_seen_get(&seen, 0, k));
	for (uint32_t k = 0; k < n1; k++) {
		unsigned c = st_seen_get(&seen, 1, k);
		if (acked1[k])
			cr_assert_eq(c, 1, "%s: acknowledged event (1, %u) seen %u times", stage, k,
				     c);
		if (refused1[k])
			cr_assert_eq(c, 0, "%s: refused event (1, %u) stored anyway", stage, k);
	}
	for (uint32_t k = 0; k < n2; k++)
		cr_assert_eq(st_seen_get(&seen, 2, k), 1, "%s: event (2, %u) seen %u times", stage,
			     k, st_seen_get(&seen, 2, k));
	store_snap_release(snap);
	st_seen_fini(&seen);
}

Test(enospc, full_disk_refuses_appends_keeps_committed_rows_and_recovers_in_process)
{
	char dir[256], ballast[300];
	struct store_opts o = {
	    .shards = 2, .partition_ms = 1000, .seg_rows = 2000, .no_background = 1};
	uint8_t *acked1 = calloc(EN_MAX_KEYS, 1), *refused1 = calloc(EN_MAX_KEYS, 1);
	struct st_ev *ev = malloc(16 * sizeof *ev);
	struct store_event v[16];
	int8_t st[16];
	struct rlimit old_rl;

	cr_assert(acked1 && refused1 && ev);
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "enospc"));
	int tmpfs = mount_tmpfs(dir) == 0;
	cr_log_info("enospc: %s", tmpfs ? "tmpfs" : "RLIMIT_FSIZE");
	snprintf(ballast, sizeof ballast, "%s/ballast", dir);

	struct store *s = st_open(dir, &o);
	const uint32_t n0 = 300;
	for (uint32_t k = 0; k < n0; k += 10) {
		for (uint32_t i = 0; i < 10; i++)
			st_gen_event(&en_gen0, 0, k + i, &ev[i]);
		st_append_ok(s, ev, 10);
	}

	if (tmpfs) {
		cr_assert_gt(fill_disk(ballast), 0);
	} else {
		struct rlimit rl;
		signal(SIGXFSZ, SIG_IGN);
		cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old_rl), 0);
		rl = old_rl;
		rl.rlim_cur = (rlim_t)largest_file(dir) - 1;
		cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	}

	/* append while full: some batches go through (room left in open
	 * segments), the rest must fail with the disk's error */
	uint32_t k = 0, failed_batches = 0;
	while (k + 16 <= EN_MAX_KEYS && failed_batches < 20) {
		for (uint32_t i = 0; i < 16; i++) {
			st_gen_event(&en_gen1, 1, k + i, &ev[i]);
			v[i] = ev[i].ev;
			st[i] = 99; /* must be overwritten */
		}
		int rc = store_append(s, v, 16, st);
		int ok = 0, bad = 0;
		for (uint32_t i = 0; i < 16; i++) {
			if (st[i] == STORE_OK) {
				acked1[k + i] = 1;
				ok++;
			} else {
				cr_assert(st[i] == -ENOSPC || st[i] == -EFBIG,
					  "event (1, %u): status %d, want -ENOSPC or -EFBIG", k + i,
					  st[i]);
				refused1[k + i] = 1;
				bad++;
			}
		}
		cr_assert(rc == ok || rc == -ENOSPC || rc == -EFBIG,
			  "store_append = %d with %d events committed", rc, ok);
		failed_batches += bad > 0;
		k += 16;
	}
	const uint32_t n1 = k;
	cr_assert_gt(failed_batches, 0, "%u events appended to a full disk without an error", n1);
	verify_state(s, acked1, refused1, n1, n0, 0, "disk full");
	/* a seal on a full disk fails or not, but leaves every row readable */
	int sealed = store_seal_all(s);
	cr_log_info("enospc: store_seal_all on a full disk = %d", sealed);
	verify_state(s, acked1, refused1, n1, n0, 0, "seal attempted on a full disk");

	/* space is back: the same process appends again, into the same
	 * partitions that failed */
	if (tmpfs)
		cr_assert_eq(unlink(ballast), 0);
	else
		cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old_rl), 0);
	const uint32_t n2 = 200;
	for (uint32_t j = 0; j < n2; j += 16) {
		uint32_t b = n2 - j < 16 ? n2 - j : 16;
		for (uint32_t i = 0; i < b; i++)
			st_gen_event(&en_gen1, 2, j + i, &ev[i]);
		st_append_ok(s, ev, b);
	}
	for (uint32_t j = 0; j < n1; j += 16) { /* and the refused events, retried */
		uint32_t b = 0;
		for (uint32_t i = 0; i < 16 && j + i < n1; i++)
			if (refused1[j + i])
				st_gen_event(&en_gen1, 1, j + i, &ev[b++]);
		if (b)
			st_append_ok(s, ev, b);
		for (uint32_t i = 0; i < 16 && j + i < n1; i++)
			if (refused1[j + i]) {
				refused1[j + i] = 0;
				acked1[j + i] = 1;
			}
	}
	verify_state(s, acked1, refused1, n1, n0, n2, "space back");
	store_close(s);

	s = st_open(dir, &o);
	verify_state(s, acked1, refused1, n1, n0, n2, "reopened");
	cr_assert_geq(store_seal_all(s), 0);
	verify_state(s, acked1, refused1, n1, n0, n2, "reopened and sealed");
	store_close(s);

	if (tmpfs)
		umount2(dir, MNT_DETACH);
	tu_rmrf(dir);
	free(acked1);
	free(refused1);
	free(ev);
}
