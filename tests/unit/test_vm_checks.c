/* Unit tests of XAPI's VM operation checks (xapid/vm_checks.c): the power states of every
 * lifecycle operation, the order of the checks, allowed_operations per power state, the
 * storage operations (clone, copy, snapshot, destroy, provision, revert, make_into_template) on
 * VMs, templates and snapshots in each power state, the control domain, and the reboot-loop
 * rule. */
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

/* The kinds of VM the storage operations meet. */
enum kind { PLAIN, TEMPLATE, DEFAULT_TEMPLATE, SNAPSHOT, N_KINDS };

static struct api_VM *new_kind(enum kind k, int power)
{
        struct api_VM *vm = new_vm(power);
        vm->is_a_template = k != PLAIN; /* XAPI's snapshots are templates too */
        vm->is_a_snapshot = k == SNAPSHOT;
        if (k == DEFAULT_TEMPLATE) { /* as the built-in templates mark themselves */
                const struct mtype *t = mclass_VM.fields[API_VM_F_other_config].type;
                const char *key = "default_template", *value = "true";
                mmap_put(t, &vm->other_config, &key, &value);
        }
        return vm;
}

/* XAPI's answers (xapi_vm_lifecycle.ml), written out per operation: the power states it
 * accepts (a snapshot's clone/copy also accept suspended), then, in an accepted state, the
 * error per kind of VM (NULL: allowed). */
static void test_storage_ops_by_kind_and_state(void **state)
{
        static const char *const ALL_STATES = "halted, paused, suspended, running";
        static const struct {
                int op;
                const char *states, *snapshot_states;
                const char *err[N_KINDS];
        } t[] = {
            {API_VM_OPERATIONS_CLONE, "halted", "halted, suspended", {NULL, NULL, NULL, NULL}},
            {API_VM_OPERATIONS_COPY, "halted", "halted, suspended", {NULL, NULL, NULL, NULL}},
            {API_VM_OPERATIONS_SNAPSHOT,
             ALL_STATES,
             ALL_STATES,
             {NULL, "VM_IS_TEMPLATE", "VM_IS_TEMPLATE", "VM_IS_SNAPSHOT"}},
            {API_VM_OPERATIONS_CHECKPOINT,
             "paused, suspended, running",
             "paused, suspended, running",
             {NULL, "VM_IS_TEMPLATE", "VM_IS_TEMPLATE", "VM_IS_SNAPSHOT"}},
            {API_VM_OPERATIONS_DESTROY,
             "halted, suspended",
             "halted, suspended",
             {NULL, NULL, "VM_IS_TEMPLATE", NULL}},
            {API_VM_OPERATIONS_PROVISION,
             "halted",
             "halted",
             {"PROVISION_ONLY_ALLOWED_ON_TEMPLATE", NULL, NULL, "VM_IS_SNAPSHOT"}},
            {API_VM_OPERATIONS_REVERT,
             ALL_STATES,
             ALL_STATES,
             {"REVERT_ONLY_ALLOWED_ON_SNAPSHOT", "VM_IS_TEMPLATE", "VM_IS_TEMPLATE", NULL}},
            {API_VM_OPERATIONS_MAKE_INTO_TEMPLATE,
             "halted",
             "halted",
             {NULL, "VM_IS_TEMPLATE", "VM_IS_TEMPLATE", "VM_IS_SNAPSHOT"}},
            {API_VM_OPERATIONS_EXPORT,
             "halted, suspended",
             "halted, suspended",
             {NULL, NULL, NULL, NULL}},
            {API_VM_OPERATIONS_START,
             "halted",
             "halted",
             {NULL, "VM_IS_TEMPLATE", "VM_IS_TEMPLATE", "VM_IS_SNAPSHOT"}},
        };
        static const char *const names[] = {"halted", "paused", "running", "suspended"};
        unsigned checked = 0;
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
                for (int k = 0; k < N_KINDS; k++)
                        for (int ps = 0; ps < 4; ps++) {
                                struct api_VM *vm = new_kind(k, ps);
                                const char *states =
                                    k == SNAPSHOT ? t[i].snapshot_states : t[i].states;
                                if (strstr(states, names[ps]) == NULL)
                                        expect_error(vm, t[i].op, "VM_BAD_POWER_STATE", states,
                                                     names[ps]);
                                else if (t[i].err[k] == NULL)
                                        expect_ok(vm, t[i].op);
                                else
                                        expect_error(vm, t[i].op, t[i].err[k], NULL, NULL);
                                model_record_free(&mclass_VM, vm);
                                checked++;
                        }
        assert_int_equal(checked, sizeof(t) / sizeof(t[0]) * N_KINDS * 4);
}

