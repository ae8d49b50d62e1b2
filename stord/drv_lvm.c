/* The "lvm" SR driver: a volume group VG_XenStorage-<sr uuid> (XAPI's name) on
 * device_config:device, one logical volume LV-<vdi uuid> per raw VDI.
 *
 * Provisioning (device_config:provisioning):
 *   thin (default)  a thin pool "stord_pool" takes the VG at sr_create; VDIs are thin LVs;
 *                   clone and snapshot are thin snapshots (lvcreate -s, instant, independent
 *                   of their origin, which can be deleted first: no hidden base needed).
 *   thick           plain linear LVs; clone and snapshot are full copies (qemu-img convert
 *                   between the activated LVs).  Classic LVM snapshots are not used: they
 *                   fill up and become invalid, which is no way to keep a VM's disk.
 * The facts LVM does not keep are LV tags: stord_type=<vdi_type>, stord_snap_of=<uuid>,
 * stord_snap_time=<time>.  Every lvm2 call is the command line with --reportformat json. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "stord/driver.h"
#include "stord/lvm.h"
#include "stord/qimg.h"

LOG_MODULE(drv_lvm)

#define VG_PREFIX "VG_XenStorage-"
#define LV_PREFIX "LV-"
#define POOL      "stord_pool"

struct lvm_priv {
        bool thin;
};

static bool is_thin(const struct sd_sr *sr)
{
        return ((const struct lvm_priv *)sr->priv)->thin;
}

static int lvm_open(struct sd_sr *sr, struct sd_error *e)
{
        const char *dev = sd_map_get(&sr->dconf, "device");
        const char *prov = sd_map_get(&sr->dconf, "provisioning");
        if (dev == NULL || dev[0] == '\0')
                return sd_fail(e, -EINVAL, SM_CONFIG_DEVICE_MISSING,
                               "device_config:device is missing");
        if (prov != NULL && strcmp(prov, "thin") != 0 && strcmp(prov, "thick") != 0)
                return sd_fail(e, -EINVAL, SM_INVALID_ARG,
                               "device_config:provisioning must be thin or thick, not %s", prov);
        struct lvm_priv *p = calloc(1, sizeof *p);
        if (p == NULL || asprintf(&sr->vg, "%s%s", VG_PREFIX, sr->uuid) < 0) {
                sr->vg = NULL;
                free(p);
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        }
        p->thin = prov == NULL || strcmp(prov, "thin") == 0;
        sr->priv = p;
        return 0;
}

static void lvm_close(struct sd_sr *sr)
{
        free(sr->priv);
        sr->priv = NULL;
}

static char *lv_path(const struct sd_sr *sr, const char *loc)
{
        char *p = NULL;
        if (asprintf(&p, "%s/" LV_PREFIX "%s", sr->vg, loc) < 0)
                return NULL;
        return p;
}

static int check_loc(const char *loc, struct sd_error *e)
{
        if (loc == NULL || !uuid_is_valid(loc))
                return sd_fail(e, -EINVAL, SM_VDI_MISSING, "'%s' is not a VDI location",
                               loc ? loc : "");
        return 0;
}

static uint64_t u64(const struct sd_map *m, const char *k)
{
        const char *v = sd_map_get(m, k);
        return v ? strtoull(v, NULL, 10) : 0;
}

static int lvm_sr_create(struct sd_sr *sr, uint64_t size, struct sd_error *e)
{
        const char *dev = sd_map_get(&sr->dconf, "device");
        struct stat st;
        if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
                return sd_fail(e, -ENODEV, SM_CONFIG_DEVICE_INVALID, "%s is not a block device",
                               dev);
        const char *pv[] = {"pvcreate", "-ff", "-y", dev, NULL};
        int rc = lvm_run(pv, NULL, e, SM_LVM_GROUP_CREATE, "creating the physical volume");
        if (rc < 0)
                return rc;
        const char *vg[] = {"vgcreate", "-y", sr->vg, dev, NULL};
        rc = lvm_run(vg, NULL, e, SM_LVM_GROUP_CREATE, "creating the volume group");
        if (rc == 0 && is_thin(sr)) {
                /* the pool takes 95% of the VG: the rest is room for its metadata to grow */
                const char *pool[] = {"lvcreate", "-y", "--type", "thin-pool", "-l",
                                      "95%FREE",  "-n", POOL,     sr->vg,      NULL};
                rc = lvm_run(pool, NULL, e, SM_LVM_CREATE, "creating the thin pool");
                if (rc < 0) {
                        const char *vgr[] = {"vgremove", "-f", sr->vg, NULL};
                        lvm_run(vgr, NULL, NULL, 0, "undo");
                }
        }
        if (rc < 0) {
                const char *pvr[] = {"pvremove", "-ff", "-y", dev, NULL};
                lvm_run(pvr, NULL, NULL, 0, "undo");
                return rc;
        }
        log_info("created SR %s: VG %s on %s (%s)", sr->uuid, sr->vg, dev,
                 is_thin(sr) ? "thin" : "thick");
        return 0;
}

