/* VDI.introduce, VDI.update (the facts of a VDI read from the storage through stord's
 * VdiIntroduce) and VDI.forget (the record goes, the data stays), as XAPI's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/uuid.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/storage_ops.h"
#include "xapid/storage_priv.h"
#include "xapid/storage_wait.h"
#include "xapid/vm_util.h"
#include "xapid/xapi.h"

LOG_MODULE(storage)

struct vdi_call {
        struct xapi *x;
        struct rpc_req *req;
        char *vdi;           /* update: the VDI */
        struct api_VDI *rec; /* introduce: the record to insert */
};

static void call_free(struct vdi_call *c)
{
        free(c->vdi);
        model_record_free(&mclass_VDI, c->rec);
        free(c);
}

static void call_cancel(void *arg)
{
        ((struct vdi_call *)arg)->req = NULL;
}

static void facts_replied(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct vdi_call *c = arg;
        struct xapi *x = c->x;
        struct api_error err = {0};
        const Ts__Sto__VdiResult *res = (const Ts__Sto__VdiResult *)reply;
        int r = 0;
        const char *result = NULL;
        if (status < 0) {
                storage_link_error(status, errtext, &err);
                r = status;
        } else if (res->failure != NULL) {
                r = storage_failure_to_api(res->failure, &err);
        } else if (res->vdi == NULL) {
                r = api_error_set(&err, "SR_BACKEND_FAILURE", "EBADMSG", "",
                                  "stord's reply carries no VDI", NULL);
        }
        struct db_row *row = NULL;
        if (r == 0 && c->rec != NULL) { /* introduce */
                struct api_VDI *v = c->rec;
                v->virtual_size = (int64_t)res->vdi->virtual_size;
                v->physical_utilisation = (int64_t)res->vdi->physical_utilisation;
                v->missing = false;
                if (db_insert(x->db, &mclass_VDI, NULL, v, &row) < 0) {
                        r = api_error_set(&err, "UUID_INVALID", "VDI", v->uuid, NULL);
                } else {
                        c->rec = NULL;
                        storage_vdi_update_allowed(x->db, row);
                        result = row->ref;
                }
        } else if (r == 0 && (row = db_get(x->db, &mclass_VDI, c->vdi)) != NULL) { /* update */
                struct api_VDI *v = row->rec;
                v->virtual_size = (int64_t)res->vdi->virtual_size;
                v->physical_utilisation = (int64_t)res->vdi->physical_utilisation;
                v->missing = false;
                db_touch(x->db, row);
                storage_vdi_update_allowed(x->db, row);
        }
        if (c->req != NULL) {
                if (r == 0 && result != NULL)
                        rpcw_string(rpc_deferred_writer(c->req), result);
                rpc_resume(c->req, r, &err);
        } else {
                vmu_commit(x);
        }
        api_error_clear(&err);
        call_free(c);
}

static int ask_facts(struct api_ctx *ctx, struct vdi_call *c, const char *sr_ref,
                     const char *location, struct api_error *err)
{
        struct srdesc d;
        int r = storage_srdesc_for(c->x, sr_ref, &d, err);
        if (r < 0) {
                call_free(c);
                return r;
        }
        Ts__Sto__VdiIntroduce req = TS__STO__VDI_INTRODUCE__INIT;
        req.sr = &d.sr;
        req.location = (char *)location;
        r = c->x->msg != NULL ? msg_link_request(c->x->msg, STORAGE_STORD, &req.base,
                                                 &ts__sto__vdi_result__descriptor, STORAGE_TIMEOUT,
                                                 facts_replied, c)
                              : -EHOSTUNREACH;
        storage_srdesc_clear(&d);
        if (r < 0) {
                storage_link_error(
                    r, r == -EHOSTUNREACH ? "the storage daemon is not connected" : NULL, err);
                call_free(c);
                return r;
        }
        c->req = rpc_defer(ctx);
        rpc_on_cancel(c->req, call_cancel, c);
        return 0;
}

static struct vdi_call *call_new(struct api_ctx *ctx)
{
        struct vdi_call *c = calloc(1, sizeof(*c));
        if (c == NULL)
                abort();
        c->x = rpc_req_xapi(ctx->user);
        return c;
}

/* Reads optional parameter I of type T into SLOT when present. */
static int opt_param(const struct rpc_value *const *params, size_t n, size_t i,
                     const struct mclass *c, int f, void *rec, struct api_error *err)
{
        if (i >= n)
                return 0;
        const struct mfield *fd = &c->fields[f];
        model_slot_free(fd->type, model_slot(rec, fd));
        return model_slot_read(fd->type, params[i], model_slot(rec, fd), fd->name, err);
}

