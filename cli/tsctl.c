/* tsctl: sends one command to a daemon's control socket and prints the reply, or lists the
 * daemons of a run directory.  See usage() and common/ctl.h. */
#include "version.h"
#include "common/ctl_client.h"
#include "common/uuid.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Exit statuses. */
enum {
        EXIT_REPLY_ERROR = 1, /* the daemon answered with an error */
        EXIT_USAGE = 2,
        EXIT_NO_ANSWER = 3, /* no daemon, timeout, or a broken reply */
};

#define LIST_TIMEOUT_MS 2000 /* per daemon in `tsctl list`, so one hung daemon stays cheap */

static void usage(FILE *out)
{
        fprintf(out,
                "usage: tsctl [-r RUNDIR] [-t SECONDS] TARGET COMMAND [ARG...]\n"
                "       tsctl [-r RUNDIR] list\n"
                "\n"
                "Sends COMMAND to a toolstack daemon's control socket, RUNDIR/TARGET.ctl, and\n"
                "prints the reply.  TARGET is xapid, stord, netd, domd/<vm-uuid>, "
                "domd/spare-XXXXXXXX (or the path\n"
                "of a socket, starting with / or ./).  `tsctl TARGET list-commands` shows what a\n"
                "daemon understands; every daemon has version, status, log/list and\n"
                "log/set [MODULE|all] LEVEL.  `tsctl list` shows every daemon of RUNDIR and the\n"
                "first line of its status.\n"
                "\n"
                "  -r, --rundir DIR     run directory (default $TS_RUNDIR, else /run/xapid)\n"
                "  -t, --timeout SECS   give up after SECS seconds (default 10; 0: never)\n"
                "  -h, --help           this help\n"
                "  -V, --version        tsctl's version\n"
                "\n"
                "Exit status: 0 success, 1 the daemon replied with an error (printed on stderr),\n"
                "2 usage error, 3 no answer (no such daemon, timeout, broken reply).\n"
                "Only root and the daemons' own user may use the sockets.\n");
}

/* True for a daemon name: lower-case letters, digits, '-' and '_'. */
static bool is_daemon_name(const char *s)
{
        if (*s < 'a' || *s > 'z')
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '_'))
                        return false;
        return true;
}

/* "spare-" and 8 hex digits: an idle domd xapid keeps for the next VM.start. */
static bool is_spare_name(const char *s)
{
        if (strncmp(s, "spare-", 6) != 0 || strlen(s) != 14)
                return false;
        for (s += 6; *s; s++)
                if (!isxdigit((unsigned char)*s))
                        return false;
        return true;
}

