/* The durable journal of the datamodel: every persistent row of a struct db mirrored in an
 * SQLite file (schema in db_schema.h, row encoding in db_codec.h), loaded at start and
 * kept up to date by group commits.
 *
 * Threads: everything here is called on the libevent loop thread that owns the db.  One
 * writer thread, owned by the journal, runs the SQLite transactions on serialized copies
 * of the rows and wakes the loop (eventfd) when a batch is durable.
 *
 * Group commit: a mutating call changes the db (db_insert/db_set/db_delete mark rows dirty
 * and report deletions through the db's delete hook, which the journal installs), then
 * calls db_journal_commit and answers its client only from DONE.  When no batch is being
 * written, the dirty rows and deletions are serialized at once and handed to the writer
 * (BEGIN; deletes; upserts; generation; COMMIT, fsync'ed by synchronous=FULL); while one is
 * being written, commits accumulate and the next batch takes everything dirty by the time
 * the current one completes.  So N concurrent callers share one fsync.
 *
 * Failure (disk full, I/O error, file size limit …): every DONE of the batch gets the
 * negative errno, the error is logged, the in-memory state stays as it is (clients that
 * read it see the change; it is not rolled back) and the batch's rows and deletions are
 * queued again, so the next commit retries them.  A caller that got an error may retry its
 * commit; once some later commit succeeds, the change is durable.
 *
 * Ownership: the journal borrows DB and BASE (both must outlive it) and owns the SQLite
 * connection, the writer thread and the batches. */
#ifndef TS_XAPID_DB_JOURNAL_H
#define TS_XAPID_DB_JOURNAL_H

#include <stdint.h>

struct db;
struct db_journal;
struct event_base;

/* Opens (creating) the journal at PATH (e.g. STATE_DIR "/state.db"), upgrades its schema,
 * loads every stored row into DB (which should be empty; derived sets are rebuilt and the
 * generation restored, so event tokens keep increasing across restarts), installs the
 * db's delete hook and starts the writer.  Rows of unknown or no longer persistent classes
 * are skipped (and stay in the file).  Returns 0 with *OUT, or a negative errno (-EBADMSG
 * for an undecodable row, -ENOTSUP for a file written by a newer version, -EEXIST for a
 * duplicate ref/uuid against rows already in DB). */
int db_journal_open(const char *path, struct db *db, struct event_base *base,
                    struct db_journal **out);

/* Makes every change made to the db so far durable, then calls DONE(result, ARG) from the
 * loop (never from within this call): result 0, or a negative errno (see above).  Returns
 * 0, or -ESHUTDOWN while closing (DONE is not called then). */
int db_journal_commit(struct db_journal *j, void (*done)(int result, void *arg), void *arg);

/* Waits for the batch being written, writes whatever is still dirty or waiting on this
 * thread, calls the pending DONEs, stops the writer, removes the delete hook and frees J
 * (NULL is fine).  Not from within a DONE.  Returns the result of the final write. */
int db_journal_close(struct db_journal *j);

struct db_journal_stats {
        uint64_t commits;         /* DONEs called */
        uint64_t failed_commits;  /* ... with result < 0 */
        uint64_t batches;         /* batches completed (each at most one transaction) */
        uint64_t transactions;    /* batches that wrote to SQLite (one fsync each) */
        uint64_t failed_batches;  /* transactions that failed */
        uint64_t rows_written;    /* upserts */
        uint64_t rows_deleted;    /* deletes */
        uint64_t max_batch;       /* most commits sharing one batch */
        double avg_batch;         /* commits per batch */
        uint64_t last_latency_us; /* commit latency: db_journal_commit → DONE */
        uint64_t avg_latency_us;
        uint64_t max_latency_us;
        uint64_t last_write_us; /* writer time of the last transaction (incl. fsync) */
        uint64_t max_write_us;
        uint64_t loaded_rows; /* rows loaded at open, and how long that took */
        uint64_t load_us;
        uint64_t file_size; /* bytes: the database file plus its WAL */
};

/* Fills OUT with counters since open. */
void db_journal_stats(struct db_journal *j, struct db_journal_stats *out);

#endif
