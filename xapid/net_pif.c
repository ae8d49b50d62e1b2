/* PIF.plug / unplug / introduce / forget / reconfigure_ip / reconfigure_ipv6,
 * host.management_reconfigure / management_disable, and the LinkEvents netd sends (carrier
 * and speed into PIF_metrics, Bond.links_up).  Checks and errors follow XAPI's xapi_pif.ml and
 * xapi_host.ml; the kernel follows from the desired state (net_desired.h) that every change sends
 * to netd. HA, clustering, tunnels and SR-IOV do not exist here, so their checks never fire. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/net.pb-c.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/net.h"
#include "xapid/net_pif_check.h"
#include "xapid/net_vif.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(net_pif)

static const char *str_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        return i < n && params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
}

static void set_text(struct db *db, struct db_row *row, int f, const char *v)
{
        char *copy = (char *)v;
        db_set(db, row, f, &copy);
}

static void set_bool(struct db *db, struct db_row *row, int f, bool v)
{
        db_set(db, row, f, &v);
}

static struct db_row *pif_param(struct api_ctx *ctx, const struct rpc_value *const *params,
                                size_t n, struct api_error *err)
{
        const char *self = str_param(params, n, 1);
        struct db_row *row = db_get(ctx->db, &mclass_PIF, self);
        if (row == NULL)
                api_error_set(err, "HANDLE_INVALID", "PIF", self, NULL);
        return row;
}

static bool valid_ref(struct db *db, const struct mclass *c, const char *ref)
{
        return ref != NULL && db_get(db, c, ref) != NULL;
}

/* XAPI's assert_pif_is_managed */
static int assert_managed(struct db_row *row, struct api_error *err)
{
        if (!((struct api_PIF *)row->rec)->managed)
                return api_error_set(err, "PIF_UNMANAGED", row->ref, NULL);
        return 0;
}

/* PIF.plug(session, self) */
int h_PIF_plug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = pif_param(ctx, params, n, err);
        if (row == NULL || assert_managed(row, err) < 0)
                return -EINVAL;
        const struct api_PIF *p = row->rec;
        if (valid_ref(ctx->db, &mclass_Bond, p->bond_slave_of))
                return api_error_set(err, "CANNOT_PLUG_BOND_SLAVE", row->ref, NULL);
        struct net_pif_snapshot *snap = net_pif_snapshot(ctx->db, row);
        set_bool(ctx->db, row, API_PIF_F_currently_attached, true);
        return net_pif_check_apply(ctx, row, snap, w);
}

int net_pif_assert_unpluggable(struct db *db, struct db_row *row, struct api_error *err)
{
        if (assert_managed(row, err) < 0)
                return -EINVAL;
        const struct api_PIF *p = row->rec;
        if (p->management)
                return api_error_set(err, "PIF_IS_MANAGEMENT_INTERFACE", row->ref, NULL);
        /* a VIF of a live VM resident here on the PIF's network */
        struct db_row *net = db_get(db, &mclass_network, p->network);
        const struct api_network *nw = net ? net->rec : NULL;
        for (size_t i = 0; nw && i < nw->VIFs.n; i++) {
                struct db_row *vr = db_get(db, &mclass_VIF, nw->VIFs.v[i].s);
                if (vr == NULL || !((struct api_VIF *)vr->rec)->currently_attached)
                        continue;
                struct db_row *vm = db_get(db, &mclass_VM, ((struct api_VIF *)vr->rec)->VM);
                const struct api_VM *v = vm ? vm->rec : NULL;
                if (v && strcmp(v->resident_on, p->host) == 0 &&
                    (v->power_state == API_VM_POWER_STATE_RUNNING ||
                     v->power_state == API_VM_POWER_STATE_PAUSED))
                        return api_error_set(err, "VIF_IN_USE", net->ref, vr->ref, NULL);
        }
        if (p->disallow_unplug)
                return api_error_set(err, "PIF_DOES_NOT_ALLOW_UNPLUG", row->ref, NULL);
        return 0;
}

