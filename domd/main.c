/* domd: the supervisor of one VM's domain.  It connects to xapid as domd/<vm-uuid>, opens
 * the hypervisor backend (xc on Xen, else the simulator), serves xapid's requests
 * (proto/dom.proto, serve.c) and reports what the domain does by itself.
 *
 * Adoption: at start domd looks for a live domain of its VM and supervises it (a domd
 * restarted after a crash or a SIGKILL).  RUN_DIR/domd/<uuid>.state remembers the domid and
 * name; when it names a domain that is gone, domd announces the VM as vanished.
 * domd exits once its domain is destroyed, and when it has had no domain for
 * domd.idle_exit (a failed build, or adoption of nothing).
 *
 * Spares: `domd --vm spare-XXXXXXXX` starts with no VM (spare.c); it becomes the domd of
 * the VM whose Build xapid sends it, through domd_become() below. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proctitle.h"
#include "domd/zygote.h"
#include "common/uuid.h"
#include "domd/domd.h"
#include "domd/host_info_print.h"
#include "version.h"

LOG_MODULE(domd)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"hypervisor.backend", CFG_STRING, "auto", 0, 0, "auto, xc or sim"},
    {"sim.host_memory", CFG_SIZE, "0", 0, 0,
     "memory of the simulated host (0: what the host file says, else 16G)"},
    {"domd.idle_exit", CFG_DURATION, "10s", 0, 3600000, "exit after this long without a domain"},
    {"domd.dump_dir", CFG_STRING, "", 0, 0,
     "where core dumps of crashed domains go (empty: STATE_DIR/dump)"},
    {"domd.heartbeat", CFG_DURATION, "1s", 100, 600000,
     "how often to ping xapid (under xapid's msg.peer_timeout)"},
    {"domd.idle_ping", CFG_DURATION, "60s", 0, 3600000,
     "how often to ping xapid when it watches this domd's process and no request of xapid's "
     "is being worked on (0: every domd.heartbeat)"},
    {NULL},
};

void domd_check_wait(struct domd *m);
static int domd_connect(struct domd *m, bool as_spare, struct msg_link **out);

void domd_save_state(struct domd *m)
{
        if (!m->have_domain) {
                unlink(m->state_path);
                return;
        }
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", m->state_path);
        FILE *f = fopen(tmp, "w");
        if (f == NULL) {
                log_warnx("%s: %s", tmp, strerror(errno));
                return;
        }
        fprintf(f, "domid=%u\nname=%s\ndomain_type=%s\n", m->domid, m->name, m->domain_type);
        if (fclose(f) != 0 || rename(tmp, m->state_path) < 0)
                log_warnx("%s: %s", m->state_path, strerror(errno));
}

/* Reads the state file; returns 1 when it names a domain (*DOMID), 0 when there is none. */
static int load_state(struct domd *m, uint32_t *domid)
{
        FILE *f = fopen(m->state_path, "r");
        if (f == NULL)
                return 0;
        char line[256];
        int found = 0;
        while (fgets(line, sizeof(line), f) != NULL) {
                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "domid=", 6) == 0) {
                        *domid = (uint32_t)strtoul(line + 6, NULL, 10);
                        found = 1;
                } else if (strncmp(line, "name=", 5) == 0) {
                        snprintf(m->name, sizeof(m->name), "%.127s", line + 5);
                } else if (strncmp(line, "domain_type=", 12) == 0) {
                        snprintf(m->domain_type, sizeof(m->domain_type), "%.7s", line + 12);
                }
        }
        fclose(f);
        return found;
}

static const char *state_word(struct domd *m)
{
        if (!m->have_domain)
                return "no domain";
        struct hv_domain_info info;
        if (hv_domain_info(m->hv, m->domid, &info) < 0)
                return "gone";
        if (info.state == HV_STATE_SHUTDOWN)
                return hv_shutdown_reason_name(info.shutdown_reason);
        return hv_domain_state_name(info.state);
}

void domd_set_title(struct domd *m)
{
        if (m->spare)
                proctitle_set("domd: %s idle", m->d.instance);
        else if (m->have_domain)
                proctitle_set("domd: vm %.8s… domid %u %s", m->d.instance, m->domid, state_word(m));
        else
                proctitle_set("domd: vm %.8s… no domain", m->d.instance);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
        struct domd *m = arg;
        if (m->wait.active) {
                domd_check_wait(m);
                return;
        }
        if (!m->have_domain) {
                log_info("no domain for %ums: exiting", m->idle_exit_ms);
                daemon_stop(&m->d, 0);
        }
}

void domd_arm_timer(struct domd *m)
{
        if (m->timer == NULL)
                return;
        event_del(m->timer);
        struct timeval tv;
        if (m->wait.active)
                tv = (struct timeval){0, 20000};
        else if (!m->have_domain)
                tv = (struct timeval){m->idle_exit_ms / 1000, (m->idle_exit_ms % 1000) * 1000};
        else
                return;
        event_add(m->timer, &tv);
}

