/* Sequential disk operations of a VM call (see vm_job.h). */
#include "xapid/vm_job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_gen.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/rpc.h"
#include "xapid/rpc_writer.h"
#include "xapid/storage.h"
#include "xapid/vm_lifecycle.h"
#include "xapid/vm_util.h"
#include "xapid/xapi.h"

LOG_MODULE(vm)

static char *dup(const char *s)
{
        char *d = strdup(s != NULL ? s : "");
        if (d == NULL)
                abort();
        return d;
}

static void push(char ***v, size_t *n, const char *s)
{
        char **nv = realloc(*v, (*n + 1) * sizeof(**v));
        if (nv == NULL)
                abort();
        *v = nv;
        nv[(*n)++] = dup(s);
}

struct vm_job *vm_job_new(struct api_ctx *ctx, const char *vm, int op)
{
        struct vm_job *j = calloc(1, sizeof(*j));
        if (j == NULL)
                abort();
        j->x = rpc_req_xapi(ctx->user);
        j->vm = dup(vm);
        const char *task = rpc_req_task(ctx->user);
        j->task = task != NULL ? dup(task) : NULL;
        j->op = op;
        return j;
}

struct vm_step *vm_job_add(struct vm_job *j, enum vm_step_kind kind)
{
        struct vm_step *v = realloc(j->steps, (j->n + 1) * sizeof(*v));
        if (v == NULL)
                abort();
        j->steps = v;
        memset(&v[j->n], 0, sizeof(v[j->n]));
        v[j->n].kind = kind;
        return &v[j->n++];
}

void vm_job_drop(struct vm_job *j, const char *vdi)
{
        push(&j->drop, &j->n_drop, vdi);
}

static void job_free(struct vm_job *j)
{
        for (size_t i = 0; i < j->n; i++) {
                struct vm_step *s = &j->steps[i];
                free(s->vbd);
                free(s->vdi);
                free(s->sr);
                free(s->device);
                free(s->result);
                model_record_free(&mclass_VDI, s->create);
        }
        free(j->steps);
        for (size_t i = 0; i < j->n_made; i++)
                free(j->made[i]);
        free(j->made);
        for (size_t i = 0; i < j->n_drop; i++)
                free(j->drop[i]);
        free(j->drop);
        api_error_clear(&j->err);
        free(j->result);
        free(j->name);
        free(j->vm);
        free(j->task);
        free(j);
}

static void job_cancel(void *arg)
{
        struct vm_job *j = arg;
        j->req = NULL; /* the work goes on: the datamodel follows the storage */
}

static void job_answer(struct vm_job *j)
{
        vmu_op_end(j->x->db, j->vm, j->opkey);
        struct db_row *vm = db_get(j->x->db, &mclass_VM, j->vm);
        if (vm != NULL)
                vms_operation_ended(j->x, ((struct api_VM *)vm->rec)->uuid);
        if (j->r < 0)
                log_warnx("VM %s: %s failed: %s", j->vm, menum_vm_operations.values[j->op],
                          j->err.code ? j->err.code : "?");
        if (j->starting) { /* finished before any storage request: vm_job_start answers */
                j->answered = true;
                return;
        }
        if (j->req != NULL) {
                if (j->r == 0 && j->result != NULL)
                        rpcw_string(rpc_deferred_writer(j->req), j->result);
                rpc_resume(j->req, j->r, &j->err);
        } else {
                vmu_commit(j->x);
        }
        job_free(j);
}

static void run(struct vm_job *j);
static void drop_next(struct vm_job *j);

static void dropped(void *arg, int r, const char *ref, struct api_error *err)
{
        struct vm_job *j = arg;
        if (r < 0)
                log_warnx("VM %s: cannot destroy a disk: %s", j->vm, err->code);
        j->dropping++;
        drop_next(j);
}

/* Destroys j->drop one by one, then answers. */
static void drop_next(struct vm_job *j)
{
        while (j->dropping < j->n_drop) {
                struct api_error e = {0};
                int r = storage_vdi_destroy(j->x, j->task, j->drop[j->dropping], dropped, j, &e);
                api_error_clear(&e);
                if (r == 0)
                        return; /* dropped() continues */
                j->dropping++;
        }
        job_answer(j);
}

static void fail(struct vm_job *j)
{
        /* the disks made so far go again (XAPI's delete_disks), and only them */
        for (size_t i = 0; i < j->n_drop; i++)
                free(j->drop[i]);
        j->n_drop = 0;
        for (size_t i = 0; i < j->n_made; i++)
                vm_job_drop(j, j->made[i]);
        j->dropping = 0;
        drop_next(j);
}

static void step_done(void *arg, int r, const char *ref, struct api_error *err)
{
        struct vm_job *j = arg;
        if (r < 0) {
                j->r = r;
                api_error_move(&j->err, err);
                fail(j);
                return;
        }
        struct vm_step *s = &j->steps[j->i];
        s->result = dup(ref);
        push(&j->made, &j->n_made, ref);
        if (j->on_step != NULL)
                j->on_step(j, s);
        j->i++;
        run(j);
}

static int start_step(struct vm_job *j, struct vm_step *s)
{
        struct xapi *x = j->x;
        switch (s->kind) {
        case STEP_CLONE:
        case STEP_SNAPSHOT:
                return storage_vdi_clone(x, j->task, s->vdi, s->kind == STEP_SNAPSHOT, step_done, j,
                                         &j->err);
        case STEP_COPY:
                return storage_vdi_copy(x, j->task, s->vdi, s->sr, step_done, j, &j->err);
        case STEP_CREATE: {
                struct api_VDI *rec = s->create;
                s->create = NULL;
                return storage_vdi_create(x, j->task, rec, step_done, j, &j->err);
        }
        default:
                return 1;
        }
}

static void run(struct vm_job *j)
{
        while (j->i < j->n) {
                struct vm_step *s = &j->steps[j->i];
                int r = start_step(j, s);
                if (r == 0)
                        return; /* step_done continues */
                if (r < 0) {
                        j->r = r;
                        fail(j);
                        return;
                }
                if (s->kind == STEP_KEEP && s->vdi != NULL)
                        s->result = dup(s->vdi);
                j->i++;
        }
        if (db_get(j->x->db, &mclass_VM, j->vm) == NULL) {
                j->r = api_error_set(&j->err, "HANDLE_INVALID", "VM", j->vm, NULL);
                fail(j);
                return;
        }
        j->r = j->finish(j, &j->err);
        if (j->r < 0) {
                fail(j);
                return;
        }
        drop_next(j);
}

int vm_job_start(struct api_ctx *ctx, struct vm_job *j, struct rpc_writer *w, struct api_error *err)
{
        struct db_row *vm = db_get(ctx->db, &mclass_VM, j->vm);
        const char *task = rpc_req_task(ctx->user);
        vmu_op_begin(ctx->db, vm, j->op, task, j->opkey, sizeof(j->opkey));
        j->starting = true;
        run(j);
        j->starting = false;
        if (j->answered) {
                int r = j->r;
                if (r == 0 && j->result != NULL)
                        rpcw_string(w, j->result);
                else if (r < 0)
                        api_error_move(err, &j->err);
                job_free(j);
                return r;
        }
        j->req = rpc_defer(ctx);
        rpc_on_cancel(j->req, job_cancel, j);
        return 0;
}
