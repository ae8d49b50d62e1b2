/* Building a domain with libxenctrl and libxenguest's xc_dom_* builder: the empty domain
 * (xc_domain_create), its limits, the kernel image, grant tables, the console and xenstore
 * rings, then its xenstore tree and xs_introduce_domain.  PV and PVH; HVM needs a device
 * model and firmware, which this backend does not run (-EOPNOTSUPP). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "domd/hv_xc.h"
#include "domd/hv_xc_acpi.h"

LOG_MODULE(hv_xc_build)

#define KiB            1024ULL
#define MiB            (1024ULL * 1024)
#define MAXMEM_SLACK_K 1024 /* as xl: a little room above static-max for the guest's rings */
#define VCPUS_LIMIT    128
/* Below 4 GiB, the hole a PVH guest keeps for its local APIC and special pages. */
#define PVH_MMIO_SIZE (256 * MiB)

static const char *spec_get(const struct hv_map *m, const char *key)
{
        for (size_t i = 0; m && i < m->n; i++)
                if (m->items[i].key && !strcmp(m->items[i].key, key))
                        return m->items[i].value;
        return NULL;
}

static int check_spec(const struct hv_domain_spec *spec)
{
        if (!spec || !uuid_is_valid(spec->uuid))
                return -EINVAL;
        uint64_t smax =
            spec->memory_static_max ? spec->memory_static_max : spec->memory_dynamic_max;
        if (!spec->memory_dynamic_max || spec->memory_dynamic_min > spec->memory_dynamic_max ||
            spec->memory_dynamic_max > smax || !spec->vcpus_max || spec->vcpus_max > VCPUS_LIMIT ||
            !spec->vcpus_at_startup || spec->vcpus_at_startup > spec->vcpus_max ||
            (unsigned)spec->type > HV_TYPE_HVM)
                return -EINVAL;
        if (spec->type == HV_TYPE_HVM)
                return -EOPNOTSUPP; /* no device model (qemu) nor hvmloader here */
        if (!spec->kernel || !*spec->kernel)
                return -EINVAL; /* PV and PVH boot a kernel directly */
        return 0;
}

/* CPUID bits a "cpuid" platform key may hide ("host,avx=0,..." as in xl.cfg): only the
 * masks the QEMU/TCG test host needs for PVH guests (its AVX emulation is unreliable). */
static const struct {
        const char *name;
        uint32_t leaf, subleaf;
        int reg; /* 0 eax .. 3 edx */
        int bit;
} cpuid_bits[] = {
    {"fma", 1, XEN_CPUID_INPUT_UNUSED, 2, 12},
    {"avx", 1, XEN_CPUID_INPUT_UNUSED, 2, 28},
    {"f16c", 1, XEN_CPUID_INPUT_UNUSED, 2, 29},
    {"avx2", 7, 0, 1, 5},
    {"avx512f", 7, 0, 1, 16},
};

/* Applies the default CPUID policy, with the bits PLATFORM's "cpuid" key clears. */
static int apply_cpuid(struct xcb *x, uint32_t domid, const struct hv_domain_spec *spec)
{
        const char *want = spec_get(&spec->platform, "cpuid");
        struct xc_xend_cpuid xend[3];
        char regs[2][4][33];
        size_t n = 0;
        memset(xend, 0, sizeof(xend));
        xend[0].leaf = 1;
        xend[0].subleaf = XEN_CPUID_INPUT_UNUSED;
        xend[1].leaf = 7;
        xend[1].subleaf = 0;
        for (int e = 0; e < 2; e++)
                for (int r = 0; r < 4; r++) {
                        memset(regs[e][r], 'x', 32);
                        regs[e][r][32] = 0;
                        xend[e].policy[r] = regs[e][r];
                }
        bool used[2] = {false, false};
        char *copy = want ? strdup(want) : NULL, *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
                if (!strcmp(tok, "host"))
                        continue;
                char *eq = strchr(tok, '=');
                if (!eq || strcmp(eq + 1, "0")) {
                        log_warnx("xc: platform:cpuid item '%s' not understood (only "
                                  "<feature>=0)",
                                  tok);
                        free(copy);
                        return -EINVAL;
                }
                *eq = 0;
                size_t i;
                for (i = 0; i < sizeof(cpuid_bits) / sizeof(cpuid_bits[0]); i++)
                        if (!strcmp(cpuid_bits[i].name, tok))
                                break;
                if (i == sizeof(cpuid_bits) / sizeof(cpuid_bits[0])) {
                        log_warnx("xc: platform:cpuid: unknown feature '%s'", tok);
                        free(copy);
                        return -EINVAL;
                }
                int e = cpuid_bits[i].leaf == 1 ? 0 : 1;
                regs[e][cpuid_bits[i].reg][31 - cpuid_bits[i].bit] = '0'; /* bit 31 first */
                used[e] = true;
        }
        free(copy);
        struct xc_xend_cpuid list[3];
        for (int e = 0; e < 2; e++)
                if (used[e])
                        list[n++] = xend[e];
        memset(&list[n], 0, sizeof(list[n]));
        list[n].leaf = list[n].subleaf = XEN_CPUID_INPUT_UNUSED;
        /* As libxl: PAE on, no invariant TSC promised (the guest may migrate), no nested
         * virtualisation. */
        if (xc_cpuid_apply_policy(x->xch, domid, false, NULL, 0, true, false, false,
                                  n ? list : NULL, NULL) < 0)
                return -(errno ? errno : EIO);
        return 0;
}

