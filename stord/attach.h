/* VdiAttach / VdiDetach (proto/storage_attach.proto): VDIs attached for running VMs, with
 * XAPI's exclusivity rules: one read-write attachment unless the VDI is sharable
 * (VDI_IN_USE [vdi, "attach"] otherwise), and a read-only VDI attached only read-only
 * (VDI_READONLY [vdi]).  The attachments are kept per VDI location and saved in RUN_DIR
 * (attach_state.h), so a restarted stord still refuses a second read-write attach. */
#ifndef TS_STORD_ATTACH_H
#define TS_STORD_ATTACH_H

struct msg_link;
struct serve;
struct attachments;

/* Registers the handlers on L; *OUT is freed with attach_free. */
int attach_register(struct msg_link *l, struct serve *s, const char *run_dir,
                    struct attachments **out);
void attach_free(struct attachments *a); /* NULL is fine */

#endif
