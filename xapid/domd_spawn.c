/* Starting and reaping domd processes (see domd_spawn.h).
 *
 * The exec happens on a thread of its own: posix_spawn suspends its caller until the child
 * has exec'd, milliseconds that xapid's event loop should not wait (a boot storm starts a
 * thousand domds).  The children list is shared with the SIGCHLD handler under a mutex;
 * an entry exists (pid 0) from the request on, so a second request for the same VM sees
 * it.
 *
 * Spares are children too, named "spare-XXXXXXXX" (random) instead of a VM uuid, ready once
 * their Hello arrived.  A take renames the entry after the VM, so from then on it is that
 * VM's domd for domd_spawn_running() and the exit report.  The pool is refilled from a timer
 * on the loop: after a take (the exec then runs on the spawning thread, not in the call), and
 * a while after a spare died (so a domd that cannot start does not spin).
 *
 * A child can exit, and be reaped (by the SIGCHLD handler, or by the zygote, which reports
 * it), before the spawning thread has recorded its pid (posix_spawn returns after the exec;
 * a domd failing at once may be gone by then).  While a spawn is in flight (pid -1), the
 * loop therefore keeps the pids it cannot match as orphans; the thread, recording a pid
 * found among them, marks the entry reaped and raises SIGCHLD so that the exit is reported
 * on the loop like any other. */
#include "xapid/domd_spawn.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uuid.h"
#include "domd/zygote.h"
#include "xapid/domd_zygote.h"

LOG_MODULE(domd_spawn)

extern char **environ;

struct child {
        pid_t pid; /* 0 until the thread has spawned it */
        unsigned long seq;
        char uuid[UUID_STR_LEN]; /* the VM, or the spare's name */
        bool via_systemctl;
        bool spare;  /* not taken yet */
        bool ready;  /* spare: it said Hello */
        bool reaped; /* exited before its pid was recorded; report pending */
        int status;  /* of the reaped exit */
};

struct orphan {
        pid_t pid;
        int status;
};

struct domd_spawner {
        struct event *sigchld;
        int exits[2]; /* the zygote's exit reports: read end (loop), write end (zygotes) */
        struct event *exits_ev;
        char *path;
        char *config;
        bool use_systemd;
        struct domd_zygote *zygote; /* NULL: exec each domd */
        char **overrides;
        size_t n_overrides;
        void (*exited)(void *arg, const char *uuid, int status);
        void *arg;
        pthread_mutex_t lock; /* children, queue, stop */
        pthread_cond_t wake;
        struct child *children;
        size_t n_children, cap;
        unsigned long next_seq;
        size_t queued; /* entries with pid 0 not yet spawned */
        /* reaped while a spawn was in flight, pid not known yet */
        struct orphan *orphans;
        size_t n_orphans, orphans_cap;
        bool stop;
        pthread_t thread;
        bool have_thread;
        /* spares (loop thread) */
        struct event *refill;
        unsigned spare_target;
};

#define SPARE_REFILL_MS   0    /* after a take: back-to-back starts outrun a later refill */
#define SPARE_RESPAWN_MS  1000 /* after a spare died */
#define SPARE_NAME_PREFIX "spare-"
#define SPARE_NAME_HEX    8

/* A domd's start: its own session, so that it outlives xapid and its terminal; no blocked
 * signals and default dispositions for those xapid handles; stdin from /dev/null. */
void domd_spawn_attrs(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa)
{
        sigset_t none, def;
        sigemptyset(&none);
        sigemptyset(&def);
        sigaddset(&def, SIGCHLD);
        sigaddset(&def, SIGTERM);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGPIPE);
        posix_spawnattr_init(attr);
        posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                           POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(attr, &none);
        posix_spawnattr_setsigdefault(attr, &def);
        posix_spawn_file_actions_init(fa);
        posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
}

