/* DHCP leases netd reports (ts.net.DhcpLease) into the PIF in DHCP mode on that bridge: IP,
 * netmask, gateway and DNS as XAPI's update_pif_address keeps them, and the host's address
 * for the management PIF. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/model_gen.h"
#include "common/log.h"
#include "common/msg.h"
#include "proto/net.pb-c.h"
#include "xapid/db.h"
#include "xapid/net.h"
#include "xapid/xapi.h"

LOG_MODULE(net_dhcp)

static void set_text(struct db *db, struct db_row *row, int f, const char *v)
{
        const struct mfield *fd = &row->cls->fields[f];
        char *copy = (char *)v;
        if (!model_slot_equal(fd->type, model_slot(row->rec, fd), &copy))
                db_set(db, row, f, &copy);
}

static void lease_committed(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store the DHCP lease: %s", strerror(-result));
}

static int on_lease(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                    void *arg)
{
        struct xapi *x = arg;
        const Ts__Net__DhcpLease *e = (const Ts__Net__DhcpLease *)body;
        char dns[512] = "";
        for (size_t i = 0; e->bound && i < e->n_dns; i++) {
                size_t used = strlen(dns);
                snprintf(dns + used, sizeof(dns) - used, "%s%s", used ? "," : "", e->dns[i]);
        }
        for (size_t i = 0; i < db_count(x->db, &mclass_PIF); i++) {
                struct db_row *row = db_row_at(x->db, &mclass_PIF, i);
                const struct api_PIF *p = row->rec;
                struct db_row *net = db_get(x->db, &mclass_network, p->network);
                if (strcmp(p->host, x->host_ref) != 0 || net == NULL ||
                    p->ip_configuration_mode != API_IP_CONFIGURATION_MODE_DHCP ||
                    strcmp(((struct api_network *)net->rec)->bridge, e->ifname) != 0)
                        continue;
                set_text(x->db, row, API_PIF_F_IP, e->bound ? e->ip : "");
                set_text(x->db, row, API_PIF_F_netmask, e->bound ? e->netmask : "");
                set_text(x->db, row, API_PIF_F_gateway, e->bound ? e->gateway : "");
                set_text(x->db, row, API_PIF_F_DNS, dns);
                struct db_row *h = db_get(x->db, &mclass_host, p->host);
                if (p->management && h != NULL && e->bound)
                        set_text(x->db, h, API_host_F_address, e->ip);
                log_info("PIF %s: DHCP lease %s %s/%s gateway %s DNS %s", p->device,
                         e->bound ? "bound" : "gone", e->ip, e->netmask, e->gateway, dns);
                if (x->commit != NULL)
                        x->commit(x->commit_ctx, lease_committed, NULL);
                return 0;
        }
        return 0;
}

int net_dhcp_events_init(struct xapi *x)
{
        return msg_link_handle(x->msg, &ts__net__dhcp_lease__descriptor, on_lease, x);
}
