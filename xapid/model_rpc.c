/* Marshalling of slots and records to struct rpc_writer and from struct rpc_value. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "xapid/model.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"

void model_slot_write(struct rpc_writer *w, const struct mtype *t, const void *slot)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                rpcw_string(w, *(char *const *)slot);
                break;
        case MT_INT:
                rpcw_int(w, *(const int64_t *)slot);
                break;
        case MT_FLOAT:
                rpcw_double(w, *(const double *)slot);
                break;
        case MT_BOOL:
                rpcw_bool(w, *(const bool *)slot);
                break;
        case MT_DATETIME:
                rpcw_datetime(w, *(const time_t *)slot);
                break;
        case MT_ENUM: {
                int e = *(const int *)slot;
                rpcw_string(w, e >= 0 && e < t->en->n ? t->en->values[e] : "");
                break;
        }
        case MT_SET: {
                const struct mset *s = slot;
                rpcw_array_begin(w);
                for (size_t i = 0; i < s->n; i++)
                        model_slot_write(w, t->elem, model_elem_slot(t->elem, &s->v[i]));
                rpcw_array_end(w);
                break;
        }
        case MT_MAP: {
                /* XML-RPC struct member names are strings: non-string keys go as their text. */
                const struct mmap *m = slot;
                rpcw_struct_begin(w);
                for (size_t i = 0; i < m->n; i++) {
                        char *k = model_slot_to_text(t->key, model_elem_slot(t->key, &m->k[i]));
                        rpcw_member(w, k);
                        free(k);
                        model_slot_write(w, t->val, model_elem_slot(t->val, &m->v[i]));
                }
                rpcw_struct_end(w);
                break;
        }
        default:
                rpcw_string(w, "");
                break;
        }
}

void model_record_write(struct rpc_writer *w, const struct mclass *c, const void *rec)
{
        rpcw_struct_begin(w);
        for (int i = 0; i < c->n_fields; i++) {
                rpcw_member(w, c->fields[i].name);
                model_slot_write(w, c->fields[i].type, model_slot((void *)rec, &c->fields[i]));
        }
        rpcw_struct_end(w);
}

static int type_error(struct api_error *err, const char *name)
{
        return api_error_set(err, "FIELD_TYPE_ERROR", name ? name : "", NULL);
}

/* 64-bit ints travel as decimal strings in XML-RPC: accept both forms, as XAPI does. */
static int read_int(const struct rpc_value *v, int64_t *out)
{
        if (v->type == RPC_INT) {
                *out = v->u.i;
                return 0;
        }
        if (v->type != RPC_STRING || !v->u.str.s[0])
                return -EINVAL;
        char *end;
        errno = 0;
        long long x = strtoll(v->u.str.s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *out = x;
        return 0;
}

/* XML-RPC datetimes: 20240101T10:11:12Z (the Z and dashes optional), or a number of seconds. */
static int read_datetime(const struct rpc_value *v, time_t *out)
{
        if (v->type == RPC_INT) {
                *out = (time_t)v->u.i;
                return 0;
        }
        if (v->type == RPC_DOUBLE) {
                *out = (time_t)v->u.d;
                return 0;
        }
        if (v->type != RPC_STRING)
                return -EINVAL;
        struct tm tm = {0};
        const char *s = v->u.str.s;
        const char *e = strptime(s, "%Y%m%dT%H:%M:%S", &tm);
        if (!e)
                e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!e || (*e && strcmp(e, "Z") != 0))
                return -EINVAL;
        *out = timegm(&tm);
        return 0;
}

