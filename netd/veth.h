/* veth pairs: the stand-in for a domain's backend interface (vif<domid>.<devid>) when the
 * hypervisor is simulated.  Not marked owned: their life belongs to the VIF's owner (the sim
 * backend), and reconciliation never deletes them. */
#ifndef TS_NETD_VETH_H
#define TS_NETD_VETH_H

#include "netd/nl.h"

/* Creates the pair NAME <-> PEER in the context's namespace.  -EEXIST if either exists. */
int veth_create(struct nl_ctx *ctx, const char *name, const char *peer);
/* Deletes the pair through either end; -EINVAL if NAME is not a veth, -ENODEV if absent. */
int veth_delete(struct nl_ctx *ctx, const char *name);

#endif
