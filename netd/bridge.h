/* Linux bridges: create, plug and unplug ports, list ports, delete.  Bridges created here are
 * marked owned by netd (nl.h).  Plugging and unplugging are one or two netlink round trips and
 * never run a program, so they fit the VIF plug path of a VM start. */
#ifndef TS_NETD_BRIDGE_H
#define TS_NETD_BRIDGE_H

#include <stdint.h>

#include "netd/nl.h"

/* Creates bridge NAME, with MTU (0: kernel default) and MAC (NULL: kernel's choice).
 * -EEXIST if NAME exists. */
int bridge_create(struct nl_ctx *ctx, const char *name, unsigned mtu, const uint8_t *mac);
/* Makes PORT a port of BRIDGE (moving it from any other bridge).  -EINVAL if BRIDGE is not a
 * bridge, -ENODEV if either is missing. */
int bridge_add_port(struct nl_ctx *ctx, const char *bridge, const char *port);
/* Releases PORT from BRIDGE; -ENOENT if PORT is not a port of BRIDGE. */
int bridge_del_port(struct nl_ctx *ctx, const char *bridge, const char *port);
/* The ports of BRIDGE, into OUT (free with nl_link_list_free). */
int bridge_list_ports(struct nl_ctx *ctx, const char *bridge, struct nl_link_list *out);
/* Deletes bridge NAME (its ports are released by the kernel); -EINVAL if it is not a bridge,
 * -ENODEV if absent. */
int bridge_delete(struct nl_ctx *ctx, const char *name);

#endif
