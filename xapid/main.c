/* xapid: the XenAPI daemon.  Loads the datamodel, serves XML-RPC and JSON-RPC over HTTPS and
 * the local unix socket, and is the ROUTER every stord, netd and domd connects to. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/model_gen.h"
#include "common/monotime.h"
#include "common/ctl.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proctitle.h"
#include "xapid/auth.h"
#include "xapid/bootstrap.h"
#include "xapid/db.h"
#include "xapid/db_journal.h"
#include "xapid/event.h"
#include "xapid/http_server.h"
#include "xapid/net.h"
#include "xapid/rpc_http.h"
#include "xapid/session.h"
#include "xapid/sm.h"
#include "xapid/storage.h"
#include "xapid/task.h"
#include "xapid/templates.h"
#include "xapid/vm_lifecycle.h"
#include "xapid/xen_host_facts.h"
#include "xapid/xapi.h"

LOG_MODULE(xapid)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"http.port", CFG_INT, "443", 0, 65535, "HTTPS port (0: any free port)"},
    {"http.address", CFG_STRING, NULL, 0, 0, "address to listen on (default: all)"},
    {"http.unix_socket", CFG_STRING, "/var/lib/xcp/xapi", 0, 0, "local unix socket path"},
    {"http.tls_cert", CFG_STRING, "/etc/xapid/xapi-ssl.pem", 0, 0,
     "PEM certificate (and key, unless http.tls_key); generated when absent"},
    {"http.tls_key", CFG_STRING, NULL, 0, 0, "PEM private key (default: http.tls_cert)"},
    {"http.max_connections", CFG_INT, "10000", 1, 1000000, "open connections at most"},
    {"auth.backend", CFG_STRING, "pam", 0, 0, "pam or password-file"},
    {"auth.password_file", CFG_STRING, NULL, 0, 0, "user:crypt-hash lines (password-file)"},
    {"auth.failure_delay", CFG_DURATION, "1s", 0, 60000, "delay before a failed login answers"},
    {"sim.host_memory", CFG_SIZE, "16G", 0, 0,
     "memory of the simulated host when no hypervisor is present"},
    {"vm.operation_wait", CFG_DURATION, "3s", 0, 3600000,
     "how long a VM call waits for a conflicting one in progress"},
    {"vm.shutdown_timeout", CFG_DURATION, "1200s", 100, 86400000,
     "clean shutdown/reboot: how long the guest may take"},
    {"vm.shutdown_ack_timeout", CFG_DURATION, "30s", 100, 86400000,
     "clean shutdown/reboot: how long until the guest acknowledges"},
    {"vm.domd_path", CFG_STRING, NULL, 0, 0, "the domd binary (default: next to xapid)"},
    {"vm.domd_config", CFG_STRING, "/etc/xapid/domd.conf", 0, 0, "domd's configuration"},
    {"vm.domd_systemd", CFG_BOOL, "false", 0, 0, "start domds as domd@UUID through systemctl"},
    {"vm.domd_connect_timeout", CFG_DURATION, "10s", 100, 600000,
     "a started domd must connect within this"},
    {"vm.reconcile_grace", CFG_DURATION, "3s", 0, 600000,
     "at start, how long running VMs' domds have to announce themselves"},
    {"vm.domd_spares", CFG_INT, "4", 0, 64,
     "idle domds kept started so that VM.start need not wait for one (0: none; not with "
     "vm.domd_systemd)"},
    {"vm.domd_zygote", CFG_BOOL, "true", 0, 0,
     "fork domds from a pre-loaded `domd --zygote` instead of exec'ing each (not with "
     "vm.domd_systemd)"},
    {"vm.domd_heartbeat", CFG_DURATION, "1s", 100, 600000,
     "how often domds ping xapid (keep well under msg.peer_timeout)"},
    {"vm.domd_idle_ping", CFG_DURATION, "60s", 0, 3600000,
     "how often an idle domd pings xapid once xapid watches its process (pidfd); it pings "
     "every vm.domd_heartbeat while it works on a request (0: always every heartbeat)"},
    {"msg.peer_timeout", CFG_DURATION, "3s", 300, 3600000,
     "a stord, netd or domd silent for this long is taken for gone (a domd whose process "
     "xapid watches: only while a request to it is pending)"},
    {NULL},
};

struct xapid {
        struct daemon d;
        struct xapi x;
        struct db_journal *journal;
        struct http_server *http;
        struct rpc_http routes;
        struct msg_link *msg;
        time_t started;
};

static void journal_commit(void *ctx, void (*done)(int, void *), void *arg)
{
        int r = db_journal_commit(ctx, done, arg);
        if (r < 0)
                done(r, arg);
}

static void peer_state_committed(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store what a peer announced: %s", strerror(-result));
}

static void peer_changed(struct msg_link *l, const struct msg_peer_info *p, int up, void *arg)
{
        struct xapid *a = arg;
        if (!up) {
                log_warnx("peer %s gone (pid %d)", p->identity, p->pid);
                if (strcmp(p->role, "domd") == 0)
                        vms_domd_peer(&a->x, p, 0);
                return;
        }
        log_info("peer %s up (pid %d, version %s)", p->identity, p->pid, p->version);
        if (strcmp(p->role, "stord") == 0) {
                int n = sm_sync_from_peer(&a->x, p);
                log_info("stord announced %d storage driver(s)", n);
                a->x.commit(a->x.commit_ctx, peer_state_committed, NULL);
                storage_peer_up(&a->x, p);
        } else if (strcmp(p->role, "domd") == 0) {
                vms_domd_peer(&a->x, p, up);
                return;
        } else if (strcmp(p->role, "netd") == 0) {
                int n = net_sync_from_peer(&a->x, p);
                log_info("netd announced %d NIC(s)", n);
                a->x.commit(a->x.commit_ctx, peer_state_committed, NULL);
                net_apply(&a->x, NULL, NULL); /* netd restarted or we did: converge */
        }
}

