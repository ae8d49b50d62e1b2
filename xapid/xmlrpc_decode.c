/* XML-RPC decoder on libxml2's SAX2 push parser (see xmlrpc_decode.h for the contract).
 *
 * The parser keeps a stack of frames, one per open element, and checks each element against
 * the XML-RPC grammar as it opens, so a bad document is refused at its first wrong tag.
 * Values are built bottom-up: a finished scalar or container is handed to the enclosing
 * <value> frame, and a finished <value> to its <param>, <data> or <member>.  Each value is
 * owned by exactly one frame (or by the result) at any time, so freeing the frames on error
 * frees everything. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "common/log.h"
#include "xapid/xmlrpc_decode.h"
#include "xapid/xmlrpc_scalar.h"

LOG_MODULE(xmlrpc);

enum ftype {
        F_CALL,
        F_METHODNAME,
        F_PARAMS,
        F_PARAM,
        F_VALUE,
        F_SCALAR,
        F_NIL,
        F_ARRAY,
        F_DATA,
        F_STRUCT,
        F_MEMBER,
        F_NAME,
};

enum scalar { S_STRING, S_INT, S_DOUBLE, S_BOOL, S_DATETIME, S_BASE64 };

static const char *const ftype_tag[] = {
    [F_CALL] = "methodCall", [F_METHODNAME] = "methodName", [F_PARAMS] = "params",
    [F_PARAM] = "param",     [F_VALUE] = "value",           [F_SCALAR] = "scalar",
    [F_NIL] = "nil",         [F_ARRAY] = "array",           [F_DATA] = "data",
    [F_STRUCT] = "struct",   [F_MEMBER] = "member",         [F_NAME] = "name",
};

struct frame {
        unsigned char type;   /* enum ftype */
        unsigned char scalar; /* enum scalar, for F_SCALAR */
        /* Grammar position: F_CALL 0 → methodName → 1 → params → 2; F_PARAM/F_ARRAY 0 → 1 after
         * their child; F_MEMBER 0 → name → 1 → value → 2; F_VALUE 1 once it has a child element. */
        unsigned char step;
        struct rpc_value *v; /* F_VALUE: its value; F_ARRAY/F_STRUCT: the container; F_MEMBER */
        char *key;           /* F_MEMBER: the name */
};

/* Deepest legal element nesting: methodCall/params/param, three elements per container level
 * (value, array|struct, data|member), then the innermost value and its scalar. */
#define MAX_FRAMES (3 + 3 * (RPC_MAX_DEPTH + 1) + 2)

struct xmlrpc_decoder {
        xmlParserCtxtPtr ctxt;
        bool value_mode; /* root is <value>, not <methodCall> */
        bool finished;
        size_t max_size, fed;
        int err;
        char *errmsg;
        struct frame st[MAX_FRAMES];
        int nst;
        int containers; /* open arrays and structs */
        char *text;     /* character data of the innermost text-holding element */
        size_t tlen, tcap;
        struct rpc_call *call;
        struct rpc_value *result; /* value mode */
        bool root_done;
};

static void set_error(struct xmlrpc_decoder *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct xmlrpc_decoder *d, int err, const char *fmt, ...)
{
        if (d->err)
                return; /* the first error is the one worth reporting */
        d->err = err;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&d->errmsg, fmt, ap) < 0)
                d->errmsg = NULL;
        va_end(ap);
        if (d->ctxt)
                xmlStopParser(d->ctxt);
}

static bool all_space(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!xmlrpc_is_space(s[i]))
                        return false;
        return true;
}

/* The collected text as a C string, for messages. */
static const char *text_cstr(struct xmlrpc_decoder *d)
{
        if (!d->text)
                return "";
        d->text[d->tlen] = '\0'; /* on_characters always keeps room for it */
        return d->text;
}

static char *text_dup(const struct xmlrpc_decoder *d)
{
        char *s = malloc(d->tlen + 1);
        if (s) {
                if (d->tlen)
                        memcpy(s, d->text, d->tlen);
                s[d->tlen] = '\0';
        }
        return s;
}

/* Does the innermost frame collect character data? */
static bool collects_text(const struct frame *f)
{
        return f->type == F_METHODNAME || f->type == F_NAME || f->type == F_SCALAR ||
               (f->type == F_VALUE && f->step == 0);
}

