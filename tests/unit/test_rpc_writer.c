/* Unit tests of the response writer (xapid/rpc_writer*.c): golden success and failure
 * responses in XML-RPC, JSON-RPC 1.0 and 2.0 (XAPI's shapes), numbers, misuse, raw XML
 * values, and the speed of a large get_all_records. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "common/err.h"
#include "xapid/rpc_writer.h"

#define XML_OK_HEAD                                                                                \
        "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>"      \
        "Status</name><value>Success</value></member><member><name>Value</name>"
#define XML_TAIL "</member></struct></value></param></params></methodResponse>"

static struct evbuffer *out;

static int setup(void **state)
{
        out = evbuffer_new();
        return out ? 0 : -1;
}

static int teardown(void **state)
{
        evbuffer_free(out);
        return 0;
}

static void expect(const char *want)
{
        size_t len = evbuffer_get_length(out);
        char *got = malloc(len + 1);
        evbuffer_remove(out, got, len);
        got[len] = '\0';
        if (strcmp(got, want) != 0)
                fail_msg("got:  %s\nwant: %s", got, want);
        free(got);
}

/* A small record with every kind of value. */
static void write_sample(struct rpc_writer *w)
{
        rpcw_begin(w);
        rpcw_struct_begin(w);
        rpcw_member(w, "name");
        rpcw_string(w, "a<b>&\"c\"");
        rpcw_member(w, "n");
        rpcw_int(w, -42);
        rpcw_member(w, "f");
        rpcw_double(w, 1.5);
        rpcw_member(w, "ok");
        rpcw_bool(w, true);
        rpcw_member(w, "t");
        rpcw_datetime(w, 1735732800); /* 2025-01-01 12:00:00 UTC */
        rpcw_member(w, "l");
        rpcw_array_begin(w);
        rpcw_string(w, "x");
        rpcw_string(w, NULL);
        rpcw_array_end(w);
        rpcw_member(w, "e");
        rpcw_struct_begin(w);
        rpcw_struct_end(w);
        rpcw_member(w, "z");
        rpcw_nil(w);
        rpcw_struct_end(w);
        rpcw_end(w);
        assert_int_equal(rpcw_error(w), 0);
}

static void xml_success_golden(void **state)
{
        struct rpc_writer w;
        rpcw_init(&w, RPCW_XMLRPC, out);
        write_sample(&w);
        expect(XML_OK_HEAD
               "<value><struct><member><name>name</name><value>a&lt;b&gt;&amp;&quot;c&quot;</value>"
               "</member><member><name>n</name><value>-42</value></member>"
               "<member><name>f</name><value><double>1.5</double></value></member>"
               "<member><name>ok</name><value><boolean>1</boolean></value></member>"
               "<member><name>t</name><value><dateTime.iso8601>20250101T12:00:00Z"
               "</dateTime.iso8601></value></member>"
               "<member><name>l</name><value><array><data><value>x</value><value></value></data>"
               "</array></value></member>"
               "<member><name>e</name><value><struct></struct></value></member>"
               "<member><name>z</name><value><nil/></value></member>"
               "</struct></value>" XML_TAIL);
}

static void json_success_golden(void **state)
{
        static const char body[] =
            "{\"name\":\"a<b>&\\\"c\\\"\",\"n\":-42,\"f\":1.5,\"ok\":true,"
            "\"t\":\"20250101T12:00:00Z\",\"l\":[\"x\",\"\"],\"e\":{},\"z\":null}";
        struct rpc_writer w;
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 1, "\"id-1\"");
        write_sample(&w);
        expect("{\"result\":"
               "{\"name\":\"a<b>&\\\"c\\\"\",\"n\":-42,\"f\":1.5,\"ok\":true,"
               "\"t\":\"20250101T12:00:00Z\",\"l\":[\"x\",\"\"],\"e\":{},\"z\":null}"
               ",\"error\":null,\"id\":\"id-1\"}");
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, "3");
        write_sample(&w);
        char want[512];
        snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"result\":%s,\"id\":3}", body);
        expect(want);
        /* No id given: null. */
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, NULL);
        rpcw_begin(&w);
        rpcw_string(&w, "OpaqueRef:x");
        rpcw_end(&w);
        expect("{\"jsonrpc\":\"2.0\",\"result\":\"OpaqueRef:x\",\"id\":null}");
}

