/*
 * seg_active.c — active segments: one preallocated, mmap'd file per
 * (partition, shard), appended under the shard lock.
 *
 * File layout (all integers little-endian, regions page aligned):
 *
 *   page 0        struct act_hdr (seg.h): magic, geometry, boot id,
 *                 @128 rows (commit point), @136 dict,
 *                 @192 durable_rows, @200 durable_dict
 *   AR_DICT_OFF   u32[cap_dict + 1]  dictionary entry boundaries
 *   AR_DICT_BYTES                    dictionary strings, concatenated
 *   AR_TS .. AR_FLAGS                one fixed-width column each
 *   AR_ID_OFF     u32[cap_rows + 1]  id boundaries (off[0] = 0)
 *   AR_PROPS_OFF  u32[cap_rows + 1]  props boundaries
 *   AR_ID_BYTES, AR_PROPS_BYTES      concatenated bytes
 *
 * Invariants:
 *  1. Every byte a committed row refers to (its column slots, its dictionary
 *     entries, its id/props bytes) is written before `rows` is published
 *     with a release store; readers load `rows` with acquire and never look
 *     past it.  So after kill -9 (page cache intact) rows [0, rows) are whole.
 *  2. `durable_rows` is written only after an fdatasync covering rows
 *     [0, durable_rows) returned, and is itself synced after.  After a
 *     power loss (the boot id differs) recovery trusts durable_rows only.
 *  3. Disk space is reserved (zeros written with pwrite, see reserve())
 *     before any byte of it is written through the mapping, so a full disk
 *     is an error code, never SIGBUS.
 *  4. Dictionary id 0 is the empty string; ids never change while active.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL /* short keys: inlined hashing is much cheaper than a call */
#include <xxhash.h>

#include "err.h"
#include "seg.h"

static uint64_t page_up(uint64_t n)
{
	return (n + SEG_PAGE - 1) & ~(uint64_t)(SEG_PAGE - 1);
}

void act_geom_default(uint32_t cap_rows, struct act_geom *g)
{
	if (cap_rows < 16)
		cap_rows = 16;
	g->cap_rows = cap_rows;
	g->cap_dict = cap_rows / 2 < 1024 ? 1024 : cap_rows / 2;
	g->cap_dict_bytes = (uint64_t)cap_rows * 24 < (1u << 20) ? (1u << 20) : (uint64_t)cap_rows * 24;
	g->cap_id_bytes = (uint64_t)cap_rows * 16 < (1u << 16) ? (1u << 16) : (uint64_t)cap_rows * 16;
	g->cap_props_bytes =
		(uint64_t)cap_rows * 64 < (1u << 18) ? (1u << 18) : (uint64_t)cap_rows * 64;
}

/* Fills region offsets and capacities from the header's geometry; returns
 * the total file size. */
static uint64_t layout(struct act *a, const struct act_hdr *h)
{
	uint64_t rows = h->cap_rows, off = SEG_PAGE;
	uint64_t cap[AR_N] = {
		[AR_DICT_OFF] = ((uint64_t)h->cap_dict + 1) * 4,
		[AR_DICT_BYTES] = h->cap_dict_bytes,
		[AR_TS] = rows * 8,
		[AR_RECV] = rows * 8,
		[AR_SESSION] = rows * 4,
		[AR_USER] = rows * 4,
		[AR_TYPE] = rows * 4,
		[AR_TARGET] = rows * 4,
		[AR_URL] = rows * 4,
		[AR_X] = rows * 4,
		[AR_Y] = rows * 4,
		[AR_FLAGS] = rows,
		[AR_ID_OFF] = (rows + 1) * 4,
		[AR_PROPS_OFF] = (rows + 1) * 4,
		[AR_ID_BYTES] = h->cap_id_bytes,
		[AR_PROPS_BYTES] = h->cap_props_bytes,
	};
	for (int r = 0; r < AR_N; r++) {
		a->region_off[r] = off;
		a->region_cap[r] = page_up(cap[r]);
		off += a->region_cap[r];
	}
	return off;
}

#define REG(a, r, type) ((type *)((char *)(a)->hdr + (a)->region_off[r]))

