/* Suspend in a helper process (see suspend_job.h).  One job at a time: a domd serves one
 * VM, and xapid does not send a second suspend before the first is answered. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/suspend_job.h"

LOG_MODULE(suspend_job)

static struct {
        bool active;
        pid_t pid;
        int fd, pipe_rd;
        struct event *ev;
        struct domd *m;
        struct msg_origin from;
        char path[4096];
        unsigned timeout_ms;
        suspend_job_done done;
} job;

bool suspend_job_busy(void)
{
        return job.active;
}

/* Child: the suspend on a fresh handle, the result as an int on the pipe. */
static void __attribute__((noreturn))
run_child(const char *backend, uint32_t domid, int fd, unsigned timeout_ms, int out)
{
        struct hv_config cfg = {.backend = backend};
        struct hv *h = NULL;
        int r = hv_open(&cfg, &h);
        if (r == 0) {
                r = hv_domain_suspend(h, domid, fd, timeout_ms);
                if (r == 0 && fsync(fd) < 0)
                        r = -errno;
                hv_close(h);
        }
        ssize_t n = write(out, &r, sizeof(r));
        _exit(n == (ssize_t)sizeof(r) ? 0 : 1);
}

static void on_child_done(evutil_socket_t fd, short what, void *arg)
{
        int r = -EIO;
        ssize_t n;
        do
                n = read(job.pipe_rd, &r, sizeof(r));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(r)) {
                log_warnx("suspend helper %d ended without a result", (int)job.pid);
                r = -EIO;
        }
        int st;
        while (waitpid(job.pid, &st, 0) < 0 && errno == EINTR)
                ;
        event_free(job.ev);
        close(job.pipe_rd);
        close(job.fd);
        job.active = false;
        log_info("suspend helper %d finished: %s", (int)job.pid, r ? strerror(-r) : "ok");
        job.done(job.m, &job.from, r, job.path, job.timeout_ms);
}

int suspend_job_start(struct domd *m, const struct msg_origin *from, int fd, const char *path,
                      unsigned timeout_ms, suspend_job_done done)
{
        if (job.active) {
                close(fd);
                return -EBUSY;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        const char *backend = hv_backend_name(m->hv);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                close(fd);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                /* a save nobody waits for is useless: the helper ends with its domd (whose
                 * successor resumes the domain) */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                run_child(backend, m->domid, fd, timeout_ms, p[1]);
        }
        close(p[1]);
        job.ev = event_new(m->d.base, p[0], EV_READ, on_child_done, NULL);
        if (job.ev == NULL || event_add(job.ev, NULL) < 0)
                abort(); /* out of memory: nothing sensible is left to do */
        job.active = true;
        job.pid = pid;
        job.fd = fd;
        job.pipe_rd = p[0];
        job.m = m;
        job.from = *from;
        job.from.type = NULL;
        snprintf(job.path, sizeof(job.path), "%s", path);
        job.timeout_ms = timeout_ms;
        job.done = done;
        log_info("suspending domain %u in helper process %d", m->domid, (int)pid);
        return 0;
}
