/* 802.1Q VLAN devices through libnl-route (see vlan.h). */
#include "netd/vlan.h"

#include <errno.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>

#include "common/log.h"

LOG_MODULE(vlan)

int vlan_create(struct nl_ctx *ctx, const char *name, const char *parent, int tag, unsigned mtu)
{
        if (tag < VLAN_TAG_MIN || tag > VLAN_TAG_MAX)
                return -EINVAL;
        int pidx = nl_link_ifindex(ctx, parent);
        if (pidx < 0)
                return pidx;
        struct rtnl_link *l = rtnl_link_vlan_alloc();
        if (!l)
                return -ENOMEM;
        rtnl_link_set_name(l, name);
        rtnl_link_set_link(l, pidx);
        int r = rtnl_link_vlan_set_id(l, (uint16_t)tag);
        if (r < 0) {
                r = nl_errno(r);
                goto out;
        }
        if (mtu)
                rtnl_link_set_mtu(l, mtu);
        r = nl_link_create(ctx, l, "vlan");
        if (r == 0)
                log_info("created vlan %s on %s tag %d", name, parent, tag);
        else
                log_warnx("cannot create vlan %s on %s tag %d: %s", name, parent, tag,
                          strerror(-r));
out:
        rtnl_link_put(l);
        return r;
}

int vlan_delete(struct nl_ctx *ctx, const char *name)
{
        struct nl_link_info info;
        int r = nl_link_get(ctx, name, &info);
        if (r < 0)
                return r;
        if (strcmp(info.kind, "vlan") != 0)
                return -EINVAL;
        r = nl_link_delete(ctx, name);
        if (r == 0)
                log_info("deleted vlan %s", name);
        return r;
}
