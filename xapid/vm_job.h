/* A VM operation that runs one storage request per disk, one after the other (VM.clone, copy,
 * snapshot, revert, provision), then changes the datamodel at once.  Like XAPI's
 * safe_clone_disks: when a disk fails, the disks made so far are destroyed again and the call
 * fails with that disk's error.  The VM carries the operation in current_operations while it
 * runs, so conflicting calls get OTHER_OPERATION_IN_PROGRESS. */
#ifndef TS_XAPID_VM_JOB_H
#define TS_XAPID_VM_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct xapi;
struct api_ctx;
struct api_VDI;
struct rpc_req;
struct rpc_writer;

enum vm_step_kind { STEP_KEEP, STEP_CLONE, STEP_SNAPSHOT, STEP_COPY, STEP_CREATE };

struct vm_step {
        enum vm_step_kind kind;
        char *vbd;              /* the source VBD (NULL for STEP_CREATE) */
        char *vdi;              /* the source VDI; KEEP: the VDI kept as is (or NULL) */
        char *sr;               /* COPY: the target SR (NULL: the source's) */
        struct api_VDI *create; /* CREATE: the new VDI's record (taken by the job) */
        char *device;           /* CREATE: userdevice */
        bool bootable;          /* CREATE */
        char *result;           /* the VDI the new VBD will use (owned) */
};

struct vm_job;
/* Runs after every disk made (provision: its VBD).  */
typedef void (*vm_job_step_fn)(struct vm_job *j, struct vm_step *s);
/* Runs once every disk is made: the datamodel change.  Returns 0 (optionally with
 * j->result set) or < 0 with ERR set (the disks made are destroyed). */
typedef int (*vm_job_finish_fn)(struct vm_job *j, struct api_error *err);

struct vm_job {
        struct xapi *x;
        struct rpc_req *req; /* NULL once the caller went away */
        char *vm;            /* the VM marked with the operation */
        char opkey[80];      /* its current_operations key */
        struct vm_step *steps;
        size_t n, i;
        char **made; /* VDIs made so far (destroyed on failure) */
        size_t n_made;
        char **drop; /* VDIs to destroy after success (revert: the disks replaced) */
        size_t n_drop;
        size_t dropping;
        int r;
        struct api_error err;
        char *result; /* the ref answered, or NULL for void */
        vm_job_step_fn on_step;
        vm_job_finish_fn finish;
        char *name;              /* clone/copy/snapshot: the new VM's name */
        int op;                  /* API_VM_OPERATIONS_* */
        char *task;              /* the calling task's ref, or NULL */
        bool starting, answered; /* finished within vm_job_start */
};

/* A job for VM (already checked) and OP, for the call CTX. */
struct vm_job *vm_job_new(struct api_ctx *ctx, const char *vm, int op);
struct vm_step *vm_job_add(struct vm_job *j, enum vm_step_kind kind);
/* Marks the VM and starts the disks; the handler returns what this returns.  When the job
 * ends at once (no disk to make, or a failure before any request) the answer is written
 * into W / ERR now; otherwise CTX's call is deferred and answered when the job ends. */
int vm_job_start(struct api_ctx *ctx, struct vm_job *j, struct rpc_writer *w,
                 struct api_error *err);
/* Schedules VDI for destruction once finish succeeded. */
void vm_job_drop(struct vm_job *j, const char *vdi);

#endif
