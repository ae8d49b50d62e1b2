/* Linux bonds through netlink (see bond.h for the mode mapping). */
#include "netd/bond.h"

#include <errno.h>
#include <string.h>

#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "common/log.h"

LOG_MODULE(bond)

void bond_opts_init(struct bond_opts *o)
{
        o->mode = BOND_MODE_ACTIVE_BACKUP;
        o->hash = BOND_HASH_DEFAULT;
        o->lacp_fast = -1;
        o->miimon = 100;
        o->updelay = -1;
        o->downdelay = -1;
}

static const struct {
        const char *name;
        enum bond_mode mode;
} mode_names[] = {
    {"active-backup", BOND_MODE_ACTIVE_BACKUP},
    {"lacp", BOND_MODE_LACP},
    {"802.3ad", BOND_MODE_LACP},
    {"balance-slb", BOND_MODE_BALANCE_SLB},
    {"balance-tlb", BOND_MODE_BALANCE_SLB},
};

int bond_mode_from_name(const char *name, enum bond_mode *out)
{
        for (size_t i = 0; name && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
                if (strcmp(name, mode_names[i].name) == 0) {
                        *out = mode_names[i].mode;
                        return 0;
                }
        return -EINVAL;
}

const char *bond_mode_name(enum bond_mode mode)
{
        switch (mode) {
        case BOND_MODE_ACTIVE_BACKUP:
                return "active-backup";
        case BOND_MODE_LACP:
                return "lacp";
        case BOND_MODE_BALANCE_SLB:
                return "balance-slb";
        }
        return "?";
}

int bond_mode_linux(enum bond_mode mode)
{
        switch (mode) {
        case BOND_MODE_ACTIVE_BACKUP:
                return 1;
        case BOND_MODE_LACP:
                return 4;
        case BOND_MODE_BALANCE_SLB:
                return 5;
        }
        return -1;
}

int bond_hash_from_name(const char *name, enum bond_hash *out)
{
        static const struct {
                const char *name;
                enum bond_hash hash;
        } names[] = {
            {"src_mac", BOND_HASH_LAYER2},       {"layer2", BOND_HASH_LAYER2},
            {"tcpudp_ports", BOND_HASH_LAYER34}, {"layer3+4", BOND_HASH_LAYER34},
            {"layer2+3", BOND_HASH_LAYER23},
        };
        for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i].name) == 0) {
                        *out = names[i].hash;
                        return 0;
                }
        return -EINVAL;
}

static int check_opts(const struct bond_opts *o)
{
        if (bond_mode_linux(o->mode) < 0)
                return -EINVAL;
        if (o->hash != BOND_HASH_DEFAULT &&
            (o->hash < BOND_HASH_LAYER2 || o->hash > BOND_HASH_LAYER23))
                return -EINVAL;
        if (o->lacp_fast < -1 || o->lacp_fast > 1 || o->miimon < -1 || o->updelay < -1 ||
            o->downdelay < -1)
                return -EINVAL;
        return 0;
}

/* Builds RTM_NEWLINK for bond NAME with OPTS' attributes; FLAGS adds NLM_F_CREATE... */
static int build_msg(const char *name, const struct bond_opts *o, unsigned mtu, int flags,
                     struct nl_msg **out)
{
        struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | flags);
        if (!m)
                return -ENOMEM;
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
        struct nlattr *info, *data;
        if (nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
                goto too_big;
        NLA_PUT_STRING(m, IFLA_IFNAME, name);
        if (mtu)
                NLA_PUT_U32(m, IFLA_MTU, mtu);
        if (!(info = nla_nest_start(m, IFLA_LINKINFO)))
                goto too_big;
        NLA_PUT_STRING(m, IFLA_INFO_KIND, "bond");
        if (!(data = nla_nest_start(m, IFLA_INFO_DATA)))
                goto too_big;
        NLA_PUT_U8(m, IFLA_BOND_MODE, (uint8_t)bond_mode_linux(o->mode));
        NLA_PUT_U32(m, IFLA_BOND_MIIMON, (uint32_t)(o->miimon >= 0 ? o->miimon : 100));
        if (o->updelay >= 0)
                NLA_PUT_U32(m, IFLA_BOND_UPDELAY, (uint32_t)o->updelay);
        if (o->downdelay >= 0)
                NLA_PUT_U32(m, IFLA_BOND_DOWNDELAY, (uint32_t)o->downdelay);
        /* the kernel rejects xmit_hash_policy / lacp_rate in modes that do not use them */
        if (o->hash != BOND_HASH_DEFAULT && o->mode != BOND_MODE_ACTIVE_BACKUP)
                NLA_PUT_U8(m, IFLA_BOND_XMIT_HASH_POLICY, (uint8_t)o->hash);
        if (o->lacp_fast >= 0 && o->mode == BOND_MODE_LACP)
                NLA_PUT_U8(m, IFLA_BOND_AD_LACP_RATE, (uint8_t)o->lacp_fast);
        nla_nest_end(m, data);
        nla_nest_end(m, info);
        *out = m;
        return 0;
nla_put_failure:
too_big:
        nlmsg_free(m);
        return -EMSGSIZE;
}

