/*
 * cli_harness.h — what the tests of the `spoor` command share: the real
 * spoord (S), spoor run as a child with its output captured, and a
 * generated clickstream (G) whose answers the tests compute themselves.
 */
#ifndef SPOOR_CLI_HARNESS_H
#define SPOOR_CLI_HARNESS_H

#include <stdint.h>

#include "spoord_client.h"

#define T0	  1732200000000LL /* 2024-11-21T14:40:00Z */
#define NSESS	  400		  /* sessions s000 .. s399 */
#define NUSERS	  150		  /* session s has user u(s % 150), none when s % 10 == 9 */
#define RUN_LIMIT 120		  /* seconds a spoor run may take */
#define MAX_EV	  (NSESS * 12)

/* The spoord of the running test: started by .init, stopped by .fini. */
extern struct qt_spoord S;
void start(void); /* spoord with default settings */
void stop(void);  /* stops it and asserts a clean exit */

/* ---- running spoor ---- */

struct run {
	int status; /* exit status, or 128 + signal */
	char *out;  /* stdout, NUL-terminated; owned */
	char *err;  /* stderr, NUL-terminated; owned */
};

void run_free(struct run *r);
/* Runs argv (argv[0] the program, NULL-terminated) with stdin from the
 * file `in` (NULL: /dev/null), TZ=UTC, no SPOOR_* variables but those of
 * env ("NAME=value", NULL-terminated, may be NULL).  Fails the test when it
 * runs longer than RUN_LIMIT seconds. */
void run_prog(struct run *r, const char *in, const char *const *env, const char *const *argv);
/* Runs SPOOR_CLI_PATH with the words of args plus --url and --query-url of S. */
void spoor_in(struct run *r, const char *in, const char *const *args);
/* Runs SPOOR_CLI_PATH with exactly these words. */
void spoor_bare(struct run *r, const char *const *words);

#define SPOOR(r, ...) spoor_in((r), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define BARE(r, ...)  spoor_bare((r), (const char *const[]){__VA_ARGS__, NULL})

/* Lines (newlines) in s. */
int count_lines(const char *s);
/* Asserts exit status st, one stderr line containing `what`, empty stdout;
 * frees r. */
void want_fail(struct run *r, int st, const char *what);
/* A loopback port with nothing listening: bound, then closed. */
int closed_port(void);

/* ---- generated clickstream ---- */

extern const char *const TYPES[4]; /* pageview, click, signup, purchase */
extern const char *const URLS[3];  /* /, /pricing, /docs */

struct gev {
	int64_t ts;
	int sess; /* session s%03d */
	int user; /* user u%d, -1 for none */
	int type; /* TYPES[] */
	int url;  /* URLS[] */
	int id;	  /* "id":"e<id>" */
};

struct gen {
	struct gev ev[MAX_EV]; /* sorted by ts (all distinct) */
	int n;
	int bad[8]; /* input lines that must be rejected */
	int nbad;
	int lines; /* lines of the file */
	char path[320];
};

extern struct gen G; /* big: not on the stack */

/* Events of NSESS sessions from seed: 3 to 12 each, 1 s to 25 min apart,
 * starting in the 6 hours after T0; no two events of one user or session
 * share a timestamp. */
void gen_events(struct gen *g, unsigned long long seed);
/* Writes g's events as NDJSON to dir/name; with_bad adds six lines that
 * must be rejected (numbers in g->bad) and a blank line. */
void gen_file(struct gen *g, const char *dir, const char *name, int with_bad);
/* gen_events + gen_file into S.dir, then `spoor post`, asserting exit 0. */
void load(unsigned long long seed);

#endif
