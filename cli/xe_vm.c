/* The VM commands that are more than one call: vm-install, the lifecycle operations,
 * vm-uninstall, vm-clone, vm-copy, vm-snapshot (as XAPI's cli_operations.ml does them). */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/xe.h"

static bool vm_bool(struct xe_ctx *x, const char *getter, const struct xv *vm)
{
        struct xv *r = xe_call(x, getter, 1, xv_copy(vm));
        bool b = r->kind == XV_BOOL && r->b;
        xv_free(r);
        return b;
}

/* The VMs a command names, as XAPI's select_vms: vm=<name or uuid>, and every other
 * parameter that is neither standard nor in IGNORE (the command's own) as a field filter of
 * vm-list; templates only when TEMPLATES, control domains never.  No match is an error, as
 * are several without --multiple. */
static struct xv *select_vms(struct xe_ctx *x, bool templates, const char *const *ignore)
{
        const struct xe_class *c = xe_class_by_wire("VM");
        const char *vm = xe_param(x->args, "vm");
        for (size_t p = 0; p < x->args->n_params; p++) {
                const char *key = x->args->params[p].key;
                size_t n = strcspn(key, ":");
                bool skip = xe_is_std_param(key) || strcmp(key, "vm") == 0;
                for (const char *const *i = ignore; !skip && *i; i++)
                        skip = strcmp(key, *i) == 0;
                char *field = strndup(key, n);
                bool known = xe_field_by_xe(c, field) != NULL;
                free(field);
                if (!skip && !known)
                        xe_die(x,
                               "Parameter '%s' is not a field of the VM class. Failed to select VM "
                               "for operation.",
                               key);
        }
        struct xv *all = xe_call(x, "VM.get_all_records", 0), *found = xv_array();
        for (size_t i = 0; all->kind == XV_STRUCT && i < all->n; i++) {
                const struct xv *rec = all->items[i];
                const struct xv *cd = xv_get(rec, "is_control_domain");
                const struct xv *tpl = xv_get(rec, "is_a_template");
                if ((cd && cd->b) || (!templates && tpl && tpl->b))
                        continue;
                if (vm && strcmp(xv_str(xv_get(rec, "uuid")), vm) != 0 &&
                    strcmp(xv_str(xv_get(rec, "name_label")), vm) != 0)
                        continue;
                bool ok = true;
                for (size_t p = 0; ok && p < x->args->n_params; p++) {
                        const struct xe_kv *kv = &x->args->params[p];
                        bool skip = xe_is_std_param(kv->key) || strcmp(kv->key, "vm") == 0;
                        for (const char *const *ig = ignore; !skip && *ig; ig++)
                                skip = strcmp(kv->key, *ig) == 0;
                        if (!skip)
                                ok = xe_record_matches(x, c, rec, kv->key, kv->value);
                }
                if (ok)
                        xv_push(found, xv_string(all->keys[i]));
        }
        xv_free(all);
        if (found->n == 0)
                xe_die(x, "No matching VMs found");
        if (found->n > 1 && !xe_flag(x->args, "multiple"))
                xe_die(x, "Multiple matches VMs found. --multiple required to complete the "
                          "operation");
        return found;
}

/* One VM: as select_vms, but several matches are an error even with --multiple. */
static struct xv *select_vm(struct xe_ctx *x, bool templates, const char *const *ignore)
{
        struct xv *vms = select_vms(x, templates, ignore);
        if (vms->n > 1)
                xe_die(x, "Multiple matches VMs found. Operation can only be performed on one VM "
                          "at a time");
        struct xv *vm = xv_copy(vms->items[0]);
        xv_free(vms);
        return vm;
}

static void print_uuid_of(struct xe_ctx *x, const char *cls, const struct xv *ref)
{
        puts(xe_ref_uuid(x, cls, xv_str(ref)));
}

/* A lifecycle operation: the call and whether --force picks another one. */
struct op {
        const char *cmd, *method, *forced;
        int args; /* 0: (vm); 2: (vm, start_paused, force) */
};

static const struct op ops[] = {
    {"vm-start", "VM.start", NULL, 2},
    {"vm-shutdown", "VM.clean_shutdown", "VM.hard_shutdown", 0},
    {"vm-reboot", "VM.clean_reboot", "VM.hard_reboot", 0},
    {"vm-suspend", "VM.suspend", NULL, 0},
    {"vm-resume", "VM.resume", NULL, 2},
    {"vm-pause", "VM.pause", NULL, 0},
    {"vm-unpause", "VM.unpause", NULL, 0},
};

