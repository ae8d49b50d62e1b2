/* A decoded RPC request value (XML-RPC or JSON-RPC).  Requests are small (≤ 300 KiB), so a
 * tree is fine here; responses never build one: they stream through struct rpc_writer. */
#ifndef TS_XAPID_RPC_VALUE_H
#define TS_XAPID_RPC_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rpc_type {
        RPC_NIL,
        RPC_STRING, /* also XML-RPC <dateTime.iso8601> text: see is_datetime */
        RPC_INT,    /* XML-RPC <i4>/<int>/<i8>, JSON integers */
        RPC_DOUBLE,
        RPC_BOOL,
        RPC_ARRAY,
        RPC_STRUCT,
};

struct rpc_value {
        enum rpc_type type;
        bool is_datetime; /* RPC_STRING that came as <dateTime.iso8601> */
        union {
                struct {
                        char *s; /* NUL-terminated, owned; may contain no NUL bytes */
                        size_t len;
                } str;
                int64_t i;
                double d;
                bool b;
                struct {
                        struct rpc_value **items; /* owned */
                        size_t n;
                } arr;
                struct {
                        char **keys;             /* owned */
                        struct rpc_value **vals; /* owned */
                        size_t n;
                } st;
        } u;
};

/* A decoded call: method name and positional parameters (JSON-RPC named params are rejected
 * by the decoder, as XAPI does). */
struct rpc_call {
        char *method;              /* owned */
        struct rpc_value **params; /* owned */
        size_t n_params;
        /* JSON-RPC only: the request id as raw JSON text (owned, NULL for XML-RPC) and version. */
        char *json_id;
        int json_version; /* 0 for XML-RPC, 1 or 2 */
};

struct rpc_value *rpc_value_new(enum rpc_type type); /* aborts on ENOMEM */
struct rpc_value *rpc_value_new_string(const char *s, size_t len);
void rpc_value_free(struct rpc_value *v); /* NULL is fine */
void rpc_call_free(struct rpc_call *c);   /* NULL is fine */
/* Looks up KEY in a struct; NULL if absent or V is not a struct.  Borrowed. */
const struct rpc_value *rpc_struct_get(const struct rpc_value *v, const char *key);
const char *rpc_type_name(enum rpc_type t);

#endif
