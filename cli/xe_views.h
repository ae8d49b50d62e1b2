/* The classes as xe's command line presents them ("views"): every generated class, plus
 * template and snapshot as views of VM; each with the fields <view>-list prints by default
 * and its default filters (XAPI's cli_operations.ml gen_cmds). */
#ifndef TS_CLI_XE_VIEWS_H
#define TS_CLI_XE_VIEWS_H

#include <stdbool.h>

#include "cli/xe_schema.h"

struct xe_view {
        const char *name;
        const char *cls;
        const char *filters[2][2]; /* default filters of <name>-list */
        const char *defaults;      /* the fields <name>-list prints, comma separated */
};

/* The generic verbs: list, param-list, param-get, param-set, param-add, param-remove,
 * param-clear. */
extern const char *const xe_verbs[];
extern const size_t xe_n_verbs;

/* Splits "<view>-<verb>": the class, the verb (one of xe_verbs) and the view. */
bool xe_view_lookup(const char *cmd, const struct xe_class **cls, const char **verb,
                    struct xe_view *view);
/* Whether NAME is one of the comma-separated CSV. */
bool xe_in_csv(const char *csv, const char *name);

#endif