/* PIF.unplug(session, self) */
int h_PIF_unplug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = pif_param(ctx, params, n, err);
        if (row == NULL || net_pif_assert_unpluggable(ctx->db, row, err) < 0)
                return -EINVAL;
        const struct api_PIF *p = row->rec;
        if (!valid_ref(ctx->db, &mclass_Bond, p->bond_slave_of))
                set_bool(ctx->db, row, API_PIF_F_currently_attached, false);
        return net_apply_and_answer(ctx, NULL, w);
}

/* The MAC netd announced for DEVICE (its Hello state "nic/<device>"), or NULL. */
static char *announced_mac(struct xapi *x, const char *device)
{
        const struct msg_peer_info *p = x->msg ? msg_link_peer(x->msg, "netd") : NULL;
        char key[64];
        snprintf(key, sizeof(key), "nic/%s", device);
        for (size_t i = 0; p && i < p->n_state; i++) {
                if (strcmp(p->state[i]->key, key) != 0)
                        continue;
                json_t *o = json_loads(p->state[i]->value, 0, NULL);
                const char *mac = json_string_value(json_object_get(o, "MAC"));
                char *r = mac ? strdup(mac) : NULL;
                json_decref(o);
                return r;
        }
        return NULL;
}

static int64_t announced_mtu(struct xapi *x, const char *device)
{
        const struct msg_peer_info *p = x->msg ? msg_link_peer(x->msg, "netd") : NULL;
        char key[64];
        snprintf(key, sizeof(key), "nic/%s", device);
        for (size_t i = 0; p && i < p->n_state; i++) {
                if (strcmp(p->state[i]->key, key) != 0)
                        continue;
                json_t *o = json_loads(p->state[i]->value, 0, NULL);
                int64_t mtu = json_integer_value(json_object_get(o, "MTU"));
                json_decref(o);
                return mtu > 0 ? mtu : 1500;
        }
        return 1500;
}

