/* Unit tests of the hypervisor interface on the simulated backend (domd/hv*.c). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "domd/hv.h"

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

struct fx {
        char dir[256];
        struct hv_config cfg;
        struct hv *h;
};

static int setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/test_hv_sim.XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        f->cfg = (struct hv_config){.backend = "sim", .run_dir = f->dir};
        if (hv_open(&f->cfg, &f->h) < 0)
                return -1;
        *state = f;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static int teardown(void **state)
{
        struct fx *f = *state;
        hv_close(f->h);
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

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

/* A spec with other_config pairs given as "k", "v", …, NULL. */
struct spec_buf {
        struct hv_domain_spec spec;
        struct hv_kv oc[8];
};

static void make_spec(struct spec_buf *b, uint64_t mem, ...)
{
        memset(b, 0, sizeof(*b));
        uuid_generate_str(b->spec.uuid);
        b->spec.name = "vm-test";
        b->spec.type = HV_TYPE_PV;
        b->spec.memory_static_max = mem;
        b->spec.memory_dynamic_min = mem / 2;
        b->spec.memory_dynamic_max = mem;
        b->spec.vcpus_max = 4;
        b->spec.vcpus_at_startup = 2;
        b->spec.kernel = "/boot/vmlinuz";
        b->spec.cmdline = "root=/dev/xvda1 ro";
        va_list ap;
        va_start(ap, mem);
        size_t n = 0;
        const char *k;
        while ((k = va_arg(ap, const char *)) && n < 8) {
                b->oc[n].key = k;
                b->oc[n].value = va_arg(ap, const char *);
                n++;
        }
        va_end(ap);
        b->spec.other_config = (struct hv_map){b->oc, n};
}

static uint32_t create(struct hv *h, struct spec_buf *b)
{
        uint32_t domid = 0;
        assert_int_equal(hv_domain_create(h, &b->spec, &domid, NULL), 0);
        assert_true(domid >= 1);
        return domid;
}

static struct hv_domain_info info_of(struct hv *h, uint32_t domid)
{
        struct hv_domain_info i;
        assert_int_equal(hv_domain_info(h, domid, &i), 0);
        return i;
}

/* Polls until the domain reaches STATE, at most 3 s; returns the elapsed ms. */
static uint64_t wait_state(struct hv *h, uint32_t domid, enum hv_domain_state state)
{
        uint64_t t0 = now_ms();
        while (info_of(h, domid).state != state) {
                assert_true(now_ms() - t0 < 3000);
                sleep_ms(2);
        }
        return now_ms() - t0;
}

