/* Drives the hypervisor interface (domd/hv.h) against a real Xen from dom0 and prints TAP:
 * the first tier of tests/xen.  The guests boot the kernel and initramfs given (the latter
 * with tests/xen/guest-init, whose console markers the cases look for).
 *
 *   hv_drive --kernel K --ramdisk R --dir WORKDIR [--backend xc] [--bench]
 *
 * --bench prints "BENCH <name> <ms>" lines (create+start, suspend, restore) instead. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/uuid.h"
#include "domd/hv.h"
#ifdef HAVE_XEN
#include <xenstore.h>
#endif

#define MiB ((uint64_t)1 << 20)

static struct hv *h;
static const char *kernel, *ramdisk, *workdir;
static int n_case, n_failed;

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* One TAP line; WHY (printf) explains a failure. */
static bool report(bool ok, const char *name, const char *why, ...)
    __attribute__((format(printf, 3, 4)));
static bool report(bool ok, const char *name, const char *why, ...)
{
        n_case++;
        if (!ok) {
                n_failed++;
                char buf[512] = "";
                va_list ap;
                va_start(ap, why);
                vsnprintf(buf, sizeof(buf), why, ap);
                va_end(ap);
                printf("# %s: %s\n", name, buf);
        }
        printf("%s %d - %s\n", ok ? "ok" : "not ok", n_case, name);
        fflush(stdout);
        return ok;
}

static void skip(const char *name, const char *why)
{
        printf("ok %d - %s # SKIP %s\n", ++n_case, name, why);
        fflush(stdout);
}

struct guest {
        char name[32];
        char uuid[UUID_STR_LEN];
        char cmdline[256];
        struct hv_kv platform[2];
        struct hv_kv xsdata[2];
        struct hv_domain_spec spec;
        uint32_t domid;
        bool alive;
};

static void guest_init(struct guest *g, const char *name, enum hv_domain_type type,
                       const char *extra)
{
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        uuid_generate_str(g->uuid);
        snprintf(g->cmdline, sizeof(g->cmdline), "console=hvc0 loglevel=4 guest_name=%s %s", name,
                 extra ? extra : "");
        memcpy(g->spec.uuid, g->uuid, UUID_STR_LEN);
        g->spec.name = g->name;
        g->spec.type = type;
        g->spec.memory_static_max = g->spec.memory_dynamic_max = 128 * MiB;
        g->spec.memory_dynamic_min = 64 * MiB;
        g->spec.vcpus_max = g->spec.vcpus_at_startup = 1;
        g->spec.kernel = kernel;
        g->spec.ramdisk = ramdisk;
        g->spec.cmdline = g->cmdline;
        if (type == HV_TYPE_PVH) {
                /* QEMU's TCG emulates SVM without NRIPS (rdtscp exits loop) and runs AVX
                 * unreliably in nested guests: native TSC, no AVX. */
                g->platform[0] = (struct hv_kv){"tsc_mode", "2"};
                g->platform[1] = (struct hv_kv){"cpuid", "host,avx=0,avx2=0,fma=0,f16c=0"};
                g->spec.platform = (struct hv_map){g->platform, 2};
        }
}

static int guest_create(struct guest *g)
{
        int r = hv_domain_create(h, &g->spec, &g->domid, NULL);
        g->alive = r == 0;
        return r;
}

static void guest_destroy(struct guest *g)
{
        if (g->alive)
                hv_domain_destroy(h, g->domid);
        g->alive = false;
}

/* Occurrences of WHAT in the domain's console. */
static int console_count(uint32_t domid, const char *what)
{
        char *text = NULL;
        size_t len;
        if (hv_console_read(h, domid, &text, &len) < 0)
                return -1;
        int n = 0;
        for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
                n++;
        free(text);
        return n;
}

