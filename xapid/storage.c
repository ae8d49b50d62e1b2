/* SRs and VDIs through stord (see storage.h). */
#include "xapid/storage.h"
#include "xapid/storage_ops.h"
#include "xapid/storage_priv.h"
#include "xapid/storage_wait.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/uuid.h"
#include "proto/storage.pb-c.h"
#include "xapid/api.h"
#include "xapid/db.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(storage)

#define STORD          "stord"
#define STORD_TIMEOUT  120000
#define LOCAL_SR_LABEL "Local storage"
#define LOCAL_SR_KEY   "local-storage" /* other_config:i18n-key, as XAPI marks it */
#define NULL_REF       "OpaqueRef:NULL"

struct storage {
        bool creating_local; /* the first-start SR is being made */
};

/* Empties the current_operations map field F of every row of C, keeping the entries whose
 * operation KEEP says to keep (NULL: none kept). */
static void reset_operations(struct db *db, const struct mclass *c, int f, bool (*keep)(int op))
{
        const struct mtype *t = c->fields[f].type;
        for (size_t i = 0; i < db_count(db, c); i++) {
                struct db_row *row = db_row_at(db, c, i);
                struct mmap *m = model_slot(row->rec, &c->fields[f]);
                bool changed = false;
                for (size_t k = m->n; k-- > 0;) {
                        if (keep != NULL && keep(m->v[k].e))
                                continue;
                        const char *key = m->k[k].s;
                        char *copy = strdup(key);
                        if (copy == NULL)
                                abort();
                        const char *ck = copy;
                        mmap_remove(t, m, &ck);
                        free(copy);
                        changed = true;
                }
                if (changed)
                        db_touch(db, row);
        }
}

/* The VM operations that run here (vm_clone.c, vm_disks.c); others belong to the lifecycle. */
static bool not_storage_vm_op(int op)
{
        return op != API_VM_OPERATIONS_CLONE && op != API_VM_OPERATIONS_COPY &&
               op != API_VM_OPERATIONS_SNAPSHOT && op != API_VM_OPERATIONS_REVERT &&
               op != API_VM_OPERATIONS_PROVISION;
}

int storage_init(struct xapi *x)
{
        x->storage = calloc(1, sizeof(*x->storage));
        if (x->storage == NULL)
                return -ENOMEM;
        /* operations marked before a restart died with it (XAPI cancels them at start) */
        if (x->db != NULL) {
                reset_operations(x->db, &mclass_SR, API_SR_F_current_operations, NULL);
                reset_operations(x->db, &mclass_VDI, API_VDI_F_current_operations, NULL);
                reset_operations(x->db, &mclass_VM, API_VM_F_current_operations, not_storage_vm_op);
        }
        return 0;
}

void storage_free(struct xapi *x)
{
        free(x->storage);
        x->storage = NULL;
}

/* ---- small helpers ------------------------------------------------------------------------ */

static void set_str(char **slot, const char *v)
{
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static void map_put_str(const struct mclass *c, int f, struct mmap *m, const char *k, const char *v)
{
        mmap_put(c->fields[f].type, m, &k, &v);
}

static const char *map_get_str(const struct mmap *m, const char *key)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->k[i].s, key) == 0)
                        return m->v[i].s;
        return NULL;
}

static void commit_logged(int result, void *arg)
{
        if (result < 0)
                log_warnx("cannot store a storage change: %s", strerror(-result));
}

static void commit(struct xapi *x)
{
        if (x->commit != NULL)
                x->commit(x->commit_ctx, commit_logged, NULL);
}

static time_t parse_time(const char *s)
{
        struct tm tm = {0};
        if (s == NULL || s[0] == '\0' || strptime(s, "%Y%m%dT%H:%M:%SZ", &tm) == NULL)
                return 0;
        return timegm(&tm);
}

/* The PBD of SR on this host, or NULL. */
struct db_row *storage_local_pbd(struct xapi *x, const struct api_SR *sr)
{
        for (size_t i = 0; i < sr->PBDs.n; i++) {
                struct db_row *p = db_get(x->db, &mclass_PBD, sr->PBDs.v[i].s);
                if (p != NULL && strcmp(((struct api_PBD *)p->rec)->host, x->host_ref) == 0)
                        return p;
        }
        return NULL;
}

int storage_srdesc_init(struct srdesc *d, const char *type, const char *uuid,
                        const struct mmap *dconf)
{
        ts__sto__sr__init(&d->sr);
        d->sr.type = (char *)type;
        d->sr.uuid = (char *)uuid;
        d->kv = calloc(dconf->n + 1, sizeof(*d->kv));
        d->kvp = calloc(dconf->n + 1, sizeof(*d->kvp));
        if (d->kv == NULL || d->kvp == NULL) {
                free(d->kv);
                free(d->kvp);
                return -ENOMEM;
        }
        for (size_t i = 0; i < dconf->n; i++) {
                ts__peer__key_value__init(&d->kv[i]);
                d->kv[i].key = dconf->k[i].s;
                d->kv[i].value = dconf->v[i].s;
                d->kvp[i] = &d->kv[i];
        }
        d->sr.device_config = d->kvp;
        d->sr.n_device_config = dconf->n;
        return 0;
}

