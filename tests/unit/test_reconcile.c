/* Unit tests of netd/reconcile.c: the planning of kernel changes, without a kernel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <net/if.h>
#include <sys/socket.h>

#include "netd/reconcile.h"

/* An observed link: "name kind master parent vlan_id bond_mode mtu up owned". */
static struct nl_link_info L(const char *name, const char *kind, const char *master,
                             const char *parent, int vlan, int bond_mode, unsigned mtu, int up,
                             int owned) {
        struct nl_link_info i;
        memset(&i, 0, sizeof(i));
        snprintf(i.name, sizeof(i.name), "%s", name);
        snprintf(i.kind, sizeof(i.kind), "%s", kind);
        snprintf(i.master_name, sizeof(i.master_name), "%s", master);
        snprintf(i.parent_name, sizeof(i.parent_name), "%s", parent);
        i.vlan_id = vlan;
        i.bond_mode = bond_mode;
        i.mtu = mtu;
        i.flags = up ? IFF_UP : 0;
        if (owned)
                snprintf(i.alias, sizeof(i.alias), "%s%s", NL_OWNED_ALIAS_PREFIX, kind);
        return i;
}

/* Index of the first action "OP NAME [ARG]" in PLAN, or -1. */
static int
at(const struct rc_plan *p, enum rc_op op, const char *name, const char *arg)
{
        for (size_t i = 0; i < p->n; i++)
                if (p->v[i].op == op && !strcmp(p->v[i].name, name) &&
                    (!arg || !strcmp(p->v[i].arg, arg)))
                        return (int)i;
        return -1;
}

static bool mentions(const struct rc_plan *p, const char *name)
{
        for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->v[i].name, name) || !strcmp(p->v[i].arg, name))
                        return true;
        return false;
}

static void dump(const struct rc_plan *p)
{
        for (size_t i = 0; i < p->n; i++) {
                char line[128];
                rc_action_format(&p->v[i], line, sizeof(line));
                print_message("# %zu: %s\n", i, line);
        }
}

#define BEFORE(p, a, b)                                                                            \
        do {                                                                                       \
                int x_ = (a), y_ = (b);                                                            \
                if (x_ < 0 || y_ < 0 || x_ >= y_)                                                  \
                        dump(p);                                                                   \
                assert_true(x_ >= 0);                                                              \
                assert_true(y_ >= 0);                                                              \
                assert_true(x_ < y_);                                                              \
        } while (0)

static const char *const bond_members[] = {"eth0", "eth1"};
static const char *const xenbr0_ports[] = {"bond0"};
static const char *const xapi1_ports[] = {"bond0.10", "vif1.0"};
static const char *const xenbr0_addrs[] = {"10.0.0.2/24"};

static struct rc_bond the_bond(enum bond_mode mode)
{
        struct rc_bond b = {.name = "bond0", .mtu = 9000, .members = bond_members, .n_members = 2};
        bond_opts_init(&b.opts);
        b.opts.mode = mode;
        return b;
}

