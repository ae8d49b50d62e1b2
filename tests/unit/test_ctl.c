/* Unit tests of common/ctl (control socket server), common/ctl_proto and common/ctl_client:
 * a real server on a temporary unix socket, driven by raw sockets from the same thread (the
 * test pumps the event loop while it waits) and by ctl_call from a second thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "version.h"
#include "common/ctl.h"
#include "common/ctl_client.h"
#include "common/log.h"

struct fixture {
        char dir[64];
        char path[128];
        struct event_base *base;
        struct ctl_server *srv;
        int deferred_done;      /* deferred replies sent so far */
        int deferred_connected; /* of those, how many still had their client */
};

struct deferred {
        struct fixture *f;
        struct ctl_req *req;
        struct event *ev;
        char text[128];
};

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- test commands ---- */

static void cmd_echo(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        char buf[1024] = "";
        for (int i = 1; i < argc; i++) {
                strncat(buf, argv[i], sizeof buf - strlen(buf) - 2);
                strcat(buf, "|");
        }
        ctl_reply(req, CTL_OK, buf);
}

static void deferred_fire(evutil_socket_t fd, short what, void *arg)
{
        struct deferred *d = arg;
        d->f->deferred_done++;
        if (ctl_req_connected(d->req))
                d->f->deferred_connected++;
        ctl_reply(d->req, CTL_OK, d->text);
        event_free(d->ev);
        free(d);
}

/* defer MS TEXT: replies TEXT after MS milliseconds, as a daemon waiting for a peer would. */
static void cmd_defer(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        if (argc != 3) {
                ctl_reply(req, CTL_BAD_REQUEST, "usage: defer MS TEXT");
                return;
        }
        struct deferred *d = calloc(1, sizeof *d);
        d->f = ctx;
        d->req = req;
        snprintf(d->text, sizeof d->text, "%s", argv[2]);
        int ms = atoi(argv[1]);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        d->ev = evtimer_new(d->f->base, deferred_fire, d);
        evtimer_add(d->ev, &tv);
}

static void cmd_big(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        size_t n = argc == 2 ? strtoul(argv[1], NULL, 10) : 0;
        char *buf = malloc(n + 1);
        memset(buf, 'x', n);
        buf[n] = '\0';
        ctl_reply(req, CTL_OK, buf);
        free(buf);
}

static void cmd_fail(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        ctl_replyf(req, CTL_FAILED, "failed: %d args\nsecond line", argc - 1);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof *f);
        strcpy(f->dir, "/tmp/test_ctl_XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/t.ctl", f->dir);
        f->base = event_base_new();
        assert_int_equal(ctl_server_open(f->base, f->path, "test_ctl", &f->srv), 0);
        assert_int_equal(ctl_register(f->srv, "echo", "[WORD...]", cmd_echo, f), 0);
        assert_int_equal(ctl_register(f->srv, "defer", "MS TEXT", cmd_defer, f), 0);
        assert_int_equal(ctl_register(f->srv, "big", "N", cmd_big, f), 0);
        assert_int_equal(ctl_register(f->srv, "fail", NULL, cmd_fail, f), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        ctl_server_free(f->srv);
        /* Deferred requests still pending after the server is gone: replying only frees.
         * Bounded, so that what a failed test leaked cannot hang the run. */
        struct timeval tv = {0, 500000};
        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
        event_base_free(f->base);
        rmdir(f->dir);
        free(f);
        return 0;
}

/* ---- raw clients, pumped from this thread ---- */

static int raw_connect(struct fixture *f)
{
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, f->path);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        return fd;
}

static void raw_send(int fd, const char *s, size_t n)
{
        assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Runs the loop until FD has something to read (or EOF); fails after 5 s. */
static void pump_until_readable(struct fixture *f, int fd)
{
        long long deadline = now_ms() + 5000;
        for (;;) {
                event_base_loop(f->base, EVLOOP_NONBLOCK);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 2) > 0)
                        return;
                assert_true(now_ms() < deadline);
        }
}

