/* Host networking in the datamodel: PIFs and networks from the NICs netd announces, and the
 * desired bridges sent back to netd (proto/net.proto).
 *
 * netd's Hello carries "nic/<device>" = JSON for each physical NIC; net_sync_from_peer
 * introduces a PIF (with PIF_metrics) per NIC, and for each the network "Pool-wide network
 * associated with ethN" on bridge "xenbrN", as XAPI names them; it is idempotent (a PIF is
 * found again by host and device, a network by its bridge).  net_apply sends the complete
 * set of bridges of managed networks (ports: this host's physical PIFs on them) to netd;
 * its reply carries the NICs again, which refresh the PIFs (MTU, carrier, attached).
 *
 * Handlers here: PIF.scan, network.create (bridge "xapiN", the lowest free N, when none is
 * given), network.destroy (NETWORK_CONTAINS_PIF / NETWORK_CONTAINS_VIF as XAPI). */
#ifndef TS_XAPID_NET_H
#define TS_XAPID_NET_H

struct xapi;
struct msg_peer_info;

/* Introduces or refreshes PIFs and networks from a netd peer's Hello state; returns the
 * number of NICs seen.  The caller commits. */
int net_sync_from_peer(struct xapi *x, const struct msg_peer_info *peer);

/* Sends the desired bridges to netd.  DONE (may be NULL) runs exactly once, later, with 0 or
 * -errno and a text (netd's own error, or why it could not be asked); changes to PIFs made
 * from the reply are committed before DONE runs.  Returns 0, or -EHOSTUNREACH (netd is not
 * connected: it gets the state when it says Hello) without calling DONE. */
int net_apply(struct xapi *x, void (*done)(int r, const char *text, void *arg), void *arg);

#endif
