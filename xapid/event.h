/* XenAPI events: event.from (tokens over the db's generations), and the old API
 * (event.register / unregister / next), event.inject, event.get_current_id.
 *
 * As XAPI (ocaml/xapi/xapi_event.ml):
 *   - a token is "%020d,%020d": the db generation seen, and a second counter XAPI uses for
 *     messages (always 0 here); "" means from the beginning (every object as "add");
 *   - subscriptions: "*", "<class>" (case-insensitive), "<class>/<ref>"; an unknown class
 *     name is accepted and never matches (XAPI does not check names either); an empty one,
 *     or an empty class or ref around '/', is EVENT_SUBSCRIPTION_PARSE_FAILURE [sub];
 *   - one event per object, its latest state: "add" if created after the token, else "mod";
 *     "del" for a deletion of an object that existed at the token (from the per-class
 *     deletion log: when the log no longer reaches back to the token, event.from returns
 *     what it still has, as XAPI; event.next fails with EVENTS_LOST);
 *   - event records {id, timestamp, class, operation, ref, snapshot} (snapshot absent for
 *     "del"); event.from answers {events, valid_ref_counts, token}, valid_ref_counts with
 *     the number of objects of each subscribed class;
 *   - a call with nothing to report waits (no thread: the RPC is deferred) until a
 *     matching change or, for event.from, its timeout; then an empty batch and a new token;
 *     when its session goes away it fails with SESSION_INVALID [session].
 *
 * Waiting calls sit on one list with a mask of their classes.  The db's change hook only
 * ors the changed class into a mask and activates one libevent event, so a burst of
 * changes in one loop iteration wakes each concerned waiter once. */
#ifndef TS_XAPID_EVENT_H
#define TS_XAPID_EVENT_H

#include <stddef.h>

struct xapi;

/* Installs the db change hook and sets x->events.  Returns 0 or -errno. */
int events_init(struct xapi *x);
/* Forgets waiting calls (the transports must have abandoned them already) and the hook.
 * NULL x->events is fine. */
void events_free(struct xapi *x);
/* How many calls are waiting (event.from and event.next). */
size_t events_waiting(const struct xapi *x);

#endif
