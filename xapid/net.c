/* PIFs, networks and bridges (see net.h). */
#include "xapid/net.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
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
#include "xapid/net_check.h"
#include "xapid/net_desired.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(net)

#define NIC_PREFIX      "nic/"
#define NETD_IDENTITY   "netd"
#define APPLY_TIMEOUT   30000
#define INTERNAL_PREFIX "xapi"

struct nic {
        const char *device;
        const char *mac;
        int64_t mtu;
        bool carrier;
        bool up;
};

static void set_str(char **slot, const char *v)
{
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static struct db_row *find_pif(struct db *db, const char *host, const char *device)
{
        for (size_t i = 0; i < db_count(db, &mclass_PIF); i++) {
                struct db_row *row = db_row_at(db, &mclass_PIF, i);
                const struct api_PIF *p = row->rec;
                if (p->physical && strcmp(p->host, host) == 0 && strcmp(p->device, device) == 0)
                        return row;
        }
        return NULL;
}

static struct db_row *find_network(struct db *db, const char *bridge)
{
        for (size_t i = 0; i < db_count(db, &mclass_network); i++) {
                struct db_row *row = db_row_at(db, &mclass_network, i);
                if (strcmp(((struct api_network *)row->rec)->bridge, bridge) == 0)
                        return row;
        }
        return NULL;
}

/* XAPI's bridge of a NIC: "xenbrN" for "ethN", else "br" + the device (clipped). */
static void bridge_of(const char *device, char *buf, size_t len)
{
        const char *d = device + strcspn(device, "0123456789");
        bool digits = *d != '\0' && strspn(d, "0123456789") == strlen(d);
        if (strncmp(device, "eth", 3) == 0 && digits && d == device + 3)
                snprintf(buf, len, "xenbr%s", d);
        else
                snprintf(buf, len, "br%.*s", IFNAMSIZ - 3, device);
}

static int set_field(struct db *db, struct db_row *row, int f, const void *slot,
                     const struct mclass *c)
{
        if (model_slot_equal(c->fields[f].type, model_slot(row->rec, &c->fields[f]), slot))
                return 0;
        return db_set(db, row, f, slot);
}

static void refresh_metrics(struct xapi *x, const char *ref, const struct nic *nic)
{
        struct db_row *m = db_get(x->db, &mclass_PIF_metrics, ref);
        if (m == NULL)
                return;
        set_field(x->db, m, API_PIF_metrics_F_carrier, &nic->carrier, &mclass_PIF_metrics);
        time_t now = time(NULL);
        db_set(x->db, m, API_PIF_metrics_F_last_updated, &now);
}

/* Introduces (or refreshes) the PIF of NIC; *INTRODUCED is incremented for a new one.
 * With INTRODUCE false an unknown NIC is left alone (a forgotten PIF stays forgotten until
 * PIF.scan or netd's next Hello, as in XAPI). */
static int sync_nic(struct xapi *x, const struct nic *nic, int *introduced, bool introduce,
                    struct db_row **out)
{
        if (nic->device == NULL || nic->device[0] == '\0' || strlen(nic->device) >= IFNAMSIZ)
                return -EINVAL;
        const char *mac = nic->mac != NULL ? nic->mac : "";
        struct db_row *row = find_pif(x->db, x->host_ref, nic->device);
        if (row != NULL) {
                set_field(x->db, row, API_PIF_F_MAC, &mac, &mclass_PIF);
                set_field(x->db, row, API_PIF_F_MTU, &nic->mtu, &mclass_PIF);
                refresh_metrics(x, ((struct api_PIF *)row->rec)->metrics, nic);
                if (out != NULL)
                        *out = row;
                return 0;
        }
        if (!introduce)
                return -ENOENT;
        char bridge[IFNAMSIZ];
        bridge_of(nic->device, bridge, sizeof(bridge));
        struct db_row *net = find_network(x->db, bridge);
        int r;
        if (net == NULL) {
                struct api_network *n = model_record_new(&mclass_network);
                char label[128];
                snprintf(label, sizeof(label), "Pool-wide network associated with %s", nic->device);
                set_str(&n->name_label, label);
                set_str(&n->name_description, "");
                set_str(&n->bridge, bridge);
                n->MTU = 1500;
                n->managed = true;
                r = db_insert(x->db, &mclass_network, NULL, n, &net);
                if (r < 0)
                        return r;
        }
        struct api_PIF_metrics *m = model_record_new(&mclass_PIF_metrics);
        m->carrier = nic->carrier;
        m->last_updated = time(NULL);
        struct db_row *mrow;
        r = db_insert(x->db, &mclass_PIF_metrics, NULL, m, &mrow);
        if (r < 0)
                return r;
        struct api_PIF *p = model_record_new(&mclass_PIF);
        set_str(&p->device, nic->device);
        set_str(&p->network, net->ref);
        set_str(&p->host, x->host_ref);
        set_str(&p->MAC, mac);
        set_str(&p->metrics, mrow->ref);
        p->MTU = nic->mtu;
        p->VLAN = -1;
        p->physical = true;
        p->currently_attached = true; /* plugged: netd brings it up (PIF.unplug undoes) */
        p->managed = true;
        struct db_row *prow;
        r = db_insert(x->db, &mclass_PIF, NULL, p, &prow);
        if (r < 0)
                return r;
        if (out != NULL)
                *out = prow;
        log_info("introduced PIF %s (%s) on network %s", nic->device, mac, bridge);
        (*introduced)++;
        return 0;
}

int net_sync_from_peer(struct xapi *x, const struct msg_peer_info *peer)
{
        int n = 0, introduced = 0;
        for (size_t i = 0; i < peer->n_state; i++) {
                const char *k = peer->state[i]->key;
                if (strncmp(k, NIC_PREFIX, strlen(NIC_PREFIX)) != 0)
                        continue;
                json_error_t jerr;
                json_t *o = json_loads(peer->state[i]->value, 0, &jerr);
                if (!json_is_object(o)) {
                        log_warnx("netd announced %s with unreadable JSON: %s", k, jerr.text);
                        json_decref(o);
                        continue;
                }
                struct nic nic = {
                    .device = k + strlen(NIC_PREFIX),
                    .mac = json_string_value(json_object_get(o, "MAC")),
                    .mtu = json_integer_value(json_object_get(o, "MTU")),
                    .carrier = json_is_true(json_object_get(o, "carrier")),
                    .up = json_is_true(json_object_get(o, "up")),
                };
                if (json_is_false(json_object_get(o, "physical"))) {
                        json_decref(o);
                        continue;
                }
                if (sync_nic(x, &nic, &introduced, true, NULL) == 0)
                        n++;
                json_decref(o);
        }
        return n;
}

/* --- the desired bridges to netd --- */

struct apply {
        struct xapi *x;
        void (*done)(int r, const char *text, void *arg);
        net_report_fn report;
        void *arg;
        struct net_failure *fails; /* of the last reply */
        size_t n_fails;
        int rounds;
        bool introduce; /* PIF.scan: PIFs for new NICs in the reply */
        int result;
        char text[256];
};

static void apply_finish(int result, void *arg)
{
        struct apply *a = arg;
        if (result < 0)
                log_warnx("cannot store the PIFs netd reported: %s", strerror(-result));
        if (a->done != NULL)
                a->done(a->result, a->text, a->arg);
        if (a->report != NULL)
                a->report(a->result, a->text, a->fails, a->n_fails, a->arg);
        free(a->fails);
        free(a);
}

static int send_apply(struct apply *a);

static void on_apply_reply(int status, const ProtobufCMessage *body, const char *errtext, void *arg)
{
        struct apply *a = arg;
        if (status < 0) {
                a->result = status;
                snprintf(a->text, sizeof(a->text), "netd: %s",
                         errtext && errtext[0] ? errtext : strerror(-status));
                log_warnx("applying bridges: %s", a->text);
                apply_finish(0, a);
                return;
        }
        const Ts__Net__ApplyBridgesReply *rep = (const Ts__Net__ApplyBridgesReply *)body;
        int introduced = 0;
        for (size_t i = 0; i < rep->n_nics; i++) {
                const Ts__Net__Nic *n = rep->nics[i];
                struct nic nic = {n->device, n->mac, n->mtu, n->carrier, n->up};
                if (n->physical)
                        sync_nic(a->x, &nic, &introduced, a->introduce, NULL);
        }
        if (introduced > 0 && a->rounds++ < 2 && send_apply(a) == 0)
                return; /* new PIFs: their bridges too */
        if (rep->n_failures > 0 && (a->fails = calloc(rep->n_failures, sizeof(*a->fails)))) {
                for (size_t i = 0; i < rep->n_failures; i++) {
                        struct net_failure *f = &a->fails[i];
                        snprintf(f->name, sizeof(f->name), "%s", rep->failures[i]->name);
                        f->err = rep->failures[i]->errnum;
                        snprintf(f->msg, sizeof(f->msg), "%s", rep->failures[i]->message);
                }
                a->n_fails = rep->n_failures;
        }
        a->result = rep->errnum > 0 ? -rep->errnum : 0;
        if (rep->errnum > 0) {
                snprintf(a->text, sizeof(a->text), "netd: %s", rep->message);
                log_warnx("applying bridges: %s", a->text);
        } else if (rep->actions > 0) {
                log_info("netd converged the bridges with %d change(s)", rep->actions);
        }
        if (a->x->commit != NULL)
                a->x->commit(a->x->commit_ctx, apply_finish, a);
        else
                apply_finish(0, a);
}

static int send_apply(struct apply *a)
{
        struct xapi *x = a->x;
        struct net_desired want;
        int r = net_desired_build(x->db, x->host_ref, &want);
        if (r < 0)
                return r;
        r = msg_link_request(x->msg, NETD_IDENTITY, &want.msg.base,
                             &ts__net__apply_bridges_reply__descriptor, APPLY_TIMEOUT,
                             on_apply_reply, a);
        net_desired_free(&want);
        return r;
}

static int start_apply(struct xapi *x, bool introduce,
                       void (*done)(int r, const char *text, void *arg), net_report_fn report,
                       void *arg)
{
        if (x->msg == NULL || msg_link_peer(x->msg, NETD_IDENTITY) == NULL)
                return -EHOSTUNREACH;
        struct apply *a = calloc(1, sizeof(*a));
        if (a == NULL)
                return -ENOMEM;
        *a = (struct apply){
            .x = x, .done = done, .report = report, .arg = arg, .introduce = introduce};
        int r = send_apply(a);
        if (r < 0) {
                log_warnx("cannot send the bridges to netd: %s", strerror(-r));
                free(a);
        }
        return r;
}

int net_apply(struct xapi *x, void (*done)(int r, const char *text, void *arg), void *arg)
{
        return start_apply(x, false, done, NULL, arg);
}

int net_apply_report(struct xapi *x, net_report_fn done, void *arg)
{
        return start_apply(x, false, NULL, done, arg);
}

int net_pif_introduce(struct xapi *x, const char *device, const char *mac, int64_t mtu,
                      struct db_row **out)
{
        struct nic nic = {.device = device, .mac = mac, .mtu = mtu, .carrier = false, .up = false};
        int introduced = 0;
        return sync_nic(x, &nic, &introduced, true, out);
}

/* --- handlers --- */

/* A call that waits for netd. */
struct net_call {
        struct rpc_req *req;
        bool cancelled;
        char *ref; /* written as the result when not NULL */
};

static void call_cancel(void *arg)
{
        ((struct net_call *)arg)->cancelled = true; /* call_done frees */
}

static void call_done(int r, const char *text, void *arg)
{
        struct net_call *c = arg;
        if (!c->cancelled) {
                /* The datamodel is right whatever netd says: as in XAPI, a bridge that cannot
                 * be made now is not the API call's failure (net_apply logged it), and netd
                 * converges again on the next change or Hello. */
                if (c->ref != NULL)
                        rpcw_string(rpc_deferred_writer(c->req), c->ref);
                rpc_resume(c->req, 0, NULL);
        }
        free(c->ref);
        free(c);
}

static int apply_and_answer(struct api_ctx *ctx, bool introduce, const char *ref,
                            struct rpc_writer *w)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct net_call *c = calloc(1, sizeof(*c));
        if (c == NULL || (ref != NULL && (c->ref = strdup(ref)) == NULL)) {
                free(c);
                return -ENOMEM;
        }
        int r = start_apply(x, introduce, call_done, NULL, c);
        if (r < 0) {
                free(c->ref);
                free(c);
                if (ref != NULL)
                        rpcw_string(w, ref);
                return 0; /* netd converges when it connects */
        }
        c->req = rpc_defer(ctx);
        rpc_on_cancel(c->req, call_cancel, c);
        return 0;
}

