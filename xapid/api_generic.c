/* Generic implementations of the implicit XenAPI messages on the store, and the method
 * table lookup / parameter checks shared by the dispatcher. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/uuid.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"

static int cmp_method(const void *key, const void *elem)
{
        return strcmp(key, ((const struct api_method *)elem)->wire_name);
}

const struct api_method *api_method_lookup(const char *wire_name)
{
        return bsearch(wire_name, api_methods, (size_t)api_n_methods, sizeof(api_methods[0]),
                       cmp_method);
}

int api_check_params(const struct api_method *m, const struct rpc_value *const *params, size_t n,
                     struct api_error *err)
{
        if (n < (size_t)m->n_required || n > (size_t)m->n_params) {
                char exp[16], got[16];
                snprintf(exp, sizeof(exp), "%d", m->n_params);
                snprintf(got, sizeof(got), "%zu", n);
                return api_error_set(err, "MESSAGE_PARAMETER_COUNT_MISMATCH", m->wire_name, exp,
                                     got, NULL);
        }
        for (size_t i = 0; i < n; i++) {
                const struct mtype *t = m->params[i].type;
                if (t->kind == MT_OPAQUE || t->kind == MT_RECORD)
                        continue; /* checked by whoever decodes it */
                union mval v = {0};
                int r =
                    model_slot_read(t, params[i], model_elem_slot(t, &v), m->params[i].name, err);
                model_slot_free(t, model_elem_slot(t, &v));
                if (t->kind == MT_SET || t->kind == MT_MAP)
                        free(v.set);
                if (r < 0)
                        return r;
        }
        return 0;
}

static struct db_row *self_row(struct api_ctx *ctx, const struct rpc_value *v,
                               struct api_error *err)
{
        const struct mclass *c = ctx->method->cls;
        struct db_row *row = v->type == RPC_STRING ? db_get(ctx->db, c, v->u.str.s) : NULL;
        if (!row)
                api_error_set(err, "HANDLE_INVALID", c->name,
                              v->type == RPC_STRING ? v->u.str.s : "", NULL);
        return row;
}

int api_generic(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n_params,
                struct rpc_writer *w, struct api_error *err)
{
        const struct api_method *m = ctx->method;
        const struct mclass *c = m->cls;
        size_t a = m->session ? 1 : 0; /* first argument after session_id */
        const struct mfield *f = m->field >= 0 ? &c->fields[m->field] : NULL;
        struct db_row *row = NULL;
        int r = 0;

        switch (m->impl) {
        case API_GET_ALL:
                rpcw_array_begin(w);
                for (size_t i = 0; i < db_count(ctx->db, c); i++)
                        rpcw_string(w, db_row_at(ctx->db, c, i)->ref);
                rpcw_array_end(w);
                return 0;
        case API_GET_BY_UUID: {
                const char *u = params[a]->u.str.s;
                row = db_get_by_uuid(ctx->db, c, u);
                if (!row)
                        return api_error_set(err, "UUID_INVALID", c->name, u, NULL);
                rpcw_string(w, row->ref);
                return 0;
        }
        case API_GET_BY_NAME_LABEL: {
                const char *label = params[a]->u.str.s;
                const struct mfield *nl = &c->fields[c->name_label_field];
                rpcw_array_begin(w);
                for (size_t i = 0; i < db_count(ctx->db, c); i++) {
                        struct db_row *x = db_row_at(ctx->db, c, i);
                        if (!strcmp(*(char **)model_slot(x->rec, nl), label))
                                rpcw_string(w, x->ref);
                }
                rpcw_array_end(w);
                return 0;
        }
        case API_GET_ALL_RECORDS:
        case API_GET_ALL_RECORDS_WHERE: {
                struct db_expr *e = NULL;
                if (m->impl == API_GET_ALL_RECORDS_WHERE) {
                        char *msg = NULL;
                        if (db_expr_parse(params[a]->u.str.s, &e, &msg) < 0) {
                                r = api_error_set(err, "INVALID_VALUE", params[a]->u.str.s,
                                                  msg ? msg : "", NULL);
                                free(msg);
                                return r;
                        }
                }
                struct db_cursor *cur = db_cursor_new(ctx->db, c, e);
                rpcw_struct_begin(w);
                while (db_cursor_step(cur, w, 256) > 0)
                        ;
                rpcw_struct_end(w);
                db_cursor_free(cur);
                return 0;
        }
        case API_CREATE: {
                void *rec;
                r = model_record_read(c, params[a], &rec, err);
                if (r < 0)
                        return r;
                r = db_insert(ctx->db, c, NULL, rec, &row);
                if (r < 0) {
                        model_record_free(c, rec);
                        return api_error_set(err, "DB_UNIQUENESS_CONSTRAINT_VIOLATION", c->name,
                                             "uuid", "", NULL);
                }
                rpcw_string(w, row->ref);
                return 0;
        }
        default:
                break;
        }

