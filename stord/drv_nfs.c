/* The "nfs" SR driver: device_config:server and :serverpath name an export; the SR lives in
 * its subdirectory <sr uuid> (as XAPI's NFSSR), mounted at <mount base>/<sr uuid> on attach and
 * unmounted on detach.  Between the two it is the file driver on the mount point.
 * The mount base is $STORD_SR_MOUNT, by default /run/sr-mount (XAPI's /var/run/sr-mount). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "stord/driver.h"
#include "stord/drv_file.h"
#include "stord/spawn.h"

LOG_MODULE(drv_nfs)

static const char *mount_base(void)
{
        const char *b = getenv("STORD_SR_MOUNT");
        return b && b[0] ? b : "/run/sr-mount";
}

static int nfs_check_dconf(const struct sd_map *dconf, struct sd_error *e)
{
        const char *server = sd_map_get(dconf, "server");
        const char *spath = sd_map_get(dconf, "serverpath");
        const char *vers = sd_map_get(dconf, "nfsversion");
        if (server == NULL || server[0] == '\0')
                return sd_fail(e, -EINVAL, SM_CONFIG_SERVER_MISSING,
                               "device_config:server is missing");
        if (spath == NULL || spath[0] == '\0')
                return sd_fail(e, -EINVAL, SM_CONFIG_SERVER_PATH_MISSING,
                               "device_config:serverpath is missing");
        if (spath[0] != '/' || strstr(spath, "..") != NULL)
                return sd_fail(e, -EINVAL, SM_CONFIG_SERVER_PATH_BAD,
                               "serverpath '%s' is not an absolute path", spath);
        if (vers != NULL && strcmp(vers, "3") != 0 && strcmp(vers, "4") != 0 &&
            strcmp(vers, "4.0") != 0 && strcmp(vers, "4.1") != 0 && strcmp(vers, "4.2") != 0)
                return sd_fail(e, -EINVAL, SM_NFS_VERSION, "unsupported NFS version '%s'", vers);
        return 0;
}

static int nfs_open(struct sd_sr *sr, struct sd_error *e)
{
        int rc = nfs_check_dconf(&sr->dconf, e);
        if (rc < 0)
                return rc;
        if (asprintf(&sr->path, "%s/%s", mount_base(), sr->uuid) < 0) {
                sr->path = NULL;
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        }
        return 0;
}

static bool is_mounted(const char *dir)
{
        struct stat a, b;
        char *parent = NULL;
        if (asprintf(&parent, "%s/..", dir) < 0)
                return false;
        bool m = stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
        free(parent);
        return m;
}

/* Mounts server:serverpath[/SUBDIR] on DIR. */
static int nfs_mount(const struct sd_map *dconf, const char *subdir, const char *dir,
                     struct sd_error *e)
{
        char *src = NULL, opts[128];
        const char *vers = sd_map_get(dconf, "nfsversion");
        if (asprintf(&src, "%s:%s%s%s", sd_map_get(dconf, "server"),
                     sd_map_get(dconf, "serverpath"), subdir ? "/" : "", subdir ? subdir : "") < 0)
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        /* XAPI's choices: soft mounts with long timeouts, fresh attributes for shared images */
        snprintf(opts, sizeof opts,
                 "vers=%s,soft,proto=tcp,timeo=200,retrans=4,acdirmin=0,acdirmax=0",
                 vers ? vers : "3");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                free(src);
                return sd_fail(e, -errno, SM_NFS_MOUNT, "mkdir %s: %m", dir);
        }
        const char *argv[] = {"mount", "-t", "nfs", "-o", opts, src, dir, NULL};
        int rc = sd_run_ok(argv, NULL, e, SM_NFS_MOUNT, "mounting the NFS export");
        if (rc < 0)
                rmdir(dir);
        free(src);
        return rc;
}

static int nfs_umount(const char *dir, struct sd_error *e)
{
        if (!is_mounted(dir))
                return 0;
        const char *argv[] = {"umount", dir, NULL};
        int rc = sd_run_ok(argv, NULL, e, SM_NFS_UNMOUNT, "unmounting the NFS export");
        if (rc == 0)
                rmdir(dir);
        return rc;
}

static int nfs_sr_create(struct sd_sr *sr, uint64_t size, struct sd_error *e)
{
        /* mount the export itself to make the SR's subdirectory in it */
        char *tmp = NULL;
        if (asprintf(&tmp, "%s/.create-%s", mount_base(), sr->uuid) < 0)
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        mkdir(mount_base(), 0755);
        int rc = nfs_mount(&sr->dconf, NULL, tmp, e);
        if (rc == 0) {
                char *sub = NULL;
                if (asprintf(&sub, "%s/%s", tmp, sr->uuid) < 0)
                        rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
                else if (mkdir(sub, 0755) < 0 && errno != EEXIST)
                        rc = sd_fail(e, -errno, SM_NFS_CREATE, "mkdir %s on the export: %m", sub);
                free(sub);
                nfs_umount(tmp, NULL);
        }
        free(tmp);
        if (rc < 0)
                return rc;
        rc = nfs_mount(&sr->dconf, sr->uuid, sr->path, e);
        if (rc < 0)
                return rc;
        rc = sd_driver_file.sr_create(sr, size, e);
        nfs_umount(sr->path, NULL);
        return rc;
}

