/* HTTP client for xe.  The server (xapid) answers with Content-Length or chunked bodies;
 * a connection the server closed is reopened once before giving up. */
#include "cli/xe_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/xe_value.h"

void xe_conn_close(struct xe_conn *c)
{
        if (c->ssl) {
                SSL_shutdown(c->ssl);
                SSL_free(c->ssl);
                c->ssl = NULL;
        }
        if (c->ssl_ctx) {
                SSL_CTX_free(c->ssl_ctx);
                c->ssl_ctx = NULL;
        }
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
}

static int open_unix(struct xe_conn *c, char **error)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(c->socket_path) >= sizeof sa.sun_path) {
                *error = xe_strf("socket path too long: %s", c->socket_path);
                return -1;
        }
        strcpy(sa.sun_path, c->socket_path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                *error =
                    xe_strf("Unable to contact server at %s: %s", c->socket_path, strerror(errno));
                xe_conn_close(c);
                return -1;
        }
        return 0;
}

static int open_tls(struct xe_conn *c, char **error)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        char port[16];
        snprintf(port, sizeof port, "%d", c->port);
        int rc = getaddrinfo(c->host, port, &hints, &ai);
        if (rc) {
                *error = xe_strf("Host '%s' not found: %s", c->host, gai_strerror(rc));
                return -1;
        }
        int err = 0;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                c->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (c->fd >= 0 && connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                err = errno;
                if (c->fd >= 0)
                        close(c->fd);
                c->fd = -1;
        }
        freeaddrinfo(ai);
        if (c->fd < 0) {
                *error =
                    xe_strf("Unable to contact server %s:%d: %s", c->host, c->port, strerror(err));
                return -1;
        }
        /* Like XAPI's xe, the server's certificate is not verified: hosts use self-signed
         * certificates made at first start. */
        c->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (c->ssl_ctx)
                SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
        c->ssl = c->ssl_ctx ? SSL_new(c->ssl_ctx) : NULL;
        /* SNI names hosts, never addresses (RFC 6066) */
        unsigned char addr[sizeof(struct in6_addr)];
        bool literal =
            inet_pton(AF_INET, c->host, addr) == 1 || inet_pton(AF_INET6, c->host, addr) == 1;
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) ||
            (!literal && !SSL_set_tlsext_host_name(c->ssl, c->host)) || SSL_connect(c->ssl) != 1) {
                unsigned long e = ERR_get_error();
                *error = xe_strf("TLS handshake with %s:%d failed: %s", c->host, c->port,
                                 e ? ERR_reason_error_string(e) : "connection closed");
                xe_conn_close(c);
                return -1;
        }
        return 0;
}

static int conn_open(struct xe_conn *c, char **error)
{
        if (c->fd >= 0)
                return 0;
        return c->socket_path ? open_unix(c, error) : open_tls(c, error);
}

