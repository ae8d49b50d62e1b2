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
#include "netd/nl.h"
#include "netd/reconcile.h"
#include "proto/net.pb-c.h"

LOG_MODULE(netd)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"network.physical", CFG_STRING, "eth*", 0, 0,
     "pattern of interface names that count as physical NICs (besides real devices)"},
    {NULL},
};

struct netd {
        struct daemon d;
        struct nl_ctx *nl;
        unsigned long long applies; /* ApplyBridges handled */
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

/* The current NICs into REP (for ApplyBridgesReply), pointing into B (free_nics). */
static void fill_nics(struct netd *n, Ts__Net__ApplyBridgesReply *rep, struct nic_buf *b)
{
        struct nl_link_list *links = &b->links;
        if (nl_link_list(n->nl, links) < 0)
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

/* ApplyBridges from xapid: the complete set of bridges; converge the kernel to it. */
static int on_apply_bridges(struct msg_link *l, const struct msg_origin *from,
                            const ProtobufCMessage *body, void *arg)
{
        struct netd *n = arg;
        const Ts__Net__ApplyBridges *req = (const Ts__Net__ApplyBridges *)body;
        struct rc_bridge *bridges = calloc(req->n_bridges ? req->n_bridges : 1, sizeof(*bridges));
        if (bridges == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < req->n_bridges; i++) {
                const Ts__Net__Bridge *b = req->bridges[i];
                if (b->name[0] == '\0' || strlen(b->name) >= IFNAMSIZ) {
                        free(bridges);
                        return -EINVAL;
                }
                bridges[i] = (struct rc_bridge){.name = b->name,
                                                .mtu = b->mtu,
                                                .ports = (const char *const *)b->ports,
                                                .n_ports = b->n_ports};
        }
        struct rc_desired want = {.bridges = bridges, .n_bridges = req->n_bridges};
        struct rc_plan plan = {0};
        int r = reconcile_run(n->nl, &want, &plan);
        free(bridges);
        n->applies++;
        for (size_t i = 0; i < plan.n; i++) {
                char line[128];
                rc_action_format(&plan.v[i], line, sizeof(line));
                log_info("%s", line);
        }
        Ts__Net__ApplyBridgesReply rep = TS__NET__APPLY_BRIDGES_REPLY__INIT;
        rep.actions = (int32_t)plan.n;
        rep.errnum = r < 0 ? -r : 0;
        rep.message = r < 0 ? (char *)strerror(-r) : "";
        rc_plan_free(&plan);
        if (r < 0)
                log_warnx("converging %zu bridge(s): %s", req->n_bridges, strerror(-r));
        struct nic_buf nb = {0};
        fill_nics(n, &rep, &nb);
        r = msg_link_reply(l, from, &rep.base);
        free_nics(&rep, &nb);
        return r;
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
                   "%llu\n",
                   (long)getpid(), link, n_links, n_phys, n->applies);
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
        nl_ctx_free(n.nl);
        daemon_fini(&n.d);
        return r;
}
