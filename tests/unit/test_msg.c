/* Unit tests of the internal messaging layer (common/msg*.c): the envelope codec, and real
 * ROUTER/DEALER links over ipc:// in a temporary directory on libevent loops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <zmq.h>

#include "common/log.h"
#include "common/msg.h"

/* ---- codec ---- */

static int encode_hello(Ts__Kind kind, uint64_t id, uint8_t **buf, size_t *len)
{
        Ts__Peer__Hello hello = TS__PEER__HELLO__INIT;
        hello.identity = "stord";
        hello.role = "stord";
        hello.pid = 42;
        struct msg_header h = {.kind = kind, .request_id = id, .generation = 7, .sender = "stord"};
        return msg_encode(&h, &hello.base, buf, len);
}

static void codec_roundtrip(void **state)
{
        uint8_t *buf;
        size_t len;
        assert_int_equal(encode_hello(TS__KIND__REQUEST, 5, &buf, &len), 0);
        struct msg_counters c = {0};
        Ts__Envelope *env;
        assert_int_equal(msg_decode(buf, len, &env, &c), 0);
        assert_int_equal(env->protocol_version, MSG_PROTOCOL_VERSION);
        assert_int_equal(env->request_id, 5);
        assert_int_equal(env->generation, 7);
        assert_int_equal(env->kind, TS__KIND__REQUEST);
        assert_string_equal(env->sender, "stord");
        assert_string_equal(env->type, "ts.peer.Hello");
        ProtobufCMessage *body;
        assert_int_equal(msg_body_unpack(env, &ts__peer__hello__descriptor, &body), 0);
        assert_int_equal(((Ts__Peer__Hello *)body)->pid, 42);
        protobuf_c_message_free_unpacked(body, NULL);
        /* The wrong descriptor is refused, not misread. */
        assert_int_equal(msg_body_unpack(env, &ts__peer__ping__descriptor, &body), -EBADMSG);
        assert_null(body);
        assert_int_equal(msg_counters_rejected(&c), 0);
        msg_envelope_free(env);
        free(buf);

        /* Events carry no request id; invalid headers are refused at encode. */
        Ts__Peer__Ping ping = TS__PEER__PING__INIT;
        struct msg_header h = {
            .kind = TS__KIND__EVENT, .request_id = 9, .generation = 1, .sender = "netd"};
        assert_int_equal(msg_encode(&h, &ping.base, &buf, &len), 0);
        assert_int_equal(msg_decode(buf, len, &env, NULL), 0);
        assert_int_equal(env->request_id, 0);
        msg_envelope_free(env);
        free(buf);
        h.sender = "";
        assert_int_equal(msg_encode(&h, &ping.base, &buf, &len), -EINVAL);
        h.sender = "netd";
        h.generation = 0;
        assert_int_equal(msg_encode(&h, &ping.base, &buf, &len), -EINVAL);
        h.generation = 1;
        h.kind = TS__KIND__REQUEST;
        h.request_id = 0;
        assert_int_equal(msg_encode(&h, &ping.base, &buf, &len), -EINVAL);
        assert_int_equal(msg_encode(&h, NULL, &buf, &len), -EINVAL);
        msg_envelope_free(NULL);
}

/* Packs a hand-made envelope (fields the encoder would refuse to produce). */
static size_t pack_raw(const Ts__Envelope *e, uint8_t *buf, size_t cap)
{
        size_t n = ts__envelope__get_packed_size(e);
        assert_true(n <= cap);
        ts__envelope__pack(e, buf);
        return n;
}

