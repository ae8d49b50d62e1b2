/* A command-line driver of netd's kernel layer for tests/net/test_netk, which runs it inside
 * a private network namespace and checks the kernel with ip/bridge JSON output.
 *   netk CMD ARGS...   exit 0 on success, 3 if the kernel lacks the feature (EOPNOTSUPP),
 *                      1 on any other error (message on stderr). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/log.h"
#include "netd/addr.h"
#include "netd/bond.h"
#include "netd/bridge.h"
#include "netd/dhcp.h"
#include "netd/link_monitor.h"
#include "netd/nl.h"
#include "netd/reconcile.h"
#include "netd/veth.h"
#include "netd/vlan.h"

LOG_MODULE(netk_helper)

static double now_us(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void print_link(const struct nl_link_info *l)
{
        char mac[18] = "";
        if (l->has_mac)
                nl_mac_format(l->mac, mac);
        json_t *o = json_pack("{s:s,s:i,s:s,s:s,s:i,s:b,s:b,s:i,s:s,s:s,s:i,s:i,s:b,s:s,s:b,s:b}",
                              "name", l->name, "ifindex", l->ifindex, "kind", l->kind, "mac", mac,
                              "mtu", (int)l->mtu, "up", (l->flags & IFF_UP) != 0, "carrier",
                              l->carrier, "operstate", l->operstate, "master", l->master_name,
                              "parent", l->parent_name, "vlan_id", l->vlan_id, "bond_mode",
                              l->bond_mode, "physical", l->physical, "alias", l->alias, "owned",
                              nl_link_is_owned(l), "promisc", (l->flags & IFF_PROMISC) != 0);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
}

static void on_link(const struct link_event *ev, void *arg)
{
        if (!ev) {
                printf("{\"resync\":true}\n");
        } else {
                printf("{\"name\":\"%s\",\"ifindex\":%d,\"deleted\":%s,\"carrier\":%s,"
                       "\"operstate\":%u,\"mtu\":%u,\"up\":%s}\n",
                       ev->name, ev->ifindex, ev->deleted ? "true" : "false",
                       ev->carrier ? "true" : "false", ev->operstate, ev->mtu,
                       (ev->flags & IFF_UP) ? "true" : "false");
        }
        fflush(stdout);
}

static int cmd_monitor(struct nl_ctx *ctx, int seconds)
{
        struct event_base *base = event_base_new();
        struct link_monitor *m = NULL;
        int r = base ? link_monitor_new(ctx, base, on_link, NULL, &m) : -ENOMEM;
        if (r == 0) {
                printf("{\"ready\":true}\n");
                fflush(stdout);
                struct timeval tv = {seconds, 0};
                event_base_loopexit(base, &tv);
                event_base_dispatch(base);
        }
        link_monitor_free(m);
        if (base)
                event_base_free(base);
        return r;
}

/* netk bench BRIDGE PORT N: N plug/unplug cycles; prints the mean of each in microseconds. */
static int cmd_bench(struct nl_ctx *ctx, const char *br, const char *port, int n)
{
        double plug = 0, unplug = 0;
        if (n <= 0)
                return -EINVAL;
        for (int i = 0; i < n; i++) {
                double t0 = now_us();
                int r = bridge_add_port(ctx, br, port);
                double t1 = now_us();
                if (r == 0)
                        r = bridge_del_port(ctx, br, port);
                double t2 = now_us();
                if (r < 0)
                        return r;
                plug += t1 - t0;
                unplug += t2 - t1;
        }
        printf("{\"plug_us\":%.1f,\"unplug_us\":%.1f,\"n\":%d}\n", plug / n, unplug / n, n);
        return 0;
}

/* The strings of the JSON array A (pointers into A; the array is the caller's to free). */
static const char **strings(json_t *a, size_t *n)
{
        *n = json_array_size(a);
        const char **v = calloc(*n ? *n : 1, sizeof(char *));
        for (size_t i = 0; v && i < *n; i++)
                v[i] = json_string_value(json_array_get(a, i));
        return v;
}

#define MAXN 16
static size_t count(json_t *a)
{
        return json_array_size(a) < MAXN ? json_array_size(a) : MAXN;
}

/* netk reconcile JSON: {"bridges":[{"name","mtu","ports":[]}], "vlans":[{"name","parent",
 * "tag","mtu"}], "bonds":[{"name","mode","members":[],"mtu"}], "ipconfs":[{"ifname",
 * "addrs":[]}]}; prints each action run, then {"actions":N}. */
