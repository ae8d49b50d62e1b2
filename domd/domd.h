/* domd's shared state: one VM, at most one domain (see main.c for the life of the process,
 * serve.c for the requests xapid sends, proto/dom.proto for the wire). */
#ifndef TS_DOMD_DOMD_H
#define TS_DOMD_DOMD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/daemon.h"
#include "common/msg.h"
#include "domd/hv.h"
#include "proto/dom.pb-c.h"

#define DOMD_MAX_DEVS 16

/* A clean shutdown or reboot waiting for the guest. */
struct domd_wait {
        bool active;
        bool reboot;
        struct msg_origin from;
        uint64_t ack_deadline_ms, deadline_ms; /* CLOCK_MONOTONIC */
        unsigned timeout_ms;
        Ts__Dom__Spec *spec; /* reboot: what to build again (owned, unpacked copy) */
};

struct domd {
        struct daemon d;
        struct hv *hv;
        char uuid[UUID_STR_LEN];
        bool have_domain;
        uint32_t domid;
        time_t started;
        char name[128];        /* the VM's name_label, from the last Build */
        char domain_type[8];   /* "pv", "pvh", "hvm" */
        char state_path[4096]; /* RUN_DIR/domd/<uuid>.state */
        char pid_path[4096];   /* RUN_DIR/domd/<uuid>.pid */
        struct event *watch_ev;
        struct event *poll_ev; /* instead of watch_ev when the backend cannot watch */
        struct event *timer;   /* the deadline of wait, and the idle exit */
        struct event *exit_ev;
        struct domd_wait wait;
        /* what was last reported to xapid (events are sent on changes only) */
        enum hv_domain_state last_state;
        enum hv_shutdown_reason last_reason;
        bool reported;
        unsigned idle_exit_ms;
        /* attached devices, for status and `devices` */
        char vdevs[DOMD_MAX_DEVS][16];
        char vbd_uuids[DOMD_MAX_DEVS][40];
        unsigned n_disks;
        uint32_t nics[DOMD_MAX_DEVS];
        char vif_uuids[DOMD_MAX_DEVS][40];
        char nic_ifnames[DOMD_MAX_DEVS][16];
        unsigned n_nics;
        /* a spare (main.c): started before any VM needs it, it becomes one VM's domd when
         * xapid sends it that VM's Build */
        bool spare;
};

/* serve.c */
void domd_register_handlers(struct domd *m);
/* The Build request's handler (a spare calls it once it has taken the VM's identity). */
int domd_on_build(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body,
                  void *arg);
/* The domain's status as a reply; the strings it points to live in M or are static. */
void domd_status(struct domd *m, Ts__Dom__Status *st, char state_buf[16], char reason_buf[16]);
/* Called by the watch for every change of the domain (INFO NULL: it is gone). */
void domd_domain_changed(struct domd *m, const struct hv_domain_info *info);
/* The domain was destroyed (by request): forget it, save, exit soon. */
void domd_forget_domain(struct domd *m, bool exit_soon);

/* main.c */
void domd_save_state(struct domd *m);
void domd_set_title(struct domd *m);
void domd_arm_timer(struct domd *m);
void domd_watch_domain(struct domd *m);
/* A spare takes VM UUID's identity: files, control socket, title, and any domain of the VM
 * left behind (adopted).  Returns 0 or -EINVAL. */
int domd_become(struct domd *m, const char *uuid);

/* coredump.c: the Coredump request (proto/dom.proto). */
void domd_coredump_register(struct domd *m);

/* spare.c */
/* True for a spare's instance name: "spare-" and 8 hex digits. */
bool domd_spare_name_ok(const char *name);
/* A spare listens for the Build that gives it its VM, and exits when it loses xapid before
 * that. */
void domd_spare_init(struct domd *m);

#endif
