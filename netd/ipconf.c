/* DHCP clients, gateways and link settings (see ipconf.h). */
#include "netd/ipconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "netd/addr.h"
#include "netd/apply_report.h"
#include "netd/cidr.h"
#include "netd/dhcp.h"
#include "netd/dhcp_lease.h"
#include "netd/ethtool.h"

LOG_MODULE(ipconf)

struct client {
        char ifname[IFNAMSIZ];
        struct dhcp_client *c;
};

struct ipconf_mgr {
        char *rundir;
        struct client *v;
        size_t n, cap;
};

int ipconf_mgr_new(const char *rundir, struct ipconf_mgr **out)
{
        struct ipconf_mgr *m = calloc(1, sizeof(*m));
        if (m == NULL || (rundir != NULL && (m->rundir = strdup(rundir)) == NULL)) {
                free(m);
                return -ENOMEM;
        }
        *out = m;
        return 0;
}

void ipconf_mgr_free(struct ipconf_mgr *m)
{
        if (m == NULL)
                return;
        for (size_t i = 0; i < m->n; i++)
                dhcp_stop(m->v[i].c);
        free(m->v);
        free(m->rundir);
        free(m);
}

size_t ipconf_dhcp_clients(const struct ipconf_mgr *m)
{
        return m->n;
}

static bool wants_dhcp(const Ts__Net__ApplyBridges *w, const char *ifname)
{
        for (size_t i = 0; i < w->n_ipconfs; i++)
                if (w->ipconfs[i]->mode == TS__NET__IP_CONF__MODE__DHCP &&
                    strcmp(w->ipconfs[i]->ifname, ifname) == 0)
                        return true;
        return false;
}

static struct client *find_client(struct ipconf_mgr *m, const char *ifname)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i].ifname, ifname) == 0)
                        return &m->v[i];
        return NULL;
}

static int apply_dhcp(struct ipconf_mgr *m, struct nl_ctx *ctx, const Ts__Net__ApplyBridges *w,
                      int *actions, struct apply_report *rep)
{
        int first = 0;
        for (size_t i = 0; i < m->n;) {
                if (wants_dhcp(w, m->v[i].ifname)) {
                        i++;
                        continue;
                }
                log_info("stopping the DHCP client of %s", m->v[i].ifname);
                dhcp_stop(m->v[i].c);
                char lease[4096]; /* its lease is no more (netd reports it) */
                dhcp_lease_path(m->rundir, m->v[i].ifname, lease, sizeof(lease));
                unlink(lease);
                m->v[i] = m->v[--m->n];
                (*actions)++;
        }
        for (size_t i = 0; i < w->n_ipconfs; i++) {
                const Ts__Net__IpConf *c = w->ipconfs[i];
                if (c->mode != TS__NET__IP_CONF__MODE__DHCP || strlen(c->ifname) >= IFNAMSIZ)
                        continue;
                struct client *cl = find_client(m, c->ifname);
                if (cl != NULL && dhcp_running(cl->c))
                        continue;
                if (cl != NULL) { /* the client exited: forget it, start another */
                        dhcp_stop(cl->c);
                        *cl = m->v[--m->n];
                }
                if (m->n == m->cap) {
                        size_t cap = m->cap ? 2 * m->cap : 4;
                        struct client *v = realloc(m->v, cap * sizeof(*v));
                        if (v == NULL)
                                return -ENOMEM;
                        m->v = v;
                        m->cap = cap;
                }
                struct dhcp_client *dc;
                int r = dhcp_start(ctx, c->ifname, m->rundir, &dc);
                if (r < 0) {
                        log_warnx("DHCP on %s: %s", c->ifname, strerror(-r));
                        apply_report_add(rep, c->ifname, r, "DHCP client on %s: %s", c->ifname,
                                         r == -ENOENT ? "no DHCP client is installed"
                                                      : strerror(-r));
                        if (!first)
                                first = r;
                        continue;
                }
                cl = &m->v[m->n++];
                snprintf(cl->ifname, sizeof(cl->ifname), "%s", c->ifname);
                cl->c = dc;
                log_info("DHCP client started on %s (pid %d)", c->ifname, (int)dhcp_pid(dc));
                (*actions)++;
        }
        return first;
}

