/* Planning and applying the convergence of the kernel to a desired state (see reconcile.h).
 * The planner keeps a model of the kernel (links and addresses) and updates it with the
 * effect of every action it emits, so each step sees the state the steps before it leave. */
#include "netd/reconcile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "netd/bridge.h"
#include "netd/vlan.h"

LOG_MODULE(reconcile)

struct mlink {
        char name[IFNAMSIZ];
        char kind[NL_KIND_MAX];
        char master[IFNAMSIZ];
        char parent[IFNAMSIZ];
        int vlan_id;
        int bond_mode;
        unsigned mtu;
        bool up;
        bool owned;
        bool gone; /* deleted by an earlier action */
};

struct maddr {
        char ifname[IFNAMSIZ];
        struct cidr addr;
        bool gone;
};

struct model {
        struct mlink *links;
        size_t n_links, cap_links;
        struct maddr *addrs;
        size_t n_addrs;
        struct rc_plan *plan;
        const struct rc_desired *d;
};

static struct mlink *find(struct model *m, const char *name)
{
        for (size_t i = 0; name && i < m->n_links; i++)
                if (!m->links[i].gone && strcmp(m->links[i].name, name) == 0)
                        return &m->links[i];
        return NULL;
}

static struct mlink *add_link(struct model *m, const char *name, const char *kind)
{
        if (m->n_links == m->cap_links) {
                size_t cap = m->cap_links ? 2 * m->cap_links : 16;
                struct mlink *v = realloc(m->links, cap * sizeof(*v));
                if (!v)
                        return NULL;
                m->links = v;
                m->cap_links = cap;
        }
        struct mlink *l = &m->links[m->n_links++];
        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", name);
        snprintf(l->kind, sizeof(l->kind), "%s", kind);
        l->bond_mode = -1;
        l->mtu = 1500;
        l->owned = true;
        return l;
}

static struct rc_action *emit(struct model *m, enum rc_op op, const char *name, const char *arg)
{
        struct rc_plan *p = m->plan;
        if (p->n == p->cap) {
                size_t cap = p->cap ? 2 * p->cap : 16;
                struct rc_action *v = realloc(p->v, cap * sizeof(*v));
                if (!v)
                        return NULL;
                p->v = v;
                p->cap = cap;
        }
        struct rc_action *a = &p->v[p->n++];
        memset(a, 0, sizeof(*a));
        a->op = op;
        snprintf(a->name, sizeof(a->name), "%s", name);
        snprintf(a->arg, sizeof(a->arg), "%s", arg ? arg : "");
        return a;
}

/* --- the desired state ------------------------------------------------------------------ */

static const struct rc_bridge *want_bridge(const struct rc_desired *d, const char *name)
{
        for (size_t i = 0; i < d->n_bridges; i++)
                if (strcmp(d->bridges[i].name, name) == 0)
                        return &d->bridges[i];
        return NULL;
}

static const struct rc_vlan *want_vlan(const struct rc_desired *d, const char *name)
{
        for (size_t i = 0; i < d->n_vlans; i++)
                if (strcmp(d->vlans[i].name, name) == 0)
                        return &d->vlans[i];
        return NULL;
}

static const struct rc_bond *want_bond(const struct rc_desired *d, const char *name)
{
        for (size_t i = 0; i < d->n_bonds; i++)
                if (strcmp(d->bonds[i].name, name) == 0)
                        return &d->bonds[i];
        return NULL;
}

/* The kind NAME is desired as ("bridge", "vlan", "bond"), or NULL. */
static const char *want_kind(const struct rc_desired *d, const char *name)
{
        if (want_bridge(d, name))
                return "bridge";
        if (want_vlan(d, name))
                return "vlan";
        if (want_bond(d, name))
                return "bond";
        return NULL;
}

