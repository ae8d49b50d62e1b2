/* Fields as xe shows them and reads them: references as uuids, sets and maps joined with
 * "; ", enums in lower case (as XAPI's record_util prints them). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/xe.h"

#define NOT_IN_DB "<not in database>"

const char *xe_ref_uuid(struct xe_ctx *x, const char *cls, const char *ref)
{
        if (!ref || !*ref || strcmp(ref, "OpaqueRef:NULL") == 0 || !cls)
                return NOT_IN_DB;
        for (size_t i = 0; i < x->n_cache; i++)
                if (strcmp(x->cache[i].ref, ref) == 0)
                        return x->cache[i].uuid;
        char method[128];
        snprintf(method, sizeof method, "%s.get_uuid", cls);
        struct xv *r = xe_try(x, method, 1, xv_string(ref));
        struct xe_cache_entry *c = realloc(x->cache, (x->n_cache + 1) * sizeof *c);
        if (!c)
                xe_die(x, "out of memory");
        x->cache = c;
        c[x->n_cache].ref = strdup(ref);
        c[x->n_cache].uuid = strdup(r ? xv_str(r) : NOT_IN_DB);
        xv_free(r);
        return c[x->n_cache++].uuid;
}

struct xv *xe_ref_by_uuid(struct xe_ctx *x, const char *cls, const char *uuid)
{
        char method[128];
        snprintf(method, sizeof method, "%s.get_by_uuid", cls);
        return xe_call(x, method, 1, xv_string(uuid));
}

static char *scalar_text(struct xe_ctx *x, enum xe_kind k, const char *ref_cls, const struct xv *v)
{
        char *s = NULL;
        switch (v->kind) {
        case XV_STRING:
        case XV_DATETIME:
                if (k == XE_K_REF)
                        return strdup(xe_ref_uuid(x, ref_cls, v->s));
                s = strdup(v->s);
                if (k == XE_K_ENUM)
                        for (char *p = s; *p; p++)
                                *p = (char)tolower((unsigned char)*p);
                return s;
        case XV_INT:
                if (asprintf(&s, "%" PRId64, v->i) < 0)
                        s = NULL;
                return s;
        case XV_BOOL:
                return strdup(v->b ? "true" : "false");
        case XV_DOUBLE:
                if (asprintf(&s, "%g", v->d) < 0)
                        s = NULL;
                return s;
        case XV_NIL:
                return strdup("");
        default:
                return strdup("<complex value>");
        }
}

struct sbuf {
        char *p;
        size_t len;
};

static void sb_add(struct sbuf *b, const char *s)
{
        size_t n = strlen(s);
        char *p = realloc(b->p, b->len + n + 1);
        if (!p)
                return;
        memcpy(p + b->len, s, n + 1);
        b->p = p;
        b->len += n;
}

char *xe_render(struct xe_ctx *x, const struct xe_field *f, const struct xv *v)
{
        if (f->shape == XE_SCALAR || (v->kind != XV_ARRAY && v->kind != XV_STRUCT))
                return scalar_text(x, f->val, f->ref, v);
        struct sbuf b = {strdup(""), 0};
        for (size_t i = 0; i < v->n; i++) {
                if (i)
                        sb_add(&b, "; ");
                if (v->kind == XV_STRUCT) {
                        struct xv key = {.kind = XV_STRING, .s = v->keys[i]};
                        char *k = scalar_text(x, f->key, NULL, &key);
                        sb_add(&b, k ? k : "");
                        sb_add(&b, ": ");
                        free(k);
                }
                char *e = scalar_text(x, f->val, f->ref, v->items[i]);
                sb_add(&b, e ? e : "");
                free(e);
        }
        return b.p;
}

static bool parse_bool(const char *s, bool *b)
{
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") ||
            !strcasecmp(s, "on"))
                *b = true;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") ||
                 !strcasecmp(s, "off"))
                *b = false;
        else
                return false;
        return true;
}

struct xv *xe_parse_kind(struct xe_ctx *x, const struct xe_field *f, enum xe_kind k, const char *s)
{
        char *end;
        switch (k) {
        case XE_K_INT: {
                errno = 0;
                long long i = strtoll(s, &end, 10);
                if (errno || end == s || *end)
                        xe_die(x, "Parameter %s must be an integer", f->xe);
                return xv_int(i);
        }
        case XE_K_FLOAT: {
                errno = 0;
                double d = strtod(s, &end);
                if (errno || end == s || *end)
                        xe_die(x, "Parameter %s must be a floating-point number", f->xe);
                return xv_double(d);
        }
        case XE_K_BOOL: {
                bool b;
                if (!parse_bool(s, &b))
                        xe_die(x, "Parameter %s must be a boolean (true or false)", f->xe);
                return xv_bool(b);
        }
        case XE_K_DATETIME:
                return xv_datetime(s);
        case XE_K_REF:
                if (!*s || !strcmp(s, NOT_IN_DB))
                        return xv_string("OpaqueRef:NULL");
                if (strncmp(s, "OpaqueRef:", 10) == 0)
                        return xv_string(s);
                return xe_ref_by_uuid(x, f->ref, s);
        case XE_K_ENUM:
                /* xe prints enums in lower case; send the IDL's spelling of what was typed */
                for (const char *v = f->enum_values; v && *v;) {
                        size_t n = strcspn(v, "|");
                        if (strlen(s) == n && strncasecmp(v, s, n) == 0) {
                                char *exact = strndup(v, n);
                                struct xv *r = xv_string(exact);
                                free(exact);
                                return r;
                        }
                        v += n + (v[n] == '|');
                }
                return xv_string(s);
        default:
                return xv_string(s);
        }
}

bool xe_map_lookup(const struct xv *map, const char *key, const char **value)
{
        if (!map || map->kind != XV_STRUCT)
                return false;
        for (size_t i = 0; i < map->n; i++)
                if (strcmp(map->keys[i], key) == 0) {
                        if (value)
                                *value = map->items[i]->kind == XV_STRING ? map->items[i]->s : "";
                        return true;
                }
        return false;
}
