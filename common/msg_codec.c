/* Envelope encode/decode/validation; see msg_codec.h. */
#include "common/msg_codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const reject_names[MSG_REJ__COUNT] = {
    [MSG_REJ_MALFORMED] = "malformed",   [MSG_REJ_VERSION] = "version",
    [MSG_REJ_MISSING] = "missing-field", [MSG_REJ_STALE] = "stale",
    [MSG_REJ_BAD_BODY] = "bad-body",     [MSG_REJ_UNKNOWN_TYPE] = "unknown-type",
    [MSG_REJ_BAD_SENDER] = "bad-sender",
};

const char *msg_reject_name(enum msg_reject r)
{
        return (unsigned)r < MSG_REJ__COUNT ? reject_names[r] : "?";
}

uint64_t msg_counters_rejected(const struct msg_counters *c)
{
        uint64_t n = 0;
        for (int i = 0; c != NULL && i < MSG_REJ__COUNT; i++)
                n += c->rejected[i];
        return n;
}

static int reject(struct msg_counters *c, enum msg_reject why, int err)
{
        if (c != NULL)
                c->rejected[why]++;
        return err;
}

static int kind_valid(Ts__Kind k)
{
        return k == TS__KIND__REQUEST || k == TS__KIND__REPLY || k == TS__KIND__EVENT;
}

int msg_encode(const struct msg_header *h, const ProtobufCMessage *body, uint8_t **out, size_t *len)
{
        if (h == NULL || body == NULL || out == NULL || len == NULL || h->sender == NULL ||
            h->sender[0] == '\0' || h->generation == 0 || !kind_valid(h->kind))
                return -EINVAL;
        if (h->kind != TS__KIND__EVENT && h->request_id == 0)
                return -EINVAL;

        size_t body_len = protobuf_c_message_get_packed_size(body);
        if (body_len > MSG_MAX_FRAME)
                return -EMSGSIZE;
        uint8_t *body_buf = malloc(body_len ? body_len : 1);
        if (body_buf == NULL)
                return -ENOMEM;
        protobuf_c_message_pack(body, body_buf);

        Ts__Envelope env = TS__ENVELOPE__INIT;
        env.protocol_version = MSG_PROTOCOL_VERSION;
        env.request_id = h->kind == TS__KIND__EVENT ? 0 : h->request_id;
        env.generation = h->generation;
        env.request_generation = h->kind == TS__KIND__REPLY ? h->request_generation : 0;
        env.sender = (char *)h->sender;
        env.kind = h->kind;
        env.type = (char *)body->descriptor->name;
        env.body.data = body_buf;
        env.body.len = body_len;

        int r = 0;
        size_t n = ts__envelope__get_packed_size(&env);
        uint8_t *buf = NULL;
        if (n > MSG_MAX_FRAME) {
                r = -EMSGSIZE;
                goto out;
        }
        buf = malloc(n ? n : 1);
        if (buf == NULL) {
                r = -ENOMEM;
                goto out;
        }
        ts__envelope__pack(&env, buf);
        *out = buf;
        *len = n;
out:
        free(body_buf);
        return r;
}

int msg_decode(const uint8_t *buf, size_t len, Ts__Envelope **out, struct msg_counters *c)
{
        if (out == NULL)
                return -EINVAL;
        *out = NULL;
        if (buf == NULL || len > MSG_MAX_FRAME)
                return reject(c, MSG_REJ_MALFORMED, -EBADMSG);
        Ts__Envelope *env = ts__envelope__unpack(NULL, len, buf);
        if (env == NULL)
                return reject(c, MSG_REJ_MALFORMED, -EBADMSG);

        int r = 0;
        if (env->protocol_version != MSG_PROTOCOL_VERSION) {
                r = reject(c, MSG_REJ_VERSION, -EPROTO);
                goto out;
        }
        /* protobuf-c gives empty strings (not NULL) for absent proto3 strings. */
        if (env->sender == NULL || env->sender[0] == '\0' ||
            strlen(env->sender) > MSG_IDENTITY_MAX || env->type == NULL || env->type[0] == '\0' ||
            env->generation == 0 || !kind_valid(env->kind) ||
            (env->kind != TS__KIND__EVENT && env->request_id == 0)) {
                r = reject(c, MSG_REJ_MISSING, -EBADMSG);
                goto out;
        }
out:
        if (r < 0)
                ts__envelope__free_unpacked(env, NULL);
        else
                *out = env;
        return r;
}

int msg_check_fresh(const Ts__Envelope *env, uint64_t peer_generation, uint64_t own_generation,
                    int reply_pending, struct msg_counters *c)
{
        if (env == NULL)
                return -EINVAL;
        if (peer_generation != 0 && env->generation < peer_generation)
                return reject(c, MSG_REJ_STALE, -ESTALE);
        if (env->kind == TS__KIND__REPLY &&
            (env->request_generation != own_generation || !reply_pending))
                return reject(c, MSG_REJ_STALE, -ESTALE);
        return 0;
}

int msg_body_unpack(const Ts__Envelope *env, const ProtobufCMessageDescriptor *d,
                    ProtobufCMessage **out)
{
        if (out == NULL)
                return -EINVAL;
        *out = NULL;
        if (env == NULL || d == NULL || env->type == NULL || strcmp(env->type, d->name) != 0)
                return -EBADMSG;
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, env->body.len, env->body.data);
        if (m == NULL)
                return -EBADMSG;
        *out = m;
        return 0;
}

void msg_envelope_free(Ts__Envelope *env)
{
        if (env != NULL)
                ts__envelope__free_unpacked(env, NULL);
}
