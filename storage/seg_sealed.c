/*
 * seg_sealed.c — reading sealed segments: open and verify a file written by
 * seal_write.c, then immutable and mmap'd read-only; dictionary and session
 * lookups, block decoding.  The byte layout (repeated here) is in sealed_fmt.h.
 *
 * File layout (little-endian; sections 8-byte aligned):
 *
 *   0     struct sealed_hdr (256 bytes): magic "SPOORSEG", version, shard,
 *         partition start, seq, nrows, min/max ts, nblocks, block_rows,
 *         dict_count, nsessions, offset+length+XXH3 of the three sections
 *         below, XXH3 of header bytes [0, 248) at 248.
 *   256   blocks: for block b (rows [b*block_rows, ...) of the sorted order)
 *         one lz4 frame-less chunk per stored column (SC_*), each checked
 *         by the XXH3 in the block directory.
 *   dict  u32 count; u32 off[count + 1]; bytes.  Entries sorted bytewise,
 *         entry 0 is the empty string; ids in the columns are these ranks.
 *   sidx  struct sealed_sess[nsessions], sorted by sid (= by first row).
 *   bdir  struct sealed_bdir[nblocks].
 *
 * Column encodings before lz4 (per block, restarting at each block):
 *   ts, recv, x, y       zigzag varint of the delta to the previous row
 *   user, type, target, url   dictionary id: u16 little-endian when the
 *                        block directory entry's `enc` has bit SC_<col> set
 *                        (written whenever the dictionary has at most 65,536
 *                        entries), else varint (files written before `enc`
 *                        existed have enc = 0)
 *   flags                one byte per row
 *   id, props            varint length per row, then all bytes
 *   session              not stored: rows of a session are contiguous and
 *                        the session index gives their range.
 *
 * Write protocol: everything goes to "<path>.tmp", fsync, rename to path,
 * fsync of the directory.  Until the rename the active file is the only
 * authority; a crash leaves at most a .tmp that recovery deletes.
 */
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "err.h"
#include "sealed_fmt.h"

void sealed_free(struct sealed *sl)
{
	if (sl)
		free(sl->bad);
	free(sl);
}

static const char *const sc_name[SC_N] = {"ts",  "recv", "user",  "type", "target", "url",
					  "x",   "y",    "flags", "id",   "props"};

/* ---- varints ------------------------------------------------------------- */

static inline int64_t unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- reading --------------------------------------------------------------- */

static int section_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off && off % 8 == 0;
}