static bool wait_console(uint32_t domid, const char *what, int count, unsigned timeout_ms)
{
        uint64_t end = now_ms() + timeout_ms;
        do {
                if (console_count(domid, what) >= count)
                        return true;
                sleep_ms(200);
        } while (now_ms() < end);
        return false;
}

static char *console_line(uint32_t domid, const char *prefix)
{
        char *text = NULL;
        size_t len;
        if (hv_console_read(h, domid, &text, &len) < 0)
                return NULL;
        char *p = strstr(text, prefix), *res = NULL;
        if (p)
                res = strndup(p, strcspn(p, "\r\n"));
        free(text);
        return res;
}

/* What the watch reported last for the domain being waited for. */
struct seen {
        uint32_t domid;
        bool changed, gone;
        struct hv_domain_info info;
};

static void on_change(void *arg, uint32_t domid, const struct hv_domain_info *info)
{
        struct seen *s = arg;
        if (domid != s->domid)
                return;
        s->changed = true;
        s->gone = info == NULL;
        if (info)
                s->info = *info;
}

/* Waits through the watch fd until the domain is in STATE (and REASON, unless NONE). */
static bool wait_state(uint32_t domid, enum hv_domain_state state, enum hv_shutdown_reason reason,
                       unsigned timeout_ms, struct hv_domain_info *last)
{
        int fd = hv_watch_fd(h);
        if (fd < 0 || hv_watch_domain(h, domid) < 0)
                return false;
        struct seen s = {.domid = domid};
        uint64_t end = now_ms() + timeout_ms;
        bool ok = false;
        while (!ok && !s.gone && now_ms() < end) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                poll(&p, 1, 500);
                hv_poll_changes(h, on_change, &s);
                ok = s.changed && !s.gone && s.info.state == state &&
                     (reason == HV_SHUTDOWN_NONE || s.info.shutdown_reason == reason);
        }
        hv_unwatch_domain(h, domid);
        if (last)
                *last = s.info;
        return ok;
}

static void make_disk(const char *path, const char *tag)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        if (write(fd, tag, strlen(tag)) < 0 || ftruncate(fd, 16 * MiB) < 0)
                perror(path);
        close(fd);
}

static bool iface_exists(const char *ifname)
{
        char p[64];
        snprintf(p, sizeof(p), "/sys/class/net/%s", ifname);
        return access(p, F_OK) == 0;
}

/* ---- the cases ---- */

static void case_host(void)
{
        struct hv_host_info hi;
        int r = hv_host_info(h, &hi);
        report(r == 0 && !strcmp(hi.backend, "xc") && hi.nr_cpus > 0 && hi.total_memory > 0 &&
                   hi.free_memory > 0 && !strncmp(hi.hypervisor_version, "4.", 2),
               "host_info from xc_physinfo/xc_version", "r=%d backend=%s version=%s cpus=%u", r,
               hi.backend, hi.hypervisor_version, hi.nr_cpus);
}

static void case_errors(void)
{
        struct guest g;
        guest_init(&g, "bad-hvm", HV_TYPE_HVM, NULL);
        uint32_t d;
        int r = hv_domain_create(h, &g.spec, &d, NULL);
        report(r == -EOPNOTSUPP, "HVM refused (no device model)", "r=%d", r);
        guest_init(&g, "bad-mem", HV_TYPE_PV, NULL);
        g.spec.memory_static_max = g.spec.memory_dynamic_max = 64ULL << 30;
        struct hv_mem_shortage sh = {0, 0};
        r = hv_domain_create(h, &g.spec, &d, &sh);
        report(r == -ENOMEM && sh.needed >= (64ULL << 30) && sh.available < sh.needed,
               "too much memory: -ENOMEM with the shortage", "r=%d needed=%" PRIu64, r, sh.needed);
        struct hv_domain_info info;
        r = hv_domain_info(h, 31000, &info);
        report(r == -ESRCH, "no such domain: -ESRCH", "r=%d", r);
        guest_init(&g, "bad-kernel", HV_TYPE_PV, NULL);
        g.spec.kernel = "/nonexistent/vmlinuz";
        r = hv_domain_create(h, &g.spec, &d, NULL);
        report(r == -EINVAL && hv_domain_find(h, g.uuid, &d) == -ESRCH,
               "unreadable kernel: -EINVAL, nothing left behind", "r=%d", r);
}

