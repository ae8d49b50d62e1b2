/* Converging the kernel to a desired network state.
 *
 * reconcile_plan is pure: from the desired state and an observed list of links and addresses
 * (nl_link_list / addr_list, or hand-made in tests) it computes the ordered actions that make
 * the kernel match.  reconcile_apply runs them; reconcile_run observes, plans and applies.
 * Running it again on a converged kernel plans nothing.
 *
 * Ownership: a link is netd's when its ifalias starts with NL_OWNED_ALIAS_PREFIX ("ts:"),
 * set when netd creates it.  Only owned bridges, VLANs and bonds are ever deleted or
 * re-created; any other link is touched only when the desired state names it (a port or a
 * bond member to enslave, an MTU to set, addresses to manage).  A desired bridge that exists
 * without the mark (made by an installer, or before netd) is adopted: marked, then managed.
 *
 * Ordering, each step planned on a model of the kernel updated by the steps before it:
 *   1. release ports that must leave a bridge or bond (not desired there, or desired
 *      elsewhere), so deletions and mode changes below find them free;
 *   2. delete owned links that are not desired or differ in what cannot be changed (kind,
 *      VLAN tag or parent): VLANs, then bonds, then bridges (a port goes before its master);
 *   3. bonds: create (or change the mode of a bond without members, down), then each member
 *      down and enslaved;
 *   4. bridges are created, then VLANs (after their parent, which may be a bond or a bridge);
 *   5. MTU: bonds, VLANs, bridge ports, then bridges (a port never below its bridge);
 *   6. bridge ports are attached (after the bridge and the port exist);
 *   7. links brought up: members and ports, then bonds, VLANs, bridges; those listed in
 *      `down` are set down instead;
 *   8. addresses: those not desired removed, then missing ones added, for the links listed in
 *      the desired addresses only (IPv6 link-local addresses are the kernel's).
 * Desired ports or members that do not exist (a VIF not created yet) are skipped. */
#ifndef TS_NETD_RECONCILE_H
#define TS_NETD_RECONCILE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/addr.h"
#include "netd/apply_report.h"
#include "netd/bond.h"
#include "netd/cidr.h"
#include "netd/nl.h"

/* The desired state.  Everything is borrowed from the caller. */
struct rc_bridge {
        const char *name;
        unsigned mtu; /* 0: leave as is */
        const char *const *ports;
        size_t n_ports;
};

struct rc_vlan {
        const char *name;
        const char *parent;
        int tag;
        unsigned mtu; /* 0: leave as is */
};

struct rc_bond {
        const char *name;
        struct bond_opts opts;
        unsigned mtu; /* 0: leave as is */
        const char *const *members;
        size_t n_members;
};

struct rc_ipconf {
        const char *ifname;
        int family; /* AF_INET or AF_INET6: only that family's addresses; AF_UNSPEC: both */
        const char *const *addrs; /* CIDR strings; an empty list removes every address */
        size_t n_addrs;
};

struct rc_desired {
        const struct rc_bridge *bridges;
        size_t n_bridges;
        const struct rc_vlan *vlans;
        size_t n_vlans;
        const struct rc_bond *bonds;
        size_t n_bonds;
        const struct rc_ipconf *ipconfs;
        size_t n_ipconfs;
        /* links held down (an unplugged PIF, its bridge): never set up, set down if up */
        const char *const *down;
        size_t n_down;
};

enum rc_op {
        RC_RELEASE,       /* name: leave its master (arg) */
        RC_DELETE,        /* name: delete (an owned link of kind arg) */
        RC_ADOPT,         /* name: mark as owned (arg: what) */
        RC_CREATE_BOND,   /* name, bond, mtu */
        RC_SET_BOND,      /* name: set bond options (mode) */
        RC_SET_DOWN,      /* name */
        RC_ENSLAVE_BOND,  /* name: member, arg: bond */
        RC_CREATE_BRIDGE, /* name, mtu */
        RC_CREATE_VLAN,   /* name, arg: parent, tag, mtu */
        RC_SET_MTU,       /* name, mtu */
        RC_ADD_PORT,      /* name: port, arg: bridge */
        RC_SET_UP,        /* name */
        RC_ADDR_DEL,      /* name, addr */
        RC_ADDR_ADD,      /* name, addr */
};

struct rc_action {
        enum rc_op op;
        char name[IFNAMSIZ];
        char arg[IFNAMSIZ];
        unsigned mtu;
        int tag;
        struct bond_opts bond;
        struct cidr addr;
};

struct rc_plan {
        struct rc_action *v; /* owned */
        size_t n, cap;
        struct apply_report *report; /* borrowed, may be NULL: what could not be done */
};

/* Plans from DESIRED and the observed LINKS and ADDRS (ADDRS may be NULL: no address
 * management).  PLAN is filled (free with rc_plan_free).  -EINVAL if DESIRED is inconsistent
 * (bad tag or CIDR, a name desired twice, a port wanted by two masters). */
int reconcile_plan(const struct rc_desired *desired, const struct nl_link_list *links,
                   const struct addr_list *addrs, struct rc_plan *plan);
void rc_plan_free(struct rc_plan *plan);
/* The same, noting in REPORT (may be NULL) the links that cannot be made as desired (a link
 * of that name that is not netd's, a VLAN whose parent is missing or whose tag the parent
 * already carries under another name: EBUSY); PLAN keeps REPORT for reconcile_apply. */
int reconcile_plan_report(const struct rc_desired *desired, const struct nl_link_list *links,
                          const struct addr_list *addrs, struct apply_report *report,
                          struct rc_plan *plan);

const char *rc_op_name(enum rc_op op);
/* One line describing A ("create-bridge xenbr0 mtu=1500") into BUF. */
void rc_action_format(const struct rc_action *a, char *buf, size_t len);

/* Runs PLAN in order.  A failing action is logged (and noted in PLAN->report under the
 * action's link) and the rest still run (the next reconciliation retries); returns the
 * first error. */
int reconcile_apply(struct nl_ctx *ctx, const struct rc_plan *plan);

/* Observes the kernel, plans and applies.  When PLAN_OUT is not NULL it receives the plan
 * that ran (caller frees). */
int reconcile_run(struct nl_ctx *ctx, const struct rc_desired *desired, struct rc_plan *plan_out);

#endif
