/* Unit tests of the Xen backend's parts that need no hypervisor: the ACPI tables given to
 * PVH guests, and a clean failure to open where there is no Xen.  The backend itself is
 * exercised on a real Xen by tests/xen/test_hv_xc. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "domd/hv.h"
#ifdef HAVE_XEN
#include "domd/hv_xc_acpi.h"
#endif

#ifdef HAVE_XEN
static uint8_t sum(const uint8_t *p, size_t n)
{
        uint8_t s = 0;
        for (size_t i = 0; i < n; i++)
                s = (uint8_t)(s + p[i]);
        return s;
}

static uint32_t u32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

static uint64_t u64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
}

/* The table at guest address ADDR inside the page loaded at BASE, checked. */
static const uint8_t *table(const uint8_t *page, uint64_t base, uint64_t addr, const char *sig)
{
        assert_true(addr >= base && addr + 36 <= base + XC_ACPI_PAGE);
        const uint8_t *t = page + (addr - base);
        assert_memory_equal(t, sig, 4);
        assert_true(addr + u32(t + 4) <= base + XC_ACPI_PAGE);
        assert_int_equal(sum(t, u32(t + 4)), 0);
        return t;
}

static void acpi_tables_consistent(void **state)
{
        const uint64_t base = XC_ACPI_BASE;
        size_t len = 0;
        uint8_t *page = xc_acpi_pvh_tables(base, 3, &len);
        assert_non_null(page);
        assert_int_equal(len, XC_ACPI_PAGE);
        assert_memory_equal(page, "RSD PTR ", 8);
        assert_int_equal(sum(page, 20), 0);
        assert_int_equal(sum(page, 36), 0);
        assert_int_equal(page[15], 2);
        const uint8_t *xsdt = table(page, base, u64(page + 24), "XSDT");
        assert_int_equal(u32(xsdt + 4), 36 + 16);
        const uint8_t *fadt = table(page, base, u64(xsdt + 36), "FACP");
        assert_true(u32(fadt + 112) & (1u << 20)); /* hardware-reduced */
        table(page, base, u64(fadt + 140), "DSDT");
        const uint8_t *madt = table(page, base, u64(xsdt + 44), "APIC");
        assert_int_equal(u32(madt + 4), 44 + 3 * 8);
        for (unsigned i = 0; i < 3; i++) {
                const uint8_t *e = madt + 44 + 8 * i;
                assert_int_equal(e[0], 0);
                assert_int_equal(e[3], 2 * i); /* Xen's APIC ids */
                assert_int_equal(u32(e + 4), 1);
        }
        free(page);
        assert_null(xc_acpi_pvh_tables(base, 0, &len));
        assert_null(xc_acpi_pvh_tables(base, 1000, &len));
}
#endif

/* Opening the xc backend: -ENOTSUP when not compiled in, a clean error without Xen, a
 * working handle in a dom0. */
static void open_xc_backend(void **state)
{
        struct hv_config cfg = {.backend = "xc", .run_dir = "/nonexistent"};
        struct hv *h = (struct hv *)1;
        int r = hv_open(&cfg, &h);
        if (!hv_have_xc()) {
                assert_int_equal(r, -ENOTSUP);
                assert_null(h);
        } else if (access("/dev/xen/privcmd", F_OK) == 0) {
                assert_int_equal(r, 0);
                struct hv_host_info hi;
                assert_int_equal(hv_host_info(h, &hi), 0);
                assert_string_equal(hi.backend, "xc");
                hv_close(h);
        } else {
                assert_true(r < 0);
                assert_null(h);
        }
}

int main(void)
{
        log_init("test_hv_xc");
        log_set_level("all", LOG_CRIT);
        const struct CMUnitTest tests[] = {
#ifdef HAVE_XEN
            cmocka_unit_test(acpi_tables_consistent),
#endif
            cmocka_unit_test(open_xc_backend),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
