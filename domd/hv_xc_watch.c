/* Watching Xen domains from an event loop: a xenstore connection of its own carries the
 * watches on @releaseDomain (xenstored fires it when any domain shuts down or dies) and on
 * each watched domain's tree (control/shutdown acknowledged, memory target, devices).  Its
 * fd (xs_fileno) is the watch fd; each poll re-reads the watched domains and reports those
 * whose information changed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "domd/hv_xc.h"

LOG_MODULE(hv_xc_watch)

static int watch_setup(struct xcb *x)
{
        if (x->xsw)
                return 0;
        x->xsw = xs_open(0);
        if (!x->xsw)
                return -(errno ? errno : ECONNREFUSED);
        if (!xs_watch(x->xsw, "@releaseDomain", "release")) {
                int r = -(errno ? errno : EIO);
                xs_close(x->xsw);
                x->xsw = NULL;
                return r;
        }
        return 0;
}

void xc_be_watch_close(struct xcb *x)
{
        if (x->xsw)
                xs_close(x->xsw);
        x->xsw = NULL;
        free(x->watches);
        x->watches = NULL;
        x->n_watches = 0;
}

int xc_be_watch_fd(struct hv *h)
{
        struct xcb *x = xcb_of(h);
        int r = watch_setup(x);
        return r < 0 ? r : xs_fileno(x->xsw);
}

static struct xc_watch *find_watch(struct xcb *x, uint32_t domid)
{
        for (size_t i = 0; i < x->n_watches; i++)
                if (x->watches[i].domid == domid)
                        return &x->watches[i];
        return NULL;
}

int xc_be_watch_domain(struct hv *h, uint32_t domid)
{
        struct xcb *x = xcb_of(h);
        int r = watch_setup(x);
        if (r < 0)
                return r;
        if (find_watch(x, domid))
                return 0;
        xc_domaininfo_t di;
        if ((r = xc_be_getinfo(x, domid, &di)) < 0)
                return r;
        struct xc_watch *nw = realloc(x->watches, (x->n_watches + 1) * sizeof(*nw));
        if (!nw)
                return -ENOMEM;
        x->watches = nw;
        x->watches[x->n_watches++] = (struct xc_watch){.domid = domid};
        /* The watch fires once at registration: the first report comes from that. */
        char path[64], token[16];
        snprintf(path, sizeof(path), "/local/domain/%" PRIu32, domid);
        snprintf(token, sizeof(token), "%" PRIu32, domid);
        if (!xs_watch(x->xsw, path, token)) {
                x->n_watches--;
                return -(errno ? errno : EIO);
        }
        return 0;
}

static void remove_watch(struct xcb *x, struct xc_watch *w)
{
        char path[64], token[16];
        snprintf(path, sizeof(path), "/local/domain/%" PRIu32, w->domid);
        snprintf(token, sizeof(token), "%" PRIu32, w->domid);
        xs_unwatch(x->xsw, path, token);
        size_t i = (size_t)(w - x->watches);
        memmove(w, w + 1, (x->n_watches - i - 1) * sizeof(*w));
        x->n_watches--;
}

int xc_be_unwatch_domain(struct hv *h, uint32_t domid)
{
        struct xcb *x = xcb_of(h);
        struct xc_watch *w = find_watch(x, domid);
        if (!w)
                return -ENOENT;
        remove_watch(x, w);
        return 0;
}

struct change {
        uint32_t domid;
        bool gone;
        struct hv_domain_info info;
};

int xc_be_poll_changes(struct hv *h, hv_change_cb cb, void *arg)
{
        struct xcb *x = xcb_of(h);
        int r = watch_setup(x);
        if (r < 0)
                return r;
        xc_qdisk_check(x);
        char **ev;
        while ((ev = xs_check_watch(x->xsw)))
                free(ev); /* which node fired does not matter: every watched domain is re-read */
        /* Collect first, call back after: a callback may (un)watch domains. */
        struct change *ch = calloc(x->n_watches ? x->n_watches : 1, sizeof(*ch));
        if (!ch)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < x->n_watches;) {
                struct xc_watch *w = &x->watches[i];
                struct hv_domain_info info;
                r = hv_xc_ops.domain_info(h, w->domid, &info);
                if (r == -ESRCH) {
                        ch[n++] = (struct change){.domid = w->domid, .gone = true};
                        remove_watch(x, w);
                        continue;
                }
                i++;
                if (r < 0)
                        continue;
                /* cpu time moves all the time; it is not a change worth a wake-up */
                struct hv_domain_info cmp = info;
                cmp.cpu_time_ns = w->last.cpu_time_ns;
                if (!w->reported || memcmp(&cmp, &w->last, sizeof(cmp))) {
                        w->last = info;
                        w->reported = true;
                        ch[n++] = (struct change){.domid = w->domid, .info = info};
                }
        }
        for (size_t i = 0; i < n; i++)
                cb(arg, ch[i].domid, ch[i].gone ? NULL : &ch[i].info);
        free(ch);
        return 0;
}
