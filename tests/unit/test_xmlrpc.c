/* Unit tests of the XML-RPC decoder (xapid/xmlrpc_decode.c) and scalar parsers: every value
 * form, a Python xmlrpc.client request, hostile documents, and writer → decoder round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xmlrpc_decode.h"
#include "xapid/xmlrpc_scalar.h"

/* Generated with python3 xmlrpc.client.dumps((...), "VM.get_record", allow_none=True). */
static const char python_request[] =
    "<?xml version='1.0'?>\n"
    "<methodCall>\n"
    "<methodName>VM.get_record</methodName>\n"
    "<params>\n"
    "<param>\n"
    "<value><string>OpaqueRef:abc</string></value>\n"
    "</param>\n"
    "<param>\n"
    "<value><struct>\n"
    "<member>\n"
    "<name>name_label</name>\n"
    "<value><string>vm1 &amp; &lt;x&gt;</string></value>\n"
    "</member>\n"
    "<member>\n"
    "<name>memory</name>\n"
    "<value><int>5</int></value>\n"
    "</member>\n"
    "<member>\n"
    "<name>flag</name>\n"
    "<value><boolean>1</boolean></value>\n"
    "</member>\n"
    "<member>\n"
    "<name>ratio</name>\n"
    "<value><double>1.5</double></value>\n"
    "</member>\n"
    "<member>\n"
    "<name>tags</name>\n"
    "<value><array><data>\n"
    "<value><string>a</string></value>\n"
    "<value><string>b</string></value>\n"
    "</data></array></value>\n"
    "</member>\n"
    "<member>\n"
    "<name>none</name>\n"
    "<value><struct>\n"
    "</struct></value>\n"
    "</member>\n"
    "</struct></value>\n"
    "</param>\n"
    "<param>\n"
    "<value><int>42</int></value>\n"
    "</param>\n"
    "<param>\n"
    "<value><dateTime.iso8601>20250101T12:00:00</dateTime.iso8601></value>\n"
    "</param>\n"
    "<param>\n"
    "<value><base64>\n"
    "aGVsbG8=\n"
    "</base64></value>\n"
    "</param>\n"
    "</params>\n"
    "</methodCall>\n"
    "\n";

static struct rpc_call *decode_ok(const char *xml)
{
        struct rpc_call *c = NULL;
        char *msg = NULL;
        int r = xmlrpc_decode_call(xml, strlen(xml), &c, &msg);
        if (r != 0)
                fail_msg("decode failed (%d): %s\n%s", r, msg ? msg : "?", xml);
        assert_null(msg);
        assert_non_null(c);
        return c;
}

/* Decodes a single-parameter call with VALUE_XML as its <value> content. */
static struct rpc_call *decode_param(const char *value_xml)
{
        char buf[4096];
        snprintf(buf, sizeof(buf),
                 "<?xml version=\"1.0\"?><methodCall><methodName>m</methodName><params><param>"
                 "<value>%s</value></param></params></methodCall>",
                 value_xml);
        struct rpc_call *c = decode_ok(buf);
        assert_int_equal(c->n_params, 1);
        return c;
}

static int decode_err(const char *xml, size_t len, char **msg)
{
        struct rpc_call *c = (struct rpc_call *)1;
        int r = xmlrpc_decode_call(xml, len, &c, msg);
        assert_null(c);
        assert_true(r < 0);
        if (msg) {
                assert_non_null(*msg);
                assert_true(strlen(*msg) > 0);
        }
        return r;
}

static int param_err(const char *value_xml, char **msg)
{
        char buf[4096];
        snprintf(buf, sizeof(buf),
                 "<methodCall><methodName>m</methodName><params><param><value>%s</value></param>"
                 "</params></methodCall>",
                 value_xml);
        return decode_err(buf, strlen(buf), msg);
}