void storage_srdesc_clear(struct srdesc *d)
{
        free(d->kv);
        free(d->kvp);
}

/* The SR description for an operation on SR_REF from this host, or an API error. */
int storage_srdesc_for(struct xapi *x, const char *sr_ref, struct srdesc *d, struct api_error *err)
{
        struct db_row *row = db_get(x->db, &mclass_SR, sr_ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "SR", sr_ref, NULL);
        const struct api_SR *sr = row->rec;
        struct db_row *pbd = storage_local_pbd(x, sr);
        if (pbd == NULL)
                return api_error_set(err, "SR_HAS_NO_PBDS", sr_ref, NULL);
        const struct api_PBD *p = pbd->rec;
        if (!p->currently_attached)
                return api_error_set(err, "SR_NOT_ATTACHED", sr_ref, NULL);
        if (storage_srdesc_init(d, sr->type, sr->uuid, &p->device_config) < 0)
                return -ENOMEM;
        return 0;
}

/* A failed exchange with stord as XAPI's error. */
void storage_link_error(int status, const char *text, struct api_error *err)
{
        const char *name = strerrorname_np(-status);
        api_error_set(err, "SR_BACKEND_FAILURE", name != NULL ? name : "EIO", "",
                      text != NULL && text[0] ? text : strerror(-status), NULL);
}

int storage_failure_to_api(const Ts__Sto__Failure *f, struct api_error *err)
{
        api_error_setv(err, f->code[0] ? f->code : "SR_BACKEND_FAILURE",
                       (const char *const *)f->params, f->n_params);
        return f->errnum > 0 ? -f->errnum : -EIO;
}

/* Removes a VDI's row and its (detached) VBDs with it, as XAPI does. */
static void forget_vdi(struct xapi *x, struct db_row *row)
{
        struct api_VDI *v = row->rec;
        while (v->VBDs.n > 0) {
                struct db_row *vbd = db_get(x->db, &mclass_VBD, v->VBDs.v[0].s);
                if (vbd == NULL)
                        break;
                db_delete(x->db, vbd);
        }
        struct db_row *sr = db_get(x->db, &mclass_SR, v->SR);
        db_delete(x->db, row);
        if (sr != NULL) /* SR_NOT_EMPTY may no longer hold */
                storage_sr_update_allowed(x->db, sr);
}

/* ---- VDI rows ----------------------------------------------------------------------------- */

static struct db_row *find_vdi(struct xapi *x, struct db_row *sr, const char *location)
{
        const struct api_SR *s = sr->rec;
        for (size_t i = 0; i < s->VDIs.n; i++) {
                struct db_row *v = db_get(x->db, &mclass_VDI, s->VDIs.v[i].s);
                if (v != NULL && strcmp(((struct api_VDI *)v->rec)->location, location) == 0)
                        return v;
        }
        return NULL;
}

/* Sets the facts stord reports in REC (a VDI record not yet inserted). */
static void vdi_fill(struct xapi *x, struct api_VDI *rec, const Ts__Sto__Vdi *v)
{
        set_str(&rec->location, v->location);
        rec->virtual_size = (int64_t)v->virtual_size;
        rec->physical_utilisation = (int64_t)v->physical_utilisation;
        rec->missing = false;
        rec->managed = true;
        const char *u = v->uuid[0] ? v->uuid : v->location;
        if (rec->uuid[0] == '\0' && uuid_is_valid(u) &&
            db_get_by_uuid(x->db, &mclass_VDI, u) == NULL)
                set_str(&rec->uuid, u);
}

static void vdi_refresh(struct xapi *x, struct db_row *row, const Ts__Sto__Vdi *v)
{
        struct api_VDI *rec = row->rec;
        if (rec->virtual_size == (int64_t)v->virtual_size &&
            rec->physical_utilisation == (int64_t)v->physical_utilisation && !rec->missing)
                return;
        rec->virtual_size = (int64_t)v->virtual_size;
        rec->physical_utilisation = (int64_t)v->physical_utilisation;
        rec->missing = false;
        db_touch(x->db, row);
}

/* Brings the VDIs of SR in line with what stord found (SR.scan): new ones are introduced,
 * known ones refreshed, vanished ones marked missing. */
