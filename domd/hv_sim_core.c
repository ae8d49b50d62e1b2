/* Core dumps of simulated domains (hv_domain_dumpcore).  Like an ELF core of a real
 * domain, the file is a header followed by the guest's memory: the header is one 4096-byte
 * page of text, NUL-padded,
 *
 *   TSSIMCORE 1\n uuid U\n domid N\n memory BYTES\n vcpus N\n state S\n reason R\n
 *   guest_ns N\n
 *
 * and the memory, memory_actual bytes, follows at offset 4096.  A simulated guest has no
 * memory contents, so the first page of each MiB holds a pattern derived from the domain
 * (its uuid and the page number) and the rest is left sparse: the file has the size of a
 * real dump without costing its I/O. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_core)

#define CORE_PAGE      4096
#define CORE_MARK_STEP (1u << 20) /* one marked page per MiB */

static int write_at(int fd, const void *buf, size_t len, off_t off)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
                off += n;
        }
        return 0;
}

static void fill_page(unsigned char *page, const char *uuid, uint64_t pfn)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *c = uuid; *c; c++)
                h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
        h ^= pfn * 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < CORE_PAGE; i += 8) {
                h ^= h << 13;
                h ^= h >> 7;
                h ^= h << 17;
                memcpy(page + i, &h, 8);
        }
}

static int do_dump(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        int fd = *(int *)arg;
        struct sim_eval e;
        sim_guest_eval(d, now, &e);
        unsigned char page[CORE_PAGE];
        memset(page, 0, sizeof(page));
        snprintf((char *)page, sizeof(page),
                 "TSSIMCORE 1\nuuid %s\ndomid %" PRIu32 "\nmemory %" PRIu64
                 "\nvcpus %u\nstate %s\nreason %s\nguest_ns %" PRIu64 "\n",
                 d->uuid, d->domid, d->actual, d->vcpus_online, hv_domain_state_name(e.state),
                 e.state == HV_STATE_SHUTDOWN ? hv_shutdown_reason_name(e.reason) : "none",
                 e.guest_ns);
        int r = write_at(fd, page, sizeof(page), 0);
        for (uint64_t off = 0; r == 0 && off < d->actual; off += CORE_MARK_STEP) {
                fill_page(page, d->uuid, off / CORE_PAGE);
                size_t len = d->actual - off < CORE_PAGE ? (size_t)(d->actual - off) : CORE_PAGE;
                r = write_at(fd, page, len, (off_t)(CORE_PAGE + off));
        }
        if (r == 0 && ftruncate(fd, (off_t)(CORE_PAGE + d->actual)) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        return r;
}

int sim_domain_dumpcore(struct hv *h, uint32_t domid, const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = sim_with_domain(sim_of(h), domid, do_dump, &fd);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                unlink(path);
        else
                log_info("sim: domain %" PRIu32 " dumped to %s", domid, path);
        return r;
}
