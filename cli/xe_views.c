/* The views of xe's command line (see xe_views.h), the generic commands' names and help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe.h"
#include "cli/xe_views.h"

/* XAPI's defaults (cli_operations.ml gen_cmds); a class without an entry lists uuid and its
 * name fields. */
static const struct xe_view views[] = {
    {"vm", "VM", {{"is-a-template", "false"}}, "name-label,uuid,power-state"},
    {"template",
     "VM",
     {{"is-a-template", "true"}, {"is-a-snapshot", "false"}},
     "name-label,name-description,uuid"},
    {"snapshot",
     "VM",
     {{"is-a-snapshot", "true"}},
     "name-label,name-description,uuid,snapshot-of,snapshot-time"},
    {"pool", "pool", {{0}}, "uuid,name-label,name-description,master,default-SR"},
    {"pif", "PIF", {{0}}, "uuid,device,VLAN,MAC,network-uuid,currently-attached,host-uuid"},
    {"bond", "Bond", {{0}}, "uuid,master,slaves"},
    {"vlan", "VLAN", {{0}}, "uuid,tagged-PIF,untagged-PIF,tag"},
    {"vif", "VIF", {{0}}, "uuid,device,vm-uuid,network-uuid"},
    {"network", "network", {{0}}, "uuid,name-label,name-description,bridge"},
    {"console", "console", {{0}}, "uuid,vm-uuid,protocol,location"},
    {"host", "host", {{0}}, "uuid,name-label,name-description"},
    {"host-cpu", "host_cpu", {{0}}, "uuid,number,vendor,speed,utilisation"},
    {"host-crashdump", "host_crashdump", {{0}}, "uuid,host,timestamp,size"},
    {"patch",
     "pool_patch",
     {{0}},
     "uuid,name-label,name-description,size,hosts,after-apply-guidance"},
    {"vdi",
     "VDI",
     {{0}},
     "uuid,name-label,name-description,virtual-size,read-only,sharable,sr-uuid"},
    {"vbd", "VBD", {{0}}, "uuid,vm-uuid,vdi-uuid,device,empty"},
    {"sr", "SR", {{0}}, "uuid,name-label,name-description,host,type,content-type"},
    {"sm", "SM", {{0}}, "uuid,type,name-label,name-description,vendor,copyright,configuration"},
    {"pbd", "PBD", {{0}}, "uuid,host-uuid,sr-uuid,device-config,currently-attached"},
    {"task", "task", {{0}}, "uuid,name-label,name-description,status,progress"},
};

const char *const xe_verbs[] = {"list",      "param-list",   "param-get",  "param-set",
                                "param-add", "param-remove", "param-clear"};
const size_t xe_n_verbs = 7;

bool xe_in_csv(const char *csv, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = csv; p && *p;) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len == n && strncmp(p, name, n) == 0)
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* The view of a command's class part, or a synthetic one for a generated class. */
static bool find_view(const char *name, size_t len, struct xe_view *out)
{
        for (size_t i = 0; i < sizeof views / sizeof *views; i++)
                if (strlen(views[i].name) == len && strncmp(views[i].name, name, len) == 0) {
                        *out = views[i];
                        return true;
                }
        for (size_t i = 0; i < xe_n_classes; i++)
                if (strlen(xe_classes[i].xe) == len && strncmp(xe_classes[i].xe, name, len) == 0) {
                        *out = (struct xe_view){xe_classes[i].xe,
                                                xe_classes[i].wire,
                                                {{0}},
                                                "uuid,name-label,name-description"};
                        return true;
                }
        return false;
}

bool xe_view_lookup(const char *cmd, const struct xe_class **cls, const char **verb,
                    struct xe_view *view)
{
        for (size_t v = 0; v < xe_n_verbs; v++) {
                size_t cl = strlen(cmd), vl = strlen(xe_verbs[v]);
                if (cl <= vl + 1 || strcmp(cmd + cl - vl, xe_verbs[v]) || cmd[cl - vl - 1] != '-')
                        continue;
                if (!find_view(cmd, cl - vl - 1, view))
                        continue;
                *cls = xe_class_by_wire(view->cls);
                *verb = xe_verbs[v];
                return *cls != NULL;
        }
        return false;
}

