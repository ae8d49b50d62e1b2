/* The protocol core of one HTTP connection: llhttp callbacks, request limits, timers and the
 * request lifecycle.  It reads c->in and writes c->out and knows nothing of sockets, so the
 * fuzzer drives it with bytes (http_conn_feed).
 *
 * One request at a time: llhttp pauses at the end of each message, the request goes to its
 * handler, and parsing resumes only when the response is queued.  Pipelined requests are
 * thus answered in order, and unparsed input simply waits in c->in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "xapid/http_internal.h"

LOG_MODULE(http_conn)

#define MAX_HEADERS 100
/* Beyond this much unparsed input behind a request in progress, stop reading the socket. */
#define MAX_PIPELINE_BACKLOG (1024 * 1024)
/* Buffers grown beyond this by one request are released afterwards (idle connections stay
 * small); below it they are reused, so steady traffic does not allocate per request. */
#define KEEP_BUF_CAP (64 * 1024)

static int buf_reserve(struct http_buf *b, size_t extra)
{
        if (b->cap - b->len > extra)
                return 0;
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len <= extra)
                cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

static int buf_append(struct http_buf *b, const char *p, size_t len)
{
        if (buf_reserve(b, len) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, p, len);
        b->len += len;
        return 0;
}

static void buf_trim(struct http_buf *b)
{
        b->len = 0;
        if (b->cap > KEEP_BUF_CAP) {
                free(b->data);
                b->data = NULL;
                b->cap = 0;
        }
}

static struct http_conn *conn_of(llhttp_t *p)
{
        return p->data;
}

/* Appends header-section bytes, enforcing the header size limit. */
static int head_append(struct http_conn *c, const char *at, size_t len)
{
        if (c->head.len + len > c->srv->cfg.max_header) {
                c->err_status = 431;
                return -1;
        }
        if (buf_append(&c->head, at, len) < 0) {
                c->err_status = 503;
                return -1;
        }
        return 0;
}

static int on_message_begin(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = &c->req;

        c->head.len = 0;
        c->body.len = 0;
        c->url_len = 0;
        c->field_open = c->value_open = false;
        c->headers_done = false;
        c->msg_complete = false;
        req->n_hdrs = 0;
        req->path = "";
        req->query = NULL;
        c->state = CONN_READING;
        http_conn_update_timer(c);
        return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
        struct http_conn *c = conn_of(p);
        if (head_append(c, at, len) < 0)
                return -1;
        c->url_len += len;
        return 0;
}

static int on_url_complete(llhttp_t *p)
{
        return head_append(conn_of(p), "", 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = &c->req;

        if (c->headers_done)
                return 0; /* trailers: ignored */
        if (!c->field_open) {
                if (req->n_hdrs == MAX_HEADERS) {
                        c->err_status = 431;
                        return -1;
                }
                if (req->n_hdrs == req->cap_hdrs) {
                        size_t cap = req->cap_hdrs ? req->cap_hdrs * 2 : 16;
                        struct http_header *h = realloc(req->hdrs, cap * sizeof(*h));
                        if (!h) {
                                c->err_status = 503;
                                return -1;
                        }
                        req->hdrs = h;
                        req->cap_hdrs = cap;
                }
                struct http_header *h = &req->hdrs[req->n_hdrs++];
                h->name_off = (uint32_t)c->head.len;
                h->name_len = 0;
                h->value_off = 0;
                h->value_len = 0;
                c->field_open = true;
        }
        if (head_append(c, at, len) < 0)
                return -1;
        req->hdrs[req->n_hdrs - 1].name_len += (uint32_t)len;
        return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        if (c->headers_done || !c->field_open)
                return 0;
        c->field_open = false;
        return head_append(c, "", 1);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = &c->req;

        if (c->headers_done || req->n_hdrs == 0)
                return 0;
        struct http_header *h = &req->hdrs[req->n_hdrs - 1];
        if (!c->value_open) {
                h->value_off = (uint32_t)c->head.len;
                h->value_len = 0;
                c->value_open = true;
        }
        if (head_append(c, at, len) < 0)
                return -1;
        h->value_len += (uint32_t)len;
        return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = &c->req;

        if (c->headers_done || req->n_hdrs == 0)
                return 0;
        if (!c->value_open) { /* empty value: no data callback came */
                req->hdrs[req->n_hdrs - 1].value_off = (uint32_t)c->head.len;
                req->hdrs[req->n_hdrs - 1].value_len = 0;
        }
        c->value_open = false;
        return head_append(c, "", 1);
}

static int on_headers_complete(llhttp_t *p)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = &c->req;

        c->headers_done = true;
        if (c->url_len == 0 || !c->head.data) {
                c->err_status = 400;
                return -1;
        }
        /* The URL is NUL-terminated at offset url_len: split off query and fragment. */
        char *url = c->head.data;
        char *hash = memchr(url, '#', c->url_len);
        if (hash)
                *hash = '\0';
        char *q = strchr(url, '?');
        if (q) {
                *q = '\0';
                req->query = q + 1;
        }
        req->path = url;
        req->method = llhttp_method_name(llhttp_get_method(p));
        req->http_minor = llhttp_get_http_major(p) == 1 ? llhttp_get_http_minor(p) : 0;
        req->keep_alive = llhttp_should_keep_alive(p);
        req->is_head = llhttp_get_method(p) == HTTP_HEAD;

        if (llhttp_get_method(p) == HTTP_CONNECT) {
                c->err_status = 501;
                return -1;
        }
        if (llhttp_get_upgrade(p))
                c->close_after = true; /* answered as plain HTTP, then the connection ends */
        if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->cfg.max_body) {
                c->err_status = 413;
                return -1;
        }
        bool has_body =
            (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
        const char *expect = http_request_header(req, "Expect");
        if (expect && has_body) {
                if (strcasecmp(expect, "100-continue") != 0) {
                        c->err_status = 417;
                        return -1;
                }
                if (req->http_minor >= 1)
                        evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        }
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
        struct http_conn *c = conn_of(p);
        if (c->body.len + len > c->srv->cfg.max_body) {
                c->err_status = 413;
                return -1;
        }
        if (buf_append(&c->body, at, len) < 0) {
                c->err_status = 503;
                return -1;
        }
        return 0;
}

