/* The socket side of a connection: a bufferevent (plain or OpenSSL) whose input buffer the
 * protocol core (http_conn.c) reads, and whose output buffer (plain) or a buffer of our own
 * (TLS) it writes; the callbacks below drive it. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "common/log.h"
#include "xapid/http_internal.h"

LOG_MODULE(http_io)

static void read_cb(struct bufferevent *bev, void *arg)
{
        http_conn_process(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
        struct http_conn *c = arg;
        bool fully = evbuffer_get_length(c->out) == 0;
        http_conn_enter(c);
        if (fully && c->write_waiting) { /* back to direct writes */
                c->write_waiting = false;
                bufferevent_disable(c->bev, EV_WRITE);
        }
        http_conn_output_drained(c, fully);
        http_conn_leave(c);
}

/* Plain sockets avoid the bufferevent's per-request costs: it sizes every read with
 * ioctl(FIONREAD) and adds and deletes its write event (two epoll_ctl) for every response.
 * Reads are ours (read_ev, persistent while reading is on); responses are written directly
 * when the entry point that queued them returns (http_conn_leave), and only what the socket
 * does not take is left to the bufferevent's write event, with its write timeout and low
 * watermark, until the output is empty again. */
#define READ_SIZE 16384

static void plain_read_cb(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(c->in, READ_SIZE, &v, 1) < 1) {
                http_conn_enter(c);
                http_conn_peer_gone(c, -ENOMEM);
                http_conn_leave(c);
                return;
        }
        ssize_t n = read(fd, v.iov_base, v.iov_len < READ_SIZE ? v.iov_len : READ_SIZE);
        if (n > 0) {
                v.iov_len = (size_t)n;
                evbuffer_commit_space(c->in, &v, 1);
                http_conn_process(c);
                return;
        }
        evbuffer_commit_space(c->in, &v, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
        int saved = errno;
        http_conn_enter(c);
        http_io_set_reading(c, false); /* level-triggered: EOF would fire forever */
        if (n < 0)
                log_debug("%s: connection error: %s", c->peer_addr, strerror(saved));
        http_conn_peer_gone(c, n < 0 ? -EIO : 0);
        http_conn_leave(c);
}

/* TLS writes are direct too: the connection's output is its own evbuffer (libevent's OpenSSL
 * bufferevent adds its write event whenever its output becomes non-empty, two epoll_ctl per
 * response), written with SSL_write at the end of each entry point, one record at a time.
 * What the socket does not take waits for write_ev, which carries the write timeout, and the
 * stream low watermark is checked after each of its writes.  Reading stays with the
 * bufferevent.  A retry after WANT_WRITE passes the same bytes again, at least as many. */
#define TLS_WRITE_MAX 16384

static void tls_write_wait(struct http_conn *c)
{
        unsigned ms = c->srv->cfg.write_timeout_ms;
        struct timeval wtv = {ms / 1000, (ms % 1000) * 1000};
        c->write_waiting = true;
        event_add(c->write_ev, &wtv);
}

/* 0 when C's output is all written, -EAGAIN when the socket is full, -EINPROGRESS before the
 * handshake is done, -EIO. */
static int tls_write(struct http_conn *c)
{
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        size_t len;
        if (ssl && !SSL_is_init_finished(ssl))
                return -EINPROGRESS; /* the handshake is the bufferevent's; CONNECTED flushes */
        while ((len = evbuffer_get_length(c->out)) > 0) {
                size_t n = len < TLS_WRITE_MAX ? len : TLS_WRITE_MAX;
                unsigned char *p = evbuffer_pullup(c->out, (ev_ssize_t)n);
                if (!p || !ssl)
                        return -EIO;
                int r = SSL_write(ssl, p, (int)n);
                if (r > 0) {
                        evbuffer_drain(c->out, (size_t)r);
                        continue;
                }
                int e = SSL_get_error(ssl, r);
                if (e == SSL_ERROR_WANT_WRITE) {
                        ERR_clear_error();
                        return -EAGAIN;
                }
                /* WANT_READ would take a renegotiation, which is off. */
                int saved = errno;
                unsigned long ee;
                bool any = false;
                while ((ee = ERR_get_error()) != 0) {
                        char msg[256];
                        ERR_error_string_n(ee, msg, sizeof(msg));
                        log_debug("%s: TLS: %s", c->peer_addr, msg);
                        any = true;
                }
                if (!any)
                        log_debug("%s: connection error: %s", c->peer_addr,
                                  e == SSL_ERROR_SYSCALL ? strerror(saved) : "TLS write failed");
                return -EIO;
        }
        return 0;
}

