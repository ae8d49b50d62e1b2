/* Host networking in the datamodel: PIFs and networks from the NICs netd announces, and the
 * desired bridges sent back to netd (proto/net.proto).
 *
 * netd's Hello carries "nic/<device>" = JSON for each physical NIC; net_sync_from_peer
 * introduces a PIF (with PIF_metrics) per NIC, and for each the network "Pool-wide network
 * associated with ethN" on bridge "xenbrN", as XAPI names them; it is idempotent (a PIF is
 * found again by host and device, a network by its bridge).  net_apply sends the complete
 * desired state (net_desired.h: bridges with PIF and VIF ports, VLANs, bonds, IP
 * configuration) to netd; its reply carries the NICs again, which refresh the PIFs (MAC, MTU,
 * carrier).  PIF.currently_attached is the API's (PIF.plug/unplug), not the kernel's.
 *
 * Handlers here: PIF.scan, network.create (bridge "xapiN", the lowest free N, when none is
 * given), network.destroy (NETWORK_CONTAINS_PIF / NETWORK_CONTAINS_VIF as XAPI). */
#ifndef TS_XAPID_NET_H
#define TS_XAPID_NET_H

#include <stddef.h>
#include <stdint.h>

struct xapi;
struct msg_peer_info;
struct api_ctx;
struct rpc_writer;

/* Introduces or refreshes PIFs and networks from a netd peer's Hello state; returns the
 * number of NICs seen.  The caller commits. */
int net_sync_from_peer(struct xapi *x, const struct msg_peer_info *peer);

/* Sends the desired host network state (net_desired.h) to netd.  The VM lifecycle calls this
 * after attaching or detaching VIFs: the ports vif<domid>.<device> follow.  DONE (may be NULL) runs
 * exactly once, later, with 0 or -errno and a text (netd's own error, or why it could not be
 * asked); changes to PIFs made from the reply are committed before DONE runs.  Returns 0, or
 * -EHOSTUNREACH (netd is not connected: it gets the state when it says Hello) without calling DONE.
 */
int net_apply(struct xapi *x, void (*done)(int r, const char *text, void *arg), void *arg);

/* A link netd could not make as wanted in the convergence that answered (proto/net.proto
 * Failure). */
struct net_failure {
        char name[16];
        int err; /* positive errno */
        char msg[200];
};
typedef void (*net_report_fn)(int r, const char *text, const struct net_failure *fails,
                              size_t n_fails, void *arg);

/* net_apply whose DONE also receives netd's per-link failures (borrowed for the call). */
int net_apply_report(struct xapi *x, net_report_fn done, void *arg);

/* For handlers that change the desired state: sends it to netd and answers the call when
 * netd has converged (or at once when netd is not connected: it converges on its Hello).
 * REF (may be NULL) is written as the call's result.  A failure of netd is logged, not the
 * call's error: for changes that remove or bring down; calls that create or bring up use
 * net_check_apply (net_check.h), which fails them and undoes their change. */
int net_apply_and_answer(struct api_ctx *ctx, const char *ref, struct rpc_writer *w);

/* Introduces the PIF (with PIF_metrics, and its network "xenbrN" if new) of the NIC DEVICE
 * with MAC and MTU, or finds the existing one; *OUT (may be NULL) receives its row. */
struct db_row;
int net_pif_introduce(struct xapi *x, const char *device, const char *mac, int64_t mtu,
                      struct db_row **out);

/* Registers the handler of netd's LinkEvents (PIF_metrics from the kernel's link state). */
int net_events_init(struct xapi *x);
/* Registers the handler of netd's DhcpLeases (PIF.IP... of PIFs in DHCP mode; net_dhcp.c). */
int net_dhcp_events_init(struct xapi *x);

#endif
