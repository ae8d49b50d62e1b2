/* SRs and PBDs through stord: SR.create / destroy / forget / probe, PBD.plug / unplug, and
 * VDI.resize.  Each sends one request to stord and answers once the datamodel followed;
 * a driver failure reaches the client as XAPI's SR_BACKEND_FAILURE_<n> [, reason, ]. */
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

enum sr_op {
        SR_OP_CREATE,
        SR_OP_PLUG,
        SR_OP_UNPLUG,
        SR_OP_DESTROY,
        SR_OP_RESIZE,
        SR_OP_PROBE,
        SR_OP_UPDATE
};

struct pending {
        struct xapi *x;
        struct rpc_req *req;
        enum sr_op op;
        char *ref;           /* PBD (plug/unplug), SR (destroy), VDI (resize) */
        struct api_SR *sr;   /* create: the SR record to insert */
        struct api_PBD *pbd; /* create: its PBD */
        char *marked;        /* the SR or VDI carrying the operation in current_operations */
        bool marked_vdi;
        char opkey[80];
        const char *task; /* the calling task (borrowed from the request), or NULL */
};

static void unmark(struct pending *p)
{
        if (p->marked == NULL)
                return;
        if (p->marked_vdi)
                storage_vdi_op_end(p->x->db, p->marked, p->opkey);
        else
                storage_sr_op_end(p->x->db, p->marked, p->opkey);
        free(p->marked);
        p->marked = NULL;
}

static void mark_sr(struct pending *p, struct db_row *sr, int op)
{
        storage_sr_op_begin(p->x->db, sr, op, p->task, p->opkey, sizeof(p->opkey));
        vmu_set_str(&p->marked, sr->ref);
}

static void pending_free(struct pending *p)
{
        unmark(p);
        free(p->ref);
        model_record_free(&mclass_SR, p->sr);
        model_record_free(&mclass_PBD, p->pbd);
        free(p);
}

static void pending_cancel(void *arg)
{
        ((struct pending *)arg)->req = NULL;
}

static void answer(struct pending *p, int r, const char *value, struct api_error *err)
{
        unmark(p);
        if (p->req != NULL) {
                if (r == 0 && value != NULL)
                        rpcw_string(rpc_deferred_writer(p->req), value);
                rpc_resume(p->req, r, err);
        } else {
                vmu_commit(p->x);
        }
        api_error_clear(err);
        pending_free(p);
}

static int send(struct api_ctx *ctx, struct pending *p, const ProtobufCMessage *body,
                const ProtobufCMessageDescriptor *reply, msg_reply_fn cb, struct api_error *err)
{
        struct xapi *x = p->x;
        int r = x->msg != NULL
                    ? msg_link_request(x->msg, STORAGE_STORD, body, reply, STORAGE_TIMEOUT, cb, p)
                    : -EHOSTUNREACH;
        if (r < 0) {
                storage_link_error(
                    r, r == -EHOSTUNREACH ? "the storage daemon is not connected" : NULL, err);
                pending_free(p);
                return r;
        }
        p->req = rpc_defer(ctx);
        rpc_on_cancel(p->req, pending_cancel, p);
        return 0;
}

static struct pending *pending_new(struct api_ctx *ctx, enum sr_op op, const char *ref)
{
        struct pending *p = calloc(1, sizeof(*p));
        if (p == NULL)
                abort();
        p->x = rpc_req_xapi(ctx->user);
        p->task = rpc_req_task(ctx->user);
        p->op = op;
        if (ref != NULL)
                vmu_set_str(&p->ref, ref);
        return p;
}

/* The outcome of a reply carrying a Failure (or a failed exchange). */
static int reply_status(int status, const char *errtext, const Ts__Sto__Failure *f,
                        struct api_error *err)
{
        if (status < 0) {
                storage_link_error(status, errtext, err);
                return status;
        }
        return f != NULL ? storage_failure_to_api(f, err) : 0;
}

