/* Unit tests of XAPI's VM operation checks (xapid/vm_checks.c): the power states of every
 * lifecycle operation, the order of the checks, allowed_operations per power state, and the
 * reboot-loop rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/model_gen.h"
#include "common/err.h"
#include "xapid/model.h"
#include "xapid/vm_checks.h"

#define REF "OpaqueRef:vm"

static struct api_VM *new_vm(int power)
{
        assert_int_equal(model_init(), 0);
        struct api_VM *vm = model_record_new(&mclass_VM);
        vm->power_state = power;
        return vm;
}

static void expect_error(struct api_VM *vm, int op, const char *code, const char *p1,
                         const char *p2)
{
        struct api_error err = {0};
        int r = vm_check_op(REF, vm, op, &err);
        assert_true(r < 0);
        assert_string_equal(err.code, code);
        if (p1 != NULL)
                assert_string_equal(err.params[1], p1);
        if (p2 != NULL)
                assert_string_equal(err.params[2], p2);
        api_error_clear(&err);
}

static void expect_ok(struct api_VM *vm, int op)
{
        struct api_error err = {0};
        int r = vm_check_op(REF, vm, op, &err);
        if (r < 0)
                fail_msg("op %s: %s", menum_vm_operations.values[op], err.code);
        api_error_clear(&err);
}

/* XAPI's expected states, lowercase and in its order. */
static void test_power_states(void **state)
{
        static const struct {
                int op;
                const char *expected;
        } t[] = {
            {API_VM_OPERATIONS_START, "halted"},
            {API_VM_OPERATIONS_START_ON, "halted"},
            {API_VM_OPERATIONS_PAUSE, "running"},
            {API_VM_OPERATIONS_UNPAUSE, "paused"},
            {API_VM_OPERATIONS_CLEAN_SHUTDOWN, "running"},
            {API_VM_OPERATIONS_CLEAN_REBOOT, "running"},
            {API_VM_OPERATIONS_HARD_SHUTDOWN, "paused, suspended, running"},
            {API_VM_OPERATIONS_SHUTDOWN, "paused, suspended, running"},
            {API_VM_OPERATIONS_HARD_REBOOT, "paused, running"},
            {API_VM_OPERATIONS_SUSPEND, "running"},
            {API_VM_OPERATIONS_RESUME, "suspended"},
            {API_VM_OPERATIONS_RESUME_ON, "suspended"},
            {API_VM_OPERATIONS_DESTROY, "halted, suspended"},
            {API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE, "halted, running"},
        };
        static const char *const names[] = {"halted", "paused", "running", "suspended"};
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
                for (int ps = 0; ps < 4; ps++) {
                        struct api_VM *vm = new_vm(ps);
                        if (strstr(t[i].expected, names[ps]) != NULL)
                                expect_ok(vm, t[i].op);
                        else
                                expect_error(vm, t[i].op, "VM_BAD_POWER_STATE", t[i].expected,
                                             names[ps]);
                        model_record_free(&mclass_VM, vm);
                }
        struct api_VM *vm = new_vm(API_VM_POWER_STATE_RUNNING);
        expect_ok(vm, API_VM_OPERATIONS_POWER_STATE_RESET);
        model_record_free(&mclass_VM, vm);
}

static void block(struct api_VM *vm, int op, const char *why)
{
        const struct mtype *t = mclass_VM.fields[API_VM_F_blocked_operations].type;
        mmap_put(t, &vm->blocked_operations, &op, &why);
}

static void add_current(struct api_VM *vm, const char *task, int op)
{
        const struct mtype *t = mclass_VM.fields[API_VM_F_current_operations].type;
        mmap_put(t, &vm->current_operations, &task, &op);
}

