/* Changes to a running VM's devices and resources: VBD.plug/unplug (the VDI attached
 * through stord first), VIF.plug/unplug (then net_apply bridges the new port),
 * VM.set_memory_dynamic_range and VM.set_VCPUs_number_live, each through the VM's domd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/dom.pb-c.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/net.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/vm_checks.h"
#include "xapid/vm_attach.h"
#include "xapid/vm_lifecycle.h"
#include "xapid/xapi.h"

LOG_MODULE(vm_devices)

enum dev_kind { D_VBD_PLUG, D_VBD_UNPLUG, D_VIF_PLUG, D_VIF_UNPLUG, D_MEMORY, D_VCPUS };

struct devop {
        struct xapi *x;
        struct rpc_req *req;
        enum dev_kind kind;
        char *dev_ref; /* the VBD or VIF; the VM for D_MEMORY / D_VCPUS */
        char *vm_ref;
        int64_t a, b; /* memory min/max, vcpus */
};

static char *xstrdup(const char *s)
{
        char *d = strdup(s != NULL ? s : "");
        if (d == NULL)
                abort();
        return d;
}

static void devop_free(struct devop *op)
{
        free(op->dev_ref);
        free(op->vm_ref);
        free(op);
}

static void devop_cancel(void *arg)
{
        struct devop *op = arg;
        op->req = NULL;
}

static void committed(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store a device change: %s", strerror(-result));
}

static void finish(struct devop *op, int r, struct api_error *err)
{
        if (op->req != NULL) {
                rpc_resume(op->req, r, err);
        } else if (op->x->commit != NULL) {
                op->x->commit(op->x->commit_ctx, committed, NULL);
        }
        api_error_clear(err);
        devop_free(op);
}

static void set_attached(struct xapi *x, const struct mclass *c, const char *ref, int field,
                         bool on)
{
        struct db_row *row = db_get(x->db, c, ref);
        if (row == NULL)
                return;
        bool *slot = model_slot(row->rec, &c->fields[field]);
        if (*slot != on) {
                *slot = on;
                db_touch(x->db, row);
        }
}

/* The domd's answer. */
static void replied(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct devop *op = arg;
        struct xapi *x = op->x;
        struct api_error err = {0};
        const Ts__Dom__Status *st = (const Ts__Dom__Status *)reply;
        if (status < 0) {
                api_error_set(&err, "INTERNAL_ERROR",
                              errtext && errtext[0] ? errtext : strerror(-status), NULL);
                finish(op, status, &err);
                return;
        }
        if (st->failure != NULL) {
                const char *ps[API_ERROR_MAX_PARAMS];
                size_t n = 0;
                for (size_t i = 0; i < st->failure->n_params && n < API_ERROR_MAX_PARAMS; i++) {
                        /* domd names devices by their vdev/devid; clients expect the ref */
                        bool dev = strcmp(st->failure->code, "DEVICE_ALREADY_ATTACHED") == 0 ||
                                   strcmp(st->failure->code, "DEVICE_ALREADY_DETACHED") == 0;
                        ps[n++] = dev && i == 0 ? op->dev_ref : st->failure->params[i];
                }
                api_error_setv(&err, st->failure->code, ps, n);
                if (op->kind == D_VBD_PLUG) {
                        struct db_row *vm = db_get(x->db, &mclass_VM, op->vm_ref);
                        if (vm != NULL)
                                vm_attach_detach(x, vm, op->dev_ref, false);
                }
                finish(op, st->failure->errnum > 0 ? -st->failure->errnum : -EIO, &err);
                return;
        }
        struct db_row *vm = db_get(x->db, &mclass_VM, op->vm_ref);
        switch (op->kind) {
        case D_VBD_PLUG:
                set_attached(x, &mclass_VBD, op->dev_ref, API_VBD_F_currently_attached, true);
                break;
        case D_VBD_UNPLUG:
                if (vm != NULL)
                        vm_attach_detach(x, vm, op->dev_ref, true);
                set_attached(x, &mclass_VBD, op->dev_ref, API_VBD_F_currently_attached, false);
                break;
        case D_VIF_PLUG:
        case D_VIF_UNPLUG:
                set_attached(x, &mclass_VIF, op->dev_ref, API_VIF_F_currently_attached,
                             op->kind == D_VIF_PLUG);
                net_apply(x, NULL, NULL); /* the bridge gains or loses the port */
                break;
        case D_MEMORY:
        case D_VCPUS:
                if (vm != NULL) {
                        struct api_VM *r = vm->rec;
                        struct db_row *m = db_get(x->db, &mclass_VM_metrics, r->metrics);
                        if (m != NULL) {
                                struct api_VM_metrics *mr = m->rec;
                                mr->memory_actual = (int64_t)st->memory_actual;
                                mr->VCPUs_number = st->vcpus_online;
                                db_touch(x->db, m);
                        }
                }
                break;
        }
        finish(op, 0, &err);
}

