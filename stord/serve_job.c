/* Requests served on worker threads (see serve_job.h). */
#include "stord/serve_job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/msg.h"
#include "proto/storage.pb-c.h"
#include "stord/driver.h"
#include "stord/work.h"

LOG_MODULE(serve)

#define JOB_MAX_SRS 2

struct serve_job {
        struct msg_link *link;
        struct msg_origin from;
        ProtobufCMessage *req; /* owned copy */
        serve_job_fn fn;
        serve_job_after_fn after;
        void *ctx;
        int result;
        const ProtobufCMessageDescriptor *rep_type;
        uint8_t *rep; /* packed reply */
        size_t rep_len;
        struct sd_sr *srs[JOB_MAX_SRS];
        size_t n_srs;
};

static void job_free(struct serve_job *j)
{
        for (size_t i = 0; i < j->n_srs; i++)
                sd_sr_close(j->srs[i]);
        if (j->req != NULL)
                protobuf_c_message_free_unpacked(j->req, NULL);
        free(j->rep);
        free(j);
}

static void job_run(void *arg)
{
        struct serve_job *j = arg;
        j->result = j->fn(j, j->req, j->ctx);
        for (size_t i = 0; i < j->n_srs; i++)
                sd_sr_close(j->srs[i]);
        j->n_srs = 0;
}

static void job_done(void *arg)
{
        struct serve_job *j = arg;
        if (j->after != NULL)
                j->after(j->ctx, j->result);
        int r = j->result;
        if (r == 0 && j->rep == NULL)
                r = -EPROTO; /* the operation forgot to reply: say so rather than hang */
        if (r == 0) {
                ProtobufCMessage *rep =
                    protobuf_c_message_unpack(j->rep_type, NULL, j->rep_len, j->rep);
                r = rep != NULL ? msg_link_reply(j->link, &j->from, rep) : -ENOMEM;
                if (rep != NULL)
                        protobuf_c_message_free_unpacked(rep, NULL);
                if (r < 0)
                        log_warnx("replying to %s: %s", j->from.peer, strerror(-r));
        } else {
                msg_link_reply_error(j->link, &j->from, -r, NULL);
        }
        job_free(j);
}

int serve_submit(struct work_pool *pool, struct msg_link *l, const struct msg_origin *from,
                 const ProtobufCMessage *req, serve_job_fn fn, serve_job_after_fn after, void *ctx)
{
        struct serve_job *j = calloc(1, sizeof(*j));
        if (j == NULL)
                return -ENOMEM;
        j->link = l;
        j->from = *from;
        j->from.type = NULL; /* valid during the callback only */
        j->fn = fn;
        j->after = after;
        j->ctx = ctx;
        /* the body is borrowed for the callback only: keep a copy of our own */
        size_t len = protobuf_c_message_get_packed_size(req);
        uint8_t *buf = malloc(len + 1);
        if (buf != NULL) {
                protobuf_c_message_pack(req, buf);
                j->req = protobuf_c_message_unpack(req->descriptor, NULL, len, buf);
                free(buf);
        }
        int r = j->req != NULL ? work_submit(pool, job_run, job_done, j) : -ENOMEM;
        if (r < 0)
                job_free(j);
        return r;
}

int serve_job_reply(struct serve_job *j, const ProtobufCMessage *rep)
{
        free(j->rep);
        j->rep_len = protobuf_c_message_get_packed_size(rep);
        j->rep = malloc(j->rep_len + 1);
        if (j->rep == NULL)
                return -ENOMEM;
        protobuf_c_message_pack(rep, j->rep);
        j->rep_type = rep->descriptor;
        return 0;
}

int serve_job_sr(struct serve_job *j, const Ts__Sto__Sr *d, struct sd_sr **out, struct sd_error *e)
{
        if (d == NULL || d->uuid[0] == '\0')
                return sd_fail(e, -EINVAL, SM_INVALID_ARG, "request names no SR");
        if (j->n_srs == JOB_MAX_SRS)
                return sd_fail(e, -E2BIG, SM_GENERAL, "too many SRs in one request");
        struct sd_map dconf = {0};
        int r = 0;
        for (size_t k = 0; k < d->n_device_config && r == 0; k++)
                r = sd_map_set(&dconf, d->device_config[k]->key, d->device_config[k]->value);
        if (r < 0)
                r = sd_fail(e, r, SM_GENERAL, "out of memory");
        else
                r = sd_sr_open(d->type, d->uuid, &dconf, out, e);
        sd_map_clear(&dconf);
        if (r == 0)
                j->srs[j->n_srs++] = *out;
        return r;
}
