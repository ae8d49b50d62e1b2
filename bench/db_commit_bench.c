/* Durable commits per second of the datamodel journal with N concurrent logical writers
 * (each: a name_label change + db_journal_commit, the next only after its DONE), and the
 * time to load 10,000 VM rows at start.
 *
 * Usage: db_commit_bench [-d DIR] [-w WRITERS] [-n COMMITS] [-r ROWS]
 * DIR defaults to a fresh directory under $TMPDIR (or /tmp), removed at the end: put it on
 * the disk whose fsync you want to measure. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "api/model_gen.h"
#include "common/log.h"
#include "xapid/db.h"
#include "xapid/db_codec.h"
#include "xapid/db_journal.h"

LOG_MODULE(db_commit_bench);

struct run {
        struct db *db;
        struct db_journal *j;
        struct db_row **vms;
        int writers, issued, completed, failed, total;
};

struct writer {
        struct run *run;
        int idx, seq;
};

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void writer_done(int result, void *arg);

static void writer_step(struct writer *w)
{
        struct run *r = w->run;
        if (r->issued >= r->total)
                return;
        r->issued++;
        char label[48];
        snprintf(label, sizeof(label), "writer %d change %d", w->idx, ++w->seq);
        char *v = label;
        if (db_set(r->db, r->vms[w->idx], API_VM_F_name_label, &v) < 0 ||
            db_journal_commit(r->j, writer_done, w) < 0)
                fatalx("mutation failed");
}

static void writer_done(int result, void *arg)
{
        struct writer *w = arg;
        w->run->completed++;
        w->run->failed += result < 0;
        writer_step(w);
}

static void start(evutil_socket_t fd, short what, void *arg)
{
        struct writer *ws = arg;
        for (int i = 0; i < ws[0].run->writers; i++)
                writer_step(&ws[i]);
}

static void done_flag(int result, void *arg)
{
        *(int *)arg = result < 0 ? result : 1;
}

static void wait_commit(struct event_base *base, struct db_journal *j)
{
        int flag = 0;
        if (db_journal_commit(j, done_flag, &flag) < 0)
                fatalx("commit refused");
        while (!flag)
                event_base_loop(base, EVLOOP_ONCE);
        if (flag < 0)
                fatalx("commit failed: %s", strerror(-flag));
}

static struct db_row *add_vm(struct db *db, int i)
{
        struct api_VM *vm = model_record_new(&mclass_VM);
        free(vm->name_label);
        if (asprintf(&vm->name_label, "bench VM %d", i) < 0)
                abort();
        /* a realistic amount of map content */
        const struct mtype *mt = mclass_VM.fields[API_VM_F_other_config].type;
        char k[32], v[64];
        char *kp = k, *vp = v;
        for (int n = 0; n < 6; n++) {
                snprintf(k, sizeof(k), "key-%d", n);
                snprintf(v, sizeof(v), "value-%d-of-vm-%d", n, i);
                mmap_put(mt, &vm->other_config, &kp, &vp);
                mmap_put(mt, &vm->platform, &kp, &vp);
        }
        vm->memory_static_max = vm->memory_dynamic_max = 4LL << 30;
        vm->VCPUs_max = vm->VCPUs_at_startup = 4;
        struct db_row *row;
        if (db_insert(db, &mclass_VM, NULL, vm, &row) < 0)
                fatalx("insert");
        return row;
}

