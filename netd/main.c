/* netd: the network daemon.  It connects to xapid, announces itself and its NICs, and
 * converges the kernel's networking to the desired state xapid holds (netd/reconcile.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proctitle.h"
#include "netd/addr.h"
#include "netd/desired.h"
#include "netd/dhcp_lease.h"
#include "netd/ipconf.h"
#include "netd/link_monitor.h"
#include "netd/nic_facts.h"
#include "netd/nl.h"
#include "netd/reconcile.h"
#include "netd/resolv.h"
#include "proto/net.pb-c.h"

#include <event2/event.h>

LOG_MODULE(netd)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"network.physical", CFG_STRING, "eth*", 0, 0,
     "pattern of interface names that count as physical NICs (besides real devices)"},
    {"network.resolv_conf", CFG_STRING, "/etc/resolv.conf", 0, 0,
     "the resolver file netd writes from the management interface's DNS configuration"},
    {NULL},
};

/* What netd last told xapid about a NIC, so that only changes become LinkEvents. */
struct nic_seen {
        char name[IFNAMSIZ];
        bool carrier, up;
        unsigned mtu;
        struct nic_facts facts;
        bool sent;
};

struct netd {
        struct daemon d;
        struct nl_ctx *nl;
        unsigned long long applies;     /* ApplyBridges handled */
        unsigned long long reconverges; /* reconciliations started by a link appearing */
        Ts__Net__ApplyBridges *want;    /* the last desired state; NULL before the first */
        struct ipconf_mgr *ipconf;
        struct link_monitor *monitor;
        struct event *reconverge; /* deferred reconciliation after link events */
        struct nic_seen *nics;
        size_t n_nics, cap_nics;
        char (*virt)[IFNAMSIZ]; /* links known not to be NICs: no LinkEvents, no lookups */
        size_t n_virt, cap_virt;
        struct event *lease_timer; /* reads the DHCP leases while DHCP is wanted */
        bool resolv_known;         /* resolv_last is what the file holds (as netd last made it) */
        char *resolv_last;         /* NULL: no file of netd's */
        struct lease_seen {
                char ifname[IFNAMSIZ];
                struct dhcp_lease lease; /* as last reported to xapid */
        } * leases;
        size_t n_leases;
};

/* The physical NICs into the Hello state: "nic/<dev>" = JSON (proto/net.proto), "nics". */
static void announce_nics(struct netd *n)
{
        struct nl_link_list links = {0};
        int r = nl_link_list(n->nl, &links);
        if (r < 0) {
                log_warnx("cannot list links: %s", strerror(-r));
                return;
        }
        size_t count = 0;
        for (size_t i = 0; i < links.n; i++) {
                const struct nl_link_info *li = &links.v[i];
                if (!li->physical)
                        continue;
                char mac[18] = "";
                if (li->has_mac)
                        nl_mac_format(li->mac, mac);
                char key[IFNAMSIZ + 8], json[256];
                snprintf(key, sizeof(key), "nic/%s", li->name);
                snprintf(json, sizeof(json),
                         "{\"device\": \"%s\", \"MAC\": \"%s\", \"MTU\": %u, \"carrier\": %s, "
                         "\"up\": %s, \"physical\": true}",
                         li->name, mac, li->mtu, li->carrier ? "true" : "false",
                         (li->flags & IFF_UP) ? "true" : "false");
                msg_link_set_state(n->d.link, key, json);
                count++;
        }
        nl_link_list_free(&links);
        char num[32];
        snprintf(num, sizeof(num), "%zu", count);
        msg_link_set_state(n->d.link, "nics", num);
        log_info("announcing %zu physical NIC(s)", count);
}

struct nic_buf {
        struct nl_link_list links;
        Ts__Net__Nic *v;
        char (*macs)[18];
};

/* The current NICs into REP (for ApplyBridgesReply), pointing into B (free_nics).  B->links
 * may already hold a listing that is still right (converge's, when it changed no NIC). */
