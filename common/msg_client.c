/* The client side of the internal links (stord, netd, domd): a DEALER that announces itself
 * with Hello, heartbeats with Ping, and announces itself again whenever the server restarted
 * or lost it. */
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
        event_add(l->ev_timer, &tv);
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
                if (l->peer_fn != NULL) {
                        struct msg_peer_info info;
                        server_peer_info(l, &info);
                        l->peer_fn(l, &info, 0, l->peer_arg);
                }
        }
        l->server_gen = 0;
}

static void send_hello(struct msg_link *l);

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
}

static void on_pong(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct msg_link *l = arg;
        if (status < 0)
                return; /* loss is judged by silence in on_tick(), not by one missed Pong */
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
        if (l->announced && now - l->last_rx_ms > (uint64_t)l->timeout_ms)
                server_lost(l, "no answer to heartbeats");
        if (!l->announced) {
                if (l->hello_inflight == 0)
                        send_hello(l);
        } else {
                Ts__Peer__Ping ping = TS__PEER__PING__INIT;
                ping.seq = ++l->ping_seq;
                msg_link_request_ex(l, NULL, &ping.base, &ts__peer__pong__descriptor, l->timeout_ms,
                                    on_pong, l, 1);
        }
        /* While the connection is not up yet (ZMQ_IMMEDIATE refuses to queue), retry Hello
         * quickly, backing off to a second at most (or the heartbeat if shorter): an
         * unannounced peer is one xapid waits for, so it keeps trying, and soon.  A local
         * connection usually comes up within a millisecond or two (a spare domd is ready
         * only once announced): every millisecond first, then 2, 4 ms… */
        int next = l->heartbeat_ms;
        if (!l->announced && l->hello_failures > 0) {
                int f = l->hello_failures - HELLO_QUICK_TRIES;
                int quick = f <= 0 ? 1 : 1 << (f < 10 ? f : 10);
                next = quick < next ? quick : next;
        }
        schedule_tick(l, next);
}

void msg_client_seen(struct msg_link *l, uint64_t gen)
{
        l->last_rx_ms = msg_now_ms();
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

uint64_t msg_link_peer_generation(const struct msg_link *l)
{
        return l != NULL && !l->is_server ? l->server_gen : 0;
}

void msg_client_free(struct msg_link *l)
{
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
