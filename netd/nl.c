/* Netlink context, link listing and generic link changes (see nl.h). */
#include "netd/nl.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <fnmatch.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>

#include "common/log.h"

LOG_MODULE(nl)

/* Whether a link is a NIC by sysfs, remembered per (ifindex, name): the answer of a link never
 * changes, and asking sysfs for every link of every listing was a tenth of netd's time in the
 * VIF plug benchmark.  A ring: the oldest answers are forgotten first. */
#define PHYS_CACHE 256
struct phys_seen {
        int ifindex;
        char name[IFNAMSIZ];
        bool physical;
};

struct nl_ctx {
        struct nl_sock *sk;
        int netns_fd; /* owned; -1 for the creator's namespace */
        char **phys_patterns;
        size_t n_phys;
        struct phys_seen *phys_cache; /* PHYS_CACHE entries, owned; NULL: no caching */
        size_t phys_next;
};

int nl_errno(int nlerr)
{
        switch (nlerr < 0 ? -nlerr : nlerr) {
        case 0:
                return 0;
        case NLE_INTR:
                return -EINTR;
        case NLE_BAD_SOCK:
                return -EBADF;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_INVAL:
                return -EINVAL;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_MSGSIZE:
                return -EMSGSIZE;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND:
                return -ENOENT;
        case NLE_NOATTR:
                return -ENODATA;
        case NLE_AF_MISMATCH:
                return -EINVAL;
        case NLE_SEQ_MISMATCH:
        case NLE_MSG_OVERFLOW:
        case NLE_MSG_TRUNC:
        case NLE_MSG_TOOSHORT:
        case NLE_MSGTYPE_NOSUPPORT:
        case NLE_PARSE_ERR:
        case NLE_DUMP_INTR:
                return -EPROTO;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_SRCRT_NOSUPPORT:
                return -EOPNOTSUPP;
        case NLE_NODEV:
                return -ENODEV;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_PROTO_MISMATCH:
                return -EPROTONOSUPPORT;
        case NLE_IMMUTABLE:
                return -EROFS;
        default:
                return -EIO;
        }
}

/* Runs FN with the calling thread inside NETNS_FD, then returns to the original namespace. */
static int in_netns(int netns_fd, int (*fn)(void *), void *arg)
{
        if (netns_fd < 0)
                return fn(arg);
        int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (orig < 0)
                return -errno;
        int r = 0;
        if (setns(netns_fd, CLONE_NEWNET) < 0) {
                r = -errno;
                log_warn("setns into the target network namespace");
                goto out;
        }
        r = fn(arg);
        if (setns(orig, CLONE_NEWNET) < 0)
                fatal("cannot return to the original network namespace");
out:
        close(orig);
        return r;
}

static int connect_route(void *arg)
{
        struct nl_sock *sk = arg;
        return nl_errno(nl_connect(sk, NETLINK_ROUTE));
}

static int new_socket(int netns_fd, struct nl_sock **out)
{
        struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        int r = in_netns(netns_fd, connect_route, sk);
        if (r < 0) {
                nl_socket_free(sk);
                return r;
        }
        /* a link dump in a few large reads rather than a page per read: a listing per
         * convergence is most of netd's reads in the VIF plug benchmark */
        nl_socket_set_msg_buf_size(sk, 32768);
        /* the socket is inherited by DHCP clients otherwise */
        int fd = nl_socket_get_fd(sk);
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        *out = sk;
        return 0;
}

static int open_inet(void *arg)
{
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        *(int *)arg = fd;
        return 0;
}

int nl_ctx_inet_socket(struct nl_ctx *ctx)
{
        int fd = -1;
        int r = in_netns(ctx->netns_fd, open_inet, &fd);
        return r < 0 ? r : fd;
}

int nl_ctx_new(int netns_fd, struct nl_ctx **out)
{
        struct nl_ctx *ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        ctx->netns_fd = -1;
        ctx->phys_cache = calloc(PHYS_CACHE, sizeof(*ctx->phys_cache)); /* NULL: no cache */
        int r = 0;
        if (netns_fd >= 0) {
                ctx->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 0);
                if (ctx->netns_fd < 0) {
                        r = -errno;
                        goto out;
                }
        }
        r = new_socket(ctx->netns_fd, &ctx->sk);
out:
        if (r < 0) {
                nl_ctx_free(ctx);
                return r;
        }
        *out = ctx;
        return 0;
}

static void free_patterns(struct nl_ctx *ctx)
{
        for (size_t i = 0; i < ctx->n_phys; i++)
                free(ctx->phys_patterns[i]);
        free(ctx->phys_patterns);
        ctx->phys_patterns = NULL;
        ctx->n_phys = 0;
}

