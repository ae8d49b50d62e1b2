#include "stord/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "stord/driver.h"

LOG_MODULE(spawn)

extern char **environ;

struct buf {
        char *p;
        size_t len, cap;
};

static int buf_read(struct buf *b, int fd)
{
        if (b->cap - b->len < 4097) {
                size_t cap = b->cap ? b->cap * 2 : 8192;
                char *p = realloc(b->p, cap);
                if (p == NULL)
                        return -ENOMEM;
                b->p = p;
                b->cap = cap;
        }
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        b->len += (size_t)n;
        b->p[b->len] = '\0';
        return n > 0;
}

static char *buf_finish(struct buf *b, int trim)
{
        if (b->p == NULL)
                return strdup("");
        while (trim && b->len > 0 && strchr(" \t\r\n", b->p[b->len - 1]) != NULL)
                b->p[--b->len] = '\0';
        return b->p;
}

int sd_run(const char *const argv[], struct sd_run_result *r)
{
        int outp[2] = {-1, -1}, errp[2] = {-1, -1};
        posix_spawn_file_actions_t fa;
        struct buf bo = {0}, be = {0};
        pid_t pid;
        int rc;

        memset(r, 0, sizeof *r);
        r->status = -1;
        if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                rc = -errno;
                goto out_close;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
        rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(outp[1]);
        close(errp[1]);
        outp[1] = errp[1] = -1;
        if (rc != 0) {
                rc = -rc;
                goto out_close;
        }
        /* Drain both pipes until EOF so a chatty tool never blocks on a full pipe. */
        struct pollfd pfd[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
        while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || pfd[i].revents == 0)
                                continue;
                        int n = buf_read(i == 0 ? &bo : &be, pfd[i].fd);
                        if (n <= 0)
                                pfd[i].fd = -1;
                }
        }
        int st;
        while (waitpid(pid, &st, 0) < 0) {
                if (errno != EINTR) {
                        st = 0xff00;
                        break;
                }
        }
        r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        rc = 0;
out_close:
        for (int i = 0; i < 2; i++) {
                if (outp[i] >= 0)
                        close(outp[i]);
                if (errp[i] >= 0)
                        close(errp[i]);
        }
        r->out = buf_finish(&bo, 0);
        r->err = buf_finish(&be, 1);
        log_debug("%s: status %d%s%s", argv[0], r->status, r->err[0] ? ": " : "", r->err);
        return rc;
}

void sd_run_result_clear(struct sd_run_result *r)
{
        if (r == NULL)
                return;
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}

int sd_run_ok(const char *const argv[], char **out, struct sd_error *e, int sm_code,
              const char *what)
{
        struct sd_run_result r;
        int rc = sd_run(argv, &r);
        if (rc < 0) {
                sd_fail(e, rc, sm_code, "%s: cannot run %s: %s", what, argv[0], strerror(-rc));
        } else if (r.status != 0) {
                /* one line: reasons travel in XenAPI error descriptions and log lines */
                for (char *c = r.err; *c; c++)
                        if (*c == '\n' || *c == '\t')
                                *c = ' ';
                rc = -EIO;
                sd_fail(e, rc, sm_code, "%s: %s %s failed (status %d): %s", what, argv[0],
                        argv[1] ? argv[1] : "", r.status, r.err);
        } else if (out != NULL) {
                *out = r.out;
                r.out = NULL;
        }
        sd_run_result_clear(&r);
        return rc;
}
