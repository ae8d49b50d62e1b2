/* Unit tests of common/config: value types, sections, quoting, errors with file:line,
 * unknown keys, overrides, environment, and the check-mode helper. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"

static const struct cfg_key schema[] = {
    {"rundir", CFG_STRING, "/run/xapid", 0, 0, "run directory"},
    {"debug", CFG_BOOL, "no", 0, 0, "debug mode"},
    {"workers", CFG_INT, "4", 1, 64, "worker threads"},
    {"offset", CFG_INT, "-5", 0, 0, "unbounded integer"},
    {"http.port", CFG_INT, "443", 1, 65535, "port"},
    {"http.banner", CFG_STRING, NULL, 0, 0, "banner"},
    {"http.max_body", CFG_SIZE, "1M", 1024, 1LL << 40, "largest body"},
    {"http.idle_timeout", CFG_DURATION, "90s", 100, 3600000, "idle timeout"},
    {"http.tls", CFG_BOOL, "yes", 0, 0, "tls"},
    {NULL},
};

static struct cfg *load(const char *text)
{
        struct cfg *cfg = cfg_new(schema);
        assert_non_null(cfg);
        cfg_load_string(cfg, "test.conf", text);
        return cfg;
}

static void defaults(void **state)
{
        struct cfg *cfg = cfg_new(schema);
        assert_int_equal(cfg_error_count(cfg), 0);
        assert_string_equal(cfg_get_str(cfg, "rundir"), "/run/xapid");
        assert_false(cfg_get_bool(cfg, "debug"));
        assert_int_equal(cfg_get_int(cfg, "workers"), 4);
        assert_int_equal(cfg_get_int(cfg, "offset"), -5);
        assert_int_equal(cfg_get_size(cfg, "http.max_body"), 1 << 20);
        assert_int_equal(cfg_get_duration_ms(cfg, "http.idle_timeout"), 90000);
        assert_null(cfg_get_str(cfg, "http.banner"));
        assert_false(cfg_is_set(cfg, "http.banner"));
        assert_true(cfg_is_set(cfg, "rundir"));
        /* Wrong type or unknown key: logged, answered with zero values, no crash. */
        assert_int_equal(cfg_get_int(cfg, "rundir"), 0);
        assert_null(cfg_get_str(cfg, "nope"));
        cfg_free(cfg);
        cfg_free(NULL);
}

static void every_type(void **state)
{
        struct cfg *cfg = load("# comment\n"
                               "  ; another comment\n"
                               "rundir = /tmp/run   # trailing comment\n"
                               "debug=on\n"
                               "workers = 0x10\n"
                               "offset = -123456789012\n"
                               "\n"
                               "[http]\n"
                               "port = 8080\r\n"
                               "banner = \"a \\\"quoted\\\" #not-comment\\n\\tline\\x41\"  # c\n"
                               "max_body = 64KiB\n"
                               "idle_timeout = 1500ms\n"
                               "tls = FALSE\n");
        for (size_t i = 0; i < cfg_error_count(cfg); i++)
                fprintf(stderr, "unexpected: %s\n", cfg_error(cfg, i));
        assert_int_equal(cfg_error_count(cfg), 0);
        assert_string_equal(cfg_get_str(cfg, "rundir"), "/tmp/run");
        assert_true(cfg_get_bool(cfg, "debug"));
        assert_int_equal(cfg_get_int(cfg, "workers"), 16);
        assert_true(cfg_get_int(cfg, "offset") == -123456789012LL);
        assert_int_equal(cfg_get_int(cfg, "http.port"), 8080);
        assert_string_equal(cfg_get_str(cfg, "http.banner"), "a \"quoted\" #not-comment\n\tlineA");
        assert_int_equal(cfg_get_size(cfg, "http.max_body"), 64 * 1024);
        assert_int_equal(cfg_get_duration_ms(cfg, "http.idle_timeout"), 1500);
        assert_false(cfg_get_bool(cfg, "http.tls"));
        cfg_free(cfg);

        cfg = load("rundir = 'lit\\eral # kept'\n[http]\nmax_body = 2G\nidle_timeout = 5m\n");
        assert_int_equal(cfg_error_count(cfg), 0);
        assert_string_equal(cfg_get_str(cfg, "rundir"), "lit\\eral # kept");
        assert_true(cfg_get_size(cfg, "http.max_body") == 2ULL << 30);
        assert_int_equal(cfg_get_duration_ms(cfg, "http.idle_timeout"), 300000);
        cfg_free(cfg);
}

