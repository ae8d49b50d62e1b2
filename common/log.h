/* Logging: levels, per-module thresholds adjustable at run time, a process tag,
 * and journald priority prefixes when stderr is connected to the journal. */
#ifndef TS_COMMON_LOG_H
#define TS_COMMON_LOG_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

struct log_module {
        const char *name;
        int level; /* syslog priority; messages above it are dropped; -1 follows default */
        struct log_module *next;
};

/* Declares this file's module, registered before main() runs. */
#define LOG_MODULE(NAME)                                                                           \
        static struct log_module log_this_module = {#NAME, -1, 0};                                 \
        __attribute__((constructor)) static void log_register_this_module(void)                    \
        {                                                                                          \
                log_module_register(&log_this_module);                                             \
        }

void log_module_register(struct log_module *m);

/* Sets the process tag (e.g. "xapid") shown in every line. The string is borrowed. */
void log_init(const char *tag);
/* Replaces the tag shown in every line with a copy of TAG. */
void log_set_tag(const char *tag);

/* Level names: emerg alert crit err warn notice info debug. Returns -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/* Sets MODULE's threshold ("all" or NULL for every module and the default).
 * Returns 0, or -ENOENT if no such module. */
int log_set_level(const char *module, int level);
int log_get_default_level(void);
/* Writes "module level" lines into BUF (at most LEN bytes, NUL-terminated). */
void log_describe(char *buf, size_t len);
/* Calls FN for each registered module. */
void log_for_each_module(void (*fn)(const struct log_module *m, void *arg), void *arg);

void log_emit(const struct log_module *m, int level, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_vemit(const struct log_module *m, int level, int errnum, const char *fmt, va_list ap);
int log_enabled(const struct log_module *m, int level);

/* log_warn and log_err append strerror(errno); the x forms do not. */
#define log_err(...)    log_emit(&log_this_module, LOG_ERR, errno, __VA_ARGS__)
#define log_errx(...)   log_emit(&log_this_module, LOG_ERR, 0, __VA_ARGS__)
#define log_warn(...)   log_emit(&log_this_module, LOG_WARNING, errno, __VA_ARGS__)
#define log_warnx(...)  log_emit(&log_this_module, LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_emit(&log_this_module, LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...)   log_emit(&log_this_module, LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...)                                                                             \
        do {                                                                                       \
                if (log_enabled(&log_this_module, LOG_DEBUG))                                      \
                        log_emit(&log_this_module, LOG_DEBUG, 0, __VA_ARGS__);                     \
        } while (0)

/* Only at start-up: logs and exits with status 1. */
#define fatal(...)  log_fatal(&log_this_module, errno, __VA_ARGS__)
#define fatalx(...) log_fatal(&log_this_module, 0, __VA_ARGS__)
void log_fatal(const struct log_module *m, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
