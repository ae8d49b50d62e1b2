/* ethtool settings through SIOCETHTOOL (see ethtool.h).  The legacy per-offload commands
 * (ETHTOOL_[GS]{RXCSUM,TXCSUM,SG,TSO,UFO,GSO}) and ETHTOOL_[GS]SET are still served by the
 * kernel, which maps them onto its feature flags and link settings. */
#include "netd/ethtool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>

static const struct {
        const char *key;
        unsigned get, set;
} offloads[] = {
    {"rx", ETHTOOL_GRXCSUM, ETHTOOL_SRXCSUM}, {"tx", ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM},
    {"sg", ETHTOOL_GSG, ETHTOOL_SSG},         {"tso", ETHTOOL_GTSO, ETHTOOL_STSO},
    {"ufo", ETHTOOL_GUFO, ETHTOOL_SUFO},      {"gso", ETHTOOL_GGSO, ETHTOOL_SGSO},
};

static int flag_of(const char *v)
{
        if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
                return 1;
        if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0)
                return 0;
        return -1;
}

static int offload_index(const char *key)
{
        for (size_t i = 0; i < sizeof(offloads) / sizeof(offloads[0]); i++)
                if (strcmp(offloads[i].key, key) == 0)
                        return (int)i;
        return -1;
}

bool ethtool_valid(const char *key, const char *value)
{
        if (offload_index(key) >= 0 || strcmp(key, "autoneg") == 0)
                return flag_of(value) >= 0;
        if (strcmp(key, "speed") == 0)
                return strcmp(value, "10") == 0 || strcmp(value, "100") == 0 ||
                       strcmp(value, "1000") == 0;
        if (strcmp(key, "duplex") == 0)
                return strcmp(value, "half") == 0 || strcmp(value, "full") == 0;
        return false;
}

static int do_ioctl(int fd, const char *ifname, void *data)
{
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        ifr.ifr_data = data;
        return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

static int apply_offload(int fd, const char *ifname, int i, int on, bool *changed)
{
        struct ethtool_value v = {.cmd = offloads[i].get};
        int r = do_ioctl(fd, ifname, &v);
        if (r < 0)
                return r;
        if ((v.data != 0) == (on != 0))
                return 0;
        v = (struct ethtool_value){.cmd = offloads[i].set, .data = (unsigned)on};
        r = do_ioctl(fd, ifname, &v);
        if (r == 0)
                *changed = true;
        return r;
}

/* The legacy ETHTOOL_GSET/SSET interface: deprecated but still served, and enough for the
 * three settings XAPI documents. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int apply_link(int fd, const char *ifname, const char *key, const char *value, bool *changed)
{
        struct ethtool_cmd c = {.cmd = ETHTOOL_GSET};
        int r = do_ioctl(fd, ifname, &c);
        if (r < 0)
                return r;
        struct ethtool_cmd want = c;
        if (strcmp(key, "speed") == 0)
                ethtool_cmd_speed_set(&want, (unsigned)atoi(value));
        else if (strcmp(key, "duplex") == 0)
                want.duplex = strcmp(value, "full") == 0 ? DUPLEX_FULL : DUPLEX_HALF;
        else
                want.autoneg = flag_of(value) ? AUTONEG_ENABLE : AUTONEG_DISABLE;
        if (ethtool_cmd_speed(&want) == ethtool_cmd_speed(&c) && want.duplex == c.duplex &&
            want.autoneg == c.autoneg)
                return 0;
        want.cmd = ETHTOOL_SSET;
        r = do_ioctl(fd, ifname, &want);
        if (r == 0)
                *changed = true;
        return r;
}
#pragma GCC diagnostic pop

int ethtool_apply(struct nl_ctx *ctx, const char *ifname, const char *key, const char *value,
                  bool *changed)
{
        bool dummy;
        if (changed == NULL)
                changed = &dummy;
        *changed = false;
        if (!ethtool_valid(key, value) || strlen(ifname) >= IFNAMSIZ)
                return -EINVAL;
        int fd = nl_ctx_inet_socket(ctx);
        if (fd < 0)
                return fd;
        int i = offload_index(key);
        int r = i >= 0 ? apply_offload(fd, ifname, i, flag_of(value), changed)
                       : apply_link(fd, ifname, key, value, changed);
        close(fd);
        return r;
}
