/* VM operation checks and allowed operations (see vm_checks.h). */
#include "xapid/vm_checks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define PS(s) (1u << API_VM_POWER_STATE_##s)
#define ALL   (PS(HALTED) | PS(PAUSED) | PS(SUSPENDED) | PS(RUNNING))

unsigned vm_op_power_states(int op, const struct api_VM *vm)
{
        switch (op) {
        case API_VM_OPERATIONS_IMPORT:
                return 0;
        case API_VM_OPERATIONS_CHANGING_MEMORY_LIMITS:
        case API_VM_OPERATIONS_CHANGING_STATIC_RANGE:
        case API_VM_OPERATIONS_CHANGING_VCPUS:
                /* the control domain always runs: XAPI lets these change it live */
                return PS(HALTED) | (vm->is_control_domain ? PS(RUNNING) : 0);
        case API_VM_OPERATIONS_CHANGING_SHADOW_MEMORY:
        case API_VM_OPERATIONS_CHANGING_NVRAM:
        case API_VM_OPERATIONS_MAKE_INTO_TEMPLATE:
        case API_VM_OPERATIONS_PROVISION:
        case API_VM_OPERATIONS_START:
        case API_VM_OPERATIONS_START_ON:
        case API_VM_OPERATIONS_CREATE_VTPM:
                return PS(HALTED);
        case API_VM_OPERATIONS_UNPAUSE:
                return PS(PAUSED);
        case API_VM_OPERATIONS_CSVM:
        case API_VM_OPERATIONS_RESUME:
        case API_VM_OPERATIONS_RESUME_ON:
                return PS(SUSPENDED);
        case API_VM_OPERATIONS_AWAITING_MEMORY_LIVE:
        case API_VM_OPERATIONS_CLEAN_REBOOT:
        case API_VM_OPERATIONS_CLEAN_SHUTDOWN:
        case API_VM_OPERATIONS_CHANGING_MEMORY_LIVE:
        case API_VM_OPERATIONS_CHANGING_SHADOW_MEMORY_LIVE:
        case API_VM_OPERATIONS_CHANGING_VCPUS_LIVE:
        case API_VM_OPERATIONS_DATA_SOURCE_OP:
        case API_VM_OPERATIONS_MIGRATE_SEND:
        case API_VM_OPERATIONS_PAUSE:
        case API_VM_OPERATIONS_POOL_MIGRATE:
        case API_VM_OPERATIONS_SEND_SYSRQ:
        case API_VM_OPERATIONS_SEND_TRIGGER:
        case API_VM_OPERATIONS_SNAPSHOT_WITH_QUIESCE:
        case API_VM_OPERATIONS_SUSPEND:
        case API_VM_OPERATIONS_SYSPREP:
                return PS(RUNNING);
        case API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE:
                return PS(HALTED) | PS(RUNNING);
        case API_VM_OPERATIONS_CLONE:
        case API_VM_OPERATIONS_COPY:
                return PS(HALTED) | (vm->is_a_snapshot ? PS(SUSPENDED) : 0);
        case API_VM_OPERATIONS_CREATE_TEMPLATE:
        case API_VM_OPERATIONS_DESTROY:
        case API_VM_OPERATIONS_EXPORT:
                return PS(HALTED) | PS(SUSPENDED);
        case API_VM_OPERATIONS_HARD_REBOOT:
                return PS(PAUSED) | PS(RUNNING);
        case API_VM_OPERATIONS_CHECKPOINT:
        case API_VM_OPERATIONS_GET_BOOT_RECORD:
        case API_VM_OPERATIONS_SHUTDOWN:
        case API_VM_OPERATIONS_HARD_SHUTDOWN:
                return PS(PAUSED) | PS(SUSPENDED) | PS(RUNNING);
        default:
                return ALL;
        }
}

const char *vm_power_name(int power_state)
{
        switch (power_state) {
        case API_VM_POWER_STATE_HALTED:
                return "halted";
        case API_VM_POWER_STATE_PAUSED:
                return "paused";
        case API_VM_POWER_STATE_RUNNING:
                return "running";
        case API_VM_POWER_STATE_SUSPENDED:
                return "suspended";
        default:
                return "unknown";
        }
}

