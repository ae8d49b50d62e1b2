/* Bond.create / destroy / set_mode / set_property, as XAPI's xapi_bond.ml: a bond master PIF
 * "bondN" on the given network; the members' IP configuration (the primary member's: the
 * management PIF, else the first with an address, else the first) and the management role
 * move to the master, and back to the primary member on destroy; VLANs on the members move
 * to the master (re-pointed: XAPI makes new VLAN objects with the same tag and network); the
 * VIFs of VMs running here on the members' networks move to the bond's network and back.
 * Properties are checked against the mode as XAPI does (lacp: hashing_algorithm, lacp-time,
 * lacp-aggregation-key, lacp-fallback-ab, with XAPI's defaults; other modes take none).
 * The kernel bond is netd's (netd/bond.h: active-backup, lacp -> 802.3ad, balance-slb ->
 * balance-tlb, and why). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/net.h"
#include "xapid/net_check.h"
#include "xapid/net_vif.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(net_bond)

#define MAX_MEMBERS 16

static const char *str_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        return i < n && params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
}

static void set_text(struct db *db, struct db_row *row, int f, const char *v)
{
        char *copy = (char *)v;
        db_set(db, row, f, &copy);
}

static const struct mtype *props_type(void)
{
        return mclass_Bond.fields[API_Bond_F_properties].type;
}

/* XAPI's requirements_of_mode: the properties MODE accepts, their values and defaults. */
static bool valid_property(int mode, const char *k, const char *v)
{
        if (mode != API_BOND_MODE_LACP)
                return false;
        if (strcmp(k, "hashing_algorithm") == 0)
                return strcmp(v, "src_mac") == 0 || strcmp(v, "tcpudp_ports") == 0;
        if (strcmp(k, "lacp-time") == 0)
                return strcmp(v, "fast") == 0 || strcmp(v, "slow") == 0;
        if (strcmp(k, "lacp-fallback-ab") == 0)
                return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
        if (strcmp(k, "lacp-aggregation-key") == 0) {
                char *end;
                (void)strtol(v, &end, 10);
                return *v != '\0' && *end == '\0';
        }
        return false;
}

static int property_error(struct api_error *err, const char *k, const char *v)
{
        char text[256];
        snprintf(text, sizeof(text), "%s = %s", k, v);
        return api_error_set(err, "INVALID_VALUE", "properties", text, NULL);
}

static void add_defaults(int mode, struct mmap *m)
{
        static const char *const lacp[][2] = {{"hashing_algorithm", "tcpudp_ports"},
                                              {"lacp-time", "slow"},
                                              {"lacp-fallback-ab", "true"}};
        if (mode != API_BOND_MODE_LACP)
                return;
        for (size_t i = 0; i < 3; i++) {
                const char *k = lacp[i][0], *v = lacp[i][1];
                if (mmap_find(props_type()->key, m, &k) < 0)
                        mmap_put(props_type(), m, &k, &v);
        }
}

static bool has_ip(const struct api_PIF *p)
{
        return p->primary_address_type == API_PRIMARY_ADDRESS_TYPE_IPV6
                   ? p->ipv6_configuration_mode != API_IPV6_CONFIGURATION_MODE_NONE
                   : p->ip_configuration_mode != API_IP_CONFIGURATION_MODE_NONE;
}

/* XAPI's move_configuration: the IPv4 configuration and DNS of FROM to TO; FROM's cleared. */
static void move_configuration(struct db *db, struct db_row *from, struct db_row *to)
{
        const struct api_PIF *f = from->rec;
        int mode = f->ip_configuration_mode, none = API_IP_CONFIGURATION_MODE_NONE;
        char *ip = strdup(f->IP), *mask = strdup(f->netmask), *gw = strdup(f->gateway);
        char *dns = strdup(f->DNS);
        if (!ip || !mask || !gw || !dns)
                abort();
        db_set(db, to, API_PIF_F_ip_configuration_mode, &mode);
        set_text(db, to, API_PIF_F_IP, ip);
        set_text(db, to, API_PIF_F_netmask, mask);
        set_text(db, to, API_PIF_F_gateway, gw);
        set_text(db, to, API_PIF_F_DNS, dns);
        db_set(db, from, API_PIF_F_ip_configuration_mode, &none);
        set_text(db, from, API_PIF_F_IP, "");
        set_text(db, from, API_PIF_F_netmask, "");
        set_text(db, from, API_PIF_F_gateway, "");
        set_text(db, from, API_PIF_F_DNS, "");
        free(ip);
        free(mask);
        free(gw);
        free(dns);
}

