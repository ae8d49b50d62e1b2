/* The hypervisor interface of domd: one ops table, two backends (ARCHITECTURE §5).
 *
 *   sim  domd/hv_sim*.c: simulated domains kept in files under RUN_DIR/sim/
 *   xc   domd/hv_xc.c:   libxenctrl + libxenguest + libxenstore (not written yet)
 *
 * A `struct hv` is one open handle; it is not thread-safe (use one handle per thread).
 * Every function returns 0 or a negative errno; -ESRCH means "no such domain".
 * Sizes are bytes, times nanoseconds unless the name says otherwise.  Strings passed in
 * are borrowed for the duration of the call; strings returned are owned by the caller
 * (free()) unless the comment says otherwise. */
#ifndef TS_DOMD_HV_H
#define TS_DOMD_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/uuid.h"

struct hv;

enum hv_domain_type { HV_TYPE_PV, HV_TYPE_PVH, HV_TYPE_HVM };

/* Values are Xen's SHUTDOWN_* codes (xen/include/public/sched.h). */
enum hv_shutdown_reason {
        HV_SHUTDOWN_NONE = -1,
        HV_SHUTDOWN_POWEROFF = 0,
        HV_SHUTDOWN_REBOOT = 1,
        HV_SHUTDOWN_SUSPEND = 2,
        HV_SHUTDOWN_CRASH = 3,
        HV_SHUTDOWN_WATCHDOG = 4,
};

enum hv_domain_state {
        HV_STATE_PAUSED,   /* built, or paused by the toolstack */
        HV_STATE_RUNNING,  /* scheduled */
        HV_STATE_SHUTDOWN, /* the guest stopped; see shutdown_reason; still holds memory */
        HV_STATE_DYING,    /* being destroyed */
};

struct hv_kv {
        const char *key;
        const char *value;
};

/* A borrowed list of string pairs (VM.platform, VM.other_config). */
struct hv_map {
        const struct hv_kv *items;
        size_t n;
};

/* What domain_create needs.  All borrowed for the call.
 * Sim behaviours read from other_config (all optional):
 *   sim_boot_ms=N          guest time until the guest is booted (default 20)
 *   sim_ack_ms=N           delay before a booted guest acknowledges a shutdown request
 *                          (default from hv_config.sim_ack_ms, else 50)
 *   sim_halt_ms=N          delay from acknowledgement to the shutdown itself (default 50)
 *   sim_shutdown=ignore    never acknowledge a shutdown request
 *   sim_shutdown=hang      acknowledge, but never shut down
 *   sim_crash_after_ms=N   crash by itself after N ms of guest time
 *   sim_reboot_after_ms=N  reboot by itself after N ms of guest time
 * Guest time only advances while the domain runs, so a paused guest does nothing. */
struct hv_domain_spec {
        char uuid[UUID_STR_LEN];
        const char *name;
        enum hv_domain_type type;
        uint64_t memory_static_max;
        uint64_t memory_dynamic_min;
        uint64_t memory_dynamic_max; /* the initial target and allocation */
        unsigned vcpus_max;
        unsigned vcpus_at_startup;
        const char *kernel; /* NULL or "" when the VM has none (HVM) */
        const char *ramdisk;
        const char *cmdline;
        struct hv_map platform;
        struct hv_map other_config;
        /* VM.xenstore_data: keys under "vm-data/" are written below the guest's
         * /local/domain/<domid>/ at creation (xc); others are ignored, as in XAPI. */
        struct hv_map xenstore_data;
};

/* Filled when domain_create or restore fails with -ENOMEM: the figures of XAPI's
 * HOST_NOT_ENOUGH_FREE_MEMORY(needed, available). */
struct hv_mem_shortage {
        uint64_t needed;
        uint64_t available;
};

struct hv_domain_info {
        uint32_t domid;
        char uuid[UUID_STR_LEN];
        char name[128]; /* truncated */
        enum hv_domain_type type;
        enum hv_domain_state state;
        enum hv_shutdown_reason shutdown_reason; /* when state == HV_STATE_SHUTDOWN */
        enum hv_shutdown_reason pending_request; /* cooperative request not yet completed */
        bool request_acked;                      /* the guest acknowledged pending_request */
        bool booted;                             /* the guest finished booting (sim) */
        uint64_t memory_actual;
        uint64_t memory_target;
        uint64_t memory_static_max;
        unsigned vcpus_max;
        unsigned vcpus_online;
        uint64_t cpu_time_ns;
        int64_t start_time_ms; /* wall clock (ms since the epoch) when it was created */
        unsigned n_disks;
        unsigned n_nics;
};

struct hv_host_info {
        char backend[8];             /* "sim" or "xc" */
        char hypervisor_name[16];    /* "xen", or "xen-sim" */
        char hypervisor_version[64]; /* for host.software_version */
        uint64_t total_memory;
        uint64_t free_memory;
        unsigned nr_cpus;
        char cpu_vendor[64];
        char cpu_model[128];
        char cpu_flags[1024];
        unsigned cpu_speed_mhz;
};

