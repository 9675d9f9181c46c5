/*
 * storage_testscan.c — st_scan() and st_verify(): reading a whole snapshot
 * the way a query does, checking storage.h's promises on the way.  See
 * storage_testutil.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage_testutil.h"

static struct store_str sv(const char *p, uint32_t n)
{
	struct store_str s = {p, n};
	return s;
}

/* ---- st_scan ------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static int scan_fail(struct st_scan *sc, const char *fmt, ...)
{
	if (!sc->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(sc->err, sizeof sc->err, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The scan state of one segment. */
struct seg_walk {
	const struct store_seg *g;
	struct st_loc loc;
	uint32_t dsz;
	uint8_t *closed; /* sealed: sessions whose run ended */
	uint32_t cur_sid;
	uint64_t run_start;
	int64_t prev_ts;
	int broken; /* a block was skipped: grouping checks off */
};

/* Ends the current session run of a sealed segment at row `end`: checks the
 * session index.  Returns 0 or -1. */
static int end_run(struct seg_walk *sw, uint64_t end, struct st_scan *sc)
{
	if (sw->cur_sid == UINT32_MAX)
		return 0;
	if (!sw->broken) {
		uint64_t r0 = 0, nr = 0;
		int rc = store_seg_session_rows(sw->g, sw->cur_sid, &r0, &nr);
		if (rc != 0 || r0 != sw->run_start || nr != end - sw->run_start)
			return scan_fail(sc,
					 "part %zu shard %u seg %zu: session_rows(sid %u) = %d "
					 "[%" PRIu64 ", +%" PRIu64 "), rows hold it at [%" PRIu64
					 ", +%" PRIu64 ")",
					 sw->loc.part, sw->loc.shard, sw->loc.seg, sw->cur_sid, rc,
					 r0, nr, sw->run_start, end - sw->run_start);
	}
	sw->closed[sw->cur_sid] = 1;
	sw->cur_sid = UINT32_MAX;
	return 0;
}

static int check_id(struct st_scan *sc, struct seg_walk *sw, const char *col, uint32_t id)
{
	if (id >= sw->dsz)
		return scan_fail(
		    sc, "part %zu shard %u seg %zu row %" PRIu64 ": %s id %u >= dict size %u",
		    sw->loc.part, sw->loc.shard, sw->loc.seg, sw->loc.row, col, id, sw->dsz);
	return 0;
}

/* Builds row r of blk into *ev and checks it.  Returns 0 or -1. */
static int load_row(struct st_scan *sc, struct seg_walk *sw, const struct store_block *blk,
		    uint32_t r, struct store_event *ev)
{
	const struct store_seg *g = sw->g;
	memset(ev, 0, sizeof *ev);
	ev->ts = blk->ts[r];
	if (check_id(sc, sw, "session", blk->session[r]))
		return -1;
	ev->session = store_seg_str(g, blk->session[r]);
	if (blk->recv)
		ev->recv = blk->recv[r];
	const uint32_t *ids[] = {blk->user, blk->type, blk->target, blk->url};
	struct store_str *dst[] = {&ev->user, &ev->type, &ev->target, &ev->url};
	static const char *const names[] = {"user", "type", "target", "url"};
	for (int i = 0; i < 4; i++) {
		if (!ids[i])
			continue;
		if (check_id(sc, sw, names[i], ids[i][r]))
			return -1;
		*dst[i] = store_seg_str(g, ids[i][r]);
		if ((ids[i][r] == STORE_NO_STR) != (dst[i]->n == 0))
			return scan_fail(sc,
					 "part %zu shard %u seg %zu row %" PRIu64
					 ": %s id %u resolves to %u bytes",
					 sw->loc.part, sw->loc.shard, sw->loc.seg, sw->loc.row,
					 names[i], ids[i][r], dst[i]->n);
	}
	if (blk->x)
		ev->x = blk->x[r];
	if (blk->y)
		ev->y = blk->y[r];
	if (blk->flags)
		ev->flags = blk->flags[r];
	if (blk->id_off) {
		if (blk->id_off[r + 1] < blk->id_off[r])
			return scan_fail(sc, "row %" PRIu64 ": id offsets go backwards",
					 sw->loc.row);
		ev->id = sv(blk->id_bytes + blk->id_off[r], blk->id_off[r + 1] - blk->id_off[r]);
	}
	if (blk->props_off) {
		if (blk->props_off[r + 1] < blk->props_off[r])
			return scan_fail(sc, "row %" PRIu64 ": props offsets go backwards",
					 sw->loc.row);
		ev->props = sv(blk->props_bytes + blk->props_off[r],
			       blk->props_off[r + 1] - blk->props_off[r]);
	}

	if (ev->ts < blk->min_ts || ev->ts > blk->max_ts)
		return scan_fail(sc,
				 "part %zu shard %u seg %zu row %" PRIu64 ": ts %" PRId64
				 " outside its block's [%" PRId64 ", %" PRId64 "]",
				 sw->loc.part, sw->loc.shard, sw->loc.seg, sw->loc.row, ev->ts,
				 blk->min_ts, blk->max_ts);
	if (ev->ts < store_seg_min_ts(g) || ev->ts > store_seg_max_ts(g))
		return scan_fail(sc,
				 "part %zu shard %u seg %zu row %" PRIu64 ": ts %" PRId64
				 " outside its segment's [%" PRId64 ", %" PRId64 "]",
				 sw->loc.part, sw->loc.shard, sw->loc.seg, sw->loc.row, ev->ts,
				 store_seg_min_ts(g), store_seg_max_ts(g));
	if (sc->partition_ms &&
	    (ev->ts < sw->loc.part_start || ev->ts >= sw->loc.part_start + sc->partition_ms))
		return scan_fail(sc,
				 "part %zu (start %" PRId64 ") row %" PRIu64 ": ts %" PRId64
				 " outside the partition",
				 sw->loc.part, sw->loc.part_start, sw->loc.row, ev->ts);
	return 0;
}

