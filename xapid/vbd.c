/* VBD.create / destroy and the removable-media calls VBD.insert / eject, with XAPI's checks.
 * The bound fields (VM.VBDs, VDI.VBDs) follow through the datamodel.  Media changes of a
 * running VM need its domain supervisor: vbd_media_change_running() (a weak default here,
 * overridden by the VM lifecycle code when it links in). */
#include <ctype.h>
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
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/storage_ops.h"
#include "xapid/vbd.h"
#include "xapid/vm_util.h"

LOG_MODULE(vbd)

#define MAX_DEVICES 255

__attribute__((weak)) int vbd_media_change_running(struct api_ctx *ctx, struct db_row *vbd,
                                                   const char *vdi_ref, struct api_error *err)
{
        return api_error_set(err, "OPERATION_NOT_ALLOWED",
                             "changing the media of a running VM needs its domain supervisor",
                             NULL);
}

/* The device number a userdevice names ("3", "xvdd", "hdd", "sdd"), or -1. */
int vbd_device_number(const char *s)
{
        if (s[0] == '\0')
                return -1;
        if (isdigit((unsigned char)s[0])) {
                char *end;
                long n = strtol(s, &end, 10);
                return *end == '\0' && n >= 0 && n < MAX_DEVICES ? (int)n : -1;
        }
        const char *p = strncmp(s, "xvd", 3) == 0                     ? s + 3
                        : (s[0] == 'h' || s[0] == 's') && s[1] == 'd' ? s + 2
                                                                      : NULL;
        if (p == NULL || *p == '\0')
                return -1;
        int n = 0;
        for (; *p != '\0'; p++) {
                if (*p < 'a' || *p > 'z')
                        return -1;
                n = n * 26 + (*p - 'a' + 1);
                if (n > MAX_DEVICES)
                        return -1;
        }
        return n - 1;
}

/* The VBD of VM using device number DEV, or NULL. */
struct db_row *vbd_on_device(struct db *db, const struct api_VM *vm, int dev)
{
        for (size_t i = 0; i < vm->VBDs.n; i++) {
                struct db_row *v = db_get(db, &mclass_VBD, vm->VBDs.v[i].s);
                if (v != NULL && vbd_device_number(((struct api_VBD *)v->rec)->userdevice) == dev)
                        return v;
        }
        return NULL;
}

/* VBD.create(session, VBD record) -> VBD ref */
int h_VBD_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        void *v;
        int r = model_record_read(&mclass_VBD, params[1], &v, err);
        if (r < 0)
                return r;
        struct api_VBD *vbd = v;
        struct db_row *vm = db_get(ctx->db, &mclass_VM, vbd->VM);
        struct db_row *vdi = NULL;
        if (vm == NULL) {
                r = api_error_set(err, "HANDLE_INVALID", "VM", vbd->VM, NULL);
                goto fail;
        }
        if (!vbd->empty) {
                vdi = db_get(ctx->db, &mclass_VDI, vbd->VDI);
                if (vdi == NULL) {
                        r = api_error_set(err, "HANDLE_INVALID", "VDI", vbd->VDI, NULL);
                        goto fail;
                }
        } else {
                vmu_set_str(&vbd->VDI, VMU_NULL_REF);
        }
        if (vbd->type == API_VBD_TYPE_CD && vbd->mode != API_VBD_MODE_RO) {
                r = api_error_set(err, "VBD_CDS_MUST_BE_READONLY", NULL);
                goto fail;
        }
        if (vbd->type != API_VBD_TYPE_CD && vbd->empty) {
                r = api_error_set(err, "VBD_NOT_REMOVABLE_MEDIA", "in constructor", NULL);
                goto fail;
        }
        if (vdi != NULL && vbd->mode == API_VBD_MODE_RW &&
            ((struct api_VDI *)vdi->rec)->read_only) {
                r = api_error_set(err, "VDI_READONLY", vdi->ref, NULL);
                goto fail;
        }
        const struct api_VM *vmr = vm->rec;
        if (strcmp(vbd->userdevice, "autodetect") == 0) {
                int dev = 0;
                while (dev < MAX_DEVICES && vbd_on_device(ctx->db, vmr, dev) != NULL)
                        dev++;
                if (dev == MAX_DEVICES) {
                        r = api_error_set(err, "INVALID_DEVICE", "autodetect", NULL);
                        goto fail;
                }
                char d[8];
                snprintf(d, sizeof(d), "%d", dev);
                vmu_set_str(&vbd->userdevice, d);
        }
        int dev = vbd_device_number(vbd->userdevice);
        if (dev < 0) {
                r = api_error_set(err, "INVALID_DEVICE", vbd->userdevice, NULL);
                goto fail;
        }
        if (vbd_on_device(ctx->db, vmr, dev) != NULL) {
                r = api_error_set(err, "DEVICE_ALREADY_EXISTS", vbd->userdevice, NULL);
                goto fail;
        }
        vmu_set_str(&vbd->uuid, "");
        vmu_set_str(&vbd->metrics, vmu_new_vbd_metrics(ctx->db));
        struct db_row *row;
        r = db_insert(ctx->db, &mclass_VBD, NULL, vbd, &row);
        if (r < 0) {
                r = api_error_set(err, "DB_UNIQUENESS_CONSTRAINT_VIOLATION", "VBD", "uuid", "",
                                  NULL);
                goto fail;
        }
        if (vdi != NULL)
                storage_vdi_update_allowed(ctx->db, vdi);
        rpcw_string(w, row->ref);
        return 0;
