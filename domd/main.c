/* domd: the supervisor of one VM's domain.  It connects to xapid as domd/<vm-uuid>, opens
 * the hypervisor backend (xc on Xen, else the simulator), and adopts the VM's domain when
 * one is already running (a restarted domd). */
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
#include "common/uuid.h"
#include "domd/hv.h"

LOG_MODULE(domd)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"hypervisor.backend", CFG_STRING, "auto", 0, 0, "auto, xc or sim"},
    {NULL},
};

struct domd {
        struct daemon d;
        struct hv *hv;
        bool have_domain;
        uint32_t domid;
        time_t started;
};

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct domd *m = ctx;
        char link[256];
        daemon_link_status(&m->d, link, sizeof(link));
        if (!m->have_domain) {
                ctl_replyf(req, CTL_OK, "vm %s no domain (%s) pid %ld up %lds\n%s", m->d.instance,
                           hv_backend_name(m->hv), (long)getpid(), (long)(time(NULL) - m->started),
                           link);
                return;
        }
        struct hv_domain_info info;
        int r = hv_domain_info(m->hv, m->domid, &info);
        ctl_replyf(req, CTL_OK, "vm %s domid %u %s (%s) pid %ld up %lds\n%s", m->d.instance,
                   m->domid, r == 0 ? hv_domain_state_name(info.state) : "gone",
                   hv_backend_name(m->hv), (long)getpid(), (long)(time(NULL) - m->started), link);
}

int main(int argc, char **argv)
{
        struct domd m = {0};
        daemon_init(&m.d, "domd", schema, argc, argv);
        if (m.d.instance == NULL || !uuid_is_valid(m.d.instance))
                fatalx("domd needs --vm <uuid> of the VM it supervises");
        m.started = time(NULL);
        struct hv_config hc = {.backend = cfg_get_str(m.d.cfg, "hypervisor.backend"),
                               .run_dir = m.d.run_dir};
        int r = hv_open(&hc, &m.hv);
        if (r < 0)
                fatalx("hypervisor backend: %s", strerror(-r));
        if (hv_domain_find(m.hv, m.d.instance, &m.domid) == 0) {
                m.have_domain = true;
                log_info("adopting domain %u of vm %s", m.domid, m.d.instance);
        }
        char dir[4096], ctl_name[128], identity[128];
        snprintf(dir, sizeof(dir), "%s/domd", m.d.run_dir);
        mkdir(dir, 0700);
        snprintf(ctl_name, sizeof(ctl_name), "domd/%s", m.d.instance);
        snprintf(identity, sizeof(identity), "domd/%s", m.d.instance);
        r = daemon_open_ctl(&m.d, ctl_name, cmd_status, &m);
        if (r < 0)
                fatalx("control socket: %s", strerror(-r));
        r = daemon_connect(&m.d, identity, "domd");
        if (r < 0)
                fatalx("cannot connect to xapid at %s: %s", m.d.msg_path, strerror(-r));
        msg_link_set_state(m.d.link, "backend", hv_backend_name(m.hv));
        if (m.have_domain) {
                char domid[16];
                snprintf(domid, sizeof(domid), "%u", m.domid);
                msg_link_set_state(m.d.link, "domid", domid);
                proctitle_set("domd: vm %.8s… domid %u", m.d.instance, m.domid);
        } else {
                proctitle_set("domd: vm %.8s… no domain", m.d.instance);
        }
        daemon_ready(&m.d, "supervising");
        r = daemon_run(&m.d);
        log_info("stopped");
        hv_close(m.hv);
        daemon_fini(&m.d);
        return r;
}
