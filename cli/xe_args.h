/* xe's command line: connection options, the command name and its key=value parameters,
 * parsed as XAPI's xe does (newcli.ml and cli_frontend.ml). */
#ifndef TS_CLI_XE_ARGS_H
#define TS_CLI_XE_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct xe_kv {
        char *key;
        char *value;
};

struct xe_args {
        char *server;   /* -s / server= : HTTPS to this host instead of the unix socket */
        int port;       /* -p / port= (default 443) */
        char *user;     /* -u / username= */
        char *password; /* -pw / password= */
        char *pwfile;   /* -pwf / passwordfile= */
        char *socket;   /* -socket: the local unix socket (else $XE_SOCKET, else the default) */
        bool debug;
        char *cmd;
        struct xe_kv *params; /* in command-line order; --flag is (flag, "true") */
        size_t n_params;
};

/* 0, or -1 with *error (malloc'd) naming what is wrong. */
int xe_args_parse(int argc, char *const *argv, struct xe_args *a, char **error);
/* XE_EXTRA_ARGS, as XAPI's xe reads it: comma-separated arguments ("\\," for a comma in
 * one) added to the command line's; connection settings there apply only where the
 * command line gave none. */
int xe_args_add_extra(struct xe_args *a, const char *extra, char **error);
void xe_args_free(struct xe_args *a);
/* The value of the first `key`, or NULL. */
const char *xe_param(const struct xe_args *a, const char *key);
/* A --flag (or flag=true). */
bool xe_flag(const struct xe_args *a, const char *key);
/* Whether a parameter is one of xe's standard ones (never a field filter or setting). */
bool xe_is_std_param(const char *key);

#endif
