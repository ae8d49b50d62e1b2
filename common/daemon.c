#include "version.h"
#include "common/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proctitle.h"
#include "common/sdnotify.h"

LOG_MODULE(daemon)

static void usage(const char *name, FILE *out)
{
        fprintf(
            out,
            "usage: %s [-c FILE] [-n] [-o KEY=VALUE]... [-f] [--vm UUID] [--print-config] [-V]\n"
            "  -c FILE        configuration file (default /etc/xapid/%s.conf)\n"
            "  -n             check the configuration and exit (0 valid, 1 not)\n"
            "  -o KEY=VALUE   override one setting (repeatable)\n"
            "  -f             stay in the foreground (always the case)\n"
            "  --vm UUID      the VM a domd supervises\n"
            "  --print-config print every setting with its default, as a config file\n"
            "  -V             print the version\n",
            name, name);
}

static int make_dir(const char *path, mode_t mode)
{
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        struct daemon *d = arg;
        log_info("signal %d: stopping", (int)sig);
        sdnotify_stopping();
        if (d->on_stop != NULL)
                d->on_stop(d, d->on_stop_arg);
        else
                daemon_stop(d, 0);
}

int daemon_init(struct daemon *d, const char *name, const struct cfg_key *schema, int argc,
                char **argv)
{
        memset(d, 0, sizeof(*d));
        d->name = name;
        log_init(name);
        proctitle_init(argc, argv);
        char conf[4096];
        snprintf(conf, sizeof(conf), "/etc/xapid/%s.conf", name);
        bool check_only = false, conf_given = false;
        const char *overrides[64];
        int n_over = 0;
        static const struct option longopts[] = {{"vm", required_argument, NULL, 'u'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {"version", no_argument, NULL, 'V'},
                                                 {"print-config", no_argument, NULL, 'p'},
                                                 {NULL, 0, NULL, 0}};
        int c;
        while ((c = getopt_long(argc, argv, "c:no:fVh", longopts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        snprintf(conf, sizeof(conf), "%s", optarg);
                        conf_given = true;
                        break;
                case 'n':
                        check_only = true;
                        break;
                case 'o':
                        if (n_over < 64)
                                overrides[n_over++] = optarg;
                        break;
                case 'f':
                        break;
                case 'u':
                        d->instance = optarg;
                        break;
                case 'p':
                        cfg_print_example(schema, name, stdout);
                        exit(0);
                case 'V':
                        printf("%s %s (%s)\n", name, TS_VERSION, TS_GIT_REV);
                        exit(0);
                case 'h':
                        usage(name, stdout);
                        exit(0);
                default:
                        usage(name, stderr);
                        exit(2);
                }
        }
        if (optind != argc) {
                usage(name, stderr);
                exit(2);
        }
        d->cfg = cfg_new(schema);
        if (d->cfg == NULL)
                fatalx("out of memory");
        /* An explicitly named file must exist; the default one may be absent. */
        cfg_load_file(d->cfg, conf, !conf_given);
        for (int i = 0; i < n_over; i++)
                cfg_set_override(d->cfg, overrides[i]);
        if (check_only) {
                int bad = cfg_report(d->cfg, stderr);
                if (bad == 0)
                        printf("%s: configuration %s is valid\n", name, conf);
                exit(bad != 0 ? 1 : 0);
        }
        if (cfg_report(d->cfg, stderr) != 0)
                fatalx("invalid configuration in %s", conf);
        int level = log_level_from_name(cfg_get_str(d->cfg, "log_level"));
        if (level < 0)
                fatalx("log_level: unknown level %s", cfg_get_str(d->cfg, "log_level"));
        if (getenv("TS_LOG_LEVEL") == NULL)
                log_set_level(NULL, level);
        d->run_dir = cfg_get_str(d->cfg, "run_dir");
        d->state_dir = cfg_get_str(d->cfg, "state_dir");
        int r = make_dir(d->run_dir, 0700);
        if (r < 0)
                fatalx("run directory %s: %s", d->run_dir, strerror(-r));
        r = make_dir(d->state_dir, 0700);
        if (r < 0)
                fatalx("state directory %s: %s", d->state_dir, strerror(-r));
        if (asprintf(&d->msg_path, "%s/msg.sock", d->run_dir) < 0)
                fatalx("out of memory");
        signal(SIGPIPE, SIG_IGN);
        d->base = event_base_new();
        if (d->base == NULL)
                fatalx("cannot create the event loop");
        d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
        d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
        if (d->sig_term == NULL || d->sig_int == NULL || evsignal_add(d->sig_term, NULL) < 0 ||
            evsignal_add(d->sig_int, NULL) < 0)
                fatalx("cannot watch signals");
        log_info("%s %s starting (config %s, run dir %s)", name, TS_VERSION, conf, d->run_dir);
        return 0;
}

int daemon_open_ctl(struct daemon *d, const char *ctl_name,
                    void (*status)(struct ctl_req *req, int argc, char **argv, void *ctx),
                    void *status_ctx)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.ctl", d->run_dir, ctl_name ? ctl_name : d->name);
        int r = ctl_server_open(d->base, path, d->name, &d->ctl);
        if (r < 0)
                return r;
        if (status != NULL)
                r = ctl_register(d->ctl, "status", "", status, status_ctx);
        return r;
}

int daemon_connect(struct daemon *d, const char *identity, const char *role)
{
        struct msg_client_config cc = {
            .path = d->msg_path, .identity = identity, .role = role, .version = TS_VERSION};
        return msg_client_new(d->base, &cc, &d->link);
}

void daemon_link_status(const struct daemon *d, char *buf, size_t len)
{
        if (d->link == NULL) {
                snprintf(buf, len, "xapid: not connected\n");
                return;
        }
        const struct msg_counters *c = msg_link_counters(d->link);
        snprintf(buf, len,
                 "xapid: %s (generation %llu)\nmessages: %llu received, %llu sent, %llu "
                 "rejected\n",
                 msg_link_announced(d->link) ? "connected" : "connecting",
                 (unsigned long long)msg_link_peer_generation(d->link), (unsigned long long)c->rx,
                 (unsigned long long)c->tx, (unsigned long long)msg_counters_rejected(c));
}

void daemon_ready(struct daemon *d, const char *status)
{
        sdnotify_ready();
        if (status != NULL)
                sdnotify_status("%s", status);
        sdnotify_watchdog_start(d->base);
        log_info("ready%s%s", status ? ": " : "", status ? status : "");
}

int daemon_run(struct daemon *d)
{
        event_base_dispatch(d->base);
        return d->exit_status;
}

void daemon_stop(struct daemon *d, int status)
{
        d->exit_status = status;
        event_base_loopexit(d->base, NULL);
}

void daemon_fini(struct daemon *d)
{
        sdnotify_watchdog_stop();
        msg_link_free(d->link);
        ctl_server_free(d->ctl);
        if (d->sig_term != NULL)
                event_free(d->sig_term);
        if (d->sig_int != NULL)
                event_free(d->sig_int);
        if (d->base != NULL)
                event_base_free(d->base);
        cfg_free(d->cfg);
        free(d->msg_path);
        memset(d, 0, sizeof(*d));
}
