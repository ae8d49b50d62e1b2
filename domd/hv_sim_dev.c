/* Device hooks of simulated domains: disks and NICs are recorded in the domain's file;
 * with hv_config.sim_create_vifs and root, a NIC also gets a veth pair
 * vif<domid>.<devid> (the backend end, for netd to bridge) / vifp<domid>.<devid>. */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "domd/hv_sim.h"

LOG_MODULE(hv_sim_dev)

extern char **environ;

/* Runs `ip ARGS...`; 0 when it exits 0, -EIO otherwise. */
static int run_ip(char *const argv[])
{
        pid_t pid;
        int r = posix_spawnp(&pid, "ip", NULL, NULL, argv, environ);
        if (r != 0) {
                log_warnx("sim: cannot run ip: %s", strerror(r));
                return -r;
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                log_warnx("sim: ip link %s %s failed", argv[2], argv[3]);
                return -EIO;
        }
        return 0;
}

static int veth_create(const char *ifname, unsigned mtu)
{
        char peer[16], mtus[16];
        snprintf(peer, sizeof(peer), "vifp%s", ifname + 3);
        snprintf(mtus, sizeof(mtus), "%u", mtu ? mtu : 1500);
        char *argv[] = {"ip",   "link", "add",  (char *)ifname, "mtu", mtus,
                        "type", "veth", "peer", "name",         peer,  NULL};
        return run_ip(argv);
}

static void veth_delete(const char *ifname)
{
        char *argv[] = {"ip", "link", "del", (char *)ifname, NULL};
        run_ip(argv);
}

/* Index in ARR of the object whose KEY is the string or integer wanted, or -1. */
static ssize_t find_dev(json_t *arr, const char *key, const char *s, json_int_t n)
{
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                json_t *k = json_object_get(v, key);
                if ((s && json_is_string(k) && !strcmp(json_string_value(k), s)) ||
                    (!s && json_is_integer(k) && json_integer_value(k) == n))
                        return (ssize_t)i;
        }
        return -1;
}

static int do_disk_attach(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        const struct hv_disk *disk = arg;
        if (find_dev(d->disks, "vdev", disk->vdev, 0) >= 0)
                return -EEXIST;
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:b}", "vdev", disk->vdev, "backend", disk->backend_path,
                      "mode", disk->read_only ? "r" : "w", "cdrom", disk->cdrom);
        if (!o || json_array_append_new(d->disks, o) < 0)
                return -EINVAL;
        return 1;
}

int sim_disk_attach(struct hv *h, uint32_t domid, const struct hv_disk *disk)
{
        if (!disk || !disk->vdev || !*disk->vdev || !disk->backend_path)
                return -EINVAL;
        return sim_with_domain(sim_of(h), domid, do_disk_attach, (void *)disk);
}

static int do_disk_detach(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        ssize_t i = find_dev(d->disks, "vdev", arg, 0);
        if (i < 0)
                return -ENOENT;
        json_array_remove(d->disks, (size_t)i);
        return 1;
}

int sim_disk_detach(struct hv *h, uint32_t domid, const char *vdev)
{
        if (!vdev)
                return -EINVAL;
        return sim_with_domain(sim_of(h), domid, do_disk_detach, (void *)vdev);
}

struct nic_arg {
        const struct hv_nic *nic;
        char ifname[16];
};

static int do_nic_attach(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        struct nic_arg *a = arg;
        const struct hv_nic *nic = a->nic;
        if (find_dev(d->nics, "devid", NULL, nic->devid) >= 0)
                return -EEXIST;
        snprintf(a->ifname, sizeof(a->ifname), "vif%" PRIu32 ".%u", d->domid, nic->devid);
        bool veth = s->create_vifs && geteuid() == 0;
        if (veth) {
                int r = veth_create(a->ifname, nic->mtu);
                if (r < 0)
                        return r;
        }
        json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:s, s:b}", "devid", (int)nic->devid, "mac",
                              nic->mac ? nic->mac : "", "bridge", nic->bridge ? nic->bridge : "",
                              "mtu", (int)nic->mtu, "ifname", a->ifname, "veth", veth);
        if (!o || json_array_append_new(d->nics, o) < 0) {
                if (veth)
                        veth_delete(a->ifname);
                return -EINVAL;
        }
        return 1;
}

int sim_nic_attach(struct hv *h, uint32_t domid, const struct hv_nic *nic, char ifname[16])
{
        if (!nic || nic->devid > 9999)
                return -EINVAL;
        struct nic_arg a = {nic, ""};
        int r = sim_with_domain(sim_of(h), domid, do_nic_attach, &a);
        if (r == 0 && ifname)
                memcpy(ifname, a.ifname, sizeof(a.ifname));
        return r;
}

static void release_nic(json_t *o)
{
        const char *ifname = json_string_value(json_object_get(o, "ifname"));
        if (json_is_true(json_object_get(o, "veth")) && ifname)
                veth_delete(ifname);
}

static int do_nic_detach(struct sim *s, struct sim_dom *d, uint64_t now, void *arg)
{
        ssize_t i = find_dev(d->nics, "devid", NULL, *(unsigned *)arg);
        if (i < 0)
                return -ENOENT;
        release_nic(json_array_get(d->nics, (size_t)i));
        json_array_remove(d->nics, (size_t)i);
        return 1;
}

int sim_nic_detach(struct hv *h, uint32_t domid, unsigned devid)
{
        return sim_with_domain(sim_of(h), domid, do_nic_detach, &devid);
}

void sim_nics_release(struct sim *s, const struct sim_dom *d)
{
        size_t i;
        json_t *v;
        json_array_foreach(d->nics, i, v)
        {
                release_nic(v);
        }
}
