/* The HTTP/1.1 transport of xapid: listeners (TLS on TCP, plain on a unix socket), keep-alive,
 * pipelining, limits and timeouts, and a request/response API for the RPC layers above.
 *
 * Single-threaded on one libevent event_base: every callback below runs on that base.
 *
 * Ownership: the server owns every connection and request.  A struct http_request is
 * borrowed by a handler from the moment the handler is called until it has responded
 * (http_respond*, or the end of a stream), or until its abort callback was called; after
 * either it must not be touched.  A handler may respond at once, inside the call, or later
 * from any other callback of the same event_base (long-poll). */
#ifndef TS_XAPID_HTTP_SERVER_H
#define TS_XAPID_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct evbuffer;
struct http_server;
struct http_request;

struct http_server_config {
        size_t max_body;             /* request body limit; beyond it 413 and close (300 KiB) */
        size_t max_header;           /* request line + headers; beyond it 431 (16 KiB) */
        unsigned request_timeout_ms; /* first byte to end of body; then 408 (30 s) */
        unsigned idle_timeout_ms;    /* keep-alive connection without a request (120 s) */
        unsigned write_timeout_ms;   /* no progress sending a response (60 s) */
        unsigned max_conns;          /* beyond it accepting pauses (10000) */
        size_t stream_low_watermark; /* a stream's fill runs when output is below it (64 KiB) */
        /* Lingering close: when the server closes a connection after an error response (400,
         * 408, 413, 431, …) or with unread input, it sends the response, shuts down its
         * sending side (TLS: close_notify first) and reads and discards what the client still
         * sends, until EOF, linger_ms (2 s) or linger_max_bytes (8 MiB), whichever comes
         * first, and only then closes.  Closing at once would make the kernel reset the
         * connection (unread input), and a client still sending its body would then never
         * read the response.  Lingering connections count against max_conns. */
        unsigned linger_ms;
        size_t linger_max_bytes;
};

/* Fills C with the defaults written above. */
void http_server_config_defaults(struct http_server_config *c);

typedef void (*http_handler_fn)(struct http_request *req, void *ctx);

/* CFG is copied; NULL means defaults.  Returns NULL on ENOMEM. */
struct http_server *http_server_new(struct event_base *base, const struct http_server_config *cfg);
/* Closes listeners and every connection at once (abort callbacks of pending requests and
 * finish callbacks of streams run with -ECONNABORTED).  NULL is fine. */
void http_server_free(struct http_server *srv);

/* Plain HTTP on a unix socket at PATH (a stale socket there is replaced), mode MODE.
 * Requests carry the peer's uid (SO_PEERCRED).  Returns 0 or -errno. */
int http_server_listen_unix(struct http_server *srv, const char *path, mode_t mode);
/* HTTPS on ADDR (numeric IPv4/IPv6, NULL = any) and PORT (0 = pick one, see
 * http_server_port).  CERT_PATH and KEY_PATH hold PEM (they may be the same file); when
 * neither exists a self-signed EC P-256 certificate is generated and written there (0600).
 * Returns 0 or -errno. */
int http_server_listen_tls(struct http_server *srv, const char *addr, uint16_t port,
                           const char *cert_path, const char *key_path);
/* The local port of the most recent TCP listener, 0 if none. */
uint16_t http_server_port(const struct http_server *srv);

/* Route flags. */
#define HTTP_ROUTE_CORS 0x1 /* add Access-Control-Allow-Origin: * to responses */

/* Registers FN for exact PATH (without query) and METHOD ("POST", …; NULL = any method).
 * A path registered for other methods only gets 405.  Unregistered paths go to the
 * default handler, or get 404.  OPTIONS is answered by the server (CORS preflight).
 * Returns 0, -EEXIST or -ENOMEM. */
int http_server_route(struct http_server *srv, const char *method, const char *path, unsigned flags,
                      http_handler_fn fn, void *ctx);
/* Handler for requests no route matches (a single-router design uses only this). */
void http_server_set_default(struct http_server *srv, http_handler_fn fn, void *ctx);