static void python_request_decodes(void **state)
{
        struct rpc_call *c = decode_ok(python_request);
        assert_string_equal(c->method, "VM.get_record");
        assert_int_equal(c->json_version, 0);
        assert_null(c->json_id);
        assert_int_equal(c->n_params, 5);
        assert_int_equal(c->params[0]->type, RPC_STRING);
        assert_string_equal(c->params[0]->u.str.s, "OpaqueRef:abc");

        const struct rpc_value *st = c->params[1];
        assert_int_equal(st->type, RPC_STRUCT);
        assert_int_equal(st->u.st.n, 6);
        assert_string_equal(st->u.st.keys[0], "name_label");
        assert_string_equal(rpc_struct_get(st, "name_label")->u.str.s, "vm1 & <x>");
        assert_int_equal(rpc_struct_get(st, "memory")->u.i, 5);
        assert_true(rpc_struct_get(st, "flag")->u.b);
        assert_true(rpc_struct_get(st, "ratio")->u.d == 1.5);
        const struct rpc_value *tags = rpc_struct_get(st, "tags");
        assert_int_equal(tags->type, RPC_ARRAY);
        assert_int_equal(tags->u.arr.n, 2);
        assert_string_equal(tags->u.arr.items[1]->u.str.s, "b");
        assert_int_equal(rpc_struct_get(st, "none")->type, RPC_STRUCT);
        assert_int_equal(rpc_struct_get(st, "none")->u.st.n, 0);
        assert_null(rpc_struct_get(st, "absent"));
        assert_null(rpc_struct_get(c->params[0], "x"));

        assert_int_equal(c->params[2]->type, RPC_INT);
        assert_int_equal(c->params[2]->u.i, 42);
        assert_int_equal(c->params[3]->type, RPC_STRING);
        assert_true(c->params[3]->is_datetime);
        assert_string_equal(c->params[3]->u.str.s, "20250101T12:00:00");
        assert_int_equal(c->params[4]->type, RPC_STRING);
        assert_false(c->params[4]->is_datetime);
        assert_string_equal(c->params[4]->u.str.s, "hello");
        rpc_call_free(c);
}

static void python_request_in_chunks(void **state)
{
        /* The push parser must give the same result however the body is split. */
        size_t len = strlen(python_request);
        for (size_t step = 1; step < 64; step += 7) {
                struct xmlrpc_decoder *d = xmlrpc_decoder_new(0);
                assert_non_null(d);
                for (size_t off = 0; off < len; off += step)
                        assert_int_equal(xmlrpc_decoder_feed(d, python_request + off,
                                                             len - off < step ? len - off : step),
                                         0);
                struct rpc_call *c;
                char *msg;
                assert_int_equal(xmlrpc_decoder_finish(d, &c, &msg), 0);
                assert_int_equal(c->n_params, 5);
                assert_string_equal(rpc_struct_get(c->params[1], "name_label")->u.str.s,
                                    "vm1 & <x>");
                rpc_call_free(c);
                xmlrpc_decoder_free(d);
        }
        xmlrpc_decoder_free(NULL);
}

static void scalar_forms(void **state)
{
        static const struct {
                const char *xml;
                enum rpc_type type;
                const char *s;
                int64_t i;
        } cases[] = {
            {"<string>abc</string>", RPC_STRING, "abc", 0},
            {"bare text", RPC_STRING, "bare text", 0},
            {"  spaced  ", RPC_STRING, "  spaced  ", 0},
            {"", RPC_STRING, "", 0},
            {"<string/>", RPC_STRING, "", 0},
            {"<string></string>", RPC_STRING, "", 0},
            {"<string> keep </string>", RPC_STRING, " keep ", 0},
            {"<string>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</string>", RPC_STRING, "<&>\"'AB", 0},
            {"<string><![CDATA[<x>&]]></string>", RPC_STRING, "<x>&", 0},
            {"<string>h\xc3\xa9</string>", RPC_STRING, "h\xc3\xa9", 0},
            {"<int>-17</int>", RPC_INT, NULL, -17},
            {"<i4>2147483647</i4>", RPC_INT, NULL, 2147483647},
            {"<i8>9223372036854775807</i8>", RPC_INT, NULL, INT64_MAX},
            {"<int>-9223372036854775808</int>", RPC_INT, NULL, INT64_MIN},
            {"<int> +5 \n</int>", RPC_INT, NULL, 5},
            {"<boolean>0</boolean>", RPC_BOOL, NULL, 0},
            {"<boolean>1</boolean>", RPC_BOOL, NULL, 1},
            {"<nil/>", RPC_NIL, NULL, 0},
            {"<nil></nil>", RPC_NIL, NULL, 0},
            {"<base64></base64>", RPC_STRING, "", 0},
            {"<base64>aGk=</base64>", RPC_STRING, "hi", 0},
            {"<base64>aGV5\n  eW91</base64>", RPC_STRING, "heyyou", 0},
            {"\n  <int>3</int>\n", RPC_INT, NULL, 3},
            {"<array/>", RPC_ARRAY, NULL, 0},
            {"<array><data/></array>", RPC_ARRAY, NULL, 0},
            {"<array></array>", RPC_ARRAY, NULL, 0},
            {"<struct/>", RPC_STRUCT, NULL, 0},
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                struct rpc_call *c = decode_param(cases[k].xml);
                const struct rpc_value *v = c->params[0];
                if (v->type != cases[k].type)
                        fail_msg("%s: type %s", cases[k].xml, rpc_type_name(v->type));
                if (cases[k].s) {
                        assert_string_equal(v->u.str.s, cases[k].s);
                        assert_int_equal(v->u.str.len, strlen(cases[k].s));
                }
                if (v->type == RPC_INT)
                        assert_true(v->u.i == cases[k].i);
                if (v->type == RPC_BOOL)
                        assert_int_equal(v->u.b, cases[k].i);
                rpc_call_free(c);
        }
        struct rpc_call *c = decode_param("<double>-2.5e3</double>");
        assert_int_equal(c->params[0]->type, RPC_DOUBLE);
        assert_true(c->params[0]->u.d == -2500.0);
        rpc_call_free(c);
        c = decode_param("<dateTime.iso8601>20250101T12:00:00Z</dateTime.iso8601>");
        assert_true(c->params[0]->is_datetime);
        assert_string_equal(c->params[0]->u.str.s, "20250101T12:00:00Z");
        rpc_call_free(c);
}