void storage_reconcile(struct xapi *x, struct db_row *sr, const Ts__Sto__SrState *st)
{
        struct api_SR *s = sr->rec;
        if (st->physical_size != 0 &&
            (s->physical_size != (int64_t)st->physical_size ||
             s->physical_utilisation != (int64_t)st->physical_utilisation ||
             s->virtual_allocation != (int64_t)st->virtual_allocation)) {
                s->physical_size = (int64_t)st->physical_size;
                s->physical_utilisation = (int64_t)st->physical_utilisation;
                s->virtual_allocation = (int64_t)st->virtual_allocation;
                db_touch(x->db, sr);
        }
        size_t added = 0, missing = 0;
        for (size_t i = 0; i < st->n_vdis; i++) {
                const Ts__Sto__Vdi *v = st->vdis[i];
                struct db_row *row = find_vdi(x, sr, v->location);
                if (row != NULL) {
                        vdi_refresh(x, row, v);
                        continue;
                }
                struct api_VDI *rec = model_record_new(&mclass_VDI);
                set_str(&rec->SR, sr->ref);
                vdi_fill(x, rec, v);
                int t = menum_lookup(&menum_vdi_type, v->type);
                rec->type = t >= 0 ? t : 0;
                rec->read_only = v->read_only;
                rec->is_a_snapshot = v->is_a_snapshot;
                rec->snapshot_time = parse_time(v->snapshot_time);
                if (db_insert(x->db, &mclass_VDI, NULL, rec, NULL) < 0)
                        model_record_free(&mclass_VDI, rec);
                else
                        added++;
        }
        /* snapshot relations, once every VDI has a row */
        for (size_t i = 0; i < st->n_vdis; i++) {
                const Ts__Sto__Vdi *v = st->vdis[i];
                struct db_row *row = find_vdi(x, sr, v->location);
                struct db_row *of = v->snapshot_of[0] ? find_vdi(x, sr, v->snapshot_of) : NULL;
                if (row == NULL || of == NULL)
                        continue;
                struct api_VDI *rec = row->rec;
                if (strcmp(rec->snapshot_of, of->ref) != 0)
                        db_set(x->db, row, API_VDI_F_snapshot_of, &of->ref);
        }
        for (size_t i = 0; i < s->VDIs.n; i++) {
                struct db_row *row = db_get(x->db, &mclass_VDI, s->VDIs.v[i].s);
                if (row == NULL)
                        continue;
                struct api_VDI *rec = row->rec;
                bool found = false;
                for (size_t k = 0; k < st->n_vdis && !found; k++)
                        found = strcmp(st->vdis[k]->location, rec->location) == 0;
                if (!found && !rec->missing) {
                        rec->missing = true;
                        db_touch(x->db, row);
                        missing++;
                }
        }
        if (added || missing)
                log_info("SR %s: %zu VDI(s) introduced, %zu now missing", s->uuid, added, missing);
        storage_sr_update_allowed(x->db, sr);
        for (size_t i = 0; i < s->VDIs.n; i++) {
                struct db_row *row = db_get(x->db, &mclass_VDI, s->VDIs.v[i].s);
                if (row != NULL)
                        storage_vdi_update_allowed(x->db, row);
        }
}

/* ---- one request to stord ------------------------------------------------------------------ */

enum op_kind { OP_CREATE, OP_DESTROY, OP_CLONE, OP_SNAPSHOT, OP_COPY, OP_SCAN };

struct op {
        struct xapi *x;
        enum op_kind kind;
        char *ref;           /* the VDI (destroy, clone, snapshot, copy) or SR (scan) */
        char *dst_sr;        /* copy: the SR receiving the new VDI */
        struct api_VDI *rec; /* create: the new record; clone/snapshot/copy: a copy of the source */
        storage_done_fn done;
        void *arg;
        char opkey[80]; /* the VDI's (or SR's, for scan) current_operations key, or "" */
};

static void op_free(struct op *op)
{
        if (op->opkey[0] != '\0' && op->kind == OP_SCAN)
                storage_sr_op_end(op->x->db, op->ref, op->opkey);
        else if (op->opkey[0] != '\0')
                storage_vdi_op_end(op->x->db, op->ref, op->opkey);
        free(op->ref);
        free(op->dst_sr);
        model_record_free(&mclass_VDI, op->rec);
        free(op);
}

static void op_finish(struct op *op, int r, const char *ref, struct api_error *err)
{
        if (op->opkey[0] != '\0' && op->kind == OP_SCAN)
                storage_sr_op_end(op->x->db, op->ref, op->opkey);
        else if (op->opkey[0] != '\0')
                storage_vdi_op_end(op->x->db, op->ref, op->opkey);
        op->opkey[0] = '\0';
        if (r == 0 && ref != NULL) {
                struct db_row *row = db_get(op->x->db, &mclass_VDI, ref);
                if (row != NULL)
                        storage_vdi_update_allowed(op->x->db, row);
        }
        op->done(op->arg, r, ref, err);
        api_error_clear(err);
        op_free(op);
}

/* An API call waiting for one storage operation (the handlers below). */
struct call {
        struct xapi *x;
        struct rpc_req *req; /* NULL once the caller went away */
};

static void call_cancel(void *arg)
{
        struct call *c = arg;
        c->req = NULL; /* stord still answers; the datamodel follows the storage */
}

