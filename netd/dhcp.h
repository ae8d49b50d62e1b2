/* DHCP through the system's DHCP client (dhclient, udhcpc or dhcpcd), run as a foreground
 * child process for one interface, in the context's network namespace.  The client itself
 * configures the address and routes; netd only starts and stops it. */
#ifndef TS_NETD_DHCP_H
#define TS_NETD_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "netd/nl.h"

enum dhcp_client_kind {
        DHCP_DHCLIENT,
        DHCP_UDHCPC,
        DHCP_DHCPCD,
};

/* Finds a DHCP client in $PATH, then /usr/sbin, /sbin, /usr/bin, /bin (in this order of
 * preference: dhclient, udhcpc, dhcpcd).  PATH receives the program (LEN bytes).
 * -ENOENT when there is none. */
int dhcp_find_client(char *path, size_t len, enum dhcp_client_kind *kind);
const char *dhcp_client_name(enum dhcp_client_kind kind);

struct dhcp_client;

/* Starts the DHCP client for IFNAME (IPv4).  RUNDIR (may be NULL) holds its pid/lease files
 * when the client takes them.  -ENOENT with a logged explanation when no client is
 * installed.  The caller owns *OUT and ends it with dhcp_stop. */
int dhcp_start(struct nl_ctx *ctx, const char *ifname, const char *rundir,
               struct dhcp_client **out);
pid_t dhcp_pid(const struct dhcp_client *c);
/* True while the client runs (reaps it when it has exited). */
bool dhcp_running(struct dhcp_client *c);
/* Stops the client (SIGTERM, then SIGKILL after 2 s), reaps it and frees C. */
void dhcp_stop(struct dhcp_client *c);

#endif
