/* One XenAPI call from request bytes to response bytes, independent of the transport.
 *
 *   rpc_start(x, RPC_XMLRPC, body, len, &caller, done, arg, &req);
 *   ... done(req, arg) runs exactly once, maybe before rpc_start returns, when the response
 *   is ready: send rpc_req_output(req); if rpc_req_streaming(req), keep calling
 *   rpc_req_fill(req, dst) until it returns 0; then rpc_req_free(req).
 *
 * The response is sent only once its changes are durable (xapi->commit).  A call whose
 * client goes away is abandoned with rpc_req_free at any time: a handler that deferred its
 * answer learns it through the cancel callback it registered (rpc_on_cancel).
 *
 * Async.<class>.<message> answers at once with a task ref; the call runs as the task and
 * its outcome lands in the task record. */
#ifndef TS_XAPID_RPC_H
#define TS_XAPID_RPC_H

#include <stdbool.h>
#include <stddef.h>

struct xapi;
struct evbuffer;
struct api_ctx;
struct api_error;
struct rpc_writer;
struct rpc_req;

enum rpc_proto { RPC_XMLRPC, RPC_JSONRPC };

struct rpc_caller {
        long uid;         /* peer uid on the unix socket, -1 over TCP */
        const char *addr; /* borrowed for the call of rpc_start only */
};

typedef void (*rpc_done_fn)(struct rpc_req *req, void *arg);

void rpc_start(struct xapi *x, enum rpc_proto proto, const char *body, size_t len,
               const struct rpc_caller *who, rpc_done_fn done, void *arg, struct rpc_req **out);
struct evbuffer *rpc_req_output(struct rpc_req *req); /* borrowed */
const char *rpc_req_content_type(const struct rpc_req *req);
bool rpc_req_streaming(const struct rpc_req *req);
/* Appends the next piece of a streamed response to DST: returns 1 while more remain, 0 once
 * the response is complete. */
int rpc_req_fill(struct rpc_req *req, struct evbuffer *dst);
void rpc_req_free(struct rpc_req *req); /* NULL is fine; abandons a pending call */

/* --- for handlers (api_ctx->user is the struct rpc_req) --- */

/* The handler will answer later: it returns 0 without writing, keeps CTX's request, and
 * eventually writes its value into rpc_deferred_writer() and calls rpc_resume. */
struct rpc_req *rpc_defer(struct api_ctx *ctx);
struct rpc_writer *rpc_deferred_writer(struct rpc_req *req);
/* Finishes a deferred call: R 0 (value written) or negative with ERR set. */
void rpc_resume(struct rpc_req *req, int r, struct api_error *err);
/* FN runs if a deferred call is abandoned (client gone, or its task cancelled); after it the
 * handler must not touch REQ. */
void rpc_on_cancel(struct rpc_req *req, void (*fn)(void *arg), void *arg);
/* Runs the handler of a deferred call again from the start, with the same parameters (a
 * call that waited for a conflicting operation to end).  REQ may be gone when it returns. */
void rpc_rerun(struct rpc_req *req);
/* The calling session's ref (borrowed), the caller's uid, and the Async task (NULL). */
const char *rpc_req_session(const struct rpc_req *req);
long rpc_req_uid(const struct rpc_req *req);
const char *rpc_req_task(const struct rpc_req *req);
struct xapi *rpc_req_xapi(const struct rpc_req *req);

#endif
