/* Control socket server: listener, per-client connections, dispatch, built-in commands. */
#include "version.h"
#include "common/ctl.h"
#include "common/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

LOG_MODULE(ctl)

#define CTL_MAX_CLIENTS    64
#define CTL_IDLE_TIMEOUT_S 60 /* a silent client is dropped so it cannot hold a slot */

struct ctl_command {
        const char *name;      /* borrowed */
        const char *args_help; /* borrowed */
        ctl_handler_fn *fn;
        void *ctx;
};

struct ctl_conn {
        struct ctl_server *srv;
        struct bufferevent *bev; /* owned; closes the fd */
        struct ctl_req *pending; /* the request awaiting its reply, if any */
        uid_t uid;
        pid_t pid;
        bool closing;     /* a final reply is being flushed; then the connection closes */
        bool dispatching; /* inside process_input: replies must not re-enter it */
        bool eof;         /* the client shut down its side: answer what came, then close */
        struct ctl_conn *prev, *next;
};

struct ctl_req {
        struct ctl_conn *conn; /* NULL once the client is gone */
        uid_t uid;
        pid_t pid;
        int argc;
        char *argv[CTL_MAX_ARGS + 1];
        char *line; /* owned; argv points into it */
};

struct ctl_server {
        struct event_base *base;      /* borrowed */
        struct evconnlistener *lsn;   /* owned; closes the listening fd */
        char *path;                   /* owned */
        const char *program;          /* borrowed */
        struct ctl_command *commands; /* owned array */
        size_t n_commands, cap_commands;
        struct ctl_conn *conns;
        unsigned n_conns;
};

static void process_input(struct ctl_conn *conn);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* ---- connections ---- */

static void conn_free(struct ctl_conn *conn)
{
        if (conn == NULL)
                return;
        if (conn->pending != NULL)
                conn->pending->conn = NULL; /* the handler still owns it and must reply */
        struct ctl_server *srv = conn->srv;
        if (conn->prev != NULL)
                conn->prev->next = conn->next;
        else
                srv->conns = conn->next;
        if (conn->next != NULL)
                conn->next->prev = conn->prev;
        srv->n_conns--;
        bufferevent_free(conn->bev);
        free(conn);
}

static void write_reply(struct ctl_conn *conn, int status, const char *text)
{
        size_t len = text != NULL ? strlen(text) : 0;
        bool add_nl = len > 0 && text[len - 1] != '\n';
        if (len + add_nl > CTL_MAX_REPLY) {
                log_warnx("reply of %zu bytes truncated to %u", len, CTL_MAX_REPLY);
                len = CTL_MAX_REPLY - 1;
                add_nl = true;
        }
        struct evbuffer *out = bufferevent_get_output(conn->bev);
        evbuffer_add_printf(out, "%03d %zu\n", status, len + add_nl);
        evbuffer_add(out, text, len);
        if (add_nl)
                evbuffer_add(out, "\n", 1);
}

static void close_when_flushed_cb(struct bufferevent *bev, void *arg)
{
        conn_free(arg);
}

/* Stops reading and frees CONN once its output has been written. */
static void close_after_flush(struct ctl_conn *conn)
{
        conn->closing = true;
        bufferevent_disable(conn->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
                conn_free(conn);
                return;
        }
        /* The write callback fires when the output buffer has drained. */
        bufferevent_setcb(conn->bev, NULL, close_when_flushed_cb, event_cb, conn);
}

/* Sends a final reply and closes the connection once it has been written. */
static void reject(struct ctl_conn *conn, int status, const char *text)
{
        write_reply(conn, status, text);
        close_after_flush(conn);
}

static void set_idle_timeout(struct ctl_conn *conn, bool on)
{
        /* Never a read timeout while a deferred reply is awaited; always a write timeout, so
         * a client that stops reading a long reply cannot hold its slot forever. */
        struct timeval tv = {CTL_IDLE_TIMEOUT_S, 0};
        bufferevent_set_timeouts(conn->bev, on ? &tv : NULL, &tv);
}

static const struct ctl_command *find_command(const struct ctl_server *srv, const char *name)
{
        for (size_t i = 0; i < srv->n_commands; i++)
                if (strcmp(srv->commands[i].name, name) == 0)
                        return &srv->commands[i];
        return NULL;
}

