/* XML-RPC value trees. Allocation failure ends the program: xe is a short-lived tool. */
#include "cli/xe_value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc0(size_t n)
{
        void *p = calloc(1, n);
        if (!p) {
                fputs("xe: out of memory\n", stderr);
                exit(1);
        }
        return p;
}

static char *xstrdup(const char *s)
{
        char *p = strdup(s ? s : "");
        if (!p) {
                fputs("xe: out of memory\n", stderr);
                exit(1);
        }
        return p;
}

static struct xv *xv_new(enum xv_kind kind)
{
        struct xv *v = xmalloc0(sizeof *v);
        v->kind = kind;
        return v;
}

struct xv *xv_string(const char *s)
{
        struct xv *v = xv_new(XV_STRING);
        v->s = xstrdup(s);
        return v;
}

struct xv *xv_datetime(const char *s)
{
        struct xv *v = xv_new(XV_DATETIME);
        v->s = xstrdup(s);
        return v;
}

struct xv *xv_int(int64_t i)
{
        struct xv *v = xv_new(XV_INT);
        v->i = i;
        return v;
}

struct xv *xv_bool(bool b)
{
        struct xv *v = xv_new(XV_BOOL);
        v->b = b;
        return v;
}

struct xv *xv_double(double d)
{
        struct xv *v = xv_new(XV_DOUBLE);
        v->d = d;
        return v;
}

struct xv *xv_array(void)
{
        return xv_new(XV_ARRAY);
}

struct xv *xv_struct(void)
{
        return xv_new(XV_STRUCT);
}

struct xv *xv_nil(void)
{
        return xv_new(XV_NIL);
}

static void grow(struct xv *c)
{
        if (c->n < c->cap)
                return;
        c->cap = c->cap ? c->cap * 2 : 8;
        c->items = realloc(c->items, c->cap * sizeof *c->items);
        if (c->kind == XV_STRUCT)
                c->keys = realloc(c->keys, c->cap * sizeof *c->keys);
        if (!c->items || (c->kind == XV_STRUCT && !c->keys)) {
                fputs("xe: out of memory\n", stderr);
                exit(1);
        }
}

struct xv *xv_push(struct xv *array, struct xv *item)
{
        grow(array);
        array->items[array->n++] = item;
        return array;
}

struct xv *xv_put(struct xv *st, const char *key, struct xv *value)
{
        grow(st);
        st->keys[st->n] = xstrdup(key);
        st->items[st->n++] = value;
        return st;
}

struct xv *xv_get(const struct xv *st, const char *key)
{
        if (!st || st->kind != XV_STRUCT)
                return NULL;
        for (size_t i = 0; i < st->n; i++)
                if (strcmp(st->keys[i], key) == 0)
                        return st->items[i];
        return NULL;
}

const char *xv_str(const struct xv *v)
{
        return v && (v->kind == XV_STRING || v->kind == XV_DATETIME) ? v->s : "";
}

struct xv *xv_copy(const struct xv *v)
{
        struct xv *c = xv_new(v->kind);
        c->s = v->s ? xstrdup(v->s) : NULL;
        c->i = v->i;
        c->b = v->b;
        c->d = v->d;
        for (size_t k = 0; k < v->n; k++) {
                if (v->kind == XV_STRUCT)
                        xv_put(c, v->keys[k], xv_copy(v->items[k]));
                else
                        xv_push(c, xv_copy(v->items[k]));
        }
        return c;
}

void xv_free(struct xv *v)
{
        if (!v)
                return;
        for (size_t k = 0; k < v->n; k++) {
                xv_free(v->items[k]);
                if (v->keys)
                        free(v->keys[k]);
        }
        free(v->items);
        free(v->keys);
        free(v->s);
        free(v);
}

char *xe_strf(const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}
