/* Internals of the Xen backend (libxenctrl + libxenguest + libxenstore), shared by
 * domd/hv_xc*.c only.
 *
 * What the backend keeps in xenstore for a domain D of VM U (the guest reads the first):
 *   /local/domain/D/          name, domid, vm, memory/{static-max,target,dynamic-*},
 *                             cpu/N/availability, console/, store/, platform/, and the
 *                             dirs the guest owns: control/, data/, device/, vm-data/, ...
 *   /vm/U/                    dom0 only: uuid, name, type, start-time, shutdown-request
 *   /local/domain/0/backend/{vbd,qdisk,vif}/D/<devid>   the device backends (qdisk: QEMU)
 *   /local/domain/0/device-model/D/{state,ts-pid}      the domain's QEMU, when it has one
 * xenconsoled logs each guest's console to <console dir>/guest-<name>.log. */
#ifndef TS_DOMD_HV_XC_H
#define TS_DOMD_HV_XC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xenctrl.h>
#include <xenguest.h>
#include <xenstore.h>

#include "domd/hv.h"

struct xc_watch {
        uint32_t domid;
        bool reported;
        struct hv_domain_info last;
};

/* A device model (QEMU serving qdisk backends) started for a domain. */
struct xc_dm {
        uint32_t domid;
        pid_t pid;
};

struct xcb {
        xc_interface *xch;
        struct xs_handle *xs;  /* requests */
        struct xs_handle *xsw; /* watches only, so replies and events never mix; NULL until used */
        const char *console_dir;
        struct xc_watch *watches;
        size_t n_watches;
        struct xc_dm *dms;
        size_t n_dms;
};

static inline struct xcb *xcb_of(struct hv *h)
{
        return h->priv;
}

/* hv_xc_store.c: small xenstore helpers; paths are printf formats. */
int xcs_write(struct xcb *x, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The node's value (caller frees) or NULL when absent. */
char *xcs_read(struct xcb *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xcs_rm(struct xcb *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes PATH and sets its permissions: owned by OWNER, readable by READER (nobody else
 * when READER is the owner). */
int xcs_mkdir_perm(struct xcb *x, const char *path, uint32_t owner, uint32_t reader);
/* Number of entries of a directory (0 when absent). */
unsigned xcs_count(struct xcb *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The VM path (/vm/<uuid>) of DOMID, caller frees; NULL when the domain is not ours. */
char *xcs_vm_path(struct xcb *x, uint32_t domid);

/* hv_xc_build.c */
int xc_be_domain_create(struct hv *h, const struct hv_domain_spec *spec, uint32_t *domid,
                        struct hv_mem_shortage *short_out);
/* The common first half of create and restore: checks SPEC and the host, creates the empty
 * paused domain with its limits and its two event channels. */
struct xc_new_dom {
        uint32_t domid;
        uint32_t store_port, console_port;
        uint64_t static_max_kib, target_kib;
};
int xc_be_domain_prepare(struct xcb *x, const struct hv_domain_spec *spec, struct xc_new_dom *nd,
                         struct hv_mem_shortage *short_out);
/* The common second half: the xenstore tree, then xs_introduce_domain. */
int xc_be_domain_publish(struct xcb *x, const struct hv_domain_spec *spec,
                         const struct xc_new_dom *nd, unsigned long store_mfn,
                         unsigned long console_mfn);

/* hv_xc_ctl.c */
int xc_be_domain_shutdown(struct hv *h, uint32_t domid, enum hv_shutdown_reason reason);
int xc_be_set_memory_target(struct hv *h, uint32_t domid, uint64_t bytes,
                            struct hv_mem_shortage *short_out);
int xc_be_set_vcpus_online(struct hv *h, uint32_t domid, unsigned n);
int xc_be_console_read(struct hv *h, uint32_t domid, char **text, size_t *len);

/* hv_xc_dev.c */
int xc_be_disk_attach(struct hv *h, uint32_t domid, const struct hv_disk *disk);
int xc_be_disk_detach(struct hv *h, uint32_t domid, const char *vdev);
int xc_be_nic_attach(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16]);
int xc_be_nic_detach(struct hv *h, uint32_t domid, unsigned devid);
/* Removes every backend of DOMID (after its destruction) and frees their loop devices. */
void xc_be_devices_release(struct xcb *x, uint32_t domid);

/* hv_xc_qdisk.c: the domain's QEMU for its qdisk backends. */
/* Starts it unless it runs, and waits until it serves backends. */
int xc_qdisk_ensure(struct xcb *x, uint32_t domid);
/* Kills it (if any) and forgets it. */
void xc_qdisk_stop(struct xcb *x, uint32_t domid);
/* Reaps device models that died, logs it and marks their state "dead". */
void xc_qdisk_check(struct xcb *x);
void xc_qdisk_close(struct xcb *x);

/* hv_xc_watch.c */
int xc_be_watch_fd(struct hv *h);
int xc_be_watch_domain(struct hv *h, uint32_t domid);
int xc_be_unwatch_domain(struct hv *h, uint32_t domid);
int xc_be_poll_changes(struct hv *h, hv_change_cb cb, void *arg);
void xc_be_watch_close(struct xcb *x);

/* hv_xc_suspend.c */
int xc_be_domain_suspend(struct hv *h, uint32_t domid, int fd, unsigned timeout_ms);
int xc_be_domain_resume(struct hv *h, uint32_t domid);
int xc_be_domain_restore(struct hv *h, const struct hv_domain_spec *spec, int fd, uint32_t *domid,
                         struct hv_mem_shortage *short_out);

/* hv_xc.c */
/* Xen's view of DOMID: -ESRCH when there is no such domain. */
int xc_be_getinfo(struct xcb *x, uint32_t domid, xc_domaininfo_t *out);
/* The live domain of VM UUID: -ESRCH when none. */
int xc_be_find(struct xcb *x, const char *uuid, uint32_t *domid);
/* Free host memory in bytes. */
uint64_t xc_be_free_memory(struct xcb *x);
/* Destroys DOMID and forgets its xenstore tree and devices (UUID: its VM, when known). */
void xc_be_domain_discard(struct xcb *x, uint32_t domid, const char *uuid);
/* The text form of a uuid from Xen's handle and back. */
void xc_be_handle_to_uuid(const xen_domain_handle_t h, char out[UUID_STR_LEN]);
int xc_be_uuid_to_handle(const char *uuid, xen_domain_handle_t out);

#endif
