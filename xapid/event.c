/* XenAPI events: the handlers and the calls waiting for changes (see event.h). */
#include "xapid/event.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/event_internal.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(event)

/* Longer timeouts are cut to this (a week); clients long-poll for seconds to minutes. */
#define MAX_TIMEOUT_SECONDS (7 * 24 * 3600.0)

/* event.register of one session: the old API's subscription and cursor. */
struct ev_reg {
        char *session;
        struct ev_subs subs;
        uint64_t cursor; /* generation up to which the session has been told */
        struct ev_reg *next;
};

struct ev_waiter {
        struct events *ev;
        struct rpc_req *req;
        char *session;
        bool is_next;        /* event.next: the session's registration says what to watch */
        struct ev_subs subs; /* event.from */
        uint64_t since;      /* event.from: nothing relevant up to this generation */
        struct event *timer; /* event.from's timeout */
        bool invalid;        /* its session is gone */
        struct ev_waiter *prev, *next;
        /* when it is answered: */
        int rc;
        struct api_error err;
};

struct events {
        struct xapi *x;
        struct event *notify;
        uint64_t changed; /* classes changed since the last notify */
        bool invalidated; /* some waiter's session is gone */
        struct ev_waiter *head, *tail;
        size_t n_waiters;
        struct ev_reg *regs;
};

static const char *str_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        return i < n && params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
}

static struct events *events_of(struct api_ctx *ctx)
{
        return rpc_req_xapi(ctx->user)->events;
}

/* ---- registrations (old API) ---------------------------------------------------------- */

static struct ev_reg *reg_find(struct events *ev, const char *session)
{
        for (struct ev_reg *r = ev->regs; r != NULL; r = r->next)
                if (strcmp(r->session, session) == 0)
                        return r;
        return NULL;
}

static struct ev_reg *reg_get(struct events *ev, const char *session)
{
        struct ev_reg *r = reg_find(ev, session);
        if (r != NULL)
                return r;
        r = calloc(1, sizeof(*r));
        if (r == NULL || (r->session = strdup(session)) == NULL)
                abort();
        r->cursor = db_generation(ev->x->db);
        r->next = ev->regs;
        ev->regs = r;
        return r;
}

static void reg_drop(struct events *ev, const char *session)
{
        for (struct ev_reg **pp = &ev->regs; *pp != NULL; pp = &(*pp)->next) {
                struct ev_reg *r = *pp;
                if (strcmp(r->session, session) == 0) {
                        *pp = r->next;
                        ev_subs_clear(&r->subs);
                        free(r->session);
                        free(r);
                        return;
                }
        }
}

/* ---- waiters -------------------------------------------------------------------------- */

static void unlink_waiter(struct events *ev, struct ev_waiter *w)
{
        if (w->prev != NULL)
                w->prev->next = w->next;
        else
                ev->head = w->next;
        if (w->next != NULL)
                w->next->prev = w->prev;
        else
                ev->tail = w->prev;
        w->prev = w->next = NULL;
        ev->n_waiters--;
}

static void waiter_free(struct ev_waiter *w)
{
        if (w->timer != NULL)
                event_free(w->timer);
        ev_subs_clear(&w->subs);
        api_error_clear(&w->err);
        free(w->session);
        free(w);
}

/* Answers W (unlinked already) and frees it. */
static void waiter_resume(struct ev_waiter *w)
{
        rpc_resume(w->req, w->rc, &w->err);
        waiter_free(w);
}

static void waiter_cancel(void *arg)
{
        struct ev_waiter *w = arg;
        unlink_waiter(w->ev, w);
        waiter_free(w);
}

/* event.from: writes the batch since W->since (maybe empty).  Returns true when written. */
static bool from_answer(struct ev_waiter *w, bool even_empty)
{
        struct db *db = w->ev->x->db;
        struct ev_items items = {0};
        ev_collect(db, &w->subs, w->since, &items);
        bool answer = items.n > 0 || even_empty;
        if (answer)
                ev_write_batch(rpc_deferred_writer(w->req), db, &w->subs, &items,
                               db_generation(db));
        else
                w->since = db_generation(db); /* nothing relevant up to here */
        ev_items_free(&items);
        return answer;
}

/* event.next: the events since the registration's cursor.  Returns 1 when answered (value
 * written into W, or an error set), 0 when there is nothing yet. */
