/* Requests to a running Xen guest through its xenstore tree: shutdown (control/shutdown,
 * which the guest acknowledges by emptying the node), balloon target, vCPUs online; and
 * its console as xenconsoled logged it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_xc.h"

LOG_MODULE(hv_xc_ctl)

#define KiB            1024ULL
#define MAXMEM_SLACK_K 1024
#define CONSOLE_MAX    (64 * 1024)

int xc_be_domain_shutdown(struct hv *h, uint32_t domid, enum hv_shutdown_reason reason)
{
        struct xcb *x = xcb_of(h);
        const char *word = reason == HV_SHUTDOWN_POWEROFF  ? "poweroff"
                           : reason == HV_SHUTDOWN_REBOOT  ? "reboot"
                           : reason == HV_SHUTDOWN_SUSPEND ? "suspend"
                                                           : NULL;
        if (!word)
                return -EINVAL;
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        if (di.flags & (XEN_DOMINF_shutdown | XEN_DOMINF_dying))
                return 0; /* as Xen: nothing left to ask */
        char *vm = xcs_vm_path(x, domid);
        if (vm) {
                char num[8];
                snprintf(num, sizeof(num), "%d", (int)reason);
                r = xcs_write(x, num, "%s/shutdown-request", vm);
                free(vm);
                if (r < 0)
                        return r;
        }
        r = xcs_write(x, word, "/local/domain/%" PRIu32 "/control/shutdown", domid);
        if (r == 0)
                log_info("xc: domain %" PRIu32 ": %s requested", domid, word);
        return r;
}

int xc_be_set_memory_target(struct hv *h, uint32_t domid, uint64_t bytes,
                            struct hv_mem_shortage *short_out)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        char *smax = xcs_read(x, "/local/domain/%" PRIu32 "/memory/static-max", domid);
        uint64_t static_max =
            smax ? strtoull(smax, NULL, 10) * KiB : (uint64_t)di.max_pages * XC_PAGE_SIZE;
        free(smax);
        if (!bytes || bytes > static_max)
                return -EINVAL;
        uint64_t actual = (uint64_t)di.tot_pages * XC_PAGE_SIZE;
        if (bytes > actual) {
                uint64_t avail = xc_be_free_memory(x);
                if (bytes - actual > avail) {
                        if (short_out)
                                *short_out = (struct hv_mem_shortage){bytes - actual, avail};
                        return -ENOMEM;
                }
        }
        /* The balloon driver moves towards memory/target; maxmem keeps it from taking more. */
        if (xc_domain_setmaxmem(x->xch, domid, bytes / KiB + MAXMEM_SLACK_K) < 0)
                return -(errno ? errno : EIO);
        char num[32];
        snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)(bytes / KiB));
        return xcs_write(x, num, "/local/domain/%" PRIu32 "/memory/target", domid);
}

int xc_be_set_vcpus_online(struct hv *h, uint32_t domid, unsigned n)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        unsigned max = di.max_vcpu_id + 1;
        if (!n || n > max)
                return -EINVAL;
        /* The guest's vCPU hotplug driver watches cpu/ and follows availability. */
        for (unsigned i = 0; i < max && r == 0; i++)
                r = xcs_write(x, i < n ? "online" : "offline",
                              "/local/domain/%" PRIu32 "/cpu/%u/availability", domid, i);
        return r;
}

int xc_be_console_read(struct hv *h, uint32_t domid, char **text, size_t *len)
{
        struct xcb *x = xcb_of(h);
        *text = NULL;
        *len = 0;
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        /* xenconsoled (started with --log=guest) names the log after the domain's name at
         * the time it was introduced. */
        char *name = xcs_read(x, "/local/domain/%" PRIu32 "/name", domid);
        char path[4096];
        snprintf(path, sizeof(path), "%s/guest-%s.log", x->console_dir, name ? name : "");
        free(name);
        char *buf = malloc(CONSOLE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                struct stat st;
                if (fstat(fd, &st) == 0 && st.st_size > CONSOLE_MAX)
                        lseek(fd, st.st_size - CONSOLE_MAX, SEEK_SET);
                ssize_t got;
                while (n < CONSOLE_MAX && (got = read(fd, buf + n, CONSOLE_MAX - n)) > 0)
                        n += (size_t)got;
                close(fd);
        } else if (errno != ENOENT) {
                r = -errno;
                free(buf);
                return r;
        }
        buf[n] = 0;
        *text = buf;
        *len = n;
        return 0;
}
