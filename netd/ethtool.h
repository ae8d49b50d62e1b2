/* XAPI's ethtool-* settings of PIF and VIF other_config (the SDK guide's "Advanced settings
 * for network interfaces"), applied with the SIOCETHTOOL ioctl in the context's namespace:
 *   rx, tx, sg, tso, ufo, gso: "on"/"true" or "off"/"false" (offloads);
 *   autoneg: on/off; speed: 10, 100 or 1000 (Mb/s); duplex: half or full.
 * KEY is given without the "ethtool-" prefix. */
#ifndef TS_NETD_ETHTOOL_H
#define TS_NETD_ETHTOOL_H

#include <stdbool.h>

#include "netd/nl.h"

/* True when KEY=VALUE is one of the settings above with a valid value. */
bool ethtool_valid(const char *key, const char *value);
/* Sets KEY to VALUE on IFNAME unless it already has it; *CHANGED (may be NULL) tells.
 * -EINVAL for an invalid setting, -EOPNOTSUPP when the driver cannot (veth: speed). */
int ethtool_apply(struct nl_ctx *ctx, const char *ifname, const char *key, const char *value,
                  bool *changed);

#endif