/* Writes zeros over [off, off + len) of the file.  0 or -errno. */
static int write_zeros(int fd, uint64_t off, uint64_t len)
{
	static const char zero[64 << 10];
	while (len) {
		size_t n = len < sizeof zero ? (size_t)len : sizeof zero;
		ssize_t w = pwrite(fd, zero, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EFBIG ? -ENOSPC : -errno;
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

/*
 * Makes sure bytes [0, need) of region r have disk space.  Returns 0,
 * ERR_FULL when need exceeds the region, or -errno (-ENOSPC).
 *
 * Space is reserved by writing zeros, not with fallocate: fallocate leaves
 * unwritten extents, and the first store through the mapping into one makes
 * ext4 start a journal handle in its page-fault path, which waits for
 * whatever journal commit the periodic fdatasync has in flight (tens of ms
 * of stall on the append path).  Written zeros are ordinary blocks once
 * synced, so later faults take the fast path and fdatasync has no metadata
 * to commit.  The filesystem still refuses the zeros with ENOSPC up front.
 * Callers guarantee [region_alloc, need) holds no data yet.
 */
static int reserve(struct seg *g, int r, uint64_t need)
{
	struct act *a = g->act;
	uint64_t have = a->region_alloc[r], grow, chunk;
	int rc;

	if (need <= have)
		return 0;
	if (need > a->region_cap[r])
		return ERR_FULL;
	/* Grow geometrically from 8 KiB up to 256 KiB at a time: small
	 * segments stay small on disk (a bulk load over many partitions leaves
	 * hundreds of them, whose reserved zeros the next sync writes out:
	 * 64 KiB per region had made that 1 MiB per segment), and no single
	 * reservation (zeros written, pages mapped) stalls the append path for
	 * more than a fraction of a millisecond. */
	chunk = have < (256u << 10) ? have : (256u << 10);
	if (chunk < (8u << 10))
		chunk = 8u << 10;
	grow = page_up(need - have);
	if (grow < chunk)
		grow = chunk;
	if (have + grow > a->region_cap[r])
		grow = a->region_cap[r] - have;
	if ((rc = write_zeros(g->fd, a->region_off[r] + have, grow)) < 0)
		return rc;
	/* Map the new range writable now, in one call, instead of one page
	 * fault per 4 KiB as rows arrive (EINVAL on kernels before 5.14: then
	 * the faults happen as usual). */
	madvise((char *)a->hdr + a->region_off[r] + have, grow, MADV_POPULATE_WRITE);
	a->region_alloc[r] = have + grow;
	g->disk_bytes += grow;
	return 0;
}

/* After recovery: the bytes each region holds, rounded up to pages, count
 * as reserved, so reserve() never writes zeros over them. */
static void set_reserved(struct act *a)
{
	static const uint8_t width[AR_N] = {
		[AR_TS] = 8, [AR_RECV] = 8, [AR_SESSION] = 4, [AR_USER] = 4, [AR_TYPE] = 4,
		[AR_TARGET] = 4, [AR_URL] = 4, [AR_X] = 4, [AR_Y] = 4, [AR_FLAGS] = 1,
		[AR_ID_OFF] = 4, [AR_PROPS_OFF] = 4};
	for (int r = 0; r < AR_N; r++) {
		uint64_t used;
		switch (r) {
		case AR_DICT_OFF: used = ((uint64_t)a->ndict + 1) * 4; break;
		case AR_DICT_BYTES: used = a->dict_bytes; break;
		case AR_ID_BYTES: used = a->id_bytes; break;
		case AR_PROPS_BYTES: used = a->props_bytes; break;
		case AR_ID_OFF:
		case AR_PROPS_OFF: used = (a->nrows + 1) * 4; break;
		default: used = a->nrows * width[r]; break;
		}
		used = page_up(used);
		a->region_alloc[r] = used < a->region_cap[r] ? used : a->region_cap[r];
	}
}

/* ---- dictionary ---------------------------------------------------------- */

static int64_t dict_find(const struct act *a, const char *p, size_t n, uint64_t h)
{
	const uint32_t *off = REG(a, AR_DICT_OFF, const uint32_t);
	const char *bytes = REG(a, AR_DICT_BYTES, const char);
	const struct dict_tab *t = atomic_load_explicit(&a->dict, memory_order_acquire);
	uint64_t tag = h >> 32;
	uint32_t i = (uint32_t)tag & t->mask; /* the slot keeps only the high half */

	for (;;) {
		uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_acquire);
		if (s == 0)
			return -ENOENT;
		if ((s >> 32) == tag) {
			uint32_t id = (uint32_t)s - 1;
			if (off[id + 1] - off[id] == n && memcmp(bytes + off[id], p, n) == 0)
				return id;
		}
		i = (i + 1) & t->mask;
	}
}

static void tab_put(struct dict_tab *t, uint64_t slot)
{
	uint32_t i = (uint32_t)(slot >> 32) & t->mask;
	while (atomic_load_explicit(&t->slots[i], memory_order_relaxed))
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slots[i], slot, memory_order_release);
}

static struct dict_tab *tab_new(uint32_t nslots)
{
	struct dict_tab *t = calloc(1, sizeof *t + (size_t)nslots * sizeof t->slots[0]);
	if (t)
		t->mask = nslots - 1;
	return t;
}

/* Adds id with hash h; doubles the table first when half full.  The
 * writer alone calls it (shard lock or recovery). */
static int dict_slot_put(struct act *a, uint64_t h, uint32_t id)
{
	struct dict_tab *t = atomic_load_explicit(&a->dict, memory_order_relaxed);
	if ((a->dict_used + 1) * 2 > t->mask + 1) {
		struct dict_tab *nt = tab_new((t->mask + 1) * 2);
		if (!nt)
			return -ENOMEM;
		for (uint32_t i = 0; i <= t->mask; i++) {
			uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
			if (s)
				tab_put(nt, s);
		}
		t->next_old = a->dict_old;
		a->dict_old = t;
		atomic_store_explicit(&a->dict, nt, memory_order_release);
		t = nt;
	}
	tab_put(t, ((h >> 32) << 32) | ((uint64_t)id + 1));
	a->dict_used++;
	return 0;
}

/* The id of string p[0..n), adding it when new.  Returns the id, ERR_FULL
 * when the dictionary has no room, or -errno when space cannot be reserved. */
static int64_t dict_intern(struct seg *g, const char *p, size_t n)
{
	struct act *a = g->act;
	uint32_t *off;
	uint64_t h;
	int64_t id;
	int rc;

	if (n == 0)
		return 0;
	h = XXH3_64bits(p, n);
	id = dict_find(a, p, n, h);
	if (id >= 0)
		return id;
	if (a->ndict >= a->cap_dict)
		return ERR_FULL;
	if ((rc = reserve(g, AR_DICT_BYTES, (uint64_t)a->dict_bytes + n)) < 0 ||
	    (rc = reserve(g, AR_DICT_OFF, ((uint64_t)a->ndict + 2) * 4)) < 0)
		return rc;
	off = REG(a, AR_DICT_OFF, uint32_t);
	memcpy(REG(a, AR_DICT_BYTES, char) + a->dict_bytes, p, n);
	a->dict_bytes += (uint32_t)n;
	off[a->ndict + 1] = a->dict_bytes;
	if ((rc = dict_slot_put(a, h, (uint32_t)a->ndict)) < 0)
		return rc;
	return a->ndict++;
}

int64_t act_lookup(const struct seg *g, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	return dict_find(g->act, p, n, XXH3_64bits(p, n));
}

struct store_str act_str(const struct seg *g, uint32_t id)
{
	const struct act *a = g->act;
	const uint32_t *off = REG(a, AR_DICT_OFF, const uint32_t);
	struct store_str s = {"", 0};

	if (id == 0 || id >= atomic_load_explicit(&a->hdr->dict, memory_order_acquire))
		return s;
	s.p = REG(a, AR_DICT_BYTES, const char) + off[id];
	s.n = off[id + 1] - off[id];
	return s;
}

/* ---- dedup --------------------------------------------------------------- */

/*
 * Dedup: one small open-addressing table per session, indexed by the
 * session's dictionary id, so the events of a batch (usually one session)
 * probe a table that is already in cache.  Slot = row + 1, 0 empty; a probe
 * starts at the id's hash and compares the id bytes of the rows it meets
 * (recent rows of the same session, in cache).
 *
 * Memory is what these tables cost, not probing: on the virtual machines
 * spoor is measured on, the first touch of an anonymous page costs ~10-16
 * us, as much as an event's whole append.  So slots are 4 bytes (a session
 * of 100 ids ends in one 1 KiB table), tables are cut from a per-segment
 * arena mapped ahead in 256 KiB steps, and a table outgrown goes to a free
 * list per size for the next session instead of being left behind.
 */
struct dup_tab {
	uint32_t mask, used;
	uint32_t slots[];
};

struct dup_arena {
	size_t map_len;             /* the mapping: a->dup, then the arena */
	char *base;                 /* the arena: reserved, mapped in as used */
	size_t cap, used, ready;    /* bytes reserved / handed out / mapped in */
	struct dup_tab *free[32];   /* outgrown tables by log2(slots) */
};

/* Bytes of the arena per row of the segment: ~10 are used by sessions of
 * ~100 ids; a store of one-event sessions runs out and falls back to malloc. */
#define DUP_ARENA_PER_ROW 24

static int id_eq(const struct act *a, uint32_t r, const char *p, size_t n)
{
	const uint32_t *ioff = REG(a, AR_ID_OFF, const uint32_t);
	return ioff[r + 1] - ioff[r] == n && memcmp(REG(a, AR_ID_BYTES, const char) + ioff[r], p, n) == 0;
}

/* Row already holding (sid, id), or -1; *hout gets the id's hash. */
static int64_t dup_find(struct act *a, uint32_t sid, const char *p, size_t n, uint64_t *hout)
{
	uint64_t h = XXH3_64bits(p, n);
	const struct dup_tab *t = a->dup ? a->dup[sid] : NULL;

	*hout = h;
	if (!t)
		return -1;
	for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t s = t->slots[i];
		if (s == 0)
			return -1;
		if (id_eq(a, s - 1, p, n))
			return s - 1;
	}
}

