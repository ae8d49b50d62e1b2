/* VLAN.create / VLAN.destroy and their deprecated forms PIF.create_VLAN / PIF.destroy, as
 * XAPI's xapi_vlan.ml: the VLAN's PIF ("untagged" PIF) has the tagged PIF's device, VLAN =
 * tag, XAPI's placeholder MAC, the tagged PIF's MTU and metrics, and is plugged at once;
 * netd makes the kernel device "<device>.<tag>" on the tagged PIF's device and bridges it
 * into the network's bridge (net_desired.c). */
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
#include "xapid/net_desired.h"
#include "xapid/net_vif.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(net_vlan)

#define VLAN_MAC "fe:ff:ff:ff:ff:ff" /* XAPI's MAC of VLAN PIFs */

static const char *str_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        return i < n && params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
}

/* An int parameter: XAPI's wire form is a decimal string; -1 when unreadable (which
 * VLAN_TAG_INVALID then reports). */
static int64_t int_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        if (i >= n)
                return -1;
        if (params[i]->type == RPC_INT)
                return params[i]->u.i;
        if (params[i]->type != RPC_STRING)
                return -1;
        char *end;
        const char *s = params[i]->u.str.s;
        long long v = strtoll(s, &end, 10);
        return *s != '\0' && *end == '\0' ? v : -1;
}

static void set_str(char **slot, const char *v)
{
        char *d = strdup(v);
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

/* The checks and records of VLAN.create; *VLAN_OUT and *PIF_OUT receive the new rows. */
static int vlan_create(struct api_ctx *ctx, struct db_row *tagged, int64_t tag, const char *network,
                       struct db_row **vlan_out, struct db_row **pif_out, struct api_error *err)
{
        struct db_row *net = db_get(ctx->db, &mclass_network, network);
        if (net == NULL)
                return api_error_set(err, "HANDLE_INVALID", "network", network, NULL);
        if (!((struct api_network *)net->rec)->managed)
                return api_error_set(err, "NETWORK_UNMANAGED", net->ref, NULL);
        const struct api_PIF *t = tagged->rec;
        for (size_t i = 0; i < db_count(ctx->db, &mclass_PIF); i++) {
                struct db_row *o = db_row_at(ctx->db, &mclass_PIF, i);
                const struct api_PIF *op = o->rec;
                if (strcmp(op->network, net->ref) == 0 && strcmp(op->host, t->host) == 0)
                        return api_error_set(err, "NETWORK_ALREADY_CONNECTED", t->host, o->ref,
                                             NULL);
        }
        if (!t->managed)
                return api_error_set(err, "PIF_UNMANAGED", tagged->ref, NULL);
        if (db_get(ctx->db, &mclass_Bond, t->bond_slave_of) != NULL)
                return api_error_set(err, "CANNOT_ADD_VLAN_TO_BOND_SLAVE", tagged->ref, NULL);
        if (t->VLAN >= 0)
                return api_error_set(err, "PIF_IS_VLAN", tagged->ref, NULL);
        if (tag < 0 || tag > 4094) {
                char s[32];
                snprintf(s, sizeof(s), "%lld", (long long)tag);
                return api_error_set(err, "VLAN_TAG_INVALID", s, NULL);
        }
        for (size_t i = 0; i < db_count(ctx->db, &mclass_VLAN); i++) {
                const struct api_VLAN *v = db_row_at(ctx->db, &mclass_VLAN, i)->rec;
                if (strcmp(v->tagged_PIF, tagged->ref) == 0 && v->tag == tag)
                        return api_error_set(err, "PIF_VLAN_EXISTS", t->device, NULL);
        }
        char name[64];
        snprintf(name, sizeof(name), "%s.%lld", t->device, (long long)tag);
        if (strlen(name) >= 16)
                return api_error_set(err, "INVALID_VALUE", "device", name, NULL);
        struct api_PIF *p = model_record_new(&mclass_PIF);
        set_str(&p->device, t->device);
        set_str(&p->network, net->ref);
        set_str(&p->host, t->host);
        set_str(&p->MAC, VLAN_MAC);
        set_str(&p->metrics, t->metrics);
        p->MTU = t->MTU;
        p->VLAN = tag;
        p->physical = false;
        p->currently_attached = true; /* XAPI plugs it at once */
        p->managed = true;
        p->primary_address_type = t->primary_address_type;
        struct db_row *prow, *vrow;
        if (db_insert(ctx->db, &mclass_PIF, NULL, p, &prow) < 0)
                return api_error_set(err, "INTERNAL_ERROR", "cannot store the PIF", NULL);
        struct api_VLAN *v = model_record_new(&mclass_VLAN);
        set_str(&v->tagged_PIF, tagged->ref);
        set_str(&v->untagged_PIF, prow->ref);
        v->tag = tag;
        if (db_insert(ctx->db, &mclass_VLAN, NULL, v, &vrow) < 0) {
                db_delete(ctx->db, prow);
                return api_error_set(err, "INTERNAL_ERROR", "cannot store the VLAN", NULL);
        }
        char *ref = vrow->ref;
        db_set(ctx->db, prow, API_PIF_F_VLAN_master_of, &ref);
        log_info("VLAN %lld on %s: PIF %s on network %s", (long long)tag, t->device, prow->ref,
                 net->ref);
        *vlan_out = vrow;
        *pif_out = prow;
        return 0;
}

/* The VLAN's device or bridge cannot be made: the VLAN and its PIF go (ARG: the PIF's ref). */
static void undo_vlan_create(struct xapi *x, void *arg)
{
        struct db_row *row = db_get(x->db, &mclass_PIF, arg);
        if (row == NULL)
                return;
        struct db_row *v =
            db_get(x->db, &mclass_VLAN, ((struct api_PIF *)row->rec)->VLAN_master_of);
        if (v != NULL)
                db_delete(x->db, v);
        db_delete(x->db, row);
}

/* Answers VLAN.create (REF: the VLAN) or PIF.create_VLAN (REF: its PIF) once netd made the
 * VLAN device and bridged it, or fails them (net_check.h). */
static int vlan_apply(struct api_ctx *ctx, struct db_row *tagged, struct db_row *pif,
                      const char *ref, struct rpc_writer *w)
{
        const struct api_PIF *p = pif->rec;
        char dev[64], bridge[64] = "";
        net_pif_kernel_name(p, dev, sizeof(dev));
        struct db_row *net = db_get(ctx->db, &mclass_network, p->network);
        if (net != NULL)
                snprintf(bridge, sizeof(bridge), "%s", ((struct api_network *)net->rec)->bridge);
        char *undo_ref = strdup(pif->ref);
        if (undo_ref == NULL)
                return -ENOMEM;
        struct net_check check = {.links = {dev, bridge},
                                  .n_links = 2,
                                  .pif = pif->ref,
                                  .vlan = dev,
                                  .vlan_parent = ((struct api_PIF *)tagged->rec)->device,
                                  .vlan_tag = p->VLAN,
                                  .undo = undo_vlan_create,
                                  .undo_arg = undo_ref};
        return net_check_apply(ctx, &check, ref, w);
}

/* VLAN.create(session, tagged_PIF, tag, network) */
int h_VLAN_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        const char *tagged = str_param(params, n, 1);
        struct db_row *t = db_get(ctx->db, &mclass_PIF, tagged);
        if (t == NULL)
                return api_error_set(err, "HANDLE_INVALID", "PIF", tagged, NULL);
        int64_t tag = int_param(params, n, 2);
        struct db_row *vlan, *pif;
        int r = vlan_create(ctx, t, tag, str_param(params, n, 3), &vlan, &pif, err);
        if (r < 0)
                return r;
        return vlan_apply(ctx, t, pif, vlan->ref, w);
}