/* Graceful shutdown: listeners close, idle connections close, busy ones get
 * `Connection: close` on their current response; after DEADLINE_MS what is left is closed
 * as by http_server_free.  DONE (may be NULL) runs once no connection is left; the server
 * must still be freed with http_server_free. */
void http_server_shutdown(struct http_server *srv, unsigned deadline_ms, void (*done)(void *arg),
                          void *arg);

struct http_server_stats {
        size_t conns;               /* open connections */
        uint64_t accepted;          /* connections accepted so far */
        uint64_t requests;          /* requests dispatched so far */
        size_t max_stream_buffered; /* high-water mark of a stream's unsent output */
};
void http_server_get_stats(const struct http_server *srv, struct http_server_stats *st);

/* --- request --- all strings borrowed for as long as REQ is. */
const char *http_request_method(const struct http_request *req); /* "GET", "POST", … */
const char *http_request_path(const struct http_request *req);   /* without query */
const char *http_request_query(const struct http_request *req);  /* after '?', or NULL */
/* Value of header NAME (case-insensitive); the first one if repeated; NULL if absent. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Calls FN for each header in order; stops when FN returns non-zero. */
void http_request_foreach_header(const struct http_request *req,
                                 int (*fn)(const char *name, const char *value, void *arg),
                                 void *arg);
/* The whole body, contiguous and NUL-terminated (the NUL is not counted).  Never NULL. */
const char *http_request_body(const struct http_request *req, size_t *len);
/* uid of the peer on a unix socket, -1 over TCP. */
long http_request_peer_uid(const struct http_request *req);
const char *http_request_peer_addr(const struct http_request *req); /* "1.2.3.4:5", "unix" */
bool http_request_is_tls(const struct http_request *req);
struct event_base *http_request_base(const struct http_request *req);

/* For a handler that responds later: FN runs if the client goes away (or the server shuts
 * down) before the response is complete; REQ is invalid once FN returns. */
void http_request_set_abort_cb(struct http_request *req,
                               void (*fn)(struct http_request *req, void *ctx), void *ctx);

/* --- response --- */
/* Adds a response header (before the status is sent).  Returns 0, -EINVAL or -EALREADY. */
int http_response_header(struct http_request *req, const char *name, const char *value);
/* A complete response with BODY (copied; NULL with LEN 0 for none).  After it REQ is gone.
 * Returns 0 or -EALREADY. */
int http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                 size_t len);
/* Same, moving the contents of BODY (left empty) without copying. */
int http_respond_buffer(struct http_request *req, int status, const char *content_type,
                        struct evbuffer *body);
/* A short text/plain response with the reason phrase of STATUS as body. */
int http_respond_status(struct http_request *req, int status);

/* Streaming: fill() appends the next piece to OUT whenever the connection's unsent output
 * is below the low watermark, and returns HTTP_FILL_MORE, HTTP_FILL_DONE (the response is
 * complete; OUT may still hold a last piece), HTTP_FILL_WAIT (nothing now: call
 * http_response_stream_wake later) or a negative errno (the response cannot complete: the
 * connection is closed, which the client sees as a truncated response).
 * finish() (may be NULL) runs exactly once: err 0 after DONE was sent, or a negative errno
 * if the stream ended otherwise (client went away, fill failed, server freed). */
enum { HTTP_FILL_MORE = 0, HTTP_FILL_DONE = 1, HTTP_FILL_WAIT = 2 };
struct http_stream_ops {
        int (*fill)(void *ctx, struct evbuffer *out);
        void (*finish)(void *ctx, int err);
};
/* Starts a streamed response: CONTENT_LENGTH is the exact body size, or -1 for chunked
 * transfer encoding (HTTP/1.0 clients get a close-delimited body instead).  OPS is
 * borrowed until finish(); REQ is gone after finish().  Returns 0 or -EALREADY. */
int http_response_stream_begin(struct http_request *req, int status, const char *content_type,
                               int64_t content_length, const struct http_stream_ops *ops,
                               void *ctx);
/* Calls fill() again after it returned HTTP_FILL_WAIT. */
void http_response_stream_wake(struct http_request *req);

/* Reason phrase of STATUS ("OK", "Not Found", …; "Unknown" otherwise). */
const char *http_status_reason(int status);

#endif