static void from_empty(void **state)
{
        struct nl_link_info obs[] = {
            L("lo", "", "", "", 0, -1, 65536, 1, 0),
            L("eth0", "", "", "", 0, -1, 1500, 1, 0),
            L("eth1", "", "", "", 0, -1, 1500, 1, 0),
            L("vif1.0", "veth", "", "", 0, -1, 1500, 0, 0),
        };
        struct nl_link_list links = {obs, 4};
        struct rc_bond bonds[] = {the_bond(BOND_MODE_LACP)};
        struct rc_vlan vlans[] = {{.name = "bond0.10", .parent = "bond0", .tag = 10}};
        struct rc_bridge bridges[] = {
            {.name = "xenbr0", .mtu = 9000, .ports = xenbr0_ports, .n_ports = 1},
            {.name = "xapi1", .mtu = 1500, .ports = xapi1_ports, .n_ports = 2},
        };
        struct rc_ipconf ip[] = {{.ifname = "xenbr0", .addrs = xenbr0_addrs, .n_addrs = 1}};
        struct rc_desired d = {bridges, 2, vlans, 1, bonds, 1, ip, 1};
        struct addr_list addrs = {0};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, &addrs, &p), 0);
        dump(&p);
        /* members down before they are enslaved to the bond, the bond first */
        BEFORE(&p, at(&p, RC_CREATE_BOND, "bond0", NULL), at(&p, RC_ENSLAVE_BOND, "eth0", "bond0"));
        BEFORE(&p, at(&p, RC_SET_DOWN, "eth0", NULL), at(&p, RC_ENSLAVE_BOND, "eth0", "bond0"));
        BEFORE(&p, at(&p, RC_SET_DOWN, "eth1", NULL), at(&p, RC_ENSLAVE_BOND, "eth1", "bond0"));
        /* the VLAN after its parent */
        BEFORE(&p, at(&p, RC_CREATE_BOND, "bond0", NULL),
               at(&p, RC_CREATE_VLAN, "bond0.10", "bond0"));
        /* bridges before their ports are attached, ports existing before they attach */
        BEFORE(&p, at(&p, RC_CREATE_BRIDGE, "xapi1", NULL),
               at(&p, RC_ADD_PORT, "bond0.10", "xapi1"));
        BEFORE(&p, at(&p, RC_CREATE_VLAN, "bond0.10", NULL), at(&p, RC_ADD_PORT, "bond0.10", NULL));
        BEFORE(&p, at(&p, RC_CREATE_BRIDGE, "xenbr0", NULL),
               at(&p, RC_ADD_PORT, "bond0", "xenbr0"));
        BEFORE(&p, at(&p, RC_CREATE_BRIDGE, "xapi1", NULL), at(&p, RC_ADD_PORT, "vif1.0", "xapi1"));
        /* the bond's MTU is given at creation; the bridge's port is set before it attaches */
        assert_int_equal(p.v[at(&p, RC_CREATE_BOND, "bond0", NULL)].mtu, 9000);
        assert_int_equal(p.v[at(&p, RC_CREATE_BOND, "bond0", NULL)].bond.mode, BOND_MODE_LACP);
        assert_int_equal(p.v[at(&p, RC_CREATE_VLAN, "bond0.10", NULL)].tag, 10);
        BEFORE(&p, at(&p, RC_SET_MTU, "bond0.10", NULL), at(&p, RC_ADD_PORT, "bond0.10", NULL));
        assert_int_equal(at(&p, RC_SET_MTU, "bond0", NULL), -1);
        /* addresses once the link is up */
        BEFORE(&p, at(&p, RC_SET_UP, "xenbr0", NULL), at(&p, RC_ADDR_ADD, "xenbr0", NULL));
        BEFORE(&p, at(&p, RC_SET_UP, "vif1.0", NULL), at(&p, RC_SET_UP, "xapi1", NULL));
        assert_int_equal(at(&p, RC_DELETE, "eth0", NULL), -1);
        assert_false(mentions(&p, "lo"));
        rc_plan_free(&p);

        /* the converged state plans nothing */
        struct nl_link_info done[] = {
            L("lo", "", "", "", 0, -1, 65536, 1, 0),
            L("eth0", "", "bond0", "", 0, -1, 9000, 1, 0),
            L("eth1", "", "bond0", "", 0, -1, 9000, 1, 0),
            L("vif1.0", "veth", "xapi1", "", 0, -1, 1500, 1, 0),
            L("bond0", "bond", "xenbr0", "", 0, 4, 9000, 1, 1),
            L("bond0.10", "vlan", "xapi1", "bond0", 10, -1, 1500, 1, 1),
            L("xenbr0", "bridge", "", "", 0, -1, 9000, 1, 1),
            L("xapi1", "bridge", "", "", 0, -1, 1500, 1, 1),
        };
        struct addr_info ai[] = {{.ifname = "xenbr0"}, {.ifname = "xenbr0"}};
        assert_int_equal(cidr_parse("10.0.0.2/24", &ai[0].addr), 0);
        assert_int_equal(cidr_parse("fe80::1/64", &ai[1].addr), 0);
        struct nl_link_list l2 = {done, 8};
        struct addr_list a2 = {ai, 2};
        assert_int_equal(reconcile_plan(&d, &l2, &a2, &p), 0);
        dump(&p);
        assert_int_equal(p.n, 0);
        rc_plan_free(&p);
}

