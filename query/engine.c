/*
 * engine.c — the query engine object and its worker pool.
 *
 * A q_engine owns a fixed set of worker threads, created in q_engine_new()
 * and joined in q_engine_free().  Work arrives as jobs: q_parallel() builds
 * a job on its own stack ("run fn(arg, i) for i in [0, n)"), appends it to
 * the engine's queue and then claims indices of that same job itself until
 * none is left, after which it sleeps until the tasks that workers claimed
 * have finished.
 *
 * Invariants (all under e->mu):
 *   1. A job is in the queue exactly while it has unclaimed indices
 *      (next < n).  Whoever claims the last index unlinks it.
 *   2. done counts finished tasks; the job's owner returns only once
 *      done == n, so no worker touches a job after its owner returned.
 *   3. A worker takes indices from the oldest queued job first (FIFO over
 *      jobs), so a query that came first is not starved by later ones.
 *
 * Why no deadlock: the caller never waits for a worker to start its job; it
 * runs every index nobody has claimed yet, and waits only for tasks already
 * running.  So q_parallel() finishes even with every worker busy elsewhere,
 * with several HTTP threads calling at once, or when fn itself calls
 * q_parallel() (the nested call is helped by its own caller).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"
#include "q_int.h"

struct q_job {
	int (*fn)(void *arg, size_t i); /* the task */
	void *arg;			/* its argument, borrowed */
	size_t n;			/* indices 0..n-1 */
	size_t next;			/* first unclaimed index */
	size_t done;			/* tasks finished */
	int err;			/* first negative return, or 0 */
	pthread_cond_t done_cv;		/* signalled when done reaches n */
	struct q_job *qnext;		/* queue link */
};

struct q_engine {
	struct store *st;	/* borrowed */
	unsigned nthreads;	/* workers started */
	pthread_t *th;		/* [nthreads] */
	pthread_mutex_t mu;	/* guards everything below and every queued job */
	pthread_cond_t work_cv; /* a job was queued, or stop */
	struct q_job *head;	/* queue of jobs with unclaimed indices */
	struct q_job *tail;
	int stop;	       /* 1: workers exit */
	struct q_spare *spare; /* scratch kept between queries */
	unsigned nspare;
	void *chunks; /* free Q_CHUNK_BYTES chunks, linked through their first word */
	unsigned nchunks;
};

/* Claims the next index of job j (queued, next < n); unlinks j from the
 * queue when that was its last one.  Caller holds e->mu.  Returns the index. */
static size_t claim(struct q_engine *e, struct q_job *j)
{
	size_t i = j->next++;
	if (j->next == j->n) {
		struct q_job **pp = &e->head, *prev = NULL;
		while (*pp != j) {
			prev = *pp;
			pp = &(*pp)->qnext;
		}
		*pp = j->qnext;
		if (e->tail == j)
			e->tail = prev;
		j->qnext = NULL;
	}
	return i;
}

/* Runs task i of j without the lock, then records its end.  Caller holds
 * e->mu on entry and on return. */
static void run_one(struct q_engine *e, struct q_job *j, size_t i)
{
	int rc;

	pthread_mutex_unlock(&e->mu);
	rc = j->fn(j->arg, i);
	pthread_mutex_lock(&e->mu);
	if (rc < 0 && j->err == 0)
		j->err = rc;
	if (++j->done == j->n)
		pthread_cond_signal(&j->done_cv);
}

