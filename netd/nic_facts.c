/* NIC facts from sysfs (see nic_facts.h). */
#include "netd/nic_facts.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first line of /sys/class/net/NAME/FILE into BUF, or false. */
static bool read_line(const char *name, const char *file, char *buf, size_t len)
{
        char path[128];
        snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, file);
        FILE *f = fopen(path, "r");
        if (f == NULL)
                return false;
        bool ok = fgets(buf, (int)len, f) != NULL;
        fclose(f);
        if (ok)
                buf[strcspn(buf, "\n")] = '\0';
        return ok;
}

/* "0x8086" -> "8086" */
static void hex_id(const char *name, const char *file, char *out, size_t len)
{
        char buf[32];
        out[0] = '\0';
        if (!read_line(name, file, buf, sizeof(buf)))
                return;
        const char *id = strncmp(buf, "0x", 2) == 0 ? buf + 2 : buf;
        size_t n = strlen(id);
        if (n >= len)
                n = len - 1;
        memcpy(out, id, n);
        out[n] = '\0';
}

void nic_facts_read(const char *name, bool carrier, struct nic_facts *out)
{
        memset(out, 0, sizeof(*out));
        out->speed = -1;
        out->duplex = -1;
        char buf[64];
        if (carrier && read_line(name, "speed", buf, sizeof(buf))) {
                long long v = strtoll(buf, NULL, 10);
                out->speed = v > 0 ? v : -1;
        }
        if (carrier && read_line(name, "duplex", buf, sizeof(buf)))
                out->duplex = strcmp(buf, "full") == 0 ? 1 : strcmp(buf, "half") == 0 ? 0 : -1;
        hex_id(name, "device/vendor", out->vendor_id, sizeof(out->vendor_id));
        hex_id(name, "device/device", out->device_id, sizeof(out->device_id));
        char path[128], target[PATH_MAX];
        snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n > 0 && out->vendor_id[0] != '\0') { /* a PCI device: its bus address */
                target[n] = '\0';
                snprintf(out->pci_bus_path, sizeof(out->pci_bus_path), "%s", basename(target));
        }
}

bool nic_facts_equal(const struct nic_facts *a, const struct nic_facts *b)
{
        return a->speed == b->speed && a->duplex == b->duplex &&
               strcmp(a->vendor_id, b->vendor_id) == 0 && strcmp(a->device_id, b->device_id) == 0 &&
               strcmp(a->pci_bus_path, b->pci_bus_path) == 0;
}
