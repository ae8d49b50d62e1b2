/* PV bootloaders (see bootloader.h).  pygrub is run as xenopsd runs it: non-interactive
 * (-q), "simple" output (kernel/ramdisk/args lines) into a file, the extracted files in a
 * directory of ours, VM.PV_bootloader_args before the image, VM.PV_args appended to the
 * grub entry's arguments (--args).  It reads raw images only (as libxenfsimage does). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/monotime.h"
#include "common/log.h"
#include "domd/bootloader.h"

LOG_MODULE(bootloader)

#define PYGRUB_TIMEOUT_MS 120000 /* python and the image read are slow under TCG */
#define MAX_ARGS          64

static const char *pygrub_path(void)
{
        const char *p = getenv("TS_PYGRUB");
        return p && *p ? p : "/usr/lib/xen-4.17/bin/pygrub";
}

/* The disk the bootloader reads: the first that is not a CD. */
static const Ts__Dom__Disk *boot_disk(const Ts__Dom__Spec *spec)
{
        for (size_t i = 0; i < spec->n_disks; i++)
                if (!spec->disks[i]->cdrom && spec->disks[i]->path && *spec->disks[i]->path)
                        return spec->disks[i];
        return NULL;
}

/* The last non-empty line of the file at PATH (pygrub's error), into MSG. */
static void last_line(const char *path, char *msg, size_t len)
{
        FILE *f = fopen(path, "re");
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (*line)
                        snprintf(msg, len, "%.*s", (int)(len - 1), line);
        }
        if (f)
                fclose(f);
}

/* Runs ARGV with stdout and stderr to ERR_PATH; 0 on exit status 0. */
static int run(char *const argv[], const char *err_path, char *msg, size_t len)
{
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                close(err);
                return -errno;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                dup2(null, 0);
                dup2(err, 1);
                dup2(err, 2);
                for (int fd = 3; fd < 1024; fd++)
                        close(fd);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execv(argv[0], argv);
                _exit(127);
        }
        close(err);
        uint64_t deadline = monotonic_ms() + PYGRUB_TIMEOUT_MS;
        int st = 0;
        for (;;) {
                pid_t r = waitpid(pid, &st, WNOHANG);
                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (monotonic_ms() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        snprintf(msg, len, "%s timed out after %d s", argv[0],
                                 PYGRUB_TIMEOUT_MS / 1000);
                        return -ETIMEDOUT;
                }
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
        snprintf(msg, len, "%s failed (%s %d)", argv[0], WIFEXITED(st) ? "exit status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        last_line(err_path, msg, len);
        return -EIO;
}

/* Reads pygrub's "simple" output: "kernel P", "ramdisk P", "args A" lines. */
static int parse_simple(const char *path, struct boot_files *out)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
                line[strcspn(line, "\n")] = 0;
                char **slot = !strncmp(line, "kernel ", 7)    ? &out->kernel
                              : !strncmp(line, "ramdisk ", 8) ? &out->ramdisk
                              : !strncmp(line, "args ", 5)    ? &out->cmdline
                                                              : NULL;
                if (slot) {
                        free(*slot);
                        *slot = strdup(strchr(line, ' ') + 1);
                }
        }
        free(line);
        fclose(f);
        return out->kernel && *out->kernel ? 0 : -EBADMSG;
}

int bootloader_run(const Ts__Dom__Spec *spec, struct boot_files *out, const char **code,
                   char msg[256])
{
        memset(out, 0, sizeof(*out));
        const char *name = spec->bootloader;
        if (!name || !*name)
                return 0;
        if (strcmp(name, "pygrub") != 0) {
                *code = "UNKNOWN_BOOTLOADER";
                snprintf(msg, 256, "%s", name);
                return -EINVAL;
        }
        *code = "BOOTLOADER_FAILED";
        const Ts__Dom__Disk *disk = boot_disk(spec);
        if (!disk) {
                snprintf(msg, 256, "the VM has no disk to boot from");
                return -ENOENT;
        }
        if (disk->format && *disk->format && strcmp(disk->format, "raw") != 0) {
                snprintf(msg, 256, "pygrub reads raw disk images only; the boot disk %s is %s",
                         disk->vdev, disk->format);
                return -EINVAL;
        }
        const char *tmp = getenv("TMPDIR");
        snprintf(out->dir, sizeof(out->dir), "%s/ts-boot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(out->dir)) {
                int r = -errno;
                snprintf(msg, 256, "temporary directory: %s", strerror(-r));
                out->dir[0] = 0;
                return r;
        }
        char res[96], err[96], outopt[112], diropt[96], *args_opt = NULL;
        snprintf(res, sizeof(res), "%s/result", out->dir);
        snprintf(err, sizeof(err), "%s/log", out->dir);
        snprintf(outopt, sizeof(outopt), "--output=%s", res);
        snprintf(diropt, sizeof(diropt), "--output-directory=%s", out->dir);
        int fd = open(res, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); /* pygrub opens it */
        if (fd >= 0)
                close(fd);
        char *argv[MAX_ARGS + 8];
        size_t n = 0;
        argv[n++] = (char *)pygrub_path();
        argv[n++] = "-q";
        argv[n++] = "--output-format=simple";
        argv[n++] = outopt;
        argv[n++] = diropt;
        char *bl_args = strdup(spec->bootloader_args ? spec->bootloader_args : "");
        char *save = NULL;
        for (char *tok = bl_args ? strtok_r(bl_args, " \t", &save) : NULL; tok && n < MAX_ARGS;
             tok = strtok_r(NULL, " \t", &save))
                argv[n++] = tok;
        if (spec->cmdline && *spec->cmdline && asprintf(&args_opt, "--args=%s", spec->cmdline) > 0)
                argv[n++] = args_opt;
        argv[n++] = disk->path;
        argv[n] = NULL;
        uint64_t t0 = monotonic_ms();
        int r = run(argv, err, msg, 256);
        free(bl_args);
        free(args_opt);
        if (r == 0 && (r = parse_simple(res, out)) < 0)
                snprintf(msg, 256, "pygrub gave no kernel");
        if (r < 0) {
                log_warnx("pygrub on %s: %s", disk->path, msg);
                bootloader_clean(out);
                return r;
        }
        log_info("pygrub on %s in %llu ms: kernel %s, ramdisk %s, args '%s'", disk->path,
                 (unsigned long long)(monotonic_ms() - t0), out->kernel,
                 out->ramdisk ? out->ramdisk : "-", out->cmdline ? out->cmdline : "");
        return 0;
}

void bootloader_clean(struct boot_files *out)
{
        if (out->dir[0]) {
                /* Everything in it is ours (pygrub leaves its temporaries when it fails). */
                DIR *d = opendir(out->dir);
                struct dirent *e;
                while (d && (e = readdir(d)))
                        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                                unlinkat(dirfd(d), e->d_name, 0);
                if (d)
                        closedir(d);
                if (rmdir(out->dir) < 0)
                        log_debug("removing %s: %s", out->dir, strerror(errno));
        }
        free(out->kernel);
        free(out->ramdisk);
        free(out->cmdline);
        memset(out, 0, sizeof(*out));
}