static void dup_slot(struct dup_tab *t, uint32_t h, uint32_t s)
{
	uint32_t i = h & t->mask;
	while (t->slots[i])
		i = (i + 1) & t->mask;
	t->slots[i] = s;
	t->used++;
}

static int dup_in_arena(const struct dup_arena *d, const struct dup_tab *t)
{
	return (const char *)t >= d->base && (const char *)t < d->base + d->cap;
}

/* A zeroed table of n slots: from the free list, the arena, or malloc. */
static struct dup_tab *dup_alloc(struct act *a, uint32_t n)
{
	struct dup_arena *d = a->dup_arena;
	size_t size = sizeof(struct dup_tab) + (size_t)n * sizeof(uint32_t);
	unsigned cls = (unsigned)__builtin_ctz(n);
	struct dup_tab *t;

	size = (size + 7) & ~(size_t)7;
	if ((t = d->free[cls])) {
		memcpy(&d->free[cls], t->slots, sizeof t);
		memset(t, 0, size);
	} else if (d->used + size <= d->cap) {
		if (d->used + size > d->ready) {
			size_t grow = 256u << 10;
			if (d->ready + grow > d->cap)
				grow = d->cap - d->ready;
			madvise(d->base + d->ready, grow, MADV_POPULATE_WRITE);
			d->ready += grow;
		}
		t = (struct dup_tab *)(d->base + d->used); /* never used: zeros */
		d->used += size;
	} else if (!(t = calloc(1, size))) {
		return NULL;
	}
	t->mask = n - 1;
	return t;
}

