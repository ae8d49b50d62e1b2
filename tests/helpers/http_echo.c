/* Test-only server for tests/integration/test_http_curl: the xapid HTTP layer with a few
 * handlers, on a unix socket and an HTTPS port, until SIGTERM or SIGINT.
 *   http_echo SOCKET_PATH CERT KEY PORT_FILE
 * Writes the HTTPS port into PORT_FILE once listening.
 *   POST /echo      the body back, with the request's Content-Type
 *   POST /jsonrpc   same, with CORS
 *   GET  /whoami    "uid=<peer uid> tls=<0|1>"
 *   GET  /stream?N  N bytes (i % 251) streamed in chunks */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "xapid/http_server.h"

LOG_MODULE(http_echo)

static void h_echo(struct http_request *req, void *ctx)
{
        size_t len;
        const char *body = http_request_body(req, &len);
        const char *ct = http_request_header(req, "Content-Type");
        http_respond(req, 200, ct ? ct : "application/octet-stream", body, len);
}

static void h_whoami(struct http_request *req, void *ctx)
{
        char b[64];
        int n = snprintf(b, sizeof(b), "uid=%ld tls=%d", http_request_peer_uid(req),
                         http_request_is_tls(req));
        http_respond(req, 200, "text/plain", b, (size_t)n);
}

struct stream {
        long sent, total;
};

static int fill(void *ctx, struct evbuffer *out)
{
        struct stream *s = ctx;
        unsigned char piece[16384];
        long n = s->total - s->sent;
        if (n > (long)sizeof(piece))
                n = sizeof(piece);
        for (long i = 0; i < n; i++)
                piece[i] = (unsigned char)((s->sent + i) % 251);
        evbuffer_add(out, piece, (size_t)n);
        s->sent += n;
        return s->sent == s->total ? HTTP_FILL_DONE : HTTP_FILL_MORE;
}

static void finish(void *ctx, int err)
{
        free(ctx);
}

static const struct http_stream_ops ops = {fill, finish};

static void h_stream(struct http_request *req, void *ctx)
{
        struct stream *s = calloc(1, sizeof(*s));
        if (!s) {
                http_respond_status(req, 503);
                return;
        }
        const char *q = http_request_query(req);
        s->total = q ? atol(q) : 0;
        if (s->total < 0)
                s->total = 0;
        http_response_stream_begin(req, 200, "application/octet-stream", -1, &ops, s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
        log_init("http_echo");
        if (argc != 5) {
                fprintf(stderr, "usage: http_echo SOCKET CERT KEY PORT_FILE\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        struct event_base *base = event_base_new();
        struct http_server *srv = base ? http_server_new(base, NULL) : NULL;
        if (!srv)
                fatalx("cannot create the server");
        int r = http_server_listen_unix(srv, argv[1], 0666);
        if (r < 0)
                fatalx("listen on %s: %s", argv[1], strerror(-r));
        r = http_server_listen_tls(srv, "127.0.0.1", 0, argv[2], argv[3]);
        if (r < 0)
                fatalx("listen on HTTPS: %s", strerror(-r));
        http_server_route(srv, "POST", "/echo", 0, h_echo, NULL);
        http_server_route(srv, "POST", "/jsonrpc", HTTP_ROUTE_CORS, h_echo, NULL);
        http_server_route(srv, "GET", "/whoami", 0, h_whoami, NULL);
        http_server_route(srv, "GET", "/stream", 0, h_stream, NULL);

        struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
        struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
        evsignal_add(sigterm, NULL);
        evsignal_add(sigint, NULL);

        FILE *f = fopen(argv[4], "w");
        if (!f)
                fatal("%s", argv[4]);
        fprintf(f, "%u\n", http_server_port(srv));
        fclose(f);

        event_base_dispatch(base);
        http_server_free(srv);
        event_free(sigterm);
        event_free(sigint);
        event_base_free(base);
        return 0;
}
