/* The file SR driver for real: images made by qemu-img in a temporary directory, data written
 * and checked with qemu-io, crash safety by SIGKILLing a clone at its crash points. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "stord/driver.h"
#include "stord/qcow2.h"
#include "stord/qimg.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

struct fx {
        char dir[64];
        char sr_uuid[UUID_STR_LEN];
        struct sd_sr *sr;
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        char cmd[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        int st = system(cmd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct sd_sr *open_sr(const char *dir, const char *uuid)
{
        struct sd_map dc = {0};
        struct sd_sr *sr = NULL;
        struct sd_error e;
        assert_int_equal(sd_map_set(&dc, "location", dir), 0);
        int rc = sd_sr_open("file", uuid, &dc, &sr, &e);
        if (rc < 0)
                fail_msg("open: %s", e.reason);
        sd_map_clear(&dc);
        return sr;
}

static int setup(void **state)
{
        struct fx *f = calloc(1, sizeof *f);
        snprintf(f->dir, sizeof f->dir, "/tmp/test_drv_file.XXXXXX");
        if (mkdtemp(f->dir) == NULL)
                return -1;
        uuid_generate_str(f->sr_uuid);
        char sub[96];
        snprintf(sub, sizeof sub, "%s/sr", f->dir);
        f->sr = open_sr(sub, f->sr_uuid);
        struct sd_error e;
        if (sd_sr_create(f->sr, 0, &e) < 0 || sd_sr_attach(f->sr, &e) < 0) {
                print_error("sr: %s\n", e.reason);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;
        sd_sr_close(f->sr);
        sh("rm -rf %s", f->dir);
        free(f);
        return 0;
}

static void create(struct fx *f, enum sd_format fmt, uint64_t size, struct sd_vdi *v)
{
        struct sd_error e;
        struct sd_vdi_create_args a = {.virtual_size = size, .format = fmt};
        if (sd_vdi_create(f->sr, &a, v, &e) < 0)
                fail_msg("create: %s", e.reason);
}

static int qio(struct fx *f, const char *loc, const char *fmt, const char *cmd)
{
        return sh("qemu-io -f %s -c '%s' %s/sr/%s.%s >/dev/null 2>&1", fmt, cmd, f->dir, loc, fmt);
}

static void create_scan_delete(void **state)
{
        struct fx *f = *state;
        struct sd_vdi q, r;
        struct sd_error e;
        create(f, SD_FMT_QCOW2, 64 * MiB, &q);
        create(f, SD_FMT_RAW, 32 * MiB, &r);
        assert_int_equal(q.virtual_size, 64 * MiB);
        assert_int_equal(r.format, SD_FMT_RAW);
        assert_string_equal(q.type, "user");
        struct sd_vdi_list l;
        assert_int_equal(sd_sr_scan(f->sr, &l, &e), 0);
        assert_int_equal(l.n, 2);
        assert_non_null(sd_vdi_list_find(&l, q.location));
        assert_int_equal(sd_vdi_list_find(&l, r.location)->virtual_size, 32 * MiB);
        sd_vdi_list_clear(&l);

        struct sd_attach at;
        assert_int_equal(sd_vdi_attach(f->sr, r.location, false, &at, &e), 0);
        assert_int_equal(at.format, SD_FMT_RAW);
        assert_false(at.is_block_device);
        assert_int_equal(access(at.path, R_OK | W_OK), 0);
        sd_attach_clear(&at);

        assert_int_equal(sd_vdi_delete(f->sr, r.location, &e), 0);
        assert_int_equal(sd_vdi_delete(f->sr, r.location, &e), -ENOENT);
        assert_int_equal(e.sm_code, SM_VDI_MISSING);
        assert_int_equal(sd_vdi_delete(f->sr, "../../etc/passwd", &e), -EINVAL);
        /* SR delete refuses while a VDI is left */
        assert_int_equal(sd_sr_delete(f->sr, &e), -ENOTEMPTY);
        assert_int_equal(e.sm_code, SM_SR_NOT_EMPTY);
        struct api_error ae = {0};
        sd_error_to_api(&e, &ae);
        assert_string_equal(ae.code, "SR_BACKEND_FAILURE_39");
        api_error_clear(&ae);
        assert_int_equal(sd_vdi_delete(f->sr, q.location, &e), 0);
        sd_vdi_clear(&q);
        sd_vdi_clear(&r);
}

