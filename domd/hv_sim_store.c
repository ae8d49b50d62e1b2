/* Files of the simulated hypervisor: domain records and the host file as JSON, written
 * atomically; locks; the console file.  Layout in hv_sim.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_store)

struct sim_dom *sim_dom_new(void)
{
        struct sim_dom *d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->reason = HV_SHUTDOWN_NONE;
        d->req = HV_SHUTDOWN_NONE;
        d->platform = json_object();
        d->other_config = json_object();
        d->disks = json_array();
        d->nics = json_array();
        if (!d->platform || !d->other_config || !d->disks || !d->nics) {
                sim_dom_free(d);
                return NULL;
        }
        return d;
}

void sim_dom_free(struct sim_dom *d)
{
        if (!d)
                return;
        free(d->name);
        free(d->kernel);
        free(d->ramdisk);
        free(d->cmdline);
        json_decref(d->platform);
        json_decref(d->other_config);
        json_decref(d->disks);
        json_decref(d->nics);
        free(d);
}

int sim_write_atomic(int dirfd, const char *path, const void *buf, size_t len)
{
        char tmp[256];
        int r = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        if (r < 0 || (size_t)r >= sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        const char *p = buf;
        size_t left = len;
        while (left) {
                ssize_t w = write(fd, p, left);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        r = -errno;
                        close(fd);
                        unlinkat(dirfd, tmp, 0);
                        return r;
                }
                p += w;
                left -= (size_t)w;
        }
        close(fd);
        if (renameat(dirfd, tmp, dirfd, path) < 0) {
                r = -errno;
                unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 0;
}

static int write_json(int root, const char *path, json_t *j)
{
        if (!j)
                return -ENOMEM;
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!s)
                return -ENOMEM;
        int r = sim_write_atomic(root, path, s, strlen(s));
        free(s);
        return r;
}

/* Reads PATH (relative to ROOT) as JSON; -ENOENT when absent, -EBADMSG when unparsable. */
static int read_json(int root, const char *path, json_t **out)
{
        int fd = openat(root, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* One read for the common small record (json_loadfd reads a byte at a time). */
        char stackbuf[8192], *buf = stackbuf;
        size_t cap = sizeof(stackbuf), len = 0;
        int r = 0;
        for (;;) {
                if (len == cap) {
                        char *nb = malloc(cap * 2);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(nb, buf, len);
                        if (buf != stackbuf)
                                free(buf);
                        buf = nb;
                        cap *= 2;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        close(fd);
        if (r == 0) {
                json_error_t jerr;
                *out = json_loadb(buf, len, 0, &jerr);
                if (!*out) {
                        log_warnx("%s: %s (line %d)", path, jerr.text, jerr.line);
                        r = -EBADMSG;
                }
        }
        if (buf != stackbuf)
                free(buf);
        return r;
}

static json_t *jstr(const char *s)
{
        return s ? json_string(s) : json_null();
}

static char *dupstr(json_t *j)
{
        const char *s = json_string_value(j);
        return s ? strdup(s) : NULL;
}

static uint64_t u64(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

#define I(x) json_integer((json_int_t)(x))

int sim_dom_save(int root, const struct sim_dom *d)
{
        char path[64];
        snprintf(path, sizeof(path), "domains/%" PRIu32 "/state", d->domid);
        json_t *j = json_pack(
            "{s:I, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:O, s:O, "
            "s:O, s:O, s:I}",
            "domid", (json_int_t)d->domid, "uuid", d->uuid, "name", jstr(d->name), "type",
            hv_domain_type_name(d->type), "static_max", (json_int_t)d->static_max, "dyn_min",
            (json_int_t)d->dyn_min, "dyn_max", (json_int_t)d->dyn_max, "target",
            (json_int_t)d->target, "actual", (json_int_t)d->actual, "vcpus_max",
            (json_int_t)d->vcpus_max, "vcpus_online", (json_int_t)d->vcpus_online, "kernel",
            jstr(d->kernel), "ramdisk", jstr(d->ramdisk), "cmdline", jstr(d->cmdline), "platform",
            d->platform, "other_config", d->other_config, "disks", d->disks, "nics", d->nics,
            "created_rt_ms", (json_int_t)d->created_rt_ms);
        if (!j)
                return -EINVAL; /* a string that is not UTF-8 */
        json_t *t = json_pack("{s:b, s:b, s:I, s:I, s:b, s:i, s:I, s:i, s:I}", "paused", d->paused,
                              "started", d->started, "guest_base_ns", (json_int_t)d->guest_base_ns,
                              "run_since_ns", (json_int_t)d->run_since_ns, "shut", d->shut,
                              "reason", (int)d->reason, "shut_mono_ns", (json_int_t)d->shut_mono_ns,
                              "req", (int)d->req, "req_guest_ns", (json_int_t)d->req_guest_ns);
        json_t *b = json_pack("{s:I, s:I, s:I, s:I, s:I, s:i}", "boot_ns", (json_int_t)d->boot_ns,
                              "ack_ns", (json_int_t)d->ack_ns, "halt_ns", (json_int_t)d->halt_ns,
                              "crash_after_ns", (json_int_t)d->crash_after_ns, "reboot_after_ns",
                              (json_int_t)d->reboot_after_ns, "on_request", (int)d->on_request);
        if (!t || !b || json_object_set_new(j, "timeline", t) < 0 ||
            json_object_set_new(j, "behaviour", b) < 0) {
                json_decref(j);
                return -ENOMEM;
        }
        int r = write_json(root, path, j);
        if (r == 0)
                sim_notify(root, d->domid);
        return r;
}

/* Replaces *SLOT (a json value owned by the record) with a new reference to V when V has
 * the type CHECK accepts. */
static void take(json_t **slot, json_t *v, int (*check)(const json_t *))
{
        if (v && check(v)) {
                json_decref(*slot);
                *slot = json_incref(v);
        }
}

static int is_object(const json_t *v)
{
        return json_is_object(v);
}

static int is_array(const json_t *v)
{
        return json_is_array(v);
}

int sim_dom_load(int root, uint32_t domid, struct sim_dom **out)
{
        char path[64];
        json_t *j = NULL;
        *out = NULL;
        snprintf(path, sizeof(path), "domains/%" PRIu32 "/state", domid);
        int r = read_json(root, path, &j);
        if (r == -ENOENT || r == -ENOTDIR)
                return -ESRCH;
        if (r < 0)
                return r;
        struct sim_dom *d = sim_dom_new();
        if (!d) {
                json_decref(j);
                return -ENOMEM;
        }
        const char *uuid = json_string_value(json_object_get(j, "uuid"));
        if (!uuid || !uuid_is_valid(uuid) || u64(j, "domid") != domid ||
            hv_domain_type_from_name(json_string_value(json_object_get(j, "type")), &d->type) < 0) {
                log_warnx("%s: not a domain record", path);
                r = -EBADMSG;
                goto out;
        }
        d->domid = domid;
        memcpy(d->uuid, uuid, UUID_STR_LEN);
        d->name = dupstr(json_object_get(j, "name"));
        d->static_max = u64(j, "static_max");
        d->dyn_min = u64(j, "dyn_min");
        d->dyn_max = u64(j, "dyn_max");
        d->target = u64(j, "target");
        d->actual = u64(j, "actual");
        d->vcpus_max = (unsigned)u64(j, "vcpus_max");
        d->vcpus_online = (unsigned)u64(j, "vcpus_online");
        d->kernel = dupstr(json_object_get(j, "kernel"));
        d->ramdisk = dupstr(json_object_get(j, "ramdisk"));
        d->cmdline = dupstr(json_object_get(j, "cmdline"));
        take(&d->platform, json_object_get(j, "platform"), is_object);
        take(&d->other_config, json_object_get(j, "other_config"), is_object);
        take(&d->disks, json_object_get(j, "disks"), is_array);
        take(&d->nics, json_object_get(j, "nics"), is_array);
        d->created_rt_ms = (int64_t)u64(j, "created_rt_ms");

        json_t *t = json_object_get(j, "timeline"), *b = json_object_get(j, "behaviour");
        d->paused = json_is_true(json_object_get(t, "paused"));
        d->started = json_is_true(json_object_get(t, "started"));
        d->guest_base_ns = u64(t, "guest_base_ns");
        d->run_since_ns = u64(t, "run_since_ns");
        d->shut = json_is_true(json_object_get(t, "shut"));
        d->reason = (enum hv_shutdown_reason)json_integer_value(json_object_get(t, "reason"));
        d->shut_mono_ns = u64(t, "shut_mono_ns");
        d->req = (enum hv_shutdown_reason)json_integer_value(json_object_get(t, "req"));
        d->req_guest_ns = u64(t, "req_guest_ns");
        d->boot_ns = u64(b, "boot_ns");
        d->ack_ns = u64(b, "ack_ns");
        d->halt_ns = u64(b, "halt_ns");
        d->crash_after_ns = u64(b, "crash_after_ns");
        d->reboot_after_ns = u64(b, "reboot_after_ns");
        d->on_request = (enum sim_on_request)json_integer_value(json_object_get(b, "on_request"));
        r = 0;
out:
        json_decref(j);
        if (r < 0)
                sim_dom_free(d);
        else
                *out = d;
        return r;
}

int sim_host_load(int root, struct sim_host *out)
{
        json_t *j = NULL;
        memset(out, 0, sizeof(*out));
        int r = read_json(root, "host", &j);
        if (r < 0)
                return r;
        snprintf(out->boot_id, sizeof(out->boot_id), "%s",
                 json_string_value(json_object_get(j, "boot_id")) ?: "");
        out->total = u64(j, "total");
        out->dom0 = u64(j, "dom0");
        out->used = u64(j, "used");
        out->nr_cpus = (unsigned)u64(j, "nr_cpus");
        out->next_domid = (uint32_t)u64(j, "next_domid");
        json_decref(j);
        return 0;
}

int sim_host_save(int root, const struct sim_host *hst)
{
        return write_json(root, "host",
                          json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "boot_id", hst->boot_id,
                                    "total", (json_int_t)hst->total, "dom0", (json_int_t)hst->dom0,
                                    "used", (json_int_t)hst->used, "nr_cpus",
                                    (json_int_t)hst->nr_cpus, "next_domid",
                                    (json_int_t)hst->next_domid));
}

int sim_lock(int root, const char *path)
{
        int fd = openat(root, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !strcmp(path, "host.lock"))
                fd = openat(root, path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        }
        return fd;
}

void sim_unlock(int fd)
{
        if (fd >= 0)
                close(fd); /* drops the flock */
}

int sim_console_append(int root, uint32_t domid, const char *text)
{
        char path[64];
        snprintf(path, sizeof(path), "domains/%" PRIu32 "/console", domid);
        int fd = openat(root, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text);
        ssize_t w = write(fd, text, len); /* O_APPEND: one write, one line group */
        int r = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
        close(fd);
        return r;
}

int sim_console_read(int root, uint32_t domid, size_t max, char **text, size_t *len)
{
        char path[64];
        *text = NULL;
        *len = 0;
        snprintf(path, sizeof(path), "domains/%" PRIu32 "/console", domid);
        int fd = openat(root, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
                return -errno;
        struct stat st = {0};
        if (fd >= 0 && fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        size_t size = (size_t)st.st_size, want = size > max ? max : size;
        char *buf = malloc(want + 1);
        if (!buf) {
                if (fd >= 0)
                        close(fd);
                return -ENOMEM;
        }
        ssize_t got = fd >= 0 && want ? pread(fd, buf, want, (off_t)(size - want)) : 0;
        int r = got < 0 ? -errno : 0;
        if (fd >= 0)
                close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[got] = 0;
        *text = buf;
        *len = (size_t)got;
        return 0;
}
