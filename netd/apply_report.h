/* What could not be applied while converging: one entry per link (the first failure of
 * each), sent back to xapid in ApplyBridgesReply.failures so that the API call that wanted
 * that link can fail and undo its change (xapid/net_check.c). */
#ifndef TS_NETD_APPLY_REPORT_H
#define TS_NETD_APPLY_REPORT_H

#include <net/if.h>
#include <stddef.h>

struct apply_failure {
        char name[IFNAMSIZ]; /* the link: a bridge, VLAN, bond, port or member */
        int err;             /* positive errno */
        char msg[200];
};

struct apply_report {
        struct apply_failure *v;
        size_t n, cap;
};

/* Notes that NAME could not be made as wanted (ERR a negative or positive errno), with a
 * message formatted from FMT; a later failure of a NAME already noted is ignored.  R may
 * be NULL (nobody listens). */
void apply_report_add(struct apply_report *r, const char *name, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const struct apply_failure *apply_report_find(const struct apply_report *r, const char *name);
void apply_report_free(struct apply_report *r);

#endif