static void commit_rate(const char *path, struct event_base *base, int writers, int total)
{
        struct run r = {.writers = writers, .total = total};
        if (db_new(&r.db) < 0 || db_journal_open(path, r.db, base, &r.j) < 0)
                fatalx("cannot open %s", path);
        r.vms = calloc((size_t)writers, sizeof(*r.vms));
        struct writer *ws = calloc((size_t)writers, sizeof(*ws));
        for (int i = 0; i < writers; i++) {
                r.vms[i] = add_vm(r.db, i);
                ws[i] = (struct writer){&r, i, 0};
        }
        wait_commit(base, r.j);
        struct db_journal_stats s0, s;
        db_journal_stats(r.j, &s0);
        double t0 = now_s();
        event_base_once(base, -1, EV_TIMEOUT, start, ws, NULL);
        while (r.completed < total)
                event_base_loop(base, EVLOOP_ONCE);
        double dt = now_s() - t0;
        db_journal_stats(r.j, &s);
        uint64_t batches = s.batches - s0.batches;
        printf("%2d writers: %6d durable commits in %.2f s = %8.0f commits/s; %llu batches "
               "(%.1f commits each), latency avg %llu us max %llu us, fsync'ed write max %llu "
               "us, %d failed\n",
               writers, total, dt, total / dt, (unsigned long long)batches,
               batches ? (double)total / (double)batches : 0.0,
               (unsigned long long)s.avg_latency_us, (unsigned long long)s.max_latency_us,
               (unsigned long long)s.max_write_us, r.failed);
        if (db_journal_close(r.j) < 0)
                fatalx("close");
        db_free(r.db);
        free(r.vms);
        free(ws);
        unlink(path);
}

static void load_time(const char *path, struct event_base *base, int rows)
{
        struct db *db;
        struct db_journal *j;
        if (db_new(&db) < 0 || db_journal_open(path, db, base, &j) < 0)
                fatalx("cannot open %s", path);
        for (int i = 0; i < rows; i++)
                add_vm(db, i);
        double t0 = now_s();
        wait_commit(base, j);
        double dt_write = now_s() - t0;
        struct db_journal_stats s;
        if (db_journal_close(j) < 0)
                fatalx("close");
        db_free(db);

        if (db_new(&db) < 0)
                fatalx("db_new");
        t0 = now_s();
        if (db_journal_open(path, db, base, &j) < 0)
                fatalx("cannot reopen %s", path);
        double dt_load = now_s() - t0;
        db_journal_stats(j, &s); /* the file as loaded: checkpointed, no WAL */
        if (db_count(db, &mclass_VM) != (size_t)rows)
                fatalx("loaded %zu rows, expected %d", db_count(db, &mclass_VM), rows);
        printf("%d VM rows: one commit of all in %.0f ms; file %.1f MiB (%.0f bytes/row); "
               "open+load %.0f ms (%.1f us/row)\n",
               rows, dt_write * 1e3, (double)s.file_size / (1 << 20), (double)s.file_size / rows,
               dt_load * 1e3, dt_load * 1e6 / rows);
        db_journal_close(j);
        db_free(db);
}

int main(int argc, char **argv)
{
        const char *dir = NULL;
        int writers = 16, total = 20000, rows = 10000, opt;
        while ((opt = getopt(argc, argv, "d:w:n:r:")) != -1) {
                switch (opt) {
                case 'd':
                        dir = optarg;
                        break;
                case 'w':
                        writers = atoi(optarg);
                        break;
                case 'n':
                        total = atoi(optarg);
                        break;
                case 'r':
                        rows = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: %s [-d DIR] [-w WRITERS] [-n COMMITS] [-r ROWS]\n",
                                argv[0]);
                        return 2;
                }
        }
        if (writers < 1 || total < 1 || rows < 1)
                fatalx("bad arguments");
        log_init("db_commit_bench");
        log_set_level(NULL, LOG_WARNING);
        char tmp[256], path[320];
        if (!dir) {
                const char *t = getenv("TMPDIR");
                snprintf(tmp, sizeof(tmp), "%s/db_commit_bench.XXXXXX", t ? t : "/tmp");
                if (!mkdtemp(tmp))
                        fatal("mkdtemp");
        }
        snprintf(path, sizeof(path), "%s/state.db", dir ? dir : tmp);
        struct event_base *base = event_base_new();
        if (!base)
                fatalx("event_base_new");
        /* one writer for comparison (one fsync per commit), then the group */
        commit_rate(path, base, 1, total / 10 > 0 ? total / 10 : 1);
        commit_rate(path, base, writers, total);
        load_time(path, base, rows);
        unlink(path);
        if (!dir)
                rmdir(tmp);
        event_base_free(base);
        return 0;
}
