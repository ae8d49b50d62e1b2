/* The client side of the internal links (stord, netd, domd): a DEALER that announces itself
 * with Hello, heartbeats with Ping, and announces itself again whenever the server restarted
 * or lost it.  A quiet client (idle_ping_ms) whose process the server watches pings only
 * while it owes the server a reply, and rarely otherwise; it learns that the server went
 * away or came back from ZeroMQ's socket monitor, without any traffic. */
#include "common/msg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <zmq.h>

#include "common/log.h"

LOG_MODULE(msg_client);

#define HELLO_QUICK_TRIES 6 /* Hellos retried after 1 ms before backing off */

static void schedule_tick(struct msg_link *l, int ms)
{
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        l->next_tick_ms = msg_now_ms() + (uint64_t)ms;
        event_add(l->ev_timer, &tv);
}

/* Every heartbeat, unless the server watches us and we owe it no reply. */
static int ping_interval(const struct msg_link *l)
{
        return l->watched && l->n_owed == 0 ? l->idle_ping_ms : l->heartbeat_ms;
}

static void server_peer_info(struct msg_link *l, struct msg_peer_info *info)
{
        memset(info, 0, sizeof *info);
        info->identity = MSG_SERVER_IDENTITY;
        info->role = MSG_SERVER_IDENTITY;
        info->version = "";
        info->generation = l->server_gen;
        info->last_seen_ms = l->last_rx_ms;
}

/* The server is gone or was replaced: forget its generation so anything it says next is
 * accepted, and announce ourselves again. */
static void server_lost(struct msg_link *l, const char *why)
{
        if (l->announced) {
                log_info("%s: lost xapid (generation %llu): %s", l->identity,
                         (unsigned long long)l->server_gen, why);
                l->announced = 0;
                l->watched = 0;
                if (l->peer_fn != NULL) {
                        struct msg_peer_info info;
                        server_peer_info(l, &info);
                        l->peer_fn(l, &info, 0, l->peer_arg);
                }
        }
        l->server_gen = 0;
        l->await_since_ms = 0;
}

static void send_hello(struct msg_link *l);

/* Forgets what we owe to an earlier server generation: nobody waits for it any more. */
static void prune_owed(struct msg_link *l)
{
        size_t k = 0;
        for (size_t i = 0; i < l->n_owed; i++)
                if (l->owed[i].generation == l->server_gen)
                        l->owed[k++] = l->owed[i];
        l->n_owed = k;
}

/* Our Pings went unanswered for the timeout: the server is gone or stalled. */
static void check_silence(struct msg_link *l, uint64_t now)
{
        if (l->announced && l->await_since_ms != 0 &&
            now - l->await_since_ms >= (uint64_t)l->timeout_ms)
                server_lost(l, "no answer to heartbeats");
}

static void on_hello_reply(int status, const ProtobufCMessage *reply, const char *errtext,
                           void *arg)
{
        struct msg_link *l = arg;
        if (l->hello_inflight > 0)
                l->hello_inflight--;
        if (status < 0) {
                log_debug("%s: Hello failed: %s %s", l->identity, strerror(-status),
                          errtext ? errtext : "");
                return;
        }
        const Ts__Peer__HelloAck *ack = (const Ts__Peer__HelloAck *)reply;
        /* The envelope's generation was already accepted in msg_client_seen(). */
        l->server_gen = ack->generation ? ack->generation : l->server_gen;
        l->last_rx_ms = msg_now_ms();
        l->await_since_ms = 0;
        l->watched = ack->watched && l->idle_ping_ms > 0;
        prune_owed(l);
        if (!l->announced) {
                l->announced = 1;
                log_info("%s: announced to xapid (generation %llu)", l->identity,
                         (unsigned long long)l->server_gen);
                if (l->peer_fn != NULL) {
                        struct msg_peer_info info;
                        server_peer_info(l, &info);
                        l->peer_fn(l, &info, 1, l->peer_arg);
                }
        }
        schedule_tick(l, ping_interval(l));
}

static void on_pong(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct msg_link *l = arg;
        if (status == -ETIMEDOUT) {
                /* loss is judged by silence since the first unanswered Ping, not by one
                 * missed Pong; an idle quiet client has no other tick to judge it soon */
                check_silence(l, msg_now_ms());
                if (!l->announced)
                        schedule_tick(l, 0);
                return;
        }
        if (status < 0)
                return;
        const Ts__Peer__Pong *pong = (const Ts__Peer__Pong *)reply;
        if (!pong->known && l->announced) {
                /* Same xapid, but it dropped us (we were silent too long): say Hello again. */
                server_lost(l, "it does not know us");
                send_hello(l);
        }
}

