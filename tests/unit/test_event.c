/* Unit tests of XenAPI events (xapid/event.c) through the RPC core, in-process: event.from
 * tokens, collapsing, deletions, filters, waiting and waking, timeouts, errors, the old
 * register/next API with EVENTS_LOST, inject, and sessions going away. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
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
#include "xapid/event.h"
#include "xapid/rpc.h"
#include "xapid/session.h"
#include "xapid/task.h"
#include "xapid/xapi.h"

struct fixture {
        struct event_base *base;
        struct xapi x;
        char *s; /* a session */
};

static void no_commit(void *ctx, void (*done)(int, void *), void *arg)
{
        done(0, arg);
}

struct outcome {
        char *text;
        bool done;
        struct rpc_req *req;
};

static void on_done(struct rpc_req *r, void *arg)
{
        struct outcome *o = arg;
        struct evbuffer *b = rpc_req_output(r);
        size_t n = evbuffer_get_length(b);
        o->text = calloc(1, n + 1);
        evbuffer_remove(b, o->text, n);
        o->done = true;
        rpc_req_free(r);
}

static void start(struct fixture *f, struct outcome *o, const char *method, const char *params)
{
        char body[8192];
        snprintf(body, sizeof(body),
                 "<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>%s"
                 "</params></methodCall>",
                 method, params);
        memset(o, 0, sizeof(*o));
        struct rpc_caller who = {0, "test"};
        rpc_start(&f->x, RPC_XMLRPC, body, strlen(body), &who, on_done, o, &o->req);
}

