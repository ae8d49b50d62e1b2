/* Link change notifications: a netlink socket subscribed to RTNLGRP_LINK, read from a libevent
 * loop.  Each kernel notification becomes one callback with the link's state; netd uses them
 * to keep PIF_metrics.carrier current and to report link changes to xapid. */
#ifndef TS_NETD_LINK_MONITOR_H
#define TS_NETD_LINK_MONITOR_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "netd/nl.h"

struct event_base;
struct link_monitor;

struct link_event {
        char name[IFNAMSIZ];
        int ifindex;
        bool deleted; /* RTM_DELLINK: the link is gone (the other fields are its last state) */
        bool carrier;
        uint8_t operstate; /* IF_OPER_* */
        unsigned mtu;
        unsigned flags; /* IFF_* */
        int master;     /* ifindex, 0 when none */
};

/* EV is borrowed for the call.  EV NULL means notifications were lost (the socket buffer
 * overflowed): the receiver must re-read the whole state with nl_link_list. */
typedef void (*link_monitor_cb)(const struct link_event *ev, void *arg);

/* Subscribes in CTX's namespace and registers with BASE (both borrowed; they must outlive the
 * monitor).  Free with link_monitor_free. */
int link_monitor_new(struct nl_ctx *ctx, struct event_base *base, link_monitor_cb cb, void *arg,
                     struct link_monitor **out);
void link_monitor_free(struct link_monitor *m);

#endif