/* The parameters of the kind errors: [vm, op]; the applicability errors have none. */
static void test_kind_error_params(void **state)
{
        struct api_VM *tpl = new_kind(TEMPLATE, API_VM_POWER_STATE_HALTED);
        struct api_error err = {0};
        assert_int_equal(vm_check_op(REF, tpl, API_VM_OPERATIONS_SNAPSHOT, &err), -EINVAL);
        assert_int_equal(err.n_params, 2);
        assert_string_equal(err.params[0], REF);
        assert_string_equal(err.params[1], "snapshot");
        api_error_clear(&err);
        tpl->is_default_template = true; /* the field alone makes a default template too */
        expect_error(tpl, API_VM_OPERATIONS_DESTROY, "VM_IS_TEMPLATE", "destroy", NULL);
        model_record_free(&mclass_VM, tpl);

        struct api_VM *snap = new_kind(SNAPSHOT, API_VM_POWER_STATE_HALTED);
        assert_int_equal(vm_check_op(REF, snap, API_VM_OPERATIONS_START, &err), -EINVAL);
        assert_string_equal(err.code, "VM_IS_SNAPSHOT");
        assert_int_equal(err.n_params, 2);
        assert_string_equal(err.params[1], "start");
        api_error_clear(&err);
        model_record_free(&mclass_VM, snap);

        struct api_VM *plain = new_kind(PLAIN, API_VM_POWER_STATE_HALTED);
        assert_int_equal(vm_check_op(REF, plain, API_VM_OPERATIONS_PROVISION, &err), -EINVAL);
        assert_int_equal(err.n_params, 0);
        api_error_clear(&err);
        model_record_free(&mclass_VM, plain);
}

/* XAPI: destroy and changing_VCPUs are refused on dom0, most others on any control domain,
 * and some memory/vCPU settings of the running control domain may change. */
static void test_control_domain(void **state)
{
        struct api_VM *d0 = new_vm(API_VM_POWER_STATE_RUNNING);
        d0->is_control_domain = true;
        expect_error(d0, API_VM_OPERATIONS_CLONE, "VM_BAD_POWER_STATE", "halted", "running");
        expect_error(d0, API_VM_OPERATIONS_CHANGING_VCPUS, "OPERATION_NOT_ALLOWED", NULL, NULL);
        struct api_error err = {0};
        assert_true(vm_check_op(REF, d0, API_VM_OPERATIONS_SNAPSHOT, &err) < 0);
        assert_string_equal(err.code, "OPERATION_NOT_ALLOWED");
        assert_int_equal(err.n_params, 1);
        assert_string_equal(err.params[0], "This operation is not allowed on a control domain");
        api_error_clear(&err);
        expect_ok(d0, API_VM_OPERATIONS_CHANGING_STATIC_RANGE);
        expect_ok(d0, API_VM_OPERATIONS_CHANGING_MEMORY_LIMITS);
        expect_ok(d0, API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE);
        d0->power_state = API_VM_POWER_STATE_HALTED;
        assert_true(vm_check_op(REF, d0, API_VM_OPERATIONS_DESTROY, &err) < 0);
        assert_string_equal(err.code, "OPERATION_NOT_ALLOWED");
        assert_string_equal(err.params[0], "This operation is not allowed on dom0");
        api_error_clear(&err);
        model_record_free(&mclass_VM, d0);
}

