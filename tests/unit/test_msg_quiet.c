/* Quiet peers of the internal links (common/msg_*.c, msg.h "Quiet peers"): a peer that asks
 * to be watched sends nothing while idle, is dropped at once when its process exits, is
 * dropped for silence only while a request to it is pending (stopped, wedged), heartbeats
 * while it works on a long request, and announces itself again as soon as the server comes
 * back, without any heartbeat.  The peers are real processes (tests/helpers/msg_peer), or a
 * client in this process for the server restart. */
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

#include "common/msg.h"
#include "tests/unit/msg_server_fixture.h"

struct fix {
        struct msg_server_fixture m; /* the server and its peer counts */
        int done, status;
        char who[64];
};

static int setup_timeout(void **state, int peer_timeout_ms)
{
        struct fix *f = calloc(1, sizeof *f);
        fixture_open(&f->m, "test_msg_quiet", peer_timeout_ms);
        *state = f;
        return 0;
}

static int setup_fast(void **state)
{
        return setup_timeout(state, 300);
}

static int setup_slow(void **state)
{
        return setup_timeout(state, 5000);
}

static int teardown(void **state)
{
        struct fix *f = *state;
        fixture_close(&f->m);
        free(f);
        return 0;
}

/* A msg_peer process: heartbeat 50 ms, IDLE_PING ("0": not quiet), replies after DELAY. */
static pid_t spawn_peer(struct fix *f, const char *identity, const char *idle_ping,
                        const char *delay)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl(f->m.helper, f->m.helper, f->m.path, identity, "50", idle_ping, delay,
                      (char *)NULL);
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

/* Runs the server's loop, and the in-process client's (CB, unless NULL), until DONE(F, CLI)
 * holds, or for MS ms when DONE is NULL; returns whether DONE held. */