static void dup_release(struct act *a, struct dup_tab *t)
{
	struct dup_arena *d = a->dup_arena;
	if (dup_in_arena(d, t)) {
		unsigned cls = (unsigned)__builtin_ctz(t->mask + 1);
		memcpy(t->slots, &d->free[cls], sizeof t);
		d->free[cls] = t;
	} else {
		free(t);
	}
}

/* Makes room for one more id of session sid: allocates or doubles its table. */
static int dup_grow(struct act *a, uint32_t sid)
{
	const uint32_t *ioff = REG(a, AR_ID_OFF, const uint32_t);
	const char *ib = REG(a, AR_ID_BYTES, const char);
	struct dup_tab *t, *nt;

	if (!a->dup) {
		/* One mapping: the table pointers by session id, then the arena.
		 * The kernel's zero pages, touched as ids come: a calloc of the
		 * pointers (4 MiB for a 1 M-row segment) was zeroed by memset
		 * once malloc's mmap threshold had grown past it, for every
		 * segment. */
		struct dup_arena *d = calloc(1, sizeof *d);
		size_t ptrs = ((size_t)a->cap_dict * sizeof *a->dup + SEG_PAGE - 1) & ~(size_t)(SEG_PAGE - 1);
		char *m;
		if (!d)
			return -ENOMEM;
		d->cap = (size_t)a->cap_rows * DUP_ARENA_PER_ROW;
		m = mmap(NULL, ptrs + d->cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED) {
			free(d);
			return -ENOMEM;
		}
		d->map_len = ptrs + d->cap;
		d->base = m + ptrs;
		a->dup = (struct dup_tab **)m;
		a->dup_arena = d;
	}
	t = a->dup[sid];
	if (t && (t->used + 1) * 2 <= t->mask + 1)
		return 0;
	if (!(nt = dup_alloc(a, t ? (t->mask + 1) * 2 : 16))) /* ~100 ids: four doublings */
		return -ENOMEM;
	if (t) {
		for (uint32_t i = 0; i <= t->mask; i++)
			if (t->slots[i]) {
				uint32_t r = t->slots[i] - 1;
				dup_slot(nt, (uint32_t)XXH3_64bits(ib + ioff[r], ioff[r + 1] - ioff[r]),
					 t->slots[i]);
			}
		dup_release(a, t);
	}
	a->dup[sid] = nt;
	return 0;
}

/* Records row of session sid under hash h; dup_grow() made room. */
static void dup_put(struct act *a, uint32_t sid, uint64_t h, uint32_t row)
{
	dup_slot(a->dup[sid], (uint32_t)h, row + 1);
}

/* Frees the dedup tables (seg_unref, or the sealer once frozen). */
void act_dup_free(struct act *a)
{
	struct dup_arena *d = a->dup_arena;
	if (!d)
		return;
	for (uint32_t i = 0; i < a->ndict; i++)
		if (a->dup[i] && !dup_in_arena(d, a->dup[i]))
			free(a->dup[i]);
	munmap(a->dup, d->map_len);
	free(d);
	a->dup = NULL;
	a->dup_arena = NULL;
}

static int alloc_tables(struct act *a)
{
	if (!atomic_load(&a->dict)) {
		struct dict_tab *t = tab_new(1024);
		if (!t)
			return -ENOMEM;
		atomic_store(&a->dict, t);
	}
	return 0;
}

/* ---- create / open -------------------------------------------------------- */

static int map_file(struct seg *g, uint64_t size, int writable)
{
	void *m = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		       g->fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	g->map = m;
	g->map_len = size;
	g->act->hdr = m;
	/* Rows are appended a few bytes per region at a time: readahead would
	 * fault in (and zero) megabytes of unwritten extents per touch. */
	madvise(m, size, MADV_RANDOM);
	return 0;
}

