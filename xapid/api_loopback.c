/* Internal API calls (see api_loopback.h), as JSON-RPC 2.0 requests through rpc_start. */
#include "xapid/api_loopback.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "xapid/rpc.h"
#include "xapid/xapi.h"

struct loopback {
        struct xapi *x;
        api_loopback_fn done;
        void *arg;
        int r;
        struct api_error err;
        struct event *ev;
};

/* The outcome from the JSON-RPC 2.0 answer. */
static void parse_answer(struct loopback *lb, const char *text, size_t len)
{
        json_error_t jerr;
        json_t *root = json_loadb(text, len, 0, &jerr);
        json_t *error = json_object_get(root, "error");
        if (root == NULL) {
                lb->r =
                    api_error_set(&lb->err, "INTERNAL_ERROR", "unreadable internal answer", NULL);
        } else if (error != NULL && json_is_object(error)) {
                json_t *msg = json_object_get(error, "message");
                json_t *data = json_object_get(error, "data");
                const char *params[8];
                size_t n = 0;
                for (size_t i = 0; json_is_array(data) && i < json_array_size(data) && n < 8; i++)
                        if (json_is_string(json_array_get(data, i)))
                                params[n++] = json_string_value(json_array_get(data, i));
                api_error_setv(&lb->err,
                               json_is_string(msg) ? json_string_value(msg) : "INTERNAL_ERROR",
                               params, n);
                lb->r = -EINVAL;
        }
        json_decref(root);
}

/* DONE runs from the loop, never from inside rpc_start. */
static void deliver(evutil_socket_t fd, short what, void *arg)
{
        struct loopback *lb = arg;
        lb->done(lb->arg, lb->r, &lb->err);
        api_error_clear(&lb->err);
        event_free(lb->ev);
        free(lb);
}

static void answered(struct rpc_req *req, void *arg)
{
        struct loopback *lb = arg;
        struct evbuffer *out = rpc_req_output(req);
        size_t len = evbuffer_get_length(out);
        const char *text = (const char *)evbuffer_pullup(out, -1);
        parse_answer(lb, text != NULL ? text : "", text != NULL ? len : 0);
        rpc_req_free(req);
        event_active(lb->ev, 0, 0);
}

int api_loopback_call(struct xapi *x, long uid, const char *session, const char *method,
                      const char *ref, api_loopback_fn done, void *arg)
{
        struct loopback *lb = calloc(1, sizeof(*lb));
        if (lb == NULL)
                return -ENOMEM;
        lb->x = x;
        lb->done = done;
        lb->arg = arg;
        lb->ev = event_new(x->base, -1, 0, deliver, lb);
        json_t *call = json_pack("{s:s, s:s, s:[s,s], s:i}", "jsonrpc", "2.0", "method", method,
                                 "params", session != NULL ? session : "", ref, "id", 1);
        char *body = call != NULL ? json_dumps(call, JSON_COMPACT) : NULL;
        json_decref(call);
        if (lb->ev == NULL || body == NULL) {
                if (lb->ev != NULL)
                        event_free(lb->ev);
                free(body);
                free(lb);
                return -ENOMEM;
        }
        struct rpc_caller who = {.uid = uid, .addr = "internal"};
        struct rpc_req *req = NULL;
        rpc_start(x, RPC_JSONRPC, body, strlen(body), &who, answered, lb, &req);
        free(body);
        return 0;
}
