/* The objects every host has, created at first start and refreshed at every start: the pool
 * (this host its master), this host (its uuid kept in STATE_DIR/host-uuid; hostname,
 * address, API version, software_version, cpu_info read from the machine), one host_cpu
 * per CPU, host_metrics, and the control domain's VM record. */
#ifndef TS_XAPID_BOOTSTRAP_H
#define TS_XAPID_BOOTSTRAP_H

#include <stdint.h>

struct xapi;

struct bootstrap_facts {
        const char *state_dir;          /* borrowed */
        int64_t memory_total;           /* bytes */
        int64_t memory_free;            /* bytes */
        int64_t dom0_memory;            /* bytes */
        const char *hypervisor;         /* "xen", "sim" … (software_version:hypervisor) */
        const char *hypervisor_version; /* software_version:xen */
        const char *hv_backend;         /* software_version:hv_backend when not NULL */
        unsigned nr_cpus;               /* the hypervisor's count; 0: /proc/cpuinfo's */
};

/* Memory from /proc/meminfo; hypervisor "none" until a backend reports. */
void bootstrap_facts_from_machine(struct bootstrap_facts *f, const char *state_dir);
/* Creates or refreshes the objects; sets x->host_ref and x->pool_ref.  0 or -errno. */
int bootstrap(struct xapi *x, const struct bootstrap_facts *facts);

#endif
