/* allowed_operations and current_operations of SRs and VDIs (XAPI's xapi_sr_operations and
 * xapi_vdi check_operation_error): which operation is valid now, the mark of a running one,
 * and OTHER_OPERATION_IN_PROGRESS for a conflicting call.  Policy, as XAPI's: a VDI runs one
 * operation at a time except that copies go together; an SR runs one SR-level operation
 * (scan, plug, unplug, destroy, forget, update) at a time and refuses VDI work while it is
 * being unplugged, destroyed or forgotten.
 *
 * allowed_operations is recomputed where this code changes what it depends on (operation
 * start and end, VBDs made or removed, scans, PBD plug/unplug); code elsewhere that changes
 * VBD.currently_attached calls storage_vdi_update_allowed for the VBD's VDI. */
#ifndef TS_XAPID_STORAGE_OPS_H
#define TS_XAPID_STORAGE_OPS_H

#include <stddef.h>

struct db;
struct db_row;
struct api_error;

/* 0 when OP (API_VDI_OPERATIONS_*) is valid on VDI now, else -EINVAL with XAPI's error. */
int storage_vdi_check_op(struct db *db, struct db_row *vdi, int op, struct api_error *err);
/* Marks OP under KEY (the task, or a fresh ref: filled in) and recomputes. */
void storage_vdi_op_begin(struct db *db, struct db_row *vdi, int op, const char *task, char *key,
                          size_t keylen);
void storage_vdi_op_end(struct db *db, const char *vdi_ref, const char *key);
void storage_vdi_update_allowed(struct db *db, struct db_row *vdi);

/* The same for SR operations (API_STORAGE_OPERATIONS_*). */
int storage_sr_check_op(struct db *db, struct db_row *sr, int op, struct api_error *err);
void storage_sr_op_begin(struct db *db, struct db_row *sr, int op, const char *task, char *key,
                         size_t keylen);
void storage_sr_op_end(struct db *db, const char *sr_ref, const char *key);
void storage_sr_update_allowed(struct db *db, struct db_row *sr);

/* Recomputes every SR's and VDI's allowed_operations (start-up, benchmarks). */
void storage_update_allowed_all(struct db *db);

#endif
