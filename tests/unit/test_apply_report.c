/* Unit tests of netd/apply_report.c and of what reconcile_plan_report notes there: the links
 * of the desired state that cannot be made, which xapid turns into the failing call's error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <net/if.h>

#include "netd/apply_report.h"
#include "netd/reconcile.h"

static struct nl_link_info L(const char *name, const char *kind, const char *parent, int vlan,
                             int owned) {
        struct nl_link_info i;
        memset(&i, 0, sizeof(i));
        snprintf(i.name, sizeof(i.name), "%s", name);
        snprintf(i.kind, sizeof(i.kind), "%s", kind);
        snprintf(i.parent_name, sizeof(i.parent_name), "%s", parent);
        i.vlan_id = vlan;
        i.bond_mode = -1;
        i.mtu = 1500;
        i.flags = IFF_UP;
        if (owned)
                snprintf(i.alias, sizeof(i.alias), "%s%s", NL_OWNED_ALIAS_PREFIX, kind);
        return i;
}

static void
first_failure_per_link(void **state)
{
        struct apply_report r = {0};
        apply_report_add(&r, "xapi1", -EEXIST, "taken by %s", "a veth");
        apply_report_add(&r, "xapi1", -ENODEV, "later"); /* the first one stays */
        apply_report_add(&r, "eth0", EINVAL, "mtu %u", 70000u);
        apply_report_add(NULL, "eth9", EINVAL, "nobody listens");
        assert_int_equal(r.n, 2);
        const struct apply_failure *f = apply_report_find(&r, "xapi1");
        assert_non_null(f);
        assert_int_equal(f->err, EEXIST);
        assert_string_equal(f->msg, "taken by a veth");
        assert_int_equal(apply_report_find(&r, "eth0")->err, EINVAL);
        assert_null(apply_report_find(&r, "eth9"));
        apply_report_free(&r);
        assert_int_equal(r.n, 0);
}

static void planning_failures(void **state)
{
        struct nl_link_info obs[] = {
            L("eth0", "", "", 0, 0),           L("eth1", "", "", 0, 0),
            L("xapi3", "veth", "", 0, 0),      /* a bridge's name, not netd's */
            L("other5", "vlan", "eth0", 5, 0), /* tag 5 on eth0 under another name */
            L("eth1.8", "vlan", "eth1", 9, 0), /* the name, with another tag, not netd's */
        };
        struct nl_link_list links = {obs, 5};
        struct rc_bridge bridges[] = {{.name = "xapi3"}, {.name = "xapi4"}};
        struct rc_vlan vlans[] = {{.name = "eth0.5", .parent = "eth0", .tag = 5},
                                  {.name = "eth1.8", .parent = "eth1", .tag = 8},
                                  {.name = "eth7.2", .parent = "eth7", .tag = 2},
                                  {.name = "eth1.6", .parent = "eth1", .tag = 6}};
        struct rc_desired d = {.bridges = bridges, .n_bridges = 2, .vlans = vlans, .n_vlans = 4};
        struct apply_report r = {0};
        struct rc_plan p;
        assert_int_equal(reconcile_plan_report(&d, &links, NULL, &r, &p), 0);
        assert_int_equal(apply_report_find(&r, "xapi3")->err, EEXIST);
        assert_int_equal(apply_report_find(&r, "eth0.5")->err, EBUSY);
        assert_non_null(strstr(apply_report_find(&r, "eth0.5")->msg, "other5"));
        assert_int_equal(apply_report_find(&r, "eth1.8")->err, EEXIST);
        assert_int_equal(apply_report_find(&r, "eth7.2")->err, ENODEV);
        /* what can be made is made, and is no failure */
        assert_null(apply_report_find(&r, "xapi4"));
        assert_null(apply_report_find(&r, "eth1.6"));
        assert_int_equal(r.n, 4);
        bool made = false;
        for (size_t i = 0; i < p.n; i++)
                made |= p.v[i].op == RC_CREATE_VLAN && strcmp(p.v[i].name, "eth1.6") == 0;
        assert_true(made);
        assert_ptr_equal(p.report, &r);
        rc_plan_free(&p);
        apply_report_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(first_failure_per_link),
            cmocka_unit_test(planning_failures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
