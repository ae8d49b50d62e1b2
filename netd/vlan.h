/* 802.1Q VLAN devices (<parent>.<tag> style or any name) on a parent link.  Created VLANs are
 * marked owned by netd (nl.h). */
#ifndef TS_NETD_VLAN_H
#define TS_NETD_VLAN_H

#include "netd/nl.h"

/* 0 is a priority-tagged VLAN: XAPI accepts it (VLAN_TAG_INVALID is for < 0 or > 4094) and so
 * does Linux. */
#define VLAN_TAG_MIN 0
#define VLAN_TAG_MAX 4094

/* Creates VLAN device NAME on PARENT with TAG (0..4094) and MTU (0: the parent's).
 * -EINVAL for a bad tag, -ENODEV if PARENT is missing, -EEXIST if NAME exists,
 * -EOPNOTSUPP if the kernel has no 802.1Q support. */
int vlan_create(struct nl_ctx *ctx, const char *name, const char *parent, int tag, unsigned mtu);
/* Deletes VLAN device NAME; -EINVAL if NAME is not a VLAN, -ENODEV if absent. */
int vlan_delete(struct nl_ctx *ctx, const char *name);

#endif
