/* The Xen backend: open, host information, domain information and the simple domain
 * operations (pause, unpause, destroy).  Building is in hv_xc_build.c, requests to the
 * guest in hv_xc_ctl.c, devices in hv_xc_dev.c, watches in hv_xc_watch.c and images in
 * hv_xc_suspend.c; the xenstore layout is described in hv_xc.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "domd/hv_xc.h"

LOG_MODULE(hv_xc)

#define KiB 1024ULL

void xc_be_handle_to_uuid(const xen_domain_handle_t h, char out[UUID_STR_LEN])
{
        snprintf(out, UUID_STR_LEN,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
                 h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
                 h[15]);
}

int xc_be_uuid_to_handle(const char *uuid, xen_domain_handle_t out)
{
        if (!uuid_is_valid(uuid))
                return -EINVAL;
        unsigned n = 0;
        for (const char *p = uuid; *p && n < 16; p += 2) {
                if (*p == '-')
                        p++;
                unsigned v;
                if (sscanf(p, "%2x", &v) != 1)
                        return -EINVAL;
                out[n++] = (uint8_t)v;
        }
        return n == 16 ? 0 : -EINVAL;
}

int xc_be_getinfo(struct xcb *x, uint32_t domid, xc_domaininfo_t *out)
{
        /* getinfolist returns the first domain at or above DOMID. */
        int n = xc_domain_getinfolist(x->xch, domid, 1, out);
        if (n < 0)
                return -(errno ? errno : EIO);
        if (n == 0 || out->domain != domid)
                return -ESRCH;
        return 0;
}

uint64_t xc_be_free_memory(struct xcb *x)
{
        xc_physinfo_t pi = {0};
        if (xc_physinfo(x->xch, &pi) < 0)
                return 0;
        return (uint64_t)pi.free_pages * XC_PAGE_SIZE;
}

static void xc_be_close(struct hv *h)
{
        struct xcb *x = xcb_of(h);
        if (!x)
                return;
        xc_be_watch_close(x);
        xc_qdisk_close(x);
        if (x->xs)
                xs_close(x->xs);
        if (x->xch)
                xc_interface_close(x->xch);
        free(x);
        h->priv = NULL;
}

static int xc_be_open(struct hv *h, const struct hv_config *cfg)
{
        struct xcb *x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        h->priv = x;
        const char *dir = getenv("TS_XEN_CONSOLE_DIR");
        x->console_dir = dir && *dir ? dir : "/var/log/xen/console";
        x->xch = xc_interface_open(NULL, NULL, 0);
        if (!x->xch) {
                int r = -(errno ? errno : ENODEV);
                log_errx("xc: cannot open the hypervisor interface (are we dom0?): %s",
                         strerror(-r));
                xc_be_close(h);
                return r;
        }
        x->xs = xs_open(0);
        if (!x->xs) {
                int r = -(errno ? errno : ECONNREFUSED);
                log_errx("xc: cannot reach xenstored: %s", strerror(-r));
                xc_be_close(h);
                return r;
        }
        return 0;
}

/* First value of "KEY<spaces>: value" in /proc/cpuinfo text. */
static void cpuinfo_field(const char *text, const char *key, char *out, size_t len)
{
        size_t klen = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (strncmp(l, key, klen) || (l[klen] != ' ' && l[klen] != '\t' && l[klen] != ':'))
                        continue;
                const char *v = strchr(l, ':');
                const char *end = strchr(l, '\n');
                if (!v || (end && v > end))
                        continue;
                for (v++; *v == ' '; v++)
                        ;
                snprintf(out, len, "%.*s", (int)(end ? (size_t)(end - v) : strlen(v)), v);
                return;
        }
}

static int xc_be_host_info(struct hv *h, struct hv_host_info *out)
{
        struct xcb *x = xcb_of(h);
        xc_physinfo_t pi = {0};
        memset(out, 0, sizeof(*out));
        if (xc_physinfo(x->xch, &pi) < 0)
                return -(errno ? errno : EIO);
        snprintf(out->backend, sizeof(out->backend), "xc");
        snprintf(out->hypervisor_name, sizeof(out->hypervisor_name), "xen");
        int ver = xc_version(x->xch, XENVER_version, NULL);
        xen_extraversion_t extra = "";
        xc_version(x->xch, XENVER_extraversion, &extra);
        extra[sizeof(extra) - 1] = 0;
        snprintf(out->hypervisor_version, sizeof(out->hypervisor_version), "%d.%d%s", ver >> 16,
                 ver & 0xffff, extra);
        out->total_memory = (uint64_t)pi.total_pages * XC_PAGE_SIZE;
        out->free_memory = (uint64_t)pi.free_pages * XC_PAGE_SIZE;
        out->nr_cpus = pi.nr_cpus;
        out->cpu_speed_mhz = pi.cpu_khz / 1000;
        /* dom0's /proc/cpuinfo is Xen's filtered view of the host CPU. */
        FILE *f = fopen("/proc/cpuinfo", "re");
        char *text = calloc(1, 65536);
        if (f && text) {
                size_t len = fread(text, 1, 65535, f);
                text[len] = 0;
                cpuinfo_field(text, "vendor_id", out->cpu_vendor, sizeof(out->cpu_vendor));
                cpuinfo_field(text, "model name", out->cpu_model, sizeof(out->cpu_model));
                cpuinfo_field(text, "flags", out->cpu_flags, sizeof(out->cpu_flags));
        }
        if (f)
                fclose(f);
        free(text);
        return 0;
}