/* PIF.introduce(session, host, MAC, device, managed) */
int h_PIF_introduce(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                    struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        const char *host = str_param(params, n, 1);
        const char *device = str_param(params, n, 3);
        bool managed = n > 4 && params[4]->type == RPC_BOOL ? params[4]->u.b : true;
        if (db_get(ctx->db, &mclass_host, host) == NULL)
                return api_error_set(err, "HANDLE_INVALID", "host", host, NULL);
        char mac[18] = "";
        snprintf(mac, sizeof(mac), "%s", str_param(params, n, 2));
        for (char *c = mac; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        char *have = announced_mac(x, device);
        if (mac[0] == '\0' && have != NULL)
                snprintf(mac, sizeof(mac), "%s", have);
        if (!net_mac_valid(mac) || strlen(str_param(params, n, 2)) > 17) {
                free(have);
                return api_error_set(err, "MAC_INVALID", str_param(params, n, 2), NULL);
        }
        for (size_t i = 0; i < db_count(ctx->db, &mclass_PIF); i++) {
                const struct api_PIF *p = db_row_at(ctx->db, &mclass_PIF, i)->rec;
                if (strcmp(p->host, host) == 0 && strcmp(p->device, device) == 0) {
                        free(have);
                        return api_error_set(err, "DUPLICATE_PIF_DEVICE_NAME", device, NULL);
                }
        }
        bool found = have != NULL && strcasecmp(have, mac) == 0 && strcmp(host, x->host_ref) == 0;
        free(have);
        if (!found)
                return api_error_set(
                    err,
                    "COULD_NOT_FIND_NETWORK_INTERFACE_WITH_SPECIFIED_DEVICE_NAME_AND_MAC_ADDRESS",
                    device, mac, NULL);
        struct db_row *row;
        int r = net_pif_introduce(x, device, mac, announced_mtu(x, device), &row);
        if (r < 0)
                return api_error_set(err, "INTERNAL_ERROR", "cannot store the PIF", NULL);
        set_bool(ctx->db, row, API_PIF_F_managed, managed);
        return net_apply_and_answer(ctx, row->ref, w);
}

/* PIF.forget(session, self) */
int h_PIF_forget(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = pif_param(ctx, params, n, err);
        if (row == NULL)
                return -EINVAL;
        const struct api_PIF *p = row->rec;
        if (p->management)
                return api_error_set(err, "PIF_IS_MANAGEMENT_INTERFACE", row->ref, NULL);
        if (valid_ref(ctx->db, &mclass_Bond, p->bond_slave_of) || p->bond_master_of.n > 0)
                return api_error_set(err, "PIF_ALREADY_BONDED", row->ref, NULL);
        if (p->VLAN_slave_of.n > 0 || p->VLAN != -1)
                return api_error_set(err, "PIF_VLAN_STILL_EXISTS", row->ref, NULL);
        if (p->tunnel_access_PIF_of.n > 0 || p->tunnel_transport_PIF_of.n > 0)
                return api_error_set(err, "PIF_TUNNEL_STILL_EXISTS", row->ref, NULL);
        struct db_row *m = db_get(ctx->db, &mclass_PIF_metrics, p->metrics);
        if (m != NULL)
                db_delete(ctx->db, m);
        log_info("PIF %s (%s) forgotten", row->ref, p->device);
        db_delete(ctx->db, row);
        return net_apply_and_answer(ctx, NULL, w);
}

static bool valid_ip(int af, const char *s)
{
        unsigned char buf[16];
        return inet_pton(af, s, buf) == 1;
}

/* "addr/prefix" of FAMILY with a valid prefix */
static bool valid_cidr(int af, const char *s)
{
        const char *slash = strchr(s, '/');
        if (slash == NULL || slash == s || (size_t)(slash - s) >= 64)
                return false;
        char addr[64];
        snprintf(addr, sizeof(addr), "%.*s", (int)(slash - s), s);
        char *end;
        long prefix = strtol(slash + 1, &end, 10);
        return valid_ip(af, addr) && slash[1] != '\0' && *end == '\0' && prefix >= 0 &&
               prefix <= (af == AF_INET ? 32 : 128);
}

/* XAPI's DNS check: every comma-separated entry of LIST an address of FAMILY (blanks
 * around an entry are tolerated). */
static bool valid_dns(int af, const char *list)
{
        char *copy = strdup(list), *save = NULL;
        bool ok = copy != NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && ok;
             t = strtok_r(NULL, ",", &save)) {
                while (*t == ' ')
                        t++;
                size_t len = strlen(t);
                while (len > 0 && t[len - 1] == ' ')
                        t[--len] = '\0';
                ok = valid_ip(af, t);
        }
        ok = ok && list[strlen(list) - 1] != ',' && list[0] != ',' && !strstr(list, ",,");
        free(copy);
        return ok;
}

/* DNS servers of FAMILY among the comma-separated LIST, into OUT. */
static void dns_of(int af, const char *list, char *out, size_t len)
{
        out[0] = '\0';
        char *copy = strdup(list), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
             t = strtok_r(NULL, ",", &save)) {
                while (*t == ' ')
                        t++;
                if (*t == '\0' || !valid_ip(af, t))
                        continue;
                size_t used = strlen(out);
                snprintf(out + used, len - used, "%s%s", used ? "," : "", t);
        }
        free(copy);
}

