/* xe: the XenAPI command line.  Shared state of one invocation and the helpers commands use
 * (calls, lookups, rendering of fields, output). */
#ifndef TS_CLI_XE_H
#define TS_CLI_XE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/xe_args.h"
#include "cli/xe_schema.h"
#include "cli/xe_transport.h"
#include "cli/xe_value.h"

#define XE_DEFAULT_SOCKET "/var/lib/xcp/xapi"

struct xe_cache_entry {
        char *ref, *uuid;
};

struct xe_ctx {
        struct xe_args *args;
        struct xe_conn conn;
        char *session;
        /* references already turned into uuids */
        struct xe_cache_entry *cache;
        size_t n_cache;
        /* the last failure of xe_try: code and parameters */
        struct xv *error;
};

/* ---- calls (xe_rpc.c) ---- */
/* Calls `method` with the session (logging in first) and `n` struct xv * parameters (taken).
 * On a XenAPI failure prints it as xe does and exits 1. */
struct xv *xe_call(struct xe_ctx *x, const char *method, size_t n, ...);
/* The same, but a failure returns NULL and leaves its ErrorDescription in x->error. */
struct xv *xe_try(struct xe_ctx *x, const char *method, size_t n, ...);
void xe_logout(struct xe_ctx *x);

/* ---- failures (xe_main.c) ---- */
/* "Error code: ...\nError parameters: ..." (XAPI's form for a server error); exits 1. */
_Noreturn void xe_die_api(struct xe_ctx *x, const struct xv *error_description);
/* "Error: msg"; exits 1. */
_Noreturn void xe_die(struct xe_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* XAPI's usage errors: "<what>: <detail>" then "For usage run: 'xe help'"; exits 1. */
_Noreturn void xe_die_usage(struct xe_ctx *x, const char *what, const char *detail);
/* The parameter or the usage error "Required parameter not found". */
const char *xe_required(struct xe_ctx *x, const char *key);

/* ---- records and fields (xe_records.c) ---- */
/* The uuid of a reference ("<not in database>" for a null or dangling one). */
const char *xe_ref_uuid(struct xe_ctx *x, const char *cls, const char *ref);
/* <cls>.get_by_uuid, failing as the server does. */
struct xv *xe_ref_by_uuid(struct xe_ctx *x, const char *cls, const char *uuid);
/* How xe prints a field's value (malloc'd). */
char *xe_render(struct xe_ctx *x, const struct xe_field *f, const struct xv *v);
/* A command-line string as the XenAPI value of a field or map/set element kind; NULL with
 * an "Error:" when it does not parse. */
struct xv *xe_parse_kind(struct xe_ctx *x, const struct xe_field *f, enum xe_kind k, const char *s);
/* Map/set values as strings, for membership tests. */
bool xe_map_lookup(const struct xv *map, const char *key, const char **value);

/* ---- output (xe_output.c) ---- */
struct xe_rec {
        size_t n;
        char **names; /* "name-label ( RW)" */
        char **values;
};
void xe_rec_add(struct xe_rec *r, char *name, char *value); /* takes both */
void xe_rec_free(struct xe_rec *r);
/* Records as XAPI's xe prints them, or (minimal) the first value of each, comma separated. */
void xe_print_records(const struct xe_rec *recs, size_t n, bool minimal);
/* Names for --minimal output: commas and backslashes escaped. */
void xe_print_list(char *const *items, size_t n, bool minimal);

/* ---- commands ---- */
/* Each returns the exit status, or -1 when `cmd` is not one of its commands. */
int xe_generic_command(struct xe_ctx *x, const char *cmd);
int xe_vm_command(struct xe_ctx *x, const char *cmd);
int xe_object_command(struct xe_ctx *x, const char *cmd);
int xe_event_command(struct xe_ctx *x, const char *cmd);
int xe_help_command(struct xe_ctx *x, const char *cmd);

/* The generic commands (xe_generic.c): each name, and one's parameters and text. */
void xe_generic_names(void (*fn)(const char *name, void *arg), void *arg);
bool xe_generic_describe(const char *cmd, char **reqd, char **optional, const char **help);

/* The help table (xe_help.c): every command, its parameters and text. */
struct xe_cmd_help {
        const char *name;
        const char *reqd;     /* comma-separated */
        const char *optional; /* comma-separated */
        const char *help;
        bool standard; /* listed by plain `xe help` */
};
extern const struct xe_cmd_help xe_composite_help[];
extern const size_t xe_n_composite_help;

/* Whether the record's field (name, map:key or set:contains) prints as WANT, as <class>-list
 * filters; an unknown field is an "Error:". */
bool xe_record_matches(struct xe_ctx *x, const struct xe_class *c, const struct xv *rec,
                       const char *key, const char *want);

#endif