/* The VLANs whose tagged PIF is FROM now tag TO (their PIFs take TO's device). */
static void move_vlans(struct db *db, struct db_row *from, struct db_row *to)
{
        const char *dev = ((struct api_PIF *)to->rec)->device;
        char *refs[64];
        size_t n = 0;
        for (size_t i = 0; i < db_count(db, &mclass_VLAN) && n < 64; i++) {
                struct db_row *v = db_row_at(db, &mclass_VLAN, i);
                if (strcmp(((struct api_VLAN *)v->rec)->tagged_PIF, from->ref) == 0)
                        refs[n++] = v->ref;
        }
        for (size_t i = 0; i < n; i++) {
                struct db_row *v = db_get(db, &mclass_VLAN, refs[i]);
                set_text(db, v, API_VLAN_F_tagged_PIF, to->ref);
                struct db_row *u =
                    db_get(db, &mclass_PIF, ((struct api_VLAN *)v->rec)->untagged_PIF);
                if (u != NULL)
                        set_text(db, u, API_PIF_F_device, dev);
        }
}

/* The VIFs on network FROM of VMs resident on HOST and running move to network TO. */
static void move_vifs(struct db *db, const char *host, const char *from, const char *to)
{
        char *refs[256];
        size_t n = 0;
        for (size_t i = 0; i < db_count(db, &mclass_VIF) && n < 256; i++) {
                struct db_row *r = db_row_at(db, &mclass_VIF, i);
                const struct api_VIF *v = r->rec;
                struct db_row *vm = db_get(db, &mclass_VM, v->VM);
                if (vm == NULL || strcmp(v->network, from) != 0)
                        continue;
                const struct api_VM *m = vm->rec;
                if (strcmp(m->resident_on, host) == 0 &&
                    m->power_state != API_VM_POWER_STATE_HALTED)
                        refs[n++] = r->ref;
        }
        for (size_t i = 0; i < n; i++)
                set_text(db, db_get(db, &mclass_VIF, refs[i]), API_VIF_F_network, to);
}

static void set_management(struct db *db, struct db_row *from, struct db_row *to)
{
        bool f = false, t = true;
        db_set(db, from, API_PIF_F_management, &f);
        db_set(db, to, API_PIF_F_management, &t);
}

static void undo_bond_create(struct xapi *x, void *arg);

