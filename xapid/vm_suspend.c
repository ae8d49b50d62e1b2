/* Suspend images in VDIs (see vm_suspend.h). */
#include "xapid/vm_suspend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/uuid.h"
#include "proto/storage.pb-c.h"
#include "xapid/db.h"
#include "xapid/vm_attach.h"
#include "xapid/xapi.h"

LOG_MODULE(vm_suspend)

#define STORD         "stord"
#define STORD_TIMEOUT 120000
#define NULL_REF      "OpaqueRef:NULL"
#define MiB           (1024LL * 1024)

struct image_op {
        struct xapi *x;
        char *vm_ref;
        char *vdi_ref;
        char holder[64];
        vm_image_fn done;
        void *arg;
};

static char *xstrdup(const char *s)
{
        char *d = strdup(s != NULL ? s : "");
        if (d == NULL)
                abort();
        return d;
}

static void image_op_free(struct image_op *op)
{
        free(op->vm_ref);
        free(op->vdi_ref);
        free(op);
}

static void holder_of(const struct api_VM *vm, char out[64])
{
        snprintf(out, 64, "suspend/%s", vm->uuid);
}

static bool valid_sr(struct xapi *x, const char *ref)
{
        return ref != NULL && strcmp(ref, NULL_REF) != 0 && db_get(x->db, &mclass_SR, ref) != NULL;
}

/* XAPI's choice of SR for a suspend image. */
static const char *suspend_sr(struct xapi *x, const struct api_VM *vm)
{
        if (valid_sr(x, vm->suspend_SR))
                return vm->suspend_SR;
        struct db_row *pool = db_get(x->db, &mclass_pool, x->pool_ref);
        if (pool == NULL)
                return NULL;
        const struct api_pool *p = pool->rec;
        if (valid_sr(x, p->suspend_image_SR))
                return p->suspend_image_SR;
        if (valid_sr(x, p->default_SR))
                return p->default_SR;
        return NULL;
}

static void delete_vdi(struct xapi *x, const char *vdi_ref);

static void image_attached(void *arg, int r, struct api_error *err, const char *path)
{
        struct image_op *op = arg;
        if (r < 0)
                delete_vdi(op->x, op->vdi_ref);
        op->done(op->arg, r, err, path, op->vdi_ref);
        image_op_free(op);
}

static void image_created(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct image_op *op = arg;
        struct xapi *x = op->x;
        const Ts__Sto__VdiResult *res = (const Ts__Sto__VdiResult *)reply;
        struct api_error err = {0};
        int r = 0;
        if (status < 0) {
                r = status;
                api_error_set(&err, "SR_BACKEND_FAILURE", "EIO", "",
                              errtext && errtext[0] ? errtext : strerror(-status), NULL);
        } else if (res->failure != NULL || res->vdi == NULL) {
                r = res->failure != NULL && res->failure->errnum > 0 ? -res->failure->errnum : -EIO;
                if (res->failure != NULL)
                        api_error_setv(&err, res->failure->code,
                                       (const char *const *)res->failure->params,
                                       res->failure->n_params);
                else
                        api_error_set(&err, "SR_BACKEND_FAILURE", "EBADMSG", "", "no VDI", NULL);
        }
        struct db_row *vm = db_get(x->db, &mclass_VM, op->vm_ref);
        if (r == 0 && vm == NULL)
                r = api_error_set(&err, "HANDLE_INVALID", "VM", op->vm_ref, NULL);
        if (r < 0) {
                op->done(op->arg, r, &err, NULL, NULL);
                api_error_clear(&err);
                image_op_free(op);
                return;
        }
        const struct api_VM *v = vm->rec;
        struct api_VDI *rec = model_record_new(&mclass_VDI);
        char label[300];
        snprintf(label, sizeof(label), "Suspend image for %s", v->name_label);
        free(rec->name_label);
        rec->name_label = xstrdup(label);
        free(rec->SR);
        rec->SR = xstrdup(suspend_sr(x, v));
        free(rec->location);
        rec->location = xstrdup(res->vdi->location);
        if (uuid_is_valid(res->vdi->uuid) &&
            db_get_by_uuid(x->db, &mclass_VDI, res->vdi->uuid) == NULL) {
                free(rec->uuid);
                rec->uuid = xstrdup(res->vdi->uuid);
        }
        rec->type = menum_lookup(&menum_vdi_type, "suspend");
        rec->virtual_size = (int64_t)res->vdi->virtual_size;
        rec->physical_utilisation = (int64_t)res->vdi->physical_utilisation;
        rec->managed = true;
        struct db_row *row;
        if (db_insert(x->db, &mclass_VDI, NULL, rec, &row) < 0) {
                model_record_free(&mclass_VDI, rec);
                api_error_set(&err, "INTERNAL_ERROR", "cannot record the suspend image", NULL);
                op->done(op->arg, -EIO, &err, NULL, NULL);
                api_error_clear(&err);
                image_op_free(op);
                return;
        }
        op->vdi_ref = xstrdup(row->ref);
        r = vm_vdi_attach(x, row->ref, op->holder, false, image_attached, op, &err);
        if (r < 0) {
                delete_vdi(x, op->vdi_ref);
                op->done(op->arg, r, &err, NULL, NULL);
                api_error_clear(&err);
                image_op_free(op);
        }
}