static void state_replied(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct pending *p = arg;
        struct xapi *x = p->x;
        struct api_error err = {0};
        const Ts__Sto__SrState *st = (const Ts__Sto__SrState *)reply;
        int r = reply_status(status, errtext, status < 0 ? NULL : st->failure, &err);
        if (r < 0) {
                answer(p, r, NULL, &err);
                return;
        }
        struct db_row *row = NULL;
        const char *result = NULL;
        switch (p->op) {
        case SR_OP_CREATE: {
                struct db_row *pbd;
                if (db_insert(x->db, &mclass_SR, NULL, p->sr, &row) < 0) {
                        r = api_error_set(&err, "SR_UUID_EXISTS", p->sr->uuid, NULL);
                        break;
                }
                p->sr = NULL;
                vmu_set_str(&p->pbd->SR, row->ref);
                if (db_insert(x->db, &mclass_PBD, NULL, p->pbd, &pbd) == 0)
                        p->pbd = NULL;
                storage_reconcile(x, row, st);
                storage_sr_update_allowed(x->db, row);
                result = row->ref;
                log_info("SR %s created", ((struct api_SR *)row->rec)->uuid);
                break;
        }
        case SR_OP_PLUG:
        case SR_OP_UNPLUG:
                row = db_get(x->db, &mclass_PBD, p->ref);
                if (row != NULL) {
                        struct api_PBD *pbd = row->rec;
                        pbd->currently_attached = p->op == SR_OP_PLUG;
                        db_touch(x->db, row);
                        struct db_row *sr = db_get(x->db, &mclass_SR, pbd->SR);
                        if (sr != NULL && p->op == SR_OP_PLUG)
                                storage_reconcile(x, sr, st);
                }
                break;
        case SR_OP_DESTROY:
                row = db_get(x->db, &mclass_SR, p->ref);
                if (row != NULL) {
                        struct api_SR *sr = row->rec;
                        while (sr->VDIs.n > 0) {
                                struct db_row *v = db_get(x->db, &mclass_VDI, sr->VDIs.v[0].s);
                                if (v == NULL)
                                        break;
                                db_delete(x->db, v);
                        }
                        while (sr->PBDs.n > 0) {
                                struct db_row *v = db_get(x->db, &mclass_PBD, sr->PBDs.v[0].s);
                                if (v == NULL)
                                        break;
                                db_delete(x->db, v);
                        }
                        log_info("SR %s destroyed", sr->uuid);
                        db_delete(x->db, row);
                }
                break;
        default:
                break;
        }
        answer(p, r, result, &err);
}

static const struct db_row *sm_for(struct db *db, const char *type)
{
        for (size_t i = 0; i < db_count(db, &mclass_SM); i++) {
                struct db_row *row = db_row_at(db, &mclass_SM, i);
                if (strcmp(((struct api_SM *)row->rec)->type, type) == 0)
                        return row;
        }
        return NULL;
}

/* SR.create(session, host, device_config, physical_size, name_label, name_description, type,
 *           content_type, shared, sm_config) -> SR ref */
int h_SR_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        struct db_row *host = vmu_param(ctx, &mclass_host, params[1], err);
        if (host == NULL)
                return -ENOENT;
        const char *type = vmu_str(params[6]);
        if (sm_for(ctx->db, type) == NULL)
                return api_error_set(err, "SR_UNKNOWN_DRIVER", type, NULL);
        struct pending *p = pending_new(ctx, SR_OP_CREATE, NULL);
        p->sr = model_record_new(&mclass_SR);
        p->pbd = model_record_new(&mclass_PBD);
        const struct mfield *dcf = &mclass_PBD.fields[API_PBD_F_device_config];
        int r = model_slot_read(dcf->type, params[2], &p->pbd->device_config, "device_config", err);
        const struct mfield *smf = &mclass_SR.fields[API_SR_F_sm_config];
        if (r == 0 && n > 9) {
                model_slot_free(smf->type, &p->sr->sm_config);
                r = model_slot_read(smf->type, params[9], &p->sr->sm_config, "sm_config", err);
        }
        if (r < 0) {
                pending_free(p);
                return r;
        }
        char uuid[UUID_STR_LEN];
        uuid_generate_str(uuid);
        vmu_set_str(&p->sr->uuid, uuid);
        vmu_set_str(&p->sr->name_label, vmu_str(params[4]));
        vmu_set_str(&p->sr->name_description, vmu_str(params[5]));
        vmu_set_str(&p->sr->type, type);
        vmu_set_str(&p->sr->content_type, vmu_str(params[7]));
        p->sr->shared = params[8]->type == RPC_BOOL && params[8]->u.b;
        vmu_set_str(&p->pbd->host, host->ref);
        p->pbd->currently_attached = true;
        struct srdesc d;
        if (storage_srdesc_init(&d, type, uuid, &p->pbd->device_config) < 0) {
                pending_free(p);
                return -ENOMEM;
        }
        Ts__Sto__SrAttach req = TS__STO__SR_ATTACH__INIT;
        req.sr = &d.sr;
        req.create = true;
        r = send(ctx, p, &req.base, &ts__sto__sr_state__descriptor, state_replied, err);
        storage_srdesc_clear(&d);
        return r;
}

