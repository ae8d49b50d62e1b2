/* The state of one xapid process that the API implementation shares: the event loop, the
 * datamodel, authentication, durability, and this host's own objects.  One instance, made
 * by main.c (or by a test), passed to every layer; nothing here is global. */
#ifndef TS_XAPID_XAPI_H
#define TS_XAPID_XAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct db;
struct auth;
struct sessions;
struct tasks;
struct events;
struct msg_link;
struct storage;
struct vms;

/* Makes the datamodel changes made so far durable, then calls DONE (result 0 or -errno)
 * on the loop.  May call DONE before returning. */
typedef void (*xapi_commit_fn)(void *commit_ctx, void (*done)(int result, void *arg), void *arg);

struct xapi {
        struct event_base *base; /* borrowed */
        struct db *db;
        struct auth *auth;
        struct sessions *sessions;
        struct tasks *tasks;
        struct events *events;
        xapi_commit_fn commit; /* NULL: changes are in memory only (tests) */
        void *commit_ctx;
        struct msg_link *msg;    /* the ROUTER stord, netd, domd connect to; NULL in tests */
        struct storage *storage; /* storage.c */
        struct vms *vms;         /* vm_lifecycle.c */
        char *host_ref;          /* this host, "OpaqueRef:…" */
        char *pool_ref;
        const char *password_file; /* for session.change_password with the file backend */
        unsigned long long calls;  /* RPC calls handled */
};

#endif
