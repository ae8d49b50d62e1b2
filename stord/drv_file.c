/* The "file" and "ext" SR drivers: an SR is a directory of disk images.
 *
 *   <dir>/<uuid>.qcow2 | <uuid>.raw   one image per VDI; location = the uuid
 *   <dir>/.stord-sr.json              the metadata sidecar (srmeta.h)
 *   <dir>/.stord-sr.lock              flock'ed for the duration of every operation
 *   <dir>/.tmp-*                      being made; removed by the next operation
 *
 * Clone and snapshot of a qcow2 VDI A (the standard copy-on-write tree, like XAPI's VHD
 * chains): A's current image becomes an immutable hidden base B (a hard link, so nothing is
 * copied), A is replaced by an empty overlay on B (so A keeps its location and uuid, which the
 * VM refers to) and the new VDI is a second overlay on B.  A base that no image refers to any
 * more is deleted (garbage collection).  Raw VDIs cannot have a backing file: their clones and
 * snapshots are full copies.  A backend that has A open must reopen it after a snapshot (XAPI
 * pauses tapdisk around it for the same reason).
 *
 * Crash safety: a clone or snapshot first records its intent ("pending") in the sidecar, then
 * builds temporaries, links B, and commits by renaming the new overlay over A.  The next
 * operation on the SR rolls forward when the commit happened (A is no longer B's inode) and
 * back otherwise, so a SIGKILL at any point leaves the old or the new state.
 *
 * "ext" is the same driver on device_config:path (or :device naming a directory).  XAPI's ext
 * formats a block device; this one does not: a block device is refused with
 * ConfigDeviceInvalid (mount a filesystem and give its directory). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "stord/driver.h"
#include "stord/drv_file.h"
#include "stord/qcow2.h"
#include "stord/qimg.h"
#include "stord/srmeta.h"

LOG_MODULE(drv_file)

#define LOCK_FILE  ".stord-sr.lock"
#define TMP_PREFIX ".tmp-"

/* One image file found in the SR directory. */
struct img {
        char loc[UUID_STR_LEN];
        enum sd_format fmt;
        uint64_t vsize, phys;
        char parent[UUID_STR_LEN]; /* "" when none or not an image of this SR */
        bool referenced;           /* some other image's backing file */
};

struct imgs {
        struct img *v;
        size_t n;
};

static void imgs_clear(struct imgs *l)
{
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

static const struct img *imgs_find(const struct imgs *l, const char *loc)
{
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].loc, loc) == 0)
                        return &l->v[i];
        return NULL;
}

static const char *ext_of(enum sd_format f)
{
        return f == SD_FMT_QCOW2 ? ".qcow2" : ".raw";
}

static char *path_join(const char *dir, const char *prefix, const char *loc, const char *ext)
{
        char *p = NULL;
        if (asprintf(&p, "%s/%s%s%s", dir, prefix, loc, ext) < 0)
                return NULL;
        return p;
}

/* "<uuid>.qcow2" / "<uuid>.raw" → location and format; false for anything else. */
static bool parse_image_name(const char *name, char loc[UUID_STR_LEN], enum sd_format *fmt)
{
        size_t len = strlen(name);
        if (len < 36)
                return false;
        const char *ext = name + 36;
        if (strcmp(ext, ".qcow2") == 0)
                *fmt = SD_FMT_QCOW2;
        else if (strcmp(ext, ".raw") == 0)
                *fmt = SD_FMT_RAW;
        else
                return false;
        memcpy(loc, name, 36);
        loc[36] = '\0';
        return uuid_is_valid(loc);
}

static int check_location(const char *loc, struct sd_error *e)
{
        if (loc == NULL || !uuid_is_valid(loc))
                return sd_fail(e, -EINVAL, SM_VDI_MISSING, "'%s' is not a VDI location of this SR",
                               loc ? loc : "");
        return 0;
}

/* Reads one image's facts. */
static int read_img(const char *dir, const char *name, struct img *out)
{
        memset(out, 0, sizeof *out);
        if (!parse_image_name(name, out->loc, &out->fmt))
                return -EINVAL;
        char *p = path_join(dir, "", name, "");
        if (p == NULL)
                return -ENOMEM;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        free(p);
        if (fd < 0)
                return -errno;
        struct stat st;
        int rc = fstat(fd, &st) < 0 ? -errno : 0;
        if (rc == 0) {
                out->phys = (uint64_t)st.st_blocks * 512;
                out->vsize = (uint64_t)st.st_size;
                if (out->fmt == SD_FMT_QCOW2) {
                        struct qcow2_header h;
                        rc = qcow2_read_header(fd, &h);
                        if (rc == 0) {
                                out->vsize = h.size;
                                char ploc[UUID_STR_LEN];
                                enum sd_format pf;
                                if (h.backing[0] != '\0' && parse_image_name(h.backing, ploc, &pf))
                                        memcpy(out->parent, ploc, UUID_STR_LEN);
                        }
                }
        }
        close(fd);
        return rc;
}

