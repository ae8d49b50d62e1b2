#include "stord/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define QCOW2_MAGIC     0x514649fbu
#define EXT_END         0u
#define EXT_BACKING_FMT 0xe2792acau
#define CLUSTER_BITS    16
#define CLUSTER_SIZE    (1u << CLUSTER_BITS)
#define V3_HEADER_LEN   104u

static uint32_t be32_at(const unsigned char *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return be32toh(v);
}

static uint64_t be64_at(const unsigned char *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return be64toh(v);
}

static void put32(unsigned char *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

int qcow2_read_header(int fd, struct qcow2_header *h)
{
        unsigned char buf[4096];
        ssize_t n = pread(fd, buf, sizeof buf, 0);
        memset(h, 0, sizeof *h);
        if (n < 0)
                return -errno;
        if (n < 72 || be32_at(buf) != QCOW2_MAGIC)
                return -EBADMSG;
        uint32_t version = be32_at(buf + 4);
        if (version != 2 && version != 3)
                return -EBADMSG;
        uint64_t boff = be64_at(buf + 8);
        uint32_t blen = be32_at(buf + 16);
        h->size = be64_at(buf + 24);
        uint32_t hlen = version == 3 ? be32_at(buf + 100) : 72;
        if (hlen < 72 || hlen > (size_t)n)
                return -EBADMSG;
        if (boff != 0) {
                if (blen == 0 || blen >= sizeof h->backing || boff + blen > (uint64_t)n)
                        return -EBADMSG;
                memcpy(h->backing, buf + boff, blen);
                h->backing[blen] = '\0';
        }
        /* header extensions follow the header, each 8-byte aligned, until type 0 */
        for (size_t off = hlen; off + 8 <= (size_t)n;) {
                uint32_t type = be32_at(buf + off), len = be32_at(buf + off + 4);
                if (type == EXT_END || off + 8 + len > (size_t)n)
                        break;
                if (type == EXT_BACKING_FMT && len < sizeof h->backing_fmt) {
                        memcpy(h->backing_fmt, buf + off + 8, len);
                        h->backing_fmt[len] = '\0';
                }
                off += 8 + ((len + 7u) & ~7u);
        }
        return 0;
}

/* Layout: cluster 0 header (+ extensions, backing name), 1 refcount table, 2 refcount block,
 * 3.. L1 table (all zero: nothing allocated, every read falls through to the backing file). */
int qcow2_write_overlay(int fd, uint64_t size, const char *backing, const char *backing_fmt)
{
        unsigned char hdr[CLUSTER_SIZE];
        unsigned char rc_table[8], rc_block[2 * 64];
        size_t blen = strlen(backing), flen = strlen(backing_fmt);
        const uint64_t l2_cover = (uint64_t)CLUSTER_SIZE * (CLUSTER_SIZE / 8);
        uint64_t l1_size = (size + l2_cover - 1) / l2_cover;
        uint64_t l1_clusters = (l1_size * 8 + CLUSTER_SIZE - 1) / CLUSTER_SIZE;
        if (l1_clusters == 0)
                l1_clusters = 1;
        uint64_t nclusters = 3 + l1_clusters;

        size_t ext_off = V3_HEADER_LEN;
        size_t fmt_pad = (flen + 7u) & ~7u;
        size_t name_off = ext_off + 8 + fmt_pad + 8;
        if (blen == 0 || flen == 0 || flen > 15 || name_off + blen > sizeof hdr ||
            nclusters > sizeof rc_block / 2 || l1_size > UINT32_MAX)
                return -EINVAL;

        memset(hdr, 0, sizeof hdr);
        put32(hdr + 0, QCOW2_MAGIC);
        put32(hdr + 4, 3);
        put64(hdr + 8, name_off);
        put32(hdr + 16, (uint32_t)blen);
        put32(hdr + 20, CLUSTER_BITS);
        put64(hdr + 24, size);
        put32(hdr + 32, 0); /* no encryption */
        put32(hdr + 36, (uint32_t)l1_size);
        put64(hdr + 40, 3ull * CLUSTER_SIZE);
        put64(hdr + 48, 1ull * CLUSTER_SIZE);
        put32(hdr + 56, 1);
        /* no snapshots, no feature bits */
        put32(hdr + 96, 4); /* 16-bit refcounts */
        put32(hdr + 100, V3_HEADER_LEN);
        put32(hdr + ext_off, EXT_BACKING_FMT);
        put32(hdr + ext_off + 4, (uint32_t)flen);
        memcpy(hdr + ext_off + 8, backing_fmt, flen);
        /* the end-of-extensions marker is the zeroed 8 bytes that follow */
        memcpy(hdr + name_off, backing, blen);

        put64(rc_table, 2ull * CLUSTER_SIZE);
        memset(rc_block, 0, sizeof rc_block);
        for (uint64_t i = 0; i < nclusters; i++) {
                rc_block[2 * i] = 0;
                rc_block[2 * i + 1] = 1;
        }

        /* the file is sized first so the zero L1 table and the rest stay holes */
        if (ftruncate(fd, (off_t)(nclusters * CLUSTER_SIZE)) < 0)
                return -errno;
        if (pwrite(fd, hdr, name_off + blen, 0) != (ssize_t)(name_off + blen) ||
            pwrite(fd, rc_table, sizeof rc_table, CLUSTER_SIZE) != (ssize_t)sizeof rc_table ||
            pwrite(fd, rc_block, 2 * nclusters, 2 * CLUSTER_SIZE) != (ssize_t)(2 * nclusters))
                return errno ? -errno : -EIO;
        return 0;
}
