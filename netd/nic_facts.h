/* What sysfs tells of a NIC beyond netlink, for PIF_metrics: speed, duplex, PCI identity.
 * sysfs shows the namespace of whoever mounted it: netd reads it from inside its own
 * namespace (`ip netns exec` remounts /sys), and a veth or a NIC without a driver answer
 * simply leaves the fields unknown. */
#ifndef TS_NETD_NIC_FACTS_H
#define TS_NETD_NIC_FACTS_H

#include <stdbool.h>

struct nic_facts {
        long long speed;       /* Mbit/s, -1 unknown (no carrier, veth) */
        int duplex;            /* 1 full, 0 half, -1 unknown */
        char vendor_id[16];    /* "8086" ("" unknown) */
        char device_id[16];    /* "10d3" */
        char pci_bus_path[32]; /* "0000:03:00.0" */
};

/* Reads the facts of NIC NAME; speed and duplex only mean something with CARRIER. */
void nic_facts_read(const char *name, bool carrier, struct nic_facts *out);
bool nic_facts_equal(const struct nic_facts *a, const struct nic_facts *b);

#endif