/* The master NAME is desired under (a bridge's or a bond's name), or NULL. */
static const char *want_master(const struct rc_desired *d, const char *name)
{
        for (size_t i = 0; i < d->n_bonds; i++)
                for (size_t j = 0; j < d->bonds[i].n_members; j++)
                        if (strcmp(d->bonds[i].members[j], name) == 0)
                                return d->bonds[i].name;
        for (size_t i = 0; i < d->n_bridges; i++)
                for (size_t j = 0; j < d->bridges[i].n_ports; j++)
                        if (strcmp(d->bridges[i].ports[j], name) == 0)
                                return d->bridges[i].name;
        return NULL;
}

static bool valid_name(const char *s)
{
        return s && *s && strlen(s) < IFNAMSIZ && !strchr(s, '/') && !strchr(s, ' ');
}

static int validate(const struct rc_desired *d)
{
        int masters = 0;
        for (size_t i = 0; i < d->n_bridges; i++) {
                const struct rc_bridge *b = &d->bridges[i];
                if (!valid_name(b->name) || want_bridge(d, b->name) != b || want_vlan(d, b->name) ||
                    want_bond(d, b->name))
                        return -EINVAL;
                for (size_t j = 0; j < b->n_ports; j++)
                        if (!valid_name(b->ports[j]) || strcmp(b->ports[j], b->name) == 0)
                                return -EINVAL;
        }
        for (size_t i = 0; i < d->n_vlans; i++) {
                const struct rc_vlan *v = &d->vlans[i];
                if (!valid_name(v->name) || !valid_name(v->parent) || want_vlan(d, v->name) != v ||
                    want_bond(d, v->name) || v->tag < VLAN_TAG_MIN || v->tag > VLAN_TAG_MAX ||
                    strcmp(v->name, v->parent) == 0)
                        return -EINVAL;
        }
        for (size_t i = 0; i < d->n_bonds; i++) {
                const struct rc_bond *b = &d->bonds[i];
                if (!valid_name(b->name) || want_bond(d, b->name) != b ||
                    bond_mode_linux(b->opts.mode) < 0)
                        return -EINVAL;
                for (size_t j = 0; j < b->n_members; j++)
                        if (!valid_name(b->members[j]) || want_kind(d, b->members[j]))
                                return -EINVAL;
        }
        /* a port or member wanted by two masters (or twice by one) */
        for (size_t i = 0; i < d->n_bonds + d->n_bridges; i++) {
                bool bond = i < d->n_bonds;
                const char *master = bond ? d->bonds[i].name : d->bridges[i - d->n_bonds].name;
                size_t n = bond ? d->bonds[i].n_members : d->bridges[i - d->n_bonds].n_ports;
                const char *const *v =
                    bond ? d->bonds[i].members : d->bridges[i - d->n_bonds].ports;
                for (size_t j = 0; j < n; j++) {
                        masters = 0;
                        for (size_t k = 0; k < d->n_bonds; k++)
                                for (size_t x = 0; x < d->bonds[k].n_members; x++)
                                        masters += strcmp(d->bonds[k].members[x], v[j]) == 0;
                        for (size_t k = 0; k < d->n_bridges; k++)
                                for (size_t x = 0; x < d->bridges[k].n_ports; x++)
                                        masters += strcmp(d->bridges[k].ports[x], v[j]) == 0;
                        if (masters != 1 || strcmp(v[j], master) == 0)
                                return -EINVAL;
                }
        }
        for (size_t i = 0; i < d->n_down; i++)
                if (!valid_name(d->down[i]))
                        return -EINVAL;
        for (size_t i = 0; i < d->n_ipconfs; i++) {
                const struct rc_ipconf *c = &d->ipconfs[i];
                struct cidr x;
                if (!valid_name(c->ifname))
                        return -EINVAL;
                for (size_t j = i + 1; j < d->n_ipconfs; j++)
                        if (strcmp(d->ipconfs[j].ifname, c->ifname) == 0 &&
                            (c->family == AF_UNSPEC || d->ipconfs[j].family == AF_UNSPEC ||
                             c->family == d->ipconfs[j].family))
                                return -EINVAL;
                for (size_t j = 0; j < c->n_addrs; j++)
                        if (cidr_parse(c->addrs[j], &x) < 0)
                                return -EINVAL;
        }
        return 0;
}