int xc_be_domain_prepare(struct xcb *x, const struct hv_domain_spec *spec, struct xc_new_dom *nd,
                         struct hv_mem_shortage *short_out)
{
        int r = check_spec(spec);
        if (r < 0)
                return r;
        uint32_t existing;
        if (xc_be_find(x, spec->uuid, &existing) == 0) {
                log_warnx("xc: VM %s already has domain %" PRIu32, spec->uuid, existing);
                return -EEXIST;
        }
        memset(nd, 0, sizeof(*nd));
        uint64_t smax =
            spec->memory_static_max ? spec->memory_static_max : spec->memory_dynamic_max;
        nd->static_max_kib = smax / KiB;
        nd->target_kib = spec->memory_dynamic_max / KiB;
        uint64_t need = spec->memory_dynamic_max + MAXMEM_SLACK_K * KiB;
        uint64_t avail = xc_be_free_memory(x);
        if (need > avail) {
                if (short_out)
                        *short_out = (struct hv_mem_shortage){need, avail};
                log_info("xc: VM %s needs %" PRIu64 " MiB, %" PRIu64 " MiB free", spec->uuid,
                         (uint64_t)(need / MiB), (uint64_t)(avail / MiB));
                return -ENOMEM;
        }
        bool pv = spec->type == HV_TYPE_PV;
        struct xen_domctl_createdomain cfg = {
            .flags = pv ? 0 : XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap,
            .max_vcpus = spec->vcpus_max,
            .max_evtchn_port = 1023,
            .max_grant_frames = 32,
            .max_maptrack_frames = 1024,
            .grant_opts = XEN_DOMCTL_GRANT_version(1),
            .arch = {.emulation_flags = pv ? 0 : XEN_X86_EMU_LAPIC},
        };
        if ((r = xc_be_uuid_to_handle(spec->uuid, cfg.handle)) < 0)
                return r;
        uint32_t domid = 0; /* 0: Xen picks */
        if (xc_domain_create(x->xch, &domid, &cfg) < 0) {
                r = -(errno ? errno : EIO);
                log_warnx("xc: xc_domain_create for VM %s: %s", spec->uuid, strerror(-r));
                return r == -ENOMEM ? -ENOMEM : r;
        }
        nd->domid = domid;
        const char *tsc = spec_get(&spec->platform, "tsc_mode");
        int p;
        if (xc_domain_max_vcpus(x->xch, domid, spec->vcpus_max) < 0 ||
            xc_domain_setmaxmem(x->xch, domid, nd->static_max_kib + MAXMEM_SLACK_K) < 0 ||
            (tsc && xc_domain_set_tsc_info(x->xch, domid, (uint32_t)atoi(tsc), 0, 0, 0) < 0))
                goto fail;
        if ((p = xc_evtchn_alloc_unbound(x->xch, domid, 0)) < 0)
                goto fail;
        nd->store_port = (uint32_t)p;
        if ((p = xc_evtchn_alloc_unbound(x->xch, domid, 0)) < 0)
                goto fail;
        nd->console_port = (uint32_t)p;
        return 0;
fail:
        r = -(errno ? errno : EIO);
        log_warnx("xc: setting up domain %" PRIu32 ": %s", domid, strerror(-r));
        xc_domain_destroy(x->xch, domid);
        return r;
}

