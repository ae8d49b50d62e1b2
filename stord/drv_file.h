/* The file driver's VDI operations, shared with the NFS driver (an NFS SR is a file SR on a
 * mount point).  They work on sr->path. */
#ifndef TS_STORD_DRV_FILE_H
#define TS_STORD_DRV_FILE_H

#include "stord/driver.h"

int file_sr_scan(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e);
int file_sr_stat(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e);
int file_vdi_create(struct sd_sr *sr, const struct sd_vdi_create_args *a, struct sd_vdi *out,
                    struct sd_error *e);
int file_vdi_delete(struct sd_sr *sr, const char *loc, struct sd_error *e);
int file_vdi_clone(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e);
int file_vdi_snapshot(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e);
int file_vdi_resize(struct sd_sr *sr, const char *loc, uint64_t size, struct sd_error *e);
int file_vdi_attach(struct sd_sr *sr, const char *loc, bool ro, struct sd_attach *out,
                    struct sd_error *e);
int file_vdi_detach(struct sd_sr *sr, const char *loc, struct sd_error *e);
int file_vdi_introduce(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e);

#endif
