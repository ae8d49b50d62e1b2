/* DHCP leases: the hook script netd gives the system's DHCP client, and the lease files it
 * leaves.
 *
 * The script (written into netd's run directory) handles udhcpc's events ($1: bound, renew,
 * deconfig...) and dhclient's or dhcpcd's ($reason: BOUND, RENEW, EXPIRE...): on a lease it
 * sets the address and the default route on the interface and writes
 * "<rundir>/dhcp-<interface>.lease" (ip=, netmask=, gateway=, dns= lines); when the lease
 * goes it flushes the interface's IPv4 addresses and removes the file.  netd reads the files
 * (dhcp_lease_read), reports changes to xapid (ts.net.DhcpLease: PIF.IP, netmask, gateway,
 * DNS) and writes resolv.conf from the management interface's lease. */
#ifndef TS_NETD_DHCP_LEASE_H
#define TS_NETD_DHCP_LEASE_H

#include <stdbool.h>
#include <stddef.h>

#define DHCP_SCRIPT_NAME "netd-dhcp-hook"
#define DHCP_MAX_DNS     4

struct dhcp_lease {
        bool bound;
        char ip[64], netmask[64], gateway[64];
        char dns[DHCP_MAX_DNS][64];
        size_t n_dns;
};

/* Writes the hook script into RUNDIR (PATH receives its path).  0 or -errno.  Without a run
 * directory (netd's kernel layer driven alone) the client keeps its own hook. */
int dhcp_script_install(const char *rundir, char *path, size_t len);

/* The lease file of IFNAME in RUNDIR into PATH. */
void dhcp_lease_path(const char *rundir, const char *ifname, char *path, size_t len);

/* Reads IFNAME's lease; no file (or an unreadable one) is a lease with BOUND false. */
void dhcp_lease_read(const char *rundir, const char *ifname, struct dhcp_lease *out);

/* Parses the lines of a lease file (TEXT) into OUT (bound when it has an ip=). */
void dhcp_lease_parse(const char *text, struct dhcp_lease *out);

bool dhcp_lease_equal(const struct dhcp_lease *a, const struct dhcp_lease *b);

#endif
