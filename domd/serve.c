/* domd: the requests of proto/dom.proto on the hypervisor handle, and the events it sends
 * when the domain changes by itself. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/monotime.h"
#include "common/log.h"
#include "domd/bootloader.h"
#include "domd/domd.h"
#include "domd/suspend_job.h"

LOG_MODULE(domd_serve)

/* ---- replies ------------------------------------------------------------------------------ */

/* A Status reply with its storage. */
struct reply {
        Ts__Dom__Status st;
        Ts__Dom__Failure f;
        char *params[3];
        char pbuf[3][256];
        char state[16], reason[16];
        char *disks[DOMD_MAX_DEVS];
};

static void reply_init(struct domd *m, struct reply *r)
{
        memset(r, 0, sizeof(*r));
        domd_status(m, &r->st, r->state, r->reason);
        for (unsigned i = 0; i < m->n_disks; i++)
                r->disks[i] = m->vdevs[i];
        r->st.disks = r->disks;
        r->st.n_disks = m->n_disks;
        r->st.nics = m->nics;
        r->st.n_nics = m->n_nics;
}

/* Sets the failure CODE with up to 3 parameters (NULL-terminated). */
static void reply_fail(struct reply *r, int errnum, const char *code, const char *p0,
                       const char *p1)
{
        ts__dom__failure__init(&r->f);
        r->f.errnum = errnum;
        r->f.code = (char *)code;
        const char *ps[2] = {p0, p1};
        size_t n = 0;
        for (size_t i = 0; i < 2 && ps[i] != NULL; i++) {
                snprintf(r->pbuf[i], sizeof(r->pbuf[i]), "%s", ps[i]);
                r->params[n++] = r->pbuf[i];
        }
        r->f.params = r->params;
        r->f.n_params = n;
        r->st.failure = &r->f;
}

static int send_reply(struct domd *m, const struct msg_origin *from, struct reply *r)
{
        /* the failure survives reply_init's reset of the status */
        bool failed = r->st.failure != NULL;
        Ts__Dom__Failure f = r->f;
        char *params[3];
        char pbuf[3][256];
        memcpy(params, r->params, sizeof(params));
        memcpy(pbuf, r->pbuf, sizeof(pbuf));
        reply_init(m, r);
        if (failed) {
                r->f = f;
                memcpy(r->pbuf, pbuf, sizeof(pbuf));
                for (size_t i = 0; i < r->f.n_params; i++)
                        r->params[i] = r->pbuf[i];
                r->f.params = r->params;
                r->st.failure = &r->f;
        }
        return msg_link_reply(m->d.link, from, &r->st.base);
}

static void fail_errno(struct reply *r, int err, const char *what)
{
        char text[256];
        snprintf(text, sizeof(text), "%s: %s", what, strerror(-err));
        reply_fail(r, -err, "INTERNAL_ERROR", text, NULL);
}

void domd_status(struct domd *m, Ts__Dom__Status *st, char state_buf[16], char reason_buf[16])
{
        ts__dom__status__init(st);
        snprintf(state_buf, 16, "none");
        reason_buf[0] = '\0';
        st->state = state_buf;
        st->shutdown_reason = reason_buf;
        st->domain_type = m->domain_type;
        if (!m->have_domain)
                return;
        struct hv_domain_info info;
        if (hv_domain_info(m->hv, m->domid, &info) < 0)
                return;
        st->has_domain = true;
        st->domid = m->domid;
        snprintf(state_buf, 16, "%s", hv_domain_state_name(info.state));
        if (info.state == HV_STATE_SHUTDOWN)
                snprintf(reason_buf, 16, "%s", hv_shutdown_reason_name(info.shutdown_reason));
        st->memory_actual = info.memory_actual;
        st->memory_target = info.memory_target;
        st->vcpus_online = info.vcpus_online;
        st->start_time_ms = info.start_time_ms;
        st->cpu_time_ns = info.cpu_time_ns;
}

/* ---- building ----------------------------------------------------------------------------- */

struct spec_buf {
        struct hv_domain_spec s;
        struct hv_kv *kv;
};

