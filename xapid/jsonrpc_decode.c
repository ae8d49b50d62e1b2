/* JSON-RPC request decoding with jansson (see jsonrpc_decode.h for the rules). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "xapid/jsonrpc_decode.h"

LOG_MODULE(jsonrpc);

static int fail(char **errmsg, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char **errmsg, int err, const char *fmt, ...)
{
        if (errmsg) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(errmsg, fmt, ap) < 0)
                        *errmsg = NULL;
                va_end(ap);
                log_debug("rejected JSON-RPC input: %s", *errmsg ? *errmsg : "?");
        }
        return err;
}

/* Converts J into *OUT; DEPTH counts the containers already open around it. */
static int convert(const json_t *j, int depth, struct rpc_value **out, char **errmsg)
{
        struct rpc_value *v = NULL;
        int r;
        switch (json_typeof(j)) {
        case JSON_STRING:
                *out = rpc_value_new_string(json_string_value(j), json_string_length(j));
                return 0;
        case JSON_INTEGER:
                *out = rpc_value_new_int((int64_t)json_integer_value(j));
                return 0;
        case JSON_REAL:
                *out = rpc_value_new_double(json_real_value(j));
                return 0;
        case JSON_TRUE:
        case JSON_FALSE:
                *out = rpc_value_new_bool(json_is_true(j));
                return 0;
        case JSON_NULL:
                *out = rpc_value_new(RPC_NIL);
                return 0;
        case JSON_ARRAY:
        case JSON_OBJECT:
                break;
        }
        if (depth >= RPC_MAX_DEPTH)
                return fail(errmsg, -E2BIG, "values nested deeper than %d levels", RPC_MAX_DEPTH);
        if (json_is_array(j)) {
                v = rpc_value_new(RPC_ARRAY);
                size_t i;
                const json_t *item;
                json_array_foreach(j, i, item)
                {
                        struct rpc_value *c;
                        r = convert(item, depth + 1, &c, errmsg);
                        if (r < 0)
                                goto out;
                        rpc_array_append(v, c);
                }
        } else {
                v = rpc_value_new(RPC_STRUCT);
                const char *key;
                const json_t *item;
                json_object_foreach((json_t *)j, key, item)
                {
                        struct rpc_value *c;
                        r = convert(item, depth + 1, &c, errmsg);
                        if (r < 0)
                                goto out;
                        char *k = strdup(key);
                        if (!k) {
                                rpc_value_free(c);
                                r = fail(errmsg, -ENOMEM, "out of memory");
                                goto out;
                        }
                        rpc_struct_append(v, k, c);
                }
        }
        *out = v;
        return 0;
out:
        rpc_value_free(v);
        return r;
}

int jsonrpc_decode_call(const char *buf, size_t len, struct rpc_call **out, char **errmsg)
{
        *out = NULL;
        if (errmsg)
                *errmsg = NULL;
        if (len > RPC_MAX_REQUEST_SIZE)
                return fail(errmsg, -E2BIG, "request larger than %d bytes", RPC_MAX_REQUEST_SIZE);

        json_error_t jerr;
        json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return fail(errmsg, -EINVAL, "JSON parse error at line %d column %d: %s", jerr.line,
                            jerr.column, jerr.text);

        struct rpc_call *c = NULL;
        int r;
        if (json_is_array(root)) {
                r = fail(errmsg, -EINVAL, "batch requests are not supported");
                goto out;
        }
        if (!json_is_object(root)) {
                r = fail(errmsg, -EINVAL, "request body is not a JSON object");
                goto out;
        }

        int version = 1;
        const json_t *jv = json_object_get(root, "jsonrpc");
        if (jv) {
                if (json_is_string(jv) && strcmp(json_string_value(jv), "2.0") == 0)
                        version = 2;
                else if (!(json_is_string(jv) && strcmp(json_string_value(jv), "1.0") == 0)) {
                        r = fail(errmsg, -EINVAL, "invalid field 'jsonrpc' in request body");
                        goto out;
                }
        }

        const json_t *method = json_object_get(root, "method");
        if (!json_is_string(method)) {
                r = fail(errmsg, -EINVAL, "%s field 'method' in request body",
                         method ? "invalid" : "missing");
                goto out;
        }

        const json_t *params = json_object_get(root, "params");
        if (json_is_object(params)) {
                r = fail(errmsg, -EINVAL,
                         "named parameters are not supported: 'params' must be an array");
                goto out;
        }
        if (!json_is_array(params) && !(version == 2 && (!params || json_is_null(params)))) {
                r = fail(errmsg, -EINVAL, "%s field 'params' in request body",
                         params ? "invalid" : "missing");
                goto out;
        }

        const json_t *id = json_object_get(root, "id");
        if (id && !json_is_integer(id) && !json_is_string(id) && !json_is_null(id)) {
                r = fail(errmsg, -EINVAL, "invalid field 'id' in request body");
                goto out;
        }

        c = calloc(1, sizeof(*c));
        if (!c) {
                r = fail(errmsg, -ENOMEM, "out of memory");
                goto out;
        }
        c->json_version = version;
        c->method = strdup(json_string_value(method));
        c->json_id = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
        if (!c->method || !c->json_id) {
                r = fail(errmsg, -ENOMEM, "out of memory");
                goto out;
        }
        size_t i;
        const json_t *p;
        json_array_foreach(params, i, p)
        {
                struct rpc_value *v;
                r = convert(p, 0, &v, errmsg);
                if (r < 0)
                        goto out;
                rpc_call_append_param(c, v);
        }
        *out = c;
        c = NULL;
        r = 0;
out:
        rpc_call_free(c);
        json_decref(root);
        return r;
}
