/* The minimal ACPI tables a PVH guest needs: without a MADT, Linux finds no local APIC
 * and so no timer interrupt, and hangs at its first sleep.  libxl builds its tables with
 * Xen's libacpi, which Debian does not ship; these are the few a PVH guest reads, in one
 * page the domain builder loads into the MMIO hole:
 *   RSDP (ACPI 2.0) -> XSDT -> FADT (hardware-reduced, no legacy devices) -> empty DSDT
 *                           -> MADT (one local APIC per vCPU, APIC id 2 * vCPU as Xen's). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domd/hv_xc_acpi.h"

#define RSDP_OFF 0
#define XSDT_OFF 64
#define FADT_OFF 128
#define DSDT_OFF 512
#define MADT_OFF 576
#define HDR_LEN  36
#define FADT_LEN 276 /* revision 6 */

static void put16(uint8_t *p, uint16_t v)
{
        memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
        memcpy(p, &v, 8);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
        uint8_t sum = 0;
        for (size_t i = 0; i < len; i++)
                sum = (uint8_t)(sum + p[i]);
        return (uint8_t)(0x100 - sum);
}

/* A table header; the checksum (byte 9) is set once the table is complete. */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
        memcpy(t, sig, 4);
        put32(t + 4, len);
        t[8] = rev;
        memcpy(t + 10, "TSXEN ", 6);
        memcpy(t + 16, "TSPVH   ", 8);
        put32(t + 24, 1);
        memcpy(t + 28, "TSXC", 4);
        put32(t + 32, 1);
}

static void seal(uint8_t *t)
{
        uint32_t len;
        memcpy(&len, t + 4, 4);
        t[9] = 0;
        t[9] = checksum(t, len);
}

void *xc_acpi_pvh_tables(uint64_t base, unsigned vcpus, size_t *len)
{
        if (!vcpus || MADT_OFF + 44 + 8 * vcpus > XC_ACPI_PAGE)
                return NULL;
        uint8_t *page = calloc(1, XC_ACPI_PAGE);
        if (!page)
                return NULL;
        uint8_t *rsdp = page + RSDP_OFF;
        memcpy(rsdp, "RSD PTR ", 8);
        memcpy(rsdp + 9, "TSXEN ", 6);
        rsdp[15] = 2; /* ACPI 2.0+: the XSDT */
        put32(rsdp + 20, 36);
        put64(rsdp + 24, base + XSDT_OFF);
        rsdp[8] = checksum(rsdp, 20);
        rsdp[32] = checksum(rsdp, 36);

        uint8_t *xsdt = page + XSDT_OFF;
        header(xsdt, "XSDT", HDR_LEN + 16, 1);
        put64(xsdt + 36, base + FADT_OFF);
        put64(xsdt + 44, base + MADT_OFF);
        seal(xsdt);

        uint8_t *fadt = page + FADT_OFF;
        header(fadt, "FACP", FADT_LEN, 6);
        put32(fadt + 40, (uint32_t)(base + DSDT_OFF));
        /* IA-PC boot architecture: no VGA (bit 2), no MSI problems, no CMOS RTC (bit 5). */
        put16(fadt + 109, (1u << 2) | (1u << 5));
        put32(fadt + 112, 1u << 20); /* HW_REDUCED_ACPI */
        fadt[131] = 0;               /* minor version */
        put64(fadt + 140, base + DSDT_OFF);
        memcpy(fadt + 268, "XenVMM\0\0", 8); /* hypervisor vendor identity */
        seal(fadt);

        uint8_t *dsdt = page + DSDT_OFF;
        header(dsdt, "DSDT", HDR_LEN, 2);
        seal(dsdt);

        uint8_t *madt = page + MADT_OFF;
        uint32_t mlen = 44 + 8 * vcpus;
        header(madt, "APIC", mlen, 4);
        put32(madt + 36, 0xfee00000u); /* local APIC address */
        put32(madt + 40, 0);           /* no legacy PICs */
        for (unsigned i = 0; i < vcpus; i++) {
                uint8_t *e = madt + 44 + 8 * i;
                e[0] = 0; /* processor local APIC */
                e[1] = 8;
                e[2] = (uint8_t)i;       /* processor uid */
                e[3] = (uint8_t)(2 * i); /* APIC id */
                put32(e + 4, 1);         /* enabled */
        }
        seal(madt);
        *len = XC_ACPI_PAGE;
        return page;
}
