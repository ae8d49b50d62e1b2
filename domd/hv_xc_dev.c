/* Disks and NICs of Xen guests: the frontend and backend xenstore nodes that blkback and
 * netback (in dom0's kernel) and the guest's blkfront and netfront pick up.  A raw disk
 * whose backend_path is a regular file gets a loop device, so blkback always serves a block
 * device ("phy"); a qcow2 image is served by QEMU's qdisk backend instead (the domain's
 * device model, hv_xc_qdisk.c); netback creates the interface vif<domid>.<devid> itself.  No
 * hotplug scripts run: what they would do (loop setup, hotplug-status) is done here, and bridging
 * the interface is netd's job. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_xc.h"

LOG_MODULE(hv_xc_dev)

#define XENBUS_CLOSED 6

/* Xen's device number of a virtual disk name: xvdX, sdX, hdX, or a number. */
static int vdev_number(const char *vdev, unsigned *out)
{
        char *end;
        unsigned long n = strtoul(vdev, &end, 10);
        if (*vdev && !*end) {
                *out = (unsigned)n;
                return 0;
        }
        unsigned idx;
        if (!strncmp(vdev, "xvd", 3) && vdev[3] >= 'a' && vdev[3] <= 'p' && !vdev[4]) {
                idx = (unsigned)(vdev[3] - 'a');
                *out = (202 << 8) | (idx << 4);
        } else if (!strncmp(vdev, "sd", 2) && vdev[2] >= 'a' && vdev[2] <= 'p' && !vdev[3]) {
                *out = (8 << 8) | ((unsigned)(vdev[2] - 'a') << 4);
        } else if (!strncmp(vdev, "hd", 2) && vdev[2] >= 'a' && vdev[2] <= 'd' && !vdev[3]) {
                idx = (unsigned)(vdev[2] - 'a');
                *out = ((idx < 2 ? 3 : 22) << 8) | ((idx & 1) << 6);
        } else {
                return -EINVAL;
        }
        return 0;
}

/* Attaches PATH to a free loop device; its name goes to DEV. */
static int loop_attach(const char *path, bool ro, char dev[32], dev_t *rdev)
{
        int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return -errno;
        int ffd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        int r = ffd < 0 ? -errno : -EBUSY;
        for (int tries = 0; ffd >= 0 && tries < 8 && r == -EBUSY; tries++) {
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0) {
                        r = -errno;
                        break;
                }
                snprintf(dev, 32, "/dev/loop%d", n);
                int lfd = open(dev, O_RDWR | O_CLOEXEC);
                if (lfd < 0) {
                        r = -errno;
                        break;
                }
                if (ioctl(lfd, LOOP_SET_FD, ffd) < 0) {
                        r = -errno; /* EBUSY: another process took it first */
                } else {
                        struct loop_info64 li;
                        memset(&li, 0, sizeof(li));
                        snprintf((char *)li.lo_file_name, sizeof(li.lo_file_name), "%s", path);
                        ioctl(lfd, LOOP_SET_STATUS64, &li);
                        struct stat st;
                        r = fstat(lfd, &st) < 0 ? -errno : 0;
                        *rdev = st.st_rdev;
                }
                close(lfd);
        }
        if (ffd >= 0)
                close(ffd);
        close(ctl);
        return r;
}

static void loop_detach(const char *dev)
{
        int fd = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        /* While blkback still holds it, the kernel detaches it at its last close. */
        if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
                log_debug("xc: detaching %s: %s", dev, strerror(errno));
        close(fd);
}

/* Writes NODES (key, value pairs, NULL-terminated) under FE and BE in one transaction,
 * with their permissions: the frontend owned by DOMID, the backend by dom0. */