static int on_message_complete(llhttp_t *p)
{
        conn_of(p)->msg_complete = true;
        return HPE_PAUSED; /* one request at a time: see the top of this file */
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;

        http_conn_enter(c);
        switch (c->state) {
        case CONN_IDLE:
                log_debug("%s: idle keep-alive timeout", c->peer_addr);
                http_conn_destroy(c);
                break;
        case CONN_READING:
                log_debug("%s: request timeout", c->peer_addr);
                http_conn_send_error(c, 408, true);
                break;
        case CONN_CLOSING:
                log_debug("%s: timeout sending the last response", c->peer_addr);
                http_conn_destroy(c);
                break;
        case CONN_LINGERING:
                log_debug("%s: lingering close: %zu bytes discarded, no EOF in time", c->peer_addr,
                          c->linger_bytes);
                http_conn_destroy(c);
                break;
        case CONN_DISPATCHED:
                break;
        }
        http_conn_leave(c);
}

static void set_timer_ms(struct http_conn *c, unsigned ms)
{
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(c->timer, &tv);
}

void http_conn_update_timer(struct http_conn *c)
{
        if (!c->timer)
                return;
        switch (c->state) {
        case CONN_IDLE:
                set_timer_ms(c, c->srv->cfg.idle_timeout_ms);
                break;
        case CONN_READING:
                set_timer_ms(c, c->srv->cfg.request_timeout_ms);
                break;
        case CONN_CLOSING:
                set_timer_ms(c, c->srv->cfg.write_timeout_ms);
                break;
        case CONN_LINGERING:
                set_timer_ms(c, c->srv->cfg.linger_ms);
                break;
        case CONN_DISPATCHED:
                /* A handler may legitimately take minutes (event.from); a stalled write is
                 * caught by the transport's write timeout. */
                evtimer_del(c->timer);
                break;
        }
}

struct http_conn *http_conn_new(struct http_server *srv, bool detached)
{
        struct http_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->srv = srv;
        c->detached = detached;
        c->peer_uid = -1;
        c->req.conn = c;
        c->req.remaining = -1;
        snprintf(c->peer_addr, sizeof(c->peer_addr), "detached");
        c->scratch = evbuffer_new();
        c->req.extra_headers = evbuffer_new();
        c->timer = evtimer_new(srv->base, conn_timer_cb, c);
        if (detached) {
                c->in = evbuffer_new();
                c->out = evbuffer_new();
        }
        if (!c->scratch || !c->req.extra_headers || !c->timer ||
            (detached && (!c->in || !c->out))) {
                if (c->timer)
                        event_free(c->timer);
                if (c->scratch)
                        evbuffer_free(c->scratch);
                if (c->req.extra_headers)
                        evbuffer_free(c->req.extra_headers);
                if (detached && c->in)
                        evbuffer_free(c->in);
                if (detached && c->out)
                        evbuffer_free(c->out);
                free(c);
                return NULL;
        }
        llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
        c->parser.data = c;
        c->state = CONN_IDLE;

