/* VM disks through stord (see vm_attach.h). */
#include "xapid/vm_attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/storage_attach.pb-c.h"
#include "xapid/db.h"
#include "xapid/xapi.h"

LOG_MODULE(vm_attach)

#define STORD         "stord"
#define STORD_TIMEOUT 120000

void vm_disk_set_free(struct vm_disk_set *s)
{
        if (s == NULL)
                return;
        for (size_t i = 0; i < s->n; i++) {
                Ts__Dom__Disk *d = s->disks[i];
                free(d->vdev);
                free(d->path);
                free(d->format);
                free(d->vbd_uuid);
                free(d);
        }
        free(s->disks);
        free(s);
}

static char *xstrdup(const char *s)
{
        char *d = strdup(s != NULL ? s : "");
        if (d == NULL)
                abort();
        return d;
}

#define srd vm_srdesc

static int srd_init_sr(struct xapi *x, const char *sr_ref, struct srd *d)
{
        memset(d, 0, sizeof(*d));
        struct db_row *srrow = db_get(x->db, &mclass_SR, sr_ref);
        if (srrow == NULL)
                return -ENOENT;
        const struct api_SR *sr = srrow->rec;
        const struct api_PBD *pbd = NULL;
        for (size_t i = 0; i < sr->PBDs.n && pbd == NULL; i++) {
                struct db_row *p = db_get(x->db, &mclass_PBD, sr->PBDs.v[i].s);
                if (p != NULL && strcmp(((struct api_PBD *)p->rec)->host, x->host_ref) == 0)
                        pbd = p->rec;
        }
        if (pbd == NULL)
                return -ENODEV;
        ts__sto__sr__init(&d->sr);
        d->sr.type = sr->type;
        d->sr.uuid = sr->uuid;
        size_t n = pbd->device_config.n;
        d->kv = calloc(n + 1, sizeof(*d->kv));
        d->kvp = calloc(n + 1, sizeof(*d->kvp));
        if (d->kv == NULL || d->kvp == NULL)
                abort();
        for (size_t i = 0; i < n; i++) {
                ts__peer__key_value__init(&d->kv[i]);
                d->kv[i].key = pbd->device_config.k[i].s;
                d->kv[i].value = pbd->device_config.v[i].s;
                d->kvp[i] = &d->kv[i];
        }
        d->sr.device_config = d->kvp;
        d->sr.n_device_config = n;
        return 0;
}

static int srd_init(struct xapi *x, const struct api_VDI *vdi, struct srd *d)
{
        return srd_init_sr(x, vdi->SR, d);
}

static void srd_clear(struct srd *d)
{
        free(d->kv);
        free(d->kvp);
}

/* XAPI's device names: userdevice N is xvd<a+N> for PV guests, hd<a+N> for HVM ones. */
static void device_name(const struct api_VM *vm, const struct api_VBD *vbd, char out[16])
{
        if (vbd->device[0] != '\0') {
                snprintf(out, 16, "%.15s", vbd->device);
                return;
        }
        int n = atoi(vbd->userdevice);
        bool hvm = vm->HVM_boot_policy[0] != '\0' ||
                   strcmp(menum_domain_type.values[vm->domain_type], "hvm") == 0;
        snprintf(out, 16, "%s%c", hvm ? "hd" : "xvd", 'a' + (n >= 0 && n < 26 ? n : 0));
}

struct attach_op {
        struct xapi *x;
        vm_attach_fn done;
        void *arg;
        struct vm_disk_set *set;
        size_t outstanding;
        int r;
        struct api_error err;
};

struct one {
        struct attach_op *op;
        Ts__Dom__Disk *disk;
};

static void attach_finish(struct attach_op *op)
{
        if (op->done == NULL) { /* the caller had an error at once */
                vm_disk_set_free(op->set);
        } else if (op->r < 0) {
                vm_disk_set_free(op->set);
                op->done(op->arg, op->r, &op->err, NULL);
        } else {
                op->done(op->arg, 0, &op->err, op->set);
        }
        api_error_clear(&op->err);
        free(op);
}

static void attached(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct one *o = arg;
        struct attach_op *op = o->op;
        const Ts__Sto__VdiAttached *rep = (const Ts__Sto__VdiAttached *)reply;
        if (op->r == 0) {
                if (status < 0) {
                        op->r = status;
                        api_error_set(&op->err, "SR_BACKEND_FAILURE", "EIO", "",
                                      errtext && errtext[0] ? errtext : strerror(-status), NULL);
                } else if (rep->failure != NULL) {
                        op->r = rep->failure->errnum > 0 ? -rep->failure->errnum : -EIO;
                        api_error_setv(&op->err, rep->failure->code,
                                       (const char *const *)rep->failure->params,
                                       rep->failure->n_params);
                } else {
                        /* replace the "" placeholders set when the requests were sent */
                        free(o->disk->path);
                        free(o->disk->format);
                        o->disk->path = xstrdup(rep->path);
                        o->disk->format = xstrdup(rep->format);
                }
        }
        free(o);
        if (--op->outstanding == 0)
                attach_finish(op);
}

