/* Suspend images in VDIs, as XAPI keeps them: a VDI of type "suspend" (format raw, sized
 * from the VM's memory) on the VM's suspend_SR, else the pool's suspend_image_SR, else its
 * default_SR (VM_NO_SUSPEND_SR otherwise), made through stord, attached for the domd to
 * write, recorded in VM.suspend_VDI; resume reads it and then destroys it. */
#ifndef TS_XAPID_VM_SUSPEND_H
#define TS_XAPID_VM_SUSPEND_H

#include <stdbool.h>

struct xapi;
struct db_row;
struct api_error;

/* DONE gets the path to write the image to and the new VDI's ref (both borrowed). */
typedef void (*vm_image_fn)(void *arg, int r, struct api_error *err, const char *path,
                            const char *vdi_ref);

/* Creates and attaches a suspend image VDI for VM.  0 (DONE later) or -errno with ERR. */
int vm_image_create(struct xapi *x, struct db_row *vm, vm_image_fn done, void *arg,
                    struct api_error *err);
/* After the domd wrote it: detached, and VM.suspend_VDI set (OK) or the VDI destroyed. */
void vm_image_written(struct xapi *x, struct db_row *vm, const char *vdi_ref, bool ok);
/* Attaches VM.suspend_VDI read-only for a resume (VM_HAS_NO_SUSPEND_VDI without one). */
int vm_image_open(struct xapi *x, struct db_row *vm, vm_image_fn done, void *arg,
                  struct api_error *err);
/* Detaches VM.suspend_VDI after a failed resume (the image stays). */
void vm_image_close(struct xapi *x, struct db_row *vm);
/* Detaches and destroys VM.suspend_VDI (resumed, or thrown away), VM.suspend_VDI cleared. */
void vm_image_destroy(struct xapi *x, struct db_row *vm);

#endif
