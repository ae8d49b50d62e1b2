/* Glue between the HTTP transport and one RPC call (see rpc_http.h). */
#include "xapid/rpc_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>

#include "common/log.h"
#include "xapid/http_server.h"
#include "xapid/rpc.h"
#include "xapid/xapi.h"

LOG_MODULE(rpc_http)

/* One call in flight on one HTTP request. */
struct call {
        struct http_request *hreq;
        struct rpc_req *rreq;
};

static int stream_fill(void *arg, struct evbuffer *out)
{
        struct call *c = arg;
        return rpc_req_fill(c->rreq, out) > 0 ? HTTP_FILL_MORE : HTTP_FILL_DONE;
}

static void stream_finish(void *arg, int err)
{
        struct call *c = arg;
        if (err < 0)
                log_debug("streamed response ended early: %d", err);
        rpc_req_free(c->rreq);
        free(c);
}

static const struct http_stream_ops stream_ops = {stream_fill, stream_finish};

static void call_done(struct rpc_req *rreq, void *arg)
{
        struct call *c = arg;
        c->rreq = rreq;
        http_request_set_abort_cb(c->hreq, NULL, NULL);
        if (rpc_req_streaming(rreq)) {
                /* chunked: the size of get_all_records is known only once written */
                http_response_stream_begin(c->hreq, 200, rpc_req_content_type(rreq), -1,
                                           &stream_ops, c);
                return;
        }
        http_respond_buffer(c->hreq, 200, rpc_req_content_type(rreq), rpc_req_output(rreq));
        rpc_req_free(rreq);
        free(c);
}

static void call_abort(struct http_request *hreq, void *arg)
{
        struct call *c = arg;
        rpc_req_free(c->rreq); /* the call may go on; its answer is dropped */
        free(c);
}

static void handle(struct http_request *hreq, void *arg)
{
        const struct rpc_http_binding *b = arg;
        struct call *c = calloc(1, sizeof(*c));
        if (c == NULL) {
                http_respond_status(hreq, 503);
                return;
        }
        c->hreq = hreq;
        size_t len;
        const char *body = http_request_body(hreq, &len);
        struct rpc_caller who = {http_request_peer_uid(hreq), http_request_peer_addr(hreq)};
        http_request_set_abort_cb(hreq, call_abort, c);
        rpc_start(b->x, b->proto, body, len, &who, call_done, c, &c->rreq);
}

int rpc_http_register(struct http_server *srv, struct xapi *x, struct rpc_http *out)
{
        out->xml = (struct rpc_http_binding){x, RPC_XMLRPC};
        out->json = (struct rpc_http_binding){x, RPC_JSONRPC};
        int r = http_server_route(srv, "POST", "/", 0, handle, &out->xml);
        if (r == 0)
                r = http_server_route(srv, "POST", "/RPC2", 0, handle, &out->xml);
        if (r == 0)
                r = http_server_route(srv, "POST", "/jsonrpc", HTTP_ROUTE_CORS, handle, &out->json);
        return r;
}