/* Sealed-segment order checks for the row just loaded. */
static int order_row(struct st_scan *sc, struct seg_walk *sw, uint32_t sid, int64_t ts)
{
	if (!sw->loc.sealed || sw->broken)
		return 0;
	if (sid == sw->cur_sid) {
		if (ts < sw->prev_ts)
			return scan_fail(sc,
					 "sealed part %zu shard %u seg %zu row %" PRIu64
					 ": ts %" PRId64 " after %" PRId64 " in one session",
					 sw->loc.part, sw->loc.shard, sw->loc.seg, sw->loc.row, ts,
					 sw->prev_ts);
	} else {
		if (end_run(sw, sw->loc.row, sc))
			return -1;
		if (sw->closed[sid])
			return scan_fail(sc,
					 "sealed part %zu shard %u seg %zu row %" PRIu64
					 ": session id %u appears in two runs",
					 sw->loc.part, sw->loc.shard, sw->loc.seg, sw->loc.row,
					 sid);
		sw->cur_sid = sid;
		sw->run_start = sw->loc.row;
	}
	sw->prev_ts = ts;
	return 0;
}

static int scan_seg(struct st_scan *sc, struct seg_walk *sw, struct store_cursor *c, unsigned cols,
		    uint32_t nshards, st_row_fn fn, void *arg)
{
	const struct store_seg *g = sw->g;
	uint64_t rows = store_seg_rows(g);
	uint32_t nb = store_seg_nblocks(g);
	uint64_t next = 0;
	struct store_str empty = store_seg_str(g, STORE_NO_STR);

	if (empty.n != 0)
		return scan_fail(sc, "part %zu shard %u seg %zu: dictionary id 0 is %u bytes",
				 sw->loc.part, sw->loc.shard, sw->loc.seg, empty.n);
	int64_t none = store_seg_lookup(g, "\x01no such string", 16);
	if (none != -ENOENT)
		return scan_fail(sc,
				 "part %zu shard %u seg %zu: lookup of an absent string = %" PRId64,
				 sw->loc.part, sw->loc.shard, sw->loc.seg, none);
	if (!sw->loc.sealed) {
		uint64_t r0, nr;
		int rc = store_seg_session_rows(g, 1, &r0, &nr);
		if (rc != -EOPNOTSUPP)
			return scan_fail(sc,
					 "active segment: store_seg_session_rows = %d, want "
					 "-EOPNOTSUPP",
					 rc);
	}
	for (uint32_t b = 0; b < nb; b++) {
		struct store_block bi, blk;
		int rc = store_seg_block_info(g, b, &bi);
		if (rc != 0)
			return scan_fail(sc, "part %zu shard %u seg %zu: block_info(%u) = %d",
					 sw->loc.part, sw->loc.shard, sw->loc.seg, b, rc);
		if (bi.row0 != next)
			return scan_fail(
			    sc,
			    "part %zu shard %u seg %zu block %u: row0 %" PRIu64 ", want %" PRIu64,
			    sw->loc.part, sw->loc.shard, sw->loc.seg, b, bi.row0, next);
		rc = store_cursor_read(c, g, b, cols, &blk);
		if (rc == ERR_CORRUPT && sc->skip_corrupt) {
			sc->corrupt_blocks++;
			sc->corrupt_rows += bi.nrows;
			sw->broken = 1;
			next += bi.nrows;
			continue;
		}
		if (rc != 0)
			return scan_fail(
			    sc, "part %zu shard %u seg %zu (%s): cursor_read(%u) = %d (%s)",
			    sw->loc.part, sw->loc.shard, sw->loc.seg,
			    sw->loc.sealed ? "sealed" : "active", b, rc, err_str(rc));
		if (blk.row0 != bi.row0 || blk.nrows != bi.nrows || blk.min_ts != bi.min_ts ||
		    blk.max_ts != bi.max_ts)
			return scan_fail(
			    sc,
			    "part %zu shard %u seg %zu block %u: read meta "
			    "(%" PRIu64 ", %u, %" PRId64 ", %" PRId64 ") != block_info (%" PRIu64
			    ", %u, %" PRId64 ", %" PRId64 ")",
			    sw->loc.part, sw->loc.shard, sw->loc.seg, b, blk.row0, blk.nrows,
			    blk.min_ts, blk.max_ts, bi.row0, bi.nrows, bi.min_ts, bi.max_ts);
		if (!blk.ts || !blk.session ||
		    ((cols & (1u << STORE_COL_PROPS)) && !blk.props_off) ||
		    ((cols & (1u << STORE_COL_ID)) && !blk.id_off) ||
		    ((cols & (1u << STORE_COL_URL)) && !blk.url))
			return scan_fail(sc, "block %u: a requested column is NULL", b);
		for (uint32_t r = 0; r < blk.nrows; r++) {
			struct store_event ev;
			sw->loc.row = blk.row0 + r;
			if (load_row(sc, sw, &blk, r, &ev))
				return -1;
			uint32_t want = store_shard_of(ev.session.p, ev.session.n, nshards);
			if (want != sw->loc.shard)
				return scan_fail(
				    sc, "session '%.*s' found in shard %u, belongs in %u",
				    (int)ev.session.n, ev.session.p, sw->loc.shard, want);
			if (r == 0 &&
			    store_seg_lookup(g, ev.session.p, ev.session.n) != blk.session[r])
				return scan_fail(sc,
						 "part %zu shard %u seg %zu: lookup of a session "
						 "gives %" PRId64 ", its rows say %u",
						 sw->loc.part, sw->loc.shard, sw->loc.seg,
						 store_seg_lookup(g, ev.session.p, ev.session.n),
						 blk.session[r]);
			if (order_row(sc, sw, blk.session[r], ev.ts))
				return -1;
			sc->rows++;
			if (fn) {
				rc = fn(arg, &ev, &sw->loc, sc);
				if (rc)
					return rc;
			}
		}
		next += blk.nrows;
	}
	if (next != rows)
		return scan_fail(sc,
				 "part %zu shard %u seg %zu: blocks hold %" PRIu64
				 " rows, store_seg_rows says %" PRIu64,
				 sw->loc.part, sw->loc.shard, sw->loc.seg, next, rows);
	if (sw->loc.sealed && end_run(sw, rows, sc))
		return -1;
	return 0;
}

