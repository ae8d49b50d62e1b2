/* Unit tests of the desired host network state xapid computes for netd (xapid/net_desired.c)
 * and of VIF.create's checks (xapid/net_vif.c), and of netd's translation of the message
 * into reconcile's form (netd/desired.c): what the kernel lacks here (VLANs, bonds) is
 * covered at this level. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/model_gen.h"
#include "netd/desired.h"
#include "xapid/db.h"
#include "xapid/net_desired.h"
#include "xapid/net_vif.h"

#define HOST "OpaqueRef:host"

static void set(char **slot, const char *v)
{
        free(*slot);
        *slot = strdup(v);
}

static struct db_row *network(struct db *db, const char *bridge, int64_t mtu)
{
        struct api_network *n = model_record_new(&mclass_network);
        set(&n->bridge, bridge);
        n->MTU = mtu;
        n->managed = true;
        struct db_row *row;
        assert_int_equal(db_insert(db, &mclass_network, NULL, n, &row), 0);
        return row;
}

static struct db_row *pif(struct db *db, const char *dev, struct db_row *net, bool attached)
{
        struct api_PIF *p = model_record_new(&mclass_PIF);
        set(&p->device, dev);
        set(&p->network, net->ref);
        set(&p->host, HOST);
        set(&p->MAC, "02:00:00:00:00:01");
        p->VLAN = -1;
        p->physical = true;
        p->currently_attached = attached;
        struct db_row *row;
        assert_int_equal(db_insert(db, &mclass_PIF, NULL, p, &row), 0);
        return row;
}

static struct db_row *vm(struct db *db, int power, int64_t domid)
{
        struct api_VM *v = model_record_new(&mclass_VM);
        v->power_state = power;
        v->domid = domid;
        set(&v->resident_on, HOST);
        struct db_row *row;
        assert_int_equal(db_insert(db, &mclass_VM, NULL, v, &row), 0);
        return row;
}

static struct db_row *vif(struct db *db, struct db_row *vmr, struct db_row *net, const char *dev,
                          bool attached)
{
        struct api_VIF *v = model_record_new(&mclass_VIF);
        set(&v->VM, vmr->ref);
        set(&v->network, net->ref);
        set(&v->device, dev);
        v->currently_attached = attached;
        struct db_row *row;
        assert_int_equal(db_insert(db, &mclass_VIF, NULL, v, &row), 0);
        return row;
}

static const Ts__Net__Bridge *bridge(const struct net_desired *d, const char *name)
{
        for (size_t i = 0; i < d->msg.n_bridges; i++)
                if (strcmp(d->msg.bridges[i]->name, name) == 0)
                        return d->msg.bridges[i];
        return NULL;
}

/* The ports of bridge NAME, space-separated, in order. */
static const char *ports(const struct net_desired *d, const char *name)
{
        static char buf[256];
        buf[0] = '\0';
        const Ts__Net__Bridge *b = bridge(d, name);
        assert_non_null(b);
        for (size_t i = 0; i < b->n_ports; i++) {
                strcat(buf, i ? " " : "");
                strcat(buf, b->ports[i]);
        }
        return buf;
}

static bool is_down(const struct net_desired *d, const char *name)
{
        for (size_t i = 0; i < d->msg.n_down; i++)
                if (strcmp(d->msg.down[i], name) == 0)
                        return true;
        return false;
}

static void vif_ports(void **state)
{
        struct db *db;
        assert_int_equal(db_new(&db), 0);
        struct db_row *n0 = network(db, "xenbr0", 1500);
        struct db_row *n1 = network(db, "xapi1", 9000);
        pif(db, "eth0", n0, true);
        struct db_row *running = vm(db, API_VM_POWER_STATE_RUNNING, 5);
        struct db_row *paused = vm(db, API_VM_POWER_STATE_PAUSED, 7);
        struct db_row *halted = vm(db, API_VM_POWER_STATE_HALTED, -1);
        struct db_row *nodom = vm(db, API_VM_POWER_STATE_RUNNING, -1);
        struct db_row *elsewhere = vm(db, API_VM_POWER_STATE_RUNNING, 9);
        set(&((struct api_VM *)elsewhere->rec)->resident_on, "OpaqueRef:other");
        vif(db, running, n0, "0", true);
        vif(db, running, n1, "1", true);
        vif(db, running, n1, "2", false); /* not attached */
        vif(db, paused, n1, "0", true);
        vif(db, halted, n0, "3", true);
        vif(db, nodom, n0, "0", true);
        vif(db, elsewhere, n0, "0", true);

        struct net_desired d;
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_int_equal(d.msg.n_bridges, 2);
        assert_string_equal(ports(&d, "xenbr0"), "eth0 vif5.0");
        assert_string_equal(ports(&d, "xapi1"), "vif5.1 vif7.0");
        assert_int_equal(bridge(&d, "xapi1")->mtu, 9000);
        assert_int_equal(d.msg.n_down, 0);
        /* a non-management PIF in mode None: its addresses are removed (both families) */
        assert_int_equal(d.msg.n_ipconfs, 2);
        assert_int_equal(d.msg.ipconfs[0]->mode, TS__NET__IP_CONF__MODE__NONE);
        net_desired_free(&d);

        /* the VM stops: its ports go */
        ((struct api_VM *)running->rec)->power_state = API_VM_POWER_STATE_HALTED;
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_string_equal(ports(&d, "xenbr0"), "eth0");
        assert_string_equal(ports(&d, "xapi1"), "vif7.0");
        net_desired_free(&d);
        db_free(db);
}