static void parsers(void **state)
{
        uint64_t sz;
        int64_t ms, i;
        bool b;
        assert_int_equal(cfg_parse_size("10", &sz), 0);
        assert_int_equal(sz, 10);
        assert_int_equal(cfg_parse_size("3 M", &sz), 0);
        assert_int_equal(sz, 3 << 20);
        assert_int_equal(cfg_parse_size("1TB", &sz), 0);
        assert_true(sz == 1ULL << 40);
        assert_int_equal(cfg_parse_size("12X", &sz), -EINVAL);
        assert_int_equal(cfg_parse_size("-1", &sz), -EINVAL);
        assert_int_equal(cfg_parse_size("", &sz), -EINVAL);
        assert_int_equal(cfg_parse_size("99999999999999999999", &sz), -ERANGE);
        assert_int_equal(cfg_parse_size("17179869184G", &sz), -ERANGE);
        assert_int_equal(cfg_parse_duration_ms("2h", &ms), 0);
        assert_int_equal(ms, 7200000);
        assert_int_equal(cfg_parse_duration_ms("7", &ms), 0);
        assert_int_equal(ms, 7000);
        assert_int_equal(cfg_parse_duration_ms("7d", &ms), -EINVAL);
        assert_int_equal(cfg_parse_duration_ms("h", &ms), -EINVAL);
        assert_int_equal(cfg_parse_duration_ms("9999999999999999h", &ms), -ERANGE);
        assert_int_equal(cfg_parse_int("12abc", &i), -EINVAL);
        assert_int_equal(cfg_parse_int(" 1", &i), -EINVAL);
        assert_int_equal(cfg_parse_int("99999999999999999999", &i), -ERANGE);
        assert_int_equal(cfg_parse_bool("Off", &b), 0);
        assert_false(b);
        assert_int_equal(cfg_parse_bool("1", &b), 0);
        assert_true(b);
        assert_int_equal(cfg_parse_bool("maybe", &b), -EINVAL);
        assert_int_equal(cfg_parse_bool(NULL, &b), -EINVAL);
}

/* True when some recorded error is exactly EXPECTED. */
static bool has_error(const struct cfg *cfg, const char *expected)
{
        for (size_t i = 0; i < cfg_error_count(cfg); i++)
                if (strcmp(cfg_error(cfg, i), expected) == 0)
                        return true;
        for (size_t i = 0; i < cfg_error_count(cfg); i++)
                fprintf(stderr, "have: %s\n", cfg_error(cfg, i));
        fprintf(stderr, "missing: %s\n", expected);
        return false;
}