static struct devop *devop_new(struct api_ctx *ctx, enum dev_kind kind, const char *dev_ref,
                               const char *vm_ref)
{
        struct devop *op = calloc(1, sizeof(*op));
        if (op == NULL)
                abort();
        op->x = rpc_req_xapi(ctx->user);
        op->kind = kind;
        op->dev_ref = xstrdup(dev_ref);
        op->vm_ref = xstrdup(vm_ref);
        return op;
}

/* Sends BODY for OP and defers the call. */
static int send(struct api_ctx *ctx, struct devop *op, const char *vm_uuid,
                const ProtobufCMessage *body, struct api_error *err)
{
        int r = vms_domd_request(op->x, vm_uuid, body, replied, op);
        if (r < 0) {
                devop_free(op);
                return api_error_set(err, "INTERNAL_ERROR", "the VM's domd is not connected", NULL);
        }
        op->req = rpc_defer(ctx);
        rpc_on_cancel(op->req, devop_cancel, op);
        return 0;
}

static const char *str_param(const struct rpc_value *v)
{
        return v->type == RPC_STRING ? v->u.str.s : "";
}

static struct db_row *running_vm(struct api_ctx *ctx, const char *vm_ref, struct api_error *err)
{
        struct db_row *vm = db_get(ctx->db, &mclass_VM, vm_ref);
        if (vm == NULL) {
                api_error_set(err, "HANDLE_INVALID", "VM", vm_ref, NULL);
                return NULL;
        }
        const struct api_VM *r = vm->rec;
        if (r->power_state != API_VM_POWER_STATE_RUNNING) {
                static const char *const names[] = {"halted", "paused", "running", "suspended"};
                api_error_set(err, "VM_BAD_POWER_STATE", vm_ref, "running", names[r->power_state],
                              NULL);
                return NULL;
        }
        return vm;
}

/* ---- VBDs ---------------------------------------------------------------------------------- */

static void vbd_attached(void *arg, int r, struct api_error *err, struct vm_disk_set *set)
{
        struct devop *op = arg;
        if (r < 0) {
                finish(op, r, err);
                return;
        }
        struct db_row *vm = db_get(op->x->db, &mclass_VM, op->vm_ref);
        if (vm == NULL || set->n != 1) {
                vm_disk_set_free(set);
                struct api_error e = {0};
                api_error_set(&e, "HANDLE_INVALID", "VM", op->vm_ref, NULL);
                finish(op, -ENOENT, &e);
                return;
        }
        Ts__Dom__DiskPlug m = TS__DOM__DISK_PLUG__INIT;
        m.disk = set->disks[0];
        int e = vms_domd_request(op->x, ((struct api_VM *)vm->rec)->uuid, &m.base, replied, op);
        vm_disk_set_free(set);
        if (e < 0) {
                struct api_error er = {0};
                vm_attach_detach(op->x, vm, op->dev_ref, false);
                api_error_set(&er, "INTERNAL_ERROR", "the VM's domd is not connected", NULL);
                finish(op, e, &er);
        }
}

int h_VBD_plug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        const char *ref = str_param(params[1]);
        struct db_row *row = db_get(ctx->db, &mclass_VBD, ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VBD", ref, NULL);
        const struct api_VBD *vbd = row->rec;
        struct db_row *vm = running_vm(ctx, vbd->VM, err);
        if (vm == NULL)
                return -EINVAL;
        if (vbd->currently_attached)
                return api_error_set(err, "DEVICE_ALREADY_ATTACHED", ref, NULL);
        struct devop *op = devop_new(ctx, D_VBD_PLUG, ref, vm->ref);
        int r = vm_attach_attach(op->x, vm, ref, vbd_attached, op, err);
        if (r < 0) {
                devop_free(op);
                return r;
        }
        if (r == 1) { /* an empty drive: nothing to plug */
                devop_free(op);
                return api_error_set(err, "VBD_IS_EMPTY", ref, NULL);
        }
        op->req = rpc_defer(ctx);
        rpc_on_cancel(op->req, devop_cancel, op);
        return 0;
}

int h_VBD_unplug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        const char *ref = str_param(params[1]);
        struct db_row *row = db_get(ctx->db, &mclass_VBD, ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VBD", ref, NULL);
        const struct api_VBD *vbd = row->rec;
        struct db_row *vm = running_vm(ctx, vbd->VM, err);
        if (vm == NULL)
                return -EINVAL;
        if (!vbd->currently_attached)
                return api_error_set(err, "DEVICE_ALREADY_DETACHED", ref, NULL);
        if (!vbd->unpluggable)
                return api_error_set(err, "VBD_NOT_UNPLUGGABLE", ref, NULL);
        Ts__Dom__DiskUnplug m = TS__DOM__DISK_UNPLUG__INIT;
        m.vdev = vbd->device;
        struct devop *op = devop_new(ctx, D_VBD_UNPLUG, ref, vm->ref);
        return send(ctx, op, ((struct api_VM *)vm->rec)->uuid, &m.base, err);
}

/* ---- VIFs ---------------------------------------------------------------------------------- */

