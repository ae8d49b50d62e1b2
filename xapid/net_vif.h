/* VIF.create / VIF.destroy (net_vif.c) and the checks they share with tests. */
#ifndef TS_XAPID_NET_VIF_H
#define TS_XAPID_NET_VIF_H

#include <stdbool.h>

/* XAPI's VIF device check: a decimal integer. */
bool net_vif_valid_device(const char *dev);
/* XAPI's MAC check: "aa:bb:cc:dd:ee:ff" (or '-' separators). */
bool net_mac_valid(const char *mac);
/* The MAC XAPI derives from a VM's mac_seed and a VIF device number: locally administered,
 * unicast, the same for the same seed and device. */
void net_vif_gen_mac(const char *seed, long device, char out[18]);

#endif
