/* The VM lifecycle through the XenAPI: VM.start, pause, shutdown, reboot, suspend, resume …
 * carried out by one domd per VM (proto/dom.proto), and the datamodel kept true from what
 * the domds report.
 *
 * Every call is checked as XAPI checks it (vm_checks.h); a call that conflicts only with an
 * operation in progress waits up to vm.operation_wait for it before failing with
 * OTHER_OPERATION_IN_PROGRESS.  While it runs, the call is in VM.current_operations under
 * its task (Async) or a fresh ref, and allowed_operations is recomputed after every change.
 * xapid starts the VM's domd when the VM needs one (domd_spawn.h) and waits for it to say
 * Hello before sending the request.  What a domd reports by itself (the guest shut down,
 * rebooted, crashed; the domain vanished) is handled by the VM's actions_after_*.
 *
 * Restarts: a domd's Hello carries its domain's state, so after xapid restarts the VMs are
 * reconciled from the Hellos of their domds; a Running VM whose domd does not announce
 * itself within vm.reconcile_grace gets a new domd, which adopts the domain or reports it
 * gone (the VM becomes Halted).  A domd that dies is restarted the same way. */
#ifndef TS_XAPID_VM_LIFECYCLE_H
#define TS_XAPID_VM_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

struct xapi;
struct msg_peer_info;

struct vms_config {
        unsigned operation_wait_ms;   /* how long a conflicting call waits */
        unsigned shutdown_timeout_ms; /* clean shutdown/reboot: whole wait */
        unsigned ack_timeout_ms;      /* clean shutdown/reboot: the guest's acknowledgement */
        unsigned domd_connect_ms;     /* a started domd must say Hello within this */
        unsigned reconcile_grace_ms;  /* after xapid's start */
        const char *domd_path;        /* NULL: next to xapid */
        const char *domd_config;      /* domd's configuration file, if it exists */
        bool use_systemd;             /* systemctl start domd@UUID */
        const char *run_dir, *state_dir, *log_level;
        uint64_t sim_host_memory;
        unsigned domd_heartbeat_ms; /* passed to the domds */
        unsigned domd_idle_ping_ms; /* passed to the domds (0: they ping every heartbeat) */
        unsigned domd_spares;       /* idle domds kept started for the next starts */
        bool domd_zygote;           /* fork domds from `domd --zygote` */
};

/* Allocates x->vms and starts watching domd messages on x->msg.  Returns 0 or -errno. */
int vms_init(struct xapi *x, const struct vms_config *cfg);
void vms_free(struct xapi *x);

/* A domd peer came up (UP 1, its Hello) or went silent (UP 0). */
void vms_domd_peer(struct xapi *x, const struct msg_peer_info *peer, int up);

/* Calls DONE once every VM xapid believes Running or Paused here has been reconciled with
 * its domd (or the grace period is over): xapid reports ready only then. */
void vms_when_reconciled(struct xapi *x, void (*done)(void *arg), void *arg);

/* An operation done elsewhere (vm_job.c: clone, copy, snapshot, revert, provision) left the
 * current_operations of VM UUID: lifecycle calls waiting for it get their turn now rather
 * than at the end of their wait. */
void vms_operation_ended(struct xapi *x, const char *uuid);

/* For device and live changes (vm_devices.c): sends BODY to the domd of VM UUID, whose
 * reply (a ts.dom.Status) goes to CB.  -EHOSTUNREACH when that domd is not connected. */
struct ProtobufCMessage;
int vms_domd_request(struct xapi *x, const char *uuid, const struct ProtobufCMessage *body,
                     void (*cb)(int status, const struct ProtobufCMessage *reply,
                                const char *errtext, void *arg),
                     void *arg);

#endif
