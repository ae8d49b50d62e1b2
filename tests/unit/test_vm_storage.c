/* Unit tests of the VM and storage operation rules, on an in-memory datamodel: userdevice
 * names (vbd.c), XAPI's VM operation checks (vm_util.c), SR/VDI allowed and current
 * operations (storage_ops.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "api/model_gen.h"
#include "common/err.h"
#include "xapid/db.h"
#include "xapid/storage_ops.h"
#include "xapid/vbd.h"
#include "xapid/vm_checks.h"
#include "xapid/vm_util.h"

static struct db *db;

static int setup(void **state)
{
        assert_int_equal(model_init(), 0);
        assert_int_equal(db_new(&db), 0);
        return 0;
}

static int teardown(void **state)
{
        db_free(db);
        db = NULL;
        return 0;
}

static struct db_row *insert(const struct mclass *c, void *rec)
{
        struct db_row *row;
        assert_int_equal(db_insert(db, c, NULL, rec, &row), 0);
        return row;
}

static void expect_error(int r, struct api_error *e, const char *code, int param, const char *value)
{
        assert_true(r < 0);
        assert_string_equal(e->code, code);
        if (value != NULL) {
                assert_true((size_t)param < e->n_params);
                assert_string_equal(e->params[param], value);
        }
        api_error_clear(e);
}

static void device_numbers(void **state)
{
        assert_int_equal(vbd_device_number("0"), 0);
        assert_int_equal(vbd_device_number("3"), 3);
        assert_int_equal(vbd_device_number("xvda"), 0);
        assert_int_equal(vbd_device_number("xvdd"), 3);
        assert_int_equal(vbd_device_number("hdb"), 1);
        assert_int_equal(vbd_device_number("sdc"), 2);
        assert_int_equal(vbd_device_number("xvdaa"), 26);
        assert_int_equal(vbd_device_number(""), -1);
        assert_int_equal(vbd_device_number("xvd"), -1);
        assert_int_equal(vbd_device_number("3x"), -1);
        assert_int_equal(vbd_device_number("-1"), -1);
        assert_int_equal(vbd_device_number("nonsense"), -1);
        assert_int_equal(vbd_device_number("999"), -1);
}

static struct db_row *vm(int power, bool template, bool snapshot)
{
        struct api_VM *v = model_record_new(&mclass_VM);
        v->power_state = power;
        v->is_a_template = template;
        v->is_a_snapshot = snapshot;
        return insert(&mclass_VM, v);
}

static void vm_checks(void **state)
{
        struct api_error e = {0};
        struct db_row *running = vm(API_VM_POWER_STATE_RUNNING, false, false);
        expect_error(vm_check_op(running->ref, running->rec, API_VM_OPERATIONS_DESTROY, &e), &e,
                     "VM_BAD_POWER_STATE", 1, "halted, suspended");
        expect_error(vm_check_op(running->ref, running->rec, API_VM_OPERATIONS_CLONE, &e), &e,
                     "VM_BAD_POWER_STATE", 2, "running");
        assert_int_equal(vm_check_op(running->ref, running->rec, API_VM_OPERATIONS_SNAPSHOT, &e),
                         0);

        struct db_row *halted = vm(API_VM_POWER_STATE_HALTED, false, false);
        expect_error(vm_check_op(halted->ref, halted->rec, API_VM_OPERATIONS_PROVISION, &e), &e,
                     "PROVISION_ONLY_ALLOWED_ON_TEMPLATE", 0, NULL);
        expect_error(vm_check_op(halted->ref, halted->rec, API_VM_OPERATIONS_REVERT, &e), &e,
                     "REVERT_ONLY_ALLOWED_ON_SNAPSHOT", 0, NULL);

        struct db_row *tpl = vm(API_VM_POWER_STATE_HALTED, true, false);
        assert_int_equal(vm_check_op(tpl->ref, tpl->rec, API_VM_OPERATIONS_PROVISION, &e), 0);
        assert_int_equal(vm_check_op(tpl->ref, tpl->rec, API_VM_OPERATIONS_DESTROY, &e), 0);
        expect_error(vm_check_op(tpl->ref, tpl->rec, API_VM_OPERATIONS_SNAPSHOT, &e), &e,
                     "VM_IS_TEMPLATE", 0, tpl->ref);
        vmu_map_put(&mclass_VM, API_VM_F_other_config, tpl->rec, "default_template", "true");
        expect_error(vm_check_op(tpl->ref, tpl->rec, API_VM_OPERATIONS_DESTROY, &e), &e,
                     "VM_IS_TEMPLATE", 0, tpl->ref);

        struct db_row *snap = vm(API_VM_POWER_STATE_HALTED, true, true);
        assert_int_equal(vm_check_op(snap->ref, snap->rec, API_VM_OPERATIONS_REVERT, &e), 0);
        expect_error(vm_check_op(snap->ref, snap->rec, API_VM_OPERATIONS_PROVISION, &e), &e,
                     "VM_IS_SNAPSHOT", 0, snap->ref);

        /* copies go together; a snapshot waits for a clone */
        char key[80];
        vmu_op_begin(db, halted, API_VM_OPERATIONS_CLONE, "OpaqueRef:task", key, sizeof(key));
        assert_string_equal(key, "OpaqueRef:task");
        assert_int_equal(vm_check_op(halted->ref, halted->rec, API_VM_OPERATIONS_COPY, &e), 0);
        expect_error(vm_check_op(halted->ref, halted->rec, API_VM_OPERATIONS_SNAPSHOT, &e), &e,
                     "OTHER_OPERATION_IN_PROGRESS", 2, "clone");
        vmu_op_end(db, halted->ref, key);
        assert_int_equal(vm_check_op(halted->ref, halted->rec, API_VM_OPERATIONS_SNAPSHOT, &e), 0);

        struct api_VM *dom0 = model_record_new(&mclass_VM);
        dom0->is_control_domain = true;
        struct db_row *d0 = insert(&mclass_VM, dom0);
        expect_error(vm_check_op(d0->ref, d0->rec, API_VM_OPERATIONS_DESTROY, &e), &e,
                     "OPERATION_NOT_ALLOWED", 0, "This operation is not allowed on dom0");
}

