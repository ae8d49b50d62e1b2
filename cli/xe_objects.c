/* Commands that make one object from parameters (vdi-create, vbd-create, vif-create,
 * sr-create, network-create, vlan-create, bond-create) and pif-scan, each printing what
 * XAPI's xe prints: the new object's uuid. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "cli/xe.h"

/* "name:key=value" parameters as a map. */
static struct xv *map_params(struct xe_ctx *x, const char *name)
{
        struct xv *m = xv_struct();
        size_t n = strlen(name);
        for (size_t i = 0; i < x->args->n_params; i++) {
                const struct xe_kv *kv = &x->args->params[i];
                if (strncmp(kv->key, name, n) == 0 && kv->key[n] == ':')
                        xv_put(m, kv->key + n + 1, xv_string(kv->value));
        }
        return m;
}

/* XAPI's bytes_of_string: an integer with an optional unit (b, KiB/kb/k, MiB, GiB, TiB). */
static int64_t bytes_param(struct xe_ctx *x, const char *field, const char *s)
{
        static const char *const units[][3] = {{"b", "bytes", ""},
                                               {"kib", "kb", "k"},
                                               {"mib", "mb", "m"},
                                               {"gib", "gb", "g"},
                                               {"tib", "tb", "t"}};
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        while (*end == ' ')
                end++;
        if (!errno && end != s && v >= 0 && isdigit((unsigned char)*s))
                for (size_t u = 0; u < sizeof units / sizeof *units; u++)
                        for (size_t k = 0; k < 3; k++)
                                if (strcasecmp(end, units[u][k]) == 0) {
                                        long long r = v;
                                        for (size_t m = 0; m < u; m++)
                                                if (__builtin_mul_overflow(r, 1024LL, &r))
                                                        goto bad;
                                        return r;
                                }
bad:
        xe_die(x,
               "Failed to parse field '%s': expecting an integer (possibly with suffix KiB, "
               "MiB, GiB, TiB), got '%s'",
               field, s);
}

static bool bool_param(struct xe_ctx *x, const char *key, bool dflt)
{
        const char *v = xe_param(x->args, key);
        if (!v)
                return dflt;
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
                return true;
        if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0"))
                return false;
        xe_die(x, "Parameter %s must be a boolean (true or false)", key);
}

static const char *param_or(struct xe_ctx *x, const char *key, const char *dflt)
{
        const char *v = xe_param(x->args, key);
        return v ? v : dflt;
}

/* Keeps only the members the class has in the IDL, so a record never names a field the
 * server does not know. */
static struct xv *record_for(const char *cls, struct xv *rec)
{
        const struct xe_class *c = xe_class_by_wire(cls);
        struct xv *out = xv_struct();
        for (size_t i = 0; i < rec->n; i++)
                if (!c || xe_field_by_wire(c, rec->keys[i]))
                        xv_put(out, rec->keys[i], xv_copy(rec->items[i]));
        xv_free(rec);
        return out;
}

static int create_and_print(struct xe_ctx *x, const char *cls, struct xv *record)
{
        char method[64];
        snprintf(method, sizeof method, "%s.create", cls);
        struct xv *ref = xe_call(x, method, 1, record_for(cls, record));
        puts(xe_ref_uuid(x, cls, xv_str(ref)));
        xv_free(ref);
        return 0;
}

static int vdi_create(struct xe_ctx *x)
{
        struct xv *sr = xe_ref_by_uuid(x, "SR", xe_required(x, "sr-uuid"));
        const char *name = xe_required(x, "name-label");
        int64_t size = bytes_param(x, "virtual-size", xe_required(x, "virtual-size"));
        struct xv *tags = xv_array();
        const char *t = xe_param(x->args, "tags");
        char *copy = t ? strdup(t) : NULL, *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save))
                xv_push(tags, xv_string(tok));
        free(copy);
        struct xv *r = xv_struct();
        xv_put(r, "SR", sr);
        xv_put(r, "name_label", xv_string(name));
        xv_put(r, "name_description", xv_string(param_or(x, "name-description", "")));
        xv_put(r, "virtual_size", xv_int(size));
        xv_put(r, "type", xv_string(param_or(x, "type", "user")));
        xv_put(r, "sharable", xv_bool(bool_param(x, "sharable", false)));
        xv_put(r, "read_only", xv_bool(bool_param(x, "read-only", false)));
        xv_put(r, "other_config", xv_struct());
        xv_put(r, "xenstore_data", xv_struct());
        xv_put(r, "sm_config", map_params(x, "sm-config"));
        xv_put(r, "tags", tags);
        return create_and_print(x, "VDI", r);
}

