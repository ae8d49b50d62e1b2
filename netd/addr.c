/* Addresses and default routes through libnl-route (see addr.h). */
#include "netd/addr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "common/log.h"

LOG_MODULE(addr)

static struct nl_addr *to_nl_addr(const struct cidr *c)
{
        struct nl_addr *a = nl_addr_build(c->family, c->addr, c->family == AF_INET ? 4 : 16);
        if (a)
                nl_addr_set_prefixlen(a, c->prefix);
        return a;
}

/* Builds an rtnl_addr for CIDR on IFNAME (caller puts it). */
static int make_addr(struct nl_ctx *ctx, const char *ifname, const char *cidr,
                     struct rtnl_addr **out)
{
        struct cidr c;
        if (cidr_parse(cidr, &c) < 0)
                return -EINVAL;
        int idx = nl_link_ifindex(ctx, ifname);
        if (idx < 0)
                return idx;
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = to_nl_addr(&c);
        int r = -ENOMEM;
        if (!a || !local)
                goto out;
        rtnl_addr_set_ifindex(a, idx);
        rtnl_addr_set_family(a, c.family);
        r = nl_errno(rtnl_addr_set_local(a, local));
        if (r == 0 && c.family == AF_INET && c.prefix < 31) {
                struct cidr b = c;
                uint32_t host = c.prefix ? 0xffffffffu >> c.prefix : 0xffffffffu;
                uint32_t v;
                memcpy(&v, b.addr, 4);
                v |= htonl(host);
                memcpy(b.addr, &v, 4);
                b.prefix = 32;
                struct nl_addr *brd = to_nl_addr(&b);
                r = brd ? nl_errno(rtnl_addr_set_broadcast(a, brd)) : -ENOMEM;
                nl_addr_put(brd);
        }
out:
        nl_addr_put(local);
        if (r < 0) {
                rtnl_addr_put(a);
                return r;
        }
        *out = a;
        return 0;
}

int addr_add(struct nl_ctx *ctx, const char *ifname, const char *cidr)
{
        struct rtnl_addr *a = NULL;
        int r = make_addr(ctx, ifname, cidr, &a);
        if (r == 0)
                r = nl_errno(rtnl_addr_add(nl_ctx_sock(ctx), a, NLM_F_CREATE | NLM_F_REPLACE));
        rtnl_addr_put(a);
        if (r < 0)
                log_warnx("cannot add %s to %s: %s", cidr, ifname, strerror(-r));
        else
                log_info("added %s to %s", cidr, ifname);
        return r;
}

int addr_del(struct nl_ctx *ctx, const char *ifname, const char *cidr)
{
        struct rtnl_addr *a = NULL;
        int r = make_addr(ctx, ifname, cidr, &a);
        if (r == 0)
                r = nl_errno(rtnl_addr_delete(nl_ctx_sock(ctx), a, 0));
        rtnl_addr_put(a);
        if (r < 0)
                log_warnx("cannot remove %s from %s: %s", cidr, ifname, strerror(-r));
        else
                log_info("removed %s from %s", cidr, ifname);
        return r;
}

static int fill_list(struct nl_ctx *ctx, int only_ifindex, struct addr_list *out,
                     struct nl_cache **cache_out)
{
        struct nl_cache *cache = NULL, *links = NULL;
        int r = nl_errno(rtnl_addr_alloc_cache(nl_ctx_sock(ctx), &cache));
        if (r == 0)
                r = nl_errno(rtnl_link_alloc_cache(nl_ctx_sock(ctx), AF_UNSPEC, &links));
        if (r < 0)
                goto out;
        size_t n = (size_t)nl_cache_nitems(cache), i = 0;
        out->v = calloc(n ? n : 1, sizeof(*out->v));
        if (!out->v) {
                r = -ENOMEM;
                goto out;
        }
        for (struct nl_object *o = nl_cache_get_first(cache); o && i < n;
             o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *)o;
                struct nl_addr *l = rtnl_addr_get_local(a);
                int fam = rtnl_addr_get_family(a);
                int idx = rtnl_addr_get_ifindex(a);
                if (!l || (fam != AF_INET && fam != AF_INET6) ||
                    (only_ifindex && idx != only_ifindex))
                        continue;
                if (nl_addr_get_len(l) != (fam == AF_INET ? 4u : 16u))
                        continue;
                struct addr_info *ai = &out->v[i++];
                ai->ifindex = idx;
                ai->addr.family = fam;
                memcpy(ai->addr.addr, nl_addr_get_binary_addr(l), nl_addr_get_len(l));
                ai->addr.prefix = rtnl_addr_get_prefixlen(a);
                ai->scope = rtnl_addr_get_scope(a);
                rtnl_link_i2name(links, idx, ai->ifname, sizeof(ai->ifname));
        }
        out->n = i;
out:
        nl_cache_free(links);
        if (cache_out && r == 0)
                *cache_out = cache;
        else
                nl_cache_free(cache);
        return r;
}

int addr_list(struct nl_ctx *ctx, struct addr_list *out)
{
        out->v = NULL;
        out->n = 0;
        return fill_list(ctx, 0, out, NULL);
}

