/* The in-memory datamodel store: one table per class, rows indexed by ref and by uuid,
 * generation counters for event.from, a bounded deletion log per class, and the bound
 * field pairs (VBD.VM ⇄ VM.VBDs …) kept consistent on every insert/set/delete.
 *
 * Single-threaded: only the libevent loop thread touches it (the journal's writer thread
 * works on serialized copies, see db_journal.c).  Rows and records are owned by the db;
 * pointers returned are borrowed until the row is deleted. */
#ifndef TS_XAPID_DB_H
#define TS_XAPID_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xapid/model.h"

struct db;
struct api_error;
struct rpc_writer;

struct db_row {
        const struct mclass *cls;
        char *ref; /* "OpaqueRef:<uuid>", owned */
        void *rec; /* struct api_<class>, owned; modify via db_set / then db_touch */
        uint64_t created, modified; /* generations */
        size_t pos;                 /* index in its table's row array */
        bool dirty;                 /* journal: changed since the last commit */
        struct db_row *next_dirty;
};

struct db_deletion {
        char *ref;
        uint64_t gen;     /* generation of the deletion */
        uint64_t created; /* the row's creation generation (created and gone: no event) */
};

int db_new(struct db **out);
void db_free(struct db *db); /* NULL is fine */

/* The generation of the latest change (0 for an empty db). */
uint64_t db_generation(const struct db *db);

/* Inserts REC (taken) under REF (copied; NULL: a fresh OpaqueRef).  An empty uuid field is
 * filled with a fresh uuid.  Returns 0, -EEXIST (ref or uuid taken). */
int db_insert(struct db *db, const struct mclass *c, const char *ref, void *rec,
              struct db_row **out);
/* Removes ROW (not cascading: rows referring to it keep the dangling ref, as in XAPI);
 * the row it names in bound fields drop it from their sets. */
void db_delete(struct db *db, struct db_row *row);

struct db_row *db_get(const struct db *db, const struct mclass *c, const char *ref);
struct db_row *db_get_any(const struct db *db, const char *ref); /* any class */
struct db_row *db_get_by_uuid(const struct db *db, const struct mclass *c, const char *uuid);
size_t db_count(const struct db *db, const struct mclass *c);
/* The I-th row of C (0 ≤ i < count): for iteration without mutation in between. */
struct db_row *db_row_at(const struct db *db, const struct mclass *c, size_t i);

/* Replaces field F of ROW with a copy of SLOT, maintaining bound pairs and indexes. */
int db_set(struct db *db, struct db_row *row, int f, const void *slot);
/* Marks ROW modified after an in-place change of non-bound, non-uuid fields. */
void db_touch(struct db *db, struct db_row *row);

/* Deletions of class C after generation SINCE: calls FN for each; returns false when the
 * log no longer reaches back to SINCE (the caller must resync: XAPI's events lost). */
bool db_deletions_since(const struct db *db, const struct mclass *c, uint64_t since,
                        void (*fn)(const struct db_deletion *d, void *arg), void *arg);
#define DB_DELETION_LOG 4096

/* Where-expressions (XAPI's db_filter grammar, see db_where.c). */
struct db_expr;
int db_expr_parse(const char *text, struct db_expr **out, char **errmsg); /* errmsg: caller frees */
void db_expr_free(struct db_expr *e);
/* Returns 1 match, 0 no match, -ENOENT when the expression names an unknown field. */
int db_expr_eval(const struct db_expr *e, const struct db_row *row);

/* Streaming get_all_records(_where): a cursor over a snapshot of refs.  Each step writes at
 * most MAX records ("ref": {record} members of an open struct) and returns 1 while more
 * remain, 0 when done.  Rows deleted meanwhile are skipped. */
struct db_cursor;
struct db_cursor *db_cursor_new(struct db *db, const struct mclass *c, struct db_expr *filter);
int db_cursor_step(struct db_cursor *cur, struct rpc_writer *w, size_t max);
void db_cursor_free(struct db_cursor *cur); /* also frees the filter */

/* Journal hook: ON_DELETE is called before a persistent row is freed (the journal records
 * its ref for the next commit).  ARG is borrowed. */
void db_set_delete_hook(struct db *db, void (*on_delete)(void *arg, const struct db_row *row),
                        void *arg);
/* Change hook (events): ON_CHANGE runs after every insert/set/touch (and for the target of a
 * bound pair whose set changed) with DELETED false, and before a row is freed with DELETED
 * true.  It must not modify the db.  ARG is borrowed; NULL ON_CHANGE removes the hook. */
void db_set_change_hook(struct db *db,
                        void (*on_change)(void *arg, const struct db_row *row, bool deleted),
                        void *arg);
/* Takes the list of dirty rows (their dirty flags cleared). */
struct db_row *db_take_dirty(struct db *db);
/* Loading: insert a row without marking it dirty; relations fixed by db_rebuild_derived. */
int db_load_row(struct db *db, const struct mclass *c, const char *ref, void *rec, uint64_t gen);
void db_rebuild_derived(struct db *db);
/* After loading: raises the generation to GEN (the journal's stored maximum, which also
 * counts deletions and changes of memory-only rows) and marks every deletion log as not
 * reaching back before GEN, so clients holding older tokens resync instead of silently
 * missing deletions that happened before the restart. */
void db_restore_generation(struct db *db, uint64_t gen);
/* Journal retry: puts ROW back on the dirty list without a new generation (its change
 * was not made durable, but clients were already told about it). */
void db_mark_dirty(struct db *db, struct db_row *row);

#endif
