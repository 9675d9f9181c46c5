/*
 * asset.h — the files spoord serves as they are: the browser SDK
 * (client/js/spoor.js), the demo page (client/js/example/), the replay viewer
 * and query page (client/viewer/).
 *
 * They are compiled into the binary by cmake/embed.cmake from the files under
 * client/ at build time, so an installed spoord needs nothing beside it and a
 * change to a served file is a rebuild, never a stale copy on disk.
 */
#ifndef SPOOR_ASSET_H
#define SPOOR_ASSET_H

#include <stddef.h>

struct asset {
	const char *name;	   /* path under client/, e.g. "js/spoor.js" */
	const unsigned char *data; /* the bytes, followed by a NUL (not counted) */
	size_t len;		   /* byte count */
	const char *type;	   /* Content-Type */
	const char *etag;	   /* strong ETag, quotes included: "\"0123abcd...\"" */
};

/* The table, in the order embed.cmake was given the files, ending with an
 * all-zero entry.  Static storage: valid for the life of the process. */
extern const struct asset spoor_assets[];
extern const unsigned spoor_assets_count;

/* The asset named `name` (a path under client/), or NULL.  The result is
 * static: never freed. */
const struct asset *asset_find(const char *name);

#endif