static void on_characters(void *ctx, const xmlChar *ch, int len)
{
        struct xmlrpc_decoder *d = ctx;
        if (d->err || d->nst == 0 || len <= 0)
                return;
        struct frame *f = &d->st[d->nst - 1];
        if (!collects_text(f)) {
                if (!all_space((const char *)ch, (size_t)len))
                        set_error(d, -EINVAL, "unexpected text inside <%s>", ftype_tag[f->type]);
                return;
        }
        if (d->tlen + (size_t)len + 1 > d->tcap) {
                size_t cap = d->tcap ? d->tcap : 256;
                while (cap < d->tlen + (size_t)len + 1)
                        cap *= 2;
                char *t = realloc(d->text, cap);
                if (!t) {
                        set_error(d, -ENOMEM, "out of memory");
                        return;
                }
                d->text = t;
                d->tcap = cap;
        }
        memcpy(d->text + d->tlen, ch, (size_t)len);
        d->tlen += (size_t)len;
}

static int scalar_of_tag(const char *tag)
{
        static const struct {
                const char *tag;
                enum scalar s;
        } tags[] = {
            {"string", S_STRING},
            {"int", S_INT},
            {"i4", S_INT},
            {"i8", S_INT},
            {"double", S_DOUBLE},
            {"boolean", S_BOOL},
            {"dateTime.iso8601", S_DATETIME},
            {"base64", S_BASE64},
        };
        for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
                if (strcmp(tag, tags[i].tag) == 0)
                        return (int)tags[i].s;
        return -1;
}

static struct frame *push(struct xmlrpc_decoder *d, enum ftype t)
{
        if (d->nst >= MAX_FRAMES) {
                set_error(d, -E2BIG, "document nested too deeply");
                return NULL;
        }
        struct frame *f = &d->st[d->nst++];
        memset(f, 0, sizeof(*f));
        f->type = (unsigned char)t;
        return f;
}

/* Opens an element TAG inside the <value> frame P. */
static void open_in_value(struct xmlrpc_decoder *d, struct frame *p, const char *tag)
{
        if (p->step) {
                set_error(d, -EINVAL, "<value> holds more than one element (<%s>)", tag);
                return;
        }
        if (!all_space(d->text, d->tlen)) {
                set_error(d, -EINVAL, "<value> mixes text and <%s>", tag);
                return;
        }
        p->step = 1;
        int s = scalar_of_tag(tag);
        if (s >= 0) {
                struct frame *f = push(d, F_SCALAR);
                if (f)
                        f->scalar = (unsigned char)s;
                return;
        }
        if (strcmp(tag, "nil") == 0) {
                push(d, F_NIL);
                return;
        }
        bool is_array = strcmp(tag, "array") == 0;
        if (!is_array && strcmp(tag, "struct") != 0) {
                set_error(d, -EINVAL, "unknown XML-RPC value type <%s>", tag);
                return;
        }
        if (d->containers >= RPC_MAX_DEPTH) {
                set_error(d, -E2BIG, "values nested deeper than %d levels", RPC_MAX_DEPTH);
                return;
        }
        struct frame *f = push(d, is_array ? F_ARRAY : F_STRUCT);
        if (!f)
                return;
        d->containers++;
        f->v = rpc_value_new(is_array ? RPC_ARRAY : RPC_STRUCT);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
        struct xmlrpc_decoder *d = ctx;
        const char *tag = (const char *)localname;
        if (d->err)
                return;
        if (prefix || uri) {
                set_error(d, -EINVAL, "unexpected namespaced element <%s:%s>",
                          prefix ? (const char *)prefix : "", tag);
                return;
        }
        if (d->nst == 0) {
                const char *want = d->value_mode ? "value" : "methodCall";
                if (strcmp(tag, want) != 0) {
                        set_error(d, -EINVAL, "document root is <%s>, expected <%s>", tag, want);
                        return;
                }
                push(d, d->value_mode ? F_VALUE : F_CALL);
                d->tlen = 0;
                return;
        }
        struct frame *p = &d->st[d->nst - 1];
        switch ((enum ftype)p->type) {
        case F_CALL:
                if (p->step == 0 && strcmp(tag, "methodName") == 0) {
                        p->step = 1;
                        push(d, F_METHODNAME);
                } else if (p->step == 1 && strcmp(tag, "params") == 0) {
                        p->step = 2;
                        push(d, F_PARAMS);
                } else {
                        set_error(d, -EINVAL, "unexpected <%s> in <methodCall>", tag);
                }
                break;
        case F_PARAMS:
                if (strcmp(tag, "param") == 0)
                        push(d, F_PARAM);
                else
                        set_error(d, -EINVAL, "unexpected <%s> in <params>", tag);
                break;
        case F_PARAM:
        case F_DATA:
                if (p->step == 0 && strcmp(tag, "value") == 0) {
                        p->step = p->type == F_PARAM ? 1 : 0; /* <data> takes any number */
                        push(d, F_VALUE);
                } else {
                        set_error(d, -EINVAL, "unexpected <%s> in <%s>", tag, ftype_tag[p->type]);
                }
                break;
        case F_VALUE:
                open_in_value(d, p, tag);
                break;
        case F_ARRAY:
                if (p->step == 0 && strcmp(tag, "data") == 0) {
                        p->step = 1;
                        push(d, F_DATA);
                } else {
                        set_error(d, -EINVAL, "unexpected <%s> in <array>", tag);
                }
                break;
        case F_STRUCT:
                if (strcmp(tag, "member") == 0)
                        push(d, F_MEMBER);
                else
                        set_error(d, -EINVAL, "unexpected <%s> in <struct>", tag);
                break;
        case F_MEMBER:
                if (p->step == 0 && strcmp(tag, "name") == 0) {
                        p->step = 1;
                        push(d, F_NAME);
                } else if (p->step == 1 && strcmp(tag, "value") == 0) {
                        p->step = 2;
                        push(d, F_VALUE);
                } else {
                        set_error(d, -EINVAL, "unexpected <%s> in <member>", tag);
                }
                break;
        case F_METHODNAME:
        case F_SCALAR:
        case F_NIL:
        case F_NAME:
                set_error(d, -EINVAL, "unexpected <%s> inside <%s>", tag,
                          p->type == F_SCALAR ? "scalar value" : ftype_tag[p->type]);
                break;
        }
        d->tlen = 0;
}

