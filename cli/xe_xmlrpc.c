/* XML-RPC request writer and response parser. */
#include "cli/xe_xmlrpc.h"

#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
        char *p;
        size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                while (b->len + n + 1 > b->cap)
                        b->cap = b->cap ? b->cap * 2 : 1024;
                b->p = realloc(b->p, b->cap);
                if (!b->p) {
                        fputs("xe: out of memory\n", stderr);
                        exit(1);
                }
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
        put(b, s, strlen(s));
}

static void put_escaped(struct buf *b, const char *s)
{
        for (; *s; s++) {
                switch (*s) {
                case '<':
                        puts_(b, "&lt;");
                        break;
                case '>':
                        puts_(b, "&gt;");
                        break;
                case '&':
                        puts_(b, "&amp;");
                        break;
                case '\r':
                        puts_(b, "&#13;");
                        break;
                default:
                        put(b, s, 1);
                }
        }
}

static void put_value(struct buf *b, const struct xv *v)
{
        char num[64];
        puts_(b, "<value>");
        switch (v->kind) {
        case XV_STRING:
                put_escaped(b, v->s);
                break;
        case XV_DATETIME:
                puts_(b, "<dateTime.iso8601>");
                put_escaped(b, v->s);
                puts_(b, "</dateTime.iso8601>");
                break;
        case XV_INT:
                /* XenAPI carries int64 as strings: XML-RPC's i4 is too small */
                snprintf(num, sizeof num, "%" PRId64, v->i);
                puts_(b, num);
                break;
        case XV_BOOL:
                puts_(b, v->b ? "<boolean>1</boolean>" : "<boolean>0</boolean>");
                break;
        case XV_DOUBLE:
                snprintf(num, sizeof num, "<double>%.17g</double>", v->d);
                puts_(b, num);
                break;
        case XV_ARRAY:
                puts_(b, "<array><data>");
                for (size_t i = 0; i < v->n; i++)
                        put_value(b, v->items[i]);
                puts_(b, "</data></array>");
                break;
        case XV_STRUCT:
                puts_(b, "<struct>");
                for (size_t i = 0; i < v->n; i++) {
                        puts_(b, "<member><name>");
                        put_escaped(b, v->keys[i]);
                        puts_(b, "</name>");
                        put_value(b, v->items[i]);
                        puts_(b, "</member>");
                }
                puts_(b, "</struct>");
                break;
        case XV_NIL:
                puts_(b, "<nil/>");
                break;
        }
        puts_(b, "</value>");
}

char *xe_xmlrpc_request(const char *method, struct xv *const *params, size_t n, size_t *len)
{
        struct buf b = {0};
        puts_(&b, "<?xml version=\"1.0\"?><methodCall><methodName>");
        put_escaped(&b, method);
        puts_(&b, "</methodName><params>");
        for (size_t i = 0; i < n; i++) {
                puts_(&b, "<param>");
                put_value(&b, params[i]);
                puts_(&b, "</param>");
        }
        puts_(&b, "</params></methodCall>");
        *len = b.len;
        return b.p;
}

/* ---- parser ---------------------------------------------------------------------------- */

static bool is(const xmlNode *n, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first element child (text and comments between elements are layout). */
static xmlNode *first_elem(xmlNode *n)
{
        for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE)
                        return c;
        return NULL;
}

static xmlNode *next_elem(xmlNode *n)
{
        for (xmlNode *c = n->next; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE)
                        return c;
        return NULL;
}

static char *text_of(xmlNode *n)
{
        xmlChar *t = xmlNodeGetContent(n);
        char *s = strdup(t ? (const char *)t : "");
        xmlFree(t);
        return s;
}

static struct xv *parse_value(xmlNode *value, char **error, int depth);