/* Every image of the SR, with `referenced` worked out.  Unreadable images are logged and
 * skipped (a scan must not fail because of one foreign file). */
static int load_imgs(const char *dir, struct imgs *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        DIR *d = opendir(dir);
        if (d == NULL)
                return sd_fail(e, -errno, SM_SR_UNAVAILABLE, "cannot read SR directory %s: %m",
                               dir);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
                struct img im;
                if (de->d_name[0] == '.')
                        continue;
                int rc = read_img(dir, de->d_name, &im);
                if (rc == -EINVAL)
                        continue;
                if (rc < 0) {
                        log_warnx("%s/%s: unreadable image: %s", dir, de->d_name, strerror(-rc));
                        continue;
                }
                if (imgs_find(out, im.loc) != NULL) {
                        log_warnx("%s: both a .raw and a .qcow2 image; using the first", im.loc);
                        continue;
                }
                struct img *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
                if (nv == NULL) {
                        closedir(d);
                        imgs_clear(out);
                        return sd_fail(e, -ENOMEM, SM_SR_SCAN, "out of memory");
                }
                out->v = nv;
                out->v[out->n++] = im;
        }
        closedir(d);
        for (size_t i = 0; i < out->n; i++)
                for (size_t j = 0; j < out->n; j++)
                        if (strcmp(out->v[j].parent, out->v[i].loc) == 0)
                                out->v[i].referenced = true;
        return 0;
}

/* ---- locking, sidecar and recovery ---- */

/* An open SR operation: the lock and the sidecar, loaded. */
struct op {
        int lockfd;
        struct srmeta meta;
        bool dirty;
};

static int recover(struct sd_sr *sr, struct op *op, struct sd_error *e);
static void gc(struct sd_sr *sr, struct op *op);

static void op_end(struct op *op)
{
        if (op->dirty)
                srmeta_save(&op->meta);
        srmeta_clear(&op->meta);
        if (op->lockfd >= 0)
                close(op->lockfd); /* releases the flock */
        op->lockfd = -1;
}

static int op_begin(struct sd_sr *sr, struct op *op, struct sd_error *e)
{
        memset(op, 0, sizeof *op);
        op->lockfd = -1;
        char *lp = path_join(sr->path, "", LOCK_FILE, "");
        if (lp == NULL)
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        op->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        free(lp);
        if (op->lockfd < 0)
                return sd_fail(e, -errno, SM_SR_UNAVAILABLE, "SR %s unavailable at %s: %m",
                               sr->uuid, sr->path);
        if (flock(op->lockfd, LOCK_EX) < 0) {
                int rc = -errno;
                op_end(op);
                return sd_fail(e, rc, SM_SR_UNAVAILABLE, "locking SR %s: %s", sr->uuid,
                               strerror(-rc));
        }
        int rc = srmeta_load(sr->path, &op->meta);
        if (rc == -ENOENT) {
                /* an SR made by hand or by an older version: adopt it */
                rc = srmeta_new(sr->path, sr->uuid, &op->meta);
                op->dirty = true;
        }
        if (rc < 0) {
                op_end(op);
                return sd_fail(e, rc, SM_SR_UNAVAILABLE, "SR metadata in %s unusable: %s", sr->path,
                               strerror(-rc));
        }
        if (strcmp(srmeta_sr_uuid(&op->meta), sr->uuid) != 0) {
                sd_fail(e, -EEXIST, SM_SR_UNAVAILABLE, "%s holds SR %s, not %s", sr->path,
                        srmeta_sr_uuid(&op->meta), sr->uuid);
                op_end(op);
                return -EEXIST;
        }
        rc = recover(sr, op, e);
        if (rc < 0)
                op_end(op);
        return rc;
}

static int save(struct op *op, struct sd_error *e)
{
        int rc = srmeta_save(&op->meta);
        if (rc < 0)
                return sd_fail(e, rc, SM_EIO, "saving SR metadata: %s", strerror(-rc));
        op->dirty = false;
        return 0;
}

static bool same_inode(const char *a, const char *b)
{
        struct stat sa, sb;
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
               sa.st_ino == sb.st_ino;
}

static void unlink_quiet(const char *p)
{
        if (p != NULL && unlink(p) < 0 && errno != ENOENT)
                log_warn("unlink %s", p);
}