/* The number at /local/domain/DOMID/NODE, or DFLT. */
static uint64_t read_u64(struct xcb *x, uint64_t dflt, uint32_t domid, const char *node)
{
        char *v = xcs_read(x, "/local/domain/%" PRIu32 "/%s", domid, node);
        uint64_t r = v ? strtoull(v, NULL, 10) : dflt;
        free(v);
        return r;
}

/* Fills OUT from Xen's record and the domain's xenstore nodes. */
static void fill_info(struct xcb *x, const xc_domaininfo_t *di, struct hv_domain_info *out)
{
        uint32_t domid = di->domain;
        memset(out, 0, sizeof(*out));
        out->domid = domid;
        xc_be_handle_to_uuid(di->handle, out->uuid);
        char *name = xcs_read(x, "/local/domain/%" PRIu32 "/name", domid);
        snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
        free(name);
        /* This backend builds no HVM guest (that needs a device model): an HVM container
         * is PVH unless the VM record says otherwise. */
        out->type = di->flags & XEN_DOMINF_hvm_guest ? HV_TYPE_PVH : HV_TYPE_PV;
        if (di->flags & XEN_DOMINF_dying)
                out->state = HV_STATE_DYING;
        else if (di->flags & XEN_DOMINF_shutdown)
                out->state = HV_STATE_SHUTDOWN;
        else if (di->flags & XEN_DOMINF_paused)
                out->state = HV_STATE_PAUSED;
        else
                out->state = HV_STATE_RUNNING;
        out->shutdown_reason =
            out->state == HV_STATE_SHUTDOWN
                ? (enum hv_shutdown_reason)((di->flags >> XEN_DOMINF_shutdownshift) &
                                            XEN_DOMINF_shutdownmask)
                : HV_SHUTDOWN_NONE;
        out->pending_request = HV_SHUTDOWN_NONE;
        char *vm = xcs_vm_path(x, domid);
        if (vm) {
                char *type = xcs_read(x, "%s/type", vm);
                enum hv_domain_type t;
                if (type && hv_domain_type_from_name(type, &t) == 0)
                        out->type = t;
                free(type);
                char *st = xcs_read(x, "%s/start-time", vm);
                out->start_time_ms = st ? strtoll(st, NULL, 10) : 0;
                free(st);
                char *req = xcs_read(x, "%s/shutdown-request", vm);
                if (req && *req && out->state != HV_STATE_SHUTDOWN &&
                    out->state != HV_STATE_DYING) {
                        out->pending_request = (enum hv_shutdown_reason)atoi(req);
                        /* Linux empties control/shutdown once it took the request. */
                        char *ctl =
                            xcs_read(x, "/local/domain/%" PRIu32 "/control/shutdown", domid);
                        out->request_acked = !ctl || !*ctl;
                        free(ctl);
                }
                free(req);
                free(vm);
        }
        char *feat = xcs_read(x, "/local/domain/%" PRIu32 "/control/feature-poweroff", domid);
        out->booted = feat != NULL; /* the guest's PV drivers are up */
        free(feat);
        out->memory_actual = (uint64_t)di->tot_pages * XC_PAGE_SIZE;
        out->memory_target = read_u64(x, out->memory_actual / KiB, domid, "memory/target") * KiB;
        out->memory_static_max =
            read_u64(x, (uint64_t)di->max_pages * XC_PAGE_SIZE / KiB, domid, "memory/static-max") *
            KiB;
        out->vcpus_max = di->max_vcpu_id + 1;
        out->vcpus_online = di->nr_online_vcpus;
        out->cpu_time_ns = di->cpu_time;
        out->n_disks = xcs_count(x, "/local/domain/0/backend/vbd/%" PRIu32, domid) +
                       xcs_count(x, "/local/domain/0/backend/qdisk/%" PRIu32, domid);
        out->n_nics = xcs_count(x, "/local/domain/0/backend/vif/%" PRIu32, domid);
}

static int xc_be_domain_info(struct hv *h, uint32_t domid, struct hv_domain_info *out)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        fill_info(x, &di, out);
        return 0;
}

