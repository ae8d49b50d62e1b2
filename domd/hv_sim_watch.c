/* Watching simulated domains from an event loop.  The fd handed out is an epoll set of
 *   - an inotify fd with one watch per watched domain directory (a record renamed in, or
 *     the directory removed), and
 *   - a timerfd armed at the earliest scheduled change of a watched guest (booted,
 *     acknowledged, shut down, crashed): nothing writes a file when those happen, since
 *     they are computed from time (hv_sim_guest.c).
 * Only the watched domains are looked at, so a domd watching one domain pays nothing for
 * the 999 others. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
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
        s->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        int r = 0;
        if (s->epfd < 0 || s->inofd < 0 || s->timerfd < 0)
                r = -errno;
        struct epoll_event ev = {.events = EPOLLIN};
        if (r == 0 && (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->inofd, &ev) < 0 ||
                       epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &ev) < 0))
                r = -errno;
        if (r < 0) {
                log_warnx("sim: watch setup: %s", strerror(-r));
                sim_watch_close(s);
        }
        return r;
}

void sim_watch_close(struct sim *s)
{
        if (s->epfd >= 0)
                close(s->epfd);
        if (s->inofd >= 0)
                close(s->inofd);
        if (s->timerfd >= 0)
                close(s->timerfd);
        s->epfd = s->inofd = s->timerfd = -1;
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
        char path[4096];
        snprintf(path, sizeof(path), "%s/domains/%" PRIu32, s->root_path, domid);
        int wd = inotify_add_watch(s->inofd, path, IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR);
        if (wd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ESRCH : -errno;
        struct sim_watch *nw = realloc(s->watches, (s->n_watches + 1) * sizeof(*nw));
        if (!nw) {
                inotify_rm_watch(s->inofd, wd);
                return -ENOMEM;
        }
        s->watches = nw;
        s->watches[s->n_watches++] = (struct sim_watch){.domid = domid, .wd = wd, .dirty = true};
        return arm_timer(s);
}

static void remove_watch(struct sim *s, struct sim_watch *w, bool rm_wd)
{
        if (rm_wd)
                inotify_rm_watch(s->inofd, w->wd); /* EINVAL when already gone: fine */
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
        remove_watch(s, w, true);
        return arm_timer(s);
}

static void drain_inotify(struct sim *s)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        for (;;) {
                ssize_t n = read(s->inofd, buf, sizeof(buf));
                if (n <= 0)
                        return;
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        for (size_t i = 0; i < s->n_watches; i++)
                                if (s->watches[i].wd == ev->wd)
                                        s->watches[i].dirty = true;
                        p += sizeof(*ev) + ev->len;
                }
        }
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
        drain_inotify(s);

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
                        remove_watch(s, w, true);
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