struct hv_disk {
        const char *vdev;         /* "xvda", "hda", "51712" */
        const char *backend_path; /* what stord returned: a file, block device, … */
        bool read_only;
        bool cdrom;
        /* "raw", "qcow2"; NULL or "": the image decides.  Last, so that objects built
         * before it (tests/helpers have no header dependencies) keep their layout. */
        const char *format;
};

struct hv_nic {
        unsigned devid;
        const char *mac;    /* "aa:bb:cc:dd:ee:ff" */
        const char *bridge; /* for the record; netd plugs the interface */
        unsigned mtu;       /* 0: default */
};

struct hv_config {
        const char *backend; /* "auto" or NULL, "sim", "xc" */
        const char *run_dir; /* sim keeps RUN_DIR/sim/; required for sim */
        /* Where to look for /proc/xen/capabilities and /dev/xen/privcmd ("" or NULL: /). */
        const char *probe_root;
        /* sim host; 0 means the default or what the host file already says */
        uint64_t sim_total_memory; /* default 16 GiB */
        uint64_t sim_dom0_memory;  /* reserved for dom0, default 1 GiB */
        unsigned sim_nr_cpus;      /* default: this machine's */
        unsigned sim_ack_ms;       /* default acknowledgement delay, default 50 */
        /* When root, nic_attach creates a veth pair vif<domid>.<devid> / vifp<domid>.<devid>
         * for netd to bridge; otherwise the NIC is only recorded. */
        bool sim_create_vifs;
};

/* Called by hv_poll_changes for each watched domain whose info changed; INFO is NULL
 * when the domain no longer exists.  INFO is borrowed for the call. */
typedef void (*hv_change_cb)(void *arg, uint32_t domid, const struct hv_domain_info *info);

/* The backend's table; every entry may be NULL (then the call fails with -EOPNOTSUPP). */
struct hv_ops {
        const char *name;
        int (*open)(struct hv *h, const struct hv_config *cfg);
        void (*close)(struct hv *h);
        int (*host_info)(struct hv *h, struct hv_host_info *out);
        int (*domain_create)(struct hv *h, const struct hv_domain_spec *spec, uint32_t *domid,
                             struct hv_mem_shortage *short_out);
        int (*domain_destroy)(struct hv *h, uint32_t domid);
        int (*domain_pause)(struct hv *h, uint32_t domid);
        int (*domain_unpause)(struct hv *h, uint32_t domid);
        int (*domain_shutdown)(struct hv *h, uint32_t domid, enum hv_shutdown_reason reason);
        int (*domain_info)(struct hv *h, uint32_t domid, struct hv_domain_info *out);
        int (*domain_find)(struct hv *h, const char *uuid, uint32_t *domid);
        int (*domain_list)(struct hv *h, struct hv_domain_info **out, size_t *n);
        int (*set_memory_target)(struct hv *h, uint32_t domid, uint64_t bytes,
                                 struct hv_mem_shortage *short_out);
        int (*set_vcpus_online)(struct hv *h, uint32_t domid, unsigned n);
        int (*domain_suspend)(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms);
        int (*domain_resume)(struct hv *h, uint32_t domid);
        int (*domain_restore)(struct hv *h, const struct hv_domain_spec *spec, int fd,
                              uint32_t *domid, struct hv_mem_shortage *short_out);
        int (*console_read)(struct hv *h, uint32_t domid, char **text, size_t *len);
        int (*disk_attach)(struct hv *h, uint32_t domid, const struct hv_disk *disk);
        int (*disk_detach)(struct hv *h, uint32_t domid, const char *vdev);
        int (*nic_attach)(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16]);
        int (*nic_detach)(struct hv *h, uint32_t domid, unsigned devid);
        int (*watch_fd)(struct hv *h);
        int (*watch_domain)(struct hv *h, uint32_t domid);
        int (*unwatch_domain)(struct hv *h, uint32_t domid);
        int (*poll_changes)(struct hv *h, hv_change_cb cb, void *arg);
        int (*domain_dumpcore)(struct hv *h, uint32_t domid, const char *path);
};

/* The handle; backends keep their state behind priv. */
struct hv {
        const struct hv_ops *ops;
        void *priv;
};

extern const struct hv_ops hv_sim_ops;
#ifdef HV_HAVE_XC
extern const struct hv_ops hv_xc_ops;
#endif

/* Opens the backend CFG->backend names; "auto" (or NULL) picks xc when
 * PROBE_ROOT/proc/xen/capabilities or PROBE_ROOT/dev/xen/privcmd exists, else sim, and
 * logs the choice.  -ENOTSUP when xc is wanted but not compiled in.  Caller closes. */
