/* Unit tests of the RPC core (xapid/rpc.c) with sessions and tasks: real request bodies in,
 * response bytes out, checked against XAPI's error codes and shapes. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/model_gen.h"
#include "xapid/db.h"
#include "xapid/rpc.h"
#include "xapid/session.h"
#include "xapid/task.h"
#include "xapid/xapi.h"

struct fixture {
        struct event_base *base;
        struct xapi x;
        int commits;
};

static void fake_free_commit(void *ctx, void (*done)(int, void *), void *arg)
{
        /* counts durability waits; the journal itself is tested in test_db_journal */
        ((struct fixture *)ctx)->commits++;
        done(0, arg);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        model_init();
        f->base = event_base_new();
        f->x.base = f->base;
        assert_int_equal(db_new(&f->x.db), 0);
        f->x.host_ref = strdup("OpaqueRef:host-under-test");
        f->x.commit = fake_free_commit;
        f->x.commit_ctx = f;
        assert_int_equal(sessions_init(&f->x), 0);
        assert_int_equal(tasks_init(&f->x), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        tasks_free(&f->x);
        sessions_free(&f->x);
        db_free(f->x.db);
        free(f->x.host_ref);
        event_base_free(f->base);
        free(f);
        return 0;
}

struct outcome {
        char *text;
        bool done;
};

static void on_done(struct rpc_req *r, void *arg)
{
        struct outcome *o = arg;
        struct evbuffer *dst = evbuffer_new();
        evbuffer_add_buffer(dst, rpc_req_output(r));
        while (rpc_req_streaming(r) && rpc_req_fill(r, dst) > 0)
                ;
        rpc_req_fill(r, dst);
        size_t n = evbuffer_get_length(dst);
        o->text = calloc(1, n + 1);
        evbuffer_remove(dst, o->text, n);
        evbuffer_free(dst);
        o->done = true;
        rpc_req_free(r);
}

/* Runs one call (as uid UID) and returns the response text (caller frees). */
static char *call(struct fixture *f, enum rpc_proto p, long uid, const char *body)
{
        struct outcome o = {0};
        struct rpc_caller who = {uid, "test"};
        struct rpc_req *r;
        rpc_start(&f->x, p, body, strlen(body), &who, on_done, &o, &r);
        while (!o.done)
                event_base_loop(f->base, EVLOOP_ONCE);
        return o.text;
}

static char *xcall(struct fixture *f, long uid, const char *method, const char *params)
{
        char body[4096];
        snprintf(body, sizeof(body),
                 "<?xml version='1.0'?>\n<methodCall>\n<methodName>%s</methodName>\n"
                 "<params>\n%s</params>\n</methodCall>\n",
                 method, params);
        return call(f, RPC_XMLRPC, uid, body);
}

#define P(s) "<param><value><string>" s "</string></value></param>\n"

/* Extracts the Value of a Success response that is a plain string (a ref). */
static char *value_of(const char *resp)
{
        const char *v = strstr(resp, "<name>Value</name><value>");
        assert_non_null(v);
        v += strlen("<name>Value</name><value>");
        const char *end = strstr(v, "</value>");
        return strndup(v, (size_t)(end - v));
}

static char *login(struct fixture *f)
{
        char *resp = xcall(f, 0, "session.login_with_password", P("root") P(""));
        assert_non_null(strstr(resp, "<value>Success</value>"));
        char *ref = value_of(resp);
        assert_memory_equal(ref, "OpaqueRef:", 10);
        free(resp);
        return ref;
}

static void errors_as_xapi(void **state)
{
        struct fixture *f = *state;
        char *r = xcall(f, -1, "VM.no_such_call", P("x"));
        assert_non_null(strstr(r, "<value>Failure</value>"));
        assert_non_null(strstr(r, "<value>MESSAGE_METHOD_UNKNOWN</value><value>VM.no_such_call"));
        free(r);
        r = xcall(f, -1, "VM.get_all", P("OpaqueRef:bogus"));
        assert_non_null(strstr(r, "<value>SESSION_INVALID</value><value>OpaqueRef:bogus"));
        free(r);
        char *s = login(f);
        char params[256];
        snprintf(params, sizeof(params), P("%s"), s);
        r = xcall(f, -1, "VM.get_record", params);
        assert_non_null(strstr(r, "MESSAGE_PARAMETER_COUNT_MISMATCH</value><value>VM.get_record"
                                  "</value><value>2</value><value>1</value>"));
        free(r);
        snprintf(params, sizeof(params), P("%s") P("OpaqueRef:nope"), s);
        r = xcall(f, -1, "VM.get_record", params);
        assert_non_null(strstr(r, "<value>HANDLE_INVALID</value><value>VM</value>"));
        free(r);
        /* malformed: a clear failure, not a crash */
        r = call(f, RPC_XMLRPC, -1, "<methodCall><methodName>x</methodName><params><param>");
        assert_non_null(strstr(r, "<value>INTERNAL_ERROR</value>"));
        free(r);
        free(s);
}