/* The PV guest with a disk and a NIC that most cases use. */
static struct guest pv;
static char disk_path[512];

static bool attach_devices(struct guest *g, char ifname[16])
{
        struct hv_disk disk = {.vdev = "xvda", .backend_path = disk_path};
        struct hv_nic nic = {.devid = 0, .mac = "00:16:3e:5a:0e:01", .bridge = "xenbr0"};
        int r1 = hv_disk_attach(h, g->domid, &disk);
        int r2 = hv_nic_attach(h, g->domid, &nic, ifname);
        if (r1 || r2)
                printf("# disk_attach=%d nic_attach=%d\n", r1, r2);
        return r1 == 0 && r2 == 0;
}

/* The guest's xenstore tree as the backend wrote it. */
static void check_xenstore_tree(const struct guest *g)
{
#ifdef HAVE_XEN
        struct xs_handle *xs = xs_open(0);
        char path[128];
        unsigned len = 0, nperms = 0;
        snprintf(path, sizeof(path), "/local/domain/%" PRIu32 "/vm-data/tsmarker", g->domid);
        char *v = xs ? xs_read(xs, XBT_NULL, path, &len) : NULL;
        snprintf(path, sizeof(path), "/local/domain/%" PRIu32 "/other", g->domid);
        char *other = xs ? xs_read(xs, XBT_NULL, path, &len) : NULL;
        snprintf(path, sizeof(path), "/local/domain/%" PRIu32 "/control", g->domid);
        struct xs_permissions *perms = xs ? xs_get_permissions(xs, XBT_NULL, path, &nperms) : NULL;
        snprintf(path, sizeof(path), "/vm/%s/name", g->uuid);
        char *name = xs ? xs_read(xs, XBT_NULL, path, &len) : NULL;
        report(v && !strcmp(v, "hello") && !other && perms && nperms >= 1 &&
                   perms[0].id == g->domid && name && !strcmp(name, g->name),
               "xenstore: vm-data from xenstore_data, guest-owned control/, /vm/<uuid>",
               "vm-data=%s other=%s control owner=%d vm name=%s", v ? v : "(none)",
               other ? other : "(none)", perms ? (int)perms[0].id : -1, name ? name : "(none)");
        free(v);
        free(other);
        free(perms);
        free(name);
        if (xs)
                xs_close(xs);
#else
        skip("xenstore tree", "built without libxenstore");
#endif
}