static int pump(struct fix *f, struct event_base *cb, struct msg_link *cli,
                int (*done)(struct fix *f, struct msg_link *cli), int ms)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while ((done == NULL || !done(f, cli)) && now_ms() < end) {
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                if (cb != NULL)
                        event_base_loop(cb, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        return done == NULL || done(f, cli);
}

static void run_for(struct fix *f, int ms)
{
        pump(f, NULL, NULL, NULL, ms);
}

static int wait_listed(struct fix *f, struct event_base *other, const char *identity, int want,
                       int ms)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while ((msg_link_peer(f->m.srv, identity) != NULL) != want) {
                if (now_ms() > end)
                        return 0;
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                if (other != NULL)
                        event_base_loop(other, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        return 1;
}

static void on_reply(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct fix *f = arg;
        f->done++;
        f->status = status;
        if (reply != NULL) {
                const Ts__Peer__StatusReply *s = (const Ts__Peer__StatusReply *)reply;
                if (s->n_items == 1)
                        snprintf(f->who, sizeof f->who, "%s", s->items[0]->value);
        }
}

static int ask(struct fix *f, const char *identity, int timeout_ms)
{
        Ts__Peer__StatusRequest req = TS__PEER__STATUS_REQUEST__INIT;
        f->done = 0;
        f->status = 1;
        f->who[0] = '\0';
        return msg_link_request(f->m.srv, identity, &req.base, &ts__peer__status_reply__descriptor,
                                timeout_ms, on_reply, f);
}

static int wait_done(struct fix *f, int ms)
{
        uint64_t end = now_ms() + (uint64_t)ms;
        while (f->done == 0 && now_ms() < end) {
                event_base_loop(f->m.base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
        return f->done > 0;
}

static int client_watched(struct fix *f, struct msg_link *cli)
{
        return msg_link_watched(cli);
}

static int client_announced(struct fix *f, struct msg_link *cli)
{
        return msg_link_announced(cli);
}

/* A quiet peer is watched and sends nothing at all for many peer timeouts, yet stays listed;
 * a peer that does not ask to be quiet is not watched and keeps heartbeating. */
static void idle_quiet_peer_sends_nothing(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        pid_t quiet = spawn_peer(f, "domd/quiet", "60000", "0");
        pid_t loud = spawn_peer(f, "stord", "0", "0");
        assert_true(wait_listed(f, NULL, "domd/quiet", 1, 5000));
        assert_true(wait_listed(f, NULL, "stord", 1, 5000));
        assert_true(msg_link_peer(f->m.srv, "domd/quiet")->watched);
        assert_false(msg_link_peer(f->m.srv, "stord")->watched);
        run_for(f, 200); /* the Hello's ack reschedules its tick */
        uint64_t seen = msg_link_peer(f->m.srv, "domd/quiet")->last_seen_ms;
        uint64_t rx = msg_link_counters(f->m.srv)->rx;
        run_for(f, 1500); /* five peer timeouts */
        const struct msg_peer_info *p = msg_link_peer(f->m.srv, "domd/quiet");
        assert_non_null(p);
        assert_int_equal(p->last_seen_ms, seen); /* not a frame from it */
        /* the heartbeating one: about 30 Pings in that time */
        uint64_t frames = msg_link_counters(f->m.srv)->rx - rx;
        print_message("%llu frames in 1.5 s, all from the heartbeating peer\n",
                      (unsigned long long)frames);
        assert_true(frames >= 5);
        assert_non_null(msg_link_peer(f->m.srv, "stord"));
        assert_int_equal(f->m.downs, 0);
        /* still reachable */
        assert_int_equal(ask(f, "domd/quiet", 3000), 0);
        assert_true(wait_done(f, 3000));
        assert_int_equal(f->status, 0);
        assert_string_equal(f->who, "domd/quiet");
        reap(quiet);
        reap(loud);
}

/* SIGKILLed, a quiet peer is dropped when its process exits, long before the peer timeout
 * (5 s here), and whatever was asked of it fails at once. */
static void quiet_peer_killed_dropped_at_once(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        pid_t pid = spawn_peer(f, "domd/killed", "60000", "100000");
        assert_true(wait_listed(f, NULL, "domd/killed", 1, 5000));
        assert_true(msg_link_peer(f->m.srv, "domd/killed")->watched);
        assert_int_equal(ask(f, "domd/killed", 30000), 0); /* answered in 100 s */
        run_for(f, 100);
        assert_int_equal(kill(pid, SIGKILL), 0); /* not reaped: a zombie counts as exited */
        uint64_t t0 = now_ms();
        assert_true(wait_listed(f, NULL, "domd/killed", 0, 4000));
        uint64_t took = now_ms() - t0;
        print_message("dropped %llu ms after SIGKILL (peer timeout 5000 ms)\n",
                      (unsigned long long)took);
        assert_true(took < 1500);
        assert_int_equal(f->m.downs, 1);
        assert_true(wait_done(f, 100));
        assert_int_equal(f->status, -ECONNRESET);
        waitpid(pid, NULL, 0);
}

/* A request that takes four peer timeouts to answer: the quiet peer heartbeats while it
 * owes the answer, so it is not dropped, and the answer arrives. */
static void quiet_peer_long_request(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        pid_t pid = spawn_peer(f, "domd/slow", "60000", "1200");
        assert_true(wait_listed(f, NULL, "domd/slow", 1, 5000));
        run_for(f, 600); /* idle and silent for longer than the peer timeout first */
        uint64_t rx = msg_link_counters(f->m.srv)->rx;
        assert_int_equal(ask(f, "domd/slow", 5000), 0);
        assert_true(wait_done(f, 5000));
        assert_int_equal(f->status, 0);
        assert_string_equal(f->who, "domd/slow");
        assert_int_equal(f->m.downs, 0);
        /* its Pings while it worked (every 50 ms), and the reply */
        assert_true(msg_link_counters(f->m.srv)->rx - rx >= 5);
        /* idle again: quiet again */
        run_for(f, 200);
        rx = msg_link_counters(f->m.srv)->rx;
        run_for(f, 700);
        assert_int_equal(msg_link_counters(f->m.srv)->rx, rx);
        assert_non_null(msg_link_peer(f->m.srv, "domd/slow"));
        reap(pid);
}

/* A stopped (wedged) quiet peer stays listed while nothing is asked of it; asked, it is
 * dropped after the peer timeout and the request fails; running again, it says Hello. */
static void stopped_quiet_peer_dropped_when_asked(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        pid_t pid = spawn_peer(f, "domd/wedged", "60000", "0");
        assert_true(wait_listed(f, NULL, "domd/wedged", 1, 5000));
        assert_int_equal(kill(pid, SIGSTOP), 0);
        run_for(f, 1000);
        assert_non_null(msg_link_peer(f->m.srv, "domd/wedged"));
        assert_int_equal(ask(f, "domd/wedged", 30000), 0);
        uint64_t t0 = now_ms();
        assert_true(wait_listed(f, NULL, "domd/wedged", 0, 3000));
        uint64_t took = now_ms() - t0;
        print_message("dropped %llu ms after the request (peer timeout 300 ms)\n",
                      (unsigned long long)took);
        assert_true(took >= 250);
        assert_true(wait_done(f, 100));
        assert_int_equal(f->status, -ECONNRESET);
        assert_int_equal(f->m.downs, 1);
        assert_int_equal(kill(pid, SIGCONT), 0);
        assert_true(wait_listed(f, NULL, "domd/wedged", 1, 3000));
        assert_true(msg_link_peer(f->m.srv, "domd/wedged")->watched);
        reap(pid);
}

/* The server restarts: a quiet client whose next Ping is a minute away (heartbeat 10 s)
 * learns it from the connection and announces itself to the new server at once. */
static void quiet_client_server_restart(void **state)
{
        struct fix *f = *state;
        struct event_base *cb = event_base_new();
        struct msg_client_config cc = {.path = f->m.path,
                                       .identity = "domd/restart",
                                       .role = "domd",
                                       .heartbeat_ms = 10000,
                                       .timeout_ms = 30000,
                                       .idle_ping_ms = 60000};
        struct msg_link *cli = NULL;
        assert_int_equal(msg_client_new(cb, &cc, &cli), 0);
        assert_int_equal(msg_link_set_state(cli, "power", "running"), 0);
        assert_true(wait_listed(f, cb, "domd/restart", 1, 3000));
        assert_true(pump(f, cb, cli, client_watched, 1000));
        uint64_t end;
        uint64_t gen1 = msg_link_generation(f->m.srv);
        for (int round = 0; round < 3; round++) {
                msg_link_free(f->m.srv);
                unlink(f->m.path);
                /* the client notices the closed connection */
                end = now_ms() + 2000;
                while (msg_link_announced(cli) && now_ms() < end) {
                        event_base_loop(cb, EVLOOP_NONBLOCK);
                        usleep(1000);
                }
                assert_false(msg_link_announced(cli));
                struct msg_server_config sc = {.path = f->m.path, .peer_timeout_ms = 300};
                assert_int_equal(msg_server_new(f->m.base, &sc, &f->m.srv), 0);
                msg_link_on_peer(f->m.srv, fixture_on_peer, &f->m);
                uint64_t t0 = now_ms();
                assert_true(wait_listed(f, cb, "domd/restart", 1, 5000));
                uint64_t took = now_ms() - t0;
                assert_true(pump(f, cb, cli, client_watched, 1000));
                print_message("listed by the new server after %llu ms\n", (unsigned long long)took);
                /* ZeroMQ reconnects within its 1 s interval at most; the heartbeat is 10 s */
                assert_true(took < 3000);
                const struct msg_peer_info *p = msg_link_peer(f->m.srv, "domd/restart");
                assert_int_equal(p->n_state, 1);
                assert_string_equal(p->state[0]->value, "running");
                assert_true(p->watched);
                assert_true(msg_link_generation(f->m.srv) != gen1);
        }
        msg_link_free(cli);
        event_base_free(cb);
}

/* A heartbeating client (a spare domd) announces itself again with new state, asking to be
 * quiet: the server's peer record follows (state, watched) on the same connection, the peer
 * is reported up again and never down, and the client is watched from then on. */
static void announce_again_goes_quiet(void **state)
{
        struct fix *f = *state;
        struct event_base *cb = event_base_new();
        struct msg_client_config cc = {
            .path = f->m.path, .identity = "spare-0123abcd", .role = "domd", .heartbeat_ms = 50};
        struct msg_link *cli = NULL;
        assert_int_equal(msg_client_new(cb, &cc, &cli), 0);
        assert_int_equal(msg_link_set_state(cli, "spare", "1"), 0);
        assert_true(wait_listed(f, cb, "spare-0123abcd", 1, 3000));
        assert_true(pump(f, cb, cli, client_announced, 1000));
        const struct msg_peer_info *p = msg_link_peer(f->m.srv, "spare-0123abcd");
        assert_false(p->watched);
        assert_false(msg_link_watched(cli));
        int ups = f->m.ups;

        assert_int_equal(msg_link_set_state(cli, "spare", NULL), 0);
        assert_int_equal(msg_link_set_state(cli, "vm", "6f1c0c1e-4bb5-4bd5-9c3e-7a2b1d0e9f11"), 0);
        assert_int_equal(msg_client_announce_again(cli, 60000), 0);
        assert_true(pump(f, cb, cli, client_watched, 2000));
        assert_int_equal(f->m.ups, ups + 1); /* reported before the HelloAck left */
        p = msg_link_peer(f->m.srv, "spare-0123abcd");
        assert_non_null(p);
        assert_true(p->watched);
        assert_int_equal(p->n_state, 1);
        assert_string_equal(p->state[0]->key, "vm");
        assert_string_equal(p->state[0]->value, "6f1c0c1e-4bb5-4bd5-9c3e-7a2b1d0e9f11");

        /* quiet now: no heartbeat every 50 ms any more, and still listed */
        pump(f, cb, cli, NULL, 50);
        uint64_t rx = msg_link_counters(f->m.srv)->rx;
        pump(f, cb, cli, NULL, 1000);
        assert_int_equal(msg_link_counters(f->m.srv)->rx - rx, 0);
        assert_non_null(msg_link_peer(f->m.srv, "spare-0123abcd"));
        assert_int_equal(f->m.downs, 0);
        assert_int_equal(msg_client_announce_again(f->m.srv, 0), -EINVAL);
        msg_link_free(cli);
        event_base_free(cb);
}

/* With a short idle ping the quiet peer still pings now and then: the fallback should the
 * connection's end go unnoticed. */
static void quiet_peer_idle_ping(void **state)
{
        struct fix *f = *state;
        if (access(f->m.helper, X_OK) != 0)
                skip();
        pid_t pid = spawn_peer(f, "domd/pinger", "200", "0");
        assert_true(wait_listed(f, NULL, "domd/pinger", 1, 5000));
        run_for(f, 300);
        uint64_t rx = msg_link_counters(f->m.srv)->rx;
        run_for(f, 2000);
        uint64_t n = msg_link_counters(f->m.srv)->rx - rx;
        print_message("%llu Pings in 2 s with idle_ping 200 ms\n", (unsigned long long)n);
        assert_true(n >= 4 && n <= 14); /* not every 50 ms heartbeat (40) */
        reap(pid);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(idle_quiet_peer_sends_nothing, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(quiet_peer_killed_dropped_at_once, setup_slow,
                                            teardown),
            cmocka_unit_test_setup_teardown(quiet_peer_long_request, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(stopped_quiet_peer_dropped_when_asked, setup_fast,
                                            teardown),
            cmocka_unit_test_setup_teardown(quiet_client_server_restart, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(quiet_peer_idle_ping, setup_fast, teardown),
            cmocka_unit_test_setup_teardown(announce_again_goes_quiet, setup_fast, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
