/* Serves the XenAPI on an HTTP server: POST / and /RPC2 as XML-RPC, POST /jsonrpc as
 * JSON-RPC (with CORS, for browser clients such as Xen Orchestra). */
#ifndef TS_XAPID_RPC_HTTP_H
#define TS_XAPID_RPC_HTTP_H

struct http_server;
struct xapi;

/* X is borrowed for the server's lifetime.  Returns 0 or a negative errno. */
int rpc_http_register(struct http_server *srv, struct xapi *x);

#endif
