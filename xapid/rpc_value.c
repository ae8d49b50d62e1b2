/* Decoded RPC values: construction, lookup and release.  Values own everything they point to;
 * allocation failures abort (requests are small and bounded, see rpc_value.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xapid/rpc_value.h"

static void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p) {
                fputs("rpc_value: out of memory\n", stderr);
                abort();
        }
        return p;
}

static void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p) {
                fputs("rpc_value: out of memory\n", stderr);
                abort();
        }
        return p;
}

struct rpc_value *rpc_value_new(enum rpc_type type)
{
        struct rpc_value *v = xmalloc(sizeof(*v));
        memset(v, 0, sizeof(*v));
        v->type = type;
        if (type == RPC_STRING) {
                v->u.str.s = xmalloc(1);
                v->u.str.s[0] = '\0';
        }
        return v;
}

struct rpc_value *rpc_value_new_string(const char *s, size_t len)
{
        struct rpc_value *v = xmalloc(sizeof(*v));
        memset(v, 0, sizeof(*v));
        v->type = RPC_STRING;
        v->u.str.s = xmalloc(len + 1);
        if (len)
                memcpy(v->u.str.s, s, len);
        v->u.str.s[len] = '\0';
        v->u.str.len = len;
        return v;
}

struct rpc_value *rpc_value_new_int(int64_t i)
{
        struct rpc_value *v = rpc_value_new(RPC_INT);
        v->u.i = i;
        return v;
}

struct rpc_value *rpc_value_new_double(double d)
{
        struct rpc_value *v = rpc_value_new(RPC_DOUBLE);
        v->u.d = d;
        return v;
}

struct rpc_value *rpc_value_new_bool(bool b)
{
        struct rpc_value *v = rpc_value_new(RPC_BOOL);
        v->u.b = b;
        return v;
}

/* Capacity grows in powers of two; N is the current count, so a realloc is due exactly when
 * N is zero or a power of two. */
static bool needs_growth(size_t n)
{
        return n == 0 || (n & (n - 1)) == 0;
}

void rpc_array_append(struct rpc_value *arr, struct rpc_value *item)
{
        size_t n = arr->u.arr.n;
        if (needs_growth(n))
                arr->u.arr.items = xrealloc(arr->u.arr.items, (n ? 2 * n : 4) * sizeof(item));
        arr->u.arr.items[n] = item;
        arr->u.arr.n = n + 1;
}

void rpc_struct_append(struct rpc_value *st, char *key, struct rpc_value *val)
{
        size_t n = st->u.st.n;
        if (needs_growth(n)) {
                size_t cap = n ? 2 * n : 4;
                st->u.st.keys = xrealloc(st->u.st.keys, cap * sizeof(key));
                st->u.st.vals = xrealloc(st->u.st.vals, cap * sizeof(val));
        }
        st->u.st.keys[n] = key;
        st->u.st.vals[n] = val;
        st->u.st.n = n + 1;
}

void rpc_call_append_param(struct rpc_call *c, struct rpc_value *v)
{
        size_t n = c->n_params;
        if (needs_growth(n))
                c->params = xrealloc(c->params, (n ? 2 * n : 4) * sizeof(v));
        c->params[n] = v;
        c->n_params = n + 1;
}

void rpc_value_free(struct rpc_value *v)
{
        if (!v)
                return;
        switch (v->type) {
        case RPC_STRING:
                free(v->u.str.s);
                break;
        case RPC_ARRAY:
                for (size_t i = 0; i < v->u.arr.n; i++)
                        rpc_value_free(v->u.arr.items[i]);
                free(v->u.arr.items);
                break;
        case RPC_STRUCT:
                for (size_t i = 0; i < v->u.st.n; i++) {
                        free(v->u.st.keys[i]);
                        rpc_value_free(v->u.st.vals[i]);
                }
                free(v->u.st.keys);
                free(v->u.st.vals);
                break;
        default:
                break;
        }
        free(v);
}

void rpc_call_free(struct rpc_call *c)
{
        if (!c)
                return;
        free(c->method);
        for (size_t i = 0; i < c->n_params; i++)
                rpc_value_free(c->params[i]);
        free(c->params);
        free(c->json_id);
        free(c);
}

const struct rpc_value *rpc_struct_get(const struct rpc_value *v, const char *key)
{
        if (!v || v->type != RPC_STRUCT || !key)
                return NULL;
        for (size_t i = 0; i < v->u.st.n; i++)
                if (strcmp(v->u.st.keys[i], key) == 0)
                        return v->u.st.vals[i];
        return NULL;
}

const char *rpc_type_name(enum rpc_type t)
{
        switch (t) {
        case RPC_NIL:
                return "nil";
        case RPC_STRING:
                return "string";
        case RPC_INT:
                return "int";
        case RPC_DOUBLE:
                return "double";
        case RPC_BOOL:
                return "boolean";
        case RPC_ARRAY:
                return "array";
        case RPC_STRUCT:
                return "struct";
        }
        return "unknown";
}