        /* Everything else acts on `self`. */
        if (n_params <= a)
                return api_error_set(err, "INTERNAL_ERROR", "missing self", NULL);
        row = self_row(ctx, params[a], err);
        if (!row)
                return -ENOENT;
        switch (m->impl) {
        case API_GET_RECORD:
                model_record_write(w, c, row->rec);
                return 0;
        case API_DESTROY:
                db_delete(ctx->db, row);
                return 0;
        case API_GET_FIELD:
                model_slot_write(w, f->type, model_slot(row->rec, f));
                return 0;
        case API_SET_FIELD: {
                union mval v = {0};
                void *slot = model_elem_slot(f->type, &v);
                r = model_slot_read(f->type, params[a + 1], slot, "value", err);
                if (r == 0)
                        r = db_set(ctx->db, row, m->field, slot);
                if (r == -EEXIST)
                        r = api_error_set(err, "UUID_INVALID", c->name, "", NULL);
                model_slot_free(f->type, slot);
                if (f->type->kind == MT_SET || f->type->kind == MT_MAP)
                        free(v.set);
                return r;
        }
        case API_ADD_TO:
        case API_REMOVE_FROM:
        case API_ADD:
        case API_REMOVE: {
                const struct mtype *et = f->type->kind == MT_MAP ? f->type->key : f->type->elem;
                union mval k = {0}, v = {0};
                struct mmap *map = model_slot(row->rec, f);
                r = model_slot_read(et, params[a + 1], model_elem_slot(et, &k), "key", err);
                if (r == 0 && m->impl == API_ADD_TO) {
                        if (mmap_find(et, map, model_elem_slot(et, &k)) >= 0) {
                                char *ks = model_slot_to_text(et, model_elem_slot(et, &k));
                                const char *u =
                                    c->uuid_field >= 0
                                        ? *(char **)model_slot(row->rec, &c->fields[c->uuid_field])
                                        : "";
                                r = api_error_set(err, "MAP_DUPLICATE_KEY", c->name, f->name, u, ks,
                                                  NULL);
                                free(ks);
                        } else {
                                r = model_slot_read(f->type->val, params[a + 2],
                                                    model_elem_slot(f->type->val, &v), "value",
                                                    err);
                                if (r == 0)
                                        mmap_put(f->type, map, model_elem_slot(et, &k),
                                                 model_elem_slot(f->type->val, &v));
                                model_slot_free(f->type->val, model_elem_slot(f->type->val, &v));
                        }
                } else if (r == 0 && m->impl == API_REMOVE_FROM) {
                        mmap_remove(f->type, map, model_elem_slot(et, &k));
                } else if (r == 0 && m->impl == API_ADD) {
                        mset_add(et, model_slot(row->rec, f), model_elem_slot(et, &k));
                } else if (r == 0) {
                        mset_remove(et, model_slot(row->rec, f), model_elem_slot(et, &k));
                }
                model_slot_free(et, model_elem_slot(et, &k));
                if (r == 0)
                        db_touch(ctx->db, row);
                return r;
        }
        default:
                return api_error_set(err, "NOT_IMPLEMENTED", m->wire_name, NULL);
        }
}
