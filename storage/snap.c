/*
 * snap.c — snapshots and reading: segment lists frozen at one moment,
 * column blocks, dictionary lookups, one session's events, session lists.
 *
 * A snapshot takes, for every (partition, shard), a reference to each of its
 * segments and the committed row count of the active ones (read with acquire
 * under the shard mutex, so the list and counts are one consistent cut).  It
 * never writes anything a writer reads; appends after it are invisible to
 * it; seals and retention after it swap pointers it does not look at.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "err.h"
#include "store_int.h"

struct store_snap {
	struct store *s;
	uint32_t nshards;
	size_t nparts;
	int64_t *starts;      /* [nparts] */
	size_t *first;        /* [nparts * nshards + 1]: segs of (p, k) are
				 segs[first[p*nshards+k] .. first[p*nshards+k+1]) */
	struct store_seg *segs;
	size_t nsegs;
};

struct store_cursor {
	struct seg_scratch sc;
	char msg[640];
};

static int snap_push(struct store_snap *sn, size_t *cap, struct store *s, struct seg *g)
{
	struct store_seg *e;
	if (sn->nsegs == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct store_seg *v = realloc(sn->segs, nc * sizeof *v);
		if (!v)
			return -ENOMEM;
		sn->segs = v;
		*cap = nc;
	}
	e = &sn->segs[sn->nsegs];
	e->s = s;
	e->g = g;
	if (g->kind == SEG_SEALED) {
		e->rows = sealed_rows(g);
		e->min_ts = sealed_min_ts(g);
		e->max_ts = sealed_max_ts(g);
	} else {
		e->rows = act_rows(g);
		e->min_ts = g->act->min_ts;
		e->max_ts = g->act->max_ts;
		if (e->rows == 0)
			return 0; /* nothing to see: skip it */
	}
	seg_ref(g);
	sn->nsegs++;
	return 0;
}

int store_snap_take(struct store *s, struct store_snap **out)
{
	struct store_snap *sn = calloc(1, sizeof *sn);
	size_t cap = 0;
	int rc = 0;

	*out = NULL;
	if (!sn)
		return -ENOMEM;
	sn->s = s;
	sn->nshards = s->o.shards;
	pthread_rwlock_rdlock(&s->parts_lock);
	sn->nparts = s->nparts;
	sn->starts = calloc(s->nparts + 1, sizeof *sn->starts);
	sn->first = calloc(s->nparts * s->o.shards + 1, sizeof *sn->first);
	if (!sn->starts || !sn->first)
		rc = -ENOMEM;
	for (size_t i = 0; i < s->nparts && rc == 0; i++) {
		struct part *p = s->parts[i];
		sn->starts[i] = p->start;
		for (uint32_t k = 0; k < s->o.shards && rc == 0; k++) {
			struct shard *sh = &p->shards[k];
			sn->first[i * s->o.shards + k] = sn->nsegs;
			pthread_mutex_lock(&sh->mu);
			for (size_t j = 0; j < sh->nsegs && rc == 0; j++)
				rc = snap_push(sn, &cap, s, sh->segs[j]);
			if (sh->active && rc == 0)
				rc = snap_push(sn, &cap, s, sh->active);
			pthread_mutex_unlock(&sh->mu);
		}
	}
	if (sn->first)
		sn->first[sn->nparts * sn->nshards] = sn->nsegs;
	pthread_rwlock_unlock(&s->parts_lock);
	if (rc < 0) {
		store_snap_release(sn);
		return rc;
	}
	*out = sn;
	return 0;
}

void store_snap_release(struct store_snap *sn)
{
	if (!sn)
		return;
	for (size_t i = 0; i < sn->nsegs; i++)
		seg_unref(sn->segs[i].g);
	free(sn->segs);
	free(sn->first);
	free(sn->starts);
	free(sn);
}

size_t store_snap_nparts(const struct store_snap *sn)
{
	return sn->nparts;
}
int64_t store_snap_part_start(const struct store_snap *sn, size_t part)
{
	return part < sn->nparts ? sn->starts[part] : 0;
}
uint32_t store_snap_nshards(const struct store_snap *sn)
{
	return sn->nshards;
}

size_t store_snap_nsegs(const struct store_snap *sn, size_t part, uint32_t shard)
{
	size_t k;
	if (part >= sn->nparts || shard >= sn->nshards)
		return 0;
	k = part * sn->nshards + shard;
	return sn->first[k + 1] - sn->first[k];
}

const struct store_seg *store_snap_seg(const struct store_snap *sn, size_t part, uint32_t shard,
				       size_t i)
{
	if (i >= store_snap_nsegs(sn, part, shard))
		return NULL;
	return &sn->segs[sn->first[part * sn->nshards + shard] + i];
}

int store_seg_sealed(const struct store_seg *e)
{
	return e->g->kind == SEG_SEALED;
}
uint64_t store_seg_rows(const struct store_seg *e)
{
	return e->rows;
}
int64_t store_seg_min_ts(const struct store_seg *e)
{
	return e->min_ts;
}
int64_t store_seg_max_ts(const struct store_seg *e)
{
	return e->max_ts;
}