static void failure_golden(void **state)
{
        struct api_error e = {0};
        api_error_set(&e, "HANDLE_INVALID", "VM", "OpaqueRef:<x>", NULL);
        struct rpc_writer w;
        rpcw_init(&w, RPCW_XMLRPC, out);
        rpcw_failure(&w, &e);
        expect("<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member>"
               "<name>Status</name><value>Failure</value></member><member><name>ErrorDescription"
               "</name><value><array><data><value>HANDLE_INVALID</value><value>VM</value>"
               "<value>OpaqueRef:&lt;x&gt;</value></data></array></value>" XML_TAIL);
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 1, "5");
        rpcw_failure(&w, &e);
        expect(
            "{\"result\":null,\"error\":[\"HANDLE_INVALID\",\"VM\",\"OpaqueRef:<x>\"],\"id\":5}");
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, "\"a\"");
        rpcw_failure(&w, &e);
        expect("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"HANDLE_INVALID\","
               "\"data\":[\"VM\",\"OpaqueRef:<x>\"]},\"id\":\"a\"}");
        /* No code at all; and a failure after a half-written success restarts cleanly. */
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, "1");
        rpcw_failure(&w, NULL);
        expect("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"INTERNAL_ERROR\","
               "\"data\":[]},\"id\":1}");
        rpcw_init(&w, RPCW_XML_FRAGMENT, out);
        rpcw_struct_begin(&w);
        rpcw_failure(&w, &e);
        expect("<value><struct><value><array><data><value>HANDLE_INVALID</value><value>VM</value>"
               "<value>OpaqueRef:&lt;x&gt;</value></data></array></value>");
        api_error_clear(&e);
}

static void numbers(void **state)
{
        static const struct {
                double d;
                const char *xml, *json;
        } cases[] = {
            {0.0, "0", "0.0"},
            {-0.0, "-0", "-0.0"},
            {3.0, "3", "3.0"},
            {0.1, "0.1", "0.1"},
            {1e20, "1e+20", "1e+20"},
            {1.0 / 3.0, "0.3333333333333333", "0.3333333333333333"},
            {5e-324, "4.940656458412465e-324", "4.940656458412465e-324"},
            {0.30000000000000004, "0.30000000000000004", "0.30000000000000004"},
            {NAN, "nan", "NaN"},
            {INFINITY, "inf", "Infinity"},
            {-INFINITY, "-inf", "-Infinity"},
        };
        char want[256];
        struct rpc_writer w;
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                rpcw_init(&w, RPCW_XML_FRAGMENT, out);
                rpcw_double(&w, cases[k].d);
                snprintf(want, sizeof(want), "<value><double>%s</double></value>", cases[k].xml);
                expect(want);
                rpcw_init(&w, RPCW_JSONRPC, out);
                rpcw_double(&w, cases[k].d);
                expect(cases[k].json);
        }
        rpcw_init(&w, RPCW_XML_FRAGMENT, out);
        rpcw_int(&w, INT64_MAX);
        rpcw_int(&w, INT64_MIN);
        rpcw_int(&w, 0);
        expect("<value>9223372036854775807</value><value>-9223372036854775808</value>"
               "<value>0</value>");
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_datetime(&w, 253402300799); /* 9999-12-31T23:59:59 */
        expect("\"99991231T23:59:59Z\"");
}

static void text_encoding(void **state)
{
        struct rpc_writer w;
        rpcw_init(&w, RPCW_XML_FRAGMENT, out);
        /* Control characters other than TAB LF CR are dropped, as XAPI does; invalid UTF-8 and
         * the XML non-characters U+FFFE/U+FFFF become U+FFFD. */
        rpcw_string_n(&w, "a\0b\x01\t\n\r\x7f\xef\xbf\xbe\xc3\xa9\xff", 15);
        expect("<value>ab\t\n\r\x7f\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd</value>");
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_string_n(&w, "a\0b\x01\x1f\x7f/\xef\xbf\xbe\xff", 11);
        expect("\"a\\u0000b\\u0001\\u001f\\u007f/\xef\xbf\xbe\xef\xbf\xbd\"");
        /* A long string crosses the staging buffer in one piece. */
        size_t n = 3 * RPCW_BUF_SIZE;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_array_begin(&w);
        rpcw_string(&w, "a");
        rpcw_string(&w, big);
        rpcw_array_end(&w);
        assert_int_equal(evbuffer_get_length(out), n + 8);
        evbuffer_drain(out, n + 8);
        free(big);
}

static void misuse(void **state)
{
        struct rpc_writer w;
        /* A struct value without a member name. */
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_struct_begin(&w);
        rpcw_int(&w, 1);
        assert_int_equal(rpcw_error(&w), -EINVAL);
        /* Mismatched ends, member in an array, end with containers open. */
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_array_begin(&w);
        rpcw_struct_end(&w);
        assert_int_equal(rpcw_error(&w), -EINVAL);
        rpcw_init(&w, RPCW_XMLRPC, out);
        rpcw_array_begin(&w);
        rpcw_member(&w, "x");
        assert_int_equal(rpcw_error(&w), -EINVAL);
        rpcw_init(&w, RPCW_XMLRPC, out);
        rpcw_begin(&w);
        rpcw_array_begin(&w);
        rpcw_end(&w);
        assert_int_equal(rpcw_error(&w), -EINVAL);
        /* Too deep. */
        rpcw_init(&w, RPCW_JSONRPC, out);
        for (int i = 0; i < RPCW_MAX_DEPTH; i++)
                rpcw_array_begin(&w);
        assert_int_equal(rpcw_error(&w), 0);
        rpcw_array_begin(&w);
        assert_int_equal(rpcw_error(&w), -E2BIG);
        rpcw_flush(&w);
        evbuffer_drain(out, evbuffer_get_length(out));
}

