/* Unit tests of netd/resolv.c: the resolv.conf netd writes for the management interface. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/resolv.h"

static void format(void **state)
{
        char *ns[] = {"192.0.2.53", "fd00::53"}, *search[] = {"example.org", "lab"};
        Ts__Net__Resolver r = TS__NET__RESOLVER__INIT;
        r.nameservers = ns;
        r.n_nameservers = 2;
        r.search = search;
        r.n_search = 2;
        char buf[512];
        int n = resolv_format(&r, NULL, 0, buf, sizeof(buf));
        assert_int_equal(n, (int)strlen(buf));
        assert_string_equal(buf, RESOLV_HEADER "search example.org lab\n"
                                               "nameserver 192.0.2.53\nnameserver fd00::53\n");
        const char *lease[] = {"198.51.100.1"}; /* a DHCP lease's servers replace them */
        resolv_format(&r, lease, 1, buf, sizeof(buf));
        assert_string_equal(buf, RESOLV_HEADER "search example.org lab\nnameserver 198.51.100.1\n");
        assert_int_equal(resolv_format(&r, NULL, 0, buf, 40), -ENOSPC);
}

static void write_replace_remove(void **state)
{
        char dir[] = "/tmp/test_resolv.XXXXXX", path[64];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/resolv.conf", dir);
        int changed;
        assert_int_equal(resolv_write(path, NULL, &changed), 0); /* nothing to remove */
        assert_int_equal(changed, 0);
        assert_int_equal(resolv_write(path, RESOLV_HEADER "nameserver 192.0.2.1\n", &changed), 0);
        assert_int_equal(changed, 1);
        assert_int_equal(resolv_write(path, RESOLV_HEADER "nameserver 192.0.2.1\n", &changed), 0);
        assert_int_equal(changed, 0); /* the same content: left alone */
        assert_int_equal(resolv_write(path, NULL, &changed), 0);
        assert_int_equal(changed, 1);
        assert_int_equal(access(path, F_OK), -1);
        FILE *f = fopen(path, "w"); /* somebody else's file stays */
        fputs("nameserver 203.0.113.9\n", f);
        fclose(f);
        assert_int_equal(resolv_write(path, NULL, &changed), 0);
        assert_int_equal(changed, 0);
        assert_int_equal(access(path, F_OK), 0);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(format),
            cmocka_unit_test(write_replace_remove),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