int msg_client_builtin(struct msg_link *l, const Ts__Envelope *env)
{
        if (env->kind != TS__KIND__EVENT || strcmp(env->type, ts__peer__pong__descriptor.name) != 0)
                return 0;
        ProtobufCMessage *body = NULL;
        if (msg_body_unpack(env, &ts__peer__pong__descriptor, &body) < 0) {
                l->counters.rejected[MSG_REJ_BAD_BODY]++;
                msg_link_log_reject(l, env->sender, "unparsable Pong", -EBADMSG);
                return 1;
        }
        int known = ((const Ts__Peer__Pong *)body)->known;
        protobuf_c_message_free_unpacked(body, NULL);
        if (known)
                return 1;
        /* The server dropped us (or never got our Hello).  A Hello in flight will do: the
         * server handles it after the frame that made it send this. */
        l->counters.nudges++;
        if (l->announced)
                server_lost(l, "it dropped us");
        if (l->hello_inflight == 0)
                send_hello(l);
        return 1;
}

static void send_hello(struct msg_link *l)
{
        Ts__Peer__Hello hello = TS__PEER__HELLO__INIT;
        hello.identity = l->identity;
        hello.role = l->role;
        hello.pid = (int32_t)getpid();
        hello.version = l->version;
        hello.start_time = l->start_time;
        hello.quiet = l->idle_ping_ms > 0;
        size_t n = 0;
        for (struct msg_kv *kv = l->state; kv; kv = kv->next)
                n++;
        Ts__Peer__KeyValue *kvs = calloc(n ? n : 1, sizeof *kvs);
        Ts__Peer__KeyValue **ptrs = calloc(n ? n : 1, sizeof *ptrs);
        if (kvs == NULL || ptrs == NULL) {
                free(kvs);
                free(ptrs);
                l->hello_failures++;
                return;
        }
        size_t i = 0;
        for (struct msg_kv *kv = l->state; kv; kv = kv->next, i++) {
                ts__peer__key_value__init(&kvs[i]);
                kvs[i].key = kv->key;
                kvs[i].value = kv->value;
                ptrs[i] = &kvs[i];
        }
        hello.n_state = n;
        hello.state = ptrs;
        int r = msg_link_request_ex(l, NULL, &hello.base, &ts__peer__hello_ack__descriptor,
                                    l->timeout_ms, on_hello_reply, l, 1);
        free(kvs);
        free(ptrs);
        if (r < 0) {
                l->hello_failures++;
                log_debug("%s: cannot send Hello: %s", l->identity, strerror(-r));
                return;
        }
        l->hello_failures = 0;
        l->hello_inflight++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
        struct msg_link *l = arg;
        uint64_t now = msg_now_ms();
        check_silence(l, now);
        if (!l->announced) {
                if (l->hello_inflight == 0)
                        send_hello(l);
        } else {
                Ts__Peer__Ping ping = TS__PEER__PING__INIT;
                ping.seq = ++l->ping_seq;
                if (msg_link_request_ex(l, NULL, &ping.base, &ts__peer__pong__descriptor,
                                        l->timeout_ms, on_pong, l, 1) == 0 &&
                    l->await_since_ms == 0)
                        l->await_since_ms = now;
        }
        /* While the connection is not up yet (ZMQ_IMMEDIATE refuses to queue), retry Hello
         * quickly, backing off to a second at most (or the heartbeat if shorter): an
         * unannounced peer is one xapid waits for, so it keeps trying, and soon.  A local
         * connection usually comes up within a millisecond or two (a spare domd is ready
         * only once announced): every millisecond first, then 2, 4 ms… */
        int next = ping_interval(l);
        if (!l->announced && l->hello_failures > 0) {
                int f = l->hello_failures - HELLO_QUICK_TRIES;
                int quick = f <= 0 ? 1 : 1 << (f < 10 ? f : 10);
                next = quick < next ? quick : next;
        }
        schedule_tick(l, next);
}

void msg_client_owe(struct msg_link *l, const struct msg_origin *from)
{
        if (l->n_owed == l->owed_cap) {
                size_t cap = l->owed_cap ? l->owed_cap * 2 : 8;
                struct msg_owed *o = realloc(l->owed, cap * sizeof(*o));
                if (o == NULL)
                        return; /* it will not be pinged for; the reply still goes */
                l->owed = o;
                l->owed_cap = cap;
        }
        l->owed[l->n_owed++] = (struct msg_owed){from->request_id, from->generation};
        /* the server counts our silence from now on: heartbeat while working on it */
        if (l->n_owed == 1 && l->next_tick_ms > msg_now_ms() + (uint64_t)l->heartbeat_ms)
                schedule_tick(l, l->heartbeat_ms);
}

