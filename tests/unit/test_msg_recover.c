/* Recovery of the internal links under load (common/msg*.c): a peer the server dropped for
 * silence while it was alive (stopped, starved) must announce itself again with its state,
 * and a burst of peers connecting at once must all become known.  The peers are real
 * processes (tests/helpers/msg_peer) on a real ROUTER over ipc://. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <zmq.h>

#include "common/msg.h"
#include "tests/unit/msg_server_fixture.h"

struct fix {
        struct msg_server_fixture m; /* the server and its peer counts */
};

static int setup_timeout(void **state, int peer_timeout_ms)
{
        struct fix *f = calloc(1, sizeof *f);
        fixture_open(&f->m, "test_msg_recover", peer_timeout_ms);
        *state = f;
        return 0;
}

static int setup_fast(void **state)
{
        return setup_timeout(state, 300);
}

static int setup_burst(void **state)
{
        return setup_timeout(state, 3000);
}

static int teardown(void **state)
{
        struct fix *f = *state;
        fixture_close(&f->m);
        free(f);
        return 0;
}

static pid_t spawn_peer(struct fix *f, const char *identity, const char *heartbeat_ms)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl(f->m.helper, f->m.helper, f->m.path, identity, heartbeat_ms, (char *)NULL);
                _exit(127);
        }
        return pid;
}

static void reap(pid_t pid)
{
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

static int listed_with_state(struct fix *f, const char *identity)
{
        const struct msg_peer_info *p = msg_link_peer(f->m.srv, identity);
        return p != NULL && p->n_state == 1 && strcmp(p->state[0]->key, "power") == 0 &&
               strcmp(p->state[0]->value, "running") == 0;
}

/* Runs the server's loop until IDENTITY is listed (or, when !WANT, not listed) or MS pass. */
static int wait_listed(struct fix *f, const char *identity, int want, int ms)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while ((msg_link_peer(f->m.srv, identity) != NULL) != want) {
                if (now_ms() > end)
                        return 0;
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        return 1;
}

/* A peer process stopped (SIGSTOP: as if starved) past the peer timeout is dropped; once it
 * runs again it is listed again within a couple of heartbeats, with its Hello state.  Done
 * several times, with stops shorter and longer than the peer's own loss timeout. */
static void stopped_peer_comes_back(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        pid_t pid = spawn_peer(f, "domd/stopped", "50");
        assert_true(wait_listed(f, "domd/stopped", 1, 5000));
        assert_true(listed_with_state(f, "domd/stopped"));
        static const int stops_ms[] = {450, 900, 2000, 350};
        for (size_t i = 0; i < sizeof stops_ms / sizeof stops_ms[0]; i++) {
                int downs = f->m.downs;
                assert_int_equal(kill(pid, SIGSTOP), 0);
                uint64_t t0 = now_ms();
                assert_true(wait_listed(f, "domd/stopped", 0, 3000));
                assert_int_equal(f->m.downs, downs + 1);
                while (now_ms() - t0 < (uint64_t)stops_ms[i]) {
                        event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                        usleep(1000);
                }
                assert_int_equal(kill(pid, SIGCONT), 0);
                uint64_t t1 = now_ms();
                assert_true(wait_listed(f, "domd/stopped", 1, 3000));
                /* a few heartbeats (50 ms) plus scheduling slack on a loaded machine */
                assert_true(now_ms() - t1 < 1000);
                assert_true(listed_with_state(f, "domd/stopped"));
                assert_int_equal(msg_link_peer(f->m.srv, "domd/stopped")->pid, pid);
        }
        reap(pid);
}

/* The server's loop itself stalls (busy, as xapid under a boot storm) past the peer timeout
 * while the peers keep sending: it drops them all on waking, then must get them back. */
static void server_stall_peers_come_back(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        enum { N = 20 };
        pid_t pids[N];
        char ids[N][32];
        for (int i = 0; i < N; i++) {
                snprintf(ids[i], sizeof ids[i], "domd/stall-%d", i);
                pids[i] = spawn_peer(f, ids[i], "50");
        }
        for (int round = 0; round < 3; round++) {
                for (int i = 0; i < N; i++)
                        assert_true(wait_listed(f, ids[i], 1, 10000));
                int downs = f->m.downs;
                usleep(700 * 1000); /* the server's loop does not run */
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                uint64_t end = now_ms() + 5000;
                while (f->m.downs < downs + 1 && now_ms() < end) {
                        event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                        usleep(1000);
                }
        }
        for (int i = 0; i < N; i++)
                assert_true(wait_listed(f, ids[i], 1, 5000));
        for (int i = 0; i < N; i++)
                assert_true(listed_with_state(f, ids[i]));
        for (int i = 0; i < N; i++)
                reap(pids[i]);
}

/* Hundreds of peer processes started at once all become peers (and stay). */
static void burst_of_peers(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        enum { N = 300 };
        pid_t *pids = calloc(N, sizeof *pids);
        char id[32];
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "domd/burst-%03d", i);
                pids[i] = spawn_peer(f, id, "1000");
        }
        uint64_t t0 = now_ms(), end = t0 + 60000;
        while (msg_link_peers(f->m.srv, NULL, NULL) < N && now_ms() < end) {
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        print_message("%zu of %d peers listed after %llu ms (%d drops)\n",
                      msg_link_peers(f->m.srv, NULL, NULL), N, (unsigned long long)(now_ms() - t0),
                      f->m.downs);
        assert_int_equal(msg_link_peers(f->m.srv, NULL, NULL), N);
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "domd/burst-%03d", i);
                assert_true(listed_with_state(f, id));
        }
        for (int i = 0; i < N; i++)
                reap(pids[i]);
        free(pids);
}