static int list_lvs(struct sd_sr *sr, const char *target, struct lvm_rows *rows, struct sd_error *e)
{
        return lvm_report("lvs", "lv_name,lv_size,lv_tags,data_percent,pool_lv", target, "lv", rows,
                          e, SM_SR_SCAN);
}

static int lvm_sr_delete(struct sd_sr *sr, struct sd_error *e)
{
        struct lvm_rows rows;
        int rc = list_lvs(sr, sr->vg, &rows, e);
        if (rc < 0)
                return rc;
        size_t vdis = 0;
        for (size_t i = 0; i < rows.n; i++)
                if (strncmp(sd_map_get(&rows.rows[i], "lv_name") ?: "", LV_PREFIX, 3) == 0)
                        vdis++;
        lvm_rows_clear(&rows);
        if (vdis > 0)
                return sd_fail(e, -ENOTEMPTY, SM_SR_NOT_EMPTY, "SR %s still holds %zu VDIs",
                               sr->uuid, vdis);
        const char *vgr[] = {"vgremove", "-f", sr->vg, NULL};
        rc = lvm_run(vgr, NULL, e, SM_LVM_DELETE, "removing the volume group");
        if (rc < 0)
                return rc;
        const char *pvr[] = {"pvremove", "-ff", "-y", sd_map_get(&sr->dconf, "device"), NULL};
        return lvm_run(pvr, NULL, e, SM_LVM_DELETE, "removing the physical volume");
}

static int lvm_sr_attach(struct sd_sr *sr, struct sd_error *e)
{
        struct lvm_rows rows;
        int rc = lvm_report("vgs", "vg_name", sr->vg, "vg", &rows, e, SM_SR_UNAVAILABLE);
        lvm_rows_clear(&rows);
        return rc;
}

static int lvm_sr_detach(struct sd_sr *sr, struct sd_error *e)
{
        const char *a[] = {"vgchange", "-an", sr->vg, NULL};
        return lvm_run(a, NULL, e, SM_LVM_MOUNT, "deactivating the volume group");
}