/* Bond.create(session, network, members, MAC, mode, properties) */
int h_Bond_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        struct db *db = ctx->db;
        const char *network = str_param(params, n, 1), *mac = str_param(params, n, 3);
        const char *mode_s = str_param(params, n, 4);
        const struct rpc_value *mv = params[2], *pv = params[5];
        struct db_row *members[MAX_MEMBERS];
        size_t nm = 0;
        for (size_t i = 0; mv->type == RPC_ARRAY && i < mv->u.arr.n; i++) {
                const struct rpc_value *it = mv->u.arr.items[i];
                const char *ref = it->type == RPC_STRING ? it->u.str.s : "";
                struct db_row *p = db_get(db, &mclass_PIF, ref);
                if (p == NULL)
                        return api_error_set(err, "HANDLE_INVALID", "PIF", ref, NULL);
                bool dup = false;
                for (size_t j = 0; j < nm && !dup; j++)
                        dup = members[j] == p; /* XAPI: setify */
                if (dup)
                        continue;
                if (nm == MAX_MEMBERS)
                        return api_error_set(err, "INVALID_VALUE", "members", "too many", NULL);
                members[nm++] = p;
        }
        if (nm == 0)
                return api_error_set(err, "PIF_BOND_NEEDS_MORE_MEMBERS", NULL);
        struct db_row *net = db_get(db, &mclass_network, network);
        if (net == NULL)
                return api_error_set(err, "HANDLE_INVALID", "network", network, NULL);
        if (!((struct api_network *)net->rec)->managed)
                return api_error_set(err, "NETWORK_UNMANAGED", net->ref, NULL);
        const char *host = ((struct api_PIF *)members[0]->rec)->host;
        for (size_t i = 0; i < db_count(db, &mclass_PIF); i++) {
                struct db_row *o = db_row_at(db, &mclass_PIF, i);
                const struct api_PIF *op = o->rec;
                if (strcmp(op->network, net->ref) == 0 && strcmp(op->host, host) == 0)
                        return api_error_set(err, "NETWORK_ALREADY_CONNECTED", host, o->ref, NULL);
        }
        if (mac[0] != '\0' && !net_mac_valid(mac))
                return api_error_set(err, "MAC_INVALID", mac, NULL);
        int mode = menum_lookup(&menum_bond_mode, mode_s);
        if (mode < 0)
                return api_error_set(err, "INVALID_VALUE", "mode", mode_s, NULL);
        for (size_t i = 0; pv->type == RPC_STRUCT && i < pv->u.st.n; i++) {
                const struct rpc_value *v = pv->u.st.vals[i];
                const char *val = v->type == RPC_STRING ? v->u.str.s : "";
                if (!valid_property(mode, pv->u.st.keys[i], val))
                        return property_error(err, pv->u.st.keys[i], val);
        }
        /* the primary member: the management PIF, else the first with IP, else the first */
        struct db_row *mgmt = NULL, *with_ip = NULL;
        size_t n_ip = 0;
        for (size_t i = 0; i < nm; i++) {
                const struct api_PIF *p = members[i]->rec;
                if (p->management && mgmt == NULL)
                        mgmt = members[i];
                if (has_ip(p)) {
                        n_ip++;
                        if (with_ip == NULL)
                                with_ip = members[i];
                }
        }
        struct db_row *primary = mgmt ? mgmt : with_ip ? with_ip : members[0];
        const struct api_PIF *pp = primary->rec;
        for (size_t i = 0; i < nm; i++)
                if (((struct api_PIF *)members[i]->rec)->primary_address_type !=
                    pp->primary_address_type)
                        return api_error_set(err, "PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE",
                                             members[i]->ref, NULL);
        for (size_t i = 0; i < nm; i++) {
                const struct api_PIF *p = members[i]->rec;
                if (!p->managed)
                        return api_error_set(err, "PIF_UNMANAGED", members[i]->ref, NULL);
                if (db_get(db, &mclass_Bond, p->bond_slave_of) != NULL)
                        return api_error_set(err, "PIF_ALREADY_BONDED", members[i]->ref, NULL);
                if (p->VLAN >= 0)
                        return api_error_set(err, "PIF_VLAN_EXISTS", p->device, NULL);
                if (strcmp(p->host, host) != 0)
                        return api_error_set(err, "PIF_CANNOT_BOND_CROSS_HOST", NULL);
        }
        for (size_t i = 1; i < nm; i++)
                if (!model_slot_equal(mclass_PIF.fields[API_PIF_F_properties].type,
                                      &((struct api_PIF *)members[0]->rec)->properties,
                                      &((struct api_PIF *)members[i]->rec)->properties))
                        return api_error_set(err, "INCOMPATIBLE_PIF_PROPERTIES", NULL);
        if (n_ip > 1)
                return api_error_set(err, "PIF_BOND_MORE_THAN_ONE_IP", NULL);

        char device[16];
        for (unsigned k = 0;; k++) {
                snprintf(device, sizeof(device), "bond%u", k);
                bool used = false;
                for (size_t i = 0; i < db_count(db, &mclass_PIF) && !used; i++) {
                        const struct api_PIF *o = db_row_at(db, &mclass_PIF, i)->rec;
                        used = strcmp(o->host, host) == 0 && strcmp(o->device, device) == 0;
                }
                if (!used)
                        break;
        }
        struct api_PIF_metrics *m = model_record_new(&mclass_PIF_metrics);
        struct db_row *mrow, *master, *bond;
        if (db_insert(db, &mclass_PIF_metrics, NULL, m, &mrow) < 0)
                return api_error_set(err, "INTERNAL_ERROR", "cannot store PIF_metrics", NULL);
        struct api_PIF *mp = model_record_new(&mclass_PIF);
        free(mp->device);
        free(mp->network);
        free(mp->host);
        free(mp->MAC);
        free(mp->metrics);
        mp->device = strdup(device);
        mp->network = strdup(net->ref);
        mp->host = strdup(host);
        mp->MAC = strdup(mac[0] ? mac : pp->MAC);
        mp->metrics = strdup(mrow->ref);
        if (!mp->device || !mp->network || !mp->host || !mp->MAC || !mp->metrics)
                abort();
        mp->MTU = pp->MTU;
        mp->VLAN = -1;
        mp->physical = false;
        mp->currently_attached = true; /* XAPI brings the master up at once */
        mp->managed = true;
        mp->primary_address_type = pp->primary_address_type;
        model_slot_free(mclass_PIF.fields[API_PIF_F_properties].type, &mp->properties);
        model_slot_copy(mclass_PIF.fields[API_PIF_F_properties].type, &mp->properties,
                        &pp->properties);
        if (db_insert(db, &mclass_PIF, NULL, mp, &master) < 0) {
                db_delete(db, mrow);
                return api_error_set(err, "INTERNAL_ERROR", "cannot store the PIF", NULL);
        }
        struct api_Bond *b = model_record_new(&mclass_Bond);
        free(b->master);
        free(b->primary_slave);
        b->master = strdup(master->ref);
        b->primary_slave = strdup(primary->ref);
        if (!b->master || !b->primary_slave)
                abort();
        b->mode = mode;
        b->auto_update_mac = mac[0] == '\0';
        for (size_t i = 0; pv->type == RPC_STRUCT && i < pv->u.st.n; i++) {
                const char *k = pv->u.st.keys[i], *v = pv->u.st.vals[i]->u.str.s;
                mmap_put(props_type(), &b->properties, &k, &v);
        }
        add_defaults(mode, &b->properties);
        if (db_insert(db, &mclass_Bond, NULL, b, &bond) < 0) {
                db_delete(db, master);
                db_delete(db, mrow);
                return api_error_set(err, "INTERNAL_ERROR", "cannot store the Bond", NULL);
        }
        char *bref = bond->ref;
        for (size_t i = 0; i < nm; i++)
                db_set(db, members[i], API_PIF_F_bond_slave_of, &bref);
        move_configuration(db, primary, master);
        if (mgmt != NULL)
                set_management(db, mgmt, master);
        for (size_t i = 0; i < nm; i++) {
                move_vlans(db, members[i], master);
                move_vifs(db, host, ((struct api_PIF *)members[i]->rec)->network, net->ref);
        }
        log_info("bond %s (%s, %zu member(s)) on network %s", device, mode_s, nm, net->ref);
        char *undo_ref = strdup(bond->ref);
        if (undo_ref == NULL)
                return -ENOMEM;
        struct net_check check = {.links = {device, ((struct api_network *)net->rec)->bridge},
                                  .n_links = 2,
                                  .pif = master->ref,
                                  .undo = undo_bond_create,
                                  .undo_arg = undo_ref};
        for (size_t i = 0; i < nm && check.n_links < NET_CHECK_MAX_LINKS; i++)
                check.links[check.n_links++] = ((struct api_PIF *)members[i]->rec)->device;
        return net_check_apply(ctx, &check, bond->ref, w);
}

