/* VM.provision (XAPI's xapi_templates): the VM stops being a template, then every disk its
 * other_config:disks describes is created —
 *   <provision><disk device="0" size="8589934592" sr="" bootable="true" type="system"/>…
 * on the SR named by uuid (sr="" means the pool's default SR) — each with its VBD
 * (userdevice = device), and the install keys leave other_config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/vbd.h"
#include "xapid/vm_job.h"
#include "xapid/vm_checks.h"
#include "xapid/vm_util.h"
#include "xapid/xapi.h"

LOG_MODULE(vm)

struct disk_spec {
        char device[32], sr[64], type[32];
        long long size;
        bool bootable;
};

/* Copies attribute NAME of the element text [P, END) into OUT; false if absent. */
static bool attr(const char *p, const char *end, const char *name, char *out, size_t len)
{
        size_t nl = strlen(name);
        for (const char *q = p; q + nl + 2 < end; q++) {
                if ((q == p || q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n') &&
                    strncmp(q, name, nl) == 0 && q[nl] == '=' &&
                    (q[nl + 1] == '"' || q[nl + 1] == '\'')) {
                        char quote = q[nl + 1];
                        const char *v = q + nl + 2, *ve = memchr(v, quote, (size_t)(end - v));
                        if (ve == NULL || (size_t)(ve - v) >= len)
                                return false;
                        memcpy(out, v, (size_t)(ve - v));
                        out[ve - v] = '\0';
                        return true;
                }
        }
        return false;
}

/* Parses XAPI's provision XML.  Returns the number of disks (≤ MAX) or -EINVAL. */
static int parse_disks(const char *xml, struct disk_spec *out, int max)
{
        const char *p = strstr(xml, "<provision");
        if (p == NULL)
                return -EINVAL;
        int n = 0;
        while ((p = strstr(p, "<disk")) != NULL) {
                const char *end = strchr(p, '>');
                if (end == NULL || n == max)
                        return -EINVAL;
                struct disk_spec *d = &out[n];
                char size[32], boot[16];
                if (!attr(p, end, "device", d->device, sizeof(d->device)) ||
                    !attr(p, end, "size", size, sizeof(size)) ||
                    !attr(p, end, "sr", d->sr, sizeof(d->sr)) ||
                    !attr(p, end, "bootable", boot, sizeof(boot)))
                        return -EINVAL;
                if (!attr(p, end, "type", d->type, sizeof(d->type)))
                        snprintf(d->type, sizeof(d->type), "system");
                char *e;
                d->size = strtoll(size, &e, 10);
                if (*e != '\0' || d->size < 0)
                        return -EINVAL;
                d->bootable = strcmp(boot, "true") == 0;
                n++;
                p = end;
        }
        return n;
}

/* After each disk: its VBD, and the disk named after its device (as XAPI's create_disk). */
static void provision_step(struct vm_job *j, struct vm_step *s)
{
        struct db *db = j->x->db;
        struct api_VBD *v = model_record_new(&mclass_VBD);
        vmu_set_str(&v->VM, j->vm);
        vmu_set_str(&v->VDI, s->result);
        vmu_set_str(&v->userdevice, s->device);
        v->bootable = s->bootable;
        v->mode = API_VBD_MODE_RW;
        v->type = API_VBD_TYPE_DISK;
        struct db_row *vdi = db_get(db, &mclass_VDI, s->result);
        v->unpluggable = vdi == NULL || ((struct api_VDI *)vdi->rec)->type != API_VDI_TYPE_SYSTEM;
        v->empty = false;
        vmu_map_put(&mclass_VBD, API_VBD_F_other_config, v, "owner", "");
        vmu_set_str(&v->metrics, vmu_new_vbd_metrics(db));
        if (db_insert(db, &mclass_VBD, NULL, v, NULL) < 0)
                model_record_free(&mclass_VBD, v);
        if (vdi != NULL)
                db_set(db, vdi, API_VDI_F_name_label, &s->device);
}

static int provision_finish(struct vm_job *j, struct api_error *err)
{
        struct db_row *vm = db_get(j->x->db, &mclass_VM, j->vm);
        vmu_map_del(&mclass_VM, API_VM_F_other_config, vm->rec, "disks");
        vmu_map_del(&mclass_VM, API_VM_F_other_config, vm->rec, "postinstall");
        db_touch(j->x->db, vm);
        log_info("VM %s provisioned: %zu disk(s)", ((struct api_VM *)vm->rec)->uuid, j->n_made);
        return 0;
}

/* set_is_a_template false is XAPI's "install time". */
static void stop_being_template(struct db *db, struct db_row *row)
{
        struct api_VM *vm = row->rec;
        vm->is_a_template = false;
        struct db_row *m = db_get(db, &mclass_VM_metrics, vm->metrics);
        if (m != NULL) {
                ((struct api_VM_metrics *)m->rec)->install_time = time(NULL);
                db_touch(db, m);
        } else {
                vmu_set_str(&vm->metrics, vmu_new_metrics(db, NULL));
        }
        db_touch(db, row);
        vmu_refresh_allowed(db, row);
}

#define MAX_DISKS 64

/* VM.provision(session, vm) */
int h_VM_provision(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *row = vmu_param(ctx, &mclass_VM, params[1], err);
        if (row == NULL)
                return -ENOENT;
        int r = vm_check_op(row->ref, row->rec, API_VM_OPERATIONS_PROVISION, err);
        if (r < 0)
                return r;
        const struct api_VM *vm = row->rec;
        const char *xml = vmu_map_get(&vm->other_config, "disks");
        struct disk_spec disks[MAX_DISKS];
        int nd = xml != NULL ? parse_disks(xml, disks, MAX_DISKS) : 0;
        if (nd < 0)
                return api_error_set(err, "INTERNAL_ERROR",
                                     "cannot parse the disk provisioning XML in other_config:disks",
                                     NULL);
        /* every check before anything changes */
        const char *sr_refs[MAX_DISKS];
        for (int i = 0; i < nd; i++) {
                struct db_row *sr;
                if (disks[i].sr[0] == '\0') {
                        struct db_row *pool = db_get(ctx->db, &mclass_pool, x->pool_ref);
                        const char *def = pool ? ((struct api_pool *)pool->rec)->default_SR : "";
                        sr = db_get(ctx->db, &mclass_SR, def);
                        if (sr == NULL)
                                return api_error_set(err, "DEFAULT_SR_NOT_FOUND", def, NULL);
                } else {
                        sr = db_get_by_uuid(ctx->db, &mclass_SR, disks[i].sr);
                        if (sr == NULL)
                                return api_error_set(err, "UUID_INVALID", "sr", disks[i].sr, NULL);
                }
                sr_refs[i] = sr->ref;
                if (menum_lookup(&menum_vdi_type, disks[i].type) < 0)
                        return api_error_set(err, "INTERNAL_ERROR", "unknown VDI type",
                                             disks[i].type, NULL);
                int dev = vbd_device_number(disks[i].device);
                if (dev < 0)
                        return api_error_set(err, "INVALID_DEVICE", disks[i].device, NULL);
                if (vbd_on_device(ctx->db, vm, dev) != NULL)
                        return api_error_set(err, "DEVICE_ALREADY_EXISTS", disks[i].device, NULL);
        }
        stop_being_template(ctx->db, row);
        struct vm_job *j = vm_job_new(ctx, row->ref, API_VM_OPERATIONS_PROVISION);
        j->on_step = provision_step;
        j->finish = provision_finish;
        for (int i = 0; i < nd; i++) {
                struct vm_step *s = vm_job_add(j, STEP_CREATE);
                struct api_VDI *v = model_record_new(&mclass_VDI);
                vmu_set_str(&v->name_label, "");
                vmu_set_str(&v->name_description, "Created by template provisioner");
                vmu_set_str(&v->SR, sr_refs[i]);
                v->virtual_size = disks[i].size;
                v->type = menum_lookup(&menum_vdi_type, disks[i].type);
                vmu_map_put(&mclass_VDI, API_VDI_F_sm_config, v, "vmhint", vm->uuid);
                s->create = v;
                s->device = strdup(disks[i].device);
                s->bootable = disks[i].bootable;
                if (s->device == NULL)
                        abort();
        }
        return vm_job_start(ctx, j, w, err);
}

/* VM.set_is_a_template(session, self, value): false is "install time" (as VM.provision);
 * true needs a Halted VM (make_into_template) and drops its metrics, as XAPI does. */
int h_VM_set_is_a_template(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                           struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vmu_param(ctx, &mclass_VM, params[1], err);
        if (row == NULL)
                return -ENOENT;
        bool value = params[2]->type == RPC_BOOL && params[2]->u.b;
        struct api_VM *vm = row->rec;
        if (!value) {
                stop_being_template(ctx->db, row);
                return 0;
        }
        int r = vm_check_op(row->ref, row->rec, API_VM_OPERATIONS_MAKE_INTO_TEMPLATE, err);
        if (r < 0)
                return r;
        struct db_row *m = db_get(ctx->db, &mclass_VM_metrics, vm->metrics);
        if (m != NULL)
                db_delete(ctx->db, m);
        vmu_set_str(&vm->metrics, VMU_NULL_REF);
        vm->is_a_template = true;
        db_touch(ctx->db, row);
        vmu_refresh_allowed(ctx->db, row);
        return 0;
}
