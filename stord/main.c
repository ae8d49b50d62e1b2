/* stord: the storage daemon.  It connects to xapid, announces itself and serves the storage
 * operations xapid forwards (SR and VDI drivers in stord/drv_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proctitle.h"
#include "stord/driver.h"
#include "stord/serve.h"
#include "stord/sm_describe.h"

LOG_MODULE(stord)

static const struct cfg_key schema[] = {
    DAEMON_COMMON_KEYS("/run/xapid", "/var/lib/xapid"),
    {"storage.local_sr_dir", CFG_STRING, "/var/lib/xapid/sr/local", 0, 0,
     "directory of the local file SR created at first start"},
    {"storage.iso_dir", CFG_STRING, NULL, 0, 0, "directory of ISO images exposed as an ISO SR"},
    {NULL},
};

static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct daemon *d = ctx;
        char link[256], drivers[512] = "";
        daemon_link_status(d, link, sizeof(link));
        for (const struct sd_driver *const *dr = sd_drivers(); *dr != NULL; dr++) {
                strncat(drivers, (*dr)->name, sizeof(drivers) - strlen(drivers) - 2);
                strncat(drivers, " ", sizeof(drivers) - strlen(drivers) - 1);
        }
        ctl_replyf(req, CTL_OK, "stord pid %ld running\n%sdrivers: %s\n", (long)getpid(), link,
                   drivers);
}

int main(int argc, char **argv)
{
        struct daemon d;
        daemon_init(&d, "stord", schema, argc, argv);
        int r = daemon_open_ctl(&d, NULL, cmd_status, &d);
        if (r < 0)
                fatalx("control socket: %s", strerror(-r));
        r = daemon_connect(&d, "stord", "stord");
        if (r < 0)
                fatalx("cannot connect to xapid at %s: %s", d.msg_path, strerror(-r));
        char drivers[256] = "";
        for (const struct sd_driver *const *dr = sd_drivers(); *dr != NULL; dr++) {
                if (drivers[0] != '\0')
                        strncat(drivers, ",", sizeof(drivers) - strlen(drivers) - 1);
                strncat(drivers, (*dr)->name, sizeof(drivers) - strlen(drivers) - 1);
        }
        msg_link_set_state(d.link, "drivers", drivers);
        msg_link_set_state(d.link, "local_sr_dir", cfg_get_str(d.cfg, "storage.local_sr_dir"));
        struct serve *srv;
        if (serve_new(d.base, d.link, d.run_dir, &srv) < 0)
                fatalx("out of memory");
        for (const struct sd_driver *const *dr = sd_drivers(); *dr != NULL; dr++) {
                char key[64], *desc = sd_driver_describe_json(*dr);
                snprintf(key, sizeof(key), "sm/%s", (*dr)->name);
                if (desc == NULL || msg_link_set_state(d.link, key, desc) < 0)
                        fatalx("cannot describe driver %s", (*dr)->name);
                free(desc);
        }
        proctitle_set("stord: serving");
        daemon_ready(&d, "serving");
        r = daemon_run(&d);
        log_info("stopped");
        serve_free(srv);
        daemon_fini(&d);
        return r;
}