static int apply_gateways(struct nl_ctx *ctx, const Ts__Net__ApplyBridges *w, int *actions,
                          struct apply_report *rep)
{
        int first = 0;
        for (size_t i = 0; i < w->n_ipconfs; i++) {
                const Ts__Net__IpConf *c = w->ipconfs[i];
                struct cidr gw, cur;
                if (c->mode != TS__NET__IP_CONF__MODE__STATIC || c->gateway[0] == '\0')
                        continue;
                if (cidr_parse_addr(c->gateway, &gw) < 0) {
                        log_warnx("%s: unreadable gateway %s", c->ifname, c->gateway);
                        continue;
                }
                if (route_gateway_get(ctx, gw.family, &cur) == 0 && cidr_equal(&cur, &gw))
                        continue;
                int r = route_gateway_set(ctx, c->gateway, c->ifname, 1);
                if (r < 0) {
                        log_warnx("default gateway %s via %s: %s", c->gateway, c->ifname,
                                  strerror(-r));
                        apply_report_add(rep, c->ifname, r, "default gateway %s via %s: %s",
                                         c->gateway, c->ifname, strerror(-r));
                        if (!first)
                                first = r;
                        continue;
                }
                log_info("default gateway %s via %s", c->gateway, c->ifname);
                (*actions)++;
        }
        return first;
}

static int apply_links(struct nl_ctx *ctx, const Ts__Net__ApplyBridges *w, int *actions,
                       struct apply_report *rep)
{
        int first = 0;
        for (size_t i = 0; i < w->n_links; i++) {
                const Ts__Net__LinkConf *lc = w->links[i];
                struct nl_link_info li;
                if (nl_link_get(ctx, lc->name, &li) < 0)
                        continue; /* not there (yet) */
                int r = 0;
                if (lc->mtu > 0 && li.mtu != lc->mtu &&
                    (r = nl_link_set_mtu(ctx, lc->name, lc->mtu)) == 0)
                        (*actions)++;
                if (r < 0) {
                        log_warnx("%s: MTU %u: %s", lc->name, lc->mtu, strerror(-r));
                        apply_report_add(rep, lc->name, r, "%s: MTU %u: %s", lc->name, lc->mtu,
                                         strerror(-r));
                }
                if (r < 0 && !first)
                        first = r;
                bool promisc = (li.flags & IFF_PROMISC) != 0;
                r = 0;
                if (lc->promisc >= 0 && promisc != (lc->promisc > 0) &&
                    (r = nl_link_set_promisc(ctx, lc->name, lc->promisc > 0)) == 0)
                        (*actions)++;
                if (r < 0) {
                        log_warnx("%s: %s", lc->name, strerror(-r));
                        apply_report_add(rep, lc->name, r, "%s: promiscuous mode: %s", lc->name,
                                         strerror(-r));
                        if (!first)
                                first = r;
                }
                for (size_t k = 0; k < lc->n_ethtool; k++) {
                        const char *key = lc->ethtool[k]->key, *val = lc->ethtool[k]->value;
                        bool changed;
                        r = ethtool_apply(ctx, lc->name, key, val, &changed);
                        if (changed) {
                                log_info("%s: ethtool %s %s", lc->name, key, val);
                                (*actions)++;
                        }
                        /* a driver without the setting is reported, not retried as an error */
                        if (r < 0 && r != -EOPNOTSUPP && r != -EINVAL && !first)
                                first = r;
                        if (r < 0)
                                log_warnx("%s: ethtool %s %s: %s", lc->name, key, val,
                                          strerror(-r));
                }
        }
        return first;
}

/* A bond's MAC (Bond.create's MAC, or its primary member's) when the kernel's differs. */
static int apply_bond_macs(struct nl_ctx *ctx, const Ts__Net__ApplyBridges *w, int *actions,
                           struct apply_report *rep)
{
        int first = 0;
        for (size_t i = 0; i < w->n_bonds; i++) {
                const Ts__Net__Bond *b = w->bonds[i];
                uint8_t mac[6];
                struct nl_link_info li;
                if (b->mac[0] == '\0' || nl_mac_parse(b->mac, mac) < 0 ||
                    nl_link_get(ctx, b->name, &li) < 0)
                        continue; /* no bond (yet): reconcile reported why */
                if (li.has_mac && memcmp(li.mac, mac, 6) == 0)
                        continue;
                int r = nl_link_set_mac(ctx, b->name, mac);
                if (r < 0) {
                        log_warnx("%s: MAC %s: %s", b->name, b->mac, strerror(-r));
                        apply_report_add(rep, b->name, r, "%s: MAC %s: %s", b->name, b->mac,
                                         strerror(-r));
                        if (!first)
                                first = r;
                        continue;
                }
                log_info("%s: MAC %s", b->name, b->mac);
                (*actions)++;
        }
        return first;
}

int ipconf_apply(struct ipconf_mgr *m, struct nl_ctx *ctx, const Ts__Net__ApplyBridges *want,
                 int *actions, struct apply_report *report)
{
        int dummy = 0;
        if (actions == NULL)
                actions = &dummy;
        int r1 = apply_dhcp(m, ctx, want, actions, report);
        int r2 = apply_gateways(ctx, want, actions, report);
        int r3 = apply_links(ctx, want, actions, report);
        int r4 = apply_bond_macs(ctx, want, actions, report);
        return r1 ? r1 : r2 ? r2 : r3 ? r3 : r4;
}
