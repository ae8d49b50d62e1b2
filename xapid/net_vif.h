/* Checks the network handlers share (net_vif.c, net_pif.c), visible to tests. */
#ifndef TS_XAPID_NET_VIF_H
#define TS_XAPID_NET_VIF_H

#include <stdbool.h>

/* XAPI's VIF device check: an unsigned decimal integer. */
bool net_vif_valid_device(const char *dev);
/* XAPI's MAC check: "aa:bb:cc:dd:ee:ff" (or '-' separators). */
bool net_mac_valid(const char *mac);
/* The MAC XAPI derives from a VM's mac_seed and a VIF device number: locally administered,
 * unicast, the same for the same seed and device. */
void net_vif_gen_mac(const char *seed, long device, char out[18]);

/* XAPI's checks before a PIF goes down (PIF.unplug, VLAN.destroy): managed, not the
 * management PIF, no VIF in use on its network, unplug allowed.  0 or -EINVAL with ERR set. */
struct db;
struct db_row;
struct api_error;
int net_pif_assert_unpluggable(struct db *db, struct db_row *row, struct api_error *err);

#endif
