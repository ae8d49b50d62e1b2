#include "xapid/auth.h"

#include <crypt.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"

LOG_MODULE(auth)

struct auth_job {
        struct auth *auth;
        char *user;
        char *password;
        int result;
        auth_done_fn done;
        void *arg;
        struct event *delay; /* holds a failed result until the delay has passed */
        struct auth_job *next;
};

struct auth {
        struct event_base *base;
        enum auth_backend backend;
        char *password_file;
        unsigned failure_delay_ms;
        int pipe_rd, pipe_wr; /* workers post finished jobs here */
        struct event *pipe_ev;
        struct auth_job *pending; /* every job not yet answered, so auth_free can drop them */
};

int auth_backend_from_name(const char *name)
{
        if (name == NULL)
                return -1;
        if (strcmp(name, "pam") == 0)
                return AUTH_BACKEND_PAM;
        if (strcmp(name, "password-file") == 0 || strcmp(name, "file") == 0)
                return AUTH_BACKEND_PASSWORD_FILE;
        return -1;
}

static void wipe_free(char *s)
{
        if (s != NULL) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static int check_password_file(const char *path, const char *user, const char *password)
{
        FILE *f = fopen(path, "re");
        if (f == NULL)
                return -errno;
        char *line = NULL;
        size_t cap = 0;
        int r = -EACCES;
        size_t ulen = strlen(user);
        while (getline(&line, &cap, f) > 0) {
                line[strcspn(line, "\r\n")] = '\0';
                if (strncmp(line, user, ulen) != 0 || line[ulen] != ':')
                        continue;
                const char *hash = line + ulen + 1;
                struct crypt_data cd;
                memset(&cd, 0, sizeof cd);
                const char *got = crypt_r(password, hash, &cd);
                if (got != NULL && got[0] != '*' && strcmp(got, hash) == 0)
                        r = 0;
                explicit_bzero(&cd, sizeof cd);
                break;
        }
        free(line);
        fclose(f);
        return r;
}

struct pam_creds {
        const char *password;
};

static int pam_conv_fn(int n, const struct pam_message **msg, struct pam_response **resp,
                       void *data)
{
        const struct pam_creds *c = data;
        struct pam_response *r = calloc((size_t)n, sizeof *r);
        if (r == NULL)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
                    msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
                        r[i].resp = strdup(c->password);
                        if (r[i].resp == NULL)
                                goto fail;
                }
        }
        *resp = r;
        return PAM_SUCCESS;
fail:
        for (int i = 0; i < n; i++)
                wipe_free(r[i].resp);
        free(r);
        return PAM_BUF_ERR;
}

static int check_pam(const char *user, const char *password)
{
        struct pam_creds creds = {password};
        struct pam_conv conv = {pam_conv_fn, &creds};
        pam_handle_t *h = NULL;
        int pr = pam_start("xapi", user, &conv, &h);
        if (pr != PAM_SUCCESS)
                return -EIO;
        pr = pam_authenticate(h, PAM_SILENT);
        if (pr == PAM_SUCCESS)
                pr = pam_acct_mgmt(h, PAM_SILENT);
        pam_end(h, pr);
        return pr == PAM_SUCCESS ? 0 : -EACCES;
}

int auth_check_sync(enum auth_backend backend, const char *password_file, const char *user,
                    const char *password)
{
        if (user == NULL || password == NULL || user[0] == '\0' || strchr(user, ':') != NULL ||
            strchr(user, '\n') != NULL)
                return -EACCES;
        if (backend == AUTH_BACKEND_PAM)
                return check_pam(user, password);
        if (password_file == NULL)
                return -EINVAL;
        return check_password_file(password_file, user, password);
}

static void *worker(void *p)
{
        struct auth_job *j = p;
        j->result = auth_check_sync(j->auth->backend, j->auth->password_file, j->user, j->password);
        ssize_t w;
        do
                w = write(j->auth->pipe_wr, &j, sizeof j);
        while (w < 0 && errno == EINTR);
        return NULL;
}

static void unlink_job(struct auth *a, struct auth_job *j)
{
        for (struct auth_job **pp = &a->pending; *pp; pp = &(*pp)->next) {
                if (*pp == j) {
                        *pp = j->next;
                        return;
                }
        }
}

static void job_free(struct auth_job *j)
{
        if (j == NULL)
                return;
        wipe_free(j->user);
        wipe_free(j->password);
        if (j->delay != NULL)
                event_free(j->delay);
        free(j);
}