/* --- model changes ---------------------------------------------------------------------- */

static void model_delete(struct model *m, struct mlink *l)
{
        l->gone = true;
        for (size_t i = 0; i < m->n_links; i++) {
                struct mlink *o = &m->links[i];
                if (o->gone)
                        continue;
                if (strcmp(o->master, l->name) == 0)
                        o->master[0] = 0;
                /* the kernel deletes the VLANs of a deleted parent */
                if (strcmp(o->parent, l->name) == 0 && strcmp(o->kind, "vlan") == 0)
                        model_delete(m, o);
        }
        for (size_t i = 0; i < m->n_addrs; i++)
                if (strcmp(m->addrs[i].ifname, l->name) == 0)
                        m->addrs[i].gone = true;
}

/* True when L (owned) must be deleted: not desired, or desired as something it cannot be
 * changed into. */
static bool must_delete(const struct rc_desired *d, const struct mlink *l)
{
        if (!l->owned)
                return false;
        if (strcmp(l->kind, "bridge") && strcmp(l->kind, "vlan") && strcmp(l->kind, "bond"))
                return false;
        const char *kind = want_kind(d, l->name);
        if (!kind || strcmp(kind, l->kind) != 0)
                return true;
        const struct rc_vlan *v = want_vlan(d, l->name);
        return v && (v->tag != l->vlan_id || strcmp(v->parent, l->parent) != 0);
}

/* True when NAME exists as something else than KIND and is not ours: it blocks KIND NAME. */
static bool conflict(struct model *m, const char *name, const char *kind)
{
        struct mlink *l = find(m, name);
        if (!l || strcmp(l->kind, kind) == 0)
                return false;
        log_warnx("cannot make %s %s: a %s link of that name exists and is not netd's", kind, name,
                  l->kind[0] ? l->kind : "plain");
        apply_report_add(m->plan->report, name, EEXIST,
                         "cannot make %s %s: a %s link of that name exists and is not netd's", kind,
                         name, l->kind[0] ? l->kind : "plain");
        return true;
}

/* The VLAN device (other than NAME) that already carries TAG on PARENT, or NULL: the kernel
 * allows one per tag and parent. */
static struct mlink *vlan_holder(struct model *m, const char *name, const char *parent, int tag)
{
        for (size_t i = 0; i < m->n_links; i++) {
                struct mlink *l = &m->links[i];
                if (!l->gone && strcmp(l->kind, "vlan") == 0 && l->vlan_id == tag &&
                    strcmp(l->parent, parent) == 0 && strcmp(l->name, name) != 0)
                        return l;
        }
        return NULL;
}

static int release(struct model *m, struct mlink *l)
{
        if (!emit(m, RC_RELEASE, l->name, l->master))
                return -ENOMEM;
        l->master[0] = 0;
        return 0;
}

