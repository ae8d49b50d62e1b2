/* The desired host network state from the datamodel (see net_desired.h). */
#include "xapid/net_desired.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_gen.h"
#include "xapid/db.h"

static void *own(struct net_desired *d, void *p)
{
        if (p == NULL)
                return NULL;
        if (d->n_owned == d->cap_owned) {
                size_t cap = d->cap_owned ? 2 * d->cap_owned : 32;
                void **v = realloc(d->owned, cap * sizeof(*v));
                if (v == NULL) {
                        free(p);
                        return NULL;
                }
                d->owned = v;
                d->cap_owned = cap;
        }
        d->owned[d->n_owned++] = p;
        return p;
}

static char *own_str(struct net_desired *d, const char *s)
{
        return own(d, strdup(s));
}

/* A growable array of pointers, owned by D. */
struct vec {
        void **v;
        size_t n, cap;
};

static int push(struct net_desired *d, struct vec *v, void *p)
{
        if (p == NULL)
                return -ENOMEM;
        if (v->n == v->cap) {
                size_t cap = v->cap ? 2 * v->cap : 8;
                void **nv = malloc(cap * sizeof(*nv));
                if (nv == NULL || own(d, nv) == NULL)
                        return -ENOMEM;
                if (v->n)
                        memcpy(nv, v->v, v->n * sizeof(*nv));
                v->v = nv; /* the old array stays owned by D until the end */
                v->cap = cap;
        }
        v->v[v->n++] = p;
        return 0;
}

static const char *map_get(const struct mmap *m, const char *key)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->k[i].s, key) == 0)
                        return m->v[i].s;
        return NULL;
}

int net_flag_value(const char *v)
{
        if (v == NULL)
                return -1;
        if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
                return 1;
        if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
                return 0;
        return -1;
}

void net_pif_kernel_name(const struct api_PIF *p, char *buf, size_t len)
{
        if (p->VLAN >= 0)
                snprintf(buf, len, "%s.%lld", p->device, (long long)p->VLAN);
        else
                snprintf(buf, len, "%s", p->device);
}

static bool is_ref(struct db *db, const struct mclass *c, const char *ref)
{
        return ref != NULL && db_get(db, c, ref) != NULL;
}

static bool pif_is_bond_slave(struct db *db, const struct api_PIF *p)
{
        return is_ref(db, &mclass_Bond, p->bond_slave_of);
}

/* The backend device of VIF V in the kernel, or false when it must not be bridged now. */
static bool vif_port(struct db *db, const char *host, const struct api_VIF *v, char *buf,
                     size_t len)
{
        struct db_row *vmr = db_get(db, &mclass_VM, v->VM);
        if (!v->currently_attached || vmr == NULL)
                return false;
        const struct api_VM *vm = vmr->rec;
        if (vm->is_control_domain || vm->domid < 0 || strcmp(vm->resident_on, host) != 0 ||
            (vm->power_state != API_VM_POWER_STATE_RUNNING &&
             vm->power_state != API_VM_POWER_STATE_PAUSED))
                return false;
        char *end;
        long dev = strtol(v->device, &end, 10);
        if (v->device[0] == '\0' || *end != '\0' || dev < 0)
                return false;
        int n = snprintf(buf, len, "vif%lld.%ld", (long long)vm->domid, dev);
        return n > 0 && (size_t)n < len && (size_t)n < IFNAMSIZ;
}

static int prefix_of_netmask(const char *mask)
{
        unsigned a, b, c, e;
        if (sscanf(mask, "%u.%u.%u.%u", &a, &b, &c, &e) != 4 || a > 255 || b > 255 || c > 255 ||
            e > 255)
                return -1;
        unsigned long m = ((unsigned long)a << 24) | (b << 16) | (c << 8) | e;
        int p = 0;
        while (p < 32 && (m & (1UL << (31 - p))))
                p++;
        for (int i = p; i < 32; i++)
                if (m & (1UL << (31 - i)))
                        return -1; /* not contiguous */
        return p;
}

static int add_ipconf(struct net_desired *d, struct vec *out, const char *bridge,
                      Ts__Net__IpConf__Mode mode, int family, char **addrs, size_t n_addrs,
                      const char *gateway)
{
        Ts__Net__IpConf *c = own(d, malloc(sizeof(*c)));
        if (c == NULL)
                return -ENOMEM;
        ts__net__ip_conf__init(c);
        c->ifname = (char *)bridge;
        c->mode = mode;
        c->family = family;
        c->addrs = addrs;
        c->n_addrs = n_addrs;
        c->gateway = (char *)(gateway ? gateway : "");
        return push(d, out, c);
}

