/* Generic operations on records and slots, driven by the generated descriptors. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "xapid/model.h"

LOG_MODULE(model);

/* One record per class with every default applied; new() copies it. */
static void *prototypes[64];

static void *xcalloc(size_t n, size_t sz)
{
        void *p = calloc(n ? n : 1, sz);
        if (!p)
                abort();
        return p;
}

static char *xstrdup(const char *s)
{
        char *p = strdup(s ? s : "");
        if (!p)
                abort();
        return p;
}

const struct mclass *model_class_by_name(const char *name)
{
        for (int i = 0; i < api_n_classes; i++)
                if (strcmp(api_classes[i]->name, name) == 0)
                        return api_classes[i];
        return NULL;
}

int model_field_index(const struct mclass *c, const char *name)
{
        for (int i = 0; i < c->n_fields; i++)
                if (strcmp(c->fields[i].name, name) == 0)
                        return i;
        return -1;
}

int menum_lookup(const struct menum *e, const char *name)
{
        for (int i = 0; i < e->n; i++)
                if (strcmp(e->values[i], name) == 0)
                        return i;
        return -1;
}

void *model_elem_slot(const struct mtype *t, union mval *v)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                return &v->s;
        case MT_INT:
        case MT_DATETIME:
                return &v->i;
        case MT_FLOAT:
                return &v->d;
        case MT_BOOL:
                return &v->b;
        case MT_ENUM:
                return &v->e;
        case MT_SET:
                if (!v->set)
                        v->set = xcalloc(1, sizeof(struct mset));
                return v->set;
        case MT_MAP:
                if (!v->map)
                        v->map = xcalloc(1, sizeof(struct mmap));
                return v->map;
        default:
                return &v->s;
        }
}

void model_slot_free(const struct mtype *t, void *slot)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                free(*(char **)slot);
                *(char **)slot = NULL;
                break;
        case MT_SET: {
                struct mset *s = slot;
                for (size_t i = 0; i < s->n; i++) {
                        model_slot_free(t->elem, model_elem_slot(t->elem, &s->v[i]));
                        if (t->elem->kind == MT_SET || t->elem->kind == MT_MAP)
                                free(s->v[i].set);
                }
                free(s->v);
                s->v = NULL;
                s->n = 0;
                break;
        }
        case MT_MAP: {
                struct mmap *m = slot;
                for (size_t i = 0; i < m->n; i++) {
                        model_slot_free(t->key, model_elem_slot(t->key, &m->k[i]));
                        model_slot_free(t->val, model_elem_slot(t->val, &m->v[i]));
                        if (t->val->kind == MT_SET || t->val->kind == MT_MAP)
                                free(m->v[i].set);
                }
                free(m->k);
                free(m->v);
                m->k = m->v = NULL;
                m->n = 0;
                break;
        }
        default:
                break;
        }
}

static size_t scalar_size(const struct mtype *t)
{
        switch (t->kind) {
        case MT_INT:
                return sizeof(int64_t);
        case MT_DATETIME:
                return sizeof(time_t);
        case MT_FLOAT:
                return sizeof(double);
        case MT_BOOL:
                return sizeof(bool);
        case MT_ENUM:
                return sizeof(int);
        default:
                return sizeof(char *);
        }
}

void model_slot_copy(const struct mtype *t, void *dst, const void *src)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                *(char **)dst = xstrdup(*(char *const *)src);
                break;
        case MT_SET: {
                const struct mset *s = src;
                struct mset *d = dst;
                d->n = s->n;
                d->v = xcalloc(s->n, sizeof(union mval));
                for (size_t i = 0; i < s->n; i++)
                        model_slot_copy(t->elem, model_elem_slot(t->elem, &d->v[i]),
                                        model_elem_slot(t->elem, (union mval *)&s->v[i]));
                break;
        }
        case MT_MAP: {
                const struct mmap *s = src;
                struct mmap *d = dst;
                d->n = s->n;
                d->k = xcalloc(s->n, sizeof(union mval));
                d->v = xcalloc(s->n, sizeof(union mval));
                for (size_t i = 0; i < s->n; i++) {
                        model_slot_copy(t->key, model_elem_slot(t->key, &d->k[i]),
                                        model_elem_slot(t->key, (union mval *)&s->k[i]));
                        model_slot_copy(t->val, model_elem_slot(t->val, &d->v[i]),
                                        model_elem_slot(t->val, (union mval *)&s->v[i]));
                }
                break;
        }
        default:
                memcpy(dst, src, scalar_size(t));
                break;
        }
}