bool vm_is_default_template(const struct api_VM *vm)
{
        if (vm->is_default_template)
                return true;
        for (size_t i = 0; i < vm->other_config.n; i++)
                if (strcmp(vm->other_config.k[i].s, "default_template") == 0)
                        return strcmp(vm->other_config.v[i].s, "true") == 0 ||
                               strcmp(vm->other_config.v[i].s, "1") == 0;
        return false;
}

static const char *op_name(int op)
{
        return op >= 0 && op < menum_vm_operations.n ? menum_vm_operations.values[op] : "unknown";
}

/* XAPI's concurrency table (is_allowed_concurrently). */
static bool in_set(int op, const int *set, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (set[i] == op)
                        return true;
        return false;
}

static bool allowed_concurrently(int op, const struct mmap *cur)
{
        static const int long_copies[] = {API_VM_OPERATIONS_CLONE, API_VM_OPERATIONS_COPY,
                                          API_VM_OPERATIONS_EXPORT};
        static const int snapshot[] = {API_VM_OPERATIONS_SNAPSHOT, API_VM_OPERATIONS_CHECKPOINT};
        static const int boot_record[] = {API_VM_OPERATIONS_GET_BOOT_RECORD};
        static const struct {
                int running, next;
        } pairs[] = {
            {API_VM_OPERATIONS_SNAPSHOT_WITH_QUIESCE, API_VM_OPERATIONS_SNAPSHOT},
            {API_VM_OPERATIONS_REVERTING, API_VM_OPERATIONS_HARD_SHUTDOWN},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_METADATA_EXPORT},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_HARD_SHUTDOWN},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_CLEAN_SHUTDOWN},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_HARD_REBOOT},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_CLEAN_REBOOT},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_START},
            {API_VM_OPERATIONS_MIGRATE_SEND, API_VM_OPERATIONS_START_ON},
        };
        const struct {
                const int *v;
                size_t n;
        } sets[] = {{long_copies, 3}, {snapshot, 2}, {boot_record, 1}};
        for (size_t s = 0; s < 3; s++) {
                if (!in_set(op, sets[s].v, sets[s].n))
                        continue;
                bool all = true;
                for (size_t i = 0; i < cur->n && all; i++)
                        all = in_set(cur->v[i].e, sets[s].v, sets[s].n);
                if (all)
                        return true;
        }
        if (cur->n == 1)
                for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
                        if (pairs[i].running == cur->v[0].e && pairs[i].next == op)
                                return true;
        return false;
}

static int concurrency_error(const char *ref, const struct mmap *cur, struct api_error *err)
{
        if (cur->n == 1) {
                char opn[64];
                snprintf(opn, sizeof(opn), "%s", op_name(cur->v[0].e));
                api_error_set(err, "OTHER_OPERATION_IN_PROGRESS", "VM", ref, opn, cur->k[0].s,
                              NULL);
                return -EBUSY;
        }
        size_t ol = 2, rl = 2;
        for (size_t i = 0; i < cur->n; i++) {
                ol += strlen(op_name(cur->v[i].e)) + 1;
                rl += strlen(cur->k[i].s) + 1;
        }
        char *ops = calloc(1, ol), *refs = calloc(1, rl);
        if (ops == NULL || refs == NULL)
                abort();
        strcat(ops, "{");
        strcat(refs, "{");
        for (size_t i = 0; i < cur->n; i++) {
                if (i) {
                        strcat(ops, ",");
                        strcat(refs, ",");
                }
                strcat(ops, op_name(cur->v[i].e));
                strcat(refs, cur->k[i].s);
        }
        strcat(ops, "}");
        strcat(refs, "}");
        api_error_set(err, "OTHER_OPERATION_IN_PROGRESS", "VM", ref, ops, refs, NULL);
        free(ops);
        free(refs);
        return -EBUSY;
}

