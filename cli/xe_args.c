/* Command-line parsing for xe. */
#include "cli/xe_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe_value.h"

static void set_str(char **dst, const char *v)
{
        free(*dst);
        *dst = strdup(v);
}

static int set_port(struct xe_args *a, const char *v, char **error)
{
        char *end;
        long p = strtol(v, &end, 10);
        if (!*v || *end || p < 1 || p > 65535) {
                *error = xe_strf("Invalid port: %s", v);
                return -1;
        }
        a->port = (int)p;
        return 0;
}

/* Connection settings given as key=value (as newcli accepts them anywhere). */
static int connection_kv(struct xe_args *a, const char *k, const char *v, char **error, bool *used)
{
        *used = true;
        if (strcmp(k, "server") == 0)
                set_str(&a->server, v);
        else if (strcmp(k, "port") == 0)
                return set_port(a, v, error);
        else if (strcmp(k, "username") == 0)
                set_str(&a->user, v);
        else if (strcmp(k, "password") == 0)
                set_str(&a->password, v);
        else if (strcmp(k, "passwordfile") == 0)
                set_str(&a->pwfile, v);
        else
                *used = false;
        return 0;
}

static void add_param(struct xe_args *a, const char *k, size_t klen, const char *v)
{
        struct xe_kv *p = realloc(a->params, (a->n_params + 1) * sizeof *p);
        if (!p) {
                fputs("xe: out of memory\n", stderr);
                exit(1);
        }
        a->params = p;
        p[a->n_params].key = strndup(k, klen);
        p[a->n_params].value = strdup(v);
        a->n_params++;
}

int xe_args_parse(int argc, char *const *argv, struct xe_args *a, char **error)
{
        memset(a, 0, sizeof *a);
        *error = NULL;
        static const char *const with_value[] = {"-s", "-h", "-p", "-u", "-pw", "-pwf", "-socket"};
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                size_t o;
                for (o = 0; o < sizeof with_value / sizeof *with_value; o++)
                        if (strcmp(arg, with_value[o]) == 0)
                                break;
                if (o < sizeof with_value / sizeof *with_value) {
                        if (i + 1 >= argc) {
                                *error = xe_strf("Switch %s requires a parameter", arg);
                                return -1;
                        }
                        const char *v = argv[++i];
                        if (o <= 1)
                                set_str(&a->server, v);
                        else if (o == 2 && set_port(a, v, error) < 0)
                                return -1;
                        else if (o == 3)
                                set_str(&a->user, v);
                        else if (o == 4)
                                set_str(&a->password, v);
                        else if (o == 5)
                                set_str(&a->pwfile, v);
                        else if (o == 6)
                                set_str(&a->socket, v);
                        continue;
                }
                if (strcmp(arg, "--debug") == 0) {
                        a->debug = true;
                        continue;
                }
                const char *eq = strchr(arg, '=');
                if (eq) {
                        char *k = strndup(arg, (size_t)(eq - arg));
                        bool used = false;
                        int r = connection_kv(a, k, eq + 1, error, &used);
                        free(k);
                        if (r < 0)
                                return -1;
                        if (used)
                                continue;
                }
                if (!a->cmd) {
                        if (eq || arg[0] == '-') {
                                *error = xe_strf("Syntax error: command name is missing");
                                return -1;
                        }
                        a->cmd = strdup(arg);
                } else if (strncmp(arg, "--", 2) == 0) {
                        add_param(a, arg + 2, strlen(arg + 2), "true");
                } else if (arg[0] == '-') {
                        *error = xe_strf("Unknown switch: %s", arg);
                        return -1;
                } else if (eq) {
                        add_param(a, arg, (size_t)(eq - arg), eq + 1);
                } else {
                        add_param(a, arg, strlen(arg), "");
                }
        }
        return 0;
}

int xe_args_add_extra(struct xe_args *a, const char *extra, char **error)
{
        *error = NULL;
        for (const char *p = extra; p && *p;) {
                /* one segment: up to an unescaped comma; backslashes dropped */
                char *seg = malloc(strlen(p) + 1);
                size_t n = 0;
                if (!seg)
                        return -1;
                for (; *p && *p != ','; p++) {
                        if (*p == '\\' && p[1])
                                p++;
                        seg[n++] = *p;
                }
                seg[n] = '\0';
                if (*p == ',')
                        p++;
                char *eq = strchr(seg, '=');
                int r = 0;
                if (n == 0) {
                        /* empty segment */
                } else if (strncmp(seg, "--", 2) == 0) {
                        add_param(a, seg + 2, strlen(seg + 2), "true");
                } else if (eq) {
                        *eq = '\0';
                        /* the command line wins over the environment */
                        char **have = !strcmp(seg, "server")         ? &a->server
                                      : !strcmp(seg, "username")     ? &a->user
                                      : !strcmp(seg, "password")     ? &a->password
                                      : !strcmp(seg, "passwordfile") ? &a->pwfile
                                                                     : NULL;
                        bool used = false;
                        if (have && *have)
                                used = true;
                        else if (!strcmp(seg, "port") && a->port)
                                used = true;
                        else
                                r = connection_kv(a, seg, eq + 1, error, &used);
                        if (r == 0 && !used)
                                add_param(a, seg, strlen(seg), eq + 1);
                } else {
                        add_param(a, seg, n, "");
                }
                free(seg);
                if (r < 0)
                        return -1;
        }
        return 0;
}

void xe_args_free(struct xe_args *a)
{
        free(a->server);
        free(a->user);
        free(a->password);
        free(a->pwfile);
        free(a->socket);
        free(a->cmd);
        for (size_t i = 0; i < a->n_params; i++) {
                free(a->params[i].key);
                free(a->params[i].value);
        }
        free(a->params);
        memset(a, 0, sizeof *a);
}

const char *xe_param(const struct xe_args *a, const char *key)
{
        for (size_t i = 0; i < a->n_params; i++)
                if (strcmp(a->params[i].key, key) == 0)
                        return a->params[i].value;
        return NULL;
}

bool xe_flag(const struct xe_args *a, const char *key)
{
        const char *v = xe_param(a, key);
        return v && (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0);
}

bool xe_is_std_param(const char *key)
{
        static const char *const std[] = {"server",           "password", "port",     "username",
                                          "minimal",          "force",    "multiple", "all",
                                          "message-priority", "trace",    "params"};
        for (size_t i = 0; i < sizeof std / sizeof *std; i++)
                if (strcmp(key, std[i]) == 0)
                        return true;
        return false;
}
