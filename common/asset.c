/*
 * asset.c — lookup in the table cmake/embed.cmake generates.  A handful of
 * entries: a linear scan costs less than anything cleverer.
 */
#include <string.h>

#include "asset.h"

const struct asset *asset_find(const char *name)
{
	for (unsigned i = 0; i < spoor_assets_count; i++)
		if (strcmp(spoor_assets[i].name, name) == 0)
			return &spoor_assets[i];
	return NULL;
}
