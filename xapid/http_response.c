/* Responses: status line and headers, whole bodies, streamed bodies (chunked or with a
 * Content-Length) produced by a fill() callback as the connection's output drains, and the
 * error responses the server sends by itself. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "xapid/http_internal.h"

LOG_MODULE(http_response)

const char *http_status_reason(int status)
{
        switch (status) {
        case 100:
                return "Continue";
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 204:
                return "No Content";
        case 301:
                return "Moved Permanently";
        case 302:
                return "Found";
        case 304:
                return "Not Modified";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 411:
                return "Length Required";
        case 413:
                return "Payload Too Large";
        case 414:
                return "URI Too Long";
        case 415:
                return "Unsupported Media Type";
        case 417:
                return "Expectation Failed";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 503:
                return "Service Unavailable";
        default:
                return "Unknown";
        }
}

void http_response_reset(struct http_request *req)
{
        req->resp = RESP_NONE;
        req->route_flags = 0;
        req->abort_fn = NULL;
        req->abort_ctx = NULL;
        req->ops = NULL;
        req->stream_ctx = NULL;
        req->chunked = false;
        req->stream_waiting = false;
        req->pumping = false;
        req->remaining = -1;
        evbuffer_drain(req->extra_headers, evbuffer_get_length(req->extra_headers));
}

/* A request the handler may still answer. */
static int answerable(const struct http_request *req)
{
        if (!req || req->resp != RESP_NONE || req->conn->state != CONN_DISPATCHED ||
            req->conn->want_free)
                return -EALREADY;
        return 0;
}

static void note_stream_buffered(struct http_conn *c)
{
        size_t n = evbuffer_get_length(c->out);
        if (n > c->srv->stats.max_stream_buffered)
                c->srv->stats.max_stream_buffered = n;
}

/* LENGTH: the Content-Length, or -1 for chunked (CHUNKED) or close-delimited. */
static void write_head(struct http_conn *c, int status, const char *content_type, int64_t length,
                       bool chunked)
{
        struct http_request *req = &c->req;
        char head[512];
        int n =
            snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", status, http_status_reason(status));
        if (content_type && strlen(content_type) < 200)
                n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n",
                              content_type);
        if (length >= 0)
                n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %" PRId64 "\r\n",
                              length);
        else if (chunked)
                n += snprintf(head + n, sizeof(head) - (size_t)n, "Transfer-Encoding: chunked\r\n");
        if (c->close_after || c->srv->shutting_down)
                n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
        else if (req->http_minor == 0)
                n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: keep-alive\r\n");
        if (req->route_flags & HTTP_ROUTE_CORS)
                n += snprintf(head + n, sizeof(head) - (size_t)n,
                              "Access-Control-Allow-Origin: *\r\n");
        evbuffer_add(c->out, head, (size_t)n);
        evbuffer_add_buffer(c->out, req->extra_headers);
        evbuffer_add(c->out, "\r\n", 2);
}

int http_response_header(struct http_request *req, const char *name, const char *value)
{
        if (answerable(req) < 0)
                return -EALREADY;
        if (!name || !value || !*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
                return -EINVAL;
        if (evbuffer_add_printf(req->extra_headers, "%s: %s\r\n", name, value) < 0)
                return -ENOMEM;
        return 0;
}

int http_respond_buffer(struct http_request *req, int status, const char *content_type,
                        struct evbuffer *body)
{
        if (answerable(req) < 0)
                return -EALREADY;
        struct http_conn *c = req->conn;
        size_t len = body ? evbuffer_get_length(body) : 0;

        if (c->srv->shutting_down)
                c->close_after = true;
        write_head(c, status, content_type, (int64_t)len, false);
        if (body) {
                if (req->is_head)
                        evbuffer_drain(body, len);
                else
                        evbuffer_add_buffer(c->out, body);
        }
        http_conn_enter(c);
        http_conn_response_done(c);
        http_conn_leave(c);
        return 0;
}

int http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                 size_t len)
{
        if (answerable(req) < 0)
                return -EALREADY;
        struct http_conn *c = req->conn;

        if (c->srv->shutting_down)
                c->close_after = true;
        write_head(c, status, content_type, (int64_t)len, false);
        if (len && !req->is_head)
                evbuffer_add(c->out, body, len);
        http_conn_enter(c);
        http_conn_response_done(c);
        http_conn_leave(c);
        return 0;
}

int http_respond_status(struct http_request *req, int status)
{
        const char *r = http_status_reason(status);
        return http_respond(req, status, "text/plain", r, strlen(r));
}

