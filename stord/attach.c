/* VDI attachments for running VMs (see attach.h). */
#include "stord/attach.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/storage_attach.pb-c.h"
#include "stord/driver.h"
#include "stord/serve.h"

LOG_MODULE(attach)

struct holder {
        char *sr_uuid, *location, *holder;
        bool read_only;
};

struct attachments {
        struct serve *s;
        struct holder *v;
        size_t n;
};

void attach_free(struct attachments *a)
{
        if (a == NULL)
                return;
        for (size_t i = 0; i < a->n; i++) {
                free(a->v[i].sr_uuid);
                free(a->v[i].location);
                free(a->v[i].holder);
        }
        free(a->v);
        free(a);
}

static bool same_vdi(const struct holder *h, const char *sr, const char *location)
{
        return strcmp(h->sr_uuid, sr) == 0 && strcmp(h->location, location) == 0;
}

static int reply_failure(struct msg_link *l, const struct msg_origin *from, bool attach, int err,
                         const char *code, const char *p0, const char *p1)
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
                return msg_link_reply(l, from, &rep.base);
        }
        Ts__Sto__VdiDetached rep = TS__STO__VDI_DETACHED__INIT;
        rep.failure = &f;
        return msg_link_reply(l, from, &rep.base);
}

static int reply_sd_error(struct msg_link *l, const struct msg_origin *from, bool attach,
                          const struct sd_error *e)
{
        struct api_error ae = {0};
        sd_error_to_api(e, &ae);
        int r = reply_failure(l, from, attach, -e->err, ae.code ? ae.code : "SR_BACKEND_FAILURE",
                              ae.n_params > 0 ? ae.params[0] : NULL,
                              ae.n_params > 1 ? ae.params[1] : NULL);
        api_error_clear(&ae);
        return r;
}

static int on_attach(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct attachments *a = arg;
        const Ts__Sto__VdiAttach *req = (const Ts__Sto__VdiAttach *)body;
        if (req->sr == NULL || req->location[0] == '\0' || req->holder[0] == '\0')
                return -EINVAL;
        if (req->vdi_read_only && !req->read_only)
                return reply_failure(l, from, true, EROFS, "VDI_READONLY", req->vdi, NULL);
        bool mine = false;
        for (size_t i = 0; i < a->n; i++) {
                struct holder *h = &a->v[i];
                if (!same_vdi(h, req->sr->uuid, req->location))
                        continue;
                if (strcmp(h->holder, req->holder) == 0) {
                        mine = true; /* attached again by the same VBD: idempotent */
                        continue;
                }
                if (!req->sharable && (!h->read_only || !req->read_only))
                        return reply_failure(l, from, true, EBUSY, "VDI_IN_USE", req->vdi,
                                             "attach");
        }
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        struct sd_attach at = {0};
        int r = serve_get_sr(a->s, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_attach(sr, req->location, req->read_only, &at, &e);
        if (r < 0)
                return reply_sd_error(l, from, true, &e);
        if (!mine) {
                struct holder *v = realloc(a->v, (a->n + 1) * sizeof(*v));
                if (v == NULL) {
                        sd_attach_clear(&at);
                        return -ENOMEM;
                }
                a->v = v;
                struct holder *h = &a->v[a->n++];
                h->sr_uuid = strdup(req->sr->uuid);
                h->location = strdup(req->location);
                h->holder = strdup(req->holder);
                h->read_only = req->read_only;
                if (h->sr_uuid == NULL || h->location == NULL || h->holder == NULL)
                        abort();
        }
        log_info("SR %s: VDI %s attached %s for %s at %s", req->sr->uuid, req->location,
                 req->read_only ? "read-only" : "read-write", req->holder, at.path);
        Ts__Sto__VdiAttached rep = TS__STO__VDI_ATTACHED__INIT;
        rep.path = at.path;
        rep.format = (char *)sd_format_name(at.format);
        rep.is_block_device = at.is_block_device;
        r = msg_link_reply(l, from, &rep.base);
        sd_attach_clear(&at);
        return r;
}

static int on_detach(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct attachments *a = arg;
        const Ts__Sto__VdiDetach *req = (const Ts__Sto__VdiDetach *)body;
        if (req->sr == NULL || req->location[0] == '\0')
                return -EINVAL;
        size_t others = 0;
        for (size_t i = 0; i < a->n;) {
                struct holder *h = &a->v[i];
                if (!same_vdi(h, req->sr->uuid, req->location)) {
                        i++;
                        continue;
                }
                if (strcmp(h->holder, req->holder) != 0) {
                        others++;
                        i++;
                        continue;
                }
                free(h->sr_uuid);
                free(h->location);
                free(h->holder);
                a->v[i] = a->v[--a->n];
        }
        if (others == 0) {
                struct sd_error e = {0};
                struct sd_sr *sr = NULL;
                int r = serve_get_sr(a->s, req->sr, &sr, &e);
                if (r == 0)
                        r = sd_vdi_detach(sr, req->location, &e);
                if (r < 0)
                        return reply_sd_error(l, from, false, &e);
        }
        log_info("SR %s: VDI %s detached for %s", req->sr->uuid, req->location, req->holder);
        Ts__Sto__VdiDetached rep = TS__STO__VDI_DETACHED__INIT;
        return msg_link_reply(l, from, &rep.base);
}

int attach_register(struct msg_link *l, struct serve *s, struct attachments **out)
{
        struct attachments *a = calloc(1, sizeof(*a));
        if (a == NULL)
                return -ENOMEM;
        a->s = s;
        int r = msg_link_handle(l, &ts__sto__vdi_attach__descriptor, on_attach, a);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_detach__descriptor, on_detach, a);
        if (r < 0) {
                free(a);
                return r;
        }
        *out = a;
        return 0;
}