static char *now_iso8601(void)
{
        char buf[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y%m%dT%H:%M:%SZ", &tm);
        return strdup(buf);
}

/* Makes the metadata of a finished clone/snapshot described by P true. */
static void pending_apply(struct op *op, json_t *p)
{
        const char *src = json_string_value(json_object_get(p, "src"));
        const char *base = json_string_value(json_object_get(p, "base"));
        const char *dst = json_string_value(json_object_get(p, "new"));
        if (base != NULL) {
                json_t *b = srmeta_vdi(&op->meta, base, 1);
                json_object_set_new(b, "hidden", json_true());
                json_object_set(b, "type", json_object_get(srmeta_vdi(&op->meta, src, 1), "type"));
        }
        json_t *n = srmeta_vdi(&op->meta, dst, 1);
        json_object_update(n, json_object_get(p, "facts"));
}

/* Finishes or undoes the clone/snapshot a crash interrupted, then deletes temporaries. */
static int recover(struct sd_sr *sr, struct op *op, struct sd_error *e)
{
        json_t *p = json_object_get(op->meta.root, "pending");
        if (p != NULL) {
                const char *src = json_string_value(json_object_get(p, "src"));
                const char *base = json_string_value(json_object_get(p, "base"));
                const char *dst = json_string_value(json_object_get(p, "new"));
                const char *ext = ".qcow2";
                char *ps = src ? path_join(sr->path, "", src, ext) : NULL;
                char *pb = base ? path_join(sr->path, "", base, ext) : NULL;
                char *pn = dst ? path_join(sr->path, "", dst, ext) : NULL;
                char *tn = dst ? path_join(sr->path, TMP_PREFIX, dst, ext) : NULL;
                if (ps && pb && pn && tn && access(pb, F_OK) == 0 && !same_inode(ps, pb)) {
                        /* committed: A is the new overlay, B the old image */
                        if (access(tn, F_OK) == 0 && rename(tn, pn) < 0)
                                log_warn("recovery: rename %s", tn);
                        pending_apply(op, p);
                        log_notice("SR %s: finished interrupted %s of %s", sr->uuid,
                                   json_string_value(json_object_get(p, "op")), src);
                } else {
                        if (pb != NULL && ps != NULL && same_inode(ps, pb))
                                unlink_quiet(pb);
                        srmeta_vdi_remove(&op->meta, dst ? dst : "");
                        log_notice("SR %s: rolled back interrupted %s of %s", sr->uuid,
                                   json_string_value(json_object_get(p, "op")), src ? src : "?");
                }
                free(ps);
                free(pb);
                free(pn);
                free(tn);
                json_object_del(op->meta.root, "pending");
                int rc = save(op, e);
                if (rc < 0)
                        return rc;
        }
        /* temporaries: nothing else is running (we hold the lock) */
        DIR *d = opendir(sr->path);
        if (d == NULL)
                return sd_fail(e, -errno, SM_SR_UNAVAILABLE, "cannot read %s: %m", sr->path);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
                    strcmp(de->d_name, TMP_PREFIX SRMETA_FILE) == 0)
                        continue;
                char *tp = path_join(sr->path, "", de->d_name, "");
                log_info("SR %s: removing leftover %s", sr->uuid, de->d_name);
                unlink_quiet(tp);
                free(tp);
        }
        closedir(d);
        return 0;
}

/* Deletes hidden bases no image refers to any more, repeatedly (a base's own parent may be
 * freed by its deletion), and forgets metadata of images that vanished.  The file goes first,
 * then the metadata: a crash in between leaves an entry without a file, which is dropped. */
static void gc(struct sd_sr *sr, struct op *op)
{
        for (int round = 0; round < 64; round++) {
                struct imgs l;
                bool again = false;
                if (load_imgs(sr->path, &l, NULL) < 0)
                        return;
                for (size_t i = 0; i < l.n; i++) {
                        const struct img *im = &l.v[i];
                        if (im->referenced || !srmeta_vdi_bool(&op->meta, im->loc, "hidden"))
                                continue;
                        char *p = path_join(sr->path, "", im->loc, ext_of(im->fmt));
                        log_info("SR %s: deleting unused base %s", sr->uuid, im->loc);
                        unlink_quiet(p);
                        free(p);
                        again = true;
                }
                /* metadata of vanished images */
                const char *key;
                json_t *val, *vdis = srmeta_vdis(&op->meta);
                void *tmp;
                json_object_foreach_safe(vdis, tmp, key, val)
                {
                        const struct img *im = imgs_find(&l, key);
                        if (im == NULL ||
                            (!im->referenced && json_is_true(json_object_get(val, "hidden")))) {
                                json_object_del(vdis, key);
                                op->dirty = true;
                        }
                }
                imgs_clear(&l);
                if (!again)
                        break;
        }
}

/* ---- one VDI's facts ---- */

