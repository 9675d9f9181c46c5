/*
 * test_engine.c — the query engine's worker pool: q_parallel() runs every
 * index once, reports a task's error after all tasks ran, and finishes when
 * many threads call it at once and when tasks call it themselves.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "err.h"
#include "query.h"
#include "storage.h"
#include "testutil.h"

struct pool_fixture {
	char dir[256];
	struct store *st;
	struct q_engine *e;
};

static void fixture_open(struct pool_fixture *f, unsigned threads)
{
	struct store_opts o = {.shards = 2, .no_background = 1};
	char err[256];

	tu_tmpdir(f->dir, sizeof f->dir, "engine");
	cr_assert_eq(store_open(f->dir, &o, &f->st, err, sizeof err), 0, "%s", err);
	cr_assert_eq(q_engine_new(f->st, threads, &f->e), 0);
	cr_assert_eq(q_engine_store(f->e), f->st);
}

static void fixture_close(struct pool_fixture *f)
{
	q_engine_free(f->e);
	store_close(f->st);
	tu_rmrf(f->dir);
}

#define N_IDX 2000

struct counts {
	atomic_int hits[N_IDX];
	int fail_at[2]; /* indices that fail, -1: none */
	int fail_rc[2];
};

static int count_task(void *arg, size_t i)
{
	struct counts *c = arg;
	atomic_fetch_add(&c->hits[i], 1);
	for (int k = 0; k < 2; k++)
		if ((int)i == c->fail_at[k])
			return c->fail_rc[k];
	return 0;
}

Test(engine, q_parallel_runs_every_index_exactly_once)
{
	static struct counts c;
	struct pool_fixture f;

	fixture_open(&f, 0); /* one worker per core */
	for (size_t n = 0; n <= N_IDX; n = n ? n * 3 : 1) {
		memset(&c, 0, sizeof c);
		c.fail_at[0] = c.fail_at[1] = -1;
		cr_assert_eq(q_parallel(f.e, n, count_task, &c), 0);
		for (size_t i = 0; i < N_IDX; i++)
			cr_assert_eq(atomic_load(&c.hits[i]), i < n ? 1 : 0, "n %zu index %zu", n,
				     i);
	}
	fixture_close(&f);
	q_engine_free(NULL);
}

Test(engine, a_failed_task_is_reported_after_every_task_ran)
{
	static struct counts c;
	struct pool_fixture f;
	int rc;

	fixture_open(&f, 3);
	memset(&c, 0, sizeof c);
	c.fail_at[0] = 17;
	c.fail_rc[0] = -EIO;
	c.fail_at[1] = -1;
	cr_assert_eq(q_parallel(f.e, 500, count_task, &c), -EIO);
	for (size_t i = 0; i < 500; i++)
		cr_assert_eq(atomic_load(&c.hits[i]), 1);

	memset(&c, 0, sizeof c);
	c.fail_at[0] = 3;
	c.fail_rc[0] = ERR_CORRUPT;
	c.fail_at[1] = 400;
	c.fail_rc[1] = -ENOMEM;
	rc = q_parallel(f.e, 500, count_task, &c);
	cr_assert(rc == ERR_CORRUPT || rc == -ENOMEM, "rc %d", rc);
	for (size_t i = 0; i < 500; i++)
		cr_assert_eq(atomic_load(&c.hits[i]), 1);
	fixture_close(&f);
}

/* Outer tasks that each run an inner q_parallel on the same engine. */
struct nest {
	struct q_engine *e;
	atomic_int inner;
	atomic_int outer;
};

static int inner_task(void *arg, size_t i)
{
	struct nest *n = arg;
	(void)i;
	atomic_fetch_add(&n->inner, 1);
	return 0;
}

static int outer_task(void *arg, size_t i)
{
	struct nest *n = arg;
	(void)i;
	atomic_fetch_add(&n->outer, 1);
	return q_parallel(n->e, 10, inner_task, n);
}

static void *caller_main(void *arg)
{
	struct nest *n = arg;
	for (int r = 0; r < 20; r++)
		if (q_parallel(n->e, 16, outer_task, n) != 0)
			return (void *)1;
	return NULL;
}

Test(engine, many_callers_and_nested_calls_all_finish, .timeout = 60)
{
	struct pool_fixture f;
	struct nest n[6];
	pthread_t th[6];

	fixture_open(&f, 2);
	for (int i = 0; i < 6; i++) {
		memset(&n[i], 0, sizeof n[i]);
		n[i].e = f.e;
		cr_assert_eq(pthread_create(&th[i], NULL, caller_main, &n[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		cr_expect_null(ret);
		cr_expect_eq(atomic_load(&n[i].outer), 20 * 16);
		cr_expect_eq(atomic_load(&n[i].inner), 20 * 16 * 10);
	}
	fixture_close(&f);
}