/* blocked → power state → concurrency → template */
static void test_check_order(void **state)
{
        struct api_VM *vm = new_vm(API_VM_POWER_STATE_RUNNING);
        vm->is_a_template = true;
        add_current(vm, "OpaqueRef:task", API_VM_OPERATIONS_CLEAN_SHUTDOWN);
        block(vm, API_VM_OPERATIONS_START, "because");
        expect_error(vm, API_VM_OPERATIONS_START, "OPERATION_BLOCKED", "because", NULL);
        mmap_remove(mclass_VM.fields[API_VM_F_blocked_operations].type, &vm->blocked_operations,
                    &(int){API_VM_OPERATIONS_START});
        expect_error(vm, API_VM_OPERATIONS_START, "VM_BAD_POWER_STATE", "halted", "running");
        vm->power_state = API_VM_POWER_STATE_HALTED;
        struct api_error err = {0};
        assert_int_equal(vm_check_op(REF, vm, API_VM_OPERATIONS_START, &err), -EBUSY);
        assert_string_equal(err.code, "OTHER_OPERATION_IN_PROGRESS");
        assert_int_equal(err.n_params, 4);
        assert_string_equal(err.params[0], "VM");
        assert_string_equal(err.params[1], REF);
        assert_string_equal(err.params[2], "clean_shutdown");
        assert_string_equal(err.params[3], "OpaqueRef:task");
        api_error_clear(&err);
        model_slot_free(mclass_VM.fields[API_VM_F_current_operations].type,
                        &vm->current_operations);
        expect_error(vm, API_VM_OPERATIONS_START, "VM_IS_TEMPLATE", "start", NULL);
        vm->is_a_template = false;
        expect_ok(vm, API_VM_OPERATIONS_START);
        model_record_free(&mclass_VM, vm);
}

static void test_concurrent_sets(void **state)
{
        struct api_VM *vm = new_vm(API_VM_POWER_STATE_HALTED);
        add_current(vm, "OpaqueRef:a", API_VM_OPERATIONS_CLONE);
        expect_ok(vm, API_VM_OPERATIONS_COPY); /* long copies go together */
        add_current(vm, "OpaqueRef:b", API_VM_OPERATIONS_EXPORT);
        struct api_error err = {0};
        assert_int_equal(vm_check_op(REF, vm, API_VM_OPERATIONS_START, &err), -EBUSY);
        assert_string_equal(err.params[2], "{clone,export}");
        assert_string_equal(err.params[3], "{OpaqueRef:a,OpaqueRef:b}");
        api_error_clear(&err);
        model_record_free(&mclass_VM, vm);
}

static bool has(const struct mset *s, int op)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].e == op)
                        return true;
        return false;
}

static void test_allowed_operations(void **state)
{
        struct api_VM *vm = new_vm(API_VM_POWER_STATE_HALTED);
        assert_true(vm_update_allowed_ops(REF, vm));
        assert_true(has(&vm->allowed_operations, API_VM_OPERATIONS_START));
        assert_true(has(&vm->allowed_operations, API_VM_OPERATIONS_DESTROY));
        assert_false(has(&vm->allowed_operations, API_VM_OPERATIONS_HARD_SHUTDOWN));
        assert_false(vm_update_allowed_ops(REF, vm)); /* unchanged */
        vm->power_state = API_VM_POWER_STATE_PAUSED;
        assert_true(vm_update_allowed_ops(REF, vm));
        assert_true(has(&vm->allowed_operations, API_VM_OPERATIONS_UNPAUSE));
        assert_true(has(&vm->allowed_operations, API_VM_OPERATIONS_HARD_REBOOT));
        assert_false(has(&vm->allowed_operations, API_VM_OPERATIONS_CLEAN_SHUTDOWN));
        vm->power_state = API_VM_POWER_STATE_SUSPENDED;
        vm_update_allowed_ops(REF, vm);
        assert_true(has(&vm->allowed_operations, API_VM_OPERATIONS_RESUME));
        assert_false(has(&vm->allowed_operations, API_VM_OPERATIONS_START));
        add_current(vm, "OpaqueRef:t", API_VM_OPERATIONS_RESUME);
        vm_update_allowed_ops(REF, vm);
        assert_int_equal(vm->allowed_operations.n, 0);
        model_record_free(&mclass_VM, vm);
}

static void test_restart_rule(void **state)
{
        struct vm_restart_history h = {0};
        int64_t now = 1000000;
        for (int i = 0; i < VM_RESTART_LIMIT; i++)
                assert_true(vm_restart_allowed(&h, now + i * 100));
        assert_false(vm_restart_allowed(&h, now + 5000)); /* 11th within the window */
        /* once the oldest restart leaves the window, one more is allowed */
        assert_true(vm_restart_allowed(&h, now + VM_RESTART_WINDOW_MS + 1));
        assert_false(vm_restart_allowed(&h, now + VM_RESTART_WINDOW_MS + 2));
        struct vm_restart_history slow = {0};
        for (int i = 0; i < 50; i++) /* one a minute forever is fine */
                assert_true(vm_restart_allowed(&slow, now + (int64_t)i * 7000));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_power_states),    cmocka_unit_test(test_check_order),
            cmocka_unit_test(test_concurrent_sets), cmocka_unit_test(test_allowed_operations),
            cmocka_unit_test(test_restart_rule),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
