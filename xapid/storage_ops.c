/* allowed/current operations of SRs and VDIs (see storage_ops.h). */
#include "xapid/storage_ops.h"
#include "xapid/storage_wait.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/model_gen.h"
#include "common/err.h"
#include "common/uuid.h"
#include "xapid/db.h"

/* The VDI operations this toolstack offers, in the order allowed_operations lists them. */
static const int vdi_ops[] = {
    API_VDI_OPERATIONS_CLONE,   API_VDI_OPERATIONS_COPY,
    API_VDI_OPERATIONS_RESIZE,  API_VDI_OPERATIONS_SNAPSHOT,
    API_VDI_OPERATIONS_DESTROY, API_VDI_OPERATIONS_FORGET,
    API_VDI_OPERATIONS_UPDATE,  API_VDI_OPERATIONS_GENERATE_CONFIG,
};
#define N_VDI_OPS (sizeof(vdi_ops) / sizeof(vdi_ops[0]))

static const int sr_ops[] = {
    API_STORAGE_OPERATIONS_SCAN,        API_STORAGE_OPERATIONS_DESTROY,
    API_STORAGE_OPERATIONS_FORGET,      API_STORAGE_OPERATIONS_PLUG,
    API_STORAGE_OPERATIONS_UNPLUG,      API_STORAGE_OPERATIONS_UPDATE,
    API_STORAGE_OPERATIONS_VDI_CREATE,  API_STORAGE_OPERATIONS_VDI_INTRODUCE,
    API_STORAGE_OPERATIONS_VDI_DESTROY, API_STORAGE_OPERATIONS_VDI_RESIZE,
    API_STORAGE_OPERATIONS_VDI_CLONE,   API_STORAGE_OPERATIONS_VDI_SNAPSHOT,
    API_STORAGE_OPERATIONS_PBD_CREATE,  API_STORAGE_OPERATIONS_PBD_DESTROY,
};
#define N_SR_OPS (sizeof(sr_ops) / sizeof(sr_ops[0]))

/* ---- what the SR's driver can do ----------------------------------------------------------- */

enum cap {
        CAP_CREATE = 1,
        CAP_DELETE = 2,
        CAP_CLONE = 4,
        CAP_SNAPSHOT = 8,
        CAP_RESIZE = 16,
        CAP_INTRODUCE = 32,
        CAP_UPDATE = 64,
        CAP_SR_UPDATE = 128
};

static unsigned caps_of_type(struct db *db, const char *type)
{
        static const struct {
                const char *name;
                unsigned bit;
        } names[] = {{"VDI_CREATE", CAP_CREATE}, {"VDI_DELETE", CAP_DELETE},
                     {"VDI_CLONE", CAP_CLONE},   {"VDI_SNAPSHOT", CAP_SNAPSHOT},
                     {"VDI_RESIZE", CAP_RESIZE}, {"VDI_INTRODUCE", CAP_INTRODUCE},
                     {"VDI_UPDATE", CAP_UPDATE}, {"SR_UPDATE", CAP_SR_UPDATE}};
        for (size_t i = 0; i < db_count(db, &mclass_SM); i++) {
                const struct api_SM *sm = db_row_at(db, &mclass_SM, i)->rec;
                if (strcmp(sm->type, type) != 0)
                        continue;
                unsigned c = 0;
                for (size_t k = 0; k < sm->capabilities.n; k++)
                        for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++)
                                if (strcmp(sm->capabilities.v[k].s, names[j].name) == 0)
                                        c |= names[j].bit;
                return c;
        }
        return ~0u; /* no SM record yet: do not forbid what the driver will judge */
}

static unsigned sr_caps(struct db *db, const char *sr_ref)
{
        struct db_row *sr = db_get(db, &mclass_SR, sr_ref);
        return sr != NULL ? caps_of_type(db, ((struct api_SR *)sr->rec)->type) : ~0u;
}

/* ---- VDIs ---------------------------------------------------------------------------------- */

static bool vdi_attached(struct db *db, const struct api_VDI *v)
{
        for (size_t i = 0; i < v->VBDs.n; i++) {
                struct db_row *b = db_get(db, &mclass_VBD, v->VBDs.v[i].s);
                if (b != NULL && ((struct api_VBD *)b->rec)->currently_attached)
                        return true;
        }
        return false;
}

static const char *vdi_op_name(int op)
{
        return menum_vdi_operations.values[op];
}

