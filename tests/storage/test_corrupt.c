/*
 * test_corrupt.c — damaged files are reported and skipped, never fatal, and
 * never hide the undamaged data; a directory of another format version is
 * refused.
 *
 * Layout used (docs/architecture.md): DIR/spoor.meta starts with
 * "spoor-format N"; partition directories are DIR/p<start_ms>/; a sealed
 * segment *.seg holds its column blocks from byte 256 up to the dictionary,
 * whose offset is the u64 at byte 72 of its header.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "storage.h"
#include "storage_testutil.h"
#include "testutil.h"

#define CO_PART_MS 1000
#define CO_BASE	   1700000000000
#define CO_N0	   20000 /* sealed, then damaged: three blocks of 8192 rows */
#define CO_N1	   2000	 /* active, then truncated */
#define CO_N2	   500	 /* sealed, untouched */
#define CO_N3	   500	 /* active, untouched */

static struct st_gen co_gen(uint32_t part)
{
	struct st_gen g = {.ts0 = CO_BASE + part * CO_PART_MS,
			   .ts_step = 1,
			   .ts_slots = 1000,
			   .nsessions = 25,
			   .ids = ST_ID_SOMETIMES,
			   .pad_max = 150};
	return g;
}

static void append_part(struct store *s, uint32_t part, uint32_t k0, uint32_t n)
{
	struct st_gen g = co_gen(part);
	struct st_ev *ev = malloc(50 * sizeof *ev);
	cr_assert_not_null(ev);
	for (uint32_t k = k0; k < k0 + n; k += 50) {
		uint32_t b = k0 + n - k < 50 ? k0 + n - k : 50;
		for (uint32_t i = 0; i < b; i++)
			st_gen_event(&g, part, k + i, &ev[i]);
		st_append_ok(s, ev, b);
	}
	free(ev);
}

/* The largest file under DIR/p<start>/ ending in ext; path written to out. */
static void find_part_file(const char *dir, int64_t start, const char *ext, char *out, size_t len)
{
	char sub[512];
	char *paths[16];
	int64_t best = -1;
	snprintf(sub, sizeof sub, "%s/p%" PRId64, dir, start);
	int n = st_find_files(sub, ext, paths, 16);
	cr_assert(n >= 1 && n <= 16, "%d files *%s under %s", n, ext, sub);
	for (int i = 0; i < n; i++)
		if (st_file_size(paths[i]) > best) {
			best = st_file_size(paths[i]);
			snprintf(out, len, "%s", paths[i]);
		}
	st_free_paths(paths, n);
}

/* Flips 64 bytes in the middle of the block area of a sealed segment. */
static void damage_block(const char *path)
{
	int64_t size = st_file_size(path);
	uint64_t dict_off = 0;
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &dict_off, 8, 72), 8);
	cr_assert(dict_off > 256 + 4096 && (int64_t)dict_off <= size,
		  "%s: dictionary at %" PRIu64 " of %" PRId64 " bytes: blocks too small to damage",
		  path, dict_off, size);
	off_t at = (off_t)(256 + (dict_off - 256) / 2);
	uint8_t buf[64];
	cr_assert_eq(pread(fd, buf, sizeof buf, at), (ssize_t)sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] ^= 0x5A;
	cr_assert_eq(pwrite(fd, buf, sizeof buf, at), (ssize_t)sizeof buf);
	close(fd);
}

static int problems_name(struct store *s, const char *part_and_name)
{
	const char *const *msgs;
	size_t n = store_problems(s, &msgs);
	for (size_t i = 0; i < n; i++)
		if (strstr(msgs[i], part_and_name))
			return 1;
	return 0;
}

static void dump_problems(struct store *s)
{
	const char *const *msgs;
	size_t n = store_problems(s, &msgs);
	for (size_t i = 0; i < n; i++)
		cr_log_info("problem: %s", msgs[i]);
}

/* Checks the store after the damage: untouched partitions exact, damaged
 * ones never garbage. */
