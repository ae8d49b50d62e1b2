/* The parts of the desired state that are not links: DHCP clients, default gateways and
 * per-link settings (MTU, promiscuous mode, ethtool-* from PIF and VIF other_config).
 *
 * ipconf_apply runs after reconcile_run on the same message: it starts the DHCP client of
 * every IpConf in mode DHCP (again when it has exited) and stops the clients of interfaces
 * no longer in DHCP mode; it sets the default route of a STATIC IpConf with a gateway when
 * the kernel's differs; it sets the MTU and promiscuous mode of the LinkConf links. */
#ifndef TS_NETD_IPCONF_H
#define TS_NETD_IPCONF_H

#include "netd/apply_report.h"
#include "netd/nl.h"
#include "proto/net.pb-c.h"

struct ipconf_mgr;

/* RUNDIR (copied; may be NULL) holds the DHCP clients' files. */
int ipconf_mgr_new(const char *rundir, struct ipconf_mgr **out);
/* Stops every DHCP client it started. */
void ipconf_mgr_free(struct ipconf_mgr *m);
/* Returns 0 or the first error (each step is still attempted); *ACTIONS (may be NULL) is
 * incremented for each change; REPORT (may be NULL) receives each failure under its link. */
int ipconf_apply(struct ipconf_mgr *m, struct nl_ctx *ctx, const Ts__Net__ApplyBridges *want,
                 int *actions, struct apply_report *report);
/* The number of DHCP clients running. */
size_t ipconf_dhcp_clients(const struct ipconf_mgr *m);

#endif
