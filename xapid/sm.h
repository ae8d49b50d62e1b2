/* SM records: one per storage driver that stord announces (its Hello state carries
 * "sm/<type>" = JSON from stord/sm_describe.c).  Drivers are refreshed on every announce;
 * records of drivers no longer announced are kept, as XAPI keeps them until removed. */
#ifndef TS_XAPID_SM_H
#define TS_XAPID_SM_H

#include <stddef.h>

struct xapi;
struct msg_peer_info;

/* Creates or updates the SM records from a stord peer's state; returns how many drivers it
 * saw, or a negative errno. */
int sm_sync_from_peer(struct xapi *x, const struct msg_peer_info *peer);

#endif
