/* SQLite file, meta table and schema upgrades of the journal (see db_schema.h). */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "xapid/db_schema.h"

LOG_MODULE(db_schema);

const struct db_schema_step db_schema_steps[] = {
    {1,
     "CREATE TABLE objects(ref TEXT PRIMARY KEY, class TEXT NOT NULL,"
     " created INTEGER NOT NULL, gen INTEGER NOT NULL, data BLOB);"
     "INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', 0);",
     NULL},
};
const size_t db_schema_n_steps = sizeof(db_schema_steps) / sizeof(db_schema_steps[0]);

int db_sqlite_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_TOOBIG:
                return -E2BIG;
        default:
                return -EIO;
        }
}

static int exec(sqlite3 *s, const char *sql)
{
        char *msg = NULL;
        int rc = sqlite3_exec(s, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                log_errx("%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return db_sqlite_errno(rc);
        }
        return 0;
}

int db_meta_get(sqlite3 *s, const char *key, int64_t *value)
{
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_sqlite_errno(rc);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        *value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_sqlite_errno(rc);
}

int db_meta_set(sqlite3 *s, const char *key, int64_t value)
{
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", -1,
                                    &st, NULL);
        if (rc != SQLITE_OK)
                return db_sqlite_errno(rc);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, value);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_sqlite_errno(rc);
}

int db_schema_upgrade(sqlite3 *s, const struct db_schema_step *steps, size_t n)
{
        /* IMMEDIATE: take the write lock before reading the version, so two openers cannot
         * both decide to upgrade. */
        int r = exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        int64_t version;
        if ((r = exec(s, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY,"
                         " value INTEGER NOT NULL)")) < 0 ||
            (r = db_meta_get(s, "schema_version", &version)) < 0)
                goto fail;
        int latest = n ? steps[n - 1].to : 0;
        if (version > latest) {
                log_errx("the state database has schema version %lld, this build knows %d",
                         (long long)version, latest);
                r = -ENOTSUP;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                if (steps[i].to <= version)
                        continue;
                log_notice("upgrading the state database to schema version %d", steps[i].to);
                if (steps[i].sql && (r = exec(s, steps[i].sql)) < 0)
                        goto fail;
                if (steps[i].fn && (r = steps[i].fn(s)) < 0) {
                        log_errx("schema upgrade step %d failed: %s", steps[i].to, strerror(-r));
                        goto fail;
                }
                if ((r = db_meta_set(s, "schema_version", steps[i].to)) < 0)
                        goto fail;
        }
        return exec(s, "COMMIT");
fail:
        sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int db_schema_open(const char *path, sqlite3 **out)
{
        sqlite3 *s;
        int rc = sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (rc != SQLITE_OK) {
                log_errx("%s: %s", path, s ? sqlite3_errmsg(s) : sqlite3_errstr(rc));
                sqlite3_close(s);
                return db_sqlite_errno(rc);
        }
        sqlite3_extended_result_codes(s, 1);
        sqlite3_busy_timeout(s, 5000);
        /* WAL: a commit appends to the log and fsyncs it once (synchronous=FULL); readers
         * (sqlite3 CLI while we run) do not block the writer. */
        sqlite3_stmt *st;
        int r = 0;
        rc = sqlite3_prepare_v2(s, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
                const char *mode = (const char *)sqlite3_column_text(st, 0);
                if (!mode || strcmp(mode, "wal") != 0) {
                        log_errx("%s: cannot use WAL mode (got %s)", path, mode ? mode : "?");
                        r = -ENOTSUP;
                }
        } else {
                log_errx("%s: %s", path, sqlite3_errmsg(s));
                r = db_sqlite_errno(sqlite3_errcode(s));
                if (!r)
                        r = -EIO;
        }
        sqlite3_finalize(st);
        if (r == 0)
                r = exec(s, "PRAGMA synchronous=FULL");
        /* A large batch grows the WAL; after the next checkpoint shrink it back to this. */
        if (r == 0)
                r = exec(s, "PRAGMA journal_size_limit=16777216");
        if (r == 0)
                r = db_schema_upgrade(s, db_schema_steps, db_schema_n_steps);
        if (r < 0) {
                sqlite3_close(s);
                return r;
        }
        *out = s;
        return 0;
}
