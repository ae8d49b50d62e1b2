/* Unit tests of common/: uuid, api_error, log levels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "common/uuid.h"

static void uuid_roundtrip(void **state)
{
        char a[UUID_STR_LEN], b[UUID_STR_LEN];
        uuid_generate_str(a);
        uuid_generate_str(b);
        assert_true(uuid_is_valid(a));
        assert_string_not_equal(a, b);
        assert_int_equal(a[14], '4');
        assert_true(strchr("89ab", a[19]) != NULL);
}

static void uuid_rejects(void **state)
{
        assert_false(uuid_is_valid(NULL));
        assert_false(uuid_is_valid(""));
        assert_false(uuid_is_valid("not-a-uuid"));
        assert_false(uuid_is_valid("0123456789abcdef0123456789abcdef0123"));
        assert_false(uuid_is_valid("01234567-89ab-cdef-0123-456789abcdeg"));
        assert_true(uuid_is_valid("01234567-89AB-cdef-0123-456789abcdef"));
}

static void api_error_params(void **state)
{
        struct api_error e = {0};
        assert_false(api_error_is_set(&e));
        assert_int_equal(api_error_set(&e, "HANDLE_INVALID", "VM", "OpaqueRef:x", NULL), -EINVAL);
        assert_string_equal(e.code, "HANDLE_INVALID");
        assert_int_equal(e.n_params, 2);
        assert_string_equal(e.params[1], "OpaqueRef:x");
        api_error_add_paramf(&e, "%d", 42);
        assert_string_equal(e.params[2], "42");
        struct api_error f = {0};
        api_error_move(&f, &e);
        assert_false(api_error_is_set(&e));
        assert_string_equal(f.code, "HANDLE_INVALID");
        api_error_clear(&f);
        api_error_clear(&f);
        api_error_clear(NULL);
}

static void log_levels(void **state)
{
        assert_int_equal(log_level_from_name("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_name("warning"), LOG_WARNING);
        assert_int_equal(log_level_from_name("bogus"), -1);
        assert_int_equal(log_set_level("no-such-module", LOG_DEBUG), -ENOENT);
        assert_int_equal(log_set_level("all", LOG_ERR), 0);
        assert_int_equal(log_get_default_level(), LOG_ERR);
        log_set_level("all", LOG_INFO);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(uuid_roundtrip),
            cmocka_unit_test(uuid_rejects),
            cmocka_unit_test(api_error_params),
            cmocka_unit_test(log_levels),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