int model_slot_read(const struct mtype *t, const struct rpc_value *v, void *slot, const char *name,
                    struct api_error *err)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                if (v->type != RPC_STRING)
                        return type_error(err, name);
                *(char **)slot = strdup(v->u.str.s);
                if (!*(char **)slot)
                        abort();
                return 0;
        case MT_INT:
                if (read_int(v, slot) < 0)
                        return type_error(err, name);
                return 0;
        case MT_FLOAT:
                if (v->type == RPC_DOUBLE)
                        *(double *)slot = v->u.d;
                else if (v->type == RPC_INT)
                        *(double *)slot = (double)v->u.i;
                else if (v->type == RPC_STRING && v->u.str.s[0]) {
                        char *end;
                        *(double *)slot = strtod(v->u.str.s, &end);
                        if (*end)
                                return type_error(err, name);
                } else
                        return type_error(err, name);
                return 0;
        case MT_BOOL:
                if (v->type == RPC_BOOL)
                        *(bool *)slot = v->u.b;
                else if (v->type == RPC_STRING &&
                         (!strcmp(v->u.str.s, "true") || !strcmp(v->u.str.s, "false")))
                        *(bool *)slot = v->u.str.s[0] == 't';
                else
                        return type_error(err, name);
                return 0;
        case MT_DATETIME:
                if (read_datetime(v, slot) < 0)
                        return type_error(err, name);
                return 0;
        case MT_ENUM: {
                if (v->type != RPC_STRING)
                        return type_error(err, name);
                /* XAPI matches enum values case-insensitively on input. */
                for (int i = 0; i < t->en->n; i++)
                        if (strcasecmp(t->en->values[i], v->u.str.s) == 0) {
                                *(int *)slot = i;
                                return 0;
                        }
                return api_error_set(err, "INVALID_VALUE", name ? name : "", v->u.str.s, NULL);
        }
        case MT_SET: {
                if (v->type != RPC_ARRAY)
                        return type_error(err, name);
                for (size_t i = 0; i < v->u.arr.n; i++) {
                        union mval e = {0};
                        int r = model_slot_read(t->elem, v->u.arr.items[i],
                                                model_elem_slot(t->elem, &e), name, err);
                        if (r == 0)
                                mset_add(t->elem, slot, model_elem_slot(t->elem, &e));
                        model_slot_free(t->elem, model_elem_slot(t->elem, &e));
                        if (t->elem->kind == MT_SET || t->elem->kind == MT_MAP)
                                free(e.set);
                        if (r < 0) {
                                model_slot_free(t, slot);
                                return r;
                        }
                }
                return 0;
        }
        case MT_MAP: {
                if (v->type != RPC_STRUCT)
                        return type_error(err, name);
                for (size_t i = 0; i < v->u.st.n; i++) {
                        union mval k = {0}, x = {0};
                        struct rpc_value kv = {.type = RPC_STRING};
                        kv.u.str.s = v->u.st.keys[i];
                        kv.u.str.len = strlen(kv.u.str.s);
                        int r =
                            model_slot_read(t->key, &kv, model_elem_slot(t->key, &k), name, err);
                        if (r == 0)
                                r = model_slot_read(t->val, v->u.st.vals[i],
                                                    model_elem_slot(t->val, &x), name, err);
                        if (r == 0)
                                mmap_put(t, slot, model_elem_slot(t->key, &k),
                                         model_elem_slot(t->val, &x));
                        model_slot_free(t->key, model_elem_slot(t->key, &k));
                        model_slot_free(t->val, model_elem_slot(t->val, &x));
                        if (t->val->kind == MT_SET || t->val->kind == MT_MAP)
                                free(x.set);
                        if (r < 0) {
                                model_slot_free(t, slot);
                                return r;
                        }
                }
                return 0;
        }
        default:
                return 0;
        }
}

int model_record_read(const struct mclass *c, const struct rpc_value *v, void **out,
                      struct api_error *err)
{
        *out = NULL;
        if (v->type != RPC_STRUCT)
                return type_error(err, c->name);
        void *rec = model_record_new(c);
        for (int i = 0; i < c->n_fields; i++) {
                const struct mfield *f = &c->fields[i];
                if (f->qual == MQ_RO_RUNTIME)
                        continue; /* not settable at creation: XAPI ignores them */
                const struct rpc_value *fv = NULL;
                for (size_t k = 0; k < v->u.st.n; k++)
                        if (strcmp(v->u.st.keys[k], f->name) == 0)
                                fv = v->u.st.vals[k];
                if (!fv) {
                        if (f->def_json)
                                continue;
                        model_record_free(c, rec);
                        return type_error(err, f->name);
                }
                void *slot = model_slot(rec, f);
                model_slot_free(f->type, slot);
                int r = model_slot_read(f->type, fv, slot, f->name, err);
                if (r < 0) {
                        model_record_free(c, rec);
                        return r;
                }
        }
        *out = rec;
        return 0;
}
