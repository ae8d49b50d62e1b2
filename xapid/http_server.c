/* The server object: configuration, routing (exact paths, 404/405, CORS preflight), the
 * request accessors, statistics and graceful shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "common/log.h"
#include "xapid/http_internal.h"

LOG_MODULE(http_server)

void http_server_config_defaults(struct http_server_config *c)
{
        *c = (struct http_server_config){
            .max_body = 300 * 1024,
            .max_header = 16 * 1024,
            .request_timeout_ms = 30 * 1000,
            .idle_timeout_ms = 120 * 1000,
            .write_timeout_ms = 60 * 1000,
            .max_conns = 10000,
            .stream_low_watermark = 64 * 1024,
            .linger_ms = 2 * 1000,
            .linger_max_bytes = 8 * 1024 * 1024,
        };
}

struct http_server *http_server_new(struct event_base *base, const struct http_server_config *cfg)
{
        if (!base)
                return NULL;
        struct http_server *srv = calloc(1, sizeof(*srv));
        if (!srv)
                return NULL;
        srv->base = base;
        if (cfg)
                srv->cfg = *cfg;
        else
                http_server_config_defaults(&srv->cfg);
        struct http_server_config d;
        http_server_config_defaults(&d);
        if (!srv->cfg.max_header)
                srv->cfg.max_header = d.max_header;
        if (!srv->cfg.max_conns)
                srv->cfg.max_conns = d.max_conns;
        if (!srv->cfg.stream_low_watermark)
                srv->cfg.stream_low_watermark = d.stream_low_watermark;
        if (!srv->cfg.linger_ms)
                srv->cfg.linger_ms = d.linger_ms;
        if (!srv->cfg.linger_max_bytes)
                srv->cfg.linger_max_bytes = d.linger_max_bytes;
        srv->accept_retry = evtimer_new(base, http_accept_retry_cb, srv);
        if (!srv->accept_retry) {
                free(srv);
                return NULL;
        }
        return srv;
}

/* Destroys every connection that is not inside one of its own callbacks. */
static void destroy_all_conns(struct http_server *srv)
{
        struct http_conn *c, *next;
        for (c = srv->conns; c; c = next) {
                next = c->next;
                if (!c->busy)
                        http_conn_destroy(c);
        }
}

void http_server_free(struct http_server *srv)
{
        if (!srv)
                return;
        srv->shutting_down = true;
        srv->shutdown_done = NULL;
        http_listeners_free(srv);
        destroy_all_conns(srv);
        if (srv->conns)
                log_warnx("server freed from inside a connection callback: %zu left", srv->n_conns);
        if (srv->shutdown_timer)
                event_free(srv->shutdown_timer);
        event_free(srv->accept_retry);
        struct http_route *r, *next;
        for (r = srv->routes; r; r = next) {
                next = r->next;
                free(r->method);
                free(r->path);
                free(r);
        }
        free(srv);
}

uint16_t http_server_port(const struct http_server *srv)
{
        return srv ? srv->port : 0;
}

int http_server_route(struct http_server *srv, const char *method, const char *path, unsigned flags,
                      http_handler_fn fn, void *ctx)
{
        if (!srv || !path || !fn)
                return -EINVAL;
        for (struct http_route *r = srv->routes; r; r = r->next) {
                if (strcmp(r->path, path) == 0 &&
                    (!r->method || !method || strcmp(r->method, method) == 0))
                        return -EEXIST;
        }
        struct http_route *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->path = strdup(path);
        r->method = method ? strdup(method) : NULL;
        if (!r->path || (method && !r->method)) {
                free(r->path);
                free(r->method);
                free(r);
                return -ENOMEM;
        }
        r->flags = flags;
        r->fn = fn;
        r->ctx = ctx;
        /* Appended, so the Allow header of a 405 lists methods in registration order. */
        struct http_route **p = &srv->routes;
        while (*p)
                p = &(*p)->next;
        *p = r;
        return 0;
}

void http_server_set_default(struct http_server *srv, http_handler_fn fn, void *ctx)
{
        if (!srv)
                return;
        srv->default_fn = fn;
        srv->default_ctx = ctx;
}

static void answer_preflight(struct http_request *req)
{
        http_response_header(req, "Access-Control-Allow-Origin", "*");
        http_response_header(req, "Access-Control-Allow-Methods", "POST, GET, OPTIONS");
        http_response_header(req, "Access-Control-Allow-Headers", "content-type, authorization");
        http_response_header(req, "Access-Control-Max-Age", "86400");
        http_response_header(req, "Allow", "POST, GET, OPTIONS");
        http_respond(req, 200, NULL, NULL, 0);
}