static int vif_change(struct api_ctx *ctx, const struct rpc_value *v, bool plug,
                      struct api_error *err)
{
        const char *ref = str_param(v);
        struct db_row *row = db_get(ctx->db, &mclass_VIF, ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VIF", ref, NULL);
        const struct api_VIF *vif = row->rec;
        struct db_row *vm = running_vm(ctx, vif->VM, err);
        if (vm == NULL)
                return -EINVAL;
        if (plug && vif->currently_attached)
                return api_error_set(err, "DEVICE_ALREADY_ATTACHED", ref, NULL);
        if (!plug && !vif->currently_attached)
                return api_error_set(err, "DEVICE_ALREADY_DETACHED", ref, NULL);
        struct devop *op = devop_new(ctx, plug ? D_VIF_PLUG : D_VIF_UNPLUG, ref, vm->ref);
        const char *uuid = ((struct api_VM *)vm->rec)->uuid;
        if (!plug) {
                Ts__Dom__NicUnplug m = TS__DOM__NIC_UNPLUG__INIT;
                m.devid = (uint32_t)atoi(vif->device);
                return send(ctx, op, uuid, &m.base, err);
        }
        struct db_row *net = db_get(ctx->db, &mclass_network, vif->network);
        Ts__Dom__Nic nic = TS__DOM__NIC__INIT;
        nic.devid = (uint32_t)atoi(vif->device);
        nic.mac = vif->MAC;
        nic.bridge = net != NULL ? ((struct api_network *)net->rec)->bridge : "";
        nic.mtu = vif->MTU > 0 ? (uint32_t)vif->MTU : 0;
        nic.vif_uuid = vif->uuid;
        Ts__Dom__NicPlug m = TS__DOM__NIC_PLUG__INIT;
        m.nic = &nic;
        return send(ctx, op, uuid, &m.base, err);
}

int h_VIF_plug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        return vif_change(ctx, params[1], true, err);
}

int h_VIF_unplug(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return vif_change(ctx, params[1], false, err);
}

/* ---- memory and vCPUs ---------------------------------------------------------------------- */

static int int_param(const struct rpc_value *v, const char *name, int64_t *out,
                     struct api_error *err)
{
        int64_t i = 0;
        int r = model_slot_read(mclass_VM.fields[API_VM_F_VCPUs_max].type, v, &i, name, err);
        *out = i;
        return r;
}

int h_VM_set_memory_dynamic_range(struct api_ctx *ctx, const struct rpc_value *const *params,
                                  size_t n, struct rpc_writer *w, struct api_error *err)
{
        const char *ref = str_param(params[1]);
        struct db_row *vm = db_get(ctx->db, &mclass_VM, ref);
        if (vm == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VM", ref, NULL);
        int64_t min = 0, max = 0;
        int r = int_param(params[2], "min", &min, err);
        if (r == 0)
                r = int_param(params[3], "max", &max, err);
        if (r < 0)
                return r;
        struct api_VM *rec = vm->rec;
        r = vm_check_op(ref, rec, API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE, err);
        if (r < 0)
                return r;
        /* XAPI's constraint: static_min <= dynamic_min <= dynamic_max <= static_max */
        if (!(rec->memory_static_min <= min && min <= max && max <= rec->memory_static_max))
                return api_error_set(err, "MEMORY_CONSTRAINT_VIOLATION",
                                     "Memory limits must satisfy: static_min <= dynamic_min <= "
                                     "dynamic_max <= static_max",
                                     NULL);
        rec->memory_dynamic_min = min;
        rec->memory_dynamic_max = max;
        rec->memory_target = max;
        db_touch(ctx->db, vm);
        if (rec->power_state != API_VM_POWER_STATE_RUNNING)
                return 0;
        Ts__Dom__SetMemoryTarget m = TS__DOM__SET_MEMORY_TARGET__INIT;
        m.bytes = (uint64_t)max;
        struct devop *op = devop_new(ctx, D_MEMORY, ref, ref);
        return send(ctx, op, rec->uuid, &m.base, err);
}

int h_VM_set_VCPUs_number_live(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                               struct rpc_writer *w, struct api_error *err)
{
        const char *ref = str_param(params[1]);
        struct db_row *vm = db_get(ctx->db, &mclass_VM, ref);
        if (vm == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VM", ref, NULL);
        int64_t nv;
        int r = int_param(params[2], "nvcpu", &nv, err);
        if (r < 0)
                return r;
        struct api_VM *rec = vm->rec;
        r = vm_check_op(ref, rec, API_VM_OPERATIONS_CHANGING_VCPUS_LIVE, err);
        if (r < 0)
                return r;
        if (nv < 1 || nv > rec->VCPUs_max) {
                char s[32];
                snprintf(s, sizeof(s), "%lld", (long long)nv);
                return api_error_set(err, "INVALID_VALUE", "nvcpu", s, NULL);
        }
        rec->VCPUs_at_startup = nv;
        db_touch(ctx->db, vm);
        Ts__Dom__SetVcpus m = TS__DOM__SET_VCPUS__INIT;
        m.n = (uint32_t)nv;
        struct devop *op = devop_new(ctx, D_VCPUS, ref, ref);
        return send(ctx, op, rec->uuid, &m.base, err);
}