static int pbd_op(struct api_ctx *ctx, const struct rpc_value *v, bool plug, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_PBD, v, err);
        if (row == NULL)
                return -ENOENT;
        const struct api_PBD *pbd = row->rec;
        if (pbd->currently_attached == plug)
                return 0; /* XAPI: plugging a plugged PBD (and the reverse) does nothing */
        struct db_row *sr = db_get(ctx->db, &mclass_SR, pbd->SR);
        if (sr == NULL)
                return api_error_set(err, "HANDLE_INVALID", "SR", pbd->SR, NULL);
        const struct api_SR *s = sr->rec;
        if (!plug)
                for (size_t i = 0; i < s->VDIs.n; i++) {
                        struct db_row *vdi = db_get(ctx->db, &mclass_VDI, s->VDIs.v[i].s);
                        const struct api_VDI *vd = vdi != NULL ? vdi->rec : NULL;
                        for (size_t k = 0; vd != NULL && k < vd->VBDs.n; k++) {
                                struct db_row *b = db_get(ctx->db, &mclass_VBD, vd->VBDs.v[k].s);
                                if (b != NULL && ((struct api_VBD *)b->rec)->currently_attached)
                                        return api_error_set(err, "VDI_IN_USE", vdi->ref, "unplug",
                                                             NULL);
                        }
                }
        int op = plug ? API_STORAGE_OPERATIONS_PLUG : API_STORAGE_OPERATIONS_UNPLUG;
        int r = storage_sr_check_op(ctx->db, sr, op, err);
        if (r < 0)
                return r;
        struct srdesc d;
        if (storage_srdesc_init(&d, s->type, s->uuid, &pbd->device_config) < 0)
                return -ENOMEM;
        struct pending *p = pending_new(ctx, plug ? SR_OP_PLUG : SR_OP_UNPLUG, row->ref);
        mark_sr(p, sr, op);
        if (plug) {
                Ts__Sto__SrAttach req = TS__STO__SR_ATTACH__INIT;
                req.sr = &d.sr;
                r = send(ctx, p, &req.base, &ts__sto__sr_state__descriptor, state_replied, err);
        } else {
                Ts__Sto__SrDetach req = TS__STO__SR_DETACH__INIT;
                req.sr = &d.sr;
                r = send(ctx, p, &req.base, &ts__sto__sr_state__descriptor, state_replied, err);
        }
        storage_srdesc_clear(&d);
        return r;
}

/* PBD.plug(session, self) */
static int do_PBD_plug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                       struct rpc_writer *w, struct api_error *err)
{
        return pbd_op(ctx, params[1], true, err);
}

/* PBD.unplug(session, self) */
static int do_PBD_unplug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        return pbd_op(ctx, params[1], false, err);
}