static int lifecycle(struct xe_ctx *x, const struct op *op)
{
        static const char *const ignore[] = {"force", "paused", "on", NULL};
        struct xv *vms = select_vms(x, false, ignore);
        bool force = xe_flag(x->args, "force");
        for (size_t i = 0; i < vms->n; i++) {
                struct xv *vm = xv_copy(vms->items[i]), *r;
                if (op->args == 2)
                        r = xe_call(x, op->method, 3, vm, xv_bool(xe_flag(x->args, "paused")),
                                    xv_bool(force));
                else
                        r = xe_call(x, force && op->forced ? op->forced : op->method, 1, vm);
                xv_free(r);
        }
        xv_free(vms);
        return 0;
}

static struct xv *find_template(struct xe_ctx *x)
{
        const char *uuid = xe_param(x->args, "template-uuid");
        const char *name = xe_param(x->args, "template-name-label");
        if (!name)
                name = xe_param(x->args, "template-name");
        if (uuid) {
                struct xv *r = xe_try(x, "VM.get_by_uuid", 1, xv_string(uuid));
                if (!r)
                        xe_die(x, "Cannot find template");
                return r;
        }
        if (!name) {
                const char *t = xe_param(x->args, "template");
                if (!t)
                        xe_die(x, "Template must be specified by parameter 'template-uuid', "
                                  "'template-name', 'template-name-label' or 'template'");
                struct xv *r = xe_try(x, "VM.get_by_uuid", 1, xv_string(t));
                if (r)
                        return r;
                name = t;
        }
        struct xv *refs = xe_call(x, "VM.get_by_name_label", 1, xv_string(name));
        struct xv *found = NULL;
        size_t n = 0;
        for (size_t i = 0; refs->kind == XV_ARRAY && i < refs->n; i++) {
                if (!vm_bool(x, "VM.get_is_a_template", refs->items[i]) ||
                    vm_bool(x, "VM.get_is_control_domain", refs->items[i]))
                        continue;
                if (!found)
                        found = xv_copy(refs->items[i]);
                n++;
        }
        xv_free(refs);
        if (n == 0)
                xe_die(x, "No templates matched");
        if (n > 1)
                xe_die(x, "More than one matching template found");
        return found;
}