void msg_client_paid(struct msg_link *l, const struct msg_origin *from)
{
        for (size_t i = 0; i < l->n_owed; i++)
                if (l->owed[i].id == from->request_id &&
                    l->owed[i].generation == from->generation) {
                        l->owed[i] = l->owed[--l->n_owed];
                        /* the reply is a frame too: quiet again from now */
                        if (l->n_owed == 0 && l->watched)
                                schedule_tick(l, l->idle_ping_ms);
                        return;
                }
}

/* ZeroMQ's monitor of our DEALER: the connection to the server closed, or was made (anew).
 * Either way the server we announced ourselves to may be gone: say Hello once connected,
 * and at once rather than at the next (idle) ping. */
static void connection_event(struct msg_link *l, unsigned ev)
{
        if (ev == ZMQ_EVENT_DISCONNECTED) {
                log_debug("%s: connection to xapid closed", l->identity);
                server_lost(l, "connection closed");
                msg_link_fail_internal(l, -ECONNRESET); /* a Hello in flight is lost */
                l->reconnecting = 1;
                l->hello_failures = 1; /* quick retries until it is back */
                schedule_tick(l, 0);
        } else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                log_debug("%s: connected to xapid", l->identity);
                if (l->announced)
                        server_lost(l, "connection made anew");
                /* A Hello sent since the connection closed may have gone into the closing
                 * pipe (ZeroMQ notices the closure lazily) and wait for its timeout, many
                 * heartbeats: the new connection gets a new one. */
                if (l->reconnecting && !l->announced)
                        msg_link_fail_internal(l, -ECONNRESET);
                l->reconnecting = 0;
                schedule_tick(l, 0);
        }
}

static void on_monitor(evutil_socket_t fd, short what, void *arg)
{
        struct msg_link *l = arg;
        for (;;) {
                int events = 0;
                size_t sz = sizeof events;
                if (zmq_getsockopt(l->monitor, ZMQ_EVENTS, &events, &sz) < 0 ||
                    !(events & ZMQ_POLLIN))
                        return;
                /* two parts: 16-bit event and 32-bit value, then the endpoint */
                uint16_t ev = 0;
                int more = 0, first = 1;
                do {
                        zmq_msg_t part;
                        zmq_msg_init(&part);
                        if (zmq_msg_recv(&part, l->monitor, ZMQ_DONTWAIT) < 0) {
                                zmq_msg_close(&part);
                                return;
                        }
                        if (first && zmq_msg_size(&part) >= sizeof ev)
                                memcpy(&ev, zmq_msg_data(&part), sizeof ev);
                        first = 0;
                        more = zmq_msg_more(&part);
                        zmq_msg_close(&part);
                } while (more);
                connection_event(l, ev);
        }
}