static bool case_pv_boot(void)
{
        guest_init(&pv, "hvpv", HV_TYPE_PV, "guest_wait_devices=1");
        pv.xsdata[0] = (struct hv_kv){"vm-data/tsmarker", "hello"};
        pv.xsdata[1] = (struct hv_kv){"other/x", "not written"};
        pv.spec.xenstore_data = (struct hv_map){pv.xsdata, 2};
        snprintf(disk_path, sizeof(disk_path), "%s/disk.img", workdir);
        make_disk(disk_path, "DISKDATA-hvdrive");
        int r = guest_create(&pv);
        struct hv_domain_info info = {0};
        if (r == 0)
                hv_domain_info(h, pv.domid, &info);
        if (!report(r == 0 && info.state == HV_STATE_PAUSED && !strcmp(info.uuid, pv.uuid) &&
                        !strcmp(info.name, "hvpv") && info.type == HV_TYPE_PV &&
                        info.memory_target == 128 * MiB && info.vcpus_max == 1,
                    "PV domain built, paused, described", "r=%d state=%s name=%s target=%" PRIu64,
                    r, hv_domain_state_name(info.state), info.name, info.memory_target))
                return false;
        check_xenstore_tree(&pv);
        char ifname[16] = "";
        bool devs = attach_devices(&pv, ifname);
        char want[16];
        snprintf(want, sizeof(want), "vif%" PRIu32 ".0", pv.domid);
        bool iface = false;
        for (int i = 0; i < 50 && !(iface = iface_exists(want)); i++)
                sleep_ms(100);
        hv_domain_info(h, pv.domid, &info);
        struct hv_disk disk = {.vdev = "xvda", .backend_path = disk_path};
        report(devs && !strcmp(ifname, want) && iface && info.n_disks == 1 && info.n_nics == 1 &&
                   hv_disk_attach(h, pv.domid, &disk) == -EEXIST,
               "disk (blkback via loop) and NIC (netback) attached; vif in dom0",
               "devs=%d ifname=%s iface=%d disks=%u nics=%u", devs, ifname, iface, info.n_disks,
               info.n_nics);
        uint64_t t0 = now_ms();
        r = hv_domain_unpause(h, pv.domid);
        bool up = r == 0 && wait_console(pv.domid, "GUEST-MARKER", 1, 120000);
        report(up, "PV guest boots: its console marker seen", "r=%d after %" PRIu64 " ms", r,
               now_ms() - t0);
        if (!up)
                return false;
        wait_console(pv.domid, "GUEST-HEARTBEAT", 1, 30000);
        char *dl = console_line(pv.domid, "GUEST-DISK");
        char *nl = console_line(pv.domid, "GUEST-NET");
        report(dl && strstr(dl, "DISKDATA-hvdrive") && nl && strstr(nl, "00:16:3e:5a:0e:01"),
               "the guest sees its disk's data and its NIC's MAC", "disk=%s net=%s",
               dl ? dl : "(none)", nl ? nl : "(none)");
        free(dl);
        free(nl);
        uint32_t found = 0;
        r = hv_domain_find(h, pv.uuid, &found);
        report(r == 0 && found == pv.domid, "domain_find by VM uuid", "r=%d found=%" PRIu32, r,
               found);
        return true;
}

static void case_pause(void)
{
        int r = hv_domain_pause(h, pv.domid);
        struct hv_domain_info info;
        hv_domain_info(h, pv.domid, &info);
        int before = console_count(pv.domid, "GUEST-HEARTBEAT");
        sleep_ms(3000);
        int during = console_count(pv.domid, "GUEST-HEARTBEAT");
        bool paused = r == 0 && info.state == HV_STATE_PAUSED && during == before;
        r = hv_domain_unpause(h, pv.domid);
        bool resumed = r == 0 && wait_console(pv.domid, "GUEST-HEARTBEAT", during + 2, 20000);
        report(paused && resumed, "pause stops the guest, unpause lets it run on",
               "state=%s heartbeats %d -> %d, resumed=%d", hv_domain_state_name(info.state), before,
               during, resumed);
}

static void case_memory_vcpus(void)
{
        int r = hv_set_memory_target(h, pv.domid, 96 * MiB, NULL);
        struct hv_domain_info info = {0};
        bool shrunk = false;
        for (int i = 0; r == 0 && i < 100 && !shrunk; i++) {
                hv_domain_info(h, pv.domid, &info);
                shrunk = info.memory_target == 96 * MiB && info.memory_actual <= 100 * MiB;
                if (!shrunk)
                        sleep_ms(200);
        }
        int big = hv_set_memory_target(h, pv.domid, 256 * MiB, NULL);
        report(shrunk && big == -EINVAL,
               "memory target: the balloon follows; above static max refused",
               "r=%d target=%" PRIu64 " actual=%" PRIu64 " above=%d", r, info.memory_target,
               info.memory_actual, big);
        hv_set_memory_target(h, pv.domid, 128 * MiB, NULL);
        int v0 = hv_set_vcpus_online(h, pv.domid, 0);
        int v2 = hv_set_vcpus_online(h, pv.domid, 2);
        int v1 = hv_set_vcpus_online(h, pv.domid, 1);
        report(v0 == -EINVAL && v2 == -EINVAL && v1 == 0, "vcpus online within 1..vcpus_max",
               "0:%d 2:%d 1:%d", v0, v2, v1);
}

