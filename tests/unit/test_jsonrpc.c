/* Unit tests of the JSON-RPC decoder (xapid/jsonrpc_decode.c): versions, ids, value types,
 * refusals (batches, named params, bad fields, depth, size, invalid UTF-8), and a round trip
 * through the JSON writer. */
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

#include "xapid/jsonrpc_decode.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"

static struct rpc_call *decode_ok(const char *json)
{
        struct rpc_call *c = NULL;
        char *msg = NULL;
        int r = jsonrpc_decode_call(json, strlen(json), &c, &msg);
        if (r != 0)
                fail_msg("decode failed (%d): %s\n%s", r, msg ? msg : "?", json);
        assert_non_null(c);
        return c;
}

static int decode_err(const char *json, size_t len)
{
        struct rpc_call *c = (struct rpc_call *)1;
        char *msg = NULL;
        int r = jsonrpc_decode_call(json, len, &c, &msg);
        assert_null(c);
        if (r >= 0)
                fail_msg("accepted: %s", json);
        assert_non_null(msg);
        free(msg);
        return r;
}

static void versions_and_ids(void **state)
{
        struct rpc_call *c =
            decode_ok("{\"jsonrpc\": \"2.0\", \"method\": \"session.login_with_password\", "
                      "\"params\": [\"root\", \"pw\", \"1.0\", \"py\"], \"id\": \"abc\"}");
        assert_int_equal(c->json_version, 2);
        assert_string_equal(c->method, "session.login_with_password");
        assert_string_equal(c->json_id, "\"abc\"");
        assert_int_equal(c->n_params, 4);
        assert_string_equal(c->params[3]->u.str.s, "py");
        rpc_call_free(c);

        c = decode_ok("{\"method\":\"VM.get_all\",\"params\":[\"OpaqueRef:s\"],\"id\":17}");
        assert_int_equal(c->json_version, 1);
        assert_string_equal(c->method, "VM.get_all");
        assert_string_equal(c->json_id, "17");
        rpc_call_free(c);

        c = decode_ok("{\"jsonrpc\":\"1.0\",\"method\":\"m\",\"params\":[],\"id\":null}");
        assert_int_equal(c->json_version, 1);
        assert_string_equal(c->json_id, "null");
        assert_int_equal(c->n_params, 0);
        rpc_call_free(c);

        /* Version 2 may leave params out; no id is a notification, answered with null. */
        c = decode_ok("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}");
        assert_int_equal(c->n_params, 0);
        assert_string_equal(c->json_id, "null");
        rpc_call_free(c);
        c = decode_ok("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":null,\"id\":\"q\\\"x\"}");
        assert_string_equal(c->json_id, "\"q\\\"x\"");
        rpc_call_free(c);
        rpc_call_free(NULL);
}

static void value_types(void **state)
{
        struct rpc_call *c = decode_ok(
            "{\"method\":\"m\",\"id\":1,\"params\":[\"s\\u00e9\\n\", -9223372036854775808, "
            "9223372036854775807, 1.5, 1e300, true, false, null, [1, [\"x\"]], "
            "{\"b\": 2, \"a\": {}, \"c\": []}]}");
        assert_int_equal(c->n_params, 10);
        assert_int_equal(c->params[0]->type, RPC_STRING);
        assert_string_equal(c->params[0]->u.str.s, "s\xc3\xa9\n");
        assert_int_equal(c->params[0]->u.str.len, 4);
        assert_int_equal(c->params[1]->type, RPC_INT);
        assert_true(c->params[1]->u.i == INT64_MIN);
        assert_true(c->params[2]->u.i == INT64_MAX);
        assert_int_equal(c->params[3]->type, RPC_DOUBLE);
        assert_true(c->params[3]->u.d == 1.5);
        assert_true(c->params[4]->u.d == 1e300);
        assert_int_equal(c->params[5]->type, RPC_BOOL);
        assert_true(c->params[5]->u.b);
        assert_false(c->params[6]->u.b);
        assert_int_equal(c->params[7]->type, RPC_NIL);
        const struct rpc_value *a = c->params[8];
        assert_int_equal(a->type, RPC_ARRAY);
        assert_int_equal(a->u.arr.n, 2);
        assert_int_equal(a->u.arr.items[0]->u.i, 1);
        assert_string_equal(a->u.arr.items[1]->u.arr.items[0]->u.str.s, "x");
        const struct rpc_value *o = c->params[9];
        assert_int_equal(o->type, RPC_STRUCT);
        assert_int_equal(o->u.st.n, 3);
        /* Document order is kept. */
        assert_string_equal(o->u.st.keys[0], "b");
        assert_string_equal(o->u.st.keys[1], "a");
        assert_int_equal(rpc_struct_get(o, "b")->u.i, 2);
        assert_int_equal(rpc_struct_get(o, "a")->type, RPC_STRUCT);
        assert_int_equal(rpc_struct_get(o, "c")->type, RPC_ARRAY);
        rpc_call_free(c);
}

