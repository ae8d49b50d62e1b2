/* PIF.plug, PIF.reconfigure_ip and PIF.reconfigure_ipv6 fail when netd cannot make the PIF's
 * part (net_check.h): the PIF's device and its bridge are the links watched, and the undo
 * restores the PIF's plug state and IP configuration (and the host's address) as they were
 * before the call. */
#ifndef TS_XAPID_NET_PIF_CHECK_H
#define TS_XAPID_NET_PIF_CHECK_H

struct api_ctx;
struct db;
struct db_row;
struct rpc_writer;

/* The PIF's state before the call changes it: take it first, then change the datamodel. */
struct net_pif_snapshot;
struct net_pif_snapshot *net_pif_snapshot(struct db *db, const struct db_row *pif);

/* Sends the desired state; the call fails with PIF_CONFIGURATION_ERROR [PIF; why] and the PIF
 * is restored from SNAP (consumed; NULL: no undo) when netd cannot make the PIF's device or
 * bridge. */
int net_pif_check_apply(struct api_ctx *ctx, const struct db_row *pif,
                        struct net_pif_snapshot *snap, struct rpc_writer *w);

#endif