static bool has(const struct mset *s, int v)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].e == v)
                        return true;
        return false;
}

static void vdi_and_sr_operations(void **state)
{
        struct api_error e = {0};
        struct api_SM *sm = model_record_new(&mclass_SM);
        vmu_set_str(&sm->type, "iso");
        const char *cap = "VDI_INTRODUCE";
        mset_add(mclass_SM.fields[API_SM_F_capabilities].type->elem, &sm->capabilities, &cap);
        insert(&mclass_SM, sm);
        struct api_SR *isosr = model_record_new(&mclass_SR);
        vmu_set_str(&isosr->type, "iso");
        struct db_row *iso = insert(&mclass_SR, isosr);
        struct api_SR *filesr = model_record_new(&mclass_SR);
        vmu_set_str(&filesr->type, "file"); /* no SM record: the driver judges */
        struct db_row *sr = insert(&mclass_SR, filesr);

        struct api_VDI *v = model_record_new(&mclass_VDI);
        vmu_set_str(&v->SR, sr->ref);
        struct db_row *vdi = insert(&mclass_VDI, v);
        struct api_VDI *iv = model_record_new(&mclass_VDI);
        vmu_set_str(&iv->SR, iso->ref);
        struct db_row *isovdi = insert(&mclass_VDI, iv);
        expect_error(storage_vdi_check_op(db, isovdi, API_VDI_OPERATIONS_CLONE, &e), &e,
                     "SR_OPERATION_NOT_SUPPORTED", 0, iso->ref);
        storage_update_allowed_all(db);
        assert_true(
            has(&((struct api_VDI *)vdi->rec)->allowed_operations, API_VDI_OPERATIONS_DESTROY));
        assert_false(
            has(&((struct api_VDI *)isovdi->rec)->allowed_operations, API_VDI_OPERATIONS_CLONE));

        /* attached: no destroy, no resize */
        struct api_VBD *b = model_record_new(&mclass_VBD);
        vmu_set_str(&b->VDI, vdi->ref);
        b->currently_attached = true;
        insert(&mclass_VBD, b);
        storage_vdi_update_allowed(db, vdi);
        assert_false(
            has(&((struct api_VDI *)vdi->rec)->allowed_operations, API_VDI_OPERATIONS_DESTROY));
        expect_error(storage_vdi_check_op(db, vdi, API_VDI_OPERATIONS_RESIZE, &e), &e, "VDI_IN_USE",
                     1, "resize");

        /* a copy runs beside a copy; anything else is exclusive */
        char key[80];
        storage_vdi_op_begin(db, vdi, API_VDI_OPERATIONS_COPY, NULL, key, sizeof(key));
        assert_int_equal(strncmp(key, "OpaqueRef:", 10), 0);
        assert_int_equal(storage_vdi_check_op(db, vdi, API_VDI_OPERATIONS_COPY, &e), 0);
        expect_error(storage_vdi_check_op(db, vdi, API_VDI_OPERATIONS_SNAPSHOT, &e), &e,
                     "OTHER_OPERATION_IN_PROGRESS", 0, "VDI");
        assert_true(
            has(&((struct api_VDI *)vdi->rec)->allowed_operations, API_VDI_OPERATIONS_COPY));
        assert_false(
            has(&((struct api_VDI *)vdi->rec)->allowed_operations, API_VDI_OPERATIONS_CLONE));
        storage_vdi_op_end(db, vdi->ref, key);
        assert_true(
            has(&((struct api_VDI *)vdi->rec)->allowed_operations, API_VDI_OPERATIONS_CLONE));

        /* SR: not empty, no PBD; a scan in progress blocks unplug, not VDI work */
        expect_error(storage_sr_check_op(db, sr, API_STORAGE_OPERATIONS_DESTROY, &e), &e,
                     "SR_HAS_NO_PBDS", 0, sr->ref);
        struct api_PBD *p = model_record_new(&mclass_PBD);
        vmu_set_str(&p->SR, sr->ref);
        p->currently_attached = true;
        insert(&mclass_PBD, p);
        expect_error(storage_sr_check_op(db, sr, API_STORAGE_OPERATIONS_DESTROY, &e), &e,
                     "SR_NOT_EMPTY", 0, NULL);
        expect_error(storage_sr_check_op(db, sr, API_STORAGE_OPERATIONS_FORGET, &e), &e,
                     "SR_HAS_PBD", 0, sr->ref);
        storage_sr_op_begin(db, sr, API_STORAGE_OPERATIONS_SCAN, "OpaqueRef:t", key, sizeof(key));
        expect_error(storage_sr_check_op(db, sr, API_STORAGE_OPERATIONS_UNPLUG, &e), &e,
                     "OTHER_OPERATION_IN_PROGRESS", 2, "scan");
        assert_int_equal(storage_sr_check_op(db, sr, API_STORAGE_OPERATIONS_VDI_CREATE, &e), 0);
        assert_false(
            has(&((struct api_SR *)sr->rec)->allowed_operations, API_STORAGE_OPERATIONS_UNPLUG));
        storage_sr_op_end(db, sr->ref, key);
        assert_true(
            has(&((struct api_SR *)sr->rec)->allowed_operations, API_STORAGE_OPERATIONS_UNPLUG));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(device_numbers),
            cmocka_unit_test_setup_teardown(vm_checks, setup, teardown),
            cmocka_unit_test_setup_teardown(vdi_and_sr_operations, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