/* The provisioning XML in other_config:disks names the SR of each disk to create. */
static void rewrite_disks_sr(struct xe_ctx *x, const struct xv *vm, const char *sr_uuid)
{
        struct xv *oc = xe_call(x, "VM.get_other_config", 1, xv_copy(vm));
        const char *disks;
        if (!xe_map_lookup(oc, "disks", &disks)) {
                xv_free(oc);
                return;
        }
        xmlDoc *doc = xmlReadMemory(disks, (int)strlen(disks), "disks.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!root || strcmp((const char *)root->name, "provision") != 0)
                xe_die(x, "the template's other-config:disks is not a provisioning document");
        for (xmlNode *d = root->children; d; d = d->next)
                if (d->type == XML_ELEMENT_NODE && strcmp((const char *)d->name, "disk") == 0 &&
                    xmlHasProp(d, BAD_CAST "sr"))
                        xmlSetProp(d, BAD_CAST "sr", BAD_CAST sr_uuid);
        xmlBuffer *buf = xmlBufferCreate();
        xmlNodeDump(buf, doc, root, 0, 0);
        xv_free(xe_call(x, "VM.remove_from_other_config", 2, xv_copy(vm), xv_string("disks")));
        xv_free(xe_call(x, "VM.add_to_other_config", 3, xv_copy(vm), xv_string("disks"),
                        xv_string((const char *)xmlBufferContent(buf))));
        xmlBufferFree(buf);
        xmlFreeDoc(doc);
        xv_free(oc);
}

static char *default_sr_uuid(struct xe_ctx *x)
{
        struct xv *pools = xe_call(x, "pool.get_all", 0);
        char *uuid = NULL;
        if (pools->kind == XV_ARRAY && pools->n) {
                struct xv *sr = xe_call(x, "pool.get_default_SR", 1, xv_copy(pools->items[0]));
                struct xv *u = xe_try(x, "SR.get_uuid", 1, xv_copy(sr));
                if (u)
                        uuid = strdup(xv_str(u));
                xv_free(u);
                xv_free(sr);
        }
        xv_free(pools);
        return uuid;
}

static int vm_install(struct xe_ctx *x)
{
        const char *new_name = xe_required(x, "new-name-label");
        struct xv *template = find_template(x);
        if (!vm_bool(x, "VM.get_is_a_template", template))
                xe_die(x, "Can only install from templates");
        struct xv *sr = NULL;
        const char *sr_uuid_param = xe_param(x->args, "sr-uuid");
        const char *sr_name = xe_param(x->args, "sr-name-label");
        if (sr_uuid_param)
                sr = xe_ref_by_uuid(x, "SR", sr_uuid_param);
        if (sr_name) {
                struct xv *srs = xe_call(x, "SR.get_by_name_label", 1, xv_string(sr_name));
                if (srs->n == 0)
                        xe_die(x, "No SR with that name-label found");
                if (sr && (srs->n != 1 || strcmp(xv_str(srs->items[0]), xv_str(sr)) != 0))
                        xe_die(x, "SR specified via sr-uuid doesn't have the name specified via "
                                  "sr-name-label");
                if (srs->n > 1)
                        xe_die(x, "Multiple SRs with that name-label found");
                if (!sr)
                        sr = xv_copy(srs->items[0]);
                xv_free(srs);
        }
        char *sr_uuid = sr ? strdup(xe_ref_uuid(x, "SR", xv_str(sr))) : default_sr_uuid(x);
        if (!sr_uuid) {
                struct xv *oc = xe_call(x, "VM.get_other_config", 1, xv_copy(template));
                if (xe_map_lookup(oc, "disks", NULL))
                        xe_die(x, "Failed to find a valid default SR for the Pool. Please provide "
                                  "an sr-name-label or sr-uuid parameter.");
                xv_free(oc);
                sr_uuid = strdup("");
        }
        struct xv *suspend_sr =
            sr ? xv_copy(sr) : xe_call(x, "VM.get_suspend_SR", 1, xv_copy(template));
        struct xv *vm =
            sr ? xe_call(x, "VM.copy", 3, xv_copy(template), xv_string(new_name), xv_copy(sr))
               : xe_call(x, "VM.clone", 2, xv_copy(template), xv_string(new_name));
        /* from here a failure destroys the half-made VM, as XAPI's vm-install does */
        struct xv *r =
            xe_try(x, "VM.set_name_description", 2, xv_copy(vm), xv_string("Installed via xe CLI"));
        if (r) {
                xv_free(r);
                r = xe_try(x, "VM.set_suspend_SR", 2, xv_copy(vm), xv_copy(suspend_sr));
        }
        if (r) {
                xv_free(r);
                rewrite_disks_sr(x, vm, sr_uuid);
                r = xe_try(x, "VM.provision", 1, xv_copy(vm));
        }
        if (!r) {
                struct xv *error = x->error;
                x->error = NULL;
                xv_free(xe_try(x, "VM.destroy", 1, xv_copy(vm)));
                xe_die_api(x, error);
        }
        xv_free(r);
        print_uuid_of(x, "VM", vm);
        xv_free(vm);
        xv_free(suspend_sr);
        xv_free(sr);
        xv_free(template);
        free(sr_uuid);
        return 0;
}

static bool user_says_yes(void)
{
        char line[64] = "";
        puts("Type 'yes' to continue");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
                line[0] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "yes") != 0) {
                printf("Aborted (you typed: '%s')\n", line);
                return false;
        }
        return true;
}

/* The VM's VDIs to destroy with it: those its VBDs own (other-config:owner), unless another
 * VM also uses them. */
static struct xv *owned_vdis(struct xe_ctx *x, const struct xv *vm)
{
        struct xv *vdis = xv_array();
        struct xv *vbds = xe_call(x, "VM.get_VBDs", 1, xv_copy(vm));
        for (size_t i = 0; i < vbds->n; i++) {
                struct xv *oc = xe_try(x, "VBD.get_other_config", 1, xv_copy(vbds->items[i]));
                struct xv *vdi = oc ? xe_try(x, "VBD.get_VDI", 1, xv_copy(vbds->items[i])) : NULL;
                struct xv *users = vdi ? xe_try(x, "VDI.get_VBDs", 1, xv_copy(vdi)) : NULL;
                bool only_this = users != NULL && xe_map_lookup(oc, "owner", NULL);
                for (size_t u = 0; only_this && u < users->n; u++) {
                        struct xv *other = xe_try(x, "VBD.get_VM", 1, xv_copy(users->items[u]));
                        only_this = !other || strcmp(xv_str(other), xv_str(vm)) == 0;
                        xv_free(other);
                }
                if (only_this)
                        xv_push(vdis, xv_copy(vdi));
                xv_free(users);
                xv_free(vdi);
                xv_free(oc);
        }
        xv_free(vbds);
        return vdis;
}