bool model_slot_equal(const struct mtype *t, const void *a, const void *b)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF: {
                const char *x = *(char *const *)a, *y = *(char *const *)b;
                return strcmp(x ? x : "", y ? y : "") == 0;
        }
        case MT_SET: {
                const struct mset *x = a, *y = b;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (!model_slot_equal(t->elem, model_elem_slot(t->elem, &x->v[i]),
                                              model_elem_slot(t->elem, &y->v[i])))
                                return false;
                return true;
        }
        case MT_MAP: {
                const struct mmap *x = a, *y = b;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (!model_slot_equal(t->key, model_elem_slot(t->key, &x->k[i]),
                                              model_elem_slot(t->key, &y->k[i])) ||
                            !model_slot_equal(t->val, model_elem_slot(t->val, &x->v[i]),
                                              model_elem_slot(t->val, &y->v[i])))
                                return false;
                return true;
        }
        case MT_FLOAT:
                return *(const double *)a == *(const double *)b;
        default:
                return memcmp(a, b, scalar_size(t)) == 0;
        }
}

bool mset_contains(const struct mtype *elem, const struct mset *s, const void *slot)
{
        for (size_t i = 0; i < s->n; i++)
                if (model_slot_equal(elem, model_elem_slot(elem, &s->v[i]), slot))
                        return true;
        return false;
}

void mset_add(const struct mtype *elem, struct mset *s, const void *slot)
{
        if (mset_contains(elem, s, slot))
                return; /* sets have no duplicates, as in XAPI */
        union mval *v = realloc(s->v, (s->n + 1) * sizeof(*v));
        if (!v)
                abort();
        s->v = v;
        memset(&v[s->n], 0, sizeof(*v));
        model_slot_copy(elem, model_elem_slot(elem, &v[s->n]), slot);
        s->n++;
}

bool mset_remove(const struct mtype *elem, struct mset *s, const void *slot)
{
        for (size_t i = 0; i < s->n; i++) {
                if (!model_slot_equal(elem, model_elem_slot(elem, &s->v[i]), slot))
                        continue;
                model_slot_free(elem, model_elem_slot(elem, &s->v[i]));
                if (elem->kind == MT_SET || elem->kind == MT_MAP)
                        free(s->v[i].set);
                memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(union mval));
                s->n--;
                return true;
        }
        return false;
}

long mmap_find(const struct mtype *key, const struct mmap *m, const void *slot)
{
        for (size_t i = 0; i < m->n; i++)
                if (model_slot_equal(key, model_elem_slot(key, &m->k[i]), slot))
                        return (long)i;
        return -1;
}

void mmap_put(const struct mtype *mt, struct mmap *m, const void *key, const void *val)
{
        long i = mmap_find(mt->key, m, key);
        if (i < 0) {
                union mval *k = realloc(m->k, (m->n + 1) * sizeof(*k));
                union mval *v = k ? realloc(m->v, (m->n + 1) * sizeof(*v)) : NULL;
                if (!k || !v)
                        abort();
                m->k = k;
                m->v = v;
                i = (long)m->n++;
                memset(&k[i], 0, sizeof(*k));
                memset(&v[i], 0, sizeof(*v));
                model_slot_copy(mt->key, model_elem_slot(mt->key, &k[i]), key);
        } else {
                model_slot_free(mt->val, model_elem_slot(mt->val, &m->v[i]));
        }
        model_slot_copy(mt->val, model_elem_slot(mt->val, &m->v[i]), val);
}

