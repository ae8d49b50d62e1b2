/* Tasks: the records behind Async.<class>.<message> calls and task.create, their outcome,
 * cancellation, and the collection of old completed tasks (as XAPI: the newest
 * TASK_KEEP_COMPLETED are kept, none older than TASK_MAX_AGE_SECONDS once completed). */
#ifndef TS_XAPID_TASK_H
#define TS_XAPID_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct xapi;
struct api_error;

#define TASK_KEEP_COMPLETED  200
#define TASK_MAX_AGE_SECONDS (65 * 60)

int tasks_init(struct xapi *x);
void tasks_free(struct xapi *x);

/* A pending task for an Async call of WIRE_NAME by SESSION; *REF (caller frees). */
int task_create_for_call(struct xapi *x, const char *session, const char *wire_name, char **ref,
                         struct api_error *err);
/* Outcomes: RESULT is the call's value as an XML-RPC <value> fragment (LEN bytes). */
void task_succeed(struct xapi *x, const char *ref, const char *result, size_t len);
void task_fail(struct xapi *x, const char *ref, const struct api_error *e);
void task_set_progress(struct xapi *x, const char *ref, double progress);
/* True once task.cancel was called on REF. */
bool task_cancelling(struct xapi *x, const char *ref);
/* Collects completed tasks per the limits above, as of NOW; returns how many went. */
int tasks_collect(struct xapi *x, time_t now);

/* Registers what cancels a running task (called at most once, on the loop); NULL clears. */
void task_set_cancel_hook(struct xapi *x, const char *ref, void (*fn)(void *arg), void *arg);

#endif
