/* The "iso" SR driver: a local directory of CD images, each a read-only VDI whose location is
 * its file name (as XAPI's ISO SR).  Files are added and removed behind the toolstack's back;
 * scan reports what is there now.  VDIs cannot be created, deleted, cloned or resized here.
 * Only local directories (device_config:location); XAPI's NFS/CIFS ISO libraries would mount
 * first, which this driver does not do. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common/log.h"
#include "stord/driver.h"

LOG_MODULE(drv_iso)

static bool is_iso_name(const char *name)
{
        size_t n = strlen(name);
        if (name[0] == '.' || strchr(name, '/') != NULL || n < 5)
                return false;
        return strcasecmp(name + n - 4, ".iso") == 0 || strcasecmp(name + n - 4, ".img") == 0;
}

static int iso_open(struct sd_sr *sr, struct sd_error *e)
{
        const char *loc = sd_map_get(&sr->dconf, "location");
        if (loc == NULL || loc[0] == '\0')
                return sd_fail(e, -EINVAL, SM_ISO_LOCATION_MISSING,
                               "'Location' parameter must be specified in Device Configuration");
        if (loc[0] != '/')
                return sd_fail(e, -EINVAL, SM_ISO_LOCAL_PATH, "invalid local path '%s'", loc);
        sr->path = strdup(loc);
        return sr->path ? 0 : sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
}

static int iso_sr_attach(struct sd_sr *sr, struct sd_error *e)
{
        struct stat st;
        if (stat(sr->path, &st) < 0 || !S_ISDIR(st.st_mode))
                return sd_fail(e, -ENOENT, SM_ISO_LOCAL_PATH, "%s is not a directory", sr->path);
        return 0;
}

static int iso_sr_detach(struct sd_sr *sr, struct sd_error *e)
{
        return 0;
}

static int iso_stat_vdi(struct sd_sr *sr, const char *name, struct sd_vdi *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        if (name == NULL || !is_iso_name(name))
                return sd_fail(e, -EINVAL, SM_VDI_MISSING, "'%s' is not an ISO of this SR",
                               name ? name : "");
        char *p = NULL;
        if (asprintf(&p, "%s/%s", sr->path, name) < 0)
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        struct stat st;
        int r = stat(p, &st);
        free(p);
        if (r < 0 || !S_ISREG(st.st_mode))
                return sd_fail(e, -ENOENT, SM_VDI_MISSING, "ISO %s not found in %s", name,
                               sr->path);
        out->location = strdup(name);
        out->type = strdup("user");
        out->format = SD_FMT_RAW;
        out->virtual_size = (uint64_t)st.st_size;
        out->physical_utilisation = (uint64_t)st.st_blocks * 512;
        out->read_only = true;
        if (out->location == NULL || out->type == NULL) {
                sd_vdi_clear(out);
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        }
        return 0;
}

static int iso_sr_scan(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e)
{
        DIR *d = opendir(sr->path);
        if (d == NULL)
                return sd_fail(e, -errno, SM_SR_SCAN, "cannot read %s: %m", sr->path);
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d)) != NULL) {
                struct sd_vdi v;
                if (!is_iso_name(de->d_name))
                        continue;
                if (iso_stat_vdi(sr, de->d_name, &v, NULL) < 0)
                        continue; /* vanished meanwhile, or not a regular file */
                rc = sd_vdi_list_take(out, &v);
                if (rc < 0) {
                        sd_vdi_clear(&v);
                        sd_fail(e, rc, SM_SR_SCAN, "out of memory");
                }
        }
        closedir(d);
        if (rc < 0)
                sd_vdi_list_clear(out);
        return rc;
}

static int iso_sr_stat(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e)
{
        struct statvfs vfs;
        if (statvfs(sr->path, &vfs) < 0)
                return sd_fail(e, -errno, SM_SR_UNAVAILABLE, "statvfs %s: %m", sr->path);
        struct sd_vdi_list l = {0};
        int rc = iso_sr_scan(sr, &l, e);
        if (rc < 0)
                return rc;
        for (size_t i = 0; i < l.n; i++) {
                out->virtual_allocation += l.v[i].virtual_size;
                out->physical_utilisation += l.v[i].physical_utilisation;
        }
        out->physical_size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        sd_vdi_list_clear(&l);
        return 0;
}

static int iso_vdi_attach(struct sd_sr *sr, const char *loc, bool ro, struct sd_attach *out,
                          struct sd_error *e)
{
        struct sd_vdi v;
        int rc = iso_stat_vdi(sr, loc, &v, e);
        if (rc < 0)
                return rc;
        sd_vdi_clear(&v);
        if (!ro)
                return sd_fail_api(e, -EROFS, "VDI_READONLY", loc, NULL, "ISO %s is read-only",
                                   loc);
        if (asprintf(&out->path, "%s/%s", sr->path, loc) < 0) {
                out->path = NULL;
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        }
        out->format = SD_FMT_RAW;
        out->read_only = true;
        return 0;
}

static int iso_vdi_detach(struct sd_sr *sr, const char *loc, struct sd_error *e)
{
        return 0;
}

static int iso_vdi_introduce(struct sd_sr *sr, const char *loc, struct sd_vdi *out,
                             struct sd_error *e)
{
        return iso_stat_vdi(sr, loc, out, e);
}

static const char *const iso_caps[] = {
    "VDI_ATTACH", "VDI_DETACH", "VDI_INTRODUCE", "VDI_UPDATE", "SR_UPDATE", NULL,
};

static const struct sd_config_key iso_config[] = {
    {"location", "local directory holding the .iso files"},
    {NULL, NULL},
};

const struct sd_driver sd_driver_iso = {
    .name = "iso",
    .description = "read-only CD images (.iso) in a local directory",
    .capabilities = iso_caps,
    .config = iso_config,
    .open = iso_open,
    .sr_attach = iso_sr_attach,
    .sr_detach = iso_sr_detach,
    .sr_scan = iso_sr_scan,
    .sr_stat = iso_sr_stat,
    .vdi_attach = iso_vdi_attach,
    .vdi_detach = iso_vdi_detach,
    .vdi_introduce = iso_vdi_introduce,
};
