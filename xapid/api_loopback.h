/* Calling this xapid's own API from inside a call, as XAPI's Helpers.call_api_functions does
 * (VM.revert shuts a running VM down through VM.hard_shutdown): the request goes through the
 * ordinary RPC path, with the caller's session and uid, so every check and mark applies. */
#ifndef TS_XAPID_API_LOOPBACK_H
#define TS_XAPID_API_LOOPBACK_H

struct xapi;
struct api_error;

/* DONE gets 0, or a negative errno with ERR (XAPI's error, borrowed for the call). */
typedef void (*api_loopback_fn)(void *arg, int r, struct api_error *err);

/* Calls METHOD(SESSION, REF) as the caller UID.  DONE runs exactly once, never from inside
 * this call.  Returns 0 or -ENOMEM. */
int api_loopback_call(struct xapi *x, long uid, const char *session, const char *method,
                      const char *ref, api_loopback_fn done, void *arg);

#endif