int hv_open(const struct hv_config *cfg, struct hv **out);
/* The same with the backend forced to "auto". */
int hv_open_auto(const struct hv_config *cfg, struct hv **out);
/* True when the xc backend is compiled in. */
bool hv_have_xc(void);
/* "sim" or "xc". */
const char *hv_backend_name(const struct hv *h);
void hv_close(struct hv *h);

int hv_host_info(struct hv *h, struct hv_host_info *out);

/* Builds a paused domain.  -ENOMEM (SHORT_OUT filled when not NULL) when the host lacks
 * memory, -EEXIST when a domain with this uuid exists, -EINVAL for a bad spec. */
int hv_domain_create(struct hv *h, const struct hv_domain_spec *spec, uint32_t *domid,
                     struct hv_mem_shortage *short_out);
/* Destroys the domain at once, whatever its state; its memory is returned to the host. */
int hv_domain_destroy(struct hv *h, uint32_t domid);
int hv_domain_pause(struct hv *h, uint32_t domid);
int hv_domain_unpause(struct hv *h, uint32_t domid);
/* Asks the guest to shut down (POWEROFF, REBOOT or SUSPEND): returns once the request is
 * delivered.  Whether the guest acknowledged it, and when it shut down, shows in
 * hv_domain_info (pending_request, request_acked, state) and through the watch. */
int hv_domain_shutdown(struct hv *h, uint32_t domid, enum hv_shutdown_reason reason);
int hv_domain_info(struct hv *h, uint32_t domid, struct hv_domain_info *out);
/* Finds a live domain by VM uuid (adoption after a restart).  -ESRCH when none. */
int hv_domain_find(struct hv *h, const char *uuid, uint32_t *domid);
/* Every domain of the host; *OUT is an array the caller frees. */
int hv_domain_list(struct hv *h, struct hv_domain_info **out, size_t *n);
/* Sets the balloon target; -ENOMEM when growing beyond free memory, -EINVAL above
 * static max. */
int hv_set_memory_target(struct hv *h, uint32_t domid, uint64_t bytes,
                         struct hv_mem_shortage *short_out);
/* -EINVAL when N is 0 or above vcpus_max. */
int hv_set_vcpus_online(struct hv *h, uint32_t domid, unsigned n);

/* Blocking: asks the guest to suspend, waits up to TIMEOUT_MS for it (-ETIMEDOUT, the
 * request withdrawn), then writes the image to FD (a file, pipe or socket; left open).
 * On success the domain is in shutdown(suspend): destroy it, or hv_domain_resume it. */
int hv_domain_suspend(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms);
/* Writes a core dump of the domain's memory to PATH (created or truncated); the domain is
 * left as it is (a crashed guest stays crashed).  xc: xc_domain_dumpcore (an ELF core).
 * sim: a header page (see hv_sim_core.c) followed by the memory image. */
int hv_domain_dumpcore(struct hv *h, uint32_t domid, const char *path);
/* Lets a domain in shutdown(suspend) run on (a cancelled suspend or a checkpoint). */
int hv_domain_resume(struct hv *h, uint32_t domid);
/* Builds a paused domain from an image read from FD.  -EBADMSG when the image is corrupt
 * or truncated, -EINVAL when it does not belong to SPEC (uuid, memory). */
int hv_domain_restore(struct hv *h, const struct hv_domain_spec *spec, int fd, uint32_t *domid,
                      struct hv_mem_shortage *short_out);

/* The text the guest wrote to its console (the last 64 KiB at most); *TEXT is
 * NUL-terminated, caller frees. */
int hv_console_read(struct hv *h, uint32_t domid, char **text, size_t *len);

/* Device hooks: backend-side plumbing of a disk or NIC.  -EEXIST when already attached,
 * -ENOENT on detach of a device that is not attached.  IFNAME receives the name of the
 * backend interface netd has to bridge ("vif<domid>.<devid>"). */
int hv_disk_attach(struct hv *h, uint32_t domid, const struct hv_disk *disk);
int hv_disk_detach(struct hv *h, uint32_t domid, const char *vdev);
int hv_nic_attach(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16]);
int hv_nic_detach(struct hv *h, uint32_t domid, unsigned devid);

/* Watching: an fd to poll for POLLIN (owned by the handle), the domains to watch, and
 * hv_poll_changes to call when it is readable: it calls CB for each watched domain whose
 * info changed since it was last reported (and once right after watch_domain). */
int hv_watch_fd(struct hv *h);
int hv_watch_domain(struct hv *h, uint32_t domid);
int hv_unwatch_domain(struct hv *h, uint32_t domid);
int hv_poll_changes(struct hv *h, hv_change_cb cb, void *arg);

const char *hv_shutdown_reason_name(enum hv_shutdown_reason r);
const char *hv_domain_state_name(enum hv_domain_state s);
const char *hv_domain_type_name(enum hv_domain_type t);
/* Parses "pv", "pvh", "hvm"; -EINVAL otherwise. */
int hv_domain_type_from_name(const char *s, enum hv_domain_type *out);

#endif