static void call_done(void *arg, int r, const char *ref, struct api_error *err)
{
        struct call *c = arg;
        if (c->req != NULL) {
                if (r == 0 && ref != NULL)
                        rpcw_string(rpc_deferred_writer(c->req), ref);
                rpc_resume(c->req, r, err);
        } else {
                commit(c->x);
        }
        free(c);
}

/* Defers CTX's call until a storage operation started with call_new's result finishes;
 * R is what the storage_* function returned (on failure nothing is deferred). */
static int call_defer(struct api_ctx *ctx, struct call *c, int r)
{
        if (r < 0) {
                free(c);
                return r;
        }
        if (r > 0) { /* finished at once */
                free(c);
                return 0;
        }
        c->req = rpc_defer(ctx);
        rpc_on_cancel(c->req, call_cancel, c);
        return 0;
}

static struct call *call_new(struct api_ctx *ctx)
{
        struct call *c = calloc(1, sizeof(*c));
        if (c == NULL)
                abort();
        c->x = rpc_req_xapi(ctx->user);
        return c;
}

/* The new VDI of a clone, snapshot or copy: the source's description with stord's facts. */
static struct api_VDI *derived_record(struct xapi *x, const struct api_VDI *src,
                                      const Ts__Sto__Vdi *v, enum op_kind kind, const char *src_ref,
                                      const char *sr_ref)
{
        static const int copied[] = {
            API_VDI_F_name_label,   API_VDI_F_name_description, API_VDI_F_SR,
            API_VDI_F_type,         API_VDI_F_sharable,         API_VDI_F_read_only,
            API_VDI_F_other_config, API_VDI_F_sm_config,        API_VDI_F_tags,
            API_VDI_F_on_boot,      API_VDI_F_allow_caching};
        struct api_VDI *rec = model_record_new(&mclass_VDI);
        for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
                const struct mfield *f = &mclass_VDI.fields[copied[i]];
                model_slot_free(f->type, model_slot(rec, f));
                model_slot_copy(f->type, model_slot(rec, f), model_slot((void *)src, f));
        }
        vdi_fill(x, rec, v);
        if (kind == OP_SNAPSHOT) {
                rec->is_a_snapshot = true;
                set_str(&rec->snapshot_of, src_ref);
                rec->snapshot_time = time(NULL);
        }
        if (kind == OP_COPY && sr_ref != NULL)
                set_str(&rec->SR, sr_ref);
        return rec;
}

static void vdi_replied(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct op *op = arg;
        struct xapi *x = op->x;
        struct api_error err = {0};
        const Ts__Sto__VdiResult *res = (const Ts__Sto__VdiResult *)reply;
        int r = 0;
        if (status < 0) {
                storage_link_error(status, errtext, &err);
                r = status;
        } else if (res->failure != NULL) {
                r = storage_failure_to_api(res->failure, &err);
        } else if (op->kind != OP_DESTROY && res->vdi == NULL) {
                r = api_error_set(&err, "SR_BACKEND_FAILURE", "EBADMSG", "",
                                  "stord's reply carries no VDI", NULL);
        }
        if (r < 0) {
                log_warnx("storage operation on %s failed: %s", op->ref ? op->ref : "new VDI",
                          err.code);
                op_finish(op, r, NULL, &err);
                return;
        }
        struct db_row *row = NULL;
        if (op->kind == OP_DESTROY) {
                row = db_get(x->db, &mclass_VDI, op->ref);
                if (row != NULL)
                        forget_vdi(x, row);
                op_finish(op, 0, NULL, &err);
                return;
        }
        struct api_VDI *rec;
        if (op->kind == OP_CREATE) {
                rec = op->rec;
                op->rec = NULL;
                vdi_fill(x, rec, res->vdi);
        } else {
                rec = derived_record(x, op->rec, res->vdi, op->kind, op->ref, op->dst_sr);
        }
        r = db_insert(x->db, &mclass_VDI, NULL, rec, &row);
        if (r < 0) {
                model_record_free(&mclass_VDI, rec);
                api_error_set(&err, "DB_UNIQUENESS_CONSTRAINT_VIOLATION", "VDI", "uuid", "", NULL);
                op_finish(op, r, NULL, &err);
                return;
        }
        struct db_row *sr = db_get(x->db, &mclass_SR, ((struct api_VDI *)row->rec)->SR);
        if (sr != NULL)
                storage_sr_update_allowed(x->db, sr);
        op_finish(op, 0, row->ref, &err);
}

/* Sends BODY for OP; on failure OP is freed and nothing will be called. */
static int op_send(struct op *op, const ProtobufCMessage *body,
                   const ProtobufCMessageDescriptor *reply_type, msg_reply_fn cb,
                   struct api_error *err)
{
        struct xapi *x = op->x;
        int r = x->msg != NULL
                    ? msg_link_request(x->msg, STORD, body, reply_type, STORD_TIMEOUT, cb, op)
                    : -EHOSTUNREACH;
        if (r < 0) {
                storage_link_error(
                    r, r == -EHOSTUNREACH ? "the storage daemon is not connected" : NULL, err);
                op_free(op);
                return r;
        }
        return 0;
}

