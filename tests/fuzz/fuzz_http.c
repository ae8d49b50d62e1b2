/* libFuzzer target: bytes into the HTTP protocol core (xapid/http_conn.c) of a detached
 * connection, without sockets.  The first byte picks how the input is split into reads, so
 * every split point of the parser's state machine gets exercised; handlers answer at once,
 * later (asynchronously) or with a stream, so the request lifecycle is fuzzed too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "xapid/http_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct http_server *srv;
static struct http_request *pending; /* an asynchronous request to answer after a read */

static void h_echo(struct http_request *req, void *ctx)
{
        size_t len;
        const char *body = http_request_body(req, &len);
        const char *ct = http_request_header(req, "content-type");
        http_response_header(req, "X-Query", http_request_query(req) ? "yes" : "no");
        http_respond(req, 200, ct, body, len);
}

static void aborted(struct http_request *req, void *ctx)
{
        if (pending == req)
                pending = NULL;
}

static void h_async(struct http_request *req, void *ctx)
{
        pending = req;
        http_request_set_abort_cb(req, aborted, NULL);
}

static int fill(void *ctx, struct evbuffer *out)
{
        int *left = ctx;
        evbuffer_add(out, "0123456789abcdef", 16);
        return --*left > 0 ? HTTP_FILL_MORE : HTTP_FILL_DONE;
}

static const struct http_stream_ops stream_ops = {fill, NULL};
static int stream_left;

static void h_stream(struct http_request *req, void *ctx)
{
        stream_left = 5000; /* 80 KB: more than the low watermark, so pumping resumes */
        http_response_stream_begin(req, 200, "text/plain", -1, &stream_ops, &stream_left);
}

static void drain(struct http_conn *c)
{
        for (int i = 0; i < 100; i++) {
                size_t n = evbuffer_get_length(c->out);
                if (!n)
                        break;
                evbuffer_drain(c->out, n);
                http_conn_output_drained(c, true);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        struct http_server_config cfg;
        http_server_config_defaults(&cfg);
        cfg.max_body = 4096;
        cfg.max_header = 2048;
        base = event_base_new();
        srv = http_server_new(base, &cfg);
        http_server_route(srv, "POST", "/", 0, h_echo, NULL);
        http_server_route(srv, "POST", "/jsonrpc", HTTP_ROUTE_CORS, h_echo, NULL);
        http_server_route(srv, NULL, "/async", 0, h_async, NULL);
        http_server_route(srv, "GET", "/stream", 0, h_stream, NULL);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        size_t step = (size_t)(data[0] % 16) + 1;
        data++;
        size--;
        struct http_conn *c = http_conn_new(srv, true);
        if (!c)
                return 0;
        for (size_t off = 0; off < size; off += step) {
                size_t n = size - off < step ? size - off : step;
                if (http_conn_feed(c, data + off, n) < 0)
                        break;
                drain(c);
                if (pending) {
                        struct http_request *req = pending;
                        pending = NULL;
                        http_respond_status(req, 200);
                        drain(c);
                }
        }
        http_conn_destroy(c); /* a still pending request is aborted here */
        pending = NULL;
        return 0;
}