int vm_attach_attach(struct xapi *x, struct db_row *vmrow, const char *only_vbd, vm_attach_fn done,
                     void *arg, struct api_error *err)
{
        const struct api_VM *vm = vmrow->rec;
        struct attach_op *op = calloc(1, sizeof(*op));
        if (op == NULL)
                abort();
        op->x = x;
        op->done = done;
        op->arg = arg;
        op->set = calloc(1, sizeof(*op->set));
        op->set->disks = calloc(vm->VBDs.n + 1, sizeof(*op->set->disks));
        if (op->set == NULL || op->set->disks == NULL)
                abort();
        int r = 0;
        for (size_t i = 0; i < vm->VBDs.n && r == 0; i++) {
                struct db_row *vr = db_get(x->db, &mclass_VBD, vm->VBDs.v[i].s);
                if (vr == NULL || (only_vbd != NULL && strcmp(vr->ref, only_vbd) != 0))
                        continue;
                struct api_VBD *vbd = vr->rec;
                struct db_row *dr = vbd->empty ? NULL : db_get(x->db, &mclass_VDI, vbd->VDI);
                if (dr == NULL)
                        continue;
                const struct api_VDI *vdi = dr->rec;
                char dev[16];
                device_name(vm, vbd, dev);
                if (strcmp(vbd->device, dev) != 0) {
                        const char *d = dev;
                        db_set(x->db, vr, API_VBD_F_device, &d);
                }
                struct srd sd;
                if (srd_init(x, vdi, &sd) < 0) {
                        r = api_error_set(err, "SR_HAS_NO_PBDS", vdi->SR, NULL);
                        break;
                }
                bool cd = vbd->type == API_VBD_TYPE_CD;
                bool ro = cd || vbd->mode == API_VBD_MODE_RO;
                Ts__Sto__VdiAttach req = TS__STO__VDI_ATTACH__INIT;
                req.sr = &sd.sr;
                req.location = vdi->location;
                req.vdi = dr->ref;
                req.holder = vbd->uuid;
                req.read_only = ro;
                req.vdi_read_only = vdi->read_only;
                req.sharable = vdi->sharable;
                Ts__Dom__Disk *d = calloc(1, sizeof(*d));
                struct one *o = calloc(1, sizeof(*o));
                if (d == NULL || o == NULL)
                        abort();
                ts__dom__disk__init(d);
                d->vdev = xstrdup(dev);
                d->read_only = ro;
                d->cdrom = cd;
                d->vbd_uuid = xstrdup(vbd->uuid);
                d->path = NULL;
                d->format = NULL;
                op->set->disks[op->set->n++] = d;
                o->op = op;
                o->disk = d;
                int e = x->msg != NULL ? msg_link_request(x->msg, STORD, &req.base,
                                                          &ts__sto__vdi_attached__descriptor,
                                                          STORD_TIMEOUT, attached, o)
                                       : -EHOSTUNREACH;
                srd_clear(&sd);
                if (e < 0) {
                        free(o);
                        r = api_error_set(err, "SR_BACKEND_FAILURE", "EHOSTUNREACH", "",
                                          "the storage daemon is not connected", NULL);
                        break;
                }
                op->outstanding++;
        }
        /* the disks' strings must not be NULL when packed */
        for (size_t i = 0; i < op->set->n; i++) {
                if (op->set->disks[i]->path == NULL)
                        op->set->disks[i]->path = xstrdup("");
                if (op->set->disks[i]->format == NULL)
                        op->set->disks[i]->format = xstrdup("");
        }
        if (op->outstanding == 0) {
                vm_disk_set_free(op->set);
                free(op);
                return r < 0 ? r : 1;
        }
        if (r < 0) {
                /* the ones sent complete later; their result is then dropped */
                op->r = r;
                api_error_setv(&op->err, err->code, (const char *const *)err->params,
                               err->n_params);
                op->done = NULL;
        }
        return r < 0 ? r : 0;
}

static void detached(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        const Ts__Sto__VdiDetached *rep = (const Ts__Sto__VdiDetached *)reply;
        if (status < 0 || rep->failure != NULL)
                log_warnx("detaching a VDI: %s",
                          status < 0 ? strerror(-status) : rep->failure->code);
}

