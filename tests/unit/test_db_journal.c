/* Unit tests of the durable journal: round trip of every persistent class, deletions,
 * generations, schema upgrades, the row codec's tolerance of IDL changes, durability across
 * a crash, group commit and real I/O errors. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "api/model_gen.h"
#include "xapid/db.h"
#include "xapid/db_codec.h"
#include "xapid/db_journal.h"
#include "xapid/db_schema.h"

/* ---- fixtures -------------------------------------------------------------------------- */

struct fx {
        char dir[64];
        char path[128];
        struct event_base *base;
};

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_db_journal.XXXXXX");
        if (!mkdtemp(fx->dir))
                return -1;
        snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
        fx->base = event_base_new();
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        if (system(cmd) != 0)
                return -1;
        event_base_free(fx->base);
        free(fx);
        return 0;
}

struct result {
        int calls, last;
};

static void record_done(int result, void *arg)
{
        struct result *r = arg;
        r->calls++;
        r->last = result;
}

/* Runs the loop until *COUNTER reaches N (the test program's alarm bounds the wait). */
static void run_until(struct event_base *base, const int *counter, int n)
{
        while (*counter < n)
                assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
}

static int commit_sync(struct event_base *base, struct db_journal *j)
{
        struct result r = {0};
        assert_int_equal(db_journal_commit(j, record_done, &r), 0);
        assert_int_equal(r.calls, 0); /* never from within the call */
        run_until(base, &r.calls, 1);
        return r.last;
}

static struct db_journal *open_journal(struct fx *fx, struct db **db)
{
        struct db_journal *j;
        assert_int_equal(db_new(db), 0);
        assert_int_equal(db_journal_open(fx->path, *db, fx->base, &j), 0);
        return j;
}

static void set_string(struct db *db, struct db_row *row, int f, const char *s)
{
        char *v = (char *)s;
        assert_int_equal(db_set(db, row, f, &v), 0);
}

static struct db_row *new_vm(struct db *db, const char *label)
{
        struct api_VM *vm = model_record_new(&mclass_VM);
        free(vm->name_label);
        vm->name_label = strdup(label);
        struct db_row *row;
        assert_int_equal(db_insert(db, &mclass_VM, NULL, vm, &row), 0);
        return row;
}

/* A non-default value for every type, varied by SEED. */
static void fill_slot(const struct mtype *t, void *slot, int seed)
{
        switch (t->kind) {
        case MT_STRING:
                assert_true(asprintf((char **)slot, "s%d-é\"<x>", seed) > 0);
                break;
        case MT_REF:
                assert_true(asprintf((char **)slot, "OpaqueRef:fake-%d", seed) > 0);
                break;
        case MT_INT:
                *(int64_t *)slot = (int64_t)seed * 1000000007LL - 5;
                break;
        case MT_FLOAT:
                *(double *)slot = seed + 0.25;
                break;
        case MT_BOOL:
                *(bool *)slot = true;
                break;
        case MT_DATETIME:
                *(time_t *)slot = 1700000000 + seed;
                break;
        case MT_ENUM:
                *(int *)slot = t->en->n - 1 - seed % t->en->n;
                break;
        case MT_SET:
        case MT_MAP:
                for (int i = 0; i < 2; i++) {
                        const struct mtype *e = t->kind == MT_SET ? t->elem : t->key;
                        union mval k = {0}, v = {0};
                        fill_slot(e, model_elem_slot(e, &k), seed + i);
                        if (t->kind == MT_SET) {
                                mset_add(e, slot, model_elem_slot(e, &k));
                        } else {
                                fill_slot(t->val, model_elem_slot(t->val, &v), seed + 7 * i);
                                mmap_put(t, slot, model_elem_slot(e, &k),
                                         model_elem_slot(t->val, &v));
                                model_slot_free(t->val, model_elem_slot(t->val, &v));
                                if (t->val->kind == MT_SET || t->val->kind == MT_MAP)
                                        free(v.set);
                        }
                        model_slot_free(e, model_elem_slot(e, &k));
                }
                break;
        default:
                break;
        }
}

