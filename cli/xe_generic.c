/* The commands every class gets (XAPI's make_param_funs): <class>-list, -param-list,
 * -param-get, -param-set, -param-add, -param-remove, -param-clear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe.h"
#include "cli/xe_views.h"

static char *field_label(const struct xe_field *f)
{
        const char *tag = f->shape == XE_SET   ? (f->adder ? " (SRW)" : " (SRO)")
                          : f->shape == XE_MAP ? (f->adder ? " (MRW)" : " (MRO)")
                          : f->setter          ? " ( RW)"
                                               : " ( RO)";
        char *s = malloc(strlen(f->xe) + 8);
        if (s)
                sprintf(s, "%s%s", f->xe, tag);
        return s;
}

/* A field named on the command line: "name" or, for maps and sets, "name:key". */
static const struct xe_field *field_of(struct xe_ctx *x, const struct xe_class *c, const char *key,
                                       const char **sub)
{
        const struct xe_field *f = xe_field_by_xe(c, key);
        *sub = NULL;
        if (f)
                return f;
        const char *colon = strchr(key, ':');
        if (colon) {
                char *name = strndup(key, (size_t)(colon - key));
                f = xe_field_by_xe(c, name);
                free(name);
                if (f && f->shape == XE_SCALAR)
                        xe_die(x, "Field '%s' is not a set or map", f->xe);
                if (f) {
                        *sub = colon + 1;
                        return f;
                }
        }
        xe_die(x, "Unknown field '%s'", key);
}

bool xe_record_matches(struct xe_ctx *x, const struct xe_class *c, const struct xv *rec,
                       const char *key, const char *want)
{
        const char *sub;
        const struct xe_field *f = field_of(x, c, key, &sub);
        const struct xv *v = xv_get(rec, f->wire);
        if (!v)
                return false;
        if (!sub) {
                char *s = xe_render(x, f, v);
                bool eq = s && strcmp(s, want) == 0;
                free(s);
                return eq;
        }
        if (f->shape == XE_MAP) {
                const char *got;
                return xe_map_lookup(v, sub, &got) && strcmp(got, want) == 0;
        }
        if (strcmp(sub, "contains") != 0)
                xe_die(x, "Invalid syntax for set filtering (should be set-param:contains=key)");
        for (size_t i = 0; v->kind == XV_ARRAY && i < v->n; i++) {
                struct xe_field elem = *f;
                elem.shape = XE_SCALAR;
                char *s = xe_render(x, &elem, v->items[i]);
                bool eq = s && strcmp(s, want) == 0;
                free(s);
                if (eq)
                        return true;
        }
        return false;
}

/* The printable record: the fields `params` names (all when NULL) in record order. */
static void build_rec(struct xe_ctx *x, const struct xe_class *c, const struct xv *rec,
                      const char *params, struct xe_rec *out)
{
        for (size_t i = 0; i < c->n_fields; i++) {
                const struct xe_field *f = &c->fields[i];
                const struct xv *v = xv_get(rec, f->wire);
                if (!v || (params && !xe_in_csv(params, f->xe)))
                        continue;
                xe_rec_add(out, field_label(f), xe_render(x, f, v));
        }
}

static int cmd_list(struct xe_ctx *x, const struct xe_class *c, const struct xe_view *view)
{
        char method[128];
        snprintf(method, sizeof method, "%s.get_all_records", c->wire);
        struct xv *all = xe_call(x, method, 0);
        const char *params = xe_param(x->args, "params");
        if (!params)
                params = view->defaults;
        else if (strcmp(params, "all") == 0)
                params = NULL;
        struct xe_rec *recs = calloc(all->n + 1, sizeof *recs);
        size_t n = 0;
        for (size_t i = 0; all->kind == XV_STRUCT && i < all->n; i++) {
                const struct xv *rec = all->items[i];
                bool ok = true;
                for (size_t d = 0; ok && d < 2 && view->filters[d][0]; d++)
                        ok = xe_param(x->args, view->filters[d][0]) ||
                             xe_record_matches(x, c, rec, view->filters[d][0], view->filters[d][1]);
                for (size_t p = 0; ok && p < x->args->n_params; p++) {
                        const struct xe_kv *kv = &x->args->params[p];
                        if (xe_is_std_param(kv->key) || strncmp(kv->key, "database:", 9) == 0)
                                continue;
                        ok = xe_record_matches(x, c, rec, kv->key, kv->value);
                }
                if (ok)
                        build_rec(x, c, rec, params, &recs[n++]);
        }
        xe_print_records(recs, n, xe_flag(x->args, "minimal"));
        for (size_t i = 0; i < n; i++)
                xe_rec_free(&recs[i]);
        free(recs);
        xv_free(all);
        return 0;
}