static void unique_domids_two_handles(void **state)
{
        struct fx *f = *state;
        struct hv *h2;
        assert_int_equal(hv_open(&f->cfg, &h2), 0);
        uint32_t ids[40];
        struct spec_buf b;
        for (int i = 0; i < 40; i++) {
                make_spec(&b, 64 * MiB, NULL);
                ids[i] = create(i % 2 ? h2 : f->h, &b);
                for (int j = 0; j < i; j++)
                        assert_int_not_equal(ids[i], ids[j]);
        }
        /* Another process allocating at the same time (a second domd). */
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct hv *hc;
                if (hv_open(&f->cfg, &hc) < 0)
                        _exit(1);
                for (int i = 0; i < 50; i++) {
                        struct spec_buf cb;
                        uint32_t id;
                        make_spec(&cb, 16 * MiB, NULL);
                        if (hv_domain_create(hc, &cb.spec, &id, NULL) < 0 ||
                            write(pfd[1], &id, sizeof(id)) != sizeof(id))
                                _exit(1);
                }
                _exit(0);
        }
        close(pfd[1]);
        uint32_t mine[50], theirs[50];
        for (int i = 0; i < 50; i++) {
                make_spec(&b, 16 * MiB, NULL);
                mine[i] = create(h2, &b);
        }
        for (int i = 0; i < 50; i++)
                assert_int_equal(read(pfd[0], &theirs[i], sizeof(theirs[i])), sizeof(theirs[i]));
        close(pfd[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (int i = 0; i < 50; i++)
                for (int j = 0; j < 50; j++)
                        assert_int_not_equal(mine[i], theirs[j]);

        struct hv_domain_info *all;
        size_t n;
        assert_int_equal(hv_domain_list(f->h, &all, &n), 0);
        assert_int_equal(n, 140);
        free(all);

        assert_int_equal(hv_domain_destroy(f->h, ids[1]), 0); /* built by the other handle */
        struct hv_domain_info i;
        assert_int_equal(hv_domain_info(h2, ids[1], &i), -ESRCH);
        assert_int_equal(hv_domain_destroy(h2, ids[1]), -ESRCH);
        hv_close(h2);
}

static void memory_accounting(void **state)
{
        struct fx *f = *state;
        struct hv_config cfg = f->cfg;
        cfg.sim_total_memory = 4 * GiB;
        cfg.sim_dom0_memory = 1 * GiB;
        struct hv *h;
        assert_int_equal(hv_open(&cfg, &h), 0);
        struct hv_host_info hi;
        assert_int_equal(hv_host_info(h, &hi), 0);
        assert_int_equal(hi.total_memory, 4 * GiB);
        assert_int_equal(hi.free_memory, 3 * GiB);
        assert_string_equal(hi.backend, "sim");
        assert_true(hi.nr_cpus >= 1);

        struct spec_buf a, b;
        make_spec(&a, 2 * GiB, NULL);
        uint32_t da = create(h, &a);
        assert_int_equal(hv_host_info(f->h, &hi), 0); /* seen from the other handle too */
        assert_int_equal(hi.free_memory, 1 * GiB);

        make_spec(&b, 2 * GiB, NULL);
        uint32_t db = 0;
        struct hv_mem_shortage sh = {0};
        assert_int_equal(hv_domain_create(h, &b.spec, &db, &sh), -ENOMEM);
        assert_int_equal(sh.needed, 2 * GiB);
        assert_int_equal(sh.available, 1 * GiB);
        uint32_t found;
        assert_int_equal(hv_domain_find(h, b.spec.uuid, &found), -ESRCH);

        /* Ballooning down returns memory; growing past free memory fails. */
        assert_int_equal(hv_set_memory_target(h, da, 1 * GiB, NULL), 0);
        assert_int_equal(info_of(h, da).memory_actual, 1 * GiB);
        assert_int_equal(hv_host_info(h, &hi), 0);
        assert_int_equal(hi.free_memory, 2 * GiB);
        assert_int_equal(hv_set_memory_target(h, da, 3 * GiB, &sh), -EINVAL); /* > static max */
        make_spec(&b, 1536 * MiB, NULL);
        db = create(h, &b);
        memset(&sh, 0, sizeof(sh));
        assert_int_equal(hv_set_memory_target(h, da, 2 * GiB, &sh), -ENOMEM);
        assert_int_equal(sh.needed, 1 * GiB);
        assert_int_equal(sh.available, 512 * MiB);

        /* The same uuid cannot have two domains. */
        uint32_t dup;
        assert_int_equal(hv_domain_create(h, &b.spec, &dup, NULL), -EEXIST);

        assert_int_equal(hv_domain_destroy(h, da), 0);
        assert_int_equal(hv_domain_destroy(h, db), 0);
        assert_int_equal(hv_host_info(h, &hi), 0);
        assert_int_equal(hi.free_memory, 3 * GiB);
        hv_close(h);
}

static void bad_specs(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        uint32_t id;
        make_spec(&b, 64 * MiB, NULL);
        b.spec.vcpus_at_startup = 5;
        assert_int_equal(hv_domain_create(f->h, &b.spec, &id, NULL), -EINVAL);
        make_spec(&b, 64 * MiB, NULL);
        b.spec.memory_static_max = 32 * MiB;
        assert_int_equal(hv_domain_create(f->h, &b.spec, &id, NULL), -EINVAL);
        make_spec(&b, 64 * MiB, "sim_crash_after_ms", "soon", NULL);
        assert_int_equal(hv_domain_create(f->h, &b.spec, &id, NULL), -EINVAL);
        make_spec(&b, 64 * MiB, "sim_shutdown", "maybe", NULL);
        assert_int_equal(hv_domain_create(f->h, &b.spec, &id, NULL), -EINVAL);
        make_spec(&b, 64 * MiB, NULL);
        strcpy(b.spec.uuid, "not-a-uuid");
        assert_int_equal(hv_domain_create(f->h, &b.spec, &id, NULL), -EINVAL);
}

static void pause_unpause_console(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 256 * MiB, "sim_boot_ms", "10", NULL);
        uint32_t d = create(f->h, &b);
        struct hv_domain_info i = info_of(f->h, d);
        assert_int_equal(i.state, HV_STATE_PAUSED);
        assert_int_equal(i.vcpus_online, 2);
        assert_int_equal(i.memory_actual, 256 * MiB);
        assert_string_equal(i.uuid, b.spec.uuid);
        assert_string_equal(i.name, "vm-test");
        assert_true(i.start_time_ms > 1600000000000LL);
        char *text;
        size_t len;
        assert_int_equal(hv_console_read(f->h, d, &text, &len), 0);
        assert_int_equal(len, 0); /* nothing before it runs */
        free(text);

        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        assert_int_equal(info_of(f->h, d).state, HV_STATE_RUNNING);
        assert_int_equal(hv_console_read(f->h, d, &text, &len), 0);
        assert_non_null(strstr(text, "Linux version"));
        assert_non_null(strstr(text, "(simulated)"));
        assert_non_null(strstr(text, "root=/dev/xvda1 ro"));
        assert_non_null(strstr(text, "vm-test login:"));
        assert_int_equal(strlen(text), len);
        free(text);
        sleep_ms(15);
        i = info_of(f->h, d);
        assert_true(i.booted);
        assert_true(i.cpu_time_ns >= 2 * 10 * 1000000ULL);

        assert_int_equal(hv_domain_pause(f->h, d), 0);
        i = info_of(f->h, d);
        assert_int_equal(i.state, HV_STATE_PAUSED);
        uint64_t cpu = i.cpu_time_ns;
        sleep_ms(10);
        assert_int_equal(info_of(f->h, d).cpu_time_ns, cpu); /* a paused guest uses no CPU */

        assert_int_equal(hv_set_vcpus_online(f->h, d, 4), 0);
        assert_int_equal(info_of(f->h, d).vcpus_online, 4);
        assert_int_equal(hv_set_vcpus_online(f->h, d, 5), -EINVAL);
        assert_int_equal(hv_set_vcpus_online(f->h, d, 0), -EINVAL);
        assert_int_equal(hv_domain_pause(f->h, 4000), -ESRCH);
        assert_int_equal(hv_console_read(f->h, 4000, &text, &len), -ESRCH);
}