static void messy_state(void **state)
{
        static const char *const ports[] = {"eth0"};
        struct nl_link_info obs[] = {
            L("eth0", "", "xenbr9", "", 0, -1, 1500, 1, 0),
            L("eth2", "", "", "", 0, -1, 1500, 1, 0),
            L("eth2.7", "vlan", "xenbr9", "eth2", 7, -1, 1500, 1, 1),
            L("xenbr9", "bridge", "", "", 0, -1, 1500, 1, 1),
            L("xenbr0", "bridge", "", "", 0, -1, 1500, 1, 1),
            L("vif3.0", "veth", "xenbr0", "", 0, -1, 1500, 1, 0),
            L("docker0", "bridge", "", "", 0, -1, 1500, 1, 0),
            L("veth9", "veth", "docker0", "", 0, -1, 1500, 1, 0),
            L("eth3.5", "vlan", "", "eth3", 5, -1, 1500, 1, 0),
            L("eth3", "", "", "", 0, -1, 1500, 1, 0),
        };
        struct nl_link_list links = {obs, 10};
        struct rc_bridge bridges[] = {{.name = "xenbr0", .ports = ports, .n_ports = 1}};
        struct rc_desired d = {.bridges = bridges, .n_bridges = 1};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, NULL, &p), 0);
        dump(&p);
        /* the owned VLAN port goes before its owned bridge; eth0 moves to xenbr0 */
        BEFORE(&p, at(&p, RC_DELETE, "eth2.7", NULL), at(&p, RC_DELETE, "xenbr9", NULL));
        assert_int_equal(at(&p, RC_RELEASE, "eth2.7", NULL), -1); /* deletion suffices */
        /* eth0 leaves xenbr9 with its deletion, then joins xenbr0 */
        assert_int_equal(at(&p, RC_RELEASE, "eth0", NULL), -1);
        BEFORE(&p, at(&p, RC_DELETE, "xenbr9", NULL), at(&p, RC_ADD_PORT, "eth0", "xenbr0"));
        /* the VIF that is not desired on our bridge leaves it */
        assert_true(at(&p, RC_RELEASE, "vif3.0", "xenbr0") >= 0);
        /* what netd never made is never touched */
        assert_false(mentions(&p, "docker0"));
        assert_false(mentions(&p, "veth9"));
        assert_false(mentions(&p, "eth3.5"));
        assert_false(mentions(&p, "eth2"));
        assert_int_equal(at(&p, RC_CREATE_BRIDGE, "xenbr0", NULL), -1);
        rc_plan_free(&p);
}

static void bond_mode_change(void **state)
{
        struct nl_link_info obs[] = {
            L("eth0", "", "bond0", "", 0, -1, 1500, 1, 0),
            L("eth1", "", "bond0", "", 0, -1, 1500, 1, 0),
            L("bond0", "bond", "", "", 0, 1, 1500, 1, 1),
        };
        struct nl_link_list links = {obs, 3};
        struct rc_bond bonds[] = {the_bond(BOND_MODE_BALANCE_SLB)};
        bonds[0].mtu = 0;
        struct rc_desired d = {.bonds = bonds, .n_bonds = 1};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, NULL, &p), 0);
        dump(&p);
        BEFORE(&p, at(&p, RC_RELEASE, "eth0", "bond0"), at(&p, RC_SET_BOND, "bond0", NULL));
        BEFORE(&p, at(&p, RC_RELEASE, "eth1", "bond0"), at(&p, RC_SET_BOND, "bond0", NULL));
        BEFORE(&p, at(&p, RC_SET_BOND, "bond0", NULL), at(&p, RC_ENSLAVE_BOND, "eth0", "bond0"));
        BEFORE(&p, at(&p, RC_SET_DOWN, "eth0", NULL), at(&p, RC_ENSLAVE_BOND, "eth0", "bond0"));
        BEFORE(&p, at(&p, RC_ENSLAVE_BOND, "eth1", "bond0"), at(&p, RC_SET_UP, "bond0", NULL));
        assert_int_equal(p.v[at(&p, RC_SET_BOND, "bond0", NULL)].bond.mode, BOND_MODE_BALANCE_SLB);
        assert_int_equal(at(&p, RC_DELETE, "bond0", NULL), -1);
        assert_int_equal(bond_mode_linux(BOND_MODE_BALANCE_SLB), 5);
        rc_plan_free(&p);
}