/* Handles one request line (owned; NUL-terminated, LEN bytes before the NUL). */
static void dispatch(struct ctl_conn *conn, char *line, size_t len)
{
        struct ctl_req *req = calloc(1, sizeof *req);
        if (req == NULL) {
                free(line);
                reject(conn, CTL_FAILED, "out of memory");
                return;
        }
        req->conn = conn;
        req->uid = conn->uid;
        req->pid = conn->pid;
        req->line = line;
        conn->pending = req;
        set_idle_timeout(conn, false);
        if (len > 0 && line[len - 1] == '\r')
                line[--len] = '\0'; /* CRLF from interactive tools */
        if (strlen(line) != len) {
                ctl_reply(req, CTL_BAD_REQUEST, "NUL byte in request");
                return;
        }
        /* Keep a copy for the log: ctl_split rewrites LINE. */
        log_debug("uid %ld pid %ld: %.200s", (long)conn->uid, (long)conn->pid, line);
        int argc = ctl_split(line, req->argv, CTL_MAX_ARGS);
        if (argc == -E2BIG) {
                ctl_replyf(req, CTL_BAD_REQUEST, "more than %d words", CTL_MAX_ARGS);
                return;
        }
        if (argc < 0) {
                ctl_reply(req, CTL_BAD_REQUEST, "bad quoting (use \"...\" with \\\\ \\\" \\n \\t)");
                return;
        }
        if (argc == 0) {
                ctl_reply(req, CTL_BAD_REQUEST, "empty request (try list-commands)");
                return;
        }
        req->argc = argc;
        req->argv[argc] = NULL;
        const struct ctl_command *cmd = find_command(conn->srv, req->argv[0]);
        if (cmd == NULL) {
                ctl_replyf(req, CTL_NOT_FOUND, "unknown command \"%.100s\" (try list-commands)",
                           req->argv[0]);
                return;
        }
        cmd->fn(req, argc, req->argv, cmd->ctx);
}

static void process_input(struct ctl_conn *conn)
{
        struct evbuffer *in = bufferevent_get_input(conn->bev);
        conn->dispatching = true;
        while (conn->pending == NULL && !conn->closing) {
                size_t eol_len;
                struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
                if (eol.pos < 0) {
                        if (evbuffer_get_length(in) > CTL_MAX_REQUEST)
                                reject(conn, CTL_TOO_LARGE, "request too long");
                        break;
                }
                if ((size_t)eol.pos > CTL_MAX_REQUEST) {
                        reject(conn, CTL_TOO_LARGE, "request too long");
                        break;
                }
                size_t len;
                char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
                if (line == NULL) {
                        reject(conn, CTL_FAILED, "out of memory");
                        break;
                }
                dispatch(conn, line, len);
        }
        /* A client that pipelines more than a request's worth behind a slow one is dropped. */
        if (conn->pending != NULL && evbuffer_get_length(in) > CTL_MAX_REQUEST + 1) {
                conn->dispatching = false;
                log_warnx("uid %ld pid %ld: too much pipelined input, disconnecting",
                          (long)conn->uid, (long)conn->pid);
                conn_free(conn);
                return;
        }
        conn->dispatching = false;
        if (conn->eof && conn->pending == NULL && !conn->closing)
                close_after_flush(conn); /* may free CONN: nothing may follow */
}

static void read_cb(struct bufferevent *bev, void *arg)
{
        process_input(arg);
}

/* After EOF: true when the client closed both directions (POLLHUP on a unix socket), false
 * when it only shut down its sending side and still waits for replies. */
static bool peer_gone(struct ctl_conn *conn)
{
        struct pollfd p = {.fd = bufferevent_getfd(conn->bev), .events = POLLOUT};
        return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
        struct ctl_conn *conn = arg;
        if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !conn->closing &&
            !peer_gone(conn)) {
                /* Half-closed (`echo version | socat - UNIX:...`): still answer. */
                conn->eof = true;
                bufferevent_disable(bev, EV_READ);
                if (!conn->dispatching)
                        process_input(conn);
                return;
        }
        if (what & BEV_EVENT_TIMEOUT)
                log_debug("uid %ld pid %ld: idle, disconnecting", (long)conn->uid, (long)conn->pid);
        else if (what & BEV_EVENT_ERROR)
                log_debug("uid %ld pid %ld: connection error: %s", (long)conn->uid, (long)conn->pid,
                          strerror(errno));
        conn_free(conn);
}

