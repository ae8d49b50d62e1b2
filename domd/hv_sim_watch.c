/* Watching simulated domains from an event loop.  The fd handed out is an epoll set of
 *   - a timerfd armed at the earliest scheduled change of a watched guest (booted,
 *     acknowledged, shut down, crashed): nothing writes a file when those happen, since
 *     they are computed from time (hv_sim_guest.c), and
 *   - per watched domain, the read end of its FIFO domains/<domid>/notify, to which every
 *     writer of the domain's record (any process: sim_dom_save) or destroyer of the domain
 *     (sim_domain_destroy) writes a byte (sim_notify).
 * Not inotify: the host allows few inotify instances per user (128 by default), and a
 * thousand domds would otherwise fall back to polling.  A FIFO costs one fd and no kernel
 * quota.  Only the watched domains are looked at, so a domd watching one domain pays
 * nothing for the 999 others.  A domain directory removed by hand (not through the sim)
 * is not noticed until the next scheduled change or call. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_watch)

static int watch_setup(struct sim *s)
{
        if (s->epfd >= 0)
                return 0;
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        int r = 0;
        if (s->epfd < 0 || s->timerfd < 0)
                r = -errno;
        struct epoll_event ev = {.events = EPOLLIN};
        if (r == 0 && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &ev) < 0)
                r = -errno;
        if (r < 0) {
                log_warnx("sim: watch setup: %s", strerror(-r));
                sim_watch_close(s);
        }
        return r;
}

void sim_watch_close(struct sim *s)
{
        for (size_t i = 0; i < s->n_watches; i++)
                close(s->watches[i].fd);
        if (s->epfd >= 0)
                close(s->epfd);
        if (s->timerfd >= 0)
                close(s->timerfd);
        s->epfd = s->timerfd = -1;
        free(s->watches);
        s->watches = NULL;
        s->n_watches = 0;
}

int sim_watch_fd(struct hv *h)
{
        struct sim *s = sim_of(h);
        int r = watch_setup(s);
        return r < 0 ? r : s->epfd;
}

/* Arms the timer at the earliest next change of a watched domain (or now, when a watch
 * is dirty), or disarms it. */