int st_scan(struct store_snap *snap, struct st_scan *sc, st_row_fn fn, void *arg)
{
	struct store_cursor *c = NULL;
	unsigned cols = (sc->cols ? sc->cols : STORE_COLS_ALL) | (1u << STORE_COL_TS) |
			(1u << STORE_COL_SESSION);
	uint8_t *closed = NULL;
	int rc;

	sc->rows = sc->segs = sc->sealed_segs = 0;
	sc->corrupt_blocks = 0;
	sc->corrupt_rows = 0;
	sc->err[0] = '\0';
	rc = store_cursor_new(&c);
	if (rc != 0) {
		rc = scan_fail(sc, "store_cursor_new = %d", rc);
		goto out;
	}
	uint32_t nsh = store_snap_nshards(snap);
	size_t np = store_snap_nparts(snap);
	for (size_t p = 0; p < np; p++) {
		int64_t start = store_snap_part_start(snap, p);
		if (p > 0 && start <= store_snap_part_start(snap, p - 1)) {
			rc =
			    scan_fail(sc, "partition %zu starts at %" PRId64 ", not after %" PRId64,
				      p, start, store_snap_part_start(snap, p - 1));
			goto out;
		}
		for (uint32_t sh = 0; sh < nsh; sh++) {
			size_t ns = store_snap_nsegs(snap, p, sh);
			for (size_t i = 0; i < ns; i++) {
				struct seg_walk sw = {0};
				sw.g = store_snap_seg(snap, p, sh, i);
				if (!sw.g) {
					rc = scan_fail(sc, "store_snap_seg(%zu, %u, %zu) is NULL",
						       p, sh, i);
					goto out;
				}
				sw.loc = (struct st_loc){
				    p, start, sh, i, sw.g, store_seg_sealed(sw.g), 0};
				sw.dsz = store_seg_dict_size(sw.g);
				sw.cur_sid = UINT32_MAX;
				sc->segs++;
				sc->sealed_segs += sw.loc.sealed != 0;
				free(closed);
				closed = calloc(sw.dsz + 1, 1);
				if (!closed) {
					rc = scan_fail(sc, "out of memory");
					goto out;
				}
				sw.closed = closed;
				rc = scan_seg(sc, &sw, c, cols, nsh, fn, arg);
				if (rc)
					goto out;
			}
		}
	}
	rc = 0;
out:
	free(closed);
	store_cursor_free(c);
	return rc;
}

