/* Tasks: Async calls' records, task.create/cancel/destroy, and collection (see task.h). */
#include "xapid/task.h"

#include <errno.h>
#include <event2/event.h>
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
#include "xapid/xapi.h"

LOG_MODULE(task)

/* What cancels a running task: kept beside the datamodel because it is not data. */
struct cancel_hook {
        char *ref;
        void (*fn)(void *arg);
        void *arg;
        struct cancel_hook *next;
};

struct tasks {
        struct event *gc;
        struct cancel_hook *hooks;
        int f_error_info, f_status;
};

static void set_str(char **slot, const char *v)
{
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static struct db_row *task_row(struct xapi *x, const char *ref)
{
        return ref != NULL ? db_get(x->db, &mclass_task, ref) : NULL;
}

static int new_task(struct xapi *x, const char *label, const char *description, char **ref)
{
        struct api_task *t = model_record_new(&mclass_task);
        set_str(&t->name_label, label);
        set_str(&t->name_description, description);
        set_str(&t->resident_on, x->host_ref);
        t->created = time(NULL);
        t->status = API_TASK_STATUS_TYPE_PENDING;
        struct db_row *row;
        int r = db_insert(x->db, &mclass_task, NULL, t, &row);
        if (r < 0)
                return r;
        *ref = strdup(row->ref);
        return *ref != NULL ? 0 : -ENOMEM;
}

int task_create_for_call(struct xapi *x, const char *session, const char *wire_name, char **ref,
                         struct api_error *err)
{
        char label[160];
        snprintf(label, sizeof(label), "Async.%s", wire_name);
        int r = new_task(x, label, "", ref);
        if (r < 0)
                return api_error_set(err, "INTERNAL_ERROR", "cannot create a task", NULL);
        return 0;
}

static struct cancel_hook **find_hook(struct tasks *ts, const char *ref)
{
        struct cancel_hook **pp = &ts->hooks;
        while (*pp != NULL && strcmp((*pp)->ref, ref) != 0)
                pp = &(*pp)->next;
        return pp;
}

static void drop_hook(struct tasks *ts, const char *ref)
{
        struct cancel_hook **pp = find_hook(ts, ref);
        if (*pp != NULL) {
                struct cancel_hook *h = *pp;
                *pp = h->next;
                free(h->ref);
                free(h);
        }
}

void task_set_cancel_hook(struct xapi *x, const char *ref, void (*fn)(void *arg), void *arg)
{
        drop_hook(x->tasks, ref);
        if (fn == NULL)
                return;
        struct cancel_hook *h = calloc(1, sizeof(*h));
        if (h == NULL || (h->ref = strdup(ref)) == NULL)
                abort();
        h->fn = fn;
        h->arg = arg;
        h->next = x->tasks->hooks;
        x->tasks->hooks = h;
}

static void complete(struct xapi *x, struct db_row *row, int status)
{
        struct api_task *t = row->rec;
        t->status = status;
        t->finished = time(NULL);
        if (status == API_TASK_STATUS_TYPE_SUCCESS)
                t->progress = 1.0;
        db_touch(x->db, row);
        drop_hook(x->tasks, row->ref);
}

void task_succeed(struct xapi *x, const char *ref, const char *result, size_t len)
{
        struct db_row *row = task_row(x, ref);
        if (row == NULL)
                return; /* destroyed meanwhile: nobody wants the outcome */
        struct api_task *t = row->rec;
        if (t->status == API_TASK_STATUS_TYPE_CANCELLED)
                return;
        char *copy = strndup(result, len);
        if (copy == NULL)
                abort();
        free(t->result);
        t->result = copy;
        complete(x, row, API_TASK_STATUS_TYPE_SUCCESS);
}

void task_fail(struct xapi *x, const char *ref, const struct api_error *e)
{
        struct db_row *row = task_row(x, ref);
        if (row == NULL)
                return;
        struct api_task *t = row->rec;
        if (t->status == API_TASK_STATUS_TYPE_CANCELLED)
                return;
        const struct mtype *elem = mclass_task.fields[x->tasks->f_error_info].type->elem;
        model_slot_free(mclass_task.fields[x->tasks->f_error_info].type, &t->error_info);
        mset_add(elem, &t->error_info, &e->code);
        for (size_t i = 0; i < e->n_params; i++)
                mset_add(elem, &t->error_info, &e->params[i]);
        complete(x, row,
                 strcmp(e->code, "TASK_CANCELLED") == 0 ? API_TASK_STATUS_TYPE_CANCELLED
                                                        : API_TASK_STATUS_TYPE_FAILURE);
}

void task_set_progress(struct xapi *x, const char *ref, double progress)
{
        struct db_row *row = task_row(x, ref);
        if (row == NULL)
                return;
        struct api_task *t = row->rec;
        if (progress < 0)
                progress = 0;
        if (progress > 1)
                progress = 1;
        if (t->progress != progress) {
                t->progress = progress;
                db_touch(x->db, row);
        }
}

bool task_cancelling(struct xapi *x, const char *ref)
{
        struct db_row *row = task_row(x, ref);
        return row != NULL &&
               ((struct api_task *)row->rec)->status >= API_TASK_STATUS_TYPE_CANCELLING;
}

static bool is_completed(const struct api_task *t)
{
        return t->status != API_TASK_STATUS_TYPE_PENDING &&
               t->status != API_TASK_STATUS_TYPE_CANCELLING;
}

static int cmp_finished(const void *a, const void *b)
{
        const struct api_task *x = (*(struct db_row *const *)a)->rec;
        const struct api_task *y = (*(struct db_row *const *)b)->rec;
        return x->finished < y->finished ? 1 : x->finished > y->finished ? -1 : 0;
}

int tasks_collect(struct xapi *x, time_t now)
{
        size_t n = db_count(x->db, &mclass_task), k = 0;
        struct db_row **done = calloc(n + 1, sizeof(*done));
        if (done == NULL)
                return 0;
        for (size_t i = 0; i < n; i++) {
                struct db_row *row = db_row_at(x->db, &mclass_task, i);
                if (is_completed(row->rec))
                        done[k++] = row;
        }
        qsort(done, k, sizeof(*done), cmp_finished); /* newest first */
        int gone = 0;
        for (size_t i = 0; i < k; i++) {
                const struct api_task *t = done[i]->rec;
                if (i >= TASK_KEEP_COMPLETED || t->finished + TASK_MAX_AGE_SECONDS < now) {
                        db_delete(x->db, done[i]);
                        gone++;
                }
        }
        free(done);
        return gone;
}

static void gc_cb(evutil_socket_t fd, short what, void *arg)
{
        tasks_collect(arg, time(NULL));
}

int tasks_init(struct xapi *x)
{
        struct tasks *ts = calloc(1, sizeof(*ts));
        if (ts == NULL)
                return -ENOMEM;
        ts->f_error_info = model_field_index(&mclass_task, "error_info");
        ts->f_status = model_field_index(&mclass_task, "status");
        ts->gc = event_new(x->base, -1, EV_PERSIST, gc_cb, x);
        struct timeval period = {30, 0};
        if (ts->gc == NULL || event_add(ts->gc, &period) < 0) {
                if (ts->gc != NULL)
                        event_free(ts->gc);
                free(ts);
                return -ENOMEM;
        }
        x->tasks = ts;
        return 0;
}

void tasks_free(struct xapi *x)
{
        struct tasks *ts = x->tasks;
        if (ts == NULL)
                return;
        while (ts->hooks != NULL)
                drop_hook(ts, ts->hooks->ref);
        event_free(ts->gc);
        free(ts);
        x->tasks = NULL;
}

/* --- handlers --- */

static struct db_row *self_task(struct api_ctx *ctx, const struct rpc_value *const *params,
                                size_t n, struct api_error *err)
{
        const char *ref = n > 1 && params[1]->type == RPC_STRING ? params[1]->u.str.s : "";
        struct db_row *row = db_get(ctx->db, &mclass_task, ref);
        if (row == NULL)
                api_error_set(err, "HANDLE_INVALID", "task", ref, NULL);
        return row;
}

/* task.create(session, label, description) */
int h_task_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        char *ref = NULL;
        int r = new_task(x, params[1]->u.str.s, n > 2 ? params[2]->u.str.s : "", &ref);
        if (r < 0)
                return r;
        rpcw_string(w, ref);
        free(ref);
        return 0;
}

