/* Unit tests of netd/dhcp_lease.c: the lease files netd's DHCP hook leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/dhcp_lease.h"

static void parse(void **state)
{
        struct dhcp_lease l;
        dhcp_lease_parse("ip=10.0.0.5\nnetmask=255.255.255.0\ngateway=10.0.0.1\n"
                         "dns=10.0.0.53 10.0.0.54\n",
                         &l);
        assert_true(l.bound);
        assert_string_equal(l.ip, "10.0.0.5");
        assert_string_equal(l.netmask, "255.255.255.0");
        assert_string_equal(l.gateway, "10.0.0.1");
        assert_int_equal(l.n_dns, 2);
        assert_string_equal(l.dns[1], "10.0.0.54");
        struct dhcp_lease m;
        dhcp_lease_parse("ip=10.0.0.5\nnetmask=255.255.255.0\ngateway=10.0.0.1\n"
                         "dns=10.0.0.53 10.0.0.54",
                         &m); /* no final newline */
        assert_true(dhcp_lease_equal(&l, &m));
        dhcp_lease_parse("ip=10.0.0.6\ndns=\n", &m);
        assert_true(m.bound);
        assert_int_equal(m.n_dns, 0);
        assert_false(dhcp_lease_equal(&l, &m));
        dhcp_lease_parse("netmask=255.0.0.0\nbogus\n", &m); /* no address: no lease */
        assert_false(m.bound);
        dhcp_lease_parse("dns=1.1.1.1,2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5\nip=1.2.3.4\n", &m);
        assert_int_equal(m.n_dns, DHCP_MAX_DNS); /* the rest is dropped */
        assert_string_equal(m.dns[1], "2.2.2.2");
}

static void script_and_files(void **state)
{
        char dir[] = "/tmp/test_dhcp_lease.XXXXXX", path[256];
        assert_non_null(mkdtemp(dir));
        assert_int_equal(dhcp_script_install(dir, path, sizeof(path)), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_mode & S_IXUSR);
        struct dhcp_lease l;
        dhcp_lease_read(dir, "xenbr0", &l);
        assert_false(l.bound); /* no file */
        char lease[256];
        dhcp_lease_path(dir, "xenbr0", lease, sizeof(lease));
        FILE *f = fopen(lease, "w");
        fputs("ip=192.0.2.7\nnetmask=255.255.255.0\ngateway=\ndns=192.0.2.53\n", f);
        fclose(f);
        dhcp_lease_read(dir, "xenbr0", &l);
        assert_true(l.bound);
        assert_string_equal(l.ip, "192.0.2.7");
        assert_string_equal(l.gateway, "");
        unlink(lease);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(parse),
            cmocka_unit_test(script_and_files),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