static void *filled_record(const struct mclass *c, int seed)
{
        void *rec = model_record_new(c);
        for (int i = 0; i < c->n_fields; i++) {
                const struct mfield *f = &c->fields[i];
                if (f->is_derived || f->type->kind == MT_RECORD || f->type->kind == MT_OPAQUE)
                        continue;
                model_slot_free(f->type, model_slot(rec, f));
                fill_slot(f->type, model_slot(rec, f), seed + i);
        }
        return rec;
}

static bool set_equal_unordered(const struct mtype *t, const struct mset *a, const struct mset *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!mset_contains(t->elem, b, model_elem_slot(t->elem, &a->v[i])))
                        return false;
        return true;
}

/* Every row of every persistent class of A is in B with equal fields and generation. */
static size_t assert_same_rows(struct db *a, struct db *b)
{
        size_t n = 0;
        for (int c = 0; c < api_n_classes; c++) {
                const struct mclass *cl = api_classes[c];
                if (!cl->persistent || !cl->table)
                        continue;
                assert_int_equal(db_count(a, cl), db_count(b, cl));
                for (size_t i = 0; i < db_count(a, cl); i++) {
                        struct db_row *ra = db_row_at(a, cl, i);
                        struct db_row *rb = db_get(b, cl, ra->ref);
                        assert_non_null(rb);
                        assert_int_equal(ra->created, rb->created);
                        assert_int_equal(ra->modified, rb->modified);
                        for (int f = 0; f < cl->n_fields; f++) {
                                const struct mfield *fd = &cl->fields[f];
                                void *sa = model_slot(ra->rec, fd), *sb = model_slot(rb->rec, fd);
                                bool eq = fd->is_derived && fd->type->kind == MT_SET
                                              ? set_equal_unordered(fd->type, sa, sb)
                                              : model_slot_equal(fd->type, sa, sb);
                                if (!eq)
                                        fail_msg("%s.%s differs after reload", cl->name, fd->name);
                        }
                        n++;
                }
        }
        return n;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void round_trip_every_class(void **state)
{
        struct fx *fx = *state;
        struct db *db;
        struct db_journal *j = open_journal(fx, &db);
        struct db_row *rows[128] = {0};
        for (int c = 0; c < api_n_classes; c++) {
                const struct mclass *cl = api_classes[c];
                if (!cl->table)
                        continue;
                assert_true(c < 128);
                assert_int_equal(db_insert(db, cl, NULL, filled_record(cl, c * 10), &rows[c]), 0);
        }
        /* real relations between the classes of the brief */
        struct db_row *vm = rows[mclass_VM.id], *vbd = rows[mclass_VBD.id],
                      *vdi = rows[mclass_VDI.id], *sr = rows[mclass_SR.id],
                      *host = rows[mclass_host.id];
        set_string(db, vbd, API_VBD_F_VM, vm->ref);
        set_string(db, vbd, API_VBD_F_VDI, vdi->ref);
        set_string(db, vdi, API_VDI_F_SR, sr->ref);
        set_string(db, vm, API_VM_F_resident_on, host->ref);
        struct db_row *vm2 = new_vm(db, "second");
        set_string(db, vm2, API_VM_F_resident_on, host->ref);
        assert_int_equal(commit_sync(fx->base, j), 0);
        uint64_t gen = db_generation(db);
        struct db_journal_stats st;
        db_journal_stats(j, &st);
        assert_int_equal(st.commits, 1);
        assert_int_equal(st.transactions, 1);
        assert_true(st.file_size > 0);
        assert_int_equal(db_journal_close(j), 0);

        struct db *db2;
        j = open_journal(fx, &db2);
        assert_int_equal(db_generation(db2), gen);
        size_t n = assert_same_rows(db, db2);
        assert_int_equal(db_count(db2, &mclass_session), 0);
        assert_int_equal(db_count(db2, &mclass_task), 0);
        db_journal_stats(j, &st);
        assert_int_equal(st.loaded_rows, n);
        /* relations rebuilt */
        struct api_VM *v = db_get(db2, &mclass_VM, vm->ref)->rec;
        assert_int_equal(v->VBDs.n, 1);
        assert_string_equal(v->VBDs.v[0].s, vbd->ref);
        struct api_SR *s = db_get(db2, &mclass_SR, sr->ref)->rec;
        assert_int_equal(s->VDIs.n, 1);
        assert_string_equal(s->VDIs.v[0].s, vdi->ref);
        struct api_host *h = db_get(db2, &mclass_host, host->ref)->rec;
        assert_int_equal(h->resident_VMs.n, 2);
        /* a later change after restart gets a newer generation than anything before */
        set_string(db2, db_get(db2, &mclass_VM, vm->ref), API_VM_F_name_label, "after");
        assert_true(db_generation(db2) > gen);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db2);
        db_free(db);
}

