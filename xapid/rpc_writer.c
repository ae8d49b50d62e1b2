/* The RPC response writer: envelopes and structure (see rpc_writer.h).  Output goes through
 * a staging buffer in the writer (rpc_writer_impl.h) into the caller's evbuffer, so writing a
 * scalar costs a few memcpys and no allocation. */
#include <errno.h>

#include <event2/buffer.h>

#include "common/err.h"
#include "xapid/rpc_writer_impl.h"

#define XML_HEAD "<?xml version=\"1.0\"?><methodResponse><params><param>"
#define XML_TAIL "</param></params></methodResponse>"

static bool is_xml(const struct rpc_writer *w)
{
        return w->format != RPCW_JSONRPC;
}

void rpcw_init(struct rpc_writer *w, enum rpcw_format fmt, struct evbuffer *out)
{
        memset(w, 0, offsetof(struct rpc_writer, buf));
        w->format = fmt;
        w->json_version = 1;
        w->json_id = "null";
        w->out = out;
}

void rpcw_set_json(struct rpc_writer *w, int version, const char *id)
{
        w->json_version = version == 2 ? 2 : 1;
        w->json_id = id ? id : "null";
}

int rpcw_error(const struct rpc_writer *w)
{
        return w->err;
}

void rpcw_flush(struct rpc_writer *w)
{
        if (w->blen && evbuffer_add(w->out, w->buf, w->blen) < 0 && !w->err)
                w->err = -ENOMEM;
        w->blen = 0;
}

void rpcw_put_slow(struct rpc_writer *w, const char *s, size_t n)
{
        rpcw_flush(w);
        if (n >= RPCW_BUF_SIZE / 2) {
                if (evbuffer_add(w->out, s, n) < 0 && !w->err)
                        w->err = -ENOMEM;
        } else {
                memcpy(w->buf, s, n);
                w->blen = n;
        }
}

static void put_str(struct rpc_writer *w, const char *s)
{
        rpcw_put(w, s, strlen(s));
}

/* Before any value: checks the call is legal here, writes JSON's separator and XML's <value>
 * (unless WRAP is false: raw XML brings its own).  False if the value must not be written. */
static bool value_begin(struct rpc_writer *w, bool wrap)
{
        if (w->err)
                return false;
        if (w->depth > 0) {
                int top = w->depth - 1;
                if (w->kind[top] == 'S') {
                        if (!w->in_member) {
                                w->err = -EINVAL; /* a struct value needs rpcw_member first */
                                return false;
                        }
                } else if (w->format == RPCW_JSONRPC) {
                        if (w->count[top])
                                RPCW_PUTS(w, ",");
                        w->count[top] = 1;
                }
        }
        w->in_member = false;
        if (wrap && is_xml(w))
                RPCW_PUTS(w, "<value>");
        return true;
}

static void value_end(struct rpc_writer *w, bool wrap)
{
        if (is_xml(w)) {
                if (wrap)
                        RPCW_PUTS(w, "</value>");
                if (w->depth > 0 && w->kind[w->depth - 1] == 'S')
                        RPCW_PUTS(w, "</member>");
        }
        if (w->depth == 0)
                rpcw_flush(w); /* a whole top-level value is ready to go */
}

static void put_json_id(struct rpc_writer *w)
{
        RPCW_PUTS(w, ",\"id\":");
        put_str(w, w->json_id ? w->json_id : "null");
        RPCW_PUTS(w, "}");
}

void rpcw_begin(struct rpc_writer *w)
{
        if (w->err)
                return;
        switch (w->format) {
        case RPCW_XMLRPC:
                RPCW_PUTS(w, XML_HEAD
                          "<value><struct><member><name>Status</name><value>Success</value>"
                          "</member><member><name>Value</name>");
                break;
        case RPCW_JSONRPC:
                if (w->json_version == 2)
                        RPCW_PUTS(w, "{\"jsonrpc\":\"2.0\",\"result\":");
                else
                        RPCW_PUTS(w, "{\"result\":");
                break;
        case RPCW_XML_FRAGMENT:
                break;
        }
}

