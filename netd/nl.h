/* The netlink context of netd's kernel layer, link listing and generic link changes.
 *
 * Every kernel operation of netd goes through a struct nl_ctx: one NETLINK_ROUTE socket bound
 * to a network namespace (the caller's own, or the one given at creation).  The context is
 * owned by its creator and used from one thread.  Links are addressed by name: the kernel
 * looks names up itself (IFLA_IFNAME with ifindex 0), so most changes are one round trip.
 * All functions return 0 or a negative errno. */
#ifndef TS_NETD_NL_H
#define TS_NETD_NL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_ctx;
struct nl_sock;

/* The ifalias prefix that marks a link as created (owned) by netd: the mark lives in the
 * kernel with the link, so it survives a restart of netd and vanishes with the link, and a
 * link an administrator made (no prefix) is never changed by reconciliation. */
#define NL_OWNED_ALIAS_PREFIX "ts:"
#define NL_ALIAS_MAX          64
#define NL_KIND_MAX           16

struct nl_link_info {
        char name[IFNAMSIZ];
        int ifindex;
        char kind[NL_KIND_MAX]; /* IFLA_INFO_KIND: "bridge", "veth", "vlan", "bond"; "" if none */
        uint8_t mac[6];
        bool has_mac;
        unsigned mtu;
        unsigned flags;    /* IFF_* (IFF_UP, IFF_PROMISC, IFF_LOWER_UP...) */
        uint8_t operstate; /* IF_OPER_* (linux/if.h) */
        bool carrier;
        int master;                 /* ifindex of the bridge or bond, 0 when none */
        char master_name[IFNAMSIZ]; /* "" when none */
        int parent;                 /* IFLA_LINK: a VLAN's parent (or a veth's peer), 0 if none */
        char parent_name[IFNAMSIZ]; /* "" when none or in another namespace */
        int vlan_id;                /* 802.1Q tag of a "vlan" link, 0 otherwise */
        int bond_mode;              /* Linux bond mode number of a "bond" link, -1 if unknown */
        bool physical;              /* a NIC: has a device in sysfs, or matches a pattern */
        char alias[NL_ALIAS_MAX];   /* IFLA_IFALIAS, "" if none */
};

/* True when INFO carries netd's ownership mark. */
bool nl_link_is_owned(const struct nl_link_info *info);

struct nl_link_list {
        struct nl_link_info *v; /* owned; sorted by ifindex */
        size_t n;
};

/* Opens a context in the network namespace NETNS_FD (a /proc/<pid>/ns/net or /run/netns/X
 * descriptor, duplicated: the caller keeps its own), or in the caller's namespace if -1. */
int nl_ctx_new(int netns_fd, struct nl_ctx **out);
void nl_ctx_free(struct nl_ctx *ctx);

/* Name patterns (fnmatch, e.g. "eth*") that mark links as physical in addition to sysfs'
 * /sys/class/net/X/device.  PATTERNS is copied; NULL or N == 0 clears them. */
int nl_ctx_set_physical_patterns(struct nl_ctx *ctx, const char *const *patterns, size_t n);

/* For netd's modules: the context's request socket (borrowed), a new socket in the same
 * namespace (caller frees with nl_socket_free), the namespace descriptor (-1 when the
 * caller's own; borrowed). */
struct nl_sock *nl_ctx_sock(struct nl_ctx *ctx);
int nl_ctx_new_socket(struct nl_ctx *ctx, struct nl_sock **out);
int nl_ctx_netns_fd(const struct nl_ctx *ctx);
/* An AF_INET datagram socket in the context's namespace, for interface ioctls (ethtool);
 * the caller closes it.  A descriptor or a negative errno. */
int nl_ctx_inet_socket(struct nl_ctx *ctx);

/* Converts a libnl error (-NLE_*) into a negative errno. */
int nl_errno(int nlerr);

/* All links of the namespace.  OUT is filled on success; free with nl_link_list_free. */
int nl_link_list(struct nl_ctx *ctx, struct nl_link_list *out);
void nl_link_list_free(struct nl_link_list *list);
/* Finds NAME in LIST, or NULL. */
const struct nl_link_info *nl_link_list_find(const struct nl_link_list *list, const char *name);

/* One link by name; -ENODEV when absent. */
int nl_link_get(struct nl_ctx *ctx, const char *name, struct nl_link_info *out);
/* The ifindex of NAME (> 0), or -ENODEV. */
int nl_link_ifindex(struct nl_ctx *ctx, const char *name);

int nl_link_set_up(struct nl_ctx *ctx, const char *name, bool up);
int nl_link_set_mtu(struct nl_ctx *ctx, const char *name, unsigned mtu);
int nl_link_set_mac(struct nl_ctx *ctx, const char *name, const uint8_t mac[6]);
int nl_link_set_promisc(struct nl_ctx *ctx, const char *name, bool on);
/* Sets IFLA_IFALIAS ("" removes it). */
int nl_link_set_alias(struct nl_ctx *ctx, const char *name, const char *alias);
/* Marks NAME as owned by netd: alias NL_OWNED_ALIAS_PREFIX + WHAT (e.g. "bridge"). */
int nl_link_mark_owned(struct nl_ctx *ctx, const char *name, const char *what);
/* Makes NAME a port of MASTER (a bridge or bond), or releases it from its master when MASTER
 * is NULL or "". */
int nl_link_set_master(struct nl_ctx *ctx, const char *name, const char *master);
/* Deletes NAME; -ENODEV when absent. */
int nl_link_delete(struct nl_ctx *ctx, const char *name);

/* For netd's modules: creates LINK (a libnl link object with a name and a type; borrowed)
 * with NLM_F_EXCL, then, when OWNER_WHAT is not NULL, marks it owned (nl_link_mark_owned).
 * If marking fails the new link is deleted again.  -EEXIST if the name is taken,
 * -EOPNOTSUPP if the kernel lacks the link type. */
struct rtnl_link;
int nl_link_create(struct nl_ctx *ctx, struct rtnl_link *link, const char *owner_what);

/* Parses "aa:bb:cc:dd:ee:ff" into MAC; -EINVAL if malformed. */
int nl_mac_parse(const char *s, uint8_t mac[6]);
/* Formats MAC into BUF (at least 18 bytes). */
void nl_mac_format(const uint8_t mac[6], char *buf);

#endif
