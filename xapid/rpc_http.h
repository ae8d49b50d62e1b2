/* Serves the XenAPI on an HTTP server: POST / and /RPC2 as XML-RPC, POST /jsonrpc as
 * JSON-RPC (with CORS, for browser clients such as Xen Orchestra). */
#ifndef TS_XAPID_RPC_HTTP_H
#define TS_XAPID_RPC_HTTP_H

struct http_server;
struct xapi;

/* What the routes point at: one per protocol.  Owned by the caller, who keeps it (and X)
 * alive as long as the server. */
struct rpc_http {
        struct rpc_http_binding {
                struct xapi *x;
                int proto; /* enum rpc_proto */
        } xml, json;
};

/* Registers the routes on SRV.  Returns 0 or a negative errno. */
int rpc_http_register(struct http_server *srv, struct xapi *x, struct rpc_http *out);

#endif
