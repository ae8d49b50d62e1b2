/* The in-memory store: tables, indexes, generations, deletion logs, bound pairs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/uuid.h"
#include "xapid/db.h"
#include "xapid/db_index.h"

LOG_MODULE(db);

struct db_table {
        struct db_row **rows;
        size_t n, cap;
        struct db_index by_ref, by_uuid;
        struct db_deletion dellog[DB_DELETION_LOG]; /* ring */
        size_t del_head, del_n;
        uint64_t del_lost; /* newest generation that fell out of the ring */
};

struct db {
        struct db_table *tables; /* api_n_classes */
        struct db_index all_refs;
        uint64_t gen;
        struct db_row *dirty;
        void (*on_delete)(void *arg, const struct db_row *row);
        void *on_delete_arg;
        void (*on_change)(void *arg, const struct db_row *row, bool deleted);
        void *on_change_arg;
};

int db_new(struct db **out)
{
        int r = model_init();
        if (r < 0)
                return r;
        struct db *db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->tables = calloc((size_t)api_n_classes, sizeof(*db->tables));
        if (!db->tables) {
                free(db);
                return -ENOMEM;
        }
        *out = db;
        return 0;
}

static void row_free(struct db_row *row)
{
        model_record_free(row->cls, row->rec);
        free(row->ref);
        free(row);
}

void db_free(struct db *db)
{
        if (!db)
                return;
        for (int c = 0; c < api_n_classes; c++) {
                struct db_table *t = &db->tables[c];
                for (size_t i = 0; i < t->n; i++)
                        row_free(t->rows[i]);
                free(t->rows);
                db_index_free(&t->by_ref);
                db_index_free(&t->by_uuid);
                for (size_t i = 0; i < t->del_n; i++)
                        free(t->dellog[(t->del_head + i) % DB_DELETION_LOG].ref);
        }
        db_index_free(&db->all_refs);
        free(db->tables);
        free(db);
}

uint64_t db_generation(const struct db *db)
{
        return db->gen;
}

void db_set_delete_hook(struct db *db, void (*on_delete)(void *arg, const struct db_row *row),
                        void *arg)
{
        db->on_delete = on_delete;
        db->on_delete_arg = arg;
}

void db_set_change_hook(struct db *db,
                        void (*on_change)(void *arg, const struct db_row *row, bool deleted),
                        void *arg)
{
        db->on_change = on_change;
        db->on_change_arg = arg;
}

static void changed(struct db *db, const struct db_row *row, bool deleted)
{
        if (db->on_change != NULL)
                db->on_change(db->on_change_arg, row, deleted);
}

static const char *uuid_of(const struct db_row *row)
{
        if (row->cls->uuid_field < 0)
                return NULL;
        return *(char **)model_slot(row->rec, &row->cls->fields[row->cls->uuid_field]);
}

static void mark(struct db *db, struct db_row *row)
{
        row->modified = ++db->gen;
        db_mark_dirty(db, row);
        changed(db, row, false);
}

struct db_row *db_take_dirty(struct db *db)
{
        struct db_row *l = db->dirty;
        db->dirty = NULL;
        for (struct db_row *r = l; r; r = r->next_dirty)
                r->dirty = false;
        return l;
}

void db_mark_dirty(struct db *db, struct db_row *row)
{
        if (row->cls->persistent && !row->dirty) {
                row->dirty = true;
                row->next_dirty = db->dirty;
                db->dirty = row;
        }
}

static void unlink_dirty(struct db *db, struct db_row *row)
{
        if (!row->dirty)
                return;
        for (struct db_row **p = &db->dirty; *p; p = &(*p)->next_dirty)
                if (*p == row) {
                        *p = row->next_dirty;
                        break;
                }
        row->dirty = false;
}