static void recreate_and_conflicts(void **state)
{
        struct nl_link_info obs[] = {
            L("eth0", "", "", "", 0, -1, 1500, 1, 0),
            L("eth0.5", "vlan", "", "eth0", 6, -1, 1500, 1, 1), /* wrong tag, ours */
            L("xenbr1", "veth", "", "", 0, -1, 1500, 1, 0),     /* not ours, wrong kind */
            L("xenbr2", "bridge", "", "", 0, -1, 1500, 1, 0),   /* not ours: adopted */
        };
        struct nl_link_list links = {obs, 4};
        struct rc_vlan vlans[] = {{.name = "eth0.5", .parent = "eth0", .tag = 5}};
        struct rc_bridge bridges[] = {{.name = "xenbr1"}, {.name = "xenbr2"}};
        struct rc_desired d = {.bridges = bridges, .n_bridges = 2, .vlans = vlans, .n_vlans = 1};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, NULL, &p), 0);
        dump(&p);
        BEFORE(&p, at(&p, RC_DELETE, "eth0.5", NULL), at(&p, RC_CREATE_VLAN, "eth0.5", "eth0"));
        assert_int_equal(at(&p, RC_CREATE_BRIDGE, "xenbr1", NULL), -1);
        assert_int_equal(at(&p, RC_DELETE, "xenbr1", NULL), -1);
        assert_true(at(&p, RC_ADOPT, "xenbr2", "bridge") >= 0);
        assert_int_equal(at(&p, RC_DELETE, "xenbr2", NULL), -1);
        rc_plan_free(&p);
}

static void addresses(void **state)
{
        static const char *const want[] = {"10.0.0.2/24", "fd00::2/64"};
        struct nl_link_info obs[] = {
            L("xenbr0", "bridge", "", "", 0, -1, 1500, 1, 1),
            L("eth5", "", "", "", 0, -1, 1500, 1, 0),
        };
        struct addr_info ai[4] = {
            {.ifname = "xenbr0"}, {.ifname = "xenbr0"}, {.ifname = "xenbr0"}, {.ifname = "eth5"}};
        assert_int_equal(cidr_parse("10.0.0.5/24", &ai[0].addr), 0);
        assert_int_equal(cidr_parse("fe80::5/64", &ai[1].addr), 0);
        assert_int_equal(cidr_parse("fd00:0::2/64", &ai[2].addr), 0); /* same, other spelling */
        assert_int_equal(cidr_parse("192.168.1.1/24", &ai[3].addr), 0);
        struct nl_link_list links = {obs, 2};
        struct addr_list addrs = {ai, 4};
        struct rc_ipconf ip[] = {{.ifname = "xenbr0", .addrs = want, .n_addrs = 2}};
        struct rc_bridge bridges[] = {{.name = "xenbr0"}};
        struct rc_desired d = {.bridges = bridges, .n_bridges = 1, .ipconfs = ip, .n_ipconfs = 1};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, &addrs, &p), 0);
        dump(&p);
        assert_int_equal(p.n, 2);
        assert_int_equal(p.v[0].op, RC_ADDR_DEL);
        assert_true(cidr_equal(&p.v[0].addr, &ai[0].addr));
        assert_int_equal(p.v[1].op, RC_ADDR_ADD);
        char s[CIDR_STR_MAX];
        cidr_format(&p.v[1].addr, s);
        assert_string_equal(s, "10.0.0.2/24");
        assert_false(mentions(&p, "eth5"));
        rc_plan_free(&p);
}

/* An IpConf limited to one family leaves the other family's addresses alone; two IpConfs of
 * different families on one link are fine, of the same family (or one of both) are not. */