static struct xv *get_record(struct xe_ctx *x, const struct xe_class *c, struct xv **ref)
{
        char method[128];
        *ref = xe_ref_by_uuid(x, c->wire, xe_required(x, "uuid"));
        snprintf(method, sizeof method, "%s.get_record", c->wire);
        return xe_call(x, method, 1, xv_copy(*ref));
}

static const struct xe_field *named_field(struct xe_ctx *x, const struct xe_class *c,
                                          const char *name)
{
        const struct xe_field *f = xe_field_by_xe(c, name);
        if (!f)
                xe_die_api(x, xv_push(xv_push(xv_array(), xv_string("Missing parameter")),
                                      xv_string(name)));
        return f;
}

static int cmd_param_list(struct xe_ctx *x, const struct xe_class *c)
{
        struct xv *ref, *rec = get_record(x, c, &ref);
        struct xe_rec r = {0};
        build_rec(x, c, rec, NULL, &r);
        xe_print_records(&r, 1, false);
        xe_rec_free(&r);
        xv_free(rec);
        xv_free(ref);
        return 0;
}

static int cmd_param_get(struct xe_ctx *x, const struct xe_class *c)
{
        struct xv *ref, *rec = get_record(x, c, &ref);
        const struct xe_field *f = named_field(x, c, xe_required(x, "param-name"));
        const struct xv *v = xv_get(rec, f->wire);
        const char *key = xe_param(x->args, "param-key");
        if (!v)
                xe_die(x, "Field '%s' is not available", f->xe);
        if (key && f->shape == XE_MAP) {
                const char *got;
                if (!xe_map_lookup(v, key, &got))
                        xe_die(x, "Key %s not found in map", key);
                puts(got);
        } else {
                char *s = xe_render(x, f, v);
                puts(s ? s : "");
                free(s);
        }
        xv_free(rec);
        xv_free(ref);
        return 0;
}

static void call3(struct xe_ctx *x, const struct xe_class *c, const char *msg, const struct xv *ref,
                  struct xv *a, struct xv *b)
{
        char method[160];
        snprintf(method, sizeof method, "%s.%s", c->wire, msg);
        struct xv *r = b   ? xe_call(x, method, 3, xv_copy(ref), a, b)
                       : a ? xe_call(x, method, 2, xv_copy(ref), a)
                           : xe_call(x, method, 1, xv_copy(ref));
        xv_free(r);
}

static int cmd_param_set(struct xe_ctx *x, const struct xe_class *c)
{
        struct xv *ref, *rec = get_record(x, c, &ref);
        for (size_t p = 0; p < x->args->n_params; p++) {
                const struct xe_kv *kv = &x->args->params[p];
                if (strcmp(kv->key, "uuid") == 0 || xe_is_std_param(kv->key))
                        continue;
                const char *sub;
                const struct xe_field *f = field_of(x, c, kv->key, &sub);
                if (sub && f->shape == XE_SET)
                        xe_die(x, "Cannot param-set on set fields");
                if (sub) {
                        if (!f->adder || !f->remover)
                                xe_die(x, "Map field '%s' is read-only.", f->xe);
                        if (xe_map_lookup(xv_get(rec, f->wire), sub, NULL))
                                call3(x, c, f->remover, ref, xv_string(sub), NULL);
                        call3(x, c, f->adder, ref, xv_string(sub),
                              xe_parse_kind(x, f, f->val, kv->value));
                        continue;
                }
                if (f->shape != XE_SCALAR && f->setter)
                        xe_die(x, "Field '%s' is a map or set. use the 'name:key=value' syntax.",
                               f->xe);
                if (!f->setter)
                        xe_die(x, "Field '%s' is read-only.", f->xe);
                call3(x, c, f->setter, ref, xe_parse_kind(x, f, f->val, kv->value), NULL);
        }
        xv_free(rec);
        xv_free(ref);
        return 0;
}

