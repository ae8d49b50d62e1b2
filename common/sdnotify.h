/* systemd readiness and watchdog notifications (sd_notify), for Type=notify services.
 * Every call is a no-op returning 0 when the process was not started by systemd
 * (NOTIFY_SOCKET unset), so daemons call them unconditionally:
 *
 *     sdnotify_watchdog_start(base);        // pings at half of WATCHDOG_USEC, if set
 *     ... open sockets, resync ...
 *     sdnotify_ready();
 *     sdnotify_status("%u domains, %u sessions", nd, ns);
 *     event_base_dispatch(base);
 *     sdnotify_stopping();
 *     sdnotify_watchdog_stop();
 *
 * The watchdog timer runs on the event loop: a loop that is stuck stops the pings and
 * systemd restarts the service, which is the point. */
#ifndef TS_COMMON_SDNOTIFY_H
#define TS_COMMON_SDNOTIFY_H

struct event_base;

/* READY=1.  Returns 0 (also when not under systemd) or a negative errno. */
int sdnotify_ready(void);
/* STOPPING=1. */
int sdnotify_stopping(void);
/* RELOADING=1 (with MONOTONIC_USEC, as systemd 253 wants for Type=notify-reload). */
int sdnotify_reloading(void);
/* STATUS=<text>, shown by `systemctl status`; newlines become spaces. */
int sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* If systemd set WATCHDOG_USEC for this process, sends WATCHDOG=1 now and then every half
 * interval from a timer on BASE.  Returns 0 (also when no watchdog is wanted), -EALREADY if
 * started before, or a negative errno.  One watchdog per process. */
int sdnotify_watchdog_start(struct event_base *base);
/* Stops the timer (before freeing BASE); harmless when not started. */
void sdnotify_watchdog_stop(void);
/* Interval between pings in microseconds, 0 when no watchdog is running. */
unsigned long long sdnotify_watchdog_interval_usec(void);

#endif