static void on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
        struct domd *m = arg;
        if (!m->have_domain) {
                log_info("domain destroyed: exiting");
                daemon_stop(&m->d, 0);
        }
}

static void changed(void *arg, uint32_t domid, const struct hv_domain_info *info)
{
        struct domd *m = arg;
        if (m->have_domain && domid == m->domid)
                domd_domain_changed(m, info);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
        struct domd *m = arg;
        int r = hv_poll_changes(m->hv, changed, m);
        if (r < 0)
                log_warnx("watching domain %u: %s", m->domid, strerror(-r));
}

/* Without a watch (the host ran out of inotify instances, say) the domain is looked at
 * every DOMD_POLL_MS instead: domd_domain_changed reports changes only. */
#define DOMD_POLL_MS 250

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
        struct domd *m = arg;
        if (!m->have_domain)
                return;
        struct hv_domain_info info;
        int r = hv_domain_info(m->hv, m->domid, &info);
        if (r == -ESRCH)
                domd_domain_changed(m, NULL);
        else if (r == 0)
                domd_domain_changed(m, &info);
}

void domd_watch_domain(struct domd *m)
{
        if (!m->have_domain)
                return;
        if (m->poll_ev != NULL) {
                on_poll(-1, 0, m);
                return;
        }
        int r = hv_watch_domain(m->hv, m->domid);
        int fd = r < 0 ? r : hv_watch_fd(m->hv);
        if (fd < 0) {
                log_warnx("cannot watch domain %u (%s): polling it every %d ms", m->domid,
                          strerror(-fd), DOMD_POLL_MS);
                m->poll_ev = event_new(m->d.base, -1, EV_PERSIST, on_poll, m);
                struct timeval tv = {0, DOMD_POLL_MS * 1000};
                if (m->poll_ev == NULL || event_add(m->poll_ev, &tv) < 0)
                        fatalx("cannot poll the domain");
                on_poll(-1, 0, m);
                return;
        }
        if (m->watch_ev == NULL) {
                m->watch_ev = event_new(m->d.base, fd, EV_READ | EV_PERSIST, on_watch, m);
                if (m->watch_ev == NULL || event_add(m->watch_ev, NULL) < 0)
                        fatalx("cannot watch the domain");
        }
        /* the first report comes through the watch right away */
        on_watch(-1, 0, m);
}

/* ---- control socket ------------------------------------------------------------------------ */

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct domd *m = ctx;
        char link[256];
        daemon_link_status(&m->d, link, sizeof(link));
        long up = (long)(time(NULL) - m->started);
        if (m->spare) {
                ctl_replyf(req, CTL_OK, "spare %s: no VM yet pid %ld up %lds\nbackend %s\n%s",
                           m->d.instance, (long)getpid(), up, hv_backend_name(m->hv), link);
                return;
        }
        if (!m->have_domain) {
                ctl_replyf(
                    req, CTL_OK, "vm %s name \"%s\" no domain pid %ld up %lds\nbackend %s\n%s",
                    m->d.instance, m->name, (long)getpid(), up, hv_backend_name(m->hv), link);
                return;
        }
        struct hv_domain_info info;
        int r = hv_domain_info(m->hv, m->domid, &info);
        ctl_replyf(req, CTL_OK,
                   "vm %s name \"%s\" domid %u %s pid %ld up %lds\nbackend %s, type %s\n"
                   "memory actual %llu target %llu, vcpus %u, cpu time %llums\n"
                   "disks %u, nics %u\n%s",
                   m->d.instance, m->name, m->domid, state_word(m), (long)getpid(), up,
                   hv_backend_name(m->hv), m->domain_type,
                   r == 0 ? (unsigned long long)info.memory_actual : 0ULL,
                   r == 0 ? (unsigned long long)info.memory_target : 0ULL,
                   r == 0 ? info.vcpus_online : 0,
                   r == 0 ? (unsigned long long)(info.cpu_time_ns / 1000000) : 0ULL, m->n_disks,
                   m->n_nics, link);
}

static void cmd_devices(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct domd *m = ctx;
        char buf[4096];
        size_t off = 0;
        buf[0] = '\0';
        for (unsigned i = 0; i < m->n_disks && off < sizeof(buf); i++)
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "disk %s vbd %s\n",
                                        m->vdevs[i], m->vbd_uuids[i]);
        for (unsigned i = 0; i < m->n_nics && off < sizeof(buf); i++)
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "nic %u vif %s if %s\n",
                                        m->nics[i], m->vif_uuids[i], m->nic_ifnames[i]);
        ctl_reply(req, CTL_OK, off ? buf : "no devices\n");
}