static void structures(void **state)
{
        struct rpc_call *c = decode_param(
            "<struct><member><name>a</name><value><array><data><value><i4>1</i4></value>"
            "<value>two</value><value><struct><member><name>x</name><value/></member>"
            "</struct></value></data></array></value></member>"
            "<member><name>a</name><value>dup</value></member>"
            "<member><name></name><value><boolean>1</boolean></value></member></struct>");
        const struct rpc_value *st = c->params[0];
        assert_int_equal(st->type, RPC_STRUCT);
        /* Duplicate member names are kept, in order, for the dispatch layer to report. */
        assert_int_equal(st->u.st.n, 3);
        assert_string_equal(st->u.st.keys[0], "a");
        assert_string_equal(st->u.st.keys[1], "a");
        assert_string_equal(st->u.st.vals[1]->u.str.s, "dup");
        assert_string_equal(st->u.st.keys[2], "");
        const struct rpc_value *arr = rpc_struct_get(st, "a");
        assert_int_equal(arr->type, RPC_ARRAY);
        assert_int_equal(arr->u.arr.n, 3);
        assert_int_equal(arr->u.arr.items[0]->u.i, 1);
        assert_string_equal(arr->u.arr.items[1]->u.str.s, "two");
        assert_string_equal(rpc_struct_get(arr->u.arr.items[2], "x")->u.str.s, "");
        rpc_call_free(c);

        /* No params at all, empty params, and comments/PIs are fine. */
        c = decode_ok("<methodCall><methodName>session.logout</methodName></methodCall>");
        assert_int_equal(c->n_params, 0);
        assert_string_equal(c->method, "session.logout");
        rpc_call_free(c);
        c = decode_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- hi -->"
                      "<methodCall>\n <methodName>a\xe9</methodName>\n<params/>\n</methodCall>\n");
        assert_string_equal(c->method, "a\xc3\xa9"); /* converted to UTF-8 */
        rpc_call_free(c);
}