bool mmap_remove(const struct mtype *mt, struct mmap *m, const void *key)
{
        long i = mmap_find(mt->key, m, key);
        if (i < 0)
                return false;
        model_slot_free(mt->key, model_elem_slot(mt->key, &m->k[i]));
        model_slot_free(mt->val, model_elem_slot(mt->val, &m->v[i]));
        if (mt->val->kind == MT_SET || mt->val->kind == MT_MAP)
                free(m->v[i].set);
        size_t rest = m->n - (size_t)i - 1;
        memmove(&m->k[i], &m->k[i + 1], rest * sizeof(union mval));
        memmove(&m->v[i], &m->v[i + 1], rest * sizeof(union mval));
        m->n--;
        return true;
}

/* Defaults arrive as JSON text from the IDL (idl/import-xenapi.py normalized them). */
static int slot_from_json(const struct mtype *t, json_t *j, void *slot)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                if (!json_is_string(j))
                        return -EINVAL;
                *(char **)slot = xstrdup(json_string_value(j));
                return 0;
        case MT_INT:
                if (!json_is_integer(j))
                        return -EINVAL;
                *(int64_t *)slot = json_integer_value(j);
                return 0;
        case MT_FLOAT:
                if (!json_is_number(j))
                        return -EINVAL;
                *(double *)slot = json_number_value(j);
                return 0;
        case MT_BOOL:
                if (!json_is_boolean(j))
                        return -EINVAL;
                *(bool *)slot = json_is_true(j);
                return 0;
        case MT_DATETIME:
                *(time_t *)slot = 0; /* every datetime default in XAPI is the epoch */
                return 0;
        case MT_ENUM: {
                int e = json_is_string(j) ? menum_lookup(t->en, json_string_value(j)) : -1;
                /* XAPI prints some enum defaults that are not values (e.g. option None):
                 * keep the first value then. */
                *(int *)slot = e < 0 ? 0 : e;
                return 0;
        }
        case MT_SET: {
                size_t i;
                json_t *x;
                if (!json_is_array(j))
                        return -EINVAL;
                json_array_foreach(j, i, x)
                {
                        union mval v = {0};
                        int r = slot_from_json(t->elem, x, model_elem_slot(t->elem, &v));
                        if (r < 0)
                                return r;
                        mset_add(t->elem, slot, model_elem_slot(t->elem, &v));
                        model_slot_free(t->elem, model_elem_slot(t->elem, &v));
                }
                return 0;
        }
        case MT_MAP: {
                size_t i;
                json_t *x;
                if (!json_is_array(j))
                        return -EINVAL;
                json_array_foreach(j, i, x)
                {
                        union mval k = {0}, v = {0};
                        if (slot_from_json(t->key, json_array_get(x, 0),
                                           model_elem_slot(t->key, &k)) < 0 ||
                            slot_from_json(t->val, json_array_get(x, 1),
                                           model_elem_slot(t->val, &v)) < 0)
                                return -EINVAL;
                        mmap_put(t, slot, model_elem_slot(t->key, &k), model_elem_slot(t->val, &v));
                        model_slot_free(t->key, model_elem_slot(t->key, &k));
                        model_slot_free(t->val, model_elem_slot(t->val, &v));
                }
                return 0;
        }
        default:
                return 0;
        }
}

/* Zero values of fields without a default: "" for strings, OpaqueRef:NULL for refs. */
static void slot_zero(const struct mtype *t, void *slot)
{
        if (t->kind == MT_STRING)
                *(char **)slot = xstrdup("");
        else if (t->kind == MT_REF)
                *(char **)slot = xstrdup("OpaqueRef:NULL");
}

int model_init(void)
{
        if (prototypes[0])
                return 0;
        if (api_n_classes > (int)(sizeof(prototypes) / sizeof(prototypes[0])))
                return -E2BIG;
        for (int c = 0; c < api_n_classes; c++) {
                const struct mclass *cl = api_classes[c];
                void *rec = xcalloc(1, cl->size);
                for (int i = 0; i < cl->n_fields; i++) {
                        const struct mfield *f = &cl->fields[i];
                        if (!f->def_json) {
                                slot_zero(f->type, model_slot(rec, f));
                                continue;
                        }
                        json_error_t je;
                        json_t *j = json_loads(f->def_json, JSON_DECODE_ANY, &je);
                        int r = j ? slot_from_json(f->type, j, model_slot(rec, f)) : -EINVAL;
                        json_decref(j);
                        if (r < 0) {
                                log_errx("bad default for %s.%s: %s", cl->name, f->name,
                                         f->def_json);
                                return r;
                        }
                }
                prototypes[c] = rec;
        }
        return 0;
}

