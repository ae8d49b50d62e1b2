/* Listeners: the unix socket (peer uid from SO_PEERCRED) and the HTTPS port; accepting with
 * a connection limit, and backing off on EMFILE/ENFILE instead of spinning on a listener
 * that stays readable. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "xapid/http_internal.h"

LOG_MODULE(http_listen)

#define ACCEPT_BACKLOG      1024
#define ACCEPT_RETRY_MS     250
#define ACCEPT_LOG_INTERVAL 10 /* seconds between two accept-trouble messages */

/* Logs at most once per ACCEPT_LOG_INTERVAL, with the count of messages held back. */
static void __attribute__((format(printf, 2, 3)))
accept_log(struct http_server *srv, const char *fmt, ...)
{
        time_t now = time(NULL);
        if (srv->accept_log_time && now - srv->accept_log_time < ACCEPT_LOG_INTERVAL) {
                srv->accept_log_suppressed++;
                return;
        }
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (srv->accept_log_suppressed)
                log_warnx("%s (%u similar messages suppressed)", msg, srv->accept_log_suppressed);
        else
                log_warnx("%s", msg);
        srv->accept_log_time = now;
        srv->accept_log_suppressed = 0;
}

static void set_accepting(struct http_server *srv, bool on)
{
        for (struct http_listener *l = srv->listeners; l; l = l->next) {
                if (on)
                        evconnlistener_enable(l->lev);
                else
                        evconnlistener_disable(l->lev);
        }
}

void http_listen_resume_if_below_limit(struct http_server *srv)
{
        if (srv->accept_paused_limit && srv->n_conns < srv->cfg.max_conns) {
                srv->accept_paused_limit = false;
                if (!srv->accept_paused_error && !srv->shutting_down)
                        set_accepting(srv, true);
        }
}

void http_accept_retry_cb(int fd, short what, void *arg)
{
        struct http_server *srv = arg;
        srv->accept_paused_error = false;
        if (!srv->accept_paused_limit && !srv->shutting_down)
                set_accepting(srv, true);
}

static void set_peer(struct http_conn *c, int fd, const struct sockaddr *sa, bool is_unix)
{
        if (is_unix) {
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
                        c->peer_uid = (long)cred.uid;
                snprintf(c->peer_addr, sizeof(c->peer_addr), "unix");
                return;
        }
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (sa && sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                port = ntohs(in->sin_port);
                snprintf(c->peer_addr, sizeof(c->peer_addr), "%s:%u", host, port);
        } else if (sa && sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                port = ntohs(in6->sin6_port);
                snprintf(c->peer_addr, sizeof(c->peer_addr), "[%s]:%u", host, port);
        }
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
        struct http_listener *l = arg;
        struct http_server *srv = l->srv;

        if (srv->shutting_down) {
                close(fd);
                return;
        }
        struct http_conn *c = http_conn_new(srv, false);
        if (!c) {
                accept_log(srv, "accept: out of memory, connection dropped");
                close(fd);
                return;
        }
        set_peer(c, fd, sa, l->is_unix);
        int r = http_io_attach(c, fd, l->tls);
        if (r < 0) {
                accept_log(srv, "accept: %s", strerror(-r));
                if (!c->bev)
                        close(fd);
                http_conn_destroy(c);
                return;
        }
        srv->stats.accepted++;
        http_conn_update_timer(c);
        if (srv->n_conns >= srv->cfg.max_conns && !srv->accept_paused_limit) {
                accept_log(srv, "%zu connections: limit reached, not accepting more for now",
                           srv->n_conns);
                srv->accept_paused_limit = true;
                set_accepting(srv, false);
        }
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
        struct http_listener *l = arg;
        struct http_server *srv = l->srv;
        int err = EVUTIL_SOCKET_ERROR();

        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                /* The listener stays readable: pause, or the loop would spin on it. */
                accept_log(srv, "accept: %s; pausing for %d ms (%zu connections)", strerror(err),
                           ACCEPT_RETRY_MS, srv->n_conns);
                srv->accept_paused_error = true;
                set_accepting(srv, false);
                struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
                evtimer_add(srv->accept_retry, &tv);
                return;
        }
        accept_log(srv, "accept: %s", strerror(err));
}

static int add_listener(struct http_server *srv, int fd, SSL_CTX *tls, const char *unix_path)
{
        struct http_listener *l = calloc(1, sizeof(*l));
        if (!l)
                goto fail;
        l->srv = srv;
        l->tls = tls;
        l->is_unix = unix_path != NULL;
        if (unix_path && !(l->unix_path = strdup(unix_path)))
                goto fail;
        l->lev =
            evconnlistener_new(srv->base, accept_cb, l,
                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, ACCEPT_BACKLOG, fd);
        if (!l->lev)
                goto fail;
        evconnlistener_set_error_cb(l->lev, accept_error_cb);
        if (srv->accept_paused_limit || srv->accept_paused_error || srv->shutting_down)
                evconnlistener_disable(l->lev);
        l->next = srv->listeners;
        srv->listeners = l;
        return 0;
fail:
        if (l)
                free(l->unix_path);
        free(l);
        close(fd);
        SSL_CTX_free(tls);
        return -ENOMEM;
}

int http_server_listen_unix(struct http_server *srv, const char *path, mode_t mode)
{
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (!srv || !path || strlen(path) >= sizeof(sun.sun_path))
                return -EINVAL;
        strcpy(sun.sun_path, path);

        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                unlink(path); /* stale socket of an earlier run */
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, mode) < 0) {
                int r = -errno;
                log_warn("binding %s", path);
                close(fd);
                return r;
        }
        return add_listener(srv, fd, NULL, path);
}

int http_server_listen_tls(struct http_server *srv, const char *addr, uint16_t port,
                           const char *cert_path, const char *key_path)
{
        if (!srv)
                return -EINVAL;
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
        struct addrinfo *ai = NULL;
        char portstr[8];
        snprintf(portstr, sizeof(portstr), "%u", port);
        if (getaddrinfo(addr ? addr : "::", portstr, &hints, &ai) != 0 || !ai)
                return -EINVAL;

        SSL_CTX *tls = NULL;
        int r = http_tls_ctx_new(cert_path, key_path, &tls);
        if (r < 0)
                goto out;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                SSL_CTX_free(tls);
                goto out;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6 && !addr) /* "any" means IPv4 too */
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                r = -errno;
                log_warn("binding port %u", port);
                close(fd);
                SSL_CTX_free(tls);
                goto out;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
                srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                           : ((struct sockaddr_in *)&ss)->sin_port);
        r = add_listener(srv, fd, tls, NULL);
out:
        freeaddrinfo(ai);
        return r;
}

void http_listeners_free(struct http_server *srv)
{
        struct http_listener *l, *next;
        for (l = srv->listeners; l; l = next) {
                next = l->next;
                evconnlistener_free(l->lev);
                if (l->unix_path)
                        unlink(l->unix_path);
                free(l->unix_path);
                SSL_CTX_free(l->tls);
                free(l);
        }
        srv->listeners = NULL;
}
