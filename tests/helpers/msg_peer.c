/* A bare messaging peer for tests: connects to a ROUTER at PATH as IDENTITY with fast
 * heartbeats (HEARTBEAT_MS, default 50) and runs until killed, announcing the state
 * "power"="running".  With IDLE_PING_MS it asks to be a quiet peer (msg_client_config
 * idle_ping_ms).  It answers ts.peer.StatusRequest with one item "who"=IDENTITY, after
 * REPLY_DELAY_MS (default 0): a long request, during which it owes the server an answer.
 * Tests start it with fork+exec, so that the child is a fresh process and not a copy of one
 * running ZeroMQ's threads. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/msg.h"

struct held {
        struct msg_link *link;
        struct msg_origin from;
        const char *identity;
        struct event *ev;
};

static void reply_now(evutil_socket_t fd, short what, void *arg)
{
        struct held *h = arg;
        Ts__Peer__KeyValue kv = TS__PEER__KEY_VALUE__INIT;
        Ts__Peer__KeyValue *items[1] = {&kv};
        kv.key = "who";
        kv.value = (char *)h->identity;
        Ts__Peer__StatusReply rep = TS__PEER__STATUS_REPLY__INIT;
        rep.n_items = 1;
        rep.items = items;
        msg_link_reply(h->link, &h->from, &rep.base);
        event_free(h->ev);
        free(h);
}

static int delay_ms;
static const char *identity;

static int on_status(struct msg_link *l, const struct msg_origin *from,
                     const ProtobufCMessage *body, void *arg)
{
        struct held *h = calloc(1, sizeof *h);
        if (h == NULL)
                return -12;
        h->link = l;
        h->from = *from;
        h->from.type = NULL;
        h->identity = identity;
        h->ev = evtimer_new((struct event_base *)arg, reply_now, h);
        struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
        evtimer_add(h->ev, &tv);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3 || argc > 6) {
                fprintf(stderr,
                        "usage: %s PATH IDENTITY [HEARTBEAT_MS [IDLE_PING_MS [REPLY_DELAY_MS]]]\n",
                        argv[0]);
                return 2;
        }
        int hb = argc >= 4 ? atoi(argv[3]) : 50;
        if (hb <= 0)
                hb = 50;
        identity = argv[2];
        delay_ms = argc >= 6 ? atoi(argv[5]) : 0;
        struct event_base *base = event_base_new();
        struct msg_client_config cc = {.path = argv[1],
                                       .identity = argv[2],
                                       .role = "stord",
                                       .version = "1.2.3",
                                       .heartbeat_ms = hb,
                                       .timeout_ms = 6 * hb,
                                       .idle_ping_ms = argc >= 5 ? atoi(argv[4]) : 0};
        struct msg_link *link = NULL;
        if (base == NULL || msg_client_new(base, &cc, &link) < 0 ||
            msg_link_set_state(link, "power", "running") < 0 ||
            msg_link_handle(link, &ts__peer__status_request__descriptor, on_status, base) < 0)
                return 1;
        event_base_dispatch(base);
        msg_link_free(link);
        event_base_free(base);
        return 0;
}