static void check_after_damage(struct store *s, uint32_t extra1, const char *stage)
{
	struct st_gen g[4] = {co_gen(0), co_gen(1), co_gen(2), co_gen(3)};
	const struct st_gen *gens[] = {&g[0], &g[1], &g[2], &g[3]};
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = CO_PART_MS, .skip_corrupt = 1};

	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 4, CO_N0), 0);
	cr_assert_eq(st_verify(snap, gens, 4, &seen, &sc), 0, "%s: %s", stage, sc.err);
	cr_assert_geq(sc.corrupt_blocks, 1, "%s: the damaged block read back without error", stage);
	uint32_t n0 = 0, n1 = 0;
	for (uint32_t k = 0; k < CO_N0; k++)
		n0 += st_seen_get(&seen, 0, k);
	for (uint32_t k = 0; k < CO_N1 + extra1; k++)
		n1 += st_seen_get(&seen, 1, k);
	cr_assert_eq(n0, CO_N0 - sc.corrupt_rows,
		     "%s: damaged segment: %u rows read, %" PRIu64
		     " in damaged blocks, want %u in all",
		     stage, n0, sc.corrupt_rows, CO_N0);
	cr_assert_lt(n0, CO_N0);
	for (uint32_t k = CO_N1; k < CO_N1 + extra1; k++)
		cr_assert_eq(st_seen_get(&seen, 1, k), 1,
			     "%s: event (1, %u) appended after the "
			     "damage: seen %u times",
			     stage, k, st_seen_get(&seen, 1, k));
	cr_log_info("%s: %u of %u rows of the truncated active segment survived", stage,
		    n1 - extra1, CO_N1);
	for (uint32_t k = 0; k < CO_N2; k++)
		cr_assert_eq(st_seen_get(&seen, 2, k), 1,
			     "%s: untouched sealed event (2, %u) seen %u", stage, k,
			     st_seen_get(&seen, 2, k));
	for (uint32_t k = 0; k < CO_N3; k++)
		cr_assert_eq(st_seen_get(&seen, 3, k), 1,
			     "%s: untouched active event (3, %u) seen %u", stage, k,
			     st_seen_get(&seen, 3, k));

	/* the damaged block itself: ERR_CORRUPT, the other blocks fine */
	cr_assert_eq(store_snap_part_start(snap, 0), CO_BASE);
	size_t nsegs = store_snap_nsegs(snap, 0, 0);
	uint32_t bad = 0, nb = 0;
	struct store_cursor *c;
	cr_assert_eq(store_cursor_new(&c), 0);
	for (size_t i = 0; i < nsegs; i++) {
		const struct store_seg *g0 = store_snap_seg(snap, 0, 0, i);
		cr_assert_eq(store_seg_sealed(g0), 1);
		for (uint32_t b = 0; b < store_seg_nblocks(g0); b++, nb++) {
			struct store_block blk;
			int rc = store_cursor_read(c, g0, b, STORE_COLS_ALL, &blk);
			cr_assert(rc == 0 || rc == ERR_CORRUPT, "%s: block %u: %d (%s)", stage, b,
				  rc, err_str(rc));
			bad += rc == ERR_CORRUPT;
		}
	}
	cr_assert_eq(bad, sc.corrupt_blocks);
	cr_assert_lt(bad, nb, "%s: every block of partition 0 is refused", stage);
	store_cursor_free(c);
	store_snap_release(snap);
	st_seen_fini(&seen);
}

Test(corrupt, damaged_block_and_truncated_active_file_are_reported_and_skipped)
{
	char dir[256], seg0[600], act1[600], name[128];
	struct store_opts o = {
	    .shards = 1, .partition_ms = CO_PART_MS, .seg_rows = 30000, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "corrupt"));

	struct store *s = st_open(dir, &o);
	append_part(s, 0, 0, CO_N0);
	append_part(s, 2, 0, CO_N2);
	cr_assert_geq(store_seal_all(s), 0);
	append_part(s, 1, 0, CO_N1);
	append_part(s, 3, 0, CO_N3);
	store_close(s);

	find_part_file(dir, CO_BASE, ".seg", seg0, sizeof seg0);
	find_part_file(dir, CO_BASE + CO_PART_MS, ".act", act1, sizeof act1);
	damage_block(seg0);
	int64_t asz = st_file_size(act1);
	cr_assert_gt(asz, 0);
	cr_assert_eq(truncate(act1, asz / 2), 0);

	char errbuf[256] = "";
	s = NULL;
	int rc = store_open(dir, &o, &s, errbuf, sizeof errbuf);
	cr_assert_eq(rc, 0, "store_open of a damaged store = %d (%s): %s", rc, err_str(rc), errbuf);
	dump_problems(s);
	snprintf(name, sizeof name, "p%" PRId64 "/%s", CO_BASE, strrchr(seg0, '/') + 1);
	cr_assert(problems_name(s, name), "no problem names the damaged %s", name);
	snprintf(name, sizeof name, "p%" PRId64 "/%s", CO_BASE + CO_PART_MS,
		 strrchr(act1, '/') + 1);
	cr_assert(problems_name(s, name), "no problem names the truncated %s", name);

	check_after_damage(s, 0, "after reopen");
	/* the partition whose active file was lost takes appends again */
	append_part(s, 1, CO_N1, 100);
	check_after_damage(s, 100, "after new appends");
	store_close(s);

	s = st_open(dir, &o);
	check_after_damage(s, 100, "second reopen");
	store_close(s);
	tu_rmrf(dir);
}