int net_apply_and_answer(struct api_ctx *ctx, const char *ref, struct rpc_writer *w)
{
        return apply_and_answer(ctx, false, ref, w);
}

static const char *str_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        return i < n && params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
}

/* PIF.scan(session, host) */
int h_PIF_scan(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        const char *host = str_param(params, n, 1);
        if (db_get(ctx->db, &mclass_host, host) == NULL)
                return api_error_set(err, "HANDLE_INVALID", "host", host, NULL);
        const struct msg_peer_info *p = x->msg ? msg_link_peer(x->msg, NETD_IDENTITY) : NULL;
        if (p == NULL || strcmp(host, x->host_ref) != 0)
                return api_error_set(err, "INTERNAL_ERROR", "netd is not connected", NULL);
        net_sync_from_peer(x, p);
        return apply_and_answer(ctx, true, NULL, w); /* its reply has the NICs as they are now */
}

/* network.create's bridge cannot be made: the network goes (ARG: its ref). */
static void undo_network_create(struct xapi *x, void *arg)
{
        struct db_row *row = db_get(x->db, &mclass_network, arg);
        if (row != NULL && ((struct api_network *)row->rec)->PIFs.n == 0 &&
            ((struct api_network *)row->rec)->VIFs.n == 0)
                db_delete(x->db, row);
}

