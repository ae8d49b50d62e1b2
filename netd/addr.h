/* IP configuration of links: IPv4/IPv6 addresses and the default gateway, through netlink. */
#ifndef TS_NETD_ADDR_H
#define TS_NETD_ADDR_H

#include <net/if.h>
#include <stddef.h>

#include "netd/cidr.h"
#include "netd/nl.h"

struct addr_info {
        char ifname[IFNAMSIZ]; /* "" if the link vanished meanwhile */
        int ifindex;
        struct cidr addr;
        int scope; /* RT_SCOPE_* */
};

struct addr_list {
        struct addr_info *v; /* owned */
        size_t n;
};

/* Adds CIDR ("10.0.0.1/24", "fd00::1/64") to IFNAME; IPv4 gets the usual broadcast address.
 * Adding an address already present succeeds. */
int addr_add(struct nl_ctx *ctx, const char *ifname, const char *cidr);
/* Removes CIDR from IFNAME; -EADDRNOTAVAIL if absent. */
int addr_del(struct nl_ctx *ctx, const char *ifname, const char *cidr);
/* Removes every address of FAMILY (AF_INET, AF_INET6 or AF_UNSPEC for both) from IFNAME,
 * except IPv6 link-local ones, which the kernel owns. */
int addr_flush(struct nl_ctx *ctx, const char *ifname, int family);
/* Every address of the namespace.  Free with addr_list_free. */
int addr_list(struct nl_ctx *ctx, struct addr_list *out);
void addr_list_free(struct addr_list *list);

/* Adds (REPLACE false: -EEXIST if a default route exists) or replaces the default route of
 * GATEWAY's family in the main table, via GATEWAY, out of IFNAME (NULL: the kernel finds the
 * link from its addresses). */
int route_gateway_set(struct nl_ctx *ctx, const char *gateway, const char *ifname, int replace);
/* Deletes every default route of FAMILY (AF_INET or AF_INET6) in the main table; 0 if there
 * was none. */
int route_gateway_del(struct nl_ctx *ctx, int family);
/* The gateway of FAMILY's default route in the main table into OUT; -ENOENT if none. */
int route_gateway_get(struct nl_ctx *ctx, int family, struct cidr *out);

#endif