static void clean_shutdown_acknowledged(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "40", "sim_halt_ms", "30", NULL);
        uint32_t d = create(f->h, &b);
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        uint64_t t0 = now_ms();
        assert_int_equal(hv_domain_shutdown(f->h, d, HV_SHUTDOWN_POWEROFF), 0);
        struct hv_domain_info i = info_of(f->h, d);
        if (now_ms() - t0 < 40) {
                assert_int_equal(i.state, HV_STATE_RUNNING);
                assert_int_equal(i.pending_request, HV_SHUTDOWN_POWEROFF);
                assert_false(i.request_acked);
        }
        while (!(i = info_of(f->h, d)).request_acked && i.state == HV_STATE_RUNNING) {
                assert_true(now_ms() - t0 < 3000);
                sleep_ms(2);
        }
        assert_true(now_ms() - t0 >= 40);
        wait_state(f->h, d, HV_STATE_SHUTDOWN);
        assert_true(now_ms() - t0 >= 70);
        i = info_of(f->h, d);
        assert_int_equal(i.shutdown_reason, HV_SHUTDOWN_POWEROFF);
        assert_int_equal(i.pending_request, HV_SHUTDOWN_NONE);
        /* The state is final: unpausing a shut-down domain does nothing. */
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        assert_int_equal(info_of(f->h, d).state, HV_STATE_SHUTDOWN);
        char *text;
        size_t len;
        assert_int_equal(hv_console_read(f->h, d, &text, &len), 0);
        assert_non_null(strstr(text, "reboot: Power down"));
        free(text);
        assert_int_equal(hv_domain_shutdown(f->h, d, HV_SHUTDOWN_CRASH), -EINVAL);
}

