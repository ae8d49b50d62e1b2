/* Unit tests of the datamodel store: records, indexes, bound pairs, generations,
 * where-expressions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "api/model_gen.h"
#include "xapid/db.h"
#include "xapid/rpc_writer.h"

static struct db_row *new_vm(struct db *db, const char *label, bool tmpl)
{
        struct api_VM *vm = model_record_new(&mclass_VM);
        free(vm->name_label);
        vm->name_label = strdup(label);
        vm->is_a_template = tmpl;
        struct db_row *row;
        assert_int_equal(db_insert(db, &mclass_VM, NULL, vm, &row), 0);
        return row;
}

static void defaults_and_indexes(void **state)
{
        struct db *db;
        assert_int_equal(db_new(&db), 0);
        struct db_row *row = new_vm(db, "a", false);
        struct api_VM *vm = row->rec;
        assert_int_equal(vm->power_state, API_VM_POWER_STATE_HALTED);
        assert_string_equal(vm->suspend_VDI, "OpaqueRef:NULL");
        assert_int_equal(vm->VBDs.n, 0);
        assert_true(vm->HVM_shadow_multiplier == 1.0);
        assert_int_equal(strlen(vm->uuid), 36);
        assert_ptr_equal(db_get(db, &mclass_VM, row->ref), row);
        assert_ptr_equal(db_get_any(db, row->ref), row);
        assert_ptr_equal(db_get_by_uuid(db, &mclass_VM, vm->uuid), row);
        assert_null(db_get(db, &mclass_SR, row->ref));
        void *dup = model_record_new(&mclass_VM);
        assert_int_equal(db_insert(db, &mclass_VM, row->ref, dup, NULL), -EEXIST);
        model_record_free(&mclass_VM, dup); /* not taken on failure */
        db_free(db);
}

static char *deleted_ref;
static void count_deletion(const struct db_deletion *d, void *arg)
{
        (*(int *)arg)++;
        assert_string_equal(d->ref, deleted_ref);
}

static void bound_pairs_and_generations(void **state)
{
        struct db *db;
        assert_int_equal(db_new(&db), 0);
        struct db_row *a = new_vm(db, "a", false), *b = new_vm(db, "b", false);
        uint64_t g0 = db_generation(db);
        struct api_VBD *vbd = model_record_new(&mclass_VBD);
        free(vbd->VM);
        vbd->VM = strdup(a->ref);
        struct db_row *v;
        assert_int_equal(db_insert(db, &mclass_VBD, NULL, vbd, &v), 0);
        struct api_VM *va = a->rec, *vb = b->rec;
        assert_int_equal(va->VBDs.n, 1);
        assert_string_equal(va->VBDs.v[0].s, v->ref);
        assert_true(a->modified > g0);
        /* move the VBD to b */
        char *ref = b->ref;
        assert_int_equal(db_set(db, v, API_VBD_F_VM, &ref), 0);
        assert_int_equal(va->VBDs.n, 0);
        assert_int_equal(vb->VBDs.n, 1);
        uint64_t g1 = db_generation(db);
        assert_true(v->modified == g1 || b->modified == g1);
        /* destroy: b forgets it, deletion logged */
        char *vref = strdup(v->ref);
        deleted_ref = vref;
        db_delete(db, v);
        assert_int_equal(vb->VBDs.n, 0);
        assert_null(db_get(db, &mclass_VBD, vref));
        int seen = 0;
        assert_true(db_deletions_since(db, &mclass_VBD, g1, count_deletion, &seen));
        assert_int_equal(seen, 1);
        free(vref);
        db_free(db);
}

static void where_expressions(void **state)
{
        struct db *db;
        assert_int_equal(db_new(&db), 0);
        struct db_row *a = new_vm(db, "a", false);
        new_vm(db, "b", true);
        struct api_VM *va = a->rec;
        va->power_state = API_VM_POWER_STATE_RUNNING;
        union mval k = {.s = "k"}, v = {.s = "v"};
        mmap_put(mclass_VM.fields[API_VM_F_other_config].type, &va->other_config, &k.s, &v.s);
        struct db_expr *e;
        assert_int_equal(db_expr_parse("field \"is_a_template\"=\"false\" and field "
                                       "\"power_state\"=\"Running\"",
                                       &e, NULL),
                         0);
        size_t hits = 0;
        for (size_t i = 0; i < db_count(db, &mclass_VM); i++)
                hits += db_expr_eval(e, db_row_at(db, &mclass_VM, i)) == 1;
        assert_int_equal(hits, 1);
        db_expr_free(e);
        assert_int_equal(db_expr_parse("field \"other_config/k\"=\"v\" or false", &e, NULL), 0);
        assert_int_equal(db_expr_eval(e, a), 1);
        db_expr_free(e);
        assert_int_equal(db_expr_parse("not (true) or (field \"name_label\" = \"a\")", &e, NULL),
                         0);
        assert_int_equal(db_expr_eval(e, a), 1);
        db_expr_free(e);
        assert_int_equal(db_expr_parse("field \"nope\"=\"x\"", &e, NULL), 0);
        assert_int_equal(db_expr_eval(e, a), -ENOENT);
        db_expr_free(e);
        char *msg = NULL;
        assert_int_equal(db_expr_parse("field \"a\"=", &e, &msg), -EINVAL);
        assert_non_null(msg);
        free(msg);
        assert_int_equal(db_expr_parse("(true", &e, NULL), -EINVAL);
        /* found by fuzz_where: a quoted word where ")" belongs leaked its copy */
        assert_int_equal(db_expr_parse("(true\"\".((", &e, NULL), -EINVAL);
        assert_int_equal(db_expr_parse("true false", &e, NULL), -EINVAL);
        /* cursor: bounded steps, filter applied */
        assert_int_equal(db_expr_parse("field \"is_a_template\"=\"true\"", &e, NULL), 0);
        struct db_cursor *cur = db_cursor_new(db, &mclass_VM, e);
        struct evbuffer *out = evbuffer_new();
        struct rpc_writer w;
        rpcw_init(&w, RPCW_JSONRPC, out);
        rpcw_set_json(&w, 2, "1");
        rpcw_begin(&w);
        rpcw_struct_begin(&w);
        while (db_cursor_step(cur, &w, 1) > 0)
                ;
        rpcw_struct_end(&w);
        rpcw_end(&w);
        db_cursor_free(cur);
        /* the real writer's output: a map with exactly the one template */
        size_t len = evbuffer_get_length(out);
        json_t *doc = json_loadb((const char *)evbuffer_pullup(out, -1), len, 0, NULL);
        assert_non_null(doc);
        json_t *result = json_object_get(doc, "result");
        assert_int_equal(json_object_size(result), 1);
        const char *key;
        json_t *rec;
        json_object_foreach(result, key, rec)
        {
                assert_memory_equal(key, "OpaqueRef:", 10);
                assert_string_equal(json_string_value(json_object_get(rec, "name_label")), "b");
        }
        json_decref(doc);
        evbuffer_free(out);
        db_free(db);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults_and_indexes),
            cmocka_unit_test(bound_pairs_and_generations),
            cmocka_unit_test(where_expressions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
