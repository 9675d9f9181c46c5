#include "err.h"

#include <string.h>

const char *err_str(int code)
{
	switch (code) {
	case 0: return "success";
	case ERR_CORRUPT: return "corrupted data";
	case ERR_FORMAT: return "incompatible format version";
	case ERR_INVALID: return "invalid input";
	case ERR_FULL: return "no room left";
	case ERR_BUSY: return "busy, try again later";
	case ERR_TOOBIG: return "value too large";
	default: break;
	}
	if (code < 0 && code > ERR_BASE)
		return strerror(-code);
	return "unknown error";
}
