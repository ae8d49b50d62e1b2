/* veth pairs through libnl-route (see veth.h). */
#include "netd/veth.h"

#include <errno.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "common/log.h"

LOG_MODULE(veth)

int veth_create(struct nl_ctx *ctx, const char *name, const char *peer)
{
        if (!peer || !*peer || strlen(peer) >= IFNAMSIZ)
                return -EINVAL;
        struct rtnl_link *l = rtnl_link_veth_alloc();
        if (!l)
                return -ENOMEM;
        rtnl_link_set_name(l, name);
        struct rtnl_link *p = rtnl_link_veth_get_peer(l); /* takes a reference */
        rtnl_link_set_name(p, peer);
        rtnl_link_put(p);
        int r = nl_link_create(ctx, l, NULL);
        if (r == 0)
                log_debug("created veth %s <-> %s", name, peer);
        else
                log_warnx("cannot create veth %s <-> %s: %s", name, peer, strerror(-r));
        rtnl_link_veth_release(l);
        return r;
}

int veth_delete(struct nl_ctx *ctx, const char *name)
{
        struct nl_link_info info;
        int r = nl_link_get(ctx, name, &info);
        if (r < 0)
                return r;
        if (strcmp(info.kind, "veth") != 0)
                return -EINVAL;
        return nl_link_delete(ctx, name);
}