static void shutdown_ignored(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "5", "sim_halt_ms", "5",
                  "sim_shutdown", "ignore", NULL);
        uint32_t d = create(f->h, &b);
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        assert_int_equal(hv_domain_shutdown(f->h, d, HV_SHUTDOWN_REBOOT), 0);
        sleep_ms(60);
        struct hv_domain_info i = info_of(f->h, d);
        assert_int_equal(i.state, HV_STATE_RUNNING);
        assert_int_equal(i.pending_request, HV_SHUTDOWN_REBOOT);
        assert_false(i.request_acked);

        /* A suspend times out and the request is withdrawn. */
        char path[512];
        snprintf(path, sizeof(path), "%s/img", f->dir);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        uint64_t t0 = now_ms();
        assert_int_equal(hv_domain_suspend(f->h, d, fd, 50), -ETIMEDOUT);
        assert_true(now_ms() - t0 >= 50);
        close(fd);
        i = info_of(f->h, d);
        assert_int_equal(i.state, HV_STATE_RUNNING);
        assert_int_equal(i.pending_request, HV_SHUTDOWN_NONE);
}

static void on_change(void *arg, uint32_t domid, const struct hv_domain_info *info)
{
        struct hv_domain_info *last = arg;
        if (info)
                *last = *info;
        else
                last->state = HV_STATE_DYING; /* marks "gone" for the test */
}

/* Runs an event loop on the watch fd until the last reported state is WANT. */
static unsigned watch_until(struct hv *h, struct hv_domain_info *last, enum hv_domain_state want)
{
        int fd = hv_watch_fd(h);
        assert_true(fd >= 0);
        unsigned wakeups = 0;
        uint64_t t0 = now_ms();
        while (last->state != want) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, 3000);
                assert_int_equal(r, 1);
                assert_true(now_ms() - t0 < 3000);
                wakeups++;
                assert_int_equal(hv_poll_changes(h, on_change, last), 0);
        }
        return wakeups;
}

static void crash_seen_by_watch(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, "sim_boot_ms", "5", "sim_crash_after_ms", "40", NULL);
        uint32_t d = create(f->h, &b);
        struct hv_domain_info last = {.state = HV_STATE_DYING};
        assert_int_equal(hv_watch_domain(f->h, d), 0);
        watch_until(f->h, &last, HV_STATE_PAUSED); /* reported once right after watching */
        assert_int_equal(last.domid, d);

        /* A watcher in another handle (another process) sees the unpause through the file. */
        struct hv *h2;
        assert_int_equal(hv_open(&f->cfg, &h2), 0);
        uint64_t t0 = now_ms(); /* before: the guest's clock starts inside unpause */
        assert_int_equal(hv_domain_unpause(h2, d), 0);
        watch_until(f->h, &last, HV_STATE_RUNNING);
        /* The crash is a computed event: the timer wakes the loop, no busy polling. */
        unsigned wakeups = watch_until(f->h, &last, HV_STATE_SHUTDOWN);
        assert_true(now_ms() - t0 >= 40);
        assert_true(wakeups <= 4);
        assert_int_equal(last.shutdown_reason, HV_SHUTDOWN_CRASH);

        assert_int_equal(hv_domain_destroy(h2, d), 0);
        watch_until(f->h, &last, HV_STATE_DYING);
        assert_int_equal(hv_unwatch_domain(f->h, d), -ENOENT); /* dropped when gone */
        hv_close(h2);
}

static void reboot_self_and_requested(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, "sim_boot_ms", "0", "sim_reboot_after_ms", "20", NULL);
        uint32_t d = create(f->h, &b);
        uint64_t t0 = now_ms();
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        wait_state(f->h, d, HV_STATE_SHUTDOWN);
        assert_true(now_ms() - t0 >= 20);
        assert_int_equal(info_of(f->h, d).shutdown_reason, HV_SHUTDOWN_REBOOT);

        make_spec(&b, 64 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "5", "sim_halt_ms", "5", NULL);
        d = create(f->h, &b);
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        assert_int_equal(hv_domain_shutdown(f->h, d, HV_SHUTDOWN_REBOOT), 0);
        wait_state(f->h, d, HV_STATE_SHUTDOWN);
        assert_int_equal(info_of(f->h, d).shutdown_reason, HV_SHUTDOWN_REBOOT);
}

