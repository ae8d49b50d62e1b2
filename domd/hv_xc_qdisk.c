/* The device model that serves qcow2 disks: one QEMU per domain in dom0 (Debian's
 * qemu-system-xen), started with "-machine xenpv -xen-attach" as libxl does for a PV
 * guest's qdisk backends.  Its Xen bus watches /local/domain/0/backend/qdisk/<domid>/ and
 * serves each device written there (params "qcow2:<path>"); once it runs it writes
 * "running" to /local/domain/0/device-model/<domid>/state.  domd keeps its pid (also in
 * xenstore, for a restarted domd), kills it when the domain goes, and reports its death. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/monotime.h"
#include "common/log.h"
#include "domd/hv_xc.h"

LOG_MODULE(hv_xc_qdisk)

#define DM_START_TIMEOUT_MS 60000 /* QEMU starts in a second natively, in many under TCG */

static const char *dm_binary(void)
{
        const char *b = getenv("TS_XEN_QEMU");
        return b && *b ? b : "/usr/libexec/xen-qemu-system-i386";
}

static struct xc_dm *dm_find(struct xcb *x, uint32_t domid)
{
        for (size_t i = 0; i < x->n_dms; i++)
                if (x->dms[i].domid == domid)
                        return &x->dms[i];
        return NULL;
}

static void dm_forget(struct xcb *x, struct xc_dm *dm)
{
        *dm = x->dms[--x->n_dms];
}

/* Child side, between fork and exec (async-signal-safe calls only): QEMU with its output
 * in a log file, nothing else of domd's inherited. */
static void dm_exec(const char *bin, char *const argv[], const char *log_path)
{
        int null = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        if (log < 0)
                log = open("/dev/null", O_WRONLY);
        dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
        for (int fd = 3; fd < 1024; fd++)
                close(fd);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid(); /* not in domd's process group: a signal for domd is not for QEMU */
        execv(bin, argv);
        static const char msg[] = "exec of the device model failed\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(127);
}

/* Reaps PID if it exited; true when it did (or is not our child), with the status logged
 * unless the exit was asked for (QUIET). */
static bool dm_reaped(uint32_t domid, pid_t pid, bool quiet)
{
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == 0)
                return false;
        if (r == pid && quiet) {
                log_info("xc: device model (QEMU) of domain %" PRIu32 " stopped", domid);
        } else if (r == pid) {
                if (WIFSIGNALED(st))
                        log_warnx("xc: device model (QEMU) of domain %" PRIu32
                                  " killed by signal %d",
                                  domid, WTERMSIG(st));
                else
                        log_warnx("xc: device model (QEMU) of domain %" PRIu32
                                  " exited with status %d",
                                  domid, WEXITSTATUS(st));
        }
        return true;
}

int xc_qdisk_ensure(struct xcb *x, uint32_t domid)
{
        struct xc_dm *dm = dm_find(x, domid);
        if (dm && !dm_reaped(domid, dm->pid, false))
                return 0;
        if (dm)
                dm_forget(x, dm);
        if (access(dm_binary(), X_OK) < 0) {
                log_warnx("xc: a qcow2 disk needs QEMU's Xen backend (%s, Debian's "
                          "qemu-system-xen): %s",
                          dm_binary(), strerror(errno));
                return -ENOTSUP;
        }
        struct xc_dm *v = realloc(x->dms, (x->n_dms + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        x->dms = v;
        char log_path[256];
        const char *dir = getenv("TS_XEN_DM_LOG_DIR");
        snprintf(log_path, sizeof(log_path), "%s/qemu-dm-%" PRIu32 ".log",
                 dir && *dir ? dir : "/var/log/xen", domid);
        xcs_rm(x, "/local/domain/0/device-model/%" PRIu32, domid);
        char dom[16], name[32];
        snprintf(dom, sizeof(dom), "%" PRIu32, domid);
        snprintf(name, sizeof(name), "qdisk-%" PRIu32, domid);
        const char *bin = dm_binary();
        char *const argv[] = {(char *)bin,  "-xen-domid", dom,    "-xen-attach",  "-machine",
                              "xenpv",      "-name",      name,   "-nodefaults",  "-no-user-config",
                              "-nographic", "-display",   "none", "-no-shutdown", NULL};
        uint64_t t0 = monotonic_ms();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                dm_exec(bin, argv, log_path);
        x->dms[x->n_dms++] = (struct xc_dm){.domid = domid, .pid = pid};
        char num[16];
        snprintf(num, sizeof(num), "%d", (int)pid);
        xcs_write(x, num, "/local/domain/0/device-model/%" PRIu32 "/ts-pid", domid);
        /* As libxl: the backends are served once QEMU says it runs. */
        for (;;) {
                char *state = xcs_read(x, "/local/domain/0/device-model/%" PRIu32 "/state", domid);
                bool running = state && !strcmp(state, "running");
                free(state);
                if (running)
                        break;
                if (dm_reaped(domid, pid, false)) {
                        dm_forget(x, dm_find(x, domid));
                        log_warnx("xc: device model of domain %" PRIu32 " did not start (see %s)",
                                  domid, log_path);
                        return -EIO;
                }
                if (monotonic_ms() - t0 > DM_START_TIMEOUT_MS) {
                        log_warnx("xc: device model of domain %" PRIu32 " not running after %d ms",
                                  domid, DM_START_TIMEOUT_MS);
                        xc_qdisk_stop(x, domid);
                        return -ETIMEDOUT;
                }
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        log_info("xc: device model (QEMU pid %d) of domain %" PRIu32 " running in %" PRIu64 " ms",
                 (int)pid, domid, monotonic_ms() - t0);
        return 0;
}

void xc_qdisk_stop(struct xcb *x, uint32_t domid)
{
        struct xc_dm *dm = dm_find(x, domid);
        pid_t pid = dm ? dm->pid : 0;
        if (!dm) {
                /* Started by an earlier domd: kill it by the pid it left. */
                char *p = xcs_read(x, "/local/domain/0/device-model/%" PRIu32 "/ts-pid", domid);
                pid = p ? (pid_t)atoi(p) : 0;
                free(p);
        }
        if (pid > 0 && kill(pid, SIGTERM) == 0 && dm) {
                for (int i = 0; i < 100 && !dm_reaped(domid, pid, true); i++) {
                        struct timespec ts = {0, 20 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                        if (i == 99) {
                                kill(pid, SIGKILL);
                                waitpid(pid, NULL, 0);
                        }
                }
        }
        if (dm)
                dm_forget(x, dm);
        xcs_rm(x, "/local/domain/0/device-model/%" PRIu32, domid);
}

void xc_qdisk_check(struct xcb *x)
{
        for (size_t i = 0; i < x->n_dms;) {
                struct xc_dm *dm = &x->dms[i];
                if (dm_reaped(dm->domid, dm->pid, false)) {
                        /* The guest's qcow2 disks are gone with it: say so where the
                         * toolstack and the guest's admin look. */
                        xcs_write(x, "dead", "/local/domain/0/device-model/%" PRIu32 "/state",
                                  dm->domid);
                        dm_forget(x, dm);
                } else {
                        i++;
                }
        }
}

void xc_qdisk_close(struct xcb *x)
{
        free(x->dms);
        x->dms = NULL;
        x->n_dms = 0;
}
