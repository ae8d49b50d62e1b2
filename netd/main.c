/* netd: the network daemon.  It connects to xapid, announces itself and converges the
 * kernel's networking to the desired state xapid holds (netd/reconcile.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proctitle.h"
#include "netd/nl.h"

LOG_MODULE(netd)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"network.physical", CFG_STRING, "eth*", 0, 0,
     "pattern of interface names that count as physical NICs (besides real devices)"},
    {NULL},
};

struct netd {
        struct daemon d;
        struct nl_ctx *nl;
};

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct netd *n = ctx;
        char link[256];
        daemon_link_status(&n->d, link, sizeof(link));
        struct nl_link_list links = {0};
        size_t n_phys = 0, n_links = 0;
        if (nl_link_list(n->nl, &links) == 0) {
                n_links = links.n;
                for (size_t i = 0; i < links.n; i++)
                        n_phys += links.v[i].physical;
        }
        nl_link_list_free(&links);
        ctl_replyf(req, CTL_OK, "netd pid %ld running\n%slinks: %zu (%zu physical)\n",
                   (long)getpid(), link, n_links, n_phys);
}

int main(int argc, char **argv)
{
        struct netd n = {0};
        daemon_init(&n.d, "netd", schema, argc, argv);
        int r = nl_ctx_new(-1, &n.nl);
        if (r < 0)
                fatalx("netlink: %s", strerror(-r));
        const char *pat = cfg_get_str(n.d.cfg, "network.physical");
        nl_ctx_set_physical_patterns(n.nl, &pat, 1);
        r = daemon_open_ctl(&n.d, NULL, cmd_status, &n);
        if (r < 0)
                fatalx("control socket: %s", strerror(-r));
        r = daemon_connect(&n.d, "netd", "netd");
        if (r < 0)
                fatalx("cannot connect to xapid at %s: %s", n.d.msg_path, strerror(-r));
        proctitle_set("netd: serving");
        daemon_ready(&n.d, "serving");
        r = daemon_run(&n.d);
        log_info("stopped");
        nl_ctx_free(n.nl);
        daemon_fini(&n.d);
        return r;
}
