/*
 * seal_write.c — writing a sealed segment from a frozen active one: rows
 * sorted by (session, ts, arrival), a sorted dictionary, columns encoded per
 * block and lz4-compressed with an XXH3 each, the session index and the
 * block directory.  The byte layout is in sealed_fmt.h.
 *
 * Write protocol: everything goes to "<path>.tmp", fsync, rename to path,
 * fsync of the directory.  Until the rename the active file is the only
 * authority; a crash leaves at most a .tmp that recovery deletes.
 */
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "err.h"
#include "sealed_fmt.h"

/* ---- varints ------------------------------------------------------------- */

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* ---- writing --------------------------------------------------------------- */

struct sort_row {
	uint32_t sid; /* new (sorted) session id */
	uint32_t row; /* arrival order */
	int64_t ts;
};

static int cmp_row(const void *pa, const void *pb)
{
	const struct sort_row *a = pa, *b = pb;
	if (a->sid != b->sid)
		return a->sid < b->sid ? -1 : 1;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->row < b->row ? -1 : a->row > b->row;
}

struct dict_sort_ctx {
	const uint32_t *off;
	const char *bytes;
};
static struct dict_sort_ctx dsc; /* qsort has no context argument; guarded by seal_mu */
static pthread_mutex_t seal_mu = PTHREAD_MUTEX_INITIALIZER;

static int cmp_str(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	uint32_t la = dsc.off[a + 1] - dsc.off[a], lb = dsc.off[b + 1] - dsc.off[b];
	int c = memcmp(dsc.bytes + dsc.off[a], dsc.bytes + dsc.off[b], la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

/* Everything a seal needs, freed at once. */
struct seal_job {
	const struct act *a;
	uint64_t nrows;
	uint32_t ndict;
	uint32_t *remap;       /* old id -> new id */
	uint32_t *order;       /* new id -> old id */
	uint32_t nnew;
	struct sort_row *rows; /* sorted */
	uint8_t *raw, *comp;
	size_t raw_cap, comp_cap;
	int fd;
	uint64_t pos;          /* next file offset */
};

#define AREG(a, r, type) ((const type *)((const char *)(a)->hdr + (a)->region_off[r]))

static int write_all(struct seal_job *j, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = pwrite(j->fd, c, n, (off_t)j->pos);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EFBIG ? -ENOSPC : -errno;
		}
		c += w;
		n -= (size_t)w;
		j->pos += (uint64_t)w;
	}
	return 0;
}

static int pad8(struct seal_job *j)
{
	static const char zero[8];
	return j->pos % 8 ? write_all(j, zero, 8 - j->pos % 8) : 0;
}

/* Builds the sorted dictionary of the ids the rows use. */
static int build_dict(struct seal_job *j)
{
	const struct act *a = j->a;
	const uint32_t *cols[5] = {AREG(a, AR_SESSION, uint32_t), AREG(a, AR_USER, uint32_t),
				   AREG(a, AR_TYPE, uint32_t), AREG(a, AR_TARGET, uint32_t),
				   AREG(a, AR_URL, uint32_t)};
	uint32_t n = 0;

	j->remap = calloc(j->ndict, sizeof *j->remap);
	j->order = malloc((size_t)j->ndict * sizeof *j->order);
	if (!j->remap || !j->order)
		return -ENOMEM;
	for (int c = 0; c < 5; c++)
		for (uint64_t r = 0; r < j->nrows; r++)
			j->remap[cols[c][r]] = 1;
	for (uint32_t k = 1; k < j->ndict; k++)
		if (j->remap[k])
			j->order[n++] = k;
	pthread_mutex_lock(&seal_mu);
	dsc.off = AREG(a, AR_DICT_OFF, uint32_t);
	dsc.bytes = AREG(a, AR_DICT_BYTES, char);
	qsort(j->order, n, sizeof *j->order, cmp_str);
	pthread_mutex_unlock(&seal_mu);
	memmove(j->order + 1, j->order, (size_t)n * sizeof *j->order);
	j->order[0] = 0;
	j->nnew = n + 1;
	j->remap[0] = 0;
	for (uint32_t k = 1; k < j->nnew; k++)
		j->remap[j->order[k]] = k;
	return 0;
}

