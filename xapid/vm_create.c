/* VM.create from a full record (as XenAPI.py, Xen Orchestra and XAPI's own template code send
 * it) and VM.destroy with XAPI's rules: the VM must be Halted or Suspended; its VBDs, VIFs,
 * consoles, VTPMs and metrics go with it, its disks (VDIs) and its snapshots stay. */
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
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/vm_checks.h"
#include "xapid/vm_util.h"
#include "xapid/xapi.h"

LOG_MODULE(vm)

static int check_limits(const struct api_VM *vm, struct api_error *err)
{
        if (!(vm->memory_static_min <= vm->memory_dynamic_min &&
              vm->memory_dynamic_min <= vm->memory_dynamic_max &&
              vm->memory_dynamic_max <= vm->memory_static_max))
                return api_error_set(err, "MEMORY_CONSTRAINT_VIOLATION",
                                     "Memory limits must satisfy: static_min <= dynamic_min <= "
                                     "dynamic_max <= static_max",
                                     NULL);
        if (vm->VCPUs_max < 1) {
                char v[24];
                snprintf(v, sizeof(v), "%lld", (long long)vm->VCPUs_max);
                return api_error_set(err, "INVALID_VALUE", "VCPU_max", v, NULL);
        }
        if (vm->VCPUs_at_startup < 1 || vm->VCPUs_at_startup > vm->VCPUs_max) {
                char v[24];
                snprintf(v, sizeof(v), "%lld", (long long)vm->VCPUs_at_startup);
                return api_error_set(err, "INVALID_VALUE", "VCPU_at_startup", v, NULL);
        }
        return 0;
}

/* VM.create(session, VM record) -> VM ref */
int h_VM_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        void *v;
        int r = model_record_read(&mclass_VM, params[1], &v, err);
        if (r < 0)
                return r;
        struct api_VM *vm = v;
        r = check_limits(vm, err);
        if (r < 0) {
                model_record_free(&mclass_VM, vm);
                return r;
        }
        /* clients that only know HVM_boot_policy (XAPI's derive_domain_type) */
        if (vm->domain_type == API_DOMAIN_TYPE_UNSPECIFIED)
                vm->domain_type = vm->HVM_boot_policy[0] ? API_DOMAIN_TYPE_HVM : API_DOMAIN_TYPE_PV;
        else if (vm->domain_type == API_DOMAIN_TYPE_HVM && vm->HVM_boot_policy[0] == '\0')
                vmu_set_str(&vm->HVM_boot_policy, "BIOS order");
        /* what only the toolstack decides */
        vmu_set_str(&vm->uuid, "");
        vm->power_state = API_VM_POWER_STATE_HALTED;
        vm->domid = -1;
        vm->is_control_domain = false;
        vm->is_default_template = false;
        vmu_set_str(&vm->resident_on, VMU_NULL_REF);
        vmu_set_str(&vm->scheduled_to_be_resident_on, VMU_NULL_REF);
        vmu_set_str(&vm->guest_metrics, VMU_NULL_REF);
        vmu_set_str(&vm->metrics, vmu_new_metrics(ctx->db, NULL));
        struct db_row *row;
        r = db_insert(ctx->db, &mclass_VM, NULL, vm, &row);
        if (r < 0) {
                model_record_free(&mclass_VM, vm);
                return api_error_set(err, "DB_UNIQUENESS_CONSTRAINT_VIOLATION", "VM", "uuid", "",
                                     NULL);
        }
        /* a record may arrive with operations in it: they are the toolstack's to set */
        struct api_VM *made = row->rec;
        model_slot_free(mclass_VM.fields[API_VM_F_current_operations].type,
                        &made->current_operations);
        vm_update_allowed_ops(row->ref, made);
        db_touch(ctx->db, row);
        log_info("VM %s created (%s)", ((struct api_VM *)row->rec)->uuid,
                 ((struct api_VM *)row->rec)->name_label);
        rpcw_string(w, row->ref);
        return 0;
}

static void delete_ref(struct db *db, const struct mclass *c, const char *ref)
{
        struct db_row *row = db_get(db, c, ref);
        if (row != NULL)
                db_delete(db, row);
}

/* Deletes every row of C listed in the set SET (a bound set: it shrinks as rows go). */
static void delete_all(struct db *db, const struct mclass *c, const struct mset *set,
                       int metrics_field, const struct mclass *metrics_cls)
{
        while (set->n > 0) {
                struct db_row *row = db_get(db, c, set->v[0].s);
                if (row == NULL)
                        break;
                if (metrics_field >= 0)
                        delete_ref(db, metrics_cls,
                                   *(char **)model_slot(row->rec, &c->fields[metrics_field]));
                db_delete(db, row);
        }
}

/* VM.destroy(session, self) */
int h_VM_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VM, params[1], err);
        if (row == NULL)
                return -ENOENT;
        int r = vm_check_op(row->ref, row->rec, API_VM_OPERATIONS_DESTROY, err);
        if (r < 0)
                return r;
        struct api_VM *vm = row->rec;
        if (vm_is_default_template(vm))
                return api_error_set(err, "VM_CANNOT_DELETE_DEFAULT_TEMPLATE", row->ref, NULL);
        struct db *db = ctx->db;
        /* its children now descend from its parent (XAPI rebases them) */
        while (vm->children.n > 0) {
                struct db_row *child = db_get(db, &mclass_VM, vm->children.v[0].s);
                if (child == NULL)
                        break;
                db_set(db, child, API_VM_F_parent, &vm->parent);
        }
        delete_all(db, &mclass_VBD, &vm->VBDs, API_VBD_F_metrics, &mclass_VBD_metrics);
        delete_all(db, &mclass_VIF, &vm->VIFs, API_VIF_F_metrics, &mclass_VIF_metrics);
        delete_all(db, &mclass_console, &vm->consoles, -1, NULL);
        delete_all(db, &mclass_VTPM, &vm->VTPMs, -1, NULL);
        delete_ref(db, &mclass_VM_metrics, vm->metrics);
        delete_ref(db, &mclass_VM_guest_metrics, vm->guest_metrics);
        log_info("VM %s destroyed", vm->uuid);
        db_delete(db, row);
        return 0;
}
