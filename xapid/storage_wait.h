/* XAPI's answer to a storage call that conflicts with an operation in progress: not an error
 * at once but a wait.  XAPI marks SRs and VDIs through Helpers.retry_with_global_lock, which
 * on OTHER_OPERATION_IN_PROGRESS sleeps until the conflicting operation ends (woken early by
 * its end) and tries again, for up to two hours (Helpers.Policy.standard); every other error
 * (VDI_IN_USE, SR_HAS_PBD, ...) is immediate.  Here a handler passes its result through
 * storage_wait(): on OTHER_OPERATION_IN_PROGRESS the call is deferred and its handler runs
 * again from the start whenever an SR or VDI operation ends, until it gets past the
 * conflict or the wait limit passes (then the error goes to the caller).  A waiting call is
 * abandoned with its client or its task (task.cancel). */
#ifndef TS_XAPID_STORAGE_WAIT_H
#define TS_XAPID_STORAGE_WAIT_H

struct api_ctx;
struct api_error;

#define STORAGE_WAIT_MAX_S (2 * 3600) /* XAPI's Policy.standard max_total_wait */

/* R is the handler's result with ERR.  Returns R, or 0 when the call now waits (ERR
 * cleared). */
int storage_wait(struct api_ctx *ctx, int r, struct api_error *err);
/* An SR or VDI operation ended: the waiting calls try again (from the event loop). */
void storage_wait_wake(void);
/* Calls waiting now (tests, status). */
unsigned storage_waiting(void);

#endif