/* A PVH guest's memory map: RAM below the MMIO hole, the rest above 4 GiB. */
static int pvh_memory(struct xc_dom_image *dom, struct xcb *x, uint32_t domid, uint64_t mib)
{
        uint64_t low = mib * MiB, high = 0, hole = (1ULL << 32) - PVH_MMIO_SIZE;
        if (low > hole) {
                high = (1ULL << 32) + (low - hole);
                low = hole;
        }
        dom->target_pages = mib << (20 - XC_PAGE_SHIFT);
        dom->lowmem_end = low;
        dom->highmem_end = high;
        dom->mmio_start = hole;
        dom->mmio_size = PVH_MMIO_SIZE;
        if (xc_dom_mem_init(dom, (unsigned)mib) || xc_dom_boot_mem_init(dom))
                return -1;
        struct e820entry map[3] = {
            {.addr = 0, .size = low, .type = E820_RAM},
            {.addr = XC_ACPI_BASE, .size = XC_ACPI_PAGE, .type = E820_ACPI},
            {.addr = 1ULL << 32, .size = high - (1ULL << 32), .type = E820_RAM}};
        return xc_domain_set_memory_map(x->xch, domid, map, high ? 3 : 2);
}

/* Loads the kernel and ramdisk and starts the vCPUs' context; the rings' frames go to
 * *STORE_MFN and *CONSOLE_MFN (machine frames for PV, guest frames for PVH). */
static int build_image(struct xcb *x, const struct hv_domain_spec *spec,
                       const struct xc_new_dom *nd, unsigned long *store_mfn,
                       unsigned long *console_mfn)
{
        bool pv = spec->type == HV_TYPE_PV;
        struct xc_dom_image *dom =
            xc_dom_allocate(x->xch, spec->cmdline ? spec->cmdline : "", NULL);
        if (!dom)
                return -ENOMEM;
        const char *step = "xc_dom_kernel_file";
        uint64_t mib = nd->target_kib / 1024;
        dom->container_type = pv ? XC_DOM_PV_CONTAINER : XC_DOM_HVM_CONTAINER;
        dom->xenstore_evtchn = nd->store_port;
        dom->console_evtchn = nd->console_port;
        dom->xenstore_domid = 0;
        dom->console_domid = 0;
        dom->max_vcpus = spec->vcpus_max;
        int r = xc_dom_kernel_file(dom, spec->kernel);
        if (r == 0 && spec->ramdisk && *spec->ramdisk) {
                step = "xc_dom_module_file";
                r = xc_dom_module_file(dom, spec->ramdisk, NULL);
        }
        if (r == 0 &&
            (step = "xc_dom_boot_xen_init", r = xc_dom_boot_xen_init(dom, x->xch, nd->domid)) == 0)
                r = (step = "xc_dom_parse_image", xc_dom_parse_image(dom));
        if (r == 0 && pv)
                r = (step = "xc_dom_mem_init", xc_dom_mem_init(dom, (unsigned)mib)) ||
                    (step = "xc_dom_boot_mem_init", xc_dom_boot_mem_init(dom));
        void *acpi = NULL;
        if (r == 0 && !pv) {
                /* The builder loads the page and points the start info's rsdp_paddr at
                 * module 0. */
                size_t alen = 0;
                acpi = xc_acpi_pvh_tables(XC_ACPI_BASE, spec->vcpus_max, &alen);
                dom->acpi_modules[0].data = acpi;
                dom->acpi_modules[0].length = (uint32_t)alen;
                dom->acpi_modules[0].guest_addr_out = XC_ACPI_BASE;
                r = !acpi ? (errno = ENOMEM, -1)
                          : (step = "pvh memory map", pvh_memory(dom, x, nd->domid, mib));
        }
        if (r == 0)
                r = (step = "xc_dom_build_image", xc_dom_build_image(dom)) ||
                    (step = "xc_dom_boot_image", xc_dom_boot_image(dom)) ||
                    (step = "xc_dom_gnttab_init", xc_dom_gnttab_init(dom));
        if (r == 0) {
                *store_mfn = pv ? xc_dom_p2m(dom, dom->xenstore_pfn) : dom->xenstore_pfn;
                *console_mfn = pv ? xc_dom_p2m(dom, dom->console_pfn) : dom->console_pfn;
        } else {
                r = -(errno ? errno : EIO);
                log_warnx("xc: building domain %" PRIu32 " from %s: %s failed: %s", nd->domid,
                          spec->kernel, step, strerror(-r));
                if (r == -ENOENT || r == -EACCES)
                        r = -EINVAL; /* the VM names a kernel that cannot be read */
        }
        xc_dom_release(dom);
        free(acpi);
        return r;
}