static int spec_from_proto(const Ts__Dom__Spec *p, struct spec_buf *b)
{
        memset(b, 0, sizeof(*b));
        if (p == NULL || !uuid_is_valid(p->uuid))
                return -EINVAL;
        snprintf(b->s.uuid, sizeof(b->s.uuid), "%s", p->uuid);
        b->s.name = p->name;
        if (hv_domain_type_from_name(p->domain_type, &b->s.type) < 0)
                return -EINVAL;
        b->s.memory_static_max = p->memory_static_max;
        b->s.memory_dynamic_min = p->memory_dynamic_min;
        b->s.memory_dynamic_max = p->memory_dynamic_max;
        b->s.vcpus_max = p->vcpus_max;
        b->s.vcpus_at_startup = p->vcpus_at_startup;
        b->s.kernel = p->kernel;
        b->s.ramdisk = p->ramdisk;
        b->s.cmdline = p->cmdline;
        b->kv = calloc(p->n_platform + p->n_other_config + p->n_xenstore_data + 1, sizeof(*b->kv));
        if (b->kv == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_platform; i++)
                b->kv[i] = (struct hv_kv){p->platform[i]->key, p->platform[i]->value};
        for (size_t i = 0; i < p->n_other_config; i++)
                b->kv[p->n_platform + i] =
                    (struct hv_kv){p->other_config[i]->key, p->other_config[i]->value};
        size_t xs_at = p->n_platform + p->n_other_config;
        for (size_t i = 0; i < p->n_xenstore_data; i++)
                b->kv[xs_at + i] =
                    (struct hv_kv){p->xenstore_data[i]->key, p->xenstore_data[i]->value};
        b->s.platform = (struct hv_map){b->kv, p->n_platform};
        b->s.other_config = (struct hv_map){b->kv + p->n_platform, p->n_other_config};
        b->s.xenstore_data = (struct hv_map){b->kv + xs_at, p->n_xenstore_data};
        return 0;
}

static int attach_disk(struct domd *m, const Ts__Dom__Disk *d)
{
        if (m->n_disks >= DOMD_MAX_DEVS)
                return -ENOSPC;
        struct hv_disk hd = {.vdev = d->vdev,
                             .backend_path = d->path,
                             .format = d->format,
                             .read_only = d->read_only,
                             .cdrom = d->cdrom};
        int r = hv_disk_attach(m->hv, m->domid, &hd);
        if (r < 0)
                return r;
        snprintf(m->vdevs[m->n_disks], sizeof(m->vdevs[0]), "%s", d->vdev);
        snprintf(m->vbd_uuids[m->n_disks], sizeof(m->vbd_uuids[0]), "%s", d->vbd_uuid);
        m->n_disks++;
        return 0;
}

static int attach_nic(struct domd *m, const Ts__Dom__Nic *n)
{
        if (m->n_nics >= DOMD_MAX_DEVS)
                return -ENOSPC;
        struct hv_nic hn = {.devid = n->devid, .mac = n->mac, .bridge = n->bridge, .mtu = n->mtu};
        char ifname[16] = "";
        int r = hv_nic_attach(m->hv, m->domid, &hn, ifname);
        if (r < 0)
                return r;
        m->nics[m->n_nics] = n->devid;
        snprintf(m->vif_uuids[m->n_nics], sizeof(m->vif_uuids[0]), "%s", n->vif_uuid);
        snprintf(m->nic_ifnames[m->n_nics], sizeof(m->nic_ifnames[0]), "%s", ifname);
        m->n_nics++;
        return 0;
}

static void destroy_domain(struct domd *m)
{
        if (!m->have_domain)
                return;
        hv_unwatch_domain(m->hv, m->domid);
        int r = hv_domain_destroy(m->hv, m->domid);
        if (r < 0 && r != -ESRCH)
                log_warnx("destroying domain %u: %s", m->domid, strerror(-r));
        else
                log_info("destroyed domain %u", m->domid);
}

void domd_forget_domain(struct domd *m, bool exit_soon)
{
        m->have_domain = false;
        m->domid = 0;
        m->n_disks = m->n_nics = 0;
        m->reported = false;
        domd_save_state(m);
        domd_set_title(m);
        msg_link_set_state(m->d.link, "domid", NULL);
        msg_link_set_state(m->d.link, "state", "none");
        if (exit_soon && m->exit_ev != NULL) {
                /* after the reply has left (the socket does not linger) */
                struct timeval tv = {0, 200000};
                event_add(m->exit_ev, &tv);
        }
        domd_arm_timer(m);
}

