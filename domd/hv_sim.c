/* The simulated hypervisor backend: open, host, domain life cycle.  Domains live in files
 * (layout in hv_sim.h) so that they outlive the domd that built them; every process
 * opening the same run directory sees the same host. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim)

#define GiB             ((uint64_t)1 << 30)
#define MiB             ((uint64_t)1 << 20)
#define DEFAULT_TOTAL   (16 * GiB)
#define DEFAULT_DOM0    (1 * GiB)
#define CONSOLE_MAX     (64 * 1024)
#define SIM_VCPUS_LIMIT 128

static int mkdir_p(const char *path)
{
        char buf[4096];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
                return -ENAMETOOLONG;
        for (char *p = buf + 1;; p++) {
                if (*p == '/' || !*p) {
                        char c = *p;
                        *p = 0;
                        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                                return -errno;
                        *p = c;
                        if (!c)
                                return 0;
                }
        }
}

static void read_boot_id(char out[64])
{
        snprintf(out, 64, "unknown");
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (!f)
                return;
        if (fgets(out, 64, f))
                out[strcspn(out, "\n")] = 0;
        fclose(f);
}

/* Removes every entry of directory PATH (relative to ROOT), and its subdirectories one
 * level down: what a host reboot does to the domains of the previous boot. */
static void wipe_dir(int root, const char *path, bool subdirs)
{
        int fd = openat(root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(dir))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                if (subdirs && e->d_type == DT_DIR) {
                        char sub[512];
                        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                        wipe_dir(root, sub, false);
                        unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR);
                } else {
                        unlinkat(dirfd(dir), e->d_name, 0);
                }
        }
        closedir(dir);
}

/* Creates or refreshes the host file; called with the host lock held. */
static int host_init(struct sim *s, const struct hv_config *cfg)
{
        struct sim_host hst;
        char boot_id[64];
        read_boot_id(boot_id);
        int r = sim_host_load(s->root, &hst);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                return r;
        bool fresh = r < 0 || strcmp(hst.boot_id, boot_id) != 0;
        bool dirty = fresh;
        if (fresh) {
                if (r == 0)
                        log_notice("sim: the host rebooted since %s was written: forgetting its "
                                   "domains",
                                   s->root_path);
                wipe_dir(s->root, "domains", true);
                wipe_dir(s->root, "by-uuid", false);
                memset(&hst, 0, sizeof(hst));
                snprintf(hst.boot_id, sizeof(hst.boot_id), "%s", boot_id);
                hst.total = DEFAULT_TOTAL;
                hst.dom0 = DEFAULT_DOM0;
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                hst.nr_cpus = n > 0 ? (unsigned)n : 1;
                hst.next_domid = SIM_DOMID_FIRST;
        }
        /* An explicit configuration wins over what the host file says. */
        if (cfg->sim_total_memory && cfg->sim_total_memory != hst.total) {
                hst.total = cfg->sim_total_memory;
                dirty = true;
        }
        if (cfg->sim_dom0_memory && cfg->sim_dom0_memory != hst.dom0) {
                hst.dom0 = cfg->sim_dom0_memory;
                dirty = true;
        }
        if (cfg->sim_nr_cpus && cfg->sim_nr_cpus != hst.nr_cpus) {
                hst.nr_cpus = cfg->sim_nr_cpus;
                dirty = true;
        }
        return dirty ? sim_host_save(s->root, &hst) : 0;
}

static void sim_close(struct hv *h)
{
        struct sim *s = sim_of(h);
        if (!s)
                return;
        sim_watch_close(s);
        if (s->root >= 0)
                close(s->root);
        free(s->root_path);
        free(s);
        h->priv = NULL;
}

