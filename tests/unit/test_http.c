/* Unit tests of the HTTP server layer (xapid/http_*.c): a real server on its own event_base in
 * a thread, driven over a real unix socket and TLS on 127.0.0.1 by blocking clients here. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "xapid/http_internal.h"
#include "xapid/http_server.h"

#define MAX_CONNS    24
#define STREAM_BYTES (50L * 1024 * 1024)
#define LINGER_MS    1000
#define LINGER_MAX   (4L * 1024 * 1024)

static char dir[64], sock_path[128], cert_path[128], key_path[128];
static struct event_base *base;
static struct http_server *srv;
static pthread_t thread;
static int stop_pipe[2];
static struct event *stop_ev;
static int aborted_count; /* touched only on the server thread */
static int shutdown_done_count;

/* ---------------- server side (runs on the server thread) ---------------- */

static void h_echo(struct http_request *req, void *ctx)
{
        size_t len;
        const char *body = http_request_body(req, &len);
        const char *ct = http_request_header(req, "content-type");
        http_respond(req, 200, ct ? ct : "application/octet-stream", body, len);
}

static void h_whoami(struct http_request *req, void *ctx)
{
        char b[128];
        int n = snprintf(b, sizeof(b), "uid=%ld tls=%d", http_request_peer_uid(req),
                         http_request_is_tls(req));
        http_respond(req, 200, "text/plain", b, (size_t)n);
}

static void h_stats(struct http_request *req, void *ctx)
{
        struct http_server_stats st;
        char b[160];
        http_server_get_stats(srv, &st);
        int n = snprintf(b, sizeof(b), "max_out=%zu aborted=%d conns=%zu", st.max_stream_buffered,
                         aborted_count, st.conns);
        http_respond(req, 200, "text/plain", b, (size_t)n);
}

struct slow {
        struct http_request *req;
        struct event *ev;
};

static void slow_cb(evutil_socket_t fd, short what, void *arg)
{
        struct slow *s = arg;
        http_respond(s->req, 200, "text/plain", "slow", 4);
        event_free(s->ev);
        free(s);
}

/* Answers 100 ms later: an asynchronous handler. */
static void h_slow(struct http_request *req, void *ctx)
{
        struct slow *s = calloc(1, sizeof(*s));
        s->req = req;
        s->ev = evtimer_new(http_request_base(req), slow_cb, s);
        struct timeval tv = {0, 100 * 1000};
        evtimer_add(s->ev, &tv);
}

static void wait_aborted(struct http_request *req, void *ctx)
{
        aborted_count++;
}

/* Never answers: a long-poll whose client goes away. */
static void h_wait(struct http_request *req, void *ctx)
{
        http_request_set_abort_cb(req, wait_aborted, NULL);
}

struct stream {
        long sent, total;
};

static int stream_fill(void *ctx, struct evbuffer *out)
{
        struct stream *s = ctx;
        unsigned char piece[32768];
        long n =
            s->total - s->sent < (long)sizeof(piece) ? s->total - s->sent : (long)sizeof(piece);
        for (long i = 0; i < n; i++)
                piece[i] = (unsigned char)((s->sent + i) % 251);
        evbuffer_add(out, piece, (size_t)n);
        s->sent += n;
        return s->sent == s->total ? HTTP_FILL_DONE : HTTP_FILL_MORE;
}

static void stream_finish(void *ctx, int err)
{
        free(ctx);
}

static const struct http_stream_ops stream_ops = {stream_fill, stream_finish};

static void h_stream(struct http_request *req, void *ctx)
{
        struct stream *s = calloc(1, sizeof(*s));
        const char *q = http_request_query(req);
        s->total = q ? atol(q) : 0;
        http_response_stream_begin(req, 200, "application/octet-stream", -1, &stream_ops, s);
}

static void shutdown_done(void *arg)
{
        shutdown_done_count++;
}

static void h_shutdown(struct http_request *req, void *ctx)
{
        http_respond(req, 200, "text/plain", "bye", 3);
        http_server_shutdown(srv, 3000, shutdown_done, NULL);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
        event_base_loopbreak(base);
}