static int list_raw(struct xcb *x, xc_domaininfo_t **out, int *n)
{
        int cap = 256;
        for (;;) {
                xc_domaininfo_t *v = calloc((size_t)cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                int got = xc_domain_getinfolist(x->xch, 0, (unsigned)cap, v);
                if (got < 0) {
                        free(v);
                        return -(errno ? errno : EIO);
                }
                if (got < cap || cap >= 32768) {
                        *out = v;
                        *n = got;
                        return 0;
                }
                free(v);
                cap *= 4;
        }
}

int xc_be_find(struct xcb *x, const char *uuid, uint32_t *domid)
{
        xen_domain_handle_t want;
        if (xc_be_uuid_to_handle(uuid, want) < 0)
                return -EINVAL;
        xc_domaininfo_t *v;
        int n, r = list_raw(x, &v, &n);
        if (r < 0)
                return r;
        r = -ESRCH;
        for (int i = 0; i < n; i++)
                if (v[i].domain != 0 && !(v[i].flags & XEN_DOMINF_dying) &&
                    !memcmp(v[i].handle, want, sizeof(want))) {
                        *domid = v[i].domain;
                        r = 0;
                        break;
                }
        free(v);
        return r;
}

static int xc_be_domain_find(struct hv *h, const char *uuid, uint32_t *domid)
{
        return xc_be_find(xcb_of(h), uuid, domid);
}

static int xc_be_domain_list(struct hv *h, struct hv_domain_info **out, size_t *n)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t *v;
        int nv, r = list_raw(x, &v, &nv);
        *out = NULL;
        *n = 0;
        if (r < 0)
                return r;
        struct hv_domain_info *res = calloc(nv ? (size_t)nv : 1, sizeof(*res));
        if (!res) {
                free(v);
                return -ENOMEM;
        }
        for (int i = 0; i < nv; i++)
                fill_info(x, &v[i], &res[i]);
        free(v);
        *out = res;
        *n = (size_t)nv;
        return 0;
}

static int xc_errno(int rc)
{
        return rc < 0 ? -(errno ? errno : EIO) : 0;
}

static int xc_be_domain_pause(struct hv *h, uint32_t domid)
{
        xc_domaininfo_t di;
        int r = xc_be_getinfo(xcb_of(h), domid, &di);
        if (r < 0 || (di.flags & (XEN_DOMINF_paused | XEN_DOMINF_shutdown)))
                return r; /* pausing twice must not need two unpauses */
        return xc_errno(xc_domain_pause(xcb_of(h)->xch, domid));
}

static int xc_be_domain_unpause(struct hv *h, uint32_t domid)
{
        xc_domaininfo_t di;
        int r = xc_be_getinfo(xcb_of(h), domid, &di);
        if (r < 0 || !(di.flags & XEN_DOMINF_paused))
                return r;
        return xc_errno(xc_domain_unpause(xcb_of(h)->xch, domid));
}

void xc_be_domain_discard(struct xcb *x, uint32_t domid, const char *uuid)
{
        char *vm = xcs_vm_path(x, domid);
        xc_domain_destroy(x->xch, domid);
        xs_release_domain(x->xs, domid);
        xcs_rm(x, "/local/domain/%" PRIu32, domid);
        if (vm)
                xcs_rm(x, "%s", vm);
        else if (uuid && *uuid)
                xcs_rm(x, "/vm/%s", uuid);
        free(vm);
        xc_be_devices_release(x, domid);
}

static int xc_be_domain_destroy(struct hv *h, uint32_t domid)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        if (domid == 0)
                return -EPERM;
        char uuid[UUID_STR_LEN];
        xc_be_handle_to_uuid(di.handle, uuid);
        xc_be_domain_discard(x, domid, uuid);
        log_info("xc: domain %" PRIu32 " (VM %s) destroyed", domid, uuid);
        return 0;
}

static int xc_be_domain_dumpcore(struct hv *h, uint32_t domid, const char *path)
{
        return xc_errno(xc_domain_dumpcore(xcb_of(h)->xch, domid, path));
}

const struct hv_ops hv_xc_ops = {
    .name = "xc",
    .open = xc_be_open,
    .close = xc_be_close,
    .host_info = xc_be_host_info,
    .domain_create = xc_be_domain_create,
    .domain_destroy = xc_be_domain_destroy,
    .domain_pause = xc_be_domain_pause,
    .domain_unpause = xc_be_domain_unpause,
    .domain_shutdown = xc_be_domain_shutdown,
    .domain_info = xc_be_domain_info,
    .domain_find = xc_be_domain_find,
    .domain_list = xc_be_domain_list,
    .set_memory_target = xc_be_set_memory_target,
    .set_vcpus_online = xc_be_set_vcpus_online,
    .domain_suspend = xc_be_domain_suspend,
    .domain_resume = xc_be_domain_resume,
    .domain_dumpcore = xc_be_domain_dumpcore,
    .domain_restore = xc_be_domain_restore,
    .console_read = xc_be_console_read,
    .disk_attach = xc_be_disk_attach,
    .disk_detach = xc_be_disk_detach,
    .nic_attach = xc_be_nic_attach,
    .nic_detach = xc_be_nic_detach,
    .watch_fd = xc_be_watch_fd,
    .watch_domain = xc_be_watch_domain,
    .unwatch_domain = xc_be_unwatch_domain,
    .poll_changes = xc_be_poll_changes,
};
