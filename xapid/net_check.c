/* API calls that fail when netd cannot make their part (see net_check.h). */
#include "xapid/net_check.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/net.h"
#include "xapid/rpc.h"
#include "xapid/rpc_writer.h"

LOG_MODULE(net_check)

struct checked_call {
        struct xapi *x;
        struct rpc_req *req;
        bool cancelled;
        char *ref; /* the result, or NULL */
        char *links[NET_CHECK_MAX_LINKS];
        size_t n_links;
        char *pif, *bridge, *vlan, *vlan_parent;
        int64_t vlan_tag;
        void (*undo)(struct xapi *x, void *undo_arg);
        void *undo_arg;
        void (*free_undo_arg)(void *undo_arg);
};

static void call_free(struct checked_call *c)
{
        for (size_t i = 0; i < c->n_links; i++)
                free(c->links[i]);
        free(c->ref);
        free(c->pif);
        free(c->bridge);
        free(c->vlan);
        free(c->vlan_parent);
        if (c->free_undo_arg != NULL)
                c->free_undo_arg(c->undo_arg);
        else
                free(c->undo_arg);
        free(c);
}

static void call_cancel(void *arg)
{
        ((struct checked_call *)arg)->cancelled = true; /* on_report still undoes and frees */
}

static const struct net_failure *failure_of(const struct checked_call *c,
                                            const struct net_failure *fails, size_t n)
{
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < c->n_links; k++)
                        if (strcmp(fails[i].name, c->links[k]) == 0)
                                return &fails[i];
        return NULL;
}

static bool is(const char *a, const char *b)
{
        return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* XAPI's error for the failure F of the call C (net_check.h). */
static void set_error(const struct checked_call *c, const struct net_failure *f,
                      struct api_error *err)
{
        char msg[sizeof(f->msg) + 32];
        snprintf(msg, sizeof(msg), "%s", f->msg[0] ? f->msg : strerror(f->err));
        if (f->err == EBUSY && is(f->name, c->vlan) && c->vlan_parent != NULL) {
                char tag[24];
                snprintf(tag, sizeof(tag), "%lld", (long long)c->vlan_tag);
                api_error_set(err, "VLAN_IN_USE", c->vlan_parent, tag, NULL);
        } else if (c->pif != NULL) {
                api_error_set(err, "PIF_CONFIGURATION_ERROR", c->pif, msg, NULL);
        } else if (f->err == EEXIST && is(f->name, c->bridge)) {
                api_error_set(err, "BRIDGE_NAME_EXISTS", c->bridge, NULL);
        } else {
                api_error_set(err, "INTERNAL_ERROR", msg, NULL);
        }
}

static void on_report(int r, const char *text, const struct net_failure *fails, size_t n_fails,
                      void *arg)
{
        struct checked_call *c = arg;
        const struct net_failure *f = failure_of(c, fails, n_fails);
        if (r < 0 && n_fails == 0) /* no per-link answer: a lost or silent netd */
                log_warnx("no result from netd (%s): the call stands, netd converges later", text);
        if (f != NULL) {
                struct api_error err = {0};
                set_error(c, f, &err);
                log_warnx("netd could not make %s (%s): undoing the call's change", f->name,
                          f->msg);
                if (c->undo != NULL)
                        c->undo(c->x, c->undo_arg);
                net_apply(c->x, NULL, NULL); /* netd removes what it made of the change */
                if (!c->cancelled)
                        rpc_resume(c->req, -EINVAL, &err);
                api_error_clear(&err);
        } else if (!c->cancelled) {
                if (c->ref != NULL)
                        rpcw_string(rpc_deferred_writer(c->req), c->ref);
                rpc_resume(c->req, 0, NULL);
        }
        call_free(c);
}

static int dup_opt(char **slot, const char *s)
{
        if (s == NULL)
                return 0;
        *slot = strdup(s);
        return *slot != NULL ? 0 : -ENOMEM;
}

int net_check_apply(struct api_ctx *ctx, const struct net_check *check, const char *ref,
                    struct rpc_writer *w)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct checked_call *c = calloc(1, sizeof(*c));
        if (c == NULL) {
                if (check->free_undo_arg != NULL)
                        check->free_undo_arg(check->undo_arg);
                else
                        free(check->undo_arg);
                return -ENOMEM;
        }
        c->x = x;
        c->undo = check->undo;
        c->undo_arg = check->undo_arg;
        c->free_undo_arg = check->free_undo_arg;
        c->vlan_tag = check->vlan_tag;
        int r = dup_opt(&c->ref, ref);
        for (size_t i = 0; r == 0 && i < check->n_links && i < NET_CHECK_MAX_LINKS; i++) {
                r = dup_opt(&c->links[i], check->links[i]);
                c->n_links += r == 0;
        }
        if (r == 0)
                r = dup_opt(&c->pif, check->pif);
        if (r == 0)
                r = dup_opt(&c->bridge, check->bridge);
        if (r == 0)
                r = dup_opt(&c->vlan, check->vlan);
        if (r == 0)
                r = dup_opt(&c->vlan_parent, check->vlan_parent);
        if (r < 0) {
                call_free(c);
                return r;
        }
        r = net_apply_report(x, on_report, c);
        if (r < 0) { /* netd not connected: it converges on its Hello */
                call_free(c);
                if (ref != NULL)
                        rpcw_string(w, ref);
                return 0;
        }
        c->req = rpc_defer(ctx);
        rpc_on_cancel(c->req, call_cancel, c);
        return 0;
}