static int sim_open(struct hv *h, const struct hv_config *cfg)
{
        if (!cfg->run_dir || !*cfg->run_dir)
                return -EINVAL;
        struct sim *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        h->priv = s;
        s->root = s->epfd = s->timerfd = -1;
        s->default_ack_ms = cfg->sim_ack_ms;
        s->create_vifs = cfg->sim_create_vifs;
        int r = -ENOMEM;
        if (asprintf(&s->root_path, "%s/sim", cfg->run_dir) < 0) {
                s->root_path = NULL;
                goto fail;
        }
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/domains", s->root_path);
        if ((r = mkdir_p(sub)) < 0)
                goto fail;
        snprintf(sub, sizeof(sub), "%s/by-uuid", s->root_path);
        if ((r = mkdir_p(sub)) < 0)
                goto fail;
        s->root = open(s->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->root < 0) {
                r = -errno;
                goto fail;
        }
        int lk = sim_lock(s->root, "host.lock");
        if (lk < 0) {
                r = lk;
                goto fail;
        }
        r = host_init(s, cfg);
        sim_unlock(lk);
        if (r < 0)
                goto fail;
        log_info("sim: domains in %s", s->root_path);
        return 0;
fail:
        log_errx("sim: cannot open %s: %s", s->root_path ? s->root_path : cfg->run_dir,
                 strerror(-r));
        sim_close(h);
        return r;
}

/* First value of "KEY<spaces>: value" in /proc/cpuinfo. */
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
                v++;
                while (*v == ' ')
                        v++;
                size_t n = end ? (size_t)(end - v) : strlen(v);
                snprintf(out, len, "%.*s", (int)n, v);
                return;
        }
}

static int sim_host_info(struct hv *h, struct hv_host_info *out)
{
        struct sim *s = sim_of(h);
        struct sim_host hst;
        memset(out, 0, sizeof(*out));
        int r = sim_host_load(s->root, &hst);
        if (r < 0)
                return r;
        snprintf(out->backend, sizeof(out->backend), "sim");
        snprintf(out->hypervisor_name, sizeof(out->hypervisor_name), "xen-sim");
        snprintf(out->hypervisor_version, sizeof(out->hypervisor_version), "4.17.0-sim");
        out->total_memory = hst.total;
        uint64_t taken = hst.dom0 + hst.used;
        out->free_memory = hst.total > taken ? hst.total - taken : 0;
        out->nr_cpus = hst.nr_cpus;
        snprintf(out->cpu_vendor, sizeof(out->cpu_vendor), "unknown");
        snprintf(out->cpu_model, sizeof(out->cpu_model), "simulated CPU");
        char *text = NULL;
        size_t len = 0;
        FILE *f = fopen("/proc/cpuinfo", "re");
        if (f) {
                /* The first processor's block is enough. */
                text = calloc(1, 65536);
                if (text)
                        len = fread(text, 1, 65535, f);
                fclose(f);
        }
        if (text && len) {
                char mhz[32] = "";
                cpuinfo_field(text, "vendor_id", out->cpu_vendor, sizeof(out->cpu_vendor));
                cpuinfo_field(text, "model name", out->cpu_model, sizeof(out->cpu_model));
                cpuinfo_field(text, "flags", out->cpu_flags, sizeof(out->cpu_flags));
                cpuinfo_field(text, "cpu MHz", mhz, sizeof(mhz));
                out->cpu_speed_mhz = (unsigned)strtoul(mhz, NULL, 10);
        }
        free(text);
        return 0;
}

static int map_to_json(const struct hv_map *m, json_t *obj)
{
        for (size_t i = 0; m && i < m->n; i++) {
                if (!m->items[i].key || !m->items[i].value)
                        return -EINVAL;
                json_t *v = json_string(m->items[i].value);
                if (!v || json_object_set_new(obj, m->items[i].key, v) < 0)
                        return -EINVAL; /* not UTF-8 */
        }
        return 0;
}

static int dup_opt(const char *in, char **out)
{
        *out = NULL;
        if (!in || !*in)
                return 0;
        *out = strdup(in);
        return *out ? 0 : -ENOMEM;
}

