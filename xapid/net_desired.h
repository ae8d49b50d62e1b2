/* The desired host network state, computed from the datamodel for netd (ts.net.ApplyBridges).
 *
 * For this host:
 *  - a bridge per managed network (MTU: the network's, or the PIF's other_config:mtu), whose
 *    ports are the kernel devices of its plugged PIFs (a NIC "eth0", a VLAN "eth0.5", a bond
 *    "bond0"; never a bond member) and "vif<domid>.<device>" for every VIF with
 *    currently_attached on a VM resident here, Running or Paused, with a domid >= 0;
 *  - a VLAN device "<device>.<tag>" on the tagged PIF's device for each plugged VLAN PIF;
 *  - a bond per Bond whose master PIF is here (members: the slaves' devices; properties:
 *    Bond.properties and the master's other_config bond-* keys);
 *  - the IP configuration of each plugged PIF on its bridge (IPv4: None/DHCP/Static, IPv6:
 *    None/Static; the gateway only for the management PIF; a management PIF in mode None is
 *    left as it is, so that an address an installer set stays);
 *  - the NICs of unplugged PIFs held down, and their bridge too when nothing else uses it;
 *  - other_config:promiscuous and ethtool-* (netd/ethtool.h) of PIFs and VIFs.
 * Strings point into the datamodel or into storage owned by the result: send it before the
 * datamodel changes, then free it. */
#ifndef TS_XAPID_NET_DESIRED_H
#define TS_XAPID_NET_DESIRED_H

#include <stddef.h>

#include "proto/net.pb-c.h"

struct db;
struct api_PIF;

struct net_desired {
        Ts__Net__ApplyBridges msg;
        void **owned; /* every allocation behind msg */
        size_t n_owned, cap_owned;
};

int net_desired_build(struct db *db, const char *host_ref, struct net_desired *out);
void net_desired_free(struct net_desired *d);

/* The kernel name of PIF's device into BUF: "eth0", "bond0", or "eth0.5" for a VLAN PIF. */
void net_pif_kernel_name(const struct api_PIF *p, char *buf, size_t len);

/* XAPI's "true"/"on" of other_config flags. */
int net_flag_value(const char *v);

#endif
