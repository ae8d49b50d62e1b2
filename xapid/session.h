/* Sessions: session.login_with_password and friends, and the check every other call makes.
 *
 * Sessions are rows of the datamodel's session class, which is memory-only (as in XAPI:
 * clients log in again after a restart).  Limits as XAPI: at most SESSION_LIMIT sessions per
 * originator (or per user name when the client gives no originator), the least recently
 * active one evicted; a session unused for SESSION_IDLE_SECONDS expires. */
#ifndef TS_XAPID_SESSION_H
#define TS_XAPID_SESSION_H

#include <time.h>

struct xapi;
struct api_error;

#define SESSION_LIMIT        500
#define SESSION_IDLE_SECONDS (24 * 3600)

/* Starts the expiry timer.  Returns 0 or -ENOMEM. */
int sessions_init(struct xapi *x);
void sessions_free(struct xapi *x);
/* Checks that REF names a live session and marks it active.  0, or -EINVAL with
 * SESSION_INVALID [ref] in ERR. */
int session_check(struct xapi *x, const char *ref, struct api_error *err);
/* Expires sessions idle since before NOW - SESSION_IDLE_SECONDS; returns how many. */
int sessions_expire(struct xapi *x, time_t now);

#endif