static void accept_cb(struct evconnlistener *lsn, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
        struct ctl_server *srv = arg;
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
                log_warn("SO_PEERCRED");
                close(fd);
                return;
        }
        struct ctl_conn *conn = calloc(1, sizeof *conn);
        struct bufferevent *bev =
            conn ? bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
        if (bev == NULL) {
                log_warnx("out of memory accepting a control client");
                free(conn);
                close(fd);
                return;
        }
        conn->srv = srv;
        conn->bev = bev;
        conn->uid = cred.uid;
        conn->pid = cred.pid;
        conn->next = srv->conns;
        if (srv->conns != NULL)
                srv->conns->prev = conn;
        srv->conns = conn;
        srv->n_conns++;
        bufferevent_setcb(bev, read_cb, NULL, event_cb, conn);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (cred.uid != 0 && cred.uid != geteuid()) {
                log_warnx("refused control client uid %ld pid %ld", (long)cred.uid, (long)cred.pid);
                reject(conn, CTL_FORBIDDEN, "permission denied: root or the daemon's user only");
                return;
        }
        if (srv->n_conns > CTL_MAX_CLIENTS) {
                log_warnx("too many control clients, refusing pid %ld", (long)cred.pid);
                reject(conn, CTL_UNAVAILABLE, "too many clients, try again");
                return;
        }
        set_idle_timeout(conn, true);
}

static void accept_error_cb(struct evconnlistener *lsn, void *arg)
{
        log_warn("accepting a control client");
}

/* ---- replies ---- */

void ctl_reply(struct ctl_req *req, int status, const char *text)
{
        if (req == NULL)
                return;
        struct ctl_conn *conn = req->conn;
        free(req->line);
        free(req);
        if (conn == NULL)
                return; /* the client went away while the reply was being prepared */
        conn->pending = NULL;
        write_reply(conn, status, text);
        set_idle_timeout(conn, true);
        /* A deferred reply: requests that queued behind this one can run now. */
        if (!conn->dispatching)
                process_input(conn);
}

void ctl_replyf(struct ctl_req *req, int status, const char *fmt, ...)
{
        if (req == NULL)
                return;
        char *text = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0) {
                ctl_reply(req, CTL_FAILED, "out of memory");
                return;
        }
        ctl_reply(req, status, text);
        free(text);
}

bool ctl_req_connected(const struct ctl_req *req)
{
        return req != NULL && req->conn != NULL;
}

uid_t ctl_req_uid(const struct ctl_req *req)
{
        return req != NULL ? req->uid : (uid_t)-1;
}

pid_t ctl_req_pid(const struct ctl_req *req)
{
        return req != NULL ? req->pid : -1;
}

unsigned ctl_server_n_clients(const struct ctl_server *srv)
{
        return srv != NULL ? srv->n_conns : 0;
}

/* ---- built-in commands ---- */

static int cmp_commands(const void *a, const void *b)
{
        return strcmp(((const struct ctl_command *)a)->name, ((const struct ctl_command *)b)->name);
}

static void cmd_list_commands(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct ctl_server *srv = ctx;
        qsort(srv->commands, srv->n_commands, sizeof *srv->commands, cmp_commands);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f == NULL) {
                ctl_reply(req, CTL_FAILED, "out of memory");
                return;
        }
        for (size_t i = 0; i < srv->n_commands; i++) {
                const struct ctl_command *c = &srv->commands[i];
                if (c->args_help[0] != '\0')
                        fprintf(f, "%s %s\n", c->name, c->args_help);
                else
                        fprintf(f, "%s\n", c->name);
        }
        fclose(f);
        ctl_reply(req, CTL_OK, buf);
        free(buf);
}

static void cmd_version(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        struct ctl_server *srv = ctx;
        ctl_replyf(req, CTL_OK, "%s %s (git %s)", srv->program, TS_VERSION, TS_GIT_REV);
}

static void cmd_log_list(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        char buf[16384];
        log_describe(buf, sizeof buf);
        ctl_reply(req, CTL_OK, buf);
}