void http_conn_send_error(struct http_conn *c, int status, bool close)
{
        if (c->state == CONN_DISPATCHED || c->state == CONN_CLOSING || c->state == CONN_LINGERING) {
                http_conn_destroy(c); /* a response is under way: nothing sane to add */
                return;
        }
        struct http_request *req = &c->req;
        const char *reason = http_status_reason(status);
        http_response_reset(req);
        req->http_minor = 1;
        if (close) {
                c->close_after = true;
                c->linger = true; /* the client may well be sending still: see linger_ms */
        }
        write_head(c, status, "text/plain", (int64_t)strlen(reason), false);
        evbuffer_add(c->out, reason, strlen(reason));
        req->resp = RESP_DONE;
        if (c->close_after)
                http_conn_close_after_flush(c);
        else
                c->state = CONN_IDLE;
}

static void stream_finish(struct http_request *req, int err)
{
        const struct http_stream_ops *ops = req->ops;
        void *ctx = req->stream_ctx;
        req->resp = RESP_DONE;
        req->ops = NULL;
        if (ops && ops->finish)
                ops->finish(ctx, err);
}

void http_request_abandon(struct http_request *req, int err)
{
        if (req->resp == RESP_STREAMING) {
                stream_finish(req, err);
                return;
        }
        if (req->resp != RESP_NONE)
                return;
        req->resp = RESP_DONE;
        void (*fn)(struct http_request *, void *) = req->abort_fn;
        req->abort_fn = NULL;
        if (fn)
                fn(req, req->abort_ctx);
}

/* The stream cannot complete: whatever is queued goes out, then the connection closes, so
 * the client sees a truncated body rather than a wrong one. */
static void stream_fail(struct http_conn *c, int err)
{
        log_warnx("%s: streamed response aborted: %s", c->peer_addr, strerror(-err));
        c->close_after = true;
        stream_finish(&c->req, err);
        http_conn_close_after_flush(c);
}

void http_stream_pump(struct http_conn *c)
{
        struct http_request *req = &c->req;
        size_t low = c->srv->cfg.stream_low_watermark;

        if (req->pumping)
                return;
        http_conn_enter(c);
        req->pumping = true;
        while (req->resp == RESP_STREAMING && !req->stream_waiting && !c->want_free &&
               evbuffer_get_length(c->out) < low) {
                int r = req->ops->fill(req->stream_ctx, c->scratch);
                size_t n = evbuffer_get_length(c->scratch);
                if (r < 0 || r > HTTP_FILL_WAIT) {
                        evbuffer_drain(c->scratch, n);
                        stream_fail(c, r < 0 ? r : -EINVAL);
                        break;
                }
                if (req->remaining >= 0 && (uint64_t)n > (uint64_t)req->remaining) {
                        evbuffer_drain(c->scratch, n);
                        stream_fail(c, -EOVERFLOW);
                        break;
                }
                if (n) {
                        if (req->chunked) {
                                char hdr[24];
                                int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
                                evbuffer_add(c->out, hdr, (size_t)hl);
                                evbuffer_add_buffer(c->out, c->scratch);
                                evbuffer_add(c->out, "\r\n", 2);
                        } else {
                                evbuffer_add_buffer(c->out, c->scratch);
                        }
                        if (req->remaining >= 0)
                                req->remaining -= (int64_t)n;
                        note_stream_buffered(c);
                }
                if (r == HTTP_FILL_DONE) {
                        if (req->remaining > 0) {
                                stream_fail(c, -EPROTO);
                                break;
                        }
                        if (req->chunked)
                                evbuffer_add(c->out, "0\r\n\r\n", 5);
                        stream_finish(req, 0);
                        http_conn_response_done(c);
                        break;
                }
                if (r == HTTP_FILL_WAIT)
                        req->stream_waiting = true;
        }
        req->pumping = false;
        http_conn_leave(c);
}

int http_response_stream_begin(struct http_request *req, int status, const char *content_type,
                               int64_t content_length, const struct http_stream_ops *ops, void *ctx)
{
        if (answerable(req) < 0)
                return -EALREADY;
        if (!ops || !ops->fill)
                return -EINVAL;
        struct http_conn *c = req->conn;

        if (c->srv->shutting_down)
                c->close_after = true;
        req->ops = ops;
        req->stream_ctx = ctx;
        req->remaining = content_length >= 0 ? content_length : -1;
        req->chunked = content_length < 0 && req->http_minor >= 1;
        if (content_length < 0 && !req->chunked)
                c->close_after = true; /* HTTP/1.0: the end of the body is the end of the stream */
        write_head(c, status, content_type, req->remaining, req->chunked);
        req->resp = RESP_STREAMING;
        http_conn_enter(c);
        if (req->is_head) {
                stream_finish(req, 0);
                http_conn_response_done(c);
        } else {
                http_stream_pump(c);
        }
        http_conn_leave(c);
        return 0;
}

void http_response_stream_wake(struct http_request *req)
{
        if (!req || req->resp != RESP_STREAMING || !req->stream_waiting)
                return;
        req->stream_waiting = false;
        http_stream_pump(req->conn);
}
