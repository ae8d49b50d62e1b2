/* The Coredump request: a core dump of the domain into domd.dump_dir, for the
 * coredump_and_destroy and coredump_and_restart after-actions that xapid applies when a
 * guest crashed.  Current xenopsd leaves Coredump a no-op; we do what xl does for its
 * coredump-* actions: xc_domain_dumpcore into a dump directory (xl: /var/lib/xen/dump/NAME),
 * named here after the VM's uuid (names are not unique), the time and the domid:
 * DIR/<vm-uuid>-<YYYYmmddTHHMMSSZ>.<domid>.core. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "domd/domd.h"

LOG_MODULE(coredump)

static int dump_path(struct domd *m, char *out, size_t len)
{
        const char *dir = cfg_get_str(m->d.cfg, "domd.dump_dir");
        char def[4096];
        if (dir == NULL || dir[0] == '\0') {
                snprintf(def, sizeof(def), "%s/dump", m->d.state_dir);
                dir = def;
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        int n = snprintf(out, len, "%s/%s-%s.%u.core", dir, m->d.instance, stamp, m->domid);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int on_coredump(struct msg_link *l, const struct msg_origin *from,
                       const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        Ts__Dom__Status st;
        char state[16], reason[16], path[4300], text[4400];
        Ts__Dom__Failure f = TS__DOM__FAILURE__INIT;
        char *params[2];
        int r = m->have_domain ? dump_path(m, path, sizeof(path)) : -ESRCH;
        if (r == 0)
                r = hv_domain_dumpcore(m->hv, m->domid, path);
        domd_status(m, &st, state, reason);
        if (r < 0) {
                snprintf(text, sizeof(text), "core dump of the domain: %s", strerror(-r));
                log_warnx("vm %s: %s", m->d.instance, text);
                f.errnum = -r;
                f.code = "INTERNAL_ERROR";
                params[0] = text;
                f.params = params;
                f.n_params = 1;
                st.failure = &f;
        } else {
                log_info("vm %s: domain %u dumped to %s", m->d.instance, m->domid, path);
        }
        return msg_link_reply(l, from, &st.base);
}

void domd_coredump_register(struct domd *m)
{
        if (msg_link_handle(m->d.link, &ts__dom__coredump__descriptor, on_coredump, m) < 0)
                fatalx("cannot register a message handler");
}