static int fill_vdi(struct op *op, const struct img *im, struct sd_vdi *out)
{
        memset(out, 0, sizeof *out);
        const char *type = srmeta_vdi_str(&op->meta, im->loc, "type");
        const char *so = srmeta_vdi_str(&op->meta, im->loc, "snapshot_of");
        const char *st = srmeta_vdi_str(&op->meta, im->loc, "snapshot_time");
        out->location = strdup(im->loc);
        out->uuid = strdup(im->loc);
        out->type = strdup(type ? type : "user");
        out->format = im->fmt;
        out->virtual_size = im->vsize;
        out->physical_utilisation = im->phys;
        out->parent = im->parent[0] ? strdup(im->parent) : NULL;
        out->snapshot_of = so ? strdup(so) : NULL;
        out->snapshot_time = st ? strdup(st) : NULL;
        out->is_a_snapshot = srmeta_vdi_bool(&op->meta, im->loc, "is_a_snapshot");
        out->read_only = srmeta_vdi_bool(&op->meta, im->loc, "read_only");
        if (!out->location || !out->uuid || !out->type || (im->parent[0] && !out->parent) ||
            (so && !out->snapshot_of) || (st && !out->snapshot_time)) {
                sd_vdi_clear(out);
                return -ENOMEM;
        }
        return 0;
}

static bool is_hidden(struct op *op, const struct img *im)
{
        return im->referenced || srmeta_vdi_bool(&op->meta, im->loc, "hidden");
}

/* The visible VDI LOC, read fresh. */
static int find_vdi(struct sd_sr *sr, struct op *op, const char *loc, struct img *out,
                    struct sd_error *e)
{
        int rc = check_location(loc, e);
        if (rc < 0)
                return rc;
        struct imgs l;
        rc = load_imgs(sr->path, &l, e);
        if (rc < 0)
                return rc;
        const struct img *im = imgs_find(&l, loc);
        if (im == NULL || is_hidden(op, im))
                rc =
                    sd_fail(e, -ENOENT, SM_VDI_MISSING, "VDI %s not found in SR %s", loc, sr->uuid);
        else
                *out = *im;
        imgs_clear(&l);
        return rc;
}

/* ---- space ---- */

static int fs_stat(const char *dir, uint64_t *total, uint64_t *avail, struct sd_error *e)
{
        struct statvfs vfs;
        if (statvfs(dir, &vfs) < 0)
                return sd_fail(e, -errno, SM_SR_UNAVAILABLE, "statvfs %s: %m", dir);
        *total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        return 0;
}

/* Does NEED bytes fit?  Thin provisioning (FREE false): a VDI may be bigger than the free
 * space, never bigger than the whole filesystem, which could never hold it.  A full copy
 * (FREE true) needs the space really free. */
static int check_space(struct sd_sr *sr, uint64_t need, bool free_space, struct sd_error *e)
{
        uint64_t total = 0, avail = 0;
        int rc = fs_stat(sr->path, &total, &avail, e);
        if (rc < 0)
                return rc;
        uint64_t limit = free_space ? avail : total;
        if (need <= limit)
                return 0;
        char req[32], max[32];
        snprintf(req, sizeof req, "%" PRIu64, need);
        snprintf(max, sizeof max, "%" PRIu64, limit);
        return sd_fail_api(e, -ENOSPC, "SR_FULL", req, max,
                           "SR %s has %" PRIu64 " bytes %s; %" PRIu64 " needed", sr->uuid, limit,
                           free_space ? "free" : "in all", need);
}

/* ---- SR operations ---- */

static int file_open_dir(struct sd_sr *sr, const char *dir, struct sd_error *e)
{
        if (dir[0] != '/')
                return sd_fail(e, -EINVAL, SM_CONFIG_DEVICE_INVALID, "'%s' is not an absolute path",
                               dir);
        sr->path = strdup(dir);
        return sr->path ? 0 : sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
}

static int file_open(struct sd_sr *sr, struct sd_error *e)
{
        const char *loc = sd_map_get(&sr->dconf, "location");
        if (loc == NULL || loc[0] == '\0')
                return sd_fail(e, -EINVAL, SM_CONFIG_LOCATION_MISSING,
                               "device_config:location (the SR directory) is missing");
        return file_open_dir(sr, loc, e);
}

static int ext_open(struct sd_sr *sr, struct sd_error *e)
{
        const char *p = sd_map_get(&sr->dconf, "path");
        if (p == NULL)
                p = sd_map_get(&sr->dconf, "device");
        if (p == NULL || p[0] == '\0')
                return sd_fail(e, -EINVAL, SM_CONFIG_DEVICE_MISSING,
                               "device_config:path (or device) is missing");
        struct stat st;
        if (stat(p, &st) == 0 && S_ISBLK(st.st_mode))
                return sd_fail(e, -EINVAL, SM_CONFIG_DEVICE_INVALID,
                               "%s is a block device; this ext driver does not format devices: "
                               "mount a filesystem and give its directory as device_config:path",
                               p);
        return file_open_dir(sr, p, e);
}

