/* Helpers shared by the VM and VBD operations (see vm_util.h). */
#include "xapid/vm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/uuid.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/rpc_value.h"
#include "xapid/xapi.h"

LOG_MODULE(vm)

void vmu_set_str(char **slot, const char *v)
{
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

void vmu_map_put(const struct mclass *c, int f, void *rec, const char *key, const char *value)
{
        mmap_put(c->fields[f].type, model_slot(rec, &c->fields[f]), &key, &value);
}

void vmu_map_del(const struct mclass *c, int f, void *rec, const char *key)
{
        mmap_remove(c->fields[f].type, model_slot(rec, &c->fields[f]), &key);
}

const char *vmu_map_get(const struct mmap *m, const char *key)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->k[i].s, key) == 0)
                        return m->v[i].s;
        return NULL;
}

const char *vmu_str(const struct rpc_value *v)
{
        return v != NULL && v->type == RPC_STRING ? v->u.str.s : "";
}

struct db_row *vmu_param(struct api_ctx *ctx, const struct mclass *c, const struct rpc_value *v,
                         struct api_error *err)
{
        const char *ref = vmu_str(v);
        struct db_row *row = db_get(ctx->db, c, ref);
        if (row == NULL)
                api_error_set(err, "HANDLE_INVALID", c->name, ref, NULL);
        return row;
}

const char *vmu_power_name(int ps)
{
        switch (ps) {
        case API_VM_POWER_STATE_HALTED:
                return "halted";
        case API_VM_POWER_STATE_PAUSED:
                return "paused";
        case API_VM_POWER_STATE_RUNNING:
                return "running";
        case API_VM_POWER_STATE_SUSPENDED:
                return "suspended";
        default:
                return "unknown";
        }
}

bool vmu_is_default_template(const struct api_VM *vm)
{
        const char *v = vmu_map_get(&vm->other_config, "default_template");
        return vm->is_default_template ||
               (v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0));
}

/* The power states OP accepts, as a bit set of (1 << power state). */
static unsigned allowed_states(const struct api_VM *vm, int op)
{
        const unsigned H = 1u << API_VM_POWER_STATE_HALTED, S = 1u << API_VM_POWER_STATE_SUSPENDED,
                       all = H | S | 1u << API_VM_POWER_STATE_RUNNING |
                             1u << API_VM_POWER_STATE_PAUSED;
        switch (op) {
        case API_VM_OPERATIONS_CLONE:
        case API_VM_OPERATIONS_COPY:
                return H | (vm->is_a_snapshot ? S : 0);
        case API_VM_OPERATIONS_DESTROY:
                return H | S;
        case API_VM_OPERATIONS_PROVISION:
        case API_VM_OPERATIONS_MAKE_INTO_TEMPLATE:
                return H;
        default: /* snapshot, revert */
                return all;
        }
}

/* XAPI's is_allowed_concurrently: copies go together, snapshots go together. */
static bool concurrent_ok(int op, const struct mmap *cur)
{
        static const int copies[] = {API_VM_OPERATIONS_CLONE, API_VM_OPERATIONS_COPY,
                                     API_VM_OPERATIONS_EXPORT};
        static const int snaps[] = {API_VM_OPERATIONS_SNAPSHOT, API_VM_OPERATIONS_CHECKPOINT};
        const int *groups[] = {copies, snaps};
        const size_t sizes[] = {3, 2};
        for (size_t g = 0; g < 2; g++) {
                bool in = false;
                for (size_t i = 0; i < sizes[g]; i++)
                        in = in || groups[g][i] == op;
                if (!in)
                        continue;
                bool all = true;
                for (size_t k = 0; k < cur->n && all; k++) {
                        bool found = false;
                        for (size_t i = 0; i < sizes[g]; i++)
                                found = found || groups[g][i] == cur->v[k].e;
                        all = found;
                }
                if (all)
                        return true;
        }
        return false;
}