static void fill_nics(struct netd *n, Ts__Net__ApplyBridgesReply *rep, struct nic_buf *b)
{
        struct nl_link_list *links = &b->links;
        if (links->v == NULL && nl_link_list(n->nl, links) < 0)
                return;
        rep->nics = calloc(links->n ? links->n : 1, sizeof(*rep->nics));
        Ts__Net__Nic *v = b->v = calloc(links->n ? links->n : 1, sizeof(*v));
        char(*macs)[18] = b->macs = calloc(links->n ? links->n : 1, sizeof(*macs));
        if (rep->nics == NULL || v == NULL || macs == NULL) {
                free(rep->nics);
                rep->nics = NULL;
                return;
        }
        for (size_t i = 0; i < links->n; i++) {
                const struct nl_link_info *li = &links->v[i];
                if (!li->physical)
                        continue;
                Ts__Net__Nic *nic = &v[rep->n_nics];
                ts__net__nic__init(nic);
                if (li->has_mac)
                        nl_mac_format(li->mac, macs[rep->n_nics]);
                nic->device = (char *)li->name;
                nic->mac = macs[rep->n_nics];
                nic->mtu = li->mtu;
                nic->carrier = li->carrier;
                nic->up = (li->flags & IFF_UP) != 0;
                nic->physical = true;
                rep->nics[rep->n_nics++] = nic;
        }
}

static void free_nics(Ts__Net__ApplyBridgesReply *rep, struct nic_buf *b)
{
        free(rep->nics);
        free(b->v);
        free(b->macs);
        nl_link_list_free(&b->links);
}

/* True when PLAN changes a link LINKS lists as a NIC (its MTU, state, master...). */
static bool plan_touches_nic(const struct rc_plan *plan, const struct nl_link_list *links)
{
        for (size_t i = 0; i < plan->n; i++) {
                const struct nl_link_info *li = nl_link_list_find(links, plan->v[i].name);
                if (li != NULL && li->physical)
                        return true;
        }
        return false;
}

/* The resolver file from N->want's Resolver (netd/resolv.h). */
static int apply_resolver(struct netd *n, int *actions, struct apply_report *report)
{
        const Ts__Net__Resolver *want = n->want->resolver;
        const char *path = cfg_get_str(n->d.cfg, "network.resolv_conf");
        char content[2048];
        int r = 0, changed = 0;
        /* in DHCP mode the lease's servers */
        struct dhcp_lease lease = {0};
        const char *lease_dns[DHCP_MAX_DNS];
        if (want != NULL && want->dhcp_ifname[0] != '\0')
                dhcp_lease_read(n->d.run_dir, want->dhcp_ifname, &lease);
        for (size_t i = 0; i < lease.n_dns; i++)
                lease_dns[i] = lease.dns[i];
        bool wanted = want != NULL && (want->n_nameservers > 0 || lease.n_dns > 0);
        if (wanted &&
            (r = resolv_format(want, lease_dns, lease.n_dns, content, sizeof(content))) < 0) {
                apply_report_add(report, want->ifname, r, "resolver: too many entries");
                return r;
        }
        /* the file as netd last made it needs no look (every VIF plug converges) */
        const char *now = wanted ? content : NULL;
        if (n->resolv_known &&
            (now == NULL ? n->resolv_last == NULL : n->resolv_last && !strcmp(now, n->resolv_last)))
                return 0;
        r = resolv_write(path, now, &changed);
        n->resolv_known = r == 0;
        free(n->resolv_last);
        n->resolv_last = r == 0 && now != NULL ? strdup(now) : NULL;
        if (r < 0) {
                log_warnx("cannot write %s: %s", path, strerror(-r));
                if (want != NULL)
                        apply_report_add(report, want->ifname, r, "cannot write %s: %s", path,
                                         strerror(-r));
                return r;
        }
        if (changed) {
                log_info("%s %s", wanted ? "wrote" : "removed", path);
                (*actions)++;
        }
        return 0;
}

/* Converges the kernel to N->want: links and addresses (reconcile.c), then DHCP clients,
 * gateways and link settings (ipconf.c).  *ACTIONS receives the number of changes.  When
 * LINKS_OUT is not NULL it receives the listing the plan was made from if the NICs in it are
 * still right (no action touched one), else stays empty (the caller lists again).  REPORT
 * (may be NULL) receives what could not be done, per link. */
static int converge(struct netd *n, int *actions, struct nl_link_list *links_out,
                    struct apply_report *report)
{
        *actions = 0;
        if (n->want == NULL)
                return 0;
        struct desired want;
        int r = desired_from_msg(n->want, &want);
        if (r < 0)
                return r;
        struct nl_link_list links = {0};
        struct addr_list addrs = {0};
        struct rc_plan plan = {0};
        r = nl_link_list(n->nl, &links);
        if (r == 0 && want.rc.n_ipconfs)
                r = addr_list(n->nl, &addrs);
        if (r == 0)
                r = reconcile_plan_report(&want.rc, &links, want.rc.n_ipconfs ? &addrs : NULL,
                                          report, &plan);
        if (r == 0)
                r = reconcile_apply(n->nl, &plan);
        desired_free(&want);
        addr_list_free(&addrs);
        *actions = (int)plan.n;
        if (links_out != NULL && !plan_touches_nic(&plan, &links)) {
                *links_out = links;
                links = (struct nl_link_list){0};
        }
        nl_link_list_free(&links);
        rc_plan_free(&plan);
        int r2 = ipconf_apply(n->ipconf, n->nl, n->want, actions, report);
        int r3 = apply_resolver(n, actions, report);
        return r < 0 ? r : r2 < 0 ? r2 : r3;
}