static struct rpc_value *scalar_value(struct xmlrpc_decoder *d, enum scalar s)
{
        struct rpc_value *v = NULL;
        int r;
        switch (s) {
        case S_STRING:
        case S_DATETIME:
                v = rpc_value_new_string(d->text, d->tlen);
                v->is_datetime = s == S_DATETIME;
                return v;
        case S_INT: {
                int64_t i;
                r = xmlrpc_parse_int(d->text, d->tlen, &i);
                if (r == 0)
                        return rpc_value_new_int(i);
                set_error(d, r, "%s integer '%.40s'", r == -ERANGE ? "out of range" : "malformed",
                          text_cstr(d));
                return NULL;
        }
        case S_DOUBLE: {
                double x;
                r = xmlrpc_parse_double(d->text, d->tlen, &x);
                if (r == 0)
                        return rpc_value_new_double(x);
                set_error(d, r, "malformed double '%.40s'", text_cstr(d));
                return NULL;
        }
        case S_BOOL: {
                bool b;
                if (xmlrpc_parse_bool(d->text, d->tlen, &b) == 0)
                        return rpc_value_new_bool(b);
                set_error(d, -EINVAL, "malformed boolean '%.40s' (expected 0 or 1)", text_cstr(d));
                return NULL;
        }
        case S_BASE64: {
                char *s64;
                size_t n;
                r = xmlrpc_base64_decode(d->text, d->tlen, &s64, &n);
                if (r < 0) {
                        set_error(d, r, "malformed base64 value");
                        return NULL;
                }
                v = rpc_value_new(RPC_STRING);
                free(v->u.str.s);
                v->u.str.s = s64;
                v->u.str.len = n;
                return v;
        }
        }
        return NULL;
}

