/* qemu-img, run as a program (never through a shell): create, info (JSON parsed with jansson),
 * resize, convert. */
#ifndef TS_STORD_QIMG_H
#define TS_STORD_QIMG_H

#include <stdint.h>

#include "stord/driver.h"

struct qimg_info {
        enum sd_format format;
        uint64_t virtual_size;
        uint64_t actual_size; /* bytes allocated on the host */
        char *backing;        /* backing-filename as recorded in the image, or NULL; owned */
};
void qimg_info_clear(struct qimg_info *i);
/* Parses `qemu-img info --output=json` text.  Returns 0, -EBADMSG (not JSON / no
 * virtual-size) or -ENOTSUP (a format other than raw or qcow2). */
int qimg_info_parse(const char *json, struct qimg_info *out);
/* Runs qemu-img info -U on PATH (so it works while a backend has the image open). */
int qimg_info(const char *path, struct qimg_info *out, struct sd_error *e);

int qimg_create(const char *path, enum sd_format fmt, uint64_t size, struct sd_error *e);
int qimg_resize(const char *path, enum sd_format fmt, uint64_t size, struct sd_error *e);
/* Copies SRC into DST.  DST_EXISTS: write into an existing DST (qemu-img convert -n), which
 * must be at least as large; otherwise DST is created. */
int qimg_convert(const char *src, enum sd_format sfmt, const char *dst, enum sd_format dfmt,
                 int dst_exists, struct sd_error *e);

#endif