/* Builds (or restores from FD >= 0) the domain of SPEC with its devices; fills R's failure
 * on error.  Returns 0 or -errno. */
static int build(struct domd *m, const Ts__Dom__Spec *spec, bool paused, int fd, struct reply *r)
{
        struct spec_buf b;
        int e = spec_from_proto(spec, &b);
        if (e < 0) {
                free(b.kv);
                fail_errno(r, e, "bad build specification");
                return e;
        }
        if (strcmp(spec->uuid, m->d.instance) != 0) {
                free(b.kv);
                reply_fail(r, EINVAL, "INTERNAL_ERROR", "specification of another VM", NULL);
                return -EINVAL;
        }
        /* The simulator boots no kernel: only a real domain runs its bootloader. */
        struct boot_files boot = {0};
        if (fd < 0 && strcmp(hv_backend_name(m->hv), "sim") != 0) {
                const char *code = NULL;
                char msg[256] = "";
                if ((e = bootloader_run(spec, &boot, &code, msg)) < 0) {
                        free(b.kv);
                        reply_fail(r, -e, code, spec->uuid, msg);
                        return e;
                }
                if (boot.kernel) {
                        b.s.kernel = boot.kernel;
                        b.s.ramdisk = boot.ramdisk;
                        b.s.cmdline = boot.cmdline ? boot.cmdline : "";
                }
        }
        struct hv_mem_shortage sh = {0};
        uint32_t domid = 0;
        e = fd >= 0 ? hv_domain_restore(m->hv, &b.s, fd, &domid, &sh)
                    : hv_domain_create(m->hv, &b.s, &domid, &sh);
        bootloader_clean(&boot);
        free(b.kv);
        if (e == -ENOMEM) {
                char need[32], avail[32];
                snprintf(need, sizeof(need), "%llu", (unsigned long long)sh.needed);
                snprintf(avail, sizeof(avail), "%llu", (unsigned long long)sh.available);
                reply_fail(r, ENOMEM, "HOST_NOT_ENOUGH_FREE_MEMORY", need, avail);
                return e;
        }
        if (e < 0) {
                fail_errno(r, e, fd >= 0 ? "restoring the domain" : "creating the domain");
                return e;
        }
        m->have_domain = true;
        m->domid = domid;
        m->n_disks = m->n_nics = 0;
        snprintf(m->name, sizeof(m->name), "%s", spec->name);
        snprintf(m->domain_type, sizeof(m->domain_type), "%s", spec->domain_type);
        for (size_t i = 0; i < spec->n_disks && e == 0; i++)
                e = attach_disk(m, spec->disks[i]);
        for (size_t i = 0; i < spec->n_nics && e == 0; i++)
                e = attach_nic(m, spec->nics[i]);
        if (e == 0 && !paused)
                e = hv_domain_unpause(m->hv, domid);
        if (e < 0) {
                fail_errno(r, e, "plugging the devices");
                destroy_domain(m);
                domd_forget_domain(m, false);
                return e;
        }
        log_info("built domain %u for vm %s (%s)%s", domid, m->d.instance, m->name,
                 paused ? ", paused" : "");
        m->reported = false;
        domd_watch_domain(m);
        domd_save_state(m);
        domd_set_title(m);
        char s[16];
        snprintf(s, sizeof(s), "%u", domid);
        msg_link_set_state(m->d.link, "domid", s);
        msg_link_set_state(m->d.link, "state", paused ? "paused" : "running");
        domd_arm_timer(m);
        return 0;
}

/* ---- requests ----------------------------------------------------------------------------- */

static bool need_domain(struct domd *m, struct reply *r)
{
        if (m->have_domain)
                return true;
        reply_fail(r, ESRCH, "VM_BAD_POWER_STATE", m->d.instance, "halted");
        return false;
}

