/* IPv4/IPv6 addresses with a prefix length ("10.0.0.1/24", "fd00::1/64"): parsing, comparing
 * and formatting, without the kernel (reconciliation compares desired and observed ones). */
#ifndef TS_NETD_CIDR_H
#define TS_NETD_CIDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define CIDR_STR_MAX (INET6_ADDRSTRLEN + 4)

struct cidr {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        int prefix;
};

/* Parses S; a missing prefix means a host address (/32, /128).  -EINVAL if malformed. */
int cidr_parse(const char *s, struct cidr *out);
/* Parses an address without prefix (a gateway); the prefix is set to the host length. */
int cidr_parse_addr(const char *s, struct cidr *out);
bool cidr_equal(const struct cidr *a, const struct cidr *b);
/* Writes "addr/prefix" into BUF (CIDR_STR_MAX bytes). */
void cidr_format(const struct cidr *c, char *buf);
/* True for IPv6 link-local (fe80::/10) addresses, which the kernel manages itself. */
bool cidr_is_link_local(const struct cidr *c);

#endif