static void pump_ms(struct fixture *f, int ms)
{
        long long end = now_ms() + ms;
        while (now_ms() < end) {
                event_base_loop(f->base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
}

/* Reads N bytes exactly, pumping the loop. */
static void raw_read(struct fixture *f, int fd, char *buf, size_t n)
{
        size_t have = 0;
        while (have < n) {
                pump_until_readable(f, fd);
                ssize_t r = recv(fd, buf + have, n - have, 0);
                if (r < 0 && errno == EAGAIN)
                        continue;
                assert_true(r > 0);
                have += (size_t)r;
        }
}

/* Reads one reply; returns its status, *TEXT set (caller frees). */
static int raw_reply(struct fixture *f, int fd, char **text)
{
        char hdr[CTL_MAX_HEADER];
        size_t n = 0;
        for (;;) {
                raw_read(f, fd, hdr + n, 1);
                if (hdr[n] == '\n')
                        break;
                n++;
                assert_true(n < sizeof hdr);
        }
        hdr[n] = '\0';
        int status;
        size_t len;
        assert_int_equal(ctl_parse_header(hdr, &status, &len), 0);
        *text = malloc(len + 1);
        raw_read(f, fd, *text, len);
        (*text)[len] = '\0';
        return status;
}

/* True when the server closed FD (after pumping). */
static bool raw_closed(struct fixture *f, int fd)
{
        pump_until_readable(f, fd);
        char c;
        return recv(fd, &c, 1, 0) == 0;
}

static int raw_calln(struct fixture *f, const char *line, size_t len, char **text)
{
        int fd = raw_connect(f);
        raw_send(fd, line, len);
        int st = raw_reply(f, fd, text);
        close(fd);
        return st;
}

static int raw_call(struct fixture *f, const char *line, char **text)
{
        int fd = raw_connect(f);
        raw_send(fd, line, strlen(line));
        int st = raw_reply(f, fd, text);
        close(fd);
        return st;
}

/* ---- ctl_call from a second thread, while this one runs the loop ---- */

struct call {
        const char *path;
        int argc;
        const char *argv[8];
        int timeout_ms;
        int r, status;
        char *text;
        int done;
};

static void *call_thread(void *arg)
{
        struct call *c = arg;
        c->r = ctl_call(c->path, c->argc, c->argv, c->timeout_ms, &c->status, &c->text);
        __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

static void threaded_call(struct fixture *f, struct call *c)
{
        pthread_t t;
        c->path = c->path ? c->path : f->path;
        assert_int_equal(pthread_create(&t, NULL, call_thread, c), 0);
        long long deadline = now_ms() + 5000;
        while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
                event_base_loop(f->base, EVLOOP_NONBLOCK);
                usleep(500);
                assert_true(now_ms() < deadline);
        }
        pthread_join(t, NULL);
}

/* ---- tests ---- */

/* True for "PROGRAM <version> (git <rev>)\n".  The rev is not compared: objects built at
 * different commits carry different TS_GIT_REV values in an incremental build. */
static bool is_version(const char *text, const char *program)
{
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%s %s (git ", program, TS_VERSION);
        size_t n = strlen(prefix), len = strlen(text);
        return strncmp(text, prefix, n) == 0 && len > n + 2 && strcmp(text + len - 2, ")\n") == 0;
}

static void proto_split_join(void **state)
{
        const char *words[] = {"cmd", "plain", "two words", "", "q\"b\\s", "nl\nt\tr\r"};
        char *line = ctl_join(6, words);
        assert_string_equal(line, "cmd plain \"two words\" \"\" \"q\\\"b\\\\s\" \"nl\\nt\\tr\\r\"");
        char *argv[8];
        assert_int_equal(ctl_split(line, argv, 8), 6);
        for (int i = 0; i < 6; i++)
                assert_string_equal(argv[i], words[i]);
        free(line);

        char a[] = "  a\t b  ";
        assert_int_equal(ctl_split(a, argv, 8), 2);
        assert_string_equal(argv[1], "b");
        char b[] = "\"open";
        assert_int_equal(ctl_split(b, argv, 8), -EINVAL);
        char c[] = "\"x\"y";
        assert_int_equal(ctl_split(c, argv, 8), -EINVAL);
        char d[] = "a\\b";
        assert_int_equal(ctl_split(d, argv, 8), -EINVAL);
        char e[] = "\"\\q\"";
        assert_int_equal(ctl_split(e, argv, 8), -EINVAL);
        char g[] = "1 2 3";
        assert_int_equal(ctl_split(g, argv, 2), -E2BIG);
        char h[] = "";
        assert_int_equal(ctl_split(h, argv, 2), 0);

        int st;
        size_t len;
        assert_int_equal(ctl_parse_header("200 12", &st, &len), 0);
        assert_int_equal(st, 200);
        assert_int_equal(len, 12);
        assert_int_equal(ctl_parse_header("200 ", &st, &len), -EPROTO);
        assert_int_equal(ctl_parse_header("20 1", &st, &len), -EPROTO);
        assert_int_equal(ctl_parse_header("200 1x", &st, &len), -EPROTO);
        assert_int_equal(ctl_parse_header("200 99999999999999999999", &st, &len), -EPROTO);
        assert_int_equal(ctl_parse_header(NULL, &st, &len), -EPROTO);
}

static void list_commands_and_version(void **state)
{
        struct fixture *f = *state;
        char *text;
        assert_int_equal(raw_call(f, "list-commands\n", &text), CTL_OK);
        assert_string_equal(text, "big N\n"
                                  "defer MS TEXT\n"
                                  "echo [WORD...]\n"
                                  "fail\n"
                                  "list-commands\n"
                                  "log/list\n"
                                  "log/set [MODULE|all] LEVEL\n"
                                  "version\n");
        free(text);
        assert_int_equal(raw_call(f, "version\n", &text), CTL_OK);
        assert_true(is_version(text, "test_ctl"));
        free(text);
        assert_int_equal(ctl_register(f->srv, "echo", "", cmd_echo, f), -EEXIST);
        assert_int_equal(ctl_register(f->srv, "two words", "", cmd_echo, f), -EINVAL);
        assert_int_equal(ctl_register(f->srv, "", "", cmd_echo, f), -EINVAL);
        assert_int_equal(ctl_register(NULL, "x", "", cmd_echo, f), -EINVAL);
}

static void log_commands(void **state)
{
        struct fixture *f = *state;
        char *text;
        assert_int_equal(raw_call(f, "log/set ctl debug\n", &text), CTL_OK);
        assert_string_equal(text, "");
        free(text);
        assert_int_equal(raw_call(f, "log/list\n", &text), CTL_OK);
        assert_non_null(strstr(text, "\nctl debug\n"));
        assert_true(strncmp(text, "default info\n", 13) == 0);
        free(text);

        assert_int_equal(raw_call(f, "log/set err\n", &text), CTL_OK);
        free(text);
        assert_int_equal(log_get_default_level(), LOG_ERR);
        assert_int_equal(raw_call(f, "log/set all info\n", &text), CTL_OK);
        free(text);
        assert_int_equal(log_get_default_level(), LOG_INFO);
        assert_int_equal(raw_call(f, "log/list\n", &text), CTL_OK);
        assert_non_null(strstr(text, "\nctl info\n")); /* "all" resets per-module levels */
        free(text);

        assert_int_equal(raw_call(f, "log/set nosuch debug\n", &text), CTL_BAD_REQUEST);
        assert_string_equal(text, "no such log module: nosuch\n");
        free(text);
        assert_int_equal(raw_call(f, "log/set ctl loud\n", &text), CTL_BAD_REQUEST);
        assert_non_null(strstr(text, "unknown level \"loud\""));
        free(text);
        assert_int_equal(raw_call(f, "log/set\n", &text), CTL_BAD_REQUEST);
        free(text);
        log_set_level("all", LOG_INFO);
}

static void errors(void **state)
{
        struct fixture *f = *state;
        char *text;
        assert_int_equal(raw_call(f, "frobnicate now\n", &text), CTL_NOT_FOUND);
        assert_string_equal(text, "unknown command \"frobnicate\" (try list-commands)\n");
        free(text);
        assert_int_equal(raw_call(f, "fail a b\n", &text), CTL_FAILED);
        assert_string_equal(text, "failed: 2 args\nsecond line\n");
        free(text);
        assert_int_equal(raw_call(f, "echo \"unterminated\n", &text), CTL_BAD_REQUEST);
        free(text);
        assert_int_equal(raw_call(f, "   \n", &text), CTL_BAD_REQUEST);
        free(text);
        assert_int_equal(raw_calln(f, "echo a\0b\n", 9, &text), CTL_BAD_REQUEST);
        free(text);

        /* Several requests on one connection, some sent in pieces: answered in order. */
        int fd = raw_connect(f);
        raw_send(fd, "ech", 3);
        pump_ms(f, 20);
        raw_send(fd, "o one\r\nversion\necho two", 23);
        assert_int_equal(raw_reply(f, fd, &text), CTL_OK);
        assert_string_equal(text, "one|\n");
        free(text);
        assert_int_equal(raw_reply(f, fd, &text), CTL_OK);
        free(text);
        raw_send(fd, "\n", 1);
        assert_int_equal(raw_reply(f, fd, &text), CTL_OK);
        assert_string_equal(text, "two|\n");
        free(text);
        close(fd);
}

static void oversized_request(void **state)
{
        struct fixture *f = *state;
        char *big = malloc(CTL_MAX_REQUEST + 100);
        memset(big, 'a', CTL_MAX_REQUEST + 100);
        char *text;

        /* No newline at all: rejected once more than the limit has arrived. */
        int fd = raw_connect(f);
        raw_send(fd, big, CTL_MAX_REQUEST + 100);
        assert_int_equal(raw_reply(f, fd, &text), CTL_TOO_LARGE);
        assert_string_equal(text, "request too long\n");
        free(text);
        assert_true(raw_closed(f, fd));
        close(fd);

        /* A complete but too long line. */
        big[CTL_MAX_REQUEST + 99] = '\n';
        fd = raw_connect(f);
        raw_send(fd, big, CTL_MAX_REQUEST + 100);
        assert_int_equal(raw_reply(f, fd, &text), CTL_TOO_LARGE);
        free(text);
        assert_true(raw_closed(f, fd));
        close(fd);
        free(big);

        /* Exactly at the limit is fine (an unknown command, but parsed). */
        char *max = malloc(CTL_MAX_REQUEST + 1);
        memset(max, 'b', CTL_MAX_REQUEST);
        max[CTL_MAX_REQUEST] = '\n';
        fd = raw_connect(f);
        raw_send(fd, max, CTL_MAX_REQUEST + 1);
        assert_int_equal(raw_reply(f, fd, &text), CTL_NOT_FOUND);
        free(text);
        close(fd);
        free(max);

        /* The client refuses to send what the server would reject. */
        struct call c = {.argc = 2, .argv = {"echo", NULL}, .timeout_ms = 2000};
        char *arg = malloc(CTL_MAX_REQUEST);
        memset(arg, 'c', CTL_MAX_REQUEST - 1);
        arg[CTL_MAX_REQUEST - 1] = '\0';
        c.argv[1] = arg;
        threaded_call(f, &c);
        assert_int_equal(c.r, -E2BIG);
        free(arg);
        pump_ms(f, 10);
        assert_int_equal(ctl_server_n_clients(f->srv), 0);
}

static void deferred_reply(void **state)
{
        struct fixture *f = *state;
        char *text;
        /* A deferred request does not block other clients... */
        int slow = raw_connect(f);
        raw_send(slow, "defer 150 later\nversion\n", 24);
        pump_ms(f, 10);
        long long t0 = now_ms();
        assert_int_equal(raw_call(f, "echo meanwhile\n", &text), CTL_OK);
        free(text);
        assert_int_equal(f->deferred_done, 0); /* answered while the deferred one waits */
        /* ...and requests queued behind it on its connection wait their turn. */
        assert_int_equal(raw_reply(f, slow, &text), CTL_OK);
        assert_string_equal(text, "later\n");
        free(text);
        assert_true(now_ms() - t0 >= 100);
        assert_int_equal(raw_reply(f, slow, &text), CTL_OK);
        assert_non_null(strstr(text, "test_ctl"));
        free(text);
        close(slow);
        assert_int_equal(f->deferred_done, 1);
        assert_int_equal(f->deferred_connected, 1);

        /* Through the real client, with quoting. */
        struct call c = {.argc = 3, .argv = {"defer", "30", "a b \"c\""}, .timeout_ms = 3000};
        threaded_call(f, &c);
        assert_int_equal(c.r, 0);
        assert_int_equal(c.status, CTL_OK);
        assert_string_equal(c.text, "a b \"c\"\n");
        free(c.text);

        /* The client gives up before the reply: -ETIMEDOUT, and the server shrugs it off. */
        struct call t = {.argc = 3, .argv = {"defer", "400", "late"}, .timeout_ms = 100};
        threaded_call(f, &t);
        assert_int_equal(t.r, -ETIMEDOUT);
        pump_ms(f, 450);
        assert_int_equal(f->deferred_done, 3);
        assert_int_equal(f->deferred_connected, 2);
        assert_int_equal(ctl_server_n_clients(f->srv), 0);
}

static void client_vanishes(void **state)
{
        struct fixture *f = *state;
        char *text;
        /* Mid-request: half a line, then gone. */
        int fd = raw_connect(f);
        raw_send(fd, "echo hal", 8);
        pump_ms(f, 10);
        assert_int_equal(ctl_server_n_clients(f->srv), 1);
        close(fd);
        pump_ms(f, 10);
        assert_int_equal(ctl_server_n_clients(f->srv), 0);

        /* While its deferred reply is being prepared. */
        fd = raw_connect(f);
        raw_send(fd, "defer 50 nobody\n", 16);
        pump_ms(f, 10);
        close(fd);
        pump_ms(f, 80);
        assert_int_equal(f->deferred_done, 1);
        assert_int_equal(f->deferred_connected, 0);
        assert_int_equal(ctl_server_n_clients(f->srv), 0);

        /* Mid-reply: reads the header of an 8 MB reply and leaves. */
        fd = raw_connect(f);
        raw_send(fd, "big 8000000\n", 12);
        char hdr[16];
        raw_read(f, fd, hdr, 12);
        assert_memory_equal(hdr, "200 8000001\n", 12);
        close(fd);
        pump_ms(f, 50);
        assert_int_equal(ctl_server_n_clients(f->srv), 0);

        /* Half-closed after the request (as `echo version | socat`): still answered. */
        fd = raw_connect(f);
        raw_send(fd, "echo half\n", 10);
        shutdown(fd, SHUT_WR);
        assert_int_equal(raw_reply(f, fd, &text), CTL_OK);
        assert_string_equal(text, "half|\n");
        free(text);
        assert_true(raw_closed(f, fd));
        close(fd);

        /* The server is still fine. */
        assert_int_equal(raw_call(f, "echo ok\n", &text), CTL_OK);
        free(text);
}

static void many_clients(void **state)
{
        struct fixture *f = *state;
        enum { N = 70 };
        int fds[N];
        for (int i = 0; i < N; i++) {
                fds[i] = raw_connect(f);
                pump_ms(f, 1);
        }
        pump_ms(f, 20);
        int ok = 0, busy = 0;
        for (int i = 0; i < N; i++) {
                char *text;
                /* The refused ones have their 503 waiting already; the others answer. */
                struct pollfd p = {.fd = fds[i], .events = POLLIN};
                if (poll(&p, 1, 0) == 0)
                        raw_send(fds[i], "echo hi\n", 8);
                int st = raw_reply(f, fds[i], &text);
                free(text);
                if (st == CTL_OK)
                        ok++;
                else if (st == CTL_UNAVAILABLE)
                        busy++;
        }
        assert_int_equal(ok, 64);
        assert_int_equal(busy, N - 64);
        for (int i = 0; i < N; i++)
                close(fds[i]);
        pump_ms(f, 20);
        assert_int_equal(ctl_server_n_clients(f->srv), 0);
}

static void socket_file(void **state)
{
        struct fixture *f = *state;
        struct stat st;
        assert_int_equal(stat(f->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0600);

        /* A live daemon's socket is not taken over. */
        struct ctl_server *other = NULL;
        assert_int_equal(ctl_server_open(f->base, f->path, "x", &other), -EADDRINUSE);
        assert_null(other);

        /* A stale socket (its daemon died without removing it) is replaced. */
        char stale[160];
        snprintf(stale, sizeof stale, "%s/stale.ctl", f->dir);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, stale);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        close(fd);
        assert_int_equal(ctl_server_open(f->base, stale, "x", &other), 0);
        struct call c = {.path = stale, .argc = 1, .argv = {"version"}, .timeout_ms = 2000};
        threaded_call(f, &c);
        assert_int_equal(c.r, 0);
        assert_true(is_version(c.text, "x"));
        free(c.text);
        ctl_server_free(other);
        assert_int_equal(access(stale, F_OK), -1); /* removed on free */

        /* A regular file is not clobbered; a missing daemon is reported as such. */
        fd = open(stale, O_CREAT | O_WRONLY, 0600);
        close(fd);
        assert_int_equal(ctl_server_open(f->base, stale, "x", &other), -EEXIST);
        struct call d = {.path = stale, .argc = 1, .argv = {"version"}, .timeout_ms = 2000};
        threaded_call(f, &d);
        assert_int_equal(d.r, -ECONNREFUSED);
        unlink(stale);
        struct call e = {.path = stale, .argc = 1, .argv = {"version"}, .timeout_ms = 2000};
        threaded_call(f, &e);
        assert_int_equal(e.r, -ENOENT);
        char longpath[200];
        memset(longpath, 'p', sizeof longpath - 1);
        longpath[sizeof longpath - 1] = '\0';
        assert_int_equal(ctl_server_open(f->base, longpath, "x", &other), -ENAMETOOLONG);
        ctl_reply(NULL, CTL_OK, "x");
        ctl_server_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(proto_split_join),
            cmocka_unit_test_setup_teardown(list_commands_and_version, setup, teardown),
            cmocka_unit_test_setup_teardown(log_commands, setup, teardown),
            cmocka_unit_test_setup_teardown(errors, setup, teardown),
            cmocka_unit_test_setup_teardown(oversized_request, setup, teardown),
            cmocka_unit_test_setup_teardown(deferred_reply, setup, teardown),
            cmocka_unit_test_setup_teardown(client_vanishes, setup, teardown),
            cmocka_unit_test_setup_teardown(many_clients, setup, teardown),
            cmocka_unit_test_setup_teardown(socket_file, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
