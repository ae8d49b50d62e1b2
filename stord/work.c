/* The worker pool of stord (see work.h).  Workers take jobs from a FIFO under one mutex and
 * put finished ones on a done list; an eventfd wakes the loop, which runs their DONE. */
#include "stord/work.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

LOG_MODULE(work)

struct job {
        work_run_fn run;
        work_done_fn done;
        void *arg;
        struct job *next;
};

struct jobq {
        struct job *head, *tail;
};

struct work_pool {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct jobq todo, finished;
        pthread_t threads[WORK_MAX_THREADS];
        unsigned nthreads, idle, pending;
        bool stopping;
        int efd;
        struct event *ev;
};

static void q_push(struct jobq *q, struct job *j)
{
        j->next = NULL;
        if (q->tail != NULL)
                q->tail->next = j;
        else
                q->head = j;
        q->tail = j;
}

static struct job *q_pop(struct jobq *q)
{
        struct job *j = q->head;
        if (j != NULL) {
                q->head = j->next;
                if (q->head == NULL)
                        q->tail = NULL;
        }
        return j;
}

static void *worker(void *arg)
{
        struct work_pool *p = arg;
        pthread_mutex_lock(&p->mu);
        for (;;) {
                struct job *j = q_pop(&p->todo);
                if (j == NULL) {
                        if (p->stopping)
                                break;
                        p->idle++;
                        pthread_cond_wait(&p->cv, &p->mu);
                        p->idle--;
                        continue;
                }
                pthread_mutex_unlock(&p->mu);
                j->run(j->arg);
                pthread_mutex_lock(&p->mu);
                q_push(&p->finished, j);
                uint64_t one = 1;
                if (write(p->efd, &one, sizeof one) < 0 && errno != EAGAIN)
                        log_warn("waking the loop");
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

/* Runs the DONE of every finished job (loop thread). */
static void drain(struct work_pool *p)
{
        pthread_mutex_lock(&p->mu);
        struct jobq q = p->finished;
        p->finished.head = p->finished.tail = NULL;
        pthread_mutex_unlock(&p->mu);
        struct job *j;
        while ((j = q_pop(&q)) != NULL) {
                if (j->done != NULL)
                        j->done(j->arg);
                free(j);
                p->pending--;
        }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
        (void)what;
        uint64_t n;
        if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
                log_warn("reading the pool's eventfd");
        drain(arg);
}

int work_pool_new(struct event_base *base, struct work_pool **out)
{
        struct work_pool *p = calloc(1, sizeof(*p));
        if (p == NULL)
                return -ENOMEM;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->efd < 0) {
                int r = -errno;
                free(p);
                return r;
        }
        p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_wake, p);
        if (p->ev == NULL || event_add(p->ev, NULL) < 0) {
                if (p->ev != NULL)
                        event_free(p->ev);
                close(p->efd);
                free(p);
                return -ENOMEM;
        }
        *out = p;
        return 0;
}

int work_submit(struct work_pool *p, work_run_fn run, work_done_fn done, void *arg)
{
        struct job *j = calloc(1, sizeof(*j));
        if (j == NULL)
                return -ENOMEM;
        j->run = run;
        j->done = done;
        j->arg = arg;
        int r = 0;
        pthread_mutex_lock(&p->mu);
        /* a thread for this job unless one is idle (queued jobs count against the idle ones) */
        unsigned queued = 0;
        for (struct job *q = p->todo.head; q != NULL; q = q->next)
                queued++;
        if (p->idle <= queued && p->nthreads < WORK_MAX_THREADS) {
                r = -pthread_create(&p->threads[p->nthreads], NULL, worker, p);
                if (r == 0)
                        p->nthreads++;
                else if (p->nthreads > 0)
                        r = 0; /* the existing threads will get to it */
        }
        if (r == 0) {
                q_push(&p->todo, j);
                p->pending++;
                pthread_cond_signal(&p->cv);
        }
        pthread_mutex_unlock(&p->mu);
        if (r < 0)
                free(j);
        return r;
}

unsigned work_pending(const struct work_pool *p)
{
        return p != NULL ? p->pending : 0;
}

void work_pool_free(struct work_pool *p)
{
        if (p == NULL)
                return;
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (unsigned i = 0; i < p->nthreads; i++)
                pthread_join(p->threads[i], NULL);
        drain(p);
        event_free(p->ev);
        close(p->efd);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
}
