/* VDI attachments for running VMs (see attach.h).  The exclusivity check and the list live on
 * the loop thread; the driver's attach and detach run on a worker (serve_job.h).  An entry is
 * added as pending before the driver attaches, so a concurrent second attach is refused, and
 * saved (attach_state.h) once the driver succeeded. */
#include "stord/attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/storage_attach.pb-c.h"
#include "stord/attach_state.h"
#include "stord/driver.h"
#include "stord/serve.h"
#include "stord/serve_job.h"

LOG_MODULE(attach)

#define STATE_FILE "stord-attachments.json"

struct attachments {
        struct serve *s;
        struct msg_link *link;
        struct att_list list;
        char *state_path;
};

/* One attach or detach under way on a worker. */
struct att_op {
        struct attachments *a;
        char *sr_uuid, *location, *holder;
        bool added;  /* attach: this request added the (pending) entry */
        bool worked; /* the driver's call succeeded */
};

void attach_free(struct attachments *a)
{
        if (a == NULL)
                return;
        att_list_clear(&a->list);
        free(a->state_path);
        free(a);
}

static void save(struct attachments *a)
{
        int r = att_list_save(&a->list, a->state_path);
        if (r < 0)
                log_warnx("cannot save the attachments in %s: %s", a->state_path, strerror(-r));
}

static bool same_vdi(const struct att_entry *h, const char *sr, const char *location)
{
        return strcmp(h->sr_uuid, sr) == 0 && strcmp(h->location, location) == 0;
}

static ssize_t find(const struct attachments *a, const char *sr, const char *location,
                    const char *holder)
{
        for (size_t i = 0; i < a->list.n; i++)
                if (same_vdi(&a->list.v[i], sr, location) &&
                    strcmp(a->list.v[i].holder, holder) == 0)
                        return (ssize_t)i;
        return -1;
}

static void op_free(struct att_op *op)
{
        free(op->sr_uuid);
        free(op->location);
        free(op->holder);
        free(op);
}

static struct att_op *op_new(struct attachments *a, const char *sr, const char *location,
                             const char *holder)
{
        struct att_op *op = calloc(1, sizeof(*op));
        if (op == NULL)
                return NULL;
        op->a = a;
        op->sr_uuid = strdup(sr);
        op->location = strdup(location);
        op->holder = strdup(holder);
        if (op->sr_uuid == NULL || op->location == NULL || op->holder == NULL) {
                op_free(op);
                return NULL;
        }
        return op;
}

/* Sends the reply now (J NULL: on the loop, to FROM) or from the worker job J. */
static int send_reply(struct msg_link *l, const struct msg_origin *from, struct serve_job *j,
                      const ProtobufCMessage *rep)
{
        return j != NULL ? serve_job_reply(j, rep) : msg_link_reply(l, from, rep);
}

static int reply_failure(struct msg_link *l, const struct msg_origin *from, struct serve_job *j,
                         bool attach, int err, const char *code, const char *p0, const char *p1)
{
        Ts__Sto__Failure f = TS__STO__FAILURE__INIT;
        char *params[2] = {(char *)p0, (char *)p1};
        f.errnum = err;
        f.code = (char *)code;
        f.params = params;
        f.n_params = p1 != NULL ? 2 : p0 != NULL ? 1 : 0;
        if (attach) {
                Ts__Sto__VdiAttached rep = TS__STO__VDI_ATTACHED__INIT;
                rep.failure = &f;
                return send_reply(l, from, j, &rep.base);
        }
        Ts__Sto__VdiDetached rep = TS__STO__VDI_DETACHED__INIT;
        rep.failure = &f;
        return send_reply(l, from, j, &rep.base);
}

static int reply_sd_error(struct serve_job *j, bool attach, const struct sd_error *e)
{
        struct api_error ae = {0};
        sd_error_to_api(e, &ae);
        int r = reply_failure(
            NULL, NULL, j, attach, -e->err, ae.code ? ae.code : "SR_BACKEND_FAILURE",
            ae.n_params > 0 ? ae.params[0] : NULL, ae.n_params > 1 ? ae.params[1] : NULL);
        api_error_clear(&ae);
        return r;
}

