/* xapid's side of the domd zygote (see domd_zygote.h).
 *
 * The zygote process is a child of xapid's, reaped by the spawner's SIGCHLD handler like
 * any other unknown child.  Its death is noticed here, by the socket: a failed send, an end
 * of file or no reply within REPLY_TIMEOUT_S.  The zygote is then dropped (killed, if it
 * still runs) and the request fails, so the caller falls back to posix_spawn; the next
 * request starts a new zygote, at most once per RESTART_INTERVAL_S. */
#include "xapid/domd_zygote.h"

#include "xapid/domd_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/zygote.h"

LOG_MODULE(domd_zygote)

extern char **environ;

#define REPLY_TIMEOUT_S    5
#define RESTART_INTERVAL_S 1

struct domd_zygote {
        char *path;
        int exit_fd; /* the write end of the exit reports */
        int fd;      /* -1: no zygote */
        pid_t pid;
        time_t last_start;
};

static time_t now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

struct domd_zygote *domd_zygote_new(const char *path, int exit_fd)
{
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                log_warnx("cannot become a child subreaper: %s", strerror(errno));
                return NULL;
        }
        struct domd_zygote *z = calloc(1, sizeof(*z));
        if (z == NULL)
                return NULL;
        z->path = strdup(path);
        z->exit_fd = exit_fd;
        z->fd = -1;
        z->last_start = now_s() - RESTART_INTERVAL_S - 1;
        if (z->path == NULL) {
                free(z);
                return NULL;
        }
        return z;
}

static void drop(struct domd_zygote *z, const char *why)
{
        if (z->fd < 0)
                return;
        log_warnx("domd zygote (pid %ld) dropped: %s", (long)z->pid, why);
        close(z->fd);
        kill(z->pid, SIGKILL); /* if it still runs; the SIGCHLD handler reaps it */
        z->fd = -1;
        z->pid = 0;
}

void domd_zygote_free(struct domd_zygote *z)
{
        if (z == NULL)
                return;
        if (z->fd >= 0)
                close(z->fd);
        free(z->path);
        free(z);
}

pid_t domd_zygote_pid(const struct domd_zygote *z)
{
        return z->fd >= 0 ? z->pid : 0;
}

static int start(struct domd_zygote *z)
{
        z->last_start = now_s();
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /* the zygote's ends must not be its descriptors already (dup2 would keep CLOEXEC),
         * nor the one the other is dup'd to */
        int theirs = fcntl(sv[1], F_DUPFD_CLOEXEC, DOMD_ZYGOTE_EXIT_FD + 1);
        close(sv[1]);
        int exits = fcntl(z->exit_fd, F_DUPFD_CLOEXEC, DOMD_ZYGOTE_EXIT_FD + 1);
        if (theirs < 0 || exits < 0) {
                int e = errno;
                if (theirs >= 0)
                        close(theirs);
                close(sv[0]);
                return -e;
        }
        char room[DOMD_ZYGOTE_TITLE_ROOM + 1];
        memset(room, ' ', DOMD_ZYGOTE_TITLE_ROOM);
        room[DOMD_ZYGOTE_TITLE_ROOM] = '\0';
        char *const argv[] = {z->path, DOMD_ZYGOTE_ARG, room, NULL};
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t fa;
        domd_spawn_attrs(&attr, &fa);
        posix_spawn_file_actions_adddup2(&fa, theirs, DOMD_ZYGOTE_FD);
        posix_spawn_file_actions_adddup2(&fa, exits, DOMD_ZYGOTE_EXIT_FD);
        pid_t pid;
        /* symbols resolved once, in the zygote, rather than lazily in each domd */
        size_t n_env = 0;
        while (environ[n_env] != NULL)
                n_env++;
        char **env = calloc(n_env + 2, sizeof(*env));
        if (env == NULL) {
                posix_spawn_file_actions_destroy(&fa);
                posix_spawnattr_destroy(&attr);
                close(theirs);
                close(exits);
                close(sv[0]);
                return -ENOMEM;
        }
        memcpy(env, environ, n_env * sizeof(*env));
        env[n_env] = "LD_BIND_NOW=1";
        int e = posix_spawn(&pid, z->path, &fa, &attr, argv, env);
        free(env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(theirs);
        close(exits);
        if (e != 0) {
                close(sv[0]);
                log_warnx("cannot start the domd zygote %s: %s", z->path, strerror(e));
                return -e;
        }
        struct timeval tv = {REPLY_TIMEOUT_S, 0};
        setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        z->fd = sv[0];
        z->pid = pid;
        log_info("domd zygote started (pid %ld)", (long)pid);
        return 0;
}

int domd_zygote_spawn(struct domd_zygote *z, const char *const *argv, pid_t *pid)
{
        if (z->fd < 0) {
                if (now_s() - z->last_start < RESTART_INTERVAL_S)
                        return -EAGAIN;
                int r = start(z);
                if (r < 0)
                        return r;
        }
        char buf[DOMD_ZYGOTE_MAX];
        size_t len = 0;
        for (size_t i = 0; argv[i] != NULL; i++) {
                size_t n = strlen(argv[i]) + 1;
                if (i + 1 >= DOMD_ZYGOTE_ARGS || len + n > sizeof(buf))
                        return -E2BIG;
                memcpy(buf + len, argv[i], n);
                len += n;
        }
        if (send(z->fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
                drop(z, strerror(errno));
                return -EPIPE;
        }
        int32_t v;
        ssize_t n;
        while ((n = recv(z->fd, &v, sizeof(v), 0)) < 0 && errno == EINTR)
                ;
        if (n != (ssize_t)sizeof(v)) {
                drop(z, n == 0 ? "it exited" : n < 0 ? strerror(errno) : "short reply");
                return -EPIPE;
        }
        if (v <= 0)
                return v < 0 ? v : -EPROTO;
        *pid = v;
        return 0;
}
