/* The built-in templates (see templates.h).  Their values follow XAPI's own templates:
 * memory limits as default_memory_parameters (dynamic and static max twice static min), one
 * vCPU, destroy on shutdown, restart on reboot and crash, a <provision> disk list with
 * sr="" meaning the pool's default SR. */
#include "xapid/templates.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/model_gen.h"
#include "common/log.h"
#include "xapid/db.h"
#include "xapid/vm_checks.h"
#include "xapid/vm_util.h"
#include "xapid/xapi.h"

LOG_MODULE(templates)

#define MiB ((int64_t)1024 * 1024)
#define GiB ((int64_t)1024 * MiB)

struct kv {
        const char *k, *v;
};

struct template_desc {
        const char *name, *description;
        int64_t static_min_mib;
        int64_t disk_bytes;
        bool hvm;
        const char *pv_bootloader, *pv_args;
        const struct kv *other; /* NULL-terminated extra other_config */
};

static const struct kv debian_other[] = {
    {"install-methods", "cdrom,http,ftp"},
    {"install-arch", "x86_64"},
    {"debian-release", "bookworm"},
    {"linux_template", "true"},
    {NULL, NULL},
};

static const struct kv other_media_other[] = {
    {"install-methods", "cdrom"},
    {NULL, NULL},
};

static const struct template_desc templates[] = {
    {"Debian Bookworm 12",
     "Template that allows VM installation from Xen-aware Debian-based distros. To use this "
     "template from the CLI, install your VM using vm-install, then set "
     "other-config-install-repository to the path to your network repository, e.g. "
     "http://<server>/<path>",
     512, 10 * GiB, false, "eliloader", "-- quiet console=hvc0", debian_other},
    {"Other install media", "Template which allows VM installation from install media", 256,
     32 * GiB, true, "", "", other_media_other},
};

/* XAPI's <restrictions> hint for clients (VM.recommendations). */
static void recommendations(char *buf, size_t len, int64_t max_memory_gib)
{
        snprintf(buf, len,
                 "<restrictions><restriction field=\"memory-static-max\" max=\"%" PRId64
                 "\" /><restriction field=\"vcpus-max\" max=\"32\" /><restriction "
                 "property=\"number-of-vbds\" max=\"255\" /><restriction "
                 "property=\"number-of-vifs\" max=\"7\" /></restrictions>",
                 max_memory_gib * GiB);
}

static bool have_template(struct db *db, const char *name)
{
        for (size_t i = 0; i < db_count(db, &mclass_VM); i++) {
                const struct api_VM *vm = db_row_at(db, &mclass_VM, i)->rec;
                if (vm->is_a_template && vm_is_default_template(vm) &&
                    strcmp(vm->name_label, name) == 0)
                        return true;
        }
        return false;
}

static int make_template(struct db *db, const struct template_desc *t)
{
        const struct mclass *c = &mclass_VM;
        struct api_VM *vm = model_record_new(c);
        vmu_set_str(&vm->name_label, t->name);
        vmu_set_str(&vm->name_description, t->description);
        vm->user_version = 1;
        vm->is_a_template = true;
        vm->is_default_template = true;
        vm->power_state = API_VM_POWER_STATE_HALTED;
        vm->memory_static_min = t->static_min_mib * MiB;
        vm->memory_dynamic_min = vm->memory_dynamic_max = vm->memory_static_max =
            vm->memory_target = 2 * t->static_min_mib * MiB;
        vm->VCPUs_max = vm->VCPUs_at_startup = 1;
        vm->actions_after_shutdown = API_ON_NORMAL_EXIT_DESTROY;
        vm->actions_after_reboot = API_ON_NORMAL_EXIT_RESTART;
        vm->actions_after_crash = API_ON_CRASH_BEHAVIOUR_RESTART;
        vm->domid = -1;
        vmu_set_str(&vm->PV_bootloader, t->pv_bootloader);
        vmu_set_str(&vm->PV_args, t->pv_args);
        vmu_set_str(&vm->HVM_boot_policy, t->hvm ? "BIOS order" : "");
        if (t->hvm)
                vmu_map_put(c, API_VM_F_HVM_boot_params, vm, "order", "dc");
        vm->domain_type = t->hvm ? API_DOMAIN_TYPE_HVM : API_DOMAIN_TYPE_PV;
        static const struct kv platform[] = {{"acpi", "1"},
                                             {"apic", "true"},
                                             {"pae", "true"},
                                             {"nx", "true"},
                                             {"viridian", "false"}};
        for (size_t i = 0; i < sizeof(platform) / sizeof(platform[0]); i++)
                vmu_map_put(c, API_VM_F_platform, vm, platform[i].k, platform[i].v);
        char disks[256];
        snprintf(disks, sizeof(disks),
                 "<provision><disk device=\"0\" size=\"%" PRId64
                 "\" sr=\"\" bootable=\"true\" type=\"system\"/></provision>",
                 t->disk_bytes);
        vmu_map_put(c, API_VM_F_other_config, vm, "disks", disks);
        vmu_map_put(c, API_VM_F_other_config, vm, "default_template", "true");
        for (const struct kv *o = t->other; o->k != NULL; o++)
                vmu_map_put(c, API_VM_F_other_config, vm, o->k, o->v);
        char rec[512];
        recommendations(rec, sizeof(rec), 32);
        vmu_set_str(&vm->recommendations, rec);
        vmu_set_str(&vm->metrics, vmu_new_metrics(db, NULL));
        vmu_set_str(&vm->guest_metrics, VMU_NULL_REF);
        int r = db_insert(db, c, NULL, vm, NULL);
        if (r < 0)
                model_record_free(c, vm);
        return r;
}

int templates_ensure(struct xapi *x)
{
        int n = 0;
        for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
                if (have_template(x->db, templates[i].name))
                        continue;
                if (make_template(x->db, &templates[i]) == 0)
                        n++;
                else
                        log_warnx("cannot create the template %s", templates[i].name);
        }
        if (n > 0)
                log_info("created %d default template(s)", n);
        return n;
}