struct peer_text {
        char *buf;
        size_t len, off;
        uint64_t now_ms;
};

static void add_peer_line(const struct msg_peer_info *p, void *arg)
{
        struct peer_text *t = arg;
        if (t->off >= t->len)
                return;
        int n = snprintf(t->buf + t->off, t->len - t->off,
                         "%s role %s pid %d version %s up %llds seen %llums ago%s", p->identity,
                         p->role, p->pid, p->version, (long long)(time(NULL) - p->start_time),
                         (unsigned long long)(t->now_ms - p->last_seen_ms),
                         p->watched ? " watched" : "");
        for (size_t i = 0; i < p->n_state && n > 0 && t->off + (size_t)n < t->len; i++)
                n += snprintf(t->buf + t->off + n, t->len - t->off - (size_t)n, " %s=%s",
                              p->state[i]->key, p->state[i]->value);
        if (n > 0 && t->off + (size_t)n + 1 < t->len) {
                t->off += (size_t)n;
                t->buf[t->off++] = '\n';
                t->buf[t->off] = '\0';
        }
}

static void cmd_peers(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct xapid *a = ctx;
        char buf[16384] = "";
        struct peer_text t = {buf, sizeof(buf), 0, monotonic_ms()};
        size_t n = msg_link_peers(a->msg, add_peer_line, &t);
        if (n == 0)
                snprintf(buf, sizeof(buf), "no peers connected\n");
        ctl_reply(req, CTL_OK, buf);
}

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct xapid *a = ctx;
        struct http_server_stats hs;
        http_server_get_stats(a->http, &hs);
        char peers[16384] = "";
        struct peer_text t = {peers, sizeof(peers), 0, monotonic_ms()};
        size_t n = msg_link_peers(a->msg, add_peer_line, &t);
        ctl_replyf(req, CTL_OK,
                   "xapid pid %ld up %lds, https port %u\n"
                   "host %s\ncalls %llu, connections %zu open / %llu accepted\n"
                   "sessions %zu, tasks %zu, db generation %llu\npeers %zu:\n%s",
                   (long)getpid(), (long)(time(NULL) - a->started), http_server_port(a->http),
                   a->x.host_ref, a->x.calls, hs.conns, (unsigned long long)hs.accepted,
                   db_count(a->x.db, &mclass_session), db_count(a->x.db, &mclass_task),
                   (unsigned long long)db_generation(a->x.db), n, peers);
}

static void cmd_db_stats(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct xapid *a = ctx;
        struct db_journal_stats s;
        db_journal_stats(a->journal, &s);
        ctl_replyf(req, CTL_OK,
                   "commits %llu (failed %llu), batches %llu, rows written %llu, deleted %llu\n"
                   "batch size max %llu avg %.1f; commit latency last %lluus avg %lluus max "
                   "%lluus\nrows loaded %llu in %llums; file size %llu bytes\n"
                   "generation %llu\n",
                   (unsigned long long)s.commits, (unsigned long long)s.failed_commits,
                   (unsigned long long)s.batches, (unsigned long long)s.rows_written,
                   (unsigned long long)s.rows_deleted, (unsigned long long)s.max_batch, s.avg_batch,
                   (unsigned long long)s.last_latency_us, (unsigned long long)s.avg_latency_us,
                   (unsigned long long)s.max_latency_us, (unsigned long long)s.loaded_rows,
                   (unsigned long long)(s.load_us / 1000), (unsigned long long)s.file_size,
                   (unsigned long long)db_generation(a->x.db));
}