static int write_all(struct xe_conn *c, const char *p, size_t n)
{
        while (n) {
                ssize_t w;
                if (c->ssl)
                        w = SSL_write(c->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
                else
                        w = send(c->fd, p, n, MSG_NOSIGNAL);
                if (w <= 0) {
                        if (!c->ssl && w < 0 && errno == EINTR)
                                continue;
                        return -1;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Buffered reader over the connection. */
struct reader {
        struct xe_conn *c;
        char buf[16384];
        size_t pos, len;
};

static int fill(struct reader *r)
{
        ssize_t n;
        do {
                n = r->c->ssl ? SSL_read(r->c->ssl, r->buf, sizeof r->buf)
                              : recv(r->c->fd, r->buf, sizeof r->buf, 0);
        } while (n < 0 && !r->c->ssl && errno == EINTR);
        if (n <= 0)
                return -1;
        r->pos = 0;
        r->len = (size_t)n;
        return 0;
}

/* One CRLF-terminated line, without the terminator; NULL at end of stream. */
static char *read_line(struct reader *r, char *line, size_t cap)
{
        size_t n = 0;
        for (;;) {
                if (r->pos == r->len && fill(r) < 0)
                        return NULL;
                char ch = r->buf[r->pos++];
                if (ch == '\n')
                        break;
                if (n + 1 < cap)
                        line[n++] = ch;
        }
        if (n && line[n - 1] == '\r')
                n--;
        line[n] = '\0';
        return line;
}

static int read_exact(struct reader *r, char *out, size_t n)
{
        while (n) {
                if (r->pos == r->len && fill(r) < 0)
                        return -1;
                size_t k = r->len - r->pos < n ? r->len - r->pos : n;
                memcpy(out, r->buf + r->pos, k);
                r->pos += k;
                out += k;
                n -= k;
        }
        return 0;
}

static int append(char **body, size_t *len, size_t *cap, struct reader *r, size_t n)
{
        if (*len + n + 1 > *cap) {
                *cap = (*len + n + 1) * 2;
                char *p = realloc(*body, *cap);
                if (!p)
                        return -1;
                *body = p;
        }
        if (read_exact(r, *body + *len, n) < 0)
                return -1;
        *len += n;
        (*body)[*len] = '\0';
        return 0;
}

enum { MAX_BODY = 512 << 20 };

static int read_response(struct xe_conn *c, char **resp, size_t *resp_len, bool *keep, char **error)
{
        struct reader *r = calloc(1, sizeof *r);
        char line[8192];
        int status = -1;
        long long clen = -1;
        bool chunked = false;
        char *body = NULL;
        size_t len = 0, cap = 0;
        if (!r)
                return -1;
        r->c = c;
        *keep = true;
        if (!read_line(r, line, sizeof line) || sscanf(line, "HTTP/1.%*d %d", &status) != 1)
                goto bad;
        if (strncmp(line, "HTTP/1.0", 8) == 0)
                *keep = false;
        while (read_line(r, line, sizeof line) && line[0]) {
                if (strncasecmp(line, "Content-Length:", 15) == 0)
                        clen = atoll(line + 15);
                else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
                         strcasestr(line, "chunked"))
                        chunked = true;
                else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line, "close"))
                        *keep = false;
        }
        if (chunked) {
                for (;;) {
                        if (!read_line(r, line, sizeof line))
                                goto bad;
                        char *end;
                        unsigned long long n = strtoull(line, &end, 16);
                        if (end == line || len + n > MAX_BODY)
                                goto bad;
                        if (n == 0) {
                                while (read_line(r, line, sizeof line) && line[0])
                                        ; /* trailers */
                                break;
                        }
                        if (append(&body, &len, &cap, r, n) < 0 || !read_line(r, line, sizeof line))
                                goto bad;
                }
        } else if (clen >= 0) {
                if (clen > MAX_BODY || append(&body, &len, &cap, r, (size_t)clen) < 0)
                        goto bad;
        } else { /* until the server closes */
                *keep = false;
                for (;;) {
                        if (r->pos == r->len && fill(r) < 0)
                                break;
                        size_t n = r->len - r->pos;
                        if (len + n > MAX_BODY || append(&body, &len, &cap, r, n) < 0)
                                goto bad;
                }
        }
        if (!body && !(body = strdup("")))
                goto bad;
        free(r);
        *resp = body;
        *resp_len = len;
        return status;
bad:
        free(r);
        free(body);
        *error = xe_strf("Lost connection to the server.");
        return -1;
}

int xe_http_post(struct xe_conn *c, const char *path, const char *content_type, const char *body,
                 size_t len, char **resp, size_t *resp_len, char **error)
{
        char head[512];
        int hn = snprintf(head, sizeof head,
                          "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: xe\r\nContent-Type: "
                          "%s\r\nContent-Length: %zu\r\n\r\n",
                          path, c->socket_path ? "localhost" : c->host, content_type, len);
        for (int attempt = 0;; attempt++) {
                bool reused = c->fd >= 0;
                if (conn_open(c, error) < 0)
                        return -1;
                bool keep = false;
                int status = -1;
                if (write_all(c, head, (size_t)hn) == 0 && write_all(c, body, len) == 0)
                        status = read_response(c, resp, resp_len, &keep, error);
                if (status < 0 || !keep)
                        xe_conn_close(c);
                /* a kept-alive connection the server has since closed: try a fresh one once */
                if (status < 0 && reused && attempt == 0) {
                        free(*error);
                        *error = NULL;
                        continue;
                }
                if (status < 0 && !*error)
                        *error = xe_strf("Lost connection to the server.");
                return status;
        }
}