/* Bridge names a client may not choose (XAPI's bridge_blacklist): the toolstack's own. */
static const char *const reserved_bridge_prefixes[] = {"xen", "xapi", "vif", "tap", "eth"};

/* XAPI trusts the bridge names of pool-internal sessions (a VM import between hosts). */
static bool internal_session(struct api_ctx *ctx)
{
        struct db_row *s = ctx->session ? db_get(ctx->db, &mclass_session, ctx->session) : NULL;
        return s == NULL || ((struct api_session *)s->rec)->pool;
}

/* network.create(session, record), with XAPI's checks in its order */
int h_network_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                     struct rpc_writer *w, struct api_error *err)
{
        struct api_network *rec;
        int r = model_record_read(&mclass_network, params[1], (void **)&rec, err);
        if (r < 0)
                return r;
        if (rec->MTU <= 0)
                rec->MTU = 1500;
        if (rec->bridge[0] != '\0') {
                bool reserved = false;
                for (size_t i = 0; i < sizeof(reserved_bridge_prefixes) / sizeof(char *); i++)
                        reserved |= strncmp(rec->bridge, reserved_bridge_prefixes[i],
                                            strlen(reserved_bridge_prefixes[i])) == 0;
                if ((strlen(rec->bridge) >= IFNAMSIZ || reserved) && !internal_session(ctx)) {
                        r = api_error_set(err, "INVALID_VALUE", "bridge", rec->bridge, NULL);
                        model_record_free(&mclass_network, rec);
                        return r;
                }
                if (strlen(rec->bridge) >= IFNAMSIZ) { /* the kernel's limit, even for those */
                        r = api_error_set(err, "INVALID_VALUE", "bridge", rec->bridge, NULL);
                        model_record_free(&mclass_network, rec);
                        return r;
                }
                if (find_network(ctx->db, rec->bridge) != NULL) {
                        r = api_error_set(err, "BRIDGE_NAME_EXISTS", rec->bridge, NULL);
                        model_record_free(&mclass_network, rec);
                        return r;
                }
        } else {
                char name[IFNAMSIZ];
                for (unsigned i = 0;; i++) {
                        snprintf(name, sizeof(name), INTERNAL_PREFIX "%u", i);
                        if (find_network(ctx->db, name) == NULL)
                                break;
                }
                set_str(&rec->bridge, name);
        }
        struct db_row *row;
        r = db_insert(ctx->db, &mclass_network, NULL, rec, &row);
        if (r < 0) {
                model_record_free(&mclass_network, rec);
                return api_error_set(err, "DB_UNIQUENESS_CONSTRAINT_VIOLATION", "network", "uuid",
                                     "", NULL);
        }
        log_info("network %s created on bridge %s", row->ref, rec->bridge);
        char *undo_ref = strdup(row->ref);
        if (undo_ref == NULL)
                return -ENOMEM;
        struct net_check check = {.links = {rec->bridge},
                                  .n_links = 1,
                                  .bridge = rec->bridge,
                                  .undo = undo_network_create,
                                  .undo_arg = undo_ref};
        return net_check_apply(ctx, &check, row->ref, w);
}