static int nfs_sr_attach(struct sd_sr *sr, struct sd_error *e)
{
        mkdir(mount_base(), 0755);
        if (!is_mounted(sr->path)) {
                int rc = nfs_mount(&sr->dconf, sr->uuid, sr->path, e);
                if (rc < 0)
                        return rc;
        }
        int rc = sd_driver_file.sr_attach(sr, e);
        if (rc < 0)
                nfs_umount(sr->path, NULL);
        return rc;
}

static int nfs_sr_detach(struct sd_sr *sr, struct sd_error *e)
{
        return nfs_umount(sr->path, e);
}

static int nfs_sr_delete(struct sd_sr *sr, struct sd_error *e)
{
        int rc = nfs_sr_attach(sr, e);
        if (rc < 0)
                return rc;
        /* the file driver removes the SR's files; its directory is the mount point, which stays
         * (empty) on the server, as XAPI's NFSSR leaves it too */
        rc = sd_driver_file.sr_delete(sr, e);
        nfs_umount(sr->path, NULL);
        return rc;
}

static int probe_dir(const char *root, struct sd_probe *out, struct sd_error *e)
{
        DIR *d = opendir(root);
        if (d == NULL)
                return sd_fail(e, -errno, SM_NFS_MOUNT, "cannot read the export: %m");
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d)) != NULL) {
                if (!uuid_is_valid(de->d_name))
                        continue;
                struct sd_map dc = {0};
                struct sd_probe one = {0};
                char *loc = NULL;
                if (asprintf(&loc, "%s/%s", root, de->d_name) < 0 ||
                    sd_map_set(&dc, "location", loc) < 0)
                        rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
                else if (sd_driver_file.sr_probe(&dc, &one, NULL) == 0 && one.n == 1) {
                        struct sd_probe_sr *nv = realloc(out->srs, (out->n + 1) * sizeof *nv);
                        if (nv == NULL) {
                                rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
                        } else {
                                out->srs = nv;
                                out->srs[out->n++] = one.srs[0];
                                one.srs[0].aux = NULL;
                        }
                }
                sd_probe_clear(&one);
                sd_map_clear(&dc);
                free(loc);
        }
        closedir(d);
        return rc;
}

static int nfs_sr_probe(const struct sd_map *dconf, struct sd_probe *out, struct sd_error *e)
{
        int rc = nfs_check_dconf(dconf, e);
        if (rc < 0)
                return rc;
        char *tmp = NULL;
        if (asprintf(&tmp, "%s/.probe-%d", mount_base(), (int)getpid()) < 0)
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        mkdir(mount_base(), 0755);
        rc = nfs_mount(dconf, NULL, tmp, e);
        if (rc == 0) {
                rc = probe_dir(tmp, out, e);
                nfs_umount(tmp, NULL);
        }
        free(tmp);
        return rc;
}

static const char *const nfs_caps[] = {
    "SR_PROBE",   "SR_UPDATE",         "VDI_CREATE",   "VDI_DELETE", "VDI_ATTACH",
    "VDI_DETACH", "VDI_CLONE",         "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_INTRODUCE",
    "VDI_UPDATE", "THIN_PROVISIONING", NULL,
};

static const struct sd_config_key nfs_config[] = {
    {"server", "NFS server name or address"},
    {"serverpath", "exported path on the server; the SR is its subdirectory <sr uuid>"},
    {"nfsversion", "3 (default), 4, 4.1 or 4.2"},
    {NULL, NULL},
};

const struct sd_driver sd_driver_nfs = {
    .name = "nfs",
    .description = "SR on an NFS export: qcow2 or raw image files, like the file SR",
    .capabilities = nfs_caps,
    .config = nfs_config,
    .open = nfs_open,
    .sr_create = nfs_sr_create,
    .sr_delete = nfs_sr_delete,
    .sr_attach = nfs_sr_attach,
    .sr_detach = nfs_sr_detach,
    .sr_probe = nfs_sr_probe,
    /* between attach and detach the SR is a directory: the file driver's operations */
    .sr_scan = file_sr_scan,
    .sr_stat = file_sr_stat,
    .vdi_create = file_vdi_create,
    .vdi_delete = file_vdi_delete,
    .vdi_clone = file_vdi_clone,
    .vdi_snapshot = file_vdi_snapshot,
    .vdi_resize = file_vdi_resize,
    .vdi_attach = file_vdi_attach,
    .vdi_detach = file_vdi_detach,
    .vdi_introduce = file_vdi_introduce,
};
