/* Suspend, resume and restore of Xen guests.  The image is a small header of ours (which
 * VM, its type and memory) followed by libxenguest's migration stream (xc_domain_save /
 * xc_domain_restore, non-live: the guest is suspended first, through control/shutdown, as
 * Linux expects).  The stream needs no seeking, so FD may be a file, pipe or socket. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/monotime.h"
#include "common/log.h"
#include "domd/hv_xc.h"

LOG_MODULE(hv_xc_suspend)

#define IMG_MAGIC  "TSXCIMG1\n"
#define IMG_HEADER 512 /* bytes, NUL-padded text */
#define KiB        1024ULL

/* Waits until DOMID shut down; 0 for a suspend, -ECANCELED for another reason. */
static int wait_suspended(struct xcb *x, uint32_t domid, unsigned timeout_ms)
{
        uint64_t deadline = monotonic_ms() + timeout_ms;
        for (;;) {
                xc_domaininfo_t di;
                int r = xc_be_getinfo(x, domid, &di);
                if (r < 0)
                        return r;
                if (di.flags & XEN_DOMINF_shutdown) {
                        unsigned why =
                            (di.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
                        if (why == HV_SHUTDOWN_SUSPEND)
                                return 0;
                        log_warnx("xc: domain %" PRIu32 " went %s instead of suspending", domid,
                                  hv_shutdown_reason_name((enum hv_shutdown_reason)why));
                        return -ECANCELED;
                }
                if (monotonic_ms() >= deadline)
                        return -ETIMEDOUT;
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

/* xc_domain_save asks for the suspend once it is ready; the guest is already suspended. */
static int already_suspended(void *data)
{
        return 1;
}

/* Only an HVM guest's device model keeps a dirty log of its own; PVH has none. */
static int no_qemu_logdirty(uint32_t domid, unsigned enable, void *data)
{
        return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
        for (const char *p = buf; len;) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
        for (char *p = buf; len;) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EBADMSG; /* truncated */
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int xc_be_domain_suspend(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        char *vm = xcs_vm_path(x, domid);
        char *type = vm ? xcs_read(x, "%s/type", vm) : NULL;
        char *target = xcs_read(x, "/local/domain/%" PRIu32 "/memory/target", domid);
        char *smax = xcs_read(x, "/local/domain/%" PRIu32 "/memory/static-max", domid);
        char uuid[UUID_STR_LEN], hdr[IMG_HEADER];
        xc_be_handle_to_uuid(di.handle, uuid);
        memset(hdr, 0, sizeof(hdr));
        snprintf(hdr, sizeof(hdr),
                 IMG_MAGIC "uuid=%s\ntype=%s\ntarget_kib=%s\nstatic_max_kib=%s\n"
                           "vcpus=%u\n",
                 uuid, type ? type : (di.flags & XEN_DOMINF_hvm_guest ? "pvh" : "pv"),
                 target ? target : "0", smax ? smax : "0", di.nr_online_vcpus);
        free(type);
        free(target);
        free(smax);
        uint64_t t0 = monotonic_ms();
        if (!(di.flags & XEN_DOMINF_shutdown)) {
                if ((r = hv_xc_ops.domain_shutdown(h, domid, HV_SHUTDOWN_SUSPEND)) < 0)
                        goto out;
                r = wait_suspended(x, domid, timeout_ms);
                if (r == -ETIMEDOUT) {
                        /* Withdraw the request: a guest that comes to it later ignores it. */
                        xcs_write(x, "", "/local/domain/%" PRIu32 "/control/shutdown", domid);
                        log_warnx("xc: domain %" PRIu32 " did not suspend within %u ms", domid,
                                  timeout_ms);
                }
                if (r < 0)
                        goto out;
        } else if ((r = wait_suspended(x, domid, 0)) < 0) {
                goto out;
        }
        uint64_t t1 = monotonic_ms();
        if ((r = write_all(fd, hdr, sizeof(hdr))) < 0)
                goto out;
        struct save_callbacks cb = {.suspend = already_suspended,
                                    .switch_qemu_logdirty = no_qemu_logdirty};
        if (xc_domain_save(x->xch, fd, domid, 0, &cb, XC_STREAM_PLAIN, -1) < 0) {
                r = -(errno ? errno : EIO);
                log_warnx("xc: saving domain %" PRIu32 ": %s", domid, strerror(-r));
                goto out;
        }
        log_info("xc: domain %" PRIu32 " suspended in %" PRIu64 " ms, image written in %" PRIu64
                 " ms",
                 domid, t1 - t0, monotonic_ms() - t1);
out:
        if (vm)
                xcs_rm(x, "%s/shutdown-request", vm);
        free(vm);
        return r;
}

int xc_be_domain_resume(struct hv *h, uint32_t domid)
{
        struct xcb *x = xcb_of(h);
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        unsigned why = (di.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
        if (!(di.flags & XEN_DOMINF_shutdown) || why != HV_SHUTDOWN_SUSPEND)
                return -EINVAL;
        /* Cooperative ("fast") resume: the guest sees its suspend hypercall return as
         * cancelled and carries on with the same rings; Linux supports it. */
        if (xc_domain_resume(x->xch, domid, 1) < 0)
                return -(errno ? errno : EIO);
        xs_resume_domain(x->xs, domid);
        log_info("xc: domain %" PRIu32 " resumed", domid);
        return 0;
}

struct img_header {
        char uuid[UUID_STR_LEN];
        char type[8];
        uint64_t target_kib, static_max_kib;
        unsigned vcpus;
};

static int parse_header(const char *buf, struct img_header *out)
{
        memset(out, 0, sizeof(*out));
        if (memcmp(buf, IMG_MAGIC, strlen(IMG_MAGIC)) || !memchr(buf, 0, IMG_HEADER))
                return -EBADMSG;
        const char *p;
        if ((p = strstr(buf, "\nuuid=")))
                sscanf(p + 6, "%36s", out->uuid);
        if ((p = strstr(buf, "\ntype=")))
                sscanf(p + 6, "%7s", out->type);
        if ((p = strstr(buf, "\ntarget_kib=")))
                out->target_kib = strtoull(p + 12, NULL, 10);
        if ((p = strstr(buf, "\nstatic_max_kib=")))
                out->static_max_kib = strtoull(p + 16, NULL, 10);
        if ((p = strstr(buf, "\nvcpus=")))
                out->vcpus = (unsigned)strtoul(p + 7, NULL, 10);
        return uuid_is_valid(out->uuid) && out->target_kib && out->vcpus ? 0 : -EBADMSG;
}

/* A stream from an older Xen may lack the CPUID policy: then the defaults apply. */
static int static_data_done(unsigned int missing, void *data)
{
        struct xcb *x = ((void **)data)[0];
        uint32_t domid = *(uint32_t *)((void **)data)[1];
        if (missing & XGR_SDD_MISSING_CPUID)
                return xc_cpuid_apply_policy(x->xch, domid, true, NULL, 0, true, false, false, NULL,
                                             NULL);
        return 0;
}

int xc_be_domain_restore(struct hv *h, const struct hv_domain_spec *spec, int fd, uint32_t *domid,
                         struct hv_mem_shortage *short_out)
{
        struct xcb *x = xcb_of(h);
        char buf[IMG_HEADER];
        struct img_header img;
        int r = read_all(fd, buf, sizeof(buf));
        if (r < 0 || (r = parse_header(buf, &img)) < 0)
                return r;
        if (!spec || strcasecmp(img.uuid, spec->uuid) ||
            strcmp(img.type, hv_domain_type_name(spec->type)) || img.vcpus > spec->vcpus_max ||
            img.target_kib * KiB >
                (spec->memory_static_max ? spec->memory_static_max : spec->memory_dynamic_max)) {
                log_warnx("xc: image of VM %s (%s, %" PRIu64 " KiB, %u vCPUs) does not fit the VM",
                          img.uuid, img.type, img.target_kib, img.vcpus);
                return -EINVAL;
        }
        /* The domain gets the image's memory, whatever the VM's current dynamic range. */
        struct hv_domain_spec s = *spec;
        s.memory_dynamic_max = img.target_kib * KiB;
        if (s.memory_dynamic_min > s.memory_dynamic_max)
                s.memory_dynamic_min = s.memory_dynamic_max;
        if (!s.memory_static_max)
                s.memory_static_max = spec->memory_dynamic_max;
        struct xc_new_dom nd;
        if ((r = xc_be_domain_prepare(x, &s, &nd, short_out)) < 0)
                return r;
        unsigned long store_mfn = 0, console_mfn = 0;
        void *data[2] = {x, &nd.domid};
        struct restore_callbacks cb = {.static_data_done = static_data_done, .data = data};
        if (xc_domain_restore(x->xch, fd, nd.domid, nd.store_port, &store_mfn, 0, nd.console_port,
                              &console_mfn, 0, XC_STREAM_PLAIN, &cb, -1) < 0) {
                r = -EBADMSG;
                log_warnx("xc: restoring VM %s into domain %" PRIu32 ": %s", spec->uuid, nd.domid,
                          strerror(errno));
        } else {
                r = xc_be_domain_publish(x, &s, &nd, store_mfn, console_mfn);
        }
        if (r < 0) {
                xc_be_domain_discard(x, nd.domid, spec->uuid);
                return r;
        }
        *domid = nd.domid;
        log_info("xc: VM %s restored as domain %" PRIu32, spec->uuid, nd.domid);
        return 0;
}
