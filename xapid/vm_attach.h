/* The disks of a VM's domain: its VBDs' VDIs attached through stord (VdiAttach, with its
 * exclusivity rules) before a domd plugs them, and detached after. */
#ifndef TS_XAPID_VM_ATTACH_H
#define TS_XAPID_VM_ATTACH_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/dom.pb-c.h"
#include "proto/storage.pb-c.h"

struct xapi;
struct db_row;
struct api_error;

/* What stord returned, ready for a ts.dom.Spec or DiskPlug (owned; vm_disk_set_free). */
struct vm_disk_set {
        Ts__Dom__Disk **disks;
        size_t n;
};
void vm_disk_set_free(struct vm_disk_set *s);

typedef void (*vm_attach_fn)(void *arg, int r, struct api_error *err, struct vm_disk_set *set);

/* Attaches the VDIs of VM's VBDs (ONLY_VBD: that VBD alone; empty and VDI-less VBDs are
 * skipped), giving each VBD its device name.  Returns 1 when there is nothing to attach
 * (DONE is not called), 0 when DONE will be called once with every attachment (r 0, SET
 * taken by DONE) or the first error, or a negative errno with ERR set. */
int vm_attach_attach(struct xapi *x, struct db_row *vm, const char *only_vbd, vm_attach_fn done,
                     void *arg, struct api_error *err);

/* Detaches the VDI of every VBD of VM (ONLY_VBD: that one; ATTACHED_ONLY: those currently
 * attached); fire and forget. */
void vm_attach_detach(struct xapi *x, struct db_row *vm, const char *only_vbd, bool attached_only);

/* An SR as stord needs it (type, uuid, this host's PBD device_config); borrowed pointers
 * into the datamodel, valid until it changes. */
struct vm_srdesc {
        Ts__Sto__Sr sr;
        Ts__Peer__KeyValue *kv;
        Ts__Peer__KeyValue **kvp;
};
/* 0, -ENOENT (no such SR), -ENODEV (no PBD on this host). */
int vm_srdesc_init(struct xapi *x, const char *sr_ref, struct vm_srdesc *d);
void vm_srdesc_clear(struct vm_srdesc *d);

/* Attaches one VDI for xapid's own use (HOLDER names the user); DONE gets the path, or the
 * error.  Returns 0, or a negative errno with ERR set (DONE not called). */
int vm_vdi_attach(struct xapi *x, const char *vdi_ref, const char *holder, bool read_only,
                  void (*done)(void *arg, int r, struct api_error *err, const char *path),
                  void *arg, struct api_error *err);
void vm_vdi_detach(struct xapi *x, const char *vdi_ref, const char *holder);

#endif
