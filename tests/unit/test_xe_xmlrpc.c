/* Unit tests of xe's XML-RPC (cli/xe_xmlrpc.c): responses as xapid and Python write them,
 * every value form, XenAPI failures, faults, malformed and hostile documents, and requests
 * the writer makes (escaping, int64 as strings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/xe_xmlrpc.h"

static struct xv *parse_ok(const char *doc)
{
        struct xv *v = NULL;
        char *err = NULL;
        int r = xe_xmlrpc_response(doc, strlen(doc), &v, &err);
        if (r != 0)
                fail_msg("unexpected parse error: %s", err);
        assert_null(err);
        assert_non_null(v);
        return v;
}

static char *parse_fails(const char *doc)
{
        struct xv *v = NULL;
        char *err = NULL;
        assert_int_equal(xe_xmlrpc_response(doc, strlen(doc), &v, &err), -1);
        assert_null(v);
        assert_non_null(err);
        return err;
}

#define RESP(x)                                                                                    \
        "<?xml version=\"1.0\"?><methodResponse><params><param>" x                                 \
        "</param></params></methodResponse>"

static void test_xapid_success(void **state)
{
        /* byte for byte what xapid answers to session.login_with_password */
        struct xv *v = parse_ok(
            RESP("<value><struct><member><name>Status</name><value>Success</value></member>"
                 "<member><name>Value</name><value>OpaqueRef:0e7ae423</value></member></struct></"
                 "value>"));
        assert_int_equal(v->kind, XV_STRUCT);
        assert_string_equal(xv_str(xv_get(v, "Status")), "Success");
        assert_string_equal(xv_str(xv_get(v, "Value")), "OpaqueRef:0e7ae423");
        assert_null(xv_get(v, "ErrorDescription"));
        xv_free(v);
}

static void test_failure(void **state)
{
        struct xv *v = parse_ok(RESP(
            "<value><struct><member><name>Status</name><value>Failure</value></member>"
            "<member><name>ErrorDescription</name><value><array><data><value>UUID_INVALID</value>"
            "<value>VM</value><value>x</value></data></array></value></member></struct></value>"));
        struct xv *ed = xv_get(v, "ErrorDescription");
        assert_non_null(ed);
        assert_int_equal(ed->kind, XV_ARRAY);
        assert_int_equal(ed->n, 3);
        assert_string_equal(xv_str(ed->items[0]), "UUID_INVALID");
        assert_string_equal(xv_str(ed->items[2]), "x");
        xv_free(v);
}

static void test_value_forms(void **state)
{
        /* layout whitespace as Python's xmlrpc.client writes it */
        struct xv *v =
            parse_ok("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n"
                     "<member>\n<name>s</name>\n<value><string>a &amp; "
                     "&lt;b&gt;</string></value>\n</member>\n"
                     "<member><name>untyped</name><value> spaced </value></member>\n"
                     "<member><name>empty</name><value></value></member>\n"
                     "<member><name>i</name><value><int>-5</int></value></member>\n"
                     "<member><name>i4</name><value><i4>7</i4></value></member>\n"
                     "<member><name>i8</name><value><i8>9000000000</i8></value></member>\n"
                     "<member><name>t</name><value><boolean>1</boolean></value></member>\n"
                     "<member><name>f</name><value><boolean>0</boolean></value></member>\n"
                     "<member><name>d</name><value><double>1.5</double></value></member>\n"
                     "<member><name>dt</name><value><dateTime.iso8601>20240102T03:04:05Z</"
                     "dateTime.iso8601></value></member>\n"
                     "<member><name>nil</name><value><nil/></value></member>\n"
                     "<member><name>arr</name><value><array><data>\n<value>x</value>\n"
                     "<value><array><data></data></array></value></data></array></value></member>\n"
                     "</struct></value>\n</param>\n</params>\n</methodResponse>\n");
        assert_string_equal(xv_str(xv_get(v, "s")), "a & <b>");
        assert_string_equal(xv_str(xv_get(v, "untyped")), " spaced ");
        assert_string_equal(xv_str(xv_get(v, "empty")), "");
        assert_int_equal(xv_get(v, "i")->i, -5);
        assert_int_equal(xv_get(v, "i4")->i, 7);
        assert_int_equal(xv_get(v, "i8")->i, 9000000000LL);
        assert_true(xv_get(v, "t")->b);
        assert_false(xv_get(v, "f")->b);
        assert_true(xv_get(v, "d")->d == 1.5);
        assert_int_equal(xv_get(v, "dt")->kind, XV_DATETIME);
        assert_string_equal(xv_get(v, "dt")->s, "20240102T03:04:05Z");
        assert_int_equal(xv_get(v, "nil")->kind, XV_NIL);
        struct xv *arr = xv_get(v, "arr");
        assert_int_equal(arr->n, 2);
        assert_string_equal(xv_str(arr->items[0]), "x");
        assert_int_equal(arr->items[1]->kind, XV_ARRAY);
        assert_int_equal(arr->items[1]->n, 0);
        xv_free(v);
}