static int file_sr_create(struct sd_sr *sr, uint64_t size, struct sd_error *e)
{
        if (mkdir(sr->path, 0755) < 0 && errno != EEXIST)
                return sd_fail(e, -errno, SM_FILE_SR_CREATE, "mkdir %s: %m", sr->path);
        struct stat st;
        if (stat(sr->path, &st) < 0 || !S_ISDIR(st.st_mode))
                return sd_fail(e, -ENOTDIR, SM_FILE_SR_CREATE, "%s is not a directory", sr->path);
        struct srmeta m;
        int rc = srmeta_load(sr->path, &m);
        if (rc == 0) {
                bool mine = strcmp(srmeta_sr_uuid(&m), sr->uuid) == 0;
                char other[UUID_STR_LEN];
                snprintf(other, sizeof other, "%s", srmeta_sr_uuid(&m));
                srmeta_clear(&m);
                if (mine)
                        return 0;
                return sd_fail(e, -EEXIST, SM_SR_EXISTS, "%s already holds SR %s", sr->path, other);
        }
        rc = srmeta_new(sr->path, sr->uuid, &m);
        if (rc == 0)
                rc = srmeta_save(&m);
        srmeta_clear(&m);
        if (rc < 0)
                return sd_fail(e, rc, SM_FILE_SR_CREATE, "writing SR metadata in %s: %s", sr->path,
                               strerror(-rc));
        log_info("created SR %s in %s", sr->uuid, sr->path);
        return 0;
}

static int file_sr_delete(struct sd_sr *sr, struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        gc(sr, &op);
        struct imgs l;
        rc = load_imgs(sr->path, &l, e);
        if (rc == 0 && l.n > 0)
                rc = sd_fail(e, -ENOTEMPTY, SM_SR_NOT_EMPTY, "SR %s still holds %zu images",
                             sr->uuid, l.n);
        imgs_clear(&l);
        if (rc == 0) {
                char *m = path_join(sr->path, "", SRMETA_FILE, "");
                char *lk = path_join(sr->path, "", LOCK_FILE, "");
                unlink_quiet(m);
                unlink_quiet(lk);
                free(m);
                free(lk);
                op.dirty = false;
                if (rmdir(sr->path) < 0 && errno != ENOENT)
                        log_warn("SR %s deleted but %s stays", sr->uuid, sr->path);
        }
        op_end(&op);
        return rc;
}

static int file_sr_attach(struct sd_sr *sr, struct sd_error *e)
{
        struct stat st;
        if (stat(sr->path, &st) < 0 || !S_ISDIR(st.st_mode))
                return sd_fail(e, -ENOENT, SM_SR_UNAVAILABLE, "SR directory %s is missing",
                               sr->path);
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc == 0)
                op_end(&op);
        return rc;
}

static int file_sr_detach(struct sd_sr *sr, struct sd_error *e)
{
        return 0;
}

int file_sr_scan(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        gc(sr, &op);
        struct imgs l;
        rc = load_imgs(sr->path, &l, e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
                struct sd_vdi v;
                if (is_hidden(&op, &l.v[i]))
                        continue;
                rc = fill_vdi(&op, &l.v[i], &v);
                if (rc == 0)
                        rc = sd_vdi_list_take(out, &v);
                if (rc < 0)
                        sd_fail(e, rc, SM_SR_SCAN, "out of memory");
        }
        imgs_clear(&l);
        if (rc < 0)
                sd_vdi_list_clear(out);
        op_end(&op);
        return rc;
}

int file_sr_stat(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e)
{
        uint64_t total = 0, avail = 0;
        int rc = fs_stat(sr->path, &total, &avail, e);
        if (rc < 0)
                return rc;
        struct statvfs vfs;
        statvfs(sr->path, &vfs);
        out->physical_size = total;
        out->physical_utilisation = total - (uint64_t)vfs.f_bfree * vfs.f_frsize;
        struct imgs l;
        struct srmeta m;
        bool have_meta = srmeta_load(sr->path, &m) == 0;
        rc = load_imgs(sr->path, &l, e);
        for (size_t i = 0; rc == 0 && i < l.n; i++)
                if (!l.v[i].referenced && !(have_meta && srmeta_vdi_bool(&m, l.v[i].loc, "hidden")))
                        out->virtual_allocation += l.v[i].vsize;
        imgs_clear(&l);
        if (have_meta)
                srmeta_clear(&m);
        return rc;
}

static int file_sr_probe(const struct sd_map *dconf, struct sd_probe *out, struct sd_error *e)
{
        const char *dir = sd_map_get(dconf, "location");
        if (dir == NULL)
                dir = sd_map_get(dconf, "path");
        if (dir == NULL)
                return sd_fail(e, -EINVAL, SM_CONFIG_LOCATION_MISSING,
                               "device_config:location is missing");
        struct srmeta m;
        int rc = srmeta_load(dir, &m);
        if (rc == -ENOENT)
                return 0; /* no SR there */
        if (rc < 0)
                return sd_fail(e, rc, SM_SR_SCAN, "%s: unreadable SR metadata", dir);
        out->srs = calloc(1, sizeof *out->srs);
        uint64_t total = 0, avail = 0;
        if (out->srs != NULL) {
                out->n = 1;
                snprintf(out->srs[0].uuid, sizeof out->srs[0].uuid, "%s", srmeta_sr_uuid(&m));
                fs_stat(dir, &total, &avail, NULL);
                out->srs[0].size = total;
                out->srs[0].free_space = avail;
                out->srs[0].aux = strdup(dir);
        }
        srmeta_clear(&m);
        return out->srs ? 0 : sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
}