/* XAPI's check for OP on VDI ROW, with the SR's capability bits CAPS already known. */
static int vdi_check(struct db *db, struct db_row *row, int op, unsigned caps,
                     struct api_error *err)
{
        const struct api_VDI *v = row->rec;
        if (v->missing && op != API_VDI_OPERATIONS_FORGET && op != API_VDI_OPERATIONS_DESTROY)
                return api_error_set(err, "VDI_MISSING", v->SR, row->ref, NULL);
        const struct mmap *cur = &v->current_operations;
        if (cur->n > 0) {
                bool all_copies = op == API_VDI_OPERATIONS_COPY;
                for (size_t i = 0; i < cur->n && all_copies; i++)
                        all_copies = cur->v[i].e == API_VDI_OPERATIONS_COPY;
                if (!all_copies)
                        return api_error_set(err, "OTHER_OPERATION_IN_PROGRESS", "VDI", row->ref,
                                             vdi_op_name(cur->v[0].e), cur->k[0].s, NULL);
        }
        unsigned need = op == API_VDI_OPERATIONS_CLONE      ? CAP_CLONE
                        : op == API_VDI_OPERATIONS_SNAPSHOT ? CAP_SNAPSHOT
                        : op == API_VDI_OPERATIONS_RESIZE   ? CAP_RESIZE
                        : op == API_VDI_OPERATIONS_DESTROY  ? CAP_DELETE
                        : op == API_VDI_OPERATIONS_UPDATE   ? CAP_UPDATE
                                                            : 0;
        if ((caps & need) != need)
                return api_error_set(err, "SR_OPERATION_NOT_SUPPORTED", v->SR, NULL);
        if ((op == API_VDI_OPERATIONS_DESTROY || op == API_VDI_OPERATIONS_RESIZE ||
             op == API_VDI_OPERATIONS_FORGET) &&
            vdi_attached(db, v))
                return api_error_set(err, "VDI_IN_USE", row->ref, vdi_op_name(op), NULL);
        if (op == API_VDI_OPERATIONS_RESIZE && v->read_only)
                return api_error_set(err, "VDI_READONLY", row->ref, NULL);
        return 0;
}

int storage_vdi_check_op(struct db *db, struct db_row *vdi, int op, struct api_error *err)
{
        return vdi_check(db, vdi, op, sr_caps(db, ((struct api_VDI *)vdi->rec)->SR), err);
}

/* Sets the enum set field F of ROW to the N values of OPS, touching it only on a change. */
static void set_allowed(struct db *db, struct db_row *row, const struct mclass *c, int f,
                        const int *ops, size_t n)
{
        struct mset *s = model_slot(row->rec, &c->fields[f]);
        bool same = s->n == n;
        for (size_t i = 0; i < n && same; i++)
                same = s->v[i].e == ops[i];
        if (same)
                return;
        const struct mtype *t = c->fields[f].type;
        model_slot_free(t, s);
        for (size_t i = 0; i < n; i++)
                mset_add(t->elem, s, &ops[i]);
        db_touch(db, row);
}

static void vdi_update(struct db *db, struct db_row *row, unsigned caps)
{
        int ok[N_VDI_OPS];
        size_t n = 0;
        for (size_t i = 0; i < N_VDI_OPS; i++) {
                struct api_error e = {0};
                if (vdi_check(db, row, vdi_ops[i], caps, &e) == 0)
                        ok[n++] = vdi_ops[i];
                api_error_clear(&e);
        }
        set_allowed(db, row, &mclass_VDI, API_VDI_F_allowed_operations, ok, n);
}

void storage_vdi_update_allowed(struct db *db, struct db_row *vdi)
{
        vdi_update(db, vdi, sr_caps(db, ((struct api_VDI *)vdi->rec)->SR));
}

static void mark(struct db *db, struct db_row *row, const struct mclass *c, int f, int op,
                 const char *task, char *key, size_t keylen)
{
        if (task != NULL && task[0] != '\0') {
                snprintf(key, keylen, "%s", task);
        } else {
                char u[UUID_STR_LEN];
                uuid_generate_str(u);
                snprintf(key, keylen, "OpaqueRef:%s", u);
        }
        const char *k = key;
        mmap_put(c->fields[f].type, model_slot(row->rec, &c->fields[f]), &k, &op);
        db_touch(db, row);
}

static bool unmark(struct db *db, struct db_row *row, const struct mclass *c, int f,
                   const char *key)
{
        if (!mmap_remove(c->fields[f].type, model_slot(row->rec, &c->fields[f]), &key))
                return false;
        db_touch(db, row);
        return true;
}

void storage_vdi_op_begin(struct db *db, struct db_row *vdi, int op, const char *task, char *key,
                          size_t keylen)
{
        mark(db, vdi, &mclass_VDI, API_VDI_F_current_operations, op, task, key, keylen);
        storage_vdi_update_allowed(db, vdi);
}

void storage_vdi_op_end(struct db *db, const char *vdi_ref, const char *key)
{
        struct db_row *vdi = db_get(db, &mclass_VDI, vdi_ref);
        if (vdi != NULL && unmark(db, vdi, &mclass_VDI, API_VDI_F_current_operations, key))
                storage_vdi_update_allowed(db, vdi);
        storage_wait_wake();
}

/* ---- SRs ----------------------------------------------------------------------------------- */

static bool is_sr_level(int op)
{
        return op == API_STORAGE_OPERATIONS_SCAN || op == API_STORAGE_OPERATIONS_DESTROY ||
               op == API_STORAGE_OPERATIONS_FORGET || op == API_STORAGE_OPERATIONS_PLUG ||
               op == API_STORAGE_OPERATIONS_UNPLUG || op == API_STORAGE_OPERATIONS_UPDATE;
}