static int vbd_create(struct xe_ctx *x)
{
        struct xv *vm = xe_ref_by_uuid(x, "VM", xe_required(x, "vm-uuid"));
        const char *vdi_uuid = xe_param(x->args, "vdi-uuid");
        const char *mode = param_or(x, "mode", "rw"), *type = param_or(x, "type", "disk");
        const char *device = xe_required(x, "device");
        if (strcasecmp(mode, "rw") && strcasecmp(mode, "ro"))
                xe_die(x, "Unknown mode: %s (should be \"ro\" or \"rw\"", mode);
        const char *wire_type = !strcasecmp(type, "cd")       ? "CD"
                                : !strcasecmp(type, "disk")   ? "Disk"
                                : !strcasecmp(type, "floppy") ? "Floppy"
                                                              : NULL;
        if (!wire_type)
                xe_die(x, "\"Unknown type: %s (should be \"cd\", \"disk\" or \"floppy\"", type);
        if (!vdi_uuid && strcmp(wire_type, "Disk") == 0)
                xe_die(x, "Empty VBDs can only be made for type=CD");
        struct xv *r = xv_struct();
        xv_put(r, "VM", vm);
        xv_put(r, "VDI",
               vdi_uuid ? xe_ref_by_uuid(x, "VDI", vdi_uuid) : xv_string("OpaqueRef:NULL"));
        xv_put(r, "userdevice", xv_string(device));
        xv_put(r, "bootable", xv_bool(bool_param(x, "bootable", false)));
        xv_put(r, "mode", xv_string(strcasecmp(mode, "ro") ? "RW" : "RO"));
        xv_put(r, "type", xv_string(wire_type));
        xv_put(r, "unpluggable", xv_bool(bool_param(x, "unpluggable", true)));
        xv_put(r, "empty", xv_bool(vdi_uuid == NULL));
        xv_put(r, "qos_algorithm_type", xv_string(""));
        xv_put(r, "qos_algorithm_params", xv_struct());
        xv_put(r, "other_config", xv_struct());
        xv_put(r, "device", xv_string(""));
        xv_put(r, "currently_attached", xv_bool(false));
        return create_and_print(x, "VBD", r);
}