static void codec_rejects(void **state)
{
        struct msg_counters c = {0};
        Ts__Envelope *env = (Ts__Envelope *)1;
        uint8_t raw[512];

        /* Random garbage: never accepted, never a crash. */
        srand(1234);
        unsigned accepted = 0;
        for (int i = 0; i < 2000; i++) {
                size_t n = (size_t)(rand() % 200);
                for (size_t j = 0; j < n; j++)
                        raw[j] = (uint8_t)rand();
                int r = msg_decode(raw, n, &env, &c);
                if (r == 0) {
                        accepted++;
                        msg_envelope_free(env);
                } else {
                        assert_true(r == -EBADMSG || r == -EPROTO);
                        assert_null(env);
                }
        }
        assert_int_equal(accepted, 0);
        assert_int_equal(msg_counters_rejected(&c), 2000);
        assert_true(c.rejected[MSG_REJ_MALFORMED] > 0);

        /* Truncations: a cut inside the body is malformed; no prefix decodes as the original. */
        uint8_t *buf;
        size_t len;
        assert_int_equal(encode_hello(TS__KIND__REQUEST, 5, &buf, &len), 0);
        memset(&c, 0, sizeof c);
        assert_int_equal(msg_decode(buf, len - 1, &env, &c), -EBADMSG);
        assert_int_equal(c.rejected[MSG_REJ_MALFORMED], 1);
        /* Empty: every field absent, the version (0) is checked first. */
        assert_int_equal(msg_decode(buf, 0, &env, &c), -EPROTO);
        assert_int_equal(c.rejected[MSG_REJ_VERSION], 1);
        for (size_t n = 0; n < len; n++) {
                if (msg_decode(buf, n, &env, NULL) == 0) {
                        /* Only a cut exactly before the body field can parse: empty body. */
                        assert_int_equal(env->body.len, 0);
                        msg_envelope_free(env);
                }
        }
        assert_int_equal(msg_decode(NULL, 3, &env, NULL), -EBADMSG);
        free(buf);

        /* Field checks, each counted by its reason. */
        memset(&c, 0, sizeof c);
        Ts__Envelope e = TS__ENVELOPE__INIT;
        e.protocol_version = MSG_PROTOCOL_VERSION + 1;
        e.generation = 1;
        e.sender = "stord";
        e.type = "ts.peer.Ping";
        e.kind = TS__KIND__EVENT;
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EPROTO);
        e.protocol_version = 0;
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EPROTO);
        assert_int_equal(c.rejected[MSG_REJ_VERSION], 2);
        e.protocol_version = MSG_PROTOCOL_VERSION;
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), 0);
        msg_envelope_free(env);
        e.sender = "";
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EBADMSG);
        e.sender = "stord";
        e.type = "";
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EBADMSG);
        e.type = "ts.peer.Ping";
        e.generation = 0;
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EBADMSG);
        e.generation = 1;
        e.kind = TS__KIND__REQUEST; /* without a request id */
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EBADMSG);
        e.kind = TS__KIND__KIND_UNSPECIFIED;
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EBADMSG);
        e.kind = (Ts__Kind)77;
        assert_int_equal(msg_decode(raw, pack_raw(&e, raw, sizeof raw), &env, &c), -EBADMSG);
        assert_int_equal(c.rejected[MSG_REJ_MISSING], 6);
        assert_int_equal(msg_counters_rejected(&c), 8);
        assert_string_equal(msg_reject_name(MSG_REJ_STALE), "stale");
}

static void codec_stale(void **state)
{
        struct msg_counters c = {0};
        Ts__Envelope e = TS__ENVELOPE__INIT;
        e.protocol_version = MSG_PROTOCOL_VERSION;
        e.sender = "domd/x";
        e.type = "t";
        e.kind = TS__KIND__EVENT;
        e.generation = 10;
        assert_int_equal(msg_check_fresh(&e, 0, 1, 0, &c), 0);  /* sender unknown */
        assert_int_equal(msg_check_fresh(&e, 10, 1, 0, &c), 0); /* current incarnation */
        assert_int_equal(msg_check_fresh(&e, 9, 1, 0, &c), 0);  /* newer: a restart */
        assert_int_equal(msg_check_fresh(&e, 11, 1, 0, &c), -ESTALE);
        e.kind = TS__KIND__REPLY;
        e.request_id = 3;
        e.request_generation = 5;
        assert_int_equal(msg_check_fresh(&e, 10, 5, 1, &c), 0);
        assert_int_equal(msg_check_fresh(&e, 10, 5, 0, &c), -ESTALE); /* nobody waits */
        assert_int_equal(msg_check_fresh(&e, 10, 6, 1, &c), -ESTALE); /* for our predecessor */
        assert_int_equal(msg_check_fresh(&e, 12, 5, 1, &c), -ESTALE); /* from its predecessor */
        assert_int_equal(c.rejected[MSG_REJ_STALE], 4);
        assert_int_equal(msg_check_fresh(NULL, 0, 0, 0, &c), -EINVAL);
}