static void bad_values_rejected(void **state)
{
        static const struct {
                const char *xml;
                int err;
        } cases[] = {
            {"<int>9223372036854775808</int>", -ERANGE},
            {"<int>-9223372036854775809</int>", -ERANGE},
            {"<i8>99999999999999999999999999</i8>", -ERANGE},
            {"<int></int>", -EINVAL},
            {"<int/>", -EINVAL},
            {"<int>12a</int>", -EINVAL},
            {"<int>0x10</int>", -EINVAL},
            {"<int>1 2</int>", -EINVAL},
            {"<int>-</int>", -EINVAL},
            {"<boolean>true</boolean>", -EINVAL},
            {"<boolean>2</boolean>", -EINVAL},
            {"<boolean></boolean>", -EINVAL},
            {"<double>abc</double>", -EINVAL},
            {"<double>1.5x</double>", -EINVAL},
            {"<double></double>", -EINVAL},
            {"<double>1e999</double>", -ERANGE},
            {"<base64>a</base64>", -EINVAL},
            {"<base64>a!==</base64>", -EINVAL},
            {"<base64>aGk=aGk=</base64>", -EINVAL},
            {"<base64>AAA=</base64>", -EINVAL}, /* decodes to NUL bytes */
            {"<float>1</float>", -EINVAL},
            {"<int>1</int><int>2</int>", -EINVAL},
            {"text<int>1</int>", -EINVAL},
            {"<int>1</int>text", -EINVAL},
            {"<int><int>1</int></int>", -EINVAL},
            {"<value>1</value>", -EINVAL},
            {"<array><value>1</value></array>", -EINVAL},
            {"<array><data>x</data></array>", -EINVAL},
            {"<array><data/><data/></array>", -EINVAL},
            {"<struct><value>1</value></struct>", -EINVAL},
            {"<struct><member><value>1</value><name>a</name></member></struct>", -EINVAL},
            {"<struct><member><name>a</name></member></struct>", -EINVAL},
            {"<struct><member><name>a</name><value/><value/></member></struct>", -EINVAL},
            {"<struct><member><name>a<b/></name><value/></member></struct>", -EINVAL},
            {"<struct>junk</struct>", -EINVAL},
            {"<nil>x</nil>", 0}, /* text in <nil> is not whitespace */
            {"<x:int xmlns:x=\"urn:x\">1</x:int>", -EINVAL},
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                char *msg = NULL;
                int r = param_err(cases[k].xml, &msg);
                if (cases[k].err && r != cases[k].err)
                        fail_msg("%s: %d (%s), expected %d", cases[k].xml, r, msg, cases[k].err);
                free(msg);
        }
}

static void bad_documents_rejected(void **state)
{
        static const char *const docs[] = {
            "",
            "   ",
            "<methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><int>1</int>",
            "<methodCall><methodName>m</methodName><params></methodCall>",
            "<methodResponse><params/></methodResponse>",
            "<methodCall><params/></methodCall>",
            "<methodCall><params/><methodName>m</methodName></methodCall>",
            "<methodCall><methodName>m</methodName><methodName>n</methodName></methodCall>",
            "<methodCall><methodName>m</methodName><params/><params/></methodCall>",
            "<methodCall><methodName>m</methodName>junk<params/></methodCall>",
            "<methodCall><methodName>m<x/></methodName></methodCall>",
            "<methodCall><methodName>m</methodName><params><value>1</value></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param/></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value>1</value><value>2"
            "</value></param></params></methodCall>",
            "<methodCall><methodName>m</methodName></methodCall><methodCall/>",
            "<methodCall><methodName>m</methodName></methodCall>trailing",
            "<methodCall><methodName>m</methodName></methodcall>",
            "<methodCall><methodName>a\xff\xfe</methodName></methodCall>", /* invalid UTF-8 */
            "<methodCall><methodName>&#0;</methodName></methodCall>",
            "<methodCall><methodName>&bogus;</methodName></methodCall>",
            "\x00\x01\x02\x03",
        };
        for (size_t k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
                char *msg = NULL;
                size_t len = strlen(docs[k]);
                if (docs[k][0] == '\0' && k > 0)
                        len = 4;
                decode_err(docs[k], len, &msg);
                free(msg);
        }
        /* A NULL errmsg is fine. */
        decode_err("<x/>", 4, NULL);
}

static void entities_and_dtd_rejected(void **state)
{
        static const char *const docs[] = {
            /* billion laughs */
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
            "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
            "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
            "<methodCall><methodName>&lol3;</methodName></methodCall>",
            /* external entity */
            "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
            "<methodCall><methodName>&xxe;</methodName></methodCall>",
            /* external DTD */
            "<?xml version=\"1.0\"?><!DOCTYPE methodCall SYSTEM \"http://127.0.0.1:1/x.dtd\">"
            "<methodCall><methodName>m</methodName></methodCall>",
            /* internal DTD, no entities */
            "<!DOCTYPE methodCall [<!ELEMENT methodCall ANY>]>"
            "<methodCall><methodName>m</methodName></methodCall>",
            /* parameter entity */
            "<!DOCTYPE x [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
            "<methodCall><methodName>m</methodName></methodCall>",
        };
        for (size_t k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
                char *msg = NULL;
                int r = decode_err(docs[k], strlen(docs[k]), &msg);
                assert_int_equal(r, -EINVAL);
                assert_null(strstr(msg, "root:")); /* nothing of /etc/passwd leaked */
                free(msg);
        }
}

