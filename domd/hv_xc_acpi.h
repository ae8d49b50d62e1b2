/* Minimal ACPI tables for PVH guests (domd/hv_xc_acpi.c). */
#ifndef TS_DOMD_HV_XC_ACPI_H
#define TS_DOMD_HV_XC_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define XC_ACPI_PAGE 4096
/* Where the page goes: in the MMIO hole below 4 GiB, where libxl puts its tables. */
#define XC_ACPI_BASE 0xfc000000ULL

/* One page of tables (RSDP first) for a guest of VCPUS vCPUs loaded at guest physical
 * address BASE; caller frees.  NULL when VCPUS does not fit or out of memory. */
void *xc_acpi_pvh_tables(uint64_t base, unsigned vcpus, size_t *len);

#endif