static void login_over_tcp_needs_a_password(void **state)
{
        struct fixture *f = *state;
        /* no auth backend configured: a TCP caller cannot log in */
        char *r = xcall(f, -1, "session.login_with_password", P("root") P("x"));
        assert_non_null(strstr(r, "SESSION_AUTHENTICATION_FAILED"));
        free(r);
}

static void create_read_and_stream(void **state)
{
        struct fixture *f = *state;
        char *s = login(f);
        char params[1024];
        int commits = f->commits;
        snprintf(params, sizeof(params),
                 P("%s") "<param><value><struct><member><name>name_label</name><value>"
                         "vm-one</value></member></struct></value></param>\n",
                 s);
        /* create lacks required fields: XAPI names the first missing one */
        char *r = xcall(f, -1, "VM.create", params);
        assert_non_null(strstr(r, "FIELD_TYPE_ERROR"));
        free(r);
        for (int i = 0; i < 3; i++) {
                char label[32];
                snprintf(label, sizeof(label), "vm-%d", i);
                struct api_VM *vm = model_record_new(&mclass_VM);
                free(vm->name_label);
                vm->name_label = strdup(label);
                assert_int_equal(db_insert(f->x.db, &mclass_VM, NULL, vm, NULL), 0);
        }
        snprintf(params, sizeof(params), P("%s") P("vm-1") P("new"), s);
        r = xcall(f, -1, "VM.set_name_label", params); /* a name is not a ref */
        assert_non_null(strstr(r, "HANDLE_INVALID"));
        free(r);
        snprintf(params, sizeof(params), P("%s"), s);
        r = xcall(f, -1, "VM.get_all_records", params);
        /* streamed through rpc_req_fill: one envelope, three records */
        assert_non_null(strstr(r, "<value>Success</value>"));
        int n = 0;
        for (const char *p = r; (p = strstr(p, "<name>name_label</name>")) != NULL; p++)
                n++;
        assert_int_equal(n, 3);
        assert_non_null(strstr(r, "</struct></value></member></struct></value></param>"));
        free(r);
        snprintf(params, sizeof(params), P("%s") P("field \"name_label\"=\"vm-2\""), s);
        r = xcall(f, -1, "VM.get_all_records_where", params);
        assert_non_null(strstr(r, "<value>vm-2</value>"));
        assert_null(strstr(r, "<value>vm-1</value>"));
        free(r);
        snprintf(params, sizeof(params), P("%s") P("field \"name_label\"="), s);
        r = xcall(f, -1, "VM.get_all_records_where", params);
        assert_non_null(strstr(r, "INVALID_VALUE"));
        free(r);
        assert_int_equal(f->commits, commits); /* nothing changed: no durability wait */
        snprintf(params, sizeof(params), P("%s") P("%s") P("renamed"), s,
                 db_row_at(f->x.db, &mclass_VM, 0)->ref);
        r = xcall(f, -1, "VM.set_name_label", params);
        assert_non_null(strstr(r, "<value>Success</value>"));
        free(r);
        assert_int_equal(f->commits, commits + 1); /* answered after a commit */
        free(s);
}