/* ---- VDI operations ---- */

static int file_vdi_introduce_locked(struct sd_sr *sr, struct op *op, const char *loc,
                                     struct sd_vdi *out, struct sd_error *e)
{
        struct img im;
        int rc = find_vdi(sr, op, loc, &im, e);
        if (rc < 0)
                return rc;
        rc = fill_vdi(op, &im, out);
        return rc < 0 ? sd_fail(e, rc, SM_GENERAL, "out of memory") : 0;
}

int file_vdi_create(struct sd_sr *sr, const struct sd_vdi_create_args *a, struct sd_vdi *out,
                    struct sd_error *e)
{
        char loc[UUID_STR_LEN];
        char *tmp = NULL, *dst = NULL;
        struct op op;

        if (a->virtual_size == 0)
                return sd_fail(e, -EINVAL, SM_VDI_SIZE, "a VDI needs a size above 0");
        if (a->uuid != NULL) {
                if (!uuid_is_valid(a->uuid))
                        return sd_fail(e, -EINVAL, SM_INVALID_ARG, "invalid VDI uuid %s", a->uuid);
                snprintf(loc, sizeof loc, "%s", a->uuid);
        } else {
                uuid_generate_str(loc);
        }
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        rc = check_space(sr, a->virtual_size, false, e);
        if (rc < 0)
                goto out;
        tmp = path_join(sr->path, TMP_PREFIX, loc, ext_of(a->format));
        dst = path_join(sr->path, "", loc, ext_of(a->format));
        char *other = path_join(sr->path, "", loc, ext_of(!a->format));
        bool exists = access(dst, F_OK) == 0 || (other && access(other, F_OK) == 0);
        free(other);
        if (exists) {
                rc = sd_fail(e, -EEXIST, SM_VDI_EXISTS, "VDI %s already exists", loc);
                goto out;
        }
        /* metadata first: an entry without an image is dropped by the next scan */
        json_t *v = srmeta_vdi(&op.meta, loc, 1);
        json_object_set_new(v, "type", json_string(a->type ? a->type : "user"));
        rc = save(&op, e);
        if (rc < 0)
                goto out;
        rc = qimg_create(tmp, a->format, a->virtual_size, e);
        if (rc < 0)
                goto out_unlink;
        sd_crashpoint("create-before-rename");
        if (rename(tmp, dst) < 0) {
                rc = sd_fail(e, -errno, SM_VDI_CREATE, "rename %s: %m", tmp);
                goto out_unlink;
        }
        rc = file_vdi_introduce_locked(sr, &op, loc, out, e);
        log_info("SR %s: created VDI %s (%s, %" PRIu64 " bytes)", sr->uuid, loc,
                 sd_format_name(a->format), a->virtual_size);
        goto out;
out_unlink:
        unlink_quiet(tmp);
        srmeta_vdi_remove(&op.meta, loc);
        op.dirty = true;
out:
        op_end(&op);
        free(tmp);
        free(dst);
        return rc;
}

int file_vdi_delete(struct sd_sr *sr, const char *loc, struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        struct img im;
        rc = find_vdi(sr, &op, loc, &im, e);
        if (rc < 0)
                goto out;
        char *p = path_join(sr->path, "", loc, ext_of(im.fmt));
        if (p == NULL || unlink(p) < 0)
                rc = sd_fail(e, p ? -errno : -ENOMEM, SM_VDI_REMOVE, "deleting VDI %s: %m", loc);
        free(p);
        if (rc < 0)
                goto out;
        srmeta_vdi_remove(&op.meta, loc);
        op.dirty = true;
        gc(sr, &op);
        log_info("SR %s: deleted VDI %s", sr->uuid, loc);
out:
        op_end(&op);
        return rc;
}

/* Clone/snapshot of a raw VDI: a full copy (raw images have no backing file). */
static int copy_raw(struct sd_sr *sr, struct op *op, const struct img *src, json_t *facts,
                    struct sd_vdi *out, struct sd_error *e)
{
        char loc[UUID_STR_LEN];
        uuid_generate_str(loc);
        char *sp = path_join(sr->path, "", src->loc, ".raw");
        char *tmp = path_join(sr->path, TMP_PREFIX, loc, ".raw");
        char *dst = path_join(sr->path, "", loc, ".raw");
        int rc = check_space(sr, src->phys, true, e);
        if (rc < 0)
                goto out;
        json_t *v = srmeta_vdi(&op->meta, loc, 1);
        json_object_update(v, facts);
        rc = save(op, e);
        if (rc == 0)
                rc = qimg_convert(sp, SD_FMT_RAW, tmp, SD_FMT_RAW, 0, e);
        if (rc == 0 && rename(tmp, dst) < 0)
                rc = sd_fail(e, -errno, SM_VDI_CLONE, "rename %s: %m", tmp);
        if (rc < 0) {
                unlink_quiet(tmp);
                srmeta_vdi_remove(&op->meta, loc);
                op->dirty = true;
                goto out;
        }
        rc = file_vdi_introduce_locked(sr, op, loc, out, e);
out:
        free(sp);
        free(tmp);
        free(dst);
        return rc;
}