/* Step 1. */
static int plan_releases(struct model *m)
{
        const struct rc_desired *d = m->d;
        for (size_t i = 0; i < m->n_links; i++) {
                struct mlink *l = &m->links[i];
                if (l->gone || !l->master[0] || must_delete(d, l))
                        continue;
                struct mlink *master = find(m, l->master);
                const char *want = want_master(d, l->name);
                bool ours = master && (master->owned || want_kind(d, master->name));
                if (master && must_delete(d, master))
                        continue; /* deleting the master releases it */
                if (want && strcmp(want, l->master) == 0) {
                        /* a bond whose mode changes must lose its members first */
                        const struct rc_bond *b = want_bond(d, want);
                        if (!(b && master && master->bond_mode >= 0 &&
                              master->bond_mode != bond_mode_linux(b->opts.mode)))
                                continue;
                } else if (!want && !ours) {
                        continue; /* a port of somebody else's bridge */
                }
                if (release(m, l) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Step 2: VLANs, then bonds, then bridges. */
static int plan_deletes(struct model *m)
{
        static const char *const order[] = {"vlan", "bond", "bridge"};
        for (size_t k = 0; k < 3; k++)
                for (size_t i = 0; i < m->n_links; i++) {
                        struct mlink *l = &m->links[i];
                        if (l->gone || strcmp(l->kind, order[k]) || !must_delete(m->d, l))
                                continue;
                        if (!emit(m, RC_DELETE, l->name, l->kind))
                                return -ENOMEM;
                        model_delete(m, l);
                }
        return 0;
}

static int adopt(struct model *m, struct mlink *l)
{
        if (l->owned)
                return 0;
        if (!emit(m, RC_ADOPT, l->name, l->kind))
                return -ENOMEM;
        l->owned = true;
        return 0;
}

/* Step 3. */
static int plan_bonds(struct model *m)
{
        for (size_t i = 0; i < m->d->n_bonds; i++) {
                const struct rc_bond *b = &m->d->bonds[i];
                if (conflict(m, b->name, "bond"))
                        continue;
                struct mlink *l = find(m, b->name);
                int mode = bond_mode_linux(b->opts.mode);
                struct rc_action *a;
                if (!l) {
                        if (!(a = emit(m, RC_CREATE_BOND, b->name, NULL)))
                                return -ENOMEM;
                        a->bond = b->opts;
                        a->mtu = b->mtu;
                        if (!(l = add_link(m, b->name, "bond")))
                                return -ENOMEM;
                        l->bond_mode = mode;
                        if (b->mtu)
                                l->mtu = b->mtu;
                } else {
                        if (adopt(m, l) < 0)
                                return -ENOMEM;
                        if (l->bond_mode >= 0 && l->bond_mode != mode) {
                                if (!(a = emit(m, RC_SET_BOND, b->name, NULL)))
                                        return -ENOMEM;
                                a->bond = b->opts;
                                l->bond_mode = mode;
                                l->up = false;
                        }
                }
                for (size_t j = 0; j < b->n_members; j++) {
                        struct mlink *mem = find(m, b->members[j]);
                        if (!mem) {
                                log_debug("bond %s: member %s does not exist yet", b->name,
                                          b->members[j]);
                                continue;
                        }
                        if (strcmp(mem->master, b->name) == 0)
                                continue;
                        if (mem->master[0] && release(m, mem) < 0)
                                return -ENOMEM;
                        if (mem->up && !emit(m, RC_SET_DOWN, mem->name, NULL))
                                return -ENOMEM;
                        if (!emit(m, RC_ENSLAVE_BOND, mem->name, b->name))
                                return -ENOMEM;
                        snprintf(mem->master, IFNAMSIZ, "%s", b->name);
                        mem->up = true; /* the bond opens its members */
                }
        }
        return 0;
}

/* Step 4. */
static int plan_bridges_vlans(struct model *m)
{
        const struct rc_desired *d = m->d;
        for (size_t i = 0; i < d->n_bridges; i++) {
                const struct rc_bridge *b = &d->bridges[i];
                if (conflict(m, b->name, "bridge"))
                        continue;
                struct mlink *l = find(m, b->name);
                if (l) {
                        if (adopt(m, l) < 0)
                                return -ENOMEM;
                        continue;
                }
                struct rc_action *a = emit(m, RC_CREATE_BRIDGE, b->name, NULL);
                if (!a || !(l = add_link(m, b->name, "bridge")))
                        return -ENOMEM;
                a->mtu = b->mtu;
                if (b->mtu)
                        l->mtu = b->mtu;
        }
        for (size_t i = 0; i < d->n_vlans; i++) {
                const struct rc_vlan *v = &d->vlans[i];
                if (conflict(m, v->name, "vlan"))
                        continue;
                struct mlink *l = find(m, v->name);
                if (l) {
                        if (!l->owned && (l->vlan_id != v->tag || strcmp(l->parent, v->parent))) {
                                log_warnx("vlan %s exists with another tag or parent and is not "
                                          "netd's: left alone",
                                          v->name);
                                apply_report_add(m->plan->report, v->name, EEXIST,
                                                 "vlan %s exists with another tag or parent and "
                                                 "is not netd's",
                                                 v->name);
                                continue;
                        }
                        if (adopt(m, l) < 0)
                                return -ENOMEM;
                        continue;
                }
                struct mlink *parent = find(m, v->parent);
                if (!parent) {
                        log_warnx("vlan %s: parent %s does not exist", v->name, v->parent);
                        apply_report_add(m->plan->report, v->name, ENODEV,
                                         "vlan %s: parent %s does not exist", v->name, v->parent);
                        continue;
                }
                struct mlink *holder = vlan_holder(m, v->name, v->parent, v->tag);
                if (holder) {
                        log_warnx("vlan %s: %s already carries tag %d on %s", v->name, holder->name,
                                  v->tag, v->parent);
                        apply_report_add(m->plan->report, v->name, EBUSY,
                                         "%s already carries tag %d on %s", holder->name, v->tag,
                                         v->parent);
                        continue;
                }
                struct rc_action *a = emit(m, RC_CREATE_VLAN, v->name, v->parent);
                if (!a)
                        return -ENOMEM;
                a->tag = v->tag;
                a->mtu = v->mtu;
                unsigned pmtu = parent->mtu;
                if (!(l = add_link(m, v->name, "vlan")))
                        return -ENOMEM;
                snprintf(l->parent, IFNAMSIZ, "%s", v->parent);
                l->vlan_id = v->tag;
                l->mtu = v->mtu ? v->mtu : pmtu;
        }
        return 0;
}

static int set_mtu(struct model *m, const char *name, unsigned mtu)
{
        struct mlink *l = find(m, name);
        if (!mtu || !l || l->mtu == mtu)
                return 0;
        struct rc_action *a = emit(m, RC_SET_MTU, name, NULL);
        if (!a)
                return -ENOMEM;
        a->mtu = mtu;
        l->mtu = mtu;
        return 0;
}

/* Step 5. */
static int plan_mtus(struct model *m)
{
        const struct rc_desired *d = m->d;
        for (size_t i = 0; i < d->n_bonds; i++)
                if (set_mtu(m, d->bonds[i].name, d->bonds[i].mtu) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < d->n_vlans; i++)
                if (set_mtu(m, d->vlans[i].name, d->vlans[i].mtu) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < d->n_bridges; i++)
                for (size_t j = 0; j < d->bridges[i].n_ports; j++)
                        if (set_mtu(m, d->bridges[i].ports[j], d->bridges[i].mtu) < 0)
                                return -ENOMEM;
        for (size_t i = 0; i < d->n_bridges; i++)
                if (find(m, d->bridges[i].name) &&
                    !strcmp(find(m, d->bridges[i].name)->kind, "bridge") &&
                    set_mtu(m, d->bridges[i].name, d->bridges[i].mtu) < 0)
                        return -ENOMEM;
        return 0;
}

/* Step 6. */
static int plan_ports(struct model *m)
{
        const struct rc_desired *d = m->d;
        for (size_t i = 0; i < d->n_bridges; i++) {
                const struct rc_bridge *b = &d->bridges[i];
                struct mlink *br = find(m, b->name);
                if (!br || strcmp(br->kind, "bridge"))
                        continue;
                for (size_t j = 0; j < b->n_ports; j++) {
                        struct mlink *p = find(m, b->ports[j]);
                        if (!p) {
                                log_debug("bridge %s: port %s does not exist yet", b->name,
                                          b->ports[j]);
                                continue;
                        }
                        if (strcmp(p->master, b->name) == 0)
                                continue;
                        if (p->master[0] && release(m, p) < 0)
                                return -ENOMEM;
                        if (!emit(m, RC_ADD_PORT, p->name, b->name))
                                return -ENOMEM;
                        snprintf(p->master, IFNAMSIZ, "%s", b->name);
                }
        }
        return 0;
}

static bool want_down(const struct rc_desired *d, const char *name)
{
        for (size_t i = 0; i < d->n_down; i++)
                if (strcmp(d->down[i], name) == 0)
                        return true;
        return false;
}

static int set_up(struct model *m, const char *name)
{
        struct mlink *l = find(m, name);
        if (!l || l->up || want_down(m->d, name))
                return 0;
        if (!emit(m, RC_SET_UP, name, NULL))
                return -ENOMEM;
        l->up = true;
        return 0;
}

/* Step 7. */
static int plan_ups(struct model *m)
{
        const struct rc_desired *d = m->d;
        int r = 0;
        for (size_t i = 0; i < d->n_bonds; i++)
                for (size_t j = 0; j < d->bonds[i].n_members; j++)
                        r |= set_up(m, d->bonds[i].members[j]);
        for (size_t i = 0; i < d->n_bridges; i++)
                for (size_t j = 0; j < d->bridges[i].n_ports; j++)
                        r |= set_up(m, d->bridges[i].ports[j]);
        for (size_t i = 0; i < d->n_bonds; i++)
                r |= set_up(m, d->bonds[i].name);
        /* The kernel refuses to open a VLAN device on a parent that is down (ENETDOWN); as
         * in XAPI, plugging a VLAN brings up its tagged device first. */
        for (size_t i = 0; i < d->n_vlans; i++) {
                r |= set_up(m, d->vlans[i].parent);
                r |= set_up(m, d->vlans[i].name);
        }
        for (size_t i = 0; i < d->n_bridges; i++)
                r |= set_up(m, d->bridges[i].name);
        for (size_t i = 0; i < d->n_down; i++) {
                struct mlink *l = find(m, d->down[i]);
                if (!l || !l->up)
                        continue;
                if (!emit(m, RC_SET_DOWN, l->name, NULL))
                        return -ENOMEM;
                l->up = false;
        }
        return r ? -ENOMEM : 0;
}

/* Step 8. */
static int plan_addrs(struct model *m)
{
        const struct rc_desired *d = m->d;
        for (size_t i = 0; i < d->n_ipconfs; i++) {
                const struct rc_ipconf *c = &d->ipconfs[i];
                if (!find(m, c->ifname)) {
                        log_warnx("addresses for %s: no such link", c->ifname);
                        continue;
                }
                for (size_t k = 0; k < m->n_addrs; k++) {
                        struct maddr *a = &m->addrs[k];
                        if (a->gone || strcmp(a->ifname, c->ifname) || cidr_is_link_local(&a->addr))
                                continue;
                        if (c->family != AF_UNSPEC && a->addr.family != c->family)
                                continue;
                        bool wanted = false;
                        for (size_t j = 0; j < c->n_addrs && !wanted; j++) {
                                struct cidr x;
                                wanted =
                                    cidr_parse(c->addrs[j], &x) == 0 && cidr_equal(&x, &a->addr);
                        }
                        if (wanted)
                                continue;
                        struct rc_action *act = emit(m, RC_ADDR_DEL, c->ifname, NULL);
                        if (!act)
                                return -ENOMEM;
                        act->addr = a->addr;
                        a->gone = true;
                }
                for (size_t j = 0; j < c->n_addrs; j++) {
                        struct cidr x;
                        bool have = false;
                        (void)cidr_parse(c->addrs[j], &x);
                        for (size_t k = 0; k < m->n_addrs && !have; k++)
                                have = !m->addrs[k].gone &&
                                       !strcmp(m->addrs[k].ifname, c->ifname) &&
                                       cidr_equal(&m->addrs[k].addr, &x);
                        for (size_t k = 0; k < j && !have; k++) {
                                struct cidr y; /* the same address listed twice */
                                have = cidr_parse(c->addrs[k], &y) == 0 && cidr_equal(&x, &y);
                        }
                        if (have)
                                continue;
                        struct rc_action *act = emit(m, RC_ADDR_ADD, c->ifname, NULL);
                        if (!act)
                                return -ENOMEM;
                        act->addr = x;
                }
        }
        return 0;
}

static int load_model(struct model *m, const struct nl_link_list *links,
                      const struct addr_list *addrs)
{
        for (size_t i = 0; links && i < links->n; i++) {
                const struct nl_link_info *o = &links->v[i];
                struct mlink *l = add_link(m, o->name, o->kind);
                if (!l)
                        return -ENOMEM;
                snprintf(l->master, IFNAMSIZ, "%s", o->master_name);
                snprintf(l->parent, IFNAMSIZ, "%s", o->parent_name);
                l->vlan_id = o->vlan_id;
                l->bond_mode = o->bond_mode;
                l->mtu = o->mtu;
                l->up = (o->flags & IFF_UP) != 0;
                l->owned = nl_link_is_owned(o);
        }
        if (addrs && addrs->n) {
                m->addrs = calloc(addrs->n, sizeof(*m->addrs));
                if (!m->addrs)
                        return -ENOMEM;
                for (size_t i = 0; i < addrs->n; i++) {
                        snprintf(m->addrs[i].ifname, IFNAMSIZ, "%s", addrs->v[i].ifname);
                        m->addrs[i].addr = addrs->v[i].addr;
                }
                m->n_addrs = addrs->n;
        }
        return 0;
}

int reconcile_plan(const struct rc_desired *desired, const struct nl_link_list *links,
                   const struct addr_list *addrs, struct rc_plan *plan)
{
        return reconcile_plan_report(desired, links, addrs, NULL, plan);
}

int reconcile_plan_report(const struct rc_desired *desired, const struct nl_link_list *links,
                          const struct addr_list *addrs, struct apply_report *report,
                          struct rc_plan *plan)
{
        memset(plan, 0, sizeof(*plan));
        plan->report = report;
        int r = validate(desired);
        if (r < 0) {
                log_warnx("inconsistent desired network state");
                return r;
        }
        struct model m = {.plan = plan, .d = desired};
        r = load_model(&m, links, addrs);
        if (r == 0)
                r = plan_releases(&m);
        if (r == 0)
                r = plan_deletes(&m);
        if (r == 0)
                r = plan_bonds(&m);
        if (r == 0)
                r = plan_bridges_vlans(&m);
        if (r == 0)
                r = plan_mtus(&m);
        if (r == 0)
                r = plan_ports(&m);
        if (r == 0)
                r = plan_ups(&m);
        if (r == 0 && addrs)
                r = plan_addrs(&m);
        free(m.links);
        free(m.addrs);
        if (r < 0)
                rc_plan_free(plan);
        return r;
}

void rc_plan_free(struct rc_plan *plan)
{
        if (!plan)
                return;
        free(plan->v);
        memset(plan, 0, sizeof(*plan));
}

const char *rc_op_name(enum rc_op op)
{
        static const char *const names[] = {
            [RC_RELEASE] = "release",
            [RC_DELETE] = "delete",
            [RC_ADOPT] = "adopt",
            [RC_CREATE_BOND] = "create-bond",
            [RC_SET_BOND] = "set-bond",
            [RC_SET_DOWN] = "set-down",
            [RC_ENSLAVE_BOND] = "enslave-bond",
            [RC_CREATE_BRIDGE] = "create-bridge",
            [RC_CREATE_VLAN] = "create-vlan",
            [RC_SET_MTU] = "set-mtu",
            [RC_ADD_PORT] = "add-port",
            [RC_SET_UP] = "set-up",
            [RC_ADDR_DEL] = "addr-del",
            [RC_ADDR_ADD] = "addr-add",
        };
        return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

void rc_action_format(const struct rc_action *a, char *buf, size_t len)
{
        char extra[64] = "";
        char c[CIDR_STR_MAX];
        switch (a->op) {
        case RC_CREATE_BOND:
        case RC_SET_BOND:
                snprintf(extra, sizeof(extra), " mode=%s", bond_mode_name(a->bond.mode));
                break;
        case RC_CREATE_VLAN:
                snprintf(extra, sizeof(extra), " tag=%d", a->tag);
                break;
        case RC_ADDR_ADD:
        case RC_ADDR_DEL:
                cidr_format(&a->addr, c);
                snprintf(extra, sizeof(extra), " %s", c);
                break;
        default:
                break;
        }
        char mtu[24] = "";
        if (a->mtu)
                snprintf(mtu, sizeof(mtu), " mtu=%u", a->mtu);
        snprintf(buf, len, "%s %s%s%s%s%s", rc_op_name(a->op), a->name, a->arg[0] ? " " : "",
                 a->arg, extra, mtu);
}

static int apply_one(struct nl_ctx *ctx, const struct rc_action *a)
{
        char c[CIDR_STR_MAX];
        int r;
        switch (a->op) {
        case RC_RELEASE:
                return nl_link_set_master(ctx, a->name, NULL);
        case RC_DELETE:
                r = nl_link_delete(ctx, a->name);
                return r == -ENODEV ? 0 : r; /* gone with its parent */
        case RC_ADOPT:
                return nl_link_mark_owned(ctx, a->name, a->arg);
        case RC_CREATE_BOND:
                return bond_create(ctx, a->name, &a->bond, a->mtu);
        case RC_SET_BOND:
                return bond_set_opts(ctx, a->name, &a->bond);
        case RC_SET_DOWN:
                return nl_link_set_up(ctx, a->name, false);
        case RC_ENSLAVE_BOND:
                return bond_enslave(ctx, a->arg, a->name);
        case RC_CREATE_BRIDGE:
                return bridge_create(ctx, a->name, a->mtu, NULL);
        case RC_CREATE_VLAN:
                return vlan_create(ctx, a->name, a->arg, a->tag, a->mtu);
        case RC_SET_MTU:
                return nl_link_set_mtu(ctx, a->name, a->mtu);
        case RC_ADD_PORT:
                return bridge_add_port(ctx, a->arg, a->name);
        case RC_SET_UP:
                return nl_link_set_up(ctx, a->name, true);
        case RC_ADDR_DEL:
                cidr_format(&a->addr, c);
                r = addr_del(ctx, a->name, c);
                /* removing a primary IPv4 address takes its secondaries with it */
                return r == -EADDRNOTAVAIL ? 0 : r;
        case RC_ADDR_ADD:
                cidr_format(&a->addr, c);
                return addr_add(ctx, a->name, c);
        }
        return -EINVAL;
}

int reconcile_apply(struct nl_ctx *ctx, const struct rc_plan *plan)
{
        int first = 0;
        for (size_t i = 0; plan && i < plan->n; i++) {
                char line[128];
                rc_action_format(&plan->v[i], line, sizeof(line));
                int r = apply_one(ctx, &plan->v[i]);
                if (r < 0) {
                        log_warnx("reconcile: %s: %s", line, strerror(-r));
                        apply_report_add(plan->report, plan->v[i].name, r, "%s: %s", line,
                                         strerror(-r));
                        if (!first)
                                first = r;
                } else {
                        log_info("reconcile: %s", line);
                }
        }
        return first;
}

int reconcile_run(struct nl_ctx *ctx, const struct rc_desired *desired, struct rc_plan *plan_out)
{
        struct nl_link_list links = {0};
        struct addr_list addrs = {0};
        struct rc_plan plan = {0};
        int r = nl_link_list(ctx, &links);
        if (r == 0 && desired->n_ipconfs)
                r = addr_list(ctx, &addrs);
        if (r == 0)
                r = reconcile_plan(desired, &links, desired->n_ipconfs ? &addrs : NULL, &plan);
        if (r == 0)
                r = reconcile_apply(ctx, &plan);
        nl_link_list_free(&links);
        addr_list_free(&addrs);
        if (plan_out)
                *plan_out = plan;
        else
                rc_plan_free(&plan);
        return r;
}
