/* Helpers shared by the VM and VBD operations of the storage side (templates.c, vm_create.c,
 * vm_disks.c, vm_clone.c, vbd.c): record fields, the current_operations marks of a running
 * operation, and the rows that come with a VM.  The checks themselves are vm_checks.h's. */
#ifndef TS_XAPID_VM_UTIL_H
#define TS_XAPID_VM_UTIL_H

#include <stdbool.h>

#include "api/model_gen.h"

struct xapi;
struct db;
struct db_row;
struct api_ctx;
struct api_error;
struct rpc_value;

#define VMU_NULL_REF "OpaqueRef:NULL"

/* Replaces the string in *SLOT by a copy of V (NULL: ""). */
void vmu_set_str(char **slot, const char *v);
/* Sets KEY of the (string -> string) map field F of REC (a record of class C). */
void vmu_map_put(const struct mclass *c, int f, void *rec, const char *key, const char *value);
void vmu_map_del(const struct mclass *c, int f, void *rec, const char *key);
/* Borrowed value of KEY in M, or NULL. */
const char *vmu_map_get(const struct mmap *m, const char *key);

/* The row of class C named by V (a ref), or NULL with HANDLE_INVALID [class, ref] in ERR. */
struct db_row *vmu_param(struct api_ctx *ctx, const struct mclass *c, const struct rpc_value *v,
                         struct api_error *err);
/* The ref in V, "" if V is no string. */
const char *vmu_str(const struct rpc_value *v);

/* Recomputes VM's allowed_operations (vm_checks.c) and touches the row if they changed: for
 * every change of its current_operations, power state or template/snapshot flags. */
void vmu_refresh_allowed(struct db *db, struct db_row *vm);

/* Marks OP in VM's current_operations under KEY (the task, or a fresh ref): fills KEY.
 * Both recompute allowed_operations, so clients see the operation in progress. */
void vmu_op_begin(struct db *db, struct db_row *vm, int op, const char *task, char *key,
                  size_t keylen);
void vmu_op_end(struct db *db, const char *vm_ref, const char *key);

/* A fresh VM_metrics row (a copy of FROM's when it exists); returns its ref (owned by the
 * db).  install_time is now. */
const char *vmu_new_metrics(struct db *db, const char *from);
/* A VBD_metrics row for a new VBD; returns its ref. */
const char *vmu_new_vbd_metrics(struct db *db);
/* Removes a VBD row and its metrics. */
void vmu_destroy_vbd(struct db *db, struct db_row *vbd);

/* Makes the changes durable; failures are logged. */
void vmu_commit(struct xapi *x);

#endif
