/* Keep-alive RPC load generator for benchmarks.
 *
 *   rpc_load (--unix PATH | --tls HOST:PORT | --tcp HOST:PORT) [--path /] [--clients 8]
 *            [--seconds 5] [--calls N] [--body FILE | --body-text TEXT] [--content-type T]
 *
 * Each client is a thread with one keep-alive connection sending the same request again as
 * soon as the previous response is complete.  Every "%N" in the body is replaced by a
 * counter unique to the call (0, 1, 2, … across all clients), so each call can write a new
 * value or create a new object.  --calls stops after N calls in all (instead of after
 * --seconds).  Prints "calls=N seconds=S rate=R/s p50_us=… p99_us=… errors=E".  A response
 * counts as an error if its status is not 200. */
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum mode { M_UNIX, M_TCP, M_TLS };

static enum mode mode = M_UNIX;
static const char *target;
static const char *path = "/";
static const char *ctype = "text/xml";
static char *body;
static size_t body_len;
static int n_clients = 8;
static double seconds = 5;
static SSL_CTX *ssl_ctx;
static atomic_bool stop;
static atomic_long total_calls, total_errors;
static long max_calls = -1;  /* --calls: stop after this many calls in all */
static atomic_long next_seq; /* the %N counter */
static const char *subst[2]; /* body split at its first "%N": before, after */
static size_t subst_len[2];

#define MAX_LAT 2000000
static unsigned *lat_us;
static atomic_long n_lat;

struct conn {
        int fd;
        SSL *ssl;
        char buf[1 << 16];
        size_t have;
};

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(struct conn *c)
{
        c->ssl = NULL;
        c->have = 0;
        if (mode == M_UNIX) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s", target);
                c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                        return -1;
                return 0;
        }
        char host[256];
        snprintf(host, sizeof host, "%s", target);
        char *colon = strrchr(host, ':');
        if (colon == NULL)
                return -1;
        *colon = '\0';
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
                return -1;
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = c->fd < 0 ? -1 : connect(c->fd, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (r < 0)
                return -1;
        if (mode == M_TLS) {
                c->ssl = SSL_new(ssl_ctx);
                SSL_set_fd(c->ssl, c->fd);
                if (SSL_connect(c->ssl) != 1)
                        return -1;
        }
        return 0;
}

static ssize_t io_write(struct conn *c, const char *p, size_t n)
{
        return c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
}

static ssize_t io_read(struct conn *c, char *p, size_t n)
{
        return c->ssl ? SSL_read(c->ssl, p, (int)n) : read(c->fd, p, n);
}