/* Bound pairs: ROW's ref field F names a target whose set field lists ROW. */
static void partner_update(struct db *db, struct db_row *row, int f, bool add)
{
        const struct mfield *fd = &row->cls->fields[f];
        if (fd->partner_cls < 0 || fd->is_derived || fd->type->kind != MT_REF)
                return;
        const char *target = *(char **)model_slot(row->rec, fd);
        struct db_row *t = db_get(db, api_classes[fd->partner_cls], target);
        if (!t)
                return;
        const struct mfield *sf = &t->cls->fields[fd->partner_field];
        struct mset *set = model_slot(t->rec, sf);
        if (add) {
                if (mset_contains(sf->type->elem, set, &row->ref))
                        return;
                mset_add(sf->type->elem, set, &row->ref);
        } else if (!mset_remove(sf->type->elem, set, &row->ref)) {
                return;
        }
        /* The target changed too: XAPI emits a mod event for it (but it is not journaled:
         * derived sets are rebuilt on load). */
        t->modified = ++db->gen;
        changed(db, t, false);
}

static int insert_row(struct db *db, const struct mclass *c, const char *ref, void *rec,
                      struct db_row **out)
{
        struct db_table *t = &db->tables[c->id];
        struct db_row *row = calloc(1, sizeof(*row));
        if (!row)
                return -ENOMEM;
        row->cls = c;
        row->rec = rec;
        if (ref) {
                row->ref = strdup(ref);
        } else {
                char u[UUID_STR_LEN];
                uuid_generate_str(u);
                if (asprintf(&row->ref, "OpaqueRef:%s", u) < 0)
                        row->ref = NULL;
        }
        if (!row->ref)
                abort();
        if (c->uuid_field >= 0) {
                char **u = model_slot(rec, &c->fields[c->uuid_field]);
                if (!*u || !**u) {
                        free(*u);
                        *u = malloc(UUID_STR_LEN);
                        if (!*u)
                                abort();
                        uuid_generate_str(*u);
                }
        }
        if (db_index_get(&db->all_refs, row->ref) ||
            (uuid_of(row) && db_index_get(&t->by_uuid, uuid_of(row)))) {
                row->rec = NULL; /* not taken on failure */
                free(row->ref);
                free(row);
                return -EEXIST;
        }
        db_index_put(&db->all_refs, row->ref, row);
        db_index_put(&t->by_ref, row->ref, row);
        if (uuid_of(row))
                db_index_put(&t->by_uuid, uuid_of(row), row);
        if (t->n == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 64;
                t->rows = realloc(t->rows, t->cap * sizeof(*t->rows));
                if (!t->rows)
                        abort();
        }
        row->pos = t->n;
        t->rows[t->n++] = row;
        if (out)
                *out = row;
        return 0;
}

int db_insert(struct db *db, const struct mclass *c, const char *ref, void *rec,
              struct db_row **out)
{
        struct db_row *row;
        int r = insert_row(db, c, ref, rec, &row);
        if (r < 0)
                return r;
        mark(db, row);
        row->created = row->modified;
        for (int f = 0; f < c->n_fields; f++)
                partner_update(db, row, f, true);
        if (out)
                *out = row;
        return 0;
}

int db_load_row(struct db *db, const struct mclass *c, const char *ref, void *rec, uint64_t gen)
{
        struct db_row *row;
        int r = insert_row(db, c, ref, rec, &row);
        if (r < 0)
                return r;
        row->created = row->modified = gen;
        if (gen > db->gen)
                db->gen = gen;
        return 0;
}

void db_rebuild_derived(struct db *db)
{
        uint64_t gen = db->gen;
        for (int c = 0; c < api_n_classes; c++) {
                struct db_table *t = &db->tables[c];
                for (size_t i = 0; i < t->n; i++)
                        for (int f = 0; f < api_classes[c]->n_fields; f++)
                                partner_update(db, t->rows[i], f, true);
        }
        /* Rebuilding is not a change anybody should be told about. */
        for (int c = 0; c < api_n_classes; c++)
                for (size_t i = 0; i < db->tables[c].n; i++)
                        if (db->tables[c].rows[i]->modified > gen)
                                db->tables[c].rows[i]->modified = db->tables[c].rows[i]->created;
        db->gen = gen;
}

