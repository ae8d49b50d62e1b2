/* The socket half of the internal links, shared by server and client: a ZeroMQ socket on a
 * libevent loop, sending envelopes, receiving and dispatching them, pending requests with
 * timeouts, handlers by body type, and the public msg_link_* calls. */
#include "common/msg_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <zmq.h>

#include "common/log.h"

LOG_MODULE(msg);

/* Frames handled per wake-up before yielding to the rest of the loop. */
#define DRAIN_BATCH 256

uint64_t msg_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Microseconds since the epoch: larger for every later start, without persisted state. */
uint64_t msg_default_generation(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void msg_link_log_reject(struct msg_link *l, const char *peer, const char *what, int err)
{
        uint64_t now = msg_now_ms();
        if (now - l->rl_window_ms >= 1000) {
                l->rl_window_ms = now;
                l->rl_count = 0;
        }
        if (l->rl_count++ < 10)
                log_warnx("%s: dropped message from %s: %s (%s)", l->identity,
                          peer && *peer ? peer : "?", what, strerror(-err));
        else
                log_debug("%s: dropped message from %s: %s (%s)", l->identity,
                          peer && *peer ? peer : "?", what, strerror(-err));
}

/* ZMQ_FD is edge-triggered: it only signals a change, so after waking up we must drain
 * until ZMQ_EVENTS shows no POLLIN; and a send may consume the edge, hence kick(). */
static void kick(struct msg_link *l)
{
        if (l->ev_read != NULL)
                event_active(l->ev_read, EV_READ, 0);
}

void msg_link_poll(struct msg_link *l)
{
        kick(l);
}

int msg_link_send(struct msg_link *l, const char *to, const struct msg_header *h,
                  const ProtobufCMessage *body)
{
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = msg_encode(h, body, &buf, &len);
        if (r < 0)
                return r;
        if (l->is_server) {
                if (to == NULL || to[0] == '\0') {
                        r = -EINVAL;
                        goto out;
                }
                /* ROUTER_MANDATORY: an unknown routing id fails here with EHOSTUNREACH. */
                if (zmq_send(l->sock, to, strlen(to), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
                        r = -errno;
                        goto out;
                }
        }
        if (zmq_send(l->sock, buf, len, ZMQ_DONTWAIT) < 0)
                r = -errno;
out:
        free(buf);
        if (r < 0) {
                l->counters.tx_failed++;
                log_debug("%s: cannot send %s to %s: %s", l->identity, body->descriptor->name,
                          to ? to : "server", strerror(-r));
        } else {
                l->counters.tx++;
        }
        kick(l);
        return r;
}

static struct msg_pending *pending_take(struct msg_link *l, uint64_t id, const char *peer)
{
        for (struct msg_pending **pp = &l->pending; *pp; pp = &(*pp)->next) {
                struct msg_pending *p = *pp;
                if (p->id == id && (peer == NULL || strcmp(p->peer, peer) == 0)) {
                        *pp = p->next;
                        return p;
                }
        }
        return NULL;
}

static int pending_exists(struct msg_link *l, uint64_t id, const char *peer)
{
        for (struct msg_pending *p = l->pending; p; p = p->next)
                if (p->id == id && (peer == NULL || strcmp(p->peer, peer) == 0))
                        return 1;
        return 0;
}

static void pending_free(struct msg_pending *p)
{
        if (p == NULL)
                return;
        if (p->timer != NULL)
                event_free(p->timer);
        free(p);
}

static void on_request_timeout(evutil_socket_t fd, short what, void *arg)
{
        struct msg_pending *p = arg;
        struct msg_link *l = p->l;
        p = pending_take(l, p->id, NULL);
        if (p == NULL)
                return;
        l->counters.timeouts++;
        log_debug("%s: request %llu to %s timed out", l->identity, (unsigned long long)p->id,
                  p->peer);
        p->cb(-ETIMEDOUT, NULL, NULL, p->arg);
        pending_free(p);
}

int msg_link_request_ex(struct msg_link *l, const char *peer, const ProtobufCMessage *body,
                        const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                        msg_reply_fn cb, void *arg, int internal)
{
        if (l == NULL || body == NULL || cb == NULL || timeout_ms <= 0)
                return -EINVAL;
        if (l->is_server && (peer == NULL || peer[0] == '\0' || strlen(peer) > MSG_IDENTITY_MAX))
                return -EINVAL;
        struct msg_pending *p = calloc(1, sizeof *p);
        if (p == NULL)
                return -ENOMEM;
        p->l = l;
        p->id = ++l->next_id;
        snprintf(p->peer, sizeof p->peer, "%s", l->is_server ? peer : MSG_SERVER_IDENTITY);
        p->sent_gen = l->server_gen;
        p->internal = internal;
        p->reply_type = reply_type;
        p->cb = cb;
        p->arg = arg;
        p->sent_ms = msg_now_ms();
        p->timer = evtimer_new(l->base, on_request_timeout, p);
        if (p->timer == NULL) {
                free(p);
                return -ENOMEM;
        }
        struct msg_header h = {.kind = TS__KIND__REQUEST,
                               .request_id = p->id,
                               .generation = l->generation,
                               .sender = l->identity};
        int r = msg_link_send(l, l->is_server ? peer : NULL, &h, body);
        if (r < 0) {
                pending_free(p);
                /* Not connected (client with ZMQ_IMMEDIATE) reads as unreachable too. */
                return r == -EAGAIN && !l->is_server && !l->announced ? -EHOSTUNREACH : r;
        }
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(p->timer, &tv);
        p->next = l->pending;
        l->pending = p;
        return 0;
}

int msg_link_request(struct msg_link *l, const char *peer, const ProtobufCMessage *body,
                     const ProtobufCMessageDescriptor *reply_type, int timeout_ms, msg_reply_fn cb,
                     void *arg)
{
        return msg_link_request_ex(l, peer, body, reply_type, timeout_ms, cb, arg, 0);
}

struct fail_filter {
        const char *peer; /* NULL: any */
        int client_filter;
        uint64_t keep_gen;
        bool internal_only;
};

static bool fail_hit(const struct msg_pending *p, const struct fail_filter *f)
{
        if (f->internal_only)
                return p->internal;
        if (f->peer != NULL && strcmp(p->peer, f->peer) != 0)
                return false;
        return !(f->client_filter &&
                 (p->internal || p->sent_gen == 0 || p->sent_gen == f->keep_gen));
}

/* Fails every pending request F selects with STATUS. */
static void fail_where(struct msg_link *l, const struct fail_filter *f, int status)
{
        /* Detach the victims first: their callbacks may issue new requests. */
        struct msg_pending *victims = NULL;
        for (struct msg_pending **pp = &l->pending; *pp;) {
                struct msg_pending *p = *pp;
                if (fail_hit(p, f)) {
                        *pp = p->next;
                        p->next = victims;
                        victims = p;
                } else {
                        pp = &p->next;
                }
        }
        while (victims != NULL) {
                struct msg_pending *p = victims;
                victims = p->next;
                p->cb(status, NULL, NULL, p->arg);
                pending_free(p);
        }
}

void msg_link_fail_pending(struct msg_link *l, const char *peer, int status, int client_filter,
                           uint64_t keep_gen)
{
        struct fail_filter f = {.peer = peer, .client_filter = client_filter, .keep_gen = keep_gen};
        fail_where(l, &f, status);
}

void msg_link_fail_internal(struct msg_link *l, int status)
{
        struct fail_filter f = {.internal_only = true};
        fail_where(l, &f, status);
}

static void complete_reply(struct msg_link *l, struct msg_pending *p, const Ts__Envelope *env)
{
        ProtobufCMessage *body = NULL;
        if (strcmp(env->type, ts__peer__error__descriptor.name) == 0) {
                int r = msg_body_unpack(env, &ts__peer__error__descriptor, &body);
                if (r < 0) {
                        l->counters.rejected[MSG_REJ_BAD_BODY]++;
                        p->cb(-EBADMSG, NULL, NULL, p->arg);
                        return;
                }
                const Ts__Peer__Error *e = (const Ts__Peer__Error *)body;
                int err = e->errnum > 0 ? e->errnum : EIO;
                p->cb(-err, NULL, e->message, p->arg);
                protobuf_c_message_free_unpacked(body, NULL);
                return;
        }
        if (p->reply_type == NULL) {
                p->cb(0, NULL, NULL, p->arg);
                return;
        }
        if (msg_body_unpack(env, p->reply_type, &body) < 0) {
                l->counters.rejected[MSG_REJ_BAD_BODY]++;
                msg_link_log_reject(l, env->sender, "reply of the wrong type or unparsable",
                                    -EBADMSG);
                p->cb(-EBADMSG, NULL, NULL, p->arg);
                return;
        }
        p->cb(0, body, NULL, p->arg);
        protobuf_c_message_free_unpacked(body, NULL);
}

static void dispatch_incoming(struct msg_link *l, const struct msg_origin *from,
                              const Ts__Envelope *env)
{
        if (l->is_server && msg_server_builtin(l, from, env))
                return;
        if (!l->is_server && msg_client_builtin(l, env))
                return;
        if (l->is_server && msg_server_peer_gen(l, from->peer) == 0)
                msg_server_nudge(l, from->peer); /* served, but it should say Hello again */
        if (!l->is_server && env->kind == TS__KIND__REQUEST)
                msg_client_owe(l, from); /* heartbeats until answered */
        struct msg_handler *h = l->handlers;
        while (h != NULL && strcmp(h->d->name, env->type) != 0)
                h = h->next;
        if (h == NULL) {
                l->counters.rejected[MSG_REJ_UNKNOWN_TYPE]++;
                msg_link_log_reject(l, env->sender, env->type, -ENOSYS);
                if (env->kind == TS__KIND__REQUEST)
                        msg_link_reply_error(l, from, ENOSYS, "no handler for this type");
                return;
        }
        ProtobufCMessage *body = NULL;
        if (msg_body_unpack(env, h->d, &body) < 0) {
                l->counters.rejected[MSG_REJ_BAD_BODY]++;
                msg_link_log_reject(l, env->sender, "unparsable body", -EBADMSG);
                if (env->kind == TS__KIND__REQUEST)
                        msg_link_reply_error(l, from, EBADMSG, "unparsable body");
                return;
        }
        int r = h->fn(l, from, body, h->arg);
        if (r < 0 && env->kind == TS__KIND__REQUEST)
                msg_link_reply_error(l, from, -r, strerror(-r));
        protobuf_c_message_free_unpacked(body, NULL);
}

/* A reply to a request of this incarnation from the current incarnation of its peer, whose
 * type has a handler: passed to it although nobody waits for it any more. */
static int late_reply_wanted(struct msg_link *l, const Ts__Envelope *env, uint64_t peer_gen)
{
        if (env->request_generation != l->generation ||
            (peer_gen != 0 && env->generation < peer_gen))
                return 0;
        for (struct msg_handler *h = l->handlers; h != NULL; h = h->next)
                if (strcmp(h->d->name, env->type) == 0)
                        return 1;
        return 0;
}

/* One frame FRAME from routing id IDENTITY (server) has arrived. */
static void handle_frame(struct msg_link *l, const char *identity, const uint8_t *frame, size_t len)
{
        Ts__Envelope *env = NULL;
        l->counters.rx++;
        int r = msg_decode(frame, len, &env, &l->counters);
        if (r < 0) {
                msg_link_log_reject(l, identity, r == -EPROTO ? "protocol version" : "malformed",
                                    r);
                return;
        }
        if (l->is_server && strcmp(env->sender, identity) != 0) {
                l->counters.rejected[MSG_REJ_BAD_SENDER]++;
                msg_link_log_reject(l, identity, "sender is not the routing id", -EPERM);
                goto out;
        }
        const char *peer = l->is_server ? identity : NULL;
        uint64_t peer_gen = l->is_server ? msg_server_peer_gen(l, identity) : l->server_gen;
        int awaited = env->kind == TS__KIND__REPLY && pending_exists(l, env->request_id, peer);
        if (env->kind == TS__KIND__REPLY && !awaited && late_reply_wanted(l, env, peer_gen)) {
                /* Its request already completed (timed out, or its peer was dropped while
                 * stopped): the answer still tells the truth about the peer's state. */
                struct msg_origin from = {.kind = TS__KIND__REPLY,
                                          .request_id = env->request_id,
                                          .generation = env->generation,
                                          .type = env->type};
                snprintf(from.peer, sizeof from.peer, "%s", env->sender);
                l->counters.rejected[MSG_REJ_STALE]++; /* still not an awaited reply */
                dispatch_incoming(l, &from, env);
                goto out;
        }
        r = msg_check_fresh(env, peer_gen, l->generation, awaited, &l->counters);
        if (r < 0) {
                msg_link_log_reject(l, env->sender, "stale", r);
                goto out;
        }
        if (l->is_server)
                msg_server_touch(l, identity, env->generation);
        else
                msg_client_seen(l, env->generation);

        if (env->kind == TS__KIND__REPLY) {
                if (l->is_server && peer_gen == 0)
                        msg_server_nudge(l, identity); /* a peer we dropped is still there */
                struct msg_pending *p = pending_take(l, env->request_id, peer);
                if (p != NULL) { /* gone if msg_client_seen() failed it just now */
                        complete_reply(l, p, env);
                        pending_free(p);
                }
                goto out;
        }
        struct msg_origin from = {.kind = env->kind,
                                  .request_id = env->request_id,
                                  .generation = env->generation,
                                  .type = env->type};
        snprintf(from.peer, sizeof from.peer, "%s", env->sender);
        dispatch_incoming(l, &from, env);
out:
        msg_envelope_free(env);
}

/* Receives one whole message (all its parts); returns 0, -EAGAIN when none is waiting. */
static int recv_one(struct msg_link *l)
{
        char identity[MSG_IDENTITY_MAX + 1] = "";
        zmq_msg_t part;
        int nparts = 0, r = 0, more;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        do {
                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, l->sock, ZMQ_DONTWAIT) < 0) {
                        r = -errno;
                        zmq_msg_close(&part);
                        break;
                }
                more = zmq_msg_more(&part);
                if (l->is_server && nparts == 0) {
                        size_t n = zmq_msg_size(&part);
                        if (n > MSG_IDENTITY_MAX)
                                n = MSG_IDENTITY_MAX;
                        memcpy(identity, zmq_msg_data(&part), n);
                        identity[n] = '\0';
                        zmq_msg_close(&part);
                } else if (nparts == (l->is_server ? 1 : 0)) {
                        zmq_msg_move(&frame, &part);
                        zmq_msg_close(&part);
                } else {
                        zmq_msg_close(&part);
                }
                nparts++;
        } while (more);

        if (r == -EAGAIN && nparts == 0)
                goto out;
        if (r < 0) {
                if (r != -EAGAIN)
                        log_warnx("%s: receive: %s", l->identity, zmq_strerror(-r));
                goto out;
        }
        r = 0;
        if (nparts != (l->is_server ? 2 : 1)) {
                /* One envelope per message; anything else is malformed. */
                l->counters.rx++;
                l->counters.rejected[MSG_REJ_MALFORMED]++;
                msg_link_log_reject(l, identity, "wrong number of frames", -EBADMSG);
                goto out;
        }
        handle_frame(l, identity, zmq_msg_data(&frame), zmq_msg_size(&frame));
out:
        zmq_msg_close(&frame);
        return r;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
        struct msg_link *l = arg;
        for (int i = 0; i < DRAIN_BATCH; i++) {
                int events = 0;
                size_t sz = sizeof events;
                if (zmq_getsockopt(l->sock, ZMQ_EVENTS, &events, &sz) < 0) {
                        log_warnx("%s: ZMQ_EVENTS: %s", l->identity, zmq_strerror(errno));
                        return;
                }
                if (!(events & ZMQ_POLLIN))
                        return;
                int r = recv_one(l);
                if (r < 0 && r != -EINTR)
                        return;
        }
        kick(l); /* more left: continue on the next loop iteration */
}