static void cmd_sessions(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct xapid *a = ctx;
        char buf[32768];
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < db_count(a->x.db, &mclass_session) && off < sizeof(buf); i++) {
                const struct db_row *row = db_row_at(a->x.db, &mclass_session, i);
                const struct api_session *s = row->rec;
                int n =
                    snprintf(buf + off, sizeof(buf) - off, "%s user %s originator %s idle %lds\n",
                             row->ref, s->auth_user_name, s->originator[0] ? s->originator : "-",
                             (long)(time(NULL) - s->last_active));
                if (n < 0)
                        break;
                off += (size_t)n;
        }
        ctl_reply(req, CTL_OK, off ? buf : "no sessions\n");
}

static void open_vms(struct xapid *a)
{
        struct vms_config vc = {
            .operation_wait_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.operation_wait"),
            .shutdown_timeout_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.shutdown_timeout"),
            .ack_timeout_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.shutdown_ack_timeout"),
            .domd_connect_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.domd_connect_timeout"),
            .reconcile_grace_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.reconcile_grace"),
            .domd_path = cfg_get_str(a->d.cfg, "vm.domd_path"),
            .domd_config = cfg_get_str(a->d.cfg, "vm.domd_config"),
            .use_systemd = cfg_get_bool(a->d.cfg, "vm.domd_systemd"),
            .run_dir = a->d.run_dir,
            .state_dir = a->d.state_dir,
            .log_level = cfg_get_str(a->d.cfg, "log_level"),
            .sim_host_memory = cfg_get_size(a->d.cfg, "sim.host_memory"),
            .domd_heartbeat_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.domd_heartbeat"),
            .domd_idle_ping_ms = (unsigned)cfg_get_duration_ms(a->d.cfg, "vm.domd_idle_ping"),
            .domd_spares = (unsigned)cfg_get_int(a->d.cfg, "vm.domd_spares"),
            .domd_zygote = cfg_get_bool(a->d.cfg, "vm.domd_zygote"),
        };
        if (vms_init(&a->x, &vc) < 0)
                fatalx("cannot set up the VM lifecycle");
}

/* Ready once the running VMs are reconciled with their domds. */
static void vms_reconciled(void *arg)
{
        struct xapid *a = arg;
        daemon_ready(&a->d, "serving");
}

static void http_stopped(void *arg)
{
        struct xapid *a = arg;
        daemon_stop(&a->d, 0);
}

static void on_stop(struct daemon *d, void *arg)
{
        struct xapid *a = arg;
        /* answer what is in flight (up to 3 s), then stop; the journal flushes in main */
        http_server_shutdown(a->http, 3000, http_stopped, a);
}

static void open_auth(struct xapid *a)
{
        const char *backend = cfg_get_str(a->d.cfg, "auth.backend");
        int b = auth_backend_from_name(backend);
        if (b < 0)
                fatalx("auth.backend: unknown backend %s (pam or password-file)", backend);
        const char *file = cfg_get_str(a->d.cfg, "auth.password_file");
        if (b == AUTH_BACKEND_PASSWORD_FILE && file == NULL)
                fatalx("auth.backend password-file needs auth.password_file");
        a->x.auth = auth_new(a->d.base, b, file);
        if (a->x.auth == NULL)
                fatalx("cannot start authentication");
        auth_set_failure_delay(a->x.auth,
                               (unsigned)cfg_get_duration_ms(a->d.cfg, "auth.failure_delay"));
        a->x.password_file = b == AUTH_BACKEND_PASSWORD_FILE ? file : NULL;
}

static void open_http(struct xapid *a)
{
        struct http_server_config hc;
        http_server_config_defaults(&hc);
        hc.max_conns = (unsigned)cfg_get_int(a->d.cfg, "http.max_connections");
        a->http = http_server_new(a->d.base, &hc);
        if (a->http == NULL || rpc_http_register(a->http, &a->x, &a->routes) < 0)
                fatalx("cannot create the HTTP server");
        const char *sock = cfg_get_str(a->d.cfg, "http.unix_socket");
        int r = http_server_listen_unix(a->http, sock, 0666);
        if (r < 0)
                fatalx("unix socket %s: %s", sock, strerror(-r));
        const char *cert = cfg_get_str(a->d.cfg, "http.tls_cert");
        const char *key = cfg_get_str(a->d.cfg, "http.tls_key");
        r = http_server_listen_tls(a->http, cfg_get_str(a->d.cfg, "http.address"),
                                   (uint16_t)cfg_get_int(a->d.cfg, "http.port"), cert,
                                   key ? key : cert);
        if (r < 0)
                fatalx("HTTPS listener: %s", strerror(-r));
        log_info("serving XenAPI on https port %u and %s", http_server_port(a->http), sock);
}

