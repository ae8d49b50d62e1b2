/* `domd --host-info`: the hypervisor's host facts as key=value lines, for xapid's bootstrap
 * on Xen (xapid itself does not link the hypervisor libraries). */
#pragma once

#include <stdio.h>

/* Opens the xc backend (-ENOTSUP when not compiled in), prints backend, hypervisor,
 * hypervisor_version, total_memory, free_memory (bytes), nr_cpus, cpu_speed_mhz to OUT.  0 or
 * -errno. */
int domd_print_host_info(FILE *out);