static int sort_rows(struct seal_job *j)
{
	const uint32_t *sess = AREG(j->a, AR_SESSION, uint32_t);
	const int64_t *ts = AREG(j->a, AR_TS, int64_t);

	j->rows = malloc((size_t)j->nrows * sizeof *j->rows + 1);
	if (!j->rows)
		return -ENOMEM;
	for (uint64_t r = 0; r < j->nrows; r++) {
		j->rows[r].sid = j->remap[sess[r]];
		j->rows[r].row = (uint32_t)r;
		j->rows[r].ts = ts[r];
	}
	qsort(j->rows, j->nrows, sizeof *j->rows, cmp_row);
	return 0;
}

/* Encodes column c of sorted rows [r0, r0 + n) into j->raw; returns its length. */
static size_t encode_col(struct seal_job *j, int c, uint64_t r0, uint32_t n, uint32_t *enc)
{
	const struct act *a = j->a;
	uint8_t *p = j->raw;
	int64_t prev = 0;

	switch (c) {
	case SC_TS:
	case SC_RECV:
	case SC_X:
	case SC_Y: {
		const int64_t *v64 = c == SC_TS ? AREG(a, AR_TS, int64_t) : AREG(a, AR_RECV, int64_t);
		const int32_t *v32 = c == SC_X ? AREG(a, AR_X, int32_t) : AREG(a, AR_Y, int32_t);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t r = j->rows[r0 + i].row;
			int64_t v = (c == SC_TS || c == SC_RECV) ? v64[r] : v32[r];
			p = put_varint(p, zz(v - prev));
			prev = v;
		}
		break;
	}
	case SC_USER:
	case SC_TYPE:
	case SC_TARGET:
	case SC_URL: {
		static const int reg[] = {[SC_USER] = AR_USER, [SC_TYPE] = AR_TYPE,
					  [SC_TARGET] = AR_TARGET, [SC_URL] = AR_URL};
		const uint32_t *v = AREG(a, reg[c], uint32_t);
		if (j->nnew <= 65536) { /* fixed width: decodes without branches */
			for (uint32_t i = 0; i < n; i++) {
				uint32_t id = j->remap[v[j->rows[r0 + i].row]];
				p[0] = (uint8_t)id;
				p[1] = (uint8_t)(id >> 8);
				p += 2;
			}
			*enc |= 1u << c;
			break;
		}
		for (uint32_t i = 0; i < n; i++)
			p = put_varint(p, j->remap[v[j->rows[r0 + i].row]]);
		break;
	}
	case SC_FLAGS: {
		const uint8_t *v = AREG(a, AR_FLAGS, uint8_t);
		for (uint32_t i = 0; i < n; i++)
			*p++ = v[j->rows[r0 + i].row];
		break;
	}
	default: { /* SC_ID, SC_PROPS */
		const uint32_t *off = c == SC_ID ? AREG(a, AR_ID_OFF, uint32_t)
						 : AREG(a, AR_PROPS_OFF, uint32_t);
		const char *b = c == SC_ID ? AREG(a, AR_ID_BYTES, char) : AREG(a, AR_PROPS_BYTES, char);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t r = j->rows[r0 + i].row;
			p = put_varint(p, off[r + 1] - off[r]);
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t r = j->rows[r0 + i].row;
			memcpy(p, b + off[r], off[r + 1] - off[r]);
			p += off[r + 1] - off[r];
		}
		break;
	}
	}
	return (size_t)(p - j->raw);
}