static int cmd_reconcile(struct nl_ctx *ctx, const char *text)
{
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);
        if (!j)
                return -EINVAL;
        json_t *br = json_object_get(j, "bridges"), *vl = json_object_get(j, "vlans"),
               *bo = json_object_get(j, "bonds"), *ip = json_object_get(j, "ipconfs");
        struct rc_bridge bridges[MAXN] = {0};
        struct rc_vlan vlans[MAXN] = {0};
        struct rc_bond bonds[MAXN] = {0};
        struct rc_ipconf ipconfs[MAXN] = {0};
        struct rc_desired d = {.bridges = bridges,
                               .n_bridges = count(br),
                               .vlans = vlans,
                               .n_vlans = count(vl),
                               .bonds = bonds,
                               .n_bonds = count(bo),
                               .ipconfs = ipconfs,
                               .n_ipconfs = count(ip)};
        int r = 0;
        for (size_t i = 0; i < d.n_bridges; i++) {
                json_t *o = json_array_get(br, i);
                bridges[i].name = json_string_value(json_object_get(o, "name"));
                bridges[i].mtu = (unsigned)json_integer_value(json_object_get(o, "mtu"));
                bridges[i].ports = strings(json_object_get(o, "ports"), &bridges[i].n_ports);
        }
        for (size_t i = 0; i < d.n_vlans; i++) {
                json_t *o = json_array_get(vl, i);
                vlans[i].name = json_string_value(json_object_get(o, "name"));
                vlans[i].parent = json_string_value(json_object_get(o, "parent"));
                vlans[i].tag = (int)json_integer_value(json_object_get(o, "tag"));
                vlans[i].mtu = (unsigned)json_integer_value(json_object_get(o, "mtu"));
        }
        for (size_t i = 0; i < d.n_bonds; i++) {
                json_t *o = json_array_get(bo, i);
                bonds[i].name = json_string_value(json_object_get(o, "name"));
                bond_opts_init(&bonds[i].opts);
                if (bond_mode_from_name(json_string_value(json_object_get(o, "mode")),
                                        &bonds[i].opts.mode) < 0)
                        r = -EINVAL;
                bonds[i].mtu = (unsigned)json_integer_value(json_object_get(o, "mtu"));
                bonds[i].members = strings(json_object_get(o, "members"), &bonds[i].n_members);
        }
        for (size_t i = 0; i < d.n_ipconfs; i++) {
                json_t *o = json_array_get(ip, i);
                ipconfs[i].ifname = json_string_value(json_object_get(o, "ifname"));
                ipconfs[i].addrs = strings(json_object_get(o, "addrs"), &ipconfs[i].n_addrs);
        }
        struct rc_plan plan = {0};
        if (r == 0)
                r = reconcile_run(ctx, &d, &plan);
        for (size_t i = 0; i < plan.n; i++) {
                char line[128];
                rc_action_format(&plan.v[i], line, sizeof(line));
                printf("%s\n", line);
        }
        printf("{\"actions\":%zu}\n", plan.n);
        rc_plan_free(&plan);
        for (size_t i = 0; i < MAXN; i++) {
                free((void *)bridges[i].ports);
                free((void *)bonds[i].members);
                free((void *)ipconfs[i].addrs);
        }
        json_decref(j);
        return r;
}

static int cmd_dhcp(struct nl_ctx *ctx, const char *ifname, int seconds)
{
        struct dhcp_client *d = NULL;
        int r = dhcp_start(ctx, ifname, NULL, &d);
        if (r < 0)
                return r;
        printf("{\"pid\":%d}\n", (int)dhcp_pid(d));
        fflush(stdout);
        struct timespec t = {seconds, 0};
        nanosleep(&t, NULL);
        printf("{\"running\":%s}\n", dhcp_running(d) ? "true" : "false");
        dhcp_stop(d);
        return 0;
}

static int family(const char *s)
{
        return strcmp(s, "6") == 0 ? AF_INET6 : AF_INET;
}

