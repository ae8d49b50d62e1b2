/* XenAPI calls for xe: the connection, the session, XML-RPC round trips. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe.h"
#include "cli/xe_xmlrpc.h"

static void connect_settings(struct xe_ctx *x)
{
        struct xe_args *a = x->args;
        if (x->conn.fd >= 0 || x->conn.socket_path || x->conn.host)
                return;
        x->conn.fd = -1;
        if (a->server) {
                x->conn.host = a->server;
                x->conn.port = a->port ? a->port : 443;
        } else {
                const char *env = getenv("XE_SOCKET");
                x->conn.socket_path = a->socket ? a->socket : env && *env ? env : XE_DEFAULT_SOCKET;
        }
}

/* One round trip: the decoded response struct {Status, Value | ErrorDescription}. */
static struct xv *round_trip(struct xe_ctx *x, const char *method, struct xv **params, size_t n)
{
        size_t len, resp_len = 0;
        char *body = xe_xmlrpc_request(method, params, n, &len), *resp = NULL, *error = NULL;
        connect_settings(x);
        if (x->args->debug)
                fprintf(stderr, "xe: -> %s\n", body);
        int status = xe_http_post(&x->conn, "/", "text/xml", body, len, &resp, &resp_len, &error);
        free(body);
        if (status < 0)
                xe_die(x, "%s", error ? error : "Lost connection to the server.");
        if (x->args->debug)
                fprintf(stderr, "xe: <- HTTP %d %s\n", status, resp);
        if (status != 200) {
                char *first = strndup(resp, strcspn(resp, "\r\n"));
                free(resp);
                xe_die(x, "the server answered HTTP %d: %s", status, first);
        }
        struct xv *v = NULL;
        if (xe_xmlrpc_response(resp, resp_len, &v, &error) < 0) {
                free(resp);
                xe_die(x, "unexpected response from the server: %s", error);
        }
        free(resp);
        if (v->kind != XV_STRUCT || !xv_get(v, "Status"))
                xe_die(x, "unexpected response from the server: no Status");
        return v;
}

static const char *read_pwfile(struct xe_ctx *x, char **user)
{
        /* XAPI's password file: the user name on the first line, the password on the second */
        static char buf[2][1024];
        FILE *f = fopen(x->args->pwfile, "r");
        if (!f)
                xe_die(x, "cannot read the password file %s", x->args->pwfile);
        for (int i = 0; i < 2; i++) {
                if (!fgets(buf[i], sizeof buf[i], f))
                        buf[i][0] = '\0';
                buf[i][strcspn(buf[i], "\r\n")] = '\0';
        }
        fclose(f);
        *user = buf[0];
        return buf[1];
}

static void login(struct xe_ctx *x)
{
        char *user = x->args->user;
        const char *pwd = x->args->password;
        if (x->args->pwfile)
                pwd = read_pwfile(x, &user);
        /* on the unix socket the local superuser needs no password (XAPI's rule) */
        if (!user)
                user = x->args->server ? "" : "root";
        struct xv *p[4] = {xv_string(user), xv_string(pwd ? pwd : ""), xv_string("1.0"),
                           xv_string("xe")};
        struct xv *r = round_trip(x, "session.login_with_password", p, 4);
        for (int i = 0; i < 4; i++)
                xv_free(p[i]);
        if (strcmp(xv_str(xv_get(r, "Status")), "Success") != 0) {
                struct xv *ed = xv_get(r, "ErrorDescription");
                if (ed && ed->kind == XV_ARRAY && ed->n &&
                    strcmp(xv_str(ed->items[0]), "SESSION_AUTHENTICATION_FAILED") == 0)
                        xe_die_usage(x, "",
                                     *user ? "Authentication failed"
                                           : "Username/password must be specified");
                xe_die_api(x, ed);
        }
        x->session = strdup(xv_str(xv_get(r, "Value")));
        xv_free(r);
}

static struct xv *vcall(struct xe_ctx *x, bool die, const char *method, size_t n, va_list ap)
{
        if (!x->session)
                login(x);
        struct xv **p = calloc(n + 1, sizeof *p);
        if (!p)
                xe_die(x, "out of memory");
        p[0] = xv_string(x->session);
        for (size_t i = 0; i < n; i++)
                p[i + 1] = va_arg(ap, struct xv *);
        struct xv *r = round_trip(x, method, p, n + 1);
        for (size_t i = 0; i <= n; i++)
                xv_free(p[i]);
        free(p);
        xv_free(x->error);
        x->error = NULL;
        if (strcmp(xv_str(xv_get(r, "Status")), "Success") == 0) {
                struct xv *v = xv_get(r, "Value");
                struct xv *copy = v ? xv_copy(v) : xv_nil();
                xv_free(r);
                return copy;
        }
        struct xv *ed = xv_get(r, "ErrorDescription");
        x->error = ed ? xv_copy(ed) : xv_array();
        xv_free(r);
        if (die)
                xe_die_api(x, x->error);
        return NULL;
}

struct xv *xe_call(struct xe_ctx *x, const char *method, size_t n, ...)
{
        va_list ap;
        va_start(ap, n);
        struct xv *r = vcall(x, true, method, n, ap);
        va_end(ap);
        return r;
}

struct xv *xe_try(struct xe_ctx *x, const char *method, size_t n, ...)
{
        va_list ap;
        va_start(ap, n);
        struct xv *r = vcall(x, false, method, n, ap);
        va_end(ap);
        return r;
}

void xe_logout(struct xe_ctx *x)
{
        if (x->session) {
                struct xv *p = xv_string(x->session);
                struct xv *r = round_trip(x, "session.logout", &p, 1);
                xv_free(p);
                xv_free(r);
                free(x->session);
                x->session = NULL;
        }
        xe_conn_close(&x->conn);
}
