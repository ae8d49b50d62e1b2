/* stord's side of proto/storage.proto: serves xapid's SR and VDI requests on the link. */
#ifndef TS_STORD_SERVE_H
#define TS_STORD_SERVE_H

struct msg_link;
struct serve;
struct sd_sr;
struct sd_error;
struct Ts__Sto__Sr;

/* Registers the handlers on L.  Returns 0 or -ENOMEM; *OUT is freed with serve_free. */
int serve_new(struct msg_link *l, struct serve **out);
void serve_free(struct serve *s); /* closes every open SR; NULL is fine */

/* The open SR a request describes (opened now if needed); borrowed until serve_free. */
int serve_get_sr(struct serve *s, const struct Ts__Sto__Sr *d, struct sd_sr **out,
                 struct sd_error *e);

#endif