/* Writes an empty overlay of VSIZE on "<base>.qcow2" into PATH (a new file). */
static int make_overlay(const char *path, uint64_t vsize, const char *base, struct sd_error *e)
{
        char bname[64];
        snprintf(bname, sizeof bname, "%s.qcow2", base);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return sd_fail(e, -errno, SM_VDI_CLONE, "creating %s: %m", path);
        int rc = qcow2_write_overlay(fd, vsize, bname, "qcow2");
        if (rc == 0 && fdatasync(fd) < 0)
                rc = -errno;
        close(fd);
        if (rc < 0)
                return sd_fail(e, rc, SM_VDI_CLONE, "writing overlay %s: %s", path, strerror(-rc));
        return 0;
}

/* The copy-on-write clone/snapshot of qcow2 VDI SRC; see the top of the file for the steps
 * and their recovery. */
static int cow_clone(struct sd_sr *sr, struct op *op, const struct img *src, const char *opname,
                     json_t *facts, struct sd_vdi *out, struct sd_error *e)
{
        char base[UUID_STR_LEN], loc[UUID_STR_LEN];
        uuid_generate_str(base);
        uuid_generate_str(loc);
        char *ps = path_join(sr->path, "", src->loc, ".qcow2");
        char *pb = path_join(sr->path, "", base, ".qcow2");
        char *pn = path_join(sr->path, "", loc, ".qcow2");
        char *ts = path_join(sr->path, TMP_PREFIX, src->loc, ".qcow2");
        char *tn = path_join(sr->path, TMP_PREFIX, loc, ".qcow2");
        int rc = 0;
        if (!ps || !pb || !pn || !ts || !tn) {
                rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
                goto out;
        }
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:O}", "op", opname, "src", src->loc, "base",
                              base, "new", loc, "facts", facts);
        json_object_set_new(op->meta.root, "pending", p);
        rc = save(op, e);
        if (rc < 0)
                goto out;
        sd_crashpoint("clone-after-intent");
        rc = make_overlay(tn, src->vsize, base, e);
        if (rc == 0)
                rc = make_overlay(ts, src->vsize, base, e);
        if (rc < 0)
                goto undo;
        sd_crashpoint("clone-after-overlays");
        if (link(ps, pb) < 0) {
                rc = sd_fail(e, -errno, SM_VDI_CLONE, "link %s: %m", ps);
                goto undo;
        }
        sd_crashpoint("clone-after-link");
        if (rename(ts, ps) < 0) { /* the commit point */
                rc = sd_fail(e, -errno, SM_VDI_CLONE, "rename %s: %m", ts);
                unlink_quiet(pb);
                goto undo;
        }
        sd_crashpoint("clone-after-commit");
        if (rename(tn, pn) < 0) {
                /* committed: recovery will retry the rename */
                rc = sd_fail(e, -errno, SM_VDI_CLONE, "rename %s: %m", tn);
                goto out;
        }
        sd_crashpoint("clone-after-new");
        pending_apply(op, p);
        json_object_del(op->meta.root, "pending");
        rc = save(op, e);
        if (rc == 0)
                rc = file_vdi_introduce_locked(sr, op, loc, out, e);
        goto out;
undo:
        unlink_quiet(ts);
        unlink_quiet(tn);
        json_object_del(op->meta.root, "pending");
        op->dirty = true;
out:
        free(ps);
        free(pb);
        free(pn);
        free(ts);
        free(tn);
        return rc;
}

static int clone_or_snapshot(struct sd_sr *sr, const char *loc, bool snapshot, struct sd_vdi *out,
                             struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        struct img src;
        json_t *facts = NULL;
        rc = find_vdi(sr, &op, loc, &src, e);
        if (rc < 0)
                goto out;
        const char *type = srmeta_vdi_str(&op.meta, loc, "type");
        facts = json_pack("{s:s}", "type", type ? type : "user");
        if (snapshot) {
                char *now = now_iso8601();
                json_object_set_new(facts, "is_a_snapshot", json_true());
                json_object_set_new(facts, "snapshot_of", json_string(loc));
                json_object_set_new(facts, "snapshot_time", json_string(now ? now : ""));
                free(now);
        }
        if (src.fmt == SD_FMT_RAW)
                rc = copy_raw(sr, &op, &src, facts, out, e);
        else
                rc = cow_clone(sr, &op, &src, snapshot ? "snapshot" : "clone", facts, out, e);
        if (rc < 0 && e != NULL && e->sm_code != 0 && e->api_code[0] == '\0')
                e->sm_code = snapshot ? SM_VDI_SNAPSHOT : SM_VDI_CLONE;
        if (rc == 0)
                log_info("SR %s: %s of %s is %s", sr->uuid, snapshot ? "snapshot" : "clone", loc,
                         out->location);
out:
        json_decref(facts);
        op_end(&op);
        return rc;
}