static struct op *op_new(struct xapi *x, enum op_kind kind, const char *ref, storage_done_fn done,
                         void *arg)
{
        struct op *op = calloc(1, sizeof(*op));
        if (op == NULL)
                abort();
        op->x = x;
        op->kind = kind;
        op->done = done;
        op->arg = arg;
        if (ref != NULL)
                set_str(&op->ref, ref);
        return op;
}

/* Marks OP's VDI with the operation while stord works (cleared by op_finish or op_free). */
static void op_mark(struct op *op, struct db_row *vdi, int vop, const char *task)
{
        storage_vdi_op_begin(op->x->db, vdi, vop, task, op->opkey, sizeof(op->opkey));
}

/* ---- the storage operations other parts of xapid call (storage.h) ---------------------------- */

int storage_vdi_create(struct xapi *x, const char *task, struct api_VDI *rec, storage_done_fn done,
                       void *arg, struct api_error *err)
{
        struct db_row *sr = db_get(x->db, &mclass_SR, rec->SR);
        int r =
            sr != NULL ? storage_sr_check_op(x->db, sr, API_STORAGE_OPERATIONS_VDI_CREATE, err) : 0;
        struct srdesc d;
        if (r == 0)
                r = storage_srdesc_for(x, rec->SR, &d, err);
        if (r < 0) {
                model_record_free(&mclass_VDI, rec);
                return r;
        }
        char uuid[UUID_STR_LEN];
        uuid_generate_str(uuid);
        set_str(&rec->uuid, uuid);
        const char *fmt = map_get_str(&rec->sm_config, "type");
        Ts__Sto__VdiCreate req = TS__STO__VDI_CREATE__INIT;
        req.sr = &d.sr;
        req.virtual_size = rec->virtual_size > 0 ? (uint64_t)rec->virtual_size : 0;
        req.format = fmt != NULL && strcmp(fmt, "raw") == 0 ? "raw" : "";
        req.type = (char *)menum_vdi_type.values[rec->type];
        req.uuid = uuid;
        struct op *op = op_new(x, OP_CREATE, NULL, done, arg);
        op->rec = rec;
        r = op_send(op, &req.base, &ts__sto__vdi_result__descriptor, vdi_replied, err);
        storage_srdesc_clear(&d);
        return r;
}