static void count_deletion(const struct db_deletion *d, void *arg)
{
        (*(int *)arg)++;
}

static void deletion_persisted(void **state)
{
        struct fx *fx = *state;
        struct db *db;
        struct db_journal *j = open_journal(fx, &db);
        struct db_row *a = new_vm(db, "a");
        new_vm(db, "b");
        char *aref = strdup(a->ref);
        assert_int_equal(commit_sync(fx->base, j), 0);
        db_delete(db, a);
        db_delete(db, new_vm(db, "never committed"));
        assert_int_equal(commit_sync(fx->base, j), 0);
        uint64_t gen = db_generation(db);
        struct db_journal_stats st;
        db_journal_stats(j, &st);
        assert_int_equal(st.rows_deleted, 2);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);

        j = open_journal(fx, &db);
        assert_int_equal(db_count(db, &mclass_VM), 1);
        assert_null(db_get_any(db, aref));
        assert_string_equal(((struct api_VM *)db_row_at(db, &mclass_VM, 0)->rec)->name_label, "b");
        assert_int_equal(db_generation(db), gen);
        /* deletions from before the restart are unknown: older tokens must resync */
        int seen = 0;
        assert_false(db_deletions_since(db, &mclass_VM, gen - 1, count_deletion, &seen));
        assert_true(db_deletions_since(db, &mclass_VM, gen, count_deletion, &seen));
        assert_int_equal(seen, 0);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);
        free(aref);
}

static int exec_sql(const char *path, const char *sql)
{
        sqlite3 *s;
        assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
        int rc = sqlite3_exec(s, sql, NULL, NULL, NULL);
        sqlite3_close(s);
        return rc;
}

static int64_t meta(const char *path, const char *key)
{
        sqlite3 *s;
        int64_t v;
        assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
        assert_int_equal(db_meta_get(s, key, &v), 0);
        sqlite3_close(s);
        return v;
}

static int step_order[8], n_steps;
static int step2(sqlite3 *s)
{
        step_order[n_steps++] = 2;
        return sqlite3_exec(s, "INSERT INTO t1 VALUES ('from step 2')", NULL, NULL, NULL) ==
                       SQLITE_OK
                   ? 0
                   : -EIO;
}
static int step3_fails(sqlite3 *s)
{
        step_order[n_steps++] = 3;
        return -EIO;
}

