/* Serving proto/storage.proto (see serve.h).  Each request names its SR; an SR opened once
 * stays open (struct sd_sr per uuid) and is reopened when xapid describes it differently.
 * Operations run to completion on the loop: the drivers serialise per SR anyway. */
#include "stord/serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/storage.pb-c.h"
#include "stord/attach.h"
#include "stord/driver.h"

LOG_MODULE(serve)

struct serve {
        struct sd_sr **srs;
        size_t n;
        struct attachments *att; /* attach.c */
};

void serve_free(struct serve *s)
{
        if (s == NULL)
                return;
        for (size_t i = 0; i < s->n; i++)
                sd_sr_close(s->srs[i]);
        free(s->srs);
        attach_free(s->att);
        free(s);
}

static bool same_sr(const struct sd_sr *sr, const Ts__Sto__Sr *d)
{
        if (strcmp(sr->drv->name, d->type) != 0 || sr->dconf.n != d->n_device_config)
                return false;
        for (size_t i = 0; i < d->n_device_config; i++) {
                const char *v = sd_map_get(&sr->dconf, d->device_config[i]->key);
                if (v == NULL || strcmp(v, d->device_config[i]->value) != 0)
                        return false;
        }
        return true;
}

/* The open SR described by D (opened now if needed).  Borrowed until serve_free. */
static int get_sr(struct serve *s, const Ts__Sto__Sr *d, struct sd_sr **out, struct sd_error *e)
{
        if (d == NULL || d->uuid[0] == '\0')
                return sd_fail(e, -EINVAL, SM_INVALID_ARG, "request names no SR");
        size_t i;
        for (i = 0; i < s->n; i++)
                if (strcmp(s->srs[i]->uuid, d->uuid) == 0)
                        break;
        if (i < s->n && same_sr(s->srs[i], d)) {
                *out = s->srs[i];
                return 0;
        }
        struct sd_map dconf = {0};
        int r = 0;
        for (size_t k = 0; k < d->n_device_config && r == 0; k++)
                r = sd_map_set(&dconf, d->device_config[k]->key, d->device_config[k]->value);
        struct sd_sr *sr = NULL;
        if (r < 0)
                r = sd_fail(e, r, SM_GENERAL, "out of memory");
        else
                r = sd_sr_open(d->type, d->uuid, &dconf, &sr, e);
        sd_map_clear(&dconf);
        if (r < 0)
                return r;
        if (i < s->n) {
                sd_sr_close(s->srs[i]);
                s->srs[i] = sr;
        } else {
                struct sd_sr **v = realloc(s->srs, (s->n + 1) * sizeof(*v));
                if (v == NULL) {
                        sd_sr_close(sr);
                        return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
                }
                s->srs = v;
                s->srs[s->n++] = sr;
        }
        *out = sr;
        return 0;
}

int serve_get_sr(struct serve *s, const struct Ts__Sto__Sr *d, struct sd_sr **out,
                 struct sd_error *e)
{
        return get_sr(s, d, out, e);
}

/* A Failure from E, in storage owned by the caller's struct api_error. */
static void fill_failure(Ts__Sto__Failure *f, const struct sd_error *e, struct api_error *ae)
{
        sd_error_to_api(e, ae);
        f->errnum = -e->err;
        f->code = ae->code != NULL ? ae->code : "SR_BACKEND_FAILURE";
        f->params = ae->params;
        f->n_params = ae->n_params;
}

static char *nz(char *s)
{
        return s != NULL ? s : "";
}

static void fill_vdi(Ts__Sto__Vdi *pv, const struct sd_vdi *v)
{
        pv->location = nz(v->location);
        pv->uuid = nz(v->uuid);
        pv->type = v->type != NULL ? v->type : "user";
        pv->format = (char *)sd_format_name(v->format);
        pv->virtual_size = v->virtual_size;
        pv->physical_utilisation = v->physical_utilisation;
        pv->snapshot_of = nz(v->snapshot_of);
        pv->snapshot_time = nz(v->snapshot_time);
        pv->is_a_snapshot = v->is_a_snapshot;
        pv->read_only = v->read_only;
}

static int reply_state(struct msg_link *l, const struct msg_origin *from, struct sd_sr *sr, int r,
                       struct sd_error *e)
{
        Ts__Sto__SrState rep = TS__STO__SR_STATE__INIT;
        Ts__Sto__Failure f = TS__STO__FAILURE__INIT;
        struct api_error ae = {0};
        struct sd_vdi_list list = {0};
        Ts__Sto__Vdi *pv = NULL, **pp = NULL;
        if (r == 0)
                r = sd_sr_scan(sr, &list, e);
        if (r == 0) {
                struct sd_sr_stat st = {0};
                if (sd_sr_stat(sr, &st, NULL) == 0) {
                        rep.physical_size = st.physical_size;
                        rep.physical_utilisation = st.physical_utilisation;
                        rep.virtual_allocation = st.virtual_allocation;
                }
                pv = calloc(list.n + 1, sizeof(*pv));
                pp = calloc(list.n + 1, sizeof(*pp));
                if (pv == NULL || pp == NULL) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < list.n; i++) {
                        ts__sto__vdi__init(&pv[i]);
                        fill_vdi(&pv[i], &list.v[i]);
                        pp[i] = &pv[i];
                }
                rep.vdis = pp;
                rep.n_vdis = list.n;
        } else {
                fill_failure(&f, e, &ae);
                rep.failure = &f;
        }
        r = msg_link_reply(l, from, &rep.base);