static struct db_row *bond_param(struct api_ctx *ctx, const struct rpc_value *const *params,
                                 size_t n, struct api_error *err)
{
        const char *self = str_param(params, n, 1);
        struct db_row *row = db_get(ctx->db, &mclass_Bond, self);
        if (row == NULL)
                api_error_set(err, "HANDLE_INVALID", "Bond", self, NULL);
        return row;
}

/* Bond.destroy's change of the datamodel: the configuration, management flag, VLANs and
 * VIFs go back to the primary member, the members are plugged again, the bond and its master
 * PIF go. */
static void bond_remove(struct db *db, struct db_row *bond)
{
        const struct api_Bond *b = bond->rec;
        struct db_row *master = db_get(db, &mclass_PIF, b->master);
        struct db_row *primary = db_get(db, &mclass_PIF, b->primary_slave);
        char *members[MAX_MEMBERS * 4];
        size_t nm = 0;
        for (size_t i = 0; i < db_count(db, &mclass_PIF) && nm < MAX_MEMBERS * 4; i++) {
                struct db_row *p = db_row_at(db, &mclass_PIF, i);
                if (strcmp(((struct api_PIF *)p->rec)->bond_slave_of, bond->ref) == 0)
                        members[nm++] = p->ref;
        }
        if (primary == NULL && nm > 0)
                primary = db_get(db, &mclass_PIF, members[0]);
        if (master != NULL && primary != NULL) {
                const struct api_PIF *mp = master->rec;
                move_configuration(db, master, primary);
                if (mp->management)
                        set_management(db, master, primary);
                move_vlans(db, master, primary);
                move_vifs(db, mp->host, mp->network, ((struct api_PIF *)primary->rec)->network);
        }
        bool plugged = master != NULL && ((struct api_PIF *)master->rec)->currently_attached;
        const char *null = "OpaqueRef:NULL";
        for (size_t i = 0; i < nm; i++) {
                struct db_row *p = db_get(db, &mclass_PIF, members[i]);
                if (p == NULL)
                        continue;
                db_set(db, p, API_PIF_F_bond_slave_of, &null);
                if (plugged) {
                        bool t = true;
                        db_set(db, p, API_PIF_F_currently_attached, &t);
                }
        }
        log_info("bond %s destroyed", bond->ref);
        db_delete(db, bond);
        if (master != NULL) {
                struct db_row *m =
                    db_get(db, &mclass_PIF_metrics, ((struct api_PIF *)master->rec)->metrics);
                if (m != NULL)
                        db_delete(db, m);
                db_delete(db, master);
        }
}