/* Every generic command: the views, then generated classes no view covers. */
void xe_generic_names(void (*fn)(const char *name, void *arg), void *arg)
{
        char name[96];
        for (size_t i = 0; i < sizeof views / sizeof *views; i++)
                for (size_t v = 0; v < xe_n_verbs; v++) {
                        snprintf(name, sizeof name, "%s-%s", views[i].name, xe_verbs[v]);
                        fn(name, arg);
                }
        for (size_t i = 0; i < xe_n_classes; i++) {
                bool covered = false;
                for (size_t k = 0; k < sizeof views / sizeof *views; k++)
                        covered |= strcmp(views[k].name, xe_classes[i].xe) == 0;
                for (size_t v = 0; !covered && v < xe_n_verbs; v++) {
                        snprintf(name, sizeof name, "%s-%s", xe_classes[i].xe, xe_verbs[v]);
                        fn(name, arg);
                }
        }
}

static void csv_add(char **csv, const char *item, const char *suffix)
{
        char *s = NULL;
        if (asprintf(&s, "%s%s%s%s", *csv ? *csv : "", *csv && **csv ? ", " : "", item, suffix) < 0)
                return;
        free(*csv);
        *csv = s;
}

bool xe_generic_describe(const char *cmd, char **reqd, char **optional, const char **help)
{
        const struct xe_class *c;
        const char *verb;
        struct xe_view view;
        *reqd = strdup("");
        *optional = strdup("");
        if (!xe_view_lookup(cmd, &c, &verb, &view))
                return false;
        bool list = strcmp(verb, "list") == 0, set = strcmp(verb, "param-set") == 0;
        if (!list)
                csv_add(reqd, "uuid", "");
        if (!list && !set && strcmp(verb, "param-list") != 0)
                csv_add(reqd, "param-name", "");
        if (strcmp(verb, "param-remove") == 0)
                csv_add(reqd, "param-key", "");
        if (strcmp(verb, "param-get") == 0 || strcmp(verb, "param-add") == 0)
                csv_add(optional, "param-key", "");
        if (list)
                csv_add(optional, "params", "");
        for (size_t i = 0; (list || set) && i < c->n_fields; i++) {
                const struct xe_field *f = &c->fields[i];
                if (list)
                        csv_add(optional, f->xe,
                                f->shape == XE_SET   ? ":contains"
                                : f->shape == XE_MAP ? ":"
                                                     : "");
                else if (f->shape == XE_SCALAR && f->setter)
                        csv_add(optional, f->xe, "");
                else if (f->shape == XE_MAP && f->adder)
                        csv_add(optional, f->xe, ":");
        }
        static const char *const texts[] = {
            "Prints the objects of this class. Any field=value given keeps only the objects "
            "whose field has that value (map-field:key=value for a key of a map, "
            "set-field:contains=value for a member of a set); params=a,b or params=all picks "
            "the fields shown; --minimal prints only the first field, comma separated.",
            "Prints every field of the object with this uuid.",
            "Prints one field of the object; for a map field, param-key=<key> prints the "
            "value of one key.",
            "Changes fields of the object: field=value for a writable field, "
            "map-field:key=value to put one key of a map.",
            "Adds to a set field (param-key=<member>) or a map field (key=value pairs).",
            "Removes a member from a set field or a key from a map field (param-key=<key>).",
            "Empties a set or map field, or sets a writable string field to \"\".",
        };
        for (size_t v = 0; v < xe_n_verbs; v++)
                if (strcmp(verb, xe_verbs[v]) == 0)
                        *help = texts[v];
        return true;
}