int64_t store_seg_lookup(const struct store_seg *e, const char *p, size_t n)
{
	return e->g->kind == SEG_SEALED ? sealed_lookup(e->g, p, n) : act_lookup(e->g, p, n);
}

struct store_str store_seg_str(const struct store_seg *e, uint32_t id)
{
	return e->g->kind == SEG_SEALED ? sealed_str(e->g, id) : act_str(e->g, id);
}

uint32_t store_seg_dict_size(const struct store_seg *e)
{
	if (e->g->kind == SEG_SEALED)
		return sealed_dict_size(e->g);
	return (uint32_t)atomic_load_explicit(&e->g->act->hdr->dict, memory_order_acquire);
}

int store_cursor_new(struct store_cursor **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void store_cursor_free(struct store_cursor *c)
{
	if (!c)
		return;
	scratch_free(&c->sc);
	free(c);
}

uint32_t store_seg_nblocks(const struct store_seg *e)
{
	if (e->g->kind == SEG_SEALED)
		return sealed_nblocks(e->g);
	return (uint32_t)((e->rows + SEG_ACT_BLOCK_ROWS - 1) / SEG_ACT_BLOCK_ROWS);
}

int store_seg_block_info(const struct store_seg *e, uint32_t b, struct store_block *out)
{
	if (e->g->kind == SEG_SEALED)
		return sealed_block_info(e->g, b, out);
	memset(out, 0, sizeof *out);
	if (b >= store_seg_nblocks(e))
		return -ERANGE;
	out->row0 = (uint64_t)b * SEG_ACT_BLOCK_ROWS;
	out->nrows = (uint32_t)(e->rows - out->row0 < SEG_ACT_BLOCK_ROWS ? e->rows - out->row0
									 : SEG_ACT_BLOCK_ROWS);
	out->min_ts = e->min_ts;
	out->max_ts = e->max_ts;
	return 0;
}

#define REGP(a, r) ((const char *)(a)->hdr + (a)->region_off[r])

int store_cursor_read(struct store_cursor *c, const struct store_seg *e, uint32_t b, unsigned cols,
		      struct store_block *out)
{
	const struct act *a;
	uint64_t r0;
	int rc;

	if (e->g->kind == SEG_SEALED) {
		c->msg[0] = '\0';
		rc = sealed_read(e->g, b, cols, &c->sc, out, c->msg, sizeof c->msg);
		if (rc == ERR_CORRUPT && c->msg[0])
			store_problem(e->s, c->msg);
		return rc;
	}
	if ((rc = store_seg_block_info(e, b, out)) < 0)
		return rc;
	a = e->g->act;
	r0 = out->row0;
	if (cols & (1u << STORE_COL_TS))
		out->ts = (const int64_t *)REGP(a, AR_TS) + r0;
	if (cols & (1u << STORE_COL_RECV))
		out->recv = (const int64_t *)REGP(a, AR_RECV) + r0;
	if (cols & (1u << STORE_COL_SESSION))
		out->session = (const uint32_t *)REGP(a, AR_SESSION) + r0;
	if (cols & (1u << STORE_COL_USER))
		out->user = (const uint32_t *)REGP(a, AR_USER) + r0;
	if (cols & (1u << STORE_COL_TYPE))
		out->type = (const uint32_t *)REGP(a, AR_TYPE) + r0;
	if (cols & (1u << STORE_COL_TARGET))
		out->target = (const uint32_t *)REGP(a, AR_TARGET) + r0;
	if (cols & (1u << STORE_COL_URL))
		out->url = (const uint32_t *)REGP(a, AR_URL) + r0;
	if (cols & (1u << STORE_COL_X))
		out->x = (const int32_t *)REGP(a, AR_X) + r0;
	if (cols & (1u << STORE_COL_Y))
		out->y = (const int32_t *)REGP(a, AR_Y) + r0;
	if (cols & (1u << STORE_COL_FLAGS))
		out->flags = (const uint8_t *)REGP(a, AR_FLAGS) + r0;
	if (cols & (1u << STORE_COL_ID)) {
		out->id_off = (const uint32_t *)REGP(a, AR_ID_OFF) + r0;
		out->id_bytes = REGP(a, AR_ID_BYTES);
	}
	if (cols & (1u << STORE_COL_PROPS)) {
		out->props_off = (const uint32_t *)REGP(a, AR_PROPS_OFF) + r0;
		out->props_bytes = REGP(a, AR_PROPS_BYTES);
	}
	return 0;
}

int store_seg_session_rows(const struct store_seg *e, uint32_t sid, uint64_t *row0,
			   uint64_t *nrows)
{
	if (e->g->kind != SEG_SEALED)
		return -EOPNOTSUPP;
	return sealed_session_rows(e->g, sid, row0, nrows);
}
