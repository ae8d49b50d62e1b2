/* VBD helpers shared by the VM disk operations (vbd.c). */
#ifndef TS_XAPID_VBD_H
#define TS_XAPID_VBD_H

struct api_ctx;
struct api_error;
struct api_VM;
struct db;
struct db_row;

/* The device number a userdevice names ("3", "xvdd", "hdd", "sdd"), or -1 if none. */
int vbd_device_number(const char *userdevice);
/* The VBD of VM on device number DEV, or NULL. */
struct db_row *vbd_on_device(struct db *db, const struct api_VM *vm, int dev);

/* VBD.insert (VDI_REF) or VBD.eject (NULL) of a VBD of a Running or Paused VM: the VM
 * lifecycle code provides it (a strong definition replaces the weak default of vbd.c, which
 * answers OPERATION_NOT_ALLOWED).  Same contract as a handler: 0, or < 0 with ERR set. */
int vbd_media_change_running(struct api_ctx *ctx, struct db_row *vbd, const char *vdi_ref,
                             struct api_error *err);

#endif