static void pause_freezes_guest(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, "sim_crash_after_ms", "40", NULL);
        uint32_t d = create(f->h, &b);
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        assert_int_equal(hv_domain_pause(f->h, d), 0);
        sleep_ms(80);
        assert_int_equal(info_of(f->h, d).state, HV_STATE_PAUSED); /* its clock stopped */
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        wait_state(f->h, d, HV_STATE_SHUTDOWN);
        assert_int_equal(info_of(f->h, d).shutdown_reason, HV_SHUTDOWN_CRASH);
}

static uint32_t suspend_to(struct fx *f, struct spec_buf *b, const char *path)
{
        uint32_t d = create(f->h, b);
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(hv_domain_suspend(f->h, d, fd, 2000), 0);
        close(fd);
        struct hv_domain_info i = info_of(f->h, d);
        assert_int_equal(i.state, HV_STATE_SHUTDOWN);
        assert_int_equal(i.shutdown_reason, HV_SHUTDOWN_SUSPEND);
        return d;
}

static void suspend_restore_roundtrip(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        char path[512];
        snprintf(path, sizeof(path), "%s/suspend.img", f->dir);
        make_spec(&b, 1 * GiB, "sim_boot_ms", "5", "sim_ack_ms", "5", "sim_halt_ms", "5", NULL);
        uint32_t d = suspend_to(f, &b, path);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true((uint64_t)st.st_size >= 1 * GiB);        /* sized by the memory… */
        assert_true((uint64_t)st.st_blocks * 512 < 4 * MiB); /* …without writing it */
        struct hv_host_info hi;
        assert_int_equal(hv_host_info(f->h, &hi), 0);
        uint64_t free_before = hi.free_memory;
        assert_int_equal(hv_domain_destroy(f->h, d), 0);

        int fd = open(path, O_RDONLY);
        uint32_t d2 = 0;
        assert_int_equal(hv_domain_restore(f->h, &b.spec, fd, &d2, NULL), 0);
        close(fd);
        assert_int_not_equal(d2, d);
        struct hv_domain_info i = info_of(f->h, d2);
        assert_int_equal(i.state, HV_STATE_PAUSED);
        assert_int_equal(i.memory_actual, 1 * GiB);
        assert_true(i.booted);
        assert_int_equal(hv_host_info(f->h, &hi), 0);
        assert_int_equal(hi.free_memory, free_before);
        uint32_t found;
        assert_int_equal(hv_domain_find(f->h, b.spec.uuid, &found), 0);
        assert_int_equal(found, d2);
        char *text;
        size_t len;
        assert_int_equal(hv_console_read(f->h, d2, &text, &len), 0);
        assert_non_null(strstr(text, "vm-test login:")); /* the console came along */
        assert_non_null(strstr(text, "restored"));
        free(text);
        assert_int_equal(hv_domain_unpause(f->h, d2), 0);
        assert_int_equal(info_of(f->h, d2).state, HV_STATE_RUNNING);

        /* The image belongs to its VM. */
        struct spec_buf other;
        make_spec(&other, 1 * GiB, NULL);
        fd = open(path, O_RDONLY);
        assert_int_equal(hv_domain_restore(f->h, &other.spec, fd, &d2, NULL), -EINVAL);
        close(fd);
}

