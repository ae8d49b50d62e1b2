/* stord's side of proto/storage.proto: serves xapid's SR and VDI requests on the link. */
#ifndef TS_STORD_SERVE_H
#define TS_STORD_SERVE_H

struct msg_link;
struct serve;

/* Registers the handlers on L.  Returns 0 or -ENOMEM; *OUT is freed with serve_free. */
int serve_new(struct msg_link *l, struct serve **out);
void serve_free(struct serve *s); /* closes every open SR; NULL is fine */

#endif
