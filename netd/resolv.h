/* The host's resolv.conf from the desired state's Resolver (proto/net.proto): the management
 * interface's Static DNS servers and search domains, or what its DHCP lease gave.
 *
 * The file (netd's network.resolv_conf, so that a development stack writes into its own state
 * directory) is replaced atomically, and only when its content differs; it starts with
 * RESOLV_HEADER.  With no Resolver (no management interface, mode None, no DNS) the file
 * netd wrote is removed; a file netd did not write (no header) is never removed. */
#ifndef TS_NETD_RESOLV_H
#define TS_NETD_RESOLV_H

#include <stddef.h>

#include "netd/apply_report.h"
#include "proto/net.pb-c.h"

#define RESOLV_HEADER "# Written by netd from the management interface; changes are lost.\n"

/* The content for WANT into BUF (LEN bytes): the header, "search" and "nameserver" lines.
 * NAMESERVERS/N_NS and SEARCH/N_SEARCH override WANT's when N_NS > 0 (a DHCP lease's).
 * Returns the length, or -ENOSPC. */
int resolv_format(const Ts__Net__Resolver *want, const char *const *nameservers, size_t n_ns,
                  char *buf, size_t len);

/* Makes PATH hold CONTENT (NULL: removes the file when netd wrote it).  *CHANGED (may be
 * NULL) is set when the file changed.  0 or -errno. */
int resolv_write(const char *path, const char *content, int *changed);

#endif