/* ---- st_verify ---------------------------------------------------------- */

struct verify_state {
	const struct st_gen *const *gens;
	uint32_t ngens;
	struct st_seen *seen;
	struct st_ev *want;
	int64_t *last_k;	     /* per writer, in the current context */
	const struct store_seg *cur; /* context: segment ... */
	char cur_session[STORE_MAX_SESSION];
	uint32_t cur_session_n; /* ... and, when sealed, session and ts */
	int64_t cur_ts;
};

static int verify_row(void *arg, const struct store_event *ev, const struct st_loc *loc,
		      struct st_scan *sc)
{
	struct verify_state *vs = arg;
	uint32_t w, k;
	char why[256];

	if (st_parse_marker(ev->props.p, ev->props.n, &w, &k) || w >= vs->seen->nw ||
	    k >= vs->seen->nk)
		return scan_fail(sc,
				 "part %zu shard %u seg %zu row %" PRIu64
				 ": props '%.*s' is no marker of this test",
				 loc->part, loc->shard, loc->seg, loc->row,
				 (int)(ev->props.n < 60 ? ev->props.n : 60), ev->props.p);
	st_gen_event(vs->gens[vs->ngens == 1 ? 0 : w], w, k, vs->want);
	if (!st_event_eq(&vs->want->ev, ev, why, sizeof why))
		return scan_fail(
		    sc, "event (w %u, k %u) at part %zu shard %u seg %zu (%s) row %" PRIu64 ": %s",
		    w, k, loc->part, loc->shard, loc->seg, loc->sealed ? "sealed" : "active",
		    loc->row, why);
	if (st_seen_add(vs->seen, w, k) > 1)
		return scan_fail(sc,
				 "event (w %u, k %u) appears twice (again at part %zu shard %u "
				 "seg %zu row %" PRIu64 ")",
				 w, k, loc->part, loc->shard, loc->seg, loc->row);

	int same = loc->g == vs->cur;
	if (loc->sealed)
		same = same && ev->ts == vs->cur_ts && ev->session.n == vs->cur_session_n &&
		       memcmp(ev->session.p, vs->cur_session, ev->session.n) == 0;
	if (!same) {
		for (uint32_t i = 0; i < vs->seen->nw; i++)
			vs->last_k[i] = -1;
		vs->cur = loc->g;
		vs->cur_ts = ev->ts;
		vs->cur_session_n = ev->session.n;
		memcpy(vs->cur_session, ev->session.p, ev->session.n);
	}
	if ((int64_t)k <= vs->last_k[w])
		return scan_fail(sc,
				 "arrival order: (w %u, k %u) after (w %u, k %" PRId64
				 ") in %s part %zu shard %u seg %zu row %" PRIu64 "%s",
				 w, k, w, vs->last_k[w], loc->sealed ? "sealed" : "active",
				 loc->part, loc->shard, loc->seg, loc->row,
				 loc->sealed ? " (same session and ts)" : "");
	vs->last_k[w] = k;
	return 0;
}

int st_verify(struct store_snap *snap, const struct st_gen *const *gens, uint32_t ngens,
	      struct st_seen *seen, struct st_scan *sc)
{
	struct verify_state vs = {.gens = gens, .ngens = ngens, .seen = seen};
	int rc;

	vs.want = malloc(sizeof *vs.want);
	vs.last_k = malloc(sizeof *vs.last_k * seen->nw);
	if (!vs.want || !vs.last_k) {
		sc->err[0] = '\0';
		rc = scan_fail(sc, "out of memory");
		goto out;
	}
	rc = st_scan(snap, sc, verify_row, &vs);
out:
	free(vs.want);
	free(vs.last_k);
	return rc;
}