static void watch_leases(struct netd *n);

/* ApplyBridges from xapid: the complete desired state; converge the kernel to it. */
static int on_apply_bridges(struct msg_link *l, const struct msg_origin *from,
                            const ProtobufCMessage *body, void *arg)
{
        struct netd *n = arg;
        const Ts__Net__ApplyBridges *req = (const Ts__Net__ApplyBridges *)body;
        for (size_t i = 0; i < req->n_bridges; i++) {
                const Ts__Net__Bridge *b = req->bridges[i];
                if (b->name[0] == '\0' || strlen(b->name) >= IFNAMSIZ)
                        return -EINVAL;
        }
        struct desired check;
        int r = desired_from_msg(req, &check);
        if (r < 0)
                return r;
        desired_free(&check);
        Ts__Net__ApplyBridges *copy = desired_copy(req);
        if (copy == NULL)
                return -ENOMEM;
        if (n->want != NULL)
                ts__net__apply_bridges__free_unpacked(n->want, NULL);
        n->want = copy;
        int actions;
        struct nic_buf nb = {0};
        struct apply_report report = {0};
        r = converge(n, &actions, &nb.links, &report);
        n->applies++;
        watch_leases(n);
        Ts__Net__ApplyBridgesReply rep = TS__NET__APPLY_BRIDGES_REPLY__INIT;
        rep.actions = actions;
        rep.errnum = r < 0 ? -r : 0;
        rep.message = r < 0 ? (char *)strerror(-r) : "";
        if (r < 0)
                log_warnx("converging %zu bridge(s): %s", req->n_bridges, strerror(-r));
        fill_nics(n, &rep, &nb);
        Ts__Net__Failure *fv = calloc(report.n ? report.n : 1, sizeof(*fv));
        Ts__Net__Failure **fp = calloc(report.n ? report.n : 1, sizeof(*fp));
        for (size_t i = 0; fv != NULL && fp != NULL && i < report.n; i++) {
                ts__net__failure__init(&fv[i]);
                fv[i].name = report.v[i].name;
                fv[i].errnum = report.v[i].err;
                fv[i].message = report.v[i].msg;
                fp[rep.n_failures++] = &fv[i];
        }
        rep.failures = fp;
        r = msg_link_reply(l, from, &rep.base);
        free(fv);
        free(fp);
        apply_report_free(&report);
        free_nics(&rep, &nb);
        return r;
}

static struct lease_seen *lease_slot(struct netd *n, const char *ifname)
{
        for (size_t i = 0; i < n->n_leases; i++)
                if (strcmp(n->leases[i].ifname, ifname) == 0)
                        return &n->leases[i];
        struct lease_seen *v = realloc(n->leases, (n->n_leases + 1) * sizeof(*v));
        if (v == NULL)
                return NULL;
        n->leases = v;
        struct lease_seen *s = &v[n->n_leases++];
        memset(s, 0, sizeof(*s));
        snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
        return s;
}

static void send_lease(struct netd *n, const char *ifname, const struct dhcp_lease *l)
{
        Ts__Net__DhcpLease ev = TS__NET__DHCP_LEASE__INIT;
        char *dns[DHCP_MAX_DNS];
        ev.ifname = (char *)ifname;
        ev.bound = l->bound;
        ev.ip = (char *)l->ip;
        ev.netmask = (char *)l->netmask;
        ev.gateway = (char *)l->gateway;
        for (size_t i = 0; i < l->n_dns; i++)
                dns[i] = (char *)l->dns[i];
        ev.dns = dns;
        ev.n_dns = l->n_dns;
        log_info("DHCP lease on %s: %s %s/%s gateway %s", ifname, l->bound ? "bound" : "none",
                 l->ip, l->netmask, l->gateway);
        msg_link_event(n->d.link, NULL, &ev.base);
}

/* The DHCP leases of the interfaces in DHCP mode (and of those that left it): changes go to
 * xapid, and to resolv.conf for the management interface.  Runs every LEASE_POLL_MS while
 * an interface is in DHCP mode or a lease is still reported. */