/* A second disk plugged into the running guest and unplugged again. */
static void case_hotplug(void)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/disk2.img", workdir);
        make_disk(path, "SECOND");
        struct hv_disk disk = {.vdev = "xvdb", .backend_path = path, .read_only = true};
        int a = hv_disk_attach(h, pv.domid, &disk);
        struct hv_domain_info info = {0};
        hv_domain_info(h, pv.domid, &info);
        unsigned with = info.n_disks;
        sleep_ms(1000); /* let blkfront connect, so the unplug is a real one */
        int d = hv_disk_detach(h, pv.domid, "xvdb");
        hv_domain_info(h, pv.domid, &info);
        int again = hv_disk_detach(h, pv.domid, "xvdb");
        int nic = hv_nic_detach(h, pv.domid, 7);
        bool alive = wait_console(pv.domid, "GUEST-HEARTBEAT",
                                  console_count(pv.domid, "GUEST-HEARTBEAT") + 1, 20000);
        report(a == 0 && with == 2 && d == 0 && info.n_disks == 1 && again == -ENOENT &&
                   nic == -ENOENT && alive,
               "disk hot-plug and unplug on a running guest",
               "attach=%d disks=%u detach=%d then %u, again=%d nic=%d alive=%d", a, with, d,
               info.n_disks, again, nic, alive);
        unlink(path);
}

static void case_suspend_resume(void)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/checkpoint.img", workdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        uint64_t t0 = now_ms();
        int r = hv_domain_suspend(h, pv.domid, fd, 30000);
        uint64_t t1 = now_ms();
        close(fd);
        struct hv_domain_info info = {0};
        hv_domain_info(h, pv.domid, &info);
        struct stat st = {0};
        stat(path, &st);
        report(r == 0 && info.state == HV_STATE_SHUTDOWN &&
                   info.shutdown_reason == HV_SHUTDOWN_SUSPEND && st.st_size > (off_t)(32 * MiB),
               "suspend writes the image; the domain is shutdown(suspend)",
               "r=%d state=%s reason=%s size=%lld in %" PRIu64 " ms", r,
               hv_domain_state_name(info.state), hv_shutdown_reason_name(info.shutdown_reason),
               (long long)st.st_size, t1 - t0);
        unlink(path);
        int beats = console_count(pv.domid, "GUEST-HEARTBEAT");
        r = hv_domain_resume(h, pv.domid);
        hv_domain_info(h, pv.domid, &info);
        report(r == 0 && info.state == HV_STATE_RUNNING &&
                   wait_console(pv.domid, "GUEST-HEARTBEAT", beats + 2, 30000),
               "resume: the same domain runs on", "r=%d state=%s", r,
               hv_domain_state_name(info.state));
}