static void pifs_plugged_unplugged_and_ip(void **state)
{
        struct db *db;
        assert_int_equal(db_new(&db), 0);
        struct db_row *n0 = network(db, "xenbr0", 1500);
        struct db_row *n1 = network(db, "xenbr1", 1500);
        struct db_row *p0 = pif(db, "eth0", n0, true);
        pif(db, "eth1", n1, false);
        struct api_PIF *p = p0->rec;
        p->management = true;
        p->ip_configuration_mode = API_IP_CONFIGURATION_MODE_STATIC;
        set(&p->IP, "10.1.2.3");
        set(&p->netmask, "255.255.255.0");
        set(&p->gateway, "10.1.2.254");

        struct net_desired d;
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_string_equal(ports(&d, "xenbr0"), "eth0");
        assert_string_equal(ports(&d, "xenbr1"), "");
        assert_true(is_down(&d, "eth1") && is_down(&d, "xenbr1"));
        assert_false(is_down(&d, "eth0") || is_down(&d, "xenbr0"));
        /* management PIF: static IPv4 with the gateway; IPv6 None left alone */
        assert_int_equal(d.msg.n_ipconfs, 1);
        const Ts__Net__IpConf *c = d.msg.ipconfs[0];
        assert_string_equal(c->ifname, "xenbr0");
        assert_int_equal(c->mode, TS__NET__IP_CONF__MODE__STATIC);
        assert_int_equal(c->family, 4);
        assert_int_equal(c->n_addrs, 1);
        assert_string_equal(c->addrs[0], "10.1.2.3/24");
        assert_string_equal(c->gateway, "10.1.2.254");
        net_desired_free(&d);

        /* not management: no gateway; DHCP; promiscuous and mtu from other_config */
        p->management = false;
        p->ip_configuration_mode = API_IP_CONFIGURATION_MODE_DHCP;
        const char *k = "promiscuous", *v = "on", *k2 = "mtu", *v2 = "9000";
        const char *k3 = "ethtool-tso", *v3 = "off";
        mmap_put(mclass_PIF.fields[API_PIF_F_other_config].type, &p->other_config, &k, &v);
        mmap_put(mclass_PIF.fields[API_PIF_F_other_config].type, &p->other_config, &k2, &v2);
        mmap_put(mclass_PIF.fields[API_PIF_F_other_config].type, &p->other_config, &k3, &v3);
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_int_equal(d.msg.ipconfs[0]->mode, TS__NET__IP_CONF__MODE__DHCP);
        assert_int_equal(bridge(&d, "xenbr0")->mtu, 9000);
        assert_int_equal(d.msg.n_links, 1);
        assert_string_equal(d.msg.links[0]->name, "eth0");
        assert_int_equal(d.msg.links[0]->promisc, 1);
        assert_int_equal(d.msg.links[0]->n_ethtool, 1);
        assert_string_equal(d.msg.links[0]->ethtool[0]->key, "tso");
        assert_string_equal(d.msg.links[0]->ethtool[0]->value, "off");
        net_desired_free(&d);
        db_free(db);
}