static int pif_ipconfs(struct net_desired *d, struct vec *out, const struct api_PIF *p,
                       const char *bridge)
{
        int r = 0;
        const char *gw4 = p->management ? p->gateway : "";
        if (p->ip_configuration_mode == API_IP_CONFIGURATION_MODE_STATIC) {
                int prefix = prefix_of_netmask(p->netmask);
                char **a = own(d, calloc(1, sizeof(*a)));
                char buf[64];
                if (a == NULL)
                        return -ENOMEM;
                snprintf(buf, sizeof(buf), "%s/%d", p->IP, prefix < 0 ? 32 : prefix);
                if ((a[0] = own_str(d, buf)) == NULL)
                        return -ENOMEM;
                r = add_ipconf(d, out, bridge, TS__NET__IP_CONF__MODE__STATIC, 4, a, 1, gw4);
        } else if (p->ip_configuration_mode == API_IP_CONFIGURATION_MODE_DHCP) {
                r = add_ipconf(d, out, bridge, TS__NET__IP_CONF__MODE__DHCP, 4, NULL, 0, NULL);
        } else if (!p->management) {
                r = add_ipconf(d, out, bridge, TS__NET__IP_CONF__MODE__NONE, 4, NULL, 0, NULL);
        }
        if (r < 0)
                return r;
        if (p->ipv6_configuration_mode == API_IPV6_CONFIGURATION_MODE_STATIC) {
                char **a = own(d, calloc(p->IPv6.n + 1, sizeof(*a)));
                if (a == NULL)
                        return -ENOMEM;
                for (size_t i = 0; i < p->IPv6.n; i++)
                        a[i] = p->IPv6.v[i].s;
                r = add_ipconf(d, out, bridge, TS__NET__IP_CONF__MODE__STATIC, 6, a, p->IPv6.n,
                               p->management ? p->ipv6_gateway : "");
        } else if (p->ipv6_configuration_mode == API_IPV6_CONFIGURATION_MODE_NONE &&
                   !p->management) {
                r = add_ipconf(d, out, bridge, TS__NET__IP_CONF__MODE__NONE, 6, NULL, 0, NULL);
        }
        return r;
}

static int add_kv(struct net_desired *d, struct vec *out, const char *k, const char *v);

#define ETHTOOL_PREFIX "ethtool-"

/* other_config:promiscuous and ethtool-* of a PIF or VIF, for its kernel link NAME. */
static int add_linkconf(struct net_desired *d, struct vec *out, const char *name,
                        const struct mmap *other_config)
{
        int promisc = net_flag_value(map_get(other_config, "promiscuous"));
        struct vec eth = {0};
        for (size_t i = 0; i < other_config->n; i++) {
                const char *k = other_config->k[i].s;
                if (strncmp(k, ETHTOOL_PREFIX, strlen(ETHTOOL_PREFIX)) == 0 &&
                    add_kv(d, &eth, k + strlen(ETHTOOL_PREFIX), other_config->v[i].s) < 0)
                        return -ENOMEM;
        }
        if (promisc < 0 && eth.n == 0)
                return 0;
        Ts__Net__LinkConf *lc = own(d, malloc(sizeof(*lc)));
        if (lc == NULL || (name = own_str(d, name)) == NULL)
                return -ENOMEM;
        ts__net__link_conf__init(lc);
        lc->name = (char *)name;
        lc->promisc = promisc;
        lc->ethtool = (Ts__Net__KeyValue **)eth.v;
        lc->n_ethtool = eth.n;
        return push(d, out, lc);
}

static int add_down(struct net_desired *d, struct vec *down, const char *name)
{
        for (size_t i = 0; i < down->n; i++)
                if (strcmp(down->v[i], name) == 0)
                        return 0;
        return push(d, down, own_str(d, name));
}