static void case_save_restore(void)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/save.img", workdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int r = hv_domain_suspend(h, pv.domid, fd, 30000);
        close(fd);
        int beats = console_count(pv.domid, "GUEST-HEARTBEAT");
        uint32_t old = pv.domid;
        guest_destroy(&pv);
        struct hv_domain_info info;
        bool gone = false;
        for (int i = 0; i < 50 && !gone; i++, sleep_ms(100))
                gone = hv_domain_info(h, old, &info) == -ESRCH;

        /* An image that is not this VM's, or is cut short, is refused. */
        struct guest other;
        guest_init(&other, "other", HV_TYPE_PV, NULL);
        uint32_t d;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        int wrong = hv_domain_restore(h, &other.spec, fd, &d, NULL);
        close(fd);
        char cut[620];
        snprintf(cut, sizeof(cut), "%s.cut", path);
        int in = open(path, O_RDONLY | O_CLOEXEC);
        int out = open(cut, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        static char buf[1 << 20];
        ssize_t n = read(in, buf, sizeof(buf));
        if (n > 0 && write(out, buf, (size_t)n) < 0)
                n = -1;
        close(in);
        close(out);
        fd = open(cut, O_RDONLY | O_CLOEXEC);
        int trunc = hv_domain_restore(h, &pv.spec, fd, &d, NULL);
        close(fd);
        unlink(cut);
        bool none_left = hv_domain_find(h, pv.uuid, &d) == -ESRCH;
        report(r == 0 && gone && wrong == -EINVAL && trunc == -EBADMSG && none_left,
               "save to a file; foreign or truncated images refused",
               "save=%d gone=%d foreign=%d truncated=%d none_left=%d", r, gone, wrong, trunc,
               none_left);

        fd = open(path, O_RDONLY | O_CLOEXEC);
        uint64_t t0 = now_ms();
        r = hv_domain_restore(h, &pv.spec, fd, &pv.domid, NULL);
        uint64_t t1 = now_ms();
        close(fd);
        pv.alive = r == 0;
        info.state = HV_STATE_DYING;
        if (r == 0)
                hv_domain_info(h, pv.domid, &info);
        char ifname[16] = "";
        bool devs = r == 0 && attach_devices(&pv, ifname);
        bool paused = info.state == HV_STATE_PAUSED;
        if (r == 0)
                hv_domain_unpause(h, pv.domid);
        bool runs = r == 0 && wait_console(pv.domid, "GUEST-HEARTBEAT", beats + 2, 60000);
        report(r == 0 && paused && devs && runs && pv.domid != old,
               "restore: a new paused domain that runs on from the image",
               "r=%d paused=%d devs=%d runs=%d in %" PRIu64 " ms", r, paused, devs, runs, t1 - t0);
        unlink(path);
}

static void case_poweroff(void)
{
        int r = hv_domain_shutdown(h, pv.domid, HV_SHUTDOWN_POWEROFF);
        struct hv_domain_info info = {0};
        bool acked = false;
        for (int i = 0; r == 0 && i < 100 && !acked; i++) {
                hv_domain_info(h, pv.domid, &info);
                acked = (info.pending_request == HV_SHUTDOWN_POWEROFF && info.request_acked) ||
                        info.state == HV_STATE_SHUTDOWN;
                if (!acked)
                        sleep_ms(50);
        }
        bool down = wait_state(pv.domid, HV_STATE_SHUTDOWN, HV_SHUTDOWN_POWEROFF, 60000, &info);
        report(r == 0 && acked && down && console_count(pv.domid, "GUEST-POWEROFF-REQUEST") >= 1,
               "clean shutdown: acknowledged, then shutdown(poweroff) seen by the watch",
               "r=%d acked=%d state=%s reason=%s", r, acked, hv_domain_state_name(info.state),
               hv_shutdown_reason_name(info.shutdown_reason));
        char want[16];
        snprintf(want, sizeof(want), "vif%" PRIu32 ".0", pv.domid);
        uint32_t domid = pv.domid;
        guest_destroy(&pv);
        bool gone = false;
        for (int i = 0; i < 100 && !gone; i++, sleep_ms(100))
                gone = hv_domain_info(h, domid, &info) == -ESRCH && !iface_exists(want);
        report(gone, "destroy releases the domain and its vif", "domain or %s still there", want);
}