static int write_pair(struct xcb *x, uint32_t domid, const char *fe, const char *be,
                      const char *const *fe_nodes, const char *const *be_nodes)
{
        struct xs_permissions fe_perm[2] = {{.id = domid, .perms = XS_PERM_NONE},
                                            {.id = 0, .perms = XS_PERM_READ}};
        struct xs_permissions be_perm[2] = {{.id = 0, .perms = XS_PERM_NONE},
                                            {.id = domid, .perms = XS_PERM_READ}};
        char path[512];
        for (int attempt = 0; attempt < 16; attempt++) {
                xs_transaction_t t = xs_transaction_start(x->xs);
                if (t == XBT_NULL)
                        return -(errno ? errno : EIO);
                bool ok = xs_mkdir(x->xs, t, fe) && xs_set_permissions(x->xs, t, fe, fe_perm, 2) &&
                          xs_mkdir(x->xs, t, be) && xs_set_permissions(x->xs, t, be, be_perm, 2);
                for (const char *const *n = fe_nodes; ok && *n; n += 2) {
                        snprintf(path, sizeof(path), "%s/%s", fe, n[0]);
                        ok = xs_write(x->xs, t, path, n[1], strlen(n[1]));
                }
                for (const char *const *n = be_nodes; ok && *n; n += 2) {
                        snprintf(path, sizeof(path), "%s/%s", be, n[0]);
                        ok = xs_write(x->xs, t, path, n[1], strlen(n[1]));
                }
                int err = ok ? 0 : errno;
                if (xs_transaction_end(x->xs, t, !ok))
                        return ok ? 0 : -(err ? err : EIO);
                if (errno != EAGAIN)
                        return -(errno ? errno : EIO);
        }
        return -EAGAIN;
}

static bool exists(struct xcb *x, const char *path)
{
        char *v = xcs_read(x, "%s", path);
        free(v);
        return v != NULL;
}

/* Whether blkback cannot read the image as it is: the format stord gave, else the file's
 * own magic (a qcow2 header starts "QFI\xfb"). */
static bool wants_qdisk(const struct hv_disk *disk, const struct stat *st)
{
        if (disk->format && *disk->format)
                return strcmp(disk->format, "raw") != 0;
        if (!S_ISREG(st->st_mode))
                return false;
        unsigned char magic[4] = {0};
        int fd = open(disk->backend_path, O_RDONLY | O_CLOEXEC);
        bool q = fd >= 0 && read(fd, magic, 4) == 4 && !memcmp(magic, "QFI\xfb", 4);
        if (fd >= 0)
                close(fd);
        return q;
}

/* The backend directory of DOMID's disk DEVID, blkback's or QEMU's; false when neither. */
static bool disk_backend(struct xcb *x, uint32_t domid, unsigned devid, char be[128])
{
        static const char *const kinds[] = {"vbd", "qdisk"};
        for (size_t i = 0; i < 2; i++) {
                snprintf(be, 128, "/local/domain/0/backend/%s/%" PRIu32 "/%u", kinds[i], domid,
                         devid);
                if (exists(x, be))
                        return true;
        }
        return false;
}

/* A disk QEMU serves: its backend under backend/qdisk, then the domain's QEMU. */
static int qdisk_attach(struct xcb *x, uint32_t domid, unsigned devid, const struct hv_disk *disk)
{
        char fe[128], be[128], devids[16], fe_id[16], params[600];
        snprintf(fe, sizeof(fe), "/local/domain/%" PRIu32 "/device/vbd/%u", domid, devid);
        snprintf(be, sizeof(be), "/local/domain/0/backend/qdisk/%" PRIu32 "/%u", domid, devid);
        snprintf(devids, sizeof(devids), "%u", devid);
        snprintf(fe_id, sizeof(fe_id), "%" PRIu32, domid);
        /* QEMU's xen-block takes "<driver>:<file>". */
        snprintf(params, sizeof(params), "%s:%s",
                 disk->format && *disk->format ? disk->format : "qcow2", disk->backend_path);
        const char *type = disk->cdrom ? "cdrom" : "disk";
        const char *mode = disk->read_only || disk->cdrom ? "r" : "w";
        const char *fe_nodes[] = {"backend",        be,     "backend-id",  "0",  "state", "1",
                                  "virtual-device", devids, "device-type", type, NULL};
        const char *be_nodes[] = {
            "frontend",    fe,      "frontend-id", fe_id,       "online",
            "1",           "state", "1",           "removable", disk->cdrom ? "1" : "0",
            "bootable",    "1",     "mode",        mode,        "params",
            params,        "type",  "qdisk",       "dev",       disk->vdev,
            "device-type", type,    NULL};
        int r = write_pair(x, domid, fe, be, fe_nodes, be_nodes);
        if (r == 0 && (r = xc_qdisk_ensure(x, domid)) < 0) {
                xcs_rm(x, "%s", be);
                xcs_rm(x, "%s", fe);
        }
        if (r == 0)
                log_info("xc: domain %" PRIu32 ": disk %s on %s (QEMU qdisk)", domid, disk->vdev,
                         params);
        return r;
}

