/* Internals shared by xapid/http_*.c: the server, connection and request structures.
 *
 * A connection is a protocol core (http_conn.c: llhttp, limits, timers, request lifecycle)
 * that reads from conn->in and writes to conn->out.  Over a socket those are the
 * bufferevent's buffers, except TLS output, which is its own (http_io.c); a detached connection
 * (for the fuzzer and tests) has its own buffers and no transport. */
#ifndef TS_XAPID_HTTP_INTERNAL_H
#define TS_XAPID_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <llhttp.h>
#include <openssl/ssl.h>

#include "xapid/http_server.h"

struct bufferevent;
struct event;
struct evconnlistener;

struct http_route {
        char *method; /* NULL = any */
        char *path;
        unsigned flags;
        http_handler_fn fn;
        void *ctx;
        struct http_route *next;
};

struct http_listener {
        struct http_server *srv;
        struct evconnlistener *lev;
        SSL_CTX *tls; /* NULL for plain */
        bool is_unix;
        char *unix_path; /* owned; unlinked when the listener goes */
        struct http_listener *next;
};

/* A growable byte buffer kept across requests of a connection. */
struct http_buf {
        char *data;
        size_t len, cap;
};

struct http_header {
        uint32_t name_off, name_len, value_off, value_len;
};

enum http_resp_state {
        RESP_NONE,      /* handler has not answered yet */
        RESP_STREAMING, /* head sent, fill() producing the body */
        RESP_DONE,
};

struct http_request {
        struct http_conn *conn;
        const char *method;
        const char *path;  /* into conn->head */
        const char *query; /* into conn->head, or NULL */
        int http_minor;
        bool keep_alive;
        bool is_head;
        unsigned route_flags;
        struct http_header *hdrs; /* offsets into conn->head */
        size_t n_hdrs, cap_hdrs;
        enum http_resp_state resp;
        struct evbuffer *extra_headers; /* lines added by http_response_header */
        void (*abort_fn)(struct http_request *req, void *ctx);
        void *abort_ctx;
        /* streaming */
        const struct http_stream_ops *ops;
        void *stream_ctx;
        bool chunked;
        bool stream_waiting; /* fill returned HTTP_FILL_WAIT */
        bool pumping;        /* http_stream_pump is on the stack */
        int64_t remaining;   /* bytes still due with a Content-Length, -1 otherwise */
};

enum http_conn_state {
        CONN_IDLE,       /* between requests */
        CONN_READING,    /* a request has begun */
        CONN_DISPATCHED, /* a complete request is with the handler / being answered */
        CONN_CLOSING,    /* flushing the last output, then free (or linger) */
        CONN_LINGERING,  /* output sent and write side shut: discarding input until EOF */
};

struct http_conn {
        struct http_server *srv;
        struct http_conn *prev, *next; /* in srv->conns */
        struct bufferevent *bev;       /* NULL when detached */
        struct evbuffer *in, *out;     /* bev's buffers, or owned when detached */
        struct event *timer;
        struct event *tls_shut_ev; /* retries a close_notify that met a full socket */
        struct event *read_ev;     /* plain sockets: our own reads (see http_io.c) */
        struct event *write_ev;    /* TLS: waits for a full socket (see http_io.c) */
        int fd;
        bool reading;       /* read_ev (or the bufferevent's reading) is enabled */
        bool write_waiting; /* direct writes met a full socket: bufferevent (plain) or write_ev */
        llhttp_t parser;
        enum http_conn_state state;
        struct http_request req;
        struct http_buf head; /* URL and header bytes, NUL-separated */
        struct http_buf body;
        struct evbuffer *scratch; /* a stream's fill output before chunk framing */
        size_t url_len;
        bool field_open;   /* llhttp is inside a header name */
        bool value_open;   /* llhttp is inside a header value */
        bool processing;   /* http_conn_process is on the stack */
        bool headers_done; /* later header callbacks are trailers (ignored) */
        bool msg_complete;
        int err_status;   /* status to answer when the parser stops with an error */
        bool close_after; /* close once the current response is sent */
        bool read_eof;
        bool linger;         /* close lingering (see http_server_config.linger_ms) */
        size_t linger_bytes; /* discarded since closing began */
        bool detached;
        int busy; /* nesting of entry points; the conn is freed when it drops to 0 */
        bool want_free;
        long peer_uid;
        bool tls;
        char peer_addr[64];
};