/* Three guests at once: a reboot request, a crash, a hard shutdown of a running guest. */
static void case_reboot_crash_destroy(void)
{
        struct guest rb, cr, hd;
        guest_init(&rb, "hvreboot", HV_TYPE_PV, NULL);
        guest_init(&cr, "hvcrash", HV_TYPE_PV, "guest_crash=1");
        guest_init(&hd, "hvdestroy", HV_TYPE_PV, NULL);
        int r1 = guest_create(&rb), r2 = guest_create(&cr), r3 = guest_create(&hd);
        if (r1 || r2 || r3) {
                report(false, "three more PV guests built", "%d %d %d", r1, r2, r3);
                guest_destroy(&rb);
                guest_destroy(&cr);
                guest_destroy(&hd);
                return;
        }
        hv_domain_unpause(h, rb.domid);
        hv_domain_unpause(h, cr.domid);
        hv_domain_unpause(h, hd.domid);
        struct hv_domain_info info = {0};
        bool up = wait_console(rb.domid, "GUEST-HEARTBEAT", 1, 120000);
        int r = up ? hv_domain_shutdown(h, rb.domid, HV_SHUTDOWN_REBOOT) : -1;
        bool ok =
            r == 0 && wait_state(rb.domid, HV_STATE_SHUTDOWN, HV_SHUTDOWN_REBOOT, 60000, &info);
        report(ok && console_count(rb.domid, "GUEST-REBOOT-REQUEST") >= 1,
               "clean reboot: shutdown(reboot)", "up=%d r=%d state=%s reason=%s", up, r,
               hv_domain_state_name(info.state), hv_shutdown_reason_name(info.shutdown_reason));
        ok = wait_state(cr.domid, HV_STATE_SHUTDOWN, HV_SHUTDOWN_CRASH, 120000, &info);
        report(ok && console_count(cr.domid, "GUEST-CRASHING") >= 1, "guest crash: shutdown(crash)",
               "state=%s reason=%s", hv_domain_state_name(info.state),
               hv_shutdown_reason_name(info.shutdown_reason));
        up = wait_console(hd.domid, "GUEST-HEARTBEAT", 1, 120000);
        r = hv_domain_destroy(h, hd.domid);
        hd.alive = false;
        bool gone = false;
        for (int i = 0; i < 100 && !gone; i++, sleep_ms(100))
                gone = hv_domain_info(h, hd.domid, &info) == -ESRCH;
        report(up && r == 0 && gone, "hard shutdown: destroy a running guest", "up=%d r=%d gone=%d",
               up, r, gone);
        guest_destroy(&rb);
        guest_destroy(&cr);
}

static void case_pvh(void)
{
        struct guest g;
        guest_init(&g, "hvpvh", HV_TYPE_PVH, getenv("HV_DRIVE_PVH_EXTRA"));
        int r = guest_create(&g);
        struct hv_domain_info info = {0};
        if (r == 0)
                hv_domain_info(h, g.domid, &info);
        bool up = r == 0 && info.type == HV_TYPE_PVH && hv_domain_unpause(h, g.domid) == 0 &&
                  wait_console(g.domid, "GUEST-HEARTBEAT", 1, 120000);
        report(up, "PVH guest boots: its console marker seen", "r=%d type=%s", r,
               hv_domain_type_name(info.type));
        if (up) {
                /* A reboot request: the backend's minimal ACPI tables offer no S5 sleep
                 * state, so a PVH guest cannot power itself off, but its reset reaches Xen
                 * as shutdown(reboot). */
                r = hv_domain_shutdown(h, g.domid, HV_SHUTDOWN_REBOOT);
                report(r == 0 &&
                           wait_state(g.domid, HV_STATE_SHUTDOWN, HV_SHUTDOWN_REBOOT, 60000, &info),
                       "PVH clean reboot", "r=%d state=%s reason=%s", r,
                       hv_domain_state_name(info.state),
                       hv_shutdown_reason_name(info.shutdown_reason));
        }
        guest_destroy(&g);
}