static bool is_true(const char *v)
{
        return v != NULL && strcasecmp(v, "true") == 0;
}

/* network.destroy(session, self), with XAPI's checks in its order: VIFs attached (XAPI's
 * "reserved" is not in this datamodel),
 * PIFs, the host-internal management network; the network's other VIFs go with it. */
int h_network_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                      struct rpc_writer *w, struct api_error *err)
{
        const char *self = str_param(params, n, 1);
        struct db_row *row = db_get(ctx->db, &mclass_network, self);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "network", self, NULL);
        const struct api_network *nw = row->rec;
        const char *refs[API_ERROR_MAX_PARAMS];
        size_t nr = 0;
        for (size_t i = 0; i < nw->VIFs.n; i++) {
                struct db_row *v = db_get(ctx->db, &mclass_VIF, nw->VIFs.v[i].s);
                const struct api_VIF *vif = v ? v->rec : NULL;
                if (vif && vif->currently_attached && nr < API_ERROR_MAX_PARAMS)
                        refs[nr++] = v->ref;
        }
        if (nr > 0)
                return api_error_setv(err, "NETWORK_CONTAINS_VIF", refs, nr);
        for (size_t i = 0; i < nw->PIFs.n && nr < API_ERROR_MAX_PARAMS; i++)
                refs[nr++] = nw->PIFs.v[i].s;
        if (nr > 0)
                return api_error_setv(err, "NETWORK_CONTAINS_PIF", refs, nr);
        const struct mtype *kt = mclass_network.fields[API_network_F_other_config].type->key;
        const char *key = "is_host_internal_management_network";
        long at = mmap_find(kt, &nw->other_config, &key);
        if (at >= 0 && is_true(nw->other_config.v[at].s))
                return api_error_set(err, "CANNOT_DESTROY_SYSTEM_NETWORK", self, NULL);
        /* XAPI destroys the other VIFs rather than wait for its GC */
        size_t n_vifs = nw->VIFs.n;
        char **vifs = calloc(n_vifs ? n_vifs : 1, sizeof(*vifs));
        if (vifs == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < n_vifs; i++)
                vifs[i] = strdup(nw->VIFs.v[i].s);
        for (size_t i = 0; i < n_vifs; i++) {
                struct db_row *v = vifs[i] ? db_get(ctx->db, &mclass_VIF, vifs[i]) : NULL;
                if (v != NULL) {
                        const char *mref = ((struct api_VIF *)v->rec)->metrics;
                        struct db_row *m = db_get(ctx->db, &mclass_VIF_metrics, mref);
                        if (m != NULL)
                                db_delete(ctx->db, m);
                        log_info("VIF %s destroyed with its network", vifs[i]);
                        db_delete(ctx->db, v);
                }
                free(vifs[i]);
        }
        free(vifs);
        log_info("network %s destroyed (bridge %s)", self, nw->bridge);
        db_delete(ctx->db, row);
        return net_apply_and_answer(ctx, NULL, w);
}
