#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"emerg", "alert",  "crit", "err",
                                          "warn",  "notice", "info", "debug"};

static struct log_module *modules;
static int default_level = LOG_INFO;
static char tag_buf[64] = "toolstack";
static int journal = -1; /* lazily detected: stderr is a journald stream */

void log_module_register(struct log_module *m)
{
        m->next = modules;
        modules = m;
}

void log_init(const char *tag)
{
        log_set_tag(tag);
        const char *lvl = getenv("TS_LOG_LEVEL");
        if (lvl != NULL && log_level_from_name(lvl) >= 0)
                default_level = log_level_from_name(lvl);
}

void log_set_tag(const char *tag)
{
        snprintf(tag_buf, sizeof tag_buf, "%s", tag);
}

int log_level_from_name(const char *name)
{
        if (name == NULL)
                return -1;
        for (int i = 0; i < 8; i++)
                if (strcmp(name, level_names[i]) == 0)
                        return i;
        if (strcmp(name, "warning") == 0)
                return LOG_WARNING;
        if (strcmp(name, "error") == 0)
                return LOG_ERR;
        return -1;
}

const char *log_level_name(int level)
{
        return level >= 0 && level < 8 ? level_names[level] : "default";
}

int log_set_level(const char *module, int level)
{
        if (module == NULL || strcmp(module, "all") == 0) {
                default_level = level;
                for (struct log_module *m = modules; m; m = m->next)
                        m->level = -1;
                return 0;
        }
        int found = 0;
        for (struct log_module *m = modules; m; m = m->next) {
                if (strcmp(m->name, module) == 0) {
                        m->level = level;
                        found = 1;
                }
        }
        return found ? 0 : -ENOENT;
}

int log_get_default_level(void)
{
        return default_level;
}

void log_for_each_module(void (*fn)(const struct log_module *m, void *arg), void *arg)
{
        for (struct log_module *m = modules; m; m = m->next)
                fn(m, arg);
}

void log_describe(char *buf, size_t len)
{
        size_t off = 0;
        int n = snprintf(buf, len, "default %s\n", log_level_name(default_level));
        if (n > 0)
                off = (size_t)n < len ? (size_t)n : len;
        for (struct log_module *m = modules; m && off < len; m = m->next) {
                n = snprintf(buf + off, len - off, "%s %s\n", m->name,
                             log_level_name(m->level >= 0 ? m->level : default_level));
                if (n < 0)
                        break;
                off += (size_t)n < len - off ? (size_t)n : len - off;
        }
}

int log_enabled(const struct log_module *m, int level)
{
        int threshold = (m != NULL && m->level >= 0) ? m->level : default_level;
        return level <= threshold;
}

static int under_journal(void)
{
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;
        return journal;
}

void log_vemit(const struct log_module *m, int level, int errnum, const char *fmt, va_list ap)
{
        if (!log_enabled(m, level))
                return;
        char msg[2048];
        int n = vsnprintf(msg, sizeof msg, fmt, ap);
        if (n >= 0 && errnum != 0 && (size_t)n < sizeof msg)
                snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(errnum));
        const char *mod = m != NULL ? m->name : "-";
        if (under_journal()) {
                /* journald reads the <N> prefix as the priority and stamps time and pid itself. */
                fprintf(stderr, "<%d>%s: %s\n", level, mod, msg);
        } else {
                struct timespec ts;
                struct tm tm;
                char when[32];
                clock_gettime(CLOCK_REALTIME, &ts);
                gmtime_r(&ts.tv_sec, &tm);
                strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
                fprintf(stderr, "%s.%03ldZ %s[%ld] %s %s: %s\n", when, ts.tv_nsec / 1000000,
                        tag_buf, (long)getpid(), log_level_name(level), mod, msg);
        }
}

void log_emit(const struct log_module *m, int level, int errnum, const char *fmt, ...)
{
        int saved = errno;
        va_list ap;
        va_start(ap, fmt);
        log_vemit(m, level, errnum, fmt, ap);
        va_end(ap);
        errno = saved;
}

void log_fatal(const struct log_module *m, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_vemit(m, LOG_CRIT, errnum, fmt, ap);
        va_end(ap);
        exit(1);
}
