/* ctl_test_server: a minimal daemon for tests/integration/test_tsctl, and a worked example of
 * the operator plumbing a real daemon's main() uses: config file with -n / -o, process
 * title, control socket, systemd notifications.
 *
 * usage: ctl_test_server [-c CONF] [-n] [-o KEY=VALUE]...
 * Commands besides the built-ins: status, echo [WORD...], defer MS TEXT, fail, big N. */
#include "common/config.h"
#include "common/ctl.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/sdnotify.h"

#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

LOG_MODULE(main)

static const struct cfg_key schema[] = {
    {"socket", CFG_STRING, NULL, 0, 0, "control socket path (required)"},
    {"name", CFG_STRING, "ctl_test_server", 0, 0, "name shown in the process title"},
    {"status", CFG_STRING, "running", 0, 0, "first line of the status reply"},
    {"ctl.max_defer", CFG_DURATION, "10s", 0, 60000, "longest delay `defer` accepts"},
    {"ctl.verbose", CFG_BOOL, "no", 0, 0, "log at debug level"},
    {NULL},
};

struct server {
        struct event_base *base;
        struct ctl_server *ctl;
        const struct cfg *cfg;
        unsigned requests;
};

struct deferred {
        struct ctl_req *req;
        struct event *ev;
        char *text;
};

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct server *s = ctx;
        s->requests++;
        ctl_replyf(req, CTL_OK, "%s\nclients %u\nrequests %u", cfg_get_str(s->cfg, "status"),
                   ctl_server_n_clients(s->ctl), s->requests);
}

static void cmd_echo(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f == NULL) {
                ctl_reply(req, CTL_FAILED, "out of memory");
                return;
        }
        for (int i = 1; i < argc; i++)
                fprintf(f, "[%s]\n", argv[i]);
        fclose(f);
        ctl_reply(req, CTL_OK, buf);
        free(buf);
}

static void deferred_fire(evutil_socket_t fd, short what, void *arg)
{
        struct deferred *d = arg;
        ctl_reply(d->req, CTL_OK, d->text);
        event_free(d->ev);
        free(d->text);
        free(d);
}

static void cmd_defer(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct server *s = ctx;
        int64_t ms;
        if (argc != 3 || cfg_parse_duration_ms(argv[1], &ms) < 0) {
                ctl_reply(req, CTL_BAD_REQUEST, "usage: defer DURATION TEXT (e.g. 500ms)");
                return;
        }
        if (ms > cfg_get_duration_ms(s->cfg, "ctl.max_defer")) {
                ctl_reply(req, CTL_BAD_REQUEST, "delay longer than ctl.max_defer");
                return;
        }
        struct deferred *d = calloc(1, sizeof *d);
        if (d == NULL || (d->text = strdup(argv[2])) == NULL ||
            (d->ev = evtimer_new(s->base, deferred_fire, d)) == NULL) {
                if (d != NULL)
                        free(d->text);
                free(d);
                ctl_reply(req, CTL_FAILED, "out of memory");
                return;
        }
        d->req = req;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(d->ev, &tv);
}

static void cmd_fail(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        ctl_reply(req, CTL_FAILED, "it failed\nas asked");
}

static void cmd_big(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        long n = argc == 2 ? atol(argv[1]) : -1;
        if (n < 0 || n > 8 << 20) {
                ctl_reply(req, CTL_BAD_REQUEST, "usage: big N (N <= 8M)");
                return;
        }
        char *buf = malloc((size_t)n + 1);
        if (buf == NULL) {
                ctl_reply(req, CTL_FAILED, "out of memory");
                return;
        }
        memset(buf, 'x', (size_t)n);
        buf[n] = '\0';
        ctl_reply(req, CTL_OK, buf);
        free(buf);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        struct server *s = arg;
        log_info("signal %d, exiting", (int)sig);
        event_base_loopbreak(s->base);
}

int main(int argc, char **argv)
{
        proctitle_init(argc, argv);
        log_init("ctl_test_server");
        struct cfg *cfg = cfg_new(schema);
        const char *conf = NULL;
        const char *overrides[32];
        size_t n_overrides = 0;
        bool check = false;
        int c;
        while ((c = getopt(argc, argv, "c:no:h")) != -1) {
                switch (c) {
                case 'c':
                        conf = optarg;
                        break;
                case 'n':
                        check = true;
                        break;
                case 'o':
                        if (n_overrides == sizeof overrides / sizeof *overrides) {
                                fprintf(stderr, "too many -o options\n");
                                return 2;
                        }
                        overrides[n_overrides++] = optarg;
                        break;
                default:
                        fprintf(stderr, "usage: ctl_test_server [-c CONF] [-n] [-o KEY=VALUE]\n"
                                        "keys:\n");
                        cfg_print_schema(schema, stderr);
                        return c == 'h' ? 0 : 2;
                }
        }
        /* Precedence: defaults, then the file, then the environment, then -o. */
        if (conf != NULL)
                cfg_load_file(cfg, conf, false);
        cfg_load_env(cfg, "CTL_TEST");
        for (size_t i = 0; i < n_overrides; i++)
                cfg_set_override(cfg, overrides[i]);
        if (cfg_error_count(cfg) == 0 && !cfg_is_set(cfg, "socket")) {
                fprintf(stderr, "%s: socket: required\n", conf ? conf : "-o");
                return 1;
        }
        if (check) {
                int rc = cfg_report(cfg, stderr);
                cfg_free(cfg);
                return rc;
        }
        if (cfg_report(cfg, stderr) != 0)
                return 1;
        if (cfg_get_bool(cfg, "ctl.verbose"))
                log_set_level("all", LOG_DEBUG);

        struct server s = {.cfg = cfg};
        s.base = event_base_new();
        if (s.base == NULL)
                fatalx("event_base_new failed");
        int r = ctl_server_open(s.base, cfg_get_str(cfg, "socket"), "ctl_test_server", &s.ctl);
        if (r < 0)
                fatalx("control socket %s: %s", cfg_get_str(cfg, "socket"), strerror(-r));
        ctl_register(s.ctl, "status", "", cmd_status, &s);
        ctl_register(s.ctl, "echo", "[WORD...]", cmd_echo, &s);
        ctl_register(s.ctl, "defer", "DURATION TEXT", cmd_defer, &s);
        ctl_register(s.ctl, "fail", "", cmd_fail, &s);
        ctl_register(s.ctl, "big", "N", cmd_big, &s);
        struct event *sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
        struct event *sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
        event_add(sigterm, NULL);
        event_add(sigint, NULL);

        proctitle_set_name("ctl_test");
        proctitle_set("ctl_test_server: %s %s", cfg_get_str(cfg, "name"),
                      cfg_get_str(cfg, "status"));
        sdnotify_watchdog_start(s.base);
        sdnotify_ready();
        sdnotify_status("%s", cfg_get_str(cfg, "status"));
        log_info("serving %s", cfg_get_str(cfg, "socket"));
        event_base_dispatch(s.base);

        sdnotify_stopping();
        sdnotify_watchdog_stop();
        ctl_server_free(s.ctl);
        event_free(sigterm);
        event_free(sigint);
        event_base_free(s.base);
        cfg_free(cfg);
        return 0;
}