void vm_attach_detach(struct xapi *x, struct db_row *vmrow, const char *only_vbd,
                      bool attached_only)
{
        const struct api_VM *vm = vmrow->rec;
        for (size_t i = 0; i < vm->VBDs.n; i++) {
                struct db_row *vr = db_get(x->db, &mclass_VBD, vm->VBDs.v[i].s);
                if (vr == NULL || (only_vbd != NULL && strcmp(vr->ref, only_vbd) != 0))
                        continue;
                struct api_VBD *vbd = vr->rec;
                struct db_row *dr = vbd->empty ? NULL : db_get(x->db, &mclass_VDI, vbd->VDI);
                if (dr == NULL || (attached_only && !vbd->currently_attached) || x->msg == NULL)
                        continue;
                struct srd sd;
                if (srd_init(x, dr->rec, &sd) < 0)
                        continue;
                Ts__Sto__VdiDetach req = TS__STO__VDI_DETACH__INIT;
                req.sr = &sd.sr;
                req.location = ((struct api_VDI *)dr->rec)->location;
                req.holder = vbd->uuid;
                if (msg_link_request(x->msg, STORD, &req.base, &ts__sto__vdi_detached__descriptor,
                                     STORD_TIMEOUT, detached, NULL) < 0)
                        log_warnx("cannot ask stord to detach VDI %s", dr->ref);
                srd_clear(&sd);
        }
}

int vm_srdesc_init(struct xapi *x, const char *sr_ref, struct vm_srdesc *d)
{
        return srd_init_sr(x, sr_ref, d);
}

void vm_srdesc_clear(struct vm_srdesc *d)
{
        srd_clear(d);
}

/* ---- one VDI for xapid itself (suspend images) --------------------------------------------- */

struct one_vdi {
        void (*done)(void *arg, int r, struct api_error *err, const char *path);
        void *arg;
};

static void one_attached(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct one_vdi *o = arg;
        const Ts__Sto__VdiAttached *rep = (const Ts__Sto__VdiAttached *)reply;
        struct api_error err = {0};
        int r = 0;
        if (status < 0) {
                r = status;
                api_error_set(&err, "SR_BACKEND_FAILURE", "EIO", "",
                              errtext && errtext[0] ? errtext : strerror(-status), NULL);
        } else if (rep->failure != NULL) {
                r = rep->failure->errnum > 0 ? -rep->failure->errnum : -EIO;
                api_error_setv(&err, rep->failure->code, (const char *const *)rep->failure->params,
                               rep->failure->n_params);
        }
        o->done(o->arg, r, &err, r == 0 ? rep->path : NULL);
        api_error_clear(&err);
        free(o);
}

int vm_vdi_attach(struct xapi *x, const char *vdi_ref, const char *holder, bool read_only,
                  void (*done)(void *arg, int r, struct api_error *err, const char *path),
                  void *arg, struct api_error *err)
{
        struct db_row *dr = db_get(x->db, &mclass_VDI, vdi_ref);
        if (dr == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VDI", vdi_ref, NULL);
        const struct api_VDI *vdi = dr->rec;
        struct srd sd;
        if (srd_init(x, vdi, &sd) < 0)
                return api_error_set(err, "SR_HAS_NO_PBDS", vdi->SR, NULL);
        Ts__Sto__VdiAttach req = TS__STO__VDI_ATTACH__INIT;
        req.sr = &sd.sr;
        req.location = vdi->location;
        req.vdi = dr->ref;
        req.holder = (char *)holder;
        req.read_only = read_only;
        struct one_vdi *o = calloc(1, sizeof(*o));
        if (o == NULL)
                abort();
        o->done = done;
        o->arg = arg;
        int r = x->msg != NULL
                    ? msg_link_request(x->msg, STORD, &req.base, &ts__sto__vdi_attached__descriptor,
                                       STORD_TIMEOUT, one_attached, o)
                    : -EHOSTUNREACH;
        srd_clear(&sd);
        if (r < 0) {
                free(o);
                return api_error_set(err, "SR_BACKEND_FAILURE", "EHOSTUNREACH", "",
                                     "the storage daemon is not connected", NULL);
        }
        return 0;
}

void vm_vdi_detach(struct xapi *x, const char *vdi_ref, const char *holder)
{
        struct db_row *dr = db_get(x->db, &mclass_VDI, vdi_ref);
        struct srd sd;
        if (dr == NULL || x->msg == NULL || srd_init(x, dr->rec, &sd) < 0)
                return;
        Ts__Sto__VdiDetach req = TS__STO__VDI_DETACH__INIT;
        req.sr = &sd.sr;
        req.location = ((struct api_VDI *)dr->rec)->location;
        req.holder = (char *)holder;
        if (msg_link_request(x->msg, STORD, &req.base, &ts__sto__vdi_detached__descriptor,
                             STORD_TIMEOUT, detached, NULL) < 0)
                log_warnx("cannot ask stord to detach VDI %s", vdi_ref);
        srd_clear(&sd);
}