/* SR.destroy(session, sr): the storage goes, then the SR, its VDIs and PBDs. */
static int do_SR_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *row = vmu_param(ctx, &mclass_SR, params[1], err);
        if (row == NULL)
                return -ENOENT;
        int r = storage_sr_check_op(ctx->db, row, API_STORAGE_OPERATIONS_DESTROY, err);
        if (r < 0)
                return r;
        struct srdesc d;
        r = storage_srdesc_for(x, row->ref, &d, err);
        if (r < 0)
                return r;
        Ts__Sto__SrDelete req = TS__STO__SR_DELETE__INIT;
        req.sr = &d.sr;
        struct pending *p = pending_new(ctx, SR_OP_DESTROY, row->ref);
        mark_sr(p, row, API_STORAGE_OPERATIONS_DESTROY);
        r = send(ctx, p, &req.base, &ts__sto__sr_state__descriptor, state_replied, err);
        storage_srdesc_clear(&d);
        return r;
}

/* SR.forget(session, sr): the records go, the storage stays. */
static int do_SR_forget(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                        struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_SR, params[1], err);
        if (row == NULL)
                return -ENOENT;
        struct api_SR *sr = row->rec;
        int r = storage_sr_check_op(ctx->db, row, API_STORAGE_OPERATIONS_FORGET, err);
        if (r < 0)
                return r;
        while (sr->VDIs.n > 0) {
                struct db_row *v = db_get(ctx->db, &mclass_VDI, sr->VDIs.v[0].s);
                if (v == NULL)
                        break;
                db_delete(ctx->db, v);
        }
        while (sr->PBDs.n > 0) {
                struct db_row *v = db_get(ctx->db, &mclass_PBD, sr->PBDs.v[0].s);
                if (v == NULL)
                        break;
                db_delete(ctx->db, v);
        }
        db_delete(ctx->db, row);
        return 0;
}

static void resize_replied(int status, const ProtobufCMessage *reply, const char *errtext,
                           void *arg)
{
        struct pending *p = arg;
        struct api_error err = {0};
        const Ts__Sto__VdiResult *res = (const Ts__Sto__VdiResult *)reply;
        int r = reply_status(status, errtext, status < 0 ? NULL : res->failure, &err);
        struct db_row *row = r == 0 ? db_get(p->x->db, &mclass_VDI, p->ref) : NULL;
        if (row != NULL && res->vdi != NULL) {
                struct api_VDI *v = row->rec;
                v->virtual_size = (int64_t)res->vdi->virtual_size;
                v->physical_utilisation = (int64_t)res->vdi->physical_utilisation;
                db_touch(p->x->db, row);
        }
        answer(p, r, NULL, &err);
}

/* VDI.resize(session, vdi, size) */
static int do_VDI_resize(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *row = vmu_param(ctx, &mclass_VDI, params[1], err);
        if (row == NULL)
                return -ENOENT;
        const struct api_VDI *v = row->rec;
        int64_t size = 0;
        model_slot_read(&(struct mtype){.kind = MT_INT}, params[2], &size, "size", err);
        int r = storage_vdi_check_op(ctx->db, row, API_VDI_OPERATIONS_RESIZE, err);
        if (r < 0)
                return r;
        struct srdesc d;
        r = storage_srdesc_for(x, v->SR, &d, err);
        if (r < 0)
                return r;
        Ts__Sto__VdiResize req = TS__STO__VDI_RESIZE__INIT;
        req.sr = &d.sr;
        req.location = v->location;
        req.size = size > 0 ? (uint64_t)size : 0;
        struct pending *p = pending_new(ctx, SR_OP_RESIZE, row->ref);
        storage_vdi_op_begin(ctx->db, row, API_VDI_OPERATIONS_RESIZE, p->task, p->opkey,
                             sizeof(p->opkey));
        vmu_set_str(&p->marked, row->ref);
        p->marked_vdi = true;
        r = send(ctx, p, &req.base, &ts__sto__vdi_result__descriptor, resize_replied, err);
        storage_srdesc_clear(&d);
        return r;
}

static void probe_replied(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct pending *p = arg;
        struct api_error err = {0};
        const Ts__Sto__ProbeResult *res = (const Ts__Sto__ProbeResult *)reply;
        int r = reply_status(status, errtext, status < 0 ? NULL : res->failure, &err);
        answer(p, r, r == 0 ? res->xml : NULL, &err);
}

