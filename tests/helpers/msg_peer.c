/* A bare messaging peer for tests: connects to a ROUTER at PATH as IDENTITY with fast
 * heartbeats and runs until killed.  Tests start it with fork+exec, so that the child is a
 * fresh process and not a copy of one running ZeroMQ's threads. */
#include <event2/event.h>
#include <stdio.h>

#include "common/msg.h"

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: %s PATH IDENTITY\n", argv[0]);
                return 2;
        }
        struct event_base *base = event_base_new();
        struct msg_client_config cc = {.path = argv[1],
                                       .identity = argv[2],
                                       .role = "stord",
                                       .version = "1.2.3",
                                       .heartbeat_ms = 50,
                                       .timeout_ms = 300};
        struct msg_link *link = NULL;
        if (base == NULL || msg_client_new(base, &cc, &link) < 0)
                return 1;
        event_base_dispatch(base);
        msg_link_free(link);
        event_base_free(base);
        return 0;
}