/* Worker: the driver's attach. */
static int attach_run(struct serve_job *j, const ProtobufCMessage *body, void *ctx)
{
        struct att_op *op = ctx;
        const Ts__Sto__VdiAttach *req = (const Ts__Sto__VdiAttach *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        struct sd_attach at = {0};
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_attach(sr, req->location, req->read_only, &at, &e);
        if (r < 0)
                return reply_sd_error(j, true, &e);
        op->worked = true;
        log_info("SR %s: VDI %s attached %s for %s at %s", req->sr->uuid, req->location,
                 req->read_only ? "read-only" : "read-write", req->holder, at.path);
        Ts__Sto__VdiAttached rep = TS__STO__VDI_ATTACHED__INIT;
        rep.path = at.path;
        rep.format = (char *)sd_format_name(at.format);
        rep.is_block_device = at.is_block_device;
        r = serve_job_reply(j, &rep.base);
        sd_attach_clear(&at);
        return r;
}

/* Loop: the entry becomes durable, or goes if the driver refused. */
static void attach_after(void *ctx, int result)
{
        struct att_op *op = ctx;
        struct attachments *a = op->a;
        ssize_t i = find(a, op->sr_uuid, op->location, op->holder);
        if (i >= 0 && op->added) {
                if (op->worked && result == 0)
                        a->list.v[i].pending = false;
                else
                        att_list_remove(&a->list, (size_t)i);
        }
        if (op->worked && result == 0)
                save(a);
        op_free(op);
}

static int on_attach(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct attachments *a = arg;
        const Ts__Sto__VdiAttach *req = (const Ts__Sto__VdiAttach *)body;
        if (req->sr == NULL || req->location[0] == '\0' || req->holder[0] == '\0')
                return -EINVAL;
        if (req->vdi_read_only && !req->read_only)
                return reply_failure(l, from, NULL, true, EROFS, "VDI_READONLY", req->vdi, NULL);
        bool mine = false;
        for (size_t i = 0; i < a->list.n; i++) {
                const struct att_entry *h = &a->list.v[i];
                if (!same_vdi(h, req->sr->uuid, req->location))
                        continue;
                if (strcmp(h->holder, req->holder) == 0) {
                        mine = true; /* attached again by the same VBD: idempotent */
                        continue;
                }
                if (!req->sharable && (!h->read_only || !req->read_only))
                        return reply_failure(l, from, NULL, true, EBUSY, "VDI_IN_USE", req->vdi,
                                             "attach");
        }
        struct att_op *op = op_new(a, req->sr->uuid, req->location, req->holder);
        if (op == NULL)
                return -ENOMEM;
        if (!mine) {
                if (att_list_add(&a->list, req->sr->uuid, req->location, req->holder,
                                 req->read_only, true) < 0) {
                        op_free(op);
                        return -ENOMEM;
                }
                op->added = true;
        }
        int r = serve_submit(serve_pool(a->s), l, from, body, attach_run, attach_after, op);
        if (r < 0) {
                attach_after(op, r);
                return r;
        }
        return 0;
}

/* Worker: the driver's detach, once no other holder is left. */
static int detach_run(struct serve_job *j, const ProtobufCMessage *body, void *ctx)
{
        const Ts__Sto__VdiDetach *req = (const Ts__Sto__VdiDetach *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_detach(sr, req->location, &e);
        if (r < 0)
                return reply_sd_error(j, false, &e);
        log_info("SR %s: VDI %s detached for %s", req->sr->uuid, req->location, req->holder);
        Ts__Sto__VdiDetached rep = TS__STO__VDI_DETACHED__INIT;
        return serve_job_reply(j, &rep.base);
}

static int on_detach(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct attachments *a = arg;
        const Ts__Sto__VdiDetach *req = (const Ts__Sto__VdiDetach *)body;
        if (req->sr == NULL || req->location[0] == '\0')
                return -EINVAL;
        size_t others = 0, removed = 0;
        for (size_t i = 0; i < a->list.n;) {
                const struct att_entry *h = &a->list.v[i];
                if (!same_vdi(h, req->sr->uuid, req->location) ||
                    strcmp(h->holder, req->holder) != 0) {
                        others += same_vdi(h, req->sr->uuid, req->location);
                        i++;
                        continue;
                }
                att_list_remove(&a->list, i);
                removed++;
        }
        if (removed > 0)
                save(a);
        if (others == 0)
                return serve_submit(serve_pool(a->s), l, from, body, detach_run, NULL, NULL);
        log_info("SR %s: VDI %s detached for %s (still attached for others)", req->sr->uuid,
                 req->location, req->holder);
        Ts__Sto__VdiDetached rep = TS__STO__VDI_DETACHED__INIT;
        return msg_link_reply(l, from, &rep.base);
}

int attach_register(struct msg_link *l, struct serve *s, const char *run_dir,
                    struct attachments **out)
{
        struct attachments *a = calloc(1, sizeof(*a));
        if (a == NULL)
                return -ENOMEM;
        a->s = s;
        a->link = l;
        if (asprintf(&a->state_path, "%s/%s", run_dir != NULL ? run_dir : ".", STATE_FILE) < 0) {
                free(a);
                return -ENOMEM;
        }
        int r = att_list_load(&a->list, a->state_path);
        if (r < 0)
                log_warnx("%s is unreadable (%s): starting with no attachments", a->state_path,
                          strerror(-r));
        else if (a->list.n > 0)
                log_info("%zu VDI attachments restored from %s", a->list.n, a->state_path);
        r = msg_link_handle(l, &ts__sto__vdi_attach__descriptor, on_attach, a);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_detach__descriptor, on_detach, a);
        if (r < 0) {
                attach_free(a);
                return r;
        }
        *out = a;
        return 0;
}