/* SR.probe(session, host, device_config, type[, sm_config]) -> XML text */
int h_SR_probe(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        if (vmu_param(ctx, &mclass_host, params[1], err) == NULL)
                return -ENOENT;
        const char *type = vmu_str(params[3]);
        if (sm_for(ctx->db, type) == NULL)
                return api_error_set(err, "SR_UNKNOWN_DRIVER", type, NULL);
        struct mmap dconf = {0};
        const struct mfield *dcf = &mclass_PBD.fields[API_PBD_F_device_config];
        int r = model_slot_read(dcf->type, params[2], &dconf, "device_config", err);
        if (r < 0)
                return r;
        struct srdesc d;
        if (storage_srdesc_init(&d, type, "", &dconf) < 0) {
                model_slot_free(dcf->type, &dconf);
                return -ENOMEM;
        }
        Ts__Sto__SrProbe req = TS__STO__SR_PROBE__INIT;
        req.type = (char *)type;
        req.device_config = d.sr.device_config;
        req.n_device_config = d.sr.n_device_config;
        struct pending *p = pending_new(ctx, SR_OP_PROBE, NULL);
        r = send(ctx, p, &req.base, &ts__sto__probe_result__descriptor, probe_replied, err);
        storage_srdesc_clear(&d);
        model_slot_free(dcf->type, &dconf);
        return r;
}

/* SR.introduce(session, uuid, name_label, name_description, type, content_type, shared
 *              [, sm_config]) -> SR ref: the record only; a PBD.create + PBD.plug follow. */
int h_SR_introduce(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        const char *uuid = vmu_str(params[1]);
        if (uuid[0] != '\0' && db_get_by_uuid(ctx->db, &mclass_SR, uuid) != NULL)
                return api_error_set(err, "SR_UUID_EXISTS", uuid, NULL);
        const char *type = vmu_str(params[4]);
        if (sm_for(ctx->db, type) == NULL)
                return api_error_set(err, "SR_UNKNOWN_DRIVER", type, NULL);
        struct api_SR *sr = model_record_new(&mclass_SR);
        char fresh[UUID_STR_LEN];
        uuid_generate_str(fresh);
        vmu_set_str(&sr->uuid, uuid[0] ? uuid : fresh);
        vmu_set_str(&sr->name_label, vmu_str(params[2]));
        vmu_set_str(&sr->name_description, vmu_str(params[3]));
        vmu_set_str(&sr->type, type);
        vmu_set_str(&sr->content_type, vmu_str(params[5]));
        sr->shared = params[6]->type == RPC_BOOL && params[6]->u.b;
        int r = 0;
        if (n > 7) {
                const struct mfield *f = &mclass_SR.fields[API_SR_F_sm_config];
                model_slot_free(f->type, &sr->sm_config);
                r = model_slot_read(f->type, params[7], &sr->sm_config, "sm_config", err);
        }
        struct db_row *row;
        if (r == 0 && db_insert(ctx->db, &mclass_SR, NULL, sr, &row) < 0)
                r = api_error_set(err, "SR_UUID_EXISTS", uuid, NULL);
        if (r < 0) {
                model_record_free(&mclass_SR, sr);
                return r;
        }
        storage_sr_update_allowed(ctx->db, row);
        rpcw_string(w, row->ref);
        return 0;
}

static void update_replied(int status, const ProtobufCMessage *reply, const char *errtext,
                           void *arg)
{
        struct pending *p = arg;
        struct api_error err = {0};
        const Ts__Sto__SrState *st = (const Ts__Sto__SrState *)reply;
        int r = reply_status(status, errtext, status < 0 ? NULL : st->failure, &err);
        struct db_row *row = r == 0 ? db_get(p->x->db, &mclass_SR, p->ref) : NULL;
        if (row != NULL && st->physical_size != 0) {
                struct api_SR *s = row->rec;
                s->physical_size = (int64_t)st->physical_size;
                s->physical_utilisation = (int64_t)st->physical_utilisation;
                s->virtual_allocation = (int64_t)st->virtual_allocation;
                db_touch(p->x->db, row);
        }
        answer(p, r, NULL, &err);
}