static void spawn_one(struct domd_spawner *s, const char *uuid, bool spare, pid_t *pid_out)
{
        const char *argv[64];
        size_t n = 0;
        char unit[64];
        struct stat st;
        if (s->use_systemd && !spare) {
                snprintf(unit, sizeof(unit), "domd@%s.service", uuid);
                argv[n++] = "systemctl";
                argv[n++] = "start";
                argv[n++] = "--no-block";
                argv[n++] = unit;
        } else {
                argv[n++] = s->path;
                argv[n++] = "--vm";
                argv[n++] = uuid;
                if (s->config != NULL && s->config[0] && stat(s->config, &st) == 0) {
                        argv[n++] = "-c";
                        argv[n++] = s->config;
                }
                for (size_t i = 0; i < s->n_overrides && n < 60; i++) {
                        argv[n++] = "-o";
                        argv[n++] = s->overrides[i];
                }
        }
        argv[n] = NULL;
        if (s->zygote != NULL && !(s->use_systemd && !spare)) {
                int r = domd_zygote_spawn(s->zygote, argv, pid_out);
                if (r == 0) {
                        log_info("domd %s forked by the zygote (pid %ld)", uuid, (long)*pid_out);
                        return;
                }
                if (r != -EAGAIN)
                        log_info("domd zygote failed for %s (%s): exec instead", uuid,
                                 strerror(-r));
        }
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t fa;
        domd_spawn_attrs(&attr, &fa);
        int e = s->use_systemd && !spare
                    ? posix_spawnp(pid_out, argv[0], &fa, &attr, (char *const *)argv, environ)
                    : posix_spawn(pid_out, argv[0], &fa, &attr, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (e != 0) {
                *pid_out = -1;
                log_warnx("cannot start %s for vm %s: %s", argv[0], uuid, strerror(e));
        }
}

static void remove_at(struct domd_spawner *s, size_t i)
{
        s->children[i] = s->children[--s->n_children];
}

/* Removes PID from the orphans (the lock held); true, with its STATUS, if it was there. */
static bool take_orphan(struct domd_spawner *s, pid_t pid, int *status)
{
        for (size_t i = 0; i < s->n_orphans; i++)
                if (s->orphans[i].pid == pid) {
                        *status = s->orphans[i].status;
                        s->orphans[i] = s->orphans[--s->n_orphans];
                        return true;
                }
        return false;
}

/* Keeps PID as an orphan if a spawn is in flight (the lock held). */
static void keep_orphan(struct domd_spawner *s, pid_t pid, int status)
{
        bool in_flight = false;
        for (size_t i = 0; i < s->n_children && !in_flight; i++)
                in_flight = s->children[i].pid == -1;
        if (!in_flight)
                return;
        if (s->n_orphans == s->orphans_cap) {
                size_t cap = s->orphans_cap ? s->orphans_cap * 2 : 8;
                struct orphan *o = realloc(s->orphans, cap * sizeof(*o));
                if (o == NULL) {
                        log_warnx("cannot remember reaped pid %ld", (long)pid);
                        return;
                }
                s->orphans = o;
                s->orphans_cap = cap;
        }
        s->orphans[s->n_orphans++] = (struct orphan){pid, status};
}

static void *spawn_thread(void *arg)
{
        struct domd_spawner *s = arg;
        /* SIGCHLD and the others are for the loop thread */
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (!s->stop && s->queued == 0)
                        pthread_cond_wait(&s->wake, &s->lock);
                if (s->stop)
                        break;
                /* the oldest request */
                size_t at = s->n_children;
                for (size_t i = 0; i < s->n_children; i++)
                        if (s->children[i].pid == 0 &&
                            (at == s->n_children || s->children[i].seq < s->children[at].seq))
                                at = i;
                if (at == s->n_children) {
                        s->queued = 0;
                        continue;
                }
                char uuid[UUID_STR_LEN];
                unsigned long seq = s->children[at].seq;
                bool spare = s->children[at].spare;
                snprintf(uuid, sizeof(uuid), "%s", s->children[at].uuid);
                s->children[at].pid = -1; /* being spawned */
                s->queued--;
                pthread_mutex_unlock(&s->lock);
                pid_t pid = -1;
                spawn_one(s, uuid, spare, &pid);
                pthread_mutex_lock(&s->lock);
                bool reaped = false;
                for (size_t i = 0; i < s->n_children; i++)
                        if (s->children[i].seq == seq) {
                                if (pid > 0) {
                                        s->children[i].pid = pid;
                                        reaped = take_orphan(s, pid, &s->children[i].status);
                                        s->children[i].reaped = reaped;
                                } else {
                                        remove_at(s, i);
                                }
                                break;
                        }
                /* one spawn at a time: orphans left now were not domds of ours */
                s->n_orphans = 0;
                if (reaped) {
                        pthread_mutex_unlock(&s->lock);
                        /* the loop reports it (this thread blocks the signal; the loop not) */
                        kill(getpid(), SIGCHLD);
                        pthread_mutex_lock(&s->lock);
                }
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void refill_later(struct domd_spawner *s, unsigned ms);

static void report_exit(struct domd_spawner *s, const struct child *c, int status)
{
        if (c->spare) {
                log_info("spare domd %s (pid %ld) exited (status %d)", c->uuid, (long)c->pid,
                         status);
                refill_later(s, SPARE_RESPAWN_MS);
                return;
        }
        if (c->via_systemctl) {
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        log_warnx("systemctl start domd@%s failed (status %d)", c->uuid, status);
                return;
        }
        if (WIFSIGNALED(status))
                log_warnx("domd of vm %s (pid %ld) killed by signal %d", c->uuid, (long)c->pid,
                          WTERMSIG(status));
        else
                log_info("domd of vm %s (pid %ld) exited with status %d", c->uuid, (long)c->pid,
                         WEXITSTATUS(status));
        if (s->exited != NULL)
                s->exited(s->arg, c->uuid, status);
}

/* PID exited with STATUS (reaped by xapid, or by the zygote). */
static void child_exited(struct domd_spawner *s, pid_t pid, int status)
{
        pthread_mutex_lock(&s->lock);
        size_t i = 0;
        while (i < s->n_children && (s->children[i].pid != pid || s->children[i].reaped))
                i++;
        if (i == s->n_children) {
                /* perhaps spawned so recently that the thread has not recorded it */
                keep_orphan(s, pid, status);
                pthread_mutex_unlock(&s->lock);
                log_debug("reaped pid %ld (not a known domd yet)", (long)pid);
                return;
        }
        struct child c = s->children[i];
        remove_at(s, i);
        pthread_mutex_unlock(&s->lock);
        report_exit(s, &c, status);
}

/* Reports the exits that were reaped before the thread recorded their pid. */
static void report_reaped(struct domd_spawner *s)
{
        for (;;) {
                pthread_mutex_lock(&s->lock);
                size_t i = 0;
                while (i < s->n_children && !s->children[i].reaped)
                        i++;
                if (i == s->n_children) {
                        pthread_mutex_unlock(&s->lock);
                        break;
                }
                struct child c = s->children[i];
                remove_at(s, i);
                pthread_mutex_unlock(&s->lock);
                report_exit(s, &c, c.status);
        }
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
        struct domd_spawner *s = arg;
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                child_exited(s, pid, status);
        report_reaped(s);
}

/* The zygote reaped domds (its children) and says so. */
static void on_zygote_exits(evutil_socket_t fd, short what, void *arg)
{
        struct domd_spawner *s = arg;
        struct domd_zygote_exit e;
        ssize_t n;
        while ((n = recv(fd, &e, sizeof(e), 0)) == (ssize_t)sizeof(e))
                if (e.pid > 0)
                        child_exited(s, e.pid, e.status);
        report_reaped(s);
}

/* Queues a child named NAME (the lock held); returns 0 or -ENOMEM. */
static int add_child(struct domd_spawner *s, const char *name, bool spare)
{
        if (s->n_children == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                struct child *c = realloc(s->children, cap * sizeof(*c));
                if (c == NULL)
                        return -ENOMEM;
                s->children = c;
                s->cap = cap;
        }
        struct child *c = &s->children[s->n_children++];
        memset(c, 0, sizeof(*c));
        c->seq = ++s->next_seq;
        snprintf(c->uuid, sizeof(c->uuid), "%s", name);
        c->via_systemctl = s->use_systemd;
        c->spare = spare;
        s->queued++;
        pthread_cond_signal(&s->wake);
        return 0;
}

static void on_refill(evutil_socket_t fd, short what, void *arg)
{
        struct domd_spawner *s = arg;
        pthread_mutex_lock(&s->lock);
        unsigned have = 0;
        for (size_t i = 0; i < s->n_children; i++)
                have += s->children[i].spare;
        for (; have < s->spare_target; have++) {
                char u[UUID_STR_LEN], name[UUID_STR_LEN];
                uuid_generate_str(u);
                snprintf(name, sizeof(name), SPARE_NAME_PREFIX "%.*s", SPARE_NAME_HEX, u);
                if (add_child(s, name, true) < 0)
                        break;
        }
        pthread_mutex_unlock(&s->lock);
}

static void refill_later(struct domd_spawner *s, unsigned ms)
{
        if (s->spare_target == 0 || evtimer_pending(s->refill, NULL))
                return;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(s->refill, &tv);
}

void domd_spawner_set_spares(struct domd_spawner *s, unsigned n)
{
        if (s->use_systemd && n > 0) {
                /* a domd@UUID unit is one VM's from its start: no spares under systemd */
                log_info("vm.domd_spares ignored: domds are started through systemd");
                n = 0;
        }
        s->spare_target = n;
        refill_later(s, 0);
}

int domd_spare_take(struct domd_spawner *s, const char *uuid, char name[DOMD_SPARE_NAME_LEN])
{
        if (!uuid_is_valid(uuid))
                return -EINVAL;
        int r = -ENOENT;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_children; i++) {
                struct child *c = &s->children[i];
                if (!c->spare || !c->ready || c->pid <= 0 || c->reaped)
                        continue;
                snprintf(name, DOMD_SPARE_NAME_LEN, "%.15s", c->uuid);
                snprintf(c->uuid, sizeof(c->uuid), "%s", uuid);
                c->spare = c->ready = false;
                r = 0;
                break;
        }
        pthread_mutex_unlock(&s->lock);
        if (r == 0) {
                log_debug("vm %s takes spare domd %s", uuid, name);
                refill_later(s, SPARE_REFILL_MS);
        }
        return r;
}

bool domd_spare_ready(struct domd_spawner *s)
{
        bool found = false;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_children && !found; i++)
                found = s->children[i].spare && s->children[i].ready && s->children[i].pid > 0;
        pthread_mutex_unlock(&s->lock);
        return found;
}