static void schema_upgrade(void **state)
{
        struct fx *fx = *state;
        /* a "version 0" file: only meta */
        assert_int_equal(exec_sql(fx->path, "CREATE TABLE meta(key TEXT PRIMARY KEY, value "
                                            "INTEGER NOT NULL);"
                                            "INSERT INTO meta VALUES ('schema_version', 0);"),
                         SQLITE_OK);
        struct db *db;
        struct db_journal *j = open_journal(fx, &db);
        new_vm(db, "upgraded");
        assert_int_equal(commit_sync(fx->base, j), 0);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);
        assert_int_equal(meta(fx->path, "schema_version"), DB_SCHEMA_VERSION);
        j = open_journal(fx, &db);
        assert_int_equal(db_count(db, &mclass_VM), 1);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);

        /* a longer chain, SQL and C steps in order; a failing step rolls back all */
        char p2[160];
        snprintf(p2, sizeof(p2), "%s/steps.db", fx->dir);
        sqlite3 *s;
        assert_int_equal(sqlite3_open(p2, &s), SQLITE_OK);
        const struct db_schema_step steps[] = {
            {1, "CREATE TABLE t1(x TEXT)", NULL},
            {2, NULL, step2},
            {3, "CREATE TABLE t3(x)", step3_fails},
        };
        assert_int_equal(db_schema_upgrade(s, steps, 2), 0);
        assert_int_equal(n_steps, 1);
        assert_int_equal(step_order[0], 2);
        int64_t v;
        assert_int_equal(db_meta_get(s, "schema_version", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(db_schema_upgrade(s, steps, 2), 0); /* nothing left to do */
        assert_int_equal(n_steps, 1);
        assert_int_equal(db_schema_upgrade(s, steps, 3), -EIO);
        assert_int_equal(db_meta_get(s, "schema_version", &v), 0);
        assert_int_equal(v, 2);
        assert_int_not_equal(sqlite3_exec(s, "SELECT * FROM t3", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(s, "SELECT * FROM t1", NULL, NULL, NULL), SQLITE_OK);
        /* a file from the future is refused */
        assert_int_equal(db_schema_upgrade(s, steps, 1), -ENOTSUP);
        sqlite3_close(s);
        assert_int_equal(exec_sql(fx->path, "UPDATE meta SET value = 99 WHERE key = "
                                            "'schema_version'"),
                         SQLITE_OK);
        assert_int_equal(db_new(&db), 0);
        assert_int_equal(db_journal_open(fx->path, db, fx->base, &j), -ENOTSUP);
        db_free(db);
}

/* The IDL can grow and shrink: unknown fields ignored, missing ones default, values that
 * no longer fit keep the default; broken blobs are refused. */
static void codec_tolerates_idl_changes(void **state)
{
        static const uint8_t blob[] = {
            1,
            /* unknown field, a map with a set inside */
            9, 'n', 'o', '_', 's', 'u', 'c', 'h', '_', 'f', 'M', 1, 's', 1, 'k', 'S', 1, 'i', 4,
            /* name_label = "hi" */
            10, 'n', 'a', 'm', 'e', '_', 'l', 'a', 'b', 'e', 'l', 's', 2, 'h', 'i',
            /* power_state stored as an int: type changed, default kept */
            11, 'p', 'o', 'w', 'e', 'r', '_', 's', 't', 'a', 't', 'e', 'i', 6,
            /* domain_type "pv" */
            11, 'd', 'o', 'm', 'a', 'i', 'n', '_', 't', 'y', 'p', 'e', 'e', 2, 'p', 'v',
            /* actions_after_crash: a value this build does not know */
            19, 'a', 'c', 't', 'i', 'o', 'n', 's', '_', 'a', 'f', 't', 'e', 'r', '_', 'c', 'r', 'a',
            's', 'h', 'e', 3, 'z', 'a', 'p',
            /* VCPUs_max = -3 (zigzag 5) */
            9, 'V', 'C', 'P', 'U', 's', '_', 'm', 'a', 'x', 'i', 5,
            /* tags: a string set where one element has the wrong type */
            4, 't', 'a', 'g', 's', 'S', 2, 's', 1, 'a', 'b', 1};
        void *rec;
        assert_int_equal(db_codec_decode(&mclass_VM, blob, sizeof(blob), &rec), 0);
        struct api_VM *vm = rec, *def = model_record_new(&mclass_VM);
        assert_string_equal(vm->name_label, "hi");
        assert_int_equal(vm->power_state, def->power_state);
        assert_int_equal(vm->domain_type, API_DOMAIN_TYPE_PV);
        assert_int_equal(vm->actions_after_crash, def->actions_after_crash);
        assert_int_equal(vm->VCPUs_max, -3);
        assert_int_equal(vm->tags.n, 0);
        assert_true(model_slot_equal(mclass_VM.fields[API_VM_F_other_config].type,
                                     &vm->other_config, &def->other_config));
        assert_true(vm->HVM_shadow_multiplier == def->HVM_shadow_multiplier);
        model_record_free(&mclass_VM, rec);
        model_record_free(&mclass_VM, def);
        /* every truncation of a valid blob is refused or decodes cleanly, never crashes */
        for (size_t len = 0; len < sizeof(blob); len++) {
                int r = db_codec_decode(&mclass_VM, blob, len, &rec);
                if (r == 0)
                        model_record_free(&mclass_VM, rec);
                else
                        assert_int_equal(r, -EBADMSG);
        }
        assert_int_equal(db_codec_decode(&mclass_VM, blob, 15, &rec), -EBADMSG);
        static const uint8_t bad_version[] = {7};
        assert_int_equal(db_codec_decode(&mclass_VM, bad_version, 1, &rec), -EBADMSG);
        /* encode → decode is the identity on a fully filled record */
        void *full = filled_record(&mclass_VM, 3);
        uint8_t *data;
        size_t len;
        assert_int_equal(db_codec_encode(&mclass_VM, full, &data, &len), 0);
        assert_int_equal(db_codec_decode(&mclass_VM, data, len, &rec), 0);
        for (int f = 0; f < mclass_VM.n_fields; f++) {
                const struct mfield *fd = &mclass_VM.fields[f];
                if (!fd->is_derived)
                        assert_true(
                            model_slot_equal(fd->type, model_slot(full, fd), model_slot(rec, fd)));
        }
        free(data);
        model_record_free(&mclass_VM, rec);
        model_record_free(&mclass_VM, full);
}

static void exit_in_done(int result, void *arg)
{
        _exit(result == 0 ? 0 : 3); /* no close, no checkpoint: a crash right after DONE */
}

static void durable_across_crash(void **state)
{
        struct fx *fx = *state;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct event_base *base = event_base_new();
                struct db *db;
                struct db_journal *j;
                if (!base || db_new(&db) < 0 || db_journal_open(fx->path, db, base, &j) < 0)
                        _exit(2);
                struct api_VM *vm = model_record_new(&mclass_VM);
                free(vm->name_label);
                vm->name_label = strdup("survivor");
                if (db_insert(db, &mclass_VM, "OpaqueRef:crash-test", vm, NULL) < 0 ||
                    db_journal_commit(j, exit_in_done, NULL) < 0)
                        _exit(2);
                event_base_dispatch(base);
                _exit(4);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        struct db *db;
        struct db_journal *j = open_journal(fx, &db);
        struct db_row *row = db_get(db, &mclass_VM, "OpaqueRef:crash-test");
        assert_non_null(row);
        assert_string_equal(((struct api_VM *)row->rec)->name_label, "survivor");
        assert_true(db_generation(db) >= row->modified);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);
}

/* 16 logical writers, each issuing its next mutation + commit from its previous DONE. */
#define WRITERS 16
struct group {
        struct db *db;
        struct db_journal *j;
        struct db_row *vms[WRITERS];
        int issued, completed, failed, total;
        int seq[WRITERS];
};
struct writer {
        struct group *g;
        int idx;
};

static void writer_done(int result, void *arg);

static void writer_step(struct writer *w)
{
        struct group *g = w->g;
        if (g->issued >= g->total)
                return;
        g->issued++;
        char label[32];
        snprintf(label, sizeof(label), "w%d-%d", w->idx, ++g->seq[w->idx]);
        set_string(g->db, g->vms[w->idx], API_VM_F_name_label, label);
        assert_int_equal(db_journal_commit(g->j, writer_done, w), 0);
}

static void writer_done(int result, void *arg)
{
        struct writer *w = arg;
        w->g->completed++;
        w->g->failed += result < 0;
        writer_step(w);
}

static void start_writers(evutil_socket_t fd, short what, void *arg)
{
        struct writer *ws = arg;
        for (int i = 0; i < WRITERS; i++)
                writer_step(&ws[i]);
}

static struct result burst_result;
static void burst(evutil_socket_t fd, short what, void *arg)
{
        struct group *g = arg;
        for (int i = 0; i < 1000; i++) {
                char label[32];
                snprintf(label, sizeof(label), "burst-%d", i);
                set_string(g->db, g->vms[i % WRITERS], API_VM_F_name_label, label);
                assert_int_equal(db_journal_commit(g->j, record_done, &burst_result), 0);
        }
}

static void group_commit(void **state)
{
        struct fx *fx = *state;
        struct group g = {.total = 1000};
        g.j = open_journal(fx, &g.db);
        struct writer ws[WRITERS];
        for (int i = 0; i < WRITERS; i++) {
                g.vms[i] = new_vm(g.db, "w");
                ws[i] = (struct writer){&g, i};
        }
        assert_int_equal(commit_sync(fx->base, g.j), 0);
        struct db_journal_stats st0, st;
        db_journal_stats(g.j, &st0);
        event_base_once(fx->base, -1, EV_TIMEOUT, start_writers, ws, NULL);
        run_until(fx->base, &g.completed, g.total);
        db_journal_stats(g.j, &st);
        uint64_t batches = st.batches - st0.batches;
        printf("# group commit: 1000 commits by %d writers in %llu batches (max %llu per batch, "
               "avg latency %llu us)\n",
               WRITERS, (unsigned long long)batches, (unsigned long long)st.max_batch,
               (unsigned long long)st.avg_latency_us);
        assert_int_equal(g.failed, 0);
        assert_int_equal(st.commits - st0.commits, 1000);
        assert_true(batches <= 100);
        assert_true(st.max_batch >= 2);

        /* a burst from one loop turn: one batch for the first, one for the other 999 */
        event_base_once(fx->base, -1, EV_TIMEOUT, burst, &g, NULL);
        run_until(fx->base, &burst_result.calls, 1000);
        assert_int_equal(burst_result.last, 0);
        db_journal_stats(g.j, &st0);
        printf("# burst: 1000 commits in %llu batches\n",
               (unsigned long long)(st0.batches - st.batches));
        assert_true(st0.batches - st.batches <= 3);
        assert_int_equal(db_journal_close(g.j), 0);

        struct db *db2;
        struct db_journal *j = open_journal(fx, &db2);
        assert_same_rows(g.db, db2);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db2);
        db_free(g.db);
}

