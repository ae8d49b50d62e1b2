/* Unit tests of common/sdnotify against a fake systemd: a datagram socket in NOTIFY_SOCKET. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "common/sdnotify.h"

struct fake_systemd {
        char dir[64];
        char path[128];
        int fd;
};

static int setup(void **state)
{
        struct fake_systemd *s = calloc(1, sizeof *s);
        strcpy(s->dir, "/tmp/test_sdnotify_XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->path, sizeof s->path, "%s/notify", s->dir);
        s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, s->path);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
        setenv("NOTIFY_SOCKET", s->path, 1);
        *state = s;
        return 0;
}

static int teardown(void **state)
{
        struct fake_systemd *s = *state;
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        close(s->fd);
        unlink(s->path);
        rmdir(s->dir);
        free(s);
        return 0;
}

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(struct fake_systemd *s)
{
        static char buf[1024];
        ssize_t n = recv(s->fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

static void messages(void **state)
{
        struct fake_systemd *s = *state;
        assert_int_equal(sdnotify_ready(), 0);
        assert_string_equal(next_msg(s), "READY=1");
        assert_int_equal(sdnotify_status("%d domains\nand more", 3), 0);
        assert_string_equal(next_msg(s), "STATUS=3 domains and more");
        assert_int_equal(sdnotify_reloading(), 0);
        assert_true(strncmp(next_msg(s), "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
        assert_int_equal(sdnotify_stopping(), 0);
        assert_string_equal(next_msg(s), "STOPPING=1");
        assert_string_equal(next_msg(s), "");

        /* Not under systemd: nothing is sent, nothing fails. */
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sdnotify_ready(), 0);
        assert_string_equal(next_msg(s), "");
}

static void watchdog(void **state)
{
        struct fake_systemd *s = *state;
        struct event_base *base = event_base_new();

        /* No WATCHDOG_USEC, or one meant for another process: no timer. */
        assert_int_equal(sdnotify_watchdog_start(base), 0);
        assert_int_equal(sdnotify_watchdog_interval_usec(), 0);
        setenv("WATCHDOG_USEC", "40000", 1);
        setenv("WATCHDOG_PID", "1", 1);
        assert_int_equal(sdnotify_watchdog_start(base), 0);
        assert_int_equal(sdnotify_watchdog_interval_usec(), 0);
        assert_string_equal(next_msg(s), "");

        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        setenv("WATCHDOG_PID", pid, 1);
        assert_int_equal(sdnotify_watchdog_start(base), 0);
        assert_int_equal(sdnotify_watchdog_interval_usec(), 20000);
        assert_int_equal(sdnotify_watchdog_start(base), -EALREADY);
        assert_string_equal(next_msg(s), "WATCHDOG=1"); /* at once */
        struct timeval tv = {0, 110000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
        int pings = 0;
        while (strcmp(next_msg(s), "WATCHDOG=1") == 0)
                pings++;
        assert_in_range(pings, 2, 6); /* every 20 ms for 110 ms; 2 leaves room for a loaded host */
        sdnotify_watchdog_stop();
        sdnotify_watchdog_stop();
        assert_int_equal(sdnotify_watchdog_interval_usec(), 0);
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
        assert_string_equal(next_msg(s), "");
        event_base_free(base);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(messages, setup, teardown),
            cmocka_unit_test_setup_teardown(watchdog, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
