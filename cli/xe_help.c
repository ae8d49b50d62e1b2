/* xe help [--all] [--minimal] [command...]: the usage, the command list (as XAPI's xe lays
 * it out: wrapped at 74 columns, four spaces in) and one command's parameters.  The bash
 * completion script reads `xe help --minimal --all` and `xe help <command>`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe.h"

/* The VM commands choose their VM(s) as XAPI's: vm=<name or uuid>, or any vm-list filter. */
#define VM_SELECTORS "vm, multiple, <vm-list field filters>"

const struct xe_cmd_help xe_composite_help[] = {
    {"vm-install", "new-name-label",
     "template, template-uuid, template-name-label, sr-uuid, sr-name-label",
     "Makes a new VM from a template: clones it (copies it when an SR is named), gives "
     "the disks its provisioning describes that SR (or the pool's default SR), then "
     "provisions them. Prints the new VM's uuid.",
     true},
    {"vm-uninstall", "", VM_SELECTORS ", force",
     "Destroys a VM and the disks only it owns, after asking (or at once with --force).", true},
    {"vm-start", "", VM_SELECTORS ", force, paused", "Starts a VM.", true},
    {"vm-shutdown", "", VM_SELECTORS ", force",
     "Shuts a VM down cleanly, or with --force at once (hard shutdown).", true},
    {"vm-reboot", "", VM_SELECTORS ", force",
     "Reboots a VM cleanly, or with --force at once (hard reboot).", true},
    {"vm-suspend", "", VM_SELECTORS, "Suspends a running VM to disk.", true},
    {"vm-resume", "", VM_SELECTORS ", force", "Resumes a suspended VM.", true},
    {"vm-pause", "", VM_SELECTORS, "Pauses a running VM.", false},
    {"vm-unpause", "", VM_SELECTORS, "Unpauses a paused VM.", false},
    {"vm-clone", "new-name-label", VM_SELECTORS ", new-name-description",
     "Clones a VM (its disks copy-on-write where the SR can). Prints the new uuid.", true},
    {"vm-copy", "new-name-label", VM_SELECTORS ", new-name-description, sr-uuid",
     "Copies a VM, with full copies of its disks (onto sr-uuid when given). Prints the new "
     "uuid.",
     true},
    {"vm-snapshot", "new-name-label", VM_SELECTORS ", new-name-description, ignore-vdi-uuids",
     "Snapshots a VM. Prints the snapshot's uuid.", true},
    {"vdi-create", "sr-uuid, name-label, virtual-size",
     "name-description, type, sharable, read-only, sm-config:, tags",
     "Makes a disk on an SR; virtual-size takes KiB, MiB, GiB or TiB. Prints its uuid.", false},
    {"vbd-create", "vm-uuid, device", "vdi-uuid, bootable, mode, type, unpluggable",
     "Attaches a disk (or an empty CD drive, without vdi-uuid) to a VM at the device "
     "position given. Prints the VBD's uuid.",
     false},
    {"vif-create", "vm-uuid, network-uuid, device", "mac",
     "Gives a VM a network interface on a network (mac=random picks a local address). "
     "Prints the VIF's uuid.",
     false},
    {"sr-create", "name-label, type",
     "host-uuid, name-description, physical-size, content-type, shared, device-config:, "
     "sm-config:",
     "Makes a storage repository of a type (file, lvm, iso, nfs...) from its "
     "device-config. Prints its uuid.",
     true},
    {"network-create", "name-label", "name-description, MTU, bridge, managed",
     "Makes a network (an internal bridge until a PIF joins it). Prints its uuid.", true},
    {"pif-scan", "host-uuid", "", "Makes PIFs for the host's NICs that have none.", false},
    {"vlan-create", "pif-uuid, vlan, network-uuid", "",
     "Makes a VLAN on a PIF into a network. Prints the new VLAN PIF's uuid.", false},
    {"bond-create", "network-uuid, pif-uuids", "mac, mode, properties:",
     "Bonds PIFs (pif-uuids=a,b) into a network. Prints the bond's uuid.", false},
    {"event-wait", "class", "timeout",
     "Waits until an object of the class has every field=value given (field=/=value for "
     "'differs'). timeout=<seconds> gives up after that long (exit status 1).",
     false},
    {"help", "", "all, minimal",
     "Prints the usage and the common commands, every command with --all, or a "
     "command's parameters.",
     false},
};
const size_t xe_n_composite_help = sizeof xe_composite_help / sizeof *xe_composite_help;

/* Commands plain `xe help` lists besides the composite ones marked standard. */
static const char *const standard_generic[] = {"vm-list", "sr-list", "network-list",
                                               "template-list", "host-list"};

struct names {
        char **v;
        size_t n;
};

