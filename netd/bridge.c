/* Linux bridges through libnl-route (see bridge.h). */
#include "netd/bridge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include "common/log.h"

LOG_MODULE(bridge)

int bridge_create(struct nl_ctx *ctx, const char *name, unsigned mtu, const uint8_t *mac)
{
        if (mac && (mac[0] & 1))
                return -EINVAL;
        struct rtnl_link *l = rtnl_link_bridge_alloc();
        if (!l)
                return -ENOMEM;
        int r = 0;
        rtnl_link_set_name(l, name);
        if (mtu)
                rtnl_link_set_mtu(l, mtu);
        if (mac) {
                struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
                if (!a) {
                        r = -ENOMEM;
                        goto out;
                }
                rtnl_link_set_addr(l, a);
                nl_addr_put(a);
        }
        r = nl_link_create(ctx, l, "bridge");
        if (r == 0)
                log_info("created bridge %s", name);
        else
                log_warnx("cannot create bridge %s: %s", name, strerror(-r));
out:
        rtnl_link_put(l);
        return r;
}

/* The ifindex of bridge NAME, or -ENODEV / -EINVAL (not a bridge). */
static int bridge_index(struct nl_ctx *ctx, const char *name)
{
        struct rtnl_link *l = NULL;
        if (!name || !*name)
                return -EINVAL;
        int r = nl_errno(rtnl_link_get_kernel(nl_ctx_sock(ctx), 0, name, &l));
        if (r < 0)
                return r == -ENOENT ? -ENODEV : r;
        const char *kind = rtnl_link_get_type(l);
        r = kind && strcmp(kind, "bridge") == 0 ? rtnl_link_get_ifindex(l) : -EINVAL;
        rtnl_link_put(l);
        return r;
}

static int set_master_index(struct nl_ctx *ctx, const char *port, int master)
{
        struct rtnl_link *orig = rtnl_link_alloc(), *c = rtnl_link_alloc();
        int r = -ENOMEM;
        if (orig && c) {
                rtnl_link_set_name(orig, port);
                rtnl_link_set_name(c, port);
                rtnl_link_set_master(c, master);
                r = nl_errno(rtnl_link_change(nl_ctx_sock(ctx), orig, c, 0));
        }
        rtnl_link_put(orig);
        rtnl_link_put(c);
        return r == -ENOENT ? -ENODEV : r;
}

int bridge_add_port(struct nl_ctx *ctx, const char *bridge, const char *port)
{
        if (!port || !*port || strlen(port) >= IFNAMSIZ)
                return -EINVAL;
        int idx = bridge_index(ctx, bridge);
        if (idx < 0)
                return idx;
        int r = set_master_index(ctx, port, idx);
        if (r < 0)
                log_warnx("cannot add %s to bridge %s: %s", port, bridge, strerror(-r));
        else
                log_debug("added %s to bridge %s", port, bridge);
        return r;
}

int bridge_del_port(struct nl_ctx *ctx, const char *bridge, const char *port)
{
        if (!port || !*port || strlen(port) >= IFNAMSIZ)
                return -EINVAL;
        int idx = bridge_index(ctx, bridge);
        if (idx < 0)
                return idx;
        struct rtnl_link *l = NULL;
        int r = nl_errno(rtnl_link_get_kernel(nl_ctx_sock(ctx), 0, port, &l));
        if (r < 0)
                return r == -ENOENT ? -ENODEV : r;
        bool is_port = rtnl_link_get_master(l) == idx;
        rtnl_link_put(l);
        if (!is_port)
                return -ENOENT;
        r = set_master_index(ctx, port, 0);
        if (r < 0)
                log_warnx("cannot remove %s from bridge %s: %s", port, bridge, strerror(-r));
        else
                log_debug("removed %s from bridge %s", port, bridge);
        return r;
}

int bridge_list_ports(struct nl_ctx *ctx, const char *bridge, struct nl_link_list *out)
{
        int idx = bridge_index(ctx, bridge);
        if (idx < 0)
                return idx;
        struct nl_link_list all = {0};
        int r = nl_link_list(ctx, &all);
        if (r < 0)
                return r;
        size_t n = 0;
        for (size_t i = 0; i < all.n; i++)
                if (all.v[i].master == idx)
                        all.v[n++] = all.v[i];
        out->v = all.v;
        out->n = n;
        return 0;
}

int bridge_delete(struct nl_ctx *ctx, const char *name)
{
        int idx = bridge_index(ctx, name);
        if (idx < 0)
                return idx;
        int r = nl_link_delete(ctx, name);
        if (r == 0)
                log_info("deleted bridge %s", name);
        else
                log_warnx("cannot delete bridge %s: %s", name, strerror(-r));
        return r;
}