static void cmd_console(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct domd *m = ctx;
        if (!m->have_domain) {
                ctl_reply(req, CTL_FAILED, "no domain\n");
                return;
        }
        char *text = NULL;
        size_t len = 0;
        int r = hv_console_read(m->hv, m->domid, &text, &len);
        if (r < 0) {
                ctl_replyf(req, CTL_FAILED, "console: %s\n", strerror(-r));
                return;
        }
        ctl_reply(req, CTL_OK, text);
        free(text);
}

/* ---- start -------------------------------------------------------------------------------- */

static void adopt(struct domd *m)
{
        uint32_t saved = 0;
        int had = load_state(m, &saved);
        uint32_t domid;
        if (hv_domain_find(m->hv, m->d.instance, &domid) == 0) {
                m->have_domain = true;
                m->domid = domid;
                struct hv_domain_info info = {0};
                if (hv_domain_info(m->hv, domid, &info) == 0) {
                        if (m->name[0] == '\0')
                                snprintf(m->name, sizeof(m->name), "%s", info.name);
                        if (m->domain_type[0] == '\0')
                                snprintf(m->domain_type, sizeof(m->domain_type), "%s",
                                         hv_domain_type_name(info.type));
                }
                log_info("adopting domain %u of vm %s", domid, m->d.instance);
                if (info.state == HV_STATE_SHUTDOWN &&
                    info.shutdown_reason == HV_SHUTDOWN_SUSPEND) {
                        /* suspended for a save that nobody makes any more (the domd that
                         * asked died; its save helper died with it): the guest runs on, as
                         * after a cancelled suspend */
                        int r = hv_domain_resume(m->hv, domid);
                        if (r < 0)
                                log_warnx("domain %u: left suspended, cannot resume it: %s", domid,
                                          strerror(-r));
                        else
                                log_warnx("domain %u was left suspended without a save: resumed",
                                          domid);
                }
                domd_save_state(m);
        } else if (had) {
                log_warnx("domain %u of vm %s vanished while nobody watched", saved, m->d.instance);
                unlink(m->state_path);
                msg_link_set_state(m->d.link, "vanished", "1");
        }
}

/* The files and control socket named after m->d.instance: RUN_DIR/domd/<instance>.state,
 * .pid, .ctl (a spare renames them all when it becomes a VM's domd). */
static int open_identity(struct domd *m, const char *instance)
{
        char dir[2048], ctl_name[128];
        snprintf(dir, sizeof(dir), "%s/domd", m->d.run_dir);
        mkdir(dir, 0700);
        /* the control socket first: it fails while another domd of the VM still runs */
        struct ctl_server *prev = m->d.ctl;
        m->d.ctl = NULL;
        snprintf(ctl_name, sizeof(ctl_name), "domd/%s", instance);
        int r = daemon_open_ctl(&m->d, ctl_name, cmd_status, m);
        if (r < 0) {
                ctl_server_free(m->d.ctl);
                m->d.ctl = prev;
                return r;
        }
        ctl_server_free(prev);
        ctl_register(m->d.ctl, "devices", "", cmd_devices, m);
        ctl_register(m->d.ctl, "console", "", cmd_console, m);
        if (m->pid_path[0] != '\0')
                unlink(m->pid_path);
        snprintf(m->uuid, sizeof(m->uuid), "%s", instance);
        m->d.instance = m->uuid;
        snprintf(m->state_path, sizeof(m->state_path), "%s/%s.state", dir, m->d.instance);
        snprintf(m->pid_path, sizeof(m->pid_path), "%s/%s.pid", dir, m->d.instance);
        FILE *pf = fopen(m->pid_path, "w");
        if (pf != NULL) {
                fprintf(pf, "%ld\n", (long)getpid());
                fclose(pf);
        }
        return 0;
}

int domd_become(struct domd *m, const char *uuid)
{
        if (!m->spare || !uuid_is_valid(uuid))
                return -EINVAL;
        char was[UUID_STR_LEN];
        snprintf(was, sizeof(was), "%s", m->uuid);
        int r = open_identity(m, uuid);
        if (r < 0) {
                log_warnx("%s cannot become the domd of vm %s: %s", was, uuid, strerror(-r));
                return r;
        }
        log_info("%s became the domd of vm %s", was, uuid);
        m->spare = false;
        m->started = time(NULL);
        adopt(m); /* as a domd started for the VM would: a domain left behind is kept */
        domd_set_title(m);
        return 0;
}

