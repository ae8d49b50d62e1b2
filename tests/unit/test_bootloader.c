/* Unit tests of domd's PV bootloader step (domd/bootloader.c): XAPI's errors for unknown
 * bootloaders and unusable boot disks, pygrub's output and failures through a stand-in
 * script (TS_PYGRUB), and Xen's real pygrub on an ext2 image made with mke2fs -d when both
 * are installed. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "domd/bootloader.h"

struct fx {
        char dir[64];
        Ts__Dom__Spec spec;
        Ts__Dom__Disk disk, cd;
        Ts__Dom__Disk *disks[2];
        char img[128];
};

static int setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/test_bootloader.XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        setenv("TMPDIR", f->dir, 1);
        ts__dom__spec__init(&f->spec);
        ts__dom__disk__init(&f->disk);
        ts__dom__disk__init(&f->cd);
        snprintf(f->img, sizeof(f->img), "%s/disk.img", f->dir);
        FILE *img = fopen(f->img, "w");
        fclose(img);
        f->cd.vdev = "xvdd";
        f->cd.path = "/nonexistent.iso";
        f->cd.cdrom = true;
        f->disk.vdev = "xvda";
        f->disk.path = f->img;
        f->disk.format = "raw";
        /* the CD first: the boot disk is the first that is not a CD */
        f->disks[0] = &f->cd;
        f->disks[1] = &f->disk;
        f->spec.uuid = "6a2c5c2e-52b8-4d7c-9b0c-1d1f0b0b0b0b";
        f->spec.disks = f->disks;
        f->spec.n_disks = 2;
        f->spec.bootloader = "pygrub";
        f->spec.bootloader_args = "";
        f->spec.cmdline = "";
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        if (system(cmd) != 0)
                return -1;
        unsetenv("TS_PYGRUB");
        free(f);
        return 0;
}

/* A stand-in pygrub: BODY is the shell run with the real one's arguments. */
static void fake_pygrub(struct fx *f, const char *body)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/pygrub", f->dir);
        FILE *s = fopen(path, "w");
        assert_non_null(s);
        fprintf(s, "#!/bin/sh\n%s\n", body);
        fclose(s);
        chmod(path, 0755);
        setenv("TS_PYGRUB", path, 1);
}

static void no_bootloader_is_direct_boot(void **state)
{
        struct fx *f = *state;
        f->spec.bootloader = "";
        struct boot_files b;
        const char *code = NULL;
        char msg[256] = "";
        assert_int_equal(bootloader_run(&f->spec, &b, &code, msg), 0);
        assert_null(b.kernel);
        bootloader_clean(&b);
}

static void unknown_bootloader(void **state)
{
        struct fx *f = *state;
        f->spec.bootloader = "eliloader";
        struct boot_files b;
        const char *code = NULL;
        char msg[256] = "";
        assert_int_equal(bootloader_run(&f->spec, &b, &code, msg), -EINVAL);
        assert_string_equal(code, "UNKNOWN_BOOTLOADER");
        assert_string_equal(msg, "eliloader");
}

static void qcow2_or_missing_boot_disk_fails(void **state)
{
        struct fx *f = *state;
        struct boot_files b;
        const char *code = NULL;
        char msg[256] = "";
        f->disk.format = "qcow2";
        assert_true(bootloader_run(&f->spec, &b, &code, msg) < 0);
        assert_string_equal(code, "BOOTLOADER_FAILED");
        assert_non_null(strstr(msg, "raw"));
        f->spec.n_disks = 1; /* only the CD */
        assert_true(bootloader_run(&f->spec, &b, &code, msg) < 0);
        assert_string_equal(code, "BOOTLOADER_FAILED");
        assert_non_null(strstr(msg, "no disk"));
}

