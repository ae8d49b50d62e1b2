/* Starting and reaping domd processes (see domd_spawn.h). */
#include "xapid/domd_spawn.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uuid.h"

LOG_MODULE(domd_spawn)

struct child {
        pid_t pid;
        char uuid[UUID_STR_LEN];
        bool via_systemctl;
};

struct domd_spawner {
        struct event *sigchld;
        char *path;
        char *config;
        bool use_systemd;
        char **overrides;
        size_t n_overrides;
        struct child *children;
        size_t n_children, cap;
        void (*exited)(void *arg, const char *uuid, int status);
        void *arg;
};

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
        struct domd_spawner *s = arg;
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                size_t i = 0;
                while (i < s->n_children && s->children[i].pid != pid)
                        i++;
                if (i == s->n_children) {
                        log_debug("reaped pid %ld (not a domd)", (long)pid);
                        continue;
                }
                struct child c = s->children[i];
                s->children[i] = s->children[--s->n_children];
                if (c.via_systemctl) {
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                log_warnx("systemctl start domd@%s failed (status %d)", c.uuid,
                                          status);
                        continue;
                }
                if (WIFSIGNALED(status))
                        log_warnx("domd of vm %s (pid %ld) killed by signal %d", c.uuid, (long)pid,
                                  WTERMSIG(status));
                else
                        log_info("domd of vm %s (pid %ld) exited with status %d", c.uuid, (long)pid,
                                 WEXITSTATUS(status));
                if (s->exited != NULL)
                        s->exited(s->arg, c.uuid, status);
        }
}

int domd_spawner_new(struct event_base *base, const struct domd_spawn_config *cfg,
                     void (*exited)(void *arg, const char *uuid, int status), void *arg,
                     struct domd_spawner **out)
{
        struct domd_spawner *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return -ENOMEM;
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
        s->overrides = calloc(cfg->n_overrides + 1, sizeof(char *));
        for (size_t i = 0; s->overrides != NULL && i < cfg->n_overrides; i++)
                s->overrides[s->n_overrides++] = strdup(cfg->overrides[i]);
        s->exited = exited;
        s->arg = arg;
        s->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, s);
        if (s->path == NULL || s->overrides == NULL || s->sigchld == NULL ||
            evsignal_add(s->sigchld, NULL) < 0) {
                domd_spawner_free(s);
                return -ENOMEM;
        }
        *out = s;
        return 0;
}

void domd_spawner_free(struct domd_spawner *s)
{
        if (s == NULL)
                return;
        if (s->sigchld != NULL)
                event_free(s->sigchld);
        for (size_t i = 0; i < s->n_overrides; i++)
                free(s->overrides[i]);
        free(s->overrides);
        free(s->path);
        free(s->config);
        free(s->children);
        free(s);
}

pid_t domd_spawn(struct domd_spawner *s, const char *uuid)
{
        if (!uuid_is_valid(uuid))
                return -EINVAL;
        if (s->n_children == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                struct child *c = realloc(s->children, cap * sizeof(*c));
                if (c == NULL)
                        return -ENOMEM;
                s->children = c;
                s->cap = cap;
        }
        /* argv before the fork: the child only execs */
        const char *argv[64];
        size_t n = 0;
        char unit[64];
        struct stat st;
        if (s->use_systemd) {
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
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* its own session: a domd outlives xapid and its terminal */
                setsid();
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, 0);
                if (s->use_systemd)
                        execvp(argv[0], (char *const *)argv);
                else
                        execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        struct child *c = &s->children[s->n_children++];
        c->pid = pid;
        snprintf(c->uuid, sizeof(c->uuid), "%s", uuid);
        c->via_systemctl = s->use_systemd;
        log_debug("started %s for vm %s: pid %ld", argv[0], uuid, (long)pid);
        return pid;
}

bool domd_spawn_running(const struct domd_spawner *s, const char *uuid)
{
        for (size_t i = 0; i < s->n_children; i++)
                if (!s->children[i].via_systemctl && strcmp(s->children[i].uuid, uuid) == 0)
                        return true;
        return false;
}