void addr_list_free(struct addr_list *list)
{
        if (!list)
                return;
        free(list->v);
        list->v = NULL;
        list->n = 0;
}

int addr_flush(struct nl_ctx *ctx, const char *ifname, int family)
{
        int idx = nl_link_ifindex(ctx, ifname);
        if (idx < 0)
                return idx;
        struct addr_list l = {0};
        int r = fill_list(ctx, idx, &l, NULL);
        for (size_t i = 0; r == 0 && i < l.n; i++) {
                struct cidr *c = &l.v[i].addr;
                if ((family != AF_UNSPEC && c->family != family) || cidr_is_link_local(c))
                        continue;
                char s[CIDR_STR_MAX];
                cidr_format(c, s);
                r = addr_del(ctx, ifname, s);
                if (r == -EADDRNOTAVAIL) /* removing a primary IPv4 drops its secondaries */
                        r = 0;
        }
        addr_list_free(&l);
        return r;
}

/* A default route object of FAMILY in the main table (caller puts it). */
static struct rtnl_route *default_route(int family)
{
        struct rtnl_route *rt = rtnl_route_alloc();
        uint8_t zero[16] = {0};
        struct nl_addr *dst = nl_addr_build(family, zero, family == AF_INET ? 4 : 16);
        if (!rt || !dst) {
                rtnl_route_put(rt);
                nl_addr_put(dst);
                return NULL;
        }
        nl_addr_set_prefixlen(dst, 0);
        rtnl_route_set_family(rt, (uint8_t)family);
        rtnl_route_set_table(rt, RT_TABLE_MAIN);
        (void)rtnl_route_set_dst(rt, dst);
        nl_addr_put(dst);
        return rt;
}

int route_gateway_set(struct nl_ctx *ctx, const char *gateway, const char *ifname, int replace)
{
        struct cidr gw;
        if (cidr_parse_addr(gateway, &gw) < 0)
                return -EINVAL;
        int idx = 0;
        if (ifname && *ifname && (idx = nl_link_ifindex(ctx, ifname)) < 0)
                return idx;
        struct rtnl_route *rt = default_route(gw.family);
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        struct nl_addr *via = to_nl_addr(&gw);
        int r = -ENOMEM;
        if (!rt || !nh || !via)
                goto out;
        rtnl_route_set_protocol(rt, RTPROT_STATIC);
        rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
        rtnl_route_set_type(rt, RTN_UNICAST);
        rtnl_route_nh_set_gateway(nh, via);
        if (idx)
                rtnl_route_nh_set_ifindex(nh, idx);
        rtnl_route_add_nexthop(rt, nh);
        nh = NULL; /* owned by RT now */
        r = nl_errno(rtnl_route_add(nl_ctx_sock(ctx), rt,
                                    NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL)));
out:
        if (nh)
                rtnl_route_nh_free(nh);
        nl_addr_put(via);
        rtnl_route_put(rt);
        if (r < 0)
                log_warnx("cannot set default gateway %s: %s", gateway, strerror(-r));
        else
                log_info("default gateway %s%s%s", gateway, idx ? " dev " : "", idx ? ifname : "");
        return r;
}

int route_gateway_del(struct nl_ctx *ctx, int family)
{
        if (family != AF_INET && family != AF_INET6)
                return -EINVAL;
        /* one default route per request; the kernel answers ESRCH when none is left */
        for (int i = 0; i < 64; i++) {
                struct rtnl_route *rt = default_route(family);
                if (!rt)
                        return -ENOMEM;
                /* wildcards: any scope, any protocol (static, dhcp, boot...) */
                rtnl_route_set_scope(rt, RT_SCOPE_NOWHERE);
                rtnl_route_set_protocol(rt, RTPROT_UNSPEC);
                int r = nl_errno(rtnl_route_delete(nl_ctx_sock(ctx), rt, 0));
                rtnl_route_put(rt);
                if (r == -ENOENT || r == -ESRCH)
                        return 0;
                if (r < 0)
                        return r;
        }
        return -ELOOP;
}

int route_gateway_get(struct nl_ctx *ctx, int family, struct cidr *out)
{
        struct nl_cache *cache = NULL;
        int r = nl_errno(rtnl_route_alloc_cache(nl_ctx_sock(ctx), family, 0, &cache));
        if (r < 0)
                return r;
        r = -ENOENT;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *rt = (struct rtnl_route *)o;
                struct nl_addr *dst = rtnl_route_get_dst(rt);
                if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || !dst || nl_addr_get_prefixlen(dst))
                        continue;
                if (rtnl_route_get_nnexthops(rt) < 1)
                        continue;
                struct nl_addr *gw = rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(rt, 0));
                if (!gw || nl_addr_get_len(gw) != (family == AF_INET ? 4u : 16u))
                        continue;
                out->family = family;
                memset(out->addr, 0, sizeof(out->addr));
                memcpy(out->addr, nl_addr_get_binary_addr(gw), nl_addr_get_len(gw));
                out->prefix = family == AF_INET ? 32 : 128;
                r = 0;
                break;
        }
        nl_cache_free(cache);
        return r;
}
