/* One XenAPI call: decode, look the method up, check the session and parameters, run the
 * implementation, wait for durability, and produce the response (see rpc.h). */
#include "xapid/rpc.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/jsonrpc_decode.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/session.h"
#include "xapid/task.h"
#include "xapid/xapi.h"
#include "xapid/xmlrpc_decode.h"

LOG_MODULE(rpc)

#define ASYNC_PREFIX "Async."

enum req_state {
        REQ_RUNNING,    /* the implementation has not answered yet */
        REQ_COMMITTING, /* answered; waiting for its changes to be durable */
        REQ_READY,      /* done() was called; the transport owns the output */
};

struct rpc_req {
        struct xapi *x;
        enum rpc_proto proto;
        struct rpc_call *call;
        const struct api_method *method;
        struct api_ctx ctx;
        struct api_error err;
        struct evbuffer *out;
        struct rpc_writer w;
        enum req_state state;
        bool deferred;
        bool transport_gone; /* rpc_req_free was called while the call still ran */
        uint64_t gen_before; /* db generation when the call started: changed → commit */
        long uid;
        char *session;            /* copy of the session ref */
        char *task;               /* Async: the task this call runs as */
        struct db_cursor *cursor; /* streamed get_all_records */
        rpc_done_fn done;
        void *done_arg;
        void (*cancel_fn)(void *arg);
        void *cancel_arg;
};

static void req_destroy(struct rpc_req *r)
{
        if (r->cursor != NULL)
                db_cursor_free(r->cursor);
        rpc_call_free(r->call);
        api_error_clear(&r->err);
        if (r->out != NULL)
                evbuffer_free(r->out);
        free(r->session);
        free(r->task);
        free(r);
}

static struct rpc_req *req_new(struct xapi *x, enum rpc_proto proto, long uid)
{
        struct rpc_req *r = calloc(1, sizeof(*r));
        if (r == NULL)
                abort();
        r->x = x;
        r->proto = proto;
        r->uid = uid;
        r->out = evbuffer_new();
        if (r->out == NULL)
                abort();
        r->ctx.db = x->db;
        r->ctx.user = r;
        r->gen_before = db_generation(x->db);
        return r;
}

static void init_writer(struct rpc_req *r)
{
        if (r->task != NULL) {
                rpcw_init(&r->w, RPCW_XML_FRAGMENT, r->out);
        } else if (r->proto == RPC_JSONRPC) {
                rpcw_init(&r->w, RPCW_JSONRPC, r->out);
                rpcw_set_json(&r->w, r->call != NULL ? r->call->json_version : 2,
                              r->call != NULL && r->call->json_id != NULL ? r->call->json_id
                                                                          : "null");
        } else {
                rpcw_init(&r->w, RPCW_XMLRPC, r->out);
        }
}

/* The response is final: hand it to the transport, or, for an Async job, to its task. */
static void deliver(struct rpc_req *r)
{
        r->state = REQ_READY;
        if (r->task != NULL) {
                if (api_error_is_set(&r->err)) {
                        task_fail(r->x, r->task, &r->err);
                } else {
                        size_t len = evbuffer_get_length(r->out);
                        task_succeed(r->x, r->task, (const char *)evbuffer_pullup(r->out, -1), len);
                }
                req_destroy(r);
                return;
        }
        if (r->transport_gone) {
                req_destroy(r);
                return;
        }
        r->done(r, r->done_arg);
}

static void write_failure(struct rpc_req *r)
{
        evbuffer_drain(r->out, evbuffer_get_length(r->out));
        if (r->task != NULL)
                return; /* the task records the error itself */
        init_writer(r);
        rpcw_failure(&r->w, &r->err);
}

static void committed(int result, void *arg)
{
        struct rpc_req *r = arg;
        if (result < 0 && !api_error_is_set(&r->err)) {
                char msg[128];
                snprintf(msg, sizeof(msg), "the change could not be made durable: %s",
                         strerror(-result));
                api_error_set(&r->err, "INTERNAL_ERROR", msg, NULL);
                write_failure(r);
        }
        deliver(r);
}

/* The implementation answered (R, with r->err set on failure). */
static void finish(struct rpc_req *r, int rc)
{
        if (rc < 0) {
                if (!api_error_is_set(&r->err)) {
                        char msg[128];
                        snprintf(msg, sizeof(msg), "%s failed: %s",
                                 r->method ? r->method->wire_name : "call", strerror(-rc));
                        api_error_set(&r->err, "INTERNAL_ERROR", msg, NULL);
                }
                write_failure(r);
        } else if (rpcw_error(&r->w) < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "the result could not be serialized: %s",
                         strerror(-rpcw_error(&r->w)));
                api_error_set(&r->err, "INTERNAL_ERROR", msg, NULL);
                write_failure(r);
        } else {
                rpcw_end(&r->w);
        }
        /* Whatever the outcome, changes made by the call must be on disk before anyone
         * hears of them (a failed call may have changed things too). */
        if (r->x->commit != NULL && db_generation(r->x->db) != r->gen_before) {
                r->state = REQ_COMMITTING;
                r->x->commit(r->x->commit_ctx, committed, r);
                return;
        }
        deliver(r);
}