int domd_on_build(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                  void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__Build *req = (const Ts__Dom__Build *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (m->have_domain)
                reply_fail(&r, EEXIST, "INTERNAL_ERROR", "the VM has a domain already", NULL);
        else
                build(m, req->spec, req->start_paused, -1, &r);
        return send_reply(m, from, &r);
}

static int on_pause(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                    void *arg)
{
        struct domd *m = arg;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (need_domain(m, &r)) {
                int e = hv_domain_pause(m->hv, m->domid);
                if (e < 0)
                        fail_errno(&r, e, "pause");
                else
                        msg_link_set_state(m->d.link, "state", "paused");
        }
        int rc = send_reply(m, from, &r);
        domd_set_title(m);
        return rc;
}

static int on_unpause(struct msg_link *l, const struct msg_origin *from,
                      const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (need_domain(m, &r)) {
                int e = hv_domain_unpause(m->hv, m->domid);
                if (e < 0)
                        fail_errno(&r, e, "unpause");
                else
                        msg_link_set_state(m->d.link, "state", "running");
        }
        int rc = send_reply(m, from, &r);
        domd_set_title(m);
        return rc;
}

static void wait_clear(struct domd *m)
{
        if (m->wait.spec != NULL)
                ts__dom__spec__free_unpacked(m->wait.spec, NULL);
        memset(&m->wait, 0, sizeof(m->wait));
}

/* Starts waiting for the guest to act on a shutdown or reboot request. */
static int start_wait(struct domd *m, const struct msg_origin *from, bool reboot, unsigned ack_ms,
                      unsigned timeout_ms, const Ts__Dom__Spec *spec)
{
        int e =
            hv_domain_shutdown(m->hv, m->domid, reboot ? HV_SHUTDOWN_REBOOT : HV_SHUTDOWN_POWEROFF);
        if (e < 0)
                return e;
        wait_clear(m);
        m->wait.active = true;
        m->wait.reboot = reboot;
        m->wait.from = *from;
        m->wait.from.type = NULL;
        uint64_t now = monotonic_ms();
        m->wait.timeout_ms = timeout_ms ? timeout_ms : 1200000;
        m->wait.deadline_ms = now + m->wait.timeout_ms;
        m->wait.ack_deadline_ms = now + (ack_ms ? ack_ms : m->wait.timeout_ms);
        if (spec != NULL) {
                /* a copy that outlives the request */
                size_t len = ts__dom__spec__get_packed_size(spec);
                uint8_t *buf = malloc(len ? len : 1);
                if (buf == NULL)
                        return -ENOMEM;
                ts__dom__spec__pack(spec, buf);
                m->wait.spec = ts__dom__spec__unpack(NULL, len, buf);
                free(buf);
        }
        log_info("asked domain %u to %s; waiting up to %ums", m->domid,
                 reboot ? "reboot" : "shut down", m->wait.timeout_ms);
        domd_arm_timer(m);
        return 0;
}

static int on_shutdown(struct msg_link *l, const struct msg_origin *from,
                       const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__Shutdown *req = (const Ts__Dom__Shutdown *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (!need_domain(m, &r))
                return send_reply(m, from, &r);
        if (req->hard) {
                destroy_domain(m);
                domd_forget_domain(m, true);
                return send_reply(m, from, &r);
        }
        if (m->wait.active) {
                reply_fail(&r, EBUSY, "OTHER_OPERATION_IN_PROGRESS", "VM", m->d.instance);
                return send_reply(m, from, &r);
        }
        int e = start_wait(m, from, false, req->ack_timeout_ms, req->timeout_ms, NULL);
        if (e < 0) {
                fail_errno(&r, e, "shutdown request");
                return send_reply(m, from, &r);
        }
        return 0;
}

static int on_destroy(struct msg_link *l, const struct msg_origin *from,
                      const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        struct reply r;
        memset(&r, 0, sizeof(r));
        destroy_domain(m);
        domd_forget_domain(m, true);
        return send_reply(m, from, &r);
}

/* Destroys the domain and builds it again from SPEC (a reboot). */
static void rebuild(struct domd *m, const Ts__Dom__Spec *spec, struct reply *r)
{
        destroy_domain(m);
        domd_forget_domain(m, false);
        if (spec == NULL) {
                reply_fail(r, EINVAL, "INTERNAL_ERROR", "reboot without a specification", NULL);
                return;
        }
        build(m, spec, false, -1, r);
}

static int on_reboot(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__Reboot *req = (const Ts__Dom__Reboot *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (!need_domain(m, &r))
                return send_reply(m, from, &r);
        if (req->hard) {
                rebuild(m, req->spec, &r);
                return send_reply(m, from, &r);
        }
        if (m->wait.active) {
                reply_fail(&r, EBUSY, "OTHER_OPERATION_IN_PROGRESS", "VM", m->d.instance);
                return send_reply(m, from, &r);
        }
        int e = start_wait(m, from, true, req->ack_timeout_ms, req->timeout_ms, req->spec);
        if (e < 0) {
                fail_errno(&r, e, "reboot request");
                return send_reply(m, from, &r);
        }
        return 0;
}

/* The end of a suspend, on the loop or after the helper: the reply, and the domain gone. */
static void suspend_finished(struct domd *m, const struct msg_origin *from, int e, const char *path,
                             unsigned timeout)
{
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (e == -ETIMEDOUT) {
                char t[32];
                snprintf(t, sizeof(t), "%g", timeout / 1000.0);
                reply_fail(&r, ETIMEDOUT, "VM_SUSPEND_TIMEOUT", m->d.instance, t);
                unlink(path);
        } else if (e < 0) {
                fail_errno(&r, e, "suspend");
                unlink(path);
        } else {
                destroy_domain(m);
                domd_forget_domain(m, true);
        }
        send_reply(m, from, &r);
}

static int on_suspend(struct msg_link *l, const struct msg_origin *from,
                      const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__Suspend *req = (const Ts__Dom__Suspend *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (!need_domain(m, &r))
                return send_reply(m, from, &r);
        int fd = open(req->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                fail_errno(&r, -errno, "suspend image");
                return send_reply(m, from, &r);
        }
        unsigned timeout = req->timeout_ms ? req->timeout_ms : 1200000;
        /* A real domain's image takes seconds: written by a helper, domd answering meanwhile. */
        if (strcmp(hv_backend_name(m->hv), "sim") != 0) {
                int e = suspend_job_start(m, from, fd, req->path, timeout, suspend_finished);
                if (e < 0)
                        suspend_finished(m, from, e, req->path, timeout);
                return 0;
        }
        int e = hv_domain_suspend(m->hv, m->domid, fd, timeout);
        if (e == 0 && fsync(fd) < 0)
                e = -errno;
        close(fd);
        suspend_finished(m, from, e, req->path, timeout);
        return 0;
}

static int on_resume(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__Resume *req = (const Ts__Dom__Resume *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (m->have_domain) {
                reply_fail(&r, EEXIST, "INTERNAL_ERROR", "the VM has a domain already", NULL);
                return send_reply(m, from, &r);
        }
        int fd = open(req->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fail_errno(&r, -errno, "suspend image");
                return send_reply(m, from, &r);
        }
        build(m, req->spec, req->start_paused, fd, &r);
        close(fd);
        return send_reply(m, from, &r);
}

static int on_set_memory(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__SetMemoryTarget *req = (const Ts__Dom__SetMemoryTarget *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (need_domain(m, &r)) {
                struct hv_mem_shortage sh = {0};
                int e = hv_set_memory_target(m->hv, m->domid, req->bytes, &sh);
                if (e == -ENOMEM) {
                        char need[32], avail[32];
                        snprintf(need, sizeof(need), "%llu", (unsigned long long)sh.needed);
                        snprintf(avail, sizeof(avail), "%llu", (unsigned long long)sh.available);
                        reply_fail(&r, ENOMEM, "HOST_NOT_ENOUGH_FREE_MEMORY", need, avail);
                } else if (e < 0) {
                        fail_errno(&r, e, "memory target");
                }
        }
        return send_reply(m, from, &r);
}

static int on_set_vcpus(struct msg_link *l, const struct msg_origin *from,
                        const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__SetVcpus *req = (const Ts__Dom__SetVcpus *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (need_domain(m, &r)) {
                int e = hv_set_vcpus_online(m->hv, m->domid, req->n);
                if (e < 0)
                        fail_errno(&r, e, "vcpus");
        }
        return send_reply(m, from, &r);
}

static void device_error(struct reply *r, int e, const char *dev)
{
        if (e == -EEXIST)
                reply_fail(r, EEXIST, "DEVICE_ALREADY_ATTACHED", dev, NULL);
        else if (e == -ENOENT)
                reply_fail(r, ENOENT, "DEVICE_ALREADY_DETACHED", dev, NULL);
        else
                fail_errno(r, e, "device");
}

static int on_disk_plug(struct msg_link *l, const struct msg_origin *from,
                        const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__DiskPlug *req = (const Ts__Dom__DiskPlug *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (req->disk == NULL)
                return -EINVAL;
        if (need_domain(m, &r)) {
                int e = attach_disk(m, req->disk);
                if (e < 0)
                        device_error(&r, e, req->disk->vdev);
        }
        return send_reply(m, from, &r);
}

static int on_disk_unplug(struct msg_link *l, const struct msg_origin *from,
                          const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__DiskUnplug *req = (const Ts__Dom__DiskUnplug *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (need_domain(m, &r)) {
                int e = hv_disk_detach(m->hv, m->domid, req->vdev);
                if (e < 0) {
                        device_error(&r, e, req->vdev);
                } else {
                        for (unsigned i = 0; i < m->n_disks; i++)
                                if (strcmp(m->vdevs[i], req->vdev) == 0) {
                                        m->n_disks--;
                                        memmove(m->vdevs[i], m->vdevs[m->n_disks],
                                                sizeof(m->vdevs[0]));
                                        memmove(m->vbd_uuids[i], m->vbd_uuids[m->n_disks],
                                                sizeof(m->vbd_uuids[0]));
                                        break;
                                }
                }
        }
        return send_reply(m, from, &r);
}

static int on_nic_plug(struct msg_link *l, const struct msg_origin *from,
                       const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__NicPlug *req = (const Ts__Dom__NicPlug *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (req->nic == NULL)
                return -EINVAL;
        if (need_domain(m, &r)) {
                int e = attach_nic(m, req->nic);
                if (e < 0) {
                        char dev[16];
                        snprintf(dev, sizeof(dev), "%u", req->nic->devid);
                        device_error(&r, e, dev);
                }
        }
        return send_reply(m, from, &r);
}

static int on_nic_unplug(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__NicUnplug *req = (const Ts__Dom__NicUnplug *)body;
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (need_domain(m, &r)) {
                int e = hv_nic_detach(m->hv, m->domid, req->devid);
                if (e < 0) {
                        char dev[16];
                        snprintf(dev, sizeof(dev), "%u", req->devid);
                        device_error(&r, e, dev);
                } else {
                        for (unsigned i = 0; i < m->n_nics; i++)
                                if (m->nics[i] == req->devid) {
                                        m->n_nics--;
                                        m->nics[i] = m->nics[m->n_nics];
                                        memmove(m->vif_uuids[i], m->vif_uuids[m->n_nics],
                                                sizeof(m->vif_uuids[0]));
                                        memmove(m->nic_ifnames[i], m->nic_ifnames[m->n_nics],
                                                sizeof(m->nic_ifnames[0]));
                                        break;
                                }
                }
        }
        return send_reply(m, from, &r);
}

static int on_get_status(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        struct reply r;
        memset(&r, 0, sizeof(r));
        return send_reply(m, from, &r);
}

void domd_register_handlers(struct domd *m)
{
        struct {
                const ProtobufCMessageDescriptor *d;
                msg_handler_fn fn;
        } t[] = {
            {&ts__dom__build__descriptor, domd_on_build},
            {&ts__dom__pause__descriptor, on_pause},
            {&ts__dom__unpause__descriptor, on_unpause},
            {&ts__dom__shutdown__descriptor, on_shutdown},
            {&ts__dom__destroy__descriptor, on_destroy},
            {&ts__dom__reboot__descriptor, on_reboot},
            {&ts__dom__suspend__descriptor, on_suspend},
            {&ts__dom__resume__descriptor, on_resume},
            {&ts__dom__set_memory_target__descriptor, on_set_memory},
            {&ts__dom__set_vcpus__descriptor, on_set_vcpus},
            {&ts__dom__disk_plug__descriptor, on_disk_plug},
            {&ts__dom__disk_unplug__descriptor, on_disk_unplug},
            {&ts__dom__nic_plug__descriptor, on_nic_plug},
            {&ts__dom__nic_unplug__descriptor, on_nic_unplug},
            {&ts__dom__get_status__descriptor, on_get_status},
        };
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
                if (msg_link_handle(m->d.link, t[i].d, t[i].fn, m) < 0)
                        fatalx("cannot register a message handler");
}

/* ---- the domain changed by itself --------------------------------------------------------- */

static void send_event(struct domd *m, Ts__Dom__Event__Kind kind, const char *reason)
{
        struct reply r;
        reply_init(m, &r);
        Ts__Dom__Event ev = TS__DOM__EVENT__INIT;
        ev.kind = kind;
        ev.reason = (char *)(reason ? reason : "");
        ev.status = &r.st;
        int e = msg_link_event(m->d.link, NULL, &ev.base);
        if (e < 0)
                log_warnx("cannot tell xapid (%s): %s", reason ? reason : "change", strerror(-e));
}

/* The guest shut down while a clean shutdown or reboot waited for it. */
static void wait_done(struct domd *m, enum hv_shutdown_reason why)
{
        struct reply r;
        memset(&r, 0, sizeof(r));
        struct msg_origin from = m->wait.from;
        if (m->wait.reboot && why == HV_SHUTDOWN_REBOOT) {
                rebuild(m, m->wait.spec, &r);
        } else {
                /* a clean shutdown, or a reboot the guest answered by halting or crashing */
                destroy_domain(m);
                domd_forget_domain(m, true);
                if (m->wait.reboot)
                        reply_fail(&r, EIO, why == HV_SHUTDOWN_CRASH ? "VM_CRASHED" : "VM_HALTED",
                                   m->d.instance, NULL);
        }
        wait_clear(m);
        send_reply(m, &from, &r);
        domd_arm_timer(m);
}

void domd_domain_changed(struct domd *m, const struct hv_domain_info *info)
{
        if (info != NULL && suspend_job_busy())
                return; /* the suspend's own shutdown: its helper reports the outcome */
        if (info == NULL) {
                log_warnx("domain %u vanished", m->domid);
                if (m->wait.active) {
                        struct reply r;
                        memset(&r, 0, sizeof(r));
                        struct msg_origin from = m->wait.from;
                        wait_clear(m);
                        domd_forget_domain(m, true);
                        send_reply(m, &from, &r);
                        return;
                }
                domd_forget_domain(m, true);
                send_event(m, TS__DOM__EVENT__KIND__VANISHED, "");
                return;
        }
        if (m->wait.active && info->state == HV_STATE_SHUTDOWN) {
                wait_done(m, info->shutdown_reason);
                return;
        }
        if (m->reported && info->state == m->last_state &&
            (info->state != HV_STATE_SHUTDOWN || info->shutdown_reason == m->last_reason))
                return;
        bool first = !m->reported;
        m->reported = true;
        m->last_state = info->state;
        m->last_reason = info->shutdown_reason;
        msg_link_set_state(m->d.link, "state", hv_domain_state_name(info->state));
        domd_set_title(m);
        switch (info->state) {
        case HV_STATE_RUNNING:
                if (!first)
                        send_event(m, TS__DOM__EVENT__KIND__UNPAUSED, "");
                break;
        case HV_STATE_PAUSED:
                if (!first)
                        send_event(m, TS__DOM__EVENT__KIND__PAUSED, "");
                break;
        case HV_STATE_SHUTDOWN: {
                const char *why = hv_shutdown_reason_name(info->shutdown_reason);
                log_info("domain %u shut down: %s", m->domid, why);
                msg_link_set_state(m->d.link, "reason", why);
                send_event(m, TS__DOM__EVENT__KIND__SHUTDOWN, why);
                break;
        }
        case HV_STATE_DYING:
                break;
        }
}

/* The timer: deadlines of a waiting shutdown. */
void domd_check_wait(struct domd *m);
void domd_check_wait(struct domd *m)
{
        if (!m->wait.active)
                return;
        struct hv_domain_info info = {0};
        if (hv_domain_info(m->hv, m->domid, &info) == 0 && info.state == HV_STATE_SHUTDOWN) {
                wait_done(m, info.shutdown_reason);
                return;
        }
        uint64_t now = monotonic_ms();
        struct reply r;
        memset(&r, 0, sizeof(r));
        if (now >= m->wait.ack_deadline_ms && !info.request_acked) {
                reply_fail(&r, ETIMEDOUT, "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT", m->d.instance, NULL);
        } else if (now >= m->wait.deadline_ms) {
                char t[32];
                snprintf(t, sizeof(t), "%g", m->wait.timeout_ms / 1000.0);
                reply_fail(&r, ETIMEDOUT, "VM_SHUTDOWN_TIMEOUT", m->d.instance, t);
        } else {
                domd_arm_timer(m); /* look again shortly */
                return;
        }
        log_warnx("domain %u: %s", m->domid, r.f.code);
        struct msg_origin from = m->wait.from;
        wait_clear(m);
        send_reply(m, &from, &r);
        domd_arm_timer(m);
}
