/* Blocking control-socket client: one connection, one request, one reply. */
#include "common/ctl_client.h"
#include "common/ctl_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until FD is ready for EVENTS or DEADLINE (ms, monotonic; < 0: none) passes. */
static int wait_fd(int fd, short events, long long deadline)
{
        for (;;) {
                int timeout = -1;
                if (deadline >= 0) {
                        long long left = deadline - now_ms();
                        if (left <= 0)
                                return -ETIMEDOUT;
                        timeout = left > 1000000 ? 1000000 : (int)left;
                }
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, timeout);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Reads up to LEN bytes; returns the count (0 at end of stream) or a negative errno. */
static ssize_t recv_some(int fd, char *buf, size_t len, long long deadline)
{
        for (;;) {
                ssize_t n = recv(fd, buf, len, 0);
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
}

static int do_call(int fd, const struct sockaddr_un *sa, const char *req, long long deadline,
                   int *status, char **text)
{
        if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0) {
                if (errno != EINPROGRESS && errno != EAGAIN)
                        return -errno;
                /* A full backlog: wait, then read the outcome of the connect. */
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                int err = 0;
                socklen_t elen = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
                if (err != 0)
                        return -err;
        }
        int r = send_all(fd, req, strlen(req), deadline);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                return r;
        /* Even when sending failed the daemon may have said why (e.g. 403) before closing. */

        /* The header, byte by byte so nothing of the body is consumed past it. */
        char hdr[CTL_MAX_HEADER];
        size_t n = 0;
        for (;;) {
                ssize_t got = recv_some(fd, hdr + n, 1, deadline);
                if (got < 0)
                        return (int)got == -ECONNRESET ? -EPROTO : (int)got;
                if (got == 0)
                        return -EPROTO;
                if (hdr[n] == '\n')
                        break;
                if (++n == sizeof hdr)
                        return -EPROTO;
        }
        hdr[n] = '\0';
        size_t len;
        if (ctl_parse_header(hdr, status, &len) < 0)
                return -EPROTO;
        char *body = malloc(len + 1);
        if (body == NULL)
                return -ENOMEM;
        size_t have = 0;
        while (have < len) {
                ssize_t got = recv_some(fd, body + have, len - have, deadline);
                if (got <= 0) {
                        free(body);
                        return got < 0 && got != -ECONNRESET ? (int)got : -EPROTO;
                }
                have += (size_t)got;
        }
        body[len] = '\0';
        *text = body;
        return 0;
}

int ctl_call(const char *path, int argc, const char *const *argv, int timeout_ms, int *status,
             char **text)
{
        if (path == NULL || argv == NULL || argc <= 0 || status == NULL || text == NULL)
                return -EINVAL;
        *text = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        char *line = ctl_join(argc, argv);
        if (line == NULL)
                return -ENOMEM;
        size_t len = strlen(line);
        if (len > CTL_MAX_REQUEST) {
                free(line);
                return -E2BIG;
        }
        char *req = realloc(line, len + 2);
        if (req == NULL) {
                free(line);
                return -ENOMEM;
        }
        memcpy(req + len, "\n", 2);
        long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int r = fd < 0 ? -errno : do_call(fd, &sa, req, deadline, status, text);
        if (fd >= 0)
                close(fd);
        free(req);
        return r;
}