int storage_vdi_destroy(struct xapi *x, const char *task, const char *vdi_ref, storage_done_fn done,
                        void *arg, struct api_error *err)
{
        struct db_row *row = db_get(x->db, &mclass_VDI, vdi_ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VDI", vdi_ref, NULL);
        const struct api_VDI *v = row->rec;
        int r = storage_vdi_check_op(x->db, row, API_VDI_OPERATIONS_DESTROY, err);
        if (r < 0)
                return r;
        if (v->missing) { /* nothing left on the storage: forget it */
                forget_vdi(x, row);
                return 1;
        }
        struct srdesc d;
        r = storage_srdesc_for(x, v->SR, &d, err);
        if (r < 0)
                return r;
        Ts__Sto__VdiDelete req = TS__STO__VDI_DELETE__INIT;
        req.sr = &d.sr;
        req.location = v->location;
        struct op *op = op_new(x, OP_DESTROY, row->ref, done, arg);
        op_mark(op, row, API_VDI_OPERATIONS_DESTROY, task);
        r = op_send(op, &req.base, &ts__sto__vdi_result__descriptor, vdi_replied, err);
        storage_srdesc_clear(&d);
        return r;
}

int storage_vdi_clone(struct xapi *x, const char *task, const char *vdi_ref, bool snapshot,
                      storage_done_fn done, void *arg, struct api_error *err)
{
        struct db_row *row = db_get(x->db, &mclass_VDI, vdi_ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VDI", vdi_ref, NULL);
        const struct api_VDI *v = row->rec;
        int vop = snapshot ? API_VDI_OPERATIONS_SNAPSHOT : API_VDI_OPERATIONS_CLONE;
        int r = storage_vdi_check_op(x->db, row, vop, err);
        if (r < 0)
                return r;
        struct srdesc d;
        r = storage_srdesc_for(x, v->SR, &d, err);
        if (r < 0)
                return r;
        struct op *op = op_new(x, snapshot ? OP_SNAPSHOT : OP_CLONE, row->ref, done, arg);
        op_mark(op, row, vop, task);
        op->rec = model_record_copy(&mclass_VDI, v);
        if (snapshot) {
                Ts__Sto__VdiSnapshot req = TS__STO__VDI_SNAPSHOT__INIT;
                req.sr = &d.sr;
                req.location = v->location;
                r = op_send(op, &req.base, &ts__sto__vdi_result__descriptor, vdi_replied, err);
        } else {
                Ts__Sto__VdiClone req = TS__STO__VDI_CLONE__INIT;
                req.sr = &d.sr;
                req.location = v->location;
                r = op_send(op, &req.base, &ts__sto__vdi_result__descriptor, vdi_replied, err);
        }
        storage_srdesc_clear(&d);
        return r;
}

int storage_vdi_copy(struct xapi *x, const char *task, const char *vdi_ref, const char *sr_ref,
                     storage_done_fn done, void *arg, struct api_error *err)
{
        struct db_row *row = db_get(x->db, &mclass_VDI, vdi_ref);
        if (row == NULL)
                return api_error_set(err, "HANDLE_INVALID", "VDI", vdi_ref, NULL);
        const struct api_VDI *v = row->rec;
        int r = storage_vdi_check_op(x->db, row, API_VDI_OPERATIONS_COPY, err);
        if (r < 0)
                return r;
        const char *dst =
            sr_ref != NULL && db_get(x->db, &mclass_SR, sr_ref) != NULL ? sr_ref : v->SR;
        struct srdesc src, to;
        r = storage_srdesc_for(x, v->SR, &src, err);
        if (r < 0)
                return r;
        r = storage_srdesc_for(x, dst, &to, err);
        if (r < 0) {
                storage_srdesc_clear(&src);
                return r;
        }
        Ts__Sto__VdiCopy req = TS__STO__VDI_COPY__INIT;
        req.sr = &src.sr;
        req.location = v->location;
        req.dest = &to.sr;
        struct op *op = op_new(x, OP_COPY, row->ref, done, arg);
        op_mark(op, row, API_VDI_OPERATIONS_COPY, task);
        op->rec = model_record_copy(&mclass_VDI, v);
        set_str(&op->dst_sr, dst);
        r = op_send(op, &req.base, &ts__sto__vdi_result__descriptor, vdi_replied, err);
        storage_srdesc_clear(&src);
        storage_srdesc_clear(&to);
        return r;
}

static struct db_row *vdi_param(struct api_ctx *ctx, const struct rpc_value *v,
                                struct api_error *err)
{
        const char *ref = v->type == RPC_STRING ? v->u.str.s : "";
        struct db_row *row = db_get(ctx->db, &mclass_VDI, ref);
        if (row == NULL)
                api_error_set(err, "HANDLE_INVALID", "VDI", ref, NULL);
        return row;
}

/* ---- handlers ----------------------------------------------------------------------------- */

/* VDI.create(session, VDI record) -> VDI ref */
static int do_VDI_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                         struct rpc_writer *w, struct api_error *err)
{
        void *v;
        int r = model_record_read(&mclass_VDI, params[1], &v, err);
        if (r < 0)
                return r;
        struct call *c = call_new(ctx);
        return call_defer(ctx, c,
                          storage_vdi_create(c->x, rpc_req_task(ctx->user), v, call_done, c, err));
}

/* VDI.destroy(session, self) */
static int do_VDI_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                          struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vdi_param(ctx, params[1], err);
        if (row == NULL)
                return -ENOENT;
        struct call *c = call_new(ctx);
        return call_defer(
            ctx, c,
            storage_vdi_destroy(c->x, rpc_req_task(ctx->user), row->ref, call_done, c, err));
}

/* VDI.clone(session, vdi, driver_params) -> VDI ref */
static int do_VDI_clone(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                        struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vdi_param(ctx, params[1], err);
        if (row == NULL)
                return -ENOENT;
        struct call *c = call_new(ctx);
        return call_defer(
            ctx, c,
            storage_vdi_clone(c->x, rpc_req_task(ctx->user), row->ref, false, call_done, c, err));
}

/* VDI.snapshot(session, vdi, driver_params) -> VDI ref */
static int do_VDI_snapshot(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                           struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vdi_param(ctx, params[1], err);
        if (row == NULL)
                return -ENOENT;
        struct call *c = call_new(ctx);
        return call_defer(
            ctx, c,
            storage_vdi_clone(c->x, rpc_req_task(ctx->user), row->ref, true, call_done, c, err));
}

/* VDI.copy(session, vdi, sr, base_vdi, into_vdi) -> VDI ref: a full copy into SR. */
static int do_VDI_copy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                       struct rpc_writer *w, struct api_error *err)
{
        struct db_row *row = vdi_param(ctx, params[1], err);
        if (row == NULL)
                return -ENOENT;
        const char *sr = n > 2 && params[2]->type == RPC_STRING ? params[2]->u.str.s : "";
        if (db_get(ctx->db, &mclass_SR, sr) == NULL)
                return api_error_set(err, "HANDLE_INVALID", "SR", sr, NULL);
        for (size_t i = 3; i < n && i < 5; i++) {
                const char *ref = params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
                if (ref[0] != '\0' && strcmp(ref, NULL_REF) != 0)
                        return api_error_set(err, "VALUE_NOT_SUPPORTED",
                                             i == 3 ? "base_vdi" : "into_vdi", ref,
                                             "incremental copies are not supported", NULL);
        }
        struct call *c = call_new(ctx);
        return call_defer(
            ctx, c,
            storage_vdi_copy(c->x, rpc_req_task(ctx->user), row->ref, sr, call_done, c, err));
}