void rpcw_end(struct rpc_writer *w)
{
        if (w->err)
                return;
        if (w->depth != 0) {
                w->err = -EINVAL; /* containers left open */
                return;
        }
        switch (w->format) {
        case RPCW_XMLRPC:
                RPCW_PUTS(w, "</member></struct></value>" XML_TAIL);
                break;
        case RPCW_JSONRPC:
                if (w->json_version != 2)
                        RPCW_PUTS(w, ",\"error\":null");
                put_json_id(w);
                break;
        case RPCW_XML_FRAGMENT:
                break;
        }
        rpcw_flush(w);
}

static void put_string_value(struct rpc_writer *w, const char *s, size_t len);

void rpcw_failure(struct rpc_writer *w, const struct api_error *e)
{
        w->err = 0;
        w->depth = 0;
        w->in_member = false;
        const char *code = e && e->code && e->code[0] ? e->code : "INTERNAL_ERROR";
        size_t n = e && e->code ? e->n_params : 0;
        if (n > API_ERROR_MAX_PARAMS)
                n = API_ERROR_MAX_PARAMS;
        switch (w->format) {
        case RPCW_XMLRPC:
                RPCW_PUTS(w, XML_HEAD
                          "<value><struct><member><name>Status</name><value>Failure</value>"
                          "</member><member><name>ErrorDescription</name>");
                break;
        case RPCW_JSONRPC:
                if (w->json_version == 2) {
                        RPCW_PUTS(w, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":");
                        put_string_value(w, code, strlen(code));
                        RPCW_PUTS(w, ",\"data\":");
                } else {
                        RPCW_PUTS(w, "{\"result\":null,\"error\":");
                }
                break;
        case RPCW_XML_FRAGMENT:
                break;
        }
        rpcw_array_begin(w);
        if (w->format != RPCW_JSONRPC || w->json_version != 2)
                rpcw_string(w, code); /* v2 carries the code in "message" instead */
        for (size_t i = 0; i < n; i++)
                rpcw_string(w, e->params[i]);
        rpcw_array_end(w);
        switch (w->format) {
        case RPCW_XMLRPC:
                RPCW_PUTS(w, "</member></struct></value>" XML_TAIL);
                break;
        case RPCW_JSONRPC:
                if (w->json_version == 2)
                        RPCW_PUTS(w, "}");
                put_json_id(w);
                break;
        case RPCW_XML_FRAGMENT:
                break;
        }
        rpcw_flush(w);
}

static void container_begin(struct rpc_writer *w, unsigned char kind)
{
        if (!value_begin(w, true))
                return;
        if (w->depth >= RPCW_MAX_DEPTH) {
                w->err = -E2BIG;
                return;
        }
        w->kind[w->depth] = kind;
        w->count[w->depth] = 0;
        w->depth++;
        if (kind == 'S')
                is_xml(w) ? RPCW_PUTS(w, "<struct>") : RPCW_PUTS(w, "{");
        else
                is_xml(w) ? RPCW_PUTS(w, "<array><data>") : RPCW_PUTS(w, "[");
}

static void container_end(struct rpc_writer *w, unsigned char kind)
{
        if (w->err)
                return;
        if (w->depth == 0 || w->kind[w->depth - 1] != kind || w->in_member) {
                w->err = -EINVAL;
                return;
        }
        w->depth--;
        if (kind == 'S')
                is_xml(w) ? RPCW_PUTS(w, "</struct>") : RPCW_PUTS(w, "}");
        else
                is_xml(w) ? RPCW_PUTS(w, "</data></array>") : RPCW_PUTS(w, "]");
        value_end(w, true);
}

void rpcw_struct_begin(struct rpc_writer *w)
{
        container_begin(w, 'S');
}

void rpcw_struct_end(struct rpc_writer *w)
{
        container_end(w, 'S');
}

void rpcw_array_begin(struct rpc_writer *w)
{
        container_begin(w, 'A');
}

void rpcw_array_end(struct rpc_writer *w)
{
        container_end(w, 'A');
}

