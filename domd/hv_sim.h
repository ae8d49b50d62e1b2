/* Internals of the simulated hypervisor, shared by hv_sim*.c only.
 *
 * Layout under RUN_DIR/sim/ (every file replaced atomically: write a temporary, rename):
 *   host             JSON: boot id, total/dom0 memory, memory used, cpus, next domid
 *   host.lock        flock()ed around domid allocation and memory accounting
 *   domains/<domid>/ one directory per domain; mkdir() claims the domid
 *       state        JSON: the struct sim_dom below
 *       console      the guest's console, append-only
 *   by-uuid/<uuid>   symlink to "<domid>", for adoption without scanning
 * A domain's directory is flock()ed around changes to it (lock order: host, then domain).
 * Nothing is fsync()ed: the run directory does not survive a host reboot, and neither do
 * domains; a host file with another boot id makes the next opener wipe the domains.
 *
 * No process runs the guest: what it does is a function of time (hv_sim_guest.c). */
#ifndef TS_DOMD_HV_SIM_H
#define TS_DOMD_HV_SIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domd/hv.h"

#define SIM_DOMID_FIRST 1
#define SIM_DOMID_LAST  0x7fef /* DOMID_FIRST_RESERVED - 1 */

enum sim_on_request { SIM_REQ_OBEY, SIM_REQ_IGNORE, SIM_REQ_HANG };

/* One domain as stored in domains/<domid>/state. */
struct sim_dom {
        uint32_t domid;
        char uuid[UUID_STR_LEN];
        char *name;
        enum hv_domain_type type;
        uint64_t static_max, dyn_min, dyn_max, target, actual;
        unsigned vcpus_max, vcpus_online;
        char *kernel, *ramdisk, *cmdline;
        json_t *platform, *other_config; /* objects of strings */
        json_t *disks, *nics;            /* arrays of objects */
        int64_t created_rt_ms;

        /* Timeline.  Guest time advances only while the domain runs:
         * guest_now = guest_base_ns + (paused ? 0 : now - run_since_ns)  (CLOCK_MONOTONIC). */
        bool paused;
        bool started; /* unpaused once: the boot messages are on the console */
        uint64_t guest_base_ns;
        uint64_t run_since_ns;
        bool shut;                      /* shutdown, materialised */
        enum hv_shutdown_reason reason; /* when shut */
        uint64_t shut_mono_ns;
        enum hv_shutdown_reason req; /* pending cooperative request, or NONE */
        uint64_t req_guest_ns;

        /* Behaviour, from other_config at creation (0: never, for crash/reboot). */
        uint64_t boot_ns, ack_ns, halt_ns, crash_after_ns, reboot_after_ns;
        enum sim_on_request on_request;
};

/* What a domain looks like at a given moment (computed, never stored). */
struct sim_eval {
        enum hv_domain_state state;
        enum hv_shutdown_reason reason; /* when SHUTDOWN */
        bool acked;
        bool booted;
        uint64_t guest_ns;
        uint64_t shut_mono_ns; /* when SHUTDOWN */
        uint64_t next_mono_ns; /* next scheduled change; 0 when none */
};

struct sim_host {
        char boot_id[64];
        uint64_t total, dom0, used;
        unsigned nr_cpus;
        uint32_t next_domid;
};

/* One open sim handle (struct hv's priv). */
struct sim_watch {
        uint32_t domid;
        int fd;                /* read end of domains/<domid>/notify */
        bool dirty;            /* re-read at the next poll */
        bool reported;         /* LAST is valid */
        uint64_t next_mono_ns; /* next scheduled change, 0 when none */
        struct hv_domain_info last;
};

struct sim {
        char *root_path; /* RUN_DIR/sim */
        int root;        /* its directory fd */
        unsigned default_ack_ms;
        bool create_vifs;
        int epfd, timerfd; /* the watch fd is epfd; -1 until first used */
        struct sim_watch *watches;
        size_t n_watches;
};

static inline struct sim *sim_of(struct hv *h)
{
        return h->priv;
}

/* hv_sim.c: the common shape of a change to one domain: lock it, load it, settle what
 * the guest did up to now, call FN, save when FN returns > 0.  Returns FN's result
 * (0 when it was > 0) or a negative errno. */
int sim_with_domain(struct sim *s, uint32_t domid,
                    int (*fn)(struct sim *s, struct sim_dom *d, uint64_t now, void *arg),
                    void *arg);