int storage_sr_check_op(struct db *db, struct db_row *row, int op, struct api_error *err)
{
        const struct api_SR *sr = row->rec;
        unsigned caps = caps_of_type(db, sr->type);
        unsigned need = op == API_STORAGE_OPERATIONS_VDI_CREATE      ? CAP_CREATE
                        : op == API_STORAGE_OPERATIONS_VDI_DESTROY   ? CAP_DELETE
                        : op == API_STORAGE_OPERATIONS_VDI_RESIZE    ? CAP_RESIZE
                        : op == API_STORAGE_OPERATIONS_VDI_INTRODUCE ? CAP_INTRODUCE
                        : op == API_STORAGE_OPERATIONS_VDI_SNAPSHOT  ? CAP_SNAPSHOT
                        : op == API_STORAGE_OPERATIONS_UPDATE        ? CAP_SR_UPDATE
                                                                     : 0;
        if ((caps & need) != need)
                return api_error_set(err, "SR_OPERATION_NOT_SUPPORTED", row->ref, NULL);
        if (op == API_STORAGE_OPERATIONS_DESTROY || op == API_STORAGE_OPERATIONS_FORGET) {
                bool attached = false;
                for (size_t i = 0; i < sr->PBDs.n && !attached; i++) {
                        struct db_row *p = db_get(db, &mclass_PBD, sr->PBDs.v[i].s);
                        attached = p != NULL && ((struct api_PBD *)p->rec)->currently_attached;
                }
                if (attached && op == API_STORAGE_OPERATIONS_FORGET)
                        return api_error_set(err, "SR_HAS_PBD", row->ref, NULL);
                if (op == API_STORAGE_OPERATIONS_DESTROY && sr->PBDs.n == 0)
                        return api_error_set(err, "SR_HAS_NO_PBDS", row->ref, NULL);
                if (op == API_STORAGE_OPERATIONS_DESTROY)
                        for (size_t i = 0; i < sr->VDIs.n; i++) {
                                struct db_row *v = db_get(db, &mclass_VDI, sr->VDIs.v[i].s);
                                if (v != NULL && !((struct api_VDI *)v->rec)->missing)
                                        return api_error_set(err, "SR_NOT_EMPTY", NULL);
                        }
        }
        const struct mmap *cur = &sr->current_operations;
        for (size_t i = 0; i < cur->n; i++) {
                int c = cur->v[i].e;
                bool blocks = is_sr_level(op) ? c != API_STORAGE_OPERATIONS_SCAN ||
                                                    op != API_STORAGE_OPERATIONS_SCAN
                                              : c == API_STORAGE_OPERATIONS_DESTROY ||
                                                    c == API_STORAGE_OPERATIONS_FORGET ||
                                                    c == API_STORAGE_OPERATIONS_UNPLUG;
                if (blocks)
                        return api_error_set(err, "OTHER_OPERATION_IN_PROGRESS", "SR", row->ref,
                                             menum_storage_operations.values[c], cur->k[i].s, NULL);
        }
        return 0;
}

void storage_sr_update_allowed(struct db *db, struct db_row *sr)
{
        int ok[N_SR_OPS];
        size_t n = 0;
        for (size_t i = 0; i < N_SR_OPS; i++) {
                struct api_error e = {0};
                if (storage_sr_check_op(db, sr, sr_ops[i], &e) == 0)
                        ok[n++] = sr_ops[i];
                api_error_clear(&e);
        }
        set_allowed(db, sr, &mclass_SR, API_SR_F_allowed_operations, ok, n);
}

void storage_sr_op_begin(struct db *db, struct db_row *sr, int op, const char *task, char *key,
                         size_t keylen)
{
        mark(db, sr, &mclass_SR, API_SR_F_current_operations, op, task, key, keylen);
        storage_sr_update_allowed(db, sr);
}

void storage_sr_op_end(struct db *db, const char *sr_ref, const char *key)
{
        struct db_row *sr = db_get(db, &mclass_SR, sr_ref);
        if (sr != NULL && unmark(db, sr, &mclass_SR, API_SR_F_current_operations, key))
                storage_sr_update_allowed(db, sr);
        storage_wait_wake();
}

void storage_update_allowed_all(struct db *db)
{
        for (size_t i = 0; i < db_count(db, &mclass_SR); i++) {
                struct db_row *sr = db_row_at(db, &mclass_SR, i);
                storage_sr_update_allowed(db, sr);
                const struct api_SR *s = sr->rec;
                unsigned caps = caps_of_type(db, s->type);
                for (size_t k = 0; k < s->VDIs.n; k++) {
                        struct db_row *v = db_get(db, &mclass_VDI, s->VDIs.v[k].s);
                        if (v != NULL)
                                vdi_update(db, v, caps);
                }
        }
}