static void test_fault(void **state)
{
        char *err =
            parse_fails("<?xml version=\"1.0\"?><methodResponse><fault><value><struct>"
                        "<member><name>faultCode</name><value><int>-32601</int></value></member>"
                        "<member><name>faultString</name><value>no such method</value></member>"
                        "</struct></value></fault></methodResponse>");
        assert_string_equal(err, "XML-RPC fault -32601: no such method");
        free(err);
}

static void test_malformed(void **state)
{
        static const char *const bad[] = {
            "",
            "not xml",
            "<methodResponse>",
            "<methodCall><methodName>x</methodName></methodCall>",
            "<methodResponse><params></params></methodResponse>",
            RESP("<value><int>12x</int></value>"),
            RESP("<value><boolean>2</boolean></value>"),
            RESP("<value><double>abc</double></value>"),
            RESP("<value><array></array></value>"),
            RESP("<value><array><data><foo/></data></array></value>"),
            RESP("<value><struct><member><value>1</value></member></struct></value>"),
            RESP("<value><blob/></value>"),
            /* an entity expansion attack must not expand (libxml2 without NOENT) nor crash */
            "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
            "<methodCall>&b;</methodCall>",
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                free(parse_fails(bad[i]));
}

static void test_deep_nesting(void **state)
{
        /* 100 nested arrays: refused, not a stack overflow */
        char doc[8192] = "<methodResponse><params><param>";
        for (int i = 0; i < 100; i++)
                strcat(doc, "<value><array><data>");
        for (int i = 0; i < 100; i++)
                strcat(doc, "</data></array></value>");
        strcat(doc, "</param></params></methodResponse>");
        char *err = parse_fails(doc);
        assert_string_equal(err, "values nested too deep");
        free(err);
}

static void test_request_writer(void **state)
{
        struct xv *p[5] = {
            xv_string("OpaqueRef:1"),
            xv_put(xv_put(xv_struct(), "name_label", xv_string("a<&>b")), "MTU", xv_int(9000)),
            xv_push(xv_push(xv_array(), xv_bool(true)), xv_double(0.5)),
            xv_int(-3),
            xv_datetime("20240102T03:04:05Z"),
        };
        size_t len;
        char *doc = xe_xmlrpc_request("network.create", p, 5, &len);
        assert_int_equal(len, strlen(doc));
        assert_string_equal(
            doc, "<?xml version=\"1.0\"?><methodCall><methodName>network.create</methodName>"
                 "<params><param><value>OpaqueRef:1</value></param>"
                 "<param><value><struct><member><name>name_label</name><value>a&lt;&amp;&gt;b"
                 "</value></member><member><name>MTU</name><value>9000</value></member></struct>"
                 "</value></param>"
                 "<param><value><array><data><value><boolean>1</boolean></value><value><double>0.5"
                 "</double></value></data></array></value></param>"
                 "<param><value>-3</value></param>"
                 "<param><value><dateTime.iso8601>20240102T03:04:05Z</dateTime.iso8601></value>"
                 "</param></params></methodCall>");
        free(doc);
        for (int i = 0; i < 5; i++)
                xv_free(p[i]);
}

static void test_value_copy(void **state)
{
        struct xv *v = xv_put(xv_struct(), "k", xv_push(xv_array(), xv_string("x")));
        struct xv *c = xv_copy(v);
        xv_free(v);
        assert_string_equal(xv_str(xv_get(c, "k")->items[0]), "x");
        assert_string_equal(xv_str(NULL), "");
        assert_null(xv_get(c, "absent"));
        xv_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_xapid_success),  cmocka_unit_test(test_failure),
            cmocka_unit_test(test_value_forms),    cmocka_unit_test(test_fault),
            cmocka_unit_test(test_malformed),      cmocka_unit_test(test_deep_nesting),
            cmocka_unit_test(test_request_writer), cmocka_unit_test(test_value_copy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
