/* Long storage operations off stord's event loop: a small pool of worker threads.
 *
 * A job's RUN function executes on a worker thread (it may block for minutes: qemu-img
 * convert, a scan of a big SR); its DONE function then runs on the loop thread, where it may
 * reply on the message link.  Jobs start in submission order; the pool grows a thread when
 * every thread is busy (up to WORK_MAX_THREADS), so a long copy never delays an attach.
 * Serialisation of the operations of one SR is the drivers' business (driver.c takes a
 * per-SR lock around every driver call), not the pool's. */
#ifndef TS_STORD_WORK_H
#define TS_STORD_WORK_H

struct event_base;
struct work_pool;

#define WORK_MAX_THREADS 32

typedef void (*work_run_fn)(void *arg);  /* worker thread */
typedef void (*work_done_fn)(void *arg); /* loop thread, once RUN returned */

/* Creates an empty pool whose completions run on BASE.  Returns 0, -ENOMEM or -errno. */
int work_pool_new(struct event_base *base, struct work_pool **out);
/* Queues a job.  Returns 0 or -ENOMEM / -EAGAIN (no thread could be started). */
int work_submit(struct work_pool *p, work_run_fn run, work_done_fn done, void *arg);
/* Waits for the running and queued jobs, runs their DONE, stops the threads.  NULL is fine. */
void work_pool_free(struct work_pool *p);
/* Jobs submitted and not yet done (for status and tests). */
unsigned work_pending(const struct work_pool *p);

#endif