static void snapshot_keeps_data(void **state)
{
        struct fx *f = *state;
        struct sd_vdi a, s, c;
        struct sd_error e;
        create(f, SD_FMT_QCOW2, 16 * MiB, &a);
        assert_int_equal(qio(f, a.location, "qcow2", "write -P 0xAA 0 1M"), 0);
        assert_int_equal(sd_vdi_snapshot(f->sr, a.location, &s, &e), 0);
        assert_true(s.is_a_snapshot);
        assert_string_equal(s.snapshot_of, a.location);
        assert_non_null(s.snapshot_time);
        assert_non_null(s.parent);
        /* A kept its location and is now an overlay on the same base */
        struct sd_vdi a2;
        assert_int_equal(sd_vdi_introduce(f->sr, a.location, &a2, &e), 0);
        assert_string_equal(a2.parent, s.parent);
        char base[UUID_STR_LEN];
        snprintf(base, sizeof base, "%s", s.parent);

        assert_int_equal(qio(f, a.location, "qcow2", "write -P 0xBB 0 1M"), 0);
        assert_int_equal(qio(f, s.location, "qcow2", "read -P 0xAA 0 1M"), 0);
        assert_int_equal(qio(f, a.location, "qcow2", "read -P 0xBB 0 1M"), 0);
        assert_int_not_equal(qio(f, s.location, "qcow2", "read -P 0xBB 0 1M"), 0);

        /* clone equals its source */
        assert_int_equal(sd_vdi_clone(f->sr, a.location, &c, &e), 0);
        assert_false(c.is_a_snapshot);
        assert_null(c.snapshot_of);
        assert_int_equal(sh("qemu-img compare -q %s/sr/%s.qcow2 %s/sr/%s.qcow2", f->dir, a.location,
                            f->dir, c.location),
                         0);
        assert_int_equal(sh("qemu-img check -q %s/sr/%s.qcow2", f->dir, c.location), 0);

        struct sd_vdi_list l;
        assert_int_equal(sd_sr_scan(f->sr, &l, &e), 0);
        assert_int_equal(l.n, 3); /* A, S, C; the two bases are hidden */
        const char *snaps[4];
        assert_int_equal(sd_vdi_list_snapshots(&l, a.location, snaps, 4), 1);
        assert_string_equal(snaps[0], s.location);
        assert_null(sd_vdi_list_find(&l, base));
        sd_vdi_list_clear(&l);

        /* deleting everything that uses the first base removes it */
        char bpath[256];
        snprintf(bpath, sizeof bpath, "%s/sr/%s.qcow2", f->dir, base);
        assert_int_equal(access(bpath, F_OK), 0);
        assert_int_equal(sd_vdi_delete(f->sr, s.location, &e), 0);
        assert_int_equal(access(bpath, F_OK), 0); /* A and C still need it (through C's base) */
        assert_int_equal(sd_vdi_delete(f->sr, c.location, &e), 0);
        assert_int_equal(sd_vdi_delete(f->sr, a.location, &e), 0);
        assert_int_equal(access(bpath, F_OK), -1);
        assert_int_equal(sh("test -z \"$(ls %s/sr)\"", f->dir), 0);
        sd_vdi_clear(&a);
        sd_vdi_clear(&a2);
        sd_vdi_clear(&s);
        sd_vdi_clear(&c);
}

