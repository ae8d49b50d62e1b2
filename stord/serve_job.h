/* A request of xapid served on a worker thread (work.h): the loop copies the request and
 * its origin, a worker runs the operation and packs the reply, the loop sends it.
 * Every job opens the SRs it needs itself (sd_sr_open has no side effects), so no SR object
 * is shared between threads; the per-SR lock in driver.c orders the operations. */
#ifndef TS_STORD_SERVE_JOB_H
#define TS_STORD_SERVE_JOB_H

#include <protobuf-c/protobuf-c.h>

struct msg_link;
struct msg_origin;
struct work_pool;
struct serve_job;
struct sd_sr;
struct sd_error;
struct Ts__Sto__Sr;

/* Runs on a worker: performs REQ and calls serve_job_reply once; or returns a negative errno
 * to have ts.peer.Error sent instead. */
typedef int (*serve_job_fn)(struct serve_job *j, const ProtobufCMessage *req, void *ctx);
/* Runs on the loop after FN, before the reply goes out; FN_RESULT is what FN returned. */
typedef void (*serve_job_after_fn)(void *ctx, int fn_result);

/* Queues REQ (copied) from FROM.  AFTER may be NULL; CTX is the caller's.  Returns 0, or a
 * negative errno (nothing will be called; the caller replies). */
int serve_submit(struct work_pool *pool, struct msg_link *l, const struct msg_origin *from,
                 const ProtobufCMessage *req, serve_job_fn fn, serve_job_after_fn after, void *ctx);
/* Worker: the reply (packed now; REP is borrowed for the call).  Returns 0 or -ENOMEM. */
int serve_job_reply(struct serve_job *j, const ProtobufCMessage *rep);
/* Worker: the SR D describes, opened for this job (closed when it ends). */
int serve_job_sr(struct serve_job *j, const struct Ts__Sto__Sr *d, struct sd_sr **out,
                 struct sd_error *e);

#endif