static int next_answer(struct events *ev, struct ev_reg *reg, struct rpc_writer *w,
                       struct api_error *err)
{
        struct db *db = ev->x->db;
        struct ev_items items = {0};
        ev_collect(db, &reg->subs, reg->cursor, &items);
        reg->cursor = db_generation(db);
        if (items.lost) {
                ev_items_free(&items);
                api_error_set(err, "EVENTS_LOST", NULL);
                return 1;
        }
        if (items.n == 0) {
                ev_items_free(&items);
                return 0;
        }
        char ts[32];
        snprintf(ts, sizeof(ts), "%lld.", (long long)time(NULL)); /* OCaml's string_of_float */
        rpcw_array_begin(w);
        for (size_t i = 0; i < items.n; i++)
                ev_write_event(w, &items.v[i], ts);
        rpcw_array_end(w);
        ev_items_free(&items);
        return 1;
}

static void invalid_session(struct ev_waiter *w)
{
        w->rc = api_error_set(&w->err, "SESSION_INVALID", w->session, NULL);
}

/* Decides about W after changes in the classes of MASK: true when W is answered (its value
 * or error is ready; the caller resumes it). */
static bool waiter_check(struct events *ev, struct ev_waiter *w, uint64_t mask)
{
        if (w->invalid) {
                invalid_session(w);
                return true;
        }
        if (!w->is_next)
                return ev_subs_wants(&w->subs, mask) && from_answer(w, false);
        struct ev_reg *reg = reg_find(ev, w->session);
        if (reg == NULL) {
                invalid_session(w);
                return true;
        }
        if (!ev_subs_wants(&reg->subs, mask))
                return false;
        int r = next_answer(ev, reg, rpc_deferred_writer(w->req), &w->err);
        if (r > 0 && api_error_is_set(&w->err))
                w->rc = -EINVAL;
        return r > 0;
}

/* Once per loop iteration after changes: answers the waiters they concern. */
static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
        struct events *ev = arg;
        uint64_t mask = ev->changed;
        ev->changed = 0;
        ev->invalidated = false;
        /* Decide first, answer after: answering runs transport code. */
        struct ev_waiter *ready = NULL;
        for (struct ev_waiter *w = ev->head, *nx; w != NULL; w = nx) {
                nx = w->next;
                if (!waiter_check(ev, w, mask))
                        continue;
                unlink_waiter(ev, w);
                w->next = ready;
                ready = w;
        }
        while (ready != NULL) {
                struct ev_waiter *w = ready;
                ready = w->next;
                waiter_resume(w);
        }
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
        struct ev_waiter *w = arg;
        unlink_waiter(w->ev, w);
        if (w->invalid)
                invalid_session(w);
        else
                from_answer(w, true);
        waiter_resume(w);
}

static void schedule(struct events *ev)
{
        if (ev->n_waiters > 0)
                event_active(ev->notify, EV_TIMEOUT, 0);
}

static void on_change(void *arg, const struct db_row *row, bool deleted)
{
        struct events *ev = arg;
        if (row->cls->id >= 0 && row->cls->id < 64)
                ev->changed |= UINT64_C(1) << row->cls->id;
        if (deleted && row->cls == &mclass_session) {
                reg_drop(ev, row->ref);
                for (struct ev_waiter *w = ev->head; w != NULL; w = w->next)
                        if (strcmp(w->session, row->ref) == 0) {
                                w->invalid = true;
                                ev->invalidated = true;
                        }
        }
        schedule(ev);
}

static struct ev_waiter *waiter_new(struct events *ev, struct api_ctx *ctx)
{
        struct ev_waiter *w = calloc(1, sizeof(*w));
        if (w == NULL || (w->session = strdup(ctx->session)) == NULL)
                abort();
        w->ev = ev;
        return w;
}

static void waiter_start(struct events *ev, struct ev_waiter *w, struct api_ctx *ctx)
{
        w->req = rpc_defer(ctx);
        rpc_on_cancel(w->req, waiter_cancel, w);
        w->prev = ev->tail;
        if (ev->tail != NULL)
                ev->tail->next = w;
        else
                ev->head = w;
        ev->tail = w;
        ev->n_waiters++;
}

/* ---- handlers ------------------------------------------------------------------------- */

static double timeout_param(const struct rpc_value *v)
{
        double t = v->type == RPC_DOUBLE ? v->u.d : v->type == RPC_INT ? (double)v->u.i : 0;
        if (isnan(t) || t < 0)
                return 0;
        return t > MAX_TIMEOUT_SECONDS ? MAX_TIMEOUT_SECONDS : t;
}