/* Lets the loop run what is ready (no waiting). */
static void spin(struct fixture *f)
{
        for (int i = 0; i < 4; i++)
                event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static char *call(struct fixture *f, const char *method, const char *params)
{
        struct outcome o;
        start(f, &o, method, params);
        while (!o.done)
                event_base_loop(f->base, EVLOOP_ONCE);
        return o.text;
}

#define P(s) "<param><value><string>" s "</string></value></param>"

static char *value_of(const char *resp, const char *name)
{
        char key[64];
        snprintf(key, sizeof(key), "<name>%s</name><value>", name);
        const char *v = strstr(resp, key);
        assert_non_null(v);
        v += strlen(key);
        return strndup(v, (size_t)(strstr(v, "</value>") - v));
}

static int count(const char *hay, const char *needle)
{
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
                n++;
        return n;
}

/* event.from params: SUBS is the <value>s of the set. */
static void from_params(char *buf, size_t len, const char *s, const char *subs, const char *token,
                        const char *timeout)
{
        snprintf(buf, len,
                 P("%s") "<param><value><array><data>%s</data></array></value></param>" P(
                     "%s") "<param><value><double>%s</double></value></param>",
                 s, subs, token, timeout);
}

static char *from(struct fixture *f, const char *subs, const char *token, const char *timeout)
{
        char params[2048];
        from_params(params, sizeof(params), f->s, subs, token, timeout);
        return call(f, "event.from", params);
}

static struct db_row *new_network(struct fixture *f, const char *label)
{
        struct api_network *n = model_record_new(&mclass_network);
        free(n->name_label);
        n->name_label = strdup(label);
        struct db_row *row;
        assert_int_equal(db_insert(f->x.db, &mclass_network, NULL, n, &row), 0);
        return row;
}

static void rename_row(struct fixture *f, struct db_row *row, const char *label)
{
        char *l = strdup(label);
        int fi = model_field_index(row->cls, "name_label");
        assert_int_equal(db_set(f->x.db, row, fi, &l), 0);
        free(l);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        model_init();
        f->base = event_base_new();
        f->x.base = f->base;
        assert_int_equal(db_new(&f->x.db), 0);
        f->x.host_ref = strdup("OpaqueRef:host-under-test");
        f->x.commit = no_commit;
        assert_int_equal(sessions_init(&f->x), 0);
        assert_int_equal(tasks_init(&f->x), 0);
        assert_int_equal(events_init(&f->x), 0);
        char *r = call(f, "session.login_with_password", P("root") P(""));
        f->s = value_of(r, "Value");
        free(r);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        events_free(&f->x);
        tasks_free(&f->x);
        sessions_free(&f->x);
        db_free(f->x.db);
        free(f->x.host_ref);
        free(f->s);
        event_base_free(f->base);
        free(f);
        return 0;
}

static void adds_then_one_mod_then_del(void **state)
{
        struct fixture *f = *state;
        struct db_row *a = new_network(f, "net-a");
        new_network(f, "net-b");
        char *r = from(f, "<value>network</value>", "", "0");
        assert_non_null(strstr(r, "<name>Status</name><value>Success</value>"));
        assert_int_equal(count(r, "<name>operation</name><value>add</value>"), 2);
        assert_int_equal(count(r, "<name>class</name><value>network</value>"), 2);
        assert_non_null(strstr(r, "<name>valid_ref_counts</name><value><struct><member><name>"
                                  "network</name><value><i4>2</i4></value>"));
        assert_non_null(strstr(r, "<name>snapshot</name><value><struct><member><name>uuid"));
        assert_non_null(strstr(r, "<value>net-a</value>"));
        char *tok = value_of(r, "token");
        assert_int_equal(strlen(tok), 41); /* XAPI's %020Ld,%020Ld */
        free(r);

        for (int i = 0; i < 5; i++) {
                char l[16];
                snprintf(l, sizeof(l), "renamed-%d", i);
                rename_row(f, a, l);
        }
        r = from(f, "<value>network</value>", tok, "0");
        assert_int_equal(count(r, "<name>operation</name>"), 1);
        assert_non_null(strstr(r, "<name>operation</name><value>mod</value>"));
        assert_non_null(strstr(r, "<value>renamed-4</value>")); /* the latest state */
        free(tok);
        tok = value_of(r, "token");
        free(r);

        char *ref = strdup(a->ref);
        db_delete(f->x.db, a);
        /* created and deleted after the token: nobody hears of it */
        db_delete(f->x.db, new_network(f, "ephemeral"));
        r = from(f, "<value>network</value>", tok, "0");
        assert_int_equal(count(r, "<name>operation</name>"), 1);
        assert_non_null(strstr(r, "<name>operation</name><value>del</value>"));
        assert_non_null(strstr(r, ref));
        assert_null(strstr(r, "<name>snapshot</name>"));
        assert_non_null(strstr(r, "<name>network</name><value><i4>1</i4></value>"));
        free(r);
        free(ref);
        free(tok);
}

static void filters(void **state)
{
        struct fixture *f = *state;
        struct db_row *a = new_network(f, "net-a");
        struct db_row *b = new_network(f, "net-b");
        struct api_VM *vm = model_record_new(&mclass_VM);
        assert_int_equal(db_insert(f->x.db, &mclass_VM, NULL, vm, NULL), 0);
        char *r = from(f, "<value>vm</value>", "", "0"); /* case-insensitive */
        assert_int_equal(count(r, "<name>operation</name>"), 1);
        assert_non_null(strstr(r, "<name>class</name><value>vm</value>"));
        assert_null(strstr(r, "<value>network</value>"));
        free(r);
        char subs[256];
        snprintf(subs, sizeof(subs), "<value>NETWORK/%s</value>", b->ref);
        r = from(f, subs, "", "0");
        assert_int_equal(count(r, "<name>operation</name>"), 1);
        assert_non_null(strstr(r, b->ref));
        assert_null(strstr(r, a->ref));
        free(r);
        r = from(f, "<value>*</value>", "", "0");
        assert_int_equal(count(r, "<name>class</name><value>network</value>"), 2);
        assert_int_equal(count(r, "<name>class</name><value>vm</value>"), 1);
        assert_int_equal(count(r, "<name>class</name><value>session</value>"), 1);
        free(r);
        /* an unknown class is accepted (as XAPI) and matches nothing */
        r = from(f, "<value>no_such_class</value>", "", "0");
        assert_non_null(strstr(r, "<name>events</name><value><array><data></data>"));
        free(r);
}

static void errors(void **state)
{
        struct fixture *f = *state;
        const char *bad_tokens[] = {"12", "a,b", "1,2,3", ",1", "-1,0", "1,"};
        for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
                char *r = from(f, "<value>*</value>", bad_tokens[i], "0");
                char want[128];
                snprintf(want, sizeof(want),
                         "<value>EVENT_FROM_TOKEN_PARSE_FAILURE</value><value>%s</value>",
                         bad_tokens[i]);
                assert_non_null(strstr(r, want));
                free(r);
        }
        const char *bad_subs[] = {"", "vm/", "/OpaqueRef:x"};
        for (size_t i = 0; i < sizeof(bad_subs) / sizeof(bad_subs[0]); i++) {
                char subs[64], want[128];
                snprintf(subs, sizeof(subs), "<value>%s</value>", bad_subs[i]);
                char *r = from(f, subs, "", "0");
                snprintf(want, sizeof(want),
                         "<value>EVENT_SUBSCRIPTION_PARSE_FAILURE</value><value>%s</value>",
                         bad_subs[i]);
                assert_non_null(strstr(r, want));
                free(r);
        }
        char params[256];
        snprintf(params, sizeof(params), P("%s"), f->s);
        char *r = call(f, "event.next", params);
        assert_non_null(strstr(r, "<value>SESSION_NOT_REGISTERED</value>"));
        free(r);
        snprintf(params, sizeof(params), P("%s") P("network") P("OpaqueRef:nope"), f->s);
        r = call(f, "event.inject", params);
        assert_non_null(
            strstr(r, "<value>HANDLE_INVALID</value><value>network</value><value>OpaqueRef:nope"));
        free(r);
}