static void addresses_by_family(void **state)
{
        static const char *const v4[] = {"10.0.0.2/24"};
        struct nl_link_info obs[] = {L("xenbr0", "bridge", "", "", 0, -1, 1500, 1, 1)};
        struct addr_info ai[2] = {{.ifname = "xenbr0"}, {.ifname = "xenbr0"}};
        assert_int_equal(cidr_parse("10.0.0.5/24", &ai[0].addr), 0);
        assert_int_equal(cidr_parse("fd00::7/64", &ai[1].addr), 0); /* DHCPv6/SLAAC's, say */
        struct nl_link_list links = {obs, 1};
        struct addr_list addrs = {ai, 2};
        struct rc_ipconf ip[] = {{.ifname = "xenbr0", .family = AF_INET, .addrs = v4, .n_addrs = 1},
                                 {.ifname = "xenbr0", .family = AF_INET6}};
        struct rc_bridge bridges[] = {{.name = "xenbr0"}};
        struct rc_desired d = {.bridges = bridges, .n_bridges = 1, .ipconfs = ip, .n_ipconfs = 1};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, &addrs, &p), 0);
        assert_int_equal(p.n, 2); /* 10.0.0.5 out, 10.0.0.2 in; fd00::7 untouched */
        assert_int_equal(at(&p, RC_ADDR_DEL, "xenbr0", NULL), 0);
        assert_true(cidr_equal(&p.v[0].addr, &ai[0].addr));
        assert_int_equal(p.v[1].op, RC_ADDR_ADD);
        rc_plan_free(&p);
        d.n_ipconfs = 2; /* IPv6 None as well: the IPv6 address goes too */
        assert_int_equal(reconcile_plan(&d, &links, &addrs, &p), 0);
        assert_int_equal(p.n, 3);
        rc_plan_free(&p);
        ip[1].family = AF_INET;
        assert_int_equal(reconcile_plan(&d, &links, &addrs, &p), -EINVAL);
        ip[1].family = AF_UNSPEC;
        assert_int_equal(reconcile_plan(&d, &links, &addrs, &p), -EINVAL);
}

/* Links held down: never set up (not even as a port), set down when up; others unaffected. */
static void held_down(void **state)
{
        static const char *const ports[] = {"eth0"};
        static const char *const down[] = {"eth1", "xenbr1"};
        struct nl_link_info obs[] = {
            L("eth0", "", "", "", 0, -1, 1500, 0, 0),
            L("eth1", "", "xenbr1", "", 0, -1, 1500, 1, 0),
            L("xenbr1", "bridge", "", "", 0, -1, 1500, 1, 1),
        };
        struct nl_link_list links = {obs, 3};
        struct rc_bridge bridges[] = {{.name = "xenbr0", .ports = ports, .n_ports = 1},
                                      {.name = "xenbr1"}};
        struct rc_desired d = {.bridges = bridges, .n_bridges = 2, .down = down, .n_down = 2};
        struct rc_plan p;
        assert_int_equal(reconcile_plan(&d, &links, NULL, &p), 0);
        dump(&p);
        assert_true(at(&p, RC_SET_UP, "eth0", NULL) >= 0);
        assert_true(at(&p, RC_SET_UP, "xenbr0", NULL) >= 0);
        assert_true(at(&p, RC_RELEASE, "eth1", NULL) >= 0); /* not a port of xenbr1 any more */
        assert_true(at(&p, RC_SET_DOWN, "eth1", NULL) >= 0);
        assert_true(at(&p, RC_SET_DOWN, "xenbr1", NULL) >= 0);
        assert_int_equal(at(&p, RC_SET_UP, "xenbr1", NULL), -1);
        assert_int_equal(at(&p, RC_SET_UP, "eth1", NULL), -1);
        rc_plan_free(&p);
        /* VLAN tag 0 (priority tagged) is valid, as in XAPI and Linux */
        struct rc_vlan v0[] = {{.name = "eth0.0", .parent = "eth0", .tag = 0}};
        struct rc_desired d0 = {.vlans = v0, .n_vlans = 1};
        assert_int_equal(reconcile_plan(&d0, &links, NULL, &p), 0);
        assert_true(at(&p, RC_CREATE_VLAN, "eth0.0", "eth0") >= 0);
        rc_plan_free(&p);
}