static struct xv *parse_typed(xmlNode *t, char **error, int depth)
{
        const char *name = (const char *)t->name;
        char *text = NULL, *end = NULL;
        struct xv *v = NULL;
        if (strcmp(name, "string") == 0) {
                text = text_of(t);
                v = xv_string(text);
        } else if (strcmp(name, "int") == 0 || strcmp(name, "i4") == 0 || strcmp(name, "i8") == 0) {
                text = text_of(t);
                errno = 0;
                long long i = strtoll(text, &end, 10);
                if (errno || end == text || *end)
                        *error = xe_strf("bad integer '%s'", text);
                else
                        v = xv_int(i);
        } else if (strcmp(name, "boolean") == 0) {
                text = text_of(t);
                if (strcmp(text, "0") && strcmp(text, "1"))
                        *error = xe_strf("bad boolean '%s'", text);
                else
                        v = xv_bool(text[0] == '1');
        } else if (strcmp(name, "double") == 0) {
                text = text_of(t);
                errno = 0;
                double d = strtod(text, &end);
                if (errno || end == text || *end)
                        *error = xe_strf("bad double '%s'", text);
                else
                        v = xv_double(d);
        } else if (strcmp(name, "dateTime.iso8601") == 0) {
                text = text_of(t);
                v = xv_datetime(text);
        } else if (strcmp(name, "nil") == 0) {
                v = xv_nil();
        } else if (strcmp(name, "array") == 0) {
                xmlNode *data = first_elem(t);
                if (!is(data, "data")) {
                        *error = xe_strf("<array> without <data>");
                        return NULL;
                }
                v = xv_array();
                for (xmlNode *e = first_elem(data); e; e = next_elem(e)) {
                        struct xv *item = is(e, "value") ? parse_value(e, error, depth + 1) : NULL;
                        if (!item) {
                                if (!*error)
                                        *error = xe_strf("<%s> in <data>", (const char *)e->name);
                                xv_free(v);
                                return NULL;
                        }
                        xv_push(v, item);
                }
        } else if (strcmp(name, "struct") == 0) {
                v = xv_struct();
                for (xmlNode *m = first_elem(t); m; m = next_elem(m)) {
                        xmlNode *mn = first_elem(m), *mv = mn ? next_elem(mn) : NULL;
                        if (!is(m, "member") || !is(mn, "name") || !is(mv, "value")) {
                                *error = xe_strf("malformed struct member");
                                xv_free(v);
                                return NULL;
                        }
                        struct xv *item = parse_value(mv, error, depth + 1);
                        if (!item) {
                                xv_free(v);
                                return NULL;
                        }
                        char *key = text_of(mn);
                        xv_put(v, key, item);
                        free(key);
                }
        } else {
                *error = xe_strf("unknown XML-RPC type <%s>", name);
        }
        free(text);
        return v;
}

static struct xv *parse_value(xmlNode *value, char **error, int depth)
{
        if (depth > 64) {
                *error = xe_strf("values nested too deep");
                return NULL;
        }
        xmlNode *t = first_elem(value);
        if (!t) { /* an untyped value is a string */
                char *text = text_of(value);
                struct xv *v = xv_string(text);
                free(text);
                return v;
        }
        return parse_typed(t, error, depth);
}

int xe_xmlrpc_response(const char *body, size_t len, struct xv **value, char **error)
{
        *value = NULL;
        *error = NULL;
        if (len > (size_t)INT32_MAX) {
                *error = xe_strf("response too large");
                return -1;
        }
        xmlDoc *doc = xmlReadMemory(body, (int)len, "response.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_HUGE);
        if (!doc) {
                *error = xe_strf("the response is not XML");
                return -1;
        }
        xmlNode *root = xmlDocGetRootElement(doc);
        xmlNode *top = is(root, "methodResponse") ? first_elem(root) : NULL;
        if (is(top, "params")) {
                xmlNode *param = first_elem(top), *v = first_elem(param);
                if (is(param, "param") && is(v, "value"))
                        *value = parse_value(v, error, 0);
                else
                        *error = xe_strf("a methodResponse without a value");
        } else if (is(top, "fault")) {
                xmlNode *v = first_elem(top);
                struct xv *f = is(v, "value") ? parse_value(v, error, 0) : NULL;
                if (f) {
                        struct xv *code = xv_get(f, "faultCode"), *str = xv_get(f, "faultString");
                        *error = xe_strf("XML-RPC fault %" PRId64 ": %s",
                                         code && code->kind == XV_INT ? code->i : 0, xv_str(str));
                        xv_free(f);
                } else if (!*error) {
                        *error = xe_strf("a malformed fault");
                }
        } else {
                *error = xe_strf("not an XML-RPC methodResponse");
        }
        xmlFreeDoc(doc);
        if (!*value && !*error)
                *error = xe_strf("malformed response");
        return *value ? 0 : -1;
}