static void depth_limited(void **state)
{
        /* RPC_MAX_DEPTH nested arrays decode; one more does not; 1000 fails cleanly. */
        static const int depths[] = {RPC_MAX_DEPTH, RPC_MAX_DEPTH + 1, 1000};
        for (size_t k = 0; k < 3; k++) {
                int n = depths[k];
                size_t cap = (size_t)n * 64 + 256;
                char *buf = malloc(cap);
                size_t len = (size_t)sprintf(
                    buf, "<methodCall><methodName>m</methodName><params><param><value>");
                for (int i = 0; i < n; i++)
                        len += (size_t)sprintf(buf + len, "<array><data><value>");
                len += (size_t)sprintf(buf + len, "x");
                for (int i = 0; i < n; i++)
                        len += (size_t)sprintf(buf + len, "</value></data></array>");
                len += (size_t)sprintf(buf + len, "</value></param></params></methodCall>");
                struct rpc_call *c;
                char *msg = NULL;
                int r = xmlrpc_decode_call(buf, len, &c, &msg);
                if (n <= RPC_MAX_DEPTH) {
                        assert_int_equal(r, 0);
                        rpc_call_free(c);
                } else {
                        assert_int_equal(r, -E2BIG);
                        assert_non_null(strstr(msg, "nested"));
                }
                free(msg);
                free(buf);
        }
        /* Deep nesting of unknown elements stops at the first one. */
        char deep[8000];
        size_t len = 0;
        for (int i = 0; i < 1000; i++)
                len += (size_t)sprintf(deep + len, "<a>");
        char *msg = NULL;
        decode_err(deep, len, &msg);
        free(msg);
}

static void size_limited(void **state)
{
        size_t len = RPC_MAX_REQUEST_SIZE + 1;
        char *buf = malloc(len);
        const char *head = "<methodCall><methodName>m</methodName><params><param><value>";
        memset(buf, 'a', len);
        memcpy(buf, head, strlen(head));
        char *msg = NULL;
        assert_int_equal(decode_err(buf, len, &msg), -E2BIG);
        free(msg);
        free(buf);

        /* A small limit applies to the sum of the pieces. */
        struct xmlrpc_decoder *d = xmlrpc_decoder_new(20);
        assert_int_equal(xmlrpc_decoder_feed(d, "<methodCall>", 12), 0);
        assert_int_equal(xmlrpc_decoder_feed(d, "<methodName>", 12), -E2BIG);
        struct rpc_call *c;
        assert_int_equal(xmlrpc_decoder_finish(d, &c, &msg), -E2BIG);
        assert_null(c);
        free(msg);
        xmlrpc_decoder_free(d);
}

static void scalar_parsers(void **state)
{
        int64_t i;
        assert_int_equal(xmlrpc_parse_int("123", 3, &i), 0);
        assert_int_equal(i, 123);
        assert_int_equal(xmlrpc_parse_int("123", 2, &i), 0); /* length, not NUL, bounds it */
        assert_int_equal(i, 12);
        assert_int_equal(xmlrpc_parse_int("", 0, &i), -EINVAL);
        assert_int_equal(xmlrpc_parse_int("+", 1, &i), -EINVAL);
        double d;
        assert_int_equal(xmlrpc_parse_double(" 0.1 ", 5, &d), 0);
        assert_true(d == 0.1);
        assert_int_equal(xmlrpc_parse_double("\v1", 2, &d), -EINVAL);
        bool b;
        assert_int_equal(xmlrpc_parse_bool(" 1\n", 3, &b), 0);
        assert_true(b);
        char *s;
        size_t n;
        assert_int_equal(xmlrpc_base64_decode("aGVsbG8gd29ybGQ=", 16, &s, &n), 0);
        assert_int_equal(n, 11);
        assert_string_equal(s, "hello world");
        free(s);
        assert_int_equal(xmlrpc_base64_decode("aGVsbG8gd29ybA==", 16, &s, &n), 0);
        assert_string_equal(s, "hello worl");
        free(s);
        assert_int_equal(xmlrpc_base64_decode("aGVsbG8gd29ybA=", 15, &s, &n), -EINVAL);
        assert_int_equal(xmlrpc_base64_decode("aGVsbG8gd29yb===", 16, &s, &n), -EINVAL);
}

