/* Paced starting of domds: at most a few starting at once, the others queued in order.
 *
 * A domd spends its first tens of milliseconds of CPU in the dynamic loader and its set-up
 * before it says Hello.  A boot storm that starts a thousand of them at once on a host with
 * two cores has every one of them starving the others (and the domds already running, which
 * then miss their heartbeats), so that none says Hello within its connect timeout.  Started
 * a few at a time, each is up quickly, the total is the same CPU work, and a call's connect
 * timeout counts from the start of its own domd, not from its place in the queue.
 *
 * A slot is held from the start of a domd until it says Hello or exits (domd_launch_settled)
 * or SETTLE_MS has passed. */
#ifndef TS_XAPID_DOMD_LAUNCH_H
#define TS_XAPID_DOMD_LAUNCH_H

#include <stdbool.h>

struct event_base;
struct domd_spawner;
struct domd_launcher;

struct domd_launch_hooks {
        /* A queued domd's turn came: false to drop it (nobody needs it any more). */
        bool (*wanted)(void *arg, const char *uuid);
        /* A queued domd was started now (not called for one started at once). */
        void (*started)(void *arg, const char *uuid);
        void *arg;
};

int domd_launcher_new(struct event_base *base, struct domd_spawner *spawner, unsigned max,
                      unsigned settle_ms, const struct domd_launch_hooks *hooks,
                      struct domd_launcher **out);
void domd_launcher_free(struct domd_launcher *l);

/* Starts the domd of UUID unless one runs, is starting, or is queued.  Returns 0 when it
 * was started now or is already on its way, 1 when queued, or -errno. */
int domd_launch(struct domd_launcher *l, const char *uuid);
/* True while UUID waits for a slot. */
bool domd_launch_queued(struct domd_launcher *l, const char *uuid);
/* The domd of UUID said Hello or exited: its slot goes to the next one. */
void domd_launch_settled(struct domd_launcher *l, const char *uuid);

#endif
