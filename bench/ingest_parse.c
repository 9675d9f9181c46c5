/*
 * ingest_parse.c — cost of ingest_parse() per event and per byte.
 *
 * Builds bodies of typical SDK events (about 200 bytes each: session, type,
 * ts, target, url, x, y, a small props object), in the three forms (array,
 * NDJSON, envelope) plus one with escapes and folded unknown keys, and
 * parses each repeatedly.  Prints ns/event and MB/s per form.
 *
 *   bench/ingest_parse [events-per-body] [seconds-per-form]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "ingest.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Appends event i to buf at *len; `fancy` adds escapes and unknown keys. */
static void put_event(char *buf, size_t *len, unsigned i, int fancy)
{
	static const char *const types[] = {"click", "mousemove", "pageview", "scroll", "input"};

	*len += (size_t)sprintf(
	    buf + *len,
	    "{\"ts\":%llu,\"session\":\"s_%08x%08x\",\"type\":\"%s\","
	    "\"target\":\"button#buy-%u\",\"url\":\"https://shop.example.com/p/%u?ref=home\","
	    "\"x\":%u,\"y\":%u,\"props\":{\"plan\":\"pro\",\"n\":%u}%s}",
	    1732197785000ull + i, i * 2654435761u, i, types[i % 5], i % 50, i % 1000, i % 1920,
	    i % 1080, i,
	    fancy ? ",\"user\":\"u\\u00e9\\\"q\\\"\",\"experiment\":\"b\",\"dpr\":2" : "");
}

/* Builds a body of n events in form 0 array, 1 NDJSON, 2 envelope. */
static char *make_body(unsigned n, int form, int fancy, size_t *len)
{
	char *buf = malloc((size_t)n * 400 + 64);

	*len = 0;
	if (form == 2)
		*len += (size_t)sprintf(buf, "{\"sent_at\":1732197786000,\"events\":[");
	else if (form == 0)
		buf[(*len)++] = '[';
	for (unsigned i = 0; i < n; i++) {
		if (i && form != 1)
			buf[(*len)++] = ',';
		put_event(buf, len, i, fancy);
		if (form == 1)
			buf[(*len)++] = '\n';
	}
	if (form == 2)
		*len += (size_t)sprintf(buf + *len, "]}");
	else if (form == 0)
		buf[(*len)++] = ']';
	return buf;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"array", "ndjson", "envelope", "array+escapes+fold"};
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	struct ingest_parser *p;
	int rc = ingest_parser_new(64u << 20, &p);

	if (rc < 0) {
		fprintf(stderr, "ingest_parser_new: %s\n", err_str(rc));
		return 1;
	}
	printf("%u events per body, %.1f s per form\n", n, secs);
	for (int f = 0; f < 4; f++) {
		size_t len;
		char *body = make_body(n, f == 3 ? 0 : f, f == 3, &len);
		struct ingest_batch b;
		unsigned long iters = 0;
		double t0 = now_s(), t;

		do {
			for (int k = 0; k < 64; k++) {
				rc = ingest_parse(p, body, len, 1732197786500, &b);
				if (rc < 0 || b.n != n) {
					fprintf(stderr, "%s: rc %d n %zu: %s %s\n", names[f], rc,
						b.n, b.json_error,
						b.nerrors ? b.errors[0].msg : "");
					return 1;
				}
			}
			iters += 64;
			t = now_s() - t0;
		} while (t < secs);
		printf("%-20s %6.0f B/event %7.1f ns/event %7.0f MB/s\n", names[f], (double)len / n,
		       t * 1e9 / ((double)iters * n), (double)len * (double)iters / t / 1e6);
		free(body);
	}
	ingest_parser_free(p);
	return 0;
}