void *model_record_copy(const struct mclass *c, const void *rec)
{
        void *d = xcalloc(1, c->size);
        for (int i = 0; i < c->n_fields; i++)
                model_slot_copy(c->fields[i].type, model_slot(d, &c->fields[i]),
                                model_slot((void *)rec, &c->fields[i]));
        return d;
}

void *model_record_new(const struct mclass *c)
{
        if (model_init() < 0)
                abort();
        return model_record_copy(c, prototypes[c->id]);
}

void model_record_free(const struct mclass *c, void *rec)
{
        if (!rec)
                return;
        for (int i = 0; i < c->n_fields; i++)
                model_slot_free(c->fields[i].type, model_slot(rec, &c->fields[i]));
        free(rec);
}

/* ---- text form (XAPI's database strings) ---------------------------------------------- */

struct sbuf {
        char *p;
        size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
        if (b->n + len + 1 > b->cap) {
                b->cap = (b->n + len + 1) * 2;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        memcpy(b->p + b->n, s, len);
        b->n += len;
        b->p[b->n] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
        sb_add(b, s, strlen(s));
}

static void text_of(struct sbuf *b, const struct mtype *t, const void *slot, bool quote)
{
        char tmp[64];
        switch (t->kind) {
        case MT_STRING:
        case MT_REF: {
                const char *s = *(char *const *)slot;
                if (quote) {
                        sb_str(b, "'");
                        for (; s && *s; s++) {
                                if (*s == '\'' || *s == '\\')
                                        sb_str(b, "\\");
                                sb_add(b, s, 1);
                        }
                        sb_str(b, "'");
                } else {
                        sb_str(b, s ? s : "");
                }
                return;
        }
        case MT_INT:
                snprintf(tmp, sizeof(tmp), "%" PRId64, *(const int64_t *)slot);
                break;
        case MT_FLOAT:
                snprintf(tmp, sizeof(tmp), "%.17g", *(const double *)slot);
                break;
        case MT_BOOL:
                snprintf(tmp, sizeof(tmp), "%s", *(const bool *)slot ? "true" : "false");
                break;
        case MT_DATETIME: {
                struct tm tm;
                time_t tt = *(const time_t *)slot;
                gmtime_r(&tt, &tm);
                strftime(tmp, sizeof(tmp), "%Y%m%dT%H:%M:%SZ", &tm);
                break;
        }
        case MT_ENUM: {
                int e = *(const int *)slot;
                snprintf(tmp, sizeof(tmp), "%s", e >= 0 && e < t->en->n ? t->en->values[e] : "");
                break;
        }
        case MT_SET: {
                const struct mset *s = slot;
                sb_str(b, "(");
                for (size_t i = 0; i < s->n; i++) {
                        if (i)
                                sb_str(b, " ");
                        text_of(b, t->elem, model_elem_slot(t->elem, &s->v[i]), true);
                }
                sb_str(b, ")");
                return;
        }
        case MT_MAP: {
                const struct mmap *m = slot;
                sb_str(b, "(");
                for (size_t i = 0; i < m->n; i++) {
                        sb_str(b, i ? " (" : "(");
                        text_of(b, t->key, model_elem_slot(t->key, &m->k[i]), true);
                        sb_str(b, " ");
                        text_of(b, t->val, model_elem_slot(t->val, &m->v[i]), true);
                        sb_str(b, ")");
                }
                sb_str(b, ")");
                return;
        }
        default:
                tmp[0] = 0;
                break;
        }
        if (quote) {
                sb_str(b, "'");
                sb_str(b, tmp);
                sb_str(b, "'");
        } else {
                sb_str(b, tmp);
        }
}

char *model_slot_to_text(const struct mtype *t, const void *slot)
{
        struct sbuf b = {0};
        sb_add(&b, "", 0);
        text_of(&b, t, slot, false);
        return b.p;
}