/* ---- links ---- */

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct fix {
        char dir[64];
        char path[96];
        struct event_base *base;  /* server and client */
        struct event_base *base2; /* a second loop, for a client we can freeze */
        struct msg_link *srv, *cli;
        int ups, downs, cli_ups, cli_downs;
        char last_peer[64];
        /* completions */
        int done, status;
        char errtext[64];
        size_t n_items;
        char item0[64];
        /* handler observations */
        int events, requests;
        Ts__Kind last_kind;
        struct msg_origin held; /* a request kept for a late reply */
};

static void on_srv_peer(struct msg_link *l, const struct msg_peer_info *p, int up, void *arg)
{
        struct fix *f = arg;
        if (up)
                f->ups++;
        else
                f->downs++;
        snprintf(f->last_peer, sizeof f->last_peer, "%s", p->identity);
}

static void on_cli_peer(struct msg_link *l, const struct msg_peer_info *p, int up, void *arg)
{
        struct fix *f = arg;
        if (up)
                f->cli_ups++;
        else
                f->cli_downs++;
}

static struct msg_server_config srv_config(struct fix *f)
{
        struct msg_server_config sc = {.path = f->path, .peer_timeout_ms = 300};
        return sc;
}

static int new_client(struct fix *f, struct event_base *base, const char *identity,
                      struct msg_link **out)
{
        struct msg_client_config cc = {.path = f->path,
                                       .identity = identity,
                                       .role = "stord",
                                       .version = "1.2.3",
                                       .heartbeat_ms = 50,
                                       .timeout_ms = 300};
        return msg_client_new(base, &cc, out);
}