static void async_and_tasks(void **state)
{
        struct fixture *f = *state;
        char *s = login(f);
        char params[1024];
        snprintf(params, sizeof(params), P("%s") P("my task") P("desc"), s);
        char *r = xcall(f, -1, "task.create", params);
        char *task = value_of(r);
        free(r);
        snprintf(params, sizeof(params), P("%s") P("%s"), s, task);
        r = xcall(f, -1, "task.get_status", params);
        assert_non_null(strstr(r, "<name>Value</name><value>pending</value>"));
        free(r);
        r = xcall(f, -1, "task.cancel", params);
        assert_non_null(strstr(r, "<value>Success</value>"));
        free(r);
        r = xcall(f, -1, "task.get_status", params);
        assert_non_null(strstr(r, "<value>cancelling</value>"));
        free(r);
        free(task);

        /* Async.session.logout is not async in XAPI; Async.VM.destroy is */
        snprintf(params, sizeof(params), P("%s"), s);
        r = xcall(f, -1, "Async.session.logout", params);
        assert_non_null(strstr(r, "MESSAGE_METHOD_UNKNOWN"));
        free(r);
        snprintf(params, sizeof(params), P("%s") P("OpaqueRef:gone"), s);
        r = xcall(f, -1, "Async.VM.destroy", params);
        task = value_of(r);
        free(r);
        snprintf(params, sizeof(params), P("%s") P("%s"), s, task);
        r = xcall(f, -1, "task.get_record", params);
        assert_non_null(strstr(r, "<name>status</name><value>failure</value>"));
        assert_non_null(strstr(r, "<value>HANDLE_INVALID</value><value>VM</value>"));
        free(r);
        free(task);
        /* the cancelling task is not complete yet: only the failed one is collected */
        assert_int_equal(tasks_collect(&f->x, time(NULL) + TASK_MAX_AGE_SECONDS + 1), 1);
        free(s);
}

static void jsonrpc_shapes(void **state)
{
        struct fixture *f = *state;
        char *r = call(f, RPC_JSONRPC, 0,
                       "{\"jsonrpc\":\"2.0\",\"method\":\"session.login_with_password\","
                       "\"params\":[\"root\",\"\"],\"id\":7}");
        json_t *j = json_loads(r, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "jsonrpc")), "2.0");
        assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
        assert_null(json_object_get(j, "error")); /* no "error": null in 2.0 successes */
        char *s = strdup(json_string_value(json_object_get(j, "result")));
        json_decref(j);
        free(r);
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"method\":\"VM.get_by_uuid\",\"params\":[\"%s\",\"not-a-uuid\"],\"id\":\"a\"}",
                 s);
        r = call(f, RPC_JSONRPC, -1, body);
        j = json_loads(r, 0, NULL);
        assert_true(json_is_null(json_object_get(j, "result")));
        json_t *e = json_object_get(j, "error");
        assert_string_equal(json_string_value(json_array_get(e, 0)), "UUID_INVALID");
        json_decref(j);
        free(r);
        /* the same session works over XML-RPC */
        char params[256];
        snprintf(params, sizeof(params), P("%s") P("%s"), s, s);
        r = xcall(f, -1, "session.get_this_host", params);
        assert_non_null(strstr(r, "OpaqueRef:host-under-test"));
        free(r);
        snprintf(params, sizeof(params), P("%s"), s);
        r = xcall(f, -1, "session.logout", params);
        assert_non_null(strstr(r, "Success"));
        free(r);
        snprintf(params, sizeof(params), P("%s") P("%s"), s, s);
        r = xcall(f, -1, "session.get_uuid", params);
        assert_non_null(strstr(r, "SESSION_INVALID"));
        free(r);
        free(s);
}

static void session_limit_and_expiry(void **state)
{
        struct fixture *f = *state;
        char *first = NULL;
        for (int i = 0; i < SESSION_LIMIT + 1; i++) {
                char *s = login(f);
                if (i == 0)
                        first = s;
                else
                        free(s);
        }
        assert_int_equal(db_count(f->x.db, &mclass_session), SESSION_LIMIT);
        assert_null(db_get(f->x.db, &mclass_session, first));
        free(first);
        assert_int_equal(sessions_expire(&f->x, time(NULL) + SESSION_IDLE_SECONDS + 5),
                         SESSION_LIMIT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(errors_as_xapi, setup, teardown),
            cmocka_unit_test_setup_teardown(login_over_tcp_needs_a_password, setup, teardown),
            cmocka_unit_test_setup_teardown(create_read_and_stream, setup, teardown),
            cmocka_unit_test_setup_teardown(async_and_tasks, setup, teardown),
            cmocka_unit_test_setup_teardown(jsonrpc_shapes, setup, teardown),
            cmocka_unit_test_setup_teardown(session_limit_and_expiry, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
