#include "domd/host_info_print.h"

#include <errno.h>

#include "domd/hv.h"

int domd_print_host_info(FILE *out)
{
        struct hv_config hc = {.backend = "xc"};
        struct hv *h = NULL;
        int r = hv_open(&hc, &h);
        if (r < 0)
                return r;
        struct hv_host_info hi = {0};
        r = hv_host_info(h, &hi);
        hv_close(h);
        if (r < 0)
                return r;
        fprintf(out,
                "backend=%s\nhypervisor=%s\nhypervisor_version=%s\ntotal_memory=%llu\n"
                "free_memory=%llu\nnr_cpus=%u\ncpu_speed_mhz=%u\n",
                hi.backend, hi.hypervisor_name, hi.hypervisor_version,
                (unsigned long long)hi.total_memory, (unsigned long long)hi.free_memory, hi.nr_cpus,
                hi.cpu_speed_mhz);
        return fflush(out) == 0 ? 0 : -EIO;
}