/* Timings for bench/xen_*: the same guest as `xl create` would build (no devices). */
static int bench_round(int round)
{
        struct guest g;
        char name[32];
        snprintf(name, sizeof(name), "benchhv%d", round);
        guest_init(&g, name, HV_TYPE_PV, NULL);
        uint64_t t0 = now_ms();
        int r = guest_create(&g);
        if (r == 0)
                r = hv_domain_unpause(h, g.domid);
        uint64_t t1 = now_ms();
        if (r < 0 || !wait_console(g.domid, "GUEST-HEARTBEAT", 2, 120000)) {
                fprintf(stderr, "bench guest did not come up (%d)\n", r);
                guest_destroy(&g);
                return 1;
        }
        printf("BENCH hv_create_start_ms %" PRIu64 "\n", t1 - t0);
        char path[600];
        snprintf(path, sizeof(path), "%s/bench.img", workdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        t0 = now_ms();
        r = hv_domain_suspend(h, g.domid, fd, 30000);
        t1 = now_ms();
        close(fd);
        guest_destroy(&g);
        if (r < 0)
                return 1;
        printf("BENCH hv_save_ms %" PRIu64 "\n", t1 - t0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        t0 = now_ms();
        r = hv_domain_restore(h, &g.spec, fd, &g.domid, NULL);
        if (r == 0)
                r = hv_domain_unpause(h, g.domid);
        t1 = now_ms();
        close(fd);
        unlink(path);
        g.alive = r == 0;
        if (r < 0)
                return 1;
        bool runs = wait_console(g.domid, "GUEST-HEARTBEAT", 3, 60000);
        printf("BENCH hv_restore_ms %" PRIu64 "%s\n", t1 - t0, runs ? "" : " (did not run on)");
        fflush(stdout);
        guest_destroy(&g);
        return runs ? 0 : 1;
}

static int bench(int rounds)
{
        int r = 0;
        for (int i = 0; i < rounds && r == 0; i++)
                r = bench_round(i);
        return r;
}

int main(int argc, char **argv)
{
        const char *backend = "xc";
        bool do_bench = false;
        static const struct option opts[] = {{"kernel", 1, NULL, 'k'}, {"ramdisk", 1, NULL, 'r'},
                                             {"dir", 1, NULL, 'd'},    {"backend", 1, NULL, 'b'},
                                             {"bench", 0, NULL, 'B'},  {NULL, 0, NULL, 0}};
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'k':
                        kernel = optarg;
                        break;
                case 'r':
                        ramdisk = optarg;
                        break;
                case 'd':
                        workdir = optarg;
                        break;
                case 'b':
                        backend = optarg;
                        break;
                case 'B':
                        do_bench = true;
                        break;
                default:
                        return 2;
                }
        }
        if (!kernel || !ramdisk || !workdir) {
                fprintf(stderr, "usage: %s --kernel K --ramdisk R --dir WORKDIR [--bench]\n",
                        argv[0]);
                return 2;
        }
        mkdir(workdir, 0700);
        struct hv_config cfg = {.backend = backend, .run_dir = workdir};
        int r = hv_open(&cfg, &h);
        if (r < 0) {
                printf("1..1\nnot ok 1 - open the %s backend # %s\n", backend, strerror(-r));
                return 1;
        }
        if (do_bench) {
                r = bench(2);
                hv_close(h);
                return r;
        }
        if (getenv("HV_DRIVE_ONLY_PVH")) { /* for debugging PVH boots */
                case_pvh();
                printf("1..%d\n", n_case);
                hv_close(h);
                return n_failed ? 1 : 0;
        }
        case_host();
        case_errors();
        if (case_pv_boot()) {
                case_pause();
                case_memory_vcpus();
                case_hotplug();
                case_suspend_resume();
                case_save_restore();
                if (pv.alive)
                        case_poweroff();
        } else {
                skip("the PV guest's lifecycle", "the PV guest did not boot");
        }
        guest_destroy(&pv);
        case_reboot_crash_destroy();
        case_pvh();
        printf("1..%d\n", n_case);
        hv_close(h);
        return n_failed ? 1 : 0;
}