/* PIF.reconfigure_ip(session, self, mode, IP, netmask, gateway, DNS) */
int h_PIF_reconfigure_ip(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = pif_param(ctx, params, n, err);
        if (row == NULL || assert_managed(row, err) < 0)
                return -EINVAL;
        const char *mode_s = str_param(params, n, 2), *ip = str_param(params, n, 3);
        const char *mask = str_param(params, n, 4), *gw = str_param(params, n, 5);
        const char *dns = str_param(params, n, 6);
        int mode = menum_lookup(&menum_ip_configuration_mode, mode_s);
        if (mode < 0)
                return api_error_set(err, "INVALID_VALUE", "mode", mode_s, NULL);
        if (mode == API_IP_CONFIGURATION_MODE_STATIC) {
                if (!valid_ip(AF_INET, ip))
                        return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", "IP", NULL);
                if (!valid_ip(AF_INET, mask))
                        return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", "netmask", NULL);
        }
        const char *names[] = {"IP", "netmask", "gateway"}, *vals[] = {ip, mask, gw};
        for (int i = 0; i < 3; i++)
                if (vals[i][0] != '\0' && !valid_ip(AF_INET, vals[i]))
                        return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", names[i], NULL);
        if (dns[0] != '\0' && !valid_dns(AF_INET, dns))
                return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", "DNS", NULL);
        const struct api_PIF *p = row->rec;
        if (p->management && mode == API_IP_CONFIGURATION_MODE_NONE &&
            p->primary_address_type == API_PRIMARY_ADDRESS_TYPE_IPV4)
                return api_error_set(err, "PIF_IS_MANAGEMENT_INTERFACE", row->ref, NULL);
        char v4[512], v6[512], all[1024];
        dns_of(AF_INET, dns, v4, sizeof(v4));
        dns_of(AF_INET6, p->DNS, v6, sizeof(v6));
        snprintf(all, sizeof(all), "%s%s%s", v4, v4[0] && v6[0] ? "," : "", v6);
        struct net_pif_snapshot *snap = net_pif_snapshot(ctx->db, row);
        db_set(ctx->db, row, API_PIF_F_ip_configuration_mode, &mode);
        set_text(ctx->db, row, API_PIF_F_IP, ip);
        set_text(ctx->db, row, API_PIF_F_netmask, mask);
        set_text(ctx->db, row, API_PIF_F_gateway, gw);
        set_text(ctx->db, row, API_PIF_F_DNS, all);
        if (p->management && mode == API_IP_CONFIGURATION_MODE_STATIC) {
                struct db_row *h = db_get(ctx->db, &mclass_host, p->host);
                if (h != NULL)
                        set_text(ctx->db, h, API_host_F_address, ip);
        }
        log_info("PIF %s: IPv4 %s %s/%s gateway %s", p->device, mode_s, ip, mask, gw);
        return net_pif_check_apply(ctx, row, snap, w);
}

/* PIF.reconfigure_ipv6(session, self, mode, IPv6, gateway, DNS) */
int h_PIF_reconfigure_ipv6(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                           struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = pif_param(ctx, params, n, err);
        if (row == NULL || assert_managed(row, err) < 0)
                return -EINVAL;
        const char *mode_s = str_param(params, n, 2), *ip6 = str_param(params, n, 3);
        const char *gw = str_param(params, n, 4), *dns = str_param(params, n, 5);
        int mode = menum_lookup(&menum_ipv6_configuration_mode, mode_s);
        if (mode < 0)
                return api_error_set(err, "INVALID_VALUE", "mode", mode_s, NULL);
        if (gw[0] != '\0' && !valid_ip(AF_INET6, gw))
                return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", "gateway", NULL);
        if (ip6[0] != '\0' && !valid_cidr(AF_INET6, ip6))
                return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", "IPv6", NULL);
        if (dns[0] != '\0' && !valid_dns(AF_INET6, dns))
                return api_error_set(err, "INVALID_IP_ADDRESS_SPECIFIED", "DNS", NULL);
        const struct api_PIF *p = row->rec;
        if (p->management && mode == API_IPV6_CONFIGURATION_MODE_NONE &&
            p->primary_address_type == API_PRIMARY_ADDRESS_TYPE_IPV6)
                return api_error_set(err, "PIF_IS_MANAGEMENT_INTERFACE", row->ref, NULL);
        char v4[512], v6[512], all[1024];
        dns_of(AF_INET6, dns, v6, sizeof(v6));
        dns_of(AF_INET, p->DNS, v4, sizeof(v4));
        snprintf(all, sizeof(all), "%s%s%s", v6, v4[0] && v6[0] ? "," : "", v4);
        struct net_pif_snapshot *snap = net_pif_snapshot(ctx->db, row);
        db_set(ctx->db, row, API_PIF_F_ipv6_configuration_mode, &mode);
        set_text(ctx->db, row, API_PIF_F_ipv6_gateway, gw);
        struct mset set = {0};
        const struct mtype *elem = mclass_PIF.fields[API_PIF_F_IPv6].type->elem;
        mset_add(elem, &set, &ip6); /* XAPI stores [IPv6], even when empty */
        db_set(ctx->db, row, API_PIF_F_IPv6, &set);
        model_slot_free(mclass_PIF.fields[API_PIF_F_IPv6].type, &set);
        set_text(ctx->db, row, API_PIF_F_DNS, all);
        log_info("PIF %s: IPv6 %s %s gateway %s", p->device, mode_s, ip6, gw);
        return net_pif_check_apply(ctx, row, snap, w);
}