/* A random locally administered unicast MAC (xe's mac=random). */
static void random_mac(char out[18])
{
        unsigned char b[6] = {0};
        if (getrandom(b, sizeof b, 0) != sizeof b)
                for (size_t i = 0; i < sizeof b; i++)
                        b[i] = (unsigned char)rand();
        b[0] = (unsigned char)((b[0] | 0x02) & ~0x01);
        snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

static int vif_create(struct xe_ctx *x)
{
        const char *device = xe_required(x, "device");
        struct xv *net = xe_ref_by_uuid(x, "network", xe_required(x, "network-uuid"));
        struct xv *vm = xe_ref_by_uuid(x, "VM", xe_required(x, "vm-uuid"));
        char mac[18];
        snprintf(mac, sizeof mac, "%s", param_or(x, "mac", ""));
        if (strcmp(mac, "random") == 0)
                random_mac(mac);
        struct xv *mtu = xe_call(x, "network.get_MTU", 1, xv_copy(net));
        struct xv *r = xv_struct();
        xv_put(r, "device", xv_string(device));
        xv_put(r, "network", net);
        xv_put(r, "VM", vm);
        xv_put(r, "MAC", xv_string(mac));
        xv_put(r, "MTU", mtu);
        xv_put(r, "other_config", xv_struct());
        xv_put(r, "currently_attached", xv_bool(false));
        xv_put(r, "qos_algorithm_type", xv_string(""));
        xv_put(r, "qos_algorithm_params", xv_struct());
        xv_put(r, "locking_mode", xv_string("network_default"));
        xv_put(r, "ipv4_allowed", xv_array());
        xv_put(r, "ipv6_allowed", xv_array());
        return create_and_print(x, "VIF", r);
}

static int network_create(struct xe_ctx *x)
{
        const char *mtu = param_or(x, "MTU", "1500");
        char *end;
        errno = 0;
        long long m = strtoll(mtu, &end, 10);
        if (errno || end == mtu || *end)
                xe_die(x, "Parameter MTU must be an integer");
        struct xv *r = xv_struct();
        xv_put(r, "name_label", xv_string(xe_required(x, "name-label")));
        xv_put(r, "name_description", xv_string(param_or(x, "name-description", "")));
        xv_put(r, "MTU", xv_int(m));
        xv_put(r, "other_config", xv_struct());
        xv_put(r, "bridge", xv_string(param_or(x, "bridge", "")));
        xv_put(r, "managed", xv_bool(bool_param(x, "managed", true)));
        xv_put(r, "tags", xv_array());
        return create_and_print(x, "network", r);
}

/* host-uuid=, or this host (the pool's master) */
static struct xv *host_param(struct xe_ctx *x)
{
        const char *uuid = xe_param(x->args, "host-uuid");
        if (uuid)
                return xe_ref_by_uuid(x, "host", uuid);
        struct xv *pools = xe_call(x, "pool.get_all", 0);
        if (pools->kind != XV_ARRAY || !pools->n)
                xe_die_usage(x, "Required parameter not found", "host-uuid");
        struct xv *master = xe_call(x, "pool.get_master", 1, xv_copy(pools->items[0]));
        xv_free(pools);
        return master;
}

static int sr_create(struct xe_ctx *x)
{
        const char *name = xe_required(x, "name-label");
        const char *type = xe_required(x, "type");
        const char *ps = xe_param(x->args, "physical-size");
        struct xv *host = host_param(x);
        struct xv *sr =
            xe_call(x, "SR.create", 9, host, map_params(x, "device-config"),
                    xv_int(ps ? bytes_param(x, "physical-size", ps) : 0), xv_string(name),
                    xv_string(param_or(x, "name-description", "")), xv_string(type),
                    xv_string(param_or(x, "content-type", "")),
                    xv_bool(bool_param(x, "shared", false)), map_params(x, "sm-config"));
        puts(xe_ref_uuid(x, "SR", xv_str(sr)));
        xv_free(sr);
        return 0;
}

static int pif_scan(struct xe_ctx *x)
{
        struct xv *host = xe_ref_by_uuid(x, "host", xe_required(x, "host-uuid"));
        xv_free(xe_call(x, "PIF.scan", 1, host));
        return 0;
}

static int vlan_create(struct xe_ctx *x)
{
        struct xv *net = xe_ref_by_uuid(x, "network", xe_required(x, "network-uuid"));
        struct xv *pif = xe_ref_by_uuid(x, "PIF", xe_required(x, "pif-uuid"));
        const char *tag = xe_param(x->args, "vlan");
        char *end = NULL;
        errno = 0;
        long long t = tag ? strtoll(tag, &end, 10) : 0;
        if (!tag || errno || end == tag || *end)
                xe_die(x, "Failed to parse parameter 'vlan': expecting an integer");
        struct xv *vlan = xe_call(x, "VLAN.create", 3, pif, xv_int(t), net);
        /* as XAPI's xe: the uuid of the new (untagged) PIF */
        struct xv *untagged = xe_call(x, "VLAN.get_untagged_PIF", 1, xv_copy(vlan));
        puts(xe_ref_uuid(x, "PIF", xv_str(untagged)));
        xv_free(untagged);
        xv_free(vlan);
        return 0;
}

static int bond_create(struct xe_ctx *x)
{
        struct xv *net = xe_ref_by_uuid(x, "network", xe_required(x, "network-uuid"));
        struct xv *members = xv_array();
        char *copy = strdup(xe_required(x, "pif-uuids")), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                xv_push(members, xe_ref_by_uuid(x, "PIF", tok));
        free(copy);
        const char *mode = param_or(x, "mode", "");
        struct xv *bond =
            xe_call(x, "Bond.create", 5, net, members, xv_string(param_or(x, "mac", "")),
                    xv_string(*mode ? mode : "balance-slb"), map_params(x, "properties"));
        puts(xe_ref_uuid(x, "Bond", xv_str(bond)));
        xv_free(bond);
        return 0;
}

int xe_object_command(struct xe_ctx *x, const char *cmd)
{
        static const struct {
                const char *name;
                int (*fn)(struct xe_ctx *);
        } cmds[] = {
            {"vdi-create", vdi_create},   {"vbd-create", vbd_create},
            {"vif-create", vif_create},   {"network-create", network_create},
            {"sr-create", sr_create},     {"pif-scan", pif_scan},
            {"vlan-create", vlan_create}, {"bond-create", bond_create},
        };
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
                if (strcmp(cmd, cmds[i].name) == 0)
                        return cmds[i].fn(x);
        return -1;
}