/* A <value> finished with V: hand it to the enclosing element (now on top of the stack). */
static void deliver_value(struct xmlrpc_decoder *d, struct rpc_value *v)
{
        if (d->nst == 0) {
                d->result = v; /* value mode: the root */
                d->root_done = true;
                return;
        }
        struct frame *p = &d->st[d->nst - 1];
        switch ((enum ftype)p->type) {
        case F_PARAM:
                rpc_call_append_param(d->call, v);
                break;
        case F_DATA:
                rpc_array_append(d->st[d->nst - 2].v, v);
                break;
        case F_MEMBER:
                p->v = v;
                break;
        default:
                rpc_value_free(v); /* unreachable: the grammar only opens <value> above */
                set_error(d, -EINVAL, "internal error: misplaced <value>");
                break;
        }
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
        struct xmlrpc_decoder *d = ctx;
        if (d->err || d->nst == 0)
                return;
        struct frame f = d->st[--d->nst];
        struct frame *p = d->nst ? &d->st[d->nst - 1] : NULL;
        struct rpc_value *v;
        switch ((enum ftype)f.type) {
        case F_CALL:
                if (f.step == 0)
                        set_error(d, -EINVAL, "<methodCall> without <methodName>");
                d->root_done = true;
                break;
        case F_METHODNAME:
                free(d->call->method);
                d->call->method = text_dup(d);
                if (!d->call->method)
                        set_error(d, -ENOMEM, "out of memory");
                break;
        case F_PARAMS:
        case F_DATA:
                break;
        case F_PARAM:
                if (f.step == 0)
                        set_error(d, -EINVAL, "<param> without <value>");
                break;
        case F_VALUE:
                v = f.step ? f.v : rpc_value_new_string(d->text, d->tlen);
                if (!v)
                        set_error(d, -EINVAL, "internal error: empty <value>");
                else
                        deliver_value(d, v);
                break;
        case F_SCALAR:
                v = scalar_value(d, (enum scalar)f.scalar);
                if (v)
                        p->v = v;
                break;
        case F_NIL:
                p->v = rpc_value_new(RPC_NIL);
                break;
        case F_ARRAY:
        case F_STRUCT:
                d->containers--;
                p->v = f.v;
                break;
        case F_MEMBER:
                if (f.step != 2) {
                        free(f.key);
                        rpc_value_free(f.v);
                        set_error(d, -EINVAL, "<member> without %s", f.step ? "<value>" : "<name>");
                        break;
                }
                rpc_struct_append(p->v, f.key, f.v);
                break;
        case F_NAME:
                p->key = text_dup(d);
                if (!p->key)
                        set_error(d, -ENOMEM, "out of memory");
                break;
        }
        d->tlen = 0;
}

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id)
{
        set_error(ctx, -EINVAL, "document type declarations are not allowed");
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
        set_error(ctx, -EINVAL, "entity declarations are not allowed");
}

static xmlEntityPtr on_get_entity(void *ctx, const xmlChar *name)
{
        /* Predefined entities never get here; any other is refused. */
        set_error(ctx, -EINVAL, "entity references are not allowed");
        return NULL;
}

static void on_reference(void *ctx, const xmlChar *name)
{
        set_error(ctx, -EINVAL, "entity references are not allowed");
}

static void on_xml_error(void *ctx, xmlErrorPtr e)
{
        struct xmlrpc_decoder *d = ctx;
        if (!e || e->level < XML_ERR_ERROR || d->err)
                return;
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "unknown error");
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        set_error(d, -EINVAL, "XML parse error at line %d: %s", e->line, msg);
}

static struct xmlrpc_decoder *decoder_new(size_t max_size, bool value_mode)
{
        /* Only the callbacks below: no tree, no DTD, no entity resolution.  The push parser
         * copies the handler, so a local one is fine (and needs no locking). */
        xmlSAXHandler sax;
        xmlInitParser();
        {
                memset(&sax, 0, sizeof(sax));
                sax.initialized = XML_SAX2_MAGIC;
                sax.startElementNs = on_start;
                sax.endElementNs = on_end;
                sax.characters = on_characters;
                sax.cdataBlock = on_characters;
                sax.ignorableWhitespace = on_characters;
                sax.internalSubset = on_internal_subset;
                sax.externalSubset = on_internal_subset;
                sax.entityDecl = on_entity_decl;
                sax.getEntity = on_get_entity;
                sax.getParameterEntity = on_get_entity;
                sax.reference = on_reference;
                sax.serror = on_xml_error;
        }
        struct xmlrpc_decoder *d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->value_mode = value_mode;
        d->max_size = max_size;
        if (!value_mode) {
                d->call = calloc(1, sizeof(*d->call));
                if (!d->call)
                        goto fail;
        }
        d->ctxt = xmlCreatePushParserCtxt(&sax, d, NULL, 0, NULL);
        if (!d->ctxt)
                goto fail;
        /* No network, no DTD loading, no entity substitution; keep libxml2's own limits. */
        xmlCtxtUseOptions(d->ctxt, XML_PARSE_NONET | XML_PARSE_NOWARNING);
        d->ctxt->replaceEntities = 0;
        d->ctxt->loadsubset = 0;
        return d;
fail:
        xmlrpc_decoder_free(d);
        return NULL;
}

