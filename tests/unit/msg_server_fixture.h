/* A msg server on a socket in a temporary directory that counts its peers going up and down,
 * for the unit tests that run tests/helpers/msg_peer processes against it. */
#ifndef TESTS_UNIT_MSG_SERVER_FIXTURE_H
#define TESTS_UNIT_MSG_SERVER_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/msg.h"

struct msg_server_fixture {
        char dir[64];
        char path[96];
        char helper[512]; /* $B/tests/helpers/msg_peer */
        struct event_base *base;
        struct msg_link *srv;
        int ups, downs;
};

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fixture_on_peer(struct msg_link *l, const struct msg_peer_info *p, int up, void *arg)
{
        struct msg_server_fixture *f = arg;
        if (up)
                f->ups++;
        else
                f->downs++;
}

/* Starts F's server (peers dropped after PEER_TIMEOUT_MS) in a new /tmp/NAME.XXXXXX. */
static void fixture_open(struct msg_server_fixture *f, const char *name, int peer_timeout_ms)
{
        const char *b = getenv("B");
        snprintf(f->helper, sizeof f->helper, "%s/tests/helpers/msg_peer", b != NULL ? b : "build");
        snprintf(f->dir, sizeof f->dir, "/tmp/%s.XXXXXX", name);
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/xapid.msg", f->dir);
        f->base = event_base_new();
        struct msg_server_config sc = {.path = f->path, .peer_timeout_ms = peer_timeout_ms};
        assert_int_equal(msg_server_new(f->base, &sc, &f->srv), 0);
        msg_link_on_peer(f->srv, fixture_on_peer, f);
}

static void fixture_close(struct msg_server_fixture *f)
{
        msg_link_free(f->srv);
        event_base_free(f->base);
        unlink(f->path);
        rmdir(f->dir);
}

#endif