/* SR.update(session, sr): sizes and utilisation again from the storage. */
static int do_SR_update(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                        struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *row = vmu_param(ctx, &mclass_SR, params[1], err);
        if (row == NULL)
                return -ENOENT;
        int r = storage_sr_check_op(ctx->db, row, API_STORAGE_OPERATIONS_UPDATE, err);
        if (r < 0)
                return r;
        struct srdesc d;
        r = storage_srdesc_for(x, row->ref, &d, err);
        if (r < 0)
                return r;
        Ts__Sto__SrScan req = TS__STO__SR_SCAN__INIT;
        req.sr = &d.sr;
        struct pending *p = pending_new(ctx, SR_OP_UPDATE, row->ref);
        mark_sr(p, row, API_STORAGE_OPERATIONS_UPDATE);
        r = send(ctx, p, &req.base, &ts__sto__sr_state__descriptor, update_replied, err);
        storage_srdesc_clear(&d);
        return r;
}

/* PBD.create(session, PBD record) -> PBD ref: one PBD per SR and host (PBD_EXISTS). */
int h_PBD_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        void *v;
        int r = model_record_read(&mclass_PBD, params[1], &v, err);
        if (r < 0)
                return r;
        struct api_PBD *pbd = v;
        struct db_row *sr = db_get(ctx->db, &mclass_SR, pbd->SR);
        struct db_row *host = db_get(ctx->db, &mclass_host, pbd->host);
        if (sr == NULL || host == NULL) {
                r = api_error_set(err, "HANDLE_INVALID", sr == NULL ? "SR" : "host",
                                  sr == NULL ? pbd->SR : pbd->host, NULL);
                model_record_free(&mclass_PBD, pbd);
                return r;
        }
        const struct api_SR *s = sr->rec;
        for (size_t i = 0; i < s->PBDs.n; i++) {
                struct db_row *o = db_get(ctx->db, &mclass_PBD, s->PBDs.v[i].s);
                if (o != NULL && strcmp(((struct api_PBD *)o->rec)->host, host->ref) == 0) {
                        r = api_error_set(err, "PBD_EXISTS", sr->ref, host->ref, o->ref, NULL);
                        model_record_free(&mclass_PBD, pbd);
                        return r;
                }
        }
        vmu_set_str(&pbd->uuid, "");
        pbd->currently_attached = false; /* PBD.plug attaches */
        struct db_row *row;
        if (db_insert(ctx->db, &mclass_PBD, NULL, pbd, &row) < 0) {
                model_record_free(&mclass_PBD, pbd);
                return api_error_set(err, "DB_UNIQUENESS_CONSTRAINT_VIOLATION", "PBD", "uuid", "",
                                     NULL);
        }
        storage_sr_update_allowed(ctx->db, sr);
        rpcw_string(w, row->ref);
        return 0;
}

/* PBD.destroy(session, self): only an unplugged PBD. */
int h_PBD_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_PBD, params[1], err);
        if (row == NULL)
                return -ENOENT;
        const struct api_PBD *pbd = row->rec;
        if (pbd->currently_attached)
                return api_error_set(err, "OPERATION_NOT_ALLOWED", "PBD is currently attached",
                                     NULL);
        struct db_row *sr = db_get(ctx->db, &mclass_SR, pbd->SR);
        db_delete(ctx->db, row);
        if (sr != NULL)
                storage_sr_update_allowed(ctx->db, sr);
        return 0;
}

/* ---- conflicts wait, as XAPI's (storage_wait.h) ---- */

int h_PBD_unplug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_PBD_unplug(ctx, params, n, w, err), err);
}

int h_PBD_plug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_PBD_plug(ctx, params, n, w, err), err);
}

int h_SR_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_SR_destroy(ctx, params, n, w, err), err);
}

int h_SR_forget(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_SR_forget(ctx, params, n, w, err), err);
}

int h_VDI_resize(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_resize(ctx, params, n, w, err), err);
}

int h_SR_update(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_SR_update(ctx, params, n, w, err), err);
}