static int cmd_param_add(struct xe_ctx *x, const struct xe_class *c)
{
        struct xv *ref, *rec = get_record(x, c, &ref);
        const struct xe_field *f = named_field(x, c, xe_required(x, "param-name"));
        if (f->shape == XE_SCALAR)
                xe_die(x, "Can only add to parameters of type Set or Map");
        if (!f->adder)
                xe_die(x, "Parameter is read-only");
        if (f->shape == XE_SET) {
                const char *key = xe_param(x->args, "param-key");
                if (!key)
                        xe_die(x, "When adding a key to a set, use the syntax: *-param-add "
                                  "param-name=<name> param-key=<key>");
                call3(x, c, f->adder, ref, xe_parse_kind(x, f, f->val, key), NULL);
        } else {
                for (size_t p = 0; p < x->args->n_params; p++) {
                        const struct xe_kv *kv = &x->args->params[p];
                        if (!strcmp(kv->key, "uuid") || !strcmp(kv->key, "param-name") ||
                            !strcmp(kv->key, "param-key") || xe_is_std_param(kv->key))
                                continue;
                        call3(x, c, f->adder, ref, xv_string(kv->key),
                              xe_parse_kind(x, f, f->val, kv->value));
                }
        }
        xv_free(rec);
        xv_free(ref);
        return 0;
}

static bool set_has(struct xe_ctx *x, const struct xe_field *f, const struct xv *set,
                    const char *key)
{
        struct xe_field elem = *f;
        elem.shape = XE_SCALAR;
        for (size_t i = 0; set && set->kind == XV_ARRAY && i < set->n; i++) {
                char *s = xe_render(x, &elem, set->items[i]);
                bool eq = s && strcmp(s, key) == 0;
                free(s);
                if (eq)
                        return true;
        }
        return false;
}

static int cmd_param_remove(struct xe_ctx *x, const struct xe_class *c)
{
        struct xv *ref, *rec = get_record(x, c, &ref);
        const struct xe_field *f = named_field(x, c, xe_required(x, "param-name"));
        const char *key = xe_required(x, "param-key");
        const struct xv *v = xv_get(rec, f->wire);
        if (f->shape == XE_SCALAR)
                xe_die(x, "Can only remove from parameters of type Set or Map");
        if (!f->remover)
                xe_die(x, "Cannot remove parameters from read-only map");
        if (f->shape == XE_SET) {
                if (!set_has(x, f, v, key))
                        xe_die(x, "Key %s is not in the set", key);
                call3(x, c, f->remover, ref, xe_parse_kind(x, f, f->val, key), NULL);
        } else {
                if (!xe_map_lookup(v, key, NULL))
                        xe_die(x, "Key %s is not in map", key);
                call3(x, c, f->remover, ref, xv_string(key), NULL);
        }
        xv_free(rec);
        xv_free(ref);
        return 0;
}

static int cmd_param_clear(struct xe_ctx *x, const struct xe_class *c)
{
        struct xv *ref, *rec = get_record(x, c, &ref);
        const struct xe_field *f = named_field(x, c, xe_required(x, "param-name"));
        if (f->shape == XE_SET && f->setter)
                call3(x, c, f->setter, ref, xv_array(), NULL);
        else if (f->shape == XE_MAP && f->setter)
                call3(x, c, f->setter, ref, xv_struct(), NULL);
        else if (f->shape != XE_SCALAR && f->remover) {
                const struct xv *v = xv_get(rec, f->wire);
                for (size_t i = 0; v && i < v->n; i++)
                        call3(x, c, f->remover, ref,
                              v->kind == XV_STRUCT ? xv_string(v->keys[i]) : xv_copy(v->items[i]),
                              NULL);
        } else if (f->shape == XE_SCALAR && f->setter && f->val == XE_K_STRING)
                call3(x, c, f->setter, ref, xv_string(""), NULL);
        else if (f->shape == XE_SCALAR && f->setter)
                xe_die(x, "Cannot clear this parameter");
        else
                xe_die(x, "Can only clear RW parameters");
        xv_free(rec);
        xv_free(ref);
        return 0;
}

int xe_generic_command(struct xe_ctx *x, const char *cmd)
{
        const struct xe_class *c;
        const char *verb;
        struct xe_view view;
        if (!xe_view_lookup(cmd, &c, &verb, &view))
                return -1;
        if (strcmp(verb, "list") == 0)
                return cmd_list(x, c, &view);
        if (strcmp(verb, "param-list") == 0)
                return cmd_param_list(x, c);
        if (strcmp(verb, "param-get") == 0)
                return cmd_param_get(x, c);
        if (strcmp(verb, "param-set") == 0)
                return cmd_param_set(x, c);
        if (strcmp(verb, "param-add") == 0)
                return cmd_param_add(x, c);
        if (strcmp(verb, "param-remove") == 0)
                return cmd_param_remove(x, c);
        return cmd_param_clear(x, c);
}