/* host.management_reconfigure(session, pif) */
int h_host_management_reconfigure(struct api_ctx *ctx, const struct rpc_value *const *params,
                                  size_t n, struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = pif_param(ctx, params, n, err);
        if (row == NULL)
                return -EINVAL;
        const struct api_PIF *p = row->rec;
        if (p->managed) {
                if (valid_ref(ctx->db, &mclass_Bond, p->bond_slave_of))
                        return api_error_set(err, "CANNOT_PLUG_BOND_SLAVE", row->ref, NULL);
                if (p->primary_address_type == API_PRIMARY_ADDRESS_TYPE_IPV4 &&
                    p->ip_configuration_mode == API_IP_CONFIGURATION_MODE_NONE)
                        return api_error_set(err, "PIF_HAS_NO_NETWORK_CONFIGURATION", row->ref,
                                             NULL);
                if (p->primary_address_type == API_PRIMARY_ADDRESS_TYPE_IPV6 &&
                    p->ipv6_configuration_mode == API_IPV6_CONFIGURATION_MODE_NONE)
                        return api_error_set(err, "PIF_HAS_NO_V6_NETWORK_CONFIGURATION", row->ref,
                                             NULL);
                for (size_t i = 0; i < db_count(ctx->db, &mclass_PIF); i++) {
                        const struct api_PIF *o = db_row_at(ctx->db, &mclass_PIF, i)->rec;
                        if (o->management && strcmp(o->host, p->host) == 0 &&
                            o->primary_address_type != p->primary_address_type)
                                return api_error_set(err, "PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE",
                                                     NULL);
                }
        }
        if (p->management) { /* XAPI: already the management PIF, nothing to do */
                return 0;
        }
        for (size_t i = 0; i < db_count(ctx->db, &mclass_PIF); i++) {
                struct db_row *o = db_row_at(ctx->db, &mclass_PIF, i);
                const struct api_PIF *op = o->rec;
                if (strcmp(op->host, p->host) == 0 && op->management)
                        set_bool(ctx->db, o, API_PIF_F_management, false);
        }
        set_bool(ctx->db, row, API_PIF_F_management, true);
        set_bool(ctx->db, row, API_PIF_F_currently_attached, true);
        const char *addr = p->primary_address_type == API_PRIMARY_ADDRESS_TYPE_IPV6 && p->IPv6.n
                               ? p->IPv6.v[0].s
                               : p->IP;
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", addr);
        char *slash = strchr(buf, '/');
        if (slash != NULL)
                *slash = '\0';
        struct db_row *h = db_get(ctx->db, &mclass_host, p->host);
        if (h != NULL && buf[0] != '\0')
                set_text(ctx->db, h, API_host_F_address, buf);
        log_info("management interface now PIF %s (%s)", p->device, buf);
        return net_apply_and_answer(ctx, NULL, w);
}