fail:
        model_record_free(&mclass_VBD, vbd);
        return r;
}

/* VBD.destroy(session, self) */
int h_VBD_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VBD, params[1], err);
        if (row == NULL)
                return -ENOENT;
        const struct api_VBD *vbd = row->rec;
        struct db_row *vm = db_get(ctx->db, &mclass_VM, vbd->VM);
        if (vbd->currently_attached && vm != NULL &&
            ((struct api_VM *)vm->rec)->power_state != API_VM_POWER_STATE_HALTED) {
                char why[256];
                snprintf(why, sizeof(why), "VBD '%s' still attached to '%s'", vbd->uuid,
                         ((struct api_VM *)vm->rec)->uuid);
                return api_error_set(err, "OPERATION_NOT_ALLOWED", why, NULL);
        }
        struct db_row *vdi = db_get(ctx->db, &mclass_VDI, vbd->VDI);
        vmu_destroy_vbd(ctx->db, row);
        if (vdi != NULL)
                storage_vdi_update_allowed(ctx->db, vdi);
        return 0;
}

static bool vm_is_live(struct db *db, const struct api_VBD *vbd)
{
        struct db_row *vm = db_get(db, &mclass_VM, vbd->VM);
        int ps = vm != NULL ? ((struct api_VM *)vm->rec)->power_state : API_VM_POWER_STATE_HALTED;
        return ps == API_VM_POWER_STATE_RUNNING || ps == API_VM_POWER_STATE_PAUSED;
}

/* VBD.insert(session, vbd, vdi) */
int h_VBD_insert(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VBD, params[1], err);
        if (row == NULL)
                return -ENOENT;
        struct db_row *vdi = vmu_param(ctx, &mclass_VDI, params[2], err);
        if (vdi == NULL)
                return -ENOENT;
        struct api_VBD *vbd = row->rec;
        if (vbd->type != API_VBD_TYPE_CD && vbd->type != API_VBD_TYPE_FLOPPY)
                return api_error_set(err, "VBD_NOT_REMOVABLE_MEDIA", row->ref, NULL);
        if (!vbd->empty)
                return api_error_set(err, "VBD_NOT_EMPTY", row->ref, NULL);
        if (vm_is_live(ctx->db, vbd))
                return vbd_media_change_running(ctx, row, vdi->ref, err);
        db_set(ctx->db, row, API_VBD_F_VDI, &vdi->ref);
        vbd->empty = false;
        db_touch(ctx->db, row);
        return 0;
}

/* VBD.eject(session, vbd) */
int h_VBD_eject(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VBD, params[1], err);
        if (row == NULL)
                return -ENOENT;
        struct api_VBD *vbd = row->rec;
        if (vbd->type != API_VBD_TYPE_CD && vbd->type != API_VBD_TYPE_FLOPPY)
                return api_error_set(err, "VBD_NOT_REMOVABLE_MEDIA", row->ref, NULL);
        if (vbd->empty)
                return api_error_set(err, "VBD_IS_EMPTY", row->ref, NULL);
        if (vm_is_live(ctx->db, vbd))
                return vbd_media_change_running(ctx, row, NULL, err);
        const char *null = VMU_NULL_REF;
        db_set(ctx->db, row, API_VBD_F_VDI, &null);
        vbd->empty = true;
        db_touch(ctx->db, row);
        return 0;
}

/* VM.get_allowed_VBD_devices(session, vm) -> the free userdevices: 0..254 (XAPI's range for
 * PV and HVM guests alike; 0..255 for the control domain) minus those its VBDs use. */
int h_VM_get_allowed_VBD_devices(struct api_ctx *ctx, const struct rpc_value *const *params,
                                 size_t n, struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VM, params[1], err);
        if (row == NULL)
                return -ENOENT;
        const struct api_VM *vm = row->rec;
        bool used[MAX_DEVICES + 1] = {false};
        for (size_t i = 0; i < vm->VBDs.n; i++) {
                struct db_row *v = db_get(ctx->db, &mclass_VBD, vm->VBDs.v[i].s);
                int dev =
                    v != NULL ? vbd_device_number(((struct api_VBD *)v->rec)->userdevice) : -1;
                if (dev >= 0)
                        used[dev] = true;
        }
        int last = vm->is_control_domain ? MAX_DEVICES : MAX_DEVICES - 1;
        rpcw_array_begin(w);
        for (int d = 0; d <= last; d++) {
                if (used[d])
                        continue;
                char s[8];
                snprintf(s, sizeof(s), "%d", d);
                rpcw_string(w, s);
        }
        rpcw_array_end(w);
        return 0;
}