void nl_ctx_free(struct nl_ctx *ctx)
{
        if (!ctx)
                return;
        if (ctx->sk)
                nl_socket_free(ctx->sk);
        if (ctx->netns_fd >= 0)
                close(ctx->netns_fd);
        free_patterns(ctx);
        free(ctx->phys_cache);
        free(ctx);
}

int nl_ctx_set_physical_patterns(struct nl_ctx *ctx, const char *const *patterns, size_t n)
{
        free_patterns(ctx);
        if (!patterns || n == 0)
                return 0;
        ctx->phys_patterns = calloc(n, sizeof(char *));
        if (!ctx->phys_patterns)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ctx->phys_patterns[i] = strdup(patterns[i]);
                if (!ctx->phys_patterns[i]) {
                        ctx->n_phys = i;
                        free_patterns(ctx);
                        return -ENOMEM;
                }
        }
        ctx->n_phys = n;
        return 0;
}

struct nl_sock *nl_ctx_sock(struct nl_ctx *ctx)
{
        return ctx->sk;
}

int nl_ctx_new_socket(struct nl_ctx *ctx, struct nl_sock **out)
{
        return new_socket(ctx->netns_fd, out);
}

int nl_ctx_netns_fd(const struct nl_ctx *ctx)
{
        return ctx->netns_fd;
}

bool nl_link_is_owned(const struct nl_link_info *info)
{
        return info &&
               strncmp(info->alias, NL_OWNED_ALIAS_PREFIX, strlen(NL_OWNED_ALIAS_PREFIX)) == 0;
}

/* Reads /sys/class/net/NAME/FILE into BUF (newline stripped), but only when sysfs shows the
 * same device (same ifindex): sysfs belongs to the namespace of whoever mounted it, which
 * need not be ours. */
static int sysfs_read(const char *name, int ifindex, const char *file, char *buf, size_t len)
{
        char path[128], idx[32];
        snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", name);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        bool same = fgets(idx, sizeof(idx), f) && atoi(idx) == ifindex;
        fclose(f);
        if (!same)
                return -ENOENT;
        if (!file)
                return 0;
        snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, file);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        int r = fgets(buf, (int)len, f) ? 0 : -EIO;
        fclose(f);
        if (r == 0)
                buf[strcspn(buf, "\n")] = 0;
        return r;
}

/* A configured pattern wins over the link's kind: in test namespaces veth ends stand in for
 * NICs. */
static bool is_physical(struct nl_ctx *ctx, const char *name, int ifindex)
{
        for (size_t i = 0; i < ctx->n_phys; i++)
                if (fnmatch(ctx->phys_patterns[i], name, 0) == 0)
                        return true;
        struct phys_seen *c = ctx->phys_cache;
        for (size_t i = 0; c != NULL && i < PHYS_CACHE; i++)
                if (c[i].ifindex == ifindex && strcmp(c[i].name, name) == 0)
                        return c[i].physical;
        char path[128];
        snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
        bool phys = access(path, F_OK) == 0 && sysfs_read(name, ifindex, NULL, NULL, 0) == 0;
        if (c != NULL && ifindex > 0) {
                struct phys_seen *e = &c[ctx->phys_next++ % PHYS_CACHE];
                e->ifindex = ifindex;
                snprintf(e->name, sizeof(e->name), "%s", name);
                e->physical = phys;
        }
        return phys;
}

/* libnl 3.7 does not parse IFLA_BOND_MODE: sysfs has it ("active-backup 1"). */
static int bond_mode_of(const char *name, int ifindex)
{
        char buf[64];
        if (sysfs_read(name, ifindex, "bonding/mode", buf, sizeof(buf)) < 0)
                return -1;
        const char *sp = strchr(buf, ' ');
        return sp ? atoi(sp + 1) : -1;
}

static void fill_info(struct nl_ctx *ctx, struct rtnl_link *l, struct nl_link_info *o)
{
        memset(o, 0, sizeof(*o));
        snprintf(o->name, sizeof(o->name), "%s", rtnl_link_get_name(l) ?: "");
        o->ifindex = rtnl_link_get_ifindex(l);
        snprintf(o->kind, sizeof(o->kind), "%s", rtnl_link_get_type(l) ?: "");
        struct nl_addr *a = rtnl_link_get_addr(l);
        if (a && nl_addr_get_len(a) == 6) {
                memcpy(o->mac, nl_addr_get_binary_addr(a), 6);
                o->has_mac = true;
        }
        o->mtu = rtnl_link_get_mtu(l);
        o->flags = rtnl_link_get_flags(l);
        o->operstate = rtnl_link_get_operstate(l);
        o->carrier = rtnl_link_get_carrier(l) != 0;
        o->master = rtnl_link_get_master(l);
        o->parent = rtnl_link_get_link(l);
        o->bond_mode = -1;
        if (rtnl_link_is_vlan(l))
                o->vlan_id = rtnl_link_vlan_get_id(l);
        else if (strcmp(o->kind, "bond") == 0)
                o->bond_mode = bond_mode_of(o->name, o->ifindex);
        snprintf(o->alias, sizeof(o->alias), "%s", rtnl_link_get_ifalias(l) ?: "");
        o->physical = !(o->flags & IFF_LOOPBACK) && is_physical(ctx, o->name, o->ifindex);
}

