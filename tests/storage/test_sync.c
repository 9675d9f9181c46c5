/*
 * test_sync.c — durability: store_sync() and the io_uring group commit
 * (store_sync_prepare/submit/cqe/release) make committed rows survive a
 * power loss.
 *
 * A power loss is simulated: a child process appends, syncs, appends more
 * without syncing and exits without closing; the parent then changes the
 * boot id in every active segment header (docs/architecture.md, struct
 * act_hdr in seg.h), which makes recovery trust only the durable count, as
 * after a reboot.  Every row synced before the "power loss" must be there.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "seg.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define SY_SYNCED   500 /* keys (0, k) appended then synced */
#define SY_UNSYNCED 300 /* keys (1, k) appended after, never synced */

static const struct st_gen sy_gen = {.ts0 = 1700000000000,
				     .ts_step = 100,
				     .ts_slots = 50,
				     .nsessions = 20,
				     .ids = ST_ID_SOMETIMES,
				     .pad_max = 200};
static const struct st_gen *sy_cur = &sy_gen; /* set before the fork */
static const struct store_opts sy_opts = {
    .shards = 2, .partition_ms = 1000, .seg_rows = 4096, .no_background = 1};

/* Appends keys (w, 0..n) in batches of 10.  Returns 0 or the first bad status. */
static int append_keys(struct store *s, uint32_t w, uint32_t n)
{
	struct st_ev *ev = malloc(10 * sizeof *ev);
	struct store_event v[10];
	int8_t st[10];
	int bad = ev ? 0 : -ENOMEM;
	for (uint32_t k = 0; !bad && k < n; k += 10) {
		for (uint32_t i = 0; i < 10; i++) {
			st_gen_event(sy_cur, w, k + i, &ev[i]);
			v[i] = ev[i].ev;
		}
		int rc = store_append(s, v, 10, st);
		for (uint32_t i = 0; i < 10; i++)
			if (st[i] != STORE_OK)
				bad = st[i] ? st[i] : -1;
		if (!bad && rc != 10)
			bad = rc < 0 ? rc : -1;
	}
	free(ev);
	return bad;
}

/* Runs one group commit through a real io_uring: prepare, submit, reap
 * every completion.  Returns "" or what went wrong. */
static const char *uring_commit(struct store *s, char *msg, size_t len)
{
	struct io_uring ring;
	struct store_sync *b = NULL;
	int rc = store_sync_prepare(s, &b);
	if (rc != 0 || !b) {
		snprintf(msg, len,
			 "store_sync_prepare after appends = %d, batch %p (want 0 and a "
			 "batch)",
			 rc, (void *)b);
		return msg;
	}
	unsigned n = store_sync_sqes(b);
	if (n == 0 || n > 4096) {
		snprintf(msg, len, "store_sync_sqes = %u", n);
		store_sync_release(b);
		return msg;
	}
	rc = io_uring_queue_init(n < 8 ? 8 : n, &ring, 0);
	if (rc < 0) {
		snprintf(msg, len, "io_uring_queue_init = %d", rc);
		store_sync_release(b);
		return msg;
	}
	msg[0] = '\0';
	const uint64_t tag = 0x5EC0DE;
	rc = store_sync_submit(b, &ring, tag);
	if (rc < 0) {
		snprintf(msg, len, "store_sync_submit = %d", rc);
		goto out;
	}
	rc = io_uring_submit(&ring);
	if (rc < 0) {
		snprintf(msg, len, "io_uring_submit = %d", rc);
		goto out;
	}
	int done = 0, err = 0;
	for (unsigned seen = 0; !done && seen < n; seen++) {
		struct io_uring_cqe *cqe;
		rc = io_uring_wait_cqe(&ring, &cqe);
		if (rc < 0) {
			snprintf(msg, len, "io_uring_wait_cqe = %d after %u completions", rc, seen);
			goto out;
		}
		if (cqe->user_data != tag) {
			snprintf(msg, len, "completion with user_data %llu, want the tag",
				 (unsigned long long)cqe->user_data);
			goto out;
		}
		done = store_sync_cqe(b, cqe->res, &err);
		io_uring_cqe_seen(&ring, cqe);
		if (done < 0) {
			snprintf(msg, len, "store_sync_cqe = %d", done);
			goto out;
		}
	}
	if (done != 1)
		snprintf(msg, len, "%u completions reaped and the batch is not done", n);
	else if (err != 0)
		snprintf(msg, len, "batch finished with error %d (%s)", err, err_str(err));
out:
	store_sync_release(b);
	io_uring_queue_exit(&ring);
	return msg;
}

/* The child of a power-loss test; mode 0: store_sync, 1: io_uring.  Writes
 * "" or an error message to fd, then exits without closing the store. */