/* The server drops a peer whose heartbeats are far apart: it tells the peer at once, which
 * says Hello again long before its next heartbeat would have found out. */
static int in_process_listed(struct fix *f, struct event_base *cb, const char *identity, int want,
                             int ms)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while ((msg_link_peer(f->m.srv, identity) != NULL) != want) {
                if (now_ms() > end)
                        return 0;
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                event_base_loop(cb, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        return 1;
}

static void dropped_peer_told_at_once(void **state)
{
        struct fix *f = *state;
        struct event_base *cb = event_base_new();
        struct msg_client_config cc = {.path = f->m.path,
                                       .identity = "domd/slow",
                                       .role = "domd",
                                       .heartbeat_ms = 3000,
                                       .timeout_ms = 9000};
        struct msg_link *cli = NULL;
        assert_int_equal(msg_client_new(cb, &cc, &cli), 0);
        assert_int_equal(msg_link_set_state(cli, "power", "running"), 0);
        assert_true(in_process_listed(f, cb, "domd/slow", 1, 3000));
        for (int i = 0; i < 3; i++) {
                /* no heartbeat within the server's 300 ms: dropped */
                assert_true(in_process_listed(f, cb, "domd/slow", 0, 2000));
                uint64_t t0 = now_ms();
                assert_true(in_process_listed(f, cb, "domd/slow", 1, 2500));
                assert_true(now_ms() - t0 < 1000); /* its next heartbeat is seconds away */
                assert_true(listed_with_state(f, "domd/slow"));
        }
        assert_true(f->m.downs >= 3);
        msg_link_free(cli);
        event_base_free(cb);
}

/* Any frame from an identity the server does not know gets a "say Hello again". */
static void unknown_sender_told(void **state)
{
        struct fix *f = *state;
        void *ctx = zmq_ctx_new();
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0, ms = 50;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms);
        zmq_setsockopt(s, ZMQ_ROUTING_ID, "raw", 3);
        char ep[128];
        snprintf(ep, sizeof ep, "ipc://%s", f->m.path);
        assert_int_equal(zmq_connect(s, ep), 0);
        Ts__Peer__StatusReply ev = TS__PEER__STATUS_REPLY__INIT;
        struct msg_header h = {.kind = TS__KIND__EVENT, .generation = 5, .sender = "raw"};
        uint8_t *buf;
        size_t len;
        assert_int_equal(msg_encode(&h, &ev.base, &buf, &len), 0);
        assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
        free(buf);
        int told = 0;
        uint64_t end = now_ms() + 3000;
        while (!told && now_ms() < end) {
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                uint8_t in[512];
                int n = zmq_recv(s, in, sizeof in, ZMQ_DONTWAIT);
                if (n <= 0) {
                        usleep(1000);
                        continue;
                }
                Ts__Envelope *env = NULL;
                assert_int_equal(msg_decode(in, (size_t)n, &env, NULL), 0);
                assert_int_equal(env->kind, TS__KIND__EVENT);
                assert_string_equal(env->type, "ts.peer.Pong");
                ProtobufCMessage *body = NULL;
                assert_int_equal(msg_body_unpack(env, &ts__peer__pong__descriptor, &body), 0);
                assert_false(((Ts__Peer__Pong *)body)->known);
                protobuf_c_message_free_unpacked(body, NULL);
                msg_envelope_free(env);
                told = 1;
        }
        assert_true(told);
        assert_int_equal(msg_link_counters(f->m.srv)->nudges, 1);
        zmq_close(s);
        zmq_ctx_term(ctx);
}

/* A client started long before the server keeps trying Hello about every second, not at its
 * (long) heartbeat: it is listed soon after the server appears. */
static void late_server(void **state)
{
        struct fix *f = *state;
        struct msg_server_config sc = {.path = f->m.path, .peer_timeout_ms = 20000};
        msg_link_free(f->m.srv);
        unlink(f->m.path);
        struct msg_client_config cc = {
            .path = f->m.path, .identity = "domd/early", .role = "domd", .heartbeat_ms = 10000};
        struct msg_link *cli = NULL;
        assert_int_equal(msg_client_new(f->m.base, &cc, &cli), 0);
        uint64_t end = now_ms() + 2500;
        while (now_ms() < end) {
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        assert_int_equal(msg_server_new(f->m.base, &sc, &f->m.srv), 0);
        uint64_t t0 = now_ms();
        assert_true(wait_listed(f, "domd/early", 1, 5000));
        /* reconnection (≤ 1 s apart) plus a Hello retry (≤ 1 s apart), with some slack */
        assert_true(now_ms() - t0 < 3000);
        end = now_ms() + 2000;
        while (!msg_link_announced(cli) && now_ms() < end) {
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        assert_true(msg_link_announced(cli));
        msg_link_free(cli);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(stopped_peer_comes_back, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(server_stall_peers_come_back, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(dropped_peer_told_at_once, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(unknown_sender_told, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(late_server, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(burst_of_peers, setup_burst, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