void http_server_dispatch(struct http_server *srv, struct http_request *req)
{
        if (strcmp(req->method, "OPTIONS") == 0) {
                answer_preflight(req);
                return;
        }
        char allow[128];
        size_t allow_len = 0;
        allow[0] = '\0';
        for (struct http_route *r = srv->routes; r; r = r->next) {
                if (strcmp(r->path, req->path) != 0)
                        continue;
                if (!r->method || strcmp(r->method, req->method) == 0 ||
                    (req->is_head && strcmp(r->method, "GET") == 0)) {
                        req->route_flags = r->flags;
                        r->fn(req, r->ctx);
                        return;
                }
                int n = snprintf(allow + allow_len, sizeof(allow) - allow_len, "%s%s",
                                 allow_len ? ", " : "", r->method);
                if (n > 0 && (size_t)n < sizeof(allow) - allow_len)
                        allow_len += (size_t)n;
        }
        if (allow_len) {
                http_response_header(req, "Allow", allow);
                http_respond_status(req, 405);
                return;
        }
        if (srv->default_fn) {
                srv->default_fn(req, srv->default_ctx);
                return;
        }
        http_respond_status(req, 404);
}

static void shutdown_finished(struct http_server *srv)
{
        void (*done)(void *) = srv->shutdown_done;
        srv->shutdown_done = NULL;
        if (srv->shutdown_timer)
                evtimer_del(srv->shutdown_timer);
        if (done)
                done(srv->shutdown_arg);
}

void http_server_conn_gone(struct http_server *srv)
{
        http_listen_resume_if_below_limit(srv);
        if (srv->shutting_down && srv->n_conns == 0 && srv->shutdown_done)
                shutdown_finished(srv);
}

static void shutdown_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
        struct http_server *srv = arg;
        if (srv->n_conns)
                log_notice("shutdown deadline: closing %zu connections", srv->n_conns);
        destroy_all_conns(srv);
}

void http_server_shutdown(struct http_server *srv, unsigned deadline_ms, void (*done)(void *arg),
                          void *arg)
{
        if (!srv)
                return;
        srv->shutting_down = true;
        srv->shutdown_done = done;
        srv->shutdown_arg = arg;
        http_listeners_free(srv);
        evtimer_del(srv->accept_retry);

        struct http_conn *c, *next;
        for (c = srv->conns; c; c = next) {
                next = c->next;
                c->close_after = true;
                if (c->state == CONN_IDLE)
                        http_conn_close_after_flush(c);
        }
        if (srv->n_conns == 0) {
                shutdown_finished(srv);
                return;
        }
        if (!srv->shutdown_timer)
                srv->shutdown_timer = evtimer_new(srv->base, shutdown_deadline_cb, srv);
        if (srv->shutdown_timer) {
                struct timeval tv = {deadline_ms / 1000, (deadline_ms % 1000) * 1000};
                evtimer_add(srv->shutdown_timer, &tv);
        }
}

void http_server_get_stats(const struct http_server *srv, struct http_server_stats *st)
{
        if (!srv || !st)
                return;
        *st = srv->stats;
        st->conns = srv->n_conns;
}

/* --- request accessors --- */

const char *http_request_method(const struct http_request *req)
{
        return req->method;
}

const char *http_request_path(const struct http_request *req)
{
        return req->path;
}

const char *http_request_query(const struct http_request *req)
{
        return req->query;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
        const char *head = req->conn->head.data;
        for (size_t i = 0; i < req->n_hdrs; i++) {
                if (strcasecmp(head + req->hdrs[i].name_off, name) == 0)
                        return head + req->hdrs[i].value_off;
        }
        return NULL;
}

void http_request_foreach_header(const struct http_request *req,
                                 int (*fn)(const char *name, const char *value, void *arg),
                                 void *arg)
{
        const char *head = req->conn->head.data;
        for (size_t i = 0; i < req->n_hdrs; i++) {
                if (fn(head + req->hdrs[i].name_off, head + req->hdrs[i].value_off, arg))
                        return;
        }
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
        if (len)
                *len = req->conn->body.len;
        return req->conn->body.data;
}

long http_request_peer_uid(const struct http_request *req)
{
        return req->conn->peer_uid;
}

const char *http_request_peer_addr(const struct http_request *req)
{
        return req->conn->peer_addr;
}

bool http_request_is_tls(const struct http_request *req)
{
        return req->conn->tls;
}

struct event_base *http_request_base(const struct http_request *req)
{
        return req->conn->srv->base;
}

void http_request_set_abort_cb(struct http_request *req,
                               void (*fn)(struct http_request *req, void *ctx), void *ctx)
{
        if (!req)
                return;
        req->abort_fn = fn;
        req->abort_ctx = ctx;
}