int xc_be_disk_attach(struct hv *h, uint32_t domid, const struct hv_disk *disk)
{
        struct xcb *x = xcb_of(h);
        unsigned devid;
        if (!disk || !disk->vdev || !disk->backend_path || vdev_number(disk->vdev, &devid) < 0)
                return -EINVAL;
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        char fe[128], be[128];
        snprintf(fe, sizeof(fe), "/local/domain/%" PRIu32 "/device/vbd/%u", domid, devid);
        if (disk_backend(x, domid, devid, be))
                return -EEXIST;
        struct stat st;
        if (stat(disk->backend_path, &st) < 0)
                return errno == ENOENT ? -ENOENT : -errno;
        if (wants_qdisk(disk, &st))
                return qdisk_attach(x, domid, devid, disk);
        snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%" PRIu32 "/%u", domid, devid);
        char loopdev[32] = "", physdev[32], devids[16], fe_path[160], be_path[160], fe_id[16];
        dev_t rdev = st.st_rdev;
        if (S_ISREG(st.st_mode)) {
                if ((r = loop_attach(disk->backend_path, disk->read_only || disk->cdrom, loopdev,
                                     &rdev)) < 0) {
                        log_warnx("xc: no loop device for %s: %s", disk->backend_path,
                                  strerror(-r));
                        return r;
                }
        } else if (!S_ISBLK(st.st_mode)) {
                return -EINVAL;
        }
        snprintf(physdev, sizeof(physdev), "%x:%x", major(rdev), minor(rdev));
        snprintf(devids, sizeof(devids), "%u", devid);
        snprintf(fe_path, sizeof(fe_path), "%s", fe);
        snprintf(be_path, sizeof(be_path), "%s", be);
        snprintf(fe_id, sizeof(fe_id), "%" PRIu32, domid);
        const char *type = disk->cdrom ? "cdrom" : "disk";
        const char *fe_nodes[] = {"backend",        be_path, "backend-id",  "0",  "state", "1",
                                  "virtual-device", devids,  "device-type", type, NULL};
        const char *be_nodes[] = {"frontend",
                                  fe_path,
                                  "frontend-id",
                                  fe_id,
                                  "online",
                                  "1",
                                  "state",
                                  "1",
                                  "removable",
                                  disk->cdrom ? "1" : "0",
                                  "bootable",
                                  "1",
                                  "mode",
                                  disk->read_only || disk->cdrom ? "r" : "w",
                                  "params",
                                  disk->backend_path,
                                  "type",
                                  "phy",
                                  "dev",
                                  disk->vdev,
                                  "device-type",
                                  type,
                                  "loop-device",
                                  loopdev,
                                  "physical-device-path",
                                  *loopdev ? loopdev : disk->backend_path,
                                  "physical-device",
                                  physdev,
                                  NULL};
        r = write_pair(x, domid, fe, be, fe_nodes, be_nodes);
        if (r < 0 && *loopdev)
                loop_detach(loopdev);
        if (r == 0)
                log_info("xc: domain %" PRIu32 ": disk %s on %s%s%s", domid, disk->vdev,
                         disk->backend_path, *loopdev ? " via " : "", loopdev);
        return r;
}