static int vm_uninstall(struct xe_ctx *x)
{
        static const char *const ignore[] = {"force", NULL};
        struct xv *vms = select_vms(x, false, ignore);
        struct xv **vdis = calloc(vms->n, sizeof *vdis);
        if (!vdis)
                xe_die(x, "out of memory");
        puts("The following items are about to be destroyed");
        for (size_t v = 0; v < vms->n; v++) {
                const struct xv *vm = vms->items[v];
                struct xv *name = xe_call(x, "VM.get_name_label", 1, xv_copy(vm));
                printf("VM : %s (%s)\n", xe_ref_uuid(x, "VM", xv_str(vm)), xv_str(name));
                xv_free(name);
                vdis[v] = owned_vdis(x, vm);
                for (size_t i = 0; i < vdis[v]->n; i++) {
                        struct xv *vname =
                            xe_call(x, "VDI.get_name_label", 1, xv_copy(vdis[v]->items[i]));
                        printf("VDI: %s (%s)\n", xe_ref_uuid(x, "VDI", xv_str(vdis[v]->items[i])),
                               xv_str(vname));
                        xv_free(vname);
                }
        }
        if (xe_flag(x->args, "force") || user_says_yes()) {
                for (size_t v = 0; v < vms->n; v++) {
                        const struct xv *vm = vms->items[v];
                        struct xv *ps = xe_call(x, "VM.get_power_state", 1, xv_copy(vm));
                        if (strcasecmp(xv_str(ps), "Halted") != 0)
                                xv_free(xe_call(x, "VM.hard_shutdown", 1, xv_copy(vm)));
                        xv_free(ps);
                        xv_free(xe_call(x, "VM.destroy", 1, xv_copy(vm)));
                        for (size_t i = 0; i < vdis[v]->n; i++)
                                xv_free(xe_call(x, "VDI.destroy", 1, xv_copy(vdis[v]->items[i])));
                }
                puts("All objects destroyed");
        }
        for (size_t v = 0; v < vms->n; v++)
                xv_free(vdis[v]);
        free(vdis);
        xv_free(vms);
        return 0;
}

/* vm-clone, vm-copy, vm-snapshot: the new VM's uuid. */
static int vm_duplicate(struct xe_ctx *x, const char *cmd)
{
        const char *new_name = xe_required(x, "new-name-label");
        const char *desc = xe_param(x->args, "new-name-description");
        static const char *const own[] = {"new-name-label", "new-name-description",
                                          "ignore-vdi-uuids", "sr-uuid", NULL};
        struct xv *vm = select_vm(x, strcmp(cmd, "vm-snapshot") != 0, own), *r;
        if (strcmp(cmd, "vm-clone") == 0) {
                r = xe_call(x, "VM.clone", 2, vm, xv_string(new_name));
        } else if (strcmp(cmd, "vm-copy") == 0) {
                const char *sr = xe_param(x->args, "sr-uuid");
                r = xe_call(x, "VM.copy", 3, vm, xv_string(new_name),
                            sr ? xe_ref_by_uuid(x, "SR", sr) : xv_string("OpaqueRef:NULL"));
        } else {
                struct xv *ignore = xv_array();
                const char *list = xe_param(x->args, "ignore-vdi-uuids");
                char *copy = list ? strdup(list) : NULL, *save = NULL;
                for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
                     tok = strtok_r(NULL, ",", &save))
                        xv_push(ignore, xe_ref_by_uuid(x, "VDI", tok));
                free(copy);
                r = xe_call(x, "VM.snapshot", 3, vm, xv_string(new_name), ignore);
        }
        if (desc)
                xv_free(xe_call(x, "VM.set_name_description", 2, xv_copy(r), xv_string(desc)));
        print_uuid_of(x, "VM", r);
        xv_free(r);
        return 0;
}

int xe_vm_command(struct xe_ctx *x, const char *cmd)
{
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
                if (strcmp(cmd, ops[i].cmd) == 0)
                        return lifecycle(x, &ops[i]);
        if (strcmp(cmd, "vm-install") == 0)
                return vm_install(x);
        if (strcmp(cmd, "vm-uninstall") == 0)
                return vm_uninstall(x);
        if (strcmp(cmd, "vm-clone") == 0 || strcmp(cmd, "vm-copy") == 0 ||
            strcmp(cmd, "vm-snapshot") == 0)
                return vm_duplicate(x, cmd);
        return -1;
}
