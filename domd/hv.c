/* Backend selection (ARCHITECTURE §5) and the dispatch of hv_* calls to the ops table. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv.h"

LOG_MODULE(hv)

static bool probe_exists(const char *root, const char *path)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s%s", root && *root ? root : "", path);
        return access(p, F_OK) == 0;
}

/* Returns the ops table to use, or NULL with *ERR set. */
static const struct hv_ops *choose(const struct hv_config *cfg, int *err)
{
        const char *want = cfg->backend && *cfg->backend ? cfg->backend : "auto";
        bool xen_here = probe_exists(cfg->probe_root, "/proc/xen/capabilities") ||
                        probe_exists(cfg->probe_root, "/dev/xen/privcmd");

        if (!strcmp(want, "sim")) {
                if (xen_here)
                        log_warnx("hypervisor backend: sim (configured), although Xen is present");
                else
                        log_notice("hypervisor backend: sim (configured)");
                return &hv_sim_ops;
        }
        if (!strcmp(want, "xc") || (!strcmp(want, "auto") && xen_here)) {
#ifdef HV_HAVE_XC
                log_notice("hypervisor backend: xc (%s)",
                           strcmp(want, "xc") ? "Xen detected" : "configured");
                return &hv_xc_ops;
#else
                log_errx("hypervisor backend: xc %s, but this domd was built without the xc "
                         "backend (hv_xc.c and the libxen development files)",
                         strcmp(want, "xc") ? "needed (Xen detected)" : "configured");
                *err = -ENOTSUP;
                return NULL;
#endif
        }
        if (!strcmp(want, "auto")) {
                log_warnx("hypervisor backend: sim (no /proc/xen/capabilities nor "
                          "/dev/xen/privcmd): domains are SIMULATED");
                return &hv_sim_ops;
        }
        log_errx("hypervisor backend: unknown backend '%s' (expected sim, xc or auto)", want);
        *err = -EINVAL;
        return NULL;
}

int hv_open(const struct hv_config *cfg, struct hv **out)
{
        int err = 0;
        *out = NULL;
        if (!cfg)
                return -EINVAL;
        const struct hv_ops *ops = choose(cfg, &err);
        if (!ops)
                return err;
        struct hv *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->ops = ops;
        err = ops->open ? ops->open(h, cfg) : 0;
        if (err < 0) {
                free(h);
                return err;
        }
        *out = h;
        return 0;
}

int hv_open_auto(const struct hv_config *cfg, struct hv **out)
{
        if (!cfg)
                return -EINVAL;
        struct hv_config c = *cfg;
        c.backend = "auto";
        return hv_open(&c, out);
}

bool hv_have_xc(void)
{
#ifdef HV_HAVE_XC
        return true;
#else
        return false;
#endif
}

const char *hv_backend_name(const struct hv *h)
{
        return h && h->ops ? h->ops->name : "none";
}

void hv_close(struct hv *h)
{
        if (!h)
                return;
        if (h->ops->close)
                h->ops->close(h);
        free(h);
}

/* Each wrapper checks that the backend implements the call. */
#define HV_CALL(h, op, ...) ((h) && (h)->ops->op ? (h)->ops->op((h), __VA_ARGS__) : -EOPNOTSUPP)

int hv_host_info(struct hv *h, struct hv_host_info *out)
{
        return HV_CALL(h, host_info, out);
}

int hv_domain_create(struct hv *h, const struct hv_domain_spec *spec, uint32_t *domid,
                     struct hv_mem_shortage *short_out)
{
        return HV_CALL(h, domain_create, spec, domid, short_out);
}

int hv_domain_destroy(struct hv *h, uint32_t domid)
{
        return HV_CALL(h, domain_destroy, domid);
}

int hv_domain_pause(struct hv *h, uint32_t domid)
{
        return HV_CALL(h, domain_pause, domid);
}

int hv_domain_unpause(struct hv *h, uint32_t domid)
{
        return HV_CALL(h, domain_unpause, domid);
}

int hv_domain_shutdown(struct hv *h, uint32_t domid, enum hv_shutdown_reason reason)
{
        return HV_CALL(h, domain_shutdown, domid, reason);
}

int hv_domain_info(struct hv *h, uint32_t domid, struct hv_domain_info *out)
{
        return HV_CALL(h, domain_info, domid, out);
}