static struct seg *seg_alloc(const char *path)
{
	struct seg *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->act = calloc(1, sizeof *g->act);
	if (!g->act) {
		free(g);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->kind = SEG_ACTIVE;
	g->fd = -1;
	snprintf(g->path, sizeof g->path, "%s", path);
	return g;
}

int act_create(const char *path, uint32_t shard, int64_t part_start, uint64_t seq,
	       const struct act_geom *geom, const uint8_t boot_id[16], struct seg **out)
{
	struct act_hdr h = {0};
	struct seg *g = seg_alloc(path);
	struct act *a;
	uint64_t size;
	char tmp[600];
	int rc;

	if (!g)
		return -ENOMEM;
	a = g->act;
	memcpy(h.magic, SEG_ACT_MAGIC, 8);
	h.version = STORE_FORMAT_VERSION;
	h.shard = shard;
	h.part_start = part_start;
	h.seq = seq;
	h.cap_rows = geom->cap_rows;
	h.cap_dict = geom->cap_dict;
	h.cap_dict_bytes = geom->cap_dict_bytes;
	h.cap_id_bytes = geom->cap_id_bytes;
	h.cap_props_bytes = geom->cap_props_bytes;
	memcpy(h.boot_id, boot_id, 16);
	/* entry 0, the empty string, exists from the start: its bounds are the
	 * zeros of the fresh file */
	atomic_init(&h.dict, 1);
	h.durable_dict = 1;
	size = layout(a, &h);
	a->cap_rows = h.cap_rows;
	a->cap_dict = h.cap_dict;
	g->shard = shard;
	g->part_start = part_start;
	g->seq = seq;

	/* Built under a temporary name and renamed: a crash never leaves a
	 * file without its header under a segment's name. */
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	g->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (g->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (ftruncate(g->fd, (off_t)size) < 0 || fallocate(g->fd, 0, 0, SEG_PAGE) < 0) {
		rc = errno == EFBIG ? -ENOSPC : -errno;
		goto fail_unlink;
	}
	g->disk_bytes = SEG_PAGE;
	if (pwrite(g->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		rc = -EIO;
		goto fail_unlink;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto fail_unlink;
	}
	snprintf(tmp, sizeof tmp, "%s", path);
	if ((rc = map_file(g, size, 1)) < 0 || (rc = alloc_tables(a)) < 0)
		goto fail_unlink;
	/* entry 0: the empty string */
	if ((rc = reserve(g, AR_DICT_OFF, 8)) < 0 || (rc = reserve(g, AR_ID_OFF, 4)) < 0 ||
	    (rc = reserve(g, AR_PROPS_OFF, 4)) < 0)
		goto fail_unlink;
	a->ndict = 1;
	atomic_store_explicit(&a->hdr->dict, 1, memory_order_release);
	a->min_ts = INT64_MAX;
	a->max_ts = INT64_MIN;
	*out = g;
	return 0;

fail_unlink:
	unlink(tmp);
fail:
	seg_unref(g);
	return rc;
}

/* Checks the recovered rows one by one; returns how many are whole. */
static uint64_t validate_rows(struct act *a, uint64_t rows, uint32_t ndict)
{
	const uint32_t *cols[5] = {REG(a, AR_SESSION, uint32_t), REG(a, AR_USER, uint32_t),
				   REG(a, AR_TYPE, uint32_t), REG(a, AR_TARGET, uint32_t),
				   REG(a, AR_URL, uint32_t)};
	const uint32_t *ioff = REG(a, AR_ID_OFF, uint32_t), *poff = REG(a, AR_PROPS_OFF, uint32_t);
	const uint8_t *fl = REG(a, AR_FLAGS, uint8_t);

	if (rows && (ioff[0] != 0 || poff[0] != 0))
		return 0;
	for (uint64_t i = 0; i < rows; i++) {
		for (int c = 0; c < 5; c++)
			if (cols[c][i] >= ndict)
				return i;
		if (cols[0][i] == 0 || cols[2][i] == 0 || fl[i] > 3)
			return i;
		if (ioff[i + 1] < ioff[i] || ioff[i + 1] > a->region_cap[AR_ID_BYTES] ||
		    ioff[i + 1] - ioff[i] > STORE_MAX_ID)
			return i;
		if (poff[i + 1] < poff[i] || poff[i + 1] > a->region_cap[AR_PROPS_BYTES] ||
		    poff[i + 1] - poff[i] > STORE_MAX_PROPS)
			return i;
	}
	return rows;
}

/* Checks the dictionary; returns how many entries are whole. */
static uint32_t validate_dict(struct act *a, uint32_t n)
{
	const uint32_t *off = REG(a, AR_DICT_OFF, uint32_t);
	if (n == 0 || off[0] != 0)
		return 0;
	for (uint32_t k = 0; k < n; k++)
		if (off[k + 1] < off[k] || off[k + 1] > a->region_cap[AR_DICT_BYTES])
			return k;
	return n;
}

/* Rebuilds the in-memory hash tables from the recovered rows. */
static int rebuild(struct act *a)
{
	const uint32_t *off = REG(a, AR_DICT_OFF, uint32_t);
	const char *bytes = REG(a, AR_DICT_BYTES, char);
	const uint32_t *ioff = REG(a, AR_ID_OFF, uint32_t), *sess = REG(a, AR_SESSION, uint32_t);
	const char *ib = REG(a, AR_ID_BYTES, char);
	const int64_t *ts = REG(a, AR_TS, int64_t);
	int rc;

	if ((rc = alloc_tables(a)) < 0)
		return rc;
	for (uint32_t k = 1; k < a->ndict; k++)
		if ((rc = dict_slot_put(a, XXH3_64bits(bytes + off[k], off[k + 1] - off[k]), k)) < 0)
			return rc;
	a->min_ts = INT64_MAX;
	a->max_ts = INT64_MIN;
	for (uint64_t i = 0; i < a->nrows; i++) {
		uint32_t n = ioff[i + 1] - ioff[i];
		if (ts[i] < a->min_ts)
			a->min_ts = ts[i];
		if (ts[i] > a->max_ts)
			a->max_ts = ts[i];
		if (n) {
			uint64_t h;
			if (dup_find(a, sess[i], ib + ioff[i], n, &h) < 0) {
				if ((rc = dup_grow(a, sess[i])) < 0)
					return rc;
				dup_put(a, sess[i], h, (uint32_t)i);
			}
		}
	}
	a->dict_bytes = off[a->ndict];
	a->id_bytes = ioff[a->nrows];
	a->props_bytes = REG(a, AR_PROPS_OFF, uint32_t)[a->nrows];
	return 0;
}

int act_open(const char *path, const uint8_t boot_id[16], int read_only, struct seg **out,
	     char *msg, size_t msglen)
{
	struct act_hdr h;
	struct seg *g = seg_alloc(path);
	struct act *a;
	struct stat st;
	uint64_t size, rows, want_rows;
	uint32_t ndict, want_dict;
	int same_boot, rc;

	msg[0] = '\0';
	if (!g)
		return -ENOMEM;
	a = g->act;
	a->read_only = read_only;
	g->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (g->fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "%s: cannot open: %s", path, strerror(-rc));
		goto fail;
	}
	if (fstat(g->fd, &st) < 0 || pread(g->fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
	    memcmp(h.magic, SEG_ACT_MAGIC, 8) != 0) {
		snprintf(msg, msglen, "%s: not an active segment (bad or missing header)", path);
		rc = ERR_CORRUPT;
		goto fail;
	}
	if (h.version != STORE_FORMAT_VERSION) {
		snprintf(msg, msglen, "%s: format version %u, this build reads version %d", path,
			 h.version, STORE_FORMAT_VERSION);
		rc = ERR_FORMAT;
		goto fail;
	}
	if (h.cap_rows < 1 || h.cap_dict < 1 || h.cap_rows > (1u << 30) || h.cap_dict > (1u << 30) ||
	    h.cap_dict_bytes > (1ull << 32) || h.cap_id_bytes > (1ull << 32) ||
	    h.cap_props_bytes > (1ull << 32)) {
		snprintf(msg, msglen, "%s: header geometry is corrupt", path);
		rc = ERR_CORRUPT;
		goto fail;
	}
	size = layout(a, &h);
	if ((uint64_t)st.st_size < size) {
		snprintf(msg, msglen, "%s: truncated to %lld bytes, expected %llu", path,
			 (long long)st.st_size, (unsigned long long)size);
		rc = ERR_CORRUPT;
		goto fail;
	}
	a->cap_rows = h.cap_rows;
	a->cap_dict = h.cap_dict;
	g->shard = h.shard;
	g->part_start = h.part_start;
	g->seq = h.seq;
	if ((rc = map_file(g, size, !read_only)) < 0) {
		snprintf(msg, msglen, "%s: mmap: %s", path, strerror(-rc));
		goto fail;
	}
	same_boot = memcmp(h.boot_id, boot_id, 16) == 0;
	want_rows = same_boot ? atomic_load(&a->hdr->rows) : a->hdr->durable_rows;
	want_dict = (uint32_t)(same_boot ? atomic_load(&a->hdr->dict) : a->hdr->durable_dict);
	if (want_rows > a->cap_rows)
		want_rows = a->cap_rows;
	if (want_dict > a->cap_dict)
		want_dict = a->cap_dict;
	if (want_dict == 0 && want_rows == 0)
		want_dict = 1; /* older header written before entry 0 was counted */
	ndict = validate_dict(a, want_dict);
	rows = validate_rows(a, want_rows, ndict);
	if (rows < want_rows || ndict < want_dict)
		snprintf(msg, msglen, "%s: %llu of %llu committed rows are damaged; kept %llu", path,
			 (unsigned long long)(want_rows - rows), (unsigned long long)want_rows,
			 (unsigned long long)rows);
	if (ndict == 0) {
		snprintf(msg, msglen, "%s: dictionary is corrupt", path);
		rc = ERR_CORRUPT;
		goto fail;
	}
	a->nrows = rows;
	a->ndict = ndict;
	if ((rc = rebuild(a)) < 0)
		goto fail;
	set_reserved(a);
	g->disk_bytes = (uint64_t)st.st_blocks * 512;
	a->durable_rows = a->hdr->durable_rows < rows ? a->hdr->durable_rows : rows;
	a->durable_dict = a->hdr->durable_dict < ndict ? a->hdr->durable_dict : ndict;
	if (!read_only) {
		memcpy(a->hdr->boot_id, boot_id, 16);
		atomic_store(&a->hdr->dict, ndict);
		atomic_store(&a->hdr->rows, rows);
		a->hdr->durable_rows = a->durable_rows;
		a->hdr->durable_dict = a->durable_dict;
	}
	/* read-only: the header stays as written; act_rows() returns nrows */
	*out = g;
	return 0;

fail:
	seg_unref(g);
	return rc;
}

/* ---- append -------------------------------------------------------------- */

/* The last string interned for a column within one act_append() call. */
struct last_str {
	struct store_str s;
	int64_t id; /* -1: none yet */
};

static int64_t intern_cached(struct seg *g, struct last_str *l, struct store_str s)
{
	if (l->id >= 0 && l->s.n == s.n && (l->s.p == s.p || memcmp(l->s.p, s.p, s.n) == 0))
		return l->id;
	l->id = dict_intern(g, s.p, s.n);
	l->s = s;
	return l->id;
}

/* Room for one more row with these variable parts, and up to 5 new
 * dictionary strings of at most `dict_need` bytes in all? */
static int row_fits(const struct act *a, const struct store_event *e)
{
	uint64_t dict_need = (uint64_t)e->session.n + e->user.n + e->type.n + e->target.n + e->url.n;
	return a->nrows < a->cap_rows && a->ndict + 5 <= a->cap_dict &&
	       a->dict_bytes + dict_need <= a->region_cap[AR_DICT_BYTES] &&
	       a->id_bytes + e->id.n <= a->region_cap[AR_ID_BYTES] &&
	       a->props_bytes + e->props.n <= a->region_cap[AR_PROPS_BYTES];
}

/* Reserves disk space for the fixed columns of rows [0, upto). */
static int reserve_rows(struct seg *g, uint64_t upto)
{
	static const uint8_t width[AR_N] = {
		[AR_TS] = 8, [AR_RECV] = 8, [AR_SESSION] = 4, [AR_USER] = 4, [AR_TYPE] = 4,
		[AR_TARGET] = 4, [AR_URL] = 4, [AR_X] = 4, [AR_Y] = 4, [AR_FLAGS] = 1,
		[AR_ID_OFF] = 4, [AR_PROPS_OFF] = 4};
	for (int r = AR_TS; r <= AR_PROPS_OFF; r++) {
		uint64_t need = (upto + (r >= AR_ID_OFF)) * width[r];
		int rc = reserve(g, r, need);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int act_append(struct seg *g, const struct store_event *ev, const uint32_t *idx, size_t n,
	       int8_t *status, uint64_t *dups)
{
	struct act *a = g->act;
	int64_t *ts = REG(a, AR_TS, int64_t), *recv = REG(a, AR_RECV, int64_t);
	uint32_t *sess = REG(a, AR_SESSION, uint32_t), *user = REG(a, AR_USER, uint32_t);
	uint32_t *type = REG(a, AR_TYPE, uint32_t), *target = REG(a, AR_TARGET, uint32_t);
	uint32_t *url = REG(a, AR_URL, uint32_t);
	int32_t *x = REG(a, AR_X, int32_t), *y = REG(a, AR_Y, int32_t);
	uint8_t *flags = REG(a, AR_FLAGS, uint8_t);
	uint32_t *ioff = REG(a, AR_ID_OFF, uint32_t), *poff = REG(a, AR_PROPS_OFF, uint32_t);
	char *ib = REG(a, AR_ID_BYTES, char), *pb = REG(a, AR_PROPS_BYTES, char);
	uint64_t want = a->nrows + n;
	struct last_str last[5] = {{{0}, -1}, {{0}, -1}, {{0}, -1}, {{0}, -1}, {{0}, -1}};
	size_t i;
	int rc = 0;

	if (want > a->cap_rows)
		want = a->cap_rows;
	if ((rc = reserve_rows(g, want)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		const struct store_event *e = &ev[idx[i]];
		uint64_t r = a->nrows, h = 0;
		int64_t ids[5];

		if (!row_fits(a, e))
			break;
		if (r >= want)
			break;
		if ((a->id_bytes + e->id.n > a->region_alloc[AR_ID_BYTES] &&
		     (rc = reserve(g, AR_ID_BYTES, a->id_bytes + e->id.n)) < 0) ||
		    (a->props_bytes + e->props.n > a->region_alloc[AR_PROPS_BYTES] &&
		     (rc = reserve(g, AR_PROPS_BYTES, a->props_bytes + e->props.n)) < 0))
			break;
		/* Events of a batch mostly repeat the previous event's session,
		 * user and url: compare before hashing. */
		ids[0] = intern_cached(g, &last[0], e->session);
		if (ids[0] < 0) {
			rc = (int)ids[0];
			break;
		}
		if (e->id.n) {
			if ((rc = dup_grow(a, (uint32_t)ids[0])) < 0)
				break;
			if (dup_find(a, (uint32_t)ids[0], e->id.p, e->id.n, &h) >= 0) {
				status[idx[i]] = STORE_DUP;
				++*dups;
				continue;
			}
		}
		ids[1] = intern_cached(g, &last[1], e->user);
		ids[2] = intern_cached(g, &last[2], e->type);
		ids[3] = intern_cached(g, &last[3], e->target);
		ids[4] = intern_cached(g, &last[4], e->url);
		for (int k = 1; k < 5; k++)
			if (ids[k] < 0)
				rc = (int)ids[k];
		if (rc < 0)
			break;
		ts[r] = e->ts;
		recv[r] = e->recv;
		sess[r] = (uint32_t)ids[0];
		user[r] = (uint32_t)ids[1];
		type[r] = (uint32_t)ids[2];
		target[r] = (uint32_t)ids[3];
		url[r] = (uint32_t)ids[4];
		x[r] = (e->flags & STORE_HAS_X) ? e->x : 0;
		y[r] = (e->flags & STORE_HAS_Y) ? e->y : 0;
		flags[r] = (uint8_t)(e->flags & (STORE_HAS_X | STORE_HAS_Y));
		if (e->id.n)
			memcpy(ib + a->id_bytes, e->id.p, e->id.n);
		a->id_bytes += e->id.n;
		ioff[r + 1] = a->id_bytes;
		if (e->props.n)
			memcpy(pb + a->props_bytes, e->props.p, e->props.n);
		a->props_bytes += e->props.n;
		poff[r + 1] = a->props_bytes;
		if (e->id.n)
			dup_put(a, (uint32_t)ids[0], h, (uint32_t)r);
		if (e->ts < a->min_ts)
			a->min_ts = e->ts;
		if (e->ts > a->max_ts)
			a->max_ts = e->ts;
		status[idx[i]] = STORE_OK;
		a->nrows = r + 1;
	}
	/* The commit: dictionary count, then rows, each a release store. */
	atomic_store_explicit(&a->hdr->dict, a->ndict, memory_order_release);
	atomic_store_explicit(&a->hdr->rows, a->nrows, memory_order_release);
	if (rc == ERR_FULL)
		rc = 0; /* the caller rolls over */
	if (rc < 0 && i == 0)
		return rc;
	return (int)i;
}

uint64_t act_rows(const struct seg *g)
{
	if (g->act->read_only)
		return g->act->nrows;
	return atomic_load_explicit(&g->act->hdr->rows, memory_order_acquire);
}

/* Drops this process's page table entries for the file, before a sync (the
 * page cache and its dirty pages stay; the next access faults them back
 * in).  Writeback must otherwise write-protect every dirty page mapped
 * here one at a time, each with a TLB shootdown across the CPUs the
 * workers run on: on a 2-vCPU virtual machine that cost about 30 us a
 * page, most of the sync's CPU, and 40 % of spoord's at 0.5 M events/s
 * (docs/benchmarks.md).  One range zap is one shootdown.  A store racing
 * with it lands in a page the zap has already marked dirty, or faults. */
void act_unmap_pages(struct seg *g)
{
	madvise(g->map, g->map_len, MADV_DONTNEED);
}

void act_sync_begin(struct seg *g, uint64_t d[2])
{
	struct act *a = g->act;
	d[0] = atomic_load_explicit(&a->hdr->rows, memory_order_acquire);
	d[1] = atomic_load_explicit(&a->hdr->dict, memory_order_acquire);
	if (d[0] != a->durable_rows)
		act_unmap_pages(g);
}

int act_write_durable(struct seg *g, const uint64_t d[2])
{
	ssize_t w = pwrite(g->fd, d, 2 * sizeof d[0], offsetof(struct act_hdr, durable_rows));
	return w == (ssize_t)(2 * sizeof d[0]) ? 0 : w < 0 ? -errno : -EIO;
}

void act_set_durable(struct act *a, const uint64_t d[2])
{
	if (d[0] > a->durable_rows) {
		a->durable_rows = d[0];
		a->durable_dict = d[1];
	}
}

int act_sync(struct seg *g)
{
	uint64_t d[2];
	int rc;

	if (g->act->read_only)
		return 0;
	act_sync_begin(g, d);
	if (d[0] == g->act->durable_rows)
		return 0;
	if (fdatasync(g->fd) < 0)
		return -errno;
	if ((rc = act_write_durable(g, d)) < 0)
		return rc;
	if (fdatasync(g->fd) < 0)
		return -errno;
	act_set_durable(g->act, d);
	return 0;
}
