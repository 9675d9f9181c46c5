/*
 * sealed_fmt.h — the on-disk format of sealed segments, shared by the writer
 * (seal_write.c) and the reader (seg_sealed.c).  Internal to storage/.
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
#ifndef SPOOR_SEALED_FMT_H
#define SPOOR_SEALED_FMT_H

#include <stdint.h>

#include "seg.h"

struct sealed_hdr {
	char magic[8];
	uint32_t version;
	uint32_t shard;
	int64_t part_start;
	uint64_t seq;
	uint64_t nrows;
	int64_t min_ts, max_ts;
	uint32_t nblocks;
	uint32_t block_rows;
	uint32_t dict_count;
	uint32_t nsessions;
	uint64_t dict_off, dict_len;
	uint64_t sidx_off, sidx_len;
	uint64_t bdir_off, bdir_len;
	uint64_t dict_sum, sidx_sum, bdir_sum;
	uint8_t pad[248 - 144];
	uint64_t hdr_sum;
};
_Static_assert(sizeof(struct sealed_hdr) == 256, "sealed header is 256 bytes");

struct sealed_col {
	uint64_t off;  /* file offset of the compressed chunk */
	uint32_t clen; /* compressed bytes */
	uint32_t rlen; /* bytes after decompression */
	uint64_t sum;  /* XXH3_64 of the compressed bytes */
};

struct sealed_bdir {
	uint64_t row0;
	uint32_t nrows;
	uint32_t enc; /* bit c: column c is u16 dictionary ids (else varint) */
	int64_t min_ts, max_ts;
	struct sealed_col col[SC_N];
};

struct sealed {
	const struct sealed_hdr *h;
	const uint32_t *dict_off;
	const char *dict_bytes;
	uint32_t dict_count;
	const struct sealed_sess *sess;
	uint32_t nsess;
	const struct sealed_bdir *bdir;
	uint32_t nblocks;
	uint8_t *bad; /* bad[b]: block b failed its checksum */
};

/* Frees the parsed view of a sealed file (NULL ok). */
void sealed_free(struct sealed *sl);

#endif