int hv_domain_find(struct hv *h, const char *uuid, uint32_t *domid)
{
        return HV_CALL(h, domain_find, uuid, domid);
}

int hv_domain_list(struct hv *h, struct hv_domain_info **out, size_t *n)
{
        return HV_CALL(h, domain_list, out, n);
}

int hv_set_memory_target(struct hv *h, uint32_t domid, uint64_t bytes,
                         struct hv_mem_shortage *short_out)
{
        return HV_CALL(h, set_memory_target, domid, bytes, short_out);
}

int hv_set_vcpus_online(struct hv *h, uint32_t domid, unsigned n)
{
        return HV_CALL(h, set_vcpus_online, domid, n);
}

int hv_domain_suspend(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms)
{
        return HV_CALL(h, domain_suspend, domid, fd, timeout_ms);
}

int hv_domain_dumpcore(struct hv *h, uint32_t domid, const char *path)
{
        return HV_CALL(h, domain_dumpcore, domid, path);
}

int hv_domain_resume(struct hv *h, uint32_t domid)
{
        return HV_CALL(h, domain_resume, domid);
}

int hv_domain_restore(struct hv *h, const struct hv_domain_spec *spec, int fd, uint32_t *domid,
                      struct hv_mem_shortage *short_out)
{
        return HV_CALL(h, domain_restore, spec, fd, domid, short_out);
}

int hv_console_read(struct hv *h, uint32_t domid, char **text, size_t *len)
{
        return HV_CALL(h, console_read, domid, text, len);
}

int hv_disk_attach(struct hv *h, uint32_t domid, const struct hv_disk *disk)
{
        return HV_CALL(h, disk_attach, domid, disk);
}

int hv_disk_detach(struct hv *h, uint32_t domid, const char *vdev)
{
        return HV_CALL(h, disk_detach, domid, vdev);
}

int hv_nic_attach(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16])
{
        return HV_CALL(h, nic_attach, domid, nic, ifname);
}

int hv_nic_detach(struct hv *h, uint32_t domid, unsigned devid)
{
        return HV_CALL(h, nic_detach, domid, devid);
}

int hv_watch_fd(struct hv *h)
{
        return h && h->ops->watch_fd ? h->ops->watch_fd(h) : -EOPNOTSUPP;
}

int hv_watch_domain(struct hv *h, uint32_t domid)
{
        return HV_CALL(h, watch_domain, domid);
}

int hv_unwatch_domain(struct hv *h, uint32_t domid)
{
        return HV_CALL(h, unwatch_domain, domid);
}

int hv_poll_changes(struct hv *h, hv_change_cb cb, void *arg)
{
        return HV_CALL(h, poll_changes, cb, arg);
}

const char *hv_shutdown_reason_name(enum hv_shutdown_reason r)
{
        switch (r) {
        case HV_SHUTDOWN_NONE:
                return "none";
        case HV_SHUTDOWN_POWEROFF:
                return "poweroff";
        case HV_SHUTDOWN_REBOOT:
                return "reboot";
        case HV_SHUTDOWN_SUSPEND:
                return "suspend";
        case HV_SHUTDOWN_CRASH:
                return "crash";
        case HV_SHUTDOWN_WATCHDOG:
                return "watchdog";
        }
        return "unknown";
}

const char *hv_domain_state_name(enum hv_domain_state s)
{
        switch (s) {
        case HV_STATE_PAUSED:
                return "paused";
        case HV_STATE_RUNNING:
                return "running";
        case HV_STATE_SHUTDOWN:
                return "shutdown";
        case HV_STATE_DYING:
                return "dying";
        }
        return "unknown";
}

static const char *const type_names[] = {
    [HV_TYPE_PV] = "pv", [HV_TYPE_PVH] = "pvh", [HV_TYPE_HVM] = "hvm"};

const char *hv_domain_type_name(enum hv_domain_type t)
{
        return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "unknown";
}

int hv_domain_type_from_name(const char *s, enum hv_domain_type *out)
{
        for (unsigned i = 0; s && i < sizeof(type_names) / sizeof(type_names[0]); i++)
                if (!strcmp(s, type_names[i])) {
                        *out = (enum hv_domain_type)i;
                        return 0;
                }
        return -EINVAL;
}
