/* The desired state xapid sends (ts.net.ApplyBridges) in the form reconcile.c plans from.
 *
 * desired_from_msg translates the message: bridges, VLANs, bonds (XAPI's modes and
 * properties into bond_opts), the links held down, and the address part of the IP
 * configurations (STATIC: its addresses, NONE: none; DHCP is left to the DHCP client, see
 * ipconf.h).  Strings are borrowed from the message, which must outlive the result. */
#ifndef TS_NETD_DESIRED_H
#define TS_NETD_DESIRED_H

#include <stdbool.h>

#include "netd/reconcile.h"
#include "proto/net.pb-c.h"

struct desired {
        struct rc_desired rc;
        struct rc_bridge *bridges; /* owned arrays behind rc */
        struct rc_vlan *vlans;
        struct rc_bond *bonds;
        struct rc_ipconf *ipconfs;
};

/* -EINVAL for an unknown bond mode; -ENOMEM. */
int desired_from_msg(const Ts__Net__ApplyBridges *m, struct desired *out);
void desired_free(struct desired *d);

/* Bond options from XAPI's mode name and properties (hashing_algorithm, lacp-time,
 * bond-miimon, bond-updelay, bond-downdelay); -EINVAL for an unknown mode.  A property
 * with an unreadable value is logged and left at the kernel's default. */
int desired_bond_opts(const char *mode, Ts__Net__KeyValue *const *props, size_t n,
                      struct bond_opts *out);

/* True when NAME is a port, bond member or VLAN parent M wants: a link whose appearance
 * must trigger a reconciliation. */
bool desired_mentions(const Ts__Net__ApplyBridges *m, const char *name);

/* A deep copy of M (free with ts__net__apply_bridges__free_unpacked(copy, NULL)). */
Ts__Net__ApplyBridges *desired_copy(const Ts__Net__ApplyBridges *m);

#endif