static int cmp_ifindex(const void *a, const void *b)
{
        const struct nl_link_info *x = a, *y = b;
        return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

static const struct nl_link_info *find_index(const struct nl_link_list *list, int ifindex)
{
        struct nl_link_info key = {.ifindex = ifindex};
        return bsearch(&key, list->v, list->n, sizeof(key), cmp_ifindex);
}

int nl_link_list(struct nl_ctx *ctx, struct nl_link_list *out)
{
        struct nl_cache *cache = NULL;
        int r = nl_errno(rtnl_link_alloc_cache(ctx->sk, AF_UNSPEC, &cache));
        if (r < 0) {
                log_warnx("cannot list links: %s", strerror(-r));
                return r;
        }
        size_t n = (size_t)nl_cache_nitems(cache), i = 0;
        struct nl_link_info *v = calloc(n ? n : 1, sizeof(*v));
        if (!v) {
                nl_cache_free(cache);
                return -ENOMEM;
        }
        for (struct nl_object *obj = nl_cache_get_first(cache); obj && i < n;
             obj = nl_cache_get_next(obj))
                fill_info(ctx, (struct rtnl_link *)obj, &v[i++]);
        nl_cache_free(cache);
        out->v = v;
        out->n = i;
        qsort(v, i, sizeof(*v), cmp_ifindex);
        for (i = 0; i < out->n; i++) {
                const struct nl_link_info *m = v[i].master ? find_index(out, v[i].master) : NULL;
                const struct nl_link_info *p = v[i].parent ? find_index(out, v[i].parent) : NULL;
                if (m)
                        snprintf(v[i].master_name, IFNAMSIZ, "%s", m->name);
                if (p)
                        snprintf(v[i].parent_name, IFNAMSIZ, "%s", p->name);
        }
        return 0;
}

void nl_link_list_free(struct nl_link_list *list)
{
        if (!list)
                return;
        free(list->v);
        list->v = NULL;
        list->n = 0;
}

const struct nl_link_info *nl_link_list_find(const struct nl_link_list *list, const char *name)
{
        for (size_t i = 0; list && i < list->n; i++)
                if (strcmp(list->v[i].name, name) == 0)
                        return &list->v[i];
        return NULL;
}

static int get_kernel(struct nl_ctx *ctx, const char *name, struct rtnl_link **out)
{
        if (!name || !*name || strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        int r = nl_errno(rtnl_link_get_kernel(ctx->sk, 0, name, out));
        /* the kernel answers ENODEV for an unknown name */
        return r == -ENOENT ? -ENODEV : r;
}

int nl_link_get(struct nl_ctx *ctx, const char *name, struct nl_link_info *out)
{
        struct rtnl_link *l = NULL;
        int r = get_kernel(ctx, name, &l);
        if (r < 0)
                return r;
        fill_info(ctx, l, out);
        rtnl_link_put(l);
        if (out->master) {
                struct rtnl_link *m = NULL;
                if (rtnl_link_get_kernel(ctx->sk, out->master, NULL, &m) == 0) {
                        snprintf(out->master_name, IFNAMSIZ, "%s", rtnl_link_get_name(m));
                        rtnl_link_put(m);
                }
        }
        return 0;
}

int nl_link_ifindex(struct nl_ctx *ctx, const char *name)
{
        struct rtnl_link *l = NULL;
        int r = get_kernel(ctx, name, &l);
        if (r < 0)
                return r;
        r = rtnl_link_get_ifindex(l);
        rtnl_link_put(l);
        return r;
}

/* Applies CHANGES (consumed) to the link called NAME in one RTM_NEWLINK request. */
static int change_by_name(struct nl_ctx *ctx, const char *name, struct rtnl_link *changes,
                          const char *what)
{
        if (!name || !*name || strlen(name) >= IFNAMSIZ) {
                rtnl_link_put(changes);
                return -EINVAL;
        }
        struct rtnl_link *orig = rtnl_link_alloc();
        if (!orig) {
                rtnl_link_put(changes);
                return -ENOMEM;
        }
        /* ifindex 0 + IFLA_IFNAME: the kernel resolves the name, no lookup round trip */
        rtnl_link_set_name(orig, name);
        rtnl_link_set_name(changes, name);
        int r = nl_errno(rtnl_link_change(ctx->sk, orig, changes, 0));
        rtnl_link_put(orig);
        rtnl_link_put(changes);
        if (r < 0)
                log_debug("%s %s: %s", what, name, strerror(-r));
        return r;
}

static struct rtnl_link *new_changes(void)
{
        return rtnl_link_alloc();
}

int nl_link_set_up(struct nl_ctx *ctx, const char *name, bool up)
{
        struct rtnl_link *c = new_changes();
        if (!c)
                return -ENOMEM;
        if (up)
                rtnl_link_set_flags(c, IFF_UP);
        else
                rtnl_link_unset_flags(c, IFF_UP);
        return change_by_name(ctx, name, c, up ? "set up" : "set down");
}

int nl_link_set_mtu(struct nl_ctx *ctx, const char *name, unsigned mtu)
{
        if (mtu < 68 || mtu > 65535)
                return -EINVAL;
        struct rtnl_link *c = new_changes();
        if (!c)
                return -ENOMEM;
        rtnl_link_set_mtu(c, mtu);
        return change_by_name(ctx, name, c, "set mtu");
}

int nl_link_set_mac(struct nl_ctx *ctx, const char *name, const uint8_t mac[6])
{
        if (mac[0] & 1)
                return -EINVAL; /* multicast bit: never a valid interface address */
        struct rtnl_link *c = new_changes();
        if (!c)
                return -ENOMEM;
        struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
        if (!a) {
                rtnl_link_put(c);
                return -ENOMEM;
        }
        rtnl_link_set_addr(c, a);
        nl_addr_put(a);
        return change_by_name(ctx, name, c, "set mac");
}

int nl_link_set_promisc(struct nl_ctx *ctx, const char *name, bool on)
{
        struct rtnl_link *c = new_changes();
        if (!c)
                return -ENOMEM;
        if (on)
                rtnl_link_set_flags(c, IFF_PROMISC);
        else
                rtnl_link_unset_flags(c, IFF_PROMISC);
        return change_by_name(ctx, name, c, "set promisc");
}

int nl_link_set_alias(struct nl_ctx *ctx, const char *name, const char *alias)
{
        if (!alias || strlen(alias) >= NL_ALIAS_MAX)
                return -EINVAL;
        struct rtnl_link *c = new_changes();
        if (!c)
                return -ENOMEM;
        rtnl_link_set_ifalias(c, alias);
        return change_by_name(ctx, name, c, "set alias");
}

int nl_link_mark_owned(struct nl_ctx *ctx, const char *name, const char *what)
{
        char alias[NL_ALIAS_MAX];
        snprintf(alias, sizeof(alias), "%s%s", NL_OWNED_ALIAS_PREFIX, what ? what : "");
        return nl_link_set_alias(ctx, name, alias);
}

int nl_link_set_master(struct nl_ctx *ctx, const char *name, const char *master)
{
        int idx = 0;
        if (master && *master) {
                idx = nl_link_ifindex(ctx, master);
                if (idx < 0)
                        return idx;
        }
        struct rtnl_link *c = new_changes();
        if (!c)
                return -ENOMEM;
        rtnl_link_set_master(c, idx);
        return change_by_name(ctx, name, c, idx ? "enslave" : "release");
}

int nl_link_delete(struct nl_ctx *ctx, const char *name)
{
        if (!name || !*name || strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        struct rtnl_link *l = rtnl_link_alloc();
        if (!l)
                return -ENOMEM;
        rtnl_link_set_name(l, name);
        int r = nl_errno(rtnl_link_delete(ctx->sk, l));
        rtnl_link_put(l);
        if (r == -ENOENT)
                r = -ENODEV;
        if (r < 0)
                log_debug("delete %s: %s", name, strerror(-r));
        return r;
}

int nl_mac_parse(const char *s, uint8_t mac[6])
{
        unsigned v[6];
        char tail;
        if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                         &tail) != 6)
                return -EINVAL;
        if (strlen(s) != 17)
                return -EINVAL;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)v[i];
        return 0;
}

void nl_mac_format(const uint8_t mac[6], char *buf)
{
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                 mac[5]);
}

int nl_link_create(struct nl_ctx *ctx, struct rtnl_link *link, const char *owner_what)
{
        const char *name = rtnl_link_get_name(link);
        if (!name || !*name || strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        int r = nl_errno(rtnl_link_add(ctx->sk, link, NLM_F_CREATE | NLM_F_EXCL));
        if (r < 0) {
                log_debug("create %s (%s): %s", name, rtnl_link_get_type(link) ?: "?",
                          strerror(-r));
                return r;
        }
        if (owner_what) {
                r = nl_link_mark_owned(ctx, name, owner_what);
                if (r < 0) {
                        log_warnx("cannot mark %s as owned: %s; deleting it", name, strerror(-r));
                        (void)nl_link_delete(ctx, name);
                        return r;
                }
        }
        return 0;
}