unsigned domd_spares_starting(struct domd_spawner *s)
{
        unsigned n = 0;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_children; i++)
                n += s->children[i].spare && !s->children[i].ready;
        pthread_mutex_unlock(&s->lock);
        return n;
}

bool domd_spare_name(const char *name)
{
        return strncmp(name, SPARE_NAME_PREFIX, strlen(SPARE_NAME_PREFIX)) == 0;
}

void domd_spare_announced(struct domd_spawner *s, const char *name, int pid, bool up)
{
        bool known = false;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_children; i++) {
                struct child *c = &s->children[i];
                if (c->spare && strcmp(c->uuid, name) == 0 && (!up || c->pid == pid)) {
                        c->ready = up;
                        known = true;
                }
        }
        pthread_mutex_unlock(&s->lock);
        if (up && !known)
                log_info("%s (pid %d) is not a spare of this xapid; it exits by itself", name, pid);
}

void domd_spawner_kill(struct domd_spawner *s, const char *uuid)
{
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_children; i++)
                if (strcmp(s->children[i].uuid, uuid) == 0 && s->children[i].pid > 0 &&
                    !s->children[i].reaped && !s->children[i].via_systemctl)
                        kill(s->children[i].pid, SIGTERM);
        pthread_mutex_unlock(&s->lock);
}

