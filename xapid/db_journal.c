/* Group commit of the datamodel to SQLite (see db_journal.h): batches built on the loop
 * thread, written by one writer thread, completed back on the loop through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "common/log.h"
#include "xapid/db.h"
#include "xapid/db_codec.h"
#include "xapid/db_journal.h"
#include "xapid/db_schema.h"

LOG_MODULE(db_journal);

struct waiter {
        void (*done)(int result, void *arg);
        void *arg;
        uint64_t t0; /* µs, when db_journal_commit was called */
};

/* One serialized row: everything the writer needs, nothing shared with the db. */
struct jrow {
        char *ref;
        const char *cls; /* static class name */
        int64_t created, gen;
        uint8_t *data;
        size_t len;
};

struct batch {
        struct jrow *rows;
        size_t n_rows;
        char **dels;
        size_t n_dels;
        struct waiter *w;
        size_t n_w;
        uint64_t gen;   /* the db's generation when the batch was taken */
        bool write_gen; /* meta.generation needs updating */
        /* filled by the writer */
        int result;
        char *errmsg;
        uint64_t write_us;
};

struct db_journal {
        struct db *db;
        sqlite3 *s;
        char *path;
        sqlite3_stmt *st_put, *st_del, *st_gen;
        struct event *ev;
        int efd;

        /* loop ⇄ writer hand-off, under lock */
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct batch *todo, *finished;
        bool stop;

        /* loop thread only */
        bool busy;    /* a batch is with the writer, or its DONEs are running */
        bool closing; /* commits are refused */
        struct waiter *pend;
        size_t n_pend, cap_pend;
        char **dels;
        size_t n_dels, cap_dels;
        uint64_t written_gen; /* generation durable in meta */
        struct db_journal_stats st;
        uint64_t latency_sum;
};

static uint64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                abort();
        return p;
}

static void queue_deletion(struct db_journal *j, char *ref)
{
        if (j->n_dels == j->cap_dels) {
                j->cap_dels = j->cap_dels ? 2 * j->cap_dels : 16;
                j->dels = xrealloc(j->dels, j->cap_dels * sizeof(*j->dels));
        }
        j->dels[j->n_dels++] = ref;
}

static void on_delete(void *arg, const struct db_row *row)
{
        char *ref = strdup(row->ref);
        if (!ref)
                abort();
        queue_deletion(arg, ref);
}

static void batch_free(struct batch *b)
{
        for (size_t i = 0; i < b->n_rows; i++) {
                free(b->rows[i].ref);
                free(b->rows[i].data);
        }
        free(b->rows);
        for (size_t i = 0; i < b->n_dels; i++)
                free(b->dels[i]);
        free(b->dels);
        free(b->w);
        free(b->errmsg);
        free(b);
}

/* Loop thread: serializes what is dirty, takes the queued deletions and waiters. */
static struct batch *take_batch(struct db_journal *j)
{
        struct batch *b = calloc(1, sizeof(*b));
        if (!b)
                abort();
        struct db_row *dirty = db_take_dirty(j->db);
        size_t n = 0;
        for (struct db_row *r = dirty; r; r = r->next_dirty)
                n++;
        b->rows = xrealloc(NULL, n * sizeof(*b->rows));
        for (struct db_row *r = dirty; r; r = r->next_dirty) {
                struct jrow *jr = &b->rows[b->n_rows++];
                jr->ref = strdup(r->ref);
                jr->cls = r->cls->name;
                jr->created = (int64_t)r->created;
                jr->gen = (int64_t)r->modified;
                if (!jr->ref || db_codec_encode(r->cls, r->rec, &jr->data, &jr->len) < 0)
                        abort(); /* out of memory, as everywhere else in the store */
        }
        b->dels = j->dels;
        b->n_dels = j->n_dels;
        j->dels = NULL;
        j->n_dels = j->cap_dels = 0;
        b->w = j->pend;
        b->n_w = j->n_pend;
        j->pend = NULL;
        j->n_pend = j->cap_pend = 0;
        b->gen = db_generation(j->db);
        b->write_gen = b->gen != j->written_gen;
        return b;
}