static void waits_and_wakes(void **state)
{
        struct fixture *f = *state;
        struct db_row *a = new_network(f, "net-a");
        char *r = from(f, "<value>network</value>", "", "0");
        char *tok = value_of(r, "token");
        free(r);
        struct outcome o;
        char params[2048];
        from_params(params, sizeof(params), f->s, "<value>network</value>", tok, "30");
        start(f, &o, "event.from", params);
        spin(f);
        assert_false(o.done);
        assert_int_equal(events_waiting(&f->x), 1);
        /* unrelated classes do not answer it */
        struct api_VM *vm = model_record_new(&mclass_VM);
        assert_int_equal(db_insert(f->x.db, &mclass_VM, NULL, vm, NULL), 0);
        spin(f);
        assert_false(o.done);
        /* a burst on the class: one answer, one event */
        for (int i = 0; i < 3; i++)
                rename_row(f, a, i == 2 ? "final" : "x");
        spin(f);
        assert_true(o.done);
        assert_int_equal(count(o.text, "<name>operation</name><value>mod</value>"), 1);
        assert_non_null(strstr(o.text, "<value>final</value>"));
        assert_int_equal(events_waiting(&f->x), 0);
        free(o.text);

        /* the alias spelling, and a timeout: an empty batch with a newer token */
        from_params(params, sizeof(params), f->s, "<value>network</value>", tok, "0.05");
        free(tok);
        r = call(f, "event_from", params);
        assert_int_equal(count(r, "<name>operation</name>"), 1);
        tok = value_of(r, "token");
        free(r);
        from_params(params, sizeof(params), f->s, "<value>network</value>", tok, "0.05");
        r = call(f, "event_from", params);
        assert_non_null(strstr(r, "<name>events</name><value><array><data></data>"));
        char *tok2 = value_of(r, "token");
        assert_true(strcmp(tok2, tok) >= 0);
        free(tok2);
        free(r);
        free(tok);
}

static void abandoned_and_logged_out(void **state)
{
        struct fixture *f = *state;
        struct outcome o1, o2;
        char params[2048];
        from_params(params, sizeof(params), f->s, "<value>network</value>",
                    "00000000000000999999,00000000000000000000", "30");
        start(f, &o1, "event.from", params);
        start(f, &o2, "event.from", params);
        spin(f);
        assert_int_equal(events_waiting(&f->x), 2);
        rpc_req_free(o1.req); /* the client went away */
        assert_int_equal(events_waiting(&f->x), 1);
        /* the session is logged out by another call: the waiting one fails */
        char p[256];
        snprintf(p, sizeof(p), P("%s"), f->s);
        char *r = call(f, "session.logout", p);
        free(r);
        spin(f);
        assert_true(o2.done);
        assert_non_null(strstr(o2.text, "<value>SESSION_INVALID</value>"));
        assert_non_null(strstr(o2.text, f->s));
        free(o2.text);
        assert_int_equal(events_waiting(&f->x), 0);
}

