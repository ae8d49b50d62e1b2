/* Serving proto/storage.proto (see serve.h).  Each request names its SR completely; every
 * operation runs on a worker thread (serve_job.h), opening the SRs it needs, so a long copy
 * or scan never stops the loop from answering the next request.  The drivers serialise the
 * operations of one SR (driver.c's per-SR lock). */
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
#include "stord/serve_job.h"
#include "stord/work.h"

LOG_MODULE(serve)

struct serve {
        struct msg_link *link;
        struct work_pool *pool;  /* work.h: where the operations run */
        struct attachments *att; /* attach.c */
};

void serve_free(struct serve *s)
{
        if (s == NULL)
                return;
        work_pool_free(s->pool); /* finishes the operations under way (and replies) */
        attach_free(s->att);
        free(s);
}

struct work_pool *serve_pool(struct serve *s)
{
        return s->pool;
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

static int reply_state(struct serve_job *j, struct sd_sr *sr, int r, struct sd_error *e)
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
        r = serve_job_reply(j, &rep.base);
out:
        free(pv);
        free(pp);
        sd_vdi_list_clear(&list);
        api_error_clear(&ae);
        return r;
}

static int on_sr_attach(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrAttach *req = (const Ts__Sto__SrAttach *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0 && req->create && sr->drv->sr_create != NULL) /* iso: nothing to make */
                r = sd_sr_create(sr, 0, &e);
        if (r == 0)
                r = sd_sr_attach(sr, &e);
        if (r == 0)
                log_info("SR %s (%s) attached", sr->uuid, sr->drv->name);
        else
                log_warnx("SR %s: attach failed: %s", req->sr ? req->sr->uuid : "?", e.reason);
        return reply_state(j, sr, r, &e);
}

static int on_sr_scan(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrScan *req = (const Ts__Sto__SrScan *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        return reply_state(j, sr, r, &e);
}

static int reply_vdi(struct serve_job *j, int r, const struct sd_vdi *v, const struct sd_error *e)
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
        r = serve_job_reply(j, &rep.base);
        api_error_clear(&ae);
        return r;
}

