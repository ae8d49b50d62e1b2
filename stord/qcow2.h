/* Just enough of the qcow2 format for the hot paths of the file SR: reading an image's size
 * and backing file without starting qemu-img (scan reads every image of the SR), and writing
 * an empty copy-on-write overlay (clone and snapshot must take milliseconds; a qemu-img run
 * costs about 25 ms).  Everything else goes through qemu-img. */
#ifndef TS_STORD_QCOW2_H
#define TS_STORD_QCOW2_H

#include <stddef.h>
#include <stdint.h>

struct qcow2_header {
        uint64_t size;        /* virtual size */
        char backing[1024];   /* backing file name as stored, or "" */
        char backing_fmt[16]; /* from the backing format extension, or "" */
};

/* Reads the header of the qcow2 image open on FD.  Returns 0, -EBADMSG (not qcow2 v2/v3 or a
 * corrupt header) or a read errno. */
int qcow2_read_header(int fd, struct qcow2_header *h);
/* Writes into the empty file FD an empty qcow2 v3 image of SIZE bytes (64 KiB clusters) whose
 * backing file is BACKING in format BACKING_FMT ("qcow2" or "raw"). 0 or -errno. */
int qcow2_write_overlay(int fd, uint64_t size, const char *backing, const char *backing_fmt);

#endif