static void vlans_and_bonds(void **state)
{
        struct db *db;
        assert_int_equal(db_new(&db), 0);
        struct db_row *n0 = network(db, "xenbr0", 1500);
        struct db_row *n1 = network(db, "xenbr1", 1500);
        struct db_row *nv = network(db, "xapi2", 1500);
        struct db_row *nb = network(db, "xapi3", 1500);
        struct db_row *e0 = pif(db, "eth0", n0, true);
        struct db_row *e1 = pif(db, "eth1", n1, true);
        /* VLAN 5 on eth0 */
        struct db_row *vp = pif(db, "eth0", nv, true);
        struct api_PIF *vpr = vp->rec;
        vpr->VLAN = 5;
        vpr->physical = false;
        struct api_VLAN *vl = model_record_new(&mclass_VLAN);
        set(&vl->tagged_PIF, e0->ref);
        set(&vl->untagged_PIF, vp->ref);
        vl->tag = 5;
        struct db_row *vlr;
        assert_int_equal(db_insert(db, &mclass_VLAN, NULL, vl, &vlr), 0);
        set(&vpr->VLAN_master_of, vlr->ref);
        struct net_desired d;
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_int_equal(d.msg.n_vlans, 1);
        assert_string_equal(d.msg.vlans[0]->name, "eth0.5");
        assert_string_equal(d.msg.vlans[0]->parent, "eth0");
        assert_int_equal(d.msg.vlans[0]->tag, 5);
        assert_string_equal(ports(&d, "xapi2"), "eth0.5");
        net_desired_free(&d);

        /* bond0 of eth0 and eth1 on xapi3, lacp; the members leave their bridges */
        struct db_row *bm = pif(db, "bond0", nb, true);
        ((struct api_PIF *)bm->rec)->physical = false;
        struct api_Bond *b = model_record_new(&mclass_Bond);
        set(&b->master, bm->ref);
        b->mode = API_BOND_MODE_LACP;
        const char *k = "hashing_algorithm", *v = "tcpudp_ports";
        mmap_put(mclass_Bond.fields[API_Bond_F_properties].type, &b->properties, &k, &v);
        struct db_row *br;
        assert_int_equal(db_insert(db, &mclass_Bond, NULL, b, &br), 0);
        set(&((struct api_PIF *)e0->rec)->bond_slave_of, br->ref);
        set(&((struct api_PIF *)e1->rec)->bond_slave_of, br->ref);
        /* the VLAN moves onto the bond as XAPI does */
        set(&vpr->device, "bond0");
        set(&((struct api_VLAN *)vlr->rec)->tagged_PIF, bm->ref);
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_int_equal(d.msg.n_bonds, 1);
        const Ts__Net__Bond *bd = d.msg.bonds[0];
        assert_string_equal(bd->name, "bond0");
        assert_string_equal(bd->mode, "lacp");
        assert_int_equal(bd->n_members, 2);
        assert_string_equal(ports(&d, "xapi3"), "bond0");
        assert_string_equal(ports(&d, "xenbr0"), "");
        assert_false(is_down(&d, "eth0")); /* members are the bond's, not held down */
        assert_string_equal(d.msg.vlans[0]->name, "bond0.5");
        assert_string_equal(d.msg.vlans[0]->parent, "bond0");

        /* netd's side: the same message in reconcile's form */
        struct desired nd;
        assert_int_equal(desired_from_msg(&d.msg, &nd), 0);
        assert_int_equal(nd.rc.n_bonds, 1);
        assert_int_equal(nd.rc.bonds[0].opts.mode, BOND_MODE_LACP);
        assert_int_equal(nd.rc.bonds[0].opts.hash, BOND_HASH_LAYER34);
        assert_int_equal(bond_mode_linux(nd.rc.bonds[0].opts.mode), 4);
        assert_int_equal(nd.rc.n_vlans, 1);
        assert_true(desired_mentions(&d.msg, "eth1"));
        assert_true(desired_mentions(&d.msg, "bond0"));
        assert_false(desired_mentions(&d.msg, "eth7"));
        desired_free(&nd);
        /* an unreadable property is not guessed, and does not block the rest of the state */
        v = "fastest";
        k = "lacp-time";
        mmap_put(mclass_Bond.fields[API_Bond_F_properties].type, &b->properties, &k, &v);
        net_desired_free(&d);
        assert_int_equal(net_desired_build(db, HOST, &d), 0);
        assert_int_equal(desired_from_msg(&d.msg, &nd), 0);
        assert_int_equal(nd.rc.bonds[0].opts.lacp_fast, -1);
        assert_int_equal(nd.rc.bonds[0].opts.hash, BOND_HASH_LAYER34);
        desired_free(&nd);
        /* an unknown mode is refused */
        Ts__Net__Bond *bmsg = d.msg.bonds[0];
        char *mode = bmsg->mode;
        bmsg->mode = "round-robin";
        assert_int_equal(desired_from_msg(&d.msg, &nd), -EINVAL);
        bmsg->mode = mode;
        net_desired_free(&d);
        db_free(db);
}

static void vif_checks(void **state)
{
        assert_true(net_vif_valid_device("0"));
        assert_true(net_vif_valid_device("15"));
        assert_false(net_vif_valid_device(""));
        assert_false(net_vif_valid_device("eth0"));
        assert_false(net_vif_valid_device("1x"));
        assert_false(net_vif_valid_device("-1"));
        assert_true(net_mac_valid("02:ab:cd:ef:00:11"));
        assert_false(net_mac_valid("02:ab:cd:ef:00"));
        assert_false(net_mac_valid("02:ab:cd:ef:00:1g"));
        char a[18], b[18], c[18];
        net_vif_gen_mac("seed-1", 0, a);
        net_vif_gen_mac("seed-1", 0, b);
        net_vif_gen_mac("seed-1", 1, c);
        assert_string_equal(a, b); /* deterministic */
        assert_string_not_equal(a, c);
        assert_true(net_mac_valid(a) && net_mac_valid(c));
        unsigned first = (unsigned)strtoul(a, NULL, 16);
        assert_int_equal(first & 0x03, 0x02); /* locally administered, unicast */
        first = (unsigned)strtoul(c, NULL, 16);
        assert_int_equal(first & 0x03, 0x02);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(vif_ports),
            cmocka_unit_test(pifs_plugged_unplugged_and_ip),
            cmocka_unit_test(vlans_and_bonds),
            cmocka_unit_test(vif_checks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