int domd_spawner_new(struct event_base *base, const struct domd_spawn_config *cfg,
                     void (*exited)(void *arg, const char *uuid, int status), void *arg,
                     struct domd_spawner **out)
{
        struct domd_spawner *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return -ENOMEM;
        s->exits[0] = s->exits[1] = -1;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->wake, NULL);
        if (cfg->domd_path != NULL && cfg->domd_path[0] != '\0') {
                s->path = strdup(cfg->domd_path);
        } else {
                char self[4096];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n < 0)
                        n = 0;
                self[n] = '\0';
                char *dir = dirname(self);
                size_t len = strlen(dir) + 8;
                s->path = malloc(len);
                if (s->path != NULL)
                        snprintf(s->path, len, "%s/domd", dir);
        }
        s->config = cfg->domd_config != NULL ? strdup(cfg->domd_config) : NULL;
        s->use_systemd = cfg->use_systemd;
        if (cfg->zygote && !cfg->use_systemd && s->path != NULL) {
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->exits) == 0 &&
                    fcntl(s->exits[0], F_SETFL, O_NONBLOCK) == 0 &&
                    (s->exits_ev = event_new(base, s->exits[0], EV_READ | EV_PERSIST,
                                             on_zygote_exits, s)) != NULL &&
                    event_add(s->exits_ev, NULL) == 0)
                        s->zygote = domd_zygote_new(s->path, s->exits[1]);
                if (s->zygote == NULL)
                        log_warnx("no domd zygote: each domd is exec'd");
        }
        s->overrides = calloc(cfg->n_overrides + 1, sizeof(char *));
        for (size_t i = 0; s->overrides != NULL && i < cfg->n_overrides; i++)
                s->overrides[s->n_overrides++] = strdup(cfg->overrides[i]);
        s->exited = exited;
        s->arg = arg;
        s->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, s);
        s->refill = evtimer_new(base, on_refill, s);
        if (s->path == NULL || s->overrides == NULL || s->sigchld == NULL || s->refill == NULL ||
            evsignal_add(s->sigchld, NULL) < 0 ||
            pthread_create(&s->thread, NULL, spawn_thread, s) != 0) {
                domd_spawner_free(s);
                return -ENOMEM;
        }
        s->have_thread = true;
        *out = s;
        return 0;
}

