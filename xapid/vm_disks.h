/* The disks of a VM's domain: its VBDs' VDIs attached through stord (VdiAttach, with its
 * exclusivity rules) before a domd plugs them, and detached after. */
#ifndef TS_XAPID_VM_DISKS_H
#define TS_XAPID_VM_DISKS_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/dom.pb-c.h"

struct xapi;
struct db_row;
struct api_error;

/* What stord returned, ready for a ts.dom.Spec or DiskPlug (owned; vm_disk_set_free). */
struct vm_disk_set {
        Ts__Dom__Disk **disks;
        size_t n;
};
void vm_disk_set_free(struct vm_disk_set *s);

typedef void (*vm_disks_fn)(void *arg, int r, struct api_error *err, struct vm_disk_set *set);

/* Attaches the VDIs of VM's VBDs (ONLY_VBD: that VBD alone; empty and VDI-less VBDs are
 * skipped), giving each VBD its device name.  Returns 1 when there is nothing to attach
 * (DONE is not called), 0 when DONE will be called once with every attachment (r 0, SET
 * taken by DONE) or the first error, or a negative errno with ERR set. */
int vm_disks_attach(struct xapi *x, struct db_row *vm, const char *only_vbd, vm_disks_fn done,
                    void *arg, struct api_error *err);

/* Detaches the VDI of every VBD of VM (ONLY_VBD: that one; ATTACHED_ONLY: those currently
 * attached); fire and forget. */
void vm_disks_detach(struct xapi *x, struct db_row *vm, const char *only_vbd, bool attached_only);

#endif