        c->next = srv->conns;
        if (srv->conns)
                srv->conns->prev = c;
        srv->conns = c;
        srv->n_conns++;
        srv->stats.conns = srv->n_conns;
        return c;
}

static void conn_free_now(struct http_conn *c)
{
        struct http_server *srv = c->srv;

        if (c->state == CONN_DISPATCHED && c->req.resp != RESP_DONE)
                http_request_abandon(&c->req, -ECONNABORTED);
        if (c->prev)
                c->prev->next = c->next;
        else
                srv->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        srv->n_conns--;
        srv->stats.conns = srv->n_conns;

        if (c->bev)
                http_io_close(c);
        if (c->detached) {
                evbuffer_free(c->in);
                evbuffer_free(c->out);
        }
        event_free(c->timer);
        evbuffer_free(c->scratch);
        evbuffer_free(c->req.extra_headers);
        free(c->req.hdrs);
        free(c->head.data);
        free(c->body.data);
        free(c);
        http_server_conn_gone(srv);
}

void http_conn_destroy(struct http_conn *c)
{
        if (!c)
                return;
        if (c->busy > 0) {
                c->want_free = true;
                return;
        }
        conn_free_now(c);
}

void http_conn_enter(struct http_conn *c)
{
        c->busy++;
}

void http_conn_leave(struct http_conn *c)
{
        /* The outermost entry point is done: what it queued goes out in one write. */
        if (c->busy == 1 && !c->want_free && c->bev && !c->write_waiting &&
            evbuffer_get_length(c->out))
                http_io_flush(c);
        if (--c->busy == 0 && c->want_free)
                conn_free_now(c);
}

static void buf_free(struct http_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

/* Lingering: drops what came in; past linger_max_bytes the client has had its chance. */
static void discard_input(struct http_conn *c)
{
        size_t n = evbuffer_get_length(c->in);
        if (!n)
                return;
        evbuffer_drain(c->in, n);
        c->linger_bytes += n;
        if (c->linger_bytes > c->srv->cfg.linger_max_bytes) {
                log_debug("%s: lingering close: more than %zu bytes, closing", c->peer_addr,
                          c->srv->cfg.linger_max_bytes);
                http_conn_destroy(c);
        }
}

/* The last response is out: close, or shut the sending side and linger. */
static void conn_flushed(struct http_conn *c)
{
        if (!c->linger || c->read_eof) {
                http_conn_destroy(c);
                return;
        }
        c->state = CONN_LINGERING;
        /* Nothing more is parsed: a lingering connection keeps no request buffers. */
        buf_free(&c->head);
        buf_free(&c->body);
        http_io_shutdown_write(c);
        http_conn_update_timer(c);
}

void http_conn_close_after_flush(struct http_conn *c)
{
        /* Input that is or may still be on its way would be unread at close(), and the
         * kernel answers that with a reset, which can destroy the response in flight. */
        if (c->state == CONN_READING || evbuffer_get_length(c->in) > 0)
                c->linger = true;
        if (c->read_eof)
                c->linger = false;
        c->state = CONN_CLOSING;
        if (c->detached)
                return; /* the owner reads the output and frees */
        http_conn_enter(c);
        if (c->linger) {
                /* Keep reading while flushing too: a client that reads only once it has sent
                 * its whole body must not block our response. */
                discard_input(c);
                http_io_set_reading(c, true);
        } else {
                http_io_set_reading(c, false);
        }
        if (!c->want_free) {
                if (evbuffer_get_length(c->out) == 0)
                        conn_flushed(c);
                else
                        http_conn_update_timer(c);
        }
        http_conn_leave(c);
}

static void dispatch(struct http_conn *c)
{
        struct http_request *req = &c->req;

        c->msg_complete = false;
        c->state = CONN_DISPATCHED;
        http_conn_update_timer(c);
        /* The body is handed out NUL-terminated, which also makes it never NULL. */
        if (buf_reserve(&c->body, 1) < 0) {
                http_conn_send_error(c, 503, true);
                return;
        }
        c->body.data[c->body.len] = '\0';
        http_response_reset(req);
        if (!req->keep_alive || c->srv->shutting_down)
                c->close_after = true;
        c->srv->stats.requests++;
        http_server_dispatch(c->srv, req);
}

void http_conn_process(struct http_conn *c)
{
        if (c->processing)
                return; /* the loop below picks up where the caller left */
        if (c->state == CONN_CLOSING || c->state == CONN_LINGERING) {
                if (c->linger && !c->detached) {
                        http_conn_enter(c);
                        discard_input(c);
                        http_conn_leave(c);
                }
                return;
        }
        http_conn_enter(c);
        c->processing = true;
        while (!c->want_free && (c->state == CONN_IDLE || c->state == CONN_READING)) {
                struct evbuffer_iovec v;
                if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
                        break;
                const char *data = v.iov_base;
                llhttp_errno_t e = llhttp_execute(&c->parser, data, v.iov_len);
                size_t used = v.iov_len;
                if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
                        const char *pos = llhttp_get_error_pos(&c->parser);
                        if (pos && pos >= data && pos <= data + v.iov_len)
                                used = (size_t)(pos - data);
                }
                evbuffer_drain(c->in, used);
                if (e == HPE_OK)
                        continue;
                if (e == HPE_PAUSED) {
                        llhttp_resume(&c->parser);
                        if (c->msg_complete)
                                dispatch(c);
                        continue;
                }
                if (e == HPE_PAUSED_UPGRADE) {
                        /* Not an upgrade we speak: answer the request, then close. */
                        c->close_after = true;
                        if (c->msg_complete)
                                dispatch(c);
                        else
                                http_conn_close_after_flush(c);
                        break;
                }
                int status = c->err_status ? c->err_status : 400;
                log_debug("%s: bad request (%d): %s", c->peer_addr, status,
                          llhttp_get_error_reason(&c->parser));
                http_conn_send_error(c, status, true);
                break;
        }
        c->processing = false;
        if (!c->want_free && c->state != CONN_CLOSING && c->state != CONN_LINGERING &&
            !c->detached) {
                if (c->read_eof && c->state == CONN_IDLE)
                        http_conn_close_after_flush(c);
                else
                        http_io_set_reading(c,
                                            c->state != CONN_DISPATCHED ||
                                                evbuffer_get_length(c->in) < MAX_PIPELINE_BACKLOG);
        }
        http_conn_leave(c);
}