static int on_vdi_create(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiCreate *req = (const Ts__Sto__VdiCreate *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
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
        r = reply_vdi(j, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int on_vdi_delete(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiDelete *req = (const Ts__Sto__VdiDelete *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_delete(sr, req->location, &e);
        if (r == 0)
                log_info("SR %s: deleted VDI %s", sr->uuid, req->location);
        return reply_vdi(j, r, NULL, &e);
}

static int on_vdi_copy(struct serve_job *j, void *arg, const Ts__Sto__Sr *d, const char *location,
                       bool snapshot)
{
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, d, &sr, &e);
        if (r == 0)
                r = snapshot ? sd_vdi_snapshot(sr, location, &v, &e)
                             : sd_vdi_clone(sr, location, &v, &e);
        if (r == 0)
                log_info("SR %s: %s of VDI %s is %s", sr->uuid, snapshot ? "snapshot" : "clone",
                         location, v.location);
        r = reply_vdi(j, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int on_vdi_clone(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiClone *req = (const Ts__Sto__VdiClone *)body;
        return on_vdi_copy(j, arg, req->sr, req->location, false);
}

static int on_vdi_snapshot(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiSnapshot *req = (const Ts__Sto__VdiSnapshot *)body;
        return on_vdi_copy(j, arg, req->sr, req->location, true);
}

/* ---- storage API additions ---------------------------------------------------------------- */

static int on_vdi_full_copy(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiCopy *req = (const Ts__Sto__VdiCopy *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *src = NULL, *dst = NULL;
        int r = serve_job_sr(j, req->dest != NULL ? req->dest : req->sr, &dst, &e);
        if (r == 0)
                r = serve_job_sr(j, req->sr, &src, &e);
        if (r == 0)
                r = sd_vdi_copy(src, req->location, dst,
                                strcmp(dst->drv->name, "lvm") == 0 ? SD_FMT_RAW : SD_FMT_QCOW2, &v,
                                &e);
        if (r == 0)
                log_info("SR %s: VDI %s copied to %s in SR %s", src->uuid, req->location,
                         v.location, dst->uuid);
        r = reply_vdi(j, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int reply_done(struct serve_job *j, int r, const struct sd_error *e)
{
        Ts__Sto__SrState rep = TS__STO__SR_STATE__INIT;
        Ts__Sto__Failure f = TS__STO__FAILURE__INIT;
        struct api_error ae = {0};
        if (r < 0) {
                fill_failure(&f, e, &ae);
                rep.failure = &f;
        }
        r = serve_job_reply(j, &rep.base);
        api_error_clear(&ae);
        return r;
}

static int on_sr_detach(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrDetach *req = (const Ts__Sto__SrDetach *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_sr_detach(sr, &e);
        if (r == 0)
                log_info("SR %s detached", sr->uuid);
        return reply_done(j, r, &e);
}

static int on_sr_delete(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__SrDelete *req = (const Ts__Sto__SrDelete *)body;
        struct sd_error e = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_sr_delete(sr, &e);
        if (r == 0)
                log_info("SR %s deleted", sr->uuid);
        return reply_done(j, r, &e);
}

static int on_vdi_resize(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiResize *req = (const Ts__Sto__VdiResize *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_resize(sr, req->location, req->size, &e);
        if (r == 0)
                r = sd_vdi_introduce(sr, req->location, &v, &e);
        if (r == 0)
                log_info("SR %s: VDI %s resized to %llu bytes", sr->uuid, req->location,
                         (unsigned long long)v.virtual_size);
        r = reply_vdi(j, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

static int on_sr_probe(struct serve_job *j, const ProtobufCMessage *body, void *arg)
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
        r = serve_job_reply(j, &rep.base);
        free(xml);
        api_error_clear(&ae);
        sd_probe_clear(&p);
        sd_map_clear(&dconf);
        return r;
}

static int on_vdi_introduce(struct serve_job *j, const ProtobufCMessage *body, void *arg)
{
        const Ts__Sto__VdiIntroduce *req = (const Ts__Sto__VdiIntroduce *)body;
        struct sd_error e = {0};
        struct sd_vdi v = {0};
        struct sd_sr *sr = NULL;
        int r = serve_job_sr(j, req->sr, &sr, &e);
        if (r == 0)
                r = sd_vdi_introduce(sr, req->location, &v, &e);
        r = reply_vdi(j, r, &v, &e);
        sd_vdi_clear(&v);
        return r;
}

/* The requests served on workers, each with its operation. */
static const struct route {
        const ProtobufCMessageDescriptor *type;
        serve_job_fn fn;
} routes[] = {
    {&ts__sto__sr_attach__descriptor, on_sr_attach},
    {&ts__sto__sr_scan__descriptor, on_sr_scan},
    {&ts__sto__vdi_create__descriptor, on_vdi_create},
    {&ts__sto__vdi_delete__descriptor, on_vdi_delete},
    {&ts__sto__vdi_clone__descriptor, on_vdi_clone},
    {&ts__sto__vdi_snapshot__descriptor, on_vdi_snapshot},
    {&ts__sto__vdi_copy__descriptor, on_vdi_full_copy},
    {&ts__sto__sr_detach__descriptor, on_sr_detach},
    {&ts__sto__sr_delete__descriptor, on_sr_delete},
    {&ts__sto__vdi_resize__descriptor, on_vdi_resize},
    {&ts__sto__sr_probe__descriptor, on_sr_probe},
    {&ts__sto__vdi_introduce__descriptor, on_vdi_introduce},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* What a registered handler gets: the serve and the route. */
static struct route_arg {
        struct serve *s;
        const struct route *route;
} route_args[N_ROUTES];

/* Loop thread: hands the request to a worker. */
static int on_request(struct msg_link *l, const struct msg_origin *from,
                      const ProtobufCMessage *body, void *arg)
{
        const struct route_arg *ra = arg;
        return serve_submit(ra->s->pool, l, from, body, ra->route->fn, NULL, ra->s);
}

int serve_new(struct event_base *base, struct msg_link *l, const char *run_dir, struct serve **out)
{
        struct serve *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return -ENOMEM;
        s->link = l;
        int r = work_pool_new(base, &s->pool);
        for (size_t i = 0; i < N_ROUTES && r == 0; i++) {
                route_args[i].s = s;
                route_args[i].route = &routes[i];
                r = msg_link_handle(l, routes[i].type, on_request, &route_args[i]);
        }
        if (r == 0)
                r = attach_register(l, s, run_dir, &s->att);
        if (r < 0) {
                serve_free(s);
                return r;
        }
        *out = s;
        return 0;
}