static void resize_and_space(void **state)
{
        struct fx *f = *state;
        struct sd_vdi a;
        struct sd_error e;
        create(f, SD_FMT_QCOW2, 16 * MiB, &a);
        assert_int_equal(sd_vdi_resize(f->sr, a.location, 8 * MiB, &e), -EINVAL);
        assert_string_equal(e.api_code, "VDI_TOO_SMALL");
        assert_int_equal(sd_vdi_resize(f->sr, a.location, 32 * MiB, &e), 0);
        struct sd_vdi b;
        assert_int_equal(sd_vdi_introduce(f->sr, a.location, &b, &e), 0);
        assert_int_equal(b.virtual_size, 32 * MiB);

        /* physical utilisation grows with writes */
        assert_int_equal(qio(f, a.location, "qcow2", "write -P 0x11 0 4M"), 0);
        struct sd_vdi c;
        assert_int_equal(sd_vdi_introduce(f->sr, a.location, &c, &e), 0);
        assert_true(c.physical_utilisation >= b.physical_utilisation + 4 * MiB);

        /* more than the filesystem could ever hold */
        struct sd_sr_stat st;
        assert_int_equal(sd_sr_stat(f->sr, &st, &e), 0);
        assert_true(st.physical_size > 0);
        assert_true(st.virtual_allocation >= 32 * MiB);
        struct sd_vdi_create_args big = {.virtual_size = st.physical_size + GiB,
                                         .format = SD_FMT_RAW};
        struct sd_vdi d;
        assert_int_equal(sd_vdi_create(f->sr, &big, &d, &e), -ENOSPC);
        assert_string_equal(e.api_code, "SR_FULL");
        struct api_error ae = {0};
        sd_error_to_api(&e, &ae);
        assert_string_equal(ae.code, "SR_FULL");
        assert_int_equal(ae.n_params, 2);
        api_error_clear(&ae);
        assert_int_equal(sd_vdi_resize(f->sr, a.location, st.physical_size + GiB, &e), -ENOSPC);
        sd_vdi_clear(&a);
        sd_vdi_clear(&b);
        sd_vdi_clear(&c);
}

static void copy_to_other_sr(void **state)
{
        struct fx *f = *state;
        struct sd_vdi a, c;
        struct sd_error e;
        char dir2[96], uuid2[UUID_STR_LEN];
        snprintf(dir2, sizeof dir2, "%s/sr2", f->dir);
        uuid_generate_str(uuid2);
        struct sd_sr *sr2 = open_sr(dir2, uuid2);
        assert_int_equal(sd_sr_create(sr2, 0, &e), 0);
        create(f, SD_FMT_QCOW2, 8 * MiB, &a);
        assert_int_equal(qio(f, a.location, "qcow2", "write -P 0x5A 1M 1M"), 0);
        /* copy a snapshotted (chained) VDI: the copy is flat */
        struct sd_vdi s;
        assert_int_equal(sd_vdi_snapshot(f->sr, a.location, &s, &e), 0);
        assert_int_equal(sd_vdi_copy(f->sr, a.location, sr2, SD_FMT_RAW, &c, &e), 0);
        assert_int_equal(c.format, SD_FMT_RAW);
        assert_int_equal(c.virtual_size, 8 * MiB);
        assert_null(c.parent);
        assert_int_equal(sh("qemu-img compare -q %s/sr/%s.qcow2 %s/%s.raw", f->dir, a.location,
                            dir2, c.location),
                         0);
        /* the wrong SR uuid is refused */
        struct sd_sr *wrong = open_sr(dir2, f->sr_uuid);
        assert_int_equal(sd_sr_attach(wrong, &e), -EEXIST);
        sd_sr_close(wrong);
        sd_sr_close(sr2);
        sd_vdi_clear(&a);
        sd_vdi_clear(&s);
        sd_vdi_clear(&c);
}