void db_restore_generation(struct db *db, uint64_t gen)
{
        if (gen > db->gen)
                db->gen = gen;
        for (int c = 0; c < api_n_classes; c++)
                if (db->tables[c].del_lost < db->gen)
                        db->tables[c].del_lost = db->gen;
}

void db_delete(struct db *db, struct db_row *row)
{
        const struct mclass *c = row->cls;
        struct db_table *t = &db->tables[c->id];
        for (int f = 0; f < c->n_fields; f++)
                partner_update(db, row, f, false);
        unlink_dirty(db, row);
        uint64_t gen = ++db->gen;
        changed(db, row, true);
        if (c->persistent && db->on_delete)
                db->on_delete(db->on_delete_arg, row);
        /* deletion log */
        size_t slot = (t->del_head + t->del_n) % DB_DELETION_LOG;
        if (t->del_n == DB_DELETION_LOG) {
                t->del_lost = t->dellog[t->del_head].gen;
                free(t->dellog[t->del_head].ref);
                t->del_head = (t->del_head + 1) % DB_DELETION_LOG;
                t->del_n--;
                slot = (t->del_head + t->del_n) % DB_DELETION_LOG;
        }
        t->dellog[slot].ref = strdup(row->ref);
        t->dellog[slot].gen = gen;
        t->dellog[slot].created = row->created;
        t->del_n++;

        db_index_del(&db->all_refs, row->ref);
        db_index_del(&t->by_ref, row->ref);
        if (uuid_of(row))
                db_index_del(&t->by_uuid, uuid_of(row));
        t->rows[row->pos] = t->rows[--t->n];
        t->rows[row->pos]->pos = row->pos;
        row_free(row);
}

bool db_deletions_since(const struct db *db, const struct mclass *c, uint64_t since,
                        void (*fn)(const struct db_deletion *d, void *arg), void *arg)
{
        const struct db_table *t = &db->tables[c->id];
        for (size_t i = 0; i < t->del_n; i++) {
                const struct db_deletion *d = &t->dellog[(t->del_head + i) % DB_DELETION_LOG];
                if (d->gen > since)
                        fn(d, arg);
        }
        return t->del_lost <= since;
}

struct db_row *db_get(const struct db *db, const struct mclass *c, const char *ref)
{
        return db_index_get(&db->tables[c->id].by_ref, ref);
}

struct db_row *db_get_any(const struct db *db, const char *ref)
{
        return db_index_get(&db->all_refs, ref);
}

struct db_row *db_get_by_uuid(const struct db *db, const struct mclass *c, const char *uuid)
{
        return db_index_get(&db->tables[c->id].by_uuid, uuid);
}

size_t db_count(const struct db *db, const struct mclass *c)
{
        return db->tables[c->id].n;
}

struct db_row *db_row_at(const struct db *db, const struct mclass *c, size_t i)
{
        const struct db_table *t = &db->tables[c->id];
        return i < t->n ? t->rows[i] : NULL;
}

int db_set(struct db *db, struct db_row *row, int f, const void *slot)
{
        const struct mclass *c = row->cls;
        if (f < 0 || f >= c->n_fields)
                return -EINVAL;
        const struct mfield *fd = &c->fields[f];
        void *dst = model_slot(row->rec, fd);
        struct db_table *t = &db->tables[c->id];
        if (f == c->uuid_field) {
                const char *nu = *(char *const *)slot;
                struct db_row *o = db_index_get(&t->by_uuid, nu);
                if (o && o != row)
                        return -EEXIST;
                db_index_del(&t->by_uuid, uuid_of(row));
        }
        partner_update(db, row, f, false);
        model_slot_free(fd->type, dst);
        model_slot_copy(fd->type, dst, slot);
        partner_update(db, row, f, true);
        if (f == c->uuid_field)
                db_index_put(&t->by_uuid, uuid_of(row), row);
        mark(db, row);
        return 0;
}

void db_touch(struct db *db, struct db_row *row)
{
        mark(db, row);
}