static void deliver(struct auth_job *j)
{
        unlink_job(j->auth, j);
        auth_done_fn done = j->done;
        void *arg = j->arg;
        int result = j->result;
        job_free(j);
        done(result, arg);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
        deliver(arg);
}

static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
        struct auth *a = arg;
        struct auth_job *j;
        while (read(a->pipe_rd, &j, sizeof j) == (ssize_t)sizeof j) {
                if (j->result == 0 || a->failure_delay_ms == 0) {
                        deliver(j);
                        continue;
                }
                j->delay = evtimer_new(a->base, delay_cb, j);
                struct timeval tv = {a->failure_delay_ms / 1000,
                                     (a->failure_delay_ms % 1000) * 1000};
                if (j->delay == NULL || evtimer_add(j->delay, &tv) < 0)
                        deliver(j);
        }
}

struct auth *auth_new(struct event_base *base, enum auth_backend backend, const char *password_file)
{
        struct auth *a = calloc(1, sizeof *a);
        int fds[2];
        if (a == NULL)
                return NULL;
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
                free(a);
                return NULL;
        }
        a->base = base;
        a->backend = backend;
        a->password_file = password_file != NULL ? strdup(password_file) : NULL;
        a->failure_delay_ms = 1000;
        a->pipe_rd = fds[0];
        a->pipe_wr = fds[1];
        a->pipe_ev = event_new(base, a->pipe_rd, EV_READ | EV_PERSIST, pipe_cb, a);
        if (a->pipe_ev == NULL || event_add(a->pipe_ev, NULL) < 0) {
                auth_free(a);
                return NULL;
        }
        return a;
}

void auth_set_failure_delay(struct auth *a, unsigned delay_ms)
{
        a->failure_delay_ms = delay_ms;
}

int auth_check_async(struct auth *a, const char *user, const char *password, auth_done_fn done,
                     void *arg)
{
        struct auth_job *j = calloc(1, sizeof *j);
        if (j == NULL)
                return -ENOMEM;
        j->auth = a;
        j->user = strdup(user != NULL ? user : "");
        j->password = strdup(password != NULL ? password : "");
        j->done = done;
        j->arg = arg;
        if (j->user == NULL || j->password == NULL) {
                job_free(j);
                return -ENOMEM;
        }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&t, &attr, worker, j);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                job_free(j);
                return -r;
        }
        j->next = a->pending;
        a->pending = j;
        return 0;
}

void auth_free(struct auth *a)
{
        if (a == NULL)
                return;
        /* Jobs whose worker is still running keep writing to the pipe; leaving the write end
         * open until they finish would need a join, so only delayed (finished) jobs are freed
         * here and auth_free is meant for shutdown. */
        struct auth_job *j = a->pending;
        while (j != NULL) {
                struct auth_job *next = j->next;
                if (j->delay != NULL)
                        job_free(j);
                j = next;
        }
        if (a->pipe_ev != NULL)
                event_free(a->pipe_ev);
        close(a->pipe_rd);
        free(a->password_file);
        free(a);
}

int auth_password_file_set(const char *path, const char *user, const char *password)
{
        char salt_rand[16];
        if (getrandom(salt_rand, sizeof salt_rand, 0) != (ssize_t)sizeof salt_rand)
                return -EIO;
        char setting[CRYPT_GENSALT_OUTPUT_SIZE];
        if (crypt_gensalt_rn("$6$", 0, salt_rand, sizeof salt_rand, setting, sizeof setting) ==
            NULL)
                return -EINVAL;
        struct crypt_data cd;
        memset(&cd, 0, sizeof cd);
        const char *hash = crypt_r(password, setting, &cd);
        if (hash == NULL || hash[0] == '*')
                return -EINVAL;

        char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
                return -ENOMEM;
        int r = 0;
        FILE *in = fopen(path, "re");
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (out == NULL) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                goto out;
        }
        size_t ulen = strlen(user);
        int replaced = 0;
        char *line = NULL;
        size_t cap = 0;
        while (in != NULL && getline(&line, &cap, in) > 0) {
                if (strncmp(line, user, ulen) == 0 && line[ulen] == ':') {
                        fprintf(out, "%s:%s\n", user, hash);
                        replaced = 1;
                } else {
                        fputs(line, out);
                }
        }
        free(line);
        if (!replaced)
                fprintf(out, "%s:%s\n", user, hash);
        if (fflush(out) != 0 || fsync(fileno(out)) != 0)
                r = -errno;
        if (fclose(out) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
out:
        if (r < 0)
                unlink(tmp);
        if (in != NULL)
                fclose(in);
        free(tmp);
        explicit_bzero(&cd, sizeof cd);
        return r;
}