out:
        free(pv);
        free(pp);
        sd_vdi_list_clear(&list);
        api_error_clear(&ae);
        return r;
}

static int on_sr_attach(struct msg_link *l, const struct msg_origin *from,
                        const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrAttach *req = (const Ts__Sto__SrAttach *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        if (r == 0 && req->create && sr->drv->sr_create != NULL) /* iso: nothing to make */
                r = sd_sr_create(sr, 0, &e);
        if (r == 0)
                r = sd_sr_attach(sr, &e);
        if (r == 0)
                log_info("SR %s (%s) attached", sr->uuid, sr->drv->name);
        else
                log_warnx("SR %s: attach failed: %s", req->sr ? req->sr->uuid : "?", e.reason);
        return reply_state(l, from, sr, r, &e);
}

static int on_sr_scan(struct msg_link *l, const struct msg_origin *from,
                      const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrScan *req = (const Ts__Sto__SrScan *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        return reply_state(l, from, sr, r, &e);
}

static int reply_vdi(struct msg_link *l, const struct msg_origin *from, int r,
                     const struct sd_vdi *v, const struct sd_error *e)
{
        Ts__Sto__VdiResult rep = TS__STO__VDI_RESULT__INIT;
        Ts__Sto__Failure f = TS__STO__FAILURE__INIT;
        Ts__Sto__Vdi pv = TS__STO__VDI__INIT;
        struct api_error ae = {0};
        if (r < 0) {
                fill_failure(&f, e, &ae);
                rep.failure = &f;
        } else if (v != NULL) {
                fill_vdi(&pv, v);
                rep.vdi = &pv;
        }
        r = msg_link_reply(l, from, &rep.base);
        api_error_clear(&ae);
        return r;
}

static int on_vdi_create(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiCreate *req = (const Ts__Sto__VdiCreate *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        struct sd_vdi_create_args a = {
            .virtual_size = req->virtual_size,
            .format =
                strcmp(sr != NULL ? sr->drv->name : "", "lvm") == 0 ? SD_FMT_RAW : SD_FMT_QCOW2,
            .type = req->type[0] ? req->type : NULL,
            .uuid = req->uuid[0] ? req->uuid : NULL,
        };
        if (r == 0 && req->format[0] != '\0' && sd_format_parse(req->format, &a.format) < 0)
                r = sd_fail(&e, -EINVAL, SM_VDI_TYPE, "unknown format %s", req->format);
        if (r == 0)
                r = sd_vdi_create(sr, &a, &v, &e);
        if (r == 0)
                log_info("SR %s: created VDI %s (%llu bytes)", sr->uuid, v.location,
                         (unsigned long long)v.virtual_size);
        r = reply_vdi(l, from, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int on_vdi_delete(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiDelete *req = (const Ts__Sto__VdiDelete *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_delete(sr, req->location, &e);
        if (r == 0)
                log_info("SR %s: deleted VDI %s", sr->uuid, req->location);
        return reply_vdi(l, from, r, NULL, &e);
}

static int on_vdi_copy(struct msg_link *l, const struct msg_origin *from, void *arg,
                       const Ts__Sto__Sr *d, const char *location, bool snapshot)
{
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, d, &sr, &e);
        if (r == 0)
                r = snapshot ? sd_vdi_snapshot(sr, location, &v, &e)
                             : sd_vdi_clone(sr, location, &v, &e);
        if (r == 0)
                log_info("SR %s: %s of VDI %s is %s", sr->uuid, snapshot ? "snapshot" : "clone",
                         location, v.location);
        r = reply_vdi(l, from, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int on_vdi_clone(struct msg_link *l, const struct msg_origin *from,
                        const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiClone *req = (const Ts__Sto__VdiClone *)body;
        return on_vdi_copy(l, from, arg, req->sr, req->location, false);
}

static int on_vdi_snapshot(struct msg_link *l, const struct msg_origin *from,
                           const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiSnapshot *req = (const Ts__Sto__VdiSnapshot *)body;
        return on_vdi_copy(l, from, arg, req->sr, req->location, true);
}

/* ---- storage API additions ---------------------------------------------------------------- */

static int on_vdi_full_copy(struct msg_link *l, const struct msg_origin *from,
                            const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiCopy *req = (const Ts__Sto__VdiCopy *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *src = NULL, *dst = NULL;
        int r = get_sr(arg, req->dest != NULL ? req->dest : req->sr, &dst, &e);
        if (r == 0)
                r = get_sr(arg, req->sr, &src, &e);
        if (r == 0)
                r = sd_vdi_copy(src, req->location, dst,
                                strcmp(dst->drv->name, "lvm") == 0 ? SD_FMT_RAW : SD_FMT_QCOW2, &v,
                                &e);
        if (r == 0)
                log_info("SR %s: VDI %s copied to %s in SR %s", src->uuid, req->location,
                         v.location, dst->uuid);
        r = reply_vdi(l, from, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int reply_done(struct msg_link *l, const struct msg_origin *from, int r,
                      const struct sd_error *e)
{
        Ts__Sto__SrState rep = TS__STO__SR_STATE__INIT;
        Ts__Sto__Failure f = TS__STO__FAILURE__INIT;
        struct api_error ae = {0};
        if (r < 0) {
                fill_failure(&f, e, &ae);
                rep.failure = &f;
        }
        r = msg_link_reply(l, from, &rep.base);
        api_error_clear(&ae);
        return r;
}

static int on_sr_detach(struct msg_link *l, const struct msg_origin *from,
                        const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrDetach *req = (const Ts__Sto__SrDetach *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        if (r == 0)
                r = sd_sr_detach(sr, &e);
        if (r == 0)
                log_info("SR %s detached", sr->uuid);
        return reply_done(l, from, r, &e);
}

static int on_sr_delete(struct msg_link *l, const struct msg_origin *from,
                        const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrDelete *req = (const Ts__Sto__SrDelete *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        if (r == 0)
                r = sd_sr_delete(sr, &e);
        if (r == 0) {
                log_info("SR %s deleted", sr->uuid);
                struct serve *s = arg;
                for (size_t i = 0; i < s->n; i++)
                        if (s->srs[i] == sr) {
                                sd_sr_close(sr);
                                s->srs[i] = s->srs[--s->n];
                                break;
                        }
        }
        return reply_done(l, from, r, &e);
}

static int on_vdi_resize(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiResize *req = (const Ts__Sto__VdiResize *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_resize(sr, req->location, req->size, &e);
        if (r == 0)
                r = sd_vdi_introduce(sr, req->location, &v, &e);
        if (r == 0)
                log_info("SR %s: VDI %s resized to %llu bytes", sr->uuid, req->location,
                         (unsigned long long)v.virtual_size);
        r = reply_vdi(l, from, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int on_sr_probe(struct msg_link *l, const struct msg_origin *from,
                       const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrProbe *req = (const Ts__Sto__SrProbe *)body;
        struct sd_error e = {0};
        struct sd_map dconf = {0};
        struct sd_probe p = {0};
        int r = 0;
        for (size_t k = 0; k < req->n_device_config && r == 0; k++)
                r = sd_map_set(&dconf, req->device_config[k]->key, req->device_config[k]->value);
        if (r < 0)
                r = sd_fail(&e, r, SM_GENERAL, "out of memory");
        else
                r = sd_sr_probe(req->type, &dconf, &p, &e);
        Ts__Sto__ProbeResult rep = TS__STO__PROBE_RESULT__INIT;
        Ts__Sto__Failure f = TS__STO__FAILURE__INIT;
        struct api_error ae = {0};
        char *xml = NULL;
        if (r == 0)
                xml = sd_probe_to_xml(&p);
        if (r < 0) {
                fill_failure(&f, &e, &ae);
                rep.failure = &f;
        } else {
                rep.xml = xml != NULL ? xml : "";
        }
        r = msg_link_reply(l, from, &rep.base);
        free(xml);
        api_error_clear(&ae);
        sd_probe_clear(&p);
        sd_map_clear(&dconf);
        return r;
}

static int on_vdi_introduce(struct msg_link *l, const struct msg_origin *from,
                            const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiIntroduce *req = (const Ts__Sto__VdiIntroduce *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = get_sr(arg, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_introduce(sr, req->location, &v, &e);
        r = reply_vdi(l, from, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

/* Handlers of the storage API additions (after the original set, to keep merges simple). */
static int serve_storage_api(struct msg_link *l, struct serve *s)
{
        int r = msg_link_handle(l, &ts__sto__vdi_copy__descriptor, on_vdi_full_copy, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__sr_detach__descriptor, on_sr_detach, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__sr_delete__descriptor, on_sr_delete, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_resize__descriptor, on_vdi_resize, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__sr_probe__descriptor, on_sr_probe, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_introduce__descriptor, on_vdi_introduce, s);
        return r;
}

int serve_new(struct msg_link *l, struct serve **out)
{
        struct serve *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return -ENOMEM;
        int r = msg_link_handle(l, &ts__sto__sr_attach__descriptor, on_sr_attach, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__sr_scan__descriptor, on_sr_scan, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_create__descriptor, on_vdi_create, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_delete__descriptor, on_vdi_delete, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_clone__descriptor, on_vdi_clone, s);
        if (r == 0)
                r = msg_link_handle(l, &ts__sto__vdi_snapshot__descriptor, on_vdi_snapshot, s);
        if (r == 0)
                r = serve_storage_api(l, s);
        if (r == 0)
                r = attach_register(l, s, &s->att);
        if (r < 0) {
                free(s);
                return r;
        }
        *out = s;
        return 0;
}
