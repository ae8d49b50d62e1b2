/* CIDR parsing and formatting (see cidr.h). */
#include "netd/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, bool allow_prefix, struct cidr *out)
{
        char buf[CIDR_STR_MAX + 1];
        if (!s || strlen(s) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, s);
        char *slash = strchr(buf, '/');
        if (slash && !allow_prefix)
                return -EINVAL;
        if (slash)
                *slash = 0;
        memset(out, 0, sizeof(*out));
        if (inet_pton(AF_INET, buf, out->addr) == 1)
                out->family = AF_INET;
        else if (inet_pton(AF_INET6, buf, out->addr) == 1)
                out->family = AF_INET6;
        else
                return -EINVAL;
        int max = out->family == AF_INET ? 32 : 128;
        out->prefix = max;
        if (slash) {
                char *end;
                errno = 0;
                long p = strtol(slash + 1, &end, 10);
                if (!slash[1] || *end || errno || p < 0 || p > max)
                        return -EINVAL;
                out->prefix = (int)p;
        }
        return 0;
}

int cidr_parse(const char *s, struct cidr *out)
{
        return parse(s, true, out);
}

int cidr_parse_addr(const char *s, struct cidr *out)
{
        return parse(s, false, out);
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
        size_t len = a->family == AF_INET ? 4 : 16;
        return a->family == b->family && a->prefix == b->prefix &&
               memcmp(a->addr, b->addr, len) == 0;
}

void cidr_format(const struct cidr *c, char *buf)
{
        char a[INET6_ADDRSTRLEN] = "?";
        inet_ntop(c->family, c->addr, a, sizeof(a));
        snprintf(buf, CIDR_STR_MAX, "%s/%d", a, c->prefix);
}

bool cidr_is_link_local(const struct cidr *c)
{
        return c->family == AF_INET6 && c->addr[0] == 0xfe && (c->addr[1] & 0xc0) == 0x80;
}