/* Writes the socket path of TARGET into OUT; returns 0 or -EINVAL for a bad target. */
static int resolve(const char *rundir, const char *target, char *out, size_t len)
{
        int n;
        if (target[0] == '/' || strncmp(target, "./", 2) == 0 || strncmp(target, "../", 3) == 0)
                n = snprintf(out, len, "%s", target);
        else if (strncmp(target, "domd/", 5) == 0 &&
                 (uuid_is_valid(target + 5) || is_spare_name(target + 5)))
                n = snprintf(out, len, "%s/%s.ctl", rundir, target);
        else if (is_daemon_name(target))
                n = snprintf(out, len, "%s/%s.ctl", rundir, target);
        else
                return -EINVAL;
        return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static const char *call_error(int r)
{
        switch (r) {
        case -ENOENT:
                return "not running (no control socket)";
        case -ECONNREFUSED:
                return "not running (stale control socket)";
        case -ETIMEDOUT:
                return "no answer (timed out)";
        case -EPROTO:
                return "broken reply (connection closed early?)";
        case -E2BIG:
                return "request too long";
        default:
                return strerror(-r);
        }
}

static int run_command(const char *path, const char *target, int argc, char **argv, int timeout_ms)
{
        int status;
        char *text;
        int r = ctl_call(path, argc, (const char *const *)argv, timeout_ms, &status, &text);
        if (r < 0) {
                fprintf(stderr, "tsctl: %s: %s\n", target, call_error(r));
                return EXIT_NO_ANSWER;
        }
        int rc = 0;
        if (status / 100 == 2) {
                fputs(text, stdout);
        } else {
                fprintf(stderr, "tsctl: %s: %s", target, text);
                if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
                        fprintf(stderr, "%s(status %d)\n", text[0] ? " " : "", status);
                rc = EXIT_REPLY_ERROR;
        }
        free(text);
        if (fflush(stdout) != 0)
                rc = EXIT_NO_ANSWER;
        return rc;
}

struct entry {
        char name[300]; /* "xapid", "domd/<uuid>" */
        char path[4400];
};

static int cmp_entries(const void *a, const void *b)
{
        return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Appends the sockets "*.ctl" of DIR (names prefixed by PREFIX) to *LIST. */
static int scan(const char *dir, const char *prefix, struct entry **list, size_t *n)
{
        DIR *d = opendir(dir);
        if (d == NULL)
                return -errno;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
                size_t len = strlen(de->d_name);
                if (len <= 4 || strcmp(de->d_name + len - 4, ".ctl") != 0 || len > 250)
                        continue;
                struct entry e;
                snprintf(e.path, sizeof e.path, "%s/%s", dir, de->d_name);
                struct stat st;
                if (stat(e.path, &st) < 0 || !S_ISSOCK(st.st_mode))
                        continue;
                snprintf(e.name, sizeof e.name, "%s%.*s", prefix, (int)(len - 4), de->d_name);
                struct entry *l = realloc(*list, (*n + 1) * sizeof *l);
                if (l == NULL) {
                        closedir(d);
                        return -ENOMEM;
                }
                *list = l;
                l[(*n)++] = e;
        }
        closedir(d);
        return 0;
}

static int list_daemons(const char *rundir, int timeout_ms)
{
        struct entry *list = NULL;
        size_t n = 0;
        int r = scan(rundir, "", &list, &n);
        if (r < 0) {
                fprintf(stderr, "tsctl: %s: %s\n", rundir, strerror(-r));
                return EXIT_NO_ANSWER;
        }
        char domd_dir[4200];
        snprintf(domd_dir, sizeof domd_dir, "%s/domd", rundir);
        scan(domd_dir, "domd/", &list, &n); /* no domd directory: no domains */
        if (n == 0) {
                fprintf(stderr, "tsctl: no control sockets in %s\n", rundir);
                free(list);
                return 0;
        }
        qsort(list, n, sizeof *list, cmp_entries);
        if (timeout_ms <= 0 || timeout_ms > LIST_TIMEOUT_MS)
                timeout_ms = LIST_TIMEOUT_MS;
        printf("%-42s %-6s %s\n", "NAME", "STATE", "STATUS");
        for (size_t i = 0; i < n; i++) {
                const char *argv[] = {"status"};
                int status;
                char *text = NULL;
                const char *state, *line;
                r = ctl_call(list[i].path, 1, argv, timeout_ms, &status, &text);
                if (r == -ETIMEDOUT) {
                        state = "hung";
                        line = "(no answer to status)";
                } else if (r < 0) {
                        state = "down";
                        line = call_error(r);
                } else if (status / 100 == 2) {
                        state = "up";
                        line = text;
                } else if (status == 404) {
                        state = "up";
                        line = "(no status command)";
                } else {
                        state = "error";
                        line = text;
                }
                printf("%-42s %-6s %.*s\n", list[i].name, state, (int)strcspn(line, "\n"), line);
                free(text);
        }
        free(list);
        return fflush(stdout) == 0 ? 0 : EXIT_NO_ANSWER;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"rundir", required_argument, NULL, 'r'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        const char *rundir = getenv("TS_RUNDIR");
        if (rundir == NULL || rundir[0] == '\0')
                rundir = "/run/xapid";
        double timeout_s = 10;
        int c;
        /* '+': options end at TARGET, so a command's own "-x" arguments pass through. */
        while ((c = getopt_long(argc, argv, "+r:t:hV", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        rundir = optarg;
                        break;
                case 't': {
                        char *end;
                        timeout_s = strtod(optarg, &end);
                        if (*end != '\0' || end == optarg || timeout_s < 0 || timeout_s > 86400) {
                                fprintf(stderr, "tsctl: bad timeout \"%s\"\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("tsctl %s (git %s)\n", TS_VERSION, TS_GIT_REV);
                        return 0;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        int timeout_ms = (int)(timeout_s * 1000);
        argc -= optind;
        argv += optind;
        if (argc == 1 && strcmp(argv[0], "list") == 0)
                return list_daemons(rundir, timeout_ms);
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        char path[4200];
        int r = resolve(rundir, argv[0], path, sizeof path);
        if (r < 0) {
                fprintf(stderr,
                        "tsctl: bad target \"%s\" (xapid, stord, netd, domd/<vm-uuid>, or a "
                        "socket path)\n",
                        argv[0]);
                return EXIT_USAGE;
        }
        return run_command(path, argv[0], argc - 1, argv + 1, timeout_ms);
}