static int send_msg(struct nl_ctx *ctx, struct nl_msg *m)
{
        /* nl_send_sync frees M and waits for the kernel's ack */
        return nl_errno(nl_send_sync(nl_ctx_sock(ctx), m));
}

int bond_create(struct nl_ctx *ctx, const char *name, const struct bond_opts *opts, unsigned mtu)
{
        struct bond_opts def;
        if (!opts) {
                bond_opts_init(&def);
                opts = &def;
        }
        if (!name || !*name || strlen(name) >= IFNAMSIZ || check_opts(opts) < 0)
                return -EINVAL;
        struct nl_msg *m = NULL;
        int r = build_msg(name, opts, mtu, NLM_F_CREATE | NLM_F_EXCL, &m);
        if (r == 0)
                r = send_msg(ctx, m);
        if (r == 0)
                r = nl_link_mark_owned(ctx, name, "bond");
        if (r < 0) {
                log_warnx("cannot create bond %s (%s): %s", name, bond_mode_name(opts->mode),
                          strerror(-r));
                if (r != -EEXIST)
                        (void)nl_link_delete(ctx, name);
                return r;
        }
        log_info("created bond %s mode %s", name, bond_mode_name(opts->mode));
        return 0;
}

static int get_bond(struct nl_ctx *ctx, const char *name, struct nl_link_info *info)
{
        int r = nl_link_get(ctx, name, info);
        if (r < 0)
                return r;
        return strcmp(info->kind, "bond") == 0 ? 0 : -EINVAL;
}

int bond_enslave(struct nl_ctx *ctx, const char *bond, const char *member)
{
        int r = nl_link_set_up(ctx, member, false);
        if (r == 0)
                r = nl_link_set_master(ctx, member, bond);
        if (r < 0)
                log_warnx("cannot enslave %s to bond %s: %s", member, bond, strerror(-r));
        else
                log_info("enslaved %s to bond %s", member, bond);
        return r;
}

int bond_release(struct nl_ctx *ctx, const char *bond, const char *member)
{
        struct nl_link_info m;
        int r = nl_link_get(ctx, member, &m);
        if (r < 0)
                return r;
        if (strcmp(m.master_name, bond) != 0)
                return -ENOENT;
        r = nl_link_set_master(ctx, member, NULL);
        if (r < 0)
                log_warnx("cannot release %s from bond %s: %s", member, bond, strerror(-r));
        return r;
}

int bond_set_opts(struct nl_ctx *ctx, const char *bond, const struct bond_opts *opts)
{
        if (!opts || check_opts(opts) < 0)
                return -EINVAL;
        struct nl_link_info info;
        int r = get_bond(ctx, bond, &info);
        if (r < 0)
                return r;
        struct nl_link_list all = {0};
        r = nl_link_list(ctx, &all);
        if (r < 0)
                return r;
        for (size_t i = 0; i < all.n; i++)
                if (all.v[i].master == info.ifindex)
                        r = -EBUSY;
        nl_link_list_free(&all);
        if (r < 0)
                return r;
        r = nl_link_set_up(ctx, bond, false);
        struct nl_msg *m = NULL;
        if (r == 0)
                r = build_msg(bond, opts, 0, 0, &m);
        if (r == 0)
                r = send_msg(ctx, m);
        if (r < 0)
                log_warnx("cannot set mode %s on bond %s: %s", bond_mode_name(opts->mode), bond,
                          strerror(-r));
        else
                log_info("bond %s now in mode %s", bond, bond_mode_name(opts->mode));
        return r;
}

int bond_delete(struct nl_ctx *ctx, const char *name)
{
        struct nl_link_info info;
        int r = get_bond(ctx, name, &info);
        if (r < 0)
                return r;
        r = nl_link_delete(ctx, name);
        if (r == 0)
                log_info("deleted bond %s", name);
        return r;
}