static void pygrub_output_and_arguments(void **state)
{
        struct fx *f = *state;
        /* Records its arguments, extracts two files and says where, as pygrub does. */
        fake_pygrub(f, "echo \"$@\" > \"$TMPDIR/argv\"\n"
                       "for a; do case $a in --output=*) out=${a#--output=};;"
                       " --output-directory=*) dir=${a#--output-directory=};; esac; done\n"
                       "echo K > $dir/boot_kernel.x; echo R > $dir/boot_ramdisk.x\n"
                       "printf 'kernel %s\\nramdisk %s\\nargs root=/dev/xvda1 quiet\\n\\n'"
                       " $dir/boot_kernel.x $dir/boot_ramdisk.x > $out");
        f->spec.bootloader_args = "--entry=1  -q";
        f->spec.cmdline = "quiet";
        struct boot_files b;
        const char *code = NULL;
        char msg[256] = "";
        assert_int_equal(bootloader_run(&f->spec, &b, &code, msg), 0);
        assert_non_null(b.kernel);
        assert_int_equal(access(b.kernel, R_OK), 0);
        assert_int_equal(access(b.ramdisk, R_OK), 0);
        assert_string_equal(b.cmdline, "root=/dev/xvda1 quiet");
        char argv_path[128], line[1024] = "";
        snprintf(argv_path, sizeof(argv_path), "%s/argv", f->dir);
        FILE *a = fopen(argv_path, "r");
        assert_non_null(a);
        assert_non_null(fgets(line, sizeof(line), a));
        fclose(a);
        assert_non_null(strstr(line, "--output-format=simple"));
        assert_non_null(strstr(line, "--entry=1 -q --args=quiet "));
        assert_non_null(strstr(line, f->img)); /* the boot disk, not the CD */
        char dir[64];
        snprintf(dir, sizeof(dir), "%s", b.dir);
        bootloader_clean(&b);
        assert_int_equal(access(dir, F_OK), -1); /* everything removed */
}

static void pygrub_failure_is_bootloader_failed(void **state)
{
        struct fx *f = *state;
        fake_pygrub(f, "for a; do case $a in --output-directory=*) "
                       "touch ${a#--output-directory=}/boot_kernel.left;; esac; done\n"
                       "echo 'Traceback ...' >&2\n"
                       "echo 'RuntimeError: Unable to find partition containing kernel' >&2\n"
                       "exit 1");
        struct boot_files b;
        const char *code = NULL;
        char msg[256] = "";
        assert_true(bootloader_run(&f->spec, &b, &code, msg) < 0);
        assert_string_equal(code, "BOOTLOADER_FAILED");
        assert_string_equal(msg, "RuntimeError: Unable to find partition containing kernel");
        assert_null(b.kernel);
        assert_int_equal(b.dir[0], 0);
}

/* Xen's pygrub on a real ext2 image with a grub.cfg. */
static void real_pygrub_on_ext2(void **state)
{
        struct fx *f = *state;
        if (access("/usr/lib/xen-4.17/bin/pygrub", X_OK) < 0 ||
            system("command -v mke2fs >/dev/null 2>&1") != 0) {
                skip();
                return;
        }
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "set -e; r=%s/root; mkdir -p $r/boot/grub; echo KERNEL > $r/boot/vmlinuz;"
                 " echo INITRD > $r/boot/initrd.img;"
                 " printf \"set default=0\\nmenuentry 't' {\\n\\tlinux /boot/vmlinuz "
                 "console=hvc0\\n\\tinitrd /boot/initrd.img\\n}\\n\" > $r/boot/grub/grub.cfg;"
                 " truncate -s 8M %s; mke2fs -q -F -t ext2 -d $r %s",
                 f->dir, f->img, f->img);
        assert_int_equal(system(cmd), 0);
        f->spec.cmdline = "guest_name=x";
        struct boot_files b;
        const char *code = NULL;
        char msg[256] = "";
        assert_int_equal(bootloader_run(&f->spec, &b, &code, msg), 0);
        char text[16] = "";
        FILE *k = fopen(b.kernel, "r");
        assert_non_null(k);
        assert_non_null(fgets(text, sizeof(text), k));
        fclose(k);
        assert_string_equal(text, "KERNEL\n");
        assert_non_null(b.ramdisk);
        assert_string_equal(b.cmdline, "console=hvc0 guest_name=x");
        bootloader_clean(&b);
        /* no grub configuration: pygrub fails, and says so */
        snprintf(cmd, sizeof(cmd), "rm -rf %s/root/boot/grub; mke2fs -q -F -t ext2 -d %s/root %s",
                 f->dir, f->dir, f->img);
        assert_int_equal(system(cmd), 0);
        assert_true(bootloader_run(&f->spec, &b, &code, msg) < 0);
        assert_string_equal(code, "BOOTLOADER_FAILED");
        assert_true(strlen(msg) > 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(no_bootloader_is_direct_boot, setup, teardown),
            cmocka_unit_test_setup_teardown(unknown_bootloader, setup, teardown),
            cmocka_unit_test_setup_teardown(qcow2_or_missing_boot_disk_fails, setup, teardown),
            cmocka_unit_test_setup_teardown(pygrub_output_and_arguments, setup, teardown),
            cmocka_unit_test_setup_teardown(pygrub_failure_is_bootloader_failed, setup, teardown),
            cmocka_unit_test_setup_teardown(real_pygrub_on_ext2, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