int sim_dom_from_spec(struct sim *s, const struct hv_domain_spec *spec, struct sim_dom **out)
{
        *out = NULL;
        if (!spec || !uuid_is_valid(spec->uuid))
                return -EINVAL;
        uint64_t smax =
            spec->memory_static_max ? spec->memory_static_max : spec->memory_dynamic_max;
        if (!spec->memory_dynamic_max || spec->memory_dynamic_min > spec->memory_dynamic_max ||
            spec->memory_dynamic_max > smax || !spec->vcpus_max ||
            spec->vcpus_max > SIM_VCPUS_LIMIT || !spec->vcpus_at_startup ||
            spec->vcpus_at_startup > spec->vcpus_max || (unsigned)spec->type > HV_TYPE_HVM)
                return -EINVAL;
        struct sim_dom *d = sim_dom_new();
        if (!d)
                return -ENOMEM;
        int r;
        memcpy(d->uuid, spec->uuid, UUID_STR_LEN);
        d->uuid[UUID_STR_LEN - 1] = 0;
        d->type = spec->type;
        d->static_max = smax;
        d->dyn_min = spec->memory_dynamic_min;
        d->dyn_max = d->target = d->actual = spec->memory_dynamic_max;
        d->vcpus_max = spec->vcpus_max;
        d->vcpus_online = spec->vcpus_at_startup;
        d->paused = true;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        d->created_rt_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if ((r = dup_opt(spec->name ? spec->name : "", &d->name)) < 0 ||
            (r = dup_opt(spec->kernel, &d->kernel)) < 0 ||
            (r = dup_opt(spec->ramdisk, &d->ramdisk)) < 0 ||
            (r = dup_opt(spec->cmdline, &d->cmdline)) < 0 ||
            (r = map_to_json(&spec->platform, d->platform)) < 0 ||
            (r = map_to_json(&spec->other_config, d->other_config)) < 0 ||
            (r = sim_guest_behaviour(d, s->default_ack_ms)) < 0) {
                sim_dom_free(d);
                return r;
        }
        *out = d;
        return 0;
}

static void dom_path(char *buf, size_t len, uint32_t domid, const char *file)
{
        if (file)
                snprintf(buf, len, "domains/%" PRIu32 "/%s", domid, file);
        else
                snprintf(buf, len, "domains/%" PRIu32, domid);
}