int sealed_open(const char *path, struct seg **out, char *msg, size_t msglen)
{
	struct seg *g = calloc(1, sizeof *g);
	struct sealed *sl = calloc(1, sizeof *sl);
	const struct sealed_hdr *h;
	struct stat st;
	uint32_t nbad = 0, first_bad = 0;
	int rc = ERR_CORRUPT, bad_col = 0;

	msg[0] = '\0';
	if (!g || !sl) {
		free(g);
		free(sl);
		return -ENOMEM;
	}
	atomic_init(&g->refs, 1);
	g->kind = SEG_SEALED;
	g->sl = sl;
	snprintf(g->path, sizeof g->path, "%s", path);
	g->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (g->fd < 0 || fstat(g->fd, &st) < 0) {
		rc = -errno;
		snprintf(msg, msglen, "%s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	if ((uint64_t)st.st_size < sizeof *h) {
		snprintf(msg, msglen, "%s: truncated (%lld bytes)", path, (long long)st.st_size);
		goto fail;
	}
	g->map_len = (size_t)st.st_size;
	g->map = mmap(NULL, g->map_len, PROT_READ, MAP_SHARED, g->fd, 0);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		rc = -errno;
		snprintf(msg, msglen, "%s: mmap: %s", path, strerror(errno));
		goto fail;
	}
	g->disk_bytes = (uint64_t)st.st_blocks * 512;
	h = g->map;
	if (memcmp(h->magic, SEG_SEALED_MAGIC, 8) != 0 ||
	    XXH3_64bits(h, offsetof(struct sealed_hdr, hdr_sum)) != h->hdr_sum) {
		snprintf(msg, msglen, "%s: header checksum mismatch", path);
		goto fail;
	}
	if (h->version != STORE_FORMAT_VERSION) {
		snprintf(msg, msglen, "%s: format version %u, this build reads version %d", path,
			 h->version, STORE_FORMAT_VERSION);
		rc = ERR_FORMAT;
		goto fail;
	}
	if (!section_ok(h->dict_off, h->dict_len, g->map_len) ||
	    !section_ok(h->sidx_off, h->sidx_len, g->map_len) ||
	    !section_ok(h->bdir_off, h->bdir_len, g->map_len) ||
	    h->bdir_len != (uint64_t)h->nblocks * sizeof(struct sealed_bdir) ||
	    h->sidx_len != (uint64_t)h->nsessions * sizeof(struct sealed_sess) ||
	    h->dict_len < 4 + ((uint64_t)h->dict_count + 1) * 4 || h->dict_count == 0) {
		snprintf(msg, msglen, "%s: section table is corrupt", path);
		goto fail;
	}
	const char *base = g->map;
	if (XXH3_64bits(base + h->dict_off, h->dict_len) != h->dict_sum ||
	    XXH3_64bits(base + h->sidx_off, h->sidx_len) != h->sidx_sum ||
	    XXH3_64bits(base + h->bdir_off, h->bdir_len) != h->bdir_sum) {
		snprintf(msg, msglen, "%s: dictionary, session index or block directory checksum mismatch",
			 path);
		goto fail;
	}
	sl->h = h;
	sl->dict_count = h->dict_count;
	sl->dict_off = (const uint32_t *)(base + h->dict_off + 4);
	sl->dict_bytes = (const char *)(sl->dict_off + h->dict_count + 1);
	if (sl->dict_off[h->dict_count] > h->dict_len - 4 - ((uint64_t)h->dict_count + 1) * 4) {
		snprintf(msg, msglen, "%s: dictionary is corrupt", path);
		goto fail;
	}
	for (uint32_t k = 0; k < h->dict_count; k++)
		if (sl->dict_off[k] > sl->dict_off[k + 1]) {
			snprintf(msg, msglen, "%s: dictionary is corrupt", path);
			goto fail;
		}
	sl->sess = (const struct sealed_sess *)(base + h->sidx_off);
	sl->nsess = h->nsessions;
	sl->bdir = (const struct sealed_bdir *)(base + h->bdir_off);
	sl->nblocks = h->nblocks;
	sl->bad = calloc(h->nblocks ? h->nblocks : 1, 1);
	if (!sl->bad) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t s = 0; s < sl->nsess; s++)
		if (sl->sess[s].sid >= h->dict_count || sl->sess[s].row0 + sl->sess[s].nrows > h->nrows) {
			snprintf(msg, msglen, "%s: session index is corrupt", path);
			goto fail;
		}
	for (uint32_t b = 0; b < sl->nblocks; b++) {
		const struct sealed_bdir *d = &sl->bdir[b];
		if (d->row0 != (uint64_t)b * h->block_rows || d->nrows > h->block_rows ||
		    d->row0 + d->nrows > h->nrows ||
		    (d->enc & ~(1u << SC_USER | 1u << SC_TYPE | 1u << SC_TARGET | 1u << SC_URL))) {
			sl->bad[b] = 1;
		}
		for (int c = 0; c < SC_N && !sl->bad[b]; c++) {
			const struct sealed_col *col = &d->col[c];
			if (col->off > g->map_len || col->clen > g->map_len - col->off ||
			    XXH3_64bits(base + col->off, col->clen) != col->sum) {
				sl->bad[b] = 1;
				bad_col = c;
			}
		}
		if (sl->bad[b] && nbad++ == 0)
			first_bad = b;
	}
	if (nbad)
		snprintf(msg, msglen,
			 "%s: %u damaged block(s), first block %u (rows %llu..%llu, column %s): "
			 "checksum mismatch; those rows are skipped",
			 path, nbad, first_bad, (unsigned long long)sl->bdir[first_bad].row0,
			 (unsigned long long)(sl->bdir[first_bad].row0 + sl->bdir[first_bad].nrows),
			 sc_name[bad_col]);
	g->shard = h->shard;
	g->part_start = h->part_start;
	g->seq = h->seq;
	*out = g;
	return 0;