int xc_be_domain_publish(struct xcb *x, const struct hv_domain_spec *spec,
                         const struct xc_new_dom *nd, unsigned long store_mfn,
                         unsigned long console_mfn)
{
        uint32_t d = nd->domid;
        char dp[64], vm[64], path[256], num[32];
        snprintf(dp, sizeof(dp), "/local/domain/%" PRIu32, d);
        snprintf(vm, sizeof(vm), "/vm/%s", spec->uuid);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int r;
#define W(val, ...)                                                                                \
        do {                                                                                       \
                if ((r = xcs_write(x, (val), __VA_ARGS__)) < 0)                                    \
                        goto fail;                                                                 \
        } while (0)
#define WN(v, ...)                                                                                 \
        do {                                                                                       \
                snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)(v));                             \
                W(num, __VA_ARGS__);                                                               \
        } while (0)
        /* The toolstack's own record, dom0 only. */
        if ((r = xcs_mkdir_perm(x, vm, 0, 0)) < 0)
                goto fail;
        W(spec->uuid, "%s/uuid", vm);
        W(spec->name ? spec->name : "", "%s/name", vm);
        W(hv_domain_type_name(spec->type), "%s/type", vm);
        WN((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "%s/start-time", vm);
        /* The guest's tree: readable by the guest; the rw dirs owned by it. */
        if ((r = xcs_mkdir_perm(x, dp, 0, d)) < 0)
                goto fail;
        W(vm, "%s/vm", dp);
        W(spec->name ? spec->name : "", "%s/name", dp);
        WN(d, "%s/domid", dp);
        WN(nd->static_max_kib, "%s/memory/static-max", dp);
        WN(nd->target_kib, "%s/memory/target", dp);
        WN(spec->memory_dynamic_min / KiB, "%s/memory/dynamic-min", dp);
        WN(spec->memory_dynamic_max / KiB, "%s/memory/dynamic-max", dp);
        for (unsigned i = 0; i < spec->vcpus_max; i++)
                W(i < spec->vcpus_at_startup ? "online" : "offline", "%s/cpu/%u/availability", dp,
                  i);
        WN(nd->console_port, "%s/console/port", dp);
        WN(console_mfn, "%s/console/ring-ref", dp);
        W("xenconsoled", "%s/console/type", dp);
        W("pty", "%s/console/output", dp);
        W("1048576", "%s/console/limit", dp);
        WN(nd->store_port, "%s/store/port", dp);
        WN(store_mfn, "%s/store/ring-ref", dp);
        for (size_t i = 0; i < spec->platform.n; i++)
                if (spec->platform.items[i].key && spec->platform.items[i].value &&
                    !strchr(spec->platform.items[i].key, '/'))
                        W(spec->platform.items[i].value, "%s/platform/%s", dp,
                          spec->platform.items[i].key);
        static const char *const rw[] = {"control", "data", "device", "drivers",
                                         "feature", "attr", "error",  "vm-data"};
        for (size_t i = 0; i < sizeof(rw) / sizeof(rw[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dp, rw[i]);
                if ((r = xcs_mkdir_perm(x, path, d, d)) < 0)
                        goto fail;
        }
        /* In the guest-owned vm-data/, for the guest to read (and change). */
        for (size_t i = 0; i < spec->xenstore_data.n; i++) {
                const struct hv_kv *kv = &spec->xenstore_data.items[i];
                if (kv->key && kv->value && !strncmp(kv->key, "vm-data/", 8) &&
                    !strstr(kv->key, ".."))
                        W(kv->value, "%s/%s", dp, kv->key);
        }
        W("1", "%s/control/platform-feature-multiprocessor-suspend", dp);
        W("1", "%s/control/platform-feature-xs_reset_watches", dp);
        if (!xs_introduce_domain(x->xs, d, store_mfn, nd->store_port)) {
                r = -(errno ? errno : EIO);
                goto fail;
        }
        return 0;
#undef W
#undef WN
fail:
        log_warnx("xc: xenstore tree of domain %" PRIu32 ": %s", d, strerror(-r));
        return r;
}

int xc_be_domain_create(struct hv *h, const struct hv_domain_spec *spec, uint32_t *domid,
                        struct hv_mem_shortage *short_out)
{
        struct xcb *x = xcb_of(h);
        struct xc_new_dom nd;
        int r = xc_be_domain_prepare(x, spec, &nd, short_out);
        if (r < 0)
                return r;
        unsigned long store_mfn = 0, console_mfn = 0;
        if ((r = apply_cpuid(x, nd.domid, spec)) < 0)
                log_warnx("xc: CPUID policy of domain %" PRIu32 ": %s", nd.domid, strerror(-r));
        if (r == 0)
                r = build_image(x, spec, &nd, &store_mfn, &console_mfn);
        if (r == 0)
                r = xc_be_domain_publish(x, spec, &nd, store_mfn, console_mfn);
        if (r < 0) {
                xc_be_domain_discard(x, nd.domid, spec->uuid);
                return r;
        }
        *domid = nd.domid;
        log_info("xc: domain %" PRIu32 " built for VM %s (%s, %" PRIu64 " MiB, %u vCPUs)", nd.domid,
                 spec->uuid, hv_domain_type_name(spec->type), nd.target_kib / 1024,
                 spec->vcpus_at_startup);
        return 0;
}
