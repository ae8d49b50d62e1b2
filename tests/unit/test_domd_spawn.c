/* Unit tests of xapid/domd_spawn: exits of domd children reach the owner and end
 * domd_spawn_running(), also when the child was reaped before the spawning thread had
 * recorded its pid (the reap race), directly or through the zygote.  The domd is /bin/true,
 * which exits at once; this program's posix_spawn wraps the C library's to hold the
 * spawning thread, when asked, until the event loop has reaped the child, which makes the
 * race deterministic. */
#include <dlfcn.h>
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "xapid/domd_spawn.h"

static atomic_bool hold_until_reaped;
static atomic_int children_held;

typedef int (*posix_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                              const posix_spawnattr_t *, char *const[], char *const[]);

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
        posix_spawn_fn real = (posix_spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
        if (real == NULL)
                return ENOSYS;
        int e = real(pid, path, fa, attr, argv, envp);
        if (e == 0 && atomic_load(&hold_until_reaped)) {
                /* a zombie still answers kill(pid, 0); a reaped child not */
                for (int i = 0; i < 5000 && kill(*pid, 0) == 0; i++)
                        sleep_ms(1);
                atomic_fetch_add(&children_held, 1);
        }
        return e;
}

struct exits {
        char uuid[8][40];
        int status[8];
        int n;
};

static void on_exited(void *arg, const char *uuid, int status)
{
        struct exits *x = arg;
        if (x->n < 8) {
                snprintf(x->uuid[x->n], sizeof(x->uuid[0]), "%s", uuid);
                x->status[x->n] = status;
        }
        x->n++;
}

/* Runs BASE until N exits were reported or 10 s passed. */
static void loop_until(struct event_base *base, struct exits *x, int n)
{
        for (int i = 0; i < 1000 && x->n < n; i++) {
                struct timeval tv = {0, 10000};
                event_base_loopexit(base, &tv);
                event_base_dispatch(base);
        }
}

static const char *const VM1 = "0f6bc4a2-3a1e-4c1e-9d6a-2c5d0b8a7e11";
static const char *const VM2 = "7d1e9a3c-52b0-4f7e-8a61-0c3b9e2d4f22";

static void run(bool hold)
{
        atomic_store(&hold_until_reaped, hold);
        atomic_store(&children_held, 0);
        struct event_base *base = event_base_new();
        assert_non_null(base);
        struct exits x = {0};
        struct domd_spawn_config cfg = {.domd_path = "/bin/true"};
        struct domd_spawner *s = NULL;
        assert_int_equal(domd_spawner_new(base, &cfg, on_exited, &x, &s), 0);

        assert_int_equal(domd_spawn(s, VM1), 0);
        assert_true(domd_spawn_running(s, VM1));
        loop_until(base, &x, 1);
        assert_int_equal(x.n, 1);
        assert_string_equal(x.uuid[0], VM1);
        assert_true(WIFEXITED(x.status[0]) && WEXITSTATUS(x.status[0]) == 0);
        assert_false(domd_spawn_running(s, VM1));

        /* the VM's domd can be started again, and another VM's */
        assert_int_equal(domd_spawn(s, VM1), 0);
        assert_int_equal(domd_spawn(s, VM2), 0);
        loop_until(base, &x, 3);
        assert_int_equal(x.n, 3);
        assert_false(domd_spawn_running(s, VM1));
        assert_false(domd_spawn_running(s, VM2));
        if (hold)
                assert_int_equal(atomic_load(&children_held), 3);

        domd_spawner_free(s);
        event_base_free(base);
        atomic_store(&hold_until_reaped, false);
}

/* the ordinary order: the pid is recorded, then the child is reaped */
static void exit_reported(void **state)
{
        (void)state;
        run(false);
}

/* the race: the child is reaped before the spawning thread records its pid */
static void exit_reaped_before_pid_recorded(void **state)
{
        (void)state;
        run(true);
}

/* Through the zygote (the real domd binary, B/bin/domd): domds that fail at once (an
 * unknown configuration key) are the zygote's children; it reaps them and reports their
 * exits, often before the spawning thread has recorded the pid.  Unreported exits would
 * leave the VMs' domds "running" for ever. */
static void exits_reported_by_the_zygote(void **state)
{
        (void)state;
        char domd[512];
        const char *b = getenv("B");
        snprintf(domd, sizeof domd, "%s/bin/domd", b != NULL ? b : "build");
        if (access(domd, X_OK) != 0)
                skip();
        struct event_base *base = event_base_new();
        assert_non_null(base);
        struct exits x = {0};
        const char *const overrides[] = {"no.such.key=1"};
        struct domd_spawn_config cfg = {
            .domd_path = domd, .zygote = true, .overrides = overrides, .n_overrides = 1};
        struct domd_spawner *s = NULL;
        assert_int_equal(domd_spawner_new(base, &cfg, on_exited, &x, &s), 0);
        const char *const vms[] = {VM1, VM2, VM1, VM2, VM1, VM2};
        for (size_t i = 0; i < 6; i++) {
                assert_int_equal(domd_spawn(s, vms[i]), 0);
                loop_until(base, &x, (int)i + 1);
                assert_int_equal(x.n, (int)i + 1);
                assert_string_equal(x.uuid[i], vms[i]);
                assert_true(WIFEXITED(x.status[i]) && WEXITSTATUS(x.status[i]) == 1);
                assert_false(domd_spawn_running(s, vms[i]));
        }
        domd_spawner_free(s);
        event_base_free(base);
}

static void bad_uuid_refused(void **state)
{
        (void)state;
        struct event_base *base = event_base_new();
        struct exits x = {0};
        struct domd_spawn_config cfg = {.domd_path = "/bin/true"};
        struct domd_spawner *s = NULL;
        assert_int_equal(domd_spawner_new(base, &cfg, on_exited, &x, &s), 0);
        assert_int_equal(domd_spawn(s, "not-a-uuid"), -EINVAL);
        assert_false(domd_spawn_running(s, "not-a-uuid"));
        domd_spawner_free(s);
        event_base_free(base);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(exit_reported),
            cmocka_unit_test(exit_reaped_before_pid_recorded),
            cmocka_unit_test(exits_reported_by_the_zygote),
            cmocka_unit_test(bad_uuid_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