/* PIF.create_VLAN(session, device, network, host, VLAN): deprecated; the VLAN's PIF */
int h_PIF_create_VLAN(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                      struct rpc_writer *w, struct api_error *err)
{
        const char *device = str_param(params, n, 1), *host = str_param(params, n, 3);
        struct db_row *t = NULL;
        for (size_t i = 0; i < db_count(ctx->db, &mclass_PIF) && t == NULL; i++) {
                struct db_row *o = db_row_at(ctx->db, &mclass_PIF, i);
                const struct api_PIF *p = o->rec;
                if (strcmp(p->host, host) == 0 && strcmp(p->device, device) == 0 && p->VLAN == -1)
                        t = o;
        }
        if (t == NULL)
                return api_error_set(err, "INVALID_VALUE", "device", device, NULL);
        int64_t tag = int_param(params, n, 4);
        struct db_row *vlan, *pif;
        int r = vlan_create(ctx, t, tag, str_param(params, n, 2), &vlan, &pif, err);
        if (r < 0)
                return r;
        return vlan_apply(ctx, t, pif, pif->ref, w);
}

/* VLAN.destroy's work on the VLAN's PIF ROW (may be NULL: an orphaned VLAN record). */
static int vlan_destroy(struct api_ctx *ctx, struct db_row *vlan, struct db_row *row,
                        struct rpc_writer *w, struct api_error *err)
{
        if (row == NULL) {
                log_warnx("VLAN %s has no PIF: an orphaned record, removed", vlan->ref);
                db_delete(ctx->db, vlan);
                return 0;
        }
        const struct api_PIF *p = row->rec;
        if (db_get(ctx->db, &mclass_Bond, p->bond_slave_of) != NULL || p->bond_master_of.n > 0)
                return api_error_set(err, "PIF_ALREADY_BONDED", row->ref, NULL);
        if (p->VLAN < 0)
                return api_error_set(err, "PIF_IS_PHYSICAL", NULL);
        if (net_pif_assert_unpluggable(ctx->db, row, err) < 0)
                return -EINVAL;
        struct db_row *v = vlan ? vlan : db_get(ctx->db, &mclass_VLAN, p->VLAN_master_of);
        log_info("VLAN %lld on %s destroyed", (long long)p->VLAN, p->device);
        if (v != NULL)
                db_delete(ctx->db, v);
        db_delete(ctx->db, row); /* the metrics are the tagged PIF's */
        return net_apply_and_answer(ctx, NULL, w);
}

/* VLAN.destroy(session, self) */
int h_VLAN_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        const char *self = str_param(params, n, 1);
        struct db_row *v = db_get(ctx->db, &mclass_VLAN, self);
        if (v == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VLAN", self, NULL);
        struct db_row *pif =
            db_get(ctx->db, &mclass_PIF, ((struct api_VLAN *)v->rec)->untagged_PIF);
        return vlan_destroy(ctx, v, pif, w, err);
}

/* PIF.destroy(session, self): deprecated; only a VLAN's PIF */
int h_PIF_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        const char *self = str_param(params, n, 1);
        struct db_row *row = db_get(ctx->db, &mclass_PIF, self);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "PIF", self, NULL);
        if (((struct api_PIF *)row->rec)->VLAN < 0) /* XAPI sends no parameter */
                return api_error_set(err, "PIF_IS_PHYSICAL", NULL);
        return vlan_destroy(ctx, NULL, row, w, err);
}