static void refusals(void **state)
{
        static const char *const bad[] = {
            "",
            "   ",
            "null",
            "\"str\"",
            "42",
            "[{\"method\":\"m\",\"params\":[],\"id\":1}]", /* batch */
            "[]",
            "{\"params\":[],\"id\":1}",
            "{\"method\":1,\"params\":[],\"id\":1}",
            "{\"method\":\"m\",\"id\":1}",                      /* v1 needs params */
            "{\"method\":\"m\",\"params\":{\"a\":1},\"id\":1}", /* named */
            "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"a\":1},\"id\":1}",
            "{\"method\":\"m\",\"params\":\"x\",\"id\":1}",
            "{\"jsonrpc\":\"3.0\",\"method\":\"m\",\"params\":[],\"id\":1}",
            "{\"jsonrpc\":2,\"method\":\"m\",\"params\":[],\"id\":1}",
            "{\"method\":\"m\",\"params\":[],\"id\":[1]}",
            "{\"method\":\"m\",\"params\":[],\"id\":1.5}",
            "{\"method\":\"m\",\"params\":[],\"id\":true}",
            "{\"method\":\"m\",\"params\":[99999999999999999999],\"id\":1}",
            "{\"method\":\"m\",\"params\":[\"a\\u0000b\"],\"id\":1}",
            "{\"method\":\"m\",\"params\":[\"\xff\xfe\"],\"id\":1}",
            "{\"method\":\"m\",\"params\":[{\"k\":1,\"k\":2}],\"id\":1}",
            "{\"method\":\"m\",\"params\":[],\"id\":1",
            "{\"method\":\"m\",\"params\":[],\"id\":1} trailing",
            "{\"method\":\"m\",\"params\":[NaN],\"id\":1}",
        };
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
                decode_err(bad[k], strlen(bad[k]));
        /* Embedded NUL in the body. */
        decode_err("{\"method\":\"m\"\0,\"params\":[]}", 27);
}

static void limits(void **state)
{
        /* RPC_MAX_DEPTH nested containers in a parameter are fine, one more is not. */
        for (int n = RPC_MAX_DEPTH; n <= RPC_MAX_DEPTH + 1; n++) {
                char buf[512];
                size_t len = (size_t)sprintf(buf, "{\"method\":\"m\",\"id\":1,\"params\":[");
                for (int i = 0; i < n; i++)
                        buf[len++] = '[';
                for (int i = 0; i < n; i++)
                        buf[len++] = ']';
                len += (size_t)sprintf(buf + len, "]}");
                struct rpc_call *c = NULL;
                char *msg = NULL;
                int r = jsonrpc_decode_call(buf, len, &c, &msg);
                if (n == RPC_MAX_DEPTH) {
                        assert_int_equal(r, 0);
                        rpc_call_free(c);
                } else {
                        assert_int_equal(r, -E2BIG);
                        free(msg);
                }
        }
        /* 100000 levels: jansson's own limit, no stack overflow. */
        size_t len = 200040;
        char *buf = malloc(len);
        size_t off = (size_t)sprintf(buf, "{\"method\":\"m\",\"id\":1,\"params\":");
        memset(buf + off, '[', len - off);
        assert_true(decode_err(buf, len) < 0);
        /* Too large. */
        assert_int_equal(decode_err(buf, RPC_MAX_REQUEST_SIZE + 1), -E2BIG);
        free(buf);
}

/* Writer → decoder: every JSON value the writer produces reads back the same. */
static void writer_round_trip(void **state)
{
        struct evbuffer *out = evbuffer_new();
        struct rpc_writer w;
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, "7");
        rpcw_begin(&w);
        rpcw_array_begin(&w);
        rpcw_string(&w, "q\"b\\s/\x01\x7f\r\n\t\b\f");
        rpcw_string(&w, "bad \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 ok \xe2\x82\xac");
        rpcw_int(&w, INT64_MIN);
        rpcw_double(&w, 0.1);
        rpcw_double(&w, 3.0);
        rpcw_double(&w, 1.0 / 3.0);
        rpcw_bool(&w, false);
        rpcw_nil(&w);
        rpcw_struct_begin(&w);
        rpcw_member(&w, "k\"");
        rpcw_datetime(&w, 0);
        rpcw_struct_end(&w);
        rpcw_array_end(&w);
        rpcw_end(&w);
        assert_int_equal(rpcw_error(&w), 0);
        size_t len = evbuffer_get_length(out);
        const char *json = (const char *)evbuffer_pullup(out, -1);
        /* A response has no "method": wrap the result as the params of a request to decode. */
        char *req = malloc(len + 64);
        int n = sprintf(req, "{\"method\":\"x\",\"params\":[%.*s]}", (int)len, json);
        struct rpc_call *c = decode_ok(req);
        const struct rpc_value *resp = c->params[0];
        assert_int_equal(resp->type, RPC_STRUCT);
        assert_string_equal(resp->u.st.keys[0], "jsonrpc");
        assert_int_equal(rpc_struct_get(resp, "id")->u.i, 7);
        const struct rpc_value *a = rpc_struct_get(resp, "result");
        assert_int_equal(a->u.arr.n, 9);
        assert_string_equal(a->u.arr.items[0]->u.str.s, "q\"b\\s/\x01\x7f\r\n\t\b\f");
        assert_string_equal(
            a->u.arr.items[1]->u.str.s,
            "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd"
            " ok \xe2\x82\xac");
        assert_true(a->u.arr.items[2]->u.i == INT64_MIN);
        assert_true(a->u.arr.items[3]->u.d == 0.1);
        assert_int_equal(a->u.arr.items[4]->type, RPC_DOUBLE); /* "3.0", not an int */
        assert_true(a->u.arr.items[5]->u.d == 1.0 / 3.0);
        assert_false(a->u.arr.items[6]->u.b);
        assert_int_equal(a->u.arr.items[7]->type, RPC_NIL);
        assert_string_equal(rpc_struct_get(a->u.arr.items[8], "k\"")->u.str.s,
                            "19700101T00:00:00Z");
        rpc_call_free(c);
        (void)n;
        free(req);
        evbuffer_free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(versions_and_ids),  cmocka_unit_test(value_types),
            cmocka_unit_test(refusals),          cmocka_unit_test(limits),
            cmocka_unit_test(writer_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
