/* Suspend images of simulated domains.  Writing the whole memory would make a 1 GiB VM
 * cost 1 GiB of I/O per test, so an image holds a sample of pseudo-random pages instead,
 * plus what the guest needs to carry on (guest clock, console), and a checksum over it
 * all.  Written to a regular file, the file is then extended (sparse) to the VM's memory
 * size; written to a pipe or socket (migration), the stream ends after the trailer.
 *
 *   header   "TSSIMIMG" u32 version u32 flags, uuid[36], u64 memory, u64 static_max,
 *            u64 guest_ns, u32 vcpus_online, u32 nr_samples, u32 console_len, u32 0
 *   samples  nr_samples x (u64 page number, 4096 bytes)
 *   console  console_len bytes
 *   trailer  "TSSIMEND" u64 FNV-1a-64 of every byte before the trailer
 * Integers are little-endian. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_image)

#define IMG_MAGIC       "TSSIMIMG"
#define IMG_END         "TSSIMEND"
#define IMG_VERSION     1
#define IMG_PAGE        4096
#define IMG_SAMPLES     64
#define IMG_MAX_SAMPLES 4096
#define IMG_MAX_CONSOLE (1u << 20)
#define IMG_HDR_LEN     (8 + 4 + 4 + 36 + 8 + 8 + 8 + 4 + 4 + 4 + 4)
#define FLAG_BOOTED     1u

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * FNV_PRIME;
        return h;
}

static uint64_t xorshift(uint64_t *s)
{
        uint64_t x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * 0x2545f4914f6cdd1dULL;
}

static void put32(unsigned char *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
        uint32_t v = 0;
        for (int i = 3; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static uint64_t get64(const unsigned char *p)
{
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

/* Writes all of BUF and folds it into *SUM (when not NULL). */
static int write_all(int fd, const void *buf, size_t len, uint64_t *sum)
{
        if (sum)
                *sum = fnv(*sum, buf, len);
        const char *p = buf;
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

/* Reads exactly LEN bytes; a short stream is a truncated image (-EBADMSG). */
static int read_all(int fd, void *buf, size_t len, uint64_t *sum)
{
        char *p = buf;
        size_t want = len;
        while (want) {
                ssize_t r = read(fd, p, want);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -EBADMSG;
                p += r;
                want -= (size_t)r;
        }
        if (sum)
                *sum = fnv(*sum, buf, len);
        return 0;
}

int sim_image_write(int fd, const struct sim_dom *d, uint64_t guest_ns, const char *console)
{
        uint64_t pages = d->actual / IMG_PAGE, sum = FNV_OFFSET;
        uint32_t nr = pages < IMG_SAMPLES ? (uint32_t)pages : IMG_SAMPLES;
        size_t clen = console ? strlen(console) : 0;
        if (clen > IMG_MAX_CONSOLE) {
                console += clen - IMG_MAX_CONSOLE;
                clen = IMG_MAX_CONSOLE;
        }
        struct stat st;
        off_t start = -1;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                start = lseek(fd, 0, SEEK_CUR);

        unsigned char hdr[IMG_HDR_LEN] = {0}, *p = hdr;
        memcpy(p, IMG_MAGIC, 8), p += 8;
        put32(p, IMG_VERSION), p += 4;
        put32(p, d->started ? FLAG_BOOTED : 0), p += 4;
        memcpy(p, d->uuid, 36), p += 36;
        put64(p, d->actual), p += 8;
        put64(p, d->static_max), p += 8;
        put64(p, guest_ns), p += 8;
        put32(p, d->vcpus_online), p += 4;
        put32(p, nr), p += 4;
        put32(p, (uint32_t)clen), p += 4;
        int r = write_all(fd, hdr, sizeof(hdr), &sum);

        /* The "memory": pages chosen and filled by a generator seeded from the domain. */
        uint64_t seed = fnv(FNV_OFFSET, d->uuid, 36) ^ guest_ns ^ 0x9e3779b97f4a7c15ULL;
        unsigned char page[8 + IMG_PAGE];
        for (uint32_t i = 0; r == 0 && i < nr; i++) {
                put64(page, xorshift(&seed) % pages);
                for (size_t o = 8; o < sizeof(page); o += 8)
                        put64(page + o, xorshift(&seed));
                r = write_all(fd, page, sizeof(page), &sum);
        }
        if (r == 0 && clen)
                r = write_all(fd, console, clen, &sum);
        unsigned char trailer[16];
        memcpy(trailer, IMG_END, 8);
        put64(trailer + 8, sum);
        if (r == 0)
                r = write_all(fd, trailer, sizeof(trailer), NULL);
        /* Sized like the memory it stands for, without writing it. */
        if (r == 0 && start >= 0 && (uint64_t)st.st_size < (uint64_t)start + d->actual &&
            ftruncate(fd, start + (off_t)d->actual) < 0)
                r = -errno;
        if (r < 0)
                log_warnx("suspend image of domain %u: %s", d->domid, strerror(-r));
        return r;
}

void sim_image_clear(struct sim_image *img)
{
        if (!img)
                return;
        free(img->console);
        img->console = NULL;
}

int sim_image_read(int fd, struct sim_image *out)
{
        uint64_t sum = FNV_OFFSET;
        unsigned char hdr[IMG_HDR_LEN], *p = hdr;
        memset(out, 0, sizeof(*out));
        int r = read_all(fd, hdr, sizeof(hdr), &sum);
        if (r < 0)
                goto out;
        if (memcmp(p, IMG_MAGIC, 8) || get32(p + 8) != IMG_VERSION) {
                r = -EBADMSG;
                goto out;
        }
        p += 12;
        bool booted = get32(p) & FLAG_BOOTED;
        p += 4;
        memcpy(out->uuid, p, 36), p += 36;
        out->uuid[36] = 0;
        out->memory = get64(p), p += 8;
        out->static_max = get64(p), p += 8;
        out->guest_ns = get64(p), p += 8;
        out->vcpus_online = get32(p), p += 4;
        uint32_t nr = get32(p), clen = get32(p + 4);
        out->booted_console = booted;
        if (!uuid_is_valid(out->uuid) || nr > IMG_MAX_SAMPLES || clen > IMG_MAX_CONSOLE ||
            nr > out->memory / IMG_PAGE) {
                r = -EBADMSG;
                goto out;
        }
        unsigned char page[8 + IMG_PAGE];
        for (uint32_t i = 0; i < nr; i++) {
                if ((r = read_all(fd, page, sizeof(page), &sum)) < 0)
                        goto out;
                if (get64(page) >= out->memory / IMG_PAGE) {
                        r = -EBADMSG;
                        goto out;
                }
        }
        out->console = malloc(clen + 1);
        if (!out->console) {
                r = -ENOMEM;
                goto out;
        }
        if ((r = read_all(fd, out->console, clen, &sum)) < 0)
                goto out;
        out->console[clen] = 0;
        unsigned char trailer[16];
        if ((r = read_all(fd, trailer, sizeof(trailer), NULL)) < 0)
                goto out;
        if (memcmp(trailer, IMG_END, 8) || get64(trailer + 8) != sum) {
                r = -EBADMSG;
                goto out;
        }
        r = 0;
out:
        if (r < 0) {
                log_warnx("suspend image rejected: %s",
                          r == -EBADMSG ? "corrupt or truncated" : strerror(-r));
                sim_image_clear(out);
        }
        return r;
}
