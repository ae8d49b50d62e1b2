/* The XenAPI method table (generated in $(B)/gen/api/dispatch.c from idl/xenapi.idl) and
 * the generic dispatcher that checks a call against it before running the implementation.
 *
 * Implicit messages (get_<field>, set_<field>, get_record, create, …) are served by the
 * generic code of api_generic.c on the store; explicit ones by hand-written handlers whose
 * prototypes are in the generated api/handlers.h (see idl/README.md). */
#ifndef TS_XAPID_API_H
#define TS_XAPID_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xapid/model.h"

struct db;
struct rpc_value;
struct rpc_writer;
struct api_error;
struct api_method;

/* Per-call context; owned by the caller of api_dispatch (the RPC layer). */
struct api_ctx {
        struct db *db;       /* borrowed */
        const char *session; /* session_id of the call, NULL for login-type calls */
        const struct api_method *method;
        void *user; /* for the RPC layer */
};

/* Uniform handler signature: PARAMS are already checked for arity and type against the
 * method's description; a handler writes exactly one value into W on success (nothing for a
 * void result: the dispatcher writes ""), or returns a negative errno with ERR set. */
typedef int (*api_handler_fn)(struct api_ctx *ctx, const struct rpc_value *const *params,
                              size_t n_params, struct rpc_writer *w, struct api_error *err);

enum api_impl {
        API_EXPLICIT,
        API_GET_FIELD,
        API_SET_FIELD,
        API_ADD_TO,      /* map field: add_to_<f>(self, key, value) */
        API_REMOVE_FROM, /* map field: remove_from_<f>(self, key) */
        API_ADD,         /* set field: add_<f>(self, value) */
        API_REMOVE,      /* set field: remove_<f>(self, value) */
        API_GET_RECORD,
        API_GET_BY_UUID,
        API_GET_BY_NAME_LABEL,
        API_GET_ALL,
        API_GET_ALL_RECORDS,
        API_GET_ALL_RECORDS_WHERE,
        API_CREATE,
        API_DESTROY,
};

struct api_param {
        const char *name;
        const struct mtype *type;
        bool required;
};

struct api_method {
        const char *wire_name; /* "VM.start" */
        const struct mclass *cls;
        const char *name; /* "start" */
        const struct api_param *params;
        int n_params, n_required; /* session_id included */
        const struct mtype *result;
        uint32_t roles; /* bit i set: api_role_names[i] may call it */
        bool async;     /* Async.<wire_name> exists */
        bool implicit;
        bool session; /* first parameter is session_id */
        enum api_impl impl;
        int field;         /* field index for the per-field implicit messages, else -1 */
        api_handler_fn fn; /* the explicit handler, or the generic one */
};

extern const struct api_method api_methods[]; /* sorted by wire_name */
extern const int api_n_methods;
extern const char *const api_role_names[];
extern const int api_n_roles;

/* Looks a wire name up ("VM.start"; no "Async." prefix).  NULL if unknown. */
const struct api_method *api_method_lookup(const char *wire_name);

/* Checks arity (MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received]) and the type
 * of each parameter (FIELD_TYPE_ERROR [param]).  Returns 0 or -EINVAL with ERR set. */
int api_check_params(const struct api_method *m, const struct rpc_value *const *params, size_t n,
                     struct api_error *err);

/* The generic implementation of every implicit message (api_generic.c). */
int api_generic(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n_params,
                struct rpc_writer *w, struct api_error *err);

#endif