static void child_main(const char *dir, int mode, int fd)
{
	char msg[512] = "", errbuf[256] = "";
	struct store *s = NULL;
	struct store_sync *b = (struct store_sync *)1;
	int rc = store_open(dir, &sy_opts, &s, errbuf, sizeof errbuf);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "store_open = %d: %s", rc, errbuf);
		goto out;
	}
	rc = store_sync_prepare(s, &b);
	if (rc != 0 || b != NULL) {
		snprintf(msg, sizeof msg,
			 "store_sync_prepare on a clean store = %d, batch %p "
			 "(want 0 and NULL)",
			 rc, (void *)b);
		goto out;
	}
	if ((rc = append_keys(s, 0, SY_SYNCED))) {
		snprintf(msg, sizeof msg, "append = %d", rc);
		goto out;
	}
	if (mode == 0) {
		rc = store_sync(s);
		if (rc != 0)
			snprintf(msg, sizeof msg, "store_sync = %d (%s)", rc, err_str(rc));
	} else {
		uring_commit(s, msg, sizeof msg);
	}
	if (msg[0])
		goto out;
	b = (struct store_sync *)1;
	rc = store_sync_prepare(s, &b);
	if (rc != 0 || b != NULL) {
		snprintf(msg, sizeof msg,
			 "store_sync_prepare right after the commit = %d, batch "
			 "%p (want 0 and NULL: nothing dirty)",
			 rc, (void *)b);
		goto out;
	}
	if ((rc = append_keys(s, 1, SY_UNSYNCED)))
		snprintf(msg, sizeof msg, "append after sync = %d", rc);
out:
	if (write(fd, msg, strlen(msg) + 1) < 0)
		_exit(2);
	_exit(0); /* no store_close(): as if the power went */
}

/* Gives every active segment header a boot id of another boot. */
static int forget_boot(const char *dir)
{
	char *paths[256];
	int n = st_find_files(dir, ".act", paths, 256);
	cr_assert_gt(n, 0, "no active segment file under %s", dir);
	cr_assert_leq(n, 256);
	for (int i = 0; i < n; i++) {
		uint8_t other[16];
		memset(other, 0xA5, sizeof other);
		int fd = open(paths[i], O_WRONLY);
		cr_assert_geq(fd, 0);
		cr_assert_eq(pwrite(fd, other, 16, offsetof(struct act_hdr, boot_id)), 16);
		close(fd);
	}
	st_free_paths(paths, n);
	return n;
}

static void power_loss_test(int mode, const char *tag)
{
	char dir[256], msg[600] = "";
	int fds[2];
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, tag));
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		child_main(dir, mode, fds[1]);
	}
	close(fds[1]);
	ssize_t got = 0, n;
	while ((n = read(fds[0], msg + got, sizeof msg - 1 - (size_t)got)) > 0)
		got += n;
	close(fds[0]);
	int wst;
	cr_assert_eq(waitpid(pid, &wst, 0), pid);
	cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "child died");
	cr_assert_gt(got, 0, "child wrote no result");
	cr_assert_str_empty(msg, "%s", msg);

	forget_boot(dir);
	struct store *s = st_open(dir, &sy_opts);
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = 1000};
	const struct st_gen *gens[] = {sy_cur};
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 2, SY_SYNCED), 0);
	cr_assert_eq(st_verify(snap, gens, 1, &seen, &sc), 0, "%s", sc.err);
	for (uint32_t k = 0; k < SY_SYNCED; k++)
		cr_assert_eq(st_seen_get(&seen, 0, k), 1,
			     "synced event (0, %u) seen %u times after the power loss", k,
			     st_seen_get(&seen, 0, k));
	cr_log_info("%s: %" PRIu64 " of %u unsynced rows kept", tag, sc.rows - SY_SYNCED,
		    SY_UNSYNCED);
	store_snap_release(snap);
	st_seen_fini(&seen);
	store_close(s);
	tu_rmrf(dir);
}

Test(sync, store_sync_makes_rows_survive_a_power_loss)
{
	power_loss_test(0, "sync");
}

Test(sync, store_sync_of_many_segments_at_once_makes_rows_survive_a_power_loss)
{
	/* the same keys spread over 40 one-second partitions: 80 active
	 * segments, which store_sync() flushes with syncfs() */
	struct st_gen wide = sy_gen;
	wide.ts_slots = 400;
	sy_cur = &wide;
	power_loss_test(0, "syncwide");
}

Test(sync, io_uring_group_commit_completes_and_makes_rows_survive_a_power_loss)
{
	struct io_uring probe;
	if (io_uring_queue_init(2, &probe, 0) < 0)
		cr_skip_test("io_uring is not available here");
	io_uring_queue_exit(&probe);
	power_loss_test(1, "uring");
}

Test(sync, store_sync_on_a_store_with_sealed_and_active_segments_returns_0)
{
	char dir[256];
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "sync3"));
	struct store *s = st_open(dir, &sy_opts);
	cr_assert_eq(store_sync(s), 0, "sync of an empty store");
	cr_assert_eq(append_keys(s, 0, 200), 0);
	cr_assert_geq(store_seal_all(s), 0);
	cr_assert_eq(append_keys(s, 1, 100), 0);
	cr_assert_eq(store_sync(s), 0);
	cr_assert_eq(store_sync(s), 0, "a second sync with nothing dirty");
	store_close(s);

	s = st_open(dir, &sy_opts);
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = 1000};
	const struct st_gen *gens[] = {&sy_gen};
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 2, 200), 0);
	cr_assert_eq(st_verify(snap, gens, 1, &seen, &sc), 0, "%s", sc.err);
	cr_assert_eq(sc.rows, 300);
	store_snap_release(snap);
	st_seen_fini(&seen);
	store_close(s);
	tu_rmrf(dir);
}