static void tls_write_cb(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;
        http_conn_enter(c);
        c->write_waiting = false;
        if (what & EV_TIMEOUT) {
                log_debug("%s: write timeout", c->peer_addr);
                http_conn_destroy(c);
        } else {
                http_io_flush(c);
                if (!c->want_free && c->write_waiting &&
                    evbuffer_get_length(c->out) <= c->srv->cfg.stream_low_watermark)
                        http_conn_output_drained(c, false);
        }
        http_conn_leave(c);
}

void http_io_flush(struct http_conn *c)
{
        http_conn_enter(c);
        while (!c->want_free && !c->write_waiting && c->bev && evbuffer_get_length(c->out)) {
                if (c->tls) {
                        int r = tls_write(c);
                        if (r == -EIO) {
                                http_conn_peer_gone(c, -EIO);
                                break;
                        }
                        if (r == -EAGAIN) {
                                tls_write_wait(c);
                                break;
                        }
                        if (r == -EINPROGRESS)
                                break;
                        http_conn_output_drained(c, true); /* may queue more (streams) */
                        continue;
                }
                /* The bufferevent freezes the start of its output outside its own writes. */
                evbuffer_unfreeze(c->out, 1);
                int n = evbuffer_write(c->out, c->fd);
                int saved = errno;
                evbuffer_freeze(c->out, 1);
                errno = saved;
                if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        log_debug("%s: connection error: %s", c->peer_addr, strerror(errno));
                        http_conn_peer_gone(c, -EIO);
                        break;
                }
                if (evbuffer_get_length(c->out)) {
                        c->write_waiting = true;
                        bufferevent_enable(c->bev, EV_WRITE);
                        break;
                }
                http_conn_output_drained(c, true); /* may queue more (streams) */
        }
        http_conn_leave(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
        struct http_conn *c = arg;

        /* BEV_EVENT_CONNECTED (TLS handshake done): leaving flushes what may wait. */
        http_conn_enter(c);
        if (what & BEV_EVENT_TIMEOUT) {
                log_debug("%s: write timeout", c->peer_addr);
                http_conn_destroy(c);
        } else if (what & BEV_EVENT_ERROR) {
                unsigned long e;
                int saved = errno;
                bool any = false;
                while (c->tls && (e = bufferevent_get_openssl_error(bev)) != 0) {
                        char msg[256];
                        ERR_error_string_n(e, msg, sizeof(msg));
                        log_debug("%s: TLS: %s", c->peer_addr, msg);
                        any = true;
                }
                if (!any)
                        log_debug("%s: connection error: %s", c->peer_addr, strerror(saved));
                http_conn_peer_gone(c, -EIO);
        } else if (what & BEV_EVENT_EOF) {
                http_conn_peer_gone(c, 0);
        }
        http_conn_leave(c);
}

