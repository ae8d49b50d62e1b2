/* Storage calls waiting for a conflicting operation to end (see storage_wait.h).  The waiters
 * are few and short-lived: a list, retried in arrival order. */
#include "xapid/storage_wait.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/rpc.h"
#include "xapid/xapi.h"

LOG_MODULE(storage)

#define RETRY_S 2

struct waiter {
        struct rpc_req *req;
        struct event *timer; /* the wait limit */
        struct waiter *next;
};

static struct waiter *waiters;
static struct event *wake_ev;    /* runs the retries from the loop, never inside an op_end */
static struct waiter *rerunning; /* the waiter whose handler runs again right now */
static bool rerun_waits;         /* ... and it is waiting again */

static void unlink_waiter(struct waiter *w)
{
        for (struct waiter **p = &waiters; *p != NULL; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        return;
                }
}

static void waiter_free(struct waiter *w)
{
        if (w->timer != NULL)
                event_free(w->timer);
        free(w);
}

static void waiter_cancelled(void *arg)
{
        struct waiter *w = arg;
        unlink_waiter(w);
        waiter_free(w);
}

/* The wait limit passed: the call fails with the conflict it last met. */
static void on_limit(evutil_socket_t fd, short what, void *arg)
{
        struct waiter *w = arg;
        unlink_waiter(w);
        rerunning = w;
        rerun_waits = false;
        /* one last try: the handler's error (the conflict, or a new one) goes to the caller */
        struct rpc_req *req = w->req;
        w->req = NULL;
        rpc_rerun(req);
        rerunning = NULL;
        waiter_free(w);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
        struct waiter *list = waiters;
        waiters = NULL;
        while (list != NULL) {
                struct waiter *w = list;
                list = w->next;
                w->next = NULL;
                rerunning = w;
                rerun_waits = false;
                rpc_rerun(w->req);
                rerunning = NULL;
                if (!rerun_waits)
                        waiter_free(w);
        }
}

int storage_wait(struct api_ctx *ctx, int r, struct api_error *err)
{
        if (r >= 0 || err->code == NULL || strcmp(err->code, "OTHER_OPERATION_IN_PROGRESS") != 0)
                return r;
        struct rpc_req *req = ctx->user;
        struct xapi *x = rpc_req_xapi(req);
        struct waiter *w = rerunning;
        if (w != NULL && w->req == NULL)
                return r; /* the last try after the wait limit */
        if (w == NULL) {
                w = calloc(1, sizeof(*w));
                if (w == NULL)
                        return r;
                w->timer = evtimer_new(x->base, on_limit, w);
                struct timeval tv = {STORAGE_WAIT_MAX_S, 0};
                if (w->timer == NULL || evtimer_add(w->timer, &tv) < 0) {
                        waiter_free(w);
                        return r;
                }
                log_debug("%s waits: %s", ctx->method->wire_name, err->code);
        } else {
                rerun_waits = true;
        }
        if (wake_ev == NULL && (wake_ev = event_new(x->base, -1, 0, on_wake, NULL)) == NULL)
                abort();
        /* woken by the end of an operation; and, like XAPI's backoff, tried again now and
         * then anyway (a conflict may also end where no storage operation is unmarked) */
        struct timeval again = {RETRY_S, 0};
        event_add(wake_ev, &again);
        api_error_clear(err);
        w->req = rpc_defer(ctx);
        rpc_on_cancel(w->req, waiter_cancelled, w);
        struct waiter **p = &waiters; /* arrival order */
        while (*p != NULL)
                p = &(*p)->next;
        *p = w;
        return 0;
}

void storage_wait_wake(void)
{
        if (waiters != NULL && wake_ev != NULL)
                event_active(wake_ev, 0, 0);
}

unsigned storage_waiting(void)
{
        unsigned n = 0;
        for (struct waiter *w = waiters; w != NULL; w = w->next)
                n++;
        return n;
}