int h_task_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = self_task(ctx, params, n, err);
        if (row == NULL)
                return -EINVAL;
        drop_hook(rpc_req_xapi(ctx->user)->tasks, row->ref);
        db_delete(ctx->db, row);
        return 0;
}

/* task.cancel: a running Async job with a cancel hook stops and its task ends cancelled; a
 * pending task made with task.create (its owner reports the outcome) goes to cancelling
 * for the owner to see; anything else cannot be cancelled. */
int h_task_cancel(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *row = self_task(ctx, params, n, err);
        if (row == NULL)
                return -EINVAL;
        struct api_task *t = row->rec;
        if (is_completed(t))
                return api_error_set(err, "OPERATION_NOT_ALLOWED", "the task has already completed",
                                     NULL);
        struct cancel_hook **pp = find_hook(x->tasks, row->ref);
        if (*pp != NULL) {
                void (*fn)(void *) = (*pp)->fn;
                void *arg = (*pp)->arg;
                char *ref = strdup(row->ref);
                drop_hook(x->tasks, ref);
                struct api_error cancelled = {0};
                api_error_set(&cancelled, "TASK_CANCELLED", ref, NULL);
                task_fail(x, ref, &cancelled);
                api_error_clear(&cancelled);
                free(ref);
                fn(arg);
                return 0;
        }
        if (strncmp(t->name_label, "Async.", 6) == 0)
                return api_error_set(err, "OPERATION_NOT_ALLOWED",
                                     "this task's operation cannot be cancelled", NULL);
        t->status = API_TASK_STATUS_TYPE_CANCELLING;
        db_touch(ctx->db, row);
        return 0;
}