static int row_to_vdi(const struct sd_map *r, struct sd_vdi *out)
{
        const char *name = sd_map_get(r, "lv_name");
        const char *tags = sd_map_get(r, "lv_tags");
        memset(out, 0, sizeof *out);
        if (name == NULL || strncmp(name, LV_PREFIX, 3) != 0 || !uuid_is_valid(name + 3))
                return -EINVAL;
        out->location = strdup(name + 3);
        out->uuid = strdup(name + 3);
        out->format = SD_FMT_RAW;
        out->virtual_size = u64(r, "lv_size");
        out->physical_utilisation = out->virtual_size;
        const char *dp = sd_map_get(r, "data_percent");
        const char *pool = sd_map_get(r, "pool_lv");
        if (pool != NULL && pool[0] != '\0' && dp != NULL && dp[0] != '\0')
                out->physical_utilisation =
                    (uint64_t)(strtod(dp, NULL) / 100.0 * (double)out->virtual_size);
        /* tags: comma separated key=value */
        char *t = strdup(tags ? tags : ""), *save = NULL;
        for (char *tok = t ? strtok_r(t, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
                if (strncmp(tok, "stord_type=", 11) == 0)
                        out->type = strdup(tok + 11);
                else if (strncmp(tok, "stord_snap_of=", 14) == 0) {
                        out->snapshot_of = strdup(tok + 14);
                        out->is_a_snapshot = true;
                } else if (strncmp(tok, "stord_snap_time=", 16) == 0)
                        out->snapshot_time = strdup(tok + 16);
        }
        free(t);
        if (out->type == NULL)
                out->type = strdup("user");
        if (out->location == NULL || out->uuid == NULL || out->type == NULL) {
                sd_vdi_clear(out);
                return -ENOMEM;
        }
        return 0;
}

static int lvm_sr_scan(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e)
{
        struct lvm_rows rows;
        int rc = list_lvs(sr, sr->vg, &rows, e);
        for (size_t i = 0; rc == 0 && i < rows.n; i++) {
                struct sd_vdi v;
                int r = row_to_vdi(&rows.rows[i], &v);
                if (r == -EINVAL)
                        continue; /* the pool, or an LV that is not ours */
                if (r == 0)
                        r = sd_vdi_list_take(out, &v);
                if (r < 0)
                        rc = sd_fail(e, r, SM_SR_SCAN, "out of memory");
        }
        lvm_rows_clear(&rows);
        if (rc < 0)
                sd_vdi_list_clear(out);
        return rc;
}

static int vg_space(struct sd_sr *sr, uint64_t *size, uint64_t *free_b, struct sd_error *e)
{
        struct lvm_rows rows;
        int rc =
            lvm_report("vgs", "vg_name,vg_size,vg_free", sr->vg, "vg", &rows, e, SM_SR_UNAVAILABLE);
        if (rc == 0 && rows.n != 1)
                rc = sd_fail(e, -ENOENT, SM_SR_UNAVAILABLE, "volume group %s not found", sr->vg);
        if (rc == 0) {
                *size = u64(&rows.rows[0], "vg_size");
                *free_b = u64(&rows.rows[0], "vg_free");
        }
        lvm_rows_clear(&rows);
        return rc;
}

static int lvm_sr_stat(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e)
{
        uint64_t size, free_b;
        int rc = vg_space(sr, &size, &free_b, e);
        if (rc < 0)
                return rc;
        out->physical_size = size;
        out->physical_utilisation = size - free_b;
        struct sd_vdi_list l = {0};
        rc = lvm_sr_scan(sr, &l, e);
        for (size_t i = 0; rc == 0 && i < l.n; i++)
                out->virtual_allocation += l.v[i].virtual_size;
        sd_vdi_list_clear(&l);
        return rc;
}

static int lvm_sr_probe(const struct sd_map *dconf, struct sd_probe *out, struct sd_error *e)
{
        const char *dev = sd_map_get(dconf, "device");
        if (dev == NULL)
                return sd_fail(e, -EINVAL, SM_CONFIG_DEVICE_MISSING,
                               "device_config:device is missing");
        struct lvm_rows rows;
        int rc = lvm_report("pvs", "pv_name,vg_name,vg_size,vg_free", dev, "pv", &rows, e,
                            SM_PVS_FAILED);
        if (rc < 0)
                return rc;
        out->srs = calloc(rows.n ? rows.n : 1, sizeof *out->srs);
        if (out->srs == NULL)
                rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        for (size_t i = 0; rc == 0 && i < rows.n; i++) {
                const char *vg = sd_map_get(&rows.rows[i], "vg_name");
                if (vg == NULL || strncmp(vg, VG_PREFIX, strlen(VG_PREFIX)) != 0 ||
                    !uuid_is_valid(vg + strlen(VG_PREFIX)))
                        continue;
                struct sd_probe_sr *s = &out->srs[out->n++];
                snprintf(s->uuid, sizeof s->uuid, "%s", vg + strlen(VG_PREFIX));
                s->size = u64(&rows.rows[i], "vg_size");
                s->free_space = u64(&rows.rows[i], "vg_free");
                s->aux = strdup(sd_map_get(&rows.rows[i], "pv_name") ?: dev);
        }
        lvm_rows_clear(&rows);
        return rc;
}

static int lvm_introduce(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e)
{
        int rc = check_loc(loc, e);
        if (rc < 0)
                return rc;
        char *lv = lv_path(sr, loc);
        struct lvm_rows rows;
        rc = lv ? list_lvs(sr, lv, &rows, e) : -ENOMEM;
        free(lv);
        if (rc < 0) {
                if (e != NULL)
                        e->sm_code = SM_VDI_MISSING;
                return rc;
        }
        rc = rows.n == 1 ? row_to_vdi(&rows.rows[0], out) : -ENOENT;
        lvm_rows_clear(&rows);
        if (rc < 0)
                return sd_fail(e, rc, SM_VDI_MISSING, "VDI %s not found in SR %s", loc, sr->uuid);
        return 0;
}

static int new_lv(struct sd_sr *sr, const char *loc, uint64_t size, const char *type,
                  struct sd_error *e)
{
        char name[64], sz[32], tag[64];
        snprintf(name, sizeof name, LV_PREFIX "%s", loc);
        snprintf(sz, sizeof sz, "%" PRIu64 "b", size);
        snprintf(tag, sizeof tag, "stord_type=%s", type ? type : "user");
        if (is_thin(sr)) {
                char pool[128];
                snprintf(pool, sizeof pool, "%s/%s", sr->vg, POOL);
                const char *a[] = {"lvcreate",   "-y", "-n",       name, "-V", sz,
                                   "--thinpool", pool, "--addtag", tag,  NULL};
                return lvm_run(a, NULL, e, SM_LVM_CREATE, "creating the logical volume");
        }
        uint64_t vsize, free_b;
        int rc = vg_space(sr, &vsize, &free_b, e);
        if (rc < 0)
                return rc;
        if (size > free_b) {
                char req[32], max[32];
                snprintf(req, sizeof req, "%" PRIu64, size);
                snprintf(max, sizeof max, "%" PRIu64, free_b);
                return sd_fail_api(e, -ENOSPC, "SR_FULL", req, max,
                                   "VG %s has %" PRIu64 " bytes free; %" PRIu64 " requested",
                                   sr->vg, free_b, size);
        }
        const char *a[] = {"lvcreate", "-y", "-n", name, "-L", sz, "--addtag", tag, sr->vg, NULL};
        return lvm_run(a, NULL, e, SM_LVM_CREATE, "creating the logical volume");
}

static int lvm_vdi_create(struct sd_sr *sr, const struct sd_vdi_create_args *a, struct sd_vdi *out,
                          struct sd_error *e)
{
        char loc[UUID_STR_LEN];
        if (a->format != SD_FMT_RAW)
                return sd_fail(e, -EINVAL, SM_VDI_TYPE, "LVM SRs hold raw VDIs only");
        if (a->virtual_size == 0)
                return sd_fail(e, -EINVAL, SM_VDI_SIZE, "a VDI needs a size above 0");
        if (a->uuid != NULL && !uuid_is_valid(a->uuid))
                return sd_fail(e, -EINVAL, SM_INVALID_ARG, "invalid VDI uuid");
        if (a->uuid != NULL)
                snprintf(loc, sizeof loc, "%s", a->uuid);
        else
                uuid_generate_str(loc);
        int rc = new_lv(sr, loc, a->virtual_size, a->type, e);
        if (rc < 0)
                return rc;
        return lvm_introduce(sr, loc, out, e);
}

static int lvm_vdi_delete(struct sd_sr *sr, const char *loc, struct sd_error *e)
{
        int rc = check_loc(loc, e);
        char *lv = rc == 0 ? lv_path(sr, loc) : NULL;
        if (lv == NULL)
                return rc < 0 ? rc : -ENOMEM;
        const char *a[] = {"lvremove", "-f", lv, NULL};
        rc = lvm_run(a, NULL, e, SM_LVM_DELETE, "removing the logical volume");
        free(lv);
        return rc;
}

static int activate(struct sd_sr *sr, const char *loc, bool on, struct sd_error *e)
{
        char *lv = lv_path(sr, loc);
        if (lv == NULL)
                return -ENOMEM;
        /* -K: thin snapshots carry the activation-skip flag */
        const char *a[] = {"lvchange", on ? "-ay" : "-an", "-K", lv, NULL};
        int rc = lvm_run(a, NULL, e, on ? SM_LVM_MOUNT : SM_LVM_DELETE,
                         on ? "activating the logical volume" : "deactivating the logical volume");
        free(lv);
        return rc;
}

static int lvm_vdi_attach(struct sd_sr *sr, const char *loc, bool ro, struct sd_attach *out,
                          struct sd_error *e)
{
        int rc = check_loc(loc, e);
        if (rc == 0)
                rc = activate(sr, loc, true, e);
        if (rc < 0)
                return rc;
        if (asprintf(&out->path, "/dev/%s/" LV_PREFIX "%s", sr->vg, loc) < 0) {
                out->path = NULL;
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        }
        out->format = SD_FMT_RAW;
        out->is_block_device = true;
        out->read_only = ro;
        return 0;
}

static int lvm_vdi_detach(struct sd_sr *sr, const char *loc, struct sd_error *e)
{
        int rc = check_loc(loc, e);
        return rc < 0 ? rc : activate(sr, loc, false, e);
}

static int lvm_copy_into(struct sd_sr *sr, const char *src, const char *dst, struct sd_error *e)
{
        struct sd_attach a = {0}, b = {0};
        int rc = lvm_vdi_attach(sr, src, true, &a, e);
        if (rc == 0) {
                rc = lvm_vdi_attach(sr, dst, false, &b, e);
                if (rc == 0)
                        rc = qimg_convert(a.path, SD_FMT_RAW, b.path, SD_FMT_RAW, 1, e);
                if (b.path != NULL)
                        lvm_vdi_detach(sr, dst, NULL);
                lvm_vdi_detach(sr, src, NULL);
        }
        sd_attach_clear(&a);
        sd_attach_clear(&b);
        return rc;
}

static int clone_or_snapshot(struct sd_sr *sr, const char *loc, bool snap, struct sd_vdi *out,
                             struct sd_error *e)
{
        struct sd_vdi src;
        int rc = lvm_introduce(sr, loc, &src, e);
        if (rc < 0)
                return rc;
        char nloc[UUID_STR_LEN], name[64], ttag[64], stag[64], timetag[64];
        uuid_generate_str(nloc);
        snprintf(name, sizeof name, LV_PREFIX "%s", nloc);
        snprintf(ttag, sizeof ttag, "stord_type=%s", src.type);
        snprintf(stag, sizeof stag, "stord_snap_of=%s", loc);
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(timetag, sizeof timetag, "stord_snap_time=%Y%m%dT%H:%M:%SZ", &tm);
        if (is_thin(sr)) {
                char *lv = lv_path(sr, loc);
                const char *a[] = {"lvcreate", "-y",       "-s",
                                   "-kn",      "-n",       name,
                                   "--addtag", ttag,       snap ? "--addtag" : NULL,
                                   stag,       "--addtag", timetag,
                                   NULL};
                /* the origin goes last; a clone stops at the NULL before the snapshot tags */
                const char *b[16];
                size_t n = 0;
                for (size_t i = 0; a[i] != NULL; i++)
                        b[n++] = a[i];
                b[n++] = lv;
                b[n] = NULL;
                rc = lv ? lvm_run(b, NULL, e, snap ? SM_VDI_SNAPSHOT : SM_VDI_CLONE,
                                  "creating the thin snapshot")
                        : -ENOMEM;
                free(lv);
        } else {
                rc = new_lv(sr, nloc, src.virtual_size, src.type, e);
                if (rc == 0 && snap) {
                        char *lv = lv_path(sr, nloc);
                        const char *a[] = {"lvchange", "--addtag", stag, "--addtag",
                                           timetag,    lv,         NULL};
                        rc = lv ? lvm_run(a, NULL, e, SM_VDI_SNAPSHOT, "tagging the snapshot")
                                : -ENOMEM;
                        free(lv);
                }
                if (rc == 0)
                        rc = lvm_copy_into(sr, loc, nloc, e);
                if (rc < 0)
                        lvm_vdi_delete(sr, nloc, NULL);
        }
        sd_vdi_clear(&src);
        return rc < 0 ? rc : lvm_introduce(sr, nloc, out, e);
}

static int lvm_vdi_clone(struct sd_sr *sr, const char *loc, struct sd_vdi *out, struct sd_error *e)
{
        return clone_or_snapshot(sr, loc, false, out, e);
}

static int lvm_vdi_snapshot(struct sd_sr *sr, const char *loc, struct sd_vdi *out,
                            struct sd_error *e)
{
        return clone_or_snapshot(sr, loc, true, out, e);
}

static int lvm_vdi_resize(struct sd_sr *sr, const char *loc, uint64_t size, struct sd_error *e)
{
        struct sd_vdi v;
        int rc = lvm_introduce(sr, loc, &v, e);
        if (rc < 0)
                return rc;
        uint64_t cur = v.virtual_size;
        sd_vdi_clear(&v);
        if (size < cur) {
                char min[32];
                snprintf(min, sizeof min, "%" PRIu64, cur);
                return sd_fail_api(e, -EINVAL, "VDI_TOO_SMALL", loc, min,
                                   "VDI %s is %" PRIu64 " bytes; it can only grow", loc, cur);
        }
        if (size == cur)
                return 0;
        char sz[32];
        snprintf(sz, sizeof sz, "%" PRIu64 "b", size);
        char *lv = lv_path(sr, loc);
        const char *a[] = {"lvextend", "-L", sz, lv, NULL};
        rc = lv ? lvm_run(a, NULL, e, SM_LVM_RESIZE, "extending the logical volume") : -ENOMEM;
        free(lv);
        return rc;
}

static const char *const lvm_caps[] = {
    "SR_PROBE",  "SR_UPDATE",    "VDI_CREATE", "VDI_DELETE",    "VDI_ATTACH", "VDI_DETACH",
    "VDI_CLONE", "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_INTRODUCE", "VDI_UPDATE", NULL,
};

static const struct sd_config_key lvm_config[] = {
    {"device", "block device that becomes the volume group's physical volume"},
    {"provisioning", "thin (default: thin pool, instant snapshots) or thick (linear LVs, "
                     "copies)"},
    {NULL, NULL},
};

const struct sd_driver sd_driver_lvm = {
    .name = "lvm",
    .description = "SR in an LVM volume group on a local block device; one LV per VDI",
    .capabilities = lvm_caps,
    .config = lvm_config,
    .open = lvm_open,
    .close = lvm_close,
    .sr_create = lvm_sr_create,
    .sr_delete = lvm_sr_delete,
    .sr_attach = lvm_sr_attach,
    .sr_detach = lvm_sr_detach,
    .sr_scan = lvm_sr_scan,
    .sr_probe = lvm_sr_probe,
    .sr_stat = lvm_sr_stat,
    .vdi_create = lvm_vdi_create,
    .vdi_delete = lvm_vdi_delete,
    .vdi_clone = lvm_vdi_clone,
    .vdi_snapshot = lvm_vdi_snapshot,
    .vdi_resize = lvm_vdi_resize,
    .vdi_attach = lvm_vdi_attach,
    .vdi_detach = lvm_vdi_detach,
    .vdi_introduce = lvm_introduce,
};