void http_conn_response_done(struct http_conn *c)
{
        struct http_request *req = &c->req;

        req->resp = RESP_DONE;
        buf_trim(&c->body);
        if (c->head.cap > KEEP_BUF_CAP)
                buf_trim(&c->head);
        if (c->close_after || c->srv->shutting_down) {
                http_conn_close_after_flush(c);
                return;
        }
        c->state = CONN_IDLE;
        http_conn_update_timer(c);
        /* A response that came later (asynchronous) resumes parsing what was pipelined. */
        http_conn_process(c);
}

void http_conn_peer_gone(struct http_conn *c, int err)
{
        c->read_eof = true;
        if (!err && c->state == CONN_CLOSING && evbuffer_get_length(c->out) > 0) {
                /* Done sending, maybe not done reading: finish the response, then close. */
                c->linger = false;
                evbuffer_drain(c->in, evbuffer_get_length(c->in));
                http_io_set_reading(c, false);
                return;
        }
        if (err || c->state == CONN_DISPATCHED || c->state == CONN_CLOSING ||
            c->state == CONN_LINGERING) {
                /* A pending long-poll or stream learns through its abort/finish callback. */
                http_conn_destroy(c);
                return;
        }
        if (c->state == CONN_READING && evbuffer_get_length(c->in) == 0) {
                http_conn_destroy(c); /* half a request and no more coming */
                return;
        }
        http_conn_process(c);
}

void http_conn_output_drained(struct http_conn *c, bool fully)
{
        if (c->state == CONN_CLOSING) {
                if (fully && !c->detached) /* a detached one is freed by its owner */
                        conn_flushed(c);
                return;
        }
        if (c->state == CONN_LINGERING)
                return;
        if (c->state == CONN_DISPATCHED && c->req.resp == RESP_STREAMING)
                http_stream_pump(c);
}

int http_conn_feed(struct http_conn *c, const void *data, size_t len)
{
        if (c->state == CONN_CLOSING || c->state == CONN_LINGERING)
                return -EPIPE;
        if (len && evbuffer_add(c->in, data, len) < 0)
                return -ENOMEM;
        http_conn_process(c);
        return c->state == CONN_CLOSING ? -EPIPE : 0;
}