/* Migration: the image as a byte stream from one host (run directory) to another. */
static void suspend_over_stream(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 512 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "1", "sim_halt_ms", "1", NULL);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(sv[0]);
                char dir[600];
                snprintf(dir, sizeof(dir), "%s/host-b", f->dir);
                struct hv_config cfg = {.backend = "sim", .run_dir = dir};
                struct hv *hb;
                uint32_t d;
                struct hv_domain_info i;
                if (hv_open(&cfg, &hb) < 0 || hv_domain_restore(hb, &b.spec, sv[1], &d, NULL) < 0 ||
                    hv_domain_info(hb, d, &i) < 0 || i.memory_actual != 512 * MiB)
                        _exit(1);
                _exit(0);
        }
        close(sv[1]);
        uint32_t d = create(f->h, &b);
        assert_int_equal(hv_domain_unpause(f->h, d), 0);
        assert_int_equal(hv_domain_suspend(f->h, d, sv[0], 2000), 0);
        close(sv[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void corrupt_image_rejected(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        char path[512];
        snprintf(path, sizeof(path), "%s/suspend.img", f->dir);
        make_spec(&b, 64 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "1", "sim_halt_ms", "1", NULL);
        uint32_t d = suspend_to(f, &b, path);
        assert_int_equal(hv_domain_destroy(f->h, d), 0);
        struct hv_host_info hi;
        assert_int_equal(hv_host_info(f->h, &hi), 0);

        /* One byte flipped in the middle of the sampled pages. */
        int fd = open(path, O_RDWR);
        unsigned char c;
        assert_int_equal(pread(fd, &c, 1, 20000), 1);
        c ^= 0x40;
        assert_int_equal(pwrite(fd, &c, 1, 20000), 1);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        uint32_t d2 = 0;
        assert_int_equal(hv_domain_restore(f->h, &b.spec, fd, &d2, NULL), -EBADMSG);
        /* Restored bytes, but the image cut short. */
        c ^= 0x40;
        assert_int_equal(pwrite(fd, &c, 1, 20000), 1);
        assert_int_equal(ftruncate(fd, 30000), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(hv_domain_restore(f->h, &b.spec, fd, &d2, NULL), -EBADMSG);
        close(fd);
        uint32_t found;
        assert_int_equal(hv_domain_find(f->h, b.spec.uuid, &found), -ESRCH);
        struct hv_host_info hi2;
        assert_int_equal(hv_host_info(f->h, &hi2), 0);
        assert_int_equal(hi2.free_memory, hi.free_memory);
}

static void suspend_cancelled_resume(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        char path[512];
        snprintf(path, sizeof(path), "%s/suspend.img", f->dir);
        make_spec(&b, 64 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "1", "sim_halt_ms", "1", NULL);
        uint32_t d = suspend_to(f, &b, path);
        assert_int_equal(hv_domain_resume(f->h, d), 0);
        assert_int_equal(info_of(f->h, d).state, HV_STATE_RUNNING);
        assert_int_equal(hv_domain_resume(f->h, d), -EINVAL); /* not suspended */
}

static void adoption_after_kill(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 128 * MiB, "sim_boot_ms", "0", "sim_ack_ms", "30", "sim_halt_ms", "10", NULL);
        /* A "domd" builds the domain, asks for a shutdown, and dies without closing. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct hv *hc;
                uint32_t id;
                if (hv_open(&f->cfg, &hc) < 0 || hv_domain_create(hc, &b.spec, &id, NULL) < 0 ||
                    hv_domain_unpause(hc, id) < 0 ||
                    hv_domain_shutdown(hc, id, HV_SHUTDOWN_POWEROFF) < 0)
                        _exit(1);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* The new domd finds it by uuid; the request made before the kill still completes. */
        struct hv *h2;
        assert_int_equal(hv_open(&f->cfg, &h2), 0);
        uint32_t d;
        assert_int_equal(hv_domain_find(h2, b.spec.uuid, &d), 0);
        struct hv_domain_info i = info_of(h2, d);
        assert_string_equal(i.uuid, b.spec.uuid);
        assert_true(i.state == HV_STATE_RUNNING || i.state == HV_STATE_SHUTDOWN);
        wait_state(h2, d, HV_STATE_SHUTDOWN);
        assert_int_equal(info_of(h2, d).shutdown_reason, HV_SHUTDOWN_POWEROFF);
        struct hv_domain_info *all;
        size_t n;
        assert_int_equal(hv_domain_list(h2, &all, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(all[0].domid, d);
        free(all);
        assert_int_equal(hv_domain_destroy(h2, d), 0);
        assert_int_equal(hv_domain_find(h2, b.spec.uuid, &d), -ESRCH);
        hv_close(h2);
}

static void devices_recorded(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, NULL);
        uint32_t d = create(f->h, &b);
        struct hv_disk disk = {.vdev = "xvda", .backend_path = "/srv/sr/disk.qcow2"};
        assert_int_equal(hv_disk_attach(f->h, d, &disk), 0);
        assert_int_equal(hv_disk_attach(f->h, d, &disk), -EEXIST);
        struct hv_disk cd = {.vdev = "xvdd", .backend_path = "", .read_only = true, .cdrom = true};
        assert_int_equal(hv_disk_attach(f->h, d, &cd), 0);
        struct hv_nic nic = {.devid = 0, .mac = "aa:00:00:00:00:01", .bridge = "xenbr0"};
        char ifname[16] = "";
        assert_int_equal(hv_nic_attach(f->h, d, &nic, ifname), 0);
        char want[16];
        snprintf(want, sizeof(want), "vif%u.0", d);
        assert_string_equal(ifname, want);
        assert_int_equal(hv_nic_attach(f->h, d, &nic, ifname), -EEXIST);
        struct hv_domain_info i = info_of(f->h, d);
        assert_int_equal(i.n_disks, 2);
        assert_int_equal(i.n_nics, 1);
        assert_int_equal(hv_disk_detach(f->h, d, "xvda"), 0);
        assert_int_equal(hv_disk_detach(f->h, d, "xvda"), -ENOENT);
        assert_int_equal(hv_nic_detach(f->h, d, 0), 0);
        assert_int_equal(hv_nic_detach(f->h, d, 0), -ENOENT);
        i = info_of(f->h, d);
        assert_int_equal(i.n_disks, 1);
        assert_int_equal(i.n_nics, 0);
        /* The devices are in the domain's file, for whoever adopts it. */
        char path[512];
        snprintf(path, sizeof(path), "%s/sim/domains/%u/state", f->dir, d);
        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        char buf[8192] = "";
        size_t nr = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[nr] = 0;
        fclose(fp);
        assert_non_null(strstr(buf, "\"xvdd\""));
        assert_null(strstr(buf, "disk.qcow2"));
}

/* In this process's network namespace (sysfs would show the one it was mounted in). */
static bool link_exists(const char *name)
{
        return if_nametoindex(name) != 0;
}

/* As root, in a private network namespace: a NIC gets a veth pair for netd to bridge. */
static void veth_pairs_as_root(void **state)
{
        struct fx *f = *state;
        if (geteuid() != 0 || access("/usr/sbin/ip", X_OK) < 0)
                skip();
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int code = 0;
                struct hv_config cfg = f->cfg;
                cfg.sim_create_vifs = true;
                struct hv *h;
                struct spec_buf b;
                uint32_t d;
                char ifname[16], peer[20];
                struct hv_nic nic = {.devid = 3, .mac = "aa:00:00:00:00:03"};
                if (unshare(CLONE_NEWNET) < 0)
                        code = 77; /* not allowed here: skip */
                else if (hv_open(&cfg, &h) < 0)
                        code = 1;
                else {
                        make_spec(&b, 16 * MiB, NULL);
                        if (hv_domain_create(h, &b.spec, &d, NULL) < 0 ||
                            hv_nic_attach(h, d, &nic, ifname) < 0)
                                code = 2;
                        snprintf(peer, sizeof(peer), "vifp%s", ifname + 3);
                        if (!code && (!link_exists(ifname) || !link_exists(peer)))
                                code = 3;
                        if (!code && (hv_nic_detach(h, d, 3) < 0 || link_exists(ifname)))
                                code = 4;
                        if (!code && (hv_nic_attach(h, d, &nic, ifname) < 0 ||
                                      hv_domain_destroy(h, d) < 0 || link_exists(ifname)))
                                code = 5; /* destroy releases the pair */
                        hv_close(h);
                }
                _exit(code);
        }
        close(pfd[0]);
        close(pfd[1]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                skip();
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void backend_selection(void **state)
{
        struct fx *f = *state;
        char root[512], p[600];
        snprintf(root, sizeof(root), "%s/fakeroot", f->dir);
        struct hv_config cfg = f->cfg;
        cfg.probe_root = root;
        cfg.backend = NULL; /* auto */
        struct hv *h = NULL;
        assert_int_equal(hv_open(&cfg, &h), 0);
        assert_string_equal(hv_backend_name(h), "sim");
        struct hv_host_info hi;
        assert_int_equal(hv_host_info(h, &hi), 0);
        assert_string_equal(hi.backend, "sim");
        assert_non_null(strstr(hi.hypervisor_version, "sim"));
        hv_close(h);

        /* Xen present: auto means xc, which this build may lack. */
        snprintf(p, sizeof(p), "%s/proc", root);
        mkdir(root, 0700);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/proc/xen", root);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/proc/xen/capabilities", root);
        fclose(fopen(p, "w"));
        int r = hv_open(&cfg, &h);
        if (hv_have_xc()) {
                hv_close(h); /* xc on a fake root may fail or not: not this test's business */
        } else {
                assert_int_equal(r, -ENOTSUP);
                assert_null(h);
        }
        cfg.backend = "sim"; /* an explicit choice wins */
        assert_int_equal(hv_open(&cfg, &h), 0);
        assert_string_equal(hv_backend_name(h), "sim");
        hv_close(h);
        cfg.backend = "bogus";
        assert_int_equal(hv_open(&cfg, &h), -EINVAL);
        cfg.backend = "sim";
        cfg.run_dir = NULL;
        assert_int_equal(hv_open(&cfg, &h), -EINVAL);
        hv_close(NULL);
}

static void host_reboot_forgets_domains(void **state)
{
        struct fx *f = *state;
        struct spec_buf b;
        make_spec(&b, 64 * MiB, NULL);
        uint32_t d = create(f->h, &b);
        /* Pretend the host file was written during an earlier boot. */
        char path[512];
        snprintf(path, sizeof(path), "%s/sim/host", f->dir);
        FILE *fp = fopen(path, "r");
        char buf[1024] = "";
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
        char *id = strstr(buf, "\"boot_id\":\"");
        assert_non_null(id);
        id[11] = id[11] == '0' ? '1' : '0';
        fp = fopen(path, "w");
        fputs(buf, fp);
        fclose(fp);
        struct hv *h2;
        assert_int_equal(hv_open(&f->cfg, &h2), 0);
        struct hv_domain_info i;
        assert_int_equal(hv_domain_info(h2, d, &i), -ESRCH);
        uint32_t found;
        assert_int_equal(hv_domain_find(h2, b.spec.uuid, &found), -ESRCH);
        hv_close(h2);
}

static void many_domains_fast(void **state)
{
        struct fx *f = *state;
        enum { N = 300 };
        struct spec_buf b;
        uint64_t t0 = now_ms();
        for (int i = 0; i < N; i++) {
                make_spec(&b, 16 * MiB, NULL);
                create(f->h, &b);
        }
        uint64_t ms = now_ms() - t0;
        print_message("# %d creations in %llu ms\n", N, (unsigned long long)ms);
        /* ~0.1 ms each on tmpfs, ~1 ms on this ext4 /tmp; ASan and a loaded host get slack */
        assert_true(ms < N * 10);
        /* Lookups by uuid do not scan. */
        uint32_t found;
        assert_int_equal(hv_domain_find(f->h, b.spec.uuid, &found), 0);
}

int main(void)
{
        log_init("test_hv_sim");
        log_set_level("all", LOG_ERR);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(unique_domids_two_handles, setup, teardown),
            cmocka_unit_test_setup_teardown(memory_accounting, setup, teardown),
            cmocka_unit_test_setup_teardown(bad_specs, setup, teardown),
            cmocka_unit_test_setup_teardown(pause_unpause_console, setup, teardown),
            cmocka_unit_test_setup_teardown(clean_shutdown_acknowledged, setup, teardown),
            cmocka_unit_test_setup_teardown(shutdown_ignored, setup, teardown),
            cmocka_unit_test_setup_teardown(crash_seen_by_watch, setup, teardown),
            cmocka_unit_test_setup_teardown(reboot_self_and_requested, setup, teardown),
            cmocka_unit_test_setup_teardown(pause_freezes_guest, setup, teardown),
            cmocka_unit_test_setup_teardown(suspend_restore_roundtrip, setup, teardown),
            cmocka_unit_test_setup_teardown(suspend_over_stream, setup, teardown),
            cmocka_unit_test_setup_teardown(corrupt_image_rejected, setup, teardown),
            cmocka_unit_test_setup_teardown(suspend_cancelled_resume, setup, teardown),
            cmocka_unit_test_setup_teardown(adoption_after_kill, setup, teardown),
            cmocka_unit_test_setup_teardown(devices_recorded, setup, teardown),
            cmocka_unit_test_setup_teardown(veth_pairs_as_root, setup, teardown),
            cmocka_unit_test_setup_teardown(backend_selection, setup, teardown),
            cmocka_unit_test_setup_teardown(host_reboot_forgets_domains, setup, teardown),
            cmocka_unit_test_setup_teardown(many_domains_fast, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