static int step_reset(sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Writer thread (or the loop thread once the writer has stopped): one transaction.
 * Deletions go first: a ref deleted and then created again within the batch ends up
 * stored, and a row in b->rows was alive when the batch was taken. */
static void write_batch(struct db_journal *j, struct batch *b)
{
        if (!b->n_rows && !b->n_dels && !b->write_gen)
                return;
        uint64_t t0 = now_us();
        int rc = sqlite3_exec(j->s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        for (size_t i = 0; rc == SQLITE_OK && i < b->n_dels; i++) {
                sqlite3_bind_text(j->st_del, 1, b->dels[i], -1, SQLITE_STATIC);
                rc = step_reset(j->st_del);
        }
        for (size_t i = 0; rc == SQLITE_OK && i < b->n_rows; i++) {
                const struct jrow *r = &b->rows[i];
                sqlite3_bind_text(j->st_put, 1, r->ref, -1, SQLITE_STATIC);
                sqlite3_bind_text(j->st_put, 2, r->cls, -1, SQLITE_STATIC);
                sqlite3_bind_int64(j->st_put, 3, r->created);
                sqlite3_bind_int64(j->st_put, 4, r->gen);
                sqlite3_bind_blob(j->st_put, 5, r->data, (int)r->len, SQLITE_STATIC);
                rc = step_reset(j->st_put);
        }
        if (rc == SQLITE_OK && b->write_gen) {
                sqlite3_bind_int64(j->st_gen, 1, (int64_t)b->gen);
                rc = step_reset(j->st_gen);
        }
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(j->s, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                b->result = db_sqlite_errno(rc);
                if (!b->result)
                        b->result = -EIO;
                if (asprintf(&b->errmsg, "%s (sqlite code %d)", sqlite3_errmsg(j->s), rc) < 0)
                        b->errmsg = NULL;
                if (!sqlite3_get_autocommit(j->s))
                        sqlite3_exec(j->s, "ROLLBACK", NULL, NULL, NULL);
        }
        b->write_us = now_us() - t0;
}

static void *writer_main(void *arg)
{
        struct db_journal *j = arg;
        for (;;) {
                pthread_mutex_lock(&j->lock);
                while (!j->todo && !j->stop)
                        pthread_cond_wait(&j->cond, &j->lock);
                struct batch *b = j->todo;
                j->todo = NULL;
                pthread_mutex_unlock(&j->lock);
                if (!b)
                        return NULL; /* stopping, nothing left */
                write_batch(j, b);
                pthread_mutex_lock(&j->lock);
                j->finished = b;
                pthread_mutex_unlock(&j->lock);
                uint64_t one = 1;
                while (write(j->efd, &one, sizeof(one)) < 0 && errno == EINTR)
                        ;
        }
}

/* Loop thread: accounting, retry queueing on failure, then every DONE of the batch. */
static void finish_batch(struct db_journal *j, struct batch *b)
{
        struct db_journal_stats *st = &j->st;
        uint64_t now = now_us();
        st->batches++;
        if (b->n_rows || b->n_dels || b->write_gen) {
                st->transactions++;
                st->last_write_us = b->write_us;
                if (b->write_us > st->max_write_us)
                        st->max_write_us = b->write_us;
        }
        if (b->result < 0) {
                st->failed_batches++;
                log_errx("commit of %zu rows and %zu deletions failed: %s (%s); will retry",
                         b->n_rows, b->n_dels, b->errmsg ? b->errmsg : "?", strerror(-b->result));
                /* Rows still alive go back on the dirty list (without a new generation);
                 * rows deleted since are already queued as deletions. */
                for (size_t i = 0; i < b->n_rows; i++) {
                        struct db_row *row = db_get_any(j->db, b->rows[i].ref);
                        if (row && strcmp(row->cls->name, b->rows[i].cls) == 0)
                                db_mark_dirty(j->db, row);
                }
                for (size_t i = 0; i < b->n_dels; i++) {
                        queue_deletion(j, b->dels[i]);
                        b->dels[i] = NULL;
                }
        } else {
                st->rows_written += b->n_rows;
                st->rows_deleted += b->n_dels;
                if (b->gen > j->written_gen)
                        j->written_gen = b->gen;
        }
        if (b->n_w > st->max_batch)
                st->max_batch = b->n_w;
        /* DONEs may commit again: they accumulate (busy stays set) into the next batch. */
        j->busy = true;
        for (size_t i = 0; i < b->n_w; i++) {
                uint64_t lat = now - b->w[i].t0;
                st->commits++;
                st->failed_commits += b->result < 0;
                st->last_latency_us = lat;
                if (lat > st->max_latency_us)
                        st->max_latency_us = lat;
                j->latency_sum += lat;
                b->w[i].done(b->result, b->w[i].arg);
        }
        j->busy = false;
        batch_free(b);
}

static void hand_over(struct db_journal *j)
{
        struct batch *b = take_batch(j);
        j->busy = true;
        pthread_mutex_lock(&j->lock);
        j->todo = b;
        pthread_cond_signal(&j->cond);
        pthread_mutex_unlock(&j->lock);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
        struct db_journal *j = arg;
        uint64_t v;
        if (read(j->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_warn("journal eventfd");
        pthread_mutex_lock(&j->lock);
        struct batch *b = j->finished;
        j->finished = NULL;
        pthread_mutex_unlock(&j->lock);
        if (!b)
                return;
        finish_batch(j, b);
        if (j->n_pend && !j->closing)
                hand_over(j);
}

int db_journal_commit(struct db_journal *j, void (*done)(int result, void *arg), void *arg)
{
        if (j->closing)
                return -ESHUTDOWN;
        if (j->n_pend == j->cap_pend) {
                j->cap_pend = j->cap_pend ? 2 * j->cap_pend : 16;
                j->pend = xrealloc(j->pend, j->cap_pend * sizeof(*j->pend));
        }
        j->pend[j->n_pend++] = (struct waiter){done, arg, now_us()};
        /* DONE must not run inside this call even if the batch were empty: the writer
         * always answers through the loop. */
        if (!j->busy)
                hand_over(j);
        return 0;
}

void db_journal_stats(struct db_journal *j, struct db_journal_stats *out)
{
        *out = j->st;
        out->avg_batch = j->st.batches ? (double)j->st.commits / (double)j->st.batches : 0;
        out->avg_latency_us = j->st.commits ? j->latency_sum / j->st.commits : 0;
        struct stat sb;
        out->file_size = stat(j->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        char wal[4096];
        snprintf(wal, sizeof(wal), "%s-wal", j->path);
        if (stat(wal, &sb) == 0)
                out->file_size += (uint64_t)sb.st_size;
}

/* ---- open / load / close -------------------------------------------------------------- */

static int load(struct db_journal *j)
{
        uint64_t t0 = now_us();
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(j->s, "SELECT ref, class, created, gen, data FROM objects", -1,
                                    &st, NULL);
        if (rc != SQLITE_OK)
                return db_sqlite_errno(rc);
        const struct mclass *c = NULL;
        size_t skipped = 0, n_created = 0, cap_created = 0;
        struct {
                struct db_row *row;
                uint64_t created;
        } *created_of = NULL;
        int r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *ref = (const char *)sqlite3_column_text(st, 0);
                const char *cls = (const char *)sqlite3_column_text(st, 1);
                int64_t created = sqlite3_column_int64(st, 2);
                int64_t gen = sqlite3_column_int64(st, 3);
                const uint8_t *data = sqlite3_column_blob(st, 4);
                size_t len = (size_t)sqlite3_column_bytes(st, 4);
                if (!ref || !cls) {
                        r = -EBADMSG;
                        break;
                }
                if (!c || strcmp(c->name, cls) != 0)
                        c = model_class_by_name(cls);
                if (!c || !c->persistent || !c->table) {
                        skipped++;
                        log_debug("%s: class %s not stored any more, row skipped", ref, cls);
                        continue;
                }
                void *rec;
                if ((r = db_codec_decode(c, data ? data : (const uint8_t *)"", len, &rec)) < 0) {
                        log_errx("%s (%s): undecodable row in %s", ref, cls, j->path);
                        break;
                }
                if ((r = db_load_row(j->db, c, ref, rec, gen > 0 ? (uint64_t)gen : 0)) < 0) {
                        log_errx("%s (%s): %s", ref, cls, strerror(-r));
                        model_record_free(c, rec);
                        break;
                }
                /* db_load_row sets both generations to GEN (and db_rebuild_derived relies
                 * on it): the creation generation is restored afterwards, so that
                 * event.from keeps telling add from mod. */
                if (created >= 0 && created < gen) {
                        if (n_created == cap_created) {
                                cap_created = cap_created ? 2 * cap_created : 256;
                                created_of =
                                    xrealloc(created_of, cap_created * sizeof(*created_of));
                        }
                        created_of[n_created].row = db_get(j->db, c, ref);
                        created_of[n_created++].created = (uint64_t)created;
                }
                j->st.loaded_rows++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_sqlite_errno(rc) ? db_sqlite_errno(rc) : -EIO;
        sqlite3_finalize(st);
        if (r < 0) {
                free(created_of);
                return r;
        }
        if (skipped)
                log_warnx("%zu stored rows of unknown or memory-only classes skipped", skipped);
        db_rebuild_derived(j->db);
        for (size_t i = 0; i < n_created; i++)
                created_of[i].row->created = created_of[i].created;
        free(created_of);
        int64_t gen;
        if ((r = db_meta_get(j->s, "generation", &gen)) < 0)
                return r;
        db_restore_generation(j->db, gen > 0 ? (uint64_t)gen : 0);
        j->written_gen = db_generation(j->db);
        j->st.load_us = now_us() - t0;
        log_info("loaded %llu rows from %s in %llu ms, generation %llu",
                 (unsigned long long)j->st.loaded_rows, j->path,
                 (unsigned long long)j->st.load_us / 1000,
                 (unsigned long long)db_generation(j->db));
        return 0;
}

static void release(struct db_journal *j)
{
        if (j->ev)
                event_free(j->ev);
        if (j->efd >= 0)
                close(j->efd);
        sqlite3_finalize(j->st_put);
        sqlite3_finalize(j->st_del);
        sqlite3_finalize(j->st_gen);
        if (j->s && sqlite3_close(j->s) != SQLITE_OK)
                log_warnx("%s: close: %s", j->path, sqlite3_errmsg(j->s));
        for (size_t i = 0; i < j->n_dels; i++)
                free(j->dels[i]);
        free(j->dels);
        free(j->pend);
        free(j->path);
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->cond);
        free(j);
}

int db_journal_open(const char *path, struct db *db, struct event_base *base,
                    struct db_journal **out)
{
        struct db_journal *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->db = db;
        j->efd = -1;
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);
        int r;
        if (!(j->path = strdup(path))) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = db_schema_open(path, &j->s)) < 0)
                goto fail;
        const char *sql[] = {
            "INSERT OR REPLACE INTO objects(ref, class, created, gen, data) VALUES (?, ?, ?, ?, ?)",
            "DELETE FROM objects WHERE ref = ?",
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('generation', ?)",
        };
        sqlite3_stmt **sts[] = {&j->st_put, &j->st_del, &j->st_gen};
        for (size_t i = 0; i < 3; i++) {
                int rc =
                    sqlite3_prepare_v3(j->s, sql[i], -1, SQLITE_PREPARE_PERSISTENT, sts[i], NULL);
                if (rc != SQLITE_OK) {
                        log_errx("%s: %s", path, sqlite3_errmsg(j->s));
                        r = db_sqlite_errno(rc);
                        goto fail;
                }
        }
        if ((r = load(j)) < 0)
                goto fail;
        j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (j->efd < 0) {
                r = -errno;
                goto fail;
        }
        j->ev = event_new(base, j->efd, EV_READ | EV_PERSIST, on_wake, j);
        if (!j->ev || event_add(j->ev, NULL) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = -pthread_create(&j->thread, NULL, writer_main, j)) < 0)
                goto fail;
        db_set_delete_hook(db, on_delete, j);
        *out = j;
        return 0;
fail:
        log_errx("cannot open the state database %s: %s", path, strerror(-r));
        release(j);
        return r;
}

int db_journal_close(struct db_journal *j)
{
        if (!j)
                return 0;
        j->closing = true;
        pthread_mutex_lock(&j->lock);
        j->stop = true;
        pthread_cond_signal(&j->cond);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->thread, NULL);
        if (j->finished) {
                struct batch *b = j->finished;
                j->finished = NULL;
                finish_batch(j, b);
        }
        /* The rest on this thread: what accumulated, what is dirty, what failed before. */
        struct batch *b = take_batch(j);
        write_batch(j, b);
        int r = b->result;
        finish_batch(j, b);
        db_set_delete_hook(j->db, NULL, NULL);
        release(j);
        return r;
}
