/* A spare domd (see domd.h): xapid keeps a few started ahead of need so that VM.start does
 * not wait for an exec.  A spare connects as "spare-XXXXXXXX", has no VM and no idle exit.
 * The first Build it receives names its VM: it takes that VM's identity (domd_become),
 * builds the domain and replies, and from then on its link is that VM's: the same ZeroMQ
 * connection (a second one cost each start about a fifth of a domd's CPU), announced again
 * with vm=<uuid> in its state and asking to be quiet, as a domd started for the VM would.
 * xapid routes the VM's requests to the spare's identity from then on, also after it
 * restarted (the Hello's vm says whose domd it is).
 *
 * A spare not taken yet exits when it loses xapid (xapid stopped or restarted): only the
 * xapid that started it knows it, and a new xapid starts its own. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/uuid.h"
#include "domd/domd.h"
#include "version.h"

LOG_MODULE(spare)

bool domd_spare_name_ok(const char *name)
{
        if (strncmp(name, "spare-", 6) != 0 || strlen(name) != 14)
                return false;
        for (const char *p = name + 6; *p; p++)
                if (!isxdigit((unsigned char)*p))
                        return false;
        return true;
}

static int on_spare_build(struct msg_link *l, const struct msg_origin *from,
                          const ProtobufCMessage *body, void *arg)
{
        struct domd *m = arg;
        const Ts__Dom__Build *req = (const Ts__Dom__Build *)body;
        if (!m->spare)
                return -EBUSY; /* taken already: the VM's domd link is the one to use */
        if (req->spec == NULL || req->spec->uuid == NULL || !uuid_is_valid(req->spec->uuid))
                return -EINVAL;
        int r = domd_become(m, req->spec->uuid);
        if (r < 0)
                return r;
        /* the VM's handlers (a Build now rebuilds, as for any domd), and whose domd this is
         * in the state the next Hello carries */
        domd_register_handlers(m);
        msg_link_set_state(l, "spare", NULL);
        msg_link_set_state(l, "vm", m->uuid);
        r = domd_on_build(l, from, body, m);
        if (!m->have_domain)
                domd_arm_timer(m); /* the build failed: the idle exit of any domd */
        /* after the reply: quiet from now on, as a domd started for the VM */
        msg_client_announce_again(l, (int)cfg_get_duration_ms(m->d.cfg, "domd.idle_ping"));
        return r;
}

/* The spare's link lost xapid: this spare belongs to no one any more. */
static void on_server(struct msg_link *l, const struct msg_peer_info *p, int up, void *arg)
{
        struct domd *m = arg;
        if (!up && m->spare) {
                log_info("%s: lost xapid: exiting", m->d.instance);
                daemon_stop(&m->d, 0);
        }
}

void domd_spare_init(struct domd *m)
{
        if (msg_link_handle(m->d.link, &ts__dom__build__descriptor, on_spare_build, m) < 0)
                fatalx("out of memory");
        msg_link_set_state(m->d.link, "spare", "1");
        msg_link_on_peer(m->d.link, on_server, m);
        log_info("%s: waiting for a VM", m->d.instance);
}