static void raw_xml_values(void **state)
{
        static const char raw[] = "<value><struct><member><name>k</name><value><array><data>"
                                  "<value>1</value><value><int>2</int></value><value><dateTime."
                                  "iso8601>20250101T12:00:00Z</dateTime.iso8601></value>"
                                  "</data></array></value></member></struct></value>";
        struct rpc_writer w;
        rpcw_init(&w, RPCW_XMLRPC, out);
        rpcw_begin(&w);
        assert_int_equal(rpcw_raw_xml_value(&w, raw, strlen(raw)), 0);
        rpcw_end(&w);
        expect(XML_OK_HEAD "<value><struct><member><name>k</name><value><array><data>"
                           "<value>1</value><value><int>2</int></value><value><dateTime."
                           "iso8601>20250101T12:00:00Z</dateTime.iso8601></value>"
                           "</data></array></value></member></struct></value>" XML_TAIL);
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, "1");
        rpcw_begin(&w);
        rpcw_array_begin(&w);
        assert_int_equal(rpcw_raw_xml_value(&w, raw, strlen(raw)), 0);
        assert_int_equal(rpcw_raw_xml_value(&w, "<value/>", 8), 0);
        assert_int_equal(rpcw_raw_xml_value(&w, "<value>", 7), -EINVAL);
        assert_int_equal(rpcw_raw_xml_value(&w, NULL, 0), -EINVAL);
        rpcw_array_end(&w);
        rpcw_end(&w);
        expect("{\"jsonrpc\":\"2.0\",\"result\":[{\"k\":[\"1\",2,\"20250101T12:00:00Z\"]},\"\"],"
               "\"id\":1}");
        rpcw_init(&w, RPCW_XML_FRAGMENT, out);
        assert_int_equal(rpcw_raw_xml_value(&w, "<nil/>", 6), -EINVAL);
        assert_int_equal(evbuffer_get_length(out), 0);
}

/* get_all_records of 10,000 VMs of 80 fields each, in both formats.  The budget is 0.3 s
 * in an optimised build; the assertion is looser so sanitizer builds pass too. */
static void large_response_speed(void **state)
{
        static const enum rpcw_format fmts[] = {RPCW_XMLRPC, RPCW_JSONRPC};
        for (size_t f = 0; f < 2; f++) {
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                struct rpc_writer w;
                rpcw_init(&w, fmts[f], out);
                rpcw_begin(&w);
                rpcw_struct_begin(&w);
                char ref[64], name[32];
                for (int vm = 0; vm < 10000; vm++) {
                        snprintf(ref, sizeof(ref), "OpaqueRef:3f1c2a9e-0000-4000-8000-%012d", vm);
                        rpcw_member(&w, ref);
                        rpcw_struct_begin(&w);
                        for (int k = 0; k < 80; k++) {
                                static const char *const names[] = {
                                    "uuid", "name_label", "memory_static_max", "is_a_template",
                                    "other_config"};
                                snprintf(name, sizeof(name), "%s_%d", names[k % 5], k);
                                rpcw_member(&w, name);
                                switch (k % 5) {
                                case 0:
                                        rpcw_string(&w, "5f1c2a9e-6b7d-4c1e-9a2b-3c4d5e6f7a8b");
                                        break;
                                case 1:
                                        rpcw_string(&w, "Debian <bookworm> & friends");
                                        break;
                                case 2:
                                        rpcw_int(&w, 4294967296LL * k);
                                        break;
                                case 3:
                                        rpcw_bool(&w, k & 1);
                                        break;
                                default:
                                        rpcw_struct_begin(&w);
                                        rpcw_member(&w, "k");
                                        rpcw_string(&w, "v");
                                        rpcw_struct_end(&w);
                                }
                        }
                        rpcw_struct_end(&w);
                }
                rpcw_struct_end(&w);
                rpcw_end(&w);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
                size_t len = evbuffer_get_length(out);
                print_message("# %s: 10000 x 80 fields, %zu bytes in %.3f s\n", f ? "JSON" : "XML",
                              len, secs);
                assert_int_equal(rpcw_error(&w), 0);
                assert_true(len > 10000 * 80 * 20);
                assert_true(secs < 1.5);
                evbuffer_drain(out, len);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(xml_success_golden), cmocka_unit_test(json_success_golden),
            cmocka_unit_test(failure_golden),     cmocka_unit_test(numbers),
            cmocka_unit_test(text_encoding),      cmocka_unit_test(misuse),
            cmocka_unit_test(raw_xml_values),     cmocka_unit_test(large_response_speed),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
