/* The host facts of Xen, read once at start by running `domd --host-info` (domd links the
 * hypervisor libraries; xapid does not). */
#pragma once

#include <stdint.h>

struct xen_host_facts {
        char backend[16];
        char hypervisor_version[64];
        uint64_t total_memory; /* bytes */
        uint64_t free_memory;  /* bytes */
        unsigned nr_cpus;
};

/* DOMD_PATH NULL or "": the domd next to this executable.  0, or -errno when domd could not
 * run or said nothing usable (the caller keeps the machine's facts then). */
int xen_host_facts_read(const char *domd_path, struct xen_host_facts *out);
