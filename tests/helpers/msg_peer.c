/* A bare messaging peer for tests: connects to a ROUTER at PATH as IDENTITY with fast
 * heartbeats (HEARTBEAT_MS, default 50) and runs until killed, announcing the state
 * "power"="running".  Tests start it with fork+exec, so that the child is a fresh process and
 * not a copy of one running ZeroMQ's threads. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/msg.h"

int main(int argc, char **argv)
{
        if (argc != 3 && argc != 4) {
                fprintf(stderr, "usage: %s PATH IDENTITY [HEARTBEAT_MS]\n", argv[0]);
                return 2;
        }
        int hb = argc == 4 ? atoi(argv[3]) : 50;
        if (hb <= 0)
                hb = 50;
        struct event_base *base = event_base_new();
        struct msg_client_config cc = {.path = argv[1],
                                       .identity = argv[2],
                                       .role = "stord",
                                       .version = "1.2.3",
                                       .heartbeat_ms = hb,
                                       .timeout_ms = 6 * hb};
        struct msg_link *link = NULL;
        if (base == NULL || msg_client_new(base, &cc, &link) < 0 ||
            msg_link_set_state(link, "power", "running") < 0)
                return 1;
        event_base_dispatch(base);
        msg_link_free(link);
        event_base_free(base);
        return 0;
}