static void add_name(const char *name, void *arg)
{
        struct names *ns = arg;
        for (size_t i = 0; i < ns->n; i++)
                if (strcmp(ns->v[i], name) == 0)
                        return;
        char **v = realloc(ns->v, (ns->n + 1) * sizeof *v);
        if (!v)
                return;
        ns->v = v;
        ns->v[ns->n++] = strdup(name);
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void all_commands(struct names *ns, bool standard_only)
{
        for (size_t i = 0; i < xe_n_composite_help; i++)
                if (!standard_only || xe_composite_help[i].standard)
                        add_name(xe_composite_help[i].name, ns);
        if (standard_only)
                for (size_t i = 0; i < sizeof standard_generic / sizeof *standard_generic; i++)
                        add_name(standard_generic[i], ns);
        else
                xe_generic_names(add_name, ns);
        qsort(ns->v, ns->n, sizeof *ns->v, by_name);
}

static void free_names(struct names *ns)
{
        for (size_t i = 0; i < ns->n; i++)
                free(ns->v[i]);
        free(ns->v);
}

/* XAPI's make_list: ", "-separated, a new line once a line would pass 74 columns. */
static void print_wrapped(char *const *cmds, size_t n)
{
        char line[512];
        if (!n)
                return;
        snprintf(line, sizeof line, "    %s", cmds[0]);
        for (size_t i = 1; i < n; i++) {
                if (strlen(line) + strlen(cmds[i]) > 74) {
                        puts(line);
                        snprintf(line, sizeof line, "    %s", cmds[i]);
                } else {
                        size_t l = strlen(line);
                        snprintf(line + l, sizeof line - l, ", %s", cmds[i]);
                }
        }
        puts(line);
}

static void usage(void)
{
        fputs("Usage:\n"
              "  xe <command>\n"
              "    [ -s <server> ]            host to reach over HTTPS (default: the local unix\n"
              "                               socket, $XE_SOCKET or " XE_DEFAULT_SOCKET ")\n"
              "    [ -p <port> ]              HTTPS port (default 443)\n"
              "    [ -u <username> -pw <password> | -pwf <password file> ]\n"
              "                               user and password (the file: user on the first\n"
              "                               line, password on the second)\n"
              "    [ -socket <path> ]         the local unix socket to use\n"
              "    [ --debug ]                print the XML-RPC exchanged\n"
              "    [ <other arguments> ... ]  the command's key=value parameters\n"
              "\n"
              "To get help on a specific command:\n"
              "  xe help <command>\n"
              "\n",
              stdout);
}

static void describe(const char *cmd)
{
        char *reqd = NULL, *optional = NULL;
        const char *text = NULL;
        for (size_t i = 0; i < xe_n_composite_help; i++)
                if (strcmp(xe_composite_help[i].name, cmd) == 0) {
                        reqd = strdup(xe_composite_help[i].reqd);
                        optional = strdup(xe_composite_help[i].optional);
                        text = xe_composite_help[i].help;
                }
        if (!text && !xe_generic_describe(cmd, &reqd, &optional, &text)) {
                free(reqd);
                free(optional);
                printf("Unknown command '%s'\n", cmd);
                return;
        }
        struct xe_rec r = {0};
        xe_rec_add(&r, strdup("command name        "), strdup(cmd));
        xe_rec_add(&r, strdup("reqd params     "), reqd);
        xe_rec_add(&r, strdup("optional params "), optional);
        xe_rec_add(&r, strdup("description     "), strdup(text));
        xe_print_records(&r, 1, false);
        xe_rec_free(&r);
}

int xe_help_command(struct xe_ctx *x, const char *cmd)
{
        if (strcmp(cmd, "help") != 0)
                return -1;
        bool all = xe_flag(x->args, "all"), minimal = xe_flag(x->args, "minimal");
        bool named = false;
        for (size_t i = 0; i < x->args->n_params; i++) {
                const char *k = x->args->params[i].key;
                if (strcmp(k, "all") && strcmp(k, "minimal")) {
                        describe(k);
                        named = true;
                }
        }
        if (named)
                return 0;
        struct names ns = {0};
        all_commands(&ns, !all);
        if (minimal) {
                xe_print_list(ns.v, ns.n, true);
        } else {
                usage();
                if (all) {
                        puts("Full command list\n-----------------");
                        /* host-*, then vm-*, then the rest, as XAPI's xe groups them */
                        struct names groups[3] = {{0}};
                        for (size_t i = 0; i < ns.n; i++) {
                                int g = !strncmp(ns.v[i], "host-", 5) ? 0
                                        : !strncmp(ns.v[i], "vm-", 3) ? 1
                                                                      : 2;
                                add_name(ns.v[i], &groups[g]);
                        }
                        for (int g = 0; g < 3; g++) {
                                print_wrapped(groups[g].v, groups[g].n);
                                if (g < 2)
                                        puts("    ");
                                free_names(&groups[g]);
                        }
                } else {
                        puts(
                            "To get a full listing of commands:\n  xe help --all\n\nCommon command "
                            "list\n-------------------");
                        print_wrapped(ns.v, ns.n);
                }
        }
        free_names(&ns);
        return 0;
}