/* Upper bound of encode_col()'s output for a block. */
static size_t raw_bound(const struct seal_job *j, uint64_t r0, uint32_t n)
{
	const uint32_t *po = AREG(j->a, AR_PROPS_OFF, uint32_t);
	const uint32_t *io = AREG(j->a, AR_ID_OFF, uint32_t);
	size_t most = (size_t)n * 10, var = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = j->rows[r0 + i].row;
		size_t v = (size_t)(po[r + 1] - po[r]);
		size_t w = (size_t)(io[r + 1] - io[r]);
		var += v > w ? v : w;
	}
	return most + var + (size_t)n * 5;
}

static int grow(uint8_t **buf, size_t *cap, size_t n)
{
	if (*cap >= n)
		return 0;
	void *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static int write_blocks(struct seal_job *j, struct sealed_bdir *bd, uint32_t nblocks)
{
	int rc;
	for (uint32_t b = 0; b < nblocks; b++) {
		uint64_t r0 = (uint64_t)b * SEG_BLOCK_ROWS;
		uint32_t n = (uint32_t)(j->nrows - r0 < SEG_BLOCK_ROWS ? j->nrows - r0 : SEG_BLOCK_ROWS);
		size_t bound = raw_bound(j, r0, n);

		if ((rc = grow(&j->raw, &j->raw_cap, bound)) < 0 ||
		    (rc = grow(&j->comp, &j->comp_cap, (size_t)LZ4_compressBound((int)bound))) < 0)
			return rc;
		bd[b].row0 = r0;
		bd[b].nrows = n;
		bd[b].min_ts = INT64_MAX;
		bd[b].max_ts = INT64_MIN;
		for (uint32_t i = 0; i < n; i++) {
			int64_t t = j->rows[r0 + i].ts;
			if (t < bd[b].min_ts)
				bd[b].min_ts = t;
			if (t > bd[b].max_ts)
				bd[b].max_ts = t;
		}
		for (int c = 0; c < SC_N; c++) {
			size_t rlen = encode_col(j, c, r0, n, &bd[b].enc);
			int clen = LZ4_compress_default((const char *)j->raw, (char *)j->comp, (int)rlen,
							(int)j->comp_cap);
			if (clen <= 0)
				return ERR_CORRUPT;
			bd[b].col[c].off = j->pos;
			bd[b].col[c].clen = (uint32_t)clen;
			bd[b].col[c].rlen = (uint32_t)rlen;
			bd[b].col[c].sum = XXH3_64bits(j->comp, (size_t)clen);
			if ((rc = write_all(j, j->comp, (size_t)clen)) < 0)
				return rc;
		}
	}
	return 0;
}

/* Session index from the sorted rows. */
static struct sealed_sess *build_sidx(struct seal_job *j, uint32_t *count)
{
	const uint32_t *user = AREG(j->a, AR_USER, uint32_t);
	struct sealed_sess *v;
	uint32_t n = 0;

	for (uint64_t r = 0; r < j->nrows; r++)
		if (r == 0 || j->rows[r].sid != j->rows[r - 1].sid)
			n++;
	v = calloc(n ? n : 1, sizeof *v);
	if (!v)
		return NULL;
	n = 0;
	for (uint64_t r = 0; r < j->nrows; r++) {
		struct sort_row *sr = &j->rows[r];
		if (r == 0 || sr->sid != j->rows[r - 1].sid) {
			v[n].sid = sr->sid;
			v[n].row0 = r;
			v[n].first_ts = sr->ts;
			n++;
		}
		struct sealed_sess *s = &v[n - 1];
		s->nrows++;
		s->last_ts = sr->ts;
		if (user[sr->row])
			s->user = j->remap[user[sr->row]];
	}
	*count = n;
	return v;
}

static int write_dict(struct seal_job *j, uint64_t *len, uint64_t *sum)
{
	const uint32_t *off = AREG(j->a, AR_DICT_OFF, uint32_t);
	const char *bytes = AREG(j->a, AR_DICT_BYTES, char);
	size_t total = 4 + ((size_t)j->nnew + 1) * 4;
	uint32_t at = 0;
	uint8_t *buf;
	int rc;

	for (uint32_t k = 0; k < j->nnew; k++)
		total += off[j->order[k] + 1] - off[j->order[k]];
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &j->nnew, 4);
	uint32_t *o = (uint32_t *)(buf + 4);
	char *dst = (char *)(o + j->nnew + 1);
	for (uint32_t k = 0; k < j->nnew; k++) {
		uint32_t old = j->order[k], l = off[old + 1] - off[old];
		o[k] = at;
		memcpy(dst + at, bytes + off[old], l);
		at += l;
	}
	o[j->nnew] = at;
	*len = total;
	*sum = XXH3_64bits(buf, total);
	rc = write_all(j, buf, total);
	free(buf);
	return rc;
}

