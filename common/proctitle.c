/* Process titles by overwriting the argv area (as PostgreSQL, nginx and sendmail do). */
#include "common/proctitle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *area;      /* start of argv[0] */
static size_t area_len; /* contiguous bytes from argv[0] through the last string, NUL incl. */
/* The moved environment, kept for the life of the process: setenv may later replace environ
 * with its own array, and the strings must stay valid (and reachable, for LeakSanitizer). */
static char **volatile moved_env; /* volatile: the store must not be optimised away */

int proctitle_init(int argc, char **argv)
{
        if (argc <= 0 || argv == NULL || argv[0] == NULL || area != NULL)
                return 0;
        /* The kernel lays argv strings then environ strings out back to back; take the
         * longest contiguous run starting at argv[0]. */
        char *end = argv[0] + strlen(argv[0]) + 1;
        for (int i = 1; i < argc; i++)
                if (argv[i] == end)
                        end = argv[i] + strlen(argv[i]) + 1;
        size_t n_env = 0;
        while (environ != NULL && environ[n_env] != NULL)
                n_env++;
        for (size_t i = 0; i < n_env; i++)
                if (environ[i] == end)
                        end = environ[i] + strlen(environ[i]) + 1;
        /* Move the environment to the heap, since its old home becomes title space. */
        char **env = calloc(n_env + 1, sizeof *env);
        if (env == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < n_env; i++) {
                env[i] = strdup(environ[i]);
                if (env[i] == NULL) {
                        while (i > 0)
                                free(env[--i]);
                        free(env);
                        return -ENOMEM;
                }
        }
        moved_env = env;
        environ = env;
        area = argv[0];
        area_len = (size_t)(end - argv[0]);
        return 0;
}

size_t proctitle_capacity(void)
{
        return area_len > 0 ? area_len - 1 : 0;
}

void proctitle_set(const char *fmt, ...)
{
        if (area == NULL || area_len < 2)
                return;
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        size_t len = strlen(buf);
        if (len > area_len - 1)
                len = area_len - 1;
        memcpy(area, buf, len);
        /* NUL padding: /proc/PID/cmdline then shows the title alone, with no stale tail. */
        memset(area + len, '\0', area_len - len);
}

void proctitle_set_name(const char *name)
{
        if (name != NULL)
                prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
