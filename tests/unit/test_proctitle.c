/* Unit tests of common/proctitle: the title in /proc/self/cmdline, the short name in
 * /proc/self/comm, and an environment that survives the move. */
#include <errno.h>
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

#include "common/proctitle.h"

static char saved_path[4096];

static size_t read_proc(const char *file, char *buf, size_t len)
{
        int fd = open(file, O_RDONLY);
        assert_true(fd >= 0);
        ssize_t n = read(fd, buf, len - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = '\0';
        return (size_t)n;
}

static void title(void **state)
{
        assert_true(proctitle_capacity() > 20);
        proctitle_set("domd: vm %s domid %d %s", "5f1c", 7, "running");
        char buf[8192];
        size_t n = read_proc("/proc/self/cmdline", buf, sizeof buf);
        assert_string_equal(buf, "domd: vm 5f1c domid 7 running");
        /* Nothing of the old command line is left after the title. */
        for (size_t i = strlen(buf); i < n; i++)
                assert_int_equal(buf[i], '\0');

        /* Longer than the space: truncated, never overflowing. */
        char *big = malloc(proctitle_capacity() + 100);
        memset(big, 'x', proctitle_capacity() + 99);
        big[proctitle_capacity() + 99] = '\0';
        proctitle_set("%s", big);
        free(big);
        n = read_proc("/proc/self/cmdline", buf, sizeof buf);
        assert_true(strlen(buf) <= proctitle_capacity());
        assert_true(strlen(buf) > 0);

        /* The environment moved but still works, for reading and writing. */
        const char *path = getenv("PATH");
        assert_string_equal(path ? path : "", saved_path);
        setenv("TS_PROCTITLE_TEST", "1", 1);
        assert_string_equal(getenv("TS_PROCTITLE_TEST"), "1");
}

static void short_name(void **state)
{
        char buf[64];
        proctitle_set_name("tsname");
        read_proc("/proc/self/comm", buf, sizeof buf);
        assert_string_equal(buf, "tsname\n");
        proctitle_set_name("a-name-longer-than-fifteen");
        read_proc("/proc/self/comm", buf, sizeof buf);
        assert_string_equal(buf, "a-name-longer-t\n");
        proctitle_set_name(NULL);
}

int main(int argc, char **argv)
{
        const char *path = getenv("PATH");
        snprintf(saved_path, sizeof saved_path, "%s", path ? path : "");
        assert_int_equal(proctitle_init(argc, argv), 0);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(title),
            cmocka_unit_test(short_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
