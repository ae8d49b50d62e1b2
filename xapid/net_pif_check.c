/* PIF calls that fail when netd cannot make the PIF's part (see net_pif_check.h). */
#include "xapid/net_pif_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_gen.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/net_check.h"
#include "xapid/net_desired.h"
#include "xapid/xapi.h"

struct net_pif_snapshot {
        char ref[128];
        struct api_PIF *rec; /* a copy of the record before the call */
        char *host_address;  /* the host's, when the PIF is the management one */
};

/* The fields a PIF call may change and its undo puts back. */
static const int restored[] = {
    API_PIF_F_currently_attached,
    API_PIF_F_ip_configuration_mode,
    API_PIF_F_IP,
    API_PIF_F_netmask,
    API_PIF_F_gateway,
    API_PIF_F_DNS,
    API_PIF_F_ipv6_configuration_mode,
    API_PIF_F_IPv6,
    API_PIF_F_ipv6_gateway,
};

struct net_pif_snapshot *net_pif_snapshot(struct db *db, const struct db_row *pif)
{
        struct net_pif_snapshot *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return NULL;
        snprintf(s->ref, sizeof(s->ref), "%s", pif->ref);
        s->rec = model_record_copy(&mclass_PIF, pif->rec);
        struct db_row *h = db_get(db, &mclass_host, s->rec->host);
        if (h != NULL && s->rec->management)
                s->host_address = strdup(((struct api_host *)h->rec)->address);
        return s;
}

static void snapshot_free(void *arg)
{
        struct net_pif_snapshot *s = arg;
        if (s == NULL)
                return;
        model_record_free(&mclass_PIF, s->rec);
        free(s->host_address);
        free(s);
}

static void undo_pif(struct xapi *x, void *arg)
{
        struct net_pif_snapshot *s = arg;
        struct db_row *row = db_get(x->db, &mclass_PIF, s->ref);
        if (row == NULL || s->rec == NULL)
                return;
        for (size_t i = 0; i < sizeof(restored) / sizeof(restored[0]); i++) {
                const struct mfield *f = &mclass_PIF.fields[restored[i]];
                const void *old = model_slot(s->rec, f);
                if (!model_slot_equal(f->type, model_slot(row->rec, f), old))
                        db_set(x->db, row, restored[i], old);
        }
        struct db_row *h = db_get(x->db, &mclass_host, s->rec->host);
        if (h != NULL && s->host_address != NULL)
                db_set(x->db, h, API_host_F_address, &s->host_address);
}

int net_pif_check_apply(struct api_ctx *ctx, const struct db_row *pif,
                        struct net_pif_snapshot *snap, struct rpc_writer *w)
{
        const struct api_PIF *p = pif->rec;
        char dev[64] = "", bridge[64] = "";
        net_pif_kernel_name(p, dev, sizeof(dev));
        struct db_row *net = db_get(ctx->db, &mclass_network, p->network);
        if (net != NULL)
                snprintf(bridge, sizeof(bridge), "%s", ((struct api_network *)net->rec)->bridge);
        struct net_check check = {.links = {dev, bridge},
                                  .n_links = bridge[0] ? 2 : 1,
                                  .pif = pif->ref,
                                  .undo = snap != NULL ? undo_pif : NULL,
                                  .undo_arg = snap,
                                  .free_undo_arg = snapshot_free};
        return net_check_apply(ctx, &check, NULL, w);
}
