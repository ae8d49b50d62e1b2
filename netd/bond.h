/* Linux bonds: create with XAPI's bond modes and properties, enslave/release members, change
 * mode, delete.  Created bonds are marked owned by netd (nl.h).
 *
 * libnl-route 3.7 cannot set bond attributes, so requests are built here with libnl's message
 * API (IFLA_LINKINFO / IFLA_INFO_DATA / IFLA_BOND_*): netlink is namespace-correct where
 * sysfs (/sys/class/net/<bond>/bonding) shows the namespace of whoever mounted it.
 *
 * XAPI's modes map to Linux modes:
 *   active-backup -> active-backup (1)
 *   lacp          -> 802.3ad (4)
 *   balance-slb   -> balance-tlb (5).  SLB (Open vSwitch) balances transmit by source MAC,
 *                    rebalances periodically, needs no switch support and receives on any
 *                    member.  balance-tlb is the closest: no switch support, transmit load
 *                    balanced across members (dynamic, like SLB's rebalancing), receive on
 *                    the current active member.  balance-alb is not used: its receive
 *                    balancing rewrites ARP replies of the host's own addresses only and is
 *                    known to misbehave under a bridge carrying guests' MACs. */
#ifndef TS_NETD_BOND_H
#define TS_NETD_BOND_H

#include <stdbool.h>

#include "netd/nl.h"

enum bond_mode {
        BOND_MODE_ACTIVE_BACKUP,
        BOND_MODE_LACP,
        BOND_MODE_BALANCE_SLB,
};

/* xmit_hash_policy; XAPI's hashing_algorithm "src_mac" is layer2, "tcpudp_ports" layer3+4 */
enum bond_hash {
        BOND_HASH_DEFAULT = -1,
        BOND_HASH_LAYER2 = 0,
        BOND_HASH_LAYER34 = 1,
        BOND_HASH_LAYER23 = 2,
};

struct bond_opts {
        enum bond_mode mode;
        enum bond_hash hash; /* used by lacp (and balance modes); BOND_HASH_DEFAULT: kernel's */
        int lacp_fast;       /* lacp_rate: 1 fast, 0 slow, -1 kernel default */
        int miimon;          /* ms; -1: 100 */
        int updelay;         /* ms, a multiple of miimon; -1: kernel default */
        int downdelay;       /* ms, a multiple of miimon; -1: kernel default */
};

/* Defaults: active-backup, miimon 100, every other option the kernel's. */
void bond_opts_init(struct bond_opts *o);

/* Names accepted: XAPI's ("active-backup", "lacp", "balance-slb") and Linux's ("802.3ad",
 * "balance-tlb").  -EINVAL if unknown. */
int bond_mode_from_name(const char *name, enum bond_mode *out);
const char *bond_mode_name(enum bond_mode mode);
/* The Linux mode number MODE maps to (1, 4 or 5). */
int bond_mode_linux(enum bond_mode mode);
/* "src_mac", "tcpudp_ports", "layer2", "layer2+3", "layer3+4"; -EINVAL if unknown. */
int bond_hash_from_name(const char *name, enum bond_hash *out);

/* Creates bond NAME with OPTS (NULL: defaults) and MTU (0: kernel default); -EEXIST if NAME
 * exists, -EOPNOTSUPP if the kernel has no bonding. */
int bond_create(struct nl_ctx *ctx, const char *name, const struct bond_opts *opts, unsigned mtu);
/* Enslaves MEMBER to BOND.  The kernel wants members down: MEMBER is set down first (the bond
 * brings it up again). */
int bond_enslave(struct nl_ctx *ctx, const char *bond, const char *member);
/* Releases MEMBER from its bond (-ENOENT if it is not a member of BOND). */
int bond_release(struct nl_ctx *ctx, const char *bond, const char *member);
/* Changes the mode (and the other options) of BOND.  Linux refuses a mode change while the
 * bond is up or has members: the caller releases them first (reconcile does), this function
 * sets the bond down and leaves it down.  -EBUSY if members remain. */
int bond_set_opts(struct nl_ctx *ctx, const char *bond, const struct bond_opts *opts);
/* Deletes bond NAME (members are released by the kernel); -EINVAL if not a bond. */
int bond_delete(struct nl_ctx *ctx, const char *name);

#endif