#define LEASE_POLL_MS 250
static void on_lease_timer(evutil_socket_t fd, short what, void *arg)
{
        struct netd *n = arg;
        bool any = false;
        for (size_t i = 0; n->want != NULL && i < n->want->n_ipconfs; i++) {
                const Ts__Net__IpConf *c = n->want->ipconfs[i];
                if (c->mode == TS__NET__IP_CONF__MODE__DHCP && lease_slot(n, c->ifname))
                        any = true;
        }
        bool changed = false;
        for (size_t i = 0; i < n->n_leases; i++) {
                struct lease_seen *s = &n->leases[i];
                struct dhcp_lease now;
                dhcp_lease_read(n->d.run_dir, s->ifname, &now);
                any |= s->lease.bound;
                if (dhcp_lease_equal(&now, &s->lease) || !msg_link_announced(n->d.link))
                        continue;
                send_lease(n, s->ifname, &now);
                s->lease = now;
                changed = true;
        }
        if (changed && n->want != NULL) {
                int actions = 0;
                apply_resolver(n, &actions, NULL);
        }
        if (any) {
                struct timeval tv = {0, LEASE_POLL_MS * 1000};
                event_add(n->lease_timer, &tv);
        }
}

/* Starts watching the leases (after a convergence that may have started a DHCP client). */
static void watch_leases(struct netd *n)
{
        if (!event_pending(n->lease_timer, EV_TIMEOUT, NULL))
                on_lease_timer(-1, 0, n);
}

static void on_reconverge(evutil_socket_t fd, short what, void *arg)
{
        struct netd *n = arg;
        int actions;
        n->reconverges++;
        int r = converge(n, &actions, NULL, NULL);
        if (r < 0)
                log_warnx("converging after a link change: %s", strerror(-r));
        else if (actions > 0)
                log_info("converged after a link change: %d change(s)", actions);
}

static struct nic_seen *nic_slot(struct netd *n, const char *name, bool add)
{
        for (size_t i = 0; i < n->n_nics; i++)
                if (strcmp(n->nics[i].name, name) == 0)
                        return &n->nics[i];
        if (!add)
                return NULL;
        if (n->n_nics == n->cap_nics) {
                size_t cap = n->cap_nics ? 2 * n->cap_nics : 8;
                struct nic_seen *v = realloc(n->nics, cap * sizeof(*v));
                if (v == NULL)
                        return NULL;
                n->nics = v;
                n->cap_nics = cap;
        }
        struct nic_seen *s = &n->nics[n->n_nics++];
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->sent = false;
        return s;
}

static long virt_index(const struct netd *n, const char *name)
{
        for (size_t i = 0; i < n->n_virt; i++)
                if (strcmp(n->virt[i], name) == 0)
                        return (long)i;
        return -1;
}

static void virt_add(struct netd *n, const char *name)
{
        if (n->n_virt == n->cap_virt) {
                size_t cap = n->cap_virt ? 2 * n->cap_virt : 32;
                char(*v)[IFNAMSIZ] = realloc(n->virt, cap * sizeof(*v));
                if (v == NULL)
                        return;
                n->virt = v;
                n->cap_virt = cap;
        }
        snprintf(n->virt[n->n_virt++], IFNAMSIZ, "%s", name);
}

/* A NIC changed: tell xapid (PIF_metrics) when what it knows differs. */
static void report_nic(struct netd *n, const struct link_event *ev)
{
        long vi = virt_index(n, ev->name);
        if (vi >= 0) { /* a bridge, a VIF, a VLAN...: forgotten when it goes */
                if (ev->deleted)
                        memcpy(n->virt[vi], n->virt[--n->n_virt], IFNAMSIZ);
                return;
        }
        struct nic_seen *s = nic_slot(n, ev->name, false);
        Ts__Net__LinkEvent le = TS__NET__LINK_EVENT__INIT;
        le.device = (char *)ev->name;
        char mac[18] = "";
        if (ev->deleted) {
                if (s == NULL)
                        return;
                *s = n->nics[--n->n_nics];
                le.deleted = true;
                le.physical = true;
                le.speed = -1;
                le.duplex = -1;
        } else {
                struct nl_link_info li;
                if (nl_link_get(n->nl, ev->name, &li) < 0)
                        return;
                if (!li.physical) {
                        virt_add(n, ev->name);
                        return;
                }
                struct nic_facts facts;
                nic_facts_read(ev->name, ev->carrier, &facts);
                bool up = (ev->flags & IFF_UP) != 0;
                if (s != NULL && s->sent && s->carrier == ev->carrier && s->up == up &&
                    s->mtu == ev->mtu && nic_facts_equal(&s->facts, &facts))
                        return;
                if (s == NULL && (s = nic_slot(n, ev->name, true)) == NULL)
                        return;
                s->carrier = ev->carrier;
                s->up = up;
                s->mtu = ev->mtu;
                s->facts = facts;
                s->sent = true;
                if (li.has_mac)
                        nl_mac_format(li.mac, mac);
                le.mac = mac;
                le.carrier = ev->carrier;
                le.up = up;
                le.mtu = ev->mtu;
                le.speed = facts.speed;
                le.duplex = facts.duplex;
                le.vendor_id = s->facts.vendor_id;
                le.device_id = s->facts.device_id;
                le.pci_bus_path = s->facts.pci_bus_path;
                le.physical = true;
        }
        if (msg_link_announced(n->d.link))
                msg_link_event(n->d.link, NULL, &le.base);
}