/* allowed_operations as a set, compared with the list XAPI would compute. */
static void expect_allowed(struct api_VM *vm, const int *ops, size_t n)
{
        vm_update_allowed_ops(REF, vm);
        for (size_t i = 0; i < n; i++)
                if (!has(&vm->allowed_operations, ops[i]))
                        fail_msg("%s missing", menum_vm_operations.values[ops[i]]);
        if (vm->allowed_operations.n != n) {
                for (size_t i = 0; i < vm->allowed_operations.n; i++)
                        print_message("allowed: %s\n",
                                      menum_vm_operations.values[vm->allowed_operations.v[i].e]);
                fail_msg("%zu allowed, %zu expected", vm->allowed_operations.n, n);
        }
}

#define OP(x) API_VM_OPERATIONS_##x
#define EXPECT_ALLOWED(vm, ...)                                                                    \
        expect_allowed(vm, (const int[]){__VA_ARGS__},                                             \
                       sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static void test_allowed_operations_by_kind(void **state)
{
        struct api_VM *vm = new_kind(PLAIN, API_VM_POWER_STATE_HALTED);
        EXPECT_ALLOWED(vm, OP(SNAPSHOT), OP(COPY), OP(CLONE), OP(START), OP(START_ON), OP(EXPORT),
                       OP(DESTROY), OP(MAKE_INTO_TEMPLATE), OP(CHANGING_STATIC_RANGE),
                       OP(CHANGING_SHADOW_MEMORY), OP(CHANGING_DYNAMIC_RANGE));
        add_current(vm, "OpaqueRef:clone", OP(CLONE)); /* only the long copies may join */
        EXPECT_ALLOWED(vm, OP(COPY), OP(CLONE), OP(EXPORT));
        model_record_free(&mclass_VM, vm);

        vm = new_kind(PLAIN, API_VM_POWER_STATE_RUNNING);
        add_current(vm, "OpaqueRef:snap", OP(SNAPSHOT)); /* snapshots go together */
        EXPECT_ALLOWED(vm, OP(SNAPSHOT), OP(CHECKPOINT));
        model_record_free(&mclass_VM, vm);

        vm = new_kind(TEMPLATE, API_VM_POWER_STATE_HALTED);
        EXPECT_ALLOWED(vm, OP(COPY), OP(CLONE), OP(EXPORT), OP(DESTROY), OP(PROVISION),
                       OP(CHANGING_STATIC_RANGE), OP(CHANGING_SHADOW_MEMORY),
                       OP(CHANGING_DYNAMIC_RANGE));
        model_record_free(&mclass_VM, vm);

        vm = new_kind(DEFAULT_TEMPLATE, API_VM_POWER_STATE_HALTED);
        EXPECT_ALLOWED(vm, OP(COPY), OP(CLONE), OP(EXPORT), OP(PROVISION),
                       OP(CHANGING_STATIC_RANGE), OP(CHANGING_SHADOW_MEMORY),
                       OP(CHANGING_DYNAMIC_RANGE));
        model_record_free(&mclass_VM, vm);

        vm = new_kind(SNAPSHOT, API_VM_POWER_STATE_HALTED);
        EXPECT_ALLOWED(vm, OP(COPY), OP(CLONE), OP(REVERT), OP(EXPORT), OP(DESTROY));
        model_record_free(&mclass_VM, vm);

        vm = new_kind(SNAPSHOT, API_VM_POWER_STATE_SUSPENDED); /* a checkpoint */
        EXPECT_ALLOWED(vm, OP(COPY), OP(CLONE), OP(REVERT), OP(HARD_SHUTDOWN), OP(EXPORT),
                       OP(DESTROY));
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
            cmocka_unit_test(test_power_states),
            cmocka_unit_test(test_check_order),
            cmocka_unit_test(test_concurrent_sets),
            cmocka_unit_test(test_allowed_operations),
            cmocka_unit_test(test_restart_rule),
            cmocka_unit_test(test_storage_ops_by_kind_and_state),
            cmocka_unit_test(test_kind_error_params),
            cmocka_unit_test(test_control_domain),
            cmocka_unit_test(test_allowed_operations_by_kind),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