int file_vdi_clone(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e)
{
        return clone_or_snapshot(sr, loc, false, out, e);
}

int file_vdi_snapshot(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e)
{
        return clone_or_snapshot(sr, loc, true, out, e);
}

int file_vdi_resize(struct sd_sr *sr, const char *loc, uint64_t size, struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        struct img im;
        rc = find_vdi(sr, &op, loc, &im, e);
        if (rc < 0)
                goto out;
        if (size < im.vsize) {
                /* shrinking would cut data off the guest's disk: XAPI refuses it too */
                char min[32];
                snprintf(min, sizeof min, "%" PRIu64, im.vsize);
                rc = sd_fail_api(e, -EINVAL, "VDI_TOO_SMALL", loc, min,
                                 "VDI %s is %" PRIu64 " bytes; it can only grow", loc, im.vsize);
                goto out;
        }
        if (size == im.vsize)
                goto out;
        rc = check_space(sr, size, false, e);
        if (rc < 0)
                goto out;
        char *p = path_join(sr->path, "", loc, ext_of(im.fmt));
        rc = p ? qimg_resize(p, im.fmt, size, e) : -ENOMEM;
        free(p);
        if (rc == 0)
                log_info("SR %s: VDI %s resized to %" PRIu64, sr->uuid, loc, size);
out:
        op_end(&op);
        return rc;
}

int file_vdi_attach(struct sd_sr *sr, const char *loc, bool ro, struct sd_attach *out,
                    struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        struct img im;
        rc = find_vdi(sr, &op, loc, &im, e);
        if (rc == 0 && !ro && srmeta_vdi_bool(&op.meta, loc, "read_only"))
                rc = sd_fail_api(e, -EROFS, "VDI_READONLY", loc, NULL, "VDI %s is read-only", loc);
        if (rc == 0) {
                out->path = path_join(sr->path, "", loc, ext_of(im.fmt));
                out->format = im.fmt;
                out->is_block_device = false;
                out->read_only = ro;
                if (out->path == NULL)
                        rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        }
        op_end(&op);
        return rc;
}

int file_vdi_detach(struct sd_sr *sr, const char *loc, struct sd_error *e)
{
        return check_location(loc, e);
}

int file_vdi_introduce(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e)
{
        struct op op;
        int rc = op_begin(sr, &op, e);
        if (rc < 0)
                return rc;
        rc = file_vdi_introduce_locked(sr, &op, loc, out, e);
        op_end(&op);
        return rc;
}

static const char *const file_caps[] = {
    "SR_PROBE",   "SR_UPDATE",         "VDI_CREATE",   "VDI_DELETE", "VDI_ATTACH",
    "VDI_DETACH", "VDI_CLONE",         "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_INTRODUCE",
    "VDI_UPDATE", "THIN_PROVISIONING", NULL,
};

static const struct sd_config_key file_config[] = {
    {"location", "local directory that holds the SR (created if missing)"},
    {NULL, NULL},
};

static const struct sd_config_key ext_config[] = {
    {"path", "directory, on a mounted filesystem, that holds the SR"},
    {"device", "accepted instead of path when it names a directory (devices are not "
               "formatted)"},
    {NULL, NULL},
};

#define FILE_OPS                                                                                   \
        .capabilities = file_caps, .sr_create = file_sr_create, .sr_delete = file_sr_delete,       \
        .sr_attach = file_sr_attach, .sr_detach = file_sr_detach, .sr_scan = file_sr_scan,         \
        .sr_probe = file_sr_probe, .sr_stat = file_sr_stat, .vdi_create = file_vdi_create,         \
        .vdi_delete = file_vdi_delete, .vdi_clone = file_vdi_clone,                                \
        .vdi_snapshot = file_vdi_snapshot, .vdi_resize = file_vdi_resize,                          \
        .vdi_attach = file_vdi_attach, .vdi_detach = file_vdi_detach,                              \
        .vdi_introduce = file_vdi_introduce

const struct sd_driver sd_driver_file = {
    .name = "file",
    .description = "SR in a local directory: qcow2 (copy-on-write) or raw image files",
    .config = file_config,
    .open = file_open,
    FILE_OPS,
};

const struct sd_driver sd_driver_ext = {
    .name = "ext",
    .description = "SR in a directory of a mounted local filesystem: qcow2 or raw images",
    .config = ext_config,
    .open = ext_open,
    FILE_OPS,
};