/* Reports connection changes of the DEALER on an inproc PAIR socket read from the loop. */
static int start_monitor(struct msg_link *l)
{
        /* links of a process share one ZeroMQ context: each needs an endpoint of its own */
        static unsigned n_monitors;
        char ep[64];
        snprintf(ep, sizeof(ep), "inproc://msg-client-monitor-%u", n_monitors++);
        if (zmq_socket_monitor(l->sock, ep,
                               ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0)
                return -errno;
        l->monitor = zmq_socket(l->ctx, ZMQ_PAIR);
        if (l->monitor == NULL || zmq_connect(l->monitor, ep) < 0)
                return -errno;
        int zero = 0, fd;
        size_t sz = sizeof fd;
        zmq_setsockopt(l->monitor, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_getsockopt(l->monitor, ZMQ_FD, &fd, &sz) < 0)
                return -errno;
        l->ev_monitor = event_new(l->base, fd, EV_READ | EV_PERSIST, on_monitor, l);
        if (l->ev_monitor == NULL || event_add(l->ev_monitor, NULL) < 0)
                return -ENOMEM;
        /* ZMQ_FD signals edges, and only once ZMQ_EVENTS has processed what is pending:
         * look now, or the first events may never wake us */
        event_active(l->ev_monitor, EV_READ, 0);
        return 0;
}

int msg_client_announce_again(struct msg_link *l, int idle_ping_ms)
{
        if (l == NULL || l->is_server)
                return -EINVAL;
        l->idle_ping_ms = idle_ping_ms > 0 ? idle_ping_ms : 0;
        /* not announced yet: the Hello the tick retries carries the new state */
        if (l->announced)
                send_hello(l);
        return 0;
}

void msg_client_seen(struct msg_link *l, uint64_t gen)
{
        l->last_rx_ms = msg_now_ms();
        l->await_since_ms = 0;
        if (l->server_gen != 0 && gen != l->server_gen) {
                server_lost(l, "xapid restarted");
                /* Requests the previous xapid took will never be answered. */
                msg_link_fail_pending(l, NULL, -ECONNRESET, 1, gen);
                send_hello(l);
        }
}

int msg_client_new(struct event_base *base, const struct msg_client_config *cfg,
                   struct msg_link **out)
{
        if (base == NULL || cfg == NULL || out == NULL || cfg->path == NULL ||
            cfg->path[0] == '\0' || cfg->identity == NULL || cfg->identity[0] == '\0' ||
            strlen(cfg->identity) > MSG_IDENTITY_MAX)
                return -EINVAL;
        if (strlen(cfg->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return -ENAMETOOLONG;
        struct msg_link *l = calloc(1, sizeof *l);
        if (l == NULL)
                return -ENOMEM;
        l->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
        l->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 3 * l->heartbeat_ms;
        l->idle_ping_ms = cfg->idle_ping_ms > 0 ? cfg->idle_ping_ms : 0;
        l->start_time = (int64_t)time(NULL);
        l->path = strdup(cfg->path);
        l->role = strdup(cfg->role ? cfg->role : cfg->identity);
        l->version = strdup(cfg->version ? cfg->version : "");
        int r = -ENOMEM;
        if (l->path == NULL || l->role == NULL || l->version == NULL)
                goto fail;
        r = msg_link_init(l, base, ZMQ_DEALER, cfg->identity, cfg->generation);
        if (r < 0)
                goto fail;
        r = start_monitor(l); /* before connecting: its first connection is reported too */
        if (r < 0) {
                log_warnx("cannot monitor the connection to xapid: %s", zmq_strerror(-r));
                goto fail;
        }
        char endpoint[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
        snprintf(endpoint, sizeof endpoint, "ipc://%s", cfg->path);
        if (zmq_connect(l->sock, endpoint) < 0) {
                r = -errno;
                log_warnx("cannot connect to %s: %s", endpoint, zmq_strerror(errno));
                goto fail;
        }
        l->ev_timer = evtimer_new(base, on_tick, l);
        if (l->ev_timer == NULL) {
                r = -ENOMEM;
                goto fail;
        }
        /* The first Hello goes from the loop: the connection is not up yet anyway. */
        l->hello_failures = 1;
        schedule_tick(l, 0);
        *out = l;
        return 0;
fail:
        msg_link_free(l);
        return r;
}

int msg_link_set_state(struct msg_link *l, const char *key, const char *value)
{
        if (l == NULL || l->is_server || key == NULL)
                return -EINVAL;
        struct msg_kv **pp = &l->state;
        while (*pp != NULL && strcmp((*pp)->key, key) != 0)
                pp = &(*pp)->next;
        struct msg_kv *kv = *pp;
        if (value == NULL) {
                if (kv != NULL) {
                        *pp = kv->next;
                        free(kv->key);
                        free(kv->value);
                        free(kv);
                }
                return 0;
        }
        char *v = strdup(value);
        if (v == NULL)
                return -ENOMEM;
        if (kv == NULL) {
                kv = calloc(1, sizeof *kv);
                if (kv == NULL || (kv->key = strdup(key)) == NULL) {
                        free(kv);
                        free(v);
                        return -ENOMEM;
                }
                *pp = kv; /* appended: Hello keeps the order of first setting */
        }
        free(kv->value);
        kv->value = v;
        return 0;
}

int msg_link_announced(const struct msg_link *l)
{
        return l != NULL && !l->is_server && l->announced;
}

int msg_link_watched(const struct msg_link *l)
{
        return l != NULL && !l->is_server && l->announced && l->watched;
}

uint64_t msg_link_peer_generation(const struct msg_link *l)
{
        return l != NULL && !l->is_server ? l->server_gen : 0;
}

void msg_client_free(struct msg_link *l)
{
        if (l->ev_monitor != NULL)
                event_free(l->ev_monitor);
        if (l->monitor != NULL) {
                zmq_socket_monitor(l->sock, NULL, 0);
                zmq_close(l->monitor);
        }
        free(l->owed);
        while (l->state != NULL) {
                struct msg_kv *kv = l->state;
                l->state = kv->next;
                free(kv->key);
                free(kv->value);
                free(kv);
        }
        free(l->path);
        free(l->role);
        free(l->version);
}