void domd_spawner_free(struct domd_spawner *s)
{
        if (s == NULL)
                return;
        if (s->have_thread) {
                pthread_mutex_lock(&s->lock);
                s->stop = true;
                pthread_cond_signal(&s->wake);
                pthread_mutex_unlock(&s->lock);
                pthread_join(s->thread, NULL);
        }
        /* idle spares are this xapid's alone */
        for (size_t i = 0; i < s->n_children; i++)
                if (s->children[i].spare && s->children[i].pid > 0 && !s->children[i].reaped)
                        kill(s->children[i].pid, SIGTERM);
        domd_zygote_free(s->zygote);
        if (s->exits_ev != NULL)
                event_free(s->exits_ev);
        for (int i = 0; i < 2; i++)
                if (s->exits[i] >= 0)
                        close(s->exits[i]);
        if (s->refill != NULL)
                event_free(s->refill);
        if (s->sigchld != NULL)
                event_free(s->sigchld);
        for (size_t i = 0; i < s->n_overrides; i++)
                free(s->overrides[i]);
        free(s->overrides);
        free(s->path);
        free(s->config);
        free(s->children);
        free(s->orphans);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int domd_spawn(struct domd_spawner *s, const char *uuid)
{
        if (!uuid_is_valid(uuid))
                return -EINVAL;
        pthread_mutex_lock(&s->lock);
        int r = add_child(s, uuid, false);
        pthread_mutex_unlock(&s->lock);
        return r;
}

bool domd_spawn_running(struct domd_spawner *s, const char *uuid)
{
        bool found = false;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_children && !found; i++)
                found = !s->children[i].via_systemctl && strcmp(s->children[i].uuid, uuid) == 0;
        pthread_mutex_unlock(&s->lock);
        return found;
}