static void *server_main(void *arg)
{
        event_base_dispatch(base);
        return NULL;
}

static int setup(void **state)
{
        strcpy(dir, "/tmp/test_http.XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(sock_path, sizeof(sock_path), "%s/xapi", dir);
        snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
        snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
        base = event_base_new();
        struct http_server_config cfg;
        http_server_config_defaults(&cfg);
        cfg.request_timeout_ms = 400;
        cfg.idle_timeout_ms = 1500;
        cfg.max_conns = MAX_CONNS;
        cfg.linger_ms = LINGER_MS;
        cfg.linger_max_bytes = LINGER_MAX;
        srv = http_server_new(base, &cfg);
        if (!srv || http_server_listen_unix(srv, sock_path, 0666) < 0 ||
            http_server_listen_tls(srv, "127.0.0.1", 0, cert_path, key_path) < 0)
                return -1;
        http_server_route(srv, "POST", "/echo", 0, h_echo, NULL);
        http_server_route(srv, "POST", "/jsonrpc", HTTP_ROUTE_CORS, h_echo, NULL);
        http_server_route(srv, "GET", "/whoami", 0, h_whoami, NULL);
        http_server_route(srv, "GET", "/stats", 0, h_stats, NULL);
        http_server_route(srv, "GET", "/slow", 0, h_slow, NULL);
        http_server_route(srv, "GET", "/wait", 0, h_wait, NULL);
        http_server_route(srv, "GET", "/stream", 0, h_stream, NULL);
        http_server_route(srv, "POST", "/shutdown", 0, h_shutdown, NULL);
        if (pipe(stop_pipe) < 0)
                return -1;
        stop_ev = event_new(base, stop_pipe[0], EV_READ, stop_cb, NULL);
        event_add(stop_ev, NULL);
        return pthread_create(&thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
        if (write(stop_pipe[1], "x", 1) != 1)
                return -1;
        pthread_join(thread, NULL);
        http_server_free(srv);
        event_free(stop_ev);
        event_base_free(base);
        close(stop_pipe[0]);
        close(stop_pipe[1]);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* ---------------- client side (test thread) ---------------- */

struct client {
        int fd;
        SSL_CTX *ctx;
        SSL *ssl;
        char rbuf[65536];
        size_t rpos, rlen;
};

static void set_timeout(int fd, int ms)
{
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static struct client *unix_client(void)
{
        struct client *c = calloc(1, sizeof(*c));
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        strcpy(sun.sun_path, sock_path);
        c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(c->fd >= 0);
        assert_int_equal(connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
        set_timeout(c->fd, 5000);
        return c;
}

/* A TLS client limited to [MINV, MAXV]; NULL if the handshake fails. */
static struct client *tls_client(int minv, int maxv)
{
        struct client *c = calloc(1, sizeof(*c));
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        set_timeout(c->fd, 5000);
        c->ctx = SSL_CTX_new(TLS_client_method());
        /* Security level 0 so that the client really offers TLS 1.1 when asked to. */
        SSL_CTX_set_cipher_list(c->ctx, "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(c->ctx, minv);
        SSL_CTX_set_max_proto_version(c->ctx, maxv);
        c->ssl = SSL_new(c->ctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_connect(c->ssl) != 1) {
                SSL_free(c->ssl);
                SSL_CTX_free(c->ctx);
                close(c->fd);
                free(c);
                return NULL;
        }
        return c;
}

static void client_close(struct client *c)
{
        if (!c)
                return;
        if (c->ssl)
                SSL_free(c->ssl);
        if (c->ctx)
                SSL_CTX_free(c->ctx);
        close(c->fd);
        free(c);
}

static void cl_send(struct client *c, const void *p, size_t len)
{
        if (c->ssl) {
                assert_int_equal(SSL_write(c->ssl, p, (int)len), (int)len);
                return;
        }
        const char *b = p;
        while (len) {
                ssize_t n = write(c->fd, b, len);
                assert_true(n > 0);
                b += n;
                len -= (size_t)n;
        }
}

/* For requests the server may refuse (and close) before reading them whole. */
static void cl_send_lax(struct client *c, const void *p, size_t len)
{
        const char *b = p;
        while (len) {
                ssize_t n = write(c->fd, b, len);
                if (n <= 0)
                        return;
                b += n;
                len -= (size_t)n;
        }
}

static void cl_sends(struct client *c, const char *s)
{
        cl_send(c, s, strlen(s));
}

/* Refills the read buffer: bytes read, 0 on EOF, -1 on error/timeout. */
static int cl_fill(struct client *c)
{
        if (c->rpos < c->rlen)
                return (int)(c->rlen - c->rpos);
        c->rpos = c->rlen = 0;
        ssize_t n = c->ssl ? SSL_read(c->ssl, c->rbuf, sizeof(c->rbuf))
                           : read(c->fd, c->rbuf, sizeof(c->rbuf));
        if (n < 0 && c->ssl && SSL_get_error(c->ssl, (int)n) == SSL_ERROR_ZERO_RETURN)
                n = 0;
        if (n <= 0)
                return n == 0 ? 0 : -1;
        c->rlen = (size_t)n;
        return (int)n;
}

static int cl_getc(struct client *c)
{
        if (cl_fill(c) <= 0)
                return -1;
        return (unsigned char)c->rbuf[c->rpos++];
}

static int cl_line(struct client *c, char *line, size_t size)
{
        size_t n = 0;
        int ch;
        while ((ch = cl_getc(c)) >= 0) {
                if (ch == '\n') {
                        if (n && line[n - 1] == '\r')
                                n--;
                        line[n] = '\0';
                        return (int)n;
                }
                if (n + 1 < size)
                        line[n++] = (char)ch;
        }
        return -1;
}

struct resp {
        int status;
        char headers[4096];
        char *body;
        size_t len;
        bool conn_close;
};

static void resp_free(struct resp *r)
{
        free(r->body);
        r->body = NULL;
}

static const char *resp_header(struct resp *r, const char *name)
{
        static char value[512];
        char *p = r->headers;
        size_t nl = strlen(name);
        while (*p) {
                char *eol = strchr(p, '\n');
                if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
                        const char *v = p + nl + 1;
                        while (*v == ' ')
                                v++;
                        size_t vl = (size_t)(eol - v);
                        memcpy(value, v, vl);
                        value[vl] = '\0';
                        return value;
                }
                p = eol + 1;
        }
        return NULL;
}

static void body_add(struct resp *r, const char *p, size_t n, bool verify, long *count)
{
        if (verify) {
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)p[i] != (unsigned char)((*count + (long)i) % 251))
                                fail_msg("stream byte %ld is wrong", *count + (long)i);
                *count += (long)n;
                return;
        }
        r->body = realloc(r->body, r->len + n + 1);
        memcpy(r->body + r->len, p, n);
        r->len += n;
        r->body[r->len] = '\0';
}

static void read_bytes(struct client *c, struct resp *r, size_t n, bool verify, long *count)
{
        while (n) {
                int avail = cl_fill(c);
                assert_true(avail > 0);
                size_t take = (size_t)avail < n ? (size_t)avail : n;
                body_add(r, c->rbuf + c->rpos, take, verify, count);
                c->rpos += take;
                n -= take;
        }
}

/* Reads one response; with VERIFY the body is checked against the stream pattern and only
 * counted (in r->len).  Returns -1 if the connection ended before a status line. */
static int read_response_ex(struct client *c, struct resp *r, bool verify)
{
        char line[8192];
        long count = 0;
        memset(r, 0, sizeof(*r));
        if (cl_line(c, line, sizeof(line)) < 0)
                return -1;
        assert_int_equal(strncmp(line, "HTTP/1.1 ", 9), 0);
        r->status = atoi(line + 9);
        size_t hl = 0;
        while (cl_line(c, line, sizeof(line)) > 0) {
                hl += (size_t)snprintf(r->headers + hl, sizeof(r->headers) - hl, "%s\n", line);
                assert_true(hl < sizeof(r->headers));
        }
        const char *v = resp_header(r, "Connection");
        r->conn_close = v && strcasecmp(v, "close") == 0;
        if ((v = resp_header(r, "Content-Length"))) {
                read_bytes(c, r, (size_t)atol(v), verify, &count);
        } else if ((v = resp_header(r, "Transfer-Encoding")) && strcasecmp(v, "chunked") == 0) {
                for (;;) {
                        assert_true(cl_line(c, line, sizeof(line)) > 0);
                        size_t n = strtoul(line, NULL, 16);
                        if (n == 0) {
                                assert_int_equal(cl_line(c, line, sizeof(line)), 0);
                                break;
                        }
                        read_bytes(c, r, n, verify, &count);
                        assert_int_equal(cl_line(c, line, sizeof(line)), 0);
                }
        }
        if (verify)
                r->len = (size_t)count;
        return 0;
}

static void read_response(struct client *c, struct resp *r)
{
        assert_int_equal(read_response_ex(c, r, false), 0);
}

static bool at_eof(struct client *c)
{
        return cl_fill(c) == 0;
}

/* One request on a fresh unix connection; returns the status, body into R. */
static int unix_request(const char *raw, struct resp *r)
{
        struct client *c = unix_client();
        cl_sends(c, raw);
        read_response(c, r);
        client_close(c);
        return r->status;
}

static void get_stats(long *max_out, int *aborted)
{
        struct resp r;
        unix_request("GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(sscanf(r.body, "max_out=%ld aborted=%d", max_out, aborted), 2);
        resp_free(&r);
}

/* ---------------- tests ---------------- */

static void simple_request(void **state)
{
        struct resp r;
        assert_int_equal(unix_request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x\r\n"
                                      "Content-Length: 5\r\n\r\nhello",
                                      &r),
                         200);
        assert_string_equal(r.body, "hello");
        assert_string_equal(resp_header(&r, "Content-Type"), "text/x");
        assert_false(r.conn_close);
        resp_free(&r);
}

static void keep_alive(void **state)
{
        struct client *c = unix_client();
        for (int i = 0; i < 5; i++) {
                char req[128], body[16];
                int n = snprintf(body, sizeof(body), "msg%d", i);
                snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", n,
                         body);
                cl_sends(c, req);
                struct resp r;
                read_response(c, &r);
                assert_int_equal(r.status, 200);
                assert_string_equal(r.body, body);
                resp_free(&r);
        }
        client_close(c);

        /* HTTP/1.0 keeps the connection only when asked to. */
        c = unix_client();
        for (int i = 0; i < 2; i++) {
                cl_sends(c, "GET /whoami HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
                struct resp r;
                read_response(c, &r);
                assert_int_equal(r.status, 200);
                assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
                resp_free(&r);
        }
        cl_sends(c, "GET /whoami HTTP/1.0\r\n\r\n");
        struct resp r;
        read_response(c, &r);
        assert_true(r.conn_close);
        assert_true(at_eof(c));
        resp_free(&r);
        client_close(c);
}

static void pipelining(void **state)
{
        struct client *c = unix_client();
        /* The slow (asynchronous) one first: later ones must still come after it. */
        cl_sends(c, "GET /slow HTTP/1.1\r\n\r\n"
                    "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                    "GET /whoami HTTP/1.1\r\n\r\n"
                    "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo");
        const char *want[] = {"slow", "one", NULL, "two"};
        for (int i = 0; i < 4; i++) {
                struct resp r;
                read_response(c, &r);
                assert_int_equal(r.status, 200);
                if (want[i])
                        assert_string_equal(r.body, want[i]);
                else
                        assert_int_equal(strncmp(r.body, "uid=", 4), 0);
                resp_free(&r);
        }
        client_close(c);
}

static void chunked_body(void **state)
{
        struct resp r;
        assert_int_equal(unix_request("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n"
                                      "X-Trailer: 1\r\n\r\n",
                                      &r),
                         200);
        assert_string_equal(r.body, "hello world");
        resp_free(&r);
}

static void expect_continue(void **state)
{
        struct client *c = unix_client();
        cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        char line[256];
        assert_true(cl_line(c, line, sizeof(line)) > 0);
        assert_string_equal(line, "HTTP/1.1 100 Continue");
        assert_int_equal(cl_line(c, line, sizeof(line)), 0);
        cl_sends(c, "data");
        struct resp r;
        read_response(c, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "data");
        resp_free(&r);
        client_close(c);
}

static void too_large_body(void **state)
{
        /* Declared too large: refused before the body is read. */
        struct client *c = unix_client();
        cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 400000\r\n\r\n");
        struct resp r;
        read_response(c, &r);
        assert_int_equal(r.status, 413);
        assert_true(r.conn_close);
        assert_true(at_eof(c));
        resp_free(&r);
        client_close(c);

        /* Chunked, growing beyond the limit. */
        c = unix_client();
        cl_sends(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        char *chunk = malloc(65536 + 16);
        int hl = sprintf(chunk, "10000\r\n");
        memset(chunk + hl, 'a', 65536);
        memcpy(chunk + hl + 65536, "\r\n", 2);
        for (int i = 0; i < 5; i++)
                cl_send_lax(c, chunk, (size_t)hl + 65536 + 2);
        free(chunk);
        read_response(c, &r);
        assert_int_equal(r.status, 413);
        resp_free(&r);
        client_close(c);

        /* Exactly the limit is fine. */
        c = unix_client();
        size_t n = 300 * 1024;
        char *body = malloc(n);
        memset(body, 'b', n);
        char head[128];
        snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
        cl_sends(c, head);
        cl_send(c, body, n);
        read_response(c, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.len, n);
        assert_memory_equal(r.body, body, n);
        free(body);
        resp_free(&r);
        client_close(c);
}

static int get_conns(void)
{
        struct resp r;
        long max_out;
        int aborted, conns;
        unix_request("GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(
            sscanf(r.body, "max_out=%ld aborted=%d conns=%d", &max_out, &aborted, &conns), 3);
        resp_free(&r);
        return conns - 1; /* without the one asking */
}

/* Polls until WANT connections are open (closes are seen asynchronously); returns the last
 * count seen, after at most 3 s. */
static int wait_conns(int want)
{
        int n = get_conns();
        for (int i = 0; i < 150 && n != want; i++) {
                usleep(20 * 1000);
                n = get_conns();
        }
        return n;
}

/* A client that sends its whole body before reading (as curl does) must read the 413 the
 * server answered early, over a unix socket and over TLS: lingering close. */
static void large_body_gets_413(void **state)
{
        size_t n = 2 * 1024 * 1024;
        char *body = malloc(n);
        memset(body, 'z', n);
        char head[128];
        snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
        for (int tls = 0; tls < 2; tls++) {
                struct client *c = tls ? tls_client(TLS1_2_VERSION, TLS1_3_VERSION) : unix_client();
                assert_non_null(c);
                cl_sends(c, head);
                for (size_t off = 0; off < n; off += 65536) /* every write must succeed */
                        cl_send(c, body + off, 65536);
                struct resp r;
                read_response(c, &r);
                assert_int_equal(r.status, 413);
                assert_true(r.conn_close);
                assert_true(at_eof(c));
                resp_free(&r);
                client_close(c);
        }
        free(body);
}

/* Lingering is bounded: a client that neither closes nor stops sending is cut off after
 * linger_ms, or after linger_max_bytes. */
static void lingering_is_bounded(void **state)
{
        assert_int_equal(wait_conns(0), 0); /* earlier tests' clients are all closed */
        struct client *c = unix_client();
        cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 999999999\r\n\r\nabc");
        struct resp r;
        read_response(c, &r);
        assert_int_equal(r.status, 413);
        resp_free(&r);
        assert_true(at_eof(c));           /* the server's sending side is shut */
        cl_send(c, "more", 4);            /* still discarded, not reset */
        assert_int_equal(get_conns(), 1); /* lingering counts as a connection */
        usleep(LINGER_MS * 1000);
        assert_int_equal(wait_conns(0), 0); /* cut off after linger_ms */
        client_close(c);

        /* The byte cap. */
        c = unix_client();
        cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n");
        read_response(c, &r);
        assert_int_equal(r.status, 413);
        resp_free(&r);
        char *junk = calloc(1, 65536);
        size_t sent = 0;
        for (;;) {
                ssize_t w = write(c->fd, junk, 65536);
                if (w <= 0)
                        break;
                sent += (size_t)w;
                assert_true(sent < 4 * LINGER_MAX);
        }
        assert_true(sent >= LINGER_MAX);
        free(junk);
        assert_int_equal(wait_conns(0), 0);
        client_close(c);
}

static void too_large_headers(void **state)
{
        struct client *c = unix_client();
        cl_sends(c, "GET /whoami HTTP/1.1\r\nX-Big: ");
        char *big = malloc(20000);
        memset(big, 'h', 20000);
        cl_send_lax(c, big, 20000);
        free(big);
        cl_send_lax(c, "\r\n\r\n", 4);
        struct resp r;
        read_response(c, &r);
        assert_int_equal(r.status, 431);
        assert_true(r.conn_close);
        resp_free(&r);
        client_close(c);
}

static void request_timeout(void **state)
{
        struct client *c = unix_client();
        cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
        struct resp r;
        read_response(c, &r); /* within the 400 ms limit, or the 5 s socket timeout fails */
        assert_int_equal(r.status, 408);
        assert_true(at_eof(c));
        resp_free(&r);
        client_close(c);
}

static void idle_timeout(void **state)
{
        struct client *c = unix_client();
        cl_sends(c, "GET /whoami HTTP/1.1\r\n\r\n");
        struct resp r;
        read_response(c, &r);
        resp_free(&r);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 500), 0); /* still open well before the idle limit */
        assert_int_equal(poll(&p, 1, 3000), 1);
        assert_true(at_eof(c));
        client_close(c);
}

static void malformed(void **state)
{
        const char *bad[] = {
            "GARBAGE\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
            "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                struct client *c = unix_client();
                cl_sends(c, bad[i]);
                struct resp r;
                read_response(c, &r);
                assert_int_equal(r.status, 400);
                assert_true(r.conn_close);
                assert_true(at_eof(c));
                resp_free(&r);
                client_close(c);
        }
}

static void not_found_and_method(void **state)
{
        struct resp r;
        assert_int_equal(unix_request("GET /nope HTTP/1.1\r\n\r\n", &r), 404);
        resp_free(&r);
        assert_int_equal(unix_request("GET /echo HTTP/1.1\r\n\r\n", &r), 405);
        assert_string_equal(resp_header(&r, "Allow"), "POST");
        resp_free(&r);
}

static void cors(void **state)
{
        struct resp r;
        assert_int_equal(unix_request("OPTIONS /jsonrpc HTTP/1.1\r\nOrigin: http://a\r\n"
                                      "Access-Control-Request-Method: POST\r\n\r\n",
                                      &r),
                         200);
        assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin"), "*");
        assert_non_null(strstr(resp_header(&r, "Access-Control-Allow-Methods"), "POST"));
        assert_non_null(strstr(resp_header(&r, "Access-Control-Allow-Headers"), "authorization"));
        resp_free(&r);
        assert_int_equal(unix_request("POST /jsonrpc HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", &r),
                         200);
        assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin"), "*");
        resp_free(&r);
        assert_int_equal(unix_request("POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", &r),
                         200);
        assert_null(resp_header(&r, "Access-Control-Allow-Origin"));
        resp_free(&r);
}

static void streaming_large(void **state)
{
        for (int tls = 0; tls < 2; tls++) { /* TLS writes and waits on its own (http_io.c) */
                struct client *c = tls ? tls_client(TLS1_2_VERSION, TLS1_3_VERSION) : unix_client();
                assert_non_null(c);
                char req[64];
                snprintf(req, sizeof(req), "GET /stream?%ld HTTP/1.1\r\n\r\n", STREAM_BYTES);
                cl_sends(c, req);
                struct resp r;
                assert_int_equal(read_response_ex(c, &r, true), 0);
                assert_int_equal(r.status, 200);
                assert_int_equal(r.len, STREAM_BYTES);
                /* The connection is still usable after a stream. */
                cl_sends(c, "GET /stream?10 HTTP/1.1\r\n\r\n");
                assert_int_equal(read_response_ex(c, &r, true), 0);
                assert_int_equal(r.len, 10);
                client_close(c);
                long max_out;
                int aborted;
                get_stats(&max_out, &aborted);
                /* The producer runs only below the 64 KiB watermark and adds 32 KiB + framing at
                 * most. */
                assert_true(max_out < 64 * 1024 + 32 * 1024 + 64);
                assert_true(max_out > 0);
        }
}

static void peer_uid(void **state)
{
        struct resp r;
        unix_request("GET /whoami HTTP/1.1\r\n\r\n", &r);
        char want[64];
        snprintf(want, sizeof(want), "uid=%ld tls=0", (long)getuid());
        assert_string_equal(r.body, want);
        resp_free(&r);

        struct client *c = tls_client(TLS1_2_VERSION, TLS1_3_VERSION);
        assert_non_null(c);
        cl_sends(c, "GET /whoami HTTP/1.1\r\n\r\n");
        read_response(c, &r);
        assert_string_equal(r.body, "uid=-1 tls=1");
        resp_free(&r);
        client_close(c);
}

static void tls_versions(void **state)
{
        int ok_versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
        for (int i = 0; i < 2; i++) {
                struct client *c = tls_client(ok_versions[i], ok_versions[i]);
                assert_non_null(c);
                assert_int_equal(SSL_version(c->ssl), ok_versions[i]);
                cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\ntls");
                struct resp r;
                read_response(c, &r);
                assert_string_equal(r.body, "tls");
                resp_free(&r);
                client_close(c);
        }
        assert_null(tls_client(TLS1_1_VERSION, TLS1_1_VERSION));
        assert_null(tls_client(TLS1_VERSION, TLS1_VERSION));
}

static char *slurp(const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return NULL;
        char *b = calloc(1, 65536);
        size_t n = fread(b, 1, 65535, f);
        b[n] = '\0';
        fclose(f);
        return b;
}

static void cert_generated_and_reused(void **state)
{
        struct stat st;
        assert_int_equal(stat(cert_path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(key_path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        char *cert = slurp(cert_path), *key = slurp(key_path);
        assert_non_null(strstr(cert, "BEGIN CERTIFICATE"));
        assert_non_null(strstr(key, "PRIVATE KEY"));

        SSL_CTX *ctx = NULL;
        assert_int_equal(http_tls_ctx_new(cert_path, key_path, &ctx), 0);
        SSL_CTX_free(ctx);
        char *cert2 = slurp(cert_path), *key2 = slurp(key_path);
        assert_string_equal(cert, cert2);
        assert_string_equal(key, key2);

        /* Only one of the two present: refuse rather than overwrite. */
        char lone[160];
        snprintf(lone, sizeof(lone), "%s/missing-key.pem", dir);
        assert_int_equal(http_tls_ctx_new(cert_path, lone, &ctx), -ENOENT);
        /* Certificate and key in one file, as XAPI's xapi-ssl.pem. */
        char both[160];
        snprintf(both, sizeof(both), "%s/both.pem", dir);
        assert_int_equal(http_tls_ctx_new(both, both, &ctx), 0);
        SSL_CTX_free(ctx);
        char *b = slurp(both);
        assert_non_null(strstr(b, "BEGIN CERTIFICATE"));
        assert_non_null(strstr(b, "PRIVATE KEY"));
        free(b);
        free(cert);
        free(key);
        free(cert2);
        free(key2);
}

static void client_went_away(void **state)
{
        long max_out;
        int before, after = 0;
        get_stats(&max_out, &before);
        struct client *c = unix_client();
        cl_sends(c, "GET /wait HTTP/1.1\r\n\r\n");
        usleep(50 * 1000);
        client_close(c);
        for (int i = 0; i < 50 && after <= before; i++) {
                usleep(20 * 1000);
                get_stats(&max_out, &after);
        }
        assert_int_equal(after, before + 1);
}

static void connection_limit(void **state)
{
        struct client *cs[MAX_CONNS + 2];
        int served = 0, blocked = -1;
        for (int i = 0; i < MAX_CONNS + 2 && blocked < 0; i++) {
                cs[i] = unix_client();
                cl_sends(cs[i], "GET /whoami HTTP/1.1\r\n\r\n");
                struct pollfd p = {.fd = cs[i]->fd, .events = POLLIN};
                if (poll(&p, 1, 300) == 1) {
                        struct resp r;
                        read_response(cs[i], &r);
                        resp_free(&r);
                        served++;
                } else {
                        blocked = i;
                }
        }
        assert_true(blocked >= 0);
        assert_true(served <= MAX_CONNS && served >= MAX_CONNS - 3);
        client_close(cs[0]); /* frees a slot: the waiting one is accepted and answered */
        struct resp r;
        read_response(cs[blocked], &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
        for (int i = 1; i <= blocked; i++)
                client_close(cs[i]);
}

/* The protocol core without sockets, as the fuzzer drives it. */
static void detached_core(void **state)
{
        struct event_base *b = event_base_new();
        struct http_server *s = http_server_new(b, NULL);
        http_server_route(s, "POST", "/echo", 0, h_echo, NULL);
        struct http_conn *c = http_conn_new(s, true);
        const char *in =
            "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /x HTTP/1.1\r\n\r\n";
        for (const char *p = in; *p; p++) /* byte by byte: every split point */
                assert_int_equal(http_conn_feed(c, p, 1), 0);
        size_t n = evbuffer_get_length(c->out);
        char *out = calloc(1, n + 1);
        evbuffer_remove(c->out, out, n);
        assert_non_null(strstr(out, "200 OK"));
        assert_non_null(strstr(out, "\r\n\r\nok"));
        assert_non_null(strstr(out, "404 Not Found"));
        assert_true(strstr(out, "200 OK") < strstr(out, "404"));
        free(out);
        assert_int_equal(http_conn_feed(c, "\x01\x02", 2), -EPIPE);
        http_conn_destroy(c);
        http_server_free(s);
        event_base_free(b);
}

static void graceful_shutdown(void **state)
{
        struct client *idle = unix_client();
        cl_sends(idle, "GET /whoami HTTP/1.1\r\n\r\n");
        struct resp r;
        read_response(idle, &r);
        resp_free(&r);
        struct client *busy = unix_client();
        cl_sends(busy, "GET /slow HTTP/1.1\r\n\r\n");
        usleep(20 * 1000);
        assert_int_equal(unix_request("POST /shutdown HTTP/1.1\r\n\r\n", &r), 200);
        resp_free(&r);
        /* In flight: finished, with Connection: close. */
        read_response(busy, &r);
        assert_string_equal(r.body, "slow");
        assert_true(r.conn_close);
        assert_true(at_eof(busy));
        resp_free(&r);
        assert_true(at_eof(idle));
        client_close(idle);
        client_close(busy);
        /* No longer listening. */
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        strcpy(sun.sun_path, sock_path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_not_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
        close(fd);
        usleep(50 * 1000);
        assert_int_equal(shutdown_done_count, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(simple_request),       cmocka_unit_test(keep_alive),
            cmocka_unit_test(pipelining),           cmocka_unit_test(chunked_body),
            cmocka_unit_test(expect_continue),      cmocka_unit_test(too_large_body),
            cmocka_unit_test(too_large_headers),    cmocka_unit_test(request_timeout),
            cmocka_unit_test(idle_timeout),         cmocka_unit_test(malformed),
            cmocka_unit_test(not_found_and_method), cmocka_unit_test(cors),
            cmocka_unit_test(streaming_large),      cmocka_unit_test(peer_uid),
            cmocka_unit_test(tls_versions),         cmocka_unit_test(cert_generated_and_reused),
            cmocka_unit_test(client_went_away),     cmocka_unit_test(connection_limit),
            cmocka_unit_test(detached_core),        cmocka_unit_test(large_body_gets_413),
            cmocka_unit_test(lingering_is_bounded), cmocka_unit_test(graceful_shutdown),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