static int arm_timer(struct sim *s)
{
        uint64_t at = 0;
        for (size_t i = 0; i < s->n_watches; i++) {
                uint64_t t = s->watches[i].dirty ? 1 : s->watches[i].next_mono_ns;
                if (t && (!at || t < at))
                        at = t;
        }
        /* An absolute time in the past fires at once; all-zero would disarm. */
        struct itimerspec its = {
            .it_value = {(time_t)(at / 1000000000ULL), (long)(at % 1000000000ULL)}};
        if (timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                return -errno;
        return 0;
}

static struct sim_watch *find_watch(struct sim *s, uint32_t domid)
{
        for (size_t i = 0; i < s->n_watches; i++)
                if (s->watches[i].domid == domid)
                        return &s->watches[i];
        return NULL;
}

int sim_watch_domain(struct hv *h, uint32_t domid)
{
        struct sim *s = sim_of(h);
        int r = watch_setup(s);
        if (r < 0)
                return r;
        if (find_watch(s, domid))
                return 0;
        char path[64];
        snprintf(path, sizeof(path), "domains/%" PRIu32 "/notify", domid);
        if (mkfifoat(s->root, path, 0600) < 0 && errno != EEXIST)
                return errno == ENOENT || errno == ENOTDIR ? -ESRCH : -errno;
        /* Read-write: a FIFO opened so never sees end-of-file (nor EPOLLHUP) when the
         * writers come and go, and the open does not wait for a writer. */
        int fd = openat(s->root, path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ESRCH : -errno;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        struct sim_watch *nw = realloc(s->watches, (s->n_watches + 1) * sizeof(*nw));
        if (!nw || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int e = nw ? -errno : -ENOMEM;
                if (nw)
                        s->watches = nw;
                close(fd);
                return e;
        }
        s->watches = nw;
        s->watches[s->n_watches++] = (struct sim_watch){.domid = domid, .fd = fd, .dirty = true};
        return arm_timer(s);
}

static void remove_watch(struct sim *s, struct sim_watch *w)
{
        close(w->fd); /* leaves the epoll set with it */
        size_t i = (size_t)(w - s->watches);
        memmove(w, w + 1, (s->n_watches - i - 1) * sizeof(*w));
        s->n_watches--;
}

int sim_unwatch_domain(struct hv *h, uint32_t domid)
{
        struct sim *s = sim_of(h);
        struct sim_watch *w = find_watch(s, domid);
        if (!w)
                return -ENOENT;
        remove_watch(s, w);
        return arm_timer(s);
}

/* Marks dirty the watches whose FIFO got a byte, emptying it. */
static void drain_notify(struct sim *s)
{
        char buf[256];
        for (size_t i = 0; i < s->n_watches; i++)
                while (read(s->watches[i].fd, buf, sizeof(buf)) > 0)
                        s->watches[i].dirty = true;
}

void sim_notify(int root, uint32_t domid)
{
        char path[64];
        snprintf(path, sizeof(path), "domains/%" PRIu32 "/notify", domid);
        /* ENOENT: nobody watches; ENXIO: no reader; EAGAIN: already signalled */
        int fd = openat(root, path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return;
        if (write(fd, "", 1) < 0 && errno != EAGAIN)
                log_debug("sim: notifying domain %" PRIu32 ": %s", domid, strerror(errno));
        close(fd);
}

struct change {
        uint32_t domid;
        bool gone;
        struct hv_domain_info info;
};

int sim_poll_changes(struct hv *h, hv_change_cb cb, void *arg)
{
        struct sim *s = sim_of(h);
        int r = watch_setup(s);
        if (r < 0)
                return r;
        uint64_t ticks;
        while (read(s->timerfd, &ticks, sizeof(ticks)) > 0)
                ;
        drain_notify(s);

        /* Collect first, call back after: a callback may (un)watch domains. */
        struct change *ch = calloc(s->n_watches ? s->n_watches : 1, sizeof(*ch));
        if (!ch)
                return -ENOMEM;
        size_t n = 0;
        uint64_t now = sim_now_ns();
        for (size_t i = 0; i < s->n_watches;) {
                struct sim_watch *w = &s->watches[i];
                if (!w->dirty && !(w->next_mono_ns && w->next_mono_ns <= now)) {
                        i++;
                        continue;
                }
                w->dirty = false;
                struct sim_dom *d;
                r = sim_dom_load(s->root, w->domid, &d);
                if (r == -ESRCH) {
                        ch[n++] = (struct change){.domid = w->domid, .gone = true};
                        remove_watch(s, w);
                        continue;
                }
                if (r < 0) {
                        log_debug("sim: reading domain %" PRIu32 ": %s", w->domid, strerror(-r));
                        w->next_mono_ns = 0;
                        i++;
                        continue;
                }
                struct hv_domain_info info;
                struct sim_eval e;
                sim_guest_info(d, now, &info);
                sim_guest_eval(d, now, &e);
                sim_dom_free(d);
                w->next_mono_ns = e.next_mono_ns;
                /* cpu time moves all the time; it is not a change worth a wake-up */
                struct hv_domain_info cmp = info;
                cmp.cpu_time_ns = w->last.cpu_time_ns;
                if (!w->reported || memcmp(&cmp, &w->last, sizeof(cmp))) {
                        w->last = info;
                        w->reported = true;
                        ch[n++] = (struct change){.domid = w->domid, .info = info};
                }
                i++;
        }
        r = arm_timer(s);
        for (size_t i = 0; i < n; i++)
                cb(arg, ch[i].domid, ch[i].gone ? NULL : &ch[i].info);
        free(ch);
        return r;
}