/* event.from(session, classes, token, timeout) */
int h_event_from(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        struct events *ev = events_of(ctx);
        const char *token = str_param(params, n, 2);
        uint64_t since;
        if (ev_token_parse(token, &since) < 0)
                return api_error_set(err, "EVENT_FROM_TOKEN_PARSE_FAILURE", token, NULL);
        struct ev_waiter *wt = waiter_new(ev, ctx);
        int r = ev_subs_parse(&wt->subs, params[1], err);
        if (r < 0) {
                waiter_free(wt);
                return r;
        }
        double timeout = timeout_param(params[3]);
        struct ev_items items = {0};
        ev_collect(ctx->db, &wt->subs, since, &items);
        if (items.n > 0 || timeout <= 0) {
                ev_write_batch(w, ctx->db, &wt->subs, &items, db_generation(ctx->db));
                ev_items_free(&items);
                waiter_free(wt);
                return 0;
        }
        ev_items_free(&items);
        wt->since = db_generation(ctx->db);
        wt->timer = evtimer_new(ev->x->base, timeout_cb, wt);
        if (wt->timer == NULL) {
                waiter_free(wt);
                return -ENOMEM;
        }
        struct timeval tv = {(time_t)timeout, (suseconds_t)((timeout - floor(timeout)) * 1e6)};
        evtimer_add(wt->timer, &tv);
        waiter_start(ev, wt, ctx);
        return 0;
}

/* event.get_current_id(session): the db generation. */
int h_event_get_current_id(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                           struct rpc_writer *w, struct api_error *err)
{
        rpcw_int(w, (int64_t)db_generation(ctx->db));
        return 0;
}

/* event.inject(session, class, ref): a mod event for the object; returns a token from which
 * event.from sees it. */
int h_event_inject(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        const char *cname = str_param(params, n, 1);
        const char *ref = str_param(params, n, 2);
        const struct mclass *c = ev_class_lookup(cname);
        struct db_row *row = c != NULL ? db_get(ctx->db, c, ref) : NULL;
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", cname, ref, NULL);
        db_touch(ctx->db, row);
        char tok[EV_TOKEN_LEN];
        ev_token_format(tok, db_generation(ctx->db) - 1);
        rpcw_string(w, tok);
        return 0;
}

/* event.register(session, classes) */
int h_event_register(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                     struct rpc_writer *w, struct api_error *err)
{
        struct ev_reg *reg = reg_get(events_of(ctx), ctx->session);
        return ev_subs_parse(&reg->subs, params[1], err);
}

/* event.unregister(session, classes) */
int h_event_unregister(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                       struct rpc_writer *w, struct api_error *err)
{
        struct ev_reg *reg = reg_get(events_of(ctx), ctx->session);
        return ev_subs_remove(&reg->subs, params[1], err);
}

/* event.next(session): blocks until events for the registered classes. */
int h_event_next(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        struct events *ev = events_of(ctx);
        struct ev_reg *reg = reg_find(ev, ctx->session);
        if (reg == NULL)
                return api_error_set(err, "SESSION_NOT_REGISTERED", ctx->session, NULL);
        if (next_answer(ev, reg, w, err) > 0)
                return api_error_is_set(err) ? -EINVAL : 0;
        struct ev_waiter *wt = waiter_new(ev, ctx);
        wt->is_next = true;
        waiter_start(ev, wt, ctx);
        return 0;
}

/* ---- life ----------------------------------------------------------------------------- */

int events_init(struct xapi *x)
{
        if (api_n_classes > 64) {
                log_warnx("%d classes: the event masks hold 64", api_n_classes);
                return -EINVAL;
        }
        struct events *ev = calloc(1, sizeof(*ev));
        if (ev == NULL)
                return -ENOMEM;
        ev->x = x;
        ev->notify = event_new(x->base, -1, 0, notify_cb, ev);
        if (ev->notify == NULL) {
                free(ev);
                return -ENOMEM;
        }
        db_set_change_hook(x->db, on_change, ev);
        x->events = ev;
        return 0;
}

void events_free(struct xapi *x)
{
        struct events *ev = x->events;
        if (ev == NULL)
                return;
        db_set_change_hook(x->db, NULL, NULL);
        while (ev->head != NULL) {
                struct ev_waiter *w = ev->head;
                unlink_waiter(ev, w);
                rpc_on_cancel(w->req, NULL, NULL);
                waiter_free(w);
        }
        while (ev->regs != NULL)
                reg_drop(ev, ev->regs->session);
        event_free(ev->notify);
        free(ev);
        x->events = NULL;
}

size_t events_waiting(const struct xapi *x)
{
        return x->events != NULL ? x->events->n_waiters : 0;
}