static void on_link_event(const struct link_event *ev, void *arg)
{
        struct netd *n = arg;
        if (ev == NULL ||
            (!ev->deleted && ev->master == 0 && desired_mentions(n->want, ev->name))) {
                /* a wanted port or member without its master: a VIF's backend (or a NIC,
                 * a bond) appeared or was released behind our back, or events were lost:
                 * converge once the burst is over */
                struct timeval tv = {0, 0};
                if (n->want != NULL && !event_pending(n->reconverge, EV_TIMEOUT, NULL))
                        event_add(n->reconverge, &tv);
        }
        if (ev != NULL)
                report_nic(n, ev);
}

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct netd *n = ctx;
        char link[256];
        daemon_link_status(&n->d, link, sizeof(link));
        struct nl_link_list links = {0};
        size_t n_phys = 0, n_links = 0;
        if (nl_link_list(n->nl, &links) == 0) {
                n_links = links.n;
                for (size_t i = 0; i < links.n; i++)
                        n_phys += links.v[i].physical;
        }
        nl_link_list_free(&links);
        ctl_replyf(req, CTL_OK,
                   "netd pid %ld running\n%slinks: %zu (%zu physical)\nbridge sets applied: "
                   "%llu\nconverged after link changes: %llu\nDHCP clients: %zu\n",
                   (long)getpid(), link, n_links, n_phys, n->applies, n->reconverges,
                   ipconf_dhcp_clients(n->ipconf));
}

int main(int argc, char **argv)
{
        struct netd n = {0};
        daemon_init(&n.d, "netd", schema, argc, argv);
        int r = nl_ctx_new(-1, &n.nl);
        if (r < 0)
                fatalx("netlink: %s", strerror(-r));
        const char *pat = cfg_get_str(n.d.cfg, "network.physical");
        nl_ctx_set_physical_patterns(n.nl, &pat, 1);
        r = ipconf_mgr_new(n.d.run_dir, &n.ipconf);
        if (r < 0)
                fatalx("ip configuration: %s", strerror(-r));
        n.reconverge = event_new(n.d.base, -1, 0, on_reconverge, &n);
        n.lease_timer = event_new(n.d.base, -1, 0, on_lease_timer, &n);
        if (n.reconverge == NULL || n.lease_timer == NULL)
                fatalx("out of memory");
        r = link_monitor_new(n.nl, n.d.base, on_link_event, &n, &n.monitor);
        if (r < 0)
                fatalx("link notifications: %s", strerror(-r));
        r = daemon_open_ctl(&n.d, NULL, cmd_status, &n);
        if (r < 0)
                fatalx("control socket: %s", strerror(-r));
        r = daemon_connect(&n.d, "netd", "netd");
        if (r < 0)
                fatalx("cannot connect to xapid at %s: %s", n.d.msg_path, strerror(-r));
        announce_nics(&n);
        r = msg_link_handle(n.d.link, &ts__net__apply_bridges__descriptor, on_apply_bridges, &n);
        if (r < 0)
                fatalx("cannot register handlers: %s", strerror(-r));
        proctitle_set("netd: serving");
        daemon_ready(&n.d, "serving");
        r = daemon_run(&n.d);
        log_info("stopped");
        link_monitor_free(n.monitor);
        event_free(n.reconverge);
        event_free(n.lease_timer);
        free(n.resolv_last);
        free(n.leases);
        ipconf_mgr_free(n.ipconf);
        if (n.want != NULL)
                ts__net__apply_bridges__free_unpacked(n.want, NULL);
        free(n.nics);
        free(n.virt);
        nl_ctx_free(n.nl);
        daemon_fini(&n.d);
        return r;
}