static void fail_now(struct rpc_req *r)
{
        finish(r, -EINVAL);
}

static void write_void_if_needed(struct rpc_req *r)
{
        if (r->method->result == NULL || r->method->result->kind == MT_VOID)
                rpcw_string(&r->w, "");
}

/* Runs the method of R with its parameters (already checked). */
static void run(struct rpc_req *r)
{
        const struct rpc_value *const *params = (const struct rpc_value *const *)r->call->params;
        init_writer(r);
        rpcw_begin(&r->w);
        r->ctx.method = r->method;
        r->ctx.session = r->session;
        r->x->calls++;
        int rc = r->method->fn(&r->ctx, params, r->call->n_params, &r->w, &r->err);
        if (rc == 0 && r->deferred)
                return; /* rpc_resume finishes it */
        if (rc == 0)
                write_void_if_needed(r);
        finish(r, rc);
}

static void list_methods(struct rpc_req *r)
{
        init_writer(r);
        rpcw_begin(&r->w);
        rpcw_array_begin(&r->w);
        for (int i = 0; i < api_n_methods; i++)
                rpcw_string(&r->w, api_methods[i].wire_name);
        rpcw_array_end(&r->w);
        finish(r, 0);
}

static bool is_streamable(const struct api_method *m)
{
        return m->impl == API_GET_ALL_RECORDS || m->impl == API_GET_ALL_RECORDS_WHERE;
}

/* get_all_records(_where) without Async: the records are written by rpc_req_fill in
 * bounded pieces while the transport sends them. */
static void start_stream(struct rpc_req *r)
{
        struct db_expr *e = NULL;
        if (r->method->impl == API_GET_ALL_RECORDS_WHERE) {
                const struct rpc_value *expr = r->call->params[1];
                char *msg = NULL;
                if (db_expr_parse(expr->u.str.s, &e, &msg) < 0) {
                        api_error_set(&r->err, "INVALID_VALUE", expr->u.str.s, msg ? msg : "",
                                      NULL);
                        free(msg);
                        fail_now(r);
                        return;
                }
        }
        r->x->calls++;
        r->cursor = db_cursor_new(r->x->db, r->method->cls, e);
        init_writer(r);
        rpcw_begin(&r->w);
        rpcw_struct_begin(&r->w);
        rpcw_flush(&r->w);
        deliver(r);
}

int rpc_req_fill(struct rpc_req *r, struct evbuffer *dst)
{
        if (evbuffer_get_length(r->out) > 0)
                evbuffer_remove_buffer(r->out, dst, evbuffer_get_length(r->out));
        if (r->cursor == NULL)
                return 0;
        r->w.out = dst;
        int more = db_cursor_step(r->cursor, &r->w, 64);
        if (more <= 0) {
                db_cursor_free(r->cursor);
                r->cursor = NULL;
                rpcw_struct_end(&r->w);
                rpcw_end(&r->w);
        }
        rpcw_flush(&r->w);
        r->w.out = r->out;
        return r->cursor != NULL ? 1 : 0;
}

/* Other spellings clients use for a method: `from` is a keyword in Python, so some call
 * event.from as event_from. */
static const struct api_method *lookup_method(const char *wire)
{
        static const char *const aliases[][2] = {
            {"event_from", "event.from"},
        };
        const struct api_method *m = api_method_lookup(wire);
        for (size_t i = 0; m == NULL && i < sizeof(aliases) / sizeof(aliases[0]); i++)
                if (strcmp(wire, aliases[i][0]) == 0)
                        m = api_method_lookup(aliases[i][1]);
        return m;
}

static int decode(struct rpc_req *r, const char *body, size_t len)
{
        char *msg = NULL;
        int rc = r->proto == RPC_XMLRPC ? xmlrpc_decode_call(body, len, &r->call, &msg)
                                        : jsonrpc_decode_call(body, len, &r->call, &msg);
        if (rc < 0) {
                char text[256];
                snprintf(text, sizeof(text), "malformed %s request: %s",
                         r->proto == RPC_XMLRPC ? "XML-RPC" : "JSON-RPC",
                         msg != NULL ? msg : strerror(-rc));
                log_debug("%s", text);
                api_error_set(&r->err, "INTERNAL_ERROR", text, NULL);
        }
        free(msg);
        return rc;
}