static void register_next_lost_inject(void **state)
{
        struct fixture *f = *state;
        char params[2048];
        snprintf(params, sizeof(params),
                 P("%s") "<param><value><array><data><value>Vm</value></data></array></value>"
                         "</param>",
                 f->s);
        char *r = call(f, "event.register", params);
        assert_non_null(strstr(r, "Success"));
        free(r);
        struct outcome o;
        snprintf(params, sizeof(params), P("%s"), f->s);
        start(f, &o, "event.next", params);
        spin(f);
        assert_false(o.done);
        new_network(f, "unrelated");
        spin(f);
        assert_false(o.done);
        struct api_VM *vm = model_record_new(&mclass_VM);
        struct db_row *row;
        assert_int_equal(db_insert(f->x.db, &mclass_VM, NULL, vm, &row), 0);
        spin(f);
        assert_true(o.done);
        assert_non_null(strstr(o.text, "<name>operation</name><value>add</value>"));
        assert_non_null(strstr(o.text, "<name>class</name><value>vm</value>"));
        assert_non_null(strstr(o.text, "<name>snapshot</name>"));
        free(o.text);

        /* inject: a mod event, and a token from which event.from sees it */
        char vmref[128];
        snprintf(vmref, sizeof(vmref), "%s", row->ref);
        snprintf(params, sizeof(params), P("%s") P("VM") P("%s"), f->s, vmref);
        r = call(f, "event.inject", params);
        char *tok = value_of(r, "Value");
        free(r);
        r = from(f, "<value>vm</value>", tok, "0");
        assert_int_equal(count(r, "<name>operation</name><value>mod</value>"), 1);
        free(r);
        free(tok);
        snprintf(params, sizeof(params), P("%s"), f->s);
        r = call(f, "event.next", params);
        assert_non_null(strstr(r, "<name>operation</name><value>mod</value>"));
        free(r);
        r = call(f, "event.get_current_id", params);
        char *id = value_of(r, "Value");
        assert_int_equal(strtoull(id, NULL, 10), db_generation(f->x.db));
        free(id);
        free(r);

        /* falling behind the deletion log: EVENTS_LOST, then back on track */
        for (int i = 0; i < DB_DELETION_LOG + 1; i++) {
                struct db_row *d;
                assert_int_equal(
                    db_insert(f->x.db, &mclass_VM, NULL, model_record_new(&mclass_VM), &d), 0);
                db_delete(f->x.db, d);
        }
        r = call(f, "event.next", params);
        assert_non_null(strstr(r, "<value>EVENTS_LOST</value>"));
        free(r);
        start(f, &o, "event.next", params);
        spin(f);
        assert_false(o.done);
        db_delete(f->x.db, row);
        spin(f);
        assert_true(o.done);
        assert_non_null(strstr(o.text, "<name>operation</name><value>del</value>"));
        free(o.text);

        /* unregister: VM changes no longer concern the session */
        snprintf(params, sizeof(params),
                 P("%s") "<param><value><array><data><value>Vm</value></data></array></value>"
                         "</param>",
                 f->s);
        r = call(f, "event.unregister", params);
        free(r);
        snprintf(params, sizeof(params), P("%s"), f->s);
        start(f, &o, "event.next", params);
        assert_int_equal(db_insert(f->x.db, &mclass_VM, NULL, model_record_new(&mclass_VM), NULL),
                         0);
        spin(f);
        assert_false(o.done);
        rpc_req_free(o.req);
        assert_int_equal(events_waiting(&f->x), 0);
}

static void many_waiters_one_change(void **state)
{
        struct fixture *f = *state;
        struct db_row *a = new_network(f, "net-a");
        enum { N = 1000 };
        struct outcome *o = calloc(N, sizeof(*o));
        char params[2048];
        char tok[64];
        snprintf(tok, sizeof(tok), "%020llu,%020d", (unsigned long long)db_generation(f->x.db), 0);
        from_params(params, sizeof(params), f->s, "<value>network</value>", tok, "30");
        for (int i = 0; i < N; i++)
                start(f, &o[i], "event.from", params);
        spin(f);
        assert_int_equal(events_waiting(&f->x), N);
        rename_row(f, a, "woken");
        spin(f);
        for (int i = 0; i < N; i++) {
                assert_true(o[i].done);
                assert_non_null(strstr(o[i].text, "<value>woken</value>"));
                free(o[i].text);
        }
        free(o);
        assert_int_equal(events_waiting(&f->x), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(adds_then_one_mod_then_del, setup, teardown),
            cmocka_unit_test_setup_teardown(filters, setup, teardown),
            cmocka_unit_test_setup_teardown(errors, setup, teardown),
            cmocka_unit_test_setup_teardown(waits_and_wakes, setup, teardown),
            cmocka_unit_test_setup_teardown(abandoned_and_logged_out, setup, teardown),
            cmocka_unit_test_setup_teardown(register_next_lost_inject, setup, teardown),
            cmocka_unit_test_setup_teardown(many_waiters_one_change, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
