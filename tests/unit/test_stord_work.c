/* stord's worker pool (long operations off the loop), its per-SR locks and the attachments'
 * state file. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "stord/attach_state.h"
#include "stord/srlock.h"
#include "stord/work.h"

#define JOBS 8

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct job_state {
        pthread_t loop;
        int ran, done, done_on_loop, order[JOBS], n_order;
        struct event_base *base;
};

struct one {
        struct job_state *st;
        int id;
        pthread_t ran_on;
};

static void slow_run(void *arg)
{
        struct one *o = arg;
        o->ran_on = pthread_self();
        usleep(200 * 1000); /* a long operation: 200 ms */
}

static void slow_done(void *arg)
{
        struct one *o = arg;
        struct job_state *st = o->st;
        st->done++;
        st->done_on_loop +=
            pthread_equal(pthread_self(), st->loop) && !pthread_equal(o->ran_on, st->loop);
        if (st->done == JOBS)
                event_base_loopexit(st->base, NULL);
}

/* Eight 200 ms jobs end in well under 8 x 200 ms: they run side by side, and every DONE runs
 * on the loop thread, not the worker's. */
static void jobs_run_in_parallel(void **unused)
{
        struct job_state st = {.loop = pthread_self(), .base = event_base_new()};
        struct work_pool *p = NULL;
        assert_int_equal(work_pool_new(st.base, &p), 0);
        struct one ones[JOBS];
        double t0 = now();
        for (int i = 0; i < JOBS; i++) {
                ones[i] = (struct one){.st = &st, .id = i};
                assert_int_equal(work_submit(p, slow_run, slow_done, &ones[i]), 0);
        }
        assert_int_equal(work_pending(p), JOBS);
        event_base_dispatch(st.base);
        double took = now() - t0;
        assert_int_equal(st.done, JOBS);
        assert_int_equal(st.done_on_loop, JOBS);
        assert_int_equal(work_pending(p), 0);
        assert_true(took < 0.2 * JOBS / 2); /* serial would take 1.6 s */
        work_pool_free(p);
        event_base_free(st.base);
}

/* work_pool_free waits for queued jobs and runs their DONE. */
static void free_finishes_jobs(void **unused)
{
        struct job_state st = {.loop = pthread_self(), .base = event_base_new()};
        struct work_pool *p = NULL;
        assert_int_equal(work_pool_new(st.base, &p), 0);
        struct one ones[3];
        for (int i = 0; i < 3; i++) {
                ones[i] = (struct one){.st = &st, .id = i};
                assert_int_equal(work_submit(p, slow_run, slow_done, &ones[i]), 0);
        }
        work_pool_free(p);
        assert_int_equal(st.done, 3);
        event_base_free(st.base);
}

struct locked {
        struct sd_srlock *l;
        int inside, max_inside;
        pthread_mutex_t mu;
};

static void *hold(void *arg)
{
        struct locked *k = arg;
        for (int i = 0; i < 20; i++) {
                sd_srlock_take(k->l);
                sd_srlock_take(k->l); /* recursive */
                pthread_mutex_lock(&k->mu);
                if (++k->inside > k->max_inside)
                        k->max_inside = k->inside;
                pthread_mutex_unlock(&k->mu);
                usleep(1000);
                pthread_mutex_lock(&k->mu);
                k->inside--;
                pthread_mutex_unlock(&k->mu);
                sd_srlock_release(k->l);
                sd_srlock_release(k->l);
        }
        return NULL;
}

/* One lock per SR uuid: the same object for the same uuid, exclusive across threads. */
static void srlock_per_uuid(void **unused)
{
        const char *a = "0b0c5c2e-1d5e-4c39-9a1a-2f3b7a1c0001";
        const char *b = "0b0c5c2e-1d5e-4c39-9a1a-2f3b7a1c0002";
        struct sd_srlock *la = sd_srlock_for(a);
        assert_non_null(la);
        assert_ptr_equal(sd_srlock_for(a), la);
        assert_ptr_not_equal(sd_srlock_for(b), la);
        struct locked k = {.l = la, .mu = PTHREAD_MUTEX_INITIALIZER};
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
                pthread_create(&t[i], NULL, hold, &k);
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        assert_int_equal(k.max_inside, 1);
}

/* The state file: saved whole, pending entries left out, read back; garbage is refused. */
static void attach_state_roundtrip(void **unused)
{
        char dir[] = "/tmp/test_stord_work.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[128];
        snprintf(path, sizeof path, "%s/att.json", dir);
        struct att_list l = {0}, back = {0};
        assert_int_equal(att_list_load(&back, path), 0); /* no file: empty */
        assert_int_equal(back.n, 0);
        assert_int_equal(att_list_add(&l, "sr1", "loc1", "vbd1", false, false), 0);
        assert_int_equal(att_list_add(&l, "sr1", "loc1", "vbd2", true, false), 1);
        assert_int_equal(att_list_add(&l, "sr2", "loc9", "vbd3", false, true), 2); /* pending */
        assert_int_equal(att_list_save(&l, path), 0);
        assert_int_equal(att_list_load(&back, path), 0);
        assert_int_equal(back.n, 2);
        assert_string_equal(back.v[0].holder, "vbd1");
        assert_false(back.v[0].read_only);
        assert_string_equal(back.v[1].holder, "vbd2");
        assert_true(back.v[1].read_only);
        att_list_clear(&back);
        att_list_remove(&l, 0);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.v[0].holder, "vbd3"); /* the last moved into the slot */
        assert_int_equal(att_list_save(&l, path), 0);
        assert_int_equal(att_list_load(&back, path), 0);
        assert_int_equal(back.n, 1);
        assert_string_equal(back.v[0].holder, "vbd2");
        att_list_clear(&back);
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        assert_int_equal(access(tmp, F_OK), -1); /* renamed over, nothing left behind */
        FILE *f = fopen(path, "w");
        fputs("{not json", f);
        fclose(f);
        assert_int_equal(att_list_load(&back, path), -EBADMSG);
        assert_int_equal(back.n, 0);
        att_list_clear(&l);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(jobs_run_in_parallel),
            cmocka_unit_test(free_finishes_jobs),
            cmocka_unit_test(srlock_per_uuid),
            cmocka_unit_test(attach_state_roundtrip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
