/* xapid's storage client: SRs and VDIs through stord (proto/storage.proto).
 *
 * The API handlers (VDI.create/destroy/clone/snapshot, SR.scan) send one request to stord
 * and defer their answer; the datamodel changes only after stord succeeded.  When stord
 * announces itself, storage_peer_up() attaches the SRs with a PBD on this host and, on the
 * first start, creates the local file SR "Local storage" in the directory stord announces
 * ("local_sr_dir" in its Hello state) and makes it the pool's default SR. */
#ifndef TS_XAPID_STORAGE_H
#define TS_XAPID_STORAGE_H

#include <stdbool.h>

struct xapi;
struct msg_peer_info;
struct api_error;
struct api_VDI;

/* Allocates x->storage and clears the SR, VDI and storage-side VM current_operations left by
 * a previous run (x->db loaded).  Returns 0 or -ENOMEM. */
int storage_init(struct xapi *x);
void storage_free(struct xapi *x);

/* stord (re)announced itself (PEER is its listing). */
void storage_peer_up(struct xapi *x, const struct msg_peer_info *peer);

/* Storage operations for other parts of xapid (VM.clone, VM.provision ...).  Each returns 0
 * when the request is on its way to stord: DONE then runs exactly once, after the datamodel
 * followed the storage, with R 0 and the VDI's ref (create, clone, snapshot, copy; NULL for
 * destroy) or R < 0 and ERR set (ERR is cleared after DONE returns: move it to keep it).
 * Nothing is committed: the caller does (or rpc_resume does).  A negative return means the
 * request could not start (ERR set, DONE never runs); storage_vdi_destroy returns 1 when it
 * finished at once (a missing VDI is forgotten without asking stord). */
typedef void (*storage_done_fn)(void *arg, int r, const char *vdi_ref, struct api_error *err);

/* TASK (the calling task's ref, or NULL) keys the VDI's current_operations entry while the
 * operation runs.  REC is taken: the new VDI's description (its SR, size, type ...). */
int storage_vdi_create(struct xapi *x, const char *task, struct api_VDI *rec, storage_done_fn done,
                       void *arg, struct api_error *err);
int storage_vdi_destroy(struct xapi *x, const char *task, const char *vdi_ref, storage_done_fn done,
                        void *arg, struct api_error *err);
/* A copy-on-write clone, or with SNAPSHOT a snapshot (is_a_snapshot, snapshot_of). */
int storage_vdi_clone(struct xapi *x, const char *task, const char *vdi_ref, bool snapshot,
                      storage_done_fn done, void *arg, struct api_error *err);
/* A full, independent copy into SR_REF (NULL or an unknown SR: the source's SR). */
int storage_vdi_copy(struct xapi *x, const char *task, const char *vdi_ref, const char *sr_ref,
                     storage_done_fn done, void *arg, struct api_error *err);

#endif
