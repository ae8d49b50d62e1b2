/* Unit tests of xe's command-line parser (cli/xe_args.c): connection switches and their
 * key=value forms anywhere on the line, the command, key=value parameters, --flags, and
 * the errors XAPI's xe reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/xe_args.h"

#define PARSE(a, err, ...)                                                                         \
        ({                                                                                         \
                char *argv_[] = {"xe", __VA_ARGS__};                                               \
                xe_args_parse(sizeof argv_ / sizeof *argv_, argv_, (a), (err));                    \
        })

static void test_command_and_params(void **state)
{
        struct xe_args a;
        char *err = NULL;
        assert_int_equal(PARSE(&a, &err, "vm-list", "name-label=a=b", "--minimal", "params=uuid",
                               "empty=", "bare"),
                         0);
        assert_string_equal(a.cmd, "vm-list");
        assert_int_equal(a.n_params, 5);
        /* only the first '=' splits: values may hold '=' */
        assert_string_equal(xe_param(&a, "name-label"), "a=b");
        assert_string_equal(xe_param(&a, "minimal"), "true");
        assert_true(xe_flag(&a, "minimal"));
        assert_false(xe_flag(&a, "force"));
        assert_string_equal(xe_param(&a, "empty"), "");
        assert_string_equal(xe_param(&a, "bare"), "");
        assert_null(xe_param(&a, "absent"));
        assert_string_equal(a.params[0].key, "name-label"); /* command-line order kept */
        assert_string_equal(a.params[4].key, "bare");
        assert_null(a.server);
        xe_args_free(&a);
}

static void test_connection_options(void **state)
{
        struct xe_args a;
        char *err = NULL;
        assert_int_equal(PARSE(&a, &err, "-s", "host1", "vm-list", "-p", "8443", "-u", "root",
                               "-pw", "secret", "-socket", "/tmp/x.sock", "--debug", "uuid=1"),
                         0);
        assert_string_equal(a.server, "host1");
        assert_int_equal(a.port, 8443);
        assert_string_equal(a.user, "root");
        assert_string_equal(a.password, "secret");
        assert_string_equal(a.socket, "/tmp/x.sock");
        assert_true(a.debug);
        assert_string_equal(a.cmd, "vm-list");
        /* the connection options are not command parameters */
        assert_int_equal(a.n_params, 1);
        assert_string_equal(xe_param(&a, "uuid"), "1");
        xe_args_free(&a);

        /* newcli's key=value spellings, and -h as the server */
        assert_int_equal(PARSE(&a, &err, "server=h2", "host-list", "port=443", "username=u",
                               "password=p", "passwordfile=/f", "-h", "h3"),
                         0);
        assert_string_equal(a.server, "h3");
        assert_int_equal(a.port, 443);
        assert_string_equal(a.user, "u");
        assert_string_equal(a.password, "p");
        assert_string_equal(a.pwfile, "/f");
        assert_int_equal(a.n_params, 0);
        xe_args_free(&a);
}

static void test_errors(void **state)
{
        struct xe_args a;
        char *err = NULL;
        assert_int_equal(PARSE(&a, &err, "uuid=1"), -1);
        assert_string_equal(err, "Syntax error: command name is missing");
        free(err);
        xe_args_free(&a);
        assert_int_equal(PARSE(&a, &err, "vm-list", "-x", "1"), -1);
        assert_string_equal(err, "Unknown switch: -x");
        free(err);
        xe_args_free(&a);
        assert_int_equal(PARSE(&a, &err, "vm-list", "-p"), -1);
        assert_string_equal(err, "Switch -p requires a parameter");
        free(err);
        xe_args_free(&a);
        assert_int_equal(PARSE(&a, &err, "-p", "http", "vm-list"), -1);
        assert_string_equal(err, "Invalid port: http");
        free(err);
        xe_args_free(&a);
        assert_int_equal(PARSE(&a, &err, "port=70000", "vm-list"), -1);
        assert_string_equal(err, "Invalid port: 70000");
        free(err);
        xe_args_free(&a);
}

static void test_no_command(void **state)
{
        struct xe_args a;
        char *err = NULL;
        char *argv[] = {"xe"};
        assert_int_equal(xe_args_parse(1, argv, &a, &err), 0);
        assert_null(a.cmd);
        assert_int_equal(a.n_params, 0);
        xe_args_free(&a);
}

static void test_extra_args(void **state)
{
        struct xe_args a;
        char *err = NULL;
        assert_int_equal(PARSE(&a, &err, "-s", "cmdline", "vm-list", "name-label=x"), 0);
        assert_int_equal(xe_args_add_extra(&a,
                                           "server=env,port=8443,username=u,--minimal,"
                                           "name-label=y,other-config:k=a\\,b,,bare",
                                           &err),
                         0);
        assert_string_equal(a.server, "cmdline"); /* the command line wins */
        assert_int_equal(a.port, 8443);
        assert_string_equal(a.user, "u");
        assert_true(xe_flag(&a, "minimal"));
        assert_string_equal(xe_param(&a, "name-label"), "x");
        assert_string_equal(xe_param(&a, "other-config:k"), "a,b"); /* \, is a comma */
        assert_string_equal(xe_param(&a, "bare"), "");
        assert_int_equal(a.n_params, 5);
        assert_int_equal(xe_args_add_extra(&a, NULL, &err), 0);
        xe_args_free(&a);
        assert_int_equal(PARSE(&a, &err, "vm-list"), 0);
        assert_int_equal(xe_args_add_extra(&a, "port=none", &err), -1);
        assert_string_equal(err, "Invalid port: none");
        free(err);
        xe_args_free(&a);
}

static void test_std_params(void **state)
{
        assert_true(xe_is_std_param("minimal"));
        assert_true(xe_is_std_param("force"));
        assert_true(xe_is_std_param("params"));
        assert_false(xe_is_std_param("uuid"));
        assert_false(xe_is_std_param("name-label"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_command_and_params),
            cmocka_unit_test(test_connection_options),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_no_command),
            cmocka_unit_test(test_extra_args),
            cmocka_unit_test(test_std_params),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