static void scan_sees_outside_changes(void **state)
{
        struct fx *f = *state;
        struct sd_vdi a;
        struct sd_error e;
        create(f, SD_FMT_QCOW2, 8 * MiB, &a);
        char other[UUID_STR_LEN];
        uuid_generate_str(other);
        assert_int_equal(sh("qemu-img create -q -f qcow2 %s/sr/%s.qcow2 4M", f->dir, other), 0);
        assert_int_equal(sh("touch %s/sr/notes.txt %s/sr/.tmp-junk", f->dir, f->dir), 0);
        struct sd_vdi_list l;
        assert_int_equal(sd_sr_scan(f->sr, &l, &e), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(sd_vdi_list_find(&l, other)->virtual_size, 4 * MiB);
        sd_vdi_list_clear(&l);
        assert_int_equal(sh("test -e %s/sr/.tmp-junk", f->dir), 1);
        assert_int_equal(sh("rm %s/sr/%s.qcow2", f->dir, a.location), 0);
        assert_int_equal(sd_sr_scan(f->sr, &l, &e), 0);
        assert_int_equal(l.n, 1);
        assert_null(sd_vdi_list_find(&l, a.location));
        sd_vdi_list_clear(&l);
        /* probe finds the SR */
        struct sd_map dc = {0};
        struct sd_probe p;
        char loc[96];
        snprintf(loc, sizeof loc, "%s/sr", f->dir);
        sd_map_set(&dc, "location", loc);
        assert_int_equal(sd_sr_probe("file", &dc, &p, &e), 0);
        assert_int_equal(p.n, 1);
        assert_string_equal(p.srs[0].uuid, f->sr_uuid);
        char *xml = sd_probe_to_xml(&p);
        assert_non_null(strstr(xml, f->sr_uuid));
        free(xml);
        sd_probe_clear(&p);
        sd_map_clear(&dc);
        sd_vdi_clear(&a);
}

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void clone_is_fast(void **state)
{
        struct fx *f = *state;
        struct sd_vdi a, c;
        struct sd_error e;
        create(f, SD_FMT_QCOW2, 10 * GiB, &a);
        double best = 1e9;
        for (int i = 0; i < 3; i++) {
                double t0 = now_ms();
                assert_int_equal(sd_vdi_clone(f->sr, a.location, &c, &e), 0);
                double dt = now_ms() - t0;
                best = dt < best ? dt : best;
                assert_int_equal(c.virtual_size, 10 * GiB);
                sd_vdi_clear(&c);
        }
        printf("# clone of a 10 GiB qcow2 VDI: best %.1f ms of 3\n", best);
        assert_true(best < 50.0);
        /* the overlays we write are valid qcow2 for qemu-img */
        assert_int_equal(sh("qemu-img check -q %s/sr/%s.qcow2", f->dir, a.location), 0);
        struct qimg_info qi;
        char p[256];
        snprintf(p, sizeof p, "%s/sr/%s.qcow2", f->dir, a.location);
        assert_int_equal(qimg_info(p, &qi, &e), 0);
        assert_int_equal(qi.virtual_size, 10 * GiB);
        assert_non_null(qi.backing);
        qimg_info_clear(&qi);
        sd_vdi_clear(&a);
}

/* A clone killed at each crash point leaves either no clone or a whole one. */
static void clone_crash_safety(void **state)
{
        struct fx *f = *state;
        static const char *const points[] = {"clone-after-intent", "clone-after-overlays",
                                             "clone-after-link", "clone-after-commit",
                                             "clone-after-new"};
        struct sd_vdi a;
        struct sd_error e;
        create(f, SD_FMT_QCOW2, 8 * MiB, &a);
        assert_int_equal(qio(f, a.location, "qcow2", "write -P 0xAA 0 1M"), 0);
        size_t expect = 1;
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
                fflush(NULL);
                pid_t pid = fork();
                if (pid == 0) {
                        setenv("STORD_CRASHPOINT", points[i], 1);
                        struct sd_vdi c;
                        struct sd_sr *sr = open_sr(f->sr->path, f->sr_uuid);
                        sd_vdi_clone(sr, a.location, &c, NULL);
                        _exit(0);
                }
                int st;
                assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
                assert_true(WIFSTOPPED(st));
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);

                struct sd_vdi_list l;
                assert_int_equal(sd_sr_scan(f->sr, &l, &e), 0);
                /* before the commit the clone is undone; after it, finished */
                if (i >= 3)
                        expect++;
                assert_int_equal(l.n, expect);
                for (size_t j = 0; j < l.n; j++)
                        assert_int_equal(
                            sh("qemu-img check -q %s/sr/%s.qcow2", f->dir, l.v[j].location), 0);
                sd_vdi_list_clear(&l);
                assert_int_equal(sh("ls -a %s/sr | grep -q '^\\.tmp-'", f->dir), 1);
                assert_int_equal(qio(f, a.location, "qcow2", "read -P 0xAA 0 1M"), 0);
                /* no unreferenced base stays behind: images = visible + bases in use */
                assert_int_equal(sh("test $(ls %s/sr | wc -l) -le %zu", f->dir, 2 * expect), 0);
        }
        sd_vdi_clear(&a);
}