int vm_image_create(struct xapi *x, struct db_row *vm, vm_image_fn done, void *arg,
                    struct api_error *err)
{
        const struct api_VM *v = vm->rec;
        const char *sr = suspend_sr(x, v);
        if (sr == NULL)
                return api_error_set(err, "VM_NO_SUSPEND_SR", vm->ref, NULL);
        struct vm_srdesc d;
        if (vm_srdesc_init(x, sr, &d) < 0)
                return api_error_set(err, "SR_HAS_NO_PBDS", sr, NULL);
        struct image_op *op = calloc(1, sizeof(*op));
        if (op == NULL)
                abort();
        op->x = x;
        op->vm_ref = xstrdup(vm->ref);
        op->done = done;
        op->arg = arg;
        holder_of(v, op->holder);
        Ts__Sto__VdiCreate req = TS__STO__VDI_CREATE__INIT;
        req.sr = &d.sr;
        /* the memory image and the device state, rounded up to MiB */
        int64_t size = v->memory_static_max + 16 * MiB;
        req.virtual_size = (uint64_t)((size + MiB - 1) / MiB * MiB);
        req.format = "raw";
        req.type = "suspend";
        char uuid[UUID_STR_LEN];
        uuid_generate_str(uuid);
        req.uuid = uuid;
        int r = x->msg != NULL
                    ? msg_link_request(x->msg, STORD, &req.base, &ts__sto__vdi_result__descriptor,
                                       STORD_TIMEOUT, image_created, op)
                    : -EHOSTUNREACH;
        vm_srdesc_clear(&d);
        if (r < 0) {
                image_op_free(op);
                return api_error_set(err, "SR_BACKEND_FAILURE", "EHOSTUNREACH", "",
                                     "the storage daemon is not connected", NULL);
        }
        return 0;
}

static void deleted(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        const Ts__Sto__VdiResult *res = (const Ts__Sto__VdiResult *)reply;
        if (status < 0 || res->failure != NULL)
                log_warnx("deleting a suspend image: %s",
                          status < 0 ? strerror(-status) : res->failure->code);
}

static void delete_vdi(struct xapi *x, const char *vdi_ref)
{
        struct db_row *row = db_get(x->db, &mclass_VDI, vdi_ref);
        if (row == NULL)
                return;
        const struct api_VDI *v = row->rec;
        struct vm_srdesc d;
        if (x->msg != NULL && vm_srdesc_init(x, v->SR, &d) == 0) {
                Ts__Sto__VdiDelete req = TS__STO__VDI_DELETE__INIT;
                req.sr = &d.sr;
                req.location = v->location;
                if (msg_link_request(x->msg, STORD, &req.base, &ts__sto__vdi_result__descriptor,
                                     STORD_TIMEOUT, deleted, NULL) < 0)
                        log_warnx("cannot ask stord to delete %s", vdi_ref);
                vm_srdesc_clear(&d);
        }
        db_delete(x->db, row);
}

void vm_image_written(struct xapi *x, struct db_row *vm, const char *vdi_ref, bool ok)
{
        char holder[64];
        holder_of(vm->rec, holder);
        vm_vdi_detach(x, vdi_ref, holder);
        if (ok)
                db_set(x->db, vm, API_VM_F_suspend_VDI, &vdi_ref);
        else
                delete_vdi(x, vdi_ref);
}

struct open_op {
        vm_image_fn done;
        void *arg;
        char *vdi_ref;
};

static void image_opened(void *arg, int r, struct api_error *err, const char *path)
{
        struct open_op *o = arg;
        o->done(o->arg, r, err, path, o->vdi_ref);
        free(o->vdi_ref);
        free(o);
}

int vm_image_open(struct xapi *x, struct db_row *vm, vm_image_fn done, void *arg,
                  struct api_error *err)
{
        const struct api_VM *v = vm->rec;
        if (db_get(x->db, &mclass_VDI, v->suspend_VDI) == NULL)
                return api_error_set(err, "VM_HAS_NO_SUSPEND_VDI", vm->ref, NULL);
        char holder[64];
        holder_of(v, holder);
        struct open_op *o = calloc(1, sizeof(*o));
        if (o == NULL)
                abort();
        o->done = done;
        o->arg = arg;
        o->vdi_ref = xstrdup(v->suspend_VDI);
        int r = vm_vdi_attach(x, v->suspend_VDI, holder, true, image_opened, o, err);
        if (r < 0) {
                free(o->vdi_ref);
                free(o);
        }
        return r;
}

void vm_image_close(struct xapi *x, struct db_row *vm)
{
        char holder[64];
        holder_of(vm->rec, holder);
        vm_vdi_detach(x, ((struct api_VM *)vm->rec)->suspend_VDI, holder);
}

void vm_image_destroy(struct xapi *x, struct db_row *vm)
{
        const struct api_VM *v = vm->rec;
        char *ref = xstrdup(v->suspend_VDI);
        if (db_get(x->db, &mclass_VDI, ref) != NULL) {
                vm_image_close(x, vm);
                delete_vdi(x, ref);
        }
        const char *null_ref = NULL_REF;
        db_set(x->db, vm, API_VM_F_suspend_VDI, &null_ref);
        free(ref);
}
