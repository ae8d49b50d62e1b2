/* Unit tests of xapid/xen_host_facts.c: reading `domd --host-info` from a stand-in program. */
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

#include "xapid/xen_host_facts.h"

static char path[64];

/* A stand-in domd: prints TEXT when called with --host-info, exits with STATUS. */
static void write_domd(const char *text, int status)
{
        snprintf(path, sizeof path, "/tmp/ts-xhf-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        fprintf(f, "#!/bin/sh\n[ \"$1\" = --host-info ] || exit 3\nprintf '%s'\nexit %d\n", text,
                status);
        fclose(f);
        chmod(path, 0700);
}

static void test_reads_facts(void **state)
{
        (void)state;
        write_domd("backend=xc\\nhypervisor=xen\\nhypervisor_version=4.17.5\\n"
                   "total_memory=2147483648\\nfree_memory=1073741824\\nnr_cpus=2\\nbogus\\n",
                   0);
        struct xen_host_facts xf;
        assert_int_equal(xen_host_facts_read(path, &xf), 0);
        assert_string_equal(xf.backend, "xc");
        assert_string_equal(xf.hypervisor_version, "4.17.5");
        assert_int_equal(xf.total_memory, 2147483648ULL);
        assert_int_equal(xf.free_memory, 1073741824ULL);
        assert_int_equal(xf.nr_cpus, 2);
        unlink(path);
}

static void test_failure_and_missing(void **state)
{
        (void)state;
        struct xen_host_facts xf;
        write_domd("total_memory=1\\n", 1); /* domd failed: its output is not trusted */
        assert_true(xen_host_facts_read(path, &xf) < 0);
        unlink(path);
        write_domd("backend=xc\\n", 0); /* no memory figure: nothing usable */
        assert_true(xen_host_facts_read(path, &xf) < 0);
        unlink(path);
        assert_true(xen_host_facts_read("/nonexistent/domd", &xf) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_reads_facts),
            cmocka_unit_test(test_failure_and_missing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