static void raw_clone_is_copy(void **state)
{
        struct fx *f = *state;
        struct sd_vdi a, s;
        struct sd_error e;
        create(f, SD_FMT_RAW, 4 * MiB, &a);
        assert_int_equal(qio(f, a.location, "raw", "write -P 0xCC 0 1M"), 0);
        assert_int_equal(sd_vdi_snapshot(f->sr, a.location, &s, &e), 0);
        assert_int_equal(s.format, SD_FMT_RAW);
        assert_true(s.is_a_snapshot);
        assert_null(s.parent);
        assert_int_equal(qio(f, a.location, "raw", "write -P 0xDD 0 1M"), 0);
        assert_int_equal(qio(f, s.location, "raw", "read -P 0xCC 0 1M"), 0);
        sd_vdi_clear(&a);
        sd_vdi_clear(&s);
}

static void parsers(void **state)
{
        struct qimg_info qi;
        assert_int_equal(qimg_info_parse("{\"virtual-size\": 1024, \"format\": \"qcow2\", "
                                         "\"actual-size\": 200704, \"backing-filename\": \"b\"}",
                                         &qi),
                         0);
        assert_int_equal(qi.virtual_size, 1024);
        assert_int_equal(qi.actual_size, 200704);
        assert_string_equal(qi.backing, "b");
        qimg_info_clear(&qi);
        assert_int_equal(qimg_info_parse("{\"virtual-size\": 1, \"format\": \"vmdk\"}", &qi),
                         -ENOTSUP);
        assert_int_equal(qimg_info_parse("[", &qi), -EBADMSG);
        assert_int_equal(qimg_info_parse("{\"format\": \"raw\"}", &qi), -EBADMSG);
        /* qcow2 header reader on our own overlay and on junk */
        char p[] = "/tmp/test_qcow2.XXXXXX";
        int fd = mkstemp(p);
        assert_true(fd >= 0);
        assert_int_equal(qcow2_write_overlay(fd, 3 * GiB, "base.qcow2", "qcow2"), 0);
        struct qcow2_header h;
        assert_int_equal(qcow2_read_header(fd, &h), 0);
        assert_int_equal(h.size, 3 * GiB);
        assert_string_equal(h.backing, "base.qcow2");
        assert_string_equal(h.backing_fmt, "qcow2");
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(write(fd, "QFI\xfbjunk", 8), 8);
        assert_int_equal(qcow2_read_header(fd, &h), -EBADMSG);
        close(fd);
        unlink(p);
        /* unsupported operations of a driver */
        struct sd_error e;
        assert_null(sd_driver_find("nope"));
        assert_true(sd_driver_has_capability(&sd_driver_file, "VDI_SNAPSHOT"));
        assert_false(sd_driver_has_capability(&sd_driver_iso, "VDI_CREATE"));
        struct sd_map dc = {0};
        struct sd_sr *sr;
        assert_int_equal(sd_sr_open("file", "not-a-uuid", &dc, &sr, &e), -EINVAL);
        char u[UUID_STR_LEN];
        uuid_generate_str(u);
        assert_int_equal(sd_sr_open("file", u, &dc, &sr, &e), -EINVAL);
        assert_int_equal(e.sm_code, SM_CONFIG_LOCATION_MISSING);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(parsers),
            cmocka_unit_test_setup_teardown(create_scan_delete, setup, teardown),
            cmocka_unit_test_setup_teardown(snapshot_keeps_data, setup, teardown),
            cmocka_unit_test_setup_teardown(resize_and_space, setup, teardown),
            cmocka_unit_test_setup_teardown(copy_to_other_sr, setup, teardown),
            cmocka_unit_test_setup_teardown(scan_sees_outside_changes, setup, teardown),
            cmocka_unit_test_setup_teardown(clone_is_fast, setup, teardown),
            cmocka_unit_test_setup_teardown(clone_crash_safety, setup, teardown),
            cmocka_unit_test_setup_teardown(raw_clone_is_copy, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