fail:
	seg_unref(g);
	return rc;
}

uint64_t sealed_rows(const struct seg *g)
{
	return g->sl->h->nrows;
}
uint32_t sealed_nblocks(const struct seg *g)
{
	return g->sl->nblocks;
}
int64_t sealed_min_ts(const struct seg *g)
{
	return g->sl->h->min_ts;
}
int64_t sealed_max_ts(const struct seg *g)
{
	return g->sl->h->max_ts;
}
uint32_t sealed_dict_size(const struct seg *g)
{
	return g->sl->dict_count;
}

struct store_str sealed_str(const struct seg *g, uint32_t id)
{
	const struct sealed *sl = g->sl;
	struct store_str s = {"", 0};
	if (id == 0 || id >= sl->dict_count)
		return s;
	s.p = sl->dict_bytes + sl->dict_off[id];
	s.n = sl->dict_off[id + 1] - sl->dict_off[id];
	return s;
}

int64_t sealed_lookup(const struct seg *g, const char *p, size_t n)
{
	const struct sealed *sl = g->sl;
	uint32_t lo = 1, hi = sl->dict_count;

	if (n == 0)
		return 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t l = sl->dict_off[mid + 1] - sl->dict_off[mid];
		int c = memcmp(sl->dict_bytes + sl->dict_off[mid], p, l < n ? l : n);
		if (c == 0)
			c = (l > n) - (l < n);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

const struct sealed_sess *sealed_sessions(const struct seg *g, uint32_t *n)
{
	*n = g->sl->nsess;
	return g->sl->sess;
}

int sealed_session_rows(const struct seg *g, uint32_t sid, uint64_t *row0, uint64_t *nrows)
{
	const struct sealed *sl = g->sl;
	uint32_t lo = 0, hi = sl->nsess;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (sl->sess[mid].sid == sid) {
			*row0 = sl->sess[mid].row0;
			*nrows = sl->sess[mid].nrows;
			return 0;
		}
		if (sl->sess[mid].sid < sid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*row0 = 0;
	*nrows = 0;
	return -ENOENT;
}

int sealed_block_info(const struct seg *g, uint32_t b, struct store_block *out)
{
	const struct sealed_bdir *d;
	memset(out, 0, sizeof *out);
	if (b >= g->sl->nblocks)
		return -ERANGE;
	d = &g->sl->bdir[b];
	out->row0 = d->row0;
	out->nrows = d->nrows;
	out->min_ts = d->min_ts;
	out->max_ts = d->max_ts;
	return 0;
}

/* Bytes of zeros after a decompressed chunk: rd_varint() reads at most 10
 * bytes per value without checking the end, and the loops stop once past it. */
#define RAW_PAD 16

/* A varint from *pp, no bounds check (see RAW_PAD); one-byte values fast. */
static inline uint64_t rd_varint(const uint8_t **pp)
{
	const uint8_t *p = *pp;
	uint64_t v = p[0];
	if (v < 0x80) {
		*pp = p + 1;
		return v;
	}
	if (p[1] < 0x80) { /* ts and x/y deltas are mostly two bytes */
		*pp = p + 2;
		return (v & 0x7f) | (uint64_t)p[1] << 7;
	}
	p++;
	{
		v &= 0x7f;
		for (int shift = 7; shift < 64; shift += 7) {
			uint8_t b = *p++;
			v |= (uint64_t)(b & 0x7f) << shift;
			if (!(b & 0x80))
				break;
		}
	}
	*pp = p;
	return v;
}

/* Scratch slots: one per store column for decoded arrays, then raw buffers. */
enum { SLOT_RAW_ID = STORE_NCOLS, SLOT_RAW_PROPS, SLOT_RAW_TMP };

static int decode_col(const struct seg *g, const struct sealed_bdir *d, int c,
		      struct seg_scratch *s, struct store_block *out)
{
	static const int store_col[SC_N] = {
		STORE_COL_TS, STORE_COL_RECV, STORE_COL_USER, STORE_COL_TYPE, STORE_COL_TARGET,
		STORE_COL_URL, STORE_COL_X, STORE_COL_Y, STORE_COL_FLAGS, STORE_COL_ID,
		STORE_COL_PROPS};
	const struct sealed_col *col = &d->col[c];
	int raw_slot = c == SC_ID ? SLOT_RAW_ID : c == SC_PROPS ? SLOT_RAW_PROPS : SLOT_RAW_TMP;
	int sc = store_col[c], rc;
	uint32_t n = d->nrows;
	const uint8_t *p, *end;
	size_t width = (c == SC_TS || c == SC_RECV) ? 8 : c == SC_FLAGS ? 1 : 4;
	int64_t prev = 0;

	if ((rc = scratch_reserve(s, raw_slot, (size_t)col->rlen + RAW_PAD)) < 0 ||
	    (rc = scratch_reserve(s, sc, ((size_t)n + 1) * width)) < 0)
		return rc;
	/* The chunk's checksum was verified by sealed_open(); a block that
	 * failed is never decoded (sl->bad).  Bytes damaged later still cannot
	 * take this past its buffers: LZ4_decompress_safe and the bounds
	 * checks below hold for any input. */
	if (LZ4_decompress_safe((const char *)g->map + col->off, s->buf[raw_slot], (int)col->clen,
				(int)col->rlen) != (int)col->rlen)
		return ERR_CORRUPT;
	p = s->buf[raw_slot];
	end = p + col->rlen;
	memset((uint8_t *)s->buf[raw_slot] + col->rlen, 0, RAW_PAD);
	switch (c) {
	case SC_TS:
	case SC_RECV: {
		int64_t *v = s->buf[sc];
		for (uint32_t i = 0; i < n && p <= end; i++) {
			prev += unzz(rd_varint(&p));
			v[i] = prev;
		}
		break;
	}
	case SC_X:
	case SC_Y: {
		int32_t *v = s->buf[sc];
		for (uint32_t i = 0; i < n && p <= end; i++) {
			prev += unzz(rd_varint(&p));
			v[i] = (int32_t)prev;
		}
		break;
	}
	case SC_FLAGS:
		if (col->rlen < n)
			return ERR_CORRUPT;
		memcpy(s->buf[sc], p, n);
		p += n;
		break;
	case SC_ID:
	case SC_PROPS: {
		uint32_t *v = s->buf[sc];
		for (uint32_t i = 0; i < n && p <= end; i++)
			v[i + 1] = (uint32_t)rd_varint(&p);
		break;
	}
	default: { /* dictionary ids */
		uint32_t *v = s->buf[sc], bad = 0, lim = g->sl->dict_count;
		if (d->enc & (1u << c)) {
			uint32_t most = 0;
			if (col->rlen != (size_t)n * 2)
				return ERR_CORRUPT;
			/* Two plain loops the compiler vectorizes (little-endian
			 * host, as the rest of the format assumes). */
			for (uint32_t i = 0; i < n; i++) {
				uint16_t x;
				memcpy(&x, p + 2 * (size_t)i, 2);
				v[i] = x;
			}
			for (uint32_t i = 0; i < n; i++)
				most = v[i] > most ? v[i] : most;
			if (n && most >= lim)
				return ERR_CORRUPT;
			p += (size_t)n * 2;
			break;
		}
		for (uint32_t i = 0; i < n && p <= end; i++) {
			uint64_t x = rd_varint(&p);
			bad |= x >= lim;
			v[i] = (uint32_t)x;
		}
		if (bad)
			return ERR_CORRUPT;
	}
	}
	if (p > end)
		return ERR_CORRUPT;
	if (c == SC_ID || c == SC_PROPS) {
		uint32_t *off = s->buf[sc];
		off[0] = 0;
		for (uint32_t i = 0; i < n; i++)
			off[i + 1] += off[i];
		if (off[n] != (size_t)(end - p))
			return ERR_CORRUPT;
		if (c == SC_ID) {
			out->id_off = off;
			out->id_bytes = (const char *)p;
		} else {
			out->props_off = off;
			out->props_bytes = (const char *)p;
		}
		return 0;
	}
	switch (c) {
	case SC_TS: out->ts = s->buf[sc]; break;
	case SC_RECV: out->recv = s->buf[sc]; break;
	case SC_USER: out->user = s->buf[sc]; break;
	case SC_TYPE: out->type = s->buf[sc]; break;
	case SC_TARGET: out->target = s->buf[sc]; break;
	case SC_URL: out->url = s->buf[sc]; break;
	case SC_X: out->x = s->buf[sc]; break;
	case SC_Y: out->y = s->buf[sc]; break;
	default: out->flags = s->buf[sc]; break;
	}
	return 0;
}

/* Fills the derived session column of block d from the session index. */
static int fill_sessions(const struct seg *g, const struct sealed_bdir *d, struct seg_scratch *s,
			 struct store_block *out)
{
	const struct sealed *sl = g->sl;
	uint32_t lo = 0, hi = sl->nsess, *v;
	int rc = scratch_reserve(s, STORE_COL_SESSION, (size_t)d->nrows * 4 + 4);

	if (rc < 0)
		return rc;
	v = s->buf[STORE_COL_SESSION];
	while (lo < hi) { /* last entry with row0 <= d->row0 */
		uint32_t mid = lo + (hi - lo) / 2;
		if (sl->sess[mid].row0 <= d->row0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return ERR_CORRUPT;
	/* One run per session: the entries are sorted and contiguous. */
	for (uint32_t i = 0, e = lo - 1; i < d->nrows; e++) {
		uint64_t end;
		uint32_t sid, stop;
		if (e >= sl->nsess || d->row0 + i < sl->sess[e].row0)
			return ERR_CORRUPT; /* rows no session covers */
		end = sl->sess[e].row0 + sl->sess[e].nrows;
		if (end <= d->row0 + i)
			continue; /* an empty entry, or one that ends before the block */
		stop = end - d->row0 < d->nrows ? (uint32_t)(end - d->row0) : d->nrows;
		sid = sl->sess[e].sid;
		while (i < stop)
			v[i++] = sid;
	}
	out->session = v;
	return 0;
}

int sealed_read(const struct seg *g, uint32_t b, unsigned cols, struct seg_scratch *s,
		struct store_block *out, char *msg, size_t msglen)
{
	static const int sc_of[STORE_NCOLS] = {
		[STORE_COL_TS] = SC_TS,       [STORE_COL_RECV] = SC_RECV, [STORE_COL_SESSION] = -1,
		[STORE_COL_USER] = SC_USER,   [STORE_COL_TYPE] = SC_TYPE, [STORE_COL_TARGET] = SC_TARGET,
		[STORE_COL_URL] = SC_URL,     [STORE_COL_X] = SC_X,       [STORE_COL_Y] = SC_Y,
		[STORE_COL_FLAGS] = SC_FLAGS, [STORE_COL_ID] = SC_ID,     [STORE_COL_PROPS] = SC_PROPS};
	const struct sealed_bdir *d;
	int rc;

	if ((rc = sealed_block_info(g, b, out)) < 0)
		return rc;
	d = &g->sl->bdir[b];
	if (g->sl->bad[b]) {
		snprintf(msg, msglen, "%s: block %u is damaged (checksum mismatch)", g->path, b);
		return ERR_CORRUPT;
	}
	for (int c = 0; c < STORE_NCOLS; c++) {
		if (!(cols & (1u << c)))
			continue;
		if (c == STORE_COL_SESSION)
			rc = fill_sessions(g, d, s, out);
		else
			rc = decode_col(g, d, sc_of[c], s, out);
		if (rc < 0) {
			if (rc == ERR_CORRUPT)
				snprintf(msg, msglen, "%s: block %u column %s does not decode", g->path,
					 b, c == STORE_COL_SESSION ? "session" : sc_name[sc_of[c]]);
			return rc;
		}
	}
	return 0;
}