/* VDI.introduce(session, uuid, name_label, name_description, SR, type, sharable, read_only,
 *               other_config, location[, xenstore_data, sm_config, managed, virtual_size,
 *               physical_utilisation, metadata_of_pool, is_a_snapshot, snapshot_time,
 *               snapshot_of]) -> VDI ref */
static int do_VDI_introduce(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                            struct rpc_writer *w, struct api_error *err)
{
        struct db_row *sr = vmu_param(ctx, &mclass_SR, params[4], err);
        if (sr == NULL)
                return -ENOENT;
        const char *uuid = vmu_str(params[1]);
        const char *location = vmu_str(params[9]);
        if (uuid[0] != '\0' && db_get_by_uuid(ctx->db, &mclass_VDI, uuid) != NULL)
                return api_error_set(err, "UUID_INVALID", "VDI", uuid, NULL);
        const struct api_SR *s = sr->rec;
        for (size_t i = 0; i < s->VDIs.n; i++) {
                struct db_row *v = db_get(ctx->db, &mclass_VDI, s->VDIs.v[i].s);
                if (v != NULL && strcmp(((struct api_VDI *)v->rec)->location, location) == 0)
                        return api_error_set(err, "LOCATION_NOT_UNIQUE", sr->ref, location, NULL);
        }
        int r = storage_sr_check_op(ctx->db, sr, API_STORAGE_OPERATIONS_VDI_INTRODUCE, err);
        if (r < 0)
                return r;
        struct vdi_call *c = call_new(ctx);
        struct api_VDI *v = c->rec = model_record_new(&mclass_VDI);
        char fresh[UUID_STR_LEN];
        uuid_generate_str(fresh);
        vmu_set_str(&v->uuid, uuid[0] ? uuid : fresh);
        vmu_set_str(&v->name_label, vmu_str(params[2]));
        vmu_set_str(&v->name_description, vmu_str(params[3]));
        vmu_set_str(&v->SR, sr->ref);
        vmu_set_str(&v->location, location);
        v->managed = true;
        static const int fields[] = {API_VDI_F_type, API_VDI_F_sharable, API_VDI_F_read_only,
                                     API_VDI_F_other_config};
        static const size_t at[] = {5, 6, 7, 8};
        for (size_t i = 0; i < 4 && r == 0; i++)
                r = opt_param(params, n, at[i], &mclass_VDI, fields[i], v, err);
        if (r == 0)
                r = opt_param(params, n, 10, &mclass_VDI, API_VDI_F_xenstore_data, v, err);
        if (r == 0)
                r = opt_param(params, n, 11, &mclass_VDI, API_VDI_F_sm_config, v, err);
        if (r == 0)
                r = opt_param(params, n, 12, &mclass_VDI, API_VDI_F_managed, v, err);
        if (r < 0) {
                call_free(c);
                return r;
        }
        return ask_facts(ctx, c, sr->ref, location, err);
}

/* VDI.update(session, vdi): the facts again from the storage. */
static int do_VDI_update(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VDI, params[1], err);
        if (row == NULL)
                return -ENOENT;
        int r = storage_vdi_check_op(ctx->db, row, API_VDI_OPERATIONS_UPDATE, err);
        if (r < 0)
                return r;
        const struct api_VDI *v = row->rec;
        struct vdi_call *c = call_new(ctx);
        vmu_set_str(&c->vdi, row->ref);
        return ask_facts(ctx, c, v->SR, v->location, err);
}

/* VDI.forget(session, vdi): the record (and its VBDs) go, the data stays on the SR. */
static int do_VDI_forget(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VDI, params[1], err);
        if (row == NULL)
                return -ENOENT;
        int r = storage_vdi_check_op(ctx->db, row, API_VDI_OPERATIONS_FORGET, err);
        if (r < 0)
                return r;
        struct api_VDI *v = row->rec;
        while (v->VBDs.n > 0) {
                struct db_row *vbd = db_get(ctx->db, &mclass_VBD, v->VBDs.v[0].s);
                if (vbd == NULL)
                        break;
                vmu_destroy_vbd(ctx->db, vbd);
        }
        struct db_row *sr = db_get(ctx->db, &mclass_SR, v->SR);
        db_delete(ctx->db, row);
        if (sr != NULL)
                storage_sr_update_allowed(ctx->db, sr);
        return 0;
}

/* ---- conflicts wait, as XAPI's (storage_wait.h) ---- */

int h_VDI_introduce(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                    struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_introduce(ctx, params, n, w, err), err);
}

int h_VDI_update(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_update(ctx, params, n, w, err), err);
}

int h_VDI_forget(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_forget(ctx, params, n, w, err), err);
}