int vmu_check_op(struct db_row *row, int op, struct api_error *err)
{
        const struct api_VM *vm = row->rec;
        const char *opname = menum_vm_operations.values[op];
        for (size_t i = 0; i < vm->blocked_operations.n; i++)
                if (vm->blocked_operations.k[i].e == op)
                        return api_error_set(err, "OPERATION_BLOCKED", row->ref,
                                             vm->blocked_operations.v[i].s, NULL);
        unsigned ok = allowed_states(vm, op);
        if (!(ok & (1u << vm->power_state))) {
                char expected[64] = "";
                static const int order[] = {API_VM_POWER_STATE_HALTED, API_VM_POWER_STATE_PAUSED,
                                            API_VM_POWER_STATE_SUSPENDED,
                                            API_VM_POWER_STATE_RUNNING};
                for (size_t i = 0; i < 4; i++)
                        if (ok & (1u << order[i]))
                                snprintf(expected + strlen(expected),
                                         sizeof(expected) - strlen(expected), "%s%s",
                                         expected[0] ? ", " : "", vmu_power_name(order[i]));
                return api_error_set(err, "VM_BAD_POWER_STATE", row->ref, expected,
                                     vmu_power_name(vm->power_state), NULL);
        }
        if (vm->current_operations.n > 0 && !concurrent_ok(op, &vm->current_operations))
                return api_error_set(err, "OTHER_OPERATION_IN_PROGRESS", "VM", row->ref,
                                     menum_vm_operations.values[vm->current_operations.v[0].e],
                                     vm->current_operations.k[0].s, NULL);
        if (vm->is_a_template && !vm->is_a_snapshot) {
                bool allowed = op == API_VM_OPERATIONS_CLONE || op == API_VM_OPERATIONS_COPY ||
                               op == API_VM_OPERATIONS_PROVISION ||
                               (op == API_VM_OPERATIONS_DESTROY && !vmu_is_default_template(vm));
                if (!allowed)
                        return api_error_set(err, "VM_IS_TEMPLATE", row->ref, opname, NULL);
        }
        if (vm->is_a_snapshot && op != API_VM_OPERATIONS_REVERT && op != API_VM_OPERATIONS_CLONE &&
            op != API_VM_OPERATIONS_COPY && op != API_VM_OPERATIONS_DESTROY)
                return api_error_set(err, "VM_IS_SNAPSHOT", row->ref, opname, NULL);
        if (op == API_VM_OPERATIONS_PROVISION && !vm->is_a_template)
                return api_error_set(err, "PROVISION_ONLY_ALLOWED_ON_TEMPLATE", NULL);
        if (op == API_VM_OPERATIONS_REVERT && !vm->is_a_snapshot)
                return api_error_set(err, "REVERT_ONLY_ALLOWED_ON_SNAPSHOT", NULL);
        if (vm->is_control_domain)
                return api_error_set(err, "OPERATION_NOT_ALLOWED",
                                     op == API_VM_OPERATIONS_DESTROY
                                         ? "This operation is not allowed on dom0"
                                         : "This operation is not allowed on a control domain",
                                     NULL);
        return 0;
}

void vmu_op_begin(struct db *db, struct db_row *vm, int op, const char *task, char *key,
                  size_t keylen)
{
        if (task != NULL && task[0] != '\0') {
                snprintf(key, keylen, "%s", task);
        } else {
                char u[UUID_STR_LEN];
                uuid_generate_str(u);
                snprintf(key, keylen, "OpaqueRef:%s", u);
        }
        const char *k = key;
        mmap_put(mclass_VM.fields[API_VM_F_current_operations].type,
                 &((struct api_VM *)vm->rec)->current_operations, &k, &op);
        db_touch(db, vm);
}

void vmu_op_end(struct db *db, const char *vm_ref, const char *key)
{
        struct db_row *vm = db_get(db, &mclass_VM, vm_ref);
        if (vm == NULL)
                return;
        if (mmap_remove(mclass_VM.fields[API_VM_F_current_operations].type,
                        &((struct api_VM *)vm->rec)->current_operations, &key))
                db_touch(db, vm);
}

const char *vmu_new_metrics(struct db *db, const char *from)
{
        struct db_row *src = from != NULL ? db_get(db, &mclass_VM_metrics, from) : NULL;
        struct api_VM_metrics *m = src != NULL ? model_record_copy(&mclass_VM_metrics, src->rec)
                                               : model_record_new(&mclass_VM_metrics);
        vmu_set_str(&m->uuid, "");
        m->install_time = time(NULL);
        m->last_updated = time(NULL);
        struct db_row *row;
        if (db_insert(db, &mclass_VM_metrics, NULL, m, &row) < 0) {
                model_record_free(&mclass_VM_metrics, m);
                return VMU_NULL_REF;
        }
        return row->ref;
}

const char *vmu_new_vbd_metrics(struct db *db)
{
        void *m = model_record_new(&mclass_VBD_metrics);
        struct db_row *row;
        if (db_insert(db, &mclass_VBD_metrics, NULL, m, &row) < 0) {
                model_record_free(&mclass_VBD_metrics, m);
                return VMU_NULL_REF;
        }
        return row->ref;
}

void vmu_destroy_vbd(struct db *db, struct db_row *vbd)
{
        struct db_row *m = db_get(db, &mclass_VBD_metrics, ((struct api_VBD *)vbd->rec)->metrics);
        if (m != NULL)
                db_delete(db, m);
        db_delete(db, vbd);
}

static void committed(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store a VM change: %s", strerror(-result));
}

void vmu_commit(struct xapi *x)
{
        if (x->commit != NULL)
                x->commit(x->commit_ctx, committed, NULL);
}