/* One ZeroMQ context for every link of the process (the links live on one thread): a
 * context costs two threads, and a spare domd opens a second link when it becomes a VM's
 * domd (while the first still lingers). */
static void *shared_ctx;
static unsigned shared_ctx_users;

static void *ctx_get(void)
{
        if (shared_ctx == NULL)
                shared_ctx = zmq_ctx_new();
        if (shared_ctx != NULL)
                shared_ctx_users++;
        return shared_ctx;
}

static void ctx_put(void)
{
        if (shared_ctx_users > 0 && --shared_ctx_users == 0) {
                zmq_ctx_term(shared_ctx);
                shared_ctx = NULL;
        }
}

int msg_link_init(struct msg_link *l, struct event_base *base, int type, const char *identity,
                  uint64_t generation)
{
        l->base = base;
        l->generation = generation ? generation : msg_default_generation();
        l->identity = strdup(identity);
        if (l->identity == NULL)
                return -ENOMEM;
        l->ctx = ctx_get();
        if (l->ctx == NULL)
                return -errno;
        l->sock = zmq_socket(l->ctx, type);
        if (l->sock == NULL)
                return -errno;
        int zero = 0, one = 1;
        /* Never hang in close on undelivered messages: the peer re-syncs through Hello. */
        zmq_setsockopt(l->sock, ZMQ_LINGER, &zero, sizeof zero);
        /* No ZMTP heartbeats: on an ipc:// socket the kernel reports a dead peer's
         * connection at once, and our own Ping/Pong covers stalled ones.  At a second
         * each they cost xapid a send, a receive and a timer per domd every second: with
         * a thousand domds, most of its idle CPU and a wake-up of every domd. */
        int64_t maxmsg = MSG_MAX_FRAME + 1024;
        zmq_setsockopt(l->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        if (type == ZMQ_ROUTER) {
                zmq_setsockopt(l->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
                /* A restarted peer takes over its identity from the dead connection. */
                zmq_setsockopt(l->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
        } else {
                if (zmq_setsockopt(l->sock, ZMQ_ROUTING_ID, identity, strlen(identity)) < 0)
                        return -errno;
                /* Queue nothing while xapid is away: a restarted xapid learns the current
                 * state from Hello, not from a backlog of old heartbeats and events. */
                zmq_setsockopt(l->sock, ZMQ_IMMEDIATE, &one, sizeof one);
                int rmax = 1000;
                zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL_MAX, &rmax, sizeof rmax);
        }
        int fd;
        size_t sz = sizeof fd;
        if (zmq_getsockopt(l->sock, ZMQ_FD, &fd, &sz) < 0)
                return -errno;
        l->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, l);
        if (l->ev_read == NULL || event_add(l->ev_read, NULL) < 0)
                return -ENOMEM;
        return 0;
}

int msg_link_handle(struct msg_link *l, const ProtobufCMessageDescriptor *d, msg_handler_fn fn,
                    void *arg)
{
        if (l == NULL || d == NULL || fn == NULL)
                return -EINVAL;
        for (struct msg_handler *h = l->handlers; h; h = h->next) {
                if (strcmp(h->d->name, d->name) == 0) {
                        h->d = d;
                        h->fn = fn;
                        h->arg = arg;
                        return 0;
                }
        }
        struct msg_handler *h = calloc(1, sizeof *h);
        if (h == NULL)
                return -ENOMEM;
        h->d = d;
        h->fn = fn;
        h->arg = arg;
        h->next = l->handlers;
        l->handlers = h;
        return 0;
}

void msg_link_on_peer(struct msg_link *l, msg_peer_fn fn, void *arg)
{
        if (l == NULL)
                return;
        l->peer_fn = fn;
        l->peer_arg = arg;
}

int msg_link_event(struct msg_link *l, const char *peer, const ProtobufCMessage *body)
{
        if (l == NULL || body == NULL)
                return -EINVAL;
        struct msg_header h = {
            .kind = TS__KIND__EVENT, .generation = l->generation, .sender = l->identity};
        if (!l->is_server)
                return msg_link_send(l, NULL, &h, body);
        if (peer != NULL)
                return msg_link_send(l, peer, &h, body);
        int r = 0;
        for (struct msg_peer *p = l->peers; p; p = p->next) {
                int q = msg_link_send(l, p->info.identity, &h, body);
                if (q < 0 && r == 0)
                        r = q;
        }
        return r;
}

int msg_link_reply(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body)
{
        if (l == NULL || from == NULL || body == NULL || from->kind != TS__KIND__REQUEST)
                return -EINVAL;
        struct msg_header h = {.kind = TS__KIND__REPLY,
                               .request_id = from->request_id,
                               .generation = l->generation,
                               .request_generation = from->generation,
                               .sender = l->identity};
        if (!l->is_server)
                msg_client_paid(l, from);
        return msg_link_send(l, l->is_server ? from->peer : NULL, &h, body);
}

int msg_link_reply_error(struct msg_link *l, const struct msg_origin *from, int err,
                         const char *text)
{
        Ts__Peer__Error e = TS__PEER__ERROR__INIT;
        e.errnum = err < 0 ? -err : err;
        e.message = (char *)(text ? text : "");
        return msg_link_reply(l, from, &e.base);
}

uint64_t msg_link_generation(const struct msg_link *l)
{
        return l ? l->generation : 0;
}

const struct msg_counters *msg_link_counters(const struct msg_link *l)
{
        return l ? &l->counters : NULL;
}

void msg_link_free(struct msg_link *l)
{
        if (l == NULL)
                return;
        msg_link_fail_pending(l, NULL, -ECANCELED, 0, 0);
        if (l->is_server)
                msg_server_free(l);
        else
                msg_client_free(l);
        while (l->handlers != NULL) {
                struct msg_handler *h = l->handlers;
                l->handlers = h->next;
                free(h);
        }
        if (l->ev_timer != NULL)
                event_free(l->ev_timer);
        if (l->ev_read != NULL)
                event_free(l->ev_read);
        if (l->sock != NULL)
                zmq_close(l->sock);
        if (l->ctx != NULL)
                ctx_put();
        free(l->identity);
        free(l);
}
