/* systemd's notification protocol (sd_notify(3)), and the watchdog timer.
 *
 * The protocol is spoken directly, not through libsystemd: that library and the six it
 * pulls in (gcrypt, lz4, zstd, ...) cost every process ~6 ms of dynamic loading at start,
 * and a boot storm starts a domd per VM.  The protocol: one datagram of NAME=VALUE lines to
 * the AF_UNIX socket in $NOTIFY_SOCKET ("@..." for the abstract namespace); the watchdog is
 * on when $WATCHDOG_USEC is set and $WATCHDOG_PID, if set, is our pid. */
#include "common/sdnotify.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

LOG_MODULE(sdnotify)

static struct event *watchdog_ev;
static unsigned long long watchdog_interval;

/* Returns > 0 when sent, 0 when not under systemd, < 0 on error (as sd_notify). */
static int sd_send(const char *msg)
{
        const char *path = getenv("NOTIFY_SOCKET");
        if (path == NULL || path[0] == '\0')
                return 0;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t len = strlen(path);
        if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, len);
        if (path[0] == '@')
                sa.sun_path[0] = '\0'; /* abstract namespace */
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
        int r = n < 0 ? -errno : 1;
        close(fd);
        return r;
}

/* As sd_watchdog_enabled(0, usec): > 0 when on, 0 when off, < 0 when malformed. */
static int watchdog_usec(uint64_t *usec)
{
        const char *s = getenv("WATCHDOG_USEC");
        if (s == NULL)
                return 0;
        char *end;
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || u == 0)
                return -EINVAL;
        const char *p = getenv("WATCHDOG_PID");
        if (p != NULL) {
                errno = 0;
                long pid = strtol(p, &end, 10);
                if (errno != 0 || end == p || *end != '\0' || pid <= 0)
                        return -EINVAL;
                if (pid != (long)getpid())
                        return 0; /* meant for another process */
        }
        *usec = u;
        return 1;
}

static int notify(const char *msg)
{
        int r = sd_send(msg);
        if (r < 0) {
                log_warnx("sd_notify(%s): %s", msg, strerror(-r));
                return r;
        }
        return 0;
}

int sdnotify_ready(void)
{
        return notify("READY=1");
}

int sdnotify_stopping(void)
{
        return notify("STOPPING=1");
}

int sdnotify_reloading(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char msg[64];
        snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
                 (unsigned long long)ts.tv_sec * 1000000ULL +
                     (unsigned long long)ts.tv_nsec / 1000);
        return notify(msg);
}

int sdnotify_status(const char *fmt, ...)
{
        char msg[512] = "STATUS=";
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
        va_end(ap);
        /* One notification line per field: a newline would start a new (bogus) field. */
        for (char *c = msg; *c; c++)
                if (*c == '\n')
                        *c = ' ';
        return notify(msg);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
        notify("WATCHDOG=1");
}

int sdnotify_watchdog_start(struct event_base *base)
{
        if (base == NULL)
                return -EINVAL;
        if (watchdog_ev != NULL)
                return -EALREADY;
        uint64_t usec = 0;
        int r = watchdog_usec(&usec);
        if (r < 0) {
                log_warnx("bad WATCHDOG_USEC/WATCHDOG_PID: %s", strerror(-r));
                return r;
        }
        if (r == 0 || usec == 0)
                return 0;
        /* Half the interval, as sd_watchdog_enabled(3) recommends: a late ping still lands. */
        unsigned long long half = usec / 2 > 0 ? usec / 2 : 1;
        watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_cb, NULL);
        if (watchdog_ev == NULL)
                return -ENOMEM;
        struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
        if (event_add(watchdog_ev, &tv) < 0) {
                event_free(watchdog_ev);
                watchdog_ev = NULL;
                return -ENOMEM;
        }
        watchdog_interval = half;
        log_info("systemd watchdog: pinging every %llu ms", half / 1000);
        notify("WATCHDOG=1");
        return 0;
}

void sdnotify_watchdog_stop(void)
{
        if (watchdog_ev != NULL)
                event_free(watchdog_ev);
        watchdog_ev = NULL;
        watchdog_interval = 0;
}

unsigned long long sdnotify_watchdog_interval_usec(void)
{
        return watchdog_interval;
}