struct http_server {
        struct event_base *base;
        struct http_server_config cfg;
        llhttp_settings_t settings;
        struct http_route *routes;
        http_handler_fn default_fn;
        void *default_ctx;
        struct http_listener *listeners;
        struct http_conn *conns;
        size_t n_conns;
        uint16_t port;
        struct http_server_stats stats;
        /* accepting */
        struct event *accept_retry;
        bool accept_paused_limit; /* max_conns reached */
        bool accept_paused_error; /* EMFILE & co: retry timer armed */
        time_t accept_log_time;
        unsigned accept_log_suppressed;
        /* shutdown */
        bool shutting_down;
        struct event *shutdown_timer;
        void (*shutdown_done)(void *arg);
        void *shutdown_arg;
};

/* http_conn.c: the protocol core. */
struct http_conn *http_conn_new(struct http_server *srv, bool detached);
/* Tears C down now (abort/finish callbacks run), or once the current entry point returns. */
void http_conn_destroy(struct http_conn *c);
/* Parses what is in c->in and dispatches complete requests, in order. */
void http_conn_process(struct http_conn *c);
/* Entry/exit of every callback into a connection: frees it on exit if it was destroyed. */
void http_conn_enter(struct http_conn *c);
void http_conn_leave(struct http_conn *c);
/* The transport saw EOF (ERR 0) or an error: abort what is pending, close. */
void http_conn_peer_gone(struct http_conn *c, int err);
/* Output drained below the low watermark (or fully when FULLY). */
void http_conn_output_drained(struct http_conn *c, bool fully);
/* Starts closing: no more input, free once output is sent. */
void http_conn_close_after_flush(struct http_conn *c);
/* The current response was completely queued: next request or close. */
void http_conn_response_done(struct http_conn *c);
/* Arms or clears the connection timer for the current state. */
void http_conn_update_timer(struct http_conn *c);

/* Detached connections (fuzzer, tests): feed bytes, read what was answered. */
int http_conn_feed(struct http_conn *c, const void *data, size_t len);

/* http_response.c */
void http_response_reset(struct http_request *req);
/* Runs fill() until the output reaches the low watermark, the stream waits or ends. */
void http_stream_pump(struct http_conn *c);
/* A response the server writes itself (errors), then closes if CLOSE. */
void http_conn_send_error(struct http_conn *c, int status, bool close);
/* Ends an unfinished request: the abort callback or the stream's finish with ERR. */
void http_request_abandon(struct http_request *req, int err);

/* http_io.c: the socket transport. */
int http_io_attach(struct http_conn *c, int fd, SSL_CTX *tls);
void http_io_close(struct http_conn *c);
void http_io_set_reading(struct http_conn *c, bool on);
/* Writes the queued output now, at the end of an entry point. */
void http_io_flush(struct http_conn *c);
/* Ends the sending side once the output is flushed: TLS close_notify, then shutdown(SHUT_WR). */
void http_io_shutdown_write(struct http_conn *c);

/* http_server.c */
void http_server_dispatch(struct http_server *srv, struct http_request *req);
void http_server_conn_gone(struct http_server *srv);

/* http_listen.c */
void http_listen_resume_if_below_limit(struct http_server *srv);
void http_listeners_free(struct http_server *srv);
void http_accept_retry_cb(int fd, short what, void *arg); /* srv->accept_retry */

/* http_tls.c */
/* A server SSL_CTX (TLS 1.2+) with the certificate and key, generated if absent. */
int http_tls_ctx_new(const char *cert_path, const char *key_path, SSL_CTX **out);

#endif