static void scan_replied(int status, const ProtobufCMessage *reply, const char *errtext, void *arg)
{
        struct op *op = arg;
        struct api_error err = {0};
        const Ts__Sto__SrState *st = (const Ts__Sto__SrState *)reply;
        int r = 0;
        if (status < 0) {
                storage_link_error(status, errtext, &err);
                r = status;
        } else if (st->failure != NULL) {
                r = storage_failure_to_api(st->failure, &err);
        } else {
                struct db_row *sr = db_get(op->x->db, &mclass_SR, op->ref);
                if (sr != NULL)
                        storage_reconcile(op->x, sr, st);
        }
        op_finish(op, r, NULL, &err);
}

/* SR.scan(session, sr) */
static int do_SR_scan(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                      struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        const char *ref = params[1]->type == RPC_STRING ? params[1]->u.str.s : "";
        struct srdesc d;
        int r = storage_srdesc_for(x, ref, &d, err);
        if (r < 0)
                return r;
        struct db_row *srrow = db_get(x->db, &mclass_SR, ref);
        r = storage_sr_check_op(x->db, srrow, API_STORAGE_OPERATIONS_SCAN, err);
        if (r < 0) {
                storage_srdesc_clear(&d);
                return r;
        }
        Ts__Sto__SrScan req = TS__STO__SR_SCAN__INIT;
        req.sr = &d.sr;
        struct call *c = call_new(ctx);
        struct op *op = op_new(x, OP_SCAN, ref, call_done, c);
        storage_sr_op_begin(x->db, srrow, API_STORAGE_OPERATIONS_SCAN, rpc_req_task(ctx->user),
                            op->opkey, sizeof(op->opkey));
        r = op_send(op, &req.base, &ts__sto__sr_state__descriptor, scan_replied, err);
        storage_srdesc_clear(&d);
        return call_defer(ctx, c, r);
}

/* ---- stord announced itself --------------------------------------------------------------- */

struct attach {
        struct xapi *x;
        char *sr_ref;   /* an existing SR; NULL for the first-start local SR */
        char *sr_uuid;  /* the local SR being made */
        char *location; /* its directory */
};

static void attach_free(struct attach *a)
{
        free(a->sr_ref);
        free(a->sr_uuid);
        free(a->location);
        free(a);
}

/* The first-start SR exists on the storage now: its rows, and the pool's defaults. */
static struct db_row *make_local_sr(struct xapi *x, struct attach *a)
{
        struct api_SR *sr = model_record_new(&mclass_SR);
        set_str(&sr->uuid, a->sr_uuid);
        set_str(&sr->name_label, LOCAL_SR_LABEL);
        set_str(&sr->name_description, "");
        set_str(&sr->type, "file");
        set_str(&sr->content_type, "user");
        sr->shared = false;
        map_put_str(&mclass_SR, API_SR_F_other_config, &sr->other_config, "i18n-key", LOCAL_SR_KEY);
        map_put_str(&mclass_SR, API_SR_F_other_config, &sr->other_config,
                    "i18n-original-value-name_label", LOCAL_SR_LABEL);
        struct db_row *row;
        if (db_insert(x->db, &mclass_SR, NULL, sr, &row) < 0) {
                model_record_free(&mclass_SR, sr);
                return NULL;
        }
        struct api_PBD *p = model_record_new(&mclass_PBD);
        set_str(&p->host, x->host_ref);
        set_str(&p->SR, row->ref);
        map_put_str(&mclass_PBD, API_PBD_F_device_config, &p->device_config, "location",
                    a->location);
        p->currently_attached = true;
        if (db_insert(x->db, &mclass_PBD, NULL, p, NULL) < 0)
                model_record_free(&mclass_PBD, p);
        struct db_row *pool = db_get(x->db, &mclass_pool, x->pool_ref);
        if (pool != NULL) {
                struct api_pool *pr = pool->rec;
                static const int defaults[] = {API_pool_F_default_SR, API_pool_F_suspend_image_SR,
                                               API_pool_F_crash_dump_SR};
                for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
                        const struct mfield *f = &mclass_pool.fields[defaults[i]];
                        const char *cur = *(char **)model_slot(pr, f);
                        if (strcmp(cur, NULL_REF) == 0 || db_get(x->db, &mclass_SR, cur) == NULL)
                                db_set(x->db, pool, defaults[i], &row->ref);
                }
        }
        log_info("created the local SR %s in %s", a->sr_uuid, a->location);
        return row;
}