/* hv_sim_watch.c */
int sim_watch_fd(struct hv *h);
int sim_watch_domain(struct hv *h, uint32_t domid);
int sim_unwatch_domain(struct hv *h, uint32_t domid);
int sim_poll_changes(struct hv *h, hv_change_cb cb, void *arg);
/* Wakes up whoever watches DOMID (any process): its record changed or it is going away. */
void sim_notify(int root, uint32_t domid);
void sim_watch_close(struct sim *s);

/* hv_sim_dev.c */
int sim_disk_attach(struct hv *h, uint32_t domid, const struct hv_disk *disk);
int sim_disk_detach(struct hv *h, uint32_t domid, const char *vdev);
int sim_nic_attach(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16]);
int sim_nic_detach(struct hv *h, uint32_t domid, unsigned devid);
/* Deletes the veth pairs D's NICs own (at destroy). */
void sim_nics_release(struct sim *s, const struct sim_dom *d);

/* hv_sim_suspend.c */
int sim_domain_suspend(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms);
int sim_domain_resume(struct hv *h, uint32_t domid);
/* hv_sim_core.c */
int sim_domain_dumpcore(struct hv *h, uint32_t domid, const char *path);
int sim_domain_restore(struct hv *h, const struct hv_domain_spec *spec, int fd, uint32_t *domid,
                       struct hv_mem_shortage *short_out);

/* hv_sim.c: shared by create and restore.  D is complete but for its domid; takes
 * memory D->actual from the host and claims a domid.  CONSOLE (may be NULL) starts the
 * console file.  D is not freed. */
int sim_domain_insert(struct sim *s, struct sim_dom *d, const char *console, uint32_t *domid,
                      struct hv_mem_shortage *short_out);
/* Builds a record from SPEC (no domid yet); -EINVAL when SPEC is inconsistent. */
int sim_dom_from_spec(struct sim *s, const struct hv_domain_spec *spec, struct sim_dom **out);

/* hv_sim_guest.c: the guest's behaviour as a function of time. */
uint64_t sim_now_ns(void);
void sim_guest_eval(const struct sim_dom *d, uint64_t now, struct sim_eval *out);
/* Stores what happened up to NOW (a shutdown that occurred) so that D can be changed. */
void sim_guest_settle(struct sim_dom *d, uint64_t now);
/* Reads the sim_* keys of D->other_config into the behaviour fields; DEFAULT_ACK_MS for
 * sim_ack_ms.  -EINVAL on a malformed value. */
int sim_guest_behaviour(struct sim_dom *d, unsigned default_ack_ms);
void sim_guest_info(const struct sim_dom *d, uint64_t now, struct hv_domain_info *out);

/* hv_sim_store.c: files. Paths are relative to the sim root directory fd. */
struct sim_dom *sim_dom_new(void);
void sim_dom_free(struct sim_dom *d);
/* Loads domains/<domid>/state: -ESRCH when absent, -EBADMSG when unreadable. */
int sim_dom_load(int root, uint32_t domid, struct sim_dom **out);
int sim_dom_save(int root, const struct sim_dom *d);
int sim_host_load(int root, struct sim_host *out); /* -ENOENT when absent */
int sim_host_save(int root, const struct sim_host *hst);
/* Writes BUF to PATH (relative to DIRFD) through a temporary and a rename. */
int sim_write_atomic(int dirfd, const char *path, const void *buf, size_t len);
/* flock()s PATH (a file or directory, relative to ROOT) exclusively; returns the fd to
 * pass to sim_unlock, or a negative errno (-ESRCH when a domain directory is gone). */
int sim_lock(int root, const char *path);
void sim_unlock(int fd);
/* Appends to domains/<domid>/console. */
int sim_console_append(int root, uint32_t domid, const char *text);
/* The last MAX bytes of the console; *TEXT NUL-terminated, caller frees. */
int sim_console_read(int root, uint32_t domid, size_t max, char **text, size_t *len);

/* hv_sim_image.c: suspend images.  Sample pages and a checksum stand for the memory. */
struct sim_image {
        char uuid[UUID_STR_LEN];
        uint64_t memory; /* actual at suspend */
        uint64_t static_max;
        unsigned vcpus_online;
        uint64_t guest_ns;
        bool booted_console;
        char *console; /* owned */
};
int sim_image_write(int fd, const struct sim_dom *d, uint64_t guest_ns, const char *console);
int sim_image_read(int fd, struct sim_image *out);
void sim_image_clear(struct sim_image *img);

#endif