static void errors_with_lines(void **state)
{
        struct cfg *cfg = load("workers = 100\n"       /* 1: range */
                               "bogus = 1\n"           /* 2: unknown */
                               "debug = maybe\n"       /* 3: bool */
                               "[http]\n"              /* 4 */
                               "port = eighty\n"       /* 5: int */
                               "max_body = 10Q\n"      /* 6: size */
                               "idle_timeout = 10ms\n" /* 7: range (min 100) */
                               "banner = \"open\n"     /* 8: quote */
                               "just some words\n"     /* 9: syntax */
                               "[bad section\n"        /* 10 */
                               "[http]  junk\n"        /* 11 */
                               "[no/slash]\n"          /* 12 */
                               "port = 1\n"            /* 13: unknown ?.port */
                               "[http]\n"              /* 14 */
                               "banner = \"x\" y\n"    /* 15 */
                               "banner = \"\\q\"\n"    /* 16 */
                               "tls = yes\n");         /* 17: fine */
        assert_true(has_error(cfg, "test.conf:1: workers: 100 is out of range [1, 64]"));
        assert_true(has_error(cfg, "test.conf:2: unknown key \"bogus\""));
        assert_true(has_error(cfg, "test.conf:3: debug: \"maybe\" is not a boolean (yes/no, "
                                   "true/false, on/off, 1/0)"));
        assert_true(has_error(cfg, "test.conf:5: http.port: \"eighty\" is not an integer"));
        assert_true(has_error(cfg, "test.conf:6: http.max_body: \"10Q\" is not a size (e.g. "
                                   "512, 64K, 10M, 2G)"));
        assert_true(has_error(cfg, "test.conf:7: http.idle_timeout: 10ms is out of range "
                                   "[100 ms, 3600000 ms]"));
        assert_true(has_error(cfg, "test.conf:8: banner: unterminated quoted value"));
        assert_true(has_error(cfg, "test.conf:9: expected \"key = value\""));
        assert_true(has_error(cfg, "test.conf:10: section header without ']'"));
        assert_true(has_error(cfg, "test.conf:11: text after section header"));
        assert_true(has_error(cfg, "test.conf:12: bad section name \"no/slash\""));
        assert_true(has_error(cfg, "test.conf:13: unknown key \"?.port\""));
        assert_true(has_error(cfg, "test.conf:15: banner: text after the closing quote"));
        assert_true(has_error(cfg, "test.conf:16: banner: unknown escape in quoted value"));
        assert_int_equal(cfg_error_count(cfg), 14);
        /* Bad values leave the previous (default) value in place. */
        assert_int_equal(cfg_get_int(cfg, "workers"), 4);
        assert_int_equal(cfg_get_int(cfg, "http.port"), 443);
        cfg_free(cfg);
}

static void overrides_and_env(void **state)
{
        struct cfg *cfg = load("workers = 8\n");
        assert_int_equal(cfg_set_override(cfg, "workers=9"), 0);
        assert_int_equal(cfg_get_int(cfg, "workers"), 9);
        assert_int_equal(cfg_set_override(cfg, "http.banner = hello # world"), 0);
        assert_string_equal(cfg_get_str(cfg, "http.banner"), "hello # world");
        assert_int_equal(cfg_set_override(cfg, "novalue"), -EINVAL);
        assert_int_equal(cfg_set_override(cfg, "nokey=1"), -EINVAL);
        assert_int_equal(cfg_set_override(cfg, "workers=0"), -EINVAL);
        assert_true(has_error(cfg, "-o: expected key=value, got \"novalue\""));
        assert_true(has_error(cfg, "-o: unknown key \"nokey\""));
        assert_true(has_error(cfg, "-o: workers: 0 is out of range [1, 64]"));

        setenv("TSTEST_HTTP_IDLE_TIMEOUT", "2m", 1);
        setenv("TSTEST_HTTP_PORT", "0", 1);
        assert_int_equal(cfg_load_env(cfg, "TSTEST"), 1);
        unsetenv("TSTEST_HTTP_IDLE_TIMEOUT");
        unsetenv("TSTEST_HTTP_PORT");
        assert_int_equal(cfg_get_duration_ms(cfg, "http.idle_timeout"), 120000);
        assert_true(
            has_error(cfg, "env TSTEST_HTTP_PORT: http.port: 0 is out of range [1, 65535]"));

        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        cfg_dump(cfg, f);
        fclose(f);
        assert_non_null(strstr(buf, "workers = 9  # -o\n"));
        assert_non_null(strstr(buf, "http.banner = \"hello # world\"  # -o\n"));
        assert_non_null(strstr(buf, "http.idle_timeout = 2m  # env TSTEST_HTTP_IDLE_TIMEOUT\n"));
        assert_non_null(strstr(buf, "rundir = \"/run/xapid\"  # default\n"));
        free(buf);
        cfg_free(cfg);
}

