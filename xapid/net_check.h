/* API calls that fail when netd cannot make their part of the desired state.
 *
 * A handler that changed the datamodel names the kernel links its change wants and how to
 * undo it, then calls net_check_apply instead of net_apply_and_answer.  The desired state
 * goes to netd and the call waits for its reply (bounded by net.c's timeout); netd reports
 * per link what it could not do (proto/net.proto Failure).  When one of the call's links
 * failed, the undo runs (the datamodel must not claim what the kernel does not have), the
 * desired state is sent again (netd removes what it made of the change) and the call fails
 * with XAPI's error for a failure of its network daemon:
 *  - VLAN_IN_USE [device; tag] when the tag is already on the device under another name
 *    (xcp-networkd's Vlan_in_use);
 *  - PIF_CONFIGURATION_ERROR [PIF; netd's message] when the call is about a PIF (PIF.plug,
 *    PIF.reconfigure_ip/ipv6, VLAN.create, Bond.create), as XAPI's transform_networkd_exn;
 *  - BRIDGE_NAME_EXISTS [bridge] for a network whose bridge name is taken in the kernel by a
 *    link netd does not own;
 *  - INTERNAL_ERROR [netd's message] otherwise (network.create, VIF.plug).
 * When netd is not connected, or does not answer, the call succeeds as before: netd
 * converges on its Hello, and its failures are then only logged. */
#ifndef TS_XAPID_NET_CHECK_H
#define TS_XAPID_NET_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct api_ctx;
struct rpc_writer;
struct xapi;

#define NET_CHECK_MAX_LINKS 8

struct net_check {
        const char *links[NET_CHECK_MAX_LINKS]; /* kernel links the change wants */
        size_t n_links;
        const char *pif;    /* the PIF the call is about (PIF_CONFIGURATION_ERROR), or NULL */
        const char *bridge; /* its bridge (BRIDGE_NAME_EXISTS when taken), or NULL */
        const char *vlan;   /* its VLAN device (VLAN_IN_USE), or NULL */
        const char *vlan_parent;
        int64_t vlan_tag;
        /* Undoes the handler's change in the datamodel; UNDO_ARG is freed with FREE_UNDO_ARG
         * (NULL: free()) when the call ends, whether UNDO ran or not.  All may be NULL. */
        void (*undo)(struct xapi *x, void *undo_arg);
        void *undo_arg;
        void (*free_undo_arg)(void *undo_arg);
};

/* Sends the desired state and answers the call (REF, may be NULL, as its result) when netd
 * has converged, or fails it as above.  Strings of CHECK are copied.  Returns 0 or -ENOMEM
 * (then UNDO_ARG is freed and nothing was sent). */
int net_check_apply(struct api_ctx *ctx, const struct net_check *check, const char *ref,
                    struct rpc_writer *w);

#endif