static void decode_value_fragment(void **state)
{
        struct rpc_value *v;
        char *msg;
        const char *xml = "<value><struct><member><name>k</name><value>1</value></member>"
                          "</struct></value>";
        assert_int_equal(xmlrpc_decode_value(xml, strlen(xml), &v, &msg), 0);
        assert_int_equal(v->type, RPC_STRUCT);
        assert_string_equal(rpc_struct_get(v, "k")->u.str.s, "1");
        rpc_value_free(v);
        assert_int_equal(xmlrpc_decode_value("<value>a</value><value>", 23, &v, &msg), -EINVAL);
        assert_null(v);
        free(msg);
        assert_int_equal(xmlrpc_decode_value("<methodCall/>", 13, &v, &msg), -EINVAL);
        free(msg);
}

/* Writer (XML fragment and XML-RPC response) → decoder gives back the same values. */
static void writer_round_trip(void **state)
{
        struct evbuffer *out = evbuffer_new();
        struct rpc_writer w;
        rpcw_init(&w, RPCW_XML_FRAGMENT, out);
        rpcw_begin(&w);
        rpcw_struct_begin(&w);
        rpcw_member(&w, "s<&>\"");
        rpcw_string(&w, "a&b<c>\"d\"\r\n\t\x01z");
        rpcw_member(&w, "i");
        rpcw_int(&w, INT64_MIN);
        rpcw_member(&w, "d");
        rpcw_double(&w, 0.1);
        rpcw_member(&w, "b");
        rpcw_bool(&w, true);
        rpcw_member(&w, "t");
        rpcw_datetime(&w, 1735732800);
        rpcw_member(&w, "n");
        rpcw_nil(&w);
        rpcw_member(&w, "a");
        rpcw_array_begin(&w);
        rpcw_string(&w, "");
        rpcw_string(&w, "bad\xff utf8");
        rpcw_array_end(&w);
        rpcw_struct_end(&w);
        rpcw_end(&w);
        assert_int_equal(rpcw_error(&w), 0);

        size_t len = evbuffer_get_length(out);
        const char *xml = (const char *)evbuffer_pullup(out, -1);
        struct rpc_value *v;
        char *msg = NULL;
        int r = xmlrpc_decode_value(xml, len, &v, &msg);
        if (r)
                fail_msg("%s: %.*s", msg, (int)len, xml);
        assert_int_equal(v->type, RPC_STRUCT);
        assert_string_equal(v->u.st.keys[0], "s<&>\"");
        /* Control characters XML cannot carry are dropped; a raw CR LF reads back as LF (XML
         * line-end normalisation: XAPI writes CR raw too). */
        assert_string_equal(v->u.st.vals[0]->u.str.s, "a&b<c>\"d\"\n\tz");
        assert_string_equal(rpc_struct_get(v, "i")->u.str.s, "-9223372036854775808");
        assert_true(rpc_struct_get(v, "d")->u.d == 0.1);
        assert_true(rpc_struct_get(v, "b")->u.b);
        assert_string_equal(rpc_struct_get(v, "t")->u.str.s, "20250101T12:00:00Z");
        assert_true(rpc_struct_get(v, "t")->is_datetime);
        assert_int_equal(rpc_struct_get(v, "n")->type, RPC_NIL);
        const struct rpc_value *a = rpc_struct_get(v, "a");
        assert_string_equal(a->u.arr.items[0]->u.str.s, "");
        assert_string_equal(a->u.arr.items[1]->u.str.s, "bad\xef\xbf\xbd utf8");

        /* And a decoded tree written again comes out byte for byte the same, but for the CR. */
        char *expect = malloc(len);
        size_t elen = 0;
        for (size_t i = 0; i < len; i++)
                if (xml[i] != '\r')
                        expect[elen++] = xml[i];
        struct evbuffer *out2 = evbuffer_new();
        rpcw_init(&w, RPCW_XML_FRAGMENT, out2);
        assert_int_equal(rpcw_value(&w, v), 0);
        assert_int_equal(evbuffer_get_length(out2), elen);
        assert_memory_equal(evbuffer_pullup(out2, -1), expect, elen);
        free(expect);
        rpc_value_free(v);
        evbuffer_free(out2);
        evbuffer_free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(python_request_decodes),
            cmocka_unit_test(python_request_in_chunks),
            cmocka_unit_test(scalar_forms),
            cmocka_unit_test(structures),
            cmocka_unit_test(bad_values_rejected),
            cmocka_unit_test(bad_documents_rejected),
            cmocka_unit_test(entities_and_dtd_rejected),
            cmocka_unit_test(depth_limited),
            cmocka_unit_test(size_limited),
            cmocka_unit_test(scalar_parsers),
            cmocka_unit_test(decode_value_fragment),
            cmocka_unit_test(writer_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
