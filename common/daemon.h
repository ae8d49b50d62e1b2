/* What every toolstack daemon does around its own work: command line, configuration (with a
 * check mode), logging, run and state directories, the control socket, signals, sd_notify
 * and the watchdog, and the process title.
 *
 *     static const struct cfg_key schema[] = {DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
 *                                             {"http.port", CFG_INT, "443", 1, 65535, "…"},
 *                                             {NULL}};
 *     struct daemon d;
 *     int r = daemon_init(&d, "stord", schema, argc, argv);  // exits on -n, -h, -V, errors
 *     ... open things on d.base, register ctl commands on d.ctl ...
 *     daemon_ready(&d, "serving");     // sd_notify READY=1, watchdog
 *     r = daemon_run(&d);              // until SIGTERM/SIGINT, then d.on_stop
 *     ... free things ...
 *     daemon_fini(&d);
 *
 * Command line: -c FILE (default /etc/xapid/NAME.conf), -n (check the configuration and
 * exit 0 or 1), -o KEY=VALUE (override, repeatable), -f (stay in the foreground: always
 * the case; accepted for habit), --vm UUID (domd's instance), -V, -h. */
#ifndef TS_COMMON_DAEMON_H
#define TS_COMMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

struct event_base;
struct event;
struct ctl_server;
struct ctl_req;
struct msg_link;

#define DAEMON_COMMON_KEYS(RUN_DIR, STATE_DIR)                                                     \
        {"run_dir", CFG_STRING, RUN_DIR, 0, 0, "run directory: sockets, state of domains"},        \
            {"state_dir", CFG_STRING, STATE_DIR, 0, 0, "persistent state directory"},              \
        {                                                                                          \
                "log_level", CFG_STRING, "info", 0, 0, "err, warn, notice, info or debug"          \
        }

struct daemon {
        const char *name;        /* "xapid", "stord", "netd", "domd" */
        struct event_base *base; /* owned */
        struct cfg *cfg;         /* owned */
        struct ctl_server *ctl;  /* owned; NULL until daemon_open_ctl */
        const char *run_dir;     /* borrowed from cfg */
        const char *state_dir;   /* borrowed from cfg */
        const char *instance;    /* --vm UUID, or NULL */
        char *msg_path;          /* RUN_DIR/msg.sock: xapid's ROUTER endpoint; owned */
        /* Called on SIGTERM/SIGINT before the loop stops (may be NULL).  It may start an
         * asynchronous shutdown and call daemon_stop later; if NULL the loop stops at once. */
        void (*on_stop)(struct daemon *d, void *arg);
        void *on_stop_arg;
        struct msg_link *link; /* stord/netd/domd: the DEALER to xapid; owned */
        struct event *sig_term, *sig_int;
        int exit_status;
};

/* Parses the command line and configuration, sets up logging and the event loop, creates
 * the run directory.  Exits the process for -h, -V, -n and configuration errors. */
int daemon_init(struct daemon *d, const char *name, const struct cfg_key *schema, int argc,
                char **argv);
/* Opens the control socket at RUN_DIR/CTL_NAME.ctl (CTL_NAME NULL: the daemon's name) and
 * registers `status` with STATUS (which gets D as ctx).  Returns 0 or -errno. */
int daemon_open_ctl(struct daemon *d, const char *ctl_name,
                    void (*status)(struct ctl_req *req, int argc, char **argv, void *ctx),
                    void *status_ctx);
/* stord, netd, domd: connects to xapid's ROUTER as IDENTITY ("stord", "domd/<uuid>") with
 * ROLE; ZeroMQ reconnects and the link re-announces by itself.  Returns 0 or -errno. */
int daemon_connect(struct daemon *d, const char *identity, const char *role);
/* Appends the link's state ("xapid: connected (generation …)") to a status reply text. */
void daemon_link_status(const struct daemon *d, char *buf, size_t len);

/* Tells systemd (if any) that the daemon is ready, with a status line; starts the watchdog. */
void daemon_ready(struct daemon *d, const char *status);
/* Runs the loop until stopped; returns the exit status. */
int daemon_run(struct daemon *d);
/* Stops the loop (from on_stop, or on a fatal runtime error with STATUS != 0). */
void daemon_stop(struct daemon *d, int status);
void daemon_fini(struct daemon *d);

#endif