static void cmd_log_set(struct ctl_req *req, int argc, char **argv, void *ctx)
{
        if (argc < 2 || argc > 3) {
                ctl_reply(req, CTL_BAD_REQUEST, "usage: log/set [MODULE|all] LEVEL");
                return;
        }
        const char *module = argc == 3 ? argv[1] : NULL;
        const char *name = argv[argc - 1];
        int level = log_level_from_name(name);
        if (level < 0) {
                ctl_replyf(req, CTL_BAD_REQUEST,
                           "unknown level \"%.40s\" (emerg alert crit err warn notice info debug)",
                           name);
                return;
        }
        if (log_set_level(module, level) < 0) {
                ctl_replyf(req, CTL_BAD_REQUEST, "no such log module: %.100s", module);
                return;
        }
        log_info("log level of %s set to %s by uid %ld", module ? module : "all",
                 log_level_name(level), (long)req->uid);
        ctl_reply(req, CTL_OK, NULL);
}

/* ---- server ---- */

int ctl_register(struct ctl_server *srv, const char *name, const char *args_help,
                 ctl_handler_fn *handler, void *ctx)
{
        if (srv == NULL || name == NULL || handler == NULL || name[0] == '\0')
                return -EINVAL;
        for (const char *c = name; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == '"' || *c == '\\')
                        return -EINVAL;
        if (find_command(srv, name) != NULL)
                return -EEXIST;
        if (srv->n_commands == srv->cap_commands) {
                size_t cap = srv->cap_commands ? 2 * srv->cap_commands : 16;
                struct ctl_command *c = realloc(srv->commands, cap * sizeof *c);
                if (c == NULL)
                        return -ENOMEM;
                srv->commands = c;
                srv->cap_commands = cap;
        }
        srv->commands[srv->n_commands++] =
            (struct ctl_command){name, args_help != NULL ? args_help : "", handler, ctx};
        return 0;
}

/* Removes PATH if it is a socket nobody answers on (left by a dead daemon). */
static int clear_stale_socket(const char *path, const struct sockaddr_un *sa)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
        int err = errno;
        close(fd);
        if (r == 0)
                return -EADDRINUSE;
        if (err != ECONNREFUSED)
                return -err;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int open_socket(const char *path, int *out)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int r = clear_stale_socket(path, &sa);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* The umask makes the socket 0600 from birth: no window where others could connect. */
        mode_t old = umask(0177);
        r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
        int err = errno;
        umask(old);
        if (r < 0) {
                close(fd);
                return -err;
        }
        if (listen(fd, 32) < 0) {
                err = errno;
                close(fd);
                unlink(path);
                return -err;
        }
        *out = fd;
        return 0;
}

int ctl_server_open(struct event_base *base, const char *path, const char *program,
                    struct ctl_server **out)
{
        if (base == NULL || path == NULL || out == NULL)
                return -EINVAL;
        /* Writing to a client that has gone must fail with EPIPE, not kill the daemon. */
        signal(SIGPIPE, SIG_IGN);
        struct ctl_server *srv = calloc(1, sizeof *srv);
        if (srv == NULL)
                return -ENOMEM;
        srv->base = base;
        srv->program = program != NULL ? program : "?";
        srv->path = strdup(path);
        int fd = -1, r = srv->path ? open_socket(path, &fd) : -ENOMEM;
        if (r < 0)
                goto out;
        srv->lsn = evconnlistener_new(base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE, 0, fd);
        if (srv->lsn == NULL) {
                close(fd);
                unlink(path);
                r = -ENOMEM;
                goto out;
        }
        evconnlistener_set_error_cb(srv->lsn, accept_error_cb);
        if ((r = ctl_register(srv, "list-commands", "", cmd_list_commands, srv)) < 0 ||
            (r = ctl_register(srv, "version", "", cmd_version, srv)) < 0 ||
            (r = ctl_register(srv, "log/list", "", cmd_log_list, srv)) < 0 ||
            (r = ctl_register(srv, "log/set", "[MODULE|all] LEVEL", cmd_log_set, srv)) < 0)
                goto out;
        log_debug("control socket %s", path);
        *out = srv;
        return 0;
out:
        ctl_server_free(srv);
        return r;
}

void ctl_server_free(struct ctl_server *srv)
{
        if (srv == NULL)
                return;
        while (srv->conns != NULL)
                conn_free(srv->conns);
        if (srv->lsn != NULL) {
                evconnlistener_free(srv->lsn);
                unlink(srv->path);
        }
        free(srv->path);
        free(srv->commands);
        free(srv);
}
