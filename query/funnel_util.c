/*
 * funnel_util.c — small containers of the funnel engine: a string-keyed hash
 * map, a byte arena whose copies never move, growable arrays, the chunked
 * buckets of user funnels, a radix sort
 * of 64-bit keys and a median by selection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "q_int.h"

int fn_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc;
	void *v;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	v = realloc(*p, nc * elem);
	if (!v)
		return -ENOMEM;
	*p = v;
	*cap = nc;
	return 0;
}

struct fn_urec *fn_bucket_add(struct fn_ctx *c, unsigned b)
{
	struct fn_uchunk *t = c->btail[b];

	if (!t || t->n == FN_UCHUNK_CAP) {
		struct fn_uchunk *ch = q_engine_chunk_get(c->e);
		if (!ch)
			return NULL;
		ch->next = NULL;
		ch->n = 0;
		if (t)
			t->next = ch;
		else
			c->bucket[b] = ch;
		c->btail[b] = t = ch;
	}
	return &t->r[t->n++];
}

void fn_buckets_reset(struct fn_ctx *c)
{
	for (unsigned b = 0; b < FN_BUCKETS; b++) {
		struct fn_uchunk *ch = c->bucket[b], *next;
		for (; ch; ch = next) {
			next = ch->next;
			q_engine_chunk_put(c->e, ch);
		}
		c->bucket[b] = c->btail[b] = NULL;
		for (struct fn_rchunk *rc = c->rbucket[b], *rnext; rc; rc = rnext) {
			rnext = rc->next;
			q_engine_chunk_put(c->e, rc);
		}
		c->rbucket[b] = c->rtail[b] = NULL;
	}
	for (struct fn_xchunk *x = c->xchunks, *xnext; x; x = xnext) {
		xnext = x->next;
		q_engine_chunk_put(c->e, x);
	}
	c->xchunks = NULL;
}

uint64_t fn_hash(const char *p, size_t n)
{
	return XXH3_64bits(p, n);
}

/* Doubles the table and reinserts every key.  Returns 0 or -ENOMEM. */
static int map_rehash(struct fn_map *m)
{
	size_t nc = m->cap ? m->cap * 2 : 64;
	struct fn_slot *v = malloc(nc * sizeof *v);

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nc; i++)
		v[i].val = FN_EMPTY;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;
		if (m->v[i].val == FN_EMPTY)
			continue;
		for (j = m->v[i].h & (nc - 1); v[j].val != FN_EMPTY; j = (j + 1) & (nc - 1))
			;
		v[j] = m->v[i];
	}
	free(m->v);
	m->v = v;
	m->cap = nc;
	return 0;
}

int fn_map_put(struct fn_map *m, const char *p, uint32_t n, uint64_t h, uint32_t val, uint32_t *out,
	       int *added)
{
	size_t j;

	*added = 0;
	if ((m->n + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
		int rc = map_rehash(m);
		if (rc < 0)
			return rc;
	}
	for (j = h & (m->cap - 1); m->v[j].val != FN_EMPTY; j = (j + 1) & (m->cap - 1)) {
		const struct fn_slot *s = &m->v[j];
		if (s->h == h && s->n == n && (n == 0 || memcmp(s->p, p, n) == 0)) {
			*out = s->val;
			return 0;
		}
	}
	m->v[j] = (struct fn_slot){.h = h, .p = p, .n = n, .val = val};
	m->n++;
	*out = val;
	*added = 1;
	return 0;
}

const struct fn_slot *fn_map_find(const struct fn_map *m, const char *p, uint32_t n, uint64_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t j = h & (m->cap - 1); m->v[j].val != FN_EMPTY; j = (j + 1) & (m->cap - 1)) {
		const struct fn_slot *s = &m->v[j];
		if (s->h == h && s->n == n && (n == 0 || memcmp(s->p, p, n) == 0))
			return s;
	}
	return NULL;
}

void fn_map_clear(struct fn_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		m->v[i].val = FN_EMPTY;
	m->n = 0;
}

void fn_map_fini(struct fn_map *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

#define ARENA_CHUNK 65536

const char *fn_arena_copy(struct fn_arena *a, const char *p, size_t n)
{
	char *dst;

	if (!a->chunk || a->used + n > a->cap) {
		size_t cap = n + 8 > ARENA_CHUNK ? n + 8 : ARENA_CHUNK;
		char *c = malloc(cap);
		if (!c)
			return NULL;
		memcpy(c, &a->chunk, sizeof a->chunk); /* link the previous chunk */
		a->chunk = c;
		a->used = 8;
		a->cap = cap;
	}
	dst = a->chunk + a->used;
	if (n)
		memcpy(dst, p, n);
	a->used += n;
	return dst;
}

void fn_arena_fini(struct fn_arena *a)
{
	char *c = a->chunk;
	while (c) {
		char *prev;
		memcpy(&prev, c, sizeof prev);
		free(c);
		c = prev;
	}
	memset(a, 0, sizeof *a);
}

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

void fn_radix_sort(uint64_t *v, uint64_t *tmp, size_t n, unsigned bits)
{
	size_t count[RADIX_SIZE];
	uint64_t *src = v, *dst = tmp;

	for (unsigned shift = 32; shift < 32 + bits; shift += RADIX_BITS) {
		size_t sum = 0;
		memset(count, 0, sizeof count);
		for (size_t i = 0; i < n; i++)
			count[(src[i] >> shift) & (RADIX_SIZE - 1)]++;
		for (size_t d = 0; d < RADIX_SIZE; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & (RADIX_SIZE - 1)]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof *v);
}

int64_t fn_median(int64_t *v, size_t n)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = ((ptrdiff_t)n - 1) / 2;

	while (lo < hi) { /* quickselect, Hoare partition around the middle value */
		int64_t pivot = v[lo + (hi - lo) / 2];
		ptrdiff_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				int64_t t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		}
		/* now v[lo..j] <= pivot <= v[i..hi], and v[j+1..i-1] == pivot */
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			break;
	}
	return v[want];
}