static int run(struct nl_ctx *ctx, int argc, char **argv)
{
        const char *c = argv[1];
        const char *a1 = argc > 2 ? argv[2] : NULL, *a2 = argc > 3 ? argv[3] : NULL,
                   *a3 = argc > 4 ? argv[4] : NULL;
        uint8_t mac[6];
        int r;
        if (!strcmp(c, "list")) {
                struct nl_link_list l = {0};
                r = nl_link_list(ctx, &l);
                for (size_t i = 0; r == 0 && i < l.n; i++)
                        print_link(&l.v[i]);
                nl_link_list_free(&l);
                return r;
        }
        if (!a1)
                return -EINVAL;
        if (!strcmp(c, "get")) {
                struct nl_link_info i;
                if ((r = nl_link_get(ctx, a1, &i)) == 0)
                        print_link(&i);
                return r;
        }
        if (!strcmp(c, "bridge-del"))
                return bridge_delete(ctx, a1);
        if (!strcmp(c, "veth-del"))
                return veth_delete(ctx, a1);
        if (!strcmp(c, "up") || !strcmp(c, "down"))
                return nl_link_set_up(ctx, a1, !strcmp(c, "up"));
        if (!strcmp(c, "del"))
                return nl_link_delete(ctx, a1);
        if (!strcmp(c, "addr-flush"))
                return addr_flush(ctx, a1, AF_UNSPEC);
        if (!strcmp(c, "gw-del"))
                return route_gateway_del(ctx, family(a1));
        if (!strcmp(c, "gw-get")) {
                struct cidr g;
                char s[CIDR_STR_MAX];
                if ((r = route_gateway_get(ctx, family(a1), &g)) == 0) {
                        cidr_format(&g, s);
                        printf("%s\n", s);
                }
                return r;
        }
        if (!strcmp(c, "monitor"))
                return cmd_monitor(ctx, atoi(a1));
        if (!strcmp(c, "reconcile"))
                return cmd_reconcile(ctx, a1);
        if (!strcmp(c, "ports")) {
                struct nl_link_list l = {0};
                r = bridge_list_ports(ctx, a1, &l);
                for (size_t i = 0; r == 0 && i < l.n; i++)
                        printf("%s\n", l.v[i].name);
                nl_link_list_free(&l);
                return r;
        }
        if (!a2)
                return -EINVAL;
        if (!strcmp(c, "bridge-add")) { /* NAME MTU [MAC] */
                if (a3 && nl_mac_parse(a3, mac) < 0)
                        return -EINVAL;
                return bridge_create(ctx, a1, (unsigned)atoi(a2), a3 ? mac : NULL);
        }
        if (!strcmp(c, "port-add"))
                return bridge_add_port(ctx, a1, a2);
        if (!strcmp(c, "port-del"))
                return bridge_del_port(ctx, a1, a2);
        if (!strcmp(c, "veth-add"))
                return veth_create(ctx, a1, a2);
        if (!strcmp(c, "bond-add")) { /* NAME MODE */
                struct bond_opts o;
                bond_opts_init(&o);
                if (bond_mode_from_name(a2, &o.mode) < 0)
                        return -EINVAL;
                return bond_create(ctx, a1, &o, 0);
        }
        if (!strcmp(c, "bond-enslave"))
                return bond_enslave(ctx, a1, a2);
        if (!strcmp(c, "mtu"))
                return nl_link_set_mtu(ctx, a1, (unsigned)atoi(a2));
        if (!strcmp(c, "mac"))
                return nl_mac_parse(a2, mac) < 0 ? -EINVAL : nl_link_set_mac(ctx, a1, mac);
        if (!strcmp(c, "promisc"))
                return nl_link_set_promisc(ctx, a1, atoi(a2) != 0);
        if (!strcmp(c, "addr-add"))
                return addr_add(ctx, a1, a2);
        if (!strcmp(c, "addr-del"))
                return addr_del(ctx, a1, a2);
        if (!strcmp(c, "dhcp")) /* IFNAME SECONDS */
                return cmd_dhcp(ctx, a1, atoi(a2));
        if (!a3)
                return -EINVAL;
        if (!strcmp(c, "vlan-add")) /* NAME PARENT TAG */
                return vlan_create(ctx, a1, a2, atoi(a3), 0);
        if (!strcmp(c, "gw-set")) /* GW DEV REPLACE */
                return route_gateway_set(ctx, a1, a2, atoi(a3));
        if (!strcmp(c, "bench")) /* BRIDGE PORT N */
                return cmd_bench(ctx, a1, a2, atoi(a3));
        return -ENOSYS;
}

int main(int argc, char **argv)
{
        log_init("netk");
        if (getenv("NETK_DEBUG"))
                log_set_level("all", LOG_DEBUG);
        if (argc < 2) {
                fprintf(stderr, "usage: netk COMMAND ARGS...\n");
                return 2;
        }
        const char *pat = getenv("NETK_PHYSICAL");
        struct nl_ctx *ctx = NULL;
        int r = nl_ctx_new(-1, &ctx);
        if (r == 0 && pat)
                r = nl_ctx_set_physical_patterns(ctx, &pat, 1);
        if (r == 0)
                r = run(ctx, argc, argv);
        nl_ctx_free(ctx);
        if (r < 0) {
                fprintf(stderr, "netk %s: %s (errno %d)\n", argv[1], strerror(-r), -r);
                return r == -EOPNOTSUPP ? 3 : 1;
        }
        return 0;
}