static void *worker_main(void *arg)
{
	struct q_engine *e = arg;

	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (!e->head && !e->stop)
			pthread_cond_wait(&e->work_cv, &e->mu);
		if (e->stop)
			break;
		struct q_job *j = e->head;
		run_one(e, j, claim(e, j));
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int q_parallel(struct q_engine *e, size_t n, int (*fn)(void *arg, size_t i), void *arg)
{
	struct q_job j = {.fn = fn, .arg = arg, .n = n};
	int rc;

	if (n == 0)
		return 0;
	if (n == 1 || e->nthreads == 0) { /* nothing to share: no queue round trip */
		rc = 0;
		for (size_t i = 0; i < n; i++) {
			int r = fn(arg, i);
			if (r < 0 && rc == 0)
				rc = r;
		}
		return rc;
	}
	pthread_cond_init(&j.done_cv, NULL);
	pthread_mutex_lock(&e->mu);
	if (e->tail)
		e->tail->qnext = &j;
	else
		e->head = &j;
	e->tail = &j;
	if (n - 1 >= e->nthreads)
		pthread_cond_broadcast(&e->work_cv);
	else
		for (size_t k = 0; k < n - 1; k++)
			pthread_cond_signal(&e->work_cv);
	while (j.next < j.n)
		run_one(e, &j, claim(e, &j));
	while (j.done < j.n)
		pthread_cond_wait(&j.done_cv, &e->mu);
	rc = j.err;
	pthread_mutex_unlock(&e->mu);
	pthread_cond_destroy(&j.done_cv);
	return rc;
}

int q_engine_new(struct store *st, unsigned threads, struct q_engine **out)
{
	struct q_engine *e;
	int rc = 0;

	*out = NULL;
	if (!st)
		return ERR_INVALID;
	if (threads == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		threads = c > 0 ? (unsigned)c : 1;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->st = st;
	e->th = calloc(threads, sizeof *e->th);
	if (!e->th) {
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->work_cv, NULL);
	for (unsigned i = 0; i < threads; i++) {
		rc = -pthread_create(&e->th[i], NULL, worker_main, e);
		if (rc < 0)
			break;
		e->nthreads++;
	}
	if (rc < 0) {
		q_engine_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void q_engine_spare_put(struct q_engine *e, struct q_spare *s)
{
	pthread_mutex_lock(&e->mu);
	if (e->nspare < Q_SPARE_MAX) {
		s->next = e->spare;
		e->spare = s;
		e->nspare++;
		s = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	if (s)
		s->free_fn(s);
}

void *q_engine_chunk_get(struct q_engine *e)
{
	void *p;

	pthread_mutex_lock(&e->mu);
	if ((p = e->chunks)) {
		e->chunks = *(void **)p;
		e->nchunks--;
	}
	pthread_mutex_unlock(&e->mu);
	if (!p) { /* populated at once: one call instead of a fault per page as it fills */
		p = mmap(NULL, Q_CHUNK_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	}
	return p;
}

void q_engine_chunk_put(struct q_engine *e, void *p)
{
	pthread_mutex_lock(&e->mu);
	if (e->nchunks < Q_CHUNK_KEEP) {
		*(void **)p = e->chunks;
		e->chunks = p;
		e->nchunks++;
		p = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	if (p)
		munmap(p, Q_CHUNK_BYTES);
}

struct q_spare *q_engine_spare_get(struct q_engine *e)
{
	struct q_spare *s;

	pthread_mutex_lock(&e->mu);
	if ((s = e->spare)) {
		e->spare = s->next;
		e->nspare--;
	}
	pthread_mutex_unlock(&e->mu);
	return s;
}

void q_engine_free(struct q_engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = 1;
	pthread_cond_broadcast(&e->work_cv);
	pthread_mutex_unlock(&e->mu);
	for (unsigned i = 0; i < e->nthreads; i++)
		pthread_join(e->th[i], NULL);
	while (e->spare) {
		struct q_spare *s = e->spare;
		e->spare = s->next;
		s->free_fn(s);
	}
	while (e->chunks) {
		void *p = e->chunks;
		e->chunks = *(void **)p;
		munmap(p, Q_CHUNK_BYTES);
	}
	pthread_cond_destroy(&e->work_cv);
	pthread_mutex_destroy(&e->mu);
	free(e->th);
	free(e);
}

struct store *q_engine_store(struct q_engine *e)
{
	return e->st;
}
