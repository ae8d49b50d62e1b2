/* PV bootloaders: VM.PV_bootloader = "pygrub" runs Xen's pygrub on the boot disk to find the
 * kernel, ramdisk and arguments in its grub configuration (as xenopsd and libxl do); the
 * domain is then built from the files pygrub extracted into a private temporary directory. */
#ifndef TS_DOMD_BOOTLOADER_H
#define TS_DOMD_BOOTLOADER_H

#include "proto/dom.pb-c.h"

struct boot_files {
        char dir[64]; /* the temporary directory; "" when none */
        char *kernel; /* paths in DIR; ramdisk may be NULL */
        char *ramdisk;
        char *cmdline; /* the grub entry's arguments, then VM.PV_args */
};

/* Runs SPEC's bootloader, if it names one, into OUT.  Returns 0 (OUT->kernel NULL when the
 * VM boots its kernel directly), or a negative errno with *CODE set to XAPI's error
 * (UNKNOWN_BOOTLOADER: MSG is the bootloader's name; BOOTLOADER_FAILED: MSG says why). */
int bootloader_run(const Ts__Dom__Spec *spec, struct boot_files *out, const char **code,
                   char msg[256]);
/* Removes the extracted files and frees OUT's strings. */
void bootloader_clean(struct boot_files *out);

#endif
