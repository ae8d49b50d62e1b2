/* Inside the events code: subscriptions, tokens, and the read of what changed since a
 * generation (event_sub.c), used by the handlers and waiters of event.c. */
#ifndef TS_XAPID_EVENT_INTERNAL_H
#define TS_XAPID_EVENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_row;
struct mclass;
struct rpc_value;
struct rpc_writer;
struct api_error;

#define EV_CLS_ALL     (-1) /* "*" */
#define EV_CLS_UNKNOWN (-2) /* a class name we do not serve: never matches */

struct ev_sub {
        int cls;   /* class id, EV_CLS_ALL or EV_CLS_UNKNOWN */
        char *ref; /* NULL: the whole class */
};

struct ev_subs {
        struct ev_sub *v; /* owned */
        size_t n;
        uint64_t mask; /* bit per class id with at least one subscription */
        bool all;
};

/* Parses a string set of subscriptions, appending to SUBS.  0 or -EINVAL with
 * EVENT_SUBSCRIPTION_PARSE_FAILURE [sub] (SUBS unchanged then). */
int ev_subs_parse(struct ev_subs *subs, const struct rpc_value *set, struct api_error *err);
/* Removes from SUBS those equal to one in SET (event.unregister). */
int ev_subs_remove(struct ev_subs *subs, const struct rpc_value *set, struct api_error *err);
void ev_subs_clear(struct ev_subs *subs);
/* Whether a change in one of the classes of MASK may concern SUBS. */
bool ev_subs_wants(const struct ev_subs *subs, uint64_t mask);

/* "" → 0, "<gen>,<n>" → gen; -EINVAL for anything else. */
int ev_token_parse(const char *text, uint64_t *gen);
#define EV_TOKEN_LEN 48
void ev_token_format(char buf[EV_TOKEN_LEN], uint64_t gen);

enum ev_op { EV_ADD, EV_MOD, EV_DEL };

struct ev_item {
        const struct mclass *cls;
        const char *ref;          /* borrowed from the row or the deletion log */
        const struct db_row *row; /* NULL for EV_DEL */
        uint64_t gen;
        enum ev_op op;
};

struct ev_items {
        struct ev_item *v; /* owned */
        size_t n, cap;
        bool lost; /* a deletion log no longer reaches back to the generation asked */
};

/* What concerns SUBS since generation SINCE, oldest first.  Borrowed pointers stay valid
 * until the db changes. */
void ev_collect(const struct db *db, const struct ev_subs *subs, uint64_t since,
                struct ev_items *out);
void ev_items_free(struct ev_items *items);

/* Lower-case class names, as events and valid_ref_counts spell them. */
const char *ev_class_name(const struct mclass *c);
/* Class by name, case-insensitive, among classes with rows; NULL if none. */
const struct mclass *ev_class_lookup(const char *name);

/* One event record; TIMESTAMP as the text XAPI sends. */
void ev_write_event(struct rpc_writer *w, const struct ev_item *it, const char *timestamp);
/* event.from's event_batch. */
void ev_write_batch(struct rpc_writer *w, const struct db *db, const struct ev_subs *subs,
                    const struct ev_items *items, uint64_t token_gen);

#endif
