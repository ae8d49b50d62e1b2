/* Recomputing allowed_operations of every SR and VDI (storage_update_allowed_all) with N VDIs
 * each used by one VBD of a VM (default 15,000 of each), as after a start or a storage
 * reconfiguration.  Prints recompute_s (the first pass: every VDI's set changes) and
 * steady_s (a pass with nothing to change), best of ROUNDS.  XAPI's anchor: 37 s for its own
 * recomputation at this size after its optimisation (xen-api PR #3587).
 *
 * Usage: storage_allowed_bench [-n VDIS] [-r ROUNDS] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/model_gen.h"
#include "common/log.h"
#include "xapid/db.h"
#include "xapid/storage_ops.h"
#include "xapid/vm_util.h"

LOG_MODULE(storage_allowed_bench);

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct db_row *insert(struct db *db, const struct mclass *c, void *rec)
{
        struct db_row *row;
        if (db_insert(db, c, NULL, rec, &row) < 0)
                fatalx("insert failed");
        return row;
}

static void clear_allowed(struct db *db, int n_vdis)
{
        for (size_t i = 0; i < db_count(db, &mclass_VDI); i++) {
                struct db_row *row = db_row_at(db, &mclass_VDI, i);
                struct api_VDI *v = row->rec;
                model_slot_free(mclass_VDI.fields[API_VDI_F_allowed_operations].type,
                                &v->allowed_operations);
        }
        (void)n_vdis;
}

int main(int argc, char **argv)
{
        int n = 15000, rounds = 3, c;
        while ((c = getopt(argc, argv, "n:r:")) != -1) {
                if (c == 'n')
                        n = atoi(optarg);
                else if (c == 'r')
                        rounds = atoi(optarg);
                else
                        fatalx("usage: storage_allowed_bench [-n VDIS] [-r ROUNDS]");
        }
        if (model_init() < 0)
                fatalx("model_init");
        struct db *db;
        if (db_new(&db) < 0)
                fatalx("db_new");
        struct api_SM *sm = model_record_new(&mclass_SM);
        vmu_set_str(&sm->type, "file");
        static const char *const caps[] = {"VDI_CREATE",   "VDI_DELETE", "VDI_CLONE",
                                           "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_INTRODUCE",
                                           "VDI_UPDATE",   "SR_UPDATE"};
        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
                mset_add(mclass_SM.fields[API_SM_F_capabilities].type->elem, &sm->capabilities,
                         &caps[i]);
        insert(db, &mclass_SM, sm);
        struct api_SR *sr = model_record_new(&mclass_SR);
        vmu_set_str(&sr->type, "file");
        struct db_row *srrow = insert(db, &mclass_SR, sr);
        struct api_PBD *pbd = model_record_new(&mclass_PBD);
        vmu_set_str(&pbd->SR, srrow->ref);
        pbd->currently_attached = true;
        insert(db, &mclass_PBD, pbd);
        struct api_VM *vm = model_record_new(&mclass_VM);
        struct db_row *vmrow = insert(db, &mclass_VM, vm);
        for (int i = 0; i < n; i++) {
                struct api_VDI *v = model_record_new(&mclass_VDI);
                vmu_set_str(&v->SR, srrow->ref);
                struct db_row *vr = insert(db, &mclass_VDI, v);
                struct api_VBD *b = model_record_new(&mclass_VBD);
                vmu_set_str(&b->VM, vmrow->ref);
                vmu_set_str(&b->VDI, vr->ref);
                b->currently_attached = i % 2 == 0; /* half in use: destroy/resize refused */
                insert(db, &mclass_VBD, b);
        }
        double best = 1e9, steady = 1e9;
        for (int r = 0; r < rounds; r++) {
                clear_allowed(db, n);
                double t0 = now_s();
                storage_update_allowed_all(db);
                double t1 = now_s();
                storage_update_allowed_all(db);
                double t2 = now_s();
                if (t1 - t0 < best)
                        best = t1 - t0;
                if (t2 - t1 < steady)
                        steady = t2 - t1;
        }
        struct api_VDI *v0 = db_row_at(db, &mclass_VDI, 0)->rec;
        struct api_VDI *v1 = db_row_at(db, &mclass_VDI, 1)->rec;
        printf("vdis=%d vbds=%d\nallowed_ops_in_use=%zu allowed_ops_free=%zu\n", n, n,
               v0->allowed_operations.n, v1->allowed_operations.n);
        printf("recompute_s=%.4f\nsteady_s=%.4f\nxapi_anchor_s=37\n", best, steady);
        db_free(db);
        return 0;
}