/* Asks the backend at BE to close (the frontend follows) and waits a little for it. */
static void backend_close(struct xcb *x, const char *be)
{
        xcs_write(x, "0", "%s/online", be);
        xcs_write(x, "5", "%s/state", be); /* XenbusStateClosing */
        for (int i = 0; i < 100; i++) {
                char *st = xcs_read(x, "%s/state", be);
                int s = st ? atoi(st) : XENBUS_CLOSED;
                free(st);
                if (s == XENBUS_CLOSED)
                        return;
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

static void disk_forget(struct xcb *x, const char *be, const char *fe)
{
        char *loop = xcs_read(x, "%s/loop-device", be);
        xcs_rm(x, "%s", be);
        if (fe)
                xcs_rm(x, "%s", fe);
        if (loop && *loop)
                loop_detach(loop);
        free(loop);
}

int xc_be_disk_detach(struct hv *h, uint32_t domid, const char *vdev)
{
        struct xcb *x = xcb_of(h);
        unsigned devid;
        if (!vdev || vdev_number(vdev, &devid) < 0)
                return -EINVAL;
        char fe[128], be[128];
        snprintf(fe, sizeof(fe), "/local/domain/%" PRIu32 "/device/vbd/%u", domid, devid);
        if (!disk_backend(x, domid, devid, be))
                return -ENOENT;
        xc_domaininfo_t di;
        if (xc_be_getinfo(x, domid, &di) == 0 && !(di.flags & XEN_DOMINF_dying))
                backend_close(x, be);
        disk_forget(x, be, fe);
        return 0;
}

int xc_be_nic_attach(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16])
{
        struct xcb *x = xcb_of(h);
        if (!nic || !nic->mac || strlen(nic->mac) != 17)
                return -EINVAL;
        xc_domaininfo_t di;
        int r = xc_be_getinfo(x, domid, &di);
        if (r < 0)
                return r;
        char fe[128], be[128], fe_id[16], handle[16], mtu[16];
        snprintf(fe, sizeof(fe), "/local/domain/%" PRIu32 "/device/vif/%u", domid, nic->devid);
        snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%" PRIu32 "/%u", domid, nic->devid);
        if (exists(x, be))
                return -EEXIST;
        snprintf(fe_id, sizeof(fe_id), "%" PRIu32, domid);
        snprintf(handle, sizeof(handle), "%u", nic->devid);
        snprintf(mtu, sizeof(mtu), "%u", nic->mtu ? nic->mtu : 1500);
        const char *fe_nodes[] = {"backend", be,    "backend-id", "0",   "state", "1", "handle",
                                  handle,    "mac", nic->mac,     "mtu", mtu,     NULL};
        /* netback refuses a backend without a "script" node (it only passes it on to udev:
         * empty, as nothing is to run), and connects only once hotplug-status says
         * "connected" (what the vif-bridge script would write); the interface exists from
         * the probe on, and netd bridges it. */
        const char *be_nodes[] = {"frontend",  fe,       "frontend-id",
                                  fe_id,       "online", "1",
                                  "state",     "1",      "mac",
                                  nic->mac,    "handle", handle,
                                  "type",      "vif",    "mtu",
                                  mtu,         "bridge", nic->bridge ? nic->bridge : "",
                                  "script",    "",       "hotplug-status",
                                  "connected", NULL};
        r = write_pair(x, domid, fe, be, fe_nodes, be_nodes);
        if (r == 0) {
                snprintf(ifname, 16, "vif%" PRIu32 ".%u", domid, nic->devid);
                log_info("xc: domain %" PRIu32 ": NIC %u (%s) as %s", domid, nic->devid, nic->mac,
                         ifname);
        }
        return r;
}

int xc_be_nic_detach(struct hv *h, uint32_t domid, unsigned devid)
{
        struct xcb *x = xcb_of(h);
        char fe[128], be[128];
        snprintf(fe, sizeof(fe), "/local/domain/%" PRIu32 "/device/vif/%u", domid, devid);
        snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%" PRIu32 "/%u", domid, devid);
        if (!exists(x, be))
                return -ENOENT;
        xc_domaininfo_t di;
        if (xc_be_getinfo(x, domid, &di) == 0 && !(di.flags & XEN_DOMINF_dying))
                backend_close(x, be);
        xcs_rm(x, "%s", be);
        xcs_rm(x, "%s", fe);
        return 0;
}

void xc_be_devices_release(struct xcb *x, uint32_t domid)
{
        char dir[128], be[192];
        snprintf(dir, sizeof(dir), "/local/domain/0/backend/vbd/%" PRIu32, domid);
        unsigned n = 0;
        char **ents = xs_directory(x->xs, XBT_NULL, dir, &n);
        for (unsigned i = 0; ents && i < n; i++) {
                snprintf(be, sizeof(be), "%s/%s", dir, ents[i]);
                disk_forget(x, be, NULL);
        }
        free(ents);
        xcs_rm(x, "%s", dir);
        xc_qdisk_stop(x, domid);
        xcs_rm(x, "/local/domain/0/backend/qdisk/%" PRIu32, domid);
        xcs_rm(x, "/local/domain/0/backend/vif/%" PRIu32, domid);
}
