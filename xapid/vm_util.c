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
#include "xapid/vm_checks.h"
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

void vmu_refresh_allowed(struct db *db, struct db_row *vm)
{
        if (vm_update_allowed_ops(vm->ref, vm->rec))
                db_touch(db, vm);
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
        vmu_refresh_allowed(db, vm);
}

void vmu_op_end(struct db *db, const char *vm_ref, const char *key)
{
        struct db_row *vm = db_get(db, &mclass_VM, vm_ref);
        if (vm == NULL)
                return;
        if (mmap_remove(mclass_VM.fields[API_VM_F_current_operations].type,
                        &((struct api_VM *)vm->rec)->current_operations, &key))
                db_touch(db, vm);
        /* also after a failure, or a power state change made by the operation */
        vmu_refresh_allowed(db, vm);
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