static void attach_replied(int status, const ProtobufCMessage *reply, const char *errtext,
                           void *arg)
{
        struct attach *a = arg;
        struct xapi *x = a->x;
        const Ts__Sto__SrState *st = (const Ts__Sto__SrState *)reply;
        if (a->sr_ref == NULL && x->storage != NULL)
                x->storage->creating_local = false;
        if (status < 0 || st->failure != NULL) {
                const char *why = status < 0 ? (errtext && errtext[0] ? errtext : strerror(-status))
                                  : st->failure->n_params > 1 ? st->failure->params[1]
                                                              : st->failure->code;
                log_warnx("SR %s: attach failed: %s", a->sr_ref ? a->sr_ref : a->sr_uuid, why);
                struct db_row *sr = a->sr_ref ? db_get(x->db, &mclass_SR, a->sr_ref) : NULL;
                struct db_row *pbd = sr ? storage_local_pbd(x, sr->rec) : NULL;
                if (pbd != NULL && ((struct api_PBD *)pbd->rec)->currently_attached) {
                        ((struct api_PBD *)pbd->rec)->currently_attached = false;
                        db_touch(x->db, pbd);
                        commit(x);
                }
                attach_free(a);
                return;
        }
        struct db_row *sr = a->sr_ref ? db_get(x->db, &mclass_SR, a->sr_ref) : make_local_sr(x, a);
        if (sr != NULL) {
                struct db_row *pbd = storage_local_pbd(x, sr->rec);
                if (pbd != NULL && !((struct api_PBD *)pbd->rec)->currently_attached) {
                        ((struct api_PBD *)pbd->rec)->currently_attached = true;
                        db_touch(x->db, pbd);
                }
                storage_reconcile(x, sr, st);
        }
        commit(x);
        attach_free(a);
}

static void send_attach(struct xapi *x, struct attach *a, const char *type, const char *uuid,
                        const struct mmap *dconf, bool create)
{
        struct srdesc d;
        if (storage_srdesc_init(&d, type, uuid, dconf) < 0) {
                attach_free(a);
                return;
        }
        Ts__Sto__SrAttach req = TS__STO__SR_ATTACH__INIT;
        req.sr = &d.sr;
        req.create = create;
        int r = msg_link_request(x->msg, STORD, &req.base, &ts__sto__sr_state__descriptor,
                                 STORD_TIMEOUT, attach_replied, a);
        storage_srdesc_clear(&d);
        if (r < 0) {
                log_warnx("cannot ask stord to attach SR %s: %s", uuid, strerror(-r));
                if (create && x->storage != NULL)
                        x->storage->creating_local = false;
                attach_free(a);
        }
}

static bool is_local_sr(const struct api_SR *sr)
{
        const char *k = map_get_str(&sr->other_config, "i18n-key");
        return k != NULL && strcmp(k, LOCAL_SR_KEY) == 0;
}

void storage_peer_up(struct xapi *x, const struct msg_peer_info *peer)
{
        if (x->msg == NULL)
                return;
        storage_update_allowed_all(x->db); /* the drivers' capabilities may have changed */
        const char *dir = NULL;
        for (size_t i = 0; i < peer->n_state; i++)
                if (strcmp(peer->state[i]->key, "local_sr_dir") == 0)
                        dir = peer->state[i]->value;
        bool have_local = false;
        for (size_t i = 0; i < db_count(x->db, &mclass_SR); i++) {
                struct db_row *row = db_row_at(x->db, &mclass_SR, i);
                const struct api_SR *sr = row->rec;
                struct db_row *pbd = storage_local_pbd(x, sr);
                if (is_local_sr(sr) && pbd != NULL)
                        have_local = true;
                if (pbd == NULL)
                        continue;
                struct attach *a = calloc(1, sizeof(*a));
                if (a == NULL)
                        return;
                a->x = x;
                set_str(&a->sr_ref, row->ref);
                send_attach(x, a, sr->type, sr->uuid, &((struct api_PBD *)pbd->rec)->device_config,
                            false);
        }
        if (have_local || dir == NULL || dir[0] == '\0' || x->storage == NULL ||
            x->storage->creating_local)
                return;
        struct attach *a = calloc(1, sizeof(*a));
        if (a == NULL)
                return;
        a->x = x;
        char uuid[UUID_STR_LEN];
        uuid_generate_str(uuid);
        set_str(&a->sr_uuid, uuid);
        set_str(&a->location, dir);
        struct mmap dconf = {0};
        map_put_str(&mclass_PBD, API_PBD_F_device_config, &dconf, "location", dir);
        x->storage->creating_local = true;
        send_attach(x, a, "file", uuid, &dconf, true);
        model_slot_free(mclass_PBD.fields[API_PBD_F_device_config].type, &dconf);
}

/* ---- conflicts wait, as XAPI's (storage_wait.h) ---- */

int h_VDI_create(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                 struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_create(ctx, params, n, w, err), err);
}

int h_VDI_destroy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                  struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_destroy(ctx, params, n, w, err), err);
}

int h_VDI_clone(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_clone(ctx, params, n, w, err), err);
}

int h_VDI_snapshot(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                   struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_snapshot(ctx, params, n, w, err), err);
}

int h_VDI_copy(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
               struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_VDI_copy(ctx, params, n, w, err), err);
}

int h_SR_scan(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
              struct rpc_writer *w, struct api_error *err)
{
        return storage_wait(ctx, do_SR_scan(ctx, params, n, w, err), err);
}