static int domd_main(int argc, char **argv)
{
        struct domd *m = calloc(1, sizeof(*m));
        if (m == NULL)
                return 1;
        if (argc == 2 && strcmp(argv[1], "--host-info") == 0) {
                int r = domd_print_host_info(stdout);
                if (r < 0)
                        fprintf(stderr, "domd --host-info: %s\n", strerror(-r));
                free(m);
                return r < 0 ? 1 : 0;
        }
        daemon_init(&m->d, "domd", schema, argc, argv);
        m->spare = m->d.instance != NULL && domd_spare_name_ok(m->d.instance);
        if (m->d.instance == NULL || (!m->spare && !uuid_is_valid(m->d.instance)))
                fatalx("domd needs --vm <uuid> of the VM it supervises (or spare-XXXXXXXX)");
        /* a copy (by open_identity): the process title reuses the memory of argv */
        m->started = time(NULL);
        m->idle_exit_ms = (unsigned)cfg_get_duration_ms(m->d.cfg, "domd.idle_exit");
        struct hv_config hc = {.backend = cfg_get_str(m->d.cfg, "hypervisor.backend"),
                               .run_dir = m->d.run_dir,
                               .sim_total_memory = cfg_get_size(m->d.cfg, "sim.host_memory")};
        int r = hv_open(&hc, &m->hv);
        if (r < 0)
                fatalx("hypervisor backend: %s", strerror(-r));
        r = open_identity(m, m->d.instance);
        if (r < 0)
                fatalx("control socket: %s", strerror(-r));
        m->timer = event_new(m->d.base, -1, 0, on_timer, m);
        m->exit_ev = event_new(m->d.base, -1, 0, on_exit_ev, m);
        if (m->timer == NULL || m->exit_ev == NULL)
                fatalx("out of memory");
        r = domd_connect(m, m->spare, &m->d.link);
        if (r < 0)
                fatalx("cannot connect to xapid at %s: %s", m->d.msg_path, strerror(-r));
        msg_link_set_state(m->d.link, "backend", hv_backend_name(m->hv));
        if (!m->spare) {
                msg_link_set_state(m->d.link, "vm", m->uuid);
                adopt(m);
        }
        if (m->have_domain) {
                char domid[16];
                snprintf(domid, sizeof(domid), "%u", m->domid);
                msg_link_set_state(m->d.link, "domid", domid);
                struct hv_domain_info info;
                if (hv_domain_info(m->hv, m->domid, &info) == 0) {
                        msg_link_set_state(m->d.link, "state", hv_domain_state_name(info.state));
                        if (info.state == HV_STATE_SHUTDOWN)
                                msg_link_set_state(m->d.link, "reason",
                                                   hv_shutdown_reason_name(info.shutdown_reason));
                }
                domd_watch_domain(m);
        } else {
                msg_link_set_state(m->d.link, "state", "none");
        }
        domd_register_handlers(m);
        domd_coredump_register(m);
        if (m->spare)
                domd_spare_init(m);
        domd_set_title(m);
        if (!m->spare)
                domd_arm_timer(m); /* a spare waits for a VM, or for xapid to go */
        daemon_ready(&m->d, m->spare ? "spare" : "supervising");
        r = daemon_run(&m->d);
        log_info("stopped");
        if (!m->have_domain)
                unlink(m->pid_path);
        if (m->watch_ev != NULL)
                event_free(m->watch_ev);
        if (m->poll_ev != NULL)
                event_free(m->poll_ev);
        event_free(m->timer);
        event_free(m->exit_ev);
        hv_close(m->hv);
        daemon_fini(&m->d);
        free(m);
        return r;
}

/* Starts connecting to xapid as the spare it is (AS_SPARE), or as its VM's domd. */
static int domd_connect(struct domd *m, bool as_spare, struct msg_link **out)
{
        char identity[128];
        snprintf(identity, sizeof(identity), "%s%s", as_spare ? "" : "domd/", m->d.instance);
        struct msg_client_config cc = {.path = m->d.msg_path,
                                       .identity = identity,
                                       .role = "domd",
                                       .version = TS_VERSION,
                                       .heartbeat_ms =
                                           (int)cfg_get_duration_ms(m->d.cfg, "domd.heartbeat")};
        /* quiet once xapid watches our process; a spare heartbeats until it is taken (it then
         * announces itself again, quiet: spare.c) */
        if (!as_spare)
                cc.idle_ping_ms = (int)cfg_get_duration_ms(m->d.cfg, "domd.idle_ping");
        return msg_client_new(m->d.base, &cc, out);
}

int main(int argc, char **argv)
{
        int r = argc >= 2 && strcmp(argv[1], DOMD_ZYGOTE_ARG) == 0
                    ? domd_zygote_serve(argc, argv, domd_main)
                    : domd_main(argc, argv);
#ifndef __SANITIZE_ADDRESS__
        /* Everything is released by now; exit() would also run the destructors of some
         * thirty libraries, a few milliseconds of page faults for each domd (a host that
         * shuts down a thousand VMs pays them a thousand times).  ASan builds keep exit():
         * the leak check runs from it. */
        fflush(NULL);
        _exit(r);
#endif
        return r;
}