/* A real write failure: the file size limit (EFBIG on every write past it). */
static void io_error_reported_and_retried(void **state)
{
        struct fx *fx = *state;
        struct db *db;
        struct db_journal *j = open_journal(fx, &db);
        struct db_row *vm = new_vm(db, "before");
        char *ref = strdup(vm->ref);
        assert_int_equal(commit_sync(fx->base, j), 0);

        struct rlimit old, lim;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim = old;
        lim.rlim_cur = 1;
        signal(SIGXFSZ, SIG_IGN);
        set_string(db, vm, API_VM_F_name_label, "during");
        db_delete(db, new_vm(db, "deleted while failing"));
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        int r = commit_sync(fx->base, j);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        printf("# commit under a 1-byte file size limit: %s\n", strerror(-r));
        assert_true(r < 0);
        struct db_journal_stats st;
        db_journal_stats(j, &st);
        assert_int_equal(st.failed_batches, 1);
        assert_int_equal(st.failed_commits, 1);
        /* the in-memory state stayed; the next commit writes it */
        assert_string_equal(((struct api_VM *)vm->rec)->name_label, "during");
        assert_int_equal(commit_sync(fx->base, j), 0);
        uint64_t gen = db_generation(db);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);

        j = open_journal(fx, &db);
        vm = db_get(db, &mclass_VM, ref);
        assert_non_null(vm);
        assert_string_equal(((struct api_VM *)vm->rec)->name_label, "during");
        assert_int_equal(db_count(db, &mclass_VM), 1);
        assert_int_equal(db_generation(db), gen);
        assert_int_equal(db_journal_close(j), 0);
        db_free(db);
        free(ref);

        /* and a path that cannot hold a database */
        assert_int_equal(db_new(&db), 0);
        assert_true(db_journal_open("/proc/self/state.db", db, fx->base, &j) < 0);
        db_free(db);
}

int main(void)
{
        alarm(300); /* a lost wake-up must fail the test, not hang it */
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(round_trip_every_class, setup, teardown),
            cmocka_unit_test_setup_teardown(deletion_persisted, setup, teardown),
            cmocka_unit_test_setup_teardown(schema_upgrade, setup, teardown),
            cmocka_unit_test(codec_tolerates_idl_changes),
            cmocka_unit_test_setup_teardown(durable_across_crash, setup, teardown),
            cmocka_unit_test_setup_teardown(group_commit, setup, teardown),
            cmocka_unit_test_setup_teardown(io_error_reported_and_retried, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
