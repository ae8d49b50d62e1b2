/* event-wait class=<class> [<field>=<value> | <field>=/=<value>]... : returns once an object
 * of the class matches every condition, checking the current records first and then each
 * change event.from reports (as XAPI's xe does).  timeout=<seconds> (an addition) bounds the
 * wait and fails with exit status 1 when it passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/xe.h"

static bool record_matches(struct xe_ctx *x, const struct xe_class *c, const struct xv *rec)
{
        for (size_t p = 0; p < x->args->n_params; p++) {
                const struct xe_kv *kv = &x->args->params[p];
                if (!strcmp(kv->key, "class") || !strcmp(kv->key, "timeout") ||
                    xe_is_std_param(kv->key))
                        continue;
                const struct xe_field *f = xe_field_by_xe(c, kv->key);
                const struct xv *v = f ? xv_get(rec, f->wire) : NULL;
                if (!v)
                        xe_die(x, "key missing: %s", kv->key);
                bool negate = strncmp(kv->value, "/=", 2) == 0;
                char *s = xe_render(x, f, v);
                bool eq = s && strcmp(s, kv->value + (negate ? 2 : 0)) == 0;
                free(s);
                if (eq == negate)
                        return false;
        }
        return true;
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int event_wait(struct xe_ctx *x)
{
        const char *name = xe_required(x, "class");
        const struct xe_class *c = xe_class_by_xe(name);
        if (!c)
                c = xe_class_by_wire(name);
        if (!c)
                xe_die(x, "Cli listening for class '%s' not currently implemented", name);
        const char *t = xe_param(x->args, "timeout");
        double deadline = -1;
        if (t) {
                char *end;
                double secs = strtod(t, &end);
                if (end == t || *end || secs < 0)
                        xe_die(x, "Parameter timeout must be a number of seconds");
                deadline = now() + secs;
        }
        char method[96];
        snprintf(method, sizeof method, "%s.get_all_records", c->wire);
        struct xv *all = xe_call(x, method, 0);
        for (size_t i = 0; i < all->n; i++)
                if (record_matches(x, c, all->items[i])) {
                        xv_free(all);
                        return 0;
                }
        xv_free(all);
        char *token = strdup("");
        for (;;) {
                double wait = 30;
                if (deadline >= 0) {
                        wait = deadline - now();
                        if (wait <= 0) {
                                free(token);
                                xe_die(x, "timed out waiting for the event");
                        }
                        if (wait > 30)
                                wait = 30;
                }
                struct xv *batch =
                    xe_call(x, "event.from", 3, xv_push(xv_array(), xv_string(c->wire)),
                            xv_string(token), xv_double(wait));
                struct xv *events = xv_get(batch, "events");
                free(token);
                token = strdup(xv_str(xv_get(batch, "token")));
                for (size_t i = 0; events && i < events->n; i++) {
                        const struct xv *snap = xv_get(events->items[i], "snapshot");
                        if (snap && snap->kind == XV_STRUCT && record_matches(x, c, snap)) {
                                xv_free(batch);
                                free(token);
                                return 0;
                        }
                }
                xv_free(batch);
        }
}

int xe_event_command(struct xe_ctx *x, const char *cmd)
{
        if (strcmp(cmd, "event-wait") == 0)
                return event_wait(x);
        return -1;
}
