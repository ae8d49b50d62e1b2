/* Unit test of domd's suspend helper plumbing (domd/suspend_job.c): the fork, the result
 * through the pipe on domd's event loop, the callback with the request's origin, path and
 * timeout, one job at a time.  The child opens its own handle from the backend's name only;
 * the simulator needs a run directory, so here the child's suspend fails with -EINVAL, which
 * is what must come back (the real suspend is exercised on Xen by tests/xen). */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "domd/suspend_job.h"

static int calls, last_err;
static char last_path[64], last_peer[MSG_IDENTITY_MAX + 1];
static unsigned last_timeout;

static void done(struct domd *m, const struct msg_origin *from, int err, const char *path,
                 unsigned timeout_ms)
{
        calls++;
        last_err = err;
        snprintf(last_path, sizeof(last_path), "%.60s", path);
        snprintf(last_peer, sizeof(last_peer), "%s", from->peer);
        last_timeout = timeout_ms;
        event_base_loopbreak(m->d.base);
}

static void result_comes_back_on_the_loop(void **state)
{
        char dir[] = "/tmp/test_suspend_job.XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct domd m;
        memset(&m, 0, sizeof(m));
        m.d.base = event_base_new();
        struct hv_config cfg = {.backend = "sim", .run_dir = dir};
        assert_int_equal(hv_open(&cfg, &m.hv), 0);
        m.domid = 7;
        struct msg_origin from;
        memset(&from, 0, sizeof(from));
        snprintf(from.peer, sizeof(from.peer), "xapid");
        char img[64];
        snprintf(img, sizeof(img), "%s/image", dir);
        int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(suspend_job_start(&m, &from, fd, img, 1234, done), 0);
        assert_true(suspend_job_busy());
        int fd2 = open(img, O_WRONLY);
        assert_int_equal(suspend_job_start(&m, &from, fd2, img, 1, done), -EBUSY);
        assert_int_equal(calls, 0); /* nothing before the loop runs */
        struct timeval limit = {20, 0};
        event_base_loopexit(m.d.base, &limit);
        event_base_dispatch(m.d.base);
        assert_int_equal(calls, 1);
        assert_false(suspend_job_busy());
        assert_int_equal(last_err, -EINVAL);
        assert_string_equal(last_path, img);
        assert_string_equal(last_peer, "xapid");
        assert_int_equal(last_timeout, 1234);
        hv_close(m.hv);
        event_base_free(m.d.base);
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(result_comes_back_on_the_loop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
