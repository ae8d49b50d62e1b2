/* A spare domd (see domd.h): xapid keeps a few started ahead of need so that VM.start does
 * not wait for an exec.  A spare connects as "spare-XXXXXXXX", has no VM and no idle exit.
 * The first Build it receives names its VM: it takes that VM's identity (domd_become), builds
 * the domain and replies on its spare link, then connects again as domd/<vm-uuid> (whose
 * Hello carries the domain, as a domd started for the VM would announce it).  The spare link
 * is closed a moment later, once the reply has left (links do not linger).
 *
 * A spare exits when it loses xapid (xapid stopped or restarted): only the xapid that
 * started it knows it, and a new xapid starts its own. */
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/uuid.h"
#include "domd/domd.h"
#include "version.h"

LOG_MODULE(spare)

#define SPARE_LINK_LINGER_MS 1000 /* the spare link outlives the take by this much */

bool domd_spare_name_ok(const char *name)
{
        if (strncmp(name, "spare-", 6) != 0 || strlen(name) != 14)
                return false;
        for (const char *p = name + 6; *p; p++)
                if (!isxdigit((unsigned char)*p))
                        return false;
        return true;
}

static void on_spare_link_done(evutil_socket_t fd, short what, void *arg)
{
        struct domd *m = arg;
        msg_link_free(m->spare_link);
        m->spare_link = NULL;
}

/* Moves to link L: the state summary a domd started for the VM announces, the handlers. */
static void switch_link(struct domd *m, struct msg_link *l)
{
        msg_link_set_state(l, "backend", hv_backend_name(m->hv));
        struct hv_domain_info info;
        if (m->have_domain && hv_domain_info(m->hv, m->domid, &info) == 0) {
                char domid[16];
                snprintf(domid, sizeof(domid), "%u", m->domid);
                msg_link_set_state(l, "domid", domid);
                msg_link_set_state(l, "state", hv_domain_state_name(info.state));
                if (info.state == HV_STATE_SHUTDOWN)
                        msg_link_set_state(l, "reason",
                                           hv_shutdown_reason_name(info.shutdown_reason));
        } else {
                msg_link_set_state(l, "state", "none");
        }
        m->spare_link = m->d.link;
        m->d.link = l;
        domd_register_handlers(m);
        domd_coredump_register(m);
        /* the Hello goes from the loop (msg_client_new), after this state is set */
        struct timeval tv = {SPARE_LINK_LINGER_MS / 1000, (SPARE_LINK_LINGER_MS % 1000) * 1000};
        if (m->spare_free_ev != NULL)
                event_add(m->spare_free_ev, &tv);
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
        /* the reply goes first (on the spare link): the VM's own link, a new ZeroMQ
         * connection, is opened while xapid ends the call; a domd dying in between leaves
         * a domain that its next domd adopts, as one dying after its Hello does */
        r = domd_on_build(l, from, body, m);
        struct msg_link *vm_link;
        int e = domd_connect(m, false, &vm_link);
        if (e < 0)
                fatalx("cannot connect to xapid as the domd of vm %s: %s", m->d.instance,
                       strerror(-e));
        switch_link(m, vm_link);
        if (!m->have_domain)
                domd_arm_timer(m); /* the build failed: the idle exit of any domd */
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
        m->spare_free_ev = event_new(m->d.base, -1, 0, on_spare_link_done, m);
        if (m->spare_free_ev == NULL ||
            msg_link_handle(m->d.link, &ts__dom__build__descriptor, on_spare_build, m) < 0)
                fatalx("out of memory");
        msg_link_set_state(m->d.link, "spare", "1");
        msg_link_on_peer(m->d.link, on_server, m);
        log_info("%s: waiting for a VM", m->d.instance);
}

void domd_spare_fini(struct domd *m)
{
        if (m->spare_free_ev != NULL)
                event_free(m->spare_free_ev);
        m->spare_free_ev = NULL;
        msg_link_free(m->spare_link);
        m->spare_link = NULL;
}
