/* Whether a VM operation may run, as XAPI decides it (xapi_vm_lifecycle.ml), and the
 * VM.allowed_operations that follow.  Pure functions of a VM record: no store, no I/O.
 *
 * Checks, in XAPI's order: blocked_operations (OPERATION_BLOCKED [vm, reason]) → power
 * state (VM_BAD_POWER_STATE [vm, expected, actual], lowercase states, several expected
 * states joined by ", ") → other operations in progress (OTHER_OPERATION_IN_PROGRESS
 * ["VM", vm, op, task]) → template (VM_IS_TEMPLATE [vm, op]) → snapshot (VM_IS_SNAPSHOT
 * [vm, op]) → provision/revert on the wrong kind of VM (PROVISION_ONLY_ALLOWED_ON_TEMPLATE,
 * REVERT_ONLY_ALLOWED_ON_SNAPSHOT) → the control domain (OPERATION_NOT_ALLOWED [reason]).
 * The one implementation for every VM operation, lifecycle (vm_lifecycle.c, vm_devices.c)
 * and storage (vm_clone.c, vm_create.c, vm_disks.c) alike. */
#ifndef TS_XAPID_VM_CHECKS_H
#define TS_XAPID_VM_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/model_gen.h"

struct api_error;

/* XAPI's lower-case power state name ("halted", "running" ...). */
const char *vm_power_name(int power_state);

/* XAPI's default-template test: is_default_template, or other_config:default_template true. */
bool vm_is_default_template(const struct api_VM *vm);

/* Bit (1 << API_VM_POWER_STATE_x) for each power state in which OP may run. */
unsigned vm_op_power_states(int op, const struct api_VM *vm);

/* 0 when OP is allowed on VM (REF is its ref, for the error); else a negative errno with
 * ERR set: -EBUSY when only operations in progress stand in the way (the caller may wait),
 * -EINVAL otherwise. */
int vm_check_op(const char *ref, const struct api_VM *vm, int op, struct api_error *err);

/* Recomputes VM->allowed_operations; returns true when it changed. */
bool vm_update_allowed_ops(const char *ref, struct api_VM *vm);

/* The reboot-loop rule: a guest that reboots or crashes into an automatic restart more than
 * VM_RESTART_LIMIT times within VM_RESTART_WINDOW_MS is not restarted again: it is halted
 * instead (and a warning logged), as an operator would want for a guest in a boot loop. */
#define VM_RESTART_LIMIT     10
#define VM_RESTART_WINDOW_MS 60000

struct vm_restart_history {
        int64_t at_ms[VM_RESTART_LIMIT]; /* a ring of the latest restarts */
        unsigned n, next;
};

/* Records a restart at NOW_MS if the rule allows it; returns false when it does not. */
bool vm_restart_allowed(struct vm_restart_history *h, int64_t now_ms);

#endif