/* Bond.destroy(session, self) */
int h_Bond_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        struct db_row *bond = bond_param(ctx, params, n, err);
        if (bond == NULL)
                return -EINVAL;
        bond_remove(ctx->db, bond);
        return net_apply_and_answer(ctx, NULL, w);
}

/* The bond cannot be made: Bond.create is undone as Bond.destroy would (ARG: the Bond). */
static void undo_bond_create(struct xapi *x, void *arg)
{
        struct db_row *bond = db_get(x->db, &mclass_Bond, arg);
        if (bond != NULL)
                bond_remove(x->db, bond);
}

/* Bond.set_mode(session, self, value) */
int h_Bond_set_mode(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                    struct rpc_writer *w, struct api_error *err)
{
        struct db_row *bond = bond_param(ctx, params, n, err);
        if (bond == NULL)
                return -EINVAL;
        const char *mode_s = str_param(params, n, 2);
        int mode = menum_lookup(&menum_bond_mode, mode_s);
        if (mode < 0)
                return api_error_set(err, "INVALID_VALUE", "value", mode_s, NULL);
        const struct api_Bond *b = bond->rec;
        struct mmap props = {0};
        for (size_t i = 0; i < b->properties.n; i++) /* keep those valid for the new mode */
                if (valid_property(mode, b->properties.k[i].s, b->properties.v[i].s))
                        mmap_put(props_type(), &props, &b->properties.k[i].s,
                                 &b->properties.v[i].s);
        add_defaults(mode, &props);
        db_set(ctx->db, bond, API_Bond_F_mode, &mode);
        db_set(ctx->db, bond, API_Bond_F_properties, &props);
        model_slot_free(props_type(), &props);
        log_info("bond %s: mode %s", bond->ref, mode_s);
        return net_apply_and_answer(ctx, NULL, w);
}

/* Bond.set_property(session, self, name, value) */
int h_Bond_set_property(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                        struct rpc_writer *w, struct api_error *err)
{
        struct db_row *bond = bond_param(ctx, params, n, err);
        if (bond == NULL)
                return -EINVAL;
        const char *k = str_param(params, n, 2), *v = str_param(params, n, 3);
        const struct api_Bond *b = bond->rec;
        if (!valid_property(b->mode, k, v))
                return property_error(err, k, v);
        struct mmap props = {0};
        model_slot_copy(props_type(), &props, &b->properties);
        mmap_put(props_type(), &props, &k, &v);
        db_set(ctx->db, bond, API_Bond_F_properties, &props);
        model_slot_free(props_type(), &props);
        return net_apply_and_answer(ctx, NULL, w);
}
