/* Thin wrappers over libsystemd's sd_notify, and the watchdog timer. */
#include "common/sdnotify.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

LOG_MODULE(sdnotify)

static struct event *watchdog_ev;
static unsigned long long watchdog_interval;

/* sd_notify returns > 0 when sent, 0 when not under systemd, < 0 on error. */
static int notify(const char *msg)
{
        int r = sd_notify(0, msg);
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
        int r = sd_watchdog_enabled(0, &usec);
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
