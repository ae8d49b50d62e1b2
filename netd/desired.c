/* ts.net.ApplyBridges into struct rc_desired (see desired.h). */
#include "netd/desired.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"

LOG_MODULE(desired)

static int parse_ms(const char *s, int *out)
{
        char *end;
        long v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
                return -EINVAL;
        *out = (int)v;
        return 0;
}

int desired_bond_opts(const char *mode, Ts__Net__KeyValue *const *props, size_t n,
                      struct bond_opts *out)
{
        bond_opts_init(out);
        if (bond_mode_from_name(mode, &out->mode) < 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                const char *k = props[i]->key, *v = props[i]->value;
                int r = 0;
                if (strcmp(k, "hashing_algorithm") == 0) {
                        r = bond_hash_from_name(v, &out->hash);
                } else if (strcmp(k, "lacp-time") == 0) {
                        if (strcmp(v, "fast") == 0)
                                out->lacp_fast = 1;
                        else if (strcmp(v, "slow") == 0)
                                out->lacp_fast = 0;
                        else
                                r = -EINVAL;
                } else if (strcmp(k, "bond-miimon") == 0) {
                        r = parse_ms(v, &out->miimon);
                } else if (strcmp(k, "bond-updelay") == 0) {
                        r = parse_ms(v, &out->updelay);
                } else if (strcmp(k, "bond-downdelay") == 0) {
                        r = parse_ms(v, &out->downdelay);
                }
                /* an unreadable value (other_config is the administrator's to write) is
                 * left at the kernel's default rather than failing the whole state */
                if (r < 0)
                        log_warnx("bond property %s=%s: not understood, ignored", k, v);
        }
        return 0;
}

int desired_from_msg(const Ts__Net__ApplyBridges *m, struct desired *out)
{
        memset(out, 0, sizeof(*out));
        out->bridges = calloc(m->n_bridges + 1, sizeof(*out->bridges));
        out->vlans = calloc(m->n_vlans + 1, sizeof(*out->vlans));
        out->bonds = calloc(m->n_bonds + 1, sizeof(*out->bonds));
        out->ipconfs = calloc(m->n_ipconfs + 1, sizeof(*out->ipconfs));
        if (!out->bridges || !out->vlans || !out->bonds || !out->ipconfs) {
                desired_free(out);
                return -ENOMEM;
        }
        struct rc_desired *rc = &out->rc;
        for (size_t i = 0; i < m->n_bridges; i++) {
                const Ts__Net__Bridge *b = m->bridges[i];
                out->bridges[i] = (struct rc_bridge){.name = b->name,
                                                     .mtu = b->mtu,
                                                     .ports = (const char *const *)b->ports,
                                                     .n_ports = b->n_ports};
        }
        rc->bridges = out->bridges;
        rc->n_bridges = m->n_bridges;
        for (size_t i = 0; i < m->n_vlans; i++) {
                const Ts__Net__Vlan *v = m->vlans[i];
                out->vlans[i] = (struct rc_vlan){
                    .name = v->name, .parent = v->parent, .tag = v->tag, .mtu = v->mtu};
        }
        rc->vlans = out->vlans;
        rc->n_vlans = m->n_vlans;
        for (size_t i = 0; i < m->n_bonds; i++) {
                const Ts__Net__Bond *b = m->bonds[i];
                struct rc_bond *o = &out->bonds[i];
                if (desired_bond_opts(b->mode, b->properties, b->n_properties, &o->opts) < 0) {
                        desired_free(out);
                        return -EINVAL;
                }
                o->name = b->name;
                o->mtu = b->mtu;
                o->members = (const char *const *)b->members;
                o->n_members = b->n_members;
        }
        rc->bonds = out->bonds;
        rc->n_bonds = m->n_bonds;
        for (size_t i = 0; i < m->n_ipconfs; i++) {
                const Ts__Net__IpConf *c = m->ipconfs[i];
                if (c->mode == TS__NET__IP_CONF__MODE__DHCP)
                        continue; /* the client owns the addresses */
                struct rc_ipconf *o = &out->ipconfs[rc->n_ipconfs++];
                o->ifname = c->ifname;
                o->family = c->family == 4 ? AF_INET : c->family == 6 ? AF_INET6 : AF_UNSPEC;
                if (c->mode == TS__NET__IP_CONF__MODE__STATIC) {
                        o->addrs = (const char *const *)c->addrs;
                        o->n_addrs = c->n_addrs;
                }
        }
        rc->ipconfs = out->ipconfs;
        rc->down = (const char *const *)m->down;
        rc->n_down = m->n_down;
        return 0;
}

void desired_free(struct desired *d)
{
        free(d->bridges);
        free(d->vlans);
        free(d->bonds);
        free(d->ipconfs);
        memset(d, 0, sizeof(*d));
}

static bool listed(char *const *v, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], name) == 0)
                        return true;
        return false;
}

bool desired_mentions(const Ts__Net__ApplyBridges *m, const char *name)
{
        if (m == NULL)
                return false;
        for (size_t i = 0; i < m->n_bridges; i++)
                if (listed(m->bridges[i]->ports, m->bridges[i]->n_ports, name))
                        return true;
        for (size_t i = 0; i < m->n_bonds; i++)
                if (listed(m->bonds[i]->members, m->bonds[i]->n_members, name))
                        return true;
        for (size_t i = 0; i < m->n_vlans; i++)
                if (strcmp(m->vlans[i]->parent, name) == 0)
                        return true;
        return false;
}

Ts__Net__ApplyBridges *desired_copy(const Ts__Net__ApplyBridges *m)
{
        size_t len = ts__net__apply_bridges__get_packed_size(m);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf == NULL)
                return NULL;
        ts__net__apply_bridges__pack(m, buf);
        Ts__Net__ApplyBridges *c = ts__net__apply_bridges__unpack(NULL, len, buf);
        free(buf);
        return c;
}