static int setup(void **state)
{
        struct fix *f = calloc(1, sizeof *f);
        snprintf(f->dir, sizeof f->dir, "/tmp/test_msg.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/xapid.msg", f->dir);
        f->base = event_base_new();
        f->base2 = event_base_new();
        struct msg_server_config sc = srv_config(f);
        assert_int_equal(msg_server_new(f->base, &sc, &f->srv), 0);
        msg_link_on_peer(f->srv, on_srv_peer, f);
        assert_int_equal(new_client(f, f->base, "stord", &f->cli), 0);
        msg_link_on_peer(f->cli, on_cli_peer, f);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fix *f = *state;
        msg_link_free(f->cli);
        msg_link_free(f->srv);
        event_base_free(f->base);
        event_base_free(f->base2);
        unlink(f->path);
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Runs both loops until COND(F) holds or MS pass; returns whether it held. */
static int run_until(struct fix *f, int (*cond)(struct fix *f), int ms, int only_base1)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while (!cond(f)) {
                if (now_ms() > end)
                        return 0;
                event_base_loop(f->base, EVLOOP_NONBLOCK);
                if (!only_base1)
                        event_base_loop(f->base2, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        return 1;
}

static void run_for(struct fix *f, int ms)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while (now_ms() < end) {
                event_base_loop(f->base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
}

static int stord_listed(struct fix *f)
{
        return msg_link_peer(f->srv, "stord") != NULL && msg_link_announced(f->cli);
}

static int stord_gone(struct fix *f)
{
        return msg_link_peer(f->srv, "stord") == NULL;
}

static int is_done(struct fix *f)
{
        return f->done > 0;
}

static void on_reply(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct fix *f = arg;
        f->done++;
        f->status = status;
        snprintf(f->errtext, sizeof f->errtext, "%s", errtext ? errtext : "");
        if (reply != NULL && reply->descriptor == &ts__peer__status_reply__descriptor) {
                const Ts__Peer__StatusReply *s = (const Ts__Peer__StatusReply *)reply;
                f->n_items = s->n_items;
                if (s->n_items > 0)
                        snprintf(f->item0, sizeof f->item0, "%s=%s", s->items[0]->key,
                                 s->items[0]->value);
        }
}

static int reply_status(struct msg_link *l, const struct msg_origin *from, const char *who)
{
        Ts__Peer__KeyValue kv = TS__PEER__KEY_VALUE__INIT;
        Ts__Peer__KeyValue *items[1] = {&kv};
        kv.key = "who";
        kv.value = (char *)who;
        Ts__Peer__StatusReply rep = TS__PEER__STATUS_REPLY__INIT;
        rep.n_items = 1;
        rep.items = items;
        return msg_link_reply(l, from, &rep.base);
}

static int on_status_cli(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        struct fix *f = arg;
        f->requests++;
        return reply_status(l, from, "stord");
}

static int on_status_srv(struct msg_link *l, const struct msg_origin *from,
                         const ProtobufCMessage *body, void *arg)
{
        struct fix *f = arg;
        f->requests++;
        assert_string_equal(from->peer, "stord");
        return reply_status(l, from, "xapid");
}

static int on_fail(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                   void *arg)
{
        return -EINVAL;
}

static int on_hold(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                   void *arg)
{
        struct fix *f = arg;
        f->held = *from; /* replied to later, too late */
        f->held.type = NULL;
        return 0;
}

static int on_event(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                    void *arg)
{
        struct fix *f = arg;
        f->events++;
        f->last_kind = from->kind;
        return 0;
}

static void link_hello(void **state)
{
        struct fix *f = *state;
        assert_int_equal(msg_link_set_state(f->cli, "srs", "2"), 0);
        assert_int_equal(msg_link_set_state(f->cli, "mode", "x"), 0);
        assert_int_equal(msg_link_set_state(f->cli, "mode", NULL), 0);
        assert_true(run_until(f, stord_listed, 3000, 1));
        const struct msg_peer_info *p = msg_link_peer(f->srv, "stord");
        assert_string_equal(p->role, "stord");
        assert_string_equal(p->version, "1.2.3");
        assert_int_equal(p->pid, getpid());
        assert_int_equal(p->generation, msg_link_generation(f->cli));
        assert_int_equal(p->n_state, 1);
        assert_string_equal(p->state[0]->key, "srs");
        assert_string_equal(p->state[0]->value, "2");
        assert_int_equal(f->ups, 1);
        assert_int_equal(f->cli_ups, 1);
        assert_int_equal(msg_link_peer_generation(f->cli), msg_link_generation(f->srv));
        assert_int_equal(msg_link_peers(f->srv, NULL, NULL), 1);
        struct stat st;
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* Heartbeats keep it listed well past the peer timeout. */
        run_for(f, 700);
        assert_non_null(msg_link_peer(f->srv, "stord"));
        assert_int_equal(f->downs, 0);
        assert_int_equal(msg_counters_rejected(msg_link_counters(f->srv)), 0);
        assert_int_equal(msg_counters_rejected(msg_link_counters(f->cli)), 0);
}

static void link_request_reply(void **state)
{
        struct fix *f = *state;
        assert_true(run_until(f, stord_listed, 3000, 1));
        Ts__Peer__StatusRequest req = TS__PEER__STATUS_REQUEST__INIT;

        /* xapid -> stord */
        msg_link_handle(f->cli, &ts__peer__status_request__descriptor, on_status_cli, f);
        assert_int_equal(msg_link_request(f->srv, "stord", &req.base,
                                          &ts__peer__status_reply__descriptor, 2000, on_reply, f),
                         0);
        assert_int_equal(f->done, 0); /* never from inside the call */
        assert_true(run_until(f, is_done, 3000, 1));
        assert_int_equal(f->status, 0);
        assert_string_equal(f->item0, "who=stord");

        /* stord -> xapid */
        f->done = 0;
        msg_link_handle(f->srv, &ts__peer__status_request__descriptor, on_status_srv, f);
        assert_int_equal(msg_link_request(f->cli, NULL, &req.base,
                                          &ts__peer__status_reply__descriptor, 2000, on_reply, f),
                         0);
        assert_true(run_until(f, is_done, 3000, 1));
        assert_int_equal(f->status, 0);
        assert_string_equal(f->item0, "who=xapid");
        assert_int_equal(f->requests, 2);

        /* A handler's error comes back as the errno, with its text. */
        f->done = 0;
        msg_link_handle(f->cli, &ts__peer__status_request__descriptor, on_fail, f);
        msg_link_request(f->srv, "stord", &req.base, &ts__peer__status_reply__descriptor, 2000,
                         on_reply, f);
        assert_true(run_until(f, is_done, 3000, 1));
        assert_int_equal(f->status, -EINVAL);
        assert_string_equal(f->errtext, strerror(EINVAL));

        /* No handler for the type: ENOSYS, counted at the receiver. */
        f->done = 0;
        Ts__Peer__HelloAck odd = TS__PEER__HELLO_ACK__INIT;
        msg_link_request(f->srv, "stord", &odd.base, NULL, 2000, on_reply, f);
        assert_true(run_until(f, is_done, 3000, 1));
        assert_int_equal(f->status, -ENOSYS);
        assert_int_equal(msg_link_counters(f->cli)->rejected[MSG_REJ_UNKNOWN_TYPE], 1);

        /* A reply of another type than asked for. */
        f->done = 0;
        msg_link_handle(f->cli, &ts__peer__status_request__descriptor, on_status_cli, f);
        msg_link_request(f->srv, "stord", &req.base, &ts__peer__pong__descriptor, 2000, on_reply,
                         f);
        assert_true(run_until(f, is_done, 3000, 1));
        assert_int_equal(f->status, -EBADMSG);

        /* Unknown peer: refused at once. */
        assert_int_equal(msg_link_request(f->srv, "netd", &req.base, NULL, 100, on_reply, f),
                         -EHOSTUNREACH);
        assert_int_equal(msg_link_request(f->srv, NULL, &req.base, NULL, 100, on_reply, f),
                         -EINVAL);
}

static void link_timeout(void **state)
{
        struct fix *f = *state;
        assert_true(run_until(f, stord_listed, 3000, 1));
        msg_link_handle(f->cli, &ts__peer__status_request__descriptor, on_hold, f);
        Ts__Peer__StatusRequest req = TS__PEER__STATUS_REQUEST__INIT;
        uint64_t t0 = now_ms();
        assert_int_equal(msg_link_request(f->srv, "stord", &req.base,
                                          &ts__peer__status_reply__descriptor, 150, on_reply, f),
                         0);
        assert_true(run_until(f, is_done, 3000, 1));
        uint64_t dt = now_ms() - t0;
        assert_int_equal(f->status, -ETIMEDOUT);
        assert_true(dt >= 140 && dt < 1000);
        assert_int_equal(msg_link_counters(f->srv)->timeouts, 1);
        /* The late reply is stale: counted, and no second completion. */
        assert_int_equal(f->held.kind, TS__KIND__REQUEST);
        assert_int_equal(reply_status(f->cli, &f->held, "late"), 0);
        run_for(f, 100);
        assert_int_equal(f->done, 1);
        assert_int_equal(msg_link_counters(f->srv)->rejected[MSG_REJ_STALE], 1);
}

static void link_events(void **state)
{
        struct fix *f = *state;
        assert_true(run_until(f, stord_listed, 3000, 1));
        msg_link_handle(f->srv, &ts__peer__status_reply__descriptor, on_event, f);
        msg_link_handle(f->cli, &ts__peer__status_reply__descriptor, on_event, f);
        Ts__Peer__StatusReply ev = TS__PEER__STATUS_REPLY__INIT;
        assert_int_equal(msg_link_event(f->cli, NULL, &ev.base), 0);
        run_for(f, 100);
        assert_int_equal(f->events, 1);
        assert_int_equal(f->last_kind, TS__KIND__EVENT);
        assert_int_equal(msg_link_event(f->srv, NULL, &ev.base), 0); /* to every peer */
        assert_int_equal(msg_link_event(f->srv, "stord", &ev.base), 0);
        run_for(f, 100);
        assert_int_equal(f->events, 3);
        assert_int_equal(msg_link_event(f->srv, "nobody", &ev.base), -EHOSTUNREACH);
}

static void link_peer_dies(void **state)
{
        struct fix *f = *state;
        assert_true(run_until(f, stord_listed, 3000, 1));
        /* A request in flight when the peer vanishes fails with ECONNRESET at the drop. */
        msg_link_handle(f->cli, &ts__peer__status_request__descriptor, on_hold, f);
        Ts__Peer__StatusRequest req = TS__PEER__STATUS_REQUEST__INIT;
        msg_link_request(f->srv, "stord", &req.base, NULL, 10000, on_reply, f);
        run_for(f, 50);
        assert_int_equal(f->held.kind, TS__KIND__REQUEST);
        msg_link_free(f->cli);
        f->cli = NULL;
        uint64_t t0 = now_ms();
        assert_true(run_until(f, stord_gone, 3000, 1));
        uint64_t dt = now_ms() - t0;
        assert_true(dt >= 200 && dt < 1500);
        assert_int_equal(f->downs, 1);
        assert_string_equal(f->last_peer, "stord");
        assert_int_equal(f->done, 1);
        assert_int_equal(f->status, -ECONNRESET);
}

static int domd_listed(struct fix *f)
{
        return msg_link_peer(f->srv, "domd/5f1c") != NULL;
}

static int domd_gone(struct fix *f)
{
        return msg_link_peer(f->srv, "domd/5f1c") == NULL;
}

/* A peer process SIGKILLed: no goodbye at all, gone within the peer timeout. */
static void link_peer_killed(void **state)
{
        struct fix *f = *state;
        /* fork+exec: a forked copy of a process running ZeroMQ's (and the sanitizers')
         * threads may inherit a lock held by a thread that does not exist in the child. */
        char helper[512];
        const char *b = getenv("B");
        snprintf(helper, sizeof helper, "%s/tests/helpers/msg_peer", b != NULL ? b : "build");
        if (access(helper, X_OK) != 0)
                skip();
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl(helper, helper, f->path, "domd/5f1c", (char *)NULL);
                _exit(127);
        }
        assert_true(run_until(f, domd_listed, 3000, 1));
        assert_int_equal(msg_link_peer(f->srv, "domd/5f1c")->pid, pid);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        uint64_t t0 = now_ms();
        assert_true(run_until(f, domd_gone, 3000, 1));
        assert_true(now_ms() - t0 < 1500);
        assert_int_equal(f->downs, 1);
        assert_string_equal(f->last_peer, "domd/5f1c");
}

static void link_server_restart(void **state)
{
        struct fix *f = *state;
        assert_true(run_until(f, stord_listed, 3000, 1));
        uint64_t gen1 = msg_link_generation(f->srv);
        msg_link_free(f->srv);
        f->srv = NULL;
        run_for(f, 30);
        struct msg_server_config sc = srv_config(f);
        assert_int_equal(msg_server_new(f->base, &sc, &f->srv), 0);
        msg_link_on_peer(f->srv, on_srv_peer, f);
        assert_true(msg_link_generation(f->srv) > gen1);
        assert_true(run_until(f, stord_listed, 3000, 1));
        assert_int_equal(msg_link_peer_generation(f->cli), msg_link_generation(f->srv));
        assert_int_equal(f->cli_downs, 1);
        assert_int_equal(f->cli_ups, 2);
        assert_int_equal(f->ups, 2);
}

/* The client is frozen (its loop not run) past the peer timeout: the server drops it; when it
 * runs again, a Pong saying "unknown" makes it say Hello again. */
static void link_forgotten_peer(void **state)
{
        struct fix *f = *state;
        struct msg_link *c2;
        assert_int_equal(new_client(f, f->base2, "netd", &c2), 0);
        uint64_t end = now_ms() + 3000;
        while (msg_link_peer(f->srv, "netd") == NULL && now_ms() < end)
                run_until(f, is_done, 5, 0);
        assert_non_null(msg_link_peer(f->srv, "netd"));
        run_for(f, 600); /* only the server's loop */
        assert_null(msg_link_peer(f->srv, "netd"));
        assert_int_equal(f->downs, 1);
        end = now_ms() + 3000;
        while (msg_link_peer(f->srv, "netd") == NULL && now_ms() < end)
                run_until(f, is_done, 5, 0);
        assert_non_null(msg_link_peer(f->srv, "netd"));
        msg_link_free(c2);
}

/* Hostile frames on a real socket: counted, dropped, and the server keeps serving. */
static void send_raw(void *s, const void *buf, size_t len)
{
        assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
}

static void send_env(void *s, const char *sender, Ts__Kind kind, uint64_t gen,
                     const ProtobufCMessage *body)
{
        uint8_t *buf;
        size_t len;
        struct msg_header h = {.kind = kind, .request_id = 1, .generation = gen, .sender = sender};
        assert_int_equal(msg_encode(&h, body, &buf, &len), 0);
        send_raw(s, buf, len);
        free(buf);
}

static void link_hostile(void **state)
{
        struct fix *f = *state;
        msg_link_handle(f->srv, &ts__peer__status_reply__descriptor, on_event, f);
        void *ctx = zmq_ctx_new();
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_ROUTING_ID, "raw", 3);
        char ep[128];
        snprintf(ep, sizeof ep, "ipc://%s", f->path);
        assert_int_equal(zmq_connect(s, ep), 0);

        Ts__Peer__Hello hello = TS__PEER__HELLO__INIT;
        hello.role = "raw";
        Ts__Peer__StatusReply ev = TS__PEER__STATUS_REPLY__INIT;
        send_raw(s, "garbage\xff\xff", 9);
        send_raw(s, "", 0);
        assert_int_equal(zmq_send(s, "a", 1, ZMQ_SNDMORE), 1); /* two frames */
        send_raw(s, "b", 1);
        send_env(s, "impostor", TS__KIND__EVENT, 100, &ev.base); /* not its routing id */
        send_env(s, "raw", TS__KIND__REQUEST, 200, &hello.base);
        send_env(s, "raw", TS__KIND__EVENT, 100, &ev.base); /* older incarnation */
        send_env(s, "raw", TS__KIND__EVENT, 200, &ev.base); /* fine */
        uint8_t junk[3] = {0x3a, 0x05, 0x01};               /* body field cut short */
        send_raw(s, junk, sizeof junk);
        Ts__Envelope e = TS__ENVELOPE__INIT; /* no type */
        e.protocol_version = MSG_PROTOCOL_VERSION;
        e.generation = 200;
        e.sender = "raw";
        e.kind = TS__KIND__EVENT;
        uint8_t raw[64];
        send_raw(s, raw, pack_raw(&e, raw, sizeof raw));

        run_for(f, 300);
        const struct msg_counters *c = msg_link_counters(f->srv);
        assert_int_equal(c->rejected[MSG_REJ_MALFORMED], 3);
        assert_int_equal(c->rejected[MSG_REJ_VERSION], 1); /* the empty frame */
        assert_int_equal(c->rejected[MSG_REJ_MISSING], 1);
        assert_int_equal(c->rejected[MSG_REJ_BAD_SENDER], 1);
        assert_int_equal(c->rejected[MSG_REJ_STALE], 1);
        assert_int_equal(f->events, 1);
        assert_non_null(msg_link_peer(f->srv, "raw"));
        /* And the real client is served as usual. */
        assert_true(run_until(f, stord_listed, 3000, 1));
        zmq_close(s);
        zmq_ctx_term(ctx);
}

static void link_bad_config(void **state)
{
        struct event_base *base = event_base_new();
        struct msg_link *l = NULL;
        struct msg_server_config sc = {0};
        assert_int_equal(msg_server_new(base, &sc, &l), -EINVAL);
        char longpath[200];
        memset(longpath, 'a', sizeof longpath - 1);
        longpath[sizeof longpath - 1] = '\0';
        sc.path = longpath;
        assert_int_equal(msg_server_new(base, &sc, &l), -ENAMETOOLONG);
        sc.path = "/nonexistent-dir/x.sock";
        assert_true(msg_server_new(base, &sc, &l) < 0);
        struct msg_client_config cc = {.path = "/tmp/x.sock"};
        assert_int_equal(msg_client_new(base, &cc, &l), -EINVAL);
        assert_null(l);
        msg_link_free(NULL);
        assert_null(msg_link_counters(NULL));
        assert_int_equal(msg_link_set_state(NULL, "a", "b"), -EINVAL);
        event_base_free(base);
}

int main(void)
{
        log_set_level("all", LOG_ERR);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(codec_roundtrip),
            cmocka_unit_test(codec_rejects),
            cmocka_unit_test(codec_stale),
            cmocka_unit_test_setup_teardown(link_hello, setup, teardown),
            cmocka_unit_test_setup_teardown(link_request_reply, setup, teardown),
            cmocka_unit_test_setup_teardown(link_timeout, setup, teardown),
            cmocka_unit_test_setup_teardown(link_events, setup, teardown),
            cmocka_unit_test_setup_teardown(link_peer_dies, setup, teardown),
            cmocka_unit_test_setup_teardown(link_peer_killed, setup, teardown),
            cmocka_unit_test_setup_teardown(link_server_restart, setup, teardown),
            cmocka_unit_test_setup_teardown(link_forgotten_peer, setup, teardown),
            cmocka_unit_test_setup_teardown(link_hostile, setup, teardown),
            cmocka_unit_test(link_bad_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