void rpcw_member(struct rpc_writer *w, const char *name)
{
        if (w->err)
                return;
        if (w->depth == 0 || w->kind[w->depth - 1] != 'S' || w->in_member) {
                w->err = -EINVAL;
                return;
        }
        if (!name)
                name = "";
        int top = w->depth - 1;
        if (is_xml(w)) {
                RPCW_PUTS(w, "<member><name>");
                rpcw_put_xml_text(w, name, strlen(name));
                RPCW_PUTS(w, "</name>");
        } else {
                if (w->count[top])
                        RPCW_PUTS(w, ",\"");
                else
                        RPCW_PUTS(w, "\"");
                rpcw_put_json_text(w, name, strlen(name));
                RPCW_PUTS(w, "\":");
        }
        w->count[top] = 1;
        w->in_member = true;
}

/* A string's text in the current format, without <value> (for JSON: with quotes). */
static void put_string_value(struct rpc_writer *w, const char *s, size_t len)
{
        if (is_xml(w)) {
                rpcw_put_xml_text(w, s, len);
        } else {
                RPCW_PUTS(w, "\"");
                rpcw_put_json_text(w, s, len);
                RPCW_PUTS(w, "\"");
        }
}

void rpcw_string_n(struct rpc_writer *w, const char *s, size_t len)
{
        if (!value_begin(w, true))
                return;
        put_string_value(w, s ? s : "", s ? len : 0);
        value_end(w, true);
}

void rpcw_string(struct rpc_writer *w, const char *s)
{
        rpcw_string_n(w, s, s ? strlen(s) : 0);
}

void rpcw_int(struct rpc_writer *w, int64_t v)
{
        if (!value_begin(w, true))
                return;
        char buf[32];
        rpcw_put(w, buf, rpcw_fmt_int(buf, v)); /* XML: a bare string, as XAPI sends int64 */
        value_end(w, true);
}

void rpcw_int32(struct rpc_writer *w, int32_t v)
{
        if (!value_begin(w, true))
                return;
        char buf[32];
        if (is_xml(w))
                RPCW_PUTS(w, "<i4>");
        rpcw_put(w, buf, rpcw_fmt_int(buf, v));
        if (is_xml(w))
                RPCW_PUTS(w, "</i4>");
        value_end(w, true);
}

void rpcw_double(struct rpc_writer *w, double v)
{
        if (!value_begin(w, true))
                return;
        char buf[32];
        size_t n = rpcw_fmt_double(buf, v, !is_xml(w));
        if (is_xml(w)) {
                RPCW_PUTS(w, "<double>");
                rpcw_put(w, buf, n);
                RPCW_PUTS(w, "</double>");
        } else {
                rpcw_put(w, buf, n);
        }
        value_end(w, true);
}

void rpcw_bool(struct rpc_writer *w, bool v)
{
        if (!value_begin(w, true))
                return;
        if (is_xml(w))
                v ? RPCW_PUTS(w, "<boolean>1</boolean>") : RPCW_PUTS(w, "<boolean>0</boolean>");
        else
                v ? RPCW_PUTS(w, "true") : RPCW_PUTS(w, "false");
        value_end(w, true);
}

void rpcw_datetime_str(struct rpc_writer *w, const char *s)
{
        if (!value_begin(w, true))
                return;
        if (!s)
                s = "";
        if (is_xml(w)) {
                RPCW_PUTS(w, "<dateTime.iso8601>");
                rpcw_put_xml_text(w, s, strlen(s));
                RPCW_PUTS(w, "</dateTime.iso8601>");
        } else {
                put_string_value(w, s, strlen(s));
        }
        value_end(w, true);
}

void rpcw_datetime(struct rpc_writer *w, time_t t)
{
        char buf[32];
        rpcw_fmt_datetime(buf, t);
        rpcw_datetime_str(w, buf);
}

void rpcw_nil(struct rpc_writer *w)
{
        if (!value_begin(w, true))
                return;
        is_xml(w) ? RPCW_PUTS(w, "<nil/>") : RPCW_PUTS(w, "null");
        value_end(w, true);
}

/* Raw XML written verbatim as one value (rpc_writer_value.c converts it for JSON). */
void rpcw_raw_xml_verbatim(struct rpc_writer *w, const char *xml, size_t len)
{
        if (!value_begin(w, false))
                return;
        rpcw_put(w, xml, len);
        value_end(w, false);
}
