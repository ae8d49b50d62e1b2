/* Unit tests of xapid/auth.c: the password-file backend, async checks and failure delay. */
#include <errno.h>
#include <event2/event.h>
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

#include "xapid/auth.h"

static char path[64];

static int setup(void **state)
{
        snprintf(path, sizeof path, "/tmp/ts-auth-XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0)
                return -1;
        close(fd);
        return auth_password_file_set(path, "root", "s3cret");
}

static int teardown(void **state)
{
        unlink(path);
        return 0;
}

static void file_backend(void **state)
{
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "root", "s3cret"), 0);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "root", "wrong"),
                         -EACCES);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "nobody", "s3cret"),
                         -EACCES);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "ro", "s3cret"),
                         -EACCES);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "", ""), -EACCES);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, "/nonexistent/x", "root", "x"),
                         -ENOENT);
}

static void change_password(void **state)
{
        assert_int_equal(auth_password_file_set(path, "alice", "one"), 0);
        assert_int_equal(auth_password_file_set(path, "root", "two"), 0);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "root", "s3cret"),
                         -EACCES);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "root", "two"), 0);
        assert_int_equal(auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, path, "alice", "one"), 0);
}

struct outcome {
        int result;
        int calls;
        struct timespec at;
        struct event_base *base;
        int expect;
};

static void done(int result, void *arg)
{
        struct outcome *o = arg;
        o->result = result;
        clock_gettime(CLOCK_MONOTONIC, &o->at);
        if (++o->calls == o->expect)
                event_base_loopbreak(o->base);
}

static double ms_since(const struct timespec *a, const struct timespec *b)
{
        return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void async_with_delay(void **state)
{
        struct event_base *base = event_base_new();
        struct auth *a = auth_new(base, AUTH_BACKEND_PASSWORD_FILE, path);
        assert_non_null(a);
        auth_set_failure_delay(a, 300);
        struct outcome good = {.result = 99, .base = base, .expect = 1};
        struct outcome bad = {.result = 99, .base = base, .expect = 1};
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(auth_check_async(a, "root", "s3cret", done, &good), 0);
        assert_int_equal(auth_check_async(a, "root", "nope", done, &bad), 0);
        /* the good answer arrives first, without waiting for the failed one's delay */
        while (good.calls == 0 || bad.calls == 0)
                event_base_loop(base, EVLOOP_ONCE);
        assert_int_equal(good.result, 0);
        assert_int_equal(bad.result, -EACCES);
        assert_true(ms_since(&start, &good.at) < 250);
        assert_true(ms_since(&start, &bad.at) >= 290);
        auth_free(a);
        event_base_free(base);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(file_backend, setup, teardown),
            cmocka_unit_test_setup_teardown(change_password, setup, teardown),
            cmocka_unit_test_setup_teardown(async_with_delay, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
