/* RTNLGRP_LINK notifications on a libevent loop (see link_monitor.h). */
#include "netd/link_monitor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "common/log.h"

LOG_MODULE(link_monitor)

struct link_monitor {
        struct nl_sock *sk;
        struct event *ev;
        link_monitor_cb cb;
        void *arg;
        int msg_type; /* of the message being parsed */
};

static void parsed(struct nl_object *obj, void *arg)
{
        struct link_monitor *m = arg;
        struct rtnl_link *l = (struct rtnl_link *)obj;
        struct link_event ev = {0};
        snprintf(ev.name, sizeof(ev.name), "%s", rtnl_link_get_name(l) ?: "");
        ev.ifindex = rtnl_link_get_ifindex(l);
        ev.deleted = m->msg_type == RTM_DELLINK;
        ev.carrier = rtnl_link_get_carrier(l) != 0;
        ev.operstate = rtnl_link_get_operstate(l);
        ev.mtu = rtnl_link_get_mtu(l);
        ev.flags = rtnl_link_get_flags(l);
        ev.master = rtnl_link_get_master(l);
        m->cb(&ev, m->arg);
}

static int on_valid(struct nl_msg *msg, void *arg)
{
        struct link_monitor *m = arg;
        struct nlmsghdr *h = nlmsg_hdr(msg);
        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
                return NL_SKIP;
        m->msg_type = h->nlmsg_type;
        int r = nl_msg_parse(msg, parsed, m);
        if (r < 0)
                log_warnx("unparsable link notification: %s", nl_geterror(r));
        return NL_OK;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
        struct link_monitor *m = arg;
        /* drain: the socket is non-blocking, one event may stand for many messages */
        for (int i = 0; i < 256; i++) {
                int r = nl_recvmsgs_default(m->sk);
                if (r >= 0)
                        continue;
                if (r == -NLE_AGAIN)
                        return;
                if (r == -NLE_NOMEM || nl_errno(r) == -ENOBUFS || r == -NLE_MSG_OVERFLOW) {
                        log_warnx("link notifications lost (%s): full resync needed",
                                  nl_geterror(r));
                        m->cb(NULL, m->arg);
                        continue;
                }
                log_warnx("reading link notifications: %s", nl_geterror(r));
                return;
        }
}

int link_monitor_new(struct nl_ctx *ctx, struct event_base *base, link_monitor_cb cb, void *arg,
                     struct link_monitor **out)
{
        if (!cb || !base)
                return -EINVAL;
        struct link_monitor *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->cb = cb;
        m->arg = arg;
        int r = nl_ctx_new_socket(ctx, &m->sk);
        if (r < 0)
                goto fail;
        /* notifications carry no sequence numbers of ours */
        nl_socket_disable_seq_check(m->sk);
        r = nl_errno(nl_socket_modify_cb(m->sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, m));
        if (r == 0)
                r = nl_errno(nl_socket_add_membership(m->sk, RTNLGRP_LINK));
        if (r == 0)
                r = nl_errno(nl_socket_set_nonblocking(m->sk));
        /* a burst (many VIFs plugged at once) must not overflow the default buffer */
        if (r == 0)
                r = nl_errno(nl_socket_set_buffer_size(m->sk, 1 << 20, 0));
        if (r < 0)
                goto fail;
        m->ev = event_new(base, nl_socket_get_fd(m->sk), EV_READ | EV_PERSIST, on_readable, m);
        if (!m->ev || event_add(m->ev, NULL) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        *out = m;
        return 0;
fail:
        log_warnx("cannot subscribe to link notifications: %s", strerror(-r));
        link_monitor_free(m);
        return r;
}

void link_monitor_free(struct link_monitor *m)
{
        if (!m)
                return;
        if (m->ev)
                event_free(m->ev);
        if (m->sk)
                nl_socket_free(m->sk);
        free(m);
}