/* host.management_disable(session) */
int h_host_management_disable(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                              struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        for (size_t i = 0; i < db_count(ctx->db, &mclass_PIF); i++) {
                struct db_row *o = db_row_at(ctx->db, &mclass_PIF, i);
                const struct api_PIF *op = o->rec;
                if (strcmp(op->host, x->host_ref) == 0 && op->management)
                        set_bool(ctx->db, o, API_PIF_F_management, false);
        }
        log_info("management interface disabled");
        return net_apply_and_answer(ctx, NULL, w);
}

/* --- LinkEvents from netd ---------------------------------------------------------------- */

static void metrics_committed(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store PIF metrics: %s", strerror(-result));
}

/* Bond.links_up: the members whose carrier is up. */
static void update_links_up(struct db *db, struct db_row *bond)
{
        int64_t up = 0;
        for (size_t i = 0; i < db_count(db, &mclass_PIF); i++) {
                const struct api_PIF *p = db_row_at(db, &mclass_PIF, i)->rec;
                if (strcmp(p->bond_slave_of, bond->ref) != 0)
                        continue;
                struct db_row *m = db_get(db, &mclass_PIF_metrics, p->metrics);
                up += m != NULL && ((struct api_PIF_metrics *)m->rec)->carrier;
        }
        if (((struct api_Bond *)bond->rec)->links_up != up)
                db_set(db, bond, API_Bond_F_links_up, &up);
}

static int on_link_event(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        struct xapi *x = arg;
        const Ts__Net__LinkEvent *e = (const Ts__Net__LinkEvent *)body;
        for (size_t i = 0; i < db_count(x->db, &mclass_PIF); i++) {
                const struct api_PIF *p = db_row_at(x->db, &mclass_PIF, i)->rec;
                if (!p->physical || strcmp(p->host, x->host_ref) != 0 ||
                    strcmp(p->device, e->device) != 0)
                        continue;
                struct db_row *prow = db_row_at(x->db, &mclass_PIF, i);
                int64_t mtu = e->mtu;
                if (!e->deleted && mtu > 0 && mtu != p->MTU)
                        db_set(x->db, prow, API_PIF_F_MTU, &mtu);
                struct db_row *m = db_get(x->db, &mclass_PIF_metrics, p->metrics);
                if (m == NULL)
                        return 0;
                bool carrier = !e->deleted && e->carrier;
                int64_t speed = e->speed > 0 ? e->speed : 0;
                time_t now = time(NULL);
                db_set(x->db, m, API_PIF_metrics_F_carrier, &carrier);
                db_set(x->db, m, API_PIF_metrics_F_speed, &speed);
                db_set(x->db, m, API_PIF_metrics_F_last_updated, &now);
                if (e->duplex >= 0) {
                        bool full = e->duplex == 1;
                        db_set(x->db, m, API_PIF_metrics_F_duplex, &full);
                }
                const char *ids[] = {e->vendor_id, e->device_id, e->pci_bus_path};
                const int fields[] = {API_PIF_metrics_F_vendor_id, API_PIF_metrics_F_device_id,
                                      API_PIF_metrics_F_pci_bus_path};
                for (int k = 0; k < 3; k++) {
                        char *v = (char *)(ids[k] ? ids[k] : "");
                        if (!e->deleted && v[0] != '\0')
                                db_set(x->db, m, fields[k], &v);
                }
                log_debug("PIF %s: carrier %d speed %lld", e->device, carrier, (long long)speed);
                struct db_row *bond = db_get(x->db, &mclass_Bond, p->bond_slave_of);
                if (bond != NULL)
                        update_links_up(x->db, bond);
                if (x->commit != NULL)
                        x->commit(x->commit_ctx, metrics_committed, NULL);
                return 0;
        }
        return 0;
}

int net_events_init(struct xapi *x)
{
        if (x->msg == NULL)
                return -EINVAL;
        int r = msg_link_handle(x->msg, &ts__net__link_event__descriptor, on_link_event, x);
        return r < 0 ? r : net_dhcp_events_init(x);
}