static void open_store(struct xapid *a)
{
        if (model_init() < 0)
                fatalx("the generated datamodel description is inconsistent");
        if (db_new(&a->x.db) < 0)
                fatalx("out of memory");
        char path[4096];
        snprintf(path, sizeof(path), "%s/state.db", a->d.state_dir);
        int r = db_journal_open(path, a->x.db, a->d.base, &a->journal);
        if (r < 0)
                fatalx("database %s: %s", path, strerror(-r));
        a->x.commit = journal_commit;
        a->x.commit_ctx = a->journal;
        struct bootstrap_facts f;
        bootstrap_facts_from_machine(&f, a->d.state_dir);
        bool xen =
            access("/proc/xen/capabilities", F_OK) == 0 || access("/dev/xen/privcmd", F_OK) == 0;
        f.hypervisor = xen ? "xen" : "sim";
        if (!xen) {
                /* the simulated host: memory from configuration, dom0 a fixed share */
                f.memory_total = (int64_t)cfg_get_size(a->d.cfg, "sim.host_memory");
                f.dom0_memory = 1024LL * 1024 * 1024;
                f.memory_free = f.memory_total - f.dom0_memory;
                f.hypervisor_version = "4.17.0-sim";
        }
        struct xen_host_facts xf;
        if (xen && xen_host_facts_read(cfg_get_str(a->d.cfg, "vm.domd_path"), &xf) == 0) {
                f.hypervisor_version = xf.hypervisor_version;
                f.hv_backend = xf.backend;
                f.memory_total = (int64_t)xf.total_memory;
                f.memory_free = (int64_t)xf.free_memory;
                f.nr_cpus = xf.nr_cpus;
        } else if (xen) {
                log_warnx("domd --host-info failed: host facts from dom0's view");
        }
        r = bootstrap(&a->x, &f);
        if (r < 0)
                fatalx("first-start objects: %s", strerror(-r));
        templates_ensure(&a->x);
}

/* The bootstrap's changes are durable before xapid says it is ready. */
static void bootstrap_committed(int result, void *arg)
{
        int *status = arg;
        *status = result;
}

int main(int argc, char **argv)
{
        struct xapid a = {0};
        daemon_init(&a.d, "xapid", schema, argc, argv);
        a.started = time(NULL);
        a.x.base = a.d.base;
        open_store(&a);
        int committed = 1;
        journal_commit(a.journal, bootstrap_committed, &committed); /* done runs even on error */
        while (committed == 1)
                event_base_loop(a.d.base, EVLOOP_ONCE);
        if (committed < 0)
                fatalx("cannot write the database: %s", strerror(-committed));
        if (sessions_init(&a.x) < 0 || tasks_init(&a.x) < 0 || events_init(&a.x) < 0 ||
            storage_init(&a.x) < 0)
                fatalx("out of memory");
        open_auth(&a);
        struct msg_server_config mc = {.path = a.d.msg_path,
                                       .peer_timeout_ms =
                                           (int)cfg_get_duration_ms(a.d.cfg, "msg.peer_timeout")};
        int r = msg_server_new(a.d.base, &mc, &a.msg);
        if (r < 0)
                fatalx("message endpoint %s: %s", a.d.msg_path, strerror(-r));
        a.x.msg = a.msg;
        msg_link_on_peer(a.msg, peer_changed, &a);
        if (net_events_init(&a.x) < 0)
                fatalx("out of memory");
        open_vms(&a);
        r = daemon_open_ctl(&a.d, NULL, cmd_status, &a);
        if (r < 0)
                fatalx("control socket: %s", strerror(-r));
        ctl_register(a.d.ctl, "peers", "", cmd_peers, &a);
        ctl_register(a.d.ctl, "db/stats", "", cmd_db_stats, &a);
        ctl_register(a.d.ctl, "sessions", "", cmd_sessions, &a);
        open_http(&a);
        a.d.on_stop = on_stop;
        a.d.on_stop_arg = &a;
        proctitle_set("xapid: serving on port %u", http_server_port(a.http));
        vms_when_reconciled(&a.x, vms_reconciled, &a);
        r = daemon_run(&a.d);
        http_server_free(a.http);
        msg_link_free(a.msg);
        vms_free(&a.x);
        storage_free(&a.x);
        events_free(&a.x);
        tasks_free(&a.x);
        sessions_free(&a.x);
        auth_free(a.x.auth);
        db_journal_close(a.journal);
        db_free(a.x.db);
        free(a.x.host_ref);
        free(a.x.pool_ref);
        log_info("stopped");
        daemon_fini(&a.d);
        return r;
}