int http_io_attach(struct http_conn *c, int fd, SSL_CTX *tls)
{
        struct event_base *base = c->srv->base;

        if (evutil_make_socket_nonblocking(fd) < 0)
                return -errno;
        if (tls) { /* TCP: small responses go out at once; dead peers are noticed */
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        }
        if (tls) {
                SSL *ssl = SSL_new(tls);
                if (!ssl)
                        return -ENOMEM;
                c->bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                        BEV_OPT_CLOSE_ON_FREE);
                if (!c->bev) /* libevent 2.1 frees SSL on this failure with CLOSE_ON_FREE */
                        return -ENOMEM;
                bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
                c->tls = true;
        } else {
                c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
                if (!c->bev)
                        return -ENOMEM;
        }
        c->fd = fd;
        c->in = bufferevent_get_input(c->bev);
        if (tls) {
                c->out = evbuffer_new();
                c->write_ev = event_new(base, fd, EV_WRITE, tls_write_cb, c);
                if (!c->out || !c->write_ev)
                        return -ENOMEM;
                /* pullup may move the bytes a retry passes again */
                SSL_set_mode(bufferevent_openssl_get_ssl(c->bev),
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        } else {
                c->out = bufferevent_get_output(c->bev);
        }
        bufferevent_setcb(c->bev, read_cb, tls ? NULL : write_cb, event_cb, c);
        bufferevent_setwatermark(c->bev, EV_WRITE, c->srv->cfg.stream_low_watermark, 0);
        unsigned ms = c->srv->cfg.write_timeout_ms;
        struct timeval wtv = {ms / 1000, (ms % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, NULL, &wtv);
        if (tls) {
                bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        } else {
                /* Both off: the bufferevent neither reads nor writes on its own. */
                bufferevent_disable(c->bev, EV_READ | EV_WRITE);
                evbuffer_unfreeze(c->in, 0); /* the bufferevent's own reads freeze it */
                c->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, plain_read_cb, c);
                if (!c->read_ev)
                        return -ENOMEM;
        }
        http_io_set_reading(c, true);
        return 0;
}

/* Sends close_notify; 1 when done (or hopeless), 0 when the socket is full. */
static int tls_close_notify(struct http_conn *c)
{
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        int r = ssl && SSL_is_init_finished(ssl) ? SSL_shutdown(ssl) : 1;
        int e = r < 0 ? SSL_get_error(ssl, r) : SSL_ERROR_NONE;
        ERR_clear_error(); /* nothing of ours may linger for the bufferevent to misreport */
        return e == SSL_ERROR_WANT_WRITE ? 0 : 1;
}

static void shut_wr(struct http_conn *c)
{
        int fd = bufferevent_getfd(c->bev);
        if (fd >= 0)
                shutdown(fd, SHUT_WR);
}

static void tls_shut_cb(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;
        if (tls_close_notify(c))
                shut_wr(c);
        else
                event_add(c->tls_shut_ev, NULL); /* the linger timer bounds this */
}

void http_io_shutdown_write(struct http_conn *c)
{
        if (!c->bev)
                return;
        if (c->tls && !tls_close_notify(c)) {
                if (!c->tls_shut_ev)
                        c->tls_shut_ev = event_new(c->srv->base, bufferevent_getfd(c->bev),
                                                   EV_WRITE, tls_shut_cb, c);
                if (c->tls_shut_ev && event_add(c->tls_shut_ev, NULL) == 0)
                        return;
        }
        shut_wr(c);
}

void http_io_close(struct http_conn *c)
{
        if (c->tls_shut_ev) {
                event_free(c->tls_shut_ev);
                c->tls_shut_ev = NULL;
        }
        if (c->read_ev) {
                event_free(c->read_ev);
                c->read_ev = NULL;
        }
        if (c->write_ev) {
                event_free(c->write_ev);
                c->write_ev = NULL;
        }
        if (c->tls && c->out)
                evbuffer_free(c->out); /* ours, not the bufferevent's */
        if (!c->bev)
                return;
        bufferevent_free(c->bev);
        c->bev = NULL;
        c->in = c->out = NULL;
}

void http_io_set_reading(struct http_conn *c, bool on)
{
        if (!c->bev || c->reading == on)
                return;
        c->reading = on;
        if (c->read_ev) {
                if (on)
                        event_add(c->read_ev, NULL);
                else
                        event_del(c->read_ev);
        } else if (on) {
                bufferevent_enable(c->bev, EV_READ);
        } else {
                bufferevent_disable(c->bev, EV_READ);
        }
}
