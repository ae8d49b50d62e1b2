/* The journal's SQLite file: opening it (WAL, synchronous=FULL), the `meta` table and the
 * schema upgrade steps.
 *
 * Schema (version 1):
 *   meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)
 *       schema_version  version of the tables below
 *       generation      the store's generation at the last commit (event tokens)
 *   objects(ref TEXT PRIMARY KEY, class TEXT NOT NULL, created INTEGER NOT NULL,
 *           gen INTEGER NOT NULL, data BLOB)
 *       one row per persistent object: its created/modified generations (event.from tells
 *       add from mod by them) and its fields in the db_codec.h encoding
 *
 * A new version appends a step to the table in db_schema.c; opening an older file applies
 * every missing step in order inside one transaction (all or nothing), a newer file is
 * refused. */
#ifndef TS_XAPID_DB_SCHEMA_H
#define TS_XAPID_DB_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* One upgrade step to version TO: SQL (may be NULL) run first, then FN (may be NULL). */
struct db_schema_step {
        int to;
        const char *sql;
        int (*fn)(sqlite3 *s); /* 0 or negative errno */
};

extern const struct db_schema_step db_schema_steps[];
extern const size_t db_schema_n_steps;
#define DB_SCHEMA_VERSION 1

/* Opens (creating) the file at PATH in WAL mode with synchronous=FULL and brings its
 * schema up to date.  Returns 0 with *OUT (close with sqlite3_close), or a negative errno
 * (-ENOTSUP: written by a newer version). */
int db_schema_open(const char *path, sqlite3 **out);

/* Applies STEPS (sorted by .to) newer than the file's version, in one transaction.  Used by
 * db_schema_open with db_schema_steps; tests pass their own tables. */
int db_schema_upgrade(sqlite3 *s, const struct db_schema_step *steps, size_t n);

/* meta access: a missing key reads as 0. */
int db_meta_get(sqlite3 *s, const char *key, int64_t *value);
int db_meta_set(sqlite3 *s, const char *key, int64_t value);

/* Maps an SQLite result code to a negative errno (SQLITE_FULL → -ENOSPC, …). */
int db_sqlite_errno(int rc);

#endif