Test(corrupt, garbage_files_in_the_data_directory_are_not_fatal)
{
	char dir[256], path[600];
	struct store_opts o = {.shards = 1, .partition_ms = CO_PART_MS, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "garbage"));
	struct store *s = st_open(dir, &o);
	append_part(s, 2, 0, CO_N2);
	cr_assert_geq(store_seal_all(s), 0);
	append_part(s, 3, 0, CO_N3);
	store_close(s);

	/* a seal interrupted before its rename, an empty .seg, a header-only .act */
	snprintf(path, sizeof path, "%s/p%" PRId64 "/0000-00000007.seg.tmp", dir,
		 (int64_t)CO_BASE + 3 * CO_PART_MS);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("half a seal", f);
	fclose(f);
	char tmp[600];
	snprintf(tmp, sizeof tmp, "%s", path);
	snprintf(path, sizeof path, "%s/p%" PRId64 "/0000-00000009.seg", dir,
		 (int64_t)CO_BASE + 2 * CO_PART_MS);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	snprintf(path, sizeof path, "%s/p%" PRId64 "/0000-00000009.act", dir,
		 (int64_t)CO_BASE + 3 * CO_PART_MS);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("SPOORACT", f);
	fclose(f);

	s = st_open(dir, &o);
	dump_problems(s);
	cr_assert_eq(access(tmp, F_OK), -1, "the interrupted seal's .tmp is still there");
	cr_assert(problems_name(s, "0000-00000009.seg"), "the empty .seg is not reported");
	cr_assert(problems_name(s, "0000-00000009.act"), "the header-only .act is not reported");
	struct st_gen g2 = co_gen(2), g3 = co_gen(3);
	const struct st_gen *gens[] = {&g2, &g2, &g2, &g3};
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = CO_PART_MS};
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 4, CO_N2), 0);
	cr_assert_eq(st_verify(snap, gens, 4, &seen, &sc), 0, "%s", sc.err);
	cr_assert_eq(sc.rows, CO_N2 + CO_N3);
	store_snap_release(snap);
	st_seen_fini(&seen);
	store_close(s);
	tu_rmrf(dir);
}

/* ---- format version ------------------------------------------------------ */

static void rewrite_meta_version(const char *dir, const char *from, const char *to)
{
	char path[600], text[4096], out[4200];
	snprintf(path, sizeof path, "%s/spoor.meta", dir);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char *at = strstr(text, from);
	cr_assert_not_null(at, "%s does not contain '%s': %s", path, from, text);
	snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(out, f);
	fclose(f);
}

Test(format, directory_of_another_format_version_is_refused_naming_both_versions)
{
	char dir[256], errbuf[256] = "", cur[64], other[64];
	struct store_opts o = {.shards = 2, .partition_ms = CO_PART_MS, .no_background = 1};
	cr_assert_str_not_empty(tu_tmpdir(dir, sizeof dir, "format"));
	struct store *s = st_open(dir, &o);
	append_part(s, 2, 0, 100);
	store_close(s);

	snprintf(cur, sizeof cur, "spoor-format %d\n", STORE_FORMAT_VERSION);
	snprintf(other, sizeof other, "spoor-format %d\n", STORE_FORMAT_VERSION + 40);
	rewrite_meta_version(dir, cur, other);
	s = NULL;
	int rc = store_open(dir, &o, &s, errbuf, sizeof errbuf);
	cr_assert_eq(rc, ERR_FORMAT, "store_open = %d (%s), want ERR_FORMAT", rc, err_str(rc));
	char v_other[16], v_cur[16];
	snprintf(v_other, sizeof v_other, "%d", STORE_FORMAT_VERSION + 40);
	snprintf(v_cur, sizeof v_cur, "%d", STORE_FORMAT_VERSION);
	cr_assert(strstr(errbuf, v_other), "errbuf does not name version %s: '%s'", v_other,
		  errbuf);
	char *rest = strstr(errbuf, v_other) + strlen(v_other);
	int names_cur = 0;
	for (const char *p = errbuf; (p = strstr(p, v_cur)); p++)
		names_cur |= p < strstr(errbuf, v_other) || p >= rest;
	cr_assert(names_cur, "errbuf does not name version %s: '%s'", v_cur, errbuf);

	/* refused, not touched: with the right version back, the data is there */
	rewrite_meta_version(dir, other, cur);
	s = st_open(dir, &o);
	struct st_gen g2 = co_gen(2);
	const struct st_gen *gens[] = {&g2, &g2, &g2};
	struct store_snap *snap;
	struct st_seen seen;
	struct st_scan sc = {.partition_ms = CO_PART_MS};
	cr_assert_eq(store_snap_take(s, &snap), 0);
	cr_assert_eq(st_seen_init(&seen, 3, 100), 0);
	cr_assert_eq(st_verify(snap, gens, 3, &seen, &sc), 0, "%s", sc.err);
	cr_assert_eq(sc.rows, 100);
	store_snap_release(snap);
	st_seen_fini(&seen);
	store_close(s);
	tu_rmrf(dir);
}