static int build_bridges(struct net_desired *d, struct db *db, const char *host, struct vec *br,
                         struct vec *ipconfs, struct vec *down, struct vec *links)
{
        for (size_t i = 0; i < db_count(db, &mclass_network); i++) {
                struct db_row *row = db_row_at(db, &mclass_network, i);
                const struct api_network *n = row->rec;
                if (!n->managed || n->bridge[0] == '\0' || strlen(n->bridge) >= IFNAMSIZ)
                        continue;
                bool dup = false;
                for (size_t j = 0; j < br->n && !dup; j++)
                        dup = strcmp(((Ts__Net__Bridge *)br->v[j])->name, n->bridge) == 0;
                if (dup)
                        continue;
                Ts__Net__Bridge *b = own(d, malloc(sizeof(*b)));
                if (b == NULL)
                        return -ENOMEM;
                ts__net__bridge__init(b);
                b->name = n->bridge;
                b->mtu = n->MTU > 0 && n->MTU <= 65535 ? (uint32_t)n->MTU : 0;
                struct vec ports = {0};
                size_t here = 0, unplugged = 0;
                char name[64];
                for (size_t k = 0; k < db_count(db, &mclass_PIF); k++) {
                        const struct api_PIF *p = db_row_at(db, &mclass_PIF, k)->rec;
                        if (strcmp(p->network, row->ref) != 0 || strcmp(p->host, host) != 0)
                                continue;
                        here++;
                        net_pif_kernel_name(p, name, sizeof(name));
                        if (pif_is_bond_slave(db, p)) {
                                unplugged++;
                                continue;
                        }
                        if (!p->currently_attached) {
                                unplugged++;
                                if (p->physical && add_down(d, down, name) < 0)
                                        return -ENOMEM;
                                continue;
                        }
                        const char *mtu = map_get(&p->other_config, "mtu");
                        long v = mtu ? strtol(mtu, NULL, 10) : 0;
                        if (v >= 68 && v <= 65535)
                                b->mtu = (uint32_t)v;
                        if (push(d, &ports, own_str(d, name)) < 0 ||
                            pif_ipconfs(d, ipconfs, p, n->bridge) < 0 ||
                            add_linkconf(d, links, name, &p->other_config) < 0)
                                return -ENOMEM;
                }
                size_t pifs = ports.n;
                for (size_t k = 0; k < db_count(db, &mclass_VIF); k++) {
                        const struct api_VIF *v = db_row_at(db, &mclass_VIF, k)->rec;
                        if (strcmp(v->network, row->ref) != 0 ||
                            !vif_port(db, host, v, name, sizeof(name)))
                                continue;
                        if (push(d, &ports, own_str(d, name)) < 0 ||
                            add_linkconf(d, links, name, &v->other_config) < 0)
                                return -ENOMEM;
                }
                /* a network whose PIFs here are all unplugged, with no VIF: its bridge down */
                if (here > 0 && here == unplugged && pifs == 0 && ports.n == 0 &&
                    add_down(d, down, n->bridge) < 0)
                        return -ENOMEM;
                b->ports = (char **)ports.v;
                b->n_ports = ports.n;
                if (push(d, br, b) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int build_vlans(struct net_desired *d, struct db *db, const char *host, struct vec *out)
{
        for (size_t i = 0; i < db_count(db, &mclass_PIF); i++) {
                const struct api_PIF *p = db_row_at(db, &mclass_PIF, i)->rec;
                if (p->VLAN < 0 || strcmp(p->host, host) != 0 || !p->currently_attached)
                        continue;
                struct db_row *vr = db_get(db, &mclass_VLAN, p->VLAN_master_of);
                if (vr == NULL)
                        continue;
                struct db_row *tr =
                    db_get(db, &mclass_PIF, ((struct api_VLAN *)vr->rec)->tagged_PIF);
                if (tr == NULL)
                        continue;
                char name[64], parent[64];
                net_pif_kernel_name(p, name, sizeof(name));
                net_pif_kernel_name(tr->rec, parent, sizeof(parent));
                Ts__Net__Vlan *v = own(d, malloc(sizeof(*v)));
                if (v == NULL)
                        return -ENOMEM;
                ts__net__vlan__init(v);
                v->name = own_str(d, name);
                v->parent = own_str(d, parent);
                v->tag = (int32_t)p->VLAN;
                if (v->name == NULL || v->parent == NULL || push(d, out, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int add_kv(struct net_desired *d, struct vec *out, const char *k, const char *v)
{
        Ts__Net__KeyValue *kv = own(d, malloc(sizeof(*kv)));
        if (kv == NULL)
                return -ENOMEM;
        ts__net__key_value__init(kv);
        kv->key = (char *)k;
        kv->value = (char *)v;
        return push(d, out, kv);
}

static int build_bonds(struct net_desired *d, struct db *db, const char *host, struct vec *out)
{
        for (size_t i = 0; i < db_count(db, &mclass_Bond); i++) {
                struct db_row *row = db_row_at(db, &mclass_Bond, i);
                const struct api_Bond *bond = row->rec;
                struct db_row *mr = db_get(db, &mclass_PIF, bond->master);
                if (mr == NULL)
                        continue;
                const struct api_PIF *master = mr->rec;
                if (strcmp(master->host, host) != 0)
                        continue;
                Ts__Net__Bond *b = own(d, malloc(sizeof(*b)));
                if (b == NULL)
                        return -ENOMEM;
                ts__net__bond__init(b);
                b->name = master->device;
                b->mode = (char *)menum_bond_mode.values[bond->mode];
                b->mac = master->MAC;
                struct vec members = {0}, props = {0};
                for (size_t k = 0; k < db_count(db, &mclass_PIF); k++) {
                        const struct api_PIF *p = db_row_at(db, &mclass_PIF, k)->rec;
                        if (p->bond_slave_of && strcmp(p->bond_slave_of, row->ref) == 0 &&
                            push(d, &members, p->device) < 0)
                                return -ENOMEM;
                }
                for (size_t k = 0; k < bond->properties.n; k++)
                        if (add_kv(d, &props, bond->properties.k[k].s, bond->properties.v[k].s) < 0)
                                return -ENOMEM;
                for (size_t k = 0; k < master->other_config.n; k++)
                        if (strncmp(master->other_config.k[k].s, "bond-", 5) == 0 &&
                            add_kv(d, &props, master->other_config.k[k].s,
                                   master->other_config.v[k].s) < 0)
                                return -ENOMEM;
                b->members = (char **)members.v;
                b->n_members = members.n;
                b->properties = (Ts__Net__KeyValue **)props.v;
                b->n_properties = props.n;
                if (push(d, out, b) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The comma-separated entries of LIST (blanks trimmed) into OUT. */
static int push_list(struct net_desired *d, struct vec *out, const char *list)
{
        char *copy = own_str(d, list), *save = NULL;
        if (copy == NULL)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                while (*t == ' ')
                        t++;
                size_t len = strlen(t);
                while (len > 0 && t[len - 1] == ' ')
                        t[--len] = '\0';
                if (*t != '\0' && push(d, out, t) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The resolver of this host from its plugged management PIF (NULL: none wanted). */
static int build_resolver(struct net_desired *d, struct db *db, const char *host,
                          Ts__Net__Resolver **out)
{
        *out = NULL;
        for (size_t i = 0; i < db_count(db, &mclass_PIF); i++) {
                const struct api_PIF *p = db_row_at(db, &mclass_PIF, i)->rec;
                if (!p->management || !p->currently_attached || strcmp(p->host, host) != 0)
                        continue;
                bool dhcp = p->ip_configuration_mode == API_IP_CONFIGURATION_MODE_DHCP;
                bool stat = p->ip_configuration_mode == API_IP_CONFIGURATION_MODE_STATIC ||
                            p->ipv6_configuration_mode == API_IPV6_CONFIGURATION_MODE_STATIC;
                struct db_row *net = db_get(db, &mclass_network, p->network);
                if (net == NULL || (!dhcp && !(stat && p->DNS[0] != '\0')))
                        return 0;
                Ts__Net__Resolver *r = own(d, malloc(sizeof(*r)));
                if (r == NULL)
                        return -ENOMEM;
                ts__net__resolver__init(r);
                struct vec ns = {0}, search = {0};
                const char *domain = map_get(&p->other_config, "domain");
                r->ifname = ((struct api_network *)net->rec)->bridge;
                if (dhcp)
                        r->dhcp_ifname = r->ifname;
                else if (push_list(d, &ns, p->DNS) < 0)
                        return -ENOMEM;
                if (domain != NULL && push_list(d, &search, domain) < 0)
                        return -ENOMEM;
                r->nameservers = (char **)ns.v;
                r->n_nameservers = ns.n;
                r->search = (char **)search.v;
                r->n_search = search.n;
                *out = r;
                return 0;
        }
        return 0;
}

int net_desired_build(struct db *db, const char *host_ref, struct net_desired *out)
{
        memset(out, 0, sizeof(*out));
        ts__net__apply_bridges__init(&out->msg);
        struct vec br = {0}, vlans = {0}, bonds = {0}, ipconfs = {0}, down = {0}, links = {0};
        int r = build_bridges(out, db, host_ref, &br, &ipconfs, &down, &links);
        if (r == 0)
                r = build_vlans(out, db, host_ref, &vlans);
        if (r == 0)
                r = build_bonds(out, db, host_ref, &bonds);
        if (r == 0)
                r = build_resolver(out, db, host_ref, &out->msg.resolver);
        if (r < 0) {
                net_desired_free(out);
                return r;
        }
        Ts__Net__ApplyBridges *m = &out->msg;
        m->bridges = (Ts__Net__Bridge **)br.v;
        m->n_bridges = br.n;
        m->vlans = (Ts__Net__Vlan **)vlans.v;
        m->n_vlans = vlans.n;
        m->bonds = (Ts__Net__Bond **)bonds.v;
        m->n_bonds = bonds.n;
        m->ipconfs = (Ts__Net__IpConf **)ipconfs.v;
        m->n_ipconfs = ipconfs.n;
        m->down = (char **)down.v;
        m->n_down = down.n;
        m->links = (Ts__Net__LinkConf **)links.v;
        m->n_links = links.n;
        return 0;
}

void net_desired_free(struct net_desired *d)
{
        for (size_t i = 0; i < d->n_owned; i++)
                free(d->owned[i]);
        free(d->owned);
        memset(d, 0, sizeof(*d));
}