static void bad_schema_default(void **state)
{
        static const struct cfg_key bad[] = {
            {"n", CFG_INT, "ten", 0, 0, "bad default"},
            {NULL},
        };
        struct cfg *cfg = cfg_new(bad);
        assert_true(has_error(cfg, "default: n: \"ten\" is not an integer"));
        cfg_free(cfg);
}

/* The -n helper: a real file, errors printed one a line, exit status 0 or 1. */
static void check_mode(void **state)
{
        char path[] = "/tmp/test_config_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        const char *text = "workers = 2\n[http]\nport = 99999\nzzz = 1\n";
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);

        struct cfg *cfg = cfg_new(schema);
        assert_int_equal(cfg_load_file(cfg, path, false), 0);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(cfg_report(cfg, f), 1);
        fclose(f);
        char expected[512];
        snprintf(expected, sizeof expected,
                 "%s:3: http.port: 99999 is out of range [1, 65535]\n"
                 "%s:4: unknown key \"http.zzz\"\n",
                 path, path);
        assert_string_equal(buf, expected);
        free(buf);
        cfg_free(cfg);

        /* A clean file reports nothing and returns 0. */
        fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "workers=3\n", 10), 10);
        close(fd);
        cfg = cfg_new(schema);
        assert_int_equal(cfg_load_file(cfg, path, false), 0);
        f = open_memstream(&buf, &len);
        assert_int_equal(cfg_report(cfg, f), 0);
        fclose(f);
        assert_string_equal(buf, "");
        free(buf);
        cfg_free(cfg);
        unlink(path);

        /* Missing file: an error unless allowed. */
        cfg = cfg_new(schema);
        assert_int_equal(cfg_load_file(cfg, path, true), -ENOENT);
        assert_int_equal(cfg_error_count(cfg), 0);
        assert_int_equal(cfg_load_file(cfg, path, false), -ENOENT);
        assert_int_equal(cfg_error_count(cfg), 1);
        assert_int_equal(cfg_report(cfg, stderr), 1);
        cfg_free(cfg);
}

static void hostile_input(void **state)
{
        /* A huge line, NUL bytes, and binary junk: errors, no crash. */
        size_t n = 20000;
        char *big = malloc(n + 16);
        memset(big, 'a', n);
        memcpy(big + n, " = 1\nx", 7);
        struct cfg *cfg = load(big);
        assert_true(has_error(cfg, "test.conf:1: line longer than 8192 bytes"));
        free(big);
        cfg_free(cfg);

        char path[] = "/tmp/test_config_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        static const char nul[] = "workers = 1\0junk\nworkers = 2\n";
        assert_int_equal(write(fd, nul, sizeof nul - 1), (ssize_t)sizeof nul - 1);
        close(fd);
        cfg = cfg_new(schema);
        assert_int_equal(cfg_load_file(cfg, path, false), 0);
        unlink(path);
        char expected[128];
        snprintf(expected, sizeof expected, "%s:1: NUL byte in line", path);
        assert_true(has_error(cfg, expected));
        assert_int_equal(cfg_get_int(cfg, "workers"), 2);
        cfg_free(cfg);

        cfg = cfg_new(schema);
        cfg_load_string(cfg, NULL, "\x01\x02\xff = \xfe\n[\xff]\n=\n[]\n");
        assert_true(cfg_error_count(cfg) >= 3);
        cfg_free(cfg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults),          cmocka_unit_test(every_type),
            cmocka_unit_test(parsers),           cmocka_unit_test(errors_with_lines),
            cmocka_unit_test(overrides_and_env), cmocka_unit_test(bad_schema_default),
            cmocka_unit_test(check_mode),        cmocka_unit_test(hostile_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