static bool template_allows(int op, const struct api_VM *vm)
{
        switch (op) {
        case API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE:
        case API_VM_OPERATIONS_CHANGING_STATIC_RANGE:
        case API_VM_OPERATIONS_CHANGING_MEMORY_LIMITS:
        case API_VM_OPERATIONS_CHANGING_SHADOW_MEMORY:
        case API_VM_OPERATIONS_CHANGING_VCPUS:
        case API_VM_OPERATIONS_CHANGING_NVRAM:
        case API_VM_OPERATIONS_CLONE:
        case API_VM_OPERATIONS_COPY:
        case API_VM_OPERATIONS_EXPORT:
        case API_VM_OPERATIONS_METADATA_EXPORT:
        case API_VM_OPERATIONS_PROVISION:
                return true;
        case API_VM_OPERATIONS_DESTROY:
                return !vm_is_default_template(vm);
        default:
                return false;
        }
}

static bool snapshot_allows(int op)
{
        switch (op) {
        case API_VM_OPERATIONS_REVERT:
        case API_VM_OPERATIONS_CLONE:
        case API_VM_OPERATIONS_COPY:
        case API_VM_OPERATIONS_EXPORT:
        case API_VM_OPERATIONS_DESTROY:
        case API_VM_OPERATIONS_HARD_SHUTDOWN:
        case API_VM_OPERATIONS_METADATA_EXPORT:
                return true;
        default:
                return false;
        }
}

static bool control_domain_allows(int op)
{
        switch (op) {
        case API_VM_OPERATIONS_DATA_SOURCE_OP:
        case API_VM_OPERATIONS_CHANGING_MEMORY_LIVE:
        case API_VM_OPERATIONS_AWAITING_MEMORY_LIVE:
        case API_VM_OPERATIONS_METADATA_EXPORT:
        case API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE:
        case API_VM_OPERATIONS_CHANGING_MEMORY_LIMITS:
        case API_VM_OPERATIONS_CHANGING_STATIC_RANGE:
        case API_VM_OPERATIONS_START:
        case API_VM_OPERATIONS_START_ON:
                return true;
        default:
                return false;
        }
}

int vm_check_op(const char *ref, const struct api_VM *vm, int op, struct api_error *err)
{
        for (size_t i = 0; i < vm->blocked_operations.n; i++)
                if (vm->blocked_operations.k[i].e == op)
                        return api_error_set(err, "OPERATION_BLOCKED", ref,
                                             vm->blocked_operations.v[i].s, NULL);
        unsigned ok = vm_op_power_states(op, vm);
        if (!(ok & (1u << vm->power_state))) {
                /* XAPI lists the expected states in the order halted, paused, suspended,
                 * running */
                static const int order[] = {API_VM_POWER_STATE_HALTED, API_VM_POWER_STATE_PAUSED,
                                            API_VM_POWER_STATE_SUSPENDED,
                                            API_VM_POWER_STATE_RUNNING};
                char expected[64] = "";
                for (size_t i = 0; i < 4; i++)
                        if (ok & (1u << order[i])) {
                                if (expected[0])
                                        strcat(expected, ", ");
                                strcat(expected, vm_power_name(order[i]));
                        }
                return api_error_set(err, "VM_BAD_POWER_STATE", ref, expected,
                                     vm_power_name(vm->power_state), NULL);
        }
        if (vm->current_operations.n > 0 && !allowed_concurrently(op, &vm->current_operations))
                return concurrency_error(ref, &vm->current_operations, err);
        if (vm->is_a_template && !vm->is_a_snapshot && !template_allows(op, vm))
                return api_error_set(err, "VM_IS_TEMPLATE", ref, op_name(op), NULL);
        if (vm->is_a_snapshot && !snapshot_allows(op))
                return api_error_set(err, "VM_IS_SNAPSHOT", ref, op_name(op), NULL);
        /* XAPI's Api_errors.only_provision_template / only_revert_snapshot carry these codes */
        if (op == API_VM_OPERATIONS_PROVISION && !vm->is_a_template)
                return api_error_set(err, "PROVISION_ONLY_ALLOWED_ON_TEMPLATE", NULL);
        if (op == API_VM_OPERATIONS_REVERT && !vm->is_a_snapshot)
                return api_error_set(err, "REVERT_ONLY_ALLOWED_ON_SNAPSHOT", NULL);
        if (vm->is_control_domain) {
                /* the only control domain here is the host's domain 0 */
                if (op == API_VM_OPERATIONS_DESTROY || op == API_VM_OPERATIONS_CHANGING_VCPUS)
                        return api_error_set(err, "OPERATION_NOT_ALLOWED",
                                             "This operation is not allowed on dom0", NULL);
                if (!control_domain_allows(op))
                        return api_error_set(err, "OPERATION_NOT_ALLOWED",
                                             "This operation is not allowed on a control domain",
                                             NULL);
        }
        /* no guest agent reports quiesce support */
        if (op == API_VM_OPERATIONS_SNAPSHOT_WITH_QUIESCE)
                return api_error_set(err, "VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", ref, NULL);
        return 0;
}