void rpc_start(struct xapi *x, enum rpc_proto proto, const char *body, size_t len,
               const struct rpc_caller *who, rpc_done_fn done, void *arg, struct rpc_req **out)
{
        struct rpc_req *r = req_new(x, proto, who != NULL ? who->uid : -1);
        r->done = done;
        r->done_arg = arg;
        *out = r;
        if (decode(r, body, len) < 0) {
                fail_now(r);
                return;
        }
        const char *name = r->call->method;
        if (strcmp(name, "system.listMethods") == 0) {
                list_methods(r);
                return;
        }
        bool async = strncmp(name, ASYNC_PREFIX, strlen(ASYNC_PREFIX)) == 0;
        const char *wire = async ? name + strlen(ASYNC_PREFIX) : name;
        r->method = lookup_method(wire);
        if (r->method == NULL || (async && !r->method->async)) {
                api_error_set(&r->err, "MESSAGE_METHOD_UNKNOWN", name, NULL);
                fail_now(r);
                return;
        }
        const struct rpc_value *const *params = (const struct rpc_value *const *)r->call->params;
        size_t n = r->call->n_params;
        /* XAPI checks the session before the parameters' count and types. */
        if (r->method->session) {
                const char *sref = n > 0 && params[0]->type == RPC_STRING ? params[0]->u.str.s : "";
                if (session_check(x, sref, &r->err) < 0) {
                        fail_now(r);
                        return;
                }
                r->session = strdup(sref);
        }
        if (api_check_params(r->method, params, n, &r->err) < 0) {
                fail_now(r);
                return;
        }
        if (!async) {
                if (is_streamable(r->method))
                        start_stream(r);
                else
                        run(r);
                return;
        }
        /* Async: answer with a new task now; the call runs as a job owned by the task. */
        char *task = NULL;
        if (task_create_for_call(x, r->session, wire, &task, &r->err) < 0) {
                fail_now(r);
                return;
        }
        struct rpc_req *job = req_new(x, proto, r->uid);
        job->call = r->call;
        r->call = NULL;
        job->method = r->method;
        job->session = r->session != NULL ? strdup(r->session) : NULL;
        job->task = strdup(task);
        init_writer(r);
        rpcw_begin(&r->w);
        rpcw_string(&r->w, task);
        free(task);
        /* The reply carries the task's ref only, but the task row must be durable first,
         * like any other change the client hears of. */
        finish(r, 0);
        run(job);
}

struct evbuffer *rpc_req_output(struct rpc_req *r)
{
        return r->out;
}

const char *rpc_req_content_type(const struct rpc_req *r)
{
        return r->proto == RPC_JSONRPC ? "application/json" : "text/xml";
}

bool rpc_req_streaming(const struct rpc_req *r)
{
        return r->cursor != NULL;
}

void rpc_req_free(struct rpc_req *r)
{
        if (r == NULL)
                return;
        if (r->state == REQ_READY) {
                req_destroy(r);
                return;
        }
        /* Still running or committing: the transport is gone, the call goes on (its changes
         * stay) unless the handler can cancel it. */
        r->transport_gone = true;
        if (r->state == REQ_RUNNING && r->deferred && r->cancel_fn != NULL) {
                void (*fn)(void *) = r->cancel_fn;
                r->cancel_fn = NULL;
                fn(r->cancel_arg);
                req_destroy(r);
        }
}

struct rpc_req *rpc_defer(struct api_ctx *ctx)
{
        struct rpc_req *r = ctx->user;
        r->deferred = true;
        return r;
}

struct rpc_writer *rpc_deferred_writer(struct rpc_req *r)
{
        return &r->w;
}

void rpc_resume(struct rpc_req *r, int rc, struct api_error *err)
{
        if (r->cancel_fn != NULL)
                rpc_on_cancel(r, NULL, NULL);
        if (rc < 0 && err != NULL && api_error_is_set(err))
                api_error_move(&r->err, err);
        if (rc == 0)
                write_void_if_needed(r);
        finish(r, rc);
}

void rpc_rerun(struct rpc_req *r)
{
        if (r->cancel_fn != NULL)
                rpc_on_cancel(r, NULL, NULL);
        r->deferred = false;
        api_error_clear(&r->err);
        evbuffer_drain(r->out, evbuffer_get_length(r->out)); /* what the first run began */
        run(r);
}

/* task.cancel on an Async job whose handler deferred: the handler lets go, the job ends
 * (task.cancel has already recorded the task as cancelled). */
static void job_cancel(void *arg)
{
        struct rpc_req *r = arg;
        void (*fn)(void *) = r->cancel_fn;
        r->cancel_fn = NULL;
        if (fn != NULL)
                fn(r->cancel_arg);
        req_destroy(r);
}

void rpc_on_cancel(struct rpc_req *r, void (*fn)(void *arg), void *arg)
{
        r->cancel_fn = fn;
        r->cancel_arg = arg;
        if (r->task != NULL)
                task_set_cancel_hook(r->x, r->task, fn != NULL ? job_cancel : NULL, r);
}

const char *rpc_req_session(const struct rpc_req *r)
{
        return r->session;
}

long rpc_req_uid(const struct rpc_req *r)
{
        return r->uid;
}

const char *rpc_req_task(const struct rpc_req *r)
{
        return r->task;
}

struct xapi *rpc_req_xapi(const struct rpc_req *r)
{
        return r->x;
}