struct xmlrpc_decoder *xmlrpc_decoder_new(size_t max_size)
{
        return decoder_new(max_size ? max_size : RPC_MAX_REQUEST_SIZE, false);
}

int xmlrpc_decoder_feed(struct xmlrpc_decoder *d, const char *buf, size_t len)
{
        if (d->err || len == 0)
                return d->err;
        if (d->finished)
                return -EINVAL;
        if (len > d->max_size - d->fed) {
                set_error(d, -E2BIG, "request larger than %zu bytes", d->max_size);
                return d->err;
        }
        d->fed += len;
        /* xmlParseChunk takes an int length. */
        while (len && !d->err) {
                int n = len > (1 << 20) ? 1 << 20 : (int)len;
                int r = xmlParseChunk(d->ctxt, buf, n, 0);
                if (r != 0 && !d->err)
                        set_error(d, -EINVAL, "XML parse error (code %d)", r);
                buf += n;
                len -= (size_t)n;
        }
        return d->err;
}

static int finish(struct xmlrpc_decoder *d, char **errmsg)
{
        if (errmsg)
                *errmsg = NULL;
        if (!d->err && !d->finished) {
                d->finished = true;
                int r = xmlParseChunk(d->ctxt, NULL, 0, 1);
                if (r != 0 && !d->err)
                        set_error(d, -EINVAL, "XML parse error (code %d)", r);
                if (!d->err && !d->root_done)
                        set_error(d, -EINVAL, "incomplete document");
        }
        if (d->err) {
                log_debug("rejected XML-RPC input: %s", d->errmsg ? d->errmsg : "?");
                if (errmsg)
                        *errmsg = strdup(d->errmsg ? d->errmsg : "invalid XML-RPC document");
        }
        return d->err;
}

int xmlrpc_decoder_finish(struct xmlrpc_decoder *d, struct rpc_call **out, char **errmsg)
{
        *out = NULL;
        int r = finish(d, errmsg);
        if (r == 0) {
                *out = d->call;
                d->call = NULL;
        }
        return r;
}

void xmlrpc_decoder_free(struct xmlrpc_decoder *d)
{
        if (!d)
                return;
        for (int i = 0; i < d->nst; i++) {
                rpc_value_free(d->st[i].v);
                free(d->st[i].key);
        }
        if (d->ctxt) {
                xmlFreeParserCtxt(d->ctxt);
        }
        rpc_call_free(d->call);
        rpc_value_free(d->result);
        free(d->text);
        free(d->errmsg);
        free(d);
}

int xmlrpc_decode_call(const char *buf, size_t len, struct rpc_call **out, char **errmsg)
{
        *out = NULL;
        if (errmsg)
                *errmsg = NULL;
        struct xmlrpc_decoder *d = xmlrpc_decoder_new(0);
        if (!d) {
                if (errmsg)
                        *errmsg = strdup("out of memory");
                return -ENOMEM;
        }
        xmlrpc_decoder_feed(d, buf, len);
        int r = xmlrpc_decoder_finish(d, out, errmsg);
        xmlrpc_decoder_free(d);
        return r;
}

int xmlrpc_decode_value(const char *buf, size_t len, struct rpc_value **out, char **errmsg)
{
        *out = NULL;
        if (errmsg)
                *errmsg = NULL;
        struct xmlrpc_decoder *d = decoder_new(SIZE_MAX, true);
        if (!d) {
                if (errmsg)
                        *errmsg = strdup("out of memory");
                return -ENOMEM;
        }
        xmlrpc_decoder_feed(d, buf, len);
        int r = finish(d, errmsg);
        if (r == 0) {
                *out = d->result;
                d->result = NULL;
        }
        xmlrpc_decoder_free(d);
        return r;
}