static void invalid_desired(void **state)
{
        static const char *const p1[] = {"eth0"};
        struct rc_plan p;
        struct nl_link_list none = {0};
        struct rc_vlan bad_tag[] = {{.name = "eth0.0", .parent = "eth0", .tag = 4095}};
        struct rc_desired d1 = {.vlans = bad_tag, .n_vlans = 1};
        assert_int_equal(reconcile_plan(&d1, &none, NULL, &p), -EINVAL);
        struct rc_bridge two[] = {{.name = "a", .ports = p1, .n_ports = 1},
                                  {.name = "b", .ports = p1, .n_ports = 1}};
        struct rc_desired d2 = {.bridges = two, .n_bridges = 2};
        assert_int_equal(reconcile_plan(&d2, &none, NULL, &p), -EINVAL);
        struct rc_bridge dup[] = {{.name = "a"}, {.name = "a"}};
        struct rc_desired d3 = {.bridges = dup, .n_bridges = 2};
        assert_int_equal(reconcile_plan(&d3, &none, NULL, &p), -EINVAL);
        static const char *const bad_addr[] = {"10.0.0.1/33"};
        struct rc_ipconf ip[] = {{.ifname = "eth0", .addrs = bad_addr, .n_addrs = 1}};
        struct rc_desired d4 = {.ipconfs = ip, .n_ipconfs = 1};
        assert_int_equal(reconcile_plan(&d4, &none, NULL, &p), -EINVAL);
        struct rc_bridge longname[] = {{.name = "a-name-far-too-long"}};
        struct rc_desired d5 = {.bridges = longname, .n_bridges = 1};
        assert_int_equal(reconcile_plan(&d5, &none, NULL, &p), -EINVAL);
        rc_plan_free(&p);
        rc_plan_free(NULL);
}

static void cidr_and_names(void **state)
{
        struct cidr a, b;
        assert_int_equal(cidr_parse("10.1.2.3", &a), 0);
        assert_int_equal(a.prefix, 32);
        assert_int_equal(cidr_parse("10.1.2.3/8", &b), 0);
        assert_false(cidr_equal(&a, &b));
        assert_int_equal(cidr_parse("10.1.2.3/", &a), -EINVAL);
        assert_int_equal(cidr_parse("10.1.2/8", &a), -EINVAL);
        assert_int_equal(cidr_parse_addr("10.1.2.3/8", &a), -EINVAL);
        assert_int_equal(cidr_parse("fe80::1/64", &a), 0);
        assert_true(cidr_is_link_local(&a));
        enum bond_mode m;
        enum bond_hash h;
        assert_int_equal(bond_mode_from_name("lacp", &m), 0);
        assert_int_equal(bond_mode_linux(m), 4);
        assert_int_equal(bond_mode_from_name("active-backup", &m), 0);
        assert_int_equal(bond_mode_linux(m), 1);
        assert_int_equal(bond_mode_from_name("round-robin", &m), -EINVAL);
        assert_int_equal(bond_hash_from_name("tcpudp_ports", &h), 0);
        assert_int_equal(h, BOND_HASH_LAYER34);
        assert_int_equal(bond_hash_from_name("src_mac", &h), 0);
        assert_int_equal(h, BOND_HASH_LAYER2);
        uint8_t mac[6];
        char s[18];
        assert_int_equal(nl_mac_parse("02:aa:bb:cc:dd:0e", mac), 0);
        nl_mac_format(mac, s);
        assert_string_equal(s, "02:aa:bb:cc:dd:0e");
        assert_int_equal(nl_mac_parse("02:aa:bb:cc:dd", mac), -EINVAL);
        assert_int_equal(nl_mac_parse("02:aa:bb:cc:dd:0e:ff", mac), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(from_empty),          cmocka_unit_test(messy_state),
            cmocka_unit_test(bond_mode_change),    cmocka_unit_test(recreate_and_conflicts),
            cmocka_unit_test(addresses),           cmocka_unit_test(invalid_desired),
            cmocka_unit_test(addresses_by_family), cmocka_unit_test(held_down),
            cmocka_unit_test(cidr_and_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