/* The operations XAPI considers for allowed_operations (update_allowed_operations). */
static const int candidates[] = {
    API_VM_OPERATIONS_SNAPSHOT,
    API_VM_OPERATIONS_COPY,
    API_VM_OPERATIONS_CLONE,
    API_VM_OPERATIONS_REVERT,
    API_VM_OPERATIONS_CHECKPOINT,
    API_VM_OPERATIONS_SNAPSHOT_WITH_QUIESCE,
    API_VM_OPERATIONS_START,
    API_VM_OPERATIONS_START_ON,
    API_VM_OPERATIONS_PAUSE,
    API_VM_OPERATIONS_UNPAUSE,
    API_VM_OPERATIONS_CLEAN_SHUTDOWN,
    API_VM_OPERATIONS_CLEAN_REBOOT,
    API_VM_OPERATIONS_HARD_SHUTDOWN,
    API_VM_OPERATIONS_HARD_REBOOT,
    API_VM_OPERATIONS_SUSPEND,
    API_VM_OPERATIONS_RESUME,
    API_VM_OPERATIONS_RESUME_ON,
    API_VM_OPERATIONS_EXPORT,
    API_VM_OPERATIONS_DESTROY,
    API_VM_OPERATIONS_PROVISION,
    API_VM_OPERATIONS_CHANGING_VCPUS_LIVE,
    API_VM_OPERATIONS_POOL_MIGRATE,
    API_VM_OPERATIONS_MIGRATE_SEND,
    API_VM_OPERATIONS_MAKE_INTO_TEMPLATE,
    API_VM_OPERATIONS_CHANGING_STATIC_RANGE,
    API_VM_OPERATIONS_CHANGING_SHADOW_MEMORY,
    API_VM_OPERATIONS_CHANGING_DYNAMIC_RANGE,
};

bool vm_update_allowed_ops(const char *ref, struct api_VM *vm)
{
        const struct mtype *t = mclass_VM.fields[API_VM_F_allowed_operations].type;
        struct mset now = {0};
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
                struct api_error err = {0};
                if (vm_check_op(ref, vm, candidates[i], &err) == 0) {
                        int e = candidates[i];
                        mset_add(t->elem, &now, &e);
                }
                api_error_clear(&err);
        }
        bool same = model_slot_equal(t, &now, &vm->allowed_operations);
        if (same) {
                model_slot_free(t, &now);
                return false;
        }
        model_slot_free(t, &vm->allowed_operations);
        vm->allowed_operations = now;
        return true;
}

bool vm_restart_allowed(struct vm_restart_history *h, int64_t now_ms)
{
        if (h->n == VM_RESTART_LIMIT && now_ms - h->at_ms[h->next] < VM_RESTART_WINDOW_MS)
                return false; /* the oldest of the last LIMIT restarts is within the window */
        h->at_ms[h->next] = now_ms;
        h->next = (h->next + 1) % VM_RESTART_LIMIT;
        if (h->n < VM_RESTART_LIMIT)
                h->n++;
        return true;
}