static int write_all(struct conn *c, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = io_write(c, p, n);
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Reads one response (Content-Length or chunked); returns its status or -1. */
static int read_response(struct conn *c)
{
        for (;;) {
                char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
                if (end != NULL) {
                        size_t hlen = (size_t)(end - c->buf) + 4;
                        int status = atoi(c->buf + 9);
                        long clen = -1;
                        bool chunked = false;
                        for (char *l = c->buf; l < end; l = strstr(l, "\r\n") + 2) {
                                if (strncasecmp(l, "content-length:", 15) == 0)
                                        clen = atol(l + 15);
                                if (strncasecmp(l, "transfer-encoding:", 18) == 0 &&
                                    strstr(l, "chunked") != NULL)
                                        chunked = true;
                        }
                        size_t pos = hlen;
                        if (chunked) {
                                /* walk chunks, reading more as needed */
                                for (;;) {
                                        char *crlf;
                                        while ((crlf = memmem(c->buf + pos, c->have - pos, "\r\n",
                                                              2)) == NULL) {
                                                if (c->have == sizeof c->buf)
                                                        return -1;
                                                ssize_t r = io_read(c, c->buf + c->have,
                                                                    sizeof c->buf - c->have);
                                                if (r <= 0)
                                                        return -1;
                                                c->have += (size_t)r;
                                        }
                                        long sz = strtol(c->buf + pos, NULL, 16);
                                        size_t need = (size_t)(crlf - c->buf) + 2 + (size_t)sz + 2;
                                        while (c->have < need) {
                                                /* discard what was consumed to make room */
                                                size_t keep = c->have - pos;
                                                memmove(c->buf, c->buf + pos, keep);
                                                need -= pos;
                                                crlf -= pos;
                                                c->have = keep;
                                                pos = 0;
                                                ssize_t r = io_read(c, c->buf + c->have,
                                                                    sizeof c->buf - c->have);
                                                if (r <= 0)
                                                        return -1;
                                                c->have += (size_t)r;
                                        }
                                        pos = need;
                                        if (sz == 0)
                                                break;
                                }
                        } else {
                                size_t need = hlen + (size_t)(clen < 0 ? 0 : clen);
                                while (c->have < need) {
                                        if (need > sizeof c->buf) {
                                                /* large body: drain it without keeping it */
                                                size_t left = need - c->have;
                                                c->have = 0;
                                                while (left > 0) {
                                                        ssize_t r = io_read(c, c->buf,
                                                                            left < sizeof c->buf
                                                                                ? left
                                                                                : sizeof c->buf);
                                                        if (r <= 0)
                                                                return -1;
                                                        left -= (size_t)r;
                                                }
                                                return status;
                                        }
                                        ssize_t r =
                                            io_read(c, c->buf + c->have, sizeof c->buf - c->have);
                                        if (r <= 0)
                                                return -1;
                                        c->have += (size_t)r;
                                }
                                pos = need;
                        }
                        memmove(c->buf, c->buf + pos, c->have - pos);
                        c->have -= pos;
                        return status;
                }
                if (c->have == sizeof c->buf)
                        return -1;
                ssize_t r = io_read(c, c->buf + c->have, sizeof c->buf - c->have);
                if (r <= 0)
                        return -1;
                c->have += (size_t)r;
        }
}

/* The request of one call: the fixed request, or (with "%N" in the body) one built in BUF
 * around this call's counter.  Returns its length, or -1. */
static int build_request(char **buf, size_t *cap, long seq)
{
        char num[24];
        int nl = snprintf(num, sizeof num, "%ld", seq);
        size_t blen = subst_len[0] + (size_t)nl + subst_len[1];
        size_t need = strlen(path) + strlen(ctype) + blen + 128;
        if (need > *cap) {
                char *p = realloc(*buf, need);
                if (p == NULL)
                        return -1;
                *buf = p;
                *cap = need;
        }
        return snprintf(*buf, *cap,
                        "POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: %s\r\n"
                        "Content-Length: %zu\r\n\r\n%.*s%s%.*s",
                        path, ctype, blen, (int)subst_len[0], subst[0], num, (int)subst_len[1],
                        subst[1]);
}

static void *client(void *arg)
{
        (void)arg;
        char *req = NULL;
        size_t cap = 0;
        int rl = -1;
        if (subst[0] == NULL &&
            (rl = asprintf(&req,
                           "POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: %s\r\n"
                           "Content-Length: %zu\r\n\r\n%s",
                           path, ctype, body_len, body)) < 0)
                return NULL;
        struct conn *c = calloc(1, sizeof *c);
        if (dial(c) < 0) {
                fprintf(stderr, "rpc_load: connect failed: %s\n", strerror(errno));
                atomic_fetch_add(&total_errors, 1);
                free(c);
                free(req);
                return NULL;
        }
        while (!atomic_load(&stop)) {
                long seq = atomic_fetch_add(&next_seq, 1);
                if (max_calls >= 0 && seq >= max_calls)
                        break;
                if (subst[0] != NULL && (rl = build_request(&req, &cap, seq)) < 0)
                        break;
                double t0 = now();
                if (write_all(c, req, (size_t)rl) < 0 || read_response(c) != 200) {
                        atomic_fetch_add(&total_errors, 1);
                        break;
                }
                long i = atomic_fetch_add(&n_lat, 1);
                if (i < MAX_LAT)
                        lat_us[i] = (unsigned)((now() - t0) * 1e6);
                atomic_fetch_add(&total_calls, 1);
        }
        if (c->ssl)
                SSL_free(c->ssl);
        close(c->fd);
        free(c);
        free(req);
        return NULL;
}

static int cmp_u(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return x < y ? -1 : x > y;
}

static char *slurp(const char *file, size_t *len)
{
        FILE *f = fopen(file, "rb");
        if (f == NULL)
                return NULL;
        char *p = NULL;
        size_t cap = 0;
        FILE *m = open_memstream(&p, &cap);
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
                fwrite(tmp, 1, n, m);
        fclose(f);
        fclose(m);
        *len = cap;
        return p;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (v == NULL)
                        goto usage;
                if (!strcmp(a, "--unix"))
                        mode = M_UNIX, target = v;
                else if (!strcmp(a, "--tcp"))
                        mode = M_TCP, target = v;
                else if (!strcmp(a, "--tls"))
                        mode = M_TLS, target = v;
                else if (!strcmp(a, "--path"))
                        path = v;
                else if (!strcmp(a, "--clients"))
                        n_clients = atoi(v);
                else if (!strcmp(a, "--seconds"))
                        seconds = atof(v);
                else if (!strcmp(a, "--calls"))
                        max_calls = atol(v);
                else if (!strcmp(a, "--content-type"))
                        ctype = v;
                else if (!strcmp(a, "--body")) {
                        if ((body = slurp(v, &body_len)) == NULL) {
                                perror(v);
                                return 2;
                        }
                } else if (!strcmp(a, "--body-text"))
                        body = strdup(v), body_len = strlen(v);
                else
                        goto usage;
                i++;
        }
        if (target == NULL || body == NULL || n_clients < 1)
                goto usage;
        char *mark = memmem(body, body_len, "%N", 2);
        if (mark != NULL) {
                subst[0] = body, subst_len[0] = (size_t)(mark - body);
                subst[1] = mark + 2, subst_len[1] = body_len - subst_len[0] - 2;
        }
        if (mode == M_TLS) {
                ssl_ctx = SSL_CTX_new(TLS_client_method());
                SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
        }
        lat_us = calloc(MAX_LAT, sizeof *lat_us);
        pthread_t *t = calloc((size_t)n_clients, sizeof *t);
        double t0 = now();
        for (int i = 0; i < n_clients; i++)
                pthread_create(&t[i], NULL, client, NULL);
        if (max_calls < 0) {
                struct timespec d = {(time_t)seconds,
                                     (long)((seconds - (double)(time_t)seconds) * 1e9)};
                nanosleep(&d, NULL);
                atomic_store(&stop, true);
        }
        for (int i = 0; i < n_clients; i++)
                pthread_join(t[i], NULL);
        double el = now() - t0;
        long n = atomic_load(&n_lat) < MAX_LAT ? atomic_load(&n_lat) : MAX_LAT;
        qsort(lat_us, (size_t)n, sizeof *lat_us, cmp_u);
        printf("calls=%ld seconds=%.2f rate=%.0f p50_us=%u p99_us=%u errors=%ld\n",
               atomic_load(&total_calls), el, (double)atomic_load(&total_calls) / el,
               n ? lat_us[n / 2] : 0, n ? lat_us[(n * 99) / 100] : 0, atomic_load(&total_errors));
        return atomic_load(&total_errors) ? 1 : 0;
usage:
        fprintf(stderr,
                "usage: rpc_load (--unix PATH|--tcp H:P|--tls H:P) --body FILE|--body-text T "
                "[--path /] [--clients 8] [--seconds 5] [--calls N] [--content-type T]\n");
        return 2;
}