int sealed_write(const struct seg *g, const char *path)
{
	struct seal_job j = {.a = g->act, .fd = -1};
	struct sealed_hdr h = {0};
	struct sealed_bdir *bd = NULL;
	struct sealed_sess *sidx = NULL;
	char tmp[600];
	int rc;

	j.nrows = act_rows(g);
	j.ndict = (uint32_t)atomic_load_explicit(&g->act->hdr->dict, memory_order_acquire);
	if (g->act->read_only)
		j.ndict = g->act->ndict;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((rc = build_dict(&j)) < 0 || (rc = sort_rows(&j)) < 0)
		goto out;
	h.nblocks = (uint32_t)((j.nrows + SEG_BLOCK_ROWS - 1) / SEG_BLOCK_ROWS);
	bd = calloc(h.nblocks ? h.nblocks : 1, sizeof *bd);
	sidx = build_sidx(&j, &h.nsessions);
	if (!bd || !sidx) {
		rc = -ENOMEM;
		goto out;
	}
	j.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (j.fd < 0) {
		rc = -errno;
		goto out;
	}
	j.pos = sizeof h;
	if ((rc = write_blocks(&j, bd, h.nblocks)) < 0 || (rc = pad8(&j)) < 0)
		goto out;
	h.dict_off = j.pos;
	if ((rc = write_dict(&j, &h.dict_len, &h.dict_sum)) < 0 || (rc = pad8(&j)) < 0)
		goto out;
	h.sidx_off = j.pos;
	h.sidx_len = (uint64_t)h.nsessions * sizeof *sidx;
	h.sidx_sum = XXH3_64bits(sidx, h.sidx_len);
	if ((rc = write_all(&j, sidx, h.sidx_len)) < 0)
		goto out;
	h.bdir_off = j.pos;
	h.bdir_len = (uint64_t)h.nblocks * sizeof *bd;
	h.bdir_sum = XXH3_64bits(bd, h.bdir_len);
	if ((rc = write_all(&j, bd, h.bdir_len)) < 0)
		goto out;
	memcpy(h.magic, SEG_SEALED_MAGIC, 8);
	h.version = STORE_FORMAT_VERSION;
	h.shard = g->shard;
	h.part_start = g->part_start;
	h.seq = g->seq;
	h.nrows = j.nrows;
	h.min_ts = j.nrows ? INT64_MAX : 0;
	h.max_ts = j.nrows ? INT64_MIN : 0;
	for (uint32_t b = 0; b < h.nblocks; b++) {
		if (bd[b].min_ts < h.min_ts)
			h.min_ts = bd[b].min_ts;
		if (bd[b].max_ts > h.max_ts)
			h.max_ts = bd[b].max_ts;
	}
	h.block_rows = SEG_BLOCK_ROWS;
	h.dict_count = j.nnew;
	h.hdr_sum = XXH3_64bits(&h, offsetof(struct sealed_hdr, hdr_sum));
	j.pos = 0;
	if ((rc = write_all(&j, &h, sizeof h)) < 0)
		goto out;
	if (fsync(j.fd) < 0) {
		rc = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	rc = fsync_dir_of(path);
out:
	if (j.fd >= 0)
		close(j.fd);
	if (rc < 0)
		unlink(tmp);
	free(j.remap);
	free(j.order);
	free(j.rows);
	free(j.raw);
	free(j.comp);
	free(bd);
	free(sidx);
	return rc;
}