/* Domid of the live domain of UUID from the by-uuid link; -ESRCH when none. */
static int lookup_uuid(struct sim *s, const char *uuid, uint32_t *domid)
{
        char link[64], target[32];
        if (!uuid_is_valid(uuid))
                return -EINVAL;
        snprintf(link, sizeof(link), "by-uuid/%s", uuid);
        ssize_t n = readlinkat(s->root, link, target, sizeof(target) - 1);
        if (n < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        target[n] = 0;
        char *end;
        unsigned long id = strtoul(target, &end, 10);
        if (*end || id < SIM_DOMID_FIRST || id > SIM_DOMID_LAST)
                return -ESRCH;
        struct sim_dom *d;
        int r = sim_dom_load(s->root, (uint32_t)id, &d);
        if (r < 0)
                return r;
        r = strcasecmp(d->uuid, uuid) ? -ESRCH : 0; /* a stale link */
        sim_dom_free(d);
        if (r == 0)
                *domid = (uint32_t)id;
        return r;
}

int sim_domain_insert(struct sim *s, struct sim_dom *d, const char *console, uint32_t *domid,
                      struct hv_mem_shortage *short_out)
{
        char path[64], link[64];
        int lk = sim_lock(s->root, "host.lock");
        if (lk < 0)
                return lk;
        struct sim_host hst;
        uint32_t existing;
        int r = lookup_uuid(s, d->uuid, &existing);
        if (r == 0) {
                log_warnx("sim: VM %s already has domain %" PRIu32, d->uuid, existing);
                r = -EEXIST;
                goto out;
        }
        if ((r = sim_host_load(s->root, &hst)) < 0)
                goto out;
        uint64_t taken = hst.dom0 + hst.used;
        uint64_t avail = hst.total > taken ? hst.total - taken : 0;
        if (d->actual > avail) {
                if (short_out)
                        *short_out = (struct hv_mem_shortage){d->actual, avail};
                log_info("sim: VM %s needs %" PRIu64 " MiB, %" PRIu64 " MiB free", d->uuid,
                         d->actual / MiB, avail / MiB);
                r = -ENOMEM;
                goto out;
        }
        /* Round-robin like Xen; mkdir() settles races with processes that ignore the lock. */
        uint32_t id = hst.next_domid;
        r = -ENOSPC;
        for (uint32_t tries = 0; tries <= SIM_DOMID_LAST - SIM_DOMID_FIRST; tries++, id++) {
                if (id < SIM_DOMID_FIRST || id > SIM_DOMID_LAST)
                        id = SIM_DOMID_FIRST;
                dom_path(path, sizeof(path), id, NULL);
                if (mkdirat(s->root, path, 0700) == 0) {
                        r = 0;
                        break;
                }
                if (errno != EEXIST) {
                        r = -errno;
                        break;
                }
        }
        if (r < 0)
                goto out;
        d->domid = id;
        snprintf(link, sizeof(link), "by-uuid/%s", d->uuid);
        char target[16];
        snprintf(target, sizeof(target), "%" PRIu32, id);
        unlinkat(s->root, link, 0); /* stale from a domain that vanished uncleanly */
        if ((r = sim_dom_save(s->root, d)) < 0 ||
            (console && *console && (r = sim_console_append(s->root, id, console)) < 0) ||
            (symlinkat(target, s->root, link) < 0 && (r = -errno) < 0))
                goto undo;
        hst.used += d->actual;
        hst.next_domid = id + 1 > SIM_DOMID_LAST ? SIM_DOMID_FIRST : id + 1;
        if ((r = sim_host_save(s->root, &hst)) < 0)
                goto undo;
        *domid = id;
        goto out;
undo:
        unlinkat(s->root, link, 0);
        dom_path(path, sizeof(path), id, NULL);
        wipe_dir(s->root, path, false);
        unlinkat(s->root, path, AT_REMOVEDIR);
out:
        sim_unlock(lk);
        return r;
}

static int sim_domain_create(struct hv *h, const struct hv_domain_spec *spec, uint32_t *domid,
                             struct hv_mem_shortage *short_out)
{
        struct sim *s = sim_of(h);
        struct sim_dom *d;
        int r = sim_dom_from_spec(s, spec, &d);
        if (r < 0)
                return r;
        r = sim_domain_insert(s, d, NULL, domid, short_out);
        if (r == 0)
                log_info("sim: domain %" PRIu32 " created for VM %s (%s, %" PRIu64
                         " MiB, %u vCPUs)",
                         *domid, d->uuid, hv_domain_type_name(d->type), d->actual / MiB,
                         d->vcpus_online);
        sim_dom_free(d);
        return r;
}

static int sim_domain_destroy(struct hv *h, uint32_t domid)
{
        struct sim *s = sim_of(h);
        char path[64], link[64];
        int hl = sim_lock(s->root, "host.lock");
        if (hl < 0)
                return hl;
        dom_path(path, sizeof(path), domid, NULL);
        int dl = sim_lock(s->root, path);
        struct sim_dom *d = NULL;
        struct sim_host hst;
        int r = dl < 0 ? dl : sim_dom_load(s->root, domid, &d);
        if (r < 0)
                goto out;
        sim_nics_release(s, d);
        uint32_t linked;
        if (lookup_uuid(s, d->uuid, &linked) == 0 && linked == domid) {
                snprintf(link, sizeof(link), "by-uuid/%s", d->uuid);
                unlinkat(s->root, link, 0);
        }
        sim_notify(s->root, domid); /* its watcher reads the record, finds it gone */
        wipe_dir(s->root, path, false);
        if (unlinkat(s->root, path, AT_REMOVEDIR) < 0)
                log_warn("sim: removing %s", path);
        if ((r = sim_host_load(s->root, &hst)) == 0) {
                hst.used = hst.used > d->actual ? hst.used - d->actual : 0;
                r = sim_host_save(s->root, &hst);
        }
        log_info("sim: domain %" PRIu32 " (VM %s) destroyed", domid, d->uuid);
out:
        sim_dom_free(d);
        sim_unlock(dl);
        sim_unlock(hl);
        return r;
}

static const char *shutdown_console_line(enum hv_shutdown_reason r)
{
        switch (r) {
        case HV_SHUTDOWN_POWEROFF:
                return "reboot: Power down\n";
        case HV_SHUTDOWN_REBOOT:
                return "reboot: Restarting system\n";
        case HV_SHUTDOWN_SUSPEND:
                return "PM: suspending for Xen save/migrate\n";
        case HV_SHUTDOWN_CRASH:
                return "Kernel panic - not syncing: simulated crash\n";
        default:
                return "";
        }
}

int sim_with_domain(struct sim *s, uint32_t domid,
                    int (*fn)(struct sim *s, struct sim_dom *d, uint64_t now, void *arg), void *arg)
{
        char path[64];
        dom_path(path, sizeof(path), domid, NULL);
        int lk = sim_lock(s->root, path);
        if (lk < 0)
                return lk;
        struct sim_dom *d = NULL;
        int r = sim_dom_load(s->root, domid, &d);
        if (r < 0)
                goto out;
        uint64_t now = sim_now_ns();
        bool was_shut = d->shut;
        sim_guest_settle(d, now);
        if (!was_shut && d->shut)
                sim_console_append(s->root, domid, shutdown_console_line(d->reason));
        bool settled = !was_shut && d->shut;
        r = fn(s, d, now, arg);
        if (r > 0 || settled) {
                int w = sim_dom_save(s->root, d);
                if (r >= 0)
                        r = w < 0 ? w : 0;
        }
out:
        sim_dom_free(d);
        sim_unlock(lk);
        return r;
}

static int do_pause(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        if (d->shut || d->paused)
                return 0; /* as Xen: pausing a shut-down domain changes nothing */
        d->guest_base_ns += now - d->run_since_ns;
        d->paused = true;
        return 1;
}

static int do_unpause(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        if (d->shut || !d->paused)
                return 0;
        d->paused = false;
        d->run_since_ns = now;
        if (!d->started) {
                d->started = true;
                char *text = NULL;
                if (asprintf(&text,
                             "[    0.000000] Linux version 6.1.0-sim (simulated) #1 SMP\n"
                             "[    0.000000] Command line: %s\n"
                             "[    0.000000] Xen: simulated %s domain %" PRIu32 ", %" PRIu64
                             " MiB, %u vCPUs\n"
                             "[    0.412000] Run /sbin/init as init process\n"
                             "\n%s login: ",
                             d->cmdline ? d->cmdline : "", hv_domain_type_name(d->type), d->domid,
                             d->actual / MiB, d->vcpus_online,
                             d->name && *d->name ? d->name : "localhost") >= 0) {
                        sim_console_append(s->root, d->domid, text);
                        free(text);
                }
        }
        return 1;
}

static int sim_domain_pause(struct hv *h, uint32_t domid)
{
        return sim_with_domain(sim_of(h), domid, do_pause, NULL);
}

static int sim_domain_unpause(struct hv *h, uint32_t domid)
{
        return sim_with_domain(sim_of(h), domid, do_unpause, NULL);
}

static int do_request(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        enum hv_shutdown_reason reason = *(enum hv_shutdown_reason *)arg;
        if (d->shut || d->req == reason)
                return 0; /* a repeated request does not restart the guest's clock */
        struct sim_eval e;
        sim_guest_eval(d, now, &e);
        d->req = reason;
        d->req_guest_ns = e.guest_ns;
        return 1;
}

static int sim_domain_shutdown(struct hv *h, uint32_t domid, enum hv_shutdown_reason reason)
{
        if (reason != HV_SHUTDOWN_POWEROFF && reason != HV_SHUTDOWN_REBOOT &&
            reason != HV_SHUTDOWN_SUSPEND)
                return -EINVAL;
        int r = sim_with_domain(sim_of(h), domid, do_request, &reason);
        if (r == 0)
                log_info("sim: domain %" PRIu32 ": %s requested", domid,
                         hv_shutdown_reason_name(reason));
        return r;
}

static int sim_domain_info(struct hv *h, uint32_t domid, struct hv_domain_info *out)
{
        struct sim_dom *d;
        int r = sim_dom_load(sim_of(h)->root, domid, &d);
        if (r < 0)
                return r;
        sim_guest_info(d, sim_now_ns(), out);
        sim_dom_free(d);
        return 0;
}

static int sim_domain_find(struct hv *h, const char *uuid, uint32_t *domid)
{
        return lookup_uuid(sim_of(h), uuid, domid);
}

static int sim_domain_list(struct hv *h, struct hv_domain_info **out, size_t *n)
{
        struct sim *s = sim_of(h);
        *out = NULL;
        *n = 0;
        int fd = openat(s->root, "domains", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return -errno;
        }
        struct hv_domain_info *v = NULL;
        size_t len = 0, cap = 0;
        int r = 0;
        uint64_t now = sim_now_ns();
        struct dirent *e;
        while ((e = readdir(dir))) {
                char *end;
                unsigned long id = strtoul(e->d_name, &end, 10);
                if (*end || end == e->d_name)
                        continue;
                struct sim_dom *d;
                if (sim_dom_load(s->root, (uint32_t)id, &d) < 0)
                        continue; /* being created or destroyed */
                if (len == cap) {
                        cap = cap ? 2 * cap : 16;
                        struct hv_domain_info *nv = realloc(v, cap * sizeof(*v));
                        if (!nv) {
                                sim_dom_free(d);
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                }
                sim_guest_info(d, now, &v[len++]);
                sim_dom_free(d);
        }
        closedir(dir);
        if (r < 0) {
                free(v);
                return r;
        }
        *out = v;
        *n = len;
        return 0;
}

struct mem_arg {
        uint64_t bytes;
        struct sim_host *hst;
        struct hv_mem_shortage *short_out;
};

static int do_memory(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        struct mem_arg *a = arg;
        if (a->bytes > d->static_max || !a->bytes)
                return -EINVAL;
        if (a->bytes > d->actual) {
                uint64_t taken = a->hst->dom0 + a->hst->used;
                uint64_t avail = a->hst->total > taken ? a->hst->total - taken : 0;
                if (a->bytes - d->actual > avail) {
                        if (a->short_out)
                                *a->short_out =
                                    (struct hv_mem_shortage){a->bytes - d->actual, avail};
                        return -ENOMEM;
                }
        }
        /* The simulated balloon driver reaches its target at once. */
        a->hst->used = a->hst->used + a->bytes - d->actual;
        d->target = d->actual = a->bytes;
        return 1;
}

static int sim_set_memory_target(struct hv *h, uint32_t domid, uint64_t bytes,
                                 struct hv_mem_shortage *short_out)
{
        struct sim *s = sim_of(h);
        struct sim_host hst;
        int lk = sim_lock(s->root, "host.lock");
        if (lk < 0)
                return lk;
        int r = sim_host_load(s->root, &hst);
        if (r == 0) {
                struct mem_arg a = {bytes, &hst, short_out};
                r = sim_with_domain(s, domid, do_memory, &a);
                if (r == 0)
                        r = sim_host_save(s->root, &hst);
        }
        sim_unlock(lk);
        return r;
}

static int do_vcpus(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        unsigned n = *(unsigned *)arg;
        if (!n || n > d->vcpus_max)
                return -EINVAL;
        d->vcpus_online = n;
        return 1;
}

static int sim_set_vcpus_online(struct hv *h, uint32_t domid, unsigned n)
{
        return sim_with_domain(sim_of(h), domid, do_vcpus, &n);
}

static int sim_console(struct hv *h, uint32_t domid, char **text, size_t *len)
{
        struct sim *s = sim_of(h);
        char path[64];
        *text = NULL;
        *len = 0;
        dom_path(path, sizeof(path), domid, "state");
        if (faccessat(s->root, path, F_OK, 0) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        return sim_console_read(s->root, domid, CONSOLE_MAX, text, len);
}

const struct hv_ops hv_sim_ops = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .host_info = sim_host_info,
    .domain_create = sim_domain_create,
    .domain_destroy = sim_domain_destroy,
    .domain_pause = sim_domain_pause,
    .domain_unpause = sim_domain_unpause,
    .domain_shutdown = sim_domain_shutdown,
    .domain_info = sim_domain_info,
    .domain_find = sim_domain_find,
    .domain_list = sim_domain_list,
    .set_memory_target = sim_set_memory_target,
    .set_vcpus_online = sim_set_vcpus_online,
    .domain_suspend = sim_domain_suspend,
    .domain_resume = sim_domain_resume,
    .domain_dumpcore = sim_domain_dumpcore,
    .domain_restore = sim_domain_restore,
    .console_read = sim_console,
    .disk_attach = sim_disk_attach,
    .disk_detach = sim_disk_detach,
    .nic_attach = sim_nic_attach,
    .nic_detach = sim_nic_detach,
    .watch_fd = sim_watch_fd,
    .watch_domain = sim_watch_domain,
    .unwatch_domain = sim_unwatch_domain,
    .poll_changes = sim_poll_changes,
};
