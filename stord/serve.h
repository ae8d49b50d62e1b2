/* stord's side of proto/storage.proto: serves xapid's SR and VDI requests on the link. */
#ifndef TS_STORD_SERVE_H
#define TS_STORD_SERVE_H

struct event_base;
struct msg_link;
struct serve;
struct work_pool;

/* Registers the handlers on L; the operations run on worker threads whose completions come
 * back on BASE.  RUN_DIR holds the attachments' state file (attach.h).  Returns 0 or -errno;
 * *OUT is freed with serve_free. */
int serve_new(struct event_base *base, struct msg_link *l, const char *run_dir, struct serve **out);
/* Waits for the operations under way (and sends their replies).  NULL is fine. */
void serve_free(struct serve *s);

/* The pool the operations run on (borrowed until serve_free). */
struct work_pool *serve_pool(struct serve *s);

#endif
